//! Serde for [`ObjectRef`]: ids and a type tag out, the scoped runtime's
//! object in; and how the store decodes a value it holds.
//!
//! A ref is encoded as its [`ObjectId`] (runtime id + index, as varints in
//! postcard) followed by the [`TypeTag`] of its `T` (8 bytes), and the cell
//! is exported into its store's id table, so the ref can be found again
//! while the object lives. Decoding first checks the tag against the `T`
//! being decoded, then reads the runtime installed in the current context
//! (see `hooks::current_store`) and looks the id up in *that* runtime's store:
//! a ref decoded inside a task binds to the runtime running the task.
//!
//! In an in-process copy and in a spill (see `handoff`) the cell itself
//! travels beside the bytes, and the decoder takes it back instead of
//! looking the id up: no export, and nothing to resolve against. A value
//! that crossed to or from a Ray worker (see `crossing`) is decoded the
//! same way, its refs' cells made on this side (`handoff::Foreign`: the
//! ids in the bytes are the other side's).
//!
//! Failures are `de::Error::custom` messages. Postcard drops those, so
//! [`decode_value`] recovers them by reading the same bytes again with
//! [`recover`](super::recover), whose error keeps them.

use std::any::type_name;
use std::fmt;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::object::cell::ObjectCell;
use crate::object::handoff::{self, Handoff};
use crate::object::hooks::current_store;
use crate::object::id::ObjectId;
use crate::object::{recover, ObjectRef};

/// The type identity a ref or an actor handle carries on the wire: the
/// 64-bit FNV-1a hash of `ObjectRef<{type_name::<T>()}>` (a ref) or
/// `ActorRef<{type_name::<A>()}>` (a handle), written as 8 bytes, little
/// endian.
///
/// [`std::any::type_name`] is stable within one build of a program, which
/// is what crosses the processes of one program: a ref or handle decoded as
/// another type than it was encoded as, or encoded by another build, is
/// refused instead of reading another type's bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TypeTag(u64);

impl TypeTag {
    /// The tag of `kind<T>` (`kind` is `"ObjectRef"` or `"ActorRef"`).
    pub(crate) fn of<T: ?Sized>(kind: &str) -> TypeTag {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let parts = [kind.as_bytes(), b"<", type_name::<T>().as_bytes(), b">"];
        let hash = parts
            .iter()
            .flat_map(|part| part.iter())
            .fold(OFFSET, |hash, &byte| {
                (hash ^ u64::from(byte)).wrapping_mul(PRIME)
            });
        TypeTag(hash)
    }
}

impl fmt::Debug for TypeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TypeTag({:016x})", self.0)
    }
}

impl Serialize for TypeTag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.to_le_bytes().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TypeTag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <[u8; 8]>::deserialize(deserializer).map(|bytes| TypeTag(u64::from_le_bytes(bytes)))
    }
}

/// A ref on the wire.
#[derive(Serialize, Deserialize)]
#[serde(rename = "ObjectRef")]
struct Wire {
    id: ObjectId,
    type_tag: TypeTag,
}

/// What a ref's [`TypeTag`] names its type in.
const KIND: &str = "ObjectRef";

impl<T> Serialize for ObjectRef<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !handoff::is_measuring() && !handoff::leave(|| self.cell.clone()) {
            self.cell.export();
        }
        Wire {
            id: self.id(),
            type_tag: TypeTag::of::<T>(KIND),
        }
        .serialize(serializer)
    }
}

impl<'de, T> Deserialize<'de> for ObjectRef<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Wire { id, type_tag } = Wire::deserialize(deserializer)?;
        if type_tag != TypeTag::of::<T>(KIND) {
            return Err(D::Error::custom(format_args!(
                "cannot decode ObjectRef {id} as an `ObjectRef<{}>`: it was encoded as a ref to \
                 another type (or by another build of the program)",
                type_name::<T>()
            )));
        }
        match handoff::take() {
            Handoff::Handle(handle) => {
                #[cfg(feature = "ray")]
                if let Some(foreign) = handle.downcast_ref::<handoff::Foreign>() {
                    return Ok(ObjectRef::from_cell(foreign.0.clone()));
                }
                return match handle.downcast::<ObjectCell>() {
                    Ok(cell) if cell.id() == id => Ok(ObjectRef::from_cell(cell)),
                    _ => Err(D::Error::custom(format_args!(
                        "cannot decode ObjectRef {id}: the value's refs changed while it was \
                         copied"
                    ))),
                };
            }
            Handoff::Exhausted => {
                return Err(D::Error::custom(format_args!(
                    "cannot decode ObjectRef {id}: the copied value held no ref there"
                )));
            }
            Handoff::NotCopying => {}
        }
        let cell = match current_store() {
            None => Err(format!(
                "cannot decode ObjectRef {id}: no RustyRay runtime in scope (decode inside \
                 `Runtime::enter`, `Runtime::scope` or a task)"
            )),
            Some(store) if store.runtime_id() != id.runtime() => Err(format!(
                "cannot decode ObjectRef {id}: it belongs to runtime {}, but runtime {} ({}) is \
                 in scope",
                id.runtime(),
                store.runtime_id(),
                store.runtime_name()
            )),
            Some(store) => store.lookup(id).map_err(|e| e.to_string()),
        }
        .map_err(D::Error::custom)?;
        Ok(ObjectRef::from_cell(cell))
    }
}

/// Decodes a stored value's serialized form as a `T`, all of it.
///
/// Bytes left over mean the value was encoded as another type (postcard
/// ignores them): that is a [`Error::Serialization`], never a value read
/// from a prefix. A failed `Deserialize` (the user's own, or a ref's or a
/// handle's) reports its message: postcard drops it, so the same bytes are
/// read again by [`recover`], which keeps it. The refs of an in-process
/// copy are handed out again for that second reading.
pub(crate) fn decode_value<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(Error::Serialization(format!(
            "a `{}` decodes from {} of the {} bytes: they were not encoded as one",
            type_name::<T>(),
            bytes.len() - rest.len(),
            bytes.len()
        ))),
        Err(err @ postcard::Error::SerdeDeCustom) => {
            handoff::rewind();
            Err(Error::Serialization(
                recover::custom_message::<T>(bytes).unwrap_or_else(|| err.to_string()),
            ))
        }
        Err(err) => Err(Error::serialization(err)),
    }
}
