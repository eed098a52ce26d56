//! `skillforge eval`: the same tasks with a library and without one (see `skillforge::eval`),
//! with a progress display, a table or JSON, a PNG plot, and the run kept in the data
//! directory's store (`eval list`, `eval show ID`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use serde_json::json;
use skillforge::agent::{CodeEnvironment, Environment, ExternalEnvironment, Observer, Progress};
use skillforge::envproto::{ResetParams, textcraft};
use skillforge::eval::{
    ArmKind, ArmSummary, EvalReport, EvalSetup, EvalTask, Evaluation, library_dir, read_suite,
    write_plot,
};
use skillforge::library::OpenMode;
use skillforge::sandbox::Capabilities;
use skillforge::store::{EvalRunRecord, Store};

use super::agent::AgentArgs;
use super::skills::DataArgs;
use super::{EXIT_OK, runtime};

/// `skillforge eval` options: a run, or `list` / `show` of stored runs.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    command: Option<EvalCommand>,
    #[command(flatten)]
    run: RunEvalArgs,
}

/// Stored runs.
#[derive(Debug, clap::Subcommand)]
enum EvalCommand {
    /// The latest eval runs, newest first.
    List {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One run's table (or its whole report with --json).
    Show {
        /// The run's id (from `eval list`).
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What to evaluate and how.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["suite", "environment"]))]
struct RunEvalArgs {
    /// A suite: JSON lines with task_id, entry_point, prompt and tests (HumanEval-JS); each
    /// problem is judged by its own tests.
    #[arg(long, value_name = "FILE.jsonl")]
    suite: Option<PathBuf>,
    /// An environment whose tasks are judged by its own check: `textcraft` (needs
    /// `scripts/setup textcraft`).
    #[arg(long, value_parser = ["textcraft"], value_name = "NAME")]
    environment: Option<String>,
    /// The environment's seeds: `A..B` (B excluded), `A..=B`, or one seed.
    #[arg(long, default_value = "0..5", value_name = "RANGE")]
    seeds: String,
    /// TextCraft goal depths (repeatable): every seed at every depth.
    #[arg(long = "depth", default_values_t = [1u32], value_name = "N")]
    depths: Vec<u32>,
    /// Only the first N tasks.
    #[arg(long, value_name = "N")]
    tasks: Option<usize>,
    /// Where to write the PNG plot (default: DATA_DIR/eval/RUN_ID.png).
    #[arg(long, value_name = "FILE.png")]
    plot: Option<PathBuf>,
    /// Print the report as JSON instead of the table.
    #[arg(long)]
    json: bool,
    /// Do not keep the arms' libraries (kept by default in DATA_DIR/eval/RUN_ID, with every
    /// episode's journal): run them in a temporary directory deleted at the end.
    #[arg(long)]
    discard_libraries: bool,
    #[command(flatten)]
    agent: AgentArgs,
}

/// Parses `A..B`, `A..=B` or `A` into the seeds it names.
fn seeds(text: &str) -> anyhow::Result<Vec<u64>> {
    let number = |s: &str| {
        s.trim()
            .parse::<u64>()
            .with_context(|| format!("--seeds {text:?}: {s:?} is not a seed (a whole number)"))
    };
    let seeds: Vec<u64> = if let Some((a, b)) = text.split_once("..=") {
        (number(a)?..=number(b)?).collect()
    } else if let Some((a, b)) = text.split_once("..") {
        (number(a)?..number(b)?).collect()
    } else {
        vec![number(text)?]
    };
    anyhow::ensure!(!seeds.is_empty(), "--seeds {text:?} names no seed");
    Ok(seeds)
}

/// The environment, the capabilities its skills may declare, the tasks, and what they are.
async fn tasks_of(
    args: &RunEvalArgs,
) -> anyhow::Result<(Arc<dyn Environment>, Capabilities, Vec<EvalTask>, String)> {
    if let Some(path) = &args.suite {
        let problems = read_suite(path, args.tasks)?;
        let tasks = problems.iter().map(EvalTask::from_problem).collect();
        let env = CodeEnvironment::new(args.agent.domain.clone());
        return Ok((
            Arc::new(env),
            Capabilities::none(),
            tasks,
            format!("suite {}", path.display()),
        ));
    }
    let seeds = seeds(&args.seeds)?;
    let config = textcraft::process_config().map_err(anyhow::Error::msg)?;
    let env = tokio::task::spawn_blocking(move || ExternalEnvironment::start(config))
        .await?
        .context("starting TextCraft")?;
    let env = Arc::new(env);
    let worlds: Vec<(String, ResetParams)> = args
        .depths
        .iter()
        .flat_map(|&depth| {
            seeds.iter().map(move |&seed| {
                (
                    format!("textcraft/depth{depth}/seed{seed}"),
                    ResetParams {
                        seed,
                        options: json!({ "depth": depth }),
                    },
                )
            })
        })
        .take(args.tasks.unwrap_or(usize::MAX))
        .collect();
    let mut tasks = Vec::new();
    for (id, world) in worlds {
        let posing = env.clone();
        let task = tokio::task::spawn_blocking(move || posing.task(world))
            .await?
            .with_context(|| format!("TextCraft cannot pose {id}"))?;
        tasks.push(EvalTask::from_environment(id, task));
    }
    let depths: Vec<String> = args.depths.iter().map(u32::to_string).collect();
    let source = format!("textcraft seeds {} depth {}", args.seeds, depths.join(","));
    let capabilities = env.capabilities();
    Ok((env, capabilities, tasks, source))
}

/// Runs `skillforge eval ...`.
pub fn run(data: &DataArgs, args: EvalArgs) -> anyhow::Result<ExitCode> {
    let config = data.config(OpenMode::ReadWrite)?;
    let data_dir = config.data_dir.clone();
    runtime()?.block_on(async {
        let store = Store::open(&config.database_url())
            .await
            .with_context(|| format!("opening the store of {}", data_dir.display()))?;
        let result = match args.command {
            Some(EvalCommand::List { limit, json }) => list(&store, limit, json).await,
            Some(EvalCommand::Show { id, json }) => show(&store, &id, json).await,
            None => evaluate(&store, &data_dir, args.run).await,
        };
        store.close().await;
        result
    })
}

/// Runs both arms task by task, saving the report after each episode.
async fn evaluate(store: &Store, data_dir: &Path, args: RunEvalArgs) -> anyhow::Result<ExitCode> {
    let (env, capabilities, tasks, source) = tasks_of(&args).await?;
    let model = args.agent.model().await?;
    let embedder = skillforge::runtime::default_embedder().await?;
    let sandbox = skillforge::runtime::default_sandbox(env.host_functions())?;
    let config = args.agent.agent_config();
    let empty = EvalReport::new(
        source.clone(),
        model.model_id().to_string(),
        tasks.len(),
        config.max_rounds,
    );
    let record = store
        .create_eval_run(&source, &empty.to_json())
        .await
        .context("saving the eval run")?;
    // The libraries are kept under the data dir unless asked otherwise; a temporary
    // directory is deleted when `temporary` drops, at the end.
    let temporary = args
        .discard_libraries
        .then(tempfile::tempdir)
        .transpose()
        .context("creating a directory for the arms' libraries")?;
    let workdir = match &temporary {
        Some(temporary) => temporary.path().to_path_buf(),
        None => std::path::absolute(data_dir.join("eval").join(&record.id))
            .context("resolving the data directory")?,
    };
    let kept = temporary.is_none().then(|| workdir.clone());
    std::fs::create_dir_all(&workdir).with_context(|| format!("creating {}", workdir.display()))?;
    let bar = indicatif::ProgressBar::new(2 * tasks.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let setup = EvalSetup {
        model,
        env,
        embedder,
        sandbox,
        capabilities,
        config,
        workdir,
        observer: Some(round_observer(bar.clone())),
    };
    let mut evaluation = Evaluation::start(setup, source.clone(), tasks.len()).await?;
    let save = async |report: &EvalReport, finished: bool, plot: Option<&Path>| {
        let mut stored = stored(report, kept.as_deref());
        if let Some(plot) = plot {
            stored["plot"] = json!(plot);
        }
        store
            .update_eval_run(&record.id, &stored, finished)
            .await
            .context("saving the eval run")?;
        anyhow::Ok(stored)
    };
    save(evaluation.report(), false, None).await?;
    let plot = args
        .plot
        .clone()
        .unwrap_or_else(|| data_dir.join("eval").join(format!("{}.png", record.id)));
    bar.println(format!(
        "eval run {}: {} tasks of {source}{}",
        record.id,
        tasks.len(),
        kept.as_ref().map_or(String::new(), |dir| format!(
            ", libraries in {}",
            dir.display()
        ))
    ));
    for task in &tasks {
        for kind in ArmKind::BOTH {
            bar.set_prefix(kind.label());
            bar.set_message(task.id.clone());
            evaluation
                .run(kind, task)
                .await
                .with_context(|| format!("eval run {} (kept as far as it got)", record.id))?;
            bar.inc(1);
            save(evaluation.report(), false, None).await?;
        }
    }
    bar.finish_and_clear();
    let report = evaluation.finish().await;
    if let Some(dir) = plot.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the plot's directory {}", dir.display()))?;
    }
    write_plot(&report, &plot)?;
    let mut stored = save(&report, true, Some(&plot)).await?;
    if args.json {
        stored["id"] = json!(record.id);
        println!("{}", serde_json::to_string_pretty(&stored)?);
    } else {
        print_table(&record.id, &report);
        println!("plot: {}", plot.display());
        print_libraries(&stored);
    }
    drop(temporary);
    Ok(EXIT_OK)
}

/// The report as stored: its figures, and where the arms' libraries are kept (`null` when
/// they were discarded): the directory, the arm with a library's, and the arm without's, one
/// per task run, in task order.
fn stored(report: &EvalReport, libraries: Option<&Path>) -> serde_json::Value {
    let mut value = report.to_json();
    value["libraries"] = match libraries {
        Some(dir) => {
            let fresh = report.arm(ArmKind::WithoutLibrary).outcomes.len();
            let fresh: Vec<PathBuf> = (0..fresh)
                .map(|i| library_dir(dir, ArmKind::WithoutLibrary, i))
                .collect();
            json!({
                "dir": dir,
                "with_library": library_dir(dir, ArmKind::WithLibrary, 0),
                "without_library": fresh,
            })
        }
        None => serde_json::Value::Null,
    };
    value
}

/// Where a stored run's libraries are and how to read their journals (nothing for runs
/// stored before they were kept).
fn print_libraries(stored: &serde_json::Value) {
    let libraries = &stored["libraries"];
    if libraries.is_null() {
        if stored.get("libraries").is_some() {
            println!("libraries: discarded (--discard-libraries)");
        }
        return;
    }
    let path = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_string();
    println!("libraries: {}", path(&libraries["dir"]));
    println!(
        "  with library:    skillforge --data-dir {} episodes list",
        path(&libraries["with_library"])
    );
    let fresh = libraries["without_library"].as_array().map_or(0, Vec::len);
    if fresh > 0 {
        println!(
            "  without library: skillforge --data-dir {} episodes list  (one library per task: without-library-0 to -{})",
            path(&libraries["without_library"][0]),
            fresh - 1
        );
    }
}

/// Shows the round and tokens of the episode in progress on `bar`.
fn round_observer(bar: indicatif::ProgressBar) -> Observer {
    Arc::new(move |progress: &Progress| {
        if let Progress::Round { round, max } = progress {
            let task = bar.message();
            let task = task.split(" | ").next().unwrap_or_default().to_string();
            bar.set_message(format!("{task} | round {round}/{max}"));
        }
    })
}

/// The per-arm table.
fn print_table(id: &str, report: &EvalReport) {
    println!(
        "eval run {id}: {} ({} tasks, model {}, at most {} rounds)",
        report.source, report.planned_tasks, report.model, report.max_rounds
    );
    let columns: Vec<_> = report.arms.iter().map(|a| cells(&a.summary())).collect();
    print!("{:<40}", "");
    for arm in &report.arms {
        print!(" {:>16}", arm.kind.label());
    }
    println!();
    for (row, (name, _)) in columns[0].iter().enumerate() {
        print!("{name:<40}");
        for column in &columns {
            print!(" {:>16}", column[row].1);
        }
        println!();
    }
}

/// An arm's figures as the table's rows: (what, value).
fn cells(s: &ArmSummary) -> [(&'static str, String); 8] {
    let or_dash = |v: Option<f64>, precision: usize| {
        v.map_or("-".to_string(), |v| format!("{v:.precision$}"))
    };
    let rate = s
        .composition_rate
        .map_or(String::new(), |r| format!(" ({:.0}%)", r * 100.0));
    [
        ("tasks solved", format!("{}/{}", s.solved, s.tasks)),
        ("tokens per solved task", or_dash(s.tokens_per_solved, 0)),
        ("seconds per solved task", or_dash(s.seconds_per_solved, 1)),
        ("refinement rounds", s.refinement_rounds.to_string()),
        ("solved by reuse", s.reused.to_string()),
        (
            "composition (admitted calling others)",
            format!("{}/{}{rate}", s.composed, s.admitted),
        ),
        (
            "retrieved skills called",
            format!("{}/{}", s.retrieved_called, s.retrieved),
        ),
        ("library size", s.library_size.to_string()),
    ]
}

async fn list(store: &Store, limit: i64, as_json: bool) -> anyhow::Result<ExitCode> {
    let runs = store.list_eval_runs(limit).await?;
    if as_json {
        let rows: Vec<_> = runs.iter().map(run_row).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(EXIT_OK);
    }
    if runs.is_empty() {
        println!("no eval runs yet; start one with `skillforge eval --suite FILE.jsonl`");
    }
    for run in &runs {
        let row = run_row(run);
        println!(
            "{}  {}  {:<8}  {}  solved: without library {}, with library {}",
            run.id,
            run.started_at.format("%Y-%m-%d %H:%M"),
            if run.finished_at.is_some() {
                "finished"
            } else {
                "cut short"
            },
            run.source,
            row["solved"]["without_library"].as_str().unwrap_or("?"),
            row["solved"]["with_library"].as_str().unwrap_or("?"),
        );
    }
    Ok(EXIT_OK)
}

/// A stored run in one line of figures.
fn run_row(run: &EvalRunRecord) -> serde_json::Value {
    let solved = |kind: ArmKind| {
        EvalReport::from_json(&run.report)
            .ok()
            .map(|r| {
                let s = r.arm(kind).summary();
                format!("{}/{}", s.solved, s.tasks)
            })
            .unwrap_or_else(|| "?".into())
    };
    json!({
        "id": run.id, "source": run.source, "started_at": run.started_at,
        "finished_at": run.finished_at,
        "solved": {"without_library": solved(ArmKind::WithoutLibrary),
                   "with_library": solved(ArmKind::WithLibrary)},
    })
}

async fn show(store: &Store, id: &str, as_json: bool) -> anyhow::Result<ExitCode> {
    let run = store
        .eval_run(id)
        .await
        .with_context(|| format!("no eval run {id}; `skillforge eval list` shows the runs"))?;
    if as_json {
        let mut value = run.report.clone();
        value["id"] = json!(run.id);
        value["started_at"] = json!(run.started_at);
        value["finished_at"] = json!(run.finished_at);
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(EXIT_OK);
    }
    let report = EvalReport::from_json(&run.report)
        .with_context(|| format!("eval run {id}'s report is not one this version reads"))?;
    print_table(&run.id, &report);
    if run.finished_at.is_none() {
        println!("(cut short: the figures are of the tasks it finished)");
    }
    if let Some(plot) = run.report["plot"].as_str() {
        println!("plot: {plot}");
    }
    print_libraries(&run.report);
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_ranges_are_read_as_rust_ranges() {
        assert_eq!(seeds("0..3").unwrap(), [0, 1, 2]);
        assert_eq!(seeds("2..=4").unwrap(), [2, 3, 4]);
        assert_eq!(seeds("7").unwrap(), [7]);
        assert!(
            seeds("3..3")
                .unwrap_err()
                .to_string()
                .contains("names no seed")
        );
        assert!(
            seeds("a..3")
                .unwrap_err()
                .to_string()
                .contains("not a seed")
        );
    }
}
