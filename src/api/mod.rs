//! The API at the top of the layers: the free functions a program calls
//! (`put`, `get`, `wait`, `cancel`, `get_actor`, `kill`), the options of
//! calls and actors, and the entry points the macros' output calls.
//!
//! Each free function acts on the current runtime ([`global`]), or on the
//! refs and handles it is given (which know their runtime); each has a twin
//! method on [`Runtime`](crate::Runtime) for an explicit context.

pub(crate) mod actor_class;
pub(crate) mod actor_options;
pub(crate) mod actors;
pub(crate) mod cancel;
pub(crate) mod lifecycle;
pub(crate) mod mixed;
pub(crate) mod node;
pub(crate) mod placement;
#[cfg(feature = "ray")]
pub mod python;
#[cfg(feature = "ray")]
pub mod ray;
pub mod registry;
pub(crate) mod resources;
pub mod state;
pub(crate) mod streaming;
pub(crate) mod submit;
pub(crate) mod task_options;

use std::time::Duration;

use crate::error::Result;
use crate::object::{Object, ObjectRef, ReadyPending};
use crate::runtime::global;

pub use actors::{get_actor, kill};
pub use cancel::cancel_with;
pub use lifecycle::{exit_actor, get_actor_in, kill_with, KillOptions};
pub use mixed::{get_mixed, wait_mixed};
pub use placement::{placement_group, remove_placement_group};
pub use resources::{available_resources, cluster_resources};

/// Stores `value` in the current runtime and returns a ref to it.
///
/// The value is moved in; changing the original afterwards is impossible,
/// and changing a copy changes nothing in the store.
///
/// ```
/// let _rt = rustyray::init(rustyray::Config::default())?;
/// let r = rustyray::put(String::from("hello"))?;
/// assert_eq!(rustyray::get(&r)?, "hello");
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn put<T: Object>(value: T) -> Result<ObjectRef<T>> {
    global()?.put(value)
}

/// Stores a copy of `bytes` as a `Vec<u8>` object: Ray's `put` of an array
/// the caller keeps.
///
/// Unlike `put(bytes.to_vec())`, a large copy goes into a buffer recycled
/// from a freed byte object when one fits, so it runs at memory-copy speed
/// instead of paying a page fault for every page of fresh memory.
///
/// ```
/// let _rt = rustyray::init(rustyray::Config::default())?;
/// let data = vec![7u8; 1000];
/// let r = rustyray::put_bytes(&data)?;
/// assert_eq!(rustyray::get(&r)?, data);
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn put_bytes(bytes: &[u8]) -> Result<ObjectRef<Vec<u8>>> {
    global()?.put_bytes(bytes)
}

/// Blocks until `r` is ready and returns a copy of its value.
///
/// See [`ObjectRef::get`]. In async code, `.await` the ref instead.
pub fn get<T: Object>(r: &ObjectRef<T>) -> Result<T> {
    global()?.get(r)
}

/// [`get`] with a limit: [`Error::Timeout`](crate::Error::Timeout) when `r`
/// is not ready in time; the work behind it goes on.
pub fn get_timeout<T: Object>(r: &ObjectRef<T>, timeout: Duration) -> Result<T> {
    global()?.get_timeout(r, timeout)
}

/// Gets every ref, in order; the first error wins.
pub fn get_all<T: Object>(refs: &[ObjectRef<T>]) -> Result<Vec<T>> {
    global()?.get_all(refs)
}

/// Waits until `num_ready` of `refs` are complete (with a value or an
/// error), or until `timeout`; returns `(ready, pending)`, each in input
/// order. `ready` holds at most `num_ready` refs (clamped to `refs.len()`);
/// on timeout it holds those complete by then. Ray's `ray.wait`. Each ref
/// may appear once: a list naming an object twice is
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument).
///
/// ```
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let a = rustyray::put(1)?;
/// let b = rustyray::put(2)?;
/// let (ready, pending) = rustyray::wait(&[a.clone(), b.clone()], 1, None)?;
/// assert_eq!((ready, pending), (vec![a], vec![b]));
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn wait<T: Object>(
    refs: &[ObjectRef<T>],
    num_ready: usize,
    timeout: Option<Duration>,
) -> Result<ReadyPending<T>> {
    global()?.wait(refs, num_ready, timeout)
}

/// Writes a timeline of the current runtime's recent tasks and actor calls
/// to `path`, as Chrome trace-event JSON (open it in Perfetto or
/// `chrome://tracing`): Ray's `ray.timeline()`.
///
/// Each task that ran is one complete (`"X"`) event named after its
/// function or method (`Actor.method`), from its first attempt's start to
/// its end (`ts` and `dur` in microseconds since the runtime started), on
/// the row (`tid`) of the worker thread it started on; rows carry the
/// threads' names. The runtime keeps the newest
/// [`Config::max_finished_tasks`](crate::Config::max_finished_tasks) ended
/// tasks: the timeline shows those.
///
/// ```
/// #[rustyray::remote]
/// fn work() -> u32 {
///     7
/// }
///
/// let _rt = rustyray::init(rustyray::Config::default())?;
/// work::remote()?.get()?;
/// let path = std::env::temp_dir().join(format!("timeline-doc-{}.json", std::process::id()));
/// rustyray::timeline(&path)?;
/// let json = std::fs::read_to_string(&path).unwrap();
/// assert!(json.contains(r#""ph":"X""#));
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn timeline(path: impl AsRef<std::path::Path>) -> Result<()> {
    global()?.timeline(path)
}

/// Reports the current runtime's metrics through the
/// [`metrics`](https://docs.rs/metrics) facade: see
/// [`Runtime::record_metrics`](crate::Runtime::record_metrics) for what is
/// reported. Call it when the exporter is scraped, or every few seconds.
pub fn record_metrics() -> Result<()> {
    global()?.record_metrics();
    Ok(())
}

/// Cancels the task producing `r`: a pending task never runs, a running
/// async task is dropped at its next `.await`, a running sync task sees
/// [`Context::is_cancelled`](crate::Context::is_cancelled). The ref
/// completes with [`Error::Cancelled`](crate::Error::Cancelled) at once, and the task is not retried.
/// A finished task, or a `put` object, is left as it is.
///
/// Recursive, as in Ray: the tasks and actor calls the cancelled task
/// submitted are cancelled too (and theirs, and so on, and those it
/// submits afterwards); actors it created live on. See
/// [`cancel_with`](crate::cancel_with) to cancel the one task alone.
///
/// ```
/// use rustyray::Error;
///
/// #[rustyray::remote(num_cpus = 0)]
/// async fn forever() -> u32 {
///     std::future::pending::<u32>().await
/// }
///
/// # let _rt = rustyray::init(rustyray::Config::default())?;
/// let r = forever::remote()?;
/// rustyray::cancel(&r)?;
/// assert!(matches!(r.get(), Err(Error::Cancelled { .. })));
/// # Ok::<(), rustyray::Error>(())
/// ```
pub fn cancel<T: Object>(r: &ObjectRef<T>) -> Result<()> {
    global()?.cancel(r)
}
