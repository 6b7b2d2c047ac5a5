//! All of a payer's outbound payments (as LDK's `OutboundPayments`): the payments by id and by
//! hash, what their HTLCs in flight use of each channel direction beyond the first hop, and the
//! routers that plan them, each keeping what it learnt across payments. It decides what to send
//! next — the routes of the parts that cover what is not in flight yet, or that the payment is
//! over — learns from every part's outcome, and reports each step as an event. It never touches a
//! channel: the node adds each part's HTLC to its first channel and tells the payments how that
//! went.

use super::{AttemptFailure, FailureReason, OutboundPayment, PaymentId, PaymentStatus, Verdict};
use crate::action::Outbox;
use crate::config::NodeConfig;
use crate::event::Event;
use crate::graph::GraphView;
use crate::ids::{NodeId, PaymentHash, Preimage, Scid, SimTime};
use crate::invoice::RouteHint;
use crate::onion::{ErrorPacket, Failure, FailureCode, Onion};
use crate::router::{FirstHop, Learned, Route, RouteRequest, Router, RouterConfig};
use std::collections::BTreeMap;

/// What planning a payment needs from the payer's node: who and where it is, its view of the
/// network, its settings and its channels that can send now.
pub(crate) struct PayerView<'a> {
    /// The payer.
    pub me: NodeId,
    /// Now.
    pub now: SimTime,
    /// The payer's best block height.
    pub height: u32,
    /// The payer's view of the network.
    pub graph: &'a GraphView,
    /// The payer's settings.
    pub config: &'a NodeConfig,
    /// The payer's channels that can send an HTLC now.
    pub first_hops: &'a [FirstHop],
}

/// The attempt a part starts: its number and what its HTLC carries.
pub(crate) struct Attempt {
    /// Its number within the payment, from 1.
    pub number: u32,
    /// What the HTLC is locked to.
    pub payment_hash: PaymentHash,
    /// The onion for its route.
    pub onion: Onion,
}

/// A payer's outbound payments.
#[derive(Clone, Default)]
pub(crate) struct OutboundPayments {
    payments: BTreeMap<PaymentId, OutboundPayment>,
    by_hash: BTreeMap<PaymentHash, PaymentId>,
    /// What our payments' HTLCs in flight use of each channel direction beyond the first hop,
    /// msat, by (channel, node at its start): routers count it against capacity.
    in_flight_by_channel: BTreeMap<(Scid, NodeId), u64>,
    /// The routers the payments have used, each with what it learnt (kept across restarts: lnd
    /// persists mission control and LDK's users persist the scorer).
    routers: Vec<(RouterConfig, Box<dyn Router>)>,
    /// A plan made ahead for the payment about to start, offered for its first plan.
    ahead: Option<Ahead>,
    /// The plans of an input handled ahead on a copy of the payer, being recorded or taken.
    copied: Copied,
}

/// What [`OutboundPayments::plan`] does with the plans of an input handled on a copy of the
/// payer ([`crate::node::Speculation`]).
#[derive(Clone, Debug, Default)]
enum Copied {
    /// Nothing: it plans.
    #[default]
    Off,
    /// It plans, and records each plan in order (on the copy).
    Record(Vec<(PaymentId, Vec<Route>)>),
    /// It takes the recorded plans in order, while each is for the payment it plans (on the
    /// payer, handling the same input in the same state); then it plans again.
    Take(std::collections::VecDeque<(PaymentId, Vec<Route>)>),
}

/// What a plan made ahead assumed of its payment: everything its first route request is built
/// from that is not the payer's own state (the payer checks that itself: nothing it holds may
/// have changed since).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AheadKey {
    /// The payee.
    pub destination: NodeId,
    /// The amount, msat.
    pub amount_msat: u64,
    /// The invoice's final CLTV delta.
    pub min_final_cltv_expiry_delta: u16,
    /// The invoice's route hints.
    pub route_hints: Vec<RouteHint>,
    /// The router.
    pub router: RouterConfig,
    /// When the payment starts.
    pub now: SimTime,
}

/// A plan made ahead, with what it assumed.
#[derive(Clone)]
struct Ahead {
    key: AheadKey,
    routes: Vec<Route>,
    /// The plans the payment makes next while it starts, found by a copy of the payer that
    /// started it ahead: offered, as a copy's plans are ([`Copied::Take`]), once `routes` are
    /// taken.
    rest: Vec<(PaymentId, Vec<Route>)>,
}

impl Ahead {
    /// Whether it was made for `payment`, starting at `now`, and nothing of the payment has
    /// happened yet.
    fn fits(&self, payment: &OutboundPayment, now: SimTime) -> bool {
        let key = &self.key;
        payment.attempts == 0
            && payment.in_flight.is_empty()
            && payment.started_at == now
            && key.now == now
            && key.destination == payment.destination
            && key.amount_msat == payment.amount_msat
            && key.min_final_cltv_expiry_delta == payment.min_final_cltv_expiry_delta
            && key.route_hints == payment.route_hints
            && key.router == payment.router
            && payment.mpp
            && !payment.router.uses_payment_seed()
    }
}

impl OutboundPayments {
    /// Payment `id`.
    pub fn get(&self, id: PaymentId) -> Option<&OutboundPayment> {
        self.payments.get(&id)
    }

    /// Every payment, by id.
    pub fn iter(&self) -> impl Iterator<Item = &OutboundPayment> {
        self.payments.values()
    }

    /// Whether a payment locked to `payment_hash` is in flight or paid (a failed one may be
    /// tried again).
    pub fn is_pending_or_paid(&self, payment_hash: &PaymentHash) -> bool {
        self.by_hash
            .get(payment_hash)
            .is_some_and(|id| !matches!(self.payments[id].status, PaymentStatus::Failed { .. }))
    }

    /// Takes `payment` on under the next id; the caller then sends its parts.
    pub fn start(&mut self, mut payment: OutboundPayment, out: &mut Outbox) -> PaymentId {
        let id = PaymentId(self.payments.len() as u64);
        payment.id = id;
        out.emit(Event::PaymentStarted {
            payment_id: id,
            payment_hash: payment.payment_hash,
            destination: payment.destination,
            amount_msat: payment.amount_msat,
            router: payment.router,
        });
        self.by_hash.insert(payment.payment_hash, id);
        self.payments.insert(id, payment);
        id
    }

    /// The routes of the parts payment `id` should send now, to cover what is not in flight, or
    /// `None` when it sends nothing more: it is covered, over, or gave up (past its deadline, or
    /// with no route for the rest) — a payment that gave up fails here once no part is in flight.
    pub fn next_routes(
        &mut self,
        id: PaymentId,
        view: &PayerView<'_>,
        out: &mut Outbox,
    ) -> Option<Vec<Route>> {
        loop {
            let payment = self.payments.get_mut(&id).expect("invariant: sending a known payment");
            if payment.status != PaymentStatus::InFlight {
                return None;
            }
            if payment.give_up.is_none() && view.now >= payment.deadline {
                payment.give_up = Some(FailureReason::Timeout);
            }
            if let Some(reason) = payment.give_up {
                if payment.in_flight.is_empty() {
                    self.fail(id, reason, view.now, out);
                }
                return None;
            }
            if payment.in_flight_msat() >= payment.amount_msat {
                return None;
            }
            // Parts sent at one instant are one round; a payer with a round limit gives up
            // rather than start another.
            let new_round = payment.last_round_at != Some(view.now);
            if new_round && payment.max_rounds > 0 && payment.rounds >= payment.max_rounds {
                payment.give_up = Some(FailureReason::AttemptLimit);
                continue;
            }
            let routes = self.plan(id, view);
            if !routes.is_empty() {
                let payment = self.payments.get_mut(&id).expect("exists");
                if new_round {
                    payment.rounds += 1;
                    payment.last_round_at = Some(view.now);
                }
                return Some(routes);
            }
            self.payments.get_mut(&id).expect("exists").give_up = Some(FailureReason::NoRoute);
        }
    }

    /// Routes for what payment `id` still has to send, from its router: the plan made ahead
    /// for it, if one is offered and was made for this payment at this instant, else a search
    /// now.
    fn plan(&mut self, id: PaymentId, view: &PayerView<'_>) -> Vec<Route> {
        let payment = &self.payments[&id];
        if let Some(ahead) = self.ahead.take()
            && ahead.fits(payment, view.now)
        {
            if !ahead.rest.is_empty() {
                self.copied = Copied::Take(ahead.rest.into());
            }
            return ahead.routes;
        }
        let router = router_for(&mut self.routers, payment.router);
        if let Copied::Take(plans) = &mut self.copied {
            match plans.pop_front() {
                Some((planned, routes)) if planned == id => {
                    debug_assert_eq!(
                        plan_with(router, payment, &self.in_flight_by_channel, view),
                        routes,
                        "a copy of the payer planned otherwise"
                    );
                    return routes;
                }
                _ => self.copied = Copied::Off,
            }
        }
        let routes = plan_with(router, payment, &self.in_flight_by_channel, view);
        if let Copied::Record(plans) = &mut self.copied {
            plans.push((id, routes.clone()));
        }
        routes
    }

    /// Records every plan from now on, in order (on a copy of the payer).
    pub fn record_plans(&mut self) {
        self.copied = Copied::Record(Vec::new());
    }

    /// The plans recorded since [`OutboundPayments::record_plans`].
    pub fn recorded_plans(&mut self) -> Vec<(PaymentId, Vec<Route>)> {
        match std::mem::take(&mut self.copied) {
            Copied::Record(plans) => plans,
            _ => Vec::new(),
        }
    }

    /// Offers `plans`, recorded by a copy of the payer that handled the input about to be
    /// handled in the same state, to be taken in order.
    pub fn offer_copied(&mut self, plans: Vec<(PaymentId, Vec<Route>)>) {
        self.copied = Copied::Take(plans.into());
    }

    /// Withdraws what is left of offered plans.
    pub fn withdraw_copied(&mut self) {
        self.copied = Copied::Off;
    }

    /// What [`OutboundPayments::plan`] would answer for `payment` (not taken on yet) as its
    /// first plan, without changing anything: its router as it is now, or a fresh one if the
    /// payer has not used that router yet.
    pub fn plan_ahead(&self, payment: &OutboundPayment, view: &PayerView<'_>) -> Vec<Route> {
        let fresh;
        let router = match self.routers.iter().find(|(c, _)| *c == payment.router) {
            Some((_, router)) => router.as_ref(),
            None => {
                fresh = payment.router.build();
                fresh.as_ref()
            }
        };
        plan_with(router, payment, &self.in_flight_by_channel, view)
    }

    /// Offers the routes a plan made ahead found, for the next payment's first plan only if it
    /// is the payment `key` describes, and with them `rest`, the plans a copy of the payer made
    /// next while starting that payment (see [`OutboundPayments::offer_copied`]; withdrawn with
    /// [`OutboundPayments::withdraw_copied`]).
    pub fn offer_ahead(
        &mut self,
        key: AheadKey,
        routes: Vec<Route>,
        rest: Vec<(PaymentId, Vec<Route>)>,
    ) {
        self.ahead = Some(Ahead { key, routes, rest });
    }

    /// Withdraws an offered plan that was not taken.
    pub fn withdraw_ahead(&mut self) {
        self.ahead = None;
    }

    /// Starts the next attempt of payment `id`, over `route`: returns what its HTLC carries.
    pub fn begin_attempt(&mut self, id: PaymentId, route: &Route, out: &mut Outbox) -> Attempt {
        let payment = self.payments.get_mut(&id).expect("invariant: sending a known payment");
        let onion = payment.onion_for(route);
        payment.attempts += 1;
        let number = payment.attempts;
        out.emit(Event::PaymentAttempted { payment_id: id, attempt: number, route: route.clone() });
        Attempt { number, payment_hash: payment.payment_hash, onion }
    }

    /// The HTLC of attempt `attempt` of payment `id` is on its way over `route`.
    pub fn attempt_sent(&mut self, id: PaymentId, attempt: u32, route: Route) {
        self.track_in_flight(&route, true);
        let payment = self.payments.get_mut(&id).expect("invariant: a known payment");
        payment.in_flight.insert(attempt, route);
    }

    /// Our own channel `scid` refused the HTLC of attempt `attempt`: the payment no longer tries
    /// that channel.
    pub fn attempt_refused(
        &mut self,
        id: PaymentId,
        attempt: u32,
        scid: Scid,
        me: NodeId,
        out: &mut Outbox,
    ) {
        let payment = self.payments.get_mut(&id).expect("invariant: a known payment");
        payment.excluded_channels.insert((scid, me));
        let failure = AttemptFailure {
            failing_hop: 0,
            code: FailureCode::TEMPORARY_CHANNEL_FAILURE,
            scid: Some(scid),
            on_chain: false,
        };
        payment.last_failure = Some(failure);
        out.emit(Event::PaymentAttemptFailed { payment_id: id, attempt, failure });
    }

    /// Attempt `attempt` of payment `id` failed downstream; the error names the failing hop.
    /// Returns the failure if the attempt was in flight (the payment may then send more, and the
    /// node may apply the failure's `channel_update` to its graph).
    pub fn attempt_failed(
        &mut self,
        id: PaymentId,
        attempt: u32,
        packet: ErrorPacket,
        view: &LearnView<'_>,
        out: &mut Outbox,
    ) -> Option<Failure> {
        let payment = self.payments.get_mut(&id)?;
        let route = payment.in_flight.remove(&attempt)?;
        let (failing_hop, failure) = packet.unwrap_at_sender();
        let memory = router_for(&mut self.routers, payment.router).failure_memory();
        let (record, verdict) = payment.learn(view.me, &route, failing_hop, &failure, memory);
        self.part_failed(id, attempt, &route, record, verdict, view, out);
        Some(failure)
    }

    /// Attempt `attempt` of payment `id` failed at our own channel, as `failure` says (hop 0):
    /// after a disconnection dropped it, or on chain. The payment no longer tries that channel.
    /// Returns whether it was in flight.
    pub fn attempt_failed_here(
        &mut self,
        id: PaymentId,
        attempt: u32,
        failure: AttemptFailure,
        view: &LearnView<'_>,
        out: &mut Outbox,
    ) -> bool {
        let Some(payment) = self.payments.get_mut(&id) else { return false };
        let Some(route) = payment.in_flight.remove(&attempt) else { return false };
        if let Some(scid) = failure.scid {
            payment.excluded_channels.insert((scid, view.me));
        }
        self.part_failed(id, attempt, &route, failure, Verdict::Retry, view, out);
        true
    }

    /// Records a failed part and lets the payment's router learn from it.
    #[allow(clippy::too_many_arguments)]
    fn part_failed(
        &mut self,
        id: PaymentId,
        attempt: u32,
        route: &Route,
        failure: AttemptFailure,
        verdict: Verdict,
        view: &LearnView<'_>,
        out: &mut Outbox,
    ) {
        self.track_in_flight(route, false);
        let payment = self.payments.get_mut(&id).expect("invariant: a known payment");
        payment.last_failure = Some(failure);
        if let Verdict::GiveUp(reason) = verdict {
            payment.give_up.get_or_insert(reason);
        }
        let config = payment.router;
        out.emit(Event::PaymentAttemptFailed { payment_id: id, attempt, failure });
        let learned = Learned::Failed { failing_hop: failure.failing_hop, code: failure.code };
        router_for(&mut self.routers, config).learn(view.graph, view.now, view.me, route, learned);
    }

    /// Attempt `attempt` of payment `id` settled: the first part to settle pays the payment.
    pub fn attempt_settled(
        &mut self,
        id: PaymentId,
        attempt: u32,
        preimage: Preimage,
        on_chain: bool,
        view: &LearnView<'_>,
        out: &mut Outbox,
    ) {
        let Some(payment) = self.payments.get_mut(&id) else { return };
        let Some(route) = payment.in_flight.remove(&attempt) else { return };
        payment.settled.insert(attempt, route.clone());
        let config = payment.router;
        self.track_in_flight(&route, false);
        out.emit(Event::PaymentPartSettled { payment_id: id, attempt, on_chain });
        let router = router_for(&mut self.routers, config);
        router.learn(view.graph, view.now, view.me, &route, Learned::Succeeded);
        let payment = self.payments.get_mut(&id).expect("exists");
        if payment.status != PaymentStatus::InFlight {
            return;
        }
        payment.status = PaymentStatus::Succeeded { preimage, at: view.now };
        let parts: BTreeMap<u32, Route> = payment
            .settled
            .iter()
            .chain(&payment.in_flight)
            .map(|(attempt, route)| (*attempt, route.clone()))
            .collect();
        let parts: Vec<Route> = parts.into_values().collect();
        let fee_msat = parts.iter().map(Route::fee_msat).sum();
        let attempts = payment.attempts;
        out.emit(Event::PaymentSucceeded {
            payment_id: id,
            preimage,
            attempts,
            parts,
            fee_msat,
            on_chain,
        });
    }

    fn fail(&mut self, id: PaymentId, reason: FailureReason, now: SimTime, out: &mut Outbox) {
        let payment = self.payments.get_mut(&id).expect("invariant: failing a known payment");
        payment.status = PaymentStatus::Failed { reason, at: now };
        let (attempts, last_failure) = (payment.attempts, payment.last_failure);
        out.emit(Event::PaymentFailed { payment_id: id, reason, attempts, last_failure });
    }

    /// Adds (or, once it ended, removes) a part's HTLCs beyond the first hop to what our
    /// payments have in flight per channel direction.
    fn track_in_flight(&mut self, route: &Route, add: bool) {
        for (i, hop) in route.hops.iter().enumerate().skip(1) {
            let key = (hop.scid, route.hops[i - 1].node_id);
            let used = self.in_flight_by_channel.entry(key).or_insert(0);
            if add {
                *used += hop.amount_msat;
            } else {
                *used -= hop.amount_msat;
                if *used == 0 {
                    self.in_flight_by_channel.remove(&key);
                }
            }
        }
    }
}

/// What learning from a part's outcome needs from the payer's node.
pub(crate) struct LearnView<'a> {
    /// The payer.
    pub me: NodeId,
    /// Now.
    pub now: SimTime,
    /// The payer's view of the network.
    pub graph: &'a GraphView,
}

/// Routes for what `payment` still has to send, from `router`. A router that does not split
/// gets the whole rest first, then halves of it down to the payment's smallest part (as lnd
/// does), while the payment may have more parts.
fn plan_with(
    router: &dyn Router,
    payment: &OutboundPayment,
    in_flight: &BTreeMap<(Scid, NodeId), u64>,
    view: &PayerView<'_>,
) -> Vec<Route> {
    let parts_left = if payment.mpp {
        (payment.max_parts as usize).saturating_sub(payment.in_flight.len())
    } else {
        usize::from(payment.in_flight.is_empty())
    };
    if parts_left == 0 {
        return Vec::new();
    }
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&payment.payment_hash.0[..8]);
    let mut req = RouteRequest {
        source: view.me,
        target: payment.destination,
        amount_msat: payment.amount_msat - payment.in_flight_msat(),
        current_height: view.height,
        final_cltv_delta: u32::from(payment.min_final_cltv_expiry_delta)
            + u32::from(view.config.final_cltv_margin_blocks),
        max_fee_msat: payment.max_fee_msat.saturating_sub(payment.in_flight_fee_msat()),
        max_total_cltv_delta: view.config.max_total_cltv_delta,
        max_hops: usize::from(view.config.max_route_hops),
        first_hops: view.first_hops,
        hints: &payment.route_hints,
        excluded_channels: &payment.excluded_channels,
        excluded_nodes: &payment.excluded_nodes,
        policy_overrides: &payment.policy_overrides,
        capacity_caps: &payment.capacity_caps,
        in_flight,
        now: view.now,
        fuzz_seed: u64::from_be_bytes(seed),
        max_parts: parts_left,
    };
    loop {
        let routes = router.plan(view.graph, &req);
        if !routes.is_empty() {
            return routes;
        }
        let half_msat = req.amount_msat / 2;
        if router.splits() || parts_left < 2 || half_msat < payment.min_part_msat.max(1) {
            return routes;
        }
        req.amount_msat = half_msat;
    }
}

/// The router `config` of a payer, built on first use.
fn router_for(
    routers: &mut Vec<(RouterConfig, Box<dyn Router>)>,
    config: RouterConfig,
) -> &mut dyn Router {
    let index = match routers.iter().position(|(c, _)| *c == config) {
        Some(index) => index,
        None => {
            routers.push((config, config.build()));
            routers.len() - 1
        }
    };
    routers[index].1.as_mut()
}
