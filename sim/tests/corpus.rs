//! The bad-input corpus (`tests/corpus/`, see its README): every file in it, given to the
//! `boltsim` binary the way a user would give it, is refused with exit 2 and one line on standard
//! error that names the file. The same files seed the mutation fuzzing of `tests/fuzz.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(kind);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        // `base/` holds the valid files the bad ones refer to.
        .filter(|p| p.file_name().is_some_and(|n| n != "base"))
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "{}: no corpus files", dir.display());
    entries
}

fn temp_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("boltsim-corpus-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `boltsim args` on the corpus file `file`, and asserts exit 2 and one line of error
/// naming `names`.
fn refused(file: &Path, args: &[&str], names: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_boltsim")).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = format!("{}: boltsim {}", file.display(), args.join(" "));
    assert_eq!(out.status.code(), Some(2), "{shown}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{shown}: one line, not:\n{stderr}");
    assert!(lines[0].starts_with("error: "), "{shown}: {stderr}");
    let name = names.file_name().unwrap().to_str().unwrap();
    assert!(lines[0].contains(name), "{shown}: the error names {name}: {stderr}");
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn every_bad_scenario_is_refused_in_one_line() {
    let out = temp_dir("scenario");
    for file in corpus("scenario") {
        let args = ["run", arg(&file), "--trace-level", "off", "--quiet", "--out", arg(&out)];
        // A scenario naming a missing file is refused for that file.
        let named = if file.ends_with("import_missing_file.ron") {
            file.with_file_name("no_such_snapshot.json")
        } else if file.ends_with("payment_list_missing.ron") {
            file.with_file_name("no_such_list.csv")
        } else {
            file.clone()
        };
        refused(&file, &args, &named);
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn every_bad_snapshot_is_refused_in_one_line() {
    for format in ["cln", "lnd", "simln", "cloth"] {
        for file in corpus(format) {
            // A CLoTH snapshot is a directory; the error names the file of it at fault.
            let args = ["import", arg(&file), "--format", format];
            let out = Command::new(env!("CARGO_BIN_EXE_boltsim")).args(args).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
            assert_eq!(stderr.lines().count(), 1, "{}: {stderr}", file.display());
            assert!(stderr.contains(arg(&file)), "{}: {stderr}", file.display());
            assert!(out.stdout.is_empty(), "{}: nothing written", file.display());
        }
    }
}

#[test]
fn every_bad_payment_list_is_refused_in_one_line() {
    let dir = temp_dir("payments");
    let scenario = dir.join("s.ron");
    std::fs::write(
        &scenario,
        r#"Scenario(name: "list", seed: 1,
            nodes: [(name: "alice", wallet_sat: 1000000), (name: "bob", wallet_sat: 1000000)],
            channels: [(from: "alice", to: "bob", capacity_sat: 500000)],
            payments: (file: "list.csv"), stop: (max_duration_s: 10))"#,
    )
    .unwrap();
    let list = dir.join("list.csv");
    for file in corpus("payments") {
        std::fs::copy(&file, &list).unwrap();
        let args = ["run", arg(&scenario), "--trace-level", "off", "--out", arg(&dir)];
        refused(&file, &args, &list);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_bad_sweep_is_refused_in_one_line() {
    let out = temp_dir("sweep");
    for file in corpus("sweep") {
        let named = if file.ends_with("missing_scenario.ron") {
            file.with_file_name("base").join("none.ron")
        } else {
            file.clone()
        };
        refused(&file, &["sweep", arg(&file), "--out", arg(&out.join("s"))], &named);
        assert!(!out.join("s/cells").exists(), "{}: no cell written", file.display());
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn every_bad_trace_is_refused_in_one_line() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/cat_store.ron");
    for file in corpus("trace") {
        refused(&file, &["verify", arg(&scenario), arg(&file)], &file);
    }
}
