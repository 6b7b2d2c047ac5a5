//! What the node tells the network about its channels (BOLT 7): a channel that becomes usable,
//! our `channel_update` for each change of policy or state (by gossip for a public channel,
//! straight to the peer for a private one), the announcement once both sides signed it, our
//! public channels announced disabled while their peer is away, and the batches of gossip
//! relayed to our peers. The updates themselves are the channel's to build.

use super::Node;
use crate::action::Timer;
use crate::channel::{Channel, ChannelPhase};
use crate::event::Event;
use crate::gossip::{ChannelAnnouncement, ChannelUpdate, GossipId};
use crate::ids::{ChannelId, NodeId};
use crate::msg::Message;

impl Node {
    /// Channel `id` just became usable: it is indexed by its short id, reported, and its peer is
    /// told our policy even before the channel is announced (BOLT 7), so that it can give route
    /// hints for it.
    pub(super) fn on_channel_normal(&mut self, id: ChannelId) {
        let channel = self.channels.get(id).expect("invariant: a known channel");
        let scid = channel.scid().expect("invariant: a normal channel is confirmed");
        let (peer, funding_sat, we_opened) =
            (channel.peer(), channel.funding_sat(), channel.we_opened());
        self.channels.index_scid(scid, id);
        self.out.emit(Event::ChannelReady { channel_id: id, scid, peer, funding_sat, we_opened });
        let update = self.make_update(id);
        self.out.send(peer, Message::ChannelUpdate(update));
    }

    /// A fresh channel_update for our direction of channel `id`.
    fn make_update(&mut self, id: ChannelId) -> ChannelUpdate {
        let now_s = u32::try_from(self.now.as_secs()).unwrap_or(u32::MAX);
        let channel =
            self.channels.get_mut(id).expect("invariant: updates are made for known channels");
        let away = self.peers.is_away(channel.peer());
        channel.new_update(now_s, away).expect("invariant: updates are for confirmed channels")
    }

    /// Makes a fresh channel_update for channel `id` and publishes it: by gossip for a public
    /// channel, straight to the peer for a private one.
    pub(super) fn publish_update(&mut self, id: ChannelId) {
        let Some(channel) = self.channels.get(id) else { return };
        if channel.scid().is_none() {
            return;
        }
        let (peer, public) = (channel.peer(), channel.is_announced());
        let update = self.make_update(id);
        if public {
            if let Some(logged) = self.graph.apply_update(&update) {
                self.queue_gossip(logged, None);
            }
        } else if self.is_peer_ready(peer) {
            self.out.send(peer, Message::ChannelUpdate(update));
        }
    }

    /// Our last channel_update for `id`, as we made it (for onion errors): the same timestamp
    /// always carries the same content.
    pub(super) fn current_update(&self, id: ChannelId) -> Option<ChannelUpdate> {
        self.channels.get(id)?.last_update()
    }

    /// Both sides signed channel `id`'s announcement: it joins our view with our update, and
    /// both go out by gossip.
    pub(super) fn announce(&mut self, id: ChannelId) {
        let channel = self.channels.get(id).expect("invariant: a known channel");
        let scid = channel.scid().expect("invariant: announced channels are confirmed");
        let announcement = ChannelAnnouncement {
            short_channel_id: scid,
            node_1: self.id.min(channel.peer()),
            node_2: self.id.max(channel.peer()),
            capacity_sat: channel.funding_sat(),
        };
        let funding = channel.funding_outpoint().expect("invariant: announced channels are funded");
        self.out.emit(Event::ChannelAnnounced { scid, funding });
        let update = self.make_update(id);
        let logged =
            [self.graph.apply_announcement(&announcement), self.graph.apply_update(&update)];
        for id in logged.into_iter().flatten() {
            self.queue_gossip(id, None);
        }
    }

    /// Queues gossip to relay (to every ready peer but `source`), flushed in a batch at the next
    /// tick of this node's relay ticker: every `gossip_flush_interval_ms`, at this node's own
    /// phase (as lnd's `trickleDelay` ticker, `discovery/gossiper.go`); an interval of 0 relays
    /// at once (LDK's `PeerManager`).
    pub(super) fn queue_gossip(&mut self, msg: GossipId, source: Option<NodeId>) {
        if self.gossip.push(msg, source) {
            let interval_us = self.config.gossip_flush_interval_ms.saturating_mul(1000);
            let at = if interval_us == 0 { self.now } else { self.next_tick(interval_us) };
            self.out.set_timer(at, Timer::GossipFlush);
        }
    }

    /// The gossip flush timer: every ready peer gets what it has not heard from us.
    pub(super) fn flush_gossip(&mut self) {
        for (peer, batch) in self.gossip.flush(&self.peers.ready()) {
            self.out.send(peer, Message::Gossip(batch));
        }
    }

    /// Disables (or re-enables) in gossip our public channels with a peer that is away.
    pub(super) fn set_away_disabled(&mut self, peer: NodeId, away: bool) {
        if !self.peers.set_away(peer, away) {
            return;
        }
        let ids: Vec<ChannelId> = self
            .channels
            .of_peer(peer)
            .filter(|c| c.is_announced() && c.phase() == ChannelPhase::Normal)
            .map(Channel::id)
            .collect();
        for id in ids {
            self.publish_update(id);
        }
    }
}
