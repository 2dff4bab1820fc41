//! Refs inside values: a ref serializes as its id and decodes against the
//! runtime of the current context, so it resolves under its own runtime and
//! is an error anywhere else; hostile bytes are errors, never panics.

use std::collections::HashSet;

use rustyray::{Config, Error, ObjectId, ObjectRef, Runtime};
use serde::de::{self, DeserializeSeed, IntoDeserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Holder {
    a: ObjectRef<i64>,
    items: Vec<ObjectRef<String>>,
}

fn holder() -> Holder {
    Holder {
        a: rustyray::put(42i64).unwrap(),
        items: ["x", "yy", "zzz"]
            .into_iter()
            .map(|s| rustyray::put(s.to_string()).unwrap())
            .collect(),
    }
}

fn assert_resolves(h: &Holder) {
    assert_eq!(h.a.get().unwrap(), 42);
    assert_eq!(rustyray::get_all(&h.items).unwrap(), ["x", "yy", "zzz"]);
}

/// A 64-bit xorshift: deterministic pseudo-random bytes without a crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn bytes(&mut self) -> Vec<u8> {
        let len = (self.next() % 24) as usize;
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// A serde deserializer that presents an `ObjectId` (runtime, index) and,
/// unlike postcard, keeps the message of `de::Error::custom`.
struct IdDeserializer {
    runtime: u64,
    index: u64,
}

struct RuntimeIdDeserializer(u64);

struct IdFields {
    id: IdDeserializer,
    next: u8,
}

type ValueError = de::value::Error;

impl<'de> de::Deserializer<'de> for IdDeserializer {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_seq(IdFields { id: self, next: 0 })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
        struct enum identifier ignored_any
    }
}

impl<'de> SeqAccess<'de> for IdFields {
    type Error = ValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        self.next += 1;
        match self.next {
            1 => seed
                .deserialize(RuntimeIdDeserializer(self.id.runtime))
                .map(Some),
            2 => seed
                .deserialize(IntoDeserializer::<ValueError>::into_deserializer(
                    self.id.index,
                ))
                .map(Some),
            _ => Ok(None),
        }
    }
}

impl<'de> de::Deserializer<'de> for RuntimeIdDeserializer {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        visitor.visit_u64(self.0)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(IntoDeserializer::<ValueError>::into_deserializer(self.0))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct seq tuple tuple_struct map
        struct enum identifier ignored_any
    }
}

/// Decodes `ObjectRef<i64>` for `id` with a message-preserving deserializer.
fn decode_with_message(id: ObjectId) -> Result<ObjectRef<i64>, String> {
    ObjectRef::<i64>::deserialize(IdDeserializer {
        runtime: id.runtime().as_u64(),
        index: id.index(),
    })
    .map_err(|e| e.to_string())
}

#[test]
fn struct_of_refs_put_and_got_back_resolves_its_refs() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let h = holder();
    let r = rustyray::put(h.clone()).unwrap();
    let back = rustyray::get(&r).unwrap();
    assert_eq!(back, h);
    assert_eq!(back.a.id(), h.a.id());
    assert_resolves(&back);
    drop(h);
    // The refs inside the stored value keep their objects alive.
    let again = rustyray::get(&r).unwrap();
    assert_resolves(&again);
}

#[test]
fn struct_of_refs_got_through_an_explicit_handle_on_a_thread_without_context_resolves() {
    let guard = rustyray::init(Config::default()).unwrap();
    let r = rustyray::put(holder()).unwrap();
    let rt: Runtime = (*guard).clone();
    let got = std::thread::spawn(move || {
        assert!(!rustyray::is_initialized());
        let got = rt.get(&r);
        let by_ref = r.get();
        (got, by_ref)
    })
    .join()
    .unwrap();
    assert_resolves(&got.0.unwrap());
    assert_resolves(&got.1.unwrap());
}

#[test]
fn struct_of_refs_round_trips_through_postcard_under_its_runtime() {
    let rt = rustyray::init(Config::default()).unwrap();
    let h = holder();
    let bytes = postcard::to_allocvec(&h).unwrap();
    let back: Holder = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back, h);
    assert_resolves(&back);

    // Under the same runtime entered on another thread, too.
    let handle: Runtime = (*rt).clone();
    let decoded = std::thread::spawn(move || {
        let _entered = handle.enter();
        let h: Holder = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(h.a.get().unwrap(), 42);
        h
    })
    .join()
    .unwrap();
    assert_eq!(decoded, h);
}

#[test]
fn struct_of_refs_decoded_under_another_runtime_is_an_error() {
    let owner = rustyray::init(Config::default().name("owner")).unwrap();
    let h = holder();
    let bytes = postcard::to_allocvec(&h).unwrap();
    let owner_handle: Runtime = (*owner).clone();

    let other = rustyray::init(Config::default().name("other-init")).unwrap();
    assert_eq!(
        postcard::from_bytes::<Holder>(&bytes).unwrap_err(),
        postcard::Error::SerdeDeCustom
    );
    let message = decode_with_message(h.a.id()).unwrap_err();
    assert_eq!(
        message,
        format!(
            "cannot decode ObjectRef {}: it belongs to runtime {}, but runtime {} (other-init) is in scope",
            h.a.id(),
            owner_handle.id(),
            other.id()
        )
    );
    drop(other);

    let entered_runtime = rustyray::init(Config::default().name("other-enter")).unwrap();
    let entered_handle: Runtime = (*entered_runtime).clone();
    let id = h.a.id();
    let (postcard_err, message) = std::thread::spawn(move || {
        let _entered = entered_handle.enter();
        (
            postcard::from_bytes::<Holder>(&bytes).unwrap_err(),
            decode_with_message(id).unwrap_err(),
        )
    })
    .join()
    .unwrap();
    assert_eq!(postcard_err, postcard::Error::SerdeDeCustom);
    assert!(
        message.contains(&format!("belongs to runtime {}", owner_handle.id())),
        "{message}"
    );
    assert!(message.contains("other-enter"), "{message}");

    // Back under the owner, the same bytes decode.
    drop(entered_runtime);
    assert_eq!(decode_with_message(id).unwrap().get().unwrap(), 42);
}

#[test]
fn struct_of_refs_decoded_with_no_runtime_in_scope_is_an_error() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let h = holder();
    let bytes = postcard::to_allocvec(&h).unwrap();
    let id = h.a.id();
    let (postcard_err, message) = std::thread::spawn(move || {
        assert!(!rustyray::is_initialized());
        (
            postcard::from_bytes::<Holder>(&bytes).unwrap_err(),
            decode_with_message(id).unwrap_err(),
        )
    })
    .join()
    .unwrap();
    assert_eq!(postcard_err, postcard::Error::SerdeDeCustom);
    assert!(
        message.starts_with(&format!(
            "cannot decode ObjectRef {id}: no RustyRay runtime in scope"
        )),
        "{message}"
    );
}

#[test]
fn decoding_the_id_of_a_freed_object_is_object_lost() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let r = rustyray::put(1i64).unwrap();
    let bytes = postcard::to_allocvec(&r).unwrap();
    let id = r.id();
    assert_eq!(
        postcard::from_bytes::<ObjectRef<i64>>(&bytes).unwrap().id(),
        id
    );
    drop(r);
    assert!(postcard::from_bytes::<ObjectRef<i64>>(&bytes).is_err());
    let message = decode_with_message(id).unwrap_err();
    assert!(message.contains(&format!("object {id} lost")), "{message}");
}

#[test]
fn ref_decoded_as_the_wrong_type_fails_on_get_naming_both_types() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let number = rustyray::put(1000u64).unwrap();
    let bytes = postcard::to_allocvec(&number).unwrap();
    let as_string: ObjectRef<String> = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(as_string.id(), number.id());
    match rustyray::get(&as_string) {
        Err(Error::Serialization(message)) => {
            assert!(message.contains("u64"), "{message}");
            assert!(message.contains("String"), "{message}");
        }
        other => panic!("expected Serialization, got {other:?}"),
    }
}

#[test]
fn object_id_round_trips_through_postcard() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let r = rustyray::put(0u8).unwrap();
    let bytes = postcard::to_allocvec(&r.id()).unwrap();
    assert_eq!(bytes, postcard::to_allocvec(&r).unwrap());
    assert_eq!(postcard::from_bytes::<ObjectId>(&bytes).unwrap(), r.id());
}

#[test]
fn every_truncation_of_a_valid_encoding_is_an_error() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let h = holder();
    let one = postcard::to_allocvec(&h.a).unwrap();
    let many = postcard::to_allocvec(&h).unwrap();
    let id = postcard::to_allocvec(&h.a.id()).unwrap();
    assert_eq!(postcard::from_bytes::<Holder>(&many).unwrap(), h);

    for n in 0..one.len() {
        assert!(
            postcard::from_bytes::<ObjectRef<i64>>(&one[..n]).is_err(),
            "prefix {n}"
        );
    }
    for n in 0..many.len() {
        assert!(
            postcard::from_bytes::<Holder>(&many[..n]).is_err(),
            "prefix {n}"
        );
    }
    for n in 0..id.len() {
        assert!(
            postcard::from_bytes::<ObjectId>(&id[..n]).is_err(),
            "prefix {n}"
        );
    }
}

#[test]
fn random_bytes_decode_to_errors_or_live_refs_never_panics() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let h = holder();
    // Serializing exports the refs, so a random hit on their ids can resolve.
    let encoded = postcard::to_allocvec(&h).unwrap();
    assert!(!encoded.is_empty());
    let live: HashSet<ObjectId> = std::iter::once(h.a.id())
        .chain(h.items.iter().map(|r| r.id()))
        .collect();

    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let (mut ref_errors, mut holder_errors) = (0, 0);
    for _ in 0..4000 {
        let bytes = rng.bytes();
        match postcard::from_bytes::<ObjectRef<i64>>(&bytes) {
            Ok(r) => assert!(live.contains(&r.id()), "decoded {r:?} from {bytes:?}"),
            Err(_) => ref_errors += 1,
        }
        match postcard::from_bytes::<Holder>(&bytes) {
            Ok(h) => assert!(
                std::iter::once(h.a.id())
                    .chain(h.items.iter().map(|r| r.id()))
                    .all(|id| live.contains(&id)),
                "decoded {h:?} from {bytes:?}"
            ),
            Err(_) => holder_errors += 1,
        }
        if let Ok(id) = postcard::from_bytes::<ObjectId>(&bytes) {
            let again = postcard::to_allocvec(&id).unwrap();
            assert_eq!(postcard::from_bytes::<ObjectId>(&again).unwrap(), id);
        }
    }
    assert!(ref_errors > 3000, "{ref_errors}");
    assert!(holder_errors > 3000, "{holder_errors}");
}

#[test]
fn random_bytes_with_no_runtime_in_scope_never_decode_a_ref() {
    std::thread::spawn(|| {
        assert!(!rustyray::is_initialized());
        let mut rng = XorShift(0xD1B5_4A32_D192_ED03);
        for _ in 0..4000 {
            let bytes = rng.bytes();
            assert!(postcard::from_bytes::<ObjectRef<i64>>(&bytes).is_err());
            assert!(postcard::from_bytes::<Holder>(&bytes).is_err());
        }
    })
    .join()
    .unwrap();
}
