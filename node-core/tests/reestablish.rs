//! Disconnections at every point of the message flow: a payment across two hops, and a
//! cooperative close, are cut after each possible number of delivered messages; after the peers
//! reconnect and re-establish their channels (BOLT 2 `channel_reestablish`), the payment still
//! succeeds, the close still completes, and every view of every channel still adds up.

use node_core::channel::ChannelPhase;
use node_core::htlc::View;
use node_core::onion::FailureCode;
use node_core::payment::PaymentStatus;
use node_core::testing::TestNet;
use node_core::{Command, CommandOutput, Event, NodeId};

/// 0 - 1 - 2 with announced channels and the gossip spread.
fn line() -> TestNet {
    let mut net = TestNet::new(3);
    net.open_channel(0, 1, 1_000_000, 500_000_000, true);
    net.open_channel(1, 2, 1_000_000, 500_000_000, true);
    net.mine(6);
    net.advance(120);
    net.discard_routine_events();
    net
}

#[test]
fn a_payment_survives_a_disconnection_at_every_step() {
    // Count the messages of an undisturbed payment first.
    let total = {
        let mut net = line();
        let before = net.delivered;
        net.pay_ok(0, 2, 20_000_000);
        net.delivered - before
    };
    assert!(total >= 15, "two hops of add, commitment dance and fulfil: {total}");
    let mut failures = 0;
    for cut in 0..total {
        for (a, b) in [(0, 1), (1, 2)] {
            let mut net = line();
            let invoice = net.invoice(2, 20_000_000);
            // The baseline router gives up after one failed attempt on this line (lnd's would
            // try halves), so each cut's ending is one attempt.
            let router = Some(node_core::router::RouterConfig::Cheapest);
            let pay = Command::Pay { invoice, amount_msat: None, router };
            let CommandOutput::Payment(id) = net.command(0, pay) else { unreachable!() };
            net.deliver(cut);
            net.disconnect(a, b);
            net.deliver_all();
            net.reconnect(a, b);
            net.check_channels();
            // A cut that drops the HTLC before it is committed on a hop fails the attempt (there
            // is no other route); any later cut only delays
            // the payment. Either way it ends.
            let payment = net.nodes[0].payment(id).unwrap();
            let succeeded = matches!(payment.status, PaymentStatus::Succeeded { .. });
            match &payment.status {
                PaymentStatus::Succeeded { .. } => {}
                PaymentStatus::Failed { .. } => {
                    // A dropped add fails with temporary_channel_failure; a forward asked of a
                    // node whose next peer is away fails with lnd's unknown_next_peer.
                    let code = payment.last_failure.map(|f| f.code);
                    assert!(
                        matches!(
                            code,
                            Some(
                                FailureCode::TEMPORARY_CHANNEL_FAILURE
                                    | FailureCode::UNKNOWN_NEXT_PEER
                            )
                        ),
                        "cut {cut} on {a}-{b}: {code:?}"
                    );
                    failures += 1;
                }
                PaymentStatus::InFlight => panic!("cut {cut} on {a}-{b}: still in flight"),
            }
            for node in &net.nodes {
                for c in node.channel_snapshots() {
                    assert_eq!(c.htlcs, 0, "cut {cut} on {a}-{b}: HTLC left on {}", c.id);
                    assert_eq!(c.phase, ChannelPhase::Normal);
                    assert_eq!(c.view(View::Local), c.view(View::Remote));
                }
            }
            // Each ending was reported once: the payment's, the payee's invoice if paid, and
            // every failed attempt with the hop that refused or dropped it.
            let ended = net.take_events_where(|e| {
                matches!(e, Event::PaymentSucceeded { .. } | Event::PaymentFailed { .. })
            });
            assert_eq!(ended.len(), 1, "cut {cut} on {a}-{b}: {ended:?}");
            let paid = net.take_events_where(|e| matches!(e, Event::InvoicePaid { .. }));
            assert_eq!(paid.len(), usize::from(succeeded), "cut {cut} on {a}-{b}");
            let attempts =
                net.take_events_where(|e| matches!(e, Event::PaymentAttemptFailed { .. }));
            assert_eq!(attempts.len(), usize::from(!succeeded), "cut {cut} on {a}-{b}");
            net.take_events_where(|e| matches!(e, Event::HtlcRefused { .. }));
            net.discard_routine_events();
        }
    }
    // Only cuts before each hop's HTLC is committed fail; most cuts only delay the payment.
    assert!(failures < total, "{failures} of {} cuts failed", 2 * total);
}

#[test]
fn a_cooperative_close_survives_a_disconnection_at_every_step() {
    let total = {
        let mut net = line();
        let before = net.delivered;
        net.command(0, Command::CloseChannel { peer: NodeId(1) });
        net.deliver_all();
        let closing = net.take_events_where(|e| matches!(e, Event::ChannelClosing { .. }));
        assert_eq!(closing.len(), 2, "both ends sent shutdown");
        net.delivered - before
    };
    for cut in 0..=total {
        let mut net = line();
        net.command(0, Command::CloseChannel { peer: NodeId(1) });
        net.deliver(cut);
        net.disconnect(0, 1);
        net.reconnect(0, 1);
        net.mine(1);
        let closed = net.take_events_where(|e| matches!(e, Event::ChannelClosed { .. }));
        assert_eq!(closed.len(), 2, "cut {cut}: both ends see the close");
        for (_, e) in &closed {
            assert!(
                matches!(
                    e,
                    Event::ChannelClosed { reason: node_core::event::CloseReason::Mutual, .. }
                ),
                "{e:?}"
            );
        }
        let closing = net.take_events_where(|e| matches!(e, Event::ChannelClosing { .. }));
        assert_eq!(closing.len(), 2, "cut {cut}: both ends sent shutdown once");
        net.discard_routine_events();
    }
}
