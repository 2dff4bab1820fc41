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
//!   many run at once, in lanes: the default one (`max_concurrency`) and
//!   one per concurrency group, each with its own limit; and it owns the
//!   actor's life: creating, alive, dead with a cause;
//! - [`ActorRef`] handles, counted so that an unnamed actor stops when the
//!   last one is dropped.
//!
//! Creation and calls are tasks. They go through the same submission,
//! argument resolution, scheduler and runners as remote functions; the only
//! difference is where a ready call goes (its actor's mailbox) and that an
//! actor's creation keeps its resources until the actor dies.
//!
//! # Concurrency, and what `&mut self` means
//!
//! By default a sync-only actor runs one call at a time; an actor with an
//! async method runs up to 1000 async calls at once (Ray's defaults), its
//! sync calls still one at a time; `max_concurrency(n)` sets both. A sync
//! call runs on a worker thread of its own, so at most `n` threads serve
//! an actor's default lane at once.
//!
//! A lane's async calls are first polled one after another by the lane's
//! driver (`driver.rs`), as Ray runs an async actor's calls on one event
//! loop per group: a call that computes for long before its first `.await`
//! holds up the later calls of its lane (not those of other lanes); calls
//! suspended at an `.await` resume independently on the executor.
//!
//! Concurrency groups (`concurrency_groups(io = 2)` on the `impl`,
//! `#[method(concurrency_group = "io")]` on a method) are lanes of their
//! own: a call queued or running in one never holds up another lane.
//!
//! Lanes bound how many calls *run*; the state's read-write lock decides
//! who may *touch* it. A `&self` method shares the state; a `&mut self`
//! method holds it exclusively for its whole call, **including across every
//! `.await`** of an async method. So an async `&mut self` call that awaits
//! I/O keeps every other call of the actor, in every group, waiting at
//! the lock until it returns. To let groups really run side by side, write
//! their methods with `&self` and keep what they change behind a `Mutex`
//! (taken and released between `.await`s) or in atomics; keep `&mut self`
//! for short calls that must see the state alone.
//!
//! # Failure and shutdown
//!
//! An `Err` from a method fails that call only. A panic is a crash: the
//! instance is dropped and rebuilt while `max_restarts` allow, calls
//! interrupted by it fail with [`Error::ActorDied`](crate::Error::ActorDied)
//! unless `max_task_retries` runs them again. A dead actor fails every later
//! call. `kill` and runtime shutdown kill actors (`kill_with(..,
//! no_restart(false))` restarts one instead, as a crash would);
//! `exit_actor()` in a method stops its actor for good once that call ends.
//! Each runtime keeps a table of its actors (`registry.rs`) for names (per
//! namespace), decoded handles and shutdown.

pub(crate) mod core;
mod driver;
pub(crate) mod handle;
pub(crate) mod mailbox;
pub(crate) mod method;
pub(crate) mod registry;
mod running;
pub(crate) mod state;

pub use self::core::{Access, ActorRead, ActorWrite};
pub use handle::{Actor, ActorHandle, ActorRef};
