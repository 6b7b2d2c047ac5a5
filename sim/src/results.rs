//! Per-payment results: one record per payment asked for and one per attempt (each part of a
//! split payment is an attempt), filled from the events of the paying node and from the world's
//! refusals, and written as CSVs that a notebook reads as is. Records are numbered in the order
//! payments were asked for (refused ones included), which the event order fixes, so the same run
//! always gives the same file. Aggregates over the records (counts, fees, latency percentiles)
//! live here too; charts are the reports crate's job.

use crate::genesis::PlacedChannel;
use crate::keyhash::KeyMap;
use crate::oracle::Feasibility;
use crate::scenario::Scenario;
use node_core::event::Event;
use node_core::node::CommandError;
use node_core::onion::FailureCode;
use node_core::payment::{FailureReason, PaymentId};
use node_core::router::{Route, RouterConfig};
use node_core::{NodeId, SimTime};
use reports::{PaymentRow, csv_field};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

/// How a run's outputs name its nodes: the scenario's names and, for imported nodes, the
/// snapshot's public key (CLoTH: its node id) and alias (empty for other nodes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeLabels {
    /// Names, by node id.
    pub names: Vec<String>,
    /// Public keys, by node id.
    pub pubkeys: Vec<String>,
    /// Aliases, by node id.
    pub aliases: Vec<String>,
}

impl NodeLabels {
    /// The labels of `scenario`'s nodes.
    pub fn of(scenario: &Scenario) -> NodeLabels {
        let n = scenario.nodes.len();
        let mut labels = NodeLabels {
            names: scenario.nodes.iter().map(|d| d.name.clone()).collect(),
            pubkeys: vec![String::new(); n],
            aliases: vec![String::new(); n],
        };
        if let Some(imported) = &scenario.imported {
            let first = imported.first as usize;
            let graph = &imported.graph;
            for (i, (key, alias)) in graph.node_ids.iter().zip(&graph.aliases).enumerate() {
                labels.pubkeys[first + i].clone_from(key);
                labels.aliases[first + i].clone_from(alias);
            }
        }
        labels
    }

    /// Labels with names only (tests).
    pub fn names(names: &[&str]) -> NodeLabels {
        let n = names.len();
        NodeLabels {
            names: names.iter().map(|s| s.to_string()).collect(),
            pubkeys: vec![String::new(); n],
            aliases: vec![String::new(); n],
        }
    }
}

/// How a payment ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Paid.
    Succeeded,
    /// Gave up.
    Failed(FailureReason),
    /// Never started: a node refused it.
    Refused(Refusal),
    /// Still in flight when the run ended.
    Pending,
}

impl Outcome {
    /// Its name in results.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed(_) => "failed",
            Outcome::Refused(_) => "refused",
            Outcome::Pending => "pending",
        }
    }

    /// Why it failed or was refused, in results (`failure_reason`).
    pub fn reason(self) -> &'static str {
        match self {
            Outcome::Failed(reason) => reason.name(),
            Outcome::Refused(refusal) => refusal.name(),
            Outcome::Succeeded | Outcome::Pending => "",
        }
    }
}

/// Why a payment the workload, a payment list, a script step or a customer asked for was never
/// started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The payer's node was down.
    PayerOffline,
    /// The payee's node was down, so there was no invoice.
    PayeeOffline,
    /// The payee's node refused to issue the invoice.
    Invoice(CommandError),
    /// The payer's node refused to pay (see [`CommandError::name`]).
    Pay(CommandError),
    /// The workload found no payee other than the payer (or no shop but the customer's own) in
    /// 64 draws.
    NoDistinctPayee,
}

impl Refusal {
    /// Its name in results: `payer_offline`, `payee_offline`, `payee_refused`,
    /// `no_distinct_payee`, or the payer's [`CommandError::name`].
    pub fn name(self) -> &'static str {
        match self {
            Refusal::PayerOffline => "payer_offline",
            Refusal::PayeeOffline => "payee_offline",
            Refusal::Invoice(_) => "payee_refused",
            Refusal::Pay(error) => error.name(),
            Refusal::NoDistinctPayee => "no_distinct_payee",
        }
    }

    /// A stable integer for traces: 1 payer offline, 2 payee offline, 3 the payee refused, 4 no
    /// distinct payee, and 10 + [`CommandError::code`] for the payer's refusal.
    pub fn code(self) -> u64 {
        match self {
            Refusal::PayerOffline => 1,
            Refusal::PayeeOffline => 2,
            Refusal::Invoice(_) => 3,
            Refusal::NoDistinctPayee => 4,
            Refusal::Pay(error) => 10 + u64::from(error.code()),
        }
    }
}

/// One payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentRecord {
    /// Its id in this run, from 0 in the order payments were asked for.
    pub id: u64,
    /// The payer.
    pub sender: NodeId,
    /// The payee.
    pub receiver: NodeId,
    /// What the payee was to receive, msat.
    pub amount_msat: u64,
    /// The router that planned it: its name, with `_2`, `_3`, ... appended when routers of the
    /// same kind but different parameters ran in one scenario (numbered in order of first use).
    pub router: String,
    /// When the payer started it.
    pub start: SimTime,
    /// When it succeeded or gave up.
    pub end: Option<SimTime>,
    /// How it ended.
    pub outcome: Outcome,
    /// The BOLT 4 code of its last failed attempt, for failed payments.
    pub failure_code: Option<FailureCode>,
    /// Attempts made (each part of a split payment is an attempt).
    pub attempts: u32,
    /// The paths, payer first: of the parts that paid it, by attempt, once succeeded; else of
    /// the last attempt.
    pub routes: Vec<Vec<NodeId>>,
    /// The fee paid by all its parts, msat, for succeeded payments.
    pub fee_msat: Option<u64>,
    /// The last attempt was settled on chain (its first channel closed with it in flight).
    pub on_chain: bool,
    /// Attempt rounds: the parts sent together (at one instant) are one round, so a payment
    /// split into three parts at once and retried once has 2 rounds and 4 or more attempts.
    pub rounds: u32,
    /// When the last round was sent.
    last_round_at: Option<SimTime>,
    /// What the feasibility oracle said at its start, when it ran (an oracle no node has).
    pub feasibility: Option<Feasibility>,
}

impl PaymentRecord {
    /// The round it succeeded on (its last: the parts of the last round completed it), if it
    /// succeeded.
    pub fn success_round(&self) -> Option<u32> {
        (self.outcome == Outcome::Succeeded).then_some(self.rounds)
    }

    /// Whether it succeeded on its first round.
    pub fn first_try(&self) -> bool {
        self.success_round() == Some(1)
    }

    /// Hops of its longest path.
    pub fn hops(&self) -> usize {
        self.routes.iter().map(|r| r.len().saturating_sub(1)).max().unwrap_or(0)
    }

    /// Parts that paid it (0 unless it succeeded).
    pub fn parts(&self) -> usize {
        if self.outcome == Outcome::Succeeded { self.routes.len() } else { 0 }
    }

    /// Time from start to end, µs.
    pub fn latency_us(&self) -> Option<u64> {
        self.end.map(|e| e.micros_since(self.start))
    }

    /// The record as a row of a sweep's results.
    pub fn row(&self, labels: &NodeLabels) -> PaymentRow {
        let (s, r) = (self.sender.index(), self.receiver.index());
        PaymentRow {
            id: self.id,
            sender: labels.names[s].clone(),
            receiver: labels.names[r].clone(),
            sender_pubkey: labels.pubkeys[s].clone(),
            sender_alias: labels.aliases[s].clone(),
            receiver_pubkey: labels.pubkeys[r].clone(),
            receiver_alias: labels.aliases[r].clone(),
            amount_msat: self.amount_msat,
            outcome: self.outcome.name().to_string(),
            failure_reason: self.outcome.reason().to_string(),
            failure_code: self.failure_code.map(|c| c.0),
            fee_msat: self.fee_msat.unwrap_or(0),
            latency_us: self.latency_us(),
            attempts: self.attempts,
            rounds: self.rounds,
            parts: self.parts() as u32,
            hops: self.hops() as u32,
            success_round: self.success_round(),
            start_us: self.start.as_micros(),
            feasibility: self.feasibility.map_or("", Feasibility::name).to_string(),
        }
    }
}

/// How one attempt (one part) ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The payee settled it.
    Settled,
    /// It failed.
    Failed,
    /// Still in flight when the run ended.
    Pending,
}

impl AttemptOutcome {
    /// Its name in results.
    pub fn name(self) -> &'static str {
        match self {
            AttemptOutcome::Settled => "settled",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Pending => "pending",
        }
    }
}

/// One attempt: one HTLC route of a payment, a part of it if the payment was split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The payment's id in this run.
    pub payment: u64,
    /// Its number within the payment, from 1.
    pub attempt: u32,
    /// When it was sent.
    pub start: SimTime,
    /// When it settled or failed.
    pub end: Option<SimTime>,
    /// What it delivers to the payee, msat.
    pub amount_msat: u64,
    /// The fees along its route, msat.
    pub fee_msat: u64,
    /// Its path, payer first.
    pub route: Vec<NodeId>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// Index of the failing node on the path (0 the payer), for failed attempts.
    pub failing_hop: Option<usize>,
    /// The BOLT 4 code, for failed attempts.
    pub failure_code: Option<FailureCode>,
    /// It was settled or failed on chain.
    pub on_chain: bool,
    /// The payment's round it was sent in, from 1.
    pub round: u32,
}

/// All payments of a run.
#[derive(Default)]
pub struct Results {
    payments: Vec<PaymentRecord>,
    /// Looked up for every event of a payment, never iterated (so no order of it reaches an
    /// output): hashed instead of ordered, as the event's payment is any of the run's.
    by_node: KeyMap<(NodeId, PaymentId), usize>,
    attempts: Vec<AttemptRecord>,
    /// As `by_node`, for attempts by their payment and number.
    attempt_index: KeyMap<(NodeId, PaymentId, u32), usize>,
    /// Every router configuration seen, in order of first use, with its label.
    router_labels: Vec<(RouterConfig, String)>,
    /// The oracle's class for the next payment recorded (the world classifies a payment just
    /// before it asks the node to start it).
    next_feasibility: Option<Feasibility>,
}

/// Counts and totals over the payments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PaymentStats {
    /// Payments started (refused ones are not).
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
    /// Failed: the recipient rejected it (`recipient_rejected`).
    pub failed_recipient: u64,
    /// Failed: the payer's limit on attempt rounds was reached (`attempt_limit`).
    pub failed_attempt_limit: u64,
    /// Never started: the payer's or payee's node was down, or refused the command.
    pub refused: u64,
    /// The refused ones by reason ([`Refusal::name`]).
    pub refused_by_reason: BTreeMap<&'static str, u64>,
    /// Succeeded per million started.
    pub success_rate_ppm: u64,
    /// Amount delivered by succeeded payments, msat.
    pub delivered_msat: u64,
    /// Fees paid by succeeded payments, msat.
    pub fees_msat: u64,
    /// Attempts over all payments.
    pub attempts: u64,
    /// Succeeded payments that were split into more than one part.
    pub split: u64,
    /// Median latency of succeeded payments, µs.
    pub latency_p50_us: u64,
    /// 90th percentile latency of succeeded payments, µs.
    pub latency_p90_us: u64,
    /// Largest latency of succeeded payments, µs.
    pub latency_max_us: u64,
    /// Attempt rounds over all payments (the parts sent together are one round).
    pub rounds: u64,
    /// Succeeded on the first round.
    pub first_try: u64,
    /// Succeeded within 1, 2, 3, 5 and 10 rounds, and at all, among the payments started.
    pub within_rounds: Vec<WithinRounds>,
    /// What the feasibility oracle said, when it ran (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oracle: Option<OracleStats>,
}

/// The feasibility oracle's classes over the payments, and success among the feasible ones.
/// The oracle reads true balances no node has: these figures are labelled as its.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OracleStats {
    /// Payments (refused ones included) by class ([`Feasibility::name`]).
    pub classes: BTreeMap<&'static str, u64>,
    /// Payments started that the oracle called feasible.
    pub feasible_started: u64,
    /// Success within 1, 2, 3, 5, 10 rounds and at all among those.
    pub feasible_within_rounds: Vec<WithinRounds>,
}

/// How many of the payments started succeeded within a number of attempt rounds, with the 95%
/// Wilson score interval of the rate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WithinRounds {
    /// The most rounds; `null`: any number.
    pub max_rounds: Option<u32>,
    /// Succeeded within them.
    pub succeeded: u64,
    /// Per million payments started.
    pub rate_ppm: u64,
    /// Lower end of the 95% Wilson score interval, ppm.
    pub wilson_low_ppm: u64,
    /// Upper end, ppm.
    pub wilson_high_ppm: u64,
}

/// The round counts success is reported within (`None`: any).
pub const WITHIN_ROUNDS: [Option<u32>; 6] = [Some(1), Some(2), Some(3), Some(5), Some(10), None];

/// The 95% Wilson score interval of `successes` in `n`, in ppm.
pub fn wilson_ppm(successes: u64, n: u64) -> (u64, u64) {
    if n == 0 {
        return (0, 0);
    }
    let (n_f, z) = (n as f64, 1.96_f64);
    let p = successes as f64 / n_f;
    let denominator = 1.0 + z * z / n_f;
    let center = (p + z * z / (2.0 * n_f)) / denominator;
    let half = z * (p * (1.0 - p) / n_f + z * z / (4.0 * n_f * n_f)).sqrt() / denominator;
    let ppm = |x: f64| (x.clamp(0.0, 1.0) * 1e6).round() as u64;
    (ppm(center - half), ppm(center + half))
}

impl PaymentStats {
    /// Counts and totals over `payments`.
    pub fn over<'a>(payments: impl IntoIterator<Item = &'a PaymentRecord>) -> PaymentStats {
        let mut stats = PaymentStats::default();
        let mut latencies = Vec::new();
        for p in payments {
            if let Outcome::Refused(refusal) = p.outcome {
                stats.refused += 1;
                *stats.refused_by_reason.entry(refusal.name()).or_default() += 1;
                continue;
            }
            stats.total += 1;
            stats.attempts += u64::from(p.attempts);
            stats.rounds += u64::from(p.rounds);
            stats.first_try += u64::from(p.first_try());
            match p.outcome {
                Outcome::Succeeded => {
                    stats.succeeded += 1;
                    // Each amount is at most all bitcoin; their sum over a long run may not be.
                    stats.delivered_msat = stats.delivered_msat.saturating_add(p.amount_msat);
                    stats.fees_msat = stats.fees_msat.saturating_add(p.fee_msat.unwrap_or(0));
                    stats.split += u64::from(p.parts() > 1);
                    latencies.extend(p.latency_us());
                }
                Outcome::Failed(reason) => {
                    stats.failed += 1;
                    match reason {
                        FailureReason::NoRoute => stats.failed_no_route += 1,
                        FailureReason::Timeout => stats.failed_timeout += 1,
                        FailureReason::RecipientRejected => stats.failed_recipient += 1,
                        FailureReason::AttemptLimit => stats.failed_attempt_limit += 1,
                    }
                }
                Outcome::Pending => stats.pending += 1,
                Outcome::Refused(_) => unreachable!("counted above"),
            }
        }
        stats.success_rate_ppm =
            (stats.succeeded * 1_000_000).checked_div(stats.total).unwrap_or(0);
        latencies.sort_unstable();
        let pick = |q: usize| {
            latencies.get((latencies.len().saturating_sub(1)) * q / 100).copied().unwrap_or(0)
        };
        stats.latency_p50_us = pick(50);
        stats.latency_p90_us = pick(90);
        stats.latency_max_us = latencies.last().copied().unwrap_or(0);
        stats
    }

    /// [`PaymentStats::over`] with success within [`WITHIN_ROUNDS`] rounds filled in, and the
    /// oracle's figures when it ran.
    pub fn with_rounds<'a>(
        payments: impl IntoIterator<Item = &'a PaymentRecord> + Clone,
    ) -> PaymentStats {
        let mut stats = PaymentStats::over(payments.clone());
        let rounds: Vec<u32> =
            payments.clone().into_iter().filter_map(PaymentRecord::success_round).collect();
        stats.within_rounds = within_rounds(&rounds, stats.total);
        let mut oracle: Option<OracleStats> = None;
        let mut feasible_rounds = Vec::new();
        for p in payments {
            let Some(class) = p.feasibility else { continue };
            let o = oracle.get_or_insert_with(OracleStats::default);
            *o.classes.entry(class.name()).or_default() += 1;
            if class == Feasibility::Feasible && !matches!(p.outcome, Outcome::Refused(_)) {
                o.feasible_started += 1;
                feasible_rounds.extend(p.success_round());
            }
        }
        if let Some(o) = oracle.as_mut() {
            o.feasible_within_rounds = within_rounds(&feasible_rounds, o.feasible_started);
        }
        stats.oracle = oracle;
        stats
    }
}

/// Success within each of [`WITHIN_ROUNDS`] among `total` payments whose successes took
/// `rounds`.
fn within_rounds(rounds: &[u32], total: u64) -> Vec<WithinRounds> {
    WITHIN_ROUNDS
        .iter()
        .map(|&max_rounds| {
            let succeeded =
                rounds.iter().filter(|&&r| max_rounds.is_none_or(|k| r <= k)).count() as u64;
            let (wilson_low_ppm, wilson_high_ppm) = wilson_ppm(succeeded, total);
            WithinRounds {
                max_rounds,
                succeeded,
                rate_ppm: (succeeded * 1_000_000).checked_div(total).unwrap_or(0),
                wilson_low_ppm,
                wilson_high_ppm,
            }
        })
        .collect()
}

impl Results {
    /// The records, by id.
    pub fn payments(&self) -> &[PaymentRecord] {
        &self.payments
    }

    /// The attempts, in the order they were sent.
    pub fn attempts(&self) -> &[AttemptRecord] {
        &self.attempts
    }

    /// Labels the next payment recorded (started or refused) with the oracle's class (`None`:
    /// no label, and a label set before is dropped).
    pub fn classify_next(&mut self, class: Option<Feasibility>) {
        self.next_feasibility = class;
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
        fn attempt<'r>(
            this: &'r mut Results,
            node: NodeId,
            id: &PaymentId,
            attempt: u32,
        ) -> Option<&'r mut AttemptRecord> {
            let index = *this.attempt_index.get(&(node, *id, attempt))?;
            Some(&mut this.attempts[index])
        }
        let path = |route: &Route| std::iter::once(node).chain(route.nodes()).collect::<Vec<_>>();
        match event {
            Event::PaymentStarted { payment_id, destination, amount_msat, router, .. } => {
                let index = self.payments.len();
                let router = self.router_label(router);
                self.by_node.insert((node, *payment_id), index);
                self.payments.push(PaymentRecord {
                    id: index as u64,
                    sender: node,
                    receiver: *destination,
                    amount_msat: *amount_msat,
                    router,
                    start: now,
                    end: None,
                    outcome: Outcome::Pending,
                    failure_code: None,
                    attempts: 0,
                    routes: Vec::new(),
                    fee_msat: None,
                    on_chain: false,
                    rounds: 0,
                    last_round_at: None,
                    feasibility: self.next_feasibility.take(),
                });
            }
            Event::PaymentAttempted { payment_id, attempt: number, route } => {
                let r = record(self, node, payment_id);
                r.attempts = *number;
                r.routes = vec![path(route)];
                if r.last_round_at != Some(now) {
                    r.rounds += 1;
                    r.last_round_at = Some(now);
                }
                let (payment, round) = (r.id, r.rounds);
                self.attempt_index.insert((node, *payment_id, *number), self.attempts.len());
                self.attempts.push(AttemptRecord {
                    payment,
                    attempt: *number,
                    start: now,
                    end: None,
                    amount_msat: route.delivered_msat(),
                    fee_msat: route.fee_msat(),
                    route: path(route),
                    outcome: AttemptOutcome::Pending,
                    failing_hop: None,
                    failure_code: None,
                    on_chain: false,
                    round,
                });
            }
            Event::PaymentAttemptFailed { payment_id, attempt: number, failure } => {
                record(self, node, payment_id).failure_code = Some(failure.code);
                if let Some(a) = attempt(self, node, payment_id, *number) {
                    a.end = Some(now);
                    a.outcome = AttemptOutcome::Failed;
                    a.failing_hop = Some(failure.failing_hop);
                    a.failure_code = Some(failure.code);
                    a.on_chain = failure.on_chain;
                }
            }
            Event::PaymentPartSettled { payment_id, attempt: number, on_chain } => {
                if let Some(a) = attempt(self, node, payment_id, *number) {
                    a.end = Some(now);
                    a.outcome = AttemptOutcome::Settled;
                    a.on_chain = *on_chain;
                }
            }
            Event::PaymentSucceeded { payment_id, attempts, parts, fee_msat, on_chain, .. } => {
                let r = record(self, node, payment_id);
                r.on_chain = *on_chain;
                r.end = Some(now);
                r.outcome = Outcome::Succeeded;
                r.attempts = *attempts;
                r.routes = parts.iter().map(path).collect();
                r.fee_msat = Some(*fee_msat);
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

    /// A payment of `amount_msat` from `sender` to `receiver`, to be planned by `router`, that was
    /// refused at `now` before it started; returns its id.
    pub fn refused(
        &mut self,
        now: SimTime,
        sender: NodeId,
        receiver: NodeId,
        amount_msat: u64,
        router: &RouterConfig,
        refusal: Refusal,
    ) -> u64 {
        let id = self.payments.len() as u64;
        let router = self.router_label(router);
        self.payments.push(PaymentRecord {
            id,
            sender,
            receiver,
            amount_msat,
            router,
            start: now,
            end: Some(now),
            outcome: Outcome::Refused(refusal),
            failure_code: None,
            attempts: 0,
            routes: Vec::new(),
            fee_msat: None,
            on_chain: false,
            rounds: 0,
            last_round_at: None,
            feasibility: self.next_feasibility.take(),
        });
        id
    }

    /// Counts and totals over every payment.
    pub fn stats(&self) -> PaymentStats {
        PaymentStats::with_rounds(&self.payments)
    }

    /// Counts and totals per router, by router label ([`PaymentRecord::router`]).
    pub fn stats_by_router(&self) -> BTreeMap<String, PaymentStats> {
        let routers: BTreeSet<&str> = self.payments.iter().map(|p| p.router.as_str()).collect();
        routers
            .into_iter()
            .map(|router| {
                let stats =
                    PaymentStats::with_rounds(self.payments.iter().filter(|p| p.router == router));
                (router.to_owned(), stats)
            })
            .collect()
    }

    /// The label of a router configuration: its name, numbered from `_2` when another
    /// configuration of the same name came first, so distinct parameters never merge.
    fn router_label(&mut self, router: &RouterConfig) -> String {
        if let Some((_, label)) = self.router_labels.iter().find(|(config, _)| config == router) {
            return label.clone();
        }
        let same_name = self.router_labels.iter().filter(|(c, _)| c.name() == router.name());
        let label = match same_name.count() {
            0 => router.name().to_owned(),
            n => format!("{}_{}", router.name(), n + 1),
        };
        self.router_labels.push((*router, label.clone()));
        label
    }

    /// Writes the per-payment CSV, naming nodes by `labels`.
    pub fn write_csv(&self, labels: &NodeLabels, out: &mut dyn Write) -> io::Result<()> {
        let names = &labels.names;
        writeln!(
            out,
            "id,sender,receiver,amount_msat,start_us,end_us,outcome,failure_code,failure_reason,attempts,hops,fee_msat,route,on_chain,router,parts,rounds,first_try,success_round,feasibility,sender_pubkey,sender_alias,receiver_pubkey,receiver_alias"
        )?;
        let path = |route: &[NodeId]| {
            route.iter().map(|n| names[n.index()].as_str()).collect::<Vec<_>>().join(">")
        };
        for p in &self.payments {
            let routes: Vec<String> = p.routes.iter().map(|r| path(r)).collect();
            writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                p.id,
                names[p.sender.index()],
                names[p.receiver.index()],
                p.amount_msat,
                p.start.as_micros(),
                p.end.map(|e| e.as_micros().to_string()).unwrap_or_default(),
                p.outcome.name(),
                p.failure_code.map(|c| c.0.to_string()).unwrap_or_default(),
                p.outcome.reason(),
                p.attempts,
                p.hops(),
                p.fee_msat.map(|f| f.to_string()).unwrap_or_default(),
                routes.join("|"),
                u8::from(p.on_chain),
                p.router,
                p.parts(),
                p.rounds,
                u8::from(p.first_try()),
                p.success_round().map(|r| r.to_string()).unwrap_or_default(),
                p.feasibility.map_or("", Feasibility::name),
                csv_field(&labels.pubkeys[p.sender.index()]),
                csv_field(&labels.aliases[p.sender.index()]),
                csv_field(&labels.pubkeys[p.receiver.index()]),
                csv_field(&labels.aliases[p.receiver.index()]),
            )?;
        }
        Ok(())
    }

    /// Writes the per-attempt CSV (one row per part sent), naming nodes by `labels`.
    pub fn write_attempts_csv(&self, labels: &NodeLabels, out: &mut dyn Write) -> io::Result<()> {
        let names = &labels.names;
        writeln!(
            out,
            "payment,attempt,start_us,end_us,outcome,amount_msat,fee_msat,hops,route,failing_hop,failure_code,on_chain,round"
        )?;
        for a in &self.attempts {
            let route: Vec<&str> = a.route.iter().map(|n| names[n.index()].as_str()).collect();
            writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                a.payment,
                a.attempt,
                a.start.as_micros(),
                a.end.map(|e| e.as_micros().to_string()).unwrap_or_default(),
                a.outcome.name(),
                a.amount_msat,
                a.fee_msat,
                a.route.len().saturating_sub(1),
                route.join(">"),
                a.failing_hop.map(|h| h.to_string()).unwrap_or_default(),
                a.failure_code.map(|c| c.0.to_string()).unwrap_or_default(),
                u8::from(a.on_chain),
                a.round,
            )?;
        }
        Ok(())
    }
}

/// The column of `channels.csv` and `series.csv` naming a channel direction: the short channel
/// id (BOLT 7's `800000x12x1`) and the sending end's name. Written where it is formatted, so a
/// file of millions of rows makes no string apiece.
pub fn direction_label(scid: node_core::Scid, from: &str) -> impl std::fmt::Display + '_ {
    struct Label<'a>(node_core::Scid, &'a str);
    impl std::fmt::Display for Label<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}/{}", self.0, self.1)
        }
    }
    Label(scid, from)
}

/// Writes `channels.csv`: every channel of the start, one row per direction, with its starting
/// balance (the sending end's) and policy, naming nodes by `labels`. Each row is put together in
/// one buffer, integers through `itoa`: through `fmt`, the rows cost as much as building the
/// network they list.
pub fn write_channels_csv(
    channels: &[PlacedChannel],
    labels: &NodeLabels,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "direction,scid,from,to,capacity_sat,opener,announced,start_balance_msat,fee_base_msat,fee_ppm,cltv_expiry_delta,htlc_minimum_msat,htlc_maximum_msat,disabled"
    )?;
    let mut row = Row::default();
    for placed in channels {
        let c = &placed.def;
        let capacity_msat = c.capacity_sat.saturating_mul(1000);
        let sides = [
            (c.from, c.to, true, c.from_balance_msat, &c.from_policy, c.from_disabled),
            (c.to, c.from, false, capacity_msat - c.from_balance_msat, &c.to_policy, c.to_disabled),
        ];
        for (from, to, opener, balance_msat, policy, disabled) in sides {
            let from_name = &labels.names[from.index()];
            row.line.clear();
            // `direction_label`'s form.
            row.scid(placed.scid).text("/").text(from_name).text(",");
            row.scid(placed.scid).text(",").text(from_name).text(",");
            row.text(&labels.names[to.index()]).text(",");
            row.int(c.capacity_sat).text(",");
            row.int(u8::from(opener)).text(",").int(u8::from(c.announce)).text(",");
            row.int(balance_msat).text(",");
            row.int(policy.fee_base_msat).text(",");
            row.int(policy.fee_proportional_millionths).text(",");
            row.int(policy.cltv_expiry_delta).text(",");
            row.int(policy.htlc_minimum_msat).text(",");
            row.int(policy.htlc_maximum_msat.min(capacity_msat)).text(",");
            row.int(u8::from(disabled)).text("\n");
            out.write_all(&row.line)?;
        }
    }
    Ok(())
}

/// One CSV row being put together.
#[derive(Default)]
struct Row {
    line: Vec<u8>,
    digits: itoa::Buffer,
}

impl Row {
    fn text(&mut self, text: &str) -> &mut Row {
        self.line.extend_from_slice(text.as_bytes());
        self
    }

    fn int(&mut self, n: impl itoa::Integer) -> &mut Row {
        self.line.extend_from_slice(self.digits.format(n).as_bytes());
        self
    }

    /// As [`node_core::Scid`]'s `Display`: `block x tx x output`.
    fn scid(&mut self, scid: node_core::Scid) -> &mut Row {
        self.int(scid.block_height()).text("x").int(scid.tx_index()).text("x");
        self.int(scid.output_index())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_core::payment::AttemptFailure;
    use node_core::router::RouteHop;
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
            router: RouterConfig::Cheapest,
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
            SimTime(20),
            a,
            &Event::PaymentAttempted { payment_id: id, attempt: 2, route: route(&[3, 2], 5) },
        );
        results.on_event(
            SimTime(30),
            a,
            &Event::PaymentPartSettled { payment_id: id, attempt: 2, on_chain: false },
        );
        results.on_event(
            SimTime(30),
            a,
            &Event::PaymentSucceeded {
                payment_id: id,
                preimage: Preimage([0; 32]),
                attempts: 2,
                parts: vec![route(&[3, 2], 5)],
                fee_msat: 5,
                on_chain: false,
            },
        );
        let start_b = Event::PaymentStarted {
            payment_id: PaymentId(0),
            payment_hash: PaymentHash([1; 32]),
            destination: NodeId(0),
            amount_msat: 5,
            router: RouterConfig::MinCostFlow(Default::default()),
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
        let names = NodeLabels::names(&["a", "b", "c", "d"]);
        let mut csv = Vec::new();
        results.write_csv(&names, &mut csv).unwrap();
        let text = String::from_utf8(csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // Succeeded on its second round (the retry at 20 µs): not a first try.
        assert_eq!(lines[1], "0,a,c,1000,10,30,succeeded,,,2,2,5,a>d>c,0,cheapest,1,2,0,2,,,,,");
        assert_eq!(lines[2], "1,b,a,5,40,41,failed,,no_route,0,0,,,0,min_cost_flow,0,0,0,,,,,,");
        let mut csv = Vec::new();
        results.write_attempts_csv(&names, &mut csv).unwrap();
        let text = String::from_utf8(csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], "0,1,10,20,failed,1000,7,2,a>b>c,1,4103,0,1");
        assert_eq!(lines[2], "0,2,20,30,settled,1000,5,2,a>d>c,,,0,2");
        let by_router = results.stats_by_router();
        assert_eq!(by_router.keys().collect::<Vec<_>>(), ["cheapest", "min_cost_flow"]);
        assert_eq!(by_router["cheapest"].succeeded, 1);
        assert_eq!(by_router["min_cost_flow"].failed_no_route, 1);
        let stats = results.stats();
        assert_eq!(
            (stats.total, stats.succeeded, stats.failed, stats.failed_no_route),
            (2, 1, 1, 1)
        );
        assert_eq!(stats.success_rate_ppm, 500_000);
        assert_eq!(stats.latency_p50_us, 20);
        // Rounds: the succeeded payment took 2, the failed one none.
        assert_eq!((stats.rounds, stats.first_try), (2, 0));
        let within: Vec<(Option<u32>, u64)> =
            stats.within_rounds.iter().map(|w| (w.max_rounds, w.succeeded)).collect();
        assert_eq!(
            within,
            [(Some(1), 0), (Some(2), 1), (Some(3), 1), (Some(5), 1), (Some(10), 1), (None, 1)]
        );
        let two = &stats.within_rounds[1];
        assert_eq!(
            (two.rate_ppm, two.wilson_low_ppm, two.wilson_high_ppm),
            (500_000, 94_529, 905_471)
        );
        assert_eq!(results.global_id(NodeId(1), PaymentId(0)), Some(1));
    }

    #[test]
    fn the_wilson_interval_matches_the_formula() {
        // 80 of 100 at 95%: 0.7112 to 0.8666 (worked out with z = 1.96).
        assert_eq!(wilson_ppm(80, 100), (711_169, 866_634));
        assert_eq!(wilson_ppm(0, 0), (0, 0));
        let (low, high) = wilson_ppm(0, 10);
        assert_eq!(low, 0);
        assert!(high > 0 && high < 400_000);
    }

    #[test]
    fn routers_of_one_kind_with_different_parameters_keep_separate_labels() {
        use node_core::router::mcf::McfParams;
        let mut results = Results::default();
        let coarse = McfParams { pieces: 2, ..Default::default() };
        let configs = [
            RouterConfig::MinCostFlow(Default::default()),
            RouterConfig::MinCostFlow(coarse),
            RouterConfig::Cheapest,
            RouterConfig::MinCostFlow(Default::default()),
        ];
        for (i, router) in configs.into_iter().enumerate() {
            let start = Event::PaymentStarted {
                payment_id: PaymentId(i as u64),
                payment_hash: PaymentHash([i as u8; 32]),
                destination: NodeId(1),
                amount_msat: 1000,
                router,
            };
            results.on_event(SimTime(0), NodeId(0), &start);
        }
        let labels: Vec<&str> = results.payments.iter().map(|p| p.router.as_str()).collect();
        assert_eq!(labels, ["min_cost_flow", "min_cost_flow_2", "cheapest", "min_cost_flow"]);
        let by_router = results.stats_by_router();
        assert_eq!(by_router["min_cost_flow"].total, 2);
        assert_eq!(by_router["min_cost_flow_2"].total, 1);
    }

    #[test]
    fn channels_csv_rows_read_as_their_fields_formatted() {
        let policy = |base: u32, ppm: u32| node_core::policy::ChannelPolicy {
            fee_base_msat: base,
            fee_proportional_millionths: ppm,
            cltv_expiry_delta: 144,
            htlc_minimum_msat: 1,
            htlc_maximum_msat: u64::MAX,
        };
        let placed = |scid: u64, capacity_sat: u64, from_balance_msat: u64| PlacedChannel {
            def: crate::scenario::ChannelDef {
                from: NodeId(1),
                to: NodeId(0),
                capacity_sat,
                from_balance_msat,
                announce: scid.is_multiple_of(2),
                from_policy: policy(1000, 1),
                to_policy: policy(u32::MAX, 0),
                from_disabled: false,
                to_disabled: true,
            },
            funding: node_core::chain::OutPoint { txid: node_core::ids::Txid([7; 32]), vout: 0 },
            scid: node_core::Scid(scid),
        };
        let channels =
            [placed(0, 1, 0), placed((800_000 << 40) | (1234 << 16) | 7, 16_777_215, 9_000_001)];
        let labels = NodeLabels { names: vec!["shop".into(), "n1".into()], ..Default::default() };
        let mut written = Vec::new();
        write_channels_csv(&channels, &labels, &mut written).unwrap();
        let mut expected = String::from(
            "direction,scid,from,to,capacity_sat,opener,announced,start_balance_msat,fee_base_msat,fee_ppm,cltv_expiry_delta,htlc_minimum_msat,htlc_maximum_msat,disabled\n",
        );
        for c in &channels {
            let d = &c.def;
            let capacity_msat = d.capacity_sat * 1000;
            for (from, to, opener, balance_msat, p, disabled) in [
                ("n1", "shop", 1, d.from_balance_msat, &d.from_policy, 0),
                ("shop", "n1", 0, capacity_msat - d.from_balance_msat, &d.to_policy, 1),
            ] {
                expected += &format!(
                    "{}/{from},{},{from},{to},{},{opener},{},{balance_msat},{},{},{},{},{},{disabled}\n",
                    c.scid,
                    c.scid,
                    d.capacity_sat,
                    u8::from(d.announce),
                    p.fee_base_msat,
                    p.fee_proportional_millionths,
                    p.cltv_expiry_delta,
                    p.htlc_minimum_msat,
                    p.htlc_maximum_msat.min(capacity_msat),
                );
            }
        }
        assert_eq!(String::from_utf8(written).unwrap(), expected);
        assert!(expected.contains("800000x1234x7/n1,800000x1234x7,n1,shop,16777215,1,0,9000001,"));
    }
}
