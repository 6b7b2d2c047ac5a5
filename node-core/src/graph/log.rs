//! An append-only log that many readers share: entries are written once, never moved, and read
//! without a lock. It holds each gossip message of a run once, whichever nodes hear it (see
//! [`super::GossipLog`]); it knows nothing of what the entries mean.
//!
//! Entries live in chunks of doubling size (1,024, 2,048, ...), allocated when first reached, so
//! an index never moves and a reader needs two atomic loads. Written without `unsafe`: each slot
//! is a `OnceLock`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// Entries in the first chunk; chunk `k` holds `FIRST << k`.
const FIRST: u32 = 1024;
/// Enough chunks for every `u32` index.
const CHUNKS: usize = 23;

/// An append-only sequence of `T`, shared by reference.
#[derive(Debug)]
pub struct AppendLog<T> {
    len: AtomicU32,
    chunks: [OnceLock<Box<[OnceLock<T>]>>; CHUNKS],
}

impl<T> Default for AppendLog<T> {
    fn default() -> AppendLog<T> {
        AppendLog { len: AtomicU32::new(0), chunks: std::array::from_fn(|_| OnceLock::new()) }
    }
}

/// The chunk of `index` and its offset there.
fn locate(index: u32) -> (usize, usize) {
    let scaled = u64::from(index) / u64::from(FIRST) + 1;
    let chunk = 63 - scaled.leading_zeros() as usize;
    let start = u64::from(FIRST) * ((1u64 << chunk) - 1);
    (chunk, (u64::from(index) - start) as usize)
}

impl<T> AppendLog<T> {
    /// Appends `value` and returns its index.
    ///
    /// # Panics
    /// When the log already holds `u32::MAX` entries (a run cannot send that much gossip).
    pub fn push(&self, value: T) -> u32 {
        let index = self.len.fetch_add(1, Ordering::Relaxed);
        assert!(index < u32::MAX, "invariant: fewer than 2^32 gossip messages");
        let (chunk, offset) = locate(index);
        let slots = self.chunks[chunk]
            .get_or_init(|| (0..(FIRST as usize) << chunk).map(|_| OnceLock::new()).collect());
        if slots[offset].set(value).is_err() {
            unreachable!("invariant: each index is handed out once");
        }
        index
    }

    /// The entry at `index`, once written.
    pub fn get(&self, index: u32) -> Option<&T> {
        let (chunk, offset) = locate(index);
        self.chunks.get(chunk)?.get()?.get(offset)?.get()
    }

    /// How many entries have been handed out.
    pub fn len(&self) -> u32 {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether nothing was appended yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_cross_chunk_boundaries_in_order() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(1023), (0, 1023));
        assert_eq!(locate(1024), (1, 0));
        assert_eq!(locate(3071), (1, 2047));
        assert_eq!(locate(3072), (2, 0));
        assert!(locate(u32::MAX - 1).0 < CHUNKS);
        let log = AppendLog::default();
        for i in 0..5000u32 {
            assert_eq!(log.push(i * 3), i);
        }
        assert_eq!(log.len(), 5000);
        assert_eq!(log.get(0), Some(&0));
        assert_eq!(log.get(4999), Some(&14_997));
        assert_eq!(log.get(5000), None);
    }
}
