//! Per-namespace usage and quotas: LLM tokens spent on a namespace's tasks and sandbox time
//! spent running its skills over the API, counted as they are spent and kept in the store's
//! `meta` table (saved every [`SAVE_EVERY`] when it changed, after every job and at a
//! stop), so quotas hold across restarts. A quota is checked when work is asked for: a task (or run) is refused once
//! its namespace has spent its tokens, a skill run once it has spent its sandbox time; an
//! episode in progress finishes. Skills stored are counted in the store itself.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, NamespacePolicy};
use crate::agent::{Observer, Progress};
use crate::runtime::{CancellationToken, Runtime};

/// How often changed usage is written to the store (a crash loses at most this much).
pub const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// The `meta` key usage is kept under.
const META_KEY: &str = "daemon_usage";

/// What a namespace has spent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NamespaceUsage {
    /// LLM tokens (prompt + completion) of its tasks.
    pub llm_tokens: u64,
    /// Milliseconds of sandbox time running its skills over the API.
    pub sandbox_ms: u64,
}

/// Usage of every namespace, shared by the daemon's requests and jobs.
pub(crate) struct Usage {
    namespaces: Mutex<BTreeMap<String, NamespaceUsage>>,
    dirty: AtomicBool,
}

impl Usage {
    /// The usage the store keeps (none yet: zero).
    pub(crate) async fn load(runtime: &Runtime) -> Result<Arc<Usage>, ApiError> {
        let stored = runtime
            .library()
            .store()
            .get_meta(META_KEY)
            .await
            .map_err(ApiError::internal)?;
        let namespaces = match stored {
            Some(text) => serde_json::from_str(&text).map_err(|e| {
                ApiError::internal(format!("the stored usage ({META_KEY}) is not valid: {e}"))
            })?,
            None => BTreeMap::new(),
        };
        Ok(Arc::new(Usage {
            namespaces: Mutex::new(namespaces),
            dirty: AtomicBool::new(false),
        }))
    }

    fn update(&self, namespace: &str, change: impl FnOnce(&mut NamespaceUsage)) {
        let mut namespaces = self.namespaces.lock().unwrap_or_else(|e| e.into_inner());
        change(namespaces.entry(namespace.to_string()).or_default());
        self.dirty.store(true, Ordering::SeqCst);
    }

    /// Counts `tokens` LLM tokens for `namespace`.
    pub(crate) fn add_tokens(&self, namespace: &str, tokens: u64) {
        self.update(namespace, |u| {
            u.llm_tokens = u.llm_tokens.saturating_add(tokens)
        });
    }

    /// Counts `ms` milliseconds of sandbox time for `namespace`.
    pub(crate) fn add_sandbox_ms(&self, namespace: &str, ms: u64) {
        self.update(namespace, |u| {
            u.sandbox_ms = u.sandbox_ms.saturating_add(ms)
        });
    }

    /// What `namespace` has spent.
    pub(crate) fn of(&self, namespace: &str) -> NamespaceUsage {
        self.namespaces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(namespace)
            .cloned()
            .unwrap_or_default()
    }

    /// An observer counting the model tokens of an episode in `namespace`.
    pub(crate) fn token_counter(self: &Arc<Self>, namespace: String) -> Observer {
        let usage = Arc::clone(self);
        Arc::new(move |progress: &Progress| {
            if let Progress::Model {
                prompt_tokens,
                completion_tokens,
                ..
            } = progress
            {
                usage.add_tokens(
                    &namespace,
                    u64::from(*prompt_tokens) + u64::from(*completion_tokens),
                );
            }
        })
    }

    /// Writes the usage to the store if it changed (a failure is logged: the counts stay in
    /// memory and are written next time).
    pub(crate) async fn save(&self, runtime: &Runtime) {
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return;
        }
        let text = {
            let namespaces = self.namespaces.lock().unwrap_or_else(|e| e.into_inner());
            serde_json::to_string(&*namespaces).unwrap_or_default()
        };
        if let Err(e) = runtime.library().store().set_meta(META_KEY, &text).await {
            self.dirty.store(true, Ordering::SeqCst);
            tracing::warn!("cannot save the namespaces' usage: {e}");
        }
    }

    /// 429 when `namespace` has spent its LLM tokens.
    pub(crate) fn check_tokens(
        &self,
        namespace: &str,
        policy: &NamespacePolicy,
    ) -> Result<(), ApiError> {
        let spent = self.of(namespace).llm_tokens;
        match policy.max_llm_tokens {
            Some(max) if spent >= max => Err(ApiError::quota(format!(
                "the namespace {namespace} has spent its quota of {max} LLM tokens ({spent} \
                 spent); ask the operator to raise max_llm_tokens"
            ))),
            _ => Ok(()),
        }
    }

    /// 429 when `namespace` has spent its sandbox time.
    pub(crate) fn check_sandbox(
        &self,
        namespace: &str,
        policy: &NamespacePolicy,
    ) -> Result<(), ApiError> {
        let spent = self.of(namespace).sandbox_ms;
        match policy.max_sandbox_seconds {
            Some(max) if spent as f64 >= max * 1000.0 => Err(ApiError::quota(format!(
                "the namespace {namespace} has spent its quota of {max} s of sandbox time \
                 ({:.1} s spent); ask the operator to raise max_sandbox_seconds",
                spent as f64 / 1000.0
            ))),
            _ => Ok(()),
        }
    }
}

/// Writes `usage` to the store every `period` while it changes, until `stopping`.
pub(crate) async fn save_every(
    period: std::time::Duration,
    usage: Arc<Usage>,
    runtime: Runtime,
    stopping: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => usage.save(&runtime).await,
            _ = stopping.cancelled() => return,
        }
    }
}
