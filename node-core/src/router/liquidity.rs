//! What a payer has learnt about the liquidity of channel directions: for each direction it has
//! tried, bounds within which the spendable balance lies, learnt from its own attempts (a failure
//! at a channel caps it below the amount; a success, or a failure further along, shows it could
//! forward the amount) and decaying back toward [0, capacity] with a half-life, as LDK's
//! probabilistic scorer does. The LDK-style and min-cost-flow routers read it; nothing here reads
//! another node's balances.

use super::{Learned, Route};
use crate::ids::{NodeId, Scid, SimTime};
use crate::onion::FailureCode;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Offsets {
    /// Liquidity known to be at least this, msat.
    min_msat: u64,
    /// Liquidity known to be below capacity minus this, msat.
    max_offset_msat: u64,
    /// When they were last set.
    updated: SimTime,
}

/// A payer's liquidity knowledge.
#[derive(Clone, Debug)]
pub struct Liquidity {
    half_life_us: u64,
    known: BTreeMap<(Scid, NodeId), Offsets>,
}

impl Liquidity {
    /// Knowledge that halves its distance to ignorance every `half_life_s` seconds.
    pub fn new(half_life_s: u64) -> Liquidity {
        Liquidity {
            half_life_us: half_life_s.max(1).saturating_mul(1_000_000),
            known: BTreeMap::new(),
        }
    }

    /// The decay factor after `elapsed_us`: 0.5^(elapsed / half-life).
    fn decay(&self, elapsed_us: u64) -> f64 {
        libm::pow(0.5, elapsed_us as f64 / self.half_life_us as f64)
    }

    /// The liquidity bounds [min, max] of the direction of `scid` from `from`, msat, at `now`.
    pub fn bounds(&self, scid: Scid, from: NodeId, capacity_msat: u64, now: SimTime) -> (u64, u64) {
        match self.known.get(&(scid, from)) {
            None => (0, capacity_msat),
            Some(o) => {
                let d = self.decay(now.micros_since(o.updated));
                let min = (o.min_msat as f64 * d) as u64;
                let max_offset = (o.max_offset_msat as f64 * d) as u64;
                let max = capacity_msat.saturating_sub(max_offset);
                (min.min(max), max)
            }
        }
    }

    fn set(&mut self, key: (Scid, NodeId), capacity_msat: u64, now: SimTime, min: u64, max: u64) {
        let max = max.min(capacity_msat);
        self.known.insert(
            key,
            Offsets { min_msat: min.min(max), max_offset_msat: capacity_msat - max, updated: now },
        );
    }

    /// Learns from an attempt over `route` by `payer`, with capacities from `view`.
    pub fn learn_in(
        &mut self,
        view: &crate::graph::GraphView,
        now: SimTime,
        payer: NodeId,
        route: &Route,
        outcome: Learned,
    ) {
        self.learn(now, payer, route, outcome, |scid| {
            view.channel(scid).map(|c| c.capacity_sat.saturating_mul(1000))
        });
    }

    /// Learns from an attempt over `route` by `payer`; `capacity` gives a channel's capacity.
    pub fn learn(
        &mut self,
        now: SimTime,
        payer: NodeId,
        route: &Route,
        outcome: Learned,
        capacity: impl Fn(Scid) -> Option<u64>,
    ) {
        let node_at = |i: usize| if i == 0 { payer } else { route.hops[i - 1].node_id };
        let (forwarded, failed_at) = match outcome {
            Learned::Succeeded => (route.hops.len(), None),
            Learned::Failed { failing_hop, code } => {
                let channel_failure = failing_hop < route.hops.len()
                    && !code.is_node()
                    && matches!(
                        code,
                        FailureCode::TEMPORARY_CHANNEL_FAILURE
                            | FailureCode::PERMANENT_CHANNEL_FAILURE
                    );
                (failing_hop.min(route.hops.len()), channel_failure.then_some(failing_hop))
            }
        };
        // Hops before the failure (all, on success) could forward their amount. The payer's own
        // first hop needs no learning: it knows its balance.
        for (i, hop) in route.hops.iter().enumerate().take(forwarded).skip(1) {
            let key = (hop.scid, node_at(i));
            let Some(capacity_msat) = capacity(hop.scid) else { continue };
            let (min, max) = self.bounds(hop.scid, key.1, capacity_msat, now);
            match outcome {
                // The amount has moved: both bounds drop by it.
                Learned::Succeeded => self.set(
                    key,
                    capacity_msat,
                    now,
                    min.saturating_sub(hop.amount_msat),
                    max.saturating_sub(hop.amount_msat),
                ),
                Learned::Failed { .. } => self.set(
                    key,
                    capacity_msat,
                    now,
                    min.max(hop.amount_msat),
                    max.max(hop.amount_msat),
                ),
            }
        }
        if let Some(i) = failed_at
            && i > 0
        {
            let hop = &route.hops[i];
            if let Some(capacity_msat) = capacity(hop.scid) {
                let key = (hop.scid, node_at(i));
                let (min, max) = self.bounds(hop.scid, key.1, capacity_msat, now);
                let max = max.min(hop.amount_msat.saturating_sub(1));
                self.set(key, capacity_msat, now, min.min(max), max);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::RouteHop;

    fn route() -> Route {
        let hop = |scid, node, amount_msat| RouteHop {
            scid: Scid(scid),
            node_id: NodeId(node),
            amount_msat,
            cltv_expiry: 0,
            fee_msat: 0,
        };
        Route { hops: vec![hop(1, 1, 5_000), hop(2, 2, 4_000), hop(3, 3, 3_000)] }
    }

    #[test]
    fn failures_cap_and_earlier_hops_raise_then_decay() {
        let mut l = Liquidity::new(3600);
        let now = SimTime::from_secs(10);
        let outcome =
            Learned::Failed { failing_hop: 2, code: FailureCode::TEMPORARY_CHANNEL_FAILURE };
        l.learn(now, NodeId(0), &route(), outcome, |_| Some(10_000));
        // Node 1 forwarded 4_000 over channel 2; node 2 could not forward 3_000 over channel 3.
        assert_eq!(l.bounds(Scid(2), NodeId(1), 10_000, now), (4_000, 10_000));
        assert_eq!(l.bounds(Scid(3), NodeId(2), 10_000, now), (0, 2_999));
        // One half-life later the knowledge is half gone.
        let later = now.plus_secs(3600);
        assert_eq!(l.bounds(Scid(2), NodeId(1), 10_000, later), (2_000, 10_000));
        assert_eq!(l.bounds(Scid(3), NodeId(2), 10_000, later), (0, 10_000 - 3_500));
    }

    #[test]
    fn a_success_moves_the_amount_through_every_hop() {
        let mut l = Liquidity::new(3600);
        let now = SimTime::from_secs(10);
        l.learn(now, NodeId(0), &route(), Learned::Succeeded, |_| Some(10_000));
        assert_eq!(l.bounds(Scid(3), NodeId(2), 10_000, now), (0, 7_000));
        assert_eq!(l.bounds(Scid(1), NodeId(0), 10_000, now), (0, 10_000), "own channel untouched");
    }
}
