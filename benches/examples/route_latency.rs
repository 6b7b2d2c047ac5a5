//! Per-request route-search times on the mainnet graph, per router: the distribution criterion's
//! batch means hide. Same graph, pairs and amount as `benches/routing.rs` (1000 pairs, each
//! planned once per router after one warm-up pass, routers cold). Run with
//!
//! ```sh
//! cargo run --release -p boltsim-benches --example route_latency [AMOUNT_SAT]
//! ```
//!
//! It prints, per router, how many requests found a route (and how many parts they used), and
//! the median, 99th percentile and largest time per request, for the requests that found a
//! route and for those that found none apart. Timing uses the wall clock: fine for a benchmark,
//! never in a run.

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
        "{:<14} {:>7} {:>6} | found: {:>8} {:>8} {:>8} | not found: {:>8} {:>8} {:>8}",
        "router", "routed", "parts", "p50 ms", "p99 ms", "max ms", "p50 ms", "p99 ms", "max ms"
    );
    for config in all_routers() {
        let mut router = config.build();
        for k in 0..set.pairs.len() {
            plan(router.as_mut(), &view, &set, k, amount_sat * 1000);
        }
        let (mut found_ns, mut missed_ns) = (Vec::new(), Vec::new());
        let mut parts = 0;
        for k in 0..set.pairs.len() {
            let start = Instant::now();
            let routes = plan(router.as_mut(), &view, &set, k, amount_sat * 1000);
            let ns = start.elapsed().as_nanos() as u64;
            parts += routes.len();
            if routes.is_empty() { missed_ns.push(ns) } else { found_ns.push(ns) }
        }
        println!(
            "{:<14} {:>7} {:>6} | found: {} | not found: {}",
            config.name(),
            found_ns.len(),
            parts,
            quantiles(&mut found_ns),
            quantiles(&mut missed_ns)
        );
    }
}

/// Median, 99th percentile and largest of `times_ns`, in ms, as columns.
fn quantiles(times_ns: &mut [u64]) -> String {
    if times_ns.is_empty() {
        return format!("{:>8} {:>8} {:>8}", "-", "-", "-");
    }
    times_ns.sort_unstable();
    let at = |q: usize| times_ns[(times_ns.len() - 1) * q / 100] as f64 / 1e6;
    format!("{:>8.3} {:>8.3} {:>8.3}", at(50), at(99), at(100))
}
