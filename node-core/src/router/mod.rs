//! Route finding in a node's own view of the network, behind one [`Router`] trait so that
//! routers modelled on deployed implementations can be compared on the same network and
//! workload. Each sender holds its own routers and each router learns only from that sender's own
//! payments (no oracle: nothing here reads another node's balances). The single-path routers share
//! one backward Dijkstra ([`search`]) and differ in how they score an edge; the min-cost-flow
//! router splits a payment into parts. Which router a node uses, and with which parameters, is a
//! [`RouterConfig`]. Sending the HTLCs and retrying is the payment's job.

pub mod cheapest;
pub mod cln;
pub mod eclair;
pub mod ldk;
pub mod liquidity;
pub mod lnd;
pub mod mcf;
#[cfg(any(test, feature = "test-utils"))]
pub mod reference;
pub mod scorer;
pub mod search;

use crate::graph::GraphView;
use crate::ids::{NodeId, Scid, SimTime};
use crate::invoice::RouteHint;
use crate::onion::FailureCode;
use crate::policy::ChannelPolicy;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use thiserror::Error;

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
    /// The most each channel direction is believed to carry, msat, learnt from this payment's
    /// failures (Core Lightning's channel hints: [`FailureMemory::CapacityBelow`]).
    pub capacity_caps: &'a BTreeMap<(Scid, NodeId), u64>,
    /// What the payer's own HTLCs in flight (of every payment) already use of each channel
    /// direction beyond its first hop, msat.
    pub in_flight: &'a BTreeMap<(Scid, NodeId), u64>,
    /// The time of the request (learning routers decay what they know with it).
    pub now: SimTime,
    /// A per-payment random value (Core Lightning's fee fuzz draws from it).
    pub fuzz_seed: u64,
    /// Most routes a multi-part router may return (1: the payment may not be split).
    pub max_parts: usize,
}

impl RouteRequest<'_> {
    /// The edges of the route hints: (from, to, channel, from's policy); a hint's last hop leads
    /// to the payee.
    pub fn hint_edges(&self) -> Vec<(NodeId, NodeId, Scid, ChannelPolicy)> {
        self.hints
            .iter()
            .flat_map(|hint| {
                hint.hops.iter().enumerate().map(move |(i, hop)| {
                    let to = hint.hops.get(i + 1).map_or(self.target, |next| next.src);
                    (hop.src, to, hop.short_channel_id, hop.policy)
                })
            })
            .collect()
    }
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

/// What an attempt taught the payer about its route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Learned {
    /// The payee settled it: every hop could forward its amount.
    Succeeded,
    /// It failed at the node at path index `failing_hop` (0 the payer) with `code`.
    Failed {
        /// Index of the failing node on the path.
        failing_hop: usize,
        /// Its BOLT 4 code.
        code: FailureCode,
    },
}

/// What a payment remembers of a channel direction that failed for want of liquidity
/// (`temporary_channel_failure` from a forwarder), as the implementation its router follows
/// does. Every other failure is the same for all: a channel that is disabled, unknown or
/// permanently failed is excluded for the rest of the payment, a failing node too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureMemory {
    /// Excluded for the rest of the payment at every amount: LDK 0.1 (`router.rs`,
    /// `PaymentParameters::previously_failed_channels`), Eclair 0.13
    /// (`payment/send/PaymentLifecycle.scala`, the payment's `Ignore` set), and the baselines.
    Exclude,
    /// Nothing for the payment: the router's own memory decides, by amount. lnd 0.18's mission
    /// control fails the pair at the amount that failed; smaller amounts stay allowed
    /// (`routing/result_interpretation.go`, `failPairBalance`).
    Router,
    /// Kept with its capacity estimate just below the amount that failed: Core Lightning 24.11's
    /// `pay` (`plugins/libplugin-pay.c`, `handle_intermediate_failure` →
    /// `channel_hints_update` with `estimated_capacity = amount − 1 msat`).
    CapacityBelow,
}

/// A copy of a boxed router, with what it learnt: every router is `Clone`, so a payer can be
/// copied whole ([`crate::Node::speculate`]).
pub trait BoxedClone {
    /// The router, copied.
    fn boxed_clone(&self) -> Box<dyn Router>;
}

impl<T: Router + Clone + 'static> BoxedClone for T {
    fn boxed_clone(&self) -> Box<dyn Router> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn Router> {
    fn clone(&self) -> Box<dyn Router> {
        self.boxed_clone()
    }
}

/// A way of finding routes for the payer that owns it.
pub trait Router: std::fmt::Debug + Send + Sync + BoxedClone {
    /// Routes delivering `req.amount_msat` in total: at most one for a single-path router, at
    /// most `req.max_parts` parts of a split for a multi-part one; none if there is no way. A
    /// multi-part router may deliver less (parts it could not fit are left out): the payer
    /// sends what it got and plans the rest. Planning only reads: the answer is a function of
    /// what the router learnt, the view and the request (so a payment's first plan can be made
    /// ahead, on another thread: [`crate::node::PlannedPayment`]).
    fn plan(&self, view: &GraphView, req: &RouteRequest<'_>) -> Vec<Route>;

    /// Learns from how an attempt over `route` by `payer` ended at `now` (`view` gives channel
    /// capacities).
    fn learn(
        &mut self,
        view: &GraphView,
        now: SimTime,
        payer: NodeId,
        route: &Route,
        outcome: Learned,
    );

    /// Whether it splits payments itself (else the payment splits by halving when a whole amount
    /// finds no route).
    fn splits(&self) -> bool {
        false
    }

    /// What a payment it plans remembers of a channel that failed for want of liquidity.
    fn failure_memory(&self) -> FailureMemory {
        FailureMemory::Exclude
    }
}

/// Which router a node uses, with its parameters. Every parameter is an integer; probabilities
/// and weights are in millionths (ppm).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RouterConfig {
    /// The lowest total fee ([`cheapest::Cheapest`]).
    #[default]
    Cheapest,
    /// The fewest hops, then the lowest fee ([`cheapest::ShortestHops`]).
    ShortestHops,
    /// lnd's probability-weighted pathfinding ([`lnd::LndRouter`]).
    Lnd(lnd::LndParams),
    /// LDK's probabilistic scorer ([`ldk::LdkRouter`]).
    Ldk(ldk::LdkParams),
    /// Core Lightning's fee-and-risk Dijkstra with fee fuzz ([`cln::ClnRouter`]).
    Cln(cln::ClnParams),
    /// Pickhardt–Richter min-cost flow, a multi-part payment ([`mcf::MinCostFlow`]).
    MinCostFlow(mcf::McfParams),
    /// Eclair's k-shortest-paths search on its heuristic weight ([`eclair::EclairRouter`]).
    Eclair(eclair::EclairParams),
}

impl RouterConfig {
    /// A short name for results.
    pub fn name(&self) -> &'static str {
        match self {
            RouterConfig::Cheapest => "cheapest",
            RouterConfig::ShortestHops => "shortest_hops",
            RouterConfig::Lnd(p) => match p.estimator {
                lnd::Estimator::Apriori => "lnd_apriori",
                lnd::Estimator::Bimodal => "lnd_bimodal",
            },
            RouterConfig::Ldk(_) => "ldk",
            RouterConfig::Cln(_) => "cln",
            RouterConfig::MinCostFlow(_) => "min_cost_flow",
            RouterConfig::Eclair(_) => "eclair",
        }
    }

    /// A stable integer for traces: 1 cheapest, 2 shortest hops, 3 lnd apriori, 4 lnd bimodal,
    /// 5 LDK, 6 Core Lightning, 7 min-cost flow, 8 Eclair.
    pub fn code(&self) -> u8 {
        match self {
            RouterConfig::Cheapest => 1,
            RouterConfig::ShortestHops => 2,
            RouterConfig::Lnd(p) => match p.estimator {
                lnd::Estimator::Apriori => 3,
                lnd::Estimator::Bimodal => 4,
            },
            RouterConfig::Ldk(_) => 5,
            RouterConfig::Cln(_) => 6,
            RouterConfig::MinCostFlow(_) => 7,
            RouterConfig::Eclair(_) => 8,
        }
    }

    /// Every router with its default parameters (lnd's with each estimator), in the order
    /// results list them.
    pub fn defaults() -> [RouterConfig; 8] {
        [
            RouterConfig::Cheapest,
            RouterConfig::ShortestHops,
            RouterConfig::Lnd(lnd::LndParams::default()),
            RouterConfig::Lnd(lnd::LndParams {
                estimator: lnd::Estimator::Bimodal,
                ..lnd::LndParams::default()
            }),
            RouterConfig::Ldk(ldk::LdkParams::default()),
            RouterConfig::Cln(cln::ClnParams::default()),
            RouterConfig::Eclair(eclair::EclairParams::default()),
            RouterConfig::MinCostFlow(mcf::McfParams::default()),
        ]
    }

    /// Whether its routes depend on the payment's own random value ([`RouteRequest::fuzz_seed`],
    /// drawn from the payment hash): Core Lightning's fee fuzz, and Eclair's pick among its
    /// routes when it randomizes. Every other router answers the same whatever the value.
    pub fn uses_payment_seed(&self) -> bool {
        match self {
            RouterConfig::Cln(_) => true,
            RouterConfig::Eclair(p) => p.randomize,
            RouterConfig::Cheapest
            | RouterConfig::ShortestHops
            | RouterConfig::Lnd(_)
            | RouterConfig::Ldk(_)
            | RouterConfig::MinCostFlow(_) => false,
        }
    }

    /// Checks the parameters against what the router handles: lnd's probabilities and weights
    /// are at most 1,000,000 ppm and `apriori_weight_ppm` below it (at 1,000,000 the history
    /// would never count); Core Lightning's fee fuzz is at most 100%; min-cost flow takes 1 to
    /// 64 pieces, 1 to 100,000 flow units and `mu` at most 1,000,000; Eclair finds 1 to 16
    /// routes. Returns the first parameter out of range.
    pub fn validate(&self) -> Result<(), RouterParamError> {
        let check = |field: &'static str, value: u64, bound: ParamBound| {
            if bound.admits(value) { Ok(()) } else { Err(RouterParamError { field, value, bound }) }
        };
        match self {
            RouterConfig::Cheapest | RouterConfig::ShortestHops | RouterConfig::Ldk(_) => Ok(()),
            RouterConfig::Lnd(p) => {
                for (field, value) in [
                    ("min_probability_ppm", p.min_probability_ppm),
                    ("apriori_hop_probability_ppm", p.apriori_hop_probability_ppm),
                    ("apriori_weight_ppm", p.apriori_weight_ppm),
                    ("capacity_fraction_ppm", p.capacity_fraction_ppm),
                    ("bimodal_node_weight_ppm", p.bimodal_node_weight_ppm),
                ] {
                    check(field, value, ParamBound::AtMost(1_000_000))?;
                }
                check("apriori_weight_ppm", p.apriori_weight_ppm, ParamBound::Below(1_000_000))
            }
            RouterConfig::Cln(p) => check("fuzz_percent", p.fuzz_percent, ParamBound::AtMost(100)),
            RouterConfig::MinCostFlow(p) => {
                check("pieces", u64::from(p.pieces), ParamBound::Within(1, 64))?;
                check("flow_units", p.flow_units, ParamBound::Within(1, 100_000))?;
                check("mu", p.mu, ParamBound::AtMost(1_000_000))
            }
            RouterConfig::Eclair(p) => {
                check("routes", u64::from(p.routes), ParamBound::Within(1, 16))
            }
        }
    }

    /// A fresh router of this kind (knowing nothing yet).
    pub fn build(&self) -> Box<dyn Router> {
        match *self {
            RouterConfig::Cheapest => Box::new(cheapest::Cheapest),
            RouterConfig::ShortestHops => Box::new(cheapest::ShortestHops),
            RouterConfig::Lnd(params) => Box::new(lnd::LndRouter::new(params)),
            RouterConfig::Ldk(params) => Box::new(ldk::LdkRouter::new(params)),
            RouterConfig::Cln(params) => Box::new(cln::ClnRouter::new(params)),
            RouterConfig::MinCostFlow(params) => Box::new(mcf::MinCostFlow::new(params)),
            RouterConfig::Eclair(params) => Box::new(eclair::EclairRouter::new(params)),
        }
    }
}

/// A router parameter outside the range its router handles (see [`RouterConfig::validate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("{field} {bound}")]
pub struct RouterParamError {
    /// The parameter, as its field is named.
    pub field: &'static str,
    /// Its value.
    pub value: u64,
    /// The range it must be in.
    pub bound: ParamBound,
}

/// The range a router parameter must be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamBound {
    /// At most this.
    AtMost(u64),
    /// Below this.
    Below(u64),
    /// From the first to the second, both included.
    Within(u64, u64),
}

impl ParamBound {
    /// Whether `value` is in the range.
    pub fn admits(self, value: u64) -> bool {
        match self {
            ParamBound::AtMost(max) => value <= max,
            ParamBound::Below(limit) => value < limit,
            ParamBound::Within(min, max) => (min..=max).contains(&value),
        }
    }
}

impl fmt::Display for ParamBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamBound::AtMost(max) => write!(f, "is at most {max}"),
            ParamBound::Below(limit) => write!(f, "must be below {limit}"),
            ParamBound::Within(min, max) => write!(f, "must be {min} to {max}"),
        }
    }
}

/// The cheapest-fee route (the baseline): [`cheapest::Cheapest`] through [`search::search`].
pub fn cheapest_route(view: &GraphView, req: &RouteRequest<'_>) -> Option<Route> {
    search::search(view, req, &mut cheapest::Cheapest)
}

#[cfg(test)]
mod testing;

#[cfg(test)]
mod tests {
    use super::testing::{Fixture, channel, policy};
    use super::*;
    use crate::onion::FailureCode;

    /// Node 0 pays node 4. Its own channels go to 1 and 2.
    ///   1 -> 3 costs 1000 base; 3 -> 4 costs 10 ppm.
    ///   2 -> 4 costs 2000 base + 1 ppm.
    ///   1 -> 4 costs 0 base + 5000 ppm (cheap for small amounts, dear for large ones).
    fn fixture() -> Fixture {
        let c = |scid, a, b, p| channel(scid, a, b, 10_000_000, p);
        let channels = vec![
            c(1, 0, 1, policy(0, 0, 40)),
            c(2, 0, 2, policy(0, 0, 40)),
            c(3, 1, 3, policy(1000, 0, 40)),
            c(4, 3, 4, policy(0, 10, 40)),
            c(5, 2, 4, policy(2000, 1, 144)),
            c(6, 1, 4, policy(0, 5000, 40)),
        ];
        Fixture::new(5, channels, 0, 4, Some(5_000_000_000))
    }

    /// A payment's first plan is made ahead only with routers that answer the same whatever the
    /// payment's random value ([`RouterConfig::uses_payment_seed`]); Eclair's random pick does
    /// not.
    #[test]
    fn only_routers_said_to_use_the_payment_seed_depend_on_it() {
        let f = fixture();
        // Core Lightning's fuzz need not change a route on so small a network: left out.
        let not_randomized =
            eclair::EclairParams { randomize: false, ..eclair::EclairParams::default() };
        let configs = RouterConfig::defaults()
            .into_iter()
            .filter(|c| !matches!(c, RouterConfig::Cln(_)))
            .chain([RouterConfig::Eclair(not_randomized)]);
        for config in configs {
            let router = config.build();
            let mut answers = BTreeSet::new();
            for amount_msat in [100_000, 1_000_000, 5_000_000] {
                for fuzz_seed in 0..32 {
                    let req = RouteRequest { fuzz_seed, ..f.request(amount_msat) };
                    answers.insert((amount_msat, format!("{:?}", router.plan(&f.view, &req))));
                }
            }
            let depends = answers.len() > 3;
            assert_eq!(depends, config.uses_payment_seed(), "{config:?}");
        }
    }

    /// In debug builds the search checks every lower bound it uses against the scorer's cost,
    /// so a bound that could skip a winning edge fails the tests that search.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "lower bound exceeds its cost")]
    fn a_lower_bound_above_the_cost_is_caught() {
        struct Overstated;
        impl search::Scorer for Overstated {
            fn score(
                &mut self,
                edge: &search::Edge<'_>,
                to: &search::Reached,
            ) -> Option<(u64, u64, f64)> {
                Some((to.cost + edge.fee_msat, 0, 1.0))
            }
            fn lower_bound(&self, edge: &search::Edge<'_>, to: &search::Reached) -> u64 {
                to.cost + edge.fee_msat + 1
            }
        }
        let f = fixture();
        search::search(&f.view, &f.request(100_000), &mut Overstated);
    }

    /// A debug build checks every scored edge against the scorer's hop floor, so a floor that
    /// could steer a search past the route plain Dijkstra finds fails the tests that search.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "hop floor exceeds what")]
    fn a_hop_floor_above_what_a_hop_adds_is_caught() {
        struct Overstated;
        impl search::Scorer for Overstated {
            fn score(
                &mut self,
                edge: &search::Edge<'_>,
                to: &search::Reached,
            ) -> Option<(u64, u64, f64)> {
                Some((to.cost + edge.fee_msat + 1_000, 0, 1.0))
            }
            fn hop_floor(&self) -> u64 {
                1_000_000
            }
        }
        let f = fixture();
        search::search(&f.view, &f.request(100_000), &mut Overstated);
    }

    /// A cost like lnd's: each hop adds 1,000 msat times 2 to the power of the hops before it
    /// that were not from an `exempt` node (counted in the weight), and a hop from an exempt
    /// node adds nothing (`growth`, as it claims, need not be the truth: the tests below
    /// overstate it), noting the nodes whose edges it scores.
    struct Doubling {
        growth: f64,
        exempt: BTreeSet<NodeId>,
        scored: BTreeSet<NodeId>,
    }

    impl Doubling {
        fn new(growth: f64, exempt: &[u32]) -> Doubling {
            let exempt = exempt.iter().map(|&n| NodeId(n)).collect();
            Doubling { growth, exempt, scored: BTreeSet::new() }
        }
    }

    impl search::Scorer for Doubling {
        fn score(
            &mut self,
            edge: &search::Edge<'_>,
            to: &search::Reached,
        ) -> Option<(u64, u64, f64)> {
            self.scored.insert(edge.from);
            if self.exempt.contains(&edge.from) {
                return Some((to.cost, to.weight, 1.0));
            }
            Some((to.cost + (1_000 << to.weight) + edge.fee_msat, to.weight + 1, 1.0))
        }
        fn hop_floor(&self) -> u64 {
            1_000
        }
        fn hop_growth(&self) -> f64 {
            self.growth
        }
        fn floor_exempt(&self, exempt: &mut dyn FnMut(NodeId)) {
            self.exempt.iter().for_each(|&n| exempt(n));
        }
    }

    /// Payer 0 reaches payee 1 over 0-2-3-4-1. Beside the route, 1 has a peer 5 with peers 6
    /// and 7 (2 hops from the payee), each with a peer (8, 9: 3 hops) that has two more (10 to
    /// 13, paired by channels of their own so that none has one peer), all far from the payer.
    /// No fees.
    fn a_bush_by_the_payee() -> Fixture {
        let free = policy(0, 0, 40);
        let links = [(0, 2), (2, 3), (3, 4), (4, 1), (1, 5), (5, 6), (5, 7), (6, 8), (7, 9)];
        let bush = [(8, 10), (8, 11), (9, 12), (9, 13), (10, 11), (12, 13)];
        let channels = (links.iter().chain(&bush).enumerate())
            .map(|(i, &(a, b))| channel(i as u64 + 1, a, b, 1_000, free))
            .collect();
        Fixture::new(14, channels, 0, 1, None)
    }

    /// A cost that grows with each hop steers harder: the nodes 3 hops from the payee that are
    /// far from the payer (8 and 9) are settled under the floor alone (their 7,000 msat plus two
    /// floors stay below the payer's 15,000) and not once the growth is counted (two steps of at
    /// least 8,000 and 1,000 more), so the edges into them, from 10 to 13, go unscored; the
    /// route is the reference search's either way.
    #[test]
    fn a_cost_that_grows_per_hop_steers_past_what_the_floor_alone_settles() {
        let f = a_bush_by_the_payee();
        let req = f.request(100_000);
        let bush: BTreeSet<NodeId> = (10..14).map(NodeId).collect();
        // Growing also with an exempt node at the payer's steps (2, the payer's peer).
        for (growth, exempt, settled) in [(1.0, &[][..], 4), (2.0, &[], 0), (2.0, &[2], 0)] {
            let mut scorer = Doubling::new(growth, exempt);
            let route = search::search(&f.view, &req, &mut scorer).expect("0-2-3-4-1");
            let reference = reference::with_reference_search(|| {
                search::search(&f.view, &req, &mut Doubling::new(growth, exempt))
            });
            assert_eq!(Some(route.clone()), reference);
            let nodes: Vec<NodeId> = route.nodes().collect();
            assert_eq!(nodes, [2, 3, 4, 1].map(NodeId), "growth {growth}, exempt {exempt:?}");
            let unsettled = scorer.scored.intersection(&bush).count();
            assert_eq!(unsettled, settled, "growth {growth}, exempt {exempt:?}");
        }
    }

    /// Payer 0 reaches payee 1 over 0-5-4-3-2-1 only: its channel to 2 has nothing to spend.
    /// 2 is exempt (its hop adds nothing) and the payer's peer, so the search grows; 4 is three
    /// hops from the payee but two from nodes not exempt, and its label costs 3,000 msat, so
    /// the hop from 5 adds 4,000, not the 8,000 three hops would say. Marked at three, 4's
    /// priority (3,000 + 8,000) would exceed 5's (7,000: 5 is the payer's peer), and a debug
    /// build would fail; marked at two (exempt hops not counted), 6,999. With an exempt node a
    /// step or more from the payer (3 alone, 4) the search does not grow; with 2 and 3 it does
    /// (3 is then at the payer's steps).
    #[test]
    fn an_exempt_hop_by_the_payer_is_not_counted_in_the_hops_from_the_payee() {
        let links = [(0, 2), (2, 1), (0, 5), (5, 4), (4, 3), (3, 2)];
        let channels = (links.iter().enumerate())
            .map(|(i, &(a, b))| channel(i as u64 + 1, a, b, 1_000, policy(0, 0, 40)))
            .collect();
        let mut f = Fixture::new(6, channels, 0, 1, None);
        f.first_hops.retain(|h| h.peer != NodeId(2));
        let req = f.request(100_000);
        for exempt in [&[][..], &[2], &[3], &[2, 3], &[4]] {
            let mut scorer = Doubling::new(2.0, exempt);
            let route = search::search(&f.view, &req, &mut scorer).expect("0-5-4-3-2-1");
            let reference = reference::with_reference_search(|| {
                search::search(&f.view, &req, &mut Doubling::new(2.0, exempt))
            });
            assert_eq!(Some(route.clone()), reference, "exempt {exempt:?}");
            let nodes: Vec<NodeId> = route.nodes().collect();
            assert_eq!(nodes, [5, 4, 3, 2, 1].map(NodeId), "exempt {exempt:?}");
        }
    }

    /// Payer 0 reaches payee 1 over 0-5-4-3-2-1 only: 4's channel to 1 is too small for the
    /// amount. 4 is exempt and a step from the payer (a peer of its peer 5): counted from the
    /// payee, it is 0 hops away (its own hop is not counted), and 3 is 1, so were the search to
    /// grow, 3's label (3,000 msat) would offer 4 one at the same cost but a priority a step
    /// lower (a debug build would fail). It does not grow: the reference route.
    #[test]
    fn an_exempt_node_beyond_the_payers_steps_keeps_the_search_from_growing() {
        let links = [(0, 5), (5, 4), (4, 1), (4, 3), (3, 2), (2, 1)];
        let channels = (links.iter().enumerate())
            .map(|(i, &(a, b))| {
                let sat = if (a, b) == (4, 1) { 1 } else { 1_000 };
                channel(i as u64 + 1, a, b, sat, policy(0, 0, 40))
            })
            .collect();
        let f = Fixture::new(6, channels, 0, 1, None);
        let req = f.request(100_000);
        for exempt in [&[][..], &[4]] {
            let route = search::search(&f.view, &req, &mut Doubling::new(2.0, exempt));
            let reference = reference::with_reference_search(|| {
                search::search(&f.view, &req, &mut Doubling::new(2.0, exempt))
            });
            assert_eq!(route, reference, "exempt {exempt:?}");
            let nodes: Vec<NodeId> = route.expect("0-5-4-3-2-1").nodes().collect();
            assert_eq!(nodes, [5, 4, 3, 2, 1].map(NodeId), "exempt {exempt:?}");
        }
    }

    /// Payer 0 pays 2 over 0-1-2; hub 1 also has peers 3 and 4 with one channel each, and 5
    /// with two, all to 1. A route can only enter such a node from its peer and leave back to
    /// it, so the search offers them no label (the scorer is never asked about their edges);
    /// the route is the reference search's, which labels them.
    #[test]
    fn nodes_with_one_peer_are_not_labelled() {
        let free = policy(0, 0, 40);
        let links = [(0, 1), (1, 2), (1, 3), (1, 4), (1, 5), (1, 5)];
        let channels = (links.iter().enumerate())
            .map(|(i, &(a, b))| channel(i as u64 + 1, a, b, 1_000, free))
            .collect();
        let f = Fixture::new(6, channels, 0, 2, None);
        // The payer and the payee too have one peer.
        assert!([0, 2, 3, 4, 5].iter().all(|&n| f.view.has_one_peer(NodeId(n))));
        assert!(!f.view.has_one_peer(NodeId(1)));
        let req = f.request(100_000);
        let mut scorer = Doubling::new(1.0, &[]);
        let route = search::search(&f.view, &req, &mut scorer);
        let reference = reference::with_reference_search(|| {
            search::search(&f.view, &req, &mut Doubling::new(1.0, &[]))
        });
        assert_eq!(route, reference);
        assert_eq!(route.expect("0-1-2").nodes().collect::<Vec<_>>(), [1, 2].map(NodeId));
        assert_eq!(scorer.scored, [0, 1].map(NodeId).into(), "only 1 and the payer's hop");
    }

    /// A node with one peer in the graph still leads somewhere when the payer has a channel of
    /// its own to it that the graph lacks, or when a route hint starts or ends at it: payer 0
    /// reaches payee 2 over 3-1-2, 3's only channel in the graph being to 1, first by a channel
    /// to 3 only the payer knows, then by a hint 4 -> 3 -> 2 whose last hop is too small, after
    /// a channel to 4.
    #[test]
    fn a_node_with_one_peer_is_labelled_where_a_private_channel_reaches_it() {
        let free = policy(0, 0, 40);
        let (amount_msat, small) = (100_000, ChannelPolicy { htlc_maximum_msat: 1, ..free });
        let base = |links: &[(u32, u32)]| -> Vec<_> {
            (links.iter().enumerate())
                .map(|(i, &(a, b))| channel(i as u64 + 1, a, b, 1_000, free))
                .collect()
        };
        let mut own = Fixture::new(5, base(&[(1, 2), (1, 3)]), 0, 2, None);
        own.first_hops.push(FirstHop {
            scid: Scid(90),
            peer: NodeId(3),
            available_msat: 1_000_000,
            htlc_minimum_msat: 1,
        });
        let hinted = Fixture::new(5, base(&[(1, 2), (1, 3), (0, 4)]), 0, 2, None);
        let hint = |src, scid, policy| crate::invoice::RouteHintHop {
            src: NodeId(src),
            short_channel_id: Scid(scid),
            policy,
        };
        let hints = [RouteHint { hops: vec![hint(4, 91, free), hint(3, 92, small)] }];
        let expected: [&[u32]; 2] = [&[3, 1, 2], &[4, 3, 1, 2]];
        for (f, hints, expected) in [(&own, &[][..], expected[0]), (&hinted, &hints, expected[1])] {
            assert!(f.view.has_one_peer(NodeId(3)));
            let req = RouteRequest { hints, ..f.request(amount_msat) };
            let route = search::search(&f.view, &req, &mut Doubling::new(1.0, &[]));
            let reference = reference::with_reference_search(|| {
                search::search(&f.view, &req, &mut Doubling::new(1.0, &[]))
            });
            assert_eq!(route, reference);
            let nodes: Vec<NodeId> = route.expect("a route over 3").nodes().collect();
            assert_eq!(nodes, expected.iter().map(|&n| NodeId(n)).collect::<Vec<_>>());
        }
    }

    /// A debug build checks every scored edge against the step its hops from the payee give,
    /// so a growth a scorer overstates fails the tests that search.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "hop growth exceeds what")]
    fn a_hop_growth_above_what_hops_add_is_caught() {
        let f = a_bush_by_the_payee();
        search::search(&f.view, &f.request(100_000), &mut Doubling::new(3.0, &[]));
    }

    /// Payer 0 reaches payee 5 over 0-1-2-3-5 or 0-1-2-4-5, at the same cost and length (no
    /// fees). Node 4 shares a channel with 1 (whose direction from 1 is disabled), so a steered
    /// search settles 4 before 3, the reverse of plain Dijkstra (3 has the lower id), and 4
    /// offers 2 its label first.
    fn equal_routes_settled_out_of_order() -> Fixture {
        let free = policy(0, 0, 40);
        let mut one_to_four = channel(3, 1, 4, 1_000, free);
        one_to_four.directions[0] = None;
        let channels = vec![
            channel(1, 0, 1, 1_000, free),
            channel(2, 1, 2, 1_000, free),
            one_to_four,
            channel(4, 2, 3, 1_000, free),
            channel(5, 2, 4, 1_000, free),
            channel(6, 3, 5, 1_000, free),
            channel(7, 4, 5, 1_000, free),
        ];
        Fixture::new(6, channels, 0, 5, None)
    }

    /// Of two equal offers a steered search keeps the one plain Dijkstra made first, whatever
    /// order it settles the offering nodes in: the same route as the reference search.
    #[test]
    fn a_steered_search_breaks_ties_as_plain_dijkstra_does() {
        let f = equal_routes_settled_out_of_order();
        let req = f.request(100_000);
        let router = RouterConfig::ShortestHops.build();
        assert!(search::Scorer::hop_floor(&cheapest::ShortestHops) > 0, "the search is steered");
        let route = router.plan(&f.view, &req).remove(0);
        let reference = reference::with_reference_search(|| router.plan(&f.view, &req));
        assert_eq!(vec![route.clone()], reference);
        assert_eq!(
            route.nodes().collect::<Vec<_>>(),
            vec![NodeId(1), NodeId(2), NodeId(3), NodeId(5)]
        );
    }

    /// After a success, lnd's nodes on the route may estimate above the apriori value, so the
    /// search steers around them with no floor (`floor_exempt`): routes stay the reference
    /// search's, cold and after successes, at amounts the successes did and did not carry.
    #[test]
    fn lnd_steers_to_the_reference_routes_after_successes() {
        for f in [fixture(), equal_routes_settled_out_of_order()] {
            let mut router = RouterConfig::Lnd(lnd::LndParams::default()).build();
            for round in 0..4 {
                for amount_msat in [100_000, 1_000_000, 3_000_000] {
                    let req = f.request(amount_msat);
                    let routes = router.plan(&f.view, &req);
                    let reference = reference::with_reference_search(|| router.plan(&f.view, &req));
                    assert_eq!(routes, reference, "round {round}, {amount_msat} msat");
                    if let Some(route) = routes.first() {
                        router.learn(&f.view, req.now, f.source, route, Learned::Succeeded);
                    }
                }
            }
        }
    }

    /// After lnd's payer's only peer (node 1 of the second fixture) fails to forward, every
    /// route leaves the payer's steps through a node whose hops add more than the floor
    /// ([`search::Scorer::node_floor`]); the search steers by it and still finds the reference
    /// routes (a debug build checks that no priority falls along an edge).
    #[test]
    fn lnd_steers_to_the_reference_routes_after_failures() {
        for f in [fixture(), equal_routes_settled_out_of_order()] {
            let mut router = RouterConfig::Lnd(lnd::LndParams::default()).build();
            for round in 0..6usize {
                for amount_msat in [100_000, 300_000, 1_000_000] {
                    let now = SimTime::from_secs(100 + 600 * round as u64);
                    let req = RouteRequest { now, ..f.request(amount_msat) };
                    let routes = router.plan(&f.view, &req);
                    let reference = reference::with_reference_search(|| router.plan(&f.view, &req));
                    assert_eq!(routes, reference, "round {round}, {amount_msat} msat");
                    if let Some(route) = routes.first() {
                        let failing_hop = 1 + round % route.hops.len();
                        let code = FailureCode::TEMPORARY_CHANNEL_FAILURE;
                        let learned = Learned::Failed { failing_hop, code };
                        router.learn(&f.view, req.now, f.source, route, learned);
                    }
                }
            }
        }
    }

    /// Above [`search::FLOOR_CEILING`] a scorer's cost need not grow by its floor (lnd's cost
    /// saturates): a steered search that reaches it searches again unsteered, and finds the
    /// reference search's route.
    #[test]
    fn a_steered_search_past_the_floor_ceiling_finds_the_reference_route() {
        struct Saturating;
        impl search::Scorer for Saturating {
            fn score(
                &mut self,
                edge: &search::Edge<'_>,
                to: &search::Reached,
            ) -> Option<(u64, u64, f64)> {
                let step = (1 << 49) + edge.fee_msat;
                Some((to.cost.saturating_add(step).min(search::FLOOR_CEILING + 5), 0, 1.0))
            }
            fn hop_floor(&self) -> u64 {
                1 << 49
            }
        }
        for f in [fixture(), equal_routes_settled_out_of_order()] {
            for amount_msat in [100_000, 1_000_000] {
                let req = f.request(amount_msat);
                let route = search::search(&f.view, &req, &mut Saturating);
                let reference = reference::with_reference_search(|| {
                    search::search(&f.view, &req, &mut Saturating)
                });
                assert!(route.is_some());
                assert_eq!(route, reference);
            }
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
    fn shortest_hops_takes_the_fewest_hops_then_the_lowest_fee() {
        let f = fixture();
        // Two 2-hop routes (via 1->4 at 5000, via 2->4 at 2001) beat the 3-hop one at 1010.
        let router = RouterConfig::ShortestHops.build();
        let route = router.plan(&f.view, &f.request(1_000_000)).remove(0);
        assert_eq!(route.nodes().collect::<Vec<_>>(), vec![NodeId(2), NodeId(4)]);
        assert_eq!(route.fee_msat(), 2001);
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

    #[test]
    fn the_payers_htlcs_in_flight_count_against_a_channels_capacity() {
        let mut f = fixture();
        // 3 -> 4 has 10_000_000 sat; the payer already has all but 500_000 msat of it in flight.
        f.in_flight.insert((Scid(4), NodeId(3)), 10_000_000_000 - 500_000);
        let route = cheapest_route(&f.view, &f.request(1_000_000)).unwrap();
        assert_eq!(route.nodes().collect::<Vec<_>>(), vec![NodeId(2), NodeId(4)]);
    }

    // The parameter rules of `RouterConfig::validate`, one test each, with their messages.

    #[test]
    fn default_parameters_are_valid() {
        for config in RouterConfig::defaults() {
            assert_eq!(config.validate(), Ok(()), "{}", config.name());
        }
    }

    #[test]
    fn lnd_probabilities_and_weights_are_at_most_a_million_ppm() {
        // Each field set to `value`, the others at their defaults.
        let each = |value: u64| {
            let d = lnd::LndParams::default();
            [
                ("min_probability_ppm", lnd::LndParams { min_probability_ppm: value, ..d }),
                (
                    "apriori_hop_probability_ppm",
                    lnd::LndParams { apriori_hop_probability_ppm: value, ..d },
                ),
                ("apriori_weight_ppm", lnd::LndParams { apriori_weight_ppm: value, ..d }),
                ("capacity_fraction_ppm", lnd::LndParams { capacity_fraction_ppm: value, ..d }),
                ("bimodal_node_weight_ppm", lnd::LndParams { bimodal_node_weight_ppm: value, ..d }),
            ]
        };
        for (field, params) in each(1_000_001) {
            let err = RouterConfig::Lnd(params).validate().unwrap_err();
            assert_eq!((err.field, err.value), (field, 1_000_001));
            assert_eq!(err.to_string(), format!("{field} is at most 1000000"));
        }
        for (field, params) in each(1_000_000) {
            if field != "apriori_weight_ppm" {
                assert_eq!(RouterConfig::Lnd(params).validate(), Ok(()), "{field}");
            }
        }
    }

    #[test]
    fn lnd_apriori_weight_is_below_a_million_ppm() {
        let params = lnd::LndParams { apriori_weight_ppm: 1_000_000, ..lnd::LndParams::default() };
        let err = RouterConfig::Lnd(params).validate().unwrap_err();
        assert_eq!((err.field, err.value), ("apriori_weight_ppm", 1_000_000));
        assert_eq!(err.to_string(), "apriori_weight_ppm must be below 1000000");
        let params = lnd::LndParams { apriori_weight_ppm: 999_999, ..lnd::LndParams::default() };
        assert_eq!(RouterConfig::Lnd(params).validate(), Ok(()));
    }

    #[test]
    fn cln_fuzz_is_at_most_100_percent() {
        let params = cln::ClnParams { fuzz_percent: 101, ..cln::ClnParams::default() };
        let err = RouterConfig::Cln(params).validate().unwrap_err();
        assert_eq!((err.field, err.value), ("fuzz_percent", 101));
        assert_eq!(err.to_string(), "fuzz_percent is at most 100");
        let params = cln::ClnParams { fuzz_percent: 100, ..cln::ClnParams::default() };
        assert_eq!(RouterConfig::Cln(params).validate(), Ok(()));
    }

    #[test]
    fn min_cost_flow_takes_1_to_64_pieces() {
        for (pieces, ok) in [(0, false), (1, true), (64, true), (65, false)] {
            let params = mcf::McfParams { pieces, ..mcf::McfParams::default() };
            let result = RouterConfig::MinCostFlow(params).validate();
            assert_eq!(result.is_ok(), ok, "{pieces} pieces");
            if let Err(err) = result {
                assert_eq!((err.field, err.value), ("pieces", u64::from(pieces)));
                assert_eq!(err.to_string(), "pieces must be 1 to 64");
            }
        }
    }

    #[test]
    fn min_cost_flow_takes_1_to_100000_flow_units() {
        for (flow_units, ok) in [(0, false), (1, true), (100_000, true), (100_001, false)] {
            let params = mcf::McfParams { flow_units, ..mcf::McfParams::default() };
            let result = RouterConfig::MinCostFlow(params).validate();
            assert_eq!(result.is_ok(), ok, "{flow_units} flow units");
            if let Err(err) = result {
                assert_eq!((err.field, err.value), ("flow_units", flow_units));
                assert_eq!(err.to_string(), "flow_units must be 1 to 100000");
            }
        }
    }

    #[test]
    fn min_cost_flow_mu_is_at_most_a_million() {
        let params = mcf::McfParams { mu: 1_000_001, ..mcf::McfParams::default() };
        let err = RouterConfig::MinCostFlow(params).validate().unwrap_err();
        assert_eq!((err.field, err.value), ("mu", 1_000_001));
        assert_eq!(err.to_string(), "mu is at most 1000000");
        let params = mcf::McfParams { mu: 1_000_000, ..mcf::McfParams::default() };
        assert_eq!(RouterConfig::MinCostFlow(params).validate(), Ok(()));
    }

    /// Every router that learns, after the first hop beyond the payer's own channel fails for
    /// want of liquidity, plans around it; the baselines do not learn.
    #[test]
    fn learning_routers_avoid_a_channel_that_just_failed() {
        let f = fixture();
        let learning = RouterConfig::defaults().into_iter().filter(|c| {
            matches!(c, RouterConfig::Lnd(_) | RouterConfig::Ldk(_) | RouterConfig::MinCostFlow(_))
        });
        let amount_msat = 1_000_000_000;
        for config in
            learning.chain([RouterConfig::Cheapest, RouterConfig::Cln(cln::ClnParams::default())])
        {
            let mut router = config.build();
            let req = f.request(amount_msat);
            let first = router.plan(&f.view, &req);
            assert!(!first.is_empty(), "{} finds a route", config.name());
            let route = first[0].clone();
            assert!(route.hops.len() >= 2, "{}: {route:?}", config.name());
            let failed = (route.hops[1].scid, route.hops[0].node_id);
            let outcome =
                Learned::Failed { failing_hop: 1, code: FailureCode::TEMPORARY_CHANNEL_FAILURE };
            router.learn(&f.view, req.now, f.source, &route, outcome);
            let again = router.plan(&f.view, &f.request(amount_msat));
            let uses_failed = again.iter().any(|r| {
                r.hops
                    .iter()
                    .enumerate()
                    .skip(1)
                    .any(|(i, h)| (h.scid, r.hops[i - 1].node_id) == failed)
            });
            let learns = !matches!(config, RouterConfig::Cheapest | RouterConfig::Cln(_));
            assert_eq!(
                !uses_failed,
                learns,
                "{} after a failure on {failed:?}: {again:?}",
                config.name()
            );
        }
    }
}
