//! [`Codec`]: how a value is written where it crosses a boundary.
//!
//! Values move inside a process without being encoded (see the module docs
//! of [`object`](crate::object)). Where one leaves it (a spill file, a
//! ref inside a value, a call by name from another process) it is encoded
//! by a codec. The set of codecs is closed and small, an enum rather than a
//! trait: an engine names the one its peers speak as a value (the local
//! engine and spilling use [`Codec::Postcard`]; the cluster engine adds the
//! one Ray's workers exchange), and the functions the registry keeps stay
//! plain function pointers that take the codec as an argument.
//!
//! Decoding is strict whatever the codec: the bytes must be one whole value
//! of the type asked for, and a failing `Deserialize` keeps its message
//! (for postcard, which drops it, through a second reading: see
//! `recover.rs`).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::object::copy;

/// An encoding for values that cross a boundary.
///
/// ```
/// use rustyray::Codec;
///
/// let _rt = rustyray::init(rustyray::Config::default())?;
/// let bytes = Codec::Postcard.encode(&(7_i64, "seven".to_string()))?;
/// let back: (i64, String) = Codec::Postcard.decode(&bytes)?;
/// assert_eq!(back, (7, "seven".to_string()));
/// // Bytes of another type are an error, never a value read from a prefix.
/// assert!(Codec::Postcard.decode::<i64>(&bytes).is_err());
/// # Ok::<(), rustyray::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// [postcard](https://docs.rs/postcard): compact, not self-describing;
    /// the store's own format (spilling, refs inside values).
    #[default]
    Postcard,
}

impl Codec {
    /// The codec's name, as engines and errors say it.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Postcard => "postcard",
        }
    }

    /// Encodes `value`. A `Serialize` that fails is an
    /// [`Error::Serialization`]; one that panics is not caught here.
    pub fn encode<T: Serialize + 'static>(self, value: &T) -> Result<Vec<u8>> {
        match self {
            Codec::Postcard => match copy::encode_bytes(value) {
                Some(bytes) => Ok(bytes),
                None => postcard::to_allocvec(value).map_err(Error::serialization),
            },
        }
    }

    /// Decodes all of `bytes` as a `T`. Refs and actor handles inside it
    /// bind to the runtime in scope.
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T> {
        match self {
            Codec::Postcard => crate::object::serde::decode_value(bytes),
        }
    }
}
