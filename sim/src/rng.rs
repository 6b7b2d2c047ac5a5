//! Seeded random streams. Every component (each link, each node, a workload, the generated and
//! imported networks, the drawn faults) draws from its own ChaCha20 stream whose seed is
//! SHA-256(root seed ‖ label), so adding a component leaves every other stream unchanged. Every
//! label a run uses is a [`StreamId`], listed here and nowhere else (as TigerBeetle's simulator
//! derives every sub-seed in one place). Sampling is written here, with integer results and
//! `libm` for the few float functions, so a stream's output never depends on a crate's algorithm
//! choices or on the platform's `ln`/`exp`.

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

/// Every random stream of a run. Its [`label`](StreamId::label) is what the sub-seed is derived
/// from: changing one changes every trace that draws from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamId<'a> {
    /// `node/<name>`: a node's own stream (preimages, payment secrets, temporary channel ids),
    /// handed to node-core as a seed.
    Node(&'a str),
    /// `link/<a>/<b>`: latency of the peer link between two nodes, named in id order.
    Link(&'a str, &'a str),
    /// `http/<a>/<b>`: latency of application traffic (shops and customers) between two nodes.
    Http(&'a str, &'a str),
    /// `workload`: arrivals, endpoints and amounts of the payment workload.
    Workload,
    /// `import/balance`: starting balances drawn for an imported network.
    ImportBalance,
    /// `generate`: the wiring, capacities and balances of a generated network.
    Generate,
    /// `generate/fees`: the forwarding policies of a generated network.
    GenerateFees,
    /// `faults/crash/<name>`: a node's random crashes and their lengths.
    FaultCrash(&'a str),
    /// `faults/partition/<name>`: partitions isolating a node, and their lengths.
    FaultPartition(&'a str),
    /// `faults/spike/<name>`: latency spikes on a node's links.
    FaultSpike(&'a str),
    /// `faults/close/<index>`: unilateral closes of the `index`-th channel of the start.
    FaultClose(usize),
    /// `views/<name>`: which channels of the start a node does not know.
    View(&'a str),
}

impl StreamId<'_> {
    /// The label the stream's seed is derived from.
    pub fn label(&self) -> String {
        match self {
            StreamId::Node(name) => format!("node/{name}"),
            StreamId::Link(a, b) => format!("link/{a}/{b}"),
            StreamId::Http(a, b) => format!("http/{a}/{b}"),
            StreamId::Workload => "workload".into(),
            StreamId::ImportBalance => "import/balance".into(),
            StreamId::Generate => "generate".into(),
            StreamId::GenerateFees => "generate/fees".into(),
            StreamId::FaultCrash(name) => format!("faults/crash/{name}"),
            StreamId::FaultPartition(name) => format!("faults/partition/{name}"),
            StreamId::FaultSpike(name) => format!("faults/spike/{name}"),
            StreamId::FaultClose(index) => format!("faults/close/{index}"),
            StreamId::View(name) => format!("views/{name}"),
        }
    }

    /// The seed of this stream under `root`.
    pub fn seed(&self, root: u64) -> [u8; 32] {
        sub_seed(root, &self.label())
    }

    /// This stream under `root`.
    pub fn stream(&self, root: u64) -> Stream {
        Stream::new(root, &self.label())
    }
}

/// The seed of the stream named `label` under `root`.
pub fn sub_seed(root: u64, label: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(root.to_be_bytes());
    hasher.update(label.as_bytes());
    hasher.finalize().into()
}

/// A random stream with the sampling the simulator needs.
#[derive(Clone, Debug)]
pub struct Stream(ChaCha20Rng);

impl Stream {
    /// The stream named `label` under `root`. A run names its streams by [`StreamId`]; other
    /// labels are for tests and benchmarks.
    pub fn new(root: u64, label: &str) -> Stream {
        Stream(ChaCha20Rng::from_seed(sub_seed(root, label)))
    }

    /// 32 random bytes.
    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut bytes = [0u8; 32];
        self.0.fill_bytes(&mut bytes);
        bytes
    }

    /// A uniform integer in `0..n` (`n > 0`), without modulo bias (Lemire's method).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "invariant: sampling from an empty range");
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.0.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// A uniform integer in `lo..=hi`.
    pub fn range_inclusive(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "invariant: empty range");
        match (hi - lo).checked_add(1) {
            Some(span) => lo + self.below(span),
            None => self.0.next_u64(),
        }
    }

    /// A uniform float in `[0, 1)` with 53 random bits.
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal sample (Box–Muller, with `libm`).
    pub fn standard_normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // (0, 1]
        let u2 = self.unit();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * core::f64::consts::PI * u2)
    }

    /// A log-normal sample with the given median and shape `sigma`, rounded to an integer.
    pub fn log_normal(&mut self, median: u64, sigma: f64) -> u64 {
        let value = median as f64 * libm::exp(sigma * self.standard_normal());
        float_to_u64(value)
    }

    /// An exponential sample with the given mean, rounded to an integer.
    pub fn exponential(&mut self, mean: u64) -> u64 {
        let u = 1.0 - self.unit(); // (0, 1]
        float_to_u64(-(mean as f64) * libm::log(u))
    }
}

/// Rounds a non-negative float to the nearest integer, saturating.
fn float_to_u64(value: f64) -> u64 {
    if value.is_nan() || value <= 0.0 {
        0
    } else if value >= u64::MAX as f64 {
        u64::MAX
    } else {
        libm::round(value) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED_FIRST_DRAW: u64 = 419_270;

    #[test]
    fn streams_depend_on_root_and_label_only() {
        let mut a = Stream::new(7, "node/alice");
        let mut b = Stream::new(7, "node/alice");
        let mut c = Stream::new(7, "node/bob");
        let mut d = Stream::new(8, "node/alice");
        let first = a.below(1 << 40);
        assert_eq!(first, b.below(1 << 40));
        assert_ne!(first, c.below(1 << 40));
        assert_ne!(first, d.below(1 << 40));
    }

    #[test]
    fn chacha20_and_the_seed_derivation_are_pinned() {
        // ChaCha20 with a zero key: the first keystream word of RFC 7539's test vector.
        let mut zero = ChaCha20Rng::from_seed([0; 32]);
        assert_eq!(zero.next_u32(), 0xade0b876);
        // The sub-seed is SHA-256 of the big-endian root seed followed by the label.
        let mut message = 2016u64.to_be_bytes().to_vec();
        message.extend_from_slice(b"chain");
        assert_eq!(sub_seed(2016, "chain"), <[u8; 32]>::from(Sha256::digest(&message)));
        // If this changes, every recorded trace changes.
        assert_eq!(Stream::new(2016, "chain").below(1_000_000), PINNED_FIRST_DRAW);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut s = Stream::new(1, "t");
        let mut seen = [0u32; 5];
        for _ in 0..10_000 {
            seen[s.below(5) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (1_700..2_300).contains(&n)), "{seen:?}");
        assert_eq!(s.range_inclusive(3, 3), 3);
        assert_ne!(
            s.range_inclusive(0, u64::MAX),
            s.range_inclusive(0, u64::MAX),
            "the full range draws raw words"
        );
    }

    #[test]
    fn distributions_have_the_right_centre() {
        let mut s = Stream::new(3, "t");
        let n = 20_000;
        let mean = (0..n).map(|_| s.exponential(1000)).sum::<u64>() / n;
        assert!((950..1050).contains(&mean), "{mean}");
        let mut samples: Vec<u64> = (0..n).map(|_| s.log_normal(50, 0.5)).collect();
        samples.sort();
        let median = samples[samples.len() / 2];
        assert!((48..=52).contains(&median), "{median}");
    }
}
