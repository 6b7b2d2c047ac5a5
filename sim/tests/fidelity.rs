//! Known answers for the behaviour each preset takes from its implementation (`FIDELITY.md`):
//! how a failure is remembered, what the `channel_update` in a failure does, the grace of a
//! previous policy, processing delays, limits and gossip. Each test builds a small network whose
//! answer is worked out by hand in its comment.

use node_core::onion::FailureCode;
use node_core::payment::FailureReason;
use sim::results::{Outcome, PaymentRecord};
use sim::scenario::Scenario;
use sim::trace::TraceLevel;

/// Runs the scenario `text` and returns its payments.
fn payments(text: &str) -> Vec<PaymentRecord> {
    let scenario = Scenario::parse("fidelity.ron", text).unwrap();
    let (out, _) = sim::run_captured(&scenario, TraceLevel::Off, true).unwrap();
    out.results.payments().to_vec()
}

/// s pays t 1,000,000 sat over two disjoint paths, s - a - t and s - b - t, whose last channels
/// hold 580,000 sat on the forwarder's side: no single path carries the whole amount, two halves
/// fit. `router` is the scenario's router (empty: each node's preset).
fn two_paths(implementation: &str, router: &str) -> PaymentRecord {
    payments(&two_paths_text(implementation, router)).remove(0)
}

/// The scenario of [`two_paths`].
fn two_paths_text(implementation: &str, router: &str) -> String {
    format!(
        r#"Scenario(
            name: "two_paths",
            {router}
            node_defaults: (fee_base_msat: 1000, fee_proportional_millionths: 1),
            nodes: [(name: "s", implementation: {implementation}), (name: "a"), (name: "b"),
                    (name: "t")],
            channels: [
                (from: "s", to: "a", capacity_sat: 2_000_000, announce: true),
                (from: "s", to: "b", capacity_sat: 2_000_000, announce: true),
                (from: "a", to: "t", capacity_sat: 1_200_000, from_balance_sat: 580_000,
                 announce: true),
                (from: "b", to: "t", capacity_sat: 1_200_000, from_balance_sat: 580_000,
                 announce: true),
            ],
            script: [Pay(from: "s", to: "t", amount_msat: 1_000_000_000)],
        )"#
    )
}

/// lnd's mission control fails a→t and b→t at 1,000,000 sat only: the halves may use them.
#[test]
fn lnd_splits_a_payment_no_single_path_carries_over_channels_that_failed_at_the_whole() {
    let p = two_paths("lnd", "");
    assert_eq!(p.router, "lnd_apriori");
    assert_eq!(p.outcome, Outcome::Succeeded, "{p:?}");
    assert_eq!(p.parts(), 2);
    let mut vias: Vec<_> = p.routes.iter().map(|r| r[1]).collect();
    vias.sort();
    assert_eq!(vias.len(), 2);
    assert_ne!(vias[0], vias[1], "one half over each path: {:?}", p.routes);
}

/// Core Lightning keeps each failed channel with a capacity estimate of 999,999,999 msat: a
/// half fits, the second half goes the other way.
#[test]
fn core_lightning_splits_it_with_capacity_estimates_below_the_failed_amount() {
    let p = two_paths("cln", "");
    assert_eq!(p.router, "cln");
    assert_eq!(p.outcome, Outcome::Succeeded, "{p:?}");
    assert_eq!(p.parts(), 2);
    // Two whole attempts failed, then one half over each path: no half was sent where the
    // estimate could not hold it.
    assert_eq!(p.attempts, 4);
}

/// The baseline excludes each failed channel at every amount: after two attempts nothing is
/// left, as every router did before the presets had their own memory.
#[test]
fn the_cheapest_baseline_excludes_failed_channels_at_every_amount() {
    let p = two_paths("lnd", "router: Cheapest,");
    assert_eq!(p.outcome, Outcome::Failed(FailureReason::NoRoute));
    assert_eq!(p.attempts, 2);
    assert_eq!(p.failure_code, Some(FailureCode::TEMPORARY_CHANNEL_FAILURE));
}

/// LDK and Eclair exclude the failed channel for the payment, as the baseline does. (Both plan
/// multi-part payments their own way, which boltsim does not model: the payment halves what
/// finds no route, so here no half is tried; see FIDELITY.md.)
#[test]
fn ldk_and_eclair_exclude_the_failed_channel_for_the_payment() {
    for (implementation, router) in [("ldk", "ldk"), ("eclair", "eclair")] {
        let p = two_paths(implementation, "");
        assert_eq!(p.router, router);
        assert_eq!(p.outcome, Outcome::Failed(FailureReason::NoRoute), "{implementation}");
        assert_eq!(p.attempts, 2, "{implementation}");
    }
}

/// A line n0 - n1 - ... - n5; at 10 s n4 raises its fee toward n5 to 5,000 msat. n4 relays
/// gossip once a day, so the new update reaches n0 only inside a failure: n0 pays at 20 s with
/// the old fee and n4 fails the HTLC with fee_insufficient, carrying its new channel_update.
/// Returns the payments at 20 s and 122 s.
fn fee_rise_on_a_line(implementation: &str) -> Vec<PaymentRecord> {
    let text = format!(
        r#"Scenario(
            name: "line",
            node_defaults: (fee_base_msat: 1000, fee_proportional_millionths: 1),
            nodes: [(name: "n0", implementation: {implementation}), (name: "n1"), (name: "n2"),
                    (name: "n3"), (name: "n4", config: (gossip_flush_interval_ms: 86_400_000)),
                    (name: "n5")],
            channels: [
                (from: "n0", to: "n1", capacity_sat: 1_000_000, announce: true),
                (from: "n1", to: "n2", capacity_sat: 1_000_000, announce: true),
                (from: "n2", to: "n3", capacity_sat: 1_000_000, announce: true),
                (from: "n3", to: "n4", capacity_sat: 1_000_000, announce: true),
                (from: "n4", to: "n5", capacity_sat: 1_000_000, announce: true),
            ],
            faults: [(at_ms: 10_000, fault: SetPolicy(node: "n4", peer: "n5", fee_base_msat: 5_000))],
            script: [
                Sleep(duration_ms: 20_000),
                Pay(from: "n0", to: "n5", amount_msat: 10_000_000),
                Sleep(duration_ms: 100_000),
                Pay(from: "n0", to: "n5", amount_msat: 10_000_000),
            ],
        )"#
    );
    payments(&text)
}

/// lnd and Core Lightning apply the update in the failure to their graph: the payment at 20 s
/// retries with it and pays, and the one at 122 s pays the new fee on its first attempt.
#[test]
fn lnd_and_core_lightning_apply_the_update_in_a_failure_to_their_graph() {
    for implementation in ["lnd", "cln"] {
        let p = fee_rise_on_a_line(implementation);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].outcome, p[0].attempts), (Outcome::Succeeded, 2), "{implementation}");
        assert!(p[1].start.as_micros() > 120_000_000 && p[1].start.as_micros() < 250_000_000);
        assert_eq!((p[1].outcome, p[1].attempts), (Outcome::Succeeded, 1), "{implementation}");
        // Four forwarders at 1,000 msat + 1 ppm; n4 at 5,000 msat + 1 ppm.
        assert_eq!(p[1].fee_msat, Some(3 * 1_010 + 5_010), "{implementation}");
    }
}

/// LDK ignores the update in a failure and excludes the channel for the payment: on a line
/// nothing is left, and the next payment, still without the update, fails the same way.
#[test]
fn ldk_ignores_the_update_in_a_failure() {
    let p = fee_rise_on_a_line("ldk");
    for p in &p {
        assert_eq!(p.outcome, Outcome::Failed(FailureReason::NoRoute));
        assert_eq!(p.attempts, 1);
        assert_eq!(p.failure_code, Some(FailureCode::FEE_INSUFFICIENT));
    }
}

/// a - b - c, b forwarding as `implementation`. At 10 s b raises its fee toward c from
/// 1,000 msat + 1 ppm to 5,000 msat + 1 ppm; b flushes gossip once a day, so a keeps the old fee
/// in its view. a pays c at 20 s and at 700 s.
fn fee_rise_before_gossip(implementation: &str) -> Vec<PaymentRecord> {
    let text = format!(
        r#"Scenario(
            name: "grace",
            node_defaults: (fee_base_msat: 1000, fee_proportional_millionths: 1),
            nodes: [(name: "a"),
                    (name: "b", implementation: {implementation},
                     config: (gossip_flush_interval_ms: 86_400_000)),
                    (name: "c")],
            channels: [
                (from: "a", to: "b", capacity_sat: 1_000_000, announce: true),
                (from: "b", to: "c", capacity_sat: 1_000_000, announce: true),
            ],
            faults: [(at_ms: 10_000, fault: SetPolicy(node: "b", peer: "c", fee_base_msat: 5_000))],
            script: [
                Sleep(duration_ms: 20_000),
                Pay(from: "a", to: "c", amount_msat: 10_000_000),
                Sleep(duration_ms: 680_000),
                Pay(from: "a", to: "c", amount_msat: 10_000_000),
            ],
        )"#
    );
    payments(&text)
}

/// BOLT 7's grace: Core Lightning (600 s), LDK (300 s) and Eclair (600 s) forwarders accept the
/// previous fee 10 s after the rise, so a pays 1,010 msat on its first attempt; lnd keeps no
/// previous policy, so a's first attempt fails with fee_insufficient and the retry pays 5,010
/// (and a, an lnd payer, keeps the update: at 700 s it pays 5,010 at once). At 700 s every
/// grace is over: a's first attempt with the old fee fails.
#[test]
fn a_fee_rise_inside_the_grace_period_still_accepts_the_previous_fee() {
    for implementation in ["cln", "ldk", "eclair"] {
        let p = fee_rise_before_gossip(implementation);
        assert_eq!((p[0].outcome, p[0].attempts), (Outcome::Succeeded, 1), "{implementation}");
        assert_eq!(p[0].fee_msat, Some(1_010), "{implementation}");
        assert_eq!((p[1].outcome, p[1].attempts), (Outcome::Succeeded, 2), "{implementation}");
        assert_eq!(p[1].fee_msat, Some(5_010), "{implementation}");
    }
    let p = fee_rise_before_gossip("lnd");
    assert_eq!((p[0].outcome, p[0].attempts, p[0].fee_msat), (Outcome::Succeeded, 2, Some(5_010)));
    assert_eq!((p[1].outcome, p[1].attempts, p[1].fee_msat), (Outcome::Succeeded, 1, Some(5_010)));
}

/// a - b - x - c, b forwarding as `implementation`, x asking a CLTV delta of `x_delta` blocks;
/// a (lnd) plans routes up to 4,000 blocks. The HTLC b sends on expires 80 (c's invoice) + 3
/// (a's margin) + `x_delta` blocks above the height.
fn far_expiry(implementation: &str, x_delta: u16) -> PaymentRecord {
    let text = format!(
        r#"Scenario(
            name: "far",
            nodes: [(name: "a", config: (max_total_cltv_delta: 4000)),
                    (name: "b", implementation: {implementation}),
                    (name: "x", config: (cltv_expiry_delta: {x_delta})), (name: "c")],
            channels: [
                (from: "a", to: "b", capacity_sat: 1_000_000, announce: true),
                (from: "b", to: "x", capacity_sat: 1_000_000, announce: true),
                (from: "x", to: "c", capacity_sat: 1_000_000, announce: true),
            ],
            script: [Pay(from: "a", to: "c", amount_msat: 10_000_000)],
        )"#
    );
    payments(&text).remove(0)
}

/// LDK plans routes of at most 1,008 blocks but forwards up to `CLTV_FAR_FAR_AWAY`, 2,016: an
/// outgoing expiry 1,083 blocks out passes, 2,033 fails with expiry_too_far.
#[test]
fn an_ldk_forwarder_accepts_expiries_up_to_2016_blocks() {
    let p = far_expiry("ldk", 1_000);
    assert_eq!((p.outcome, p.attempts), (Outcome::Succeeded, 1), "{p:?}");
    let p = far_expiry("ldk", 1_950);
    assert_eq!(p.outcome, Outcome::Failed(FailureReason::NoRoute));
    assert_eq!(p.failure_code, Some(FailureCode::EXPIRY_TOO_FAR));
}

/// a pays c over a cheap path a - b - c or a dear one a - d - c (d charges 300 sat). At 10 s b
/// force-closes b - c; the commitment confirms in the block at 600 s. b relays gossip once a
/// day, so a learns of the close only from the chain. a (as `implementation`) pays c at 700 s
/// and at 8,000 s (after 13 blocks).
fn pay_after_a_close(implementation: &str) -> Vec<PaymentRecord> {
    let text = format!(
        r#"Scenario(
            name: "prune",
            nodes: [(name: "a", implementation: {implementation}),
                    (name: "b", config: (gossip_flush_interval_ms: 86_400_000)),
                    (name: "c"), (name: "d", config: (fee_base_msat: 300_000))],
            channels: [
                (from: "a", to: "b", capacity_sat: 1_000_000, announce: true),
                (from: "b", to: "c", capacity_sat: 1_000_000, from_balance_sat: 500_000,
                 announce: true),
                (from: "a", to: "d", capacity_sat: 1_000_000, announce: true),
                (from: "d", to: "c", capacity_sat: 1_000_000, announce: true),
            ],
            faults: [(at_ms: 10_000, fault: ForceClose(node: "b", peer: "c"))],
            script: [
                Sleep(duration_ms: 700_000),
                Pay(from: "a", to: "c", amount_msat: 100_000_000),
                Sleep(duration_ms: 7_300_000),
                Pay(from: "a", to: "c", amount_msat: 100_000_000),
            ],
        )"#
    );
    payments(&text)
}

/// lnd prunes a channel on the block that spends its funding: at 700 s a goes by d at once.
/// Core Lightning keeps it 12 blocks (BOLT 7): at 700 s its first attempt still goes by b and
/// fails (b has no channel to c any more), at 8,000 s it goes by d at once.
#[test]
fn a_spent_channel_leaves_the_graph_when_each_implementation_prunes_it() {
    let d_route = |p: &PaymentRecord| p.routes[0].len() == 3 && p.fee_msat == Some(300_100);
    let lnd = pay_after_a_close("lnd");
    for p in &lnd {
        assert_eq!((p.outcome, p.attempts), (Outcome::Succeeded, 1), "{p:?}");
        assert!(d_route(p), "{p:?}");
    }
    let cln = pay_after_a_close("cln");
    assert_eq!((cln[0].outcome, cln[0].attempts), (Outcome::Succeeded, 2), "{:?}", cln[0]);
    assert_eq!((cln[1].outcome, cln[1].attempts), (Outcome::Succeeded, 1), "{:?}", cln[1]);
    assert!(d_route(&cln[0]) && d_route(&cln[1]));
}

/// a - b - c - d, 50 ms per link, a pays d: the time from the start of the payment to the
/// preimage at a, with every node's processing set by `config` (a `NodeOverrides`).
fn three_hop_latency_us(config: &str) -> u64 {
    let text = format!(
        r#"Scenario(
            name: "timing",
            links: (latency: Constant(latency_ms: 50)),
            node_defaults: {config},
            nodes: [(name: "a"), (name: "b"), (name: "c"), (name: "d")],
            channels: [
                (from: "a", to: "b", capacity_sat: 1_000_000, announce: true),
                (from: "b", to: "c", capacity_sat: 1_000_000, announce: true),
                (from: "c", to: "d", capacity_sat: 1_000_000, announce: true),
            ],
            script: [Pay(from: "a", to: "d", amount_msat: 10_000_000)],
        )"#
    );
    let p = payments(&text).remove(0);
    assert_eq!((p.outcome, p.attempts), (Outcome::Succeeded, 1));
    p.latency_us().unwrap()
}

/// The dance of one hop, from the add leaving its sender to the HTLC locked in at the next node:
/// add and commitment_signed (after a persist P) out, revoke_and_ack and commitment_signed back
/// (after P), revoke_and_ack out (after P): 3 links and 3 persists. The preimage goes back one
/// link per hop (a forwarder passes an update_fulfill upstream as soon as it reads it). With L =
/// 50 ms: 3 × (3L + 3P + H) + 3L, H the hold of each received HTLC at b, c and d.
#[test]
fn a_three_hop_payment_takes_the_protocol_time_plus_each_nodes_processing() {
    let none =
        "(commit_batch_ms: 0, persist_us: 0, forward_hold_min_ms: 0, forward_hold_max_ms: 0)";
    assert_eq!(three_hop_latency_us(none), 600_000);
    let persist = "(commit_batch_ms: 0, persist_us: 5000)";
    assert_eq!(three_hop_latency_us(persist), 600_000 + 9 * 5_000);
    let held = "(commit_batch_ms: 0, persist_us: 5000, forward_hold_min_ms: 100, \
                forward_hold_max_ms: 100)";
    assert_eq!(three_hop_latency_us(held), 645_000 + 3 * 100_000);
    // lnd's preset: each of the three adds waits for its node's 50 ms commitment tick, at the
    // node's own phase: more than without batching, at most 3 × 50 ms more.
    let lnd = three_hop_latency_us("()");
    assert!(lnd > 645_000 && lnd <= 645_000 + 3 * 50_000, "{lnd}");
}

/// `views: (unknown_ppm: N)`: a - b - c where a starts knowing only its own channel (every other
/// channel unknown at 1,000,000 ppm): a payment to c at 1 s finds no route. At 10 s b changes
/// its fee toward c; the new update reaches a by gossip (b's 90 s ticker), and a learns the
/// channel with it: the payment at 200 s goes through, at the new fee.
#[test]
fn a_node_that_starts_without_a_channel_learns_it_from_a_newer_update() {
    let text = r#"Scenario(
        name: "views",
        views: (unknown_ppm: 1_000_000),
        nodes: [(name: "a"), (name: "b"), (name: "c")],
        channels: [
            (from: "a", to: "b", capacity_sat: 1_000_000, announce: true),
            (from: "b", to: "c", capacity_sat: 1_000_000, announce: true),
        ],
        faults: [(at_ms: 10_000, fault: SetPolicy(node: "b", peer: "c", fee_base_msat: 2_000))],
        script: [
            Sleep(duration_ms: 1_000),
            Pay(from: "a", to: "c", amount_msat: 10_000_000),
            Sleep(duration_ms: 199_000),
            Pay(from: "a", to: "c", amount_msat: 10_000_000),
        ],
    )"#;
    let p = payments(text);
    assert_eq!((p[0].outcome, p[0].attempts), (Outcome::Failed(FailureReason::NoRoute), 0));
    assert_eq!((p[1].outcome, p[1].attempts), (Outcome::Succeeded, 1), "{:?}", p[1]);
    assert_eq!(p[1].fee_msat, Some(2_010));
    // Half the channels unknown: a view per node, drawn from the seed; the same run twice is
    // the same, and some but not all of 200 payments on a larger network find no route.
    let half = |seed: u64| {
        let text = format!(
            r#"Scenario(name: "half", seed: {seed}, views: (unknown_ppm: 500_000),
                generate: (kind: ScaleFree(links_per_node: 2), nodes: 60,
                           capacity: (min_sat: 1_000_000, max_sat: 2_000_000)),
                workload: (end_s: 100, rate_per_s: 2.0, amount: Fixed(amount_msat: 1_000_000)))"#
        );
        payments(&text).iter().map(|p| p.outcome).collect::<Vec<_>>()
    };
    let outcomes = half(4);
    assert_eq!(outcomes, half(4));
    let no_route =
        outcomes.iter().filter(|o| **o == Outcome::Failed(FailureReason::NoRoute)).count();
    assert!(no_route > 0 && no_route < outcomes.len(), "{no_route} of {}", outcomes.len());
}

/// The two-path network of `two_paths`, paid by an lnd node whose payments may make at most
/// `max_rounds` attempt rounds.
fn two_paths_with_rounds(max_rounds: u32) -> PaymentRecord {
    let text = two_paths_text("lnd", "").replace(
        r#"(name: "s", implementation: lnd)"#,
        &format!(r#"(name: "s", implementation: lnd, config: (max_rounds: {max_rounds}))"#),
    );
    payments(&text).remove(0)
}

/// Rounds, as lnd plans them here: 1, the whole over a (fails at a); 2, the whole over b (fails
/// at b); 3, a half over a and, at the same instant, the other half over a too (lnd counts its
/// own 500,000 sat in flight against a -> t's 1,200,000 sat capacity, not a's 580,000 sat
/// balance), which fails; 4, that half over b: paid. With a limit of 1 round the payer gives up
/// after the first failure; with 3 it gives up when round 4 is due (the half held at t fails
/// back with mpp_timeout); with 4 it pays on round 4, not a first try. Eclair's preset allows 5.
#[test]
fn a_payer_stops_at_its_limit_of_attempt_rounds() {
    let p = two_paths_with_rounds(1);
    assert_eq!(p.outcome, Outcome::Failed(FailureReason::AttemptLimit));
    assert_eq!((p.attempts, p.rounds), (1, 1));
    let p = two_paths_with_rounds(3);
    assert_eq!(p.outcome, Outcome::Failed(FailureReason::AttemptLimit));
    assert_eq!((p.attempts, p.rounds), (4, 3));
    assert_eq!(p.failure_code, Some(FailureCode::MPP_TIMEOUT));
    let p = two_paths_with_rounds(4);
    assert_eq!(p.outcome, Outcome::Succeeded, "{p:?}");
    assert_eq!((p.attempts, p.rounds, p.success_round(), p.first_try()), (5, 4, Some(4), false));
    let unlimited = two_paths("lnd", "");
    assert_eq!((unlimited.rounds, unlimited.success_round()), (4, Some(4)));
    assert_eq!(node_core::NodeConfig::preset(node_core::Implementation::Eclair).max_rounds, 5);
}
