//! The validated scenario: names resolved to node ids, every node's settings complete, units
//! converted once (seconds and milliseconds to µs), and the limits every scenario is held to.
//! Values of these types are made only by validation; nothing here reads a file or checks a value,
//! and running a scenario is the world's job.

use super::file::{ChainSpec, OutputsSpec, RandomFaultsSpec, ViewsSpec};
use crate::generate::{BalanceSplit, GenerateSpec};
use crate::import::ImportedGraph;
use crate::link::LinksDef;
use crate::shop::ShopDef;
use crate::workload::{PaymentList, WorkloadSpec};
use node_core::config::NodeConfig;
use node_core::policy::ChannelPolicy;
use node_core::policy::PolicyChange;
use node_core::router::RouterConfig;
use node_core::{NodeId, SimTime};
use std::sync::Arc;

pub use crate::link::MAX_LATENCY_MS;
/// All bitcoin there will ever be, sat: no amount or total in a scenario may exceed it.
pub use node_core::chain::MAX_MONEY_SAT;
/// The most channels a generated network may have, counting the most its wiring could make
/// (`ScaleFree` nodes × links, `MainnetLike` nodes × 3 (2.67 on average), `Grid` 2 × nodes).
/// Sized so that a run at the limits (1,000,000 nodes and this many channels) fits in 8 GiB,
/// half of a 16 GB workstation. Measured with `/usr/bin/time -v boltsim run S.ron --trace-level
/// off --threads 2` (a minute, no payments; benches/README.md, "Generated networks at the
/// limit"): an `ErdosRenyi` network of 1,000,000 nodes and 3,000,000 channels took 7.8 GiB and a
/// 1,000,000-node `MainnetLike` (2,675,487 channels) 7.1 GiB. Before issue 15 a run cost about
/// 2.8 KB a node and 3.3 KB a channel, and the limit was 1,000,000 channels (5,000,000 before
/// issue 12, which took 19.3 GiB).
pub const MAX_GENERATED_CHANNELS: u64 = 3_000_000;
/// The most nodes a generated network may have.
pub const MAX_GENERATED_NODES: u32 = 1_000_000;
/// The most payments a workload may make (its expected count, or `max_payments` if smaller).
pub const MAX_WORKLOAD_PAYMENTS: u64 = 10_000_000;
/// The largest simulated duration, seconds (ten years).
pub const MAX_DURATION_S: u64 = 10 * 365 * 86_400;

/// A validated payment list.
#[derive(Clone, Debug)]
pub struct PaymentListDef {
    /// The payments, by time.
    pub payments: PaymentList,
    /// Routers taking turns (empty: each payer's own).
    pub routers: Vec<RouterConfig>,
}

/// A validated imported network.
#[derive(Clone, Debug)]
pub struct ImportedNetwork {
    /// The graph as read.
    pub graph: ImportedGraph,
    /// The scenario node id of the file's node 0.
    pub first: u32,
    /// How balances are set (`None`: the file's own).
    pub balance: Option<BalanceSplit>,
}

/// A node, resolved.
#[derive(Clone, Debug)]
pub struct NodeDef {
    /// Its name.
    pub name: String,
    /// Its settings, shared by the nodes given the same (a generated or imported network's
    /// nodes all are: a million copies would take 330 MB).
    pub config: Arc<NodeConfig>,
    /// On-chain funds at the start, sat.
    pub wallet_sat: u64,
}

/// A channel that exists at the start, resolved.
#[derive(Clone, Debug)]
pub struct ChannelDef {
    /// The opener.
    pub from: NodeId,
    /// The other end.
    pub to: NodeId,
    /// Value, sat.
    pub capacity_sat: u64,
    /// The opener's starting balance, msat.
    pub from_balance_msat: u64,
    /// Public from the start.
    pub announce: bool,
    /// The opener's policy.
    pub from_policy: ChannelPolicy,
    /// The other end's policy.
    pub to_policy: ChannelPolicy,
    /// The opener's direction starts disabled.
    pub from_disabled: bool,
    /// The other end's direction starts disabled.
    pub to_disabled: bool,
}

/// A script step, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// See [`StepSpec::Connect`](super::StepSpec::Connect).
    Connect {
        /// Connecting node.
        from: NodeId,
        /// Connected node.
        to: NodeId,
    },
    /// See [`StepSpec::FundChannel`](super::StepSpec::FundChannel).
    FundChannel {
        /// Opener.
        from: NodeId,
        /// Peer.
        to: NodeId,
        /// Value, sat.
        amount_sat: u64,
        /// Push, msat.
        push_msat: u64,
        /// Public.
        announce: bool,
    },
    /// See [`StepSpec::WaitChannelReady`](super::StepSpec::WaitChannelReady).
    WaitChannelReady {
        /// One end.
        from: NodeId,
        /// Other end.
        to: NodeId,
    },
    /// See [`StepSpec::Buy`](super::StepSpec::Buy).
    Buy {
        /// Customer.
        customer: NodeId,
        /// Index of the shop.
        shop: usize,
        /// Index of the item in the shop.
        item: usize,
    },
    /// See [`StepSpec::Pay`](super::StepSpec::Pay).
    Pay {
        /// Payer.
        from: NodeId,
        /// Payee.
        to: NodeId,
        /// Amount, msat.
        amount_msat: u64,
        /// Router, if not the payer's.
        router: Option<RouterConfig>,
    },
    /// See [`StepSpec::Keysend`](super::StepSpec::Keysend).
    Keysend {
        /// Payer.
        from: NodeId,
        /// Payee.
        to: NodeId,
        /// Amount, msat.
        amount_msat: u64,
        /// Router, if not the payer's.
        router: Option<RouterConfig>,
    },
    /// See [`StepSpec::Close`](super::StepSpec::Close).
    Close {
        /// Closer.
        from: NodeId,
        /// Peer.
        to: NodeId,
    },
    /// See [`StepSpec::Sleep`](super::StepSpec::Sleep).
    Sleep {
        /// Duration, µs.
        duration_us: u64,
    },
    /// See [`StepSpec::WaitBlocks`](super::StepSpec::WaitBlocks).
    WaitBlocks {
        /// Blocks.
        blocks: u32,
    },
}

/// A fault, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// See [`FaultSpec::Crash`](super::FaultSpec::Crash).
    Crash {
        /// The node.
        node: NodeId,
        /// Offline time, µs.
        duration_us: u64,
    },
    /// See [`FaultSpec::ForceClose`](super::FaultSpec::ForceClose).
    ForceClose {
        /// The closer.
        node: NodeId,
        /// The peer; `None`: every peer it has a channel with when the fault strikes.
        peer: Option<NodeId>,
    },
    /// See [`FaultSpec::Partition`](super::FaultSpec::Partition): the links cut, (smaller id, larger id), sorted.
    Partition {
        /// Links cut.
        links: Vec<(NodeId, NodeId)>,
        /// How long, µs.
        duration_us: u64,
    },
    /// See [`FaultSpec::LatencySpike`](super::FaultSpec::LatencySpike).
    LatencySpike {
        /// Links slowed, (smaller id, larger id), sorted.
        links: Vec<(NodeId, NodeId)>,
        /// Added latency, µs.
        extra_us: u64,
        /// How long, µs.
        duration_us: u64,
    },
    /// See [`FaultSpec::SetPolicy`](super::FaultSpec::SetPolicy).
    SetPolicy {
        /// The node.
        node: NodeId,
        /// The peer, or all.
        peer: Option<NodeId>,
        /// What changes.
        change: PolicyChange,
    },
}

impl Fault {
    /// Its kind's name: `crash`, `force_close`, `partition`, `latency_spike`, `set_policy`.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Crash { .. } => "crash",
            Fault::ForceClose { .. } => "force_close",
            Fault::Partition { .. } => "partition",
            Fault::LatencySpike { .. } => "latency_spike",
            Fault::SetPolicy { .. } => "set_policy",
        }
    }

    /// The node it strikes, when it strikes one.
    pub fn node(&self) -> Option<NodeId> {
        match self {
            Fault::Crash { node, .. }
            | Fault::ForceClose { node, .. }
            | Fault::SetPolicy { node, .. } => Some(*node),
            Fault::Partition { .. } | Fault::LatencySpike { .. } => None,
        }
    }

    /// A stable integer for traces.
    pub fn code(&self) -> u64 {
        match self {
            Fault::Crash { .. } => 1,
            Fault::ForceClose { .. } => 2,
            Fault::Partition { .. } => 3,
            Fault::LatencySpike { .. } => 4,
            Fault::SetPolicy { .. } => 5,
        }
    }
}

/// A fault's node given by rank: (fault index, which node, k of `Largest(k)`).
pub type FaultRank = (usize, FaultRole, u32);

/// Which node of a fault a rank names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultRole {
    /// The node it strikes.
    Node,
    /// A force close's peer.
    Peer,
}

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The root seed (the file's, or the command line's).
    pub seed: u64,
    /// The file it came from, as given.
    pub path: String,
    /// SHA-256 of the file's bytes.
    pub file_sha256: [u8; 32],
    /// The chain.
    pub chain: ChainSpec,
    /// The links.
    pub links: LinksDef,
    /// The nodes, in file order (their ids are their indexes).
    pub nodes: Vec<NodeDef>,
    /// Channels at the start listed in the file (see [`Genesis::channels`](crate::genesis::Genesis::channels)
    /// for all).
    pub channels: Vec<ChannelDef>,
    /// The generated network, whose nodes are at the end of `nodes`.
    pub generate: Option<GenerateSpec>,
    /// The imported network, whose nodes follow the listed ones.
    pub imported: Option<Arc<ImportedNetwork>>,
    /// Payments arriving at random.
    pub workload: Option<WorkloadSpec>,
    /// Payments read from a CSV file.
    pub payment_list: Option<Arc<PaymentListDef>>,
    /// Shops.
    pub shops: Vec<ShopDef>,
    /// The script.
    pub script: Vec<Step>,
    /// Faults at given times, in file order. A node given by rank is a placeholder here until
    /// the run resolves `fault_ranks`.
    pub faults: Vec<(SimTime, Fault)>,
    /// The faults' nodes given by rank: (fault index, which node, k of `Largest(k)`), resolved
    /// when the network is built ([`Scenario::resolved_faults`]).
    pub fault_ranks: Vec<FaultRank>,
    /// Faults drawn from the seed.
    pub random_faults: Option<RandomFaultsSpec>,
    /// End of the run.
    pub max_duration: SimTime,
    /// End when idle.
    pub stop_when_idle: bool,
    /// What each node knows of the network at the start.
    pub views: ViewsSpec,
    /// What the run measures beyond payments and attempts.
    pub outputs: OutputsSpec,
}

impl Scenario {
    /// The scheduled faults with their nodes given by rank resolved: `largest_first` is every
    /// node, the most capacity at the start first.
    pub fn resolved_faults(&self, largest_first: &[NodeId]) -> Vec<Fault> {
        let mut faults: Vec<Fault> = self.faults.iter().map(|(_, f)| f.clone()).collect();
        for &(index, role, k) in &self.fault_ranks {
            let id = largest_first[k as usize - 1];
            match (&mut faults[index], role) {
                (
                    Fault::Crash { node, .. }
                    | Fault::ForceClose { node, .. }
                    | Fault::SetPolicy { node, .. },
                    FaultRole::Node,
                ) => *node = id,
                (Fault::ForceClose { peer, .. }, FaultRole::Peer) => *peer = Some(id),
                _ => unreachable!("invariant: ranks are only given where a node is"),
            }
        }
        faults
    }

    /// The node id of `name`.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name == name).map(|i| NodeId(i as u32))
    }

    /// The name of `id`.
    pub fn node_name(&self, id: NodeId) -> &str {
        &self.nodes[id.index()].name
    }
}
