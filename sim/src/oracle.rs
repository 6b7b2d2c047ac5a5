//! The feasibility oracle: at the moment a payment starts, the simulator, which knows every true
//! balance, says whether any router could have paid it. No real node has this knowledge; the
//! class goes into the results only (labelled `feasibility`), never to a router or a node.
//!
//! A payment of `amount_msat` from `s` to `t` is, in this order:
//! - `payer_cannot_send`: the payer's channels that can send now (normal, peer connected, both
//!   ends up) cannot send the amount between them;
//! - `payee_cannot_receive`: what the payee's peers can send it now does not cover the amount;
//! - `no_liquid_path`: the maximum flow from `s` to `t`, each channel direction carrying at most
//!   what its sender can send now, is below the amount;
//! - `feasible`: otherwise.
//!
//! What a channel direction can send is node-core's own figure for one more HTLC
//! ([`Node::sendable_channels`]): the balance above the peer's reserve, less the commitment fee
//! for the opener, within the in-flight cap and with a free HTLC slot. The flow leaves out fees,
//! CLTV limits, `htlc_minimum_msat`/`htlc_maximum_msat` and the payer's limit on parts, so
//! `feasible` is an upper bound: a router may still fail a feasible payment for those, but no
//! router can pay an infeasible one. The maximum flow is Dinic's algorithm, stopped as soon as
//! the amount is reached; its graph grows as the search meets nodes, and what each node's channels
//! can send is read again only from nodes whose channels or peers may have changed since the last payment
//! ([`Node::changes`]). Its cost is in `benches/README.md`.

use crate::nodes::Nodes;
use node_core::NodeId;

/// What the oracle says of a payment at its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Feasibility {
    /// The payer's channels cannot send the amount.
    PayerCannotSend,
    /// The payee's peers cannot send it the amount.
    PayeeCannotReceive,
    /// No flow over the true balances carries the amount.
    NoLiquidPath,
    /// Some flow over the true balances carries it.
    Feasible,
}

impl Feasibility {
    /// Every class, in order.
    pub const ALL: [Feasibility; 4] = [
        Feasibility::PayerCannotSend,
        Feasibility::PayeeCannotReceive,
        Feasibility::NoLiquidPath,
        Feasibility::Feasible,
    ];

    /// Its name in results.
    pub fn name(self) -> &'static str {
        match self {
            Feasibility::PayerCannotSend => "payer_cannot_send",
            Feasibility::PayeeCannotReceive => "payee_cannot_receive",
            Feasibility::NoLiquidPath => "no_liquid_path",
            Feasibility::Feasible => "feasible",
        }
    }
}

const NONE: u32 = u32::MAX;

/// The oracle's working memory, kept between payments so that a run allocates it once.
#[derive(Debug, Default)]
pub struct Oracle {
    /// Per node id: what each of its channels can send now, (peer, msat), read when the node
    /// had taken `read_at[node]` changing inputs ([`Node::changes`]); re-read when that changes.
    sendable: Vec<Vec<(NodeId, u64)>>,
    read_at: Vec<u64>,
    /// Per node id: its index in this query's graph, valid when `seen[node] == query`.
    local: Vec<u32>,
    seen: Vec<u32>,
    query: u32,
    /// Per local node: its id, first edge, whether its edges are in, BFS level, current edge.
    ids: Vec<NodeId>,
    head: Vec<u32>,
    expanded: Vec<bool>,
    level: Vec<u32>,
    current: Vec<u32>,
    /// Edges in pairs (`e`, `e ^ 1` its reverse): head node, residual capacity, next edge.
    to: Vec<u32>,
    capacity: Vec<u64>,
    next: Vec<u32>,
    queue: Vec<u32>,
    path: Vec<u32>,
}

impl Oracle {
    /// Classifies a payment of `amount_msat` from `from` to `to` on the nodes as they are now;
    /// `online` says whether a node is up.
    pub fn classify(
        &mut self,
        nodes: &Nodes,
        online: &dyn Fn(NodeId) -> bool,
        from: NodeId,
        to: NodeId,
        amount_msat: u64,
    ) -> Feasibility {
        if self.sendable.len() != nodes.len() {
            self.sendable = vec![Vec::new(); nodes.len()];
            self.read_at = vec![u64::MAX; nodes.len()];
            self.seen = vec![0; nodes.len()];
            self.local = vec![0; nodes.len()];
            self.query = 0;
        }
        let payer_msat = if online(from) {
            self.read(nodes, from)
                .iter()
                .filter(|(peer, _)| online(*peer))
                .fold(0u64, |sum, (_, msat)| sum.saturating_add(*msat))
        } else {
            0
        };
        if payer_msat < amount_msat {
            return Feasibility::PayerCannotSend;
        }
        if from != to && online(to) && self.max_flow_reaches(nodes, online, from, to, amount_msat) {
            return Feasibility::Feasible;
        }
        // What the payee's peers can send it: every peer up with a channel to it.
        let peers: std::collections::BTreeSet<NodeId> =
            nodes.get(to).channel_snapshots().map(|c| c.peer).collect();
        let mut payee_msat = 0u64;
        if online(to) {
            for peer in peers.into_iter().filter(|&p| online(p)) {
                for &(_, msat) in self.read(nodes, peer).iter().filter(|(p, _)| *p == to) {
                    payee_msat = payee_msat.saturating_add(msat);
                }
            }
        }
        if payee_msat < amount_msat {
            Feasibility::PayeeCannotReceive
        } else {
            Feasibility::NoLiquidPath
        }
    }

    /// What `node`'s channels can send now, read again only if they may have changed since.
    fn read(&mut self, nodes: &Nodes, node: NodeId) -> &[(NodeId, u64)] {
        let i = node.index();
        let node = nodes.get(node);
        if self.read_at[i] != node.changes() {
            self.read_at[i] = node.changes();
            self.sendable[i].clear();
            let list = node.sendable_channels().map(|f| (f.peer, f.available_msat));
            self.sendable[i].extend(list);
        }
        &self.sendable[i]
    }

    /// Whether a flow of `amount_msat` from `s` to `t` fits the channels' sendable amounts.
    fn max_flow_reaches(
        &mut self,
        nodes: &Nodes,
        online: &dyn Fn(NodeId) -> bool,
        s: NodeId,
        t: NodeId,
        amount_msat: u64,
    ) -> bool {
        self.query = self.query.wrapping_add(1);
        if self.query == 0 {
            self.seen.fill(0);
            self.query = 1;
        }
        self.ids.clear();
        self.head.clear();
        self.expanded.clear();
        self.to.clear();
        self.capacity.clear();
        self.next.clear();
        self.add_node(s);
        let sink = self.add_node(t);
        let mut flow = 0u64;
        while self.levels(nodes, online, sink) {
            self.current.clone_from(&self.head);
            loop {
                let pushed = self.augment(sink, amount_msat - flow);
                if pushed == 0 {
                    break;
                }
                flow += pushed;
                if flow >= amount_msat {
                    return true;
                }
            }
        }
        false
    }

    fn local_of(&self, node: NodeId) -> Option<u32> {
        (self.seen[node.index()] == self.query).then(|| self.local[node.index()])
    }

    /// Adds the channel directions out of local node `u` that can send now to a peer that is up
    /// (the peers join the graph as they are met).
    fn expand(&mut self, nodes: &Nodes, online: &dyn Fn(NodeId) -> bool, u: u32) {
        self.expanded[u as usize] = true;
        let node = self.ids[u as usize];
        self.read(nodes, node);
        for k in 0..self.sendable[node.index()].len() {
            let (peer, msat) = self.sendable[node.index()][k];
            if !online(peer) {
                continue;
            }
            let v = match self.local_of(peer) {
                Some(v) => v,
                None => self.add_node(peer),
            };
            self.add_edge(u, v, msat);
        }
    }

    fn add_node(&mut self, node: NodeId) -> u32 {
        let local = self.ids.len() as u32;
        self.seen[node.index()] = self.query;
        self.local[node.index()] = local;
        self.ids.push(node);
        self.head.push(NONE);
        self.expanded.push(false);
        local
    }

    fn add_edge(&mut self, u: u32, v: u32, capacity_msat: u64) {
        for (from, to, capacity) in [(u, v, capacity_msat), (v, u, 0)] {
            self.to.push(to);
            self.capacity.push(capacity);
            self.next.push(self.head[from as usize]);
            self.head[from as usize] = (self.to.len() - 1) as u32;
        }
    }

    /// BFS levels from the source (local 0) over edges with residual capacity, up to the
    /// sink's level, adding each node's channels when it is first dequeued; whether the sink is
    /// reached.
    fn levels(&mut self, nodes: &Nodes, online: &dyn Fn(NodeId) -> bool, sink: u32) -> bool {
        self.level.clear();
        self.level.resize(self.ids.len(), NONE);
        self.level[0] = 0;
        self.queue.clear();
        self.queue.push(0);
        let mut i = 0;
        while i < self.queue.len() {
            let u = self.queue[i];
            i += 1;
            let sink_level = self.level[sink as usize];
            if sink_level != NONE && self.level[u as usize] >= sink_level {
                break;
            }
            if !self.expanded[u as usize] {
                self.expand(nodes, online, u);
                self.level.resize(self.ids.len(), NONE);
            }
            let mut e = self.head[u as usize];
            while e != NONE {
                let v = self.to[e as usize];
                if self.capacity[e as usize] > 0 && self.level[v as usize] == NONE {
                    self.level[v as usize] = self.level[u as usize] + 1;
                    self.queue.push(v);
                }
                e = self.next[e as usize];
            }
        }
        self.level[sink as usize] != NONE
    }

    /// Pushes one augmenting path of the level graph, at most `limit`; returns what it pushed
    /// (0: the level graph is blocked).
    fn augment(&mut self, sink: u32, limit: u64) -> u64 {
        self.path.clear();
        let mut u = 0u32;
        loop {
            if u == sink {
                let pushed = self
                    .path
                    .iter()
                    .map(|&e| self.capacity[e as usize])
                    .min()
                    .unwrap_or(0)
                    .min(limit);
                for &e in &self.path {
                    self.capacity[e as usize] -= pushed;
                    self.capacity[(e ^ 1) as usize] += pushed;
                }
                return pushed;
            }
            let mut advanced = false;
            while self.current[u as usize] != NONE {
                let e = self.current[u as usize];
                let v = self.to[e as usize];
                if self.capacity[e as usize] > 0
                    && self.level[v as usize] == self.level[u as usize].wrapping_add(1)
                {
                    self.path.push(e);
                    u = v;
                    advanced = true;
                    break;
                }
                self.current[u as usize] = self.next[e as usize];
            }
            if !advanced {
                if u == 0 {
                    return 0;
                }
                // A dead end: no path to the sink goes through `u` in this level graph.
                self.level[u as usize] = NONE;
                let e = self.path.pop().expect("invariant: a node other than the source");
                u = self.to[(e ^ 1) as usize];
                self.current[u as usize] = self.next[e as usize];
            }
        }
    }
}
