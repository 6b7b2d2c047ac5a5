//! BOLT 5 on-chain resolution: what a node does once a commitment transaction spending one of its
//! channels confirms, its own or its peer's. It watches every output it may claim, claims each as
//! soon as the chain allows (a delayed output after its CSV, an HTLC with its preimage at once or
//! after its expiry for a timeout), learns preimages from the peer's claims, and declares an
//! offered HTLC failed only once that is final: its timeout claim, or the commitment that left it
//! out, is [`ANTI_REORG_DEPTH`] blocks deep. This module decides and builds transactions; the node
//! broadcasts them and passes the outcomes upstream.

use crate::chain::{OutPoint, Script, Tx, TxIn, TxKind, TxOut, Witness, weight};
use crate::channel::Channel;
use crate::commitment::{HTLC_SUCCESS_WEIGHT, HTLC_TIMEOUT_WEIGHT};
use crate::htlc::Removal;
use crate::ids::{ChannelId, NodeId, PaymentHash, Preimage};
use std::collections::BTreeMap;

/// Blocks after an offered HTLC's expiry before the node gives up on its peer and goes on chain
/// (BOLT 2's G).
pub const GRACE_BLOCKS: u32 = 2;
/// Blocks before a received HTLC's expiry by which a node that knows its preimage goes on chain
/// if the peer has not taken the preimage off chain: 2R + G + S with R = 6, G = 2, S = 4, the
/// 18 blocks BOLT 2 calls reasonable.
pub const FULFILL_DEADLINE_BLOCKS: u32 = 18;
/// Depth at which an on-chain resolution is treated as final (R).
pub const ANTI_REORG_DEPTH: u32 = 6;
/// Outputs worth less than this after their claim fee are left on chain, sat.
pub const MIN_CLAIM_SAT: u64 = 354;

/// What kind of output a node watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchKind {
    /// Ours once `csv_blocks` deep: `to_local` of our commitment, or the output of our
    /// second-stage HTLC transaction.
    Delayed {
        /// Relative delay, blocks.
        csv_blocks: u16,
    },
    /// An HTLC output of a commitment.
    Htlc {
        /// We offered it (we can time it out); else we received it (we can claim it with the
        /// preimage).
        offered_by_us: bool,
        /// Its id in the offerer's direction.
        htlc_id: u64,
        /// Its payment hash.
        payment_hash: PaymentHash,
        /// Its expiry, block height.
        cltv_expiry: u32,
        /// On our own commitment: our claim goes through a second-stage transaction whose output
        /// waits `csv_blocks`.
        on_ours: bool,
        /// The delay of that second stage, blocks.
        csv_blocks: u16,
    },
}

/// An output a node may claim.
#[derive(Clone, Debug)]
pub struct Watched {
    /// The channel it comes from.
    pub channel_id: ChannelId,
    /// Its value, sat.
    pub amount_sat: u64,
    /// The height of the block that holds it.
    pub confirmed_height: u32,
    /// What it is.
    pub kind: WatchKind,
    /// For an HTLC we received: its preimage, once known.
    pub preimage: Option<Preimage>,
    /// Our claim, rebroadcast every block until the output is spent.
    pub claim: Option<Tx>,
}

/// What the chain settled for the node to act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The peer claimed an HTLC we offered with its preimage.
    OfferedFulfilled {
        /// The channel.
        channel_id: ChannelId,
        /// The HTLC.
        htlc_id: u64,
        /// What the peer revealed.
        preimage: Preimage,
    },
    /// An HTLC we offered is finally failed: timed out on chain, or left out of the commitment
    /// that confirmed, [`ANTI_REORG_DEPTH`] blocks ago.
    OfferedFailed {
        /// The channel.
        channel_id: ChannelId,
        /// The HTLC.
        htlc_id: u64,
    },
    /// One of our claims confirmed.
    Claimed {
        /// The channel.
        channel_id: ChannelId,
        /// What the claim spent: `true` for an HTLC output.
        htlc: bool,
        /// Value of the spent output, sat.
        amount_sat: u64,
    },
}

/// The on-chain state of a node: outputs it watches and failures waiting for depth.
#[derive(Clone, Debug)]
pub(crate) struct OnChain {
    me: NodeId,
    watched: BTreeMap<OutPoint, Watched>,
    /// Offered HTLCs to declare failed at a height: (height, channel, htlc id).
    due: Vec<(u32, ChannelId, u64)>,
}

impl OnChain {
    /// Nothing watched yet.
    pub fn new(me: NodeId) -> OnChain {
        OnChain { me, watched: BTreeMap::new(), due: Vec::new() }
    }

    /// The outputs watched, by outpoint.
    pub fn watched(&self) -> impl Iterator<Item = (&OutPoint, &Watched)> {
        self.watched.iter()
    }

    /// Whether anything is still unresolved.
    /// Whether nothing is left for us to do: no failure waits for depth, and every output we
    /// watch is one only the other side can resolve (an HTLC we received whose preimage we do
    /// not know: the offerer times it out, or never does).
    pub fn is_idle(&self) -> bool {
        self.due.is_empty()
            && self.watched.values().all(|w| {
                matches!(w.kind, WatchKind::Htlc { offered_by_us: false, .. })
                    && w.preimage.is_none()
            })
    }

    /// A commitment transaction of `channel` confirmed at `height` (ours if `ours`). Watches the
    /// outputs we can claim and schedules the failure of our offered HTLCs it leaves out.
    pub fn commitment_confirmed(
        &mut self,
        channel: &Channel,
        tx: &Tx,
        height: u32,
        ours: bool,
        feerate_per_kw: u32,
    ) {
        let me = self.me;
        let csv_blocks = channel.our_to_self_delay_blocks();
        let mut offered_on_chain = Vec::new();
        for (vout, out) in tx.outputs.iter().enumerate() {
            let kind = match out.script {
                Script::Delayed { owner, csv_blocks } if owner == me => {
                    WatchKind::Delayed { csv_blocks }
                }
                Script::Htlc { offerer, receiver, htlc_id, payment_hash, cltv_expiry }
                    if offerer == me || receiver == me =>
                {
                    if offerer == me {
                        offered_on_chain.push(htlc_id);
                    }
                    WatchKind::Htlc {
                        offered_by_us: offerer == me,
                        htlc_id,
                        payment_hash,
                        cltv_expiry,
                        on_ours: ours,
                        csv_blocks,
                    }
                }
                _ => continue,
            };
            if !worth_claiming(kind, out.amount_sat, feerate_per_kw) {
                // Too small to pay for its own claim: left on chain. An HTLC we offered there
                // is failed once the commitment is deep enough, as if it were trimmed (the peer
                // cannot pay for a claim of it either at the same feerate).
                if let WatchKind::Htlc { offered_by_us: true, htlc_id, .. } = kind {
                    offered_on_chain.retain(|&id| id != htlc_id);
                }
                continue;
            }
            let preimage = match kind {
                WatchKind::Htlc { offered_by_us: false, htlc_id, .. } => {
                    channel.received_htlc(htlc_id).and_then(|h| match &h.removal {
                        Some(Removal::Fulfill(p)) => Some(*p),
                        _ => None,
                    })
                }
                _ => None,
            };
            self.watched.insert(
                tx.outpoint(vout as u32),
                Watched {
                    channel_id: channel.id(),
                    amount_sat: out.amount_sat,
                    confirmed_height: height,
                    kind,
                    preimage,
                    claim: None,
                },
            );
        }
        for htlc in channel.offered_htlcs() {
            if !offered_on_chain.contains(&htlc.id) {
                self.due.push((height + ANTI_REORG_DEPTH - 1, channel.id(), htlc.id));
            }
        }
    }

    /// A preimage for an HTLC we received on `channel_id` became known.
    pub fn learn_preimage(&mut self, channel_id: ChannelId, htlc_id: u64, preimage: Preimage) {
        for w in self.watched.values_mut() {
            if w.channel_id == channel_id
                && matches!(w.kind, WatchKind::Htlc { offered_by_us: false, htlc_id: id, .. } if id == htlc_id)
            {
                w.preimage.get_or_insert(preimage);
            }
        }
    }

    /// A transaction confirmed at `height`: resolves the watched outputs it spends (pushing what
    /// that settles onto `outcomes`) and watches the second-stage outputs of our own claims.
    pub fn tx_confirmed(
        &mut self,
        tx: &Tx,
        height: u32,
        feerate_per_kw: u32,
        outcomes: &mut Vec<Outcome>,
    ) {
        for input in &tx.inputs {
            let Some(w) = self.watched.remove(&input.prevout) else { continue };
            let ours = w.claim.as_ref().is_some_and(|c| c.txid == tx.txid);
            if ours {
                outcomes.push(Outcome::Claimed {
                    channel_id: w.channel_id,
                    htlc: matches!(w.kind, WatchKind::Htlc { .. }),
                    amount_sat: w.amount_sat,
                });
            }
            if let WatchKind::Htlc { offered_by_us: true, htlc_id, .. } = w.kind {
                match input.witness {
                    Witness::Preimage(preimage) => outcomes.push(Outcome::OfferedFulfilled {
                        channel_id: w.channel_id,
                        htlc_id,
                        preimage,
                    }),
                    _ => self.due.push((height + ANTI_REORG_DEPTH - 1, w.channel_id, htlc_id)),
                }
            }
            if ours {
                for (vout, out) in tx.outputs.iter().enumerate() {
                    if let Script::Delayed { owner, csv_blocks } = out.script
                        && owner == self.me
                        && worth_claiming(
                            WatchKind::Delayed { csv_blocks },
                            out.amount_sat,
                            feerate_per_kw,
                        )
                    {
                        self.watched.insert(
                            tx.outpoint(vout as u32),
                            Watched {
                                channel_id: w.channel_id,
                                amount_sat: out.amount_sat,
                                confirmed_height: height,
                                kind: WatchKind::Delayed { csv_blocks },
                                preimage: None,
                                claim: None,
                            },
                        );
                    }
                }
            }
        }
    }

    /// The chain reached `height`: returns the claims to (re)broadcast, and pushes the failures
    /// that became final onto `outcomes`.
    pub fn on_height(
        &mut self,
        height: u32,
        feerate_per_kw: u32,
        outcomes: &mut Vec<Outcome>,
    ) -> Vec<Tx> {
        let due = std::mem::take(&mut self.due);
        for (at, channel_id, htlc_id) in due {
            if height >= at {
                outcomes.push(Outcome::OfferedFailed { channel_id, htlc_id });
            } else {
                self.due.push((at, channel_id, htlc_id));
            }
        }
        let me = self.me;
        let mut claims = Vec::new();
        for (outpoint, w) in self.watched.iter_mut() {
            if w.claim.is_none() {
                w.claim = build_claim(me, outpoint, w, height, feerate_per_kw);
            }
            claims.extend(w.claim.clone());
        }
        claims
    }
}

/// The weight of our claim of an output of `kind`, and the transaction kind.
fn claim_weight(kind: WatchKind) -> (TxKind, u64) {
    match kind {
        WatchKind::Delayed { .. } => (TxKind::Sweep, weight::DELAYED_SWEEP),
        WatchKind::Htlc { offered_by_us, on_ours, .. } => match (offered_by_us, on_ours) {
            (true, true) => (TxKind::HtlcTimeout, HTLC_TIMEOUT_WEIGHT),
            (false, true) => (TxKind::HtlcSuccess, HTLC_SUCCESS_WEIGHT),
            (true, false) => (TxKind::HtlcTimeout, weight::HTLC_CLAIM),
            (false, false) => (TxKind::HtlcSuccess, weight::HTLC_CLAIM),
        },
    }
}

/// Whether an output of `kind` and value is worth claiming at `feerate_per_kw`.
///
/// A delayed output is ours alone: one that would leave less than [`MIN_CLAIM_SAT`] after the
/// fee is left on chain. An HTLC output is contested, so it is claimed whenever its value covers
/// the fee at all: the alternative is letting the other side take it.
fn worth_claiming(kind: WatchKind, amount_sat: u64, feerate_per_kw: u32) -> bool {
    let fee_sat = weight::fee_sat(feerate_per_kw, claim_weight(kind).1);
    let least = match kind {
        WatchKind::Delayed { .. } => MIN_CLAIM_SAT,
        WatchKind::Htlc { .. } => 1,
    };
    amount_sat.checked_sub(fee_sat).is_some_and(|left| left >= least)
}

/// Our claim of a watched output, if the chain allows it in the next block (`height + 1`) and it
/// is worth its fee.
fn build_claim(
    me: NodeId,
    outpoint: &OutPoint,
    w: &Watched,
    height: u32,
    feerate_per_kw: u32,
) -> Option<Tx> {
    let next = height + 1;
    let (kind, weight) = claim_weight(w.kind);
    let (witness, output) = match w.kind {
        WatchKind::Delayed { csv_blocks } => {
            if next < w.confirmed_height + u32::from(csv_blocks) {
                return None;
            }
            (Witness::Key, Script::Wallet { owner: me })
        }
        WatchKind::Htlc { offered_by_us, cltv_expiry, on_ours, csv_blocks, .. } => {
            let witness = if offered_by_us {
                if next <= cltv_expiry {
                    return None;
                }
                Witness::Timeout
            } else {
                Witness::Preimage(w.preimage?)
            };
            let output = if on_ours {
                Script::Delayed { owner: me, csv_blocks }
            } else {
                Script::Wallet { owner: me }
            };
            (witness, output)
        }
    };
    let fee_sat = weight::fee_sat(feerate_per_kw, weight);
    if !worth_claiming(w.kind, w.amount_sat, feerate_per_kw) {
        return None;
    }
    let amount_sat = w.amount_sat - fee_sat;
    Some(Tx::new(
        kind,
        vec![TxIn { prevout: *outpoint, witness }],
        vec![TxOut { amount_sat, script: output }],
        0,
    ))
}
