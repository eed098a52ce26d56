//! `skillforge embed TEXT...`: the vectors the library's retrieval uses.

use super::EXIT_OK;
use anyhow::Context;
use serde_json::json;
use skillforge::embed::{Embedder, OnnxEmbedder};
use std::process::ExitCode;

/// `skillforge embed`.
#[derive(Debug, clap::Args)]
pub struct EmbedArgs {
    /// The texts to embed.
    #[arg(required = true)]
    texts: Vec<String>,
    /// Print JSON: `{"embedder":..., "dimension":..., "vectors":[[...], ...]}`.
    #[arg(long)]
    json: bool,
}

pub fn embed(args: EmbedArgs) -> anyhow::Result<ExitCode> {
    let embedder = OnnxEmbedder::from_env().context("loading the embedding model")?;
    let texts: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let vectors = embedder.embed(&texts).context("embedding the texts")?;
    if args.json {
        println!(
            "{}",
            json!({"embedder": embedder.id(), "dimension": embedder.dimension(), "vectors": vectors})
        );
    } else {
        for (text, vector) in texts.iter().zip(&vectors) {
            let shown: Vec<String> = vector.iter().map(|x| format!("{x:.6}")).collect();
            println!("{text}\t[{}]", shown.join(", "));
        }
    }
    Ok(EXIT_OK)
}
