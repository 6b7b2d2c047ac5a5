//! Plans made ahead: a payment's first route search done before the payment starts, read-only,
//! so that a driver can run the searches of several payments about to start at once, on other
//! threads, and hand each to its payment when it starts. A plan is only an answer computed
//! early: the node takes it only if it is exactly the answer it would compute when the payment
//! starts — the same payment (payee, amount, invoice terms, router), at the same instant, and
//! the payer has taken no input since the plan was made (nothing it routes on changed: view,
//! channels, routers, height). Otherwise it searches as usual. Results never depend on whether
//! a plan was offered. Where the first plan covers only part of the amount (no one route
//! carries it), the payment plans its next parts while it starts, each once those before are
//! sent: a copy of the payer starts the payment ahead and records those plans, taken with the
//! first as a copy's are below ([`Node::plan_rest`]).
//!
//! Retries are planned ahead too, another way: a retry is searched while the payer handles the
//! `revoke_and_ack` that fails an attempt for good, so a driver that knows such a message is
//! coming (it is sent before it arrives) can have a copy of the payer handle it first
//! ([`Node::speculate`]: the node cloned, its view detached from the graph the nodes share) and
//! record the plans the copy makes. The payer takes them, in order, only if it took no input
//! since it was copied and handles that very message at that instant: then it is in the copy's
//! state and plans what the copy planned (a debug build checks each one). A copy that would
//! have written to the shared graph (gossip new to it in the failure) offers nothing.
//!
//! This does not precompute routes across payments: each plan is made for one payment, in the
//! payer's own view, and used by that payment only. Routers whose answer depends on the
//! payment's random value (which the payee's invoice fixes) are not planned ahead for a
//! payment's start ([`RouterConfig::uses_payment_seed`]); a copy of the payer draws what the
//! payer would.

use super::Node;
use crate::command::{Command, CommandError, CommandOutput};
use crate::ids::{NodeId, PaymentHash, SimTime};
use crate::invoice::RouteHint;
use crate::msg::Message;
use crate::payment::{AheadKey, OutboundPayment, PayerView, PaymentId};
use crate::router::{Route, RouterConfig};

/// What an invoice tells the payer's router beyond payee and amount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceTerms {
    /// `min_final_cltv_expiry_delta`, blocks.
    pub min_final_cltv_expiry_delta: u16,
    /// The route hints.
    pub route_hints: Vec<RouteHint>,
}

/// The first plan of a payment, made ahead ([`Node::plan_ahead`]), for
/// [`Node::command_planned`].
#[derive(Clone, Debug)]
pub struct PlannedPayment {
    /// The payer that made it.
    payer: NodeId,
    /// The payer's input count when the plan was made.
    inputs: u64,
    key: AheadKey,
    routes: Vec<Route>,
    /// Where `routes` cover only part of the amount: the plans a copy of the payer made for
    /// the rest while starting the payment (its next parts are planned once the first are
    /// sent), in order ([`Node::plan_rest`]).
    rest: Vec<(PaymentId, Vec<Route>)>,
}

impl PlannedPayment {
    /// The routes found (none: no route).
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

impl Node {
    /// What an invoice of ours for `amount_msat` would carry for the payer's router now (as
    /// `CreateInvoice` makes it).
    pub fn invoice_terms(&self, amount_msat: u64) -> InvoiceTerms {
        InvoiceTerms {
            min_final_cltv_expiry_delta: self.config.min_final_cltv_expiry_delta,
            route_hints: self.route_hints(amount_msat),
        }
    }

    /// Makes, without changing anything, the first plan of a payment of an invoice from `payee`
    /// for `amount_msat` with `terms`, as `Pay` would make it at `now` if the node took no input
    /// before: `None` if `Pay` would refuse the payment or its router draws on the payment's
    /// random value.
    pub fn plan_ahead(
        &self,
        now: SimTime,
        payee: NodeId,
        amount_msat: u64,
        terms: InvoiceTerms,
        router: Option<RouterConfig>,
    ) -> Option<PlannedPayment> {
        let router = router.unwrap_or(self.config.router);
        let refused = payee == self.id
            || amount_msat == 0
            || amount_msat > crate::chain::MAX_MONEY_MSAT
            || now < self.now;
        if refused || router.uses_payment_seed() {
            return None;
        }
        let key = AheadKey {
            destination: payee,
            amount_msat,
            min_final_cltv_expiry_delta: terms.min_final_cltv_expiry_delta,
            route_hints: terms.route_hints.clone(),
            router,
            now,
        };
        // The payment hash only seeds routers excluded above.
        let payment =
            self.invoice_payment(PaymentHash([0; 32]), payee, amount_msat, terms, router, now);
        let first_hops = self.first_hops();
        let view = PayerView {
            me: self.id,
            now,
            height: self.height,
            graph: &self.graph,
            config: &self.config,
            first_hops: &first_hops,
        };
        let routes = self.payments.plan_ahead(&payment, &view);
        let covered_msat: u64 = routes.iter().map(Route::delivered_msat).sum();
        let rest = match routes.is_empty() || covered_msat >= amount_msat {
            true => Vec::new(),
            false => self.plan_rest(now, payment, &key, &routes),
        };
        Some(PlannedPayment { payer: self.id, inputs: self.inputs, key, routes, rest })
    }

    /// The plans a payment whose first plan is `routes` makes next while it starts at `now`
    /// (its parts are planned one after another: each once those before are sent), made on a
    /// copy of this node that starts it as `Pay` would, with no input before: empty if the copy
    /// made none (or, a guard: starting a payment writes nothing to the graph, if the copy
    /// would have had to write to the graph the nodes share). The
    /// payment's hash and secret, which the copy does not know, decide no plan (routers drawing
    /// on the payment's random value are not planned ahead).
    fn plan_rest(
        &self,
        now: SimTime,
        payment: OutboundPayment,
        key: &AheadKey,
        routes: &[Route],
    ) -> Vec<(PaymentId, Vec<Route>)> {
        let mut copy = self.clone();
        copy.graph.detach();
        copy.tick(now);
        copy.payments.offer_ahead(key.clone(), routes.to_vec(), Vec::new());
        copy.payments.record_plans();
        copy.start_payment(payment);
        let plans = copy.payments.recorded_plans();
        match copy.graph.is_tainted() {
            true => Vec::new(),
            false => plans,
        }
    }

    /// [`Node::command`], offering `planned` to the payment a `Pay` command starts: taken if
    /// this node made it, took no input since, and made it for this payment at this instant;
    /// ignored otherwise. The outcome is the same either way.
    pub fn command_planned(
        &mut self,
        now: SimTime,
        command: Command,
        planned: Option<PlannedPayment>,
    ) -> Result<CommandOutput, CommandError> {
        if let Some(planned) = planned
            && planned.payer == self.id
            && planned.inputs == self.inputs
        {
            self.payments.offer_ahead(planned.key, planned.routes, planned.rest);
        }
        let result = self.command(now, command);
        self.payments.withdraw_ahead();
        self.payments.withdraw_copied();
        result
    }
}

/// The plans a payer would make while handling one input, found ahead by a copy of it
/// ([`Node::speculate`]), for [`Node::handle_message_speculated`].
#[derive(Clone, Debug)]
pub struct Speculation {
    payer: NodeId,
    /// The payer's input count when it was copied.
    inputs: u64,
    from: NodeId,
    at: SimTime,
    msg: Message,
    plans: Vec<(PaymentId, Vec<Route>)>,
}

impl Node {
    /// Handles, on a copy of this node, `msg` from `from` as if it arrived at `at` with no input
    /// before: the plans the copy made, if the message is a `revoke_and_ack` that fails an HTLC
    /// of one of our payments for good (its retry is then planned while handling it), the copy
    /// planned something, and it learnt nothing it would have had to write to the graph the
    /// nodes share (it does not: [`crate::graph::GraphView::detach`]). Changes nothing.
    pub fn speculate(&self, at: SimTime, from: NodeId, msg: &Message) -> Option<Speculation> {
        if at < self.now || !self.may_plan_on(from, msg) {
            return None;
        }
        let mut copy = self.clone();
        copy.graph.detach();
        copy.payments.record_plans();
        copy.handle_message(at, from, msg.clone());
        let plans = copy.payments.recorded_plans();
        if copy.graph.is_tainted() || plans.is_empty() {
            return None;
        }
        Some(Speculation { payer: self.id, inputs: self.inputs, from, at, msg: msg.clone(), plans })
    }

    /// Whether `msg` from `from`, handled now, may make the node plan: a `revoke_and_ack` that
    /// fails an HTLC of one of our payments for good, whose retry is planned while handling it
    /// (what [`Node::speculate`] checks first; cheap).
    pub fn may_plan_on(&self, from: NodeId, msg: &Message) -> bool {
        let Message::RevokeAndAck(revoke) = msg else { return false };
        let id = revoke.channel_id;
        let Some(channel) = self.channels.get(id).filter(|c| c.peer() == from) else {
            return false;
        };
        channel.failed_on_revocation().any(|h| self.switch.is_local((id, h)))
    }

    /// [`Node::handle_message`], offering the plans of `speculation`: taken if this node made
    /// it, took no input since, and it was made for this message from this sender at this
    /// instant; ignored otherwise. The outcome is the same either way; returns whether they
    /// were offered (for a driver's own count, which must reach no output: it depends on
    /// timing).
    pub fn handle_message_speculated(
        &mut self,
        now: SimTime,
        from: NodeId,
        msg: Message,
        speculation: Option<Speculation>,
    ) -> bool {
        let offered = match speculation {
            Some(s)
                if (s.payer, s.inputs, s.from, s.at) == (self.id, self.inputs, from, now)
                    && s.msg == msg =>
            {
                self.payments.offer_copied(s.plans);
                true
            }
            _ => false,
        };
        self.handle_message(now, from, msg);
        self.payments.withdraw_copied();
        offered
    }
}

// Plans are made on other threads, from shared references to the nodes.
const _: fn() = || {
    fn shared<T: Sync>() {}
    shared::<Node>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::invoice::Invoice;
    use crate::payment::FailureReason;
    use crate::testing::TestNet;

    const AMOUNT_MSAT: u64 = 50_000_000;

    /// `n` nodes with announced channels of 1,000,000 sat, each (funder, peer) all on the
    /// funder's side, and gossip spread.
    fn announced(n: usize, channels: &[(u32, u32)]) -> TestNet {
        let mut net = TestNet::new(n);
        for &(funder, peer) in channels {
            net.open_channel(funder, peer, 1_000_000, 0, true);
        }
        net.mine(6);
        net.advance(180);
        net.discard_routine_events();
        net
    }

    /// A line 0 - 1 - 2 of announced channels, gossip spread, and an invoice of node 2 with
    /// the plan node 0 makes now for paying it `in_s` seconds later.
    fn set_up(in_s: u64) -> (TestNet, Invoice, PlannedPayment) {
        let mut net = announced(3, &[(0, 1), (1, 2)]);
        let invoice = net.invoice(2, AMOUNT_MSAT);
        let terms = net.nodes[2].invoice_terms(AMOUNT_MSAT);
        assert_eq!(terms.min_final_cltv_expiry_delta, invoice.min_final_cltv_expiry_delta);
        assert_eq!(terms.route_hints, invoice.route_hints);
        let at = net.now.plus_secs(in_s);
        let planned = net.nodes[0].plan_ahead(at, NodeId(2), AMOUNT_MSAT, terms, None);
        let planned = planned.expect("lnd's router plans ahead");
        let nodes: Vec<NodeId> = planned.routes()[0].nodes().collect();
        assert_eq!(nodes, vec![NodeId(1), NodeId(2)]);
        (net, invoice, planned)
    }

    /// The outcome of node 0's payment: its reason to fail (`None`: it succeeded) and its
    /// attempts.
    fn outcome(net: &mut TestNet) -> (Option<FailureReason>, u32) {
        let done = net.take_events_where(|e| {
            matches!(e, Event::PaymentSucceeded { .. } | Event::PaymentFailed { .. })
        });
        net.discard_routine_events();
        net.take_events_where(|e| matches!(e, Event::InvoicePaid { .. }));
        match &done[..] {
            [(_, Event::PaymentSucceeded { attempts, .. })] => (None, *attempts),
            [(_, Event::PaymentFailed { reason, attempts, .. })] => (Some(*reason), *attempts),
            other => panic!("one outcome: {other:?}"),
        }
    }

    /// A plan whose routes were taken away: "no route" if the payment takes it.
    fn emptied(planned: &PlannedPayment) -> PlannedPayment {
        PlannedPayment { routes: Vec::new(), ..planned.clone() }
    }

    #[test]
    fn a_fresh_plan_replaces_the_first_search() {
        let (mut net, invoice, planned) = set_up(0);
        net.pay_planned(0, invoice.clone(), Some(planned));
        assert_eq!(outcome(&mut net), (None, 1), "the plan's route pays");
        // The payment takes what the plan says, and searches no more: a plan emptied by hand
        // (which no search would give here) fails the next payment at once.
        let (mut net, invoice, planned) = set_up(0);
        net.pay_planned(0, invoice, Some(emptied(&planned)));
        assert_eq!(outcome(&mut net), (Some(FailureReason::NoRoute), 0));
    }

    #[test]
    fn a_plan_is_not_taken_after_an_input_from_another_node_or_for_another_payment() {
        // The payer took an input (a block, a minute later) since the plan for that minute was
        // made.
        let (mut net, invoice, planned) = set_up(60);
        net.mine(1);
        assert_eq!(net.now, planned.key.now);
        net.discard_routine_events();
        net.pay_planned(0, invoice, Some(emptied(&planned)));
        assert_eq!(outcome(&mut net), (None, 1), "searched anew");
        // Made by another node.
        let (mut net, invoice, planned) = set_up(0);
        net.pay_planned(0, invoice, Some(PlannedPayment { payer: NodeId(1), ..emptied(&planned) }));
        assert_eq!(outcome(&mut net), (None, 1), "not taken from node 1");
        // Made for another amount, payee, instant, router or final CLTV delta.
        let key = set_up(0).2.key;
        let others = [
            AheadKey { amount_msat: AMOUNT_MSAT + 1, ..key.clone() },
            AheadKey { destination: NodeId(1), ..key.clone() },
            AheadKey { now: key.now.plus_micros(1), ..key.clone() },
            AheadKey { router: RouterConfig::Cheapest, ..key.clone() },
            AheadKey { min_final_cltv_expiry_delta: 9, ..key.clone() },
        ];
        for key in others {
            let (mut net, invoice, planned) = set_up(0);
            let wrong = PlannedPayment { key: key.clone(), ..emptied(&planned) };
            net.pay_planned(0, invoice, Some(wrong));
            assert_eq!(outcome(&mut net), (None, 1), "not taken for {key:?}");
        }
    }

    /// More than one channel of [`announced`] carries: paid in two parts.
    const PARTS_MSAT: u64 = 1_500_000_000;

    /// Nodes 0 - 1 - 2 and 0 - 3 - 2, gossip spread, an invoice of node 2 for [`PARTS_MSAT`],
    /// and the plan node 0 makes now for paying it: no one route carries the amount, so the
    /// payment sends half, then plans the other half (on a copy of node 0, ahead).
    fn set_up_parts() -> (TestNet, Invoice, PlannedPayment) {
        let mut net = announced(4, &[(0, 1), (1, 2), (0, 3), (3, 2)]);
        let invoice = net.invoice(2, PARTS_MSAT);
        let terms = net.nodes[2].invoice_terms(PARTS_MSAT);
        let planned = net.nodes[0].plan_ahead(net.now, NodeId(2), PARTS_MSAT, terms, None);
        (net, invoice, planned.expect("lnd's router plans ahead"))
    }

    /// The payments' parts sent (and then settled, or failed), read.
    fn parts_sent(net: &mut TestNet) -> usize {
        net.take_events_where(|e| matches!(e, Event::PaymentAttempted { .. })).len()
    }

    #[test]
    fn a_copy_plans_the_parts_a_payment_sends_after_its_first() {
        let (mut net, invoice, planned) = set_up_parts();
        let [first] = &planned.routes[..] else { panic!("one route first: {planned:?}") };
        let [(id, rest)] = &planned.rest[..] else { panic!("one plan next: {planned:?}") };
        let [second] = &rest[..] else { panic!("one route next: {rest:?}") };
        assert_eq!(first.delivered_msat() + second.delivered_msat(), PARTS_MSAT);
        let peers = [first.hops[0].node_id, second.hops[0].node_id];
        assert!(peers == [NodeId(1), NodeId(3)] || peers == [NodeId(3), NodeId(1)], "{peers:?}");
        // Taken (a debug build checks each is the payer's own plan), with the outcome of the
        // payment planned on the spot.
        let expected_id = *id;
        assert_eq!(net.pay_planned(0, invoice, Some(planned)), expected_id);
        assert_eq!(parts_sent(&mut net), 2);
        assert_eq!(outcome(&mut net), (None, 2));
        let (mut net, invoice, _) = set_up_parts();
        net.pay_planned(0, invoice, None);
        assert_eq!(parts_sent(&mut net), 2);
        assert_eq!(outcome(&mut net), (None, 2));
    }

    /// The payer takes the copy's plan for its second part: emptied by hand, it sends one part
    /// only, and a debug build stops on it.
    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "a copy of the payer planned otherwise"))]
    fn the_payer_takes_the_plans_of_its_next_parts() {
        let (mut net, invoice, mut planned) = set_up_parts();
        planned.rest.iter_mut().for_each(|(_, routes)| routes.clear());
        net.pay_planned(0, invoice, Some(planned));
        assert_eq!(parts_sent(&mut net), 1);
    }

    /// The plans of the next parts come with the first: offered only if it is taken.
    #[test]
    fn the_plans_of_the_next_parts_are_not_taken_without_the_first() {
        let (mut net, invoice, mut planned) = set_up_parts();
        planned.rest.iter_mut().for_each(|(_, routes)| routes.clear());
        planned.key.now = planned.key.now.plus_micros(1);
        net.pay_planned(0, invoice, Some(planned));
        assert_eq!(parts_sent(&mut net), 2, "planned anew");
        assert_eq!(outcome(&mut net), (None, 2));
    }

    /// Nodes 0 - 1 - 2 and 1 - 3 - 2, gossip spread, where node 1 cannot forward to 2 (node 2
    /// funded their channel): node 0's payment to 2 tries 0 - 1 - 2 first, fails at 1 and
    /// retries over 3 when the failure is irrevocable, on the `revoke_and_ack` from 1.
    fn set_up_retry() -> (TestNet, Invoice) {
        let mut net = announced(4, &[(0, 1), (2, 1), (1, 3), (3, 2)]);
        let invoice = net.invoice(2, AMOUNT_MSAT);
        (net, invoice)
    }

    /// Node 0 pays `invoice`, and the messages are delivered, each that may make it plan handed
    /// to it with what a copy of it planned, through `edit`; returns how many were.
    fn pay_speculated(
        net: &mut TestNet,
        invoice: Invoice,
        edit: impl FnMut(&mut TestNet, Speculation) -> Speculation,
    ) -> usize {
        let command = Command::Pay { invoice, amount_msat: None, router: None };
        net.command(0, command);
        net.deliver_all_speculated(0, edit)
    }

    /// [`outcome`] of a payment whose first attempt failed: the refusal at node 1 and the
    /// failed attempt read too.
    fn retried(net: &mut TestNet) -> (Option<FailureReason>, u32) {
        let outcome = outcome(net);
        let failed = net.take_events_where(|e| {
            matches!(e, Event::HtlcRefused { .. } | Event::PaymentAttemptFailed { .. })
        });
        assert_eq!(failed.len(), 2, "node 1 refuses the first attempt: {failed:?}");
        outcome
    }

    /// A speculation whose plans were taken away: "no route" for the retry if it is taken.
    fn emptied_plans(mut speculation: Speculation) -> Speculation {
        speculation.plans.iter_mut().for_each(|(_, routes)| routes.clear());
        speculation
    }

    #[test]
    fn a_copy_plans_the_retry_the_payer_makes() {
        let (mut net, invoice) = set_up_retry();
        let mut plans = Vec::new();
        let handed = pay_speculated(&mut net, invoice, |_, s| {
            plans.push(s.plans.clone());
            s
        });
        assert_eq!(handed, 1, "one revoke_and_ack fails the first attempt for good");
        let [(_, routes)] = &plans[0][..] else { panic!("one plan: {plans:?}") };
        let nodes: Vec<NodeId> = routes[0].nodes().collect();
        assert_eq!(nodes, vec![NodeId(1), NodeId(3), NodeId(2)], "the retry goes around");
        // Taken (a debug build checks it is the payer's own plan), the outcome is the one
        // without it.
        assert_eq!(retried(&mut net), (None, 2));
        let (mut net, invoice) = set_up_retry();
        net.pay_planned(0, invoice, None);
        assert_eq!(retried(&mut net), (None, 2));
    }

    /// The payer takes the copy's plans instead of planning: emptied by hand, they would fail
    /// the payment, and a debug build stops on them.
    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "a copy of the payer planned otherwise"))]
    fn the_payer_takes_the_copy_s_plans() {
        let (mut net, invoice) = set_up_retry();
        pay_speculated(&mut net, invoice, |_, s| emptied_plans(s));
        assert_eq!(retried(&mut net), (Some(FailureReason::NoRoute), 1));
    }

    #[test]
    fn a_copy_is_not_taken_after_another_input_or_for_another_message() {
        // Another input to the payer between the copy and the message.
        let (mut net, invoice) = set_up_retry();
        let handed = pay_speculated(&mut net, invoice, |net, s| {
            net.command(0, Command::ListPeers);
            emptied_plans(s)
        });
        assert_eq!(handed, 1);
        assert_eq!(retried(&mut net), (None, 2), "planned anew");
        // Made for another instant, another sender, or another node.
        type Edit = fn(Speculation) -> Speculation;
        let edits: [Edit; 3] = [
            |s| Speculation { at: s.at.plus_micros(1), ..s },
            |s| Speculation { from: NodeId(3), ..s },
            |s| Speculation { payer: NodeId(1), ..s },
        ];
        for edit in edits {
            let (mut net, invoice) = set_up_retry();
            pay_speculated(&mut net, invoice, |_, s| edit(emptied_plans(s)));
            assert_eq!(retried(&mut net), (None, 2), "not taken");
        }
    }

    #[test]
    fn only_a_revocation_that_fails_a_payment_of_ours_is_worth_a_copy() {
        let (mut net, invoice) = set_up_retry();
        let command = Command::Pay { invoice, amount_msat: None, router: None };
        net.command(0, command);
        let mut worth = Vec::new();
        while net.deliver(1) == 1 {
            for (from, to, msg) in net.queued() {
                if net.nodes[to.index()].may_plan_on(*from, msg) {
                    worth.push((*from, *to, msg.type_number()));
                }
            }
        }
        worth.dedup();
        // The revoke_and_ack from 1 that removes the failed HTLC; node 1 forwards nothing.
        assert_eq!(worth, vec![(NodeId(1), NodeId(0), 133)]);
        assert_eq!(retried(&mut net), (None, 2));
    }
}
