//! `wait` and `cancel`: Ray's `ray.wait` and `ray.cancel`.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::object::{Object, ObjectRef};
use crate::runtime::global;
use crate::sync::lock;
use crate::sync::{deadline_after, wait_until};
use crate::task::blocking::while_blocked;

/// What [`wait`] returns: `(ready, pending)`, each in input order.
pub type ReadyPending<T> = (Vec<ObjectRef<T>>, Vec<ObjectRef<T>>);

/// Counts completions of the refs a `wait` registered on.
#[derive(Default)]
struct Completions {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Wake for Completions {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        *lock(&self.count) += 1;
        self.changed.notify_all();
    }
}

/// See [`wait`].
pub(crate) fn wait_refs<T: Object>(
    refs: &[ObjectRef<T>],
    num_ready: usize,
    timeout: Option<Duration>,
) -> Result<ReadyPending<T>> {
    let want = num_ready.min(refs.len());
    if let Some(r) = refs.first() {
        r.cell.store().check_open()?;
    }
    let mut complete = refs.iter().filter(|r| r.cell.is_complete()).count();
    if complete < want {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::BlockingInAsync { call: "wait" });
        }
        let deadline = timeout.and_then(deadline_after);
        let completions = Arc::new(Completions::default());
        let waker = Waker::from(Arc::clone(&completions));
        complete = refs.iter().filter(|r| !r.cell.on_complete(&waker)).count();
        while_blocked(|| {
            let mut woken = completions
                .count
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            while complete + *woken < want && deadline.is_none_or(|d| d > Instant::now()) {
                woken = wait_until(&completions.changed, woken, deadline);
            }
        });
    }
    let mut ready = Vec::with_capacity(want);
    let mut pending = Vec::with_capacity(refs.len() - want);
    for r in refs {
        if ready.len() < want && r.cell.is_complete() {
            ready.push(r.clone());
        } else {
            pending.push(r.clone());
        }
    }
    Ok((ready, pending))
}

/// Waits until `num_ready` of `refs` are complete (with a value or an
/// error), or until `timeout`; returns `(ready, pending)`, each in input
/// order. `ready` holds at most `num_ready` refs (clamped to `refs.len()`);
/// on timeout it holds those complete by then. Ray's `ray.wait`.
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

/// Cancels the task producing `r`: a pending task never runs, a running
/// async task is dropped at its next `.await`, a running sync task sees
/// [`Context::is_cancelled`](crate::Context::is_cancelled). The ref
/// completes with [`Error::Cancelled`] at once, and the task is not retried.
/// A finished task, or a `put` object, is left as it is.
pub fn cancel<T: Object>(r: &ObjectRef<T>) -> Result<()> {
    global()?.cancel(r)
}

/// See [`cancel`].
pub(crate) fn cancel_ref<T>(r: &ObjectRef<T>) -> Result<()> {
    r.cell.store().check_open()?;
    if let Some(producer) = r.cell.producer() {
        producer.cancel();
    }
    Ok(())
}
