//! # RustyRay
//!
//! Ray Core, rebuilt in Rust: remote functions, actors and an object store
//! with typed [`ObjectRef<T>`] futures, in a runtime that starts in
//! microseconds and can live many times over in one process.
//!
//! ```
//! use rustyray::Config;
//!
//! #[rustyray::remote]
//! fn add(a: i64, b: i64) -> i64 {
//!     a + b
//! }
//!
//! #[rustyray::actor]
//! struct Counter {
//!     n: i64,
//! }
//!
//! #[rustyray::actor]
//! impl Counter {
//!     fn new(start: i64) -> Self {
//!         Counter { n: start }
//!     }
//!
//!     fn incr(&mut self, by: i64) -> i64 {
//!         self.n += by;
//!         self.n
//!     }
//! }
//!
//! # fn main() -> rustyray::Result<()> {
//! let _rt = rustyray::init(Config::default())?;
//! let r = rustyray::put(vec![1u32, 2, 3])?;
//! assert_eq!(rustyray::get(&r)?, vec![1, 2, 3]);
//!
//! let a = add::remote(1, 2)?; // a task; returns at once
//! let b = add::remote(&a, 10)?; // depends on `a`
//! assert_eq!(rustyray::get(&b)?, 13);
//!
//! let counter = Counter::remote(0)?; // an actor
//! let calls = (0..3).map(|_| counter.incr(2)).collect::<rustyray::Result<Vec<_>>>()?;
//! assert_eq!(rustyray::get_all(&calls)?, vec![2, 4, 6]);
//! # Ok(())
//! # }
//! ```
//!
//! # Layers
//!
//! The crate is built in layers, each importing only those below it (CI
//! checks this: `.ci/layers.py`), bottom first:
//!
//! 1. `sync` and [`error`]: lock and wait helpers, panic catching; the one
//!    [`Error`] enum.
//! 2. [`object`]: object cells, the store, spilling, [`ObjectRef`], the
//!    codec. It knows nothing of tasks: how a wait lends a task's CPUs, and
//!    in whose context a ref decodes, are hooks the layers above install.
//! 3. `exec`: the worker pool and the async executor, running jobs.
//! 4. [`task`]: tasks as data (a spec, arguments, a body), dependencies,
//!    the scheduler, retries, [`context`]; a task runs on the pool or at a
//!    *place* (an actor's mailbox) it knows only through a trait.
//! 5. [`actor`](mod@actor): mailboxes (places), concurrency, restarts,
//!    the registry of actors, handles.
//! 6. `backend`: the engine the API drives (submit, create an actor, put,
//!    find an actor, shut down); the local engine composes the layers
//!    below.
//! 7. [`runtime`]: lifecycle, [`Config`], the context slot ([`init`],
//!    [`global`], [`Runtime::enter`], [`Runtime::scope`]), and the hooks
//!    it lends the layers below.
//! 8. The API: the free functions ([`put`], [`get`], [`wait`], [`cancel`],
//!    [`get_actor`], [`kill`]), [`TaskOptions`], [`ActorOptions`], and the
//!    entry points of the macros' output.
//! 9. [`util`]: Ray's `ray.util` ([`util::ActorPool`], [`util::Queue`]),
//!    built on the API.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod actor;
mod api;
mod backend;
pub mod error;
mod exec;
pub mod object;
pub mod runtime;
mod sync;
pub mod task;
pub mod util;

pub use actor::{Actor, ActorHandle, ActorRef};
pub use api::actor_options::ActorOptions;
pub use api::cancel::CancelOptions;
pub use api::mixed::RefTuple;
pub use api::placement::{Bundle, PlacementGroup, PlacementStrategy};
#[cfg(feature = "ray")]
pub use api::python;
#[cfg(feature = "ray")]
pub use api::ray;
#[cfg(feature = "ray")]
pub use api::ray::init;
pub use api::registry;
pub use api::state;
pub use api::task_options::TaskOptions;
pub use api::{
    available_resources, cancel, cancel_with, cluster_resources, get, get_actor, get_all,
    get_mixed, get_timeout, kill, placement_group, put, put_bytes, record_metrics,
    remove_placement_group, timeline, wait, wait_mixed,
};
pub use api::{exit_actor, get_actor_in, kill_with, KillOptions};
pub use error::{Error, Result};
pub use object::{
    get_all_async, wait_async, AnyRef, Codec, MemoryStats, Object, ObjectId, ObjectRef,
    ReadyPending,
};
#[cfg(not(feature = "ray"))]
pub use runtime::init;
pub use runtime::{
    global, is_initialized, tokio_thread_start, Config, EnterGuard, Runtime, RuntimeGuard,
    RuntimeId,
};
pub use task::args::{Arg, IntoArg};
pub use task::{context, ActorId, Context, NodeId, ObjectRefStream, TaskId};

pub use rustyray_macros::{actor, main, remote, test};

/// What `#[rustyray::remote]`, `#[rustyray::actor]`, `#[rustyray::test]` and
/// `#[rustyray::main]` expand to call. Not a public API: it changes without
/// notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::actor::{ActorRead, ActorWrite};

    /// Implemented by the expansion of `#[rustyray::actor]` on an `impl`
    /// block; the struct's expansion requires it.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` has `#[rustyray::actor]` on its struct but not on its `impl` block",
        label = "no `#[rustyray::actor]` methods",
        note = "put `#[rustyray::actor]` on the `impl {Self} {{ .. }}` block too: it turns its \
                constructors into `{Self}::remote(..)` and its methods into the handle's"
    )]
    pub trait ActorMethods {
        /// The class defaults written on the `impl`.
        const __CLASS: ActorClass = ActorClass::__new();
    }
    pub use crate::actor::method::MethodInfo;
    pub use crate::api::actor_class::ActorClass;
    pub use crate::api::registry::{Call, CreateCall, Created, Entry, MethodCall, Submitted};
    pub use crate::api::submit::run_async;
    pub use futures_core::Stream;

    /// The error of a streaming generator called by name.
    pub fn streaming_by_name(function: &str) -> crate::Error {
        crate::task::stream::by_name_error(function)
    }

    /// A streaming generator's item, encoded for a call by name; a value
    /// that cannot be encoded ends the stream with the error.
    pub fn encode_item<T: crate::Object>(
        codec: crate::Codec,
        value: &T,
    ) -> core::result::Result<std::vec::Vec<u8>, UserError> {
        codec.encode(value).map_err(|err| UserError {
            message: format!("its item could not be encoded: {err}"),
            cause: None,
        })
    }
    pub use crate::task::args::{ArgList, ValueList};
    pub use crate::task::returns::{user_error, Many, One, TaskReturn, UserError};
    pub use crate::task::split::{split, Split};
    pub use core::result::Result::{Err, Ok};

    /// Lock acquisitions RustyRay made so far, in every runtime (feature
    /// `lock-stats`).
    #[cfg(feature = "lock-stats")]
    pub fn lock_acquisitions() -> u64 {
        crate::sync::LOCKS.load(std::sync::atomic::Ordering::Relaxed)
    }
    pub use inventory;
    pub use serde;
}
