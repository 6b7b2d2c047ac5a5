//! The world a run happens in: the nodes, the mocked chain, the links, the applications and the
//! script, driven by one event queue. [`World::new`] builds the start from a [`Genesis`]; the
//! loop ([`World::run`]) pops events in (time, sequence) order, hands each to the node or
//! component it concerns, and turns what nodes ask for (send, connect, broadcast, set a timer,
//! report) into new events, trace lines and result records; [`World::finish`] hands over what
//! the run leaves as a [`RunRecord`]. It owns no protocol logic; node-core does.
//!
//! The seams have rooms of their own: the script runner (`script`), the shops, workload and
//! payment lists (`apps`), faults and crashes (`faults`), the invariant checks (`checks`) and
//! the first route searches planned ahead on other threads (`ahead`); the nodes, behind their
//! locks, are [`crate::nodes`]'s. This file keeps the state, the loop and what nodes ask for.

mod ahead;
mod apps;
mod checks;
mod faults;
mod script;

pub use checks::FundsSummary;
pub use script::StepRecord;

use crate::chain::{MinedBlock, MockChain};
use crate::engine::EventQueue;
use crate::genesis::{Genesis, PlacedChannel};
use crate::link::{LinkKind, Links};
use crate::nodes::Nodes;
use crate::oracle::Oracle;
use crate::random_faults::RandomFaults;
use crate::results::{Refusal, Results};
use crate::rng::StreamId;
use crate::scenario::{ChannelDef, Fault, Scenario};
use crate::series::SeriesRecorder;
use crate::shop::{AppMessage, Order, Shops};
use crate::trace::{self, Kind, TraceWriter};
use crate::workload::Workload;
use checks::Resolutions;
use node_core::chain::ConfirmedTx;
use node_core::channel::ChannelPhase;
use node_core::event::Event;
use node_core::msg::Message;
use node_core::node::{Action, Command, CommandError, CommandOutput, PlannedPayment, Timer};
use node_core::payment::PaymentId;
use node_core::router::RouterConfig;
use node_core::{ChannelId, Implementation, Node, NodeId, Scid, SimTime};
use script::Script;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// How often a run reports its progress, in events.
pub const PROGRESS_EVENTS: u64 = 1 << 14;

/// Something scheduled.
#[derive(Debug)]
enum SimEvent {
    /// A message arrives, if its connection (of that epoch) is still up. Boxed: a network of a
    /// million nodes starts with millions of events queued, and the message would set the size
    /// of every one.
    Deliver { from: NodeId, to: NodeId, msg: Box<Message>, epoch: u64 },
    /// A connection attempt from `from` completes, or fails if a partition or a crash is in the
    /// way.
    Connect { from: NodeId, to: NodeId },
    /// A node's timer, from the node's `life` (timers set before a crash never fire).
    Timer { node: NodeId, timer: Timer, life: u64 },
    /// The next block is mined.
    Block,
    /// An application message arrives (boxed: it is rare, and the largest event would set the
    /// size of every one in the queue).
    App { from: NodeId, to: NodeId, msg: Box<AppMessage> },
    /// A shop polls its node's invoices.
    ShopPoll { shop: usize },
    /// A `Sleep` step is over.
    ScriptWake { step: usize },
    /// A payment of the workload arrives.
    Payment,
    /// Payment `index` of the scenario's payment list is due.
    ListPayment { index: usize },
    /// The scenario's fault `index` starts.
    FaultStart { index: usize },
    /// A fault drawn from the seed starts (and the next one is drawn). Boxed: rare.
    RandomFault { fault: Box<Fault> },
    /// Fault `index` ends.
    FaultEnd { index: usize },
    /// The time series are sampled (like blocks, this keeps no run alive).
    Sample,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The script was done and only blocks were scheduled.
    Idle,
    /// The scenario's time limit.
    MaxDuration,
}

/// A channel opened during the run, as the world saw it.
#[derive(Clone, Debug)]
pub struct ChannelRecord {
    /// Its id.
    pub channel_id: ChannelId,
    /// Its opener.
    pub opener: NodeId,
    /// The peer.
    pub peer: NodeId,
    /// Value, sat.
    pub funding_sat: u64,
    /// The funding transaction.
    pub txid: node_core::ids::Txid,
    /// The height of the block that confirmed the funding.
    pub funding_height: Option<u32>,
    /// Its short id once confirmed.
    pub scid: Option<Scid>,
    /// When both sides were ready.
    pub ready_at: Option<SimTime>,
    /// When it closed.
    pub closed_at: Option<SimTime>,
}

/// A node at the end of a run.
#[derive(Clone, Debug)]
pub struct NodeRecord {
    /// The preset its settings came from.
    pub implementation: Implementation,
    /// Confirmed on-chain funds, sat.
    pub wallet_sat: u64,
    /// Channels not closed.
    pub channels: u64,
    /// Its balance in those channels, in its own commitment, msat.
    pub channel_balance_msat: u64,
    /// HTLCs it forwarded and that settled.
    pub forwards: u64,
    /// The fees those earned it, msat.
    pub fees_earned_msat: u64,
}

/// The chain at the end of a run.
#[derive(Clone, Copy, Debug)]
pub struct ChainRecord {
    /// The last block's height.
    pub end_height: u32,
    /// Blocks mined after genesis.
    pub blocks_mined: u32,
    /// Fees paid to miners, sat.
    pub miner_fees_sat: u64,
    /// Transactions the chain refused.
    pub rejected_txs: u64,
}

/// What a finished run leaves: every record the outputs are made from.
pub struct RunRecord {
    /// Why it ended.
    pub end: EndReason,
    /// When it ended.
    pub end_time: SimTime,
    /// Per-payment and per-attempt records.
    pub results: Results,
    /// The shops' orders, by id.
    pub orders: Vec<Order>,
    /// Channels opened during the run, in the order their funding was broadcast.
    pub channels: Vec<ChannelRecord>,
    /// The channels of the start (listed, imported, generated), with their starting balances.
    pub start_channels: Vec<PlacedChannel>,
    /// `series.csv`, when the scenario samples time series.
    pub series: Option<String>,
    /// Every fault that started: when, and its kind and node (`crash n0`).
    pub fault_log: Vec<(SimTime, String)>,
    /// The nodes, by id.
    pub nodes: Vec<NodeRecord>,
    /// The script's steps that started, in order.
    pub steps: Vec<StepRecord>,
    /// The chain.
    pub chain: ChainRecord,
    /// Where the money is.
    pub funds: FundsSummary,
}

/// What the world knows of each node's host: whether it runs, and what it has been told.
#[derive(Clone, Copy, Debug)]
struct Host {
    /// The node is running (not crashed).
    online: bool,
    /// Incremented by each crash, so timers of an earlier life never fire.
    life: u64,
    /// The last block the node was told about.
    synced_height: u32,
}

/// A run in progress.
pub struct World<'a> {
    scenario: &'a Scenario,
    now: SimTime,
    queue: EventQueue<SimEvent>,
    /// Scheduled events other than blocks.
    busy: usize,
    nodes: Nodes,
    hosts: Vec<Host>,
    chain: MockChain,
    links: Links,
    http: Links,
    connecting: BTreeSet<(NodeId, NodeId)>,
    trace: TraceWriter,
    results: Results,
    /// The feasibility oracle, when the scenario asks for it.
    oracle: Option<Oracle>,
    /// The time series, when the scenario asks for them.
    series: Option<SeriesRecorder>,
    /// The scenario's scheduled faults, nodes given by rank resolved.
    faults: Vec<Fault>,
    /// Every fault that started (scheduled or drawn): when, and its kind and node.
    fault_log: Vec<(SimTime, String)>,
    /// Node names, by id.
    names: Arc<[String]>,
    shops: Shops,
    workload: Option<Workload>,
    /// The workload's and the payment list's next payments, their first searches planned
    /// ahead by planner threads.
    ahead: ahead::Ahead,
    script: Script,
    /// Something a script step may wait for happened: look at the script after this event.
    poke: bool,
    channel_log: Vec<ChannelRecord>,
    /// The channels of the start, as placed in the genesis block.
    start_channels: Vec<PlacedChannel>,
    fees_earned_msat: Vec<u64>,
    forwards: Vec<u64>,
    tx_rejections: u64,
    blocks_mined: u32,
    block_interval_us: u64,
    /// Actions taken from a node, kept to reuse the allocation.
    actions: Vec<Action>,
    /// While the start state is built, messages are delivered at once, in FIFO order.
    instant: Option<VecDeque<(NodeId, NodeId, Message)>>,
    /// Every block mined, from genesis on, for nodes that catch up after a crash.
    history: Vec<MinedBlock>,
    /// The faults drawn from the seed, one at a time as the run goes.
    random_faults: Option<RandomFaults>,
    /// Random faults started so far (they are numbered after the scenario's).
    random_started: usize,
    /// Faults started that have an end still to come, by number.
    active_faults: BTreeMap<usize, Fault>,
    /// Check the invariants after every event.
    check: bool,
    /// How each node resolved each incoming HTLC (checked with `check`).
    resolutions: Resolutions,
    end: EndReason,
}

/// Every node, the most capacity in its channels of the start first (ties: the lower id).
fn largest_first(channels: &[PlacedChannel], nodes: usize) -> Vec<NodeId> {
    let mut capacity_sat = vec![0u64; nodes];
    for c in channels {
        for node in [c.def.from, c.def.to] {
            capacity_sat[node.index()] =
                capacity_sat[node.index()].saturating_add(c.def.capacity_sat);
        }
    }
    let mut order: Vec<NodeId> = (0..nodes as u32).map(NodeId).collect();
    order.sort_by_key(|n| (std::cmp::Reverse(capacity_sat[n.index()]), *n));
    order
}

impl<'a> World<'a> {
    /// The start state of `scenario`: nodes, wallets and existing channels in the genesis block,
    /// links of existing channels up, the first block and the script scheduled. `threads` is
    /// how many threads may plan payments ahead (the outputs do not depend on it).
    pub fn new(
        scenario: &'a Scenario,
        trace: TraceWriter,
        check: bool,
        threads: usize,
    ) -> World<'a> {
        let seed = scenario.seed;
        let genesis = Genesis::build(scenario);
        // One copy of the names for the world and its two kinds of links.
        let names: Arc<[String]> = scenario.nodes.iter().map(|n| n.name.clone()).collect();
        let nodes = Nodes::new(scenario.nodes.iter().enumerate().map(|(i, def)| {
            let config = def.config.clone();
            let node_seed = StreamId::Node(&def.name).seed(seed);
            let mut node = Node::new(NodeId(i as u32), config, node_seed, genesis.graph.clone());
            if scenario.views.unknown_ppm > 0 {
                let view_seed = StreamId::View(&def.name).seed(seed);
                let view_seed = u64::from_le_bytes(view_seed[..8].try_into().expect("8"));
                node.start_incomplete(view_seed, scenario.views.unknown_ppm);
            }
            node
        }));
        // Each node takes its channels of the start in the list's order, nodes on `threads`
        // threads: a node's channels are its own, so that is a pass over the list.
        let sides = genesis.sides_by_node(nodes.len());
        nodes.for_each_parallel(threads, |id, node| {
            for &(channel, end) in sides.of(id) {
                let [from, to] = genesis.channels[channel as usize].sides();
                let side = if end == 0 { from.1 } else { to.1 };
                node.add_genesis_channel(&side, &scenario.nodes[side.peer.index()].config);
            }
        });
        drop(sides);
        let mut chain = MockChain::new(scenario.chain.start_height);
        for placed in genesis.channels.iter().filter(|c| c.def.announce) {
            chain.watch_announced(placed.funding, placed.scid);
        }
        let n = nodes.len();
        let random_faults = scenario.random_faults.map(|spec| {
            let defs: Vec<&ChannelDef> = genesis.channels.iter().map(|c| &c.def).collect();
            RandomFaults::new(spec, scenario, &defs)
        });
        let workload = apps::workload(scenario, &genesis, nodes.iter());
        let mut world = World {
            scenario,
            now: SimTime::ZERO,
            queue: EventQueue::default(),
            busy: 0,
            hosts: vec![Host { online: true, life: 0, synced_height: 0 }; n],
            chain,
            links: Links::new(LinkKind::Peer, seed, names.clone(), scenario.links.clone()),
            http: Links::new(LinkKind::Http, seed, names.clone(), scenario.links.clone()),
            connecting: BTreeSet::new(),
            trace,
            results: Results::default(),
            oracle: scenario.outputs.feasibility_oracle.then(Oracle::default),
            series: None,
            faults: scenario.resolved_faults(&largest_first(&genesis.channels, n)),
            fault_log: Vec::new(),
            names,
            shops: Shops::new(scenario.shops.clone()),
            workload,
            // Only the workload's and a payment list's payments are planned ahead.
            ahead: ahead::Ahead::new(
                if scenario.workload.is_some() || scenario.payment_list.is_some() {
                    threads
                } else {
                    1
                },
                &nodes,
            ),
            script: Script::default(),
            poke: false,
            channel_log: Vec::new(),
            fees_earned_msat: vec![0; n],
            forwards: vec![0; n],
            tx_rejections: 0,
            blocks_mined: 0,
            block_interval_us: scenario.chain.block_interval_s * 1_000_000,
            actions: Vec::new(),
            // Room for the start's messages at their most: two inits a connection, then two
            // channel_reestablish a channel (connections are at most channels; it grows if a
            // node sends more); a queue that doubled its way there could hold twice as much.
            instant: Some(VecDeque::with_capacity(2 * genesis.channels.len() + 64)),
            history: Vec::new(),
            random_faults,
            start_channels: Vec::new(),
            random_started: 0,
            active_faults: BTreeMap::new(),
            check,
            resolutions: Resolutions::default(),
            end: EndReason::Idle,
            nodes,
        };
        if let Some(at) = world.workload.as_mut().and_then(|w| w.next_arrival(SimTime::ZERO)) {
            world.schedule(at, SimEvent::Payment);
        }
        if let Some(list) = &scenario.payment_list
            && let Some(&(at, ..)) = list.payments.payments.first()
        {
            world.schedule(at, SimEvent::ListPayment { index: 0 });
        }
        for (index, &(at, _)) in scenario.faults.iter().enumerate() {
            world.schedule(at, SimEvent::FaultStart { index });
        }
        world.schedule_random_fault();
        let pairs = genesis.peer_pairs();
        if let Some(interval_s) = scenario.outputs.series_interval_s {
            let start: Vec<_> = genesis
                .channels
                .iter()
                .flat_map(|c| {
                    let d = &c.def;
                    let to_msat = d.capacity_sat * 1000 - d.from_balance_msat;
                    [((c.scid, d.from), d.from_balance_msat), ((c.scid, d.to), to_msat)]
                })
                .collect();
            let interval_us = interval_s.saturating_mul(1_000_000);
            world.series = Some(SeriesRecorder::new(interval_us, n, &start));
            world.queue.push(SimTime(interval_us), SimEvent::Sample);
        }
        world.start_channels = genesis.channels;
        let block = world.chain.genesis(genesis.txs);
        // The start's block is taken on the run's threads: it spends no channel and no node has
        // an HTLC, so no node publishes to the graph every node shares (a later block may close
        // channels, and the order of the updates nodes publish must not depend on threads).
        let logged = genesis.graph.logged();
        world.connect_block(block, threads);
        assert_eq!(
            genesis.graph.logged(),
            logged,
            "invariant: the start's block publishes nothing"
        );
        // Peers of existing channels were connected before the run: their links are up and their
        // `init` messages are exchanged at time 0, before anything else happens.
        for (a, b) in pairs {
            world.link_up(a, b);
        }
        while let Some((from, to, msg)) = world.instant.as_mut().and_then(|q| q.pop_front()) {
            let epoch = world.links.epoch(from, to);
            world.handle(SimEvent::Deliver { from, to, msg: Box::new(msg), epoch });
        }
        world.instant = None;
        world.queue.push(SimTime(world.block_interval_us), SimEvent::Block);
        world.advance_script();
        world
    }

    /// What each node can send and receive now, msat: see `apps::liquidity`.
    pub fn liquidity(&self) -> (Vec<u64>, Vec<u64>) {
        apps::liquidity(self.nodes.iter())
    }

    /// The channels of the start.
    pub fn start_channels(&self) -> &[PlacedChannel] {
        &self.start_channels
    }

    fn schedule(&mut self, at: SimTime, event: SimEvent) {
        if !matches!(event, SimEvent::Block) {
            self.busy += 1;
        }
        self.queue.push(at, event);
    }

    /// Whether no running node waits on the chain (claims to make, failures to finalise) and the
    /// mempool is empty.
    fn chain_settled(&self) -> bool {
        self.chain.mempool_len() == 0
            && self.nodes.iter().zip(&self.hosts).all(|(n, h)| !h.online || !n.awaits_chain())
    }

    /// Runs until the scenario's stop condition; `progress`, if any, is told the simulated time
    /// every [`PROGRESS_EVENTS`] events.
    pub fn run(&mut self, progress: Option<Box<dyn FnMut(SimTime)>>) -> EndReason {
        self.end = self.run_loop(progress);
        self.end
    }

    fn run_loop(&mut self, mut progress: Option<Box<dyn FnMut(SimTime)>>) -> EndReason {
        let mut events = 0u64;
        while let Some(at) = self.queue.peek_time() {
            events += 1;
            if events.is_multiple_of(PROGRESS_EVENTS)
                && let Some(progress) = progress.as_mut()
            {
                progress(at);
            }
            if at > self.scenario.max_duration {
                self.now = self.scenario.max_duration;
                return EndReason::MaxDuration;
            }
            let (at, event) = self.queue.pop().expect("peeked");
            self.now = at;
            if !matches!(event, SimEvent::Block | SimEvent::Sample) {
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
                && self.script.is_done(self.scenario)
                && self.chain_settled()
            {
                return EndReason::Idle;
            }
        }
        EndReason::Idle
    }

    /// What the run leaves: its records, the nodes' final state and the funds check, and the
    /// trace for the caller to finish.
    pub fn finish(mut self) -> (RunRecord, TraceWriter) {
        let series = self.series.take().map(|mut series| {
            series.sample(self.now, &self.nodes, &self.names);
            series.into_csv()
        });
        // One snapshot of each node, one at a time, for its record and the funds check.
        let mut nodes = Vec::with_capacity(self.nodes.len());
        let snapshots = self.nodes.iter().map(|node| {
            let snapshot = node.snapshot();
            let open = snapshot.channels.iter().filter(|c| c.phase != ChannelPhase::Closed);
            let (channels, channel_balance_msat) = open.fold((0, 0), |(n, b), c| {
                (n + 1, b + c.view(node_core::htlc::View::Local).ours_msat)
            });
            nodes.push(NodeRecord {
                implementation: snapshot.implementation,
                wallet_sat: snapshot.wallet_sat,
                channels,
                channel_balance_msat,
                forwards: self.forwards[snapshot.id.index()],
                fees_earned_msat: self.fees_earned_msat[snapshot.id.index()],
            });
            snapshot
        });
        let funds = checks::funds(&self.chain, snapshots, &self.online(), &self.node_name());
        let chain = &self.chain;
        let channels = self
            .channel_log
            .into_iter()
            .map(|c| ChannelRecord {
                funding_height: chain.confirmation(&c.txid).map(|c| c.height),
                ..c
            })
            .collect();
        let record = RunRecord {
            end: self.end,
            end_time: self.now,
            results: self.results,
            orders: self.shops.into_orders(),
            channels,
            start_channels: self.start_channels,
            series,
            fault_log: self.fault_log,
            nodes,
            steps: self.script.into_steps(),
            chain: ChainRecord {
                end_height: chain.height(),
                blocks_mined: self.blocks_mined,
                miner_fees_sat: chain.miner_fees_sat(),
                rejected_txs: self.tx_rejections,
            },
            funds,
        };
        (record, self.trace)
    }

    fn handle(&mut self, event: SimEvent) {
        match event {
            SimEvent::Deliver { from, to, msg, epoch } => {
                // Handled ahead on a copy of `to` if it was worth it (`ahead`).
                let ahead = matches!(*msg, Message::RevokeAndAck(_));
                if !self.links.delivers(from, to, epoch) {
                    if ahead {
                        self.ahead.forget(to, from, self.now);
                    }
                    let fields = [u64::from(from.0), u64::from(to.0), u64::from(msg.type_number())];
                    self.trace.record(self.now, Kind::MessageLost, &fields, &[]);
                    return;
                }
                let speculation = match ahead {
                    true => self.ahead.handled(to, from, self.now),
                    false => None,
                };
                self.trace.message(self.now, u64::from(from.0), u64::from(to.0), &msg);
                let mut node = self.nodes.get(to);
                let offered = node.handle_message_speculated(self.now, from, *msg, speculation);
                drop(node);
                self.ahead.offered += u64::from(offered);
                self.collect(to);
            }
            SimEvent::Connect { from, to } => self.connection_attempted(from, to),
            SimEvent::Timer { node, timer, life } => {
                let host = self.hosts[node.index()];
                if !host.online || host.life != life {
                    return;
                }
                let (kind, fields) = trace::timer_line(u64::from(node.0), &timer);
                self.trace.record(self.now, kind, &fields, &[]);
                self.nodes.get(node).timer_fired(self.now, timer);
                self.collect(node);
            }
            SimEvent::FaultStart { index } => {
                let fault = self.faults[index].clone();
                self.start_fault(index, fault);
            }
            SimEvent::RandomFault { fault } => self.random_fault(*fault),
            SimEvent::Payment => self.workload_payment(),
            SimEvent::ListPayment { index } => self.list_payment(index),
            SimEvent::FaultEnd { index } => self.end_fault(index),
            SimEvent::Block => {
                let block = self.chain.mine();
                self.blocks_mined += 1;
                self.connect_block(block, 1);
                let next = self.now.plus_micros(self.block_interval_us);
                self.queue.push(next, SimEvent::Block);
                self.poke = true;
            }
            SimEvent::App { from, to, msg } => self.on_app(from, to, *msg),
            SimEvent::ShopPoll { shop } => self.shop_poll(shop),
            SimEvent::ScriptWake { step } => self.script_woken(step),
            SimEvent::Sample => {
                if let Some(series) = self.series.as_mut() {
                    series.sample(self.now, &self.nodes, &self.names);
                    let next = self.now.plus_micros(series.interval_us());
                    self.queue.push(next, SimEvent::Sample);
                }
            }
        }
    }

    /// A connection attempt completes: the link comes up unless a crash or a partition is in
    /// the way.
    fn connection_attempted(&mut self, from: NodeId, to: NodeId) {
        self.connecting.remove(&(from.min(to), from.max(to)));
        if self.links.is_up(from, to) {
            return;
        }
        let reachable = self.hosts[from.index()].online
            && self.hosts[to.index()].online
            && !self.links.is_cut(from, to);
        if reachable {
            self.link_up(from, to);
        } else {
            let fields = [u64::from(from.0), u64::from(to.0)];
            self.trace.record(self.now, Kind::ConnectFailed, &fields, &[]);
            if self.hosts[from.index()].online {
                self.nodes.get(from).connection_failed(self.now, to);
                self.collect(from);
            }
        }
    }

    /// Tells every running node about a mined block (each sees the transactions that concern
    /// it), nodes on `threads` threads: only where no node can write to what they share (the
    /// graph's gossip log), as the order of those writes would follow the threads.
    fn connect_block(&mut self, block: MinedBlock, threads: usize) {
        let fields = [u64::from(block.height), block.txs.len() as u64];
        self.trace.record(self.now, Kind::Block, &fields, &[]);
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
        // Every running node takes the block (a node's block is its own input), then the world
        // carries out what each asked for, in id order.
        let (hosts, now) = (&self.hosts, self.now);
        self.nodes.for_each_parallel(threads, |id, node| {
            if hosts[id.index()].online {
                let txs = per_node.get(&id).cloned().unwrap_or_default();
                node.block_connected(now, &block.notice(txs, now));
            }
        });
        for i in 0..self.nodes.len() {
            if self.hosts[i].online {
                self.hosts[i].synced_height = block.height;
                self.collect(NodeId(i as u32));
            }
        }
        self.history.push(block);
    }

    /// Brings a connection up: both nodes exchange `init` (and re-establish their channels).
    fn link_up(&mut self, a: NodeId, b: NodeId) {
        self.links.set_up(a, b, true);
        self.trace.record(self.now, Kind::LinkUp, &[u64::from(a.0), u64::from(b.0)], &[]);
        self.nodes.get(a).peer_connected(self.now, b);
        self.collect(a);
        self.nodes.get(b).peer_connected(self.now, a);
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
            if self.hosts[node.index()].online {
                self.nodes.get(node).peer_disconnected(self.now, peer);
                self.collect(node);
            }
        }
    }

    /// Runs a command on a running node: `Err(None)` if the node is down, `Err(Some(_))` if it
    /// refused the command.
    fn command(
        &mut self,
        node: NodeId,
        command: Command,
    ) -> Result<CommandOutput, Option<CommandError>> {
        self.command_planned(node, command, None)
    }

    /// [`World::command`], offering a payment's plan made ahead with it.
    fn command_planned(
        &mut self,
        node: NodeId,
        command: Command,
        planned: Option<PlannedPayment>,
    ) -> Result<CommandOutput, Option<CommandError>> {
        if !self.hosts[node.index()].online {
            return Err(None);
        }
        let out = self.nodes.get(node).command_planned(self.now, command, planned);
        self.collect(node);
        out.map_err(Some)
    }

    /// Records that the payment of `amount_msat` from `from` to `to` was refused, in the results
    /// and the trace.
    fn refused(
        &mut self,
        from: NodeId,
        to: NodeId,
        amount_msat: u64,
        router: Option<RouterConfig>,
        refusal: Refusal,
    ) {
        let router = router.unwrap_or(self.scenario.nodes[from.index()].config.router);
        let id = self.results.refused(self.now, from, to, amount_msat, &router, refusal);
        let fields = [u64::from(from.0), u64::from(to.0), id, amount_msat, refusal.code()];
        self.trace.record(self.now, Kind::PaymentRefused, &fields, &[]);
    }

    /// Carries out what node `node` asked for.
    fn collect(&mut self, node: NodeId) {
        let mut actions = std::mem::take(&mut self.actions);
        self.nodes.get(node).drain_actions(&mut actions);
        for action in actions.drain(..) {
            match action {
                Action::Send { to, msg } => {
                    if let Some(instant) = self.instant.as_mut() {
                        instant.push_back((node, to, msg));
                    } else {
                        // A new channel state is persisted before its commitment_signed or
                        // revoke_and_ack leaves (NodeConfig::persist_us); the link keeps order.
                        let persist_us = match msg {
                            Message::CommitmentSigned(_) | Message::RevokeAndAck(_) => {
                                self.scenario.nodes[node.index()].config.persist_us
                            }
                            _ => 0,
                        };
                        let departs = self.now.plus_micros(persist_us);
                        if let Some((at, epoch)) = self.links.send(node, to, departs) {
                            self.ahead.handle_ahead(to, node, at, &msg);
                            let msg = Box::new(msg);
                            self.schedule(at, SimEvent::Deliver { from: node, to, msg, epoch });
                        }
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
                            let reason = [trace::rejection_code(&rejection)];
                            self.trace.record(self.now, Kind::TxRejected, &fields, &reason);
                        }
                    }
                }
                Action::SetTimer { at, timer } => {
                    let life = self.hosts[node.index()].life;
                    self.schedule(at.max(self.now), SimEvent::Timer { node, timer, life })
                }
                Action::Emit(event) => self.on_node_event(node, event),
            }
        }
        self.actions = actions;
    }

    /// Records what a node reported and lets the parts of the world that wait on it know.
    fn on_node_event(&mut self, node: NodeId, event: Event) {
        self.results.on_event(self.now, node, &event);
        if let Some(series) = self.series.as_mut() {
            series.on_event(node, &event);
        }
        let (kind, fields, tail) = {
            let results = &self.results;
            trace::event_line(u64::from(node.0), &event, |p| {
                results.global_id(node, PaymentId(p)).unwrap_or(u64::MAX)
            })
        };
        self.trace.record(self.now, kind, &fields, &tail);
        self.poke |= self.script.on_event(node, &event);
        match event {
            Event::FundingBroadcast { channel_id, peer, txid, funding_sat, .. } => {
                self.channel_log.push(ChannelRecord {
                    channel_id,
                    opener: node,
                    peer,
                    funding_sat,
                    txid,
                    funding_height: None,
                    scid: None,
                    ready_at: None,
                    closed_at: None,
                });
            }
            Event::ChannelReady { channel_id, scid, .. } => {
                if let Some(record) =
                    self.channel_log.iter_mut().find(|c| c.channel_id == channel_id)
                {
                    record.scid = Some(scid);
                    record.ready_at = Some(self.now);
                }
            }
            Event::ChannelAnnounced { scid, funding } => self.chain.watch_announced(funding, scid),
            Event::ChannelClosed { channel_id, .. } => {
                if let Some(record) =
                    self.channel_log.iter_mut().find(|c| c.channel_id == channel_id)
                {
                    record.closed_at.get_or_insert(self.now);
                }
            }
            Event::ForwardSettled { fee_msat, in_scid, in_htlc_id } => {
                let earned = &mut self.fees_earned_msat[node.index()];
                *earned = earned.saturating_add(fee_msat);
                self.forwards[node.index()] += 1;
                self.resolved(node, in_scid, in_htlc_id, true);
            }
            Event::ForwardFailed { in_scid, in_htlc_id }
            | Event::HtlcRefused { in_scid, in_htlc_id, .. } => {
                self.resolved(node, in_scid, in_htlc_id, false);
            }
            Event::PaymentSucceeded { payment_id, .. }
            | Event::PaymentFailed { payment_id, .. } => {
                let succeeded = matches!(event, Event::PaymentSucceeded { .. });
                self.order_payment_done(node, payment_id, succeeded);
            }
            _ => {}
        }
    }
}
