//! [`ObjectCell`]: the slot one object lives in, and everything that waits on it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::object::id::ObjectId;
use crate::object::store::Store;
use crate::object::value::Value;

/// What produces a pending object: the task a `cancel` reaches through its
/// ref.
pub(crate) trait Producer: Send + Sync {
    /// Asks the producer to stop; the outcome arrives in the cell.
    fn cancel(&self);
}

pub(crate) enum State {
    /// Not yet produced. `sleepers` counts threads blocked on the condvar.
    Pending {
        wakers: Vec<Waker>,
        sleepers: u32,
        producer: Option<Weak<dyn Producer>>,
    },
    Ready(Arc<Value>),
    Failed(Error),
}

/// One object: pending until its producer completes it, then immutable.
///
/// Shared by every [`ObjectRef`](crate::ObjectRef) to it (and by the task
/// producing it); freed when the last holder drops it, which returns its
/// bytes to the store's account.
pub(crate) struct ObjectCell {
    id: ObjectId,
    store: Arc<Store>,
    state: Mutex<State>,
    ready: Condvar,
    /// Whether the store's id table knows this cell (a ref to it was serialized).
    exported: AtomicBool,
}

impl ObjectCell {
    pub(crate) fn pending(store: Arc<Store>, id: ObjectId) -> Arc<ObjectCell> {
        Arc::new(ObjectCell {
            id,
            store,
            state: Mutex::new(State::Pending {
                wakers: Vec::new(),
                sleepers: 0,
                producer: None,
            }),
            ready: Condvar::new(),
            exported: AtomicBool::new(false),
        })
    }

    pub(crate) fn ready(store: Arc<Store>, id: ObjectId, value: Value) -> Arc<ObjectCell> {
        store.account_add(value.size());
        Arc::new(ObjectCell {
            id,
            store,
            state: Mutex::new(State::Ready(Arc::new(value))),
            ready: Condvar::new(),
            exported: AtomicBool::new(false),
        })
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
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records who produces this object, for `cancel`.
    pub(crate) fn set_producer(&self, producer: Weak<dyn Producer>) {
        if let State::Pending { producer: p, .. } = &mut *self.lock() {
            *p = Some(producer);
        }
    }

    /// The producer to cancel, while the object is still pending.
    pub(crate) fn producer(&self) -> Option<Arc<dyn Producer>> {
        match &*self.lock() {
            State::Pending { producer, .. } => producer.as_ref().and_then(Weak::upgrade),
            _ => None,
        }
    }

    /// Completes the object; the first completion wins. Returns whether this
    /// call completed it.
    pub(crate) fn complete(&self, result: Result<Value>) -> bool {
        let new_state = match result {
            Ok(value) => {
                self.store.account_add(value.size());
                State::Ready(Arc::new(value))
            }
            Err(err) => State::Failed(err),
        };
        let mut state = self.lock();
        if !matches!(*state, State::Pending { .. }) {
            drop(state);
            if let State::Ready(value) = new_state {
                self.store.account_sub(value.size());
            }
            return false;
        }
        let State::Pending {
            wakers, sleepers, ..
        } = std::mem::replace(&mut *state, new_state)
        else {
            unreachable!("checked above")
        };
        drop(state);
        if sleepers > 0 {
            self.ready.notify_all();
        }
        for waker in wakers {
            waker.wake();
        }
        true
    }

    fn outcome(state: &State) -> Option<Result<Arc<Value>>> {
        match state {
            State::Pending { .. } => None,
            State::Ready(value) => Some(Ok(Arc::clone(value))),
            State::Failed(err) => Some(Err(err.clone())),
        }
    }

    /// The outcome, if the object is complete.
    pub(crate) fn try_get(&self) -> Option<Result<Arc<Value>>> {
        Self::outcome(&self.lock())
    }

    pub(crate) fn is_complete(&self) -> bool {
        !matches!(*self.lock(), State::Pending { .. })
    }

    /// Async wait: the outcome, or registers `cx`'s waker.
    pub(crate) fn poll_get(&self, cx: &mut Context<'_>) -> Poll<Result<Arc<Value>>> {
        let mut state = self.lock();
        if let State::Pending { wakers, .. } = &mut *state {
            if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
                wakers.push(cx.waker().clone());
            }
            return Poll::Pending;
        }
        Poll::Ready(Self::outcome(&state).expect("not pending"))
    }

    /// Registers `waker` to be woken on completion; `false` when the object
    /// is already complete (the waker is not kept).
    pub(crate) fn on_complete(&self, waker: &Waker) -> bool {
        match &mut *self.lock() {
            State::Pending { wakers, .. } => {
                wakers.push(waker.clone());
                true
            }
            _ => false,
        }
    }

    /// Blocks until complete or `deadline`; `None` on timeout.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Option<Result<Arc<Value>>> {
        let mut state = self.lock();
        loop {
            if let Some(outcome) = Self::outcome(&state) {
                return Some(outcome);
            }
            let timeout = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => return None,
                },
            };
            if let State::Pending { sleepers, .. } = &mut *state {
                *sleepers += 1;
            }
            state = match timeout {
                None => self
                    .ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(t) => {
                    self.ready
                        .wait_timeout(state, t)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
            if let State::Pending { sleepers, .. } = &mut *state {
                *sleepers -= 1;
            }
        }
    }
}

impl Drop for ObjectCell {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let State::Ready(value) = state {
            self.store.account_sub(value.size());
        }
        if *self.exported.get_mut() {
            self.store.forget(self.id);
        }
    }
}
