//! The network a run starts with: nodes and channels imported from a snapshot, a generated
//! network, link latencies, and the channels listed in the file. Imported and generated nodes get
//! their settings from the same `node_config` as listed ones. The snapshot is read here (through
//! [`crate::import`]); drawing the generated channels and opening any channel is genesis's job.

use super::Validator;
use crate::generate::{BalanceSplit, GenerateSpec, TopologyKind};
use crate::link::{LatencyModel, LinksDef};
use crate::scenario::file::{
    ChannelSpec, ImportSpec, LinksSpec, NodeOverrides, PolicySpec, ScenarioFile,
};
use crate::scenario::locate::ScenarioError;
use crate::scenario::model::{
    ChannelDef, ImportedNetwork, MAX_GENERATED_CHANNELS, MAX_GENERATED_NODES, MAX_LATENCY_MS,
    MAX_MONEY_SAT, NodeDef,
};
use node_core::NodeId;
use node_core::config::NodeConfig;
use node_core::policy::ChannelPolicy;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

impl Validator<'_> {
    /// Reads the snapshot of `spec` and adds its nodes, named `<prefix><i>`, after the listed
    /// ones. Errors in the snapshot name the snapshot's file and position.
    pub(super) fn import(
        &mut self,
        spec: &ImportSpec,
        raw: &ScenarioFile,
        nodes: &mut Vec<NodeDef>,
    ) -> Result<ImportedNetwork, ScenarioError> {
        let bad = |field: &str, message: String| self.at.at_field(field, "", message);
        let base = Path::new(self.at.file).parent().unwrap_or(Path::new(""));
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
        self.check_name(&spec.name_prefix, "name_prefix", "name_prefix", "")?;
        if spec.wallet_sat > MAX_MONEY_SAT {
            return Err(bad("wallet_sat", "wallet_sat is more than all bitcoin".into()));
        }
        let config =
            Arc::new(self.node_config(raw, spec.implementation, &NodeOverrides::default())?);
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
            if self.ids.insert(name.clone(), NodeId(first + i as u32)).is_some() {
                return Err(self.at.error(
                    self.at.find_string(&name),
                    format!("imported node {name:?} clashes with a listed node"),
                ));
            }
            nodes.push(NodeDef { name, config: config.clone(), wallet_sat: spec.wallet_sat });
        }
        Ok(ImportedNetwork { graph, first, balance: spec.balance })
    }

    /// Checks the generated network `g` and adds its nodes, named `<prefix><i>`, at the end.
    /// Returns the most sat its channels can hold (0 for mainnet's capacities, which stay within
    /// the funds check's range by themselves).
    pub(super) fn generate(
        &mut self,
        g: &GenerateSpec,
        raw: &ScenarioFile,
        nodes: &mut Vec<NodeDef>,
    ) -> Result<u64, ScenarioError> {
        let bad = |field: &str, message: String| Err(self.at.at_field(field, "", message));
        if g.nodes < 2 || g.nodes > MAX_GENERATED_NODES {
            return bad(
                "nodes",
                format!("a generated network has 2 to {MAX_GENERATED_NODES} nodes"),
            );
        }
        match g.kind {
            TopologyKind::ScaleFree { links_per_node }
                if links_per_node == 0 || links_per_node > 1000 =>
            {
                return bad("links_per_node", "links_per_node must be 1 to 1000".into());
            }
            TopologyKind::ErdosRenyi { channels }
                if channels == 0
                    || u64::from(channels) > u64::from(g.nodes) * u64::from(g.nodes - 1) / 2 =>
            {
                return bad(
                    "channels",
                    format!("an Erdős–Rényi graph of {} nodes has 1 to n(n-1)/2 channels", g.nodes),
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
                // The field is missing: point at the kind that needs it.
                return bad(
                    "kind",
                    "a generated network needs a capacity range (min_sat, max_sat), unless it \
                     is MainnetLike"
                        .into(),
                );
            }
            Some(c) if c.min_sat < 1_000 || c.min_sat > c.max_sat || c.max_sat > MAX_MONEY_SAT => {
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
            // Up to 37 a node, 2.67 on average with a standard deviation of 5.4 (half of
            // mainnet's degrees): counted as 3 a node, which the draw cannot reach near the
            // limit (1,000,000 nodes: a mean of 2.67M channels, 0.33M below the limit, is 61
            // standard deviations of the draw's sum; seed 1 makes 2,675,487). Their capacities
            // are mainnet's, at most 10 BTC and 0.128 BTC on average: 0.34M BTC at 1,000,000
            // nodes (seed 1: 342,067 BTC). This bound is a likelihood, not a guarantee: only a
            // draw of 37 channels of 5 BTC or more for every node of a 1,000,000-node network
            // would reach 2^64 msat (184M BTC) in the funds check's sums.
            TopologyKind::MainnetLike => n * 3,
            TopologyKind::ErdosRenyi { channels } => u64::from(channels),
            TopologyKind::Ring | TopologyKind::Line | TopologyKind::Star => n,
            TopologyKind::Grid { .. } => 2 * n,
        };
        if most_channels > MAX_GENERATED_CHANNELS {
            return bad(
                "nodes",
                format!(
                    "the generated network could have {most_channels} channels: at most \
                     {MAX_GENERATED_CHANNELS}, to fit in 8 GiB"
                ),
            );
        }
        // Without a range (mainnet's capacities, at most 1,000,000,000 sat each), the sum
        // stays below 2^64 msat within the channel cap, so the funds check cannot overflow.
        let most_sat = g.capacity.map_or(0, |c| most_channels.saturating_mul(c.max_sat));
        if let Some(f) = &g.fees
            && (f.base_min_msat > f.base_max_msat
                || f.ppm_min > f.ppm_max
                || f.ppm_max > 1_000_000
                || f.cltv_min > f.cltv_max
                || f.cltv_min == 0)
        {
            return bad(
                "fees",
                "fees need base_min_msat <= base_max_msat, ppm_min <= ppm_max <= 1000000 and 1 \
                 <= cltv_min <= cltv_max"
                    .into(),
            );
        }
        self.check_name(&g.name_prefix, "name_prefix", "name_prefix", "")?;
        // Every generated node has the same settings: built and checked once, after the first
        // node's name is known not to clash.
        let mut shared: Option<Arc<NodeConfig>> = None;
        for i in 0..g.nodes {
            let name = format!("{}{i}", g.name_prefix);
            if self.ids.contains_key(name.as_str()) {
                return Err(self.at.error(
                    self.at.find_string(&name),
                    format!("generated node {name:?} clashes with a listed node"),
                ));
            }
            let config = match &shared {
                Some(config) => config.clone(),
                None => shared.insert(Arc::new(self.generated_config(g, raw)?)).clone(),
            };
            nodes.push(NodeDef { name, config, wallet_sat: 0 });
        }
        for (i, node) in nodes.iter().enumerate().skip(nodes.len() - g.nodes as usize) {
            self.ids.insert(node.name.clone(), NodeId(i as u32));
        }
        Ok(most_sat)
    }

    /// The settings of every generated node; the smallest capacity must not be dust to them.
    fn generated_config(
        &self,
        g: &GenerateSpec,
        raw: &ScenarioFile,
    ) -> Result<NodeConfig, ScenarioError> {
        let config = self.node_config(raw, g.implementation, &NodeOverrides::default())?;
        let min_sat =
            g.capacity.map_or(crate::generate::mainnet::CAPACITY_SAT.0[0].1, |c| c.min_sat);
        let dust_sat = config.channel.dust_limit_sat;
        if min_sat < dust_sat {
            return Err(self.at.at_field(
                "min_sat",
                "",
                format!("generated capacities start below the dust limit {dust_sat} sat"),
            ));
        }
        Ok(config)
    }

    /// The links' latency models, with overrides keyed by (smaller id, larger id).
    pub(super) fn links(&self, spec: &LinksSpec) -> Result<LinksDef, ScenarioError> {
        self.latency(&spec.latency)?;
        let mut overrides = BTreeMap::new();
        for o in &spec.overrides {
            let (a, b) = self.pair(&o.a, &o.b, "link")?;
            self.latency(&o.latency)?;
            overrides.insert((a.min(b), a.max(b)), o.latency);
        }
        Ok(LinksDef { latency: spec.latency, overrides })
    }

    /// A latency model within a day and with sane parameters.
    fn latency(&self, model: &LatencyModel) -> Result<(), ScenarioError> {
        let largest = match *model {
            LatencyModel::Constant { latency_ms } => latency_ms,
            LatencyModel::Uniform { max_ms, .. } => max_ms,
            LatencyModel::LogNormal { median_ms, .. } => median_ms,
        };
        if largest > MAX_LATENCY_MS {
            return Err(self.at.at_field(
                "latency",
                "",
                format!("a latency of {largest} ms is more than a day"),
            ));
        }
        match *model {
            LatencyModel::Uniform { min_ms, max_ms } if min_ms > max_ms => Err(self.at.at_field(
                "min_ms",
                &min_ms.to_string(),
                format!("latency min_ms {min_ms} is above max_ms {max_ms}"),
            )),
            LatencyModel::LogNormal { sigma, .. } if !(0.0..=10.0).contains(&sigma) => Err(self
                .at
                .at_field("sigma", "", format!("latency sigma {sigma} must be between 0 and 10"))),
            _ => Ok(()),
        }
    }

    /// The channels listed in the file, resolved; a side without its own policy takes its
    /// node's, and every `htlc_maximum_msat` is capped at the capacity.
    pub(super) fn channels(
        &self,
        specs: &[ChannelSpec],
        nodes: &[NodeDef],
    ) -> Result<Vec<ChannelDef>, ScenarioError> {
        let mut channels = Vec::with_capacity(specs.len());
        for spec in specs {
            let (from, to) = self.pair(&spec.from, &spec.to, "channel")?;
            self.money("capacity_sat", spec.capacity_sat)?;
            let (fc, tc) = (&nodes[from.index()].config, &nodes[to.index()].config);
            let dust_sat = fc.channel.dust_limit_sat.max(tc.channel.dust_limit_sat);
            if spec.capacity_sat < dust_sat {
                return Err(self.at.at_field(
                    "capacity_sat",
                    &spec.capacity_sat.to_string(),
                    format!(
                        "channel capacity {} sat is below the dust limit {dust_sat} sat",
                        spec.capacity_sat
                    ),
                ));
            }
            let from_balance_msat = match (spec.from_balance_sat, spec.from_balance_msat) {
                (Some(_), Some(msat)) => {
                    return Err(self.at.at_field(
                        "from_balance_msat",
                        &msat.to_string(),
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
                return Err(self.at.at_field(
                    field,
                    &value.to_string(),
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
        Ok(channels)
    }
}
