//! Payments that never start — a node down, or a node refusing the command — are results too:
//! a row in payments.csv with outcome `refused` and its reason, a trace line of kind 76, and a
//! count in the summary (issue 11: they used to vanish).

use sim::results::{Outcome, Refusal};
use sim::scenario::Scenario;
use sim::trace::{Kind, TraceLevel};

#[test]
fn payments_to_and_from_a_crashed_node_are_refused_rows() {
    let text = r#"Scenario(
        name: "refusals", seed: 4,
        nodes: [(name: "a"), (name: "b"), (name: "c")],
        channels: [
            (from: "a", to: "b", capacity_sat: 2_000_000, from_balance_sat: 1_000_000),
            (from: "b", to: "c", capacity_sat: 2_000_000, from_balance_sat: 1_000_000),
        ],
        faults: [(at_ms: 1_000, fault: Crash(node: "c", duration_s: 60))],
        script: [
            Sleep(duration_ms: 2_000),
            Pay(from: "a", to: "c", amount_msat: 1_000_000),
            Pay(from: "c", to: "a", amount_msat: 1_000_000),
            Sleep(duration_ms: 100_000),
            Pay(from: "a", to: "c", amount_msat: 1_000_000),
        ],
    )"#;
    let scenario = Scenario::parse("refusals.ron", text).unwrap();
    let (out, trace) = sim::run_captured(&scenario, TraceLevel::Payments, true).unwrap();
    let p = out.results.payments();
    assert_eq!(p.len(), 3);
    assert_eq!(p[0].outcome, Outcome::Refused(Refusal::PayeeOffline), "c cannot invoice");
    assert_eq!(p[1].outcome, Outcome::Refused(Refusal::PayerOffline), "c cannot pay");
    assert_eq!((p[0].attempts, p[0].start, p[0].end), (0, p[0].start, Some(p[0].start)));
    assert_eq!(p[2].outcome, Outcome::Succeeded, "after the restart");
    let stats = &out.summary.payments;
    assert_eq!((stats.total, stats.succeeded, stats.refused), (1, 1, 2));
    let text = String::from_utf8(trace).unwrap();
    let refused: Vec<Vec<u64>> = text
        .lines()
        .filter(|l| l.split(' ').nth(1) == Some(&(Kind::PaymentRefused as u16).to_string()))
        .map(|l| l.split(' ').map(|f| f.parse().unwrap()).collect())
        .collect();
    // time kind payer payee payment amount reason
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[0][2..], [0, 2, 0, 1_000_000, Refusal::PayeeOffline.code()]);
    assert_eq!(refused[1][2..], [2, 0, 1, 1_000_000, Refusal::PayerOffline.code()]);
    let mut csv = Vec::new();
    let names = sim::results::NodeLabels::of(&scenario);
    out.results.write_csv(&names, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.lines().nth(1).unwrap().contains(",refused,,payee_offline,0,"), "{csv}");
    // The summary counts them apart from the payments started, and says why each step failed.
    let summary = out.summary.to_text();
    assert!(summary.contains("2 never started (1 payee_offline, 1 payer_offline)"), "{summary}");
    assert!(
        summary.contains("step 1: a pays c 1000000 msat (refused: payee_offline)"),
        "{summary}"
    );
    assert!(
        summary.contains("step 2: c pays a 1000000 msat (refused: payer_offline)"),
        "{summary}"
    );
}

#[test]
fn an_invoice_that_expired_on_its_way_is_refused_by_the_customer() {
    let text = r#"Scenario(
        name: "late_invoice", seed: 1,
        links: (latency: Constant(latency_ms: 1_500)),
        nodes: [(name: "shop"), (name: "buyer")],
        channels: [(from: "buyer", to: "shop", capacity_sat: 1_000_000)],
        shops: [(node: "shop", invoice_expiry_s: 1, poll_interval_ms: 10_000,
                 items: [(name: "tea", price_msat: 5_000, content: "tea")])],
        script: [Buy(customer: "buyer", shop: "shop", item: "tea")],
    )"#;
    let scenario = Scenario::parse("late_invoice.ron", text).unwrap();
    let (out, _) = sim::run_captured(&scenario, TraceLevel::Off, true).unwrap();
    let p = out.results.payments();
    assert_eq!(p.len(), 1);
    let expired = node_core::node::CommandError::InvoiceExpired;
    assert_eq!(p[0].outcome, Outcome::Refused(Refusal::Pay(expired)));
    assert_eq!(p[0].outcome.reason(), "invoice_expired");
    assert_eq!(out.summary.payments.refused, 1);
    assert!(!out.summary.all_orders_delivered());
}

#[test]
fn an_arrival_with_no_distinct_payee_is_a_refused_row() {
    // The only customer is the only shop's own node: no draw gives a distinct payee.
    let text = r#"Scenario(
        name: "own_shop", seed: 2,
        nodes: [(name: "shop"), (name: "buyer")],
        channels: [(from: "buyer", to: "shop", capacity_sat: 1_000_000)],
        shops: [(node: "shop", items: [(name: "tea", price_msat: 5_000, content: "tea")])],
        workload: (end_s: 10, rate_per_s: 1.0, max_payments: 3, amount: Fixed(amount_msat: 1),
                   senders: Nodes(["shop"]), receivers: Shops),
    )"#;
    let scenario = Scenario::parse("own_shop.ron", text).unwrap();
    let (out, _) = sim::run_captured(&scenario, TraceLevel::Off, true).unwrap();
    let p = out.results.payments();
    assert_eq!(p.len(), 3, "every arrival is a row");
    for row in p {
        assert_eq!(row.outcome, Outcome::Refused(Refusal::NoDistinctPayee));
        assert_eq!((row.sender.0, row.receiver.0, row.amount_msat), (0, 0, 5_000));
    }
    let stats = &out.summary.payments;
    assert_eq!((stats.total, stats.refused), (0, 3));
    assert_eq!(stats.refused_by_reason["no_distinct_payee"], 3);
}

#[test]
fn endpoints_can_be_limited_to_nodes_that_can_send_or_receive_an_amount() {
    // a can send to b, b to c: only a and b can send 500,000 sat; only b and c receive it.
    let text = r#"Scenario(
        name: "can_send", seed: 3,
        nodes: [(name: "a"), (name: "b"), (name: "c"), (name: "d")],
        channels: [
            (from: "a", to: "b", capacity_sat: 1_000_000),
            (from: "b", to: "c", capacity_sat: 1_000_000),
            (from: "c", to: "d", capacity_sat: 100_000, from_balance_sat: 50_000),
        ],
        workload: (end_s: 100, rate_per_s: 1.0, max_payments: 40, amount: Fixed(amount_msat: 1_000),
                   senders: CanSend(amount_sat: 500_000), receivers: CanReceive(amount_sat: 500_000)),
    )"#;
    let scenario = Scenario::parse("can_send.ron", text).unwrap();
    let (out, _) = sim::run_captured(&scenario, TraceLevel::Off, true).unwrap();
    let p = out.results.payments();
    assert_eq!(p.len(), 40);
    let (mut senders, mut receivers) =
        (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
    for row in p {
        senders.insert(row.sender.0);
        receivers.insert(row.receiver.0);
    }
    assert_eq!(senders.into_iter().collect::<Vec<_>>(), [0, 1], "a and b");
    assert_eq!(receivers.into_iter().collect::<Vec<_>>(), [1, 2], "b and c");
}
