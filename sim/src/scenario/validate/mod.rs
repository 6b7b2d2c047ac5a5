//! Validation: the checks that turn a parsed [`ScenarioFile`] into a [`Scenario`], in a fixed
//! order, stopping at the first error, which points at the bad value through the [`Locator`].
//! This file runs them in that order, checks the scenario's own name, chain and stop condition,
//! and holds what the checks share (the map from names to node ids, the name rule, the money,
//! router and node-reference checks); the name rule is also a sweep's ([`check_name_in`]). The
//! checks themselves are split by what they check: nodes and their settings (`nodes`), the
//! network they start with (`network`), payments (`workload`), the script and its shops
//! (`script`), and faults (`faults`). Parsing is `parse_with`'s job and finding positions
//! `locate`'s; router parameter ranges are node-core's ([`RouterConfig::validate`]).

mod faults;
mod network;
mod nodes;
mod script;
mod workload;

use super::file::ScenarioFile;
use super::locate::{Locator, ScenarioError};
use super::model::{MAX_DURATION_S, MAX_MONEY_SAT, Scenario};
use node_core::ids::sha256;
use node_core::router::RouterConfig;
use node_core::{NodeId, SimTime};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the checks share: the source they point into, and every node named so far with its id.
struct Validator<'a> {
    /// The scenario's source.
    at: Locator<'a>,
    /// Node names to ids: the listed nodes, then the imported, then the generated.
    ids: BTreeMap<String, NodeId>,
}

/// Checks `raw` (parsed from the source `at` holds) and resolves it into a [`Scenario`].
pub(super) fn validate(at: Locator<'_>, raw: ScenarioFile) -> Result<Scenario, ScenarioError> {
    let mut v = Validator { at, ids: BTreeMap::new() };
    let literal = format!("{:?}", raw.name);
    v.check_name(&raw.name, &format!("scenario name {literal}"), "name", &literal)?;
    v.chain_and_stop(&raw)?;
    if raw.nodes.is_empty() && raw.generate.is_none() && raw.import.is_none() {
        return Err(v.at.at_field("nodes", "[", "a scenario needs at least one node".into()));
    }
    // Every sat the run starts with, in wallets and channels: the funds check adds them up.
    let mut created_sat = 0u64;
    let mut nodes = v.listed_nodes(&raw)?;
    for spec in &raw.nodes {
        created_sat = created_sat.saturating_add(spec.wallet_sat);
    }
    let imported = match &raw.import {
        Some(spec) => {
            let network = v.import(spec, &raw, &mut nodes)?;
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
        created_sat = created_sat.saturating_add(v.generate(g, &raw, &mut nodes)?);
    }
    if let Some(router) = &raw.router {
        v.router(router)?;
    }
    let unknown_ppm = u64::from(raw.views.unknown_ppm);
    v.within("unknown_ppm", unknown_ppm, 0, 1_000_000, "0 to 1000000 (every channel)")?;
    if let Some(w) = &raw.workload {
        v.workload(w, &raw.shops)?;
    }
    let links = v.links(&raw.links)?;
    let channels = v.channels(&raw.channels, &nodes)?;
    for c in &channels {
        created_sat = created_sat.saturating_add(c.capacity_sat);
    }
    if created_sat > MAX_MONEY_SAT {
        return Err(v.at.error(
            None,
            format!(
                "wallets and channels hold {created_sat} sat, more than all bitcoin \
                 ({MAX_MONEY_SAT} sat)"
            ),
        ));
    }
    let payment_list = match &raw.payments {
        Some(spec) => Some(Arc::new(v.payment_list(spec, imported.as_deref(), nodes.len())?)),
        None => None,
    };
    let shops = v.shops(&raw.shops)?;
    let script = v.script(&raw.script, &nodes, &shops)?;
    let (faults, fault_ranks) = v.faults(&raw.faults)?;
    if let Some(r) = &raw.random_faults {
        v.random_faults(r)?;
    }
    if raw.stop.max_duration_s == 0 {
        return Err(v.at.at_field("max_duration_s", "0", "max_duration_s must be positive".into()));
    }
    if let Some(interval_s) = raw.outputs.series_interval_s
        && !(1..=MAX_DURATION_S).contains(&interval_s)
    {
        return Err(v.at.at_field(
            "series_interval_s",
            &interval_s.to_string(),
            format!("series_interval_s must be 1 to {MAX_DURATION_S} seconds"),
        ));
    }
    Ok(Scenario {
        name: raw.name,
        description: raw.description,
        seed: raw.seed,
        path: at.file.to_string(),
        file_sha256: sha256(at.source.as_bytes()),
        chain: raw.chain,
        links,
        nodes,
        channels,
        shops,
        script,
        generate: raw.generate,
        imported,
        workload: raw.workload,
        payment_list,
        faults,
        fault_ranks,
        random_faults: raw.random_faults,
        max_duration: SimTime::from_secs(raw.stop.max_duration_s),
        stop_when_idle: raw.stop.when_idle,
        views: raw.views,
        outputs: raw.outputs,
    })
}

/// Checks a name that is not a scenario's by the same rule (a sweep's, in the sweep file `file`
/// whose text is `source`): the error points at the first `field: value` there.
pub(crate) fn check_name_in(
    file: &str,
    source: &str,
    name: &str,
    what: &str,
    field: &str,
    value: &str,
) -> Result<(), ScenarioError> {
    let v = Validator { at: Locator::new(file, source), ids: BTreeMap::new() };
    v.check_name(name, what, field, value)
}

impl Validator<'_> {
    /// The chain's block interval and fee rate, and the run's length: the last block's height
    /// must fit the 24 bits a short channel id gives it.
    fn chain_and_stop(&self, raw: &ScenarioFile) -> Result<(), ScenarioError> {
        let (chain, stop) = (&raw.chain, &raw.stop);
        if chain.block_interval_s == 0 {
            return Err(self.at.at_field(
                "block_interval_s",
                "0",
                "block_interval_s must be positive".into(),
            ));
        }
        if chain.block_interval_s > MAX_DURATION_S {
            return Err(self.at.at_field(
                "block_interval_s",
                &chain.block_interval_s.to_string(),
                format!("block_interval_s must be at most {MAX_DURATION_S}"),
            ));
        }
        if stop.max_duration_s > MAX_DURATION_S {
            return Err(self.at.at_field(
                "max_duration_s",
                &stop.max_duration_s.to_string(),
                format!("max_duration_s must be at most {MAX_DURATION_S} (ten years)"),
            ));
        }
        let start_height = u64::from(chain.start_height);
        let last_height = start_height + stop.max_duration_s / chain.block_interval_s + 1;
        if last_height >= 1 << 24 {
            return Err(self.at.at_field(
                "start_height",
                &chain.start_height.to_string(),
                format!(
                    "the chain would pass height 2^24 (short channel ids hold 24 bits): \
                     start_height {} plus {} blocks",
                    chain.start_height,
                    last_height - start_height
                ),
            ));
        }
        if chain.feerate_per_kw > 1_000_000 {
            return Err(self.at.at_field(
                "feerate_per_kw",
                &chain.feerate_per_kw.to_string(),
                "feerate_per_kw must be at most 1000000".into(),
            ));
        }
        if chain.feerate_per_kw < 253 {
            return Err(self.at.at_field(
                "feerate_per_kw",
                &chain.feerate_per_kw.to_string(),
                "feerate_per_kw must be at least 253 (the relay floor)".into(),
            ));
        }
        Ok(())
    }

    /// The one rule for names (the scenario's, the nodes', and the prefixes of imported and
    /// generated nodes' names): letters, digits, `_` and `-`, not empty, since they appear in
    /// output paths and traces. `what` starts the message; the error points at the first
    /// `field: value`.
    fn check_name(
        &self,
        name: &str,
        what: &str,
        field: &str,
        value: &str,
    ) -> Result<(), ScenarioError> {
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(self.at.at_field(
                field,
                value,
                format!("{what} must be letters, digits, '_' or '-'"),
            ));
        }
        Ok(())
    }

    /// An amount in sat no larger than all bitcoin.
    fn money(&self, field: &str, value: u64) -> Result<(), ScenarioError> {
        if value > MAX_MONEY_SAT {
            return Err(self.at.at_field(
                field,
                &value.to_string(),
                format!("{field} {value} is more than all bitcoin ({MAX_MONEY_SAT} sat)"),
            ));
        }
        Ok(())
    }

    /// An amount in msat no larger than all bitcoin.
    fn money_msat(&self, field: &str, value: u64) -> Result<(), ScenarioError> {
        if value > MAX_MONEY_SAT * 1000 {
            return Err(self.at.at_field(
                field,
                &value.to_string(),
                format!("{field} {value} is more than all bitcoin"),
            ));
        }
        Ok(())
    }

    /// A value within `lo..=hi`, with `what` saying so in the error (e.g. "1 to 483").
    fn within(
        &self,
        field: &str,
        value: u64,
        lo: u64,
        hi: u64,
        what: &str,
    ) -> Result<(), ScenarioError> {
        if !(lo..=hi).contains(&value) {
            return Err(self.at.at_field(
                field,
                &value.to_string(),
                format!("{field} {value} must be {what}"),
            ));
        }
        Ok(())
    }

    /// A value that must not be zero.
    fn positive(&self, field: &str, value: u64) -> Result<(), ScenarioError> {
        if value == 0 {
            return Err(self.at.at_field(field, "0", format!("{field} must be positive")));
        }
        Ok(())
    }

    /// Router parameters in the ranges node-core's routers handle.
    fn router(&self, router: &RouterConfig) -> Result<(), ScenarioError> {
        router
            .validate()
            .map_err(|e| self.at.at_field(e.field, &e.value.to_string(), e.to_string()))
    }

    /// The id of the node named `name`.
    fn resolve(&self, name: &str) -> Result<NodeId, ScenarioError> {
        self.ids.get(name).copied().ok_or_else(|| {
            self.at.error(self.at.find_string(name), format!("unknown node {name:?}"))
        })
    }

    /// The ids of two different nodes; `what` names the pair's use in the error.
    fn pair(&self, from: &str, to: &str, what: &str) -> Result<(NodeId, NodeId), ScenarioError> {
        let (a, b) = (self.resolve(from)?, self.resolve(to)?);
        if a == b {
            return Err(self.at.at_field(
                "to",
                &format!("{to:?}"),
                format!("{what} from {from:?} to itself"),
            ));
        }
        Ok((a, b))
    }
}
