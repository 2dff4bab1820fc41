//! # RustyRay
//!
//! Ray Core, rebuilt in Rust: remote functions, actors and an object store
//! with typed [`ObjectRef<T>`] futures, in a runtime that starts in
//! microseconds and can live many times over in one process.
//!
//! ```
//! use rustyray::Config;
//!
//! let _rt = rustyray::init(Config::default())?;
//! let r = rustyray::put(vec![1u32, 2, 3])?;
//! assert_eq!(rustyray::get(&r)?, vec![1, 2, 3]);
//! # Ok::<(), rustyray::Error>(())
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
pub mod task;

pub use actor::{get_actor, kill, Actor, ActorHandle, ActorId, ActorOptions, ActorRef};
pub use error::{Error, Result};
pub use object::{
    get, get_all, get_timeout, put, put_bytes, MemoryStats, Object, ObjectId, ObjectRef,
};
pub use runtime::{
    global, init, is_initialized, Config, EnterGuard, Runtime, RuntimeGuard, RuntimeId,
};
pub use task::args::{Arg, IntoArg};
pub use task::options::TaskOptions;
pub use task::wait::{cancel, wait, ReadyPending};
pub use task::{context, Context, TaskId};

pub use rustyray_macros::{actor, main, remote, test};

/// What `#[rustyray::remote]`, `#[rustyray::actor]`, `#[rustyray::test]` and
/// `#[rustyray::main]` expand to call. Not a public API: it changes without
/// notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::actor::{ActorRead, ActorWrite};
    pub use crate::task::args::ArgList;
    pub use crate::task::returns::{user_error, Many, One, TaskReturn, UserError};
    pub use crate::task::submit::{block_on, submit_async, submit_sync};
    pub use core::result::Result::{Err, Ok};
    pub use serde;
}
