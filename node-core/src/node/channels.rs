//! The node's channels: by channel id (temporary until the funding is known), indexed by peer and
//! by short channel id once confirmed, with the set touched by the current input that may have
//! something to sign. The channels themselves are [`crate::channel`]'s; this only keeps them.
//! Its indexes are sorted vectors while small and B-trees once large: a network's memory is
//! mostly its nodes' few channels.

use super::index::Index;
use crate::channel::Channel;
use crate::ids::{ChannelId, NodeId, Scid};

/// Every channel of a node.
#[derive(Clone, Debug, Default)]
pub(super) struct Channels {
    /// Boxed: an entry moves when another is inserted before it.
    by_id: Index<ChannelId, Box<Channel>>,
    /// The channels with each peer (a hub's peers each look up their own, not all of them).
    by_peer: Index<(NodeId, ChannelId), ()>,
    by_scid: Index<Scid, ChannelId>,
    /// Channels touched by the current input, to sign and move forward before it returns.
    dirty: Index<ChannelId, ()>,
    /// Channels with new updates of ours waiting for the next commitment tick.
    batched: Index<ChannelId, ()>,
}

impl Channels {
    /// Channel `id`.
    pub(super) fn get(&self, id: ChannelId) -> Option<&Channel> {
        self.by_id.get(&id).map(|c| &**c)
    }

    /// Channel `id`, to change.
    pub(super) fn get_mut(&mut self, id: ChannelId) -> Option<&mut Channel> {
        self.by_id.get_mut(&id).map(|c| &mut **c)
    }

    /// Channel `id` if it is one with `peer`.
    pub(super) fn with_peer(&mut self, id: ChannelId, peer: NodeId) -> Option<&mut Channel> {
        self.by_id.get_mut(&id).map(|c| &mut **c).filter(|c| c.peer() == peer)
    }

    /// Whether channel `id` exists.
    pub(super) fn contains(&self, id: ChannelId) -> bool {
        self.by_id.get(&id).is_some()
    }

    /// Every channel, by id.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Channel> {
        self.by_id.iter().map(|(_, c)| &**c)
    }

    /// The channels with `peer`, by id.
    pub(super) fn of_peer(&self, peer: NodeId) -> impl Iterator<Item = &Channel> {
        let ids = self.by_peer.range((peer, ChannelId(0)), (peer, ChannelId(u64::MAX)));
        ids.filter_map(|((_, id), ())| self.get(*id))
    }

    /// Adds `channel` under its id (and its short id, if confirmed).
    pub(super) fn insert(&mut self, channel: Channel) {
        if let Some(scid) = channel.scid() {
            self.by_scid.insert(scid, channel.id());
        }
        self.by_peer.insert((channel.peer(), channel.id()), ());
        self.by_id.insert(channel.id(), Box::new(channel));
    }

    /// Removes channel `id` (and its short id from the index).
    pub(super) fn remove(&mut self, id: ChannelId) -> Option<Channel> {
        let channel = *self.by_id.remove(&id)?;
        if let Some(scid) = channel.scid() {
            self.by_scid.remove(&scid);
        }
        self.by_peer.remove(&(channel.peer(), id));
        Some(channel)
    }

    /// Indexes channel `id` under its short id `scid`.
    pub(super) fn index_scid(&mut self, scid: Scid, id: ChannelId) {
        self.by_scid.insert(scid, id);
    }

    /// The channel with short id `scid`.
    pub(super) fn by_scid(&self, scid: Scid) -> Option<ChannelId> {
        self.by_scid.get(&scid).copied()
    }

    /// Channel `id` may have something to sign.
    pub(super) fn mark_dirty(&mut self, id: ChannelId) {
        self.dirty.insert(id, ());
    }

    /// The next channel that may have something to sign.
    pub(super) fn pop_dirty(&mut self) -> Option<ChannelId> {
        self.dirty.pop_first().map(|(id, ())| id)
    }

    /// Channel `id` has a new update of ours to sign, which a node that batches its commitments
    /// signs at its next commitment tick (else at once, as [`Channels::mark_dirty`]).
    pub(super) fn mark_batched(&mut self, id: ChannelId) {
        self.batched.insert(id, ());
    }

    /// Whether updates wait for the next commitment tick.
    pub(super) fn has_batched(&self) -> bool {
        !self.batched.is_empty()
    }

    /// The batched channels become dirty: signed at the next flush.
    pub(super) fn release_batched(&mut self) {
        while let Some((id, ())) = self.batched.pop_first() {
            self.dirty.insert(id, ());
        }
    }
}
