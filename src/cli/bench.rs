//! `skillforge bench ...`: measurements printed as text or JSON.

use super::EXIT_OK;
use anyhow::Context;
use std::process::ExitCode;

/// What to measure.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Sandbox call latency, host calls, validations per second and cold start, beside a
    /// `node` subprocess baseline.
    Sandbox {
        /// Calls per latency measurement.
        #[arg(long, default_value_t = 500)]
        iterations: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Episodes on a fresh library with the configured model: time in the model versus
    /// retrieval, validation and the store.
    Episode(super::bench_episode::EpisodeBenchArgs),
    /// The model alone against the loop without and with a library, on a HumanEval-JS suite,
    /// judged by the suite's own tests in the sandbox.
    Baseline(super::bench_baseline::BaselineArgs),
    /// Paraphrased queries against Voyager's libraries and the starter library: recall@1,
    /// recall@5, MRR and latency of the library's search and of candidate recipes.
    Retrieval(super::bench_retrieval::RetrievalArgs),
}

/// Runs `skillforge bench ...` (`bench baseline` keeps its libraries under `data`'s directory).
pub fn run(data: &super::skills::DataArgs, command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Episode(args) => super::bench_episode::run(args),
        BenchCommand::Baseline(args) => super::bench_baseline::run(data, args),
        BenchCommand::Retrieval(args) => super::bench_retrieval::run(args),
        BenchCommand::Sandbox { iterations, json } => {
            let report = skillforge::bench::run_sandbox_bench(iterations.max(10))
                .context("running the sandbox benchmark")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let row = |name: &str, p: &skillforge::bench::Percentiles| {
                    println!(
                        "{name:<34} p50 {:>9.3} ms   p99 {:>9.3} ms",
                        p.p50_ms, p.p99_ms
                    );
                };
                row("trivial call", &report.trivial_call);
                row("50-line skill", &report.fifty_line_skill);
                println!(
                    "{:<34} {:>9.2} us",
                    "host call round trip", report.host_call_us
                );
                println!(
                    "{:<34} {:>9.0} /s  ({:.0} test calls/s, {} cores)",
                    "validations (3 tests each)",
                    report.validations_per_sec,
                    report.test_calls_per_sec,
                    report.cores
                );
                row("cold start (cached module)", &report.cold_start_cached);
                match &report.node {
                    Some(node) => {
                        println!("node {} subprocess baseline:", node.version);
                        row("  trivial call", &node.trivial_call);
                        row("  50-line skill", &node.fifty_line_skill);
                        println!(
                            "{:<34} {:>9.1} /s",
                            "  validations", node.validations_per_sec
                        );
                    }
                    None => println!("node baseline: skipped (node not found on PATH)"),
                }
            }
            Ok(EXIT_OK)
        }
    }
}
