//! The feasibility oracle on a hand-checked network: each class of `crate::oracle` once, and
//! the oracle off by default (issue 14, item 2).

use sim::oracle::Feasibility;
use sim::scenario::Scenario;
use sim::trace::TraceLevel;

/// s can send to x and y, which can each send to t; t can send neither to u nor to v, and only
/// v can send to w. Capacities 1,000,000 sat; the opener holds everything unless said.
fn scenario(oracle: bool) -> Scenario {
    let text = format!(
        r#"Scenario(
        name: "oracle", seed: 1,
        nodes: [(name: "s"), (name: "x"), (name: "y"), (name: "t"), (name: "u"), (name: "v"), (name: "w")],
        channels: [
            (from: "s", to: "x", capacity_sat: 1_000_000, from_balance_sat: 1_000_000),
            (from: "s", to: "y", capacity_sat: 1_000_000, from_balance_sat: 1_000_000),
            (from: "x", to: "t", capacity_sat: 1_000_000, from_balance_sat: 1_000_000),
            (from: "y", to: "t", capacity_sat: 1_000_000, from_balance_sat: 1_000_000),
            (from: "t", to: "u", capacity_sat: 1_000_000, from_balance_sat: 0),
            (from: "t", to: "v", capacity_sat: 1_000_000, from_balance_sat: 0),
            (from: "v", to: "w", capacity_sat: 1_000_000, from_balance_sat: 1_000_000),
        ],
        script: [
            Pay(from: "s", to: "u", amount_msat: 100_000_000),
            Pay(from: "s", to: "w", amount_msat: 100_000_000),
            Pay(from: "s", to: "t", amount_msat: 2_500_000_000),
            Pay(from: "s", to: "t", amount_msat: 1_500_000_000),
        ],
        outputs: (feasibility_oracle: {oracle}),
    )"#
    );
    Scenario::parse("oracle.ron", &text).unwrap()
}

#[test]
fn the_oracle_classifies_each_payment_at_its_start() {
    let (out, _) = sim::run_captured(&scenario(true), TraceLevel::Off, true).unwrap();
    let classes: Vec<Option<Feasibility>> =
        out.results.payments().iter().map(|p| p.feasibility).collect();
    assert_eq!(
        classes,
        [
            Some(Feasibility::PayeeCannotReceive), // t has nothing on its side towards u
            Some(Feasibility::NoLiquidPath),       // w can receive from v, but t cannot pay v
            Some(Feasibility::PayerCannotSend),    // s holds 2,000,000 sat less reserves
            Some(Feasibility::Feasible),           // through x and y together
        ]
    );
    let oracle = out.summary.payments.oracle.as_ref().expect("the oracle ran");
    assert_eq!(oracle.classes["feasible"], 1);
    assert_eq!(oracle.feasible_started, 1);
    let names = sim::results::NodeLabels::names(&["s", "x", "y", "t", "u", "v", "w"]);
    let mut csv = Vec::new();
    out.results.write_csv(&names, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.lines().nth(2).unwrap().ends_with(",no_liquid_path,,,,"), "{csv}");
    assert!(out.summary.to_text().contains("1 feasible"), "{}", out.summary.to_text());
}

#[test]
fn the_oracle_is_off_by_default_and_changes_nothing_a_node_sees() {
    let (with, trace_with) = sim::run_captured(&scenario(true), TraceLevel::Full, true).unwrap();
    let (without, trace_without) =
        sim::run_captured(&scenario(false), TraceLevel::Full, true).unwrap();
    assert!(without.results.payments().iter().all(|p| p.feasibility.is_none()));
    assert!(without.summary.payments.oracle.is_none());
    // The trace is the same but for the scenario file's digest in the header (the texts differ)
    // and the closing digest over it.
    let body = |t: &[u8]| -> Vec<String> {
        let text = String::from_utf8(t.to_vec()).unwrap();
        let digest = |l: &&str| l.starts_with("# scenario_sha256") || l.starts_with("# digest");
        text.lines().filter(|l| !digest(l)).map(String::from).collect()
    };
    assert!(body(&trace_with) == body(&trace_without), "the oracle changed the trace");
    let outcomes = |o: &sim::RunOutput| {
        o.results.payments().iter().map(|p| (p.outcome, p.attempts, p.end)).collect::<Vec<_>>()
    };
    assert_eq!(outcomes(&with), outcomes(&without));
}
