//! The episodes the daemon runs in the background, through the runtime: submitted tasks
//! ([`Runtime::start`](crate::runtime::Runtime::start)), the open-ended `run` and the
//! resume of unfinished episodes at start ([`Runtime::spawn_run`](crate::runtime::Runtime::spawn_run);
//! zero iterations only resumes). The runtime keeps them from driving one episode twice
//! (a start during a run or a resume is `Busy`: 409) and checkpoints an episode a stop cuts
//! short; the daemon keeps the run's state for `GET /v1/run`, counts each namespace's
//! model tokens, and waits for its jobs when it stops.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use super::{ApiError, Daemon};
use crate::agent::{Progress, Task};
use crate::library::DEFAULT_NAMESPACE;
use crate::runtime::RuntimeError;

/// The daemon's jobs and its run.
pub(crate) struct Work {
    jobs: Mutex<Vec<JoinHandle<()>>>,
    run: Mutex<Option<ActiveRun>>,
}

/// The open-ended run, while it lasts (and its last state after).
struct ActiveRun {
    stop: CancellationToken,
    state: Arc<Mutex<RunState>>,
}

/// What `GET /v1/run` shows.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct RunState {
    /// Whether the run is going on (or waiting for submitted tasks to end before it starts).
    pub active: bool,
    /// Episodes asked for.
    pub iterations: usize,
    /// Episodes started so far, in order.
    pub episodes: Vec<String>,
    /// The episode in progress.
    pub current: Option<String>,
    /// Episodes finished, by status.
    pub finished: HashMap<String, usize>,
    /// Why the run ended early: `stopped` (asked to), or the agent's error.
    pub stopped: Option<String>,
}

/// What the observer of a run (or resume) records.
#[derive(Default)]
struct Tracker {
    /// The episode in progress.
    current: Option<String>,
    /// The namespaces of the episodes seen, to count their model tokens.
    namespaces: BTreeMap<String, String>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Work {
    pub(crate) fn new() -> Work {
        Work {
            jobs: Mutex::new(Vec::new()),
            run: Mutex::new(None),
        }
    }

    /// Waits for every job to end (after a stop, for each to checkpoint its episode).
    pub(crate) async fn wait(&self) {
        loop {
            let jobs: Vec<_> = std::mem::take(&mut *lock(&self.jobs));
            if jobs.is_empty() {
                return;
            }
            for job in jobs {
                let _ = job.await;
            }
        }
    }

    fn keep(&self, job: JoinHandle<()>) {
        let mut jobs = lock(&self.jobs);
        jobs.retain(|j| !j.is_finished());
        jobs.push(job);
    }
}

/// Starts an episode for `task` in the background; returns its id once it exists.
pub(crate) async fn submit(daemon: &Arc<Daemon>, task: Task) -> Result<String, ApiError> {
    if daemon.stopping.is_cancelled() {
        return Err(ApiError::unavailable("the daemon is stopping"));
    }
    let namespace = task
        .namespace
        .clone()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
    let observer = daemon.usage.token_counter(namespace);
    let started = daemon.runtime.start(task, Some(observer)).await?;
    let id = started.id().to_string();
    let daemon_for_job = Arc::clone(daemon);
    let episode = id.clone();
    let job = tokio::spawn(async move {
        let daemon = daemon_for_job;
        match started.report().await {
            Ok(report) => {
                tracing::info!(episode, status = report.status.as_str(), "episode finished")
            }
            Err(RuntimeError::Stopped) => {
                tracing::info!(episode, "episode checkpointed; the next start resumes it")
            }
            Err(error) => tracing::warn!(episode, "the episode stopped on an error: {error}"),
        }
        daemon.usage.save(&daemon.runtime).await;
    });
    daemon.work.keep(job);
    Ok(id)
}

/// Starts the open-ended loop for `iterations` episodes; 409 while one is active.
pub(crate) fn start_run(daemon: &Arc<Daemon>, iterations: usize) -> Result<RunState, ApiError> {
    if daemon.stopping.is_cancelled() {
        return Err(ApiError::unavailable("the daemon is stopping"));
    }
    let mut run = lock(&daemon.work.run);
    if run.as_ref().is_some_and(|r| lock(&r.state).active) {
        return Err(ApiError::busy(
            "a run is active already; DELETE /v1/run stops it",
        ));
    }
    let state = Arc::new(Mutex::new(RunState {
        active: true,
        iterations,
        ..RunState::default()
    }));
    let stop = daemon.stopping.child_token();
    *run = Some(ActiveRun {
        stop: stop.clone(),
        state: Arc::clone(&state),
    });
    let snapshot = lock(&state).clone();
    drop(run);
    let job = tokio::spawn(drive_run(Arc::clone(daemon), iterations, stop, Some(state)));
    daemon.work.keep(job);
    Ok(snapshot)
}

/// The run's state (`None`: none was started since the daemon started).
pub(crate) fn run_state(daemon: &Daemon) -> Option<RunState> {
    lock(&daemon.work.run)
        .as_ref()
        .map(|r| lock(&r.state).clone())
}

/// Stops the active run: its episode in progress is checkpointed (`interrupted`), to be
/// resumed by the next run or start.
pub(crate) fn stop_run(daemon: &Daemon) -> Result<RunState, ApiError> {
    let run = lock(&daemon.work.run);
    match run.as_ref() {
        Some(active) if lock(&active.state).active => {
            active.stop.cancel();
            Ok(lock(&active.state).clone())
        }
        _ => Err(ApiError::not_found(
            "no run is active; POST /v1/run starts one",
        )),
    }
}

/// Resumes the episodes left open, in the background; returns how many there are.
pub(crate) async fn resume_unfinished(daemon: &Arc<Daemon>) -> Result<usize, ApiError> {
    let open = daemon
        .runtime
        .library()
        .store()
        .unfinished_episodes()
        .await
        .map_err(ApiError::internal)?;
    if open.is_empty() {
        return Ok(0);
    }
    if !daemon.agent {
        tracing::warn!(
            "{} unfinished episodes are left for a daemon with the agent",
            open.len()
        );
        return Ok(0);
    }
    let stop = daemon.stopping.child_token();
    // A run of zero episodes finishes the open ones and proposes nothing.
    let job = tokio::spawn(drive_run(Arc::clone(daemon), 0, stop, None));
    daemon.work.keep(job);
    Ok(open.len())
}

/// A run (or, with zero iterations, a resume), to its end or a stop.
async fn drive_run(
    daemon: Arc<Daemon>,
    iterations: usize,
    stop: CancellationToken,
    state: Option<Arc<Mutex<RunState>>>,
) {
    let tracker = Arc::new(Mutex::new(Tracker::default()));
    // The namespaces of the open episodes the run resumes first; curriculum tasks work in
    // the default one.
    if let Ok(open) = daemon.runtime.library().store().unfinished_episodes().await {
        let mut t = lock(&tracker);
        for episode in open {
            t.namespaces
                .insert(episode.id, task_namespace(&episode.task).to_string());
        }
    }
    let observer = run_observer(&daemon, Arc::clone(&tracker), state.clone());
    let result = daemon
        .runtime
        .spawn_run(iterations, stop.clone(), Some(observer))
        .await
        .map_err(|e| RuntimeError::Background(e.to_string()))
        .and_then(|r| r);
    let stopped = match result {
        Ok(_) if stop.is_cancelled() || daemon.runtime.is_shut_down() => {
            Some("stopped".to_string())
        }
        Ok(_) => None,
        Err(error) => {
            tracing::warn!("the run stopped on an error: {error}");
            Some(error.to_string())
        }
    };
    if let Some(state) = &state {
        let mut state = lock(state);
        state.active = false;
        state.current = None;
        state.stopped = stopped;
    }
    daemon.usage.save(&daemon.runtime).await;
}

fn run_observer(
    daemon: &Arc<Daemon>,
    tracker: Arc<Mutex<Tracker>>,
    state: Option<Arc<Mutex<RunState>>>,
) -> crate::agent::Observer {
    let usage = Arc::clone(&daemon.usage);
    Arc::new(move |progress: &Progress| {
        let mut t = lock(&tracker);
        match progress {
            Progress::Episode { id, .. } => {
                t.current = Some(id.clone());
                if let Some(state) = &state {
                    let mut state = lock(state);
                    state.current = Some(id.clone());
                    state.episodes.push(id.clone());
                }
            }
            Progress::Model {
                prompt_tokens,
                completion_tokens,
                ..
            } => {
                let namespace = t
                    .current
                    .as_ref()
                    .and_then(|id| t.namespaces.get(id))
                    .map_or(DEFAULT_NAMESPACE, String::as_str);
                usage.add_tokens(
                    namespace,
                    u64::from(*prompt_tokens) + u64::from(*completion_tokens),
                );
            }
            Progress::Finished(report) => {
                t.current = None;
                if let Some(state) = &state {
                    let mut state = lock(state);
                    state.current = None;
                    *state
                        .finished
                        .entry(report.status.as_str().to_string())
                        .or_default() += 1;
                }
            }
            Progress::Round { .. } => {}
        }
    })
}

/// The namespace an episode's task works in.
pub(crate) fn task_namespace(task: &serde_json::Value) -> &str {
    task["namespace"].as_str().unwrap_or(DEFAULT_NAMESPACE)
}
