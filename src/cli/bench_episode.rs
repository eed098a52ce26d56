//! `skillforge bench episode`: where an episode's time goes, model versus everything else.

use super::EXIT_OK;
use super::agent::AgentArgs;
use super::skills::DataArgs;
use anyhow::Context;
use serde_json::json;
use skillforge::agent::EpisodeReport;
use std::process::ExitCode;

/// `skillforge bench episode` options.
#[derive(Debug, clap::Args)]
pub struct EpisodeBenchArgs {
    /// How many of the `code` environment's warm-up tasks to run.
    #[arg(long, default_value_t = 3)]
    tasks: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    agent: AgentArgs,
}

/// Runs the benchmark in a fresh temporary library.
pub fn run(args: EpisodeBenchArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir().context("creating a temporary data directory")?;
    let data = DataArgs {
        data_dir: Some(dir.path().to_path_buf()),
        database_url: None,
        qdrant_url: None,
        qdrant_collection: String::new(),
        allow_capabilities: Vec::new(),
        lock_timeout: skillforge::library::DEFAULT_LOCK_TIMEOUT.as_secs_f64(),
    };
    let reports: Vec<EpisodeReport> = super::runtime()?.block_on(async {
        let runtime = args.agent.runtime(&data, &Default::default()).await?;
        let tasks = runtime.environment().seed_tasks();
        let mut reports = Vec::new();
        for task in tasks.into_iter().take(args.tasks.max(1)) {
            reports.push(runtime.solve(task).await?);
        }
        runtime.close().await;
        anyhow::Ok(reports)
    })?;
    let (llm, total): (f64, f64) = reports
        .iter()
        .map(|r| (r.timing.llm_ms, r.timing.total_ms))
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let overhead = if llm > 0.0 {
        (total - llm) / llm
    } else {
        f64::NAN
    };
    if args.json {
        let rows: Vec<_> = reports
            .iter()
            .map(|r| {
                json!({"task": r.task.description, "status": r.status, "rounds": r.rounds,
                            "timing": r.timing, "overhead_ratio": r.timing.overhead_ratio()})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"episodes": rows, "llm_ms": llm,
                "other_ms": total - llm, "overhead_ratio": overhead}))?
        );
        return Ok(EXIT_OK);
    }
    println!(
        "{:<46} {:<21} {:>6} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "task",
        "status",
        "rounds",
        "llm ms",
        "other ms",
        "retr ms",
        "valid ms",
        "store ms",
        "other %"
    );
    for r in &reports {
        let t = &r.timing;
        println!(
            "{:<46} {:<21} {:>6} {:>10.0} {:>10.1} {:>9.1} {:>9.1} {:>9.1} {:>7.2}%",
            r.task.description,
            r.status.as_str(),
            r.rounds,
            t.llm_ms,
            t.total_ms - t.llm_ms,
            t.retrieval_ms,
            t.validation_ms,
            t.store_ms,
            t.overhead_ratio().unwrap_or(f64::NAN) * 100.0
        );
    }
    println!(
        "all episodes: {:.1} s in the model, {:.0} ms elsewhere: {:.2}% of the model's time (target < 2%)",
        llm / 1e3,
        total - llm,
        overhead * 100.0
    );
    Ok(EXIT_OK)
}
