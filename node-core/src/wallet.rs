//! A node's on-chain wallet: the confirmed outputs it owns, and the funding transactions it builds
//! from them. It learns of outputs only from the blocks it is shown; it never signs or broadcasts
//! (the node turns a built transaction into a broadcast action).

use crate::chain::{OutPoint, Script, Tx, TxIn, TxKind, TxOut, weight};
use crate::ids::NodeId;
use std::collections::BTreeMap;
use thiserror::Error;

/// Why the wallet cannot build a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum WalletError {
    /// The confirmed outputs do not cover the amount and the fee.
    #[error("insufficient on-chain funds: need {needed_sat} sat, have {available_sat} sat")]
    InsufficientFunds {
        /// Amount plus fee.
        needed_sat: u64,
        /// What the confirmed outputs hold.
        available_sat: u64,
    },
}

/// The confirmed, unspent outputs a node owns.
#[derive(Clone, Debug)]
pub struct Wallet {
    owner: NodeId,
    utxos: BTreeMap<OutPoint, u64>,
    /// Outputs spent by transactions built but not yet confirmed.
    reserved: BTreeMap<OutPoint, u64>,
    funding_nonce: u64,
}

impl Wallet {
    /// An empty wallet of `owner`.
    pub fn new(owner: NodeId) -> Wallet {
        Wallet { owner, utxos: BTreeMap::new(), reserved: BTreeMap::new(), funding_nonce: 0 }
    }

    /// Confirmed, unspent satoshis.
    pub fn balance_sat(&self) -> u64 {
        self.utxos.values().sum()
    }

    /// Outputs spent by transactions built but not confirmed yet, sat.
    pub fn reserved_sat(&self) -> u64 {
        self.reserved.values().sum()
    }

    /// Records a confirmed transaction: adds the outputs paying to this wallet and removes the
    /// outputs it spends.
    pub fn apply_confirmed(&mut self, tx: &Tx) {
        for input in &tx.inputs {
            self.utxos.remove(&input.prevout);
            self.reserved.remove(&input.prevout);
        }
        for vout in tx.outputs_to_wallet(self.owner) {
            self.utxos.insert(tx.outpoint(vout), tx.outputs[vout as usize].amount_sat);
        }
    }

    /// Builds a transaction paying `amount_sat` to `script` (a funding output, output 0) with change
    /// back to the wallet (output 1, left out when it would be below `dust_limit_sat`). Inputs are
    /// taken largest first, ties by outpoint, and leave the wallet at once: an unconfirmed spend is
    /// never double-spent.
    pub fn fund(
        &mut self,
        amount_sat: u64,
        script: Script,
        feerate_per_kw: u32,
        dust_limit_sat: u64,
    ) -> Result<Tx, WalletError> {
        let mut candidates: Vec<(OutPoint, u64)> =
            self.utxos.iter().map(|(o, v)| (*o, *v)).collect();
        candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut chosen = Vec::new();
        let mut total_sat = 0u64;
        let mut needed_sat = amount_sat + weight::fee_sat(feerate_per_kw, weight::funding_tx(1));
        for (outpoint, value_sat) in candidates {
            if total_sat >= needed_sat {
                break;
            }
            chosen.push(outpoint);
            total_sat += value_sat;
            needed_sat =
                amount_sat + weight::fee_sat(feerate_per_kw, weight::funding_tx(chosen.len()));
        }
        if total_sat < needed_sat {
            return Err(WalletError::InsufficientFunds {
                needed_sat,
                available_sat: self.balance_sat(),
            });
        }
        let mut outputs = vec![TxOut { amount_sat, script }];
        let change_sat = total_sat - needed_sat;
        if change_sat >= dust_limit_sat {
            outputs.push(TxOut {
                amount_sat: change_sat,
                script: Script::Wallet { owner: self.owner },
            });
        }
        for outpoint in &chosen {
            let value_sat = self.utxos.remove(outpoint).expect("chosen from the utxos");
            self.reserved.insert(*outpoint, value_sat);
        }
        self.funding_nonce += 1;
        Ok(Tx::new(
            TxKind::Funding,
            chosen.into_iter().map(TxIn::key).collect(),
            outputs,
            self.funding_nonce,
        ))
    }
}

impl Wallet {
    /// Gives back the inputs of a transaction that will never be broadcast.
    pub fn release(&mut self, tx: Tx) {
        for input in &tx.inputs {
            if let Some(value_sat) = self.reserved.remove(&input.prevout) {
                self.utxos.insert(input.prevout, value_sat);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coinbase(owner: NodeId, amounts: &[u64]) -> Tx {
        let outputs = amounts
            .iter()
            .map(|&amount_sat| TxOut { amount_sat, script: Script::Wallet { owner } })
            .collect();
        Tx::new(TxKind::Coinbase, vec![], outputs, 0)
    }

    #[test]
    fn funding_spends_largest_first_and_returns_change() {
        let me = NodeId(0);
        let mut wallet = Wallet::new(me);
        wallet.apply_confirmed(&coinbase(me, &[10_000, 2_000_000, 50_000]));
        assert_eq!(wallet.balance_sat(), 2_060_000);
        let tx = wallet.fund(1_000_000, Script::funding(me, NodeId(1)), 253, 354).unwrap();
        assert_eq!(tx.inputs.len(), 1);
        let fee_sat = weight::fee_sat(253, weight::funding_tx(1));
        assert_eq!(tx.outputs[0].amount_sat, 1_000_000);
        assert_eq!(tx.outputs[1].amount_sat, 2_000_000 - 1_000_000 - fee_sat);
        // The spent input is gone at once; the change comes back when the funding confirms.
        assert_eq!(wallet.balance_sat(), 60_000);
        assert_eq!(wallet.reserved_sat(), 2_000_000);
        wallet.apply_confirmed(&tx);
        assert_eq!(wallet.balance_sat(), 60_000 + tx.outputs[1].amount_sat);
        assert_eq!(wallet.reserved_sat(), 0);
    }

    #[test]
    fn released_inputs_come_back() {
        let me = NodeId(0);
        let mut wallet = Wallet::new(me);
        wallet.apply_confirmed(&coinbase(me, &[50_000]));
        let tx = wallet.fund(20_000, Script::funding(me, NodeId(1)), 253, 354).unwrap();
        assert_eq!(wallet.balance_sat(), 0);
        wallet.release(tx);
        assert_eq!((wallet.balance_sat(), wallet.reserved_sat()), (50_000, 0));
    }

    #[test]
    fn funding_beyond_the_balance_fails_without_spending() {
        let me = NodeId(0);
        let mut wallet = Wallet::new(me);
        wallet.apply_confirmed(&coinbase(me, &[1_000]));
        let err = wallet.fund(1_000, Script::funding(me, NodeId(1)), 253, 354).unwrap_err();
        assert!(matches!(err, WalletError::InsufficientFunds { available_sat: 1_000, .. }));
        assert_eq!(wallet.balance_sat(), 1_000);
    }
}
