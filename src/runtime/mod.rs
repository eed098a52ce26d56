//! The runtime: one object that assembles skillforge (library, sandbox, embedder, index,
//! environment, language model, agent) and offers what its users do with it. The CLI, the
//! MCP server and the daemon are thin edges over a [`Runtime`]; a Rust program embeds
//! skillforge by building one.
//!
//! [`Runtime::builder`] starts from the CLI's defaults (the data directory of
//! [`LibraryConfig::default_data_dir`], SQLite and the in-process index there, the
//! embedding model and compiled-module cache in `~/.cache/skillforge`, the local model when
//! no endpoint is set, the `code` environment, no capabilities allowed); every part can be
//! replaced through its trait: [`LanguageModel`], [`Embedder`], [`VectorIndex`],
//! [`Environment`], and [`Observer`]s of the agent's progress.
//!
//! What a runtime does:
//! - **episodes**: [`Runtime::solve`] one task to its report, or [`Runtime::start`] it and
//!   get the episode id at once (its journal grows in the store while it runs);
//!   [`Runtime::run`] the open-ended loop until a number of episodes or a stop signal;
//!   [`Runtime::resume`] episodes a crash or a stop left open.
//! - **the library**: [`Runtime::list`], [`Runtime::search`], [`Runtime::show`],
//!   [`Runtime::add`], [`Runtime::deprecate`], [`Runtime::export`] (and everything else of
//!   [`Library`] through [`Runtime::library`]).
//! - **skills**: [`Runtime::run_skill`] runs one with an input under the sandbox's limits
//!   (tightened per call), with the `skillforge exec --json` outcome.
//! - **stopping**: a run's [`CancellationToken`], [`StartedEpisode::stop`] or
//!   [`Runtime::shutdown`] stop episodes at their next step and checkpoint them
//!   (`interrupted`) for a later resume. Episodes being solved and resumed run side by
//!   side; the loop runs alone.
//! - **leases**: every episode a runtime drives carries its lease in the store (the
//!   runtime's [`Runtime::instance_id`], [`EpisodeLeases`]), renewed while it runs, so that
//!   runtimes of several processes can share one store: a resume ([`Runtime::take_over`])
//!   claims only episodes that are free or whose lease has expired (their process died).

mod environment;
mod error;
mod request;

pub use environment::{DEFAULT_DOMAIN, EnvironmentSpec};
pub use error::RuntimeError;
pub use request::{LimitOverrides, SkillRun, TaskRequest};

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use tokio::sync::{RwLock, oneshot};
pub use tokio_util::sync::CancellationToken;

use crate::agent::{
    Agent, AgentConfig, Environment, EpisodeLease, EpisodeReport, Observer, Progress, Task,
};
use crate::embed::{Embedder, OnnxEmbedder};
use crate::envproto::ResetParams;
use crate::index::{SearchFilter, VectorIndex};
use crate::library::{
    AddOptions, Added, AgentSkillsExport, AgentSkillsExportReport, Library, LibraryConfig,
    LibraryError, OpenMode, SearchResult, SkillDetail, SkillSummary, parse_stored,
};
use crate::llm::{LanguageModel, LlmConfig};
use crate::sandbox::{Call, Capabilities, Limits, Sandbox, SandboxConfig};
use crate::skill::SkillSource;
use crate::store::{EpisodeEvent, EpisodeRecord, Lease, ListFilter, PrunedJournals, SkillRecord};

/// How long a runtime's hold on an episode lasts, and how often it is renewed while the
/// episode runs. A process that dies leaves its episodes to others once `duration` has
/// passed since its last renewal; a renewal that comes later than `duration` (a process
/// stalled that long, or clocks of two machines that far apart) lets another take the
/// episode over, and this one then stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpisodeLeases {
    /// How long a lease lasts without renewal (default 30 s).
    pub duration: Duration,
    /// How often a lease is renewed while its episode runs (default 10 s); shorter than
    /// `duration`.
    pub heartbeat: Duration,
}

impl Default for EpisodeLeases {
    fn default() -> Self {
        EpisodeLeases {
            duration: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
        }
    }
}

impl EpisodeLeases {
    /// Checks that the heartbeat is positive and shorter than the lease.
    pub fn validate(&self) -> Result<(), RuntimeError> {
        if self.heartbeat.is_zero() || self.heartbeat >= self.duration {
            return Err(RuntimeError::BadRequest(format!(
                "an episode lease of {:?} renewed every {:?} cannot hold: the heartbeat must be \
                 above zero and shorter than the lease (e.g. a third of it)",
                self.duration, self.heartbeat
            )));
        }
        Ok(())
    }
}

/// A name for this process among those sharing a store: host, pid and a random part.
fn new_instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &nonce[..8])
}

/// Loads the default embedding model (all-MiniLM-L6-v2 from the asset cache,
/// [`OnnxEmbedder::from_env`]) on a blocking thread.
pub async fn default_embedder() -> Result<Arc<OnnxEmbedder>, RuntimeError> {
    let embedder = crate::blocking::run(OnnxEmbedder::from_env)
        .await
        .map_err(RuntimeError::Embedder)?;
    Ok(Arc::new(embedder))
}

/// Starts a sandbox with the default configuration (compiled modules cached in
/// `~/.cache/skillforge/modules`) offering `host_functions`.
pub fn default_sandbox(
    host_functions: crate::sandbox::HostFunctions,
) -> Result<Arc<Sandbox>, RuntimeError> {
    Ok(Arc::new(Sandbox::new(
        SandboxConfig::default(),
        host_functions,
    )?))
}

/// Where the environment comes from.
enum EnvironmentSource {
    Spec(EnvironmentSpec),
    Given(Arc<dyn Environment>),
}

/// Builds a [`Runtime`]; made by [`Runtime::builder`]. Every setting has the CLI's default.
pub struct RuntimeBuilder {
    library: LibraryConfig,
    llm: LlmConfig,
    model: Option<Arc<dyn LanguageModel>>,
    cross_check_model: Option<Arc<dyn LanguageModel>>,
    embedder: Option<Arc<dyn Embedder>>,
    index: Option<Arc<dyn VectorIndex>>,
    sandbox: Option<Arc<Sandbox>>,
    sandbox_config: SandboxConfig,
    environment: EnvironmentSource,
    agent: AgentConfig,
    observers: Vec<Observer>,
    leases: EpisodeLeases,
}

impl RuntimeBuilder {
    fn new() -> Self {
        RuntimeBuilder {
            library: LibraryConfig::new(LibraryConfig::default_data_dir()),
            llm: LlmConfig::default(),
            model: None,
            cross_check_model: None,
            embedder: None,
            index: None,
            sandbox: None,
            sandbox_config: SandboxConfig::default(),
            environment: EnvironmentSource::Spec(EnvironmentSpec::default()),
            agent: AgentConfig::default(),
            observers: Vec::new(),
            leases: EpisodeLeases::default(),
        }
    }

    /// Reads the settings the CLI also reads from the environment, where set:
    /// `SKILLFORGE_DATA_DIR`, `SKILLFORGE_DATABASE_URL`, `QDRANT_URL`, `QDRANT_API_KEY`,
    /// `QDRANT_COLLECTION`, `SKILLFORGE_ALLOW_CAPABILITIES` (comma-separated),
    /// `SKILLFORGE_LOCK_TIMEOUT` (seconds), `SKILLFORGE_LLM_URL`, `SKILLFORGE_LLM_MODEL`,
    /// `SKILLFORGE_LLM_CONTEXT_TOKENS`. A value that does not parse is ignored.
    pub fn from_env(mut self) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        if let Some(dir) = var(crate::library::ENV_DATA_DIR) {
            self.library.data_dir = dir.into();
        }
        if let Some(url) = var("SKILLFORGE_DATABASE_URL") {
            self.library.database_url = Some(url);
        }
        if let Some(url) = var("QDRANT_URL") {
            self.library.qdrant_url = Some(url);
        }
        if let Some(key) = var("QDRANT_API_KEY") {
            self.library.qdrant_api_key = Some(key);
        }
        if let Some(name) = var("QDRANT_COLLECTION") {
            self.library.qdrant_collection = name;
        }
        if let Some(list) = var(crate::library::ENV_ALLOW_CAPABILITIES) {
            self = self.allow_capabilities(list.split(',').map(str::trim));
        }
        if let Some(timeout) = var("SKILLFORGE_LOCK_TIMEOUT")
            .and_then(|t| t.trim().parse::<f64>().ok())
            .and_then(|t| Duration::try_from_secs_f64(t).ok())
        {
            self.library.lock_timeout = timeout;
        }
        if let Some(url) = var("SKILLFORGE_LLM_URL") {
            self.llm.base_url = Some(url);
        }
        if let Some(model) = var("SKILLFORGE_LLM_MODEL") {
            self.llm.model = Some(model);
        }
        if let Some(tokens) = var("SKILLFORGE_LLM_CONTEXT_TOKENS").and_then(|t| t.parse().ok()) {
            self.llm.context_tokens = tokens;
        }
        self
    }

    /// The whole library configuration at once (data directory, store URL, Qdrant, limits,
    /// capability policy, mode, lock timeout, starter skills).
    pub fn library_config(mut self, config: LibraryConfig) -> Self {
        self.library = config;
        self
    }

    /// The directory of the library (SQLite file and in-process index).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.library.data_dir = dir.into();
        self
    }

    /// The SQL store: `sqlite://...` or `postgres://...` instead of the data directory's
    /// SQLite file.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.library.database_url = Some(url.into());
        self
    }

    /// A Qdrant server (gRPC URL) instead of the in-process index, with its API key.
    pub fn qdrant(mut self, url: impl Into<String>, api_key: Option<String>) -> Self {
        self.library.qdrant_url = Some(url.into());
        self.library.qdrant_api_key = api_key;
        self
    }

    /// Limits of every sandbox call the library makes (tests, checks) and the ceiling of
    /// [`Runtime::run_skill`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.library.limits = limits;
        self
    }

    /// Adds to the capability policy: what skills may be granted (a host function name,
    /// `prefix.*`, `clock` or `random`). Default: nothing. A named external environment's
    /// actions are added by [`RuntimeBuilder::build`]; a custom environment's host functions
    /// must be allowed here.
    pub fn allow_capabilities<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Self {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        self.library.allowed_capabilities = self
            .library
            .allowed_capabilities
            .iter()
            .map(String::from)
            .chain(names.into_iter().filter(|n| !n.is_empty()))
            .collect();
        self
    }

    /// Read-write (the default) or read-only ([`OpenMode`]).
    pub fn mode(mut self, mode: OpenMode) -> Self {
        self.library.mode = mode;
        self
    }

    /// How long a read-write open waits for another process holding the data directory.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.library.lock_timeout = timeout;
        self
    }

    /// Whether a never-loaded library gets the starter skills (default: yes).
    pub fn load_starter(mut self, load: bool) -> Self {
        self.library.load_starter = load;
        self
    }

    /// The model configuration: an OpenAI-compatible endpoint, or (no `base_url`) the
    /// offline local model. Built when first needed ([`Runtime::model`]).
    pub fn llm_config(mut self, config: LlmConfig) -> Self {
        self.llm = config;
        self
    }

    /// A language model to use instead of building one from the configuration (e.g.
    /// [`ScriptedModel`](crate::llm::ScriptedModel) in tests, or your own client).
    pub fn model(mut self, model: Arc<dyn LanguageModel>) -> Self {
        self.model = Some(model);
        self
    }

    /// A model for the cross-check candidates instead of the configuration's
    /// [`LlmConfig::cross_check_model`] (see [`Agent::with_cross_check_model`]).
    pub fn cross_check_model(mut self, model: Arc<dyn LanguageModel>) -> Self {
        self.cross_check_model = Some(model);
        self
    }

    /// An embedder instead of the default ONNX model.
    pub fn embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    /// A vector index instead of the one the configuration names (in process or Qdrant).
    /// It must have been made for the embedder's id and dimension; no data directory lock
    /// is taken for it.
    pub fn index(mut self, index: Arc<dyn VectorIndex>) -> Self {
        self.index = Some(index);
        self
    }

    /// A sandbox to share (e.g. between runtimes) instead of starting one. It must offer
    /// the environment's host functions.
    pub fn sandbox(mut self, sandbox: Arc<Sandbox>) -> Self {
        self.sandbox = Some(sandbox);
        self
    }

    /// How the runtime's own sandbox is set up (module cache, concurrent calls).
    pub fn sandbox_config(mut self, config: SandboxConfig) -> Self {
        self.sandbox_config = config;
        self
    }

    /// The environment skills act on: your own implementation, with its host functions.
    pub fn environment(mut self, environment: Arc<dyn Environment>) -> Self {
        self.environment = EnvironmentSource::Given(environment);
        self
    }

    /// An environment by name, started by [`RuntimeBuilder::build`] (default: `code` in
    /// [`DEFAULT_DOMAIN`]).
    pub fn environment_spec(mut self, spec: EnvironmentSpec) -> Self {
        self.environment = EnvironmentSource::Spec(spec);
        self
    }

    /// How the agent works (rounds, retrieval, critic, ...).
    pub fn agent_config(mut self, config: AgentConfig) -> Self {
        self.agent = config;
        self
    }

    /// How long the leases of this runtime's episodes last and how often they are renewed
    /// (default 30 s and 10 s).
    pub fn episode_leases(mut self, leases: EpisodeLeases) -> Self {
        self.leases = leases;
        self
    }

    /// Adds an observer of every episode's progress (rounds, model calls, reports).
    pub fn observer(mut self, observer: Observer) -> Self {
        self.observers.push(observer);
        self
    }

    /// Starts the environment, loads the embedder, starts the sandbox and opens the
    /// library. The language model is built when first needed.
    pub async fn build(self) -> Result<Runtime, RuntimeError> {
        self.leases.validate()?;
        let (environment, capabilities) = match self.environment {
            EnvironmentSource::Given(env) => (env, Capabilities::none()),
            EnvironmentSource::Spec(spec) => spec.start().await?,
        };
        let mut config = self.library;
        config.allowed_capabilities = config
            .allowed_capabilities
            .iter()
            .chain(capabilities.iter())
            .collect();
        let embedder: Arc<dyn Embedder> = match self.embedder {
            Some(embedder) => embedder,
            None => default_embedder().await?,
        };
        let sandbox = match self.sandbox {
            Some(sandbox) => sandbox,
            None => Arc::new(Sandbox::new(
                self.sandbox_config,
                environment.host_functions(),
            )?),
        };
        let library = match self.index {
            Some(index) => Library::open_with_index(&config, embedder, sandbox, index).await?,
            None => Library::open(&config, embedder, sandbox).await?,
        };
        let model = tokio::sync::OnceCell::new_with(self.model);
        let cross_check_model = tokio::sync::OnceCell::new_with(self.cross_check_model.map(Some));
        let lease = EpisodeLease {
            lease: Lease {
                owner: new_instance_id(),
                duration: self.leases.duration,
            },
            heartbeat: self.leases.heartbeat,
            others_stale: library.is_sole_writer(),
        };
        Ok(Runtime {
            inner: Arc::new(Inner {
                lease,
                library: Arc::new(library),
                environment,
                llm: self.llm,
                model,
                cross_check_model,
                agent: self.agent,
                observers: self.observers,
                gate: Arc::new(RwLock::new(())),
                shutdown: CancellationToken::new(),
            }),
        })
    }
}

/// skillforge assembled: a library, an environment, a language model (built when first
/// needed) and the agent's settings. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    library: Arc<Library>,
    environment: Arc<dyn Environment>,
    llm: LlmConfig,
    model: tokio::sync::OnceCell<Arc<dyn LanguageModel>>,
    cross_check_model: tokio::sync::OnceCell<Option<Arc<dyn LanguageModel>>>,
    agent: AgentConfig,
    observers: Vec<Observer>,
    /// The lease this runtime's episodes carry.
    lease: EpisodeLease,
    /// Held shared by each episode solved or resumed, alone by the loop (a submission
    /// during it is refused rather than queued out of sight).
    gate: Arc<RwLock<()>>,
    /// Cancelled by [`Runtime::shutdown`]: every episode stops and is checkpointed.
    shutdown: CancellationToken,
}

/// An episode started by [`Runtime::start`]: its id at once, its report when it ends.
pub struct StartedEpisode {
    id: String,
    stop: CancellationToken,
    report: tokio::task::JoinHandle<Result<EpisodeReport, RuntimeError>>,
}

impl StartedEpisode {
    /// The episode's id (its journal is in the store under it while it runs).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// True once the episode's work has ended (its report is ready).
    pub fn is_finished(&self) -> bool {
        self.report.is_finished()
    }

    /// Waits for the episode to end ([`RuntimeError::Stopped`] after a stop).
    pub async fn report(self) -> Result<EpisodeReport, RuntimeError> {
        self.report.await?
    }

    /// Stops the episode at its next step (a sandbox call in progress finishes first); it
    /// is checkpointed (`interrupted`, where its journal ends), and [`Runtime::resume`]
    /// finishes it.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// The token [`StartedEpisode::stop`] cancels, for a caller that stops the episode while
    /// it waits on [`StartedEpisode::report`] (a server stopping).
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }
}

impl Runtime {
    /// A builder with the CLI's defaults.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::new()
    }

    /// The library (store, index, embedder, sandbox).
    pub fn library(&self) -> &Arc<Library> {
        &self.inner.library
    }

    /// This runtime's name on the leases of the episodes it runs (host, pid and a random
    /// part): unique among the processes sharing a store.
    pub fn instance_id(&self) -> &str {
        &self.inner.lease.lease.owner
    }

    /// How long this runtime's episode leases last and how often they are renewed.
    pub fn episode_leases(&self) -> EpisodeLeases {
        EpisodeLeases {
            duration: self.inner.lease.lease.duration,
            heartbeat: self.inner.lease.heartbeat,
        }
    }

    /// The environment skills act on.
    pub fn environment(&self) -> &Arc<dyn Environment> {
        &self.inner.environment
    }

    /// The task that `world` of the environment poses (its goal, what the world shows at
    /// the start, and the environment's check), ready for [`Runtime::solve`]. A request
    /// error for an environment without worlds (`code`).
    pub async fn pose(&self, world: ResetParams) -> Result<Task, RuntimeError> {
        let environment = Arc::clone(&self.inner.environment);
        crate::blocking::run(move || {
            let name = environment.name().to_string();
            environment.pose(world).ok_or_else(|| {
                RuntimeError::BadRequest(format!(
                    "the `{name}` environment has no worlds to pose a task from; give the \
                     task in words"
                ))
            })
        })
        .await?
        .map_err(|e| RuntimeError::Environment(e.to_string()))
    }

    /// How the agent works.
    pub fn agent_config(&self) -> &AgentConfig {
        &self.inner.agent
    }

    /// The model configuration (unused when a model was given to the builder).
    pub fn llm_config(&self) -> &LlmConfig {
        &self.inner.llm
    }

    /// The language model, built on the first call (starting the local model, or checking
    /// the endpoint's configuration).
    pub async fn model(&self) -> Result<Arc<dyn LanguageModel>, RuntimeError> {
        self.inner
            .model
            .get_or_try_init(|| self.inner.llm.build())
            .await
            .cloned()
            .map_err(RuntimeError::Model)
    }

    /// The model asked for cross-check candidates when it is not the coder's, built on the
    /// first call ([`LlmConfig::cross_check_model`]); `None` when the coder's model is asked.
    pub async fn cross_check_model(&self) -> Result<Option<Arc<dyn LanguageModel>>, RuntimeError> {
        self.inner
            .cross_check_model
            .get_or_try_init(|| self.inner.llm.build_cross_check())
            .await
            .cloned()
            .map_err(RuntimeError::Model)
    }

    /// An agent over this runtime's library, model and environment, reporting to the
    /// builder's observers and `observer`. What it runs is outside the runtime's gate and
    /// stop (see [`Runtime::solve`] and [`Runtime::shutdown`]): prefer those.
    pub async fn agent(&self, observer: Option<Observer>) -> Result<Agent, RuntimeError> {
        let agent = Agent::new(
            Arc::clone(&self.inner.library),
            self.model().await?,
            Arc::clone(&self.inner.environment),
            self.inner.agent.clone(),
        )
        .with_cross_check_model(self.cross_check_model().await?)
        .with_lease(self.inner.lease.clone());
        let mut observers = self.inner.observers.clone();
        observers.extend(observer);
        Ok(match observers.len() {
            0 => agent,
            1 => agent.with_observer(observers.remove(0)),
            _ => agent.with_observer(Arc::new(move |progress: &Progress| {
                for observer in &observers {
                    observer(progress);
                }
            })),
        })
    }

    /// Solves one task: one episode, to its report. Waits while the open-ended loop runs
    /// (it runs alone).
    pub async fn solve(&self, task: Task) -> Result<EpisodeReport, RuntimeError> {
        self.solve_observed(task, None).await
    }

    /// [`Runtime::solve`], also reporting this episode's progress to `observer`.
    pub async fn solve_observed(
        &self,
        task: Task,
        observer: Option<Observer>,
    ) -> Result<EpisodeReport, RuntimeError> {
        let _held = Arc::clone(&self.inner.gate).read_owned().await;
        let (observer, current) = tracking(observer);
        let agent = self.agent(Some(observer)).await?;
        self.until_stopped(&CancellationToken::new(), &current, agent.solve(task))
            .await
    }

    /// Starts an episode for `task` in the background and returns once it exists, with its
    /// id: its journal can be followed in the store ([`Runtime::episode_events`]) while it
    /// runs. Never waits: while the open-ended loop runs it is [`RuntimeError::Busy`].
    /// Needs a multi-threaded tokio runtime.
    pub async fn start(
        &self,
        task: Task,
        observer: Option<Observer>,
    ) -> Result<StartedEpisode, RuntimeError> {
        if self.inner.shutdown.is_cancelled() {
            return Err(RuntimeError::Stopped);
        }
        let held = Arc::clone(&self.inner.gate)
            .try_read_owned()
            .map_err(|_| RuntimeError::Busy)?;
        let (id_sender, id_receiver) = oneshot::channel::<String>();
        let id_sender = Mutex::new(Some(id_sender));
        let announce: Observer = Arc::new(move |progress: &Progress| {
            if let Progress::Episode { id, .. } = progress
                && let Some(sender) = lock(&id_sender).take()
            {
                let _ = sender.send(id.clone());
            }
            if let Some(observer) = &observer {
                observer(progress);
            }
        });
        let (observer, current) = tracking(Some(announce));
        let agent = self.agent(Some(observer)).await?;
        let stop = CancellationToken::new();
        let runtime = self.clone();
        let stopping = stop.clone();
        let report = spawn_agent_work(move || async move {
            let _held = held;
            runtime
                .until_stopped(&stopping, &current, agent.solve(task))
                .await
        });
        match id_receiver.await {
            Ok(id) => Ok(StartedEpisode { id, stop, report }),
            // The episode ended before it began: its creation failed.
            Err(_) => match report.await? {
                Err(error) => Err(error),
                Ok(report) => Ok(StartedEpisode {
                    id: report.episode.clone(),
                    stop,
                    report: tokio::spawn(async move { Ok(report) }),
                }),
            },
        }
    }

    /// The open-ended loop: finishes the episodes left open, then lets the curriculum
    /// propose tasks, until `iterations` episodes have run or `stop` is cancelled (or the
    /// runtime shut down). On a stop, the episode in progress is checkpointed
    /// (`interrupted`, where its journal ends; the next run or [`Runtime::resume`] finishes
    /// it), and the reports of the episodes finished so far are returned. Runs alone: waits
    /// for episodes being solved or resumed to end, and episodes started meanwhile are
    /// refused.
    pub async fn run(
        &self,
        iterations: usize,
        stop: CancellationToken,
    ) -> Result<Vec<EpisodeReport>, RuntimeError> {
        self.run_observed(iterations, stop, None).await
    }

    /// [`Runtime::run`], also reporting progress to `observer`.
    pub async fn run_observed(
        &self,
        iterations: usize,
        stop: CancellationToken,
        observer: Option<Observer>,
    ) -> Result<Vec<EpisodeReport>, RuntimeError> {
        let _held = tokio::select! {
            held = Arc::clone(&self.inner.gate).write_owned() => held,
            _ = stop.cancelled() => return Ok(Vec::new()),
            _ = self.inner.shutdown.cancelled() => return Ok(Vec::new()),
        };
        let finished = Arc::new(Mutex::new(Vec::new()));
        let collect: Observer = {
            let finished = Arc::clone(&finished);
            Arc::new(move |progress: &Progress| {
                if let Progress::Finished(report) = progress {
                    lock(&finished).push((**report).clone());
                }
                if let Some(observer) = &observer {
                    observer(progress);
                }
            })
        };
        let (observer, current) = tracking(Some(collect));
        let agent = self.agent(Some(observer)).await?;
        match self
            .until_stopped(&stop, &current, agent.run(iterations))
            .await
        {
            Err(RuntimeError::Stopped) => Ok(std::mem::take(&mut *lock(&finished))),
            other => other,
        }
    }

    /// [`Runtime::run_observed`] in the background: the future of `run` is not `Send`, this
    /// handle is (for a server that starts and stops runs on request). Needs a
    /// multi-threaded tokio runtime.
    pub fn spawn_run(
        &self,
        iterations: usize,
        stop: CancellationToken,
        observer: Option<Observer>,
    ) -> tokio::task::JoinHandle<Result<Vec<EpisodeReport>, RuntimeError>> {
        let runtime = self.clone();
        spawn_agent_work(
            move || async move { runtime.run_observed(iterations, stop, observer).await },
        )
    }

    /// [`Runtime::resume`] in the background (see [`Runtime::spawn_run`]).
    pub fn spawn_resume(
        &self,
    ) -> tokio::task::JoinHandle<Result<Vec<EpisodeReport>, RuntimeError>> {
        self.spawn_take_over(CancellationToken::new(), None)
    }

    /// [`Runtime::take_over`] in the background (see [`Runtime::spawn_run`]).
    pub fn spawn_take_over(
        &self,
        stop: CancellationToken,
        observer: Option<Observer>,
    ) -> tokio::task::JoinHandle<Result<Vec<EpisodeReport>, RuntimeError>> {
        let runtime = self.clone();
        spawn_agent_work(move || async move { runtime.take_over(stop, observer).await })
    }

    /// Finishes every episode left open (by a crash, a kill or a stop) that no live process
    /// runs, oldest first: each is claimed (free, or its lease expired) before it is
    /// resumed. Runs beside episodes being solved; waits while the loop runs.
    pub async fn resume(&self) -> Result<Vec<EpisodeReport>, RuntimeError> {
        self.take_over(CancellationToken::new(), None).await
    }

    /// [`Runtime::resume`], stopped by `stop` (the episode in progress is checkpointed) and
    /// reporting progress to `observer`: what a server calls at its start and then
    /// periodically, to finish the episodes of processes that died or stopped.
    pub async fn take_over(
        &self,
        stop: CancellationToken,
        observer: Option<Observer>,
    ) -> Result<Vec<EpisodeReport>, RuntimeError> {
        let _held = tokio::select! {
            held = Arc::clone(&self.inner.gate).read_owned() => held,
            _ = stop.cancelled() => return Ok(Vec::new()),
            _ = self.inner.shutdown.cancelled() => return Ok(Vec::new()),
        };
        let (observer, current) = tracking(observer);
        let agent = self.agent(Some(observer)).await?;
        self.until_stopped(&stop, &current, agent.resume_unfinished())
            .await
    }

    /// Stops every episode of this runtime (solved, started, of a run or a resume) at its
    /// next step, letting a sandbox call in progress finish; each is checkpointed
    /// (`interrupted`, resumed by the next run or [`Runtime::resume`]). The stop is
    /// signalled when this is called; the future it returns ends when all have stopped.
    /// Episodes started after it are refused ([`RuntimeError::Stopped`]).
    pub fn shutdown(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.inner.shutdown.cancel();
        let gate = Arc::clone(&self.inner.gate);
        async move { drop(gate.write_owned().await) }
    }

    /// True once [`Runtime::shutdown`] was called.
    pub fn is_shut_down(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    /// Runs `work` until it ends, `stop` is cancelled or the runtime shuts down; then the
    /// episode in progress (`current`) is checkpointed and the result is
    /// [`RuntimeError::Stopped`]. The checkpoint releases the episode's lease, so another
    /// process may resume it at once.
    async fn until_stopped<T>(
        &self,
        stop: &CancellationToken,
        current: &Mutex<Option<String>>,
        work: impl std::future::Future<Output = Result<T, crate::agent::AgentError>>,
    ) -> Result<T, RuntimeError> {
        tokio::select! {
            result = work => return Ok(result?),
            _ = stop.cancelled() => {}
            _ = self.inner.shutdown.cancelled() => {}
        }
        let episode = lock(current).take();
        if let Some(id) = episode {
            let store = self.store();
            match store.release_episode(&id, self.instance_id()).await {
                Ok(true) => tracing::info!("episode {id} stopped; a resume finishes it"),
                // It finished as the stop came (or another process runs it).
                Ok(false) => {}
                Err(e) => tracing::warn!(
                    "episode {id} stays running until its lease runs out (then resumed all \
                     the same): {e}"
                ),
            }
        }
        Err(RuntimeError::Stopped)
    }

    /// The SQL store of the library.
    fn store(&self) -> &crate::store::Store {
        self.inner.library.store()
    }

    /// The latest episodes, newest first.
    pub async fn episodes(&self, limit: i64) -> Result<Vec<EpisodeRecord>, RuntimeError> {
        Ok(self
            .store()
            .list_episodes(limit)
            .await
            .map_err(LibraryError::from)?)
    }

    /// Deletes the journals of the episodes that finished more than `older_than` ago and
    /// admitted nothing; their rows (task, status, outcome) stay, marked as pruned. The
    /// journals of admissions and of open episodes are kept
    /// ([`Store::prune_journals`](crate::store::Store::prune_journals)).
    pub async fn prune_journals(
        &self,
        older_than: Duration,
    ) -> Result<PrunedJournals, RuntimeError> {
        let cutoff = chrono::TimeDelta::from_std(older_than)
            .ok()
            .and_then(|age| Utc::now().checked_sub_signed(age))
            .ok_or_else(|| {
                RuntimeError::BadRequest(format!(
                    "cannot prune journals older than {older_than:?}: that is before any date"
                ))
            })?;
        Ok(self
            .store()
            .prune_journals(cutoff)
            .await
            .map_err(LibraryError::from)?)
    }

    /// One episode's record.
    pub async fn episode(&self, id: &str) -> Result<EpisodeRecord, RuntimeError> {
        Ok(self.store().episode(id).await.map_err(LibraryError::from)?)
    }

    /// One episode's journal, in order (append-only: poll it to follow a running episode).
    pub async fn episode_events(&self, id: &str) -> Result<Vec<EpisodeEvent>, RuntimeError> {
        Ok(self
            .store()
            .episode_events(id)
            .await
            .map_err(LibraryError::from)?)
    }

    /// The library's skills.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<SkillSummary>, RuntimeError> {
        Ok(self.inner.library.list(filter).await?)
    }

    /// The `k` skills that best match `query` (hybrid dense + BM25 retrieval).
    pub async fn search(
        &self,
        query: &str,
        k: usize,
        filter: SearchFilter,
    ) -> Result<Vec<SearchResult>, RuntimeError> {
        Ok(self.inner.library.search(query, k, filter).await?)
    }

    /// One skill (NAME or NAMESPACE/NAME) with its call-graph neighbours.
    pub async fn show(&self, name: &str) -> Result<SkillDetail, RuntimeError> {
        Ok(self.inner.library.get(name).await?)
    }

    /// Validates a skill (its tests and those of the skills that call it) and adds it.
    pub async fn add(
        &self,
        source: SkillSource,
        options: AddOptions,
    ) -> Result<Added, RuntimeError> {
        Ok(self.inner.library.add(source, options).await?)
    }

    /// Marks a skill deprecated (kept for its callers, not offered by searches).
    pub async fn deprecate(&self, name: &str) -> Result<SkillRecord, RuntimeError> {
        Ok(self.inner.library.deprecate(name).await?)
    }

    /// Writes every skill to `DIR/NAMESPACE/NAME.js`; returns how many.
    pub async fn export(&self, dir: &Path) -> Result<usize, RuntimeError> {
        Ok(self.inner.library.export(dir).await?)
    }

    /// Writes every active skill whose tests pass as an Agent Skills folder `DIR/NAME/`.
    pub async fn export_agent_skills(
        &self,
        dir: &Path,
        options: &AgentSkillsExport,
    ) -> Result<AgentSkillsExportReport, RuntimeError> {
        Ok(self.inner.library.export_agent_skills(dir, options).await?)
    }

    /// Runs the library skill `name` with `input` (a JSON array is the argument list, any
    /// other value the one argument) under the library's limits tightened by `overrides`,
    /// granted exactly the capabilities its bundle declares. What the skill did is the
    /// [`SkillRun`]; an unknown skill, one that cannot run here or limits above the
    /// library's are errors ([`RuntimeError::is_bad_request`]).
    pub async fn run_skill(
        &self,
        name: &str,
        input: Value,
        overrides: LimitOverrides,
    ) -> Result<SkillRun, RuntimeError> {
        let library = &self.inner.library;
        let limits = overrides.apply(library.limits())?;
        let skill = library.get(name).await?.skill;
        if !skill.version.runnable {
            return Err(RuntimeError::BadRequest(format!(
                "{} needs another environment and cannot run here",
                skill.record.qualified_name()
            )));
        }
        let source = parse_stored(&skill)?;
        let bundle = match library.bundle(&source, &skill.record.namespace).await {
            Ok(bundle) => bundle,
            Err(e) if let Some(kind) = e.rejection_kind() => {
                return Ok(SkillRun::Refused {
                    kind,
                    message: e.to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let arguments = match input {
            Value::Array(items) => items,
            other => vec![other],
        };
        let sandbox = Arc::clone(library.sandbox());
        let entry = source.name;
        let outcome = crate::blocking::run(move || {
            sandbox.run(Call {
                source: &bundle.source,
                entry: &entry,
                args: &arguments,
                capabilities: &bundle.capabilities,
                limits: &limits,
            })
        })
        .await?;
        Ok(SkillRun::Ran(outcome))
    }

    /// Closes the store's connections (the library's lock is released when the last
    /// clone of the runtime is dropped).
    pub async fn close(&self) {
        self.store().close().await;
    }
}

/// Runs agent work in the background. The agent's futures are not `Send` for every
/// lifetime (what `tokio::spawn` requires), so the work is made and run to completion on a
/// blocking thread of the current runtime.
fn spawn_agent_work<T, F>(
    work: impl FnOnce() -> F + Send + 'static,
) -> tokio::task::JoinHandle<Result<T, RuntimeError>>
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, RuntimeError>>,
{
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(work()))
}

/// `observer` (if any) and the id of the episode it sees in progress, for a checkpoint.
fn tracking(observer: Option<Observer>) -> (Observer, Arc<Mutex<Option<String>>>) {
    let current = Arc::new(Mutex::new(None));
    let tracked = Arc::clone(&current);
    let tracker: Observer = Arc::new(move |progress: &Progress| {
        match progress {
            Progress::Episode { id, .. } => *lock(&tracked) = Some(id.clone()),
            Progress::Finished(_) => *lock(&tracked) = None,
            Progress::Round { .. } | Progress::Model { .. } => {}
        }
        if let Some(observer) = &observer {
            observer(progress);
        }
    });
    (tracker, current)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
