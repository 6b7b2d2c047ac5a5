//! The commands a node takes, as a `lightning-cli` user types them, and what it answers: the
//! output of each, the errors that refuse one, and the summaries of channels, invoices and
//! payments the `list*` commands show. Types only; the node runs them.

use crate::channel::ChannelPhase;
use crate::ids::{ChannelId, NodeId, PaymentHash, Scid};
use crate::invoice::{Invoice, InvoiceStatus};
use crate::payment::{PaymentId, PaymentStatus};
use crate::policy::PolicyChange;
use crate::router::RouterConfig;
use crate::wallet::WalletError;
use thiserror::Error;

/// A `lightning-cli`-style command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Connect to a peer.
    Connect {
        /// The peer.
        peer: NodeId,
    },
    /// Open a channel to a connected peer, funded from the wallet.
    FundChannel {
        /// The peer.
        peer: NodeId,
        /// Channel value, sat.
        amount_sat: u64,
        /// Given to the peer at the start, msat.
        push_msat: u64,
        /// Announce the channel once it has 6 confirmations.
        announce: bool,
    },
    /// Issue an invoice.
    CreateInvoice {
        /// Amount, msat; `None` lets the payer choose.
        amount_msat: Option<u64>,
        /// What is sold.
        description: String,
        /// Expiry, seconds; `None` uses the configured default.
        expiry_s: Option<u32>,
    },
    /// List issued invoices and their status.
    ListInvoices,
    /// Pay an invoice.
    Pay {
        /// The invoice.
        invoice: Invoice,
        /// Amount, msat, for an invoice without one.
        amount_msat: Option<u64>,
        /// The router to plan it with; `None` uses the node's.
        router: Option<RouterConfig>,
    },
    /// Pay a node without an invoice (the payer picks the preimage). Never split.
    Keysend {
        /// The payee.
        destination: NodeId,
        /// Amount, msat.
        amount_msat: u64,
        /// The router to plan it with; `None` uses the node's.
        router: Option<RouterConfig>,
    },
    /// Start a cooperative close of every open channel with a peer.
    CloseChannel {
        /// The peer.
        peer: NodeId,
    },
    /// List channels.
    ListChannels,
    /// List connected peers.
    ListPeers,
    /// List outbound payments.
    ListPayments,
    /// Close every channel with a peer unilaterally: broadcast our commitment.
    ForceClose {
        /// The peer.
        peer: NodeId,
    },
    /// Change our forwarding policy on the channels with `peer` (all channels if `None`), and
    /// announce it with a channel_update.
    SetPolicy {
        /// The peer, or every peer.
        peer: Option<NodeId>,
        /// What changes.
        change: PolicyChange,
    },
}

/// The answer to a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandOutput {
    /// Done (or started, for connect and close).
    Done,
    /// The channel open started; its temporary id.
    Opening(ChannelId),
    /// The new invoice.
    Invoice(Invoice),
    /// Invoices, by payment hash.
    Invoices(Vec<InvoiceSummary>),
    /// The payment started.
    Payment(PaymentId),
    /// Channels, by channel id.
    Channels(Vec<ChannelSummary>),
    /// Connected peers, by id.
    Peers(Vec<NodeId>),
    /// Payments, by id.
    Payments(Vec<PaymentSummary>),
}

/// Why a command was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum CommandError {
    /// The peer is not connected.
    #[error("peer {peer} is not connected")]
    PeerNotConnected {
        /// The peer.
        peer: NodeId,
    },
    /// A node cannot do this with itself.
    #[error("cannot do this with ourselves")]
    SelfPeer,
    /// The on-chain wallet cannot fund it.
    #[error(transparent)]
    Wallet(#[from] WalletError),
    /// An amount is zero or out of range.
    #[error("invalid amount: {reason}")]
    InvalidAmount {
        /// Why.
        reason: &'static str,
    },
    /// The invoice expired.
    #[error("invoice expired")]
    InvoiceExpired,
    /// This payment hash is already being paid or was paid.
    #[error("payment already in flight or paid")]
    DuplicatePayment,
    /// No open channel with the peer.
    #[error("no open channel with {peer}")]
    NoChannel {
        /// The peer.
        peer: NodeId,
    },
}

/// An invoice as `listinvoices` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvoiceSummary {
    /// Its hash.
    pub payment_hash: PaymentHash,
    /// Its amount, msat.
    pub amount_msat: Option<u64>,
    /// Its description.
    pub description: String,
    /// Its status now.
    pub status: InvoiceStatus,
}

/// A channel as `listchannels` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelSummary {
    /// Its id.
    pub channel_id: ChannelId,
    /// Its short id, once confirmed.
    pub scid: Option<Scid>,
    /// The peer.
    pub peer: NodeId,
    /// Its phase.
    pub phase: ChannelPhase,
    /// Whether we opened it.
    pub we_opened: bool,
    /// Its value, sat.
    pub funding_sat: u64,
    /// Our balance in our current commitment, msat, HTLCs excluded.
    pub ours_msat: u64,
    /// The peer's balance there, msat.
    pub theirs_msat: u64,
    /// HTLCs we offered in our commitment, msat.
    pub offered_msat: u64,
    /// HTLCs we received in our commitment, msat.
    pub received_msat: u64,
    /// What we could send in one more HTLC, msat.
    pub available_msat: u64,
    /// Whether it is announced.
    pub public: bool,
}

/// A payment as `listpayments` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentSummary {
    /// Its id.
    pub payment_id: PaymentId,
    /// Its hash.
    pub payment_hash: PaymentHash,
    /// The payee.
    pub destination: NodeId,
    /// What the payee receives, msat.
    pub amount_msat: u64,
    /// Where it stands.
    pub status: PaymentStatus,
    /// Attempts made.
    pub attempts: u32,
    /// The fee paid, msat, once paid.
    pub fee_msat: Option<u64>,
}

impl CommandError {
    /// A stable integer, for traces.
    pub fn code(&self) -> u8 {
        match self {
            CommandError::PeerNotConnected { .. } => 1,
            CommandError::SelfPeer => 2,
            CommandError::Wallet(_) => 3,
            CommandError::InvalidAmount { .. } => 4,
            CommandError::InvoiceExpired => 5,
            CommandError::DuplicatePayment => 6,
            CommandError::NoChannel { .. } => 7,
        }
    }

    /// A stable snake_case name, for results.
    pub fn name(&self) -> &'static str {
        match self {
            CommandError::PeerNotConnected { .. } => "peer_not_connected",
            CommandError::SelfPeer => "self",
            CommandError::Wallet(_) => "wallet",
            CommandError::InvalidAmount { .. } => "invalid_amount",
            CommandError::InvoiceExpired => "invoice_expired",
            CommandError::DuplicatePayment => "duplicate_payment",
            CommandError::NoChannel { .. } => "no_channel",
        }
    }
}
