//! Networks out: a scenario's starting network as a snapshot graph (written in SimLN's format by
//! [`crate::import::simln`]) and a snapshot as scenario RON (`nodes` and `channels`), for
//! `boltsim export` and `boltsim import`.
//!
//! Nodes that came from a snapshot keep its public keys; the others get a real secp256k1 key
//! derived from their name (secret key SHA-256 of `"boltsim node " + name`), because SimLN parses
//! keys as curve points. This module writes text; the binary writes files. Strings from a
//! snapshot (its path, keys, aliases) reach the RON only inside comments, escaped so that none
//! can end its comment and add fields or nodes.

use crate::genesis::Genesis;
use crate::import::{ImportedGraph, is_pubkey};
use crate::scenario::Scenario;
use node_core::NodeId;
use node_core::ids::sha256;
use std::fmt::Write;

/// A compressed secp256k1 public key, hex, derived from a node's name.
pub fn derived_pubkey(name: &str) -> String {
    let mut seed = sha256(format!("boltsim node {name}").as_bytes());
    // A secret key must be non-zero and below the group order; rehash in the (astronomically
    // unlikely) case it is not.
    loop {
        if let Ok(secret) = k256::SecretKey::from_slice(&seed) {
            let point = k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &secret.public_key(),
                true,
            );
            return point.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        }
        seed = sha256(&seed);
    }
}

/// The network `scenario` starts with, as a snapshot graph: every node (named by its alias), its
/// public channels and their starting balances; and each node's `max_accepted_htlcs`.
pub fn scenario_graph(scenario: &Scenario) -> (ImportedGraph, Vec<u16>) {
    let mut graph = ImportedGraph::default();
    for (i, node) in scenario.nodes.iter().enumerate() {
        let imported = scenario.imported.as_ref().and_then(|im| {
            let j = i.checked_sub(im.first as usize)?;
            im.graph.node_ids.get(j).filter(|k| is_pubkey(k)).cloned()
        });
        graph.node_ids.push(imported.unwrap_or_else(|| derived_pubkey(&node.name)));
        graph.aliases.push(node.name.clone());
    }
    let max_htlcs = scenario.nodes.iter().map(|n| n.config.channel.max_accepted_htlcs).collect();
    let genesis = Genesis::build(scenario);
    for placed in genesis.channels.iter().filter(|c| c.def.announce) {
        let (c, scid) = (&placed.def, placed.scid);
        let direction = |policy, disabled| {
            Some(node_core::graph::DirectedPolicy { policy, disabled, timestamp: 0 })
        };
        let from = direction(c.from_policy, c.from_disabled);
        let to = direction(c.to_policy, c.to_disabled);
        let (node_1, node_2, directions, balance_1_msat) = if c.from < c.to {
            (c.from, c.to, [from, to], c.from_balance_msat)
        } else {
            (c.to, c.from, [to, from], c.capacity_sat * 1000 - c.from_balance_msat)
        };
        graph.channels.push(crate::import::ImportedChannel {
            scid,
            node_1,
            node_2,
            capacity_sat: c.capacity_sat,
            directions,
            balance_1_msat: Some(balance_1_msat),
        });
    }
    (graph, max_htlcs)
}

/// The network `scenario` starts with as a SimLN sim_network file, and a note on what SimLN
/// cannot hold, if the network has any of it.
pub fn simln_network(scenario: &Scenario) -> (String, Option<String>) {
    let (graph, max_htlcs) = scenario_graph(scenario);
    let (text, dropped) = crate::import::simln::write_sim_network(&graph, &max_htlcs);
    let note = (dropped.uneven_balances > 0 || dropped.disabled_directions > 0).then(|| {
        format!(
            "SimLN starts every channel evenly split and has no disabled directions: {} channels \
             lose their balances, {} disabled directions are written enabled",
            dropped.uneven_balances, dropped.disabled_directions
        )
    });
    (text, note)
}

/// A snapshot as a scenario file: its nodes (named `n<i>`, with public key and alias in a
/// comment) and channels, opened by `node_1`, with the file's balances or all at the opener.
pub fn scenario_ron(graph: &ImportedGraph, source: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "// Imported from {} by `boltsim import`: {} nodes, {} channels.",
        crate::input::one_line(source),
        graph.node_ids.len(),
        graph.channels.len()
    );
    let _ = writeln!(
        s,
        "// Balances: {}.",
        if graph.has_balances() {
            "the file's"
        } else {
            "none in the file, so all at node_1 (the opener); edit from_balance_msat, or name the file in a scenario's `import` to draw them"
        }
    );
    let _ = writeln!(s, "Scenario(\n    name: \"imported\",\n    seed: 1,\n    nodes: [");
    let name = |id: NodeId| format!("n{}", id.0);
    for (i, key) in graph.node_ids.iter().enumerate() {
        let (key, alias) = (crate::input::one_line(key), crate::input::one_line(&graph.aliases[i]));
        let _ = writeln!(s, "        (name: \"n{i}\"), // {key} {alias}");
    }
    s.push_str("    ],\n    channels: [\n");
    for c in &graph.channels {
        let capacity_msat = c.capacity_sat * 1000;
        let _ = write!(
            s,
            "        (from: \"{}\", to: \"{}\", capacity_sat: {}, from_balance_msat: {},",
            name(c.node_1),
            name(c.node_2),
            c.capacity_sat,
            c.balance_1_msat.unwrap_or(capacity_msat)
        );
        for (slot, field) in [(0, "from_policy"), (1, "to_policy")] {
            let (p, disabled) = match c.directions[slot] {
                Some(d) => (d.policy, d.disabled),
                None => (
                    node_core::policy::ChannelPolicy {
                        fee_base_msat: 0,
                        fee_proportional_millionths: 0,
                        cltv_expiry_delta: 0,
                        htlc_minimum_msat: 0,
                        htlc_maximum_msat: capacity_msat,
                    },
                    true,
                ),
            };
            let _ = write!(
                s,
                "\n            {field}: (fee_base_msat: {}, fee_proportional_millionths: {}, cltv_expiry_delta: {}, htlc_minimum_msat: {}, htlc_maximum_msat: {}, disabled: {disabled}),",
                p.fee_base_msat,
                p.fee_proportional_millionths,
                p.cltv_expiry_delta,
                p.htlc_minimum_msat,
                p.htlc_maximum_msat
            );
        }
        s.push_str("),\n");
    }
    s.push_str("    ],\n    stop: (max_duration_s: 60),\n)\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn derived_keys_are_compressed_points_and_stable() {
        let key = derived_pubkey("alice");
        assert!(is_pubkey(&key), "{key}");
        assert_eq!(key, derived_pubkey("alice"));
        assert_ne!(key, derived_pubkey("bob"));
    }

    /// A snapshot turned into a scenario loads and starts the same network.
    #[test]
    fn imported_scenarios_load_with_the_snapshots_channels() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        for name in ["cloth", "listchannels.json", "describegraph.json", "sim_network.json"] {
            let graph = crate::import::read_graph(&fixtures.join(name), None).unwrap();
            let text = scenario_ron(&graph, name);
            let scenario = Scenario::parse("imported.ron", &text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(scenario.nodes.len(), graph.node_ids.len());
            let (back, _) = scenario_graph(&scenario);
            assert_eq!(back.channels.len(), graph.channels.len(), "{name}");
            for (a, b) in back.channels.iter().zip(&graph.channels) {
                assert_eq!(
                    (a.node_1, a.node_2, a.capacity_sat),
                    (b.node_1, b.node_2, b.capacity_sat)
                );
                let policies = |c: &crate::import::ImportedChannel| {
                    c.directions.map(|d| d.map(|d| (d.policy, d.disabled)))
                };
                if b.directions.iter().all(Option::is_some) {
                    assert_eq!(policies(a), policies(b), "{name}");
                }
                if let Some(balance) = b.balance_1_msat {
                    assert_eq!(a.balance_1_msat, Some(balance), "{name}");
                }
            }
        }
    }
}
