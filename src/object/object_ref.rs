//! [`ObjectRef<T>`]: a typed future of one object.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::object::cell::ObjectCell;
use crate::object::hooks::SendGuard;
use crate::object::id::ObjectId;
use crate::object::value::Stored;
use crate::object::{wait, Object};
use crate::sync::{deadline_after, slept, spin_until};

/// A reference to an object in a runtime's store: the result of
/// [`put`](crate::put) or of a task, possibly not computed yet.
///
/// Cheap to clone (one atomic increment); equal and hashed by object id.
/// `get()` blocks for the value, `.await` waits for it asynchronously, and
/// the object lives as long as any ref to it does.
///
/// ```
/// let _rt = rustyray::init(rustyray::Config::default())?;
/// let r = rustyray::put(vec![1u8, 2, 3])?;
/// let copy = r.clone();
/// assert_eq!(r, copy);
/// assert_eq!(copy.get()?, vec![1, 2, 3]);
/// # Ok::<(), rustyray::Error>(())
/// ```
///
/// A ref serializes as its ids and a tag of its type `T` (in postcard: the
/// runtime id and index as varints, then 8 bytes, the 64-bit FNV-1a hash of
/// `ObjectRef<{std::any::type_name::<T>()}>`, little endian). Deserializing
/// binds it to the runtime of the current context, so a ref sent inside an
/// object or a task argument resolves where it lands; decoding it with no
/// runtime in scope, under another runtime than its own, or as an
/// `ObjectRef` of another type than it was encoded as, is a serde error,
/// never another object or another type's bytes. Type names are stable
/// within one build of a program, so refs cross between the processes of
/// one build; a ref encoded by another build is refused.
pub struct ObjectRef<T> {
    pub(crate) cell: Arc<ObjectCell>,
    _type: PhantomData<fn() -> T>,
}

impl<T> ObjectRef<T> {
    pub(crate) fn from_cell(cell: Arc<ObjectCell>) -> Self {
        ObjectRef {
            cell,
            _type: PhantomData,
        }
    }

    /// The object's id.
    pub fn id(&self) -> ObjectId {
        self.cell.id()
    }

    /// How many wakers wait for the object now (tests of cancel-safety).
    #[doc(hidden)]
    pub fn __waiters(&self) -> usize {
        self.cell.waiters()
    }
}

impl<T: Object> ObjectRef<T> {
    /// Blocks until the object is ready and returns a copy of it.
    ///
    /// Refused with [`Error::BlockingInAsync`] on a thread inside an async
    /// runtime (`.await` the ref there). Inside a task, the task's CPUs are
    /// lent back to the scheduler while it waits.
    ///
    /// A sync task (or actor call, in its turn) that has its resources but
    /// no thread yet runs on the calling thread instead of making it wait
    /// for one: a round trip costs no thread hand-over, and a task waiting
    /// behind busy threads does not hold up its caller. So the producing
    /// task may see the caller's thread name.
    /// [`get_timeout`](Self::get_timeout) never runs it (it could not keep
    /// its deadline).
    pub fn get(&self) -> Result<T> {
        self.wait_value(None)
    }

    /// [`get`](Self::get) with a limit: [`Error::Timeout`] when the object is
    /// not ready in time. The task producing it goes on.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T> {
        self.wait_value(Some(timeout))
    }

    pub(crate) fn wait_value(&self, timeout: Option<Duration>) -> Result<T> {
        let stored = self.wait_ready(timeout)?;
        stored.read(&self.cell)
    }

    fn wait_ready(&self, timeout: Option<Duration>) -> Result<Stored> {
        let store = self.cell.store();
        store.check_open()?;
        store.refuse_blocking(if timeout.is_some() {
            "get_timeout"
        } else {
            "get"
        })?;
        if let Some(outcome) = self.cell.try_get() {
            return outcome;
        }
        let deadline = timeout.and_then(deadline_after);
        if timeout.is_none() && self.cell.help() {
            if let Some(outcome) = self.cell.try_get() {
                return outcome;
            }
        }
        wait::block_elsewhere(&[&self.cell], 1, deadline);
        let outcome = {
            let _blocked = store.blocking();
            self.cell.wait(deadline)
        };
        self.cell.store().check_open()?;
        outcome.unwrap_or_else(|| {
            Err(Error::Timeout {
                what: format!("object {}", self.id()),
                timeout: timeout.unwrap_or_default(),
            })
        })
    }
}

impl<T> Clone for ObjectRef<T> {
    fn clone(&self) -> Self {
        ObjectRef::from_cell(Arc::clone(&self.cell))
    }
}

impl<T> fmt::Debug for ObjectRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ObjectRef<{}>({})",
            std::any::type_name::<T>(),
            self.id()
        )
    }
}

impl<T> PartialEq for ObjectRef<T> {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl<T> Eq for ObjectRef<T> {}

impl<T> Hash for ObjectRef<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state);
    }
}

/// The future of [`ObjectRef::into_future`]: the value, once ready.
#[must_use = "futures do nothing unless awaited"]
pub struct ObjectFuture<T> {
    cell: Arc<ObjectCell>,
    /// The key of this future's waker in the cell, while one is there.
    key: Option<u64>,
    /// Inside a task: its CPUs, lent while this future waits.
    lent: Option<SendGuard>,
    /// When it suspended after a spin that caught nothing (see `poll`).
    suspended: Option<Instant>,
    _type: PhantomData<fn() -> T>,
}

impl<T: Object> Future for ObjectFuture<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        let store = this.cell.store();
        store.check_open()?;
        let first = this.key.is_none() && this.suspended.is_none();
        if first && !this.cell.is_complete() && this.cell.producer_at_work() {
            // A sync task another thread runs (an actor's call, most often)
            // may end within microseconds: a short spin, adapted as a
            // blocking wait's is, spares this executor thread a park and a
            // wake-up, which would cost more than the call.
            if !spin_until(|| this.cell.is_complete()) {
                this.suspended = Some(Instant::now());
            }
        }
        match this.cell.poll_get(cx, &mut this.key) {
            Poll::Pending => {
                if this.lent.is_none() {
                    this.lent = this.cell.store().lend();
                }
                Poll::Pending
            }
            Poll::Ready(outcome) => {
                this.lent = None;
                if let Some(since) = this.suspended.take() {
                    slept(since);
                }
                Poll::Ready(outcome.and_then(|stored| stored.read(&this.cell)))
            }
        }
    }
}

impl<T> Drop for ObjectFuture<T> {
    /// A future dropped before it was ready (a `select!` that took another
    /// branch, a timeout) leaves no waker behind in the object.
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.cell.unwatch(key);
        }
    }
}

impl<T> fmt::Debug for ObjectFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ObjectFuture")
            .field(&self.cell.id())
            .finish()
    }
}

impl<T: Object> IntoFuture for ObjectRef<T> {
    type Output = Result<T>;
    type IntoFuture = ObjectFuture<T>;

    /// `r.await`: waits without blocking a thread. (When a worker thread
    /// is running the sync task that produces the value, the first poll
    /// spins for it briefly, at most 50 µs and less on a busy machine,
    /// before it suspends: a call that short costs less than a wake-up.)
    fn into_future(self) -> ObjectFuture<T> {
        ObjectFuture {
            cell: self.cell,
            key: None,
            lent: None,
            suspended: None,
            _type: PhantomData,
        }
    }
}

impl<T: Object> IntoFuture for &ObjectRef<T> {
    type Output = Result<T>;
    type IntoFuture = ObjectFuture<T>;

    /// `(&r).await`: waits without giving up the ref.
    fn into_future(self) -> ObjectFuture<T> {
        self.clone().into_future()
    }
}
