//! Core Lightning's `listchannels` JSON, as `lightning-cli listchannels` prints it (one entry per
//! channel direction, `short_channel_id` as `BxTxO`, amounts as numbers or `"…msat"` strings)
//! and as the derived mainnet file of `../shared/data/mainnet` writes it (a `nodes` list with
//! indexes, `chan_idx` in place of the short channel id). Nodes keep the order of the file's
//! `nodes` list, or else sorted by public key; channels are sorted by short channel id. Gossip has
//! no balances, so none are read. Every `nodeid`, `source` and `destination` must be a compressed
//! public key; a direction listed twice is refused.

use super::locate::Step::{self, Index, Key};
use super::{ImportedChannel, ImportedGraph, Positioned, shown};
use node_core::graph::DirectedPolicy;
use node_core::policy::ChannelPolicy;
use node_core::{NodeId, Scid};
use serde::Deserialize;
use std::collections::BTreeMap;

/// An amount: a number of msat, or a string ending in `msat`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Msat {
    Number(u64),
    Text(String),
}

impl Msat {
    fn msat(&self) -> Result<u64, String> {
        match self {
            Msat::Number(n) => Ok(*n),
            Msat::Text(t) => t
                .strip_suffix("msat")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("amount {t:?} is not a number of msat")),
        }
    }
}

#[derive(Deserialize)]
struct NodeEntry {
    idx: u32,
    nodeid: String,
    #[serde(default)]
    alias: String,
}

#[derive(Deserialize)]
struct Half {
    source: String,
    destination: String,
    #[serde(default)]
    short_channel_id: Option<String>,
    #[serde(default)]
    chan_idx: Option<u32>,
    amount_msat: Msat,
    #[serde(default = "yes")]
    active: bool,
    #[serde(default)]
    base_fee_millisatoshi: Option<u64>,
    #[serde(default)]
    fee_per_millionth: Option<u64>,
    #[serde(default)]
    delay: Option<u64>,
    #[serde(default)]
    htlc_minimum_msat: Option<Msat>,
    #[serde(default)]
    htlc_maximum_msat: Option<Msat>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct ListChannels {
    #[serde(default)]
    nodes: Vec<NodeEntry>,
    channels: Vec<Half>,
}

/// Parses `BLOCKxTXxOUT`.
fn parse_scid(text: &str) -> Option<Scid> {
    let mut parts = text.split('x');
    let block: u32 = parts.next()?.parse().ok()?;
    let tx: u32 = parts.next()?.parse().ok()?;
    let out: u16 = parts.next()?.parse().ok()?;
    (parts.next().is_none() && block < (1 << 24) && tx < (1 << 24))
        .then(|| Scid::new(block, tx, out))
}

/// Parses `listchannels` JSON; errors carry the JSON position where there is one, also for
/// checks made after parsing (public keys, directions that disagree, channels to themselves).
pub fn parse_listchannels(json: &[u8]) -> Result<ImportedGraph, Positioned> {
    let mut raw: ListChannels =
        super::from_json(json).map_err(|e| super::json_error(json, &e, "not listchannels JSON"))?;
    let at = |path: &[Step], message: String| (super::locate::position(json, path), message);
    for (i, node) in raw.nodes.iter_mut().enumerate() {
        super::check_pubkey("nodeid", &mut node.nodeid)
            .map_err(|m| at(&[Key("nodes"), Index(i), Key("nodeid")], m))?;
    }
    for (i, half) in raw.channels.iter_mut().enumerate() {
        for (field, key) in [("source", &mut half.source), ("destination", &mut half.destination)] {
            super::check_pubkey(field, key)
                .map_err(|m| at(&[Key("channels"), Index(i), Key(field)], m))?;
        }
    }
    // Node indexes: the file's own, or the sorted public keys.
    let mut index: BTreeMap<&str, u32> = BTreeMap::new();
    let mut graph = ImportedGraph::default();
    if raw.nodes.is_empty() {
        for half in &raw.channels {
            index.insert(&half.source, 0);
            index.insert(&half.destination, 0);
        }
        for (i, (key, slot)) in index.iter_mut().enumerate() {
            *slot = i as u32;
            graph.node_ids.push(key.to_string());
            graph.aliases.push(String::new());
        }
    } else {
        graph.node_ids = vec![String::new(); raw.nodes.len()];
        graph.aliases = vec![String::new(); raw.nodes.len()];
        for (i, node) in raw.nodes.iter().enumerate() {
            let slot = node.idx as usize;
            if slot >= raw.nodes.len() || !graph.node_ids[slot].is_empty() {
                let message = format!("node index {} is out of range or repeated", node.idx);
                return Err(at(&[Key("nodes"), Index(i), Key("idx")], message));
            }
            graph.node_ids[slot] = node.nodeid.clone();
            graph.aliases[slot] = super::clean_alias(node.alias.clone());
            if index.insert(&node.nodeid, node.idx).is_some() {
                let message = format!("node {} is listed twice", node.nodeid);
                return Err(at(&[Key("nodes"), Index(i), Key("nodeid")], message));
            }
        }
    }
    let mut channels: BTreeMap<Scid, ImportedChannel> = BTreeMap::new();
    for (i, half) in raw.channels.iter().enumerate() {
        let field = |name| [Key("channels"), Index(i), Key(name)];
        let id = |name: &'static str, key: &str| {
            index
                .get(key)
                .copied()
                .map(NodeId)
                .ok_or_else(|| at(&field(name), format!("unknown node {key}")))
        };
        let (source, destination) =
            (id("source", &half.source)?, id("destination", &half.destination)?);
        if source == destination {
            let message = format!("a channel of {} to itself", half.source);
            return Err(at(&field("destination"), message));
        }
        let scid = match (&half.short_channel_id, half.chan_idx) {
            (Some(text), _) => parse_scid(text).ok_or_else(|| {
                at(&field("short_channel_id"), format!("bad short_channel_id {}", shown(text)))
            })?,
            (None, Some(i)) => Scid::new(1 + i / 1000, i % 1000, 0),
            (None, None) => {
                let message = "a channel without short_channel_id or chan_idx".to_string();
                return Err(at(&[Key("channels"), Index(i)], message));
            }
        };
        // Written only into a message: formatted for every half, it cost 3% of a mainnet import.
        let channel_name = || match (&half.short_channel_id, half.chan_idx) {
            (None, Some(i)) => format!("channel chan_idx {i}"),
            _ => format!("channel {scid}"),
        };
        let capacity_msat = half.amount_msat.msat().map_err(|m| at(&field("amount_msat"), m))?;
        let capacity_sat =
            super::check_capacity_msat(capacity_msat).map_err(|m| at(&field("amount_msat"), m))?;
        let (node_1, node_2) = (source.min(destination), source.max(destination));
        let channel = channels.entry(scid).or_insert(ImportedChannel {
            scid,
            node_1,
            node_2,
            capacity_sat,
            directions: [None, None],
            balance_1_msat: None,
        });
        if (channel.node_1, channel.node_2) != (node_1, node_2) {
            let message =
                format!("the two directions of {} disagree on the nodes they join", channel_name());
            return Err(at(&field("source"), message));
        }
        if channel.capacity_sat != capacity_sat {
            let message = format!(
                "the two directions of {} disagree on its amount ({} and {} sat)",
                channel_name(),
                channel.capacity_sat,
                capacity_sat
            );
            return Err(at(&field("amount_msat"), message));
        }
        let slot = usize::from(source != node_1);
        if channel.directions[slot].is_some() {
            let message = format!("{} from {} is listed twice", channel_name(), half.source);
            return Err(at(&[Key("channels"), Index(i)], message));
        }
        let narrow = |value: Option<u64>, name: &'static str, max: u64, what: &str| {
            let value = value.unwrap_or(0);
            (value <= max).then_some(value).ok_or_else(|| {
                at(&field(name), format!("{what} of {} above {max}", channel_name()))
            })
        };
        let policy = ChannelPolicy {
            fee_base_msat: narrow(
                half.base_fee_millisatoshi,
                "base_fee_millisatoshi",
                u32::MAX.into(),
                "base fee (msat)",
            )? as u32,
            fee_proportional_millionths: narrow(
                half.fee_per_millionth,
                "fee_per_millionth",
                u32::MAX.into(),
                "fee rate (ppm)",
            )? as u32,
            cltv_expiry_delta: narrow(half.delay, "delay", u16::MAX.into(), "delay (blocks)")?
                as u16,
            htlc_minimum_msat: match &half.htlc_minimum_msat {
                Some(m) => m.msat().map_err(|m| at(&field("htlc_minimum_msat"), m))?,
                None => 0,
            },
            htlc_maximum_msat: match &half.htlc_maximum_msat {
                Some(m) => {
                    m.msat().map_err(|m| at(&field("htlc_maximum_msat"), m))?.min(capacity_msat)
                }
                None => capacity_msat,
            },
        };
        let has_policy = half.base_fee_millisatoshi.is_some() && half.delay.is_some();
        channel.directions[slot] =
            Some(DirectedPolicy { policy, disabled: !half.active || !has_policy, timestamp: 0 });
    }
    graph.channels = channels.into_values().collect();
    Ok(graph)
}

#[cfg(test)]
mod tests {
    use super::super::test_keys::{key, keyed};
    use super::*;
    use std::path::Path;

    const CLN: &str = r#"{"channels": [
        {"source": "03bb", "destination": "02aa", "short_channel_id": "800000x12x1",
         "public": true, "amount_msat": "5000000000msat", "active": true,
         "base_fee_millisatoshi": 1000, "fee_per_millionth": 10, "delay": 34,
         "htlc_minimum_msat": "0msat", "htlc_maximum_msat": "4950000000msat"},
        {"source": "02aa", "destination": "03bb", "short_channel_id": "800000x12x1",
         "public": true, "amount_msat": 5000000000, "active": false,
         "base_fee_millisatoshi": 0, "fee_per_millionth": 1, "delay": 144,
         "htlc_minimum_msat": 1000, "htlc_maximum_msat": 5000000000}
    ]}"#;

    #[test]
    fn reads_core_lightning_listchannels() {
        let graph = parse_listchannels(keyed(CLN).as_bytes()).unwrap();
        assert_eq!(graph.node_ids, [key("02aa"), key("03bb")], "sorted by public key");
        assert_eq!(graph.channels.len(), 1);
        let c = graph.channels[0];
        assert_eq!(c.scid, Scid::new(800_000, 12, 1));
        assert_eq!((c.node_1, c.node_2, c.capacity_sat), (NodeId(0), NodeId(1), 5_000_000));
        let from_02 = c.directions[0].unwrap();
        assert!(from_02.disabled);
        assert_eq!(from_02.policy.cltv_expiry_delta, 144);
        let from_03 = c.directions[1].unwrap();
        assert!(!from_03.disabled);
        assert_eq!(from_03.policy.fee_base_msat, 1000);
        assert_eq!(from_03.policy.fee_proportional_millionths, 10);
        assert_eq!(from_03.policy.htlc_maximum_msat, 4_950_000_000);
        let base = graph.base_graph();
        assert_eq!(base.node_count(), 2);
    }

    #[test]
    fn reads_the_derived_mainnet_format() {
        let json = r#"{"snapshot": "x", "nodes": [
            {"idx": 0, "nodeid": "03ff", "alias": "BIG"}, {"idx": 1, "nodeid": "02ee", "alias": ""}],
          "channels": [
            {"chan_idx": 7, "direction": 0, "short_channel_id": null, "source": "02ee",
             "destination": "03ff", "source_idx": 1, "destination_idx": 0,
             "amount_msat": 2000000, "active": true, "base_fee_millisatoshi": 0,
             "fee_per_millionth": 100, "delay": 80, "htlc_minimum_msat": 1,
             "htlc_maximum_msat": 1980000},
            {"chan_idx": 7, "direction": 1, "short_channel_id": null, "source": "03ff",
             "destination": "02ee", "source_idx": 0, "destination_idx": 1,
             "amount_msat": 2000000, "active": false, "base_fee_millisatoshi": null,
             "fee_per_millionth": null, "delay": null, "htlc_minimum_msat": null,
             "htlc_maximum_msat": null}]}"#;
        let graph = parse_listchannels(keyed(json).as_bytes()).unwrap();
        assert_eq!(graph.node_ids, [key("03ff"), key("02ee")], "the file's own order");
        assert_eq!(graph.aliases[0], "BIG");
        let c = graph.channels[0];
        assert_eq!(c.scid, Scid::new(1, 7, 0));
        assert_eq!((c.node_1, c.node_2, c.capacity_sat), (NodeId(0), NodeId(1), 2_000));
        assert!(c.directions[0].unwrap().disabled, "03ff (node 0) has no policy");
        let from_02ee = c.directions[1].unwrap();
        assert!(!from_02ee.disabled);
        assert_eq!(from_02ee.policy.fee_proportional_millionths, 100);
    }

    #[test]
    fn bad_files_get_one_line_with_a_position() {
        let (position, message) =
            parse_listchannels(b"{\"channels\": [\n  {\"source\": 5}]}").unwrap_err();
        assert_eq!(position.map(|p| p.0), Some(2));
        assert!(message.starts_with("not listchannels JSON"), "{message}");
        let json = CLN.replace(
            r#""amount_msat": 5000000000, "active": false"#,
            r#""amount_msat": 4000000000, "active": false"#,
        );
        let (_, message) = parse_listchannels(keyed(&json).as_bytes()).unwrap_err();
        assert!(message.contains("disagree"), "{message}");
    }

    /// The real snapshot, when `../shared/data` is beside the project.
    #[test]
    fn reads_the_mainnet_snapshot_when_present() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/mainnet/listchannels-2026-02-03.json.gz");
        if !path.exists() {
            eprintln!("skipped: {} is absent", path.display());
            return;
        }
        let graph = super::super::read_listchannels(&path).unwrap();
        // The counts of ../shared/data/mainnet/README.md.
        assert_eq!(graph.node_ids.len(), 17_324);
        assert_eq!(graph.channels.len(), 50_808);
        let enabled = graph
            .channels
            .iter()
            .flat_map(|c| c.directions)
            .filter(|d| d.is_some_and(|d| !d.disabled))
            .count();
        assert_eq!(enabled, 65_810);
        assert_eq!(graph.routable_nodes().len(), 6_978);
        let capacity: u64 = graph.channels.iter().map(|c| c.capacity_sat).sum();
        assert_eq!(capacity, 536_168_010_515);
    }

    // Issue 12: a node id was taken as written, so a newline in it reached generated RON.
    #[test]
    fn regression_listchannels_refuses_node_ids_that_are_not_public_keys() {
        let bad = keyed(CLN).replacen(&key("02aa"), "02aa\\n", 1);
        let (position, message) = parse_listchannels(bad.as_bytes()).unwrap_err();
        assert_eq!(position, Some((2, 105)), "{message}");
        assert_eq!(
            message,
            r#"destination "02aa\n" is not a public key (66 hex digits starting 02 or 03)"#
        );
    }

    // Issue 12: errors found after parsing had no position and showed the channel as
    // `Scid(879609302221586433)`.
    #[test]
    fn regression_listchannels_errors_after_parsing_say_where_with_bolt7_scids() {
        let amount = keyed(CLN).replace(
            r#""amount_msat": 5000000000, "active": false"#,
            r#""amount_msat": 4000000000, "active": false"#,
        );
        let (position, message) = parse_listchannels(amount.as_bytes()).unwrap_err();
        assert_eq!(position, Some((7, 41)));
        assert_eq!(
            message,
            "the two directions of channel 800000x12x1 disagree on its amount (5000000 and \
             4000000 sat)"
        );
        let fee = keyed(CLN)
            .replace(r#""base_fee_millisatoshi": 1000"#, r#""base_fee_millisatoshi": 4294967296"#);
        let (position, message) = parse_listchannels(fee.as_bytes()).unwrap_err();
        assert_eq!(position, Some((4, 35)));
        assert_eq!(message, "base fee (msat) of channel 800000x12x1 above 4294967295");
        let twice = keyed(&CLN.replacen(
            r#"{"source": "02aa", "destination": "03bb""#,
            r#"{"source": "03bb", "destination": "02aa""#,
            1,
        ));
        let (position, message) = parse_listchannels(twice.as_bytes()).unwrap_err();
        assert_eq!(position, Some((6, 9)));
        assert_eq!(message, format!("channel 800000x12x1 from {} is listed twice", key("03bb")));
    }
}
