//! Property tests of every decoder of refs, actor handles and stored
//! values, fed random bytes, truncations and mutations of real encodings,
//! inside a runtime and outside any: the result is an error or the right
//! thing, never a panic and never a wrong value.
//!
//! - The exact bytes of a real ref, handle or value holding them decode to
//!   the same refs and handles, whose objects read back the same values.
//! - Any other bytes decode to an error, or (by chance, inside the runtime)
//!   to refs and handles of live objects and actors *of the decoded type*:
//!   the ids a random hit may name are all of the type that was decoded.
//! - Every strict prefix of a real encoding is an error.
//! - Outside any runtime, nothing decodes to a ref or a handle.
//! - A stored value read as another type than it was stored as is a
//!   `Serialization` error, or the value whose encoding is exactly the
//!   stored bytes (a u32 read as a u64): never a value made from a prefix.
//!
//! Each property runs a fixed number of cases from a fixed seed, so the run
//! is bounded and the same every time; proptest shrinks a failure to a
//! small input. (Spill files are covered in `object_spilling.rs`.)

#[path = "../../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

use common::retype;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, RngSeed, TestCaseError, TestRunner};
use rustyray::{ActorId, Config, Error, Object, ObjectId, ObjectRef};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// How long a condition may take to become true before a test gives up.
const PATIENCE: Duration = Duration::from_secs(30);

/// Cases per property: enough to hit every decoder's branches, small
/// enough for a debug build on two shared cores.
const CASES: u32 = 256;

fn runner(seed: u64) -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..ProptestConfig::default()
    })
}

#[rustyray::actor]
struct Counter {
    n: u32,
}

#[rustyray::actor]
impl Counter {
    fn new(n: u32) -> Self {
        Counter { n }
    }

    fn read(&self) -> u32 {
        self.n
    }
}

#[rustyray::actor]
struct Gauge;

#[rustyray::actor]
impl Gauge {
    fn new() -> Self {
        Gauge
    }
}

/// A struct holding refs and a handle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Crew {
    name: String,
    shifts: Vec<ObjectRef<u32>>,
    log: ObjectRef<String>,
    counter: CounterHandle,
}

impl PartialEq for CounterHandle {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

/// Live objects and actors, by id, with what they hold; and the encodings
/// of all of them, exported (so a random hit on their ids can resolve).
struct World {
    numbers: HashMap<ObjectId, u32>,
    texts: HashMap<ObjectId, String>,
    crews: HashMap<ObjectId, Crew>,
    counters: HashMap<ActorId, u32>,
    gauges: Vec<ActorId>,
    /// Refs and handles kept alive for the test.
    held: Held,
    /// The encodings: each ref, each handle, a `Vec` of refs, a `Crew`.
    encodings: Vec<Vec<u8>>,
}

struct Held {
    numbers: Vec<ObjectRef<u32>>,
    texts: Vec<ObjectRef<String>>,
    crews: Vec<ObjectRef<Crew>>,
    counters: Vec<CounterHandle>,
    gauges: Vec<GaugeHandle>,
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).unwrap()
}

impl World {
    /// Call inside a runtime.
    fn new() -> World {
        let numbers: Vec<_> = (0..4u32)
            .map(|n| rustyray::put(1000 + n).unwrap())
            .collect();
        let texts: Vec<_> = ["", "x", "hello world"]
            .into_iter()
            .map(|s| rustyray::put(s.to_string()).unwrap())
            .collect();
        let counters: Vec<_> = (0..2u32).map(|n| Counter::remote(n).unwrap()).collect();
        let gauges = vec![Gauge::remote().unwrap()];
        let crew = Crew {
            name: "night".to_string(),
            shifts: numbers[..3].to_vec(),
            log: texts[2].clone(),
            counter: counters[1].clone(),
        };
        let crews = vec![rustyray::put(crew.clone()).unwrap()];

        let mut encodings: Vec<Vec<u8>> = Vec::new();
        encodings.extend(numbers.iter().map(encode));
        encodings.extend(texts.iter().map(encode));
        encodings.extend(crews.iter().map(encode));
        encodings.extend(counters.iter().map(encode));
        encodings.extend(gauges.iter().map(encode));
        encodings.push(encode(&numbers));
        encodings.push(encode(&crew));

        World {
            numbers: numbers.iter().map(|r| (r.id(), r.get().unwrap())).collect(),
            texts: texts.iter().map(|r| (r.id(), r.get().unwrap())).collect(),
            crews: crews.iter().map(|r| (r.id(), crew.clone())).collect(),
            counters: counters
                .iter()
                .enumerate()
                .map(|(n, c)| (c.id(), n as u32))
                .collect(),
            gauges: gauges.iter().map(|g| g.id()).collect(),
            held: Held {
                numbers,
                texts,
                crews,
                counters,
                gauges,
            },
            encodings,
        }
    }
}

/// `Ok` if `ok` holds, else a failure saying `what`.
fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if ok {
        Ok(())
    } else {
        Err(TestCaseError::fail(what()))
    }
}

/// Every decoder on `bytes`, inside the runtime of `world`: each result is
/// an error or names live objects and actors of the decoded type, which
/// read back what they hold.
fn decode_everything_inside(world: &World, bytes: &[u8]) -> Result<(), TestCaseError> {
    let number = |r: &ObjectRef<u32>| {
        check(
            world
                .numbers
                .get(&r.id())
                .is_some_and(|&n| r.get_timeout(PATIENCE).ok() == Some(n)),
            || format!("{r:?} from {bytes:?} is not a live u32 object"),
        )
    };
    let text = |r: &ObjectRef<String>| {
        check(
            world
                .texts
                .get(&r.id())
                .is_some_and(|s| r.get_timeout(PATIENCE).ok().as_ref() == Some(s)),
            || format!("{r:?} from {bytes:?} is not a live String object"),
        )
    };
    let counter = |c: &CounterHandle| {
        check(
            world.counters.get(&c.id()).is_some_and(|&n| {
                c.read()
                    .and_then(|r| r.get_timeout(PATIENCE))
                    .is_ok_and(|read| read == n)
            }),
            || format!("{c:?} from {bytes:?} is not a live Counter"),
        )
    };
    let crew = |c: &Crew| -> Result<(), TestCaseError> {
        c.shifts.iter().try_for_each(number)?;
        text(&c.log)?;
        counter(&c.counter)
    };

    if let Ok(r) = postcard::from_bytes::<ObjectRef<u32>>(bytes) {
        number(&r)?;
    }
    if let Ok(r) = postcard::from_bytes::<ObjectRef<String>>(bytes) {
        text(&r)?;
    }
    if let Ok(r) = postcard::from_bytes::<ObjectRef<Crew>>(bytes) {
        let stored = world.crews.get(&r.id());
        check(stored.is_some(), || {
            format!("{r:?} from {bytes:?} is not a live Crew object")
        })?;
        let read = r.get_timeout(PATIENCE);
        check(read.as_ref().ok() == stored, || {
            format!("{r:?} from {bytes:?} reads {read:?}")
        })?;
    }
    if let Ok(c) = postcard::from_bytes::<CounterHandle>(bytes) {
        counter(&c)?;
    }
    if let Ok(g) = postcard::from_bytes::<GaugeHandle>(bytes) {
        check(world.gauges.contains(&g.id()), || {
            format!("{g:?} from {bytes:?} is not a live Gauge")
        })?;
    }
    if let Ok(refs) = postcard::from_bytes::<Vec<ObjectRef<u32>>>(bytes) {
        refs.iter().try_for_each(number)?;
    }
    if let Ok(c) = postcard::from_bytes::<Crew>(bytes) {
        crew(&c)?;
    }
    Ok(())
}

/// Every decoder on `bytes`, with no runtime in scope: all errors.
fn decode_everything_outside(bytes: &[u8]) -> Result<(), TestCaseError> {
    let decoded = [
        (
            "ObjectRef<u32>",
            postcard::from_bytes::<ObjectRef<u32>>(bytes).is_ok(),
        ),
        (
            "ObjectRef<String>",
            postcard::from_bytes::<ObjectRef<String>>(bytes).is_ok(),
        ),
        (
            "ObjectRef<Crew>",
            postcard::from_bytes::<ObjectRef<Crew>>(bytes).is_ok(),
        ),
        (
            "CounterHandle",
            postcard::from_bytes::<CounterHandle>(bytes).is_ok(),
        ),
        (
            "GaugeHandle",
            postcard::from_bytes::<GaugeHandle>(bytes).is_ok(),
        ),
        (
            "Vec<ObjectRef<u32>>",
            // An empty Vec holds no ref: decoding it needs no runtime.
            postcard::from_bytes::<Vec<ObjectRef<u32>>>(bytes).is_ok_and(|v| !v.is_empty()),
        ),
        ("Crew", postcard::from_bytes::<Crew>(bytes).is_ok()),
    ];
    for (what, ok) in decoded {
        check(!ok, || {
            format!("{what} decoded from {bytes:?} with no runtime in scope")
        })?;
    }
    Ok(())
}

/// Random bytes, or a real encoding truncated, with a byte changed, or
/// with random bytes around it.
fn hostile_bytes(encodings: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let mutated = (
        prop::sample::select(encodings),
        any::<prop::sample::Index>(),
        1..=255u8,
        prop::collection::vec(any::<u8>(), 0..12),
        0..4u8,
    )
        .prop_map(|(real, at, flip, extra, how)| {
            let i = at.index(real.len().max(1));
            match how {
                0 => real[..i.min(real.len())].to_vec(),
                1 => {
                    let mut changed = real;
                    if let Some(byte) = changed.get_mut(i) {
                        *byte ^= flip;
                    }
                    changed
                }
                2 => [real, extra].concat(),
                _ => [extra, real].concat(),
            }
        });
    prop_oneof![prop::collection::vec(any::<u8>(), 0..64), mutated]
}

#[test]
fn hostile_bytes_inside_a_runtime_decode_to_errors_or_live_refs_of_the_decoded_type() {
    let _rt = rustyray::init(Config::default().num_cpus(2)).unwrap();
    let world = World::new();
    let strategy = hostile_bytes(world.encodings.clone());
    runner(0x5EED_0001)
        .run(&strategy, |bytes| decode_everything_inside(&world, &bytes))
        .unwrap();
}

#[test]
fn hostile_bytes_outside_any_runtime_never_decode_a_ref_or_a_handle() {
    let rt = rustyray::init(Config::default().num_cpus(2)).unwrap();
    let world = World::new();
    let strategy = hostile_bytes(world.encodings.clone());
    let real = world.encodings.clone();
    std::thread::spawn(move || {
        assert!(!rustyray::is_initialized());
        for bytes in &real {
            decode_everything_outside(bytes).unwrap();
        }
        runner(0x5EED_0002)
            .run(&strategy, |bytes| decode_everything_outside(&bytes))
            .unwrap();
    })
    .join()
    .unwrap();
    drop(world);
    drop(rt);
}

#[test]
fn every_strict_prefix_of_a_real_encoding_is_an_error() {
    let _rt = rustyray::init(Config::default().num_cpus(2)).unwrap();
    let world = World::new();
    let held = &world.held;
    fn prefixes_fail<T: DeserializeOwned + Debug>(bytes: &[u8]) {
        for n in 0..bytes.len() {
            let decoded = postcard::from_bytes::<T>(&bytes[..n]);
            assert!(decoded.is_err(), "prefix {n} of {bytes:?}: {decoded:?}");
        }
    }
    held.numbers
        .iter()
        .for_each(|r| prefixes_fail::<ObjectRef<u32>>(&encode(r)));
    held.texts
        .iter()
        .for_each(|r| prefixes_fail::<ObjectRef<String>>(&encode(r)));
    held.crews
        .iter()
        .for_each(|r| prefixes_fail::<ObjectRef<Crew>>(&encode(r)));
    held.counters
        .iter()
        .for_each(|c| prefixes_fail::<CounterHandle>(&encode(c)));
    held.gauges
        .iter()
        .for_each(|g| prefixes_fail::<GaugeHandle>(&encode(g)));
    prefixes_fail::<Vec<ObjectRef<u32>>>(&encode(&held.numbers));
    let crew = held.crews[0].get().unwrap();
    prefixes_fail::<Crew>(&encode(&crew));
}

#[test]
fn the_exact_bytes_of_real_refs_and_handles_decode_to_the_same_ones() {
    let _rt = rustyray::init(Config::default().num_cpus(2)).unwrap();
    let counter = Counter::remote(9).unwrap();
    let strategy = (
        prop::collection::vec(any::<u32>(), 0..6),
        ".{0,12}",
        any::<u32>(),
    );
    runner(0x5EED_0003)
        .run(&strategy, |(numbers, name, one)| {
            let shifts: Vec<_> = numbers.iter().map(|&n| rustyray::put(n).unwrap()).collect();
            let crew = Crew {
                name: name.clone(),
                shifts: shifts.clone(),
                log: rustyray::put(name).unwrap(),
                counter: counter.clone(),
            };
            let single = rustyray::put(one).unwrap();
            let back: ObjectRef<u32> = postcard::from_bytes(&encode(&single)).unwrap();
            prop_assert_eq!(back.id(), single.id());
            prop_assert_eq!(back.get().unwrap(), one);
            let back: Vec<ObjectRef<u32>> = postcard::from_bytes(&encode(&shifts)).unwrap();
            prop_assert_eq!(&back, &shifts);
            prop_assert_eq!(rustyray::get_all(&back).unwrap(), numbers);
            let back: Crew = postcard::from_bytes(&encode(&crew)).unwrap();
            prop_assert_eq!(&back, &crew);
            let stored = rustyray::put(crew.clone()).unwrap();
            let back: ObjectRef<Crew> = postcard::from_bytes(&encode(&stored)).unwrap();
            prop_assert_eq!(back.get().unwrap(), crew);
            let back: CounterHandle = postcard::from_bytes(&encode(&counter)).unwrap();
            prop_assert_eq!(back.read().unwrap().get().unwrap(), 9);
            Ok(())
        })
        .unwrap();
}

/// Puts each value of `strategy` as an `A`, reads it as a `B` through a
/// ref retyped to `B`: a `Serialization` error, or a `B` whose encoding is
/// exactly the stored bytes.
fn read_as_another_type<A, B>(seed: u64, strategy: impl Strategy<Value = A>)
where
    A: Object + Debug,
    B: Object + Debug,
{
    runner(seed)
        .run(&strategy, |value| {
            let stored = encode(&value);
            let r = rustyray::put(value).unwrap();
            let forged: ObjectRef<B> = retype(&r);
            match forged.get() {
                Ok(read) => check(encode(&read) == stored, || {
                    format!(
                        "{} {stored:?} read as {read:?}, which encodes otherwise",
                        std::any::type_name::<A>()
                    )
                }),
                Err(Error::Serialization(_)) => Ok(()),
                Err(other) => Err(TestCaseError::fail(format!(
                    "expected Serialization, got {other:?}"
                ))),
            }
        })
        .unwrap();
}

#[test]
fn stored_values_read_as_another_type_fail_or_use_every_byte() {
    let _rt = rustyray::init(Config::default().num_cpus(2)).unwrap();
    let counter = Counter::remote(1).unwrap();
    let refs = || {
        prop::collection::vec(any::<u32>(), 0..5).prop_map(|v| {
            v.into_iter()
                .map(|n| rustyray::put(n).unwrap())
                .collect::<Vec<_>>()
        })
    };
    read_as_another_type::<String, u64>(0x5EED_0004, ".{0,40}");
    read_as_another_type::<u64, String>(0x5EED_0005, any::<u64>());
    read_as_another_type::<Vec<u32>, (u32, u32)>(
        0x5EED_0006,
        prop::collection::vec(any::<u32>(), 0..5),
    );
    read_as_another_type::<(String, u64), String>(0x5EED_0007, (".{0,20}", any::<u64>()));
    read_as_another_type::<Vec<ObjectRef<u32>>, Vec<ObjectRef<u64>>>(0x5EED_0008, refs());
    let crews = (refs(), ".{0,12}").prop_map(move |(shifts, name)| Crew {
        log: rustyray::put(name.clone()).unwrap(),
        name,
        shifts,
        counter: counter.clone(),
    });
    read_as_another_type::<Crew, Vec<ObjectRef<u32>>>(0x5EED_0009, crews.clone());
    read_as_another_type::<Vec<ObjectRef<u32>>, Crew>(0x5EED_000A, refs());
    read_as_another_type::<Crew, (String, Vec<ObjectRef<u32>>, ObjectRef<u64>)>(0x5EED_000B, crews);
}
