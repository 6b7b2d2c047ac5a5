//! The channel state machine on its own: establishment, the commitment dance view by view,
//! crossing updates, limits, and refusals of what breaks BOLT 2.

use super::*;
use crate::chain::Tx;
use crate::chain::{OutPoint, Script, TxKind, TxOut};
use crate::config::NodeConfig;
use crate::htlc::{HtlcState, View};
use crate::ids::Txid;
use crate::ids::{ChannelId, NodeId, Preimage, Scid};
use crate::msg::UpdateFulfillHtlc;
use crate::onion::{ErrorPacket, Onion};
use crate::onion::{Failure, FailureCode, HopPayload};

const A: NodeId = NodeId(0);
const B: NodeId = NodeId(1);

fn config() -> NodeConfig {
    NodeConfig::default()
}

/// The side of `me` of a normal 1_000_000 sat channel, with `ours_msat` on its side.
fn genesis(peer: NodeId, we_opened: bool, ours_msat: u64) -> GenesisChannel {
    GenesisChannel {
        peer,
        we_opened,
        funding: OutPoint { txid: Txid([3; 32]), vout: 0 },
        scid: Scid::new(100, 1, 0),
        funding_sat: 1_000_000,
        ours_msat,
        announce: true,
        policy: config().policy,
        disabled: false,
        peer_policy: Some(config().policy),
    }
}

/// A and B share a normal 1_000_000 sat channel opened by A, with `a_msat` on A's side.
fn pair(a_msat: u64) -> (Channel, Channel) {
    let c = config();
    let a = Channel::new_genesis(A, &genesis(B, true, a_msat), &c, &c);
    let b = Channel::new_genesis(B, &genesis(A, false, 1_000_000_000 - a_msat), &c, &c);
    (a, b)
}

fn onion() -> Onion {
    Onion::new(vec![HopPayload::Final {
        amt_to_forward_msat: 1,
        outgoing_cltv_value: 0,
        payment_secret: None,
        total_msat: 1,
        keysend_preimage: None,
    }])
}

fn preimage(n: u8) -> Preimage {
    Preimage([n; 32])
}

/// Sends a commitment from `from` to `to` and the revocation back; returns what the sender
/// learnt from the revocation.
fn sign(from: &mut Channel, to: &mut Channel) -> RevocationOutcome {
    let signed = from.send_commitment().expect("something to sign");
    let revoke = to.on_commitment_signed(&signed).expect("commitment matches");
    from.on_revoke_and_ack(&revoke).expect("revocation expected")
}

fn check_sums(c: &Channel) {
    assert_eq!(crate::snapshot::ChannelSnapshot::of(c).unbalanced_view(), None);
}

#[test]
fn establishment_runs_from_open_to_normal() {
    let c = config();
    let (mut a, open) = Channel::new_outbound(ChannelId(7), A, B, 500_000, 10_000_000, true, &c);
    let (mut b, accept) = Channel::new_inbound(B, A, &open, &c).unwrap();
    assert_eq!(b.phase(), ChannelPhase::AcceptSent);
    a.on_accept(&accept).unwrap();
    let tx = Tx::new(
        TxKind::Funding,
        vec![],
        vec![TxOut { amount_sat: 500_000, script: Script::funding(A, B) }],
        1,
    );
    let created = a.on_funding_built(tx.clone(), 0);
    assert_eq!(created.temporary_channel_id, ChannelId(7));
    b.on_funding_created(&created, 200).unwrap();
    assert_eq!(a.id(), b.id(), "both derive the id from the funding outpoint");
    assert_eq!(a.on_funding_signed().unwrap().txid, tx.txid);
    // minimum_depth is the acceptor's: 3 for the lnd preset.
    for ch in [&mut a, &mut b] {
        ch.on_funding_confirmed(200, 4);
        assert!(ch.ready_to_send(201).is_none());
        assert!(ch.ready_to_send(202).is_some());
    }
    assert!(a.on_channel_ready().unwrap());
    assert!(b.on_channel_ready().unwrap());
    assert_eq!(a.scid(), Some(Scid::new(200, 4, 0)));
    assert_eq!(
        a.balances(View::Local),
        Balances { ours_msat: 490_000_000, theirs_msat: 10_000_000 }
    );
    assert_eq!(
        b.balances(View::Local),
        Balances { ours_msat: 10_000_000, theirs_msat: 490_000_000 }
    );
}

/// A channel that says a height cannot move it gets nothing at any height: the node's block pass
/// asks only the others.
fn assert_still_unless_moving(channel: &Channel) {
    if channel.moves_with_height() {
        return;
    }
    for height in [0, 1, 199, 200, 201, 202, 205, 206, 10_000, u32::MAX - 1] {
        let mut probe = channel.clone();
        assert!(probe.ready_to_send(height).is_none(), "channel_ready at {height}");
        assert!(!probe.wants_announcement(height), "announcement_signatures at {height}");
    }
}

#[test]
fn a_channel_moves_with_the_height_until_ready_and_announced_and_again_when_force_closing() {
    let c = config();
    let (mut a, open) = Channel::new_outbound(ChannelId(7), A, B, 500_000, 0, true, &c);
    let (mut b, accept) = Channel::new_inbound(B, A, &open, &c).unwrap();
    assert_still_unless_moving(&a);
    a.on_accept(&accept).unwrap();
    let tx = Tx::new(
        TxKind::Funding,
        vec![],
        vec![TxOut { amount_sat: 500_000, script: Script::funding(A, B) }],
        1,
    );
    let created = a.on_funding_built(tx, 0);
    b.on_funding_created(&created, 200).unwrap();
    a.on_funding_signed().unwrap();
    for ch in [&mut a, &mut b] {
        ch.on_funding_confirmed(200, 4);
        assert!(ch.moves_with_height(), "channel_ready not sent yet");
        assert!(ch.ready_to_send(202).is_some());
        assert!(ch.moves_with_height(), "announcement_signatures not sent yet");
        assert_still_unless_moving(ch);
        ch.on_channel_ready().unwrap();
        assert!(ch.wants_announcement(205));
        assert!(!ch.moves_with_height(), "ready and announced: nothing left for a height");
        assert_still_unless_moving(ch);
    }
    let (mut genesis, _) = pair(500_000_000);
    assert!(!genesis.moves_with_height(), "a genesis channel starts ready and announced");
    assert_still_unless_moving(&genesis);
    genesis.force_close().expect("a funded channel closes");
    assert!(genesis.moves_with_height(), "its commitment is rebroadcast each block");
}

#[test]
fn the_acceptor_rejects_a_reserve_below_its_dust_limit() {
    let mut cln = NodeConfig::preset(crate::Implementation::Cln);
    cln.channel.min_funding_sat = 1;
    let (_, open) = Channel::new_outbound(ChannelId(1), A, B, 30_000, 0, false, &config());
    // lnd declares max(1% = 300, 354) sat; Core Lightning's dust limit is 546 sat.
    assert!(matches!(
        Channel::new_inbound(B, A, &open, &cln),
        Err(ChannelError::BadParameters { .. })
    ));
}

#[test]
fn an_htlc_moves_money_view_by_view_through_the_dance() {
    let (mut a, mut b) = pair(600_000_000);
    let p = preimage(1);
    let add = a.send_add(100_000_000, p.payment_hash(), 500, onion()).unwrap();
    // Only the "next" view has it so far.
    assert_eq!(a.balances(View::Next).ours_msat, 500_000_000);
    assert_eq!(a.balances(View::Local).ours_msat, 600_000_000);
    b.on_add(&add).unwrap();
    let outcome = sign(&mut a, &mut b);
    assert!(outcome.locked_in.is_empty());
    assert_eq!(a.balances(View::Remote).ours_msat, 500_000_000, "in B's commitment");
    assert_eq!(a.balances(View::Local).ours_msat, 600_000_000, "not yet in A's");
    // B signs A's commitment with the HTLC; A's revocation locks it in at B.
    let outcome = sign(&mut b, &mut a);
    assert_eq!(outcome.locked_in, vec![0]);
    assert_eq!(b.received_htlc(0).unwrap().state, HtlcState::Committed);
    assert_eq!(a.offered_htlc(0).unwrap().state, HtlcState::Committed);
    assert!(b.send_commitment().is_none(), "nothing new to sign");
    for ch in [&a, &b] {
        check_sums(ch);
        assert_eq!(ch.balances(View::Local), ch.balances(View::Remote));
    }
    // B fulfils; the money reaches B's balance in each view as the removal lands there.
    let fulfill = b.send_fulfill(0, p).unwrap().expect("live channel");
    assert_eq!(a.on_fulfill(&fulfill).unwrap(), 100_000_000);
    assert_eq!(b.balances(View::Next).ours_msat, 500_000_000);
    sign(&mut b, &mut a);
    sign(&mut a, &mut b);
    assert!(!a.has_htlcs() && !b.has_htlcs());
    for view in View::ALL {
        assert_eq!(a.balances(view), Balances { ours_msat: 500_000_000, theirs_msat: 500_000_000 });
        assert_eq!(b.balances(view), Balances { ours_msat: 500_000_000, theirs_msat: 500_000_000 });
    }
}

#[test]
fn a_failure_is_reported_upstream_only_once_irrevocable() {
    let (mut a, mut b) = pair(600_000_000);
    let add = a.send_add(1_000_000, preimage(2).payment_hash(), 500, onion()).unwrap();
    b.on_add(&add).unwrap();
    sign(&mut a, &mut b);
    assert_eq!(sign(&mut b, &mut a).locked_in, vec![0]);
    let packet = ErrorPacket::new(Failure::new(FailureCode::TEMPORARY_CHANNEL_FAILURE));
    let fail = b.send_fail(0, packet.clone()).unwrap().expect("live channel");
    a.on_fail(&fail).unwrap();
    // B signs A's commitment without the HTLC; A revokes.
    let first = sign(&mut b, &mut a);
    assert!(first.failed.is_empty(), "B is the remover: it learns nothing to pass on");
    // A signs B's commitment without it; B's revocation makes the removal irrevocable at A.
    let second = sign(&mut a, &mut b);
    assert_eq!(second.failed, vec![(0, packet)]);
    assert_eq!(a.balances(View::Local).ours_msat, 600_000_000, "the amount came back");
}

#[test]
fn crossing_updates_converge() {
    let (mut a, mut b) = pair(500_000_000);
    let add_a = a.send_add(10_000_000, preimage(3).payment_hash(), 500, onion()).unwrap();
    let add_b = b.send_add(20_000_000, preimage(4).payment_hash(), 500, onion()).unwrap();
    let sig_a = a.send_commitment().unwrap();
    let sig_b = b.send_commitment().unwrap();
    // Both adds and both commitments cross on the wire.
    b.on_add(&add_a).unwrap();
    a.on_add(&add_b).unwrap();
    let raa_b = b.on_commitment_signed(&sig_a).unwrap();
    let raa_a = a.on_commitment_signed(&sig_b).unwrap();
    a.on_revoke_and_ack(&raa_b).unwrap();
    b.on_revoke_and_ack(&raa_a).unwrap();
    // Each now signs the other's add into the other's commitment.
    let at_a = sign(&mut a, &mut b);
    let at_b = sign(&mut b, &mut a);
    assert_eq!(at_a.locked_in, vec![0], "A locked in B's HTLC");
    assert_eq!(at_b.locked_in, vec![0], "B locked in A's HTLC");
    for ch in [&a, &b] {
        check_sums(ch);
        assert!(
            ch.offered_htlcs().chain(ch.received_htlcs()).all(|h| h.state == HtlcState::Committed)
        );
    }
    assert_eq!(
        a.balances(View::Local),
        Balances { ours_msat: 490_000_000, theirs_msat: 480_000_000 }
    );
}

#[test]
fn available_balance_keeps_the_reserve_and_the_fee_spike_buffer() {
    let (a, b) = pair(600_000_000);
    let reserve = 10_000_000; // 1% of 1_000_000 sat
    let buffer = a.format.opener_cost_msat(2 * 253, 2);
    assert_eq!(a.available_to_send_msat(), 600_000_000 - reserve - buffer);
    // B, who did not open, keeps only its reserve.
    assert_eq!(b.available_to_send_msat(), 400_000_000 - reserve);
    assert_eq!(
        a.check_add(600_000_000 - reserve - buffer + 1),
        Err(AddHtlcError::InsufficientBalance)
    );
}

#[test]
fn adds_waiting_for_a_signature_count_against_every_commitment() {
    // A opened with 900k sat, B has 100k sat (reserve 10k sat each).
    let (mut a, mut b) = pair(900_000_000);
    let big = a.send_add(500_000_000, preimage(8).payment_hash(), 500, onion()).unwrap();
    b.on_add(&big).unwrap();
    sign(&mut a, &mut b);
    sign(&mut b, &mut a);
    // B adds 10k sat and signs: it now waits for A's revocation.
    let small = b.send_add(10_000_000, preimage(9).payment_hash(), 500, onion()).unwrap();
    let signed = b.send_commitment().unwrap();
    // While waiting, B fulfils A's 500k sat HTLC: that credit is in B's "next" view only.
    let fulfill = b.send_fulfill(0, preimage(8)).unwrap().expect("live channel");
    assert_eq!(b.balances(View::Next).ours_msat, 590_000_000);
    // B's commitments still hold only 90k to 100k sat for it: 80k sat above the reserve.
    assert_eq!(b.available_to_send_msat(), 80_000_000);
    let first = b.send_add(80_000_000, preimage(10).payment_hash(), 500, onion()).unwrap();
    assert_eq!(b.check_add(1_000_000), Err(AddHtlcError::InsufficientBalance));
    // The dance completes without anyone overdrawn.
    a.on_add(&small).unwrap();
    let revoke = a.on_commitment_signed(&signed).unwrap();
    a.on_fulfill(&fulfill).unwrap();
    a.on_add(&first).unwrap();
    b.on_revoke_and_ack(&revoke).unwrap();
    for _ in 0..3 {
        if b.can_sign() {
            sign(&mut b, &mut a);
        }
        if a.can_sign() {
            sign(&mut a, &mut b);
        }
    }
    check_sums(&a);
    check_sums(&b);
    assert_eq!(b.balances(View::Local).ours_msat, 600_000_000 - 90_000_000);
}

#[test]
fn the_peers_slot_limit_is_respected() {
    let mut cln = NodeConfig::preset(crate::Implementation::Cln);
    cln.channel.max_accepted_htlcs = 2;
    let spec = GenesisChannel { announce: false, ..genesis(B, true, 500_000_000) };
    let mut a = Channel::new_genesis(A, &spec, &config(), &cln);
    for n in 0..2 {
        a.send_add(1_000_000, preimage(n).payment_hash(), 500, onion()).unwrap();
    }
    assert_eq!(a.check_add(1_000_000), Err(AddHtlcError::NoSlot));
    assert_eq!(a.available_to_send_msat(), 0);
}

/// LDK's dust limit, `FeeRateMultiplier(10_000)` at 253 sat/kw, is 2,530,000 msat. Without
/// anchors an HTLC is dust below 354 sat plus its second-stage fee (HTLC-timeout 167 sat,
/// HTLC-success 177 sat on the peer's side): 500 sat is dust, 600 sat is not. Five 500 sat
/// HTLCs fit (2,500,000 msat), the sixth does not; a larger HTLC still does.
#[test]
fn dust_htlcs_stop_at_the_dust_exposure_limit() {
    let ldk = NodeConfig::preset(crate::Implementation::Ldk);
    assert!(!ldk.channel.anchors);
    let spec = GenesisChannel { announce: false, ..genesis(B, true, 500_000_000) };
    let mut a = Channel::new_genesis(A, &spec, &ldk, &ldk);
    assert!(a.is_dust(500_000, true) && !a.is_dust(600_000, true));
    for n in 0..5 {
        a.send_add(500_000, preimage(n).payment_hash(), 500, onion()).unwrap();
    }
    assert_eq!(a.dust_exposure_msat(), 2_500_000);
    assert_eq!(a.check_add(500_000), Err(AddHtlcError::DustExposure));
    assert_eq!(a.check_add(600_000), Ok(()));
    // lnd's limit is 500,000 sat: the sixth fits there.
    let lnd =
        NodeConfig { channel: ChannelConfig { anchors: false, ..config().channel }, ..config() };
    let mut a = Channel::new_genesis(A, &spec, &lnd, &lnd);
    for n in 0..6 {
        a.send_add(500_000, preimage(n).payment_hash(), 500, onion()).unwrap();
    }
}

#[test]
fn a_commitment_that_differs_from_ours_is_refused() {
    let (mut a, mut b) = pair(600_000_000);
    let add = a.send_add(1_000_000, preimage(5).payment_hash(), 500, onion()).unwrap();
    b.on_add(&add).unwrap();
    let mut signed = a.send_commitment().unwrap();
    signed.holder_msat += 1;
    assert!(matches!(b.on_commitment_signed(&signed), Err(ChannelError::BadCommitment { .. })));
}

#[test]
fn a_wrong_preimage_is_refused() {
    let (mut a, mut b) = pair(600_000_000);
    let add = a.send_add(1_000_000, preimage(6).payment_hash(), 500, onion()).unwrap();
    b.on_add(&add).unwrap();
    sign(&mut a, &mut b);
    sign(&mut b, &mut a);
    assert_eq!(b.send_fulfill(0, preimage(7)), Err(ChannelError::BadPreimage { id: 0 }));
    let forged = UpdateFulfillHtlc { channel_id: a.id(), id: 0, payment_preimage: preimage(7) };
    assert_eq!(a.on_fulfill(&forged), Err(ChannelError::BadPreimage { id: 0 }));
}
