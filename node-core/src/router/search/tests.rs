//! The fast search's own cases: the pre-checks before a search, and a guess of the payer's cost
//! that runs the search again (every router's routes against the reference search are in
//! `super::super`'s tests).

use super::super::cheapest_route;
use super::super::testing::{Fixture, channel, policy};
use super::*;
use crate::invoice::{RouteHint, RouteHintHop};

/// Node 0 pays node 3 over 0 -> 1 -> 2 -> 3, node 2 taking 1000 msat; 3 also has peers 4
/// and 5, which reach nothing else, so a search from 3's end settles them before it fails.
fn line(one_to_two: ChannelPolicy, one_to_two_sat: u64) -> Fixture {
    let c = |scid, a, b, sat, p| channel(scid, a, b, sat, p);
    let channels = vec![
        c(1, 0, 1, 1_000_000, policy(0, 0, 40)),
        c(2, 1, 2, one_to_two_sat, one_to_two),
        c(3, 2, 3, 1_000_000, policy(1000, 0, 40)),
        c(4, 3, 4, 1_000_000, policy(0, 0, 40)),
        c(5, 4, 5, 1_000_000, policy(0, 0, 40)),
    ];
    Fixture::new(6, channels, 0, 3, None)
}

#[test]
fn a_payer_whose_peer_cannot_forward_the_amount_is_told_so_without_a_search() {
    // 1 -> 2 is too small for 100,000 msat, by its capacity and then by its maximum HTLC.
    for (p, sat) in [
        (policy(0, 0, 40), 99),
        (ChannelPolicy { htlc_maximum_msat: 99_999, ..policy(0, 0, 40) }, 1_000_000),
    ] {
        let f = line(p, sat);
        let req = f.request(100_000);
        let hints = req.hint_edges();
        assert!(!may_reach(&f.view, &req, &hints, &Start::payee(&req)));
        assert!(cheapest_route(&f.view, &req).is_none());
        // An override of the policy opens it, unless it is too small.
        let mut f = f;
        f.overrides.insert((Scid(2), NodeId(1)), policy(0, 0, 40));
        let req = f.request(100_000);
        let opens = sat * 1000 >= 101_000;
        assert_eq!(may_reach(&f.view, &req, &hints, &Start::payee(&req)), opens);
        assert_eq!(cheapest_route(&f.view, &req).is_some(), opens);
    }
}

#[test]
fn the_forward_check_counts_the_fees_a_hop_adds_to_the_amount() {
    // 1 -> 2 admits nothing below 100,500 msat: the payee's 100,000 msat would not pass, but
    // the HTLC over it carries 101,000 with node 2's fee.
    let p = ChannelPolicy { htlc_minimum_msat: 100_500, ..policy(0, 0, 40) };
    let f = line(p, 1_000_000);
    let req = f.request(100_000);
    assert!(may_reach(&f.view, &req, &req.hint_edges(), &Start::payee(&req)));
    let route = cheapest_route(&f.view, &req).expect("a route over 1 -> 2 at 101,000 msat");
    assert_eq!(route.hops[1].amount_msat, 101_000);
}

/// The fee an edge's start takes, plus `toll` over the payer's channel `scid`.
struct Toll {
    scid: Scid,
    toll: u64,
}

impl Scorer for Toll {
    fn score(&mut self, edge: &Edge<'_>, to: &Reached) -> Option<(u64, u64, f64)> {
        Some((self.lower_bound(edge, to), 0, 1.0))
    }

    fn lower_bound(&self, edge: &Edge<'_>, to: &Reached) -> u64 {
        let toll = if edge.first_hop && edge.scid == self.scid { self.toll } else { 0 };
        to.cost + edge.fee_msat + toll
    }
}

/// Payer 0 pays payee 1 through its peers 2 (over 5 at a fee of 100 msat or over 6 at 90),
/// 3 (over 7 at 150) and 4 (no fee, but a toll on the payer's channel). The payer's channel
/// to 2 admits nothing below 100,095 msat, so only the dearer of 2's routes can start there,
/// and 2 ends with the cheaper: offered 2's first label, the search guesses that the payer
/// pays 100 and passes 3 over, yet the payer pays 150 over 3.
fn guessed_too_low() -> Fixture {
    let c = |scid, a, b, base| channel(scid, a, b, 1_000_000, policy(base, 0, 40));
    let channels = vec![
        c(1, 0, 2, 0),
        c(2, 0, 3, 0),
        c(3, 2, 5, 100),
        c(4, 2, 6, 90),
        c(5, 5, 1, 0),
        c(6, 6, 1, 0),
        c(7, 3, 7, 150),
        c(8, 7, 1, 0),
        c(9, 0, 4, 0),
        c(10, 4, 1, 0),
    ];
    let mut f = Fixture::new(8, channels, 0, 1, None);
    f.first_hops.iter_mut().filter(|h| h.scid == Scid(1)).for_each(|h| {
        h.htlc_minimum_msat = 100_095;
    });
    f
}

#[test]
fn a_search_that_guessed_the_payers_cost_too_low_runs_again_without_guessing() {
    let scids = |r: &Route| r.hops.iter().map(|h| h.scid.0).collect::<Vec<_>>();
    let toll = || Toll { scid: Scid(9), toll: 1_000 };
    let reference = |f: &Fixture| {
        super::super::reference::with_reference_search(|| {
            search(&f.view, &f.request(100_000), &mut toll()).as_ref().map(scids)
        })
    };
    // Over 4, the payer holds a label at the toll before the guess; it is settled there,
    // above what the guess passed over. Without 4, the guessed search finds nothing. Either
    // way the search runs again and pays 150 over 3, as the reference search does.
    let mut without_4 = guessed_too_low();
    without_4.excluded.insert((Scid(9), NodeId(0)));
    for f in [guessed_too_low(), without_4] {
        let route = search(&f.view, &f.request(100_000), &mut toll()).expect("a route");
        assert_eq!(scids(&route), [2, 7, 8]);
        assert_eq!(route.hops[0].amount_msat, 100_150);
        assert_eq!(reference(&f), Some(scids(&route)));
    }
    // Without 3's route, the payer pays the toll over 4: 2's cheaper route still cannot
    // start at the payer.
    let mut f = guessed_too_low();
    f.excluded.insert((Scid(7), NodeId(3)));
    let route = search(&f.view, &f.request(100_000), &mut toll());
    assert_eq!(route.as_ref().map(scids), Some(vec![9, 10]));
    assert_eq!(reference(&f), route.as_ref().map(scids));
}

/// A seeded xorshift draw of a number below its argument, for the seeded networks below.
fn below(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |n| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    }
}

/// A small seeded network where fees of 1 to 3 msat make many routes cost the same: the
/// lowest-fee search, steered by the fees from the payer ([`mark_forward`]), finds the
/// reference search's route (ties and all) for every pair, with and without the payer's view
/// of some channels disabled; a debug build checks that no priority falls along an edge.
#[test]
fn fees_from_the_payer_steer_the_lowest_fee_search_to_the_reference_routes() {
    let mut next = below(0x9e37_79b9_7f4a_7c15u64);
    let mut steered = 0;
    for _ in 0..40 {
        let nodes = 60;
        let mut channels = Vec::new();
        for scid in 1..=150 {
            let (a, b) = (next(nodes) as u32, next(nodes) as u32);
            if a != b {
                let p = policy(1 + next(3) as u32, 0, 40);
                let mut c = channel(scid, a, b, 1_000_000, p);
                if next(5) == 0 {
                    c.directions[next(2) as usize].as_mut().unwrap().disabled = true;
                }
                channels.push(c);
            }
        }
        for (source, target) in [(0, 1), (2, 3), (4, 5), (6, 7)] {
            let f = Fixture::new(nodes as u32, channels.clone(), source, target, None);
            let req = f.request(100_000);
            let route = search(&f.view, &req, &mut super::super::cheapest::Cheapest);
            let reference = super::super::reference::with_reference_search(|| {
                search(&f.view, &req, &mut super::super::cheapest::Cheapest)
            });
            assert_eq!(route, reference, "{source} -> {target}");
            let rest = SCRATCH.with(|s| s.borrow().heap.rest);
            steered += usize::from(route.is_some() && rest > 0 && rest < u64::from(u32::MAX));
        }
    }
    // Most searches are steered by a fee short of the whole network.
    assert!(steered > 80, "the fees from the payer steered {steered} of 160 searches");
}

/// A small seeded network of diverse fees (base 0 to 3 sat, 0 to 2,000 millionths) with
/// parallel channels: the lowest-fee search, reading each settled node's directions by fee
/// only as far as they can matter ([`resumed`]), gives the reference search's route for every
/// pair, at amounts where base and proportional fees each decide, and reads fewer directions
/// than the nodes it settles have.
#[test]
fn a_lowest_fee_search_reading_by_fee_lazily_finds_the_reference_routes() {
    let mut next = below(0x2545_f491_4f6c_dd1du64);
    let (mut read, mut settled_degrees, mut found) = (0, 0, 0);
    for _ in 0..30 {
        let nodes = 40;
        let mut channels = Vec::new();
        for scid in 1..=160 {
            let (a, b) = (next(nodes) as u32, next(nodes) as u32);
            if a != b {
                let p = policy(next(3_001) as u32, next(2_001) as u32, 40);
                let mut c = channel(scid, a, b, 1_000_000, p);
                let q = policy(next(3_001) as u32, next(2_001) as u32, 40);
                c.directions[next(2) as usize].as_mut().unwrap().policy = q;
                channels.push(c);
                // A parallel channel now and then, of the same fees one way.
                if next(6) == 0 {
                    channels.push(channel(1_000 + scid, a, b, 1_000_000, p));
                }
            }
        }
        for (source, target) in [(0, 1), (2, 3), (4, 5)] {
            let f = Fixture::new(nodes as u32, channels.clone(), source, target, None);
            // A route hint (a direction the view does not price) turns the fees from the payer
            // off: then priorities are the costs alone, and a direction read late elsewhere
            // would show (the payee, which the hint leads into, is read in full).
            let hop = |src| RouteHintHop {
                src: NodeId(src),
                short_channel_id: Scid(99_999),
                policy: policy(2_000, 1_000, 40),
            };
            let hints = [RouteHint { hops: vec![hop((target + 7) % nodes as u32)] }];
            for (amount_msat, hints) in [1_000, 5_000_000, 500_000_000]
                .into_iter()
                .flat_map(|amount_msat| [(amount_msat, &[][..]), (amount_msat, &hints[..])])
            {
                let req = RouteRequest { hints, ..f.request(amount_msat) };
                let cheapest = &mut super::super::cheapest::Cheapest;
                let reference = super::super::reference::with_reference_search(|| {
                    search(&f.view, &req, cheapest)
                });
                READ.with(|r| r.set(0));
                let route = search(&f.view, &req, cheapest);
                assert_eq!(route, reference, "{source} -> {target} at {amount_msat} msat");
                found += usize::from(route.is_some());
                read += READ.with(|r| r.get());
                SCRATCH.with(|s| {
                    let s = s.borrow();
                    assert!(s.heap.lazy, "the lowest-fee search reads by fee lazily");
                    let settled = s.marks.iter().enumerate().filter(|(_, m)| {
                        m.stamp == s.stamp && m.settled && m.hops < req.max_hops as u32
                    });
                    settled_degrees += settled
                        .map(|(n, _)| f.view.base().degree(NodeId(n as u32)) as u64)
                        .sum::<u64>();
                });
            }
        }
    }
    assert!(found > 360, "routes found for {found} of 540 requests");
    assert!(read < settled_degrees / 2, "{read} directions read of {settled_degrees}");
}

/// Seeded networks of diverse fees with a few hubs: the fees from the payer that
/// [`mark_forward`] marks, reading each node's directions by fee only as far as they can matter,
/// are a plain forward Dijkstra's for every node it settles, and never above it for the rest
/// (capped at what it returns); it reads fewer directions than the nodes it settles have.
#[test]
fn fees_from_the_payer_read_by_fee_are_a_plain_forward_searchs() {
    let mut next = below(0x5851_f42d_4c95_7f2du64);
    let (mut read, mut settled_degrees, mut exact) = (0, 0, 0);
    for round in 0..30 {
        let nodes = 50u64;
        let mut channels = Vec::new();
        for scid in 1..=200 {
            // Half the channels have one of three hubs at one end.
            let a = if next(2) == 0 { next(3) } else { next(nodes) } as u32;
            let b = next(nodes) as u32;
            if a != b {
                let p = policy(next(3_001) as u32, next(2_001) as u32, 40);
                let mut c = channel(scid, a, b, 1_000_000, p);
                let q = policy(next(3_001) as u32, next(2_001) as u32, 40);
                c.directions[next(2) as usize].as_mut().unwrap().policy = q;
                if next(8) == 0 {
                    c.directions[next(2) as usize].as_mut().unwrap().disabled = true;
                }
                channels.push(c);
            }
        }
        let source = 3 + round % 7;
        let f = Fixture::new(nodes as u32, channels, source, 1, None);
        let amount_msat = 2_000_000;
        let req = f.request(amount_msat);
        // The reference: every direction that could carry the amount, read in full.
        let mut fees = vec![u64::MAX; nodes as usize];
        let mut queue = BinaryHeap::new();
        fees[source as usize] = 0;
        for first in req.first_hops.iter().filter(|f| f.available_msat >= amount_msat) {
            fees[first.peer.index()] = 0;
            queue.push(Reverse((0, first.peer.0)));
        }
        while let Some(Reverse((fee, node))) = queue.pop() {
            if fee > fees[node as usize] {
                continue;
            }
            f.view.for_each_out_edge(NodeId(node), |to, edge| {
                let Some(p) = edge.policy.filter(|p| p.htlc_maximum_msat >= amount_msat) else {
                    return;
                };
                let next = fee + p.fee_msat(amount_msat);
                if next < fees[to.index()] {
                    fees[to.index()] = next;
                    queue.push(Reverse((next, to.0)));
                }
            });
        }
        let mut marks = vec![Mark::default(); nodes as usize];
        let mut forward = BinaryHeap::new();
        FORWARD_READ.with(|r| r.set(0));
        let rest = mark_forward(&f.view, &req, &mut marks, &mut forward, 1, amount_msat);
        read += FORWARD_READ.with(|r| r.get());
        for (node, mark) in marks.iter().enumerate() {
            let potential = match mark.flag_stamp == 1 {
                true => u64::from(mark.potential),
                false => u64::from(u32::MAX),
            };
            assert!(potential.min(rest) <= fees[node], "round {round}: node {node} marked above");
            if potential < rest {
                assert_eq!(potential, fees[node], "round {round}: node {node} settled off");
                exact += 1;
                if node != source as usize {
                    settled_degrees += f.view.base().degree(NodeId(node as u32)) as u64;
                }
            }
        }
    }
    assert!(exact > 300, "{exact} nodes settled in 30 rounds");
    assert!(read < settled_degrees / 2, "{read} directions read, {settled_degrees} out of those");
}

/// A route hint parallel to a public channel, at the same fee: plain Dijkstra reads the base
/// graph's directions into a node before route hints, so of two equal labels the public
/// channel's wins. Payer 0 reaches payee 1 only through 3 -> 2 -> 1; node 3 reaches 2 over the
/// public channel 3 and the hint's channel 900, both at 1,000 msat, and 2's cheaper peer 4 (a
/// dead end) sits at the head of the heap when 2 is settled: a node read by fee lazily would
/// have put channel 3 off and taken the hint's.
#[test]
fn of_a_public_channel_and_a_hint_at_one_fee_the_public_one_wins_as_in_plain_dijkstra() {
    let c = |scid, a, b, base| channel(scid, a, b, 1_000_000, policy(base, 0, 40));
    let channels =
        vec![c(1, 1, 2, 0), c(2, 2, 4, 0), c(3, 2, 3, 1_000), c(4, 0, 3, 0), c(5, 4, 5, 0)];
    let f = Fixture::new(6, channels, 0, 1, None);
    let hop = |src, scid, base| RouteHintHop {
        src: NodeId(src),
        short_channel_id: Scid(scid),
        policy: policy(base, 0, 40),
    };
    let hints = [RouteHint { hops: vec![hop(3, 900, 1_000), hop(2, 901, 0)] }];
    let req = RouteRequest { hints: &hints, ..f.request(100_000) };
    let cheapest = &mut super::super::cheapest::Cheapest;
    let route = search(&f.view, &req, cheapest).expect("a route");
    let reference =
        super::super::reference::with_reference_search(|| search(&f.view, &req, cheapest));
    assert_eq!(route.hops.iter().map(|h| h.scid.0).collect::<Vec<_>>(), [4, 3, 1]);
    assert_eq!(Some(route), reference);
}
