//! [`FastHash`]: a multiplicative hasher for keys RustyRay makes itself.

use std::hash::{BuildHasherDefault, Hasher};

/// Builds [`FastHasher`]s, for `HashMap<K, V, FastHash>`.
pub(crate) type FastHash = BuildHasherDefault<FastHasher>;

/// FxHash's step: one rotate, xor and multiply per word. For keys that are
/// counters, addresses or names a user gave, never adversarial input, on
/// paths where SipHash's cost shows (a lane's running calls, the counts
/// of ended tasks by name, the refs a `wait` checks for duplicates).
#[derive(Default)]
pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::FastHash;

    #[test]
    fn sequential_keys_are_found_and_removed() {
        let mut map: HashMap<u64, u64, FastHash> = HashMap::default();
        map.extend((0..10_000).map(|n| (n, n * 2)));
        assert_eq!(map.len(), 10_000);
        assert!((0..10_000).all(|n| map.remove(&n) == Some(n * 2)));
        assert!(map.is_empty());
    }
}
