//! `skillforge solve`, `skillforge run` and `skillforge episodes ...`: the agent.

use super::skills::{DataArgs, spinner};
use super::{EXIT_OK, exit_skill_failure, runtime};
use anyhow::Context;
use serde_json::json;
use skillforge::agent::{AgentConfig, CrossCheck, EpisodeReport, Progress, Refinement, headline};
use skillforge::envproto::ResetParams;
use skillforge::library::OpenMode;
use skillforge::llm::{LanguageModel, LlmConfig, LocalConfig, LocalModelChoice};
use skillforge::runtime::{CancellationToken, EnvironmentSpec, Runtime, TaskRequest};
use skillforge::skill::TestCase;
use skillforge::store::EpisodeStatus;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The local model's threads of runs recorded before `--local-threads` existed.
fn default_local_threads() -> u32 {
    LocalConfig::default().n_threads
}

/// The model and how the agent works; shared by `solve`, `run` and `bench episode`, and
/// stored with an eval run (serde) for `eval resume`.
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
pub struct AgentArgs {
    /// OpenAI-compatible endpoint (e.g. http://localhost:11434/v1); unset serves the offline
    /// local model (Qwen2.5-Coder-0.5B, installed by `scripts/setup llm`).
    #[arg(long, env = "SKILLFORGE_LLM_URL", value_name = "URL")]
    pub llm_url: Option<String>,
    /// The model name at --llm-url.
    #[arg(long, env = "SKILLFORGE_LLM_MODEL", value_name = "NAME")]
    pub llm_model: Option<String>,
    /// The offline local model served without --llm-url: qwen2.5-coder-0.5b or the slower,
    /// stronger qwen2.5-coder-1.5b (install it with the same variable: `scripts/setup llm`).
    #[arg(long, env = "SKILLFORGE_LOCAL_MODEL", default_value_t = LocalModelChoice::default(), value_name = "NAME")]
    pub local_model: LocalModelChoice,
    /// CPU threads of the offline local model (1 leaves a core to a second model or job
    /// beside it on a small machine; more is faster when it runs alone). A seeded run's
    /// replies depend on it: runs compared reply for reply need the same count.
    #[arg(long, env = "SKILLFORGE_LOCAL_THREADS", default_value_t = LocalConfig::default().n_threads, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    #[serde(default = "default_local_threads")]
    pub local_threads: u32,
    /// The context window of the model at --llm-url, in tokens (prompts are fitted to it; the
    /// local model's is 4096).
    #[arg(long, env = "SKILLFORGE_LLM_CONTEXT_TOKENS", default_value_t = LlmConfig::default().context_tokens, value_name = "N")]
    pub llm_context_tokens: u32,
    /// Environment variable holding the endpoint's API key.
    #[arg(long, default_value = "OPENAI_API_KEY", value_name = "VAR")]
    pub llm_api_key_env: String,
    /// Most coder rounds per episode.
    #[arg(long, default_value_t = AgentConfig::default().max_rounds)]
    pub max_rounds: u32,
    /// Skills retrieved for the coder.
    #[arg(long, default_value_t = AgentConfig::default().retrieve)]
    pub retrieve: usize,
    /// Skip the critic.
    #[arg(long)]
    pub no_critic: bool,
    /// Learn a function a skill calls that nothing defines in an episode of its own, when
    /// the environment poses it as a task (its reset's `name_worlds`).
    #[arg(long)]
    pub learn_callees: bool,
    /// Do not judge a round's code again with a name nothing defines replaced by the closest
    /// retrieved skill's, when such names were all that failed (docs/benchmarks.md).
    #[arg(long)]
    #[serde(default)]
    pub no_repair: bool,
    /// Independent candidates asked for, at most, to cross-check a skill whose task's check
    /// is only examples (0: admit on the examples alone).
    #[arg(long, default_value_t = AgentConfig::default().cross_check.candidates, value_name = "N")]
    pub cross_check: u32,
    /// Ask another model for the cross-check candidates: a model name at --llm-url, or
    /// without it a local model (e.g. qwen2.5-coder-1.5b beside the default 0.5B). Samples
    /// of one small model often share a mistake and then agree on a wrong skill.
    #[arg(long, env = "SKILLFORGE_CROSS_CHECK_MODEL", value_name = "NAME")]
    #[serde(default)]
    pub cross_check_model: Option<String>,
    /// How a round after a failed one asks again: `revise` shows the model its previous
    /// code and what went wrong; `rewrite` asks for the task again with what went wrong but
    /// not the code (a small model shown its code tends to return it unchanged); `resample`
    /// asks exactly as the first round did, at a higher temperature, and lets the check pick
    /// (for pure functions: it drops what an environment said went wrong).
    #[arg(long, default_value_t = AgentConfig::default().refinement, value_name = "HOW")]
    pub refinement: Refinement,
    /// What kind of programming tasks the curriculum proposes.
    #[arg(long, default_value = "string, number and collection utilities")]
    pub domain: String,
    /// Seed the model's sampling: a run repeated with the same seed gets the same replies
    /// from a server that honours seeds (the local model does); unset, every run differs.
    #[arg(long, env = "SKILLFORGE_SAMPLING_SEED", value_name = "N")]
    #[serde(default)]
    pub sampling_seed: Option<u32>,
}

/// The environment skills act on; `solve` and `run` take it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EnvArgs {
    /// What skills act on: `code` (pure functions) or `textcraft` (text Minecraft crafting;
    /// needs `scripts/setup textcraft`). See docs/environments.md.
    #[arg(long, value_parser = ["code", "textcraft"], value_name = "NAME")]
    pub environment: Option<String>,
    /// Any program speaking the environment protocol (docs/environments.md), with its
    /// arguments separated by spaces (no quoting).
    #[arg(long, value_name = "COMMAND", conflicts_with = "environment")]
    pub env_command: Option<String>,
}

impl AgentArgs {
    /// The model these options name (starting the local one if no endpoint is given),
    /// without `--sampling-seed`: the commands that start it (`eval`, `bench baseline`)
    /// seed each library apart.
    pub async fn unseeded_model(&self) -> anyhow::Result<Arc<dyn LanguageModel>> {
        let config = self.llm_config();
        self.starting("the language model", config.build_unseeded())
            .await
    }

    /// The cross-check model these options name (`--cross-check-model`), started, without
    /// the seed (as [`AgentArgs::unseeded_model`]); `None` when the coder's model is asked.
    pub async fn unseeded_cross_check_model(
        &self,
    ) -> anyhow::Result<Option<Arc<dyn LanguageModel>>> {
        let config = self.llm_config();
        if config.cross_check_config()?.is_none() {
            return Ok(None);
        }
        self.starting("the cross-check model", config.build_cross_check_unseeded())
            .await
    }

    /// Awaits `build`, a model (`what`) being set up, under a spinner.
    async fn starting<T, E>(
        &self,
        what: &str,
        build: impl std::future::Future<Output = Result<T, E>>,
    ) -> anyhow::Result<T>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let spinner = spinner(if self.llm_config().endpoint().is_none() {
            "starting the local model".into()
        } else {
            "connecting to the model".into()
        });
        let model = build.await.with_context(|| format!("setting up {what}"))?;
        spinner.finish_and_clear();
        Ok(model)
    }

    /// The model configuration these options name.
    pub fn llm_config(&self) -> LlmConfig {
        LlmConfig {
            base_url: self.llm_url.clone(),
            model: self.llm_model.clone(),
            api_key_env: self.llm_api_key_env.clone(),
            context_tokens: self.llm_context_tokens,
            sampling_seed: self.sampling_seed,
            cross_check_model: self.cross_check_model.clone(),
            local: LocalConfig {
                model: self.local_model,
                n_threads: self.local_threads,
                ..LocalConfig::default()
            },
            ..LlmConfig::default()
        }
    }

    /// How the agent works, from these options.
    pub fn agent_config(&self) -> AgentConfig {
        AgentConfig {
            max_rounds: self.max_rounds,
            retrieve: self.retrieve,
            critic: !self.no_critic,
            learn_callees: self.learn_callees,
            repair: !self.no_repair,
            cross_check: CrossCheck {
                candidates: self.cross_check,
                ..CrossCheck::default()
            },
            refinement: self.refinement,
            ..AgentConfig::default()
        }
    }

    /// The runtime over the library of `data` in the environment `env` names (its actions
    /// widen the capability policy), with the model started.
    pub async fn runtime(&self, data: &DataArgs, env: &EnvArgs) -> anyhow::Result<Runtime> {
        let builder = data
            .builder(OpenMode::ReadWrite)?
            .llm_config(self.llm_config())
            .agent_config(self.agent_config())
            .environment_spec(env.spec(&self.domain));
        let runtime = data.build(builder).await?;
        self.starting("the language model", runtime.model()).await?;
        self.starting("the cross-check model", runtime.cross_check_model())
            .await?;
        Ok(runtime)
    }
}

impl EnvArgs {
    /// The environment these options name; `code` in `domain` by default.
    pub fn spec(&self, domain: &str) -> EnvironmentSpec {
        match (&self.env_command, self.environment.as_deref()) {
            (Some(command), _) => EnvironmentSpec::Command(command.clone()),
            (None, Some("textcraft")) => EnvironmentSpec::TextCraft,
            _ => EnvironmentSpec::Code {
                domain: domain.to_string(),
            },
        }
    }
}

/// `skillforge solve "TASK"`.
#[derive(Debug, clap::Args)]
pub struct SolveArgs {
    /// The task, in words; examples in it (`>>> f(x)` then the value, `f(x) => y`,
    /// `Input:`/`Output:`) become its check. Not with `--seed`, whose world poses the task.
    #[arg(required_unless_present = "seed", conflicts_with = "seed")]
    task: Option<String>,
    /// Solve the task an environment's world poses (TextCraft's goal, a protocol
    /// environment's reset): the world of this seed, judged by the environment's check.
    #[arg(long, requires = "EnvArgs", conflicts_with_all = ["name", "examples"])]
    seed: Option<u64>,
    /// The world's reset options as JSON, with `--seed` (TextCraft: `{"depth": 2}` or
    /// `{"goal": "oak planks"}`).
    #[arg(long, value_name = "JSON", requires = "seed", value_parser = world_options)]
    world_options: Option<serde_json::Value>,
    /// The function name to use; the admitted skill has it (default: the one the task's
    /// examples call).
    #[arg(long)]
    name: Option<String>,
    /// A check of the task: `CALL => EXPECTED`, e.g. `double(2) => 4` (repeatable; needs --name).
    #[arg(long = "example", value_name = "CALL => EXPECTED")]
    examples: Vec<String>,
    /// Namespace to solve in and admit to.
    #[arg(long, value_parser = super::skills::namespace_arg)]
    namespace: Option<String>,
    /// Print JSON: `{"episode":..., "status":..., "skill":..., "calls":[...], ...}`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    agent: AgentArgs,
    #[command(flatten)]
    env: EnvArgs,
}

/// `skillforge run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Episodes to run (unfinished ones found at start count too).
    #[arg(long, default_value_t = 10)]
    iterations: usize,
    /// Print one JSON report per episode (JSON lines) instead of the progress display.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    agent: AgentArgs,
    #[command(flatten)]
    env: EnvArgs,
}

/// `skillforge episodes ...`.
#[derive(Debug, clap::Subcommand)]
pub enum EpisodesCommand {
    /// The latest episodes, newest first.
    List {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One episode with its journal: every model call, attempt, sandbox run and verdict.
    Show {
        /// The episode id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete the journals of old episodes that admitted nothing (failed, or solved by a
    /// skill the library had); their task, status and outcome stay listed. The journals of
    /// admissions (a skill's evidence) and of unfinished episodes are kept.
    Prune {
        /// Prune the journals of episodes that finished more than this many days ago (0:
        /// every finished one).
        #[arg(long, value_name = "DAYS", value_parser = days)]
        older_than_days: Duration,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A number of days, as a duration: zero or more, finite.
fn days(text: &str) -> Result<Duration, String> {
    let days: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of days"))?;
    skillforge::daemon::retention::days(days)
        .ok_or_else(|| format!("{text} days is not a duration: give zero or more days"))
}

/// Runs `solve`.
pub fn solve(data: &DataArgs, args: SolveArgs) -> anyhow::Result<ExitCode> {
    let request = args
        .task
        .as_ref()
        .map(|task| {
            TaskRequest {
                task: task.clone(),
                name: args.name.clone(),
                examples: args.examples.clone(),
                namespace: args.namespace.clone(),
            }
            .to_task()
        })
        .transpose()?;
    runtime()?.block_on(async {
        let runtime = args.agent.runtime(data, &args.env).await?;
        let task = match (request, args.seed) {
            (Some(task), _) => task,
            (None, seed) => {
                let world = ResetParams {
                    seed: seed.unwrap_or_default(),
                    options: args.world_options.clone().unwrap_or_default(),
                };
                let mut task = runtime
                    .pose(world)
                    .await
                    .context("posing the world's task")?;
                task.namespace = args.namespace.clone();
                task
            }
        };
        // The first line of words (a posed task is a stub whose comment opens with `/**`).
        let headline = task
            .description
            .lines()
            .map(|line| line.trim_start_matches(['/', '*', ' ']))
            .find(|line| !line.is_empty())
            .unwrap_or_default();
        let bar = spinner(format!("solving: {headline}"));
        let observer = progress_observer(bar.clone(), None);
        let report = interruptible(&runtime, runtime.solve_observed(task, Some(observer))).await?;
        bar.finish_and_clear();
        print_report(&report, args.json)?;
        runtime.close().await;
        Ok(if report.status == EpisodeStatus::Failed {
            exit_skill_failure()
        } else {
            EXIT_OK
        })
    })
}

/// Parses `--world-options`: a JSON object.
fn world_options(text: &str) -> Result<serde_json::Value, String> {
    match serde_json::from_str(text) {
        Ok(value @ serde_json::Value::Object(_)) => Ok(value),
        Ok(_) => Err("the world's options are a JSON object, e.g. {\"depth\": 2}".into()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

/// Runs `run`.
pub fn run(data: &DataArgs, args: RunArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let runtime = args.agent.runtime(data, &args.env).await?;
        let bar = if args.json {
            indicatif::ProgressBar::hidden()
        } else {
            spinner("starting".into())
        };
        let size = runtime.list(&Default::default()).await?.len();
        let observer = progress_observer(bar.clone(), Some((args.json, size)));
        let reports = interruptible(
            &runtime,
            runtime.run_observed(args.iterations, CancellationToken::new(), Some(observer)),
        )
        .await?;
        bar.finish_and_clear();
        let count = |s| reports.iter().filter(|r| r.status == s).count();
        if !args.json {
            println!(
                "{} episodes: {} admitted, {} solved with existing skills, {} failed",
                reports.len(),
                count(EpisodeStatus::Admitted),
                count(EpisodeStatus::SolvedWithExisting),
                count(EpisodeStatus::Failed)
            );
        }
        runtime.close().await;
        Ok(EXIT_OK)
    })
}

/// Runs `episodes ...`.
pub fn episodes(data: &DataArgs, command: EpisodesCommand) -> anyhow::Result<ExitCode> {
    let mode = match command {
        EpisodesCommand::Prune { .. } => OpenMode::ReadWrite,
        _ => OpenMode::ReadOnly,
    };
    runtime()?.block_on(async {
        let runtime = data.open(mode).await?;
        match command {
            EpisodesCommand::List { limit, json } => {
                let episodes = runtime.episodes(limit).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&episodes)?);
                } else {
                    for e in &episodes {
                        println!(
                            "{}  {:<20} {}  {}",
                            e.id,
                            e.status.as_str(),
                            e.started_at.format("%Y-%m-%d %H:%M:%S"),
                            headline(e.task["description"].as_str().unwrap_or_default())
                        );
                    }
                }
            }
            EpisodesCommand::Show { id, json } => {
                let episode = runtime.episode(&id).await?;
                let events = runtime.episode_events(&id).await?;
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(
                            &json!({"episode": episode, "events": events})
                        )?
                    );
                } else {
                    println!("episode {} [{}]", episode.id, episode.status.as_str());
                    println!("task: {}", serde_json::to_string(&episode.task)?);
                    if let Some(pruned) = episode.journal_pruned_at {
                        println!(
                            "journal: pruned {} (`episodes prune`; it admitted nothing)",
                            pruned.format("%Y-%m-%d %H:%M:%S")
                        );
                    }
                    for e in &events {
                        let mut payload = e.payload.clone();
                        // Prompts are long; `--json` shows them whole.
                        if let Some(obj) = payload.as_object_mut() {
                            obj.remove("messages");
                        }
                        println!("{:>3} {:<12} {}", e.seq, e.kind, payload);
                    }
                    if let Some(outcome) = &episode.outcome {
                        println!("outcome: {outcome}");
                    }
                }
            }
            EpisodesCommand::Prune {
                older_than_days,
                json,
            } => {
                let pruned = runtime.prune_journals(older_than_days).await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&pruned)?);
                } else {
                    println!(
                        "pruned the journals of {} episodes ({} events) that finished over {:.1} \
                         days ago and admitted nothing; their task, status and outcome stay",
                        pruned.episodes,
                        pruned.events,
                        older_than_days.as_secs_f64() / 86_400.0
                    );
                }
            }
        }
        runtime.close().await;
        Ok(EXIT_OK)
    })
}

/// What an interrupted `solve` or `run` says.
const INTERRUPTED: &str =
    "interrupted: the unfinished episode is kept and `skillforge run` resumes it";

/// Runs `work` until it ends or Ctrl-C; on Ctrl-C the runtime stops its episode, which is
/// checkpointed (`interrupted`) and resumed by the next `skillforge run`.
async fn interruptible<T>(
    runtime: &Runtime,
    work: impl std::future::Future<Output = Result<T, skillforge::runtime::RuntimeError>>,
) -> anyhow::Result<T> {
    tokio::pin!(work);
    tokio::select! {
        result = &mut work => return Ok(result?),
        _ = tokio::signal::ctrl_c() => {}
    }
    // The stop is signalled at once; the work ends at its next step, after its checkpoint.
    drop(runtime.shutdown());
    if let Err(error) = work.await
        && !matches!(error, skillforge::runtime::RuntimeError::Stopped)
    {
        tracing::warn!("while stopping: {error}");
    }
    anyhow::bail!(INTERRUPTED)
}

/// Shows the agent's progress on `bar`: the task, the round, tokens used and the library's
/// size; with `run`, a line (or a JSON line) per finished episode.
fn progress_observer(
    bar: indicatif::ProgressBar,
    run: Option<(bool, usize)>,
) -> skillforge::agent::Observer {
    struct State {
        task: String,
        round: String,
        tokens: u64,
        episodes: usize,
        library: usize,
    }
    let state = Mutex::new(State {
        task: String::new(),
        round: String::new(),
        tokens: 0,
        episodes: 0,
        library: run.map_or(0, |(_, size)| size),
    });
    Arc::new(move |progress: &Progress| {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        match progress {
            Progress::Episode { task, resumed, .. } => {
                let resumed = if *resumed { "(resumed) " } else { "" };
                s.task = format!("{resumed}{}", headline(task));
                s.round.clear();
            }
            Progress::Round { round, max } => s.round = format!("round {round}/{max}"),
            Progress::Model {
                prompt_tokens,
                completion_tokens,
                ..
            } => s.tokens += u64::from(prompt_tokens + completion_tokens),
            Progress::Finished(report) => {
                s.episodes += 1;
                if report.status == EpisodeStatus::Admitted {
                    s.library += 1;
                }
                match run {
                    Some((true, _)) => println!("{}", json!(report)),
                    Some((false, _)) => bar.println(format!(
                        "{:<21} {}{}",
                        report.status.as_str(),
                        headline(&report.task.description),
                        report
                            .skill
                            .as_ref()
                            .map_or(String::new(), |s| format!(" -> {s}"))
                    )),
                    None => {}
                }
            }
        }
        let library = if run.is_some() {
            format!(
                " | library {} skills | episode {}",
                s.library,
                s.episodes + 1
            )
        } else {
            String::new()
        };
        bar.set_message(format!(
            "{} | {} | {} tokens{library}",
            s.task, s.round, s.tokens
        ));
    })
}

fn print_report(report: &EpisodeReport, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    println!(
        "episode {}: {}{}",
        report.episode,
        report.status.as_str(),
        report
            .skill
            .as_ref()
            .map_or(String::new(), |s| format!(" ({s})"))
    );
    if !report.calls.is_empty() {
        println!("calls: {}", report.calls.join(", "));
    }
    let checks = &report.task.tests;
    if !checks.is_empty() {
        println!("checks ({}, run in the sandbox):", checks.len());
        for check in checks {
            match check {
                TestCase::Example { call, expected, .. } => println!("  {call} => {expected}"),
                TestCase::Assert { code, .. } => println!("  {code}"),
            }
        }
    }
    for skipped in &report.task.skipped_examples {
        println!("example not used as a check: {skipped}");
    }
    if let Some(problems) = &report.problems {
        println!("last problem: {problems}");
    }
    if let Some(why) = &report.unverified {
        println!("admitted unverified: {why}");
    }
    if let Some(renamed) = &report.repaired {
        println!("repaired by the runtime: {renamed}");
    }
    let t = &report.timing;
    println!(
        "{} rounds, {} model calls, {} tokens, {:.1} s in the model, {:.0} ms elsewhere",
        report.rounds,
        t.llm_calls,
        t.prompt_tokens + t.completion_tokens,
        t.llm_ms / 1e3,
        (t.total_ms - t.llm_ms).max(0.0)
    );
    Ok(())
}
