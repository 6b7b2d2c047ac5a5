//! BOLT 7 gossip: the channel_announcement and channel_update messages, and the queue a node
//! relays them from. A node batches what it learnt and floods it to its peers (except to the peer
//! it came from) when its flush timer fires, about every 60 s as implementations do. Messages
//! travel as [`GossipId`]s: each is made once and kept in the network's shared log
//! ([`crate::graph::BaseGraph::message`] reads it), so a batch heard by thousands of nodes is not
//! copied thousands of times. Applying gossip to a node's view of the network is the graph
//! module's job.

use crate::ids::{NodeId, Scid};
use crate::policy::ChannelPolicy;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A public channel, as announced once its funding has 6 confirmations. The capacity stands in
/// for what a real node reads off the funding output on chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelAnnouncement {
    /// The channel.
    pub short_channel_id: Scid,
    /// The smaller node id of the two.
    pub node_1: NodeId,
    /// The larger node id of the two.
    pub node_2: NodeId,
    /// The funding output's value, satoshis.
    pub capacity_sat: u64,
}

/// One direction's policy, signed by the node at that direction's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelUpdate {
    /// The channel.
    pub short_channel_id: Scid,
    /// 0: sent by `node_1`, for forwarding from `node_1` to `node_2`; 1: the other way.
    pub direction: u8,
    /// Increases with every update of this direction; older ones are ignored.
    pub timestamp: u32,
    /// The direction is disabled: do not route through it.
    pub disabled: bool,
    /// The forwarding policy.
    pub policy: ChannelPolicy,
}

/// One gossip message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GossipMessage {
    /// A channel_announcement.
    Announcement(ChannelAnnouncement),
    /// A channel_update.
    Update(ChannelUpdate),
}

/// A gossip message in the network's shared log. Ids are handed out in the order messages are
/// made; they name messages and never order them in an output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GossipId(pub(crate) u32);

/// Gossip a node has learnt and not yet relayed.
#[derive(Clone, Debug, Default)]
pub struct GossipQueue {
    pending: Vec<(GossipId, Option<NodeId>)>,
    flush_scheduled: bool,
}

impl GossipQueue {
    /// Queues `msg`, learnt from `source` (`None` when the node made it). Returns true when a
    /// flush timer must be set.
    pub fn push(&mut self, msg: GossipId, source: Option<NodeId>) -> bool {
        self.pending.push((msg, source));
        !std::mem::replace(&mut self.flush_scheduled, true)
    }

    /// Whether nothing waits to be relayed.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Takes the queue and returns, for each of `peers` in order, the batch to send it: every
    /// queued message except those it sent us. Peers that sent none share one allocation.
    pub fn flush(&mut self, peers: &[NodeId]) -> Vec<(NodeId, Arc<[GossipId]>)> {
        self.flush_scheduled = false;
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return Vec::new();
        }
        let all: Arc<[GossipId]> = pending.iter().map(|(m, _)| *m).collect();
        peers
            .iter()
            .filter_map(|&peer| {
                if pending.iter().any(|(_, source)| *source == Some(peer)) {
                    let batch: Arc<[GossipId]> =
                        pending.iter().filter(|(_, s)| *s != Some(peer)).map(|(m, _)| *m).collect();
                    (!batch.is_empty()).then_some((peer, batch))
                } else {
                    Some((peer, all.clone()))
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gossip(id: u32) -> GossipId {
        GossipId(id)
    }

    #[test]
    fn flush_skips_the_source_and_asks_for_one_timer() {
        let mut queue = GossipQueue::default();
        assert!(queue.push(gossip(1), Some(NodeId(5))));
        assert!(!queue.push(gossip(2), None));
        let batches = queue.flush(&[NodeId(5), NodeId(6)]);
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].0, NodeId(5));
        assert_eq!(batches[0].1.len(), 1);
        assert_eq!(batches[1].1.len(), 2);
        assert!(queue.is_empty());
        assert!(queue.push(gossip(3), None), "a new timer after a flush");
    }
}
