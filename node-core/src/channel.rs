//! One channel as one of its two peers sees it (BOLT 2): establishment (open, accept, funding,
//! `minimum_depth`, channel_ready), the HTLC commitment dance with every check the sender and the
//! receiver of an update make, and cooperative close. The money is tracked in three views — the
//! commitment we hold, the one the peer holds, and the state once every pending update is
//! committed — and an HTLC moves money in a view when it enters or leaves it, so each view always
//! sums to the channel's value. This module returns the messages to send and what changed; the
//! node sends them, forwards HTLCs and touches the wallet.

use crate::chain::{OutPoint, Script, Tx, TxIn, TxKind, TxOut, weight};
use crate::commitment::CommitmentFormat;
use crate::config::{ChannelConfig, NodeConfig};
use crate::htlc::{Htlc, HtlcState, Removal, View};
use crate::ids::{ChannelId, NodeId, PaymentHash, Preimage, Scid};
use crate::msg::{
    AcceptChannel, ChannelReady, ChannelReestablish, ClosingSigned, CommitmentSigned,
    FundingCreated, Message, OpenChannel, RevokeAndAck, UpdateAddHtlc, UpdateFailHtlc,
    UpdateFulfillHtlc,
};
use crate::onion::{ErrorPacket, Onion};
use crate::policy::ChannelPolicy;
use std::collections::BTreeMap;
use thiserror::Error;

/// Confirmations after which a public channel is announced (BOLT 7).
pub const ANNOUNCEMENT_DEPTH: u32 = 6;

/// The peer broke a rule of BOLT 2: the channel must be failed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ChannelError {
    /// A message arrived in a phase that does not expect it.
    #[error("unexpected {message} in phase {phase:?}")]
    UnexpectedMessage {
        /// The message's name.
        message: &'static str,
        /// The channel's phase.
        phase: ChannelPhase,
    },
    /// The peer's channel parameters are unacceptable.
    #[error("unacceptable parameters: {reason}")]
    BadParameters {
        /// What is wrong.
        reason: &'static str,
    },
    /// An HTLC id is out of sequence or unknown, or the HTLC is not in a state that allows it.
    #[error("bad HTLC id {id}")]
    BadHtlcId {
        /// The id.
        id: u64,
    },
    /// The peer offered an HTLC that breaks our limits or that it cannot afford.
    #[error("HTLC breaks a limit: {limit}")]
    HtlcLimit {
        /// Which limit.
        limit: &'static str,
    },
    /// A preimage does not hash to the HTLC's payment hash.
    #[error("preimage does not match HTLC {id}")]
    BadPreimage {
        /// The HTLC.
        id: u64,
    },
    /// The signed commitment differs from ours, or signs nothing new.
    #[error("commitment {number} does not match")]
    BadCommitment {
        /// The commitment number.
        number: u64,
    },
    /// A revocation arrived without a commitment awaiting one.
    #[error("unexpected revoke_and_ack")]
    UnexpectedRevocation,
    /// `channel_reestablish` names commitment numbers we cannot reconcile.
    #[error(
        "channel_reestablish out of sync: next commitment {next_commitment}, next revocation {next_revocation}"
    )]
    OutOfSync {
        /// The peer's `next_commitment_number`.
        next_commitment: u64,
        /// The peer's `next_revocation_number`.
        next_revocation: u64,
    },
}

/// Why we cannot offer an HTLC now: these become `temporary_channel_failure` (or
/// `amount_below_minimum`) when forwarding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum AddHtlcError {
    /// The channel is not in normal operation.
    #[error("channel not usable")]
    NotUsable,
    /// Below the peer's `htlc_minimum_msat`.
    #[error("below the peer's htlc_minimum_msat")]
    BelowMinimum,
    /// The peer's `max_accepted_htlcs` is reached.
    #[error("no free HTLC slot")]
    NoSlot,
    /// The peer's `max_htlc_value_in_flight_msat` would be exceeded.
    #[error("over the in-flight cap")]
    InFlightCap,
    /// Not enough balance above the reserve and the commitment fee.
    #[error("insufficient balance")]
    InsufficientBalance,
}

/// The phases of a channel's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChannelPhase {
    /// Opener: `open_channel` sent.
    OpenSent,
    /// Acceptor: `accept_channel` sent.
    AcceptSent,
    /// Opener: `funding_created` sent.
    FundingCreated,
    /// The funding transaction is signed; waiting for `minimum_depth` and both `channel_ready`.
    AwaitingReady,
    /// Open for HTLCs.
    Normal,
    /// `shutdown` sent or received: no new HTLCs, the pending ones drain.
    ShuttingDown,
    /// The closing transaction is agreed and broadcast.
    Closing,
    /// We broadcast our commitment (unilateral close); the funding is not spent yet.
    ForceClosing,
    /// The funding output is spent (on-chain resolution, if any, is the node's), or the channel
    /// failed before it was funded.
    Closed,
}

/// What one side declared for the channel; its limits bind the other side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeclaredParams {
    /// Dust limit of the declaring side's commitments, sat.
    pub dust_limit_sat: u64,
    /// Reserve the other side must keep, sat.
    pub channel_reserve_sat: u64,
    /// Smallest HTLC the declaring side accepts, msat.
    pub htlc_minimum_msat: u64,
    /// Cap on HTLCs in flight toward the declaring side, msat.
    pub max_htlc_value_in_flight_msat: u64,
    /// Most HTLCs in flight toward the declaring side.
    pub max_accepted_htlcs: u16,
    /// Blocks the other side waits for its own output after a unilateral close.
    pub to_self_delay_blocks: u16,
}

impl DeclaredParams {
    /// What a node with `config` declares for a channel of `funding_sat`; the reserve is never
    /// below `peer_dust_limit_sat` (when known) or its own dust limit, except that `reserve_ppm`
    /// 0 asks for no reserve at all (a zero-reserve channel, outside the BOLTs but offered by
    /// Eclair, Phoenix and LDK to trusted peers).
    pub fn declare(
        config: &ChannelConfig,
        funding_sat: u64,
        peer_dust_limit_sat: u64,
    ) -> DeclaredParams {
        let reserve_sat = funding_sat * u64::from(config.reserve_ppm) / 1_000_000;
        DeclaredParams {
            dust_limit_sat: config.dust_limit_sat,
            channel_reserve_sat: if config.reserve_ppm == 0 {
                0
            } else {
                reserve_sat.max(config.dust_limit_sat).max(peer_dust_limit_sat)
            },
            htlc_minimum_msat: config.htlc_minimum_msat,
            max_htlc_value_in_flight_msat: funding_sat
                * 1000
                * u64::from(config.max_htlc_value_in_flight_percent)
                / 100,
            max_accepted_htlcs: config.max_accepted_htlcs.min(483),
            to_self_delay_blocks: config.to_self_delay_blocks,
        }
    }
}

/// Our balance and the peer's in one view, HTLCs excluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Balances {
    /// Ours, msat.
    pub ours_msat: u64,
    /// The peer's, msat.
    pub theirs_msat: u64,
}

/// What a received `revoke_and_ack` settled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevocationOutcome {
    /// Received HTLCs now irrevocably committed: to be forwarded or claimed.
    pub locked_in: Vec<u64>,
    /// Offered HTLCs whose failure is now irrevocable: (id, the error to pass upstream).
    pub failed: Vec<(u64, ErrorPacket)>,
}

/// A channel that exists when a run starts, funded at `scid` by `funding` and in normal
/// operation, as one of its two peers holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenesisChannel {
    /// The other peer.
    pub peer: NodeId,
    /// Whether this side opened it (and pays the commitment fee).
    pub we_opened: bool,
    /// The funding output.
    pub funding: OutPoint,
    /// Its short channel id.
    pub scid: Scid,
    /// Its value, sat.
    pub funding_sat: u64,
    /// This side's starting balance, msat.
    pub ours_msat: u64,
    /// Whether it is public from the start.
    pub announce: bool,
    /// This side's forwarding policy.
    pub policy: ChannelPolicy,
    /// This side's direction starts disabled.
    pub disabled: bool,
    /// The peer's forwarding policy, unless its direction is disabled.
    pub peer_policy: Option<ChannelPolicy>,
}

/// One channel, as one of its peers sees it.
#[derive(Clone, Debug)]
pub struct Channel {
    id: ChannelId,
    temporary_id: ChannelId,
    me: NodeId,
    peer: NodeId,
    we_opened: bool,
    funding_sat: u64,
    push_msat: u64,
    funding: Option<OutPoint>,
    funding_tx: Option<Tx>,
    scid: Option<Scid>,
    confirmed_height: Option<u32>,
    minimum_depth: u32,
    phase: ChannelPhase,
    local: DeclaredParams,
    remote: DeclaredParams,
    format: CommitmentFormat,
    announce: bool,
    views: [Balances; 3],
    offered: BTreeMap<u64, Htlc>,
    received: BTreeMap<u64, Htlc>,
    next_offered_id: u64,
    next_received_id: u64,
    awaiting_revocation: bool,
    local_commitment_number: u64,
    remote_commitment_number: u64,
    ready_sent: bool,
    ready_received: bool,
    shutdown_sent: bool,
    shutdown_received: bool,
    closing_tx: Option<Tx>,
    /// Our forwarding policy over this channel.
    pub local_policy: ChannelPolicy,
    /// The peer's forwarding policy toward us, once it sent a channel_update.
    pub remote_policy: Option<ChannelPolicy>,
    /// Timestamp of the last channel_update we made for our direction.
    pub local_update_timestamp: u32,
    /// We disabled our direction (a policy change): forwards over it fail with
    /// `channel_disabled`.
    pub disabled: bool,
    announcement_sent: bool,
    announcement_received: bool,
    /// A state change debited a side below zero: the peer signed or sent something its balance
    /// does not cover. Checked after every message from the peer.
    overdrawn: bool,
    /// Updates sent since our last `commitment_signed`, for nothing (they are forgotten on
    /// disconnection) but their order.
    uncommitted: Vec<Message>,
    /// The updates our last `commitment_signed` covered, and that message: retransmitted if the
    /// peer did not receive it.
    last_commitment: Vec<Message>,
    /// Our last `revoke_and_ack`, retransmitted if the peer did not receive it.
    last_revocation: Option<RevokeAndAck>,
    /// Send order of our last commitment and last revocation, to retransmit them in that order.
    commitment_seq: u64,
    revocation_seq: u64,
    /// The peer is connected and both sides re-established the channel: updates may flow.
    live: bool,
    /// Acceptor: the height at which we signed the funding.
    funding_signed_height: Option<u32>,
}

impl Channel {
    fn blank(
        id: ChannelId,
        me: NodeId,
        peer: NodeId,
        we_opened: bool,
        funding_sat: u64,
        config: &NodeConfig,
    ) -> Channel {
        let capacity_msat = funding_sat * 1000;
        Channel {
            id,
            temporary_id: id,
            me,
            peer,
            we_opened,
            funding_sat,
            push_msat: 0,
            funding: None,
            funding_tx: None,
            scid: None,
            confirmed_height: None,
            minimum_depth: 1,
            phase: ChannelPhase::OpenSent,
            local: DeclaredParams::declare(&config.channel, funding_sat, 0),
            remote: DeclaredParams::declare(&config.channel, funding_sat, 0),
            format: CommitmentFormat {
                feerate_per_kw: config.feerate_per_kw,
                anchors: config.channel.anchors,
            },
            announce: false,
            views: [Balances::default(); 3],
            offered: BTreeMap::new(),
            received: BTreeMap::new(),
            next_offered_id: 0,
            next_received_id: 0,
            awaiting_revocation: false,
            local_commitment_number: 0,
            remote_commitment_number: 0,
            ready_sent: false,
            ready_received: false,
            shutdown_sent: false,
            shutdown_received: false,
            closing_tx: None,
            local_policy: ChannelPolicy {
                htlc_maximum_msat: config.policy.htlc_maximum_msat.min(capacity_msat),
                ..config.policy
            },
            remote_policy: None,
            local_update_timestamp: 0,
            disabled: false,
            announcement_sent: false,
            announcement_received: false,
            overdrawn: false,
            uncommitted: Vec::new(),
            last_commitment: Vec::new(),
            last_revocation: None,
            commitment_seq: 0,
            revocation_seq: 0,
            live: true,
            funding_signed_height: None,
        }
    }

    fn set_initial_balances(&mut self) {
        let capacity_msat = self.funding_sat * 1000;
        let (ours_msat, theirs_msat) = if self.we_opened {
            (capacity_msat - self.push_msat, self.push_msat)
        } else {
            (self.push_msat, capacity_msat - self.push_msat)
        };
        self.views = [Balances { ours_msat, theirs_msat }; 3];
    }

    /// A channel we open: returns it and the `open_channel` to send.
    pub fn new_outbound(
        temporary_id: ChannelId,
        me: NodeId,
        peer: NodeId,
        funding_sat: u64,
        push_msat: u64,
        announce: bool,
        config: &NodeConfig,
    ) -> (Channel, OpenChannel) {
        let mut channel = Channel::blank(temporary_id, me, peer, true, funding_sat, config);
        channel.push_msat = push_msat;
        channel.announce = announce;
        channel.set_initial_balances();
        let msg = OpenChannel {
            temporary_channel_id: temporary_id,
            funding_sat,
            push_msat,
            dust_limit_sat: channel.local.dust_limit_sat,
            max_htlc_value_in_flight_msat: channel.local.max_htlc_value_in_flight_msat,
            channel_reserve_sat: channel.local.channel_reserve_sat,
            htlc_minimum_msat: channel.local.htlc_minimum_msat,
            feerate_per_kw: channel.format.feerate_per_kw,
            to_self_delay_blocks: channel.local.to_self_delay_blocks,
            max_accepted_htlcs: channel.local.max_accepted_htlcs,
            announce,
            anchors: channel.format.anchors,
        };
        (channel, msg)
    }

    /// A channel the peer opens: checks `open_channel` and returns the channel and the
    /// `accept_channel` to send.
    pub fn new_inbound(
        me: NodeId,
        peer: NodeId,
        msg: &OpenChannel,
        config: &NodeConfig,
    ) -> Result<(Channel, AcceptChannel), ChannelError> {
        let funding_sat = msg.funding_sat;
        let bad = |reason| Err(ChannelError::BadParameters { reason });
        if funding_sat < config.channel.min_funding_sat {
            return bad("funding below our minimum");
        }
        if funding_sat > config.channel.max_funding_sat {
            return bad("funding above 2^24 sat without option_support_large_channel");
        }
        if msg.push_msat > funding_sat * 1000 {
            return bad("push_msat above the funding");
        }
        // A zero reserve is a zero-reserve channel; any other reserve respects both dust limits.
        if msg.channel_reserve_sat != 0
            && (msg.channel_reserve_sat < config.channel.dust_limit_sat
                || msg.dust_limit_sat > msg.channel_reserve_sat)
        {
            return bad("channel_reserve_satoshis below a dust limit");
        }
        if msg.max_accepted_htlcs > 483 || msg.max_accepted_htlcs == 0 {
            return bad("max_accepted_htlcs out of range");
        }
        let mut channel =
            Channel::blank(msg.temporary_channel_id, me, peer, false, funding_sat, config);
        channel.push_msat = msg.push_msat;
        channel.announce = msg.announce;
        channel.format =
            CommitmentFormat { feerate_per_kw: msg.feerate_per_kw, anchors: msg.anchors };
        channel.local = DeclaredParams::declare(&config.channel, funding_sat, msg.dust_limit_sat);
        channel.remote = DeclaredParams {
            dust_limit_sat: msg.dust_limit_sat,
            channel_reserve_sat: msg.channel_reserve_sat,
            htlc_minimum_msat: msg.htlc_minimum_msat,
            max_htlc_value_in_flight_msat: msg.max_htlc_value_in_flight_msat,
            max_accepted_htlcs: msg.max_accepted_htlcs,
            to_self_delay_blocks: msg.to_self_delay_blocks,
        };
        channel.minimum_depth = config.channel.minimum_depth.max(1);
        channel.set_initial_balances();
        // The opener must afford its reserve and the commitment fee after the push.
        let opener_msat = funding_sat * 1000 - msg.push_msat;
        if opener_msat
            < channel.local.channel_reserve_sat * 1000
                + channel.format.opener_cost_msat(msg.feerate_per_kw, 0)
        {
            return bad("opener cannot afford its reserve and the commitment fee");
        }
        channel.phase = ChannelPhase::AcceptSent;
        let accept = AcceptChannel {
            temporary_channel_id: msg.temporary_channel_id,
            dust_limit_sat: channel.local.dust_limit_sat,
            max_htlc_value_in_flight_msat: channel.local.max_htlc_value_in_flight_msat,
            channel_reserve_sat: channel.local.channel_reserve_sat,
            htlc_minimum_msat: channel.local.htlc_minimum_msat,
            minimum_depth: channel.minimum_depth,
            to_self_delay_blocks: channel.local.to_self_delay_blocks,
            max_accepted_htlcs: channel.local.max_accepted_htlcs,
        };
        Ok((channel, accept))
    }

    /// A channel that exists when the run starts, in normal operation (see [`GenesisChannel`]).
    /// Both peers must be built from the same funding, each with its own config as `config` and
    /// the other's as `peer_config`.
    pub fn new_genesis(
        me: NodeId,
        spec: &GenesisChannel,
        config: &NodeConfig,
        peer_config: &NodeConfig,
    ) -> Channel {
        let funding = spec.funding;
        let id = ChannelId::from_funding(&funding.txid, funding.vout);
        let funding_sat = spec.funding_sat;
        let mut channel = Channel::blank(id, me, spec.peer, spec.we_opened, funding_sat, config);
        let dust_sat = config.channel.dust_limit_sat.max(peer_config.channel.dust_limit_sat);
        channel.local = DeclaredParams::declare(&config.channel, funding_sat, dust_sat);
        channel.remote = DeclaredParams::declare(&peer_config.channel, funding_sat, dust_sat);
        let opener = if spec.we_opened { config } else { peer_config };
        channel.format = CommitmentFormat {
            feerate_per_kw: opener.feerate_per_kw,
            anchors: opener.channel.anchors,
        };
        channel.funding = Some(funding);
        channel.scid = Some(spec.scid);
        channel.confirmed_height = Some(spec.scid.block_height());
        channel.announce = spec.announce;
        channel.phase = ChannelPhase::Normal;
        channel.ready_sent = true;
        channel.ready_received = true;
        channel.announcement_sent = spec.announce;
        channel.announcement_received = spec.announce;
        // As if one commitment had been exchanged: reconnecting does not resend channel_ready.
        channel.local_commitment_number = 1;
        channel.remote_commitment_number = 1;
        let capacity_msat = funding_sat * 1000;
        let ours_msat = spec.ours_msat.min(capacity_msat);
        channel.views = [Balances { ours_msat, theirs_msat: capacity_msat - ours_msat }; 3];
        channel.local_policy = spec.policy;
        channel.disabled = spec.disabled;
        channel.remote_policy = spec.peer_policy;
        channel
    }

    /// Opener: checks `accept_channel`.
    pub fn on_accept(&mut self, msg: &AcceptChannel) -> Result<(), ChannelError> {
        self.expect_phase(ChannelPhase::OpenSent, "accept_channel")?;
        let bad = |reason| Err(ChannelError::BadParameters { reason });
        if msg.channel_reserve_sat != 0
            && (msg.channel_reserve_sat < self.local.dust_limit_sat
                || msg.dust_limit_sat > msg.channel_reserve_sat)
        {
            return bad("channel_reserve_satoshis below a dust limit");
        }
        if self.local.channel_reserve_sat != 0
            && self.local.channel_reserve_sat < msg.dust_limit_sat
        {
            return bad("our reserve is below the acceptor's dust limit");
        }
        if msg.max_accepted_htlcs > 483 || msg.max_accepted_htlcs == 0 {
            return bad("max_accepted_htlcs out of range");
        }
        if msg.minimum_depth > 144 {
            return bad("minimum_depth unreasonably large");
        }
        self.remote = DeclaredParams {
            dust_limit_sat: msg.dust_limit_sat,
            channel_reserve_sat: msg.channel_reserve_sat,
            htlc_minimum_msat: msg.htlc_minimum_msat,
            max_htlc_value_in_flight_msat: msg.max_htlc_value_in_flight_msat,
            max_accepted_htlcs: msg.max_accepted_htlcs,
            to_self_delay_blocks: msg.to_self_delay_blocks,
        };
        self.minimum_depth = msg.minimum_depth.max(1);
        let ours = self.views[0].ours_msat;
        if ours
            < self.remote.channel_reserve_sat * 1000
                + self.format.opener_cost_msat(self.format.feerate_per_kw, 0)
        {
            return bad("we cannot afford the reserve and the commitment fee");
        }
        Ok(())
    }

    /// Opener: the funding transaction is built; returns `funding_created` and takes the
    /// permanent channel id.
    pub fn on_funding_built(&mut self, tx: Tx, vout: u32) -> FundingCreated {
        assert_eq!(self.phase, ChannelPhase::OpenSent, "invariant: funding follows accept_channel");
        let msg = FundingCreated {
            temporary_channel_id: self.id,
            funding_txid: tx.txid,
            funding_output_index: vout,
        };
        self.funding = Some(tx.outpoint(vout));
        self.id = ChannelId::from_funding(&tx.txid, vout);
        self.funding_tx = Some(tx);
        self.phase = ChannelPhase::FundingCreated;
        msg
    }

    /// Whether we accepted this channel and its funding has not confirmed by `height`, 2016
    /// blocks after we signed it: BOLT 2 lets the acceptor forget it then.
    pub fn funding_abandoned(&self, height: u32) -> bool {
        !self.we_opened
            && self.phase == ChannelPhase::AwaitingReady
            && self.confirmed_height.is_none()
            && self.funding_signed_height.is_some_and(|h| height >= h + 2016)
    }

    /// Acceptor: takes the funding outpoint and the permanent id; the caller sends
    /// `funding_signed`.
    pub fn on_funding_created(
        &mut self,
        msg: &FundingCreated,
        height: u32,
    ) -> Result<(), ChannelError> {
        self.expect_phase(ChannelPhase::AcceptSent, "funding_created")?;
        self.funding = Some(OutPoint { txid: msg.funding_txid, vout: msg.funding_output_index });
        self.id = ChannelId::from_funding(&msg.funding_txid, msg.funding_output_index);
        self.phase = ChannelPhase::AwaitingReady;
        self.funding_signed_height = Some(height);
        Ok(())
    }

    /// Opener: `funding_signed` arrived; returns the funding transaction to broadcast.
    pub fn on_funding_signed(&mut self) -> Result<Tx, ChannelError> {
        self.expect_phase(ChannelPhase::FundingCreated, "funding_signed")?;
        self.phase = ChannelPhase::AwaitingReady;
        Ok(self.funding_tx.take().expect("invariant: the opener holds the funding tx until signed"))
    }

    /// The funding transaction confirmed at `height`, position `tx_index`.
    pub fn on_funding_confirmed(&mut self, height: u32, tx_index: u32) {
        if self.confirmed_height.is_none() {
            let vout = self.funding.expect("invariant: confirmed funding is known").vout;
            self.confirmed_height = Some(height);
            self.scid = Some(Scid::new(height, tx_index, vout as u16));
        }
    }

    /// Confirmations of the funding at `height`.
    pub fn depth(&self, height: u32) -> u32 {
        self.confirmed_height.map_or(0, |h| height.saturating_sub(h) + 1)
    }

    /// Returns `channel_ready` once the funding is deep enough and we have not sent it yet.
    pub fn ready_to_send(&mut self, height: u32) -> Option<ChannelReady> {
        if self.phase == ChannelPhase::AwaitingReady
            && !self.ready_sent
            && self.depth(height) >= self.minimum_depth
        {
            self.ready_sent = true;
            self.maybe_become_normal();
            Some(ChannelReady { channel_id: self.id })
        } else {
            None
        }
    }

    /// The peer's `channel_ready`. Returns true if the channel just became normal.
    pub fn on_channel_ready(&mut self) -> Result<bool, ChannelError> {
        if matches!(self.phase, ChannelPhase::ShuttingDown | ChannelPhase::Closing) {
            return Ok(false); // retransmitted after a reconnection; already past it
        }
        if self.phase != ChannelPhase::AwaitingReady && self.phase != ChannelPhase::Normal {
            return Err(ChannelError::UnexpectedMessage {
                message: "channel_ready",
                phase: self.phase,
            });
        }
        self.ready_received = true;
        Ok(self.maybe_become_normal())
    }

    fn maybe_become_normal(&mut self) -> bool {
        if self.phase == ChannelPhase::AwaitingReady && self.ready_sent && self.ready_received {
            self.phase = ChannelPhase::Normal;
            true
        } else {
            false
        }
    }

    /// Whether `announcement_signatures` should be sent now (public, deep enough, not sent).
    pub fn wants_announcement(&mut self, height: u32) -> bool {
        if self.announce
            && self.phase == ChannelPhase::Normal
            && !self.announcement_sent
            && self.depth(height) >= ANNOUNCEMENT_DEPTH
        {
            self.announcement_sent = true;
            true
        } else {
            false
        }
    }

    /// The peer's `announcement_signatures`. Returns true when both sides have now signed.
    pub fn on_announcement_signatures(&mut self) -> bool {
        let was = self.is_announced();
        self.announcement_received = true;
        !was && self.is_announced()
    }

    /// Whether both peers signed the announcement.
    pub fn is_announced(&self) -> bool {
        self.announce && self.announcement_sent && self.announcement_received
    }

    fn expect_phase(&self, phase: ChannelPhase, message: &'static str) -> Result<(), ChannelError> {
        if self.phase == phase {
            Ok(())
        } else {
            Err(ChannelError::UnexpectedMessage { message, phase: self.phase })
        }
    }

    // ---- accessors ----

    /// The channel id (temporary until the funding is known).
    pub fn id(&self) -> ChannelId {
        self.id
    }

    /// The id the opener chose before the funding was known.
    pub fn temporary_id(&self) -> ChannelId {
        self.temporary_id
    }

    /// The peer.
    pub fn peer(&self) -> NodeId {
        self.peer
    }

    /// Whether we opened it (and pay the commitment fee).
    pub fn we_opened(&self) -> bool {
        self.we_opened
    }

    /// Its value, sat.
    pub fn funding_sat(&self) -> u64 {
        self.funding_sat
    }

    /// The funding outpoint, once known.
    pub fn funding_outpoint(&self) -> Option<OutPoint> {
        self.funding
    }

    /// The short channel id, once the funding confirmed.
    pub fn scid(&self) -> Option<Scid> {
        self.scid
    }

    /// The phase.
    pub fn phase(&self) -> ChannelPhase {
        self.phase
    }

    /// Whether the channel is to be announced.
    pub fn is_public(&self) -> bool {
        self.announce
    }

    /// What we declared.
    pub fn local_params(&self) -> &DeclaredParams {
        &self.local
    }

    /// What the peer declared.
    pub fn remote_params(&self) -> &DeclaredParams {
        &self.remote
    }

    /// The commitment format.
    pub fn format(&self) -> CommitmentFormat {
        self.format
    }

    /// Balances in `view`, HTLCs excluded.
    pub fn balances(&self, view: View) -> Balances {
        self.views[view.index()]
    }

    /// HTLCs we offered, by id.
    pub fn offered_htlcs(&self) -> impl Iterator<Item = &Htlc> {
        self.offered.values()
    }

    /// HTLCs we received, by id.
    pub fn received_htlcs(&self) -> impl Iterator<Item = &Htlc> {
        self.received.values()
    }

    /// The received HTLC `id`.
    pub fn received_htlc(&self, id: u64) -> Option<&Htlc> {
        self.received.get(&id)
    }

    /// The offered HTLC `id`.
    pub fn offered_htlc(&self, id: u64) -> Option<&Htlc> {
        self.offered.get(&id)
    }

    /// Sum of the HTLCs in `view` that `offered` selects, msat.
    pub fn htlc_total_msat(&self, view: View, offered: bool) -> u64 {
        let map = if offered { &self.offered } else { &self.received };
        map.values().filter(|h| h.state.in_view(view, offered)).map(|h| h.amount_msat).sum()
    }

    /// Whether any HTLC is in flight in either direction, in any commitment.
    pub fn has_htlcs(&self) -> bool {
        !self.offered.is_empty() || !self.received.is_empty()
    }

    // ---- sending HTLCs ----

    /// HTLC outputs in `view` that are not trimmed, counted with that commitment holder's dust
    /// limit (for `Next`, the smaller limit and fee, which counts the most).
    fn untrimmed(&self, view: View) -> usize {
        let count = |map: &BTreeMap<u64, Htlc>, offered: bool| {
            map.values()
                .filter(|h| h.state.in_view(view, offered))
                .filter(|h| {
                    let (dust, offered_by_holder) = match view {
                        View::Local => (self.local.dust_limit_sat, offered),
                        View::Remote => (self.remote.dust_limit_sat, !offered),
                        View::Next => {
                            (self.local.dust_limit_sat.min(self.remote.dust_limit_sat), true)
                        }
                    };
                    !self.format.is_trimmed(h.amount_msat, dust, offered_by_holder)
                })
                .count()
        };
        count(&self.offered, true) + count(&self.received, false)
    }

    /// The most untrimmed HTLCs of any view, plus every HTLC not yet in a view.
    fn untrimmed_max(&self) -> usize {
        View::ALL.iter().map(|&v| self.untrimmed(v)).max().unwrap_or(0)
    }

    /// A side's balance in the worst commitment it may have to pay for: in each view, its balance
    /// less the HTLCs it added that have not reached that view yet, and the smallest of those.
    fn worst_balance(&self, ours: bool) -> u64 {
        let added = if ours { &self.offered } else { &self.received };
        View::ALL
            .iter()
            .map(|&view| {
                let balance = self.views[view.index()];
                let side = if ours { balance.ours_msat } else { balance.theirs_msat };
                let pending: u64 = added
                    .values()
                    .filter(|h| h.state.in_view(View::Next, ours) && !h.state.in_view(view, ours))
                    .map(|h| h.amount_msat)
                    .sum();
                side.saturating_sub(pending)
            })
            .min()
            .expect("invariant: three views")
    }

    /// What we can offer in one more HTLC now, msat: the balance above the peer's reserve and,
    /// if we opened the channel, the commitment fee with BOLT 2's fee spike buffer (twice the
    /// feerate, room for one more HTLC); also bounded by the peer's in-flight cap, and zero
    /// without a free slot.
    pub fn available_to_send_msat(&self) -> u64 {
        if self.phase != ChannelPhase::Normal
            || !self.live
            || self.offered.len() >= usize::from(self.remote.max_accepted_htlcs)
        {
            return 0;
        }
        let n = self.untrimmed_max();
        let mut available =
            self.worst_balance(true).saturating_sub(self.remote.channel_reserve_sat * 1000);
        if self.we_opened {
            available = available.saturating_sub(
                self.format.opener_cost_msat(self.format.feerate_per_kw.saturating_mul(2), n + 2),
            );
        } else {
            // The opener (the peer) must still afford the fee with our HTLC in it.
            let opener_room =
                self.worst_balance(false).saturating_sub(self.local.channel_reserve_sat * 1000);
            if opener_room < self.format.opener_cost_msat(self.format.feerate_per_kw, n + 1) {
                return 0;
            }
        }
        let in_flight: u64 = self.offered.values().map(|h| h.amount_msat).sum();
        available.min(self.remote.max_htlc_value_in_flight_msat.saturating_sub(in_flight))
    }

    /// Checks that we may offer an HTLC of `amount_msat` now.
    pub fn check_add(&self, amount_msat: u64) -> Result<(), AddHtlcError> {
        if self.phase != ChannelPhase::Normal || !self.live {
            return Err(AddHtlcError::NotUsable);
        }
        if amount_msat < self.remote.htlc_minimum_msat || amount_msat == 0 {
            return Err(AddHtlcError::BelowMinimum);
        }
        if self.offered.len() >= usize::from(self.remote.max_accepted_htlcs) {
            return Err(AddHtlcError::NoSlot);
        }
        let in_flight: u64 = self.offered.values().map(|h| h.amount_msat).sum();
        if in_flight + amount_msat > self.remote.max_htlc_value_in_flight_msat {
            return Err(AddHtlcError::InFlightCap);
        }
        if amount_msat > self.available_to_send_msat() {
            return Err(AddHtlcError::InsufficientBalance);
        }
        Ok(())
    }

    /// Offers an HTLC: returns the `update_add_htlc` to send.
    pub fn send_add(
        &mut self,
        amount_msat: u64,
        payment_hash: PaymentHash,
        cltv_expiry: u32,
        onion: Onion,
    ) -> Result<UpdateAddHtlc, AddHtlcError> {
        self.check_add(amount_msat)?;
        let id = self.next_offered_id;
        self.next_offered_id += 1;
        let htlc = Htlc {
            id,
            amount_msat,
            payment_hash,
            cltv_expiry,
            onion: onion.clone(),
            state: HtlcState::Removed,
            removal: None,
            refused: false,
        };
        self.offered.insert(id, htlc);
        self.set_state(true, id, HtlcState::AddPending);
        assert!(!self.overdrawn, "invariant: check_add keeps our balance covered");
        let msg = UpdateAddHtlc {
            channel_id: self.id,
            id,
            amount_msat,
            payment_hash,
            cltv_expiry,
            onion,
        };
        self.uncommitted.push(Message::UpdateAddHtlc(msg.clone()));
        Ok(msg)
    }

    /// The peer offers an HTLC: checks it against our limits and its balance.
    pub fn on_add(&mut self, msg: &UpdateAddHtlc) -> Result<(), ChannelError> {
        if self.phase != ChannelPhase::Normal && self.phase != ChannelPhase::ShuttingDown {
            return Err(ChannelError::UnexpectedMessage {
                message: "update_add_htlc",
                phase: self.phase,
            });
        }
        if self.shutdown_received {
            return Err(ChannelError::UnexpectedMessage {
                message: "update_add_htlc",
                phase: self.phase,
            });
        }
        if msg.id != self.next_received_id {
            return Err(ChannelError::BadHtlcId { id: msg.id });
        }
        let limit = |limit| Err(ChannelError::HtlcLimit { limit });
        if msg.amount_msat == 0 || msg.amount_msat < self.local.htlc_minimum_msat {
            return limit("htlc_minimum_msat");
        }
        if self.received.len() >= usize::from(self.local.max_accepted_htlcs) {
            return limit("max_accepted_htlcs");
        }
        let in_flight: u64 = self.received.values().map(|h| h.amount_msat).sum();
        if in_flight + msg.amount_msat > self.local.max_htlc_value_in_flight_msat {
            return limit("max_htlc_value_in_flight_msat");
        }
        if self.views[View::Next.index()].theirs_msat < msg.amount_msat {
            return limit("sender balance");
        }
        self.next_received_id += 1;
        self.received.insert(
            msg.id,
            Htlc {
                id: msg.id,
                amount_msat: msg.amount_msat,
                payment_hash: msg.payment_hash,
                cltv_expiry: msg.cltv_expiry,
                onion: msg.onion.clone(),
                state: HtlcState::Removed,
                removal: None,
                refused: false,
            },
        );
        self.set_state(false, msg.id, HtlcState::AddPending);
        let theirs = self.views[View::Next.index()].theirs_msat;
        if theirs < self.local.channel_reserve_sat * 1000 {
            return limit("sender reserve");
        }
        // An opener that can no longer pay the commitment fee because our own HTLCs crossed
        // its add is not cheating: the HTLC is failed back once locked in, as LDK does.
        if !self.we_opened
            && theirs
                < self.local.channel_reserve_sat * 1000
                    + self
                        .format
                        .opener_cost_msat(self.format.feerate_per_kw, self.untrimmed(View::Next))
        {
            self.received.get_mut(&msg.id).expect("just added").refused = true;
        }
        Ok(())
    }

    // ---- removing HTLCs ----

    fn committed(map: &BTreeMap<u64, Htlc>, id: u64) -> Result<&Htlc, ChannelError> {
        match map.get(&id) {
            Some(h) if h.state == HtlcState::Committed => Ok(h),
            _ => Err(ChannelError::BadHtlcId { id }),
        }
    }

    /// Settles a received HTLC with its preimage: returns the `update_fulfill_htlc` to send, or
    /// `None` while the peer is away (the removal is sent once the channel is re-established).
    pub fn send_fulfill(
        &mut self,
        id: u64,
        preimage: Preimage,
    ) -> Result<Option<UpdateFulfillHtlc>, ChannelError> {
        let htlc = Channel::committed(&self.received, id)?;
        if preimage.payment_hash() != htlc.payment_hash {
            return Err(ChannelError::BadPreimage { id });
        }
        Ok(self.remove_received(id, Removal::Fulfill(preimage)).map(|m| match m {
            Message::UpdateFulfillHtlc(m) => m,
            _ => unreachable!("a fulfil removal makes update_fulfill_htlc"),
        }))
    }

    /// Fails a received HTLC: returns the `update_fail_htlc` to send, or `None` while the peer
    /// is away.
    pub fn send_fail(
        &mut self,
        id: u64,
        reason: ErrorPacket,
    ) -> Result<Option<UpdateFailHtlc>, ChannelError> {
        Channel::committed(&self.received, id)?;
        Ok(self.remove_received(id, Removal::Fail(reason)).map(|m| match m {
            Message::UpdateFailHtlc(m) => m,
            _ => unreachable!("a fail removal makes update_fail_htlc"),
        }))
    }

    /// Records the removal of a committed received HTLC and, if the channel is live, starts it.
    fn remove_received(&mut self, id: u64, removal: Removal) -> Option<Message> {
        let htlc = self.received.get_mut(&id).expect("invariant: checked committed");
        htlc.removal = Some(removal);
        if !self.live {
            return None;
        }
        let msg = match htlc.removal.clone().expect("just set") {
            Removal::Fulfill(payment_preimage) => Message::UpdateFulfillHtlc(UpdateFulfillHtlc {
                channel_id: self.id,
                id,
                payment_preimage,
            }),
            Removal::Fail(reason) => {
                Message::UpdateFailHtlc(UpdateFailHtlc { channel_id: self.id, id, reason })
            }
        };
        self.set_state(false, id, HtlcState::RemovePending);
        self.uncommitted.push(msg.clone());
        Some(msg)
    }

    /// The peer settles an HTLC we offered. Returns its amount.
    pub fn on_fulfill(&mut self, msg: &UpdateFulfillHtlc) -> Result<u64, ChannelError> {
        let htlc = Channel::committed(&self.offered, msg.id)?;
        if msg.payment_preimage.payment_hash() != htlc.payment_hash {
            return Err(ChannelError::BadPreimage { id: msg.id });
        }
        let amount_msat = htlc.amount_msat;
        self.offered.get_mut(&msg.id).expect("checked").removal =
            Some(Removal::Fulfill(msg.payment_preimage));
        self.set_state(true, msg.id, HtlcState::RemovePending);
        Ok(amount_msat)
    }

    /// The peer fails an HTLC we offered. The failure goes upstream only once irrevocable (see
    /// [`RevocationOutcome::failed`]).
    pub fn on_fail(&mut self, msg: &UpdateFailHtlc) -> Result<(), ChannelError> {
        Channel::committed(&self.offered, msg.id)?;
        self.offered.get_mut(&msg.id).expect("checked").removal =
            Some(Removal::Fail(msg.reason.clone()));
        self.set_state(true, msg.id, HtlcState::RemovePending);
        Ok(())
    }

    // ---- the commitment dance ----

    /// Moves an HTLC to `new`, moving money in each view it enters or leaves, and drops it once
    /// removed.
    fn set_state(&mut self, offered: bool, id: u64, new: HtlcState) -> Option<Htlc> {
        let map = if offered { &mut self.offered } else { &mut self.received };
        let htlc = map.get_mut(&id).expect("invariant: state changes name a known HTLC");
        let old = htlc.state;
        let fulfilled = matches!(htlc.removal, Some(Removal::Fulfill(_)));
        let amount = htlc.amount_msat;
        htlc.state = new;
        for view in View::ALL {
            let was = old.in_view(view, offered);
            let is = new.in_view(view, offered);
            let balances = &mut self.views[view.index()];
            let (offerer, receiver) = if offered {
                (&mut balances.ours_msat, &mut balances.theirs_msat)
            } else {
                (&mut balances.theirs_msat, &mut balances.ours_msat)
            };
            if !was && is {
                match offerer.checked_sub(amount) {
                    Some(left) => *offerer = left,
                    None => {
                        *offerer = 0;
                        self.overdrawn = true;
                    }
                }
            } else if was && !is {
                if fulfilled {
                    *receiver += amount;
                } else {
                    *offerer += amount;
                }
            }
        }
        if new == HtlcState::Removed { map.remove(&id) } else { None }
    }

    /// Applies `step` to every HTLC in both maps; returns the ids whose state changed, with the
    /// new state, offered ones first.
    fn advance_all(
        &mut self,
        step: fn(HtlcState, bool) -> HtlcState,
    ) -> Vec<(bool, u64, HtlcState, Option<Htlc>)> {
        let mut pending = Vec::new();
        for offered in [true, false] {
            let map = if offered { &self.offered } else { &self.received };
            pending.extend(map.values().filter_map(|h| {
                let next = step(h.state, offered);
                (next != h.state).then_some((offered, h.id, next))
            }));
        }
        // Removals credit a side before additions debit it, as in the commitment they build.
        pending.sort_by_key(|&(offered, id, next)| (next < HtlcState::RemovePending, !offered, id));
        pending
            .into_iter()
            .map(|(offered, id, next)| (offered, id, next, self.set_state(offered, id, next)))
            .collect()
    }

    /// Whether there is something to sign and we may sign now (no revocation outstanding).
    pub fn can_sign(&self) -> bool {
        self.live
            && !self.awaiting_revocation
            && matches!(self.phase, ChannelPhase::Normal | ChannelPhase::ShuttingDown)
            && (self.offered.values().any(|h| h.state.awaits_our_signature(true))
                || self.received.values().any(|h| h.state.awaits_our_signature(false)))
    }

    /// Signs the peer's next commitment with every update so far: returns `commitment_signed`.
    pub fn send_commitment(&mut self) -> Option<CommitmentSigned> {
        if !self.can_sign() {
            return None;
        }
        self.advance_all(HtlcState::after_sending_commitment);
        assert!(!self.overdrawn, "invariant: we only sign commitments our balances cover");
        self.awaiting_revocation = true;
        self.remote_commitment_number += 1;
        let remote = self.views[View::Remote.index()];
        let msg = CommitmentSigned {
            channel_id: self.id,
            commitment_number: self.remote_commitment_number,
            holder_msat: remote.theirs_msat,
            counterparty_msat: remote.ours_msat,
            htlc_count: self.htlcs_in(View::Remote) as u32,
        };
        self.last_commitment = std::mem::take(&mut self.uncommitted);
        self.last_commitment.push(Message::CommitmentSigned(msg));
        self.commitment_seq = self.commitment_seq.max(self.revocation_seq) + 1;
        Some(msg)
    }

    fn htlcs_in(&self, view: View) -> usize {
        self.offered.values().filter(|h| h.state.in_view(view, true)).count()
            + self.received.values().filter(|h| h.state.in_view(view, false)).count()
    }

    /// The peer signed our next commitment: checks it and returns the `revoke_and_ack` to send.
    pub fn on_commitment_signed(
        &mut self,
        msg: &CommitmentSigned,
    ) -> Result<RevokeAndAck, ChannelError> {
        if !matches!(self.phase, ChannelPhase::Normal | ChannelPhase::ShuttingDown) {
            return Err(ChannelError::UnexpectedMessage {
                message: "commitment_signed",
                phase: self.phase,
            });
        }
        let changed = self.advance_all(HtlcState::after_receiving_commitment);
        self.local_commitment_number += 1;
        let local = self.views[View::Local.index()];
        if changed.is_empty()
            || self.overdrawn
            || msg.commitment_number != self.local_commitment_number
            || msg.holder_msat != local.ours_msat
            || msg.counterparty_msat != local.theirs_msat
            || msg.htlc_count as usize != self.htlcs_in(View::Local)
        {
            return Err(ChannelError::BadCommitment { number: msg.commitment_number });
        }
        // Revoke the previous commitment at once.
        self.advance_all(HtlcState::after_sending_revocation);
        let revoke = RevokeAndAck {
            channel_id: self.id,
            revoked_commitment_number: self.local_commitment_number - 1,
        };
        self.last_revocation = Some(revoke);
        self.revocation_seq = self.commitment_seq.max(self.revocation_seq) + 1;
        Ok(revoke)
    }

    /// The peer revoked its previous commitment.
    pub fn on_revoke_and_ack(
        &mut self,
        msg: &RevokeAndAck,
    ) -> Result<RevocationOutcome, ChannelError> {
        if !self.awaiting_revocation
            || msg.revoked_commitment_number + 1 != self.remote_commitment_number
        {
            return Err(ChannelError::UnexpectedRevocation);
        }
        self.awaiting_revocation = false;
        self.last_commitment.clear();
        let mut outcome = RevocationOutcome::default();
        for (offered, id, state, removed) in self.advance_all(HtlcState::after_receiving_revocation)
        {
            match (offered, state) {
                (false, HtlcState::Committed) => outcome.locked_in.push(id),
                (true, HtlcState::Removed) => {
                    if let Some(Htlc { removal: Some(Removal::Fail(packet)), .. }) = removed {
                        outcome.failed.push((id, packet));
                    }
                }
                _ => {}
            }
        }
        Ok(outcome)
    }

    // ---- disconnection and channel_reestablish (BOLT 2) ----

    /// The peer disconnected. Both sides forget the updates not yet covered by a
    /// `commitment_signed` of their sender: our unsigned adds are dropped (returned, so the node
    /// can fail them back or retry), the peer's unsigned adds are dropped, and unsigned removals
    /// go back to committed (ours are sent again once the channel is re-established).
    pub fn disconnected(&mut self) -> Vec<Htlc> {
        self.live = false;
        self.uncommitted.clear();
        let mut dropped = Vec::new();
        for offered in [true, false] {
            let map = if offered { &self.offered } else { &self.received };
            let unsigned: Vec<(u64, HtlcState)> = map
                .values()
                .filter(|h| matches!(h.state, HtlcState::AddPending | HtlcState::RemovePending))
                .map(|h| (h.id, h.state))
                .collect();
            for (id, state) in unsigned {
                if state == HtlcState::AddPending {
                    let htlc = self.set_state(offered, id, HtlcState::Removed).expect("removed");
                    if offered {
                        self.next_offered_id = self.next_offered_id.min(id);
                        dropped.push(htlc);
                    } else {
                        self.next_received_id = self.next_received_id.min(id);
                    }
                } else {
                    self.undo_removal(offered, id);
                }
            }
        }
        if self.phase == ChannelPhase::ShuttingDown && self.closing_tx.is_some() {
            // The fee negotiation starts again after the reconnection.
            self.closing_tx = None;
        }
        dropped
    }

    /// Puts an HTLC whose removal was not signed back into the "next" view, keeping our own
    /// removal decision (to send again) and forgetting the peer's (it sends it again).
    fn undo_removal(&mut self, offered: bool, id: u64) {
        let map = if offered { &mut self.offered } else { &mut self.received };
        let htlc = map.get_mut(&id).expect("invariant: undoing a known HTLC");
        let fulfilled = matches!(htlc.removal, Some(Removal::Fulfill(_)));
        let amount = htlc.amount_msat;
        htlc.state = HtlcState::Committed;
        if offered {
            htlc.removal = None;
        }
        let next = &mut self.views[View::Next.index()];
        // Undo the credit the removal made: to the receiver if fulfilled, else to the offerer.
        let credited = match (offered, fulfilled) {
            (true, true) | (false, false) => &mut next.theirs_msat,
            (true, false) | (false, true) => &mut next.ours_msat,
        };
        match credited.checked_sub(amount) {
            Some(left) => *credited = left,
            // Only a peer that spent a credit it had not yet signed gets here.
            None => self.overdrawn = true,
        }
    }

    /// Whether the channel needs `channel_reestablish` after a (re)connection: it is funded and
    /// neither closing on chain nor closed.
    pub fn needs_reestablish(&self) -> bool {
        self.funding.is_some()
            && matches!(
                self.phase,
                ChannelPhase::AwaitingReady
                    | ChannelPhase::Normal
                    | ChannelPhase::ShuttingDown
                    | ChannelPhase::Closing
            )
    }

    /// Our `channel_reestablish`.
    pub fn reestablish(&self) -> ChannelReestablish {
        ChannelReestablish {
            channel_id: self.id,
            next_commitment_number: self.local_commitment_number + 1,
            next_revocation_number: if self.awaiting_revocation {
                self.remote_commitment_number - 1
            } else {
                self.remote_commitment_number
            },
        }
    }

    /// The peer's `channel_reestablish`: returns what we must send again, in the order we first
    /// sent it (`channel_ready`, the last commitment with its updates, the last revocation), then
    /// our removals that were not signed before the disconnection. The channel is live again.
    pub fn on_reestablish(
        &mut self,
        msg: &ChannelReestablish,
    ) -> Result<Vec<Message>, ChannelError> {
        let out_of_sync = ChannelError::OutOfSync {
            next_commitment: msg.next_commitment_number,
            next_revocation: msg.next_revocation_number,
        };
        let resend_revocation = if msg.next_revocation_number + 1 == self.local_commitment_number {
            true
        } else if msg.next_revocation_number == self.local_commitment_number {
            false
        } else {
            return Err(out_of_sync);
        };
        let resend_commitment = if msg.next_commitment_number == self.remote_commitment_number
            && self.awaiting_revocation
            && !self.last_commitment.is_empty()
        {
            true
        } else if msg.next_commitment_number == self.remote_commitment_number + 1 {
            false
        } else {
            return Err(out_of_sync);
        };
        let mut out = Vec::new();
        if msg.next_commitment_number == 1 && self.local_commitment_number == 0 && self.ready_sent {
            out.push(Message::ChannelReady(ChannelReady { channel_id: self.id }));
        }
        let revocation = match (resend_revocation, self.last_revocation) {
            (false, _) => None,
            (true, Some(revoke)) => Some(Message::RevokeAndAck(revoke)),
            (true, None) => return Err(out_of_sync),
        };
        let commitment = if resend_commitment { self.last_commitment.clone() } else { Vec::new() };
        if self.revocation_seq < self.commitment_seq {
            out.extend(revocation);
            out.extend(commitment);
        } else {
            out.extend(commitment);
            out.extend(revocation);
        }
        if self.shutdown_sent {
            // BOLT 2: a node that sent `shutdown` sends it again on reconnection.
            out.push(Message::Shutdown(crate::msg::Shutdown { channel_id: self.id }));
        }
        self.live = true;
        let decided: Vec<(u64, Removal)> = self
            .received
            .values()
            .filter(|h| h.state == HtlcState::Committed)
            .filter_map(|h| h.removal.clone().map(|r| (h.id, r)))
            .collect();
        for (id, removal) in decided {
            out.extend(self.remove_received(id, removal));
        }
        Ok(out)
    }

    /// Whether a state change ever debited a side below zero (a peer's bad commitment).
    pub fn is_overdrawn(&self) -> bool {
        self.overdrawn
    }

    /// Whether updates can flow (connected and re-established).
    pub fn is_live(&self) -> bool {
        self.live
    }

    // ---- unilateral close (BOLT 3, BOLT 5) ----

    /// The commitment transaction we hold now, as we would broadcast it: `to_local` delayed by
    /// the peer's `to_self_delay`, `to_remote` straight to the peer's wallet, anchors if any, and
    /// one output per untrimmed HTLC (trimmed HTLCs, the fee and msat remainders go to miners).
    pub fn holder_commitment_tx(&self) -> Tx {
        let funding = self.funding.expect("invariant: a commitment spends a known funding output");
        let mut htlcs = Vec::new();
        for (offered, map) in [(true, &self.offered), (false, &self.received)] {
            for h in map.values().filter(|h| h.state.in_view(View::Local, offered)) {
                if self.format.is_trimmed(h.amount_msat, self.local.dust_limit_sat, offered) {
                    continue;
                }
                let (offerer, receiver) =
                    if offered { (self.me, self.peer) } else { (self.peer, self.me) };
                htlcs.push(TxOut {
                    amount_sat: h.amount_msat / 1000,
                    script: Script::Htlc {
                        offerer,
                        receiver,
                        htlc_id: h.id,
                        payment_hash: h.payment_hash,
                        cltv_expiry: h.cltv_expiry,
                    },
                });
            }
        }
        let cost_msat = self.format.opener_cost_msat(self.format.feerate_per_kw, htlcs.len());
        let local = self.views[View::Local.index()];
        let (mut ours_msat, mut theirs_msat) = (local.ours_msat, local.theirs_msat);
        if self.we_opened {
            ours_msat = ours_msat.saturating_sub(cost_msat);
        } else {
            theirs_msat = theirs_msat.saturating_sub(cost_msat);
        }
        let dust = self.local.dust_limit_sat;
        let mut outputs = Vec::with_capacity(htlcs.len() + 4);
        if ours_msat / 1000 >= dust {
            outputs.push(TxOut {
                amount_sat: ours_msat / 1000,
                script: Script::Delayed {
                    owner: self.me,
                    csv_blocks: self.remote.to_self_delay_blocks,
                },
            });
        }
        if theirs_msat / 1000 >= dust {
            outputs.push(TxOut {
                amount_sat: theirs_msat / 1000,
                script: Script::Wallet { owner: self.peer },
            });
        }
        if self.format.anchors {
            for owner in [self.me, self.peer] {
                outputs.push(TxOut {
                    amount_sat: crate::commitment::ANCHOR_OUTPUT_SAT,
                    script: Script::Anchor { owner },
                });
            }
        }
        outputs.extend(htlcs);
        Tx::new(TxKind::Commitment, vec![TxIn::key(funding)], outputs, self.local_commitment_number)
    }

    /// Starts a unilateral close: no more updates; returns our commitment to broadcast (`None`
    /// before the funding exists, when the channel is simply forgotten).
    pub fn force_close(&mut self) -> Option<Tx> {
        if self.funding.is_none()
            || matches!(self.phase, ChannelPhase::Closed)
            || self.phase < ChannelPhase::AwaitingReady
        {
            return None;
        }
        self.phase = ChannelPhase::ForceClosing;
        self.live = false;
        Some(self.holder_commitment_tx())
    }

    /// How many blocks our own outputs on our commitment wait (the peer's `to_self_delay`).
    pub fn our_to_self_delay_blocks(&self) -> u16 {
        self.remote.to_self_delay_blocks
    }

    // ---- cooperative close ----

    /// We start a cooperative close. Returns false if already shutting down or not open.
    pub fn send_shutdown(&mut self) -> bool {
        if self.shutdown_sent
            || !matches!(self.phase, ChannelPhase::Normal | ChannelPhase::ShuttingDown)
        {
            return false;
        }
        self.shutdown_sent = true;
        self.phase = ChannelPhase::ShuttingDown;
        true
    }

    /// The peer starts (or answers) a cooperative close. Returns true if we must answer with our
    /// own `shutdown`.
    pub fn on_shutdown(&mut self) -> Result<bool, ChannelError> {
        if self.phase == ChannelPhase::Closing {
            return Ok(false); // retransmitted after a reconnection; the close is agreed
        }
        if !matches!(self.phase, ChannelPhase::Normal | ChannelPhase::ShuttingDown) {
            return Err(ChannelError::UnexpectedMessage { message: "shutdown", phase: self.phase });
        }
        self.shutdown_received = true;
        self.phase = ChannelPhase::ShuttingDown;
        Ok(self.send_shutdown())
    }

    /// Opener: once both sides sent `shutdown` and no HTLC is left, proposes the closing fee.
    pub fn closing_proposal(&mut self) -> Option<ClosingSigned> {
        if self.phase != ChannelPhase::ShuttingDown
            || !self.we_opened
            || !(self.shutdown_sent && self.shutdown_received)
            || self.has_htlcs()
            || self.awaiting_revocation
            || self.closing_tx.is_some()
        {
            return None;
        }
        let fee_sat = weight::fee_sat(self.format.feerate_per_kw, weight::closing_tx(2));
        self.closing_tx = Some(self.build_closing_tx(fee_sat));
        Some(ClosingSigned { channel_id: self.id, fee_sat })
    }

    /// The peer's `closing_signed`. Returns the closing transaction to broadcast, and for the
    /// acceptor the `closing_signed` that agrees to the fee.
    pub fn on_closing_signed(
        &mut self,
        msg: &ClosingSigned,
    ) -> Result<(Tx, Option<ClosingSigned>), ChannelError> {
        if self.phase == ChannelPhase::Closing
            && let Some(tx) = self.closing_tx.clone()
        {
            // Our agreement was lost on a disconnection: agree again to the same transaction.
            let reply = (!self.we_opened)
                .then_some(ClosingSigned { channel_id: self.id, fee_sat: msg.fee_sat });
            return Ok((tx, reply));
        }
        if self.phase != ChannelPhase::ShuttingDown || self.has_htlcs() {
            return Err(ChannelError::UnexpectedMessage {
                message: "closing_signed",
                phase: self.phase,
            });
        }
        self.phase = ChannelPhase::Closing;
        if self.we_opened {
            let tx = self.closing_tx.clone().ok_or(ChannelError::UnexpectedMessage {
                message: "closing_signed",
                phase: self.phase,
            })?;
            Ok((tx, None))
        } else {
            let tx = self.build_closing_tx(msg.fee_sat);
            self.closing_tx = Some(tx.clone());
            Ok((tx, Some(ClosingSigned { channel_id: self.id, fee_sat: msg.fee_sat })))
        }
    }

    fn build_closing_tx(&self, fee_sat: u64) -> Tx {
        let balances = self.views[View::Local.index()];
        let (mut ours_sat, mut theirs_sat) =
            (balances.ours_msat / 1000, balances.theirs_msat / 1000);
        if self.we_opened {
            ours_sat = ours_sat.saturating_sub(fee_sat);
        } else {
            theirs_sat = theirs_sat.saturating_sub(fee_sat);
        }
        let me = self.me;
        let mut outputs: Vec<(NodeId, u64, u64)> = vec![
            (me, ours_sat, self.local.dust_limit_sat),
            (self.peer, theirs_sat, self.remote.dust_limit_sat),
        ];
        outputs.sort_by_key(|(node, _, _)| *node);
        let outputs = outputs
            .into_iter()
            .filter(|(_, amount, dust)| amount >= dust)
            .map(|(owner, amount_sat, _)| TxOut { amount_sat, script: Script::Wallet { owner } })
            .collect();
        Tx::new(
            TxKind::MutualClose,
            vec![TxIn::key(
                self.funding.expect("invariant: a closing channel has a funding outpoint"),
            )],
            outputs,
            0,
        )
    }

    /// The funding transaction the opener built but has not broadcast yet (it has not received
    /// `funding_signed`), taken out of the channel.
    pub fn unbroadcast_funding(self) -> Option<Tx> {
        self.funding_tx
    }

    /// The agreed closing transaction, once there is one.
    pub fn closing_tx(&self) -> Option<&Tx> {
        self.closing_tx.as_ref()
    }

    /// The closing or any transaction spending the funding output confirmed.
    pub fn on_funding_spent(&mut self) {
        self.phase = ChannelPhase::Closed;
    }

    /// The channel failed (a protocol violation); no more updates.
    pub fn fail(&mut self) {
        self.phase = ChannelPhase::Closed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{OutPoint, TxKind};
    use crate::ids::Txid;
    use crate::onion::{Failure, FailureCode, HopPayload};

    const A: NodeId = NodeId(0);
    const B: NodeId = NodeId(1);

    fn config() -> NodeConfig {
        NodeConfig::default()
    }

    /// The side of `me` of a normal 1_000_000 sat channel, with `ours_msat` on its side.
    fn genesis(peer: NodeId, we_opened: bool, ours_msat: u64) -> GenesisChannel {
        GenesisChannel {
            peer,
            we_opened,
            funding: OutPoint { txid: Txid([3; 32]), vout: 0 },
            scid: Scid::new(100, 1, 0),
            funding_sat: 1_000_000,
            ours_msat,
            announce: true,
            policy: config().policy,
            disabled: false,
            peer_policy: Some(config().policy),
        }
    }

    /// A and B share a normal 1_000_000 sat channel opened by A, with `a_msat` on A's side.
    fn pair(a_msat: u64) -> (Channel, Channel) {
        let c = config();
        let a = Channel::new_genesis(A, &genesis(B, true, a_msat), &c, &c);
        let b = Channel::new_genesis(B, &genesis(A, false, 1_000_000_000 - a_msat), &c, &c);
        (a, b)
    }

    fn onion() -> Onion {
        Onion::new(vec![HopPayload::Final {
            amt_to_forward_msat: 1,
            outgoing_cltv_value: 0,
            payment_secret: None,
            total_msat: 1,
            keysend_preimage: None,
        }])
    }

    fn preimage(n: u8) -> Preimage {
        Preimage([n; 32])
    }

    /// Sends a commitment from `from` to `to` and the revocation back; returns what the sender
    /// learnt from the revocation.
    fn sign(from: &mut Channel, to: &mut Channel) -> RevocationOutcome {
        let signed = from.send_commitment().expect("something to sign");
        let revoke = to.on_commitment_signed(&signed).expect("commitment matches");
        from.on_revoke_and_ack(&revoke).expect("revocation expected")
    }

    fn check_sums(c: &Channel) {
        assert_eq!(crate::snapshot::ChannelSnapshot::of(c).unbalanced_view(), None);
    }

    #[test]
    fn establishment_runs_from_open_to_normal() {
        let c = config();
        let (mut a, open) =
            Channel::new_outbound(ChannelId(7), A, B, 500_000, 10_000_000, true, &c);
        let (mut b, accept) = Channel::new_inbound(B, A, &open, &c).unwrap();
        assert_eq!(b.phase(), ChannelPhase::AcceptSent);
        a.on_accept(&accept).unwrap();
        let tx = Tx::new(
            TxKind::Funding,
            vec![],
            vec![TxOut { amount_sat: 500_000, script: Script::funding(A, B) }],
            1,
        );
        let created = a.on_funding_built(tx.clone(), 0);
        assert_eq!(created.temporary_channel_id, ChannelId(7));
        b.on_funding_created(&created, 200).unwrap();
        assert_eq!(a.id(), b.id(), "both derive the id from the funding outpoint");
        assert_eq!(a.on_funding_signed().unwrap().txid, tx.txid);
        // minimum_depth is the acceptor's: 3 for the lnd preset.
        for ch in [&mut a, &mut b] {
            ch.on_funding_confirmed(200, 4);
            assert!(ch.ready_to_send(201).is_none());
            assert!(ch.ready_to_send(202).is_some());
        }
        assert!(a.on_channel_ready().unwrap());
        assert!(b.on_channel_ready().unwrap());
        assert_eq!(a.scid(), Some(Scid::new(200, 4, 0)));
        assert_eq!(
            a.balances(View::Local),
            Balances { ours_msat: 490_000_000, theirs_msat: 10_000_000 }
        );
        assert_eq!(
            b.balances(View::Local),
            Balances { ours_msat: 10_000_000, theirs_msat: 490_000_000 }
        );
    }

    #[test]
    fn the_acceptor_rejects_a_reserve_below_its_dust_limit() {
        let mut cln = NodeConfig::preset(crate::Implementation::Cln);
        cln.channel.min_funding_sat = 1;
        let (_, open) = Channel::new_outbound(ChannelId(1), A, B, 30_000, 0, false, &config());
        // lnd declares max(1% = 300, 354) sat; Core Lightning's dust limit is 546 sat.
        assert!(matches!(
            Channel::new_inbound(B, A, &open, &cln),
            Err(ChannelError::BadParameters { .. })
        ));
    }

    #[test]
    fn an_htlc_moves_money_view_by_view_through_the_dance() {
        let (mut a, mut b) = pair(600_000_000);
        let p = preimage(1);
        let add = a.send_add(100_000_000, p.payment_hash(), 500, onion()).unwrap();
        // Only the "next" view has it so far.
        assert_eq!(a.balances(View::Next).ours_msat, 500_000_000);
        assert_eq!(a.balances(View::Local).ours_msat, 600_000_000);
        b.on_add(&add).unwrap();
        let outcome = sign(&mut a, &mut b);
        assert!(outcome.locked_in.is_empty());
        assert_eq!(a.balances(View::Remote).ours_msat, 500_000_000, "in B's commitment");
        assert_eq!(a.balances(View::Local).ours_msat, 600_000_000, "not yet in A's");
        // B signs A's commitment with the HTLC; A's revocation locks it in at B.
        let outcome = sign(&mut b, &mut a);
        assert_eq!(outcome.locked_in, vec![0]);
        assert_eq!(b.received_htlc(0).unwrap().state, HtlcState::Committed);
        assert_eq!(a.offered_htlc(0).unwrap().state, HtlcState::Committed);
        assert!(b.send_commitment().is_none(), "nothing new to sign");
        for ch in [&a, &b] {
            check_sums(ch);
            assert_eq!(ch.balances(View::Local), ch.balances(View::Remote));
        }
        // B fulfils; the money reaches B's balance in each view as the removal lands there.
        let fulfill = b.send_fulfill(0, p).unwrap().expect("live channel");
        assert_eq!(a.on_fulfill(&fulfill).unwrap(), 100_000_000);
        assert_eq!(b.balances(View::Next).ours_msat, 500_000_000);
        sign(&mut b, &mut a);
        sign(&mut a, &mut b);
        assert!(!a.has_htlcs() && !b.has_htlcs());
        for view in View::ALL {
            assert_eq!(
                a.balances(view),
                Balances { ours_msat: 500_000_000, theirs_msat: 500_000_000 }
            );
            assert_eq!(
                b.balances(view),
                Balances { ours_msat: 500_000_000, theirs_msat: 500_000_000 }
            );
        }
    }

    #[test]
    fn a_failure_is_reported_upstream_only_once_irrevocable() {
        let (mut a, mut b) = pair(600_000_000);
        let add = a.send_add(1_000_000, preimage(2).payment_hash(), 500, onion()).unwrap();
        b.on_add(&add).unwrap();
        sign(&mut a, &mut b);
        assert_eq!(sign(&mut b, &mut a).locked_in, vec![0]);
        let packet = ErrorPacket::new(Failure::new(FailureCode::TEMPORARY_CHANNEL_FAILURE));
        let fail = b.send_fail(0, packet.clone()).unwrap().expect("live channel");
        a.on_fail(&fail).unwrap();
        // B signs A's commitment without the HTLC; A revokes.
        let first = sign(&mut b, &mut a);
        assert!(first.failed.is_empty(), "B is the remover: it learns nothing to pass on");
        // A signs B's commitment without it; B's revocation makes the removal irrevocable at A.
        let second = sign(&mut a, &mut b);
        assert_eq!(second.failed, vec![(0, packet)]);
        assert_eq!(a.balances(View::Local).ours_msat, 600_000_000, "the amount came back");
    }

    #[test]
    fn crossing_updates_converge() {
        let (mut a, mut b) = pair(500_000_000);
        let add_a = a.send_add(10_000_000, preimage(3).payment_hash(), 500, onion()).unwrap();
        let add_b = b.send_add(20_000_000, preimage(4).payment_hash(), 500, onion()).unwrap();
        let sig_a = a.send_commitment().unwrap();
        let sig_b = b.send_commitment().unwrap();
        // Both adds and both commitments cross on the wire.
        b.on_add(&add_a).unwrap();
        a.on_add(&add_b).unwrap();
        let raa_b = b.on_commitment_signed(&sig_a).unwrap();
        let raa_a = a.on_commitment_signed(&sig_b).unwrap();
        a.on_revoke_and_ack(&raa_b).unwrap();
        b.on_revoke_and_ack(&raa_a).unwrap();
        // Each now signs the other's add into the other's commitment.
        let at_a = sign(&mut a, &mut b);
        let at_b = sign(&mut b, &mut a);
        assert_eq!(at_a.locked_in, vec![0], "A locked in B's HTLC");
        assert_eq!(at_b.locked_in, vec![0], "B locked in A's HTLC");
        for ch in [&a, &b] {
            check_sums(ch);
            assert!(
                ch.offered_htlcs()
                    .chain(ch.received_htlcs())
                    .all(|h| h.state == HtlcState::Committed)
            );
        }
        assert_eq!(
            a.balances(View::Local),
            Balances { ours_msat: 490_000_000, theirs_msat: 480_000_000 }
        );
    }

    #[test]
    fn available_balance_keeps_the_reserve_and_the_fee_spike_buffer() {
        let (a, b) = pair(600_000_000);
        let reserve = 10_000_000; // 1% of 1_000_000 sat
        let buffer = a.format().opener_cost_msat(2 * 253, 2);
        assert_eq!(a.available_to_send_msat(), 600_000_000 - reserve - buffer);
        // B, who did not open, keeps only its reserve.
        assert_eq!(b.available_to_send_msat(), 400_000_000 - reserve);
        assert_eq!(
            a.check_add(600_000_000 - reserve - buffer + 1),
            Err(AddHtlcError::InsufficientBalance)
        );
    }

    #[test]
    fn adds_waiting_for_a_signature_count_against_every_commitment() {
        // A opened with 900k sat, B has 100k sat (reserve 10k sat each).
        let (mut a, mut b) = pair(900_000_000);
        let big = a.send_add(500_000_000, preimage(8).payment_hash(), 500, onion()).unwrap();
        b.on_add(&big).unwrap();
        sign(&mut a, &mut b);
        sign(&mut b, &mut a);
        // B adds 10k sat and signs: it now waits for A's revocation.
        let small = b.send_add(10_000_000, preimage(9).payment_hash(), 500, onion()).unwrap();
        let signed = b.send_commitment().unwrap();
        // While waiting, B fulfils A's 500k sat HTLC: that credit is in B's "next" view only.
        let fulfill = b.send_fulfill(0, preimage(8)).unwrap().expect("live channel");
        assert_eq!(b.balances(View::Next).ours_msat, 590_000_000);
        // B's commitments still hold only 90k to 100k sat for it: 80k sat above the reserve.
        assert_eq!(b.available_to_send_msat(), 80_000_000);
        let first = b.send_add(80_000_000, preimage(10).payment_hash(), 500, onion()).unwrap();
        assert_eq!(b.check_add(1_000_000), Err(AddHtlcError::InsufficientBalance));
        // The dance completes without anyone overdrawn.
        a.on_add(&small).unwrap();
        let revoke = a.on_commitment_signed(&signed).unwrap();
        a.on_fulfill(&fulfill).unwrap();
        a.on_add(&first).unwrap();
        b.on_revoke_and_ack(&revoke).unwrap();
        for _ in 0..3 {
            if b.can_sign() {
                sign(&mut b, &mut a);
            }
            if a.can_sign() {
                sign(&mut a, &mut b);
            }
        }
        check_sums(&a);
        check_sums(&b);
        assert_eq!(b.balances(View::Local).ours_msat, 600_000_000 - 90_000_000);
    }

    #[test]
    fn the_peers_slot_limit_is_respected() {
        let mut cln = NodeConfig::preset(crate::Implementation::Cln);
        cln.channel.max_accepted_htlcs = 2;
        let spec = GenesisChannel { announce: false, ..genesis(B, true, 500_000_000) };
        let mut a = Channel::new_genesis(A, &spec, &config(), &cln);
        for n in 0..2 {
            a.send_add(1_000_000, preimage(n).payment_hash(), 500, onion()).unwrap();
        }
        assert_eq!(a.check_add(1_000_000), Err(AddHtlcError::NoSlot));
        assert_eq!(a.available_to_send_msat(), 0);
    }

    #[test]
    fn a_commitment_that_differs_from_ours_is_refused() {
        let (mut a, mut b) = pair(600_000_000);
        let add = a.send_add(1_000_000, preimage(5).payment_hash(), 500, onion()).unwrap();
        b.on_add(&add).unwrap();
        let mut signed = a.send_commitment().unwrap();
        signed.holder_msat += 1;
        assert!(matches!(b.on_commitment_signed(&signed), Err(ChannelError::BadCommitment { .. })));
    }

    #[test]
    fn a_wrong_preimage_is_refused() {
        let (mut a, mut b) = pair(600_000_000);
        let add = a.send_add(1_000_000, preimage(6).payment_hash(), 500, onion()).unwrap();
        b.on_add(&add).unwrap();
        sign(&mut a, &mut b);
        sign(&mut b, &mut a);
        assert_eq!(b.send_fulfill(0, preimage(7)), Err(ChannelError::BadPreimage { id: 0 }));
        let forged = UpdateFulfillHtlc { channel_id: a.id(), id: 0, payment_preimage: preimage(7) };
        assert_eq!(a.on_fulfill(&forged), Err(ChannelError::BadPreimage { id: 0 }));
    }
}
