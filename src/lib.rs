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
//! The crate is organised by concern:
//! - [`runtime`]: lifecycle, [`Config`], the context slot ([`init`],
//!   [`global`], [`Runtime::enter`], [`Runtime::scope`]);
//! - [`object`]: the store, [`ObjectRef`], serialization;
//! - [`task`]: remote functions, scheduling, [`wait`], [`cancel`],
//!   [`context`];
//! - [`actor`](mod@actor): actors, their handles, [`get_actor`], [`kill`];
//! - [`error`]: the one [`Error`] enum.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod actor;
pub mod error;
pub mod object;
pub mod runtime;
mod sync;
pub mod task;

pub use actor::{get_actor, kill, Actor, ActorHandle, ActorId, ActorOptions, ActorRef};
pub use error::{Error, Result};
pub use object::{
    get, get_all, get_timeout, put, put_bytes, MemoryStats, Object, ObjectId, ObjectRef,
};
pub use runtime::{
    global, init, is_initialized, tokio_thread_start, Config, EnterGuard, Runtime, RuntimeGuard,
    RuntimeId,
};
pub use task::args::{Arg, IntoArg};
pub use task::options::TaskOptions;
pub use task::wait::{cancel, get_all_async, wait, wait_async, ReadyPending};
pub use task::{context, Context, TaskId};

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
    pub trait ActorMethods {}
    pub use crate::task::args::ArgList;
    pub use crate::task::returns::{user_error, Many, One, TaskReturn, UserError};
    pub use crate::task::submit::{run_async, submit_async, submit_sync};
    pub use core::result::Result::{Err, Ok};
    pub use serde;
}
