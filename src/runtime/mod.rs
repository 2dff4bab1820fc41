//! Runtimes: lifecycle, configuration and the context slot.
//!
//! # What a runtime is
//!
//! A [`Runtime`] owns an object store, a scheduler with its worker threads,
//! and an async executor (tokio: its own, or the application's through
//! [`Config::tokio_handle`]). [`init`] starts one and returns a
//! [`RuntimeGuard`]; any number can live side by side in one process, each
//! with its own ids, objects and threads, and nothing they share is locked.
//!
//! # The context slot
//!
//! Free functions such as [`put`](crate::put) act on the *current* runtime,
//! read from a thread-local slot ([`global`]). The slot is a small stack:
//! [`init`] and [`Runtime::enter`] push, their guards pop what they pushed
//! (so scopes nest, and guards dropped out of order leave the slot
//! consistent), and [`Runtime::scope`] pushes for the duration of each poll
//! of a future, so the context follows the future across `.await`s and
//! executor threads. Every future and task the runtime runs is scoped this
//! way, which is also how a ref decoded inside a task binds to the store of
//! the runtime running it.
//!
//! # Start and shutdown
//!
//! Starting allocates and nothing more: executor and worker threads start on
//! first use. Shutdown (dropping the guard, or [`Runtime::shutdown`]) refuses
//! new work with [`Error::ShutDown`](crate::Error::ShutDown), completes every
//! outstanding ref, and stops the threads within
//! [`Config::shutdown_timeout`]; it never blocks inside an async context.

mod config;
pub(crate) mod context;
mod handle;
mod hooks;
mod observe;
mod scope;
#[cfg(test)]
mod task_races;

pub use crate::object::RuntimeId;
pub use config::Config;
pub use context::tokio_thread_start;
pub use handle::{global, init, is_initialized, EnterGuard, Runtime, RuntimeGuard};
pub use scope::Scoped;

/// The namespace of named actors when neither
/// [`Config::namespace`] nor
/// [`ActorOptions::namespace`](crate::ActorOptions::namespace) names one.
pub const DEFAULT_NAMESPACE: &str = "default";
