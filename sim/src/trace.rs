//! Trace format v2: one line per event, integers only, fixed field order per kind, between a
//! header (format version, scenario, file digest, seed, level, node names) and a footer (event
//! counts per kind and a SHA-256 digest over every event line). Every kind, its code and its
//! fields are listed in `scenarios/TRACE.md`. This module owns the format and the codes of what
//! it records, and writes lines as events happen; deciding what happened is the world's job.

use crate::chain::TxRejection;
use node_core::SimTime;
use node_core::event::Event;
use node_core::msg::Message;
use node_core::node::Timer;
use node_core::router::Route;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

/// The format version written in the header.
pub const FORMAT_VERSION: u32 = 2;

/// How much a trace records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceLevel {
    /// Every message, timer, block and event.
    #[default]
    Full,
    /// Invoices, payments and orders only.
    Payments,
    /// Nothing but the header and footer.
    Off,
}

impl TraceLevel {
    /// Its name in the header and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TraceLevel::Full => "full",
            TraceLevel::Payments => "payments",
            TraceLevel::Off => "off",
        }
    }

    /// Parses a name.
    pub fn from_name(name: &str) -> Option<TraceLevel> {
        match name {
            "full" => Some(TraceLevel::Full),
            "payments" => Some(TraceLevel::Payments),
            "off" => Some(TraceLevel::Off),
            _ => None,
        }
    }
}

/// The kinds of trace lines, with their codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u16)]
pub enum Kind {
    /// `height tx_count`
    Block = 1,
    /// `node tx_kind txid`
    TxBroadcast = 2,
    /// `height tx_index tx_kind txid fee_sat`
    TxConfirmed = 3,
    /// `node tx_kind txid reason` (1 missing input, 2 double spend, 3 overspend,
    /// 4 unauthorized, 5 timelock not passed, 6 duplicate input)
    TxRejected = 4,
    /// `a b`
    LinkUp = 10,
    /// `a b`
    LinkDown = 11,
    /// `from to`
    ConnectFailed = 12,
    /// `node`
    NodeDown = 13,
    /// `node`
    NodeUp = 14,
    /// `from to type channel f1 f2 f3`
    Message = 20,
    /// `from to type`
    MessageLost = 21,
    /// `node timer` (1 gossip flush)
    Timer = 30,
    /// `node peer`
    ReconnectTimer = 31,
    /// `node peer`
    PeerOfflineTimer = 32,
    /// `node payment_hash`
    MppTimer = 33,
    /// `node peer`
    PeerOnlineTimer = 34,
    /// `node`
    CommitTick = 35,
    /// `node`
    ProcessForwards = 36,
    /// `node peer`
    PeerConnected = 39,
    /// `node peer temporary_channel_id funding_sat`
    ChannelOpening = 40,
    /// `node peer channel_id txid funding_sat`
    FundingBroadcast = 41,
    /// `node peer scid funding_sat we_opened`
    ChannelReady = 42,
    /// `node scid`
    ChannelAnnounced = 43,
    /// `node peer channel_id`
    ChannelClosing = 44,
    /// `node peer channel_id reason`
    ChannelClosed = 45,
    /// `node peer temporary_channel_id`
    ChannelOpenFailed = 46,
    /// `node peer channel_id`
    ProtocolViolation = 47,
    /// `node peer channel_id txid`
    ChannelForceClosed = 48,
    /// `node peer channel_id retransmitted`
    ChannelReestablished = 49,
    /// `node in_scid in_htlc out_scid out_htlc in_msat out_msat`
    HtlcForwarded = 50,
    /// `node in_scid in_htlc code`
    HtlcRefused = 51,
    /// `node in_scid in_htlc fee_msat`
    ForwardSettled = 52,
    /// `node in_scid in_htlc`
    ForwardFailed = 53,
    /// `node channel_id htlc amount_sat`
    OnChainClaimed = 54,
    /// `node payment_hash amount_msat`
    InvoiceCreated = 60,
    /// `node payment_hash received_msat`
    InvoicePaid = 61,
    /// `node payment_hash amount_msat held_msat total_msat`
    PartHeld = 62,
    /// `node payment_hash parts held_msat`
    PartsTimedOut = 63,
    /// `node payment destination amount_msat payment_hash router`
    PaymentStarted = 70,
    /// `node payment attempt sent_msat fee_msat hops node...`
    PaymentAttempted = 71,
    /// `node payment attempt failing_hop code scid on_chain`
    PaymentAttemptFailed = 72,
    /// `node payment attempts fee_msat on_chain parts hops node...`
    PaymentSucceeded = 73,
    /// `node payment attempts reason last_code`
    PaymentFailed = 74,
    /// `node payment attempt on_chain`
    PartSettled = 75,
    /// `payer payee payment amount_msat reason` (see [`crate::results::Refusal::code`])
    PaymentRefused = 76,
    /// `customer shop order item`
    OrderRequested = 80,
    /// `shop customer order payment_hash`
    OrderInvoiced = 81,
    /// `customer shop order content_bytes`
    OrderDelivered = 82,
    /// `customer shop order`
    OrderFailed = 83,
    /// `step`
    StepDone = 90,
    /// `step`
    StepFailed = 91,
    /// `fault fault_kind` (1 crash, 2 force close, 3 partition, 4 latency spike, 5 policy)
    FaultStarted = 100,
    /// `fault fault_kind`
    FaultEnded = 101,
}

impl Kind {
    /// Whether the `payments` level records this kind.
    pub fn is_payment_level(self) -> bool {
        matches!(self as u16, 60..=89)
    }
}

/// What the header says.
#[derive(Clone, Debug)]
pub struct TraceHeader {
    /// Scenario name.
    pub scenario: String,
    /// SHA-256 of the scenario file.
    pub scenario_sha256: [u8; 32],
    /// Root seed.
    pub seed: u64,
    /// Level.
    pub level: TraceLevel,
    /// Node names, by id.
    pub nodes: Vec<String>,
}

/// What the footer says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceFooter {
    /// Event lines written.
    pub events: u64,
    /// Lines per kind code.
    pub counts: BTreeMap<u16, u64>,
    /// SHA-256 over the event lines, hex.
    pub digest: String,
}

/// Writes a trace as events happen. The first I/O error is kept and returned by
/// [`TraceWriter::finish`], so recording never interrupts a run.
pub struct TraceWriter {
    level: TraceLevel,
    out: Box<dyn Write>,
    hasher: Sha256,
    events: u64,
    counts: BTreeMap<u16, u64>,
    line: String,
    error: Option<io::Error>,
}

/// Hex of 32 bytes.
pub fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

impl TraceWriter {
    /// Starts a trace by writing its header to `out`.
    pub fn new(mut out: Box<dyn Write>, header: &TraceHeader) -> TraceWriter {
        let mut text = format!(
            "# boltsim trace v{FORMAT_VERSION}\n# scenario {}\n# scenario_sha256 {}\n# seed {}\n# level {}\n# nodes {}\n",
            header.scenario,
            hex(&header.scenario_sha256),
            header.seed,
            header.level.name(),
            header.nodes.len()
        );
        for (id, name) in header.nodes.iter().enumerate() {
            let _ = writeln!(text, "# node {id} {name}");
        }
        let error = out.write_all(text.as_bytes()).err();
        TraceWriter {
            level: header.level,
            out,
            hasher: Sha256::new(),
            events: 0,
            counts: BTreeMap::new(),
            line: String::with_capacity(128),
            error,
        }
    }

    /// Whether lines of `kind` are recorded at this level.
    pub fn records(&self, kind: Kind) -> bool {
        match self.level {
            TraceLevel::Full => true,
            TraceLevel::Payments => kind.is_payment_level(),
            TraceLevel::Off => false,
        }
    }

    /// Records one line: time, kind code, `fields`, then `tail` (for variable-length lists).
    pub fn record(&mut self, time: SimTime, kind: Kind, fields: &[u64], tail: &[u64]) {
        if !self.records(kind) {
            return;
        }
        self.line.clear();
        let _ = write!(self.line, "{} {}", time.as_micros(), kind as u16);
        for value in fields.iter().chain(tail) {
            let _ = write!(self.line, " {value}");
        }
        self.line.push('\n');
        self.hasher.update(self.line.as_bytes());
        self.events += 1;
        *self.counts.entry(kind as u16).or_default() += 1;
        if self.error.is_none()
            && let Err(e) = self.out.write_all(self.line.as_bytes())
        {
            self.error = Some(e);
        }
    }

    /// Records a delivered message.
    pub fn message(&mut self, time: SimTime, from: u64, to: u64, msg: &Message) {
        if self.records(Kind::Message) {
            let (channel, f1, f2, f3) = message_fields(msg);
            self.record(
                time,
                Kind::Message,
                &[from, to, u64::from(msg.type_number()), channel, f1, f2, f3],
                &[],
            );
        }
    }

    /// Writes the footer and returns the output and the footer.
    pub fn finish(mut self) -> io::Result<(Box<dyn Write>, TraceFooter)> {
        let digest: [u8; 32] = self.hasher.finalize().into();
        let footer = TraceFooter { events: self.events, counts: self.counts, digest: hex(&digest) };
        let mut text = format!("# events {}\n", footer.events);
        for (kind, count) in &footer.counts {
            let _ = writeln!(text, "# count {kind} {count}");
        }
        let _ = writeln!(text, "# digest {}", footer.digest);
        if let Some(e) = self.error {
            return Err(e);
        }
        self.out.write_all(text.as_bytes())?;
        self.out.flush()?;
        Ok((self.out, footer))
    }
}

/// The channel id and three fields a message line carries (see `scenarios/TRACE.md`).
pub fn message_fields(msg: &Message) -> (u64, u64, u64, u64) {
    match msg {
        Message::Init(m) => (0, u64::from(m.initial_routing_sync), 0, 0),
        Message::Error(m) => (m.channel_id.0, 0, 0, 0),
        Message::OpenChannel(m) => {
            (m.temporary_channel_id.0, m.funding_sat, m.push_msat, u64::from(m.feerate_per_kw))
        }
        Message::AcceptChannel(m) => (
            m.temporary_channel_id.0,
            u64::from(m.minimum_depth),
            m.channel_reserve_sat,
            u64::from(m.max_accepted_htlcs),
        ),
        Message::FundingCreated(m) => {
            (m.temporary_channel_id.0, m.funding_txid.short(), u64::from(m.funding_output_index), 0)
        }
        Message::FundingSigned(m) => (m.channel_id.0, 0, 0, 0),
        Message::ChannelReady(m) => (m.channel_id.0, 0, 0, 0),
        Message::Shutdown(m) => (m.channel_id.0, 0, 0, 0),
        Message::ClosingSigned(m) => (m.channel_id.0, m.fee_sat, 0, 0),
        Message::ChannelReestablish(m) => {
            (m.channel_id.0, m.next_commitment_number, m.next_revocation_number, 0)
        }
        Message::UpdateAddHtlc(m) => {
            (m.channel_id.0, m.id, m.amount_msat, u64::from(m.cltv_expiry))
        }
        Message::UpdateFulfillHtlc(m) => (m.channel_id.0, m.id, m.payment_preimage.short(), 0),
        Message::UpdateFailHtlc(m) => (m.channel_id.0, m.id, 0, 0),
        Message::CommitmentSigned(m) => {
            (m.channel_id.0, m.commitment_number, u64::from(m.htlc_count), m.holder_msat)
        }
        Message::RevokeAndAck(m) => (m.channel_id.0, m.revoked_commitment_number, 0, 0),
        Message::AnnouncementSignatures(m) => (m.channel_id.0, m.short_channel_id.0, 0, 0),
        Message::ChannelUpdate(m) => (
            m.short_channel_id.0,
            u64::from(m.timestamp),
            u64::from(m.disabled),
            u64::from(m.policy.fee_base_msat) << 32
                | u64::from(m.policy.fee_proportional_millionths),
        ),
        Message::Gossip(batch) => (0, batch.len() as u64, 0, 0),
    }
}

/// The kind and fields of a node's timer firing (kinds 30 to 36).
pub fn timer_line(node: u64, timer: &Timer) -> (Kind, [u64; 2]) {
    match *timer {
        Timer::GossipFlush => (Kind::Timer, [node, 1]),
        Timer::Reconnect { peer } => (Kind::ReconnectTimer, [node, u64::from(peer.0)]),
        Timer::PeerOffline { peer } => (Kind::PeerOfflineTimer, [node, u64::from(peer.0)]),
        Timer::MppTimeout { payment_hash } => (Kind::MppTimer, [node, payment_hash.short()]),
        Timer::PeerOnline { peer } => (Kind::PeerOnlineTimer, [node, u64::from(peer.0)]),
        Timer::CommitTick => (Kind::CommitTick, [node, 0]),
        Timer::ProcessForwards => (Kind::ProcessForwards, [node, 0]),
    }
}

/// The reason code of a transaction the chain refused (kind 4).
pub fn rejection_code(rejection: &TxRejection) -> u64 {
    match rejection {
        TxRejection::MissingInput(_) => 1,
        TxRejection::DoubleSpend(_) => 2,
        TxRejection::Overspend { .. } => 3,
        TxRejection::Unauthorized(_) => 4,
        TxRejection::Immature(_) => 5,
        TxRejection::DuplicateInput(_) => 6,
    }
}

/// The kind and fields of a node event; `payment` maps a node's payment to its global id.
pub fn event_line(
    node: u64,
    event: &Event,
    payment: impl Fn(u64) -> u64,
) -> (Kind, Vec<u64>, Vec<u64>) {
    let route_tail = |route: &Route| route.nodes().map(|n| u64::from(n.0)).collect::<Vec<_>>();
    match event {
        Event::PeerConnected { peer } => {
            (Kind::PeerConnected, vec![node, u64::from(peer.0)], vec![])
        }
        Event::ChannelOpening { temporary_channel_id, peer, funding_sat } => (
            Kind::ChannelOpening,
            vec![node, u64::from(peer.0), temporary_channel_id.0, *funding_sat],
            vec![],
        ),
        Event::ChannelOpenFailed { temporary_channel_id, peer } => {
            (Kind::ChannelOpenFailed, vec![node, u64::from(peer.0), temporary_channel_id.0], vec![])
        }
        Event::FundingBroadcast { channel_id, peer, txid, funding_sat, .. } => (
            Kind::FundingBroadcast,
            vec![node, u64::from(peer.0), channel_id.0, txid.short(), *funding_sat],
            vec![],
        ),
        Event::ChannelReady { scid, peer, funding_sat, we_opened, .. } => (
            Kind::ChannelReady,
            vec![node, u64::from(peer.0), scid.0, *funding_sat, u64::from(*we_opened)],
            vec![],
        ),
        Event::ChannelAnnounced { scid, .. } => {
            (Kind::ChannelAnnounced, vec![node, scid.0], vec![])
        }
        Event::ChannelClosing { channel_id, peer } => {
            (Kind::ChannelClosing, vec![node, u64::from(peer.0), channel_id.0], vec![])
        }
        Event::ChannelClosed { channel_id, peer, reason } => (
            Kind::ChannelClosed,
            vec![node, u64::from(peer.0), channel_id.0, u64::from(reason.code())],
            vec![],
        ),
        Event::ChannelForceClosed { channel_id, peer, txid } => (
            Kind::ChannelForceClosed,
            vec![node, u64::from(peer.0), channel_id.0, txid.short()],
            vec![],
        ),
        Event::ChannelReestablished { channel_id, peer, retransmitted } => (
            Kind::ChannelReestablished,
            vec![node, u64::from(peer.0), channel_id.0, u64::from(*retransmitted)],
            vec![],
        ),
        Event::OnChainClaimed { channel_id, htlc, amount_sat } => {
            (Kind::OnChainClaimed, vec![node, channel_id.0, u64::from(*htlc), *amount_sat], vec![])
        }
        Event::ProtocolViolation { channel_id, peer, .. } => {
            (Kind::ProtocolViolation, vec![node, u64::from(peer.0), channel_id.0], vec![])
        }
        Event::HtlcForwarded { in_scid, in_htlc_id, out_scid, out_htlc_id, in_msat, out_msat } => (
            Kind::HtlcForwarded,
            vec![node, in_scid.0, *in_htlc_id, out_scid.0, *out_htlc_id, *in_msat, *out_msat],
            vec![],
        ),
        Event::HtlcRefused { in_scid, in_htlc_id, code, .. } => {
            (Kind::HtlcRefused, vec![node, in_scid.0, *in_htlc_id, u64::from(code.0)], vec![])
        }
        Event::ForwardSettled { in_scid, in_htlc_id, fee_msat } => {
            (Kind::ForwardSettled, vec![node, in_scid.0, *in_htlc_id, *fee_msat], vec![])
        }
        Event::ForwardFailed { in_scid, in_htlc_id } => {
            (Kind::ForwardFailed, vec![node, in_scid.0, *in_htlc_id], vec![])
        }
        Event::InvoiceCreated { payment_hash, amount_msat } => (
            Kind::InvoiceCreated,
            vec![node, payment_hash.short(), amount_msat.unwrap_or(0)],
            vec![],
        ),
        Event::InvoicePaid { payment_hash, received_msat } => {
            (Kind::InvoicePaid, vec![node, payment_hash.short(), *received_msat], vec![])
        }
        Event::PartHeld { payment_hash, amount_msat, held_msat, total_msat } => (
            Kind::PartHeld,
            vec![node, payment_hash.short(), *amount_msat, *held_msat, *total_msat],
            vec![],
        ),
        Event::PartsTimedOut { payment_hash, parts, held_msat } => (
            Kind::PartsTimedOut,
            vec![node, payment_hash.short(), u64::from(*parts), *held_msat],
            vec![],
        ),
        Event::PaymentStarted { payment_id, payment_hash, destination, amount_msat, router } => (
            Kind::PaymentStarted,
            vec![
                node,
                payment(payment_id.0),
                u64::from(destination.0),
                *amount_msat,
                payment_hash.short(),
                u64::from(router.code()),
            ],
            vec![],
        ),
        Event::PaymentAttempted { payment_id, attempt, route } => (
            Kind::PaymentAttempted,
            vec![
                node,
                payment(payment_id.0),
                u64::from(*attempt),
                route.sent_msat(),
                route.fee_msat(),
                route.hops.len() as u64,
            ],
            route_tail(route),
        ),
        Event::PaymentAttemptFailed { payment_id, attempt, failure } => (
            Kind::PaymentAttemptFailed,
            vec![
                node,
                payment(payment_id.0),
                u64::from(*attempt),
                failure.failing_hop as u64,
                u64::from(failure.code.0),
                failure.scid.map_or(0, |s| s.0),
                u64::from(failure.on_chain),
            ],
            vec![],
        ),
        Event::PaymentPartSettled { payment_id, attempt, on_chain } => (
            Kind::PartSettled,
            vec![node, payment(payment_id.0), u64::from(*attempt), u64::from(*on_chain)],
            vec![],
        ),
        Event::PaymentSucceeded { payment_id, attempts, parts, fee_msat, on_chain, .. } => (
            Kind::PaymentSucceeded,
            vec![
                node,
                payment(payment_id.0),
                u64::from(*attempts),
                *fee_msat,
                u64::from(*on_chain),
                parts.len() as u64,
                parts[0].hops.len() as u64,
            ],
            route_tail(&parts[0]),
        ),
        Event::PaymentFailed { payment_id, reason, attempts, last_failure } => (
            Kind::PaymentFailed,
            vec![
                node,
                payment(payment_id.0),
                u64::from(*attempts),
                u64::from(reason.code()),
                last_failure.map_or(0, |f| u64::from(f.code.0)),
            ],
            vec![],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn header(level: TraceLevel) -> TraceHeader {
        TraceHeader {
            scenario: "t".into(),
            scenario_sha256: [0; 32],
            seed: 3,
            level,
            nodes: vec!["a".into(), "b".into()],
        }
    }

    #[test]
    fn writes_header_lines_and_footer_with_digest() {
        let sink = Shared::default();
        let mut w = TraceWriter::new(Box::new(sink.clone()), &header(TraceLevel::Full));
        w.record(SimTime(5), Kind::Block, &[100, 2], &[]);
        w.record(SimTime(7), Kind::PaymentSucceeded, &[0, 1, 1, 10, 2], &[1, 2]);
        let (_, footer) = w.finish().unwrap();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "# boltsim trace v2");
        assert_eq!(lines[3], "# seed 3");
        assert_eq!(lines[6], "# node 0 a");
        assert_eq!(lines[8], "5 1 100 2");
        assert_eq!(lines[9], "7 73 0 1 1 10 2 1 2");
        assert_eq!(footer.events, 2);
        let digest: [u8; 32] = Sha256::digest(b"5 1 100 2\n7 73 0 1 1 10 2 1 2\n").into();
        assert_eq!(footer.digest, hex(&digest));
        assert_eq!(lines.last().unwrap(), &format!("# digest {}", footer.digest));
    }

    #[test]
    fn payments_level_keeps_payment_lines_only() {
        let sink = Shared::default();
        let mut w = TraceWriter::new(Box::new(sink), &header(TraceLevel::Payments));
        w.record(SimTime(5), Kind::Block, &[100, 2], &[]);
        w.record(SimTime(6), Kind::PaymentFailed, &[0, 0, 1, 1, 0], &[]);
        let (_, footer) = w.finish().unwrap();
        assert_eq!(footer.events, 1);
        assert_eq!(footer.counts.get(&74), Some(&1));
    }
}
