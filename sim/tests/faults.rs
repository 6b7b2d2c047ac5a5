//! Each fault kind, run through the bundled fault scenarios with the invariants checked after
//! every event: payments in flight end succeeded, failed with a code, or settled on chain, and no
//! money is lost.

use node_core::chain::TxKind;
use node_core::channel::ChannelPhase;
use node_core::onion::FailureCode;
use node_core::payment::FailureReason;
use sim::results::Outcome;
use sim::scenario::Scenario;
use sim::trace::{Kind, TraceLevel};
use std::path::Path;

fn run(name: &str) -> (Scenario, sim::RunOutput, Vec<Vec<u64>>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../scenarios/{name}.ron"));
    let scenario = Scenario::load(&path).unwrap();
    let (out, trace) = sim::run_captured(&scenario, TraceLevel::Full, true).unwrap();
    assert!(out.summary.funds.conserved, "{:?}", out.summary.funds.violations);
    assert_eq!(out.summary.payments.pending, 0, "every payment ends");
    let lines = String::from_utf8(trace)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(' ').map(|f| f.parse().unwrap()).collect())
        .collect();
    (scenario, out, lines)
}

/// The event lines of `kind`.
fn of_kind(lines: &[Vec<u64>], kind: Kind) -> Vec<&Vec<u64>> {
    lines.iter().filter(|l| l[1] == kind as u64).collect()
}

#[test]
fn a_force_close_settles_in_flight_htlcs_on_chain_by_preimage_and_by_timeout() {
    let (scenario, out, lines) = run("force_close");
    let id = |name: &str| u64::from(scenario.node_id(name).unwrap().0);
    let p = out.results.payments();
    // a -> c: b force-closed with the HTLC in its commitment; c fulfilled off chain anyway.
    assert_eq!(p[0].outcome, Outcome::Succeeded);
    // c claimed the HTLC output of b's commitment with the preimage (an HTLC-success claim).
    let claims = of_kind(&lines, Kind::OnChainClaimed);
    assert!(claims.iter().any(|l| l[2] == id("c") && l[4] == 1 && l[5] == 50_000), "{claims:?}");
    let confirmed_kinds: Vec<u64> =
        of_kind(&lines, Kind::TxConfirmed).iter().map(|l| l[4]).collect();
    let code = |kind: TxKind| u64::from(kind.code());
    assert!(confirmed_kinds.contains(&code(TxKind::HtlcSuccess)), "an HTLC-success tx confirmed");
    assert!(confirmed_kinds.contains(&code(TxKind::HtlcTimeout)), "an HTLC-timeout tx confirmed");
    assert!(confirmed_kinds.contains(&code(TxKind::Sweep)), "delayed outputs were swept");
    // a -> d: d crashed; b timed the HTLC out on chain and failed it back to a, who gave up.
    assert_eq!(p[1].outcome, Outcome::Failed(FailureReason::Timeout));
    assert_eq!(p[1].failure_code, Some(FailureCode::PERMANENT_CHANNEL_FAILURE));
    let failed = of_kind(&lines, Kind::PaymentAttemptFailed);
    let last = failed.last().unwrap();
    assert_eq!((last[5], last[6]), (1, u64::from(FailureCode::PERMANENT_CHANNEL_FAILURE.0)));
    // b went on chain 2 blocks after the outgoing expiry, well before a's incoming HTLC expired:
    // a's channel with b stayed open, and a lost nothing but the first payment and its fee.
    let a = &out_node(&scenario, &out, "a");
    assert_eq!(a.0, ChannelPhase::Normal);
    assert_eq!(a.1, 1_500_000_000 - 50_000_000 - 1_050);
}

/// The phase and our local balance of a node's first channel.
fn out_node(scenario: &Scenario, out: &sim::RunOutput, name: &str) -> (ChannelPhase, u64) {
    let summary: serde_json::Value = serde_json::from_str(&out.summary.to_json()).unwrap();
    let node = &summary["nodes"][scenario.node_id(name).unwrap().index()];
    let phase = if node["channels"] == 1 { ChannelPhase::Normal } else { ChannelPhase::Closed };
    (phase, node["channel_balance_msat"].as_u64().unwrap())
}

#[test]
fn a_crashed_forwarder_reestablishes_its_channels_and_completes_the_payment() {
    let (scenario, out, lines) = run("cat_store_crash");
    let christian = u64::from(scenario.node_id("christian").unwrap().0);
    assert!(out.summary.all_orders_delivered());
    let p = &out.results.payments()[1];
    assert_eq!(p.outcome, Outcome::Succeeded);
    assert!(p.latency_us().unwrap() > 120_000_000, "it waited for the restart");
    let down = of_kind(&lines, Kind::NodeDown);
    assert_eq!(down, vec![&vec![1_200_400_000, Kind::NodeDown as u64, christian]]);
    // Its peers kept trying to reconnect while it was down, and failed.
    assert!(of_kind(&lines, Kind::ConnectFailed).len() >= 2);
    // After the restart every channel was re-established; the shop retransmitted what christian
    // missed (its revocation and commitment).
    let reestablished = of_kind(&lines, Kind::ChannelReestablished);
    assert_eq!(reestablished.len(), 4, "two channels, both ends");
    assert!(reestablished.iter().any(|l| l[2] == 0 && l[3] == christian && l[5] == 2));
    // Messages in flight at the crash were lost, and no channel closed.
    assert!(!of_kind(&lines, Kind::MessageLost).is_empty());
    assert!(of_kind(&lines, Kind::ChannelClosed).is_empty());
}

#[test]
fn a_partition_fails_payments_until_it_heals_and_the_peers_reconnect() {
    let (_, out, lines) = run("partition");
    let p = out.results.payments();
    assert_eq!(p[0].outcome, Outcome::Succeeded);
    // During the partition b cannot reach c: b, an lnd node, answers unknown_next_peer (hop 1).
    assert_eq!(p[1].outcome, Outcome::Failed(FailureReason::NoRoute));
    assert_eq!(p[1].failure_code, Some(FailureCode::UNKNOWN_NEXT_PEER));
    let first_failure = of_kind(&lines, Kind::PaymentAttemptFailed)[0];
    assert_eq!(first_failure[5], 1);
    // lnd's mission control (a's router) still holds b -> c's failure at 200 s: no route.
    assert_eq!(p[2].outcome, Outcome::Failed(FailureReason::NoRoute));
    assert_eq!(p[2].attempts, 0);
    // b and c reconnected after the partition healed (at 140 s), and payments flow again.
    let b_c_up: Vec<u64> = of_kind(&lines, Kind::LinkUp)
        .iter()
        .filter(|l| (l[2], l[3]) == (1, 2) || (l[2], l[3]) == (2, 1))
        .map(|l| l[0])
        .collect();
    assert!(b_c_up.iter().any(|&t| t > 140_000_000 && t < 300_000_000), "{b_c_up:?}");
    assert_eq!(p[3].outcome, Outcome::Succeeded);
}

#[test]
fn a_latency_spike_slows_payments_while_it_lasts() {
    let (_, out, _) = run("partition");
    let p = out.results.payments();
    assert_eq!((p[0].outcome, p[3].outcome), (Outcome::Succeeded, Outcome::Succeeded));
    let normal = p[0].latency_us().unwrap();
    let spiked = p[3].latency_us().unwrap();
    // Each message between a and b takes 2 s more; a payment crosses that link several times.
    assert!(spiked > normal + 6_000_000, "{normal} vs {spiked}");
}

#[test]
fn policy_changes_apply_at_once_and_spread_by_gossip() {
    let (_, out, lines) = run("partition");
    let p = out.results.payments();
    // The fee rise: a's first attempt pays the old fee and fails with fee_insufficient; the
    // update it carries lets the second attempt pay b's new 5000 msat base fee.
    assert_eq!(p[4].outcome, Outcome::Succeeded);
    assert_eq!(p[4].attempts, 2);
    assert_eq!(p[4].fee_msat, Some(5_000 + 10 + 1_000 + 10));
    let fee_failure = of_kind(&lines, Kind::PaymentAttemptFailed)
        .into_iter()
        .find(|l| l[6] == u64::from(FailureCode::FEE_INSUFFICIENT.0));
    assert_eq!(fee_failure.map(|l| l[5]), Some(1), "reported by b, hop 1");
    // Disabled: channel_disabled; enabled again: payments pass.
    assert_eq!(p[5].failure_code, Some(FailureCode::CHANNEL_DISABLED));
    assert_eq!(p[6].outcome, Outcome::Succeeded);
}

#[test]
fn random_faults_on_fifty_nodes_keep_every_invariant() {
    let (scenario, out, lines) = run("random_faults");
    assert_eq!(scenario.nodes.len(), 50);
    let stats = &out.summary.payments;
    assert!(stats.total > 500, "{stats:?}");
    assert!(stats.succeeded > stats.total / 2, "{stats:?}");
    // Every fault kind was drawn.
    let kinds: std::collections::BTreeSet<u64> =
        of_kind(&lines, Kind::FaultStarted).iter().map(|l| l[3]).collect();
    assert_eq!(kinds, [1, 2, 3, 4].into_iter().collect());
    // Some payments were resolved on chain or failed by the faults, none is left pending.
    assert_eq!(stats.pending, 0);
    assert!(out.results.payments().iter().all(|p| p.end.is_some()));
}

#[test]
fn others_stop_routing_through_a_closed_channel_once_the_gossip_reaches_them() {
    let text = r#"Scenario(
        name: "gossip_disable",
        seed: 3,
        nodes: [(name: "a"), (name: "b"), (name: "c"), (name: "d")],
        channels: [
            (from: "a", to: "b", capacity_sat: 2_000_000, from_balance_sat: 1_000_000),
            (from: "b", to: "c", capacity_sat: 2_000_000, from_balance_sat: 1_000_000),
            (from: "c", to: "d", capacity_sat: 2_000_000, from_balance_sat: 1_000_000),
        ],
        faults: [(at_ms: 10_000, fault: ForceClose(node: "b", peer: "c"))],
        script: [
            Sleep(duration_ms: 10_500),
            Pay(from: "a", to: "d", amount_msat: 1_000_000),
            Sleep(duration_ms: 200_000),
            Pay(from: "a", to: "d", amount_msat: 1_000_000),
        ],
    )"#;
    let scenario = Scenario::parse("gossip_disable.ron", text).unwrap();
    let (out, _) = sim::run_captured(&scenario, TraceLevel::Off, true).unwrap();
    let p = out.results.payments();
    // Before the disabling channel_update reaches a (b relays it at its next gossip tick), a
    // still routes through b-c and b refuses: the channel is closing.
    assert_eq!(p[0].attempts, 1);
    assert_eq!(p[0].failure_code, Some(FailureCode::CHANNEL_DISABLED));
    // After it has heard, a finds no route at all and makes no attempt.
    assert_eq!(p[1].outcome, Outcome::Failed(FailureReason::NoRoute));
    assert_eq!(p[1].attempts, 0);
    assert!(out.summary.funds.conserved);
}

/// Regression (issue 12): random faults were drawn up front to `end_s`, so a high rate with a
/// far end ran out of memory before the run (which stops much earlier) began.
#[test]
fn regression_random_faults_are_drawn_as_the_run_goes() {
    let text = r#"Scenario(
        name: "many_crashes",
        nodes: [(name: "a"), (name: "b")],
        channels: [(from: "a", to: "b", capacity_sat: 1_000_000)],
        random_faults: (end_s: 315_360_000, crashes_per_node_day: 100_000.0),
        stop: (max_duration_s: 60),
    )"#;
    let scenario = Scenario::parse("many_crashes.ron", text).unwrap();
    let (out, trace) = sim::run_captured(&scenario, TraceLevel::Full, false).unwrap();
    let text = String::from_utf8(trace).unwrap();
    let started = text
        .lines()
        .filter(|l| l.split(' ').nth(1) == Some(&(Kind::FaultStarted as u16).to_string()));
    // 100,000 a day on each of two nodes for a minute: about 139.
    let n = started.count();
    assert!((100..180).contains(&n), "{n}");
    assert!(out.summary.funds.conserved);
}

/// Issue 14: a fault may name its node by rank (`Largest(k)`, known once the network is built)
/// and a force close may take every peer (`peer: All`). In a star of 6 the hub n0 has the most
/// capacity; n1..n5 tie and rank by id.
#[test]
fn faults_strike_nodes_by_rank_and_every_peer_at_once() {
    let text = r#"Scenario(
        name: "rank", seed: 1,
        generate: (kind: Star, nodes: 6, capacity: (min_sat: 1_000_000, max_sat: 1_000_000)),
        faults: [(at_ms: 1_000, fault: ForceClose(node: Largest(1), peer: All)),
                 (at_ms: 2_000, fault: Crash(node: Largest(3), duration_s: 60))],
    )"#;
    let scenario = Scenario::parse("rank.ron", text).unwrap();
    let (out, trace) = sim::run_captured(&scenario, TraceLevel::Full, true).unwrap();
    assert!(out.summary.funds.conserved, "{:?}", out.summary.funds.violations);
    let lines: Vec<Vec<u64>> = String::from_utf8(trace)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(' ').map(|f| f.parse().unwrap()).collect())
        .collect();
    // Every channel of the hub was force-closed by the hub (node 0), one per peer.
    let closed = of_kind(&lines, Kind::ChannelForceClosed);
    let by_hub: std::collections::BTreeSet<u64> =
        closed.iter().filter(|l| l[2] == 0).map(|l| l[3]).collect();
    assert_eq!(by_hub.into_iter().collect::<Vec<_>>(), [1, 2, 3, 4, 5], "{closed:?}");
    // The third largest is n2 (n1..n5 tie below the hub; the lower id first).
    let down = of_kind(&lines, Kind::NodeDown);
    assert_eq!(down.len(), 1);
    assert_eq!((down[0][0], down[0][2]), (2_000_000, 2));
}

#[test]
fn ranks_out_of_range_and_all_where_no_peer_is_meant_are_refused_in_place() {
    let text = |fault: &str| {
        format!(
            r#"Scenario(name: "rank", seed: 1,
    generate: (kind: Star, nodes: 6, capacity: (min_sat: 1_000_000, max_sat: 1_000_000)),
    faults: [(at_ms: 1_000, fault: {fault})])"#
        )
    };
    let err =
        Scenario::parse("r.ron", &text("Crash(node: Largest(7), duration_s: 1)")).unwrap_err();
    assert_eq!(err.to_string(), "r.ron:3:48: Largest(7): k must be 1 to 6, the node count");
    let err = Scenario::parse("r.ron", &text("Crash(node: All, duration_s: 1)")).unwrap_err();
    assert_eq!(err.to_string(), "r.ron:3:48: All names every peer of a ForceClose only");
}
