//! [`Scoped`]: a future that sees its runtime on every poll.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::context;
use super::handle::Runtime;

pin_project_lite::pin_project! {
    /// The future returned by [`Runtime::scope`]: installs the runtime in the
    /// polling thread's slot for the duration of each poll (the way tokio's
    /// `TaskLocalFuture` does), so [`global`](crate::global) works inside it
    /// across `.await`s and whichever worker thread polls it.
    #[must_use = "futures do nothing unless awaited"]
    pub struct Scoped<F> {
        runtime: Runtime,
        #[pin]
        future: F,
    }
}

impl<F> Scoped<F> {
    pub(crate) fn new(runtime: Runtime, future: F) -> Self {
        Scoped { runtime, future }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if context::is_current(this.runtime) {
            return this.future.poll(cx);
        }
        let _installed = context::install(this.runtime.clone());
        this.future.poll(cx)
    }
}

impl<F> std::fmt::Debug for Scoped<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scoped")
            .field("runtime", &self.runtime.id())
            .finish_non_exhaustive()
    }
}
