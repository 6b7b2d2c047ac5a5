//! The node's peers: whether each is connected and has exchanged `init`, how long to wait before
//! the next reconnection attempt (doubling from [`RECONNECT_FIRST_S`] to [`RECONNECT_MAX_S`]),
//! and whether we announced our public channels with it disabled while it was away. State only;
//! the node decides when to connect and what to announce.

use super::index::Index;
use crate::ids::{NodeId, SimTime};

/// First reconnection delay, seconds; doubled after each failure up to [`RECONNECT_MAX_S`].
pub const RECONNECT_FIRST_S: u64 = 1;
/// Longest reconnection delay, seconds.
pub const RECONNECT_MAX_S: u64 = 300;

#[derive(Clone, Copy, Debug, Default)]
struct Peer {
    connected: bool,
    ready: bool,
    /// Next reconnection delay, seconds (0: not trying).
    backoff_s: u64,
    /// We disabled our public channels with this peer while it was away.
    disabled_while_away: bool,
    /// Its last `init` offered anchor channels.
    anchors: bool,
    /// When its current connection became ready (its `init` arrived).
    ready_at: Option<SimTime>,
}

/// Every peer the node has known, by id.
#[derive(Clone, Debug, Default)]
pub(super) struct Peers(Index<NodeId, Peer>);

impl Peers {
    /// Whether `peer` is connected.
    pub(super) fn is_connected(&self, peer: NodeId) -> bool {
        self.0.get(&peer).is_some_and(|p| p.connected)
    }

    /// Whether `peer` is connected and `init` was exchanged.
    pub(super) fn is_ready(&self, peer: NodeId) -> bool {
        self.0.get(&peer).is_some_and(|p| p.connected && p.ready)
    }

    /// The peers connected and ready, by id.
    pub(super) fn ready(&self) -> Vec<NodeId> {
        self.0.iter().filter(|(_, p)| p.ready).map(|(id, _)| *id).collect()
    }

    /// The peers connected, by id.
    pub(super) fn connected(&self) -> Vec<NodeId> {
        self.0.iter().filter(|(_, p)| p.connected).map(|(id, _)| *id).collect()
    }

    /// Every peer known, by id.
    pub(super) fn all(&self) -> Vec<NodeId> {
        self.0.iter().map(|(id, _)| *id).collect()
    }

    /// A connection to `peer` is up; `init` is not exchanged yet.
    pub(super) fn connect(&mut self, peer: NodeId) {
        let p = self.0.entry_or_default(peer);
        p.connected = true;
        p.ready = false;
    }

    /// `peer`'s `init` arrived: ready, and reconnection attempts start over.
    pub(super) fn init_received(&mut self, peer: NodeId, anchors: bool, now: SimTime) {
        let p = self.0.entry_or_default(peer);
        p.ready = true;
        p.backoff_s = 0;
        p.anchors = anchors;
        p.ready_at = Some(now);
    }

    /// When `peer`'s current connection became ready, if it is ready.
    pub(super) fn ready_since(&self, peer: NodeId) -> Option<SimTime> {
        self.0.get(&peer).filter(|p| p.ready).and_then(|p| p.ready_at)
    }

    /// Whether `peer` said in its last `init` that it supports anchor channels.
    pub(super) fn supports_anchors(&self, peer: NodeId) -> bool {
        self.0.get(&peer).is_some_and(|p| p.anchors)
    }

    /// The connection to `peer` is gone; false if it was not up.
    pub(super) fn down(&mut self, peer: NodeId) -> bool {
        match self.0.get_mut(&peer) {
            Some(p) if p.connected => {
                p.connected = false;
                p.ready = false;
                true
            }
            _ => false,
        }
    }

    /// The delay before the next reconnection to `peer`, seconds; the one after doubles.
    pub(super) fn next_backoff_s(&mut self, peer: NodeId) -> u64 {
        let p = self.0.entry_or_default(peer);
        let delay_s = p.backoff_s.max(RECONNECT_FIRST_S);
        p.backoff_s = (delay_s * 2).min(RECONNECT_MAX_S);
        delay_s
    }

    /// Reconnection attempts to `peer` start over.
    pub(super) fn reset_backoff(&mut self, peer: NodeId) {
        self.0.entry_or_default(peer).backoff_s = 0;
    }

    /// Whether our public channels with `peer` are announced disabled because it is away.
    pub(super) fn is_away(&self, peer: NodeId) -> bool {
        self.0.get(&peer).is_some_and(|p| p.disabled_while_away)
    }

    /// Marks `peer` away (or back); false if it already was.
    pub(super) fn set_away(&mut self, peer: NodeId, away: bool) -> bool {
        let p = self.0.entry_or_default(peer);
        let changed = p.disabled_while_away != away;
        p.disabled_while_away = away;
        changed
    }
}
