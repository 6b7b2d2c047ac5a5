//! The nodes of a run, each behind its own lock. The world's loop locks a node for each input it
//! hands it and each read it makes (so do the oracle and the time series it drives); a planner
//! (`world::ahead`: a planner thread, or the loop itself
//! while it waits for a plan) locks a payee while it reads its invoice terms, then the payer
//! for as long as the plan takes, while the loop goes on with other nodes. A planner holds one
//! node at a time and the loop never waits for a plan holding one, so no cycle can form.
//!
//! A planner only reads a node, so a planner that panicked (and poisoned the lock) left it
//! whole: the lock's poisoning is ignored. Uncontended, a lock costs a few nanoseconds.

use node_core::{Node, NodeId};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

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
        self.0[id.index()].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every node in id order, each locked in turn.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = MutexGuard<'_, Node>> {
        (0..self.len() as u32).map(|i| self.get(NodeId(i)))
    }
}
