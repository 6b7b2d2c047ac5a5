//! Mutation fuzzing of every reader of user input: scenario RON, the four snapshot formats
//! (Core Lightning, lnd, SimLN JSON; CLoTH CSV), payment lists, sweep files and recorded traces.
//! Each target starts from a seed (a valid file of the project, or a bad one of the corpus in
//! `tests/corpus/`), applies a few random edits (a byte changed, a token inserted from the
//! format's dictionary, a span deleted or repeated, the end cut off) and reads the result with the
//! library function the binary uses. The property: no panic, and an error is one line, names the
//! file, and points (when it gives a position) inside the text.
//!
//! Why proptest: cargo-fuzz (libFuzzer) and bolero's fuzz engines need a nightly toolchain, and CI
//! runs the pinned stable one; proptest is already a dev-dependency, runs under `cargo test`, and
//! shrinks a failing input to a small one, which it saves in `tests/fuzz.proptest-regressions`
//! (check that file in: the case is replayed first from then on). Without coverage guidance the
//! seeds and the dictionaries do the steering. `BOLTSIM_FUZZ_CASES` sets the cases per target:
//! 64 by default, for a quick `cargo test`; `.ci/run` runs 100,000 per target
//! (`BOLTSIM_FUZZ_CASES=100000 cargo test -p sim --test fuzz`: 119 s on the project's 2-core
//! machine, 2026-11-26).

use node_core::NodeId;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use sim::scenario::Scenario;
use std::path::{Path, PathBuf};

// ---- seeds and edits

fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The bad files of the corpus for `kind` (files, or directories for CLoTH).
fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = manifest("tests/corpus").join(kind);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != "base"))
        .collect();
    found.sort();
    found
}

/// The contents of `valid` files and of the corpus for `kind`.
fn seeds(valid: &[PathBuf], kind: &str) -> Vec<Vec<u8>> {
    valid.iter().cloned().chain(corpus(kind)).map(|p| std::fs::read(&p).unwrap()).collect()
}

/// Seeds read once per process, by target.
type Seeds<T> = std::sync::LazyLock<Vec<T>>;

/// Tokens every text format is tried with: numbers at the edges of the integers and of all
/// bitcoin, quotes and brackets, line endings, a byte-order mark, bytes that are not UTF-8.
const COMMON: &[&str] = &[
    "0",
    "-1",
    "1.5",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "2100000000000000",
    "2100000000000001",
    "2100000000000000001",
    "1e308",
    "NaN",
    "inf",
    "\"",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "\u{feff}",
    "\u{2028}",
    "\\",
    "\\u0000",
    "\\n",
    "é",
    "",
];

/// Bytes that are not UTF-8 on their own.
const RAW: &[&[u8]] = &[b"\xff", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80"];

#[derive(Clone, Debug)]
enum Edit {
    /// Replace the byte at `at` (of the text's length + 1) with `byte`.
    Byte { at: usize, byte: u8 },
    /// Insert token `token` of the dictionary (or a raw non-UTF-8 byte run) at `at`.
    Insert { at: usize, token: usize },
    /// Remove `len` bytes from `at`.
    Delete { at: usize, len: usize },
    /// Insert a copy of `len` bytes from `at` right after them.
    Repeat { at: usize, len: usize },
    /// Cut the text at `at`.
    Cut { at: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<usize>();
    prop_oneof![
        3 => (at, any::<u8>()).prop_map(|(at, byte)| Edit::Byte { at, byte }),
        4 => (at, any::<usize>()).prop_map(|(at, token)| Edit::Insert { at, token }),
        2 => (at, 1usize..64).prop_map(|(at, len)| Edit::Delete { at, len }),
        1 => (at, 1usize..256).prop_map(|(at, len)| Edit::Repeat { at, len }),
        1 => at.prop_map(|at| Edit::Cut { at }),
    ]
}

/// A seed's index and the edits to apply to it.
fn mutation(seeds: usize) -> impl Strategy<Value = (usize, Vec<Edit>)> {
    (0..seeds, prop::collection::vec(edit(), 1..6))
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit], words: &[&str]) -> Vec<u8> {
    for e in edits {
        let at = |at: usize| at % (bytes.len() + 1);
        match *e {
            Edit::Byte { at: a, byte } => {
                let a = at(a);
                match bytes.get_mut(a) {
                    Some(b) => *b = byte,
                    None => bytes.push(byte),
                }
            }
            Edit::Insert { at: a, token } => {
                let a = at(a);
                let all = COMMON.len() + words.len() + RAW.len();
                let t = token % all;
                let token: &[u8] = if t < COMMON.len() {
                    COMMON[t].as_bytes()
                } else if t < COMMON.len() + words.len() {
                    words[t - COMMON.len()].as_bytes()
                } else {
                    RAW[t - COMMON.len() - words.len()]
                };
                bytes.splice(a..a, token.iter().copied());
            }
            Edit::Delete { at: a, len } => {
                let a = at(a);
                let end = (a + len).min(bytes.len());
                bytes.drain(a..end);
            }
            Edit::Repeat { at: a, len } => {
                let a = at(a);
                let end = (a + len).min(bytes.len());
                let copy = bytes[a..end].to_vec();
                bytes.splice(end..end, copy);
            }
            Edit::Cut { at: a } => {
                let a = at(a);
                bytes.truncate(a);
            }
        }
    }
    bytes
}

/// Cases per target: `BOLTSIM_FUZZ_CASES`, else 64.
fn config() -> ProptestConfig {
    let cases = std::env::var("BOLTSIM_FUZZ_CASES").ok().and_then(|v| v.parse().ok());
    ProptestConfig {
        cases: cases.unwrap_or(64),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// A position (1-based line and column) that lies within `text` (its last line + 1 at most).
fn inside(text: &[u8], position: Option<(usize, usize)>) -> bool {
    let lines = text.iter().filter(|&&b| b == b'\n').count() + 1;
    position.is_none_or(|(line, column)| line >= 1 && column >= 1 && line <= lines + 1)
}

/// What every error must be: one line, naming `file`, pointing inside `text`.
fn check_error(
    error: &sim::input::InputError,
    file: &str,
    text: &[u8],
) -> Result<(), TestCaseError> {
    let shown = error.to_string();
    prop_assert!(!shown.contains(['\n', '\r']), "one line: {shown:?}");
    prop_assert!(!error.message.is_empty(), "{shown}");
    prop_assert!(shown.contains(file), "names {file}: {shown}");
    prop_assert!(inside(text, error.position), "{shown}");
    Ok(())
}

/// A positioned error of an in-memory parser.
fn check_positioned(
    result: Result<impl Sized, (Option<(usize, usize)>, String)>,
    text: &[u8],
) -> Result<(), TestCaseError> {
    if let Err((position, message)) = result {
        prop_assert!(!message.is_empty() && !message.contains(['\n', '\r']), "{message:?}");
        prop_assert!(inside(text, position), "{position:?}: {message}");
    }
    Ok(())
}

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "boltsim-fuzz-{what}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---- targets

static SCENARIO_SEEDS: Seeds<Vec<u8>> = Seeds::new(read_scenario_seeds);

fn read_scenario_seeds() -> Vec<Vec<u8>> {
    let mut valid: Vec<PathBuf> = std::fs::read_dir(manifest("../scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    valid.sort();
    valid.push(manifest("tests/corpus/sweep/base/base.ron"));
    seeds(&valid, "scenario")
}

const SCENARIO_WORDS: &[&str] = &[
    "Scenario(",
    "name: ",
    "seed: ",
    "nodes: [",
    "(name: \"x\")",
    "channels: [",
    "(from: \"server\", to: \"christian\", capacity_sat: 1)",
    "script: [",
    "WaitBlocks(blocks: ",
    "Sleep(duration_ms: ",
    "Pay(from: \"christian\", to: \"server\", amount_msat: ",
    "generate: (kind: Star, nodes: 1000000, capacity: (min_sat: 1000, max_sat: 1000)),",
    "workload: (end_s: 60, rate_per_s: 1000000.0, amount: Fixed(amount_msat: 1)),",
    "links: (latency: LogNormal(median_ms: 86400000, sigma: 10.0)),",
    "node_defaults: (reserve_ppm: ",
    "random_faults: (crashes_per_node_day: 1000000.0, end_s: 315360000),",
    "import: (file: \"x.json\"),",
    "payments: (file: \"x.csv\"),",
    "stop: (max_duration_s: ",
    "Some(",
    "r#\"",
    "\"#",
    "//",
    "/*",
    "_",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn scenario_files((seed, edits) in mutation(SCENARIO_SEEDS.len())) {
        let text = apply(SCENARIO_SEEDS[seed].clone(), &edits, SCENARIO_WORDS);
        // As `Scenario::load` reads it, relative to the corpus.
        let file = manifest("tests/corpus/scenario/fuzz.ron").display().to_string();
        let result = sim::input::text(&file, text.clone())
            .and_then(|source| Scenario::parse(&file, &source));
        if let Err(e) = result {
            // A file the scenario names is the one its error names.
            if e.file == file {
                check_error(&e, &file, &text)?;
            } else {
                prop_assert!(!e.to_string().contains('\n'), "{e}");
            }
        }
    }
}

const JSON_WORDS: &[&str] = &[
    "null",
    "true",
    "false",
    "\"channels\": [",
    "\"edges\": [",
    "\"nodes\": [",
    "\"sim_network\": [",
    "\"02aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
    "\"03bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"",
    "\"0x1x0\"",
    "\"16777215x16777215x65535\"",
    "\"99999999999999999999msat\"",
    "msat",
    "\"short_channel_id\": ",
    "\"amount_msat\": ",
    "\"capacity\": ",
    "\"capacity_msat\": ",
    "\"channel_id\": ",
    "\"node1_policy\": {",
    "\"pub_key\": ",
    "\"pubkey\": ",
    "\"alias\": \"\\u001b[2J\"",
];

/// The seeds of each of [`SNAPSHOTS`], in its order.
static SNAPSHOT_SEEDS: Seeds<Vec<Vec<u8>>> = Seeds::new(|| {
    SNAPSHOTS
        .iter()
        .map(|(fixture, kind)| seeds(&[manifest("tests/fixtures").join(fixture)], kind))
        .collect()
});

fn snapshot_seeds(fixture: &str) -> &'static [Vec<u8>] {
    let k = SNAPSHOTS.iter().position(|(f, _)| *f == fixture).expect("a fixture of SNAPSHOTS");
    &SNAPSHOT_SEEDS[k]
}

type JsonParser = fn(&[u8]) -> Result<sim::import::ImportedGraph, sim::import::Positioned>;

fn fuzz_json(
    parse: JsonParser,
    fixture: &str,
    (seed, edits): (usize, Vec<Edit>),
) -> Result<(), TestCaseError> {
    let json = apply(snapshot_seeds(fixture)[seed].clone(), &edits, JSON_WORDS);
    let result = parse(&json);
    // `read_graph` refuses a graph without nodes before anything is written from it.
    if let Some(graph) = result.as_ref().ok().filter(|g| !g.node_ids.is_empty()) {
        round_trip(graph)?;
    }
    check_positioned(result, &json)
}

/// What `boltsim import` does with a graph it read: the scenario it writes holds the graph's
/// nodes and nothing else, or is refused in one line (a channel below the dust limit, channels
/// holding more than all bitcoin: what a run cannot start from).
fn round_trip(graph: &sim::import::ImportedGraph) -> Result<(), TestCaseError> {
    let text = sim::export::scenario_ron(graph, "fuzz.json");
    match Scenario::parse("imported.ron", &text) {
        Ok(scenario) => prop_assert_eq!(scenario.nodes.len(), graph.node_ids.len()),
        Err(e) => check_error(&e, "imported.ron", text.as_bytes())?,
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn core_lightning_listchannels(m in mutation(snapshot_seeds("listchannels.json").len())) {
        fuzz_json(sim::import::cln::parse_listchannels, "listchannels.json", m)?;
    }

    #[test]
    fn lnd_describegraph(m in mutation(snapshot_seeds("describegraph.json").len())) {
        fuzz_json(sim::import::lnd::parse_describegraph, "describegraph.json", m)?;
    }

    #[test]
    fn simln_sim_network(m in mutation(snapshot_seeds("sim_network.json").len())) {
        fuzz_json(sim::import::simln::parse_sim_network, "sim_network.json", m)?;
    }

    /// Whole files through `read_graph`, which tells the format, inflates and checks UTF-8.
    #[test]
    fn snapshot_files((k, m) in (0..3usize).prop_flat_map(|k| {
        (Just(k), mutation(snapshot_seeds(SNAPSHOTS[k].0).len()))
    })) {
        let json = apply(snapshot_seeds(SNAPSHOTS[k].0)[m.0].clone(), &m.1, JSON_WORDS);
        let dir = temp_dir("snapshot");
        // A new name per case: `read_graph` caches by path, length and modification time, which
        // two cases written within one clock tick could share.
        static CASE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let case = CASE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("fuzz-{case}.json"));
        std::fs::write(&path, &json).unwrap();
        let result = sim::import::read_graph(&path, None);
        std::fs::remove_dir_all(&dir).unwrap();
        match result {
            Ok(graph) => round_trip(&graph)?,
            Err(e) => check_error(&e, path.to_str().unwrap(), &json)?,
        }
    }
}

const SNAPSHOTS: [(&str, &str); 3] =
    [("listchannels.json", "cln"), ("describegraph.json", "lnd"), ("sim_network.json", "simln")];

const CLOTH_FILES: [&str; 3] = ["nodes.csv", "channels.csv", "edges.csv"];
const CSV_WORDS: &[&str] = &[
    "id,edge1_id,edge2_id,node1_id,node2_id,capacity",
    "id,channel_id,counter_edge_id,from_node_id,to_node_id,balance,fee_base,fee_proportional,min_htlc,timelock",
    "capacity(millisat)",
    "time_ms,sender,receiver,amount_msat",
    "id,sender_id,receiver_id,amount,start_time",
    "alice",
    "bob",
    "1000",
    ",,",
];

/// CLoTH snapshots: the three files of the fixture, or of a corpus case.
static CLOTH_SEEDS: Seeds<[Vec<u8>; 3]> = Seeds::new(read_cloth_seeds);

fn read_cloth_seeds() -> Vec<[Vec<u8>; 3]> {
    std::iter::once(manifest("tests/fixtures/cloth"))
        .chain(corpus("cloth"))
        .map(|dir| CLOTH_FILES.map(|f| std::fs::read(dir.join(f)).unwrap_or_default()))
        .collect()
}

/// Payment lists: the CLoTH-layout fixture, one of ours, and the corpus.
static PAYMENT_SEEDS: Seeds<Vec<u8>> = Seeds::new(read_payment_seeds);

fn read_payment_seeds() -> Vec<Vec<u8>> {
    let mut all = seeds(&[manifest("tests/fixtures/cloth_payments.csv")], "payments");
    all.push(
        b"time_ms,sender,receiver,amount_msat\n5,alice,bob,100\r\n10,bob,alice,2000\n".to_vec(),
    );
    all
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn cloth_csv(
        (seed, file, edits) in (0..CLOTH_SEEDS.len(), 0..3usize, prop::collection::vec(edit(), 1..6))
    ) {
        let mut files = CLOTH_SEEDS[seed].clone();
        files[file] = apply(std::mem::take(&mut files[file]), &edits, CSV_WORDS);
        let dir = temp_dir("cloth");
        for (name, bytes) in CLOTH_FILES.iter().zip(&files) {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let result = sim::import::cloth::read(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        if let Some(graph) = result.as_ref().ok().filter(|g| !g.node_ids.is_empty()) {
            round_trip(graph)?;
        }
        if let Err(e) = result {
            let shown = e.to_string();
            prop_assert!(!shown.contains(['\n', '\r']), "{shown:?}");
            prop_assert!(shown.contains(dir.to_str().unwrap()), "{shown}");
            let named = CLOTH_FILES.iter().position(|f| e.file.ends_with(f));
            if let Some(i) = named {
                prop_assert!(inside(&files[i], e.position), "{shown}");
            }
        }
    }

    #[test]
    fn payment_lists((seed, edits) in mutation(PAYMENT_SEEDS.len())) {
        let bytes = apply(PAYMENT_SEEDS[seed].clone(), &edits, CSV_WORDS);
        let node = |name: &str, by_index: bool| match (name, by_index) {
            ("alice", false) | ("0", true) => Some(NodeId(0)),
            ("bob", false) | ("1", true) => Some(NodeId(1)),
            ("2", true) => Some(NodeId(2)),
            ("3", true) => Some(NodeId(3)),
            _ => None,
        };
        match sim::input::text("list.csv", bytes.clone()) {
            Ok(text) => {
                if let Err((line, column, message)) = sim::workload::parse_payment_list(&text, node) {
                    prop_assert!(!message.is_empty() && !message.contains(['\n', '\r']), "{message:?}");
                    prop_assert!(inside(&bytes, Some((line, column))), "{line}:{column}: {message}");
                }
            }
            Err(e) => check_error(&e, "list.csv", &bytes)?,
        }
    }
}

static SWEEP_SEEDS: Seeds<Vec<u8>> = Seeds::new(read_sweep_seeds);

fn read_sweep_seeds() -> Vec<Vec<u8>> {
    let mut valid: Vec<PathBuf> = std::fs::read_dir(manifest("../scenarios/sweeps"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("Sweep(")))
        .collect();
    valid.sort();
    seeds(&valid, "sweep")
}

const SWEEP_WORDS: &[&str] = &[
    "Sweep(",
    "grid: [",
    "seeds: [",
    "AmountSat([",
    "Router([",
    "Cheapest",
    "Lnd(())",
    "scenario: \"base/base.ron\"",
    "scenario: \"mainnet_like_2000.ron\"",
    "scenario: \"/dev/zero\"",
    "name: \"../x\"",
    "1_000",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sweep_files((seed, edits) in mutation(SWEEP_SEEDS.len())) {
        let text = apply(SWEEP_SEEDS[seed].clone(), &edits, SWEEP_WORDS);
        // Beside the base scenarios the seeds name.
        let dir = temp_dir("sweep");
        std::fs::create_dir_all(dir.join("base")).unwrap();
        std::fs::copy(manifest("tests/corpus/sweep/base/base.ron"), dir.join("base/base.ron")).unwrap();
        std::fs::copy(
            manifest("../scenarios/sweeps/mainnet_like_2000.ron"),
            dir.join("mainnet_like_2000.ron"),
        )
        .unwrap();
        let path = dir.join("fuzz.ron");
        std::fs::write(&path, &text).unwrap();
        let result = sim::sweep::Sweep::load(&path);
        std::fs::remove_dir_all(&dir).unwrap();
        if let Err(e) = result {
            let shown = e.to_string();
            prop_assert!(!shown.contains(['\n', '\r']), "{shown:?}");
            if e.file == path.to_str().unwrap() {
                check_error(&e, &e.file, &text)?;
            }
        }
    }
}

static TRACE_SEEDS: Seeds<Vec<u8>> = Seeds::new(read_trace_seeds);

fn read_trace_seeds() -> Vec<Vec<u8>> {
    seeds(&[manifest("../scenarios/cat_store.trace")], "trace")
}

const TRACE_WORDS: &[&str] = &[
    "# boltsim trace v2\n",
    "# scenario cat_store\n",
    "# seed ",
    "# level ",
    "full",
    "off",
    "payments",
    "# digest ",
    "# count ",
    "71 0 4 2 10006020 ",
    " ",
];

proptest! {
    #![proptest_config(config())]

    /// A recorded trace, verified against the scenario it claims (the cat store, which runs in
    /// milliseconds): identical, diverged or refused, never a panic.
    #[test]
    fn recorded_traces((seed, edits) in mutation(TRACE_SEEDS.len())) {
        let text = apply(TRACE_SEEDS[seed].clone(), &edits, TRACE_WORDS);
        let dir = temp_dir("trace");
        let path = dir.join("fuzz.trace");
        std::fs::write(&path, &text).unwrap();
        static CAT_STORE: std::sync::LazyLock<Scenario> = std::sync::LazyLock::new(|| {
            Scenario::load(&manifest("../scenarios/cat_store.ron")).unwrap()
        });
        let result = sim::verify::verify(&CAT_STORE, &path, 2);
        std::fs::remove_dir_all(&dir).unwrap();
        match result {
            Ok((outcome, header)) => {
                // A report is printed whole; it must not panic either.
                let _ = outcome.report("cat_store.ron", "fuzz.trace", &header);
            }
            Err(e) => {
                let shown = e.to_string();
                prop_assert!(!shown.contains(['\n', '\r']), "{shown:?}");
                prop_assert!(shown.contains(path.to_str().unwrap()), "{shown}");
            }
        }
    }
}
