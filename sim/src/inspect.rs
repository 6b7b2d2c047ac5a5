//! `boltsim inspect`: what a scenario's starting network looks like, before anything runs. It
//! builds the start as a run would (the genesis channels and every node's view of them), then
//! reports components (over channels, and over the enabled directions), degree and capacity
//! distributions, the largest hubs with their aliases, how many nodes can send or receive an
//! amount, articulation points, and what removing each of the largest hubs does to
//! reachability; `--dot` writes the network as Graphviz for small networks. Graph algorithms
//! are petgraph's; everything printed is sorted by explicit keys (petgraph's articulation points
//! come as a hash set).

use crate::genesis::PlacedChannel;
use crate::results::NodeLabels;
use crate::scenario::Scenario;
use crate::trace::{TraceHeader, TraceLevel, TraceWriter};
use crate::world::World;
use node_core::NodeId;
use petgraph::graph::{NodeIndex, UnGraph};
use petgraph::{Directed, Graph};
use std::collections::VecDeque;
use std::fmt::Write as _;

/// The most nodes `--dot` writes (Graphviz lays out a few hundred nodes legibly).
pub const MAX_DOT_NODES: usize = 500;

/// What to report.
#[derive(Clone, Debug)]
pub struct InspectOptions {
    /// The amount whose senders and receivers are counted, sat.
    pub amount_sat: u64,
    /// How many hubs to list and to remove one at a time.
    pub top: usize,
}

/// The report, as text.
pub fn report(scenario: &Scenario, options: &InspectOptions) -> String {
    let header = TraceHeader {
        scenario: scenario.name.clone(),
        scenario_sha256: scenario.file_sha256,
        seed: scenario.seed,
        level: TraceLevel::Off,
        nodes: Vec::new(),
    };
    let world =
        World::new(scenario, TraceWriter::new(Box::new(std::io::sink()), &header), false, 1);
    let labels = NodeLabels::of(scenario);
    let channels = world.start_channels();
    let n = scenario.nodes.len();
    let mut s = String::new();
    let _ = writeln!(s, "{}: {} nodes, {} channels at the start", scenario.name, n, channels.len());

    // Components over channels, and strongly connected components over enabled directions.
    let undirected = undirected(n, channels);
    let components = components(&undirected);
    let largest = components.iter().map(Vec::len).max().unwrap_or(0);
    let isolated = components.iter().filter(|c| c.len() == 1).count();
    let _ = writeln!(
        s,
        "components: {} (largest {} nodes; {} nodes without a channel)",
        components.len(),
        largest,
        isolated
    );
    let directed = directed(n, channels);
    let scc = petgraph::algo::kosaraju_scc(&directed);
    let largest_scc = scc.iter().map(Vec::len).max().unwrap_or(0);
    let _ = writeln!(
        s,
        "over enabled directions: {} strongly connected components, the largest {} nodes (a route exists each way between any two of them, balances aside)",
        scc.len(),
        largest_scc
    );

    // Degrees and capacities.
    let mut degree = vec![0u64; n];
    let mut node_capacity_sat = vec![0u64; n];
    for c in channels {
        for node in [c.def.from, c.def.to] {
            degree[node.index()] += 1;
            node_capacity_sat[node.index()] =
                node_capacity_sat[node.index()].saturating_add(c.def.capacity_sat);
        }
    }
    let with_channels: Vec<u64> = degree.iter().copied().filter(|&d| d > 0).collect();
    let _ = writeln!(
        s,
        "degree (nodes with a channel): {}; {} nodes have one channel",
        quantiles(&with_channels),
        with_channels.iter().filter(|&&d| d == 1).count()
    );
    let capacities: Vec<u64> = channels.iter().map(|c| c.def.capacity_sat).collect();
    let _ = writeln!(s, "channel capacity, sat: {}", quantiles(&capacities));
    let node_caps: Vec<u64> = node_capacity_sat.iter().copied().filter(|&c| c > 0).collect();
    let _ = writeln!(s, "node capacity, sat: {}", quantiles(&node_caps));

    // Who can send and receive the amount.
    let (send_msat, receive_msat) = world.liquidity();
    let need = options.amount_sat.saturating_mul(1000);
    let senders = send_msat.iter().filter(|&&m| m >= need).count();
    let receivers = receive_msat.iter().filter(|&&m| m >= need).count();
    let _ = writeln!(
        s,
        "{} sat: {senders} nodes can send it, {receivers} can receive it (summed over their channels, at the start; workload endpoints CanSend/CanReceive)",
        options.amount_sat
    );

    // The hubs.
    let mut by_capacity: Vec<NodeId> = (0..n as u32).map(NodeId).collect();
    by_capacity.sort_by_key(|v| (std::cmp::Reverse(node_capacity_sat[v.index()]), *v));
    let hubs: Vec<NodeId> =
        by_capacity.iter().copied().filter(|v| degree[v.index()] > 0).take(options.top).collect();
    let _ = writeln!(
        s,
        "\nlargest nodes by capacity of all their channels (what Largest(k) names in faults; a workload's Largest(n) counts only channels enabled in some direction):"
    );
    for (k, &v) in hubs.iter().enumerate() {
        let line = format!(
            "  {:>3}. {:<10} {:>5} channels {:>16} sat  {}{}",
            k + 1,
            labels.names[v.index()],
            degree[v.index()],
            node_capacity_sat[v.index()],
            labels.aliases[v.index()],
            short_key(&labels.pubkeys[v.index()])
        );
        let _ = writeln!(s, "{}", line.trim_end());
    }

    // Articulation points: nodes whose removal splits a component.
    let mut cut: Vec<NodeId> =
        petgraph::algo::articulation_points::articulation_points(&undirected)
            .into_iter()
            .map(|i| NodeId(i.index() as u32))
            .collect();
    cut.sort_by_key(|v| (std::cmp::Reverse(node_capacity_sat[v.index()]), *v));
    let _ = writeln!(
        s,
        "\narticulation points (removing one splits its component): {}{}",
        cut.len(),
        if cut.is_empty() { String::new() } else { "; the largest:".into() }
    );
    for &v in cut.iter().take(options.top) {
        let line = format!("  {:<10} {}", labels.names[v.index()], labels.aliases[v.index()]);
        let _ = writeln!(s, "{}", line.trim_end());
    }

    // Removing each hub: how many nodes of the largest component lose it.
    let _ = writeln!(s, "\nremoving one node (the largest component has {largest} nodes):");
    for &v in &hubs {
        let after = largest_component_without(&undirected, v);
        let _ = writeln!(
            s,
            "  without {:<10} the largest component has {} nodes: {} others cut off",
            labels.names[v.index()],
            after,
            largest.saturating_sub(after + 1)
        );
    }
    s
}

/// The network as Graphviz text (undirected, edges labelled with capacities in sat), or why not.
pub fn dot(scenario: &Scenario) -> Result<String, String> {
    let n = scenario.nodes.len();
    if n > MAX_DOT_NODES {
        return Err(format!(
            "{n} nodes: --dot writes at most {MAX_DOT_NODES} (Graphviz cannot lay out more legibly)"
        ));
    }
    let genesis = crate::genesis::Genesis::build(scenario);
    let mut graph: UnGraph<&str, u64> = UnGraph::new_undirected();
    let ids: Vec<NodeIndex> =
        scenario.nodes.iter().map(|d| graph.add_node(d.name.as_str())).collect();
    for c in &genesis.channels {
        graph.add_edge(ids[c.def.from.index()], ids[c.def.to.index()], c.def.capacity_sat);
    }
    Ok(format!("{}", petgraph::dot::Dot::new(&graph)))
}

/// The channels as an undirected graph over every node (node index = node id).
fn undirected(n: usize, channels: &[PlacedChannel]) -> UnGraph<(), ()> {
    let mut graph = UnGraph::with_capacity(n, channels.len());
    for _ in 0..n {
        graph.add_node(());
    }
    for c in channels {
        graph.add_edge(NodeIndex::new(c.def.from.index()), NodeIndex::new(c.def.to.index()), ());
    }
    graph
}

/// The enabled channel directions as a directed graph over every node.
fn directed(n: usize, channels: &[PlacedChannel]) -> Graph<(), (), Directed> {
    let mut graph = Graph::with_capacity(n, 2 * channels.len());
    for _ in 0..n {
        graph.add_node(());
    }
    for c in channels {
        let (a, b) = (NodeIndex::new(c.def.from.index()), NodeIndex::new(c.def.to.index()));
        if !c.def.from_disabled {
            graph.add_edge(a, b, ());
        }
        if !c.def.to_disabled {
            graph.add_edge(b, a, ());
        }
    }
    graph
}

/// The connected components, each a list of node indexes.
fn components(graph: &UnGraph<(), ()>) -> Vec<Vec<usize>> {
    let mut seen = vec![false; graph.node_count()];
    let mut out = Vec::new();
    for start in 0..graph.node_count() {
        if seen[start] {
            continue;
        }
        seen[start] = true;
        let mut component = vec![start];
        let mut queue = VecDeque::from([start]);
        while let Some(u) = queue.pop_front() {
            for v in graph.neighbors(NodeIndex::new(u)) {
                if !seen[v.index()] {
                    seen[v.index()] = true;
                    component.push(v.index());
                    queue.push_back(v.index());
                }
            }
        }
        out.push(component);
    }
    out
}

/// The size of the largest connected component once `removed` is gone.
fn largest_component_without(graph: &UnGraph<(), ()>, removed: NodeId) -> usize {
    let mut seen = vec![false; graph.node_count()];
    seen[removed.index()] = true;
    let mut largest = 0;
    for start in 0..graph.node_count() {
        if seen[start] {
            continue;
        }
        seen[start] = true;
        let mut size = 0;
        let mut queue = VecDeque::from([start]);
        while let Some(u) = queue.pop_front() {
            size += 1;
            for v in graph.neighbors(NodeIndex::new(u)) {
                if !seen[v.index()] {
                    seen[v.index()] = true;
                    queue.push_back(v.index());
                }
            }
        }
        largest = largest.max(size);
    }
    largest
}

/// Median, 90th and 99th percentiles and the largest of `values`.
fn quantiles(values: &[u64]) -> String {
    if values.is_empty() {
        return "none".into();
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let at = |q: usize| sorted[(sorted.len() - 1) * q / 100];
    format!(
        "median {}, p90 {}, p99 {}, max {} (of {})",
        at(50),
        at(90),
        at(99),
        sorted[sorted.len() - 1],
        sorted.len()
    )
}

/// A public key's first 16 hex digits, in parentheses (empty if none).
fn short_key(key: &str) -> String {
    if key.is_empty() { String::new() } else { format!(" ({}…)", &key[..key.len().min(16)]) }
}
