//! The backward Dijkstra search every single-path router shares. It runs from the payee back to
//! the payer, computing on the way the amount and CLTV each hop needs (fees depend on the amount
//! forwarded, so the search runs backwards, as lnd and LDK do); a router only scores edges. The
//! payer's own channels come from `first_hops` with their exact spendable balance; route hints
//! add edges the view lacks. Priorities are integers, ties broken by (cost, hops, node id), so a
//! search is deterministic. The label arrays are kept per thread and reused across searches, so
//! a search allocates nothing proportional to the network. An edge whose start already holds a
//! label the scorer's lower bound for the edge cannot beat is not scored (lnd's probabilities,
//! LDK's liquidity penalties); a node's directions read as in the base graph are scanned in a
//! loop with the step inlined. Neither changes a route: a debug build checks every bound against
//! the cost. A node whose channels all lead to one peer (57% of the 2026 mainnet snapshot's
//! nodes, 43% of CLoTH's) gets no label: it is offered one only from that peer, already
//! settled, and could offer none in turn; unless the payer's own channels or route hints may
//! reach it.
//!
//! A scorer whose every hop adds at least some cost ([`Scorer::hop_floor`]: lnd's attempt cost
//! over a probability below 1, LDK's base penalty, Eclair's hop cost, a hop for the fewest hops)
//! steers the search toward the payer, A*-style: a node's priority is its cost plus a floor for
//! each step it is from the payer (0 for the payer's peers, 1 for their peers, 2 beyond), which
//! never grows faster along an edge than the cost does, so every node is settled with the label
//! plain Dijkstra gives it; of two equal offers, the one from the node plain Dijkstra settles
//! first wins, so ties too end as they would. Nodes far from the payer that cannot beat the
//! route are never settled. A route leaves the payer's steps through one of the nodes there, so
//! that hop adds at least the least of their own floors ([`Scorer::node_floor`]: after lnd's
//! node fails to forward, each of its pairs estimates less; a payer retrying through that peer
//! pays more on every route). Where each hop adds more than the one before
//! ([`Scorer::hop_growth`]: lnd's probabilities multiply, so a hop far from the payee adds the
//! floor many times over), the step from a node is raised by its hops from the payee (an exempt
//! node's hop not counted), marked breadth first up to 2 ([`mark_dist`]) while every exempt
//! node is at the payer's steps: a node three hops from the payee and far from the payer is
//! settled only if the route costs that much more. Costs above [`FLOOR_CEILING`], where
//! floors need not hold, send the search back to plain Dijkstra. Once the payer holds a label,
//! an edge whose lower bound puts its start's priority above the payer's is not scored: the
//! search ends before it would be settled. Before that, a steered search guesses: a label
//! offered to one of the payer's peers tells what the payer would pay through it, and an edge
//! that would put its start above the least such cost is not scored either, the least priority
//! so passed over noted ([`Queue::cut`]). Everything passed over lies beyond it, so if the payer is
//! settled below it, every label settled is plain Dijkstra's; if not (the peer's label was
//! replaced by one the payer's channel cannot carry, or the payer was not reached), the search
//! runs again without guessing. On CLoTH's snapshot with lnd's scorer, a third as many edges
//! are scored. Routes are the same (the reference search's, by test).
//!
//! A scorer whose cost is at least the fees a route pays ([`Scorer::covers_fees`]: the lowest
//! fee) has no floor (a fee may be 0), but a cheap search forward from the payer, over fees at
//! the payee's amount, settles the few nodes nearest it ([`mark_forward`], reading a node's
//! directions in the order of its fees, only as far as they can matter): a node's priority
//! is its cost plus the fee a route from the payer to it pays at least (bidirectional search in
//! the form of an A* potential, which stays exact). On the first 5,000 payments of
//! `mainnet_100k`, 30% fewer instructions.
//!
//! Where the graph is small enough (up to `COPIED_OUT_EDGES_MAX` directions), each node's
//! incoming directions are kept once more, ordered by what they charge,
//! each with the least base and least proportional fee of it and those after it
//! ([`GraphView::in_edges_by_fee_as_at_start`]), and the search reads them in that order:
//! which of two nodes is offered a label first changes nothing, and the directions from one
//! peer keep their order. Where every hop adds at least its fee, a settled node's directions
//! are read only while the least fee of those left (over the node's cost) does not put them
//! behind the heap's next entry; an entry at that cost reads on when it comes first
//! ([`resumed`]), and none at all once it exceeds the payer's cost. Dijkstra over sorted
//! adjacency expanded lazily: a direction is read before any label it could offer would be
//! settled, equal offers end as plain Dijkstra's ([`offerer`]; a node with channels announced
//! later or route hints into it, read after the base graph's, is read in full), and the
//! directions the route's cost makes useless are never read, with no guess of that cost and
//! no second search. On the first 5,000 payments of `mainnet_100k` with `Cheapest`, 12.37G
//! instructions against 13.50G for scans that stopped only at a route known or guessed (a
//! retry's previous fee and an eighth, run again when the guess was too low).
//!
//! Before searching, two cheap necessary conditions: the payer can send the amount and the
//! payee can receive it ([`can_leave_and_arrive`]), and the payer reaches the payee over
//! directions that could carry it, followed forward over a few dozen channels at most
//! ([`may_reach`]): a search that finds nothing settles all it reaches from the payee's end.

pub use super::scorer::{Edge, FLOOR_CEILING, Reached, Scorer, Start};
use super::{FirstHop, Route, RouteHop, RouteRequest};
use crate::graph::{FeeFloor, GraphView, InEdge};
use crate::ids::{NodeId, Scid};
use crate::policy::ChannelPolicy;
use marks::{mark_dist, mark_forward, mark_steps};
use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What a node's label holds beyond its [`Mark`].
#[derive(Clone, Copy, Debug)]
struct Label {
    weight: u64,
    probability: f64,
    amount_msat: u64,
    cltv_delta: u32,
    /// The channel toward the payee, the node it leads to, and the fee this node takes.
    next: Option<(Scid, NodeId, u64)>,
}

const UNSET: Label =
    Label { weight: 0, probability: 1.0, amount_msat: 0, cltv_delta: 0, next: None };

/// The part of a label read for every edge, kept small and apart so the scan stays in cache:
/// the search that wrote it, whether it is final, and its priority.
#[derive(Clone, Copy, Debug, Default)]
struct Mark {
    /// The search that wrote the label; another stamp means unset.
    stamp: u32,
    /// The search that wrote `flags`; another stamp means none.
    flag_stamp: u32,
    hops: u32,
    /// Popped from the heap: the label is final and no edge into it needs scoring.
    settled: bool,
    /// The request's flags for this node (`EXCLUDED_NODE`, ...), kept here so that an edge
    /// costs one scattered read.
    flags: u8,
    /// Hop floors (up to [`FAR`]) the node is at least from the payer, written with `flags`:
    /// [`FAR`] when `flag_stamp` is another search's; the search reads at most its own far.
    steps: u8,
    /// Hops from nodes not exempt the node is at least from the search's start ([`mark_dist`]),
    /// written with `flags`: `u8::MAX` when not marked; the search reads at most its own `near`.
    dist: u8,
    /// The least fee found from the payer to the node so far ([`mark_forward`]), capped at
    /// `u32::MAX`; written `u32::MAX` (none) with `flags`.
    potential: u32,
    cost: u64,
}

impl Mark {
    /// Gives the mark `stamp`'s flags, steps and hops from the start, and no fee from the
    /// payer: what every marking writes when it first reaches a node in a search.
    #[inline(always)]
    fn restart(&mut self, stamp: u32, flags: u8, steps: u8, dist: u8) {
        (self.flag_stamp, self.flags, self.steps, self.dist) = (stamp, flags, steps, dist);
        self.potential = u32::MAX;
    }
}

/// The most hop floors a node's priority adds: nodes two or more hops from each of the payer's
/// peers (three from the payer). Marking farther would read most of a mainnet graph.
const FAR: u8 = 2;

/// The most hops from the start [`mark_dist`] tells apart: 0, 1 and 2, and 3 for the rest.
/// Marking farther would read most of a mainnet graph.
const NEAR: u8 = 3;

/// A label being offered: its mark and the rest.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    cost: u64,
    hops: u32,
    label: Label,
}

/// Per-node flags of the request, so the per-edge checks skip the maps for nodes they do not
/// concern: the node is excluded; it starts an excluded channel, a channel with an overridden
/// policy, a direction with HTLCs in flight, or one whose capacity estimate is capped.
const EXCLUDED_NODE: u8 = 1;
const EXCLUDED_CHANNEL: u8 = 2;
const OVERRIDDEN: u8 = 4;
const IN_FLIGHT: u8 = 8;
const CAPPED: u8 = 16;
/// The node's hops may add less than the scorer's floor ([`Scorer::floor_exempt`]).
const EXEMPT: u8 = 32;
/// The payer has a channel to the node (`first_hops`); flagged only in steered searches.
const PAYER_PEER: u8 = 64;

struct Scratch {
    stamp: u32,
    marks: Vec<Mark>,
    labels: Vec<Label>,
    heap: Queue,
    /// [`mark_forward`]'s queue: (fee, node, where to go on reading its directions).
    forward: BinaryHeap<Reverse<(u64, u32, u32)>>,
    /// Per node whose scan of its directions ordered by fee stopped early, where it reads on
    /// ([`resumed`]); read only for a node with such an entry in the heap.
    resume: Vec<u32>,
}

/// The search's heap, with what a priority needs beyond the cost.
struct Queue {
    heap: BinaryHeap<Reverse<u128>>,
    /// The scorer's [`Scorer::hop_floor`] (0: the search is plain Dijkstra).
    floor: u64,
    /// The most floors a priority adds ([`mark_steps`]).
    far: u8,
    /// The most hops from the start a priority tells apart ([`mark_dist`]; 0: none).
    near: u8,
    /// What a hop from a node `d` hops from the start adds at least (`d` up to `near`).
    step: [u64; NEAR as usize + 1],
    /// What a node's priority adds to its cost, by its steps from the payer and hops from the
    /// start ([`Queue::lift`]).
    lift: [[u64; NEAR as usize + 1]; FAR as usize + 1],
    /// A steered search offered a cost of [`FLOOR_CEILING`] or more.
    ceiling: bool,
    /// The payer's cost once it holds a label (`u64::MAX` before): the search ends when the
    /// payer is settled, at this priority or less, so a label whose priority exceeds it is
    /// never settled and need not be offered.
    best: u64,
    /// The least cost the payer would have through a label one of its peers was offered
    /// (`u64::MAX`: none yet): a label whose priority exceeds it is not offered, on the guess
    /// that the payer ends at this cost or less, checked when it is settled ([`Queue::cut`]).
    guess: u64,
    /// The least priority a label not offered on the guess alone had (`u64::MAX`: none): the
    /// search stands if the payer is settled below it, else it runs again without guessing.
    cut: u64,
    /// The fee every route from the payer to a node [`mark_forward`] did not settle pays at
    /// least, which also caps a settled node's potential (0: no potentials).
    rest: u64,
    /// Every hop adds at least its fee as the view prices it: a node's directions ordered by fee
    /// are read only as far as the heap's next entry, the rest later ([`resumed`]), so nodes
    /// may offer in another order than plain Dijkstra's (equal offers are steered).
    lazy: bool,
}

impl Queue {
    /// Whether priorities add more than the cost, so that nodes may be settled in another order
    /// than plain Dijkstra's (and equal offers need [`offerer`] to end as they would).
    fn steered(&self) -> bool {
        self.floor > 0 || self.rest > 0 || self.lazy
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const {
        RefCell::new(Scratch {
            stamp: 0,
            marks: Vec::new(),
            labels: Vec::new(),
            forward: BinaryHeap::new(),
            resume: Vec::new(),
            heap: Queue {
                heap: BinaryHeap::new(),
                floor: 0,
                far: FAR,
                near: 0,
                step: [0; NEAR as usize + 1],
                lift: [[0; NEAR as usize + 1]; FAR as usize + 1],
                ceiling: false,
                best: u64::MAX,
                guess: u64::MAX,
                cut: u64::MAX,
                rest: 0,
                lazy: false,
            },
        })
    };
}

impl Queue {
    /// Sets what priorities add in a search steered by `floor` over `far` steps, whose hops
    /// grow by `growth` ([`Scorer::hop_growth`]) over the `near` hops from the start that
    /// [`mark_dist`] told apart (0: none), and whose route leaves the payer's steps through a
    /// node whose hop adds at least `first ≥ floor` ([`mark_steps`]): a hop from a node `d`
    /// hops from the start adds at least `step[d] = floor × growth^d`, so a node `s ≥ 1` steps
    /// from the payer's peers adds at least that for its own hop, `first` for the hop leaving
    /// the payer's steps and a floor for each of the others:
    /// `lift[s][d] = step[d] + (first − floor) + (s − 1) × floor`, 0 at `s = 0`. Along an edge
    /// the search takes, from the settled `u` to `w`, the steps fall by at most one and the cost
    /// grows by at least `step[d(u)]` (`first × growth^d(u)` if `w` is at 0 steps, which is at
    /// least `lift[1][d(u)]`), while `lift(w) ≥ (first − floor) + (s(u) − 1) × floor` if
    /// `s(w) ≥ 1`: `lift(u) − lift(w)` never exceeds what the edge adds, so priorities never
    /// fall along an edge and every node is settled with plain Dijkstra's label. Capping at
    /// [`FLOOR_CEILING`] keeps that.
    fn lift(&mut self, floor: u64, first: u64, growth: f64, far: u8, near: u8) {
        (self.floor, self.far, self.near) = (floor, far, near);
        // `floor × growth^d` by repeated products (the same bits everywhere), less a relative
        // 10^-12 for their rounding (far above it, the floor's own 10^-9 margin).
        let mut scale = 1.0f64;
        for d in 0..=NEAR as usize {
            self.step[d] = match d {
                0 => floor,
                _ if d > near as usize => self.step[d - 1],
                _ => {
                    scale *= growth;
                    ((floor as f64 * scale * (1.0 - 1e-12)) as u64).clamp(floor, FLOOR_CEILING)
                }
            };
        }
        for s in 0..=FAR as usize {
            for d in 0..=NEAR as usize {
                self.lift[s][d] = match s {
                    0 => 0,
                    _ => self.step[d]
                        .saturating_add(first - floor)
                        .saturating_add(floor.saturating_mul(s as u64 - 1))
                        .min(FLOOR_CEILING),
                };
            }
        }
    }
}

/// The lowest-cost route satisfying `req` under `scorer`, or `None`.
pub fn search<S: Scorer>(
    view: &GraphView,
    req: &RouteRequest<'_>,
    scorer: &mut S,
) -> Option<Route> {
    search_from(view, req, scorer, &Start::payee(req))
}

/// The lowest-cost route from the payer to `start.node` under `scorer`, continuing a route whose
/// rest (from `start.node` to the payee) gave `start`'s label: the fee, CLTV and hop limits of
/// `req` apply to the whole. The route returned ends at `start.node`, its amounts and expiries
/// already those of the whole route.
pub fn search_from<S: Scorer>(
    view: &GraphView,
    req: &RouteRequest<'_>,
    scorer: &mut S,
    start: &Start,
) -> Option<Route> {
    #[cfg(any(test, feature = "test-utils"))]
    if super::reference::active() {
        return super::reference::search_from(view, req, scorer, start);
    }
    if req.source == start.node || start.amount_msat == 0 {
        return None;
    }
    let node_count = view.base().node_count() as usize;
    if req.source.index() >= node_count || start.node.index() >= node_count {
        return None;
    }
    if !can_leave_and_arrive(view, req, start) {
        return None;
    }
    // Route hint edges lead to nodes the view may not connect; few, so scanned per node.
    let hints = req.hint_edges();
    if !may_reach(view, req, &hints, start) {
        debug_assert!(
            search_labels(view, req, scorer, start, &hints).is_none(),
            "the payer cannot reach {} by its forward check, yet the search found a route",
            start.node
        );
        return None;
    }
    search_labels(view, req, scorer, start, &hints)
}

/// The search proper: the labels, steered or not, the fallback past the ceiling.
fn search_labels<S: Scorer>(
    view: &GraphView,
    req: &RouteRequest<'_>,
    scorer: &mut S,
    start: &Start,
    hints: &[HintEdge],
) -> Option<Route> {
    let node_count = view.base().node_count() as usize;
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        let scratch = &mut *scratch;
        if scratch.labels.len() < node_count {
            scratch.labels.resize(node_count, UNSET);
            scratch.marks.resize(node_count, Mark::default());
            scratch.resume.resize(node_count, 0);
        }
        scratch.stamp = scratch.stamp.wrapping_add(1);
        if scratch.stamp == 0 {
            scratch.marks.iter_mut().for_each(|m| (m.stamp, m.flag_stamp) = (0, 0));
            scratch.stamp = 1;
        }
        let stamp = scratch.stamp;
        let mut flag = |node: NodeId, bit: u8| {
            if let Some(m) = scratch.marks.get_mut(node.index()) {
                if m.flag_stamp == stamp {
                    m.flags |= bit;
                } else {
                    m.restart(stamp, bit, FAR, u8::MAX);
                }
            }
        };
        req.excluded_nodes.iter().for_each(|&n| flag(n, EXCLUDED_NODE));
        req.excluded_channels.iter().for_each(|&(_, n)| flag(n, EXCLUDED_CHANNEL));
        req.policy_overrides.keys().for_each(|&(_, n)| flag(n, OVERRIDDEN));
        req.in_flight.keys().for_each(|&(_, n)| flag(n, IN_FLIGHT));
        req.capacity_caps.keys().for_each(|&(_, n)| flag(n, CAPPED));
        // A floor at the ceiling or more holds as the ceiling: every such hop costs that much.
        let floor = scorer.hop_floor().min(FLOOR_CEILING);
        // Floors are per hop amount at least the payee's (lnd's exemption counts on it).
        debug_assert!(floor == 0 || start.amount_msat >= req.amount_msat);
        let mut exempt = Vec::new();
        if floor > 0 {
            // Only a steered search guesses the payer's cost through its peers (`run`).
            req.first_hops.iter().for_each(|f| flag(f.peer, PAYER_PEER));
            scorer.floor_exempt(&mut |n| {
                exempt.push(n);
                flag(n, EXEMPT);
            });
        }
        scratch.heap.heap.clear();
        let mut floor = floor;
        if floor > 0 {
            let mut node_floor = |n: NodeId| scorer.node_floor(n);
            match mark_steps(view, req, hints, &mut scratch.marks, stamp, floor, &mut node_floor) {
                Some((far, first)) => {
                    // Hops grow only while every exempt node is at the payer's steps
                    // ([`mark_dist`]).
                    let growth = scorer.hop_growth();
                    let near_payer =
                        |n: &NodeId| scratch.marks.get(n.index()).is_some_and(|m| m.steps == 0);
                    let near = match growth > 1.0 && exempt.iter().all(near_payer) {
                        true => {
                            mark_dist(view, hints, &mut scratch.marks, stamp, start.node, &exempt)
                        }
                        false => 0,
                    };
                    scratch.heap.lift(floor, first, growth, far, near);
                }
                None => floor = 0,
            }
        }
        // Fees from the payer, where the scorer's cost covers them and no edge of the request (a
        // route hint's, an overridden policy) is one the view's own policies do not price.
        scratch.heap.rest = 0;
        if scorer.covers_fees() && hints.is_empty() && req.policy_overrides.is_empty() {
            let (marks, forward) = (&mut scratch.marks, &mut scratch.forward);
            scratch.heap.rest = mark_forward(view, req, marks, forward, stamp, start.amount_msat);
        }
        // Where a hop adds its fee, directions are read by fee as far as they can matter; with a
        // policy overridden, the view's fees are not the ones paid.
        scratch.heap.lazy = scorer.covers_fees() && req.policy_overrides.is_empty() && floor == 0;
        // Guessing pays where the search is steered: the payer's peers, at no steps from it,
        // are reached early. In a plain search it saved nothing (the first 5,000 mainnet
        // payments with Cheapest: 30.98G instructions with it, 30.64G without; benches/README).
        let mut guessing = floor > 0;
        loop {
            let found = match guessing {
                true => run::<S, true>(view, req, scorer, scratch, start, hints, floor),
                false => run::<S, false>(view, req, scorer, scratch, start, hints, floor),
            };
            match found {
                Ok(found) => return found,
                // A cost reached the ceiling above which floors need not hold: search again
                // unsteered, and so without guessing.
                Err(Again::Unsteered) => (floor, guessing) = (0, false),
                // The payer's cost exceeded the guess: search again without one.
                Err(Again::Unguessed) => guessing = false,
            }
            restamp(scratch);
        }
    })
}

#[cfg(test)]
thread_local! {
    /// How many directions the searches of this thread read into settled nodes.
    static READ: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// How many directions [`mark_forward`] read on this thread.
    static FORWARD_READ: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Why [`run`] must search again.
enum Again {
    /// A steered search reached [`FLOOR_CEILING`]: search unsteered.
    Unsteered,
    /// The payer's cost exceeded the guess ([`Queue::cut`]): search without guessing.
    Unguessed,
}

/// Gives the scratch a new stamp for another search of the same request: no label set, the
/// same flags.
fn restamp(scratch: &mut Scratch) {
    let old = scratch.stamp;
    scratch.stamp = old.wrapping_add(1);
    if scratch.stamp == 0 {
        // As at the start of a search: no stamp older than the wrap may read as current.
        scratch.stamp = 1;
        for m in scratch.marks.iter_mut() {
            (m.stamp, m.flag_stamp) = (0, if m.flag_stamp == old { 1 } else { 0 });
        }
    } else {
        let new = scratch.stamp;
        for m in scratch.marks.iter_mut().filter(|m| m.flag_stamp == old) {
            m.flag_stamp = new;
        }
    }
    scratch.heap.heap.clear();
}

/// A cheap necessary condition, checked before searching because failed searches cost the
/// most (they explore everything reachable): one of the payer's channels can send the amount, and
/// one channel into the payee can carry it (or a route hint or a direct channel reaches it).
fn can_leave_and_arrive(view: &GraphView, req: &RouteRequest<'_>, start: &Start) -> bool {
    let amount_msat = start.amount_msat;
    if !req.first_hops.iter().any(|f| f.available_msat >= amount_msat) {
        return false;
    }
    if !req.hints.is_empty() || req.first_hops.iter().any(|f| f.peer == start.node) {
        return true;
    }
    let mut arrives = false;
    view.for_each_in_edge(start.node, |edge| {
        let policy = req.policy_overrides.get(&(edge.scid, edge.from)).or(edge.policy.as_ref());
        arrives |= policy.is_some_and(|p| p.admits(amount_msat))
            && edge.capacity_sat.saturating_mul(1000) >= amount_msat;
    });
    arrives
}

/// How many channels [`may_reach`] reads at most before it gives up (the payer reaches more than
/// it can tell apart from the whole network). Over the first 20,000 payments of `mainnet_100k`
/// (lnd), 415 of the 448 checks that found no route read at most 64 channels, and every one at
/// most 252; a budget of 256 read more in the searches that do find a route than it saved.
const FORWARD_BUDGET: usize = 64;

/// Whether the payer may reach `start.node` at all: follows, from the payer's channels that can
/// send the amount, every direction that could carry it (known and enabled, or overridden, with
/// an `htlc_maximum_msat` and a capacity of at least the amount; route hints), reading at most
/// [`FORWARD_BUDGET`] channels; `true` when it runs out. A no-route search otherwise settles
/// everything it reaches from the payee's end: over the first 20,000 payments of
/// `mainnet_100k` (lnd), searches that found nothing read 2,626 directions each, a sixth of all
/// directions read, mostly for payers behind a peer whose channels cannot forward the amount;
/// with this check (reading up to 256 channels), 692. Every edge a search takes passes these
/// tests (its amounts only grow toward the payer, so a minimum HTLC is not one of them), so
/// `false` means the search finds no route (a debug build checks it).
fn may_reach(view: &GraphView, req: &RouteRequest<'_>, hints: &[HintEdge], start: &Start) -> bool {
    let amount_msat = start.amount_msat;
    let mut reached: Vec<NodeId> = Vec::new();
    let add = |reached: &mut Vec<NodeId>, node: NodeId| {
        if !reached.contains(&node) {
            reached.push(node);
        }
    };
    for first in req.first_hops.iter().filter(|f| f.available_msat >= amount_msat) {
        add(&mut reached, first.peer);
    }
    let mut read = 0;
    let mut i = 0;
    while let Some(&node) = reached.get(i) {
        i += 1;
        // A hub's channels are counted before they are read (channels announced since, as read).
        if node == start.node || read + view.base().degree(node) > FORWARD_BUDGET {
            return true;
        }
        view.for_each_out_edge(node, |to, edge| {
            read += 1;
            let carries = edge.policy.is_some_and(|p| p.htlc_maximum_msat >= amount_msat)
                || req.policy_overrides.contains_key(&(edge.scid, node));
            if carries && edge.capacity_sat.saturating_mul(1000) >= amount_msat {
                add(&mut reached, to);
            }
        });
        for &(from, to, ..) in hints {
            if from == node {
                add(&mut reached, to);
            }
        }
        if read > FORWARD_BUDGET {
            return true;
        }
    }
    false
}

/// A route hint's edge: (from, to, channel, from's policy), as [`RouteRequest::hint_edges`].
type HintEdge = (NodeId, NodeId, Scid, ChannelPolicy);

/// The search proper, with node priorities raised by `floor` per step ([`mark_steps`]) and,
/// with `GUESS`, labels passed over above the payer's guessed cost ([`Queue::guess`]); an
/// [`Again`] if it must run again: a steered search (`floor > 0`) reached a cost from which
/// floors need not hold, or the guess passed over a label the payer's route might need.
fn run<S: Scorer, const GUESS: bool>(
    view: &GraphView,
    req: &RouteRequest<'_>,
    scorer: &mut S,
    scratch: &mut Scratch,
    start: &Start,
    hints: &[HintEdge],
    floor: u64,
) -> Result<Option<Route>, Again> {
    let stamp = scratch.stamp;
    let flags_of = |mark: &Mark| if mark.flag_stamp == stamp { mark.flags } else { 0 };
    let marks = &mut scratch.marks;
    let labels = &mut scratch.labels;
    let heap = &mut scratch.heap;
    let resume = &mut scratch.resume;
    if floor == 0 {
        heap.lift(0, 0, 1.0, FAR, 0);
    }
    debug_assert_eq!(heap.floor, floor, "a steered search's priorities are set before it runs");
    (heap.ceiling, heap.best) = (false, u64::MAX);
    (heap.guess, heap.cut) = (u64::MAX, u64::MAX);
    let first = &mut marks[start.node.index()];
    let (cost, hops) = (start.reached.cost, start.reached.hops);
    (first.stamp, first.settled, first.hops, first.cost) = (stamp, false, hops, cost);
    labels[start.node.index()] = Label {
        weight: start.reached.weight,
        probability: start.reached.probability,
        amount_msat: start.amount_msat,
        cltv_delta: start.cltv_delta,
        next: None,
    };
    if floor > 0 && cost >= FLOOR_CEILING {
        return Err(Again::Unsteered);
    }
    heap.heap.push(Reverse(queued(priority(cost, heap, stamp, first), hops, start.node)));
    // Nodes with one peer are passed over unless a route may start at one other than the payer:
    // a route hint's or one of the payer's own channels (which the base graph may lack).
    let one_peer = (hints.is_empty() && !req.first_hops.iter().any(|f| view.has_one_peer(f.peer)))
        .then_some(view);
    while let Some(Reverse(key)) = heap.heap.pop() {
        if heap.ceiling {
            return Err(Again::Unsteered);
        }
        let (at_priority, hops, node) = unqueued(key);
        let mark = marks[node.index()];
        // Where a settled node's scan of its directions ordered by fee goes on, if this entry
        // is one (`resumed`).
        let resume_at = match hops {
            None => Some(resume[node.index()] as usize),
            Some(hops) => {
                if mark.stamp != stamp
                    || mark.settled
                    || (priority(mark.cost, heap, stamp, &mark), mark.hops) != (at_priority, hops)
                {
                    continue;
                }
                marks[node.index()].settled = true;
                if node == req.source {
                    if heap.cut <= at_priority {
                        return Err(Again::Unguessed);
                    }
                    return Ok(Some(build_route(marks, labels, stamp, req, start.node)));
                }
                None
            }
        };
        if mark.hops as usize >= req.max_hops
            || (node != start.node && flags_of(&mark) & EXCLUDED_NODE != 0)
        {
            continue;
        }
        let label = labels[node.index()];
        let reached = Reached {
            cost: mark.cost,
            weight: label.weight,
            probability: label.probability,
            hops: mark.hops,
            cltv_delta: label.cltv_delta,
        };
        let by = (mark.cost, mark.hops, node);
        let step = step(heap, stamp, &mark);
        let at = Settled::<GUESS> {
            req,
            one_peer,
            stamp,
            node,
            hops: mark.hops,
            label,
            reached,
            by,
            step,
            priority: priority(mark.cost, heap, stamp, &mark),
        };
        if let Some(from) = resume_at {
            let read_on = view.in_edges_by_fee_read_before(node);
            let (edges, floors) = read_on.expect("invariant: a node read on was read by fee");
            at.read_by_fee(edges, floors, from, resume, scorer, marks, labels, heap);
            continue;
        }
        // Most nodes' directions are read as they are in the base graph, in a loop of its own,
        // the step inlined into it; in the order of what they charge, where the graph keeps it
        // (which of two nodes is offered a label first changes nothing; the directions from one
        // peer keep their order), and where every hop adds at least its fee, only as far as
        // they can matter (`Settled::read_by_fee`).
        let by_fee = view.in_edges_by_fee_as_at_start(node);
        match by_fee.map(|(edges, _)| edges).or_else(|| view.in_edges_as_at_start(node)) {
            Some(edges) => {
                match by_fee {
                    // Two directions from one peer offer equal labels in the order plain Dijkstra
                    // reads them, channels announced later and route hints after the base
                    // graph's: a node with either is read in full.
                    Some((edges, floors))
                        if heap.lazy
                            && !view.has_added_in_edges(node)
                            && !hints.iter().any(|&(_, to, ..)| to == node) =>
                    {
                        at.read_by_fee(edges, floors, 0, resume, scorer, marks, labels, heap);
                    }
                    _ => {
                        for edge in edges {
                            at.relax_in_edge(edge, scorer, marks, labels, heap);
                        }
                    }
                }
                view.for_each_added_in_edge(node, |edge| {
                    at.relax_in_edge(edge, scorer, marks, labels, heap);
                });
            }
            None => view.for_each_in_edge(node, |edge| {
                at.relax_in_edge(edge, scorer, marks, labels, heap);
            }),
        }
        for (from, to, scid, policy) in hints {
            if *to == node && *from != req.source {
                at.relax(*from, *scid, Some(policy), u64::MAX, scorer, marks, labels, heap);
            }
        }
        for first in req.first_hops.iter().filter(|f| f.peer == node) {
            let Some(edge) = first_hop_edge(req, first, label.amount_msat) else { continue };
            let Some((cost, weight, probability)) = scorer.score(&edge, &reached) else { continue };
            let candidate = Candidate {
                cost,
                hops: mark.hops + 1,
                label: Label { weight, probability, next: Some((first.scid, node, 0)), ..label },
            };
            offer(marks, labels, heap, req, stamp, req.source, candidate, by);
        }
    }
    if heap.cut != u64::MAX {
        return Err(Again::Unguessed);
    }
    Ok(None)
}

/// A node's priority: its cost raised by what its hops to the payer add at least
/// ([`Queue::lift`]), by its steps from the payer and hops from the start, and by the fees a
/// route from the payer to it pays at least ([`mark_forward`]).
#[inline(always)]
fn priority(cost: u64, queue: &Queue, stamp: u32, mark: &Mark) -> u64 {
    let flagged = mark.flag_stamp == stamp;
    let (steps, dist) = match flagged {
        true => (mark.steps.min(queue.far), mark.dist.min(queue.near)),
        false => (queue.far, queue.near),
    };
    let lifted = cost.saturating_add(queue.lift[steps as usize][dist as usize]);
    // Apart, so that a search without fees from the payer reads nothing more.
    if queue.rest == 0 {
        return lifted;
    }
    let potential = if flagged { mark.potential } else { u32::MAX };
    lifted.saturating_add(u64::from(potential).min(queue.rest))
}

/// What a hop from the node of `mark` adds at least (unless it is exempt): the step of its
/// hops from the start ([`Queue::lift`]).
#[inline(always)]
fn step(queue: &Queue, stamp: u32, mark: &Mark) -> u64 {
    let dist = if mark.flag_stamp == stamp { mark.dist.min(queue.near) } else { queue.near };
    queue.step[dist as usize]
}

/// The (cost, hops, id) of the node that offered `node` its label, as plain Dijkstra orders
/// nodes: of two equal offers, the one it would have made first (`None` for the start).
#[inline(always)]
fn offerer(marks: &[Mark], labels: &[Label], node: NodeId) -> Option<(u64, u32, NodeId)> {
    let (_, by, _) = labels[node.index()].next?;
    let mark = &marks[by.index()];
    Some((mark.cost, mark.hops, by))
}

/// A node just settled, whose label the edges into it extend: what relaxing one reads. With
/// `GUESS`, the search guesses the payer's cost ([`Queue::guess`]); a constant, so that a
/// search without the guess runs none of its code (`Cheapest`'s, never guessing, ran 5% more
/// instructions when it was a flag).
struct Settled<'a, 'r, const GUESS: bool> {
    req: &'a RouteRequest<'r>,
    /// The view whose nodes with one peer ([`GraphView::has_one_peer`]) need no label: one is
    /// offered a label only from its peer, already settled, so it would offer none in turn
    /// (`None`: they do, see [`run`]).
    one_peer: Option<&'a GraphView>,
    stamp: u32,
    node: NodeId,
    hops: u32,
    label: Label,
    reached: Reached,
    /// The node's (cost, hops, id): what it offers by, and where plain Dijkstra settles it.
    by: (u64, u32, NodeId),
    /// What a hop from it adds at least in a steered search, unless exempt ([`step`]).
    step: u64,
    /// Its priority, which no label it offers falls below (checked in a debug build).
    priority: u64,
}

impl<const GUESS: bool> Settled<'_, '_, GUESS> {
    /// Reads the settled node's directions ordered by fee from `from` on, while what the next
    /// one can offer at least (its floor over the node's cost) comes no later than the heap's
    /// next entry; then queues an entry at that floor that reads on when it comes first
    /// ([`resumed`]): every label read later would be settled no sooner, and ties end as plain
    /// Dijkstra's ([`Queue::lazy`] makes them steered; `run` reads a node with directions that
    /// plain Dijkstra reads after these, announced later or route hints, in full). Where the
    /// floor exceeds the payer's cost ([`Queue::best`]), nothing from there on can matter.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn read_by_fee<S: Scorer>(
        &self,
        edges: &[InEdge],
        floors: &[FeeFloor],
        from: usize,
        resume: &mut [u32],
        scorer: &mut S,
        marks: &mut [Mark],
        labels: &mut [Label],
        heap: &mut Queue,
    ) {
        let (cost, amount_msat) = (self.reached.cost, self.label.amount_msat);
        for (i, (edge, floor)) in edges.iter().zip(floors).enumerate().skip(from) {
            let least = cost.saturating_add(floor.fee_msat(amount_msat));
            if least > heap.best {
                return;
            }
            if heap.heap.peek().is_some_and(|&Reverse(top)| least > (top >> 64) as u64) {
                resume[self.node.index()] = i as u32;
                heap.heap.push(Reverse(resumed(least, self.node)));
                return;
            }
            self.relax_in_edge(edge, scorer, marks, labels, heap);
        }
    }

    /// [`Settled::relax`] over a direction of the view, unless it leaves the payer (whose own
    /// channels come from `first_hops`) or a node with one peer, which can lead nowhere else.
    #[inline(always)]
    fn relax_in_edge<S: Scorer>(
        &self,
        edge: &InEdge,
        scorer: &mut S,
        marks: &mut [Mark],
        labels: &mut [Label],
        heap: &mut Queue,
    ) {
        #[cfg(test)]
        READ.with(|read| read.set(read.get() + 1));
        if edge.from != self.req.source
            && !(edge.from_has_one_peer()
                && self.one_peer.is_some_and(|view| view.has_one_peer(edge.from)))
        {
            let capacity_msat = edge.capacity_sat.saturating_mul(1000);
            let policy = edge.policy.as_ref();
            self.relax(edge.from, edge.scid, policy, capacity_msat, scorer, marks, labels, heap);
        }
    }

    /// Offers `from` the label through the channel `scid` from `from` into the settled node,
    /// if the channel can carry the amount and the scorer admits it. Inlined into the scan of a
    /// node's edges, where a search spends most of its time.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn relax<S: Scorer>(
        &self,
        from: NodeId,
        scid: Scid,
        policy: Option<&ChannelPolicy>,
        capacity_msat: u64,
        scorer: &mut S,
        marks: &mut [Mark],
        labels: &mut [Label],
        heap: &mut Queue,
    ) {
        let (req, stamp, amount_msat) = (self.req, self.stamp, self.label.amount_msat);
        // The edge's own checks first: most edges fail them (disabled, too small for the
        // amount), and they read no per-node state scattered in memory.
        let unfit = policy.is_none_or(|p| !p.admits(amount_msat) || amount_msat > capacity_msat);
        if unfit && req.policy_overrides.is_empty() {
            return;
        }
        let at_from = &marks[from.index()];
        // As `run`'s `flags_of`: a method shared by both ran 7% more instructions per search.
        let bits = if at_from.flag_stamp == stamp { at_from.flags } else { 0 };
        #[cfg(debug_assertions)]
        if heap.lazy && !unfit && at_from.stamp == stamp && at_from.settled && bits == 0 {
            self.check_read_in_time(from, scid, policy, capacity_msat, scorer, marks, labels);
        }
        if (at_from.stamp == stamp && at_from.settled)
            || (unfit && bits & OVERRIDDEN == 0)
            || bits & EXCLUDED_NODE != 0
            || (bits & EXCLUDED_CHANNEL != 0 && req.excluded_channels.contains(&(scid, from)))
        {
            return;
        }
        // In a steered search a hop adds at least its step (or reaches the ceiling), an exempt
        // hop at least nothing; a settled node's cost is below the ceiling (`offer` stops the
        // search at one that reaches it), so `least` is never below the settled node's cost.
        if heap.floor > 0 {
            let exempt = bits & EXEMPT != 0;
            let least = match exempt {
                false => self.reached.cost.saturating_add(self.step).min(FLOOR_CEILING),
                true => self.reached.cost,
            };
            // A label `from` holds below that needs nothing computed, not even the lower bound.
            if !exempt
                && at_from.stamp == stamp
                && (least, self.hops + 1) > (at_from.cost, at_from.hops)
            {
                return;
            }
            // Nor does one whose priority would exceed the route known or guessed, as below.
            let limit = heap.best.min(heap.guess);
            if GUESS && limit != u64::MAX {
                let priority = priority(least, heap, stamp, at_from);
                if priority > limit {
                    if priority <= heap.best {
                        heap.cut = heap.cut.min(priority);
                    }
                    return;
                }
            }
        }
        let overridden;
        let policy = match bits & OVERRIDDEN {
            0 => policy,
            _ => {
                overridden = req.policy_overrides.get(&(scid, from)).copied();
                overridden.as_ref().or(policy)
            }
        };
        let Some(policy) = policy else { return };
        let in_flight_msat = match bits & IN_FLIGHT {
            0 => 0,
            _ => req.in_flight.get(&(scid, from)).copied().unwrap_or(0),
        };
        let capacity_msat = match bits & CAPPED {
            0 => capacity_msat,
            _ => req
                .capacity_caps
                .get(&(scid, from))
                .map_or(capacity_msat, |&cap| cap.min(capacity_msat)),
        };
        if !policy.admits(amount_msat) || amount_msat.saturating_add(in_flight_msat) > capacity_msat
        {
            return;
        }
        let edge = self.edge(from, scid, policy, capacity_msat, in_flight_msat);
        let fee_msat = edge.fee_msat;
        // A label `from` already holds and the candidate cannot beat needs no scoring.
        let bound = scorer.lower_bound(&edge, &self.reached);
        debug_assert!(
            scorer.score(&edge, &self.reached).is_none_or(|(cost, ..)| bound <= cost),
            "a scorer's lower bound exceeds its cost over {scid}"
        );
        // A route is known at `heap.best`: a label above it at `from` would never be settled.
        // Above the guess, it is not offered either, noted in `heap.cut`.
        let limit = if GUESS { heap.best.min(heap.guess) } else { heap.best };
        if limit != u64::MAX {
            let priority = priority(bound, heap, stamp, at_from);
            if priority > limit {
                if GUESS && priority <= heap.best {
                    heap.cut = heap.cut.min(priority);
                }
                return;
            }
        }
        if at_from.stamp == stamp {
            let order = (bound, self.hops + 1).cmp(&(at_from.cost, at_from.hops));
            // An equal offer wins only in a steered search, from a node plain Dijkstra settles
            // first (`offer`).
            if order.is_gt()
                || (order.is_eq()
                    && (!heap.steered() || Some(self.by) >= offerer(marks, labels, from)))
            {
                return;
            }
        }
        let Some((cost, weight, probability)) = scorer.score(&edge, &self.reached) else { return };
        debug_assert!(
            bits & EXEMPT != 0
                || cost >= FLOOR_CEILING
                || cost >= self.reached.cost.saturating_add(scorer.hop_floor()),
            "a scorer's hop floor exceeds what {scid} adds"
        );
        debug_assert!(
            heap.rest == 0
                || heap.floor > 0
                || priority(cost, heap, stamp, at_from) >= self.priority,
            "a fee from the payer to {from} exceeds what {scid} adds"
        );
        // Priorities never fall along an edge, exempt or not, below the ceiling.
        debug_assert!(
            heap.floor == 0
                || cost >= FLOOR_CEILING
                || ((bits & EXEMPT != 0 || cost >= self.reached.cost.saturating_add(self.step))
                    && priority(cost, heap, stamp, at_from) >= self.priority),
            "a scorer's hop growth exceeds what {scid} adds"
        );
        let candidate = Candidate {
            cost,
            hops: self.hops + 1,
            label: Label {
                weight,
                probability,
                amount_msat: amount_msat.saturating_add(fee_msat),
                cltv_delta: self.label.cltv_delta + u32::from(policy.cltv_expiry_delta),
                next: Some((scid, self.node, fee_msat)),
            },
        };
        if GUESS && bits & PAYER_PEER != 0 {
            self.guess(from, &candidate, scorer, heap);
        }
        offer(marks, labels, heap, req, stamp, from, candidate, self.by);
    }

    /// The direction `scid` from `from` into this node as the scorer reads it, carrying this
    /// node's amount.
    #[inline(always)]
    fn edge<'p>(
        &self,
        from: NodeId,
        scid: Scid,
        policy: &'p ChannelPolicy,
        capacity_msat: u64,
        in_flight_msat: u64,
    ) -> Edge<'p> {
        let amount_msat = self.label.amount_msat;
        Edge {
            from,
            to: self.node,
            scid,
            policy: Some(policy),
            capacity_msat,
            amount_msat,
            fee_msat: policy.fee_msat(amount_msat),
            in_flight_msat,
            cltv_delta: policy.cltv_expiry_delta,
            first_hop: false,
        }
    }

    /// Checks that a direction read by fee lazily ([`Settled::read_by_fee`]) into this node
    /// from `from`, already settled, offers it no label that would have won: it was read in
    /// time (a debug build's check of [`resumed`]'s priority).
    #[cfg(debug_assertions)]
    #[allow(clippy::too_many_arguments)]
    fn check_read_in_time<S: Scorer>(
        &self,
        from: NodeId,
        scid: Scid,
        policy: Option<&ChannelPolicy>,
        capacity_msat: u64,
        scorer: &mut S,
        marks: &[Mark],
        labels: &[Label],
    ) {
        let Some(policy) = policy else { return };
        let edge = self.edge(from, scid, policy, capacity_msat, 0);
        let Some((cost, ..)) = scorer.score(&edge, &self.reached) else { return };
        let settled = &marks[from.index()];
        let offer = (cost, self.hops + 1, Some(self.by));
        let held = (settled.cost, settled.hops, offerer(marks, labels, from));
        debug_assert!(offer >= held, "{scid} into {} was read after {from} was settled", self.node);
    }

    /// Lowers [`Queue::guess`] to what the payer would pay through its channels to `peer`,
    /// were `candidate` the label `peer` ends with.
    fn guess<S: Scorer>(
        &self,
        peer: NodeId,
        candidate: &Candidate,
        scorer: &mut S,
        heap: &mut Queue,
    ) {
        let req = self.req;
        let label = &candidate.label;
        if label.amount_msat - req.amount_msat > req.max_fee_msat
            || label.cltv_delta > req.max_total_cltv_delta
            || candidate.hops as usize >= req.max_hops
        {
            return;
        }
        let reached = Reached {
            cost: candidate.cost,
            weight: label.weight,
            probability: label.probability,
            hops: candidate.hops,
            cltv_delta: label.cltv_delta,
        };
        for first in req.first_hops.iter().filter(|f| f.peer == peer) {
            let Some(edge) = first_hop_edge(req, first, label.amount_msat) else { continue };
            if let Some((cost, ..)) = scorer.score(&edge, &reached) {
                heap.guess = heap.guess.min(cost);
            }
        }
    }
}

/// The payer's channel `first` as the edge over which it sends `amount_msat` to its peer, if
/// the request does not exclude it and it can carry the amount.
fn first_hop_edge(
    req: &RouteRequest<'_>,
    first: &FirstHop,
    amount_msat: u64,
) -> Option<Edge<'static>> {
    if req.excluded_channels.contains(&(first.scid, req.source))
        || amount_msat > first.available_msat
        || amount_msat < first.htlc_minimum_msat
    {
        return None;
    }
    Some(Edge {
        from: req.source,
        to: first.peer,
        scid: first.scid,
        policy: None,
        capacity_msat: first.available_msat,
        amount_msat,
        fee_msat: 0,
        in_flight_msat: 0,
        cltv_delta: 0,
        first_hop: true,
    })
}

/// A heap key ordered as (priority, hops, node id), in one integer: one comparison where a
/// tuple takes three.
fn queued(priority: u64, hops: u32, node: NodeId) -> u128 {
    u128::from(priority) << 64 | u128::from(hops + 1) << 32 | u128::from(node.0)
}

/// The key of an entry that reads on the settled `node`'s directions ordered by fee, where its
/// scan stopped ([`Scratch::resume`]), at `priority`, the least any of them can offer: before
/// every node's entry at that priority, so that no label it may offer is settled first.
fn resumed(priority: u64, node: NodeId) -> u128 {
    u128::from(priority) << 64 | u128::from(node.0)
}

/// The (priority, hops, node) of a heap key; `None` for hops where the entry reads on a settled
/// node's directions ([`resumed`]).
fn unqueued(key: u128) -> (u64, Option<u32>, NodeId) {
    let hops = ((key >> 32) as u32).checked_sub(1);
    ((key >> 64) as u64, hops, NodeId(key as u32))
}

/// Gives `node` the label `candidate`, offered by the settled node `by` (its cost, hops and
/// id), if it beats the one it holds: a lower (cost, hops), or, in a steered search, an equal
/// one from a node plain Dijkstra would have settled first (which would have offered first), so
/// that every label is the one plain Dijkstra gives, whatever order a steered search settles in.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn offer(
    marks: &mut [Mark],
    labels: &mut [Label],
    heap: &mut Queue,
    req: &RouteRequest<'_>,
    stamp: u32,
    node: NodeId,
    candidate: Candidate,
    by: (u64, u32, NodeId),
) {
    if candidate.label.amount_msat - req.amount_msat > req.max_fee_msat
        || candidate.label.cltv_delta > req.max_total_cltv_delta
        || candidate.hops as usize > req.max_hops
    {
        return;
    }
    let old = &marks[node.index()];
    let wins = old.stamp != stamp
        || match (candidate.cost, candidate.hops).cmp(&(old.cost, old.hops)) {
            std::cmp::Ordering::Less => true,
            std::cmp::Ordering::Equal => heap.steered() && Some(by) < offerer(marks, labels, node),
            std::cmp::Ordering::Greater => false,
        };
    if !wins {
        return;
    }
    if heap.floor > 0 && candidate.cost >= FLOOR_CEILING {
        heap.ceiling = true;
    }
    if node == req.source {
        heap.best = candidate.cost;
    }
    let old = &mut marks[node.index()];
    (old.stamp, old.settled, old.hops, old.cost) = (stamp, false, candidate.hops, candidate.cost);
    labels[node.index()] = candidate.label;
    let priority = priority(candidate.cost, heap, stamp, old);
    heap.heap.push(Reverse(queued(priority, candidate.hops, node)));
}

fn build_route(
    marks: &[Mark],
    labels: &[Label],
    stamp: u32,
    req: &RouteRequest<'_>,
    end: NodeId,
) -> Route {
    let mut hops = Vec::new();
    let mut node = req.source;
    while let Some((scid, next, fee_msat)) =
        Some(node).filter(|n| marks[n.index()].stamp == stamp).and_then(|n| labels[n.index()].next)
    {
        let at_next = labels[next.index()];
        hops.push(RouteHop {
            scid,
            node_id: next,
            amount_msat: at_next.amount_msat,
            cltv_expiry: req.current_height + at_next.cltv_delta,
            fee_msat,
        });
        node = next;
    }
    debug_assert_eq!(node, end);
    Route { hops }
}

mod marks;

#[cfg(test)]
mod tests;
