//! In-process copies through the serialized form: refs pass as handles.
//!
//! Reading a stored value of a type that is not simply cloned means encoding
//! it and decoding the bytes (see [`copy`](super::copy)). When the value
//! holds `ObjectRef`s or actor handles, both ends of that copy are in this
//! process, on this thread: each ref, as it is encoded, leaves its handle
//! here, and the decoder takes the handles back in the same order. So a
//! value holding 10,000 refs copies with a few reference-count operations
//! per ref, not 10,000 registrations in and lookups from the store's id
//! table, and the bytes are exactly those any other encoder would write.
//! The handles stay with the copy until it ends, so that the decoder can
//! read the bytes a second time (to recover an error's message) and find
//! them again.
//!
//! Spilling uses the same two halves apart: encoding for the disk
//! [`collect`]s the handles (the spill file keeps them, which is what keeps
//! nested objects alive while their holder is on disk), and reading the
//! file back decodes [`with_handles`], so a spilled value's refs and actor
//! handles resolve to the very objects they named, exactly as in memory.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

use crate::error::Result;

/// What a serialized ref or actor handle leaves behind: its cell or its
/// actor's registration, type-erased.
pub(crate) type Handle = Arc<dyn Any + Send + Sync>;

/// A ref's cell handed to a decoder for bytes another process encoded (a
/// value that crossed from a Ray worker or to one): the bytes name the
/// object by the other side's id, so the decoder takes the cell without
/// comparing ids.
#[cfg(feature = "ray")]
pub(crate) struct Foreign(pub(crate) Arc<crate::object::cell::ObjectCell>);

/// The handles of one copy, in encoding order, and the next to hand out.
/// They stay until the copy ends, so that a second reading of the same
/// bytes (see [`rewind`]) finds them again.
#[derive(Default)]
struct Handles {
    left: RefCell<Vec<Handle>>,
    next: Cell<usize>,
}

scoped_tls::scoped_thread_local!(static HANDLES: Handles);
scoped_tls::scoped_thread_local!(static MEASURING: ());

/// Runs `f`, an encoding whose bytes are only counted: refs inside need
/// not be findable by id afterwards.
pub(crate) fn measuring<R>(f: impl FnOnce() -> R) -> R {
    MEASURING.set(&(), f)
}

/// Whether the current encoding is only measured (see [`measuring`]).
pub(crate) fn is_measuring() -> bool {
    MEASURING.is_set()
}

/// Copies a value by `encode` then `decode`, passing handles along.
pub(crate) fn copy_through<T>(
    encode: impl FnOnce() -> Result<Vec<u8>>,
    decode: impl FnOnce(&[u8]) -> Result<T>,
) -> Result<T> {
    let handles = Handles::default();
    let bytes = HANDLES.set(&handles, encode)?;
    HANDLES.set(&handles, || decode(&bytes))
}

/// Runs `encode`, collecting the handles its refs and actor handles leave,
/// in encoding order.
pub(crate) fn collect(encode: impl FnOnce() -> Result<Vec<u8>>) -> Result<(Vec<u8>, Vec<Handle>)> {
    let handles = Handles::default();
    let bytes = HANDLES.set(&handles, encode)?;
    Ok((bytes, handles.left.into_inner()))
}

/// Runs `decode`, handing the refs and actor handles it decodes `handles`
/// (clones of what [`collect`] gathered), in order.
pub(crate) fn with_handles<R>(handles: &[Handle], decode: impl FnOnce() -> R) -> R {
    let handles = Handles {
        left: RefCell::new(handles.to_vec()),
        next: Cell::new(0),
    };
    HANDLES.set(&handles, decode)
}

/// While encoding for [`copy_through`] or [`collect`]: leaves `handle` for
/// the decoder; `false` outside such an encoding.
pub(crate) fn leave(handle: impl FnOnce() -> Handle) -> bool {
    if !HANDLES.is_set() {
        return false;
    }
    HANDLES.with(|h| h.left.borrow_mut().push(handle()));
    true
}

/// What a decoded ref or handle gets from [`take`].
pub(crate) enum Handoff {
    /// Not decoding for [`copy_through`] or [`with_handles`]: look the id
    /// up.
    NotCopying,
    /// The next handle left by the encoder.
    Handle(Handle),
    /// Every handle was taken: the encoder wrote no ref or handle here.
    Exhausted,
}

/// While decoding for [`copy_through`] or [`with_handles`]: the next handle
/// left by the encoder.
pub(crate) fn take() -> Handoff {
    if !HANDLES.is_set() {
        return Handoff::NotCopying;
    }
    HANDLES.with(|h| {
        let next = h.next.get();
        match h.left.borrow().get(next) {
            Some(handle) => {
                h.next.set(next + 1);
                Handoff::Handle(handle.clone())
            }
            None => Handoff::Exhausted,
        }
    })
}

/// Hands the copy's handles out again from the first, for a second reading
/// of the same bytes; nothing outside a copy.
pub(crate) fn rewind() {
    if HANDLES.is_set() {
        HANDLES.with(|h| h.next.set(0));
    }
}
