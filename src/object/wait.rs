//! `wait`, `get_all` and `cancel`: Ray's `ray.wait`, `ray.get` of a list
//! and `ray.cancel`.
//!
//! A wait over many refs registers one waker on each pending object (a
//! [`Watch`]) and removes them all when it ends, however it ends, so that
//! no waker outlives its wait: the usual `wait(pending, 1)` loop leaves
//! nothing behind in the objects it watched.

use std::collections::HashSet;
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Poll, Wake, Waker};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::object::cell::ObjectCell;
use crate::object::completion::Elsewhere;
use crate::object::store::Store;
use crate::object::timer::Timer;
use crate::object::{Object, ObjectRef};
use crate::sync::{deadline_after, lock, wait_until, FastHash};

/// What [`wait`](crate::wait) returns: `(ready, pending)`, each in input order.
pub type ReadyPending<T> = (Vec<ObjectRef<T>>, Vec<ObjectRef<T>>);

/// The objects one wait watches, with a waker registered on each of those
/// still pending; every registration is removed on drop.
pub(crate) struct Watch<'a> {
    cells: Vec<&'a ObjectCell>,
    keys: Vec<Option<u64>>,
    /// The waker registered last time.
    armed: Option<Waker>,
}

impl<'a> Watch<'a> {
    pub(crate) fn new(cells: Vec<&'a ObjectCell>) -> Self {
        let keys = vec![None; cells.len()];
        Watch {
            cells,
            keys,
            armed: None,
        }
    }

    /// Registers `waker` on every object still pending (replacing the
    /// waker registered before, if it would not wake the same task); how
    /// many objects it is registered on.
    pub(crate) fn arm(&mut self, waker: &Waker) -> usize {
        let same = self.armed.as_ref().is_some_and(|w| w.will_wake(waker));
        let mut registered = 0;
        for (cell, key) in self.cells.iter().zip(&mut self.keys) {
            if same && key.is_some() {
                registered += 1;
                continue;
            }
            if cell.is_complete() {
                continue;
            }
            if cell.watch(waker, key) {
                registered += 1;
            } else {
                *key = None;
            }
        }
        if !same {
            self.armed = Some(waker.clone());
        }
        registered
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        for (cell, key) in self.cells.iter().zip(&self.keys) {
            if let Some(key) = key {
                cell.unwatch(*key);
            }
        }
    }
}

/// What a blocking wait needs: `ready` of its objects complete, or (with
/// `fail_fast`) one of them failed.
#[derive(Clone, Copy)]
pub(crate) struct Until {
    pub(crate) ready: usize,
    pub(crate) fail_fast: bool,
}

/// The waker a blocking wait registers on each pending object it watches.
///
/// A completion costs the completing thread one atomic decrement, and
/// wakes the waiting thread only when it may be done: when the last
/// completion it needs arrives, or (failing fast) when an object of the
/// store failed. So a `get_all` of a thousand refs wakes its thread once,
/// not a thousand times. The waiter decides under `sleeping`'s lock
/// whether it is done before it sleeps, and a waker signals under the same
/// lock, so no signal falls between the two.
struct Completions {
    /// Completions still needed before the wait may be done.
    needed: AtomicIsize,
    /// With `fail_fast`: the store's failure count the waiter last saw.
    failures: Option<(Arc<Store>, AtomicU64)>,
    sleeping: Mutex<bool>,
    changed: Condvar,
}

impl Completions {
    fn signal(&self) {
        if *lock(&self.sleeping) {
            self.changed.notify_one();
        }
    }
}

impl Wake for Completions {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let left = self.needed.fetch_sub(1, Ordering::AcqRel) - 1;
        let failed = self
            .failures
            .as_ref()
            .is_some_and(|(store, seen)| store.failures() != seen.load(Ordering::Acquire));
        if left <= 0 || failed {
            self.signal();
        }
    }
}

/// Blocks until `until` holds for `cells` (see [`Until`]) or `deadline`;
/// whether it holds. Inside a sync task, first runs here the producers of
/// `cells` that have not started (when there is no deadline), then lends
/// the task's CPUs while it blocks.
pub(crate) fn block_until(
    call: &'static str,
    cells: &[&ObjectCell],
    deadline: Option<Instant>,
    until: Until,
) -> Result<bool> {
    let done = || {
        let mut complete = 0;
        for cell in cells {
            if cell.is_complete() {
                if until.fail_fast && cell.is_failed() {
                    return true;
                }
                complete += 1;
            }
        }
        complete >= until.ready
    };
    let Some(store) = cells.first().map(|c| c.store()) else {
        return Ok(done());
    };
    store.refuse_blocking(call)?;
    if done() {
        return Ok(true);
    }
    if deadline.is_none() && store.may_help_many() {
        for cell in cells {
            if !cell.is_complete() && cell.help() && done() {
                return Ok(true);
            }
        }
    }
    block_elsewhere(cells, until.ready, deadline);
    let completions = Arc::new(Completions {
        needed: AtomicIsize::new(until.ready as isize),
        failures: until
            .fail_fast
            .then(|| (Arc::clone(store), AtomicU64::new(store.failures()))),
        sleeping: Mutex::new(false),
        changed: Condvar::new(),
    });
    let waker = Waker::from(Arc::clone(&completions));
    let mut watch = Watch::new(cells.to_vec());
    // Objects complete before their registration count at once.
    let watched = watch.arm(&waker);
    let already = (cells.len() - watched) as isize;
    completions.needed.fetch_sub(already, Ordering::AcqRel);
    let _blocked = store.blocking();
    let mut sleeping = lock(&completions.sleeping);
    loop {
        if done() {
            return Ok(true);
        }
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Ok(false);
        }
        if let Some((store, seen)) = &completions.failures {
            seen.store(store.failures(), Ordering::Release);
        }
        *sleeping = true;
        sleeping = wait_until(&completions.changed, sleeping, deadline);
        *sleeping = false;
    }
}

/// Lets a thread about to block until `ready` of `cells` are complete (or
/// `deadline`) wait where their producers live first (see [`Elsewhere`]),
/// when every pending one lives in one place outside this process: the
/// objects of a Ray worker's nested tasks, waited for in Ray. Returns at
/// once otherwise.
pub(crate) fn block_elsewhere(cells: &[&ObjectCell], ready: usize, deadline: Option<Instant>) {
    if !cfg!(feature = "ray") {
        return; // only a Ray worker's objects live elsewhere
    }
    let mut place: Option<Arc<dyn Elsewhere>> = None;
    let mut keys = Vec::new();
    let mut complete = 0;
    for cell in cells {
        if cell.is_complete() {
            complete += 1;
            continue;
        }
        let Some((there, key)) = cell.producer().and_then(|p| p.elsewhere()) else {
            return;
        };
        let same = |p: &Arc<dyn Elsewhere>| std::ptr::addr_eq(Arc::as_ptr(p), Arc::as_ptr(&there));
        match &place {
            Some(p) if !same(p) => return,
            Some(_) => {}
            None => place = Some(there),
        }
        keys.push(key);
    }
    if let Some(place) = place {
        if ready > complete {
            place.wait(keys, ready - complete, deadline);
        }
    }
}

/// `InvalidArgument` when `refs` names an object twice (Ray's `ray.wait`
/// requires unique refs: a duplicate would be both ready and pending).
fn check_unique<T>(refs: &[ObjectRef<T>]) -> Result<()> {
    let mut seen: HashSet<usize, FastHash> =
        HashSet::with_capacity_and_hasher(refs.len(), Default::default());
    for r in refs {
        if !seen.insert(Arc::as_ptr(&r.cell) as usize) {
            return Err(Error::InvalidArgument {
                call: "wait",
                reason: format!(
                    "{} appears more than once in the list; pass each ref once",
                    r.id()
                ),
            });
        }
    }
    Ok(())
}

/// See [`wait`](crate::wait).
pub(crate) fn wait_refs<T: Object>(
    refs: &[ObjectRef<T>],
    num_ready: usize,
    timeout: Option<Duration>,
) -> Result<ReadyPending<T>> {
    check_unique(refs)?;
    let want = num_ready.min(refs.len());
    if let Some(r) = refs.first() {
        r.cell.store().check_open()?;
    }
    let cells: Vec<&ObjectCell> = refs.iter().map(|r| &*r.cell).collect();
    let until = Until {
        ready: want,
        fail_fast: false,
    };
    block_until("wait", &cells, timeout.and_then(deadline_after), until)?;
    Ok(split_ready(refs, want))
}

/// `(ready, pending)`: the first `want` complete refs, in input order, and
/// the rest.
pub(crate) fn split_ready<T>(refs: &[ObjectRef<T>], want: usize) -> ReadyPending<T> {
    let mut ready = Vec::with_capacity(want);
    let mut pending = Vec::with_capacity(refs.len().saturating_sub(want));
    for r in refs {
        if ready.len() < want && r.cell.is_complete() {
            ready.push(r.clone());
        } else {
            pending.push(r.clone());
        }
    }
    (ready, pending)
}

/// The first error among `refs` that are complete, in input order.
pub(crate) fn first_failure<T>(refs: &[ObjectRef<T>]) -> Option<Error> {
    refs.iter()
        .filter(|r| r.cell.is_failed())
        .find_map(|r| r.cell.try_get().and_then(|outcome| outcome.err()))
}

/// See [`get_all`](crate::get_all): every value in order, or the first
/// failure that completes, wherever it is in the list.
pub(crate) fn get_all_refs<T: Object>(refs: &[ObjectRef<T>]) -> Result<Vec<T>> {
    settle_all(refs)?;
    refs.iter().map(|r| r.wait_value(None)).collect()
}

/// Waits until every one of `refs` is complete, or one failed: `Err` with
/// the first failure (wherever it is in the list).
pub(crate) fn settle_all<T>(refs: &[ObjectRef<T>]) -> Result<()> {
    let Some(first) = refs.first() else {
        return Ok(());
    };
    let store = first.cell.store();
    store.check_open()?;
    let cells: Vec<&ObjectCell> = refs.iter().map(|r| &*r.cell).collect();
    let until = Until {
        ready: cells.len(),
        fail_fast: true,
    };
    block_until("get_all", &cells, None, until)?;
    store.check_open()?;
    match first_failure(refs) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// The value of a complete ref, without waiting.
fn read_complete<T: Object>(r: &ObjectRef<T>) -> Result<T> {
    let store = r.cell.store();
    store.check_open()?;
    match r.cell.try_get() {
        Some(outcome) => outcome?.read(&r.cell),
        None => Err(Error::Timeout {
            what: format!("object {}", r.id()),
            timeout: Duration::ZERO,
        }),
    }
}

/// Polls until `done()` holds (checked whenever one of `cells` completes)
/// or `timeout` passes; whether it holds.
async fn until(
    cells: Vec<&ObjectCell>,
    timeout: Option<Duration>,
    done: impl Fn() -> bool,
) -> bool {
    if done() {
        return true;
    }
    let store = cells.first().map(|c| std::sync::Arc::clone(c.store()));
    let mut timer = timeout.and_then(|t| store.map(|s| Timer::after(&s, t)));
    let mut watch = Watch::new(cells);
    std::future::poll_fn(|cx| {
        if done() {
            return Poll::Ready(true);
        }
        if timer.as_mut().is_some_and(|t| t.poll_expired(cx)) {
            return Poll::Ready(false);
        }
        watch.arm(cx.waker());
        // A completion between the check and the registration woke nobody.
        if done() {
            Poll::Ready(true)
        } else {
            Poll::Pending
        }
    })
    .await
}

/// [`wait`](crate::wait) for async code: waits without blocking a thread,
/// in any async context (each ref knows its runtime, so none needs to be
/// installed). Cancel-safe: dropping the future leaves nothing behind in
/// the objects it watched.
///
/// ```
/// # let rt = rustyray::init(rustyray::Config::default())?;
/// let a = rustyray::put(1)?;
/// let b = rustyray::put(2)?;
/// let refs = [a.clone(), b.clone()];
/// let waited = rt.spawn(async move { rustyray::wait_async(&refs, 2, None).await });
/// let tokio = tokio::runtime::Runtime::new().unwrap();
/// let (ready, pending) = tokio.block_on(waited).unwrap()?;
/// assert_eq!((ready, pending.len()), (vec![a, b], 0));
/// # Ok::<(), rustyray::Error>(())
/// ```
pub async fn wait_async<T: Object>(
    refs: &[ObjectRef<T>],
    num_ready: usize,
    timeout: Option<Duration>,
) -> Result<ReadyPending<T>> {
    check_unique(refs)?;
    let want = num_ready.min(refs.len());
    if let Some(r) = refs.first() {
        r.cell.store().check_open()?;
    }
    let cells: Vec<&ObjectCell> = refs.iter().map(|r| &*r.cell).collect();
    let complete = || refs.iter().filter(|r| r.cell.is_complete()).count() >= want;
    until(cells, timeout, complete).await;
    Ok(split_ready(refs, want))
}

/// [`get_all`](crate::get_all) for async code: every value in order, or
/// the first failure that completes, wherever it is in the list. Works in
/// any async context and is cancel-safe, like [`wait_async`].
///
/// ```
/// # let rt = rustyray::init(rustyray::Config::default())?;
/// let refs = vec![rustyray::put(1u8)?, rustyray::put(2u8)?];
/// let got = rt.spawn(async move { rustyray::get_all_async(&refs).await });
/// let tokio = tokio::runtime::Runtime::new().unwrap();
/// assert_eq!(tokio.block_on(got).unwrap()?, vec![1, 2]);
/// # Ok::<(), rustyray::Error>(())
/// ```
pub async fn get_all_async<T: Object>(refs: &[ObjectRef<T>]) -> Result<Vec<T>> {
    let Some(first) = refs.first() else {
        return Ok(Vec::new());
    };
    first.cell.store().check_open()?;
    let cells: Vec<&ObjectCell> = refs.iter().map(|r| &*r.cell).collect();
    let settled =
        || refs.iter().all(|r| r.cell.is_complete()) || refs.iter().any(|r| r.cell.is_failed());
    until(cells, None, settled).await;
    if let Some(err) = first_failure(refs) {
        return Err(err);
    }
    refs.iter().map(read_complete).collect()
}

/// Cancels the producer of `r`, if it is still pending (see
/// [`cancel`](crate::cancel)).
pub(crate) fn cancel_ref<T>(r: &ObjectRef<T>) -> Result<()> {
    cancel_ref_with(r, true)
}

/// [`cancel_ref`], recursive or not (see
/// [`cancel_with`](crate::cancel_with)).
pub(crate) fn cancel_ref_with<T>(r: &ObjectRef<T>, recursive: bool) -> Result<()> {
    r.cell.store().check_open()?;
    if let Some(producer) = r.cell.producer() {
        producer.cancel_with(recursive);
    }
    Ok(())
}

#[cfg(all(test, feature = "ray"))]
mod tests {
    use std::sync::{Mutex, Weak};

    use super::*;
    use crate::object::completion::Producer;
    use crate::object::id::RuntimeId;
    use crate::object::spill::SpillDir;
    use crate::object::value::Value;

    /// A place that records the waits asked of it.
    #[derive(Default)]
    struct Place {
        waits: Mutex<Vec<(Vec<String>, usize, bool)>>,
    }

    impl Elsewhere for Place {
        fn wait(&self, keys: Vec<String>, ready: usize, deadline: Option<Instant>) {
            lock(&self.waits).push((keys, ready, deadline.is_some()));
        }
    }

    /// A producer living at `place` (or here, with none), under `key`.
    struct There {
        place: Option<Arc<Place>>,
        key: String,
    }

    impl Producer for There {
        fn cancel(self: Arc<Self>) {}

        fn help(self: Arc<Self>) -> bool {
            false
        }

        fn elsewhere(&self) -> Option<(Arc<dyn Elsewhere>, String)> {
            let place: Arc<dyn Elsewhere> = self.place.clone()?;
            Some((place, self.key.clone()))
        }
    }

    fn store() -> Arc<Store> {
        let dir = SpillDir::new(std::env::temp_dir(), "rustyray-wait-tests");
        Arc::new(Store::new(RuntimeId::next().0, "t".into(), u64::MAX, dir))
    }

    /// A pending cell of `store` whose producer (kept in `producers`)
    /// lives at `place`.
    fn cell(
        store: &Arc<Store>,
        place: Option<&Arc<Place>>,
        key: &str,
        producers: &mut Vec<Arc<There>>,
    ) -> Arc<ObjectCell> {
        let producer = Arc::new(There {
            place: place.cloned(),
            key: key.into(),
        });
        let cell = store.pending(Arc::downgrade(&producer) as Weak<dyn Producer>, false);
        producers.push(producer);
        cell
    }

    #[test]
    fn a_wait_over_objects_of_one_place_waits_there_for_what_is_missing() {
        let store = store();
        let place = Arc::new(Place::default());
        let mut producers = Vec::new();
        let a = cell(&store, Some(&place), "a", &mut producers);
        let b = cell(&store, Some(&place), "b", &mut producers);
        let c = cell(&store, Some(&place), "c", &mut producers);
        assert!(b.complete(Ok(Value::new(1_u32))));
        // Two of three wanted, one complete: one more, among the pending.
        block_elsewhere(&[&a, &b, &c], 2, None);
        // All of them, with a deadline.
        block_elsewhere(&[&a, &c], 2, Some(Instant::now()));
        // Enough complete already: no wait.
        block_elsewhere(&[&a, &b], 1, None);
        assert_eq!(
            *lock(&place.waits),
            vec![
                (vec!["a".to_string(), "c".to_string()], 1, false),
                (vec!["a".to_string(), "c".to_string()], 2, true),
            ]
        );
    }

    #[test]
    fn a_wait_over_objects_of_several_places_waits_here_only() {
        let store = store();
        let (one, two) = (Arc::new(Place::default()), Arc::new(Place::default()));
        let mut producers = Vec::new();
        let a = cell(&store, Some(&one), "a", &mut producers);
        let b = cell(&store, Some(&two), "b", &mut producers);
        let local = cell(&store, None, "here", &mut producers);
        block_elsewhere(&[&a, &b], 1, None);
        block_elsewhere(&[&a, &local], 1, None);
        block_elsewhere(&[&local, &a], 1, None);
        assert!(lock(&one.waits).is_empty());
        assert!(lock(&two.waits).is_empty());
    }
}
