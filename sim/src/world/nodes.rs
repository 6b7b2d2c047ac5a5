//! The nodes of a run, each behind its own lock. The world's loop locks a node for each input it
//! hands it and each read it makes; planner threads (`ahead`) lock a payer, or a payee, for as
//! long as one plan takes, while the loop goes on with other nodes. A planner holds one node at a
//! time, so the loop, which may hold several, never waits on a planner that waits on it.
//!
//! Uncontended, a lock costs a few nanoseconds: with one thread nothing else takes them.

use node_core::{Node, NodeId};
use std::sync::{Arc, Mutex, MutexGuard};

/// Every node of a run, by id; cloning shares them.
#[derive(Clone)]
pub struct Nodes(Arc<[Mutex<Node>]>);

impl Nodes {
    /// The nodes, by id.
    pub fn new(nodes: Vec<Node>) -> Nodes {
        Nodes(nodes.into_iter().map(Mutex::new).collect())
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Node `id`, locked.
    pub fn get(&self, id: NodeId) -> MutexGuard<'_, Node> {
        self.0[id.index()].lock().expect("invariant: no thread panics holding a node")
    }

    /// Every node in id order, each locked in turn.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = MutexGuard<'_, Node>> {
        (0..self.len() as u32).map(|i| self.get(NodeId(i)))
    }
}
