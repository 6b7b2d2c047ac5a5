//! node-core alone, through its in-process test network: one payment across a line of four nodes
//! (three hops, each a full BOLT 2 commitment dance forward and the fulfil back), per iteration.
//! What the simulator adds around it (links, events, traces) is not measured here.

use criterion::{Criterion, criterion_group, criterion_main};
use node_core::testing::TestNet;

fn line_payment(c: &mut Criterion) {
    let mut net = TestNet::new(4);
    for (a, b) in [(0, 1), (1, 2), (2, 3)] {
        net.open_channel(a, b, 16_000_000, 0, true);
    }
    net.mine(6);
    net.advance(180);
    net.discard_routine_events();
    c.bench_function("htlc/three_hop_payment", |b| b.iter(|| net.pay_ok(0, 3, 10_000)));
}

criterion_group!(benches, line_payment);
criterion_main!(benches);
