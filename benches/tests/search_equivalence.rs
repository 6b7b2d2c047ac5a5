//! The fast route search against the reference (a textbook Dijkstra with none of its shortcuts,
//! `node_core::router::reference`), on the mainnet graph, for every router that searches: each
//! seeded request must get the same routes from both. Requests vary the amount (10 sat to 5M
//! sat, so that many find no route), exclude channels and nodes, override policies, cap
//! capacities and put HTLCs in flight as retries do, expect fees from none to far too many
//! (which only the lowest-fee search reads), and the routers learn from a failure after every
//! request, so learnt state is compared too.
//!
//! The graph is `../shared/data/mainnet` when present, else a generated mainnet-sized network
//! (the test says which). Requests per router: `BOLTSIM_EQUIVALENCE_REQUESTS` (default 300, as CI
//! runs it in a debug build); the figure in `benches/README.md` is of 10,000:
//!
//! ```sh
//! BOLTSIM_EQUIVALENCE_REQUESTS=10000 cargo test --release -p boltsim-benches --test search_equivalence -- --nocapture
//! ```

use boltsim_benches::{RequestSet, all_routers, mainnet_graph};
use node_core::SimTime;
use node_core::graph::{BaseGraph, GraphView};
use node_core::ids::{NodeId, Scid};
use node_core::onion::FailureCode;
use node_core::policy::ChannelPolicy;
use node_core::router::reference::with_reference_search;
use node_core::router::{Learned, Route, RouteRequest, Router, RouterConfig};
use sim::rng::Stream;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The amounts requests cycle through, msat.
const AMOUNTS_MSAT: [u64; 5] = [10_000, 1_000_000_000, 50_000_000, 500_000_000, 5_000_000_000];

/// What a retry knows beyond the first attempt.
#[derive(Default)]
struct Extras {
    excluded_channels: BTreeSet<(Scid, NodeId)>,
    excluded_nodes: BTreeSet<NodeId>,
    overrides: BTreeMap<(Scid, NodeId), ChannelPolicy>,
    caps: BTreeMap<(Scid, NodeId), u64>,
    in_flight: BTreeMap<(Scid, NodeId), u64>,
}

/// Request `k`'s extras, drawn from the graph: none for a third of the requests, exclusions for
/// another, overrides, caps and HTLCs in flight on the payee's channels for the rest.
fn extras(graph: &BaseGraph, set: &RequestSet, k: usize) -> Extras {
    let mut stream = Stream::new(k as u64, "equivalence/extras");
    let mut out = Extras::default();
    let (_, target) = set.pairs[k];
    let into: Vec<(Scid, NodeId, u64, Option<ChannelPolicy>)> = graph
        .channels_of(target)
        .filter_map(|c| {
            let (_, peer) = c.direction_from(target)?;
            Some((c.scid, peer, c.capacity_sat * 1000, c.policy_from(peer).copied()))
        })
        .collect();
    if into.is_empty() {
        return out;
    }
    let mut pick = |n: usize| stream.below(n as u64) as usize;
    match k % 3 {
        1 => {
            for _ in 0..3 {
                let (scid, from, _, _) = into[pick(into.len())];
                out.excluded_channels.insert((scid, from));
            }
            let (_, hub, _, _) = into[pick(into.len())];
            if into.len() > 1 {
                out.excluded_nodes.insert(hub);
            }
        }
        2 => {
            for _ in 0..3 {
                let (scid, from, capacity_msat, policy) = into[pick(into.len())];
                out.caps.insert((scid, from), capacity_msat / 2);
                out.in_flight.insert((scid, from), capacity_msat / 4);
                if let Some(mut policy) = policy {
                    policy.fee_base_msat += 1_000;
                    out.overrides.insert((scid, from), policy);
                }
            }
        }
        _ => {}
    }
    out
}

/// Plans request `k` with `router`, then teaches it that the route failed at its second node
/// (a forwarder's `temporary_channel_failure`), as a payment would.
fn plan_and_learn(
    router: &mut dyn Router,
    view: &GraphView,
    set: &RequestSet,
    extras: &Extras,
    k: usize,
) -> Vec<Route> {
    let (source, target) = set.pairs[k];
    let amount_msat = AMOUNTS_MSAT[k % AMOUNTS_MSAT.len()];
    let req = RouteRequest {
        source,
        target,
        amount_msat,
        current_height: 930_000,
        final_cltv_delta: 21,
        max_fee_msat: amount_msat / 20 + 10_000,
        max_total_cltv_delta: 2016,
        max_hops: 20,
        first_hops: &set.first_hops[k],
        hints: &[],
        excluded_channels: &extras.excluded_channels,
        excluded_nodes: &extras.excluded_nodes,
        policy_overrides: &extras.overrides,
        capacity_caps: &extras.caps,
        in_flight: &extras.in_flight,
        now: SimTime::from_secs(60 + k as u64),
        fuzz_seed: k as u64,
        max_parts: 16,
    };
    let routes = router.plan(view, &req);
    let now = SimTime::from_secs(60 + k as u64);
    for route in &routes {
        let outcome = if route.hops.len() >= 2 {
            Learned::Failed { failing_hop: 1, code: FailureCode::TEMPORARY_CHANNEL_FAILURE }
        } else {
            Learned::Succeeded
        };
        router.learn(view, now, source, route, outcome);
    }
    routes
}

#[test]
fn every_router_finds_the_reference_searchs_routes() {
    let requests: usize = std::env::var("BOLTSIM_EQUIVALENCE_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let (graph, source) = mainnet_graph();
    let set = RequestSet::new(&graph, requests, 7);
    let extras: Vec<Extras> = (0..requests).map(|k| extras(&graph, &set, k)).collect();
    let view = GraphView::new(Arc::new(graph));
    let mut report = Vec::new();
    for config in all_routers() {
        if matches!(config, RouterConfig::MinCostFlow(_)) {
            // Min-cost flow solves a flow problem of its own; it does not run this search.
            continue;
        }
        let (mut fast, mut reference) = (config.build(), config.build());
        let (mut found, mut parts) = (0, 0);
        for (k, extras) in extras.iter().enumerate() {
            let got = plan_and_learn(fast.as_mut(), &view, &set, extras, k);
            let want = with_reference_search(|| {
                plan_and_learn(reference.as_mut(), &view, &set, extras, k)
            });
            assert_eq!(
                got,
                want,
                "{} request {k} ({:?}): routes differ",
                config.name(),
                set.pairs[k]
            );
            found += usize::from(!got.is_empty());
            parts += got.len();
        }
        report.push(format!("{}: {found} found ({parts} routes)", config.name()));
    }
    eprintln!(
        "search equivalence on the {source}: {requests} requests per router; {}",
        report.join(", ")
    );
}
