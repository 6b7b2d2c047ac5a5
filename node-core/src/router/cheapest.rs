//! The two baselines: the lowest total fee, and the fewest hops. Neither learns anything; a
//! payment still excludes what failed during it.

use super::search::{Edge, Reached, Scorer, search};
use super::{Learned, Route, RouteRequest, Router};
use crate::graph::GraphView;
use crate::ids::{NodeId, SimTime};

/// The lowest total fee: an edge costs the fee its start takes (nothing for the payer's own
/// channels). What most simulators call "shortest path".
#[derive(Clone, Copy, Debug, Default)]
pub struct Cheapest;

impl Scorer for Cheapest {
    fn score(&mut self, edge: &Edge<'_>, to: &Reached) -> Option<(u64, u64, f64)> {
        Some((self.lower_bound(edge, to), 0, 1.0))
    }

    /// The cost itself: it is as cheap.
    fn lower_bound(&self, edge: &Edge<'_>, to: &Reached) -> u64 {
        to.cost.saturating_add(edge.fee_msat)
    }

    /// The cost is the fees.
    fn covers_fees(&self) -> bool {
        true
    }
}

impl Router for Cheapest {
    fn plan(&self, view: &GraphView, req: &RouteRequest<'_>) -> Vec<Route> {
        search(view, req, &mut { *self }).into_iter().collect()
    }

    fn learn(&mut self, _: &GraphView, _: SimTime, _: NodeId, _: &Route, _: Learned) {}
}

/// The fewest hops, ties broken by the lowest fee.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShortestHops;

/// Fees below this order routes of equal length; a hop always outweighs them.
const HOP: u64 = 1 << 44;

impl Scorer for ShortestHops {
    fn score(&mut self, edge: &Edge<'_>, to: &Reached) -> Option<(u64, u64, f64)> {
        Some((self.lower_bound(edge, to), 0, 1.0))
    }

    /// The cost itself: it is as cheap.
    fn lower_bound(&self, edge: &Edge<'_>, to: &Reached) -> u64 {
        to.cost.saturating_add(HOP).saturating_add(edge.fee_msat.min(HOP - 1))
    }

    /// A hop: every edge adds one.
    fn hop_floor(&self) -> u64 {
        HOP
    }
}

impl Router for ShortestHops {
    fn plan(&self, view: &GraphView, req: &RouteRequest<'_>) -> Vec<Route> {
        search(view, req, &mut { *self }).into_iter().collect()
    }

    fn learn(&mut self, _: &GraphView, _: SimTime, _: NodeId, _: &Route, _: Learned) {}
}
