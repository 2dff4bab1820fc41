//! How a stored value becomes an owned `T` again, and how big it is.
//!
//! The store keeps values as they were moved in, not serialized. A `get`
//! must hand back an owned `T`, but [`Object`] does not require `Clone`, so
//! the copy is made one of two ways:
//! - common std types (numbers, `String`, `Vec<u8>`, `Vec<f64>`, …) are
//!   recognised by `TypeId` and cloned: a `memcpy` for byte buffers;
//! - anything else takes a postcard round trip (done by the store, in its
//!   runtime's scope): exactly the copy a store in
//!   another process would make, so a program behaves the same either way.
//!
//! Sizes are the number of bytes of the value's postcard encoding, computed
//! without allocating, with shortcuts for the byte-buffer types.

use std::any::Any;

#[cfg(test)]
use crate::error::Result;
use crate::object::Object;

/// Applies `$m` to the std types that are copied by `clone` (and hold no
/// refs).
macro_rules! known_types {
    ($m:ident) => {
        $m!(
            (),
            bool,
            char,
            u8,
            u16,
            u32,
            u64,
            u128,
            usize,
            i8,
            i16,
            i32,
            i64,
            i128,
            isize,
            f32,
            f64,
            String,
            Vec<u8>,
            Vec<u16>,
            Vec<u32>,
            Vec<u64>,
            Vec<i8>,
            Vec<i16>,
            Vec<i32>,
            Vec<i64>,
            Vec<f32>,
            Vec<f64>,
            Vec<bool>,
            Vec<String>,
            Option<i64>,
            Option<u64>,
            Option<String>,
            (i64, i64),
            (u64, u64),
            (f64, f64),
            (String, i64),
        )
    };
}

/// Whether `T` is one of the known std types of [`clone_known`].
pub(crate) fn is_plain<T: 'static>() -> bool {
    let id = std::any::TypeId::of::<T>();
    macro_rules! any_of {
        ($($t:ty),* $(,)?) => { false $(|| id == std::any::TypeId::of::<$t>())* };
    }
    known_types!(any_of)
}

/// Clones `value` when `T` is one of the known `Clone` std types.
pub(crate) fn clone_known<T: 'static>(value: &T) -> Option<T> {
    let mut out: Option<T> = None;
    macro_rules! try_types {
        ($($t:ty),* $(,)?) => {$(
            if let (Some(src), Some(dst)) = (
                (value as &dyn Any).downcast_ref::<$t>(),
                (&mut out as &mut dyn Any).downcast_mut::<Option<$t>>(),
            ) {
                *dst = Some(src.clone());
                return out;
            }
        )*};
    }
    known_types!(try_types);
    None
}

/// Encodes `value` and decodes it as `U` (a copy through the serialized
/// form; tests only, the store decodes in its runtime's scope).
#[cfg(test)]
fn transcode<T: Object, U: Object>(value: &T) -> Result<U> {
    let bytes = postcard::to_allocvec(value)?;
    Ok(postcard::from_bytes(&bytes)?)
}

/// The postcard encoding of a byte buffer (`Vec<u8>` or `String`), written
/// at `memcpy` speed rather than one serde call per byte. Same bytes as
/// postcard: the length as a varint, then the bytes.
pub(crate) fn encode_bytes<T: 'static>(value: &T) -> Option<Vec<u8>> {
    let any = value as &dyn Any;
    let bytes = match (any.downcast_ref::<Vec<u8>>(), any.downcast_ref::<String>()) {
        (Some(v), _) => v.as_slice(),
        (_, Some(s)) => s.as_bytes(),
        _ => return None,
    };
    let mut out = Vec::with_capacity(bytes.len() + 10);
    let mut n = bytes.len();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(bytes);
    Some(out)
}

/// Decodes what [`encode_bytes`] wrote when `T` is `Vec<u8>`; `None` for
/// other types or anything that is not exactly such an encoding (postcard
/// then decodes it, and reports the error).
pub(crate) fn decode_bytes<T: 'static>(encoded: &[u8]) -> Option<T> {
    let mut out: Option<T> = None;
    let slot = (&mut out as &mut dyn Any).downcast_mut::<Option<Vec<u8>>>()?;
    let (mut len, mut shift, mut pos) = (0usize, 0u32, 0usize);
    loop {
        let byte = *encoded.get(pos)?;
        len |= usize::from(byte & 0x7f).checked_shl(shift)?;
        pos += 1;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    if encoded.len() - pos != len {
        return None;
    }
    *slot = Some(encoded[pos..].to_vec());
    out
}

pub(crate) fn varint_len(n: u64) -> u64 {
    let bits = u64::BITS - (n | 1).leading_zeros();
    u64::from(bits.div_ceil(7))
}

/// The number of bytes of `value`'s postcard encoding; `None` when its
/// `Serialize` fails.
pub(crate) fn serialized_size<T: Object>(value: &T) -> Option<u64> {
    let any = value as &dyn Any;
    if let Some(v) = any.downcast_ref::<Vec<u8>>() {
        return Some(varint_len(v.len() as u64) + v.len() as u64);
    }
    if let Some(s) = any.downcast_ref::<String>() {
        return Some(varint_len(s.len() as u64) + s.len() as u64);
    }
    if let Some(v) = any.downcast_ref::<Vec<f64>>() {
        return Some(varint_len(v.len() as u64) + 8 * v.len() as u64);
    }
    if let Some(v) = any.downcast_ref::<Vec<f32>>() {
        return Some(varint_len(v.len() as u64) + 4 * v.len() as u64);
    }
    crate::object::handoff::measuring(|| {
        postcard::serialize_with_flavor(value, postcard::ser_flavors::Size::default())
            .ok()
            .map(|n| n as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_postcard_encoding() {
        fn check<T: Object>(v: T) {
            let encoded = postcard::to_allocvec(&v).unwrap().len() as u64;
            assert_eq!(
                serialized_size(&v),
                Some(encoded),
                "{}",
                std::any::type_name::<T>()
            );
        }
        check(vec![7u8; 0]);
        check(vec![7u8; 127]);
        check(vec![7u8; 128]);
        check(vec![7u8; 20_000]);
        check("héllo".to_string());
        check(vec![1.5f64; 300]);
        check(vec![1.5f32; 3]);
        check((1u32, -5i64, "x".to_string()));
        check(0u8);
    }

    #[test]
    fn known_types_are_cloned_and_others_are_not() {
        assert_eq!(clone_known(&vec![1u8, 2, 3]), Some(vec![1, 2, 3]));
        assert_eq!(clone_known(&"s".to_string()), Some("s".to_string()));
        let nested = vec![(1u16, Some("a".to_string())), (2, None)];
        assert_eq!(clone_known(&nested), None);
        assert_eq!(
            transcode::<_, Vec<(u16, Option<String>)>>(&nested).unwrap(),
            nested
        );
    }

    #[test]
    fn byte_buffers_encode_and_decode_like_postcard() {
        for n in [0usize, 1, 127, 128, 300, 20_000] {
            let v: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let fast = encode_bytes(&v).unwrap();
            assert_eq!(fast, postcard::to_allocvec(&v).unwrap());
            assert_eq!(decode_bytes::<Vec<u8>>(&fast), Some(v));
            let s = "é".repeat(n);
            assert_eq!(
                encode_bytes(&s).unwrap(),
                postcard::to_allocvec(&s).unwrap()
            );
        }
        assert_eq!(encode_bytes(&5u32), None);
        assert_eq!(decode_bytes::<Vec<u8>>(&[3, 1, 2]), None);
        assert_eq!(decode_bytes::<Vec<u8>>(&[0x80]), None);
        assert_eq!(decode_bytes::<String>(&[0]), None);
    }

    #[test]
    fn transcode_checks_the_target_type() {
        let n: u32 = transcode(&5u8).unwrap();
        assert_eq!(n, 5);
        assert!(transcode::<String, Vec<String>>(&"abc".to_string()).is_err());
    }
}
