//! The object store: immutable values behind typed refs.
//!
//! # Design
//!
//! An object is an `ObjectCell` (`cell.rs`) shared by every
//! [`ObjectRef<T>`] to it and by the task that produces it. A cell starts
//! *pending* (a task result) or *ready* (a [`put`]); it is completed exactly
//! once, with a value or an [`Error`](crate::Error), and never changes after.
//! Readers wait on the cell itself: blocking `get`s on its condvar, `.await`s
//! and task dependencies through wakers. No map lookup and no process-wide
//! lock sits on the path from a ref to its value.
//!
//! Values are moved into the store, not serialized: a `put` costs an
//! allocation, and reading hands back a copy (a clone for common std types,
//! a postcard round trip for the rest; see the `copy` module). Serialization is for
//! what crosses a boundary: a ref inside a value, spilling, and later other
//! processes. That is why [`Object`] requires `Serialize +
//! DeserializeOwned`: every program stays ready for a store that crosses
//! processes.
//!
//! Each runtime has its own `Store` (`store.rs`): object ids, byte accounts
//! ([`MemoryStats`]), the memory limit, and the table that lets a decoded
//! ref find its cell.
//!
//! # Lifetime, memory and spilling
//!
//! An object is freed when the last holder of its cell lets go: every
//! `ObjectRef` clone, a ref inside another stored value, a pending task's
//! argument, a running task. `Config::object_store_memory` is a hard limit
//! on bytes in memory, counted in serialized bytes; a value that would pass
//! it first spills objects nobody has read lately and nobody is reading
//! (a CLOCK sweep, in batches down to a low-water mark, small objects
//! packed into shared files: see `store.rs` and `spill.rs`), and goes to
//! disk itself when it is larger than the limit. Reads of a spilled object
//! decode it from its file, checked, and bring it back into memory when it
//! fits there again. User code that runs while the store moves a value (its
//! `Serialize`, its `Drop`) runs inside `catch`: a panic or an error there
//! is that object's own, never another caller's.
//!
//! # Lifetime and shutdown
//!
//! A cell lives while any ref, task or stored value holds it. When a runtime
//! shuts down its store closes: `put` and `get` return
//! [`Error::ShutDown`](crate::Error::ShutDown), and every pending cell is
//! completed, so no wait outlives the runtime.

pub(crate) mod cell;
pub(crate) mod copy;
pub(crate) mod handoff;
mod id;
mod object_ref;
mod recover;
pub(crate) mod recycle;
mod serde;
pub(crate) mod spill;
pub(crate) mod store;
pub(crate) mod value;

use std::time::Duration;

pub(crate) use self::serde::{decode_value, TypeTag};
pub use id::ObjectId;
pub use object_ref::{ObjectFuture, ObjectRef};
pub use store::MemoryStats;

use crate::error::Result;
use crate::runtime::global;

/// What can be stored, passed to a task or returned from one.
///
/// Implemented for every `Serialize + DeserializeOwned + Send + Sync +
/// 'static` type; there is nothing to implement by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a RustyRay object (a put value, task argument or result)",
    label = "not an Object",
    note = "objects must be `Serialize + DeserializeOwned + Send + Sync + 'static`: add \
            `#[derive(serde::Serialize, serde::Deserialize)]` to the type"
)]
pub trait Object:
    ::serde::Serialize + ::serde::de::DeserializeOwned + Send + Sync + 'static
{
}

impl<T> Object for T where
    T: ::serde::Serialize + ::serde::de::DeserializeOwned + Send + Sync + 'static
{
}

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
