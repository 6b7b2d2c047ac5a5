//! Scenarios at the edges of every documented bound (scenarios/README.md, "Bounds") either load
//! and run to their end, with funds conserved, or are refused with one line — never a panic
//! (issue 12: values that passed validation overflowed the run's arithmetic).

use node_core::chain::MAX_MONEY_MSAT;
use proptest::prelude::*;
use proptest::sample::select;
use sim::scenario::Scenario;

const DAY_MS: u64 = 86_400_000;
const TEN_YEARS_S: u64 = 10 * 365 * 86_400;

/// One of `values`, as text.
fn one_of(values: &[u64]) -> BoxedStrategy<String> {
    select(values.to_vec()).prop_map(|v| v.to_string()).boxed()
}

fn latency() -> BoxedStrategy<String> {
    prop_oneof![
        one_of(&[0, 1, DAY_MS]).prop_map(|ms| format!("Constant(latency_ms: {ms})")),
        (one_of(&[0, 1]), one_of(&[1, DAY_MS]))
            .prop_map(|(lo, hi)| format!("Uniform(min_ms: {lo}, max_ms: {hi})")),
        (one_of(&[1, DAY_MS]), select(vec!["0.0", "1.0", "10.0"]))
            .prop_map(|(m, s)| format!("LogNormal(median_ms: {m}, sigma: {s})")),
    ]
    .boxed()
}

/// Node settings, each at an edge of its range.
fn node_config() -> BoxedStrategy<String> {
    (
        (
            one_of(&[0, 1_000_000]),
            one_of(&[0, 100]),
            one_of(&[0, MAX_MONEY_MSAT]),
            one_of(&[1, 483]),
            one_of(&[0, u64::from(u32::MAX)]),
            one_of(&[0, u64::from(u32::MAX)]),
        ),
        (
            one_of(&[0, u64::from(u16::MAX)]),
            one_of(&[0, u64::from(u16::MAX)]),
            one_of(&[0, u64::from(u32::MAX)]),
            one_of(&[0, u64::from(u32::MAX)]),
            one_of(&[0, DAY_MS]),
            one_of(&[1, 483]),
        ),
        (one_of(&[1, MAX_MONEY_MSAT]), one_of(&[60, u64::from(u32::MAX)])),
    )
        .prop_map(|((reserve, in_flight, htlc_min, accepted, base, ppm), rest, parts)| {
            let (cltv, final_cltv, expiry, timeout, flush, max_parts) = rest;
            let (min_part, mpp) = parts;
            format!(
                "(reserve_ppm: {reserve}, max_htlc_value_in_flight_percent: {in_flight}, \
                 htlc_minimum_msat: {htlc_min}, max_accepted_htlcs: {accepted}, \
                 fee_base_msat: {base}, fee_proportional_millionths: {ppm}, \
                 cltv_expiry_delta: {cltv}, min_final_cltv_expiry_delta: {final_cltv}, \
                 invoice_expiry_s: {expiry}, payment_timeout_s: {timeout}, max_fee_ppm: {ppm}, \
                 gossip_flush_interval_ms: {flush}, max_parts: {max_parts}, \
                 min_part_msat: {min_part}, mpp_timeout_s: {mpp})"
            )
        })
        .boxed()
}

fn amount() -> BoxedStrategy<String> {
    prop_oneof![
        one_of(&[1, MAX_MONEY_MSAT]).prop_map(|a| format!("Fixed(amount_msat: {a})")),
        (one_of(&[1, MAX_MONEY_MSAT]), select(vec!["0.0", "10.0"]))
            .prop_map(|(m, s)| format!("LogNormal(median_msat: {m}, sigma: {s})")),
    ]
    .boxed()
}

fn script() -> BoxedStrategy<String> {
    (
        one_of(&[0, TEN_YEARS_S * 1000]),
        one_of(&[0, (1 << 24) - 1]),
        one_of(&[1, MAX_MONEY_MSAT]),
        one_of(&[1, MAX_MONEY_MSAT]),
    )
        .prop_map(|(sleep, blocks, pay, keysend)| {
            format!(
                "[Pay(from: \"a\", to: \"c\", amount_msat: {pay}), \
                 Keysend(from: \"c\", to: \"a\", amount_msat: {keysend}), \
                 Sleep(duration_ms: 1), Sleep(duration_ms: {sleep}), WaitBlocks(blocks: {blocks})]"
            )
        })
        .boxed()
}

fn faults() -> BoxedStrategy<String> {
    (one_of(&[0, TEN_YEARS_S * 1000]), one_of(&[1, TEN_YEARS_S]), one_of(&[0, DAY_MS]))
        .prop_map(|(at, duration, extra)| {
            format!(
                "[(at_ms: {at}, fault: Crash(node: \"b\", duration_s: {duration})), \
                 (at_ms: 1, fault: LatencySpike(a: [\"a\"], b: [\"b\"], extra_ms: {extra}, \
                  duration_s: {duration})), \
                 (at_ms: 2, fault: SetPolicy(node: \"b\", fee_base_msat: 4294967295))]"
            )
        })
        .boxed()
}

fn random_faults() -> BoxedStrategy<String> {
    (select(vec!["0.0", "1000000.0"]), one_of(&[1, TEN_YEARS_S]), one_of(&[0, DAY_MS]))
        .prop_map(|(rate, end, spike)| {
            format!(
                "(end_s: {end}, crashes_per_node_day: {rate}, partitions_per_node_day: {rate}, \
                 spikes_per_node_day: {rate}, force_closes_per_channel_day: {rate}, \
                 spike_extra_ms: {spike}, crash_max_s: 3600, partition_max_s: 3600)"
            )
        })
        .boxed()
}

/// A three-node line a - b - c at the edges of the bounds, run for at most ten minutes.
fn scenario() -> BoxedStrategy<String> {
    (
        (one_of(&[0, 800_000, 16_000_000]), one_of(&[1, 600, TEN_YEARS_S]), one_of(&[253, 1_000_000])),
        (latency(), node_config(), node_config()),
        (one_of(&[354, 1_000_000, MAX_MONEY_MSAT / 3000]), one_of(&[0, 1]), amount()),
        (select(vec!["0.0", "0.5"]), script(), faults(), random_faults()),
        one_of(&[1, 600]),
    )
        .prop_map(|(chain, nodes, channels, events, stop)| {
            let (start, interval, feerate) = chain;
            let (latency, config_a, config_b) = nodes;
            let (capacity, balance, amount) = channels;
            let (rate, script, faults, random) = events;
            let balance = if balance == "0" { "0".to_string() } else { capacity.clone() };
            format!(
                r#"Scenario(
                    name: "edge", seed: 7,
                    chain: (start_height: {start}, block_interval_s: {interval}, feerate_per_kw: {feerate}),
                    links: (latency: {latency}),
                    nodes: [(name: "a", config: {config_a}), (name: "b", config: {config_b}), (name: "c")],
                    channels: [
                        (from: "a", to: "b", capacity_sat: {capacity}, from_balance_sat: {balance}),
                        (from: "b", to: "c", capacity_sat: {capacity}),
                    ],
                    workload: (end_s: 600, rate_per_s: {rate}, amount: {amount}),
                    script: {script},
                    faults: {faults},
                    random_faults: {random},
                    stop: (max_duration_s: {stop}),
                )"#
            )
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn scenarios_at_the_edges_of_the_bounds_run_to_their_end(text in scenario()) {
        match Scenario::parse("edge.ron", &text) {
            Err(e) => prop_assert!(false, "a scenario within the bounds is refused: {e}\n{text}"),
            Ok(scenario) => {
                let run = std::panic::catch_unwind(|| sim::run(&scenario, sim::RunOptions::without_trace()));
                let out = match run {
                    Ok(out) => out.expect("a run into a sink writes nothing that can fail"),
                    Err(_) => panic!("the run panicked on:\n{text}"),
                };
                prop_assert!(out.summary.funds.conserved, "{:?}\n{text}", out.summary.funds.violations);
            }
        }
    }
}

/// A minimal scenario with `extra` fields added.
fn with(extra: &str) -> String {
    format!(
        r#"Scenario(name: "x", nodes: [(name: "a"), (name: "b")],
           channels: [(from: "a", to: "b", capacity_sat: 1_000_000)], {extra})"#
    )
}

/// Each bound's first value beyond it is refused with one line naming the file, line and
/// column of the value.
#[test]
fn values_beyond_each_bound_are_refused_in_one_line() {
    let cases = [
        ("script: [WaitBlocks(blocks: 16777216)]", "blocks 16777216 must be at most"),
        ("script: [Sleep(duration_ms: 315360000001)]", "must be at most ten years"),
        ("node_defaults: (reserve_ppm: 1000001)", "reserve_ppm 1000001 must be 0 to 1000000"),
        ("node_defaults: (max_htlc_value_in_flight_percent: 101)", "must be 0 to 100"),
        ("node_defaults: (htlc_minimum_msat: 2100000000000000001)", "more than all bitcoin"),
        ("node_defaults: (min_part_msat: 2100000000000000001)", "more than all bitcoin"),
        ("node_defaults: (gossip_flush_interval_ms: 86400001)", "at most a day"),
        ("links: (latency: LogNormal(median_ms: 86400001, sigma: 1.0))", "more than a day"),
        ("links: (latency: LogNormal(median_ms: 1, sigma: 10.5))", "between 0 and 10"),
        (
            "workload: (end_s: 60, rate_per_s: 1000000.0, amount: Fixed(amount_msat: 1))",
            "at most 10000000",
        ),
        (
            "workload: (end_s: 60, rate_per_s: 1.0, amount: LogNormal(median_msat: 2100000000000000001, sigma: 1.0))",
            "all bitcoin",
        ),
        (
            "generate: (kind: Star, nodes: 1000001, capacity: (min_sat: 1000000, max_sat: 1000000))",
            "2 to 1000000 nodes",
        ),
        (
            "generate: (kind: ErdosRenyi(channels: 3000001), nodes: 1000000, capacity: (min_sat: 1000000, max_sat: 1000000))",
            "could have 3000001 channels: at most 3000000",
        ),
        (
            "generate: (kind: ScaleFree(links_per_node: 4), nodes: 750001, capacity: (min_sat: 1000000, max_sat: 1000000))",
            "could have 3000004 channels",
        ),
    ];
    for (extra, message) in cases {
        let text = with(extra);
        let error = Scenario::parse("x.ron", &text).expect_err(extra).to_string();
        assert!(error.contains(message), "{extra}: {error}");
        assert!(error.starts_with("x.ron:"), "{extra}: {error}");
        assert!(!error.contains('\n'), "{extra}: {error}");
    }
}

/// Regressions (issue 12): each ran past validation and panicked (exit 3 or 101).
#[test]
fn regression_values_that_passed_validation_no_longer_panic() {
    let ring = r#"generate: (kind: Ring, nodes: 50, capacity: (min_sat: 1000000, max_sat: 2000000)),
                  workload: (end_s: 600, rate_per_s: 1.0, amount: Fixed(amount_msat: 10000))"#;
    let runs = [
        // A one-day median with sigma 10 drew latencies past u64 µs.
        format!(
            r#"Scenario(name: "x", seed: 1, links: (latency: LogNormal(median_ms: 86400000, sigma: 10.0)), {ring})"#
        ),
        // A log-normal median of all bitcoin drew amounts of 5e18 msat.
        r#"Scenario(name: "x", seed: 1, generate: (kind: Ring, nodes: 10, capacity: (min_sat: 1000000, max_sat: 2000000)),
           workload: (end_s: 60, rate_per_s: 1.0, amount: LogNormal(median_msat: 2100000000000000000, sigma: 1.0)))"#
            .to_string(),
        // The whole channel as reserve on a channel of all bitcoin overflowed the reserve's and
        // the in-flight cap's arithmetic.
        r#"Scenario(name: "x", nodes: [(name: "a", config: (reserve_ppm: 1000000)), (name: "b")],
           channels: [(from: "a", to: "b", capacity_sat: 2100000000000000)])"#
            .to_string(),
        // The issue's Sleep(u64::MAX) and WaitBlocks(u32::MAX) are refused now (below); these
        // are the largest values accepted in their place, which run to the end.
        with("script: [Sleep(duration_ms: 1), Sleep(duration_ms: 315360000000)]"),
        with("script: [WaitBlocks(blocks: 16777215)]"),
    ];
    for text in runs {
        let scenario = Scenario::parse("x.ron", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let out = sim::run(&scenario, sim::RunOptions::without_trace()).unwrap();
        assert!(out.summary.funds.conserved, "{text}");
    }
}

/// Regression (issue 12): the issue's own inputs, which passed validation and overflowed the run
/// (exit 3), are refused in one line at their value.
#[test]
fn regression_the_issues_overflowing_inputs_are_refused() {
    let cases = [
        ("script: [WaitBlocks(blocks: 4294967295)]", "blocks 4294967295"),
        ("script: [Sleep(duration_ms: 1), Sleep(duration_ms: 18446744073709551615)]", "ten years"),
        ("node_defaults: (reserve_ppm: 4294967295)", "reserve_ppm 4294967295"),
        ("node_defaults: (max_htlc_value_in_flight_percent: 255)", "0 to 100"),
    ];
    for (extra, message) in cases {
        let error = Scenario::parse("x.ron", &with(extra)).expect_err(extra);
        assert!(error.message.contains(message), "{extra}: {error}");
        assert!(error.position.is_some(), "{extra}: {error}");
    }
}

/// Regression (issue 12): networks at the documented limit of 1,000,000 nodes with 5,000,000
/// channels passed validation and ran out of memory (`ErdosRenyi` took 19.3 GiB). The limit is
/// now what fits in 8 GiB: such networks are refused in one line, a 1,000,000-node `Star` is not,
/// nor (since issue 15) a 1,000,000-node `MainnetLike`.
#[test]
fn regression_generated_networks_that_do_not_fit_in_8_gib_are_refused() {
    const CAPACITY: &str = ", capacity: (min_sat: 1000000, max_sat: 2000000)";
    for kind in ["ScaleFree(links_per_node: 5)", "ErdosRenyi(channels: 5000000)"] {
        let text =
            format!(r#"Scenario(name: "x", generate: (kind: {kind}, nodes: 1000000{CAPACITY}))"#);
        let error = Scenario::parse("x.ron", &text).expect_err(kind).to_string();
        assert!(error.contains("could have 5000000 channels: at most 3000000"), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }
    let star = format!(r#"Scenario(name: "x", generate: (kind: Star, nodes: 1000000{CAPACITY}))"#);
    assert_eq!(Scenario::parse("x.ron", &star).unwrap().nodes.len(), 1_000_000);
    let mainnet = r#"Scenario(name: "x", generate: (kind: MainnetLike, nodes: 1000000))"#;
    assert_eq!(Scenario::parse("x.ron", mainnet).unwrap().nodes.len(), 1_000_000);
}
