//! [`Value`]: one stored object, type-erased, and [`Stored`]: where a
//! complete object's value is.

use std::any::{type_name, Any, TypeId};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::object::cell::ObjectCell;
use crate::object::codec::Codec;
use crate::object::spill::SpillFile;
use crate::object::store::Store;
use crate::object::{copy, handoff, recycle, Object};
use crate::sync::catch;

/// A value as the store holds it: moved in, never serialized on the way,
/// behind one shared allocation that also knows how to encode it once its
/// type is forgotten. Cloning the handle is how a reader pins the value
/// while it copies it out.
#[derive(Clone)]
pub(crate) struct Value(Arc<dyn Erased>);

trait Erased: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn encode(&self) -> Result<Vec<u8>>;
    fn size(&self) -> u64;
    fn is_plain(&self) -> bool;
    fn type_name(&self) -> &'static str;
    fn unencodable(&self) -> &AtomicBool;
}

struct Typed<T> {
    size: u64,
    /// Set once the value's `Serialize` failed or panicked: spilling skips
    /// it from then on (it stays in memory).
    unencodable: AtomicBool,
    value: T,
}

impl<T: Object> Erased for Typed<T> {
    fn as_any(&self) -> &dyn Any {
        &self.value
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        &mut self.value
    }

    /// The postcard encoding; the user's `Serialize` runs inside `catch`,
    /// so a panic there is this value's error and nobody else's.
    fn encode(&self) -> Result<Vec<u8>> {
        let encoded = catch(|| Codec::Postcard.encode(&self.value));
        let reason = match encoded {
            Ok(Ok(bytes)) => return Ok(bytes),
            Ok(Err(Error::Serialization(reason))) => reason,
            Ok(Err(err)) => err.to_string(),
            Err(panic) => format!("its `Serialize` {panic}"),
        };
        self.unencodable.store(true, Ordering::Relaxed);
        Err(Error::Serialization(format!(
            "a `{}` could not be serialized: {reason}",
            type_name::<T>()
        )))
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn is_plain(&self) -> bool {
        copy::is_plain::<T>()
    }

    fn type_name(&self) -> &'static str {
        type_name::<T>()
    }

    fn unencodable(&self) -> &AtomicBool {
        &self.unencodable
    }
}

impl Value {
    /// Takes `value` in. Its size is measured by encoding it into a counter
    /// (inside `catch`): a value whose `Serialize` fails or panics counts
    /// as 0 bytes and is never spilled.
    pub(crate) fn new<T: Object>(value: T) -> Value {
        let size = catch(|| copy::serialized_size(&value)).ok().flatten();
        Value(Arc::new(Typed {
            size: size.unwrap_or(0),
            unencodable: AtomicBool::new(size.is_none()),
            value,
        }))
    }

    /// A value read back from disk, whose size is known.
    pub(crate) fn restored<T: Object>(value: T, size: u64) -> Value {
        Value(Arc::new(Typed {
            size,
            unencodable: AtomicBool::new(false),
            value,
        }))
    }

    /// Bytes of the value's serialized form.
    pub(crate) fn size(&self) -> u64 {
        self.0.size()
    }

    /// Whether the value is a std type that holds no refs.
    pub(crate) fn is_plain(&self) -> bool {
        self.0.is_plain()
    }

    /// Whether spilling may take it: its `Serialize` never failed.
    pub(crate) fn is_spillable(&self) -> bool {
        !self.0.unencodable().load(Ordering::Relaxed)
    }

    /// The type the value was stored as.
    pub(crate) fn type_id(&self) -> TypeId {
        self.0.as_any().type_id()
    }

    /// How many handles to the value exist (1: only its cell's).
    pub(crate) fn holders(&self) -> usize {
        Arc::strong_count(&self.0)
    }

    /// The buffer of a large `Vec<u8>` value nobody else holds, for reuse.
    pub(crate) fn into_bytes(mut self) -> Option<Vec<u8>> {
        let bytes = Arc::get_mut(&mut self.0)?
            .as_any_mut()
            .downcast_mut::<Vec<u8>>()?;
        (bytes.capacity() >= recycle::MIN_BYTES).then(|| std::mem::take(bytes))
    }

    pub(crate) fn same(&self, other: &Value) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// An owned copy as `T`: a clone for common std types, else through
    /// the serialized form (decoded in the scope of `store`'s runtime, so
    /// refs inside bind there). When the value was stored as another type
    /// (a ref whose type tag was forged, or two types with one name) the
    /// copy is a [`Error::Serialization`] naming both types unless every
    /// byte of the stored value's encoding decodes as a `T`.
    pub(crate) fn read<T: Object>(&self, store: &Store) -> Result<T> {
        if let Some(value) = self.0.as_any().downcast_ref::<T>() {
            if let Some(bytes) = (value as &dyn Any).downcast_ref::<Vec<u8>>() {
                let mut copy = Some(store.bytes().copy(bytes));
                if let Some(copy) = (&mut copy as &mut dyn Any).downcast_mut::<Option<T>>() {
                    if let Some(copy) = copy.take() {
                        return Ok(copy);
                    }
                }
            }
            if let Some(copy) = copy::clone_known(value) {
                return Ok(copy);
            }
        }
        handoff::copy_through(|| self.encode(), |bytes| store.decode(bytes))
            .map_err(|e| self.mismatch::<T>(e))
    }

    fn mismatch<T: 'static>(&self, err: Error) -> Error {
        if self.0.as_any().is::<T>() {
            return err;
        }
        let reason = match err {
            Error::Serialization(reason) => reason,
            other => other.to_string(),
        };
        Error::Serialization(format!(
            "object holds a `{}`, which does not decode as `{}`: {reason}",
            self.0.type_name(),
            type_name::<T>()
        ))
    }

    /// The value's serialized form. A failure (or a panic of the value's
    /// `Serialize`) is an error, and marks the value unspillable.
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        self.0.encode()
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value<{}>({} bytes)", self.0.type_name(), self.size())
    }
}

/// A complete object's value, wherever it is.
pub(crate) enum Stored {
    Memory(Value),
    Disk(Arc<SpillFile>),
}

impl Stored {
    /// An owned copy as `T` of `cell`'s value (see [`Value::read`]); from
    /// disk, checked and decoded, and brought back into memory when there
    /// is room (see [`ObjectCell::read_spilled`]).
    pub(crate) fn read<T: Object>(&self, cell: &Arc<ObjectCell>) -> Result<T> {
        match self {
            Stored::Memory(value) => value.read(cell.store()),
            Stored::Disk(file) => cell.read_spilled(file),
        }
    }
}
