//! Faults as the world carries them out: a crash takes a node's host down (its links drop, its
//! timers die with its life) and the restart brings it back to catch up with the chain; a
//! partition cuts links; a latency spike slows them; a force close (with one peer, or all) or a policy
//! change is a command to the node. Crash and restart are done here and nowhere else. Which faults happen
//! and when is the scenario's and [`crate::random_faults`]'s.

use super::{SimEvent, World};
use crate::scenario::Fault;
use crate::trace::Kind;
use node_core::NodeId;
use node_core::channel::ChannelPhase;
use node_core::node::Command;
use std::collections::BTreeSet;

impl World<'_> {
    /// Draws the next random fault, if any, and schedules it.
    pub(super) fn schedule_random_fault(&mut self) {
        if let Some((at, fault)) = self.random_faults.as_mut().and_then(Iterator::next) {
            self.schedule(at, SimEvent::RandomFault { fault: Box::new(fault) });
        }
    }

    /// A fault drawn from the seed starts: it is numbered after the scenario's, and the next
    /// one is drawn.
    pub(super) fn random_fault(&mut self, fault: Fault) {
        let index = self.scenario.faults.len() + self.random_started;
        self.random_started += 1;
        self.start_fault(index, fault);
        self.schedule_random_fault();
    }

    /// Fault number `index` starts.
    pub(super) fn start_fault(&mut self, index: usize, fault: Fault) {
        self.trace.record(self.now, Kind::FaultStarted, &[index as u64, fault.code()], &[]);
        let node = fault.node().map(|n| self.names[n.index()].as_str());
        if let Some(series) = self.series.as_mut() {
            series.fault(self.now, fault.name(), node);
        }
        let label = match node {
            Some(node) => format!("{} {node}", fault.name()),
            None => fault.name().to_string(),
        };
        self.fault_log.push((self.now, label));
        if matches!(
            fault,
            Fault::Crash { .. } | Fault::Partition { .. } | Fault::LatencySpike { .. }
        ) {
            self.active_faults.insert(index, fault.clone());
        }
        match fault {
            Fault::Crash { node, duration_us } => {
                self.crash(node);
                self.schedule(self.now.plus_micros(duration_us), SimEvent::FaultEnd { index });
            }
            Fault::ForceClose { node, peer } => {
                if self.hosts[node.index()].online {
                    // Every peer with a channel not yet closing, in id order.
                    let peers: Vec<NodeId> = match peer {
                        Some(peer) => vec![peer],
                        None => {
                            let node = self.nodes.get(node);
                            let open = node
                                .channel_snapshots()
                                .filter(|c| c.phase < ChannelPhase::ForceClosing)
                                .map(|c| c.peer);
                            open.collect::<BTreeSet<_>>().into_iter().collect()
                        }
                    };
                    for peer in peers {
                        let _ = self.command(node, Command::ForceClose { peer });
                    }
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
            Fault::SetPolicy { node, peer, change } => {
                if self.hosts[node.index()].online {
                    let _ = self.command(node, Command::SetPolicy { peer, change });
                }
            }
        }
        self.poke = true;
    }

    /// Fault number `index` ends.
    pub(super) fn end_fault(&mut self, index: usize) {
        let fault = self
            .active_faults
            .remove(&index)
            .expect("invariant: a fault ends once, after it started");
        self.trace.record(self.now, Kind::FaultEnded, &[index as u64, fault.code()], &[]);
        match fault {
            Fault::Crash { node, .. } => self.restart(node),
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

    /// The node's host goes down: its connections drop, and timers it set never fire (a new
    /// life begins). It keeps what node-core keeps; it learns nothing until it restarts.
    fn crash(&mut self, node: NodeId) {
        let host = &mut self.hosts[node.index()];
        if !host.online {
            return;
        }
        host.online = false;
        host.life += 1;
        self.trace.record(self.now, Kind::NodeDown, &[u64::from(node.0)], &[]);
        let peers: Vec<NodeId> = (0..self.nodes.len() as u32)
            .map(NodeId)
            .filter(|&p| p != node && self.links.is_up(node, p))
            .collect();
        for peer in peers {
            self.link_down(node, peer);
        }
    }

    /// The node's host comes back: the node restarts and is told the blocks it missed, in order.
    fn restart(&mut self, node: NodeId) {
        if self.hosts[node.index()].online {
            return;
        }
        self.hosts[node.index()].online = true;
        self.trace.record(self.now, Kind::NodeUp, &[u64::from(node.0)], &[]);
        self.nodes.get(node).restart(self.now);
        let first = self.history.first().map_or(0, |b| b.height);
        let from = (self.hosts[node.index()].synced_height + 1).saturating_sub(first) as usize;
        for index in from..self.history.len() {
            let block = &self.history[index];
            let notice = block.notice(block.txs_for(node), self.now);
            self.hosts[node.index()].synced_height = block.height;
            self.nodes.get(node).block_connected(self.now, &notice);
            self.collect(node);
        }
        self.collect(node);
    }
}
