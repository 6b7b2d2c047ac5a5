//! On-chain data as a node sees it: transactions, outputs and their scripts, the blocks a node is
//! told about, and the weight and fee arithmetic of the transactions it builds. Scripts are
//! modelled by who may spend them, not as Bitcoin script. This module does not hold a chain: the
//! simulator's mocked chain orders, confirms and validates what nodes broadcast.

use crate::ids::{NodeId, PaymentHash, Preimage, Scid, SimTime, Txid, sha256};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// All the bitcoin there will ever be, sat (Bitcoin Core's `MAX_MONEY`, `consensus/amount.h`):
/// no amount a node handles exceeds it, so sums of a few amounts fit in u64 msat.
pub const MAX_MONEY_SAT: u64 = 21_000_000 * 100_000_000;
/// [`MAX_MONEY_SAT`] in msat.
pub const MAX_MONEY_MSAT: u64 = MAX_MONEY_SAT * 1000;

/// A transaction output, by transaction and index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OutPoint {
    /// The transaction that created the output.
    pub txid: Txid,
    /// Its index among that transaction's outputs.
    pub vout: u32,
}

/// Who may spend an output, modelled instead of a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Script {
    /// A P2WPKH output of `owner`'s on-chain wallet.
    Wallet {
        /// The node whose wallet holds it.
        owner: NodeId,
    },
    /// A channel's 2-of-2 funding output (P2WSH), `node_1 < node_2`.
    Funding {
        /// The smaller node id.
        node_1: NodeId,
        /// The larger node id.
        node_2: NodeId,
    },
    /// A commitment's `to_local` output or a second-stage HTLC output: `owner`'s once the output
    /// has `csv_blocks` confirmations (the revocation path is not modelled: honest nodes never
    /// broadcast a revoked commitment).
    Delayed {
        /// Whose it becomes.
        owner: NodeId,
        /// Relative delay, blocks.
        csv_blocks: u16,
    },
    /// An HTLC output of a commitment: `receiver` can take it with the preimage of
    /// `payment_hash` at any time; `offerer` once the chain is past `cltv_expiry`.
    Htlc {
        /// Who offered the HTLC.
        offerer: NodeId,
        /// Who received it.
        receiver: NodeId,
        /// The HTLC's id in the offerer's direction of the channel.
        htlc_id: u64,
        /// What it is locked to.
        payment_hash: PaymentHash,
        /// Its expiry, block height.
        cltv_expiry: u32,
    },
    /// An anchor output (330 sat), its owner's at once.
    Anchor {
        /// Whose it is.
        owner: NodeId,
    },
}

impl Script {
    /// The 2-of-2 funding script of a channel between `a` and `b`, in either order.
    pub fn funding(a: NodeId, b: NodeId) -> Script {
        Script::Funding { node_1: a.min(b), node_2: a.max(b) }
    }

    /// The nodes that watch this output: its owner, or both ends of a channel or an HTLC.
    pub fn parties(&self) -> [Option<NodeId>; 2] {
        match *self {
            Script::Wallet { owner } | Script::Delayed { owner, .. } | Script::Anchor { owner } => {
                [Some(owner), None]
            }
            Script::Funding { node_1, node_2 } => [Some(node_1), Some(node_2)],
            Script::Htlc { offerer, receiver, .. } => [Some(offerer), Some(receiver)],
        }
    }

    /// Whether `node` watches this output.
    pub fn concerns(&self, node: NodeId) -> bool {
        self.parties().contains(&Some(node))
    }
}

/// A transaction output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxOut {
    /// Its value in satoshis.
    pub amount_sat: u64,
    /// Who may spend it.
    pub script: Script,
}

/// How an input proves it may spend its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Witness {
    /// The owner's signature (or both peers' for a funding output).
    Key,
    /// The preimage of an HTLC's payment hash, by its receiver.
    Preimage(Preimage),
    /// An HTLC's offerer, after its expiry.
    Timeout,
}

/// A transaction input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TxIn {
    /// The output it spends.
    pub prevout: OutPoint,
    /// How.
    pub witness: Witness,
}

impl TxIn {
    /// A key spend of `prevout`.
    pub fn key(prevout: OutPoint) -> TxIn {
        TxIn { prevout, witness: Witness::Key }
    }
}

/// What a transaction is for; it decides nothing, but traces and summaries name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum TxKind {
    /// Creates coins out of nothing: the simulator's initial wallet funds.
    Coinbase,
    /// Outputs created at the start of a run for channels that already exist then.
    Genesis,
    /// Funds a channel opened during the run.
    Funding,
    /// A cooperative close: spends a funding output to both peers' wallets.
    MutualClose,
    /// A unilateral close: a commitment transaction.
    Commitment,
    /// Claims an HTLC output with its preimage.
    HtlcSuccess,
    /// Claims an HTLC output after its expiry.
    HtlcTimeout,
    /// Moves a delayed or anchor output to the wallet.
    Sweep,
}

impl TxKind {
    /// A stable integer for traces.
    pub fn code(self) -> u8 {
        match self {
            TxKind::Coinbase => 0,
            TxKind::Genesis => 1,
            TxKind::Funding => 2,
            TxKind::MutualClose => 3,
            TxKind::Commitment => 4,
            TxKind::HtlcSuccess => 5,
            TxKind::HtlcTimeout => 6,
            TxKind::Sweep => 7,
        }
    }
}

/// A transaction. Its id is the SHA-256 of its canonical encoding, so the same inputs and outputs
/// always give the same id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tx {
    /// Its id.
    pub txid: Txid,
    /// What it is for.
    pub kind: TxKind,
    /// The outputs it spends, in order.
    pub inputs: Vec<TxIn>,
    /// The outputs it creates, in order.
    pub outputs: Vec<TxOut>,
    /// Distinguishes otherwise identical coinbase transactions.
    pub nonce: u64,
    /// The outputs paying a wallet, as (owner, output index), sorted: a wallet finds its own
    /// without a pass over every output (a transaction of the start funds a thousand channels,
    /// and a thousand nodes look at it).
    wallet_outputs: Vec<(NodeId, u32)>,
}

impl Tx {
    /// Builds a transaction and computes its id.
    pub fn new(kind: TxKind, inputs: Vec<TxIn>, outputs: Vec<TxOut>, nonce: u64) -> Tx {
        let mut bytes = Vec::with_capacity(16 + inputs.len() * 70 + outputs.len() * 60);
        bytes.push(kind.code());
        bytes.extend_from_slice(&nonce.to_be_bytes());
        bytes.extend_from_slice(&(inputs.len() as u32).to_be_bytes());
        for input in &inputs {
            bytes.extend_from_slice(&input.prevout.txid.0);
            bytes.extend_from_slice(&input.prevout.vout.to_be_bytes());
            match input.witness {
                Witness::Key => bytes.push(0),
                Witness::Preimage(p) => {
                    bytes.push(1);
                    bytes.extend_from_slice(&p.0);
                }
                Witness::Timeout => bytes.push(2),
            }
        }
        bytes.extend_from_slice(&(outputs.len() as u32).to_be_bytes());
        for output in &outputs {
            bytes.extend_from_slice(&output.amount_sat.to_be_bytes());
            match output.script {
                Script::Wallet { owner } => {
                    bytes.push(0);
                    bytes.extend_from_slice(&owner.0.to_be_bytes());
                }
                Script::Funding { node_1, node_2 } => {
                    bytes.push(1);
                    bytes.extend_from_slice(&node_1.0.to_be_bytes());
                    bytes.extend_from_slice(&node_2.0.to_be_bytes());
                }
                Script::Delayed { owner, csv_blocks } => {
                    bytes.push(2);
                    bytes.extend_from_slice(&owner.0.to_be_bytes());
                    bytes.extend_from_slice(&csv_blocks.to_be_bytes());
                }
                Script::Htlc { offerer, receiver, htlc_id, payment_hash, cltv_expiry } => {
                    bytes.push(3);
                    bytes.extend_from_slice(&offerer.0.to_be_bytes());
                    bytes.extend_from_slice(&receiver.0.to_be_bytes());
                    bytes.extend_from_slice(&htlc_id.to_be_bytes());
                    bytes.extend_from_slice(&payment_hash.0);
                    bytes.extend_from_slice(&cltv_expiry.to_be_bytes());
                }
                Script::Anchor { owner } => {
                    bytes.push(4);
                    bytes.extend_from_slice(&owner.0.to_be_bytes());
                }
            }
        }
        let mut wallet_outputs: Vec<(NodeId, u32)> = (outputs.iter().enumerate())
            .filter_map(|(vout, o)| match o.script {
                Script::Wallet { owner } => Some((owner, vout as u32)),
                _ => None,
            })
            .collect();
        wallet_outputs.sort_unstable();
        Tx { txid: Txid(sha256(&bytes)), kind, inputs, outputs, nonce, wallet_outputs }
    }

    /// The indexes of the outputs paying `owner`'s wallet, in order.
    pub fn outputs_to_wallet(&self, owner: NodeId) -> impl Iterator<Item = u32> + '_ {
        let start = self.wallet_outputs.partition_point(|(o, _)| *o < owner);
        self.wallet_outputs[start..].iter().take_while(move |(o, _)| *o == owner).map(|(_, v)| *v)
    }

    /// The sum of the outputs, in satoshis.
    pub fn output_total_sat(&self) -> u64 {
        self.outputs.iter().map(|o| o.amount_sat).sum()
    }

    /// The outpoint of output `vout`.
    pub fn outpoint(&self, vout: u32) -> OutPoint {
        OutPoint { txid: self.txid, vout }
    }

    /// Whether any output concerns `node` (spent outputs are the caller's to recognise).
    pub fn pays_to(&self, node: NodeId) -> bool {
        self.outputs.iter().any(|o| o.script.concerns(node))
    }

    /// Whether it spends `outpoint`.
    pub fn spends(&self, outpoint: &OutPoint) -> bool {
        self.inputs.iter().any(|i| &i.prevout == outpoint)
    }
}

/// A confirmed transaction and its position in its block.
#[derive(Clone, Debug)]
pub struct ConfirmedTx {
    /// Its index in the block, which becomes the middle part of a short_channel_id.
    pub tx_index: u32,
    /// The transaction.
    pub tx: Arc<Tx>,
}

/// A block as one node is told about it: the transactions that concern that node (they pay to it
/// or spend outputs it watches), and the announced channels whose funding outputs this block
/// spends (every node watches those, as BOLT 7 asks).
#[derive(Clone, Debug)]
pub struct Block {
    /// The block's height.
    pub height: u32,
    /// When it was mined.
    pub time: SimTime,
    /// The transactions in it that concern the node, in block order.
    pub txs: Vec<ConfirmedTx>,
    /// Announced channels whose funding output this block spends.
    pub closed_channels: Arc<[Scid]>,
}

/// Weight and fee arithmetic for the transactions nodes build (BOLT 3 and the segwit weights of
/// P2WPKH and P2WSH spends).
pub mod weight {
    /// Version, locktime, input and output counts, segwit marker and flag.
    pub const TX_OVERHEAD: u64 = 4 * 10 + 2;
    /// A P2WPKH input: 41 bytes outside the witness, a 108-byte witness.
    pub const P2WPKH_INPUT: u64 = 4 * 41 + 108;
    /// A P2WPKH output (31 bytes).
    pub const P2WPKH_OUTPUT: u64 = 4 * 31;
    /// A P2WSH output (43 bytes), as a funding output.
    pub const P2WSH_OUTPUT: u64 = 4 * 43;
    /// The 2-of-2 funding input of a closing transaction, with its 222-weight witness.
    pub const FUNDING_INPUT: u64 = 4 * 41 + 222;

    /// The fee in satoshis for `weight` at `feerate_per_kw` (satoshis per 1000 weight units),
    /// rounded down as BOLT 3 does.
    pub fn fee_sat(feerate_per_kw: u32, weight: u64) -> u64 {
        u64::from(feerate_per_kw) * weight / 1000
    }

    /// The weight of a funding transaction with `inputs` wallet inputs and a change output.
    pub fn funding_tx(inputs: usize) -> u64 {
        TX_OVERHEAD + P2WPKH_INPUT * inputs as u64 + P2WSH_OUTPUT + P2WPKH_OUTPUT
    }

    /// The weight of a cooperative closing transaction with `outputs` wallet outputs.
    pub fn closing_tx(outputs: usize) -> u64 {
        TX_OVERHEAD + FUNDING_INPUT + P2WPKH_OUTPUT * outputs as u64
    }

    /// Spending a commitment's HTLC output directly from the other side's commitment (preimage
    /// or timeout path, to the wallet).
    pub const HTLC_CLAIM: u64 = TX_OVERHEAD + 4 * 41 + 300 + P2WPKH_OUTPUT;
    /// Spending a delayed output after its CSV (to_local or second-stage), to the wallet.
    pub const DELAYED_SWEEP: u64 = TX_OVERHEAD + 4 * 41 + 154 + P2WPKH_OUTPUT;
    /// Spending an anchor output, to the wallet.
    pub const ANCHOR_SWEEP: u64 = TX_OVERHEAD + 4 * 41 + 80 + P2WPKH_OUTPUT;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wallet_finds_exactly_its_outputs() {
        let wallet =
            |owner| TxOut { amount_sat: 5, script: Script::Wallet { owner: NodeId(owner) } };
        let funding = TxOut {
            amount_sat: 9,
            script: Script::Funding { node_1: NodeId(1), node_2: NodeId(2) },
        };
        let outputs = vec![wallet(2), funding, wallet(1), wallet(2), wallet(3), funding, wallet(2)];
        let tx = Tx::new(TxKind::Coinbase, vec![], outputs, 0);
        assert_eq!(tx.outputs_to_wallet(NodeId(2)).collect::<Vec<_>>(), [0, 3, 6]);
        assert_eq!(tx.outputs_to_wallet(NodeId(1)).collect::<Vec<_>>(), [2]);
        assert_eq!(tx.outputs_to_wallet(NodeId(0)).count(), 0, "a funding output is no wallet's");
        assert_eq!(tx.outputs_to_wallet(NodeId(4)).count(), 0);
    }

    #[test]
    fn txid_depends_on_content_only() {
        let out = TxOut { amount_sat: 5, script: Script::Wallet { owner: NodeId(1) } };
        let a = Tx::new(TxKind::Coinbase, vec![], vec![out], 7);
        let b = Tx::new(TxKind::Coinbase, vec![], vec![out], 7);
        let c = Tx::new(TxKind::Coinbase, vec![], vec![out], 8);
        assert_eq!(a.txid, b.txid);
        assert_ne!(a.txid, c.txid);
    }

    #[test]
    fn funding_script_orders_its_parties() {
        assert_eq!(Script::funding(NodeId(3), NodeId(1)), Script::funding(NodeId(1), NodeId(3)));
        assert!(Script::funding(NodeId(3), NodeId(1)).concerns(NodeId(1)));
        assert!(!Script::funding(NodeId(3), NodeId(1)).concerns(NodeId(2)));
    }

    #[test]
    fn fees_round_down() {
        assert_eq!(weight::fee_sat(253, 724), 183);
        assert_eq!(weight::fee_sat(1000, 999), 999);
    }
}
