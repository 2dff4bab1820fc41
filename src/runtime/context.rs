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
//!
//! Below the stack, a thread may have a *fallback*: the runtime of the
//! tokio runtime it belongs to. [`tokio_thread_start`] gives every thread
//! a tokio runtime starts a shared cell, which the first [`init`] on the
//! thread that built the tokio runtime fills: from then on, futures started
//! with a plain `tokio::spawn` see that runtime on whichever worker polls
//! them, without a `Runtime::scope`.
//!
//! [`init`]: crate::init

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

use super::handle::{Runtime, WeakRuntime};
use crate::error::{Error, Result};

/// The runtime the threads of one tokio runtime fall back to.
type Shared = Arc<OnceLock<WeakRuntime>>;

struct Entry {
    key: u64,
    runtime: Runtime,
}

#[derive(Default)]
struct Slot {
    entries: Vec<Entry>,
    next_key: u64,
    /// The runtime of this thread's tokio runtime, once there is one.
    fallback: Option<Shared>,
    /// Cells of tokio runtimes built on this thread whose runtime is not
    /// known yet: the next `init` here fills them.
    unfilled: Vec<Shared>,
}

impl Slot {
    /// The current runtime: the top entry, else the fallback.
    fn current(&self) -> Option<Runtime> {
        match self.entries.last() {
            Some(entry) => Some(entry.runtime.clone()),
            None => self.fallback.as_ref()?.get()?.upgrade(),
        }
    }
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
    SLOT.try_with(|slot| slot.borrow().current())
        .map_err(|_| Error::NotInitialized {
            reason: "the thread-local context is being destroyed (thread exit)",
        })?
        .ok_or(Error::NotInitialized {
            reason: "no runtime is installed on this thread",
        })
}

/// Runs `f` with the current runtime.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Runtime>) -> R) -> R {
    let current = SLOT.try_with(|slot| slot.borrow().current()).ok().flatten();
    f(current.as_ref())
}

/// Whether `runtime` is already the current runtime of this thread.
pub(crate) fn is_current(runtime: &Runtime) -> bool {
    SLOT.try_with(|slot| {
        let slot = slot.borrow();
        match slot.entries.last() {
            Some(entry) => entry.runtime.ptr_eq(runtime),
            None => false,
        }
    })
    .unwrap_or(false)
}

/// The first runtime started on this thread since tokio runtimes were built
/// here with [`tokio_thread_start`]: their threads fall back to it.
pub(crate) fn started(runtime: &Runtime) {
    let unfilled = SLOT
        .try_with(|slot| std::mem::take(&mut slot.borrow_mut().unfilled))
        .unwrap_or_default();
    for cell in unfilled {
        let _ = cell.set(runtime.downgrade());
    }
}

/// A hook for [`tokio::runtime::Builder::on_thread_start`]: every thread of
/// the tokio runtime being built sees, as its current RustyRay runtime when
/// nothing else is installed, the first runtime [`init`](crate::init)
/// starts on *this* thread (the one building the tokio runtime) from now
/// on. So futures started with a plain `tokio::spawn` can call `put`, `get`
/// and remote functions without [`Runtime::scope`].
///
/// ```
/// let tokio = tokio::runtime::Builder::new_multi_thread()
///     .enable_all()
///     .on_thread_start(rustyray::tokio_thread_start()) // the one line
///     .build()
///     .unwrap();
/// tokio.block_on(async {
///     // Inside the tokio runtime: RustyRay runs its async work there.
///     let _rt = rustyray::init(rustyray::Config::default())?;
///     let spawned = tokio::spawn(async { rustyray::put(7u8)?.await });
///     assert_eq!(spawned.await.unwrap()?, 7);
///     Ok::<(), rustyray::Error>(())
/// })?;
/// # Ok::<(), rustyray::Error>(())
/// ```
///
/// `#[rustyray::main]` and `#[rustyray::test]` on an `async fn` build their
/// tokio runtime this way.
pub fn tokio_thread_start() -> impl Fn() + Send + Sync + 'static {
    let shared: Shared = Arc::new(OnceLock::new());
    let _ = SLOT.try_with(|slot| slot.borrow_mut().unfilled.push(Arc::clone(&shared)));
    move || {
        let _ = SLOT.try_with(|slot| slot.borrow_mut().fallback = Some(Arc::clone(&shared)));
    }
}
