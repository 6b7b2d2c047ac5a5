//! Blocks in: the wallet sees its transactions confirm, channels see their funding confirm or
//! spent (closing them, and starting BOLT 5's on-chain resolution for a commitment), the view of
//! the network forgets spent channels, claims are made as the chain allows, and BOLT 2 and 5
//! deadlines send a channel on chain before an HTLC's expiry could cost us. Channels then move
//! on with the height: `channel_ready` once deep enough, `announcement_signatures` at 6
//! confirmations, our commitment rebroadcast until it confirms.

use super::Node;
use crate::chain::{Block, TxKind};
use crate::channel::{Channel, ChannelPhase};
use crate::event::{CloseReason, Event};
use crate::htlc::Removal;
use crate::ids::{ChannelId, NodeId, SimTime, Txid};
use crate::msg::{AnnouncementSignatures, ErrorMessage, Message};
use crate::onchain::{FULFILL_DEADLINE_BLOCKS, GRACE_BLOCKS, Outcome};
use crate::onion::FailureCode;
use std::collections::BTreeMap;

impl Node {
    /// A block was connected.
    pub fn block_connected(&mut self, now: SimTime, block: &Block) {
        self.tick(now);
        self.height = self.height.max(block.height);
        let feerate = self.config.feerate_per_kw;
        let mut outcomes = Vec::new();
        // The open channels by funding txid, so that each transaction costs a few lookups
        // rather than a pass over every channel (a hub has thousands).
        let mut by_funding: BTreeMap<Txid, Vec<ChannelId>> = BTreeMap::new();
        if !block.txs.is_empty() {
            for c in self.channels.iter().filter(|c| c.phase() != ChannelPhase::Closed) {
                if let Some(f) = c.funding_outpoint() {
                    by_funding.entry(f.txid).or_default().push(c.id());
                }
            }
        }
        for confirmed in &block.txs {
            let tx = &confirmed.tx;
            self.wallet.apply_confirmed(tx);
            let mut ids: Vec<ChannelId> = std::iter::once(&tx.txid)
                .chain(tx.inputs.iter().map(|i| &i.prevout.txid))
                .filter_map(|txid| by_funding.get(txid))
                .flatten()
                .copied()
                .filter(|&id| {
                    self.channels.get(id).is_some_and(|c| {
                        c.phase() != ChannelPhase::Closed
                            && c.funding_outpoint()
                                .is_some_and(|f| f.txid == tx.txid || tx.spends(&f))
                    })
                })
                .collect();
            // In id order, as a pass over the channels would list them.
            ids.sort();
            ids.dedup();
            for id in ids {
                let channel = self.channels.get_mut(id).expect("listed above");
                let funding = channel.funding_outpoint().expect("filtered on it");
                if !tx.spends(&funding) {
                    channel.on_funding_confirmed(block.height, confirmed.tx_index);
                    if let Some(scid) = channel.scid() {
                        self.channels.index_scid(scid, id);
                    }
                    continue;
                }
                let peer = channel.peer();
                let reason = if tx.kind == TxKind::MutualClose {
                    CloseReason::Mutual
                } else {
                    let ours = channel.phase() == ChannelPhase::ForceClosing
                        && channel.holder_commitment_tx().txid == tx.txid;
                    self.onchain.commitment_confirmed(channel, tx, block.height, ours, feerate);
                    if ours { CloseReason::LocalForce } else { CloseReason::RemoteForce }
                };
                let was_public = channel.is_announced();
                channel.on_funding_spent();
                self.out.emit(Event::ChannelClosed { channel_id: id, peer, reason });
                if was_public {
                    self.publish_update(id);
                }
            }
            self.onchain.tx_confirmed(tx, block.height, feerate, &mut outcomes);
        }
        for scid in block.closed_channels.iter() {
            self.graph.mark_spent(*scid, block.height);
        }
        self.graph.forget_spent(block.height, self.config.forget_spent_after_blocks);
        for tx in self.onchain.on_height(block.height, feerate, &mut outcomes) {
            self.out.broadcast(tx);
        }
        for outcome in outcomes {
            self.apply_onchain(outcome);
        }
        self.check_deadlines();
        self.forget_abandoned_fundings();
        // Most channels are long past what a height moves on: a pass over the channels themselves
        // finds the few that are not, rather than looking each one up again by id.
        let moving: Vec<ChannelId> =
            self.channels.iter().filter(|c| c.moves_with_height()).map(Channel::id).collect();
        for id in moving {
            self.advance_with_height(id);
        }
        self.flush();
    }

    /// Acts on what the chain settled: a preimage the peer revealed goes upstream at once; a
    /// final failure fails the upstream HTLC or our payment's attempt.
    fn apply_onchain(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::OfferedFulfilled { channel_id, htlc_id, preimage } => {
                if let Some(source) = self.switch.take((channel_id, htlc_id)) {
                    self.settle_upstream(source, preimage, true);
                }
            }
            Outcome::OfferedFailed { channel_id, htlc_id } => {
                if let Some(source) = self.switch.take((channel_id, htlc_id)) {
                    let code = FailureCode::PERMANENT_CHANNEL_FAILURE;
                    self.fail_here(source, channel_id, code, true);
                }
            }
            Outcome::Claimed { channel_id, htlc, amount_sat } => {
                self.out.emit(Event::OnChainClaimed { channel_id, htlc, amount_sat });
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
            .iter()
            .filter(|c| {
                c.phase() >= ChannelPhase::AwaitingReady && c.phase() < ChannelPhase::ForceClosing
            })
            .filter(|c| {
                c.offered_htlcs().any(|h| height >= h.cltv_expiry + GRACE_BLOCKS)
                    || c.received_htlcs().any(|h| {
                        matches!(h.removal, Some(Removal::Fulfill(_)))
                            && height + FULFILL_DEADLINE_BLOCKS >= h.cltv_expiry
                    })
            })
            .map(Channel::id)
            .collect();
        for id in due {
            self.force_close(id);
        }
    }

    /// BOLT 2: an acceptor forgets a channel whose funding has not confirmed 2016 blocks after it
    /// signed it.
    fn forget_abandoned_fundings(&mut self) {
        let abandoned: Vec<(ChannelId, NodeId)> = self
            .channels
            .iter()
            .filter(|c| c.funding_abandoned(self.height))
            .map(|c| (c.id(), c.peer()))
            .collect();
        for (id, peer) in abandoned {
            self.channels.remove(id);
            self.out.emit(Event::ChannelOpenFailed { temporary_channel_id: id, peer });
        }
    }

    /// Moves channel `id` on with the height: our commitment is rebroadcast until it confirms
    /// (the funding may not even have confirmed yet); with the peer connected, `channel_ready`
    /// once the funding is deep enough and `announcement_signatures` at announcement depth.
    fn advance_with_height(&mut self, id: ChannelId) {
        let channel = self.channels.get_mut(id).expect("listed by the caller");
        if channel.phase() == ChannelPhase::ForceClosing {
            let tx = channel.holder_commitment_tx();
            self.out.broadcast(tx);
            return;
        }
        let peer = channel.peer();
        if !self.peers.is_ready(peer) {
            return;
        }
        if let Some(ready) = channel.ready_to_send(self.height) {
            let became_normal = channel.phase() == ChannelPhase::Normal;
            self.out.send(peer, Message::ChannelReady(ready));
            if became_normal {
                self.on_channel_normal(id);
            }
        }
        let channel = self.channels.get_mut(id).expect("listed by the caller");
        if channel.wants_announcement(self.height) {
            let msg = AnnouncementSignatures {
                channel_id: id,
                short_channel_id: channel.scid().expect("announced channels are confirmed"),
            };
            self.out.send(peer, Message::AnnouncementSignatures(msg));
        }
    }

    /// Closes channel `id` unilaterally: broadcasts our commitment.
    pub(super) fn force_close(&mut self, id: ChannelId) {
        let Some(channel) = self.channels.get_mut(id) else { return };
        let peer = channel.peer();
        let was_public = channel.is_announced() && channel.phase() == ChannelPhase::Normal;
        let Some(tx) = channel.force_close() else { return };
        self.out.emit(Event::ChannelForceClosed { channel_id: id, peer, txid: tx.txid });
        if self.is_peer_ready(peer) {
            self.out.send(peer, Message::Error(ErrorMessage { channel_id: id }));
        }
        self.out.broadcast(tx);
        if was_public {
            self.publish_update(id);
        }
    }
}
