//! CLoTH's network CSV files: `nodes` (`id`), `channels` (`id, edge1_id, edge2_id, node1_id,
//! node2_id, capacity` in msat) and `edges`, one per direction (`id, channel_id,
//! counter_edge_id, from_node_id, to_node_id, balance, fee_base, fee_proportional, min_htlc,
//! timelock`; amounts in msat, the fee rate in ppm, the timelock in blocks). Each file has a
//! header row (units in parentheses, as in CLoTH's templates, are allowed) and may end its lines
//! with CRLF. The files are found in a directory as `nodes_ln.csv`, `channels_ln.csv`,
//! `edges_ln.csv` (CLoTH's snapshot) or `nodes.csv`, `channels.csv`, `edges.csv`; or next to a
//! named one of them. Nodes keep the order of the nodes file; channels get short channel ids
//! made from their CLoTH ids. Balances are CLoTH's own: `balance` of edge1 is `node1_id`'s.
//! Every id, node ids included, must be a whole number (CLoTH's node ids are not public keys).

use super::{ImportError, ImportedChannel, ImportedGraph};
use node_core::graph::DirectedPolicy;
use node_core::policy::ChannelPolicy;
use node_core::{NodeId, Scid};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The three files of a CLoTH network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClothFiles {
    /// `nodes*.csv`.
    pub nodes: PathBuf,
    /// `channels*.csv`.
    pub channels: PathBuf,
    /// `edges*.csv`.
    pub edges: PathBuf,
}

/// Finds the three files from a directory or one of them.
pub fn locate(path: &Path) -> Result<ClothFiles, ImportError> {
    let fail =
        |message: String| ImportError { file: path.display().to_string(), position: None, message };
    let in_dir = |dir: &Path, suffix: &str| ClothFiles {
        nodes: dir.join(format!("nodes{suffix}.csv")),
        channels: dir.join(format!("channels{suffix}.csv")),
        edges: dir.join(format!("edges{suffix}.csv")),
    };
    let files = if path.is_dir() {
        let snapshot = in_dir(path, "_ln");
        if snapshot.channels.exists() { snapshot } else { in_dir(path, "") }
    } else {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let rest =
            ["nodes", "channels", "edges"].iter().find_map(|p| name.strip_prefix(p)).ok_or_else(
                || fail("a CLoTH file is named nodes*.csv, channels*.csv or edges*.csv".into()),
            )?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let suffix = rest.strip_suffix(".csv").unwrap_or(rest);
        in_dir(dir, suffix)
    };
    for f in [&files.nodes, &files.channels, &files.edges] {
        if !f.is_file() {
            return Err(fail(format!("CLoTH network incomplete: {} is missing", f.display())));
        }
    }
    Ok(files)
}

/// A CSV file being read: its text and its rows, as (line number, the line's byte range), split
/// into fields only as they are read (a snapshot has hundreds of thousands of fields).
struct Csv {
    file: String,
    columns: Vec<String>,
    text: String,
    rows: Vec<(usize, std::ops::Range<usize>)>,
}

impl Csv {
    fn read(path: &Path) -> Result<Csv, ImportError> {
        let file = path.display().to_string();
        let text = super::read_text(path, super::MAX_SNAPSHOT_BYTES, false)?;
        let mut lines = text.split('\n').enumerate().scan(0, |at, (i, line)| {
            let start = *at;
            *at += line.len() + 1;
            let line = line.trim_end_matches('\r');
            Some((i + 1, line, start..start + line.len()))
        });
        let header = lines.next().map(|(_, l, _)| l).unwrap_or_default();
        // "capacity(millisat)" is CLoTH's template header for "capacity".
        let columns = header
            .split(',')
            .map(|c| c.split('(').next().unwrap_or(c).trim().to_string())
            .collect();
        let rows = lines.filter(|(_, l, _)| !l.trim().is_empty()).map(|(n, _, r)| (n, r)).collect();
        Ok(Csv { file, columns, text, rows })
    }

    fn error(&self, position: Option<(usize, usize)>, message: String) -> ImportError {
        ImportError { file: self.file.clone(), position, message }
    }

    /// The index of each named column, or an error at the header.
    fn indexes<const N: usize>(&self, names: [&str; N]) -> Result<[usize; N], ImportError> {
        let mut out = [0; N];
        for (slot, name) in out.iter_mut().zip(names) {
            *slot = self.columns.iter().position(|c| c == name).ok_or_else(|| {
                self.error(Some((1, 1)), format!("the header has no column {name:?}"))
            })?;
        }
        Ok(out)
    }

    /// Every row's values in the given columns, as integers.
    fn numbers<const N: usize>(&self, names: [&str; N]) -> Result<Vec<[u64; N]>, ImportError> {
        let indexes = self.indexes(names)?;
        // A row's fields, with the column each starts at: one buffer for all rows.
        let mut fields: Vec<(usize, &str)> = Vec::with_capacity(self.columns.len());
        self.rows
            .iter()
            .map(|(line, range)| {
                fields.clear();
                let mut col = 1;
                for f in self.text[range.clone()].split(',') {
                    fields.push((col, f.trim()));
                    col += f.len() + 1;
                }
                if fields.len() != self.columns.len() {
                    return Err(self.error(
                        Some((*line, 1)),
                        format!(
                            "{} fields where the header has {}",
                            fields.len(),
                            self.columns.len()
                        ),
                    ));
                }
                let mut out = [0; N];
                for (slot, (&i, name)) in out.iter_mut().zip(indexes.iter().zip(names)) {
                    let (col, text) = fields[i];
                    *slot = text.parse().map_err(|_| {
                        self.error(
                            Some((*line, col)),
                            format!("{name} {text:?} is not a whole number"),
                        )
                    })?;
                }
                Ok(out)
            })
            .collect()
    }

    fn line(&self, row: usize) -> Option<(usize, usize)> {
        Some((self.rows[row].0, 1))
    }
}

/// Reads a CLoTH network from a directory or one of its files.
pub fn read(path: &Path) -> Result<ImportedGraph, ImportError> {
    let files = locate(path)?;
    let (nodes, channels, edges) =
        (Csv::read(&files.nodes)?, Csv::read(&files.channels)?, Csv::read(&files.edges)?);
    let mut graph = ImportedGraph::default();
    let mut index: BTreeMap<u64, NodeId> = BTreeMap::new();
    for (row, [id]) in nodes.numbers(["id"])?.into_iter().enumerate() {
        if index.insert(id, NodeId(graph.node_ids.len() as u32)).is_some() {
            return Err(nodes.error(nodes.line(row), format!("node {id} is listed twice")));
        }
        graph.node_ids.push(id.to_string());
        graph.aliases.push(String::new());
    }
    let edge_rows = edges.numbers([
        "id",
        "channel_id",
        "from_node_id",
        "to_node_id",
        "balance",
        "fee_base",
        "fee_proportional",
        "min_htlc",
        "timelock",
    ])?;
    let mut edge_at: BTreeMap<u64, usize> = BTreeMap::new();
    for (row, e) in edge_rows.iter().enumerate() {
        if edge_at.insert(e[0], row).is_some() {
            return Err(edges.error(edges.line(row), format!("edge {} is listed twice", e[0])));
        }
    }
    let mut out: BTreeMap<Scid, ImportedChannel> = BTreeMap::new();
    let channel_rows =
        channels.numbers(["id", "edge1_id", "edge2_id", "node1_id", "node2_id", "capacity"])?;
    for (row, [id, edge1, edge2, node1, node2, capacity_msat]) in
        channel_rows.into_iter().enumerate()
    {
        let at = channels.line(row);
        let bad = |message: String| channels.error(at, message);
        let node = |n: u64| index.get(&n).copied().ok_or_else(|| bad(format!("unknown node {n}")));
        let (a, b) = (node(node1)?, node(node2)?);
        if a == b {
            return Err(bad(format!("channel {id} of node {node1} to itself")));
        }
        super::check_capacity_msat(capacity_msat).map_err(bad)?;
        if capacity_msat % 1000 != 0 {
            return Err(bad(format!("capacity {capacity_msat} msat is not whole satoshis")));
        }
        let mut halves = [None; 2];
        for (slot, (edge_id, from, to)) in
            [(edge1, node1, node2), (edge2, node2, node1)].into_iter().enumerate()
        {
            let &edge_row = edge_at.get(&edge_id).ok_or_else(|| {
                bad(format!("channel {id} names edge {edge_id}, which is not in {}", edges.file))
            })?;
            let e = edge_rows[edge_row];
            if (e[1], e[2], e[3]) != (id, from, to) {
                return Err(edges.error(
                    edges.line(edge_row),
                    format!("edge {edge_id} does not go {from} -> {to} on channel {id}"),
                ));
            }
            let narrow = |value: u64, field: &str, max: u64| {
                (value <= max).then_some(value).ok_or_else(|| {
                    edges.error(edges.line(edge_row), format!("{field} {value} is too large"))
                })
            };
            let policy = ChannelPolicy {
                fee_base_msat: narrow(e[5], "fee_base", u32::MAX.into())? as u32,
                fee_proportional_millionths: narrow(e[6], "fee_proportional", u32::MAX.into())?
                    as u32,
                cltv_expiry_delta: narrow(e[8], "timelock", u16::MAX.into())? as u16,
                htlc_minimum_msat: e[7],
                htlc_maximum_msat: capacity_msat,
            };
            halves[slot] = Some((DirectedPolicy { policy, disabled: false, timestamp: 0 }, e[4]));
        }
        let [Some((p1, balance1)), Some((p2, balance2))] = halves else {
            unreachable!("both halves are filled above")
        };
        if balance1.checked_add(balance2) != Some(capacity_msat) {
            return Err(bad(format!(
                "the balances of edges {edge1} and {edge2} ({balance1} + {balance2} msat) do not add up to the capacity {capacity_msat} msat"
            )));
        }
        let scid = Scid::new(1 + (id / 1000) as u32, (id % 1000) as u32, 0);
        let channel = if a < b {
            ImportedChannel {
                scid,
                node_1: a,
                node_2: b,
                capacity_sat: capacity_msat / 1000,
                directions: [Some(p1), Some(p2)],
                balance_1_msat: Some(balance1),
            }
        } else {
            ImportedChannel {
                scid,
                node_1: b,
                node_2: a,
                capacity_sat: capacity_msat / 1000,
                directions: [Some(p2), Some(p1)],
                balance_1_msat: Some(balance2),
            }
        };
        if id >= 1 << 24 || out.insert(scid, channel).is_some() {
            return Err(bad(format!("channel id {id} is repeated or above 2^24")));
        }
    }
    graph.channels = out.into_values().collect();
    Ok(graph)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloth")
    }

    #[test]
    fn reads_cloth_csv_with_crlf_and_balances() {
        let graph = read(&fixture()).unwrap();
        assert_eq!(graph.node_ids, ["0", "1", "2", "3"]);
        assert_eq!(graph.channels.len(), 3);
        assert!(graph.has_balances());
        // Channel 1 is node 2 -> node 1 in the file; node 1 is node_1 here.
        let c = graph.channels[1];
        assert_eq!((c.node_1, c.node_2, c.capacity_sat), (NodeId(1), NodeId(2), 20_000));
        assert_eq!(c.balance_1_msat, Some(18_000_000), "edge 3 (1 -> 2) holds 18000 sat");
        let from_2 = c.directions[1].unwrap().policy;
        assert_eq!((from_2.fee_base_msat, from_2.fee_proportional_millionths), (100, 5));
        assert_eq!((from_2.htlc_minimum_msat, from_2.cltv_expiry_delta), (1, 40));
        // Naming one file finds the others.
        assert_eq!(read(&fixture().join("edges.csv")).unwrap(), graph);
    }

    #[test]
    fn bad_cloth_files_say_file_line_and_column() {
        let dir = std::env::temp_dir().join(format!("boltsim-cloth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["nodes.csv", "channels.csv", "edges.csv"] {
            std::fs::copy(fixture().join(f), dir.join(f)).unwrap();
        }
        let edges = std::fs::read_to_string(dir.join("edges.csv")).unwrap();
        std::fs::write(
            dir.join("edges.csv"),
            edges.replacen("1000,1,1000,144", "1000,x,1000,144", 1),
        )
        .unwrap();
        let err = read(&dir).unwrap_err();
        assert!(err.file.ends_with("edges.csv"), "{err}");
        assert_eq!(err.position, Some((2, 24)), "{err}");
        assert_eq!(err.message, "fee_proportional \"x\" is not a whole number");
        // Two bad fields: the first is reported.
        let two = edges.replacen(
            "0,0,1,0,1,4300909,1000,1,1000,144",
            "0,0,1,0,1,4300909,1000,1,1000,y",
            1,
        );
        std::fs::write(dir.join("edges.csv"), two.replacen("1000,1,1000,y", "z,1,1000,y", 1))
            .unwrap();
        let err = read(&dir).unwrap_err();
        assert_eq!(err.position, Some((2, 19)), "{err}");
        assert_eq!(err.message, "fee_base \"z\" is not a whole number");
        // A field short: the count is reported before any value.
        std::fs::write(dir.join("edges.csv"), edges.replacen("1000,1,1000,144", "x,1,1000", 1))
            .unwrap();
        let err = read(&dir).unwrap_err();
        assert_eq!(err.position, Some((2, 1)), "{err}");
        assert_eq!(err.message, "9 fields where the header has 10");
        std::fs::write(dir.join("edges.csv"), edges.replacen("4300909", "4300910", 1)).unwrap();
        let err = read(&dir).unwrap_err();
        assert!(
            err.to_string().contains("channels.csv:2:1: the balances of edges 0 and 1"),
            "{err}"
        );
        std::fs::remove_file(dir.join("nodes.csv")).unwrap();
        let err = read(&dir).unwrap_err();
        assert!(err.message.contains("nodes.csv is missing"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// CLoTH's own snapshot, when `../shared/data` is beside the project.
    #[test]
    fn reads_the_cloth_snapshot_when_present() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/cloth");
        if !path.exists() {
            eprintln!("skipped: {} is absent", path.display());
            return;
        }
        let graph = read(&path).unwrap();
        // The counts of ../shared/data/cloth/README.md.
        assert_eq!(graph.node_ids.len(), 6_006);
        assert_eq!(graph.channels.len(), 30_457);
        let capacity_msat: u64 = graph.channels.iter().map(|c| c.capacity_sat * 1000).sum();
        assert!((1.0405e14..1.0407e14).contains(&(capacity_msat as f64)), "{capacity_msat}");
    }
}
