//! Tasks: remote calls as data, their dependencies, scheduling and runs.
//!
//! # How a call flows
//!
//! A call becomes a `Task` (`task.rs`: one allocation holding the task and
//! its body) from a `TaskSpec` (`spec.rs`: name, demand, retries, outputs,
//! place), its arguments (values moved in, or refs that are dependencies,
//! `args.rs`) and its body. It waits for its dependencies without holding
//! any resource (as a waker on each of their cells), the `Scheduler`
//! (`scheduler.rs`) grants its CPUs and custom resources (a FIFO queue per
//! resource shape), and it runs where its `Place` (`place.rs`) says: on the
//! worker pool (sync tasks) or the async executor (async ones), or in its
//! actor's mailbox, in turn. `run.rs` runs the attempts: a panic is a
//! failure like an `Err`, retried as the spec allows; a failed dependency
//! fails the task without running it.
//!
//! A task's phase is one atomic word changed by compare-and-swap
//! (`phase.rs`, checked by loom models), so that cancel, shutdown,
//! resolution, dispatch and a steal never both win. A thread blocked on a
//! task's output runs the task itself if no thread has begun it (a `get`
//! of one object, from any thread; a wait for several, from a task's
//! thread: see `Task::steal` and `help.rs`, installed as the object
//! store's hooks by the runtime).
//!
//! A streaming generator (`stream.rs`) is a task like any other whose
//! body pushes each item it yields to the caller's `ObjectRefStream`.
//!
//! Tasks and actor calls share this one path: one scheduler, one way
//! arguments are resolved and results stored. The actor layer only adds a
//! place.
//!
//! # Shutdown and failure
//!
//! Closing the scheduler fails its queued tasks; the store completes every
//! pending object, so every ref completes; running tasks see
//! `is_cancelled`, async ones are dropped with their executor.

pub(crate) mod args;
pub(crate) mod body;
pub(crate) mod context;
pub(crate) mod help;
pub(crate) mod history;
pub(crate) mod id;
pub(crate) mod phase;
pub(crate) mod place;
pub(crate) mod placement;
pub(crate) mod resources;
pub(crate) mod returns;
pub(crate) mod run;
pub(crate) mod scheduler;
pub(crate) mod spec;
pub(crate) mod split;
pub(crate) mod stream;
#[allow(clippy::module_inception)]
pub(crate) mod task;
pub(crate) mod trace;

pub use context::{context, Context};
pub use id::{ActorId, NodeId, TaskId};
pub use stream::ObjectRefStream;
