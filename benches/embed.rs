//! Embedding throughput: one text, 32 short texts, 32 code snippets (benches/data/embed_texts.json).
//! Run `scripts/setup embed` first. `scripts/bench_embed_python.py` runs the same cases with
//! Python onnxruntime for comparison; docs/benchmarks.md has the figures.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use skillforge::embed::{Embedder, OnnxEmbedder, OnnxEmbedderConfig};

#[derive(serde::Deserialize)]
struct Texts {
    one: String,
    short: Vec<String>,
    code: Vec<String>,
}

fn embed(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data/embed_texts.json");
    let texts: Texts = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // One session, as in the Python script: a batch of 32 is one model run either way.
    let config = OnnxEmbedderConfig {
        sessions: 1,
        ..OnnxEmbedderConfig::from_env().unwrap_or_else(|e| panic!("{e}"))
    };
    let embedder = OnnxEmbedder::load(config).unwrap_or_else(|e| panic!("{e}"));
    let one = [texts.one.as_str()];
    let short: Vec<&str> = texts.short.iter().map(String::as_str).collect();
    let code: Vec<&str> = texts.code.iter().map(String::as_str).collect();

    let mut group = c.benchmark_group("embed");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (name, batch) in [
        ("one_text", &one[..]),
        ("short_x32", &short),
        ("code_x32", &code),
    ] {
        group.throughput(Throughput::Elements(batch.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| embedder.embed(black_box(batch)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, embed);
criterion_main!(benches);
