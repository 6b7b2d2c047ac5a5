//! HTLC updates and the commitment dance (BOLT 2): what we may offer now (balance above the
//! peer's reserve, the opener's fee with its fee spike buffer, free slots, the in-flight cap),
//! the checks on what the peer offers, fulfils and fails, and the three views moving as
//! `commitment_signed` and `revoke_and_ack` cross. An HTLC moves money in a view when it enters
//! or leaves it. Forwarding and failing upstream are the node's.

use super::{AddHtlcError, Channel, ChannelError, RevocationOutcome, State};
use crate::htlc::{Htlc, HtlcState, Removal, View};
use crate::ids::{PaymentHash, Preimage};
use crate::msg::{
    CommitmentSigned, Message, RevokeAndAck, UpdateAddHtlc, UpdateFailHtlc, UpdateFulfillHtlc,
};
use crate::onion::{ErrorPacket, Onion};
use std::collections::BTreeMap;

impl Channel {
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
        if !matches!(self.state, State::Normal)
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
        if !matches!(self.state, State::Normal) || !self.live {
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
        let limit_msat = self.max_dust_exposure.limit_msat(self.format.feerate_per_kw);
        if self.is_dust(amount_msat, true)
            && self.dust_exposure_msat().saturating_add(amount_msat) > limit_msat
        {
            return Err(AddHtlcError::DustExposure);
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
        self.resend_mut().uncommitted.push(Message::UpdateAddHtlc(Box::new(msg.clone())));
        Ok(msg)
    }

    /// The peer offers an HTLC: checks it against our limits and its balance.
    pub fn on_add(&mut self, msg: &UpdateAddHtlc) -> Result<(), ChannelError> {
        // No new HTLC from a peer that sent `shutdown`.
        if !matches!(self.state, State::Normal | State::ShuttingDown { received: false, .. }) {
            return Err(ChannelError::UnexpectedMessage {
                message: "update_add_htlc",
                phase: self.phase(),
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
            Message::UpdateFailHtlc(m) => *m,
            _ => unreachable!("a fail removal makes update_fail_htlc"),
        }))
    }

    /// Records the removal of a committed received HTLC and, if the channel is live, starts it.
    pub(super) fn remove_received(&mut self, id: u64, removal: Removal) -> Option<Message> {
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
            Removal::Fail(reason) => Message::UpdateFailHtlc(Box::new(UpdateFailHtlc {
                channel_id: self.id,
                id,
                reason,
            })),
        };
        self.set_state(false, id, HtlcState::RemovePending);
        self.resend_mut().uncommitted.push(msg.clone());
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
    pub(super) fn set_state(&mut self, offered: bool, id: u64, new: HtlcState) -> Option<Htlc> {
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
            && matches!(self.state, State::Normal | State::ShuttingDown { .. })
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
        let resend = self.resend_mut();
        resend.last_commitment = std::mem::take(&mut resend.uncommitted);
        resend.last_commitment.push(Message::CommitmentSigned(msg));
        resend.commitment_seq = resend.commitment_seq.max(resend.revocation_seq) + 1;
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
        if !matches!(self.state, State::Normal | State::ShuttingDown { .. }) {
            return Err(ChannelError::UnexpectedMessage {
                message: "commitment_signed",
                phase: self.phase(),
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
        let resend = self.resend_mut();
        resend.last_revocation = Some(revoke);
        resend.revocation_seq = resend.commitment_seq.max(resend.revocation_seq) + 1;
        Ok(revoke)
    }

    /// The ids of our offered HTLCs that the peer failed and that its next `revoke_and_ack`
    /// would remove for good (what [`Channel::on_revoke_and_ack`] would return as failed).
    pub fn failed_on_revocation(&self) -> impl Iterator<Item = u64> + '_ {
        self.offered
            .values()
            .filter(|h| self.awaiting_revocation && matches!(h.removal, Some(Removal::Fail(_))))
            .filter(|h| h.state.after_receiving_revocation(true) == HtlcState::Removed)
            .map(|h| h.id)
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
        if let Some(resend) = &mut self.resend {
            resend.last_commitment.clear();
        }
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
}
