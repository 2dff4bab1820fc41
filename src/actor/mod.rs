//! Actors: stateful workers with typed handles.
//!
//! # How an actor works
//!
//! `#[rustyray::actor]` on a struct and its `impl` generates a handle type
//! (`CounterHandle`) whose methods submit calls. An actor is three parts:
//! - its `ActorCore` (`core.rs`) holds the state (behind a read-write lock:
//!   `&self` calls may overlap, `&mut self` calls are alone) and the
//!   constructor, which it re-runs when a panic crashes the actor and
//!   restarts remain;
//! - its `Mailbox` (`mailbox.rs`) orders calls by submission and bounds how
//!   many run at once (`max_concurrency`), and owns the actor's life:
//!   creating, alive, dead with a cause;
//! - [`ActorRef`] handles, counted so that an unnamed actor stops when the
//!   last one is dropped.
//!
//! Creation and calls are tasks. They go through the same submission,
//! argument resolution, scheduler and runners as remote functions; the only
//! difference is where a ready call goes (its actor's mailbox) and that an
//! actor's creation keeps its resources until the actor dies.
//!
//! # Failure and shutdown
//!
//! An `Err` from a method fails that call only. A panic is a crash: the
//! instance is dropped and rebuilt while `max_restarts` allow, calls
//! interrupted by it fail with [`Error::ActorDied`](crate::Error::ActorDied)
//! unless `max_task_retries` runs them again. A dead actor fails every later
//! call. `kill` and runtime shutdown kill actors; each runtime keeps a table
//! of its actors (`registry.rs`) for names, decoded handles and shutdown.

pub(crate) mod core;
pub(crate) mod handle;
pub(crate) mod mailbox;
pub(crate) mod registry;
pub(crate) mod state;

pub use self::core::{Access, ActorRead, ActorWrite};
pub use handle::{Actor, ActorHandle, ActorRef};
