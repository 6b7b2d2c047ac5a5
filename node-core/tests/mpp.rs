//! Multi-part payments through the in-process harness: a payment no single route can carry is
//! split, each part carries the total and the payment secret, the payee holds the parts until
//! they add up and then settles them all; parts that do not all arrive are failed with
//! `mpp_timeout` once the payee's wait runs out.

use node_core::node::Command;
use node_core::onion::FailureCode;
use node_core::payment::FailureReason;
use node_core::policy::PolicyChange;
use node_core::router::RouterConfig;
use node_core::router::mcf::McfParams;
use node_core::testing::TestNet;
use node_core::{Event, NodeConfig, NodeId};

/// A diamond 0 - 1 - 3 and 0 - 2 - 3 of announced 1,000,000 sat channels opened from the left,
/// gossip spread; the payee 3 holds parts for 60 s and the payer splits parts down to
/// `min_part_msat`. Nodes sign at once (the harness delivers messages, not timers).
fn diamond(min_part_msat: u64) -> TestNet {
    let mut config = NodeConfig::default();
    config.channel.minimum_depth = 1;
    config.commit_batch_ms = 0;
    config.mpp_timeout_s = 60;
    config.min_part_msat = min_part_msat;
    let mut net = TestNet::with_configs(vec![config; 4]);
    net.open_channel(0, 1, 1_000_000, 0, true);
    net.open_channel(0, 2, 1_000_000, 0, true);
    net.open_channel(1, 3, 1_000_000, 0, true);
    net.open_channel(2, 3, 1_000_000, 0, true);
    net.mine(6);
    net.advance(180);
    net.discard_routine_events();
    net
}

fn pay(net: &mut TestNet, amount_msat: u64, router: Option<RouterConfig>) {
    let invoice = net.invoice(3, amount_msat);
    net.command(0, Command::Pay { invoice, amount_msat: None, router });
    net.deliver_all();
}

#[test]
fn a_payment_no_route_can_carry_whole_is_split_and_settled_in_parts() {
    let mut net = diamond(10_000_000);
    let amount_msat = 1_500_000_000; // more than any one channel can send
    pay(&mut net, amount_msat, None);
    // The cheapest-fee router finds no route for the whole, then halves: 750,000 sat each way.
    let attempts = net.take_events_where(|e| matches!(e, Event::PaymentAttempted { .. }));
    let sent: Vec<u64> = attempts
        .iter()
        .map(|(_, e)| match e {
            Event::PaymentAttempted { route, .. } => route.delivered_msat(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(sent, vec![750_000_000, 750_000_000]);
    let held = net.take_events_where(|e| matches!(e, Event::PartHeld { .. }));
    assert_eq!(held.len(), 1, "the first part waits for the second");
    let Event::PartHeld { held_msat, total_msat, .. } = held[0].1 else { unreachable!() };
    assert_eq!((held_msat, total_msat), (750_000_000, amount_msat));
    let paid = net.take_events_where(|e| matches!(e, Event::InvoicePaid { .. }));
    let Event::InvoicePaid { received_msat, .. } = paid[0].1 else { unreachable!() };
    assert_eq!(received_msat, amount_msat);
    let settled = net.take_events_where(|e| matches!(e, Event::PaymentPartSettled { .. }));
    assert_eq!(settled.len(), 2, "each part has its own outcome");
    let done = net.take_events_where(|e| matches!(e, Event::PaymentSucceeded { .. }));
    assert_eq!(done.len(), 1);
    let Event::PaymentSucceeded { attempts, ref parts, fee_msat, .. } = done[0].1 else {
        unreachable!()
    };
    assert_eq!((attempts, parts.len()), (2, 2));
    let via: Vec<NodeId> = parts.iter().map(|r| r.hops[0].node_id).collect();
    assert_eq!(via, vec![NodeId(1), NodeId(2)]);
    // lnd's default policy on each forwarder: 1000 msat + 1 ppm of 750,000 sat.
    assert_eq!(fee_msat, 2 * (1_000 + 750));
    net.discard_routine_events();
    net.check_channels();
    assert!(net.no_htlcs_left(), "every part was settled");
}

#[test]
fn the_min_cost_flow_router_splits_by_itself() {
    let mut net = diamond(10_000_000);
    pay(&mut net, 1_500_000_000, Some(RouterConfig::MinCostFlow(McfParams::default())));
    let started = net.take_events_where(|e| matches!(e, Event::PaymentStarted { .. }));
    let Event::PaymentStarted { router, .. } = started[0].1 else { unreachable!() };
    assert_eq!(router.name(), "min_cost_flow");
    let done = net.take_events_where(|e| matches!(e, Event::PaymentSucceeded { .. }));
    let Event::PaymentSucceeded { attempts, ref parts, .. } = done[0].1 else { unreachable!() };
    assert_eq!(attempts, 2, "one plan, two parts, no failed attempt");
    let delivered: u64 = parts.iter().map(|r| r.delivered_msat()).sum();
    assert_eq!(delivered, 1_500_000_000);
    assert!(net.take_events_where(|e| matches!(e, Event::PaymentAttemptFailed { .. })).is_empty());
    let paid = net.take_events_where(|e| matches!(e, Event::InvoicePaid { .. }));
    assert_eq!(
        paid,
        vec![(
            NodeId(3),
            Event::InvoicePaid {
                payment_hash: net.payment_hash(0, node_core::payment::PaymentId(0)),
                received_msat: 1_500_000_000
            }
        )]
    );
    net.discard_routine_events();
    net.check_channels();
}

#[test]
fn parts_that_do_not_all_arrive_are_failed_with_mpp_timeout() {
    // Parts of at least 500,000 sat: once 750,000 sat are on their way via 1, the rest cannot
    // go that way.
    let mut net = diamond(500_000_000);
    // Node 2 disables its channel to the payee; nobody has heard yet.
    net.command(
        2,
        Command::SetPolicy {
            peer: Some(NodeId(3)),
            change: PolicyChange { disabled: Some(true), ..PolicyChange::default() },
        },
    );
    pay(&mut net, 1_500_000_000, None);
    // The part via 1 waits at the payee; the part via 2 comes back channel_disabled, and the
    // rest has no other way: the payer sends nothing more and waits for the part in flight.
    assert_eq!(net.take_events_where(|e| matches!(e, Event::PartHeld { .. })).len(), 1);
    let failed = net.take_events_where(|e| matches!(e, Event::PaymentAttemptFailed { .. }));
    assert_eq!(failed.len(), 1);
    let Event::PaymentAttemptFailed { failure, .. } = failed[0].1 else { unreachable!() };
    assert_eq!((failure.failing_hop, failure.code), (1, FailureCode::CHANNEL_DISABLED));
    assert!(net.take_events_where(|e| matches!(e, Event::PaymentFailed { .. })).is_empty());
    // Nothing happens for 59 s; a second later the payee gives the held part back.
    net.advance(59);
    assert!(net.take_events_where(|e| matches!(e, Event::PartsTimedOut { .. })).is_empty());
    net.advance(1);
    let timed_out = net.take_events_where(|e| matches!(e, Event::PartsTimedOut { .. }));
    assert_eq!(timed_out.len(), 1);
    let Event::PartsTimedOut { parts, held_msat, .. } = timed_out[0].1 else { unreachable!() };
    assert_eq!((parts, held_msat), (1, 750_000_000));
    let failed = net.take_events_where(|e| matches!(e, Event::PaymentAttemptFailed { .. }));
    let Event::PaymentAttemptFailed { failure, .. } = failed[0].1 else { unreachable!() };
    assert_eq!((failure.failing_hop, failure.code), (2, FailureCode::MPP_TIMEOUT));
    let outcome = net.take_events_where(|e| matches!(e, Event::PaymentFailed { .. }));
    let Event::PaymentFailed { reason, attempts, .. } = outcome[0].1 else { unreachable!() };
    assert_eq!((reason, attempts), (FailureReason::NoRoute, 2));
    assert!(net.take_events_where(|e| matches!(e, Event::InvoicePaid { .. })).is_empty());
    let refused = net.take_events_where(|e| matches!(e, Event::HtlcRefused { .. }));
    assert_eq!(refused.len(), 1, "node 2 refused the part over its disabled channel");
    assert_eq!(refused[0].0, NodeId(2));
    net.discard_routine_events();
    net.check_channels();
    assert!(net.no_htlcs_left(), "every part was failed back");
}

#[test]
fn a_keysend_is_never_split() {
    let mut net = diamond(10_000_000);
    net.command(
        0,
        Command::Keysend { destination: NodeId(3), amount_msat: 1_500_000_000, router: None },
    );
    net.deliver_all();
    let outcome = net.take_events_where(|e| matches!(e, Event::PaymentFailed { .. }));
    let Event::PaymentFailed { reason, attempts, .. } = outcome[0].1 else { unreachable!() };
    assert_eq!((reason, attempts), (FailureReason::NoRoute, 0));
    net.discard_routine_events();
}
