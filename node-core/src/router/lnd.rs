//! A router modelled on lnd's probability-based pathfinding (lnd 0.18: `routing/pathfind.go`,
//! `routing/probability_apriori.go`, `routing/probability_bimodal.go`, `routing/missioncontrol.go`).
//!
//! Distance: each edge weighs its fee plus a time-lock penalty
//! `amount × cltv_delta × risk_factor_billionths / 1e9`; the route's success probability is the
//! product of the edges'; and a route's distance is `Σ weight + attempt_cost / P_route` with
//! `attempt_cost = attempt_cost_msat + amount × attempt_cost_ppm / 1e6`. Routes below
//! `min_probability` are dropped.
//!
//! Edge probability comes from the payer's mission control — the last success and failure
//! (amount, time) it saw per node pair — through one of lnd's two estimators:
//!
//! - apriori: `apriori = hop_probability × capacity_factor`, where
//!   `capacity_factor = 1 − 0.5 / (1 + exp(−(a − 0.9999 c) / (0.025 c)))`; a pair that carried
//!   at least `a` before gives 0.95; a pair that failed at most `a` gives the node probability
//!   times `1 − 2^(−age / penalty_half_life)`; otherwise the node probability, which mixes the
//!   apriori value (weight `F = 1/(1 − apriori_weight) − 1`) with the node's other pair results
//!   (successes 0.95, failures decaying with `penalty_half_life`);
//! - bimodal: liquidity is likely near empty or full, with density ∝
//!   `exp(−x/s) + exp((x−c)/s) + 1/c`; the probability of `a` given the success bound `a_s` and
//!   failure bound `a_f` (both relaxing toward [0, c] with `decay_time`) is
//!   `(H(a_f) − H(a)) / (H(a_f) − H(a_s))` with H the density's integral; a pair without a recent
//!   result of its own mixes in the node's other results with weight `node_weight`.
//!
//! Learning (`routing/result_interpretation.go`): after an attempt, every pair before the failing
//! one succeeded with its amount; on `temporary_channel_failure` the pair leaving the failing node
//! failed at the amount it was asked to carry (smaller amounts stay allowed), on other channel
//! failures at every amount, and a node failure fails every pair into and out of the node;
//! policy and final-node errors teach nothing about liquidity. The payment itself excludes
//! nothing for a liquidity failure ([`FailureMemory::Router`]): mission control decides, by
//! amount, so a payment halved after a failure may reuse the channel.

use super::search::{Edge, FLOOR_CEILING, Reached, Scorer, search};
use super::{FailureMemory, Learned, Route, RouteRequest, Router};
use crate::graph::GraphView;
use crate::ids::{NodeId, SimTime};
use crate::onion::FailureCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which probability estimator lnd uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Estimator {
    /// The apriori estimator (lnd's default).
    #[default]
    Apriori,
    /// The bimodal estimator.
    Bimodal,
}

/// lnd's pathfinding parameters; defaults are lnd 0.18's. Probabilities and weights in ppm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LndParams {
    /// The estimator (apriori).
    pub estimator: Estimator,
    /// Fixed cost of an attempt, msat (100 sat).
    pub attempt_cost_msat: u64,
    /// Proportional cost of an attempt, ppm of the amount (1000).
    pub attempt_cost_ppm: u64,
    /// Time-lock penalty, billionths of amount per block (15).
    pub risk_factor_billionths: u64,
    /// Routes less likely than this are not tried, ppm (1% = 10,000).
    pub min_probability_ppm: u64,
    /// Apriori: probability of a hop without history, ppm (600,000).
    pub apriori_hop_probability_ppm: u64,
    /// Apriori: weight of the apriori value against the node's history, ppm (500,000).
    pub apriori_weight_ppm: u64,
    /// Apriori: half-life of a failure's penalty, seconds (1 hour).
    pub penalty_half_life_s: u64,
    /// Apriori: fraction of the capacity above which the capacity factor drops, ppm (999,900).
    pub capacity_fraction_ppm: u64,
    /// Bimodal: scale of the liquidity distribution, msat (300,000,000).
    pub bimodal_scale_msat: u64,
    /// Bimodal: weight of the node's other results, ppm (200,000).
    pub bimodal_node_weight_ppm: u64,
    /// Bimodal: decay time of results, seconds (7 days).
    pub bimodal_decay_time_s: u64,
}

impl Default for LndParams {
    fn default() -> LndParams {
        LndParams {
            estimator: Estimator::Apriori,
            attempt_cost_msat: 100_000,
            attempt_cost_ppm: 1_000,
            risk_factor_billionths: 15,
            min_probability_ppm: 10_000,
            apriori_hop_probability_ppm: 600_000,
            apriori_weight_ppm: 500_000,
            penalty_half_life_s: 3_600,
            capacity_fraction_ppm: 999_900,
            bimodal_scale_msat: 300_000_000,
            bimodal_node_weight_ppm: 200_000,
            bimodal_decay_time_s: 7 * 86_400,
        }
    }
}

/// What mission control remembers of a node pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct PairResult {
    success: Option<(u64, SimTime)>,
    failure: Option<(u64, SimTime)>,
}

/// Probability given to a pair that carried the amount before.
const PREV_SUCCESS_PROBABILITY: f64 = 0.95;

/// The lnd-style router and its mission control.
#[derive(Clone, Debug)]
pub struct LndRouter {
    params: LndParams,
    pairs: BTreeMap<(NodeId, NodeId), PairResult>,
    /// Bit `id mod FILTER_BITS` set for each node starting a pair in `pairs` (allocated at the
    /// first result): the estimators skip the map for a node whose bit is clear, as most nodes
    /// a search scores are (a payer learns of a few dozen).
    learnt_from: Option<Box<[u64; FILTER_BITS / 64]>>,
    /// Whether any pair has a success recorded ([`LndRouter::max_hop_probability`]).
    learnt_success: bool,
    /// The parameters the apriori estimator reads for every edge, converted once (the same
    /// values the conversions give each time): the hop probability, the capacity fraction, and
    /// `1 / (1 − apriori weight) − 1`.
    hop_probability: f64,
    capacity_fraction: f64,
    apriori_factor: f64,
    /// The apriori estimate of a pair with nothing learnt and a capacity factor of 1.0:
    /// `hop_probability × factor / factor`, as `apriori_probability` computes it.
    apriori_alone: f64,
    /// Amounts up to this share of the capacity have a capacity factor of exactly 1.0, known
    /// without the division (`capacity_factor`); -1 when no share is safe.
    certain_share: f64,
}

/// The size of [`LndRouter`]'s `learnt_from` filter, bits.
const FILTER_BITS: usize = 1024;

/// The word and bit of `node` in [`LndRouter`]'s `learnt_from` filter.
fn filter_bit(node: NodeId) -> (usize, u64) {
    let bit = node.0 as usize % FILTER_BITS;
    (bit / 64, 1 << (bit % 64))
}

fn ppm(x: u64) -> f64 {
    x as f64 / 1e6
}

impl LndRouter {
    /// A router whose mission control is empty.
    pub fn new(params: LndParams) -> LndRouter {
        let weight = ppm(params.apriori_weight_ppm).min(0.999_999);
        let hop_probability = ppm(params.apriori_hop_probability_ppm);
        let apriori_factor = 1.0 / (1.0 - weight) - 1.0;
        let capacity_fraction = ppm(params.capacity_fraction_ppm);
        let apriori_alone = if apriori_factor > 0.0 {
            hop_probability * apriori_factor / apriori_factor
        } else {
            hop_probability
        };
        // z = (fraction − amount / capacity) / 0.025 ≥ 38 when amount / capacity ≤ fraction −
        // 0.95; a relative margin of 10^-6 keeps the rounded z of `capacity_factor` at 38 or
        // more (its rounding errors are about 10^-16), given fraction − 0.95 ≥ 10^-3.
        let certain_share = if capacity_fraction >= 0.951 {
            (capacity_fraction - 0.95) * (1.0 - 1e-6)
        } else {
            -1.0
        };
        LndRouter {
            params,
            pairs: BTreeMap::new(),
            learnt_from: None,
            learnt_success: false,
            hop_probability,
            capacity_fraction,
            apriori_factor,
            apriori_alone,
            certain_share,
        }
    }

    /// Whether `from` may start a pair with a result (`false`: it starts none).
    fn may_have_pairs(&self, from: NodeId) -> bool {
        let (word, bit) = filter_bit(from);
        self.learnt_from.as_ref().is_some_and(|bits| bits[word] & bit != 0)
    }

    fn pairs_from(&self, from: NodeId) -> impl Iterator<Item = (&NodeId, &PairResult)> {
        self.pairs.range((from, NodeId(0))..=(from, NodeId(u32::MAX))).map(|((_, to), r)| (to, r))
    }

    fn capacity_factor(&self, amount: u64, capacity: u64) -> f64 {
        let fraction = self.capacity_fraction;
        if capacity == 0 || fraction >= 1.0 {
            return 1.0;
        }
        if amount > capacity {
            return 0.0;
        }
        let c = capacity as f64;
        if amount as f64 <= self.certain_share * c {
            return 1.0;
        }
        let z = -(amount as f64 - fraction * c) / (0.025 * c);
        // From z = 38 on, 0.5 / (1 + e^z) < 1.6e-17, under half the gap below 1.0 (2^-54): the
        // factor rounds to exactly 1.0, so e^z need not be computed (amounts below about 5% of
        // the capacity, most edges of most searches). The value is the same bit for bit.
        if z >= 38.0 {
            return 1.0;
        }
        1.0 - 0.5 / (1.0 + libm::exp(z))
    }

    /// 2^(−age / half-life).
    fn decay(&self, now: SimTime, at: SimTime) -> f64 {
        let half_life_us = self.params.penalty_half_life_s.max(1).saturating_mul(1_000_000) as f64;
        libm::pow(2.0, -(now.micros_since(at) as f64) / half_life_us)
    }

    /// The apriori estimate of a pair with nothing learnt at a capacity factor of 1.0, as
    /// `apriori_probability` may compute it either way: no hop from a node with no success
    /// learnt (at the amount) exceeds it.
    fn cold_hop_probability(&self) -> f64 {
        self.apriori_alone.max(self.hop_probability)
    }

    /// The `p` that a hop's cost is steered by ([`Scorer::hop_floor`], [`Scorer::hop_growth`]):
    /// with the apriori estimator, the most a node none of whose pairs has carried the amount
    /// estimates (failures only lower its average), if strictly between 0 and 1; else none.
    fn steering_probability(&self) -> Option<f64> {
        let p = self.cold_hop_probability();
        (self.params.estimator == Estimator::Apriori && p > 0.0 && p < 1.0).then_some(p)
    }

    /// A probability no hop that is not the payer's own exceeds, for bounding costs: with the
    /// apriori estimator and no success learnt, the estimate of a pair with nothing learnt and
    /// a capacity factor of 1.0 (a smaller factor gives a smaller product and quotient, as
    /// every step rounds monotonically); after a success, 0.95 or that, whichever is larger,
    /// with a margin for rounding; with the bimodal estimator, 1.
    fn max_hop_probability(&self) -> f64 {
        let cold = self.cold_hop_probability();
        match self.params.estimator {
            // Failures only lower a node's weighted average and a pair's estimate.
            Estimator::Apriori if !self.learnt_success => cold,
            // A pair that carried the amount gets 0.95, and a node's estimate is a weighted
            // average of that and the apriori value; the margin covers the rounding of sums of
            // up to millions of terms (relative error about 2 × terms × 1.1e-16).
            Estimator::Apriori => cold.max(PREV_SUCCESS_PROBABILITY) * (1.0 + 1e-9),
            Estimator::Bimodal => 1.0,
        }
    }

    /// The most the apriori estimator gives any pair from `from` carrying `amount` or more:
    /// with no success of `from`'s counting at `amount`, its node estimate at a capacity factor
    /// of 1.0 with the failures at `amount` or less, summed as `apriori_probability` sums them
    /// (a larger amount counts more failures and a smaller factor lowers the numerator, each
    /// step rounding monotonically; a pair's own failure multiplies by at most 1); else
    /// [`LndRouter::max_hop_probability`].
    fn node_probability_cap(&self, now: SimTime, from: NodeId, amount: u64) -> f64 {
        if !self.may_have_pairs(from) {
            return self.cold_hop_probability();
        }
        let apriori = self.hop_probability;
        let f = self.apriori_factor;
        let (numerator, mut denominator) = (apriori * f, f);
        for (_, r) in self.pairs_from(from) {
            if r.success.is_some_and(|(s, _)| amount <= s) {
                return self.max_hop_probability();
            }
            if let Some((fail_amount, at)) = r.failure
                && amount >= fail_amount
            {
                denominator += self.decay(now, at);
            }
        }
        if denominator > 0.0 { numerator / denominator } else { apriori }
    }

    /// A probability no hop from a node that starts no pair in mission control exceeds: with
    /// the apriori estimator the cold estimate ([`LndRouter::max_hop_probability`] before any
    /// success), with the bimodal one 1.
    fn unlearnt_hop_probability(&self) -> f64 {
        match self.params.estimator {
            Estimator::Apriori => self.cold_hop_probability(),
            Estimator::Bimodal => 1.0,
        }
    }

    /// The apriori estimator's probability for `from` → `to` carrying `amount`.
    pub fn apriori_probability(
        &self,
        now: SimTime,
        from: NodeId,
        to: NodeId,
        amount: u64,
        capacity: u64,
    ) -> f64 {
        let capacity_factor = self.capacity_factor(amount, capacity);
        // Nothing learnt of `from` at a factor of 1.0: the value the next return computes.
        if capacity_factor == 1.0 && !self.may_have_pairs(from) {
            return self.apriori_alone;
        }
        let apriori = self.hop_probability * capacity_factor;
        let f = self.apriori_factor;
        let (mut numerator, mut denominator) = (apriori * f, f);
        if !self.may_have_pairs(from) {
            // Nothing learnt of `from` (nothing at all on a payer's first payment): no pair adds
            // to either sum, and the pair itself has no result. The same arithmetic as below,
            // without the lookups.
            return if denominator > 0.0 { numerator / denominator } else { apriori };
        }
        // One pass over what `from`'s pairs taught, which also finds the pair itself.
        let mut pair = PairResult::default();
        for (other, r) in self.pairs_from(from) {
            if *other == to {
                pair = *r;
            }
            if let Some((success_amount, _)) = r.success
                && amount <= success_amount
            {
                numerator += PREV_SUCCESS_PROBABILITY;
                denominator += 1.0;
            }
            if let Some((fail_amount, at)) = r.failure
                && amount >= fail_amount
            {
                denominator += self.decay(now, at);
            }
        }
        let node = if denominator > 0.0 { numerator / denominator } else { apriori };
        if pair.success.is_some_and(|(s, _)| amount <= s) {
            return PREV_SUCCESS_PROBABILITY;
        }
        match pair.failure {
            Some((fail_amount, at)) if amount >= fail_amount => node * (1.0 - self.decay(now, at)),
            _ => node,
        }
    }

    /// The bimodal estimator's probability for `from` → `to` carrying `amount`.
    pub fn bimodal_probability(
        &self,
        now: SimTime,
        from: NodeId,
        to: NodeId,
        amount: u64,
        capacity: u64,
    ) -> f64 {
        let tau = self.params.bimodal_decay_time_s.max(1).saturating_mul(1_000_000) as f64;
        let decay = |at: SimTime| libm::exp(-(now.micros_since(at) as f64) / tau);
        let direct = |r: &PairResult| {
            let a_s = r.success.map_or(0.0, |(s, at)| s as f64 * decay(at));
            let a_f = r.failure.map_or(capacity as f64, |(f, at)| {
                capacity as f64 - (capacity as f64 - f as f64) * decay(at)
            });
            self.bimodal(amount as f64, capacity as f64, a_s, a_f)
        };
        if !self.may_have_pairs(from) {
            // No pair result of `from`: the node term adds nothing (p_direct / 1.0).
            return direct(&PairResult::default());
        }
        let pair = self.pairs.get(&(from, to)).copied().unwrap_or_default();
        let p_direct = direct(&pair);
        let recent = [pair.success, pair.failure]
            .iter()
            .flatten()
            .any(|(_, at)| (now.micros_since(*at) as f64) < tau);
        if recent {
            return p_direct;
        }
        let w = ppm(self.params.bimodal_node_weight_ppm);
        let (mut numerator, mut denominator) = (p_direct, 1.0);
        for (other, r) in self.pairs_from(from) {
            if *other == to {
                continue;
            }
            if let Some((_, at)) = r.success {
                numerator += w * decay(at);
                denominator += w * decay(at);
            }
            if let Some((_, at)) = r.failure {
                denominator += w * decay(at);
            }
        }
        numerator / denominator
    }

    fn bimodal(&self, a: f64, c: f64, a_s: f64, a_f: f64) -> f64 {
        if c <= 0.0 || a > c {
            return 0.0;
        }
        let (a_s, a_f) = if a_f <= a_s { (0.0, c) } else { (a_s, a_f) };
        if a <= a_s {
            return 1.0;
        }
        if a >= a_f {
            return 0.0;
        }
        let s = self.params.bimodal_scale_msat.max(1) as f64;
        // H, the density's integral, at the ends needs only e^(−c/s): most pairs have no
        // history, so a_s = 0 and a_f = c, and three exponentials do.
        let e_c = libm::exp(-c / s);
        let h = |x: f64| {
            if x <= 0.0 {
                e_c - 1.0
            } else if x >= c {
                1.0 - e_c + 1.0 / s
            } else {
                -libm::exp(-x / s) + libm::exp((x - c) / s) + x / (c * s)
            }
        };
        let denominator = h(a_f) - h(a_s);
        if denominator <= 0.0 {
            return 0.0;
        }
        ((h(a_f) - h(a)) / denominator).clamp(0.0, 1.0)
    }

    fn probability(&self, now: SimTime, edge: &Edge<'_>) -> f64 {
        match self.params.estimator {
            Estimator::Apriori if edge.first_hop => {
                // lnd's `LocalPairProbability`: its own channels start at the previous-success
                // probability, and any failure on one (taken as failing every amount) lowers it
                // until the penalty decays.
                match self.pairs.get(&(edge.from, edge.to)).and_then(|r| r.failure) {
                    Some((_, at)) => PREV_SUCCESS_PROBABILITY * (1.0 - self.decay(now, at)),
                    None => PREV_SUCCESS_PROBABILITY,
                }
            }
            Estimator::Apriori => self.apriori_probability(
                now,
                edge.from,
                edge.to,
                edge.amount_msat,
                edge.capacity_msat,
            ),
            Estimator::Bimodal if edge.first_hop => 1.0,
            Estimator::Bimodal => self.bimodal_probability(
                now,
                edge.from,
                edge.to,
                edge.amount_msat,
                edge.capacity_msat,
            ),
        }
    }

    fn record(&mut self, now: SimTime, from: NodeId, to: NodeId, amount: u64, success: bool) {
        let (word, bit) = filter_bit(from);
        self.learnt_from.get_or_insert_with(|| Box::new([0; FILTER_BITS / 64]))[word] |= bit;
        let r = self.pairs.entry((from, to)).or_default();
        if success {
            self.learnt_success = true;
            let best = r.success.map_or(amount, |(s, _)| s.max(amount));
            r.success = Some((best, now));
            // As lnd's `setLastPairResult`: a failure below the success moves up, keeping its
            // time (a success does not make a recent failure fresh).
            if let Some((f, at)) = r.failure
                && f <= best
            {
                r.failure = Some((best.saturating_add(1), at));
            }
        } else {
            r.failure = Some((amount, now));
            if let Some((s, at)) = r.success
                && s >= amount
            {
                r.success = Some((amount.saturating_sub(1), at));
            }
        }
    }
}

struct Scoring<'a> {
    router: &'a LndRouter,
    now: SimTime,
    /// What the payee receives, msat: no hop carries less.
    amount_msat: u64,
    attempt_cost: f64,
    min_probability: f64,
    /// No hop's probability but the payer's own exceeds this (for [`Scorer::lower_bound`]).
    max_hop_probability: f64,
    /// Nor does a hop's from a node with nothing learnt ([`LndRouter::unlearnt_hop_probability`]).
    unlearnt_hop_probability: f64,
}

impl Scoring<'_> {
    /// What a hop of probability at most `p` adds at least to a label's cost (`attempt_cost ×
    /// (1/p − 1)`), less a relative 10^-9 and 3 msat for the rounding of costs
    /// ([`Scorer::hop_floor`]); [`FLOOR_CEILING`] at most.
    fn floor_at(&self, p: f64) -> u64 {
        let step = self.attempt_cost * (1.0 / p - 1.0) * (1.0 - 1e-9);
        (step.min(FLOOR_CEILING as f64) as u64).saturating_sub(3)
    }

    /// lnd's additive weight through `edge`: the weight so far, the fee and the time-lock risk
    /// (`amount × cltv_delta × risk_factor`), in u64 when the product fits (nearly always), else
    /// in u128: the same integer either way.
    fn weight(&self, edge: &Edge<'_>, to: &Reached) -> u64 {
        let risk_factor = self.router.params.risk_factor_billionths;
        let risk = match edge
            .amount_msat
            .checked_mul(u64::from(edge.cltv_delta))
            .and_then(|x| x.checked_mul(risk_factor))
        {
            Some(product) => product / 1_000_000_000,
            None => {
                let wide = (u128::from(edge.amount_msat) * u128::from(edge.cltv_delta))
                    .saturating_mul(u128::from(risk_factor))
                    / 1_000_000_000;
                u64::try_from(wide).unwrap_or(u64::MAX)
            }
        };
        to.weight.saturating_add(edge.fee_msat).saturating_add(risk)
    }

    /// lnd's cost of a path of `weight` and success `probability`: the weight plus the attempt
    /// cost divided by the probability, capped at 2^63.
    ///
    /// The same bits as `(weight as f64 + attempt_cost / probability).min(2^63) as u64`,
    /// through signed conversions (a search makes two for each edge it scores, and an unsigned
    /// one takes several instructions): a weight above `i64::MAX` gives 2^63 either way, a cost
    /// below 2^63 fits an i64, and a NaN (0 / 0) is capped.
    fn cost(&self, weight: u64, probability: f64) -> u64 {
        const CAP: f64 = (1u64 << 63) as f64;
        let cost = weight.min(i64::MAX as u64) as i64 as f64 + self.attempt_cost / probability;
        if cost < CAP { cost as i64 as u64 } else { 1 << 63 }
    }
}

impl Scorer for Scoring<'_> {
    fn score(&mut self, edge: &Edge<'_>, to: &Reached) -> Option<(u64, u64, f64)> {
        let weight = self.weight(edge, to);
        let probability = to.probability * self.router.probability(self.now, edge);
        if probability < self.min_probability || probability <= 0.0 {
            return None;
        }
        Some((self.cost(weight, probability), weight, probability))
    }

    /// The cost were the hop as likely to succeed as any hop from its node can be
    /// ([`LndRouter::max_hop_probability`]; [`LndRouter::unlearnt_hop_probability`] for a node
    /// mission control has nothing of, as most are; 1 for the payer's own): the cost only grows
    /// as the probability falls (each step of it rounds monotonically).
    fn lower_bound(&self, edge: &Edge<'_>, to: &Reached) -> u64 {
        // The payer's own channels start at 0.95 (apriori) or 1 (bimodal): bounded by 1.
        let max_probability = match edge.first_hop {
            true => 1.0,
            false if self.router.may_have_pairs(edge.from) => self.max_hop_probability,
            false => self.unlearnt_hop_probability,
        };
        self.cost(self.weight(edge, to), to.probability * max_probability)
    }

    /// With the apriori estimator, each hop from a node with no success learnt multiplies the
    /// probability by at most `p`, the estimate of a pair with nothing learnt at a capacity
    /// factor of 1.0 ([`LndRouter::max_hop_probability`] before any success), and adds a
    /// non-negative weight, so the cost `weight + attempt_cost / P` grows by at least
    /// `attempt_cost / P × (1/p − 1) ≥ attempt_cost × (1/p − 1)` (as P ≤ 1); less a relative
    /// 10^-9 and 3 msat for the rounding of costs below [`FLOOR_CEILING`] (each of the four
    /// roundings and truncations of `cost` below it is off by under 1 msat).
    fn hop_floor(&self) -> u64 {
        let Some(p) = self.router.steering_probability() else { return 0 };
        self.floor_at(p)
    }

    /// With the apriori estimator, what a hop from `node` adds at least by the same reasoning
    /// as [`Scorer::hop_floor`], for the `p` of `node`'s own pairs
    /// ([`LndRouter::node_probability_cap`]): after a failure a node's estimate falls for every
    /// pair (lnd's node probability is a weighted average over what its pairs taught), so a
    /// payer whose peer just failed to forward pays more for every route through it.
    fn node_floor(&self, node: NodeId) -> u64 {
        let floor = self.hop_floor();
        if floor == 0 {
            return 0;
        }
        let q = self.router.node_probability_cap(self.now, node, self.amount_msat);
        floor.max(self.floor_at(q))
    }

    /// With the apriori estimator, 1/p for the `p` of [`Scorer::hop_floor`]: every hop of a
    /// label from a node not exempt has a probability of at most `p` (an exempt one at most 1),
    /// so with `k` such hops its `P` is at most `p^k` and the next hop from a node not exempt
    /// adds at least `attempt_cost / p^k × (1/p − 1)`, the floor times (1/p)^k.
    fn hop_growth(&self) -> f64 {
        self.router.steering_probability().map_or(1.0, |p| 1.0 / p)
    }

    /// The nodes with a success learnt on one of their pairs at the payment's amount or more:
    /// their node estimate (a weighted average with 0.95 for each success at the amount or
    /// more) and the pair's may exceed the apriori value. A success at less counts for no hop
    /// of the route, each of which carries the amount or more.
    fn floor_exempt(&self, exempt: &mut dyn FnMut(NodeId)) {
        if self.router.learnt_success {
            let mut last = None;
            for ((from, _), result) in &self.router.pairs {
                let counts = result.success.is_some_and(|(s, _)| s >= self.amount_msat);
                if counts && last != Some(*from) {
                    exempt(*from);
                    last = Some(*from);
                }
            }
        }
    }
}

impl Router for LndRouter {
    fn plan(&self, view: &GraphView, req: &RouteRequest<'_>) -> Vec<Route> {
        let attempt_cost = self.params.attempt_cost_msat as f64
            + req.amount_msat as f64 * self.params.attempt_cost_ppm as f64 / 1e6;
        let mut scoring = Scoring {
            router: self,
            now: req.now,
            amount_msat: req.amount_msat,
            attempt_cost,
            min_probability: ppm(self.params.min_probability_ppm),
            max_hop_probability: self.max_hop_probability(),
            unlearnt_hop_probability: self.unlearnt_hop_probability(),
        };
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
        let node_at = |i: usize| if i == 0 { payer } else { route.hops[i - 1].node_id };
        let hops = route.hops.len();
        // (pairs that succeeded, the failing pair and the amount it failed at).
        let (succeeded, failed) = match outcome {
            Learned::Succeeded => (hops, None),
            // The payee answered: the route itself worked.
            Learned::Failed { failing_hop, .. } if failing_hop >= hops => (hops, None),
            Learned::Failed { failing_hop, code } if code.is_node() => {
                // `failNode` → `setAllFail`: every pair into and out of the node fails at every
                // amount (`routing/missioncontrol_state.go`).
                let node = node_at(failing_hop);
                let mut peers = Vec::new();
                view.for_each_channel_of(node, |c| {
                    peers.push(if c.node_1 == node { c.node_2 } else { c.node_1 });
                });
                for peer in peers {
                    self.record(now, node, peer, 0, false);
                    self.record(now, peer, node, 0, false);
                }
                // The pairs before the one into the failing node forwarded; that one did not.
                (failing_hop.saturating_sub(1), None)
            }
            Learned::Failed { failing_hop, code } => match code {
                // A policy failure says nothing about liquidity (the update in it is applied
                // to the graph and the channel gets its second chance).
                FailureCode::FEE_INSUFFICIENT
                | FailureCode::INCORRECT_CLTV_EXPIRY
                | FailureCode::AMOUNT_BELOW_MINIMUM
                | FailureCode::EXPIRY_TOO_SOON => (failing_hop, None),
                // `failPairBalance`: the outgoing pair failed at the amount it was asked to
                // carry; smaller amounts stay allowed.
                FailureCode::TEMPORARY_CHANNEL_FAILURE => {
                    (failing_hop, Some((failing_hop, route.hops[failing_hop].amount_msat)))
                }
                // `failPair`: unknown_next_peer, channel_disabled, permanent_channel_failure
                // and the like fail the pair at every amount.
                _ => (failing_hop, Some((failing_hop, 0))),
            },
        };
        for (i, hop) in route.hops.iter().enumerate().take(succeeded) {
            self.record(now, node_at(i), hop.node_id, hop.amount_msat, true);
        }
        if let Some((i, amount_msat)) = failed {
            self.record(now, node_at(i), route.hops[i].node_id, amount_msat, false);
        }
    }

    fn failure_memory(&self) -> FailureMemory {
        FailureMemory::Router
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_capacity_factor_shortcut_gives_the_same_bits() {
        // Below about 5% of the capacity the factor is 1.0 without computing e^z; everywhere it
        // equals the formula bit for bit.
        let router = super::LndRouter::new(super::LndParams::default());
        for capacity in [1_000u64, 1_000_000, 123_456_789, 5_000_000_000_000] {
            for step in 0..=2_000u64 {
                let amount = capacity * step / 2_000;
                let c = capacity as f64;
                let formula =
                    1.0 - 0.5 / (1.0 + libm::exp(-(amount as f64 - 0.9999 * c) / (0.025 * c)));
                let got = router.capacity_factor(amount, capacity);
                assert_eq!(got.to_bits(), formula.to_bits(), "{amount} of {capacity}");
            }
            // Densely around where the shortcuts end (about 4.99% of the capacity).
            for step in 0..=20_000u64 {
                let amount = capacity / 1_000 * 49 + capacity / 1_000 * step / 10_000;
                let c = capacity as f64;
                let formula =
                    1.0 - 0.5 / (1.0 + libm::exp(-(amount as f64 - 0.9999 * c) / (0.025 * c)));
                let got = router.capacity_factor(amount, capacity);
                assert_eq!(got.to_bits(), formula.to_bits(), "{amount} of {capacity}");
            }
        }
        // With nothing learnt, the estimate is the same bits as its full expression.
        let (now, a, b) = (crate::SimTime::from_secs(1), crate::NodeId(1), crate::NodeId(2));
        for amount in [1u64, 1_000, 40_000, 49_000, 60_000, 99_999] {
            let factor = router.capacity_factor(amount, 1_000_000);
            let f = 1.0 / (1.0 - 500_000.0 / 1e6) - 1.0;
            let full = 600_000.0 / 1e6 * factor * f / f;
            let got = router.apriori_probability(now, a, b, amount, 1_000_000);
            assert_eq!(got.to_bits(), full.to_bits(), "{amount}");
        }
    }

    use super::*;

    /// A path's cost is the same bits as lnd's formula capped at 2^63, through the signed
    /// conversions: ordinary and huge weights, probabilities down to 0, no attempt cost.
    #[test]
    fn the_cost_is_the_formula_capped() {
        let router = LndRouter::new(LndParams::default());
        for attempt_cost in [0.0, 100_100.0, 1e15] {
            let scoring = Scoring {
                router: &router,
                now: SimTime::from_secs(1),
                amount_msat: 1,
                attempt_cost,
                min_probability: 0.0,
                max_hop_probability: 1.0,
                unlearnt_hop_probability: 1.0,
            };
            let weights =
                [0, 1, 12_345, 1 << 52, (1 << 53) + 1, i64::MAX as u64, 1 << 63, u64::MAX];
            let probabilities = [1.0, 0.95, 0.6, 0.333, 1e-9, 1e-300, 5e-324, 0.0];
            for weight in weights {
                for probability in probabilities {
                    let formula = ((weight as f64 + attempt_cost / probability)
                        .min(u64::MAX as f64 / 2.0)) as u64;
                    let got = scoring.cost(weight, probability);
                    assert_eq!(got, formula, "{weight} at {probability}, cost {attempt_cost}");
                }
            }
        }
    }

    #[test]
    fn no_hop_is_likelier_than_the_bound_the_search_uses() {
        let (now, a, b) = (SimTime::from_secs(1), NodeId(1), NodeId(2));
        for weight_ppm in [0, 300_000, 999_999] {
            let params = LndParams { apriori_weight_ppm: weight_ppm, ..LndParams::default() };
            let mut r = LndRouter::new(params);
            let cold = r.max_hop_probability();
            assert!(cold < 1.0, "a cold apriori router bounds below 1: {cold}");
            for capacity in [1_000u64, 1_000_000, 123_456_789] {
                for step in 0..=1_000u64 {
                    let p = r.apriori_probability(now, a, b, capacity * step / 1_000, capacity);
                    assert!(p <= cold, "{p} > {cold} at {step}/1000 of {capacity}");
                }
            }
            // Failures only lower estimates: the bound stays.
            r.record(now, a, NodeId(3), 5_000, false);
            r.record(now, b, a, 0, false);
            assert_eq!(r.max_hop_probability(), cold);
            // Successes raise a node's estimate toward 0.95, and a pair's to it.
            for to in 4..200 {
                r.record(now, a, NodeId(to), 1_000_000, true);
            }
            let warm = r.max_hop_probability();
            assert!(warm > 0.95 && warm < 0.95 + 1e-6, "{warm}");
            // A node mission control has nothing of keeps the cold bound (node 7 shares no
            // filter bit with 1 and 2).
            assert_eq!(r.unlearnt_hop_probability(), cold);
            assert!(!r.may_have_pairs(NodeId(7)));
            for capacity in [1_000u64, 1_000_000, 123_456_789] {
                for step in 0..=1_000u64 {
                    let amount = capacity * step / 1_000;
                    let p = r.apriori_probability(now, NodeId(7), a, amount, capacity);
                    assert!(p <= cold, "{p} > {cold} at {step}/1000 of {capacity}");
                }
            }
            for to in 2..250 {
                for amount in [1_000, 999_999, 1_000_001, 50_000_000] {
                    let p = r.apriori_probability(now, a, NodeId(to), amount, 100_000_000);
                    assert!(p <= warm, "{p} > {warm}");
                }
            }
        }
    }

    #[test]
    fn a_node_with_failures_caps_every_pair_it_starts() {
        let mut r = LndRouter::new(LndParams::default());
        let t0 = SimTime::from_secs(100);
        let (a, b) = (NodeId(1), NodeId(2));
        let cold = r.cold_hop_probability();
        assert_eq!(r.node_probability_cap(t0, a, 10_000), cold, "nothing learnt");
        r.record(t0, a, NodeId(3), 10_000, false);
        r.record(t0.plus_secs(600), a, NodeId(4), 50_000, false);
        r.record(t0, a, NodeId(5), 5_000, true);
        r.record(t0, b, NodeId(3), 10_000, false);
        for (now, amount) in [(t0.plus_secs(600), 10_000), (t0.plus_secs(4_000), 20_000)] {
            let cap = r.node_probability_cap(now, a, amount);
            // One failure at the amount or less counts: a's node estimate is below the cold one.
            assert!(cap < cold * 0.75, "{cap} against {cold}");
            for to in 2..12 {
                for more in [amount, amount + 1, 49_999, 50_000, 1_000_000] {
                    for capacity in [more, 2 * more, 1_000_000_000] {
                        let p = r.apriori_probability(now, a, NodeId(to), more, capacity);
                        assert!(p <= cap, "{p} > {cap} for {to} at {more} of {capacity}");
                    }
                }
            }
            // A success at the amount or more is the exempt nodes' case: the general bound.
            assert_eq!(r.node_probability_cap(now, a, 5_000), r.max_hop_probability());
            // The floor of a hop from `a` grows with the cap's fall, never below the scorer's.
            let scoring = Scoring {
                router: &r,
                now,
                amount_msat: amount,
                attempt_cost: 100_000.0,
                min_probability: 0.0,
                max_hop_probability: r.max_hop_probability(),
                unlearnt_hop_probability: r.unlearnt_hop_probability(),
            };
            assert!(scoring.node_floor(a) > scoring.hop_floor() * 2, "{}", scoring.node_floor(a));
            assert_eq!(scoring.node_floor(NodeId(9)), scoring.hop_floor(), "9 learnt nothing");
        }
    }

    #[test]
    fn apriori_matches_lnd_without_history() {
        let r = LndRouter::new(LndParams::default());
        let now = SimTime::from_secs(1);
        // Far below capacity: the hop probability itself.
        let p = r.apriori_probability(now, NodeId(1), NodeId(2), 1_000, 1_000_000_000);
        assert!((p - 0.6).abs() < 1e-9, "{p}");
        // At 0.9999 of the capacity the capacity factor is 0.75.
        let p = r.apriori_probability(now, NodeId(1), NodeId(2), 999_900, 1_000_000);
        assert!((p - 0.45).abs() < 1e-9, "{p}");
    }

    #[test]
    fn mission_control_raises_and_lowers_pairs() {
        let mut r = LndRouter::new(LndParams::default());
        let now = SimTime::from_secs(100);
        r.record(now, NodeId(1), NodeId(2), 5_000, true);
        assert_eq!(r.apriori_probability(now, NodeId(1), NodeId(2), 4_000, 1_000_000_000), 0.95);
        r.record(now, NodeId(1), NodeId(3), 5_000, false);
        // Just failed: no chance at or above the failed amount.
        assert_eq!(r.apriori_probability(now, NodeId(1), NodeId(3), 6_000, 1_000_000_000), 0.0);
        // An hour later, half the penalty is gone.
        let later = now.plus_secs(3_600);
        let node = r.apriori_probability(later, NodeId(1), NodeId(9), 6_000, 1_000_000_000);
        let pair = r.apriori_probability(later, NodeId(1), NodeId(3), 6_000, 1_000_000_000);
        assert!((pair - node * 0.5).abs() < 1e-12, "{pair} vs {node}");
    }

    #[test]
    fn nodes_sharing_a_filter_bit_keep_their_own_history() {
        // Nodes 5 and 1029 share the bit of the map's filter; 1029 learnt nothing, 6 is never
        // recorded at all.
        for estimator in [Estimator::Apriori, Estimator::Bimodal] {
            let mut r = LndRouter::new(LndParams { estimator, ..LndParams::default() });
            let now = SimTime::from_secs(100);
            let c = 1_000_000_000;
            let p = |r: &LndRouter, from: u32, amount| match estimator {
                Estimator::Apriori => {
                    r.apriori_probability(now, NodeId(from), NodeId(7), amount, c)
                }
                Estimator::Bimodal => {
                    r.bimodal_probability(now, NodeId(from), NodeId(7), amount, c)
                }
            };
            let cold = p(&r, 5, 6_000);
            r.record(now, NodeId(5), NodeId(8), 5_000, false);
            assert_eq!(p(&r, 1029, 6_000), cold, "{estimator:?}: 1029 learnt nothing");
            assert_eq!(p(&r, 6, 6_000), cold, "{estimator:?}: nor did 6");
            assert!(p(&r, 5, 6_000) < cold, "{estimator:?}: 5's failure lowers its estimate");
        }
    }

    #[test]
    fn a_success_raises_a_failure_amount_but_keeps_its_time() {
        let mut r = LndRouter::new(LndParams::default());
        let t0 = SimTime::from_secs(100);
        r.record(t0, NodeId(1), NodeId(2), 5_000, false);
        let t1 = t0.plus_secs(3_600);
        r.record(t1, NodeId(1), NodeId(2), 6_000, true);
        // The failure moved to 6001 msat but is an hour old: half its penalty is gone.
        let node = r.apriori_probability(t1, NodeId(1), NodeId(9), 7_000, 1_000_000_000);
        let pair = r.apriori_probability(t1, NodeId(1), NodeId(2), 7_000, 1_000_000_000);
        assert!((pair - node * 0.5).abs() < 1e-9, "{pair} vs {node}");
    }

    #[test]
    fn bimodal_is_sure_below_a_success_and_impossible_above_a_failure() {
        let mut r =
            LndRouter::new(LndParams { estimator: Estimator::Bimodal, ..LndParams::default() });
        let now = SimTime::from_secs(1);
        let c = 1_000_000_000;
        let fresh = r.bimodal_probability(now, NodeId(1), NodeId(2), c / 2, c);
        assert!((fresh - 0.5).abs() < 1e-9, "symmetric without history: {fresh}");
        r.record(now, NodeId(1), NodeId(2), 400_000_000, true);
        r.record(now, NodeId(1), NodeId(2), 600_000_000, false);
        assert_eq!(r.bimodal_probability(now, NodeId(1), NodeId(2), 300_000_000, c), 1.0);
        assert_eq!(r.bimodal_probability(now, NodeId(1), NodeId(2), 700_000_000, c), 0.0);
        let mid = r.bimodal_probability(now, NodeId(1), NodeId(2), 500_000_000, c);
        assert!(mid > 0.0 && mid < 1.0);
    }
}
