//! A router modelled on Eclair's path finding (Eclair 0.11–0.13:
//! `eclair-core/src/main/scala/fr/acinq/eclair/router/Graph.scala` (`yenKshortestPaths`,
//! `addEdgeWeight`), `router/RouteCalculation.scala` (`findRouteInternal`) and the
//! `router.path-finding.default` block of `eclair-core/src/main/resources/reference.conf`).
//!
//! Weight: Eclair's default heuristics (`use-ratios = false`). Along a route built backwards from
//! the payee, with `amount` the amount a node must receive and `cltv` the CLTV deltas summed so
//! far (the final one left out),
//!
//! `weight = fees + hop_costs + amount × cltv × locked_funds_risk + failure_cost / P`
//!
//! where every hop but the payer's own adds `hop_cost = hop_cost_base + amount × hop_cost_ppm`,
//! `P` is the product over the hops of `1 − amount / capacity` (1 on the payer's own channels,
//! whose balance Eclair knows), and `failure_cost = failure_cost_base + amount ×
//! failure_cost_ppm`. With `use_log_probability` the last term is `− failure_cost × ln P`.
//!
//! Search: Yen's k shortest paths in Eclair's reversed form (the root of a spur is the part of
//! an earlier route next to the payee, the spur search runs from the payer to the spur node and
//! starts with the root's weight), `routes` (Eclair's `DEFAULT_ROUTES_COUNT`, 3) routes found;
//! a direct route to the payee is taken first, else one of the routes found is picked at random
//! (`randomize-route-selection`), here from the payment's seed. Nothing is learnt across
//! payments (`use-past-relay-data = false`); the payment ignores a channel that failed.
//! Eclair's own multi-part splitting (`findMultiPartRoute`) is not modelled: the payment splits
//! by halving, as for the other single-path routers.

use super::search::{Edge, FLOOR_CEILING, Reached, Scorer, Start, search, search_from};
use super::{Learned, Route, RouteRequest, Router};
use crate::graph::GraphView;
use crate::ids::{NodeId, Scid, SimTime, mix};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Eclair's path-finding parameters; defaults are `reference.conf`'s `path-finding.default`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EclairParams {
    /// Fixed cost of each hop but the payer's own, msat (`hop-cost.fee-base-msat`, 500).
    pub hop_cost_base_msat: u64,
    /// Proportional cost of each hop, ppm of the amount (`hop-cost.fee-proportional-millionths`,
    /// 200).
    pub hop_cost_ppm: u64,
    /// Cost of locking funds, billionths of a msat per msat per block (`locked-funds-risk`,
    /// 1e-8 = 10).
    pub locked_funds_risk_billionths: u64,
    /// Fixed cost of a failed attempt, msat (`failure-cost.fee-base-msat`, 2000).
    pub failure_cost_base_msat: u64,
    /// Proportional cost of a failed attempt, ppm of the amount
    /// (`failure-cost.fee-proportional-millionths`, 500).
    pub failure_cost_ppm: u64,
    /// Weighs the failure cost by `−ln P` instead of `1 / P` (`use-log-probability`, false).
    pub use_log_probability: bool,
    /// Routes found by Yen's algorithm before one is picked (`DEFAULT_ROUTES_COUNT`, 3).
    pub routes: u8,
    /// Picks one of the routes found at random instead of the best (`randomize-route-selection`,
    /// true).
    pub randomize: bool,
}

impl Default for EclairParams {
    fn default() -> EclairParams {
        EclairParams {
            hop_cost_base_msat: 500,
            hop_cost_ppm: 200,
            locked_funds_risk_billionths: 10,
            failure_cost_base_msat: 2_000,
            failure_cost_ppm: 500,
            use_log_probability: false,
            routes: 3,
            randomize: true,
        }
    }
}

/// The Eclair-style router.
#[derive(Clone, Copy, Debug)]
pub struct EclairRouter {
    params: EclairParams,
}

/// What Eclair's weight of a partial route needs: the scorer's view of one hop.
struct Scoring {
    params: EclairParams,
    /// What the payee receives, msat.
    final_amount_msat: u64,
    /// The payee's final CLTV delta, blocks (Eclair's weight counts only the hops' deltas).
    final_cltv_delta: u32,
}

impl Scoring {
    fn node_fee(base: u64, ppm: u64, amount_msat: u64) -> u64 {
        let proportional = u128::from(amount_msat) * u128::from(ppm) / 1_000_000;
        base.saturating_add(u64::try_from(proportional).unwrap_or(u64::MAX))
    }

    /// The hop costs of a route from the start of a hop carrying `amount_msat` on: Eclair's
    /// `hopCost` (none for the payer's own channel) added to those after it.
    fn weight(&self, amount_msat: u64, first_hop: bool, to: &Reached) -> u64 {
        let p = &self.params;
        let hop_cost = if first_hop {
            0
        } else {
            Self::node_fee(p.hop_cost_base_msat, p.hop_cost_ppm, amount_msat)
        };
        to.weight.saturating_add(hop_cost)
    }

    /// The fees of a route from the start of a hop carrying `amount_msat` (`fee_msat` on top) on.
    fn fees_msat(&self, amount_msat: u64, fee_msat: u64) -> u64 {
        amount_msat.saturating_add(fee_msat).saturating_sub(self.final_amount_msat)
    }

    /// The label at the start of a hop carrying `amount_msat` (the fee `fee_msat` on top) over a
    /// channel of `capacity_msat` with CLTV delta `cltv_delta`, given the label `to` at its end.
    fn hop(
        &self,
        amount_msat: u64,
        fee_msat: u64,
        capacity_msat: u64,
        cltv_delta: u16,
        first_hop: bool,
        to: &Reached,
    ) -> Option<(u64, u64, f64)> {
        let p = &self.params;
        let weight = self.weight(amount_msat, first_hop, to);
        let edge_probability = if first_hop || capacity_msat == 0 {
            1.0
        } else {
            1.0 - amount_msat as f64 / capacity_msat as f64
        };
        let probability = to.probability * edge_probability;
        if probability <= 0.0 {
            return None;
        }
        let total_msat = amount_msat.saturating_add(fee_msat);
        let fees_msat = self.fees_msat(amount_msat, fee_msat);
        let cltv = (to.cltv_delta + u32::from(cltv_delta)).saturating_sub(self.final_cltv_delta);
        let risk =
            total_msat as f64 * f64::from(cltv) * p.locked_funds_risk_billionths as f64 / 1e9;
        let failure_cost =
            Self::node_fee(p.failure_cost_base_msat, p.failure_cost_ppm, total_msat) as f64;
        let failure_term = if p.use_log_probability {
            -failure_cost * libm::log(probability)
        } else {
            failure_cost / probability
        };
        let cost = fees_msat as f64 + weight as f64 + risk + failure_term;
        Some((cost.min(u64::MAX as f64 / 2.0) as u64, weight, probability))
    }
}

impl Scorer for Scoring {
    fn score(&mut self, edge: &Edge<'_>, to: &Reached) -> Option<(u64, u64, f64)> {
        self.hop(
            edge.amount_msat,
            edge.fee_msat,
            edge.capacity_msat.saturating_sub(edge.in_flight_msat),
            edge.cltv_delta,
            edge.first_hop,
            to,
        )
    }

    /// Fees and hop costs alone: the cost's risk and failure terms are never negative (the
    /// failure term is `failure_cost / p` or `−failure_cost × ln p` with p ≤ 1).
    fn lower_bound(&self, edge: &Edge<'_>, to: &Reached) -> u64 {
        let weight = self.weight(edge.amount_msat, edge.first_hop, to);
        let fees_msat = self.fees_msat(edge.amount_msat, edge.fee_msat);
        (fees_msat as f64 + weight as f64).min(u64::MAX as f64 / 2.0) as u64
    }

    /// The hop cost of the smallest amount a hop carries, the payee's: every hop but the
    /// payer's own adds its hop cost (which grows with the amount), and none of the other terms
    /// falls; less 4 msat for the rounding of the four terms' sum below [`FLOOR_CEILING`].
    fn hop_floor(&self) -> u64 {
        let p = &self.params;
        Self::node_fee(p.hop_cost_base_msat, p.hop_cost_ppm, self.final_amount_msat)
            .min(FLOOR_CEILING)
            .saturating_sub(4)
    }
}

/// A route found, with its cost under Eclair's weight, ordered by (cost, hops, channels): the
/// channels from the payer determine the route.
#[derive(Clone, Debug)]
struct Found {
    cost: u64,
    hops: usize,
    scids: Vec<Scid>,
    route: Route,
}

impl Found {
    fn key(&self) -> (u64, usize, &[Scid]) {
        (self.cost, self.hops, &self.scids)
    }
}

impl PartialEq for Found {
    fn eq(&self, other: &Found) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Found {}

impl PartialOrd for Found {
    fn partial_cmp(&self, other: &Found) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Found {
    fn cmp(&self, other: &Found) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl EclairRouter {
    /// An Eclair-style router.
    pub fn new(params: EclairParams) -> EclairRouter {
        EclairRouter { params }
    }

    /// The label at node `index` of `route` (0 the payer, `route.hops.len()` the payee): the
    /// route's hops after it scored one by one from the payee, or `None` if a channel left the
    /// view.
    fn label_at(
        scoring: &Scoring,
        view: &GraphView,
        req: &RouteRequest<'_>,
        route: &Route,
        index: usize,
    ) -> Option<Reached> {
        let mut reached = Start::payee(req).reached;
        for j in (index..route.hops.len()).rev() {
            let hop = &route.hops[j];
            let first_hop = j == 0;
            let capacity_msat = if first_hop {
                req.first_hops.iter().find(|f| f.scid == hop.scid).map_or(0, |f| f.available_msat)
            } else {
                let from = route.hops[j - 1].node_id;
                let in_flight = req.in_flight.get(&(hop.scid, from)).copied().unwrap_or(0);
                view.channel(hop.scid)
                    .map_or(u64::MAX, |c| c.capacity_sat.saturating_mul(1000))
                    .saturating_sub(in_flight)
            };
            // The delta the hop's start adds: what its HTLC's expiry exceeds the next one's by
            // (the payer's own channel adds none).
            let cltv_delta = if first_hop {
                0
            } else {
                u16::try_from(route.hops[j - 1].cltv_expiry.saturating_sub(hop.cltv_expiry)).ok()?
            };
            let (cost, weight, probability) = scoring.hop(
                hop.amount_msat,
                hop.fee_msat,
                capacity_msat,
                cltv_delta,
                first_hop,
                &reached,
            )?;
            reached = Reached {
                cost,
                weight,
                probability,
                hops: reached.hops + 1,
                cltv_delta: reached.cltv_delta + u32::from(cltv_delta),
            };
        }
        Some(reached)
    }

    /// Up to `params.routes` routes in order of cost: Yen's algorithm, reversed as Eclair runs it.
    fn k_shortest(&self, view: &GraphView, req: &RouteRequest<'_>) -> Vec<Route> {
        let scoring = || Scoring {
            params: self.params,
            final_amount_msat: req.amount_msat,
            final_cltv_delta: req.final_cltv_delta,
        };
        let Some(best) = search(view, req, &mut scoring()) else { return Vec::new() };
        let mut found = vec![best];
        let mut candidates: BTreeSet<Found> = BTreeSet::new();
        while found.len() < usize::from(self.params.routes.max(1)) {
            let previous = found.last().expect("invariant: one route found").clone();
            let nodes: Vec<NodeId> = std::iter::once(req.source).chain(previous.nodes()).collect();
            for (i, &spur) in nodes.iter().enumerate().skip(1) {
                let root = &previous.hops[i..];
                let mut excluded_channels = req.excluded_channels.clone();
                for other in &found {
                    let other_nodes: Vec<NodeId> =
                        std::iter::once(req.source).chain(other.nodes()).collect();
                    if other.hops.len() > root.len()
                        && other.hops[other.hops.len() - root.len()..] == *root
                        && other_nodes[other.hops.len() - root.len()] == spur
                    {
                        let into = other.hops.len() - root.len() - 1;
                        excluded_channels.insert((other.hops[into].scid, other_nodes[into]));
                    }
                }
                let mut excluded_nodes = req.excluded_nodes.clone();
                excluded_nodes.extend(root.iter().map(|h| h.node_id));
                let spur_req = RouteRequest {
                    excluded_channels: &excluded_channels,
                    excluded_nodes: &excluded_nodes,
                    ..req.clone()
                };
                let Some(reached) = Self::label_at(&scoring(), view, req, &previous, i) else {
                    continue;
                };
                let into_spur = &previous.hops[i - 1];
                let start = Start {
                    node: spur,
                    amount_msat: into_spur.amount_msat,
                    cltv_delta: into_spur.cltv_expiry - req.current_height,
                    reached,
                };
                let Some(mut spur_route) = search_from(view, &spur_req, &mut scoring(), &start)
                else {
                    continue;
                };
                spur_route.hops.extend_from_slice(root);
                if found.contains(&spur_route) {
                    continue;
                }
                let Some(total) = Self::label_at(&scoring(), view, req, &spur_route, 0) else {
                    continue;
                };
                candidates.insert(Found {
                    cost: total.cost,
                    hops: spur_route.hops.len(),
                    scids: spur_route.hops.iter().map(|h| h.scid).collect(),
                    route: spur_route,
                });
            }
            let Some(next) = candidates.pop_first() else { break };
            found.push(next.route);
        }
        found
    }
}

impl Router for EclairRouter {
    fn plan(&self, view: &GraphView, req: &RouteRequest<'_>) -> Vec<Route> {
        let routes = self.k_shortest(view, req);
        if let Some(direct) = routes.iter().find(|r| r.hops.len() == 1) {
            return vec![direct.clone()];
        }
        if routes.is_empty() {
            return routes;
        }
        let pick = if self.params.randomize {
            // Each attempt of a payment draws anew: the seed, the amount and what the payment
            // has excluded so far.
            let draw =
                mix(req.fuzz_seed ^ mix(req.amount_msat ^ mix(req.excluded_channels.len() as u64)));
            (draw % routes.len() as u64) as usize
        } else {
            0
        };
        vec![routes[pick].clone()]
    }

    fn learn(&mut self, _: &GraphView, _: SimTime, _: NodeId, _: &Route, _: Learned) {}
}

#[cfg(test)]
mod tests {
    use super::super::testing::{Fixture, channel, policy};
    use super::*;

    /// Node 0 pays node 5 over three disjoint two-hop paths (via 1, 2 and 3) and one three-hop
    /// path (via 1 then 4), fees rising from the first to the last.
    fn fixture() -> Fixture {
        let c = |scid, a, b, p| channel(scid, a, b, 10_000_000, p);
        let channels = vec![
            c(1, 0, 1, policy(0, 0, 40)),
            c(2, 0, 2, policy(0, 0, 40)),
            c(3, 0, 3, policy(0, 0, 40)),
            c(4, 1, 5, policy(1_000, 0, 40)),
            c(5, 2, 5, policy(2_000, 0, 40)),
            c(6, 3, 5, policy(3_000, 0, 40)),
            c(7, 1, 4, policy(10_000, 0, 40)),
            c(8, 4, 5, policy(10_000, 0, 40)),
        ];
        Fixture::new(6, channels, 0, 5, None)
    }

    #[test]
    fn yen_finds_the_three_cheapest_routes_in_order() {
        let f = fixture();
        let router = EclairRouter::new(EclairParams::default());
        let routes = router.k_shortest(&f.view, &f.request(1_000_000));
        let vias: Vec<Vec<NodeId>> = routes.iter().map(|r| r.nodes().collect()).collect();
        assert_eq!(
            vias,
            vec![
                vec![NodeId(1), NodeId(5)],
                vec![NodeId(2), NodeId(5)],
                vec![NodeId(3), NodeId(5)],
            ]
        );
        assert_eq!(
            routes.iter().map(Route::fee_msat).collect::<Vec<_>>(),
            vec![1_000, 2_000, 3_000]
        );
        // The fourth route exists, behind the third.
        let more = EclairRouter::new(EclairParams { routes: 4, ..EclairParams::default() });
        let routes = more.k_shortest(&f.view, &f.request(1_000_000));
        assert_eq!(routes[3].nodes().collect::<Vec<_>>(), vec![NodeId(1), NodeId(4), NodeId(5)]);
        assert_eq!(routes[3].fee_msat(), 20_000);
        assert_eq!(routes[3].hops[0].amount_msat, 1_020_000);
        assert_eq!(routes[3].hops[1].fee_msat, 10_000);
    }

    #[test]
    fn the_pick_is_one_of_the_routes_found_and_follows_the_seed() {
        let f = fixture();
        let router = EclairRouter::new(EclairParams::default());
        let mut picked = BTreeSet::new();
        for seed in 0..64 {
            let mut req = f.request(1_000_000);
            req.fuzz_seed = seed;
            let route = router.plan(&f.view, &req).remove(0);
            assert_eq!(route, router.plan(&f.view, &req).remove(0), "same seed, same pick");
            picked.insert(route.hops[0].node_id);
        }
        assert_eq!(picked, BTreeSet::from([NodeId(1), NodeId(2), NodeId(3)]));
        let best = EclairRouter::new(EclairParams { randomize: false, ..EclairParams::default() });
        let route = best.plan(&f.view, &f.request(1_000_000)).remove(0);
        assert_eq!(route.hops[0].node_id, NodeId(1));
    }

    #[test]
    fn weight_follows_the_heuristics_formula() {
        let scoring = Scoring {
            params: EclairParams::default(),
            final_amount_msat: 1_000_000,
            final_cltv_delta: 18,
        };
        let payee = Reached { cost: 0, weight: 0, probability: 1.0, hops: 0, cltv_delta: 18 };
        // A hop of 1,000,000 msat over a 10,000,000 msat channel, fee 1,000, delta 40:
        // hop cost 500 + 200 = 700; P = 0.9; risk 1,001,000 × 40 × 1e-8 = 0.4;
        // failure cost 2,000 + 500 = 2,500 (on 1,001,000: 2,500.5 → 2,500) over 0.9 = 2,777.8;
        // cost 1,000 + 700 + 0.4 + 2,777.8 = 4,478.
        let (cost, weight, p) =
            scoring.hop(1_000_000, 1_000, 10_000_000, 40, false, &payee).unwrap();
        assert_eq!(weight, 700);
        assert!((p - 0.9).abs() < 1e-12);
        assert_eq!(cost, 4_478);
    }
}
