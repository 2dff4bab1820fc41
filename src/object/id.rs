//! [`ObjectId`]: the name of one object, and [`RuntimeId`]: the globally
//! unique number of the runtime that owns it.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Identifies an object: the runtime that owns it and its index there.
///
/// Globally unique (128 bits): runtime ids are 64 random bits, and each
/// runtime numbers its objects from 1.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectId {
    runtime: RuntimeId,
    index: u64,
}

impl ObjectId {
    pub(crate) fn new(runtime: RuntimeId, index: u64) -> Self {
        ObjectId { runtime, index }
    }

    /// The runtime that owns the object.
    pub fn runtime(&self) -> RuntimeId {
        self.runtime
    }

    /// The object's index within its runtime.
    pub fn index(&self) -> u64 {
        self.index
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "obj-{:016x}-{}", self.runtime.as_u64(), self.index)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Identifies a runtime: 64 random bits, so that ids (and the object,
/// task and actor ids built on them) do not collide across processes,
/// machines and runs. Never 0.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RuntimeId(u64);

impl RuntimeId {
    /// A new id, and the runtime's number in this process (1, 2, …: its
    /// default name).
    pub(crate) fn next() -> (RuntimeId, u64) {
        // A per-process counter (one relaxed increment per `init`: the only
        // process-wide state, and not a lock), mixed with the process id,
        // the time and the OS-seeded keys of `RandomState`.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let seq = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(seq);
        hasher.write_u32(std::process::id());
        let now = SystemTime::now().duration_since(UNIX_EPOCH);
        hasher.write_u128(now.map_or(0, |d| d.as_nanos()));
        (RuntimeId(hasher.finish().max(1)), seq)
    }

    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RuntimeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rt-{:016x}", self.0)
    }
}

impl fmt::Debug for RuntimeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_never_zero() {
        let ids: std::collections::HashSet<_> = (0..1000).map(|_| RuntimeId::next().0).collect();
        assert_eq!(ids.len(), 1000);
        assert!(!ids.contains(&RuntimeId(0)));
    }
}
