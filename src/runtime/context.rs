//! The context slot: which runtime is current on this thread.
//!
//! Each thread has one slot, a small stack of installed runtimes. Installing
//! ([`init`](crate::init), [`Runtime::enter`], every poll of a
//! [`Runtime::scope`]d future) pushes an entry tagged with a fresh key and
//! returns a `!Send` guard that owns the key; dropping the guard removes *its*
//! entry. The current runtime is the top entry.
//!
//! Removing by key rather than popping keeps the slot consistent whatever
//! order guards are dropped in: guards dropped last-in-first-out restore the
//! previous runtime exactly, and a guard dropped out of order removes only
//! its own entry (reported through `tracing`) without disturbing the others.
//! Nothing here takes a lock or panics: reading the slot while the thread is
//! being torn down yields [`Error::NotInitialized`] with a reason.

use std::cell::RefCell;
use std::marker::PhantomData;

use super::handle::Runtime;
use crate::error::{Error, Result};

struct Entry {
    key: u64,
    runtime: Runtime,
}

#[derive(Default)]
struct Slot {
    entries: Vec<Entry>,
    next_key: u64,
}

thread_local! {
    static SLOT: RefCell<Slot> = RefCell::new(Slot::default());
}

/// Proof that an entry is installed in this thread's slot; removes it on drop.
///
/// `!Send` (the raw-pointer marker), so it is dropped on the thread whose slot
/// holds the entry.
#[must_use]
pub(crate) struct SlotGuard {
    key: Option<u64>,
    _not_send: PhantomData<*const ()>,
}

/// Pushes `runtime` as the current runtime of this thread.
pub(crate) fn install(runtime: Runtime) -> SlotGuard {
    let key = SLOT
        .try_with(|slot| {
            let mut slot = slot.borrow_mut();
            slot.next_key += 1;
            let key = slot.next_key;
            slot.entries.push(Entry { key, runtime });
            key
        })
        .ok();
    SlotGuard {
        key,
        _not_send: PhantomData,
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        // The removed entry is dropped after the borrow ends: dropping a
        // runtime handle may run arbitrary drops that read the slot again.
        let removed = SLOT.try_with(|slot| {
            let mut slot = slot.borrow_mut();
            let pos = slot.entries.iter().rposition(|e| e.key == key)?;
            let in_order = pos + 1 == slot.entries.len();
            Some((slot.entries.remove(pos), in_order))
        });
        if let Ok(Some((entry, false))) = &removed {
            tracing::warn!(
                runtime = entry.runtime.name(),
                "runtime guard dropped out of order; removed its entry and kept the newer ones installed"
            );
        }
        drop(removed);
    }
}

/// The current runtime of this thread.
pub(crate) fn current() -> Result<Runtime> {
    SLOT.try_with(|slot| slot.borrow().entries.last().map(|e| e.runtime.clone()))
        .map_err(|_| Error::NotInitialized {
            reason: "the thread-local context is being destroyed (thread exit)",
        })?
        .ok_or(Error::NotInitialized {
            reason: "no runtime is installed on this thread",
        })
}

/// Runs `f` with the current runtime without cloning its handle.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Runtime>) -> R) -> R {
    let mut f = Some(f);
    let out = SLOT.try_with(|slot| {
        let slot = slot.borrow();
        (f.take().expect("called once"))(slot.entries.last().map(|e| &e.runtime))
    });
    match out {
        Ok(r) => r,
        Err(_) => (f.take().expect("not called when the slot is gone"))(None),
    }
}

/// Whether `runtime` is already the current runtime of this thread.
pub(crate) fn is_current(runtime: &Runtime) -> bool {
    with_current(|rt| rt.is_some_and(|rt| rt.ptr_eq(runtime)))
}
