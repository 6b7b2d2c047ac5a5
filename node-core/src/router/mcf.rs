//! A multi-part router after Pickhardt and Richter, "Optimally Reliable & Cheap Payment Flows on
//! the Lightning Network" (2021), as implemented in the `pickhardtpayments` package: the payment
//! is a flow of minimum cost, where sending x over a channel whose liquidity is uniformly
//! distributed in [min, max] costs the uncertainty −log((max + 1 − x)/(max − min + 1)) plus μ times
//! its fee.
//!
//! - **Units.** The amount is sent in `flow_units` units of `q` sat (q = ⌈amount / flow_units⌉,
//!   at least 1 sat); capacities are counted in the same units.
//! - **Linearisation.** The convex uncertainty cost of each channel direction is split into
//!   `pieces` equal slices of [min, max] after a free slice [0, min] (what the payer knows it can
//!   send); slice i (from 0) costs `(i + 1) × u` per sat with `u = 15e9 / (max − min)` (sat), as
//!   `UncertaintyChannel.get_piecewise_linearized_costs` does with its `MAX_CHANNEL_SIZE` of
//!   150 BTC (the package counts the free slice among its 5 pieces; here it comes on top). The
//!   payer's own channels cost nothing up to their spendable balance, and its HTLCs in flight
//!   lower both bounds.
//! - **Fees.** A unit over a channel also costs `μ × q × (ppm + base × 10^6 / amount)`: the
//!   proportional fee, as in the package, plus the base fee spread over the payment (as Core
//!   Lightning's askrene does) where the package ignores it.
//! - **Solver.** Successive shortest paths on the residual network: Dijkstra with Johnson
//!   potentials (reduced costs stay non-negative), augmenting each time up to the next slice
//!   boundary on the path; integer costs throughout.
//! - **Decomposition.** The flow is split into paths by walking from the payer along arcs with
//!   flow (in channel-id order) and taking the bottleneck each time; each path is one part, at
//!   most the request's `max_parts` (the payer's limit: lnd 16, LDK 10).
//! - **What the flow does not see.** Fees are paid on top of what a part delivers, so parts can
//!   overflow one of the payer's own channels: the plan is solved again (up to 4 times) with
//!   that channel's capacity lowered by the excess. A part that breaks a hop's HTLC limits, the
//!   hop or CLTV limit, the fee budget or the part limit is left out, and so is the flow beyond
//!   2000 augmenting paths: the plan may then deliver less than the amount, and the payer plans
//!   the rest once these parts are on their way.
//! - **Learning.** Liquidity bounds from the payer's own attempts ([`super::liquidity`]), decaying
//!   with `liquidity_half_life_s`.

use super::liquidity::Liquidity;
use super::{Learned, Route, RouteHop, RouteRequest, Router};
use crate::graph::GraphView;
use crate::ids::{NodeId, Scid, SimTime};
use crate::policy::ChannelPolicy;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// Min-cost-flow parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McfParams {
    /// Weight of fees against uncertainty (1, as in `pickhardtpayments`).
    pub mu: u64,
    /// Linear pieces of each channel's uncertainty cost (5).
    pub pieces: u32,
    /// Units the amount is divided into (1000).
    pub flow_units: u64,
    /// The uncertainty scale: slice i costs (i + 1) × this / (max − min) per sat (15e9).
    pub uncertainty_scale_sat: u64,
    /// Half-life of liquidity knowledge, seconds (1 hour).
    pub liquidity_half_life_s: u64,
}

impl Default for McfParams {
    fn default() -> McfParams {
        McfParams {
            mu: 1,
            pieces: 5,
            flow_units: 1000,
            uncertainty_scale_sat: 15_000_000_000,
            liquidity_half_life_s: 3600,
        }
    }
}

/// The min-cost-flow router.
#[derive(Clone, Debug)]
pub struct MinCostFlow {
    params: McfParams,
    liquidity: Liquidity,
}

/// A directed arc of the flow network: a channel from one node to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ArcKey {
    from: NodeId,
    scid: Scid,
    to: NodeId,
}

/// What an arc costs, in units of the flow.
#[derive(Clone, Copy, Debug)]
struct ArcCost {
    /// Units it can carry.
    capacity: u64,
    /// Units it carries for free (the known minimum liquidity, or everything for the payer's
    /// own channels).
    free: u64,
    /// Units per uncertainty slice beyond `free` (0: no uncertainty cost).
    slice: u64,
    /// Uncertainty cost per unit of slice 0.
    slope: i64,
    /// Fee cost per unit.
    fee: i64,
}

impl ArcCost {
    /// The cost of the unit number `k` (from 0) on this arc.
    fn unit_cost(&self, k: u64) -> i64 {
        if k < self.free || self.slice == 0 {
            return self.fee;
        }
        let piece = ((k - self.free) / self.slice) as i64;
        self.fee.saturating_add(self.slope.saturating_mul(piece + 1))
    }

    /// The next flow value above `k` where the unit cost changes (or the capacity).
    fn next_break(&self, k: u64) -> u64 {
        if k < self.free {
            return self.free.min(self.capacity);
        }
        if self.slice == 0 {
            return self.capacity;
        }
        let piece = (k - self.free) / self.slice;
        (self.free + (piece + 1) * self.slice).min(self.capacity)
    }

    /// The flow value at or below `k` where the unit cost of unit `k − 1` starts.
    fn prev_break(&self, k: u64) -> u64 {
        if k <= self.free || self.slice == 0 {
            return if k <= self.free { 0 } else { self.free };
        }
        let piece = (k - 1 - self.free) / self.slice;
        self.free + piece * self.slice
    }
}

struct Problem<'a> {
    view: &'a GraphView,
    req: &'a RouteRequest<'a>,
    params: McfParams,
    liquidity: &'a Liquidity,
    /// Sat per unit.
    q: u64,
    hint_arcs: Vec<(NodeId, NodeId, Scid, ChannelPolicy)>,
    /// Lower capacities, in units, for the payer's own channels whose parts overflowed them once
    /// fees were added.
    first_caps: BTreeMap<Scid, u64>,
}

impl Problem<'_> {
    /// The arcs leaving `u` with their policies (for fees) and costs.
    fn arcs_from(&self, u: NodeId, mut f: impl FnMut(ArcKey, ArcCost)) {
        let req = self.req;
        if req.excluded_nodes.contains(&u) && u != req.source {
            return;
        }
        if u == req.source {
            for first in req.first_hops {
                if req.excluded_channels.contains(&(first.scid, u)) {
                    continue;
                }
                let capacity = (first.available_msat / 1000 / self.q)
                    .min(self.first_caps.get(&first.scid).copied().unwrap_or(u64::MAX));
                let key = ArcKey { from: u, scid: first.scid, to: first.peer };
                f(key, ArcCost { capacity, free: capacity, slice: 0, slope: 0, fee: 0 });
            }
            return;
        }
        let fee_cost = |policy: &ChannelPolicy| -> i64 {
            let ppm = u128::from(policy.fee_proportional_millionths)
                + u128::from(policy.fee_base_msat) * 1_000_000 / u128::from(req.amount_msat.max(1));
            (u128::from(self.params.mu) * ppm * u128::from(self.q)).min(i64::MAX as u128 / 4) as i64
        };
        // The directions out of `u` as the view knows them, without copying whole channels.
        self.view.for_each_out_edge(u, |to, edge| {
            let scid = edge.scid;
            if to == req.source
                || req.excluded_nodes.contains(&to)
                || req.excluded_channels.contains(&(scid, u))
            {
                return;
            }
            let policy = req.policy_overrides.get(&(scid, u)).copied().or(edge.policy);
            let Some(policy) = policy else { return };
            let capacity_msat =
                edge.capacity_sat.saturating_mul(1000).min(policy.htlc_maximum_msat);
            let (min, max) = self.liquidity.bounds(scid, u, edge.capacity_sat * 1000, req.now);
            // The payer's HTLCs in flight use liquidity it would otherwise count on.
            let used = req.in_flight.get(&(scid, u)).copied().unwrap_or(0);
            let (min, max) =
                (min.saturating_sub(used), max.min(capacity_msat).saturating_sub(used));
            let capacity = max / 1000 / self.q;
            let free = (min / 1000 / self.q).min(capacity);
            let spread_sat = ((max - min.min(max)) / 1000).max(1);
            let slice = (capacity - free).div_ceil(u64::from(self.params.pieces.max(1))).max(1);
            let slope = (u128::from(self.params.uncertainty_scale_sat) * u128::from(self.q)
                / u128::from(spread_sat))
            .min(i64::MAX as u128 / 64) as i64;
            let key = ArcKey { from: u, scid, to };
            f(key, ArcCost { capacity, free, slice, slope, fee: fee_cost(&policy) });
        });
        for &(from, to, scid, policy) in &self.hint_arcs {
            if from == u && !req.excluded_channels.contains(&(scid, u)) {
                let key = ArcKey { from, scid, to };
                let capacity = u64::MAX / 4;
                f(
                    key,
                    ArcCost {
                        capacity,
                        free: capacity,
                        slice: 0,
                        slope: 0,
                        fee: fee_cost(&policy),
                    },
                );
            }
        }
    }

    fn arc_cost(&self, key: ArcKey) -> Option<ArcCost> {
        let mut found = None;
        self.arcs_from(key.from, |k, cost| {
            if k == key {
                found = Some(cost);
            }
        });
        found
    }
}

/// Most augmenting paths one plan looks for (each is a Dijkstra over the network); a payment
/// that needs more gets the flow found so far, and its payer plans the rest later.
const MAX_AUGMENTATIONS: u32 = 2_000;

/// Most times a plan is solved again with lower own-channel capacities.
const MAX_ROUNDS: usize = 4;

impl MinCostFlow {
    /// A router that knows nothing yet.
    pub fn new(params: McfParams) -> MinCostFlow {
        MinCostFlow { params, liquidity: Liquidity::new(params.liquidity_half_life_s) }
    }

    /// The min-cost flow of `demand` units, as paths with their unit flows; `None` if the
    /// network cannot carry it. After [`MAX_AUGMENTATIONS`] augmentations, the flow found so far.
    fn solve(&self, problem: &Problem<'_>, demand: u64) -> Option<Vec<(Vec<ArcKey>, u64)>> {
        let req = problem.req;
        let n = problem.view.base().node_count() as usize;
        let mut flow: BTreeMap<ArcKey, u64> = BTreeMap::new();
        let mut incoming: BTreeMap<NodeId, BTreeSet<ArcKey>> = BTreeMap::new();
        let mut potential = vec![0i64; n];
        let mut dist = vec![i64::MAX; n];
        let mut parent: Vec<Option<(ArcKey, bool)>> = vec![None; n];
        let mut settled = vec![false; n];
        let mut touched: Vec<usize> = Vec::new();
        let mut sent = 0u64;
        let mut iterations = 0;
        while sent < demand {
            iterations += 1;
            if iterations > MAX_AUGMENTATIONS {
                break;
            }
            for &i in &touched {
                dist[i] = i64::MAX;
                parent[i] = None;
                settled[i] = false;
            }
            touched.clear();
            let mut heap = BinaryHeap::new();
            dist[req.source.index()] = 0;
            touched.push(req.source.index());
            heap.push(Reverse((0i64, req.source.0)));
            let mut reached = false;
            while let Some(Reverse((d, u))) = heap.pop() {
                let u = NodeId(u);
                if settled[u.index()] || d != dist[u.index()] {
                    continue;
                }
                settled[u.index()] = true;
                if u == req.target {
                    reached = true;
                    break;
                }
                let mut relax = |v: NodeId, cost: i64, arc: ArcKey, forward: bool| {
                    let reduced = cost
                        .saturating_add(potential[u.index()])
                        .saturating_sub(potential[v.index()]);
                    let candidate = d.saturating_add(reduced.max(0));
                    if !settled[v.index()] && candidate < dist[v.index()] {
                        if dist[v.index()] == i64::MAX {
                            touched.push(v.index());
                        }
                        dist[v.index()] = candidate;
                        parent[v.index()] = Some((arc, forward));
                        heap.push(Reverse((candidate, v.0)));
                    }
                };
                problem.arcs_from(u, |arc, cost| {
                    let f = flow.get(&arc).copied().unwrap_or(0);
                    if f < cost.capacity {
                        relax(arc.to, cost.unit_cost(f), arc, true);
                    }
                });
                for &arc in incoming.get(&u).into_iter().flatten() {
                    let f = flow[&arc];
                    if let Some(cost) = problem.arc_cost(arc) {
                        relax(arc.from, -cost.unit_cost(f - 1), arc, false);
                    }
                }
            }
            if !reached {
                return None;
            }
            // The path back from the payee, and how much it can take at constant cost.
            let mut path = Vec::new();
            let mut v = req.target;
            let mut step = demand - sent;
            while v != req.source {
                let (arc, forward) =
                    parent[v.index()].expect("invariant: reached nodes have parents");
                let cost = problem.arc_cost(arc).expect("invariant: arcs on a path exist");
                let f = flow.get(&arc).copied().unwrap_or(0);
                step =
                    step.min(if forward { cost.next_break(f) - f } else { f - cost.prev_break(f) });
                path.push((arc, forward));
                v = if forward { arc.from } else { arc.to };
            }
            if step == 0 {
                return None;
            }
            for (arc, forward) in path {
                let f = flow.entry(arc).or_insert(0);
                if forward {
                    *f += step;
                    incoming.entry(arc.to).or_default().insert(arc);
                } else {
                    *f -= step;
                    if *f == 0 {
                        flow.remove(&arc);
                        if let Some(set) = incoming.get_mut(&arc.to) {
                            set.remove(&arc);
                        }
                    }
                }
            }
            sent += step;
            let target_dist = dist[req.target.index()];
            // Johnson's update with an early stop: nodes not settled are at least as far as the
            // payee, so they all move by its distance, which keeps every reduced cost
            // non-negative.
            for (p, &d) in potential.iter_mut().zip(&dist) {
                *p = p.saturating_add(d.min(target_dist));
            }
        }
        Some(decompose(flow, req.source, req.target))
    }
}

/// Splits a flow into paths from `source` to `target`, largest bottleneck first.
fn decompose(
    mut flow: BTreeMap<ArcKey, u64>,
    source: NodeId,
    target: NodeId,
) -> Vec<(Vec<ArcKey>, u64)> {
    let mut paths = Vec::new();
    loop {
        let mut path = Vec::new();
        let mut seen = BTreeSet::new();
        let mut u = source;
        while u != target {
            seen.insert(u);
            let next = flow
                .range(ArcKey { from: u, scid: Scid(0), to: NodeId(0) }..)
                .next()
                .filter(|(k, _)| k.from == u);
            let Some((&arc, _)) = next else { break };
            path.push(arc);
            if seen.contains(&arc.to) {
                // A cycle of flow: cancel it and start again.
                let start = path
                    .iter()
                    .position(|a| a.from == arc.to)
                    .expect("invariant: the cycle starts on the path");
                let cycle: Vec<ArcKey> = path[start..].to_vec();
                let least = cycle.iter().map(|a| flow[a]).min().expect("non-empty");
                for a in cycle {
                    subtract(&mut flow, a, least);
                }
                path.clear();
                break;
            }
            u = arc.to;
        }
        if u != target {
            if path.is_empty()
                && flow
                    .range(ArcKey { from: source, scid: Scid(0), to: NodeId(0) }..)
                    .next()
                    .is_some_and(|(k, _)| k.from == source)
            {
                continue; // a cycle was cancelled
            }
            break;
        }
        let least = path.iter().map(|a| flow[a]).min().expect("a path has arcs");
        for &a in &path {
            subtract(&mut flow, a, least);
        }
        paths.push((path, least));
    }
    paths.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    paths
}

fn subtract(flow: &mut BTreeMap<ArcKey, u64>, arc: ArcKey, amount: u64) {
    let f = flow.get_mut(&arc).expect("invariant: subtracting an arc with flow");
    *f -= amount;
    if *f == 0 {
        flow.remove(&arc);
    }
}

/// The route for one part: `delivered_msat` over `arcs`, with each hop's fee and CLTV computed
/// backwards from the payee as the single-path search does.
fn route_for(problem: &Problem<'_>, arcs: &[ArcKey], delivered_msat: u64) -> Option<Route> {
    let req = problem.req;
    let mut amount = delivered_msat;
    let mut cltv = req.final_cltv_delta;
    let mut hops = Vec::with_capacity(arcs.len());
    for (i, arc) in arcs.iter().enumerate().rev() {
        let fee = if i == 0 {
            0
        } else {
            let policy = req
                .policy_overrides
                .get(&(arc.scid, arc.from))
                .copied()
                .or_else(|| {
                    problem.view.channel(arc.scid).and_then(|c| c.policy_from(arc.from).copied())
                })
                .or_else(|| {
                    problem
                        .hint_arcs
                        .iter()
                        .find(|h| h.2 == arc.scid && h.0 == arc.from)
                        .map(|h| h.3)
                })?;
            if !policy.admits(amount) {
                return None;
            }
            policy.fee_msat(amount)
        };
        hops.push(RouteHop {
            scid: arc.scid,
            node_id: arc.to,
            amount_msat: amount,
            cltv_expiry: req.current_height + cltv,
            fee_msat: fee,
        });
        if i > 0 {
            let delta = req
                .policy_overrides
                .get(&(arc.scid, arc.from))
                .map(|p| p.cltv_expiry_delta)
                .or_else(|| {
                    problem
                        .view
                        .channel(arc.scid)
                        .and_then(|c| c.policy_from(arc.from).map(|p| p.cltv_expiry_delta))
                })
                .or_else(|| {
                    problem
                        .hint_arcs
                        .iter()
                        .find(|h| h.2 == arc.scid && h.0 == arc.from)
                        .map(|h| h.3.cltv_expiry_delta)
                })?;
            amount += fee;
            cltv += u32::from(delta);
        }
    }
    hops.reverse();
    if cltv > req.max_total_cltv_delta || hops.len() > req.max_hops {
        return None;
    }
    let first = req.first_hops.iter().find(|f| f.scid == hops[0].scid)?;
    if hops[0].amount_msat < first.htlc_minimum_msat {
        return None;
    }
    Some(Route { hops })
}

/// The parts for `paths` (largest first): each carries its units of q sat, and the largest
/// absorbs the rounding so that a full flow adds up to exactly the amount. A path whose route
/// breaks a hop's HTLC limits or the route limits is left out.
fn routes_for(problem: &Problem<'_>, paths: &[(Vec<ArcKey>, u64)]) -> Vec<Route> {
    let req = problem.req;
    let mut amounts: Vec<u64> =
        paths.iter().map(|(_, units)| units.saturating_mul(problem.q * 1000)).collect();
    let total: u64 = amounts.iter().sum();
    if let Some(largest) = amounts.first_mut()
        && total > req.amount_msat
    {
        *largest = largest.saturating_sub(total - req.amount_msat);
    }
    paths
        .iter()
        .zip(amounts)
        .filter(|(_, amount)| *amount > 0)
        .filter_map(|((arcs, _), amount)| route_for(problem, arcs, amount))
        .collect()
}

impl Router for MinCostFlow {
    fn plan(&self, view: &GraphView, req: &RouteRequest<'_>) -> Vec<Route> {
        if req.source == req.target || req.amount_msat == 0 {
            return Vec::new();
        }
        let amount_sat = req.amount_msat.div_ceil(1000);
        let q = amount_sat.div_ceil(self.params.flow_units.max(1)).max(1);
        let demand = amount_sat.div_ceil(q);
        let hint_arcs = req.hint_edges();
        let mut problem = Problem {
            view,
            req,
            params: self.params,
            liquidity: &self.liquidity,
            q,
            hint_arcs,
            first_caps: BTreeMap::new(),
        };
        let mut routes = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let Some(paths) = self.solve(&problem, demand) else { return Vec::new() };
            routes = routes_for(&problem, &paths);
            // Fees come on top of what the flow sends over the payer's own channels: where the
            // parts overflow one, solve again with that channel's capacity lowered by the excess.
            let mut overflowed = false;
            for first in req.first_hops {
                let sent: u64 = routes
                    .iter()
                    .filter(|r| r.hops[0].scid == first.scid)
                    .map(Route::sent_msat)
                    .sum();
                if sent > first.available_msat {
                    let units: u64 = routes
                        .iter()
                        .filter(|r| r.hops[0].scid == first.scid)
                        .map(|r| r.delivered_msat().div_ceil(q * 1000))
                        .sum();
                    let excess = (sent - first.available_msat).div_ceil(q * 1000);
                    problem.first_caps.insert(first.scid, units.saturating_sub(excess.max(1)));
                    overflowed = true;
                }
            }
            if !overflowed {
                break;
            }
        }
        // What still does not fit — a channel still overflowed, too many parts, fees over the
        // budget — is dropped, last parts first; the payer plans what is left later.
        routes.truncate(req.max_parts);
        let mut kept: Vec<Route> = Vec::with_capacity(routes.len());
        let mut fees = 0u64;
        for route in routes {
            let first = route.hops[0].scid;
            let on_first: u64 =
                kept.iter().filter(|r| r.hops[0].scid == first).map(Route::sent_msat).sum();
            let available =
                req.first_hops.iter().find(|f| f.scid == first).map_or(0, |f| f.available_msat);
            if on_first + route.sent_msat() <= available
                && fees + route.fee_msat() <= req.max_fee_msat
            {
                fees += route.fee_msat();
                kept.push(route);
            }
        }
        kept
    }

    fn learn(
        &mut self,
        view: &GraphView,
        now: SimTime,
        payer: NodeId,
        route: &Route,
        outcome: Learned,
    ) {
        self.liquidity.learn_in(view, now, payer, route, outcome);
    }

    fn splits(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::testing::{Fixture, channel, policy};

    /// s = 0 pays t = 3 over two paths without fees: 0 -> 1 -> 3 with 1000 sat and 0 -> 2 -> 3
    /// with 3000 sat; the payer's own channels carry what they hold at no cost.
    fn diamond() -> Fixture {
        diamond_with(policy(0, 0, 40))
    }

    /// The diamond with every direction charging `fee`.
    fn diamond_with(fee: crate::policy::ChannelPolicy) -> Fixture {
        let channels = vec![
            channel(1, 0, 1, 1_000, fee),
            channel(2, 0, 2, 3_000, fee),
            channel(3, 1, 3, 1_000, fee),
            channel(4, 2, 3, 3_000, fee),
        ];
        Fixture::new(4, channels, 0, 3, None)
    }

    #[test]
    fn splits_2000_sat_as_worked_out_by_hand() {
        // 2000 sat in 1000 units of q = 2 sat. Channel 1 -> 3: 500 units in 5 slices of 100,
        // slope 15e9 × 2 / 1000 = 3e7 per unit and slice; 2 -> 3: 1500 units in slices of 300,
        // slope 1e7. Unit costs by slice: via 1: 3e7, 6e7, ...; via 2: 1e7, 2e7, 3e7, ...
        // The cheapest 1000 units: 300 at 1e7 and 300 at 2e7 via 2, then at 3e7 the first
        // slice via 1 (100) and the third via 2 (300): 100 units = 200 sat via 1, 900 units =
        // 1800 sat via 2. Parts come largest first.
        let f = diamond();
        let router = MinCostFlow::new(McfParams::default());
        let routes = router.plan(&f.view, &f.request(2_000_000));
        let parts: Vec<(Vec<NodeId>, u64)> =
            routes.iter().map(|r| (r.nodes().collect(), r.delivered_msat())).collect();
        assert_eq!(
            parts,
            vec![(vec![NodeId(2), NodeId(3)], 1_800_000), (vec![NodeId(1), NodeId(3)], 200_000)]
        );
        assert!(routes.iter().all(|r| r.fee_msat() == 0));
    }

    #[test]
    fn what_it_learnt_and_what_is_in_flight_move_the_split() {
        let f = diamond();
        let mut router = MinCostFlow::new(McfParams::default());
        // 1 -> 3 was seen to carry 1000 sat: certain liquidity costs nothing, so it takes 1000.
        let route = Route {
            hops: vec![
                RouteHop {
                    scid: Scid(1),
                    node_id: NodeId(1),
                    amount_msat: 1_000_000,
                    cltv_expiry: 0,
                    fee_msat: 0,
                },
                RouteHop {
                    scid: Scid(3),
                    node_id: NodeId(3),
                    amount_msat: 1_000_000,
                    cltv_expiry: 0,
                    fee_msat: 0,
                },
            ],
        };
        let failed_at_payee =
            Learned::Failed { failing_hop: 2, code: crate::onion::FailureCode::MPP_TIMEOUT };
        router.learn(&f.view, SimTime::from_secs(1_000), NodeId(0), &route, failed_at_payee);
        let routes = router.plan(&f.view, &f.request(2_000_000));
        let via_1: u64 = routes
            .iter()
            .filter(|r| r.hops[0].node_id == NodeId(1))
            .map(Route::delivered_msat)
            .sum();
        assert_eq!(via_1, 1_000_000);
        // With 2500 sat of the payer's own HTLCs in flight over 2 -> 3, that path keeps 500 sat.
        let mut f = diamond();
        f.in_flight.insert((Scid(4), NodeId(2)), 2_500_000);
        let router = MinCostFlow::new(McfParams::default());
        let routes = router.plan(&f.view, &f.request(1_200_000));
        let via_2: u64 = routes
            .iter()
            .filter(|r| r.hops[0].node_id == NodeId(2))
            .map(Route::delivered_msat)
            .sum();
        assert!(via_2 <= 500_000, "{routes:?}");
        assert_eq!(routes.iter().map(Route::delivered_msat).sum::<u64>(), 1_200_000);
    }

    #[test]
    fn parts_never_overflow_the_payers_own_channels_once_fees_are_added() {
        // The same diamond, but each forwarder charges 1000 msat + 1%, and the payer can send
        // exactly the capacities: the flow fills both own channels, the fees do not fit.
        let f = diamond_with(policy(1_000, 10_000, 40));
        let router = MinCostFlow::new(McfParams::default());
        let routes = router.plan(&f.view, &f.request(3_900_000));
        assert!(!routes.is_empty());
        for first in &f.first_hops {
            let sent: u64 =
                routes.iter().filter(|r| r.hops[0].scid == first.scid).map(Route::sent_msat).sum();
            assert!(sent <= first.available_msat, "{sent} over {first:?}: {routes:?}");
        }
        let delivered: u64 = routes.iter().map(Route::delivered_msat).sum();
        assert!(delivered <= 3_900_000 && delivered > 3_000_000, "{delivered}");
    }

    #[test]
    fn more_than_the_network_holds_or_than_the_parts_allowed_finds_nothing() {
        let f = diamond();
        let router = MinCostFlow::new(McfParams::default());
        assert!(router.plan(&f.view, &f.request(4_001_000)).is_empty());
        let mut req = f.request(2_000_000);
        req.max_parts = 1;
        let one = router.plan(&f.view, &req);
        assert_eq!(one.len(), 1, "2000 sat needs both paths: only the largest part is kept");
        assert_eq!(one[0].delivered_msat(), 1_800_000);
        let single = router.plan(&f.view, &f.request(500_000));
        assert_eq!(single.len(), 1, "a small amount goes one way: {single:?}");
    }
}
