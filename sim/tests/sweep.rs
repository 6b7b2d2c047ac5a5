//! Sweeps end to end: the same results whatever the thread count, shards that merge into the
//! whole, resuming without rerunning finished cells, and bad sweep files refused with one line.

use sim::sweep::{Shard, Sweep, SweepDir, merge, run, shard_cells, write_report};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const BASE: &str = r#"Scenario(
    name: "small", seed: 1,
    generate: (kind: ScaleFree(links_per_node: 2), nodes: 30,
               capacity: (min_sat: 200_000, max_sat: 2_000_000), balance: random),
    workload: (end_s: 60, rate_per_s: 1.0, max_payments: 12, amount: Fixed(amount_msat: 1_000)),
)"#;

const SWEEP: &str = r#"Sweep(
    name: "tiny",
    scenario: "small.ron",
    seeds: [1, 2],
    grid: [AmountSat([1_000, 300_000]), Router([Cheapest, Lnd(())])],
)"#;

/// A fresh directory with the sweep and its base scenario.
fn setup(name: &str) -> (PathBuf, Sweep) {
    let dir = std::env::temp_dir().join(format!("boltsim-sweep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("small.ron"), BASE).unwrap();
    std::fs::write(dir.join("tiny.ron"), SWEEP).unwrap();
    let sweep = Sweep::load(&dir.join("tiny.ron")).unwrap_or_else(|e| panic!("{e}"));
    (dir, sweep)
}

fn run_all(sweep: &Sweep, out: &Path, cells: &[usize], threads: usize) -> usize {
    run(sweep, out, cells, threads, false, &|| {}).unwrap()
}

fn results_csv(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("results.csv")).unwrap()
}

#[test]
fn thread_count_does_not_change_the_results() {
    let (dir, sweep) = setup("threads");
    assert_eq!(sweep.cells(), 8);
    let all: Vec<usize> = (0..8).collect();
    let (one, two) = (dir.join("one"), dir.join("two"));
    assert_eq!(run_all(&sweep, &one, &all, 1), 8);
    assert_eq!(run_all(&sweep, &two, &all, 2), 8);
    let (a, missing) = merge(&one, std::slice::from_ref(&one)).unwrap();
    assert!(missing.is_empty());
    merge(&two, std::slice::from_ref(&two)).unwrap();
    assert_eq!(results_csv(&one), results_csv(&two));
    // Every cell ran its own amount, router and seed.
    assert_eq!(a.rows.len(), 8 * 12);
    let amount = a.param("amount_sat").unwrap();
    let router = a.param("router").unwrap();
    let cell5: Vec<_> = a.rows.iter().filter(|r| r.cell == 5).collect();
    assert!(cell5.iter().all(|r| r.params[amount] == "300000" && r.params[router] == "cheapest"));
    assert!(cell5.iter().all(|r| r.seed == 2 && r.payment.amount_msat == 300_000_000));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shards_merge_into_the_whole_and_runs_resume() {
    let (dir, sweep) = setup("shards");
    let whole = dir.join("whole");
    run_all(&sweep, &whole, &(0..8).collect::<Vec<_>>(), 2);
    merge(&whole, std::slice::from_ref(&whole)).unwrap();
    let shards: Vec<PathBuf> = (1..=3).map(|k| dir.join(format!("shard{k}"))).collect();
    for (k, shard) in shards.iter().enumerate() {
        let cells = shard_cells(8, k + 1, 3);
        assert_eq!(cells[0], k);
        run_all(&sweep, shard, &cells, 1);
    }
    let merged = dir.join("merged");
    // Two shards only: the third's cells are reported missing.
    let (_, missing) = merge(&merged, &shards[..2]).unwrap();
    assert_eq!(missing, [2, 5]);
    let (_, missing) = merge(&merged, &shards).unwrap();
    assert!(missing.is_empty());
    assert_eq!(results_csv(&merged), results_csv(&whole));
    // Resume: with two cells lost, a rerun runs exactly those and ends where it was.
    std::fs::remove_file(sim::sweep::cell_path(&whole, 3)).unwrap();
    std::fs::remove_file(sim::sweep::cell_path(&whole, 6)).unwrap();
    let count = AtomicUsize::new(0);
    let ran = run(&sweep, &whole, &(0..8).collect::<Vec<_>>(), 2, false, &|| {
        count.fetch_add(1, Ordering::Relaxed);
    })
    .unwrap();
    assert_eq!((ran, count.into_inner()), (2, 2));
    merge(&whole, std::slice::from_ref(&whole)).unwrap();
    assert_eq!(results_csv(&merged), results_csv(&whole));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_sweeps_are_refused_with_one_line() {
    let (dir, _) = setup("bad");
    let cases = [
        (SWEEP.replace("seeds: [1, 2]", "seeds: []"), "at least one seed"),
        (SWEEP.replace("AmountSat([1_000, 300_000])", "AmountSat([])"), "no values"),
        (SWEEP.replace("Router([Cheapest, Lnd(())])", "Nodes([10])"), ""),
        (SWEEP.replace("small.ron", "missing.ron"), "cannot read"),
        (SWEEP.replace("grid: [", "grid: [Bogus([1]), "), "Bogus"),
    ];
    for (text, expected) in cases {
        std::fs::write(dir.join("bad.ron"), &text).unwrap();
        match Sweep::load(&dir.join("bad.ron")) {
            Err(e) => {
                let line = e.to_string();
                assert!(line.contains(expected) && !line.contains('\n'), "{line}");
            }
            Ok(sweep) => {
                // Nodes([10]) is valid: it sets the generated size.
                assert_eq!(expected, "");
                assert_eq!(sweep.scenario(0).unwrap().nodes.len(), 10);
            }
        }
    }
    let no_workload = BASE.replace(
        "workload: (end_s: 60, rate_per_s: 1.0, max_payments: 12, amount: Fixed(amount_msat: 1_000)),",
        "",
    );
    std::fs::write(dir.join("small.ron"), no_workload).unwrap();
    let err = Sweep::load(&dir.join("tiny.ron")).unwrap_err();
    assert!(err.message.contains("amount_sat axis needs a scenario with a workload"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_directory_never_mixes_two_sweeps_and_every_combination_is_checked_first() {
    let (dir, sweep) = setup("mix");
    let out = dir.join("out");
    run_all(&sweep, &out, &[0, 1], 1);
    // The same directory with an edited sweep is refused, not resumed with stale cells.
    std::fs::write(dir.join("tiny.ron"), SWEEP.replace("seeds: [1, 2]", "seeds: [1, 3]")).unwrap();
    let edited = Sweep::load(&dir.join("tiny.ron")).unwrap();
    let err = run(&edited, &out, &[0, 1, 2], 1, false, &|| {}).unwrap_err();
    assert!(err.contains("another sweep") && !err.contains('\n'), "{err}");
    // A value that makes a bad scenario is found when the sweep loads, with its cell named.
    let bad = SWEEP.replace("Router([Cheapest, Lnd(())])", "Topology([Ring, Grid(columns: 100)])");
    std::fs::write(dir.join("tiny.ron"), bad).unwrap();
    let err = Sweep::load(&dir.join("tiny.ron")).unwrap_err();
    assert!(err.message.contains("columns") && err.message.contains("topology=grid_100"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn router_variants_get_distinct_labels() {
    let (dir, _) = setup("labels");
    let text = SWEEP.replace(
        "Router([Cheapest, Lnd(())])",
        "Router([Lnd(()), Lnd((attempt_cost_msat: 1)), Lnd(()), Cheapest])",
    );
    std::fs::write(dir.join("tiny.ron"), text).unwrap();
    let sweep = Sweep::load(&dir.join("tiny.ron")).unwrap_or_else(|e| panic!("{e}"));
    let info = sweep.info();
    let routers = &info.axes.iter().find(|(c, _)| c == "router").unwrap().1;
    assert_eq!(routers, &["lnd_apriori", "lnd_apriori_2", "lnd_apriori", "cheapest"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shards_parse_from_k_of_n_and_plan_their_unfinished_cells() {
    assert_eq!("2/3".parse::<Shard>(), Ok(Shard { k: 2, n: 3 }));
    assert_eq!(Shard { k: 2, n: 3 }.to_string(), "2/3");
    assert_eq!(Shard { k: 2, n: 3 }.cells(8), [1, 4, 7]);
    assert_eq!(Shard::WHOLE.cells(3), [0, 1, 2]);
    for bad in ["3/2", "0/2", "1/0", "x", "1/", "/2", "1/2/3"] {
        let err = bad.parse::<Shard>().unwrap_err();
        assert_eq!(err, format!("--shard {bad}: expected K/N with 1 <= K <= N"));
    }
    let (dir, sweep) = setup("plan");
    let out = dir.join("out");
    run_all(&sweep, &out, &[1, 4], 1);
    let plan = sweep.plan(Shard { k: 2, n: 3 }, &SweepDir::open(&out, &sweep).unwrap());
    assert_eq!((plan.total, plan.cells, plan.finished), (8, vec![1, 4, 7], 2));
    assert_eq!(sweep.default_dir(), Path::new("out/sweeps/tiny"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_report_is_written_from_a_sweep_directory_or_its_results() {
    let (dir, sweep) = setup("report");
    let out = dir.join("out");
    run_all(&sweep, &out, &(0..8).collect::<Vec<_>>(), 2);
    merge(&out, std::slice::from_ref(&out)).unwrap();
    let options = reports::report::ReportOptions::default();
    let summary = write_report(&out, None, &options).unwrap();
    assert_eq!(summary.index, out.join("report/index.html"));
    let index = std::fs::read_to_string(&summary.index).unwrap();
    assert!(index.contains("boltsim sweep: tiny"), "the title comes from sweep.json");
    assert_eq!(std::fs::read_dir(out.join("report")).unwrap().count(), summary.files);
    let elsewhere = dir.join("elsewhere");
    let again = write_report(&out.join("results.csv"), Some(&elsewhere), &options).unwrap();
    assert_eq!((again.files, again.index), (summary.files, elsewhere.join("index.html")));
    let err = write_report(&dir.join("missing.csv"), None, &options).unwrap_err();
    assert!(err.contains("missing.csv: cannot read") && !err.contains('\n'), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--keep-cells` keeps each cell's payments.csv and attempts.csv beside its cell file, and
/// results.csv carries every payment with its sender, receiver, reason, rounds and hops.
#[test]
fn kept_cells_hold_each_runs_payments_and_results_join_them() {
    let (dir, sweep) = setup("keep");
    let out = dir.join("out");
    let ran = run(&sweep, &out, &[0, 5], 1, true, &|| {}).unwrap();
    assert_eq!(ran, 2);
    let [payments, attempts, series] = sim::sweep::kept_paths(&out, 5);
    assert!(!series.exists(), "the base scenario samples no series");
    let payments = std::fs::read_to_string(payments).unwrap();
    assert!(payments.starts_with("id,sender,receiver,amount_msat,"));
    assert_eq!(payments.lines().count(), 13, "12 payments and a header");
    assert!(std::fs::read_to_string(attempts).unwrap().starts_with("payment,attempt,"));
    let (results, _) = merge(&dir.join("merged"), std::slice::from_ref(&out)).unwrap();
    let cell5: Vec<_> = results.rows.iter().filter(|r| r.cell == 5).collect();
    assert_eq!(cell5.len(), 12);
    // Each row of results.csv is the same payment as the kept payments.csv's row of its id.
    for row in &cell5 {
        let line = payments.lines().nth(row.payment.id as usize + 1).unwrap();
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(
            (fields[1], fields[2]),
            (row.payment.sender.as_str(), row.payment.receiver.as_str())
        );
        assert_eq!(fields[6], row.payment.outcome);
        assert_eq!(fields[16], row.payment.rounds.to_string());
    }
    assert!(!sim::sweep::kept_paths(&out, 1)[0].exists(), "cell 1 did not run");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 14: any field can be an axis. A control cell and a crash of the largest node run from
/// one file; the endpoint model is a field too; a value that makes no valid scenario is refused
/// when the sweep loads, naming its cell.
#[test]
fn any_field_is_an_axis_and_bad_values_name_their_cell() {
    let (dir, _) = setup("field");
    let sweep_text = r#"Sweep(
        name: "outage", scenario: "small.ron", seeds: [1],
        grid: [
            Field(path: "faults", labels: ["control", "hub_crash"],
                  values: ["[]", "[(at_ms: 1_000, fault: Crash(node: Largest(1), duration_s: 600))]"]),
            Field(path: "workload.receivers", values: ["Uniform", "Largest(3)"]),
        ],
    )"#;
    std::fs::write(dir.join("outage.ron"), sweep_text).unwrap();
    let sweep = Sweep::load(&dir.join("outage.ron")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sweep.params(), ["faults", "workload.receivers", "router"]);
    assert_eq!(sweep.labels(3), ["faults=hub_crash", "workload.receivers=Largest(3)", "seed=1"]);
    let out = dir.join("out");
    run_all(&sweep, &out, &[0, 1, 2, 3], 1);
    let (results, _) = merge(&dir.join("merged"), std::slice::from_ref(&out)).unwrap();
    let crash = sweep.scenario(2).unwrap();
    assert_eq!(crash.faults.len(), 1);
    assert!(sweep.scenario(0).unwrap().faults.is_empty());
    // The hub is down from 1 s to 601 s: payments it takes part in are refused meanwhile.
    let refused = |cell: u32| {
        results.rows.iter().filter(|r| r.cell == cell && r.payment.outcome == "refused").count()
    };
    assert_eq!(refused(0), 0);
    assert!(refused(2) > 0, "the crashed hub neither pays nor invoices");
    // Cells 1 and 3 pay only the three largest nodes.
    let receivers: std::collections::BTreeSet<&str> =
        results.rows.iter().filter(|r| r.cell == 1).map(|r| r.payment.receiver.as_str()).collect();
    assert!(receivers.len() <= 3, "{receivers:?}");
    let bad = sweep_text.replace(r#""Largest(3)""#, r#""Nodes([\"nobody\"])""#);
    std::fs::write(dir.join("outage.ron"), bad).unwrap();
    let err = Sweep::load(&dir.join("outage.ron")).unwrap_err().to_string();
    assert!(
        err.contains("cell 1 (faults=control, workload.receivers=Nodes([nobody]), seed=1) is not a valid scenario"),
        "{err}"
    );
    let taken = sweep_text.replace("workload.receivers", "router");
    std::fs::write(dir.join("outage.ron"), taken).unwrap();
    let err = Sweep::load(&dir.join("outage.ron")).unwrap_err().to_string();
    assert!(err.contains("would name a results column taken by boltsim"), "{err}");
    let missing = sweep_text.replace("workload.receivers", "random_faults.crashes_per_node_day");
    std::fs::write(dir.join("outage.ron"), missing).unwrap();
    let err = Sweep::load(&dir.join("outage.ron")).unwrap_err().to_string();
    assert!(err.contains("the base scenario has no random_faults"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
