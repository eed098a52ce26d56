//! `skillforge bench retrieval`: does the search find the skill a task needs? Paraphrased
//! queries (JSON lines: `query`, `expected` skill names, `domain`, `split`) against a library
//! of realistic size: Voyager's three released libraries and the starter library. Every
//! candidate recipe (texts of the views, fusion weights) gets its own real qdrant-edge index
//! built from the same skills; the library's own search runs beside them. Per candidate and
//! query split: recall@1, recall@5, MRR (first expected skill within the top 10) and the
//! latency of a query (embedding plus search).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use skillforge::embed::Embedder;
use skillforge::index::{EdgeIndex, FusionWeights, IndexSpec, SearchFilter, VectorIndex};
use skillforge::library::{DenseText, LexicalText, Library, LibraryConfig, Recipe};
use skillforge::sandbox::HostFunctions;
use skillforge::store::{SkillId, SkillStatus};

use super::EXIT_OK;

/// The checked-in queries.
const QUERIES: &str = include_str!("../../benches/retrieval_queries.jsonl");

/// Hits asked of each search; MRR counts the first expected skill among them.
const DEPTH: usize = 10;

/// `skillforge bench retrieval` options.
#[derive(Debug, clap::Args)]
pub struct RetrievalArgs {
    /// Queries (JSON lines: query, expected, domain, split); default: the checked-in
    /// `benches/retrieval_queries.jsonl`.
    #[arg(long, value_name = "FILE.jsonl")]
    queries: Option<PathBuf>,
    /// Folder holding Voyager's `trial1/skills.json` .. `trial3/skills.json`.
    #[arg(long, value_name = "DIR", default_value = "../shared/voyager")]
    voyager: PathBuf,
    /// Print JSON (with every query's rank per candidate).
    #[arg(long)]
    json: bool,
}

/// One benchmark query.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct Query {
    query: String,
    expected: Vec<String>,
    domain: String,
    split: String,
}

/// A candidate's figures on one set of queries.
#[derive(Debug, Serialize)]
struct Figures {
    queries: usize,
    recall_at_1: f64,
    recall_at_5: f64,
    mrr: f64,
    latency_p50_ms: f64,
    latency_p95_ms: f64,
}

/// A candidate's results.
#[derive(Debug, Serialize)]
struct CandidateReport {
    name: String,
    /// Figures per split, and `all`.
    figures: BTreeMap<String, Figures>,
    /// 1-based rank of the first expected skill per query (in file order), `None` past
    /// [`DEPTH`].
    ranks: Vec<Option<usize>>,
}

/// The candidates measured beside the library's own search.
fn candidates() -> Vec<(&'static str, Recipe)> {
    let only = |description: f32, summary: f32, bm25: f32| FusionWeights {
        description,
        summary,
        bm25,
        k: FusionWeights::EQUAL.k,
    };
    let with_k = |k: u32, weights: FusionWeights| FusionWeights { k, ..weights };
    let recipe = |dense, lexical, weights| Recipe {
        dense,
        lexical,
        weights,
    };
    use DenseText::{Description, NameWords, Summary};
    use LexicalText::{Header, HeaderAndCode};
    vec![
        ("baseline (before issue 8)", Recipe::HEADER),
        (
            "dense description only",
            recipe(Description, Header, only(1.0, 0.0, 0.0)),
        ),
        (
            "dense name+signature only",
            recipe(Description, Header, only(0.0, 1.0, 0.0)),
        ),
        (
            "bm25 header only",
            recipe(Description, Header, only(0.0, 0.0, 1.0)),
        ),
        (
            "bm25 header+code only",
            recipe(Description, HeaderAndCode, only(0.0, 0.0, 1.0)),
        ),
        (
            "bm25 with code",
            recipe(Description, HeaderAndCode, FusionWeights::EQUAL),
        ),
        (
            "name words embedded",
            recipe(NameWords, Header, FusionWeights::EQUAL),
        ),
        (
            "name words + bm25 with code",
            recipe(NameWords, HeaderAndCode, FusionWeights::EQUAL),
        ),
        (
            "name words + bm25 with code, no signature view",
            recipe(NameWords, HeaderAndCode, only(1.0, 0.0, 1.0)),
        ),
        (
            "bm25 with code, no signature view",
            recipe(Description, HeaderAndCode, only(1.0, 0.0, 1.0)),
        ),
        (
            "bm25 with code, no signature view, description x2",
            recipe(Description, HeaderAndCode, only(2.0, 0.0, 1.0)),
        ),
        (
            "summary view + bm25 with code",
            recipe(Summary, HeaderAndCode, FusionWeights::EQUAL),
        ),
        (
            "summary view only",
            recipe(Summary, HeaderAndCode, only(0.0, 1.0, 0.0)),
        ),
        (
            "summary view + bm25 with code, description x2",
            recipe(Summary, HeaderAndCode, only(2.0, 1.0, 1.0)),
        ),
        (
            "summary + description views",
            recipe(Summary, HeaderAndCode, only(1.0, 1.0, 0.0)),
        ),
        (
            "summary view + bm25 with code, k 10 (Recipe::CURRENT)",
            Recipe::CURRENT,
        ),
        (
            "summary x2 + description + bm25 with code, k 10",
            recipe(Summary, HeaderAndCode, with_k(10, only(1.0, 2.0, 1.0))),
        ),
        (
            "summary x2 + bm25 with code, k 10",
            recipe(Summary, HeaderAndCode, with_k(10, only(0.0, 2.0, 1.0))),
        ),
    ]
}

/// Runs the benchmark in a fresh temporary library.
pub fn run(args: RetrievalArgs) -> anyhow::Result<ExitCode> {
    let text = match &args.queries {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the queries {}", path.display()))?,
        None => QUERIES.to_string(),
    };
    let queries = parse_queries(&text)?;
    let dir = tempfile::tempdir().context("creating a temporary data directory")?;
    let report = super::runtime()?.block_on(measure(dir.path(), &args.voyager, &queries))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(EXIT_OK)
}

fn parse_queries(text: &str) -> anyhow::Result<Vec<Query>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).with_context(|| {
                format!(
                    "query line {}: expected {{\"query\", \"expected\": [names], \"domain\", \"split\"}}",
                    i + 1
                )
            })
        })
        .collect()
}

/// The whole report.
#[derive(Debug, Serialize)]
struct Report {
    skills: usize,
    namespaces: BTreeMap<String, usize>,
    embedder: String,
    queries: Vec<Query>,
    candidates: Vec<CandidateReport>,
}

async fn measure(dir: &Path, voyager: &Path, queries: &[Query]) -> anyhow::Result<Report> {
    let embedder = skillforge::runtime::default_embedder().await?;
    let sandbox = skillforge::runtime::default_sandbox(HostFunctions::empty())?;
    let library = Library::open(
        &LibraryConfig::new(dir.join("library")),
        embedder.clone(),
        sandbox,
    )
    .await
    .context("opening the benchmark's library")?;
    for trial in 1..=3 {
        let file = voyager.join(format!("trial{trial}/skills.json"));
        library.import_voyager(&file, None).await.with_context(|| {
            format!(
                "importing {} (pass Voyager's folder with --voyager)",
                file.display()
            )
        })?;
    }
    let versions = library.store().all_current_versions().await?;
    let names: HashMap<SkillId, String> = versions
        .iter()
        .map(|v| (v.skill.id, v.skill.name.clone()))
        .collect();
    let mut namespaces = BTreeMap::new();
    for v in &versions {
        *namespaces.entry(v.skill.namespace.clone()).or_insert(0) += 1;
    }
    for query in queries {
        for name in &query.expected {
            anyhow::ensure!(
                names.values().any(|n| n == name),
                "query {:?} expects {name}, which the library does not hold",
                query.query
            );
        }
    }
    let spec = IndexSpec {
        embedder_id: embedder.id().to_string(),
        dimension: embedder.dimension(),
    };
    let filter = SearchFilter {
        namespace: None,
        statuses: vec![SkillStatus::Active],
    };

    // One index per distinct set of texts; candidates differing only in weights share it.
    let candidates = candidates();
    let mut indexes: Vec<((DenseText, LexicalText), Arc<EdgeIndex>)> = Vec::new();
    for (_, recipe) in &candidates {
        let key = (recipe.dense, recipe.lexical);
        if indexes.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let index = EdgeIndex::recreate(
            &dir.join(format!("candidate-{}", indexes.len())),
            spec.clone(),
        )?;
        let points = library.points(*recipe, versions.clone()).await?;
        index.upsert(points).await?;
        index.optimize().await?;
        indexes.push((key, Arc::new(index)));
    }

    let mut ranks = vec![Vec::new(); candidates.len() + 1];
    let mut latencies = vec![Vec::new(); candidates.len() + 1];
    for query in queries {
        let rank_of = |hits: &[String]| {
            hits.iter()
                .position(|name| query.expected.contains(name))
                .map(|i| i + 1)
        };
        let start = Instant::now();
        let hits = library.search(&query.query, DEPTH, filter.clone()).await?;
        latencies[0].push(start.elapsed());
        let hits: Vec<String> = hits.into_iter().map(|h| h.skill.record.name).collect();
        ranks[0].push(rank_of(&hits));

        let start = Instant::now();
        let vector = library.embed(vec![query.query.clone()]).await?.remove(0);
        let embedding = start.elapsed();
        for (i, (_, recipe)) in candidates.iter().enumerate() {
            let index = &indexes
                .iter()
                .find(|(k, _)| *k == (recipe.dense, recipe.lexical))
                .expect("every candidate has an index")
                .1;
            let search = recipe.query(&query.query, vector.clone(), DEPTH, filter.clone());
            let start = Instant::now();
            let hits = index.search(&search).await?;
            latencies[i + 1].push(embedding + start.elapsed());
            let hits: Vec<String> = hits
                .iter()
                .filter_map(|h| names.get(&h.skill_id).cloned())
                .collect();
            ranks[i + 1].push(rank_of(&hits));
        }
    }
    library.store().close().await;

    let labels = std::iter::once("library search (this build)".to_string())
        .chain(candidates.iter().map(|(name, _)| name.to_string()));
    let reports = labels
        .zip(ranks)
        .zip(latencies)
        .map(|((name, ranks), latencies)| {
            let mut figures = BTreeMap::new();
            let mut splits: Vec<&str> = queries.iter().map(|q| q.split.as_str()).collect();
            splits.sort_unstable();
            splits.dedup();
            for split in splits.into_iter().chain(["all"]) {
                let chosen: Vec<usize> = (0..queries.len())
                    .filter(|&i| split == "all" || queries[i].split == split)
                    .collect();
                figures.insert(split.to_string(), figures_of(&chosen, &ranks, &latencies));
            }
            CandidateReport {
                name,
                figures,
                ranks,
            }
        })
        .collect();
    Ok(Report {
        skills: versions.len(),
        namespaces,
        embedder: embedder.id().to_string(),
        queries: queries.to_vec(),
        candidates: reports,
    })
}

fn figures_of(chosen: &[usize], ranks: &[Option<usize>], latencies: &[Duration]) -> Figures {
    let n = chosen.len().max(1) as f64;
    let within = |k: usize| {
        chosen
            .iter()
            .filter(|&&i| ranks[i].is_some_and(|r| r <= k))
            .count() as f64
            / n
    };
    let mrr = chosen
        .iter()
        .filter_map(|&i| ranks[i].map(|r| 1.0 / r as f64))
        .sum::<f64>()
        / n;
    let mut ms: Vec<f64> = chosen
        .iter()
        .map(|&i| latencies[i].as_secs_f64() * 1e3)
        .collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| {
        if ms.is_empty() {
            0.0
        } else {
            ms[((ms.len() - 1) as f64 * q).round() as usize]
        }
    };
    Figures {
        queries: chosen.len(),
        recall_at_1: within(1),
        recall_at_5: within(5),
        mrr,
        latency_p50_ms: at(0.5),
        latency_p95_ms: at(0.95),
    }
}

fn print_table(report: &Report) {
    let namespaces: Vec<String> = report
        .namespaces
        .iter()
        .map(|(ns, n)| format!("{ns} {n}"))
        .collect();
    println!(
        "{} skills ({}), embedder {}; {} queries",
        report.skills,
        namespaces.join(", "),
        report.embedder,
        report.queries.len()
    );
    println!(
        "{:<54} {:<9} {:>4} {:>6} {:>6} {:>6} {:>8} {:>8}",
        "candidate", "split", "n", "r@1", "r@5", "MRR", "p50 ms", "p95 ms"
    );
    for candidate in &report.candidates {
        for (split, f) in &candidate.figures {
            println!(
                "{:<54} {:<9} {:>4} {:>6.3} {:>6.3} {:>6.3} {:>8.2} {:>8.2}",
                candidate.name,
                split,
                f.queries,
                f.recall_at_1,
                f.recall_at_5,
                f.mrr,
                f.latency_p50_ms,
                f.latency_p95_ms
            );
        }
    }
}
