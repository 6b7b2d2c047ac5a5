//! A node's view of the public network. At mainnet scale nodes cannot each hold a copy of the
//! graph, so every node shares one read-only [`BaseGraph`] (the channels that exist when the run
//! starts) and keeps an overlay of what it has heard since: new channels, newer updates, channels
//! whose funding was spent. Nothing here reads another node's balances or overlay. Routing reads a
//! [`GraphView`]; gossip writes to it.

use crate::gossip::{ChannelAnnouncement, ChannelUpdate};
use crate::ids::{NodeId, Scid, mix};
use crate::policy::ChannelPolicy;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Blocks after its funding is spent that BOLT 7 suggests a channel be forgotten ("SHOULD
/// forget a channel after a 12-block delay", so that a splice keeps its channel); each
/// implementation's own delay is [`crate::config::NodeConfig::forget_spent_after_blocks`].
pub const FORGET_AFTER_SPEND_BLOCKS: u32 = 12;

/// One direction's policy as last heard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectedPolicy {
    /// The forwarding policy.
    pub policy: ChannelPolicy,
    /// The direction is disabled.
    pub disabled: bool,
    /// The channel_update's timestamp.
    pub timestamp: u32,
}

/// A public channel and what is known of its two directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelInfo {
    /// The channel.
    pub scid: Scid,
    /// The smaller node id.
    pub node_1: NodeId,
    /// The larger node id.
    pub node_2: NodeId,
    /// Funding value, satoshis.
    pub capacity_sat: u64,
    /// Direction 0 (from `node_1`) and direction 1 (from `node_2`); `None` until an update is heard.
    pub directions: [Option<DirectedPolicy>; 2],
}

impl ChannelInfo {
    /// The direction whose start is `from`, and the node at its end.
    pub fn direction_from(&self, from: NodeId) -> Option<(usize, NodeId)> {
        if from == self.node_1 {
            Some((0, self.node_2))
        } else if from == self.node_2 {
            Some((1, self.node_1))
        } else {
            None
        }
    }

    /// The usable policy for forwarding from `from`: known and not disabled.
    pub fn policy_from(&self, from: NodeId) -> Option<&ChannelPolicy> {
        let (direction, _) = self.direction_from(from)?;
        self.directions[direction].as_ref().filter(|d| !d.disabled).map(|d| &d.policy)
    }
}

/// The channels every node knows at the start of a run, shared read-only by all nodes. Channels
/// are sorted by scid; each node's incident channels are stored contiguously (CSR layout).
#[derive(Debug, Default)]
pub struct BaseGraph {
    node_count: u32,
    channels: Vec<ChannelInfo>,
    offsets: Vec<u32>,
    incident: Vec<u32>,
    /// For each entry of `incident`, the direction into the node: what a route search scans,
    /// laid out contiguously per node so the scan stays in cache.
    in_edges: Vec<InEdge>,
}

/// A channel direction into a node, as a route search reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InEdge {
    /// The node the direction starts from.
    pub from: NodeId,
    /// The channel.
    pub scid: Scid,
    /// The channel's value, sat.
    pub capacity_sat: u64,
    /// `from`'s policy, if known and not disabled.
    pub policy: Option<ChannelPolicy>,
}

impl InEdge {
    /// The direction of `info` into `to`, if `to` is one of its ends.
    fn of(info: &ChannelInfo, to: NodeId) -> Option<InEdge> {
        let (_, from) = info.direction_from(to)?;
        Some(InEdge {
            from,
            scid: info.scid,
            capacity_sat: info.capacity_sat,
            policy: info.policy_from(from).copied(),
        })
    }
}

impl BaseGraph {
    /// A graph of `node_count` nodes (ids `0..node_count`) and `channels`.
    pub fn new(node_count: u32, mut channels: Vec<ChannelInfo>) -> BaseGraph {
        channels.sort_by_key(|c| c.scid);
        let mut degree = vec![0u32; node_count as usize + 1];
        for channel in &channels {
            assert!(
                channel.node_1 < channel.node_2 && channel.node_2.0 < node_count,
                "invariant: channel endpoints are ordered and in range"
            );
            degree[channel.node_1.index()] += 1;
            degree[channel.node_2.index()] += 1;
        }
        let mut offsets = Vec::with_capacity(node_count as usize + 1);
        let mut total = 0u32;
        for d in &degree[..node_count as usize] {
            offsets.push(total);
            total += d;
        }
        offsets.push(total);
        let mut fill = offsets.clone();
        let mut incident = vec![0u32; total as usize];
        for (index, channel) in channels.iter().enumerate() {
            for node in [channel.node_1, channel.node_2] {
                incident[fill[node.index()] as usize] = index as u32;
                fill[node.index()] += 1;
            }
        }
        let mut in_edges = Vec::with_capacity(incident.len());
        for node in 0..node_count {
            let range = offsets[node as usize] as usize..offsets[node as usize + 1] as usize;
            for &i in &incident[range] {
                let edge = InEdge::of(&channels[i as usize], NodeId(node));
                in_edges.push(edge.expect("invariant: an incident channel has the node as an end"));
            }
        }
        BaseGraph { node_count, channels, offsets, incident, in_edges }
    }

    /// How many nodes the network has.
    pub fn node_count(&self) -> u32 {
        self.node_count
    }

    /// All channels, sorted by scid.
    pub fn channels(&self) -> &[ChannelInfo] {
        &self.channels
    }

    /// The channel with `scid`, if it is in the base graph.
    pub fn channel(&self, scid: Scid) -> Option<&ChannelInfo> {
        self.channels.binary_search_by_key(&scid, |c| c.scid).ok().map(|i| &self.channels[i])
    }

    /// The channels of `node`, in scid order.
    pub fn channels_of(&self, node: NodeId) -> impl Iterator<Item = &ChannelInfo> + '_ {
        let range = match (self.offsets.get(node.index()), self.offsets.get(node.index() + 1)) {
            (Some(&start), Some(&end)) => start as usize..end as usize,
            _ => 0..0,
        };
        self.incident[range].iter().map(|&i| &self.channels[i as usize])
    }
}

/// A channel a node heard of or about after the start.
#[derive(Clone, Copy, Debug)]
struct OverlayChannel {
    info: ChannelInfo,
    /// The height at which its funding output was spent.
    spent_at_height: Option<u32>,
    /// Forgotten: no longer routed through.
    forgotten: bool,
}

/// The channels of the base graph a view starts without (an incomplete starting view): each
/// channel that is not the node's own is unknown with probability `ppm` / 1,000,000, decided by a
/// hash of the seed and the channel, so nothing is stored per channel.
#[derive(Clone, Copy, Debug)]
struct Unknown {
    me: NodeId,
    seed: u64,
    ppm: u32,
}

impl Unknown {
    /// Whether channel `scid` between `a` and `b` starts unknown.
    fn hides(&self, scid: Scid, a: NodeId, b: NodeId) -> bool {
        a != self.me
            && b != self.me
            && mix(self.seed ^ mix(scid.0)) % 1_000_000 < u64::from(self.ppm)
    }
}

/// One node's view: the shared base graph plus its own overlay.
#[derive(Clone, Debug)]
pub struct GraphView {
    base: Arc<BaseGraph>,
    overlay: BTreeMap<Scid, OverlayChannel>,
    /// Channels of the overlay that the base graph does not have, by node.
    added_by_node: BTreeMap<NodeId, Vec<Scid>>,
    /// Base channels this view started without, if its starting view is incomplete.
    unknown: Option<Unknown>,
}

impl GraphView {
    /// A view that knows the base graph and nothing else yet.
    pub fn new(base: Arc<BaseGraph>) -> GraphView {
        GraphView { base, overlay: BTreeMap::new(), added_by_node: BTreeMap::new(), unknown: None }
    }

    /// Makes `me`'s view start without each base channel that is not its own with probability
    /// `ppm` / 1,000,000 (drawn from `seed` and the channel). A channel it does not know is
    /// learnt from a newer `channel_update` of it (as a node with gossip queries would fetch its
    /// announcement) or a new announcement.
    pub fn start_incomplete(&mut self, me: NodeId, seed: u64, ppm: u32) {
        self.unknown = (ppm > 0).then_some(Unknown { me, seed, ppm });
    }

    /// Whether base channel `info` is one this view has not learnt.
    fn hidden(&self, info: &ChannelInfo) -> bool {
        self.unknown.is_some_and(|u| u.hides(info.scid, info.node_1, info.node_2))
    }

    /// The shared base graph.
    pub fn base(&self) -> &BaseGraph {
        &self.base
    }

    /// The channel with `scid` as this node knows it, unless forgotten.
    pub fn channel(&self, scid: Scid) -> Option<&ChannelInfo> {
        match self.overlay.get(&scid) {
            Some(entry) if entry.forgotten => None,
            Some(entry) => Some(&entry.info),
            None => self.base.channel(scid).filter(|info| !self.hidden(info)),
        }
    }

    /// Calls `f` with each direction into `node` this view knows, in the order of
    /// [`GraphView::for_each_channel_of`]. Without an overlay it reads the base graph's
    /// contiguous copy.
    pub fn for_each_in_edge(&self, node: NodeId, mut f: impl FnMut(&InEdge)) {
        if self.overlay.is_empty() {
            let base = &*self.base;
            let range = match (base.offsets.get(node.index()), base.offsets.get(node.index() + 1)) {
                (Some(&start), Some(&end)) => start as usize..end as usize,
                _ => 0..0,
            };
            match self.unknown {
                None => base.in_edges[range].iter().for_each(f),
                Some(u) => base.in_edges[range]
                    .iter()
                    .filter(|e| !u.hides(e.scid, e.from, node))
                    .for_each(f),
            }
            return;
        }
        self.for_each_channel_of(node, |info| {
            if let Some(edge) = InEdge::of(info, node) {
                f(&edge);
            }
        });
    }

    /// Calls `f` with each channel of `node` this view knows, base channels first in scid order.
    pub fn for_each_channel_of(&self, node: NodeId, mut f: impl FnMut(&ChannelInfo)) {
        if self.overlay.is_empty() && self.unknown.is_none() {
            self.base.channels_of(node).for_each(f);
            return;
        }
        for info in self.base.channels_of(node) {
            match self.overlay.get(&info.scid) {
                Some(entry) if entry.forgotten => {}
                Some(entry) => f(&entry.info),
                None if self.hidden(info) => {}
                None => f(info),
            }
        }
        for scid in self.added_by_node.get(&node).into_iter().flatten() {
            let entry = &self.overlay[scid];
            if !entry.forgotten {
                f(&entry.info);
            }
        }
    }

    /// Applies a channel_announcement. Returns true when the channel is new to this view.
    pub fn apply_announcement(&mut self, msg: &ChannelAnnouncement) -> bool {
        if self.overlay.contains_key(&msg.short_channel_id) {
            return false;
        }
        if let Some(info) = self.base.channel(msg.short_channel_id).copied() {
            // A base channel is new only to a view that started without it.
            if !self.hidden(&info) {
                return false;
            }
            let entry = OverlayChannel { info, spent_at_height: None, forgotten: false };
            self.overlay.insert(info.scid, entry);
            return true;
        }
        let info = ChannelInfo {
            scid: msg.short_channel_id,
            node_1: msg.node_1,
            node_2: msg.node_2,
            capacity_sat: msg.capacity_sat,
            directions: [None, None],
        };
        self.overlay
            .insert(info.scid, OverlayChannel { info, spent_at_height: None, forgotten: false });
        for node in [msg.node_1, msg.node_2] {
            self.added_by_node.entry(node).or_default().push(info.scid);
        }
        true
    }

    /// Applies a channel_update. Returns true when it is newer than what this view had; updates
    /// of unknown or forgotten channels are ignored.
    pub fn apply_update(&mut self, msg: &ChannelUpdate) -> bool {
        let scid = msg.short_channel_id;
        let current = match self.channel(scid) {
            Some(info) => *info,
            // A base channel this view started without: learnt with its update.
            None => match (self.overlay.get(&scid), self.base.channel(scid)) {
                (None, Some(info)) if self.hidden(info) => *info,
                _ => return false,
            },
        };
        let direction = usize::from(msg.direction & 1);
        if current.directions[direction].is_some_and(|d| d.timestamp >= msg.timestamp) {
            return false;
        }
        let entry = self.overlay.entry(msg.short_channel_id).or_insert(OverlayChannel {
            info: current,
            spent_at_height: None,
            forgotten: false,
        });
        entry.info.directions[direction] = Some(DirectedPolicy {
            policy: msg.policy,
            disabled: msg.disabled,
            timestamp: msg.timestamp,
        });
        true
    }

    /// Records that the funding of `scid` was spent at `height`.
    pub fn mark_spent(&mut self, scid: Scid, height: u32) {
        if let Some(current) = self.channel(scid).copied() {
            let entry = self.overlay.entry(scid).or_insert(OverlayChannel {
                info: current,
                spent_at_height: None,
                forgotten: false,
            });
            entry.spent_at_height.get_or_insert(height);
        }
    }

    /// Forgets channels whose funding was spent `after_blocks` or more blocks before `height`
    /// (0: on the block that spends it).
    pub fn forget_spent(&mut self, height: u32, after_blocks: u32) {
        for entry in self.overlay.values_mut() {
            if entry.spent_at_height.is_some_and(|h| height >= h.saturating_add(after_blocks)) {
                entry.forgotten = true;
            }
        }
    }

    /// Channel announcements and updates this node learnt after the start, in scid order: what it
    /// gives a newly connected peer that asks for an initial sync.
    pub fn overlay_gossip(&self) -> Vec<crate::gossip::GossipMessage> {
        use crate::gossip::GossipMessage;
        let mut out = Vec::new();
        for entry in self.overlay.values().filter(|e| !e.forgotten && e.spent_at_height.is_none()) {
            let info = &entry.info;
            if self.base.channel(info.scid).is_none() {
                out.push(GossipMessage::Announcement(ChannelAnnouncement {
                    short_channel_id: info.scid,
                    node_1: info.node_1,
                    node_2: info.node_2,
                    capacity_sat: info.capacity_sat,
                }));
            }
            for (direction, known) in info.directions.iter().enumerate() {
                if let Some(d) = known {
                    out.push(GossipMessage::Update(ChannelUpdate {
                        short_channel_id: info.scid,
                        direction: direction as u8,
                        timestamp: d.timestamp,
                        disabled: d.disabled,
                        policy: d.policy,
                    }));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ChannelPolicy {
        ChannelPolicy {
            fee_base_msat: 1000,
            fee_proportional_millionths: 1,
            cltv_expiry_delta: 40,
            htlc_minimum_msat: 1,
            htlc_maximum_msat: 1_000_000_000,
        }
    }

    fn channel(scid: u64, a: u32, b: u32) -> ChannelInfo {
        let d = Some(DirectedPolicy { policy: policy(), disabled: false, timestamp: 1 });
        ChannelInfo {
            scid: Scid(scid),
            node_1: NodeId(a),
            node_2: NodeId(b),
            capacity_sat: 1_000_000,
            directions: [d, d],
        }
    }

    #[test]
    fn base_graph_lists_each_nodes_channels() {
        let graph = BaseGraph::new(4, vec![channel(3, 1, 2), channel(1, 0, 1), channel(2, 1, 3)]);
        let of_1: Vec<u64> = graph.channels_of(NodeId(1)).map(|c| c.scid.0).collect();
        assert_eq!(of_1, vec![1, 2, 3]);
        assert_eq!(graph.channels_of(NodeId(0)).count(), 1);
        assert!(graph.channel(Scid(2)).is_some());
        assert!(graph.channel(Scid(9)).is_none());
    }

    #[test]
    fn overlay_updates_shadow_the_base_for_one_view_only() {
        let base = Arc::new(BaseGraph::new(3, vec![channel(1, 0, 1)]));
        let mut mine = GraphView::new(base.clone());
        let theirs = GraphView::new(base);
        let mut newer = policy();
        newer.fee_base_msat = 5;
        let update = ChannelUpdate {
            short_channel_id: Scid(1),
            direction: 0,
            timestamp: 2,
            disabled: false,
            policy: newer,
        };
        assert!(mine.apply_update(&update));
        assert!(!mine.apply_update(&update), "same timestamp is not newer");
        assert_eq!(mine.channel(Scid(1)).unwrap().policy_from(NodeId(0)).unwrap().fee_base_msat, 5);
        assert_eq!(
            theirs.channel(Scid(1)).unwrap().policy_from(NodeId(0)).unwrap().fee_base_msat,
            1000
        );
    }

    #[test]
    fn announced_channels_join_the_view_and_spent_ones_are_forgotten_later() {
        let base = Arc::new(BaseGraph::new(3, vec![]));
        let mut view = GraphView::new(base);
        let ann = ChannelAnnouncement {
            short_channel_id: Scid(7),
            node_1: NodeId(1),
            node_2: NodeId(2),
            capacity_sat: 5,
        };
        assert!(view.apply_announcement(&ann));
        assert!(!view.apply_announcement(&ann));
        let mut seen = 0;
        view.for_each_channel_of(NodeId(2), |_| seen += 1);
        assert_eq!(seen, 1);
        view.mark_spent(Scid(7), 100);
        view.forget_spent(111, 12);
        assert!(view.channel(Scid(7)).is_some());
        view.forget_spent(112, 12);
        assert!(view.channel(Scid(7)).is_none());
        // With no delay (lnd) it goes on the block that spends it.
        let mut view = GraphView::new(view.base);
        view.apply_announcement(&ann);
        view.mark_spent(Scid(7), 100);
        view.forget_spent(100, 0);
        assert!(view.channel(Scid(7)).is_none());
    }
}
