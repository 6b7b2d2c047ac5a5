//! Routing with known answers, end to end: on a channel of capacity c whose balance is uniform
//! in [0, c] (and with no reserve, and neither commitment fee nor fee buffer on that side), a
//! payment of a through it succeeds with probability (c + 1 − a)/(c + 1) — the uniform prior the
//! min-cost-flow router assumes — measured over many independent channels.

use sim::results::Outcome;
use sim::rng::Stream;
use sim::scenario::Scenario;
use sim::trace::TraceLevel;
use std::fmt::Write;

/// What the opener b holds beyond the channel's tested capacity, sat.
const EXTRA_SAT: u64 = 10_000;

/// `n` triples s → a → b: s pays b `amount_sat` through a's channel of `capacity_sat`, whose
/// balance on a's side is uniform in [0, capacity]. Returns the successes.
fn single_channel_successes(n: usize, capacity_sat: u64, amount_sat: u64, seed: u64) -> usize {
    let mut stream = Stream::new(seed, "test/balances");
    let mut nodes = String::new();
    let mut channels = String::new();
    let mut script = String::new();
    for i in 0..n {
        let _ = write!(nodes, "(name: \"s{i}\"), (name: \"a{i}\"), (name: \"b{i}\"),");
        let balance_sat = stream.range_inclusive(0, capacity_sat);
        // b opens the channel and keeps EXTRA_SAT more than its share, so that a, which is not
        // the opener, pays no commitment fee and b can always afford the fee of one more HTLC.
        let _ = write!(
            channels,
            "(from: \"s{i}\", to: \"a{i}\", capacity_sat: 10_000_000, announce: true),
             (from: \"b{i}\", to: \"a{i}\", capacity_sat: {},
              from_balance_sat: {}, announce: true),",
            capacity_sat + EXTRA_SAT,
            capacity_sat - balance_sat + EXTRA_SAT,
        );
        let _ = write!(
            script,
            "Pay(from: \"s{i}\", to: \"b{i}\", amount_msat: {}),",
            amount_sat * 1000
        );
    }
    let text = format!(
        r#"Scenario(
            name: "single_channel",
            seed: {seed},
            node_defaults: (reserve_ppm: 0, max_htlc_value_in_flight_percent: 100,
                            fee_base_msat: 0, fee_proportional_millionths: 0, max_parts: 1),
            nodes: [{nodes}],
            channels: [{channels}],
            script: [{script}],
        )"#
    );
    let scenario = Scenario::parse("single_channel.ron", &text).unwrap();
    let (out, _) = sim::run_captured(&scenario, TraceLevel::Off, false).unwrap();
    let payments = out.results.payments();
    assert_eq!(payments.len(), n);
    for p in payments {
        assert_ne!(p.outcome, Outcome::Pending);
        if p.outcome == Outcome::Succeeded {
            assert_eq!(p.fee_msat, Some(0));
        }
    }
    payments.iter().filter(|p| p.outcome == Outcome::Succeeded).count()
}

#[test]
fn success_over_one_channel_of_uniform_balance_is_c_plus_1_minus_a_over_c_plus_1() {
    let (n, c) = (600, 100_000u64);
    for (a, seed) in [(25_000u64, 1), (50_000, 2), (90_000, 3)] {
        let successes = single_channel_successes(n, c, a, seed);
        let expected = (c + 1 - a) as f64 / (c + 1) as f64;
        let measured = successes as f64 / n as f64;
        // Four standard deviations of a binomial proportion: fails by chance once in 15,000.
        let tolerance = 4.0 * (expected * (1.0 - expected) / n as f64).sqrt();
        assert!(
            (measured - expected).abs() <= tolerance,
            "a = {a}: measured {measured:.4}, expected {expected:.4} ± {tolerance:.4}"
        );
    }
}

#[test]
fn the_boundaries_are_exact() {
    // Amount 0 is refused by validation; amount c succeeds only on a full channel, and a
    // channel of capacity 1 sat is all or nothing.
    let successes = single_channel_successes(50, 1, 1, 9);
    let scenario_balances: Vec<u64> = {
        let mut stream = Stream::new(9, "test/balances");
        (0..50).map(|_| stream.range_inclusive(0, 1)).collect()
    };
    assert_eq!(successes, scenario_balances.iter().filter(|&&b| b == 1).count());
}

fn scenarios_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

#[test]
fn the_routers_scenario_compares_every_router_on_the_same_workload() {
    let scenario = Scenario::load(&scenarios_dir().join("routers.ron")).unwrap();
    let (out, _) = sim::run_captured(&scenario, TraceLevel::Off, true).unwrap();
    let by_router = out.results.stats_by_router();
    let names: Vec<&str> = by_router.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "cheapest",
            "cln",
            "eclair",
            "ldk",
            "lnd_apriori",
            "lnd_bimodal",
            "min_cost_flow",
            "shortest_hops"
        ]
    );
    let totals: Vec<u64> = by_router.values().map(|s| s.total).collect();
    let (least, most) = (totals.iter().min().unwrap(), totals.iter().max().unwrap());
    assert!(most - least <= 1, "routers take turns: {totals:?}");
    for (router, stats) in &by_router {
        assert_eq!(stats.pending, 0, "{router}");
        assert!(stats.success_rate_ppm > 900_000, "{router}: {stats:?}");
    }
    // The min-cost-flow router splits on its own; a single-path router only when it must.
    assert!(by_router["min_cost_flow"].split > by_router["ldk"].split + 10);
    // Every part has its record, and the parts of each payment add up to what it delivered.
    let attempts = out.results.attempts();
    let total_attempts: u64 = by_router.values().map(|s| s.attempts).sum();
    assert_eq!(attempts.len() as u64, total_attempts);
    for p in out.results.payments().iter().filter(|p| p.outcome == Outcome::Succeeded) {
        let settled: u64 = attempts
            .iter()
            .filter(|a| a.payment == p.id && a.outcome == sim::results::AttemptOutcome::Settled)
            .map(|a| a.amount_msat)
            .sum();
        assert_eq!(settled, p.amount_msat, "payment {}", p.id);
    }
}
