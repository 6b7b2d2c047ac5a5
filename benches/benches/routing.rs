//! Route search on the mainnet graph: one route request from a random sender to a random
//! receiver, per router. The graph is the 2026-02-03 snapshot of `../shared/data/mainnet` when
//! present (else a generated graph of the same size; the benchmark says which). Pairs as
//! [`boltsim_benches::RequestSet`] draws them (256, cycled); amount 100,000 sat. The routers start
//! cold (nothing learnt) and stay so: a benchmark plans, it never pays. A request that finds no
//! route and one that finds none are measured apart (`ROUTER/found`, `ROUTER/not_found`): a
//! search that fails explores everything it can reach. `examples/route_latency.rs` gives the
//! per-request distribution (median, p99).

use boltsim_benches::{RequestSet, all_routers, mainnet_graph, plan};
use criterion::{Criterion, criterion_group, criterion_main};
use node_core::graph::GraphView;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

/// The amount of every request, msat.
const AMOUNT_MSAT: u64 = 100_000_000;

fn route_requests(c: &mut Criterion) {
    let (graph, source) = mainnet_graph();
    eprintln!(
        "routing benchmark on the {source}: {} nodes, {} channels",
        graph.node_count(),
        graph.channels().len()
    );
    let set = RequestSet::new(&graph, 256, 1);
    let view = GraphView::new(Arc::new(graph));
    let mut group = c.benchmark_group("route");
    group.sample_size(30).measurement_time(Duration::from_secs(10));
    for config in all_routers() {
        let mut router = config.build();
        let (found, not_found): (Vec<usize>, Vec<usize>) = (0..set.pairs.len())
            .partition(|&k| !plan(router.as_mut(), &view, &set, k, AMOUNT_MSAT).is_empty());
        for (kind, requests) in [("found", &found), ("not_found", &not_found)] {
            if requests.is_empty() {
                continue;
            }
            let mut i = 0;
            group.bench_function(format!("{}/{kind}", config.name()), |b| {
                b.iter(|| {
                    let k = requests[i % requests.len()];
                    i += 1;
                    black_box(plan(router.as_mut(), &view, &set, k, AMOUNT_MSAT))
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, route_requests);
criterion_main!(benches);
