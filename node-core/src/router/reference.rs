//! The reference route search: a textbook Dijkstra over the same edges, scorer and tie-breaks as
//! [`super::search`], with none of its shortcuts (no pre-check of the payer's and payee's
//! channels, no per-node flags, no reused arrays, no pruning by the best route found so far).
//! Tests run every router with it in place of the fast search and require the same routes
//! ([`with_reference_search`]); it is built only for tests and the `test-utils` feature.

use super::scorer::{Edge, Reached, Scorer, Start};
use super::{Route, RouteHop, RouteRequest};
use crate::graph::GraphView;
use crate::ids::{NodeId, Scid};
use crate::policy::ChannelPolicy;
use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

thread_local! {
    static REFERENCE: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with every route search on this thread done by the reference search.
pub fn with_reference_search<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            REFERENCE.set(self.0);
        }
    }
    let _reset = Reset(REFERENCE.replace(true));
    f()
}

/// Whether searches on this thread go to the reference search.
pub(super) fn active() -> bool {
    REFERENCE.get()
}

/// A node's label: (cost, hops) decide; the rest is carried.
#[derive(Clone, Copy, Debug)]
struct Label {
    cost: u64,
    hops: u32,
    weight: u64,
    probability: f64,
    amount_msat: u64,
    cltv_delta: u32,
    next: Option<(Scid, NodeId, u64)>,
    settled: bool,
}

/// The lowest-cost route from `req.source` to `start.node` under `scorer`, as
/// [`super::search::search_from`] defines it.
pub(super) fn search_from<S: Scorer>(
    view: &GraphView,
    req: &RouteRequest<'_>,
    scorer: &mut S,
    start: &Start,
) -> Option<Route> {
    let node_count = view.base().node_count() as usize;
    if req.source == start.node
        || start.amount_msat == 0
        || req.source.index() >= node_count
        || start.node.index() >= node_count
    {
        return None;
    }
    let mut labels: BTreeMap<NodeId, Label> = BTreeMap::new();
    let mut heap = BinaryHeap::new();
    labels.insert(
        start.node,
        Label {
            cost: start.reached.cost,
            hops: start.reached.hops,
            weight: start.reached.weight,
            probability: start.reached.probability,
            amount_msat: start.amount_msat,
            cltv_delta: start.cltv_delta,
            next: None,
            settled: false,
        },
    );
    heap.push(Reverse((start.reached.cost, start.reached.hops, start.node.0)));
    while let Some(Reverse((cost, hops, node))) = heap.pop() {
        let node = NodeId(node);
        let label = labels[&node];
        if label.settled || (label.cost, label.hops) != (cost, hops) {
            continue;
        }
        labels.get_mut(&node).expect("labelled").settled = true;
        if node == req.source {
            return Some(route(&labels, req));
        }
        if label.hops as usize >= req.max_hops
            || (node != start.node && req.excluded_nodes.contains(&node))
        {
            continue;
        }
        let reached = Reached {
            cost: label.cost,
            weight: label.weight,
            probability: label.probability,
            hops: label.hops,
            cltv_delta: label.cltv_delta,
        };
        // Every edge into `node`: the view's, the hints', then the payer's own channels.
        let mut edges: Vec<(NodeId, Scid, Option<ChannelPolicy>, u64)> = Vec::new();
        view.for_each_in_edge(node, |e| {
            if e.from != req.source {
                edges.push((e.from, e.scid, e.policy, e.capacity_sat.saturating_mul(1000)));
            }
        });
        for (from, to, scid, policy) in req.hint_edges() {
            if to == node && from != req.source {
                edges.push((from, scid, Some(policy), u64::MAX));
            }
        }
        for (from, scid, policy, capacity_msat) in edges {
            if labels.get(&from).is_some_and(|l| l.settled)
                || req.excluded_nodes.contains(&from)
                || req.excluded_channels.contains(&(scid, from))
            {
                continue;
            }
            let Some(policy) = req.policy_overrides.get(&(scid, from)).copied().or(policy) else {
                continue;
            };
            let in_flight_msat = req.in_flight.get(&(scid, from)).copied().unwrap_or(0);
            let capacity_msat = req
                .capacity_caps
                .get(&(scid, from))
                .map_or(capacity_msat, |&c| c.min(capacity_msat));
            if !policy.admits(label.amount_msat)
                || label.amount_msat.saturating_add(in_flight_msat) > capacity_msat
            {
                continue;
            }
            let fee_msat = policy.fee_msat(label.amount_msat);
            let edge = Edge {
                from,
                to: node,
                scid,
                policy: Some(&policy),
                capacity_msat,
                amount_msat: label.amount_msat,
                fee_msat,
                in_flight_msat,
                cltv_delta: policy.cltv_expiry_delta,
                first_hop: false,
            };
            let Some((cost, weight, probability)) = scorer.score(&edge, &reached) else { continue };
            let candidate = Label {
                cost,
                hops: label.hops + 1,
                weight,
                probability,
                amount_msat: label.amount_msat.saturating_add(fee_msat),
                cltv_delta: label.cltv_delta + u32::from(policy.cltv_expiry_delta),
                next: Some((scid, node, fee_msat)),
                settled: false,
            };
            offer(&mut labels, &mut heap, req, from, candidate);
        }
        for first in req.first_hops.iter().filter(|f| f.peer == node) {
            if req.excluded_channels.contains(&(first.scid, req.source))
                || label.amount_msat > first.available_msat
                || label.amount_msat < first.htlc_minimum_msat
            {
                continue;
            }
            let edge = Edge {
                from: req.source,
                to: node,
                scid: first.scid,
                policy: None,
                capacity_msat: first.available_msat,
                amount_msat: label.amount_msat,
                fee_msat: 0,
                in_flight_msat: 0,
                cltv_delta: 0,
                first_hop: true,
            };
            let Some((cost, weight, probability)) = scorer.score(&edge, &reached) else { continue };
            let candidate = Label {
                cost,
                hops: label.hops + 1,
                weight,
                probability,
                next: Some((first.scid, node, 0)),
                settled: false,
                ..label
            };
            offer(&mut labels, &mut heap, req, req.source, candidate);
        }
    }
    None
}

/// Gives `node` the label `candidate` if it is within the request's limits and better.
fn offer(
    labels: &mut BTreeMap<NodeId, Label>,
    heap: &mut BinaryHeap<Reverse<(u64, u32, u32)>>,
    req: &RouteRequest<'_>,
    node: NodeId,
    candidate: Label,
) {
    if candidate.amount_msat - req.amount_msat > req.max_fee_msat
        || candidate.cltv_delta > req.max_total_cltv_delta
        || candidate.hops as usize > req.max_hops
    {
        return;
    }
    let better =
        labels.get(&node).is_none_or(|old| (candidate.cost, candidate.hops) < (old.cost, old.hops));
    if better {
        labels.insert(node, candidate);
        heap.push(Reverse((candidate.cost, candidate.hops, node.0)));
    }
}

/// The route from the payer along the labels' `next` links.
fn route(labels: &BTreeMap<NodeId, Label>, req: &RouteRequest<'_>) -> Route {
    let mut hops = Vec::new();
    let mut node = req.source;
    while let Some((scid, next, fee_msat)) = labels.get(&node).and_then(|l| l.next) {
        let at_next = labels[&next];
        hops.push(RouteHop {
            scid,
            node_id: next,
            amount_msat: at_next.amount_msat,
            cltv_expiry: req.current_height + at_next.cltv_delta,
            fee_msat,
        });
        node = next;
    }
    Route { hops }
}
