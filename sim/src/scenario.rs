//! Scenario files: the RON schema, its defaults, and validation into a [`Scenario`] whose names
//! are resolved to node ids and whose units are converted once (seconds and milliseconds to µs).
//! Every field is documented with its unit and default in `scenarios/README.md`. A malformed or
//! inconsistent file becomes one [`ScenarioError`] naming the file and, where it can be found,
//! the line and column. Running a scenario is the world's job.

use crate::generate::{BalanceSplit, GenerateSpec, TopologyKind};
use crate::import::{GraphFormat, ImportedGraph};
use crate::link::{LatencyModel, LinksDef};
use crate::shop::{Item, ShopDef};
use crate::workload::{AmountSpec, Endpoints, PaymentList, PaymentListSpec, WorkloadSpec};
use node_core::config::{Implementation, NodeConfig};
use node_core::ids::sha256;
use node_core::policy::ChannelPolicy;
use node_core::router::RouterConfig;
use node_core::{NodeId, SimTime};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// All bitcoin there will ever be, sat: no amount or total in a scenario may exceed it.
pub const MAX_MONEY_SAT: u64 = 21_000_000 * 100_000_000;
/// The largest one-way latency a model may give, ms (a day).
pub const MAX_LATENCY_MS: u64 = 86_400_000;
/// The most channels a generated network may have (its memory, and the funds check's sum).
pub const MAX_GENERATED_CHANNELS: u64 = 5_000_000;

/// The largest simulated duration, seconds (ten years).
pub const MAX_DURATION_S: u64 = 10 * 365 * 86_400;

/// A scenario file that cannot be used: one line, with the file and position where known.
pub type ScenarioError = crate::input::InputError;

// ---- the file format ----

/// The top level of a scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename = "Scenario")]
pub struct ScenarioFile {
    /// Short name, used in traces and output paths.
    pub name: String,
    /// What the scenario shows.
    #[serde(default)]
    pub description: String,
    /// Root seed of every random stream.
    #[serde(default)]
    pub seed: u64,
    /// The mocked chain.
    #[serde(default)]
    pub chain: ChainSpec,
    /// Latency of the peer links.
    #[serde(default)]
    pub links: LinksSpec,
    /// The router every node's payments use, unless a node's `config`, a script step or the
    /// workload names another.
    #[serde(default)]
    pub router: RouterConfig,
    /// Overrides applied to every node before its own.
    #[serde(default)]
    pub node_defaults: NodeOverrides,
    /// The nodes (more may be generated).
    #[serde(default)]
    pub nodes: Vec<NodeSpec>,
    /// Channels that exist when the run starts.
    #[serde(default)]
    pub channels: Vec<ChannelSpec>,
    /// A generated network, added to `nodes` and `channels`.
    #[serde(default)]
    pub generate: Option<GenerateSpec>,
    /// A network read from a snapshot file, added to `nodes` and `channels`.
    #[serde(default)]
    pub import: Option<ImportSpec>,
    /// Payments arriving at random.
    #[serde(default)]
    pub workload: Option<WorkloadSpec>,
    /// Payments listed in a CSV file.
    #[serde(default)]
    pub payments: Option<PaymentListSpec>,
    /// Shops: applications that sell items for invoices.
    #[serde(default)]
    pub shops: Vec<ShopSpec>,
    /// Steps run one after the other.
    #[serde(default)]
    pub script: Vec<StepSpec>,
    /// Faults at given times.
    #[serde(default)]
    pub faults: Vec<ScheduledFaultSpec>,
    /// Faults drawn from the seed at given rates.
    #[serde(default)]
    pub random_faults: Option<RandomFaultsSpec>,
    /// When the run ends.
    #[serde(default)]
    pub stop: StopSpec,
}

/// A fault at a given time.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledFaultSpec {
    /// When it starts, ms after the start of the run.
    pub at_ms: u64,
    /// What it is.
    pub fault: FaultSpec,
}

/// A fault.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum FaultSpec {
    /// The node crashes and restarts `duration_s` later: it loses its connections and what it
    /// keeps in memory, and catches up with the chain on restart.
    Crash {
        /// The node.
        node: String,
        /// Time offline, seconds.
        duration_s: u64,
    },
    /// The node closes its channels with the peer unilaterally.
    ForceClose {
        /// The closing node.
        node: String,
        /// The peer.
        peer: String,
    },
    /// Every link between a node of `a` and a node of `b` is cut for `duration_s`: messages in
    /// flight are lost and connections fail until it heals.
    Partition {
        /// One side.
        a: Vec<String>,
        /// The other side.
        b: Vec<String>,
        /// How long, seconds.
        duration_s: u64,
    },
    /// Every link between a node of `a` and a node of `b` gets `extra_ms` more latency for
    /// `duration_s`.
    LatencySpike {
        /// One side.
        a: Vec<String>,
        /// The other side.
        b: Vec<String>,
        /// Added one-way latency, ms.
        extra_ms: u64,
        /// How long, seconds.
        duration_s: u64,
    },
    /// The node changes its forwarding policy on its channels with `peer` (all if absent).
    SetPolicy {
        /// The node.
        node: String,
        /// The peer, or every peer.
        #[serde(default)]
        peer: Option<String>,
        /// New fixed fee, msat.
        #[serde(default)]
        fee_base_msat: Option<u32>,
        /// New proportional fee, millionths.
        #[serde(default)]
        fee_proportional_millionths: Option<u32>,
        /// New CLTV delta, blocks.
        #[serde(default)]
        cltv_expiry_delta: Option<u16>,
        /// Disable (true) or enable (false) forwarding.
        #[serde(default)]
        disabled: Option<bool>,
    },
}

/// Faults drawn from the seed: each kind arrives as a Poisson process per node or channel.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomFaultsSpec {
    /// Faults start arriving at this time, seconds.
    pub start_s: u64,
    /// ... and stop arriving at this one, seconds.
    pub end_s: u64,
    /// Crashes per node per day.
    pub crashes_per_node_day: f64,
    /// Shortest crash, seconds.
    pub crash_min_s: u64,
    /// Longest crash, seconds (durations are uniform in between).
    pub crash_max_s: u64,
    /// Unilateral closes per channel of the start per day (by a random end).
    pub force_closes_per_channel_day: f64,
    /// Partitions isolating one node from all others, per node per day.
    pub partitions_per_node_day: f64,
    /// Shortest partition, seconds.
    pub partition_min_s: u64,
    /// Longest partition, seconds.
    pub partition_max_s: u64,
    /// Latency spikes on all links of one node, per node per day.
    pub spikes_per_node_day: f64,
    /// Added latency of a spike, ms.
    pub spike_extra_ms: u64,
    /// Length of a spike, seconds.
    pub spike_s: u64,
}

impl Default for RandomFaultsSpec {
    fn default() -> RandomFaultsSpec {
        RandomFaultsSpec {
            start_s: 0,
            end_s: 3_600,
            crashes_per_node_day: 0.0,
            crash_min_s: 10,
            crash_max_s: 600,
            force_closes_per_channel_day: 0.0,
            partitions_per_node_day: 0.0,
            partition_min_s: 10,
            partition_max_s: 600,
            spikes_per_node_day: 0.0,
            spike_extra_ms: 500,
            spike_s: 60,
        }
    }
}

/// The mocked chain.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainSpec {
    /// Height of the block the run starts on (it holds the initial wallet funds).
    pub start_height: u32,
    /// Time between blocks, seconds.
    pub block_interval_s: u64,
    /// Fee rate of funding, commitment and closing transactions, sat per 1000 weight.
    pub feerate_per_kw: u32,
}

impl Default for ChainSpec {
    fn default() -> ChainSpec {
        ChainSpec { start_height: 800_000, block_interval_s: 600, feerate_per_kw: 253 }
    }
}

/// Latency of the peer links.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinksSpec {
    /// Every link's latency unless overridden.
    pub latency: LatencyModel,
    /// Latency of particular links.
    pub overrides: Vec<LinkOverride>,
}

impl Default for LinksSpec {
    fn default() -> LinksSpec {
        LinksSpec { latency: LatencyModel::Constant { latency_ms: 50 }, overrides: Vec::new() }
    }
}

/// The latency of the link between two nodes.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    /// One end.
    pub a: String,
    /// The other end.
    pub b: String,
    /// Its latency.
    pub latency: LatencyModel,
}

/// Node settings that override the preset; absent fields keep the preset's value.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeOverrides {
    /// Dust limit, sat.
    pub dust_limit_sat: Option<u64>,
    /// Reserve asked of peers, millionths of the funding.
    pub reserve_ppm: Option<u32>,
    /// Smallest HTLC accepted, msat.
    pub htlc_minimum_msat: Option<u64>,
    /// In-flight cap toward the node, percent of the funding.
    pub max_htlc_value_in_flight_percent: Option<u8>,
    /// Most HTLCs in flight toward the node.
    pub max_accepted_htlcs: Option<u16>,
    /// Delay asked of peers for their own outputs, blocks.
    pub to_self_delay_blocks: Option<u16>,
    /// Confirmations before an accepted channel is usable.
    pub minimum_depth: Option<u32>,
    /// Open channels with anchors.
    pub anchors: Option<bool>,
    /// Smallest channel accepted, sat.
    pub min_funding_sat: Option<u64>,
    /// Forwarding fee, fixed part, msat.
    pub fee_base_msat: Option<u32>,
    /// Forwarding fee, proportional part, millionths.
    pub fee_proportional_millionths: Option<u32>,
    /// CLTV delta asked for forwarding, blocks.
    pub cltv_expiry_delta: Option<u16>,
    /// `min_final_cltv_expiry_delta` of invoices, blocks.
    pub min_final_cltv_expiry_delta: Option<u16>,
    /// Expiry of invoices, seconds.
    pub invoice_expiry_s: Option<u32>,
    /// Route hints for unannounced channels in invoices.
    pub route_hints: Option<bool>,
    /// How long a payment retries, seconds.
    pub payment_timeout_s: Option<u32>,
    /// Fee limit, millionths of the amount.
    pub max_fee_ppm: Option<u32>,
    /// Gossip flush interval, ms.
    pub gossip_flush_interval_ms: Option<u64>,
    /// The router of this node's payments.
    pub router: Option<RouterConfig>,
    /// Most parts of one payment in flight at once (1: never split).
    pub max_parts: Option<u32>,
    /// Smallest part split off when a whole amount finds no route, msat.
    pub min_part_msat: Option<u64>,
    /// How long the parts of an incomplete multi-part payment to this node are held, seconds.
    pub mpp_timeout_s: Option<u32>,
}

impl NodeOverrides {
    fn apply(&self, config: &mut NodeConfig) {
        macro_rules! set {
            ($($field:ident => $($path:ident).+),* $(,)?) => {
                $(if let Some(value) = self.$field { config.$($path).+ = value; })*
            };
        }
        set!(
            dust_limit_sat => channel.dust_limit_sat,
            reserve_ppm => channel.reserve_ppm,
            htlc_minimum_msat => channel.htlc_minimum_msat,
            max_htlc_value_in_flight_percent => channel.max_htlc_value_in_flight_percent,
            max_accepted_htlcs => channel.max_accepted_htlcs,
            to_self_delay_blocks => channel.to_self_delay_blocks,
            minimum_depth => channel.minimum_depth,
            anchors => channel.anchors,
            min_funding_sat => channel.min_funding_sat,
            fee_base_msat => policy.fee_base_msat,
            fee_proportional_millionths => policy.fee_proportional_millionths,
            cltv_expiry_delta => policy.cltv_expiry_delta,
            min_final_cltv_expiry_delta => min_final_cltv_expiry_delta,
            invoice_expiry_s => invoice_expiry_s,
            route_hints => route_hints,
            payment_timeout_s => payment_timeout_s,
            max_fee_ppm => max_fee_ppm,
            gossip_flush_interval_ms => gossip_flush_interval_ms,
            router => router,
            max_parts => max_parts,
            min_part_msat => min_part_msat,
            mpp_timeout_s => mpp_timeout_s,
        );
    }
}

/// One node.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Unique name: letters, digits, `_` and `-`.
    pub name: String,
    /// The preset its settings start from.
    #[serde(default)]
    pub implementation: Implementation,
    /// On-chain funds at the start, sat.
    #[serde(default)]
    pub wallet_sat: u64,
    /// Overrides of the preset.
    #[serde(default)]
    pub config: NodeOverrides,
}

/// A forwarding policy for one direction of a channel.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// Fixed fee, msat.
    pub fee_base_msat: u32,
    /// Proportional fee, millionths.
    pub fee_proportional_millionths: u32,
    /// CLTV delta, blocks.
    pub cltv_expiry_delta: u16,
    /// Smallest HTLC forwarded, msat.
    #[serde(default)]
    pub htlc_minimum_msat: u64,
    /// Largest HTLC forwarded, msat (default: the capacity).
    #[serde(default)]
    pub htlc_maximum_msat: Option<u64>,
    /// The direction is disabled from the start (no payment is routed over it).
    #[serde(default)]
    pub disabled: bool,
}

/// A network read from a snapshot file (see [`crate::import`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSpec {
    /// The file (a directory for CLoTH), relative to the scenario file.
    pub file: String,
    /// Its format (default: told from the file).
    #[serde(default)]
    pub format: Option<GraphFormat>,
    /// Starting balances: default the file's (CLoTH, SimLN), else `random`. "Opener" is the
    /// channel's `node_1` in BOLT 7's sense, the smaller public key (for CLoTH, the smaller
    /// index): gossip does not say who opened.
    #[serde(default)]
    pub balance: Option<BalanceSplit>,
    /// The preset of the imported nodes (`node_defaults` apply on top).
    #[serde(default)]
    pub implementation: Implementation,
    /// Name prefix: node i of the file is `<prefix><i>`.
    #[serde(default = "default_import_prefix")]
    pub name_prefix: String,
    /// Each imported node's on-chain wallet, sat.
    #[serde(default)]
    pub wallet_sat: u64,
}

fn default_import_prefix() -> String {
    "n".to_string()
}

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

/// A channel that exists when the run starts.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    /// The opener (pays the commitment fee).
    pub from: String,
    /// The other end.
    pub to: String,
    /// Channel value, sat.
    pub capacity_sat: u64,
    /// The opener's starting balance, sat (default: all of it).
    #[serde(default)]
    pub from_balance_sat: Option<u64>,
    /// The opener's starting balance in msat, in place of `from_balance_sat`.
    #[serde(default)]
    pub from_balance_msat: Option<u64>,
    /// Whether the channel is public (in every node's graph from the start).
    #[serde(default = "yes")]
    pub announce: bool,
    /// The opener's forwarding policy (default: its node's).
    #[serde(default)]
    pub from_policy: Option<PolicySpec>,
    /// The other end's forwarding policy (default: its node's).
    #[serde(default)]
    pub to_policy: Option<PolicySpec>,
}

fn yes() -> bool {
    true
}

/// A shop.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopSpec {
    /// The node the shop runs on.
    pub node: String,
    /// What it sells.
    pub items: Vec<ItemSpec>,
    /// How often it polls `listinvoices` for paid orders, ms.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Expiry of its invoices, seconds.
    #[serde(default = "default_shop_invoice_expiry_s")]
    pub invoice_expiry_s: u32,
}

fn default_poll_interval_ms() -> u64 {
    1_000
}

fn default_shop_invoice_expiry_s() -> u32 {
    600
}

/// An item for sale.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemSpec {
    /// Its name.
    pub name: String,
    /// Its price, msat.
    pub price_msat: u64,
    /// What the buyer receives once paid.
    pub content: String,
}

/// One step of the script.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum StepSpec {
    /// Connect two nodes; done once both exchanged `init`.
    Connect {
        /// The node that connects.
        from: String,
        /// The node connected to.
        to: String,
    },
    /// Open a channel; done once the funding transaction is broadcast.
    FundChannel {
        /// The opener.
        from: String,
        /// The peer.
        to: String,
        /// Channel value, sat.
        amount_sat: u64,
        /// Given to the peer at the start, msat.
        #[serde(default)]
        push_msat: u64,
        /// Announce the channel after 6 confirmations.
        #[serde(default)]
        announce: bool,
    },
    /// Wait until a channel between the two is usable on both sides.
    WaitChannelReady {
        /// One end.
        from: String,
        /// The other end.
        to: String,
    },
    /// A customer buys an item from a shop; done once delivered or failed.
    Buy {
        /// The buying node.
        customer: String,
        /// The shop's node.
        shop: String,
        /// The item's name.
        item: String,
    },
    /// `to` issues an invoice and `from` pays it; done once the payment ends.
    Pay {
        /// The payer.
        from: String,
        /// The payee.
        to: String,
        /// Amount, msat.
        amount_msat: u64,
        /// The router, if not the payer's.
        #[serde(default)]
        router: Option<RouterConfig>,
    },
    /// A spontaneous payment; done once it ends.
    Keysend {
        /// The payer.
        from: String,
        /// The payee.
        to: String,
        /// Amount, msat.
        amount_msat: u64,
        /// The router, if not the payer's.
        #[serde(default)]
        router: Option<RouterConfig>,
    },
    /// Cooperatively close the channels between two nodes; done once the closing confirms.
    Close {
        /// The node that starts the close.
        from: String,
        /// The peer.
        to: String,
    },
    /// Wait.
    Sleep {
        /// How long, ms.
        duration_ms: u64,
    },
    /// Wait for blocks.
    WaitBlocks {
        /// How many.
        blocks: u32,
    },
}

/// When the run ends.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StopSpec {
    /// Simulated time after which the run ends in any case, seconds.
    pub max_duration_s: u64,
    /// End as soon as the script is done and nothing but blocks is scheduled.
    pub when_idle: bool,
}

impl Default for StopSpec {
    fn default() -> StopSpec {
        StopSpec { max_duration_s: 86_400, when_idle: true }
    }
}

// ---- the validated scenario ----

/// A node, resolved.
#[derive(Clone, Debug)]
pub struct NodeDef {
    /// Its name.
    pub name: String,
    /// Its settings.
    pub config: NodeConfig,
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
    /// See [`StepSpec::Connect`].
    Connect {
        /// Connecting node.
        from: NodeId,
        /// Connected node.
        to: NodeId,
    },
    /// See [`StepSpec::FundChannel`].
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
    /// See [`StepSpec::WaitChannelReady`].
    WaitChannelReady {
        /// One end.
        from: NodeId,
        /// Other end.
        to: NodeId,
    },
    /// See [`StepSpec::Buy`].
    Buy {
        /// Customer.
        customer: NodeId,
        /// Index of the shop.
        shop: usize,
        /// Index of the item in the shop.
        item: usize,
    },
    /// See [`StepSpec::Pay`].
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
    /// See [`StepSpec::Keysend`].
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
    /// See [`StepSpec::Close`].
    Close {
        /// Closer.
        from: NodeId,
        /// Peer.
        to: NodeId,
    },
    /// See [`StepSpec::Sleep`].
    Sleep {
        /// Duration, µs.
        duration_us: u64,
    },
    /// See [`StepSpec::WaitBlocks`].
    WaitBlocks {
        /// Blocks.
        blocks: u32,
    },
}

/// A fault, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// See [`FaultSpec::Crash`].
    Crash {
        /// The node.
        node: NodeId,
        /// Offline time, µs.
        duration_us: u64,
    },
    /// See [`FaultSpec::ForceClose`].
    ForceClose {
        /// The closer.
        node: NodeId,
        /// The peer.
        peer: NodeId,
    },
    /// See [`FaultSpec::Partition`]: the links cut, (smaller id, larger id), sorted.
    Partition {
        /// Links cut.
        links: Vec<(NodeId, NodeId)>,
        /// How long, µs.
        duration_us: u64,
    },
    /// See [`FaultSpec::LatencySpike`].
    LatencySpike {
        /// Links slowed, (smaller id, larger id), sorted.
        links: Vec<(NodeId, NodeId)>,
        /// Added latency, µs.
        extra_us: u64,
        /// How long, µs.
        duration_us: u64,
    },
    /// See [`FaultSpec::SetPolicy`].
    SetPolicy {
        /// The node.
        node: NodeId,
        /// The peer, or all.
        peer: Option<NodeId>,
        /// Fixed fee, msat.
        fee_base_msat: Option<u32>,
        /// Proportional fee, millionths.
        fee_proportional_millionths: Option<u32>,
        /// CLTV delta, blocks.
        cltv_expiry_delta: Option<u16>,
        /// Disable or enable.
        disabled: Option<bool>,
    },
}

impl Fault {
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
    /// Channels at the start listed in the file (see [`Scenario::genesis_channels`] for all).
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
    /// Faults at given times, in file order.
    pub faults: Vec<(SimTime, Fault)>,
    /// Faults drawn from the seed.
    pub random_faults: Option<RandomFaultsSpec>,
    /// End of the run.
    pub max_duration: SimTime,
    /// End when idle.
    pub stop_when_idle: bool,
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ScenarioError {
            file: file.clone(),
            position: None,
            message: format!("cannot read: {e}"),
        })?;
        let source = String::from_utf8(bytes).map_err(|e| ScenarioError {
            file: file.clone(),
            position: None,
            message: format!("not UTF-8: {e}"),
        })?;
        Scenario::parse(&file, &source)
    }

    /// Parses and validates scenario text; `file` names it in errors.
    pub fn parse(file: &str, source: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_with(file, source, |_| Ok(()))
    }

    /// Parses scenario text, lets `edit` change the fields (a sweep cell's parameters; an
    /// error it returns is reported against the file), then validates.
    pub fn parse_with(
        file: &str,
        source: &str,
        edit: impl FnOnce(&mut ScenarioFile) -> Result<(), String>,
    ) -> Result<Scenario, ScenarioError> {
        let options = ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
        let mut raw: ScenarioFile = options.from_str(source).map_err(|e| ScenarioError {
            file: file.to_string(),
            position: Some((e.span.start.line, e.span.start.col)),
            message: e.code.to_string(),
        })?;
        edit(&mut raw).map_err(|message| ScenarioError {
            file: file.to_string(),
            position: None,
            message,
        })?;
        Validator { file, source }.validate(raw)
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

/// Finds where in the source a bad value stands, to point at it.
struct Validator<'a> {
    file: &'a str,
    source: &'a str,
}

impl Validator<'_> {
    fn error(&self, position: Option<(usize, usize)>, message: String) -> ScenarioError {
        ScenarioError { file: self.file.to_string(), position, message }
    }

    /// Line and column (1-based) of byte offset `at`.
    fn position_of(&self, at: usize) -> (usize, usize) {
        let before = &self.source[..at];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }

    /// The `nth` (0-based) place where `field: value` is written, pointing at the value. Numbers
    /// match with or without `_` separators; an empty `value` matches any value.
    fn find_field(&self, field: &str, value: &str, nth: usize) -> Option<(usize, usize)> {
        let bytes = self.source.as_bytes();
        let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let normal = |text: &str| text.replace('_', "");
        let mut found = 0;
        let mut from = 0;
        while let Some(offset) = self.source[from..].find(field) {
            let start = from + offset;
            from = start + field.len();
            if (start > 0 && is_ident(bytes[start - 1]))
                || bytes.get(from).is_some_and(|&b| is_ident(b))
            {
                continue;
            }
            let Some(after_colon) = self.source[from..].trim_start().strip_prefix(':') else {
                continue;
            };
            let value_text = after_colon.trim_start();
            let value_at = self.source.len() - value_text.len();
            let token_len = match value_text.strip_prefix('"') {
                Some(inner) => inner.find('"').map_or(value_text.len(), |end| end + 2),
                None => value_text
                    .find(|c: char| c.is_whitespace() || ",)]}".contains(c))
                    .unwrap_or(value_text.len()),
            };
            if value.is_empty() || normal(&value_text[..token_len]) == normal(value) {
                if found == nth {
                    return Some(self.position_of(value_at));
                }
                found += 1;
            }
        }
        None
    }

    /// Router parameters outside what the routers handle.
    /// Reads the snapshot of `spec` and adds its nodes, named `<prefix><i>`, after the listed
    /// ones. Errors in the snapshot name the snapshot's file and position.
    fn import(
        &self,
        spec: &ImportSpec,
        raw: &ScenarioFile,
        nodes: &mut Vec<NodeDef>,
        ids: &mut BTreeMap<String, NodeId>,
    ) -> Result<ImportedNetwork, ScenarioError> {
        let bad = |field: &str, message: String| self.error(self.find_field(field, "", 0), message);
        let base = Path::new(self.file).parent().unwrap_or(Path::new(""));
        let path = base.join(&spec.file);
        let graph = crate::import::read_graph(&path, spec.format)?;
        if graph.node_ids.len() < 2 || graph.channels.is_empty() {
            return Err(bad("file", format!("{} has no channels", path.display())));
        }
        if let Some(BalanceSplit::Ratio { opener_ppm }) = spec.balance
            && opener_ppm > 1_000_000
        {
            return Err(bad("opener_ppm", "opener_ppm must be 0 to 1000000".into()));
        }
        if spec.name_prefix.is_empty()
            || !spec.name_prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(bad(
                "name_prefix",
                "name_prefix must be letters, digits, '_' or '-'".into(),
            ));
        }
        if spec.wallet_sat > MAX_MONEY_SAT {
            return Err(bad("wallet_sat", "wallet_sat is more than all bitcoin".into()));
        }
        let mut config = NodeConfig::preset(spec.implementation);
        config.feerate_per_kw = raw.chain.feerate_per_kw;
        config.router = raw.router;
        raw.node_defaults.apply(&mut config);
        self.check_node_config(&config)?;
        let dust_sat = config.channel.dust_limit_sat;
        if let Some(c) = graph.channels.iter().find(|c| c.capacity_sat < dust_sat) {
            return Err(bad(
                "file",
                format!(
                    "{}: channel {}x{}x{} holds {} sat, below the dust limit {dust_sat} sat",
                    path.display(),
                    c.scid.block_height(),
                    c.scid.tx_index(),
                    c.scid.output_index(),
                    c.capacity_sat
                ),
            ));
        }
        let first = nodes.len() as u32;
        for i in 0..graph.node_ids.len() {
            let name = format!("{}{i}", spec.name_prefix);
            if ids.insert(name.clone(), NodeId(first + i as u32)).is_some() {
                return Err(self.error(
                    self.find_string(&name),
                    format!("imported node {name:?} clashes with a listed node"),
                ));
            }
            nodes.push(NodeDef { name, config, wallet_sat: spec.wallet_sat });
        }
        Ok(ImportedNetwork { graph, first, balance: spec.balance })
    }

    fn check_router(&self, router: &RouterConfig) -> Result<(), ScenarioError> {
        let bad = |field: &str, value: String, message: &str| {
            Err(self.error(self.find_field(field, &value, 0), message.to_string()))
        };
        match router {
            RouterConfig::Cheapest | RouterConfig::ShortestHops => Ok(()),
            RouterConfig::Lnd(p) => {
                for (field, value) in [
                    ("min_probability_ppm", p.min_probability_ppm),
                    ("apriori_hop_probability_ppm", p.apriori_hop_probability_ppm),
                    ("apriori_weight_ppm", p.apriori_weight_ppm),
                    ("capacity_fraction_ppm", p.capacity_fraction_ppm),
                    ("bimodal_node_weight_ppm", p.bimodal_node_weight_ppm),
                ] {
                    if value > 1_000_000 {
                        return bad(
                            field,
                            value.to_string(),
                            &format!("{field} is at most 1000000"),
                        );
                    }
                }
                if p.apriori_weight_ppm == 1_000_000 {
                    return bad(
                        "apriori_weight_ppm",
                        p.apriori_weight_ppm.to_string(),
                        "apriori_weight_ppm must be below 1000000",
                    );
                }
                Ok(())
            }
            RouterConfig::Ldk(_) => Ok(()),
            RouterConfig::Cln(p) => {
                if p.fuzz_percent > 100 {
                    return bad(
                        "fuzz_percent",
                        p.fuzz_percent.to_string(),
                        "fuzz_percent is at most 100",
                    );
                }
                Ok(())
            }
            RouterConfig::MinCostFlow(p) => {
                if !(1..=64).contains(&p.pieces) {
                    return bad("pieces", p.pieces.to_string(), "pieces must be 1 to 64");
                }
                if !(1..=100_000).contains(&p.flow_units) {
                    return bad(
                        "flow_units",
                        p.flow_units.to_string(),
                        "flow_units must be 1 to 100000",
                    );
                }
                if p.mu > 1_000_000 {
                    return bad("mu", p.mu.to_string(), "mu is at most 1000000");
                }
                Ok(())
            }
        }
    }

    /// A node's settings after every override.
    fn check_node_config(&self, config: &NodeConfig) -> Result<(), ScenarioError> {
        self.check_router(&config.router)?;
        if config.max_parts == 0 || config.max_parts > 483 {
            return Err(self.error(
                self.find_field("max_parts", &config.max_parts.to_string(), 0),
                "max_parts must be 1 to 483".into(),
            ));
        }
        if config.min_part_msat == 0 {
            return Err(self.error(
                self.find_field("min_part_msat", "0", 0),
                "min_part_msat must be at least 1".into(),
            ));
        }
        if config.mpp_timeout_s < 60 {
            return Err(self.error(
                self.find_field("mpp_timeout_s", &config.mpp_timeout_s.to_string(), 0),
                "mpp_timeout_s must be at least 60 (BOLT 4)".into(),
            ));
        }
        Ok(())
    }

    /// The first place where the string literal `text` is written.
    fn find_string(&self, text: &str) -> Option<(usize, usize)> {
        let quoted = format!("\"{text}\"");
        self.source.find(&quoted).map(|at| self.position_of(at))
    }

    fn validate(&self, raw: ScenarioFile) -> Result<Scenario, ScenarioError> {
        if raw.name.is_empty()
            || !raw.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(self.error(
                self.find_field("name", &format!("{:?}", raw.name), 0),
                format!("scenario name {:?} must be letters, digits, '_' or '-'", raw.name),
            ));
        }
        if raw.chain.block_interval_s == 0 {
            return Err(self.error(
                self.find_field("block_interval_s", "0", 0),
                "block_interval_s must be positive".into(),
            ));
        }
        if raw.chain.block_interval_s > MAX_DURATION_S {
            return Err(self.error(
                self.find_field("block_interval_s", &raw.chain.block_interval_s.to_string(), 0),
                format!("block_interval_s must be at most {MAX_DURATION_S}"),
            ));
        }
        if raw.stop.max_duration_s > MAX_DURATION_S {
            return Err(self.error(
                self.find_field("max_duration_s", &raw.stop.max_duration_s.to_string(), 0),
                format!("max_duration_s must be at most {MAX_DURATION_S} (ten years)"),
            ));
        }
        let last_height = u64::from(raw.chain.start_height)
            + raw.stop.max_duration_s / raw.chain.block_interval_s
            + 1;
        if last_height >= 1 << 24 {
            return Err(self.error(
                self.find_field("start_height", &raw.chain.start_height.to_string(), 0),
                format!("the chain would pass height 2^24 (short channel ids hold 24 bits): start_height {} plus {} blocks", raw.chain.start_height, last_height - u64::from(raw.chain.start_height)),
            ));
        }
        if raw.chain.feerate_per_kw > 1_000_000 {
            return Err(self.error(
                self.find_field("feerate_per_kw", &raw.chain.feerate_per_kw.to_string(), 0),
                "feerate_per_kw must be at most 1000000".into(),
            ));
        }
        if raw.chain.feerate_per_kw < 253 {
            return Err(self.error(
                self.find_field("feerate_per_kw", &raw.chain.feerate_per_kw.to_string(), 0),
                "feerate_per_kw must be at least 253 (the relay floor)".into(),
            ));
        }
        if raw.nodes.is_empty() && raw.generate.is_none() && raw.import.is_none() {
            return Err(self.error(
                self.find_field("nodes", "[", 0),
                "a scenario needs at least one node".into(),
            ));
        }
        let money = |field: &str, value: u64| -> Result<(), ScenarioError> {
            if value > MAX_MONEY_SAT {
                return Err(self.error(
                    self.find_field(field, &value.to_string(), 0),
                    format!("{field} {value} is more than all bitcoin ({MAX_MONEY_SAT} sat)"),
                ));
            }
            Ok(())
        };
        let money_msat = |field: &str, value: u64| -> Result<(), ScenarioError> {
            if value > MAX_MONEY_SAT * 1000 {
                return Err(self.error(
                    self.find_field(field, &value.to_string(), 0),
                    format!("{field} {value} is more than all bitcoin"),
                ));
            }
            Ok(())
        };
        let mut created_sat = 0u64;
        // Nodes.
        let mut ids: BTreeMap<String, NodeId> = BTreeMap::new();
        let mut nodes = Vec::with_capacity(raw.nodes.len());
        for spec in &raw.nodes {
            let literal = format!("{:?}", spec.name);
            if spec.name.is_empty()
                || !spec.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(self.error(
                    self.find_field("name", &literal, 0),
                    format!("node name {literal} must be letters, digits, '_' or '-'"),
                ));
            }
            if ids.contains_key(spec.name.as_str()) {
                return Err(self.error(
                    self.find_field("name", &literal, 1),
                    format!("duplicate node name {literal}"),
                ));
            }
            ids.insert(spec.name.clone(), NodeId(nodes.len() as u32));
            let mut config = NodeConfig::preset(spec.implementation);
            config.feerate_per_kw = raw.chain.feerate_per_kw;
            config.router = raw.router;
            raw.node_defaults.apply(&mut config);
            spec.config.apply(&mut config);
            self.check_node_config(&config)?;
            if config.channel.max_accepted_htlcs == 0 || config.channel.max_accepted_htlcs > 483 {
                return Err(self.error(
                    self.find_field(
                        "max_accepted_htlcs",
                        &config.channel.max_accepted_htlcs.to_string(),
                        0,
                    ),
                    "max_accepted_htlcs must be 1 to 483".into(),
                ));
            }
            if config.channel.dust_limit_sat < 354 {
                return Err(self.error(
                    self.find_field(
                        "dust_limit_sat",
                        &config.channel.dust_limit_sat.to_string(),
                        0,
                    ),
                    "dust_limit_sat must be at least 354 (BOLT 2 floor)".into(),
                ));
            }
            money("wallet_sat", spec.wallet_sat)?;
            created_sat = created_sat.saturating_add(spec.wallet_sat);
            nodes.push(NodeDef { name: spec.name.clone(), config, wallet_sat: spec.wallet_sat });
        }
        let imported = match &raw.import {
            Some(spec) => {
                let network = self.import(spec, &raw, &mut nodes, &mut ids)?;
                for c in &network.graph.channels {
                    created_sat = created_sat.saturating_add(c.capacity_sat);
                }
                created_sat = created_sat.saturating_add(
                    spec.wallet_sat.saturating_mul(network.graph.node_ids.len() as u64),
                );
                Some(Arc::new(network))
            }
            None => None,
        };
        if let Some(g) = &raw.generate {
            let bad = |field: &str, message: String| {
                Err(self.error(self.find_field(field, "", 0), message))
            };
            if g.nodes < 2 || g.nodes > 1_000_000 {
                return bad("nodes", "a generated network has 2 to 1000000 nodes".into());
            }
            match g.kind {
                TopologyKind::ScaleFree { links_per_node }
                    if links_per_node == 0 || links_per_node > 1000 =>
                {
                    return bad("links_per_node", "links_per_node must be 1 to 1000".into());
                }
                TopologyKind::ErdosRenyi { channels }
                    if channels == 0
                        || u64::from(channels)
                            > u64::from(g.nodes) * u64::from(g.nodes - 1) / 2 =>
                {
                    return bad(
                        "channels",
                        format!(
                            "an Erdős–Rényi graph of {} nodes has 1 to n(n-1)/2 channels",
                            g.nodes
                        ),
                    );
                }
                TopologyKind::Grid { columns } if columns == 0 || columns > g.nodes => {
                    return bad(
                        "columns",
                        format!("a grid of {} nodes has 1 to {} columns", g.nodes, g.nodes),
                    );
                }
                _ => {}
            }
            match g.capacity {
                None if g.kind != TopologyKind::MainnetLike => {
                    return bad("capacity", "a generated network needs a capacity range (min_sat, max_sat), unless it is MainnetLike".into());
                }
                Some(c)
                    if c.min_sat < 1_000 || c.min_sat > c.max_sat || c.max_sat > MAX_MONEY_SAT =>
                {
                    return bad(
                        "min_sat",
                        "capacity needs 1000 <= min_sat <= max_sat <= all bitcoin".into(),
                    );
                }
                _ => {}
            }
            if let BalanceSplit::Ratio { opener_ppm } = g.balance
                && opener_ppm > 1_000_000
            {
                return bad("opener_ppm", "opener_ppm must be 0 to 1000000".into());
            }
            // The most channels the wiring can make, and so the most value it can create: the
            // funds check adds every channel up, so the total must stay below all bitcoin.
            let n = u64::from(g.nodes);
            let most_channels = match g.kind {
                TopologyKind::ScaleFree { links_per_node } => n * u64::from(links_per_node),
                TopologyKind::MainnetLike => n * 37,
                TopologyKind::ErdosRenyi { channels } => u64::from(channels),
                TopologyKind::Ring | TopologyKind::Line | TopologyKind::Star => n,
                TopologyKind::Grid { .. } => 2 * n,
            };
            if most_channels > MAX_GENERATED_CHANNELS {
                return bad(
                    "nodes",
                    format!(
                        "the generated network could have {most_channels} channels: at most {MAX_GENERATED_CHANNELS}"
                    ),
                );
            }
            // Without a range (mainnet's capacities, at most 1,000,000,000 sat each), the sum
            // stays below 2^64 msat within the channel cap, so the funds check cannot overflow.
            if let Some(c) = g.capacity {
                created_sat = created_sat.saturating_add(most_channels.saturating_mul(c.max_sat));
            }
            if let Some(f) = &g.fees
                && (f.base_min_msat > f.base_max_msat
                    || f.ppm_min > f.ppm_max
                    || f.ppm_max > 1_000_000
                    || f.cltv_min > f.cltv_max
                    || f.cltv_min == 0)
            {
                return bad(
                    "fees",
                    "fees need base_min_msat <= base_max_msat, ppm_min <= ppm_max <= 1000000 \
                     and 1 <= cltv_min <= cltv_max"
                        .into(),
                );
            }
            if g.name_prefix.is_empty()
                || !g.name_prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return bad(
                    "name_prefix",
                    "name_prefix must be letters, digits, '_' or '-'".into(),
                );
            }
            for i in 0..g.nodes {
                let name = format!("{}{i}", g.name_prefix);
                if ids.contains_key(name.as_str()) {
                    return Err(self.error(
                        self.find_string(&name),
                        format!("generated node {name:?} clashes with a listed node"),
                    ));
                }
                let mut config = NodeConfig::preset(g.implementation);
                config.feerate_per_kw = raw.chain.feerate_per_kw;
                config.router = raw.router;
                raw.node_defaults.apply(&mut config);
                if i == 0 {
                    self.check_node_config(&config)?;
                }
                let min_sat =
                    g.capacity.map_or(crate::generate::mainnet::CAPACITY_SAT.0[0].1, |c| c.min_sat);
                if min_sat < config.channel.dust_limit_sat {
                    return bad(
                        "min_sat",
                        format!(
                            "generated capacities start below the dust limit {} sat",
                            config.channel.dust_limit_sat
                        ),
                    );
                }
                nodes.push(NodeDef { name, config, wallet_sat: 0 });
            }
            for (i, node) in nodes.iter().enumerate().skip(nodes.len() - g.nodes as usize) {
                ids.insert(node.name.clone(), NodeId(i as u32));
            }
        }
        self.check_router(&raw.router)?;
        if let Some(w) = &raw.workload {
            for (field, endpoints) in [("senders", &w.senders), ("receivers", &w.receivers)] {
                let bad = |message: String| Err(self.error(self.find_field(field, "", 0), message));
                match endpoints {
                    Endpoints::Nodes(names) if names.is_empty() => {
                        return bad(format!("{field}: Nodes needs at least one node"));
                    }
                    Endpoints::Nodes(names) => {
                        if let Some(name) = names
                            .iter()
                            .enumerate()
                            .find_map(|(i, n)| names[..i].contains(n).then_some(n))
                        {
                            return Err(self.error(
                                self.find_string(name),
                                format!("{field}: node {name:?} is listed twice"),
                            ));
                        }
                        if let Some(name) = names.iter().find(|n| !ids.contains_key(n.as_str())) {
                            return Err(self.error(
                                self.find_string(name),
                                format!("{field}: unknown node {name:?}"),
                            ));
                        }
                    }
                    Endpoints::Largest(0) => return bad(format!("{field}: Largest needs n >= 1")),
                    Endpoints::Shops if field == "senders" => {
                        return bad("senders cannot be Shops; shops are receivers".into());
                    }
                    Endpoints::Shops if !raw.shops.iter().any(|s| !s.items.is_empty()) => {
                        return bad("receivers: Shops needs a shop with items".into());
                    }
                    _ => {}
                }
            }
            let bad = |field: &str, message: String| {
                Err(self.error(self.find_field(field, "", 0), message))
            };
            for router in &w.routers {
                self.check_router(router)?;
            }
            if !(0.0..=1_000_000.0).contains(&w.rate_per_s) {
                return bad("rate_per_s", "rate_per_s must be 0 to 1000000".into());
            }
            if w.start_s > w.end_s || w.end_s > MAX_DURATION_S {
                return bad("end_s", "the workload needs start_s <= end_s <= ten years".into());
            }
            let max_msat = MAX_MONEY_SAT * 1000;
            match w.amount {
                AmountSpec::Fixed { amount_msat } if amount_msat == 0 || amount_msat > max_msat => {
                    return bad(
                        "amount_msat",
                        "amount_msat must be positive and at most all bitcoin".into(),
                    );
                }
                AmountSpec::Uniform { min_msat, max_msat: hi }
                    if min_msat == 0 || min_msat > hi || hi > max_msat =>
                {
                    return bad(
                        "min_msat",
                        "the amounts need 0 < min_msat <= max_msat <= all bitcoin".into(),
                    );
                }
                AmountSpec::LogNormal { median_msat, sigma }
                    if median_msat == 0
                        || median_msat > max_msat
                        || !(0.0..=10.0).contains(&sigma) =>
                {
                    return bad(
                        "median_msat",
                        "log-normal amounts need 0 < median_msat <= all bitcoin and sigma 0 to 10"
                            .into(),
                    );
                }
                _ => {}
            }
        }
        let resolve = |name: &str| -> Result<NodeId, ScenarioError> {
            ids.get(name)
                .copied()
                .ok_or_else(|| self.error(self.find_string(name), format!("unknown node {name:?}")))
        };
        let pair = |from: &str, to: &str, what: &str| -> Result<(NodeId, NodeId), ScenarioError> {
            let (a, b) = (resolve(from)?, resolve(to)?);
            if a == b {
                return Err(self.error(
                    self.find_field("to", &format!("{to:?}"), 0),
                    format!("{what} from {from:?} to itself"),
                ));
            }
            Ok((a, b))
        };
        // Links.
        let check_latency = |model: &LatencyModel| -> Result<(), ScenarioError> {
            let largest = match *model {
                LatencyModel::Constant { latency_ms } => latency_ms,
                LatencyModel::Uniform { max_ms, .. } => max_ms,
                LatencyModel::LogNormal { median_ms, .. } => median_ms,
            };
            if largest > MAX_LATENCY_MS {
                return Err(self.error(
                    self.find_field("latency", "", 0),
                    format!("a latency of {largest} ms is more than a day"),
                ));
            }
            match *model {
                LatencyModel::Uniform { min_ms, max_ms } if min_ms > max_ms => Err(self.error(
                    self.find_field("min_ms", &min_ms.to_string(), 0),
                    format!("latency min_ms {min_ms} is above max_ms {max_ms}"),
                )),
                LatencyModel::LogNormal { sigma, .. } if !(0.0..=10.0).contains(&sigma) => {
                    Err(self.error(
                        self.find_field("sigma", "", 0),
                        format!("latency sigma {sigma} must be between 0 and 10"),
                    ))
                }
                _ => Ok(()),
            }
        };
        check_latency(&raw.links.latency)?;
        let mut overrides = BTreeMap::new();
        for o in &raw.links.overrides {
            let (a, b) = pair(&o.a, &o.b, "link")?;
            check_latency(&o.latency)?;
            overrides.insert((a.min(b), a.max(b)), o.latency);
        }
        // Genesis channels.
        let mut channels = Vec::with_capacity(raw.channels.len());
        for spec in &raw.channels {
            let (from, to) = pair(&spec.from, &spec.to, "channel")?;
            money("capacity_sat", spec.capacity_sat)?;
            created_sat = created_sat.saturating_add(spec.capacity_sat);
            let (fc, tc) = (&nodes[from.index()].config, &nodes[to.index()].config);
            let dust_sat = fc.channel.dust_limit_sat.max(tc.channel.dust_limit_sat);
            if spec.capacity_sat < dust_sat {
                return Err(self.error(
                    self.find_field("capacity_sat", &spec.capacity_sat.to_string(), 0),
                    format!(
                        "channel capacity {} sat is below the dust limit {dust_sat} sat",
                        spec.capacity_sat
                    ),
                ));
            }
            let from_balance_msat = match (spec.from_balance_sat, spec.from_balance_msat) {
                (Some(_), Some(msat)) => {
                    return Err(self.error(
                        self.find_field("from_balance_msat", &msat.to_string(), 0),
                        "give from_balance_sat or from_balance_msat, not both".into(),
                    ));
                }
                (Some(sat), None) => sat.saturating_mul(1000),
                (None, Some(msat)) => msat,
                (None, None) => spec.capacity_sat * 1000,
            };
            if from_balance_msat > spec.capacity_sat * 1000 {
                let (field, value) = match spec.from_balance_sat {
                    Some(sat) => ("from_balance_sat", sat),
                    None => ("from_balance_msat", from_balance_msat),
                };
                return Err(self.error(
                    self.find_field(field, &value.to_string(), 0),
                    format!("{field} {value} is above the capacity {} sat", spec.capacity_sat),
                ));
            }
            let policy = |spec: Option<PolicySpec>, config: &NodeConfig| match spec {
                Some(p) => ChannelPolicy {
                    fee_base_msat: p.fee_base_msat,
                    fee_proportional_millionths: p.fee_proportional_millionths,
                    cltv_expiry_delta: p.cltv_expiry_delta,
                    htlc_minimum_msat: p.htlc_minimum_msat,
                    htlc_maximum_msat: p.htlc_maximum_msat.unwrap_or(u64::MAX),
                },
                None => config.policy,
            };
            let capacity_msat = spec.capacity_sat * 1000;
            let cap = |mut p: ChannelPolicy| {
                p.htlc_maximum_msat = p.htlc_maximum_msat.min(capacity_msat);
                p
            };
            channels.push(ChannelDef {
                from,
                to,
                capacity_sat: spec.capacity_sat,
                from_balance_msat,
                announce: spec.announce,
                from_policy: cap(policy(spec.from_policy, fc)),
                to_policy: cap(policy(spec.to_policy, tc)),
                from_disabled: spec.from_policy.is_some_and(|p| p.disabled),
                to_disabled: spec.to_policy.is_some_and(|p| p.disabled),
            });
        }
        if created_sat > MAX_MONEY_SAT {
            return Err(self.error(
                None,
                format!("wallets and channels hold {created_sat} sat, more than all bitcoin ({MAX_MONEY_SAT} sat)"),
            ));
        }
        let payment_list = match &raw.payments {
            Some(spec) => {
                for router in &spec.routers {
                    self.check_router(router)?;
                }
                let base = Path::new(self.file).parent().unwrap_or(Path::new(""));
                let path = base.join(&spec.file);
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(&path).map_err(|e| ScenarioError {
                    file: shown.clone(),
                    position: None,
                    message: format!("cannot read: {e}"),
                })?;
                // CLoTH's ids name nodes of an imported network by their id in its files; without
                // an import they are the scenario's node indexes.
                let cloth_ids: BTreeMap<&str, NodeId> = imported
                    .as_ref()
                    .map(|im| {
                        let ids = im.graph.node_ids.iter().enumerate();
                        ids.map(|(i, id)| (id.as_str(), NodeId(im.first + i as u32))).collect()
                    })
                    .unwrap_or_default();
                let node = |f: &str, by_index: bool| {
                    if !by_index {
                        ids.get(f).copied()
                    } else if imported.is_some() {
                        cloth_ids.get(f).copied()
                    } else {
                        f.parse::<u32>().ok().filter(|&i| (i as usize) < nodes.len()).map(NodeId)
                    }
                };
                let payments = crate::workload::parse_payment_list(&text, node).map_err(
                    |(line, col, message)| ScenarioError {
                        file: shown.clone(),
                        position: Some((line, col)),
                        message,
                    },
                )?;
                Some(Arc::new(PaymentListDef { payments, routers: spec.routers.clone() }))
            }
            None => None,
        };
        // Shops.
        let mut shops: Vec<ShopDef> = Vec::with_capacity(raw.shops.len());
        for spec in &raw.shops {
            let node = resolve(&spec.node)?;
            if shops.iter().any(|s| s.node == node) {
                return Err(self.error(
                    self.find_field("node", &format!("{:?}", spec.node), 1),
                    format!("two shops on node {:?}", spec.node),
                ));
            }
            let mut items = Vec::with_capacity(spec.items.len());
            for item in &spec.items {
                money_msat("price_msat", item.price_msat)?;
                if item.price_msat == 0 {
                    return Err(self.error(
                        self.find_field("price_msat", "0", 0),
                        format!("item {:?} has a zero price", item.name),
                    ));
                }
                if items.iter().any(|i: &Item| i.name == item.name) {
                    return Err(self.error(
                        self.find_field("name", &format!("{:?}", item.name), 1),
                        format!("duplicate item {:?}", item.name),
                    ));
                }
                items.push(Item {
                    name: item.name.clone(),
                    price_msat: item.price_msat,
                    content: item.content.as_str().into(),
                });
            }
            if spec.poll_interval_ms == 0 || spec.poll_interval_ms > MAX_LATENCY_MS {
                return Err(self.error(
                    self.find_field("poll_interval_ms", "0", 0),
                    "poll_interval_ms must be between 1 and 86400000".into(),
                ));
            }
            shops.push(ShopDef {
                node,
                items,
                poll_interval_us: spec.poll_interval_ms * 1000,
                invoice_expiry_s: spec.invoice_expiry_s,
            });
        }
        // Script.
        let mut script = Vec::with_capacity(raw.script.len());
        let positive = |field: &str, value: u64| -> Result<(), ScenarioError> {
            if value == 0 {
                return Err(
                    self.error(self.find_field(field, "0", 0), format!("{field} must be positive"))
                );
            }
            Ok(())
        };
        for step in &raw.script {
            script.push(match step {
                StepSpec::Connect { from, to } => {
                    let (from, to) = pair(from, to, "connection")?;
                    Step::Connect { from, to }
                }
                StepSpec::FundChannel { from, to, amount_sat, push_msat, announce } => {
                    let (a, b) = pair(from, to, "channel")?;
                    positive("amount_sat", *amount_sat)?;
                    money("amount_sat", *amount_sat)?;
                    let dust_sat = nodes[a.index()]
                        .config
                        .channel
                        .dust_limit_sat
                        .max(nodes[b.index()].config.channel.dust_limit_sat);
                    if *amount_sat < dust_sat {
                        return Err(self.error(
                            self.find_field("amount_sat", &amount_sat.to_string(), 0),
                            format!(
                                "funding {amount_sat} sat is below the dust limit {dust_sat} sat"
                            ),
                        ));
                    }
                    if *push_msat > amount_sat * 1000 {
                        return Err(self.error(
                            self.find_field("push_msat", &push_msat.to_string(), 0),
                            "push_msat is above the funding".into(),
                        ));
                    }
                    Step::FundChannel {
                        from: a,
                        to: b,
                        amount_sat: *amount_sat,
                        push_msat: *push_msat,
                        announce: *announce,
                    }
                }
                StepSpec::WaitChannelReady { from, to } => {
                    let (from, to) = pair(from, to, "channel")?;
                    Step::WaitChannelReady { from, to }
                }
                StepSpec::Buy { customer, shop, item } => {
                    let customer_id = resolve(customer)?;
                    let shop_node = resolve(shop)?;
                    let Some(shop_index) = shops.iter().position(|s| s.node == shop_node) else {
                        return Err(self.error(
                            self.find_field("shop", &format!("{shop:?}"), 0),
                            format!("node {shop:?} runs no shop"),
                        ));
                    };
                    if customer_id == shop_node {
                        return Err(self.error(
                            self.find_field("customer", &format!("{customer:?}"), 0),
                            format!("{customer:?} buys from itself"),
                        ));
                    }
                    let Some(item_index) =
                        shops[shop_index].items.iter().position(|i| &i.name == item)
                    else {
                        return Err(self.error(
                            self.find_string(item),
                            format!("shop {shop:?} sells no {item:?}"),
                        ));
                    };
                    Step::Buy { customer: customer_id, shop: shop_index, item: item_index }
                }
                StepSpec::Pay { from, to, amount_msat, router } => {
                    let (from, to) = pair(from, to, "payment")?;
                    positive("amount_msat", *amount_msat)?;
                    money_msat("amount_msat", *amount_msat)?;
                    if let Some(router) = router {
                        self.check_router(router)?;
                    }
                    Step::Pay { from, to, amount_msat: *amount_msat, router: *router }
                }
                StepSpec::Keysend { from, to, amount_msat, router } => {
                    let (from, to) = pair(from, to, "payment")?;
                    positive("amount_msat", *amount_msat)?;
                    money_msat("amount_msat", *amount_msat)?;
                    if let Some(router) = router {
                        self.check_router(router)?;
                    }
                    Step::Keysend { from, to, amount_msat: *amount_msat, router: *router }
                }
                StepSpec::Close { from, to } => {
                    let (from, to) = pair(from, to, "close")?;
                    Step::Close { from, to }
                }
                StepSpec::Sleep { duration_ms } => {
                    Step::Sleep { duration_us: duration_ms.saturating_mul(1000) }
                }
                StepSpec::WaitBlocks { blocks } => Step::WaitBlocks { blocks: *blocks },
            });
        }
        let mut faults = Vec::with_capacity(raw.faults.len());
        let links_between =
            |a: &[String], b: &[String]| -> Result<Vec<(NodeId, NodeId)>, ScenarioError> {
                let mut links = Vec::new();
                for x in a {
                    for y in b {
                        let (x, y) = pair(x, y, "link")?;
                        links.push((x.min(y), x.max(y)));
                    }
                }
                links.sort();
                links.dedup();
                if links.is_empty() {
                    return Err(self.error(
                        self.find_field("a", "[]", 0).or(self.find_field("b", "[]", 0)),
                        "a link fault needs a node on each side".into(),
                    ));
                }
                Ok(links)
            };
        let duration = |field: &str, value: u64| -> Result<u64, ScenarioError> {
            if value == 0 || value > MAX_DURATION_S {
                return Err(self.error(
                    self.find_field(field, &value.to_string(), 0),
                    format!("{field} must be 1 to {MAX_DURATION_S}"),
                ));
            }
            Ok(value * 1_000_000)
        };
        for spec in &raw.faults {
            if spec.at_ms > MAX_DURATION_S * 1000 {
                return Err(self.error(
                    self.find_field("at_ms", &spec.at_ms.to_string(), 0),
                    "at_ms is beyond ten years".into(),
                ));
            }
            let fault = match &spec.fault {
                FaultSpec::Crash { node, duration_s } => Fault::Crash {
                    node: resolve(node)?,
                    duration_us: duration("duration_s", *duration_s)?,
                },
                FaultSpec::ForceClose { node, peer } => {
                    let (node, peer) = pair(node, peer, "force close")?;
                    Fault::ForceClose { node, peer }
                }
                FaultSpec::Partition { a, b, duration_s } => Fault::Partition {
                    links: links_between(a, b)?,
                    duration_us: duration("duration_s", *duration_s)?,
                },
                FaultSpec::LatencySpike { a, b, extra_ms, duration_s } => {
                    if *extra_ms > MAX_LATENCY_MS {
                        return Err(self.error(
                            self.find_field("extra_ms", &extra_ms.to_string(), 0),
                            "extra_ms is more than a day".into(),
                        ));
                    }
                    Fault::LatencySpike {
                        links: links_between(a, b)?,
                        extra_us: extra_ms * 1000,
                        duration_us: duration("duration_s", *duration_s)?,
                    }
                }
                FaultSpec::SetPolicy {
                    node,
                    peer,
                    fee_base_msat,
                    fee_proportional_millionths,
                    cltv_expiry_delta,
                    disabled,
                } => {
                    let node_id = resolve(node)?;
                    let peer = match peer {
                        Some(p) => Some(pair(node, p, "policy change")?.1),
                        None => None,
                    };
                    Fault::SetPolicy {
                        node: node_id,
                        peer,
                        fee_base_msat: *fee_base_msat,
                        fee_proportional_millionths: *fee_proportional_millionths,
                        cltv_expiry_delta: *cltv_expiry_delta,
                        disabled: *disabled,
                    }
                }
            };
            faults.push((SimTime::from_millis(spec.at_ms), fault));
        }
        if let Some(r) = &raw.random_faults {
            let rates = [
                ("crashes_per_node_day", r.crashes_per_node_day),
                ("force_closes_per_channel_day", r.force_closes_per_channel_day),
                ("partitions_per_node_day", r.partitions_per_node_day),
                ("spikes_per_node_day", r.spikes_per_node_day),
            ];
            for (field, rate) in rates {
                if !(0.0..=1_000_000.0).contains(&rate) {
                    return Err(self.error(
                        self.find_field(field, "", 0),
                        format!("{field} must be 0 to 1000000 per day"),
                    ));
                }
            }
            if r.start_s > r.end_s || r.end_s > MAX_DURATION_S {
                return Err(self.error(
                    self.find_field("end_s", "", 0),
                    "random faults need start_s <= end_s <= ten years".into(),
                ));
            }
            let ranges = [
                ("crash_min_s", r.crash_min_s, r.crash_max_s),
                ("partition_min_s", r.partition_min_s, r.partition_max_s),
            ];
            for (field, lo, hi) in ranges {
                if lo == 0 || lo > hi || hi > MAX_DURATION_S {
                    return Err(self.error(
                        self.find_field(field, "", 0),
                        format!("{field} must be positive and not above its maximum"),
                    ));
                }
            }
            if r.spike_s == 0 || r.spike_s > MAX_DURATION_S || r.spike_extra_ms > MAX_LATENCY_MS {
                return Err(self.error(
                    self.find_field("spike_s", "", 0),
                    "spike_s must be positive and spike_extra_ms at most a day".into(),
                ));
            }
        }
        if raw.stop.max_duration_s == 0 {
            return Err(self.error(
                self.find_field("max_duration_s", "0", 0),
                "max_duration_s must be positive".into(),
            ));
        }
        Ok(Scenario {
            name: raw.name,
            description: raw.description,
            seed: raw.seed,
            path: self.file.to_string(),
            file_sha256: sha256(self.source.as_bytes()),
            chain: raw.chain,
            links: LinksDef { latency: raw.links.latency, overrides },
            nodes,
            channels,
            shops,
            script,
            generate: raw.generate,
            imported,
            workload: raw.workload,
            payment_list,
            faults,
            random_faults: raw.random_faults,
            max_duration: SimTime::from_secs(raw.stop.max_duration_s),
            stop_when_idle: raw.stop.when_idle,
        })
    }
}
