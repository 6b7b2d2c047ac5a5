//! Faults drawn from the seed, as the run goes. Each kind arrives as a Poisson process at its
//! rate — per node for crashes, partitions and latency spikes, per channel of the start for
//! unilateral closes — from its own stream ([`StreamId::FaultCrash`] and its siblings), so
//! changing one rate leaves the other kinds' schedules unchanged. A process draws one fault at a
//! time (its parameters, then when the next one arrives), and the world asks for the next fault
//! only when the previous one starts: memory holds one pending arrival per process, whatever the
//! rates and however far `end_s` is. This module only draws; the world carries faults out.

use crate::rng::{Stream, StreamId};
use crate::scenario::{ChannelDef, Fault, RandomFaultsSpec, Scenario};
use node_core::{NodeId, SimTime};
use std::collections::{BTreeMap, BTreeSet};

const DAY_US: f64 = 86_400_000_000.0;

/// What a process draws.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Node crashes.
    Crash(NodeId),
    /// Partitions isolating a node from its channel peers.
    Partition(NodeId),
    /// Latency spikes on a node's links.
    Spike(NodeId),
    /// Unilateral closes of a channel of the start, by either end: (opener, other end).
    Close(NodeId, NodeId),
}

impl Kind {
    /// The tie-break between faults at one microsecond: the fault kind's trace code (1 crash,
    /// 2 force close, 3 partition, 4 spike).
    fn code(self) -> u8 {
        match self {
            Kind::Crash(_) => 1,
            Kind::Close(..) => 2,
            Kind::Partition(_) => 3,
            Kind::Spike(_) => 4,
        }
    }
}

/// One Poisson process: a kind of fault for one subject (a node, or a channel), with its stream.
struct Process {
    kind: Kind,
    /// The node's id, or the channel's index: the second tie-break.
    subject: u64,
    stream: Stream,
    /// Mean time between arrivals, µs.
    mean_us: u64,
}

/// The random faults of a run, drawn one at a time in time order.
pub struct RandomFaults {
    spec: RandomFaultsSpec,
    end_us: u64,
    processes: Vec<Process>,
    /// The next arrival of each process that has one, as (time µs, kind code, subject, process).
    pending: BTreeSet<(u64, u8, u64, usize)>,
    /// Each node's links to its channel peers, (smaller id, larger id), sorted.
    links: BTreeMap<NodeId, Vec<(NodeId, NodeId)>>,
}

impl RandomFaults {
    /// The processes `spec` sets up for `scenario`, whose channels at the start are `channels`,
    /// each with its first arrival drawn.
    pub fn new(spec: RandomFaultsSpec, scenario: &Scenario, channels: &[&ChannelDef]) -> Self {
        let seed = scenario.seed;
        let mut links: BTreeMap<NodeId, Vec<(NodeId, NodeId)>> = BTreeMap::new();
        for c in channels {
            let link = (c.from.min(c.to), c.from.max(c.to));
            links.entry(c.from).or_default().push(link);
            links.entry(c.to).or_default().push(link);
        }
        for node_links in links.values_mut() {
            node_links.sort();
            node_links.dedup();
        }
        let mut faults = RandomFaults {
            spec,
            end_us: spec.end_s.saturating_mul(1_000_000),
            processes: Vec::new(),
            pending: BTreeSet::new(),
            links,
        };
        let add = |faults: &mut RandomFaults,
                   kind: Kind,
                   subject: u64,
                   id: StreamId<'_>,
                   per_day: f64| {
            if per_day > 0.0 {
                let mean_us = (DAY_US / per_day).max(1.0) as u64;
                faults.processes.push(Process { kind, subject, stream: id.stream(seed), mean_us });
                faults.schedule(faults.processes.len() - 1, spec.start_s.saturating_mul(1_000_000));
            }
        };
        for (index, def) in scenario.nodes.iter().enumerate() {
            let node = NodeId(index as u32);
            let crashes = spec.crashes_per_node_day;
            add(
                &mut faults,
                Kind::Crash(node),
                index as u64,
                StreamId::FaultCrash(&def.name),
                crashes,
            );
            if !faults.links.contains_key(&node) {
                continue;
            }
            let (partitions, spikes) = (spec.partitions_per_node_day, spec.spikes_per_node_day);
            let partition = StreamId::FaultPartition(&def.name);
            add(&mut faults, Kind::Partition(node), index as u64, partition, partitions);
            add(
                &mut faults,
                Kind::Spike(node),
                index as u64,
                StreamId::FaultSpike(&def.name),
                spikes,
            );
        }
        for (index, c) in channels.iter().enumerate() {
            let closes = spec.force_closes_per_channel_day;
            add(
                &mut faults,
                Kind::Close(c.from, c.to),
                index as u64,
                StreamId::FaultClose(index),
                closes,
            );
        }
        faults
    }

    /// Draws process `index`'s next arrival after `after_us`; it is pending unless it falls at
    /// or past the end.
    fn schedule(&mut self, index: usize, after_us: u64) {
        let process = &mut self.processes[index];
        let at = after_us.saturating_add(process.stream.exponential(process.mean_us).max(1));
        if at < self.end_us {
            self.pending.insert((at, process.kind.code(), process.subject, index));
        }
    }
}

impl Iterator for RandomFaults {
    type Item = (SimTime, Fault);

    /// The next fault, by time (then kind and subject), with its parameters drawn; the process
    /// it comes from draws its following arrival.
    fn next(&mut self) -> Option<(SimTime, Fault)> {
        let (at, _, _, index) = self.pending.pop_first()?;
        let spec = self.spec;
        let process = &mut self.processes[index];
        let fault = match process.kind {
            Kind::Crash(node) => {
                let duration_s = process.stream.range_inclusive(spec.crash_min_s, spec.crash_max_s);
                Fault::Crash { node, duration_us: duration_s * 1_000_000 }
            }
            Kind::Partition(node) => {
                let duration_s =
                    process.stream.range_inclusive(spec.partition_min_s, spec.partition_max_s);
                Fault::Partition {
                    links: self.links[&node].clone(),
                    duration_us: duration_s * 1_000_000,
                }
            }
            Kind::Spike(node) => Fault::LatencySpike {
                links: self.links[&node].clone(),
                extra_us: spec.spike_extra_ms * 1000,
                duration_us: spec.spike_s * 1_000_000,
            },
            Kind::Close(from, to) => {
                let (node, peer) =
                    if process.stream.below(2) == 0 { (from, to) } else { (to, from) };
                Fault::ForceClose { node, peer: Some(peer) }
            }
        };
        self.schedule(index, at);
        Some((SimTime(at), fault))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(text: &str) -> Scenario {
        Scenario::parse("faults.ron", text).unwrap()
    }

    /// Every fault of the run, drawn to the end.
    fn all(faults: &mut RandomFaults) -> Vec<(SimTime, Fault)> {
        std::iter::from_fn(|| faults.next()).collect()
    }

    #[test]
    fn arrivals_follow_their_rate_in_time_order() {
        let s = scenario(
            r#"Scenario(name: "f", seed: 3, nodes: [(name: "a"), (name: "b")],
               channels: [(from: "a", to: "b", capacity_sat: 1_000_000)],
               random_faults: (end_s: 8_640_000, crashes_per_node_day: 24.0))"#,
        );
        let spec = s.random_faults.unwrap();
        let channels: Vec<&ChannelDef> = s.channels.iter().collect();
        let drawn = all(&mut RandomFaults::new(spec, &s, &channels));
        // 24 a day for 100 days, on each of two nodes: about 4,800.
        assert!((4_500..5_100).contains(&drawn.len()), "{}", drawn.len());
        assert!(drawn.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
        assert!(drawn.iter().all(|(at, _)| at.as_micros() < 8_640_000_000_000));
    }

    /// Regression (issue 12): a huge rate with a far end drew every fault up front and ran out
    /// of memory; drawn as the run goes, taking the first ones costs nothing more.
    #[test]
    fn regression_a_huge_rate_with_a_far_end_is_drawn_as_the_run_goes() {
        let s = scenario(
            r#"Scenario(name: "f", nodes: [(name: "a")],
               random_faults: (end_s: 315_360_000, crashes_per_node_day: 1_000_000.0))"#,
        );
        let mut faults = RandomFaults::new(s.random_faults.unwrap(), &s, &[]);
        assert_eq!(faults.pending.len(), 1, "one pending arrival per process");
        let first_day: Vec<(SimTime, Fault)> = std::iter::from_fn(|| faults.next())
            .take_while(|(at, _)| at.as_secs() < 86_400)
            .collect();
        assert!((990_000..1_010_000).contains(&first_day.len()), "{}", first_day.len());
        assert_eq!(faults.pending.len(), 1);
    }
}
