//! Threads change how long a run takes, never what it writes: payments' first route searches
//! planned ahead on other threads, and retries planned by copies of their payers handling the
//! message that fails an attempt (`world::ahead`), are taken only where they are exactly the
//! search the payer would make (a debug build checks each retry's plans it takes), so every
//! output file is the same bytes on 1, 2 or 3 threads. That retries are taken on this path is
//! checked in `world::ahead`'s own tests.

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
    let options = sim::DirOptions { threads, ..sim::DirOptions::new(TraceLevel::Full) };
    sim::run_to_dir(scenario, &dir, options).unwrap();
    dir
}

fn same_outputs(path: &Path) {
    same_outputs_of(&Scenario::load(path).unwrap(), &path.display().to_string());
}

fn same_outputs_of(scenario: &Scenario, shown: &str) {
    let path = shown;
    let one = run(scenario, 1);
    let payments = fs::read_to_string(one.join("payments.csv")).unwrap();
    assert!(payments.lines().count() > 100, "{path}: payments to plan");
    for threads in [2, 3] {
        let many = run(scenario, threads);
        for file in sim::OUTPUT_FILES {
            assert!(
                fs::read(one.join(file)).unwrap() == fs::read(many.join(file)).unwrap(),
                "{path}: {file} differs on {threads} threads"
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

/// A payment list (planned ahead as the workload is), with routers taking turns, a payer
/// paying itself, payments due at one instant, and ten busy payers whose plans often go stale.
#[test]
fn a_payment_list_writes_the_same_bytes_on_any_thread_count() {
    let dir = std::env::temp_dir().join(format!("boltsim-threads-list-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("time_ms,sender,receiver,amount_msat\n");
    for i in 0..300u64 {
        let (from, to) = (i % 10, (i * 13 + 5) % 100);
        csv += &format!("{},n{from},n{to},{}\n", (i / 3) * 100, 20_000_000 + i * 997);
    }
    fs::write(dir.join("pay.csv"), csv).unwrap();
    let text = r#"Scenario(name: "list", seed: 3,
        generate: (kind: ScaleFree(links_per_node: 3), nodes: 100,
            capacity: (min_sat: 200_000, max_sat: 20_000_000), balance: random),
        payments: (file: "pay.csv", routers: [Lnd(()), Cheapest, Cln(()), Ldk(())]))"#;
    let scenario = Scenario::parse(dir.join("list.ron").to_str().unwrap(), text).unwrap();
    same_outputs_of(&scenario, "list.ron");
    fs::remove_dir_all(&dir).unwrap();
}

/// A network of over twice `sim::nodes::PARALLEL_MIN_NODES`, so that its nodes take their
/// channels of the start and the start's block on several threads, then payments and blocks.
#[test]
fn a_large_network_builds_the_same_on_any_thread_count() {
    let text = r#"Scenario(name: "large", seed: 4,
        generate: (kind: MainnetLike, nodes: 5000, balance: random),
        workload: (end_s: 1_500, rate_per_s: 0.2, max_payments: 300,
            amount: LogNormal(median_msat: 10_000_000, sigma: 1.0)),
        stop: (max_duration_s: 1_800))"#;
    const { assert!(5000 >= 2 * sim::nodes::PARALLEL_MIN_NODES) };
    let scenario = Scenario::parse("large.ron", text).unwrap();
    same_outputs_of(&scenario, "large.ron");
}
