//! Payments across several hops of live channels, through the in-process harness: channel
//! establishment, announcement and gossip, the commitment dance, fees, and failures that come back
//! with their BOLT 4 code and the index of the failing hop.

use node_core::channel::ChannelPhase;
use node_core::htlc::View;
use node_core::onion::FailureCode;
use node_core::payment::{FailureReason, PaymentStatus};
use node_core::testing::{TestNet, WALLET_SAT};
use node_core::{Event, NodeId};

/// A line 0 - 1 - 2 - 3 of announced channels opened from left to right, with gossip spread.
fn line(push_last_msat: u64) -> (TestNet, [node_core::Scid; 3]) {
    let mut net = TestNet::new(4);
    let a = net.open_channel(0, 1, 1_000_000, 0, true);
    let b = net.open_channel(1, 2, 1_000_000, 0, true);
    let c = net.open_channel(2, 3, 1_000_000, push_last_msat, true);
    net.mine(6); // announcement depth
    net.advance(180); // three gossip flushes: every node hears every channel
    let announced = net.take_events_where(|e| matches!(e, Event::ChannelAnnounced { .. }));
    assert_eq!(announced.len(), 6, "both ends of each channel announce it");
    net.discard_routine_events();
    (net, [a, b, c])
}

#[test]
fn a_payment_crosses_three_hops_and_pays_each_forwarder_its_fee() {
    let (mut net, [a, b, c]) = line(0);
    for node in &net.nodes {
        for scid in [a, b, c] {
            assert!(node.graph().channel(scid).is_some(), "{} knows {scid}", node.id());
        }
    }
    let amount_msat = 50_000_000;
    let id = net.pay(0, 3, amount_msat);
    let succeeded = net.take_events_where(|e| matches!(e, Event::PaymentSucceeded { .. }));
    assert_eq!(succeeded.len(), 1);
    let Event::PaymentSucceeded { payment_id, attempts, parts, fee_msat, .. } = &succeeded[0].1
    else {
        unreachable!()
    };
    assert_eq!(*payment_id, id);
    assert_eq!(*attempts, 1);
    assert_eq!(parts.len(), 1, "a payment that fits one route is not split");
    let route = &parts[0];
    assert_eq!(*fee_msat, route.fee_msat());
    assert_eq!(route.nodes().collect::<Vec<_>>(), vec![NodeId(1), NodeId(2), NodeId(3)]);
    // lnd defaults: 1000 msat + 1 ppm at each forwarder.
    let fee_2 = 1000 + amount_msat / 1_000_000;
    let fee_1 = 1000 + (amount_msat + fee_2) / 1_000_000;
    assert_eq!(route.fee_msat(), fee_1 + fee_2);
    // CLTV: 80 (final, lnd) + 3 margin, plus 80 per forwarder.
    let height = net.height;
    assert_eq!(route.hops[2].cltv_expiry, height + 83);
    assert_eq!(route.hops[0].cltv_expiry, height + 83 + 160);
    let paid = net.take_events_where(|e| matches!(e, Event::InvoicePaid { .. }));
    assert_eq!(
        paid,
        vec![(
            NodeId(3),
            Event::InvoicePaid {
                payment_hash: net.payment_hash(0, id),
                received_msat: amount_msat
            }
        )]
    );
    let settled = net.take_events_where(|e| matches!(e, Event::ForwardSettled { .. }));
    let fees: Vec<(NodeId, u64)> = settled
        .iter()
        .map(|(n, e)| match e {
            Event::ForwardSettled { fee_msat, .. } => (*n, *fee_msat),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(fees, vec![(NodeId(2), fee_2), (NodeId(1), fee_1)], "fulfilled back from the payee");
    net.discard_routine_events();
    net.check_channels();
    // Each hop's channel moved exactly what the hop forwarded, and nothing is in flight.
    let sent = amount_msat + fee_1 + fee_2;
    let ch = net.channel(0, a);
    assert_eq!(ch.view(View::Local).theirs_msat, sent);
    assert_eq!(ch.htlcs, 0);
    assert_eq!(net.channel(1, b).view(View::Local).theirs_msat, amount_msat + fee_2);
    assert_eq!(net.channel(3, c).view(View::Local).ours_msat, amount_msat);
    // Funds are conserved: wallets + channels + miner fees = what the coinbase created.
    let wallets: u64 = net.nodes.iter().map(|n| n.snapshot().wallet_sat).sum();
    let channels: u64 = 3 * 1_000_000;
    let chain = net.chain_total_sat();
    assert_eq!(chain, wallets + channels, "every unspent output is a wallet's or a channel's");
    assert!(chain < 4 * WALLET_SAT, "the funding transactions paid miner fees");
}

#[test]
fn a_failure_mid_route_comes_back_with_its_code_and_hop_index() {
    // Node 2 pushed almost everything to node 3: it cannot forward 50k sat onward. The payer
    // plans with the cheapest-fee baseline, which excludes the failed channel at every amount
    // (lnd's router would try halves: sim/tests/fidelity.rs).
    let (mut net, [_, _, c]) = line(985_000_000);
    let invoice = net.invoice(3, 50_000_000);
    let router = Some(node_core::router::RouterConfig::Cheapest);
    let out = net.command(0, node_core::Command::Pay { invoice, amount_msat: None, router });
    let node_core::CommandOutput::Payment(id) = out else { panic!("expected a payment: {out:?}") };
    net.deliver_all();
    let failed = net.take_events_where(|e| matches!(e, Event::PaymentAttemptFailed { .. }));
    assert_eq!(failed.len(), 1);
    let Event::PaymentAttemptFailed { failure, .. } = failed[0].1 else { unreachable!() };
    assert_eq!(failure.code, FailureCode::TEMPORARY_CHANNEL_FAILURE);
    assert_eq!(failure.failing_hop, 2, "node 2 is the third node of the path 0 1 2 3");
    assert_eq!(failure.scid, Some(c));
    let refused = net.take_events_where(|e| matches!(e, Event::HtlcRefused { .. }));
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0, NodeId(2));
    // No other route: the payment fails for good, with the last failure recorded.
    let outcome = net.take_events_where(|e| matches!(e, Event::PaymentFailed { .. }));
    assert_eq!(outcome.len(), 1);
    let Event::PaymentFailed { payment_id, reason, attempts, last_failure } = outcome[0].1 else {
        unreachable!()
    };
    assert_eq!((payment_id, reason, attempts), (id, FailureReason::NoRoute, 1));
    assert_eq!(last_failure, Some(failure));
    net.discard_routine_events();
    net.check_channels();
    assert!(net.no_htlcs_left(), "the failed HTLCs left every channel");
}

#[test]
fn an_unknown_payment_hash_is_refused_by_the_recipient() {
    let (mut net, _) = line(0);
    let mut invoice = net.invoice(3, 10_000_000);
    invoice.payment_hash = node_core::PaymentHash([9; 32]);
    net.command(0, node_core::Command::Pay { invoice, amount_msat: None, router: None });
    net.deliver_all();
    let outcome = net.take_events_where(|e| matches!(e, Event::PaymentFailed { .. }));
    let Event::PaymentFailed { reason, last_failure, .. } = outcome[0].1 else { unreachable!() };
    assert_eq!(reason, FailureReason::RecipientRejected);
    let failure = last_failure.expect("a failed attempt");
    assert_eq!(failure.code, FailureCode::INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS);
    assert_eq!(failure.failing_hop, 3);
    let failed = net.take_events_where(|e| matches!(e, Event::PaymentAttemptFailed { .. }));
    assert_eq!(
        failed,
        vec![(
            NodeId(0),
            Event::PaymentAttemptFailed {
                payment_id: node_core::payment::PaymentId(0),
                attempt: 1,
                failure
            }
        )]
    );
    let refused = net.take_events_where(|e| matches!(e, Event::HtlcRefused { .. }));
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].0, NodeId(3), "the payee refused it");
    net.discard_routine_events();
}

#[test]
fn a_cooperative_close_pays_both_wallets_and_the_miner() {
    let mut net = TestNet::new(2);
    let scid = net.open_channel(0, 1, 1_000_000, 0, false);
    net.pay_ok(0, 1, 300_000_000);
    let wallets =
        |net: &TestNet| -> Vec<u64> { net.nodes.iter().map(|n| n.snapshot().wallet_sat).collect() };
    let before = wallets(&net);
    net.command(0, node_core::Command::CloseChannel { peer: NodeId(1) });
    net.deliver_all();
    net.mine(1);
    let closed = net.take_events_where(|e| matches!(e, Event::ChannelClosed { .. }));
    assert_eq!(closed.len(), 2);
    let closing = net.take_events_where(|e| matches!(e, Event::ChannelClosing { .. }));
    assert_eq!(closing.len(), 2, "both ends sent shutdown");
    assert_eq!(net.channel(0, scid).phase, ChannelPhase::Closed);
    let after = wallets(&net);
    assert_eq!(after[1] - before[1], 300_000, "the payee's balance comes back on chain");
    let fee = 253 * node_core::chain::weight::closing_tx(2) / 1000;
    assert_eq!(after[0] - before[0], 700_000 - fee, "the opener pays the closing fee");
    assert_eq!(net.chain_total_sat(), after.iter().sum::<u64>());
}

#[test]
fn paying_the_same_invoice_twice_is_refused() {
    let mut net = TestNet::new(2);
    net.open_channel(0, 1, 1_000_000, 0, false);
    let invoice = net.invoice(1, 1_000_000);
    let pay = node_core::Command::Pay { invoice, amount_msat: None, router: None };
    let node_core::CommandOutput::Payment(id) = net.command(0, pay.clone()) else {
        unreachable!("a payment starts")
    };
    net.deliver_all();
    let err = net.nodes[0].command(net.now, pay);
    assert_eq!(err, Err(node_core::CommandError::DuplicatePayment));
    let status = &net.nodes[0].payment(id).unwrap().status;
    assert!(matches!(status, PaymentStatus::Succeeded { .. }));
    assert_eq!(net.take_events_where(|e| matches!(e, Event::PaymentSucceeded { .. })).len(), 1);
    assert_eq!(net.take_events_where(|e| matches!(e, Event::InvoicePaid { .. })).len(), 1);
    net.discard_routine_events();
}
