//! A node's view of the public network. At mainnet scale nodes cannot each hold a copy of the
//! graph, so every node shares one [`BaseGraph`]: the channels that exist when the run starts,
//! and a log of every gossip message sent during the run, each kept once however many nodes hear
//! it. A node's [`GraphView`] holds only which of those messages it knows where it differs from
//! the start (a log index per channel direction), the channels it heard announced, and the height
//! of the last block it processed (a channel's funding spend is a chain fact, the same for every
//! node that has seen the block). Nothing here reads another node's balances or view. Routing
//! reads a [`GraphView`]; gossip writes to it.

mod log;
mod view;

pub use log::AppendLog;
pub use view::GraphView;

use crate::gossip::{GossipId, GossipMessage};
use crate::ids::{NodeId, Scid};
use crate::policy::ChannelPolicy;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

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

/// The channels every node knows at the start of a run and the gossip sent since, shared by all
/// nodes. Channels are sorted by scid; each node's incident channels are stored contiguously
/// (CSR layout).
///
/// Gossip ids: `2c + d` names direction `d` of channel `c` (by index) as it was at the start;
/// ids from `2 × channels` on name entries of the log.
#[derive(Debug, Default)]
pub struct BaseGraph {
    node_count: u32,
    channels: Vec<ChannelInfo>,
    offsets: Vec<u32>,
    incident: Vec<u32>,
    /// For each entry of `incident`, the direction into the node: what a route search scans,
    /// laid out contiguously per node so the scan stays in cache.
    in_edges: Vec<InEdge>,
    /// The directions out of each node, laid out as `in_edges` ([`OutEdges`]).
    out_edges: OutEdges,
    /// For each entry of `in_edges`, the node it comes from: what a breadth-first marking reads,
    /// 4 bytes a direction instead of a 64-byte edge.
    peers: Vec<NodeId>,
    /// Each node's incoming directions again, ordered by what they charge ([`ByFee`]); kept
    /// where `out_edges` are copied.
    by_fee: Option<ByFee>,
    /// Each node's outgoing directions again, ordered by what the node charges over them
    /// ([`OutByFee`]); kept where `out_edges` are copied.
    out_by_fee: Option<OutByFee>,
    /// Every announcement and update made during the run, once, with the index of its channel in
    /// the base graph (`u32::MAX` for a channel announced during the run).
    log: AppendLog<(GossipMessage, u32)>,
    /// Per channel: some view may know it differently from the start (an update of it was made,
    /// its funding was spent, or a view that started without it learnt it). A clean channel is
    /// read from the start's copy without looking at a view.
    changed: Vec<AtomicBool>,
    /// Per node: one of its channels is in `changed`, so a search scanning its incoming
    /// directions must look at each one's flag; for the others it reads the slice as is.
    node_changed: Vec<AtomicBool>,
    /// `changed` again, laid out as `in_edges` (each channel twice), so a scan reads its flags
    /// in order.
    in_changed: Vec<AtomicBool>,
    /// Per channel: the height of the block that spent its funding, 0 while unspent.
    spent_at: Vec<AtomicU32>,
    /// Per node, a bit: all its channels lead to one peer (57% of the 2026 mainnet snapshot's
    /// nodes, 43% of CLoTH's). A bitset: a search reads it from cache.
    one_peer: Vec<u64>,
}

/// A channel direction into a node, as a route search reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InEdge {
    /// `2 × index + direction` in the low 31 bits: the channel's index in the base graph and
    /// the direction (0 from its `node_1`, 1 from its `node_2`), all ones for a channel
    /// announced later; the top bit: `from` has one peer in the base graph
    /// ([`BaseGraph::has_one_peer`]). One word, so an edge stays 64 bytes.
    key: u32,
    /// The node the direction starts from.
    pub from: NodeId,
    /// The channel.
    pub scid: Scid,
    /// The channel's value, sat.
    pub capacity_sat: u64,
    /// `from`'s policy, if known and not disabled.
    pub policy: Option<ChannelPolicy>,
}

// A search scans these by the thousand: keep one to a cache line.
const _: () = assert!(std::mem::size_of::<InEdge>() <= 64);

/// The bits of [`InEdge`]'s key that hold the channel and direction.
const KEY_MASK: u32 = u32::MAX >> 1;

impl InEdge {
    /// The channel's index in the base graph.
    fn index(&self) -> u32 {
        (self.key & KEY_MASK) / 2
    }

    /// The direction, as an index into [`ChannelInfo::directions`].
    fn direction(&self) -> usize {
        (self.key % 2) as usize
    }

    /// Whether `from` has one peer in the base graph ([`BaseGraph::has_one_peer`]); always
    /// `false` for a channel announced later.
    pub fn from_has_one_peer(&self) -> bool {
        self.key & !KEY_MASK != 0
    }

    /// The direction of `info` into `to`, if `to` is one of its ends.
    fn of(info: &ChannelInfo, to: NodeId, index: u32) -> Option<InEdge> {
        let (into, from) = info.direction_from(to)?;
        Some(InEdge {
            key: index.saturating_mul(2).saturating_add(1 - into as u32).min(KEY_MASK),
            from,
            scid: info.scid,
            capacity_sat: info.capacity_sat,
            policy: info.policy_from(from).copied(),
        })
    }
}

/// The most directions (both of each channel) whose copy [`OutEdges::Copied`] keeps, and
/// whose copies ordered by fee [`ByFee`] and [`OutByFee`] keep: 2^21, 128 MiB of copies each,
/// 16 MiB of fee floors each and 8 MiB of peers (the 2026 mainnet snapshot has 101,616
/// directions: 6.5 MB a copy). A larger network keeps [`OutEdges::Mates`] and neither ordered
/// copy: at the generated networks' limit of 3,000,000 channels the copies would add 343 MiB
/// each to a run that fits 8 GiB without them.
pub(crate) const COPIED_OUT_EDGES_MAX: usize = 1 << 21;

/// Each node's incoming directions as the start had them, laid out as `in_edges` but ordered
/// by what they charge, with the least fee every direction from each one on charges: a search
/// that knows a route of some cost stops reading a node's directions once the rest would cost
/// more ([`GraphView::in_edges_by_fee_as_at_start`]).
#[derive(Debug)]
struct ByFee {
    /// Per node, the directions from each peer together, in the order `in_edges` has them
    /// (two channels from one peer offer it labels in that order, so that equal offers end
    /// alike), peers ordered by the least proportional fee, then the least base fee, of their
    /// directions, then by id.
    edges: Vec<InEdge>,
    /// Per entry of `edges`: the least base fee and the least proportional fee of the node's
    /// directions from that entry on ([`FeeFloor`]).
    floors: Vec<FeeFloor>,
}

/// Each node's outgoing directions as the start had them, laid out as `in_edges` but ordered by
/// the fees the node charges over them, with the least fee every direction from each one on
/// charges: the fees from the payer before a search read a node's directions only as far as
/// they can still matter ([`GraphView::out_edges_by_fee_as_at_start`]).
#[derive(Debug)]
struct OutByFee {
    /// Per node, its directions ordered by proportional fee, then base fee, then as `out_edges`.
    edges: Vec<InEdge>,
    /// Per entry of `edges`, the peer it leads to.
    to: Vec<NodeId>,
    /// Per entry of `edges`: the least base fee and the least proportional fee of the node's
    /// directions from that entry on ([`FeeFloor`]).
    floors: Vec<FeeFloor>,
}

/// What each of a node's directions from some place on in the copy ordered by fee (`ByFee`)
/// charges at least: the least base fee and the least proportional fee among them (of those
/// with a policy; `u32::MAX` for none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeFloor {
    /// The least base fee, msat.
    pub fee_base_msat: u32,
    /// The least proportional fee, millionths.
    pub fee_proportional_millionths: u32,
}

impl FeeFloor {
    /// None at all: no direction with a policy.
    const NONE: FeeFloor =
        FeeFloor { fee_base_msat: u32::MAX, fee_proportional_millionths: u32::MAX };

    /// The least of `self` and `other`, part by part.
    fn least(self, other: FeeFloor) -> FeeFloor {
        FeeFloor {
            fee_base_msat: self.fee_base_msat.min(other.fee_base_msat),
            fee_proportional_millionths: self
                .fee_proportional_millionths
                .min(other.fee_proportional_millionths),
        }
    }

    /// The least of `self` and `policy`'s fees, part by part.
    fn lower(self, policy: Option<&ChannelPolicy>) -> FeeFloor {
        let Some(p) = policy else { return self };
        let fees = FeeFloor {
            fee_base_msat: p.fee_base_msat,
            fee_proportional_millionths: p.fee_proportional_millionths,
        };
        self.least(fees)
    }

    /// What forwarding `amount_msat` costs at least over each direction it bounds: as
    /// [`ChannelPolicy::fee_msat`] with the least base and proportional fees, which a fee never
    /// falls below.
    #[inline(always)]
    pub fn fee_msat(&self, amount_msat: u64) -> u64 {
        let least = ChannelPolicy {
            fee_base_msat: self.fee_base_msat,
            fee_proportional_millionths: self.fee_proportional_millionths,
            cltv_expiry_delta: 0,
            htlc_minimum_msat: 0,
            htlc_maximum_msat: u64::MAX,
        };
        least.fee_msat(amount_msat)
    }
}

impl ByFee {
    /// [`ByFee`] of `in_edges`, each node's at `offsets`.
    fn new(offsets: &[u32], in_edges: &[InEdge]) -> ByFee {
        let mut edges = Vec::with_capacity(in_edges.len());
        let mut floors = vec![FeeFloor::NONE; in_edges.len()];
        let mut least: Vec<(NodeId, FeeFloor)> = Vec::new();
        for window in offsets.windows(2) {
            let range = window[0] as usize..window[1] as usize;
            let node_edges = &in_edges[range.clone()];
            // Each peer's least fees (by peer), then the directions by their peer's.
            least.clear();
            least.extend(
                node_edges.iter().map(|e| (e.from, FeeFloor::NONE.lower(e.policy.as_ref()))),
            );
            least.sort_by_key(|&(from, _)| from);
            least.dedup_by(|(from, floor), (kept_from, kept)| {
                let same = from == kept_from;
                if same {
                    *kept = kept.least(*floor);
                }
                same
            });
            let key = |edge: &InEdge| {
                let at = least.binary_search_by_key(&edge.from, |&(from, _)| from);
                let (_, floor) = least[at.expect("every peer is listed")];
                (floor.fee_proportional_millionths, floor.fee_base_msat, edge.from)
            };
            let start = edges.len();
            edges.extend_from_slice(node_edges);
            // Stable: a peer's directions keep their order.
            edges[start..].sort_by_key(key);
            write_floors(&edges[range.clone()], &mut floors[range]);
        }
        ByFee { edges, floors }
    }
}

/// Writes each of one node's `edges` ordered by fee the least base and proportional fee of it
/// and those after it ([`FeeFloor`]).
fn write_floors(edges: &[InEdge], floors: &mut [FeeFloor]) {
    let mut floor = FeeFloor::NONE;
    for (edge, slot) in edges.iter().zip(floors).rev() {
        floor = floor.lower(edge.policy.as_ref());
        *slot = floor;
    }
}

impl OutByFee {
    /// [`OutByFee`] of `out_edges` (each leading to the node of `peers` at the same place), each
    /// node's at `offsets`.
    fn new(offsets: &[u32], out_edges: &[InEdge], peers: &[NodeId]) -> OutByFee {
        let mut order: Vec<u32> = (0..out_edges.len() as u32).collect();
        let mut floors = vec![FeeFloor::NONE; out_edges.len()];
        let fees = |i: &u32| {
            let floor = FeeFloor::NONE.lower(out_edges[*i as usize].policy.as_ref());
            (floor.fee_proportional_millionths, floor.fee_base_msat)
        };
        for window in offsets.windows(2) {
            // Stable: equal fees keep their order.
            order[window[0] as usize..window[1] as usize].sort_by_key(fees);
        }
        let edges: Vec<InEdge> = order.iter().map(|&i| out_edges[i as usize]).collect();
        let to = order.iter().map(|&i| peers[i as usize]).collect();
        for window in offsets.windows(2) {
            let range = window[0] as usize..window[1] as usize;
            write_floors(&edges[range.clone()], &mut floors[range]);
        }
        OutByFee { edges, to, floors }
    }
}

/// The directions out of each node, for the scans that follow channels forward (the fees from
/// the payer before a search, the check that the payer reaches the payee, the min-cost-flow
/// router's arcs): entry `i` is the other direction of the channel of `in_edges[i]`.
#[derive(Debug)]
enum OutEdges {
    /// Copied as the start had them, 64 bytes a direction: a scan reads a node's in order
    /// (reading them through `Mates` was a cache miss per channel on mainnet, a third of the
    /// samples of the scan; the copies made the first 5,000 `Cheapest` payments 0.89 as dear).
    Copied(Vec<InEdge>),
    /// Their positions in `in_edges`, 4 bytes a direction, in networks past
    /// [`COPIED_OUT_EDGES_MAX`] directions.
    Mates(Vec<u32>),
}

impl Default for OutEdges {
    fn default() -> OutEdges {
        OutEdges::Mates(Vec::new())
    }
}

impl BaseGraph {
    /// A graph of `node_count` nodes (ids `0..node_count`) and `channels`.
    pub fn new(node_count: u32, channels: Vec<ChannelInfo>) -> BaseGraph {
        let copy = 2 * channels.len() <= COPIED_OUT_EDGES_MAX;
        BaseGraph::with_out_edges(node_count, channels, copy)
    }

    /// [`BaseGraph::new`], keeping the directions out of each node copied or as positions
    /// ([`OutEdges`]) as told.
    pub(crate) fn with_out_edges(
        node_count: u32,
        mut channels: Vec<ChannelInfo>,
        copy_out_edges: bool,
    ) -> BaseGraph {
        channels.sort_by_key(|c| c.scid);
        // Kept for the whole run by every node's view: no room to spare.
        channels.shrink_to_fit();
        let mut degree = vec![0u32; node_count as usize + 1];
        // An edge's key holds twice a channel's index in 31 bits, all ones meaning none.
        assert!(channels.len() < 1 << 30, "invariant: fewer than 2^30 channels");
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
                let edge = InEdge::of(&channels[i as usize], NodeId(node), i);
                in_edges.push(edge.expect("invariant: an incident channel has the node as an end"));
            }
        }
        let mut one_peer = vec![0u64; (node_count as usize).div_ceil(64)];
        for node in 0..node_count as usize {
            let edges = &in_edges[offsets[node] as usize..offsets[node + 1] as usize];
            if edges.first().is_some_and(|first| edges.iter().all(|e| e.from == first.from)) {
                one_peer[node / 64] |= 1 << (node % 64);
            }
        }
        for edge in &mut in_edges {
            let from = edge.from.index();
            if one_peer[from / 64] >> (from % 64) & 1 != 0 {
                edge.key |= !KEY_MASK;
            }
        }
        // `incident` lists a node's channels by increasing index: the other direction's place
        // among the other end's is found by bisection.
        let mut mates = Vec::with_capacity(in_edges.len());
        for (slot, edge) in in_edges.iter().enumerate() {
            let index = incident[slot];
            let peer = edge.from.index();
            let range = offsets[peer] as usize..offsets[peer + 1] as usize;
            let rank = incident[range.clone()]
                .binary_search(&index)
                .expect("invariant: a channel is incident to both its ends");
            mates.push((range.start + rank) as u32);
        }
        let out_edges = match copy_out_edges {
            true => OutEdges::Copied(mates.iter().map(|&m| in_edges[m as usize]).collect()),
            false => OutEdges::Mates(mates),
        };
        let by_fee = copy_out_edges.then(|| ByFee::new(&offsets, &in_edges));
        let peers: Vec<NodeId> = in_edges.iter().map(|edge| edge.from).collect();
        let out_by_fee = match &out_edges {
            OutEdges::Copied(copies) => Some(OutByFee::new(&offsets, copies, &peers)),
            OutEdges::Mates(_) => None,
        };
        let changed = channels.iter().map(|_| AtomicBool::new(false)).collect();
        let node_changed = (0..node_count).map(|_| AtomicBool::new(false)).collect();
        let in_changed = in_edges.iter().map(|_| AtomicBool::new(false)).collect();
        let spent_at = channels.iter().map(|_| AtomicU32::new(0)).collect();
        BaseGraph {
            node_count,
            channels,
            offsets,
            incident,
            in_edges,
            out_edges,
            peers,
            by_fee,
            out_by_fee,
            log: AppendLog::default(),
            changed,
            node_changed,
            in_changed,
            spent_at,
            one_peer,
        }
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
        self.index_of(scid).map(|i| &self.channels[i as usize])
    }

    /// The channels of `node`, in scid order.
    pub fn channels_of(&self, node: NodeId) -> impl Iterator<Item = &ChannelInfo> + '_ {
        self.incident[self.range(node)].iter().map(|&i| &self.channels[i as usize])
    }

    /// The nodes `node` shares a channel with (once per channel), whatever the channels'
    /// policies.
    pub fn peers_of(&self, node: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.peers[self.range(node)].iter().copied()
    }

    /// Whether all of `node`'s channels (one or more) lead to one peer.
    pub fn has_one_peer(&self, node: NodeId) -> bool {
        let i = node.index();
        self.one_peer.get(i / 64).is_some_and(|word| word >> (i % 64) & 1 != 0)
    }

    /// How many channels `node` has.
    pub fn degree(&self, node: NodeId) -> usize {
        self.range(node).len()
    }

    /// The positions of `node`'s channels in `incident`, `in_edges`, `out_edges`, `peers` and
    /// `in_changed`.
    fn range(&self, node: NodeId) -> std::ops::Range<usize> {
        match (self.offsets.get(node.index()), self.offsets.get(node.index() + 1)) {
            (Some(&start), Some(&end)) => start as usize..end as usize,
            _ => 0..0,
        }
    }

    /// The index of channel `scid`, if it is in the base graph.
    fn index_of(&self, scid: Scid) -> Option<u32> {
        self.channels.binary_search_by_key(&scid, |c| c.scid).ok().map(|i| i as u32)
    }

    /// Adds `msg`, about base channel `index` (`None`: a channel announced during the run), to
    /// the shared log.
    fn log(&self, msg: GossipMessage, index: Option<u32>) -> GossipId {
        GossipId(self.base_ids() + self.log.push((msg, index.unwrap_or(u32::MAX))))
    }

    /// The message `id` names and its channel's index in the base graph, if it is there.
    fn entry(&self, id: GossipId) -> (GossipMessage, Option<u32>) {
        let base_ids = self.base_ids();
        if id.0 < base_ids {
            return (self.message(id), Some(id.0 / 2));
        }
        let (msg, index) = *self
            .log
            .get(id.0 - base_ids)
            .expect("invariant: gossip ids come from this graph's log");
        (msg, (index != u32::MAX).then_some(index))
    }

    /// The message `id` names.
    ///
    /// # Panics
    /// If `id` was not handed out by this graph.
    pub fn message(&self, id: GossipId) -> GossipMessage {
        let base_ids = self.base_ids();
        if id.0 < base_ids {
            let info = &self.channels[(id.0 / 2) as usize];
            let direction = (id.0 % 2) as u8;
            let known = info.directions[direction as usize]
                .expect("invariant: start ids name directions known at the start");
            return GossipMessage::Update(crate::gossip::ChannelUpdate {
                short_channel_id: info.scid,
                direction,
                timestamp: known.timestamp,
                disabled: known.disabled,
                policy: known.policy,
            });
        }
        self.log.get(id.0 - base_ids).expect("invariant: gossip ids come from this graph's log").0
    }

    /// How many gossip messages were made during the run.
    pub fn logged(&self) -> u32 {
        self.log.len()
    }

    /// The first id of the log: the ids below name the start's directions.
    fn base_ids(&self) -> u32 {
        u32::try_from(self.channels.len() * 2).expect("invariant: channels fit in u32 ids")
    }

    /// The id of direction `direction` of channel `index` as at the start.
    fn start_id(index: u32, direction: usize) -> GossipId {
        GossipId(index * 2 + direction as u32)
    }

    /// The policy an update id carries.
    fn directed(&self, id: GossipId) -> DirectedPolicy {
        if id.0 < self.base_ids() {
            return self.channels[(id.0 / 2) as usize].directions[(id.0 % 2) as usize]
                .expect("invariant: start ids name directions known at the start");
        }
        match self.message(id) {
            GossipMessage::Update(u) => {
                DirectedPolicy { policy: u.policy, disabled: u.disabled, timestamp: u.timestamp }
            }
            GossipMessage::Announcement(_) => {
                unreachable!("invariant: views store update ids for directions")
            }
        }
    }

    /// Whether some view may know channel `index` differently from the start.
    fn is_changed(&self, index: u32) -> bool {
        self.changed[index as usize].load(Ordering::Relaxed)
    }

    /// Whether some channel of `node` may be known differently by some view.
    fn is_node_changed(&self, node: NodeId) -> bool {
        self.node_changed.get(node.index()).is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Marks channel `index` as known differently by some view.
    fn mark_changed(&self, index: u32) {
        if !self.changed[index as usize].swap(true, Ordering::Relaxed) {
            let info = &self.channels[index as usize];
            for node in [info.node_1, info.node_2] {
                self.node_changed[node.index()].store(true, Ordering::Relaxed);
                // The channel's place among the node's incoming directions: `incident` lists a
                // node's channels by increasing index.
                let range = self.range(node);
                if let Ok(rank) = self.incident[range.clone()].binary_search(&index) {
                    self.in_changed[range.start + rank].store(true, Ordering::Relaxed);
                }
            }
        }
    }

    /// The height at which channel `index`'s funding was spent, 0 while unspent.
    fn spent_at(&self, index: u32) -> u32 {
        self.spent_at[index as usize].load(Ordering::Relaxed)
    }

    /// Records that channel `index`'s funding was spent in the block at `height`; every node that
    /// processes that block records the same height.
    fn record_spent(&self, index: u32, height: u32) {
        let _ = self.spent_at[index as usize].compare_exchange(
            0,
            height,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        self.mark_changed(index);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(super) fn policy() -> ChannelPolicy {
        ChannelPolicy {
            fee_base_msat: 1000,
            fee_proportional_millionths: 1,
            cltv_expiry_delta: 40,
            htlc_minimum_msat: 1,
            htlc_maximum_msat: 1_000_000_000,
        }
    }

    pub(super) fn channel(scid: u64, a: u32, b: u32) -> ChannelInfo {
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

    /// Node 0's channels from 1 (two, the first dearer), 2, 3 and 4 (disabled toward 0), with
    /// `(base, ppm)` fees toward node 0.
    fn by_fee_graph() -> BaseGraph {
        let toward_0 = |scid, peer, fees: Option<(u32, u32)>| {
            let mut c = channel(scid, 0, peer);
            match fees {
                Some((base, ppm)) => {
                    let d = c.directions[1].as_mut().expect("set");
                    (d.policy.fee_base_msat, d.policy.fee_proportional_millionths) = (base, ppm);
                }
                None => c.directions[1].as_mut().expect("set").disabled = true,
            }
            c
        };
        BaseGraph::new(
            5,
            vec![
                toward_0(1, 1, Some((900, 50))),
                toward_0(2, 2, Some((0, 100))),
                toward_0(3, 1, Some((10, 5))),
                toward_0(4, 3, Some((2_000, 1))),
                toward_0(5, 4, None),
            ],
        )
    }

    #[test]
    fn a_nodes_directions_by_fee_keep_each_peers_order_over_floors_of_the_rest() {
        let graph = by_fee_graph();
        let ByFee { edges, floors } = graph.by_fee.as_ref().expect("a small network keeps it");
        let range = graph.range(NodeId(0));
        let scids: Vec<u64> = edges[range.clone()].iter().map(|e| e.scid.0).collect();
        // Peers by their least proportional fee: 3 (1), 1 (5, both its channels in scid
        // order), 2 (100), and 4, whose direction has no policy.
        assert_eq!(scids, vec![4, 1, 3, 2, 5]);
        let floor = |base, ppm| FeeFloor { fee_base_msat: base, fee_proportional_millionths: ppm };
        let expected = [floor(0, 1), floor(0, 5), floor(0, 5), floor(0, 100), FeeFloor::NONE];
        assert_eq!(&floors[range.clone()], &expected);
        // Every direction from one on charges at least its floor, at every amount.
        for (i, edge) in edges[range.clone()].iter().enumerate() {
            for amount_msat in [1, 1_000, 10_000_000, u64::MAX] {
                let least = floors[range.start + i].fee_msat(amount_msat);
                for later in &edges[range.start + i..range.end] {
                    let fee = later.policy.map_or(u64::MAX, |p| p.fee_msat(amount_msat));
                    assert!(least <= fee, "{} at {amount_msat}", edge.scid.0);
                }
            }
        }
        // The other nodes' directions, each from node 0 alone: as they are.
        for node in 1..5 {
            let range = graph.range(NodeId(node));
            assert_eq!(edges[range.clone()], graph.in_edges[range]);
        }
    }

    #[test]
    fn a_nodes_directions_out_by_fee_come_with_their_peers_over_floors_of_the_rest() {
        let from_0 = |scid, peer, fees: Option<(u32, u32)>| {
            let mut c = channel(scid, 0, peer);
            let d = c.directions[0].as_mut().expect("set");
            match fees {
                Some((base, ppm)) => {
                    (d.policy.fee_base_msat, d.policy.fee_proportional_millionths) = (base, ppm)
                }
                None => d.disabled = true,
            }
            c
        };
        let graph = BaseGraph::new(
            5,
            vec![
                from_0(1, 1, Some((900, 50))),
                from_0(2, 2, Some((0, 100))),
                from_0(3, 1, Some((10, 5))),
                from_0(4, 3, None),
                from_0(5, 4, Some((2_000, 5))),
            ],
        );
        let OutByFee { edges, to, floors } = graph.out_by_fee.as_ref().expect("kept");
        let range = graph.range(NodeId(0));
        let out: Vec<(u64, u32)> = edges[range.clone()]
            .iter()
            .zip(&to[range.clone()])
            .map(|(e, t)| (e.scid.0, t.0))
            .collect();
        // By proportional fee, then base fee; the direction without a policy last.
        assert_eq!(out, vec![(3, 1), (5, 4), (1, 1), (2, 2), (4, 3)]);
        assert!(edges[range.clone()].iter().all(|e| e.from == NodeId(0)));
        let floor = |base, ppm| FeeFloor { fee_base_msat: base, fee_proportional_millionths: ppm };
        let expected = [floor(0, 5), floor(0, 5), floor(0, 50), floor(0, 100), FeeFloor::NONE];
        assert_eq!(&floors[range], &expected);
        // A peer's one direction out, toward node 0.
        let range = graph.range(NodeId(4));
        assert_eq!(to[range.clone()], [NodeId(0)]);
        assert_eq!(edges[range].iter().map(|e| e.scid.0).collect::<Vec<_>>(), vec![5]);
    }
}
