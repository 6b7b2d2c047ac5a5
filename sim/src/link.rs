//! Virtual links between nodes: whether a connection is up, whether a partition cuts it, and when
//! a message sent now arrives. Latency is drawn per message from the link's model and stream
//! (labelled with both node names, so links do not share randomness), plus any latency spike in
//! force, and a direction never reorders: a message never overtakes an earlier one, as on a TCP
//! connection. Each connection has an epoch, so messages sent on a connection that has since
//! gone down are recognised and lost. The world decides what to do with a message; this module
//! only times it.

use crate::keyhash::KeyMap;
use crate::rng::{Stream, StreamId};
use node_core::{NodeId, SimTime};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The largest one-way latency a model may give, ms (a day): a scenario's models are checked
/// against it, and a log-normal draw above it is cut to it.
pub const MAX_LATENCY_MS: u64 = 86_400_000;

/// How long a message takes over a link, one way.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum LatencyModel {
    /// Always the same.
    Constant {
        /// One-way latency, ms.
        latency_ms: u64,
    },
    /// Uniform between two bounds.
    Uniform {
        /// Lower bound, ms.
        min_ms: u64,
        /// Upper bound, ms.
        max_ms: u64,
    },
    /// Log-normal with a median and a shape.
    LogNormal {
        /// Median, ms.
        median_ms: u64,
        /// Shape (standard deviation of the log).
        sigma: f64,
    },
}

/// Link latencies of a scenario, resolved.
#[derive(Clone, Debug)]
pub struct LinksDef {
    /// The default model.
    pub latency: LatencyModel,
    /// Per-link models, keyed by (smaller id, larger id).
    pub overrides: BTreeMap<(NodeId, NodeId), LatencyModel>,
}

/// What a set of links carries; each kind draws from its own streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// Lightning peer connections ([`StreamId::Link`]).
    Peer,
    /// Application traffic between shops and customers ([`StreamId::Http`]).
    Http,
}

struct LinkState {
    up: bool,
    /// Incremented each time the connection goes down.
    epoch: u64,
    /// Partitions currently cutting this link.
    cuts: u32,
    /// Latency added by spikes in force, µs.
    extra_us: u64,
    /// The latest arrival scheduled in each direction: from the smaller id, from the larger id.
    last_arrival: [SimTime; 2],
    /// Made at the first latency drawn (it is named by the link, so when it is made changes
    /// nothing it draws): most links of a large network carry no message but `init`, which is
    /// exchanged at time 0 without a draw, and a stream is some 300 bytes. Boxed for the same
    /// reason.
    stream: Option<Box<Stream>>,
}

impl LinkState {
    /// A link never up yet.
    const DOWN: LinkState = LinkState {
        up: false,
        epoch: 0,
        cuts: 0,
        extra_us: 0,
        last_arrival: [SimTime::ZERO; 2],
        stream: None,
    };
}

/// What a latency is drawn with on one link: the link's kind, key and model, the run's seed and
/// the node names its stream is labelled with.
struct Draw<'a> {
    kind: LinkKind,
    seed: u64,
    names: &'a [String],
    key: (NodeId, NodeId),
    model: LatencyModel,
}

impl LinkState {
    /// The link's stream, made at its first use and labelled with both node names.
    fn stream(&mut self, draw: &Draw<'_>) -> &mut Stream {
        self.stream.get_or_insert_with(|| {
            let (a, b) =
                (draw.names[draw.key.0.index()].as_str(), draw.names[draw.key.1.index()].as_str());
            let id = match draw.kind {
                LinkKind::Peer => StreamId::Link(a, b),
                LinkKind::Http => StreamId::Http(a, b),
            };
            Box::new(id.stream(draw.seed))
        })
    }

    /// One latency draw, µs, spikes in force added.
    fn latency_us(&mut self, draw: &Draw<'_>) -> u64 {
        let drawn_us = match draw.model {
            LatencyModel::Constant { latency_ms } => latency_ms * 1000,
            LatencyModel::Uniform { min_ms, max_ms } => {
                self.stream(draw).range_inclusive(min_ms * 1000, max_ms * 1000)
            }
            LatencyModel::LogNormal { median_ms, sigma } => {
                self.stream(draw).log_normal(median_ms * 1000, sigma).min(MAX_LATENCY_MS * 1000)
            }
        };
        self.extra_us.saturating_add(drawn_us)
    }

    /// When a message sent at `now` arrives, from the link's larger id if `from_larger`: a
    /// latency draw later, never before the direction's previous arrival.
    fn arrive(&mut self, draw: &Draw<'_>, from_larger: bool, now: SimTime) -> SimTime {
        let latency_us = self.latency_us(draw);
        let direction = usize::from(from_larger);
        let at = now.plus_micros(latency_us).max(self.last_arrival[direction]);
        self.last_arrival[direction] = at;
        at
    }
}

/// All links of a run (created on first use).
pub struct Links {
    latencies: Latencies,
    /// By [`link_key`]. Looked up for every message sent and delivered, never iterated (so no
    /// order of the map reaches an output): hashed instead of a `BTreeMap` of node pairs,
    /// CLoTH's 5,000 payments of 100 sat ran 2.6% fewer instructions (its lookups among some
    /// 30,000 links cost about 1,000 instructions each).
    states: KeyMap<u64, LinkState>,
}

/// The link between `a` and `b`, whichever sends: the smaller id in the high half.
fn link_key(a: NodeId, b: NodeId) -> u64 {
    u64::from(a.min(b).0) << 32 | u64::from(a.max(b).0)
}

/// What the links' latencies are drawn from: apart from their states, so that a draw can read
/// it while it changes a state.
struct Latencies {
    kind: LinkKind,
    seed: u64,
    names: Arc<[String]>,
    def: LinksDef,
}

impl Latencies {
    /// What a latency on the link between `a` and `b` is drawn with.
    fn draw(&self, a: NodeId, b: NodeId) -> Draw<'_> {
        let key = (a.min(b), a.max(b));
        let model = match self.def.overrides.is_empty() {
            true => self.def.latency,
            false => self.def.overrides.get(&key).copied().unwrap_or(self.def.latency),
        };
        Draw { kind: self.kind, seed: self.seed, names: &self.names, key, model }
    }
}

impl Links {
    /// Links of `kind` with the scenario's latency models; `names` are the node names by id.
    pub fn new(kind: LinkKind, seed: u64, names: Arc<[String]>, def: LinksDef) -> Links {
        Links { latencies: Latencies { kind, seed, names, def }, states: KeyMap::default() }
    }

    fn state(&mut self, a: NodeId, b: NodeId) -> &mut LinkState {
        self.states.entry(link_key(a, b)).or_insert(LinkState::DOWN)
    }

    /// One latency sample for the link between `a` and `b`, µs.
    /// A log-normal draw above [`MAX_LATENCY_MS`] is that; spikes in force add to it.
    pub fn sample_us(&mut self, a: NodeId, b: NodeId) -> u64 {
        let draw = self.latencies.draw(a, b);
        self.states.entry(link_key(a, b)).or_insert(LinkState::DOWN).latency_us(&draw)
    }

    /// When a message from `from` to `to` sent at `now` arrives: now plus a latency sample, but
    /// never before an earlier message in the same direction.
    pub fn arrival(&mut self, from: NodeId, to: NodeId, now: SimTime) -> SimTime {
        let draw = self.latencies.draw(from, to);
        let state = self.states.entry(link_key(from, to)).or_insert(LinkState::DOWN);
        state.arrive(&draw, from > to, now)
    }

    /// Sends a message from `from` to `to` at `now` if the connection is up: when it arrives (as
    /// [`Links::arrival`]) and the connection's epoch. One lookup of the link where asking
    /// [`Links::is_up`], [`Links::arrival`] and [`Links::epoch`] in turn takes three.
    pub fn send(&mut self, from: NodeId, to: NodeId, now: SimTime) -> Option<(SimTime, u64)> {
        let draw = self.latencies.draw(from, to);
        let state = self.states.get_mut(&link_key(from, to)).filter(|s| s.up)?;
        Some((state.arrive(&draw, from > to, now), state.epoch))
    }

    /// Whether a message sent in `epoch` is delivered: the connection is up and has not gone
    /// down since (as [`Links::is_up`] and [`Links::epoch`]).
    pub fn delivers(&self, a: NodeId, b: NodeId, epoch: u64) -> bool {
        self.states.get(&link_key(a, b)).is_some_and(|s| s.up && s.epoch == epoch)
    }

    /// Marks the connection up, or down (messages in flight on it are then lost).
    pub fn set_up(&mut self, a: NodeId, b: NodeId, up: bool) {
        let state = self.state(a, b);
        if state.up && !up {
            state.epoch += 1;
        }
        state.up = up;
    }

    /// Whether the connection is up.
    pub fn is_up(&self, a: NodeId, b: NodeId) -> bool {
        self.states.get(&link_key(a, b)).is_some_and(|s| s.up)
    }

    /// The connection's epoch: a message carries the epoch it was sent in and is lost if the
    /// connection went down since.
    pub fn epoch(&self, a: NodeId, b: NodeId) -> u64 {
        self.states.get(&link_key(a, b)).map_or(0, |s| s.epoch)
    }

    /// Starts (`+1`) or ends (`-1`) a partition of the link.
    pub fn cut(&mut self, a: NodeId, b: NodeId, start: bool) {
        let state = self.state(a, b);
        state.cuts = if start { state.cuts + 1 } else { state.cuts.saturating_sub(1) };
    }

    /// Whether a partition cuts the link.
    pub fn is_cut(&self, a: NodeId, b: NodeId) -> bool {
        self.states.get(&link_key(a, b)).is_some_and(|s| s.cuts > 0)
    }

    /// Adds (or removes) a latency spike on the link.
    pub fn spike(&mut self, a: NodeId, b: NodeId, extra_us: u64, start: bool) {
        let state = self.state(a, b);
        state.extra_us = if start {
            state.extra_us.saturating_add(extra_us)
        } else {
            state.extra_us.saturating_sub(extra_us)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyhash::KeyHasher;
    use std::collections::BTreeSet;
    use std::hash::{BuildHasher, BuildHasherDefault};

    /// The links of one node to many others spread over the buckets, whichever id is larger.
    #[test]
    fn a_hubs_links_hash_to_many_buckets() {
        let hash = |a, b| BuildHasherDefault::<KeyHasher>::default().hash_one(link_key(a, b));
        for hub in [NodeId(0), NodeId(1_000_000)] {
            let buckets: BTreeSet<u64> =
                (1..=1000).map(|peer| hash(hub, NodeId(peer)) & 1023).collect();
            assert!(buckets.len() > 500, "{} buckets of 1,024 for {hub}", buckets.len());
        }
    }

    fn links(model: LatencyModel) -> Links {
        let def = LinksDef { latency: model, overrides: BTreeMap::new() };
        Links::new(LinkKind::Peer, 1, vec!["a".into(), "b".into(), "c".into()].into(), def)
    }

    #[test]
    fn a_direction_never_reorders() {
        let mut l = links(LatencyModel::Uniform { min_ms: 1, max_ms: 100 });
        let mut last = SimTime::ZERO;
        for i in 0..1000 {
            let at = l.arrival(NodeId(0), NodeId(1), SimTime::from_millis(i / 10));
            assert!(at >= last);
            last = at;
        }
    }

    #[test]
    fn links_draw_from_their_own_streams() {
        let model = LatencyModel::Uniform { min_ms: 1, max_ms: 1_000_000 };
        let mut one = links(model);
        let mut two = links(model);
        // Using link a-c first must not change what a-b draws.
        two.sample_us(NodeId(0), NodeId(2));
        assert_eq!(one.sample_us(NodeId(0), NodeId(1)), two.sample_us(NodeId(1), NodeId(0)));
    }

    #[test]
    fn spikes_add_latency_and_downs_bump_the_epoch() {
        let mut l = links(LatencyModel::Constant { latency_ms: 10 });
        l.spike(NodeId(0), NodeId(1), 5_000, true);
        assert_eq!(l.sample_us(NodeId(1), NodeId(0)), 15_000);
        l.spike(NodeId(0), NodeId(1), 5_000, false);
        assert_eq!(l.sample_us(NodeId(1), NodeId(0)), 10_000);
        l.set_up(NodeId(0), NodeId(1), true);
        let before = l.epoch(NodeId(0), NodeId(1));
        l.set_up(NodeId(1), NodeId(0), false);
        assert_eq!(l.epoch(NodeId(0), NodeId(1)), before + 1);
        l.cut(NodeId(0), NodeId(1), true);
        l.cut(NodeId(0), NodeId(1), true);
        l.cut(NodeId(0), NodeId(1), false);
        assert!(l.is_cut(NodeId(1), NodeId(0)), "two overlapping partitions, one healed");
        l.cut(NodeId(0), NodeId(1), false);
        assert!(!l.is_cut(NodeId(1), NodeId(0)));
    }

    #[test]
    fn overrides_apply_to_their_link_only() {
        let mut def = LinksDef {
            latency: LatencyModel::Constant { latency_ms: 50 },
            overrides: BTreeMap::new(),
        };
        def.overrides.insert((NodeId(0), NodeId(1)), LatencyModel::Constant { latency_ms: 7 });
        let mut l =
            Links::new(LinkKind::Peer, 1, vec!["a".into(), "b".into(), "c".into()].into(), def);
        assert_eq!(l.sample_us(NodeId(1), NodeId(0)), 7_000);
        assert_eq!(l.sample_us(NodeId(1), NodeId(2)), 50_000);
    }
}
