//! Route search: one cheapest-fee route request from a random sender to a random receiver on a
//! generated scale-free graph. Amount 100_000 sat; pairs drawn from a seeded stream; the payer's
//! own channels are given their full capacity as spendable balance.

use boltsim_benches::scale_free_graph;
use criterion::{Criterion, criterion_group, criterion_main};
use node_core::NodeId;
use node_core::graph::GraphView;
use node_core::router::{FirstHop, RouteRequest, cheapest_route};
use sim::rng::Stream;
use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::sync::Arc;

fn route_requests(c: &mut Criterion) {
    for &(nodes, degree) in &[(2_000u32, 3u32), (17_324, 3)] {
        let graph = Arc::new(scale_free_graph(nodes, degree, 1));
        let view = GraphView::new(graph.clone());
        let mut stream = Stream::new(1, "bench/pairs");
        let pairs: Vec<(NodeId, NodeId)> = (0..256)
            .map(|_| {
                (
                    NodeId(stream.below(u64::from(nodes)) as u32),
                    NodeId(stream.below(u64::from(nodes)) as u32),
                )
            })
            .collect();
        let (excluded, excluded_nodes, overrides, in_flight) =
            (BTreeSet::new(), BTreeSet::new(), BTreeMap::new(), BTreeMap::new());
        let firsts: Vec<Vec<FirstHop>> = pairs
            .iter()
            .map(|(source, _)| {
                graph
                    .channels_of(*source)
                    .map(|c| FirstHop {
                        scid: c.scid,
                        peer: if c.node_1 == *source { c.node_2 } else { c.node_1 },
                        available_msat: c.capacity_sat * 1000,
                        htlc_minimum_msat: 1,
                    })
                    .collect()
            })
            .collect();
        let mut i = 0;
        c.bench_function(&format!("cheapest_route/{nodes}_nodes"), |b| {
            b.iter(|| {
                let (source, target) = pairs[i % pairs.len()];
                let req = RouteRequest {
                    source,
                    target,
                    amount_msat: 100_000_000,
                    current_height: 800_000,
                    final_cltv_delta: 21,
                    max_fee_msat: 5_000_000,
                    max_total_cltv_delta: 2016,
                    max_hops: 20,
                    first_hops: &firsts[i % pairs.len()],
                    hints: &[],
                    excluded_channels: &excluded,
                    excluded_nodes: &excluded_nodes,
                    policy_overrides: &overrides,
                    in_flight: &in_flight,
                    now: node_core::SimTime::ZERO,
                    fuzz_seed: 0,
                    max_parts: 1,
                };
                i += 1;
                black_box(cheapest_route(&view, &req))
            })
        });
    }
}

criterion_group!(benches, route_requests);
criterion_main!(benches);
