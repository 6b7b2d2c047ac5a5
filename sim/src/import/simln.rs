//! SimLN's simulated-network JSON: a top-level `sim_network` list, one entry per channel with
//! `scid`, `capacity_msat` and `node_1` / `node_2`, each that end's `pubkey` (and optional
//! `alias`) and the policy of its outgoing direction: `max_htlc_count`, `max_in_flight_msat`,
//! `min_htlc_size_msat`, `max_htlc_size_msat`, `cltv_expiry_delta`, `base_fee` (msat) and
//! `fee_rate_prop` (ppm). Other top-level keys (`activity`, `nodes`) are ignored on reading.
//!
//! SimLN starts every channel evenly split, so channels read here carry that split as their
//! starting balance. Nodes are numbered in order of first appearance; every `pubkey` must be a
//! compressed public key. [`write_sim_network`] writes the same format (without an `activity`),
//! so a boltsim network can be run in SimLN; SimLN cannot express uneven balances or disabled
//! directions, and the writer says which were dropped.

use super::locate::Step::{self, Index, Key};
use super::{ImportedChannel, ImportedGraph, Number, Positioned};
use node_core::graph::DirectedPolicy;
use node_core::policy::ChannelPolicy;
use node_core::{NodeId, Scid};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Deserialize, Serialize)]
struct End {
    pubkey: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    alias: String,
    max_htlc_count: u64,
    max_in_flight_msat: u64,
    min_htlc_size_msat: u64,
    max_htlc_size_msat: u64,
    cltv_expiry_delta: u64,
    base_fee: u64,
    fee_rate_prop: u64,
}

#[derive(Deserialize)]
struct InChannel {
    scid: Number,
    capacity_msat: Number,
    node_1: End,
    node_2: End,
}

#[derive(Deserialize)]
struct SimNetwork {
    sim_network: Vec<InChannel>,
}

/// Parses a SimLN simulation file's `sim_network`; errors carry the JSON position where there is
/// one, also for checks made after parsing (public keys, scids listed twice).
pub fn parse_sim_network(json: &[u8]) -> Result<ImportedGraph, Positioned> {
    let mut raw: SimNetwork = super::from_json(json)
        .map_err(|e| super::json_error(json, &e, "not SimLN sim_network JSON"))?;
    let at = |path: &[Step], message: String| (super::locate::position(json, path), message);
    for (i, channel) in raw.sim_network.iter_mut().enumerate() {
        for (side, end) in [("node_1", &mut channel.node_1), ("node_2", &mut channel.node_2)] {
            super::check_pubkey("pubkey", &mut end.pubkey)
                .map_err(|m| at(&[Key("sim_network"), Index(i), Key(side), Key("pubkey")], m))?;
        }
    }
    let mut graph = ImportedGraph::default();
    let mut index: BTreeMap<String, u32> = BTreeMap::new();
    let mut channels: BTreeMap<Scid, ImportedChannel> = BTreeMap::new();
    for (i, channel) in raw.sim_network.iter().enumerate() {
        let field = |name| [Key("sim_network"), Index(i), Key(name)];
        let mut ids = [NodeId(0); 2];
        for (slot, end) in [&channel.node_1, &channel.node_2].into_iter().enumerate() {
            let next = graph.node_ids.len() as u32;
            let id = *index.entry(end.pubkey.clone()).or_insert(next);
            if id == next {
                graph.node_ids.push(end.pubkey.clone());
                graph.aliases.push(super::clean_alias(end.alias.clone()));
            }
            ids[slot] = NodeId(id);
        }
        let scid = Scid(channel.scid.get("scid").map_err(|m| at(&field("scid"), m))?);
        if scid.block_height() >= 1 << 24 {
            let message = format!("scid {} is not a short channel id", scid.0);
            return Err(at(&field("scid"), message));
        }
        if ids[0] == ids[1] {
            let message = format!("channel {scid} of {} to itself", channel.node_1.pubkey);
            return Err(at(&field("node_2"), message));
        }
        let capacity_msat = channel
            .capacity_msat
            .get("capacity_msat")
            .map_err(|m| at(&field("capacity_msat"), m))?;
        super::check_capacity_msat(capacity_msat).map_err(|m| at(&field("capacity_msat"), m))?;
        let policy = |side: &'static str, end: &End| -> Result<DirectedPolicy, Positioned> {
            let narrow = |value: u64, name: &'static str, max: u64| {
                (value <= max).then_some(value).ok_or_else(|| {
                    let message = format!("{name} {value} of channel {scid} is too large");
                    at(&[Key("sim_network"), Index(i), Key(side), Key(name)], message)
                })
            };
            Ok(DirectedPolicy {
                policy: ChannelPolicy {
                    fee_base_msat: narrow(end.base_fee, "base_fee", u32::MAX.into())? as u32,
                    fee_proportional_millionths: narrow(
                        end.fee_rate_prop,
                        "fee_rate_prop",
                        u32::MAX.into(),
                    )? as u32,
                    cltv_expiry_delta: narrow(
                        end.cltv_expiry_delta,
                        "cltv_expiry_delta",
                        u16::MAX.into(),
                    )? as u16,
                    htlc_minimum_msat: end.min_htlc_size_msat,
                    htlc_maximum_msat: end.max_htlc_size_msat.min(capacity_msat),
                },
                disabled: false,
                timestamp: 0,
            })
        };
        let (a, b) = (policy("node_1", &channel.node_1)?, policy("node_2", &channel.node_2)?);
        let (node_1, node_2, directions) =
            if ids[0] < ids[1] { (ids[0], ids[1], [a, b]) } else { (ids[1], ids[0], [b, a]) };
        let imported = ImportedChannel {
            scid,
            node_1,
            node_2,
            capacity_sat: capacity_msat / 1000,
            directions: directions.map(Some),
            balance_1_msat: Some(capacity_msat / 1000 * 1000 / 2),
        };
        if channels.insert(scid, imported).is_some() {
            return Err(at(&field("scid"), format!("channel {scid} is listed twice")));
        }
    }
    graph.channels = channels.into_values().collect();
    Ok(graph)
}

#[derive(Serialize)]
struct OutChannel<'a> {
    scid: u64,
    capacity_msat: u64,
    node_1: &'a End,
    node_2: &'a End,
}

/// What [`write_sim_network`] could not carry over.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Channels whose starting balance is not the even split SimLN uses.
    pub uneven_balances: usize,
    /// Directions that were disabled or had no policy, written with the policy they had (or
    /// zero fees) as SimLN has no disabled directions.
    pub disabled_directions: usize,
}

/// Writes `graph` as a SimLN simulation file (pretty JSON with a trailing newline). `node_ids`
/// must be real secp256k1 public keys (SimLN parses them); `max_htlc_count` is each end's
/// `max_accepted_htlcs`; `max_in_flight_msat` is the capacity.
pub fn write_sim_network(graph: &ImportedGraph, max_htlc_count: &[u16]) -> (String, Dropped) {
    let mut dropped = Dropped::default();
    let ends: Vec<[End; 2]> = graph
        .channels
        .iter()
        .map(|c| {
            let capacity_msat = c.capacity_sat * 1000;
            if c.balance_1_msat.is_some_and(|b| b != capacity_msat / 2) {
                dropped.uneven_balances += 1;
            }
            [0, 1].map(|slot| {
                let node = [c.node_1, c.node_2][slot];
                let direction = c.directions[slot];
                if direction.is_none_or(|d| d.disabled) {
                    dropped.disabled_directions += 1;
                }
                let policy = direction.map(|d| d.policy).unwrap_or(ChannelPolicy {
                    fee_base_msat: 0,
                    fee_proportional_millionths: 0,
                    cltv_expiry_delta: 0,
                    htlc_minimum_msat: 0,
                    htlc_maximum_msat: capacity_msat,
                });
                End {
                    pubkey: graph.node_ids[node.index()].clone(),
                    alias: graph.aliases[node.index()].clone(),
                    max_htlc_count: u64::from(max_htlc_count[node.index()]),
                    max_in_flight_msat: capacity_msat,
                    min_htlc_size_msat: policy.htlc_minimum_msat,
                    max_htlc_size_msat: policy.htlc_maximum_msat,
                    cltv_expiry_delta: u64::from(policy.cltv_expiry_delta),
                    base_fee: u64::from(policy.fee_base_msat),
                    fee_rate_prop: u64::from(policy.fee_proportional_millionths),
                }
            })
        })
        .collect();
    let out: Vec<OutChannel> = graph
        .channels
        .iter()
        .zip(&ends)
        .map(|(c, [a, b])| OutChannel {
            scid: c.scid.0,
            capacity_msat: c.capacity_sat * 1000,
            node_1: a,
            node_2: b,
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&serde_json::json!({ "sim_network": out }))
        .expect("invariant: plain structs serialize");
    text.push('\n');
    (text, dropped)
}

#[cfg(test)]
mod tests {
    use super::super::test_keys::{key, keyed};
    use super::*;

    const FILE: &str = r#"{"sim_network": [
      {"scid": 1, "capacity_msat": 250000000,
       "node_1": {"pubkey": "03bb", "alias": "bob", "max_htlc_count": 483,
                  "max_in_flight_msat": 250000000, "min_htlc_size_msat": 1,
                  "max_htlc_size_msat": 100000000, "cltv_expiry_delta": 40, "base_fee": 1000,
                  "fee_rate_prop": 100},
       "node_2": {"pubkey": "02aa", "max_htlc_count": 15, "max_in_flight_msat": 250000000,
                  "min_htlc_size_msat": 1000, "max_htlc_size_msat": 250000000,
                  "cltv_expiry_delta": 144, "base_fee": 0, "fee_rate_prop": 1}}
    ], "activity": []}"#;

    #[test]
    fn reads_simln_networks_with_simlns_even_split() {
        let graph = parse_sim_network(keyed(FILE).as_bytes()).unwrap();
        assert_eq!(graph.node_ids, [key("03bb"), key("02aa")], "order of first appearance");
        assert_eq!(graph.aliases, ["bob", ""]);
        let c = graph.channels[0];
        assert_eq!(
            (c.scid, c.capacity_sat, c.balance_1_msat),
            (Scid(1), 250_000, Some(125_000_000))
        );
        let bob = c.directions[0].unwrap().policy;
        assert_eq!((bob.fee_base_msat, bob.fee_proportional_millionths), (1000, 100));
        assert_eq!((bob.cltv_expiry_delta, bob.htlc_maximum_msat), (40, 100_000_000));
        assert_eq!(c.directions[1].unwrap().policy.htlc_minimum_msat, 1000);
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let graph = parse_sim_network(keyed(FILE).as_bytes()).unwrap();
        let (text, dropped) = write_sim_network(&graph, &[483, 15]);
        assert_eq!(dropped, Dropped::default());
        assert!(text.contains("\"max_htlc_count\": 15"), "{text}");
        assert_eq!(parse_sim_network(text.as_bytes()).unwrap(), graph);
    }

    #[test]
    fn uneven_and_disabled_are_reported_as_dropped() {
        let mut graph = parse_sim_network(keyed(FILE).as_bytes()).unwrap();
        graph.channels[0].balance_1_msat = Some(1);
        graph.channels[0].directions[1].as_mut().unwrap().disabled = true;
        let (_, dropped) = write_sim_network(&graph, &[483, 483]);
        assert_eq!(dropped, Dropped { uneven_balances: 1, disabled_directions: 1 });
    }

    #[test]
    fn bad_simln_files_say_where() {
        let bad = keyed(FILE).replace("\"capacity_msat\": 250000000,", "\"capacity_msat\": -1,");
        let (position, message) = parse_sim_network(bad.as_bytes()).unwrap_err();
        assert_eq!(position.map(|p| p.0), Some(2), "{message}");
        let bad = keyed(FILE).replace("\"base_fee\": 0", "\"base_fee\": 99999999999");
        let (_, message) = parse_sim_network(bad.as_bytes()).unwrap_err();
        assert!(message.starts_with("base_fee 99999999999"), "{message}");
    }

    // Issue 12: a pubkey was taken as written, so a newline in it reached generated RON; errors
    // found after parsing had no position.
    #[test]
    fn regression_sim_network_refuses_pubkeys_that_are_not_public_keys_and_says_where() {
        let bad = keyed(FILE).replacen(&key("02aa"), "02aa\\n", 1);
        let (position, message) = parse_sim_network(bad.as_bytes()).unwrap_err();
        assert_eq!(position, Some((7, 29)), "{message}");
        assert_eq!(
            message,
            r#"pubkey "02aa\n" is not a public key (66 hex digits starting 02 or 03)"#
        );
        let to_itself = keyed(&FILE.replacen("\"03bb\"", "\"02aa\"", 1));
        let (position, message) = parse_sim_network(to_itself.as_bytes()).unwrap_err();
        assert_eq!(position, Some((7, 18)));
        assert_eq!(message, format!("channel 0x0x1 of {} to itself", key("02aa")));
    }
}
