//! Payments: the random workload (who pays whom, how often, how much, with which routers) and
//! the payment list read from a CSV file, whose nodes are resolved here. Drawing arrivals and
//! sending payments is the world's job; the CSV format is [`crate::workload`]'s.

use super::Validator;
use crate::scenario::file::ShopSpec;
use crate::scenario::locate::ScenarioError;
use crate::scenario::model::{
    ImportedNetwork, MAX_DURATION_S, MAX_MONEY_SAT, MAX_WORKLOAD_PAYMENTS, PaymentListDef,
};
use crate::workload::{AmountSpec, Endpoints, PaymentListSpec, WorkloadSpec};
use node_core::NodeId;
use std::collections::BTreeMap;
use std::path::Path;

impl Validator<'_> {
    /// The workload's endpoints (named nodes must exist, once each; shops only as receivers,
    /// and only where a shop sells something), routers, rate, window and amounts.
    pub(super) fn workload(
        &self,
        w: &WorkloadSpec,
        shops: &[ShopSpec],
    ) -> Result<(), ScenarioError> {
        for (field, endpoints) in [("senders", &w.senders), ("receivers", &w.receivers)] {
            let bad = |message: String| Err(self.at.at_field(field, "", message));
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
                        return Err(self.at.error(
                            self.at.find_string(name),
                            format!("{field}: node {name:?} is listed twice"),
                        ));
                    }
                    if let Some(name) = names.iter().find(|n| !self.ids.contains_key(n.as_str())) {
                        return Err(self.at.error(
                            self.at.find_string(name),
                            format!("{field}: unknown node {name:?}"),
                        ));
                    }
                }
                Endpoints::Largest(0) => return bad(format!("{field}: Largest needs n >= 1")),
                Endpoints::Shops if field == "senders" => {
                    return bad("senders cannot be Shops; shops are receivers".into());
                }
                Endpoints::Shops if !shops.iter().any(|s| !s.items.is_empty()) => {
                    return bad("receivers: Shops needs a shop with items".into());
                }
                _ => {}
            }
        }
        let bad = |field: &str, message: String| Err(self.at.at_field(field, "", message));
        for router in &w.routers {
            self.router(router)?;
        }
        if !(0.0..=1_000_000.0).contains(&w.rate_per_s) {
            return bad("rate_per_s", "rate_per_s must be 0 to 1000000".into());
        }
        if w.start_s > w.end_s || w.end_s > MAX_DURATION_S {
            return bad("end_s", "the workload needs start_s <= end_s <= ten years".into());
        }
        // What the run can finish: the mainnet scale runs a few thousand payments a second.
        let expected = w.rate_per_s * (w.end_s - w.start_s) as f64;
        let payments = w.max_payments.map_or(expected, |most| expected.min(most as f64));
        if payments > MAX_WORKLOAD_PAYMENTS as f64 {
            return bad(
                "rate_per_s",
                format!(
                    "the workload would make about {payments:.0} payments: at most \
                     {MAX_WORKLOAD_PAYMENTS} (lower rate_per_s or the window, or set max_payments)"
                ),
            );
        }
        let max_msat = MAX_MONEY_SAT * 1000;
        match w.amount {
            AmountSpec::Fixed { amount_msat } if amount_msat == 0 || amount_msat > max_msat => {
                bad("amount_msat", "amount_msat must be positive and at most all bitcoin".into())
            }
            AmountSpec::Uniform { min_msat, max_msat: hi }
                if min_msat == 0 || min_msat > hi || hi > max_msat =>
            {
                bad("min_msat", "the amounts need 0 < min_msat <= max_msat <= all bitcoin".into())
            }
            AmountSpec::LogNormal { median_msat, sigma }
                if median_msat == 0 || median_msat > max_msat || !(0.0..=10.0).contains(&sigma) =>
            {
                bad(
                    "median_msat",
                    "log-normal amounts need 0 < median_msat <= all bitcoin and sigma 0 to 10"
                        .into(),
                )
            }
            AmountSpec::Normal { mean_msat, sigma_msat }
                if mean_msat == 0 || mean_msat > max_msat || sigma_msat > max_msat =>
            {
                bad(
                    "mean_msat",
                    "normal amounts need 0 < mean_msat <= all bitcoin and sigma_msat at most all \
                     bitcoin"
                        .into(),
                )
            }
            _ => Ok(()),
        }
    }

    /// Reads the payment list of `spec` (relative to the scenario file) and resolves its nodes:
    /// by name, or in CLoTH's layout by index, which names the nodes of the `imported` network
    /// by their id in its files, or without an import the scenario's first `node_count` nodes.
    /// Errors in the list name the list's file and position.
    pub(super) fn payment_list(
        &self,
        spec: &PaymentListSpec,
        imported: Option<&ImportedNetwork>,
        node_count: usize,
    ) -> Result<PaymentListDef, ScenarioError> {
        for router in &spec.routers {
            self.router(router)?;
        }
        let base = Path::new(self.at.file).parent().unwrap_or(Path::new(""));
        let path = base.join(&spec.file);
        let shown = path.display().to_string();
        let text = crate::input::read_file(&path)?;
        let cloth_ids: BTreeMap<&str, NodeId> = imported
            .map(|im| {
                let ids = im.graph.node_ids.iter().enumerate();
                ids.map(|(i, id)| (id.as_str(), NodeId(im.first + i as u32))).collect()
            })
            .unwrap_or_default();
        let node = |f: &str, by_index: bool| {
            if !by_index {
                self.ids.get(f).copied()
            } else if imported.is_some() {
                cloth_ids.get(f).copied()
            } else {
                f.parse::<u32>().ok().filter(|&i| (i as usize) < node_count).map(NodeId)
            }
        };
        let payments =
            crate::workload::parse_payment_list(&text, node).map_err(|(line, col, message)| {
                ScenarioError { file: shown.clone(), position: Some((line, col)), message }
            })?;
        Ok(PaymentListDef { payments, routers: spec.routers.clone() })
    }
}
