//! The script runner: a scenario's steps run one after the other, each started by commands to
//! its nodes and done once what it waits for happens (a connection, a funding, a channel ready
//! or closed, an order delivered, a payment ended, a time or a height reached). It keeps a record
//! of every step it started. Nodes are reached only through commands and their snapshots; the
//! world tells the runner what nodes reported and when to look again.

use super::{SimEvent, World};
use crate::results::Refusal;
use crate::scenario::{Scenario, Step};
use crate::shop::OrderStatus;
use crate::trace::Kind;
use node_core::channel::ChannelPhase;
use node_core::event::Event;
use node_core::node::{Command, CommandError, CommandOutput};
use node_core::payment::{PaymentId, PaymentStatus};
use node_core::{ChannelId, NodeId, SimTime};
use std::collections::BTreeMap;

/// A script step and when it ran.
#[derive(Clone, Debug)]
pub struct StepRecord {
    /// Its index.
    pub index: usize,
    /// The step.
    pub step: Step,
    /// When it started.
    pub started_at: SimTime,
    /// When it ended.
    pub ended_at: Option<SimTime>,
    /// Whether it succeeded.
    pub ok: bool,
    /// Why it could not start: a node was down (`node_offline`, `payer_offline`,
    /// `payee_offline`) or refused the command (the refusal's name).
    pub refused: Option<&'static str>,
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

/// Where the script stands.
#[derive(Default)]
pub(super) struct Script {
    /// The step running (or next to run).
    step: usize,
    /// What it waits for.
    wait: Option<Wait>,
    /// Every step started so far.
    steps: Vec<StepRecord>,
    /// Channels opened by steps, by (opener, temporary id): the permanent id once the funding
    /// is broadcast, `None` if the open failed.
    opened: BTreeMap<(NodeId, ChannelId), Option<ChannelId>>,
    /// The channel last opened between two nodes (smaller id first).
    last_opened: BTreeMap<(NodeId, NodeId), ChannelId>,
    /// Channels a `Close` step waits for, (node, channel), in step order.
    closing: Vec<(NodeId, ChannelId)>,
}

impl Script {
    /// Whether every step of `scenario` has run.
    pub(super) fn is_done(&self, scenario: &Scenario) -> bool {
        self.wait.is_none() && self.step >= scenario.script.len()
    }

    /// Takes note of what a node reported; true if a step may be waiting for it.
    pub(super) fn on_event(&mut self, node: NodeId, event: &Event) -> bool {
        match *event {
            Event::FundingBroadcast { channel_id, temporary_channel_id, peer, .. } => {
                self.opened.insert((node, temporary_channel_id), Some(channel_id));
                self.last_opened.insert((node.min(peer), node.max(peer)), channel_id);
                true
            }
            Event::ChannelOpenFailed { temporary_channel_id, .. } => {
                self.opened.entry((node, temporary_channel_id)).or_insert(None);
                true
            }
            Event::ChannelReady { .. }
            | Event::ChannelClosed { .. }
            | Event::PaymentSucceeded { .. }
            | Event::PaymentFailed { .. }
            | Event::PeerConnected { .. } => true,
            _ => false,
        }
    }

    /// The steps started, in order.
    pub(super) fn into_steps(self) -> Vec<StepRecord> {
        self.steps
    }
}

/// The name of a command's refusal: the node was down, or refused it.
fn refusal(error: Option<CommandError>) -> &'static str {
    error.map_or("node_offline", |e| e.name())
}

impl World<'_> {
    /// Finishes waits that are met and starts the following steps, until one must wait.
    pub(super) fn advance_script(&mut self) {
        loop {
            if let Some(wait) = self.script.wait {
                match self.wait_outcome(wait) {
                    None => return,
                    Some(ok) => self.finish_step(ok),
                }
            }
            let index = self.script.step;
            let Some(step) = self.scenario.script.get(index).cloned() else { return };
            self.script.steps.push(StepRecord {
                index,
                step: step.clone(),
                started_at: self.now,
                ended_at: None,
                ok: false,
                refused: None,
            });
            match self.start_step(&step) {
                Ok(wait) => self.script.wait = Some(wait),
                Err(refused) => {
                    self.script.wait = None;
                    if let Some(record) = self.script.steps.last_mut() {
                        record.refused = Some(refused);
                    }
                    self.finish_step(false);
                }
            }
        }
    }

    /// A `Sleep` step's time is up.
    pub(super) fn script_woken(&mut self, step: usize) {
        if self.script.step == step && self.script.wait == Some(Wait::Wake) {
            self.poke = true;
            self.finish_step(true);
        }
    }

    fn finish_step(&mut self, ok: bool) {
        let kind = if ok { Kind::StepDone } else { Kind::StepFailed };
        self.trace.record(self.now, kind, &[self.script.step as u64], &[]);
        if let Some(record) = self.script.steps.last_mut() {
            record.ended_at = Some(self.now);
            record.ok = ok;
        }
        self.script.wait = None;
        self.script.step += 1;
    }

    /// Starts `step`: what it waits for, or why it could not start.
    fn start_step(&mut self, step: &Step) -> Result<Wait, &'static str> {
        match *step {
            Step::Connect { from, to } => {
                self.command(from, Command::Connect { peer: to }).map_err(refusal)?;
                Ok(Wait::Connected { from, to })
            }
            Step::FundChannel { from, to, amount_sat, push_msat, announce } => {
                let command = Command::FundChannel { peer: to, amount_sat, push_msat, announce };
                match self.command(from, command).map_err(refusal)? {
                    CommandOutput::Opening(temporary) => {
                        Ok(Wait::Funding { node: from, temporary })
                    }
                    other => unreachable!("fundchannel answers with a channel: {other:?}"),
                }
            }
            Step::WaitChannelReady { from, to } => {
                let channel = self.script.last_opened.get(&(from.min(to), from.max(to))).copied();
                Ok(Wait::ChannelReady { from, to, channel })
            }
            Step::Buy { customer, shop, item } => {
                let order = self.buy(customer, shop, item);
                Ok(Wait::Order { order })
            }
            Step::Pay { from, to, amount_msat, router } => {
                let payment = self.pay(from, to, amount_msat, router).map_err(Refusal::name)?;
                Ok(Wait::Payment { node: from, payment })
            }
            Step::Keysend { from, to, amount_msat, router } => {
                let payment = self.keysend(from, to, amount_msat, router).map_err(Refusal::name)?;
                Ok(Wait::Payment { node: from, payment })
            }
            Step::Close { from, to } => {
                let first = self.script.closing.len();
                let open: Vec<ChannelId> = self
                    .nodes
                    .get(from)
                    .channel_snapshots()
                    .filter(|c| c.peer == to && c.phase == ChannelPhase::Normal)
                    .map(|c| c.id)
                    .collect();
                self.script.closing.extend(open.iter().map(|&id| (from, id)));
                self.command(from, Command::CloseChannel { peer: to }).map_err(refusal)?;
                Ok(Wait::Closed { node: from, first, count: open.len() })
            }
            Step::Sleep { duration_us } => {
                let step = self.script.step;
                self.schedule(self.now.plus_micros(duration_us), SimEvent::ScriptWake { step });
                Ok(Wait::Wake)
            }
            Step::WaitBlocks { blocks } => {
                Ok(Wait::Height { height: self.chain.height().saturating_add(blocks) })
            }
        }
    }

    /// `Some(ok)` once the wait is over.
    fn wait_outcome(&self, wait: Wait) -> Option<bool> {
        let has_channel = |a: NodeId, b: NodeId, id: Option<ChannelId>, phase: ChannelPhase| {
            self.nodes
                .get(a)
                .channel_snapshots()
                .any(|c| c.peer == b && id.is_none_or(|id| c.id == id) && c.phase == phase)
        };
        match wait {
            Wait::Connected { from, to } => {
                // One node locked at a time.
                let from_ready = self.nodes.get(from).is_peer_ready(to);
                (from_ready && self.nodes.get(to).is_peer_ready(from)).then_some(true)
            }
            Wait::Funding { node, temporary } => {
                self.script.opened.get(&(node, temporary)).map(|channel| channel.is_some())
            }
            Wait::ChannelReady { from, to, channel } => {
                let normal = ChannelPhase::Normal;
                (has_channel(from, to, channel, normal) && has_channel(to, from, channel, normal))
                    .then_some(true)
            }
            Wait::Order { order } => match self.shops.order(order).status {
                OrderStatus::Delivered => Some(true),
                OrderStatus::Failed => Some(false),
                _ => None,
            },
            Wait::Payment { node, payment } => {
                match self.nodes.get(node).payment(payment)?.status {
                    PaymentStatus::InFlight => None,
                    PaymentStatus::Succeeded { .. } => Some(true),
                    PaymentStatus::Failed { .. } => Some(false),
                }
            }
            Wait::Closed { node, first, count } => {
                let closed = |&(_, id): &(NodeId, ChannelId)| {
                    self.nodes
                        .get(node)
                        .channel_snapshots()
                        .any(|c| c.id == id && c.phase == ChannelPhase::Closed)
                };
                self.script.closing[first..first + count].iter().all(closed).then_some(true)
            }
            Wait::Wake => None,
            Wait::Height { height } => (self.chain.height() >= height).then_some(true),
        }
    }
}
