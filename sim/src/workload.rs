//! Payment workloads: payments arriving as a Poisson process between two times, each from a
//! sender to a distinct receiver drawn uniformly from the nodes that have a channel at the start,
//! for an amount drawn from a distribution. Everything is drawn from the stream `workload`. This
//! module draws; the world makes the receiver invoice and the sender pay.

use crate::rng::Stream;
use node_core::router::RouterConfig;
use node_core::{NodeId, SimTime};
use serde::Deserialize;

/// How payment amounts are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum AmountSpec {
    /// Always the same.
    Fixed {
        /// Amount, msat.
        amount_msat: u64,
    },
    /// Uniform between two bounds.
    Uniform {
        /// Smallest, msat.
        min_msat: u64,
        /// Largest, msat.
        max_msat: u64,
    },
    /// Log-normal with a median and a shape.
    LogNormal {
        /// Median, msat.
        median_msat: u64,
        /// Standard deviation of the log.
        sigma: f64,
    },
}

/// A payment workload.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// First possible arrival, seconds.
    #[serde(default)]
    pub start_s: u64,
    /// No arrival after this, seconds.
    pub end_s: u64,
    /// Mean arrivals per second.
    pub rate_per_s: f64,
    /// At most this many payments.
    #[serde(default)]
    pub max_payments: Option<u64>,
    /// Amounts.
    pub amount: AmountSpec,
    /// Routers taking turns: payment i (from 0) is planned by `routers[i % len]`, so each
    /// router gets the same mix of payers, payees and amounts and meets the same network at the
    /// same time. Empty: each payer's own router.
    #[serde(default)]
    pub routers: Vec<RouterConfig>,
}

/// A workload being drawn.
#[derive(Clone, Debug)]
pub struct Workload {
    spec: WorkloadSpec,
    stream: Stream,
    participants: Vec<NodeId>,
    drawn: u64,
}

impl Workload {
    /// A workload over `participants` (at least two), drawing from `stream`.
    pub fn new(spec: WorkloadSpec, stream: Stream, participants: Vec<NodeId>) -> Workload {
        Workload { spec, stream, participants, drawn: 0 }
    }

    /// The time of the arrival after one at `after` (the first: after the start), if any.
    pub fn next_arrival(&mut self, after: SimTime) -> Option<SimTime> {
        if self.participants.len() < 2 || self.spec.rate_per_s <= 0.0 {
            return None;
        }
        if self.spec.max_payments.is_some_and(|max| self.drawn >= max) {
            return None;
        }
        let mean_us = (1_000_000.0 / self.spec.rate_per_s).max(1.0) as u64;
        let from = after.max(SimTime::from_secs(self.spec.start_s));
        let at = from.plus_micros(self.stream.exponential(mean_us).max(1));
        (at < SimTime::from_secs(self.spec.end_s)).then_some(at)
    }

    /// The next payment: sender, receiver (distinct), amount (msat) and the router whose turn
    /// it is (none: the sender's own).
    pub fn draw(&mut self) -> (NodeId, NodeId, u64, Option<RouterConfig>) {
        let router = match self.spec.routers.len() {
            0 => None,
            n => Some(self.spec.routers[(self.drawn % n as u64) as usize]),
        };
        self.drawn += 1;
        let n = self.participants.len() as u64;
        let sender = self.stream.below(n);
        let receiver = (sender + 1 + self.stream.below(n - 1)) % n;
        let amount_msat = match self.spec.amount {
            AmountSpec::Fixed { amount_msat } => amount_msat,
            AmountSpec::Uniform { min_msat, max_msat } => {
                self.stream.range_inclusive(min_msat, max_msat)
            }
            AmountSpec::LogNormal { median_msat, sigma } => {
                self.stream.log_normal(median_msat, sigma).max(1)
            }
        };
        let (from, to) = (self.participants[sender as usize], self.participants[receiver as usize]);
        (from, to, amount_msat, router)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(rate_per_s: f64, max: Option<u64>) -> Workload {
        let spec = WorkloadSpec {
            start_s: 10,
            end_s: 1_010,
            rate_per_s,
            max_payments: max,
            amount: AmountSpec::Uniform { min_msat: 5, max_msat: 9 },
            routers: vec![RouterConfig::Cheapest, RouterConfig::ShortestHops],
        };
        Workload::new(spec, Stream::new(1, "workload"), (0..4).map(NodeId).collect())
    }

    #[test]
    fn arrivals_follow_the_rate_within_the_window() {
        let mut w = workload(2.0, None);
        let mut at = SimTime::ZERO;
        let mut n = 0;
        while let Some(next) = w.next_arrival(at) {
            assert!(next > SimTime::from_secs(10) && next < SimTime::from_secs(1_010));
            let (s, r, amount, router) = w.draw();
            let turn = if n % 2 == 0 { RouterConfig::Cheapest } else { RouterConfig::ShortestHops };
            assert_eq!(router, Some(turn), "routers take turns");
            assert_ne!(s, r);
            assert!((5..=9).contains(&amount));
            at = next;
            n += 1;
        }
        assert!((1_850..2_150).contains(&n), "{n}");
    }

    #[test]
    fn max_payments_caps_the_workload() {
        let mut w = workload(100.0, Some(3));
        let mut at = SimTime::ZERO;
        let mut n = 0;
        while let Some(next) = w.next_arrival(at) {
            w.draw();
            at = next;
            n += 1;
        }
        assert_eq!(n, 3);
    }
}
