//! In-process copies through the serialized form: refs pass as handles.
//!
//! Reading a stored value of a type that is not simply cloned means encoding
//! it and decoding the bytes (see [`copy`](super::copy)). When the value
//! holds `ObjectRef`s or actor handles, both ends of that copy are in this
//! process, on this thread: each ref, as it is encoded, leaves its handle
//! here, and the decoder takes the handles back in the same order. So a
//! value holding 10,000 refs copies with 10,000 reference-count increments,
//! not 10,000 registrations in and lookups from the store's id table, and
//! the bytes are exactly those any other encoder would write.
//!
//! Spilling uses the same two halves apart: encoding for the disk
//! [`collect`]s the handles (the spill file keeps them, which is what keeps
//! nested objects alive while their holder is on disk), and reading the
//! file back decodes [`with_handles`], so a spilled value's refs and actor
//! handles resolve to the very objects they named, exactly as in memory.

use std::any::Any;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;

use crate::error::Result;

/// What a serialized ref or actor handle leaves behind: its cell or its
/// actor's registration, type-erased.
pub(crate) type Handle = Arc<dyn Any + Send + Sync>;

scoped_tls::scoped_thread_local!(static HANDLES: RefCell<VecDeque<Handle>>);
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
    let handles = RefCell::new(VecDeque::new());
    let bytes = HANDLES.set(&handles, encode)?;
    HANDLES.set(&handles, || decode(&bytes))
}

/// Runs `encode`, collecting the handles its refs and actor handles leave,
/// in encoding order.
pub(crate) fn collect(encode: impl FnOnce() -> Result<Vec<u8>>) -> Result<(Vec<u8>, Vec<Handle>)> {
    let handles = RefCell::new(VecDeque::new());
    let bytes = HANDLES.set(&handles, encode)?;
    Ok((bytes, handles.into_inner().into()))
}

/// Runs `decode`, handing the refs and actor handles it decodes `handles`
/// (clones of what [`collect`] gathered), in order.
pub(crate) fn with_handles<R>(handles: &[Handle], decode: impl FnOnce() -> R) -> R {
    let queue = RefCell::new(handles.iter().cloned().collect::<VecDeque<_>>());
    HANDLES.set(&queue, decode)
}

/// While encoding for [`copy_through`] or [`collect`]: leaves `handle` for
/// the decoder; `false` outside such an encoding.
pub(crate) fn leave(handle: impl FnOnce() -> Handle) -> bool {
    if !HANDLES.is_set() {
        return false;
    }
    HANDLES.with(|h| h.borrow_mut().push_back(handle()));
    true
}

/// While decoding for [`copy_through`] or [`with_handles`]: the next handle
/// left by the encoder.
pub(crate) fn take() -> Option<Handle> {
    if !HANDLES.is_set() {
        return None;
    }
    HANDLES.with(|h| h.borrow_mut().pop_front())
}
