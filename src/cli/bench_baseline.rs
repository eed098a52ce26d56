//! `skillforge bench baseline`: does the loop beat the model alone? On a suite in the
//! HumanEval-JS format (JSON lines: `task_id`, `entry_point`, `prompt`, `tests`), three arms
//! with the same model:
//!
//! - **model alone**: the loop's first request, answered once and read as the loop reads a
//!   reply: no check, no refinement, no library;
//! - **loop, no library**: `solve` with the prompt as the task and `--name ENTRY`, each
//!   problem in a fresh empty library;
//! - **loop + library**: the same in one library (the starter skills, plus whatever earlier
//!   problems admitted).
//!
//! Every answer is judged by the suite's own tests, run in the sandbox (never by the model's).
//! A wrong admission is a skill the loop admitted or reused that fails them; one the agent
//! itself marked unverified (its cross-check found an independent solution that behaves
//! otherwise) is counted apart, as the library does not count it as verified either. A
//! problem whose tests assert one call with two results ([`Problem::contradiction`]) is
//! reported as unsatisfiable: every answer fails it, so none of its admissions counts as
//! wrong.
//!
//! The loop arms' libraries, with every episode's journal, are kept in
//! `DATA_DIR/bench/baseline/RUN_ID` (`library`, and `loop-N` for problem N of the suite)
//! unless `--discard-libraries` is given.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use serde_json::json;
use skillforge::agent::{
    CodeEnvironment, CrossCheckOutcome, JournalEvent, Strategy, Task, coder_request,
    skill_from_reply,
};
use skillforge::compose::Bundle;
use skillforge::eval::{Problem, passes, read_suite};
use skillforge::library::{LibraryConfig, parse_stored};
use skillforge::llm::{LanguageModel, SeededModel};
use skillforge::runtime::Runtime;
use skillforge::sandbox::{HostFunctions, Sandbox};
use skillforge::store::EpisodeStatus;

use super::EXIT_OK;
use super::agent::AgentArgs;
use super::skills::DataArgs;

/// `skillforge bench baseline` options.
#[derive(Debug, clap::Args)]
pub struct BaselineArgs {
    /// The suite: JSON lines with task_id, entry_point, prompt and tests (HumanEval-JS).
    #[arg(long, value_name = "FILE.jsonl")]
    suite: PathBuf,
    /// Only the first N problems (after --skip).
    #[arg(long)]
    limit: Option<usize>,
    /// Leave out the first N problems of the suite (to run it in parts).
    #[arg(long, default_value_t = 0, value_name = "N")]
    skip: usize,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Do not keep the loop arms' libraries (kept by default in
    /// DATA_DIR/bench/baseline/RUN_ID, with every episode's journal): run them in a
    /// temporary directory deleted at the end.
    #[arg(long)]
    discard_libraries: bool,
    /// The arms to run (comma-separated), in this order; all three by default.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "model,loop,library"
    )]
    arms: Vec<ArmKind>,
    #[command(flatten)]
    agent: AgentArgs,
}

/// The benchmark's arms.
#[derive(Debug, Clone, Copy, PartialEq, clap::ValueEnum)]
enum ArmKind {
    /// The model alone, one request per problem.
    Model,
    /// `solve` in a fresh empty library per problem.
    Loop,
    /// `solve` in one library shared across the suite.
    Library,
}

impl ArmKind {
    fn title(self) -> &'static str {
        match self {
            ArmKind::Model => "model alone",
            ArmKind::Loop => "loop, no library",
            ArmKind::Library => "loop + library",
        }
    }
}

/// One arm's result on one problem.
#[derive(Debug, Clone, Serialize)]
struct Outcome {
    task_id: String,
    /// The suite's tests pass.
    passed: bool,
    /// A skill was admitted or reused that fails the suite's tests (never on a problem whose
    /// tests no answer passes).
    wrong_admission: bool,
    /// The skill ended with is marked unchecked (the agent did not count it as verified).
    unverified: bool,
    /// How the episode's last cross-check of its example check ended, if one ran.
    cross_check: Option<CrossCheckOutcome>,
    /// The loop's episode (`None` for the model alone).
    episode: Option<String>,
    /// The kept library the episode ran in: `skillforge --data-dir LIBRARY episodes show
    /// EPISODE` shows its journal (`None` for the model alone, or with
    /// `--discard-libraries`).
    library: Option<PathBuf>,
    /// What the loop ended with (`None` for the model alone).
    status: Option<EpisodeStatus>,
    /// The coder rounds the loop's episode used, the one it ended in included (`None` for
    /// the model alone).
    rounds: Option<u32>,
    tokens: u64,
    wall_ms: f64,
}

impl Outcome {
    /// The model alone's outcome: an answer judged, no episode behind it.
    fn direct(task_id: String, passed: bool, tokens: u64, wall_ms: f64) -> Outcome {
        Outcome {
            task_id,
            passed,
            wrong_admission: false,
            unverified: false,
            cross_check: None,
            episode: None,
            library: None,
            status: None,
            rounds: None,
            tokens,
            wall_ms,
        }
    }
}

/// A problem whose tests no answer passes.
#[derive(Debug, Clone, Serialize)]
struct Unsatisfiable {
    task_id: String,
    /// The call its tests assert with two results, in words.
    call: String,
}

/// One arm: its name and outcomes.
#[derive(Debug, Clone, Serialize)]
struct Arm {
    name: &'static str,
    outcomes: Vec<Outcome>,
}

impl Arm {
    fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.passed).count()
    }

    /// (tokens, seconds) per solved problem: everything spent, over the problems solved.
    fn cost_per_solved(&self) -> Option<(f64, f64)> {
        let solved = self.passed();
        (solved > 0).then(|| {
            let tokens: u64 = self.outcomes.iter().map(|o| o.tokens).sum();
            let ms: f64 = self.outcomes.iter().map(|o| o.wall_ms).sum();
            (tokens as f64 / solved as f64, ms / 1e3 / solved as f64)
        })
    }

    /// Wrong admissions of skills the agent counted as verified.
    fn wrong_admissions(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.wrong_admission && !o.unverified)
            .count()
    }

    /// How many problems the arm passed within each number of rounds, 1 to the most an
    /// episode used (empty for the model alone): what each further round of refinement won.
    fn passed_by_round(&self) -> Vec<usize> {
        let passed_in: Vec<u32> = self
            .outcomes
            .iter()
            .filter(|o| o.passed)
            .filter_map(|o| o.rounds)
            .collect();
        let most = self.outcomes.iter().filter_map(|o| o.rounds).max();
        (1..=most.unwrap_or(0))
            .map(|round| passed_in.iter().filter(|&&r| r <= round).count())
            .collect()
    }

    /// (skills ended with that are marked unverified, how many of them are wrong).
    fn unverified(&self) -> (usize, usize) {
        let unverified = self.outcomes.iter().filter(|o| o.unverified);
        let wrong = unverified.clone().filter(|o| o.wrong_admission).count();
        (unverified.count(), wrong)
    }
}

/// Whether `bundle` passes the suite's tests (called as the problem's entry point).
fn passes_suite(
    env: &CodeEnvironment,
    sandbox: &Sandbox,
    bundle: &Bundle,
    problem: &Problem,
) -> anyhow::Result<bool> {
    passes(env, sandbox, bundle, &problem.judge()).context("running the suite's tests")
}

/// The code of a direct answer: the fenced block declaring the entry point, else the prompt
/// completed with the reply (the model continued the function's body).
fn direct_code(problem: &Problem, reply: &str) -> String {
    let entry = &problem.entry_point;
    let declares = |code: &str| {
        code.contains(&format!("function {entry}")) || code.contains(&format!("{entry} ="))
    };
    let mut blocks = Vec::new();
    let mut open: Option<String> = None;
    for line in reply.lines() {
        match (&mut open, line.trim_start().starts_with("```")) {
            (None, true) => open = Some(String::new()),
            (Some(_), true) => blocks.extend(open.take()),
            (Some(block), false) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, false) => {}
        }
    }
    blocks.extend(open);
    if let Some(block) = blocks.iter().find(|b| declares(b)) {
        return block.clone();
    }
    let body = blocks.first().map_or(reply, String::as_str);
    if declares(body) {
        body.to_string()
    } else {
        format!("{}{body}", problem.prompt)
    }
}

/// The model alone: the request the loop starts with (the coder's first round for the
/// prompt as the task, with no library), answered once, with no check or refinement. Asked
/// the same way and read the same way, the two arms differ only by what the loop adds;
/// seeded alike (`--sampling-seed`), the loop's first reply is this one.
async fn direct(
    model: &dyn LanguageModel,
    env: &CodeEnvironment,
    sandbox: &Sandbox,
    problem: &Problem,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let task = problem_task(problem)?;
    let request = coder_request(model, env, &task, &[], None, Strategy::First).await?;
    let reply = model.complete(request).await.context("asking the model")?;
    let bundle = direct_bundle(problem, &task, &reply.text);
    Ok(Outcome::direct(
        problem.task_id.clone(),
        passes_suite(env, sandbox, &bundle, problem)?,
        u64::from(reply.prompt_tokens + reply.completion_tokens),
        started.elapsed().as_secs_f64() * 1e3,
    ))
}

/// The model's direct answer to `problem` as a bundle of its own (no library, no
/// capabilities): the code the loop's reply reader takes from it ([`skill_from_reply`]), so
/// the loop wins nothing by reading replies better; else the plain reading of
/// [`direct_code`].
fn direct_bundle(problem: &Problem, task: &Task, reply: &str) -> Bundle {
    let code = skill_from_reply(reply, task, &[])
        .map_or_else(|_| direct_code(problem, reply), |read| read.skill.code);
    Bundle::standalone(&problem.entry_point, code)
}

/// The task `solve` is given for `problem`: its prompt, named after its entry point.
fn problem_task(problem: &Problem) -> anyhow::Result<Task> {
    Task::from_text(problem.prompt.clone(), Some(&problem.entry_point))
        .with_context(|| format!("{}: the prompt is not a task", problem.task_id))
}

/// One episode of the loop on `library`, judged by the suite's tests.
async fn looped(
    runtime: &Runtime,
    env: &CodeEnvironment,
    problem: &Problem,
) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let report = runtime.solve(problem_task(problem)?).await?;
    let library = runtime.library();
    let (passed, unverified) = match &report.skill {
        Some(name) => {
            let skill = library.get(name).await?.skill;
            let bundle = library
                .bundle(&parse_stored(&skill)?, &skill.record.namespace)
                .await?;
            (
                passes_suite(env, library.sandbox(), &bundle, problem)?,
                // Admitted unchecked, or reused with nothing to corroborate it.
                skill.version.provenance.unchecked || report.unverified.is_some(),
            )
        }
        None => (false, false),
    };
    let cross_check = library
        .store()
        .episode_events(&report.episode)
        .await?
        .iter()
        .filter_map(|event| match JournalEvent::from_stored(event) {
            Ok(JournalEvent::CrossCheck { outcome, .. }) => Some(outcome),
            _ => None,
        })
        .next_back();
    Ok(Outcome {
        task_id: problem.task_id.clone(),
        passed,
        wrong_admission: report.skill.is_some() && !passed,
        unverified,
        cross_check,
        episode: Some(report.episode.clone()),
        library: None,
        status: Some(report.status),
        rounds: Some(report.rounds),
        tokens: report.timing.prompt_tokens + report.timing.completion_tokens,
        wall_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// Runs the benchmark, its loop arms' libraries kept under `data`'s directory (or in a
/// temporary one with `--discard-libraries`).
pub fn run(data: &DataArgs, args: BaselineArgs) -> anyhow::Result<ExitCode> {
    let problems: Vec<_> = read_suite(&args.suite, None)?
        .into_iter()
        .skip(args.skip)
        .take(args.limit.unwrap_or(usize::MAX))
        .collect();
    let temporary = args
        .discard_libraries
        .then(tempfile::tempdir)
        .transpose()
        .context("creating a temporary data directory")?;
    let dir = match &temporary {
        Some(temporary) => temporary.path().to_path_buf(),
        None => {
            let data_dir = data
                .data_dir
                .clone()
                .unwrap_or_else(LibraryConfig::default_data_dir);
            let id = uuid::Uuid::now_v7().to_string();
            std::path::absolute(data_dir.join("bench").join("baseline").join(id))
                .context("resolving the data directory")?
        }
    };
    let kept = temporary.is_none().then_some(dir.as_path());
    if let Some(dir) = kept {
        eprintln!("libraries kept in {}", dir.display());
    }
    let (arms, unsatisfiable) = super::runtime()?.block_on(async {
        // Each arm's libraries seed the model apart, as in `eval`.
        let model = args.agent.unseeded_model().await?;
        let cross_check_model = args.agent.unseeded_cross_check_model().await?;
        let seeded = || SeededModel::over(model.clone(), args.agent.sampling_seed);
        let direct_model = seeded();
        let embedder = skillforge::runtime::default_embedder().await?;
        let sandbox = skillforge::runtime::default_sandbox(HostFunctions::empty())?;
        let env = Arc::new(CodeEnvironment::new(args.agent.domain.clone()));
        // Every arm's runtime shares the model, the embedder and the sandbox.
        let open = |library: PathBuf, starter: bool| {
            let builder = Runtime::builder()
                .data_dir(library)
                .load_starter(starter)
                .model(seeded())
                .embedder(embedder.clone())
                .sandbox(sandbox.clone())
                .environment(env.clone())
                .agent_config(args.agent.agent_config());
            match &cross_check_model {
                Some(model) => builder
                    .cross_check_model(SeededModel::over(model.clone(), args.agent.sampling_seed)),
                None => builder,
            }
            .build()
        };
        let shared_dir = dir.join("library");
        let shared = open(shared_dir.clone(), true)
            .await
            .with_context(|| format!("opening a library in {}", shared_dir.display()))?;
        let mut arms: Vec<(ArmKind, Arm)> = args
            .arms
            .iter()
            .map(|&kind| {
                let arm = Arm {
                    name: kind.title(),
                    outcomes: Vec::new(),
                };
                (kind, arm)
            })
            .collect();
        let mut unsatisfiable = Vec::new();
        for (i, problem) in problems.iter().enumerate() {
            eprintln!("[{}/{}] {}", i + 1, problems.len(), problem.task_id);
            let contradiction = problem
                .contradiction(env.as_ref(), &sandbox)
                .context("reading the suite's tests")?;
            if let Some(call) = &contradiction {
                eprintln!("  unsatisfiable tests: {call}; no admission of it counts as wrong");
                unsatisfiable.push(Unsatisfiable {
                    task_id: problem.task_id.clone(),
                    call: call.clone(),
                });
            }
            for (kind, arm) in &mut arms {
                let mut outcome = match kind {
                    ArmKind::Model => {
                        direct(direct_model.as_ref(), &env, &sandbox, problem).await?
                    }
                    ArmKind::Loop => {
                        let fresh_dir = dir.join(format!("loop-{}", args.skip + i));
                        let fresh = open(fresh_dir.clone(), false).await.with_context(|| {
                            format!("opening a library in {}", fresh_dir.display())
                        })?;
                        // Inspecting it later must not fill it with the starter library.
                        fresh.library().forgo_starter().await?;
                        let outcome = looped(&fresh, &env, problem).await?;
                        fresh.close().await;
                        Outcome {
                            library: kept.map(|_| fresh_dir),
                            ..outcome
                        }
                    }
                    ArmKind::Library => Outcome {
                        library: kept.map(|_| shared_dir.clone()),
                        ..looped(&shared, &env, problem).await?
                    },
                };
                outcome.wrong_admission &= contradiction.is_none();
                // Each outcome as it comes, so that a run cut short still shows what it did.
                eprintln!(
                    "  {}: {}{}",
                    arm.name,
                    if outcome.passed { "passed" } else { "failed" },
                    if outcome.wrong_admission {
                        " (wrong admission)"
                    } else {
                        ""
                    }
                );
                arm.outcomes.push(outcome);
            }
        }
        let arms: Vec<Arm> = arms.into_iter().map(|(_, arm)| arm).collect();
        shared.close().await;
        anyhow::Ok((arms, unsatisfiable))
    })?;
    if args.json {
        let rows: Vec<_> = arms
            .iter()
            .map(|arm| {
                json!({"arm": arm.name, "problems": arm.outcomes.len(), "passed": arm.passed(),
                       "tokens_per_solved": arm.cost_per_solved().map(|c| c.0),
                       "seconds_per_solved": arm.cost_per_solved().map(|c| c.1),
                       "wrong_admissions": arm.wrong_admissions(),
                       "unverified": arm.unverified().0, "wrong_unverified": arm.unverified().1,
                       "passed_by_round": arm.passed_by_round(),
                       "outcomes": arm.outcomes})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"suite": args.suite, "libraries": kept, "unsatisfiable": unsatisfiable,
                        "arms": rows})
            )?
        );
        return Ok(EXIT_OK);
    }
    println!("{} problems of {}", problems.len(), args.suite.display());
    println!(
        "{:<18} {:>8} {:>15} {:>12} {:>17} {:>18}",
        "arm", "passed", "tokens/solved", "s/solved", "wrong admissions", "unverified (wrong)"
    );
    for arm in &arms {
        let (tokens, seconds) = arm
            .cost_per_solved()
            .map_or(("-".to_string(), "-".to_string()), |(t, s)| {
                (format!("{t:.0}"), format!("{s:.1}"))
            });
        let (unverified, wrong_unverified) = arm.unverified();
        println!(
            "{:<18} {:>8} {:>15} {:>12} {:>17} {:>18}",
            arm.name,
            format!("{}/{}", arm.passed(), arm.outcomes.len()),
            tokens,
            seconds,
            arm.wrong_admissions(),
            format!("{unverified} ({wrong_unverified})")
        );
    }
    for arm in &arms {
        let by_round = arm.passed_by_round();
        if !by_round.is_empty() {
            let counts: Vec<String> = by_round
                .iter()
                .enumerate()
                .map(|(i, passed)| format!("{}: {passed}", i + 1))
                .collect();
            println!("{} passed within N rounds: {}", arm.name, counts.join(", "));
        }
    }
    for problem in &unsatisfiable {
        println!(
            "unsatisfiable: {} ({}): no answer passes, no admission counted wrong",
            problem.task_id, problem.call
        );
    }
    if let Some(dir) = kept {
        print_libraries(dir, &args.arms);
    }
    Ok(EXIT_OK)
}

/// Where the loop arms' libraries are kept and how to read their journals.
fn print_libraries(dir: &Path, arms: &[ArmKind]) {
    println!("libraries: {}", dir.display());
    if arms.contains(&ArmKind::Library) {
        println!(
            "  loop + library:   skillforge --data-dir {} episodes list",
            dir.join("library").display()
        );
    }
    if arms.contains(&ArmKind::Loop) {
        println!(
            "  loop, no library: skillforge --data-dir {} episodes list  (loop-N for problem N)",
            dir.join("loop-N").display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skillforge::sandbox::SandboxConfig;

    fn problem() -> Problem {
        Problem {
            task_id: "T/1".into(),
            entry_point: "add_one".into(),
            prompt: "/**\n * Add one.\n * >>> add_one(1)\n * 2\n */\nfunction add_one(x) {\n".into(),
            tests: "const assert = require('node:assert');\n\nfunction test() {\n  const candidate = add_one;\n  assert.deepStrictEqual(candidate(1), 2);\n  assert.deepStrictEqual(candidate(-1), 0);\n}\n\ntest();\n".into(),
        }
    }

    #[test]
    fn direct_answers_are_judged_by_the_suites_tests() {
        let sandbox = Sandbox::new(SandboxConfig::default(), HostFunctions::empty()).unwrap();
        let env = CodeEnvironment::new("numbers");
        let problem = problem();
        let task = problem_task(&problem).unwrap();
        let judge = |reply: &str| {
            passes_suite(
                &env,
                &sandbox,
                &direct_bundle(&problem, &task, reply),
                &problem,
            )
            .unwrap()
        };
        // A whole function in a block, a body completing the prompt, and wrong code.
        assert!(judge(
            "Sure:\n```javascript\nfunction add_one(x) {\n  return x + 1;\n}\n```\nDone."
        ));
        assert!(judge("  return x + 1;\n}\n"));
        assert!(!judge("```js\nfunction add_one(x) { return x + 2; }\n```"));
        // A right answer for the first test only fails the suite.
        assert!(!judge("```js\nfunction add_one(x) { return 2; }\n```"));
        // Read as the loop reads it: the function under another name, and a call after it.
        assert!(judge(
            "```js\nfunction addOne(x) {\n  return x + 1;\n}\nconsole.log(addOne(1));\n```"
        ));
    }

    #[test]
    fn passes_are_counted_by_the_round_they_came_in() {
        let outcome = |passed: bool, rounds: Option<u32>| Outcome {
            rounds,
            ..Outcome::direct("T/1".into(), passed, 0, 0.0)
        };
        let looped = Arm {
            name: "loop, no library",
            outcomes: vec![
                outcome(true, Some(1)),
                outcome(true, Some(3)),
                outcome(false, Some(4)),
                outcome(true, Some(1)),
            ],
        };
        assert_eq!(looped.passed_by_round(), vec![2, 2, 3, 3]);
        let alone = Arm {
            name: "model alone",
            outcomes: vec![outcome(true, None)],
        };
        assert!(alone.passed_by_round().is_empty());
    }
}
