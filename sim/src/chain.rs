//! The mocked chain: a UTXO set, a mempool and blocks at a fixed interval from a start height.
//! It validates what nodes broadcast — inputs exist and are unspent, the broadcaster may spend
//! each one (its owner; an HTLC's receiver with the preimage, its offerer after the expiry; a
//! delayed output once its CSV has passed), outputs do not exceed inputs — confirms the mempool
//! in arrival order, keeps the fees miners earned, and says which nodes each transaction
//! concerns. It does not decide when blocks come (the world schedules them) and it does not
//! reorganise.

use node_core::SimTime;
use node_core::chain::{Block, ConfirmedTx, OutPoint, Script, Tx, TxKind, TxOut, Witness};
use node_core::ids::{NodeId, Scid, Txid};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Why a broadcast transaction was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxRejection {
    /// An input is not an unspent output of the chain.
    MissingInput(OutPoint),
    /// An input is already spent by a mempool transaction.
    DoubleSpend(OutPoint),
    /// The broadcaster may not spend an input this way.
    Unauthorized(OutPoint),
    /// A relative or absolute timelock of an input has not passed.
    Immature(OutPoint),
    /// The transaction spends the same output twice.
    DuplicateInput(OutPoint),
    /// The outputs exceed the inputs.
    Overspend {
        /// Sum of inputs, sat.
        in_sat: u64,
        /// Sum of outputs, sat.
        out_sat: u64,
    },
}

/// A transaction in a mined block.
#[derive(Clone, Debug)]
pub struct MinedTx {
    /// Its index in the block.
    pub tx_index: u32,
    /// The transaction.
    pub tx: Arc<Tx>,
    /// The fee it paid, sat.
    pub fee_sat: u64,
    /// The nodes it pays to or spends from, sorted.
    pub concerned: Vec<NodeId>,
}

/// A mined block.
#[derive(Clone, Debug)]
pub struct MinedBlock {
    /// Its height.
    pub height: u32,
    /// Its transactions.
    pub txs: Vec<MinedTx>,
    /// Announced channels whose funding it spends.
    pub closed_channels: Arc<[Scid]>,
}

impl MinedBlock {
    /// The transactions of the block that concern `node`, as it is told about them.
    pub fn txs_for(&self, node: NodeId) -> Vec<ConfirmedTx> {
        self.txs
            .iter()
            .filter(|m| m.concerned.contains(&node))
            .map(|m| ConfirmedTx { tx_index: m.tx_index, tx: m.tx.clone() })
            .collect()
    }

    /// The notice a node gets at `now` of this block, with `txs`, those that concern it.
    pub fn notice(&self, txs: Vec<ConfirmedTx>, now: SimTime) -> Block {
        Block { height: self.height, time: now, txs, closed_channels: self.closed_channels.clone() }
    }
}

/// Where a confirmed transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Confirmation {
    /// Block height.
    pub height: u32,
    /// Index in the block.
    pub tx_index: u32,
    /// What it is.
    pub kind: TxKind,
    /// Its fee, sat.
    pub fee_sat: u64,
}

/// The mocked chain.
#[derive(Debug)]
pub struct MockChain {
    height: u32,
    mempool: Vec<Arc<Tx>>,
    mempool_txids: BTreeSet<Txid>,
    mempool_spent: BTreeSet<OutPoint>,
    /// Unspent outputs and the height of the block that holds each.
    utxos: BTreeMap<OutPoint, (TxOut, u32)>,
    created_sat: u64,
    miner_fees_sat: u64,
    confirmed: BTreeMap<Txid, Confirmation>,
    announced: BTreeMap<OutPoint, Scid>,
}

impl MockChain {
    /// A chain whose tip is `start_height - 1`, so the genesis block is `start_height`.
    pub fn new(start_height: u32) -> MockChain {
        MockChain {
            height: start_height.saturating_sub(1),
            mempool: Vec::new(),
            mempool_txids: BTreeSet::new(),
            mempool_spent: BTreeSet::new(),
            utxos: BTreeMap::new(),
            created_sat: 0,
            miner_fees_sat: 0,
            confirmed: BTreeMap::new(),
            announced: BTreeMap::new(),
        }
    }

    /// The tip's height.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Mines the genesis block from transactions that create coins (no inputs).
    pub fn genesis(&mut self, txs: Vec<Tx>) -> MinedBlock {
        for tx in &txs {
            assert!(tx.inputs.is_empty(), "invariant: genesis transactions spend nothing");
            self.created_sat += tx.output_total_sat();
        }
        self.mempool = txs.into_iter().map(Arc::new).collect();
        self.mine()
    }

    /// Offers a transaction broadcast by `by` to the mempool, to be mined in the next block.
    /// Returns `Ok(false)` for one already there or confirmed.
    pub fn broadcast(&mut self, tx: Tx, by: NodeId) -> Result<bool, TxRejection> {
        if self.mempool_txids.contains(&tx.txid) || self.confirmed.contains_key(&tx.txid) {
            return Ok(false);
        }
        let next_height = self.height + 1;
        let mut in_sat = 0u64;
        for (i, input) in tx.inputs.iter().enumerate() {
            let outpoint = input.prevout;
            if tx.inputs[..i].iter().any(|earlier| earlier.prevout == outpoint) {
                return Err(TxRejection::DuplicateInput(outpoint));
            }
            if self.mempool_spent.contains(&outpoint) {
                return Err(TxRejection::DoubleSpend(outpoint));
            }
            let Some((out, confirmed_height)) = self.utxos.get(&outpoint) else {
                return Err(TxRejection::MissingInput(outpoint));
            };
            let allowed = match (out.script, input.witness) {
                (Script::Wallet { owner } | Script::Anchor { owner }, Witness::Key) => by == owner,
                // A funding output needs both signatures: only a cooperative close or a
                // commitment (signed by the peer beforehand) spends it.
                (Script::Funding { node_1, node_2 }, Witness::Key) => {
                    (by == node_1 || by == node_2)
                        && matches!(tx.kind, TxKind::MutualClose | TxKind::Commitment)
                }
                (Script::Delayed { owner, csv_blocks }, Witness::Key) => {
                    if next_height < confirmed_height + u32::from(csv_blocks) {
                        return Err(TxRejection::Immature(outpoint));
                    }
                    by == owner
                }
                (Script::Htlc { receiver, payment_hash, .. }, Witness::Preimage(preimage)) => {
                    by == receiver && preimage.payment_hash() == payment_hash
                }
                (Script::Htlc { offerer, cltv_expiry, .. }, Witness::Timeout) => {
                    if next_height <= cltv_expiry {
                        return Err(TxRejection::Immature(outpoint));
                    }
                    by == offerer
                }
                _ => false,
            };
            if !allowed {
                return Err(TxRejection::Unauthorized(outpoint));
            }
            in_sat += out.amount_sat;
        }
        let out_sat = tx.output_total_sat();
        if out_sat > in_sat {
            return Err(TxRejection::Overspend { in_sat, out_sat });
        }
        self.mempool_spent.extend(tx.inputs.iter().map(|i| i.prevout));
        self.mempool_txids.insert(tx.txid);
        self.mempool.push(Arc::new(tx));
        Ok(true)
    }

    /// Watches the funding output of an announced channel, so blocks report its spending.
    pub fn watch_announced(&mut self, funding: OutPoint, scid: Scid) {
        self.announced.insert(funding, scid);
    }

    /// Mines the next block with the whole mempool, in arrival order.
    pub fn mine(&mut self) -> MinedBlock {
        self.height += 1;
        let mut txs = Vec::with_capacity(self.mempool.len());
        let mut closed = Vec::new();
        for (index, tx) in std::mem::take(&mut self.mempool).into_iter().enumerate() {
            let mut concerned = Vec::new();
            let mut in_sat = 0;
            for input in &tx.inputs {
                let (spent, _) = self
                    .utxos
                    .remove(&input.prevout)
                    .expect("invariant: mempool inputs are unspent");
                in_sat += spent.amount_sat;
                concerned.extend(spent.script.parties().into_iter().flatten());
                if let Some(scid) = self.announced.remove(&input.prevout) {
                    closed.push(scid);
                }
            }
            for (vout, output) in tx.outputs.iter().enumerate() {
                self.utxos.insert(tx.outpoint(vout as u32), (*output, self.height));
                concerned.extend(output.script.parties().into_iter().flatten());
            }
            concerned.sort();
            concerned.dedup();
            let fee_sat = if tx.inputs.is_empty() { 0 } else { in_sat - tx.output_total_sat() };
            self.miner_fees_sat += fee_sat;
            let tx_index = index as u32;
            self.confirmed.insert(
                tx.txid,
                Confirmation { height: self.height, tx_index, kind: tx.kind, fee_sat },
            );
            txs.push(MinedTx { tx_index, tx, fee_sat, concerned });
        }
        self.mempool_txids.clear();
        self.mempool_spent.clear();
        MinedBlock { height: self.height, txs, closed_channels: closed.into() }
    }

    /// Where `txid` confirmed, if it did.
    pub fn confirmation(&self, txid: &Txid) -> Option<Confirmation> {
        self.confirmed.get(txid).copied()
    }

    /// The unspent output at `outpoint`.
    pub fn utxo(&self, outpoint: &OutPoint) -> Option<&TxOut> {
        self.utxos.get(outpoint).map(|(out, _)| out)
    }

    /// Unspent outputs, by outpoint.
    pub fn utxos(&self) -> impl Iterator<Item = (&OutPoint, &TxOut)> {
        self.utxos.iter().map(|(outpoint, (out, _))| (outpoint, out))
    }

    /// Whether a mempool transaction spends `outpoint`.
    pub fn spent_in_mempool(&self, outpoint: &OutPoint) -> bool {
        self.mempool_spent.contains(outpoint)
    }

    /// Coins created by genesis transactions, sat.
    pub fn created_sat(&self) -> u64 {
        self.created_sat
    }

    /// Fees of confirmed transactions, sat.
    pub fn miner_fees_sat(&self) -> u64 {
        self.miner_fees_sat
    }

    /// Transactions waiting in the mempool.
    pub fn mempool_len(&self) -> usize {
        self.mempool.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_core::chain::TxIn;

    fn wallet(owner: u32, amount_sat: u64) -> TxOut {
        TxOut { amount_sat, script: Script::Wallet { owner: NodeId(owner) } }
    }

    #[test]
    fn confirms_valid_spends_and_keeps_the_fee() {
        let mut chain = MockChain::new(100);
        let coinbase = Tx::new(TxKind::Coinbase, vec![], vec![wallet(0, 1_000)], 0);
        let block = chain.genesis(vec![coinbase.clone()]);
        assert_eq!(block.height, 100);
        let input = TxIn::key(coinbase.outpoint(0));
        let spend = Tx::new(TxKind::Funding, vec![input], vec![wallet(1, 900)], 1);
        assert_eq!(
            chain.broadcast(spend.clone(), NodeId(1)),
            Err(TxRejection::Unauthorized(input.prevout)),
            "only the owner spends a wallet output"
        );
        assert_eq!(chain.broadcast(spend.clone(), NodeId(0)), Ok(true));
        assert_eq!(
            chain.broadcast(spend.clone(), NodeId(0)),
            Ok(false),
            "a rebroadcast is ignored"
        );
        let double = Tx::new(TxKind::Funding, vec![input], vec![wallet(2, 900)], 2);
        assert_eq!(
            chain.broadcast(double, NodeId(0)),
            Err(TxRejection::DoubleSpend(input.prevout))
        );
        let block = chain.mine();
        assert_eq!(block.height, 101);
        assert_eq!(block.txs[0].fee_sat, 100);
        assert_eq!(block.txs[0].concerned, vec![NodeId(0), NodeId(1)]);
        assert_eq!(chain.miner_fees_sat(), 100);
        let total: u64 = chain.utxos().map(|(_, o)| o.amount_sat).sum();
        assert_eq!(total + chain.miner_fees_sat(), chain.created_sat());
        assert_eq!(chain.confirmation(&spend.txid).map(|c| c.height), Some(101));
    }

    #[test]
    fn refuses_missing_inputs_and_overspends() {
        let mut chain = MockChain::new(1);
        let coinbase = Tx::new(TxKind::Coinbase, vec![], vec![wallet(0, 10)], 0);
        chain.genesis(vec![coinbase.clone()]);
        let ghost = OutPoint { txid: Txid([1; 32]), vout: 0 };
        let bad = Tx::new(TxKind::Funding, vec![TxIn::key(ghost)], vec![], 0);
        assert_eq!(chain.broadcast(bad, NodeId(0)), Err(TxRejection::MissingInput(ghost)));
        let input = TxIn::key(coinbase.outpoint(0));
        let twice = Tx::new(TxKind::Funding, vec![input, input], vec![wallet(0, 15)], 0);
        assert_eq!(
            chain.broadcast(twice, NodeId(0)),
            Err(TxRejection::DuplicateInput(input.prevout))
        );
        let over =
            Tx::new(TxKind::Funding, vec![TxIn::key(coinbase.outpoint(0))], vec![wallet(1, 11)], 0);
        assert_eq!(
            chain.broadcast(over, NodeId(0)),
            Err(TxRejection::Overspend { in_sat: 10, out_sat: 11 })
        );
    }

    #[test]
    fn htlc_and_delayed_outputs_follow_their_spending_rules() {
        let mut chain = MockChain::new(100);
        let preimage = node_core::Preimage([5; 32]);
        let htlc = Script::Htlc {
            offerer: NodeId(0),
            receiver: NodeId(1),
            htlc_id: 0,
            payment_hash: preimage.payment_hash(),
            cltv_expiry: 103,
        };
        let delayed = Script::Delayed { owner: NodeId(0), csv_blocks: 3 };
        let outputs = vec![
            TxOut { amount_sat: 1000, script: htlc },
            TxOut { amount_sat: 1000, script: delayed },
        ];
        let base = Tx::new(TxKind::Coinbase, vec![], outputs, 0);
        chain.genesis(vec![base.clone()]); // height 100
        let claim = |witness, n| {
            let input = TxIn { prevout: base.outpoint(n), witness };
            Tx::new(TxKind::Sweep, vec![input], vec![wallet(0, 900)], 0)
        };
        let (htlc_out, delayed_out) = (base.outpoint(0), base.outpoint(1));
        // The offerer times out only in a block past the expiry (104 and later).
        assert_eq!(
            chain.broadcast(claim(Witness::Timeout, 0), NodeId(0)),
            Err(TxRejection::Immature(htlc_out))
        );
        // Only the receiver claims, and only with the right preimage.
        let wrong = claim(Witness::Preimage(node_core::Preimage([6; 32])), 0);
        assert_eq!(chain.broadcast(wrong, NodeId(1)), Err(TxRejection::Unauthorized(htlc_out)));
        assert_eq!(
            chain.broadcast(claim(Witness::Preimage(preimage), 0), NodeId(0)),
            Err(TxRejection::Unauthorized(htlc_out))
        );
        // The delayed output is spendable in block 103 (3 blocks after 100).
        assert_eq!(
            chain.broadcast(claim(Witness::Key, 1), NodeId(0)),
            Err(TxRejection::Immature(delayed_out))
        );
        chain.mine();
        chain.mine(); // tip 102: the next block is 103
        assert_eq!(chain.broadcast(claim(Witness::Key, 1), NodeId(0)), Ok(true));
        assert_eq!(chain.broadcast(claim(Witness::Preimage(preimage), 0), NodeId(1)), Ok(true));
        let block = chain.mine();
        assert_eq!(block.txs.len(), 2);
        assert_eq!(block.txs[1].concerned, vec![NodeId(0), NodeId(1)]);
    }
}
