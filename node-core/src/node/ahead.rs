//! Plans made ahead: a payment's first route search done before the payment starts, read-only,
//! so that a driver can run the searches of several payments about to start at once, on other
//! threads, and hand each to its payment when it starts. A plan is only an answer computed
//! early: the node takes it only if it is exactly the answer it would compute when the payment
//! starts — the same payment (payee, amount, invoice terms, router), at the same instant, and
//! the payer has taken no input since the plan was made (nothing it routes on changed: view,
//! channels, routers, height). Otherwise it searches as usual. Results never depend on whether
//! a plan was offered.
//!
//! This does not precompute routes across payments: each plan is made for one payment, in the
//! payer's own view, and used by that payment only. Routers whose answer depends on the
//! payment's random value (which the payee's invoice fixes) are not planned ahead
//! ([`RouterConfig::uses_payment_seed`]).

use super::Node;
use crate::command::{Command, CommandError, CommandOutput};
use crate::ids::{NodeId, PaymentHash, SimTime};
use crate::invoice::RouteHint;
use crate::payment::{AheadKey, PayerView};
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
        Some(PlannedPayment { payer: self.id, inputs: self.inputs, key, routes })
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
            self.payments.offer_ahead(planned.key, planned.routes);
        }
        let result = self.command(now, command);
        self.payments.withdraw_ahead();
        result
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

    /// A line 0 - 1 - 2 of announced channels, gossip spread, and an invoice of node 2 with
    /// the plan node 0 makes now for paying it `in_s` seconds later.
    fn set_up(in_s: u64) -> (TestNet, Invoice, PlannedPayment) {
        let mut net = TestNet::new(3);
        net.open_channel(0, 1, 1_000_000, 0, true);
        net.open_channel(1, 2, 1_000_000, 0, true);
        net.mine(6);
        net.advance(180);
        net.discard_routine_events();
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
}
