//! One node's view of the network: the shared [`BaseGraph`] and what this node heard since. It
//! stores, per base channel direction it knows differently from the start, the log id of the
//! update it holds (8 bytes a direction); channels announced during the run in full; and
//! the height of the last block it processed, from which the base graph's shared record of spent
//! fundings tells what it has seen spent and forgotten. It reads no other node's view.
//!
//! What a view answers depends only on its own state, never on what other views did to the
//! shared base: the "changed" flags only choose between two readings that agree for a channel
//! this view holds nothing of, and a spend height counts only once this view's own height has
//! reached it (flags only turn on, heights are only set once). Plans made ahead on other
//! threads rely on this (`crate::node::ahead`): keep it so for anything added to the base.

use super::{BaseGraph, ChannelInfo, DirectedPolicy, FeeFloor, InEdge, OutEdges};
use crate::gossip::{ChannelAnnouncement, ChannelUpdate, GossipId, GossipMessage};
use crate::ids::{NodeId, Scid, mix};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A direction this view knows as at the start.
const AS_AT_START: GossipId = GossipId(u32::MAX);

/// A channel announced after the start, as this view knows it.
#[derive(Clone, Copy, Debug)]
struct AddedChannel {
    info: ChannelInfo,
    /// Its announcement.
    announcement: GossipId,
    /// The update held for each direction.
    updates: [Option<GossipId>; 2],
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

/// One node's view: the shared base graph plus what it heard since.
#[derive(Clone, Debug)]
pub struct GraphView {
    base: Arc<BaseGraph>,
    /// Base channel directions known differently from the start, keyed `2 × index + direction`:
    /// the update held ([`AS_AT_START`]: the start's). For a channel the view started without,
    /// a key of either direction means it was learnt.
    changed: BTreeMap<u32, GossipId>,
    /// Channels announced after the start.
    added: BTreeMap<Scid, AddedChannel>,
    /// The added channels of each node.
    added_by_node: BTreeMap<NodeId, Vec<Scid>>,
    /// Base channels this view started without, if its starting view is incomplete.
    unknown: Option<Unknown>,
    /// The height of the last block this node processed.
    height: u32,
    /// Blocks after a spend that a spent channel is forgotten (`u32::MAX` until told).
    forget_after_blocks: u32,
    /// A copy that must not write to the shared base graph ([`GraphView::detach`]).
    detached: bool,
    /// Detached, it was given something new to learn, which it ignored.
    tainted: bool,
}

impl GraphView {
    /// A view that knows the base graph and nothing else yet.
    pub fn new(base: Arc<BaseGraph>) -> GraphView {
        GraphView {
            base,
            changed: BTreeMap::new(),
            added: BTreeMap::new(),
            added_by_node: BTreeMap::new(),
            unknown: None,
            height: 0,
            forget_after_blocks: u32::MAX,
            detached: false,
            tainted: false,
        }
    }

    /// Makes this view (a copy) write nothing to the graph the nodes share: gossip new to it, a
    /// spend, is ignored and taints it instead ([`GraphView::is_tainted`]). What it answers
    /// stays what the view it was copied from answers, as long as it is not tainted.
    pub fn detach(&mut self) {
        self.detached = true;
    }

    /// Whether, detached, it ignored something new: it may then answer otherwise than the view
    /// it was copied from would have after the same inputs.
    pub fn is_tainted(&self) -> bool {
        self.tainted
    }

    /// Makes `me`'s view start without each base channel that is not its own with probability
    /// `ppm` / 1,000,000 (drawn from `seed` and the channel). A channel it does not know is
    /// learnt from a newer `channel_update` of it (as a node with gossip queries would fetch its
    /// announcement) or a new announcement.
    pub fn start_incomplete(&mut self, me: NodeId, seed: u64, ppm: u32) {
        self.unknown = (ppm > 0).then_some(Unknown { me, seed, ppm });
    }

    /// Whether base channel `info` is one this view started without.
    fn hidden(&self, info: &ChannelInfo) -> bool {
        self.unknown.is_some_and(|u| u.hides(info.scid, info.node_1, info.node_2))
    }

    /// The shared base graph.
    pub fn base(&self) -> &BaseGraph {
        &self.base
    }

    /// The update held for direction `direction` of base channel `index`, if it differs from
    /// the start or the channel was learnt.
    fn held(&self, index: u32, direction: usize) -> Option<GossipId> {
        self.changed.get(&(index * 2 + direction as u32)).copied()
    }

    /// Whether base channel `index` has an entry here (for one it started without: learnt).
    fn has_entry(&self, index: u32) -> bool {
        self.changed.range(index * 2..=index * 2 + 1).next().is_some()
    }

    /// Whether this view has processed the block that spent base channel `index`.
    fn seen_spent(&self, index: u32) -> bool {
        let at = self.base.spent_at(index);
        at != 0 && at <= self.height
    }

    /// Whether base channel `index` is forgotten: spent `forget_after_blocks` or more blocks
    /// before the last block this view processed.
    fn forgot(&self, index: u32) -> bool {
        let at = self.base.spent_at(index);
        at != 0 && self.height >= at.saturating_add(self.forget_after_blocks)
    }

    /// Base channel `index` as this view knows it, unless unknown or forgotten.
    fn base_channel(&self, index: u32) -> Option<ChannelInfo> {
        let info = &self.base.channels[index as usize];
        if !self.base.is_changed(index) {
            return (!self.hidden(info)).then_some(*info);
        }
        if self.forgot(index) || (self.hidden(info) && !self.has_entry(index)) {
            return None;
        }
        let mut known = *info;
        for direction in 0..2 {
            if let Some(id) = self.held(index, direction).filter(|&id| id != AS_AT_START) {
                known.directions[direction] = Some(self.base.directed(id));
            }
        }
        Some(known)
    }

    /// The channel with `scid` as this node knows it, unless unknown or forgotten.
    pub fn channel(&self, scid: Scid) -> Option<ChannelInfo> {
        match self.base.index_of(scid) {
            Some(index) => self.base_channel(index),
            None => self.added.get(&scid).filter(|a| !a.forgotten).map(|a| a.info),
        }
    }

    /// Calls `f` with each direction into `node` this view knows, in the order of
    /// [`GraphView::for_each_channel_of`]. Channels no node heard anything of are read from the
    /// base graph's contiguous copy as they are.
    pub fn for_each_in_edge(&self, node: NodeId, mut f: impl FnMut(&InEdge)) {
        let base = &*self.base;
        let range = base.range(node);
        let edges = &base.in_edges[range.clone()];
        if !base.is_node_changed(node) {
            match self.unknown {
                None => edges.iter().for_each(&mut f),
                Some(u) => edges.iter().filter(|e| !u.hides(e.scid, e.from, node)).for_each(&mut f),
            }
            self.for_each_added_in_edge(node, f);
            return;
        }
        // The rules of `read_edge`, written out: calling it here ran 7% more instructions on
        // CLoTH's workload (the scan is inlined into the search loop).
        for (edge, changed) in edges.iter().zip(&base.in_changed[range]) {
            let hides = |view: &GraphView| {
                view.unknown.is_some_and(|u| u.hides(edge.scid, edge.from, node))
            };
            if !changed.load(Ordering::Relaxed) {
                if !hides(self) {
                    f(edge);
                }
                continue;
            }
            if self.forgot(edge.index()) {
                continue;
            }
            match self.held(edge.index(), edge.direction()) {
                Some(AS_AT_START) => f(edge),
                Some(id) => {
                    let known = base.directed(id);
                    f(&InEdge { policy: (!known.disabled).then_some(known.policy), ..*edge });
                }
                None if hides(self) && !self.has_entry(edge.index()) => {}
                None => f(edge),
            }
        }
        self.for_each_added_in_edge(node, f);
    }

    /// Calls `f` with the base graph's direction `edge` into `to` as this view knows it, unless
    /// it does not know the channel; `changed`: the channel's flag, read by the caller in the
    /// order it scans them.
    #[inline(always)]
    fn read_edge(&self, edge: &InEdge, changed: bool, to: NodeId, f: &mut impl FnMut(&InEdge)) {
        let hides =
            |view: &GraphView| view.unknown.is_some_and(|u| u.hides(edge.scid, edge.from, to));
        if !changed {
            if !hides(self) {
                f(edge);
            }
            return;
        }
        if self.forgot(edge.index()) {
            return;
        }
        match self.held(edge.index(), edge.direction()) {
            Some(AS_AT_START) => f(edge),
            Some(id) => {
                let known = self.base.directed(id);
                f(&InEdge { policy: (!known.disabled).then_some(known.policy), ..*edge });
            }
            None if hides(self) && !self.has_entry(edge.index()) => {}
            None => f(edge),
        }
    }

    /// Calls `f` with each direction out of `node` this view knows and the node it leads to, in
    /// the order of [`GraphView::for_each_channel_of`] (a direction it knows nothing of, or
    /// disabled, without a policy): what a forward scan reads, without copying whole channels.
    pub fn for_each_out_edge(&self, node: NodeId, mut f: impl FnMut(NodeId, &InEdge)) {
        let base = &*self.base;
        let range = base.range(node);
        let peers = &base.peers[range.clone()];
        match &base.out_edges {
            OutEdges::Copied(copies) => {
                let edges = &copies[range.clone()];
                if self.unknown.is_none() && !base.is_node_changed(node) {
                    for (edge, &to) in edges.iter().zip(peers) {
                        f(to, edge);
                    }
                } else {
                    // A channel's flag is the same for both its directions.
                    let flags = &base.in_changed[range];
                    for ((edge, &to), changed) in edges.iter().zip(peers).zip(flags) {
                        let changed = changed.load(Ordering::Relaxed);
                        self.read_edge(edge, changed, to, &mut |edge| f(to, edge));
                    }
                }
            }
            OutEdges::Mates(mates) => {
                for (&back, &to) in mates[range].iter().zip(peers) {
                    let back = back as usize;
                    let changed = base.in_changed[back].load(Ordering::Relaxed);
                    self.read_edge(&base.in_edges[back], changed, to, &mut |edge| f(to, edge));
                }
            }
        }
        self.for_each_added_out_edge(node, f);
    }

    /// The directions into `node` of the base graph's channels, as one slice, when this view
    /// reads them as they are (no node heard anything new of them and the view started with all
    /// of them): what [`GraphView::for_each_in_edge`] gives before the directions of channels
    /// announced later ([`GraphView::for_each_added_in_edge`]). The route search scans this
    /// slice in a loop of its own.
    pub fn in_edges_as_at_start(&self, node: NodeId) -> Option<&[InEdge]> {
        let base = &*self.base;
        (self.unknown.is_none() && !base.is_node_changed(node))
            .then(|| &base.in_edges[base.range(node)])
    }

    /// [`GraphView::in_edges_as_at_start`] again, ordered by what the directions charge, each
    /// with the least fees charged by it and those after it ([`FeeFloor`]): a search that only
    /// wants directions charging at most some fee stops at the first floor above it. `None`
    /// where the slice is not read as it is, or the graph keeps no ordered copy (networks of
    /// more than `COPIED_OUT_EDGES_MAX` directions).
    pub fn in_edges_by_fee_as_at_start(&self, node: NodeId) -> Option<(&[InEdge], &[FeeFloor])> {
        let base = &*self.base;
        (self.unknown.is_none() && !base.is_node_changed(node))
            .then(|| self.in_edges_by_fee_read_before(node))
            .flatten()
    }

    /// [`GraphView::in_edges_by_fee_as_at_start`] for a node whose directions a search of this
    /// view already read so, without asking again whether they are as at the start: another
    /// node's view may mark them changed on the shared graph meanwhile (a planner thread searches
    /// while the world's loop takes gossip), and this view, which has not changed, reads them as
    /// it did.
    pub fn in_edges_by_fee_read_before(&self, node: NodeId) -> Option<(&[InEdge], &[FeeFloor])> {
        let base = &*self.base;
        let by_fee = base.by_fee.as_ref()?;
        let range = base.range(node);
        Some((&by_fee.edges[range.clone()], &by_fee.floors[range]))
    }

    /// Whether this view knows channels of `node` announced after the start (forgotten ones
    /// too: a cheap, conservative answer).
    pub fn has_added_in_edges(&self, node: NodeId) -> bool {
        !self.added_by_node.is_empty() && self.added_by_node.contains_key(&node)
    }

    /// The directions out of `node` as the start had them, ordered by the fees `node` charges
    /// over them, each with the peer it leads to and the least fees charged by it and those
    /// after it ([`FeeFloor`]): what [`GraphView::for_each_out_edge`] gives before the
    /// directions of channels announced later ([`GraphView::for_each_added_out_edge`]), in
    /// another order. `None` where this view does not read them as they are, or the graph
    /// keeps no ordered copy (networks of more than `COPIED_OUT_EDGES_MAX` directions).
    pub fn out_edges_by_fee_as_at_start(
        &self,
        node: NodeId,
    ) -> Option<(&[InEdge], &[NodeId], &[FeeFloor])> {
        let base = &*self.base;
        let by_fee = base.out_by_fee.as_ref()?;
        (self.unknown.is_none() && !base.is_node_changed(node)).then(|| {
            let range = base.range(node);
            let to = &by_fee.to[range.clone()];
            (&by_fee.edges[range.clone()], to, &by_fee.floors[range])
        })
    }

    /// Calls `f` with each direction out of `node` of the channels announced after the start,
    /// and the peer it leads to.
    pub fn for_each_added_out_edge(&self, node: NodeId, mut f: impl FnMut(NodeId, &InEdge)) {
        for scid in self.added_by_node.get(&node).into_iter().flatten() {
            let added = &self.added[scid];
            if !added.forgotten
                && let Some((_, to)) = added.info.direction_from(node)
                && let Some(edge) = InEdge::of(&added.info, to, u32::MAX)
            {
                f(to, &edge);
            }
        }
    }

    /// Whether every channel this view may know of `node` leads to one peer: the base graph
    /// gives it one, and no channel of it was announced since. A route passes through such a
    /// node only if it starts there (it would leave by the peer it came from).
    pub fn has_one_peer(&self, node: NodeId) -> bool {
        self.base.has_one_peer(node) && !self.has_added_in_edges(node)
    }

    /// Calls `f` with each direction into `node` of the channels announced after the start.
    pub fn for_each_added_in_edge(&self, node: NodeId, mut f: impl FnMut(&InEdge)) {
        for scid in self.added_by_node.get(&node).into_iter().flatten() {
            let added = &self.added[scid];
            if !added.forgotten
                && let Some(edge) = InEdge::of(&added.info, node, u32::MAX)
            {
                f(&edge);
            }
        }
    }

    /// Calls `f` with each channel of `node` this view knows, base channels first in scid order.
    pub fn for_each_channel_of(&self, node: NodeId, mut f: impl FnMut(&ChannelInfo)) {
        let base = &*self.base;
        for &index in &base.incident[base.range(node)] {
            if let Some(info) = self.base_channel(index) {
                f(&info);
            }
        }
        for scid in self.added_by_node.get(&node).into_iter().flatten() {
            let added = &self.added[scid];
            if !added.forgotten {
                f(&added.info);
            }
        }
    }

    /// Applies gossip `id` heard from a peer. Returns true when it is new to this view.
    pub fn apply_gossip(&mut self, id: GossipId) -> bool {
        match self.base.entry(id) {
            (GossipMessage::Announcement(a), index) => self.learn_announcement(&a, index, || id),
            (GossipMessage::Update(u), Some(index))
                if self.held(index, usize::from(u.direction & 1)) == Some(id) =>
            {
                false
            }
            (GossipMessage::Update(u), index) => self.learn_update(&u, index, || id),
        }
    }

    /// Applies a channel_announcement this node made. Returns its id in the shared log when it
    /// is new to this view (and so to be relayed).
    pub fn apply_announcement(&mut self, msg: &ChannelAnnouncement) -> Option<GossipId> {
        self.apply_own(GossipMessage::Announcement(*msg))
    }

    /// Applies a channel_update this node made or read in a failure. Returns its id in the
    /// shared log when it is newer than what this view had; updates of unknown or forgotten
    /// channels are ignored.
    pub fn apply_update(&mut self, msg: &ChannelUpdate) -> Option<GossipId> {
        self.apply_own(GossipMessage::Update(*msg))
    }

    /// Applies `msg`, not yet in the shared log, and logs it if it is new to this view.
    fn apply_own(&mut self, msg: GossipMessage) -> Option<GossipId> {
        let mut logged = None;
        let base = self.base.clone();
        let new = match msg {
            GossipMessage::Announcement(a) => {
                let index = base.index_of(a.short_channel_id);
                self.learn_announcement(&a, index, || *logged.insert(base.log(msg, index)))
            }
            GossipMessage::Update(u) => {
                let index = base.index_of(u.short_channel_id);
                self.learn_update(&u, index, || *logged.insert(base.log(msg, index)))
            }
        };
        if self.detached {
            return None; // nothing was logged: see `detach`
        }
        new.then(|| logged.expect("invariant: what is new was logged"))
    }

    /// Applies an announcement of base channel `index` (`None`: not a base channel); `id` names
    /// it in the log (and logs it if it is not yet).
    fn learn_announcement(
        &mut self,
        msg: &ChannelAnnouncement,
        index: Option<u32>,
        id: impl FnOnce() -> GossipId,
    ) -> bool {
        let scid = msg.short_channel_id;
        if let Some(index) = index {
            // A base channel is new only to a view that started without it.
            let info = &self.base.channels[index as usize];
            if self.has_entry(index) || !self.hidden(info) {
                return false;
            }
            if self.detached {
                self.tainted = true;
                return true;
            }
            id();
            self.base.mark_changed(index);
            self.changed.insert(index * 2, AS_AT_START);
            return true;
        }
        if self.added.contains_key(&scid) {
            return false;
        }
        if self.detached {
            self.tainted = true;
            return true;
        }
        let info = ChannelInfo {
            scid,
            node_1: msg.node_1,
            node_2: msg.node_2,
            capacity_sat: msg.capacity_sat,
            directions: [None, None],
        };
        let added = AddedChannel {
            info,
            announcement: id(),
            updates: [None, None],
            spent_at_height: None,
            forgotten: false,
        };
        self.added.insert(scid, added);
        for node in [msg.node_1, msg.node_2] {
            self.added_by_node.entry(node).or_default().push(scid);
        }
        true
    }

    /// Applies an update of base channel `index` (`None`: not a base channel); `id` names it in
    /// the log (and logs it if it is not yet).
    fn learn_update(
        &mut self,
        msg: &ChannelUpdate,
        index: Option<u32>,
        id: impl FnOnce() -> GossipId,
    ) -> bool {
        let direction = usize::from(msg.direction & 1);
        let older =
            |known: Option<DirectedPolicy>| known.is_some_and(|d| d.timestamp >= msg.timestamp);
        let Some(index) = index else {
            let detached = self.detached;
            return match self.added.get_mut(&msg.short_channel_id) {
                Some(added) if !added.forgotten && !older(added.info.directions[direction]) => {
                    if detached {
                        self.tainted = true;
                        return true;
                    }
                    added.info.directions[direction] = Some(DirectedPolicy {
                        policy: msg.policy,
                        disabled: msg.disabled,
                        timestamp: msg.timestamp,
                    });
                    added.updates[direction] = Some(id());
                    true
                }
                _ => false,
            };
        };
        let info = &self.base.channels[index as usize];
        let at_start = info.directions[direction];
        let known = match self.held(index, direction) {
            // Forgotten: ignored.
            Some(_) if self.base.is_changed(index) && self.forgot(index) => return false,
            Some(AS_AT_START) => at_start,
            Some(held) => Some(self.base.directed(held)),
            // A channel this view started without and never learnt: learnt with this update.
            None if self.hidden(info) && !self.has_entry(index) => at_start,
            None if self.base.is_changed(index) && self.forgot(index) => return false,
            None => at_start,
        };
        if older(known) {
            return false;
        }
        if self.detached {
            self.tainted = true;
            return true;
        }
        let id = id();
        self.base.mark_changed(index);
        self.changed.insert(index * 2 + direction as u32, id);
        true
    }

    /// Records that the funding of `scid` was spent in the block at `height`.
    pub fn mark_spent(&mut self, scid: Scid, height: u32) {
        if self.detached {
            self.tainted = true;
            return;
        }
        self.height = self.height.max(height);
        match self.base.index_of(scid) {
            Some(index) => self.base.record_spent(index, height),
            None => {
                if let Some(added) = self.added.get_mut(&scid).filter(|a| !a.forgotten) {
                    added.spent_at_height.get_or_insert(height);
                }
            }
        }
    }

    /// Processed the block at `height`: forgets channels whose funding was spent
    /// `after_blocks` or more blocks before it (0: on the block that spends it).
    pub fn forget_spent(&mut self, height: u32, after_blocks: u32) {
        self.height = self.height.max(height);
        self.forget_after_blocks = after_blocks;
        for added in self.added.values_mut() {
            if added.spent_at_height.is_some_and(|h| height >= h.saturating_add(after_blocks)) {
                added.forgotten = true;
            }
        }
    }

    /// Channel announcements and updates this node learnt after the start and still relays, in
    /// scid order: what it gives a newly connected peer that asks for an initial sync.
    pub fn overlay_gossip(&self) -> Vec<GossipId> {
        let mut out = Vec::new();
        let mut added = self.added.values().peekable();
        let push_added = |out: &mut Vec<GossipId>, a: &AddedChannel| {
            if !a.forgotten && a.spent_at_height.is_none() {
                out.push(a.announcement);
                out.extend(a.updates.iter().flatten());
            }
        };
        let mut last = None;
        for &key in self.changed.keys() {
            let index = key / 2;
            if last.replace(index) == Some(index) {
                continue;
            }
            let info = &self.base.channels[index as usize];
            while let Some(a) = added.next_if(|a| a.info.scid < info.scid) {
                push_added(&mut out, a);
            }
            if self.seen_spent(index) {
                continue;
            }
            for direction in 0..2 {
                match self.held(index, direction) {
                    Some(id) if id != AS_AT_START => out.push(id),
                    _ if info.directions[direction].is_some() => {
                        out.push(BaseGraph::start_id(index, direction));
                    }
                    _ => {}
                }
            }
        }
        for a in added {
            push_added(&mut out, a);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{channel, policy};
    use super::*;

    fn update(scid: u64, direction: u8, timestamp: u32, fee_base_msat: u32) -> ChannelUpdate {
        let mut policy = policy();
        policy.fee_base_msat = fee_base_msat;
        ChannelUpdate {
            short_channel_id: Scid(scid),
            direction,
            timestamp,
            disabled: false,
            policy,
        }
    }

    fn fee_from(view: &GraphView, scid: u64, from: u32) -> u32 {
        view.channel(Scid(scid)).unwrap().policy_from(NodeId(from)).unwrap().fee_base_msat
    }

    #[test]
    fn overlay_updates_shadow_the_base_for_one_view_only() {
        let base = Arc::new(BaseGraph::new(3, vec![channel(1, 0, 1)]));
        let mut mine = GraphView::new(base.clone());
        let mut theirs = GraphView::new(base.clone());
        let id = mine.apply_update(&update(1, 0, 2, 5)).expect("newer");
        assert_eq!(mine.apply_update(&update(1, 0, 2, 5)), None, "same timestamp is not newer");
        assert_eq!(fee_from(&mine, 1, 0), 5);
        assert_eq!(fee_from(&theirs, 1, 0), 1000, "logged once, known only to who heard it");
        let mut edges = Vec::new();
        theirs.for_each_in_edge(NodeId(1), |e| edges.push(e.policy.unwrap().fee_base_msat));
        mine.for_each_in_edge(NodeId(1), |e| edges.push(e.policy.unwrap().fee_base_msat));
        assert_eq!(edges, [1000, 5]);
        // Relayed by id, it is heard once.
        assert!(theirs.apply_gossip(id));
        assert!(!theirs.apply_gossip(id));
        assert_eq!(fee_from(&theirs, 1, 0), 5);
        assert_eq!(base.logged(), 1);
        // The other direction is still the start's, and an initial sync gives both.
        assert_eq!(fee_from(&theirs, 1, 1), 1000);
        let sync: Vec<GossipMessage> =
            theirs.overlay_gossip().into_iter().map(|id| base.message(id)).collect();
        assert_eq!(sync.len(), 2);
        assert!(
            matches!(sync[0], GossipMessage::Update(u) if u.direction == 0 && u.timestamp == 2)
        );
        assert!(
            matches!(sync[1], GossipMessage::Update(u) if u.direction == 1 && u.timestamp == 1)
        );
    }

    #[test]
    fn a_detached_copy_writes_nothing_shared_and_is_tainted_by_what_is_new() {
        let base = Arc::new(BaseGraph::new(3, vec![channel(1, 0, 1), channel(2, 1, 2)]));
        let mut mine = GraphView::new(base.clone());
        let id = mine.apply_update(&update(1, 0, 2, 5)).expect("newer");
        let mut copy = mine.clone();
        copy.detach();
        // What the view knew already taints nothing.
        assert_eq!(copy.apply_update(&update(1, 0, 2, 5)), None);
        assert!(!copy.apply_gossip(id));
        assert!(!copy.is_tainted());
        assert_eq!(fee_from(&copy, 1, 0), 5);
        // Something new is ignored: nothing logged, no channel marked, the spend not recorded.
        assert_eq!(copy.apply_update(&update(2, 1, 3, 7)), None);
        assert!(copy.is_tainted());
        copy.mark_spent(Scid(2), 10);
        assert_eq!(base.logged(), 1);
        assert!(!base.is_changed(1), "only channel 1 (index 0) was updated, by `mine`");
        assert_eq!(base.spent_at(1), 0);
        assert_eq!(fee_from(&copy, 2, 2), 1000);
        // The view it was copied from learns as before.
        assert!(mine.apply_update(&update(2, 1, 3, 7)).is_some());
        assert_eq!(fee_from(&mine, 2, 2), 7);
    }

    #[test]
    fn a_spend_is_seen_from_its_block_and_forgotten_after_the_delay() {
        let base = Arc::new(BaseGraph::new(3, vec![channel(1, 0, 1), channel(2, 1, 2)]));
        let mut early = GraphView::new(base.clone());
        let mut late = GraphView::new(base.clone());
        early.mark_spent(Scid(1), 100);
        early.forget_spent(100, 12);
        late.forget_spent(99, 12);
        assert!(early.seen_spent(0) && !late.seen_spent(0), "late has not seen block 100");
        early.forget_spent(111, 12);
        assert!(early.channel(Scid(1)).is_some());
        early.forget_spent(112, 12);
        assert!(early.channel(Scid(1)).is_none());
        assert!(early.apply_update(&update(1, 0, 9, 1)).is_none(), "forgotten: ignored");
        assert!(late.channel(Scid(1)).is_some());
        let mut seen = Vec::new();
        early.for_each_in_edge(NodeId(1), |e| seen.push(e.scid.0));
        late.for_each_in_edge(NodeId(1), |e| seen.push(e.scid.0));
        assert_eq!(seen, [2, 1, 2]);
        // With no delay (lnd) it goes on the block that spends it.
        late.mark_spent(Scid(1), 100);
        late.forget_spent(100, 0);
        assert!(late.channel(Scid(1)).is_none());
    }

    #[test]
    fn announced_channels_join_the_view_and_spent_ones_are_forgotten_later() {
        let base = Arc::new(BaseGraph::new(3, vec![channel(5, 0, 1)]));
        let mut view = GraphView::new(base.clone());
        let ann = ChannelAnnouncement {
            short_channel_id: Scid(7),
            node_1: NodeId(1),
            node_2: NodeId(2),
            capacity_sat: 5,
        };
        let id = view.apply_announcement(&ann).expect("new");
        assert_eq!(view.apply_announcement(&ann), None);
        view.apply_update(&update(7, 1, 3, 4)).expect("new");
        view.apply_update(&update(5, 0, 3, 4)).expect("new");
        let mut seen = 0;
        view.for_each_channel_of(NodeId(2), |_| seen += 1);
        assert_eq!(seen, 1);
        let mut into_1 = Vec::new();
        view.for_each_in_edge(NodeId(1), |e| into_1.push((e.scid.0, e.policy.is_some())));
        assert_eq!(into_1, [(5, true), (7, true)], "base first, then announced");
        // The sync lists what was learnt in scid order: channel 5's two directions, then 7.
        let sync = view.overlay_gossip();
        assert_eq!(sync.len(), 4);
        assert_eq!(sync[2], id);
        view.mark_spent(Scid(7), 100);
        view.forget_spent(111, 12);
        assert!(view.channel(Scid(7)).is_some());
        assert_eq!(view.overlay_gossip().len(), 2, "a spent channel is not relayed");
        view.forget_spent(112, 12);
        assert!(view.channel(Scid(7)).is_none());
        // Another view hears the announcement by id.
        let mut other = GraphView::new(base);
        assert!(other.apply_gossip(id));
        assert!(other.channel(Scid(7)).is_some());
    }

    /// Nodes whose channels all lead to one peer, as the graph and its edges tell them, until
    /// a view hears of a channel to another.
    #[test]
    fn a_node_with_one_peer_has_more_once_a_channel_is_announced() {
        // 0 and 3 have one peer (3 by two channels), 1 and 2 more, 4 none.
        let links = [(0, 1), (1, 2), (2, 3), (2, 3)];
        let channels = (links.iter().enumerate()).map(|(i, &(a, b))| channel(i as u64, a, b));
        let base = Arc::new(BaseGraph::new(5, channels.collect()));
        let one_peer = |view: &GraphView| -> Vec<bool> {
            (0..5).map(|n| view.has_one_peer(NodeId(n))).collect()
        };
        let mut view = GraphView::new(base.clone());
        assert_eq!(one_peer(&view), [true, false, false, true, false]);
        for node in 0..5 {
            view.for_each_in_edge(NodeId(node), |edge| {
                assert_eq!(edge.from_has_one_peer(), [0, 3].contains(&edge.from.0));
            });
        }
        let ann = ChannelAnnouncement {
            short_channel_id: Scid(9),
            node_1: NodeId(3),
            node_2: NodeId(4),
            capacity_sat: 5,
        };
        view.apply_announcement(&ann).expect("new");
        assert_eq!(one_peer(&view), [true, false, false, false, false]);
        view.for_each_added_in_edge(NodeId(4), |edge| assert!(!edge.from_has_one_peer()));
        assert_eq!(one_peer(&GraphView::new(base)), [true, false, false, true, false]);
    }

    /// Asserts that [`GraphView::for_each_out_edge`] gives, for each of the first `nodes`
    /// nodes, each channel `view` knows of it read from it (peer, channel, capacity, the node's
    /// policy), in order; returns how many directions it gave in all.
    fn out_edges_are_channels_read_from_their_nodes(view: &GraphView, nodes: u32) -> usize {
        let mut read = 0;
        for node in (0..nodes).map(NodeId) {
            let mut channels = Vec::new();
            view.for_each_channel_of(node, |info| {
                let (_, to) = info.direction_from(node).expect("an end");
                channels.push((to, info.scid, info.capacity_sat, info.policy_from(node).copied()));
            });
            let mut out = Vec::new();
            view.for_each_out_edge(node, |to, edge| {
                assert_eq!(edge.from, node);
                out.push((to, edge.scid, edge.capacity_sat, edge.policy));
            });
            assert_eq!(out, channels, "out of {node}");
            read += out.len();
        }
        read
    }

    /// The directions out of each node, as [`GraphView::for_each_out_edge`] reads them: the
    /// same as each channel the view knows read from that node, through updates, a disabled
    /// direction, channels announced, spent and forgotten, and channels it started without.
    #[test]
    fn directions_out_of_a_node_are_its_channels_read_from_it() {
        for copied in [true, false] {
            directions_out_of_a_node_of_an_incomplete_view(copied);
        }
    }

    fn directions_out_of_a_node_of_an_incomplete_view(copied: bool) {
        let links = [(0, 1), (1, 2), (1, 2), (2, 3), (0, 3), (1, 3), (0, 2)];
        let channels =
            (links.iter().enumerate()).map(|(i, &(a, b))| channel(20 - i as u64, a, b)).collect();
        let base = Arc::new(BaseGraph::with_out_edges(5, channels, copied));
        assert_eq!(matches!(base.out_edges, OutEdges::Copied(_)), copied);
        let mut view = GraphView::new(base.clone());
        view.start_incomplete(NodeId(4), 3, 300_000);
        // With this seed the view starts without channels 17, 18 and 20.
        let unknown: Vec<u64> =
            (14..=20).filter(|&scid| view.channel(Scid(scid)).is_none()).collect();
        assert_eq!(unknown, [17, 18, 20]);
        view.apply_update(&update(19, 1, 5, 7)).expect("newer");
        view.apply_update(&ChannelUpdate { disabled: true, ..update(18, 0, 5, 1000) })
            .expect("learnt");
        view.apply_update(&update(17, 0, 9, 3)).expect("learnt");
        for (scid, (a, b)) in [(30, (3, 4)), (31, (2, 4)), (32, (0, 4))] {
            let ann = ChannelAnnouncement {
                short_channel_id: Scid(scid),
                node_1: NodeId(a),
                node_2: NodeId(b),
                capacity_sat: 7,
            };
            view.apply_announcement(&ann).expect("new");
            view.apply_update(&update(scid, 0, 2, 11)).expect("new");
        }
        view.mark_spent(Scid(31), 100);
        view.mark_spent(Scid(15), 100);
        view.forget_spent(200, 12);
        let read = out_edges_are_channels_read_from_their_nodes(&view, 5);
        // 17 learnt from an update, 18 from the one disabling it from 1, 20 still unknown; 15
        // and 31 forgotten.
        let scids = |node| {
            let mut read = Vec::new();
            view.for_each_out_edge(node, |_, e| {
                read.push((e.scid.0, e.policy.map(|p| p.fee_base_msat)))
            });
            read
        };
        assert_eq!(scids(NodeId(1)), [(18, None), (19, Some(1000))]);
        assert_eq!(scids(NodeId(2))[1..], [(17, Some(3)), (18, Some(1000)), (19, Some(7))]);
        assert_eq!(scids(NodeId(4)), [(30, None), (32, None)]);
        // The 7 base channels and 3 announced, less 20, 15 and 31, each read from both ends.
        assert_eq!(read, 2 * (links.len() + 3 - 3));
    }

    /// The same on views that start with every channel: a node none of whose channels any view
    /// changed is read as one slice, the others direction by direction, whether this view or
    /// only another one heard the change.
    #[test]
    fn directions_out_of_a_node_of_a_complete_view_are_its_channels_read_from_it() {
        for copied in [true, false] {
            directions_out_of_a_node_of_a_complete_view(copied);
        }
    }

    fn directions_out_of_a_node_of_a_complete_view(copied: bool) {
        let links = [(0, 1), (1, 2), (1, 2), (2, 3), (0, 3), (1, 3), (0, 2), (3, 4)];
        let channels =
            (links.iter().enumerate()).map(|(i, &(a, b))| channel(20 - i as u64, a, b)).collect();
        let base = Arc::new(BaseGraph::with_out_edges(5, channels, copied));
        assert_eq!(matches!(base.out_edges, OutEdges::Copied(_)), copied);
        let mut heard = GraphView::new(base.clone());
        heard.apply_update(&update(19, 1, 5, 7)).expect("newer");
        heard
            .apply_update(&ChannelUpdate { disabled: true, ..update(16, 0, 5, 1000) })
            .expect("newer");
        let unheard = GraphView::new(base.clone());
        let changed: Vec<bool> = (0..5).map(|n| base.is_node_changed(NodeId(n))).collect();
        assert_eq!(changed, [true, true, true, true, false], "node 4's one channel is 13");
        for view in [&heard, &unheard] {
            assert_eq!(out_edges_are_channels_read_from_their_nodes(view, 5), 2 * links.len());
        }
        let fees = |view: &GraphView, node| {
            let mut fees = Vec::new();
            view.for_each_out_edge(node, |_, e| fees.push(e.policy.map(|p| p.fee_base_msat)));
            fees
        };
        // Node 0's channels 14, 16 (disabled from 0 in `heard`) and 20; node 2's 14, 17, 18 and
        // 19 (7 msat from 2 in `heard`).
        let start = policy().fee_base_msat;
        assert_eq!(fees(&heard, NodeId(0)), [Some(start), None, Some(start)]);
        assert_eq!(fees(&unheard, NodeId(0)), [Some(start); 3]);
        assert_eq!(fees(&heard, NodeId(2)), [Some(start), Some(start), Some(start), Some(7)]);
        assert_eq!(fees(&unheard, NodeId(2)), [Some(start); 4]);
    }

    #[test]
    fn a_view_that_started_without_a_channel_learns_it_from_an_update() {
        let channels = (1..=40).map(|scid| channel(scid, 0, 1)).collect();
        let base = Arc::new(BaseGraph::new(3, channels));
        let mut view = GraphView::new(base.clone());
        view.start_incomplete(NodeId(2), 7, 500_000);
        let hidden: Vec<u64> =
            (1..=40).filter(|&scid| view.channel(Scid(scid)).is_none()).collect();
        assert!(!hidden.is_empty() && hidden.len() < 40);
        let scid = hidden[0];
        let mut count = 0;
        view.for_each_in_edge(NodeId(1), |_| count += 1);
        assert_eq!(count, 40 - hidden.len());
        assert!(view.apply_update(&update(scid, 0, 1, 3)).is_none(), "not newer than the start's");
        assert!(view.apply_update(&update(scid, 0, 2, 3)).is_some());
        assert_eq!(fee_from(&view, scid, 0), 3);
        assert_eq!(fee_from(&view, scid, 1), 1000, "learnt with the start's other direction");
        let mut count = 0;
        view.for_each_in_edge(NodeId(1), |_| count += 1);
        assert_eq!(count, 41 - hidden.len());
    }
}
