//! One HTLC's place in the BOLT 2 commitment dance. An update goes first into the commitment of
//! the peer that did not propose it, then into the proposer's own; it is irrevocable once both
//! old commitments are revoked. The states below are the ten steps of that dance (the same ones
//! Core Lightning names `SENT_ADD_HTLC` .. `RCVD_REMOVE_ACK_REVOCATION`), written once for both
//! directions: for an HTLC we offered, we propose the add and the peer the removal; for one we
//! received, the other way round. This module owns the states and which commitment holds an HTLC
//! in each; the channel moves HTLCs between states and moves the money.

use crate::ids::{PaymentHash, Preimage};
use crate::onion::{ErrorPacket, Onion};

/// Where an HTLC is in the commitment dance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HtlcState {
    /// The adder sent `update_add_htlc`; no commitment holds it yet.
    AddPending,
    /// The adder signed it into the other side's commitment.
    AddCommitted,
    /// The other side revoked its commitment without it.
    AddRevoked,
    /// The other side signed it into the adder's commitment.
    AddAckCommitted,
    /// The adder revoked its old commitment: both commitments hold it, irrevocably.
    Committed,
    /// The remover sent `update_fulfill_htlc` or `update_fail_htlc`.
    RemovePending,
    /// The remover signed the adder's commitment without it.
    RemoveCommitted,
    /// The adder revoked its commitment that held it.
    RemoveRevoked,
    /// The adder signed the remover's commitment without it.
    RemoveAckCommitted,
    /// The remover revoked its last commitment that held it: gone.
    Removed,
}

/// One of the three views of a channel's balances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum View {
    /// The commitment we hold (signed by the peer).
    Local,
    /// The commitment the peer holds (signed by us).
    Remote,
    /// Every update sent or received so far, committed or not: the state once all of them are.
    Next,
}

impl View {
    /// All views, in a fixed order.
    pub const ALL: [View; 3] = [View::Local, View::Remote, View::Next];

    /// Index into per-view arrays.
    pub fn index(self) -> usize {
        match self {
            View::Local => 0,
            View::Remote => 1,
            View::Next => 2,
        }
    }
}

impl HtlcState {
    /// Whether an HTLC in this state is in `view`. `offered` says whether we added it.
    pub fn in_view(self, view: View, offered: bool) -> bool {
        use HtlcState::*;
        let adder_commitment = matches!(self, AddAckCommitted | Committed | RemovePending);
        let other_commitment = matches!(
            self,
            AddCommitted
                | AddRevoked
                | AddAckCommitted
                | Committed
                | RemovePending
                | RemoveCommitted
                | RemoveRevoked
        );
        match view {
            View::Next => self < RemovePending,
            // Our commitment is the adder's when we offered the HTLC.
            View::Local if offered => adder_commitment,
            View::Local => other_commitment,
            View::Remote if offered => other_commitment,
            View::Remote => adder_commitment,
        }
    }

    /// The state after we send `commitment_signed`, for an HTLC that we offered or not.
    pub fn after_sending_commitment(self, offered: bool) -> HtlcState {
        use HtlcState::*;
        match (self, offered) {
            (AddPending, true) => AddCommitted,
            (AddRevoked, false) => AddAckCommitted,
            (RemovePending, false) => RemoveCommitted,
            (RemoveRevoked, true) => RemoveAckCommitted,
            (state, _) => state,
        }
    }

    /// The state after we receive `commitment_signed`.
    pub fn after_receiving_commitment(self, offered: bool) -> HtlcState {
        use HtlcState::*;
        match (self, offered) {
            (AddPending, false) => AddCommitted,
            (AddRevoked, true) => AddAckCommitted,
            (RemovePending, true) => RemoveCommitted,
            (RemoveRevoked, false) => RemoveAckCommitted,
            (state, _) => state,
        }
    }

    /// The state after we send `revoke_and_ack`.
    pub fn after_sending_revocation(self, offered: bool) -> HtlcState {
        use HtlcState::*;
        match (self, offered) {
            (AddCommitted, false) => AddRevoked,
            (AddAckCommitted, true) => Committed,
            (RemoveCommitted, true) => RemoveRevoked,
            (RemoveAckCommitted, false) => Removed,
            (state, _) => state,
        }
    }

    /// The state after we receive `revoke_and_ack`.
    pub fn after_receiving_revocation(self, offered: bool) -> HtlcState {
        use HtlcState::*;
        match (self, offered) {
            (AddCommitted, true) => AddRevoked,
            (AddAckCommitted, false) => Committed,
            (RemoveCommitted, false) => RemoveRevoked,
            (RemoveAckCommitted, true) => Removed,
            (state, _) => state,
        }
    }

    /// Whether our next `commitment_signed` would change the peer's commitment for this HTLC.
    pub fn awaits_our_signature(self, offered: bool) -> bool {
        self.after_sending_commitment(offered) != self
    }
}

/// How an HTLC is being removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Removal {
    /// Settled with the preimage: the amount goes to the receiver.
    Fulfill(Preimage),
    /// Failed: the amount goes back to the offerer, the packet goes upstream.
    Fail(ErrorPacket),
}

/// An HTLC of a channel, in either direction.
#[derive(Clone, Debug)]
pub struct Htlc {
    /// Its id, counted per direction from 0.
    pub id: u64,
    /// Its amount, msat.
    pub amount_msat: u64,
    /// What it is locked to.
    pub payment_hash: PaymentHash,
    /// Its expiry, block height.
    pub cltv_expiry: u32,
    /// The onion it carries.
    pub onion: Onion,
    /// Where it is in the dance.
    pub state: HtlcState,
    /// How it is being removed, once a removal was sent or received.
    pub removal: Option<Removal>,
    /// A received HTLC that its sender, the opener, could not pay the commitment fee for: it is
    /// failed back with `temporary_channel_failure` once locked in.
    pub refused: bool,
}

#[cfg(test)]
mod tests {
    use super::HtlcState::*;
    use super::*;

    /// Runs an HTLC through the whole dance from the adder's and the other side's point of view,
    /// message by message, and checks the two agree on every commitment at every step.
    #[test]
    fn both_sides_agree_on_every_commitment_through_the_dance() {
        // (adder state, other state) after each message, adder = A, other = B.
        let mut a = AddPending; // A sent update_add
        let mut b = AddPending; // B received it
        let check = |a: HtlcState, b: HtlcState| {
            // A's local commitment is B's remote one and vice versa.
            assert_eq!(a.in_view(View::Local, true), b.in_view(View::Remote, false), "{a:?} {b:?}");
            assert_eq!(a.in_view(View::Remote, true), b.in_view(View::Local, false), "{a:?} {b:?}");
        };
        check(a, b);
        // A -> B commitment_signed
        a = a.after_sending_commitment(true);
        b = b.after_receiving_commitment(false);
        check(a, b);
        assert_eq!((a, b), (AddCommitted, AddCommitted));
        // B -> A revoke_and_ack
        b = b.after_sending_revocation(false);
        a = a.after_receiving_revocation(true);
        check(a, b);
        // B -> A commitment_signed
        b = b.after_sending_commitment(false);
        a = a.after_receiving_commitment(true);
        check(a, b);
        // A -> B revoke_and_ack
        a = a.after_sending_revocation(true);
        b = b.after_receiving_revocation(false);
        check(a, b);
        assert_eq!((a, b), (Committed, Committed));
        // B removes: B -> A update_fulfill
        b = RemovePending;
        a = RemovePending;
        check(a, b);
        // B -> A commitment_signed
        b = b.after_sending_commitment(false);
        a = a.after_receiving_commitment(true);
        check(a, b);
        assert!(!a.in_view(View::Local, true) && a.in_view(View::Remote, true));
        // A -> B revoke_and_ack
        a = a.after_sending_revocation(true);
        b = b.after_receiving_revocation(false);
        check(a, b);
        // A -> B commitment_signed
        a = a.after_sending_commitment(true);
        b = b.after_receiving_commitment(false);
        check(a, b);
        // B -> A revoke_and_ack
        b = b.after_sending_revocation(false);
        a = a.after_receiving_revocation(true);
        assert_eq!((a, b), (Removed, Removed));
        check(a, b);
    }

    #[test]
    fn next_view_drops_an_htlc_as_soon_as_its_removal_is_sent() {
        assert!(Committed.in_view(View::Next, true));
        assert!(!RemovePending.in_view(View::Next, true));
        assert!(RemovePending.in_view(View::Local, true));
    }
}
