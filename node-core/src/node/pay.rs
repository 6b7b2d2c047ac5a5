//! Sending our payments: the node asks its [`crate::payment::OutboundPayments`] for the parts to
//! send next, given its channels that can send now, adds each part's HTLC to its first channel
//! (a channel that refuses it is excluded and the rest planned again), and passes every part's
//! outcome back to the payments so that they learn and go on.

use super::Node;
use crate::channel::ChannelPhase;
use crate::ids::Preimage;
use crate::msg::Message;
use crate::onion::ErrorPacket;
use crate::payment::{AttemptFailure, LearnView, OutboundPayment, PayerView, PaymentId};
use crate::router::{FirstHop, Route};
use crate::switch::HtlcSource;

impl Node {
    /// Our channels that can send an HTLC now: normal, with a ready peer and something to send,
    /// with what each can send. Read-only; the simulator's feasibility oracle reads it too.
    pub fn sendable_channels(&self) -> impl Iterator<Item = FirstHop> + '_ {
        self.spendable_channels().filter(|f| self.peers.is_ready(f.peer))
    }

    /// What each of our channels could send were its peer connected: normal channels with
    /// something to send, whatever the peer's state (the starting network, before any peer has
    /// connected).
    pub fn spendable_channels(&self) -> impl Iterator<Item = FirstHop> + '_ {
        self.channels.iter().filter(|c| c.phase() == ChannelPhase::Normal).filter_map(|c| {
            Some(FirstHop {
                scid: c.scid()?,
                peer: c.peer(),
                available_msat: c.available_to_send_msat(),
                htlc_minimum_msat: c.remote_params().htlc_minimum_msat,
            })
            .filter(|f| f.available_msat > 0)
        })
    }

    /// [`Node::sendable_channels`], collected.
    pub(super) fn first_hops(&self) -> Vec<FirstHop> {
        self.sendable_channels().collect()
    }

    /// Takes `payment` on and sends its first parts.
    pub(super) fn start_payment(&mut self, payment: OutboundPayment) -> PaymentId {
        let id = self.payments.start(payment, &mut self.out);
        self.send_payment(id);
        id
    }

    /// Sends parts of payment `id` until what is in flight covers its amount, or the payment
    /// sends nothing more (it then fails once no part is in flight).
    fn send_payment(&mut self, id: PaymentId) {
        loop {
            let first_hops = self.first_hops();
            let view = PayerView {
                me: self.id,
                now: self.now,
                height: self.height,
                graph: &self.graph,
                config: &self.config,
                first_hops: &first_hops,
            };
            let Some(routes) = self.payments.next_routes(id, &view, &mut self.out) else { return };
            for route in routes {
                if !self.send_part(id, route) {
                    break; // our own channel refused it: plan the rest again without it
                }
            }
        }
    }

    /// Sends one part of payment `id` over `route`; `false` if our own channel refused it.
    fn send_part(&mut self, id: PaymentId, route: Route) -> bool {
        let attempt = self.payments.begin_attempt(id, &route, &mut self.out);
        let first = route.hops[0];
        let channel_id = self.channels.by_scid(first.scid).expect("first hops are known channels");
        let channel = self.channels.get_mut(channel_id).expect("indexed channels exist");
        match channel.send_add(
            first.amount_msat,
            attempt.payment_hash,
            first.cltv_expiry,
            attempt.onion,
        ) {
            Ok(add) => {
                let peer = channel.peer();
                let source = HtlcSource::Local { payment: id, attempt: attempt.number };
                self.switch.add((channel_id, add.id), source);
                self.out.send(peer, Message::UpdateAddHtlc(Box::new(add)));
                self.channels.mark_batched(channel_id);
                self.payments.attempt_sent(id, attempt.number, route);
                true
            }
            Err(_) => {
                self.payments.attempt_refused(
                    id,
                    attempt.number,
                    first.scid,
                    self.id,
                    &mut self.out,
                );
                false
            }
        }
    }

    /// Part `attempt` of payment `id` settled.
    pub(super) fn part_settled(
        &mut self,
        id: PaymentId,
        attempt: u32,
        preimage: Preimage,
        on_chain: bool,
    ) {
        let view = LearnView { me: self.id, now: self.now, graph: &self.graph };
        self.payments.attempt_settled(id, attempt, preimage, on_chain, &view, &mut self.out);
    }

    /// Part `attempt` of payment `id` failed downstream: learn, apply the failure's
    /// `channel_update` to our graph if our implementation does (newer timestamp wins; see
    /// [`crate::config::NodeConfig::apply_failure_updates`]), and send what is left.
    pub(super) fn part_failed(&mut self, id: PaymentId, attempt: u32, packet: ErrorPacket) {
        let view = LearnView { me: self.id, now: self.now, graph: &self.graph };
        let Some(failure) = self.payments.attempt_failed(id, attempt, packet, &view, &mut self.out)
        else {
            return;
        };
        if self.config.apply_failure_updates
            && let Some(update) = failure.channel_update
        {
            self.graph.apply_update(&update);
        }
        self.send_payment(id);
    }

    /// Part `attempt` of payment `id` failed at our own channel: retry without it.
    pub(super) fn part_failed_here(
        &mut self,
        id: PaymentId,
        attempt: u32,
        failure: AttemptFailure,
    ) {
        let view = LearnView { me: self.id, now: self.now, graph: &self.graph };
        if self.payments.attempt_failed_here(id, attempt, failure, &view, &mut self.out) {
            self.send_payment(id);
        }
    }
}
