//! Small graphs and requests for the routers' tests: a graph is a list of channels with one
//! policy for both directions, and the payer's own channels become its first hops with a given
//! spendable balance.

use super::{FirstHop, RouteRequest};
use crate::graph::{BaseGraph, ChannelInfo, DirectedPolicy, GraphView};
use crate::ids::{NodeId, Scid, SimTime};
use crate::policy::ChannelPolicy;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A policy charging `base` msat plus `ppm`, with CLTV delta `cltv`.
pub fn policy(base: u32, ppm: u32, cltv: u16) -> ChannelPolicy {
    ChannelPolicy {
        fee_base_msat: base,
        fee_proportional_millionths: ppm,
        cltv_expiry_delta: cltv,
        htlc_minimum_msat: 1,
        htlc_maximum_msat: u64::MAX,
    }
}

/// A channel `scid` between `a` and `b` of `capacity_sat`, both directions with `p`.
pub fn channel(scid: u64, a: u32, b: u32, capacity_sat: u64, p: ChannelPolicy) -> ChannelInfo {
    let d = Some(DirectedPolicy { policy: p, disabled: false, timestamp: 1 });
    ChannelInfo {
        scid: Scid(scid),
        node_1: NodeId(a.min(b)),
        node_2: NodeId(a.max(b)),
        capacity_sat,
        directions: [d, d],
    }
}

/// A network, a payer and what its requests carry.
pub struct Fixture {
    pub view: GraphView,
    pub source: NodeId,
    pub target: NodeId,
    pub first_hops: Vec<FirstHop>,
    pub excluded: BTreeSet<(Scid, NodeId)>,
    pub excluded_nodes: BTreeSet<NodeId>,
    pub overrides: BTreeMap<(Scid, NodeId), ChannelPolicy>,
    pub in_flight: BTreeMap<(Scid, NodeId), u64>,
    pub caps: BTreeMap<(Scid, NodeId), u64>,
}

impl Fixture {
    /// `channels` over `nodes` nodes; `source` pays `target`, and can spend `spendable_msat` of
    /// each of its own channels (`None`: their whole capacity).
    pub fn new(
        nodes: u32,
        channels: Vec<ChannelInfo>,
        source: u32,
        target: u32,
        spendable_msat: Option<u64>,
    ) -> Fixture {
        let source = NodeId(source);
        let first_hops = channels
            .iter()
            .filter_map(|c| {
                let peer = if c.node_1 == source {
                    c.node_2
                } else if c.node_2 == source {
                    c.node_1
                } else {
                    return None;
                };
                Some(FirstHop {
                    scid: c.scid,
                    peer,
                    available_msat: spendable_msat.unwrap_or(c.capacity_sat * 1000),
                    htlc_minimum_msat: 1,
                })
            })
            .collect();
        Fixture {
            view: GraphView::new(Arc::new(BaseGraph::new(nodes, channels))),
            source,
            target: NodeId(target),
            first_hops,
            excluded: BTreeSet::new(),
            excluded_nodes: BTreeSet::new(),
            overrides: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            caps: BTreeMap::new(),
        }
    }

    /// A request for `amount_msat` at height 100, without limits that matter.
    pub fn request(&self, amount_msat: u64) -> RouteRequest<'_> {
        RouteRequest {
            source: self.source,
            target: self.target,
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
            capacity_caps: &self.caps,
            in_flight: &self.in_flight,
            now: SimTime::from_secs(1_000),
            fuzz_seed: 0,
            max_parts: 16,
        }
    }
}
