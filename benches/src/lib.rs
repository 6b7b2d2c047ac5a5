//! Shared set-up for the benchmarks: the mainnet graph (from `../shared/data/mainnet` when present,
//! else a seeded random graph of the same size) and seeded random graphs. Benchmarks measure
//! library functions, never the binary.

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

/// Nodes and channels of the 2026-02-03 mainnet snapshot.
pub const MAINNET_NODES: u32 = 17_324;
/// Channels of the 2026-02-03 mainnet snapshot.
pub const MAINNET_CHANNELS: u32 = 50_808;

/// The mainnet graph of 2026-02-03 and where it came from: the snapshot of
/// `../shared/data/mainnet` if it is beside the project, else a generated graph of the same
/// size (17,324 nodes; 3 channels per new node gives 51,966 channels, close to 50,808).
pub fn mainnet_graph() -> (BaseGraph, &'static str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/mainnet/listchannels-2026-02-03.json.gz");
    if path.exists() {
        match sim::import::read_listchannels(&path) {
            Ok(graph) => return (graph.base_graph(), "mainnet snapshot 2026-02-03"),
            Err(e) => eprintln!("cannot read the mainnet snapshot ({e}); using a generated graph"),
        }
    } else {
        eprintln!("{} is absent; using a generated graph of the same size", path.display());
    }
    (scale_free_graph(MAINNET_NODES, 3, 1), "generated scale-free graph, mainnet size")
}

/// Route requests between random pairs of a graph, as the routing benchmarks make them: senders
/// uniform over the nodes with an enabled outgoing direction, receivers over those with an
/// enabled incoming one (stream `bench/pairs` of `seed`); each sender's own enabled channels
/// spendable up to their capacity.
pub struct RequestSet {
    /// (sender, receiver).
    pub pairs: Vec<(NodeId, NodeId)>,
    /// Each sender's first hops.
    pub first_hops: Vec<Vec<node_core::router::FirstHop>>,
}

impl RequestSet {
    /// `count` pairs of `graph`.
    pub fn new(graph: &BaseGraph, count: usize, seed: u64) -> RequestSet {
        let n = graph.node_count();
        let enabled_from =
            |node: NodeId| graph.channels_of(node).any(|c| c.policy_from(node).is_some());
        let enabled_to = |node: NodeId| {
            graph.channels_of(node).any(|c| {
                c.direction_from(node).is_some_and(|(_, peer)| c.policy_from(peer).is_some())
            })
        };
        let senders: Vec<NodeId> = (0..n).map(NodeId).filter(|&v| enabled_from(v)).collect();
        let receivers: Vec<NodeId> = (0..n).map(NodeId).filter(|&v| enabled_to(v)).collect();
        let mut stream = Stream::new(seed, "bench/pairs");
        let mut pick = |from: &[NodeId]| from[stream.below(from.len() as u64) as usize];
        let pairs: Vec<(NodeId, NodeId)> = (0..count)
            .map(|_| {
                let s = pick(&senders);
                let mut r = pick(&receivers);
                while r == s {
                    r = pick(&receivers);
                }
                (s, r)
            })
            .collect();
        let first_hops = pairs
            .iter()
            .map(|&(source, _)| {
                graph
                    .channels_of(source)
                    .filter(|c| c.policy_from(source).is_some())
                    .map(|c| node_core::router::FirstHop {
                        scid: c.scid,
                        peer: if c.node_1 == source { c.node_2 } else { c.node_1 },
                        available_msat: c.capacity_sat * 1000,
                        htlc_minimum_msat: 1,
                    })
                    .collect()
            })
            .collect();
        RequestSet { pairs, first_hops }
    }
}

/// Every router with its default parameters, in the order results list them.
pub fn all_routers() -> Vec<node_core::router::RouterConfig> {
    use node_core::router::{RouterConfig, cln, ldk, lnd, mcf};
    vec![
        RouterConfig::Cheapest,
        RouterConfig::ShortestHops,
        RouterConfig::Lnd(lnd::LndParams::default()),
        RouterConfig::Lnd(lnd::LndParams {
            estimator: lnd::Estimator::Bimodal,
            ..lnd::LndParams::default()
        }),
        RouterConfig::Ldk(ldk::LdkParams::default()),
        RouterConfig::Cln(cln::ClnParams::default()),
        RouterConfig::MinCostFlow(mcf::McfParams::default()),
    ]
}

/// Plans route request `k` of `set` for `amount_msat` with `router`.
pub fn plan(
    router: &mut dyn node_core::router::Router,
    view: &node_core::graph::GraphView,
    set: &RequestSet,
    k: usize,
    amount_msat: u64,
) -> Vec<node_core::router::Route> {
    let (source, target) = set.pairs[k];
    let (excluded, excluded_nodes, overrides, in_flight) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
        std::collections::BTreeMap::new(),
        std::collections::BTreeMap::new(),
    );
    let req = node_core::router::RouteRequest {
        source,
        target,
        amount_msat,
        current_height: 930_000,
        final_cltv_delta: 21,
        max_fee_msat: amount_msat / 20,
        max_total_cltv_delta: 2016,
        max_hops: 20,
        first_hops: &set.first_hops[k],
        hints: &[],
        excluded_channels: &excluded,
        excluded_nodes: &excluded_nodes,
        policy_overrides: &overrides,
        in_flight: &in_flight,
        now: node_core::SimTime::from_secs(1),
        fuzz_seed: k as u64,
        max_parts: 16,
    };
    router.plan(view, &req)
}
