//! The one error type of RustyRay.
//!
//! Every fallible call returns [`Result<T>`](crate::Result) with an [`Error`]
//! whose variants a program can match on. Errors are values all the way
//! down: a task that returns `Err` or panics, an actor that dies, a timeout or
//! a cancelled task each end up as an `Error` stored in the task's
//! [`ObjectRef`](crate::ObjectRef), and every `get` of that ref returns a
//! clone of it. That is why `Error` is `Clone` and why a cause is held in an
//! [`Arc`].

use std::sync::Arc;
use std::time::Duration;

/// `Result<T, rustyray::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in RustyRay.
///
/// The enum is `#[non_exhaustive]`: match the variants you handle and keep a
/// `_` arm for the rest.
///
/// ```
/// use rustyray::{Config, Error};
///
/// let rt = rustyray::init(Config::default())?;
/// let r = rustyray::put(1u8)?;
/// rt.shutdown();
/// match rustyray::get(&r) {
///     Err(Error::ShutDown { runtime }) => assert_eq!(runtime, rt.name()),
///     other => panic!("expected ShutDown, got {other:?}"),
/// }
/// # Ok::<(), rustyray::Error>(())
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No runtime is installed in the current context.
    #[error("no RustyRay runtime in this context: {reason}; call `rustyray::init(Config::default())` and keep the guard alive, or install a runtime handle with `Runtime::enter()` / `Runtime::scope(fut)`")]
    NotInitialized {
        /// Why none could be found (nothing installed, or the thread is exiting).
        reason: &'static str,
    },

    /// The runtime has been shut down; it accepts no new work and its objects
    /// are gone.
    #[error("runtime `{runtime}` is shut down")]
    ShutDown {
        /// The name of the runtime.
        runtime: String,
    },

    /// A configuration value is invalid.
    #[error("invalid config: `{field}` {reason}")]
    InvalidConfig {
        /// The field of [`Config`](crate::Config) at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A task (or actor method) returned `Err` or panicked.
    #[error("task `{task}` failed: {message}")]
    TaskFailed {
        /// The task's name (`module::function`, `Actor.method`, or the name
        /// given with `.name(..)`).
        task: String,
        /// The error's `Display` text or the panic message.
        message: String,
        /// The error behind it, when it was itself a RustyRay error.
        #[source]
        cause: Option<Arc<Error>>,
    },

    /// An actor died (panicked without restarts left, was killed, or its
    /// runtime shut down) before or while it ran a call.
    #[error("actor `{actor}` died: {cause}")]
    ActorDied {
        /// The actor's name, or its id when it has none.
        actor: String,
        /// Why it died.
        cause: String,
    },

    /// No actor by that name, or one of another type.
    #[error("actor `{name}` not found: {reason}")]
    ActorNotFound {
        /// The name looked up.
        name: String,
        /// Why it did not match.
        reason: String,
    },

    /// A named actor could not be created: the name is taken.
    #[error("an actor named `{name}` already exists (a `{existing}`); pick another name, or use `.get_if_exists(true)` to get it")]
    ActorExists {
        /// The name.
        name: String,
        /// The type of the actor holding it.
        existing: String,
    },

    /// A wait ran out of time. The work it waited for goes on.
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// How long.
        timeout: Duration,
    },

    /// The task was cancelled with [`cancel`](crate::cancel).
    #[error("task `{task}` was cancelled")]
    Cancelled {
        /// The cancelled task's name.
        task: String,
    },

    /// The object can no longer be read: freed, or its spill file is missing
    /// or corrupt.
    #[error("object {object} lost: {reason}")]
    ObjectLost {
        /// The id of the object.
        object: String,
        /// What happened to it.
        reason: String,
    },

    /// The object store has no room, in memory or on disk.
    #[error("object store full: {reason}")]
    StoreFull {
        /// Sizes involved and the underlying failure.
        reason: String,
    },

    /// A task or actor asks for more resources than the runtime has.
    #[error("`{task}` is unschedulable: {reason}")]
    Unschedulable {
        /// The task or actor.
        task: String,
        /// What it asked for and what the runtime has.
        reason: String,
    },

    /// A value or a ref could not be encoded or decoded: bytes that are not
    /// an encoding of the type read, a ref or actor handle decoded as
    /// another type than it was encoded as, or a `Deserialize` impl that
    /// failed, whose own message (`de::Error::custom`) this carries.
    #[error("serialization failed: {0}")]
    Serialization(String),

    /// A blocking call was made where blocking would stall an async
    /// executor: on a thread that is polling a future. It works inside
    /// `tokio::task::spawn_blocking` and `tokio::task::block_in_place`.
    #[error(
        "blocking `{call}` would stall the async executor polling this code; {}",
        async_alternative(call)
    )]
    BlockingInAsync {
        /// The call that was refused.
        call: &'static str,
    },

    /// A call was given an argument it cannot work with.
    #[error("invalid argument to `{call}`: {reason}")]
    InvalidArgument {
        /// The call.
        call: &'static str,
        /// What is wrong with the argument.
        reason: String,
    },

    /// Reading or writing a file failed (writing the
    /// [`timeline`](crate::timeline), say).
    #[error("{what} failed: {reason}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The operating system's reason.
        reason: String,
    },
}

/// What to use in async code instead of a blocking call.
fn async_alternative(call: &str) -> String {
    let instead = match call {
        "get" | "get_timeout" => "`r.await` (with `tokio::time::timeout` for a limit)",
        "get_all" => "`rustyray::get_all_async(&refs).await`",
        "wait" => "`rustyray::wait_async(&refs, n, timeout).await`",
        _ => "its async counterpart",
    };
    format!(
        "use {instead} instead, or run the blocking call inside `tokio::task::spawn_blocking` or \
         `tokio::task::block_in_place`"
    )
}

impl Error {
    /// The RustyRay error behind this one: the failure of a nested task that
    /// a [`TaskFailed`](Error::TaskFailed) task returned. (`source()` yields
    /// the same error behind an `Arc`, for generic error reporters.)
    pub fn cause(&self) -> Option<&Error> {
        match self {
            Error::TaskFailed { cause, .. } => cause.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn serialization(err: impl std::fmt::Display) -> Self {
        Error::Serialization(err.to_string())
    }
}

impl From<postcard::Error> for Error {
    fn from(err: postcard::Error) -> Self {
        Error::serialization(err)
    }
}
