//! Threads change how long a run takes, never what it writes: payments' first route searches
//! planned ahead on other threads (`world::ahead`) are taken only where they are exactly the
//! search the payer would make, so every output file is the same bytes on 1, 2 or 3 threads.

use sim::scenario::Scenario;
use sim::trace::TraceLevel;
use std::fs;
use std::path::{Path, PathBuf};

/// Runs `scenario` on `threads` threads into a fresh directory; returns it.
fn run(scenario: &Scenario, threads: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "boltsim-threads-{}-{threads}-{}",
        scenario.name,
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    sim::run_to_dir(scenario, &dir, TraceLevel::Full, false, None, threads).unwrap();
    dir
}

fn same_outputs(path: &Path) {
    let scenario = Scenario::load(path).unwrap();
    let one = run(&scenario, 1);
    let payments = fs::read_to_string(one.join("payments.csv")).unwrap();
    assert!(payments.lines().count() > 100, "{}: a workload to plan", path.display());
    for threads in [2, 3] {
        let many = run(&scenario, threads);
        for file in sim::OUTPUT_FILES {
            assert!(
                fs::read(one.join(file)).unwrap() == fs::read(many.join(file)).unwrap(),
                "{}: {file} differs on {threads} threads",
                path.display()
            );
        }
        fs::remove_dir_all(many).unwrap();
    }
    fs::remove_dir_all(one).unwrap();
}

/// Eight routers taking turns, two of which (Core Lightning, Eclair) are never planned ahead.
#[test]
fn every_router_writes_the_same_bytes_on_any_thread_count() {
    same_outputs(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/routers.ron"));
}

/// Crashes, partitions and latency spikes drawn from the seed: payers go down and come back
/// between a plan and its payment.
#[test]
fn faults_write_the_same_bytes_on_any_thread_count() {
    same_outputs(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/random_faults.ron"));
}
