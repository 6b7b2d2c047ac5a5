//! What a node reports happened, for traces, results and the applications built on nodes. Events
//! are past tense and carry integers and ids, never prose; they change no state.

use crate::chain::OutPoint;
use crate::channel::ChannelError;
use crate::ids::{ChannelId, NodeId, PaymentHash, Preimage, Scid, Txid};
use crate::onion::FailureCode;
use crate::payment::{AttemptFailure, FailureReason, PaymentId};
use crate::router::{Route, RouterConfig};

/// Why a channel closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CloseReason {
    /// A cooperative close confirmed.
    Mutual,
    /// Our commitment confirmed (we closed unilaterally).
    LocalForce,
    /// The peer's commitment confirmed (it closed unilaterally).
    RemoteForce,
    /// It failed before it was funded.
    Failed,
}

impl CloseReason {
    /// A stable integer for traces.
    pub fn code(self) -> u8 {
        match self {
            CloseReason::Mutual => 0,
            CloseReason::Failed => 1,
            CloseReason::LocalForce => 2,
            CloseReason::RemoteForce => 3,
        }
    }
}

/// Something a node did or learnt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `init` was exchanged with a peer.
    PeerConnected {
        /// The peer.
        peer: NodeId,
    },
    /// We asked a peer to open a channel.
    ChannelOpening {
        /// The temporary id.
        temporary_channel_id: ChannelId,
        /// The peer.
        peer: NodeId,
        /// Its value, sat.
        funding_sat: u64,
    },
    /// A channel open failed before funding.
    ChannelOpenFailed {
        /// The temporary id.
        temporary_channel_id: ChannelId,
        /// The peer.
        peer: NodeId,
    },
    /// We broadcast a funding transaction.
    FundingBroadcast {
        /// The channel.
        channel_id: ChannelId,
        /// Its temporary id while it was opened.
        temporary_channel_id: ChannelId,
        /// The peer.
        peer: NodeId,
        /// The funding transaction.
        txid: Txid,
        /// Its value, sat.
        funding_sat: u64,
    },
    /// Both sides sent channel_ready: the channel carries HTLCs.
    ChannelReady {
        /// The channel.
        channel_id: ChannelId,
        /// Its short id.
        scid: Scid,
        /// The peer.
        peer: NodeId,
        /// Its value, sat.
        funding_sat: u64,
        /// Whether we opened it.
        we_opened: bool,
    },
    /// Both sides signed the announcement; the channel is public.
    ChannelAnnounced {
        /// The channel.
        scid: Scid,
        /// Its funding output (a chain watcher forgets the channel once it is spent).
        funding: OutPoint,
    },
    /// A cooperative close started.
    ChannelClosing {
        /// The channel.
        channel_id: ChannelId,
        /// The peer.
        peer: NodeId,
    },
    /// The channel is closed.
    ChannelClosed {
        /// The channel.
        channel_id: ChannelId,
        /// The peer.
        peer: NodeId,
        /// Why.
        reason: CloseReason,
    },
    /// We broadcast our commitment: a unilateral close.
    ChannelForceClosed {
        /// The channel.
        channel_id: ChannelId,
        /// The peer.
        peer: NodeId,
        /// The commitment transaction.
        txid: Txid,
    },
    /// A channel was re-established after a reconnection.
    ChannelReestablished {
        /// The channel.
        channel_id: ChannelId,
        /// The peer.
        peer: NodeId,
        /// Messages we sent again.
        retransmitted: u32,
    },
    /// One of our on-chain claims confirmed.
    OnChainClaimed {
        /// The channel it comes from.
        channel_id: ChannelId,
        /// Whether it claimed an HTLC output (else a delayed output).
        htlc: bool,
        /// Value of the claimed output, sat.
        amount_sat: u64,
    },
    /// A peer broke the protocol on a channel (a bug in a simulation of honest nodes).
    ProtocolViolation {
        /// The channel.
        channel_id: ChannelId,
        /// The peer.
        peer: NodeId,
        /// What it did.
        error: ChannelError,
    },
    /// We forwarded an HTLC.
    HtlcForwarded {
        /// Incoming channel.
        in_scid: Scid,
        /// Incoming HTLC id.
        in_htlc_id: u64,
        /// Outgoing channel.
        out_scid: Scid,
        /// Outgoing HTLC id.
        out_htlc_id: u64,
        /// Incoming amount, msat.
        in_msat: u64,
        /// Outgoing amount, msat.
        out_msat: u64,
    },
    /// We refused to forward an incoming HTLC, or to accept it as the recipient.
    HtlcRefused {
        /// Incoming channel.
        in_scid: Scid,
        /// Incoming HTLC id.
        in_htlc_id: u64,
        /// The channel the onion asked us to forward it over (`None`: it was for us).
        out_scid: Option<Scid>,
        /// The code we failed it with.
        code: FailureCode,
    },
    /// A forwarded HTLC was settled: we earned its fee.
    ForwardSettled {
        /// Incoming channel.
        in_scid: Scid,
        /// Incoming HTLC id.
        in_htlc_id: u64,
        /// The fee earned, msat.
        fee_msat: u64,
    },
    /// A forwarded HTLC failed downstream and the failure went upstream.
    ForwardFailed {
        /// Incoming channel.
        in_scid: Scid,
        /// Incoming HTLC id.
        in_htlc_id: u64,
    },
    /// We issued an invoice.
    InvoiceCreated {
        /// Its hash.
        payment_hash: PaymentHash,
        /// Its amount, msat, if any.
        amount_msat: Option<u64>,
    },
    /// A part of a multi-part payment to us arrived and is held until the total has.
    PartHeld {
        /// The payment's hash.
        payment_hash: PaymentHash,
        /// This part, msat.
        amount_msat: u64,
        /// What the parts held so far add up to, msat (this one included).
        held_msat: u64,
        /// What the payer says all parts add up to, msat.
        total_msat: u64,
    },
    /// The parts of a multi-part payment to us did not all arrive in time: every held part was
    /// failed with `mpp_timeout`.
    PartsTimedOut {
        /// The payment's hash.
        payment_hash: PaymentHash,
        /// Parts failed.
        parts: u32,
        /// What they added up to, msat.
        held_msat: u64,
    },
    /// An invoice (or a keysend) was paid to us.
    InvoicePaid {
        /// Its hash.
        payment_hash: PaymentHash,
        /// What the HTLCs carried, msat.
        received_msat: u64,
    },
    /// We started a payment.
    PaymentStarted {
        /// Its id.
        payment_id: PaymentId,
        /// Its hash.
        payment_hash: PaymentHash,
        /// The payee.
        destination: NodeId,
        /// What the payee must receive, msat.
        amount_msat: u64,
        /// The router planning it.
        router: RouterConfig,
    },
    /// We sent an attempt (one part of the payment) over a route.
    PaymentAttempted {
        /// The payment.
        payment_id: PaymentId,
        /// Attempt number, from 1.
        attempt: u32,
        /// The route.
        route: Route,
    },
    /// An attempt failed.
    PaymentAttemptFailed {
        /// The payment.
        payment_id: PaymentId,
        /// Attempt number.
        attempt: u32,
        /// What the payer decoded.
        failure: AttemptFailure,
    },
    /// The payee settled one part: we learnt the preimage from its HTLC.
    PaymentPartSettled {
        /// The payment.
        payment_id: PaymentId,
        /// The part's attempt number.
        attempt: u32,
        /// The preimage came from the chain (the part's first channel closed with it in flight).
        on_chain: bool,
    },
    /// The payment succeeded: the first part settled, and with it every part in flight (the
    /// payee releases the preimage only once all parts have arrived). Comes right after that
    /// part's [`Event::PaymentPartSettled`].
    PaymentSucceeded {
        /// The payment.
        payment_id: PaymentId,
        /// The preimage.
        preimage: Preimage,
        /// Attempts it took, parts included.
        attempts: u32,
        /// The routes of the parts paying it, by attempt (one for a payment not split).
        parts: Vec<Route>,
        /// The fees of all its parts, msat.
        fee_msat: u64,
        /// The preimage came from the chain (the first hop's channel closed with it in flight).
        on_chain: bool,
    },
    /// The payment gave up.
    PaymentFailed {
        /// The payment.
        payment_id: PaymentId,
        /// Why.
        reason: FailureReason,
        /// Attempts made.
        attempts: u32,
        /// The last failed attempt, if any.
        last_failure: Option<AttemptFailure>,
    },
}
