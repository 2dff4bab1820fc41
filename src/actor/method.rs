//! [`MethodInfo`]: what a call knows of its method besides its code: its
//! name, its concurrency group and its retry settings (Ray's
//! `@ray.method(..)`, written `#[method(..)]` in the actor's `impl`).
//!
//! The generated handle methods pass it by value; it is `Copy` and built
//! in a constant, so an ordinary call (no settings) carries only its name.

use crate::task::spec::FirstAttempt;

/// The per-method settings of an actor method: `#[method(concurrency_group
/// = "io", max_retries = 2, retry_exceptions = true)]`, and a streaming
/// method's `generator_backpressure = n`.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct MethodInfo {
    /// The call's name, `Counter.incr`.
    pub(crate) name: &'static str,
    /// The concurrency group it runs in; `None`: the actor's default lane.
    pub(crate) group: Option<&'static str>,
    /// Retries of the call; `None`: the actor's `max_task_retries`.
    pub(crate) max_retries: Option<u32>,
    /// Whether an `Err` or a panic of the method is retried too.
    pub(crate) retry_exceptions: bool,
    /// A streaming method's backpressure: items yielded ahead of the
    /// consumer before it pauses.
    pub(crate) generator_backpressure: Option<usize>,
    /// The call's first attempt: attempt 0 but in a Ray worker.
    pub(crate) first_attempt: FirstAttempt,
}

impl MethodInfo {
    /// A method with no settings.
    pub const fn __new(name: &'static str) -> Self {
        MethodInfo {
            name,
            group: None,
            max_retries: None,
            retry_exceptions: false,
            generator_backpressure: None,
            first_attempt: FirstAttempt::NEW,
        }
    }

    /// Runs in the concurrency group `group`.
    pub const fn group(mut self, group: &'static str) -> Self {
        self.group = Some(group);
        self
    }

    /// Retried up to `n` times (instead of the actor's `max_task_retries`).
    pub const fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = Some(n);
        self
    }

    /// Whether an `Err` (or a panic) is retried too.
    pub const fn retry_exceptions(mut self, yes: bool) -> Self {
        self.retry_exceptions = yes;
        self
    }

    /// A streaming method pauses `n` items ahead of its consumer.
    pub const fn generator_backpressure(mut self, n: usize) -> Self {
        self.generator_backpressure = Some(n);
        self
    }
}

impl From<&'static str> for MethodInfo {
    fn from(name: &'static str) -> Self {
        MethodInfo::__new(name)
    }
}
