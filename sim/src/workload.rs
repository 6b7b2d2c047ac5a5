//! Payment workloads: payments arriving as a Poisson process between two times, each from a
//! sender to a distinct receiver for an amount drawn from a distribution. Senders and receivers
//! are drawn from the nodes that have a channel enabled in some direction at the start:
//! uniformly, weighted by their channels' capacity, from a named set (merchants, or the largest
//! nodes), or among those that can send or receive an amount at the start; receivers may also be
//! shops, whose items customers buy. Everything is drawn
//! from the stream `workload`. This module draws; the world makes the receiver invoice and the
//! sender pay. Payment lists read from CSV are [`PaymentList`].

use crate::rng::Stream;
use node_core::chain::MAX_MONEY_MSAT;
use node_core::router::RouterConfig;
use node_core::{NodeId, SimTime};
use serde::Deserialize;

/// How payment amounts are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum AmountSpec {
    /// Always the same.
    Fixed {
        /// Amount, msat.
        amount_msat: u64,
    },
    /// Uniform between two bounds.
    Uniform {
        /// Smallest, msat.
        min_msat: u64,
        /// Largest, msat.
        max_msat: u64,
    },
    /// Log-normal with a median and a shape.
    LogNormal {
        /// Median, msat.
        median_msat: u64,
        /// Standard deviation of the log.
        sigma: f64,
    },
    /// Normal, folded at zero: |mean + sigma × N(0, 1)|, rounded (at least 1 msat). CLoTH draws
    /// its amounts so (`src/payments.c`, `generate_random_payments`: `fabs(average_amount +
    /// gsl_ran_ugaussian(...)) * 1000`, i.e. mean `average_amount` sat and sigma 1 sat).
    Normal {
        /// Mean, msat.
        mean_msat: u64,
        /// Standard deviation, msat.
        sigma_msat: u64,
    },
}

/// A payment workload.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// First possible arrival, seconds.
    #[serde(default)]
    pub start_s: u64,
    /// No arrival after this, seconds.
    pub end_s: u64,
    /// Mean arrivals per second.
    pub rate_per_s: f64,
    /// At most this many payments.
    #[serde(default)]
    pub max_payments: Option<u64>,
    /// Amounts.
    pub amount: AmountSpec,
    /// Routers taking turns: payment i (from 0) is planned by `routers[i % len]`, so each
    /// router gets the same mix of payers, payees and amounts and meets the same network at the
    /// same time. Empty: each payer's own router.
    #[serde(default)]
    pub routers: Vec<RouterConfig>,
    /// Who pays.
    #[serde(default)]
    pub senders: Endpoints,
    /// Who is paid.
    #[serde(default)]
    pub receivers: Endpoints,
}

/// How a workload picks senders or receivers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Endpoints {
    /// Uniformly among the nodes with a usable channel.
    #[default]
    Uniform,
    /// Weighted by the total capacity of each node's channels.
    CapacityWeighted,
    /// Uniformly among these nodes (merchants, say).
    Nodes(Vec<String>),
    /// Uniformly among the `n` nodes with the most capacity (ties: the lower id).
    Largest(u32),
    /// Uniformly among the nodes with a usable channel that can send `amount_sat` on the
    /// starting network: what their channels can send, summed, covers it.
    CanSend {
        /// The amount, sat.
        amount_sat: u64,
    },
    /// Uniformly among the nodes with a usable channel that can receive `amount_sat` on the
    /// starting network: what their peers can send them, summed, covers it.
    CanReceive {
        /// The amount, sat.
        amount_sat: u64,
    },
    /// Receivers only: a uniformly drawn item of a uniformly drawn shop, bought by the sender as
    /// a customer (the amount is the item's price).
    Shops,
}

/// Nodes to draw from, uniformly or by weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picker {
    nodes: Vec<NodeId>,
    /// Cumulative weights, when not uniform.
    cumulative: Option<Vec<u64>>,
}

impl Picker {
    /// Uniform over `nodes`.
    pub fn uniform(nodes: Vec<NodeId>) -> Picker {
        Picker { nodes, cumulative: None }
    }

    /// Weighted: `weights[i]` for `nodes[i]` (nodes of zero weight are never drawn).
    pub fn weighted(nodes: Vec<NodeId>, weights: &[u64]) -> Picker {
        let mut total = 0u64;
        let cumulative = weights
            .iter()
            .map(|w| {
                total = total.saturating_add(*w);
                total
            })
            .collect();
        Picker { nodes, cumulative: Some(cumulative) }
    }

    /// How many nodes it can draw.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    fn pick(&self, stream: &mut Stream) -> NodeId {
        match &self.cumulative {
            None => self.nodes[stream.below(self.nodes.len() as u64) as usize],
            Some(cumulative) => {
                let total = *cumulative.last().expect("invariant: a picker has nodes");
                let at = stream.below(total.max(1));
                let i = cumulative.partition_point(|&c| c <= at);
                self.nodes[i.min(self.nodes.len() - 1)]
            }
        }
    }
}

/// One drawn arrival.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// `from` pays `to` `amount_msat` (with `router`, or its own).
    Pay {
        /// The payer.
        from: NodeId,
        /// The payee.
        to: NodeId,
        /// Amount, msat.
        amount_msat: u64,
        /// The router whose turn it is.
        router: Option<RouterConfig>,
    },
    /// `customer` buys item `item` of shop `shop` (indexes into the scenario's shops).
    Buy {
        /// The buyer.
        customer: NodeId,
        /// The shop's index.
        shop: usize,
        /// The item's index.
        item: usize,
    },
}

/// A workload being drawn.
#[derive(Clone, Debug)]
pub struct Workload {
    spec: WorkloadSpec,
    stream: Stream,
    senders: Picker,
    receivers: Picker,
    /// Items per shop, when receivers are shops.
    shop_items: Vec<usize>,
    /// Each shop's node.
    shop_nodes: Vec<NodeId>,
    /// Senders and receivers are one uniform set (compared once: a draw would compare every
    /// node of both).
    one_uniform_set: bool,
    drawn: u64,
}

impl Workload {
    /// A workload drawing senders and receivers from the pickers (receivers unused, and
    /// `shops` giving each shop's node and item count, when receivers are shops), from `stream`.
    pub fn new(
        spec: WorkloadSpec,
        stream: Stream,
        senders: Picker,
        receivers: Picker,
        shops: Vec<(NodeId, usize)>,
    ) -> Workload {
        let (shop_nodes, shop_items) = shops.into_iter().unzip();
        let one_uniform_set = senders.cumulative.is_none() && senders == receivers;
        Workload {
            spec,
            stream,
            senders,
            receivers,
            shop_items,
            shop_nodes,
            one_uniform_set,
            drawn: 0,
        }
    }

    /// Whether no distinct payee turned up for `arrival`: the payer drew itself (or a shop's
    /// own node drew its shop) in every one of 64 draws.
    pub fn payer_is_payee(&self, arrival: &Arrival) -> bool {
        match *arrival {
            Arrival::Pay { from, to, .. } => from == to,
            Arrival::Buy { customer, shop, .. } => self.shop_nodes.get(shop) == Some(&customer),
        }
    }

    /// Whether any payment can be drawn at all.
    fn possible(&self) -> bool {
        if self.spec.receivers == Endpoints::Shops {
            return !self.senders.is_empty() && self.shop_items.iter().any(|&n| n > 0);
        }
        !self.senders.is_empty()
            && !self.receivers.is_empty()
            && (self.senders.len() > 1
                || self.receivers.len() > 1
                || self.senders != self.receivers)
    }

    /// The time of the arrival after one at `after` (the first: after the start), if any.
    pub fn next_arrival(&mut self, after: SimTime) -> Option<SimTime> {
        if !self.possible() || self.spec.rate_per_s <= 0.0 {
            return None;
        }
        if self.spec.max_payments.is_some_and(|max| self.drawn >= max) {
            return None;
        }
        let mean_us = (1_000_000.0 / self.spec.rate_per_s).max(1.0) as u64;
        let from = after.max(SimTime::from_secs(self.spec.start_s));
        let at = from.plus_micros(self.stream.exponential(mean_us).max(1));
        (at < SimTime::from_secs(self.spec.end_s)).then_some(at)
    }

    /// The next arrival: a payment from a sender to a distinct receiver for a drawn amount
    /// with the router whose turn it is (none: the sender's own), or a purchase at a shop.
    /// When no distinct receiver turned up in 64 draws, the last draw is returned with the
    /// payer as its payee (or a shop's own node as its customer): the world records it as not
    /// paid ([`Workload::payer_is_payee`]).
    pub fn draw(&mut self) -> Arrival {
        let router = match self.spec.routers.len() {
            0 => None,
            n => Some(self.spec.routers[(self.drawn % n as u64) as usize]),
        };
        self.drawn += 1;
        if self.spec.receivers == Endpoints::Shops {
            let open: Vec<usize> =
                (0..self.shop_items.len()).filter(|&i| self.shop_items[i] > 0).collect();
            // A shop's own node does not buy from it: such a draw is made again (64 times).
            let mut draw = || {
                let customer = self.senders.pick(&mut self.stream);
                let shop = open[self.stream.below(open.len() as u64) as usize];
                let item = self.stream.below(self.shop_items[shop] as u64) as usize;
                let own = self.shop_nodes.get(shop) == Some(&customer);
                (Arrival::Buy { customer, shop, item }, own)
            };
            let mut arrival = draw();
            for _ in 1..64 {
                if !arrival.1 {
                    break;
                }
                arrival = draw();
            }
            return arrival.0;
        }
        let (from, to) = if self.one_uniform_set {
            // Uniform over one set: the receiver is drawn among the others in one go.
            let n = self.senders.len() as u64;
            let sender = self.stream.below(n);
            let receiver = (sender + 1 + self.stream.below(n - 1)) % n;
            (self.senders.nodes[sender as usize], self.senders.nodes[receiver as usize])
        } else {
            // Both ends are drawn again until they differ (64 times), so that a receiver that is
            // also a likely sender is still paid by the others.
            let mut pair =
                (self.senders.pick(&mut self.stream), self.receivers.pick(&mut self.stream));
            for _ in 1..64 {
                if pair.0 != pair.1 {
                    break;
                }
                pair = (self.senders.pick(&mut self.stream), self.receivers.pick(&mut self.stream));
            }
            pair
        };
        let amount_msat = match self.spec.amount {
            AmountSpec::Fixed { amount_msat } => amount_msat,
            AmountSpec::Uniform { min_msat, max_msat } => {
                self.stream.range_inclusive(min_msat, max_msat)
            }
            // A draw beyond all bitcoin is all bitcoin (a payment no node can make).
            AmountSpec::LogNormal { median_msat, sigma } => {
                self.stream.log_normal(median_msat, sigma).clamp(1, MAX_MONEY_MSAT)
            }
            AmountSpec::Normal { mean_msat, sigma_msat } => {
                let draw = mean_msat as f64 + sigma_msat as f64 * self.stream.standard_normal();
                (libm::round(libm::fabs(draw)) as u64).clamp(1, MAX_MONEY_MSAT)
            }
        };
        Arrival::Pay { from, to, amount_msat, router }
    }
}

/// A list of payments read from a CSV file, sorted by time (file order among equal times).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PaymentList {
    /// (time, payer, payee, amount msat).
    pub payments: Vec<(SimTime, NodeId, NodeId, u64)>,
}

/// Where a payment list is read from.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentListSpec {
    /// The CSV file, relative to the scenario file. Two layouts, told by the header:
    /// `time_ms,sender,receiver,amount_msat` with node names, or CLoTH's
    /// `id,sender_id,receiver_id,amount,start_time` (amount msat, start time ms, nodes by
    /// index in the scenario).
    pub file: String,
    /// Routers taking turns, as for a workload.
    #[serde(default)]
    pub routers: Vec<RouterConfig>,
}

/// Reads a payment list; `node` resolves a name (our layout) or an index (CLoTH's) to a node.
/// A byte-order mark at the start is skipped. Errors are (line, column, message).
pub fn parse_payment_list(
    text: &str,
    node: impl Fn(&str, bool) -> Option<NodeId>,
) -> Result<PaymentList, (usize, usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split('\n').enumerate().map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let header: Vec<String> = lines
        .next()
        .map(|(_, l)| {
            l.split(',').map(|c| c.split('(').next().unwrap_or(c).trim().to_string()).collect()
        })
        .unwrap_or_default();
    let find = |name: &str| header.iter().position(|c| c == name);
    let (columns, by_index) =
        match (find("time_ms"), find("sender"), find("receiver"), find("amount_msat")) {
            (Some(t), Some(s), Some(r), Some(a)) => ([t, s, r, a], false),
            _ => match (find("start_time"), find("sender_id"), find("receiver_id"), find("amount"))
            {
                (Some(t), Some(s), Some(r), Some(a)) => ([t, s, r, a], true),
                _ => {
                    return Err((
                        1,
                        1,
                        "the header needs time_ms,sender,receiver,amount_msat or CLoTH's \
                     id,sender_id,receiver_id,amount,start_time"
                            .into(),
                    ));
                }
            },
        };
    let mut list = PaymentList::default();
    for (line, text) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        let mut fields = Vec::new();
        let mut col = 1;
        for f in text.split(',') {
            fields.push((col, f.trim()));
            col += f.len() + 1;
        }
        if fields.len() != header.len() {
            return Err((
                line,
                1,
                format!("{} fields where the header has {}", fields.len(), header.len()),
            ));
        }
        let number = |i: usize, what: &str| -> Result<u64, (usize, usize, String)> {
            let (col, f) = fields[columns[i]];
            f.parse().map_err(|_| (line, col, format!("{what} {f:?} is not a whole number")))
        };
        let time_ms = number(0, "time")?;
        let amount_msat = number(3, "amount")?;
        if amount_msat == 0 || amount_msat > MAX_MONEY_MSAT {
            let message = format!("amount {amount_msat} msat: not 0, nor more than all bitcoin");
            return Err((line, fields[columns[3]].0, message));
        }
        let mut ends = [NodeId(0); 2];
        for (slot, i) in [1, 2].into_iter().enumerate() {
            let (col, f) = fields[columns[i]];
            ends[slot] =
                node(f, by_index).ok_or_else(|| (line, col, format!("unknown node {f:?}")))?;
        }
        if ends[0] == ends[1] {
            return Err((line, 1, "a node paying itself".into()));
        }
        let at = SimTime::from_millis(time_ms.min(MAX_LIST_TIME_MS));
        list.payments.push((at, ends[0], ends[1], amount_msat));
    }
    list.payments.sort_by_key(|p| p.0);
    Ok(list)
}

/// Times past this (ten years) are clamped; the scenario's end stops the run anyway.
const MAX_LIST_TIME_MS: u64 = 10 * 365 * 24 * 3_600_000;

#[cfg(test)]
mod tests {
    use super::*;

    // Issue 12: a payment list starting with a byte-order mark had no header ("the header needs
    // time_ms,sender,receiver,amount_msat").
    #[test]
    fn regression_a_payment_list_may_start_with_a_byte_order_mark() {
        let text = "\u{feff}time_ms,sender,receiver,amount_msat\n5,a,b,100\n";
        let node =
            |name: &str, _| ["a", "b"].iter().position(|n| *n == name).map(|i| NodeId(i as u32));
        let list = parse_payment_list(text, node).unwrap();
        assert_eq!(list.payments, [(SimTime::from_millis(5), NodeId(0), NodeId(1), 100)]);
    }

    fn workload(rate_per_s: f64, max: Option<u64>) -> Workload {
        let spec = WorkloadSpec {
            start_s: 10,
            end_s: 1_010,
            rate_per_s,
            max_payments: max,
            amount: AmountSpec::Uniform { min_msat: 5, max_msat: 9 },
            routers: vec![RouterConfig::Cheapest, RouterConfig::ShortestHops],
            senders: Endpoints::Uniform,
            receivers: Endpoints::Uniform,
        };
        let all = Picker::uniform((0..4).map(NodeId).collect());
        Workload::new(spec, Stream::new(1, "workload"), all.clone(), all, vec![])
    }

    #[test]
    fn arrivals_follow_the_rate_within_the_window() {
        let mut w = workload(2.0, None);
        let mut at = SimTime::ZERO;
        let mut n = 0;
        while let Some(next) = w.next_arrival(at) {
            assert!(next > SimTime::from_secs(10) && next < SimTime::from_secs(1_010));
            let Arrival::Pay { from: s, to: r, amount_msat: amount, router } = w.draw() else {
                panic!("a payment")
            };
            let turn = if n % 2 == 0 { RouterConfig::Cheapest } else { RouterConfig::ShortestHops };
            assert_eq!(router, Some(turn), "routers take turns");
            assert_ne!(s, r);
            assert!((5..=9).contains(&amount));
            at = next;
            n += 1;
        }
        assert!((1_850..2_150).contains(&n), "{n}");
    }

    #[test]
    fn normal_amounts_fold_at_zero_and_centre_on_the_mean() {
        let mut w = workload(1.0, None);
        w.spec.amount = AmountSpec::Normal { mean_msat: 100_000, sigma_msat: 1_000 };
        let amounts: Vec<u64> = (0..4_000)
            .map(|_| match w.draw() {
                Arrival::Pay { amount_msat, .. } => amount_msat,
                other => panic!("{other:?}"),
            })
            .collect();
        let mean = amounts.iter().sum::<u64>() as f64 / amounts.len() as f64;
        assert!((mean - 100_000.0).abs() < 60.0, "{mean}");
        assert!(amounts.iter().all(|&a| (95_000..=105_000).contains(&a)), "within 5 sigma");
        w.spec.amount = AmountSpec::Normal { mean_msat: 1, sigma_msat: 1_000 };
        assert!(
            (0..1_000)
                .all(|_| matches!(w.draw(), Arrival::Pay { amount_msat, .. } if amount_msat >= 1))
        );
    }

    #[test]
    fn max_payments_caps_the_workload() {
        let mut w = workload(100.0, Some(3));
        let mut at = SimTime::ZERO;
        let mut n = 0;
        while let Some(next) = w.next_arrival(at) {
            w.draw();
            at = next;
            n += 1;
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn weighted_pickers_follow_the_weights() {
        let picker = Picker::weighted(vec![NodeId(0), NodeId(1), NodeId(2)], &[1, 0, 3]);
        let mut stream = Stream::new(2, "workload");
        let mut count = [0u32; 3];
        for _ in 0..8_000 {
            count[picker.pick(&mut stream).index()] += 1;
        }
        assert_eq!(count[1], 0, "zero weight is never drawn");
        assert!((1_800..2_200).contains(&count[0]), "{count:?}");
        assert!((5_800..6_200).contains(&count[2]), "{count:?}");
    }

    #[test]
    fn merchants_receive_and_shops_sell() {
        let mut spec = workload(1.0, None).spec;
        spec.receivers = Endpoints::Nodes(vec!["m".into()]);
        let everyone = Picker::uniform((0..4).map(NodeId).collect());
        let merchant = Picker::uniform(vec![NodeId(3)]);
        let mut w = Workload::new(
            spec.clone(),
            Stream::new(3, "workload"),
            everyone.clone(),
            merchant,
            vec![],
        );
        for _ in 0..50 {
            match w.draw() {
                Arrival::Pay { from, to, .. } => assert!(to == NodeId(3) && from != to),
                other => panic!("{other:?}"),
            }
        }
        spec.receivers = Endpoints::Shops;
        let shops = vec![(NodeId(0), 0), (NodeId(2), 2)];
        let mut w =
            Workload::new(spec, Stream::new(3, "workload"), everyone.clone(), everyone, shops);
        for _ in 0..20 {
            let Arrival::Buy { customer, shop, item } = w.draw() else { panic!("a purchase") };
            assert!(shop == 1 && item < 2, "only shop 1 has items");
            assert_ne!(customer, NodeId(2), "a shop's node does not buy from it");
        }
    }

    #[test]
    fn payment_lists_read_both_layouts() {
        let names = ["alice", "bob", "carol"];
        let node = |f: &str, by_index: bool| {
            if by_index {
                f.parse::<u32>().ok().filter(|&i| i < 3).map(NodeId)
            } else {
                names.iter().position(|n| *n == f).map(|i| NodeId(i as u32))
            }
        };
        let ours = "time_ms,sender,receiver,amount_msat\n2000,bob,carol,5000\n1000,alice,bob,7\n";
        let list = parse_payment_list(ours, node).unwrap();
        assert_eq!(
            list.payments,
            [
                (SimTime::from_millis(1000), NodeId(0), NodeId(1), 7),
                (SimTime::from_millis(2000), NodeId(1), NodeId(2), 5000)
            ]
        );
        let cloth =
            "id,sender_id,receiver_id,amount,start_time\r\n0,2,0,1000000,0\r\n1,0,1,20,15\r\n";
        let list = parse_payment_list(cloth, node).unwrap();
        assert_eq!(list.payments[1], (SimTime::from_millis(15), NodeId(0), NodeId(1), 20));
        let template = "id,sender_id,receiver_id,amount(millisat),start_time\n0,1,2,5,3\n";
        assert_eq!(parse_payment_list(template, node).unwrap().payments.len(), 1);
        let bad = "time_ms,sender,receiver,amount_msat\n1000,alice,dave,7\n";
        assert_eq!(
            parse_payment_list(bad, node).unwrap_err(),
            (2, 12, "unknown node \"dave\"".into())
        );
        let bad = "time_ms,sender,receiver,amount_msat\n1000,alice,bob,x\n";
        assert_eq!(parse_payment_list(bad, node).unwrap_err().0, 2);
        assert_eq!(parse_payment_list("a,b\n", node).unwrap_err().0, 1);
    }
}
