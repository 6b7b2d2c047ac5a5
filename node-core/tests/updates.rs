//! The `channel_update` a forwarder puts in an onion error is the one it last published: same
//! timestamp, same policy, and disabled if it announced the channel disabled (its peer away).

use node_core::Event;
use node_core::gossip::ChannelUpdate;
use node_core::msg::Message;
use node_core::node::Command;
use node_core::onion::FailureCode;
use node_core::testing::TestNet;

/// Delivers everything, one message at a time, and returns the channel_update in the failure
/// node 1 sent node 0 (temporary_channel_failure: its peer 2 is away).
fn failed_back_with(net: &mut TestNet) -> ChannelUpdate {
    let mut carried = None;
    while net.deliver(1) == 1 {
        for (from, to, msg) in net.queued() {
            if let (1, 0, Message::UpdateFailHtlc(fail)) = (from.0, to.0, msg) {
                carried = Some(fail.reason.clone().unwrap_at_sender().1);
            }
        }
    }
    let failure = carried.expect("node 1 failed the HTLC back");
    assert_eq!(failure.code, FailureCode::TEMPORARY_CHANNEL_FAILURE);
    failure.channel_update.expect("with its channel_update")
}

/// Regression (issue 11): the update in an onion error left out the away-disable that the
/// published update had, so two updates with one timestamp disagreed on `disabled`.
#[test]
fn regression_onion_error_update_matches_the_published_away_disable() {
    let mut net = TestNet::new(3);
    net.open_channel(0, 1, 1_000_000, 0, true);
    let scid = net.open_channel(1, 2, 1_000_000, 0, true);
    net.mine(6);
    net.advance(180);
    net.discard_routine_events();
    // Node 2 goes away; after lnd's chan-disable-timeout node 1 announces 1-2 disabled.
    net.disconnect(1, 2);
    net.advance(u64::from(net.nodes[1].config().disable_after_offline_s) + 1);
    let published = net.nodes[1]
        .graph()
        .channel(scid)
        .and_then(|c| c.directions[usize::from(net.nodes[1].id() > net.nodes[2].id())])
        .expect("node 1 knows its own direction");
    assert!(published.disabled, "node 1 announced the channel disabled");
    // Node 0 has not heard yet (gossip is flushed a minute later) and tries the channel.
    let invoice = net.invoice(2, 10_000_000);
    net.command(0, Command::Pay { invoice, amount_msat: None, router: None });
    let update = failed_back_with(&mut net);
    assert_eq!(update.timestamp, published.timestamp);
    assert_eq!((update.disabled, update.policy), (true, published.policy));
    let failed = net.take_events_where(|e| matches!(e, Event::PaymentFailed { .. }));
    assert_eq!(failed.len(), 1, "no other route");
    assert_eq!(net.take_events_where(|e| matches!(e, Event::PaymentAttemptFailed { .. })).len(), 1);
    assert_eq!(net.take_events_where(|e| matches!(e, Event::HtlcRefused { .. })).len(), 1);
    net.discard_routine_events();
}

/// The same for a private channel, whose away-disable is not published: the onion error carries
/// the update its peer was sent, not a disabled one under the same timestamp.
#[test]
fn regression_a_private_channel_carries_its_last_update_in_onion_errors() {
    let mut net = TestNet::new(3);
    net.open_channel(0, 1, 1_000_000, 0, true);
    net.mine(6);
    net.advance(180);
    net.open_channel(1, 2, 1_000_000, 0, false);
    // Node 1 sent node 2 its update for the private channel when it became usable.
    let sent_at_s = u32::try_from(net.now.as_secs()).unwrap();
    net.discard_routine_events();
    net.disconnect(1, 2);
    net.advance(u64::from(net.nodes[1].config().disable_after_offline_s) + 1);
    // Node 2's invoice carries a route hint for the private channel; node 0 pays it.
    let invoice = net.invoice(2, 10_000_000);
    assert_eq!(invoice.route_hints.len(), 1);
    net.command(0, Command::Pay { invoice, amount_msat: None, router: None });
    let update = failed_back_with(&mut net);
    assert_eq!((update.timestamp, update.disabled), (sent_at_s, false));
    assert_eq!(net.take_events_where(|e| matches!(e, Event::PaymentFailed { .. })).len(), 1);
    assert_eq!(net.take_events_where(|e| matches!(e, Event::PaymentAttemptFailed { .. })).len(), 1);
    assert_eq!(net.take_events_where(|e| matches!(e, Event::HtlcRefused { .. })).len(), 1);
    net.discard_routine_events();
}
