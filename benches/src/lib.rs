//! Shared set-up for the benchmarks: seeded random graphs. Benchmarks measure library
//! functions, never the binary.

use node_core::graph::{BaseGraph, ChannelInfo, DirectedPolicy};
use node_core::policy::ChannelPolicy;
use node_core::{NodeId, Scid};
use sim::rng::Stream;

/// A connected random graph of `nodes` nodes: each node after the first opens `degree`
/// channels to earlier nodes chosen with probability proportional to their degree
/// (preferential attachment), with capacities from 20_000 sat to 20_000_000 sat and lnd-like
/// fees. The same seed gives the same graph.
pub fn scale_free_graph(nodes: u32, degree: u32, seed: u64) -> BaseGraph {
    let mut stream = Stream::new(seed, "bench/graph");
    let mut endpoints: Vec<u32> = Vec::new();
    let mut channels = Vec::new();
    for node in 1..nodes {
        let mut peers: Vec<u32> = Vec::new();
        for _ in 0..degree.min(node) {
            let peer = if endpoints.is_empty() {
                0
            } else {
                endpoints[stream.below(endpoints.len() as u64) as usize]
            };
            if !peers.contains(&peer) {
                peers.push(peer);
            }
        }
        for peer in peers {
            let policy = |stream: &mut Stream| DirectedPolicy {
                policy: ChannelPolicy {
                    fee_base_msat: stream.below(2_000) as u32,
                    fee_proportional_millionths: stream.below(1_000) as u32,
                    cltv_expiry_delta: 40 + stream.below(104) as u16,
                    htlc_minimum_msat: 1,
                    htlc_maximum_msat: u64::MAX,
                },
                disabled: false,
                timestamp: 0,
            };
            let index = channels.len() as u32;
            channels.push(ChannelInfo {
                scid: Scid::new(1 + index / 1000, index % 1000, 0),
                node_1: NodeId(peer.min(node)),
                node_2: NodeId(peer.max(node)),
                capacity_sat: stream.range_inclusive(20_000, 20_000_000),
                directions: [Some(policy(&mut stream)), Some(policy(&mut stream))],
            });
            endpoints.push(peer);
            endpoints.push(node);
        }
    }
    BaseGraph::new(nodes, channels)
}
