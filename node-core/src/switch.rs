//! The HTLC switch: where each HTLC a node offered came from (one of its own payments' parts, or
//! an HTLC it received and forwarded), so an outcome downstream goes back the right way; the
//! parts of multi-part payments to the node, held until they add up to their total (BOLT 4); and
//! the checks a forwarder makes before it offers an HTLC onward (BOLT 4 and 7). It owns that
//! state and decides; the node moves the HTLCs on its channels and reports what happened.

use crate::channel::{Channel, ChannelPhase};
use crate::config::OfflinePeerFailure;
use crate::ids::{ChannelId, PaymentHash, SimTime};
use crate::onion::FailureCode;
use crate::payment::PaymentId;
use crate::policy::ChannelPolicy;
use std::collections::BTreeMap;

/// Blocks an outgoing HTLC must have left before it expires for us to forward it (a forward that
/// would expire sooner fails with `expiry_too_soon`).
pub const MIN_OUTGOING_CLTV_MARGIN_BLOCKS: u32 = 3;

/// An HTLC, as (channel, HTLC id in that channel's direction).
pub type HtlcKey = (ChannelId, u64);

/// Where an HTLC we offered came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HtlcSource {
    /// A part of one of our payments.
    Local {
        /// The payment.
        payment: PaymentId,
        /// The attempt the part is.
        attempt: u32,
    },
    /// An HTLC we received and forwarded.
    Forwarded {
        /// The channel it came in on.
        channel: ChannelId,
        /// Its id there.
        htlc_id: u64,
        /// What came in, msat.
        in_msat: u64,
        /// What we sent on, msat.
        out_msat: u64,
    },
}

/// The parts of a multi-part payment to us, held until they add up to its total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldParts {
    /// What the payer says the parts add up to, msat.
    pub total_msat: u64,
    /// What the held parts add up to, msat.
    pub held_msat: u64,
    /// The parts.
    pub parts: Vec<HtlcKey>,
    /// When the first part arrived.
    pub first_at: SimTime,
}

/// What became of a part offered to [`HtlcSwitch::hold`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hold {
    /// Held, waiting for more: whether it is the first part, and what is held now, msat.
    Waiting {
        /// It is the payment's first part (its timeout starts now).
        first: bool,
        /// What the held parts add up to, msat.
        held_msat: u64,
    },
    /// It completes the payment: every part, this one included.
    Complete(HeldParts),
    /// Its total differs from the parts held before it.
    Mismatch,
}

/// Sources of offered HTLCs and held parts.
#[derive(Clone, Debug, Default)]
pub struct HtlcSwitch {
    sources: BTreeMap<HtlcKey, HtlcSource>,
    /// Parts of incomplete multi-part payments to us, by payment hash.
    held: BTreeMap<PaymentHash, HeldParts>,
}

impl HtlcSwitch {
    /// We offered HTLC `offered`, on behalf of `source`.
    pub fn add(&mut self, offered: HtlcKey, source: HtlcSource) {
        self.sources.insert(offered, source);
    }

    /// Whether we offered HTLC `offered` for a payment of our own.
    pub fn is_local(&self, offered: HtlcKey) -> bool {
        matches!(self.sources.get(&offered), Some(HtlcSource::Local { .. }))
    }

    /// The source of HTLC `offered`, now that it is resolved (`None` once taken).
    pub fn take(&mut self, offered: HtlcKey) -> Option<HtlcSource> {
        self.sources.remove(&offered)
    }

    /// Holds `part` of `amount_msat` of the payment `payment_hash`, which its payer says totals
    /// `total_msat`, arriving at `now`.
    pub fn hold(
        &mut self,
        payment_hash: PaymentHash,
        part: HtlcKey,
        amount_msat: u64,
        total_msat: u64,
        now: SimTime,
    ) -> Hold {
        let held = self.held.entry(payment_hash).or_insert(HeldParts {
            total_msat,
            held_msat: 0,
            parts: Vec::new(),
            first_at: now,
        });
        if held.total_msat != total_msat {
            return Hold::Mismatch;
        }
        held.parts.push(part);
        held.held_msat += amount_msat;
        if held.held_msat < total_msat {
            return Hold::Waiting { first: held.parts.len() == 1, held_msat: held.held_msat };
        }
        Hold::Complete(self.held.remove(&payment_hash).expect("just updated"))
    }

    /// The parts of `payment_hash` if they have been held `timeout_us` by `now` (a later set of
    /// parts for the same hash has a timer of its own).
    pub fn time_out(
        &mut self,
        payment_hash: PaymentHash,
        now: SimTime,
        timeout_us: u64,
    ) -> Option<HeldParts> {
        let held = self.held.get(&payment_hash)?;
        if now.micros_since(held.first_at) < timeout_us {
            return None;
        }
        self.held.remove(&payment_hash)
    }

    /// The payments whose parts are held, by hash.
    pub fn held(&self) -> impl Iterator<Item = (&PaymentHash, &HeldParts)> {
        self.held.iter()
    }
}

/// An HTLC to forward, as the previous hop sent it and as its onion asks us to send it on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    /// What came in, msat.
    pub in_msat: u64,
    /// Its expiry, block height.
    pub in_cltv: u32,
    /// What to send on, msat.
    pub out_msat: u64,
    /// The outgoing expiry, block height.
    pub out_cltv: u32,
}

/// Why a forward is refused: the BOLT 4 code, and whether our `channel_update` for the outgoing
/// channel goes with it.
pub type Refusal = (FailureCode, bool);

/// The forwarder's own rules beyond the outgoing channel's policy (its implementation's).
#[derive(Clone, Copy, Debug)]
pub struct ForwardRules<'a> {
    /// Latest outgoing expiry it forwards, blocks above its height.
    pub max_cltv_delta: u32,
    /// What it answers when the outgoing peer is not connected.
    pub offline_peer: OfflinePeerFailure,
    /// The policy before the last change while its grace lasts, and whether the grace covers
    /// its CLTV delta as well as its fee.
    pub previous_policy: Option<(&'a ChannelPolicy, bool)>,
}

/// The checks before offering `forward` on `out` (BOLT 4 "Failure Messages", BOLT 7 fees and
/// CLTV deltas), at our height `height`: the channel is open and enabled, its peer connected, the
/// amount within our policy's bounds, the fee and CLTV delta paid, the outgoing expiry neither too
/// soon nor beyond `rules.max_cltv_delta` blocks. A fee or CLTV delta that only the previous
/// policy admits passes while its grace lasts. Liquidity and slots are the channel's own check
/// when the HTLC is added.
pub fn check_forward(
    out: &Channel,
    peer_ready: bool,
    forward: Forward,
    height: u32,
    rules: &ForwardRules<'_>,
) -> Result<(), Refusal> {
    if out.phase() == ChannelPhase::Closed {
        return Err((FailureCode::UNKNOWN_NEXT_PEER, false));
    }
    if out.phase() != ChannelPhase::Normal || out.is_disabled() {
        return Err((FailureCode::CHANNEL_DISABLED, true));
    }
    if !peer_ready || !out.is_live() {
        let code = match rules.offline_peer {
            OfflinePeerFailure::TemporaryChannelFailure => FailureCode::TEMPORARY_CHANNEL_FAILURE,
            OfflinePeerFailure::UnknownNextPeer => {
                return Err((FailureCode::UNKNOWN_NEXT_PEER, false));
            }
            OfflinePeerFailure::DisabledOnceAnnounced => {
                if out.last_update().is_some_and(|u| u.disabled) {
                    FailureCode::CHANNEL_DISABLED
                } else {
                    FailureCode::TEMPORARY_CHANNEL_FAILURE
                }
            }
        };
        return Err((code, true));
    }
    let policy = out.local_policy();
    let Forward { in_msat, in_cltv, out_msat, out_cltv } = forward;
    if out_msat < policy.htlc_minimum_msat {
        return Err((FailureCode::AMOUNT_BELOW_MINIMUM, true));
    }
    if out_msat > policy.htlc_maximum_msat {
        return Err((FailureCode::TEMPORARY_CHANNEL_FAILURE, true));
    }
    let pays_fee = |p: &ChannelPolicy| in_msat >= out_msat.saturating_add(p.fee_msat(out_msat));
    let pays_cltv =
        |p: &ChannelPolicy| in_cltv >= out_cltv.saturating_add(u32::from(p.cltv_expiry_delta));
    if !pays_fee(policy) && !rules.previous_policy.is_some_and(|(p, _)| pays_fee(p)) {
        return Err((FailureCode::FEE_INSUFFICIENT, true));
    }
    if !pays_cltv(policy) && !rules.previous_policy.is_some_and(|(p, cltv)| cltv && pays_cltv(p)) {
        return Err((FailureCode::INCORRECT_CLTV_EXPIRY, true));
    }
    if out_cltv < height + MIN_OUTGOING_CLTV_MARGIN_BLOCKS {
        return Err((FailureCode::EXPIRY_TOO_SOON, true));
    }
    if out_cltv > height.saturating_add(rules.max_cltv_delta) {
        return Err((FailureCode::EXPIRY_TOO_FAR, false));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{PaymentHash, SimTime};

    #[test]
    fn parts_are_held_until_they_add_up_and_a_wrong_total_is_refused() {
        let mut switch = HtlcSwitch::default();
        let hash = PaymentHash([1; 32]);
        let at = SimTime::from_secs(5);
        let first = switch.hold(hash, (ChannelId(1), 0), 600, 1000, at);
        assert_eq!(first, Hold::Waiting { first: true, held_msat: 600 });
        assert_eq!(switch.hold(hash, (ChannelId(2), 0), 400, 999, at), Hold::Mismatch);
        let done = switch.hold(hash, (ChannelId(2), 1), 400, 1000, SimTime::from_secs(6));
        let Hold::Complete(parts) = done else { panic!("{done:?}") };
        assert_eq!(parts.parts, vec![(ChannelId(1), 0), (ChannelId(2), 1)]);
        assert_eq!((parts.held_msat, parts.first_at), (1000, at));
        assert_eq!(switch.held().count(), 0);
    }

    #[test]
    fn held_parts_time_out_only_once_their_wait_is_over() {
        let mut switch = HtlcSwitch::default();
        let hash = PaymentHash([2; 32]);
        switch.hold(hash, (ChannelId(1), 0), 500, 1000, SimTime::from_secs(10));
        assert_eq!(switch.time_out(hash, SimTime::from_secs(69), 60_000_000), None);
        let parts = switch.time_out(hash, SimTime::from_secs(70), 60_000_000).unwrap();
        assert_eq!(parts.parts, vec![(ChannelId(1), 0)]);
        assert_eq!(switch.time_out(hash, SimTime::from_secs(71), 60_000_000), None);
    }
}
