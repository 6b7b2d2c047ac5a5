//! The onion, modelled rather than encrypted (BOLT 4): the sender writes one payload per hop and
//! each hop reads only its own; a failure travels back as an error packet that every hop on the
//! way wraps once, so only the sender learns which hop failed. This module owns the payloads,
//! the failure codes and the wrapping; it does not decide when to fail.

use crate::gossip::ChannelUpdate;
use crate::ids::{PaymentSecret, Preimage, Scid};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// What one hop reads from the onion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HopPayload {
    /// Forward over `short_channel_id`.
    Forward {
        /// The outgoing channel.
        short_channel_id: Scid,
        /// Amount of the outgoing HTLC, msat.
        amt_to_forward_msat: u64,
        /// Expiry of the outgoing HTLC, block height.
        outgoing_cltv_value: u32,
    },
    /// This hop is the recipient.
    Final {
        /// Amount the recipient must receive in this HTLC, msat.
        amt_to_forward_msat: u64,
        /// Expiry the HTLC must have, block height.
        outgoing_cltv_value: u32,
        /// The invoice's payment secret (absent for keysend).
        payment_secret: Option<PaymentSecret>,
        /// Total of all parts of the payment, msat.
        total_msat: u64,
        /// The preimage, for a spontaneous (keysend) payment.
        keysend_preimage: Option<Preimage>,
    },
}

/// The onion an HTLC carries: all payloads, and the position of the hop that reads next. The
/// payloads are shared, so peeling a layer copies nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Onion {
    payloads: Arc<[HopPayload]>,
    position: u8,
}

impl Onion {
    /// An onion for a route whose hops read `payloads` in order.
    pub fn new(payloads: Vec<HopPayload>) -> Onion {
        assert!(!payloads.is_empty(), "invariant: an onion has at least the final payload");
        assert!(payloads.len() <= usize::from(u8::MAX), "invariant: routes are short");
        Onion { payloads: payloads.into(), position: 0 }
    }

    /// The payload for the hop holding this onion.
    pub fn payload(&self) -> &HopPayload {
        &self.payloads[usize::from(self.position)]
    }

    /// The onion for the next hop.
    pub fn peel(&self) -> Onion {
        assert!(
            usize::from(self.position) + 1 < self.payloads.len(),
            "invariant: only a forward payload is peeled"
        );
        Onion { payloads: self.payloads.clone(), position: self.position + 1 }
    }
}

/// A BOLT 4 failure code: the flag bits `BADONION`, `PERM`, `NODE`, `UPDATE` and a number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FailureCode(pub u16);

impl FailureCode {
    /// The onion could not be parsed.
    pub const BADONION: u16 = 0x8000;
    /// Retrying will not help.
    pub const PERM: u16 = 0x4000;
    /// The node, not a channel, failed.
    pub const NODE: u16 = 0x2000;
    /// The error carries a `channel_update`.
    pub const UPDATE: u16 = 0x1000;

    /// `temporary_node_failure`.
    pub const TEMPORARY_NODE_FAILURE: FailureCode = FailureCode(Self::NODE | 2);
    /// `permanent_channel_failure`.
    pub const PERMANENT_CHANNEL_FAILURE: FailureCode = FailureCode(Self::PERM | 8);
    /// `temporary_channel_failure`: no liquidity, no free slot, over the in-flight cap, peer offline.
    pub const TEMPORARY_CHANNEL_FAILURE: FailureCode = FailureCode(Self::UPDATE | 7);
    /// `unknown_next_peer`: no such outgoing channel.
    pub const UNKNOWN_NEXT_PEER: FailureCode = FailureCode(Self::PERM | 10);
    /// `amount_below_minimum`.
    pub const AMOUNT_BELOW_MINIMUM: FailureCode = FailureCode(Self::UPDATE | 11);
    /// `fee_insufficient`.
    pub const FEE_INSUFFICIENT: FailureCode = FailureCode(Self::UPDATE | 12);
    /// `incorrect_cltv_expiry`.
    pub const INCORRECT_CLTV_EXPIRY: FailureCode = FailureCode(Self::UPDATE | 13);
    /// `expiry_too_soon`.
    pub const EXPIRY_TOO_SOON: FailureCode = FailureCode(Self::UPDATE | 14);
    /// `incorrect_or_unknown_payment_details`: the recipient refuses the payment.
    pub const INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS: FailureCode = FailureCode(Self::PERM | 15);
    /// `final_incorrect_cltv_expiry`.
    pub const FINAL_INCORRECT_CLTV_EXPIRY: FailureCode = FailureCode(18);
    /// `final_incorrect_htlc_amount`.
    pub const FINAL_INCORRECT_HTLC_AMOUNT: FailureCode = FailureCode(19);
    /// `channel_disabled`.
    pub const CHANNEL_DISABLED: FailureCode = FailureCode(Self::UPDATE | 20);
    /// `expiry_too_far`.
    pub const EXPIRY_TOO_FAR: FailureCode = FailureCode(21);
    /// `mpp_timeout`.
    pub const MPP_TIMEOUT: FailureCode = FailureCode(23);

    /// The BOLT 4 name, or `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Self::TEMPORARY_NODE_FAILURE => "temporary_node_failure",
            Self::PERMANENT_CHANNEL_FAILURE => "permanent_channel_failure",
            Self::TEMPORARY_CHANNEL_FAILURE => "temporary_channel_failure",
            Self::UNKNOWN_NEXT_PEER => "unknown_next_peer",
            Self::AMOUNT_BELOW_MINIMUM => "amount_below_minimum",
            Self::FEE_INSUFFICIENT => "fee_insufficient",
            Self::INCORRECT_CLTV_EXPIRY => "incorrect_cltv_expiry",
            Self::EXPIRY_TOO_SOON => "expiry_too_soon",
            Self::INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS => "incorrect_or_unknown_payment_details",
            Self::FINAL_INCORRECT_CLTV_EXPIRY => "final_incorrect_cltv_expiry",
            Self::FINAL_INCORRECT_HTLC_AMOUNT => "final_incorrect_htlc_amount",
            Self::CHANNEL_DISABLED => "channel_disabled",
            Self::EXPIRY_TOO_FAR => "expiry_too_far",
            Self::MPP_TIMEOUT => "mpp_timeout",
            _ => "unknown",
        }
    }

    /// Whether the `PERM` bit is set.
    pub fn is_permanent(self) -> bool {
        self.0 & Self::PERM != 0
    }

    /// Whether the `NODE` bit is set.
    pub fn is_node(self) -> bool {
        self.0 & Self::NODE != 0
    }
}

impl fmt::Debug for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({:#06x})", self.name(), self.0)
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The failure a hop reports: the code, and for `UPDATE` codes the channel_update of the
/// outgoing channel, which the sender may use as a hint for this payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The BOLT 4 code.
    pub code: FailureCode,
    /// The failing channel's current policy, for `UPDATE` codes.
    pub channel_update: Option<ChannelUpdate>,
}

impl Failure {
    /// A failure without a channel_update.
    pub fn new(code: FailureCode) -> Failure {
        Failure { code, channel_update: None }
    }
}

/// The encrypted reason of an `update_fail_htlc`, modelled: the failure as its origin wrote it,
/// and how many hops have wrapped it on its way back. Only the sender unwraps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorPacket {
    failure: Failure,
    wraps: u8,
}

impl ErrorPacket {
    /// A new error packet from the failing hop.
    pub fn new(failure: Failure) -> ErrorPacket {
        ErrorPacket { failure, wraps: 0 }
    }

    /// The packet as an intermediate hop passes it upstream.
    pub fn wrap(mut self) -> ErrorPacket {
        self.wraps = self.wraps.saturating_add(1);
        self
    }

    /// What the sender reads: the failure, and the index of the hop that failed, counting the
    /// sender as 0, the first hop's node as 1, and so on.
    pub fn unwrap_at_sender(self) -> (usize, Failure) {
        (usize::from(self.wraps) + 1, self.failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_codes_have_bolt4_values() {
        assert_eq!(FailureCode::TEMPORARY_CHANNEL_FAILURE.0, 0x1007);
        assert_eq!(FailureCode::FEE_INSUFFICIENT.0, 0x100c);
        assert_eq!(FailureCode::UNKNOWN_NEXT_PEER.0, 0x400a);
        assert_eq!(FailureCode::INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS.0, 0x400f);
        assert_eq!(FailureCode::CHANNEL_DISABLED.0, 0x1014);
        assert!(FailureCode::UNKNOWN_NEXT_PEER.is_permanent());
        assert!(!FailureCode::TEMPORARY_CHANNEL_FAILURE.is_permanent());
        assert!(FailureCode::TEMPORARY_NODE_FAILURE.is_node());
        assert_eq!(FailureCode(0x9999).name(), "unknown");
    }

    #[test]
    fn each_hop_reads_its_own_payload() {
        let onion = Onion::new(vec![
            HopPayload::Forward {
                short_channel_id: Scid(7),
                amt_to_forward_msat: 10,
                outgoing_cltv_value: 100,
            },
            HopPayload::Final {
                amt_to_forward_msat: 10,
                outgoing_cltv_value: 100,
                payment_secret: None,
                total_msat: 10,
                keysend_preimage: None,
            },
        ]);
        assert!(matches!(onion.payload(), HopPayload::Forward { .. }));
        assert!(matches!(onion.peel().payload(), HopPayload::Final { .. }));
    }

    #[test]
    fn the_sender_learns_the_failing_hop_from_the_wraps() {
        let packet = ErrorPacket::new(Failure::new(FailureCode::FEE_INSUFFICIENT));
        // Failed at the third node of the route: two forwarders wrap it on the way back.
        let (index, failure) = packet.wrap().wrap().unwrap_at_sender();
        assert_eq!(index, 3);
        assert_eq!(failure.code, FailureCode::FEE_INSUFFICIENT);
    }
}
