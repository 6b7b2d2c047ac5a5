//! The invariants of a run, one checker each, reading the chain and the nodes' read-only
//! snapshots (never a channel's internals):
//!
//! - [`funds`]: no money appears or vanishes. The chain's outputs and fees add up to what genesis
//!   created, each running node's wallet matches its outputs on chain, and each channel's funding
//!   output is split, in every view of both peers, into balances and HTLCs that add up to it.
//! - [`overdrawn`]: no channel ever debited a side below zero.
//! - [`expiries`]: no offered HTLC of a running node stays in an open channel more than
//!   [`GRACE_BLOCKS`] + 1 blocks past its expiry, nor sits on chain unclaimed more than
//!   [`GRACE_BLOCKS`] + 4 blocks past it (when worth claiming).
//! - [`Resolutions`]: no forwarded HTLC is both settled and failed, checked as events arrive.
//!
//! With `--check` they run after every event and a broken one stops the run; the funds check
//! also fills the summary of every run.

use super::World;
use crate::chain::MockChain;
use node_core::chain::Script;
use node_core::channel::ChannelPhase;
use node_core::htlc::View;
use node_core::onchain::{GRACE_BLOCKS, MIN_CLAIM_SAT};
use node_core::snapshot::NodeSnapshot;
use node_core::{NodeId, Scid};
use serde::Serialize;
use std::borrow::Borrow;
use std::collections::BTreeMap;

/// Where the money is at the end, and whether it all adds up.
#[derive(Clone, Debug, Serialize)]
pub struct FundsSummary {
    /// Coins created at genesis, sat.
    pub created_sat: u64,
    /// In wallets, sat.
    pub wallets_sat: u64,
    /// In channel funding outputs, sat.
    pub channels_sat: u64,
    /// Channel balances (each node's own, in its commitment), msat.
    pub channel_balances_msat: u64,
    /// In HTLCs, msat.
    pub htlcs_msat: u64,
    /// In commitment outputs waiting to be claimed (delayed, HTLC and anchor outputs), sat.
    pub onchain_sat: u64,
    /// Outputs (counted above) that transactions waiting in the mempool spend, sat.
    pub in_transit_sat: u64,
    /// Paid to miners, sat.
    pub miner_fees_sat: u64,
    /// Whether every check passed.
    pub conserved: bool,
    /// What did not add up.
    pub violations: Vec<String>,
}

/// Checks that no money appeared or vanished (see the module's documentation). `online[i]`
/// says whether node `i` runs: a node that is down has not seen the latest blocks, so its wallet
/// is not compared.
///
/// `nodes` are every node's snapshot in id order, taken one at a time: a network of a million
/// nodes would hold gigabytes of snapshots at once.
pub fn funds<N: Borrow<NodeSnapshot>>(
    chain: &MockChain,
    nodes: impl IntoIterator<Item = N>,
    online: &[bool],
    name: &dyn Fn(NodeId) -> String,
) -> FundsSummary {
    let mut violations = Vec::new();
    let mut wallets_chain_sat = vec![0u64; online.len()];
    let (mut wallets_sat, mut channels_sat, mut in_transit_sat) = (0u64, 0u64, 0u64);
    let mut onchain_sat = 0u64;
    for (outpoint, out) in chain.utxos() {
        if chain.spent_in_mempool(outpoint) {
            in_transit_sat += out.amount_sat;
        }
        match out.script {
            Script::Wallet { owner } => {
                wallets_chain_sat[owner.index()] += out.amount_sat;
                wallets_sat += out.amount_sat;
            }
            Script::Funding { .. } => {
                channels_sat += out.amount_sat;
            }
            Script::Delayed { .. } | Script::Htlc { .. } | Script::Anchor { .. } => {
                onchain_sat += out.amount_sat;
            }
        }
    }
    let created = chain.created_sat();
    let miner_fees_sat = chain.miner_fees_sat();
    if wallets_sat + channels_sat + onchain_sat + miner_fees_sat != created {
        violations.push(format!(
            "chain: wallets {wallets_sat} + channels {channels_sat} + claims {onchain_sat} + fees {miner_fees_sat} != created {created} sat"
        ));
    }
    // Channel violations follow every wallet violation, as nodes come one at a time.
    let mut channel_violations = Vec::new();
    let mut channel_balances_msat = 0u64;
    let mut htlcs_msat = 0u64;
    for ((node, &on_chain), &online) in nodes.into_iter().zip(&wallets_chain_sat).zip(online) {
        let node = node.borrow();
        let known = node.wallet_sat + node.wallet_reserved_sat;
        if online && known != on_chain {
            violations.push(format!(
                "{}: wallet knows {known} sat (with reserved inputs), chain holds {on_chain} sat",
                name(node.id),
            ));
        }
        for c in &node.channels {
            let Some(funding) = c.funding else { continue };
            // The funding output, if unspent (looked up in the chain: a copy of its funding
            // outputs would hold millions of entries on a large network).
            let value_sat = match chain.utxo(&funding) {
                Some(out) if matches!(out.script, Script::Funding { .. }) => out.amount_sat,
                _ => continue,
            };
            if c.funding_sat != value_sat {
                channel_violations.push(format!(
                    "channel {}: funding {} sat, output {value_sat} sat",
                    c.id, c.funding_sat
                ));
            }
            if let Some((view, sum)) = c.unbalanced_view() {
                channel_violations.push(format!(
                    "channel {} at {}: {view:?} view sums to {sum} msat, not {} sat",
                    c.id, node.id, c.funding_sat
                ));
            }
            channel_balances_msat += c.view(View::Local).ours_msat;
            htlcs_msat += c.view(View::Local).offered_msat;
        }
    }
    violations.append(&mut channel_violations);
    FundsSummary {
        created_sat: created,
        wallets_sat,
        channels_sat,
        channel_balances_msat,
        htlcs_msat,
        onchain_sat,
        in_transit_sat,
        miner_fees_sat,
        conserved: violations.is_empty(),
        violations,
    }
}

/// Checks that no channel was ever overdrawn.
pub fn overdrawn(nodes: &[NodeSnapshot], name: &dyn Fn(NodeId) -> String) -> Vec<String> {
    let mut violations = Vec::new();
    for node in nodes {
        for c in node.channels.iter().filter(|c| c.overdrawn) {
            violations.push(format!("{}: channel {} is overdrawn", name(node.id), c.id));
        }
    }
    violations
}

/// Checks that running nodes act on their offered HTLCs' expiries in time, at chain height
/// `height`.
pub fn expiries(
    nodes: &[NodeSnapshot],
    online: &[bool],
    height: u32,
    name: &dyn Fn(NodeId) -> String,
) -> Vec<String> {
    let mut violations = Vec::new();
    for node in nodes.iter().zip(online).filter(|(_, online)| **online).map(|(n, _)| n) {
        for c in node.channels.iter().filter(|c| c.phase < ChannelPhase::ForceClosing) {
            if let Some((htlc_id, cltv_expiry)) = c.first_offered_expiry
                && height > cltv_expiry + GRACE_BLOCKS + 1
            {
                violations.push(format!(
                    "{}: offered HTLC {htlc_id} on channel {} expired at {cltv_expiry} and is still open at {height}",
                    name(node.id),
                    c.id,
                ));
            }
        }
        for o in &node.offered_outputs {
            if !o.claimed
                && o.amount_sat >= MIN_CLAIM_SAT * 2
                && height > o.cltv_expiry + GRACE_BLOCKS + 4
                && height > o.confirmed_height + 2
            {
                violations.push(format!(
                    "{}: HTLC output {}:{} expired at {} and is unclaimed at {height}",
                    name(node.id),
                    o.outpoint.txid,
                    o.outpoint.vout,
                    o.cltv_expiry
                ));
            }
        }
    }
    violations
}

/// How each node resolved each incoming HTLC it forwarded or refused: settled or failed, never
/// both.
#[derive(Default)]
pub(super) struct Resolutions(BTreeMap<(NodeId, Scid, u64), bool>);

impl Resolutions {
    /// Records a resolution; `Err` if the same HTLC was resolved the other way before.
    fn record(&mut self, node: NodeId, scid: Scid, htlc_id: u64, settled: bool) -> Result<(), ()> {
        match *self.0.entry((node, scid, htlc_id)).or_insert(settled) {
            before if before != settled => Err(()),
            _ => Ok(()),
        }
    }
}

impl World<'_> {
    fn snapshots(&self) -> Vec<NodeSnapshot> {
        self.nodes.iter().map(|n| n.snapshot()).collect()
    }

    pub(super) fn online(&self) -> Vec<bool> {
        self.hosts.iter().map(|h| h.online).collect()
    }

    pub(super) fn node_name(&self) -> impl Fn(NodeId) -> String + '_ {
        |id| self.scenario.node_name(id).to_string()
    }

    /// Every invariant that must hold after each event; returns what is broken.
    pub(super) fn check_invariants(&self) -> Vec<String> {
        let (nodes, online, name) = (self.snapshots(), self.online(), self.node_name());
        let mut violations = funds(&self.chain, &nodes, &online, &name).violations;
        violations.extend(overdrawn(&nodes, &name));
        violations.extend(expiries(&nodes, &online, self.chain.height(), &name));
        violations
    }

    /// `node` settled (or failed) the incoming HTLC `htlc_id` of `scid`; with `--check`, a
    /// second, different resolution of it stops the run.
    pub(super) fn resolved(&mut self, node: NodeId, scid: Scid, htlc_id: u64, settled: bool) {
        if self.check && self.resolutions.record(node, scid, htlc_id, settled).is_err() {
            panic!(
                "invariant broken at {} (seed {}): {} both settled and failed HTLC {htlc_id} of {scid}",
                self.now,
                self.scenario.seed,
                self.scenario.node_name(node)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_core::node::{Command, CommandOutput};
    use node_core::testing::TestNet;

    fn name(id: NodeId) -> String {
        format!("n{}", id.0)
    }

    /// The expiry and overdraft checkers read real snapshots: a payer's HTLC in flight is fine
    /// until its expiry is more than the grace period behind, then reported.
    #[test]
    fn an_offered_htlc_is_reported_only_once_past_its_expiry_and_grace() {
        let mut net = TestNet::new(2);
        net.open_channel(0, 1, 1_000_000, 0, false);
        let invoice = net.invoice(1, 50_000_000);
        let pay = Command::Pay { invoice, amount_msat: None, router: None };
        let CommandOutput::Payment(id) = net.command(0, pay) else { unreachable!() };
        let snapshot = net.nodes[0].snapshot();
        let (htlc_id, expiry) = snapshot.channels[0].first_offered_expiry.expect("in flight");
        assert_eq!(htlc_id, 0);
        let nodes = [snapshot];
        assert!(expiries(&nodes, &[true], expiry + GRACE_BLOCKS + 1, &name).is_empty());
        let late = expiries(&nodes, &[true], expiry + GRACE_BLOCKS + 2, &name);
        assert_eq!(late.len(), 1, "{late:?}");
        assert!(late[0].starts_with("n0: offered HTLC 0 on channel"), "{late:?}");
        assert!(expiries(&nodes, &[false], expiry + 100, &name).is_empty(), "a node that is down");
        assert!(overdrawn(&nodes, &name).is_empty());
        net.deliver_all();
        let done =
            net.take_events_where(|e| matches!(e, node_core::Event::PaymentSucceeded { .. }));
        assert!(
            matches!(done[..], [(_, node_core::Event::PaymentSucceeded { payment_id, .. })] if payment_id == id)
        );
        assert_eq!(
            net.take_events_where(|e| matches!(e, node_core::Event::InvoicePaid { .. })).len(),
            1
        );
        net.discard_routine_events();
        let settled = [net.nodes[0].snapshot()];
        assert_eq!(settled[0].channels[0].first_offered_expiry, None);
        assert!(expiries(&settled, &[true], expiry + 100, &name).is_empty());
    }

    /// A channel's funding output is looked up in the chain: a channel claiming another value
    /// than its output holds is reported, one whose outpoint is not an unspent funding output
    /// (spent, or another kind) is not compared.
    #[test]
    fn a_channel_is_compared_with_its_funding_output_only() {
        use node_core::chain::{Tx, TxKind, TxOut};
        use node_core::snapshot::{ChannelSnapshot, ViewSnapshot};
        let (a, b) = (NodeId(0), NodeId(1));
        let outputs = vec![
            TxOut { amount_sat: 1_000_000, script: Script::funding(a, b) },
            TxOut { amount_sat: 700_000, script: Script::Wallet { owner: a } },
        ];
        let tx = Tx::new(TxKind::Genesis, vec![], outputs, 1);
        let (funding, wallet) = (tx.outpoint(0), tx.outpoint(1));
        let mut chain = MockChain::new(100);
        chain.genesis(vec![tx]);
        let channel = |outpoint, funding_sat: u64| {
            let view = ViewSnapshot { ours_msat: funding_sat * 1000, ..ViewSnapshot::default() };
            ChannelSnapshot {
                id: node_core::ChannelId(1),
                peer: b,
                phase: ChannelPhase::Normal,
                we_opened: true,
                funding: Some(outpoint),
                funding_sat,
                scid: None,
                anchors: false,
                views: [view; 3],
                htlcs: 0,
                offered: 0,
                first_offered_expiry: None,
                overdrawn: false,
            }
        };
        let node = |channels| NodeSnapshot {
            id: a,
            implementation: node_core::Implementation::Lnd,
            height: 101,
            wallet_sat: 700_000,
            wallet_reserved_sat: 0,
            channels,
            offered_outputs: Vec::new(),
        };
        let check = |channels| funds(&chain, [node(channels)], &[true], &name).violations;
        assert_eq!(check(vec![channel(funding, 1_000_000)]), Vec::<String>::new());
        let wrong = check(vec![channel(funding, 900_000)]);
        assert_eq!(wrong.len(), 1, "{wrong:?}");
        assert!(wrong[0].ends_with("funding 900000 sat, output 1000000 sat"), "{wrong:?}");
        assert_eq!(check(vec![channel(wallet, 900_000)]), Vec::<String>::new(), "a wallet output");
    }
}
