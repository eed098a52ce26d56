//! The library and the sandbox alone, without a language model: add a skill (its tests run
//! in the sandbox first), find it by what it does, run it with an input under limits.
//!
//! The library lives in a temporary directory; nothing else is needed than
//! `scripts/setup embed` (the embedding model). Run it with
//! `cargo run --example library_only`.

use serde_json::json;
use skillforge::index::SearchFilter;
use skillforge::library::{AddOptions, SearchResult};
use skillforge::runtime::{LimitOverrides, Runtime, RuntimeError, SkillRun};
use skillforge::skill::SkillSource;

/// The skill this example adds.
pub const SLUGIFY: &str = r#"/**
 * Turns a title into a URL slug: lowercase words joined by hyphens.
 * @param {string} title
 * @returns {string}
 * @example slugify("Hello, World!") => "hello-world"
 * @example slugify("  Rust  and   WebAssembly ") => "rust-and-webassembly"
 */
function slugify(title) {
  return title.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean).join("-");
}
"#;

/// Adds [`SLUGIFY`], searches for it, and runs it on `title`.
pub async fn add_search_run(
    runtime: &Runtime,
    title: &str,
) -> Result<(Vec<SearchResult>, SkillRun), RuntimeError> {
    let source = SkillSource::parse(SLUGIFY, None).map_err(|e| {
        RuntimeError::BadRequest(format!("the example's skill does not parse: {e}"))
    })?;
    runtime.add(source, AddOptions::default()).await?;
    let hits = runtime
        .search("make a url slug from a title", 3, SearchFilter::default())
        .await?;
    let run = runtime
        .run_skill(
            "slugify",
            json!([title]),
            LimitOverrides {
                timeout_ms: Some(500),
                ..LimitOverrides::default()
            },
        )
        .await?;
    Ok((hits, run))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let runtime = Runtime::builder()
        .data_dir(dir.path())
        .load_starter(false)
        .build()
        .await?;
    let (hits, run) = add_search_run(&runtime, "Embedding skillforge, the SDK").await?;
    for hit in &hits {
        println!(
            "{:.4}  {}  {}",
            hit.score,
            hit.skill.record.qualified_name(),
            hit.skill.version.signature
        );
    }
    println!("{}", run.to_json());
    runtime.close().await;
    Ok(())
}
