//! The state API: what exists in the current runtime now, as Ray's
//! `ray list tasks`, `ray list actors` and `ray list objects` show it.
//!
//! Each function lists what the current runtime ([`global`](crate::global))
//! holds at the moment of the call; the same lists come from
//! [`Runtime::list_tasks`](crate::Runtime::list_tasks) and its siblings for
//! an explicit runtime. Memory stays bounded: a runtime keeps the newest
//! ended tasks up to [`Config::max_finished_tasks`](crate::Config::max_finished_tasks)
//! and the newest 1,000 dead actors; live tasks, actors and objects are
//! read from the tables the runtime keeps anyway.
//!
//! ```
//! use rustyray::state::{self, TaskStatus};
//!
//! #[rustyray::remote]
//! fn double(x: u64) -> u64 {
//!     2 * x
//! }
//!
//! let _rt = rustyray::init(rustyray::Config::default())?;
//! let r = double::remote(21)?;
//! assert_eq!(r.get()?, 42);
//! let tasks = state::list_tasks()?;
//! assert_eq!(tasks.len(), 1);
//! assert!(tasks[0].name.ends_with("double"));
//! assert_eq!(tasks[0].status, TaskStatus::Finished);
//! # Ok::<(), rustyray::Error>(())
//! ```
//!
//! What a list shows is a snapshot, taken without stopping anything: a task
//! may move on while it is read. A live task whose refs were all dropped is
//! listed once it ends, not before (live tasks are found through the
//! objects they will produce), and small plain values (numbers, short
//! strings) put directly are not tracked, so not listed as objects.

use crate::error::Result;
use crate::runtime::global;

pub use crate::actor::state::{ActorState, ActorStatus};
pub use crate::object::state::{ObjectLocation, ObjectState};
pub use crate::task::history::{TaskState, TaskStatus};

/// The tasks and actor calls of the current runtime: those waiting for
/// their dependencies, queued, or running, then the newest that ended
/// (finished or failed), ordered by id (submission order).
pub fn list_tasks() -> Result<Vec<TaskState>> {
    Ok(global()?.list_tasks())
}

/// The actors of the current runtime: the live ones and the newest that
/// died, ordered by id.
pub fn list_actors() -> Result<Vec<ActorState>> {
    Ok(global()?.list_actors())
}

/// The objects of the current runtime's store that hold a value, with
/// their size and where they are (memory or disk), ordered by id.
pub fn list_objects() -> Result<Vec<ObjectState>> {
    Ok(global()?.list_objects())
}
