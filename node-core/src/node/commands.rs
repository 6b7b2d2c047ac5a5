//! Commands in, as a `lightning-cli` user types them — connect, fund a channel, invoice, list
//! invoices, pay, keysend, close, force-close, change the policy, list channels, peers and
//! payments — one function each (the types are [`crate::command`]'s). A command that cannot be
//! done is refused with a [`CommandError`] and changes nothing.

use super::{InvoiceTerms, Node};
use crate::chain::{MAX_MONEY_MSAT, weight};
use crate::channel::{Channel, ChannelPhase};
use crate::command::{
    ChannelSummary, Command, CommandError, CommandOutput, InvoiceSummary, PaymentSummary,
};
use crate::event::Event;
use crate::htlc::View;
use crate::ids::{ChannelId, NodeId, PaymentHash, PaymentSecret, Preimage, SimTime};
use crate::invoice::{Invoice, RouteHint, RouteHintHop};
use crate::msg::{Message, Shutdown};
use crate::payment::OutboundPayment;
use crate::policy::PolicyChange;
use crate::router::RouterConfig;
use crate::snapshot::ChannelSnapshot;
use crate::wallet::WalletError;
use rand_chacha::rand_core::Rng;

/// Most route hints an invoice carries.
pub const MAX_ROUTE_HINTS: usize = 8;

impl Node {
    /// Runs a command.
    pub fn command(
        &mut self,
        now: SimTime,
        command: Command,
    ) -> Result<CommandOutput, CommandError> {
        self.tick(now);
        let result = match command {
            Command::Connect { peer } => self.connect(peer),
            Command::FundChannel { peer, amount_sat, push_msat, announce } => {
                self.fund_channel(peer, amount_sat, push_msat, announce)
            }
            Command::CreateInvoice { amount_msat, description, expiry_s } => {
                self.create_invoice(amount_msat, description, expiry_s)
            }
            Command::ListInvoices => Ok(self.list_invoices()),
            Command::Pay { invoice, amount_msat, router } => self.pay(invoice, amount_msat, router),
            Command::Keysend { destination, amount_msat, router } => {
                self.keysend(destination, amount_msat, router)
            }
            Command::CloseChannel { peer } => self.close_channel(peer),
            Command::ListChannels => Ok(self.list_channels()),
            Command::ListPeers => Ok(CommandOutput::Peers(self.peers.connected())),
            Command::ListPayments => Ok(self.list_payments()),
            Command::ForceClose { peer } => self.force_close_with(peer),
            Command::SetPolicy { peer, change } => Ok(self.set_policy(peer, change)),
        };
        self.flush();
        result
    }

    /// `connect`: a connection to `peer` is attempted unless one is up.
    fn connect(&mut self, peer: NodeId) -> Result<CommandOutput, CommandError> {
        if peer == self.id {
            return Err(CommandError::SelfPeer);
        }
        if !self.peers.is_connected(peer) {
            self.out.connect(peer);
        }
        Ok(CommandOutput::Done)
    }

    /// `fundchannel`: opens a channel of `amount_sat` to a connected peer, funded from the wallet.
    fn fund_channel(
        &mut self,
        peer: NodeId,
        amount_sat: u64,
        push_msat: u64,
        announce: bool,
    ) -> Result<CommandOutput, CommandError> {
        if peer == self.id {
            return Err(CommandError::SelfPeer);
        }
        if !self.is_peer_ready(peer) {
            return Err(CommandError::PeerNotConnected { peer });
        }
        if amount_sat == 0 || amount_sat > self.config.channel.max_funding_sat {
            return Err(CommandError::InvalidAmount {
                reason: "funding must be 1 sat to 2^24-1 sat",
            });
        }
        if push_msat > amount_sat * 1000 {
            return Err(CommandError::InvalidAmount { reason: "push above the funding" });
        }
        let needed_sat =
            amount_sat + weight::fee_sat(self.config.feerate_per_kw, weight::funding_tx(1));
        let available_sat = self.wallet.balance_sat();
        if available_sat < needed_sat {
            return Err(WalletError::InsufficientFunds { needed_sat, available_sat }.into());
        }
        let temporary_id = ChannelId(self.rng.get().next_u64());
        // Anchors only if the peer's `init` offered them too.
        let mut config = *self.config;
        config.channel.anchors &= self.peers.supports_anchors(peer);
        let (channel, open) = Channel::new_outbound(
            temporary_id,
            self.id,
            peer,
            amount_sat,
            push_msat,
            announce,
            &config,
        );
        self.channels.insert(channel);
        self.out.send(peer, Message::OpenChannel(Box::new(open)));
        self.out.emit(Event::ChannelOpening {
            temporary_channel_id: temporary_id,
            peer,
            funding_sat: amount_sat,
        });
        Ok(CommandOutput::Opening(temporary_id))
    }

    /// `invoice`: a new invoice, with a fresh preimage and payment secret from the node's stream.
    fn create_invoice(
        &mut self,
        amount_msat: Option<u64>,
        description: String,
        expiry_s: Option<u32>,
    ) -> Result<CommandOutput, CommandError> {
        if amount_msat == Some(0) {
            return Err(CommandError::InvalidAmount { reason: "invoice amount is zero" });
        }
        if amount_msat.is_some_and(|a| a > MAX_MONEY_MSAT) {
            return Err(CommandError::InvalidAmount { reason: "more than all bitcoin" });
        }
        let preimage = Preimage(self.random_bytes());
        let payment_secret = PaymentSecret(self.random_bytes());
        let invoice = Invoice {
            payee: self.id,
            payment_hash: preimage.payment_hash(),
            payment_secret,
            amount_msat,
            description,
            created_at: self.now,
            expiry_s: expiry_s.unwrap_or(self.config.invoice_expiry_s),
            min_final_cltv_expiry_delta: self.config.min_final_cltv_expiry_delta,
            route_hints: self.route_hints(amount_msat.unwrap_or(1)),
        };
        self.out.emit(Event::InvoiceCreated { payment_hash: invoice.payment_hash, amount_msat });
        self.invoices.issue(invoice.clone(), preimage);
        Ok(CommandOutput::Invoice(invoice))
    }

    /// Route hints for our unannounced channels whose peer could send us `amount_msat`.
    pub(super) fn route_hints(&self, amount_msat: u64) -> Vec<RouteHint> {
        if !self.config.route_hints {
            return Vec::new();
        }
        self.channels
            .iter()
            .filter(|c| c.phase() == ChannelPhase::Normal && !c.is_announced())
            .filter_map(|c| {
                let policy = *c.remote_policy()?;
                let inbound = c
                    .balances(View::Next)
                    .theirs_msat
                    .saturating_sub(c.local_params().channel_reserve_sat * 1000);
                (inbound >= amount_msat).then_some(RouteHint {
                    hops: vec![RouteHintHop { src: c.peer(), short_channel_id: c.scid()?, policy }],
                })
            })
            .take(MAX_ROUTE_HINTS)
            .collect()
    }

    /// `listinvoices`.
    fn list_invoices(&self) -> CommandOutput {
        CommandOutput::Invoices(
            self.invoices
                .iter()
                .map(|r| InvoiceSummary {
                    payment_hash: r.invoice.payment_hash,
                    amount_msat: r.invoice.amount_msat,
                    description: r.invoice.description.clone(),
                    status: r.status(self.now),
                })
                .collect(),
        )
    }

    /// `pay`: pays an invoice (in parts if its router or the network says so).
    fn pay(
        &mut self,
        invoice: Invoice,
        amount_msat: Option<u64>,
        router: Option<RouterConfig>,
    ) -> Result<CommandOutput, CommandError> {
        if invoice.payee == self.id {
            return Err(CommandError::SelfPeer);
        }
        if invoice.is_expired(self.now) {
            return Err(CommandError::InvoiceExpired);
        }
        let amount_msat = match (invoice.amount_msat, amount_msat) {
            (Some(a), _) | (None, Some(a)) if a > 0 && a <= MAX_MONEY_MSAT => a,
            _ => {
                return Err(CommandError::InvalidAmount {
                    reason: "no amount, zero, or more than all bitcoin",
                });
            }
        };
        if self.payments.is_pending_or_paid(&invoice.payment_hash) {
            return Err(CommandError::DuplicatePayment);
        }
        let router = router.unwrap_or(self.config.router);
        let terms = InvoiceTerms {
            min_final_cltv_expiry_delta: invoice.min_final_cltv_expiry_delta,
            route_hints: invoice.route_hints,
        };
        let payment = OutboundPayment {
            payment_secret: Some(invoice.payment_secret),
            ..self.invoice_payment(
                invoice.payment_hash,
                invoice.payee,
                amount_msat,
                terms,
                router,
                self.now,
            )
        };
        Ok(CommandOutput::Payment(self.start_payment(payment)))
    }

    /// The payment of an invoice from `payee` with `terms`, as `pay` starts it at `now` (and as
    /// a plan made ahead assumes it: [`Node::plan_ahead`]).
    pub(super) fn invoice_payment(
        &self,
        payment_hash: PaymentHash,
        payee: NodeId,
        amount_msat: u64,
        terms: InvoiceTerms,
        router: RouterConfig,
        now: SimTime,
    ) -> OutboundPayment {
        OutboundPayment {
            min_final_cltv_expiry_delta: terms.min_final_cltv_expiry_delta,
            route_hints: terms.route_hints,
            mpp: true,
            ..OutboundPayment::new(payment_hash, payee, amount_msat, router, &self.config, now)
        }
    }

    /// `keysend`: pays a node without an invoice (we pick the preimage); never split.
    fn keysend(
        &mut self,
        destination: NodeId,
        amount_msat: u64,
        router: Option<RouterConfig>,
    ) -> Result<CommandOutput, CommandError> {
        if destination == self.id {
            return Err(CommandError::SelfPeer);
        }
        if amount_msat == 0 || amount_msat > MAX_MONEY_MSAT {
            return Err(CommandError::InvalidAmount { reason: "zero, or more than all bitcoin" });
        }
        let preimage = Preimage(self.random_bytes());
        let router = router.unwrap_or(self.config.router);
        let payment = OutboundPayment {
            keysend_preimage: Some(preimage),
            ..OutboundPayment::new(
                preimage.payment_hash(),
                destination,
                amount_msat,
                router,
                &self.config,
                self.now,
            )
        };
        Ok(CommandOutput::Payment(self.start_payment(payment)))
    }

    /// `close`: starts a cooperative close of every open channel with a connected peer.
    fn close_channel(&mut self, peer: NodeId) -> Result<CommandOutput, CommandError> {
        if !self.is_peer_ready(peer) {
            return Err(CommandError::PeerNotConnected { peer });
        }
        let ids: Vec<ChannelId> = self
            .channels
            .of_peer(peer)
            .filter(|c| c.phase() == ChannelPhase::Normal)
            .map(Channel::id)
            .collect();
        if ids.is_empty() {
            return Err(CommandError::NoChannel { peer });
        }
        for id in ids {
            if self.channels.get_mut(id).expect("listed").send_shutdown() {
                self.out.send(peer, Message::Shutdown(Shutdown { channel_id: id }));
                self.out.emit(Event::ChannelClosing { channel_id: id, peer });
                self.channels.mark_dirty(id);
            }
        }
        Ok(CommandOutput::Done)
    }

    /// `close --force`: broadcasts our commitment of every funded channel with `peer`.
    fn force_close_with(&mut self, peer: NodeId) -> Result<CommandOutput, CommandError> {
        let ids: Vec<ChannelId> = self
            .channels
            .of_peer(peer)
            .filter(|c| {
                c.phase() >= ChannelPhase::AwaitingReady && c.phase() < ChannelPhase::ForceClosing
            })
            .map(Channel::id)
            .collect();
        if ids.is_empty() {
            return Err(CommandError::NoChannel { peer });
        }
        for id in ids {
            self.force_close(id);
        }
        Ok(CommandOutput::Done)
    }

    /// `setchannel`: changes our policy on the channels with `peer` (or all), announcing it.
    fn set_policy(&mut self, peer: Option<NodeId>, change: PolicyChange) -> CommandOutput {
        let ids: Vec<ChannelId> = self
            .channels
            .iter()
            .filter(|c| {
                peer.is_none_or(|p| c.peer() == p) && c.phase() < ChannelPhase::ForceClosing
            })
            .map(Channel::id)
            .collect();
        for id in ids {
            let channel = self.channels.get_mut(id).expect("listed");
            channel.change_policy(&change, self.now);
            if channel.phase() == ChannelPhase::Normal {
                self.publish_update(id);
            }
        }
        CommandOutput::Done
    }

    /// `listchannels`.
    fn list_channels(&self) -> CommandOutput {
        CommandOutput::Channels(
            self.channels
                .iter()
                .map(|channel| {
                    let snapshot = ChannelSnapshot::of(channel);
                    let local = snapshot.view(View::Local);
                    ChannelSummary {
                        channel_id: snapshot.id,
                        scid: snapshot.scid,
                        peer: snapshot.peer,
                        phase: snapshot.phase,
                        we_opened: snapshot.we_opened,
                        funding_sat: snapshot.funding_sat,
                        ours_msat: local.ours_msat,
                        theirs_msat: local.theirs_msat,
                        offered_msat: local.offered_msat,
                        received_msat: local.received_msat,
                        available_msat: channel.available_to_send_msat(),
                        public: channel.is_announced(),
                    }
                })
                .collect(),
        )
    }

    /// `listpayments`.
    fn list_payments(&self) -> CommandOutput {
        CommandOutput::Payments(
            self.payments
                .iter()
                .map(|p| PaymentSummary {
                    payment_id: p.id,
                    payment_hash: p.payment_hash,
                    destination: p.destination,
                    amount_msat: p.amount_msat,
                    status: p.status.clone(),
                    attempts: p.attempts,
                    fee_msat: p.fee_msat(),
                })
                .collect(),
        )
    }
}
