//! An in-process network of nodes for tests, in the spirit of LDK's functional tests: it delivers
//! queued messages in a fixed order, mines blocks from broadcast transactions, fires timers when
//! asked, and keeps the events nodes emit until a test takes them. Dropping it fails the test if
//! a message is undelivered, an event unread, or any node saw a protocol violation.

#![allow(dead_code)]

use node_core::chain::{Block, ConfirmedTx, OutPoint, Script, Tx, TxKind, TxOut};
use node_core::graph::BaseGraph;
use node_core::invoice::Invoice;
use node_core::node::{Action, Command, CommandOutput, Timer};
use node_core::payment::PaymentId;
use node_core::{Event, Node, NodeConfig, NodeId, Scid, SimTime};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

pub const WALLET_SAT: u64 = 100_000_000;
pub const START_HEIGHT: u32 = 100;

pub struct TestNet {
    pub nodes: Vec<Node>,
    pub now: SimTime,
    pub height: u32,
    queue: VecDeque<(NodeId, NodeId, node_core::msg::Message)>,
    events: Vec<(NodeId, Event)>,
    timers: Vec<(SimTime, NodeId, Timer)>,
    mempool: Vec<Tx>,
    utxos: BTreeMap<OutPoint, TxOut>,
    pub delivered: usize,
}

impl TestNet {
    /// `n` nodes with the lnd preset (minimum depth 1), each with `WALLET_SAT` on chain.
    pub fn new(n: usize) -> TestNet {
        let mut config = NodeConfig::default();
        config.channel.minimum_depth = 1;
        TestNet::with_configs(vec![config; n])
    }

    pub fn with_configs(configs: Vec<NodeConfig>) -> TestNet {
        let graph = Arc::new(BaseGraph::new(configs.len() as u32, vec![]));
        let nodes = configs
            .into_iter()
            .enumerate()
            .map(|(i, config)| Node::new(NodeId(i as u32), config, [i as u8; 32], graph.clone()))
            .collect::<Vec<_>>();
        let mut net = TestNet {
            nodes,
            now: SimTime::ZERO,
            height: START_HEIGHT - 1,
            queue: VecDeque::new(),
            events: Vec::new(),
            timers: Vec::new(),
            mempool: Vec::new(),
            utxos: BTreeMap::new(),
            delivered: 0,
        };
        let outputs = (0..net.nodes.len())
            .map(|i| TxOut {
                amount_sat: WALLET_SAT,
                script: Script::Wallet { owner: NodeId(i as u32) },
            })
            .collect();
        net.mempool.push(Tx::new(TxKind::Coinbase, vec![], outputs, 0));
        net.mine(1);
        net
    }

    fn collect(&mut self, node: NodeId) {
        for action in self.nodes[node.index()].take_actions() {
            match action {
                Action::Send { to, msg } => self.queue.push_back((node, to, msg)),
                Action::Connect { peer } => {
                    self.nodes[node.index()].peer_connected(self.now, peer);
                    self.nodes[peer.index()].peer_connected(self.now, node);
                    self.collect(peer);
                }
                Action::Broadcast { tx } => {
                    if !self.mempool.iter().any(|t| t.txid == tx.txid) {
                        self.mempool.push(tx);
                    }
                }
                Action::SetTimer { at, timer } => self.timers.push((at, node, timer)),
                Action::Emit(event) => {
                    if let Event::ProtocolViolation { .. } = event {
                        panic!("{node} saw a protocol violation: {event:?}");
                    }
                    self.events.push((node, event));
                }
            }
        }
    }

    /// Delivers queued messages, oldest first, until none is left.
    pub fn deliver_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.collect(NodeId(i as u32));
        }
        while let Some((from, to, msg)) = self.queue.pop_front() {
            self.delivered += 1;
            self.nodes[to.index()].handle_message(self.now, from, msg);
            self.collect(to);
        }
    }

    /// Delivers at most `n` queued messages, oldest first; returns how many it delivered.
    pub fn deliver(&mut self, n: usize) -> usize {
        for i in 0..self.nodes.len() {
            self.collect(NodeId(i as u32));
        }
        let mut done = 0;
        while done < n {
            let Some((from, to, msg)) = self.queue.pop_front() else { break };
            self.delivered += 1;
            self.nodes[to.index()].handle_message(self.now, from, msg);
            self.collect(to);
            done += 1;
        }
        done
    }

    /// Drops the connection between `a` and `b`: messages in flight between them are lost and
    /// both see the disconnection.
    pub fn disconnect(&mut self, a: u32, b: u32) {
        let (a, b) = (NodeId(a), NodeId(b));
        self.queue.retain(|(from, to, _)| !((*from == a && *to == b) || (*from == b && *to == a)));
        self.nodes[a.index()].peer_disconnected(self.now, b);
        self.collect(a);
        self.nodes[b.index()].peer_disconnected(self.now, a);
        self.collect(b);
        self.timers
            .retain(|(_, _, t)| !matches!(t, Timer::Reconnect { .. } | Timer::PeerOffline { .. }));
    }

    /// Reconnects `a` and `b` and delivers everything.
    pub fn reconnect(&mut self, a: u32, b: u32) {
        self.nodes[a as usize].peer_connected(self.now, NodeId(b));
        self.collect(NodeId(a));
        self.nodes[b as usize].peer_connected(self.now, NodeId(a));
        self.collect(NodeId(b));
        self.deliver_all();
    }

    /// Advances time by `secs`, firing due timers in (time, node) order, and delivers.
    pub fn advance(&mut self, secs: u64) {
        let end = self.now.plus_secs(secs);
        loop {
            self.timers.sort_by_key(|(at, node, _)| (*at, *node));
            match self.timers.first() {
                Some(&(at, node, timer)) if at <= end => {
                    self.timers.remove(0);
                    self.now = self.now.max(at);
                    self.nodes[node.index()].timer_fired(self.now, timer);
                    self.collect(node);
                    self.deliver_all();
                }
                _ => break,
            }
        }
        self.now = end;
        self.deliver_all();
    }

    /// Mines `n` blocks from the mempool (one minute apart) and tells each node what concerns it.
    pub fn mine(&mut self, n: u32) {
        for _ in 0..n {
            self.now = self.now.plus_secs(60);
            self.height += 1;
            let txs: Vec<Arc<Tx>> =
                std::mem::take(&mut self.mempool).into_iter().map(Arc::new).collect();
            let mut per_node: Vec<Vec<ConfirmedTx>> = vec![Vec::new(); self.nodes.len()];
            for (index, tx) in txs.iter().enumerate() {
                let mut concerned: Vec<NodeId> = Vec::new();
                for input in &tx.inputs {
                    let spent = self
                        .utxos
                        .remove(&input.prevout)
                        .expect("the harness chain only spends unspent outputs");
                    concerned.extend(spent.script.parties().into_iter().flatten());
                }
                for (vout, out) in tx.outputs.iter().enumerate() {
                    self.utxos.insert(tx.outpoint(vout as u32), *out);
                    concerned.extend(out.script.parties().into_iter().flatten());
                }
                concerned.sort();
                concerned.dedup();
                for node in concerned {
                    per_node[node.index()]
                        .push(ConfirmedTx { tx_index: index as u32, tx: tx.clone() });
                }
            }
            for (i, txs) in per_node.into_iter().enumerate() {
                let block = Block {
                    height: self.height,
                    time: self.now,
                    txs,
                    closed_channels: Arc::from([]),
                };
                self.nodes[i].block_connected(self.now, &block);
                self.collect(NodeId(i as u32));
            }
            self.deliver_all();
        }
    }

    /// Sum of all unspent outputs on the harness chain, sat.
    pub fn chain_total_sat(&self) -> u64 {
        self.utxos.values().map(|o| o.amount_sat).sum::<u64>()
            + self.mempool.iter().map(|t| t.output_total_sat()).sum::<u64>()
    }

    pub fn command(&mut self, node: u32, command: Command) -> CommandOutput {
        let out = self.nodes[node as usize].command(self.now, command).expect("command accepted");
        self.collect(NodeId(node));
        out
    }

    pub fn connect(&mut self, a: u32, b: u32) {
        self.command(a, Command::Connect { peer: NodeId(b) });
        self.deliver_all();
        self.take_events_where(|e| matches!(e, Event::PeerConnected { .. }));
    }

    /// Opens a channel from `a` to `b` and waits until it is usable; returns its scid.
    pub fn open_channel(
        &mut self,
        a: u32,
        b: u32,
        funding_sat: u64,
        push_msat: u64,
        announce: bool,
    ) -> Scid {
        if !self.nodes[a as usize].is_peer_ready(NodeId(b)) {
            self.connect(a, b);
        }
        self.command(
            a,
            Command::FundChannel { peer: NodeId(b), amount_sat: funding_sat, push_msat, announce },
        );
        self.deliver_all();
        self.mine(1);
        let ready = self.take_events_where(|e| matches!(e, Event::ChannelReady { .. }));
        assert_eq!(ready.len(), 2, "both sides see the channel ready: {ready:?}");
        self.take_events_where(|e| {
            matches!(e, Event::ChannelOpening { .. } | Event::FundingBroadcast { .. })
        });
        match ready[0].1 {
            Event::ChannelReady { scid, .. } => scid,
            _ => unreachable!(),
        }
    }

    pub fn invoice(&mut self, payee: u32, amount_msat: u64) -> Invoice {
        let out = self.command(
            payee,
            Command::CreateInvoice {
                amount_msat: Some(amount_msat),
                description: "test".into(),
                expiry_s: None,
            },
        );
        self.take_events_where(|e| matches!(e, Event::InvoiceCreated { .. }));
        match out {
            CommandOutput::Invoice(invoice) => invoice,
            other => panic!("expected an invoice, got {other:?}"),
        }
    }

    /// Pays an invoice of `payee` from `payer` and delivers everything.
    pub fn pay(&mut self, payer: u32, payee: u32, amount_msat: u64) -> PaymentId {
        let invoice = self.invoice(payee, amount_msat);
        let out = self.command(payer, Command::Pay { invoice, amount_msat: None, router: None });
        self.deliver_all();
        match out {
            CommandOutput::Payment(id) => id,
            other => panic!("expected a payment, got {other:?}"),
        }
    }

    /// Removes and returns the events that match.
    pub fn take_events_where(&mut self, pred: impl Fn(&Event) -> bool) -> Vec<(NodeId, Event)> {
        let (taken, kept) =
            std::mem::take(&mut self.events).into_iter().partition(|(_, e)| pred(e));
        self.events = kept;
        taken
    }

    /// Drops events a test does not look at (HTLC bookkeeping, gossip).
    pub fn discard_events(&mut self) {
        self.events.clear();
    }

    pub fn channel(&self, node: u32, scid: Scid) -> &node_core::channel::Channel {
        self.nodes[node as usize]
            .channels()
            .find(|c| c.scid() == Some(scid))
            .expect("the node has this channel")
    }

    /// Checks every channel of every node: each view sums to the channel's value, and the two
    /// peers agree on each other's commitment.
    pub fn check_channels(&self) {
        use node_core::htlc::View;
        for node in &self.nodes {
            for c in node.channels() {
                let capacity = c.funding_sat() * 1000;
                for view in View::ALL {
                    let b = c.balances(view);
                    let sum = b.ours_msat
                        + b.theirs_msat
                        + c.htlc_total_msat(view, true)
                        + c.htlc_total_msat(view, false);
                    assert_eq!(sum, capacity, "{} channel {} view {view:?}", node.id(), c.id());
                }
                let peer = &self.nodes[c.peer().index()];
                if let Some(other) = peer.channels().find(|o| o.id() == c.id()) {
                    let mine = c.balances(View::Local);
                    let theirs = other.balances(View::Remote);
                    assert_eq!(
                        (mine.ours_msat, mine.theirs_msat),
                        (theirs.theirs_msat, theirs.ours_msat)
                    );
                }
            }
        }
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        assert!(self.queue.is_empty(), "undelivered messages: {:?}", self.queue);
        assert!(self.events.is_empty(), "unread events: {:#?}", self.events);
    }
}
