//! What a node asks its driver to do — send a message, connect, broadcast a transaction, set a
//! timer, report an event — and the [`Outbox`] that queues those requests in the order they are
//! made, so every part of a node (its payments, its HTLC switch, its channels' handling) records
//! into one ordered list. The driver takes them with [`crate::Node::take_actions`]; nothing here
//! carries them out.

use crate::chain::Tx;
use crate::event::Event;
use crate::ids::{NodeId, PaymentHash, SimTime};
use crate::msg::Message;

/// Something the node wants its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `msg` to `to`.
    Send {
        /// The peer.
        to: NodeId,
        /// The message.
        msg: Message,
    },
    /// Open a connection to `peer`.
    Connect {
        /// The peer.
        peer: NodeId,
    },
    /// Broadcast a transaction.
    Broadcast {
        /// The transaction.
        tx: Tx,
    },
    /// Call [`crate::Node::timer_fired`] with `timer` at `at`.
    SetTimer {
        /// When.
        at: SimTime,
        /// Which timer.
        timer: Timer,
    },
    /// Report an event.
    Emit(Event),
}

/// The node's timers, named for what they do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// Relay queued gossip to the peers.
    GossipFlush,
    /// Try to reconnect to a channel peer.
    Reconnect {
        /// The peer.
        peer: NodeId,
    },
    /// A peer has been away long enough to disable our public channels with it.
    PeerOffline {
        /// The peer.
        peer: NodeId,
    },
    /// Sign the commitments our new updates wait for (a node that batches them).
    CommitTick,
    /// Process the received HTLCs held before forwarding or claiming them.
    ProcessForwards,
    /// A peer has been back long enough to enable our public channels with it again.
    PeerOnline {
        /// The peer.
        peer: NodeId,
    },
    /// The parts of a multi-part payment to us have been held long enough: fail them all.
    MppTimeout {
        /// The payment's hash.
        payment_hash: PaymentHash,
    },
}

/// The actions a node has queued, in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outbox(Vec<Action>);

impl Outbox {
    /// Reports `event`.
    pub fn emit(&mut self, event: Event) {
        self.0.push(Action::Emit(event));
    }

    /// Sends `msg` to `to`.
    pub fn send(&mut self, to: NodeId, msg: Message) {
        self.0.push(Action::Send { to, msg });
    }

    /// Opens a connection to `peer`.
    pub fn connect(&mut self, peer: NodeId) {
        self.0.push(Action::Connect { peer });
    }

    /// Broadcasts `tx`.
    pub fn broadcast(&mut self, tx: Tx) {
        self.0.push(Action::Broadcast { tx });
    }

    /// Sets `timer` to fire at `at`.
    pub fn set_timer(&mut self, at: SimTime, timer: Timer) {
        self.0.push(Action::SetTimer { at, timer });
    }

    /// Takes the actions queued so far.
    pub fn take(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.0)
    }

    /// Moves the queued actions into `out` (keeping `out`'s allocation, and freeing this one's:
    /// a network of a million nodes would otherwise keep room for a few actions in each).
    pub fn drain_into(&mut self, out: &mut Vec<Action>) {
        out.append(&mut self.0);
        self.0 = Vec::new();
    }
}
