//! `boltsim inspect` on hand-checked networks (issue 14, item 10): components, hubs by
//! capacity, articulation points and what removing a hub cuts off.

use sim::inspect::{InspectOptions, dot, report};
use sim::scenario::Scenario;

/// A line a-b-c-d (1M sat each, all at the opener) and, apart, e-f.
fn line() -> Scenario {
    let text = r#"Scenario(
        name: "line", seed: 1,
        nodes: [(name: "a"), (name: "b"), (name: "c"), (name: "d"), (name: "e"), (name: "f")],
        channels: [
            (from: "a", to: "b", capacity_sat: 1_000_000),
            (from: "b", to: "c", capacity_sat: 1_000_000),
            (from: "c", to: "d", capacity_sat: 2_000_000),
            (from: "e", to: "f", capacity_sat: 500_000),
        ],
    )"#;
    Scenario::parse("line.ron", text).unwrap()
}

#[test]
fn inspect_reports_components_hubs_cuts_and_removals() {
    let text = report(&line(), &InspectOptions { amount_sat: 600_000, top: 2 });
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "line: 6 nodes, 4 channels at the start");
    assert_eq!(lines[1], "components: 2 (largest 4 nodes; 0 nodes without a channel)");
    // Every direction is enabled: the two components are the strongly connected ones.
    assert!(
        lines[2]
            .starts_with("over enabled directions: 2 strongly connected components, the largest 4"),
        "{text}"
    );
    // a, b and c each hold about 1M or 2M sat; e 500k: three can send 600k; b, c, d receive it.
    assert!(text.contains("600000 sat: 3 nodes can send it, 3 can receive it"), "{text}");
    // c has 3M sat of channels, b and d 2M (b first: the lower id).
    assert!(text.contains("    1. c              2 channels          3000000 sat\n"), "{text}");
    assert!(text.contains("    2. b              2 channels          2000000 sat\n"), "{text}");
    assert!(text.contains("articulation points (removing one splits its component): 2"), "{text}");
    assert!(
        text.contains("without c          the largest component has 2 nodes: 1 others cut off"),
        "{text}"
    );
    assert_eq!(
        report(&line(), &InspectOptions { amount_sat: 600_000, top: 2 }),
        text,
        "the same twice"
    );
}

#[test]
fn dot_writes_small_networks_and_refuses_large_ones() {
    let text = dot(&line()).unwrap();
    assert!(text.starts_with("graph {"), "{text}");
    assert!(
        text.contains("[ label = \"d\" ]") && text.contains("[ label = \"2000000\" ]"),
        "{text}"
    );
    let big = Scenario::parse(
        "big.ron",
        r#"Scenario(name: "big", generate: (kind: Ring, nodes: 501, capacity: (min_sat: 100_000, max_sat: 100_000)))"#,
    )
    .unwrap();
    assert_eq!(
        dot(&big).unwrap_err(),
        "501 nodes: --dot writes at most 500 (Graphviz cannot lay out more legibly)"
    );
}
