//! [`ObjectCell`]: the slot one object lives in, and everything that waits on it.
//!
//! The waiting protocol (completing once, blocking and async waiters, the
//! producer a cancel reaches) is a [`Completion`] of the object's
//! [`State`]; the cell adds what the store needs: ids, byte accounts and
//! spilling.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::object::completion::{Completion, Slot, Waiters};
use crate::object::id::ObjectId;
use crate::object::recycle;
use crate::object::spill::SpillFile;
use crate::object::store::{drop_caught, Store};
use crate::object::value::{Stored, Value};
use crate::object::{copy, Object};

pub(crate) use crate::object::completion::Producer;
use crate::object::state::ObjectLocation;

/// `resident` of a cell that is not in the store's resident table.
const NOT_RESIDENT: usize = usize::MAX;

/// A complete object.
///
/// With an explicit tag: left to the compiler, the tag would hide in a
/// niche of [`Error`] and every read would decode it (measurably, on `get`).
#[repr(u8)]
pub(crate) enum State {
    /// In memory. A reader clones the handle while it copies: a value with
    /// more than one holder is in use and is never spilled.
    Ready(Value),
    Spilled(Arc<SpillFile>),
    Failed(Error),
}

impl State {
    fn outcome(&self) -> Result<Stored> {
        match self {
            State::Ready(value) => Ok(Stored::Memory(value.clone())),
            State::Spilled(file) => Ok(Stored::Disk(Arc::clone(file))),
            State::Failed(err) => Err(err.clone()),
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
    /// under the completion's lock.
    resident: AtomicUsize,
    /// The object's state once complete, and its waiters until then.
    state: Completion<State>,
    /// The producer's allocation, kept until this cell is freed: a task's
    /// memory then goes back to the allocator on the thread that frees its
    /// results (usually the one that allocated it, the caller's), not on
    /// the worker that ran it. Cross-thread frees are what makes a
    /// general-purpose allocator take its locks: this doubles the pipelined
    /// task rate under glibc's. (The task's contents are dropped when it
    /// ends; only its block is kept, and only when it is small: see
    /// `Task::start`.)
    _producer_block: Option<Weak<dyn Producer>>,
    /// Set on every read, cleared by the spilling sweep as it passes: the
    /// CLOCK approximation of "recently read". Written only when it
    /// changes, and only on this cell's own cache line.
    referenced: AtomicBool,
    /// Whether the store's id table knows this cell (a ref to it was serialized).
    exported: AtomicBool,
    /// Set (under the completion's lock, before it is seen complete) when
    /// it completed with an error.
    failed: AtomicBool,
}

impl ObjectCell {
    /// A cell whose completion `state` builds (in place, inside the cell).
    fn new(
        store: &Arc<Store>,
        id: ObjectId,
        state: impl FnOnce() -> Completion<State>,
        producer_block: Option<Weak<dyn Producer>>,
        tracked: bool,
        resident: bool,
        failed: bool,
    ) -> Arc<ObjectCell> {
        Arc::new_cyclic(|weak| ObjectCell {
            _producer_block: producer_block,
            id,
            store: Arc::clone(store),
            key: tracked.then(|| store.track(id, weak.clone())),
            resident: AtomicUsize::new(if resident {
                store.make_resident(id, weak.clone())
            } else {
                NOT_RESIDENT
            }),
            state: state(),
            referenced: AtomicBool::new(false),
            exported: AtomicBool::new(false),
            failed: AtomicBool::new(failed),
        })
    }

    /// A cell complete with `state` from the start.
    fn complete_with(store: &Arc<Store>, id: ObjectId, state: State) -> Arc<ObjectCell> {
        let (tracked, resident) = match &state {
            State::Ready(value) => {
                let tracked = !value.is_plain() || value.size() >= Store::TRACK_MIN;
                (tracked, tracked && value.is_spillable())
            }
            State::Failed(_) | State::Spilled(_) => (true, false),
        };
        let failed = matches!(state, State::Failed(_));
        let state = move || Completion::completed(state);
        Self::new(store, id, state, None, tracked, resident, failed)
    }

    pub(crate) fn failed(store: &Arc<Store>, id: ObjectId, err: Error) -> Arc<ObjectCell> {
        Self::complete_with(store, id, State::Failed(err))
    }

    /// A new object that `producer` will complete.
    pub(crate) fn pending(
        store: &Arc<Store>,
        id: ObjectId,
        producer: Weak<dyn Producer>,
        keep_block: bool,
    ) -> Arc<ObjectCell> {
        let block = keep_block.then(|| producer.clone());
        let state = move || Completion::pending(Some(producer));
        Self::new(store, id, state, block, true, false, false)
    }

    /// A new object holding `value` (in memory, or spilled when there is no
    /// room).
    pub(crate) fn ready(store: &Arc<Store>, id: ObjectId, value: Value) -> Result<Arc<ObjectCell>> {
        let state = store.admit(id, value)?;
        Ok(Self::complete_with(store, id, state))
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

    /// The producer to cancel, while the object is still pending.
    pub(crate) fn producer(&self) -> Option<Arc<dyn Producer>> {
        self.state.producer()
    }

    /// Whether the pending value's producer is at work on another thread
    /// (see [`Producer::at_work`]).
    pub(crate) fn producer_at_work(&self) -> bool {
        self.producer().is_some_and(|producer| producer.at_work())
    }

    /// Runs the producer on this thread, which is about to block until the
    /// object is complete, if it has not started (see [`Producer::help`]).
    pub(crate) fn help(&self) -> bool {
        self.producer().is_some_and(Producer::help)
    }

    /// Completes the object; the first completion wins. A value that finds
    /// no room in memory or on disk completes it with `StoreFull`.
    pub(crate) fn complete(self: &Arc<Self>, result: Result<Value>) -> bool {
        if self.state.is_complete() {
            return false;
        }
        let new_state = match result.and_then(|value| self.store.admit(self.id, value)) {
            Ok(state) => state,
            Err(err) => State::Failed(err),
        };
        // Under the completion's lock, before anyone sees the object
        // complete: its place among the spill candidates and its error
        // flag.
        let settled = self.state.complete(new_state, |state| {
            if matches!(state, State::Ready(value) if value.is_spillable()) {
                self.enter_resident();
            }
            if matches!(state, State::Failed(_)) {
                self.failed.store(true, Ordering::Relaxed);
                self.store.note_failure();
            }
        });
        match settled {
            Ok(()) => true,
            Err(lost) => {
                self.store.unaccount(&lost);
                drop_caught(lost);
                false
            }
        }
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

    /// Joins the store's resident table (completion lock held).
    fn enter_resident(self: &Arc<Self>) {
        if self.key.is_some() && self.resident.load(Ordering::Relaxed) == NOT_RESIDENT {
            let key = self.store.make_resident(self.id, Arc::downgrade(self));
            self.resident.store(key, Ordering::Relaxed);
        }
    }

    /// Leaves the store's resident table (completion lock held).
    fn leave_resident(&self) {
        let key = self.resident.swap(NOT_RESIDENT, Ordering::Relaxed);
        if key != NOT_RESIDENT {
            self.store.evict(key);
        }
    }

    /// The outcome, if the object is complete.
    pub(crate) fn try_get(&self) -> Option<Result<Stored>> {
        if !self.state.is_complete() {
            return None; // no lock for a pending object
        }
        // One flat match (not `State::outcome` mapped): the hot path of
        // `get`, and measurably cheaper so.
        let outcome = self.state.read(|state| match state {
            Some(State::Ready(value)) => Some(Ok(Stored::Memory(value.clone()))),
            Some(State::Spilled(file)) => Some(Ok(Stored::Disk(Arc::clone(file)))),
            Some(State::Failed(err)) => Some(Err(err.clone())),
            None => None,
        });
        self.touch();
        outcome
    }

    /// The size of the value and where it is, once complete with one (for
    /// `list_objects`).
    pub(crate) fn stored(&self) -> Option<(u64, ObjectLocation)> {
        self.state.read(|state| match state {
            Some(State::Ready(value)) => Some((value.size(), ObjectLocation::Memory)),
            Some(State::Spilled(file)) => Some((file.size(), ObjectLocation::Disk)),
            Some(State::Failed(_)) | None => None,
        })
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.state.is_complete()
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
        let outcome = self.state.poll(cx.waker(), key, State::outcome);
        if outcome.is_ready() {
            self.touch();
        }
        outcome
    }

    /// Registers `waker` to be woken on completion, for good (a task's
    /// dependency); `false` when the object is already complete (the
    /// waker is not kept).
    pub(crate) fn on_complete(&self, waker: &Waker) -> bool {
        self.watch(waker, &mut None)
    }

    /// Registers `waker` to be woken on completion, under `key` (see
    /// [`Completion::watch`]); `false` when the object is already complete.
    /// The registrant removes the entry with [`unwatch`](Self::unwatch)
    /// when it stops waiting, so no waker outlives the wait.
    pub(crate) fn watch(&self, waker: &Waker, key: &mut Option<u64>) -> bool {
        self.state.watch(waker, key)
    }

    /// How many wakers wait for the object (0 once it is complete).
    pub(crate) fn waiters(&self) -> usize {
        self.state.waiters()
    }

    /// Removes the waker registered under `key`, if the object is still
    /// pending.
    pub(crate) fn unwatch(&self, key: u64) {
        self.state.unwatch(key);
    }

    /// Blocks until complete or `deadline`; `None` on timeout. Spins
    /// briefly first: a task finishing within microseconds costs no sleep.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Option<Result<Stored>> {
        let outcome = self.state.wait(deadline, State::outcome);
        if outcome.is_some() {
            self.touch();
        }
        outcome
    }

    /// The in-memory value, pinned (a second holder), when spilling may
    /// take it: nobody is reading it and its `Serialize` never failed. A
    /// value found unencodable leaves the resident table for good.
    pub(crate) fn spill_candidate(&self) -> Option<Value> {
        self.state.read(|state| match state {
            Some(State::Ready(value)) if value.holders() == 1 => {
                if value.is_spillable() {
                    Some(value.clone())
                } else {
                    self.leave_resident();
                    None
                }
            }
            _ => None,
        })
    }

    /// Moves the value to disk as `file`, unless a reader pinned `value`
    /// meanwhile: `Ok` with the state it replaced (to drop outside any
    /// lock: the value's `Drop` is user code), or the unused file back.
    pub(crate) fn commit_spill(
        &self,
        value: &Value,
        file: SpillFile,
    ) -> std::result::Result<State, SpillFile> {
        let old = self.state.update(|state| match state {
            // Ours and the cell's: nobody started reading meanwhile.
            Some(state)
                if matches!(&*state, State::Ready(current)
                    if current.same(value) && value.holders() == 2) =>
            {
                let old = std::mem::replace(state, State::Spilled(Arc::new(file)));
                self.leave_resident();
                Ok(old)
            }
            _ => Err(file),
        })?;
        self.store.unaccount(&old);
        Ok(old)
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
        let restored = self.state.update(|state| match state {
            Some(state) if matches!(&*state, State::Spilled(current) if Arc::ptr_eq(current, file)) => {
                let old = std::mem::replace(state, State::Ready(value));
                self.enter_resident();
                self.referenced.store(true, Ordering::Relaxed);
                Ok(old)
            }
            _ => Err(value),
        });
        match restored {
            Ok(old) => {
                self.store.count_restore();
                drop_caught(old);
            }
            Err(value) => {
                self.store.release(value.size());
                drop_caught(value);
            }
        }
    }

    /// Where the spilled value is on disk: file, record offset and record
    /// length (header and payload).
    pub(crate) fn spill_location(&self) -> Option<(std::path::PathBuf, u64, u64)> {
        self.state.read(|state| match state {
            Some(State::Spilled(file)) => Some(file.location()),
            _ => None,
        })
    }

    /// Shutdown: the object's value goes (memory and disk), and a pending
    /// object completes with `err`.
    pub(crate) fn release(self: &Arc<Self>, err: Error) {
        if self.complete(Err(err.clone())) {
            return;
        }
        let old = self.state.update(|state| {
            let old = state.map(|state| std::mem::replace(state, State::Failed(err)));
            self.leave_resident();
            old
        });
        if let Some(old) = old {
            self.store.unaccount(&old);
            drop_caught(old);
        }
    }
}

impl Drop for ObjectCell {
    fn drop(&mut self) {
        let mut slot = self.state.take();
        if let Slot::Complete(state) = &slot {
            self.store.unaccount(state);
            // A large buffer goes back to the store's pool for the next value.
            if matches!(state, State::Ready(value) if value.size() >= recycle::MIN_BYTES as u64) {
                if let Slot::Complete(State::Ready(value)) =
                    std::mem::replace(&mut slot, Slot::Pending(Waiters::default()))
                {
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
        drop_caught(slot);
    }
}
