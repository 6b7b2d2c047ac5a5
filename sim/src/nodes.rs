//! The nodes of a run, each behind its own lock. The world's loop locks a node for each input it
//! hands it and each read it makes (so do the oracle and the time series it drives); a planner
//! (`world::ahead`: a planner thread, or the loop itself
//! while it waits for a plan) locks a payee while it reads its invoice terms, then the payer
//! for as long as the plan takes, or the node a message goes to for as long as copying it and
//! handling the message on the copy takes, while the loop goes on with other nodes. The loop
//! also locks a message's receiver, alone, to ask whether handling it ahead is worth a copy
//! before it posts that job. A planner holds one
//! node at a time and the loop never waits for a plan holding one, so no cycle can form.
//!
//! A planner only reads a node, so a planner that panicked (and poisoned the lock) left it
//! whole: the lock's poisoning is ignored. Uncontended, a lock costs a few nanoseconds.
//!
//! While the start is built, the world also hands every node the same kind of input on several
//! threads ([`Nodes::for_each_parallel`]: its channels of the start, the start's block), each
//! thread locking one node at a time; the world carries out what the nodes asked for after, in
//! id order.

use node_core::{Node, NodeId};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The fewest nodes [`Nodes::for_each_parallel`] gives a thread: starting one for fewer would
/// cost more than it saves.
pub const PARALLEL_MIN_NODES: usize = 2048;

/// Every node of a run, by id; cloning shares them. (A vector, not a slice: the nodes are
/// made in place, where an `Arc<[_]>` would copy them, a gigabyte for a million nodes.)
#[derive(Clone)]
pub struct Nodes(Arc<Vec<Mutex<Node>>>);

impl Nodes {
    /// The nodes, by id.
    pub fn new(nodes: impl IntoIterator<Item = Node>) -> Nodes {
        Nodes(Arc::new(nodes.into_iter().map(Mutex::new).collect()))
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

    /// Runs `f` on every node, on up to `threads` threads, each taking a run of at least
    /// [`PARALLEL_MIN_NODES`] ids. `f` must change only the node it is given (nothing the nodes
    /// share, such as the graph's gossip log) and read nothing another call changes: then what
    /// it does to a node is what a pass in id order would do, whatever the threads and their
    /// timing.
    pub fn for_each_parallel(&self, threads: usize, f: impl Fn(NodeId, &mut Node) + Sync) {
        let n = self.len();
        let threads = threads.min(n / PARALLEL_MIN_NODES);
        let run = |ids: std::ops::Range<usize>| {
            for i in ids {
                let id = NodeId(i as u32);
                f(id, &mut self.get(id));
            }
        };
        if threads <= 1 {
            return run(0..n);
        }
        let chunk = n.div_ceil(threads);
        // Threads within a run: allowed here because each changes only its own nodes, and a
        // node's change does not depend on the others' (see above): no timing reaches an output.
        std::thread::scope(|scope| {
            for t in 1..threads {
                let run = &run;
                scope.spawn(move || run(t * chunk..((t + 1) * chunk).min(n)));
            }
            run(0..chunk.min(n));
        });
    }

    /// Every node in id order, each locked in turn.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = MutexGuard<'_, Node>> {
        (0..self.len() as u32).map(|i| self.get(NodeId(i)))
    }
}
