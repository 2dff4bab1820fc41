//! A second reader of postcard's format, whose error keeps messages.
//!
//! Postcard turns every `de::Error::custom` into `SerdeDeCustom`, dropping
//! its message: a user's "bad temperature", a ref's "belongs to another
//! runtime", serde's own "invalid value: integer `7`, expected variant index
//! 0 <= i < 3". When a decode fails that way, [`custom_message`] reads the
//! same bytes again with [`Reader`], a `Deserializer` of the same format
//! (postcard 1's wire format, which is stable) whose error type is
//! [`Why`]: the `Deserialize` impls see it directly, at every depth, so
//! the message that failed postcard's reading is the one this reading
//! fails with.
//!
//! (Wrapping postcard's own deserializer, as `erased-serde` does, cannot
//! do this: a nested value's error crosses postcard's error type on its way
//! up and loses its message there.)
//!
//! It runs only after postcard has failed, so it is not on any fast path.
//! A `Deserialize` impl with side effects sees them twice on such a
//! failure.

use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

/// The message of the `de::Error::custom` that `T`'s `Deserialize` fails
/// with on `bytes`; `None` if it fails otherwise or not at all (then the
/// two readers disagree, and postcard's verdict stands).
pub(crate) fn custom_message<T: DeserializeOwned>(bytes: &[u8]) -> Option<String> {
    match T::deserialize(&mut Reader { input: bytes }) {
        Err(Why::Custom(message)) => Some(message),
        Err(Why::Format(_)) | Ok(_) => None,
    }
}

/// Why [`Reader`] failed.
#[derive(Debug)]
enum Why {
    /// A `Deserialize` impl's message.
    Custom(String),
    /// The bytes are not postcard (postcard reports these itself).
    Format(&'static str),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Custom(message) => f.write_str(message),
            Why::Format(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for Why {}

impl de::Error for Why {
    fn custom<M: fmt::Display>(message: M) -> Self {
        Why::Custom(message.to_string())
    }
}

type Read<T> = Result<T, Why>;

/// Reads postcard's format from a byte slice: varints for integers wider
/// than a byte (zigzag for signed ones), little-endian floats,
/// length-prefixed strings, bytes, sequences and maps, fields in order,
/// enum variants as varint indices. It mirrors postcard 1's deserializer
/// decision for decision.
struct Reader<'de> {
    input: &'de [u8],
}

impl<'de> Reader<'de> {
    fn byte(&mut self) -> Read<u8> {
        let (&first, rest) = self
            .input
            .split_first()
            .ok_or(Why::Format("unexpected end of input"))?;
        self.input = rest;
        Ok(first)
    }

    fn bytes(&mut self, n: usize) -> Read<&'de [u8]> {
        if n > self.input.len() {
            return Err(Why::Format("unexpected end of input"));
        }
        let (taken, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Read<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// A varint of an unsigned integer of `bits` bits: at most
    /// `ceil(bits / 7)` bytes, the last one holding only the bits left.
    fn varint(&mut self, bits: u32) -> Read<u128> {
        let max_bytes = bits.div_ceil(7);
        let max_last = (1u8 << (bits % 7)) - 1;
        let mut out = 0u128;
        for i in 0..max_bytes {
            let byte = self.byte()?;
            out |= u128::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                if i == max_bytes - 1 && byte > max_last {
                    return Err(Why::Format("bad varint"));
                }
                return Ok(out);
            }
        }
        Err(Why::Format("bad varint"))
    }

    fn varint_u16(&mut self) -> Read<u16> {
        u16::try_from(self.varint(16)?).map_err(|_| Why::Format("bad varint"))
    }

    fn varint_u32(&mut self) -> Read<u32> {
        u32::try_from(self.varint(32)?).map_err(|_| Why::Format("bad varint"))
    }

    fn varint_u64(&mut self) -> Read<u64> {
        u64::try_from(self.varint(64)?).map_err(|_| Why::Format("bad varint"))
    }

    fn varint_usize(&mut self) -> Read<usize> {
        let bits = usize::BITS;
        usize::try_from(self.varint(bits)?).map_err(|_| Why::Format("bad varint"))
    }
}

fn unzigzag(n: u128) -> i128 {
    // The low bit is the sign; `n >> 1` fits, so the casts keep the bits.
    ((n >> 1) as i128) ^ -((n & 1) as i128)
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = Why;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Read<V::Value> {
        Err(Why::Format("postcard is not self-describing"))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        match self.byte()? {
            0 => visitor.visit_bool(false),
            1 => visitor.visit_bool(true),
            _ => Err(Why::Format("bad bool")),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        visitor.visit_i8(i8::from_le_bytes([self.byte()?]))
    }

    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        let n = unzigzag(self.varint_u16()?.into());
        visitor.visit_i16(i16::try_from(n).map_err(|_| Why::Format("bad varint"))?)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        let n = unzigzag(self.varint_u32()?.into());
        visitor.visit_i32(i32::try_from(n).map_err(|_| Why::Format("bad varint"))?)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        let n = unzigzag(self.varint_u64()?.into());
        visitor.visit_i64(i64::try_from(n).map_err(|_| Why::Format("bad varint"))?)
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        visitor.visit_i128(unzigzag(self.varint(128)?))
    }

    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        visitor.visit_u8(self.byte()?)
    }

    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        visitor.visit_u16(self.varint_u16()?)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        visitor.visit_u32(self.varint_u32()?)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        visitor.visit_u64(self.varint_u64()?)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        visitor.visit_u128(self.varint(128)?)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        visitor.visit_f32(f32::from_le_bytes(self.array()?))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        visitor.visit_f64(f64::from_le_bytes(self.array()?))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        let len = self.varint_usize()?;
        if len > 4 {
            return Err(Why::Format("bad char"));
        }
        let text = std::str::from_utf8(self.bytes(len)?).map_err(|_| Why::Format("bad char"))?;
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(Why::Format("bad char")),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        let len = self.varint_usize()?;
        let text = std::str::from_utf8(self.bytes(len)?).map_err(|_| Why::Format("bad utf-8"))?;
        visitor.visit_borrowed_str(text)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        let len = self.varint_usize()?;
        visitor.visit_borrowed_bytes(self.bytes(len)?)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        match self.byte()? {
            0 => visitor.visit_none(),
            1 => visitor.visit_some(self),
            _ => Err(Why::Format("bad option")),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Read<V::Value> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Read<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        let len = self.varint_usize()?;
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Read<V::Value> {
        visitor.visit_seq(Elements { reader: self, len })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Read<V::Value> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Read<V::Value> {
        let len = self.varint_usize()?;
        visitor.visit_map(Elements { reader: self, len })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Read<V::Value> {
        self.deserialize_tuple(fields.len(), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Read<V::Value> {
        visitor.visit_enum(self)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, _visitor: V) -> Read<V::Value> {
        Err(Why::Format("postcard does not encode identifiers"))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, _visitor: V) -> Read<V::Value> {
        Err(Why::Format("postcard is not self-describing"))
    }
}

/// The elements of a sequence, tuple or struct, or the entries of a map.
struct Elements<'a, 'de> {
    reader: &'a mut Reader<'de>,
    len: usize,
}

impl<'de> de::SeqAccess<'de> for Elements<'_, 'de> {
    type Error = Why;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Read<Option<S::Value>> {
        if self.len == 0 {
            return Ok(None);
        }
        self.len -= 1;
        seed.deserialize(&mut *self.reader).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        // As postcard: no hint beyond what the bytes left could hold.
        (self.len <= self.reader.input.len()).then_some(self.len)
    }
}

impl<'de> de::MapAccess<'de> for Elements<'_, 'de> {
    type Error = Why;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Read<Option<K::Value>> {
        de::SeqAccess::next_element_seed(self, seed)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Read<S::Value> {
        seed.deserialize(&mut *self.reader)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.len)
    }
}

impl<'de> de::EnumAccess<'de> for &mut Reader<'de> {
    type Error = Why;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Read<(S::Value, Self)> {
        let index = self.varint_u32()?;
        let variant = seed.deserialize(IntoDeserializer::<Why>::into_deserializer(index))?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for &mut Reader<'de> {
    type Error = Why;

    fn unit_variant(self) -> Read<()> {
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Read<S::Value> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Read<V::Value> {
        de::Deserializer::deserialize_tuple(self, len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Read<V::Value> {
        de::Deserializer::deserialize_tuple(self, fields.len(), visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    /// Decodes with [`Reader`], requiring every byte used.
    fn read<T: DeserializeOwned>(bytes: &[u8]) -> Read<T> {
        let mut reader = Reader { input: bytes };
        let value = T::deserialize(&mut reader)?;
        if reader.input.is_empty() {
            Ok(value)
        } else {
            Err(Why::Format("trailing bytes"))
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Shape {
        Unit,
        Newtype(i16),
        Tuple(u8, i128),
        Struct { c: char, s: String },
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Everything {
        flags: (bool, bool),
        small: (i8, u8, i16, u16),
        mid: (i32, u32, i64, u64),
        wide: (i128, u128),
        floats: (f32, f64),
        text: (char, String),
        #[serde(with = "serde_bytes_like")]
        raw: Vec<u8>,
        options: (Option<u32>, Option<u32>),
        unit: (),
        seq: Vec<Shape>,
        map: std::collections::BTreeMap<String, Vec<i64>>,
    }

    /// `Vec<u8>` through `serialize_bytes` / `deserialize_byte_buf`.
    mod serde_bytes_like {
        use serde::de::{Deserializer, Visitor};
        use serde::Serializer;

        pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
            struct Bytes;
            impl Visitor<'_> for Bytes {
                type Value = Vec<u8>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                    Ok(v.to_vec())
                }
            }
            d.deserialize_byte_buf(Bytes)
        }
    }

    fn everything(n: i64) -> Everything {
        Everything {
            flags: (true, false),
            small: (-5, 250, i16::MIN, u16::MAX),
            mid: (i32::MIN, u32::MAX, n, u64::MAX),
            wide: (i128::MIN, u128::MAX),
            floats: (1.5, -0.25),
            text: ('é', "naïve".to_string()),
            raw: vec![0, 1, 2, 255],
            options: (None, Some(300)),
            unit: (),
            seq: vec![
                Shape::Unit,
                Shape::Newtype(-300),
                Shape::Tuple(7, -1),
                Shape::Struct {
                    c: '🦀',
                    s: String::new(),
                },
            ],
            map: [
                ("a".to_string(), vec![n, n.wrapping_neg()]),
                ("b".to_string(), vec![]),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn reads_what_postcard_writes() {
        for n in [0, 1, -1, 63, -64, 64, i64::MAX, i64::MIN] {
            let value = everything(n);
            let bytes = postcard::to_allocvec(&value).unwrap();
            assert_eq!(read::<Everything>(&bytes).unwrap(), value);
        }
    }

    #[test]
    fn fails_where_postcard_fails_on_every_prefix_and_on_every_flipped_byte() {
        let bytes = postcard::to_allocvec(&everything(-77)).unwrap();
        let agree = |input: &[u8]| {
            let ours = read::<Everything>(input).ok();
            let theirs = postcard::from_bytes::<Everything>(input).ok().filter(|_| {
                postcard::take_from_bytes::<Everything>(input)
                    .unwrap()
                    .1
                    .is_empty()
            });
            assert_eq!(ours, theirs, "{input:?}");
        };
        for n in 0..bytes.len() {
            agree(&bytes[..n]);
        }
        for i in 0..bytes.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut changed = bytes.clone();
                changed[i] ^= flip;
                agree(&changed);
            }
        }
    }

    #[test]
    fn varints_are_bounded_as_in_postcard() {
        // u16: 3 bytes, the last holding 2 bits.
        assert_eq!(read::<u16>(&[0xff, 0xff, 0x03]).unwrap(), u16::MAX);
        assert!(read::<u16>(&[0xff, 0xff, 0x04]).is_err());
        assert!(postcard::from_bytes::<u16>(&[0xff, 0xff, 0x04]).is_err());
        // u64: 10 bytes, the last holding 1 bit.
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(read::<u64>(&max).unwrap(), u64::MAX);
        let mut over = max;
        over[9] = 0x02;
        assert!(read::<u64>(&over).is_err());
        assert!(read::<u64>(&[0x80; 11]).is_err());
    }

    #[test]
    fn keeps_custom_messages_at_any_depth() {
        #[derive(Debug, Serialize)]
        struct Celsius(f64);

        impl<'de> Deserialize<'de> for Celsius {
            fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let t = f64::deserialize(d)?;
                if t < -273.15 {
                    return Err(de::Error::custom("bad temperature"));
                }
                Ok(Celsius(t))
            }
        }

        let nested = vec![Some((1u8, Celsius(20.0))), Some((2, Celsius(-300.0)))];
        let bytes = postcard::to_allocvec(&nested).unwrap();
        assert_eq!(
            postcard::from_bytes::<Vec<Option<(u8, Celsius)>>>(&bytes).unwrap_err(),
            postcard::Error::SerdeDeCustom
        );
        assert_eq!(
            custom_message::<Vec<Option<(u8, Celsius)>>>(&bytes).as_deref(),
            Some("bad temperature")
        );
        // serde's own messages too, which postcard also drops.
        assert_eq!(
            custom_message::<Shape>(&[9]).as_deref(),
            Some("invalid value: integer `9`, expected variant index 0 <= i < 4")
        );
        // Format errors are postcard's to report, and a success is no message.
        assert_eq!(custom_message::<Shape>(&[]), None);
        assert_eq!(custom_message::<u8>(&[1]), None);
    }
}
