//! Spilling: `Config::object_store_memory` is a hard limit on bytes in
//! memory; objects beyond it go to disk (those not read lately first, or
//! straight to disk when larger than the limit) and are read back
//! transparently and checked, and brought back into memory when there is
//! room again. Each runtime spills into its own directory under
//! `Config::spill_dir` (`Runtime::spill_dir`): an object alone in
//! `<object id>.<n>.spill`, small objects of one batch together in a shared
//! `pack-<n>.spill`. A missing or corrupt file is `ObjectLost`, a disk that
//! cannot take the object is `StoreFull`, and a runtime deletes its own
//! files (and no one else's) as objects are freed and at shutdown.
//!
//! Sizes are bytes of the postcard encoding: a `Vec<u8>` of `n` bytes is
//! `varint(n) + n`, so an 8 MiB buffer is 8,388,608 + 4 = 8,388,612 bytes.

mod common;

use std::any::type_name;
use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{died, ref_len, varint_len, wait_until};
use rustyray::{Config, Error, MemoryStats, ObjectRef, Runtime};
use serde::{Deserialize, Serialize};

const MIB: usize = 1 << 20;
/// An 8 MiB buffer and its encoded size (4-byte varint length).
const MIB8: usize = 8 << 20;
const MIB8_ENCODED: u64 = 8_388_612;
/// A 2 MiB buffer (2^21 bytes) needs a 4-byte varint length.
const MIB2_ENCODED: u64 = 2_097_156;
/// A spill record's header: magic, object id (runtime id and index),
/// payload length, CRC-32.
const SPILL_HEADER: u64 = 8 + 16 + 8 + 4;

/// How long a condition may take to become true before a test gives up.
/// It bounds a wait; it is not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(30);

fn empty(limit: u64) -> MemoryStats {
    MemoryStats {
        objects_in_memory: 0,
        bytes_in_memory: 0,
        objects_spilled: 0,
        bytes_spilled: 0,
        spilled_total: 0,
        restored_total: 0,
        limit,
    }
}

/// An empty store that has spilled `spilled` objects and restored
/// `restored` in its life.
fn drained(limit: u64, spilled: u64, restored: u64) -> MemoryStats {
    MemoryStats {
        spilled_total: spilled,
        restored_total: restored,
        ..empty(limit)
    }
}

/// Waits for running tasks to let go of their cells, then checks the store
/// is empty, having spilled `spilled` and restored `restored` objects.
fn assert_store_empties(rt: &Runtime, spilled: u64, restored: u64) {
    let limit = rt.memory().limit;
    let expected = drained(limit, spilled, restored);
    wait_until("the store is empty", || {
        let m = rt.memory();
        m.objects_in_memory == 0 && m.objects_spilled == 0
    });
    assert_eq!(rt.memory(), expected);
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

/// Where `r`'s object is on disk: file, record offset, record length.
fn location<T>(rt: &Runtime, r: &ObjectRef<T>) -> (PathBuf, u64, u64) {
    rt.__spill_location(r)
        .unwrap_or_else(|| panic!("{} is not spilled", r.id()))
}

/// The file of an object spilled alone, checked to be its own:
/// `<object id>.<n>.spill` in the runtime's directory, the object's record
/// first and only.
fn spill_file<T>(rt: &Runtime, r: &ObjectRef<T>) -> PathBuf {
    let (path, offset, len) = location(rt, r);
    assert_eq!(path.parent(), Some(rt.spill_dir()));
    let name = file_name(&path);
    let number = name
        .strip_prefix(&format!("{}.", r.id()))
        .and_then(|rest| rest.strip_suffix(".spill"))
        .unwrap_or_else(|| panic!("{name} is not a file of {} alone", r.id()));
    assert!(number.parse::<u64>().is_ok(), "{name}");
    assert_eq!(offset, 0);
    assert_eq!(fs::metadata(&path).unwrap().len(), len);
    path
}

/// The name of the file of an object spilled alone (see [`spill_file`]).
fn spill_file_name<T>(rt: &Runtime, r: &ObjectRef<T>) -> String {
    file_name(&spill_file(rt, r))
}

/// The name of an entry of a directory.
fn file_name(path: &Path) -> String {
    path.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_else(|| panic!("{} has no name", path.display()))
        .to_string()
}

/// `len` bytes that differ per `(owner, i)`: [`pattern`], stamped with
/// the owner and the index in its first 16 bytes.
fn owned(owner: u64, i: usize, len: usize) -> Vec<u8> {
    let mut bytes = pattern(i, len);
    bytes[..8].copy_from_slice(&owner.to_le_bytes());
    bytes[8..16].copy_from_slice(&(i as u64).to_le_bytes());
    bytes
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
        spilled_total: SPILLED,
        restored_total: 0,
        limit: LIMIT,
    };
    assert_eq!(rt.memory(), placed);
    // Nothing was read, so the oldest went to disk: objects this large get
    // a file each, named by their id, and no temporary file is left.
    let oldest: BTreeSet<String> = refs[..SPILLED as usize]
        .iter()
        .map(|r| spill_file_name(&rt, r))
        .collect();
    assert_eq!(entries(&dir), oldest);
    for r in &refs[..SPILLED as usize] {
        assert_eq!(
            location(&rt, r),
            (
                dir.join(spill_file_name(&rt, r)),
                0,
                SPILL_HEADER + MIB8_ENCODED
            )
        );
    }

    for (i, r) in refs.iter().enumerate() {
        let read = r.get().unwrap();
        assert_bytes_eq(&read.0, &pattern(i, MIB8), &format!("object {i}"));
    }
    // Memory is full: reading a spilled object cannot bring it back
    // without spilling another, so it stays on disk.
    assert_eq!(rt.memory(), placed);

    drop(refs);
    assert_eq!(rt.memory(), drained(LIMIT, SPILLED, 0));
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
    assert_eq!(entries(&dir), BTreeSet::from([spill_file_name(&a, &big)]));

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
        spilled_total: 1,
        restored_total: 0,
        limit: LIMIT,
    };
    // The small object stays in memory: the big one never could.
    assert_eq!(rt.memory(), placed);
    assert_eq!(location(&rt, &big).2, SPILL_HEADER + MIB2_ENCODED);
    assert_eq!(
        fs::metadata(spill_file(&rt, &big)).unwrap().len(),
        SPILL_HEADER + MIB2_ENCODED
    );
    assert_eq!(rt.__spill_location(&small), None);

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
    assert_eq!(rt.memory(), drained(LIMIT, 1, 0));
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
            spilled_total: 1,
            restored_total: 0,
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
            spilled_total: 1,
            restored_total: 0,
            limit: LIMIT,
        }
    );
    assert_eq!(
        entries(rt.spill_dir()),
        BTreeSet::from([spill_file_name(&rt, &b)]),
        "the object spilled should be b ({}), not the just-read a ({})",
        b.id(),
        a.id()
    );
    assert_eq!(rt.__spill_location(&a), None);
    assert_eq!(rt.__spill_location(&c), None);
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
        BTreeSet::from([spill_file_name(&rt, &intact)])
    );
    drop((intact, in_memory));
    assert_eq!(rt.memory(), drained(LIMIT, 2, 0));
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
        Err(Error::ObjectLost { object, reason }) => {
            assert_eq!(object, missing.id().to_string());
            assert!(reason.contains("cannot open"), "{reason}");
        }
        other => panic!("expected ObjectLost, got {:?}", other.map(|v| v.len())),
    }
    match truncated.get() {
        Err(Error::ObjectLost { object, reason }) => {
            assert_eq!(object, truncated.id().to_string());
            assert!(reason.contains("truncated"), "{reason}");
        }
        other => panic!("expected ObjectLost, got {:?}", other.map(|v| v.len())),
    }
    assert_bytes_eq(
        &intact.get().unwrap(),
        &pattern(9, 2 * MIB),
        "intact object",
    );

    drop((missing, truncated, intact));
    assert_eq!(rt.memory(), drained(LIMIT, 3, 0));
    assert_eq!(entries(rt.spill_dir()), BTreeSet::new());
}

#[test]
fn spill_file_holding_another_objects_record_reads_as_object_lost_naming_both() {
    // What a shared flat directory did: one object's file replaced by
    // another's, of the very same length.
    const LIMIT: u64 = MIB as u64;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    let mine = rustyray::put(pattern(15, 2 * MIB)).unwrap();
    let theirs = rustyray::put(pattern(16, 2 * MIB)).unwrap();
    fs::copy(spill_file(&rt, &theirs), spill_file(&rt, &mine)).unwrap();

    match mine.get() {
        Err(Error::ObjectLost { object, reason }) => {
            assert_eq!(object, mine.id().to_string());
            assert!(
                reason.contains(&format!("names object {}, not this one", theirs.id())),
                "{reason}"
            );
        }
        other => panic!("expected ObjectLost, got {:?}", other.map(|v| v.len())),
    }
    assert_bytes_eq(&theirs.get().unwrap(), &pattern(16, 2 * MIB), "theirs");
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
    assert_store_empties(&rt, 0, 0);
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
        spilled_total: 1,
        restored_total: 0,
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
    assert_eq!(rt.memory(), drained(LIMIT, 1, 0));
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
    // go to disk, in one batch, so (being small) into one shared file: the
    // inner one first, the holder right after its 1,002 bytes.
    let filler = rustyray::put(vec![0u8; MIB - 3]).unwrap();
    let placed = MemoryStats {
        objects_in_memory: 1,
        bytes_in_memory: LIMIT,
        objects_spilled: 2,
        bytes_spilled: 1002 + holder_size,
        spilled_total: 2,
        restored_total: 0,
        limit: LIMIT,
    };
    assert_eq!(rt.memory(), placed);
    let (pack, offset, len) = location(&rt, &holder);
    assert_eq!(entries(rt.spill_dir()), BTreeSet::from([file_name(&pack)]));
    assert!(file_name(&pack).starts_with("pack-"), "{}", pack.display());
    assert_eq!(
        (offset, len),
        (SPILL_HEADER + 1002, SPILL_HEADER + holder_size)
    );
    assert_eq!(
        fs::metadata(&pack).unwrap().len(),
        2 * SPILL_HEADER + 1002 + holder_size
    );

    let inner = holder.get().unwrap().inner;
    assert_eq!(location(&rt, &inner), (pack, 0, SPILL_HEADER + 1002));
    assert_eq!(inner.get().unwrap(), vec![4u8; 1000]);
    drop(inner);
    assert_eq!(rt.memory(), placed);

    drop(filler);
    drop(holder);
    assert_eq!(rt.memory(), drained(LIMIT, 2, 0));
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
    // How many spills and restores the race took varies; the store is
    // empty either way, and no restore happened without a spill first.
    let end = rt.memory();
    assert_eq!(end, drained(LIMIT, end.spilled_total, end.restored_total));
    assert!(end.spilled_total >= (READ + MORE) as u64 - 7, "{end:?}");
    assert!(end.restored_total <= end.spilled_total, "{end:?}");
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
            spilled_total: 2,
            restored_total: 0,
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
    // One in memory was never room enough to bring another back.
    assert_store_empties(&rt, 2, 0);

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
        spilled_total: 4,
        restored_total: 0,
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
    assert_store_empties(&rt, 4, 0);
    assert_eq!(entries(rt.spill_dir()), BTreeSet::new());
}

/// The name of a runtime's own spill directory.
fn own_dir_name(rt: &Runtime) -> String {
    format!("rustyray-{}-{}", std::process::id(), rt.id().as_u64())
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
    assert_eq!(rt.spill_dir(), dir.0.join(own_dir_name(&rt)));
    assert!(!dir.0.exists());

    let big = rustyray::put(pattern(12, 2 * MIB)).unwrap();
    assert_eq!(entries(&dir.0), BTreeSet::from([own_dir_name(&rt)]));
    assert_eq!(
        entries(rt.spill_dir()),
        BTreeSet::from([spill_file_name(&rt, &big)])
    );
    assert_bytes_eq(&big.get().unwrap(), &pattern(12, 2 * MIB), "big object");

    drop(rt);
    assert!(
        !dir.0.exists(),
        "the directory the runtime created is removed once empty"
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
    let own = rt.spill_dir().to_path_buf();

    let a = rustyray::put(pattern(13, 2 * MIB)).unwrap();
    let b = rustyray::put(pattern(14, 2 * MIB)).unwrap();
    assert_eq!(
        entries(&dir.0),
        BTreeSet::from(["theirs.spill".to_string(), own_dir_name(&rt)])
    );
    assert_eq!(
        entries(&own),
        BTreeSet::from([spill_file_name(&rt, &a), spill_file_name(&rt, &b)])
    );
    // Someone else's file in our own directory, too.
    fs::write(own.join("theirs-too.spill"), b"not ours either").unwrap();

    drop(a);
    assert_eq!(
        entries(&own),
        BTreeSet::from(["theirs-too.spill".to_string(), spill_file_name(&rt, &b)])
    );

    // Shutdown removes our files even while a ref is held, and leaves the
    // directories and what else is in them.
    let handle: Runtime = rt.clone();
    drop(rt);
    assert_eq!(
        entries(&dir.0),
        BTreeSet::from(["theirs.spill".to_string(), own_dir_name(&handle)])
    );
    assert_eq!(
        entries(&own),
        BTreeSet::from(["theirs-too.spill".to_string()])
    );
    assert_eq!(handle.memory(), drained(MIB as u64, 2, 0));
    drop(b);
    assert_eq!(
        fs::read(dir.0.join("theirs.spill")).unwrap(),
        b"someone else's"
    );
    assert_eq!(
        fs::read(own.join("theirs-too.spill")).unwrap(),
        b"not ours either"
    );
}

#[test]
fn spill_dir_removed_by_hand_is_made_again_by_the_next_spill() {
    const LIMIT: u64 = MIB as u64;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    let gone = rustyray::put(pattern(20, 2 * MIB)).unwrap();
    fs::remove_dir_all(rt.spill_dir()).unwrap();

    let next = rustyray::put(pattern(21, 2 * MIB)).unwrap();
    assert_eq!(
        entries(rt.spill_dir()),
        BTreeSet::from([spill_file_name(&rt, &next)])
    );
    assert_bytes_eq(&next.get().unwrap(), &pattern(21, 2 * MIB), "next");
    match gone.get() {
        Err(Error::ObjectLost { object, reason }) => {
            assert_eq!(object, gone.id().to_string());
            assert!(reason.contains("cannot open"), "{reason}");
        }
        other => panic!("expected ObjectLost, got {:?}", other.map(|v| v.len())),
    }
    let dir = rt.spill_dir().to_path_buf();
    drop(rt);
    assert!(!dir.exists());
}

// ------------------------------------------------ one spill dir, many runtimes

/// The limit of the runtimes that share a spill directory.
const SHARED_LIMIT: u64 = MIB as u64;

/// Sizes that make both kinds of file: every fourth object (300 KiB) gets
/// a file of its own, the 2 KiB ones between are spilled in batches that
/// share one.
fn mixed_len(i: usize) -> usize {
    if i % 4 == 3 {
        300 << 10
    } else {
        2 << 10
    }
}

/// Puts `count` objects stamped with `owner` into `rt`, which spills most
/// of them, and checks that both kinds of spill file were made.
fn put_owned(rt: &Runtime, owner: u64, count: usize) -> Vec<ObjectRef<Vec<u8>>> {
    let refs: Vec<_> = (0..count)
        .map(|i| rt.put(owned(owner, i, mixed_len(i))).unwrap())
        .collect();
    let files: Vec<String> = refs
        .iter()
        .filter_map(|r| rt.__spill_location(r))
        .map(|(path, _, _)| file_name(&path))
        .collect();
    assert!(files.iter().any(|f| f.starts_with("pack-")), "{files:?}");
    assert!(files.iter().any(|f| f.starts_with("obj-")), "{files:?}");
    refs
}

/// Reads every object of `owner` back, byte for byte.
fn assert_owned(owner: u64, refs: &[ObjectRef<Vec<u8>>]) {
    for (i, r) in refs.iter().enumerate() {
        assert_bytes_eq(
            &r.get().unwrap(),
            &owned(owner, i, mixed_len(i)),
            &format!("object {i} of owner {owner}"),
        );
    }
}

fn shared_config(dir: &Path) -> Config {
    Config::default()
        .object_store_memory(SHARED_LIMIT)
        .spill_dir(dir)
}

#[test]
fn two_runtimes_sharing_a_spill_dir_keep_and_delete_only_their_own_files() {
    let dir = TempPath::new("shared-in-process");
    let a = rustyray::init(shared_config(&dir.0)).unwrap();
    let b = rustyray::init(shared_config(&dir.0)).unwrap();

    let a_refs = put_owned(&a, 1, 40);
    let b_refs = put_owned(&b, 2, 40);
    assert_eq!(
        entries(&dir.0),
        BTreeSet::from([own_dir_name(&a), own_dir_name(&b)])
    );
    // Both spilled the same sequence of sizes, so their shared files have
    // the same names: only their own directories keep them apart.
    let packs = |rt: &Runtime| -> BTreeSet<String> {
        entries(rt.spill_dir())
            .into_iter()
            .filter(|f| f.starts_with("pack-"))
            .collect()
    };
    assert!(!packs(&a).is_empty());
    assert_eq!(packs(&a), packs(&b));
    assert_owned(1, &a_refs);
    assert_owned(2, &b_refs);

    // The first to shut down deletes its files and directory, nothing of
    // the other's; it created the parent, which is not empty, so it stays.
    let b_files = entries(b.spill_dir());
    a.shutdown();
    assert_eq!(entries(&dir.0), BTreeSet::from([own_dir_name(&b)]));
    assert_eq!(entries(b.spill_dir()), b_files);
    assert_owned(2, &b_refs);

    // The second did not create the parent: it leaves it, empty.
    b.shutdown();
    assert_eq!(entries(&dir.0), BTreeSet::new());
}

/// The variable that makes [`spill_dir_shared_with_a_parent_process`] run:
/// the directory to share.
const SHARED_DIR_ENV: &str = "RUSTYRAY_TEST_SHARED_SPILL_DIR";
/// What the child prints before each thing it tells the parent.
const CHILD_SAYS: &str = "spill child: ";
const CHILD_OWNER: u64 = 3;

/// The child half of
/// [`two_processes_sharing_a_spill_dir_keep_their_own_objects`]; does
/// nothing when run on its own.
#[test]
fn spill_dir_shared_with_a_parent_process() {
    let Some(dir) = std::env::var_os(SHARED_DIR_ENV) else {
        return;
    };
    let rt = rustyray::init(shared_config(Path::new(&dir))).unwrap();
    let refs = put_owned(&rt, CHILD_OWNER, 40);
    assert_owned(CHILD_OWNER, &refs);
    println!("{CHILD_SAYS}spilled {}", rt.spill_dir().display());

    // The parent shuts one of its runtimes down, then says so.
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "check", "the parent's word");
    assert_owned(CHILD_OWNER, &refs);

    let own = rt.spill_dir().to_path_buf();
    drop(rt);
    assert!(!own.exists(), "{} outlived its runtime", own.display());
    println!("{CHILD_SAYS}done");
}

/// This test binary, running one test in a child process that talks over
/// its stdin and stdout; killed if still running when dropped.
struct ChildTest {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// What the child printed that was not meant for the parent.
    other_lines: Vec<String>,
    stderr: Option<JoinHandle<String>>,
}

impl ChildTest {
    fn spawn(test: &str, env: (&str, &Path)) -> ChildTest {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([test, "--exact", "--nocapture"])
            .env(env.0, env.1)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut text);
            text
        });
        ChildTest {
            stdin: child.stdin.take(),
            child,
            lines,
            other_lines: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// Kills the child (if still running) and returns what it printed.
    fn output(&mut self) -> String {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        let stderr = self
            .stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default();
        format!(
            "stdout:\n{}\nstderr:\n{stderr}",
            self.other_lines.join("\n")
        )
    }

    /// The rest of the next line the child says that starts with `what`,
    /// within [`PATIENCE`].
    fn expect(&mut self, what: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line
                        .strip_prefix(CHILD_SAYS)
                        .and_then(|l| l.strip_prefix(what))
                    {
                        return rest.to_string();
                    }
                    self.other_lines.push(line);
                }
                Err(err) => panic!("the child did not say `{what}` ({err}); {}", self.output()),
            }
        }
    }

    fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits (within [`PATIENCE`]) for the child to close its output and
    /// exit, and checks that its test passed.
    fn assert_passed(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.other_lines.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(err) => panic!("the child did not exit ({err}); {}", self.output()),
            }
        }
        let status = self.child.wait().unwrap();
        let passed = self.other_lines.iter().any(|l| l.contains("1 passed"));
        if !status.success() || !passed {
            panic!("the child failed ({status}); {}", self.output());
        }
    }
}

impl Drop for ChildTest {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn two_processes_sharing_a_spill_dir_keep_their_own_objects() {
    let dir = TempPath::new("shared-between-processes");
    fs::create_dir(&dir.0).unwrap();
    let mut child = ChildTest::spawn(
        "spill_dir_shared_with_a_parent_process",
        (SHARED_DIR_ENV, &dir.0),
    );
    // While the child spills into the directory, two runtimes here do too.
    let p1 = rustyray::init(shared_config(&dir.0)).unwrap();
    let p2 = rustyray::init(shared_config(&dir.0)).unwrap();
    let p1_refs = put_owned(&p1, 1, 40);
    let p2_refs = put_owned(&p2, 2, 40);

    let child_dir = PathBuf::from(child.expect("spilled "));
    assert_eq!(child_dir.parent(), Some(dir.0.as_path()));
    let prefix = format!("rustyray-{}-", child.child.id());
    assert!(
        file_name(&child_dir).starts_with(&prefix),
        "{}",
        child_dir.display()
    );
    let child_files = entries(&child_dir);
    assert!(!child_files.is_empty());
    assert_eq!(
        entries(&dir.0),
        BTreeSet::from([own_dir_name(&p1), own_dir_name(&p2), file_name(&child_dir)])
    );
    // Every object reads back with its own bytes, none with the child's.
    assert_owned(1, &p1_refs);
    assert_owned(2, &p2_refs);

    // A runtime here shuts down: its files go, and only its files.
    let p1_dir = p1.spill_dir().to_path_buf();
    p1.shutdown();
    assert!(
        !p1_dir.exists(),
        "{} outlived its runtime",
        p1_dir.display()
    );
    assert_eq!(entries(&child_dir), child_files);
    assert_owned(2, &p2_refs);

    // The child reads its objects back, then shuts down.
    child.say("check");
    child.expect("done");
    child.assert_passed();
    assert!(!child_dir.exists());
    assert_owned(2, &p2_refs);

    // The test made the directory: the runtimes leave it, empty.
    p2.shutdown();
    assert_eq!(entries(&dir.0), BTreeSet::new());
}

// ------------------------------------ what a spilled value's refs point to

#[rustyray::actor]
struct Greeter {
    greeting: String,
}

#[rustyray::actor]
impl Greeter {
    fn new(greeting: String) -> Self {
        Greeter { greeting }
    }

    fn greet(&self, name: String) -> String {
        format!("{}, {name}", self.greeting)
    }
}

/// A value whose refs and handles point where a lookup by id cannot
/// reach: another runtime's object and a killed actor.
#[derive(Serialize, Deserialize)]
struct Entangled {
    foreign: ObjectRef<Vec<u8>>,
    dead: GreeterHandle,
    alive: GreeterHandle,
    pad: Vec<u8>,
}

#[test]
fn spilled_value_holding_a_dead_actor_and_another_runtimes_ref_reads_back_as_in_memory() {
    const LIMIT: u64 = MIB as u64;
    let other = rustyray::init(Config::default().name("other")).unwrap();
    let foreign = other.put(owned(7, 0, 1000)).unwrap();
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    let dead = Greeter::remote("Hello".to_string()).unwrap();
    let alive = Greeter::remote("Hi".to_string()).unwrap();
    rustyray::kill(&dead).unwrap();
    let entangled = |pad: Vec<u8>| Entangled {
        foreign: foreign.clone(),
        dead: dead.clone(),
        alive: alive.clone(),
        pad,
    };
    let check = |read: Result<Entangled, Error>, pad: &[u8], what: &str| {
        let read = read.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(read.foreign.id(), foreign.id(), "{what}");
        assert_eq!(read.foreign.get().unwrap(), owned(7, 0, 1000), "{what}");
        assert_eq!(read.dead.id(), dead.id(), "{what}");
        assert!(died(read.dead.greet("x".to_string()).and_then(|r| r.get())).contains("killed"));
        assert_eq!(read.alive.id(), alive.id(), "{what}");
        assert_eq!(
            read.alive.greet("you".to_string()).unwrap().get().unwrap(),
            "Hi, you",
            "{what}"
        );
        assert_bytes_eq(&read.pad, pad, what);
    };

    let held = rt.put(entangled(pattern(1, 1000))).unwrap();
    check(held.get(), &pattern(1, 1000), "in memory");

    // An object of exactly the limit sends it to disk.
    let filler = rt.put(vec![0u8; MIB - 3]).unwrap();
    location(&rt, &held);
    check(held.get(), &pattern(1, 1000), "spilled");

    // A value larger than the limit goes straight to disk.
    let big = rt.put(entangled(pattern(2, 2 * MIB))).unwrap();
    spill_file(&rt, &big);
    check(big.get(), &pattern(2, 2 * MIB), "written straight to disk");

    // With room again, the first comes back into memory, and still reads
    // the same.
    drop(filler);
    check(held.get(), &pattern(1, 1000), "restored");
    assert_eq!(rt.__spill_location(&held), None);
    assert_eq!(rt.memory().restored_total, 1);
    check(held.get(), &pattern(1, 1000), "in memory again");
}

// --------------------------------------- user code that runs while spilling

#[derive(Debug, Clone, Copy, PartialEq)]
enum Failure {
    Panic,
    Error,
}

/// A value whose `Serialize` works `works` times (the first is the store
/// measuring it), then fails as `how` says.
#[derive(Debug)]
struct Fragile {
    pad: Vec<u8>,
    works: u32,
    calls: AtomicU32,
    how: Failure,
}

impl Fragile {
    fn new(pad: Vec<u8>, works: u32, how: Failure) -> Fragile {
        Fragile {
            pad,
            works,
            calls: AtomicU32::new(0),
            how,
        }
    }

    /// The error a read of one that fails gives.
    fn error(how: Failure) -> String {
        let cause = match how {
            Failure::Panic => "its `Serialize` panicked: fragile value refuses to serialize",
            Failure::Error => "Serde Serialization Error",
        };
        format!(
            "a `{}` could not be serialized: {cause}",
            type_name::<Fragile>()
        )
    }
}

impl Serialize for Fragile {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.works {
            return self.pad.serialize(serializer);
        }
        match self.how {
            Failure::Panic => panic!("fragile value refuses to serialize"),
            Failure::Error => Err(serde::ser::Error::custom(
                "fragile value refuses to serialize",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Fragile {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Fragile::new(
            Vec::deserialize(deserializer)?,
            u32::MAX,
            Failure::Error,
        ))
    }
}

fn assert_serialization_error<T: std::fmt::Debug>(read: Result<T, Error>, expected: &str) {
    match read {
        Err(Error::Serialization(message)) => assert_eq!(message, expected),
        other => panic!("expected Serialization({expected:?}), got {other:?}"),
    }
}

/// A value whose `Serialize` fails when spilling picks it: it stays in
/// memory, never picked again, and every other put goes on.
fn fragile_value_stays_in_memory_and_other_puts_spill_around_it(how: Failure) {
    const LIMIT: u64 = MIB as u64;
    const LEN: usize = 300_000;
    const SIZE: u64 = 300_003;
    const FRAGILE: u64 = 600_003;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    let fragile = rt.put(Fragile::new(pattern(0, 600_000), 1, how)).unwrap();
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_in_memory: 1,
            bytes_in_memory: FRAGILE,
            ..empty(LIMIT)
        }
    );

    // From the second on, each put needs room: the first sweep picks the
    // fragile value, whose `Serialize` fails; the others go to disk.
    let refs: Vec<ObjectRef<Vec<u8>>> = (1..=10)
        .map(|i| {
            rt.put(pattern(i, LEN))
                .unwrap_or_else(|e| panic!("put {i}, unrelated to the fragile value: {e}"))
        })
        .collect();
    let placed = MemoryStats {
        objects_in_memory: 2,
        bytes_in_memory: FRAGILE + SIZE,
        objects_spilled: 9,
        bytes_spilled: 9 * SIZE,
        spilled_total: 9,
        restored_total: 0,
        limit: LIMIT,
    };
    assert_eq!(rt.memory(), placed);
    assert_eq!(rt.__spill_location(&fragile), None);
    for (i, r) in refs.iter().enumerate() {
        assert_bytes_eq(&r.get().unwrap(), &pattern(i + 1, LEN), &format!("put {i}"));
    }
    assert_eq!(rt.memory(), placed);

    // Only its own reads fail, with its own error.
    assert_serialization_error(fragile.get(), &Fragile::error(how));
    // One that must go straight to disk refuses its own put, and only it.
    assert_serialization_error(
        rt.put(Fragile::new(pattern(11, 2 * MIB), 1, how)),
        &Fragile::error(how),
    );
    assert_eq!(rt.memory(), placed);
    let after = rt.put(pattern(12, LEN)).unwrap();
    assert_bytes_eq(&after.get().unwrap(), &pattern(12, LEN), "a later put");

    drop((refs, fragile, after));
    assert_eq!(rt.memory(), drained(LIMIT, 10, 0));
}

#[test]
fn value_whose_serialize_panics_while_spilling_stays_in_memory_and_puts_go_on() {
    fragile_value_stays_in_memory_and_other_puts_spill_around_it(Failure::Panic);
}

#[test]
fn value_whose_serialize_fails_while_spilling_stays_in_memory_and_puts_go_on() {
    fragile_value_stays_in_memory_and_other_puts_spill_around_it(Failure::Error);
}

#[test]
fn value_whose_serialize_always_fails_counts_as_zero_bytes_and_is_never_spilled() {
    const LIMIT: u64 = MIB as u64;
    const LEN: usize = 300_000;
    const SIZE: u64 = 300_003;
    for how in [Failure::Panic, Failure::Error] {
        let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
        // Even measuring it fails: 0 bytes, however large it is.
        let broken = rt.put(Fragile::new(pattern(0, 2 * MIB), 0, how)).unwrap();
        assert_eq!(
            rt.memory(),
            MemoryStats {
                objects_in_memory: 1,
                ..empty(LIMIT)
            },
            "{how:?}"
        );
        // Three fit; the fourth spills the oldest of them, not it.
        let refs: Vec<ObjectRef<Vec<u8>>> =
            (1..=4).map(|i| rt.put(pattern(i, LEN)).unwrap()).collect();
        assert_eq!(
            rt.memory(),
            MemoryStats {
                objects_in_memory: 4,
                bytes_in_memory: 3 * SIZE,
                objects_spilled: 1,
                bytes_spilled: SIZE,
                spilled_total: 1,
                restored_total: 0,
                limit: LIMIT,
            },
            "{how:?}"
        );
        location(&rt, &refs[0]);
        assert_eq!(rt.__spill_location(&broken), None);
        assert_serialization_error(broken.get(), &Fragile::error(how));
    }
}

/// A value whose `Drop` panics while it is armed; decoded copies are not.
#[derive(Serialize, Deserialize)]
struct Grenade {
    pad: Vec<u8>,
    #[serde(skip)]
    armed: bool,
}

impl Drop for Grenade {
    fn drop(&mut self) {
        if std::mem::take(&mut self.armed) {
            panic!("a grenade went off");
        }
    }
}

#[test]
fn value_whose_drop_panics_when_spilled_hits_no_other_put() {
    const LIMIT: u64 = MIB as u64;
    const LEN: usize = 600_000;
    const SIZE: u64 = 600_003;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    let grenade = rt
        .put(Grenade {
            pad: pattern(1, LEN),
            armed: true,
        })
        .unwrap();
    // This put's room comes from spilling the grenade, whose drop panics.
    let other = rt
        .put(pattern(2, LEN))
        .expect("a put that spills a value whose drop panics");
    let placed = MemoryStats {
        objects_in_memory: 1,
        bytes_in_memory: SIZE,
        objects_spilled: 1,
        bytes_spilled: SIZE,
        spilled_total: 1,
        restored_total: 0,
        limit: LIMIT,
    };
    assert_eq!(rt.memory(), placed);
    let read = grenade.get().unwrap();
    assert!(!read.armed);
    assert_bytes_eq(&read.pad, &pattern(1, LEN), "the grenade's bytes");
    assert_bytes_eq(&other.get().unwrap(), &pattern(2, LEN), "the other put");
    assert_eq!(rt.memory(), placed);
    // And later puts spill as usual.
    let third = rt.put(pattern(3, LEN)).unwrap();
    assert_eq!(rt.memory().spilled_total, 2);
    assert_bytes_eq(&third.get().unwrap(), &pattern(3, LEN), "a later put");
}

// ------------------------------------------------ batches and shared files

#[test]
fn small_objects_spilled_together_share_a_file_deleted_with_the_last_of_them() {
    // 1 KiB objects (1,026 bytes encoded): 63 fit under 64 KiB.
    const LIMIT: u64 = 64 << 10;
    const LEN: usize = 1024;
    const SIZE: u64 = 1026;
    const RECORD: u64 = SPILL_HEADER + SIZE;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    let mut refs: Vec<ObjectRef<Vec<u8>>> =
        (0..63).map(|i| rt.put(pattern(i, LEN)).unwrap()).collect();
    assert_eq!(rt.memory().objects_spilled, 0);
    // The oldest was just read: the sweep passes it over.
    assert_eq!(refs[0].get().unwrap(), pattern(0, LEN));

    // The 64th needs room. One sweep frees enough for it to fit under the
    // low-water mark (limit - limit / 8 = 57,344 bytes): 9 objects, the
    // oldest unread ones, all into one shared file.
    refs.push(rt.put(pattern(63, LEN)).unwrap());
    let placed = MemoryStats {
        objects_in_memory: 55,
        bytes_in_memory: 55 * SIZE,
        objects_spilled: 9,
        bytes_spilled: 9 * SIZE,
        spilled_total: 9,
        restored_total: 0,
        limit: LIMIT,
    };
    assert_eq!(rt.memory(), placed);
    let (pack, _, _) = location(&rt, &refs[1]);
    assert!(file_name(&pack).starts_with("pack-"), "{}", pack.display());
    for (k, r) in refs[1..=9].iter().enumerate() {
        assert_eq!(location(&rt, r), (pack.clone(), k as u64 * RECORD, RECORD));
    }
    assert_eq!(rt.__spill_location(&refs[0]), None);
    for r in &refs[10..] {
        assert_eq!(rt.__spill_location(r), None);
    }
    assert_eq!(entries(rt.spill_dir()), BTreeSet::from([file_name(&pack)]));
    assert_eq!(fs::metadata(&pack).unwrap().len(), 9 * RECORD);
    for (i, r) in refs.iter().enumerate().skip(10) {
        assert_eq!(r.get().unwrap(), pattern(i, LEN), "object {i}");
    }

    let mut spilled: Vec<_> = refs.drain(1..=9).collect();
    // Freeing some of them keeps the file.
    drop(spilled.drain(..4));
    assert_eq!(rt.memory().objects_spilled, 5);
    assert_eq!(entries(rt.spill_dir()), BTreeSet::from([file_name(&pack)]));
    // Reading one brings it back into memory (there is room now); the
    // file stays for the others.
    let restored = spilled.remove(0);
    assert_eq!(restored.get().unwrap(), pattern(5, LEN));
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_in_memory: 56,
            bytes_in_memory: 56 * SIZE,
            objects_spilled: 4,
            bytes_spilled: 4 * SIZE,
            spilled_total: 9,
            restored_total: 1,
            limit: LIMIT,
        }
    );
    assert_eq!(rt.__spill_location(&restored), None);
    assert_eq!(entries(rt.spill_dir()), BTreeSet::from([file_name(&pack)]));
    // The last object in it takes the file along.
    let last = spilled.pop().unwrap();
    drop(spilled);
    assert_eq!(rt.memory().objects_spilled, 1);
    assert!(pack.exists());
    drop(last);
    assert_eq!(rt.memory().objects_spilled, 0);
    assert_eq!(entries(rt.spill_dir()), BTreeSet::new());
}

#[test]
fn threads_putting_small_objects_past_the_limit_keep_every_object() {
    // 1 KiB objects (1,026 bytes encoded), 4 threads: 8,000 objects, 8 MB,
    // under a 256 KiB limit.
    const LIMIT: u64 = 256 << 10;
    const THREADS: usize = 4;
    const EACH: usize = 2_000;
    const LEN: usize = 1024;
    const SIZE: u64 = 1026;
    let guard = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    let rt: Runtime = guard.clone();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let rt = rt.clone();
            std::thread::spawn(move || {
                let refs: Vec<ObjectRef<Vec<u8>>> = (0..EACH)
                    .map(|i| {
                        let r = rt.put(owned(t as u64, i, LEN)).unwrap();
                        let m = rt.memory();
                        assert!(m.bytes_in_memory <= LIMIT, "{m:?}");
                        r
                    })
                    .collect();
                // Read every other one back while the others still put.
                for (i, r) in refs.iter().enumerate().step_by(2) {
                    assert_eq!(r.get().unwrap(), owned(t as u64, i, LEN));
                }
                refs
            })
        })
        .collect();
    let refs: Vec<Vec<ObjectRef<Vec<u8>>>> = threads
        .into_iter()
        .map(|t| t.join().expect("a putting thread failed"))
        .collect();

    let m = rt.memory();
    assert_eq!(
        m.objects_in_memory + m.objects_spilled,
        (THREADS * EACH) as u64
    );
    assert_eq!(
        m.bytes_in_memory + m.bytes_spilled,
        (THREADS * EACH) as u64 * SIZE
    );
    assert!(m.bytes_in_memory <= LIMIT, "{m:?}");
    for (t, refs) in refs.iter().enumerate() {
        for (i, r) in refs.iter().enumerate() {
            assert_eq!(
                r.get().unwrap(),
                owned(t as u64, i, LEN),
                "thread {t}, object {i}"
            );
        }
    }
    drop(refs);
    let end = rt.memory();
    assert_eq!(end, drained(LIMIT, end.spilled_total, end.restored_total));
    assert_eq!(entries(rt.spill_dir()), BTreeSet::new());
}

// ----------------------------------------------------------------- restore

#[test]
fn spilled_object_read_when_there_is_room_is_restored_and_counted() {
    const LIMIT: u64 = MIB as u64;
    const LEN: usize = 600_000;
    const SIZE: u64 = 600_003;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    let a = rt.put(pattern(1, LEN)).unwrap();
    let b = rt.put(pattern(2, LEN)).unwrap();
    let spilled = MemoryStats {
        objects_in_memory: 1,
        bytes_in_memory: SIZE,
        objects_spilled: 1,
        bytes_spilled: SIZE,
        spilled_total: 1,
        restored_total: 0,
        limit: LIMIT,
    };
    assert_eq!(rt.memory(), spilled);
    let file = spill_file(&rt, &a);
    // No room: read from disk, and left there.
    assert_bytes_eq(&a.get().unwrap(), &pattern(1, LEN), "a, no room");
    assert_eq!(rt.memory(), spilled);

    drop(b);
    let room = MemoryStats {
        objects_in_memory: 0,
        bytes_in_memory: 0,
        ..spilled
    };
    assert_eq!(rt.memory(), room);
    // Read as another type (a ref retyped as `ObjectRef<Bytes>`, whose
    // encoding matches): read from disk, not restored.
    let as_bytes: ObjectRef<Bytes> = {
        let _entered = rt.enter();
        common::retype(&a)
    };
    assert_bytes_eq(&as_bytes.get().unwrap().0, &pattern(1, LEN), "as Bytes");
    assert_eq!(rt.memory(), room);
    assert!(file.exists());

    // Read as what it was stored as, with room: restored, its file gone.
    assert_bytes_eq(&a.get().unwrap(), &pattern(1, LEN), "a, restored");
    let restored = MemoryStats {
        objects_in_memory: 1,
        bytes_in_memory: SIZE,
        objects_spilled: 0,
        bytes_spilled: 0,
        spilled_total: 1,
        restored_total: 1,
        limit: LIMIT,
    };
    assert_eq!(rt.memory(), restored);
    assert_eq!(rt.__spill_location(&a), None);
    assert_eq!(entries(rt.spill_dir()), BTreeSet::new());
    assert_bytes_eq(&a.get().unwrap(), &pattern(1, LEN), "a, in memory");
    assert_eq!(rt.memory(), restored);

    // Spilled again to make room (its read marked it recently used, which
    // only buys it one pass of the sweep)...
    let c = rt.put(pattern(3, LEN)).unwrap();
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_spilled: 1,
            bytes_spilled: SIZE,
            spilled_total: 2,
            ..restored
        }
    );
    let again = spill_file(&rt, &a);
    assert_ne!(again, file, "a new file: no name is used twice");
    // ...and not restored while that would need spilling another.
    assert_bytes_eq(&a.get().unwrap(), &pattern(1, LEN), "a, full again");
    assert_eq!(rt.memory().restored_total, 1);
    assert_bytes_eq(&c.get().unwrap(), &pattern(3, LEN), "c");
}
