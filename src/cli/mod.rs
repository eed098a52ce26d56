//! Command-line parsing and dispatch.

mod agent;
mod bench;
mod bench_baseline;
mod bench_episode;
mod bench_retrieval;
mod embed;
mod eval;
mod exec;
mod mcp;
mod serve;
mod skills;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit code: the command did what was asked and the skill succeeded.
pub const EXIT_OK: ExitCode = ExitCode::SUCCESS;
/// Exit code: the skill failed (an error kind, or failing tests).
pub fn exit_skill_failure() -> ExitCode {
    ExitCode::from(1)
}
/// Exit code: bad usage, unreadable input, or a failure of skillforge itself.
pub fn exit_usage() -> ExitCode {
    ExitCode::from(2)
}

/// skillforge: grow a library of sandboxed JavaScript skills and reuse it.
#[derive(Debug, Parser)]
#[command(name = "skillforge", version, about)]
pub struct Cli {
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(flatten)]
    data: skills::DataArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one function of a skill file in the sandbox.
    Exec(exec::ExecArgs),
    /// Run the tests in skill files' JSDoc headers.
    Test(exec::TestArgs),
    /// Print the embedding vectors of texts (all-MiniLM-L6-v2, 384 dimensions).
    Embed(embed::EmbedArgs),
    /// Manage the skill library: add, list, show, search, deprecate, export, import.
    #[command(subcommand)]
    Skills(skills::SkillsCommand),
    /// Solve one task: retrieve skills, write a new one with the model, validate, admit.
    Solve(agent::SolveArgs),
    /// The open-ended loop: the curriculum proposes tasks and the agent solves them.
    Run(agent::RunArgs),
    /// Inspect episodes and their journals.
    #[command(subcommand)]
    Episodes(agent::EpisodesCommand),
    /// Rebuild the vector index from the SQL store (re-embedding every skill).
    Reindex(skills::ReindexArgs),
    /// Serve the library to MCP clients (stdio, or streamable HTTP with --http): tools
    /// search_skills, get_skill, run_skill, solve_task, add_skill; skills as resources.
    Mcp(mcp::McpArgs),
    /// Serve the library and the agent over HTTP (JSON API, OpenAPI at /openapi.json)
    /// until SIGTERM or Ctrl-C.
    Serve(serve::ServeArgs),
    /// Manage the daemon's access tokens.
    #[command(subcommand)]
    Token(serve::TokenCommand),
    /// Run a suite or an environment with a library and without one; compare the arms
    /// (`eval list` and `eval show ID` for stored runs).
    Eval(eval::EvalArgs),
    /// Measure performance and print the figures.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Options shared by commands that resolve skills a file calls.
#[derive(Debug, Clone, clap::Args)]
pub struct LibraryArgs {
    /// A skill file, or a directory of them, the skill may call (repeatable).
    #[arg(long = "with", value_name = "PATH")]
    pub with: Vec<PathBuf>,
}

/// The async runtime of the commands that need one.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Sets up logging to stderr: text, or JSON lines for `serve --log-json`. `serve` logs at
/// info level by default (a daemon's log is its record), other commands at warn.
pub fn init_tracing(cli: &Cli) -> anyhow::Result<()> {
    let (json, daemon) = match &cli.command {
        Command::Serve(args) => (serve::logs_json(args)?, true),
        _ => (false, false),
    };
    // qdrant-edge warns about process-wide flags that only its own server initialises.
    let default = match cli.verbose {
        0 if !daemon => "warn,qdrant_edge=error",
        0 | 1 => "info,qdrant_edge=error",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
    Ok(())
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Exec(args) => exec::exec(args),
        Command::Test(args) => exec::test(args),
        Command::Embed(args) => embed::embed(args),
        Command::Skills(command) => skills::run(&cli.data, command),
        Command::Reindex(args) => skills::reindex(&cli.data, args),
        Command::Solve(args) => agent::solve(&cli.data, args),
        Command::Run(args) => agent::run(&cli.data, args),
        Command::Episodes(command) => agent::episodes(&cli.data, command),
        Command::Mcp(args) => mcp::mcp(&cli.data, args),
        Command::Serve(args) => serve::serve(&cli.data, args),
        Command::Token(command) => serve::token(&cli.data, command),
        Command::Eval(args) => eval::run(&cli.data, args),
        Command::Bench(command) => bench::run(&cli.data, command),
    }
}
