//! Spilling: `Config::object_store_memory` is a hard limit on bytes in
//! memory; objects beyond it go to `<spill dir>/<object id>.spill` (the
//! least recently read first, or straight to disk when larger than the
//! limit) and are read back transparently and checked. A missing or
//! corrupt file is `ObjectLost`, a disk that cannot take the object is
//! `StoreFull`, and the spill directory is cleaned up as objects are freed
//! and at shutdown.
//!
//! Sizes are bytes of the postcard encoding: a `Vec<u8>` of `n` bytes is
//! `varint(n) + n`, so an 8 MiB buffer is 8,388,608 + 4 = 8,388,612 bytes.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{ref_len, varint_len, wait_until};
use rustyray::{Config, Error, MemoryStats, ObjectRef, Runtime};
use serde::{Deserialize, Serialize};

const MIB: usize = 1 << 20;
/// An 8 MiB buffer and its encoded size (4-byte varint length).
const MIB8: usize = 8 << 20;
const MIB8_ENCODED: u64 = 8_388_612;
/// A 2 MiB buffer (2^21 bytes) needs a 4-byte varint length.
const MIB2_ENCODED: u64 = 2_097_156;
/// The spill file header: magic, payload length, CRC-32.
const SPILL_HEADER: u64 = 8 + 8 + 4;

/// How long a condition may take to become true before a test gives up.
/// It bounds a wait; it is not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(30);

fn empty(limit: u64) -> MemoryStats {
    MemoryStats {
        objects_in_memory: 0,
        bytes_in_memory: 0,
        objects_spilled: 0,
        bytes_spilled: 0,
        limit,
    }
}

/// Waits for running tasks to let go of their cells, then checks the store
/// is empty.
fn assert_store_empties(rt: &Runtime) {
    let limit = rt.memory().limit;
    wait_until("the store is empty", || rt.memory() == empty(limit));
}

/// `len` bytes that differ per object `i` and along the buffer: filled
/// with `i` (a memset, cheap in debug builds too), with a marker every
/// 4 KiB that depends on both `i` and the position.
fn pattern(i: usize, len: usize) -> Vec<u8> {
    let mut bytes = vec![i as u8; len];
    for (k, j) in (0..len).step_by(4096).enumerate() {
        bytes[j] = (k as u8).wrapping_add((i as u8).wrapping_mul(31)) ^ 0x5a;
    }
    bytes
}

/// Compares two buffers without printing megabytes on failure.
fn assert_bytes_eq(actual: &[u8], expected: &[u8], what: &str) {
    if actual != expected {
        let first = actual
            .iter()
            .zip(expected)
            .position(|(a, b)| a != b)
            .unwrap_or(actual.len().min(expected.len()));
        panic!(
            "{what}: {} bytes read, {} expected, first difference at byte {first}",
            actual.len(),
            expected.len()
        );
    }
}

/// A position-sensitive checksum over 8-byte words.
fn checksum(bytes: &[u8]) -> u64 {
    bytes
        .chunks(8)
        .map(|c| {
            let mut word = [0u8; 8];
            word[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(word)
        })
        .fold(0u64, |acc, w| acc.rotate_left(5) ^ w)
}

/// The names of every entry in `dir` (`.spill`, `.tmp` or anything else).
fn entries(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect()
}

fn spill_file_name<T>(r: &ObjectRef<T>) -> String {
    format!("{}.spill", r.id())
}

fn spill_file<T>(rt: &Runtime, r: &ObjectRef<T>) -> PathBuf {
    rt.spill_dir().join(spill_file_name(r))
}

/// A path under the temp dir unique to this process and `name`, removed
/// (file or directory) when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> TempPath {
        let path =
            std::env::temp_dir().join(format!("rustyray-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        let _ = fs::remove_file(&path);
        TempPath(path)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
        let _ = fs::remove_file(&self.0);
    }
}

/// A byte buffer with the same encoding and size as a `Vec<u8>` (varint
/// length, then the bytes), but serialized with `serialize_bytes`, so that
/// encoding and decoding copy the buffer at once instead of going through
/// serde byte by byte. That keeps the 1 GiB test within seconds in debug
/// builds too; the other tests spill plain `Vec<u8>`s.
#[derive(Debug, PartialEq)]
struct Bytes(Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
        }
        deserializer.deserialize_byte_buf(Visitor)
    }
}

#[test]
fn bytes_encode_like_a_vec_of_bytes() {
    let bytes = pattern(3, 300);
    assert_eq!(
        postcard::to_allocvec(&Bytes(bytes.clone())).unwrap(),
        postcard::to_allocvec(&bytes).unwrap()
    );
}

#[test]
fn gigabyte_of_objects_under_a_64_mib_limit_spills_and_reads_back_every_byte() {
    const LIMIT: u64 = 64 << 20;
    const COUNT: usize = 128;
    // 7 × 8,388,612 = 58,720,284 bytes fit; 8 would pass the limit by 32.
    const IN_MEMORY: u64 = 7;
    const SPILLED: u64 = COUNT as u64 - IN_MEMORY;

    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    let dir = rt.spill_dir().to_path_buf();

    let mut refs = Vec::with_capacity(COUNT);
    for i in 0..COUNT {
        refs.push(rustyray::put(Bytes(pattern(i, MIB8))).unwrap());
        let m = rt.memory();
        assert!(
            m.bytes_in_memory <= LIMIT,
            "after put {i}: {} bytes in memory, limit {LIMIT}",
            m.bytes_in_memory
        );
        assert_eq!(m.objects_in_memory + m.objects_spilled, i as u64 + 1);
        assert_eq!(m.bytes_in_memory, m.objects_in_memory * MIB8_ENCODED);
        assert_eq!(m.bytes_spilled, m.objects_spilled * MIB8_ENCODED);
    }
    let placed = MemoryStats {
        objects_in_memory: IN_MEMORY,
        bytes_in_memory: IN_MEMORY * MIB8_ENCODED,
        objects_spilled: SPILLED,
        bytes_spilled: SPILLED * MIB8_ENCODED,
        limit: LIMIT,
    };
    assert_eq!(rt.memory(), placed);
    // Nothing was read, so the oldest went to disk: one file per spilled
    // object, named by its id, and no temporary file left.
    let oldest: BTreeSet<String> = refs[..SPILLED as usize]
        .iter()
        .map(spill_file_name)
        .collect();
    assert_eq!(entries(&dir), oldest);

    for (i, r) in refs.iter().enumerate() {
        let read = r.get().unwrap();
        assert_bytes_eq(&read.0, &pattern(i, MIB8), &format!("object {i}"));
    }
    // Reading a spilled object does not bring it back into memory.
    assert_eq!(rt.memory(), placed);

    drop(refs);
    assert_eq!(rt.memory(), empty(LIMIT));
    assert_eq!(entries(&dir), BTreeSet::new());

    drop(rt);
    assert!(!dir.exists(), "{} outlived its runtime", dir.display());
}

#[test]
fn default_spill_dir_is_per_runtime_created_on_first_spill_and_removed_at_shutdown() {
    let a = rustyray::init(Config::default().object_store_memory(MIB as u64)).unwrap();
    let dir = a.spill_dir().to_path_buf();
    assert_eq!(
        dir,
        std::env::temp_dir().join(format!(
            "rustyray-{}-{}",
            std::process::id(),
            a.id().as_u64()
        ))
    );
    let b = rustyray::init(Config::default()).unwrap();
    assert_ne!(b.spill_dir(), dir);
    drop(b);

    let small = rustyray::put(vec![1u8; 1000]).unwrap();
    assert!(!dir.exists(), "no spill yet, no directory");
    let big = rustyray::put(pattern(1, 2 * MIB)).unwrap();
    assert_eq!(entries(&dir), BTreeSet::from([spill_file_name(&big)]));

    // Refs still held at shutdown do not keep the directory.
    drop(a);
    assert!(!dir.exists(), "{} outlived its runtime", dir.display());
    drop((small, big));
}

#[test]
fn object_larger_than_the_limit_goes_straight_to_disk() {
    const LIMIT: u64 = MIB as u64;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();

    let small = rustyray::put(vec![1u8; 1000]).unwrap();
    let big = rustyray::put(pattern(2, 2 * MIB)).unwrap();
    let placed = MemoryStats {
        objects_in_memory: 1,
        bytes_in_memory: 1002,
        objects_spilled: 1,
        bytes_spilled: MIB2_ENCODED,
        limit: LIMIT,
    };
    // The small object stays in memory: the big one never could.
    assert_eq!(rt.memory(), placed);
    assert_eq!(
        fs::metadata(spill_file(&rt, &big)).unwrap().len(),
        SPILL_HEADER + MIB2_ENCODED
    );

    assert_bytes_eq(&big.get().unwrap(), &pattern(2, 2 * MIB), "big object");
    assert_bytes_eq(
        &big.get().unwrap(),
        &pattern(2, 2 * MIB),
        "big object again",
    );
    assert_eq!(small.get().unwrap(), vec![1u8; 1000]);
    assert_eq!(rt.memory(), placed);

    drop(big);
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_spilled: 0,
            bytes_spilled: 0,
            ..placed
        }
    );
    assert_eq!(entries(rt.spill_dir()), BTreeSet::new());
    drop(small);
    assert_eq!(rt.memory(), empty(LIMIT));
}

#[test]
fn object_filling_the_limit_exactly_stays_in_memory() {
    const LIMIT: u64 = MIB as u64;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    // 1,048,573 bytes + a 3-byte varint = exactly the limit.
    let exact = rustyray::put(vec![7u8; MIB - 3]).unwrap();
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_in_memory: 1,
            bytes_in_memory: LIMIT,
            ..empty(LIMIT)
        }
    );
    // One more byte goes to disk, and the full memory is not disturbed.
    let over = rustyray::put(vec![8u8; MIB - 2]).unwrap();
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_in_memory: 1,
            bytes_in_memory: LIMIT,
            objects_spilled: 1,
            bytes_spilled: LIMIT + 1,
            limit: LIMIT,
        }
    );
    assert_eq!(over.get().unwrap(), vec![8u8; MIB - 2]);
    assert_eq!(exact.get().unwrap(), vec![7u8; MIB - 3]);
}

#[test]
fn awaiting_a_spilled_ref_reads_it_from_disk() {
    let rt = rustyray::init(Config::default().object_store_memory(MIB as u64)).unwrap();
    let big = rustyray::put(pattern(15, 2 * MIB)).unwrap();
    assert_eq!(rt.memory().objects_spilled, 1);

    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let r = big.clone();
    let read = tokio.block_on(rt.scope(async move { r.await })).unwrap();
    assert_bytes_eq(&read, &pattern(15, 2 * MIB), "awaited object");
    assert_eq!(rt.memory().objects_spilled, 1);
}

#[test]
fn least_recently_read_object_is_spilled_first() {
    // Two 100,003-byte objects fit under the limit, three do not.
    const LIMIT: u64 = 250_000;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();

    let a = rustyray::put(vec![1u8; 100_000]).unwrap();
    let b = rustyray::put(vec![2u8; 100_000]).unwrap();
    // `a` is read after `b` was stored: `b` is now the least recently read.
    assert_eq!(a.get().unwrap(), vec![1u8; 100_000]);
    let c = rustyray::put(vec![3u8; 100_000]).unwrap();

    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_in_memory: 2,
            bytes_in_memory: 2 * 100_003,
            objects_spilled: 1,
            bytes_spilled: 100_003,
            limit: LIMIT,
        }
    );
    assert_eq!(
        entries(rt.spill_dir()),
        BTreeSet::from([spill_file_name(&b)]),
        "the object spilled should be b ({}), not the just-read a ({})",
        b.id(),
        a.id()
    );
    assert_eq!(b.get().unwrap(), vec![2u8; 100_000]);
    assert_eq!(c.get().unwrap(), vec![3u8; 100_000]);
}

#[test]
fn corrupt_spill_file_reads_as_object_lost_with_a_checksum_reason() {
    const LIMIT: u64 = MIB as u64;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    let in_memory = rustyray::put(vec![4u8; 1000]).unwrap();
    let corrupt = rustyray::put(pattern(5, 2 * MIB)).unwrap();
    let intact = rustyray::put(pattern(6, 2 * MIB)).unwrap();

    // Flip one byte in the middle of the payload.
    let path = spill_file(&rt, &corrupt);
    let offset = SPILL_HEADER + 1_000_000;
    let original = fs::read(&path).unwrap()[offset as usize];
    let mut file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(&[!original]).unwrap();
    drop(file);

    for attempt in 0..2 {
        match corrupt.get() {
            Err(Error::ObjectLost { object, reason }) => {
                assert_eq!(object, corrupt.id().to_string(), "attempt {attempt}");
                assert!(
                    reason.contains("checksum"),
                    "attempt {attempt}: reason {reason:?} does not mention the checksum"
                );
            }
            other => panic!(
                "attempt {attempt}: expected ObjectLost, got {:?}",
                other.map(|v| v.len())
            ),
        }
    }

    // The rest of the store is unaffected.
    assert_bytes_eq(
        &intact.get().unwrap(),
        &pattern(6, 2 * MIB),
        "intact object",
    );
    assert_eq!(in_memory.get().unwrap(), vec![4u8; 1000]);

    drop(corrupt);
    assert_eq!(
        entries(rt.spill_dir()),
        BTreeSet::from([spill_file_name(&intact)])
    );
    drop((intact, in_memory));
    assert_eq!(rt.memory(), empty(LIMIT));
}

#[test]
fn missing_or_truncated_spill_file_reads_as_object_lost_naming_the_object() {
    const LIMIT: u64 = MIB as u64;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    let missing = rustyray::put(pattern(7, 2 * MIB)).unwrap();
    let truncated = rustyray::put(pattern(8, 2 * MIB)).unwrap();
    let intact = rustyray::put(pattern(9, 2 * MIB)).unwrap();

    fs::remove_file(spill_file(&rt, &missing)).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(spill_file(&rt, &truncated))
        .unwrap()
        .set_len(SPILL_HEADER + 1000)
        .unwrap();

    match missing.get() {
        Err(Error::ObjectLost { object, .. }) => assert_eq!(object, missing.id().to_string()),
        other => panic!("expected ObjectLost, got {:?}", other.map(|v| v.len())),
    }
    match truncated.get() {
        Err(Error::ObjectLost { object, .. }) => assert_eq!(object, truncated.id().to_string()),
        other => panic!("expected ObjectLost, got {:?}", other.map(|v| v.len())),
    }
    assert_bytes_eq(
        &intact.get().unwrap(),
        &pattern(9, 2 * MIB),
        "intact object",
    );

    drop((missing, truncated, intact));
    assert_eq!(rt.memory(), empty(LIMIT));
    assert_eq!(entries(rt.spill_dir()), BTreeSet::new());
}

#[rustyray::remote]
fn bytes_checksum(bytes: Vec<u8>) -> u64 {
    checksum(&bytes)
}

#[test]
fn task_whose_spilled_argument_is_corrupt_fails_with_object_lost() {
    const LIMIT: u64 = MIB as u64;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    let arg = rustyray::put(pattern(10, 2 * MIB)).unwrap();
    let path = spill_file(&rt, &arg);
    let mut bytes = fs::read(&path).unwrap();
    bytes[SPILL_HEADER as usize + 12_345] ^= 0xff;
    fs::write(&path, bytes).unwrap();

    match bytes_checksum::remote(&arg).unwrap().get() {
        Err(Error::ObjectLost { object, reason }) => {
            assert_eq!(object, arg.id().to_string());
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("expected ObjectLost, got {other:?}"),
    }
}

#[rustyray::remote]
fn make_bytes(i: u64, len: u64) -> Vec<u8> {
    pattern(i as usize, len as usize)
}

#[test]
fn unwritable_spill_dir_refuses_the_put_that_needs_it_with_store_full() {
    // Creating a directory under a regular file fails, even as root.
    const LIMIT: u64 = MIB as u64;
    const LEN: usize = 300_000;
    const SIZE: u64 = 300_003;
    let file = TempPath::new("spill-dir-under-a-file");
    fs::write(&file.0, b"not a directory").unwrap();
    let rt = rustyray::init(
        Config::default()
            .object_store_memory(LIMIT)
            .spill_dir(file.0.join("sub")),
    )
    .unwrap();

    // Three fit without spilling.
    let kept: Vec<ObjectRef<Vec<u8>>> = (0..3)
        .map(|i| rustyray::put(pattern(i, LEN)).unwrap())
        .collect();
    let full = MemoryStats {
        objects_in_memory: 3,
        bytes_in_memory: 3 * SIZE,
        ..empty(LIMIT)
    };
    assert_eq!(rt.memory(), full);

    // The fourth needs room, which needs the disk.
    match rustyray::put(pattern(3, LEN)) {
        Err(Error::StoreFull { reason }) => {
            for size in [SIZE, 3 * SIZE, LIMIT] {
                assert!(
                    reason.contains(&size.to_string()),
                    "{reason:?} does not mention {size}"
                );
            }
        }
        other => panic!("expected StoreFull, got {:?}", other.map(|r| r.id())),
    }
    // Larger than the limit: straight to the disk, which fails the same way.
    assert!(matches!(
        rustyray::put(pattern(4, 2 * MIB)),
        Err(Error::StoreFull { .. })
    ));
    // A task result that finds no room fails its ref.
    match make_bytes::remote(5, LEN as u64).unwrap().get() {
        Err(Error::StoreFull { reason }) => assert!(reason.contains(&SIZE.to_string()), "{reason}"),
        other => panic!("expected StoreFull, got {:?}", other.map(|v| v.len())),
    }

    // Nothing stored was lost, and memory never passed the limit.
    assert_eq!(rt.memory(), full);
    for (i, r) in kept.iter().enumerate() {
        assert_bytes_eq(&r.get().unwrap(), &pattern(i, LEN), &format!("object {i}"));
    }
    drop(kept);
    assert_store_empties(&rt);
    drop(rt);
    assert!(file.0.is_file(), "the file in the way is left alone");
}

#[derive(Debug, Serialize, Deserialize)]
struct Holder {
    inner: ObjectRef<Vec<u8>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct PaddedHolder {
    inner: ObjectRef<Vec<u8>>,
    pad: Vec<u8>,
}

#[test]
fn object_written_straight_to_disk_keeps_the_object_its_ref_points_to() {
    const LIMIT: u64 = MIB as u64;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();

    let inner = rustyray::put(vec![4u8; 1000]).unwrap();
    let holder = rustyray::put(PaddedHolder {
        inner: inner.clone(),
        pad: pattern(11, 2 * MIB),
    })
    .unwrap();
    let placed = MemoryStats {
        objects_in_memory: 1,
        bytes_in_memory: 1002,
        objects_spilled: 1,
        bytes_spilled: ref_len(&inner) + MIB2_ENCODED,
        limit: LIMIT,
    };
    drop(inner);
    assert_eq!(rt.memory(), placed, "the spilled holder keeps its target");

    let read = holder.get().unwrap();
    assert_bytes_eq(&read.pad, &pattern(11, 2 * MIB), "padding");
    assert_eq!(read.inner.get().unwrap(), vec![4u8; 1000]);
    drop(read);
    assert_eq!(rt.memory(), placed);

    drop(holder);
    assert_eq!(rt.memory(), empty(LIMIT));
    assert_eq!(entries(rt.spill_dir()), BTreeSet::new());
}

#[test]
fn spilled_object_holding_a_ref_keeps_its_target_and_resolves_it_from_disk() {
    const LIMIT: u64 = MIB as u64;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();

    let inner = rustyray::put(vec![4u8; 1000]).unwrap();
    let holder = rustyray::put(Holder {
        inner: inner.clone(),
    })
    .unwrap();
    let holder_size = ref_len(&inner);
    drop(inner);
    // An object of exactly the limit needs every byte: both older objects
    // (the inner one first) go to disk.
    let filler = rustyray::put(vec![0u8; MIB - 3]).unwrap();
    let placed = MemoryStats {
        objects_in_memory: 1,
        bytes_in_memory: LIMIT,
        objects_spilled: 2,
        bytes_spilled: 1002 + holder_size,
        limit: LIMIT,
    };
    assert_eq!(rt.memory(), placed);
    assert_eq!(entries(rt.spill_dir()).len(), 2);

    let inner = holder.get().unwrap().inner;
    assert_eq!(inner.get().unwrap(), vec![4u8; 1000]);
    drop(inner);
    assert_eq!(rt.memory(), placed);

    drop(filler);
    drop(holder);
    assert_eq!(rt.memory(), empty(LIMIT));
    assert_eq!(entries(rt.spill_dir()), BTreeSet::new());
}

#[test]
fn objects_read_concurrently_while_puts_force_spilling_read_back_correctly() {
    // 512 KiB objects (524,291 bytes encoded): 7 fit under 4 MiB.
    const LIMIT: u64 = 4 << 20;
    const LEN: usize = 512 << 10;
    const READ: usize = 8;
    const MORE: usize = 48;
    const READERS: usize = 4;
    const MIN_ROUNDS: usize = 3;

    let guard = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    let rt: Runtime = guard.clone();
    let expected: Arc<Vec<Vec<u8>>> = Arc::new((0..READ).map(|i| pattern(i, LEN)).collect());
    let read_set: Arc<Vec<ObjectRef<Vec<u8>>>> = Arc::new(
        expected
            .iter()
            .map(|v| rustyray::put(v.clone()).unwrap())
            .collect(),
    );
    let done = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicUsize::new(0));

    let readers: Vec<_> = (0..READERS)
        .map(|t| {
            let (rt, expected, read_set, done, reads) = (
                rt.clone(),
                Arc::clone(&expected),
                Arc::clone(&read_set),
                Arc::clone(&done),
                Arc::clone(&reads),
            );
            std::thread::spawn(move || {
                let mut round = 0;
                while round < MIN_ROUNDS || !done.load(Ordering::Acquire) {
                    for k in 0..READ {
                        let i = (k + t) % READ; // readers start at different objects
                        let value = read_set[i].get().unwrap();
                        assert_bytes_eq(&value, &expected[i], &format!("reader {t}, object {i}"));
                        reads.fetch_add(1, Ordering::Relaxed);
                        assert!(rt.memory().bytes_in_memory <= LIMIT);
                    }
                    round += 1;
                }
            })
        })
        .collect();

    let mut more = Vec::with_capacity(MORE);
    for i in 0..MORE {
        more.push(rustyray::put(pattern(READ + i, LEN)).unwrap());
        let m = rt.memory();
        assert!(m.bytes_in_memory <= LIMIT, "after put {i}: {m:?}");
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        reader.join().expect("a reader failed");
    }
    assert!(reads.load(Ordering::Relaxed) >= READERS * MIN_ROUNDS * READ);

    let m = rt.memory();
    assert_eq!(
        m.objects_in_memory + m.objects_spilled,
        (READ + MORE) as u64
    );
    assert!(m.objects_spilled >= (READ + MORE) as u64 - 7, "{m:?}");
    for (i, r) in read_set.iter().chain(&more).enumerate() {
        assert_bytes_eq(&r.get().unwrap(), &pattern(i, LEN), &format!("object {i}"));
    }
    drop(more);
    drop(read_set);
    assert_eq!(rt.memory(), empty(LIMIT));
    assert_eq!(entries(rt.spill_dir()), BTreeSet::new());
}

#[test]
fn tasks_take_spilled_arguments_and_return_spilled_results_correctly() {
    // Only one 8 MiB object fits under 16 MiB: two would pass it by 8 bytes.
    const LIMIT: u64 = 16 << 20;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();

    let args: Vec<ObjectRef<Vec<u8>>> = (0..3)
        .map(|i| rustyray::put(pattern(i, MIB8)).unwrap())
        .collect();
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_in_memory: 1,
            bytes_in_memory: MIB8_ENCODED,
            objects_spilled: 2,
            bytes_spilled: 2 * MIB8_ENCODED,
            limit: LIMIT,
        }
    );
    let sums: Vec<ObjectRef<u64>> = args
        .iter()
        .map(|r| bytes_checksum::remote(r).unwrap())
        .collect();
    for (i, sum) in sums.iter().enumerate() {
        assert_eq!(
            sum.get().unwrap(),
            checksum(&pattern(i, MIB8)),
            "argument {i}"
        );
    }
    drop((args, sums));
    assert_store_empties(&rt);

    // Results that do not fit spill too: whatever order the three tasks
    // finish in, one 8 MiB result stays in memory.
    let made: Vec<ObjectRef<Vec<u8>>> = (10..13)
        .map(|i| make_bytes::remote(i, MIB8 as u64).unwrap())
        .collect();
    assert_eq!(rustyray::wait(&made, 3, None).unwrap().0.len(), 3);
    let placed = MemoryStats {
        objects_in_memory: 1,
        bytes_in_memory: MIB8_ENCODED,
        objects_spilled: 2,
        bytes_spilled: 2 * MIB8_ENCODED,
        limit: LIMIT,
    };
    assert_eq!(rt.memory(), placed);

    // They feed the next tasks, from disk or memory; the small checksums
    // fit next to the one in memory.
    let sums: Vec<ObjectRef<u64>> = made
        .iter()
        .map(|r| bytes_checksum::remote(r).unwrap())
        .collect();
    let mut sums_bytes = 0;
    for (k, (r, sum)) in made.iter().zip(&sums).enumerate() {
        let expected = pattern(10 + k, MIB8);
        let expected_sum = checksum(&expected);
        assert_eq!(sum.get().unwrap(), expected_sum, "result {k}");
        assert_bytes_eq(&r.get().unwrap(), &expected, &format!("result {k}"));
        sums_bytes += varint_len(expected_sum);
    }
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_in_memory: 4,
            bytes_in_memory: MIB8_ENCODED + sums_bytes,
            ..placed
        }
    );

    drop((made, sums));
    assert_store_empties(&rt);
    assert_eq!(entries(rt.spill_dir()), BTreeSet::new());
}

#[test]
fn configured_spill_dir_that_did_not_exist_is_created_and_removed_at_shutdown() {
    let dir = TempPath::new("fresh-spill-dir");
    let rt = rustyray::init(
        Config::default()
            .object_store_memory(MIB as u64)
            .spill_dir(&dir.0),
    )
    .unwrap();
    assert_eq!(rt.spill_dir(), dir.0);
    assert!(!dir.0.exists());

    let big = rustyray::put(pattern(12, 2 * MIB)).unwrap();
    assert_eq!(entries(&dir.0), BTreeSet::from([spill_file_name(&big)]));
    assert_bytes_eq(&big.get().unwrap(), &pattern(12, 2 * MIB), "big object");

    drop(rt);
    assert!(
        !dir.0.exists(),
        "the directory the runtime created is removed"
    );
    drop(big);
}

#[test]
fn existing_spill_dir_is_kept_and_only_our_files_are_removed() {
    let dir = TempPath::new("existing-spill-dir");
    fs::create_dir(&dir.0).unwrap();
    fs::write(dir.0.join("theirs.spill"), b"someone else's").unwrap();
    let rt = rustyray::init(
        Config::default()
            .object_store_memory(MIB as u64)
            .spill_dir(&dir.0),
    )
    .unwrap();

    let a = rustyray::put(pattern(13, 2 * MIB)).unwrap();
    let b = rustyray::put(pattern(14, 2 * MIB)).unwrap();
    assert_eq!(
        entries(&dir.0),
        BTreeSet::from([
            "theirs.spill".to_string(),
            spill_file_name(&a),
            spill_file_name(&b)
        ])
    );

    drop(a);
    assert_eq!(
        entries(&dir.0),
        BTreeSet::from(["theirs.spill".to_string(), spill_file_name(&b)])
    );

    // Shutdown removes our files even while a ref is held, and leaves the
    // directory and what else is in it.
    let handle: Runtime = rt.clone();
    drop(rt);
    assert_eq!(
        entries(&dir.0),
        BTreeSet::from(["theirs.spill".to_string()])
    );
    assert_eq!(handle.memory(), empty(MIB as u64));
    drop(b);
    assert_eq!(
        fs::read(dir.0.join("theirs.spill")).unwrap(),
        b"someone else's"
    );
}
