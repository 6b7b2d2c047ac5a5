//! Real network snapshots in and out. Four formats are read: Core Lightning's `listchannels`
//! JSON ([`cln`]), lnd's `describegraph` JSON ([`lnd`]), CLoTH's CSV files ([`cloth`]) and
//! SimLN's `sim_network` JSON ([`simln`]), which is also written so that a run can be
//! cross-checked against that tool. JSON files may be gzip-packed. Every reader yields an
//! [`ImportedGraph`]: nodes with their public keys, channels with capacities, each direction's
//! policy (disabled or not) and, when the format has them (CLoTH), starting balances.
//!
//! Every file is read with bounds: at most [`MAX_SNAPSHOT_BYTES`] of text (after inflating), UTF-8
//! (a byte-order mark at the start is skipped). Node ids are checked: public keys in the JSON
//! formats (lowercased), whole numbers in CLoTH's; control characters in aliases are replaced by
//! U+FFFD, so no string of a snapshot can end a line of text written from it.
//!
//! What this module does not do: turn a graph into a scenario (node settings, balances for graphs
//! without them, names); that is the scenario's job ([`crate::scenario`]). Errors are one line
//! naming the file and, where known, the line and column (also for checks made after parsing,
//! found by `locate`); short channel ids are shown as BOLT 7 writes them (`800000x12x1`).

pub mod cln;
pub mod cloth;
pub mod lnd;
pub(crate) mod locate;
pub mod simln;

use node_core::graph::{BaseGraph, ChannelInfo, DirectedPolicy};
use node_core::{NodeId, Scid};
use serde::Deserialize;
use std::path::Path;

/// Whether `key` looks like a compressed public key (66 hex digits starting 02 or 03).
pub fn is_pubkey(key: &str) -> bool {
    // Every digit read, without stopping at the first that fails: a loop the compiler can
    // widen (a mainnet import checks 200,000 keys).
    key.len() == 66
        && (key.starts_with("02") || key.starts_with("03"))
        && key.bytes().fold(true, |hex, b| hex & b.is_ascii_hexdigit())
}

/// The most text a snapshot file may hold, after inflating a gzip-packed one: 256 MiB. The
/// mainnet snapshot of `../shared/data/mainnet` inflates to 43,982,755 bytes (about 42 MiB), so
/// this is about 6 times that; lnd's `describegraph` of the same network, more verbose, is
/// estimated at 100 MB. A file past it is refused with one line naming the file and the limit, after reading
/// or inflating at most one byte more, so a gzip bomb costs at most about that much memory.
pub const MAX_SNAPSHOT_BYTES: usize = crate::input::MAX_TEXT_BYTES;

/// Checks that a channel of `capacity_sat` holds at most all bitcoin (21 million), so that every
/// sum of msat formed from it fits in 64 bits.
pub(crate) fn check_capacity_sat(capacity_sat: u64) -> Result<u64, String> {
    if capacity_sat > node_core::chain::MAX_MONEY_SAT {
        return Err(format!(
            "capacity {capacity_sat} sat is more than all bitcoin ({} sat)",
            node_core::chain::MAX_MONEY_SAT
        ));
    }
    Ok(capacity_sat)
}

/// [`check_capacity_sat`] for a capacity in msat; returns it in sat.
pub(crate) fn check_capacity_msat(capacity_msat: u64) -> Result<u64, String> {
    if capacity_msat > node_core::chain::MAX_MONEY_MSAT {
        return Err(format!(
            "capacity {capacity_msat} msat is more than all bitcoin ({} msat)",
            node_core::chain::MAX_MONEY_MSAT
        ));
    }
    Ok(capacity_msat / 1000)
}

/// Checks that the node id `key` (the value of `field`) is a compressed public key, and writes it
/// in lowercase, as lnd and Core Lightning print keys, so that one key has one spelling.
pub(crate) fn check_pubkey(field: &str, key: &mut str) -> Result<(), String> {
    if !is_pubkey(key) {
        return Err(format!(
            "{field} {} is not a public key (66 hex digits starting 02 or 03)",
            shown(key)
        ));
    }
    key.make_ascii_lowercase();
    Ok(())
}

/// A node's alias with each control character (newlines, tabs, escape sequences) replaced by
/// U+FFFD: aliases are shown in comments and reports, one line each.
pub(crate) fn clean_alias(alias: String) -> String {
    if alias.chars().any(char::is_control) {
        alias.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect()
    } else {
        alias
    }
}

/// `text` quoted and escaped for an error message, cut after 80 characters.
pub(crate) fn shown(text: &str) -> String {
    const SHOWN_CHARS: usize = 80;
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{:?}...", &text[..cut]),
        None => format!("{text:?}"),
    }
}

/// A snapshot that cannot be read: one line naming the file and, where known, the position.
pub type ImportError = crate::input::InputError;

/// An error inside one file: where, if known, and what.
pub type Positioned = (Option<(usize, usize)>, String);

/// A public channel of a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportedChannel {
    /// Its short channel id (made up from its index when the file has none).
    pub scid: Scid,
    /// The end with the smaller index.
    pub node_1: NodeId,
    /// The other end.
    pub node_2: NodeId,
    /// Its value, sat.
    pub capacity_sat: u64,
    /// The policy of the direction from `node_1`, then from `node_2`; `None` if the file has no
    /// entry for it.
    pub directions: [Option<DirectedPolicy>; 2],
    /// What `node_1` holds at the start, msat, when the file says (CLoTH); `None` otherwise.
    pub balance_1_msat: Option<u64>,
}

/// A snapshot's public graph.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportedGraph {
    /// Each node's public key, hex, by index (CLoTH has none: its node ids as text).
    pub node_ids: Vec<String>,
    /// Each node's alias, by index (empty if unknown).
    pub aliases: Vec<String>,
    /// The channels, by short channel id.
    pub channels: Vec<ImportedChannel>,
}

impl ImportedGraph {
    /// The graph every node of a run would start from.
    pub fn base_graph(&self) -> BaseGraph {
        let channels = self
            .channels
            .iter()
            .map(|c| ChannelInfo {
                scid: c.scid,
                node_1: c.node_1,
                node_2: c.node_2,
                capacity_sat: c.capacity_sat,
                directions: c.directions,
            })
            .collect();
        BaseGraph::new(self.node_ids.len() as u32, channels)
    }

    /// Whether `node_2` of `channel` is its opener: BOLT 7's `node_1` is the end with the smaller
    /// public key, and gossip does not say who opened, so the opener is taken to be that end.
    /// The file's index order and key order agree except where they do not (CLoTH, whose ids
    /// are not keys, keeps index order).
    pub fn opened_by_node_2(&self, channel: &ImportedChannel) -> bool {
        let (k1, k2) =
            (&self.node_ids[channel.node_1.index()], &self.node_ids[channel.node_2.index()]);
        is_pubkey(k1) && is_pubkey(k2) && k2 < k1
    }

    /// Whether every channel carries its starting balances.
    pub fn has_balances(&self) -> bool {
        !self.channels.is_empty() && self.channels.iter().all(|c| c.balance_1_msat.is_some())
    }

    /// Nodes with a channel enabled in at least one direction: those a payment can start or end
    /// at (6,978 of 17,324 in the 2026 mainnet snapshot).
    pub fn routable_nodes(&self) -> Vec<NodeId> {
        let mut yes = vec![false; self.node_ids.len()];
        for c in &self.channels {
            if c.directions.iter().any(|d| d.is_some_and(|d| !d.disabled)) {
                yes[c.node_1.index()] = true;
                yes[c.node_2.index()] = true;
            }
        }
        (0..yes.len() as u32).filter(|&i| yes[i as usize]).map(NodeId).collect()
    }
}

/// The snapshot formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum GraphFormat {
    /// Core Lightning `listchannels` JSON (or the derived mainnet file).
    ClnListchannels,
    /// lnd `describegraph` JSON.
    LndDescribegraph,
    /// CLoTH's `nodes`, `channels` and `edges` CSV files.
    Cloth,
    /// SimLN's `sim_network` JSON.
    Simln,
}

impl GraphFormat {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            GraphFormat::ClnListchannels => "cln",
            GraphFormat::LndDescribegraph => "lnd",
            GraphFormat::Cloth => "cloth",
            GraphFormat::Simln => "simln",
        }
    }

    /// The format of a command-line name.
    pub fn from_name(name: &str) -> Option<GraphFormat> {
        [GraphFormat::ClnListchannels, GraphFormat::LndDescribegraph, GraphFormat::Cloth]
            .into_iter()
            .chain([GraphFormat::Simln])
            .find(|f| f.name() == name)
    }
}

/// Reads a snapshot. `format` `None` tells the format from the file: a directory or a `.csv`
/// file is CLoTH's; JSON is told by its top-level keys (`sim_network`, `edges`, `channels`).
pub fn read_graph(path: &Path, format: Option<GraphFormat>) -> Result<ImportedGraph, ImportError> {
    // A sweep loads its base scenario once per cell; the snapshot (a second to parse for
    // mainnet) is read once per process, and again only if the file changed.
    type Key = (std::path::PathBuf, Option<GraphFormat>, u64, Option<std::time::SystemTime>);
    static CACHE: std::sync::Mutex<Vec<(Key, std::sync::Arc<ImportedGraph>)>> =
        std::sync::Mutex::new(Vec::new());
    let stamp = std::fs::metadata(path).map(|m| (m.len(), m.modified().ok()));
    // Files only: a CLoTH directory's own time does not change when a file in it is edited.
    let key = stamp
        .ok()
        .filter(|_| path.is_file())
        .map(|(len, modified)| (path.to_path_buf(), format, len, modified));
    if let Some(key) = &key
        && let Some((_, graph)) =
            CACHE.lock().ok().and_then(|c| c.iter().find(|(k, _)| k == key).cloned())
    {
        return Ok(ImportedGraph::clone(&graph));
    }
    let graph = read_graph_uncached(path, format)?;
    if graph.node_ids.is_empty() {
        let message = "holds no nodes: nothing to import".to_string();
        return Err(ImportError { file: path.display().to_string(), position: None, message });
    }
    if let (Some(key), Ok(mut cache)) = (key, CACHE.lock()) {
        // A few snapshots at most: the newest replaces the oldest.
        if cache.len() >= 4 {
            cache.remove(0);
        }
        cache.push((key, std::sync::Arc::new(graph.clone())));
    }
    Ok(graph)
}

fn read_graph_uncached(
    path: &Path,
    format: Option<GraphFormat>,
) -> Result<ImportedGraph, ImportError> {
    let file = path.display().to_string();
    let fail = |position, message: String| ImportError { file: file.clone(), position, message };
    let is_csv = path.is_dir() || path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if format == Some(GraphFormat::Cloth) || (format.is_none() && is_csv) {
        return cloth::read(path);
    }
    let text = read_text(path, MAX_SNAPSHOT_BYTES, true)?;
    let json = text.as_bytes();
    let parse = |format| match format {
        GraphFormat::ClnListchannels => cln::parse_listchannels(json),
        GraphFormat::LndDescribegraph => lnd::parse_describegraph(json),
        GraphFormat::Simln => simln::parse_sim_network(json),
        GraphFormat::Cloth => unreachable!("handled above"),
    };
    let format = match format {
        Some(f) => f,
        // A file whose top-level keys tell its format is parsed once; should that fail, the
        // full probe runs as it would have first, so errors stay what they were.
        None => match top_level_format(json) {
            Some(f) => match parse(f) {
                Ok(graph) => return Ok(graph),
                Err(e) => match detect_json(json) {
                    Ok(probed) if probed == f => return Err(fail(e.0, e.1)),
                    probed => probed.map_err(|(position, message)| fail(position, message))?,
                },
            },
            None => detect_json(json).map_err(|(position, message)| fail(position, message))?,
        },
    };
    parse(format).map_err(|(position, message)| fail(position, message))
}

/// A guess at [`detect_json`]'s answer, from the keys at the top level of the text's objects,
/// read without parsing the values (only strings and the nesting of brackets are followed):
/// parsing the whole mainnet snapshot once more, to ignore it, was a tenth of a short run.
/// `None` when it meets an array at the top, an object after one with keys, an unclosed string
/// or bracket, a key with an escape, a telling key twice (the probe refuses that) or no telling
/// key: the probe then decides, and says what is wrong. Anything else (stray text or an empty
/// object beside the object, a telling key whose value is `null`, which the probe reads as
/// absent) is left to the guessed format's parse, which fails on it, and the caller then asks
/// the probe.
fn top_level_format(json: &[u8]) -> Option<GraphFormat> {
    let mut keys: Vec<&[u8]> = Vec::new();
    let (mut depth, mut expect_key, mut i) = (0usize, false, 0);
    while let Some(&byte) = json.get(i) {
        match byte {
            b'"' => {
                let start = i + 1;
                let mut end = start;
                loop {
                    end += memchr::memchr2(b'"', b'\\', json.get(end..)?)?;
                    if json[end] == b'"' {
                        break;
                    }
                    end += 2; // an escape and the character it escapes
                }
                if depth == 1 && expect_key {
                    keys.push(&json[start..end]);
                }
                expect_key = false;
                i = end;
            }
            b'{' | b'[' => {
                if depth == 0 && (byte != b'{' || !keys.is_empty()) {
                    return None;
                }
                depth += 1;
                expect_key = depth == 1;
            }
            b'}' | b']' => depth = depth.checked_sub(1)?,
            b',' => expect_key = depth == 1,
            _ => {}
        }
        i += 1;
    }
    if depth != 0 || keys.iter().any(|k| k.contains(&b'\\')) {
        return None;
    }
    let count = |name: &str| keys.iter().filter(|k| **k == name.as_bytes()).count();
    let (sim_network, edges, channels) = (count("sim_network"), count("edges"), count("channels"));
    if sim_network.max(edges).max(channels) > 1 {
        return None;
    }
    let has = |n: usize| n == 1;
    if has(sim_network) {
        Some(GraphFormat::Simln)
    } else if has(edges) {
        Some(GraphFormat::LndDescribegraph)
    } else if has(channels) {
        Some(GraphFormat::ClnListchannels)
    } else {
        None
    }
}

/// Reads a Core Lightning `listchannels` file, gzip-packed or not.
pub fn read_listchannels(path: &Path) -> Result<ImportedGraph, ImportError> {
    read_graph(path, Some(GraphFormat::ClnListchannels))
}

pub(crate) use crate::input::{json_error, read_text};

/// `json` deserialized: as text when it is UTF-8 (a snapshot read through [`read_text`]
/// always is), which spares serde_json checking each string's UTF-8 once more (4% of a run of
/// one mainnet payment); as bytes otherwise, so that the error says where the text is not
/// UTF-8. Both read the same JSON with the same errors.
pub(crate) fn from_json<'a, T: Deserialize<'a>>(json: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(json) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(json),
    }
}

/// Tells a JSON snapshot's format by its top-level keys.
fn detect_json(json: &[u8]) -> Result<GraphFormat, Positioned> {
    #[derive(Deserialize)]
    struct Probe {
        sim_network: Option<serde::de::IgnoredAny>,
        edges: Option<serde::de::IgnoredAny>,
        channels: Option<serde::de::IgnoredAny>,
    }
    let probe: Probe = from_json(json).map_err(|e| json_error(json, &e, "not a JSON snapshot"))?;
    match (probe.sim_network, probe.edges, probe.channels) {
        (Some(_), _, _) => Ok(GraphFormat::Simln),
        (None, Some(_), _) => Ok(GraphFormat::LndDescribegraph),
        (None, None, Some(_)) => Ok(GraphFormat::ClnListchannels),
        (None, None, None) => Err((
            None,
            "not a snapshot: no top-level \"channels\" (Core Lightning), \"edges\" (lnd) or \
             \"sim_network\" (SimLN)"
                .into(),
        )),
    }
}

/// A JSON number that some tools print as a string (lnd prints 64-bit integers as strings).
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Number {
    Int(u64),
    Text(String),
}

impl Number {
    pub(crate) fn get(&self, field: &str) -> Result<u64, String> {
        match self {
            Number::Int(n) => Ok(*n),
            Number::Text(t) => t.parse().map_err(|_| format!("{field} {t:?} is not a number")),
        }
    }
}

/// Shared by the JSON readers: node indexes in sorted public-key order.
pub(crate) fn sorted_index<'k>(
    keys: impl IntoIterator<Item = &'k str>,
) -> std::collections::BTreeMap<&'k str, u32> {
    let mut index: std::collections::BTreeMap<&str, u32> =
        keys.into_iter().map(|k| (k, 0)).collect();
    for (i, slot) in index.values_mut().enumerate() {
        *slot = i as u32;
    }
    index
}

/// Short test names for public keys.
#[cfg(test)]
pub(crate) mod test_keys {
    /// The public key a short test name such as `02aa` stands for: the name, then its last two
    /// digits repeated to 66.
    pub(crate) fn key(short: &str) -> String {
        format!("{short}{}", short[2..4].repeat(31))
    }

    /// `json` with every quoted short test name (`"02aa"`) written as its key.
    pub(crate) fn keyed(json: &str) -> String {
        ["02aa", "03bb", "03cc", "02ee", "03ff"].iter().fold(json.to_string(), |j, k| {
            j.replace(&format!("\"{k}\""), &format!("\"{}\"", key(k)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    #[test]
    fn the_format_is_told_from_the_file() {
        for (name, nodes, channels) in [
            ("listchannels.json", 3, 2),
            ("describegraph.json", 3, 2),
            ("sim_network.json", 3, 2),
            ("cloth", 4, 3),
        ] {
            let graph = read_graph(&fixture(name), None).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!((graph.node_ids.len(), graph.channels.len()), (nodes, channels), "{name}");
        }
    }

    #[test]
    fn the_top_level_keys_guess_what_the_full_probe_tells_or_nothing() {
        for name in ["listchannels.json", "describegraph.json", "sim_network.json"] {
            let json = std::fs::read(fixture(name)).unwrap();
            assert_eq!(top_level_format(&json), Some(detect_json(&json).unwrap()), "{name}");
        }
        let cases: [(&str, Option<GraphFormat>); 11] = [
            // Only top-level keys count, not values or nested keys, and the SimLN key wins.
            (
                r#"{"a": {"channels": []}, "b": ["edges"], "channels": [1]}"#,
                Some(GraphFormat::ClnListchannels),
            ),
            (
                r#"{"channels": [], "x": "}{\"edges\"", "edges": []}"#,
                Some(GraphFormat::LndDescribegraph),
            ),
            (r#"{"channels": [], "sim_network": []}"#, Some(GraphFormat::Simln)),
            (r#"{"nodes": {"edges": 1}}"#, None),
            // A telling key twice, which the probe refuses.
            (r#"{"sim_network": [], "edges": 0, "edges": 0}"#, None),
            (r#"{"channels": [], "x": "\", \"edges\": ["}"#, Some(GraphFormat::ClnListchannels)),
            // An escaped key, an array, two objects, an unclosed string or object: the probe's
            // to tell.
            (r#"{"chan\u006eels": []}"#, None),
            (r#"[{"channels": []}]"#, None),
            (r#"{"channels": []} {"edges": []}"#, None),
            (r#"{"channels": [], "x": "abc"#, None),
            (r#"{"channels": [{}]"#, None),
        ];
        for (json, format) in cases {
            assert_eq!(top_level_format(json.as_bytes()), format, "{json}");
        }
    }

    #[test]
    fn unreadable_or_unknown_files_get_one_line() {
        let err = read_listchannels(Path::new("/nonexistent/listchannels.json")).unwrap_err();
        assert!(err.to_string().starts_with("/nonexistent/listchannels.json: cannot read"));
        let dir = std::env::temp_dir().join(format!("boltsim-import-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("other.json");
        std::fs::write(&path, "{\"nodes\": []}").unwrap();
        let err = read_graph(&path, None).unwrap_err();
        assert!(err.message.starts_with("not a snapshot"), "{err}");
        std::fs::write(&path, "{\"nodes\": [\n  1,, 2]}").unwrap();
        let err = read_graph(&path, None).unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(2), "{err}");
        // A telling key twice is refused, though the format it would tell ignores that key.
        std::fs::write(&path, r#"{"sim_network": [], "edges": 0, "edges": 0}"#).unwrap();
        let err = read_graph(&path, None).unwrap_err();
        assert!(err.message.starts_with("not a JSON snapshot: duplicate field `edges`"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn routable_nodes_have_an_enabled_direction() {
        let mut graph = read_graph(&fixture("listchannels.json"), None).unwrap();
        assert_eq!(graph.routable_nodes(), [NodeId(0), NodeId(1), NodeId(2)]);
        // With both directions of 02aa's channel disabled, 02aa can neither pay nor be paid.
        graph.channels[0].directions[1].as_mut().unwrap().disabled = true;
        assert_eq!(graph.routable_nodes(), [NodeId(1), NodeId(2)]);
    }

    // Issue 12: a 1 MB gzip bomb took 1.1 GB; what is inflated is now bounded.
    #[test]
    fn regression_a_gzip_bomb_is_refused_at_the_inflation_limit() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("boltsim-bomb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let limit = 1 << 20;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let zeros = vec![0u8; limit];
        for _ in 0..16 {
            gz.write_all(&zeros).unwrap();
        }
        let bomb = dir.join("bomb.json.gz");
        std::fs::write(&bomb, gz.finish().unwrap()).unwrap();
        let err = read_text(&bomb, limit, true).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: inflates to more than 1048576 bytes (1 MiB), the limit of an input file's \
                 text",
                bomb.display()
            )
        );
        // A plain file past the limit likewise; one at the limit is read.
        let plain = dir.join("plain.json");
        std::fs::write(&plain, vec![b' '; limit + 1]).unwrap();
        let err = read_text(&plain, limit, true).unwrap_err();
        assert!(err.message.starts_with("holds more than 1048576 bytes (1 MiB)"), "{err}");
        std::fs::write(&plain, vec![b' '; limit]).unwrap();
        assert_eq!(read_text(&plain, limit, true).unwrap().len(), limit);
        // The public path's limit, as documented.
        assert_eq!(
            (MAX_SNAPSHOT_BYTES, crate::input::mib(MAX_SNAPSHOT_BYTES).as_str()),
            (256 << 20, "256 MiB")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn json_errors_count_columns_in_characters() {
        let json = "{\"nodes\": [\n  {\"alias\": \"\u{e9}\", \"x\": ]}".as_bytes();
        let (position, message) = detect_json(json).unwrap_err();
        assert_eq!(position, Some((2, 23)), "{message}");
        assert_eq!(message, "not a JSON snapshot: expected value");
    }
}
