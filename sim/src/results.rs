//! Per-payment results: one record per payment, filled from the events of the paying node, and
//! written as a CSV that a notebook reads as is. Records are numbered by start order, which the
//! event order fixes, so the same run always gives the same file. Aggregates over the records
//! (counts, fees, latency percentiles) live here too; charts are the reports crate's job.

use node_core::event::Event;
use node_core::onion::FailureCode;
use node_core::payment::{FailureReason, PaymentId};
use node_core::{NodeId, SimTime};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};

/// How a payment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Paid.
    Succeeded,
    /// Gave up.
    Failed(FailureReason),
    /// Still in flight when the run ended.
    Pending,
}

impl Outcome {
    /// Its name in results.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed(_) => "failed",
            Outcome::Pending => "pending",
        }
    }
}

/// One payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentRecord {
    /// Its id in this run, from 0 in start order.
    pub id: u64,
    /// The payer.
    pub sender: NodeId,
    /// The payee.
    pub receiver: NodeId,
    /// What the payee was to receive, msat.
    pub amount_msat: u64,
    /// When the payer started it.
    pub start: SimTime,
    /// When it succeeded or gave up.
    pub end: Option<SimTime>,
    /// How it ended.
    pub outcome: Outcome,
    /// The BOLT 4 code of its last failed attempt, for failed payments.
    pub failure_code: Option<FailureCode>,
    /// Attempts made.
    pub attempts: u32,
    /// The path of the last attempt, payer first.
    pub route: Vec<NodeId>,
    /// The fee paid, msat, for succeeded payments.
    pub fee_msat: Option<u64>,
    /// The last attempt was settled on chain (its first channel closed with it in flight).
    pub on_chain: bool,
}

impl PaymentRecord {
    /// Hops of the last attempt.
    pub fn hops(&self) -> usize {
        self.route.len().saturating_sub(1)
    }

    /// Time from start to end, µs.
    pub fn latency_us(&self) -> Option<u64> {
        self.end.map(|e| e.micros_since(self.start))
    }
}

/// All payments of a run.
#[derive(Default)]
pub struct Results {
    payments: Vec<PaymentRecord>,
    by_node: BTreeMap<(NodeId, PaymentId), usize>,
}

/// Counts and totals over the payments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PaymentStats {
    /// Payments started.
    pub total: u64,
    /// Succeeded.
    pub succeeded: u64,
    /// Failed.
    pub failed: u64,
    /// Still in flight at the end.
    pub pending: u64,
    /// Failed for want of a route.
    pub failed_no_route: u64,
    /// Failed by the time limit.
    pub failed_timeout: u64,
    /// Refused by the recipient.
    pub failed_recipient: u64,
    /// Succeeded per million started.
    pub success_rate_ppm: u64,
    /// Amount delivered by succeeded payments, msat.
    pub delivered_msat: u64,
    /// Fees paid by succeeded payments, msat.
    pub fees_msat: u64,
    /// Attempts over all payments.
    pub attempts: u64,
    /// Median latency of succeeded payments, µs.
    pub latency_p50_us: u64,
    /// 90th percentile latency of succeeded payments, µs.
    pub latency_p90_us: u64,
    /// Largest latency of succeeded payments, µs.
    pub latency_max_us: u64,
}

impl Results {
    /// The records, by id.
    pub fn payments(&self) -> &[PaymentRecord] {
        &self.payments
    }

    /// The global id of `node`'s payment `payment`.
    pub fn global_id(&self, node: NodeId, payment: PaymentId) -> Option<u64> {
        self.by_node.get(&(node, payment)).map(|&i| i as u64)
    }

    /// Updates the records from an event of `node` at `now`.
    pub fn on_event(&mut self, now: SimTime, node: NodeId, event: &Event) {
        fn record<'r>(
            this: &'r mut Results,
            node: NodeId,
            id: &PaymentId,
        ) -> &'r mut PaymentRecord {
            let index = this.by_node[&(node, *id)];
            &mut this.payments[index]
        }
        match event {
            Event::PaymentStarted { payment_id, destination, amount_msat, .. } => {
                let index = self.payments.len();
                self.by_node.insert((node, *payment_id), index);
                self.payments.push(PaymentRecord {
                    id: index as u64,
                    sender: node,
                    receiver: *destination,
                    amount_msat: *amount_msat,
                    start: now,
                    end: None,
                    outcome: Outcome::Pending,
                    failure_code: None,
                    attempts: 0,
                    route: Vec::new(),
                    fee_msat: None,
                    on_chain: false,
                });
            }
            Event::PaymentAttempted { payment_id, attempt, route } => {
                let r = record(self, node, payment_id);
                r.attempts = *attempt;
                r.route = std::iter::once(node).chain(route.nodes()).collect();
            }
            Event::PaymentAttemptFailed { payment_id, failure, .. } => {
                record(self, node, payment_id).failure_code = Some(failure.code);
            }
            Event::PaymentSucceeded { payment_id, attempts, route, on_chain, .. } => {
                let r = record(self, node, payment_id);
                r.on_chain = *on_chain;
                r.end = Some(now);
                r.outcome = Outcome::Succeeded;
                r.attempts = *attempts;
                r.route = std::iter::once(node).chain(route.nodes()).collect();
                r.fee_msat = Some(route.fee_msat());
                r.failure_code = None;
            }
            Event::PaymentFailed { payment_id, reason, attempts, last_failure } => {
                let r = record(self, node, payment_id);
                r.end = Some(now);
                r.outcome = Outcome::Failed(*reason);
                r.attempts = *attempts;
                r.failure_code = last_failure.map(|f| f.code);
                r.on_chain = last_failure.is_some_and(|f| f.on_chain);
            }
            _ => {}
        }
    }

    /// Counts and totals.
    pub fn stats(&self) -> PaymentStats {
        let mut stats =
            PaymentStats { total: self.payments.len() as u64, ..PaymentStats::default() };
        let mut latencies = Vec::new();
        for p in &self.payments {
            stats.attempts += u64::from(p.attempts);
            match p.outcome {
                Outcome::Succeeded => {
                    stats.succeeded += 1;
                    stats.delivered_msat += p.amount_msat;
                    stats.fees_msat += p.fee_msat.unwrap_or(0);
                    latencies.extend(p.latency_us());
                }
                Outcome::Failed(reason) => {
                    stats.failed += 1;
                    match reason {
                        FailureReason::NoRoute => stats.failed_no_route += 1,
                        FailureReason::Timeout => stats.failed_timeout += 1,
                        FailureReason::RecipientRejected => stats.failed_recipient += 1,
                    }
                }
                Outcome::Pending => stats.pending += 1,
            }
        }
        stats.success_rate_ppm =
            (stats.succeeded * 1_000_000).checked_div(stats.total).unwrap_or(0);
        latencies.sort();
        let pick = |q: usize| {
            latencies.get((latencies.len().saturating_sub(1)) * q / 100).copied().unwrap_or(0)
        };
        stats.latency_p50_us = pick(50);
        stats.latency_p90_us = pick(90);
        stats.latency_max_us = latencies.last().copied().unwrap_or(0);
        stats
    }

    /// Writes the per-payment CSV; `names` are the node names by id.
    pub fn write_csv(&self, names: &[String], out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "id,sender,receiver,amount_msat,start_us,end_us,outcome,failure_code,failure_reason,attempts,hops,fee_msat,route,on_chain"
        )?;
        for p in &self.payments {
            let route: Vec<&str> = p.route.iter().map(|n| names[n.index()].as_str()).collect();
            writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                p.id,
                names[p.sender.index()],
                names[p.receiver.index()],
                p.amount_msat,
                p.start.as_micros(),
                p.end.map(|e| e.as_micros().to_string()).unwrap_or_default(),
                p.outcome.name(),
                p.failure_code.map(|c| c.0.to_string()).unwrap_or_default(),
                match p.outcome {
                    Outcome::Failed(reason) => reason.name(),
                    _ => "",
                },
                p.attempts,
                p.hops(),
                p.fee_msat.map(|f| f.to_string()).unwrap_or_default(),
                route.join(">"),
                u8::from(p.on_chain),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_core::payment::AttemptFailure;
    use node_core::router::{Route, RouteHop};
    use node_core::{PaymentHash, Preimage, Scid};

    fn route(nodes: &[u32], fee_msat: u64) -> Route {
        let hops = nodes
            .iter()
            .enumerate()
            .map(|(i, &n)| RouteHop {
                scid: Scid(i as u64),
                node_id: NodeId(n),
                amount_msat: if i == 0 { 1000 + fee_msat } else { 1000 },
                cltv_expiry: 0,
                fee_msat: 0,
            })
            .collect();
        Route { hops }
    }

    #[test]
    fn records_follow_the_payment_events_and_write_csv() {
        let mut results = Results::default();
        let (a, id) = (NodeId(0), PaymentId(0));
        let start = Event::PaymentStarted {
            payment_id: id,
            payment_hash: PaymentHash([0; 32]),
            destination: NodeId(2),
            amount_msat: 1000,
        };
        results.on_event(SimTime(10), a, &start);
        results.on_event(
            SimTime(10),
            a,
            &Event::PaymentAttempted { payment_id: id, attempt: 1, route: route(&[1, 2], 7) },
        );
        let failure = AttemptFailure {
            failing_hop: 1,
            code: FailureCode::TEMPORARY_CHANNEL_FAILURE,
            scid: None,
            on_chain: false,
        };
        results.on_event(
            SimTime(20),
            a,
            &Event::PaymentAttemptFailed { payment_id: id, attempt: 1, failure },
        );
        results.on_event(
            SimTime(30),
            a,
            &Event::PaymentSucceeded {
                payment_id: id,
                preimage: Preimage([0; 32]),
                attempts: 2,
                route: route(&[3, 2], 5),
                on_chain: false,
            },
        );
        let start_b = Event::PaymentStarted {
            payment_id: PaymentId(0),
            payment_hash: PaymentHash([1; 32]),
            destination: NodeId(0),
            amount_msat: 5,
        };
        results.on_event(SimTime(40), NodeId(1), &start_b);
        results.on_event(
            SimTime(41),
            NodeId(1),
            &Event::PaymentFailed {
                payment_id: PaymentId(0),
                reason: FailureReason::NoRoute,
                attempts: 0,
                last_failure: None,
            },
        );
        let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let mut csv = Vec::new();
        results.write_csv(&names, &mut csv).unwrap();
        let text = String::from_utf8(csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "0,a,c,1000,10,30,succeeded,,,2,2,5,a>d>c,0");
        assert_eq!(lines[2], "1,b,a,5,40,41,failed,,no_route,0,0,,,0");
        let stats = results.stats();
        assert_eq!(
            (stats.total, stats.succeeded, stats.failed, stats.failed_no_route),
            (2, 1, 1, 1)
        );
        assert_eq!(stats.success_rate_ppm, 500_000);
        assert_eq!(stats.latency_p50_us, 20);
        assert_eq!(results.global_id(NodeId(1), PaymentId(0)), Some(1));
    }
}
