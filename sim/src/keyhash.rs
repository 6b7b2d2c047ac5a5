//! A fast hasher with no seed, for maps the simulator looks keys up in and never iterates, so
//! that no order of theirs reaches an output: the links by node pair, the payments and attempts
//! by payer. It owns nothing else; a map that is iterated stays a `BTreeMap`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map keyed by [`KeyHasher`]: look keys up, never iterate it into an output.
pub type KeyMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// One multiply per word and a fold, with no seed (the same hash in every run and process).
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        // A product's low bits depend only on the words' low bits (for a link, the larger id,
        // which all links of a hub with a large id share); the map picks buckets by the low
        // bits, so the high half, which depends on every bit, is folded into them.
        self.0 ^ (self.0 >> 32)
    }
}
