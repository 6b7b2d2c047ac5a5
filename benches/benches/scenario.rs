//! A whole run: the bundled cat-store scenario, trace off, from loading to summary.

use criterion::{Criterion, criterion_group, criterion_main};
use sim::scenario::Scenario;
use std::path::Path;

fn cat_store(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/cat_store.ron");
    let scenario = Scenario::load(&path).expect("bundled scenario");
    c.bench_function("run/cat_store", |b| {
        b.iter(|| sim::run(&scenario, sim::RunOptions::without_trace()).expect("runs"))
    });
}

criterion_group!(benches, cat_store);
criterion_main!(benches);
