//! The peer messages of BOLT 1, 2 and 7 that the simulation carries, as plain structs.
//! Signatures, keys and per-commitment points are left out; `commitment_signed` instead carries
//! a summary of the commitment it signs, which the receiver checks against its own, so a
//! disagreement between two state machines is caught as a real node would catch a bad signature.

use crate::gossip::{ChannelUpdate, GossipId};
use crate::ids::{ChannelId, PaymentHash, Preimage, Scid, Txid};
use crate::onion::{ErrorPacket, Onion};
use std::sync::Arc;

/// A message from one peer to another. The three largest are boxed, so that a message is 56
/// bytes: a network of a million nodes starts with millions of messages in flight at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// BOLT 1 `init`.
    Init(Init),
    /// BOLT 1 `error`: the channel failed.
    Error(ErrorMessage),
    /// BOLT 2 `open_channel`.
    OpenChannel(Box<OpenChannel>),
    /// BOLT 2 `accept_channel`.
    AcceptChannel(AcceptChannel),
    /// BOLT 2 `funding_created`.
    FundingCreated(FundingCreated),
    /// BOLT 2 `funding_signed`.
    FundingSigned(FundingSigned),
    /// BOLT 2 `channel_ready`.
    ChannelReady(ChannelReady),
    /// BOLT 2 `update_add_htlc`.
    UpdateAddHtlc(Box<UpdateAddHtlc>),
    /// BOLT 2 `update_fulfill_htlc`.
    UpdateFulfillHtlc(UpdateFulfillHtlc),
    /// BOLT 2 `update_fail_htlc`.
    UpdateFailHtlc(Box<UpdateFailHtlc>),
    /// BOLT 2 `commitment_signed`.
    CommitmentSigned(CommitmentSigned),
    /// BOLT 2 `revoke_and_ack`.
    RevokeAndAck(RevokeAndAck),
    /// BOLT 2 `shutdown`.
    Shutdown(Shutdown),
    /// BOLT 2 `closing_signed`.
    ClosingSigned(ClosingSigned),
    /// BOLT 2 `channel_reestablish`.
    ChannelReestablish(ChannelReestablish),
    /// BOLT 7 `announcement_signatures`.
    AnnouncementSignatures(AnnouncementSignatures),
    /// BOLT 7 `channel_update` sent straight to the channel peer (for unannounced channels).
    ChannelUpdate(ChannelUpdate),
    /// BOLT 7 gossip flushed in one batch, as ids into the network's shared log.
    Gossip(Arc<[GossipId]>),
}

// What the boxing above is for (on 64-bit targets).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Message>() <= 56);

impl Message {
    /// The channel a channel-scoped message is about (`None` for `init` and gossip).
    pub fn channel_id(&self) -> Option<ChannelId> {
        Some(match self {
            Message::Init(_) | Message::Gossip(_) | Message::ChannelUpdate(_) => return None,
            Message::Error(m) => m.channel_id,
            Message::OpenChannel(m) => m.temporary_channel_id,
            Message::AcceptChannel(m) => m.temporary_channel_id,
            Message::FundingCreated(m) => m.temporary_channel_id,
            Message::FundingSigned(m) => m.channel_id,
            Message::ChannelReady(m) => m.channel_id,
            Message::UpdateAddHtlc(m) => m.channel_id,
            Message::UpdateFulfillHtlc(m) => m.channel_id,
            Message::UpdateFailHtlc(m) => m.channel_id,
            Message::CommitmentSigned(m) => m.channel_id,
            Message::RevokeAndAck(m) => m.channel_id,
            Message::Shutdown(m) => m.channel_id,
            Message::ClosingSigned(m) => m.channel_id,
            Message::ChannelReestablish(m) => m.channel_id,
            Message::AnnouncementSignatures(m) => m.channel_id,
        })
    }

    /// The BOLT message type number (gossip batches use 256, `channel_announcement`).
    pub fn type_number(&self) -> u16 {
        match self {
            Message::Init(_) => 16,
            Message::Error(_) => 17,
            Message::OpenChannel(_) => 32,
            Message::AcceptChannel(_) => 33,
            Message::FundingCreated(_) => 34,
            Message::FundingSigned(_) => 35,
            Message::ChannelReady(_) => 36,
            Message::Shutdown(_) => 38,
            Message::ClosingSigned(_) => 39,
            Message::ChannelReestablish(_) => 136,
            Message::UpdateAddHtlc(_) => 128,
            Message::UpdateFulfillHtlc(_) => 130,
            Message::UpdateFailHtlc(_) => 131,
            Message::CommitmentSigned(_) => 132,
            Message::RevokeAndAck(_) => 133,
            Message::AnnouncementSignatures(_) => 259,
            Message::Gossip(_) => 256,
            Message::ChannelUpdate(_) => 258,
        }
    }
}

/// BOLT 1 `init`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Init {
    /// Asks the peer for the gossip it learnt after the start of the run.
    pub initial_routing_sync: bool,
    /// The sender supports `option_anchors_zero_fee_htlc_tx` (BOLT 9 feature 22/23): a channel
    /// uses anchors only if both ends do.
    pub anchors: bool,
}

/// BOLT 1 `error` for a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorMessage {
    /// The failed channel.
    pub channel_id: ChannelId,
}

/// BOLT 2 `open_channel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenChannel {
    /// The opener's temporary id for the channel.
    pub temporary_channel_id: ChannelId,
    /// Channel value, sat.
    pub funding_sat: u64,
    /// Given to the acceptor at the start, msat.
    pub push_msat: u64,
    /// The opener's dust limit, sat.
    pub dust_limit_sat: u64,
    /// Cap on HTLCs in flight toward the opener, msat.
    pub max_htlc_value_in_flight_msat: u64,
    /// Reserve the acceptor must keep, sat.
    pub channel_reserve_sat: u64,
    /// Smallest HTLC the opener accepts, msat.
    pub htlc_minimum_msat: u64,
    /// Commitment fee rate, sat per 1000 weight.
    pub feerate_per_kw: u32,
    /// Blocks the acceptor must wait for its own output after a unilateral close.
    pub to_self_delay_blocks: u16,
    /// Most HTLCs in flight toward the opener.
    pub max_accepted_htlcs: u16,
    /// `channel_flags` bit 0: announce the channel.
    pub announce: bool,
    /// The channel type `option_anchors_zero_fee_htlc_tx`.
    pub anchors: bool,
}

/// BOLT 2 `accept_channel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptChannel {
    /// The opener's temporary id.
    pub temporary_channel_id: ChannelId,
    /// The acceptor's dust limit, sat.
    pub dust_limit_sat: u64,
    /// Cap on HTLCs in flight toward the acceptor, msat.
    pub max_htlc_value_in_flight_msat: u64,
    /// Reserve the opener must keep, sat.
    pub channel_reserve_sat: u64,
    /// Smallest HTLC the acceptor accepts, msat.
    pub htlc_minimum_msat: u64,
    /// Confirmations before the channel is usable.
    pub minimum_depth: u32,
    /// Blocks the opener must wait for its own output after a unilateral close.
    pub to_self_delay_blocks: u16,
    /// Most HTLCs in flight toward the acceptor.
    pub max_accepted_htlcs: u16,
}

/// BOLT 2 `funding_created`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FundingCreated {
    /// The opener's temporary id.
    pub temporary_channel_id: ChannelId,
    /// The funding transaction.
    pub funding_txid: Txid,
    /// The funding output's index.
    pub funding_output_index: u32,
}

/// BOLT 2 `funding_signed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FundingSigned {
    /// The permanent channel id.
    pub channel_id: ChannelId,
}

/// BOLT 2 `channel_ready`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelReady {
    /// The channel.
    pub channel_id: ChannelId,
}

/// BOLT 2 `update_add_htlc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateAddHtlc {
    /// The channel.
    pub channel_id: ChannelId,
    /// The HTLC's id, counted from 0 per direction.
    pub id: u64,
    /// Its amount, msat.
    pub amount_msat: u64,
    /// What it is locked to.
    pub payment_hash: PaymentHash,
    /// Its expiry, block height.
    pub cltv_expiry: u32,
    /// The onion.
    pub onion: Onion,
}

/// BOLT 2 `update_fulfill_htlc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpdateFulfillHtlc {
    /// The channel.
    pub channel_id: ChannelId,
    /// The HTLC's id.
    pub id: u64,
    /// The preimage.
    pub payment_preimage: Preimage,
}

/// BOLT 2 `update_fail_htlc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateFailHtlc {
    /// The channel.
    pub channel_id: ChannelId,
    /// The HTLC's id.
    pub id: u64,
    /// The (modelled) encrypted reason.
    pub reason: ErrorPacket,
}

/// BOLT 2 `commitment_signed`, with a summary of the commitment it signs in place of the
/// signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitmentSigned {
    /// The channel.
    pub channel_id: ChannelId,
    /// The number of the receiver's new commitment.
    pub commitment_number: u64,
    /// The receiver's own balance in it, msat (before the commitment fee).
    pub holder_msat: u64,
    /// The sender's balance in it, msat.
    pub counterparty_msat: u64,
    /// The HTLCs it holds.
    pub htlc_count: u32,
}

/// BOLT 2 `revoke_and_ack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevokeAndAck {
    /// The channel.
    pub channel_id: ChannelId,
    /// The number of the commitment it revokes.
    pub revoked_commitment_number: u64,
}

/// BOLT 2 `shutdown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shutdown {
    /// The channel.
    pub channel_id: ChannelId,
}

/// BOLT 2 `closing_signed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClosingSigned {
    /// The channel.
    pub channel_id: ChannelId,
    /// The proposed closing fee, sat.
    pub fee_sat: u64,
}

/// BOLT 2 `channel_reestablish`, sent for every funded channel after a (re)connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelReestablish {
    /// The channel.
    pub channel_id: ChannelId,
    /// The number of the next `commitment_signed` the sender expects to receive.
    pub next_commitment_number: u64,
    /// The number of the commitment the sender expects the receiver to revoke next.
    pub next_revocation_number: u64,
}

/// BOLT 7 `announcement_signatures`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnnouncementSignatures {
    /// The channel.
    pub channel_id: ChannelId,
    /// Its short id.
    pub short_channel_id: Scid,
}
