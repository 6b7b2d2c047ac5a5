//! Generated topologies: nodes and channels that exist at the start, drawn from the seed (stream
//! `generate`; fees from `generate/fees`). The wirings: Barabási–Albert preferential attachment
//! (each new node opens `links_per_node` channels to earlier nodes chosen with probability
//! proportional to their degree); a mainnet-like variant calibrated to the 2026-02-03 snapshot
//! (see [`mainnet`]); Erdős–Rényi G(n, M); ring, line, star and grid. Capacities are log-uniform
//! between the given bounds, or mainnet's; balances follow the chosen split. This module only
//! produces channel lists; names, validation and the genesis block are the scenario's and the
//! world's.

use crate::rng::Stream;
use node_core::config::Implementation;
use serde::Deserialize;

/// How the generated graph is wired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum TopologyKind {
    /// Barabási–Albert preferential attachment.
    ScaleFree {
        /// Channels each new node opens to earlier nodes.
        links_per_node: u32,
    },
    /// Barabási–Albert calibrated to the 2026-02-03 mainnet snapshot: each new node opens
    /// ⌈d/2⌉ channels, d drawn from mainnet's degree distribution (so that the mean degree and
    /// the share of single-channel nodes come out near mainnet's); capacities, fees and CLTV
    /// deltas drawn from mainnet's distributions unless `capacity` or `fees` are given.
    MainnetLike,
    /// Erdős–Rényi G(n, M): `channels` distinct node pairs drawn uniformly.
    ErdosRenyi {
        /// How many channels.
        channels: u32,
    },
    /// Node i opens a channel to node i+1, and the last to node 0.
    Ring,
    /// Node i opens a channel to node i+1.
    Line,
    /// Every other node opens a channel to node 0.
    Star,
    /// Rows of `columns` nodes; each opens a channel to its right and lower neighbour.
    Grid {
        /// Nodes per row.
        columns: u32,
    },
}

/// How a channel's value is split between its ends at the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BalanceSplit {
    /// All at the opener.
    Opener,
    /// Half each.
    #[default]
    Even,
    /// Uniform between nothing and everything at the opener, in whole sat (drawn per channel).
    Random,
    /// A fixed share at the opener, in millionths of the capacity.
    Ratio {
        /// The opener's share, ppm (0 to 1000000).
        opener_ppm: u32,
    },
}

impl BalanceSplit {
    /// The opener's starting balance in a channel of `capacity_sat`, sat.
    pub fn opener_sat(self, capacity_sat: u64, stream: &mut Stream) -> u64 {
        match self {
            BalanceSplit::Opener => capacity_sat,
            BalanceSplit::Even => capacity_sat / 2,
            BalanceSplit::Random => stream.range_inclusive(0, capacity_sat),
            BalanceSplit::Ratio { opener_ppm } => {
                (u128::from(capacity_sat) * u128::from(opener_ppm.min(1_000_000)) / 1_000_000)
                    as u64
            }
        }
    }
}

/// Bounds of a generated channel's capacity, sat (log-uniform in between).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacityRange {
    /// Smallest, sat.
    pub min_sat: u64,
    /// Largest, sat.
    pub max_sat: u64,
}

/// A generated network.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateSpec {
    /// The wiring.
    pub kind: TopologyKind,
    /// How many nodes (named `<prefix>0`, `<prefix>1`, ...).
    pub nodes: u32,
    /// Name prefix of the generated nodes.
    #[serde(default = "default_prefix")]
    pub name_prefix: String,
    /// The preset of the generated nodes (`node_defaults` apply on top).
    #[serde(default)]
    pub implementation: Implementation,
    /// Channel capacities (needed unless the kind is `MainnetLike`, which draws mainnet's).
    #[serde(default)]
    pub capacity: Option<CapacityRange>,
    /// Starting balances.
    #[serde(default)]
    pub balance: BalanceSplit,
    /// Whether the channels are public.
    #[serde(default = "yes")]
    pub announce: bool,
    /// Forwarding fees drawn per channel direction (stream `generate/fees`); `None`: each node's
    /// configured policy, or mainnet's distributions for `MainnetLike`.
    #[serde(default)]
    pub fees: Option<FeeSpread>,
}

/// How generated forwarding policies spread: each channel direction draws its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeSpread {
    /// Smallest base fee, msat (uniform up to `base_max_msat`).
    pub base_min_msat: u32,
    /// Largest base fee, msat.
    pub base_max_msat: u32,
    /// Smallest proportional fee, millionths (log-uniform, in `ppm + 1`, up to `ppm_max`).
    pub ppm_min: u32,
    /// Largest proportional fee, millionths.
    pub ppm_max: u32,
    /// Smallest CLTV delta, blocks (uniform up to `cltv_max`).
    pub cltv_min: u16,
    /// Largest CLTV delta, blocks.
    pub cltv_max: u16,
}

impl FeeSpread {
    /// One direction's (base msat, ppm, CLTV delta).
    pub fn draw(&self, stream: &mut Stream) -> (u32, u32, u16) {
        let base =
            stream.range_inclusive(u64::from(self.base_min_msat), u64::from(self.base_max_msat));
        let (lo, hi) = (f64::from(self.ppm_min) + 1.0, f64::from(self.ppm_max) + 1.0);
        let ppm = libm::round(lo * libm::pow(hi / lo, stream.unit())) - 1.0;
        let cltv = stream.range_inclusive(u64::from(self.cltv_min), u64::from(self.cltv_max));
        (base as u32, (ppm as u32).clamp(self.ppm_min, self.ppm_max), cltv as u16)
    }
}

fn default_prefix() -> String {
    "n".to_string()
}

fn yes() -> bool {
    true
}

/// A generated channel: (opener index, peer index, capacity sat, opener balance sat).
pub type GeneratedChannel = (u32, u32, u64, u64);

/// Draws the channels of `spec` from `stream` (node indexes are 0-based within the generated
/// nodes).
pub fn generate(spec: &GenerateSpec, stream: &mut Stream) -> Vec<GeneratedChannel> {
    let n = spec.nodes;
    let pairs: Vec<(u32, u32)> = match spec.kind {
        TopologyKind::ScaleFree { links_per_node } => {
            preferential_attachment(n, stream, |_| links_per_node)
        }
        TopologyKind::MainnetLike => preferential_attachment(n, stream, |stream| {
            mainnet::DEGREE.draw(stream.unit()).div_ceil(2) as u32
        }),
        TopologyKind::ErdosRenyi { channels } => {
            let mut seen = std::collections::BTreeSet::new();
            let wanted = u64::from(channels).min(u64::from(n) * u64::from(n - 1) / 2);
            let mut pairs = Vec::new();
            while (pairs.len() as u64) < wanted {
                let a = stream.below(u64::from(n)) as u32;
                let b = stream.below(u64::from(n)) as u32;
                if a != b && seen.insert((a.min(b), a.max(b))) {
                    pairs.push((a, b));
                }
            }
            pairs
        }
        TopologyKind::Ring => {
            (0..n).map(|i| (i, (i + 1) % n)).filter(|&(a, b)| a < b || n > 2).collect()
        }
        TopologyKind::Line => (0..n - 1).map(|i| (i, i + 1)).collect(),
        TopologyKind::Star => (1..n).map(|i| (i, 0)).collect(),
        TopologyKind::Grid { columns } => {
            let mut pairs = Vec::new();
            for i in 0..n {
                if (i + 1) % columns != 0 && i + 1 < n {
                    pairs.push((i, i + 1));
                }
                if i + columns < n {
                    pairs.push((i, i + columns));
                }
            }
            pairs
        }
    };
    pairs
        .into_iter()
        .map(|(a, b)| {
            let capacity_sat = match spec.capacity {
                Some(range) if range.max_sat > range.min_sat => {
                    let (lo, hi) = (range.min_sat as f64, range.max_sat as f64);
                    libm::round(lo * libm::pow(hi / lo, stream.unit())) as u64
                }
                Some(range) => range.min_sat,
                None => mainnet::CAPACITY_SAT.draw(stream.unit()),
            };
            let opener_sat = spec.balance.opener_sat(capacity_sat, stream);
            (a, b, capacity_sat, opener_sat)
        })
        .collect()
}

/// Barabási–Albert: node i (from 1) opens `links(stream)` channels (at most i) to distinct
/// earlier nodes, each chosen with probability proportional to its degree so far.
fn preferential_attachment(
    n: u32,
    stream: &mut Stream,
    mut links: impl FnMut(&mut Stream) -> u32,
) -> Vec<(u32, u32)> {
    let mut endpoints: Vec<u32> = Vec::new();
    let mut pairs = Vec::new();
    for node in 1..n {
        let mut peers: Vec<u32> = Vec::new();
        let wanted = links(stream).clamp(1, node) as usize;
        let mut tries = 0;
        while peers.len() < wanted && tries < 64 * wanted {
            tries += 1;
            let peer = if endpoints.is_empty() {
                stream.below(u64::from(node)) as u32
            } else {
                endpoints[stream.below(endpoints.len() as u64) as usize]
            };
            if !peers.contains(&peer) {
                peers.push(peer);
            }
        }
        for peer in peers {
            pairs.push((node, peer));
            endpoints.push(node);
            endpoints.push(peer);
        }
    }
    pairs
}

/// Distributions measured on the 2026-02-03 mainnet snapshot (`../shared/data/mainnet`; its
/// README has the headline figures): capacities and degrees over all 50,808 channels and 17,324
/// nodes, fees and CLTV deltas over the 65,810 enabled directions. Quantile tables are sampled by
/// interpolating log(v + 1) linearly between the listed quantiles.
pub mod mainnet {
    use crate::rng::Stream;

    /// An empirical distribution as (cumulative share in ppm, value) points, from 0 to 1000000.
    pub struct Quantiles(pub &'static [(u32, u64)]);

    impl Quantiles {
        /// The value at quantile `u` (0 ≤ u < 1).
        pub fn draw(&self, u: f64) -> u64 {
            let at = u * 1e6;
            let points = self.0;
            let i = points.iter().position(|&(q, _)| f64::from(q) > at).unwrap_or(points.len() - 1);
            let (q0, v0) = points[i.saturating_sub(1)];
            let (q1, v1) = points[i];
            if q1 <= q0 {
                return v1;
            }
            let t = ((at - f64::from(q0)) / f64::from(q1 - q0)).clamp(0.0, 1.0);
            let (l0, l1) = (libm::log((v0 + 1) as f64), libm::log((v1 + 1) as f64));
            (libm::round(libm::exp(l0 + t * (l1 - l0))) as u64)
                .saturating_sub(1)
                .clamp(v0.min(v1), v0.max(v1))
        }
    }

    /// Channel capacity, sat (median 1,283,260; p90 15,665,544).
    pub const CAPACITY_SAT: Quantiles = Quantiles(&[
        (0, 1_050),
        (10_000, 1_500),
        (50_000, 20_000),
        (100_000, 20_000),
        (200_000, 100_000),
        (300_000, 318_438),
        (400_000, 1_000_000),
        (500_000, 1_283_260),
        (600_000, 2_500_000),
        (700_000, 5_000_000),
        (800_000, 8_000_000),
        (900_000, 15_665_544),
        (950_000, 40_000_000),
        (990_000, 200_000_000),
        (1_000_000, 1_000_000_000),
    ]);

    /// Node degree, channels (54% have one; mean 5.87), capped at its 99th percentile (74): the
    /// hubs of the tail grow by preferential attachment rather than by opening.
    pub const DEGREE: Quantiles = Quantiles(&[
        (0, 1),
        (542_000, 1),
        (542_001, 2),
        (707_000, 2),
        (707_001, 3),
        (784_000, 3),
        (784_001, 4),
        (827_000, 4),
        (827_001, 5),
        (900_000, 8),
        (950_000, 17),
        (990_000, 74),
        (1_000_000, 74),
    ]);

    /// Base fee, msat (45% are 0; median 33).
    pub const BASE_FEE_MSAT: Quantiles = Quantiles(&[
        (0, 0),
        (450_000, 0),
        (500_000, 33),
        (600_000, 1_000),
        (950_000, 1_000),
        (990_000, 10_000),
        (1_000_000, 10_000_000),
    ]);

    /// Proportional fee, ppm (median 100; p90 2,000).
    pub const FEE_PPM: Quantiles = Quantiles(&[
        (0, 0),
        (50_000, 0),
        (100_000, 1),
        (200_000, 1),
        (300_000, 3),
        (400_000, 33),
        (500_000, 100),
        (600_000, 262),
        (700_000, 500),
        (800_000, 960),
        (900_000, 2_000),
        (950_000, 3_000),
        (990_000, 10_000),
        (1_000_000, 1_000_000),
    ]);

    /// The most common CLTV deltas, blocks, with their share in per mille (96.5% of directions;
    /// drawn in proportion among themselves).
    pub const CLTV_DELTAS: &[(u16, u32)] = &[
        (80, 382),
        (144, 177),
        (40, 170),
        (100, 112),
        (34, 65),
        (18, 25),
        (51, 8),
        (72, 8),
        (120, 6),
        (60, 5),
        (89, 4),
        (200, 3),
    ];

    /// One direction's (base fee msat, ppm, CLTV delta), drawn from mainnet's distributions.
    pub fn policy(stream: &mut Stream) -> (u32, u32, u16) {
        let base = BASE_FEE_MSAT.draw(stream.unit()) as u32;
        let ppm = FEE_PPM.draw(stream.unit()) as u32;
        let total: u32 = CLTV_DELTAS.iter().map(|&(_, w)| w).sum();
        let mut pick = stream.below(u64::from(total)) as u32;
        let mut cltv = CLTV_DELTAS[0].0;
        for &(delta, weight) in CLTV_DELTAS {
            if pick < weight {
                cltv = delta;
                break;
            }
            pick -= weight;
        }
        (base, ppm, cltv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(balance: BalanceSplit) -> GenerateSpec {
        GenerateSpec {
            kind: TopologyKind::ScaleFree { links_per_node: 2 },
            nodes: 200,
            name_prefix: "n".into(),
            implementation: Implementation::Lnd,
            capacity: Some(CapacityRange { min_sat: 100_000, max_sat: 10_000_000 }),
            balance,
            announce: true,
            fees: None,
        }
    }

    #[test]
    fn fee_spreads_stay_within_their_bounds_and_cover_them() {
        let spread = FeeSpread {
            base_min_msat: 0,
            base_max_msat: 1_000,
            ppm_min: 0,
            ppm_max: 5_000,
            cltv_min: 40,
            cltv_max: 144,
        };
        let mut stream = Stream::new(3, "generate/fees");
        let draws: Vec<(u32, u32, u16)> = (0..2000).map(|_| spread.draw(&mut stream)).collect();
        assert!(draws.iter().all(|&(b, p, c)| b <= 1_000 && p <= 5_000 && (40..=144).contains(&c)));
        let ppms: Vec<u32> = draws.iter().map(|d| d.1).collect();
        assert!(ppms.contains(&0) && ppms.iter().any(|&p| p > 2_500), "covers the range");
        // Log-uniform: the median of ppm + 1 is near sqrt(5001) ≈ 71.
        let mut sorted = ppms.clone();
        sorted.sort_unstable();
        assert!((40..=120).contains(&sorted[1000]), "median {}", sorted[1000]);
    }

    #[test]
    fn scale_free_graphs_are_connected_and_skewed() {
        let channels = generate(&spec(BalanceSplit::Even), &mut Stream::new(1, "generate"));
        // Node 1 opens one channel, every later node two.
        assert_eq!(channels.len(), 1 + 2 * 198);
        let mut degree = vec![0u32; 200];
        for &(a, b, capacity, opener) in &channels {
            assert!(a > b, "new nodes open to earlier ones");
            assert!((100_000..=10_000_000).contains(&capacity));
            assert_eq!(opener, capacity / 2);
            degree[a as usize] += 1;
            degree[b as usize] += 1;
        }
        assert!(degree.iter().all(|&d| d > 0), "every node has a channel");
        let max = *degree.iter().max().unwrap();
        assert!(max >= 15, "preferential attachment makes hubs: max degree {max}");
    }

    #[test]
    fn the_same_stream_gives_the_same_graph() {
        let a = generate(&spec(BalanceSplit::Random), &mut Stream::new(9, "generate"));
        let b = generate(&spec(BalanceSplit::Random), &mut Stream::new(9, "generate"));
        assert_eq!(a, b);
    }

    fn pairs(kind: TopologyKind, nodes: u32) -> Vec<(u32, u32)> {
        let spec = GenerateSpec { kind, nodes, ..spec(BalanceSplit::Even) };
        generate(&spec, &mut Stream::new(1, "generate")).iter().map(|c| (c.0, c.1)).collect()
    }

    #[test]
    fn regular_topologies_are_wired_as_named() {
        assert_eq!(pairs(TopologyKind::Line, 4), [(0, 1), (1, 2), (2, 3)]);
        assert_eq!(pairs(TopologyKind::Ring, 4), [(0, 1), (1, 2), (2, 3), (3, 0)]);
        assert_eq!(pairs(TopologyKind::Ring, 2), [(0, 1)], "a ring of two is one channel");
        assert_eq!(pairs(TopologyKind::Star, 4), [(1, 0), (2, 0), (3, 0)]);
        // 0 1 2
        // 3 4 5
        assert_eq!(
            pairs(TopologyKind::Grid { columns: 3 }, 6),
            [(0, 1), (0, 3), (1, 2), (1, 4), (2, 5), (3, 4), (4, 5)]
        );
    }

    #[test]
    fn erdos_renyi_draws_distinct_pairs() {
        let drawn = pairs(TopologyKind::ErdosRenyi { channels: 300 }, 50);
        assert_eq!(drawn.len(), 300);
        let distinct: std::collections::BTreeSet<(u32, u32)> =
            drawn.iter().map(|&(a, b)| (a.min(b), a.max(b))).collect();
        assert_eq!(distinct.len(), 300);
        assert!(drawn.iter().all(|&(a, b)| a != b && a < 50 && b < 50));
        assert_eq!(pairs(TopologyKind::ErdosRenyi { channels: 6 }, 4).len(), 6, "complete");
    }

    /// The mainnet-like generator at mainnet's size lands near the snapshot's figures.
    #[test]
    fn mainnet_like_graphs_match_the_snapshots_figures() {
        let spec = GenerateSpec {
            kind: TopologyKind::MainnetLike,
            nodes: 17_324,
            capacity: None,
            ..spec(BalanceSplit::Random)
        };
        let channels = generate(&spec, &mut Stream::new(4, "generate"));
        let mut degree = vec![0u32; 17_324];
        for c in &channels {
            degree[c.0 as usize] += 1;
            degree[c.1 as usize] += 1;
        }
        let mean = 2.0 * channels.len() as f64 / 17_324.0;
        assert!((4.7..7.0).contains(&mean), "mean degree {mean} (mainnet 5.87)");
        let single = degree.iter().filter(|&&d| d == 1).count() as f64 / 17_324.0;
        assert!((0.40..0.65).contains(&single), "single-channel share {single} (mainnet 0.54)");
        assert!(*degree.iter().max().unwrap() > 300, "hubs (mainnet's largest: 1,989)");
        let mut capacity: Vec<u64> = channels.iter().map(|c| c.2).collect();
        capacity.sort_unstable();
        let median = capacity[capacity.len() / 2];
        assert!((900_000..1_800_000).contains(&median), "median capacity {median} (1,283,260)");
        let p90 = capacity[capacity.len() * 9 / 10];
        assert!((11_000_000..21_000_000).contains(&p90), "p90 capacity {p90} (15,665,544)");
        assert!(channels.iter().all(|c| (1_050..=1_000_000_000).contains(&c.2) && c.3 <= c.2));
        let mut fees = Stream::new(4, "generate/fees");
        let draws: Vec<(u32, u32, u16)> = (0..20_000).map(|_| mainnet::policy(&mut fees)).collect();
        let zero_base = draws.iter().filter(|d| d.0 == 0).count() as f64 / 20_000.0;
        assert!((0.42..0.50).contains(&zero_base), "zero base fee share {zero_base} (0.45)");
        let mut ppm: Vec<u32> = draws.iter().map(|d| d.1).collect();
        ppm.sort_unstable();
        assert!((70..140).contains(&ppm[10_000]), "median ppm {} (100)", ppm[10_000]);
        let at_80 = draws.iter().filter(|d| d.2 == 80).count() as f64 / 20_000.0;
        assert!((0.36..0.42).contains(&at_80), "cltv 80 share {at_80} (0.38 of the top twelve)");
    }
}
