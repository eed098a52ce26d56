//! Running both arms task by task: the same model, environment, agent settings and tasks;
//! one library that grows in one arm, a fresh empty library for every task in the other.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::agent::{Agent, AgentConfig, AgentError, Environment, Observer, Task};
use crate::embed::Embedder;
use crate::library::{Library, LibraryConfig, LibraryError, parse_stored};
use crate::llm::LanguageModel;
use crate::sandbox::{Capabilities, Sandbox, SandboxError};
use crate::store::ListFilter;

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
        let with_library =
            agent(&setup, library_dir(&setup.workdir, ArmKind::WithLibrary, 0)).await?;
        let report = EvalReport::new(
            source,
            setup.model.model_id().to_string(),
            planned_tasks,
            setup.config.max_rounds,
        );
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

    /// Runs `task` in one arm and records its outcome.
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
        let outcome = episode(agent, self.setup.env.as_ref(), task).await;
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
        setup.model.clone(),
        setup.env.clone(),
        setup.config.clone(),
    );
    Ok(match &setup.observer {
        Some(observer) => agent.with_observer(observer.clone()),
        None => agent,
    })
}

/// One episode of `task`, its skill judged by the task's own check.
async fn episode(
    agent: &Agent,
    env: &dyn Environment,
    task: &EvalTask,
) -> Result<TaskOutcome, EvalError> {
    let started = Instant::now();
    let report = agent
        .solve(task.task.clone())
        .await
        .map_err(|source| EvalError::Agent {
            task: task.id.clone(),
            source,
        })?;
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
    let wall_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(TaskOutcome::new(task.id.clone(), &report, solved, wall_ms))
}
