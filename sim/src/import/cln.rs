//! Core Lightning's `listchannels` JSON, as `lightning-cli listchannels` prints it (one entry per
//! channel direction, `short_channel_id` as `BxTxO`, amounts as numbers or `"…msat"` strings)
//! and as the derived mainnet file of `../shared/data/mainnet` writes it (a `nodes` list with
//! indexes, `chan_idx` in place of the short channel id). Nodes keep the order of the file's
//! `nodes` list, or else sorted by public key; channels are sorted by short channel id. Gossip has
//! no balances, so none are read.

use super::{ImportedChannel, ImportedGraph, Positioned};
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

/// Parses `listchannels` JSON; errors carry the JSON position where there is one.
pub fn parse_listchannels(json: &[u8]) -> Result<ImportedGraph, Positioned> {
    let raw: ListChannels = serde_json::from_slice(json)
        .map_err(|e| (Some((e.line(), e.column())), format!("not listchannels JSON: {e}")))?;
    let no_position = |message: String| (None, message);
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
        for node in &raw.nodes {
            let slot = node.idx as usize;
            if slot >= raw.nodes.len() || !graph.node_ids[slot].is_empty() {
                return Err(no_position(format!(
                    "node index {} is out of range or repeated",
                    node.idx
                )));
            }
            graph.node_ids[slot] = node.nodeid.clone();
            graph.aliases[slot] = node.alias.clone();
            if index.insert(&node.nodeid, node.idx).is_some() {
                return Err(no_position(format!("node {} is listed twice", node.nodeid)));
            }
        }
    }
    let mut channels: BTreeMap<Scid, ImportedChannel> = BTreeMap::new();
    for half in &raw.channels {
        let id = |key: &str| {
            index.get(key).copied().map(NodeId).ok_or_else(|| format!("unknown node {key}"))
        };
        let (source, destination) =
            (id(&half.source).map_err(no_position)?, id(&half.destination).map_err(no_position)?);
        if source == destination {
            return Err(no_position(format!("a channel of {} to itself", half.source)));
        }
        let scid = match (&half.short_channel_id, half.chan_idx) {
            (Some(text), _) => parse_scid(text)
                .ok_or_else(|| no_position(format!("bad short_channel_id {text:?}")))?,
            (None, Some(i)) => Scid::new(1 + i / 1000, i % 1000, 0),
            (None, None) => {
                return Err(no_position("a channel without short_channel_id or chan_idx".into()));
            }
        };
        let capacity_msat = half.amount_msat.msat().map_err(no_position)?;
        let capacity_sat = capacity_msat / 1000;
        let (node_1, node_2) = (source.min(destination), source.max(destination));
        let channel = channels.entry(scid).or_insert(ImportedChannel {
            scid,
            node_1,
            node_2,
            capacity_sat,
            directions: [None, None],
            balance_1_msat: None,
        });
        if (channel.node_1, channel.node_2, channel.capacity_sat) != (node_1, node_2, capacity_sat)
        {
            return Err(no_position(format!("the two directions of channel {scid:?} disagree")));
        }
        let policy = ChannelPolicy {
            fee_base_msat: u32::try_from(half.base_fee_millisatoshi.unwrap_or(0))
                .map_err(|_| no_position(format!("base fee of {scid:?} above 2^32 msat")))?,
            fee_proportional_millionths: u32::try_from(half.fee_per_millionth.unwrap_or(0))
                .map_err(|_| no_position(format!("fee rate of {scid:?} above 2^32 ppm")))?,
            cltv_expiry_delta: u16::try_from(half.delay.unwrap_or(0))
                .map_err(|_| no_position(format!("delay of {scid:?} above 65535 blocks")))?,
            htlc_minimum_msat: match &half.htlc_minimum_msat {
                Some(m) => m.msat().map_err(no_position)?,
                None => 0,
            },
            htlc_maximum_msat: match &half.htlc_maximum_msat {
                Some(m) => m.msat().map_err(no_position)?.min(capacity_msat),
                None => capacity_msat,
            },
        };
        let has_policy = half.base_fee_millisatoshi.is_some() && half.delay.is_some();
        let slot = usize::from(source != node_1);
        channel.directions[slot] =
            Some(DirectedPolicy { policy, disabled: !half.active || !has_policy, timestamp: 0 });
    }
    graph.channels = channels.into_values().collect();
    Ok(graph)
}

#[cfg(test)]
mod tests {
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
        let graph = parse_listchannels(CLN.as_bytes()).unwrap();
        assert_eq!(graph.node_ids, ["02aa", "03bb"], "sorted by public key");
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
        let graph = parse_listchannels(json.as_bytes()).unwrap();
        assert_eq!(graph.node_ids, ["03ff", "02ee"], "the file's own order");
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
        let (_, message) = parse_listchannels(json.as_bytes()).unwrap_err();
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
}
