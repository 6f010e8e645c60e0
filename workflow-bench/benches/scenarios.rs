//! criterion benchmarks: each scenario at n = 1000, framework and floor.
//! `cargo bench -p workflow-bench`; the comparison across sizes is
//! `cargo run --release -p workflow-bench --bin compare`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use workflow_bench::Scenario;

const N: u64 = 1000;

fn scenarios(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for scenario in Scenario::ALL {
        let mut group = c.benchmark_group(scenario.name());
        let events = runtime.block_on(scenario.framework(N));
        group.throughput(Throughput::Elements(events));
        group.bench_with_input(BenchmarkId::new("framework", N), &N, |b, &n| {
            b.to_async(&runtime).iter(|| scenario.framework(n))
        });
        group.bench_with_input(BenchmarkId::new("floor", N), &N, |b, &n| {
            b.to_async(&runtime).iter(|| scenario.floor(n))
        });
        group.finish();
    }
}

criterion_group!(benches, scenarios);
criterion_main!(benches);
