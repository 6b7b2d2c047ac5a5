//! Payments over channels that exist at the start (in every node's base graph): a three-hop
//! payment with its fees, and a failure mid-route reported with its BOLT 4 code and hop index.

use sim::results::Outcome;
use sim::scenario::Scenario;
use sim::trace::{Kind, TraceLevel};

const LINE: &str = r#"Scenario(
    name: "line",
    seed: 7,
    links: (latency: Uniform(min_ms: 10, max_ms: 90)),
    nodes: [(name: "a"), (name: "b"), (name: "c"), (name: "d"), (name: "e")],
    channels: [
        (from: "a", to: "b", capacity_sat: 2_000_000, from_balance_sat: 1_000_000),
        (from: "b", to: "c", capacity_sat: 2_000_000, from_balance_sat: 1_000_000,
         from_policy: (fee_base_msat: 500, fee_proportional_millionths: 100, cltv_expiry_delta: 40)),
        (from: "c", to: "d", capacity_sat: 2_000_000, from_balance_sat: 1_000_000),
        // c keeps only its reserve on the way to e: it cannot forward anything there.
        (from: "c", to: "e", capacity_sat: 1_000_000, from_balance_sat: 10_000),
    ],
    script: [
        Pay(from: "a", to: "d", amount_msat: 10_000_000),
        Pay(from: "a", to: "e", amount_msat: 50_000_000),
        Keysend(from: "d", to: "a", amount_msat: 1_000_000),
    ],
)"#;

#[test]
fn payments_cross_the_base_graph_and_failures_name_their_hop() {
    let scenario = Scenario::parse("line.ron", LINE).unwrap();
    let (out, trace) = sim::run_captured(&scenario, TraceLevel::Full, true).unwrap();
    let p = out.results.payments();
    assert_eq!(p.len(), 3);
    let name = |n: node_core::NodeId| scenario.node_name(n).to_string();
    // a -> d over three hops: c charges lnd's 1000 msat + 1 ppm, b its own 500 msat + 100 ppm.
    assert_eq!(p[0].outcome, Outcome::Succeeded);
    assert_eq!(p[0].routes[0].iter().map(|&n| name(n)).collect::<Vec<_>>(), ["a", "b", "c", "d"]);
    let fee_c = 1000 + 10_000_000 / 1_000_000;
    let fee_b = 500 + (10_000_000 + fee_c) * 100 / 1_000_000;
    assert_eq!(p[0].fee_msat, Some(fee_b + fee_c));
    // a -> e fails at c, the third node of the path a b c e, with temporary_channel_failure.
    // a pays with lnd's router: mission control fails c -> e at the amount that failed only, so
    // a tries halves down to its smallest part (10,000 sat), each failing at c too.
    assert_eq!(p[1].outcome, Outcome::Failed(node_core::payment::FailureReason::NoRoute));
    assert_eq!(p[1].failure_code, Some(node_core::onion::FailureCode::TEMPORARY_CHANNEL_FAILURE));
    assert!(p[1].attempts > 1);
    let amounts: Vec<u64> = out
        .results
        .attempts()
        .iter()
        .filter(|a| a.payment == p[1].id)
        .map(|a| a.amount_msat)
        .collect();
    assert_eq!(amounts.len(), p[1].attempts as usize);
    assert_eq!(amounts[0], 50_000_000, "the whole amount first");
    assert!(amounts[1..].iter().all(|&a| (10_000_000..=25_000_000).contains(&a)), "{amounts:?}");
    let text = String::from_utf8(trace).unwrap();
    let attempt_failed = (Kind::PaymentAttemptFailed as u16).to_string();
    let failed: Vec<&str> =
        text.lines().filter(|l| l.split(' ').nth(1) == Some(attempt_failed.as_str())).collect();
    assert_eq!(failed.len(), amounts.len());
    for line in failed {
        let fields: Vec<u64> = line.split(' ').map(|f| f.parse().unwrap()).collect();
        assert_eq!(fields[2], 0, "paid by a");
        assert_eq!(fields[5], 2, "failing hop index: c is node 2 of a b c e");
        assert_eq!(fields[6], 0x1007);
    }
    // A keysend the other way succeeds.
    assert_eq!(p[2].outcome, Outcome::Succeeded);
    assert_eq!(p[2].hops(), 3);
    assert!(out.summary.funds.conserved, "{:?}", out.summary.funds.violations);
}

#[test]
fn latency_comes_from_the_links() {
    let scenario = Scenario::parse("line.ron", LINE).unwrap();
    let (out, _) = sim::run_captured(&scenario, TraceLevel::Off, true).unwrap();
    let p = &out.results.payments()[0];
    // Three hops, each at least 1.5 round trips of at least 10 ms forward and the fulfil back.
    let latency_us = p.latency_us().unwrap();
    assert!(latency_us >= 3 * 30_000 + 3 * 10_000, "{latency_us}");
    assert!(latency_us < 3 * 6 * 90_000, "{latency_us}");
}
