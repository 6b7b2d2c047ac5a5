//! BOLT 11 invoices, modelled as data (no bech32): what a payee asks to be paid, the route hints
//! for its unannounced channels, and the payee's record of each invoice (unpaid, paid, expired).
//! Creating the preimage and deciding whether an incoming HTLC pays an invoice is the node's job.

use crate::ids::{NodeId, PaymentHash, PaymentSecret, Preimage, Scid, SimTime};
use crate::policy::ChannelPolicy;
use serde::{Deserialize, Serialize};

/// One hop of a route hint: a channel from `src` toward the payee that the network may not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteHintHop {
    /// The node at the start of the hop.
    pub src: NodeId,
    /// The channel.
    pub short_channel_id: Scid,
    /// `src`'s policy for forwarding over it.
    pub policy: ChannelPolicy,
}

/// A BOLT 11 `r` field: a private path ending at the payee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteHint {
    /// The hops, the last one ending at the payee.
    pub hops: Vec<RouteHintHop>,
}

/// An invoice as the payer receives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// Who is paid.
    pub payee: NodeId,
    /// What the HTLCs must be locked to.
    pub payment_hash: PaymentHash,
    /// Proves the payer saw the invoice; the final hop checks it.
    pub payment_secret: PaymentSecret,
    /// The amount asked, msat; `None` lets the payer choose.
    pub amount_msat: Option<u64>,
    /// What is sold.
    pub description: String,
    /// When it was created.
    pub created_at: SimTime,
    /// Seconds after creation it stops being payable.
    pub expiry_s: u32,
    /// Blocks the final HTLC must at least have before it expires.
    pub min_final_cltv_expiry_delta: u16,
    /// Paths to the payee over channels the network may not know.
    pub route_hints: Vec<RouteHint>,
}

impl Invoice {
    /// When it stops being payable.
    pub fn expires_at(&self) -> SimTime {
        self.created_at.plus_secs(u64::from(self.expiry_s))
    }

    /// Whether it can no longer be paid at `now`.
    pub fn is_expired(&self, now: SimTime) -> bool {
        now >= self.expires_at()
    }
}

/// Where an invoice stands, as `listinvoices` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvoiceStatus {
    /// Not paid, not expired.
    Unpaid,
    /// Paid.
    Paid {
        /// When the payment was accepted.
        at: SimTime,
        /// What the HTLCs carried, msat (may exceed the amount asked).
        received_msat: u64,
    },
    /// Expired before it was paid.
    Expired,
}

/// The payee's record of an invoice it issued.
#[derive(Clone, Debug)]
pub struct InvoiceRecord {
    /// The invoice as issued.
    pub invoice: Invoice,
    /// Its preimage.
    pub preimage: Preimage,
    paid: Option<(SimTime, u64)>,
}

impl InvoiceRecord {
    /// A new, unpaid record.
    pub fn new(invoice: Invoice, preimage: Preimage) -> InvoiceRecord {
        InvoiceRecord { invoice, preimage, paid: None }
    }

    /// The status at `now`.
    pub fn status(&self, now: SimTime) -> InvoiceStatus {
        match self.paid {
            Some((at, received_msat)) => InvoiceStatus::Paid { at, received_msat },
            None if self.invoice.is_expired(now) => InvoiceStatus::Expired,
            None => InvoiceStatus::Unpaid,
        }
    }

    /// Marks it paid.
    pub fn mark_paid(&mut self, at: SimTime, received_msat: u64) {
        self.paid.get_or_insert((at, received_msat));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_moves_from_unpaid_to_paid_or_expired() {
        let preimage = Preimage([7; 32]);
        let invoice = Invoice {
            payee: NodeId(0),
            payment_hash: preimage.payment_hash(),
            payment_secret: PaymentSecret([1; 32]),
            amount_msat: Some(100_000),
            description: "cat".into(),
            created_at: SimTime::from_secs(10),
            expiry_s: 60,
            min_final_cltv_expiry_delta: 18,
            route_hints: vec![],
        };
        let mut record = InvoiceRecord::new(invoice, preimage);
        assert_eq!(record.status(SimTime::from_secs(69)), InvoiceStatus::Unpaid);
        assert_eq!(record.status(SimTime::from_secs(70)), InvoiceStatus::Expired);
        record.mark_paid(SimTime::from_secs(20), 100_000);
        assert!(matches!(record.status(SimTime::from_secs(99)), InvoiceStatus::Paid { .. }));
    }
}
