//! Peer messages in (BOLT 1, 2 and 7), one `on_<message>` function each, as LDK's
//! `internal_<message>`. A message that breaks a rule of BOLT 2 is a [`Violation`]: the channel is
//! failed and closed. A channel closing on chain takes no more updates, though a preimage its
//! peer still sends is learnt.

use super::Node;
use crate::action::Timer;
use crate::chain::Script;
use crate::channel::{Channel, ChannelError, ChannelPhase};
use crate::event::Event;
use crate::gossip::{ChannelUpdate, GossipId};
use crate::ids::{ChannelId, NodeId, SimTime};
use crate::msg::{
    AcceptChannel, AnnouncementSignatures, ChannelReady, ChannelReestablish, ClosingSigned,
    CommitmentSigned, ErrorMessage, FundingCreated, FundingSigned, Init, Message, OpenChannel,
    RevokeAndAck, Shutdown, UpdateAddHtlc, UpdateFailHtlc, UpdateFulfillHtlc,
};
use std::sync::Arc;

/// A peer broke a rule of BOLT 2 on a channel: the channel must be failed.
type Violation = (ChannelId, ChannelError);

/// `message` named channel `id`, which we do not have with this peer.
fn unknown(id: ChannelId, message: &'static str) -> Violation {
    (id, ChannelError::UnknownChannel { message })
}

impl Node {
    /// A message arrived from `from`.
    pub fn handle_message(&mut self, now: SimTime, from: NodeId, msg: Message) {
        if matches!(msg, Message::Gossip(_) | Message::ChannelUpdate(_)) {
            self.tick_gossip(now);
        } else {
            self.tick(now);
        }
        if let Err((channel_id, error)) = self.dispatch(from, msg) {
            self.fail_channel(channel_id, from, error);
        }
        self.flush();
    }

    fn dispatch(&mut self, from: NodeId, msg: Message) -> Result<(), Violation> {
        if let Some(id) = msg.channel_id()
            && !matches!(msg, Message::Error(_))
            && self
                .channels
                .with_peer(id, from)
                .is_some_and(|c| c.phase() >= ChannelPhase::ForceClosing)
        {
            self.on_message_for_closed_channel(from, id, &msg);
            return Ok(());
        }
        match msg {
            Message::Init(init) => self.on_init(from, init),
            Message::Error(err) => self.on_error(from, err),
            Message::ChannelReestablish(msg) => self.on_channel_reestablish(from, msg)?,
            Message::OpenChannel(open) => self.on_open_channel(from, *open),
            Message::AcceptChannel(accept) => self.on_accept_channel(from, accept)?,
            Message::FundingCreated(created) => self.on_funding_created(from, created)?,
            Message::FundingSigned(signed) => self.on_funding_signed(from, signed)?,
            Message::ChannelReady(ready) => self.on_channel_ready(from, ready)?,
            Message::AnnouncementSignatures(sigs) => self.on_announcement_signatures(from, sigs)?,
            Message::ChannelUpdate(update) => self.on_channel_update(from, update),
            Message::Gossip(batch) => self.on_gossip(from, batch),
            Message::UpdateAddHtlc(add) => self.on_update_add_htlc(from, *add)?,
            Message::UpdateFulfillHtlc(fulfill) => self.on_update_fulfill_htlc(from, fulfill)?,
            Message::UpdateFailHtlc(fail) => self.on_update_fail_htlc(from, *fail)?,
            Message::CommitmentSigned(signed) => self.on_commitment_signed(from, signed)?,
            Message::RevokeAndAck(revoke) => self.on_revoke_and_ack(from, revoke)?,
            Message::Shutdown(shutdown) => self.on_shutdown(from, shutdown)?,
            Message::ClosingSigned(closing) => self.on_closing_signed(from, closing)?,
        }
        Ok(())
    }

    /// A message for a channel closing on chain: a peer that wants to re-establish is told it is
    /// closed, and a preimage for an HTLC we offered is still worth learning.
    fn on_message_for_closed_channel(&mut self, from: NodeId, id: ChannelId, msg: &Message) {
        match msg {
            Message::ChannelReestablish(_) => {
                self.out.send(from, Message::Error(ErrorMessage { channel_id: id }));
            }
            Message::UpdateFulfillHtlc(fulfill) => {
                let preimage = fulfill.payment_preimage;
                let known = self.channels.get(id).is_some_and(|c| {
                    c.offered_htlc(fulfill.id)
                        .is_some_and(|h| h.payment_hash == preimage.payment_hash())
                });
                if known && let Some(source) = self.switch.take((id, fulfill.id)) {
                    self.settle_upstream(source, preimage, false);
                }
            }
            _ => {}
        }
    }

    /// BOLT 1 `init`: the peer is ready; our funded channels with it are re-established, and it
    /// gets the gossip we have heard.
    fn on_init(&mut self, from: NodeId, init: Init) {
        self.peers.init_received(from, init.anchors, self.now);
        self.out.emit(Event::PeerConnected { peer: from });
        let funded: Vec<ChannelId> = self
            .channels
            .of_peer(from)
            .filter(|c| c.needs_reestablish())
            .map(Channel::id)
            .collect();
        for id in funded {
            let msg = self.channels.get(id).expect("listed").reestablish();
            self.out.send(from, Message::ChannelReestablish(msg));
        }
        if init.initial_routing_sync {
            let gossip = self.graph.overlay_gossip();
            if !gossip.is_empty() {
                self.out.send(from, Message::Gossip(gossip.into()));
            }
        }
    }

    /// BOLT 1 `error`: the peer failed the channel. Before funding it is forgotten; after, we
    /// close it on chain.
    fn on_error(&mut self, from: NodeId, err: ErrorMessage) {
        self.close_failed(err.channel_id, from);
    }

    fn on_channel_reestablish(
        &mut self,
        from: NodeId,
        msg: ChannelReestablish,
    ) -> Result<(), Violation> {
        let id = msg.channel_id;
        let channel =
            self.channels.with_peer(id, from).ok_or_else(|| unknown(id, "channel_reestablish"))?;
        if !channel.needs_reestablish() {
            return Ok(());
        }
        let resend = channel.on_reestablish(&msg).map_err(|e| (id, e))?;
        let retransmitted = resend.len() as u32;
        for m in resend {
            self.out.send(from, m);
        }
        self.out.emit(Event::ChannelReestablished { channel_id: id, peer: from, retransmitted });
        self.channels.mark_dirty(id);
        match self.config.enable_after_reconnect_s {
            0 => self.set_away_disabled(from, false),
            after_s => {
                let at = self.now.plus_secs(u64::from(after_s));
                self.out.set_timer(at, Timer::PeerOnline { peer: from });
            }
        }
        Ok(())
    }

    /// BOLT 2 `open_channel`: accepted if its parameters suit us, else refused with `error`.
    fn on_open_channel(&mut self, from: NodeId, open: OpenChannel) {
        let temporary_id = open.temporary_channel_id;
        if self.channels.contains(temporary_id) {
            self.out.send(from, Message::Error(ErrorMessage { channel_id: temporary_id }));
            return;
        }
        match Channel::new_inbound(self.id, from, &open, &self.config) {
            Ok((channel, accept)) => {
                self.channels.insert(channel);
                self.out.send(from, Message::AcceptChannel(accept));
            }
            Err(_) => {
                self.out.send(from, Message::Error(ErrorMessage { channel_id: temporary_id }));
            }
        }
    }

    /// BOLT 2 `accept_channel`: we fund the channel from our wallet and send `funding_created`.
    fn on_accept_channel(&mut self, from: NodeId, accept: AcceptChannel) -> Result<(), Violation> {
        let temp = accept.temporary_channel_id;
        let channel =
            self.channels.with_peer(temp, from).ok_or_else(|| unknown(temp, "accept_channel"))?;
        if channel.on_accept(&accept).is_err() {
            self.out.send(from, Message::Error(ErrorMessage { channel_id: temp }));
            self.close_failed(temp, from);
            return Ok(());
        }
        let funding_sat = channel.funding_sat();
        let dust = channel.local_params().dust_limit_sat;
        let script = Script::funding(self.id, from);
        match self.wallet.fund(funding_sat, script, self.config.feerate_per_kw, dust) {
            Ok(tx) => {
                let mut channel = self.channels.remove(temp).expect("found above");
                let created = channel.on_funding_built(tx, 0);
                self.channels.insert(channel);
                self.out.send(from, Message::FundingCreated(created));
            }
            Err(_) => {
                self.channels.remove(temp);
                self.out.send(from, Message::Error(ErrorMessage { channel_id: temp }));
                self.out.emit(Event::ChannelOpenFailed { temporary_channel_id: temp, peer: from });
            }
        }
        Ok(())
    }

    /// BOLT 2 `funding_created`: the channel takes its permanent id; we sign the funding.
    fn on_funding_created(
        &mut self,
        from: NodeId,
        created: FundingCreated,
    ) -> Result<(), Violation> {
        let height = self.height;
        let temp = created.temporary_channel_id;
        let channel =
            self.channels.with_peer(temp, from).ok_or_else(|| unknown(temp, "funding_created"))?;
        channel.on_funding_created(&created, height).map_err(|e| (temp, e))?;
        let channel = self.channels.remove(temp).expect("found above");
        let id = channel.id();
        self.channels.insert(channel);
        self.out.send(from, Message::FundingSigned(FundingSigned { channel_id: id }));
        Ok(())
    }

    /// BOLT 2 `funding_signed`: we broadcast the funding transaction.
    fn on_funding_signed(&mut self, from: NodeId, signed: FundingSigned) -> Result<(), Violation> {
        let id = signed.channel_id;
        let channel =
            self.channels.with_peer(id, from).ok_or_else(|| unknown(id, "funding_signed"))?;
        let tx = channel.on_funding_signed().map_err(|e| (id, e))?;
        let funding_sat = channel.funding_sat();
        let temporary_channel_id = channel.temporary_id();
        self.out.emit(Event::FundingBroadcast {
            channel_id: id,
            temporary_channel_id,
            peer: from,
            txid: tx.txid,
            funding_sat,
        });
        self.out.broadcast(tx);
        Ok(())
    }

    fn on_channel_ready(&mut self, from: NodeId, ready: ChannelReady) -> Result<(), Violation> {
        let id = ready.channel_id;
        let channel =
            self.channels.with_peer(id, from).ok_or_else(|| unknown(id, "channel_ready"))?;
        if channel.on_channel_ready().map_err(|e| (id, e))? {
            self.on_channel_normal(id);
        }
        Ok(())
    }

    fn on_announcement_signatures(
        &mut self,
        from: NodeId,
        sigs: AnnouncementSignatures,
    ) -> Result<(), Violation> {
        let id = sigs.channel_id;
        let channel = self
            .channels
            .with_peer(id, from)
            .ok_or_else(|| unknown(id, "announcement_signatures"))?;
        if channel.on_announcement_signatures() {
            self.announce(id);
        }
        Ok(())
    }

    /// A `channel_update` the peer sent us directly: its policy over a channel we share.
    fn on_channel_update(&mut self, from: NodeId, update: ChannelUpdate) {
        if let Some(id) = self.channels.by_scid(update.short_channel_id)
            && let Some(channel) = self.channels.with_peer(id, from)
        {
            channel.on_peer_update(&update);
        }
    }

    /// Gossip: what is new to us joins our view and is relayed to the other peers.
    fn on_gossip(&mut self, from: NodeId, batch: Arc<[GossipId]>) {
        for &id in batch.iter() {
            if self.graph.apply_gossip(id) {
                self.queue_gossip(id, Some(from));
            }
        }
    }

    fn on_update_add_htlc(&mut self, from: NodeId, add: UpdateAddHtlc) -> Result<(), Violation> {
        let id = add.channel_id;
        let channel =
            self.channels.with_peer(id, from).ok_or_else(|| unknown(id, "update_add_htlc"))?;
        channel.on_add(&add).map_err(|e| (id, e))
    }

    /// The peer fulfilled an HTLC we offered: the preimage goes upstream at once.
    fn on_update_fulfill_htlc(
        &mut self,
        from: NodeId,
        fulfill: UpdateFulfillHtlc,
    ) -> Result<(), Violation> {
        let id = fulfill.channel_id;
        let channel =
            self.channels.with_peer(id, from).ok_or_else(|| unknown(id, "update_fulfill_htlc"))?;
        channel.on_fulfill(&fulfill).map_err(|e| (id, e))?;
        if let Some(source) = self.switch.take((id, fulfill.id)) {
            self.settle_upstream(source, fulfill.payment_preimage, false);
        }
        Ok(())
    }

    /// The peer failed an HTLC we offered; it goes upstream once irrevocable.
    fn on_update_fail_htlc(&mut self, from: NodeId, fail: UpdateFailHtlc) -> Result<(), Violation> {
        let id = fail.channel_id;
        let channel =
            self.channels.with_peer(id, from).ok_or_else(|| unknown(id, "update_fail_htlc"))?;
        channel.on_fail(&fail).map_err(|e| (id, e))
    }

    fn on_commitment_signed(
        &mut self,
        from: NodeId,
        signed: CommitmentSigned,
    ) -> Result<(), Violation> {
        let id = signed.channel_id;
        let channel =
            self.channels.with_peer(id, from).ok_or_else(|| unknown(id, "commitment_signed"))?;
        let revoke: RevokeAndAck = channel.on_commitment_signed(&signed).map_err(|e| (id, e))?;
        self.out.send(from, Message::RevokeAndAck(revoke));
        self.channels.mark_dirty(id);
        Ok(())
    }

    /// The peer revoked its previous commitment: HTLCs it offered are now locked in (we forward
    /// or claim them), and failures of HTLCs we offered are irrevocable (they go upstream).
    fn on_revoke_and_ack(&mut self, from: NodeId, revoke: RevokeAndAck) -> Result<(), Violation> {
        let id = revoke.channel_id;
        let channel =
            self.channels.with_peer(id, from).ok_or_else(|| unknown(id, "revoke_and_ack"))?;
        let outcome = channel.on_revoke_and_ack(&revoke).map_err(|e| (id, e))?;
        self.channels.mark_dirty(id);
        for htlc_id in outcome.locked_in {
            self.incoming_locked_in(id, htlc_id);
        }
        for (htlc_id, packet) in outcome.failed {
            if let Some(source) = self.switch.take((id, htlc_id)) {
                self.fail_upstream(source, packet);
            }
        }
        Ok(())
    }

    fn on_shutdown(&mut self, from: NodeId, shutdown: Shutdown) -> Result<(), Violation> {
        let id = shutdown.channel_id;
        let channel = self.channels.with_peer(id, from).ok_or_else(|| unknown(id, "shutdown"))?;
        if channel.on_shutdown().map_err(|e| (id, e))? {
            self.out.send(from, Message::Shutdown(Shutdown { channel_id: id }));
            self.out.emit(Event::ChannelClosing { channel_id: id, peer: from });
        }
        self.channels.mark_dirty(id);
        Ok(())
    }

    fn on_closing_signed(&mut self, from: NodeId, closing: ClosingSigned) -> Result<(), Violation> {
        let id = closing.channel_id;
        let channel =
            self.channels.with_peer(id, from).ok_or_else(|| unknown(id, "closing_signed"))?;
        let (tx, reply) = channel.on_closing_signed(&closing).map_err(|e| (id, e))?;
        if let Some(reply) = reply {
            self.out.send(from, Message::ClosingSigned(reply));
        }
        self.out.broadcast(tx);
        Ok(())
    }

    /// Reports a violation by the peer, tells it, and ends the channel.
    fn fail_channel(&mut self, channel_id: ChannelId, peer: NodeId, error: ChannelError) {
        self.out.emit(Event::ProtocolViolation { channel_id, peer, error });
        self.out.send(peer, Message::Error(ErrorMessage { channel_id }));
        self.close_failed(channel_id, peer);
    }

    /// Ends a channel of `peer` after an error: before funding it is forgotten (and any funding
    /// inputs return to the wallet); after, it is closed as failed.
    pub(super) fn close_failed(&mut self, channel_id: ChannelId, peer: NodeId) {
        let Some(channel) = self.channels.with_peer(channel_id, peer) else { return };
        if channel.phase() < ChannelPhase::AwaitingReady {
            let channel = self.channels.remove(channel_id).expect("found above");
            if let Some(tx) = channel.unbroadcast_funding() {
                self.wallet.release(tx);
            }
            self.out.emit(Event::ChannelOpenFailed { temporary_channel_id: channel_id, peer });
        } else if channel.phase() < ChannelPhase::ForceClosing {
            self.force_close(channel_id);
        }
    }
}
