//! Per-request route-search times on the mainnet graph, per router: the distribution criterion's
//! batch means hide. Same graph, pairs and amount as `benches/routing.rs` (1000 pairs, each
//! planned once per router after one warm-up pass, routers cold). Run with
//!
//! ```sh
//! cargo run --release -p boltsim-benches --example route_latency [AMOUNT_SAT]
//! ```
//!
//! It prints, per router, how many requests found a route (and how many parts they used), and
//! the median, 90th percentile and largest time per request. Timing uses the wall clock: fine
//! for a benchmark, never in a run.

use boltsim_benches::{RequestSet, all_routers, mainnet_graph, plan};
use node_core::graph::GraphView;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let amount_sat: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let (graph, source) = mainnet_graph();
    println!(
        "{source}: {} nodes, {} channels; amount {amount_sat} sat; 1000 random pairs",
        graph.node_count(),
        graph.channels().len()
    );
    let set = RequestSet::new(&graph, 1000, 1);
    let view = GraphView::new(Arc::new(graph));
    println!(
        "{:<14} {:>7} {:>6} {:>9} {:>9} {:>9}",
        "router", "routed", "parts", "p50 ms", "p90 ms", "max ms"
    );
    for config in all_routers() {
        let mut router = config.build();
        for k in 0..set.pairs.len() {
            plan(router.as_mut(), &view, &set, k, amount_sat * 1000);
        }
        let mut times_ns = Vec::with_capacity(set.pairs.len());
        let (mut routed, mut parts) = (0, 0);
        for k in 0..set.pairs.len() {
            let start = Instant::now();
            let routes = plan(router.as_mut(), &view, &set, k, amount_sat * 1000);
            times_ns.push(start.elapsed().as_nanos() as u64);
            routed += usize::from(!routes.is_empty());
            parts += routes.len();
        }
        times_ns.sort_unstable();
        let at = |q: usize| times_ns[(times_ns.len() - 1) * q / 100] as f64 / 1e6;
        println!(
            "{:<14} {:>7} {:>6} {:>9.3} {:>9.3} {:>9.3}",
            config.name(),
            routed,
            parts,
            at(50),
            at(90),
            at(100)
        );
    }
}
