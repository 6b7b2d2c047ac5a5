//! Issue 12, sweep directories: sweep names cannot leave the output directory.

use sim::sweep::Sweep;
use std::path::PathBuf;

const BASE: &str = r#"Scenario(
    name: "small", seed: 1,
    generate: (kind: ScaleFree(links_per_node: 2), nodes: 30,
               capacity: (min_sat: 200_000, max_sat: 2_000_000), balance: random),
    workload: (end_s: 60, rate_per_s: 1.0, max_payments: 12, amount: Fixed(amount_msat: 1_000)),
)"#;

/// Two sweeps alike but for their name and seeds: 4 cells each.
const SWEEP_A: &str = r#"Sweep(
    name: "a",
    scenario: "small.ron",
    seeds: [1, 2],
    grid: [AmountSat([1_000, 300_000])],
)"#;

const SWEEP_B: &str = r#"Sweep(
    name: "b",
    scenario: "small.ron",
    seeds: [3, 4],
    grid: [AmountSat([1_000, 300_000])],
)"#;

/// A fresh directory with both sweeps and their base scenario.
fn setup(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("boltsim-sweep-safety-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("small.ron"), BASE).unwrap();
    std::fs::write(dir.join("a.ron"), SWEEP_A).unwrap();
    std::fs::write(dir.join("b.ron"), SWEEP_B).unwrap();
    dir
}

// Issue 12: a sweep name is a path component of out/sweeps/<name>: "/abs/x" wrote outside
// out/sweeps and "../../x" climbed out of it. Names follow the rule for scenario names.
#[test]
fn regression_sweep_names_stay_inside_the_output_directory() {
    let dir = setup("names");
    for name in ["/abs/x", "../../x", "a/b", "", "a b", ".."] {
        let text = SWEEP_A.replace(r#"name: "a""#, &format!("name: {name:?}"));
        std::fs::write(dir.join("bad.ron"), &text).unwrap();
        let err = Sweep::load(&dir.join("bad.ron")).unwrap_err();
        assert_eq!(err.position, Some((2, 11)), "{name:?}: {err}");
        let line = err.to_string();
        assert!(line.contains("sweep name") && line.contains("letters, digits"), "{line}");
        assert!(line.starts_with(&format!("{}:2:11: ", dir.join("bad.ron").display())), "{line}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
