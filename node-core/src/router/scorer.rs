//! What a route search and a router's scoring share: the edge a search offers ([`Edge`]), the
//! label it has reached ([`Reached`]), where it starts ([`Start`]) and the [`Scorer`] trait a
//! router implements. The searches themselves are [`super::search`]'s (and, for tests, the
//! reference search's); this module holds no algorithm.

use super::RouteRequest;
use crate::ids::{NodeId, Scid};
use crate::policy::ChannelPolicy;

/// An edge the search offers a scorer: the HTLC `from` would send to `to` over `scid`.
#[derive(Clone, Copy, Debug)]
pub struct Edge<'a> {
    /// The node that sends (and, unless it is the payer, forwards and takes the fee).
    pub from: NodeId,
    /// The node that receives.
    pub to: NodeId,
    /// The channel.
    pub scid: Scid,
    /// `from`'s policy for it (`None` for the payer's own channels).
    pub policy: Option<&'a ChannelPolicy>,
    /// What the payer knows of the channel's capacity, msat (its spendable balance for its own).
    pub capacity_msat: u64,
    /// The HTLC's amount over this channel, msat.
    pub amount_msat: u64,
    /// The fee `from` takes for forwarding it, msat (0 for the payer's own channels).
    pub fee_msat: u64,
    /// What the payer's HTLCs in flight already use of this direction, msat (0 for its own
    /// channels, whose `capacity_msat` already excludes them).
    pub in_flight_msat: u64,
    /// The CLTV delta `from` adds, blocks.
    pub cltv_delta: u16,
    /// Whether this is one of the payer's own channels.
    pub first_hop: bool,
}

/// The label of the node an edge leads to, as a scorer sees it.
#[derive(Clone, Copy, Debug)]
pub struct Reached {
    /// Its priority.
    pub cost: u64,
    /// A router's additive weight so far (lnd's fee plus time-lock penalty).
    pub weight: u64,
    /// The success probability of the route so far.
    pub probability: f64,
    /// Hops from this node to the payee.
    pub hops: u32,
    /// The sum of CLTV deltas from this node to the payee, the final one included, blocks.
    pub cltv_delta: u32,
}

/// Where a search starts from the payee's end: a node and the label that the rest of a route,
/// from that node to the payee, gives it. [`search`] starts at the payee itself; Eclair's
/// k-shortest-paths search starts a spur search at a node of an earlier route
/// ([`search_from`]).
#[derive(Clone, Copy, Debug)]
pub struct Start {
    /// The node.
    pub node: NodeId,
    /// What the HTLC into it must carry, msat.
    pub amount_msat: u64,
    /// The sum of CLTV deltas from it to the payee, the final one included, blocks.
    pub cltv_delta: u32,
    /// The label's priority, weight and probability, as the scorer gave them.
    pub reached: Reached,
}

impl Start {
    /// The payee of `req`, with nothing spent yet.
    pub fn payee(req: &RouteRequest<'_>) -> Start {
        Start {
            node: req.target,
            amount_msat: req.amount_msat,
            cltv_delta: req.final_cltv_delta,
            reached: Reached {
                cost: 0,
                weight: 0,
                probability: 1.0,
                hops: 0,
                cltv_delta: req.final_cltv_delta,
            },
        }
    }
}

/// Scores edges for [`search`].
pub trait Scorer {
    /// The label at `edge.from` given the one at `edge.to`: (cost, weight, probability), or
    /// `None` if the edge must not be used. It must not change what later calls return: the
    /// search skips calls ([`Scorer::lower_bound`]) and a debug build repeats them.
    fn score(&mut self, edge: &Edge<'_>, to: &Reached) -> Option<(u64, u64, f64)>;

    /// A cost that [`Scorer::score`] never goes below for this edge, computed without what makes
    /// scoring dear (probabilities, learnt history): the search skips scoring an edge whose bound
    /// already loses to the label `edge.from` holds, so a bound must never exceed the cost. The
    /// default, 0, is always safe: it skips an edge only when its start already holds a label of
    /// cost 0.
    fn lower_bound(&self, edge: &Edge<'_>, to: &Reached) -> u64 {
        let _ = (edge, to);
        0
    }

    /// A cost every hop but the payer's own adds at least: `score(edge, to)` is at least
    /// `to.cost + hop_floor()` for any edge not `first_hop` whose start is not exempt
    /// ([`Scorer::floor_exempt`]), or at least [`FLOOR_CEILING`] (where
    /// rounding and saturation may eat the step). The search uses it to steer toward the payer:
    /// a node `k` hops further from the payer than its neighbours must add `k` floors before it
    /// reaches it. The default, 0, steers nothing. A debug build checks every scored edge.
    fn hop_floor(&self) -> u64 {
        0
    }

    /// How much more than the last each hop adds at least: a hop from a node not exempt
    /// ([`Scorer::floor_exempt`]) into a label whose route to the payee has `k` hops from nodes
    /// not exempt adds at least `hop_floor() × hop_growth()^k` (less a relative 10^-9 and the
    /// floor's own margins), or reaches [`FLOOR_CEILING`]; an exempt node's hop may add
    /// nothing, never less. lnd's apriori cost, `weight + attempt_cost / P`, has it: each hop
    /// from a node not exempt multiplies the route's probability `P` by at most `p`, and an
    /// exempt one by at most 1, so the next hop adds at least `attempt_cost / p^k × (1/p − 1)`.
    /// The search raises the step from a node known to be `k` such hops from the payee by as
    /// much. The default, 1.0, grows nothing.
    fn hop_growth(&self) -> f64 {
        1.0
    }

    /// Whether every hop adds at least the fee it pays ([`Edge::fee_msat`]; the payer's own
    /// nothing), exactly: the search then raises a node's priority by the fees a route from the
    /// payer to it pays at least (its `mark_forward`). The default: `false`.
    fn covers_fees(&self) -> bool {
        false
    }

    /// What each hop from `node` adds at least, when `node` is not exempt
    /// ([`Scorer::floor_exempt`]): as [`Scorer::hop_floor`] (times [`Scorer::hop_growth`]`^k`
    /// into a label with `k` hops from nodes not exempt), and never less than it. The search
    /// asks it of the nodes nearest the payer, one of which every route leaves through: lnd's
    /// node with a failure learnt estimates less for each of its pairs, so its hops add more.
    /// The default: the floor.
    fn node_floor(&self, node: NodeId) -> u64 {
        let _ = node;
        self.hop_floor()
    }

    /// Calls `exempt` with each node whose hops may add less than [`Scorer::hop_floor`] (never
    /// less than nothing): lnd's nodes with a success learnt. The default: none.
    fn floor_exempt(&self, exempt: &mut dyn FnMut(NodeId)) {
        let _ = exempt;
    }
}

/// Costs from which [`Scorer::hop_floor`] need not hold: 2^50 msat (over 11,000 BTC), where an
/// f64 still holds every integer to within a quarter.
pub const FLOOR_CEILING: u64 = 1 << 50;
