//! Criterion benchmarks of the sandbox. `skillforge bench sandbox` prints the same workloads
//! beside a node-subprocess baseline; see docs/benchmarks.md.

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use skillforge::bench::{self, FIFTY_LINE_INPUT, FIFTY_LINES, HOST_CALLS, TRIVIAL};

fn sandbox_calls(c: &mut Criterion) {
    let sandbox = bench::sandbox().expect("sandbox starts");
    let mut group = c.benchmark_group("sandbox");
    group.bench_function("trivial_call", |b| {
        b.iter(|| bench::time_calls(&sandbox, TRIVIAL, &[json!(1)], 1).unwrap())
    });
    group.bench_function("fifty_line_skill", |b| {
        b.iter(|| bench::time_calls(&sandbox, FIFTY_LINES, &[json!(FIFTY_LINE_INPUT)], 1).unwrap())
    });
    group.bench_function("hundred_host_calls", |b| {
        b.iter(|| bench::time_calls(&sandbox, HOST_CALLS, &[json!(100)], 1).unwrap())
    });
    group.bench_function("hundred_loop_iterations_baseline", |b| {
        b.iter(|| bench::time_calls(&sandbox, HOST_CALLS, &[json!(-100)], 1).unwrap())
    });
    group.sample_size(10);
    group.bench_function("cold_start_cached_module", |b| {
        b.iter(|| {
            let fresh = bench::sandbox().unwrap();
            bench::time_calls(&fresh, TRIVIAL, &[json!(1)], 1).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, sandbox_calls);
criterion_main!(benches);
