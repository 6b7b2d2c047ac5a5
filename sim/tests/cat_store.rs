//! The bundled cat-store scenario, asserted on its results: both purchases delivered, the second
//! routed through christian's first node for its fee, the funding mined in block 928335, and the
//! money conserved.

use sim::scenario::Scenario;
use sim::trace::TraceLevel;
use std::path::Path;

fn scenario() -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/cat_store.ron");
    Scenario::load(&path).expect("the bundled scenario is valid")
}

#[test]
fn both_cats_are_delivered_the_second_through_christian() {
    let scenario = scenario();
    let (out, _) = sim::run_captured(&scenario, TraceLevel::Off, true).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&out.summary.to_json()).unwrap();
    let orders = summary["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2);
    for order in orders {
        assert_eq!(order["status"], "delivered", "{order}");
        assert_eq!(order["price_msat"], 100_000);
        assert!(order["content"].as_str().unwrap().contains("( o.o )"), "the picture arrives");
    }
    assert_eq!(orders[0]["route"], serde_json::json!(["christian", "server"]));
    assert_eq!(orders[0]["fee_msat"], 0);
    assert_eq!(orders[1]["route"], serde_json::json!(["christian2", "christian", "server"]));
    // Core Lightning's default policy at christian: 1000 msat + 10 ppm of 100_000 msat.
    assert_eq!(orders[1]["fee_msat"], 1_001);
    // The 0.01 BTC channel's funding is mined in block 928335; the shop sees the first payment
    // in that block's time.
    let channels = summary["channels"].as_array().unwrap();
    assert_eq!(channels[0]["opener"], "christian");
    assert_eq!(channels[0]["funding_sat"], 1_000_000);
    assert_eq!(channels[0]["funding_height"], 928_335);
    assert_eq!(orders[0]["paid_seen_height"], 928_335);
    assert_eq!(channels[1]["opener"], "christian2");
    assert_eq!(channels[1]["funding_height"], 928_336);
    // christian earned the fee; the payments table agrees.
    let nodes = summary["nodes"].as_array().unwrap();
    assert_eq!(nodes[1]["name"], "christian");
    assert_eq!(nodes[1]["fees_earned_msat"], 1_001);
    let payments = out.results.payments();
    assert_eq!(payments.len(), 2);
    assert!(payments.iter().all(|p| p.outcome == sim::results::Outcome::Succeeded));
    assert_eq!(payments[1].hops(), 2);
    // Every script step succeeded and the run ended because it had nothing left to do.
    assert!(summary["steps"].as_array().unwrap().iter().all(|s| s["ok"] == true));
    assert_eq!(summary["ended_by"], "idle");
    assert!(out.summary.funds.conserved, "{:?}", out.summary.funds.violations);
    assert_eq!(out.summary.funds.in_transit_sat, 0);
}

#[test]
fn the_shop_sees_each_payment_only_after_its_node_settled_it() {
    let scenario = scenario();
    let (out, _) = sim::run_captured(&scenario, TraceLevel::Off, true).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&out.summary.to_json()).unwrap();
    for (order, payment) in summary["orders"].as_array().unwrap().iter().zip(out.results.payments())
    {
        let seen = order["paid_seen_us"].as_u64().unwrap();
        let delivered = order["delivered_us"].as_u64().unwrap();
        let requested = order["requested_us"].as_u64().unwrap();
        assert!(requested < payment.start.as_micros());
        assert!(payment.end.unwrap().as_micros() <= seen, "polled after the payment ended");
        // The delivery crosses one 50 ms link.
        assert_eq!(delivered - seen, 50_000);
    }
}
