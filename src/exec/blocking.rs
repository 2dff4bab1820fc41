//! Where a blocking wait is allowed: not on a thread that is polling a
//! future for an executor.
//!
//! A blocking wait is refused where it would stall an async executor: on a
//! thread that is polling a future for tokio (an executor's worker thread,
//! the thread of a `block_on`), or for RustyRay (the first poll of an async
//! task, on a worker thread). It is allowed everywhere else, including
//! inside `tokio::task::spawn_blocking` and `tokio::task::block_in_place`.
//! tokio tells these apart by its cooperative-scheduling budget: a future
//! being polled runs under a budget, while blocking sections
//! (`spawn_blocking`, `block_in_place`) and threads merely inside the
//! runtime's context run unconstrained; [`would_stall_executor`] reads it
//! through tokio's public `coop::poll_proceed`, without consuming any of it.

use std::cell::Cell;
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result};

thread_local! {
    /// Set while this thread polls an async task outside tokio (its first
    /// poll, on a worker thread).
    static POLLING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (a poll of an async task on a worker thread) as an executor's
/// poll: blocking calls inside it are refused.
pub(crate) fn as_async_poll<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            POLLING.with(|p| p.set(self.0));
        }
    }
    let _reset = Reset(POLLING.with(|p| p.replace(true)));
    f()
}

/// Whether blocking this thread would stall an async executor (see the
/// module docs).
pub(crate) fn would_stall_executor() -> bool {
    if POLLING.with(Cell::get) {
        return true;
    }
    tokio::runtime::Handle::try_current().is_ok() && budget_is_constrained()
}

/// Whether the current tokio task runs under a cooperative budget (it is
/// being polled by an executor). Takes budget units until tokio says none
/// is left (constrained) or more than any budget holds (unconstrained),
/// then gives every one back, last first.
fn budget_is_constrained() -> bool {
    /// More than tokio's per-poll budget (128).
    const ANY_BUDGET: usize = 130;
    let mut cx = Context::from_waker(Waker::noop());
    let mut taken = Vec::with_capacity(ANY_BUDGET);
    let constrained = loop {
        match tokio::task::coop::poll_proceed(&mut cx) {
            Poll::Pending => break true,
            Poll::Ready(unit) => {
                taken.push(unit);
                if taken.len() == ANY_BUDGET {
                    break false;
                }
            }
        }
    };
    while let Some(unit) = taken.pop() {
        drop(unit);
    }
    constrained
}

/// [`Error::BlockingInAsync`] where a blocking `call` would stall an
/// executor.
pub(crate) fn refuse_blocking(call: &'static str) -> Result<()> {
    if would_stall_executor() {
        Err(Error::BlockingInAsync { call })
    } else {
        Ok(())
    }
}
