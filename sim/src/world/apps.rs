//! Applications on top of the nodes, as the world runs them: shops answering buy requests over
//! HTTP-like links and polling their node for paid invoices, customers paying what they are
//! invoiced, the random payment workload and the scenario's payment list. Each talks to nodes
//! only through commands; what shops and workloads decide is in [`crate::shop`] and
//! [`crate::workload`], and this file carries it out.

use super::{SimEvent, World};
use crate::genesis::Genesis;
use crate::results::Refusal;
use crate::rng::StreamId;
use crate::scenario::Scenario;
use crate::shop::{AppMessage, AppSend};
use crate::trace::Kind;
use crate::workload::{Arrival, Endpoints, Picker, Workload};
use node_core::node::{Command, CommandOutput, PlannedPayment};
use node_core::payment::PaymentId;
use node_core::router::RouterConfig;
use node_core::{Node, NodeId};
use std::collections::BTreeMap;
use std::ops::Deref;

/// The workload of `scenario` on the network of `genesis`: senders and receivers are drawn from
/// the nodes with a channel that can carry a payment in at least one direction (weighted, where
/// asked, by those channels' capacity).
pub(super) fn workload<N: Deref<Target = Node>>(
    scenario: &Scenario,
    genesis: &Genesis,
    nodes: impl ExactSizeIterator<Item = N>,
) -> Option<Workload> {
    let spec = scenario.workload.clone()?;
    let (send_msat, receive_msat) = liquidity(nodes);
    let mut capacity_sat: BTreeMap<NodeId, u64> = BTreeMap::new();
    for c in genesis.channels.iter().map(|c| &c.def).filter(|c| !(c.from_disabled && c.to_disabled))
    {
        for node in [c.from, c.to] {
            *capacity_sat.entry(node).or_default() += c.capacity_sat;
        }
    }
    let participants: Vec<NodeId> = capacity_sat.keys().copied().collect();
    let at_least = |have: &[u64], amount_sat: u64| {
        let need_msat = amount_sat.saturating_mul(1000);
        participants.iter().copied().filter(|n| have[n.index()] >= need_msat).collect()
    };
    let picker = |endpoints: &Endpoints| match endpoints {
        Endpoints::Uniform | Endpoints::Shops => Picker::uniform(participants.clone()),
        Endpoints::CapacityWeighted => {
            let weights: Vec<u64> = capacity_sat.values().copied().collect();
            Picker::weighted(participants.clone(), &weights)
        }
        Endpoints::Nodes(names) => Picker::uniform(
            names
                .iter()
                .map(|n| scenario.node_id(n).expect("invariant: validated names"))
                .collect(),
        ),
        Endpoints::CanSend { amount_sat } => Picker::uniform(at_least(&send_msat, *amount_sat)),
        Endpoints::CanReceive { amount_sat } => {
            Picker::uniform(at_least(&receive_msat, *amount_sat))
        }
        Endpoints::Largest(n) => {
            let mut by_size: Vec<(u64, NodeId)> =
                capacity_sat.iter().map(|(&node, &sat)| (sat, node)).collect();
            by_size.sort_by_key(|&(sat, node)| (std::cmp::Reverse(sat), node));
            let mut largest: Vec<NodeId> =
                by_size.into_iter().take(*n as usize).map(|(_, node)| node).collect();
            largest.sort();
            Picker::uniform(largest)
        }
    };
    let (senders, receivers) = (picker(&spec.senders), picker(&spec.receivers));
    let shop_items = scenario.shops.iter().map(|s| (s.node, s.items.len())).collect();
    let stream = StreamId::Workload.stream(scenario.seed);
    Some(Workload::new(spec, stream, senders, receivers, shop_items))
}

/// What each node's channels can send, and what its peers' channels can send it, msat, as
/// node-core computes what one more HTLC may carry ([`Node::spendable_channels`]), whether or
/// not the peers are connected.
pub(crate) fn liquidity<N: Deref<Target = Node>>(
    nodes: impl ExactSizeIterator<Item = N>,
) -> (Vec<u64>, Vec<u64>) {
    let (mut send_msat, mut receive_msat) = (vec![0u64; nodes.len()], vec![0u64; nodes.len()]);
    for (i, node) in nodes.enumerate() {
        for first in node.spendable_channels() {
            send_msat[i] = send_msat[i].saturating_add(first.available_msat);
            let peer = &mut receive_msat[first.peer.index()];
            *peer = peer.saturating_add(first.available_msat);
        }
    }
    (send_msat, receive_msat)
}

impl World<'_> {
    /// A payment of the workload: the receiver issues an invoice and the sender pays it, or a
    /// customer buys from a shop.
    pub(super) fn workload_payment(&mut self) {
        let workload = self.workload.as_mut().expect("invariant: payments come from a workload");
        let (upcoming, planned) = self.ahead.next(self.now, workload);
        let arrival = upcoming.arrival;
        let no_payee = workload.payer_is_payee(&arrival);
        if let Some(at) = upcoming.next_at {
            self.schedule(at, SimEvent::Payment);
        }
        if no_payee {
            let (from, to, amount_msat, router) = match arrival {
                Arrival::Pay { from, to, amount_msat, router } => (from, to, amount_msat, router),
                Arrival::Buy { customer, shop, item } => {
                    let def = &self.shops.defs()[shop];
                    (customer, def.node, def.items[item].price_msat, None)
                }
            };
            self.refused(from, to, amount_msat, router, Refusal::NoDistinctPayee);
            return;
        }
        match arrival {
            Arrival::Pay { from, to, amount_msat, router } => {
                // A refusal is recorded.
                let _ = self.pay_planned(from, to, amount_msat, router, planned);
            }
            Arrival::Buy { customer, shop, item } => {
                self.buy(customer, shop, item);
            }
        }
    }

    /// Payment `index` of the payment list, then the next one is scheduled.
    pub(super) fn list_payment(&mut self, index: usize) {
        let list = self.scenario.payment_list.as_ref().expect("invariant: a list is scheduled");
        let (_, from, to, amount_msat) = list.payments.payments[index];
        let router = match list.routers.len() {
            0 => None,
            n => Some(list.routers[index % n]),
        };
        if let Some(&(at, ..)) = list.payments.payments.get(index + 1) {
            self.schedule(at.max(self.now), SimEvent::ListPayment { index: index + 1 });
        }
        let planned = self.ahead.list_plan(index, self.now, list);
        let _ = self.pay_planned(from, to, amount_msat, router, planned); // a refusal is recorded
    }

    /// With the feasibility oracle on, classifies a payment about to start and labels the next
    /// record with it; the class reaches the results only.
    fn classify(&mut self, from: NodeId, to: NodeId, amount_msat: u64) {
        if let Some(oracle) = self.oracle.as_mut() {
            let hosts = &self.hosts;
            let online = |n: NodeId| hosts[n.index()].online;
            let class = oracle.classify(&self.nodes, &online, from, to, amount_msat);
            self.results.classify_next(Some(class));
        }
    }

    /// The receiver invoices and the sender pays; returns the payment, or records and returns
    /// why it was refused (a node down, or a command refused).
    pub(super) fn pay(
        &mut self,
        from: NodeId,
        to: NodeId,
        amount_msat: u64,
        router: Option<RouterConfig>,
    ) -> Result<PaymentId, Refusal> {
        self.pay_planned(from, to, amount_msat, router, None)
    }

    /// [`World::pay`], offering the payer a plan made ahead for this payment.
    fn pay_planned(
        &mut self,
        from: NodeId,
        to: NodeId,
        amount_msat: u64,
        router: Option<RouterConfig>,
        planned: Option<PlannedPayment>,
    ) -> Result<PaymentId, Refusal> {
        self.classify(from, to, amount_msat);
        let command = Command::CreateInvoice {
            amount_msat: Some(amount_msat),
            description: String::new(),
            expiry_s: None,
        };
        let invoice = match self.command(to, command) {
            Ok(CommandOutput::Invoice(invoice)) => invoice,
            Ok(other) => unreachable!("an invoice command answers with an invoice: {other:?}"),
            Err(error) => {
                let refusal = error.map_or(Refusal::PayeeOffline, Refusal::Invoice);
                self.refused(from, to, amount_msat, router, refusal);
                return Err(refusal);
            }
        };
        self.start_payment(
            from,
            to,
            amount_msat,
            router,
            Command::Pay { invoice, amount_msat: None, router },
            planned,
        )
    }

    /// The sender pays `to` without an invoice; returns the payment, or records and returns why
    /// it was refused.
    pub(super) fn keysend(
        &mut self,
        from: NodeId,
        to: NodeId,
        amount_msat: u64,
        router: Option<RouterConfig>,
    ) -> Result<PaymentId, Refusal> {
        self.classify(from, to, amount_msat);
        let command = Command::Keysend { destination: to, amount_msat, router };
        self.start_payment(from, to, amount_msat, router, command, None)
    }

    /// Runs a payment command on the payer; returns the payment, or records and returns why it
    /// was refused.
    fn start_payment(
        &mut self,
        from: NodeId,
        to: NodeId,
        amount_msat: u64,
        router: Option<RouterConfig>,
        command: Command,
        planned: Option<PlannedPayment>,
    ) -> Result<PaymentId, Refusal> {
        let out = self.command_planned(from, command, planned);
        self.results.classify_next(None);
        match out {
            Ok(CommandOutput::Payment(payment)) => Ok(payment),
            Ok(other) => unreachable!("a payment command answers with a payment: {other:?}"),
            Err(error) => {
                let refusal = error.map_or(Refusal::PayerOffline, Refusal::Pay);
                self.refused(from, to, amount_msat, router, refusal);
                Err(refusal)
            }
        }
    }

    /// A customer asks a shop for an item; returns the order.
    pub(super) fn buy(&mut self, customer: NodeId, shop: usize, item: usize) -> u64 {
        let (order, send) = self.shops.request(self.now, customer, shop, item);
        let shop_node = self.shops.defs()[shop].node;
        let fields = [u64::from(customer.0), u64::from(shop_node.0), order, item as u64];
        self.trace.record(self.now, Kind::OrderRequested, &fields, &[]);
        self.send_app(send);
        order
    }

    /// A shop polls its node's invoices: it delivers what is paid and drops what expired.
    pub(super) fn shop_poll(&mut self, shop: usize) {
        let node = self.shops.defs()[shop].node;
        let poll_interval_us = self.shops.defs()[shop].poll_interval_us;
        if !self.hosts[node.index()].online {
            self.schedule(self.now.plus_micros(poll_interval_us), SimEvent::ShopPoll { shop });
            return;
        }
        let (deliveries, expired, again) =
            self.shops.poll(self.now, shop, &mut self.nodes.get(node));
        self.collect(node);
        for order in expired {
            let o = self.shops.order(order);
            let fields = [u64::from(o.customer.0), u64::from(node.0), order];
            self.trace.record(self.now, Kind::OrderFailed, &fields, &[]);
            self.poke = true;
        }
        for send in deliveries {
            self.send_app(send);
        }
        if again {
            self.schedule(self.now.plus_micros(poll_interval_us), SimEvent::ShopPoll { shop });
        }
    }

    /// A customer's payment ended: the order it pays moves on (and fails with it).
    pub(super) fn order_payment_done(&mut self, node: NodeId, payment: PaymentId, ok: bool) {
        let Some(order) = self.shops.order_of_payment(node, payment) else { return };
        self.shops.on_payment_done(order, ok);
        if !ok {
            let shop = self.shops.defs()[self.shops.order(order).shop].node;
            let fields = [u64::from(node.0), u64::from(shop.0), order];
            self.trace.record(self.now, Kind::OrderFailed, &fields, &[]);
        }
    }

    fn send_app(&mut self, (from, to, msg): AppSend) {
        let at = self.http.arrival(from, to, self.now);
        self.schedule(at, SimEvent::App { from, to, msg: Box::new(msg) });
    }

    /// An application message arrives.
    pub(super) fn on_app(&mut self, from: NodeId, to: NodeId, msg: AppMessage) {
        if !self.hosts[to.index()].online {
            return; // a node that is down answers no request
        }
        let (peers, now) = ([u64::from(to.0), u64::from(from.0)], self.now);
        match msg {
            AppMessage::BuyRequest { order, .. } => {
                let (reply, start_polling) =
                    self.shops.on_buy_request(now, &mut self.nodes.get(to), order);
                self.collect(to);
                if let AppMessage::InvoiceReply { invoice, .. } = &reply.2 {
                    let fields = [peers[0], peers[1], order, invoice.payment_hash.short()];
                    self.trace.record(now, Kind::OrderInvoiced, &fields, &[]);
                }
                let shop = self.shops.order(order).shop;
                self.send_app(reply);
                if start_polling {
                    let at = now.plus_micros(self.shops.defs()[shop].poll_interval_us);
                    self.schedule(at, SimEvent::ShopPoll { shop });
                }
            }
            AppMessage::InvoiceReply { order, invoice } => {
                let amount_msat = invoice.amount_msat.unwrap_or(0);
                self.classify(to, from, amount_msat);
                let paid = self.shops.on_invoice(now, &mut self.nodes.get(to), order, invoice);
                self.collect(to);
                if let Some(Err(error)) = paid {
                    self.refused(to, from, amount_msat, None, Refusal::Pay(error));
                }
                self.results.classify_next(None);
                if !matches!(paid, Some(Ok(_))) {
                    self.trace.record(now, Kind::OrderFailed, &[peers[0], peers[1], order], &[]);
                    self.poke = true;
                }
            }
            AppMessage::Delivery { order, content } => {
                let bytes = content.len() as u64;
                self.shops.on_delivery(now, order, content);
                let fields = [peers[0], peers[1], order, bytes];
                self.trace.record(now, Kind::OrderDelivered, &fields, &[]);
                self.poke = true;
            }
            AppMessage::Refused { order } => {
                self.shops.on_refused(order);
                self.trace.record(now, Kind::OrderFailed, &[peers[0], peers[1], order], &[]);
                self.poke = true;
            }
        }
    }
}
