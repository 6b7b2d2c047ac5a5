//! One Lightning node as a sans-IO state machine. A driver (the simulator, or a test harness)
//! feeds it inputs — a peer connected or disconnected, a message, a block, a timer, a command —
//! each with the current time, and drains the [`Action`]s it wants done: messages to send,
//! transactions to broadcast, timers to set, events to report. The node owns its channels, its
//! wallet, its invoices, its payments and its view of the network; it forwards HTLCs once they
//! are irrevocably committed upstream, fulfils upstream as soon as it learns a preimage, and fails
//! upstream only once the downstream removal is irrevocable. It has no clock, no I/O and no
//! randomness of its own: its random stream is seeded by the driver.

use crate::chain::{Block, Script, Tx};
use crate::channel::{AddHtlcError, Channel, ChannelError, ChannelPhase, GenesisChannel};
use crate::config::NodeConfig;
use crate::event::{CloseReason, Event};
use crate::gossip::{ChannelAnnouncement, ChannelUpdate, GossipMessage, GossipQueue};
use crate::graph::{BaseGraph, GraphView};
use crate::htlc::View;
use crate::ids::{ChannelId, NodeId, PaymentHash, PaymentSecret, Preimage, Scid, SimTime};
use crate::invoice::{Invoice, InvoiceRecord, InvoiceStatus, RouteHint, RouteHintHop};
use crate::msg::{
    AnnouncementSignatures, ErrorMessage, FundingSigned, Init, Message, RevokeAndAck, Shutdown,
    UpdateAddHtlc,
};
use crate::onchain::{FULFILL_DEADLINE_BLOCKS, GRACE_BLOCKS, OnChain, Outcome, WatchKind};
use crate::onion::{ErrorPacket, Failure, FailureCode, HopPayload, Onion};
use crate::payment::{FailureReason, OutboundPayment, PaymentId, PaymentStatus, Verdict};
use crate::policy::PolicyChange;
use crate::router::{FirstHop, Learned, Route, RouteRequest, Router, RouterConfig};
use crate::snapshot::{ChannelSnapshot, NodeSnapshot, OfferedOutput};
use crate::wallet::{Wallet, WalletError};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use thiserror::Error;

/// Blocks an outgoing HTLC must have left before it expires for us to forward it (a forward that
/// would expire sooner fails with `expiry_too_soon`).
pub const MIN_OUTGOING_CLTV_MARGIN_BLOCKS: u32 = 3;
/// Most route hints an invoice carries.
pub const MAX_ROUTE_HINTS: usize = 8;

/// Something the node wants its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `msg` to `to`.
    Send {
        /// The peer.
        to: NodeId,
        /// The message.
        msg: Message,
    },
    /// Open a connection to `peer`.
    Connect {
        /// The peer.
        peer: NodeId,
    },
    /// Broadcast a transaction.
    Broadcast {
        /// The transaction.
        tx: Tx,
    },
    /// Call [`Node::timer_fired`] with `timer` at `at`.
    SetTimer {
        /// When.
        at: SimTime,
        /// Which timer.
        timer: Timer,
    },
    /// Report an event.
    Emit(Event),
}

/// The node's timers, named for what they do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// Relay queued gossip to the peers.
    GossipFlush,
    /// Try to reconnect to a channel peer.
    Reconnect {
        /// The peer.
        peer: NodeId,
    },
    /// A peer has been away long enough to disable our public channels with it.
    PeerOffline {
        /// The peer.
        peer: NodeId,
    },
    /// The parts of a multi-part payment to us have been held long enough: fail them all.
    MppTimeout {
        /// The payment's hash.
        payment_hash: PaymentHash,
    },
}

/// First reconnection delay, seconds; doubled after each failure up to [`RECONNECT_MAX_S`].
pub const RECONNECT_FIRST_S: u64 = 1;
/// Longest reconnection delay, seconds.
pub const RECONNECT_MAX_S: u64 = 300;

/// A `lightning-cli`-style command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Connect to a peer.
    Connect {
        /// The peer.
        peer: NodeId,
    },
    /// Open a channel to a connected peer, funded from the wallet.
    FundChannel {
        /// The peer.
        peer: NodeId,
        /// Channel value, sat.
        amount_sat: u64,
        /// Given to the peer at the start, msat.
        push_msat: u64,
        /// Announce the channel once it has 6 confirmations.
        announce: bool,
    },
    /// Issue an invoice.
    CreateInvoice {
        /// Amount, msat; `None` lets the payer choose.
        amount_msat: Option<u64>,
        /// What is sold.
        description: String,
        /// Expiry, seconds; `None` uses the configured default.
        expiry_s: Option<u32>,
    },
    /// List issued invoices and their status.
    ListInvoices,
    /// Pay an invoice.
    Pay {
        /// The invoice.
        invoice: Invoice,
        /// Amount, msat, for an invoice without one.
        amount_msat: Option<u64>,
        /// The router to plan it with; `None` uses the node's.
        router: Option<RouterConfig>,
    },
    /// Pay a node without an invoice (the payer picks the preimage). Never split.
    Keysend {
        /// The payee.
        destination: NodeId,
        /// Amount, msat.
        amount_msat: u64,
        /// The router to plan it with; `None` uses the node's.
        router: Option<RouterConfig>,
    },
    /// Start a cooperative close of every open channel with a peer.
    CloseChannel {
        /// The peer.
        peer: NodeId,
    },
    /// List channels.
    ListChannels,
    /// List connected peers.
    ListPeers,
    /// List outbound payments.
    ListPayments,
    /// Close every channel with a peer unilaterally: broadcast our commitment.
    ForceClose {
        /// The peer.
        peer: NodeId,
    },
    /// Change our forwarding policy on the channels with `peer` (all channels if `None`), and
    /// announce it with a channel_update.
    SetPolicy {
        /// The peer, or every peer.
        peer: Option<NodeId>,
        /// What changes.
        change: PolicyChange,
    },
}

/// The answer to a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandOutput {
    /// Done (or started, for connect and close).
    Done,
    /// The channel open started; its temporary id.
    Opening(ChannelId),
    /// The new invoice.
    Invoice(Invoice),
    /// Invoices, by payment hash.
    Invoices(Vec<InvoiceSummary>),
    /// The payment started.
    Payment(PaymentId),
    /// Channels, by channel id.
    Channels(Vec<ChannelSummary>),
    /// Connected peers, by id.
    Peers(Vec<NodeId>),
    /// Payments, by id.
    Payments(Vec<PaymentSummary>),
}

/// Why a command was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CommandError {
    /// The peer is not connected.
    #[error("peer {peer} is not connected")]
    PeerNotConnected {
        /// The peer.
        peer: NodeId,
    },
    /// A node cannot do this with itself.
    #[error("cannot do this with ourselves")]
    SelfPeer,
    /// The on-chain wallet cannot fund it.
    #[error(transparent)]
    Wallet(#[from] WalletError),
    /// An amount is zero or out of range.
    #[error("invalid amount: {reason}")]
    InvalidAmount {
        /// Why.
        reason: &'static str,
    },
    /// The invoice expired.
    #[error("invoice expired")]
    InvoiceExpired,
    /// This payment hash is already being paid or was paid.
    #[error("payment already in flight or paid")]
    DuplicatePayment,
    /// No open channel with the peer.
    #[error("no open channel with {peer}")]
    NoChannel {
        /// The peer.
        peer: NodeId,
    },
}

/// An invoice as `listinvoices` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceSummary {
    /// Its hash.
    pub payment_hash: PaymentHash,
    /// Its amount, msat.
    pub amount_msat: Option<u64>,
    /// Its description.
    pub description: String,
    /// Its status now.
    pub status: InvoiceStatus,
}

/// A channel as `listchannels` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelSummary {
    /// Its id.
    pub channel_id: ChannelId,
    /// Its short id, once confirmed.
    pub scid: Option<Scid>,
    /// The peer.
    pub peer: NodeId,
    /// Its phase.
    pub phase: ChannelPhase,
    /// Whether we opened it.
    pub we_opened: bool,
    /// Its value, sat.
    pub funding_sat: u64,
    /// Our balance in our current commitment, msat, HTLCs excluded.
    pub ours_msat: u64,
    /// The peer's balance there, msat.
    pub theirs_msat: u64,
    /// HTLCs we offered in our commitment, msat.
    pub offered_msat: u64,
    /// HTLCs we received in our commitment, msat.
    pub received_msat: u64,
    /// What we could send in one more HTLC, msat.
    pub available_msat: u64,
    /// Whether it is announced.
    pub public: bool,
}

/// A payment as `listpayments` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentSummary {
    /// Its id.
    pub payment_id: PaymentId,
    /// Its hash.
    pub payment_hash: PaymentHash,
    /// The payee.
    pub destination: NodeId,
    /// What the payee receives, msat.
    pub amount_msat: u64,
    /// Where it stands.
    pub status: PaymentStatus,
    /// Attempts made.
    pub attempts: u32,
    /// The fee paid, msat, once paid.
    pub fee_msat: Option<u64>,
}

/// Where an HTLC we offered came from.
#[derive(Clone, Copy, Debug)]
enum HtlcSource {
    /// A part of one of our payments.
    Local { payment: PaymentId, attempt: u32 },
    /// An HTLC we received and forwarded.
    Forwarded { channel: ChannelId, htlc_id: u64, in_msat: u64, out_msat: u64 },
}

/// The parts of a multi-part payment to us held until they add up to its total.
#[derive(Clone, Debug)]
struct HeldParts {
    /// What the payer says the parts add up to, msat.
    total_msat: u64,
    /// What the held parts add up to, msat.
    held_msat: u64,
    /// The parts, as (channel, HTLC id).
    parts: Vec<(ChannelId, u64)>,
    /// When the first part arrived.
    first_at: SimTime,
}

/// The router `config` of a node, built on first use.
fn router_for(
    routers: &mut Vec<(RouterConfig, Box<dyn Router>)>,
    config: RouterConfig,
) -> &mut dyn Router {
    let index = match routers.iter().position(|(c, _)| *c == config) {
        Some(index) => index,
        None => {
            routers.push((config, config.build()));
            routers.len() - 1
        }
    };
    routers[index].1.as_mut()
}

#[derive(Clone, Copy, Debug, Default)]
struct Peer {
    connected: bool,
    ready: bool,
    /// Next reconnection delay, seconds (0: not trying).
    backoff_s: u64,
    /// We disabled our public channels with this peer while it was away.
    disabled_while_away: bool,
}

/// One Lightning node.
pub struct Node {
    id: NodeId,
    config: NodeConfig,
    rng: ChaCha20Rng,
    now: SimTime,
    height: u32,
    peers: BTreeMap<NodeId, Peer>,
    channels: BTreeMap<ChannelId, Channel>,
    by_scid: BTreeMap<Scid, ChannelId>,
    wallet: Wallet,
    onchain: OnChain,
    graph: GraphView,
    gossip: GossipQueue,
    invoices: BTreeMap<PaymentHash, InvoiceRecord>,
    payments: BTreeMap<PaymentId, OutboundPayment>,
    payment_by_hash: BTreeMap<PaymentHash, PaymentId>,
    sources: BTreeMap<(ChannelId, u64), HtlcSource>,
    /// Parts of incomplete multi-part payments to us, by payment hash.
    held: BTreeMap<PaymentHash, HeldParts>,
    /// What our own payments' HTLCs in flight use of each channel direction beyond the first
    /// hop, msat (routers account for it when they plan more parts).
    in_flight_by_channel: BTreeMap<(Scid, NodeId), u64>,
    /// The routers its payments have used, each with what it learnt (kept across restarts:
    /// lnd persists mission control and LDK's users persist the scorer).
    routers: Vec<(RouterConfig, Box<dyn Router>)>,
    dirty: BTreeSet<ChannelId>,
    actions: Vec<Action>,
}

impl Node {
    /// A node with no peers, channels or funds. `seed` seeds its random stream (preimages,
    /// payment secrets, temporary channel ids); `graph` is the network every node knows at the
    /// start.
    pub fn new(id: NodeId, config: NodeConfig, seed: [u8; 32], graph: Arc<BaseGraph>) -> Node {
        Node {
            id,
            config,
            rng: ChaCha20Rng::from_seed(seed),
            now: SimTime::ZERO,
            height: 0,
            peers: BTreeMap::new(),
            channels: BTreeMap::new(),
            by_scid: BTreeMap::new(),
            wallet: Wallet::new(id),
            onchain: OnChain::new(id),
            graph: GraphView::new(graph),
            gossip: GossipQueue::default(),
            invoices: BTreeMap::new(),
            payments: BTreeMap::new(),
            payment_by_hash: BTreeMap::new(),
            sources: BTreeMap::new(),
            held: BTreeMap::new(),
            in_flight_by_channel: BTreeMap::new(),
            routers: Vec::new(),
            dirty: BTreeSet::new(),
            actions: Vec::new(),
        }
    }

    /// Its id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Its settings.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The best block height it has seen.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Confirmed on-chain funds, sat.
    pub fn wallet_balance_sat(&self) -> u64 {
        self.wallet.balance_sat()
    }

    /// On-chain funds spent by transactions it built that have not confirmed yet, sat.
    pub fn wallet_reserved_sat(&self) -> u64 {
        self.wallet.reserved_sat()
    }

    /// Its channels, by channel id, as read-only pictures.
    pub fn channel_snapshots(&self) -> impl Iterator<Item = ChannelSnapshot> + '_ {
        self.channels.values().map(ChannelSnapshot::of)
    }

    /// A read-only picture of the node: wallet, channels, on-chain HTLC outputs it offered.
    pub fn snapshot(&self) -> NodeSnapshot {
        let offered_outputs = self
            .onchain
            .watched()
            .filter_map(|(outpoint, w)| match w.kind {
                WatchKind::Htlc { offered_by_us: true, cltv_expiry, .. } => Some(OfferedOutput {
                    outpoint: *outpoint,
                    amount_sat: w.amount_sat,
                    cltv_expiry,
                    confirmed_height: w.confirmed_height,
                    claimed: w.claim.is_some(),
                }),
                _ => None,
            })
            .collect();
        NodeSnapshot {
            id: self.id,
            implementation: self.config.implementation,
            height: self.height,
            wallet_sat: self.wallet.balance_sat(),
            wallet_reserved_sat: self.wallet.reserved_sat(),
            channels: self.channel_snapshots().collect(),
            offered_outputs,
        }
    }

    /// Whether the node still waits on the chain: a claim to make or a failure to finalise.
    pub fn awaits_chain(&self) -> bool {
        !self.onchain.is_idle()
    }

    /// Its view of the network.
    pub fn graph(&self) -> &GraphView {
        &self.graph
    }

    /// Its on-chain claims in progress.
    pub fn onchain(&self) -> &OnChain {
        &self.onchain
    }

    /// Outbound payment `id`.
    pub fn payment(&self, id: PaymentId) -> Option<&OutboundPayment> {
        self.payments.get(&id)
    }

    /// Its outbound payments, by id.
    pub fn payments(&self) -> impl Iterator<Item = &OutboundPayment> {
        self.payments.values()
    }

    /// Its invoices, by payment hash.
    pub fn invoices(&self) -> impl Iterator<Item = &InvoiceRecord> {
        self.invoices.values()
    }

    /// Takes the actions queued so far.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// Moves the queued actions into `out` (keeps `out`'s allocation for the next call).
    pub fn drain_actions(&mut self, out: &mut Vec<Action>) {
        out.append(&mut self.actions);
    }

    fn emit(&mut self, event: Event) {
        self.actions.push(Action::Emit(event));
    }

    fn send(&mut self, to: NodeId, msg: Message) {
        self.actions.push(Action::Send { to, msg });
    }

    fn random_bytes(&mut self) -> [u8; 32] {
        let mut bytes = [0u8; 32];
        self.rng.fill_bytes(&mut bytes);
        bytes
    }

    fn tick(&mut self, now: SimTime) {
        debug_assert!(now >= self.now, "time never runs backwards");
        self.now = now;
    }

    // ---- set-up ----

    /// Adds a channel that exists at the start of the run; `peer_config` is the peer's settings
    /// (the limits it declared bind us).
    pub fn add_genesis_channel(&mut self, spec: &GenesisChannel, peer_config: &NodeConfig) {
        let channel = Channel::new_genesis(self.id, spec, &self.config, peer_config);
        let id = channel.id();
        if let Some(scid) = channel.scid() {
            self.by_scid.insert(scid, id);
        }
        self.channels.insert(id, channel);
    }

    // ---- inputs ----

    /// A connection to `peer` is up: both sides send `init`.
    pub fn peer_connected(&mut self, now: SimTime, peer: NodeId) {
        self.tick(now);
        let entry = self.peers.entry(peer).or_default();
        entry.connected = true;
        entry.ready = false;
        self.send(peer, Message::Init(Init { initial_routing_sync: true }));
    }

    /// The connection to `peer` is gone: messages in flight are lost. Channels not yet funded
    /// are forgotten; funded ones forget their unsigned updates (unsigned adds of ours are failed
    /// back), and we try to reconnect.
    pub fn peer_disconnected(&mut self, now: SimTime, peer: NodeId) {
        self.tick(now);
        self.disconnect(peer);
        self.flush();
    }

    fn disconnect(&mut self, peer: NodeId) {
        let dropped = self.mark_down(peer, true);
        self.fail_dropped(dropped);
    }

    /// Marks `peer` disconnected: channels not yet funded are forgotten, funded ones forget
    /// their unsigned updates; returns our dropped adds (to fail back once every peer that is
    /// gone is marked so). Schedules the disabling of public channels, and (if `retry`) the
    /// reconnection.
    fn mark_down(&mut self, peer: NodeId, retry: bool) -> Vec<(ChannelId, u64)> {
        let Some(p) = self.peers.get_mut(&peer) else { return Vec::new() };
        if !p.connected {
            return Vec::new();
        }
        p.connected = false;
        p.ready = false;
        let ids: Vec<ChannelId> =
            self.channels.values().filter(|c| c.peer() == peer).map(Channel::id).collect();
        let mut dropped = Vec::new();
        let mut keep_trying = false;
        for id in ids {
            let channel = self.channels.get_mut(&id).expect("listed");
            if channel.phase() < ChannelPhase::AwaitingReady {
                self.close_failed(id, peer);
                continue;
            }
            if channel.phase() >= ChannelPhase::ForceClosing {
                continue;
            }
            keep_trying = true;
            dropped.extend(channel.disconnected().into_iter().map(|htlc| (id, htlc.id)));
        }
        if keep_trying {
            if retry {
                self.schedule_reconnect(peer);
            }
            let at = self.now.plus_secs(u64::from(self.config.disable_after_offline_s));
            self.actions.push(Action::SetTimer { at, timer: Timer::PeerOffline { peer } });
        }
        dropped
    }

    /// Fails back the adds a disconnection dropped.
    fn fail_dropped(&mut self, dropped: Vec<(ChannelId, u64)>) {
        for (id, htlc_id) in dropped {
            if let Some(source) = self.sources.remove(&(id, htlc_id)) {
                self.fail_here(source, id, FailureCode::TEMPORARY_CHANNEL_FAILURE, false);
            }
        }
    }

    fn schedule_reconnect(&mut self, peer: NodeId) {
        let p = self.peers.entry(peer).or_default();
        let delay_s = p.backoff_s.max(RECONNECT_FIRST_S);
        p.backoff_s = (delay_s * 2).min(RECONNECT_MAX_S);
        let at = self.now.plus_secs(delay_s);
        self.actions.push(Action::SetTimer { at, timer: Timer::Reconnect { peer } });
    }

    /// A connection attempt to `peer` failed (it is down or unreachable): try again later.
    pub fn connection_failed(&mut self, now: SimTime, peer: NodeId) {
        self.tick(now);
        if self.channels.values().any(|c| c.peer() == peer && c.needs_reestablish()) {
            self.schedule_reconnect(peer);
        }
    }

    /// The node restarts after a crash. It kept what it persists (channels, invoices, payments,
    /// its wallet and on-chain claims) and lost what lives in memory (connections, queued
    /// gossip); it reconnects to its channel peers. The driver then replays the blocks it missed.
    pub fn restart(&mut self, now: SimTime) {
        self.tick(now);
        // Every connection is gone before anything is retried over one of them.
        let peers: Vec<NodeId> = self.peers.keys().copied().collect();
        let mut dropped = Vec::new();
        for peer in peers {
            dropped.extend(self.mark_down(peer, false));
        }
        self.gossip = GossipQueue::default();
        self.fail_dropped(dropped);
        let mut channel_peers: Vec<NodeId> =
            self.channels.values().filter(|c| c.needs_reestablish()).map(Channel::peer).collect();
        channel_peers.sort();
        channel_peers.dedup();
        for peer in channel_peers {
            self.peers.entry(peer).or_default().backoff_s = 0;
            self.actions.push(Action::Connect { peer });
        }
        // Held parts survive (they are in the channels); their timers did not.
        let timeout_s = u64::from(self.config.mpp_timeout_s);
        for (&payment_hash, held) in &self.held {
            let at = held.first_at.plus_secs(timeout_s).max(self.now);
            self.actions.push(Action::SetTimer { at, timer: Timer::MppTimeout { payment_hash } });
        }
        self.flush();
    }

    /// Whether `peer` is connected and `init` was exchanged.
    pub fn is_peer_ready(&self, peer: NodeId) -> bool {
        self.peers.get(&peer).is_some_and(|p| p.connected && p.ready)
    }

    /// A timer fired.
    pub fn timer_fired(&mut self, now: SimTime, timer: Timer) {
        self.tick(now);
        match timer {
            Timer::GossipFlush => {
                let peers: Vec<NodeId> =
                    self.peers.iter().filter(|(_, p)| p.ready).map(|(id, _)| *id).collect();
                for (peer, batch) in self.gossip.flush(&peers) {
                    self.send(peer, Message::Gossip(batch));
                }
            }
            Timer::Reconnect { peer } => {
                let wanted =
                    self.channels.values().any(|c| c.peer() == peer && c.needs_reestablish());
                if wanted && !self.peers.get(&peer).is_some_and(|p| p.connected) {
                    self.actions.push(Action::Connect { peer });
                }
            }
            Timer::PeerOffline { peer } => {
                if !self.is_peer_ready(peer) {
                    self.set_away_disabled(peer, true);
                }
            }
            Timer::MppTimeout { payment_hash } => self.mpp_timed_out(payment_hash),
        }
        self.flush();
    }

    /// Disables (or re-enables) in gossip our public channels with a peer that is away.
    fn set_away_disabled(&mut self, peer: NodeId, away: bool) {
        let p = self.peers.entry(peer).or_default();
        if p.disabled_while_away == away {
            return;
        }
        p.disabled_while_away = away;
        let ids: Vec<ChannelId> = self
            .channels
            .values()
            .filter(|c| c.peer() == peer && c.is_announced() && c.phase() == ChannelPhase::Normal)
            .map(Channel::id)
            .collect();
        for id in ids {
            self.publish_update(id);
        }
    }

    /// A block was connected.
    pub fn block_connected(&mut self, now: SimTime, block: &Block) {
        self.tick(now);
        self.height = self.height.max(block.height);
        let mut outcomes = Vec::new();
        for confirmed in &block.txs {
            let tx = &confirmed.tx;
            self.wallet.apply_confirmed(tx);
            let ids: Vec<ChannelId> = self
                .channels
                .values()
                .filter(|c| c.phase() != ChannelPhase::Closed)
                .filter(|c| {
                    c.funding_outpoint().is_some_and(|f| f.txid == tx.txid || tx.spends(&f))
                })
                .map(Channel::id)
                .collect();
            for id in ids {
                let channel = self.channels.get_mut(&id).expect("listed above");
                let funding = channel.funding_outpoint().expect("filtered on it");
                if !tx.spends(&funding) {
                    channel.on_funding_confirmed(block.height, confirmed.tx_index);
                    if let Some(scid) = channel.scid() {
                        self.by_scid.insert(scid, id);
                    }
                    continue;
                }
                let peer = channel.peer();
                let reason = if tx.kind == crate::chain::TxKind::MutualClose {
                    CloseReason::Mutual
                } else {
                    let ours = channel.phase() == ChannelPhase::ForceClosing
                        && channel.holder_commitment_tx().txid == tx.txid;
                    self.onchain.commitment_confirmed(
                        channel,
                        tx,
                        block.height,
                        ours,
                        self.config.feerate_per_kw,
                    );
                    if ours { CloseReason::LocalForce } else { CloseReason::RemoteForce }
                };
                let was_public = channel.is_announced();
                channel.on_funding_spent();
                self.emit(Event::ChannelClosed { channel_id: id, peer, reason });
                if was_public {
                    self.publish_update(id);
                }
            }
            self.onchain.tx_confirmed(tx, block.height, self.config.feerate_per_kw, &mut outcomes);
        }
        for scid in block.closed_channels.iter() {
            self.graph.mark_spent(*scid, block.height);
        }
        self.graph.forget_spent(block.height);
        for tx in self.onchain.on_height(block.height, self.config.feerate_per_kw, &mut outcomes) {
            self.actions.push(Action::Broadcast { tx });
        }
        for outcome in outcomes {
            self.apply_onchain(outcome);
        }
        self.check_deadlines();
        let abandoned: Vec<(ChannelId, NodeId)> = self
            .channels
            .values()
            .filter(|c| c.funding_abandoned(self.height))
            .map(|c| (c.id(), c.peer()))
            .collect();
        for (id, peer) in abandoned {
            self.channels.remove(&id);
            self.emit(Event::ChannelOpenFailed { temporary_channel_id: id, peer });
        }
        let ids: Vec<ChannelId> = self.channels.keys().copied().collect();
        for id in ids {
            let channel = self.channels.get_mut(&id).expect("listed above");
            if channel.phase() == ChannelPhase::ForceClosing {
                // Rebroadcast until it confirms (the funding may not even have confirmed yet).
                let tx = channel.holder_commitment_tx();
                self.actions.push(Action::Broadcast { tx });
                continue;
            }
            let peer = channel.peer();
            if !self.peers.get(&peer).is_some_and(|p| p.ready) {
                continue;
            }
            if let Some(ready) = channel.ready_to_send(self.height) {
                let became_normal = channel.phase() == ChannelPhase::Normal;
                self.send(peer, Message::ChannelReady(ready));
                if became_normal {
                    self.on_channel_normal(id);
                }
            }
            let channel = self.channels.get_mut(&id).expect("listed above");
            if channel.wants_announcement(self.height) {
                let msg = AnnouncementSignatures {
                    channel_id: id,
                    short_channel_id: channel.scid().expect("announced channels are confirmed"),
                };
                self.send(peer, Message::AnnouncementSignatures(msg));
            }
        }
        self.flush();
    }

    /// Acts on what the chain settled: a preimage the peer revealed goes upstream at once; a
    /// final failure fails the upstream HTLC or our payment's attempt.
    fn apply_onchain(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::OfferedFulfilled { channel_id, htlc_id, preimage } => {
                if let Some(source) = self.sources.remove(&(channel_id, htlc_id)) {
                    self.settle_upstream_from(source, preimage, true);
                }
            }
            Outcome::OfferedFailed { channel_id, htlc_id } => {
                if let Some(source) = self.sources.remove(&(channel_id, htlc_id)) {
                    let code = FailureCode::PERMANENT_CHANNEL_FAILURE;
                    self.fail_here(source, channel_id, code, true);
                }
            }
            Outcome::Claimed { channel_id, htlc, amount_sat } => {
                self.emit(Event::OnChainClaimed { channel_id, htlc, amount_sat });
            }
        }
    }

    /// BOLT 5 deadlines: an offered HTLC still there [`GRACE_BLOCKS`] after its expiry, or a
    /// received HTLC whose preimage we know [`FULFILL_DEADLINE_BLOCKS`] before its expiry, sends
    /// the channel on chain.
    fn check_deadlines(&mut self) {
        let height = self.height;
        let due: Vec<ChannelId> = self
            .channels
            .values()
            .filter(|c| {
                c.phase() >= ChannelPhase::AwaitingReady && c.phase() < ChannelPhase::ForceClosing
            })
            .filter(|c| {
                c.offered_htlcs().any(|h| height >= h.cltv_expiry + GRACE_BLOCKS)
                    || c.received_htlcs().any(|h| {
                        matches!(h.removal, Some(crate::htlc::Removal::Fulfill(_)))
                            && height + FULFILL_DEADLINE_BLOCKS >= h.cltv_expiry
                    })
            })
            .map(Channel::id)
            .collect();
        for id in due {
            self.force_close(id);
        }
    }

    /// Closes channel `id` unilaterally: broadcasts our commitment.
    fn force_close(&mut self, id: ChannelId) {
        let Some(channel) = self.channels.get_mut(&id) else { return };
        let peer = channel.peer();
        let was_public = channel.is_announced() && channel.phase() == ChannelPhase::Normal;
        let Some(tx) = channel.force_close() else { return };
        self.emit(Event::ChannelForceClosed { channel_id: id, peer, txid: tx.txid });
        if self.is_peer_ready(peer) {
            self.send(peer, Message::Error(ErrorMessage { channel_id: id }));
        }
        self.actions.push(Action::Broadcast { tx });
        if was_public {
            self.publish_update(id);
        }
    }

    /// A message arrived from `from`.
    pub fn handle_message(&mut self, now: SimTime, from: NodeId, msg: Message) {
        self.tick(now);
        if let Err((channel_id, error)) = self.dispatch(from, msg) {
            self.fail_channel(channel_id, from, error);
        }
        self.flush();
    }

    fn dispatch(&mut self, from: NodeId, msg: Message) -> Result<(), (ChannelId, ChannelError)> {
        if let Some(id) = msg.channel_id()
            && !matches!(msg, Message::Error(_))
            && self.channel_with(id, from).is_some_and(|c| c.phase() >= ChannelPhase::ForceClosing)
        {
            // A channel closing on chain takes no more updates; a preimage the peer still sends
            // is worth learning, though, and a peer that wants to re-establish is told.
            if let Message::ChannelReestablish(_) = &msg {
                self.send(from, Message::Error(ErrorMessage { channel_id: id }));
            }
            if let Message::UpdateFulfillHtlc(fulfill) = &msg {
                let preimage = fulfill.payment_preimage;
                let known = self.channels[&id]
                    .offered_htlc(fulfill.id)
                    .is_some_and(|h| h.payment_hash == preimage.payment_hash());
                if known && let Some(source) = self.sources.remove(&(id, fulfill.id)) {
                    self.settle_upstream(source, preimage);
                }
            }
            return Ok(());
        }
        match msg {
            Message::Init(init) => {
                let peer = self.peers.entry(from).or_default();
                peer.ready = true;
                peer.backoff_s = 0;
                self.emit(Event::PeerConnected { peer: from });
                let funded: Vec<ChannelId> = self
                    .channels
                    .values()
                    .filter(|c| c.peer() == from && c.needs_reestablish())
                    .map(Channel::id)
                    .collect();
                for id in funded {
                    let msg = self.channels[&id].reestablish();
                    self.send(from, Message::ChannelReestablish(msg));
                }
                if init.initial_routing_sync {
                    let gossip = self.graph.overlay_gossip();
                    if !gossip.is_empty() {
                        self.send(from, Message::Gossip(gossip.into()));
                    }
                }
                Ok(())
            }
            Message::Error(err) => {
                // The peer failed the channel: before funding it is forgotten; after, we close
                // it on chain.
                self.close_failed(err.channel_id, from);
                Ok(())
            }
            Message::ChannelReestablish(msg) => {
                let id = msg.channel_id;
                let channel = self.channel_with(id, from).ok_or((
                    id,
                    ChannelError::UnexpectedMessage {
                        message: "channel_reestablish",
                        phase: ChannelPhase::Closed,
                    },
                ))?;
                if !channel.needs_reestablish() {
                    return Ok(());
                }
                let resend = channel.on_reestablish(&msg).map_err(|e| (id, e))?;
                let retransmitted = resend.len() as u32;
                for m in resend {
                    self.send(from, m);
                }
                self.emit(Event::ChannelReestablished {
                    channel_id: id,
                    peer: from,
                    retransmitted,
                });
                self.dirty.insert(id);
                self.set_away_disabled(from, false);
                Ok(())
            }
            Message::OpenChannel(open) => {
                if self.channels.contains_key(&open.temporary_channel_id) {
                    self.send(
                        from,
                        Message::Error(ErrorMessage { channel_id: open.temporary_channel_id }),
                    );
                    return Ok(());
                }
                match Channel::new_inbound(self.id, from, &open, &self.config) {
                    Ok((channel, accept)) => {
                        self.channels.insert(channel.id(), channel);
                        self.send(from, Message::AcceptChannel(accept));
                    }
                    Err(_) => {
                        self.send(
                            from,
                            Message::Error(ErrorMessage { channel_id: open.temporary_channel_id }),
                        );
                    }
                }
                Ok(())
            }
            Message::AcceptChannel(accept) => {
                let temp = accept.temporary_channel_id;
                let channel = self.channel_with(temp, from).ok_or((
                    temp,
                    ChannelError::UnexpectedMessage {
                        message: "accept_channel",
                        phase: ChannelPhase::Closed,
                    },
                ))?;
                if channel.on_accept(&accept).is_err() {
                    self.send(from, Message::Error(ErrorMessage { channel_id: temp }));
                    self.close_failed(temp, from);
                    return Ok(());
                }
                let funding_sat = channel.funding_sat();
                let dust = channel.local_params().dust_limit_sat;
                match self.wallet.fund(
                    funding_sat,
                    Script::funding(self.id, from),
                    self.config.feerate_per_kw,
                    dust,
                ) {
                    Ok(tx) => {
                        let mut channel = self.channels.remove(&temp).expect("found above");
                        let created = channel.on_funding_built(tx, 0);
                        self.channels.insert(channel.id(), channel);
                        self.send(from, Message::FundingCreated(created));
                    }
                    Err(_) => {
                        self.channels.remove(&temp);
                        self.send(from, Message::Error(ErrorMessage { channel_id: temp }));
                        self.emit(Event::ChannelOpenFailed {
                            temporary_channel_id: temp,
                            peer: from,
                        });
                    }
                }
                Ok(())
            }
            Message::FundingCreated(created) => {
                let height = self.height;
                let temp = created.temporary_channel_id;
                let channel = self.channel_with(temp, from).ok_or((
                    temp,
                    ChannelError::UnexpectedMessage {
                        message: "funding_created",
                        phase: ChannelPhase::Closed,
                    },
                ))?;
                channel.on_funding_created(&created, height).map_err(|e| (temp, e))?;
                let channel = self.channels.remove(&temp).expect("found above");
                let id = channel.id();
                self.channels.insert(id, channel);
                self.send(from, Message::FundingSigned(FundingSigned { channel_id: id }));
                Ok(())
            }
            Message::FundingSigned(signed) => {
                let id = signed.channel_id;
                let channel = self.channel_with(id, from).ok_or((
                    id,
                    ChannelError::UnexpectedMessage {
                        message: "funding_signed",
                        phase: ChannelPhase::Closed,
                    },
                ))?;
                let tx = channel.on_funding_signed().map_err(|e| (id, e))?;
                let funding_sat = channel.funding_sat();
                let temporary_channel_id = channel.temporary_id();
                self.emit(Event::FundingBroadcast {
                    channel_id: id,
                    temporary_channel_id,
                    peer: from,
                    txid: tx.txid,
                    funding_sat,
                });
                self.actions.push(Action::Broadcast { tx });
                Ok(())
            }
            Message::ChannelReady(ready) => {
                let id = ready.channel_id;
                let channel = self.channel_with(id, from).ok_or((
                    id,
                    ChannelError::UnexpectedMessage {
                        message: "channel_ready",
                        phase: ChannelPhase::Closed,
                    },
                ))?;
                if channel.on_channel_ready().map_err(|e| (id, e))? {
                    self.on_channel_normal(id);
                }
                Ok(())
            }
            Message::AnnouncementSignatures(sigs) => {
                let id = sigs.channel_id;
                let channel = self.channel_with(id, from).ok_or((
                    id,
                    ChannelError::UnexpectedMessage {
                        message: "announcement_signatures",
                        phase: ChannelPhase::Closed,
                    },
                ))?;
                if channel.on_announcement_signatures() {
                    self.announce(id);
                }
                Ok(())
            }
            Message::ChannelUpdate(update) => {
                if let Some(&id) = self.by_scid.get(&update.short_channel_id) {
                    let channel = self.channels.get_mut(&id).expect("indexed channels exist");
                    if channel.peer() == from {
                        channel.on_peer_update(&update);
                    }
                }
                Ok(())
            }
            Message::Gossip(batch) => {
                for msg in batch.iter() {
                    let new = match msg {
                        GossipMessage::Announcement(a) => self.graph.apply_announcement(a),
                        GossipMessage::Update(u) => self.graph.apply_update(u),
                    };
                    if new {
                        self.queue_gossip(*msg, Some(from));
                    }
                }
                Ok(())
            }
            Message::UpdateAddHtlc(add) => {
                let id = add.channel_id;
                let channel = self
                    .channel_with(id, from)
                    .ok_or((id, ChannelError::BadHtlcId { id: add.id }))?;
                channel.on_add(&add).map_err(|e| (id, e))
            }
            Message::UpdateFulfillHtlc(fulfill) => {
                let id = fulfill.channel_id;
                let channel = self
                    .channel_with(id, from)
                    .ok_or((id, ChannelError::BadHtlcId { id: fulfill.id }))?;
                channel.on_fulfill(&fulfill).map_err(|e| (id, e))?;
                if let Some(source) = self.sources.remove(&(id, fulfill.id)) {
                    self.settle_upstream(source, fulfill.payment_preimage);
                }
                Ok(())
            }
            Message::UpdateFailHtlc(fail) => {
                let id = fail.channel_id;
                let channel = self
                    .channel_with(id, from)
                    .ok_or((id, ChannelError::BadHtlcId { id: fail.id }))?;
                channel.on_fail(&fail).map_err(|e| (id, e))
            }
            Message::CommitmentSigned(signed) => {
                let id = signed.channel_id;
                let channel = self.channel_with(id, from).ok_or((
                    id,
                    ChannelError::BadCommitment { number: signed.commitment_number },
                ))?;
                let revoke: RevokeAndAck =
                    channel.on_commitment_signed(&signed).map_err(|e| (id, e))?;
                self.send(from, Message::RevokeAndAck(revoke));
                self.dirty.insert(id);
                Ok(())
            }
            Message::RevokeAndAck(revoke) => {
                let id = revoke.channel_id;
                let channel =
                    self.channel_with(id, from).ok_or((id, ChannelError::UnexpectedRevocation))?;
                let outcome = channel.on_revoke_and_ack(&revoke).map_err(|e| (id, e))?;
                self.dirty.insert(id);
                for htlc_id in outcome.locked_in {
                    self.process_incoming(id, htlc_id);
                }
                for (htlc_id, packet) in outcome.failed {
                    if let Some(source) = self.sources.remove(&(id, htlc_id)) {
                        self.fail_upstream(source, packet);
                    }
                }
                Ok(())
            }
            Message::Shutdown(shutdown) => {
                let id = shutdown.channel_id;
                let channel = self.channel_with(id, from).ok_or((
                    id,
                    ChannelError::UnexpectedMessage {
                        message: "shutdown",
                        phase: ChannelPhase::Closed,
                    },
                ))?;
                if channel.on_shutdown().map_err(|e| (id, e))? {
                    self.send(from, Message::Shutdown(Shutdown { channel_id: id }));
                    self.emit(Event::ChannelClosing { channel_id: id, peer: from });
                }
                self.dirty.insert(id);
                Ok(())
            }
            Message::ClosingSigned(closing) => {
                let id = closing.channel_id;
                let channel = self.channel_with(id, from).ok_or((
                    id,
                    ChannelError::UnexpectedMessage {
                        message: "closing_signed",
                        phase: ChannelPhase::Closed,
                    },
                ))?;
                let (tx, reply) = channel.on_closing_signed(&closing).map_err(|e| (id, e))?;
                if let Some(reply) = reply {
                    self.send(from, Message::ClosingSigned(reply));
                }
                self.actions.push(Action::Broadcast { tx });
                Ok(())
            }
        }
    }

    /// The channel `id` if it exists and belongs to `peer`.
    fn channel_with(&mut self, id: ChannelId, peer: NodeId) -> Option<&mut Channel> {
        self.channels.get_mut(&id).filter(|c| c.peer() == peer)
    }

    fn fail_channel(&mut self, channel_id: ChannelId, peer: NodeId, error: ChannelError) {
        self.emit(Event::ProtocolViolation { channel_id, peer, error });
        self.send(peer, Message::Error(ErrorMessage { channel_id }));
        self.close_failed(channel_id, peer);
    }

    /// Ends a channel of `peer` after an error: before funding it is forgotten (and any funding
    /// inputs return to the wallet); after, it is closed as failed.
    fn close_failed(&mut self, channel_id: ChannelId, peer: NodeId) {
        let Some(channel) = self.channels.get_mut(&channel_id).filter(|c| c.peer() == peer) else {
            return;
        };
        if channel.phase() < ChannelPhase::AwaitingReady {
            let channel = self.channels.remove(&channel_id).expect("found above");
            if let Some(tx) = channel.unbroadcast_funding() {
                self.wallet.release(tx);
            }
            self.emit(Event::ChannelOpenFailed { temporary_channel_id: channel_id, peer });
        } else if channel.phase() < ChannelPhase::ForceClosing {
            self.force_close(channel_id);
        }
    }

    /// Sends `commitment_signed` on every channel touched by this input that has something to
    /// sign, and moves cooperative closes forward.
    fn flush(&mut self) {
        while let Some(id) = self.dirty.pop_first() {
            let Some(channel) = self.channels.get_mut(&id) else { continue };
            let peer = channel.peer();
            if !self.peers.get(&peer).is_some_and(|p| p.ready) {
                continue;
            }
            if let Some(signed) = channel.send_commitment() {
                self.send(peer, Message::CommitmentSigned(signed));
            }
            let channel = self.channels.get_mut(&id).expect("still there");
            if let Some(closing) = channel.closing_proposal() {
                self.send(peer, Message::ClosingSigned(closing));
            }
        }
    }

    fn on_channel_normal(&mut self, id: ChannelId) {
        let channel = &self.channels[&id];
        let scid = channel.scid().expect("invariant: a normal channel is confirmed");
        let (peer, funding_sat, we_opened) =
            (channel.peer(), channel.funding_sat(), channel.we_opened());
        self.by_scid.insert(scid, id);
        self.emit(Event::ChannelReady { channel_id: id, scid, peer, funding_sat, we_opened });
        // Tell the peer our policy even before the channel is announced (BOLT 7), so it can
        // give route hints for it.
        let update = self.make_update(id);
        self.send(peer, Message::ChannelUpdate(update));
    }

    /// A fresh channel_update for our direction of channel `id`.
    fn make_update(&mut self, id: ChannelId) -> ChannelUpdate {
        let now_s = u32::try_from(self.now.as_secs()).unwrap_or(u32::MAX);
        let away = self
            .channels
            .get(&id)
            .and_then(|c| self.peers.get(&c.peer()))
            .is_some_and(|p| p.disabled_while_away);
        let channel =
            self.channels.get_mut(&id).expect("invariant: updates are made for known channels");
        channel.new_update(now_s, away).expect("invariant: updates are for confirmed channels")
    }

    /// Makes a fresh channel_update for channel `id` and publishes it: by gossip for a public
    /// channel, straight to the peer for a private one.
    fn publish_update(&mut self, id: ChannelId) {
        let Some(channel) = self.channels.get(&id) else { return };
        if channel.scid().is_none() {
            return;
        }
        let (peer, public) = (channel.peer(), channel.is_announced());
        let update = self.make_update(id);
        if public {
            if self.graph.apply_update(&update) {
                self.queue_gossip(GossipMessage::Update(update), None);
            }
        } else if self.is_peer_ready(peer) {
            self.send(peer, Message::ChannelUpdate(update));
        }
    }

    /// Our current channel_update for `id`, without bumping its timestamp (for onion errors).
    fn current_update(&self, id: ChannelId) -> Option<ChannelUpdate> {
        self.channels.get(&id)?.current_update(false)
    }

    fn announce(&mut self, id: ChannelId) {
        let channel = &self.channels[&id];
        let scid = channel.scid().expect("invariant: announced channels are confirmed");
        let announcement = ChannelAnnouncement {
            short_channel_id: scid,
            node_1: self.id.min(channel.peer()),
            node_2: self.id.max(channel.peer()),
            capacity_sat: channel.funding_sat(),
        };
        let funding = channel.funding_outpoint().expect("invariant: announced channels are funded");
        self.emit(Event::ChannelAnnounced { scid, funding });
        let update = self.make_update(id);
        for msg in [GossipMessage::Announcement(announcement), GossipMessage::Update(update)] {
            let new = match &msg {
                GossipMessage::Announcement(a) => self.graph.apply_announcement(a),
                GossipMessage::Update(u) => self.graph.apply_update(u),
            };
            if new {
                self.queue_gossip(msg, None);
            }
        }
    }

    fn queue_gossip(&mut self, msg: GossipMessage, source: Option<NodeId>) {
        if self.gossip.push(msg, source) {
            let at = self.now.plus_micros(self.config.gossip_flush_interval_ms * 1000);
            self.actions.push(Action::SetTimer { at, timer: Timer::GossipFlush });
        }
    }

    // ---- HTLCs ----

    fn process_incoming(&mut self, channel_id: ChannelId, htlc_id: u64) {
        let htlc = self.channels[&channel_id]
            .received_htlc(htlc_id)
            .expect("invariant: a locked-in HTLC exists")
            .clone();
        let result = if htlc.refused {
            let update = self.current_update(channel_id);
            Err(Failure { code: FailureCode::TEMPORARY_CHANNEL_FAILURE, channel_update: update })
        } else {
            self.route_incoming(channel_id, &htlc)
        };
        if let Err(failure) = result {
            let channel = self.channels.get_mut(&channel_id).expect("exists");
            let in_scid = channel.scid().expect("invariant: HTLCs flow on confirmed channels");
            let code = failure.code;
            let fail = channel
                .send_fail(htlc_id, ErrorPacket::new(failure))
                .expect("invariant: a locked-in HTLC can be failed");
            let peer = channel.peer();
            if let Some(fail) = fail {
                self.send(peer, Message::UpdateFailHtlc(fail));
            }
            self.emit(Event::HtlcRefused { in_scid, in_htlc_id: htlc_id, code });
        }
        self.dirty.insert(channel_id);
    }

    /// Claims an HTLC that ends here, or forwards it; `Err` is the failure to send back.
    fn route_incoming(
        &mut self,
        channel_id: ChannelId,
        htlc: &crate::htlc::Htlc,
    ) -> Result<(), Failure> {
        let htlc_id = htlc.id;
        match htlc.onion.payload().clone() {
            HopPayload::Final {
                amt_to_forward_msat,
                outgoing_cltv_value,
                payment_secret,
                total_msat,
                keysend_preimage,
            } => self
                .claim(
                    channel_id,
                    htlc,
                    amt_to_forward_msat,
                    outgoing_cltv_value,
                    payment_secret,
                    total_msat,
                    keysend_preimage,
                )
                .map(|claimed| {
                    let Some(preimage) = claimed else { return }; // a part held for the rest
                    let channel = self.channels.get_mut(&channel_id).expect("exists");
                    let fulfill = channel
                        .send_fulfill(htlc_id, preimage)
                        .expect("invariant: a locked-in HTLC can be fulfilled");
                    let peer = channel.peer();
                    if let Some(fulfill) = fulfill {
                        self.send(peer, Message::UpdateFulfillHtlc(fulfill));
                    }
                }),
            HopPayload::Forward { short_channel_id, amt_to_forward_msat, outgoing_cltv_value } => {
                self.forward(
                    channel_id,
                    htlc,
                    short_channel_id,
                    amt_to_forward_msat,
                    outgoing_cltv_value,
                )
            }
        }
    }

    /// Decides whether an HTLC that ends here pays an invoice (or is a keysend): `Some` is the
    /// preimage to fulfil it with, `None` a part of a multi-part payment held until the parts add
    /// up to their `total_msat` (BOLT 4); the part that completes them fulfils the others too.
    #[allow(clippy::too_many_arguments)]
    fn claim(
        &mut self,
        channel_id: ChannelId,
        htlc: &crate::htlc::Htlc,
        amt_to_forward_msat: u64,
        outgoing_cltv_value: u32,
        payment_secret: Option<PaymentSecret>,
        total_msat: u64,
        keysend_preimage: Option<Preimage>,
    ) -> Result<Option<Preimage>, Failure> {
        let reject = || Err(Failure::new(FailureCode::INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS));
        if htlc.amount_msat < amt_to_forward_msat {
            return Err(Failure::new(FailureCode::FINAL_INCORRECT_HTLC_AMOUNT));
        }
        if htlc.cltv_expiry < outgoing_cltv_value {
            return Err(Failure::new(FailureCode::FINAL_INCORRECT_CLTV_EXPIRY));
        }
        if let Some(preimage) = keysend_preimage {
            // A keysend is never split.
            if preimage.payment_hash() != htlc.payment_hash || total_msat > htlc.amount_msat {
                return reject();
            }
            self.emit(Event::InvoicePaid {
                payment_hash: htlc.payment_hash,
                received_msat: htlc.amount_msat,
            });
            return Ok(Some(preimage));
        }
        let (now, height) = (self.now, self.height);
        let hash = htlc.payment_hash;
        let Some(record) = self.invoices.get(&hash) else { return reject() };
        let invoice = &record.invoice;
        let amount_ok = invoice.amount_msat.is_none_or(|a| total_msat >= a && total_msat <= 2 * a);
        if record.status(now) != InvoiceStatus::Unpaid
            || payment_secret != Some(invoice.payment_secret)
            || !amount_ok
            || htlc.cltv_expiry < height + u32::from(invoice.min_final_cltv_expiry_delta)
        {
            return reject();
        }
        let held = self.held.entry(hash).or_insert(HeldParts {
            total_msat,
            held_msat: 0,
            parts: Vec::new(),
            first_at: now,
        });
        if held.total_msat != total_msat {
            return reject();
        }
        held.parts.push((channel_id, htlc.id));
        held.held_msat += htlc.amount_msat;
        if held.held_msat < total_msat {
            let (first, held_msat) = (held.parts.len() == 1, held.held_msat);
            if first {
                let at = now.plus_secs(u64::from(self.config.mpp_timeout_s));
                self.actions
                    .push(Action::SetTimer { at, timer: Timer::MppTimeout { payment_hash: hash } });
            }
            self.emit(Event::PartHeld {
                payment_hash: hash,
                amount_msat: htlc.amount_msat,
                held_msat,
                total_msat,
            });
            return Ok(None);
        }
        let held = self.held.remove(&hash).expect("just updated");
        let record = self.invoices.get_mut(&hash).expect("checked above");
        record.mark_paid(now, held.held_msat);
        let preimage = record.preimage;
        self.emit(Event::InvoicePaid { payment_hash: hash, received_msat: held.held_msat });
        for &(channel, htlc_id) in &held.parts {
            if (channel, htlc_id) != (channel_id, htlc.id) {
                self.fulfill_held(channel, htlc_id, preimage);
            }
        }
        Ok(Some(preimage))
    }

    /// Fulfils a held part once its payment is complete (or claims it on chain, if its channel
    /// went there meanwhile).
    fn fulfill_held(&mut self, channel_id: ChannelId, htlc_id: u64, preimage: Preimage) {
        self.onchain.learn_preimage(channel_id, htlc_id, preimage);
        let Some(channel) = self.channels.get_mut(&channel_id) else { return };
        let Ok(fulfill) = channel.send_fulfill(htlc_id, preimage) else { return };
        let peer = channel.peer();
        if let Some(fulfill) = fulfill {
            self.send(peer, Message::UpdateFulfillHtlc(fulfill));
        }
        self.dirty.insert(channel_id);
    }

    /// The parts of payment `payment_hash` did not all arrive in time: fail every held part with
    /// `mpp_timeout`.
    fn mpp_timed_out(&mut self, payment_hash: PaymentHash) {
        let timeout_us = u64::from(self.config.mpp_timeout_s) * 1_000_000;
        let Some(held) = self.held.get(&payment_hash) else { return };
        if self.now.micros_since(held.first_at) < timeout_us {
            return; // a later set of parts for the same hash, with its own timer
        }
        let held = self.held.remove(&payment_hash).expect("just found");
        for &(channel_id, htlc_id) in &held.parts {
            let Some(channel) = self.channels.get_mut(&channel_id) else { continue };
            let packet = ErrorPacket::new(Failure::new(FailureCode::MPP_TIMEOUT));
            let Ok(fail) = channel.send_fail(htlc_id, packet) else { continue };
            let peer = channel.peer();
            if let Some(fail) = fail {
                self.send(peer, Message::UpdateFailHtlc(fail));
            }
            self.dirty.insert(channel_id);
        }
        self.emit(Event::PartsTimedOut {
            payment_hash,
            parts: held.parts.len() as u32,
            held_msat: held.held_msat,
        });
    }

    fn forward(
        &mut self,
        in_channel: ChannelId,
        htlc: &crate::htlc::Htlc,
        out_scid: Scid,
        out_msat: u64,
        out_cltv: u32,
    ) -> Result<(), Failure> {
        let Some(&out_id) = self.by_scid.get(&out_scid) else {
            return Err(Failure::new(FailureCode::UNKNOWN_NEXT_PEER));
        };
        let with_update = |code| Failure { code, channel_update: self.current_update(out_id) };
        let out = &self.channels[&out_id];
        if out.phase() == ChannelPhase::Closed {
            return Err(Failure::new(FailureCode::UNKNOWN_NEXT_PEER));
        }
        if out.phase() != ChannelPhase::Normal || out.is_disabled() {
            return Err(with_update(FailureCode::CHANNEL_DISABLED));
        }
        if !self.is_peer_ready(out.peer()) || !out.is_live() {
            return Err(with_update(FailureCode::TEMPORARY_CHANNEL_FAILURE));
        }
        let policy = *out.local_policy();
        if out_msat < policy.htlc_minimum_msat {
            return Err(with_update(FailureCode::AMOUNT_BELOW_MINIMUM));
        }
        if out_msat > policy.htlc_maximum_msat {
            return Err(with_update(FailureCode::TEMPORARY_CHANNEL_FAILURE));
        }
        if htlc.amount_msat < out_msat.saturating_add(policy.fee_msat(out_msat)) {
            return Err(with_update(FailureCode::FEE_INSUFFICIENT));
        }
        if htlc.cltv_expiry < out_cltv.saturating_add(u32::from(policy.cltv_expiry_delta)) {
            return Err(with_update(FailureCode::INCORRECT_CLTV_EXPIRY));
        }
        if out_cltv < self.height + MIN_OUTGOING_CLTV_MARGIN_BLOCKS {
            return Err(with_update(FailureCode::EXPIRY_TOO_SOON));
        }
        if out_cltv > self.height + self.config.max_total_cltv_delta {
            return Err(Failure::new(FailureCode::EXPIRY_TOO_FAR));
        }
        let update = self.current_update(out_id);
        let out = self.channels.get_mut(&out_id).expect("exists");
        let add: UpdateAddHtlc = out
            .send_add(out_msat, htlc.payment_hash, out_cltv, htlc.onion.peel())
            .map_err(|e| Failure {
                code: match e {
                    AddHtlcError::BelowMinimum => FailureCode::AMOUNT_BELOW_MINIMUM,
                    _ => FailureCode::TEMPORARY_CHANNEL_FAILURE,
                },
                channel_update: update,
            })?;
        let peer = out.peer();
        let in_scid =
            self.channels[&in_channel].scid().expect("invariant: HTLCs flow on confirmed channels");
        self.sources.insert(
            (out_id, add.id),
            HtlcSource::Forwarded {
                channel: in_channel,
                htlc_id: htlc.id,
                in_msat: htlc.amount_msat,
                out_msat,
            },
        );
        self.emit(Event::HtlcForwarded {
            in_scid,
            in_htlc_id: htlc.id,
            out_scid,
            out_htlc_id: add.id,
            in_msat: htlc.amount_msat,
            out_msat,
        });
        self.send(peer, Message::UpdateAddHtlc(add));
        self.dirty.insert(out_id);
        Ok(())
    }

    /// We learnt the preimage of an HTLC we offered, off chain.
    fn settle_upstream(&mut self, source: HtlcSource, preimage: Preimage) {
        self.settle_upstream_from(source, preimage, false);
    }

    /// We learnt the preimage of an HTLC we offered (`on_chain`: from the peer's claim).
    fn settle_upstream_from(&mut self, source: HtlcSource, preimage: Preimage, on_chain: bool) {
        match source {
            HtlcSource::Local { payment, attempt } => {
                self.part_settled(payment, attempt, preimage, on_chain)
            }
            HtlcSource::Forwarded { channel, htlc_id, in_msat, out_msat } => {
                let Some(upstream) = self.channels.get_mut(&channel) else { return };
                let Ok(fulfill) = upstream.send_fulfill(htlc_id, preimage) else { return };
                let (peer, in_scid) = (upstream.peer(), upstream.scid().expect("confirmed"));
                if let Some(fulfill) = fulfill {
                    self.send(peer, Message::UpdateFulfillHtlc(fulfill));
                }
                // If the upstream channel is on chain, claim the HTLC there with the preimage.
                self.onchain.learn_preimage(channel, htlc_id, preimage);
                self.dirty.insert(channel);
                self.emit(Event::ForwardSettled {
                    in_scid,
                    in_htlc_id: htlc_id,
                    fee_msat: in_msat - out_msat,
                });
            }
        }
    }

    /// The removal of an HTLC we offered is irrevocable and it failed.
    fn fail_upstream(&mut self, source: HtlcSource, packet: ErrorPacket) {
        match source {
            HtlcSource::Local { payment, attempt } => self.attempt_failed(payment, attempt, packet),
            HtlcSource::Forwarded { channel, htlc_id, .. } => {
                self.fail_incoming(channel, htlc_id, packet.wrap())
            }
        }
    }

    /// An HTLC we offered on `channel_id` failed here, not downstream (we dropped it on a
    /// disconnection, or it timed out on chain): we are the failing hop.
    fn fail_here(
        &mut self,
        source: HtlcSource,
        channel_id: ChannelId,
        code: FailureCode,
        on_chain: bool,
    ) {
        match source {
            HtlcSource::Local { payment, attempt } => {
                let scid = self.channels.get(&channel_id).and_then(Channel::scid);
                self.attempt_failed_here(payment, attempt, scid, code, on_chain);
            }
            HtlcSource::Forwarded { channel, htlc_id, .. } => {
                let failure = Failure { code, channel_update: self.current_update(channel_id) };
                self.fail_incoming(channel, htlc_id, ErrorPacket::new(failure));
            }
        }
    }

    fn fail_incoming(&mut self, channel: ChannelId, htlc_id: u64, packet: ErrorPacket) {
        let Some(upstream) = self.channels.get_mut(&channel) else { return };
        let Ok(fail) = upstream.send_fail(htlc_id, packet) else { return };
        let (peer, in_scid) = (upstream.peer(), upstream.scid().expect("confirmed"));
        if let Some(fail) = fail {
            self.send(peer, Message::UpdateFailHtlc(fail));
        }
        self.dirty.insert(channel);
        self.emit(Event::ForwardFailed { in_scid, in_htlc_id: htlc_id });
    }

    // ---- payments ----

    fn first_hops(&self) -> Vec<FirstHop> {
        self.channels
            .values()
            .filter(|c| c.phase() == ChannelPhase::Normal && self.is_peer_ready(c.peer()))
            .filter_map(|c| {
                Some(FirstHop {
                    scid: c.scid()?,
                    peer: c.peer(),
                    available_msat: c.available_to_send_msat(),
                    htlc_minimum_msat: c.remote_params().htlc_minimum_msat,
                })
            })
            .filter(|f| f.available_msat > 0)
            .collect()
    }

    fn start_payment(&mut self, mut payment: OutboundPayment) -> PaymentId {
        let id = PaymentId(self.payments.len() as u64);
        payment.id = id;
        self.emit(Event::PaymentStarted {
            payment_id: id,
            payment_hash: payment.payment_hash,
            destination: payment.destination,
            amount_msat: payment.amount_msat,
            router: payment.router,
        });
        self.payment_by_hash.insert(payment.payment_hash, id);
        self.payments.insert(id, payment);
        self.try_send(id);
        id
    }

    /// Sends parts of payment `id` until what is in flight covers its amount, or gives up: with
    /// no route for the rest, or past the deadline, no new part is sent and the payment fails
    /// once no part is in flight.
    fn try_send(&mut self, id: PaymentId) {
        loop {
            let now = self.now;
            let payment = self.payments.get_mut(&id).expect("invariant: sending a known payment");
            if payment.status != PaymentStatus::InFlight {
                return;
            }
            if payment.give_up.is_none() && now >= payment.deadline {
                payment.give_up = Some(FailureReason::Timeout);
            }
            if let Some(reason) = payment.give_up {
                if payment.in_flight.is_empty() {
                    self.payment_failed(id, reason);
                }
                return;
            }
            if payment.in_flight_msat() >= payment.amount_msat {
                return;
            }
            let routes = self.plan(id);
            if routes.is_empty() {
                self.payments.get_mut(&id).expect("exists").give_up = Some(FailureReason::NoRoute);
                continue;
            }
            for route in routes {
                if !self.send_part(id, route) {
                    break; // our own channel refused it: plan the rest again without it
                }
            }
        }
    }

    /// Routes for what payment `id` still has to send, from its router. A router that does not
    /// split gets the whole rest first, then halves of it down to the payment's smallest part
    /// (as lnd does), while the payment may have more parts.
    fn plan(&mut self, id: PaymentId) -> Vec<Route> {
        let first_hops = self.first_hops();
        let payment = &self.payments[&id];
        let parts_left = if payment.mpp {
            (payment.max_parts as usize).saturating_sub(payment.in_flight.len())
        } else {
            usize::from(payment.in_flight.is_empty())
        };
        if parts_left == 0 {
            return Vec::new();
        }
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&payment.payment_hash.0[..8]);
        let mut req = RouteRequest {
            source: self.id,
            target: payment.destination,
            amount_msat: payment.amount_msat - payment.in_flight_msat(),
            current_height: self.height,
            final_cltv_delta: u32::from(payment.min_final_cltv_expiry_delta)
                + u32::from(self.config.final_cltv_margin_blocks),
            max_fee_msat: payment.max_fee_msat.saturating_sub(payment.in_flight_fee_msat()),
            max_total_cltv_delta: self.config.max_total_cltv_delta,
            max_hops: usize::from(self.config.max_route_hops),
            first_hops: &first_hops,
            hints: &payment.route_hints,
            excluded_channels: &payment.excluded_channels,
            excluded_nodes: &payment.excluded_nodes,
            policy_overrides: &payment.policy_overrides,
            in_flight: &self.in_flight_by_channel,
            now: self.now,
            fuzz_seed: u64::from_be_bytes(seed),
            max_parts: parts_left,
        };
        let router = router_for(&mut self.routers, payment.router);
        loop {
            let routes = router.plan(&self.graph, &req);
            if !routes.is_empty() {
                return routes;
            }
            let half_msat = req.amount_msat / 2;
            if router.splits() || parts_left < 2 || half_msat < payment.min_part_msat.max(1) {
                return routes;
            }
            req.amount_msat = half_msat;
        }
    }

    /// Sends one part of payment `id` over `route`; `false` if our own channel refused it (the
    /// channel is then excluded for this payment).
    fn send_part(&mut self, id: PaymentId, route: Route) -> bool {
        let payment = self.payments.get_mut(&id).expect("invariant: sending a known payment");
        let onion = Self::onion_for(&route, payment);
        let hash = payment.payment_hash;
        let first = route.hops[0];
        payment.attempts += 1;
        payment.last_route = Some(route.clone());
        let attempt = payment.attempts;
        self.emit(Event::PaymentAttempted { payment_id: id, attempt, route: route.clone() });
        let channel_id = self.by_scid[&first.scid];
        let channel = self.channels.get_mut(&channel_id).expect("first hops are known channels");
        match channel.send_add(first.amount_msat, hash, first.cltv_expiry, onion) {
            Ok(add) => {
                let peer = channel.peer();
                self.sources
                    .insert((channel_id, add.id), HtlcSource::Local { payment: id, attempt });
                self.send(peer, Message::UpdateAddHtlc(add));
                self.dirty.insert(channel_id);
                self.track_in_flight(&route, true);
                let payment = self.payments.get_mut(&id).expect("exists");
                payment.in_flight.insert(attempt, route);
                true
            }
            Err(_) => {
                let payment = self.payments.get_mut(&id).expect("exists");
                payment.excluded_channels.insert((first.scid, self.id));
                let failure = crate::payment::AttemptFailure {
                    failing_hop: 0,
                    code: FailureCode::TEMPORARY_CHANNEL_FAILURE,
                    scid: Some(first.scid),
                    on_chain: false,
                };
                payment.last_failure = Some(failure);
                self.emit(Event::PaymentAttemptFailed { payment_id: id, attempt, failure });
                false
            }
        }
    }

    fn onion_for(route: &Route, payment: &OutboundPayment) -> Onion {
        let last = route.hops.len() - 1;
        let payloads = (0..=last)
            .map(|i| {
                if i == last {
                    HopPayload::Final {
                        amt_to_forward_msat: route.hops[i].amount_msat,
                        outgoing_cltv_value: route.hops[i].cltv_expiry,
                        payment_secret: payment.payment_secret,
                        total_msat: payment.amount_msat,
                        keysend_preimage: payment.keysend_preimage,
                    }
                } else {
                    let next = route.hops[i + 1];
                    HopPayload::Forward {
                        short_channel_id: next.scid,
                        amt_to_forward_msat: next.amount_msat,
                        outgoing_cltv_value: next.cltv_expiry,
                    }
                }
            })
            .collect();
        Onion::new(payloads)
    }

    /// Part `attempt` of payment `id` failed downstream; the error names the failing hop.
    fn attempt_failed(&mut self, id: PaymentId, attempt: u32, packet: ErrorPacket) {
        let me = self.id;
        let Some(payment) = self.payments.get_mut(&id) else { return };
        let Some(route) = payment.in_flight.remove(&attempt) else { return };
        let (failing_hop, failure) = packet.unwrap_at_sender();
        let (record, verdict) = payment.learn(me, &route, failing_hop, &failure);
        self.part_failed(id, attempt, &route, record, verdict);
    }

    /// Part `attempt` of payment `id` failed at our own channel (`scid`) with `code`; retry
    /// without it.
    fn attempt_failed_here(
        &mut self,
        id: PaymentId,
        attempt: u32,
        scid: Option<Scid>,
        code: FailureCode,
        on_chain: bool,
    ) {
        let me = self.id;
        let Some(payment) = self.payments.get_mut(&id) else { return };
        let Some(route) = payment.in_flight.remove(&attempt) else { return };
        if let Some(scid) = scid {
            payment.excluded_channels.insert((scid, me));
        }
        let record = crate::payment::AttemptFailure { failing_hop: 0, code, scid, on_chain };
        self.part_failed(id, attempt, &route, record, Verdict::Retry);
    }

    /// Adds (or, once it ended, removes) a part's HTLCs beyond the first hop to what our
    /// payments have in flight per channel direction.
    fn track_in_flight(&mut self, route: &Route, add: bool) {
        for (i, hop) in route.hops.iter().enumerate().skip(1) {
            let key = (hop.scid, route.hops[i - 1].node_id);
            let used = self.in_flight_by_channel.entry(key).or_insert(0);
            if add {
                *used += hop.amount_msat;
            } else {
                *used -= hop.amount_msat;
                if *used == 0 {
                    self.in_flight_by_channel.remove(&key);
                }
            }
        }
    }

    /// Records a failed part, lets the payment's router learn from it, and goes on.
    fn part_failed(
        &mut self,
        id: PaymentId,
        attempt: u32,
        route: &Route,
        failure: crate::payment::AttemptFailure,
        verdict: Verdict,
    ) {
        let (me, now) = (self.id, self.now);
        self.track_in_flight(route, false);
        let payment = self.payments.get_mut(&id).expect("invariant: a known payment");
        payment.last_failure = Some(failure);
        if let Verdict::GiveUp(reason) = verdict {
            payment.give_up.get_or_insert(reason);
        }
        let config = payment.router;
        self.emit(Event::PaymentAttemptFailed { payment_id: id, attempt, failure });
        let learned = Learned::Failed { failing_hop: failure.failing_hop, code: failure.code };
        router_for(&mut self.routers, config).learn(&self.graph, now, me, route, learned);
        self.try_send(id);
    }

    /// Part `attempt` of payment `id` settled: the first one to settle pays the payment.
    fn part_settled(&mut self, id: PaymentId, attempt: u32, preimage: Preimage, on_chain: bool) {
        let (me, now) = (self.id, self.now);
        let Some(payment) = self.payments.get_mut(&id) else { return };
        let Some(route) = payment.in_flight.remove(&attempt) else { return };
        payment.settled.insert(attempt, route.clone());
        let config = payment.router;
        self.track_in_flight(&route, false);
        self.emit(Event::PaymentPartSettled { payment_id: id, attempt, on_chain });
        router_for(&mut self.routers, config).learn(
            &self.graph,
            now,
            me,
            &route,
            Learned::Succeeded,
        );
        let payment = self.payments.get_mut(&id).expect("exists");
        if payment.status != PaymentStatus::InFlight {
            return;
        }
        payment.status = PaymentStatus::Succeeded { preimage, at: now };
        let parts: BTreeMap<u32, Route> = payment
            .settled
            .iter()
            .chain(&payment.in_flight)
            .map(|(attempt, route)| (*attempt, route.clone()))
            .collect();
        let parts: Vec<Route> = parts.into_values().collect();
        let fee_msat = parts.iter().map(Route::fee_msat).sum();
        let attempts = payment.attempts;
        self.emit(Event::PaymentSucceeded {
            payment_id: id,
            preimage,
            attempts,
            parts,
            fee_msat,
            on_chain,
        });
    }

    fn payment_failed(&mut self, id: PaymentId, reason: FailureReason) {
        let now = self.now;
        let payment = self.payments.get_mut(&id).expect("invariant: failing a known payment");
        payment.status = PaymentStatus::Failed { reason, at: now };
        let (attempts, last_failure) = (payment.attempts, payment.last_failure);
        self.emit(Event::PaymentFailed { payment_id: id, reason, attempts, last_failure });
    }

    // ---- commands ----

    /// Runs a command.
    pub fn command(
        &mut self,
        now: SimTime,
        command: Command,
    ) -> Result<CommandOutput, CommandError> {
        self.tick(now);
        let result = self.run_command(command);
        self.flush();
        result
    }

    fn run_command(&mut self, command: Command) -> Result<CommandOutput, CommandError> {
        match command {
            Command::Connect { peer } => {
                if peer == self.id {
                    return Err(CommandError::SelfPeer);
                }
                if !self.peers.get(&peer).is_some_and(|p| p.connected) {
                    self.actions.push(Action::Connect { peer });
                }
                Ok(CommandOutput::Done)
            }
            Command::FundChannel { peer, amount_sat, push_msat, announce } => {
                if peer == self.id {
                    return Err(CommandError::SelfPeer);
                }
                if !self.is_peer_ready(peer) {
                    return Err(CommandError::PeerNotConnected { peer });
                }
                if amount_sat == 0 || amount_sat > self.config.channel.max_funding_sat {
                    return Err(CommandError::InvalidAmount {
                        reason: "funding must be 1 sat to 2^24-1 sat",
                    });
                }
                if push_msat > amount_sat * 1000 {
                    return Err(CommandError::InvalidAmount { reason: "push above the funding" });
                }
                let needed_sat = amount_sat
                    + crate::chain::weight::fee_sat(
                        self.config.feerate_per_kw,
                        crate::chain::weight::funding_tx(1),
                    );
                let available_sat = self.wallet.balance_sat();
                if available_sat < needed_sat {
                    return Err(WalletError::InsufficientFunds { needed_sat, available_sat }.into());
                }
                let temporary_id = ChannelId(self.rng.next_u64());
                let (channel, open) = Channel::new_outbound(
                    temporary_id,
                    self.id,
                    peer,
                    amount_sat,
                    push_msat,
                    announce,
                    &self.config,
                );
                self.channels.insert(temporary_id, channel);
                self.send(peer, Message::OpenChannel(open));
                self.emit(Event::ChannelOpening {
                    temporary_channel_id: temporary_id,
                    peer,
                    funding_sat: amount_sat,
                });
                Ok(CommandOutput::Opening(temporary_id))
            }
            Command::CreateInvoice { amount_msat, description, expiry_s } => {
                if amount_msat == Some(0) {
                    return Err(CommandError::InvalidAmount { reason: "invoice amount is zero" });
                }
                let preimage = Preimage(self.random_bytes());
                let payment_secret = PaymentSecret(self.random_bytes());
                let invoice = Invoice {
                    payee: self.id,
                    payment_hash: preimage.payment_hash(),
                    payment_secret,
                    amount_msat,
                    description,
                    created_at: self.now,
                    expiry_s: expiry_s.unwrap_or(self.config.invoice_expiry_s),
                    min_final_cltv_expiry_delta: self.config.min_final_cltv_expiry_delta,
                    route_hints: self.route_hints(amount_msat.unwrap_or(1)),
                };
                self.emit(Event::InvoiceCreated {
                    payment_hash: invoice.payment_hash,
                    amount_msat,
                });
                self.invoices
                    .insert(invoice.payment_hash, InvoiceRecord::new(invoice.clone(), preimage));
                Ok(CommandOutput::Invoice(invoice))
            }
            Command::ListInvoices => Ok(CommandOutput::Invoices(
                self.invoices
                    .values()
                    .map(|r| InvoiceSummary {
                        payment_hash: r.invoice.payment_hash,
                        amount_msat: r.invoice.amount_msat,
                        description: r.invoice.description.clone(),
                        status: r.status(self.now),
                    })
                    .collect(),
            )),
            Command::Pay { invoice, amount_msat, router } => {
                if invoice.payee == self.id {
                    return Err(CommandError::SelfPeer);
                }
                if invoice.is_expired(self.now) {
                    return Err(CommandError::InvoiceExpired);
                }
                let amount_msat = match (invoice.amount_msat, amount_msat) {
                    (Some(a), _) | (None, Some(a)) if a > 0 => a,
                    _ => return Err(CommandError::InvalidAmount { reason: "no amount, or zero" }),
                };
                if self.payment_by_hash.get(&invoice.payment_hash).is_some_and(|p| {
                    !matches!(self.payments[p].status, PaymentStatus::Failed { .. })
                }) {
                    return Err(CommandError::DuplicatePayment);
                }
                let payment =
                    self.new_payment(invoice.payee, invoice.payment_hash, amount_msat, router);
                let payment = OutboundPayment {
                    payment_secret: Some(invoice.payment_secret),
                    min_final_cltv_expiry_delta: invoice.min_final_cltv_expiry_delta,
                    route_hints: invoice.route_hints,
                    mpp: true,
                    ..payment
                };
                Ok(CommandOutput::Payment(self.start_payment(payment)))
            }
            Command::Keysend { destination, amount_msat, router } => {
                if destination == self.id {
                    return Err(CommandError::SelfPeer);
                }
                if amount_msat == 0 {
                    return Err(CommandError::InvalidAmount { reason: "zero" });
                }
                let preimage = Preimage(self.random_bytes());
                let payment =
                    self.new_payment(destination, preimage.payment_hash(), amount_msat, router);
                let payment = OutboundPayment { keysend_preimage: Some(preimage), ..payment };
                Ok(CommandOutput::Payment(self.start_payment(payment)))
            }
            Command::CloseChannel { peer } => {
                if !self.is_peer_ready(peer) {
                    return Err(CommandError::PeerNotConnected { peer });
                }
                let ids: Vec<ChannelId> = self
                    .channels
                    .values()
                    .filter(|c| c.peer() == peer && c.phase() == ChannelPhase::Normal)
                    .map(Channel::id)
                    .collect();
                if ids.is_empty() {
                    return Err(CommandError::NoChannel { peer });
                }
                for id in ids {
                    if self.channels.get_mut(&id).expect("listed").send_shutdown() {
                        self.send(peer, Message::Shutdown(Shutdown { channel_id: id }));
                        self.emit(Event::ChannelClosing { channel_id: id, peer });
                        self.dirty.insert(id);
                    }
                }
                Ok(CommandOutput::Done)
            }
            Command::ForceClose { peer } => {
                let ids: Vec<ChannelId> = self
                    .channels
                    .values()
                    .filter(|c| {
                        c.peer() == peer
                            && c.phase() >= ChannelPhase::AwaitingReady
                            && c.phase() < ChannelPhase::ForceClosing
                    })
                    .map(Channel::id)
                    .collect();
                if ids.is_empty() {
                    return Err(CommandError::NoChannel { peer });
                }
                for id in ids {
                    self.force_close(id);
                }
                Ok(CommandOutput::Done)
            }
            Command::SetPolicy { peer, change } => {
                let ids: Vec<ChannelId> = self
                    .channels
                    .values()
                    .filter(|c| {
                        peer.is_none_or(|p| c.peer() == p) && c.phase() < ChannelPhase::ForceClosing
                    })
                    .map(Channel::id)
                    .collect();
                for id in ids {
                    let channel = self.channels.get_mut(&id).expect("listed");
                    channel.change_policy(&change);
                    if channel.phase() == ChannelPhase::Normal {
                        self.publish_update(id);
                    }
                }
                Ok(CommandOutput::Done)
            }
            Command::ListChannels => {
                Ok(CommandOutput::Channels(self.channels.values().map(Self::summarise).collect()))
            }
            Command::ListPeers => Ok(CommandOutput::Peers(
                self.peers.iter().filter(|(_, p)| p.connected).map(|(id, _)| *id).collect(),
            )),
            Command::ListPayments => Ok(CommandOutput::Payments(
                self.payments
                    .values()
                    .map(|p| PaymentSummary {
                        payment_id: p.id,
                        payment_hash: p.payment_hash,
                        destination: p.destination,
                        amount_msat: p.amount_msat,
                        status: p.status.clone(),
                        attempts: p.attempts,
                        fee_msat: p.fee_msat(),
                    })
                    .collect(),
            )),
        }
    }

    fn new_payment(
        &self,
        destination: NodeId,
        payment_hash: PaymentHash,
        amount_msat: u64,
        router: Option<RouterConfig>,
    ) -> OutboundPayment {
        OutboundPayment {
            id: PaymentId(0),
            payment_hash,
            payment_secret: None,
            keysend_preimage: None,
            destination,
            amount_msat,
            min_final_cltv_expiry_delta: 18,
            route_hints: Vec::new(),
            max_fee_msat: self.config.max_fee_msat(amount_msat),
            started_at: self.now,
            deadline: self.now.plus_secs(u64::from(self.config.payment_timeout_s)),
            mpp: false,
            max_parts: self.config.max_parts.max(1),
            min_part_msat: self.config.min_part_msat,
            router: router.unwrap_or(self.config.router),
            attempts: 0,
            in_flight: BTreeMap::new(),
            settled: BTreeMap::new(),
            last_route: None,
            give_up: None,
            last_failure: None,
            excluded_channels: BTreeSet::new(),
            excluded_nodes: BTreeSet::new(),
            policy_overrides: BTreeMap::new(),
            status: PaymentStatus::InFlight,
        }
    }

    /// Route hints for our unannounced channels whose peer could send us `amount_msat`.
    fn route_hints(&self, amount_msat: u64) -> Vec<RouteHint> {
        if !self.config.route_hints {
            return Vec::new();
        }
        self.channels
            .values()
            .filter(|c| c.phase() == ChannelPhase::Normal && !c.is_announced())
            .filter_map(|c| {
                let policy = *c.remote_policy()?;
                let inbound = c
                    .balances(View::Next)
                    .theirs_msat
                    .saturating_sub(c.local_params().channel_reserve_sat * 1000);
                (inbound >= amount_msat).then_some(RouteHint {
                    hops: vec![RouteHintHop { src: c.peer(), short_channel_id: c.scid()?, policy }],
                })
            })
            .take(MAX_ROUTE_HINTS)
            .collect()
    }

    fn summarise(channel: &Channel) -> ChannelSummary {
        let local = channel.balances(View::Local);
        ChannelSummary {
            channel_id: channel.id(),
            scid: channel.scid(),
            peer: channel.peer(),
            phase: channel.phase(),
            we_opened: channel.we_opened(),
            funding_sat: channel.funding_sat(),
            ours_msat: local.ours_msat,
            theirs_msat: local.theirs_msat,
            offered_msat: channel.htlc_total_msat(View::Local, true),
            received_msat: channel.htlc_total_msat(View::Local, false),
            available_msat: channel.available_to_send_msat(),
            public: channel.is_announced(),
        }
    }
}
