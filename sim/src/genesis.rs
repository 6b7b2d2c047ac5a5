//! Genesis: the world as it stands when a run starts, built from a validated scenario in one
//! place. It lists every channel of the start (those the file lists, those of an imported
//! snapshot with their drawn balances, those of a generated network), places each in the genesis
//! block (a funding output and its short channel id), funds the wallets in the coinbase, and
//! builds the graph every node knows from the start. Every random draw of the start happens here,
//! each from its own [`StreamId`]; the run's later draws (latencies, the workload, the random
//! faults) are the links', the workload's and [`crate::random_faults`]'.
//!
//! What it does not do: create nodes or schedule anything (the world does, from a [`Genesis`]),
//! or check the scenario (validation already did).

use crate::generate::{self, BalanceSplit, TopologyKind};
use crate::rng::StreamId;
use crate::scenario::{ChannelDef, Scenario};
use node_core::chain::{OutPoint, Script, Tx, TxKind, TxOut};
use node_core::channel::GenesisChannel;
use node_core::graph::{BaseGraph, ChannelInfo, DirectedPolicy};
use node_core::{NodeId, Scid};
use std::sync::Arc;

/// Outputs per genesis funding transaction (a short_channel_id has 16 bits for the output).
pub const GENESIS_OUTPUTS_PER_TX: usize = 1000;

/// Where the genesis block puts the `i`-th channel of the start: the funding transaction's
/// index in the block and the output's index in it (transaction 0 is the coinbase).
pub fn genesis_position(i: usize) -> (usize, u32) {
    (1 + i / GENESIS_OUTPUTS_PER_TX, (i % GENESIS_OUTPUTS_PER_TX) as u32)
}

/// The short channel id of the `i`-th channel of the start.
pub fn genesis_scid(start_height: u32, i: usize) -> Scid {
    let (tx_index, vout) = genesis_position(i);
    Scid::new(start_height, tx_index as u32, vout as u16)
}

/// A channel of the start, placed in the genesis block.
#[derive(Clone, Debug)]
pub struct PlacedChannel {
    /// What the scenario says of it.
    pub def: ChannelDef,
    /// Its funding output.
    pub funding: OutPoint,
    /// Its short channel id.
    pub scid: Scid,
}

impl PlacedChannel {
    /// The channel as each of its peers holds it: the opener's side, then the other end's.
    pub fn sides(&self) -> [(NodeId, GenesisChannel); 2] {
        let c = &self.def;
        let from = GenesisChannel {
            peer: c.to,
            we_opened: true,
            funding: self.funding,
            scid: self.scid,
            funding_sat: c.capacity_sat,
            ours_msat: c.from_balance_msat,
            announce: c.announce,
            policy: c.from_policy,
            disabled: c.from_disabled,
            peer_policy: (!c.to_disabled).then_some(c.to_policy),
        };
        let to = GenesisChannel {
            peer: c.from,
            we_opened: false,
            ours_msat: c.capacity_sat * 1000 - c.from_balance_msat,
            policy: c.to_policy,
            disabled: c.to_disabled,
            peer_policy: (!c.from_disabled).then_some(c.from_policy),
            ..from
        };
        [(c.from, from), (c.to, to)]
    }
}

/// The start of a run.
#[derive(Clone, Debug)]
pub struct Genesis {
    /// Every channel of the start: listed, then imported, then generated.
    pub channels: Vec<PlacedChannel>,
    /// The genesis block's transactions: the coinbase paying the wallets, then the funding
    /// transactions of the channels, [`GENESIS_OUTPUTS_PER_TX`] outputs each.
    pub txs: Vec<Tx>,
    /// The public channels of the start, as every node knows them.
    pub graph: Arc<BaseGraph>,
}

impl Genesis {
    /// The start of `scenario` under its seed.
    pub fn build(scenario: &Scenario) -> Genesis {
        let defs = channels(scenario);
        let coinbase_outputs: Vec<TxOut> = scenario
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.wallet_sat > 0)
            .map(|(i, n)| TxOut {
                amount_sat: n.wallet_sat,
                script: Script::Wallet { owner: NodeId(i as u32) },
            })
            .collect();
        let mut txs = vec![Tx::new(TxKind::Coinbase, vec![], coinbase_outputs, 0)];
        for (chunk_index, chunk) in defs.chunks(GENESIS_OUTPUTS_PER_TX).enumerate() {
            let outputs = chunk
                .iter()
                .map(|c| TxOut {
                    amount_sat: c.capacity_sat,
                    script: Script::funding(c.from, c.to),
                })
                .collect();
            txs.push(Tx::new(TxKind::Genesis, vec![], outputs, chunk_index as u64 + 1));
        }
        let start_height = scenario.chain.start_height;
        let channels: Vec<PlacedChannel> = defs
            .into_iter()
            .enumerate()
            .map(|(i, def)| {
                let (tx_index, vout) = genesis_position(i);
                let funding = txs[tx_index].outpoint(vout);
                PlacedChannel { def, funding, scid: genesis_scid(start_height, i) }
            })
            .collect();
        let infos = channels.iter().filter(|c| c.def.announce).map(channel_info).collect();
        let graph = Arc::new(BaseGraph::new(scenario.nodes.len() as u32, infos));
        Genesis { channels, txs, graph }
    }

    /// Each node's ends of the channels of the start, in the list's order: (index in
    /// `channels`, 0 for the opener's end and 1 for the other's).
    pub fn sides_by_node(&self, node_count: usize) -> SidesByNode {
        let mut offsets = vec![0u32; node_count + 1];
        for c in &self.channels {
            offsets[c.def.from.index() + 1] += 1;
            offsets[c.def.to.index() + 1] += 1;
        }
        for i in 0..node_count {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut ends = vec![(0u32, 0u8); offsets[node_count] as usize];
        for (i, c) in self.channels.iter().enumerate() {
            for (end, node) in [(0u8, c.def.from), (1, c.def.to)] {
                ends[fill[node.index()] as usize] = (i as u32, end);
                fill[node.index()] += 1;
            }
        }
        SidesByNode { offsets, ends }
    }

    /// The pairs of nodes that share a channel of the start, (smaller id, larger id), sorted:
    /// they were connected before the run.
    pub fn peer_pairs(&self) -> Vec<(NodeId, NodeId)> {
        let mut pairs: Vec<(NodeId, NodeId)> = self
            .channels
            .iter()
            .map(|c| (c.def.from.min(c.def.to), c.def.from.max(c.def.to)))
            .collect();
        pairs.sort();
        pairs.dedup();
        pairs
    }
}

/// Each node's ends of the channels of the start ([`Genesis::sides_by_node`]).
pub struct SidesByNode {
    offsets: Vec<u32>,
    ends: Vec<(u32, u8)>,
}

impl SidesByNode {
    /// Node `id`'s ends, in the channel list's order.
    pub fn of(&self, id: NodeId) -> &[(u32, u8)] {
        &self.ends[self.offsets[id.index()] as usize..self.offsets[id.index() + 1] as usize]
    }
}

/// A public channel of the start as the graph holds it.
fn channel_info(c: &PlacedChannel) -> ChannelInfo {
    let def = &c.def;
    let (node_1, node_2) = (def.from.min(def.to), def.from.max(def.to));
    let direction = |n: NodeId| {
        let (policy, disabled) = if n == def.from {
            (def.from_policy, def.from_disabled)
        } else {
            (def.to_policy, def.to_disabled)
        };
        Some(DirectedPolicy { policy, disabled, timestamp: 0 })
    };
    ChannelInfo {
        scid: c.scid,
        node_1,
        node_2,
        capacity_sat: def.capacity_sat,
        directions: [direction(node_1), direction(node_2)],
    }
}

/// Every channel of the start: those of the file, then the imported ones (balances drawn from
/// [`StreamId::ImportBalance`] where the snapshot has none), then the generated ones (wiring from
/// [`StreamId::Generate`], policies from [`StreamId::GenerateFees`]).
fn channels(scenario: &Scenario) -> Vec<ChannelDef> {
    let seed = scenario.seed;
    let mut channels = scenario.channels.clone();
    if let Some(imported) = &scenario.imported {
        let graph = &imported.graph;
        let mut stream = StreamId::ImportBalance.stream(seed);
        for c in &graph.channels {
            let swap = graph.opened_by_node_2(c);
            let (slot_from, slot_to) = if swap { (1, 0) } else { (0, 1) };
            let ends = [c.node_1, c.node_2].map(|n| NodeId(imported.first + n.0));
            let (from, to) = (ends[slot_from], ends[slot_to]);
            let capacity_msat = c.capacity_sat * 1000;
            let from_balance_msat = match (imported.balance, c.balance_1_msat) {
                (None, Some(msat)) if swap => capacity_msat - msat,
                (None, Some(msat)) => msat,
                (split, _) => {
                    let split = split.unwrap_or(BalanceSplit::Random);
                    split.opener_sat(c.capacity_sat, &mut stream) * 1000
                }
            };
            // A direction the snapshot has no policy for is disabled, with its node's policy.
            let end = |slot: usize, node: NodeId| match c.directions[slot] {
                Some(d) => (d.policy, d.disabled),
                None => {
                    let mut p = scenario.nodes[node.index()].config.policy;
                    p.htlc_maximum_msat = p.htlc_maximum_msat.min(capacity_msat);
                    (p, true)
                }
            };
            let ((from_policy, from_disabled), (to_policy, to_disabled)) =
                (end(slot_from, from), end(slot_to, to));
            channels.push(ChannelDef {
                from,
                to,
                capacity_sat: c.capacity_sat,
                from_balance_msat,
                announce: true,
                from_policy,
                to_policy,
                from_disabled,
                to_disabled,
            });
        }
    }
    if let Some(spec) = &scenario.generate {
        let first = (scenario.nodes.len() - spec.nodes as usize) as u32;
        let mut stream = StreamId::Generate.stream(seed);
        let mut fees = StreamId::GenerateFees.stream(seed);
        for (a, b, capacity_sat, opener_sat) in generate::generate(spec, &mut stream) {
            let (from, to) = (NodeId(first + a), NodeId(first + b));
            let mut policy = |id: NodeId| {
                let mut p = scenario.nodes[id.index()].config.policy;
                let drawn = match (&spec.fees, spec.kind) {
                    (Some(spread), _) => Some(spread.draw(&mut fees)),
                    (None, TopologyKind::MainnetLike) => Some(generate::mainnet::policy(&mut fees)),
                    (None, _) => None,
                };
                if let Some((base, ppm, cltv)) = drawn {
                    p.fee_base_msat = base;
                    p.fee_proportional_millionths = ppm;
                    p.cltv_expiry_delta = cltv;
                }
                p.htlc_maximum_msat = p.htlc_maximum_msat.min(capacity_sat * 1000);
                p
            };
            let (from_policy, to_policy) = (policy(from), policy(to));
            channels.push(ChannelDef {
                from,
                to,
                capacity_sat,
                from_balance_msat: opener_sat * 1000,
                announce: spec.announce,
                from_policy,
                to_policy,
                from_disabled: false,
                to_disabled: false,
            });
        }
    }
    channels
}
