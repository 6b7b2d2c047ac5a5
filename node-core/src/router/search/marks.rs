//! What a search marks on nodes before it runs: how many hop floors a node is from the payer
//! ([`mark_steps`]), how many hops from the search's start ([`mark_dist`]), and the fee a route
//! from the payer to it pays at least ([`mark_forward`]).
//! Each writes into the search's [`Mark`]s, and [`super::Queue`] turns them into priorities; the
//! search itself is the parent module's. Every mark is a bound that holds for every edge the
//! search can take, so it changes the order nodes are settled in, never their labels.

use super::{EXEMPT, FAR, FLOOR_CEILING, HintEdge, Mark, NEAR, RouteRequest};
use crate::graph::{GraphView, InEdge};
use crate::ids::NodeId;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Marking the steps reads at most 1/32 of the graph's directions (a cold search reads more
/// than a third on mainnet), else it stops at 1 step, or, if even the nodes at 0 steps have
/// more channels, the search is not steered: a payer that has paid through hubs would read
/// most of the graph to mark it (their peers are at the payer's steps). The hops from the
/// payee ([`mark_dist`]) read as many at most. Whole-run instructions (callgrind) for the share
/// 8, 16, 24, 32, 48, 64 and 128: the first 5,000 payments of `mainnet_100k` (lnd's preset)
/// 11.01G, 10.83G, 10.73G, 10.65G, 10.61G, 10.93G, 12.11G; CLoTH's 5,000 payments of 100 sat
/// at 16, 24, 32, 48: 6.60G, 6.51G, 6.48G, 6.57G; of 10,000 sat at 16 and 32: 17.80G, 17.76G.
/// A smaller budget marks fewer rings where a hub is near, a larger one reads rings that
/// steer little.
const MARK_BUDGET_SHARE: usize = 32;

/// Nodes of more than one peer, at a fee above 0, that [`mark_forward`] settles before it
/// stops. On the first 5,000 payments of `mainnet_100k` with `Cheapest` (callgrind, whole run):
/// 29.19G instructions without; counting every node of more than one peer, the payer's peers
/// too, and reading whole channels: with 3, 20.90G; 5, 20.29G; 7, 20.34G; 10, 21.03G; 20,
/// 23.35G (each forward node reads all its channels, and a hub has thousands); counting those at
/// a fee with [`FEES_BUDGET`]: 5, 19.85G. Reading directions as they are
/// ([`GraphView::for_each_out_edge`]), at 353fd22: 5, 18.35G; 8, 18.32G; 12, 18.07G; 20,
/// 17.65G; 24, 17.59G; 32, 17.58G (with a budget of 3,072 channels, 24: 17.59G; of 6,144, 20:
/// 18.40G; of 8,192, 32: 19.35G): past about 20, the budget stops most forward searches first.
/// Reading each node's directions by fee only as far as they can matter, the first 20,000
/// payments took the same user time with 24 and a budget of 1,024 to 4,096 directions, and more
/// with 12, 16, 32, 48 or 96 (8.2 to 9.3 s against 8.2 to 8.5 s).
const FORWARD_SETTLED: usize = 24;

/// Channels [`mark_forward`] reads at most before it stops: counting only nodes at a fee, it
/// would otherwise read every channel of a payer's many peers, and of theirs, at no fee.
const FEES_BUDGET: usize = 4096;

/// Marks how many hop floors each node near the payer is at least from it, and returns the
/// most any node is (`None`: too many nodes are at 0 to mark within the budget) and the least
/// [`super::Scorer::node_floor`] (given as `node_floor`, at least `floor`) of the nodes at 0
/// that are not exempt, other than the payer: a route to a node at 1 step or more leaves
/// through one of them ([`super::Queue::lift`]). Every edge the search can take, from `u` into
/// `v`, has `steps(v) ≤ steps(u) + 1`, and `steps(v) ≤ steps(u)` if `u` is the payer or
/// [`EXEMPT`] (its hop may add nothing): 0 for the payer, its peers and, through exempt nodes,
/// theirs; 1 for the peers of those and, through exempt nodes, theirs; the rest at the far
/// value. Peers are read from the base graph (whatever a view knows of policies), channels
/// announced since, and route hints.
pub(super) fn mark_steps(
    view: &GraphView,
    req: &RouteRequest<'_>,
    hints: &[HintEdge],
    marks: &mut [Mark],
    stamp: u32,
    floor: u64,
    node_floor: &mut dyn FnMut(NodeId) -> u64,
) -> Option<(u8, u64)> {
    let base = view.base();
    // Lowers a node's steps; whether it did.
    let lower = |marks: &mut [Mark], node: NodeId, steps: u8| {
        let Some(m) = marks.get_mut(node.index()) else { return false };
        if m.flag_stamp != stamp {
            m.restart(stamp, 0, steps, u8::MAX);
            true
        } else if m.steps > steps {
            m.steps = steps;
            true
        } else {
            false
        }
    };
    let exempt = |marks: &[Mark], node: NodeId| {
        marks.get(node.index()).is_some_and(|m| m.flag_stamp == stamp && m.flags & EXEMPT != 0)
    };
    let budget = base.channels().len() * 2 / MARK_BUDGET_SHARE + 64;
    let mut read = 0;
    // Each ring: a node lowered into it, then, for each of its exempt nodes, their peers.
    let mut ring = vec![req.source];
    lower(marks, req.source, 0);
    for_each_peer(view, hints, req.source, |peer| {
        if lower(marks, peer, 0) {
            ring.push(peer);
        }
    });
    for first in req.first_hops {
        if lower(marks, first.peer, 0) {
            ring.push(first.peer);
        }
    }
    let close = |marks: &mut [Mark], ring: &mut Vec<NodeId>, read: &mut usize, steps: u8| {
        let mut i = 0;
        while i < ring.len() {
            let node = ring[i];
            i += 1;
            if exempt(marks, node) {
                if *read + base.degree(node) > budget {
                    return false;
                }
                for_each_peer(view, hints, node, |peer| {
                    *read += 1;
                    if lower(marks, peer, steps) {
                        ring.push(peer);
                    }
                });
                if *read > budget {
                    return false;
                }
            }
        }
        true
    };
    if !close(marks, &mut ring, &mut read, 0) {
        return None;
    }
    // Every route leaves the payer's steps through one of the nodes at 0 not exempt: the least
    // of their floors, stopping at the scorer's own (most nodes have nothing learnt).
    let mut first = FLOOR_CEILING;
    for &node in ring[1..].iter().filter(|&&n| !exempt(marks, n)) {
        first = first.min(node_floor(node).clamp(floor, FLOOR_CEILING));
        if first == floor {
            break;
        }
    }
    let first = first.max(floor);
    let mut next = Vec::new();
    let ahead: usize =
        ring[1..].iter().filter(|&&n| !exempt(marks, n)).map(|&n| base.degree(n)).sum();
    if read + ahead > budget {
        return Some((1, first));
    }
    for &node in &ring[1..] {
        if !exempt(marks, node) {
            for_each_peer(view, hints, node, |peer| {
                read += 1;
                if lower(marks, peer, 1) {
                    next.push(peer);
                }
            });
            if read > budget {
                return Some((1, first));
            }
        }
    }
    Some((if close(marks, &mut next, &mut read, 1) { FAR } else { 1 }, first))
}

/// Calls `f` with each peer of `node` the marking reads: the base graph's (whatever a view
/// knows of policies), channels announced since, and route hints' other ends. Symmetric, and a
/// superset of the edges a search takes.
/// Generic, so that the caller's step is inlined into the loop over a hub's peers.
#[inline(always)]
fn for_each_peer(view: &GraphView, hints: &[HintEdge], node: NodeId, mut f: impl FnMut(NodeId)) {
    view.base().peers_of(node).for_each(&mut f);
    view.for_each_added_in_edge(node, |edge| f(edge.from));
    for &(a, b, ..) in hints {
        if a == node {
            f(b);
        } else if b == node {
            f(a);
        }
    }
}

/// Marks how many hops from nodes not [`EXEMPT`] each node near `start` (the payee's end of the
/// search) is at least from it, and returns the level up to which every node is marked: nodes
/// it did not mark are at least that far. Breadth first over the peers [`mark_steps`] reads
/// (the base graph, channels announced since, route hints), which hold every edge the search
/// takes, an exempt node at the level of the node it was found from; so a label's route to the
/// start has at least its node's mark of hops from nodes not exempt. Stops before a level whose
/// nodes have more channels than the budget of [`mark_steps`] leaves, or at [`NEAR`].
///
/// A mark only ever needs to be at most that count ([`super::Queue::lift`] reads nothing else
/// of it): a hop from a node not exempt adds the step of the settled node's mark whatever its
/// own; an exempt node's hop adds nothing, and the search marks only while every exempt node is
/// at the payer's steps, where neither its priority nor its peers' adds anything.
pub(super) fn mark_dist(
    view: &GraphView,
    hints: &[HintEdge],
    marks: &mut [Mark],
    stamp: u32,
    start: NodeId,
    exempt: &[NodeId],
) -> u8 {
    let base = view.base();
    // Sets a node's hops if lower: whether it did, and whether the node is exempt.
    let set = |marks: &mut [Mark], node: NodeId, dist: u8| {
        let Some(m) = marks.get_mut(node.index()) else { return (false, false) };
        if m.flag_stamp != stamp {
            m.restart(stamp, 0, FAR, dist);
            return (true, false);
        }
        let exempt = m.flags & EXEMPT != 0;
        let dist = if exempt { dist.saturating_sub(1) } else { dist };
        let lowered = m.dist > dist;
        m.dist = m.dist.min(dist);
        (lowered, exempt)
    };
    // Stopping before or while the ring at `level` is read: every node not exempt at `level + 1`
    // is found from a node at `level`, so unmarked ones are at least that far; an exempt one
    // may be found from a node at `level` not yet read, so it is marked `level`.
    let stop = |marks: &mut [Mark], level: u8| {
        for node in exempt {
            if let Some(m) = marks.get_mut(node.index()) {
                m.dist = m.dist.min(level);
            }
        }
        level + 1
    };
    let budget = base.channels().len() * 2 / MARK_BUDGET_SHARE + 64;
    let mut read = 0;
    let mut ring = vec![start];
    set(marks, start, 0);
    for level in 0..NEAR - 1 {
        let ahead: usize = ring.iter().map(|&n| base.degree(n)).sum();
        if read + ahead > budget {
            return stop(marks, level);
        }
        let counted = ring.len();
        let mut next = Vec::new();
        // Exempt peers join this level's ring as they are found.
        let mut i = 0;
        while let Some(&node) = ring.get(i) {
            if i >= counted && read + base.degree(node) > budget {
                return stop(marks, level);
            }
            i += 1;
            for_each_peer(view, hints, node, |peer| {
                read += 1;
                match set(marks, peer, level + 1) {
                    (true, true) => ring.push(peer),
                    (true, false) => next.push(peer),
                    (false, _) => {}
                }
            });
        }
        ring = next;
    }
    stop(marks, NEAR - 1)
}

/// Settles the nodes nearest the payer by the fees a route to them pays, forward: Dijkstra from
/// the payer over every direction of its view that could carry `amount_msat` (known and
/// enabled, with an `htlc_maximum_msat` and a capacity of at least it), each costing its fee at
/// `amount_msat`, the payer's own channels that can send it nothing; until it has settled
/// [`FORWARD_SETTLED`] nodes of more than one peer at a fee above 0, or read
/// [`FEES_BUDGET`] channels. Where the graph keeps each node's directions ordered by its fees
/// ([`GraphView::out_edges_by_fee_as_at_start`]), a settled node's are read only while the
/// least fee of those left ([`crate::graph::FeeFloor`]) does not put them behind the queue's
/// next entry; an entry at that fee stands in for the rest, and reads on when it comes first
/// (a hub's thousands of channels are mostly never read: the first 5,000 payments of
/// `mainnet_100k` with `Cheapest` ran 13.50G instructions instead of 15.23G). The fees settled
/// are plain Dijkstra's all the same, and everything not settled is at least the queue's next
/// entry. Writes the fee found to each node reached ([`Mark::potential`])
/// and returns a fee every node it did not settle is at least (the queue's next key, which may
/// be the floor of directions not read yet; `u32::MAX` at most). Every edge the
/// search takes is among these (its amounts only grow toward the payer, and a fee with them),
/// so a route from the payer to a settled node pays at least its fee, and one to any other
/// node at least the value returned: with the fee of a node capped at that value, the
/// difference between two nodes' potentials never exceeds the fee of an edge between them, and
/// a search whose scorer adds at least the fee per hop ([`super::Scorer::covers_fees`])
/// settles every node with plain Dijkstra's label in the order of cost plus potential
/// ([`FORWARD_SETTLED`] has what it saves).
pub(super) fn mark_forward(
    view: &GraphView,
    req: &RouteRequest<'_>,
    marks: &mut [Mark],
    queue: &mut BinaryHeap<Reverse<(u64, u32, u32)>>,
    stamp: u32,
    amount_msat: u64,
) -> u64 {
    const CAP: u64 = u32::MAX as u64;
    queue.clear();
    // Lowers a node's fee; whether it did.
    let reach = |marks: &mut [Mark], node: NodeId, fee: u64| {
        let Some(m) = marks.get_mut(node.index()) else { return false };
        let fee = fee.min(CAP) as u32;
        if m.flag_stamp != stamp {
            m.restart(stamp, 0, FAR, u8::MAX);
        } else if m.potential <= fee {
            return false;
        }
        m.potential = fee;
        true
    };
    // Reads the direction from a node at `fee` to `to` (counted in `read`), and follows it if
    // it could carry the amount.
    let follow = |marks: &mut [Mark],
                  queue: &mut BinaryHeap<_>,
                  read: &mut usize,
                  fee: u64,
                  to: NodeId,
                  edge: &InEdge| {
        *read += 1;
        #[cfg(test)]
        super::FORWARD_READ.with(|r| r.set(r.get() + 1));
        let Some(policy) = edge.policy.as_ref() else { return };
        if policy.htlc_maximum_msat < amount_msat
            || edge.capacity_sat.saturating_mul(1000) < amount_msat
        {
            return;
        }
        let next = fee.saturating_add(policy.fee_msat(amount_msat));
        if reach(marks, to, next) {
            queue.push(Reverse((next.min(CAP), to.0, 0)));
        }
    };
    reach(marks, req.source, 0);
    queue.push(Reverse((0, req.source.0, 0)));
    let (mut settled, mut read) = (0, 0);
    while let Some(&Reverse((key, node, next))) = queue.peek() {
        let node = NodeId(node);
        if settled >= FORWARD_SETTLED || read > FEES_BUDGET || key >= CAP {
            return key.min(CAP);
        }
        queue.pop();
        let fee = u64::from(marks[node.index()].potential);
        // An entry of 0 settles the node at its fee, if that is still the node's; another goes
        // on reading its directions ordered by fee at `next - 1`.
        if next == 0 {
            if fee < key {
                continue;
            }
            if node == req.source {
                for first in req.first_hops.iter().filter(|f| f.available_msat >= amount_msat) {
                    if reach(marks, first.peer, 0) {
                        queue.push(Reverse((0, first.peer.0, 0)));
                    }
                }
                continue;
            }
            if fee > 0 && !view.has_one_peer(node) {
                settled += 1;
            }
        }
        let Some((edges, to, floors)) = view.out_edges_by_fee_as_at_start(node) else {
            view.for_each_out_edge(node, |to, edge| follow(marks, queue, &mut read, fee, to, edge));
            continue;
        };
        if next == 0 {
            view.for_each_added_out_edge(node, |to, edge| {
                follow(marks, queue, &mut read, fee, to, edge)
            });
        }
        // A direction is read only once no entry of the queue comes before its floor: those
        // after it charge at least that much, so an entry for the rest stands in for them.
        for i in (next.max(1) - 1) as usize..edges.len() {
            let least = fee.saturating_add(floors[i].fee_msat(amount_msat));
            if least >= CAP {
                break;
            }
            if queue.peek().is_some_and(|&Reverse((top, ..))| least > top) {
                queue.push(Reverse((least, node.0, i as u32 + 1)));
                break;
            }
            follow(marks, queue, &mut read, fee, to[i], &edges[i]);
        }
    }
    // Everything the payer reaches is settled: the rest it does not reach at all.
    CAP
}
