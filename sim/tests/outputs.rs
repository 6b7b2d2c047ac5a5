//! A run's outputs: written to temporary names, then all renamed into place together; an error
//! anywhere leaves the old outputs and no temporary file; a temporary file a killed run left is
//! removed by the next run; two runs into one directory at once are refused (issue 12).

use sim::output::DirLock;
use sim::scenario::Scenario;
use sim::trace::TraceLevel;
use std::fs;
use std::path::{Path, PathBuf};

const LINE: &str = r#"Scenario(name: "outputs", seed: 1,
    nodes: [(name: "a"), (name: "b")],
    channels: [(from: "a", to: "b", capacity_sat: 1_000_000)],
    script: [Pay(from: "a", to: "b", amount_msat: 1_000)])"#;

/// A fresh directory for one test.
fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("boltsim-outputs-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(dir: &Path) -> std::io::Result<sim::RunOutput> {
    let scenario = Scenario::parse("outputs.ron", LINE).unwrap();
    sim::run_to_dir(&scenario, dir, sim::DirOptions::new(TraceLevel::Full))
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into())
        .collect();
    names.sort();
    names
}

/// Regression: when writing summary.json failed, the directory held the new trace.txt beside
/// the old summary, and the temporary files stayed.
#[test]
fn regression_a_failed_write_keeps_the_old_outputs_and_leaves_no_temporary_file() {
    let dir = dir("failed");
    for file in sim::OUTPUT_FILES {
        fs::write(dir.join(file), "old").unwrap();
    }
    // The summary's temporary name is taken by a directory: writing it fails.
    let blocked = dir.join(format!("summary.json.{}.tmp", std::process::id()));
    fs::create_dir(&blocked).unwrap();
    assert!(run(&dir).is_err());
    fs::remove_dir(&blocked).unwrap();
    for file in sim::OUTPUT_FILES {
        assert_eq!(fs::read_to_string(dir.join(file)).unwrap(), "old", "{file} kept");
    }
    assert_eq!(
        names(&dir),
        [
            ".boltsim.lock",
            "attempts.csv",
            "channels.csv",
            "payments.csv",
            "summary.json",
            "trace.txt"
        ]
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// Regression: a killed run left its `*.PID.tmp` files for good.
#[test]
fn regression_a_temporary_file_of_a_killed_run_is_removed_by_the_next_run() {
    let dir = dir("stale");
    fs::write(dir.join("trace.txt.4194304.tmp"), "half a trace").unwrap();
    fs::write(dir.join("notes.txt"), "the user's").unwrap();
    run(&dir).unwrap();
    let mut expected = vec![".boltsim.lock", "notes.txt"];
    expected.extend(sim::OUTPUT_FILES);
    expected.sort();
    assert_eq!(names(&dir), expected);
    fs::remove_dir_all(&dir).unwrap();
}

/// A second run into a directory another run is writing into is refused at once.
#[test]
fn regression_two_runs_into_one_directory_at_once_are_refused() {
    let dir = dir("busy");
    let held = DirLock::acquire(&dir, "run").unwrap();
    let error = run(&dir).err().expect("refused while held");
    assert!(error.to_string().contains("another boltsim run is writing into"), "{error}");
    drop(held);
    run(&dir).unwrap();
    fs::remove_dir_all(&dir).unwrap();
}
