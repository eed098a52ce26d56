//! The episodes the daemon runs in the background, through the runtime: submitted tasks
//! ([`Runtime::start`](crate::runtime::Runtime::start)), the open-ended `run`
//! ([`Runtime::spawn_run`](crate::runtime::Runtime::spawn_run)), and the take-over of open
//! episodes ([`Runtime::spawn_take_over`](crate::runtime::Runtime::spawn_take_over)) at
//! start and then at every lease heartbeat, for those whose lease has expired (another
//! daemon on the same store died) or was released. The runtime's leases keep one episode
//! from being driven twice, by this daemon or another (a start during a run is `Busy`:
//! 409), and it checkpoints an episode a stop cuts short; the daemon keeps the run's state
//! for `GET /v1/run`, counts each namespace's model tokens, drains the index outbox at
//! every heartbeat when the index is a Qdrant server's (so it converges on what other
//! daemons admitted), and waits for its jobs when it stops.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// A take-over of open episodes is under way (one at a time).
    taking_over: AtomicBool,
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
            taking_over: AtomicBool::new(false),
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
    let job = tokio::spawn(drive_run(Arc::clone(daemon), iterations, stop, state));
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

/// Takes over, in the background, the open episodes no live process runs (left by a stop
/// or a crash of this daemon or another on the same store), and from then on, at every
/// lease heartbeat, drains the index outbox and takes over the episodes whose lease has
/// expired or was released. Returns how many episodes are open now.
pub(crate) async fn take_over_and_watch(daemon: &Arc<Daemon>) -> Result<usize, ApiError> {
    let open = daemon
        .runtime
        .library()
        .store()
        .unfinished_episodes()
        .await
        .map_err(ApiError::internal)?;
    if !daemon.agent && !open.is_empty() {
        tracing::warn!(
            "{} unfinished episodes are left for a daemon with the agent",
            open.len()
        );
    }
    if !open.is_empty() {
        take_over(daemon);
    }
    let every = daemon.runtime.episode_leases().heartbeat;
    let job = tokio::spawn(watch(Arc::clone(daemon), every));
    daemon.work.keep(job);
    Ok(open.len())
}

/// Starts a take-over job unless the daemon has no agent, is stopping, runs its loop (which
/// resumes first) or takes over already.
fn take_over(daemon: &Arc<Daemon>) {
    if !daemon.agent
        || daemon.stopping.is_cancelled()
        || run_state(daemon).is_some_and(|r| r.active)
    {
        return;
    }
    if daemon.work.taking_over.swap(true, Ordering::SeqCst) {
        return;
    }
    let stop = daemon.stopping.child_token();
    let job = tokio::spawn(drive_take_over(Arc::clone(daemon), stop));
    daemon.work.keep(job);
}

/// Every `every` until the daemon stops: applies the index outbox when the index is a
/// server's that every daemon shares (entries other daemons committed and did not apply,
/// e.g. as they died; a data dir's own index applies it after its own admissions only, the
/// entries being as much another process's), and takes over the open episodes that are
/// free or whose lease has expired.
async fn watch(daemon: Arc<Daemon>, every: std::time::Duration) {
    let shared_index = !daemon.runtime.library().holds_lock();
    let mut beats = tokio::time::interval(every);
    beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beats.tick().await;
    loop {
        tokio::select! {
            _ = daemon.stopping.cancelled() => return,
            _ = beats.tick() => {}
        }
        if shared_index && let Err(error) = daemon.runtime.library().sync_index().await {
            tracing::warn!("cannot apply the index outbox (tried again later): {error}");
        }
        let store = daemon.runtime.library().store();
        let now = chrono::Utc::now();
        match store.unfinished_episodes().await {
            Ok(open)
                if open
                    .iter()
                    .any(|e| e.lease_expires_at.is_none_or(|expiry| expiry < now)) =>
            {
                take_over(&daemon)
            }
            Ok(_) => {}
            Err(error) => tracing::warn!("cannot read the open episodes: {error}"),
        }
    }
}

/// The namespaces of the open episodes (whose model tokens a resume spends).
async fn open_namespaces(daemon: &Daemon) -> Arc<Mutex<Tracker>> {
    let tracker = Arc::new(Mutex::new(Tracker::default()));
    if let Ok(open) = daemon.runtime.library().store().unfinished_episodes().await {
        let mut t = lock(&tracker);
        for episode in open {
            t.namespaces
                .insert(episode.id, task_namespace(&episode.task).to_string());
        }
    }
    tracker
}

/// A take-over, to its end or a stop.
async fn drive_take_over(daemon: Arc<Daemon>, stop: CancellationToken) {
    let tracker = open_namespaces(&daemon).await;
    let observer = run_observer(&daemon, tracker, None);
    let result = daemon
        .runtime
        .spawn_take_over(stop, Some(observer))
        .await
        .map_err(|e| RuntimeError::Background(e.to_string()))
        .and_then(|r| r);
    match result {
        Ok(reports) => {
            for report in reports {
                tracing::info!(
                    episode = report.episode,
                    status = report.status.as_str(),
                    "resumed episode finished"
                );
            }
        }
        Err(RuntimeError::Stopped) => {}
        Err(error) => tracing::warn!("taking over open episodes stopped on an error: {error}"),
    }
    daemon.work.taking_over.store(false, Ordering::SeqCst);
    daemon.usage.save(&daemon.runtime).await;
}

/// A run, to its end or a stop.
async fn drive_run(
    daemon: Arc<Daemon>,
    iterations: usize,
    stop: CancellationToken,
    state: Arc<Mutex<RunState>>,
) {
    // The namespaces of the open episodes the run resumes first; curriculum tasks work in
    // the default one.
    let tracker = open_namespaces(&daemon).await;
    let observer = run_observer(&daemon, tracker, Some(Arc::clone(&state)));
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
    {
        let mut state = lock(&state);
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
