//! A router modelled on LDK's `ProbabilisticScorer` (rust-lightning 0.1,
//! `lightning/src/routing/scoring.rs`, `ProbabilisticScoringFeeParameters` and
//! `ProbabilisticScoringDecayParameters` defaults). An edge costs its fee plus a penalty:
//!
//! - a base penalty, `base_penalty_msat + base_penalty_amount_multiplier_msat × amount / 2^30`;
//! - a liquidity penalty from the success probability P of the amount given what the payer knows
//!   of the channel's liquidity bounds [min, max] ([`super::liquidity`]): with
//!   `L = min(−log10 P, 2)`, `L × liquidity_penalty_multiplier_msat +
//!   L × liquidity_penalty_amount_multiplier_msat × amount / 2^20`, nothing when the failure
//!   probability is below 1/64 or the amount is at most `min`, and
//!   `considered_impossible_penalty_msat` when it is above `max`;
//! - an anti-probing penalty when the channel's `htlc_maximum_msat` is at least half its capacity.
//!
//! P follows LDK's non-linear model (liquidity density ∝ (x − ½)² over x = liquidity / capacity):
//! `P = ((M−½)³ − (A−½)³) / ((M−½)³ − (m−½)³)` with m, M, A the bounds and the amount over the
//! capacity, or the linear model `(max − a) / (max − min + 1)` if `linear_success_probability`.
//! Bounds decay toward [0, capacity] with `liquidity_offset_half_life`. The payer's own HTLCs in
//! flight over a channel count as part of the amount, as LDK's `InFlightHtlcs` do.
//!
//! The historical penalty (LDK 0.1's main one: its direct liquidity multipliers default to 0)
//! has the same shape with its own multipliers, over the probability LDK's
//! `HistoricalLiquidityTracker` gives: the bounds each attempt left a channel direction with,
//! kept in 32 + 32 decaying buckets, every pair of buckets weighted by their product. Without a
//! full datapoint yet it uses the probability without bounds (as LDK does). boltsim's buckets
//! are of equal width, and the two-week decay of history without updates is not modelled.

use super::liquidity::Liquidity;
use super::search::{Edge, Reached, Scorer, search};
use super::{Learned, Route, RouteRequest, Router};
use crate::graph::GraphView;
use crate::ids::{NodeId, Scid, SimTime};
use serde::{Deserialize, Serialize};

/// LDK's scoring parameters; defaults are LDK 0.1's (`ProbabilisticScoringFeeParameters`:
/// base 1024 msat, amount multiplier 131,072, the liquidity multipliers 0 and the historical
/// ones 10,000 and 1,250; 0.0.123 had 500, 8192, 30,000 and 192 and historical 10,000 and 64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdkParams {
    /// Fixed penalty per hop, msat (1024).
    pub base_penalty_msat: u64,
    /// Per-hop penalty per 2^30 msat of amount, msat (131,072).
    pub base_penalty_amount_multiplier_msat: u64,
    /// Penalty per unit of −log10(success probability), msat (0).
    pub liquidity_penalty_multiplier_msat: u64,
    /// Penalty per unit of −log10(P) per 2^20 msat of amount, msat (0).
    pub liquidity_penalty_amount_multiplier_msat: u64,
    /// Penalty per unit of −log10 of the success probability from the channel's history,
    /// msat (10,000).
    pub historical_liquidity_penalty_multiplier_msat: u64,
    /// The same per 2^20 msat of amount, msat (1,250).
    pub historical_liquidity_penalty_amount_multiplier_msat: u64,
    /// Penalty on channels whose htlc_maximum is at least half their capacity, msat (250).
    pub anti_probing_penalty_msat: u64,
    /// Penalty for an amount above the known maximum liquidity, msat (1e11).
    pub considered_impossible_penalty_msat: u64,
    /// Half-life of liquidity knowledge, seconds (6 hours).
    pub liquidity_offset_half_life_s: u64,
    /// Use the linear success probability model instead of the non-linear one (false).
    pub linear_success_probability: bool,
}

impl Default for LdkParams {
    fn default() -> LdkParams {
        LdkParams {
            base_penalty_msat: 1024,
            base_penalty_amount_multiplier_msat: 131_072,
            liquidity_penalty_multiplier_msat: 0,
            liquidity_penalty_amount_multiplier_msat: 0,
            historical_liquidity_penalty_multiplier_msat: 10_000,
            historical_liquidity_penalty_amount_multiplier_msat: 1_250,
            anti_probing_penalty_msat: 250,
            considered_impossible_penalty_msat: 100_000_000_000,
            liquidity_offset_half_life_s: 6 * 3600,
            linear_success_probability: false,
        }
    }
}

/// Buckets of a channel direction's history (LDK's `HistoricalLiquidityTracker`).
const BUCKETS: usize = 32;

/// Where a channel direction's liquidity bounds have been, as LDK's historical tracker keeps
/// them: 32 buckets of the capacity for the lower bound and 32 for the upper one (counted from
/// the top); each new datapoint decays every bucket by 2047/2048 and adds 32 to the bucket of
/// the bound (`routing/scoring.rs`, `HistoricalBucketRangeTracker::track_datapoint`). boltsim's
/// buckets are of equal width (LDK 0.1's are finer near the ends).
#[derive(Clone, Copy, Debug)]
struct History {
    min: [u16; BUCKETS],
    max: [u16; BUCKETS],
}

impl History {
    fn bucket(offset_msat: u64, capacity_msat: u64) -> usize {
        let index = u128::from(offset_msat) * BUCKETS as u128 / u128::from(capacity_msat.max(1));
        (index as usize).min(BUCKETS - 1)
    }

    fn track(&mut self, min_msat: u64, max_msat: u64, capacity_msat: u64) {
        for b in self.min.iter_mut().chain(self.max.iter_mut()) {
            *b = ((u32::from(*b) * 2047) / 2048) as u16;
        }
        let (i, j) = (
            Self::bucket(min_msat, capacity_msat),
            Self::bucket(capacity_msat.saturating_sub(max_msat), capacity_msat),
        );
        self.min[i] = self.min[i].saturating_add(32);
        self.max[j] = self.max[j].saturating_add(32);
    }
}

/// The LDK-style router: Dijkstra on fee plus penalty.
#[derive(Clone, Debug)]
pub struct LdkRouter {
    params: LdkParams,
    liquidity: Liquidity,
    history: std::collections::BTreeMap<(Scid, NodeId), History>,
}

impl LdkRouter {
    /// A router that knows nothing yet.
    pub fn new(params: LdkParams) -> LdkRouter {
        LdkRouter {
            params,
            liquidity: Liquidity::new(params.liquidity_offset_half_life_s),
            history: std::collections::BTreeMap::new(),
        }
    }

    /// The success probability of `amount` over `capacity` from a direction's history: the
    /// probability under each pair of (lower, upper) buckets with the lower below the upper,
    /// weighted by the product of their weights; `None` with less than one full datapoint of
    /// weight (LDK then uses the probability without bounds, with the historical multipliers).
    fn historical_probability(&self, history: &History, amount: u64, capacity: u64) -> Option<f64> {
        let (mut total, mut weighted) = (0.0, 0.0);
        for (i, &w_min) in history.min.iter().enumerate().filter(|(_, w)| **w > 0) {
            for (j, &w_max) in history.max.iter().enumerate().take(BUCKETS - i) {
                if w_max == 0 {
                    continue;
                }
                let lo = (u128::from(capacity) * i as u128 / BUCKETS as u128) as u64;
                let hi = (u128::from(capacity) * (BUCKETS - j) as u128 / BUCKETS as u128) as u64;
                let w = f64::from(w_min) * f64::from(w_max);
                total += w;
                weighted += w * self.success_probability(amount, lo, hi, capacity);
            }
        }
        (total >= 32.0 * 32.0).then(|| weighted / total)
    }

    /// `multiplier × L + amount_multiplier × L × amount / 2^20` with `L = min(−log10 P, 2)`;
    /// nothing when the failure probability is below 1/64.
    fn log_penalty(probability: f64, amount: u64, multiplier: u64, amount_multiplier: u64) -> u64 {
        if probability > 63.0 / 64.0 {
            return 0;
        }
        let l = if probability <= 0.0 { 2.0 } else { (-libm::log10(probability)).min(2.0) };
        ((l * multiplier as f64) as u64).saturating_add(
            (l * amount_multiplier as f64 * amount as f64 / (1u64 << 20) as f64) as u64,
        )
    }

    /// The probability that `amount` fits in liquidity known to lie in [min, max] of `capacity`.
    pub fn success_probability(&self, amount: u64, min: u64, max: u64, capacity: u64) -> f64 {
        if amount <= min {
            return 1.0;
        }
        if amount > max || capacity == 0 {
            return 0.0;
        }
        if self.params.linear_success_probability {
            return (max - amount) as f64 / (max - min + 1) as f64;
        }
        let c = capacity as f64;
        let cube = |x: u64| {
            let y = x as f64 / c - 0.5;
            y * y * y
        };
        let denominator = cube(max) - cube(min);
        if denominator <= 0.0 {
            return 0.0;
        }
        ((cube(max) - cube(amount)) / denominator).clamp(0.0, 1.0)
    }

    /// The penalty every hop but the payer's own pays, whatever is known of its liquidity:
    /// `base_penalty_msat + base_penalty_amount_multiplier_msat × amount / 2^30`.
    fn base_penalty_msat(&self, amount: u64) -> u64 {
        let p = &self.params;
        let by_amount =
            (u128::from(p.base_penalty_amount_multiplier_msat) * u128::from(amount)) >> 30;
        p.base_penalty_msat.saturating_add(u64::try_from(by_amount).unwrap_or(u64::MAX))
    }

    /// The penalty of sending `amount` over an edge whose liquidity is known to lie in
    /// [min, max].
    pub fn penalty_msat(
        &self,
        amount: u64,
        min: u64,
        max: u64,
        capacity: u64,
        anti_probing: bool,
    ) -> u64 {
        let p = &self.params;
        let mut penalty = self.base_penalty_msat(amount);
        if anti_probing {
            penalty = penalty.saturating_add(p.anti_probing_penalty_msat);
        }
        if amount > max {
            return penalty.saturating_add(p.considered_impossible_penalty_msat);
        }
        let probability = self.success_probability(amount, min, max, capacity);
        // Float-to-integer casts saturate, and so do the sums.
        penalty.saturating_add(Self::log_penalty(
            probability,
            amount,
            p.liquidity_penalty_multiplier_msat,
            p.liquidity_penalty_amount_multiplier_msat,
        ))
    }

    /// The historical penalty of sending `amount` over a direction with `history` (or none yet:
    /// the probability without bounds), as LDK 0.1 adds it to the penalty above.
    fn historical_penalty_msat(
        &self,
        history: Option<&History>,
        amount: u64,
        capacity: u64,
    ) -> u64 {
        let p = &self.params;
        if p.historical_liquidity_penalty_multiplier_msat == 0
            && p.historical_liquidity_penalty_amount_multiplier_msat == 0
        {
            return 0;
        }
        let probability = history
            .and_then(|h| self.historical_probability(h, amount, capacity))
            .unwrap_or_else(|| self.success_probability(amount, 0, capacity, capacity));
        Self::log_penalty(
            probability,
            amount,
            p.historical_liquidity_penalty_multiplier_msat,
            p.historical_liquidity_penalty_amount_multiplier_msat,
        )
    }
}

struct Scoring<'a> {
    router: &'a LdkRouter,
    now: SimTime,
    /// What the payee receives, msat: no hop carries less.
    amount_msat: u64,
}

impl Scorer for Scoring<'_> {
    fn score(&mut self, edge: &Edge<'_>, to: &Reached) -> Option<(u64, u64, f64)> {
        if edge.first_hop {
            return Some((to.cost, 0, 1.0));
        }
        let (min, max) =
            self.router.liquidity.bounds(edge.scid, edge.from, edge.capacity_msat, self.now);
        let anti_probing =
            edge.policy.is_some_and(|p| p.htlc_maximum_msat >= edge.capacity_msat / 2);
        // As LDK does, the payer's HTLCs in flight over the channel count as part of the amount.
        let amount = edge.amount_msat.saturating_add(edge.in_flight_msat);
        let mut penalty =
            self.router.penalty_msat(amount, min, max, edge.capacity_msat, anti_probing);
        if amount <= max {
            let history = self.router.history.get(&(edge.scid, edge.from));
            penalty = penalty.saturating_add(self.router.historical_penalty_msat(
                history,
                amount,
                edge.capacity_msat,
            ));
        }
        Some((to.cost.saturating_add(edge.fee_msat).saturating_add(penalty), 0, 1.0))
    }

    /// The fee and the base penalty: the other penalties are never negative, and they are what
    /// costs to compute (the liquidity bounds and the history are looked up).
    fn lower_bound(&self, edge: &Edge<'_>, to: &Reached) -> u64 {
        if edge.first_hop {
            return to.cost;
        }
        let amount = edge.amount_msat.saturating_add(edge.in_flight_msat);
        let cost = to.cost.saturating_add(edge.fee_msat);
        cost.saturating_add(self.router.base_penalty_msat(amount))
    }

    /// The base penalty of the smallest amount a hop carries, the payee's: every hop but the
    /// payer's own adds the base penalty of its amount (and its fee), and the base penalty grows
    /// with the amount.
    fn hop_floor(&self) -> u64 {
        self.router.base_penalty_msat(self.amount_msat)
    }
}

impl Router for LdkRouter {
    fn plan(&self, view: &GraphView, req: &RouteRequest<'_>) -> Vec<Route> {
        let mut scoring = Scoring { router: self, now: req.now, amount_msat: req.amount_msat };
        search(view, req, &mut scoring).into_iter().collect()
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
        // Every hop beyond the payer's own that the attempt taught something records its new
        // bounds in its history.
        let learnt = match outcome {
            Learned::Succeeded => route.hops.len(),
            Learned::Failed { failing_hop, .. } => (failing_hop + 1).min(route.hops.len()),
        };
        for i in 1..learnt {
            let (scid, from) = (route.hops[i].scid, route.hops[i - 1].node_id);
            let Some(capacity) = view.channel(scid).map(|c| c.capacity_sat.saturating_mul(1000))
            else {
                continue;
            };
            let (min, max) = self.liquidity.bounds(scid, from, capacity, now);
            let empty = History { min: [0; BUCKETS], max: [0; BUCKETS] };
            self.history.entry((scid, from)).or_insert(empty).track(min, max, capacity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probability_models_match_ldk() {
        let r = LdkRouter::new(LdkParams::default());
        // No knowledge, half the capacity: the non-linear model is symmetric around the middle.
        assert!((r.success_probability(500, 0, 1000, 1000) - 0.5).abs() < 1e-12);
        // Mostly at the ends: a quarter of the capacity succeeds more often than linearly.
        let p = r.success_probability(250, 0, 1000, 1000);
        assert!((p - (0.125 + 0.015625) / 0.25).abs() < 1e-9, "{p}");
        assert_eq!(r.success_probability(100, 200, 1000, 1000), 1.0);
        assert_eq!(r.success_probability(1001, 0, 1000, 1000), 0.0);
        let linear =
            LdkRouter::new(LdkParams { linear_success_probability: true, ..LdkParams::default() });
        assert!((linear.success_probability(250, 0, 1000, 1000) - 750.0 / 1001.0).abs() < 1e-12);
    }

    /// LDK 0.0.123's direct liquidity penalty, the one 0.1 turned off by default.
    fn ldk_0_0_123() -> LdkParams {
        LdkParams {
            base_penalty_msat: 500,
            base_penalty_amount_multiplier_msat: 8192,
            liquidity_penalty_multiplier_msat: 30_000,
            liquidity_penalty_amount_multiplier_msat: 192,
            ..LdkParams::default()
        }
    }

    #[test]
    fn the_historical_penalty_follows_the_buckets() {
        let r = LdkRouter::new(LdkParams::default());
        let c = 10_000_000;
        // No history: the probability without bounds (0.5 at half the capacity) with the
        // historical multipliers.
        let l = libm::log10(2.0);
        let expected = (l * 10_000.0) as u64 + (l * 1_250.0 * 5_000_000.0 / 1_048_576.0) as u64;
        assert_eq!(r.historical_penalty_msat(None, 5_000_000, c), expected);
        // One datapoint: the direction held at least 8,000,000 of 10,000,000 msat (lower bucket
        // 25, upper bucket 0): 5,000,000 is sure to pass, 9,000,000 is not.
        let mut h = History { min: [0; BUCKETS], max: [0; BUCKETS] };
        h.track(8_000_000, c, c);
        assert_eq!((h.min[25], h.max[0]), (32, 32));
        assert_eq!(r.historical_probability(&h, 5_000_000, c), Some(1.0));
        assert_eq!(r.historical_penalty_msat(Some(&h), 5_000_000, c), 0);
        let p = r.historical_probability(&h, 9_000_000, c).unwrap();
        assert!(p > 0.0 && p < 1.0, "{p}");
        // A second datapoint decays the first by 2047/2048.
        h.track(0, 1_000_000, c);
        assert_eq!((h.min[25], h.min[0], h.max[28]), (31, 32, 32));
    }

    #[test]
    fn penalty_grows_with_the_chance_of_failure() {
        let r = LdkRouter::new(ldk_0_0_123());
        let base = 500 + ((8192u128 * 1_000_000) >> 30) as u64;
        // Certain: the base only.
        assert_eq!(r.penalty_msat(1_000_000, 1_000_000, 10_000_000, 10_000_000, false), base);
        // Half: L = log10(2).
        let l = libm::log10(2.0);
        let base5 = 500 + ((8192u128 * 5_000_000) >> 30) as u64;
        let expected =
            base5 + (l * 30_000.0) as u64 + (l * 192.0 * 5_000_000.0 / 1_048_576.0) as u64;
        assert_eq!(r.penalty_msat(5_000_000, 0, 10_000_000, 10_000_000, false), expected);
        // Above the known maximum: impossible.
        assert!(r.penalty_msat(6, 0, 5, 10, true) >= 100_000_000_000);
    }
}
