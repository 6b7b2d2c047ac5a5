//! The route searches of every single-path router over a fixed set of mainnet requests, for
//! counting the work a search does with an instruction counter (repeatable on a busy machine,
//! where times are not). Same graph and request draw as `route_latency` (routers cold), 10,000
//! sat by default. The figures in `benches/README.md` ("Scoring only what can win") come from
//!
//! ```sh
//! cargo build --release -p boltsim-benches --example search_work
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*Router>::plan' \
//!     ./target/release/examples/search_work 10000 300 lnd_apriori
//! ```
//!
//! Arguments: amount in sat, number of requests, and a router name part to run only those. It
//! prints per router how many requests found a route and a digest of the routes (the same digest
//! before and after a change means the same routes), and the wall time, which is only a hint.

use boltsim_benches::{RequestSet, all_routers, mainnet_graph, plan};
use node_core::graph::GraphView;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let arg = |i: usize| std::env::args().nth(i);
    let amount_sat: u64 = arg(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let count: usize = arg(2).and_then(|a| a.parse().ok()).unwrap_or(2_000);
    let only = arg(3);
    let (graph, source) = mainnet_graph();
    println!("{source}: {count} requests of {amount_sat} sat");
    let set = RequestSet::new(&graph, count, 7);
    let view = GraphView::new(Arc::new(graph));
    for config in all_routers() {
        let name = config.name().to_string();
        // Min-cost flow does not run this search.
        if name.contains("min_cost") || only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        let mut router = config.build();
        let start = Instant::now();
        let (mut found, mut digest) = (0, 0u64);
        for k in 0..set.pairs.len() {
            let routes = plan(router.as_mut(), &view, &set, k, amount_sat * 1000);
            found += usize::from(!routes.is_empty());
            for hop in routes.iter().flat_map(|r| &r.hops) {
                digest = digest.wrapping_mul(31).wrapping_add(hop.scid.0 ^ hop.amount_msat);
            }
        }
        let ms = start.elapsed().as_secs_f64() * 1e3;
        println!("{name:<14} found {found:>5}  routes digest {digest:>20}  {ms:.1} ms");
    }
}
