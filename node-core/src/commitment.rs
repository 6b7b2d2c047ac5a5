//! BOLT 3: the weight and fee of a commitment transaction, which HTLCs are trimmed (too small to
//! get an output of their own, so their value goes to fees), the anchor outputs, and the
//! commitment and closing transactions built from them. Pure functions of amounts, parties and a
//! feerate; the channel decides what is in a commitment and when it is built.

use crate::chain::{OutPoint, Script, Tx, TxIn, TxKind, TxOut};
use crate::ids::{NodeId, PaymentHash};

/// Weight of a commitment transaction without HTLC outputs, no anchors (BOLT 3).
pub const COMMITMENT_BASE_WEIGHT: u64 = 724;
/// Weight of a commitment transaction without HTLC outputs, with anchors (BOLT 3).
pub const COMMITMENT_BASE_WEIGHT_ANCHORS: u64 = 1124;
/// Weight each untrimmed HTLC output adds (BOLT 3).
pub const HTLC_OUTPUT_WEIGHT: u64 = 172;
/// Weight of an HTLC-timeout transaction, no anchors (BOLT 3).
pub const HTLC_TIMEOUT_WEIGHT: u64 = 663;
/// Weight of an HTLC-success transaction, no anchors (BOLT 3).
pub const HTLC_SUCCESS_WEIGHT: u64 = 703;
/// Value of each of the two anchor outputs, paid by the opener (BOLT 3).
pub const ANCHOR_OUTPUT_SAT: u64 = 330;

/// The shape of a commitment transaction that decides its fee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitmentFormat {
    /// Fee rate, satoshis per 1000 weight units.
    pub feerate_per_kw: u32,
    /// `option_anchors_zero_fee_htlc_tx`: two anchors, zero-fee HTLC transactions.
    pub anchors: bool,
}

impl CommitmentFormat {
    /// The commitment transaction's weight with `untrimmed_htlcs` HTLC outputs.
    pub fn weight(&self, untrimmed_htlcs: usize) -> u64 {
        let base =
            if self.anchors { COMMITMENT_BASE_WEIGHT_ANCHORS } else { COMMITMENT_BASE_WEIGHT };
        base + HTLC_OUTPUT_WEIGHT * untrimmed_htlcs as u64
    }

    /// The commitment transaction fee, satoshis, at this format's feerate.
    pub fn fee_sat(&self, untrimmed_htlcs: usize) -> u64 {
        self.fee_sat_at(self.feerate_per_kw, untrimmed_htlcs)
    }

    /// The commitment transaction fee at another feerate (for the fee spike buffer).
    pub fn fee_sat_at(&self, feerate_per_kw: u32, untrimmed_htlcs: usize) -> u64 {
        u64::from(feerate_per_kw) * self.weight(untrimmed_htlcs) / 1000
    }

    /// What the opener pays out of its balance: the fee plus, with anchors, both anchor outputs.
    pub fn opener_cost_msat(&self, feerate_per_kw: u32, untrimmed_htlcs: usize) -> u64 {
        let anchors_sat = if self.anchors { 2 * ANCHOR_OUTPUT_SAT } else { 0 };
        (self.fee_sat_at(feerate_per_kw, untrimmed_htlcs) + anchors_sat) * 1000
    }

    /// Whether an HTLC of `amount_msat` is trimmed from a commitment whose holder has
    /// `dust_limit_sat`. `offered_by_holder` selects the HTLC-timeout (offered) or HTLC-success
    /// (received) second-stage fee; with anchors those are zero.
    pub fn is_trimmed(
        &self,
        amount_msat: u64,
        dust_limit_sat: u64,
        offered_by_holder: bool,
    ) -> bool {
        let second_stage_fee_sat = if self.anchors {
            0
        } else if offered_by_holder {
            u64::from(self.feerate_per_kw) * HTLC_TIMEOUT_WEIGHT / 1000
        } else {
            u64::from(self.feerate_per_kw) * HTLC_SUCCESS_WEIGHT / 1000
        };
        amount_msat / 1000 < dust_limit_sat + second_stage_fee_sat
    }
}

/// An HTLC in a commitment, before trimming.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommittedHtlc {
    /// Whether the commitment's holder offered it.
    pub offered_by_holder: bool,
    /// Its id in the offerer's direction.
    pub id: u64,
    /// Its amount, msat.
    pub amount_msat: u64,
    /// What it is locked to.
    pub payment_hash: PaymentHash,
    /// Its expiry, block height.
    pub cltv_expiry: u32,
}

/// What a commitment transaction is made of, from its holder's side.
#[derive(Clone, Debug)]
pub struct CommitmentTx {
    /// The funding output it spends.
    pub funding: OutPoint,
    /// Its commitment number.
    pub number: u64,
    /// The node that holds (and would broadcast) it.
    pub holder: NodeId,
    /// The other peer.
    pub counterparty: NodeId,
    /// Whether the holder opened the channel (and pays the fee and the anchors).
    pub holder_opened: bool,
    /// The holder's balance, msat, HTLCs excluded.
    pub holder_msat: u64,
    /// The counterparty's balance, msat, HTLCs excluded.
    pub counterparty_msat: u64,
    /// The holder's dust limit, sat.
    pub dust_limit_sat: u64,
    /// Blocks the holder's own output waits (the counterparty's `to_self_delay`).
    pub to_self_delay_blocks: u16,
    /// Its fee rate and anchors.
    pub format: CommitmentFormat,
    /// Its HTLCs, before trimming.
    pub htlcs: Vec<CommittedHtlc>,
}

impl CommitmentTx {
    /// The transaction: `to_local` delayed by `to_self_delay_blocks`, `to_remote` straight to the
    /// counterparty's wallet, anchors if any, and one output per untrimmed HTLC; trimmed HTLCs,
    /// the fee and msat remainders go to miners.
    pub fn build(&self) -> Tx {
        let (holder, counterparty, format) = (self.holder, self.counterparty, self.format);
        let htlcs: Vec<TxOut> = self
            .htlcs
            .iter()
            .filter(|h| !format.is_trimmed(h.amount_msat, self.dust_limit_sat, h.offered_by_holder))
            .map(|h| {
                let (offerer, receiver) = if h.offered_by_holder {
                    (holder, counterparty)
                } else {
                    (counterparty, holder)
                };
                TxOut {
                    amount_sat: h.amount_msat / 1000,
                    script: Script::Htlc {
                        offerer,
                        receiver,
                        htlc_id: h.id,
                        payment_hash: h.payment_hash,
                        cltv_expiry: h.cltv_expiry,
                    },
                }
            })
            .collect();
        let cost_msat = format.opener_cost_msat(format.feerate_per_kw, htlcs.len());
        let (mut ours_msat, mut theirs_msat) = (self.holder_msat, self.counterparty_msat);
        if self.holder_opened {
            ours_msat = ours_msat.saturating_sub(cost_msat);
        } else {
            theirs_msat = theirs_msat.saturating_sub(cost_msat);
        }
        let dust = self.dust_limit_sat;
        let mut outputs = Vec::with_capacity(htlcs.len() + 4);
        if ours_msat / 1000 >= dust {
            let script = Script::Delayed { owner: holder, csv_blocks: self.to_self_delay_blocks };
            outputs.push(TxOut { amount_sat: ours_msat / 1000, script });
        }
        if theirs_msat / 1000 >= dust {
            let script = Script::Wallet { owner: counterparty };
            outputs.push(TxOut { amount_sat: theirs_msat / 1000, script });
        }
        if format.anchors {
            for owner in [holder, counterparty] {
                outputs.push(TxOut {
                    amount_sat: ANCHOR_OUTPUT_SAT,
                    script: Script::Anchor { owner },
                });
            }
        }
        outputs.extend(htlcs);
        Tx::new(TxKind::Commitment, vec![TxIn::key(self.funding)], outputs, self.number)
    }
}

/// The mutual close of the channel funded by `funding` (BOLT 2 `closing_signed`): each side's
/// output, `(owner, amount_sat, owner's dust limit)`, ordered by owner and left out below its
/// owner's dust limit.
pub fn closing_tx(funding: OutPoint, mut sides: [(NodeId, u64, u64); 2]) -> Tx {
    sides.sort_by_key(|(owner, _, _)| *owner);
    let outputs = sides
        .into_iter()
        .filter(|(_, amount_sat, dust_sat)| amount_sat >= dust_sat)
        .map(|(owner, amount_sat, _)| TxOut { amount_sat, script: Script::Wallet { owner } })
        .collect();
    Tx::new(TxKind::MutualClose, vec![TxIn::key(funding)], outputs, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_follows_bolt3_weights() {
        let legacy = CommitmentFormat { feerate_per_kw: 5000, anchors: false };
        // BOLT 3 appendix C: 724 weight at 5000 sat/kw is 3620 sat.
        assert_eq!(legacy.fee_sat(0), 3620);
        assert_eq!(legacy.fee_sat(2), 5000 * (724 + 2 * 172) / 1000);
        let anchors = CommitmentFormat { feerate_per_kw: 253, anchors: true };
        assert_eq!(anchors.fee_sat(0), 253 * 1124 / 1000);
        assert_eq!(anchors.opener_cost_msat(253, 0), (284 + 660) * 1000);
    }

    #[test]
    fn trimming_uses_the_second_stage_fee() {
        let format = CommitmentFormat { feerate_per_kw: 1000, anchors: false };
        // dust 354 + timeout fee 663 = 1017 sat for an offered HTLC.
        assert!(format.is_trimmed(1_016_999, 354, true));
        assert!(!format.is_trimmed(1_017_000, 354, true));
        // dust 354 + success fee 703 = 1057 sat for a received HTLC.
        assert!(format.is_trimmed(1_056_999, 354, false));
        assert!(!format.is_trimmed(1_057_000, 354, false));
        let anchors = CommitmentFormat { feerate_per_kw: 1000, anchors: true };
        assert!(!anchors.is_trimmed(354_000, 354, true));
        assert!(anchors.is_trimmed(353_999, 354, false));
    }
}
