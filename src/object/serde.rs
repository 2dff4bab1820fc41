//! Serde for [`ObjectRef`]: ids out, the scoped runtime's object in.
//!
//! A ref is encoded as its [`ObjectId`] (runtime id + index) and the cell is
//! exported into its store's id table, so the ref can be found again while
//! the object lives. Decoding reads the runtime installed in the current
//! context (see [`crate::runtime`]) and looks the id up in *that* runtime's
//! store: a ref decoded inside a task binds to the runtime running the task.
//!
//! In an in-process copy and in a spill (see `handoff`) the cell itself
//! travels beside the bytes, and the decoder takes it back instead of
//! looking the id up: no export, and nothing to resolve against.

use crate::error::Error;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::object::cell::ObjectCell;
use crate::object::id::ObjectId;
use crate::object::{handoff, ObjectRef};
use crate::runtime::context;

impl<T> Serialize for ObjectRef<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !handoff::is_measuring() && !handoff::leave(|| self.cell.clone()) {
            self.cell.export();
        }
        self.id().serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for ObjectRef<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = ObjectId::deserialize(deserializer)?;
        if let Some(handle) = handoff::take() {
            return match handle.downcast::<ObjectCell>() {
                Ok(cell) if cell.id() == id => Ok(ObjectRef::from_cell(cell)),
                _ => Err(decode_failure(format!(
                    "cannot decode ObjectRef {id}: the value's refs changed while it was copied"
                ))),
            };
        }
        let cell = context::with_current(|runtime| match runtime {
            None => Err(format!(
                "cannot decode ObjectRef {id}: no RustyRay runtime in scope (decode inside \
                 `Runtime::enter`, `Runtime::scope` or a task)"
            )),
            Some(rt) if rt.id() != id.runtime() => Err(format!(
                "cannot decode ObjectRef {id}: it belongs to runtime {}, but runtime {} ({}) is \
                 in scope",
                id.runtime(),
                rt.id(),
                rt.name()
            )),
            Some(rt) => rt.store().lookup(id).map_err(|e| e.to_string()),
        })
        .map_err(decode_failure)?;
        Ok(ObjectRef::from_cell(cell))
    }
}

thread_local! {
    /// Why the last ref on this thread failed to decode. Some formats
    /// (postcard among them) drop a custom error's message; RustyRay's own
    /// decoding puts it back into [`Error::Serialization`].
    static LAST_FAILURE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A decode error that also remembers its message for [`decode_error`].
pub(crate) fn decode_failure<E: serde::de::Error>(reason: String) -> E {
    let error = E::custom(&reason);
    let _ = LAST_FAILURE.try_with(|last| *last.borrow_mut() = Some(reason));
    error
}

/// Converts a postcard decoding error, restoring the message of a failed
/// ref or handle.
pub(crate) fn decode_error(err: postcard::Error) -> Error {
    let reason = LAST_FAILURE
        .try_with(|last| last.borrow_mut().take())
        .ok()
        .flatten();
    match (err, reason) {
        (postcard::Error::SerdeDeCustom, Some(reason)) => Error::Serialization(reason),
        (err, _) => Error::serialization(err),
    }
}
