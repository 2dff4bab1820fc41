//! The object store: immutable values behind typed refs.
//!
//! # Design
//!
//! An object is an `ObjectCell` (`cell.rs`) shared by every
//! [`ObjectRef<T>`] to it and by the task that produces it. A cell starts
//! *pending* (a task result) or *ready* (a [`put`](crate::put)); it is
//! completed exactly once, with a value or an [`Error`](crate::Error), and
//! never changes after. Readers wait on the cell itself, through its
//! `Completion` (`completion.rs`, the protocol its loom models check):
//! blocking `get`s on its condvar, `.await`s and task dependencies through
//! wakers. No map lookup and no process-wide lock sits on the path from a
//! ref to its value.
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

mod any_ref;
pub(crate) mod cell;
mod codec;
pub(crate) mod completion;
pub(crate) mod copy;
#[cfg(feature = "ray")]
pub(crate) mod crossing;
pub(crate) mod handoff;
pub(crate) mod hooks;
mod id;
mod object_ref;
mod recover;
pub(crate) mod recycle;
mod serde;
pub(crate) mod spill;
pub(crate) mod state;
pub(crate) mod store;
pub(crate) mod timer;
pub(crate) mod value;
pub(crate) mod wait;

pub(crate) use self::serde::TypeTag;
pub use any_ref::AnyRef;
pub use codec::Codec;
pub use id::{ObjectId, RuntimeId};
pub use object_ref::{ObjectFuture, ObjectRef};
pub use store::MemoryStats;
pub use wait::{get_all_async, wait_async, ReadyPending};

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
