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

/// How a generated channel's value is split between its ends at the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BalanceSplit {
    /// All at the opener.
    Opener,
    /// Half each.
    #[default]
    Even,
    /// Uniform between nothing and everything at the opener.
    Random,
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
            let opener_sat = match spec.balance {
                BalanceSplit::Opener => capacity_sat,
                BalanceSplit::Even => capacity_sat / 2,
                BalanceSplit::Random => stream.range_inclusive(0, capacity_sat),
            };
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
        }
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
