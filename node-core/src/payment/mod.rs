//! Outbound payments: what the payer tracks for each payment and each attempt, and what it
//! learns from a failed attempt. A payment may be sent in parts (one attempt each), each carrying
//! the total and the invoice's secret; the first part the payee settles pays the payment. A
//! failure names the hop that failed (from the onion error's wrapping) and a BOLT 4 code; the
//! payment turns that into exclusions or policy hints for its next attempts, or gives up with a
//! definite reason. Only the payer's own payment learns this: nothing here touches the node's view
//! of the graph (the payer's routers learn across payments, in [`crate::router`]).
//!
//! This file holds one payment ([`OutboundPayment`]); [`OutboundPayments`] holds them all with
//! the payer's routers and plans the parts to send. Adding the HTLCs to channels is the node's
//! job.

mod outbound;

pub(crate) use outbound::{AheadKey, LearnView, OutboundPayments, PayerView};

use crate::config::NodeConfig;
use crate::ids::{NodeId, PaymentHash, PaymentSecret, Preimage, Scid, SimTime};
use crate::invoice::RouteHint;
use crate::onion::{Failure, FailureCode, HopPayload, Onion};
use crate::policy::ChannelPolicy;
use crate::router::{FailureMemory, Route, RouterConfig};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The final CLTV delta a payer uses when no invoice gives one (a keysend): BOLT 11's default
/// `min_final_cltv_expiry_delta` for an invoice without a `c` field, 18 blocks. (lnd's keysend
/// uses its `bitcoin.timelockdelta`, 80, when the request sets none:
/// `lnrpc/routerrpc/router_backend.go`, `DefaultFinalCltvDelta`.)
pub const DEFAULT_FINAL_CLTV_EXPIRY_DELTA: u16 = 18;

/// A payment, numbered per payer from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PaymentId(pub u64);

/// Why a payment gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FailureReason {
    /// No route in the payer's view satisfies the amount, fee and CLTV limits (any more).
    NoRoute,
    /// The payment's time limit passed before an attempt succeeded.
    Timeout,
    /// The recipient refused the payment (unknown hash, wrong amount or CLTV, expired invoice).
    RecipientRejected,
    /// The payer's limit on attempt rounds was reached ([`NodeConfig::max_rounds`]).
    AttemptLimit,
}

impl FailureReason {
    /// A stable integer for traces and results.
    pub fn code(self) -> u8 {
        match self {
            FailureReason::NoRoute => 1,
            FailureReason::Timeout => 2,
            FailureReason::RecipientRejected => 3,
            FailureReason::AttemptLimit => 4,
        }
    }

    /// A snake_case name for results.
    pub fn name(self) -> &'static str {
        match self {
            FailureReason::NoRoute => "no_route",
            FailureReason::Timeout => "timeout",
            FailureReason::RecipientRejected => "recipient_rejected",
            FailureReason::AttemptLimit => "attempt_limit",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed attempt, as the payer decoded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptFailure {
    /// Index of the failing node on the path: 0 the payer itself, 1 the first hop's node, ...
    pub failing_hop: usize,
    /// The BOLT 4 code.
    pub code: FailureCode,
    /// The channel the failing node could not use (its outgoing channel), if any.
    pub scid: Option<Scid>,
    /// The failure was settled on chain (the first hop's channel closed with it in flight).
    pub on_chain: bool,
}

/// What the payer does after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Try another route.
    Retry,
    /// Give up.
    GiveUp(FailureReason),
}

/// Where a payment stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentStatus {
    /// An attempt is in flight, or about to be made.
    InFlight,
    /// Paid.
    Succeeded {
        /// The preimage, proof of payment.
        preimage: Preimage,
        /// When the payer learnt the preimage.
        at: SimTime,
    },
    /// Gave up.
    Failed {
        /// Why.
        reason: FailureReason,
        /// When.
        at: SimTime,
    },
}

/// One outbound payment.
#[derive(Clone, Debug)]
pub struct OutboundPayment {
    /// Its id.
    pub id: PaymentId,
    /// What the HTLCs are locked to.
    pub payment_hash: PaymentHash,
    /// The invoice's secret (none for keysend).
    pub payment_secret: Option<PaymentSecret>,
    /// The preimage, for keysend.
    pub keysend_preimage: Option<Preimage>,
    /// The payee.
    pub destination: NodeId,
    /// What the payee must receive, msat.
    pub amount_msat: u64,
    /// The payee's `min_final_cltv_expiry_delta`.
    pub min_final_cltv_expiry_delta: u16,
    /// The invoice's route hints.
    pub route_hints: Vec<RouteHint>,
    /// Fee limit, msat.
    pub max_fee_msat: u64,
    /// When the payment started.
    pub started_at: SimTime,
    /// After this no new attempt is started.
    pub deadline: SimTime,
    /// Whether it may be split into parts (it pays an invoice, whose secret the parts carry).
    pub mpp: bool,
    /// Most parts in flight at once.
    pub max_parts: u32,
    /// Most attempt rounds (0: no limit): the parts sent at one instant are one round.
    pub max_rounds: u32,
    /// Attempt rounds sent so far.
    pub rounds: u32,
    /// When the last round was sent.
    pub last_round_at: Option<SimTime>,
    /// Smallest part the payer splits off when a whole amount finds no route, msat.
    pub min_part_msat: u64,
    /// The router that plans it.
    pub router: RouterConfig,
    /// Attempts (parts) sent so far; each part is numbered by its attempt, from 1.
    pub attempts: u32,
    /// The parts in flight, by attempt.
    pub in_flight: BTreeMap<u32, Route>,
    /// The parts the payee settled, by attempt.
    pub settled: BTreeMap<u32, Route>,
    /// No new part is sent; the payment fails with this once no part is in flight.
    pub give_up: Option<FailureReason>,
    /// The last failed attempt.
    pub last_failure: Option<AttemptFailure>,
    /// Channel directions this payment no longer tries, as (channel, node at the start).
    pub excluded_channels: BTreeSet<(Scid, NodeId)>,
    /// Nodes this payment no longer routes through.
    pub excluded_nodes: BTreeSet<NodeId>,
    /// Policies learnt from `channel_update`s in errors, for this payment only.
    pub policy_overrides: BTreeMap<(Scid, NodeId), ChannelPolicy>,
    /// Capacity estimates below amounts that failed, msat ([`FailureMemory::CapacityBelow`]).
    pub capacity_caps: BTreeMap<(Scid, NodeId), u64>,
    /// Whether the payer retries a channel whose policy failure carried a new `channel_update`
    /// (lnd and Core Lightning apply it and retry once), or excludes it at once (LDK 0.1 and
    /// Eclair 0.13 ignore updates in failures).
    pub retries_with_failure_updates: bool,
    /// Where it stands.
    pub status: PaymentStatus,
}

impl OutboundPayment {
    /// A payment of `amount_msat` to `destination`, locked to `payment_hash`, started at `now`
    /// with `config`'s fee limit, time limit and part limits, planned by `router`. It carries no
    /// invoice: a caller paying one sets its secret, route hints and final CLTV delta, and allows
    /// it to be split.
    pub fn new(
        payment_hash: PaymentHash,
        destination: NodeId,
        amount_msat: u64,
        router: RouterConfig,
        config: &NodeConfig,
        now: SimTime,
    ) -> OutboundPayment {
        OutboundPayment {
            id: PaymentId(0),
            payment_hash,
            payment_secret: None,
            keysend_preimage: None,
            destination,
            amount_msat,
            min_final_cltv_expiry_delta: DEFAULT_FINAL_CLTV_EXPIRY_DELTA,
            route_hints: Vec::new(),
            max_fee_msat: config.max_fee_msat(amount_msat),
            started_at: now,
            deadline: now.plus_secs(u64::from(config.payment_timeout_s)),
            mpp: false,
            max_parts: config.max_parts.max(1),
            max_rounds: config.max_rounds,
            rounds: 0,
            last_round_at: None,
            min_part_msat: config.min_part_msat,
            router,
            attempts: 0,
            in_flight: BTreeMap::new(),
            settled: BTreeMap::new(),
            give_up: None,
            last_failure: None,
            excluded_channels: BTreeSet::new(),
            excluded_nodes: BTreeSet::new(),
            policy_overrides: BTreeMap::new(),
            capacity_caps: BTreeMap::new(),
            retries_with_failure_updates: config.apply_failure_updates,
            status: PaymentStatus::InFlight,
        }
    }

    /// The onion of a part over `route`: a forwarding payload for each hop, and for the payee
    /// the amount, the CLTV, the invoice's secret, this payment's total and, for a keysend, the
    /// preimage.
    pub fn onion_for(&self, route: &Route) -> Onion {
        let last = route.hops.len() - 1;
        let payloads = (0..=last)
            .map(|i| {
                if i == last {
                    HopPayload::Final {
                        amt_to_forward_msat: route.hops[i].amount_msat,
                        outgoing_cltv_value: route.hops[i].cltv_expiry,
                        payment_secret: self.payment_secret,
                        total_msat: self.amount_msat,
                        keysend_preimage: self.keysend_preimage,
                    }
                } else {
                    let next = route.hops[i + 1];
                    HopPayload::Forward {
                        short_channel_id: next.scid,
                        amt_to_forward_msat: next.amount_msat,
                        outgoing_cltv_value: next.cltv_expiry,
                    }
                }
            })
            .collect();
        Onion::new(payloads)
    }

    /// The total fee of the parts that settled (or are settling), msat, once paid.
    pub fn fee_msat(&self) -> Option<u64> {
        match self.status {
            PaymentStatus::Succeeded { .. } => Some(
                self.settled.values().chain(self.in_flight.values()).map(Route::fee_msat).sum(),
            ),
            _ => None,
        }
    }

    /// What the parts in flight deliver to the payee, msat.
    pub fn in_flight_msat(&self) -> u64 {
        self.in_flight.values().map(Route::delivered_msat).sum()
    }

    /// The fees of the parts in flight, msat.
    pub fn in_flight_fee_msat(&self) -> u64 {
        self.in_flight.values().map(Route::fee_msat).sum()
    }

    /// Learns from the failure of the attempt over `route`, reported by the node at path index
    /// `failing_hop` (see [`crate::onion::ErrorPacket::unwrap_at_sender`]), remembering a
    /// channel that lacked liquidity as `memory` says.
    pub fn learn(
        &mut self,
        payer: NodeId,
        route: &Route,
        failing_hop: usize,
        failure: &Failure,
        memory: FailureMemory,
    ) -> (AttemptFailure, Verdict) {
        let hops = route.hops.len();
        let node_at = |index: usize| if index == 0 { payer } else { route.hops[index - 1].node_id };
        let code = failure.code;
        if failing_hop >= hops {
            // The recipient answered.
            let record = AttemptFailure { failing_hop: hops, code, scid: None, on_chain: false };
            let verdict = if code == FailureCode::MPP_TIMEOUT {
                Verdict::Retry
            } else {
                Verdict::GiveUp(FailureReason::RecipientRejected)
            };
            return (record, verdict);
        }
        let failing_node = node_at(failing_hop);
        let channel = route.hops[failing_hop].scid;
        let record = AttemptFailure { failing_hop, code, scid: Some(channel), on_chain: false };
        let key = (channel, failing_node);
        if code.is_node() {
            self.excluded_nodes.insert(failing_node);
            return (record, Verdict::Retry);
        }
        if code == FailureCode::TEMPORARY_CHANNEL_FAILURE && failing_hop > 0 {
            match memory {
                FailureMemory::Exclude => {
                    self.excluded_channels.insert(key);
                }
                FailureMemory::Router => {}
                FailureMemory::CapacityBelow => {
                    let failed_msat = route.hops[failing_hop].amount_msat;
                    let cap = self.capacity_caps.entry(key).or_insert(u64::MAX);
                    *cap = (*cap).min(failed_msat.saturating_sub(1));
                }
            }
            return (record, Verdict::Retry);
        }
        let policy_code = matches!(
            code,
            FailureCode::FEE_INSUFFICIENT
                | FailureCode::INCORRECT_CLTV_EXPIRY
                | FailureCode::AMOUNT_BELOW_MINIMUM
                | FailureCode::EXPIRY_TOO_SOON
        );
        let hint = failure
            .channel_update
            .filter(|u| u.short_channel_id == channel && !u.disabled)
            .map(|u| u.policy);
        match hint {
            // A newer policy for this channel: retry with it once (lnd's "second chance",
            // `routing/missioncontrol.go`, `requestSecondChance`), then exclude the channel.
            Some(policy)
                if policy_code
                    && self.retries_with_failure_updates
                    && self.policy_overrides.get(&key) != Some(&policy) =>
            {
                self.policy_overrides.insert(key, policy);
            }
            _ => {
                self.excluded_channels.insert(key);
            }
        }
        (record, Verdict::Retry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gossip::ChannelUpdate;
    use crate::router::RouteHop;

    fn payment() -> OutboundPayment {
        let config = NodeConfig { max_parts: 1, ..NodeConfig::default() };
        OutboundPayment {
            max_fee_msat: 100,
            min_part_msat: 1,
            attempts: 1,
            ..OutboundPayment::new(
                PaymentHash([0; 32]),
                NodeId(3),
                1000,
                RouterConfig::Cheapest,
                &config,
                SimTime::ZERO,
            )
        }
    }

    fn route() -> Route {
        let hop = |scid, node| RouteHop {
            scid: Scid(scid),
            node_id: NodeId(node),
            amount_msat: 1000,
            cltv_expiry: 100,
            fee_msat: 0,
        };
        Route { hops: vec![hop(10, 1), hop(11, 2), hop(12, 3)] }
    }

    #[test]
    fn a_channel_failure_excludes_the_failing_nodes_outgoing_channel() {
        let mut p = payment();
        let failure = Failure::new(FailureCode::TEMPORARY_CHANNEL_FAILURE);
        let (record, verdict) = p.learn(NodeId(0), &route(), 2, &failure, FailureMemory::Exclude);
        assert_eq!(verdict, Verdict::Retry);
        assert_eq!(record.scid, Some(Scid(12)));
        assert!(p.excluded_channels.contains(&(Scid(12), NodeId(2))));
    }

    #[test]
    fn a_liquidity_failure_is_remembered_as_the_router_says() {
        let failure = Failure::new(FailureCode::TEMPORARY_CHANNEL_FAILURE);
        // lnd: nothing for the payment; mission control remembers the amount.
        let mut p = payment();
        p.learn(NodeId(0), &route(), 2, &failure, FailureMemory::Router);
        assert!(p.excluded_channels.is_empty() && p.capacity_caps.is_empty());
        // Core Lightning: the direction stays, believed to carry less than what failed.
        let mut p = payment();
        p.learn(NodeId(0), &route(), 2, &failure, FailureMemory::CapacityBelow);
        assert!(p.excluded_channels.is_empty());
        assert_eq!(p.capacity_caps.get(&(Scid(12), NodeId(2))), Some(&999));
        // A smaller amount failing lowers the estimate; a larger one does not raise it.
        let mut small = route();
        small.hops[2].amount_msat = 400;
        p.learn(NodeId(0), &small, 2, &failure, FailureMemory::CapacityBelow);
        p.learn(NodeId(0), &route(), 2, &failure, FailureMemory::CapacityBelow);
        assert_eq!(p.capacity_caps.get(&(Scid(12), NodeId(2))), Some(&399));
        // A disabled channel is excluded whatever the memory.
        let mut p = payment();
        let disabled = Failure::new(FailureCode::CHANNEL_DISABLED);
        p.learn(NodeId(0), &route(), 2, &disabled, FailureMemory::Router);
        assert!(p.excluded_channels.contains(&(Scid(12), NodeId(2))));
    }

    #[test]
    fn a_payer_ignoring_failure_updates_excludes_the_channel_at_once() {
        let mut p = payment();
        p.retries_with_failure_updates = false;
        let update = ChannelUpdate {
            short_channel_id: Scid(11),
            direction: 0,
            timestamp: 9,
            disabled: false,
            policy: ChannelPolicy {
                fee_base_msat: 5,
                fee_proportional_millionths: 0,
                cltv_expiry_delta: 40,
                htlc_minimum_msat: 1,
                htlc_maximum_msat: 10_000,
            },
        };
        let failure = Failure { code: FailureCode::FEE_INSUFFICIENT, channel_update: Some(update) };
        p.learn(NodeId(0), &route(), 1, &failure, FailureMemory::Exclude);
        assert!(p.policy_overrides.is_empty());
        assert!(p.excluded_channels.contains(&(Scid(11), NodeId(1))));
    }

    #[test]
    fn the_recipient_refusing_ends_the_payment() {
        let mut p = payment();
        let failure = Failure::new(FailureCode::INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS);
        let (record, verdict) = p.learn(NodeId(0), &route(), 3, &failure, FailureMemory::Exclude);
        assert_eq!(verdict, Verdict::GiveUp(FailureReason::RecipientRejected));
        assert_eq!(record.failing_hop, 3);
    }

    #[test]
    fn a_fee_update_is_tried_once_then_the_channel_is_excluded() {
        let mut p = payment();
        let mut policy = ChannelPolicy {
            fee_base_msat: 5,
            fee_proportional_millionths: 0,
            cltv_expiry_delta: 40,
            htlc_minimum_msat: 1,
            htlc_maximum_msat: 10_000,
        };
        let update = ChannelUpdate {
            short_channel_id: Scid(11),
            direction: 0,
            timestamp: 9,
            disabled: false,
            policy,
        };
        let failure = Failure { code: FailureCode::FEE_INSUFFICIENT, channel_update: Some(update) };
        p.learn(NodeId(0), &route(), 1, &failure, FailureMemory::Exclude);
        assert_eq!(p.policy_overrides.get(&(Scid(11), NodeId(1))), Some(&policy));
        assert!(p.excluded_channels.is_empty());
        p.learn(NodeId(0), &route(), 1, &failure, FailureMemory::Exclude);
        assert!(p.excluded_channels.contains(&(Scid(11), NodeId(1))));
        policy.fee_base_msat = 6;
        assert_ne!(p.policy_overrides.get(&(Scid(11), NodeId(1))), Some(&policy));
    }

    #[test]
    fn a_node_failure_excludes_the_node() {
        let mut p = payment();
        let failure = Failure::new(FailureCode::TEMPORARY_NODE_FAILURE);
        p.learn(NodeId(0), &route(), 1, &failure, FailureMemory::Exclude);
        assert!(p.excluded_nodes.contains(&NodeId(1)));
    }
}
