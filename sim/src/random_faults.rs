//! Faults drawn from the seed. Each kind arrives as a Poisson process at its rate — per node for
//! crashes, partitions and latency spikes, per channel of the start for unilateral closes — from
//! its own stream ([`StreamId::FaultCrash`] and its siblings), so changing one rate leaves the
//! other kinds' schedules unchanged. This module only draws the schedule (genesis calls it); the
//! world carries faults out.

use crate::rng::{Stream, StreamId};
use crate::scenario::{ChannelDef, Fault, RandomFaultsSpec, Scenario};
use node_core::{NodeId, SimTime};

const DAY_US: f64 = 86_400_000_000.0;

/// Arrival times of a Poisson process of `per_day` events a day between `start_us` and
/// `end_us`.
fn arrivals(stream: &mut Stream, per_day: f64, start_us: u64, end_us: u64) -> Vec<u64> {
    let mut times = Vec::new();
    if per_day <= 0.0 {
        return times;
    }
    let mean_us = (DAY_US / per_day).max(1.0) as u64;
    let mut at = start_us;
    loop {
        at = at.saturating_add(stream.exponential(mean_us).max(1));
        if at >= end_us {
            return times;
        }
        times.push(at);
    }
}

/// The faults `spec` draws for `scenario`, whose channels at the start are `channels`, sorted by
/// time (then by kind and subject).
pub fn draw(
    spec: &RandomFaultsSpec,
    scenario: &Scenario,
    channels: &[&ChannelDef],
) -> Vec<(SimTime, Fault)> {
    let seed = scenario.seed;
    let (start_us, end_us) = (spec.start_s * 1_000_000, spec.end_s * 1_000_000);
    let mut faults: Vec<(SimTime, u64, u64, Fault)> = Vec::new();
    let peers_of = |node: NodeId| -> Vec<(NodeId, NodeId)> {
        let mut links: Vec<(NodeId, NodeId)> = channels
            .iter()
            .filter(|c| c.from == node || c.to == node)
            .map(|c| (c.from.min(c.to), c.from.max(c.to)))
            .collect();
        links.sort();
        links.dedup();
        links
    };
    for (index, def) in scenario.nodes.iter().enumerate() {
        let node = NodeId(index as u32);
        let mut stream = StreamId::FaultCrash(&def.name).stream(seed);
        for at in arrivals(&mut stream, spec.crashes_per_node_day, start_us, end_us) {
            let duration_us =
                stream.range_inclusive(spec.crash_min_s, spec.crash_max_s) * 1_000_000;
            faults.push((SimTime(at), 1, index as u64, Fault::Crash { node, duration_us }));
        }
        let links = peers_of(node);
        if links.is_empty() {
            continue;
        }
        let mut stream = StreamId::FaultPartition(&def.name).stream(seed);
        for at in arrivals(&mut stream, spec.partitions_per_node_day, start_us, end_us) {
            let duration_us =
                stream.range_inclusive(spec.partition_min_s, spec.partition_max_s) * 1_000_000;
            let fault = Fault::Partition { links: links.clone(), duration_us };
            faults.push((SimTime(at), 3, index as u64, fault));
        }
        let mut stream = StreamId::FaultSpike(&def.name).stream(seed);
        for at in arrivals(&mut stream, spec.spikes_per_node_day, start_us, end_us) {
            let fault = Fault::LatencySpike {
                links: links.clone(),
                extra_us: spec.spike_extra_ms * 1000,
                duration_us: spec.spike_s * 1_000_000,
            };
            faults.push((SimTime(at), 4, index as u64, fault));
        }
    }
    for (index, channel) in channels.iter().enumerate() {
        let mut stream = StreamId::FaultClose(index).stream(seed);
        for at in arrivals(&mut stream, spec.force_closes_per_channel_day, start_us, end_us) {
            let (node, peer) = if stream.below(2) == 0 {
                (channel.from, channel.to)
            } else {
                (channel.to, channel.from)
            };
            faults.push((SimTime(at), 2, index as u64, Fault::ForceClose { node, peer }));
        }
    }
    faults.sort_by_key(|(at, kind, subject, _)| (*at, *kind, *subject));
    faults.into_iter().map(|(at, _, _, fault)| (at, fault)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_arrivals_have_the_right_rate() {
        let mut stream = Stream::new(1, "t");
        // 24 a day over 1000 days: about 24_000 events.
        let n = arrivals(&mut stream, 24.0, 0, 1000 * 86_400_000_000).len();
        assert!((23_000..25_000).contains(&n), "{n}");
        assert!(arrivals(&mut stream, 0.0, 0, u64::MAX).is_empty());
    }
}
