//! The scenario file's schema: what a RON scenario may say, field by field, with serde's defaults
//! (every field's unit and default is also in `scenarios/README.md`). Nodes are still named by
//! their names and quantities still in the file's units; nothing here is checked beyond what serde
//! refuses (unknown fields, wrong types). Turning a [`ScenarioFile`] into a
//! [`Scenario`](super::Scenario) is `validate`'s job.

use crate::generate::{BalanceSplit, GenerateSpec};
use crate::import::GraphFormat;
use crate::link::LatencyModel;
use crate::workload::{PaymentListSpec, WorkloadSpec};
use node_core::config::{Implementation, NodeConfig};
use node_core::router::RouterConfig;
use serde::Deserialize;

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
    /// What each node knows of the network at the start.
    #[serde(default)]
    pub views: ViewsSpec,
    /// The router every node's payments use, unless a node's `config`, a script step or the
    /// workload names another; absent, each node pays with its preset's own router.
    #[serde(default)]
    pub router: Option<RouterConfig>,
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
    /// What a run measures beyond its payments and attempts.
    #[serde(default)]
    pub outputs: OutputsSpec,
}

/// What a run measures beyond its payments and attempts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputsSpec {
    /// Classify every payment at its start with the feasibility oracle ([`crate::oracle`]),
    /// which reads true balances no node has; the class is a results column. Off by default:
    /// it costs a maximum flow per payment.
    #[serde(default)]
    pub feasibility_oracle: bool,
    /// Sample the time series (`series.csv`, [`crate::series`]) every this many seconds; none:
    /// no series.
    #[serde(default)]
    pub series_interval_s: Option<u64>,
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

/// A node a fault strikes: by name, or by rank among the nodes of the start.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum NodeRef {
    /// The node of this name.
    Name(String),
    /// By rank, or every peer.
    Rank(Rank),
}

/// A node by rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Rank {
    /// The node with the `k`-th most capacity in its channels at the start (from 1; ties: the
    /// lower id), known once the network is built.
    Largest(u32),
    /// Every peer the node has a channel with when the fault strikes (`ForceClose`'s `peer`
    /// only).
    All,
}

/// A fault.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum FaultSpec {
    /// The node crashes and restarts `duration_s` later: it loses its connections and what it
    /// keeps in memory, and catches up with the chain on restart.
    Crash {
        /// The node: a name, or `Largest(k)`.
        node: NodeRef,
        /// Time offline, seconds.
        duration_s: u64,
    },
    /// The node closes its channels with the peer unilaterally (with every peer: `All`).
    ForceClose {
        /// The closing node: a name, or `Largest(k)`.
        node: NodeRef,
        /// The peer: a name, `Largest(k)`, or `All`.
        peer: NodeRef,
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

/// The latency of a link a scenario does not set: log-normal, median 50 ms one way, σ 0.5
/// (5% of messages under 22 ms, 5% over 114 ms). boltsim's assumption, not a measurement: no
/// published per-link latency distribution of the Lightning Network exists (FIDELITY.md); the
/// median keeps the earlier constant's 50 ms, and the spread gives latency distributions without
/// the steps a constant makes.
pub const DEFAULT_LATENCY: LatencyModel = LatencyModel::LogNormal { median_ms: 50, sigma: 0.5 };

/// What each node knows of the network at the start.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ViewsSpec {
    /// Millionths of the channels of the start (other than its own) each node does not know,
    /// drawn per node and channel from the stream `views/<name>`; it learns one from a newer
    /// `channel_update` of it. 0: every node knows them all.
    pub unknown_ppm: u32,
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
        LinksSpec { latency: DEFAULT_LATENCY, overrides: Vec::new() }
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
    /// Largest sum of CLTV deltas of a route it plans, blocks.
    pub max_total_cltv_delta: Option<u32>,
    /// Latest outgoing expiry it forwards, blocks above its height.
    pub max_forward_cltv_delta: Option<u32>,
    /// How long after a policy change it still accepts the previous fee, seconds.
    pub policy_grace_s: Option<u32>,
    /// Applies the `channel_update` in a payment failure to its graph.
    pub apply_failure_updates: Option<bool>,
    /// Interval of the commitment ticker its new updates wait for, ms (0: sign at once).
    pub commit_batch_ms: Option<u64>,
    /// Shortest hold of a received HTLC before it is forwarded or claimed, ms.
    pub forward_hold_min_ms: Option<u64>,
    /// Longest hold, ms.
    pub forward_hold_max_ms: Option<u64>,
    /// Time to persist a channel state before `commitment_signed` or `revoke_and_ack` leaves, µs.
    pub persist_us: Option<u64>,
    /// The most a channel may hold in dust HTLCs, msat (a fixed limit).
    pub max_dust_exposure_msat: Option<u64>,
    /// Most attempt rounds of a payment (0: no limit).
    pub max_rounds: Option<u32>,
}

impl NodeOverrides {
    /// Sets every field given here in `config`.
    pub(super) fn apply(&self, config: &mut NodeConfig) {
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
            max_total_cltv_delta => max_total_cltv_delta,
            max_forward_cltv_delta => max_forward_cltv_delta,
            policy_grace_s => policy_grace_s,
            apply_failure_updates => apply_failure_updates,
            commit_batch_ms => commit_batch_ms,
            forward_hold_min_ms => forward_hold_min_ms,
            forward_hold_max_ms => forward_hold_max_ms,
            persist_us => persist_us,
            max_rounds => max_rounds,
        );
        if let Some(msat) = self.max_dust_exposure_msat {
            config.channel.max_dust_exposure = node_core::config::DustExposure::Fixed(msat);
        }
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
