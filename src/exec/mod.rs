//! The threads work runs on: the worker pool and the async executor.
//!
//! This layer runs work and knows nothing of what it runs: the pool runs
//! [`pool::Job`]s (the task layer's tasks implement it), the executor is a
//! tokio runtime (RustyRay's own, built on first use, or the application's),
//! and [`blocking`] tells whether blocking the current thread would stall
//! an executor.

pub(crate) mod blocking;
pub(crate) mod executor;
pub(crate) mod pool;
