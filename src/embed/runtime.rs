//! ONNX Runtime plumbing: the one environment a process may have, and a pool of sessions.
//!
//! `ort` allows a single environment per process and binds it to the first shared library it
//! loads, so the environment lives in a process-global slot keyed by the library path.
//! `Session::run` takes `&mut self`, so concurrent callers each check a session out of a small
//! pool; sessions are created lazily up to the pool's size and share their prepacked weights.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights};

use super::EmbedError;

/// The process's ONNX Runtime environment and the library it came from.
static ENVIRONMENT: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves the data consistent (a Vec push/pop or an
    // Option set), so a poisoned lock is still safe to use.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Returns the process's environment, loading ONNX Runtime from `library` on first use.
pub(crate) fn environment(library: &Path) -> Result<Environment, EmbedError> {
    if !library.is_file() {
        return Err(EmbedError::RuntimeMissing {
            path: library.to_path_buf(),
        });
    }
    let requested = library.canonicalize().map_err(|source| EmbedError::Io {
        path: library.to_path_buf(),
        source,
    })?;
    let mut slot = lock(&ENVIRONMENT);
    if let Some((loaded, env)) = slot.as_ref() {
        return if *loaded == requested {
            Ok(env.clone())
        } else {
            Err(EmbedError::RuntimeConflict {
                loaded: loaded.clone(),
                requested,
            })
        };
    }
    let load_error = |message: String| EmbedError::RuntimeLoad {
        path: requested.clone(),
        message,
    };
    let env = ort::init_from(&requested)
        .map_err(|e| load_error(e.to_string()))?
        .with_name("skillforge")
        .with_telemetry(false)
        .build()
        .map_err(|e| load_error(e.to_string()))?;
    *slot = Some((requested, env.clone()));
    Ok(env)
}

/// How sessions are built: one model file, fixed threading, shared prepacked weights.
struct SessionFactory {
    env: Environment,
    model: PathBuf,
    intra_threads: usize,
    prepacked: PrepackedWeights,
}

impl SessionFactory {
    // The large error is ort's own `Error<SessionBuilder>` (it hands the builder back); it
    // lives only inside this chain and is mapped to an `EmbedError` at once.
    #[allow(clippy::result_large_err)]
    fn create(&self) -> Result<Session, EmbedError> {
        let configure = EmbedError::onnx("configure a session");
        Session::builder(&self.env)
            .map_err(EmbedError::onnx("create a session builder"))?
            .with_optimization_level(GraphOptimizationLevel::All)
            .and_then(|b| b.with_intra_threads(self.intra_threads))
            .and_then(|b| b.with_inter_threads(1))
            .and_then(|b| b.with_intra_op_spinning(false))
            .and_then(|b| b.with_inter_op_spinning(false))
            .and_then(|b| b.with_prepacked_weights(&self.prepacked))
            .map_err(configure)?
            .commit_from_file(&self.model)
            .map_err(EmbedError::onnx("load the model"))
    }
}

struct PoolState {
    idle: Vec<Session>,
    created: usize,
}

/// At most `max` sessions of one model; callers block while all are checked out.
pub(crate) struct SessionPool {
    factory: SessionFactory,
    max: usize,
    state: Mutex<PoolState>,
    returned: Condvar,
}

impl SessionPool {
    /// Builds a pool and its first session (which proves the model loads).
    pub(crate) fn new(
        env: Environment,
        model: PathBuf,
        intra_threads: usize,
        max: usize,
    ) -> Result<Self, EmbedError> {
        let factory = SessionFactory {
            env,
            model,
            intra_threads,
            prepacked: PrepackedWeights::new(),
        };
        let first = factory.create()?;
        Ok(Self {
            factory,
            max,
            state: Mutex::new(PoolState {
                idle: vec![first],
                created: 1,
            }),
            returned: Condvar::new(),
        })
    }

    /// The most sessions this pool will hold.
    pub(crate) fn capacity(&self) -> usize {
        self.max
    }

    /// Runs `f` with a session of its own, creating one if all are busy and the pool has room.
    pub(crate) fn with_session<T>(
        &self,
        f: impl FnOnce(&mut Session) -> Result<T, EmbedError>,
    ) -> Result<T, EmbedError> {
        let mut checkout = Checkout {
            pool: self,
            session: Some(self.checkout()?),
        };
        f(checkout
            .session
            .as_mut()
            .expect("a checkout holds its session until dropped"))
    }

    fn checkout(&self) -> Result<Session, EmbedError> {
        let mut state = lock(&self.state);
        loop {
            if let Some(session) = state.idle.pop() {
                return Ok(session);
            }
            if state.created < self.max {
                state.created += 1;
                drop(state);
                return self.factory.create().inspect_err(|_| {
                    lock(&self.state).created -= 1;
                    self.returned.notify_one();
                });
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// A session out of the pool; it goes back when dropped, even if the caller panicked.
struct Checkout<'a> {
    pool: &'a SessionPool,
    session: Option<Session>,
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            lock(&self.pool.state).idle.push(session);
            self.pool.returned.notify_one();
        }
    }
}
