//! One channel as one of its two peers sees it (BOLT 2). The money is tracked in three views —
//! the commitment we hold, the one the peer holds, and the state once every pending update is
//! committed — and an HTLC moves money in a view when it enters or leaves it, so each view always
//! sums to the channel's value. The channel's phase carries what that phase alone needs (the
//! funding transaction until it is signed, who sent `channel_ready` or `shutdown`, the closing
//! transaction).
//!
//! This file holds the types, the state and the read-only accessors; the life of a channel is
//! in `open` (establishment and announcement), `updates` (HTLCs and the commitment dance),
//! `reestablish` (disconnection and `channel_reestablish`) and `close` (unilateral and
//! cooperative). The channel returns the messages to send and what changed; the node sends them,
//! forwards HTLCs and touches the wallet, and transactions are built by [`crate::commitment`].

use crate::chain::{OutPoint, Tx};
use crate::commitment::CommitmentFormat;
use crate::config::{ChannelConfig, DustExposure, NodeConfig};
use crate::gossip::ChannelUpdate;
use crate::htlc::{Htlc, View};
use crate::ids::{ChannelId, NodeId, Scid, SimTime};
use crate::msg::{Message, RevokeAndAck};
use crate::onion::ErrorPacket;
use crate::policy::{ChannelPolicy, PolicyChange};
use std::collections::BTreeMap;
use thiserror::Error;

mod close;
mod open;
mod reestablish;
#[cfg(test)]
mod tests;
mod updates;

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
    /// A message names a channel we do not have with this peer.
    #[error("{message} for a channel we do not have")]
    UnknownChannel {
        /// The message's name.
        message: &'static str,
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
    /// A dust HTLC that would take the channel's dust above our limit.
    #[error("over the dust exposure limit")]
    DustExposure,
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
        // In u128: a channel may hold all bitcoin, and a peer may ask for any share of it.
        let share = |value: u64, part: u64, whole: u64| {
            u64::try_from(u128::from(value) * u128::from(part) / u128::from(whole))
                .unwrap_or(u64::MAX)
        };
        let reserve_sat =
            share(funding_sat, u64::from(config.reserve_ppm), 1_000_000).min(funding_sat);
        DeclaredParams {
            dust_limit_sat: config.dust_limit_sat,
            channel_reserve_sat: if config.reserve_ppm == 0 {
                0
            } else {
                reserve_sat.max(config.dust_limit_sat).max(peer_dust_limit_sat)
            },
            htlc_minimum_msat: config.htlc_minimum_msat,
            max_htlc_value_in_flight_msat: share(
                funding_sat.saturating_mul(1000),
                u64::from(config.max_htlc_value_in_flight_percent),
                100,
            ),
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
pub(crate) struct Channel {
    id: ChannelId,
    temporary_id: ChannelId,
    me: NodeId,
    peer: NodeId,
    we_opened: bool,
    funding_sat: u64,
    push_msat: u64,
    funding: Option<OutPoint>,
    scid: Option<Scid>,
    confirmed_height: Option<u32>,
    minimum_depth: u32,
    state: State,
    local: DeclaredParams,
    remote: DeclaredParams,
    format: CommitmentFormat,
    announcement: Announcement,
    views: [Balances; 3],
    offered: BTreeMap<u64, Htlc>,
    received: BTreeMap<u64, Htlc>,
    next_offered_id: u64,
    next_received_id: u64,
    awaiting_revocation: bool,
    local_commitment_number: u64,
    remote_commitment_number: u64,
    /// Our forwarding policy over this channel.
    local_policy: ChannelPolicy,
    /// The policy before the last change, and when it changed (forwards paying it may be
    /// accepted for a while: BOLT 7). Boxed: policies rarely change.
    previous_policy: Option<Box<(ChannelPolicy, SimTime)>>,
    /// The peer's forwarding policy toward us, once it sent a channel_update.
    remote_policy: Option<ChannelPolicy>,
    /// The last channel_update we made for our direction (at the start: the one the network
    /// knows); onion errors carry it.
    last_update: Option<ChannelUpdate>,
    /// We disabled our direction (a policy change): forwards over it fail with
    /// `channel_disabled`.
    disabled: bool,
    /// A state change debited a side below zero: the peer signed or sent something its balance
    /// does not cover. Checked after every message from the peer.
    overdrawn: bool,
    /// What we may have to send again on reconnection; made at our first update.
    resend: Option<Box<Resend>>,
    /// The peer is connected and both sides re-established the channel: updates may flow.
    live: bool,
    /// The most this channel may hold in dust HTLCs (our node's setting).
    max_dust_exposure: DustExposure,
}

/// What a channel may have to send again after a reconnection (BOLT 2). Boxed in the channel
/// and made at its first update: most channels of a large network never carry one.
#[derive(Clone, Debug, Default)]
struct Resend {
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
}

/// A channel's [`Resend`] before its first update.
static NOTHING_TO_RESEND: Resend = Resend {
    uncommitted: Vec::new(),
    last_commitment: Vec::new(),
    last_revocation: None,
    commitment_seq: 0,
    revocation_seq: 0,
};

/// The phase of a channel's life with what that phase alone needs to know (its public face is
/// [`ChannelPhase`]). Transactions are boxed: nearly every channel of a run is `Normal`, and the
/// state's size is every channel's.
#[derive(Clone, Debug)]
enum State {
    /// Opener: `open_channel` sent.
    OpenSent,
    /// Acceptor: `accept_channel` sent.
    AcceptSent,
    /// Opener: `funding_created` sent; the funding transaction waits for `funding_signed`.
    FundingCreated { funding_tx: Box<Tx> },
    /// The funding is signed; waiting for `minimum_depth` and both `channel_ready`.
    AwaitingReady {
        ready_sent: bool,
        ready_received: bool,
        /// Acceptor: the height at which we signed the funding.
        signed_at_height: Option<u32>,
    },
    /// Open for HTLCs (both `channel_ready` exchanged).
    Normal,
    /// `shutdown` sent or received (or both); the opener's proposed closing transaction.
    ShuttingDown { sent: bool, received: bool, closing_tx: Option<Box<Tx>> },
    /// The closing transaction is agreed and broadcast.
    Closing { closing_tx: Box<Tx> },
    /// Our commitment is broadcast.
    ForceClosing,
    /// The funding output is spent, or the channel failed before it was funded.
    Closed,
}

impl Announcement {
    fn new(public: bool) -> Announcement {
        match public {
            true => Announcement::Public { sent: false, received: false },
            false => Announcement::Private,
        }
    }
}

impl State {
    fn phase(&self) -> ChannelPhase {
        match self {
            State::OpenSent => ChannelPhase::OpenSent,
            State::AcceptSent => ChannelPhase::AcceptSent,
            State::FundingCreated { .. } => ChannelPhase::FundingCreated,
            State::AwaitingReady { .. } => ChannelPhase::AwaitingReady,
            State::Normal => ChannelPhase::Normal,
            State::ShuttingDown { .. } => ChannelPhase::ShuttingDown,
            State::Closing { .. } => ChannelPhase::Closing,
            State::ForceClosing => ChannelPhase::ForceClosing,
            State::Closed => ChannelPhase::Closed,
        }
    }
}

/// Whether a channel is to be public, and who has signed its announcement (BOLT 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Announcement {
    /// Never announced.
    Private,
    /// To be announced once deep enough and both sides sent `announcement_signatures`.
    Public { sent: bool, received: bool },
}

impl Channel {
    /// What we may have to send again on reconnection.
    fn resend(&self) -> &Resend {
        self.resend.as_deref().unwrap_or(&NOTHING_TO_RESEND)
    }

    /// What we may have to send again on reconnection, to change.
    fn resend_mut(&mut self) -> &mut Resend {
        self.resend.get_or_insert_with(Box::default)
    }

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
            scid: None,
            confirmed_height: None,
            minimum_depth: 1,
            state: State::OpenSent,
            local: DeclaredParams::declare(&config.channel, funding_sat, 0),
            remote: DeclaredParams::declare(&config.channel, funding_sat, 0),
            format: CommitmentFormat {
                feerate_per_kw: config.feerate_per_kw,
                anchors: config.channel.anchors,
            },
            announcement: Announcement::Private,
            views: [Balances::default(); 3],
            offered: BTreeMap::new(),
            received: BTreeMap::new(),
            next_offered_id: 0,
            next_received_id: 0,
            awaiting_revocation: false,
            local_commitment_number: 0,
            remote_commitment_number: 0,
            local_policy: ChannelPolicy {
                htlc_maximum_msat: config.policy.htlc_maximum_msat.min(capacity_msat),
                ..config.policy
            },
            previous_policy: None,
            remote_policy: None,
            last_update: None,
            disabled: false,
            overdrawn: false,
            resend: None,
            live: true,
            max_dust_exposure: config.channel.max_dust_exposure,
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

    fn expect_phase(&self, phase: ChannelPhase, message: &'static str) -> Result<(), ChannelError> {
        if self.phase() == phase {
            Ok(())
        } else {
            Err(ChannelError::UnexpectedMessage { message, phase: self.phase() })
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
        self.state.phase()
    }

    /// What we declared.
    pub fn local_params(&self) -> &DeclaredParams {
        &self.local
    }

    /// What the peer declared.
    pub fn remote_params(&self) -> &DeclaredParams {
        &self.remote
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

    /// Whether its commitments have anchor outputs.
    pub fn has_anchors(&self) -> bool {
        self.format.anchors
    }

    /// Whether an HTLC of `amount_msat` is dust: trimmed from our commitment or the peer's
    /// (`offered_by_us` says which second-stage transaction each would need).
    pub fn is_dust(&self, amount_msat: u64, offered_by_us: bool) -> bool {
        self.format.is_trimmed(amount_msat, self.local.dust_limit_sat, offered_by_us)
            || self.format.is_trimmed(amount_msat, self.remote.dust_limit_sat, !offered_by_us)
    }

    /// What the channel holds in dust HTLCs, in either direction and any view, msat.
    pub fn dust_exposure_msat(&self) -> u64 {
        let held = |h: &Htlc, offered: bool| {
            View::ALL.iter().any(|&v| h.state.in_view(v, offered))
                && self.is_dust(h.amount_msat, offered)
        };
        let offered = self.offered.values().filter(|h| held(h, true));
        let received = self.received.values().filter(|h| held(h, false));
        offered.chain(received).map(|h| h.amount_msat).sum()
    }

    /// Whether the channel holds more dust than our limit allows.
    pub fn over_dust_limit(&self) -> bool {
        self.dust_exposure_msat() > self.max_dust_exposure.limit_msat(self.format.feerate_per_kw)
    }

    /// Our forwarding policy over this channel.
    pub fn local_policy(&self) -> &ChannelPolicy {
        &self.local_policy
    }

    /// The peer's forwarding policy toward us, once it told us (a private channel's peer sends
    /// its `channel_update` directly).
    pub fn remote_policy(&self) -> Option<&ChannelPolicy> {
        self.remote_policy.as_ref()
    }

    /// The peer's `channel_update` for its direction: its policy, or none if it disabled it.
    pub fn on_peer_update(&mut self, update: &ChannelUpdate) {
        self.remote_policy = (!update.disabled).then_some(update.policy);
    }

    /// Whether we disabled our direction (forwards over it fail with `channel_disabled`).
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// Changes our forwarding policy (and whether our direction is disabled) at `now`, keeping
    /// the policy it replaces.
    pub fn change_policy(&mut self, change: &PolicyChange, now: SimTime) {
        let policy = change.apply(self.local_policy);
        if policy != self.local_policy {
            self.previous_policy = Some(Box::new((self.local_policy, now)));
        }
        self.local_policy = policy;
        self.disabled = change.disabled.unwrap_or(self.disabled);
    }

    /// The policy before the last change, if it changed less than `grace_us` before `now`.
    pub fn previous_policy(&self, now: SimTime, grace_us: u64) -> Option<&ChannelPolicy> {
        self.previous_policy
            .as_deref()
            .filter(|(_, at)| now.micros_since(*at) < grace_us)
            .map(|(policy, _)| policy)
    }

    /// A new `channel_update` for our direction, with a timestamp of at least `now_s` and after
    /// the last one; `None` before the channel is confirmed. `peer_away`: we announce the
    /// direction disabled while the peer has been away long enough.
    pub fn new_update(&mut self, now_s: u32, peer_away: bool) -> Option<ChannelUpdate> {
        let last_timestamp = self.last_update.map_or(0, |u| u.timestamp);
        let update = ChannelUpdate {
            short_channel_id: self.scid?,
            direction: u8::from(self.me > self.peer),
            timestamp: now_s.max(last_timestamp + 1),
            disabled: !matches!(self.state, State::Normal) || self.disabled || peer_away,
            policy: self.local_policy,
        };
        self.last_update = Some(update);
        Some(update)
    }

    /// The last `channel_update` we made, as it was (for onion errors, as lnd's
    /// `FetchLastChannelUpdate` does): `None` if we never made one.
    pub fn last_update(&self) -> Option<ChannelUpdate> {
        self.last_update
    }

    /// Whether any HTLC is in flight in either direction, in any commitment.
    pub fn has_htlcs(&self) -> bool {
        !self.offered.is_empty() || !self.received.is_empty()
    }

    /// Whether a state change ever debited a side below zero (a peer's bad commitment).
    pub fn is_overdrawn(&self) -> bool {
        self.overdrawn
    }

    /// Whether updates can flow (connected and re-established).
    pub fn is_live(&self) -> bool {
        self.live
    }
}
