//! Running both arms task by task: the same model, environment, agent settings and tasks;
//! one library that grows in one arm, a fresh empty library for every task in the other.
//!
//! A run cut short is continued ([`Evaluation::resume`]) from its report and its kept
//! libraries: the first episode of each arm looks in its library for the episode the cut
//! left unrecorded, and takes its report if it finished, or resumes it from its journal
//! ([`Agent::resume_unfinished`]) if it did not, instead of starting the task again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::agent::{Agent, AgentConfig, AgentError, Environment, EpisodeReport, Observer, Task};
use crate::embed::Embedder;
use crate::library::{Library, LibraryConfig, LibraryError, parse_stored};
use crate::llm::{LanguageModel, SeededModel};
use crate::sandbox::{Capabilities, Sandbox, SandboxError};
use crate::store::{EpisodeRecord, EpisodeStatus, ListFilter, StoreError};

use super::report::{ArmKind, EvalReport, TaskOutcome};
use super::suite::{Problem, passes};

/// An eval that cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The agent failed (the model, the store, the library), not the task.
    #[error("{task}: the episode stopped on an error: {source}")]
    Agent {
        /// The task's id.
        task: String,
        /// The agent's error.
        #[source]
        source: AgentError,
    },
    /// An arm's library failed.
    #[error(transparent)]
    Library(#[from] LibraryError),
    /// The sandbox could not judge an answer.
    #[error("judging an answer: {0}")]
    Judge(#[from] SandboxError),
    /// A run cut short cannot be continued from what its library holds.
    #[error("{task}: {reason}")]
    Resume {
        /// The task's id.
        task: String,
        /// What is wrong.
        reason: String,
    },
}

impl From<StoreError> for EvalError {
    fn from(error: StoreError) -> Self {
        EvalError::Library(error.into())
    }
}

/// A task to run in both arms and how it is judged.
#[derive(Debug, Clone)]
pub struct EvalTask {
    /// Its id in reports.
    pub id: String,
    /// What the agent is given.
    pub task: Task,
    /// What judges the skill it ends with: the suite's own tests or the environment's
    /// check (never the agent's own tests).
    pub judge: Task,
}

impl EvalTask {
    /// A suite problem: the agent gets its prompt (whose examples become the agent's check)
    /// and the entry point's name; the suite's tests judge.
    pub fn from_problem(problem: &Problem) -> EvalTask {
        let task = Task::from_text(problem.prompt.clone(), Some(&problem.entry_point))
            .unwrap_or_else(|_| {
                Task::from_user(problem.prompt.clone()).with_name(problem.entry_point.clone())
            });
        EvalTask {
            id: problem.task_id.clone(),
            task,
            judge: problem.judge(),
        }
    }

    /// A task an environment posed, judged by the environment's check.
    pub fn from_environment(id: String, task: Task) -> EvalTask {
        EvalTask {
            id,
            judge: task.clone(),
            task,
        }
    }
}

/// What both arms share.
pub struct EvalSetup {
    /// The model.
    pub model: Arc<dyn LanguageModel>,
    /// The model asked for cross-check candidates, when not `model`
    /// ([`Agent::with_cross_check_model`]).
    pub cross_check_model: Option<Arc<dyn LanguageModel>>,
    /// The environment (the suite's `code` environment, or an external one).
    pub env: Arc<dyn Environment>,
    /// The embedder of both arms' libraries.
    pub embedder: Arc<dyn Embedder>,
    /// The sandbox of both arms' libraries (with the environment's host functions).
    pub sandbox: Arc<Sandbox>,
    /// The capabilities skills may declare (the environment's actions).
    pub capabilities: Capabilities,
    /// How the agent works, the same in both arms.
    pub config: AgentConfig,
    /// Where the arms' libraries are created and left (see [`library_dir`]): the caller
    /// keeps them for the journals, or discards them.
    pub workdir: PathBuf,
    /// Told of the agent's progress, in both arms.
    pub observer: Option<Observer>,
    /// Seeds the model's sampling anew for each library ([`SeededModel`]): a request both
    /// arms send gets the same reply in both, so that they differ by what the library
    /// changes rather than by chance where their prompts agree; unset, the server draws.
    pub sampling_seed: Option<u32>,
}

/// An eval in progress: both arms and what they measured so far.
pub struct Evaluation {
    setup: EvalSetup,
    with_library: Agent,
    report: EvalReport,
}

impl Evaluation {
    /// Starts an eval of `planned_tasks` tasks of `source`: opens the with-library arm's
    /// (empty) library.
    pub async fn start(
        setup: EvalSetup,
        source: String,
        planned_tasks: usize,
    ) -> Result<Evaluation, EvalError> {
        let report = EvalReport::new(
            source,
            setup.model.model_id().to_string(),
            planned_tasks,
            setup.config.max_rounds,
            setup.sampling_seed,
        );
        Evaluation::resume(setup, report).await
    }

    /// Continues a run cut short, whose `report` holds what it measured and whose libraries
    /// are in `setup.workdir`: reopens the with-library arm's library. Each arm's next task
    /// is the one after its last outcome ([`Evaluation::run`] finishes an episode the cut
    /// left in its library).
    pub async fn resume(setup: EvalSetup, report: EvalReport) -> Result<Evaluation, EvalError> {
        let with_library =
            agent(&setup, library_dir(&setup.workdir, ArmKind::WithLibrary, 0)).await?;
        Ok(Evaluation {
            setup,
            with_library,
            report,
        })
    }

    /// What was measured so far.
    pub fn report(&self) -> &EvalReport {
        &self.report
    }

    /// Runs `task` in one arm and records its outcome. An episode of the arm's library that
    /// no outcome records (a run cut short left it) is taken for `task`: its report if it
    /// finished, else it is resumed from its journal.
    pub async fn run(&mut self, kind: ArmKind, task: &EvalTask) -> Result<(), EvalError> {
        let index = self.report.arm(kind).outcomes.len();
        let fresh;
        let agent = match kind {
            ArmKind::WithLibrary => &self.with_library,
            ArmKind::WithoutLibrary => {
                let dir = library_dir(&self.setup.workdir, kind, index);
                fresh = agent(&self.setup, dir).await?;
                &fresh
            }
        };
        let recorded = &self.report.arm(kind).outcomes;
        let outcome = episode(agent, self.setup.env.as_ref(), task, recorded).await;
        let library_size = agent.library().list(&ListFilter::default()).await?.len();
        if kind == ArmKind::WithoutLibrary {
            agent.library().store().close().await;
        }
        let arm = self.report.arm_mut(kind);
        arm.outcomes.push(outcome?);
        arm.library_size = library_size;
        Ok(())
    }

    /// Closes the with-library arm's library and returns the report.
    pub async fn finish(self) -> EvalReport {
        self.with_library.library().store().close().await;
        self.report
    }
}

/// The directory of the library arm `kind` runs the task at `index` in, under `workdir`:
/// one library for the arm with a library (`with-library`), a fresh one per task for the
/// arm without (`without-library-INDEX`).
pub fn library_dir(workdir: &Path, kind: ArmKind, index: usize) -> PathBuf {
    match kind {
        ArmKind::WithLibrary => workdir.join("with-library"),
        ArmKind::WithoutLibrary => workdir.join(format!("without-library-{index}")),
    }
}

/// An agent on the library in `dir` (new and empty the first time).
async fn agent(setup: &EvalSetup, dir: PathBuf) -> Result<Agent, EvalError> {
    let mut config = LibraryConfig::new(dir);
    config.load_starter = false;
    config.allowed_capabilities = setup.capabilities.clone();
    let library = Library::open(&config, setup.embedder.clone(), setup.sandbox.clone()).await?;
    // Inspecting it later (`episodes list`) must not fill it with the starter library.
    library.forgo_starter().await?;
    let agent = Agent::new(
        Arc::new(library),
        SeededModel::over(setup.model.clone(), setup.sampling_seed),
        setup.env.clone(),
        setup.config.clone(),
    )
    .with_cross_check_model(
        setup
            .cross_check_model
            .as_ref()
            .map(|model| SeededModel::over(model.clone(), setup.sampling_seed)),
    );
    Ok(match &setup.observer {
        Some(observer) => agent.with_observer(observer.clone()),
        None => agent,
    })
}

/// One episode of `task`, its skill judged by the task's own check: a new one, or the one a
/// run cut short left in the library unrecorded (none of `recorded` names it).
async fn episode(
    agent: &Agent,
    env: &dyn Environment,
    task: &EvalTask,
    recorded: &[TaskOutcome],
) -> Result<TaskOutcome, EvalError> {
    let started = Instant::now();
    let (report, earlier_ms) = match unrecorded(agent, task, recorded).await? {
        None => {
            let report =
                agent
                    .solve(task.task.clone())
                    .await
                    .map_err(|source| EvalError::Agent {
                        task: task.id.clone(),
                        source,
                    })?;
            (report, 0.0)
        }
        Some(record) => continued(agent, task, record).await?,
    };
    let library = agent.library();
    let solved = match &report.skill {
        Some(name) => {
            let skill = library.get(name).await?.skill;
            let bundle = library
                .bundle(&parse_stored(&skill)?, &skill.record.namespace)
                .await?;
            passes(env, library.sandbox(), &bundle, &task.judge)?
        }
        None => false,
    };
    let wall_ms = earlier_ms + started.elapsed().as_secs_f64() * 1e3;
    Ok(TaskOutcome::new(task.id.clone(), &report, solved, wall_ms))
}

/// The episode of `agent`'s library that none of `recorded` names, if there is one: at most
/// one, of `task` (a run records each episode as it ends).
async fn unrecorded(
    agent: &Agent,
    task: &EvalTask,
    recorded: &[TaskOutcome],
) -> Result<Option<EpisodeRecord>, EvalError> {
    let episodes = agent.library().store().list_episodes(i64::MAX).await?;
    let mut left: Vec<EpisodeRecord> = episodes
        .into_iter()
        // An episode that learned a function for another is that one's.
        .filter(|e| e.task.get("learned_for").is_none())
        .filter(|e| !recorded.iter().any(|o| o.episode.as_ref() == Some(&e.id)))
        .collect();
    let resume_error = |reason: String| EvalError::Resume {
        task: task.id.clone(),
        reason,
    };
    let Some(record) = left.pop() else {
        return Ok(None);
    };
    if !left.is_empty() {
        return Err(resume_error(format!(
            "{} episodes of its library are in no outcome of the report, at most one can be",
            left.len() + 1
        )));
    }
    if record.task["description"] != task.task.description.as_str() {
        return Err(resume_error(format!(
            "episode {} of its library, in no outcome of the report, is of another task: {}",
            record.id, record.task["description"]
        )));
    }
    Ok(Some(record))
}

/// The report of an episode a run cut short left unrecorded, and the milliseconds it had
/// run: as stored if it finished, else resumed from its journal (its report then counts only
/// the resumed run's time and tokens).
async fn continued(
    agent: &Agent,
    task: &EvalTask,
    record: EpisodeRecord,
) -> Result<(EpisodeReport, f64), EvalError> {
    let resume_error = |reason: String| EvalError::Resume {
        task: task.id.clone(),
        reason,
    };
    let record = if record.finished_at.is_some() {
        record
    } else {
        let resumed = agent
            .resume_unfinished()
            .await
            .map_err(|source| EvalError::Agent {
                task: task.id.clone(),
                source,
            })?;
        if let Some(report) = resumed.into_iter().find(|r| r.episode == record.id) {
            return Ok((report, 0.0));
        }
        // Its resume failed: interrupted again, or abandoned after too many stops.
        let record = agent.library().store().episode(&record.id).await?;
        if record.finished_at.is_none() {
            return Err(resume_error(format!(
                "episode {} could not be resumed (`episodes show {}` in its library says why)",
                record.id, record.id
            )));
        }
        record
    };
    let outcome = record.outcome.clone().unwrap_or_default();
    match serde_json::from_value::<EpisodeReport>(outcome.clone()) {
        Ok(report) => {
            let ms = report.timing.total_ms;
            Ok((report, ms))
        }
        // Abandoned after repeated errors: a failure.
        Err(_) if record.status == EpisodeStatus::Failed => Ok((
            EpisodeReport {
                episode: record.id,
                status: EpisodeStatus::Failed,
                task: task.task.clone(),
                skill: None,
                version: None,
                calls: Vec::new(),
                retrieved: Vec::new(),
                rounds: 0,
                problems: Some(outcome.to_string()),
                resumed: true,
                unverified: None,
                learned: Vec::new(),
                repaired: None,
                timing: Default::default(),
            },
            0.0,
        )),
        Err(e) => Err(resume_error(format!(
            "episode {} finished with an outcome that is not a report: {e}",
            record.id
        ))),
    }
}
