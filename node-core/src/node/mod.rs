//! One Lightning node as a sans-IO state machine. A driver (the simulator, or a test harness)
//! feeds it inputs — a peer connected or disconnected, a message, a block, a timer, a command —
//! each with the current time, and drains the [`Action`]s it wants done: messages to send,
//! transactions to broadcast, timers to set, events to report. It has no clock, no I/O and no
//! randomness of its own: its random stream is seeded by the driver.
//!
//! [`Node`] is the coordinator. Its state has owners: the peers and the channels (`peers`,
//! `channels`), the wallet and on-chain claims ([`crate::wallet`], [`crate::onchain`]), the view
//! of the network and the gossip to relay ([`crate::graph`], [`crate::gossip`]), the invoices
//! ([`crate::invoice`]), the outbound payments with their routers
//! ([`crate::payment::OutboundPayments`]) and the HTLC switch ([`crate::switch`]). Its flows have
//! rooms: peer messages, one `on_<message>` each (`messages`); commands, one function each
//! (`commands`); blocks and BOLT 5 deadlines (`blocks`); our channel_updates and announcements
//! (`announce`); incoming HTLCs, claims and forwards (`htlcs`); and sending our payments'
//! parts (`pay`). This file holds the state, the read-only surface, the connection and timer
//! inputs, and the flush that signs what an input changed.

mod ahead;
mod announce;
mod blocks;
mod channels;
mod commands;
mod htlcs;
mod index;
mod messages;
mod pay;
mod peers;

pub use crate::action::{Action, Timer};
pub use crate::command::{
    ChannelSummary, Command, CommandError, CommandOutput, InvoiceSummary, PaymentSummary,
};
pub use ahead::{InvoiceTerms, PlannedPayment, Speculation};
pub use commands::MAX_ROUTE_HINTS;
pub use peers::{RECONNECT_FIRST_S, RECONNECT_MAX_S};

use crate::action::Outbox;
use crate::channel::{Channel, ChannelPhase, GenesisChannel};
use crate::config::NodeConfig;
use crate::gossip::GossipQueue;
use crate::graph::{BaseGraph, GraphView};
use crate::ids::{ChannelId, NodeId, SimTime};
use crate::invoice::Invoices;
use crate::onchain::{OnChain, WatchKind};
use crate::onion::FailureCode;
use crate::payment::{OutboundPayment, OutboundPayments, PaymentId};
use crate::snapshot::{ChannelSnapshot, NodeSnapshot, OfferedOutput};
use crate::switch::HtlcSwitch;
use crate::wallet::Wallet;
use channels::Channels;
use peers::Peers;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use std::sync::Arc;

/// One Lightning node.
#[derive(Clone)]
pub struct Node {
    id: NodeId,
    /// Shared by the nodes the driver gives the same settings (a network holds few presets).
    config: Arc<NodeConfig>,
    rng: LazyRng,
    now: SimTime,
    height: u32,
    peers: Peers,
    channels: Channels,
    wallet: Wallet,
    onchain: OnChain,
    graph: GraphView,
    gossip: GossipQueue,
    /// Where in each interval this node's tickers (gossip relay, commitments) fire, µs: nodes
    /// start at different times, so their tickers are out of phase (from the seed, not its
    /// stream).
    tick_phase_us: u64,
    /// A commitment tick is set for our batched updates.
    commit_tick_pending: bool,
    /// Received HTLCs, irrevocably committed, held until the forward-processing timer.
    held_incoming: Vec<(ChannelId, u64)>,
    invoices: Invoices,
    payments: OutboundPayments,
    switch: HtlcSwitch,
    out: Outbox,
    /// Inputs taken so far that may change its channels or peers: every input but gossip.
    changes: u64,
    /// Inputs taken so far, gossip included: while it stays the same, nothing the node reads
    /// has changed (a plan made ahead is still its own answer).
    inputs: u64,
}

/// The node's random stream, made at its first draw: most nodes of a large network never draw
/// (they neither pay, nor are paid, nor hold forwards), and a stream is some 300 bytes. When it
/// is made changes nothing it draws.
#[derive(Clone, Debug)]
enum LazyRng {
    Seed([u8; 32]),
    Made(Box<ChaCha20Rng>),
}

impl LazyRng {
    fn get(&mut self) -> &mut ChaCha20Rng {
        if let LazyRng::Seed(seed) = *self {
            *self = LazyRng::Made(Box::new(ChaCha20Rng::from_seed(seed)));
        }
        match self {
            LazyRng::Made(rng) => rng,
            LazyRng::Seed(_) => unreachable!("made just above"),
        }
    }
}

impl Node {
    /// A node with no peers, channels or funds. `seed` seeds its random stream (preimages,
    /// payment secrets, temporary channel ids); `graph` is the network every node knows at the
    /// start.
    pub fn new(
        id: NodeId,
        config: impl Into<Arc<NodeConfig>>,
        seed: [u8; 32],
        graph: Arc<BaseGraph>,
    ) -> Node {
        Node {
            id,
            config: config.into(),
            rng: LazyRng::Seed(seed),
            now: SimTime::ZERO,
            height: 0,
            peers: Peers::default(),
            channels: Channels::default(),
            wallet: Wallet::new(id),
            onchain: OnChain::new(id),
            graph: GraphView::new(graph),
            gossip: GossipQueue::default(),
            tick_phase_us: u64::from_le_bytes(seed[24..].try_into().expect("8 bytes")),
            commit_tick_pending: false,
            held_incoming: Vec::new(),
            invoices: Invoices::default(),
            payments: OutboundPayments::default(),
            switch: HtlcSwitch::default(),
            out: Outbox::default(),
            changes: 0,
            inputs: 0,
        }
    }

    /// How many inputs it has taken that may change its channels or peers: every message,
    /// timer, block, command, connection change and restart except gossip (announcements and
    /// updates received, and the relay timer). A reader that keeps what it read of the node's
    /// channels knows it is still current while this number is the same.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Makes its view of the network start without each channel of the start that is not its
    /// own with probability `ppm` / 1,000,000, drawn from `seed` (see
    /// [`GraphView::start_incomplete`]). Call before the run starts.
    pub fn start_incomplete(&mut self, seed: u64, ppm: u32) {
        self.inputs += 1;
        self.graph.start_incomplete(self.id, seed, ppm);
    }

    // ---- the read-only surface ----

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

    /// Whether `peer` is connected and `init` was exchanged.
    pub fn is_peer_ready(&self, peer: NodeId) -> bool {
        self.peers.is_ready(peer)
    }

    /// Its view of the network.
    pub fn graph(&self) -> &GraphView {
        &self.graph
    }

    /// Outbound payment `id`.
    pub fn payment(&self, id: PaymentId) -> Option<&OutboundPayment> {
        self.payments.get(id)
    }

    /// Its channels, by channel id, as read-only pictures.
    pub fn channel_snapshots(&self) -> impl Iterator<Item = ChannelSnapshot> + '_ {
        self.channels.iter().map(ChannelSnapshot::of)
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

    /// Takes the actions queued so far.
    pub fn take_actions(&mut self) -> Vec<Action> {
        self.out.take()
    }

    /// Moves the queued actions into `out` (keeps `out`'s allocation for the next call).
    pub fn drain_actions(&mut self, out: &mut Vec<Action>) {
        self.out.drain_into(out);
    }

    fn random_bytes(&mut self) -> [u8; 32] {
        let mut bytes = [0u8; 32];
        self.rng.get().fill_bytes(&mut bytes);
        bytes
    }

    fn tick(&mut self, now: SimTime) {
        debug_assert!(now >= self.now, "time never runs backwards");
        self.now = now;
        self.changes += 1;
        self.inputs += 1;
    }

    /// [`Node::tick`] for gossip, which changes no channel or peer.
    fn tick_gossip(&mut self, now: SimTime) {
        debug_assert!(now >= self.now, "time never runs backwards");
        self.now = now;
        self.inputs += 1;
    }

    // ---- set-up ----

    /// Adds a channel that exists at the start of the run; `peer_config` is the peer's settings
    /// (the limits it declared bind us).
    pub fn add_genesis_channel(&mut self, spec: &GenesisChannel, peer_config: &NodeConfig) {
        let channel = Channel::new_genesis(self.id, spec, &self.config, peer_config);
        self.channels.insert(channel);
        self.changes += 1;
        self.inputs += 1;
    }

    // ---- connections ----

    /// A connection to `peer` is up: both sides send `init`.
    pub fn peer_connected(&mut self, now: SimTime, peer: NodeId) {
        self.tick(now);
        self.peers.connect(peer);
        let init =
            crate::msg::Init { initial_routing_sync: true, anchors: self.config.channel.anchors };
        self.out.send(peer, crate::msg::Message::Init(init));
    }

    /// The connection to `peer` is gone: messages in flight are lost. Channels not yet funded
    /// are forgotten; funded ones forget their unsigned updates (unsigned adds of ours are failed
    /// back), and we try to reconnect.
    pub fn peer_disconnected(&mut self, now: SimTime, peer: NodeId) {
        self.tick(now);
        let dropped = self.mark_down(peer, true);
        self.fail_dropped(dropped);
        self.flush();
    }

    /// A connection attempt to `peer` failed (it is down or unreachable): try again later.
    pub fn connection_failed(&mut self, now: SimTime, peer: NodeId) {
        self.tick(now);
        if self.channels.of_peer(peer).any(Channel::needs_reestablish) {
            self.schedule_reconnect(peer);
        }
    }

    /// The node restarts after a crash. It kept what it persists (channels, invoices, payments,
    /// its wallet and on-chain claims) and lost what lives in memory (connections, queued
    /// gossip); it reconnects to its channel peers. The driver then replays the blocks it missed.
    pub fn restart(&mut self, now: SimTime) {
        self.tick(now);
        // Every connection is gone before anything is retried over one of them.
        let mut dropped = Vec::new();
        for peer in self.peers.all() {
            dropped.extend(self.mark_down(peer, false));
        }
        self.gossip = GossipQueue::default();
        // The commitment tick and forward-processing timers died with the last life: updates
        // not signed are gone with the connections; held HTLCs (persisted) are held anew.
        self.commit_tick_pending = false;
        self.channels.release_batched();
        let held = std::mem::take(&mut self.held_incoming);
        self.fail_dropped(dropped);
        for (channel_id, htlc_id) in held {
            self.incoming_locked_in(channel_id, htlc_id);
        }
        let mut channel_peers: Vec<NodeId> =
            self.channels.iter().filter(|c| c.needs_reestablish()).map(Channel::peer).collect();
        channel_peers.sort();
        channel_peers.dedup();
        for peer in channel_peers {
            self.peers.reset_backoff(peer);
            self.out.connect(peer);
        }
        // Held parts survive (they are in the channels); their timers did not.
        let timeout_s = u64::from(self.config.mpp_timeout_s);
        for (&payment_hash, held) in self.switch.held() {
            let at = held.first_at.plus_secs(timeout_s).max(self.now);
            self.out.set_timer(at, Timer::MppTimeout { payment_hash });
        }
        self.flush();
    }

    /// Marks `peer` disconnected: channels not yet funded are forgotten, funded ones forget
    /// their unsigned updates; returns our dropped adds (to fail back once every peer that is
    /// gone is marked so). Schedules the disabling of public channels, and (if `retry`) the
    /// reconnection.
    fn mark_down(&mut self, peer: NodeId, retry: bool) -> Vec<(ChannelId, u64)> {
        if !self.peers.down(peer) {
            return Vec::new();
        }
        let ids: Vec<ChannelId> = self.channels.of_peer(peer).map(Channel::id).collect();
        let mut dropped = Vec::new();
        let mut keep_trying = false;
        for id in ids {
            let channel = self.channels.get_mut(id).expect("listed");
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
            self.out.set_timer(at, Timer::PeerOffline { peer });
        }
        dropped
    }

    /// Fails back the adds a disconnection dropped.
    fn fail_dropped(&mut self, dropped: Vec<(ChannelId, u64)>) {
        for (id, htlc_id) in dropped {
            if let Some(source) = self.switch.take((id, htlc_id)) {
                self.fail_here(source, id, FailureCode::TEMPORARY_CHANNEL_FAILURE, false);
            }
        }
    }

    fn schedule_reconnect(&mut self, peer: NodeId) {
        let delay_s = self.peers.next_backoff_s(peer);
        self.out.set_timer(self.now.plus_secs(delay_s), Timer::Reconnect { peer });
    }

    /// A timer fired.
    pub fn timer_fired(&mut self, now: SimTime, timer: Timer) {
        if timer == Timer::GossipFlush {
            self.tick_gossip(now);
        } else {
            self.tick(now);
        }
        match timer {
            Timer::GossipFlush => self.flush_gossip(),
            Timer::Reconnect { peer } => {
                let wanted = self.channels.of_peer(peer).any(Channel::needs_reestablish);
                if wanted && !self.peers.is_connected(peer) {
                    self.out.connect(peer);
                }
            }
            Timer::PeerOffline { peer } => {
                if !self.is_peer_ready(peer) {
                    self.set_away_disabled(peer, true);
                }
            }
            Timer::PeerOnline { peer } => {
                // Only if it stayed the whole wait: a timer of an earlier connection that dropped
                // and came back sooner does not count.
                let after_us = u64::from(self.config.enable_after_reconnect_s) * 1_000_000;
                let stayed = self
                    .peers
                    .ready_since(peer)
                    .is_some_and(|at| self.now.micros_since(at) >= after_us);
                if stayed {
                    self.set_away_disabled(peer, false);
                }
            }
            Timer::MppTimeout { payment_hash } => self.mpp_timed_out(payment_hash),
            Timer::CommitTick => {
                self.commit_tick_pending = false;
                self.channels.release_batched();
            }
            Timer::ProcessForwards => {
                for (channel_id, htlc_id) in std::mem::take(&mut self.held_incoming) {
                    // A channel shutting down still resolves its HTLCs; one gone on chain
                    // resolves them there.
                    let held = self.channels.get(channel_id).is_some_and(|c| {
                        c.phase() < ChannelPhase::ForceClosing && c.received_htlc(htlc_id).is_some()
                    });
                    if held {
                        self.process_incoming(channel_id, htlc_id);
                    }
                }
            }
        }
        self.flush();
    }

    /// Received HTLC `htlc_id` on `channel_id` is irrevocably committed: processed now, or held
    /// for the forward-processing timer by a node that holds forwards (LDK).
    pub(super) fn incoming_locked_in(&mut self, channel_id: ChannelId, htlc_id: u64) {
        let (min_ms, max_ms) = (self.config.forward_hold_min_ms, self.config.forward_hold_max_ms);
        if max_ms == 0 {
            self.process_incoming(channel_id, htlc_id);
            return;
        }
        if self.held_incoming.is_empty() {
            let wait_ms = min_ms + self.rng.get().next_u64() % (max_ms.saturating_sub(min_ms) + 1);
            self.out.set_timer(self.now.plus_micros(wait_ms * 1000), Timer::ProcessForwards);
        }
        self.held_incoming.push((channel_id, htlc_id));
    }

    /// The first tick strictly after now of a ticker of `interval_us` (> 0) at this node's phase.
    pub(super) fn next_tick(&self, interval_us: u64) -> SimTime {
        let phase_us = self.tick_phase_us % interval_us;
        let since_tick = (self.now.as_micros() + interval_us - phase_us) % interval_us;
        self.now.plus_micros(interval_us - since_tick)
    }

    /// Sends `commitment_signed` on every channel touched by this input that has something to
    /// sign, and moves cooperative closes forward. New updates of ours wait for the next
    /// commitment tick if the node batches them (`commit_batch_ms`, at the node's own phase).
    fn flush(&mut self) {
        let interval_us = self.config.commit_batch_ms.saturating_mul(1000);
        if interval_us == 0 {
            self.channels.release_batched();
        } else if self.channels.has_batched() && !self.commit_tick_pending {
            self.commit_tick_pending = true;
            let at = self.next_tick(interval_us);
            self.out.set_timer(at, Timer::CommitTick);
        }
        while let Some(id) = self.channels.pop_dirty() {
            let Some(channel) = self.channels.get_mut(id) else { continue };
            let peer = channel.peer();
            if !self.peers.is_ready(peer) {
                continue;
            }
            if let Some(signed) = channel.send_commitment() {
                self.out.send(peer, crate::msg::Message::CommitmentSigned(signed));
            }
            if let Some(closing) = channel.closing_proposal() {
                self.out.send(peer, crate::msg::Message::ClosingSigned(closing));
            }
        }
    }
}
