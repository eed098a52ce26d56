//! Per-namespace usage and quotas: LLM tokens spent on a namespace's tasks and sandbox time
//! spent running its skills over the API, counted as they are spent and kept in the store's
//! `meta` table (saved every [`SAVE_EVERY`], after every job and at a stop), so quotas hold
//! across restarts. Daemons sharing a store add what each spent to the stored totals (the
//! value locked while it is read and written back, so no daemon's spending is lost; one
//! save at a time within a daemon, so none is counted twice) and read the others' at every
//! save. A quota is checked when work is asked for: a task (or
//! run) is refused once its namespace has spent its tokens, a skill run once it has spent
//! its sandbox time; an episode in progress finishes. Skills stored are counted in the
//! store itself.

use std::collections::BTreeMap;
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

impl NamespaceUsage {
    /// Adds `other` (saturating).
    fn add(&mut self, other: &NamespaceUsage) {
        self.llm_tokens = self.llm_tokens.saturating_add(other.llm_tokens);
        self.sandbox_ms = self.sandbox_ms.saturating_add(other.sandbox_ms);
    }

    /// Takes away `other` (saturating).
    fn subtract(&mut self, other: &NamespaceUsage) {
        self.llm_tokens = self.llm_tokens.saturating_sub(other.llm_tokens);
        self.sandbox_ms = self.sandbox_ms.saturating_sub(other.sandbox_ms);
    }
}

/// Usage by namespace.
type ByNamespace = BTreeMap<String, NamespaceUsage>;

/// What the daemon knows of the namespaces' usage.
#[derive(Default)]
struct Totals {
    /// The stored totals of every daemon, as last read.
    stored: ByNamespace,
    /// What this daemon spent since it last added to them.
    unsaved: ByNamespace,
}

/// Usage of every namespace, shared by the daemon's requests and jobs.
pub(crate) struct Usage {
    totals: Mutex<Totals>,
    /// Held through a save: two saves at once (the periodic one and a job's) would each
    /// add the same unsaved spending to the store.
    saving: tokio::sync::Mutex<()>,
}

/// Reads the stored usage (none yet: zero).
fn parse_stored(text: Option<String>) -> Result<ByNamespace, String> {
    match text {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| format!("the stored usage ({META_KEY}) is not valid: {e}")),
        None => Ok(ByNamespace::new()),
    }
}

/// Adds `spent` to the stored totals, the value locked while it is read and written back;
/// returns the new totals. Nothing spent: only reads them.
async fn add_to_store(runtime: &Runtime, spent: &ByNamespace) -> Result<ByNamespace, String> {
    let store = runtime.library().store();
    if spent.is_empty() {
        return parse_stored(store.get_meta(META_KEY).await.map_err(|e| e.to_string())?);
    }
    let stored = async {
        let mut tx = store.begin().await?;
        tx.lock_meta(META_KEY, "{}").await?;
        let text = tx.get_meta(META_KEY).await?;
        Ok::<_, crate::store::StoreError>((tx, text))
    };
    let (mut tx, text) = stored.await.map_err(|e| e.to_string())?;
    let mut totals = parse_stored(text)?;
    for (namespace, usage) in spent {
        totals.entry(namespace.clone()).or_default().add(usage);
    }
    let text = serde_json::to_string(&totals).unwrap_or_default();
    let written = async {
        tx.set_meta(META_KEY, &text).await?;
        tx.commit().await
    };
    written.await.map_err(|e| e.to_string())?;
    Ok(totals)
}

impl Usage {
    /// The usage the store keeps (none yet: zero).
    pub(crate) async fn load(runtime: &Runtime) -> Result<Arc<Usage>, ApiError> {
        let stored = add_to_store(runtime, &ByNamespace::new())
            .await
            .map_err(ApiError::internal)?;
        Ok(Arc::new(Usage {
            totals: Mutex::new(Totals {
                stored,
                unsaved: ByNamespace::new(),
            }),
            saving: tokio::sync::Mutex::new(()),
        }))
    }

    fn totals(&self) -> std::sync::MutexGuard<'_, Totals> {
        self.totals.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, namespace: &str, change: impl FnOnce(&mut NamespaceUsage)) {
        change(
            self.totals()
                .unsaved
                .entry(namespace.to_string())
                .or_default(),
        );
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

    /// What `namespace` has spent (on every daemon of the store, as of the last save).
    pub(crate) fn of(&self, namespace: &str) -> NamespaceUsage {
        let totals = self.totals();
        let mut usage = totals.stored.get(namespace).cloned().unwrap_or_default();
        if let Some(unsaved) = totals.unsaved.get(namespace) {
            usage.add(unsaved);
        }
        usage
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

    /// Adds what this daemon spent since the last save to the stored totals and reads what
    /// the other daemons added (a failure is logged: the counts stay in memory and are
    /// added next time).
    pub(crate) async fn save(&self, runtime: &Runtime) {
        let _saving = self.saving.lock().await;
        let spent = self.totals().unsaved.clone();
        match add_to_store(runtime, &spent).await {
            Ok(stored) => {
                let mut totals = self.totals();
                totals.stored = stored;
                // Spent meanwhile stays unsaved.
                for (namespace, usage) in &spent {
                    if let Some(unsaved) = totals.unsaved.get_mut(namespace) {
                        unsaved.subtract(usage);
                    }
                }
                totals
                    .unsaved
                    .retain(|_, u| *u != NamespaceUsage::default());
            }
            Err(e) => tracing::warn!("cannot save the namespaces' usage: {e}"),
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

/// Saves `usage` every `period` (adding this daemon's spending, reading the others'), until
/// `stopping`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn saves_at_once_add_what_was_spent_once() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = Runtime::builder()
            .data_dir(dir.path())
            .load_starter(false)
            .build()
            .await
            .unwrap();
        let usage = Usage::load(&runtime).await.unwrap();
        for _ in 0..5 {
            usage.add_tokens("default", 140);
            // The periodic save and two jobs' saves, at once.
            tokio::join!(
                usage.save(&runtime),
                usage.save(&runtime),
                usage.save(&runtime)
            );
        }
        let stored = Usage::load(&runtime).await.unwrap();
        assert_eq!(stored.of("default").llm_tokens, 5 * 140);
        runtime.close().await;
    }
}
