//! Faults: those scheduled at given times, resolved to node ids, links and µs, and the rates and
//! ranges of those drawn from the seed. Drawing random faults and injecting any fault is the
//! world's job ([`crate::random_faults`] plans the random ones).

use super::Validator;
use crate::scenario::file::{FaultSpec, NodeRef, RandomFaultsSpec, Rank, ScheduledFaultSpec};
use crate::scenario::locate::ScenarioError;
use crate::scenario::model::{Fault, FaultRank, FaultRole, MAX_DURATION_S, MAX_LATENCY_MS};
use node_core::policy::PolicyChange;
use node_core::{NodeId, SimTime};

/// The scheduled faults, in file order, and their nodes given by rank.
type ScheduledFaults = (Vec<(SimTime, Fault)>, Vec<FaultRank>);

impl Validator<'_> {
    /// The scheduled faults, in file order: within ten years, durations of 1 s to ten years,
    /// latency spikes within a day, and link faults with a node on each side.
    pub(super) fn faults(
        &self,
        specs: &[ScheduledFaultSpec],
    ) -> Result<ScheduledFaults, ScenarioError> {
        let mut faults = Vec::with_capacity(specs.len());
        let mut ranks = Vec::new();
        for (index, spec) in specs.iter().enumerate() {
            // A node by name, or a placeholder and its rank.
            // RON reads a bare `All` as the name "All" where a name may stand: it is `All`
            // unless a node has that name.
            let all = |r: &NodeRef| match r {
                NodeRef::Rank(Rank::All) => true,
                NodeRef::Name(name) => name == "All" && !self.ids.contains_key("All"),
                NodeRef::Rank(Rank::Largest(_)) => false,
            };
            let mut target = |r: &NodeRef, role: FaultRole| -> Result<NodeId, ScenarioError> {
                if all(r) {
                    let field = if role == FaultRole::Node { "node" } else { "peer" };
                    return Err(self.at.error(
                        self.at.find_field(field, "All", 0),
                        "All names every peer of a ForceClose only".into(),
                    ));
                }
                match r {
                    NodeRef::Name(name) => self.resolve(name),
                    NodeRef::Rank(Rank::Largest(k)) => {
                        if *k == 0 || *k as usize > self.ids.len() {
                            return Err(self.at.error(
                                self.at.find_text(&format!("Largest({k})")),
                                format!(
                                    "Largest({k}): k must be 1 to {}, the node count",
                                    self.ids.len()
                                ),
                            ));
                        }
                        ranks.push((index, role, *k));
                        Ok(NodeId(u32::MAX))
                    }
                    NodeRef::Rank(Rank::All) => unreachable!("handled above"),
                }
            };
            if spec.at_ms > MAX_DURATION_S * 1000 {
                return Err(self.at.at_field(
                    "at_ms",
                    &spec.at_ms.to_string(),
                    "at_ms is beyond ten years".into(),
                ));
            }
            let fault = match &spec.fault {
                FaultSpec::Crash { node, duration_s } => Fault::Crash {
                    node: target(node, FaultRole::Node)?,
                    duration_us: self.duration("duration_s", *duration_s)?,
                },
                FaultSpec::ForceClose { node: NodeRef::Name(node), peer: NodeRef::Name(peer) }
                    if !all(&NodeRef::Name(peer.clone())) =>
                {
                    let (node, peer) = self.pair(node, peer, "force close")?;
                    Fault::ForceClose { node, peer: Some(peer) }
                }
                FaultSpec::ForceClose { node, peer } => {
                    let peer_all = all(peer);
                    let node = target(node, FaultRole::Node)?;
                    let peer = if peer_all { None } else { Some(target(peer, FaultRole::Peer)?) };
                    Fault::ForceClose { node, peer }
                }
                FaultSpec::Partition { a, b, duration_s } => Fault::Partition {
                    links: self.links_between(a, b)?,
                    duration_us: self.duration("duration_s", *duration_s)?,
                },
                FaultSpec::LatencySpike { a, b, extra_ms, duration_s } => {
                    if *extra_ms > MAX_LATENCY_MS {
                        return Err(self.at.at_field(
                            "extra_ms",
                            &extra_ms.to_string(),
                            "extra_ms is more than a day".into(),
                        ));
                    }
                    Fault::LatencySpike {
                        links: self.links_between(a, b)?,
                        extra_us: extra_ms * 1000,
                        duration_us: self.duration("duration_s", *duration_s)?,
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
                    let node_id = self.resolve(node)?;
                    let peer = match peer {
                        Some(p) => Some(self.pair(node, p, "policy change")?.1),
                        None => None,
                    };
                    let change = PolicyChange {
                        fee_base_msat: *fee_base_msat,
                        fee_proportional_millionths: *fee_proportional_millionths,
                        cltv_expiry_delta: *cltv_expiry_delta,
                        disabled: *disabled,
                    };
                    Fault::SetPolicy { node: node_id, peer, change }
                }
            };
            faults.push((SimTime::from_millis(spec.at_ms), fault));
        }
        Ok((faults, ranks))
    }

    /// Every link between a node of `a` and a node of `b`, as (smaller id, larger id), sorted
    /// and without repeats; at least one.
    fn links_between(
        &self,
        a: &[String],
        b: &[String],
    ) -> Result<Vec<(NodeId, NodeId)>, ScenarioError> {
        let mut links = Vec::new();
        for x in a {
            for y in b {
                let (x, y) = self.pair(x, y, "link")?;
                links.push((x.min(y), x.max(y)));
            }
        }
        links.sort();
        links.dedup();
        if links.is_empty() {
            return Err(self.at.error(
                self.at.find_field("a", "[]", 0).or(self.at.find_field("b", "[]", 0)),
                "a link fault needs a node on each side".into(),
            ));
        }
        Ok(links)
    }

    /// A fault's duration, 1 s to ten years, in µs.
    fn duration(&self, field: &str, value_s: u64) -> Result<u64, ScenarioError> {
        if value_s == 0 || value_s > MAX_DURATION_S {
            return Err(self.at.at_field(
                field,
                &value_s.to_string(),
                format!("{field} must be 1 to {MAX_DURATION_S}"),
            ));
        }
        Ok(value_s * 1_000_000)
    }

    /// The random faults' rates (0 to 1,000,000 per day), window (within ten years) and
    /// duration ranges.
    pub(super) fn random_faults(&self, r: &RandomFaultsSpec) -> Result<(), ScenarioError> {
        let rates = [
            ("crashes_per_node_day", r.crashes_per_node_day),
            ("force_closes_per_channel_day", r.force_closes_per_channel_day),
            ("partitions_per_node_day", r.partitions_per_node_day),
            ("spikes_per_node_day", r.spikes_per_node_day),
        ];
        for (field, rate) in rates {
            if !(0.0..=1_000_000.0).contains(&rate) {
                return Err(self.at.at_field(
                    field,
                    "",
                    format!("{field} must be 0 to 1000000 per day"),
                ));
            }
        }
        if r.start_s > r.end_s || r.end_s > MAX_DURATION_S {
            return Err(self.at.at_field(
                "end_s",
                "",
                "random faults need start_s <= end_s <= ten years".into(),
            ));
        }
        let ranges = [
            ("crash_min_s", r.crash_min_s, r.crash_max_s),
            ("partition_min_s", r.partition_min_s, r.partition_max_s),
        ];
        for (field, lo, hi) in ranges {
            if lo == 0 || lo > hi || hi > MAX_DURATION_S {
                return Err(self.at.at_field(
                    field,
                    "",
                    format!("{field} must be positive and not above its maximum"),
                ));
            }
        }
        if r.spike_s == 0 || r.spike_s > MAX_DURATION_S || r.spike_extra_ms > MAX_LATENCY_MS {
            return Err(self.at.at_field(
                "spike_s",
                "",
                "spike_s must be positive and spike_extra_ms at most a day".into(),
            ));
        }
        Ok(())
    }
}
