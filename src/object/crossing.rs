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
//! Between a Ray worker and the program it runs in worker mode an object
//! travels by value unless the trampoline holds it: [`export`] turns a
//! complete object into its bytes and, recursively, what it names (the
//! engine maps what it keeps by reference: see `backend::ray::link`).
//!
//! An actor handle crosses the same way when its actor lives elsewhere (a
//! Ray actor): it leaves what its engine maps (`actor::handle::
//! ForeignActor`). A local actor's handle or a placement group handle does
//! not cross: while a value is encoded to cross, their `Serialize` asks
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
use crate::object::value::Stored;
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

/// A value encoded to cross: its bytes and what the refs (and actor
/// handles) inside name, in encoding order: a ref's cell as
/// [`Foreign`], a handle as its actor layer left it.
pub(crate) struct Crossed {
    pub(crate) bytes: Vec<u8>,
    pub(crate) inside: Vec<Handle>,
}

/// Encodes `value` (for `call`) with postcard to cross to another engine
/// (see [`encode_with`]).
pub(crate) fn encode<T: Serialize + 'static>(call: &'static str, value: &T) -> Result<Crossed> {
    encode_with(call, Codec::Postcard, value)
}

/// Encodes `value` (for `call`) with `codec` to cross to another engine:
/// what inside refuses to cross (an actor handle of a local actor, a
/// placement group handle) is [`Error::InvalidArgument`] naming it.
pub(crate) fn encode_with<T: Serialize + 'static>(
    call: &'static str,
    codec: Codec,
    value: &T,
) -> Result<Crossed> {
    collect(call, || codec.encode(value))
}

/// Runs `encode` as an encoding that crosses, collecting what is inside.
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
    let inside = handles
        .into_iter()
        .map(
            |handle| match Arc::clone(&handle).downcast::<ObjectCell>() {
                Ok(cell) => Arc::new(Foreign(cell)) as Handle,
                Err(_) => handle,
            },
        )
        .collect();
    Ok(Crossed { bytes, inside })
}

/// The cell of a ref's handle (see [`Crossed`]); `None` for an actor's.
pub(crate) fn cell_of(handle: &Handle) -> Option<&Arc<ObjectCell>> {
    handle.downcast_ref::<Foreign>().map(|foreign| &foreign.0)
}

/// A ref's handle for the cell `cell` (see [`Crossed`]).
pub(crate) fn handle_of(cell: Arc<ObjectCell>) -> Handle {
    Arc::new(Foreign(cell))
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

/// Whether a value is being encoded to cross (a handle that can cross
/// leaves itself then: see [`Crossed`]).
pub(crate) fn is_crossing() -> bool {
    CROSSING.get().is_some()
}

/// Set in a program serving a Ray worker: the results of its calls by name
/// cross back (see [`outputs`]).
static RESULTS_CROSS: AtomicBool = AtomicBool::new(false);

/// From now on, the results of calls by name in this process cross to a
/// Ray worker (this process serves one).
pub(crate) fn results_cross() {
    RESULTS_CROSS.store(true, Ordering::Release);
}

scoped_tls::scoped_thread_local!(static OUTPUTS: RefCell<Vec<Vec<Handle>>>);

/// Runs `encode`, which encodes a call's outputs one by one with
/// [`encode_output`]; where results cross (a program serving a Ray
/// worker), also what is inside each output, in order.
pub(crate) fn outputs<R>(encode: impl FnOnce() -> R) -> (R, Vec<Vec<Handle>>) {
    if !RESULTS_CROSS.load(Ordering::Acquire) {
        return (encode(), Vec::new());
    }
    let inside = RefCell::default();
    let encoded = OUTPUTS.set(&inside, encode);
    (encoded, inside.into_inner())
}

/// Encodes one output of a call by name with `codec`; inside [`outputs`]
/// where results cross, collecting what is inside it.
pub(crate) fn encode_output<T: Serialize + 'static>(codec: Codec, value: &T) -> Result<Vec<u8>> {
    if !OUTPUTS.is_set() {
        return codec.encode(value);
    }
    let (encoded, inside) = match encode_with("a result", codec, value) {
        Ok(Crossed { bytes, inside }) => (Ok(bytes), inside),
        Err(err) => (Err(err), Vec::new()),
    };
    OUTPUTS.with(|outputs| outputs.borrow_mut().push(inside));
    encoded
}

/// A complete object as it crosses by value: its bytes, and what the refs
/// and handles inside name, in order.
pub(crate) struct Exported {
    pub(crate) bytes: Vec<u8>,
    pub(crate) inside: Vec<Inside>,
}

/// What a ref or a handle inside an [`Exported`] object names.
pub(crate) enum Inside {
    /// An object, by value (or the error it is).
    Object(Result<Exported>),
    /// What the engine maps itself: an object it keeps by reference (see
    /// [`export`]'s `keep`), or an actor.
    Kept(Handle),
}

/// The object of `cell` as it crosses by value, once it (and each object
/// it names) is complete: it waits for them. The objects `keep` says are
/// kept by reference instead (and not waited for), as are actors.
pub(crate) fn export(
    cell: &Arc<ObjectCell>,
    keep: &dyn Fn(&ObjectCell) -> bool,
) -> Result<Exported> {
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
    let Crossed { bytes, inside } = match value.as_encoded() {
        Some((bytes, inside)) => Crossed {
            bytes: bytes.to_vec(),
            inside: inside.to_vec(),
        },
        None => collect("a ref inside a result", || value.encode())?,
    };
    Ok(Exported {
        bytes,
        inside: exported_inside(inside, keep),
    })
}

/// What is inside a value that crosses by value: each object `keep` does
/// not keep by reference exported (see [`export`]).
pub(crate) fn exported_inside(
    inside: Vec<Handle>,
    keep: &dyn Fn(&ObjectCell) -> bool,
) -> Vec<Inside> {
    inside
        .into_iter()
        .map(|handle| match cell_of(&handle) {
            Some(cell) if !keep(cell) => Inside::Object(export(cell, keep)),
            _ => Inside::Kept(handle),
        })
        .collect()
}

/// A call's encoded result (see `task::returns::Encoded`) as it crosses
/// by value, once complete, when refs are inside it; `None` when it is
/// plain bytes (or failed: read it as a `Vec<u8>`).
pub(crate) fn export_result(
    cell: &Arc<ObjectCell>,
    keep: &dyn Fn(&ObjectCell) -> bool,
) -> Option<Result<Exported>> {
    // The call may not have started: run it on this thread then (as a
    // `get` would), rather than wait for a worker to take it.
    if !cell.is_complete() {
        cell.help();
    }
    match cell.wait(None)? {
        Ok(Stored::Memory(value)) if value.as_encoded().is_some() => Some(export(cell, keep)),
        _ => None,
    }
}
