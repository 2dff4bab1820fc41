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
    /// [MessagePack](https://msgpack.org) (feature `ray`): self-describing,
    /// what Python speaks; a struct is an array of its fields, a tuple an
    /// array of its elements. How a Python program calls a Rust function on
    /// Ray (see the README's "Outgrow one machine").
    #[cfg(feature = "ray")]
    MessagePack,
}

impl Codec {
    /// The codec's name, as engines and errors say it.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Postcard => "postcard",
            #[cfg(feature = "ray")]
            Codec::MessagePack => "msgpack",
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
            #[cfg(feature = "ray")]
            Codec::MessagePack => rmp_serde::to_vec(value).map_err(Error::serialization),
        }
    }

    /// Decodes all of `bytes` as a `T`. Refs and actor handles inside it
    /// bind to the runtime in scope.
    pub fn decode<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T> {
        match self {
            Codec::Postcard => crate::object::serde::decode_value(bytes),
            #[cfg(feature = "ray")]
            Codec::MessagePack => decode_msgpack(bytes),
        }
    }
}

/// All of `bytes` as one MessagePack value of type `T`.
#[cfg(feature = "ray")]
fn decode_msgpack<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let mut reader = rmp_serde::Deserializer::new(std::io::Cursor::new(bytes));
    let value = T::deserialize(&mut reader).map_err(Error::serialization)?;
    let read = reader.position();
    if read != bytes.len() as u64 {
        return Err(Error::Serialization(format!(
            "{} bytes left after a MessagePack value of {read} bytes",
            bytes.len() as u64 - read
        )));
    }
    Ok(value)
}

#[cfg(all(test, feature = "ray"))]
mod tests {
    use super::*;

    #[test]
    fn messagepack_round_trips_what_python_sends() {
        // `msgpack.packb([2, "abc", [1.5]])` from Python.
        let from_python = [0x93, 0x02, 0xa3, b'a', b'b', b'c', 0x91, 0xcb];
        let mut bytes = from_python.to_vec();
        bytes.extend(1.5_f64.to_be_bytes());
        let value: (i64, String, Vec<f64>) = Codec::MessagePack.decode(&bytes).unwrap();
        assert_eq!(value, (2, "abc".to_string(), vec![1.5]));
        assert_eq!(Codec::MessagePack.encode(&value).unwrap(), bytes);
        assert_eq!(Codec::MessagePack.name(), "msgpack");
    }

    #[test]
    fn messagepack_refuses_bytes_left_over() {
        let mut bytes = Codec::MessagePack.encode(&7_i64).unwrap();
        bytes.push(0x01);
        match Codec::MessagePack.decode::<i64>(&bytes) {
            Err(Error::Serialization(message)) => {
                assert_eq!(message, "1 bytes left after a MessagePack value of 1 bytes")
            }
            other => panic!("expected a serialization error, got {other:?}"),
        }
    }
}
