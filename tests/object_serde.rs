//! Refs inside values: a ref serializes as its id and its type's tag and
//! decodes against the runtime of the current context, so it resolves under
//! its own runtime, as its own type, and is an error anywhere else; hostile
//! bytes are errors, never panics. A stored value reads back as what it was
//! stored as, or fails with the reason, the user's own included.

mod common;

use std::any::type_name;
use std::collections::HashSet;
use std::time::Duration;

use common::{ref_len, retype, type_tag, TYPE_TAG_LEN};
use rustyray::{Config, Error, ObjectId, ObjectRef, Runtime};
use serde::{Deserialize, Deserializer, Serialize};

/// How long a condition may take to become true before a test gives up.
const PATIENCE: Duration = Duration::from_secs(30);

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

/// Decodes a ref from the JSON form of an encoded one: serde_json, unlike
/// postcard, keeps the message of `de::Error::custom`, so the exact reason a
/// ref refuses to decode can be read.
fn decode_with_message<T>(json: &serde_json::Value) -> Result<ObjectRef<T>, String> {
    ObjectRef::<T>::deserialize(json).map_err(|e| e.to_string())
}

/// `r` in JSON (exporting it, as any encoding does).
fn json<T: Serialize>(r: &T) -> serde_json::Value {
    serde_json::to_value(r).unwrap()
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
    let a = json(&h.a);
    let owner_handle: Runtime = (*owner).clone();

    let other = rustyray::init(Config::default().name("other-init")).unwrap();
    assert_eq!(
        postcard::from_bytes::<Holder>(&bytes).unwrap_err(),
        postcard::Error::SerdeDeCustom
    );
    let message = decode_with_message::<i64>(&a).unwrap_err();
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
    let (postcard_err, message) = std::thread::spawn({
        let a = a.clone();
        move || {
            let _entered = entered_handle.enter();
            (
                postcard::from_bytes::<Holder>(&bytes).unwrap_err(),
                decode_with_message::<i64>(&a).unwrap_err(),
            )
        }
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
    let back = decode_with_message::<i64>(&a).unwrap();
    assert_eq!(back.id(), h.a.id());
    assert_eq!(back.get().unwrap(), 42);
}

#[test]
fn struct_of_refs_decoded_with_no_runtime_in_scope_is_an_error() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let h = holder();
    let bytes = postcard::to_allocvec(&h).unwrap();
    let id = h.a.id();
    let a = json(&h.a);
    let (postcard_err, message) = std::thread::spawn(move || {
        assert!(!rustyray::is_initialized());
        (
            postcard::from_bytes::<Holder>(&bytes).unwrap_err(),
            decode_with_message::<i64>(&a).unwrap_err(),
        )
    })
    .join()
    .unwrap();
    assert_eq!(postcard_err, postcard::Error::SerdeDeCustom);
    assert_eq!(
        message,
        format!(
            "cannot decode ObjectRef {id}: no RustyRay runtime in scope (decode inside \
             `Runtime::enter`, `Runtime::scope` or a task)"
        )
    );
}

#[test]
fn decoding_the_id_of_a_freed_object_is_object_lost() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let r = rustyray::put(1i64).unwrap();
    let bytes = postcard::to_allocvec(&r).unwrap();
    let a = json(&r);
    let id = r.id();
    assert_eq!(
        postcard::from_bytes::<ObjectRef<i64>>(&bytes).unwrap().id(),
        id
    );
    drop(r);
    assert_eq!(
        postcard::from_bytes::<ObjectRef<i64>>(&bytes).unwrap_err(),
        postcard::Error::SerdeDeCustom
    );
    assert_eq!(
        decode_with_message::<i64>(&a).unwrap_err(),
        format!(
            "object {id} lost: no live object has this id in its runtime (freed, or never \
             exported)"
        )
    );
}

/// The postcard varint of `n`.
fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

/// The message of a [`Error::Serialization`], or a panic naming what came
/// instead.
fn serialization_message<T: std::fmt::Debug>(outcome: rustyray::Result<T>) -> String {
    match outcome {
        Err(Error::Serialization(message)) => message,
        other => panic!("expected Serialization, got {other:?}"),
    }
}

#[test]
fn the_type_tag_is_fnv_1a_of_the_type_name() {
    // FNV-1a 64 test vectors: the helper the wire tests use is the real hash.
    assert_eq!(common::fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(common::fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(common::fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    assert_eq!(
        type_tag::<u64>("ObjectRef"),
        common::fnv1a(b"ObjectRef<u64>").to_le_bytes()
    );
}

#[test]
fn a_ref_is_encoded_as_its_ids_then_its_type_tag() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let r = rustyray::put(0u8).unwrap();
    let id = r.id();
    let bytes = postcard::to_allocvec(&r).unwrap();
    let mut expected = varint(id.runtime().as_u64());
    expected.extend(varint(id.index()));
    expected.extend(type_tag::<u8>("ObjectRef"));
    assert_eq!(bytes, expected);
    assert_eq!(bytes.len() as u64, ref_len(&r));
    // The ids are exactly the `ObjectId`'s own encoding.
    let id_bytes = postcard::to_allocvec(&id).unwrap();
    assert_eq!(id_bytes[..], bytes[..bytes.len() - TYPE_TAG_LEN as usize]);
    assert_eq!(postcard::from_bytes::<ObjectId>(&id_bytes).unwrap(), id);
    assert_eq!(postcard::from_bytes::<ObjectRef<u8>>(&bytes).unwrap(), r);
    // Another `T`, another tag.
    let wider = rustyray::put(0u16).unwrap();
    let wider_bytes = postcard::to_allocvec(&wider).unwrap();
    assert_eq!(
        wider_bytes[wider_bytes.len() - TYPE_TAG_LEN as usize..],
        type_tag::<u16>("ObjectRef")
    );
    assert_ne!(type_tag::<u8>("ObjectRef"), type_tag::<u16>("ObjectRef"));
}

#[test]
fn a_ref_decoded_as_another_type_is_refused() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let text = rustyray::put("hello world".to_string()).unwrap();
    let bytes = postcard::to_allocvec(&text).unwrap();
    // Without a type on the wire this decoded, and `get` returned Ok(11):
    // the string's length prefix, read as a u64.
    assert_eq!(
        postcard::from_bytes::<ObjectRef<u64>>(&bytes).unwrap_err(),
        postcard::Error::SerdeDeCustom
    );
    assert_eq!(
        decode_with_message::<u64>(&json(&text)).unwrap_err(),
        format!(
            "cannot decode ObjectRef {} as an `ObjectRef<u64>`: it was encoded as a ref to another \
             type (or by another build of the program)",
            text.id()
        )
    );
    // As its own type, the same bytes decode.
    let back: ObjectRef<String> = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back.get().unwrap(), "hello world");
}

/// A value holding a labelled ref.
#[derive(Debug, Serialize, Deserialize)]
struct Holds<T> {
    label: String,
    r: ObjectRef<T>,
}

#[test]
fn a_stored_value_whose_ref_reads_as_another_type_fails_with_the_reason() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let text = rustyray::put("hello world".to_string()).unwrap();
    let holds = rustyray::put(Holds {
        label: "greeting".to_string(),
        r: text.clone(),
    })
    .unwrap();
    let forged: ObjectRef<Holds<u64>> = retype(&holds);
    assert_eq!(
        serialization_message(forged.get()),
        format!(
            "object holds a `{}`, which does not decode as `{}`: cannot decode ObjectRef {} as an \
             `ObjectRef<u64>`: it was encoded as a ref to another type (or by another build of \
             the program)",
            type_name::<Holds<String>>(),
            type_name::<Holds<u64>>(),
            text.id()
        )
    );
    // The value itself is untouched.
    let back = holds.get().unwrap();
    assert_eq!(back.label, "greeting");
    assert_eq!(back.r.get().unwrap(), "hello world");
}

#[test]
fn a_value_read_as_another_type_decodes_from_all_its_bytes_or_fails() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let text = rustyray::put("hello world".to_string()).unwrap();
    // The bug: a u64 read the length prefix and ignored the 11 bytes after.
    let as_number: ObjectRef<u64> = retype(&text);
    assert_eq!(
        serialization_message(as_number.get()),
        format!(
            "object holds a `{}`, which does not decode as `u64`: a `u64` decodes from 1 of the 12 \
             bytes: they were not encoded as one",
            type_name::<String>()
        )
    );
    // The other way round, the length prefix asks for more bytes than there are.
    let number = rustyray::put(1000u64).unwrap();
    let as_text: ObjectRef<String> = retype(&number);
    assert_eq!(
        serialization_message(as_text.get()),
        format!(
            "object holds a `u64`, which does not decode as `{}`: {}",
            type_name::<String>(),
            postcard::Error::DeserializeUnexpectedEnd
        )
    );
    // Bytes that another type reads whole are that type's value: a u32 read
    // as a u64 is the same number.
    let small = rustyray::put(7u32).unwrap();
    let widened: ObjectRef<u64> = retype(&small);
    assert_eq!(widened.get().unwrap(), 7);
}

/// A temperature that refuses to decode below absolute zero, with its own
/// message.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Celsius(f64);

impl<'de> Deserialize<'de> for Celsius {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let t = f64::deserialize(deserializer)?;
        if t < -273.15 {
            return Err(serde::de::Error::custom("bad temperature"));
        }
        Ok(Celsius(t))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reading {
    place: String,
    t: Celsius,
}

/// Two readings, the second below absolute zero: they store (serializing
/// does not check) but do not read back.
fn readings() -> Vec<Reading> {
    vec![
        Reading {
            place: "lab".to_string(),
            t: Celsius(21.5),
        },
        Reading {
            place: "moon".to_string(),
            t: Celsius(-300.0),
        },
    ]
}

#[test]
fn a_custom_deserialize_error_reaches_serialization_with_its_message() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let r = rustyray::put(readings()).unwrap();
    assert_eq!(serialization_message(r.get()), "bad temperature");
    assert_eq!(serialization_message(rustyray::get(&r)), "bad temperature");
    let good = vec![readings()[0].clone()];
    assert_eq!(rustyray::put(good.clone()).unwrap().get().unwrap(), good);
}

#[tokio::test]
async fn a_custom_deserialize_error_reaches_an_awaited_ref_too() {
    let rt = rustyray::init(Config::default()).unwrap();
    let r = rt.put(readings()).unwrap();
    assert_eq!(serialization_message(r.await), "bad temperature");
}

/// Refs, then a reading: a copy decodes the refs (taking their handles)
/// before the reading fails.
#[derive(Debug, Serialize, Deserialize)]
struct Logged {
    refs: Vec<ObjectRef<u32>>,
    reading: Reading,
}

#[test]
fn the_message_of_a_value_holding_refs_is_recovered_with_the_same_refs() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let refs: Vec<_> = (0..3u32).map(|n| rustyray::put(n).unwrap()).collect();
    let r = rustyray::put(Logged {
        refs: refs.clone(),
        reading: readings()[1].clone(),
    })
    .unwrap();
    // The second reading of the bytes finds the refs' handles again (not
    // "the copied value held no ref there").
    assert_eq!(serialization_message(r.get()), "bad temperature");
    assert_eq!(serialization_message(r.get()), "bad temperature");
    assert_eq!(rustyray::get_all(&refs).unwrap(), [0, 1, 2]);
}

#[test]
fn a_custom_deserialize_error_of_a_spilled_value_keeps_its_message() {
    let rt = rustyray::init(Config::default().object_store_memory(1)).unwrap();
    let r = rustyray::put(readings()).unwrap();
    assert_eq!(rt.memory().objects_spilled, 1);
    assert_eq!(serialization_message(r.get()), "bad temperature");
}

#[test]
fn a_failed_decode_leaves_nothing_behind_for_the_next_error() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let r = rustyray::put(1i64).unwrap();
    let bytes = postcard::to_allocvec(&r).unwrap();
    drop(r);
    // A program's own decode of a freed object's ref fails…
    assert_eq!(
        postcard::from_bytes::<ObjectRef<i64>>(&bytes).unwrap_err(),
        postcard::Error::SerdeDeCustom
    );
    // …and the next errors on this thread are their own, not that one's.
    assert_eq!(
        Error::from(postcard::Error::SerdeDeCustom).to_string(),
        format!("serialization failed: {}", postcard::Error::SerdeDeCustom)
    );
    let r = rustyray::put(readings()).unwrap();
    assert_eq!(serialization_message(r.get()), "bad temperature");
}

#[rustyray::actor]
struct Counter {
    n: i64,
}

#[rustyray::actor]
impl Counter {
    fn new(start: i64) -> Self {
        Counter { n: start }
    }

    fn incr(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }
}

#[rustyray::actor]
struct Gauge {
    level: u32,
}

#[rustyray::actor]
impl Gauge {
    fn new(level: u32) -> Self {
        Gauge { level }
    }

    fn level(&self) -> u32 {
        self.level
    }
}

/// A value holding an actor handle.
#[derive(Debug, Serialize, Deserialize)]
struct Crew<H> {
    name: String,
    member: H,
}

#[test]
fn an_actor_handle_is_encoded_as_its_id_then_its_actor_type_tag() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let c = Counter::remote(0).unwrap();
    // The id: its kind (0: a local actor), its runtime, its number.
    let mut expected = varint(0);
    expected.extend(varint(c.id().runtime().as_u64()));
    expected.extend(varint(c.id().index()));
    expected.extend(type_tag::<Counter>("ActorRef"));
    assert_eq!(postcard::to_allocvec(&c).unwrap(), expected);
}

#[test]
fn an_actor_handle_decoded_as_another_actor_type_is_refused() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let counter = Counter::remote(40).unwrap();
    let gauge = Gauge::remote(7).unwrap();
    let gauge_bytes = postcard::to_allocvec(&gauge).unwrap();
    let refused = format!(
        "cannot decode actor handle {} as a handle to a `{}`: it was encoded as a handle to \
         another actor type (or by another build of the program)",
        gauge.id(),
        type_name::<Counter>()
    );
    assert_eq!(
        postcard::from_bytes::<CounterHandle>(&gauge_bytes).unwrap_err(),
        postcard::Error::SerdeDeCustom
    );
    assert_eq!(
        CounterHandle::deserialize(&json(&gauge))
            .unwrap_err()
            .to_string(),
        refused
    );
    // Inside a stored value, the same reason.
    let crew = rustyray::put(Crew {
        name: "night shift".to_string(),
        member: gauge.clone(),
    })
    .unwrap();
    let forged: ObjectRef<Crew<CounterHandle>> = retype(&crew);
    assert_eq!(
        serialization_message(forged.get()),
        format!(
            "object holds a `{}`, which does not decode as `{}`: {refused}",
            type_name::<Crew<GaugeHandle>>(),
            type_name::<Crew<CounterHandle>>()
        )
    );
    // Each handle decodes as its own type, and works.
    let back: GaugeHandle = postcard::from_bytes(&gauge_bytes).unwrap();
    assert_eq!(back.id(), gauge.id());
    assert_eq!(back.level().unwrap().get().unwrap(), 7);
    let counter_bytes = postcard::to_allocvec(&counter).unwrap();
    let back: CounterHandle = postcard::from_bytes(&counter_bytes).unwrap();
    assert_eq!(back.incr(2).unwrap().get().unwrap(), 42);
    assert_eq!(crew.get().unwrap().member.id(), gauge.id());
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
