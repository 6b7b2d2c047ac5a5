//! HTLCs through the node (BOLT 2 "Forwarding HTLCs", BOLT 4): an incoming HTLC, once
//! irrevocably committed, is claimed (it pays one of our invoices, a keysend, or completes a
//! multi-part payment whose parts the switch holds) or forwarded after the checks of
//! [`crate::switch::check_forward`], else failed back with its BOLT 4 code. Going back, a preimage
//! goes upstream at once, and a failure once the downstream removal is irrevocable (or final on
//! chain). An HTLC of our own payment goes back to the payments (`pay`).

use super::Node;
use crate::action::Timer;
use crate::channel::AddHtlcError;
use crate::event::Event;
use crate::htlc::Htlc;
use crate::ids::{ChannelId, PaymentHash, Preimage, Scid};
use crate::msg::{Message, UpdateAddHtlc};
use crate::onion::{ErrorPacket, Failure, FailureCode, HopPayload};
use crate::payment::AttemptFailure;
use crate::switch::{Forward, ForwardRules, Hold, HtlcSource, check_forward};

impl Node {
    /// Received HTLC `htlc_id` on `channel_id` is irrevocably committed: claim it, hold it,
    /// forward it, or fail it back.
    pub(super) fn process_incoming(&mut self, channel_id: ChannelId, htlc_id: u64) {
        let htlc = self
            .channels
            .get(channel_id)
            .and_then(|c| c.received_htlc(htlc_id))
            .expect("invariant: a locked-in HTLC exists")
            .clone();
        let channel = self.channels.get(channel_id).expect("exists");
        // A dust HTLC that took the channel over our dust limit is failed back (LDK
        // `ln/channelmanager.rs`, lnd `htlcswitch/link.go`: the incoming side is checked once
        // the HTLC is committed).
        let over_dust = channel.is_dust(htlc.amount_msat, false) && channel.over_dust_limit();
        let result = if htlc.refused || over_dust {
            let update = self.current_update(channel_id);
            Err(Failure { code: FailureCode::TEMPORARY_CHANNEL_FAILURE, channel_update: update })
        } else {
            self.route_incoming(channel_id, &htlc)
        };
        if let Err(failure) = result {
            let channel = self.channels.get_mut(channel_id).expect("exists");
            let in_scid = channel.scid().expect("invariant: HTLCs flow on confirmed channels");
            let code = failure.code;
            let fail = channel
                .send_fail(htlc_id, ErrorPacket::new(failure))
                .expect("invariant: a locked-in HTLC can be failed");
            let peer = channel.peer();
            if let Some(fail) = fail {
                self.out.send(peer, Message::UpdateFailHtlc(Box::new(fail)));
            }
            let out_scid = match htlc.onion.payload() {
                HopPayload::Forward { short_channel_id, .. } => Some(*short_channel_id),
                HopPayload::Final { .. } => None,
            };
            self.out.emit(Event::HtlcRefused { in_scid, in_htlc_id: htlc_id, out_scid, code });
        }
        self.channels.mark_batched(channel_id);
    }

    /// Claims an HTLC that ends here, or forwards it; `Err` is the failure to send back.
    fn route_incoming(&mut self, channel_id: ChannelId, htlc: &Htlc) -> Result<(), Failure> {
        match htlc.onion.payload().clone() {
            payload @ HopPayload::Final { .. } => {
                // `None`: a part held for the rest.
                let Some(preimage) = self.claim(channel_id, htlc, &payload)? else { return Ok(()) };
                let channel = self.channels.get_mut(channel_id).expect("exists");
                let fulfill = channel
                    .send_fulfill(htlc.id, preimage)
                    .expect("invariant: a locked-in HTLC can be fulfilled");
                let peer = channel.peer();
                if let Some(fulfill) = fulfill {
                    self.out.send(peer, Message::UpdateFulfillHtlc(fulfill));
                }
                Ok(())
            }
            HopPayload::Forward { short_channel_id, amt_to_forward_msat, outgoing_cltv_value } => {
                let forward = Forward {
                    in_msat: htlc.amount_msat,
                    in_cltv: htlc.cltv_expiry,
                    out_msat: amt_to_forward_msat,
                    out_cltv: outgoing_cltv_value,
                };
                self.forward(channel_id, htlc, short_channel_id, forward)
            }
        }
    }

    /// Decides whether an HTLC that ends here pays an invoice (or is a keysend): `Some` is the
    /// preimage to fulfil it with, `None` a part of a multi-part payment held until the parts add
    /// up to their `total_msat` (BOLT 4); the part that completes them fulfils the others too.
    fn claim(
        &mut self,
        channel_id: ChannelId,
        htlc: &Htlc,
        payload: &HopPayload,
    ) -> Result<Option<Preimage>, Failure> {
        let HopPayload::Final {
            amt_to_forward_msat,
            outgoing_cltv_value,
            payment_secret,
            total_msat,
            keysend_preimage,
        } = *payload
        else {
            unreachable!("claim is for final payloads")
        };
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
            self.out.emit(Event::InvoicePaid {
                payment_hash: htlc.payment_hash,
                received_msat: htlc.amount_msat,
            });
            return Ok(Some(preimage));
        }
        let (now, height, hash) = (self.now, self.height, htlc.payment_hash);
        let accepted = self.invoices.get(&hash).is_some_and(|record| {
            record.accepts(now, height, payment_secret, total_msat, htlc.cltv_expiry)
        });
        if !accepted {
            return reject();
        }
        let part = (channel_id, htlc.id);
        match self.switch.hold(hash, part, htlc.amount_msat, total_msat, now) {
            Hold::Mismatch => reject(),
            Hold::Waiting { first, held_msat } => {
                if first {
                    let at = now.plus_secs(u64::from(self.config.mpp_timeout_s));
                    self.out.set_timer(at, Timer::MppTimeout { payment_hash: hash });
                }
                self.out.emit(Event::PartHeld {
                    payment_hash: hash,
                    amount_msat: htlc.amount_msat,
                    held_msat,
                    total_msat,
                });
                Ok(None)
            }
            Hold::Complete(held) => {
                let preimage = self.invoices.mark_paid(&hash, now, held.held_msat);
                self.out
                    .emit(Event::InvoicePaid { payment_hash: hash, received_msat: held.held_msat });
                for &(channel, htlc_id) in held.parts.iter().filter(|&&p| p != part) {
                    self.fulfill_held(channel, htlc_id, preimage);
                }
                Ok(Some(preimage))
            }
        }
    }

    /// Fulfils a held part once its payment is complete (or claims it on chain, if its channel
    /// went there meanwhile).
    fn fulfill_held(&mut self, channel_id: ChannelId, htlc_id: u64, preimage: Preimage) {
        self.onchain.learn_preimage(channel_id, htlc_id, preimage);
        let Some(channel) = self.channels.get_mut(channel_id) else { return };
        let Ok(fulfill) = channel.send_fulfill(htlc_id, preimage) else { return };
        let peer = channel.peer();
        if let Some(fulfill) = fulfill {
            self.out.send(peer, Message::UpdateFulfillHtlc(fulfill));
        }
        self.channels.mark_batched(channel_id);
    }

    /// The parts of payment `payment_hash` did not all arrive in time: fail every held part with
    /// `mpp_timeout`.
    pub(super) fn mpp_timed_out(&mut self, payment_hash: PaymentHash) {
        let timeout_us = u64::from(self.config.mpp_timeout_s) * 1_000_000;
        let Some(held) = self.switch.time_out(payment_hash, self.now, timeout_us) else { return };
        for &(channel_id, htlc_id) in &held.parts {
            let Some(channel) = self.channels.get_mut(channel_id) else { continue };
            let packet = ErrorPacket::new(Failure::new(FailureCode::MPP_TIMEOUT));
            let Ok(fail) = channel.send_fail(htlc_id, packet) else { continue };
            let peer = channel.peer();
            if let Some(fail) = fail {
                self.out.send(peer, Message::UpdateFailHtlc(Box::new(fail)));
            }
            self.channels.mark_batched(channel_id);
        }
        self.out.emit(Event::PartsTimedOut {
            payment_hash,
            parts: held.parts.len() as u32,
            held_msat: held.held_msat,
        });
    }

    /// Offers an HTLC received on `in_channel` onward over `out_scid`, if the checks pass and
    /// the outgoing channel takes it.
    fn forward(
        &mut self,
        in_channel: ChannelId,
        htlc: &Htlc,
        out_scid: Scid,
        forward: Forward,
    ) -> Result<(), Failure> {
        let Some(out_id) = self.channels.by_scid(out_scid) else {
            return Err(Failure::new(FailureCode::UNKNOWN_NEXT_PEER));
        };
        let out = self.channels.get(out_id).expect("indexed channels exist");
        let peer_ready = self.is_peer_ready(out.peer());
        let grace_us = u64::from(self.config.policy_grace_s) * 1_000_000;
        let rules = ForwardRules {
            max_cltv_delta: self.config.max_forward_cltv_delta,
            offline_peer: self.config.offline_peer_failure,
            previous_policy: out
                .previous_policy(self.now, grace_us)
                .map(|p| (p, self.config.policy_grace_covers_cltv)),
        };
        if let Err((code, with_update)) =
            check_forward(out, peer_ready, forward, self.height, &rules)
        {
            let channel_update = if with_update { self.current_update(out_id) } else { None };
            return Err(Failure { code, channel_update });
        }
        let update = self.current_update(out_id);
        let out = self.channels.get_mut(out_id).expect("exists");
        let add: UpdateAddHtlc = out
            .send_add(forward.out_msat, htlc.payment_hash, forward.out_cltv, htlc.onion.peel())
            .map_err(|e| Failure {
                code: match e {
                    AddHtlcError::BelowMinimum => FailureCode::AMOUNT_BELOW_MINIMUM,
                    _ => FailureCode::TEMPORARY_CHANNEL_FAILURE,
                },
                channel_update: update,
            })?;
        let peer = out.peer();
        let in_scid = self
            .channels
            .get(in_channel)
            .and_then(|c| c.scid())
            .expect("invariant: HTLCs flow on confirmed channels");
        let source = HtlcSource::Forwarded {
            channel: in_channel,
            htlc_id: htlc.id,
            in_msat: htlc.amount_msat,
            out_msat: forward.out_msat,
        };
        self.switch.add((out_id, add.id), source);
        self.out.emit(Event::HtlcForwarded {
            in_scid,
            in_htlc_id: htlc.id,
            out_scid,
            out_htlc_id: add.id,
            in_msat: htlc.amount_msat,
            out_msat: forward.out_msat,
        });
        self.out.send(peer, Message::UpdateAddHtlc(Box::new(add)));
        self.channels.mark_batched(out_id);
        Ok(())
    }

    /// We learnt the preimage of an HTLC we offered (`on_chain`: from the peer's claim): our
    /// payment's part settled, or the incoming HTLC we forwarded is fulfilled upstream.
    pub(super) fn settle_upstream(
        &mut self,
        source: HtlcSource,
        preimage: Preimage,
        on_chain: bool,
    ) {
        match source {
            HtlcSource::Local { payment, attempt } => {
                self.part_settled(payment, attempt, preimage, on_chain)
            }
            HtlcSource::Forwarded { channel, htlc_id, in_msat, out_msat } => {
                let Some(upstream) = self.channels.get_mut(channel) else { return };
                let Ok(fulfill) = upstream.send_fulfill(htlc_id, preimage) else { return };
                let (peer, in_scid) = (upstream.peer(), upstream.scid().expect("confirmed"));
                if let Some(fulfill) = fulfill {
                    self.out.send(peer, Message::UpdateFulfillHtlc(fulfill));
                }
                // If the upstream channel is on chain, claim the HTLC there with the preimage.
                self.onchain.learn_preimage(channel, htlc_id, preimage);
                self.channels.mark_batched(channel);
                self.out.emit(Event::ForwardSettled {
                    in_scid,
                    in_htlc_id: htlc_id,
                    fee_msat: in_msat - out_msat,
                });
            }
        }
    }

    /// The removal of an HTLC we offered is irrevocable and it failed.
    pub(super) fn fail_upstream(&mut self, source: HtlcSource, packet: ErrorPacket) {
        match source {
            HtlcSource::Local { payment, attempt } => self.part_failed(payment, attempt, packet),
            HtlcSource::Forwarded { channel, htlc_id, .. } => {
                self.fail_incoming(channel, htlc_id, packet.wrap())
            }
        }
    }

    /// An HTLC we offered on `channel_id` failed here, not downstream (we dropped it on a
    /// disconnection, or it timed out on chain): we are the failing hop.
    pub(super) fn fail_here(
        &mut self,
        source: HtlcSource,
        channel_id: ChannelId,
        code: FailureCode,
        on_chain: bool,
    ) {
        match source {
            HtlcSource::Local { payment, attempt } => {
                let scid = self.channels.get(channel_id).and_then(|c| c.scid());
                let failure = AttemptFailure { failing_hop: 0, code, scid, on_chain };
                self.part_failed_here(payment, attempt, failure);
            }
            HtlcSource::Forwarded { channel, htlc_id, .. } => {
                let failure = Failure { code, channel_update: self.current_update(channel_id) };
                self.fail_incoming(channel, htlc_id, ErrorPacket::new(failure));
            }
        }
    }

    /// Fails the incoming HTLC `htlc_id` of `channel` back with `packet`.
    fn fail_incoming(&mut self, channel: ChannelId, htlc_id: u64, packet: ErrorPacket) {
        let Some(upstream) = self.channels.get_mut(channel) else { return };
        let Ok(fail) = upstream.send_fail(htlc_id, packet) else { return };
        let (peer, in_scid) = (upstream.peer(), upstream.scid().expect("confirmed"));
        if let Some(fail) = fail {
            self.out.send(peer, Message::UpdateFailHtlc(Box::new(fail)));
        }
        self.channels.mark_batched(channel);
        self.out.emit(Event::ForwardFailed { in_scid, in_htlc_id: htlc_id });
    }
}
