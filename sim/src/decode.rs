//! Trace lines decoded for people: the kind's name, each field named, node ids replaced by node
//! names, BOLT message types and failure codes named, times in seconds. The table is
//! `scenarios/TRACE.md`'s, kept here in code for `verify`'s reports; a test checks that every
//! kind the writer knows is in it. This module reads lines; writing them is [`crate::trace`]'s.

use std::fmt::Write as _;

/// Fields that hold a node id.
const NODE_FIELDS: [&str; 11] =
    ["node", "peer", "from", "to", "a", "b", "payer", "payee", "destination", "customer", "shop"];

/// Each kind's name and fields, as in `scenarios/TRACE.md`. Kinds 71 and 73 end with a path of
/// node ids whose length is their `hops` field.
pub const KINDS: [(u16, &str, &[&str]); 53] = [
    (1, "block", &["height", "tx_count"]),
    (2, "tx broadcast", &["node", "tx_kind", "txid"]),
    (3, "tx confirmed", &["height", "tx_index", "tx_kind", "txid", "fee_sat"]),
    (4, "tx rejected", &["node", "tx_kind", "txid", "reason"]),
    (10, "link up", &["a", "b"]),
    (11, "link down", &["a", "b"]),
    (12, "connection attempt failed", &["from", "to"]),
    (13, "node down", &["node"]),
    (14, "node up", &["node"]),
    (20, "message delivered", &["from", "to", "type", "channel", "f1", "f2", "f3"]),
    (21, "message lost", &["from", "to", "type"]),
    (30, "timer fired", &["node", "timer"]),
    (31, "reconnection timer fired", &["node", "peer"]),
    (32, "peer-away timer fired", &["node", "peer"]),
    (33, "multi-part timer fired", &["node", "payment_hash"]),
    (34, "peer-back timer fired", &["node", "peer"]),
    (35, "commitment tick fired", &["node", "unused"]),
    (36, "forward-processing timer fired", &["node", "unused"]),
    (39, "peer connected", &["node", "peer"]),
    (40, "channel opening", &["node", "peer", "temporary_channel_id", "funding_sat"]),
    (41, "funding broadcast", &["node", "peer", "channel", "txid", "funding_sat"]),
    (42, "channel ready", &["node", "peer", "scid", "funding_sat", "we_opened"]),
    (43, "channel announced", &["node", "scid"]),
    (44, "channel closing", &["node", "peer", "channel"]),
    (45, "channel closed", &["node", "peer", "channel", "reason"]),
    (46, "channel open failed", &["node", "peer", "temporary_channel_id"]),
    (47, "protocol violation", &["node", "peer", "channel"]),
    (48, "we force-closed", &["node", "peer", "channel", "txid"]),
    (49, "channel re-established", &["node", "peer", "channel", "retransmitted"]),
    (
        50,
        "HTLC forwarded",
        &["node", "in_scid", "in_htlc", "out_scid", "out_htlc", "in_msat", "out_msat"],
    ),
    (51, "HTLC refused", &["node", "in_scid", "in_htlc", "failure_code"]),
    (52, "forward settled", &["node", "in_scid", "in_htlc", "fee_msat"]),
    (53, "forward failed downstream", &["node", "in_scid", "in_htlc"]),
    (54, "on-chain claim confirmed", &["node", "channel", "htlc", "amount_sat"]),
    (60, "invoice created", &["node", "payment_hash", "amount_msat"]),
    (61, "invoice paid", &["node", "payment_hash", "received_msat"]),
    (62, "part held", &["node", "payment_hash", "amount_msat", "held_msat", "total_msat"]),
    (63, "parts timed out", &["node", "payment_hash", "parts", "held_msat"]),
    (
        70,
        "payment started",
        &["node", "payment", "destination", "amount_msat", "payment_hash", "router"],
    ),
    (71, "payment attempted", &["node", "payment", "attempt", "sent_msat", "fee_msat", "hops"]),
    (
        72,
        "attempt failed",
        &["node", "payment", "attempt", "failing_hop", "failure_code", "scid", "on_chain"],
    ),
    (
        73,
        "payment succeeded",
        &["node", "payment", "attempts", "fee_msat", "on_chain", "parts", "hops"],
    ),
    (74, "payment failed", &["node", "payment", "attempts", "reason", "last_failure_code"]),
    (75, "part settled", &["node", "payment", "attempt", "on_chain"]),
    (76, "payment refused", &["payer", "payee", "payment", "amount_msat", "reason"]),
    (80, "order requested", &["customer", "shop", "order", "item"]),
    (81, "order invoiced", &["shop", "customer", "order", "payment_hash"]),
    (82, "order delivered", &["customer", "shop", "order", "content_bytes"]),
    (83, "order failed", &["customer", "shop", "order"]),
    (90, "script step done", &["step"]),
    (91, "script step failed", &["step"]),
    (100, "fault started", &["fault", "fault_kind"]),
    (101, "fault ended", &["fault", "fault_kind"]),
];

/// The name and fields of kind `code`.
pub fn kind(code: u16) -> Option<(&'static str, &'static [&'static str])> {
    KINDS.iter().find(|k| k.0 == code).map(|&(_, name, fields)| (name, fields))
}

/// A BOLT message type's name.
pub fn message_name(type_number: u64) -> Option<&'static str> {
    Some(match type_number {
        16 => "init",
        17 => "error",
        32 => "open_channel",
        33 => "accept_channel",
        34 => "funding_created",
        35 => "funding_signed",
        36 => "channel_ready",
        38 => "shutdown",
        39 => "closing_signed",
        128 => "update_add_htlc",
        130 => "update_fulfill_htlc",
        131 => "update_fail_htlc",
        132 => "commitment_signed",
        133 => "revoke_and_ack",
        136 => "channel_reestablish",
        256 => "gossip",
        258 => "channel_update",
        259 => "announcement_signatures",
        _ => return None,
    })
}

/// What `channel`, `f1`, `f2` and `f3` of a delivered message of type `type_number` hold
/// (`scenarios/TRACE.md`, "Message fields"); empty: unused.
fn message_fields(type_number: u64) -> [&'static str; 4] {
    match type_number {
        16 => ["", "initial_routing_sync", "", ""],
        17 | 35 | 36 | 38 => ["channel", "", "", ""],
        32 => ["temporary_channel_id", "funding_sat", "push_msat", "feerate_per_kw"],
        33 => {
            ["temporary_channel_id", "minimum_depth", "channel_reserve_sat", "max_accepted_htlcs"]
        }
        34 => ["temporary_channel_id", "funding_txid", "output_index", ""],
        39 => ["channel", "fee_sat", "", ""],
        136 => ["channel", "next_commitment_number", "next_revocation_number", ""],
        128 => ["channel", "htlc", "amount_msat", "cltv_expiry"],
        130 => ["channel", "htlc", "preimage", ""],
        131 => ["channel", "htlc", "", ""],
        132 => ["channel", "commitment_number", "htlcs", "receiver_balance_msat"],
        133 => ["channel", "revoked_commitment_number", "", ""],
        256 => ["", "messages", "", ""],
        258 => ["scid", "timestamp", "disabled", "fee"],
        259 => ["channel", "scid", "", ""],
        _ => ["channel", "f1", "f2", "f3"],
    }
}

/// A BOLT 4 failure code's name (node-core's), if it is one boltsim knows.
pub fn failure_name(code: u64) -> Option<&'static str> {
    let name = node_core::onion::FailureCode(u16::try_from(code).ok()?).name();
    (name != "unknown").then_some(name)
}

/// An event line decoded, or `None` for a header or footer line or one that is not an event:
/// `12.000345 s  payment attempted: node a, payment 0, attempt 2, ... path b>d>e`.
pub fn describe(line: &str, names: &[String]) -> Option<String> {
    let numbers: Vec<u64> = line.split(' ').map(str::parse).collect::<Result<_, _>>().ok()?;
    let (&time_us, rest) = numbers.split_first()?;
    let (&code, values) = rest.split_first()?;
    let (name, fields) = kind(u16::try_from(code).ok()?)?;
    let node = |id: u64| names.get(id as usize).cloned().unwrap_or_else(|| format!("node {id}"));
    let mut s = format!("{}.{:06} s  {name}:", time_us / 1_000_000, time_us % 1_000_000);
    if code == 20 && values.len() == 7 {
        // A message: its fields by its type.
        let [from, to, type_number] = [values[0], values[1], values[2]];
        let type_name = message_name(type_number).unwrap_or("message");
        let _ = write!(s, " {type_name} ({type_number}) from {} to {}", node(from), node(to));
        for (field, &value) in message_fields(type_number).iter().zip(&values[3..]) {
            match *field {
                "" => {}
                "fee" => {
                    let (base, ppm) = (value >> 32, value & 0xffff_ffff);
                    let _ = write!(s, ", fee_base_msat {base}, fee_ppm {ppm}");
                }
                _ => {
                    let _ = write!(s, ", {field} {value}");
                }
            }
        }
        return Some(s);
    }
    for (i, (field, &value)) in fields.iter().zip(values).enumerate() {
        let shown = if NODE_FIELDS.contains(field) {
            node(value)
        } else if *field == "type" {
            message_name(value).map_or(value.to_string(), |n| format!("{n} ({value})"))
        } else if field.ends_with("failure_code") {
            failure_name(value).map_or(value.to_string(), |n| format!("{n} ({value})"))
        } else {
            value.to_string()
        };
        let _ = write!(s, "{} {field} {shown}", if i == 0 { "" } else { "," });
    }
    if matches!(code, 71 | 73) && values.len() > fields.len() {
        let path: Vec<String> = values[fields.len()..].iter().map(|&id| node(id)).collect();
        let _ = write!(s, ", path {}", path.join(">"));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_decoded_with_names_and_codes() {
        let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        assert_eq!(
            describe("1043708 71 0 0 2 50002100 2100 2 1 2", &names).unwrap(),
            "1.043708 s  payment attempted: node a, payment 0, attempt 2, sent_msat 50002100, fee_msat 2100, hops 2, path b>c"
        );
        assert_eq!(
            describe("5 20 1 0 132 9 4 2 0", &names).unwrap(),
            "0.000005 s  message delivered: commitment_signed (132) from b to a, channel 9, commitment_number 4, htlcs 2, receiver_balance_msat 0"
        );
        assert_eq!(
            describe("600100000 20 1 0 258 77 600 0 4299262263306", &names).unwrap(),
            "600.100000 s  message delivered: channel_update (258) from b to a, scid 77, timestamp 600, disabled 0, fee_base_msat 1001, fee_ppm 10"
        );
        assert_eq!(
            describe("7 72 0 3 1 2 4103 0 0", &names).unwrap(),
            "0.000007 s  attempt failed: node a, payment 3, attempt 1, failing_hop 2, failure_code temporary_channel_failure (4103), scid 0, on_chain 0"
        );
        assert_eq!(describe("# events 681", &names), None);
        assert_eq!(describe("1 999 0", &names), None, "an unknown kind");
    }

    #[test]
    fn the_table_is_trace_md_s() {
        let doc = include_str!("../../scenarios/TRACE.md");
        let mut documented = 0;
        let table = doc.split("| kind | name | fields |").nth(1).expect("the kinds table");
        for line in table.lines().skip(2).take_while(|l| l.starts_with('|')) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let Some(code) = cells.get(1).and_then(|c| c.parse::<u16>().ok()) else { continue };
            documented += 1;
            let (_, fields) = kind(code).unwrap_or_else(|| panic!("kind {code} is not decoded"));
            // The documented fields start with the same names (the doc may say more after them).
            let doc_fields = cells[3].trim_start_matches('`');
            let first = doc_fields.split('`').next().unwrap();
            let named: Vec<&str> = first.split(' ').filter(|f| !f.ends_with("...")).collect();
            let ours: Vec<&str> = fields.iter().copied().filter(|f| *f != "unused").collect();
            assert_eq!(ours, named[..ours.len().min(named.len())], "kind {code}");
        }
        assert_eq!(documented, KINDS.len());
    }
}
