//! lnd's `describegraph` JSON, as `lncli describegraph` prints it: a `nodes` list (`pub_key`,
//! `alias`) and an `edges` list, one per channel, with `channel_id` (the short channel id packed
//! in 64 bits), `node1_pub`, `node2_pub`, `capacity` in sat and `node1_policy` / `node2_policy`
//! (null when no update was heard). lnd prints 64-bit integers as strings; numbers are accepted
//! too. Nodes keep the order of the `nodes` list (those only in `edges` follow, sorted by public
//! key); channels are sorted by short channel id. Gossip has no balances, so none are read.
//! Every `pub_key`, `node1_pub` and `node2_pub` must be a compressed public key.

use super::locate::Step::{self, Index, Key};
use super::{ImportedChannel, ImportedGraph, Number, Positioned};
use node_core::graph::DirectedPolicy;
use node_core::policy::ChannelPolicy;
use node_core::{NodeId, Scid};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct LndNode {
    pub_key: String,
    #[serde(default)]
    alias: String,
}

#[derive(Deserialize)]
struct LndPolicy {
    #[serde(default)]
    time_lock_delta: Option<u64>,
    #[serde(default)]
    min_htlc: Option<Number>,
    #[serde(default)]
    fee_base_msat: Option<Number>,
    #[serde(default)]
    fee_rate_milli_msat: Option<Number>,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    max_htlc_msat: Option<Number>,
    #[serde(default)]
    last_update: Option<u64>,
}

#[derive(Deserialize)]
struct LndEdge {
    channel_id: Number,
    node1_pub: String,
    node2_pub: String,
    capacity: Number,
    #[serde(default)]
    node1_policy: Option<LndPolicy>,
    #[serde(default)]
    node2_policy: Option<LndPolicy>,
}

#[derive(Deserialize)]
struct DescribeGraph {
    #[serde(default)]
    nodes: Vec<LndNode>,
    edges: Vec<LndEdge>,
}

/// Parses `describegraph` JSON; errors carry the JSON position where there is one, also for
/// checks made after parsing (public keys, channels listed twice, channels to themselves).
pub fn parse_describegraph(json: &[u8]) -> Result<ImportedGraph, Positioned> {
    let mut raw: DescribeGraph = super::from_json(json)
        .map_err(|e| super::json_error(json, &e, "not describegraph JSON"))?;
    let at = |path: &[Step], message: String| (super::locate::position(json, path), message);
    for (i, node) in raw.nodes.iter_mut().enumerate() {
        super::check_pubkey("pub_key", &mut node.pub_key)
            .map_err(|m| at(&[Key("nodes"), Index(i), Key("pub_key")], m))?;
    }
    for (i, edge) in raw.edges.iter_mut().enumerate() {
        for (field, key) in [("node1_pub", &mut edge.node1_pub), ("node2_pub", &mut edge.node2_pub)]
        {
            super::check_pubkey(field, key)
                .map_err(|m| at(&[Key("edges"), Index(i), Key(field)], m))?;
        }
    }
    let mut graph = ImportedGraph::default();
    let mut index: BTreeMap<&str, u32> = BTreeMap::new();
    for (i, node) in raw.nodes.iter().enumerate() {
        if index.insert(&node.pub_key, graph.node_ids.len() as u32).is_some() {
            let message = format!("node {} is listed twice", node.pub_key);
            return Err(at(&[Key("nodes"), Index(i), Key("pub_key")], message));
        }
        graph.node_ids.push(node.pub_key.clone());
        graph.aliases.push(super::clean_alias(node.alias.clone()));
    }
    let unlisted = super::sorted_index(
        raw.edges
            .iter()
            .flat_map(|e| [e.node1_pub.as_str(), e.node2_pub.as_str()])
            .filter(|k| !index.contains_key(k)),
    );
    for key in unlisted.keys() {
        index.insert(key, graph.node_ids.len() as u32);
        graph.node_ids.push(key.to_string());
        graph.aliases.push(String::new());
    }
    let mut channels: BTreeMap<Scid, ImportedChannel> = BTreeMap::new();
    for (i, edge) in raw.edges.iter().enumerate() {
        let field = |name| [Key("edges"), Index(i), Key(name)];
        let id = edge.channel_id.get("channel_id").map_err(|m| at(&field("channel_id"), m))?;
        let scid = Scid(id);
        if scid.block_height() >= 1 << 24 || scid.tx_index() >= 1 << 24 {
            let message = format!("channel_id {id} is not a short channel id");
            return Err(at(&field("channel_id"), message));
        }
        let (a, b) =
            (NodeId(index[edge.node1_pub.as_str()]), NodeId(index[edge.node2_pub.as_str()]));
        if a == b {
            let message = format!("channel {scid} of {} to itself", edge.node1_pub);
            return Err(at(&field("node2_pub"), message));
        }
        let capacity_sat = edge.capacity.get("capacity").map_err(|m| at(&field("capacity"), m))?;
        super::check_capacity_sat(capacity_sat).map_err(|m| at(&field("capacity"), m))?;
        let capacity_msat = capacity_sat * 1000;
        let direction = |p: &Option<LndPolicy>| -> Result<Option<DirectedPolicy>, String> {
            let Some(p) = p else { return Ok(None) };
            let get = |n: &Option<Number>, field: &str| match n {
                Some(n) => n.get(field).map(Some),
                None => Ok(None),
            };
            let base = get(&p.fee_base_msat, "fee_base_msat")?.unwrap_or(0);
            let rate = get(&p.fee_rate_milli_msat, "fee_rate_milli_msat")?.unwrap_or(0);
            let delay = p.time_lock_delta.unwrap_or(0);
            let policy = ChannelPolicy {
                fee_base_msat: u32::try_from(base)
                    .map_err(|_| format!("base fee of channel {scid} above 2^32 msat"))?,
                fee_proportional_millionths: u32::try_from(rate)
                    .map_err(|_| format!("fee rate of channel {scid} above 2^32 ppm"))?,
                cltv_expiry_delta: u16::try_from(delay)
                    .map_err(|_| format!("time_lock_delta of channel {scid} above 65535"))?,
                htlc_minimum_msat: get(&p.min_htlc, "min_htlc")?.unwrap_or(0),
                htlc_maximum_msat: match get(&p.max_htlc_msat, "max_htlc_msat")? {
                    Some(0) | None => capacity_msat,
                    Some(max) => max.min(capacity_msat),
                },
            };
            let timestamp = u32::try_from(p.last_update.unwrap_or(0)).unwrap_or(u32::MAX);
            Ok(Some(DirectedPolicy { policy, disabled: p.disabled, timestamp }))
        };
        let (from_a, from_b) = (
            direction(&edge.node1_policy).map_err(|m| at(&field("node1_policy"), m))?,
            direction(&edge.node2_policy).map_err(|m| at(&field("node2_policy"), m))?,
        );
        let (node_1, node_2, directions) =
            if a < b { (a, b, [from_a, from_b]) } else { (b, a, [from_b, from_a]) };
        let channel = ImportedChannel {
            scid,
            node_1,
            node_2,
            capacity_sat,
            directions,
            balance_1_msat: None,
        };
        if channels.insert(scid, channel).is_some() {
            return Err(at(&field("channel_id"), format!("channel {scid} is listed twice")));
        }
    }
    graph.channels = channels.into_values().collect();
    Ok(graph)
}

#[cfg(test)]
mod tests {
    use super::super::test_keys::{key, keyed};
    use super::*;

    const GRAPH: &str = r#"{
      "nodes": [
        {"last_update": 1700000000, "pub_key": "03cc", "alias": "carol", "addresses": []},
        {"last_update": 1700000000, "pub_key": "02aa", "alias": "alice", "addresses": []}
      ],
      "edges": [
        {"channel_id": "880000012345678901", "chan_point": "ab:0", "last_update": 1,
         "node1_pub": "02aa", "node2_pub": "03cc", "capacity": "2000000",
         "node1_policy": {"time_lock_delta": 80, "min_htlc": "1000", "fee_base_msat": "1000",
                          "fee_rate_milli_msat": "100", "disabled": false,
                          "max_htlc_msat": "1980000000", "last_update": 1700000001},
         "node2_policy": null},
        {"channel_id": 5, "node1_pub": "02aa", "node2_pub": "03bb", "capacity": 500000,
         "node1_policy": {"time_lock_delta": 40, "fee_base_msat": 0, "fee_rate_milli_msat": 1,
                          "disabled": true, "max_htlc_msat": "0"},
         "node2_policy": {"time_lock_delta": 144, "fee_base_msat": 1, "fee_rate_milli_msat": 2}}
      ]
    }"#;

    #[test]
    fn reads_lnd_describegraph() {
        let graph = parse_describegraph(keyed(GRAPH).as_bytes()).unwrap();
        assert_eq!(
            graph.node_ids,
            [key("03cc"), key("02aa"), key("03bb")],
            "listed nodes first, then the rest"
        );
        assert_eq!(graph.aliases[0], "carol");
        assert_eq!(graph.channels.len(), 2);
        let small = graph.channels[0];
        assert_eq!(small.scid, Scid(5));
        assert_eq!(
            (small.node_1, small.node_2, small.capacity_sat),
            (NodeId(1), NodeId(2), 500_000)
        );
        let from_02aa = small.directions[0].unwrap();
        assert!(from_02aa.disabled);
        assert_eq!(from_02aa.policy.htlc_maximum_msat, 500_000_000, "0 means the capacity");
        assert_eq!(small.directions[1].unwrap().policy.cltv_expiry_delta, 144);
        let big = graph.channels[1];
        assert_eq!(big.scid.block_height(), (880000012345678901u64 >> 40) as u32);
        // 02aa is node 1 and 03cc node 0: node1_policy (02aa's) is direction 1 here.
        assert_eq!((big.node_1, big.node_2), (NodeId(0), NodeId(1)));
        assert!(big.directions[0].is_none(), "03cc sent no update");
        let p = big.directions[1].unwrap();
        assert_eq!(p.policy.fee_base_msat, 1000);
        assert_eq!(p.policy.fee_proportional_millionths, 100);
        assert_eq!(p.policy.htlc_minimum_msat, 1000);
        assert_eq!(p.policy.htlc_maximum_msat, 1_980_000_000);
        assert_eq!(p.timestamp, 1_700_000_001);
    }

    #[test]
    fn bad_describegraph_files_say_where() {
        let (position, message) =
            parse_describegraph(b"{\"edges\": [\n {\"channel_id\": {}}]}").unwrap_err();
        assert_eq!(position.map(|p| p.0), Some(2));
        assert!(message.starts_with("not describegraph JSON"), "{message}");
        let bad = keyed(GRAPH).replace("\"capacity\": 500000", "\"capacity\": \"lots\"");
        let (_, message) = parse_describegraph(bad.as_bytes()).unwrap_err();
        assert_eq!(message, "capacity \"lots\" is not a number");
        let twice =
            keyed(GRAPH).replace("\"channel_id\": 5", "\"channel_id\": \"880000012345678901\"");
        let (_, message) = parse_describegraph(twice.as_bytes()).unwrap_err();
        assert!(message.contains("listed twice"), "{message}");
    }

    // Issue 12: a pub_key was taken as written, so a newline in it reached generated RON.
    #[test]
    fn regression_describegraph_refuses_keys_that_are_not_public_keys() {
        let bad = keyed(GRAPH).replacen(&key("02aa"), "02aa\\n, x", 1);
        let (position, message) = parse_describegraph(bad.as_bytes()).unwrap_err();
        assert_eq!(position, Some((4, 48)));
        assert_eq!(
            message,
            r#"pub_key "02aa\n, x" is not a public key (66 hex digits starting 02 or 03)"#
        );
        let bad = keyed(GRAPH).replacen(
            &format!("\"node2_pub\": \"{}\"", key("03bb")),
            "\"node2_pub\": \"03bb\"",
            1,
        );
        let (position, message) = parse_describegraph(bad.as_bytes()).unwrap_err();
        assert_eq!(position, Some((13, 123)));
        assert!(message.starts_with("node2_pub \"03bb\" is not a public key"), "{message}");
    }

    // Issue 12: errors found after parsing had no position and named channels by lnd's packed
    // channel_id.
    #[test]
    fn regression_describegraph_errors_after_parsing_say_where_with_bolt7_scids() {
        let twice =
            keyed(GRAPH).replace("\"channel_id\": 5", "\"channel_id\": \"880000012345678901\"");
        let (position, message) = parse_describegraph(twice.as_bytes()).unwrap_err();
        assert_eq!(position, Some((13, 24)));
        assert_eq!(message, "channel 800355x5851700x7221 is listed twice");
        let node_twice =
            keyed(&GRAPH.replacen("\"pub_key\": \"02aa\"", "\"pub_key\": \"03cc\"", 1));
        let (position, message) = parse_describegraph(node_twice.as_bytes()).unwrap_err();
        assert_eq!(position, Some((4, 48)));
        assert_eq!(message, format!("node {} is listed twice", key("03cc")));
        let to_itself = keyed(&GRAPH.replace("\"node2_pub\": \"03bb\"", "\"node2_pub\": \"02aa\""));
        let (position, message) = parse_describegraph(to_itself.as_bytes()).unwrap_err();
        assert_eq!(position, Some((13, 123)));
        assert_eq!(message, format!("channel 0x0x5 of {} to itself", key("02aa")));
    }
}
