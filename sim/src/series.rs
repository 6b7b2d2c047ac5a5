//! Time series of a run, `series.csv`, in long format: `time_us,kind,entity,metric,value`, one
//! row per value, sampled every `outputs.series_interval_s` and once more when the run ends. A
//! notebook joins them with `channels.csv` (on `direction`) and `payments.csv` (on node names)
//! without parsing a trace.
//!
//! Kinds and their metrics:
//! - `direction` (entity `SCID/FROM`, as `channels.csv` names it): `balance_msat` (the sending
//!   end's balance in its own commitment), `htlcs` and `in_flight_msat` (the HTLCs it has offered
//!   and not yet resolved), `forwards` (HTLCs forwarded out over it, so far) and
//!   `failures_CODE` (HTLCs its sending end refused to forward over it, by BOLT 4 code, so far).
//! - `node` (entity its name): `fees_earned_msat`, `payments_sent`, `payments_received` and
//!   `payments_failed`, so far.
//! - `network` (entity `all`): `started`, `succeeded`, `failed` (payments that started or ended in
//!   the interval ending at the sample) and `success_ppm` (succeeded per million of those that
//!   ended in it; absent when none ended).
//! - `fault` (entity the node, or `-`): one row at the instant a fault starts, metric its kind
//!   (`crash`, `force_close`, `partition`, `latency_spike`, `set_policy`), value 1.
//!
//! Values that only count up, and balances, are written when they changed since the last sample
//! (so the file stays small on mainnet: a balance's value at any time is its last row, or its
//! `start_balance_msat` in `channels.csv` before its first row); network rows are written at
//! every sample. A node is read again only if it took an input that may change its channels
//! ([`Node::changes`]). This module records and formats; the world calls it.

use crate::nodes::Nodes;
use crate::results::direction_label;
use node_core::event::Event;
use node_core::htlc::View;
use node_core::{NodeId, Scid, SimTime};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One channel direction: its short channel id and sending end.
type Direction = (Scid, NodeId);

/// The time series of a run being recorded.
#[derive(Debug)]
pub struct SeriesRecorder {
    /// Sampling interval, µs.
    interval_us: u64,
    /// The rows so far, CSV text after the header.
    rows: String,
    /// The value last written per (direction, metric).
    last: BTreeMap<(Direction, &'static str), u64>,
    /// Per node: the [`Node::changes`] at its last reading.
    read_at: Vec<u64>,
    /// Counters per direction.
    forwards: BTreeMap<Direction, u64>,
    failures: BTreeMap<(Direction, u16), u64>,
    written_failures: BTreeMap<(Direction, u16), u64>,
    /// Per node: fees earned, payments sent, received, failed; and what was last written.
    node_counts: Vec<[u64; 4]>,
    node_written: Vec<[u64; 4]>,
    /// Payments started, succeeded and failed since the last sample.
    network: [u64; 3],
    /// When the last sample was taken, µs.
    last_sample_us: Option<u64>,
}

/// The node metrics, in the order of [`SeriesRecorder::node_counts`].
const NODE_METRICS: [&str; 4] =
    ["fees_earned_msat", "payments_sent", "payments_received", "payments_failed"];

impl SeriesRecorder {
    /// A recorder sampling every `interval_us` over `nodes` nodes; `start` are the channels of
    /// the start, (direction, starting balance msat), so that a first sample writes only what
    /// changed.
    pub fn new(interval_us: u64, nodes: usize, start: &[(Direction, u64)]) -> SeriesRecorder {
        let last = start.iter().map(|&(d, balance)| ((d, "balance_msat"), balance)).collect();
        SeriesRecorder {
            interval_us,
            rows: String::new(),
            last,
            read_at: vec![u64::MAX; nodes],
            forwards: BTreeMap::new(),
            failures: BTreeMap::new(),
            written_failures: BTreeMap::new(),
            node_counts: vec![[0; 4]; nodes],
            node_written: vec![[0; 4]; nodes],
            network: [0; 3],
            last_sample_us: None,
        }
    }

    /// The sampling interval, µs.
    pub fn interval_us(&self) -> u64 {
        self.interval_us
    }

    /// Counts what `event` of `node` says: forwards, refusals, fees and payments.
    pub fn on_event(&mut self, node: NodeId, event: &Event) {
        let counts = &mut self.node_counts[node.index()];
        match event {
            Event::HtlcForwarded { out_scid, .. } => {
                *self.forwards.entry((*out_scid, node)).or_default() += 1;
            }
            Event::HtlcRefused { out_scid: Some(out_scid), code, .. } => {
                *self.failures.entry(((*out_scid, node), code.0)).or_default() += 1;
            }
            Event::ForwardSettled { fee_msat, .. } => {
                counts[0] = counts[0].saturating_add(*fee_msat);
            }
            Event::PaymentStarted { .. } => self.network[0] += 1,
            Event::PaymentSucceeded { .. } => {
                counts[1] += 1;
                self.network[1] += 1;
            }
            Event::InvoicePaid { .. } => counts[2] += 1,
            Event::PaymentFailed { .. } => {
                counts[3] += 1;
                self.network[2] += 1;
            }
            _ => {}
        }
    }

    /// A fault started at `now`: `kind` on `node` (`None`: links, not one node).
    pub fn fault(&mut self, now: SimTime, kind: &str, node: Option<&str>) {
        let _ = writeln!(self.rows, "{},fault,{},{kind},1", now.as_micros(), node.unwrap_or("-"));
    }

    /// Samples at `now`: every value that changed, named by `names`. A second sample at the same
    /// instant (the run's end falling on a sample) writes nothing.
    pub fn sample(&mut self, now: SimTime, nodes: &Nodes, names: &[String]) {
        let t = now.as_micros();
        if self.last_sample_us == Some(t) {
            return;
        }
        self.last_sample_us = Some(t);
        let mut direction_rows: BTreeMap<(Direction, &'static str), u64> = BTreeMap::new();
        for (i, node) in nodes.iter().enumerate() {
            if self.read_at[i] == node.changes() {
                continue;
            }
            self.read_at[i] = node.changes();
            for channel in node.channel_snapshots() {
                let Some(scid) = channel.scid else { continue };
                let d = (scid, node.id());
                let local = channel.view(View::Local);
                for (metric, value) in [
                    ("balance_msat", local.ours_msat),
                    ("htlcs", channel.offered as u64),
                    ("in_flight_msat", local.offered_msat),
                ] {
                    if self.last.get(&(d, metric)).copied().unwrap_or(0) != value {
                        self.last.insert((d, metric), value);
                        direction_rows.insert((d, metric), value);
                    }
                }
            }
        }
        for (&d, &n) in &self.forwards {
            if self.last.get(&(d, "forwards")).copied().unwrap_or(0) != n {
                self.last.insert((d, "forwards"), n);
                direction_rows.insert((d, "forwards"), n);
            }
        }
        for ((metric_key, metric), value) in direction_rows {
            let (scid, from) = metric_key;
            let entity = direction_label(scid, &names[from.index()]);
            let _ = writeln!(self.rows, "{t},direction,{entity},{metric},{value}");
        }
        for (&((scid, from), code), &n) in &self.failures {
            if self.written_failures.get(&((scid, from), code)) != Some(&n) {
                self.written_failures.insert(((scid, from), code), n);
                let entity = direction_label(scid, &names[from.index()]);
                let _ = writeln!(self.rows, "{t},direction,{entity},failures_{code},{n}");
            }
        }
        for (i, (counts, written)) in
            self.node_counts.iter().zip(&mut self.node_written).enumerate()
        {
            for (k, metric) in NODE_METRICS.iter().enumerate() {
                if counts[k] != written[k] {
                    written[k] = counts[k];
                    let _ = writeln!(self.rows, "{t},node,{},{metric},{}", names[i], counts[k]);
                }
            }
        }
        let [started, succeeded, failed] = std::mem::take(&mut self.network);
        for (metric, value) in [("started", started), ("succeeded", succeeded), ("failed", failed)]
        {
            let _ = writeln!(self.rows, "{t},network,all,{metric},{value}");
        }
        if let Some(ppm) = (succeeded * 1_000_000).checked_div(succeeded + failed) {
            let _ = writeln!(self.rows, "{t},network,all,success_ppm,{ppm}");
        }
    }

    /// The CSV text, header first.
    pub fn into_csv(self) -> String {
        format!("time_us,kind,entity,metric,value\n{}", self.rows)
    }
}
