//! The nodes listed in a scenario and every node's settings. One function builds and checks a
//! node's [`NodeConfig`] for listed, imported and generated nodes alike: the preset, the chain's
//! fee rate, the scenario's router, `node_defaults`, then the node's own overrides. Imported and
//! generated nodes are added by `network`; this file does not read snapshots or draw networks.

use super::Validator;
use crate::scenario::file::{NodeOverrides, ScenarioFile};
use crate::scenario::locate::ScenarioError;
use crate::scenario::model::{MAX_LATENCY_MS, NodeDef};
use node_core::NodeId;
use node_core::config::{Implementation, NodeConfig};
use std::sync::Arc;

impl Validator<'_> {
    /// The listed nodes, in file order, each named in `ids` by its index.
    pub(super) fn listed_nodes(
        &mut self,
        raw: &ScenarioFile,
    ) -> Result<Vec<NodeDef>, ScenarioError> {
        let mut nodes = Vec::with_capacity(raw.nodes.len());
        for spec in &raw.nodes {
            let literal = format!("{:?}", spec.name);
            self.check_name(&spec.name, &format!("node name {literal}"), "name", &literal)?;
            if self.ids.contains_key(spec.name.as_str()) {
                return Err(self.at.error(
                    self.at.find_field("name", &literal, 1),
                    format!("duplicate node name {literal}"),
                ));
            }
            self.ids.insert(spec.name.clone(), NodeId(nodes.len() as u32));
            let config = self.node_config(raw, spec.implementation, &spec.config)?;
            self.money("wallet_sat", spec.wallet_sat)?;
            let config = Arc::new(config);
            nodes.push(NodeDef { name: spec.name.clone(), config, wallet_sat: spec.wallet_sat });
        }
        Ok(nodes)
    }

    /// The settings of a node of `implementation` whose own overrides are `own`: the preset, then
    /// the chain's fee rate, the scenario's router (if it names one), `node_defaults` and `own`, in that order.
    /// Checks the result: a router in range, 1 to 483 parts and HTLCs, a positive smallest
    /// part, an MPP timeout of at least 60 s, a dust limit of at least 354 sat, a reserve of at
    /// most the whole channel, an in-flight cap of at most 100%, amounts of at most all bitcoin
    /// and a gossip flush interval of at most a day.
    pub(super) fn node_config(
        &self,
        raw: &ScenarioFile,
        implementation: Implementation,
        own: &NodeOverrides,
    ) -> Result<NodeConfig, ScenarioError> {
        let mut config = NodeConfig::preset(implementation);
        config.feerate_per_kw = raw.chain.feerate_per_kw;
        if let Some(router) = raw.router {
            config.router = router;
        }
        raw.node_defaults.apply(&mut config);
        own.apply(&mut config);
        self.router(&config.router)?;
        if config.max_parts == 0 || config.max_parts > 483 {
            return Err(self.at.at_field(
                "max_parts",
                &config.max_parts.to_string(),
                "max_parts must be 1 to 483".into(),
            ));
        }
        if config.min_part_msat == 0 {
            return Err(self.at.at_field(
                "min_part_msat",
                "0",
                "min_part_msat must be at least 1".into(),
            ));
        }
        if config.mpp_timeout_s < 60 {
            return Err(self.at.at_field(
                "mpp_timeout_s",
                &config.mpp_timeout_s.to_string(),
                "mpp_timeout_s must be at least 60 (BOLT 4)".into(),
            ));
        }
        let channel = &config.channel;
        if channel.max_accepted_htlcs == 0 || channel.max_accepted_htlcs > 483 {
            return Err(self.at.at_field(
                "max_accepted_htlcs",
                &channel.max_accepted_htlcs.to_string(),
                "max_accepted_htlcs must be 1 to 483".into(),
            ));
        }
        // BOLT 2: a node fails a channel whose dust limit is below 354 sat.
        if channel.dust_limit_sat < 354 {
            return Err(self.at.at_field(
                "dust_limit_sat",
                &channel.dust_limit_sat.to_string(),
                "dust_limit_sat must be at least 354 (BOLT 2 floor)".into(),
            ));
        }
        self.money("dust_limit_sat", channel.dust_limit_sat)?;
        let reserve = u64::from(channel.reserve_ppm);
        self.within("reserve_ppm", reserve, 0, 1_000_000, "0 to 1000000 (the whole channel)")?;
        let in_flight = u64::from(channel.max_htlc_value_in_flight_percent);
        self.within("max_htlc_value_in_flight_percent", in_flight, 0, 100, "0 to 100")?;
        self.money_msat("htlc_minimum_msat", channel.htlc_minimum_msat)?;
        self.money_msat("min_part_msat", config.min_part_msat)?;
        let flush_ms = config.gossip_flush_interval_ms;
        self.within("gossip_flush_interval_ms", flush_ms, 0, MAX_LATENCY_MS, "at most a day")?;
        self.within("commit_batch_ms", config.commit_batch_ms, 0, MAX_LATENCY_MS, "at most a day")?;
        let (hold_min, hold_max) = (config.forward_hold_min_ms, config.forward_hold_max_ms);
        self.within("forward_hold_max_ms", hold_max, 0, MAX_LATENCY_MS, "at most a day")?;
        self.within("forward_hold_min_ms", hold_min, 0, hold_max, "at most forward_hold_max_ms")?;
        let far = u64::from(config.max_forward_cltv_delta);
        self.within("max_forward_cltv_delta", far, 1, 100_000, "1 to 100000 blocks")?;
        let total = u64::from(config.max_total_cltv_delta);
        self.within("max_total_cltv_delta", total, 1, 100_000, "1 to 100000 blocks")?;
        let persist_max_us = MAX_LATENCY_MS * 1000;
        self.within("persist_us", config.persist_us, 0, persist_max_us, "at most a day")?;
        Ok(config)
    }
}
