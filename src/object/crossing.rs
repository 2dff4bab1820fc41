//! Values that cross to another engine (a Ray cluster, feature `ray`).
//!
//! A value crosses as two things apart: its encoded bytes, and the objects
//! its refs name, in encoding order ([`Crossed`]). Encoding collects the
//! refs' cells instead of exporting them (see `handoff::collect`); the
//! engine then maps each to what the other side knows (Ray's own ref, so
//! that Ray's borrower protocol keeps the object alive while the value
//! holds it). Decoding on the other side hands the bytes' refs the cells
//! made there, in the same order (`handoff::Foreign`): the ids inside the
//! bytes are never looked up, so a ref crosses any number of processes.
//!
//! Between a Ray worker and the program it runs in worker mode the objects
//! travel by value instead: [`export`] turns a complete object into its
//! bytes and, recursively, those of the objects it names; [`import`] makes
//! cells of them on the other side.
//!
//! An actor handle or a placement group handle inside a value does not
//! cross (yet): while a value is encoded to cross, their `Serialize` asks
//! [`refuses`] and fails, and the encoding becomes an error naming what
//! could not cross, at the call that tried, instead of a decoding error in
//! a Ray worker later.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::object::cell::ObjectCell;
use crate::object::handoff::{self, Foreign, Handle};
use crate::object::store::Store;
use crate::object::value::{Stored, Value};
use crate::object::Codec;

thread_local! {
    /// `Some` while a value is encoded to cross: what inside refused, if
    /// anything did.
    static CROSSING: Cell<Option<Option<&'static str>>> = const { Cell::new(None) };
}

/// Restores the outer state, also when a `Serialize` panics.
struct Restore(Option<Option<&'static str>>);

impl Drop for Restore {
    fn drop(&mut self) {
        CROSSING.set(self.0);
    }
}

/// A value encoded to cross: its bytes and the cells of the refs inside,
/// in encoding order.
pub(crate) struct Crossed {
    pub(crate) bytes: Vec<u8>,
    pub(crate) refs: Vec<Arc<ObjectCell>>,
}

/// Encodes `value` (for `call`) with postcard to cross to another engine
/// (see [`encode_with`]).
pub(crate) fn encode<T: Serialize + 'static>(call: &'static str, value: &T) -> Result<Crossed> {
    encode_with(call, Codec::Postcard, value)
}

/// Encodes `value` (for `call`) with `codec` to cross to another engine:
/// an actor handle (or a placement group handle) inside it is
/// [`Error::InvalidArgument`] naming it.
pub(crate) fn encode_with<T: Serialize + 'static>(
    call: &'static str,
    codec: Codec,
    value: &T,
) -> Result<Crossed> {
    collect(call, || codec.encode(value))
}

/// Runs `encode` as an encoding that crosses, collecting the refs inside.
fn collect(call: &'static str, encode: impl FnOnce() -> Result<Vec<u8>>) -> Result<Crossed> {
    let _restore = Restore(CROSSING.replace(Some(None)));
    let collected = handoff::collect(encode);
    if let Some(what) = CROSSING.get().flatten() {
        return Err(Error::InvalidArgument {
            call,
            reason: format!(
                "{what} inside a value does not cross to Ray yet: pass it to the task as an \
                 argument of its own, or use it where it was made"
            ),
        });
    }
    let (bytes, handles) = collected?;
    let refs = handles.iter().map(cell_of).collect::<Result<_>>()?;
    Ok(Crossed { bytes, refs })
}

/// The cell a collected handle holds (refs leave their cells; a value that
/// crossed before leaves them wrapped).
fn cell_of(handle: &Handle) -> Result<Arc<ObjectCell>> {
    if let Some(foreign) = handle.downcast_ref::<Foreign>() {
        return Ok(Arc::clone(&foreign.0));
    }
    Arc::clone(handle)
        .downcast::<ObjectCell>()
        .map_err(|_| Error::serialization("a value left a handle that is not a ref's to cross"))
}

/// Whether the value being encoded is crossing to another engine, where
/// `what` (an actor handle, a placement group handle) cannot go: the
/// `Serialize` asking must fail then.
pub(crate) fn refuses(what: &'static str) -> bool {
    match CROSSING.get() {
        Some(None) => {
            CROSSING.set(Some(Some(what)));
            true
        }
        Some(Some(_)) => true,
        None => false,
    }
}

/// Set in a program serving a Ray worker: the results of its calls by name
/// cross back (see [`outputs`]).
static RESULTS_CROSS: AtomicBool = AtomicBool::new(false);

/// From now on, the results of calls by name in this process cross to a
/// Ray worker (this process serves one).
pub(crate) fn results_cross() {
    RESULTS_CROSS.store(true, Ordering::Release);
}

scoped_tls::scoped_thread_local!(static OUTPUTS: RefCell<Vec<Vec<Arc<ObjectCell>>>>);

/// Runs `encode`, which encodes a call's outputs one by one with
/// [`encode_output`]; where results cross (a program serving a Ray
/// worker), also the cells of the refs inside each output, in order.
pub(crate) fn outputs<R>(encode: impl FnOnce() -> R) -> (R, Vec<Vec<Arc<ObjectCell>>>) {
    if !RESULTS_CROSS.load(Ordering::Acquire) {
        return (encode(), Vec::new());
    }
    let refs = RefCell::default();
    let encoded = OUTPUTS.set(&refs, encode);
    (encoded, refs.into_inner())
}

/// Encodes one output of a call by name with `codec`; inside [`outputs`]
/// where results cross, collecting the refs inside it.
pub(crate) fn encode_output<T: Serialize + 'static>(codec: Codec, value: &T) -> Result<Vec<u8>> {
    if !OUTPUTS.is_set() {
        return codec.encode(value);
    }
    let (encoded, refs) = match encode_with("a result", codec, value) {
        Ok(Crossed { bytes, refs }) => (Ok(bytes), refs),
        Err(err) => (Err(err), Vec::new()),
    };
    OUTPUTS.with(|outputs| outputs.borrow_mut().push(refs));
    encoded
}

/// A complete object as it crosses by value: its bytes, and the objects
/// its refs name, each the same way (or the error it is), in order.
pub(crate) struct Exported {
    pub(crate) bytes: Vec<u8>,
    pub(crate) refs: Vec<Result<Exported>>,
}

/// The object of `cell` as it crosses by value, once it (and each object
/// it names) is complete: it waits for them.
pub(crate) fn export(cell: &Arc<ObjectCell>) -> Result<Exported> {
    let stored = cell.wait(None).unwrap_or_else(|| {
        Err(Error::ObjectLost {
            object: cell.id().to_string(),
            reason: "its wait ended without it".into(),
        })
    })?;
    let Stored::Memory(value) = stored else {
        return Err(Error::ObjectLost {
            object: cell.id().to_string(),
            reason: "it is spilled to disk, and a spilled object does not cross to Ray yet".into(),
        });
    };
    let Crossed { bytes, refs } = match value.as_encoded() {
        Some((bytes, refs)) => Crossed {
            bytes: bytes.to_vec(),
            refs: refs.to_vec(),
        },
        None => collect("a ref inside a result", || value.encode())?,
    };
    Ok(Exported {
        bytes,
        refs: refs.iter().map(export).collect(),
    })
}

/// A call's encoded result (see `task::returns::Encoded`) as it crosses
/// by value, once complete, when refs are inside it; `None` when it is
/// plain bytes (or failed: read it as a `Vec<u8>`).
pub(crate) fn export_result(cell: &Arc<ObjectCell>) -> Option<Result<Exported>> {
    match cell.wait(None)? {
        Ok(Stored::Memory(value)) if value.as_encoded().is_some() => Some(export(cell)),
        _ => None,
    }
}

/// A complete cell of `store` holding `exported` (or failed with its
/// error), the objects it names made the same way.
pub(crate) fn import(store: &Arc<Store>, exported: Result<Exported>) -> Arc<ObjectCell> {
    match exported {
        Ok(Exported { bytes, refs }) => {
            let refs = refs.into_iter().map(|r| import(store, r)).collect();
            store
                .put(Value::encoded_with(bytes, refs))
                .unwrap_or_else(|err| store.failed(err))
        }
        Err(err) => store.failed(err),
    }
}

/// Runs `decode`, handing the refs inside the bytes it decodes (encoded on
/// the other side) `cells`, in order.
pub(crate) fn decoding_with<R>(cells: &[Arc<ObjectCell>], decode: impl FnOnce() -> R) -> R {
    let handles: Vec<Handle> = cells
        .iter()
        .map(|cell| Arc::new(Foreign(Arc::clone(cell))) as Handle)
        .collect();
    handoff::with_handles(&handles, decode)
}
