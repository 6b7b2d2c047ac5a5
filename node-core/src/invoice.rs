//! BOLT 11 invoices, modelled as data (no bech32): what a payee asks to be paid, the route hints
//! for its unannounced channels, the payee's record of each invoice (unpaid, paid, expired) and
//! the check a final HTLC must pass to pay one (BOLT 4). Creating the preimage and holding the
//! parts of a multi-part payment are the node's job.

use crate::ids::{NodeId, PaymentHash, PaymentSecret, Preimage, Scid, SimTime};
use crate::policy::ChannelPolicy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

    /// Whether a final HTLC may pay it (BOLT 4, final node): it is unpaid at `now`, the onion
    /// carries its secret, the payer's total is at least the amount and at most twice it, and
    /// the HTLC's expiry leaves `min_final_cltv_expiry_delta` blocks after `height`.
    pub fn accepts(
        &self,
        now: SimTime,
        height: u32,
        payment_secret: Option<PaymentSecret>,
        total_msat: u64,
        cltv_expiry: u32,
    ) -> bool {
        let invoice = &self.invoice;
        let amount_ok = invoice
            .amount_msat
            .is_none_or(|a| total_msat >= a && total_msat <= a.saturating_mul(2));
        self.status(now) == InvoiceStatus::Unpaid
            && payment_secret == Some(invoice.payment_secret)
            && amount_ok
            && cltv_expiry >= height + u32::from(invoice.min_final_cltv_expiry_delta)
    }
}

/// A payee's invoices, by payment hash.
#[derive(Clone, Debug, Default)]
pub struct Invoices(BTreeMap<PaymentHash, InvoiceRecord>);

impl Invoices {
    /// Records an invoice just issued, with its preimage.
    pub fn issue(&mut self, invoice: Invoice, preimage: Preimage) {
        self.0.insert(invoice.payment_hash, InvoiceRecord::new(invoice, preimage));
    }

    /// The invoice locked to `payment_hash`.
    pub fn get(&self, payment_hash: &PaymentHash) -> Option<&InvoiceRecord> {
        self.0.get(payment_hash)
    }

    /// Marks the invoice of `payment_hash` paid with `received_msat` at `at`; returns its
    /// preimage.
    pub fn mark_paid(
        &mut self,
        payment_hash: &PaymentHash,
        at: SimTime,
        received_msat: u64,
    ) -> Preimage {
        let record = self.0.get_mut(payment_hash).expect("invariant: paying a known invoice");
        record.mark_paid(at, received_msat);
        record.preimage
    }

    /// Every invoice, by payment hash.
    pub fn iter(&self) -> impl Iterator<Item = &InvoiceRecord> {
        self.0.values()
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
