//! A router modelled on LDK's `ProbabilisticScorer` (rust-lightning 0.0.123,
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
//! Bounds decay toward [0, capacity] with `liquidity_offset_half_life`. LDK's historical buckets
//! (the `historical_*` penalties) are not modelled. The payer's own HTLCs in flight over a channel
//! count as part of the amount, as LDK's `InFlightHtlcs` do.

use super::liquidity::Liquidity;
use super::search::{Edge, Reached, Scorer, search};
use super::{Learned, Route, RouteRequest, Router};
use crate::graph::GraphView;
use crate::ids::{NodeId, SimTime};
use serde::{Deserialize, Serialize};

/// LDK's scoring parameters; defaults are LDK 0.0.123's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdkParams {
    /// Fixed penalty per hop, msat (500).
    pub base_penalty_msat: u64,
    /// Per-hop penalty per 2^30 msat of amount, msat (8192).
    pub base_penalty_amount_multiplier_msat: u64,
    /// Penalty per unit of −log10(success probability), msat (30,000).
    pub liquidity_penalty_multiplier_msat: u64,
    /// Penalty per unit of −log10(P) per 2^20 msat of amount, msat (192).
    pub liquidity_penalty_amount_multiplier_msat: u64,
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
            base_penalty_msat: 500,
            base_penalty_amount_multiplier_msat: 8192,
            liquidity_penalty_multiplier_msat: 30_000,
            liquidity_penalty_amount_multiplier_msat: 192,
            anti_probing_penalty_msat: 250,
            considered_impossible_penalty_msat: 100_000_000_000,
            liquidity_offset_half_life_s: 6 * 3600,
            linear_success_probability: false,
        }
    }
}

/// The LDK-style router: Dijkstra on fee plus penalty.
#[derive(Clone, Debug)]
pub struct LdkRouter {
    params: LdkParams,
    liquidity: Liquidity,
}

impl LdkRouter {
    /// A router that knows nothing yet.
    pub fn new(params: LdkParams) -> LdkRouter {
        LdkRouter { params, liquidity: Liquidity::new(params.liquidity_offset_half_life_s) }
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
        let by_amount =
            (u128::from(p.base_penalty_amount_multiplier_msat) * u128::from(amount)) >> 30;
        let mut penalty =
            p.base_penalty_msat.saturating_add(u64::try_from(by_amount).unwrap_or(u64::MAX));
        if anti_probing {
            penalty = penalty.saturating_add(p.anti_probing_penalty_msat);
        }
        if amount > max {
            return penalty.saturating_add(p.considered_impossible_penalty_msat);
        }
        let probability = self.success_probability(amount, min, max, capacity);
        if probability > 63.0 / 64.0 {
            return penalty;
        }
        let l = if probability <= 0.0 { 2.0 } else { (-libm::log10(probability)).min(2.0) };
        // Float-to-integer casts saturate, and so do the sums.
        penalty
            .saturating_add((l * p.liquidity_penalty_multiplier_msat as f64) as u64)
            .saturating_add(
                (l * p.liquidity_penalty_amount_multiplier_msat as f64 * amount as f64
                    / (1u64 << 20) as f64) as u64,
            )
    }
}

struct Scoring<'a> {
    router: &'a LdkRouter,
    now: SimTime,
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
        let penalty = self.router.penalty_msat(amount, min, max, edge.capacity_msat, anti_probing);
        Some((to.cost.saturating_add(edge.fee_msat).saturating_add(penalty), 0, 1.0))
    }
}

impl Router for LdkRouter {
    fn plan(&mut self, view: &GraphView, req: &RouteRequest<'_>) -> Vec<Route> {
        let mut scoring = Scoring { router: self, now: req.now };
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

    #[test]
    fn penalty_grows_with_the_chance_of_failure() {
        let r = LdkRouter::new(LdkParams::default());
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
