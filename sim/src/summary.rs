//! The summary of a run: a JSON document (integers only, fixed key order) and the human text the
//! binary prints. Both are built from the [`RunRecord`] a finished world leaves; this module reads
//! it and never changes it.

use crate::results::PaymentStats;
use crate::scenario::{Scenario, Step};
use crate::shop::OrderStatus;
use crate::trace::{TraceFooter, hex};
use crate::world::{EndReason, FundsSummary, RunRecord};
use node_core::router::RouterConfig;
use node_core::{NodeId, SimTime};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Clone, Debug, Serialize)]
struct ChainJson {
    start_height: u32,
    end_height: u32,
    blocks_mined: u32,
    miner_fees_sat: u64,
    rejected_txs: u64,
}

#[derive(Clone, Debug, Serialize)]
struct NodeJson {
    name: String,
    implementation: String,
    wallet_sat: u64,
    channels: u64,
    channel_balance_msat: u64,
    forwards: u64,
    fees_earned_msat: u64,
}

#[derive(Clone, Debug, Serialize)]
struct ChannelJson {
    opener: String,
    peer: String,
    funding_sat: u64,
    funding_txid: String,
    funding_height: Option<u32>,
    scid: Option<String>,
    ready_us: Option<u64>,
    closed_us: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
struct OrderJson {
    id: u64,
    customer: String,
    shop: String,
    item: String,
    price_msat: u64,
    status: &'static str,
    requested_us: u64,
    payment: Option<u64>,
    payment_hash: Option<String>,
    route: Vec<String>,
    fee_msat: Option<u64>,
    attempts: u32,
    paid_seen_us: Option<u64>,
    paid_seen_height: Option<u32>,
    delivered_us: Option<u64>,
    content: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
struct StepJson {
    index: usize,
    step: String,
    started_us: u64,
    ended_us: Option<u64>,
    ok: bool,
    /// Why the step could not start, when a node was down or refused its command.
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<&'static str>,
}

#[derive(Clone, Debug, Serialize)]
struct TraceJson {
    level: &'static str,
    events: u64,
    digest: String,
}

/// Above this many nodes, the text summary lists only the busiest forwarders.
const MAX_NODES_LISTED: usize = 40;
/// How many forwarders a large network's text summary lists.
const TOP_FORWARDERS: usize = 10;

/// The run summary, as written to `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    format: u32,
    scenario: String,
    description: String,
    seed: u64,
    scenario_sha256: String,
    end_us: u64,
    ended_by: &'static str,
    chain: ChainJson,
    /// Payment counts and totals.
    pub payments: PaymentStats,
    /// The same per router, by router name.
    pub routers: BTreeMap<String, PaymentStats>,
    orders: Vec<OrderJson>,
    channels: Vec<ChannelJson>,
    nodes: Vec<NodeJson>,
    steps: Vec<StepJson>,
    /// Where the money is.
    pub funds: FundsSummary,
    trace: TraceJson,
}

/// A step as the summary names it.
pub fn describe_step(scenario: &Scenario, step: &Step) -> String {
    let n = |id: NodeId| scenario.node_name(id).to_string();
    let with = |router: Option<RouterConfig>| {
        router.map(|r| format!(" with the {} router", r.name())).unwrap_or_default()
    };
    match *step {
        Step::Connect { from, to } => format!("connect {} to {}", n(from), n(to)),
        Step::FundChannel { from, to, amount_sat, .. } => {
            format!("fund a {amount_sat} sat channel from {} to {}", n(from), n(to))
        }
        Step::WaitChannelReady { from, to } => {
            format!("wait for the channel {} - {}", n(from), n(to))
        }
        Step::Buy { customer, shop, item } => {
            let def = &scenario.shops[shop];
            format!("{} buys {:?} from {}", n(customer), def.items[item].name, n(def.node))
        }
        Step::Pay { from, to, amount_msat, router } => {
            format!("{} pays {} {amount_msat} msat{}", n(from), n(to), with(router))
        }
        Step::Keysend { from, to, amount_msat, router } => {
            format!("{} keysends {} {amount_msat} msat{}", n(from), n(to), with(router))
        }
        Step::Close { from, to } => format!("{} closes its channels with {}", n(from), n(to)),
        Step::Sleep { duration_us } => format!("sleep {} ms", duration_us / 1000),
        Step::WaitBlocks { blocks } => format!("wait for {blocks} blocks"),
    }
}

impl RunSummary {
    /// Builds the summary of a finished run.
    pub fn build(
        record: &RunRecord,
        scenario: &Scenario,
        footer: &TraceFooter,
        level: &'static str,
    ) -> RunSummary {
        let name = |id: NodeId| scenario.node_name(id).to_string();
        let results = &record.results;
        let orders = record
            .orders
            .iter()
            .map(|o| {
                let def = &scenario.shops[o.shop];
                let item = &def.items[o.item];
                let payment = o.payment.and_then(|p| results.global_id(o.customer, p));
                let paid = payment.map(|p| &results.payments()[p as usize]);
                OrderJson {
                    id: o.id,
                    customer: name(o.customer),
                    shop: name(def.node),
                    item: item.name.clone(),
                    price_msat: item.price_msat,
                    status: match o.status {
                        OrderStatus::Requested => "requested",
                        OrderStatus::Paying => "paying",
                        OrderStatus::Paid => "paid",
                        OrderStatus::Delivered => "delivered",
                        OrderStatus::Failed => "failed",
                    },
                    requested_us: o.requested_at.as_micros(),
                    payment,
                    payment_hash: o.invoice.as_ref().map(|i| i.payment_hash.to_string()),
                    route: paid
                        .and_then(|r| r.routes.first())
                        .map(|route| route.iter().map(|&n| name(n)).collect())
                        .unwrap_or_default(),
                    fee_msat: paid.and_then(|r| r.fee_msat),
                    attempts: paid.map_or(0, |r| r.attempts),
                    paid_seen_us: o.paid_seen_at.map(SimTime::as_micros),
                    paid_seen_height: o.paid_seen_height,
                    delivered_us: o.delivered_at.map(SimTime::as_micros),
                    content: o.content.as_deref().map(str::to_string),
                }
            })
            .collect();
        let channels = record
            .channels
            .iter()
            .map(|c| ChannelJson {
                opener: name(c.opener),
                peer: name(c.peer),
                funding_sat: c.funding_sat,
                funding_txid: c.txid.to_string(),
                funding_height: c.funding_height,
                scid: c.scid.map(|s| s.to_string()),
                ready_us: c.ready_at.map(SimTime::as_micros),
                closed_us: c.closed_at.map(SimTime::as_micros),
            })
            .collect();
        let nodes = record
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| NodeJson {
                name: name(NodeId(i as u32)),
                implementation: format!("{:?}", node.implementation).to_lowercase(),
                wallet_sat: node.wallet_sat,
                channels: node.channels,
                channel_balance_msat: node.channel_balance_msat,
                forwards: node.forwards,
                fees_earned_msat: node.fees_earned_msat,
            })
            .collect();
        let steps = record
            .steps
            .iter()
            .map(|s| StepJson {
                index: s.index,
                step: describe_step(scenario, &s.step),
                started_us: s.started_at.as_micros(),
                ended_us: s.ended_at.map(SimTime::as_micros),
                ok: s.ok,
                refused: s.refused,
            })
            .collect();
        RunSummary {
            format: 1,
            scenario: scenario.name.clone(),
            description: scenario.description.clone(),
            seed: scenario.seed,
            scenario_sha256: hex(&scenario.file_sha256),
            end_us: record.end_time.as_micros(),
            ended_by: match record.end {
                EndReason::Idle => "idle",
                EndReason::MaxDuration => "max_duration",
            },
            chain: ChainJson {
                start_height: scenario.chain.start_height,
                end_height: record.chain.end_height,
                blocks_mined: record.chain.blocks_mined,
                miner_fees_sat: record.chain.miner_fees_sat,
                rejected_txs: record.chain.rejected_txs,
            },
            payments: results.stats(),
            routers: results.stats_by_router(),
            orders,
            channels,
            nodes,
            steps,
            funds: record.funds.clone(),
            trace: TraceJson { level, events: footer.events, digest: footer.digest.clone() },
        }
    }

    /// The summary as pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text =
            serde_json::to_string_pretty(self).expect("invariant: the summary serialises");
        text.push('\n');
        text
    }

    /// The summary for people.
    pub fn to_text(&self) -> String {
        let t = |us: u64| format!("{}.{:03} s", us / 1_000_000, us % 1_000_000 / 1000);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "boltsim: {} (seed {}, scenario sha256 {})",
            self.scenario,
            self.seed,
            &self.scenario_sha256[..16]
        );
        if !self.description.is_empty() {
            let _ = writeln!(s, "{}", self.description.trim());
        }
        let _ = writeln!(
            s,
            "\nchain: blocks {} to {} ({} mined), miner fees {} sat",
            self.chain.start_height,
            self.chain.end_height,
            self.chain.blocks_mined,
            self.chain.miner_fees_sat
        );
        for c in &self.channels {
            let _ = write!(
                s,
                "channel {} -> {}, {} sat: funding {}",
                c.opener,
                c.peer,
                c.funding_sat,
                &c.funding_txid[..c.funding_txid.len().min(16)]
            );
            match c.funding_height {
                Some(h) => {
                    let _ = write!(s, " mined in block {h}");
                }
                None => s.push_str(" unconfirmed"),
            }
            if let (Some(scid), Some(ready)) = (&c.scid, c.ready_us) {
                let _ = write!(s, ", ready at {} as {scid}", t(ready));
            }
            if let Some(closed) = c.closed_us {
                let _ = write!(s, ", closed at {}", t(closed));
            }
            s.push('\n');
        }
        for o in &self.orders {
            let _ = writeln!(
                s,
                "\norder {}: {} buys {:?} from {} for {} msat: {}",
                o.id, o.customer, o.item, o.shop, o.price_msat, o.status
            );
            if let Some(hash) = &o.payment_hash {
                let _ =
                    writeln!(s, "  invoice {}, requested at {}", &hash[..16], t(o.requested_us));
            }
            if !o.route.is_empty() {
                let _ = writeln!(
                    s,
                    "  route {} ({} hop{}), fee {} msat, {} attempt{}",
                    o.route.join(" > "),
                    o.route.len() - 1,
                    if o.route.len() == 2 { "" } else { "s" },
                    o.fee_msat.unwrap_or(0),
                    o.attempts,
                    if o.attempts == 1 { "" } else { "s" }
                );
            }
            if let (Some(paid), Some(height)) = (o.paid_seen_us, o.paid_seen_height) {
                let _ = writeln!(s, "  shop saw it paid at {} (block {height})", t(paid));
            }
            if let (Some(delivered), Some(content)) = (o.delivered_us, &o.content) {
                let _ = writeln!(
                    s,
                    "  delivered at {} ({} after the request):",
                    t(delivered),
                    t(delivered - o.requested_us)
                );
                for line in content.trim_matches('\n').lines() {
                    let _ = writeln!(s, "    {line}");
                }
            }
        }
        s.push('\n');
        // A large network lists its busiest forwarders only; summary.json has every node.
        let mut shown: Vec<&NodeJson> = self.nodes.iter().collect();
        if shown.len() > MAX_NODES_LISTED {
            shown.sort_by_key(|n| std::cmp::Reverse(n.forwards));
            shown.truncate(TOP_FORWARDERS);
            let _ = writeln!(
                s,
                "{} nodes; the {TOP_FORWARDERS} that forwarded most (all in summary.json):",
                self.nodes.len()
            );
        }
        for n in shown {
            let _ = writeln!(
                s,
                "node {} ({}): {} sat on chain, {} msat in {} channel{}, forwarded {} payment{} for {} msat in fees",
                n.name,
                n.implementation,
                n.wallet_sat,
                n.channel_balance_msat,
                n.channels,
                if n.channels == 1 { "" } else { "s" },
                n.forwards,
                if n.forwards == 1 { "" } else { "s" },
                n.fees_earned_msat
            );
        }
        let p = &self.payments;
        let _ = write!(
            s,
            "\npayments: {} started, {} succeeded, {} failed ({} no route, {} timeout, {} rejected by the payee), {} pending",
            p.total,
            p.succeeded,
            p.failed,
            p.failed_no_route,
            p.failed_timeout,
            p.failed_recipient,
            p.pending
        );
        if p.refused > 0 {
            let reasons: Vec<String> =
                p.refused_by_reason.iter().map(|(reason, n)| format!("{n} {reason}")).collect();
            let _ = write!(s, "; {} never started ({})", p.refused, reasons.join(", "));
        }
        s.push('\n');
        if p.succeeded > 0 {
            let _ = writeln!(
                s,
                "  delivered {} msat for {} msat in fees; latency median {}, p90 {}, max {}",
                p.delivered_msat,
                p.fees_msat,
                t(p.latency_p50_us),
                t(p.latency_p90_us),
                t(p.latency_max_us)
            );
        }
        if let Some(o) = &p.oracle {
            let classes: Vec<String> =
                o.classes.iter().map(|(class, n)| format!("{n} {class}")).collect();
            let pct = |ppm: u64| format!("{}.{:01}%", ppm / 10_000, ppm / 1_000 % 10);
            let (first, any) = (&o.feasible_within_rounds[0], &o.feasible_within_rounds[5]);
            let _ = writeln!(
                s,
                "  feasibility oracle (true balances, known to no node): {}; of {} feasible payments started, {} first try, {} at all",
                classes.join(", "),
                o.feasible_started,
                pct(first.rate_ppm),
                pct(any.rate_ppm)
            );
        }
        if self.routers.len() > 1 {
            s.push_str("\nper router:\n");
            for (router, r) in &self.routers {
                let _ = writeln!(
                    s,
                    "  {router:<14} {:>6} payments, {:>6} succeeded ({}.{:02}%), {} split, {} attempts, {} msat in fees, median {}",
                    r.total,
                    r.succeeded,
                    r.success_rate_ppm / 10_000,
                    r.success_rate_ppm / 100 % 100,
                    r.split,
                    r.attempts,
                    r.fees_msat,
                    t(r.latency_p50_us),
                );
            }
        }
        let failed_steps: Vec<&StepJson> = self.steps.iter().filter(|st| !st.ok).collect();
        if !failed_steps.is_empty() {
            s.push_str("\nscript steps that did not succeed:\n");
            for st in failed_steps {
                let state = match (st.refused, st.ended_us) {
                    (Some(reason), _) => format!("refused: {reason}"),
                    (None, Some(_)) => "failed".to_string(),
                    (None, None) => "still waiting at the end".to_string(),
                };
                let _ = writeln!(s, "  step {}: {} ({state})", st.index, st.step);
            }
        }
        let f = &self.funds;
        let _ = writeln!(
            s,
            "\nfunds: {} sat created = {} in wallets + {} in channels + {} in on-chain claims + {} miner fees: {}",
            f.created_sat,
            f.wallets_sat,
            f.channels_sat,
            f.onchain_sat,
            f.miner_fees_sat,
            if f.conserved { "conserved" } else { "NOT CONSERVED" }
        );
        for v in &f.violations {
            let _ = writeln!(s, "  {v}");
        }
        let _ = writeln!(
            s,
            "run ended at {} ({}); trace {} events, digest {}",
            t(self.end_us),
            self.ended_by,
            self.trace.events,
            &self.trace.digest[..16]
        );
        s
    }

    /// Whether every order was delivered.
    pub fn all_orders_delivered(&self) -> bool {
        self.orders.iter().all(|o| o.status == "delivered")
    }
}
