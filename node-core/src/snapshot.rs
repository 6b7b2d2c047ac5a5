//! A read-only picture of a node, for a driver's invariant checks and summaries: its wallet, each
//! channel's phase and balances in the three views, and the HTLC outputs it offered that sit on
//! chain, claimed or not.
//! Values only, copied out: a driver never holds a reference into a node's state, and nothing
//! here changes the node. Deciding what is wrong with a picture is the driver's job.

use crate::chain::OutPoint;
use crate::channel::{Channel, ChannelPhase};
use crate::config::Implementation;
use crate::htlc::View;
use crate::ids::{ChannelId, NodeId, Scid};

/// One view of a channel's money (see [`View`]): the balances and the HTLCs in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ViewSnapshot {
    /// Our balance, msat, HTLCs excluded.
    pub ours_msat: u64,
    /// The peer's balance, msat, HTLCs excluded.
    pub theirs_msat: u64,
    /// HTLCs we offered, msat.
    pub offered_msat: u64,
    /// HTLCs we received, msat.
    pub received_msat: u64,
}

impl ViewSnapshot {
    /// Everything the view accounts for, msat: it must be the channel's value.
    pub fn total_msat(&self) -> u64 {
        self.ours_msat + self.theirs_msat + self.offered_msat + self.received_msat
    }
}

/// One channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelSnapshot {
    /// Its id (temporary until the funding is known).
    pub id: ChannelId,
    /// The peer.
    pub peer: NodeId,
    /// Its phase.
    pub phase: ChannelPhase,
    /// Whether we opened it.
    pub we_opened: bool,
    /// Its funding output, once known.
    pub funding: Option<OutPoint>,
    /// Its value, sat.
    pub funding_sat: u64,
    /// Its short id, once confirmed.
    pub scid: Option<Scid>,
    /// Its commitments have anchor outputs (`option_anchors_zero_fee_htlc_tx`).
    pub anchors: bool,
    /// The three views, indexed by [`View::index`].
    pub views: [ViewSnapshot; 3],
    /// HTLCs in flight in either direction, in any commitment.
    pub htlcs: usize,
    /// Of those, the ones we offered.
    pub offered: usize,
    /// The offered HTLC that expires first: (id, `cltv_expiry`).
    pub first_offered_expiry: Option<(u64, u32)>,
    /// A state change ever debited a side below zero (the peer signed something its balance did
    /// not cover).
    pub overdrawn: bool,
}

impl ChannelSnapshot {
    /// A picture of `channel`.
    pub(crate) fn of(channel: &Channel) -> ChannelSnapshot {
        let view = |view: View| {
            let balances = channel.balances(view);
            ViewSnapshot {
                ours_msat: balances.ours_msat,
                theirs_msat: balances.theirs_msat,
                offered_msat: channel.htlc_total_msat(view, true),
                received_msat: channel.htlc_total_msat(view, false),
            }
        };
        ChannelSnapshot {
            id: channel.id(),
            peer: channel.peer(),
            phase: channel.phase(),
            we_opened: channel.we_opened(),
            funding: channel.funding_outpoint(),
            funding_sat: channel.funding_sat(),
            scid: channel.scid(),
            anchors: channel.has_anchors(),
            views: View::ALL.map(view),
            htlcs: channel.offered_htlcs().count() + channel.received_htlcs().count(),
            offered: channel.offered_htlcs().count(),
            first_offered_expiry: channel
                .offered_htlcs()
                .map(|h| (h.cltv_expiry, h.id))
                .min()
                .map(|(expiry, id)| (id, expiry)),
            overdrawn: channel.is_overdrawn(),
        }
    }

    /// The view `view`.
    pub fn view(&self, view: View) -> &ViewSnapshot {
        &self.views[view.index()]
    }

    /// The first view that does not add up to the channel's value, with what it adds up to.
    pub fn unbalanced_view(&self) -> Option<(View, u64)> {
        let capacity_msat = self.funding_sat * 1000;
        View::ALL
            .into_iter()
            .map(|view| (view, self.view(view).total_msat()))
            .find(|&(_, total)| total != capacity_msat)
    }
}

/// An HTLC output of a commitment on chain that we offered and may time out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OfferedOutput {
    /// The output.
    pub outpoint: OutPoint,
    /// Its value, sat.
    pub amount_sat: u64,
    /// Its HTLC's expiry, block height.
    pub cltv_expiry: u32,
    /// The height of the block that holds it.
    pub confirmed_height: u32,
    /// Whether our claim on it is broadcast.
    pub claimed: bool,
}

/// A node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSnapshot {
    /// Its id.
    pub id: NodeId,
    /// The preset its settings came from.
    pub implementation: Implementation,
    /// The best block height it has seen.
    pub height: u32,
    /// Confirmed on-chain funds, sat.
    pub wallet_sat: u64,
    /// Funds its own unconfirmed transactions spend, sat.
    pub wallet_reserved_sat: u64,
    /// Its channels, by channel id.
    pub channels: Vec<ChannelSnapshot>,
    /// The HTLC outputs it offered that sit on chain, by outpoint.
    pub offered_outputs: Vec<OfferedOutput>,
}
