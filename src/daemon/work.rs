//! The episodes the daemon runs in the background: submitted tasks, the open-ended `run`,
//! and the resume of unfinished episodes at start.
//!
//! Each job drives an [`Agent`] on a blocking thread of the runtime (an episode's future is
//! not `Send`), watching the daemon's stop signal (and a run's own): when it fires, the
//! job's future is dropped at its next await (a sandbox call in progress finishes on its
//! thread first) and the episode it was in is marked `interrupted`. Its journal is already
//! in SQL, so the next start resumes it where it stopped.
//!
//! Submitted tasks run side by side (`solve` never resumes anything); `run` and the resume
//! read every open episode's journal, so they hold the gate alone: a submission while one
//! of them holds it is refused (409), and they wait for submitted tasks to end first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, oneshot, watch};
use tokio::task::JoinHandle;
use utoipa::ToSchema;

use super::{ApiError, Daemon};
use crate::agent::{Agent, AgentError, EpisodeReport, Progress, Task};
use crate::library::DEFAULT_NAMESPACE;
use crate::store::StoreError;

/// The episodes in the background and the gate between them.
pub(crate) struct Work {
    gate: Arc<RwLock<()>>,
    jobs: Mutex<Vec<JoinHandle<()>>>,
    run: Mutex<Option<ActiveRun>>,
}

/// The open-ended run, while it lasts (and its last state after).
struct ActiveRun {
    stop: watch::Sender<bool>,
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
    /// Episodes finished by status.
    pub finished: HashMap<String, usize>,
    /// Why the run stopped early: `stopped` (asked to), or the agent's error.
    pub stopped: Option<String>,
}

/// The gate a job holds while it runs (released when dropped).
enum Guard {
    Shared { _held: OwnedRwLockReadGuard<()> },
    Exclusive { _held: OwnedRwLockWriteGuard<()> },
}

/// What a job does with its agent.
enum Job {
    Solve(Task),
    Run(usize),
    Resume,
}

/// What a job's observer records; shared with whoever asked for the job.
#[derive(Default)]
struct Tracker {
    /// The episode in progress.
    current: Option<String>,
    /// Told the first episode's id (or why none started).
    first: Option<oneshot::Sender<Result<String, ApiError>>>,
    /// The run's state, for a run.
    run: Option<Arc<Mutex<RunState>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Work {
    pub(crate) fn new() -> Work {
        Work {
            gate: Arc::new(RwLock::new(())),
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
    if *daemon.stopping.borrow() {
        return Err(ApiError::unavailable("the daemon is stopping"));
    }
    let guard = Arc::clone(&daemon.work.gate)
        .try_read_owned()
        .map_err(|_| {
            ApiError::busy(
                "the agent is running the open-ended loop or resuming episodes, which run \
                 alone; stop the run (DELETE /v1/run) or submit again when it ends",
            )
        })?;
    let (sender, receiver) = oneshot::channel();
    let tracker = Tracker {
        first: Some(sender),
        ..Tracker::default()
    };
    spawn(
        daemon,
        Guard::Shared { _held: guard },
        Job::Solve(task),
        tracker,
        None,
    );
    receiver
        .await
        .map_err(|_| ApiError::internal("the episode's job ended before it started"))?
}

/// Starts the open-ended loop for `iterations` episodes; 409 while one is active.
pub(crate) fn start_run(daemon: &Arc<Daemon>, iterations: usize) -> Result<RunState, ApiError> {
    if *daemon.stopping.borrow() {
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
    let (stop, stop_receiver) = watch::channel(false);
    *run = Some(ActiveRun {
        stop,
        state: Arc::clone(&state),
    });
    let snapshot = lock(&state).clone();
    let waiting = Arc::clone(daemon);
    let gate = Arc::clone(&daemon.work.gate);
    let job = tokio::spawn(async move {
        let daemon = waiting;
        let guard = gate.write_owned().await;
        let tracker = Tracker {
            run: Some(state),
            ..Tracker::default()
        };
        spawn(
            &daemon,
            Guard::Exclusive { _held: guard },
            Job::Run(iterations),
            tracker,
            Some(stop_receiver),
        );
    });
    drop(run);
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
            let _ = active.stop.send(true);
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
        .library
        .store()
        .unfinished_episodes()
        .await
        .map_err(ApiError::internal)?;
    if open.is_empty() || daemon.solver.is_none() {
        if !open.is_empty() {
            tracing::warn!(
                "{} unfinished episodes are left for a daemon with a language model",
                open.len()
            );
        }
        return Ok(0);
    }
    tracing::info!("resuming {} unfinished episodes", open.len());
    let guard = Arc::clone(&daemon.work.gate).write_owned().await;
    spawn(
        daemon,
        Guard::Exclusive { _held: guard },
        Job::Resume,
        Tracker::default(),
        None,
    );
    Ok(open.len())
}

/// Runs `job` on a blocking thread until it ends or a stop (the daemon's, or `stop`).
fn spawn(
    daemon: &Arc<Daemon>,
    guard: Guard,
    job: Job,
    tracker: Tracker,
    stop: Option<watch::Receiver<bool>>,
) {
    let daemon_for_job = Arc::clone(daemon);
    let runtime = tokio::runtime::Handle::current();
    let handle = tokio::task::spawn_blocking(move || {
        runtime.block_on(run_job(daemon_for_job, guard, job, tracker, stop));
    });
    daemon.work.keep(handle);
}

async fn run_job(
    daemon: Arc<Daemon>,
    guard: Guard,
    job: Job,
    tracker: Tracker,
    stop: Option<watch::Receiver<bool>>,
) {
    let tracker = Arc::new(Mutex::new(tracker));
    if *daemon.stopping.borrow() {
        fail_before_start(&tracker, ApiError::unavailable("the daemon is stopping"));
        finish_run(&tracker, "stopped".into());
        return;
    }
    let Some(solver) = daemon.solver.as_ref() else {
        fail_before_start(
            &tracker,
            ApiError::unavailable("no language model is configured"),
        );
        finish_run(&tracker, "no language model is configured".into());
        return;
    };
    let model = match solver.model().await {
        Ok(model) => model,
        Err(e) => {
            finish_run(&tracker, e.message.clone());
            fail_before_start(&tracker, e);
            return;
        }
    };
    let agent = Agent::new(
        Arc::clone(&daemon.library),
        model,
        Arc::clone(&solver.environment),
        solver.config.clone(),
    )
    .with_observer(observer(Arc::clone(&tracker)));
    let result = tokio::select! {
        result = drive(&agent, job) => Some(result),
        _ = stopped(Some(daemon.stopping.clone())) => None,
        _ = stopped(stop) => None,
    };
    drop(agent);
    let current = lock(&tracker).current.take();
    let stopped = match result {
        Some(Ok(_)) => None,
        Some(Err(error)) => {
            tracing::warn!("the agent stopped: {error}");
            fail_before_start(&tracker, ApiError::internal(&error));
            Some(error.to_string())
        }
        None => {
            if let Some(id) = current {
                checkpoint(&daemon, &id).await;
            }
            fail_before_start(&tracker, ApiError::unavailable("the daemon is stopping"));
            Some("stopped".into())
        }
    };
    if let Some(reason) = stopped {
        finish_run(&tracker, reason);
    }
    if let Some(run) = &lock(&tracker).run {
        let mut run = lock(run);
        run.active = false;
        run.current = None;
    }
    drop(guard);
}

/// Records why a run ended early (nothing for other jobs).
fn finish_run(tracker: &Mutex<Tracker>, reason: String) {
    if let Some(run) = &lock(tracker).run {
        let mut run = lock(run);
        run.stopped = Some(reason);
        run.active = false;
        run.current = None;
    }
}

/// Resolves when `signal` turns true (never without one, or once its sender is gone).
pub(crate) async fn stopped(signal: Option<watch::Receiver<bool>>) {
    if let Some(mut signal) = signal
        && signal.wait_for(|stop| *stop).await.is_ok()
    {
        return;
    }
    std::future::pending::<()>().await
}

async fn drive(agent: &Agent, job: Job) -> Result<Vec<EpisodeReport>, AgentError> {
    match job {
        Job::Solve(task) => agent.solve(task).await.map(|r| vec![r]),
        Job::Run(iterations) => agent.run(iterations).await,
        Job::Resume => agent.resume_unfinished().await,
    }
}

/// Marks episode `id` `interrupted`: cut short by a stop, to be resumed.
async fn checkpoint(daemon: &Daemon, id: &str) {
    match daemon.library.store().interrupt_episode(id).await {
        Ok(()) => tracing::info!("episode {id} checkpointed; the next start resumes it"),
        // It finished as the stop came.
        Err(StoreError::Conflict(_)) => {}
        Err(e) => tracing::warn!("episode {id} stays running (resumed all the same): {e}"),
    }
}

fn fail_before_start(tracker: &Mutex<Tracker>, error: ApiError) {
    if let Some(first) = lock(tracker).first.take() {
        let _ = first.send(Err(error));
    }
}

fn observer(tracker: Arc<Mutex<Tracker>>) -> crate::agent::Observer {
    Arc::new(move |progress: &Progress| {
        let mut t = lock(&tracker);
        match progress {
            Progress::Episode { id, .. } => {
                t.current = Some(id.clone());
                if let Some(first) = t.first.take() {
                    let _ = first.send(Ok(id.clone()));
                }
                if let Some(run) = &t.run {
                    let mut run = lock(run);
                    run.current = Some(id.clone());
                    run.episodes.push(id.clone());
                }
            }
            Progress::Finished(report) => {
                t.current = None;
                if let Some(run) = &t.run {
                    let mut run = lock(run);
                    run.current = None;
                    *run.finished
                        .entry(report.status.as_str().to_string())
                        .or_default() += 1;
                }
            }
            Progress::Round { .. } | Progress::Model { .. } => {}
        }
    })
}

/// The namespace an episode's task works in.
pub(crate) fn task_namespace(task: &serde_json::Value) -> &str {
    task["namespace"].as_str().unwrap_or(DEFAULT_NAMESPACE)
}
