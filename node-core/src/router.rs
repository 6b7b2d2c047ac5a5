//! Route finding in a node's own view of the network. [`cheapest_route`] is the baseline: a
//! Dijkstra search from the payee back to the payer that minimises the total fee, computing the
//! amount and CLTV each hop needs on the way (fees depend on the amount forwarded, so the search
//! runs backwards, as lnd and LDK do). The payer's own channels are used with their exact
//! spendable balance instead of their public capacity. Costs are integers and ties are broken by
//! (fee, hops, node id), so a search is deterministic. Deciding what to do with a route is the
//! payment's job.

use crate::graph::GraphView;
use crate::ids::{NodeId, Scid};
use crate::invoice::RouteHint;
use crate::policy::ChannelPolicy;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// One of the payer's own channels, as the router may use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirstHop {
    /// The channel.
    pub scid: Scid,
    /// The peer at its other end.
    pub peer: NodeId,
    /// What the payer can send over it now, msat.
    pub available_msat: u64,
    /// The smallest HTLC the peer accepts, msat.
    pub htlc_minimum_msat: u64,
}

/// What a route must satisfy.
#[derive(Clone, Debug)]
pub struct RouteRequest<'a> {
    /// The payer.
    pub source: NodeId,
    /// The payee.
    pub target: NodeId,
    /// What the payee must receive, msat.
    pub amount_msat: u64,
    /// The current block height.
    pub current_height: u32,
    /// Blocks the final HTLC must have left (the invoice's delta plus any safety margin).
    pub final_cltv_delta: u32,
    /// Largest total fee, msat.
    pub max_fee_msat: u64,
    /// Largest sum of CLTV deltas over the route, blocks.
    pub max_total_cltv_delta: u32,
    /// Largest number of hops.
    pub max_hops: usize,
    /// The payer's usable channels.
    pub first_hops: &'a [FirstHop],
    /// The invoice's route hints.
    pub hints: &'a [RouteHint],
    /// Channel directions not to use, as (channel, node at the start of the direction).
    pub excluded_channels: &'a BTreeSet<(Scid, NodeId)>,
    /// Nodes not to route through.
    pub excluded_nodes: &'a BTreeSet<NodeId>,
    /// Policies learnt from errors during this payment, overriding the view.
    pub policy_overrides: &'a BTreeMap<(Scid, NodeId), ChannelPolicy>,
}

/// One hop of a route: the HTLC sent over `scid` to `node_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteHop {
    /// The channel.
    pub scid: Scid,
    /// The node at the end of this hop.
    pub node_id: NodeId,
    /// The HTLC's amount, msat.
    pub amount_msat: u64,
    /// The HTLC's expiry, block height.
    pub cltv_expiry: u32,
    /// The fee the node at the start of this hop takes for forwarding over it (0 for the first).
    pub fee_msat: u64,
}

/// A route from the payer to the payee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The hops, first to last.
    pub hops: Vec<RouteHop>,
}

impl Route {
    /// What the payer sends, msat.
    pub fn sent_msat(&self) -> u64 {
        self.hops[0].amount_msat
    }

    /// What the payee receives, msat.
    pub fn delivered_msat(&self) -> u64 {
        self.hops.last().expect("invariant: a route has a hop").amount_msat
    }

    /// The total fee, msat.
    pub fn fee_msat(&self) -> u64 {
        self.sent_msat() - self.delivered_msat()
    }

    /// The nodes after the payer, in order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.hops.iter().map(|h| h.node_id)
    }
}

#[derive(Clone, Copy, Debug)]
struct Label {
    fee_msat: u64,
    amount_msat: u64,
    cltv_delta: u32,
    hops: u32,
    /// The channel to the next node toward the payee, that node, and the fee this node takes.
    next: Option<(Scid, NodeId, u64)>,
}

/// An edge into a node, as the search relaxes it.
struct Candidate {
    from: NodeId,
    scid: Scid,
    policy: Option<ChannelPolicy>,
    capacity_msat: u64,
}

/// The cheapest-fee route satisfying `req` in `view`, or `None`.
pub fn cheapest_route(view: &GraphView, req: &RouteRequest<'_>) -> Option<Route> {
    if req.source == req.target || req.amount_msat == 0 {
        return None;
    }
    let node_count = view.base().node_count() as usize;
    if req.source.index() >= node_count || req.target.index() >= node_count {
        return None;
    }
    // Route hint edges, by the node they lead to.
    let mut hint_edges: BTreeMap<NodeId, Vec<(NodeId, Scid, ChannelPolicy)>> = BTreeMap::new();
    for hint in req.hints {
        for (i, hop) in hint.hops.iter().enumerate() {
            let to = hint.hops.get(i + 1).map_or(req.target, |next| next.src);
            hint_edges.entry(to).or_default().push((hop.src, hop.short_channel_id, hop.policy));
        }
    }
    let mut labels: Vec<Option<Label>> = vec![None; node_count];
    let mut heap = BinaryHeap::new();
    labels[req.target.index()] = Some(Label {
        fee_msat: 0,
        amount_msat: req.amount_msat,
        cltv_delta: req.final_cltv_delta,
        hops: 0,
        next: None,
    });
    heap.push(Reverse((0u64, 0u32, req.target.0)));
    let mut candidates = Vec::new();
    while let Some(Reverse((fee_msat, hops, node))) = heap.pop() {
        let node = NodeId(node);
        let label = labels[node.index()].expect("invariant: queued nodes are labelled");
        if (label.fee_msat, label.hops) != (fee_msat, hops) {
            continue;
        }
        if node == req.source {
            return Some(build_route(&labels, req));
        }
        if label.hops as usize >= req.max_hops
            || (node != req.target && req.excluded_nodes.contains(&node))
        {
            continue;
        }
        candidates.clear();
        view.for_each_channel_of(node, |info| {
            let Some((_, from)) = info.direction_from(node) else { return };
            if from == req.source {
                return; // the payer's own channels come from `first_hops`
            }
            candidates.push(Candidate {
                from,
                scid: info.scid,
                policy: info.policy_from(from).copied(),
                capacity_msat: info.capacity_sat.saturating_mul(1000),
            });
        });
        for &(from, scid, policy) in hint_edges.get(&node).into_iter().flatten() {
            if from != req.source {
                candidates.push(Candidate {
                    from,
                    scid,
                    policy: Some(policy),
                    capacity_msat: u64::MAX,
                });
            }
        }
        for candidate in &candidates {
            if req.excluded_channels.contains(&(candidate.scid, candidate.from))
                || req.excluded_nodes.contains(&candidate.from)
            {
                continue;
            }
            let policy = req
                .policy_overrides
                .get(&(candidate.scid, candidate.from))
                .copied()
                .or(candidate.policy);
            let Some(policy) = policy else { continue };
            if !policy.admits(label.amount_msat) || label.amount_msat > candidate.capacity_msat {
                continue;
            }
            let fee = policy.fee_msat(label.amount_msat);
            let next = Label {
                fee_msat: label.fee_msat + fee,
                amount_msat: label.amount_msat + fee,
                cltv_delta: label.cltv_delta + u32::from(policy.cltv_expiry_delta),
                hops: label.hops + 1,
                next: Some((candidate.scid, node, fee)),
            };
            relax(&mut labels, &mut heap, req, candidate.from, next);
        }
        for first in req.first_hops.iter().filter(|f| f.peer == node) {
            if req.excluded_channels.contains(&(first.scid, req.source))
                || label.amount_msat > first.available_msat
                || label.amount_msat < first.htlc_minimum_msat
            {
                continue;
            }
            let next = Label { hops: label.hops + 1, next: Some((first.scid, node, 0)), ..label };
            relax(&mut labels, &mut heap, req, req.source, next);
        }
    }
    None
}

fn relax(
    labels: &mut [Option<Label>],
    heap: &mut BinaryHeap<Reverse<(u64, u32, u32)>>,
    req: &RouteRequest<'_>,
    node: NodeId,
    candidate: Label,
) {
    if candidate.fee_msat > req.max_fee_msat
        || candidate.cltv_delta > req.max_total_cltv_delta
        || candidate.hops as usize > req.max_hops
    {
        return;
    }
    let better = match labels[node.index()] {
        None => true,
        Some(old) => (candidate.fee_msat, candidate.hops) < (old.fee_msat, old.hops),
    };
    if better {
        labels[node.index()] = Some(candidate);
        heap.push(Reverse((candidate.fee_msat, candidate.hops, node.0)));
    }
}

fn build_route(labels: &[Option<Label>], req: &RouteRequest<'_>) -> Route {
    let mut hops = Vec::new();
    let mut node = req.source;
    while let Some((scid, next, fee_msat)) = labels[node.index()].and_then(|l| l.next) {
        let at_next = labels[next.index()].expect("invariant: a route's nodes are labelled");
        hops.push(RouteHop {
            scid,
            node_id: next,
            amount_msat: at_next.amount_msat,
            cltv_expiry: req.current_height + at_next.cltv_delta,
            fee_msat,
        });
        node = next;
    }
    debug_assert_eq!(node, req.target);
    Route { hops }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{BaseGraph, ChannelInfo, DirectedPolicy};
    use std::sync::Arc;

    fn policy(base: u32, ppm: u32, cltv: u16) -> ChannelPolicy {
        ChannelPolicy {
            fee_base_msat: base,
            fee_proportional_millionths: ppm,
            cltv_expiry_delta: cltv,
            htlc_minimum_msat: 1,
            htlc_maximum_msat: u64::MAX,
        }
    }

    fn channel(scid: u64, a: u32, b: u32, p: ChannelPolicy) -> ChannelInfo {
        let d = Some(DirectedPolicy { policy: p, disabled: false, timestamp: 1 });
        ChannelInfo {
            scid: Scid(scid),
            node_1: NodeId(a.min(b)),
            node_2: NodeId(a.max(b)),
            capacity_sat: 10_000_000,
            directions: [d, d],
        }
    }

    struct Fixture {
        view: GraphView,
        first_hops: Vec<FirstHop>,
        excluded: BTreeSet<(Scid, NodeId)>,
        excluded_nodes: BTreeSet<NodeId>,
        overrides: BTreeMap<(Scid, NodeId), ChannelPolicy>,
    }

    impl Fixture {
        fn request(&self, amount_msat: u64) -> RouteRequest<'_> {
            RouteRequest {
                source: NodeId(0),
                target: NodeId(4),
                amount_msat,
                current_height: 100,
                final_cltv_delta: 18,
                max_fee_msat: u64::MAX,
                max_total_cltv_delta: 2016,
                max_hops: 20,
                first_hops: &self.first_hops,
                hints: &[],
                excluded_channels: &self.excluded,
                excluded_nodes: &self.excluded_nodes,
                policy_overrides: &self.overrides,
            }
        }
    }

    /// Node 0 pays node 4. Its own channels go to 1 and 2.
    ///   1 -> 3 costs 1000 base; 3 -> 4 costs 10 ppm.
    ///   2 -> 4 costs 2000 base + 1 ppm.
    ///   1 -> 4 costs 0 base + 5000 ppm (cheap for small amounts, dear for large ones).
    fn fixture() -> Fixture {
        let base = BaseGraph::new(
            5,
            vec![
                channel(1, 0, 1, policy(0, 0, 40)),
                channel(2, 0, 2, policy(0, 0, 40)),
                channel(3, 1, 3, policy(1000, 0, 40)),
                channel(4, 3, 4, policy(0, 10, 40)),
                channel(5, 2, 4, policy(2000, 1, 144)),
                channel(6, 1, 4, policy(0, 5000, 40)),
            ],
        );
        let hop = |scid, peer| FirstHop {
            scid: Scid(scid),
            peer: NodeId(peer),
            available_msat: 5_000_000_000,
            htlc_minimum_msat: 1,
        };
        Fixture {
            view: GraphView::new(Arc::new(base)),
            first_hops: vec![hop(1, 1), hop(2, 2)],
            excluded: BTreeSet::new(),
            excluded_nodes: BTreeSet::new(),
            overrides: BTreeMap::new(),
        }
    }

    #[test]
    fn picks_the_cheapest_route_worked_out_by_hand() {
        let f = fixture();
        // 100_000 msat: via 1->4 costs 500; via 1->3->4 costs 1 + 1000; via 2->4 costs 2000.
        let route = cheapest_route(&f.view, &f.request(100_000)).unwrap();
        assert_eq!(route.nodes().collect::<Vec<_>>(), vec![NodeId(1), NodeId(4)]);
        assert_eq!(route.fee_msat(), 500);
        assert_eq!(route.hops[0].amount_msat, 100_500);
        assert_eq!(route.hops[0].cltv_expiry, 100 + 18 + 40);
        assert_eq!(route.hops[1].cltv_expiry, 100 + 18);
        assert_eq!(route.hops[1].fee_msat, 500);
        // 1_000_000 msat: via 1->4 costs 5000; via 1->3->4: 3->4 takes 10, 1->3 takes 1000;
        // via 2->4 takes 2001. Cheapest: 1->3->4 at 1010.
        let route = cheapest_route(&f.view, &f.request(1_000_000)).unwrap();
        assert_eq!(route.nodes().collect::<Vec<_>>(), vec![NodeId(1), NodeId(3), NodeId(4)]);
        assert_eq!(route.fee_msat(), 1010);
        assert_eq!(
            route.hops.iter().map(|h| h.amount_msat).collect::<Vec<_>>(),
            vec![1_001_010, 1_000_010, 1_000_000]
        );
        assert_eq!(route.hops[0].cltv_expiry, 100 + 18 + 40 + 40);
    }

    #[test]
    fn exclusions_and_local_liquidity_reroute() {
        let mut f = fixture();
        f.excluded.insert((Scid(4), NodeId(3)));
        f.excluded.insert((Scid(6), NodeId(1)));
        let route = cheapest_route(&f.view, &f.request(1_000_000)).unwrap();
        assert_eq!(route.nodes().collect::<Vec<_>>(), vec![NodeId(2), NodeId(4)]);
        assert_eq!(route.fee_msat(), 2001);
        f.first_hops[1].available_msat = 1_000_000;
        assert!(cheapest_route(&f.view, &f.request(1_000_000)).is_none(), "needs 1_002_001");
    }

    #[test]
    fn fee_limit_and_hop_limit_are_respected() {
        let f = fixture();
        let mut req = f.request(1_000_000);
        req.max_fee_msat = 1000;
        assert!(cheapest_route(&f.view, &req).is_none());
        req.max_fee_msat = 2001;
        req.max_hops = 2;
        let route = cheapest_route(&f.view, &req).unwrap();
        assert_eq!(route.hops.len(), 2);
        assert_eq!(route.fee_msat(), 2001);
    }
}
