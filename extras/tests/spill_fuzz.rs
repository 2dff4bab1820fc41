//! Spill files damaged on disk (flipped, cut, overwritten, replaced,
//! extended or deleted, alone or packed with other objects): every object
//! reads back as its own bytes if its record is untouched, else as
//! `ObjectLost` naming it; never another value, never a panic.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;
use rustyray::{Config, Error, ObjectRef, Runtime};

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(30);

/// A recognisable buffer: object `i`, `len` bytes.
fn pattern(i: usize, len: usize) -> Vec<u8> {
    let mut bytes = vec![i as u8; len];
    for (k, j) in (0..len).step_by(4096).enumerate() {
        bytes[j] = (k as u8).wrapping_add((i as u8).wrapping_mul(31)) ^ 0x5a;
    }
    bytes
}

/// Compares two buffers without printing them whole on failure.
fn assert_bytes_eq(actual: &[u8], expected: &[u8], what: &str) {
    assert!(
        actual == expected,
        "{what}: {} bytes read, {} expected, first difference at {:?}",
        actual.len(),
        expected.len(),
        actual.iter().zip(expected).position(|(a, b)| a != b)
    );
}

/// Where `r`'s object is on disk: file, record offset, record length.
fn location<T>(rt: &Runtime, r: &ObjectRef<T>) -> (PathBuf, u64, u64) {
    rt.__spill_location(r)
        .unwrap_or_else(|| panic!("{} is not spilled", r.id()))
}

/// What a case does to the file holding the objects it reads.
#[derive(Debug, Clone)]
enum Damage {
    /// XOR one byte (a mask of 0 changes nothing).
    Flip { at: usize, mask: u8 },
    /// Cut the file to `to` bytes (past its end changes nothing).
    Truncate { to: usize },
    /// Overwrite bytes from `at` on.
    Overwrite { at: usize, bytes: Vec<u8> },
    /// Replace the whole file.
    Replace { bytes: Vec<u8> },
    /// Add bytes at the end (changes no record).
    Append { bytes: Vec<u8> },
    /// Delete the file.
    Remove,
}

impl Damage {
    /// The file's new content (`None`: no file).
    fn apply(&self, old: &[u8]) -> Option<Vec<u8>> {
        let mut new = old.to_vec();
        match self {
            Damage::Flip { at, mask } => {
                let at = at % old.len();
                new[at] ^= mask;
            }
            Damage::Truncate { to } => new.truncate(to % (old.len() + 8)),
            Damage::Overwrite { at, bytes } => {
                let at = at % old.len();
                let end = (at + bytes.len()).min(old.len());
                new[at..end].copy_from_slice(&bytes[..end - at]);
            }
            Damage::Replace { bytes } => new = bytes.clone(),
            Damage::Append { bytes } => new.extend_from_slice(bytes),
            Damage::Remove => return None,
        }
        Some(new)
    }
}

fn damage() -> impl Strategy<Value = Damage> {
    let bytes = proptest::collection::vec(any::<u8>(), 0..64);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, mask)| Damage::Flip { at, mask }),
        any::<usize>().prop_map(|to| Damage::Truncate { to }),
        (any::<usize>(), bytes.clone()).prop_map(|(at, bytes)| Damage::Overwrite { at, bytes }),
        proptest::collection::vec(any::<u8>(), 0..2048).prop_map(|bytes| Damage::Replace { bytes }),
        bytes.prop_map(|bytes| Damage::Append { bytes }),
        Just(Damage::Remove),
    ]
}

/// Damages the file of `target` (alone in it, or packed with others) and
/// reads back every object: each is its own bytes if its record is
/// untouched, else `ObjectLost` naming it; never another value, never a
/// panic.
fn read_back_after(packed: bool, damage: &Damage) {
    const LIMIT: u64 = 64 << 10;
    const LEN: usize = 1024;
    let rt = rustyray::init(Config::default().object_store_memory(LIMIT)).unwrap();
    // 64 small objects: the last put packs 9 into one file (see
    // `small_objects_spilled_together_share_a_file_deleted_with_the_last_of_them`),
    // and one object larger than the limit gets a file of its own.
    let mut refs: Vec<(ObjectRef<Vec<u8>>, Vec<u8>)> = (0..64)
        .map(|i| (rt.put(pattern(i, LEN)).unwrap(), pattern(i, LEN)))
        .collect();
    let big = pattern(64, 100_000);
    refs.push((rt.put(big.clone()).unwrap(), big));
    let target = if packed { 0 } else { 64 };
    let (path, _, _) = location(&rt, &refs[target].0);
    let old = fs::read(&path).unwrap();
    let in_file: Vec<(usize, u64, u64)> = refs
        .iter()
        .enumerate()
        .filter_map(|(i, (r, _))| {
            rt.__spill_location(r)
                .filter(|(p, _, _)| *p == path)
                .map(|(_, offset, len)| (i, offset, len))
        })
        .collect();
    assert_eq!(in_file.len(), if packed { 9 } else { 1 });

    let new = damage.apply(&old);
    match &new {
        Some(bytes) => fs::write(&path, bytes).unwrap(),
        None => fs::remove_file(&path).unwrap(),
    }
    for (i, (r, expected)) in refs.iter().enumerate() {
        let record = in_file.iter().find(|(k, _, _)| *k == i);
        let untouched = match (record, &new) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some((_, offset, len)), Some(new)) => {
                let range = *offset as usize..(offset + len) as usize;
                new.get(range.clone()) == old.get(range)
            }
        };
        match r.get() {
            Ok(value) => {
                assert!(untouched, "object {i}: read a value from a damaged record");
                assert_bytes_eq(&value, expected, &format!("object {i}"));
            }
            Err(Error::ObjectLost { object, reason }) => {
                assert!(!untouched, "object {i}: lost though untouched: {reason}");
                assert_eq!(object, r.id().to_string());
            }
            Err(other) => panic!("object {i}: expected its value or ObjectLost, got {other}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(64)
    })]

    #[test]
    fn damaged_spill_file_reads_as_object_lost_or_the_right_value(
        packed in any::<bool>(),
        damage in damage(),
    ) {
        read_back_after(packed, &damage);
    }
}
