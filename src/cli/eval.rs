//! `skillforge eval`: the same tasks with a library and without one (see `skillforge::eval`),
//! with a progress display, a table or JSON, a PNG plot, and the run kept in the data
//! directory's store (`eval list`, `eval show ID`) with its arguments and, under
//! `DATA_DIR/eval/RUN_ID`, its libraries, so that a run cut short can be continued
//! (`eval resume ID`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use serde_json::json;
use skillforge::agent::{CodeEnvironment, Environment, ExternalEnvironment, Observer, Progress};
use skillforge::envproto::{ResetParams, textcraft};
use skillforge::eval::{
    ArmKind, ArmSummary, EvalReport, EvalSetup, EvalTask, Evaluation, TaskOutcome, library_dir,
    read_suite, write_plot,
};
use skillforge::library::OpenMode;
use skillforge::sandbox::Capabilities;
use skillforge::store::{EvalRunRecord, Store};

use super::agent::AgentArgs;
use super::skills::DataArgs;
use super::{EXIT_OK, runtime};

/// `skillforge eval` options: a run, or `list` / `show` / `resume` of stored runs.
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
    /// Continue a run cut short (Ctrl-C, a crash) with the arguments it started with: the
    /// tasks its report holds are skipped, an episode in progress is resumed from its
    /// journal, and the rest run as they would have.
    Resume {
        /// The run's id (from `eval list`).
        id: String,
        /// Print the report as JSON instead of the table.
        #[arg(long)]
        json: bool,
    },
}

/// What to evaluate and how; stored with the run (as JSON) for `eval resume`.
#[derive(Debug, clap::Args, serde::Serialize, serde::Deserialize)]
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
    /// Before each goal, the goals of the crafted items its recipes need (TextCraft's
    /// subgoals, each after those it needs; a goal already posed in the run is not posed
    /// again): a curriculum whose later tasks can call the skills of earlier ones.
    #[arg(long)]
    #[serde(default)]
    subgoals: bool,
    /// Only the first N tasks.
    #[arg(long, value_name = "N")]
    tasks: Option<usize>,
    /// Where to write the PNG plot (default: DATA_DIR/eval/RUN_ID.png).
    #[arg(long, value_name = "FILE.png")]
    plot: Option<PathBuf>,
    /// Print the report as JSON instead of the table.
    #[arg(long)]
    #[serde(skip)]
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
        .collect();
    let worlds = if args.subgoals {
        let env = env.clone();
        tokio::task::spawn_blocking(move || {
            with_subgoals(worlds, |world: &ResetParams| env.subgoal_worlds(world))
        })
        .await??
    } else {
        worlds
    };
    let mut tasks = Vec::new();
    let worlds = worlds.into_iter().take(args.tasks.unwrap_or(usize::MAX));
    for (id, world) in worlds {
        let posing = env.clone();
        let task = tokio::task::spawn_blocking(move || posing.task(world))
            .await?
            .with_context(|| format!("TextCraft cannot pose {id}"))?;
        tasks.push(EvalTask::from_environment(id, task));
    }
    let depths: Vec<String> = args.depths.iter().map(u32::to_string).collect();
    let source = format!(
        "textcraft seeds {} depth {}{}",
        args.seeds,
        depths.join(","),
        if args.subgoals { " with subgoals" } else { "" }
    );
    let capabilities = env.capabilities();
    Ok((env, capabilities, tasks, source))
}

/// `worlds` (id, world), each after the worlds of its subgoals (`subgoals_of`), a subgoal
/// posed once per run (its options, whatever the seed): the first world with them keeps them.
fn with_subgoals<E: std::error::Error + Send + Sync + 'static>(
    worlds: Vec<(String, ResetParams)>,
    mut subgoals_of: impl FnMut(&ResetParams) -> Result<Vec<ResetParams>, E>,
) -> anyhow::Result<Vec<(String, ResetParams)>> {
    let mut posed: Vec<serde_json::Value> = Vec::new();
    let mut out = Vec::new();
    for (id, world) in worlds {
        let subgoals = subgoals_of(&world).with_context(|| format!("the subgoals of {id}"))?;
        for subgoal in subgoals {
            if !posed.contains(&subgoal.options) {
                posed.push(subgoal.options.clone());
                let name = match &subgoal.options {
                    serde_json::Value::Object(o) => o
                        .values()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                out.push((format!("{id}/needs/{name}"), subgoal));
            }
        }
        out.push((id, world));
    }
    Ok(out)
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
            Some(EvalCommand::Resume { id, json }) => resume(&store, &data_dir, &id, json).await,
            None => evaluate(&store, &data_dir, args.run).await,
        };
        store.close().await;
        result
    })
}

/// The tasks of `args`, their source, and what both arms share (but where their libraries
/// go and who watches them).
async fn setup(args: &RunEvalArgs) -> anyhow::Result<(EvalSetup, Vec<EvalTask>, String)> {
    let (env, capabilities, tasks, source) = tasks_of(args).await?;
    // Each arm's libraries seed the model apart (`EvalSetup::sampling_seed`).
    let model = args.agent.unseeded_model().await?;
    let cross_check_model = args.agent.unseeded_cross_check_model().await?;
    let embedder = skillforge::runtime::default_embedder().await?;
    let sandbox = skillforge::runtime::default_sandbox(env.host_functions())?;
    let setup = EvalSetup {
        model,
        cross_check_model,
        env,
        embedder,
        sandbox,
        capabilities,
        config: args.agent.agent_config(),
        workdir: PathBuf::new(),
        observer: None,
        sampling_seed: args.agent.sampling_seed,
    };
    Ok((setup, tasks, source))
}

/// Runs both arms task by task, saving the report after each episode.
async fn evaluate(
    store: &Store,
    data_dir: &Path,
    mut args: RunEvalArgs,
) -> anyhow::Result<ExitCode> {
    // Stored for `eval resume`, which may run from another directory.
    for path in [&mut args.suite, &mut args.plot].into_iter().flatten() {
        *path =
            std::path::absolute(&*path).with_context(|| format!("resolving {}", path.display()))?;
    }
    let (mut setup, tasks, source) = setup(&args).await?;
    let empty = EvalReport::new(
        source.clone(),
        setup.model.model_id().to_string(),
        tasks.len(),
        setup.config.max_rounds,
        setup.sampling_seed,
    );
    let id = store
        .create_eval_run(&source, &empty.to_json())
        .await
        .context("saving the eval run")?
        .id;
    // The libraries are kept under the data dir unless asked otherwise; a temporary
    // directory is deleted when `temporary` drops, at the end.
    let temporary = args
        .discard_libraries
        .then(tempfile::tempdir)
        .transpose()
        .context("creating a directory for the arms' libraries")?;
    setup.workdir = match &temporary {
        Some(temporary) => temporary.path().to_path_buf(),
        None => std::path::absolute(data_dir.join("eval").join(&id))
            .context("resolving the data directory")?,
    };
    std::fs::create_dir_all(&setup.workdir)
        .with_context(|| format!("creating {}", setup.workdir.display()))?;
    let record = Record {
        store,
        kept: temporary.is_none().then(|| setup.workdir.clone()),
        arguments: serde_json::to_value(&args).context("storing the run's arguments")?,
        id,
    };
    record.save(&empty, false, None).await?;
    let bar = progress_bar(tasks.len());
    setup.observer = Some(round_observer(bar.clone()));
    let evaluation = Evaluation::start(setup, source.clone(), tasks.len()).await?;
    bar.println(format!(
        "eval run {}: {} tasks of {source}{}",
        record.id,
        tasks.len(),
        record.kept.as_ref().map_or(String::new(), |dir| format!(
            ", libraries in {}",
            dir.display()
        ))
    ));
    let plot = plot_path(&args, data_dir, &record.id);
    let code = drive(&record, evaluation, &tasks, &plot, args.json, bar).await?;
    drop(temporary);
    Ok(code)
}

/// Continues eval run `id`, cut short, with its stored arguments and kept libraries.
async fn resume(store: &Store, data_dir: &Path, id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let run = store
        .eval_run(id)
        .await
        .with_context(|| format!("no eval run {id}; `skillforge eval list` shows the runs"))?;
    if let Some(finished) = run.finished_at {
        anyhow::bail!(
            "eval run {id} finished at {}: there is nothing to resume (`skillforge eval show {id}`)",
            finished.format("%Y-%m-%d %H:%M:%S")
        );
    }
    let dir = match run.report.get("libraries") {
        None => anyhow::bail!(
            "eval run {id} cannot be resumed: it names no libraries (made before eval runs kept \
             them, or cut short before its first save)"
        ),
        Some(libraries) => match libraries["dir"].as_str() {
            Some(dir) => PathBuf::from(dir),
            None => anyhow::bail!(
                "eval run {id} cannot be resumed: its libraries were discarded \
                 (--discard-libraries); start a new run"
            ),
        },
    };
    let mut args: RunEvalArgs = run
        .report
        .get("arguments")
        .map(|arguments| serde_json::from_value(arguments.clone()))
        .with_context(|| format!("eval run {id} cannot be resumed: it holds no arguments"))?
        .with_context(|| format!("eval run {id}'s arguments are not ones this version reads"))?;
    args.json = json;
    let report = EvalReport::from_json(&run.report)
        .with_context(|| format!("eval run {id}'s report is not one this version reads"))?;
    // Cut before its first episode, it may not have made it yet.
    let with_library = library_dir(&dir, ArmKind::WithLibrary, 0);
    anyhow::ensure!(
        with_library.is_dir() || report.arm(ArmKind::WithLibrary).outcomes.is_empty(),
        "eval run {id} cannot be resumed: its library {} is gone",
        with_library.display()
    );
    let (mut setup, tasks, source) = setup(&args).await?;
    let cannot = |why: String| anyhow::anyhow!("eval run {id} cannot be resumed: {why}");
    if source != report.source || tasks.len() != report.planned_tasks {
        return Err(cannot(format!(
            "it ran {} tasks of {}, its arguments now give {} of {source}",
            report.planned_tasks,
            report.source,
            tasks.len()
        )));
    }
    for arm in &report.arms {
        for (outcome, task) in arm.outcomes.iter().zip(&tasks) {
            if outcome.task_id != task.id {
                return Err(cannot(format!(
                    "its tasks changed: it ran {} where its arguments now give {}",
                    outcome.task_id, task.id
                )));
            }
        }
    }
    if setup.model.model_id() != report.model {
        return Err(cannot(format!(
            "it ran with the model {}, its arguments now give {}",
            report.model,
            setup.model.model_id()
        )));
    }
    setup.workdir = dir.clone();
    let done: usize = report.arms.iter().map(|a| a.outcomes.len()).sum();
    let bar = progress_bar(tasks.len());
    bar.set_position(done as u64);
    setup.observer = Some(round_observer(bar.clone()));
    let record = Record {
        store,
        kept: Some(dir),
        arguments: run.report["arguments"].clone(),
        id: run.id,
    };
    bar.println(format!(
        "eval run {}: resuming after {done} of {} episodes, libraries in {}",
        record.id,
        2 * tasks.len(),
        setup.workdir.display()
    ));
    // Holding the with-library arm's library now, it is the only process driving the run:
    // one that did meanwhile (waited for above) may have changed or finished it.
    let evaluation = Evaluation::resume(setup, report).await?;
    let now = store.eval_run(id).await.context("reading the eval run")?;
    if now.finished_at.is_some() || now.report != run.report {
        return Err(cannot(
            "another process ran it meanwhile (`skillforge eval show` shows how far)".into(),
        ));
    }
    let plot = plot_path(&args, data_dir, &record.id);
    drive(&record, evaluation, &tasks, &plot, json, bar).await
}

/// Where a run's plot goes: `--plot`, else `DATA_DIR/eval/RUN_ID.png`.
fn plot_path(args: &RunEvalArgs, data_dir: &Path, id: &str) -> PathBuf {
    args.plot
        .clone()
        .unwrap_or_else(|| data_dir.join("eval").join(format!("{id}.png")))
}

/// The progress bar of a run of `tasks` tasks in both arms.
fn progress_bar(tasks: usize) -> indicatif::ProgressBar {
    indicatif::ProgressBar::new(2 * tasks as u64).with_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    )
}

/// A stored run, as `drive` saves it.
struct Record<'a> {
    store: &'a Store,
    /// Its id.
    id: String,
    /// Where its libraries are kept (`None`: discarded).
    kept: Option<PathBuf>,
    /// Its arguments, as JSON.
    arguments: serde_json::Value,
}

impl Record<'_> {
    /// Saves `report` (with `plot`, finished or not) and returns it as stored.
    async fn save(
        &self,
        report: &EvalReport,
        finished: bool,
        plot: Option<&Path>,
    ) -> anyhow::Result<serde_json::Value> {
        let mut stored = stored(report, self.kept.as_deref());
        stored["arguments"] = self.arguments.clone();
        if let Some(plot) = plot {
            stored["plot"] = json!(plot);
        }
        self.store
            .update_eval_run(&self.id, &stored, finished)
            .await
            .context("saving the eval run")?;
        Ok(stored)
    }
}

/// Runs each arm on the tasks it has not run yet, saving the report after every episode;
/// then draws the plot and prints the table or JSON.
async fn drive(
    record: &Record<'_>,
    mut evaluation: Evaluation,
    tasks: &[EvalTask],
    plot: &Path,
    as_json: bool,
    bar: indicatif::ProgressBar,
) -> anyhow::Result<ExitCode> {
    for (index, task) in tasks.iter().enumerate() {
        for kind in ArmKind::BOTH {
            if evaluation.report().arm(kind).outcomes.len() > index {
                continue;
            }
            bar.set_prefix(kind.label());
            bar.set_message(task.id.clone());
            evaluation.run(kind, task).await.with_context(|| {
                format!(
                    "eval run {} (kept as far as it got{})",
                    record.id,
                    if record.kept.is_some() {
                        format!("; `skillforge eval resume {}` continues it", record.id)
                    } else {
                        String::new()
                    }
                )
            })?;
            bar.inc(1);
            if bar.is_hidden() {
                log_outcome(&bar, kind, evaluation.report().arm(kind).outcomes.last());
            }
            record.save(evaluation.report(), false, None).await?;
        }
    }
    bar.finish_and_clear();
    let report = evaluation.finish().await;
    if let Some(dir) = plot.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the plot's directory {}", dir.display()))?;
    }
    write_plot(&report, plot)?;
    let mut stored = record.save(&report, true, Some(plot)).await?;
    if as_json {
        stored["id"] = json!(record.id);
        println!("{}", serde_json::to_string_pretty(&stored)?);
    } else {
        print_table(&record.id, &report);
        println!("plot: {}", plot.display());
        print_libraries(&stored);
    }
    Ok(EXIT_OK)
}

/// One line on stderr for a task an arm finished, where the progress bar is not drawn (stderr
/// is no terminal: a daemon's log, `nohup`, CI), so that a run of hours still shows progress.
fn log_outcome(bar: &indicatif::ProgressBar, kind: ArmKind, outcome: Option<&TaskOutcome>) {
    let Some(outcome) = outcome else { return };
    eprintln!(
        "[{}/{}] {}: {}: {} ({}, {} round{}, {} tokens, {:.0} s)",
        bar.position(),
        bar.length().unwrap_or_default(),
        kind.label(),
        outcome.task_id,
        if outcome.solved {
            "solved"
        } else {
            "not solved"
        },
        outcome.status.as_str(),
        outcome.rounds,
        if outcome.rounds == 1 { "" } else { "s" },
        outcome.tokens,
        outcome.wall_ms / 1000.0,
    );
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
        let more = if fresh > 1 {
            format!("  (one library per task, to without-library-{})", fresh - 1)
        } else {
            String::new()
        };
        println!(
            "  without library: skillforge --data-dir {} episodes list{more}",
            path(&libraries["without_library"][0]),
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
    let seeded = report
        .sampling_seed
        .map(|seed| format!(", sampling seed {seed}"))
        .unwrap_or_default();
    println!(
        "eval run {id}: {} ({} tasks, model {}, at most {} rounds{seeded})",
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
fn cells(s: &ArmSummary) -> [(&'static str, String); 10] {
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
        ("admitted learning a called function", s.learned.to_string()),
        ("solved with a repaired call", s.repaired.to_string()),
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
                // Running, or stopped before its end: the store cannot tell which.
                "unfinished"
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
        println!(
            "(unfinished: still running or cut short; the figures are of the tasks it finished)"
        );
        if run.report["libraries"].is_object() {
            println!("(`skillforge eval resume {id}` continues it)");
        }
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
    fn subgoals_come_first_and_once_per_run() {
        let world = |seed, options: serde_json::Value| ResetParams { seed, options };
        let worlds = vec![
            ("bars".to_string(), world(3, json!({"depth": 2}))),
            ("block".to_string(), world(4, json!({"depth": 2}))),
        ];
        let expanded = with_subgoals(worlds, |w: &ResetParams| {
            Ok::<_, std::io::Error>(match w.seed {
                3 => vec![world(3, json!({"goal": "iron ingot"}))],
                _ => vec![
                    world(4, json!({"goal": "iron nugget"})),
                    world(4, json!({"goal": "iron ingot"})),
                ],
            })
        })
        .unwrap();
        let ids: Vec<&str> = expanded.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "bars/needs/iron ingot",
                "bars",
                "block/needs/iron nugget",
                "block"
            ]
        );
        assert_eq!(expanded[0].1, world(3, json!({"goal": "iron ingot"})));
        let failed = with_subgoals(vec![("x".into(), world(0, json!(null)))], |_| {
            Err(std::io::Error::other("the environment hung up"))
        })
        .unwrap_err();
        assert_eq!(
            format!("{failed:#}"),
            "the subgoals of x: the environment hung up"
        );
    }

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
