//! [`ObjectCell`]: the slot one object lives in, and everything that waits on it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::object::id::ObjectId;
use crate::object::recycle;
use crate::object::spill::SpillFile;
use crate::object::store::{drop_caught, Store};
use crate::object::value::{Stored, Value};
use crate::object::{copy, Object};
use crate::sync::lock;
use crate::sync::{catch, spin_until, wait_until};

/// `resident` of a cell that is not in the store's resident table.
const NOT_RESIDENT: usize = usize::MAX;

enum Kind {
    Pending,
    Complete,
    Failed,
}

/// What produces a pending object: the task a `cancel` reaches through its
/// ref.
pub(crate) trait Producer: Send + Sync {
    /// Asks the producer to stop; the outcome arrives in the cell.
    fn cancel(self: Arc<Self>);

    /// The calling thread is about to block until the producer completes
    /// the cell: the producer may run on this thread now instead, if it has
    /// not started. `true` when it ran here.
    fn help(self: Arc<Self>) -> bool;
}

pub(crate) enum State {
    /// Not yet produced. `wakers` are woken on completion, each under a
    /// key its registrant may remove it by; `sleepers` counts threads
    /// blocked on the condvar.
    Pending {
        wakers: Vec<(u64, Waker)>,
        next_key: u64,
        sleepers: u32,
        producer: Option<Weak<dyn Producer>>,
    },
    /// In memory. A reader clones the handle while it copies: a value with
    /// more than one holder is in use and is never spilled.
    Ready(Value),
    Spilled(Arc<SpillFile>),
    Failed(Error),
}

impl State {
    fn pending(producer: Option<Weak<dyn Producer>>) -> State {
        State::Pending {
            wakers: Vec::new(),
            next_key: 0,
            sleepers: 0,
            producer,
        }
    }

    fn outcome(&self) -> Option<Result<Stored>> {
        match self {
            State::Pending { .. } => None,
            State::Ready(value) => Some(Ok(Stored::Memory(value.clone()))),
            State::Spilled(file) => Some(Ok(Stored::Disk(Arc::clone(file)))),
            State::Failed(err) => Some(Err(err.clone())),
        }
    }
}

/// One object: pending until its producer completes it, then immutable
/// (though it may move between memory and disk).
///
/// Shared by every [`ObjectRef`](crate::ObjectRef) to it, the task producing
/// it and values holding refs to it; freed when the last holder drops it,
/// which returns its bytes to the store's account and deletes its spill
/// file.
pub(crate) struct ObjectCell {
    id: ObjectId,
    store: Arc<Store>,
    /// Key in the store's table of cells; `None` for a small object born
    /// ready, which is never spilled (see [`Store::track`]).
    key: Option<usize>,
    /// Key in the store's table of resident values, the spill candidates
    /// (see [`Store::make_resident`]), or [`NOT_RESIDENT`]. Changed only
    /// under the state lock.
    resident: AtomicUsize,
    state: Mutex<State>,
    ready: Condvar,
    /// Set on every read, cleared by the spilling sweep as it passes: the
    /// CLOCK approximation of "recently read". Written only when it
    /// changes, and only on this cell's own cache line.
    referenced: AtomicBool,
    /// Whether the store's id table knows this cell (a ref to it was serialized).
    exported: AtomicBool,
    /// Set once the object is complete: lets waiters spin without the lock.
    complete: AtomicBool,
    /// Set (before `complete`) when it completed with an error.
    failed: AtomicBool,
}

impl ObjectCell {
    fn new(store: &Arc<Store>, id: ObjectId, state: State) -> Arc<ObjectCell> {
        let (state_kind, tracked, resident) = match &state {
            State::Pending { .. } => (Kind::Pending, true, false),
            State::Ready(value) => {
                let tracked = !value.is_plain() || value.size() >= Store::TRACK_MIN;
                (Kind::Complete, tracked, tracked && value.is_spillable())
            }
            State::Failed(_) => (Kind::Failed, true, false),
            State::Spilled(_) => (Kind::Complete, true, false),
        };
        Arc::new_cyclic(|weak| ObjectCell {
            id,
            store: Arc::clone(store),
            key: tracked.then(|| store.track(id, weak.clone())),
            resident: AtomicUsize::new(if resident {
                store.make_resident(id, weak.clone())
            } else {
                NOT_RESIDENT
            }),
            state: Mutex::new(state),
            ready: Condvar::new(),
            referenced: AtomicBool::new(false),
            exported: AtomicBool::new(false),
            complete: AtomicBool::new(!matches!(state_kind, Kind::Pending)),
            failed: AtomicBool::new(matches!(state_kind, Kind::Failed)),
        })
    }

    pub(crate) fn failed(store: &Arc<Store>, id: ObjectId, err: Error) -> Arc<ObjectCell> {
        Self::new(store, id, State::Failed(err))
    }

    /// A new object that `producer` will complete.
    pub(crate) fn pending(
        store: &Arc<Store>,
        id: ObjectId,
        producer: Weak<dyn Producer>,
    ) -> Arc<ObjectCell> {
        Self::new(store, id, State::pending(Some(producer)))
    }

    /// A new object holding `value` (in memory, or spilled when there is no
    /// room).
    pub(crate) fn ready(store: &Arc<Store>, id: ObjectId, value: Value) -> Result<Arc<ObjectCell>> {
        let state = store.admit(id, value)?;
        Ok(Self::new(store, id, state))
    }

    pub(crate) fn id(&self) -> ObjectId {
        self.id
    }

    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Makes the cell findable by id, for refs decoded from bytes.
    pub(crate) fn export(self: &Arc<Self>) {
        if !self.exported.swap(true, Ordering::AcqRel) {
            self.store.register(self);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave `State` half-written
        // (every update is a single assignment), so poisoning is ignored.
        lock(&self.state)
    }

    /// The producer to cancel, while the object is still pending.
    pub(crate) fn producer(&self) -> Option<Arc<dyn Producer>> {
        match &*self.lock() {
            State::Pending { producer, .. } => producer.as_ref().and_then(Weak::upgrade),
            _ => None,
        }
    }

    /// Runs the producer on this thread, which is about to block until the
    /// object is complete, if it has not started (see [`Producer::help`]).
    pub(crate) fn help(&self) -> bool {
        self.producer().is_some_and(Producer::help)
    }

    /// Completes the object; the first completion wins. A value that finds
    /// no room in memory or on disk completes it with `StoreFull`.
    pub(crate) fn complete(self: &Arc<Self>, result: Result<Value>) -> bool {
        if !matches!(*self.lock(), State::Pending { .. }) {
            return false;
        }
        let new_state = match result.and_then(|value| self.store.admit(self.id, value)) {
            Ok(state) => state,
            Err(err) => State::Failed(err),
        };
        self.settle(new_state)
    }

    fn settle(self: &Arc<Self>, new_state: State) -> bool {
        let mut state = self.lock();
        if !matches!(*state, State::Pending { .. }) {
            drop(state);
            self.store.unaccount(&new_state);
            drop_caught(new_state);
            return false;
        }
        if matches!(&new_state, State::Ready(value) if value.is_spillable()) {
            self.enter_resident();
        }
        let State::Pending {
            wakers, sleepers, ..
        } = std::mem::replace(&mut *state, new_state)
        else {
            unreachable!("checked above")
        };
        self.failed
            .store(matches!(*state, State::Failed(_)), Ordering::Relaxed);
        self.complete.store(true, Ordering::Release);
        drop(state);
        if sleepers > 0 {
            self.ready.notify_all();
        }
        for (_, waker) in wakers {
            // A waker is foreign code (an executor's): its panic must not
            // keep the others from being woken.
            if let Err(panic) = catch(|| waker.wake()) {
                tracing::warn!(object = %self.id, "a waker of the object {panic}");
            }
        }
        true
    }

    /// Marks the cell recently read (for the spilling sweep).
    fn touch(&self) {
        if self.key.is_some() && !self.referenced.load(Ordering::Relaxed) {
            self.referenced.store(true, Ordering::Relaxed);
        }
    }

    /// Clears the referenced bit; whether it was set.
    pub(crate) fn clear_referenced(&self) -> bool {
        self.referenced.load(Ordering::Relaxed) && self.referenced.swap(false, Ordering::Relaxed)
    }

    /// Joins the store's resident table (state lock held).
    fn enter_resident(self: &Arc<Self>) {
        if self.key.is_some() && self.resident.load(Ordering::Relaxed) == NOT_RESIDENT {
            let key = self.store.make_resident(self.id, Arc::downgrade(self));
            self.resident.store(key, Ordering::Relaxed);
        }
    }

    /// Leaves the store's resident table (state lock held).
    fn leave_resident(&self) {
        let key = self.resident.swap(NOT_RESIDENT, Ordering::Relaxed);
        if key != NOT_RESIDENT {
            self.store.evict(key);
        }
    }

    /// The outcome, if the object is complete.
    pub(crate) fn try_get(&self) -> Option<Result<Stored>> {
        let outcome = self.lock().outcome();
        self.touch();
        outcome
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.complete.load(Ordering::Acquire)
    }

    /// Whether the object is complete with an error.
    pub(crate) fn is_failed(&self) -> bool {
        self.is_complete() && self.failed.load(Ordering::Relaxed)
    }

    /// Async wait: the outcome, or `cx`'s waker registered under `key`
    /// (see [`watch`](Self::watch)).
    pub(crate) fn poll_get(
        &self,
        cx: &mut Context<'_>,
        key: &mut Option<u64>,
    ) -> Poll<Result<Stored>> {
        if self.watch(cx.waker(), key) {
            return Poll::Pending;
        }
        *key = None;
        match self.try_get() {
            Some(outcome) => Poll::Ready(outcome),
            None => Poll::Pending,
        }
    }

    /// Registers `waker` to be woken on completion, for good (a task's
    /// dependency); `false` when the object is already complete (the
    /// waker is not kept).
    pub(crate) fn on_complete(&self, waker: &Waker) -> bool {
        self.watch(waker, &mut None)
    }

    /// Registers `waker` to be woken on completion, under `key`: a new
    /// entry when `key` is `None` (its key is stored there), else the
    /// entry's waker is replaced if it would not wake the same task.
    /// `false` when the object is already complete (nothing is kept). The
    /// registrant removes the entry with [`unwatch`](Self::unwatch) when
    /// it stops waiting, so no waker outlives the wait.
    pub(crate) fn watch(&self, waker: &Waker, key: &mut Option<u64>) -> bool {
        let mut state = self.lock();
        let State::Pending {
            wakers, next_key, ..
        } = &mut *state
        else {
            return false;
        };
        match key.and_then(|k| wakers.iter_mut().find(|(key, _)| *key == k)) {
            Some((_, current)) => {
                if !current.will_wake(waker) {
                    current.clone_from(waker);
                }
            }
            None => {
                *next_key += 1;
                wakers.push((*next_key, waker.clone()));
                *key = Some(*next_key);
            }
        }
        true
    }

    /// How many wakers wait for the object (0 once it is complete).
    pub(crate) fn waiters(&self) -> usize {
        match &*self.lock() {
            State::Pending { wakers, .. } => wakers.len(),
            _ => 0,
        }
    }

    /// Removes the waker registered under `key`, if the object is still
    /// pending.
    pub(crate) fn unwatch(&self, key: u64) {
        let removed = match &mut *self.lock() {
            State::Pending { wakers, .. } => wakers
                .iter()
                .position(|(k, _)| *k == key)
                .map(|i| wakers.swap_remove(i)),
            _ => None,
        };
        drop(removed);
    }

    /// Blocks until complete or `deadline`; `None` on timeout. Spins
    /// briefly first: a task finishing within microseconds costs no sleep.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Option<Result<Stored>> {
        spin_until(|| self.complete.load(Ordering::Acquire));
        let mut state = self.lock();
        loop {
            if let Some(outcome) = state.outcome() {
                drop(state);
                self.touch();
                return Some(outcome);
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return None;
            }
            if let State::Pending { sleepers, .. } = &mut *state {
                *sleepers += 1;
            }
            state = wait_until(&self.ready, state, deadline);
            if let State::Pending { sleepers, .. } = &mut *state {
                *sleepers -= 1;
            }
        }
    }

    /// The in-memory value, pinned (a second holder), when spilling may
    /// take it: nobody is reading it and its `Serialize` never failed. A
    /// value found unencodable leaves the resident table for good.
    pub(crate) fn spill_candidate(&self) -> Option<Value> {
        let state = self.lock();
        match &*state {
            State::Ready(value) if value.holders() == 1 => {
                if value.is_spillable() {
                    Some(value.clone())
                } else {
                    self.leave_resident();
                    None
                }
            }
            _ => None,
        }
    }

    /// Moves the value to disk as `file`, unless a reader pinned `value`
    /// meanwhile: `Ok` with the state it replaced (to drop outside any
    /// lock: the value's `Drop` is user code), or the unused file back.
    pub(crate) fn commit_spill(
        &self,
        value: &Value,
        file: SpillFile,
    ) -> std::result::Result<State, SpillFile> {
        let mut state = self.lock();
        match &*state {
            // Ours and the cell's: nobody started reading meanwhile.
            State::Ready(current) if current.same(value) && value.holders() == 2 => {
                let old = std::mem::replace(&mut *state, State::Spilled(Arc::new(file)));
                self.leave_resident();
                drop(state);
                self.store.unaccount(&old);
                Ok(old)
            }
            _ => Err(file),
        }
    }

    /// Reads the spilled value as a `T`, checked. When `T` is the type the
    /// value was stored as and it fits under the memory limit without
    /// spilling anything, the value comes back into memory (a restore):
    /// later reads need no disk.
    pub(crate) fn read_spilled<T: Object>(self: &Arc<Self>, file: &Arc<SpillFile>) -> Result<T> {
        let bytes = file.read()?;
        let store = &self.store;
        let size = file.size();
        if !file.is::<T>() || store.check_open().is_err() || !store.reserve(size) {
            return file.decode(store, &bytes);
        }
        let kept = file
            .decode::<T>(store, &bytes)
            .map(|v| Value::restored(v, size));
        let copy = match &kept {
            Ok(value) if copy::is_plain::<T>() => value.read(store),
            Ok(_) => file.decode(store, &bytes),
            Err(err) => Err(err.clone()),
        };
        match (kept, &copy) {
            (Ok(value), Ok(_)) => self.restore(file, value),
            (kept, _) => {
                store.release(size);
                drop_caught(kept);
            }
        }
        copy
    }

    /// Puts `value` (its memory reserved) in place of `file`, if the object
    /// is still spilled there; else gives the memory back.
    fn restore(self: &Arc<Self>, file: &Arc<SpillFile>, value: Value) {
        let mut state = self.lock();
        match &*state {
            State::Spilled(current) if Arc::ptr_eq(current, file) => {
                let old = std::mem::replace(&mut *state, State::Ready(value));
                self.enter_resident();
                self.referenced.store(true, Ordering::Relaxed);
                drop(state);
                self.store.count_restore();
                drop_caught(old);
            }
            _ => {
                drop(state);
                self.store.release(value.size());
                drop_caught(value);
            }
        }
    }

    /// Where the spilled value is on disk: file, record offset and record
    /// length (header and payload).
    pub(crate) fn spill_location(&self) -> Option<(std::path::PathBuf, u64, u64)> {
        match &*self.lock() {
            State::Spilled(file) => Some(file.location()),
            _ => None,
        }
    }

    /// Shutdown: the object's value goes (memory and disk), and a pending
    /// object completes with `err`.
    pub(crate) fn release(self: &Arc<Self>, err: Error) {
        if self.complete(Err(err.clone())) {
            return;
        }
        let mut state = self.lock();
        let old = std::mem::replace(&mut *state, State::Failed(err));
        self.leave_resident();
        drop(state);
        self.store.unaccount(&old);
        drop_caught(old);
    }
}

impl Drop for ObjectCell {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        self.store.unaccount(state);
        if let State::Ready(value) = state {
            if value.size() >= recycle::MIN_BYTES as u64 {
                if let State::Ready(value) = std::mem::replace(state, State::pending(None)) {
                    if let Some(bytes) = value.into_bytes() {
                        self.store.bytes().give(bytes);
                    }
                }
            }
        }
        if let Some(key) = self.key {
            self.store.untrack(key);
        }
        let resident = *self.resident.get_mut();
        if resident != NOT_RESIDENT {
            self.store.evict(resident);
        }
        if *self.exported.get_mut() {
            self.store.forget(self.id);
        }
        drop_caught(std::mem::replace(state, State::pending(None)));
    }
}
