//! Disconnection and `channel_reestablish` (BOLT 2): on a disconnection both sides forget the
//! updates not covered by a signature; on reconnection each says which commitment and revocation
//! it expects next, and we send again what the peer missed, in the order we first sent it.

use super::{Channel, ChannelError, ChannelPhase, State};
use crate::htlc::{Htlc, HtlcState, Removal, View};
use crate::msg::{ChannelReady, ChannelReestablish, Message};

impl Channel {
    // ---- disconnection and channel_reestablish (BOLT 2) ----

    /// The peer disconnected. Both sides forget the updates not yet covered by a
    /// `commitment_signed` of their sender: our unsigned adds are dropped (returned, so the node
    /// can fail them back or retry), the peer's unsigned adds are dropped, and unsigned removals
    /// go back to committed (ours are sent again once the channel is re-established).
    pub fn disconnected(&mut self) -> Vec<Htlc> {
        self.live = false;
        if let Some(resend) = &mut self.resend {
            resend.uncommitted.clear();
        }
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
        if let State::ShuttingDown { closing_tx, .. } = &mut self.state {
            // The fee negotiation starts again after the reconnection.
            *closing_tx = None;
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
                self.phase(),
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
            && !self.resend().last_commitment.is_empty()
        {
            true
        } else if msg.next_commitment_number == self.remote_commitment_number + 1 {
            false
        } else {
            return Err(out_of_sync);
        };
        let mut out = Vec::new();
        if msg.next_commitment_number == 1 && self.local_commitment_number == 0 && self.ready_sent()
        {
            out.push(Message::ChannelReady(ChannelReady { channel_id: self.id }));
        }
        let resend = self.resend();
        let revocation = match (resend_revocation, resend.last_revocation) {
            (false, _) => None,
            (true, Some(revoke)) => Some(Message::RevokeAndAck(revoke)),
            (true, None) => return Err(out_of_sync),
        };
        let commitment =
            if resend_commitment { resend.last_commitment.clone() } else { Vec::new() };
        if resend.revocation_seq < resend.commitment_seq {
            out.extend(revocation);
            out.extend(commitment);
        } else {
            out.extend(commitment);
            out.extend(revocation);
        }
        if matches!(self.state, State::ShuttingDown { sent: true, .. } | State::Closing { .. }) {
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
}
