//! [`Value`]: one stored object, type-erased.

use std::any::{type_name, Any};
use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::object::spill::SpillFile;
use crate::object::store::Store;
use crate::object::{copy, Object};

/// A value as the store holds it: moved in, never serialized on the way,
/// with the functions that encode or copy it once its type is forgotten.
pub(crate) struct Value {
    data: Box<dyn Any + Send + Sync>,
    encode: fn(&(dyn Any + Send + Sync)) -> Result<Vec<u8>>,
    type_name: &'static str,
    size: u64,
}

fn encode<T: Object>(data: &(dyn Any + Send + Sync)) -> Result<Vec<u8>> {
    let value = data
        .downcast_ref::<T>()
        .ok_or_else(|| Error::serialization("stored value has an unexpected type"))?;
    Ok(postcard::to_allocvec(value)?)
}

impl Value {
    pub(crate) fn new<T: Object>(value: T) -> Value {
        let size = copy::serialized_size(&value);
        Value {
            data: Box::new(value),
            encode: encode::<T>,
            type_name: type_name::<T>(),
            size,
        }
    }

    /// Bytes of the value's serialized form.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// An owned copy as `T`: a clone for common std types, else through
    /// the serialized form (decoded in the scope of `store`'s runtime, so
    /// refs inside bind there). When the value was stored as another type
    /// (a ref decoded with a different `T`) the copy fails cleanly if the
    /// two encodings do not match.
    pub(crate) fn read<T: Object>(&self, store: &Store) -> Result<T> {
        if let Some(value) = self.data.downcast_ref::<T>() {
            if let Some(copy) = copy::clone_known(value) {
                return Ok(copy);
            }
        }
        let bytes = self.encode()?;
        store.decode(&bytes).map_err(|e| self.mismatch::<T>(e))
    }

    fn mismatch<T: 'static>(&self, err: Error) -> Error {
        if self.data.is::<T>() {
            return err;
        }
        Error::serialization(format!(
            "object holds a `{}`, which does not decode as `{}`: {err}",
            self.type_name,
            type_name::<T>()
        ))
    }

    /// The value's serialized form.
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        (self.encode)(&*self.data)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value<{}>({} bytes)", self.type_name, self.size)
    }
}

/// A complete object's value, wherever it is.
pub(crate) enum Stored {
    Memory(Arc<Value>),
    Disk(Arc<SpillFile>),
}

impl Stored {
    /// An owned copy as `T` (see [`Value::read`]); from disk, checked and
    /// decoded.
    pub(crate) fn read<T: Object>(&self, store: &Store) -> Result<T> {
        match self {
            Stored::Memory(value) => value.read(store),
            Stored::Disk(file) => store.decode(&file.read()?),
        }
    }
}
