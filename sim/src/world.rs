//! The world a run happens in: the nodes, the mocked chain, the links, the shops and the script,
//! driven by one event queue. It builds the start state from a scenario (wallet funds and
//! existing channels in a genesis block), then pops events in (time, sequence) order, hands each
//! to the node or component it concerns, and turns what nodes ask for (send, connect, broadcast,
//! set a timer, report) into new events, trace lines and result records. It owns no protocol
//! logic; node-core does.

use crate::chain::{MinedBlock, MockChain, TxRejection};
use crate::engine::EventQueue;
use crate::faults::schedule_random_faults;
use crate::link::Links;
use crate::results::Results;
use crate::rng::{Stream, sub_seed};
use crate::scenario::{Fault, Scenario, Step};
use crate::shop::{AppMessage, AppSend, OrderStatus, Shops};
use crate::summary::{ChannelRecord, FundsSummary, StepRecord};
use crate::trace::{Kind, TraceWriter};
use crate::workload::{Arrival, Endpoints, Picker, Workload};
use node_core::chain::{Block, ConfirmedTx, OutPoint, Script, Tx, TxKind, TxOut};
use node_core::channel::{Channel, ChannelPhase};
use node_core::event::Event;
use node_core::graph::{BaseGraph, ChannelInfo, DirectedPolicy};
use node_core::htlc::View;
use node_core::msg::Message;
use node_core::node::{Action, Command, CommandOutput, Timer};
use node_core::onchain::{GRACE_BLOCKS, MIN_CLAIM_SAT, WatchKind};
use node_core::payment::{PaymentId, PaymentStatus};
use node_core::router::RouterConfig;
use node_core::{ChannelId, Node, NodeId, Scid, SimTime};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Outputs per genesis funding transaction (a short_channel_id has 16 bits for the output).
pub const GENESIS_OUTPUTS_PER_TX: usize = 1000;

/// Where the genesis block puts the `i`-th channel of the start: the funding transaction's
/// index in the block and the output's index in it (transaction 0 is the coinbase).
pub fn genesis_position(i: usize) -> (usize, u32) {
    (1 + i / GENESIS_OUTPUTS_PER_TX, (i % GENESIS_OUTPUTS_PER_TX) as u32)
}

/// The short channel id of the `i`-th channel of the start.
pub fn genesis_scid(start_height: u32, i: usize) -> Scid {
    let (tx_index, vout) = genesis_position(i);
    Scid::new(start_height, tx_index as u32, vout as u16)
}

/// Something scheduled.
#[derive(Debug)]
enum SimEvent {
    /// A message arrives, if its connection (of that epoch) is still up.
    Deliver {
        from: NodeId,
        to: NodeId,
        msg: Message,
        epoch: u64,
    },
    /// A connection attempt from `from` completes, or fails if a partition or a crash is in the
    /// way.
    Connect {
        from: NodeId,
        to: NodeId,
    },
    /// A node's timer, from the node's `life` (timers set before a crash never fire).
    Timer {
        node: NodeId,
        timer: Timer,
        life: u64,
    },
    Block,
    App {
        from: NodeId,
        to: NodeId,
        msg: AppMessage,
    },
    ShopPoll {
        shop: usize,
    },
    ScriptWake {
        step: usize,
    },
    /// A payment of the workload arrives.
    Payment,
    /// Payment `index` of the scenario's payment list is due.
    ListPayment {
        index: usize,
    },
    FaultStart {
        index: usize,
    },
    FaultEnd {
        index: usize,
    },
}

/// What the current script step waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    Connected { from: NodeId, to: NodeId },
    Funding { node: NodeId, temporary: ChannelId },
    ChannelReady { from: NodeId, to: NodeId, channel: Option<ChannelId> },
    Order { order: u64 },
    Payment { node: NodeId, payment: PaymentId },
    Closed { node: NodeId, first: usize, count: usize },
    Wake,
    Height { height: u32 },
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The script was done and only blocks were scheduled.
    Idle,
    /// The scenario's time limit.
    MaxDuration,
}

/// A run in progress.
pub struct World<'a> {
    scenario: &'a Scenario,
    now: SimTime,
    queue: EventQueue<SimEvent>,
    /// Scheduled events other than blocks.
    busy: usize,
    nodes: Vec<Node>,
    chain: MockChain,
    links: Links,
    http: Links,
    connecting: BTreeSet<(NodeId, NodeId)>,
    pub(crate) trace: TraceWriter,
    pub(crate) results: Results,
    pub(crate) shops: Shops,
    step: usize,
    wait: Option<Wait>,
    poke: bool,
    pub(crate) steps: Vec<StepRecord>,
    /// Channels opened during the run, by (opener, temporary id): the permanent id once the
    /// funding is broadcast, `None` if the open failed.
    opened: BTreeMap<(NodeId, ChannelId), Option<ChannelId>>,
    /// The channel last opened between two nodes (smaller id first).
    last_opened: BTreeMap<(NodeId, NodeId), ChannelId>,
    /// Channels a `Close` step waits for, (node, channel), in step order.
    closing: Vec<(NodeId, ChannelId)>,
    pub(crate) channel_log: Vec<(ChannelId, ChannelRecord)>,
    pub(crate) fees_earned_msat: Vec<u64>,
    pub(crate) forwards: Vec<u64>,
    pub(crate) tx_rejections: u64,
    pub(crate) blocks_mined: u32,
    block_interval_us: u64,
    actions: Vec<Action>,
    /// While the start state is built, messages are delivered at once, in FIFO order.
    instant: Option<std::collections::VecDeque<(NodeId, NodeId, Message)>>,
    /// Whether each node is running.
    online: Vec<bool>,
    /// Each node's life: incremented by a crash, so timers of an earlier life never fire.
    lives: Vec<u64>,
    /// The last block each node was told about.
    synced_height: Vec<u32>,
    /// Every block mined, from genesis on, for nodes that catch up after a crash.
    history: Vec<MinedBlock>,
    /// The faults of the run: the scenario's, then those drawn from the seed.
    pub(crate) faults: Vec<(SimTime, Fault)>,
    /// Check the invariants after every event.
    check: bool,
    /// How each node resolved each incoming HTLC it forwarded or refused: true if settled.
    resolutions: BTreeMap<(NodeId, Scid, u64), bool>,
    /// The payment workload, if any.
    workload: Option<Workload>,
}

impl<'a> World<'a> {
    /// The start state of `scenario`: nodes, wallets and existing channels in the genesis block,
    /// links of existing channels up, the first block and the script scheduled.
    pub fn new(scenario: &'a Scenario, trace: TraceWriter, check: bool) -> World<'a> {
        let seed = scenario.seed;
        let names: Vec<String> = scenario.nodes.iter().map(|n| n.name.clone()).collect();
        let start_height = scenario.chain.start_height;
        let channels = scenario.genesis_channels();
        // Genesis transactions: wallet funds, then existing channels' funding outputs.
        let coinbase_outputs: Vec<TxOut> = scenario
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.wallet_sat > 0)
            .map(|(i, n)| TxOut {
                amount_sat: n.wallet_sat,
                script: Script::Wallet { owner: NodeId(i as u32) },
            })
            .collect();
        let mut genesis = vec![Tx::new(TxKind::Coinbase, vec![], coinbase_outputs, 0)];
        for (chunk_index, chunk) in channels.chunks(GENESIS_OUTPUTS_PER_TX).enumerate() {
            let outputs = chunk
                .iter()
                .map(|c| TxOut {
                    amount_sat: c.capacity_sat,
                    script: Script::funding(c.from, c.to),
                })
                .collect();
            genesis.push(Tx::new(TxKind::Genesis, vec![], outputs, chunk_index as u64 + 1));
        }
        // Every node knows the public channels of the start.
        let mut infos = Vec::new();
        let mut placed = Vec::with_capacity(channels.len());
        for (i, c) in channels.iter().enumerate() {
            let (tx_index, vout) = genesis_position(i);
            let funding = genesis[tx_index].outpoint(vout);
            let scid = genesis_scid(start_height, i);
            placed.push((funding, scid));
            if c.announce {
                let (node_1, node_2) = (c.from.min(c.to), c.from.max(c.to));
                let direction = |n: NodeId| {
                    let (policy, disabled) = if n == c.from {
                        (c.from_policy, c.from_disabled)
                    } else {
                        (c.to_policy, c.to_disabled)
                    };
                    Some(DirectedPolicy { policy, disabled, timestamp: 0 })
                };
                infos.push(ChannelInfo {
                    scid,
                    node_1,
                    node_2,
                    capacity_sat: c.capacity_sat,
                    directions: [direction(node_1), direction(node_2)],
                });
            }
        }
        let graph = Arc::new(BaseGraph::new(scenario.nodes.len() as u32, infos));
        let mut nodes: Vec<Node> = scenario
            .nodes
            .iter()
            .enumerate()
            .map(|(i, def)| {
                Node::new(
                    NodeId(i as u32),
                    def.config,
                    sub_seed(seed, &format!("node/{}", def.name)),
                    graph.clone(),
                )
            })
            .collect();
        let mut chain = MockChain::new(start_height);
        for (c, &(funding, scid)) in channels.iter().zip(&placed) {
            let (fc, tc) =
                (&scenario.nodes[c.from.index()].config, &scenario.nodes[c.to.index()].config);
            let to_msat = c.capacity_sat * 1000 - c.from_balance_msat;
            let mut a = Channel::new_genesis(
                c.from,
                c.to,
                true,
                funding,
                scid,
                c.capacity_sat,
                c.from_balance_msat,
                c.announce,
                fc,
                tc,
            );
            a.local_policy = c.from_policy;
            a.disabled = c.from_disabled;
            a.remote_policy = (!c.to_disabled).then_some(c.to_policy);
            let mut b = Channel::new_genesis(
                c.to,
                c.from,
                false,
                funding,
                scid,
                c.capacity_sat,
                to_msat,
                c.announce,
                tc,
                fc,
            );
            b.local_policy = c.to_policy;
            b.disabled = c.to_disabled;
            b.remote_policy = (!c.from_disabled).then_some(c.from_policy);
            nodes[c.from.index()].add_genesis_channel(a);
            nodes[c.to.index()].add_genesis_channel(b);
            if c.announce {
                chain.watch_announced(funding, scid);
            }
        }
        let mut world = World {
            scenario,
            now: SimTime::ZERO,
            queue: EventQueue::default(),
            busy: 0,
            chain,
            links: Links::new("link", seed, names.clone(), scenario.links.clone()),
            http: Links::new("http", seed, names, scenario.links.clone()),
            connecting: BTreeSet::new(),
            trace,
            results: Results::default(),
            shops: Shops::new(scenario.shops.clone()),
            step: 0,
            wait: None,
            poke: false,
            steps: Vec::new(),
            opened: BTreeMap::new(),
            last_opened: BTreeMap::new(),
            closing: Vec::new(),
            channel_log: Vec::new(),
            fees_earned_msat: vec![0; nodes.len()],
            forwards: vec![0; nodes.len()],
            tx_rejections: 0,
            blocks_mined: 0,
            block_interval_us: scenario.chain.block_interval_s * 1_000_000,
            actions: Vec::new(),
            instant: Some(std::collections::VecDeque::new()),
            online: vec![true; nodes.len()],
            lives: vec![0; nodes.len()],
            synced_height: vec![0; nodes.len()],
            history: Vec::new(),
            faults: scenario.faults.clone(),
            check,
            resolutions: BTreeMap::new(),
            workload: None,
            nodes,
        };
        if let Some(spec) = scenario.workload.clone() {
            // Nodes with a channel that can carry a payment in at least one direction, and the
            // capacity of those channels.
            let mut capacity_sat: BTreeMap<NodeId, u64> = BTreeMap::new();
            for c in channels.iter().filter(|c| !(c.from_disabled && c.to_disabled)) {
                for node in [c.from, c.to] {
                    *capacity_sat.entry(node).or_default() += c.capacity_sat;
                }
            }
            let participants: Vec<NodeId> = capacity_sat.keys().copied().collect();
            let picker = |endpoints: &Endpoints| match endpoints {
                Endpoints::Uniform | Endpoints::Shops => Picker::uniform(participants.clone()),
                Endpoints::CapacityWeighted => {
                    let weights: Vec<u64> = capacity_sat.values().copied().collect();
                    Picker::weighted(participants.clone(), &weights)
                }
                Endpoints::Nodes(names) => Picker::uniform(
                    names
                        .iter()
                        .map(|n| scenario.node_id(n).expect("invariant: validated names"))
                        .collect(),
                ),
                Endpoints::Largest(n) => {
                    let mut by_size: Vec<(u64, NodeId)> =
                        capacity_sat.iter().map(|(&node, &sat)| (sat, node)).collect();
                    by_size.sort_by_key(|&(sat, node)| (std::cmp::Reverse(sat), node));
                    let mut largest: Vec<NodeId> =
                        by_size.into_iter().take(*n as usize).map(|(_, node)| node).collect();
                    largest.sort();
                    Picker::uniform(largest)
                }
            };
            let (senders, receivers) = (picker(&spec.senders), picker(&spec.receivers));
            let shop_items = scenario.shops.iter().map(|s| (s.node, s.items.len())).collect();
            let mut workload =
                Workload::new(spec, Stream::new(seed, "workload"), senders, receivers, shop_items);
            if let Some(at) = workload.next_arrival(SimTime::ZERO) {
                world.schedule(at, SimEvent::Payment);
            }
            world.workload = Some(workload);
        }
        if let Some(list) = &scenario.payment_list
            && let Some(&(at, ..)) = list.payments.payments.first()
        {
            world.schedule(at, SimEvent::ListPayment { index: 0 });
        }
        if let Some(random) = &scenario.random_faults {
            let more = schedule_random_faults(random, scenario, &channels);
            world.faults.extend(more);
        }
        for index in 0..world.faults.len() {
            let at = world.faults[index].0;
            world.schedule(at, SimEvent::FaultStart { index });
        }
        let block = world.chain.genesis(genesis);
        world.connect_block(block);
        // Peers of existing channels were connected before the run: their links are up and their
        // `init` messages are exchanged at time 0, before anything else happens.
        let mut pairs: Vec<(NodeId, NodeId)> =
            channels.iter().map(|c| (c.from.min(c.to), c.from.max(c.to))).collect();
        pairs.sort();
        pairs.dedup();
        for (a, b) in pairs {
            world.link_up(a, b);
        }
        while let Some((from, to, msg)) = world.instant.as_mut().and_then(|q| q.pop_front()) {
            let epoch = world.links.epoch(from, to);
            world.handle(SimEvent::Deliver { from, to, msg, epoch });
        }
        world.instant = None;
        world.queue.push(SimTime(world.block_interval_us), SimEvent::Block);
        world.advance_script();
        world
    }

    fn schedule(&mut self, at: SimTime, event: SimEvent) {
        if !matches!(event, SimEvent::Block) {
            self.busy += 1;
        }
        self.queue.push(at, event);
    }

    /// The nodes, by id.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The chain.
    pub fn chain(&self) -> &MockChain {
        &self.chain
    }

    /// The current time.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Whether no running node waits on the chain (claims to make, failures to finalise) and the
    /// mempool is empty.
    fn chain_settled(&self) -> bool {
        self.chain.mempool_len() == 0
            && self
                .nodes
                .iter()
                .zip(&self.online)
                .all(|(n, &online)| !online || n.onchain().is_idle())
    }

    /// Whether every script step has run.
    pub fn script_done(&self) -> bool {
        self.wait.is_none() && self.step >= self.scenario.script.len()
    }

    /// Runs until the scenario's stop condition.
    pub fn run(&mut self) -> EndReason {
        while let Some(at) = self.queue.peek_time() {
            if at > self.scenario.max_duration {
                self.now = self.scenario.max_duration;
                return EndReason::MaxDuration;
            }
            let (at, event) = self.queue.pop().expect("peeked");
            self.now = at;
            if !matches!(event, SimEvent::Block) {
                self.busy -= 1;
            }
            self.handle(event);
            if self.poke {
                self.poke = false;
                self.advance_script();
            }
            if self.check {
                let violations = self.check_invariants();
                assert!(
                    violations.is_empty(),
                    "invariant broken at {} (seed {}): {}",
                    self.now,
                    self.scenario.seed,
                    violations.join("; ")
                );
            }
            if self.scenario.stop_when_idle
                && self.busy == 0
                && self.script_done()
                && self.chain_settled()
            {
                return EndReason::Idle;
            }
        }
        EndReason::Idle
    }

    fn handle(&mut self, event: SimEvent) {
        match event {
            SimEvent::Deliver { from, to, msg, epoch } => {
                if !self.links.is_up(from, to) || self.links.epoch(from, to) != epoch {
                    let fields = [u64::from(from.0), u64::from(to.0), u64::from(msg.type_number())];
                    self.trace.record(self.now, Kind::MessageLost, &fields, &[]);
                    return;
                }
                self.trace.message(self.now, u64::from(from.0), u64::from(to.0), &msg);
                self.nodes[to.index()].handle_message(self.now, from, msg);
                self.collect(to);
            }
            SimEvent::Connect { from, to } => {
                self.connecting.remove(&(from.min(to), from.max(to)));
                if self.links.is_up(from, to) {
                    return;
                }
                let reachable = self.online[from.index()]
                    && self.online[to.index()]
                    && !self.links.is_cut(from, to);
                if reachable {
                    self.link_up(from, to);
                } else {
                    self.trace.record(
                        self.now,
                        Kind::ConnectFailed,
                        &[u64::from(from.0), u64::from(to.0)],
                        &[],
                    );
                    if self.online[from.index()] {
                        self.nodes[from.index()].connection_failed(self.now, to);
                        self.collect(from);
                    }
                }
            }
            SimEvent::Timer { node, timer, life } => {
                if !self.online[node.index()] || self.lives[node.index()] != life {
                    return;
                }
                match timer {
                    Timer::GossipFlush => {
                        self.trace.record(self.now, Kind::Timer, &[u64::from(node.0), 1], &[])
                    }
                    Timer::Reconnect { peer } => self.trace.record(
                        self.now,
                        Kind::ReconnectTimer,
                        &[u64::from(node.0), u64::from(peer.0)],
                        &[],
                    ),
                    Timer::PeerOffline { peer } => self.trace.record(
                        self.now,
                        Kind::PeerOfflineTimer,
                        &[u64::from(node.0), u64::from(peer.0)],
                        &[],
                    ),
                    Timer::MppTimeout { payment_hash } => self.trace.record(
                        self.now,
                        Kind::MppTimer,
                        &[u64::from(node.0), payment_hash.short()],
                        &[],
                    ),
                }
                self.nodes[node.index()].timer_fired(self.now, timer);
                self.collect(node);
            }
            SimEvent::FaultStart { index } => self.start_fault(index),
            SimEvent::Payment => self.workload_payment(),
            SimEvent::ListPayment { index } => self.list_payment(index),
            SimEvent::FaultEnd { index } => self.end_fault(index),
            SimEvent::Block => {
                let block = self.chain.mine();
                self.blocks_mined += 1;
                self.connect_block(block);
                let next = self.now.plus_micros(self.block_interval_us);
                self.queue.push(next, SimEvent::Block);
                self.poke = true;
            }
            SimEvent::App { from, to, msg } => self.on_app(from, to, msg),
            SimEvent::ShopPoll { shop } => {
                let node = self.shops.defs()[shop].node;
                if !self.online[node.index()] {
                    let at = self.now.plus_micros(self.shops.defs()[shop].poll_interval_us);
                    self.schedule(at, SimEvent::ShopPoll { shop });
                    return;
                }
                let (deliveries, expired, again) =
                    self.shops.poll(self.now, shop, &mut self.nodes[node.index()]);
                self.collect(node);
                for order in expired {
                    let o = self.shops.order(order);
                    let fields = [u64::from(o.customer.0), u64::from(node.0), order];
                    self.trace.record(self.now, Kind::OrderFailed, &fields, &[]);
                    self.poke = true;
                }
                for send in deliveries {
                    self.send_app(send);
                }
                if again {
                    let at = self.now.plus_micros(self.shops.defs()[shop].poll_interval_us);
                    self.schedule(at, SimEvent::ShopPoll { shop });
                }
            }
            SimEvent::ScriptWake { step } => {
                if self.step == step && self.wait == Some(Wait::Wake) {
                    self.poke = true;
                    self.finish_step(true);
                }
            }
        }
    }

    /// Tells every node about a mined block (each sees the transactions that concern it).
    fn connect_block(&mut self, block: MinedBlock) {
        self.trace.record(
            self.now,
            Kind::Block,
            &[u64::from(block.height), block.txs.len() as u64],
            &[],
        );
        let mut per_node: BTreeMap<NodeId, Vec<ConfirmedTx>> = BTreeMap::new();
        for mined in &block.txs {
            let fields = [
                u64::from(block.height),
                u64::from(mined.tx_index),
                u64::from(mined.tx.kind.code()),
                mined.tx.txid.short(),
                mined.fee_sat,
            ];
            self.trace.record(self.now, Kind::TxConfirmed, &fields, &[]);
            for node in &mined.concerned {
                per_node
                    .entry(*node)
                    .or_default()
                    .push(ConfirmedTx { tx_index: mined.tx_index, tx: mined.tx.clone() });
            }
        }
        for i in 0..self.nodes.len() {
            if !self.online[i] {
                continue;
            }
            let id = NodeId(i as u32);
            let txs = per_node.remove(&id).unwrap_or_default();
            let notice = Block {
                height: block.height,
                time: self.now,
                txs,
                closed_channels: block.closed_channels.clone(),
            };
            self.nodes[i].block_connected(self.now, &notice);
            self.synced_height[i] = block.height;
            self.collect(id);
        }
        self.history.push(block);
    }

    /// Tells a node that was down about the blocks it missed, in order.
    fn catch_up(&mut self, node: NodeId) {
        let first = self.history.first().map_or(0, |b| b.height);
        let from = (self.synced_height[node.index()] + 1).saturating_sub(first) as usize;
        for index in from..self.history.len() {
            let block = &self.history[index];
            let txs = block
                .txs
                .iter()
                .filter(|m| m.concerned.contains(&node))
                .map(|m| ConfirmedTx { tx_index: m.tx_index, tx: m.tx.clone() })
                .collect();
            let notice = Block {
                height: block.height,
                time: self.now,
                txs,
                closed_channels: block.closed_channels.clone(),
            };
            self.synced_height[node.index()] = block.height;
            self.nodes[node.index()].block_connected(self.now, &notice);
            self.collect(node);
        }
    }

    /// Brings a connection up: both nodes exchange `init` (and re-establish their channels).
    fn link_up(&mut self, a: NodeId, b: NodeId) {
        self.links.set_up(a, b, true);
        self.trace.record(self.now, Kind::LinkUp, &[u64::from(a.0), u64::from(b.0)], &[]);
        self.nodes[a.index()].peer_connected(self.now, b);
        self.collect(a);
        self.nodes[b.index()].peer_connected(self.now, a);
        self.collect(b);
    }

    /// Takes a connection down: messages in flight are lost; running ends are told.
    fn link_down(&mut self, a: NodeId, b: NodeId) {
        if !self.links.is_up(a, b) {
            return;
        }
        self.links.set_up(a, b, false);
        self.trace.record(self.now, Kind::LinkDown, &[u64::from(a.0), u64::from(b.0)], &[]);
        for (node, peer) in [(a, b), (b, a)] {
            if self.online[node.index()] {
                self.nodes[node.index()].peer_disconnected(self.now, peer);
                self.collect(node);
            }
        }
    }

    /// A payment of the workload: the receiver issues an invoice and the sender pays it (if
    /// either is down, the payment is not made).
    fn workload_payment(&mut self) {
        let workload = self.workload.as_mut().expect("invariant: payments come from a workload");
        let arrival = workload.draw();
        if let Some(at) = workload.next_arrival(self.now) {
            self.schedule(at, SimEvent::Payment);
        }
        match arrival {
            Some(Arrival::Pay { from, to, amount_msat, router }) => {
                self.pay(from, to, amount_msat, router);
            }
            Some(Arrival::Buy { customer, shop, item }) => {
                let (order, send) = self.shops.request(self.now, customer, shop, item);
                let shop_node = self.shops.defs()[shop].node;
                let fields = [u64::from(customer.0), u64::from(shop_node.0), order, item as u64];
                self.trace.record(self.now, Kind::OrderRequested, &fields, &[]);
                self.send_app(send);
            }
            None => {}
        }
    }

    /// Payment `index` of the payment list, then the next one is scheduled.
    fn list_payment(&mut self, index: usize) {
        let list = self.scenario.payment_list.as_ref().expect("invariant: a list is scheduled");
        let (_, from, to, amount_msat) = list.payments.payments[index];
        let router = match list.routers.len() {
            0 => None,
            n => Some(list.routers[index % n]),
        };
        if let Some(&(at, ..)) = list.payments.payments.get(index + 1) {
            self.schedule(at.max(self.now), SimEvent::ListPayment { index: index + 1 });
        }
        self.pay(from, to, amount_msat, router);
    }

    /// The receiver invoices and the sender pays (if either is down, the payment is not made).
    fn pay(&mut self, from: NodeId, to: NodeId, amount_msat: u64, router: Option<RouterConfig>) {
        let command = Command::CreateInvoice {
            amount_msat: Some(amount_msat),
            description: String::new(),
            expiry_s: None,
        };
        if let Ok(CommandOutput::Invoice(invoice)) = self.command(to, command) {
            let _ = self.command(from, Command::Pay { invoice, amount_msat: None, router });
        }
    }

    fn start_fault(&mut self, index: usize) {
        let (_, fault) = self.faults[index].clone();
        self.trace.record(self.now, Kind::FaultStarted, &[index as u64, fault.code()], &[]);
        match fault {
            Fault::Crash { node, duration_us } => {
                if self.online[node.index()] {
                    self.online[node.index()] = false;
                    self.lives[node.index()] += 1;
                    self.trace.record(self.now, Kind::NodeDown, &[u64::from(node.0)], &[]);
                    let peers: Vec<NodeId> = (0..self.nodes.len() as u32)
                        .map(NodeId)
                        .filter(|&p| p != node && self.links.is_up(node, p))
                        .collect();
                    for peer in peers {
                        self.link_down(node, peer);
                    }
                }
                self.schedule(self.now.plus_micros(duration_us), SimEvent::FaultEnd { index });
            }
            Fault::ForceClose { node, peer } => {
                if self.online[node.index()] {
                    let _ = self.command(node, Command::ForceClose { peer });
                }
            }
            Fault::Partition { links, duration_us } => {
                for &(a, b) in &links {
                    self.links.cut(a, b, true);
                    self.link_down(a, b);
                }
                self.schedule(self.now.plus_micros(duration_us), SimEvent::FaultEnd { index });
            }
            Fault::LatencySpike { links, extra_us, duration_us } => {
                for &(a, b) in &links {
                    self.links.spike(a, b, extra_us, true);
                }
                self.schedule(self.now.plus_micros(duration_us), SimEvent::FaultEnd { index });
            }
            Fault::SetPolicy {
                node,
                peer,
                fee_base_msat,
                fee_proportional_millionths,
                cltv_expiry_delta,
                disabled,
            } => {
                if self.online[node.index()] {
                    let command = Command::SetPolicy {
                        peer,
                        fee_base_msat,
                        fee_proportional_millionths,
                        cltv_expiry_delta,
                        disabled,
                    };
                    let _ = self.command(node, command);
                }
            }
        }
        self.poke = true;
    }

    fn end_fault(&mut self, index: usize) {
        let (_, fault) = self.faults[index].clone();
        self.trace.record(self.now, Kind::FaultEnded, &[index as u64, fault.code()], &[]);
        match fault {
            Fault::Crash { node, .. } => {
                if !self.online[node.index()] {
                    self.online[node.index()] = true;
                    self.trace.record(self.now, Kind::NodeUp, &[u64::from(node.0)], &[]);
                    self.nodes[node.index()].restart(self.now);
                    self.catch_up(node);
                    self.collect(node);
                }
            }
            Fault::Partition { links, .. } => {
                for &(a, b) in &links {
                    self.links.cut(a, b, false);
                }
            }
            Fault::LatencySpike { links, extra_us, .. } => {
                for &(a, b) in &links {
                    self.links.spike(a, b, extra_us, false);
                }
            }
            Fault::ForceClose { .. } | Fault::SetPolicy { .. } => {}
        }
        self.poke = true;
    }

    /// Carries out what node `node` asked for.
    fn collect(&mut self, node: NodeId) {
        let mut actions = std::mem::take(&mut self.actions);
        self.nodes[node.index()].drain_actions(&mut actions);
        for action in actions.drain(..) {
            match action {
                Action::Send { to, msg } => {
                    if let Some(instant) = self.instant.as_mut() {
                        instant.push_back((node, to, msg));
                    } else if self.links.is_up(node, to) {
                        let at = self.links.arrival(node, to, self.now);
                        let epoch = self.links.epoch(node, to);
                        self.schedule(at, SimEvent::Deliver { from: node, to, msg, epoch });
                    }
                }
                Action::Connect { peer } => {
                    let key = (node.min(peer), node.max(peer));
                    if !self.links.is_up(node, peer) && self.connecting.insert(key) {
                        // The transport handshake (BOLT 8) takes three one-way trips.
                        let at = self.now.plus_micros(3 * self.links.sample_us(node, peer));
                        self.schedule(at, SimEvent::Connect { from: node, to: peer });
                    }
                }
                Action::Broadcast { tx } => {
                    let fields = [u64::from(node.0), u64::from(tx.kind.code()), tx.txid.short()];
                    match self.chain.broadcast(tx, node) {
                        Ok(true) => self.trace.record(self.now, Kind::TxBroadcast, &fields, &[]),
                        Ok(false) => {}
                        Err(rejection) => {
                            self.tx_rejections += 1;
                            let reason = match rejection {
                                TxRejection::MissingInput(_) => 1,
                                TxRejection::DoubleSpend(_) => 2,
                                TxRejection::Overspend { .. } => 3,
                                TxRejection::Unauthorized(_) => 4,
                                TxRejection::Immature(_) => 5,
                                TxRejection::DuplicateInput(_) => 6,
                            };
                            let mut with_reason = fields.to_vec();
                            with_reason.push(reason);
                            self.trace.record(self.now, Kind::TxRejected, &with_reason, &[]);
                        }
                    }
                }
                Action::SetTimer { at, timer } => {
                    let life = self.lives[node.index()];
                    self.schedule(at.max(self.now), SimEvent::Timer { node, timer, life })
                }
                Action::Emit(event) => self.on_node_event(node, event),
            }
        }
        self.actions = actions;
    }

    fn on_node_event(&mut self, node: NodeId, event: Event) {
        self.results.on_event(self.now, node, &event);
        let (kind, fields, tail) = {
            let results = &self.results;
            crate::trace::event_line(u64::from(node.0), &event, |p| {
                results.global_id(node, PaymentId(p)).unwrap_or(u64::MAX)
            })
        };
        self.trace.record(self.now, kind, &fields, &tail);
        match event {
            Event::FundingBroadcast {
                channel_id,
                temporary_channel_id,
                peer,
                txid,
                funding_sat,
            } => {
                self.opened.insert((node, temporary_channel_id), Some(channel_id));
                self.last_opened.insert((node.min(peer), node.max(peer)), channel_id);
                self.channel_log.push((
                    channel_id,
                    ChannelRecord {
                        opener: node,
                        peer,
                        funding_sat,
                        txid: Some(txid),
                        scid: None,
                        ready_at: None,
                        closed_at: None,
                    },
                ));
                self.poke = true;
            }
            Event::ChannelOpenFailed { temporary_channel_id, .. } => {
                self.opened.entry((node, temporary_channel_id)).or_insert(None);
                self.poke = true;
            }
            Event::ChannelReady { channel_id, scid, .. } => {
                if let Some((_, record)) =
                    self.channel_log.iter_mut().find(|(id, _)| *id == channel_id)
                {
                    record.scid = Some(scid);
                    record.ready_at = Some(self.now);
                }
                self.poke = true;
            }
            Event::ChannelAnnounced { scid } => {
                let funding = self.nodes[node.index()]
                    .channels()
                    .find(|c| c.scid() == Some(scid))
                    .and_then(Channel::funding_outpoint);
                if let Some(funding) = funding {
                    self.chain.watch_announced(funding, scid);
                }
            }
            Event::ChannelClosed { channel_id, .. } => {
                if let Some((_, record)) =
                    self.channel_log.iter_mut().find(|(id, _)| *id == channel_id)
                {
                    record.closed_at.get_or_insert(self.now);
                }
                self.poke = true;
            }
            Event::ForwardSettled { fee_msat, in_scid, in_htlc_id } => {
                self.fees_earned_msat[node.index()] += fee_msat;
                self.forwards[node.index()] += 1;
                self.resolve(node, in_scid, in_htlc_id, true);
            }
            Event::ForwardFailed { in_scid, in_htlc_id }
            | Event::HtlcRefused { in_scid, in_htlc_id, .. } => {
                self.resolve(node, in_scid, in_htlc_id, false);
            }
            Event::PaymentSucceeded { payment_id, .. }
            | Event::PaymentFailed { payment_id, .. } => {
                let succeeded = matches!(event, Event::PaymentSucceeded { .. });
                if let Some(order) = self.shops.order_of_payment(node, payment_id) {
                    self.shops.on_payment_done(order, succeeded);
                    if !succeeded {
                        let o = self.shops.order(order);
                        let shop = self.shops.defs()[o.shop].node;
                        self.trace.record(
                            self.now,
                            Kind::OrderFailed,
                            &[u64::from(node.0), u64::from(shop.0), order],
                            &[],
                        );
                    }
                }
                self.poke = true;
            }
            Event::PeerConnected { .. } => self.poke = true,
            _ => {}
        }
    }

    fn send_app(&mut self, (from, to, msg): AppSend) {
        let at = self.http.arrival(from, to, self.now);
        self.schedule(at, SimEvent::App { from, to, msg });
    }

    fn on_app(&mut self, from: NodeId, to: NodeId, msg: AppMessage) {
        if !self.online[to.index()] {
            return; // a node that is down answers no request
        }
        match msg {
            AppMessage::BuyRequest { order, .. } => {
                let (reply, start_polling) =
                    self.shops.on_buy_request(self.now, &mut self.nodes[to.index()], order);
                self.collect(to);
                if let AppMessage::InvoiceReply { invoice, .. } = &reply.2 {
                    let fields =
                        [u64::from(to.0), u64::from(from.0), order, invoice.payment_hash.short()];
                    self.trace.record(self.now, Kind::OrderInvoiced, &fields, &[]);
                }
                let shop = self.shops.order(order).shop;
                self.send_app(reply);
                if start_polling {
                    let at = self.now.plus_micros(self.shops.defs()[shop].poll_interval_us);
                    self.schedule(at, SimEvent::ShopPoll { shop });
                }
            }
            AppMessage::InvoiceReply { order, invoice } => {
                let paid =
                    self.shops.on_invoice(self.now, &mut self.nodes[to.index()], order, invoice);
                self.collect(to);
                if paid.is_none() {
                    self.trace.record(
                        self.now,
                        Kind::OrderFailed,
                        &[u64::from(to.0), u64::from(from.0), order],
                        &[],
                    );
                    self.poke = true;
                }
            }
            AppMessage::Delivery { order, content } => {
                let bytes = content.len() as u64;
                self.shops.on_delivery(self.now, order, content);
                self.trace.record(
                    self.now,
                    Kind::OrderDelivered,
                    &[u64::from(to.0), u64::from(from.0), order, bytes],
                    &[],
                );
                self.poke = true;
            }
            AppMessage::Refused { order } => {
                self.shops.on_refused(order);
                self.trace.record(
                    self.now,
                    Kind::OrderFailed,
                    &[u64::from(to.0), u64::from(from.0), order],
                    &[],
                );
                self.poke = true;
            }
        }
    }

    // ---- the script ----

    /// Finishes waits that are met and starts the following steps, until one must wait.
    fn advance_script(&mut self) {
        loop {
            if let Some(wait) = self.wait {
                match self.wait_outcome(wait) {
                    None => return,
                    Some(ok) => self.finish_step(ok),
                }
            }
            if self.step >= self.scenario.script.len() {
                return;
            }
            let step = self.scenario.script[self.step].clone();
            self.steps.push(StepRecord {
                index: self.step,
                step: step.clone(),
                started_at: self.now,
                ended_at: None,
                ok: false,
            });
            match self.start_step(&step) {
                Ok(wait) => self.wait = Some(wait),
                Err(()) => {
                    self.wait = None;
                    self.finish_step(false);
                }
            }
        }
    }

    fn finish_step(&mut self, ok: bool) {
        let kind = if ok { Kind::StepDone } else { Kind::StepFailed };
        self.trace.record(self.now, kind, &[self.step as u64], &[]);
        if let Some(record) = self.steps.last_mut() {
            record.ended_at = Some(self.now);
            record.ok = ok;
        }
        self.wait = None;
        self.step += 1;
    }

    fn command(&mut self, node: NodeId, command: Command) -> Result<CommandOutput, ()> {
        if !self.online[node.index()] {
            return Err(());
        }
        let out = self.nodes[node.index()].command(self.now, command);
        self.collect(node);
        out.map_err(|_| ())
    }

    fn start_step(&mut self, step: &Step) -> Result<Wait, ()> {
        match *step {
            Step::Connect { from, to } => {
                self.command(from, Command::Connect { peer: to })?;
                Ok(Wait::Connected { from, to })
            }
            Step::FundChannel { from, to, amount_sat, push_msat, announce } => {
                let command = Command::FundChannel { peer: to, amount_sat, push_msat, announce };
                match self.command(from, command)? {
                    CommandOutput::Opening(temporary) => {
                        Ok(Wait::Funding { node: from, temporary })
                    }
                    _ => Err(()),
                }
            }
            Step::WaitChannelReady { from, to } => {
                let channel = self.last_opened.get(&(from.min(to), from.max(to))).copied();
                Ok(Wait::ChannelReady { from, to, channel })
            }
            Step::Buy { customer, shop, item } => {
                let (order, send) = self.shops.request(self.now, customer, shop, item);
                let shop_node = self.shops.defs()[shop].node;
                let fields = [u64::from(customer.0), u64::from(shop_node.0), order, item as u64];
                self.trace.record(self.now, Kind::OrderRequested, &fields, &[]);
                self.send_app(send);
                Ok(Wait::Order { order })
            }
            Step::Pay { from, to, amount_msat, router } => {
                let command = Command::CreateInvoice {
                    amount_msat: Some(amount_msat),
                    description: String::new(),
                    expiry_s: None,
                };
                let Ok(CommandOutput::Invoice(invoice)) = self.command(to, command) else {
                    return Err(());
                };
                match self.command(from, Command::Pay { invoice, amount_msat: None, router })? {
                    CommandOutput::Payment(payment) => Ok(Wait::Payment { node: from, payment }),
                    _ => Err(()),
                }
            }
            Step::Keysend { from, to, amount_msat, router } => {
                let keysend = Command::Keysend { destination: to, amount_msat, router };
                match self.command(from, keysend)? {
                    CommandOutput::Payment(payment) => Ok(Wait::Payment { node: from, payment }),
                    _ => Err(()),
                }
            }
            Step::Close { from, to } => {
                let first = self.closing.len();
                let open: Vec<ChannelId> = self.nodes[from.index()]
                    .channels()
                    .filter(|c| c.peer() == to && c.phase() == ChannelPhase::Normal)
                    .map(Channel::id)
                    .collect();
                self.closing.extend(open.iter().map(|&id| (from, id)));
                self.command(from, Command::CloseChannel { peer: to })?;
                Ok(Wait::Closed { node: from, first, count: open.len() })
            }
            Step::Sleep { duration_us } => {
                let step = self.step;
                self.schedule(self.now.plus_micros(duration_us), SimEvent::ScriptWake { step });
                Ok(Wait::Wake)
            }
            Step::WaitBlocks { blocks } => {
                Ok(Wait::Height { height: self.chain.height() + blocks })
            }
        }
    }

    /// `Some(ok)` once the wait is over.
    fn wait_outcome(&self, wait: Wait) -> Option<bool> {
        let channels_between =
            |a: NodeId, b: NodeId| self.nodes[a.index()].channels().filter(move |c| c.peer() == b);
        match wait {
            Wait::Connected { from, to } => (self.nodes[from.index()].is_peer_ready(to)
                && self.nodes[to.index()].is_peer_ready(from))
            .then_some(true),
            Wait::Funding { node, temporary } => {
                self.opened.get(&(node, temporary)).map(|channel| channel.is_some())
            }
            Wait::ChannelReady { from, to, channel } => {
                let ready = |a: NodeId, b: NodeId| {
                    channels_between(a, b)
                        .filter(|c| channel.is_none_or(|id| c.id() == id))
                        .any(|c| c.phase() == ChannelPhase::Normal)
                };
                (ready(from, to) && ready(to, from)).then_some(true)
            }
            Wait::Order { order } => match self.shops.order(order).status {
                OrderStatus::Delivered => Some(true),
                OrderStatus::Failed => Some(false),
                _ => None,
            },
            Wait::Payment { node, payment } => {
                let p = self.nodes[node.index()].payments().find(|p| p.id == payment)?;
                match p.status {
                    PaymentStatus::InFlight => None,
                    PaymentStatus::Succeeded { .. } => Some(true),
                    PaymentStatus::Failed { .. } => Some(false),
                }
            }
            Wait::Closed { node, first, count } => {
                let closed = |&(_, id): &(NodeId, ChannelId)| {
                    self.nodes[node.index()]
                        .channels()
                        .any(|c| c.id() == id && c.phase() == ChannelPhase::Closed)
                };
                self.closing[first..first + count].iter().all(closed).then_some(true)
            }
            Wait::Wake => None,
            Wait::Height { height } => (self.chain.height() >= height).then_some(true),
        }
    }

    // ---- checks ----

    /// Checks that no money appeared or vanished: the chain's outputs and fees add up to what
    /// genesis created; each node's wallet matches its outputs on chain; each channel's funding
    /// output is split, in every view of both peers, into balances and HTLCs that add up to it.
    pub fn check_funds(&self) -> FundsSummary {
        let mut violations = Vec::new();
        let mut wallets_chain_sat = vec![0u64; self.nodes.len()];
        let (mut wallets_sat, mut channels_sat, mut in_transit_sat) = (0u64, 0u64, 0u64);
        let mut onchain_sat = 0u64;
        let mut funding_value: BTreeMap<OutPoint, u64> = BTreeMap::new();
        for (outpoint, out) in self.chain.utxos() {
            if self.chain.spent_in_mempool(outpoint) {
                in_transit_sat += out.amount_sat;
            }
            match out.script {
                Script::Wallet { owner } => {
                    wallets_chain_sat[owner.index()] += out.amount_sat;
                    wallets_sat += out.amount_sat;
                }
                Script::Funding { .. } => {
                    channels_sat += out.amount_sat;
                    funding_value.insert(*outpoint, out.amount_sat);
                }
                Script::Delayed { .. } | Script::Htlc { .. } | Script::Anchor { .. } => {
                    onchain_sat += out.amount_sat;
                }
            }
        }
        let created = self.chain.created_sat();
        let miner_fees_sat = self.chain.miner_fees_sat();
        if wallets_sat + channels_sat + onchain_sat + miner_fees_sat != created {
            violations.push(format!(
                "chain: wallets {wallets_sat} + channels {channels_sat} + claims {onchain_sat} + fees {miner_fees_sat} != created {created} sat"
            ));
        }
        for ((node, &on_chain), &online) in
            self.nodes.iter().zip(&wallets_chain_sat).zip(&self.online)
        {
            if !online {
                continue; // a node that is down has not seen the latest blocks
            }
            let known = node.wallet_balance_sat() + node.wallet_reserved_sat();
            if known != on_chain {
                violations.push(format!(
                    "{}: wallet knows {known} sat (with reserved inputs), chain holds {on_chain} sat",
                    self.scenario.node_name(node.id()),
                ));
            }
        }
        let mut channel_balances_msat = 0u64;
        let mut htlcs_msat = 0u64;
        for node in &self.nodes {
            for c in node.channels() {
                let Some(funding) = c.funding_outpoint() else { continue };
                let Some(&value_sat) = funding_value.get(&funding) else { continue };
                if c.funding_sat() != value_sat {
                    violations.push(format!(
                        "channel {}: funding {} sat, output {value_sat} sat",
                        c.id(),
                        c.funding_sat()
                    ));
                }
                for view in View::ALL {
                    let b = c.balances(view);
                    let sum = b.ours_msat
                        + b.theirs_msat
                        + c.htlc_total_msat(view, true)
                        + c.htlc_total_msat(view, false);
                    if sum != value_sat * 1000 {
                        violations.push(format!(
                            "channel {} at {}: {view:?} view sums to {sum} msat, not {value_sat} sat",
                            c.id(),
                            node.id()
                        ));
                    }
                }
                channel_balances_msat += c.balances(View::Local).ours_msat;
                htlcs_msat += c.htlc_total_msat(View::Local, true);
            }
        }
        FundsSummary {
            created_sat: created,
            wallets_sat,
            channels_sat,
            channel_balances_msat,
            htlcs_msat,
            onchain_sat,
            in_transit_sat,
            miner_fees_sat,
            conserved: violations.is_empty(),
            violations,
        }
    }
}

impl World<'_> {
    fn resolve(&mut self, node: NodeId, scid: Scid, htlc_id: u64, settled: bool) {
        if let Some(&before) = self.resolutions.get(&(node, scid, htlc_id)) {
            if before != settled && self.check {
                panic!(
                    "invariant broken at {} (seed {}): {} both settled and failed HTLC {htlc_id} of {scid}",
                    self.now,
                    self.scenario.seed,
                    self.scenario.node_name(node)
                );
            }
            return;
        }
        if self.check {
            self.resolutions.insert((node, scid, htlc_id), settled);
        }
    }

    /// The invariants that must hold after every event: funds are conserved (see
    /// [`World::check_funds`]); no channel is overdrawn; no HTLC of a running node stays in an
    /// open channel more than [`GRACE_BLOCKS`] + 1 blocks past its expiry, nor sits on chain
    /// with no claim broadcast more than [`GRACE_BLOCKS`] + 4 blocks past it. (No HTLC settled and failed both is
    /// checked as events arrive.) Returns what is broken.
    pub fn check_invariants(&self) -> Vec<String> {
        let mut violations = self.check_funds().violations;
        let height = self.chain.height();
        for (node, &online) in self.nodes.iter().zip(&self.online) {
            let name = self.scenario.node_name(node.id());
            for c in node.channels() {
                if c.is_overdrawn() {
                    violations.push(format!("{name}: channel {} is overdrawn", c.id()));
                }
                if !online || c.phase() >= ChannelPhase::ForceClosing {
                    continue;
                }
                for h in c.offered_htlcs() {
                    if height > h.cltv_expiry + GRACE_BLOCKS + 1 {
                        violations.push(format!(
                            "{name}: offered HTLC {} on channel {} expired at {} and is still open at {height}",
                            h.id,
                            c.id(),
                            h.cltv_expiry
                        ));
                    }
                }
            }
            if !online {
                continue;
            }
            for (outpoint, w) in node.onchain().watched() {
                if let WatchKind::Htlc { offered_by_us: true, cltv_expiry, .. } = w.kind
                    && w.claim.is_none()
                    && w.amount_sat >= MIN_CLAIM_SAT * 2
                    && height > cltv_expiry + GRACE_BLOCKS + 4
                    && height > w.confirmed_height + 2
                {
                    violations.push(format!(
                        "{name}: HTLC output {}:{} expired at {cltv_expiry} and is unclaimed at {height}",
                        outpoint.txid, outpoint.vout
                    ));
                }
            }
        }
        violations
    }
}
