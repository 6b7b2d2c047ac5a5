//! Applications on top of nodes: shops that answer a buy request with an invoice and deliver the
//! item once `listinvoices` shows it paid (as the 2016 CGI script did), and the customers that
//! buy from them. Requests, invoices and deliveries travel as application messages (the world
//! carries them over HTTP-like links); the shop talks to its node and the customer to its own only
//! through `lightning-cli`-style commands.

use node_core::invoice::{Invoice, InvoiceStatus};
use node_core::node::{Command, CommandError, CommandOutput};
use node_core::payment::PaymentId;
use node_core::{Node, NodeId, PaymentHash, SimTime};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A shop, resolved.
#[derive(Clone, Debug)]
pub struct ShopDef {
    /// Its node.
    pub node: NodeId,
    /// Its items.
    pub items: Vec<Item>,
    /// Poll interval, µs.
    pub poll_interval_us: u64,
    /// Invoice expiry, seconds.
    pub invoice_expiry_s: u32,
}

/// An item, resolved.
#[derive(Clone, Debug)]
pub struct Item {
    /// Its name.
    pub name: String,
    /// Its price, msat.
    pub price_msat: u64,
    /// What the buyer receives.
    pub content: Arc<str>,
}

/// A message between a customer and a shop.
#[derive(Clone, Debug)]
pub enum AppMessage {
    /// The customer asks for an item.
    BuyRequest {
        /// The order.
        order: u64,
        /// The item's index in the shop.
        item: usize,
    },
    /// The shop answers with an invoice.
    InvoiceReply {
        /// The order.
        order: u64,
        /// The invoice.
        invoice: Invoice,
    },
    /// The shop delivers what was bought.
    Delivery {
        /// The order.
        order: u64,
        /// The item's content.
        content: Arc<str>,
    },
    /// The shop could not take the order.
    Refused {
        /// The order.
        order: u64,
    },
}

/// Where an order stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderStatus {
    /// Requested, no invoice yet.
    Requested,
    /// Invoiced; the customer's node is paying.
    Paying,
    /// The customer's payment succeeded; waiting for the delivery.
    Paid,
    /// Delivered.
    Delivered,
    /// The payment failed, the invoice expired, or the shop refused.
    Failed,
}

/// One purchase.
#[derive(Clone, Debug)]
pub struct Order {
    /// Its id, from 0 in request order.
    pub id: u64,
    /// The buyer.
    pub customer: NodeId,
    /// The shop's index.
    pub shop: usize,
    /// The item's index in the shop.
    pub item: usize,
    /// Where it stands.
    pub status: OrderStatus,
    /// When the customer asked.
    pub requested_at: SimTime,
    /// The shop's invoice.
    pub invoice: Option<Invoice>,
    /// The customer's payment.
    pub payment: Option<PaymentId>,
    /// When the shop saw the invoice paid.
    pub paid_seen_at: Option<SimTime>,
    /// The shop node's block height then.
    pub paid_seen_height: Option<u32>,
    /// When the customer received the item.
    pub delivered_at: Option<SimTime>,
    /// What the customer received.
    pub content: Option<Arc<str>>,
}

/// An application message to carry.
pub type AppSend = (NodeId, NodeId, AppMessage);

/// All shops and orders of a run.
pub struct Shops {
    defs: Vec<ShopDef>,
    orders: Vec<Order>,
    /// Per shop: orders invoiced and not yet seen paid, by payment hash.
    awaiting: Vec<BTreeMap<PaymentHash, u64>>,
    /// Per shop: whether a poll is scheduled.
    polling: Vec<bool>,
}

impl Shops {
    /// The scenario's shops, with no orders.
    pub fn new(defs: Vec<ShopDef>) -> Shops {
        let n = defs.len();
        Shops {
            defs,
            orders: Vec::new(),
            awaiting: vec![BTreeMap::new(); n],
            polling: vec![false; n],
        }
    }

    /// The shops.
    pub fn defs(&self) -> &[ShopDef] {
        &self.defs
    }

    /// All orders, by id.
    pub fn orders(&self) -> &[Order] {
        &self.orders
    }

    /// All orders, by id, once the run is over.
    pub fn into_orders(self) -> Vec<Order> {
        self.orders
    }

    /// Order `id`.
    pub fn order(&self, id: u64) -> &Order {
        &self.orders[id as usize]
    }

    /// Whether any order is still open.
    pub fn has_open_orders(&self) -> bool {
        self.orders
            .iter()
            .any(|o| !matches!(o.status, OrderStatus::Delivered | OrderStatus::Failed))
    }

    /// A customer asks a shop for an item: returns the order id and the request to carry.
    pub fn request(
        &mut self,
        now: SimTime,
        customer: NodeId,
        shop: usize,
        item: usize,
    ) -> (u64, AppSend) {
        let id = self.orders.len() as u64;
        self.orders.push(Order {
            id,
            customer,
            shop,
            item,
            status: OrderStatus::Requested,
            requested_at: now,
            invoice: None,
            payment: None,
            paid_seen_at: None,
            paid_seen_height: None,
            delivered_at: None,
            content: None,
        });
        (id, (customer, self.defs[shop].node, AppMessage::BuyRequest { order: id, item }))
    }

    /// The shop's node issues an invoice for the order. Returns the reply and whether a poll
    /// must be scheduled.
    pub fn on_buy_request(&mut self, now: SimTime, node: &mut Node, order: u64) -> (AppSend, bool) {
        let o = &self.orders[order as usize];
        let def = &self.defs[o.shop];
        let item = &def.items[o.item];
        let command = Command::CreateInvoice {
            amount_msat: Some(item.price_msat),
            description: item.name.clone(),
            expiry_s: Some(def.invoice_expiry_s),
        };
        let (shop_node, customer, shop) = (def.node, o.customer, o.shop);
        match node.command(now, command) {
            Ok(CommandOutput::Invoice(invoice)) => {
                self.awaiting[shop].insert(invoice.payment_hash, order);
                self.orders[order as usize].invoice = Some(invoice.clone());
                let start_polling = !std::mem::replace(&mut self.polling[shop], true);
                ((shop_node, customer, AppMessage::InvoiceReply { order, invoice }), start_polling)
            }
            _ => {
                self.orders[order as usize].status = OrderStatus::Failed;
                ((shop_node, customer, AppMessage::Refused { order }), false)
            }
        }
    }

    /// The customer's node pays the invoice. Returns the payment, or the node's refusal; `None`
    /// if the order no longer waits for an invoice.
    pub fn on_invoice(
        &mut self,
        now: SimTime,
        node: &mut Node,
        order: u64,
        invoice: Invoice,
    ) -> Option<Result<PaymentId, CommandError>> {
        let o = &mut self.orders[order as usize];
        if o.status != OrderStatus::Requested {
            return None;
        }
        let pay = Command::Pay { invoice, amount_msat: None, router: None };
        match node.command(now, pay) {
            Ok(CommandOutput::Payment(id)) => {
                o.status = OrderStatus::Paying;
                o.payment = Some(id);
                Some(Ok(id))
            }
            Ok(other) => unreachable!("a payment command answers with a payment: {other:?}"),
            Err(error) => {
                o.status = OrderStatus::Failed;
                Some(Err(error))
            }
        }
    }

    /// The customer's payment for `order` ended.
    pub fn on_payment_done(&mut self, order: u64, succeeded: bool) {
        let o = &mut self.orders[order as usize];
        if o.status == OrderStatus::Paying {
            o.status = if succeeded { OrderStatus::Paid } else { OrderStatus::Failed };
        }
    }

    /// The order whose payment is `payment` of `customer`, if any.
    pub fn order_of_payment(&self, customer: NodeId, payment: PaymentId) -> Option<u64> {
        self.orders
            .iter()
            .find(|o| o.customer == customer && o.payment == Some(payment))
            .map(|o| o.id)
    }

    /// The shop polls `listinvoices`: delivers paid orders, drops expired ones. Returns the
    /// deliveries, the orders the shop gave up on, and whether to poll again.
    pub fn poll(
        &mut self,
        now: SimTime,
        shop: usize,
        node: &mut Node,
    ) -> (Vec<AppSend>, Vec<u64>, bool) {
        let Ok(CommandOutput::Invoices(invoices)) = node.command(now, Command::ListInvoices) else {
            unreachable!("listinvoices always answers with invoices")
        };
        let mut deliveries = Vec::new();
        let mut expired = Vec::new();
        for summary in invoices {
            let Some(&order) = self.awaiting[shop].get(&summary.payment_hash) else { continue };
            match summary.status {
                InvoiceStatus::Paid { .. } => {
                    self.awaiting[shop].remove(&summary.payment_hash);
                    let o = &mut self.orders[order as usize];
                    o.paid_seen_at = Some(now);
                    o.paid_seen_height = Some(node.height());
                    let content = self.defs[shop].items[o.item].content.clone();
                    deliveries.push((
                        self.defs[shop].node,
                        o.customer,
                        AppMessage::Delivery { order, content },
                    ));
                }
                InvoiceStatus::Expired => {
                    self.awaiting[shop].remove(&summary.payment_hash);
                    let o = &mut self.orders[order as usize];
                    if o.status != OrderStatus::Delivered {
                        o.status = OrderStatus::Failed;
                        expired.push(order);
                    }
                }
                InvoiceStatus::Unpaid => {}
            }
        }
        let again = !self.awaiting[shop].is_empty();
        self.polling[shop] = again;
        (deliveries, expired, again)
    }

    /// The customer received the item.
    pub fn on_delivery(&mut self, now: SimTime, order: u64, content: Arc<str>) {
        let o = &mut self.orders[order as usize];
        o.status = OrderStatus::Delivered;
        o.delivered_at = Some(now);
        o.content = Some(content);
    }

    /// The shop refused the order.
    pub fn on_refused(&mut self, order: u64) {
        self.orders[order as usize].status = OrderStatus::Failed;
    }
}
