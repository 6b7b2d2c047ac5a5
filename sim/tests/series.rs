//! Time series on a hand-checked line: balances move by what was paid, forwards and failures
//! are counted per direction, faults are marked, and sampling changes nothing a node sees
//! (issue 14, item 5).

use sim::scenario::Scenario;
use sim::trace::TraceLevel;

/// a pays c three times 1,000,000 msat through b (b charges 1,000 msat + 1 ppm by default);
/// then c crashes and a's fourth payment fails at b (b cannot forward to c).
fn scenario(series: bool) -> Scenario {
    let outputs = if series { "outputs: (series_interval_s: 1)," } else { "" };
    let text = format!(
        r#"Scenario(
        name: "series", seed: 1,
        links: (latency: Constant(latency_ms: 10)),
        nodes: [(name: "a"), (name: "b"), (name: "c")],
        channels: [
            (from: "a", to: "b", capacity_sat: 1_000_000, from_balance_sat: 1_000_000),
            (from: "b", to: "c", capacity_sat: 1_000_000, from_balance_sat: 1_000_000),
        ],
        faults: [(at_ms: 20_000, fault: Crash(node: "c", duration_s: 600))],
        script: [
            Pay(from: "a", to: "c", amount_msat: 1_000_000),
            Pay(from: "a", to: "c", amount_msat: 1_000_000),
            Pay(from: "a", to: "c", amount_msat: 1_000_000),
            Sleep(duration_ms: 30_000),
            Keysend(from: "a", to: "c", amount_msat: 1_000_000),
        ],
        {outputs}
    )"#
    );
    Scenario::parse("series.ron", &text).unwrap()
}

/// The last value of `metric` for `entity`.
fn last(csv: &str, entity: &str, metric: &str) -> Option<u64> {
    csv.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split(',').collect();
        (f[2] == entity && f[3] == metric).then(|| f[4].parse().unwrap())
    })
}

#[test]
fn series_follow_balances_forwards_failures_and_faults() {
    let (out, _) = sim::run_captured(&scenario(true), TraceLevel::Off, true).unwrap();
    let csv = out.series.clone().expect("sampled");
    assert!(csv.starts_with("time_us,kind,entity,metric,value\n"));
    let p = out.results.payments();
    let succeeded = p.iter().filter(|p| p.outcome == sim::results::Outcome::Succeeded).count();
    assert_eq!(succeeded, 3, "the three before the crash");
    let scid = |from: &str| {
        let c = out.start_channels.iter().find(|c| c.def.from.0 == if from == "a" { 0 } else { 1 });
        c.unwrap().scid
    };
    let (ab, bc) = (format!("{}/a", scid("a")), format!("{}/b", scid("b")));
    // a paid 3 × (1,000,000 + 1,001 fee); b forwarded 3 × 1,000,000 to c and refused the fourth.
    assert_eq!(last(&csv, &ab, "balance_msat"), Some(1_000_000_000 - 3 * 1_001_001));
    assert_eq!(last(&csv, &bc, "balance_msat"), Some(1_000_000_000 - 3 * 1_000_000));
    // Each payment took well under the 1 s interval: no sample caught an HTLC in flight, and a
    // value that never left its start (0) has no row.
    assert_eq!(last(&csv, &ab, "htlcs"), None);
    assert_eq!(last(&csv, &bc, "forwards"), Some(3));
    // b is an lnd node: a next peer that is down is unknown_next_peer (0x400a).
    assert_eq!(last(&csv, &bc, "failures_16394"), Some(1));
    assert_eq!(last(&csv, "b", "fees_earned_msat"), Some(3 * 1_001));
    assert_eq!(last(&csv, "a", "payments_sent"), Some(3));
    assert_eq!(last(&csv, "a", "payments_failed"), Some(1));
    assert_eq!(last(&csv, "c", "payments_received"), Some(3));
    let fault: Vec<&str> = csv.lines().filter(|l| l.contains(",fault,")).collect();
    assert_eq!(fault, ["20000000,fault,c,crash,1"]);
    let network_succeeded: u64 = csv
        .lines()
        .filter(|l| l.contains(",network,all,succeeded,"))
        .map(|l| l.rsplit(',').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(network_succeeded, 3);
}

#[test]
fn sampling_changes_nothing_a_node_sees() {
    let (with, trace_with) = sim::run_captured(&scenario(true), TraceLevel::Full, true).unwrap();
    let (without, trace_without) =
        sim::run_captured(&scenario(false), TraceLevel::Full, true).unwrap();
    assert!(without.series.is_none());
    let body = |t: &[u8]| -> Vec<String> {
        let text = String::from_utf8(t.to_vec()).unwrap();
        let digest = |l: &&str| l.starts_with("# scenario_sha256") || l.starts_with("# digest");
        text.lines().filter(|l| !digest(l)).map(String::from).collect()
    };
    assert!(body(&trace_with) == body(&trace_without), "sampling changed the trace");
    assert_eq!(with.summary.payments, without.summary.payments);
}

/// `boltsim report RUN_DIR` draws a run's time series: the busiest directions' balances (as a
/// share of capacity, from channels.csv) and success per sample interval, faults marked.
#[test]
fn a_run_directory_gets_a_series_report() {
    let dir = std::env::temp_dir().join(format!("boltsim-series-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = sim::DirOptions { check: true, ..sim::DirOptions::new(TraceLevel::Off) };
    sim::run_to_dir(&scenario(true), &dir, options).unwrap();
    let options = reports::report::ReportOptions::default();
    let summary = sim::sweep::write_report(&dir, None, &options).unwrap();
    assert_eq!(summary.index, dir.join("report/index.html"));
    let depletion = std::fs::read_to_string(dir.join("report/depletion.csv")).unwrap();
    // b's direction to c forwarded the three payments: 100% of 1,000,000 sat at the start, then
    // 99.7%.
    assert!(depletion.contains("/b (3 forwards),0,100,"), "{depletion}");
    assert!(depletion.contains("/b (3 forwards),1,99.7,"), "{depletion}");
    assert!(dir.join("report/depletion.png").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
