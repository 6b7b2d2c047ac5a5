//! The `channel_update` a forwarder puts in an onion error is the one it last published: same
//! timestamp, same policy, and disabled if it announced the channel disabled (its peer away).

use node_core::Event;
use node_core::config::{Implementation, NodeConfig, OfflinePeerFailure};
use node_core::gossip::ChannelUpdate;
use node_core::msg::Message;
use node_core::node::Command;
use node_core::onion::FailureCode;
use node_core::testing::TestNet;

/// Three lnd nodes as `TestNet::new` makes them, but node 1 answers for an offline next peer
/// as `offline`.
fn net_with_forwarder(offline: OfflinePeerFailure) -> TestNet {
    let mut lnd = NodeConfig::default();
    lnd.channel.minimum_depth = 1;
    lnd.commit_batch_ms = 0;
    let forwarder = NodeConfig { offline_peer_failure: offline, ..lnd };
    TestNet::with_configs(vec![lnd, forwarder, lnd])
}

/// Delivers everything, one message at a time, and returns the failure node 1 sent node 0.
fn failure_from_1(net: &mut TestNet) -> node_core::onion::Failure {
    let mut carried = None;
    while net.deliver(1) == 1 {
        for (from, to, msg) in net.queued() {
            if let (1, 0, Message::UpdateFailHtlc(fail)) = (from.0, to.0, msg) {
                carried = Some(fail.reason.clone().unwrap_at_sender().1);
            }
        }
    }
    carried.expect("node 1 failed the HTLC back")
}

/// The channel_update in the failure node 1 sent node 0 (temporary_channel_failure: its peer 2
/// is away).
fn failed_back_with(net: &mut TestNet) -> ChannelUpdate {
    let failure = failure_from_1(net);
    assert_eq!(failure.code, FailureCode::TEMPORARY_CHANNEL_FAILURE);
    failure.channel_update.expect("with its channel_update")
}

/// Regression (issue 11): the update in an onion error left out the away-disable that the
/// published update had, so two updates with one timestamp disagreed on `disabled`.
#[test]
fn regression_onion_error_update_matches_the_published_away_disable() {
    let mut net = net_with_forwarder(OfflinePeerFailure::TemporaryChannelFailure);
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
    let mut net = net_with_forwarder(OfflinePeerFailure::TemporaryChannelFailure);
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

/// Node 1's peer 2 is away `away_s` seconds (lnd announces the channel disabled after 1,200):
/// the failure node 1 answers node 0's payment with, forwarding as `implementation` does.
fn offline_answer(implementation: Implementation, away_s: u64) -> node_core::onion::Failure {
    let mut net = net_with_forwarder(NodeConfig::preset(implementation).offline_peer_failure);
    net.open_channel(0, 1, 1_000_000, 0, true);
    net.open_channel(1, 2, 1_000_000, 0, true);
    net.mine(6);
    net.advance(180);
    net.discard_routine_events();
    net.disconnect(1, 2);
    net.advance(away_s);
    let invoice = net.invoice(2, 10_000_000);
    net.command(0, Command::Pay { invoice, amount_msat: None, router: None });
    let failure = failure_from_1(&mut net);
    net.take_events_where(|_| true);
    failure
}

/// Each implementation's answer for an offline next peer: lnd finds no link (unknown_next_peer,
/// no update); Core Lightning and Eclair temporary_channel_failure; LDK the same until it
/// announced the channel disabled, channel_disabled after.
#[test]
fn an_offline_next_peer_is_answered_as_each_implementation_does() {
    let lnd = offline_answer(Implementation::Lnd, 10);
    assert_eq!((lnd.code, lnd.channel_update), (FailureCode::UNKNOWN_NEXT_PEER, None));
    for implementation in [Implementation::Cln, Implementation::Eclair] {
        let f = offline_answer(implementation, 10);
        assert_eq!(f.code, FailureCode::TEMPORARY_CHANNEL_FAILURE, "{implementation:?}");
        assert!(f.channel_update.is_some());
    }
    let early = offline_answer(Implementation::Ldk, 10);
    assert_eq!(early.code, FailureCode::TEMPORARY_CHANNEL_FAILURE);
    let late = offline_answer(Implementation::Ldk, 1_201);
    assert_eq!(late.code, FailureCode::CHANNEL_DISABLED);
    assert!(late.channel_update.is_some_and(|u| u.disabled));
}

/// Anchors are a feature both ends must support (BOLT 9): lnd, Core Lightning and Eclair offer
/// them, LDK 0.1 does not, so an lnd node opens an anchor channel to lnd and a plain one to LDK.
#[test]
fn a_channel_has_anchors_only_if_both_ends_support_them() {
    let mut lnd = NodeConfig::default();
    lnd.channel.minimum_depth = 1;
    lnd.commit_batch_ms = 0;
    let ldk = NodeConfig {
        channel: node_core::config::ChannelConfig {
            minimum_depth: 1,
            ..NodeConfig::preset(Implementation::Ldk).channel
        },
        commit_batch_ms: 0,
        ..NodeConfig::preset(Implementation::Ldk)
    };
    assert!(lnd.channel.anchors && !ldk.channel.anchors);
    let mut net = TestNet::with_configs(vec![lnd, lnd, ldk]);
    let with_lnd = net.open_channel(0, 1, 1_000_000, 0, true);
    let with_ldk = net.open_channel(0, 2, 1_000_000, 0, true);
    assert!(net.channel(0, with_lnd).anchors && net.channel(1, with_lnd).anchors);
    assert!(!net.channel(0, with_ldk).anchors && !net.channel(2, with_ldk).anchors);
    net.discard_routine_events();
}

/// Node 1's channel with node 2, as node 1 announces it: disabled or not.
fn announced_disabled(net: &TestNet, scid: node_core::Scid) -> bool {
    let direction = usize::from(net.nodes[1].id() > net.nodes[2].id());
    let channel = net.nodes[1].graph().channel(scid).expect("node 1 knows its channel");
    channel.directions[direction].expect("with its own update").disabled
}

/// A peer away past the disable timeout, then back: lnd announces the channel enabled again only
/// after `chan-enable-timeout` (19 min); Core Lightning at once.
#[test]
fn a_channel_is_enabled_again_when_each_implementation_does() {
    for (enable_after_s, implementation) in [(1_140, "lnd"), (0, "cln")] {
        let mut config = NodeConfig::default();
        config.channel.minimum_depth = 1;
        config.commit_batch_ms = 0;
        config.enable_after_reconnect_s = enable_after_s;
        let mut net = TestNet::with_configs(vec![config; 3]);
        net.open_channel(0, 1, 1_000_000, 0, true);
        let scid = net.open_channel(1, 2, 1_000_000, 0, true);
        net.mine(6);
        net.advance(180);
        net.disconnect(1, 2);
        net.advance(u64::from(config.disable_after_offline_s) + 1);
        assert!(announced_disabled(&net, scid), "{implementation}: disabled while away");
        net.reconnect(1, 2);
        net.advance(1_000);
        assert_eq!(announced_disabled(&net, scid), enable_after_s > 1_000, "{implementation}");
        net.advance(200);
        assert!(!announced_disabled(&net, scid), "{implementation}: enabled 1,200 s after");
        net.take_events_where(|_| true);
    }
}
