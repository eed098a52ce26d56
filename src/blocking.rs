//! Blocking work (the sandbox, the embedder, the SQL lock, an environment's process) run off
//! the async runtime's worker threads. Work the caller waits on goes through [`run`], so that
//! it behaves as if it had run inline; only the runtime's background agent work (a daemon's
//! run, which must outlive a panic) turns a panic into an error (`RuntimeError::Background`).

/// Runs `work` on tokio's blocking pool and returns its result; a panic in `work` is raised
/// again in the caller, as if `work` had run inline.
pub(crate) async fn run<T, F>(work: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}
