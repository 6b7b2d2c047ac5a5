//! An in-process network of nodes for tests and benchmarks, in the spirit of LDK's functional
//! tests (behind the `test-utils` feature). It delivers queued messages in a fixed order, mines
//! blocks from broadcast transactions, fires timers when asked, and keeps the events nodes emit
//! until a test takes them. Dropping it fails the test if a message is undelivered or an
//! event that says how something ended (a payment, an attempt, an invoice, a close, a refusal)
//! was never read; routine events (set-up, gossip, forwarding bookkeeping) may be dropped with
//! [`TestNet::discard_routine_events`]. A protocol violation fails the test at once.
//!
//! It is a test driver, not a simulator: no latency, no faults, one block a minute. The
//! simulator in `sim` drives nodes the same way, through the same inputs and actions.

use crate::chain::{Block, ConfirmedTx, OutPoint, Script, Tx, TxKind, TxOut};
use crate::graph::BaseGraph;
use crate::htlc::View;
use crate::invoice::Invoice;
use crate::msg::Message;
use crate::node::{Action, Command, CommandOutput, PlannedPayment, Speculation, Timer};
use crate::payment::PaymentId;
use crate::snapshot::ChannelSnapshot;
use crate::{Event, Node, NodeConfig, NodeId, PaymentHash, Scid, SimTime};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// Each node's on-chain funds at the start, sat.
pub const WALLET_SAT: u64 = 100_000_000;
/// The height of the first block, which pays the wallets.
pub const START_HEIGHT: u32 = 100;

/// Nodes wired to each other by queues.
pub struct TestNet {
    /// The nodes, by id.
    pub nodes: Vec<Node>,
    /// The current time.
    pub now: SimTime,
    /// The chain's height.
    pub height: u32,
    /// Messages delivered so far.
    pub delivered: usize,
    queue: VecDeque<(NodeId, NodeId, Message)>,
    events: Vec<(NodeId, Event)>,
    timers: Vec<(SimTime, NodeId, Timer)>,
    mempool: Vec<Tx>,
    utxos: BTreeMap<OutPoint, TxOut>,
}

impl TestNet {
    /// `n` nodes with the lnd preset (minimum depth 1, signing at once rather than on lnd's
    /// commitment ticker: `deliver_all` delivers messages, not timers), each with
    /// [`WALLET_SAT`] on chain.
    pub fn new(n: usize) -> TestNet {
        let mut config = NodeConfig::default();
        config.channel.minimum_depth = 1;
        config.commit_batch_ms = 0;
        TestNet::with_configs(vec![config; n])
    }

    /// One node per config, each with [`WALLET_SAT`] on chain.
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
            delivered: 0,
            queue: VecDeque::new(),
            events: Vec::new(),
            timers: Vec::new(),
            mempool: Vec::new(),
            utxos: BTreeMap::new(),
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

    fn deliver_one(&mut self) -> bool {
        let Some((from, to, msg)) = self.queue.pop_front() else { return false };
        self.delivered += 1;
        self.nodes[to.index()].handle_message(self.now, from, msg);
        self.collect(to);
        true
    }

    /// Delivers like [`TestNet::deliver_all`], but hands each message that may make `node`
    /// plan ([`Node::may_plan_on`]) to it with what a copy of it planned for that message
    /// ([`Node::speculate`]), passed through `edit` first (which may also act on the net, as
    /// another input to `node` would); returns how many were handed so.
    pub fn deliver_all_speculated(
        &mut self,
        node: u32,
        mut edit: impl FnMut(&mut TestNet, Speculation) -> Speculation,
    ) -> usize {
        let mut handed = 0;
        loop {
            for i in 0..self.nodes.len() {
                self.collect(NodeId(i as u32));
            }
            let Some((from, to, msg)) = self.queue.pop_front() else { return handed };
            self.delivered += 1;
            let speculation =
                match to == NodeId(node) && self.nodes[to.index()].may_plan_on(from, &msg) {
                    true => self.nodes[to.index()].speculate(self.now, from, &msg),
                    false => None,
                };
            let speculation = speculation.map(|s| edit(self, s));
            handed += usize::from(speculation.is_some());
            let _ =
                self.nodes[to.index()].handle_message_speculated(self.now, from, msg, speculation);
            self.collect(to);
        }
    }

    /// The messages queued for delivery, oldest first, as (from, to, message).
    pub fn queued(&self) -> impl Iterator<Item = &(NodeId, NodeId, Message)> {
        self.queue.iter()
    }

    /// Delivers queued messages, oldest first, until none is left.
    pub fn deliver_all(&mut self) {
        self.deliver(usize::MAX);
    }

    /// Delivers at most `n` queued messages, oldest first; returns how many it delivered.
    pub fn deliver(&mut self, n: usize) -> usize {
        for i in 0..self.nodes.len() {
            self.collect(NodeId(i as u32));
        }
        let mut done = 0;
        while done < n && self.deliver_one() {
            done += 1;
        }
        done
    }

    /// Drops the connection between `a` and `b`: messages in flight between them are lost and
    /// both see the disconnection (their reconnection timers are dropped: tests reconnect; the
    /// timers that disable channels with a peer away stay).
    pub fn disconnect(&mut self, a: u32, b: u32) {
        let (a, b) = (NodeId(a), NodeId(b));
        self.queue.retain(|(from, to, _)| !((*from == a && *to == b) || (*from == b && *to == a)));
        self.nodes[a.index()].peer_disconnected(self.now, b);
        self.collect(a);
        self.nodes[b.index()].peer_disconnected(self.now, a);
        self.collect(b);
        self.timers.retain(|(_, _, t)| !matches!(t, Timer::Reconnect { .. }));
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

    /// Sum of all unspent outputs on the harness chain and of the mempool's outputs, sat.
    pub fn chain_total_sat(&self) -> u64 {
        self.utxos.values().map(|o| o.amount_sat).sum::<u64>()
            + self.mempool.iter().map(|t| t.output_total_sat()).sum::<u64>()
    }

    /// Runs a command that must be accepted.
    pub fn command(&mut self, node: u32, command: Command) -> CommandOutput {
        let out = self.nodes[node as usize].command(self.now, command).expect("command accepted");
        self.collect(NodeId(node));
        out
    }

    /// Connects `a` to `b` and waits until both exchanged `init`.
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
            _ => unreachable!("filtered on ChannelReady"),
        }
    }

    /// An invoice of `payee` for `amount_msat`.
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

    /// Pays an invoice of `payee` from `payer` and delivers everything; the outcome events are
    /// left for the test to take.
    pub fn pay(&mut self, payer: u32, payee: u32, amount_msat: u64) -> PaymentId {
        let invoice = self.invoice(payee, amount_msat);
        let out = self.command(payer, Command::Pay { invoice, amount_msat: None, router: None });
        self.deliver_all();
        match out {
            CommandOutput::Payment(id) => id,
            other => panic!("expected a payment, got {other:?}"),
        }
    }

    /// Pays `invoice` from `payer`, offering the payment a plan made ahead
    /// ([`Node::command_planned`]), and delivers everything; the outcome events are left for
    /// the test to take.
    pub fn pay_planned(
        &mut self,
        payer: u32,
        invoice: Invoice,
        planned: Option<PlannedPayment>,
    ) -> PaymentId {
        let command = Command::Pay { invoice, amount_msat: None, router: None };
        let out = self.nodes[payer as usize]
            .command_planned(self.now, command, planned)
            .expect("payment accepted");
        self.collect(NodeId(payer));
        self.deliver_all();
        match out {
            CommandOutput::Payment(id) => id,
            other => panic!("expected a payment, got {other:?}"),
        }
    }

    /// Pays like [`TestNet::pay`] a payment that must succeed, and takes its outcome events.
    pub fn pay_ok(&mut self, payer: u32, payee: u32, amount_msat: u64) -> PaymentId {
        let id = self.pay(payer, payee, amount_msat);
        let done = self.take_events_where(|e| matches!(e, Event::PaymentSucceeded { .. }));
        assert!(
            matches!(done[..], [(node, Event::PaymentSucceeded { payment_id, .. })]
                if node == NodeId(payer) && payment_id == id),
            "the payment succeeds: {done:?}"
        );
        let paid = self.take_events_where(|e| matches!(e, Event::InvoicePaid { .. }));
        assert_eq!(paid.len(), 1, "the payee is paid: {paid:?}");
        self.discard_routine_events();
        id
    }

    /// The payment hash of `payer`'s payment `id`.
    pub fn payment_hash(&self, payer: u32, id: PaymentId) -> PaymentHash {
        self.nodes[payer as usize].payment(id).expect("a payment of this payer").payment_hash
    }

    /// Removes and returns the events that match.
    pub fn take_events_where(&mut self, pred: impl Fn(&Event) -> bool) -> Vec<(NodeId, Event)> {
        let (taken, kept) =
            std::mem::take(&mut self.events).into_iter().partition(|(_, e)| pred(e));
        self.events = kept;
        taken
    }

    /// Drops the routine events a test does not look at: connections, channel set-up and
    /// re-establishment, gossip, invoices issued, and the bookkeeping of attempts, forwards and
    /// held parts. Events that say how something ended stay for the test to take.
    pub fn discard_routine_events(&mut self) {
        self.events.retain(|(_, e)| !is_routine(e));
    }

    /// Node `node`'s channel `scid`.
    pub fn channel(&self, node: u32, scid: Scid) -> ChannelSnapshot {
        self.nodes[node as usize]
            .channel_snapshots()
            .find(|c| c.scid == Some(scid))
            .expect("the node has this channel")
    }

    /// Whether no channel of any node has an HTLC left.
    pub fn no_htlcs_left(&self) -> bool {
        self.nodes.iter().flat_map(|n| n.channel_snapshots()).all(|c| c.htlcs == 0)
    }

    /// Checks every channel of every node: each view sums to the channel's value, and the two
    /// peers agree on each other's commitment.
    pub fn check_channels(&self) {
        for node in &self.nodes {
            for c in node.channel_snapshots() {
                if let Some((view, total)) = c.unbalanced_view() {
                    panic!("{} channel {} view {view:?} sums to {total} msat", node.id(), c.id);
                }
                let peer = &self.nodes[c.peer.index()];
                if let Some(other) = peer.channel_snapshots().find(|o| o.id == c.id) {
                    let (mine, theirs) = (c.view(View::Local), other.view(View::Remote));
                    assert_eq!(
                        (mine.ours_msat, mine.theirs_msat),
                        (theirs.theirs_msat, theirs.ours_msat),
                        "{} and {} disagree on channel {}",
                        node.id(),
                        c.peer,
                        c.id
                    );
                }
            }
        }
    }
}

/// Whether `event` is routine (see [`TestNet::discard_routine_events`]).
pub fn is_routine(event: &Event) -> bool {
    matches!(
        event,
        Event::PeerConnected { .. }
            | Event::ChannelOpening { .. }
            | Event::FundingBroadcast { .. }
            | Event::ChannelReady { .. }
            | Event::ChannelAnnounced { .. }
            | Event::ChannelReestablished { .. }
            | Event::InvoiceCreated { .. }
            | Event::PaymentStarted { .. }
            | Event::PaymentAttempted { .. }
            | Event::PaymentPartSettled { .. }
            | Event::PartHeld { .. }
            | Event::HtlcForwarded { .. }
            | Event::ForwardSettled { .. }
            | Event::ForwardFailed { .. }
    )
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
