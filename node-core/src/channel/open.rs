//! Establishing a channel (BOLT 2): the checks on `open_channel` and `accept_channel`, the
//! funding transaction's outpoint and the permanent channel id, `minimum_depth` and the
//! `channel_ready` exchange, the channels that exist when a run starts, and the BOLT 7
//! `announcement_signatures` exchange. The node funds the channel from its wallet and sends the
//! messages.

use super::{
    ANNOUNCEMENT_DEPTH, Announcement, Balances, Channel, ChannelError, ChannelPhase,
    DeclaredParams, GenesisChannel, State,
};
use crate::chain::{OutPoint, Tx};
use crate::commitment::CommitmentFormat;
use crate::config::NodeConfig;
use crate::gossip::ChannelUpdate;
use crate::ids::{ChannelId, NodeId, Scid};
use crate::msg::{AcceptChannel, ChannelReady, FundingCreated, OpenChannel};

/// What the peer declared in its `open_channel` or `accept_channel` (both carry these fields).
macro_rules! declared_in {
    ($msg:expr) => {
        DeclaredParams {
            dust_limit_sat: $msg.dust_limit_sat,
            channel_reserve_sat: $msg.channel_reserve_sat,
            htlc_minimum_msat: $msg.htlc_minimum_msat,
            max_htlc_value_in_flight_msat: $msg.max_htlc_value_in_flight_msat,
            max_accepted_htlcs: $msg.max_accepted_htlcs,
            to_self_delay_blocks: $msg.to_self_delay_blocks,
        }
    };
}

impl DeclaredParams {
    /// Checks what a peer declared against the rules `open_channel` and `accept_channel` share
    /// (BOLT 2): a reserve within the funding, zero (a zero-reserve channel) or at least both
    /// dust limits, and 1 to 483 HTLCs.
    fn check_from_peer(
        &self,
        funding_sat: u64,
        our_dust_limit_sat: u64,
    ) -> Result<(), ChannelError> {
        let bad = |reason| Err(ChannelError::BadParameters { reason });
        if self.channel_reserve_sat > funding_sat {
            return bad("channel_reserve_satoshis above the funding");
        }
        if self.channel_reserve_sat != 0
            && (self.channel_reserve_sat < our_dust_limit_sat
                || self.dust_limit_sat > self.channel_reserve_sat)
        {
            return bad("channel_reserve_satoshis below a dust limit");
        }
        if self.max_accepted_htlcs > 483 || self.max_accepted_htlcs == 0 {
            return bad("max_accepted_htlcs out of range");
        }
        Ok(())
    }
}

impl Channel {
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
        channel.announcement = Announcement::new(announce);
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
        let remote = declared_in!(msg);
        remote.check_from_peer(funding_sat, config.channel.dust_limit_sat)?;
        let mut channel =
            Channel::blank(msg.temporary_channel_id, me, peer, false, funding_sat, config);
        channel.push_msat = msg.push_msat;
        channel.announcement = Announcement::new(msg.announce);
        channel.format =
            CommitmentFormat { feerate_per_kw: msg.feerate_per_kw, anchors: msg.anchors };
        channel.local = DeclaredParams::declare(&config.channel, funding_sat, msg.dust_limit_sat);
        channel.remote = remote;
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
        channel.state = State::AcceptSent;
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
            // Negotiated as a feature: both ends must support it.
            anchors: config.channel.anchors && peer_config.channel.anchors,
        };
        channel.funding = Some(funding);
        channel.scid = Some(spec.scid);
        channel.confirmed_height = Some(spec.scid.block_height());
        channel.announcement = match spec.announce {
            true => Announcement::Public { sent: true, received: true },
            false => Announcement::Private,
        };
        channel.state = State::Normal;
        // As if one commitment had been exchanged: reconnecting does not resend channel_ready.
        channel.local_commitment_number = 1;
        channel.remote_commitment_number = 1;
        let capacity_msat = funding_sat * 1000;
        let ours_msat = spec.ours_msat.min(capacity_msat);
        channel.views = [Balances { ours_msat, theirs_msat: capacity_msat - ours_msat }; 3];
        channel.local_policy = spec.policy;
        channel.disabled = spec.disabled;
        channel.remote_policy = spec.peer_policy;
        // The update every node knows from the start (the base graph's, timestamp 0).
        channel.last_update = Some(ChannelUpdate {
            short_channel_id: spec.scid,
            direction: u8::from(me > spec.peer),
            timestamp: 0,
            disabled: spec.disabled,
            policy: spec.policy,
        });
        channel
    }

    /// Opener: checks `accept_channel`.
    pub fn on_accept(&mut self, msg: &AcceptChannel) -> Result<(), ChannelError> {
        self.expect_phase(ChannelPhase::OpenSent, "accept_channel")?;
        let bad = |reason| Err(ChannelError::BadParameters { reason });
        let remote = declared_in!(msg);
        remote.check_from_peer(self.funding_sat, self.local.dust_limit_sat)?;
        if self.local.channel_reserve_sat != 0
            && self.local.channel_reserve_sat < msg.dust_limit_sat
        {
            return bad("our reserve is below the acceptor's dust limit");
        }
        if msg.minimum_depth > 144 {
            return bad("minimum_depth unreasonably large");
        }
        self.remote = remote;
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
        assert!(matches!(self.state, State::OpenSent), "invariant: funding follows accept_channel");
        let msg = FundingCreated {
            temporary_channel_id: self.id,
            funding_txid: tx.txid,
            funding_output_index: vout,
        };
        self.funding = Some(tx.outpoint(vout));
        self.id = ChannelId::from_funding(&tx.txid, vout);
        self.state = State::FundingCreated { funding_tx: Box::new(tx) };
        msg
    }

    /// Whether we accepted this channel and its funding has not confirmed by `height`, 2016
    /// blocks after we signed it: BOLT 2 lets the acceptor forget it then.
    pub fn funding_abandoned(&self, height: u32) -> bool {
        let State::AwaitingReady { signed_at_height: Some(signed), .. } = self.state else {
            return false;
        };
        !self.we_opened && self.confirmed_height.is_none() && height >= signed + 2016
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
        self.state = State::AwaitingReady {
            ready_sent: false,
            ready_received: false,
            signed_at_height: Some(height),
        };
        Ok(())
    }

    /// Opener: `funding_signed` arrived; returns the funding transaction to broadcast.
    pub fn on_funding_signed(&mut self) -> Result<Tx, ChannelError> {
        self.expect_phase(ChannelPhase::FundingCreated, "funding_signed")?;
        let awaiting = State::AwaitingReady {
            ready_sent: false,
            ready_received: false,
            signed_at_height: None,
        };
        match std::mem::replace(&mut self.state, awaiting) {
            State::FundingCreated { funding_tx } => Ok(*funding_tx),
            _ => unreachable!("checked the phase above"),
        }
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
        let deep_enough = self.depth(height) >= self.minimum_depth;
        match &mut self.state {
            State::AwaitingReady { ready_sent, .. } if !*ready_sent && deep_enough => {
                *ready_sent = true;
                self.maybe_become_normal();
                Some(ChannelReady { channel_id: self.id })
            }
            _ => None,
        }
    }

    /// The peer's `channel_ready`. Returns true if the channel just became normal.
    pub fn on_channel_ready(&mut self) -> Result<bool, ChannelError> {
        match &mut self.state {
            // Retransmitted after a reconnection: already past it.
            State::Normal | State::ShuttingDown { .. } | State::Closing { .. } => Ok(false),
            State::AwaitingReady { ready_received, .. } => {
                *ready_received = true;
                Ok(self.maybe_become_normal())
            }
            _ => Err(ChannelError::UnexpectedMessage {
                message: "channel_ready",
                phase: self.phase(),
            }),
        }
    }

    fn maybe_become_normal(&mut self) -> bool {
        if let State::AwaitingReady { ready_sent: true, ready_received: true, .. } = self.state {
            self.state = State::Normal;
            true
        } else {
            false
        }
    }

    /// Whether we sent `channel_ready` (implied once the channel is normal).
    pub(super) fn ready_sent(&self) -> bool {
        match self.state {
            State::OpenSent | State::AcceptSent | State::FundingCreated { .. } => false,
            State::AwaitingReady { ready_sent, .. } => ready_sent,
            _ => true,
        }
    }

    /// Whether `announcement_signatures` should be sent now (public, deep enough, not sent).
    pub fn wants_announcement(&mut self, height: u32) -> bool {
        let ready = matches!(self.state, State::Normal) && self.depth(height) >= ANNOUNCEMENT_DEPTH;
        match &mut self.announcement {
            Announcement::Public { sent, .. } if !*sent && ready => {
                *sent = true;
                true
            }
            _ => false,
        }
    }

    /// Whether a new height may move the channel on: our commitment to rebroadcast while force
    /// closing, `channel_ready` not yet sent, or our `announcement_signatures` not yet sent. A
    /// channel for which this is false gets nothing from [`Channel::ready_to_send`] or
    /// [`Channel::wants_announcement`] at any height.
    pub fn moves_with_height(&self) -> bool {
        matches!(self.state, State::ForceClosing | State::AwaitingReady { ready_sent: false, .. })
            || matches!(self.announcement, Announcement::Public { sent: false, .. })
    }

    /// The peer's `announcement_signatures`. Returns true when both sides have now signed.
    pub fn on_announcement_signatures(&mut self) -> bool {
        let was = self.is_announced();
        if let Announcement::Public { received, .. } = &mut self.announcement {
            *received = true;
        }
        !was && self.is_announced()
    }

    /// Whether both peers signed the announcement.
    pub fn is_announced(&self) -> bool {
        self.announcement == Announcement::Public { sent: true, received: true }
    }
}
