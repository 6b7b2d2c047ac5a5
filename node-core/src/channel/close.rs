//! Closing a channel: unilaterally, by broadcasting the commitment we hold (built by
//! [`crate::commitment`]), or cooperatively, by `shutdown` and `closing_signed` once no HTLC is
//! left. What happens on chain afterwards is [`crate::onchain`]'s.

use super::{Channel, ChannelError, ChannelPhase, State};
use crate::chain::{Tx, weight};
use crate::commitment::{CommitmentTx, CommittedHtlc, closing_tx};
use crate::htlc::View;
use crate::msg::ClosingSigned;

impl Channel {
    // ---- unilateral close (BOLT 3, BOLT 5) ----

    /// The commitment transaction we hold now, as we would broadcast it (see
    /// [`CommitmentTx::build`]).
    pub fn holder_commitment_tx(&self) -> Tx {
        let mut htlcs = Vec::with_capacity(self.offered.len() + self.received.len());
        for (offered, map) in [(true, &self.offered), (false, &self.received)] {
            htlcs.extend(map.values().filter(|h| h.state.in_view(View::Local, offered)).map(|h| {
                CommittedHtlc {
                    offered_by_holder: offered,
                    id: h.id,
                    amount_msat: h.amount_msat,
                    payment_hash: h.payment_hash,
                    cltv_expiry: h.cltv_expiry,
                }
            }));
        }
        let local = self.views[View::Local.index()];
        CommitmentTx {
            funding: self.funding.expect("invariant: a commitment spends a known funding output"),
            number: self.local_commitment_number,
            holder: self.me,
            counterparty: self.peer,
            holder_opened: self.we_opened,
            holder_msat: local.ours_msat,
            counterparty_msat: local.theirs_msat,
            dust_limit_sat: self.local.dust_limit_sat,
            to_self_delay_blocks: self.remote.to_self_delay_blocks,
            format: self.format,
            htlcs,
        }
        .build()
    }

    /// Starts a unilateral close: no more updates; returns our commitment to broadcast (`None`
    /// before the funding exists, when the channel is simply forgotten).
    pub fn force_close(&mut self) -> Option<Tx> {
        let phase = self.phase();
        if self.funding.is_none()
            || phase == ChannelPhase::Closed
            || phase < ChannelPhase::AwaitingReady
        {
            return None;
        }
        self.state = State::ForceClosing;
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
        match &mut self.state {
            State::Normal => {
                self.state = State::ShuttingDown { sent: true, received: false, closing_tx: None };
                true
            }
            State::ShuttingDown { sent, .. } if !*sent => {
                *sent = true;
                true
            }
            _ => false,
        }
    }

    /// The peer starts (or answers) a cooperative close. Returns true if we must answer with our
    /// own `shutdown`.
    pub fn on_shutdown(&mut self) -> Result<bool, ChannelError> {
        match &mut self.state {
            State::Closing { .. } => return Ok(false), // retransmitted; the close is agreed
            State::Normal => {
                self.state = State::ShuttingDown { sent: false, received: true, closing_tx: None };
            }
            State::ShuttingDown { received, .. } => *received = true,
            _ => {
                return Err(ChannelError::UnexpectedMessage {
                    message: "shutdown",
                    phase: self.phase(),
                });
            }
        }
        Ok(self.send_shutdown())
    }

    /// Opener: once both sides sent `shutdown` and no HTLC is left, proposes the closing fee.
    pub fn closing_proposal(&mut self) -> Option<ClosingSigned> {
        if !matches!(
            self.state,
            State::ShuttingDown { sent: true, received: true, closing_tx: None }
        ) || !self.we_opened
            || self.has_htlcs()
            || self.awaiting_revocation
        {
            return None;
        }
        let fee_sat = weight::fee_sat(self.format.feerate_per_kw, weight::closing_tx(2));
        let tx = self.build_closing_tx(fee_sat);
        self.state =
            State::ShuttingDown { sent: true, received: true, closing_tx: Some(Box::new(tx)) };
        Some(ClosingSigned { channel_id: self.id, fee_sat })
    }

    /// The peer's `closing_signed`. Returns the closing transaction to broadcast, and for the
    /// acceptor the `closing_signed` that agrees to the fee.
    pub fn on_closing_signed(
        &mut self,
        msg: &ClosingSigned,
    ) -> Result<(Tx, Option<ClosingSigned>), ChannelError> {
        let unexpected =
            |phase| ChannelError::UnexpectedMessage { message: "closing_signed", phase };
        let agreement = (!self.we_opened)
            .then_some(ClosingSigned { channel_id: self.id, fee_sat: msg.fee_sat });
        let tx = match &self.state {
            // Our agreement was lost on a disconnection: agree again to the same transaction.
            State::Closing { closing_tx } => return Ok(((**closing_tx).clone(), agreement)),
            State::ShuttingDown { .. } if self.has_htlcs() => {
                return Err(unexpected(self.phase()));
            }
            State::ShuttingDown { closing_tx, .. } if self.we_opened => {
                closing_tx.as_deref().cloned().ok_or(unexpected(self.phase()))?
            }
            State::ShuttingDown { .. } => self.build_closing_tx(msg.fee_sat),
            _ => return Err(unexpected(self.phase())),
        };
        self.state = State::Closing { closing_tx: Box::new(tx.clone()) };
        Ok((tx, agreement))
    }

    /// Our closing transaction with `fee_sat` paid by the opener.
    fn build_closing_tx(&self, fee_sat: u64) -> Tx {
        let balances = self.views[View::Local.index()];
        let (mut ours_sat, mut theirs_sat) =
            (balances.ours_msat / 1000, balances.theirs_msat / 1000);
        if self.we_opened {
            ours_sat = ours_sat.saturating_sub(fee_sat);
        } else {
            theirs_sat = theirs_sat.saturating_sub(fee_sat);
        }
        closing_tx(
            self.funding.expect("invariant: a closing channel has a funding outpoint"),
            [
                (self.me, ours_sat, self.local.dust_limit_sat),
                (self.peer, theirs_sat, self.remote.dust_limit_sat),
            ],
        )
    }

    /// The funding transaction the opener built but has not broadcast yet (it has not received
    /// `funding_signed`), taken out of the channel.
    pub fn unbroadcast_funding(self) -> Option<Tx> {
        match self.state {
            State::FundingCreated { funding_tx } => Some(*funding_tx),
            _ => None,
        }
    }

    /// The closing or any transaction spending the funding output confirmed.
    pub fn on_funding_spent(&mut self) {
        self.state = State::Closed;
    }
}
