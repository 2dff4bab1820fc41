//! [`Value`]: one stored object, type-erased.

use std::any::{type_name, Any};
use std::fmt;

use crate::error::{Error, Result};
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

    /// An owned copy as `T`. When the value was stored as another type (a
    /// ref decoded with a different `T`), the copy goes through the
    /// serialized form and fails cleanly if the two do not match.
    pub(crate) fn read<T: Object>(&self) -> Result<T> {
        match self.data.downcast_ref::<T>() {
            Some(value) => copy::copy_out(value),
            None => {
                let bytes = (self.encode)(&*self.data)?;
                postcard::from_bytes(&bytes).map_err(|e| {
                    Error::serialization(format!(
                        "object holds a `{}`, which does not decode as `{}`: {e}",
                        self.type_name,
                        type_name::<T>()
                    ))
                })
            }
        }
    }

    /// The value's serialized form.
    #[allow(dead_code)]
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        (self.encode)(&*self.data)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value<{}>({} bytes)", self.type_name, self.size)
    }
}
