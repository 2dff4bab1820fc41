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
///
/// A number, `bool`, `char` or `()` is kept inline instead ([`Small`]): no
/// allocation for the commonest results, and nothing to pin (a reader
/// copies it). Such a value is never spilled: it would free nothing.
#[derive(Clone)]
pub(crate) struct Value(Repr);

#[derive(Clone)]
enum Repr {
    Shared(Arc<dyn Erased>),
    Small(Small),
}

/// The inline values: the primitive types of [`copy`]'s known types.
#[derive(Clone, Copy)]
enum Small {
    Unit(()),
    Bool(bool),
    Char(char),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    Usize(usize),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    Isize(isize),
    F32(f32),
    F64(f64),
}

/// Runs `$body` with `$v` bound to a reference to the small value, as its
/// own type.
macro_rules! with_small {
    ($small:expr, $v:ident => $body:expr) => {
        match $small {
            Small::Unit($v) => $body,
            Small::Bool($v) => $body,
            Small::Char($v) => $body,
            Small::U8($v) => $body,
            Small::U16($v) => $body,
            Small::U32($v) => $body,
            Small::U64($v) => $body,
            Small::Usize($v) => $body,
            Small::I8($v) => $body,
            Small::I16($v) => $body,
            Small::I32($v) => $body,
            Small::I64($v) => $body,
            Small::Isize($v) => $body,
            Small::F32($v) => $body,
            Small::F64($v) => $body,
        }
    };
}

impl Small {
    /// `value` as a small value, when its type is one.
    fn of<T: 'static>(value: &T) -> Option<Small> {
        let any = value as &dyn Any;
        macro_rules! try_variants {
            ($($variant:ident($t:ty)),*) => {$(
                if let Some(v) = any.downcast_ref::<$t>() {
                    return Some(Small::$variant(*v));
                }
            )*};
        }
        try_variants!(
            Unit(()),
            Bool(bool),
            Char(char),
            U8(u8),
            U16(u16),
            U32(u32),
            U64(u64),
            Usize(usize),
            I8(i8),
            I16(i16),
            I32(i32),
            I64(i64),
            Isize(isize),
            F32(f32),
            F64(f64)
        );
        None
    }

    /// The value as a `T`, when it is one.
    fn get<T: 'static>(self) -> Option<T> {
        with_small!(self, v => (&mut Some(v) as &mut dyn Any)
            .downcast_mut::<Option<T>>()
            .and_then(Option::take))
    }

    fn stored_type_id(self) -> TypeId {
        with_small!(self, v => Any::type_id(&v))
    }

    fn type_name(self) -> &'static str {
        with_small!(self, v => type_name_of(&v))
    }

    fn encode(self) -> Result<Vec<u8>> {
        with_small!(self, v => Codec::Postcard.encode(&v))
    }

    /// The length of its postcard encoding, worked out: integers are
    /// varints (signed ones zigzagged first), floats are fixed, a `char`
    /// is a string (its length, then its UTF-8).
    fn size(self) -> u64 {
        let zigzag = |v: i64| ((v << 1) ^ (v >> 63)) as u64;
        match self {
            Small::Unit(()) => 0,
            Small::Bool(_) | Small::U8(_) | Small::I8(_) => 1,
            Small::Char(c) => 1 + c.len_utf8() as u64,
            Small::U16(v) => copy::varint_len(u64::from(v)),
            Small::U32(v) => copy::varint_len(u64::from(v)),
            Small::U64(v) => copy::varint_len(v),
            Small::Usize(v) => copy::varint_len(v as u64),
            Small::I16(v) => copy::varint_len(zigzag(i64::from(v))),
            Small::I32(v) => copy::varint_len(zigzag(i64::from(v))),
            Small::I64(v) => copy::varint_len(zigzag(v)),
            Small::Isize(v) => copy::varint_len(zigzag(v as i64)),
            Small::F32(_) => 4,
            Small::F64(_) => 8,
        }
    }
}

fn type_name_of<T>(_: &T) -> &'static str {
    type_name::<T>()
}

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

/// A value as its encoded bytes (see [`Value::encoded`]): it has no type
/// of its own, so every read decodes it. What the refs (and actor
/// handles) inside it name, in encoding order, is held on this side (see
/// `crossing`): each encoding hands it to its decoder (see `handoff`),
/// which is also what keeps their objects alive.
#[cfg(feature = "ray")]
struct Raw {
    unencodable: AtomicBool,
    bytes: Vec<u8>,
    inside: Vec<handoff::Handle>,
}

#[cfg(feature = "ray")]
impl Erased for Raw {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn encode(&self) -> Result<Vec<u8>> {
        for handle in &self.inside {
            handoff::leave(|| Arc::clone(handle));
        }
        Ok(self.bytes.clone())
    }

    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn is_plain(&self) -> bool {
        false
    }

    fn type_name(&self) -> &'static str {
        "encoded bytes"
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
        if let Some(small) = Small::of(&value) {
            return Value(Repr::Small(small));
        }
        let size = catch(|| copy::serialized_size(&value)).ok().flatten();
        Value(Repr::Shared(Arc::new(Typed {
            size: size.unwrap_or(0),
            unencodable: AtomicBool::new(size.is_none()),
            value,
        })))
    }

    /// A value read back from disk, whose size is known.
    pub(crate) fn restored<T: Object>(value: T, size: u64) -> Value {
        if let Some(small) = Small::of(&value) {
            return Value(Repr::Small(small));
        }
        Value(Repr::Shared(Arc::new(Typed {
            size,
            unencodable: AtomicBool::new(false),
            value,
        })))
    }

    /// A value that arrived encoded (from a Ray worker): kept as its
    /// postcard bytes, decoded as the type a reader asks for.
    #[cfg(feature = "ray")]
    pub(crate) fn encoded(bytes: Vec<u8>) -> Value {
        Value::encoded_with(bytes, Vec::new())
    }

    /// [`encoded`](Self::encoded) bytes that name objects or actors:
    /// `inside`, what the refs and handles inside them name on this side,
    /// in encoding order (see `crossing`).
    #[cfg(feature = "ray")]
    pub(crate) fn encoded_with(bytes: Vec<u8>, inside: Vec<handoff::Handle>) -> Value {
        Value(Repr::Shared(Arc::new(Raw {
            unencodable: AtomicBool::new(false),
            bytes,
            inside,
        })))
    }

    /// The bytes, and what the refs and handles inside name, of an
    /// [`encoded`](Self::encoded) value; `None` for a value held as its
    /// type.
    #[cfg(feature = "ray")]
    pub(crate) fn as_encoded(&self) -> Option<(&[u8], &[handoff::Handle])> {
        let Repr::Shared(value) = &self.0 else {
            return None;
        };
        let raw = value.as_any().downcast_ref::<Raw>()?;
        Some((&raw.bytes, &raw.inside))
    }

    /// Bytes of the value's serialized form.
    pub(crate) fn size(&self) -> u64 {
        match &self.0 {
            Repr::Shared(value) => value.size(),
            Repr::Small(small) => small.size(),
        }
    }

    /// Whether the value is a std type that holds no refs.
    pub(crate) fn is_plain(&self) -> bool {
        match &self.0 {
            Repr::Shared(value) => value.is_plain(),
            Repr::Small(_) => true,
        }
    }

    /// Whether spilling may take it: its `Serialize` never failed (and it
    /// is not small).
    pub(crate) fn is_spillable(&self) -> bool {
        match &self.0 {
            Repr::Shared(value) => !value.unencodable().load(Ordering::Relaxed),
            Repr::Small(_) => false,
        }
    }

    /// The type the value was stored as.
    pub(crate) fn type_id(&self) -> TypeId {
        match &self.0 {
            Repr::Shared(value) => value.as_any().type_id(),
            Repr::Small(small) => small.stored_type_id(),
        }
    }

    fn type_name(&self) -> &'static str {
        match &self.0 {
            Repr::Shared(value) => value.type_name(),
            Repr::Small(small) => small.type_name(),
        }
    }

    /// How many handles to the value exist (1: only its cell's; a small
    /// value is copied, never shared).
    pub(crate) fn holders(&self) -> usize {
        match &self.0 {
            Repr::Shared(value) => Arc::strong_count(value),
            Repr::Small(_) => 1,
        }
    }

    /// The buffer of a large `Vec<u8>` value nobody else holds, for reuse.
    pub(crate) fn into_bytes(self) -> Option<Vec<u8>> {
        let Repr::Shared(mut value) = self.0 else {
            return None;
        };
        let bytes = Arc::get_mut(&mut value)?
            .as_any_mut()
            .downcast_mut::<Vec<u8>>()?;
        (bytes.capacity() >= recycle::MIN_BYTES).then(|| std::mem::take(bytes))
    }

    /// Whether both are the same stored value (small values never are:
    /// they are never spilled, which is what asks).
    pub(crate) fn same(&self, other: &Value) -> bool {
        match (&self.0, &other.0) {
            (Repr::Shared(a), Repr::Shared(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    /// An owned copy as `T`: a clone for common std types, else through
    /// the serialized form (decoded in the scope of `store`'s runtime, so
    /// refs inside bind there). When the value was stored as another type
    /// (a ref whose type tag was forged, or two types with one name) the
    /// copy is a [`Error::Serialization`] naming both types unless every
    /// byte of the stored value's encoding decodes as a `T`.
    pub(crate) fn read<T: Object>(&self, store: &Store) -> Result<T> {
        let shared = match &self.0 {
            Repr::Shared(shared) => shared,
            Repr::Small(small) => {
                if let Some(value) = small.get::<T>() {
                    return Ok(value);
                }
                return handoff::copy_through(|| self.encode(), |bytes| store.decode(bytes))
                    .map_err(|e| self.mismatch::<T>(e));
            }
        };
        if let Some(value) = shared.as_any().downcast_ref::<T>() {
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
        if self.type_id() == TypeId::of::<T>() {
            return err;
        }
        let reason = match err {
            Error::Serialization(reason) => reason,
            other => other.to_string(),
        };
        Error::Serialization(format!(
            "object holds a `{}`, which does not decode as `{}`: {reason}",
            self.type_name(),
            type_name::<T>()
        ))
    }

    /// The value's serialized form. A failure (or a panic of the value's
    /// `Serialize`) is an error, and marks the value unspillable.
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        match &self.0 {
            Repr::Shared(value) => value.encode(),
            Repr::Small(small) => small.encode(),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value<{}>({} bytes)", self.type_name(), self.size())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: Object + Copy>(values: &[T]) {
        for &v in values {
            let encoded = postcard::to_allocvec(&v).unwrap().len() as u64;
            assert_eq!(
                Value::new(v).size(),
                encoded,
                "{}",
                std::any::type_name::<T>()
            );
        }
    }

    #[test]
    fn small_values_are_as_big_as_their_postcard_encoding() {
        check(&[()]);
        check(&[false, true]);
        check(&['a', 'é', '€', '🦀']);
        check(&[0u8, 255]);
        check(&[0u16, 127, 128, 16_383, 16_384, u16::MAX]);
        check(&[0u32, 127, 128, 16_384, 2_097_152, u32::MAX]);
        check(&[0u64, 127, 128, 1 << 35, 1 << 56, 1 << 63, u64::MAX]);
        check(&[0usize, 128, usize::MAX]);
        check(&[0i8, -1, i8::MIN, i8::MAX]);
        check(&[0i16, -64, -65, 63, 64, i16::MIN, i16::MAX]);
        check(&[0i32, -64, -65, -8_193, i32::MIN, i32::MAX]);
        check(&[0i64, -1, -(1 << 62), i64::MIN, i64::MAX]);
        check(&[0isize, -1, isize::MIN, isize::MAX]);
        check(&[0.0f32, -1.5, f32::MAX]);
        check(&[0.0f64, f64::MIN]);
    }
}
