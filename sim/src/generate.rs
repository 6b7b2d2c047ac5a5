//! Generated topologies: nodes and channels that exist at the start, drawn from the seed (stream
//! `generate`). The scale-free generator follows Barabási and Albert: each new node opens
//! `links_per_node` channels to earlier nodes chosen with probability proportional to their
//! degree. Capacities are log-uniform between the given bounds; balances follow the chosen split.
//! This module only produces node names and channel specs; validation and the genesis block are
//! the scenario's and the world's.

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
    /// Channel capacities.
    pub capacity: CapacityRange,
    /// Starting balances.
    #[serde(default)]
    pub balance: BalanceSplit,
    /// Whether the channels are public.
    #[serde(default = "yes")]
    pub announce: bool,
    /// Forwarding fees drawn per channel direction (stream `generate/fees`); `None`: each node's
    /// configured policy.
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
    let TopologyKind::ScaleFree { links_per_node } = spec.kind;
    let mut endpoints: Vec<u32> = Vec::new();
    let mut channels = Vec::new();
    let (lo, hi) = (spec.capacity.min_sat as f64, spec.capacity.max_sat as f64);
    for node in 1..spec.nodes {
        let mut peers: Vec<u32> = Vec::new();
        let wanted = links_per_node.min(node) as usize;
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
            let capacity_sat = if hi > lo {
                libm::round(lo * libm::pow(hi / lo, stream.unit())) as u64
            } else {
                spec.capacity.min_sat
            };
            let opener_sat = spec.balance.opener_sat(capacity_sat, stream);
            channels.push((node, peer, capacity_sat, opener_sat));
            endpoints.push(node);
            endpoints.push(peer);
        }
    }
    channels
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
            capacity: CapacityRange { min_sat: 100_000, max_sat: 10_000_000 },
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
}
