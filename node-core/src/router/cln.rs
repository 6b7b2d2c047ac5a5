//! A router modelled on Core Lightning's `getroute` (as documented in
//! `doc/lightning-getroute.7.md`, Core Lightning 24.x, and used by `pay` with riskfactor 10): a
//! Dijkstra on fee plus risk, where an edge costs
//!
//! `fee × (1 + fuzz) + amount × cltv_delta × riskfactor / 5,259,600`
//!
//! (5,259,600 = 52,596 blocks a year × 100: riskfactor is the annual interest, in percent, the
//! payer charges for funds locked up). `fuzz` is uniform in ±`fuzz_percent`% per channel and per
//! payment — drawn here from the payment's seed and the channel id, so repeated attempts of one
//! payment see the same fuzz and different payments different fuzz.
//!
//! Failures: as `pay`'s channel hints (`plugins/libplugin-pay.c`, `handle_intermediate_failure`),
//! a channel that failed for want of liquidity stays usable with its capacity estimate just below
//! the amount that failed ([`FailureMemory::CapacityBelow`]), for the rest of the payment.
//! Core Lightning 24.08+ also shares hints across payments and refills them linearly over two
//! hours (`plugins/channel_hint.c`, `PAY_REFILL_TIME`); that, `pay`'s capacity bias, its shadow
//! route and its adaptive splitter (halving a failed part down to 100 sat) are not modelled: the
//! payment halves what finds no route, as for every single-path router.

use super::search::{Edge, Reached, Scorer, search};
use super::{FailureMemory, Learned, Route, RouteRequest, Router};
use crate::graph::GraphView;
use crate::ids::{NodeId, SimTime, mix};
use serde::{Deserialize, Serialize};

/// Core Lightning's route parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClnParams {
    /// Annual interest, percent, charged for the locked amount (10, as in `pay`).
    pub riskfactor: u64,
    /// Fee fuzz, percent either way (5).
    pub fuzz_percent: u64,
}

impl Default for ClnParams {
    fn default() -> ClnParams {
        ClnParams { riskfactor: 10, fuzz_percent: 5 }
    }
}

/// The Core Lightning-style router.
#[derive(Clone, Copy, Debug)]
pub struct ClnRouter {
    params: ClnParams,
}

impl ClnRouter {
    /// A Core Lightning-style router.
    pub fn new(params: ClnParams) -> ClnRouter {
        ClnRouter { params }
    }

    /// The fuzzed fee: `fee × (1 + r × fuzz_percent / 100)` with r in [−1, 1] from the seed and
    /// the channel.
    pub fn fuzzed_fee(&self, fee_msat: u64, seed: u64, scid: u64) -> u64 {
        let r_ppm = (mix(seed ^ mix(scid)) % 2_000_001) as i128 - 1_000_000;
        let factor = 100_000_000i128.saturating_add(r_ppm * i128::from(self.params.fuzz_percent));
        let fuzzed = i128::from(fee_msat).saturating_mul(factor) / 100_000_000;
        u64::try_from(fuzzed.max(0)).unwrap_or(u64::MAX)
    }

    /// The risk cost of locking `amount_msat` for `cltv_delta` blocks, msat.
    pub fn risk_msat(&self, amount_msat: u64, cltv_delta: u16) -> u64 {
        let risk = (u128::from(amount_msat) * u128::from(cltv_delta))
            .saturating_mul(u128::from(self.params.riskfactor))
            / 5_259_600;
        u64::try_from(risk).unwrap_or(u64::MAX)
    }
}

struct Scoring {
    router: ClnRouter,
    seed: u64,
}

impl Scorer for Scoring {
    fn score(&mut self, edge: &Edge<'_>, to: &Reached) -> Option<(u64, u64, f64)> {
        let fee = self.router.fuzzed_fee(edge.fee_msat, self.seed, edge.scid.0);
        let risk = self.router.risk_msat(edge.amount_msat, edge.cltv_delta);
        Some((to.cost.saturating_add(fee).saturating_add(risk), 0, 1.0))
    }
}

impl Router for ClnRouter {
    fn plan(&self, view: &GraphView, req: &RouteRequest<'_>) -> Vec<Route> {
        let mut scoring = Scoring { router: *self, seed: req.fuzz_seed };
        search(view, req, &mut scoring).into_iter().collect()
    }

    fn learn(&mut self, _: &GraphView, _: SimTime, _: NodeId, _: &Route, _: Learned) {}

    fn failure_memory(&self) -> FailureMemory {
        FailureMemory::CapacityBelow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_follows_the_getroute_formula() {
        let r = ClnRouter::new(ClnParams::default());
        // 1 BTC locked for 52,596 blocks (a year) at riskfactor 10: 10% of it.
        assert_eq!(r.risk_msat(100_000_000_000, 52_596), 10_000_000_000);
    }

    #[test]
    fn fuzz_stays_within_its_percentage_and_depends_on_seed_and_channel() {
        let r = ClnRouter::new(ClnParams::default());
        let fees: Vec<u64> = (0..1000).map(|scid| r.fuzzed_fee(1_000_000, 7, scid)).collect();
        assert!(fees.iter().all(|&f| (950_000..=1_050_000).contains(&f)));
        assert!(fees.iter().any(|&f| f < 990_000) && fees.iter().any(|&f| f > 1_010_000));
        assert_eq!(r.fuzzed_fee(1_000_000, 7, 3), r.fuzzed_fee(1_000_000, 7, 3));
        assert_ne!(r.fuzzed_fee(1_000_000, 7, 3), r.fuzzed_fee(1_000_000, 8, 3));
        let none = ClnRouter::new(ClnParams { fuzz_percent: 0, ..ClnParams::default() });
        assert_eq!(none.fuzzed_fee(1_234, 9, 9), 1_234);
    }
}
