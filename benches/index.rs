//! Vector index benchmark: ingestion rate, hybrid search latency (p50/p99), dense
//! recall@10 against exact brute-force cosine, and the same for searches filtered to a
//! small namespace (1% of the points).
//!
//! Run: `cargo bench --bench index` (sizes from `SKILLFORGE_BENCH_SIZES`, default
//! `1000,10000,100000`; data sets from `SKILLFORGE_BENCH_DATA`, default
//! `random,clustered`). The in-process `EdgeIndex` always runs; with `QDRANT_URL` set
//! (a server's gRPC port) `QdrantServerIndex` runs too, on the same data, in
//! collections named `skillforge_bench_*`. 384-dimensional unit vectors and synthetic
//! texts; seeded, so runs are comparable:
//! - `random`: uniformly random directions, the worst case for a graph index (the
//!   true neighbours of a query barely stand out from the other points);
//! - `clustered`: `n / 100` random centres, each point a centre plus a random
//!   direction of the same norm (cosine to its centre about 0.7, to another point
//!   of its cluster about 0.5, to the rest about 0), closer to real embeddings.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use skillforge::index::{
    EdgeIndex, FusionWeights, IndexPoint, IndexSpec, QdrantServerIndex, SearchFilter, SearchQuery,
    VectorIndex,
};
use skillforge::store::{SkillId, SkillStatus, VersionId};

const DIM: usize = 384;
const VOCABULARY: usize = 5_000;
const WORDS_PER_TEXT: usize = 24;
const BATCH: usize = 1_000;
const QUERIES: usize = 300;
const WARMUP: usize = 30;
const K: usize = 10;
/// Every `SMALL_NAMESPACE_EVERY`-th point is in the namespace `small`; the others are
/// spread over four large ones.
const SMALL_NAMESPACE_EVERY: usize = 100;

fn unit(rng: &mut StdRng) -> Vec<f32> {
    // Sum of uniforms is close enough to Gaussian for direction sampling.
    let mut v: Vec<f32> = (0..DIM)
        .map(|_| (0..4).map(|_| rng.random::<f32>() - 0.5).sum())
        .collect();
    normalise(&mut v);
    v
}

fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
}

/// A word drawn with a Zipf-like skew (common words are common, as in real text).
fn word(rng: &mut StdRng) -> String {
    let r: f64 = rng.random();
    let rank = ((VOCABULARY as f64).powf(r) as usize).clamp(1, VOCABULARY);
    format!("w{rank}")
}

fn text(rng: &mut StdRng) -> String {
    (0..WORDS_PER_TEXT)
        .map(|_| word(rng))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which vectors a run indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Data {
    Random,
    Clustered,
}

impl Data {
    fn parse(s: &str) -> Data {
        match s.trim() {
            "random" => Data::Random,
            "clustered" => Data::Clustered,
            other => {
                panic!("SKILLFORGE_BENCH_DATA: unknown data set {other:?} (random, clustered)")
            }
        }
    }
}

/// Draws the vectors of one data set (points and queries alike).
struct Sampler {
    data: Data,
    centres: Vec<Vec<f32>>,
}

impl Sampler {
    fn new(data: Data, n: usize, rng: &mut StdRng) -> Self {
        let centres = match data {
            Data::Random => Vec::new(),
            Data::Clustered => (0..(n / 100).max(1)).map(|_| unit(rng)).collect(),
        };
        Sampler { data, centres }
    }

    fn sample(&self, rng: &mut StdRng) -> Vec<f32> {
        let direction = unit(rng);
        if self.data == Data::Random {
            return direction;
        }
        let centre = &self.centres[rng.random_range(0..self.centres.len())];
        let mut v: Vec<f32> = centre.iter().zip(&direction).map(|(c, d)| c + d).collect();
        normalise(&mut v);
        v
    }
}

/// CPU time of the calling thread (Linux `CLOCK_THREAD_CPUTIME_ID`). On a shared
/// machine the wall clock also counts time spent waiting for a core; a search runs
/// on the calling thread, so this is its cost without that wait.
fn thread_cpu_time() -> Duration {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Dot product written as a plain indexed loop: the bench itself is built without
/// optimisation in the dev profile, where iterator chains are many times slower.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sum = [0.0f32; 4];
    let mut i = 0;
    while i + 4 <= a.len() {
        sum[0] += a[i] * b[i];
        sum[1] += a[i + 1] * b[i + 1];
        sum[2] += a[i + 2] * b[i + 2];
        sum[3] += a[i + 3] * b[i + 3];
        i += 4;
    }
    while i < a.len() {
        sum[0] += a[i] * b[i];
        i += 1;
    }
    sum[0] + sum[1] + sum[2] + sum[3]
}

/// Ids (1-based) of the `k` points nearest to `query` among those `keep` accepts.
fn exact_top_k(
    vectors: &[Vec<f32>],
    query: &[f32],
    k: usize,
    keep: impl Fn(usize) -> bool,
) -> Vec<i64> {
    let mut scored: Vec<(f32, i64)> = vectors
        .iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(i, v)| (dot(v, query), i as i64 + 1))
        .collect();
    if scored.len() > k {
        scored.select_nth_unstable_by(k, |a, b| b.0.total_cmp(&a.0));
        scored.truncate(k);
    }
    scored.into_iter().map(|(_, id)| id).collect()
}

fn namespace_of(i: usize) -> String {
    if i.is_multiple_of(SMALL_NAMESPACE_EVERY) {
        "small".into()
    } else {
        format!("ns{}", i % 4)
    }
}

/// Where the benchmarked index lives.
#[derive(Debug, Clone)]
enum Backend {
    /// In-process qdrant-edge in a temporary directory.
    Edge,
    /// A Qdrant server at this gRPC URL.
    Server(String),
}

impl Backend {
    fn label(&self) -> &'static str {
        match self {
            Backend::Edge => "edge",
            Backend::Server(_) => "server",
        }
    }
}

/// Ingests `n` points of `data` into a fresh index on `backend`, then measures it.
async fn run(n: usize, data: Data, backend: &Backend) {
    let mut rng = StdRng::seed_from_u64(42 + n as u64);
    let sampler = Sampler::new(data, n, &mut rng);
    let vectors: Vec<Vec<f32>> = (0..n).map(|_| sampler.sample(&mut rng)).collect();
    let texts: Vec<String> = (0..n).map(|_| text(&mut rng)).collect();
    let dir = tempfile::tempdir().unwrap();
    let spec = IndexSpec {
        embedder_id: "bench/random@384".into(),
        dimension: DIM,
    };
    let data_label = format!("{data:?}").to_lowercase();
    let (edge, server) = match backend {
        Backend::Edge => (Some(EdgeIndex::recreate(dir.path(), spec).unwrap()), None),
        Backend::Server(url) => {
            let collection = format!("skillforge_bench_{data_label}_{n}");
            let index = QdrantServerIndex::recreate(
                url,
                std::env::var("QDRANT_API_KEY").ok(),
                &collection,
                spec,
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
            (None, Some(index))
        }
    };
    let index: &dyn VectorIndex = match (&edge, &server) {
        (Some(edge), _) => edge,
        (_, Some(server)) => server,
        _ => unreachable!("one backend per run"),
    };

    // Ingestion. Both dense views get the same vector so that a dense-only search
    // ranks exactly like one view, which makes recall against brute force well defined.
    let start = Instant::now();
    for chunk_start in (0..n).step_by(BATCH) {
        let points = (chunk_start..(chunk_start + BATCH).min(n))
            .map(|i| IndexPoint {
                skill_id: SkillId(i as i64 + 1),
                version_id: VersionId(i as i64 + 1),
                namespace: namespace_of(i),
                status: if i % 10 == 0 {
                    SkillStatus::Deprecated
                } else {
                    SkillStatus::Active
                },
                description_vector: vectors[i].clone(),
                summary_vector: vectors[i].clone(),
                text: texts[i].clone(),
            })
            .collect();
        index.upsert(points).await.unwrap();
    }
    let upsert_time = start.elapsed();
    let start = Instant::now();
    index.optimize().await.unwrap();
    let optimize_time = start.elapsed();
    assert_eq!(index.count().await.unwrap(), n);
    let segments = edge
        .as_ref()
        .map_or_else(|| "-".to_string(), |e| e.layout().segments.to_string());

    // Queries: random data, a stored vector plus noise (so a real neighbourhood
    // exists); clustered data, a new draw from the clusters. And a few words of a
    // stored point's text.
    let queries: Vec<(Vec<f32>, String)> = (0..QUERIES + WARMUP)
        .map(|_| {
            let target = rng.random_range(0..n);
            let q = match data {
                Data::Random => {
                    let noise = unit(&mut rng);
                    let mut q: Vec<f32> = vectors[target]
                        .iter()
                        .zip(&noise)
                        .map(|(a, b)| a + 0.8 * b)
                        .collect();
                    normalise(&mut q);
                    q
                }
                Data::Clustered => sampler.sample(&mut rng),
            };
            let words: Vec<&str> = texts[target].split(' ').take(4).collect();
            (q, words.join(" "))
        })
        .collect();

    let active = SearchFilter {
        namespace: None,
        statuses: vec![SkillStatus::Active],
    };
    let mut hybrid = Vec::with_capacity(QUERIES);
    let mut hybrid_cpu = Vec::with_capacity(QUERIES);
    for (i, (q, t)) in queries.iter().enumerate() {
        let query = SearchQuery {
            vector: q.clone(),
            text: t.clone(),
            limit: K,
            filter: active.clone(),
            weights: FusionWeights::EQUAL,
        };
        let cpu_start = thread_cpu_time();
        let start = Instant::now();
        let hits = index.search(&query).await.unwrap();
        let elapsed = start.elapsed();
        let cpu = thread_cpu_time() - cpu_start;
        assert!(!hits.is_empty());
        if i >= WARMUP {
            hybrid.push(elapsed);
            hybrid_cpu.push(cpu);
        }
    }
    hybrid.sort();
    hybrid_cpu.sort();

    let mut dense = Vec::with_capacity(QUERIES);
    let mut found = 0usize;
    for (i, (q, _)) in queries.iter().enumerate() {
        let query = SearchQuery {
            vector: q.clone(),
            text: String::new(),
            limit: K,
            filter: SearchFilter::default(),
            weights: FusionWeights::EQUAL,
        };
        let start = Instant::now();
        let hits = index.search(&query).await.unwrap();
        let elapsed = start.elapsed();
        if i >= WARMUP {
            dense.push(elapsed);
            let exact = exact_top_k(&vectors, q, K, |_| true);
            found += hits
                .iter()
                .filter(|h| exact.contains(&h.skill_id.0))
                .count();
        }
    }
    dense.sort();
    let recall = found as f64 / (QUERIES * K) as f64;

    // The same dense queries restricted to the small namespace: the graph alone would
    // rarely reach its points, so this measures how the index plans a selective filter.
    let small = SearchFilter {
        namespace: Some("small".into()),
        statuses: Vec::new(),
    };
    let mut filtered = Vec::with_capacity(QUERIES);
    let (mut filtered_found, mut filtered_expected) = (0usize, 0usize);
    for (i, (q, _)) in queries.iter().enumerate() {
        let query = SearchQuery {
            vector: q.clone(),
            text: String::new(),
            limit: K,
            filter: small.clone(),
            weights: FusionWeights::EQUAL,
        };
        let start = Instant::now();
        let hits = index.search(&query).await.unwrap();
        let elapsed = start.elapsed();
        if i >= WARMUP {
            filtered.push(elapsed);
            let exact = exact_top_k(&vectors, q, K, |i| i.is_multiple_of(SMALL_NAMESPACE_EVERY));
            filtered_expected += exact.len();
            filtered_found += hits
                .iter()
                .filter(|h| exact.contains(&h.skill_id.0))
                .count();
        }
    }
    filtered.sort();
    let filtered_recall = filtered_found as f64 / filtered_expected as f64;

    println!(
        "| {:>7} | {data_label:>9} | {n:>7} | {segments:>8} | {:>9.0} | {:>8.1} s | {:>7.2} ms | {:>7.2} ms | {:>7.2} ms | {:>7.2} ms | {:>7.2} ms | {:>7.2} ms | {recall:>9.3} | {:>7.2} ms | {filtered_recall:>9.3} |",
        backend.label(),
        n as f64 / upsert_time.as_secs_f64(),
        optimize_time.as_secs_f64(),
        percentile(&hybrid, 0.5).as_secs_f64() * 1e3,
        percentile(&hybrid, 0.99).as_secs_f64() * 1e3,
        percentile(&hybrid_cpu, 0.5).as_secs_f64() * 1e3,
        percentile(&hybrid_cpu, 0.99).as_secs_f64() * 1e3,
        percentile(&dense, 0.5).as_secs_f64() * 1e3,
        percentile(&dense, 0.99).as_secs_f64() * 1e3,
        percentile(&filtered, 0.99).as_secs_f64() * 1e3,
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let sizes: Vec<usize> = std::env::var("SKILLFORGE_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000,100000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("SKILLFORGE_BENCH_SIZES: comma-separated counts")
        })
        .collect();
    let data: Vec<Data> = std::env::var("SKILLFORGE_BENCH_DATA")
        .unwrap_or_else(|_| "random,clustered".into())
        .split(',')
        .map(Data::parse)
        .collect();
    let mut backends = vec![Backend::Edge];
    match std::env::var("QDRANT_URL") {
        Ok(url) => backends.push(Backend::Server(url)),
        Err(_) => eprintln!("QDRANT_URL not set: the Qdrant server backend is not measured"),
    }
    println!(
        "{DIM}-d unit vectors, 2 dense views + BM25, k={K}, {QUERIES} queries, hybrid filtered to status=active (90%), \
         small namespace = 1% of points"
    );
    println!(
        "| backend | data      |  points | segments | upsert/s  | optimize   | hybrid p50 | hybrid p99 | h. CPU p50 | h. CPU p99 | dense p50  | dense p99  | recall@10 | small p99  | small r@10 |"
    );
    println!(
        "|---------|-----------|---------|----------|-----------|------------|------------|------------|------------|------------|------------|------------|-----------|------------|-----------|"
    );
    for n in sizes {
        for &d in &data {
            for backend in &backends {
                run(n, d, backend).await;
            }
        }
    }
}
