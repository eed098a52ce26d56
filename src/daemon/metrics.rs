//! Prometheus metrics at `/metrics`: the `metrics` facade's recorder
//! (`metrics-exporter-prometheus`), installed once by `skillforge serve`. The sandbox and
//! the agent's model calls record through the facade wherever they run; episodes are
//! counted by an observer of the runtime; the library's size and the index outbox's backlog
//! are read from the store at each scrape.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::{ApiError, Daemon};
use crate::agent::{METRIC_LLM_SECONDS, METRIC_LLM_TOKENS, Observer, Progress};
use crate::sandbox::METRIC_CALL_SECONDS;
use crate::store::ListFilter;

/// Episodes started (or resumed).
pub const EPISODES_STARTED: &str = "skillforge_episodes_started_total";
/// Episodes finished, by `status` (`admitted`, `solved_with_existing`, `failed`).
pub const EPISODES_FINISHED: &str = "skillforge_episodes_finished_total";
/// Skills admitted by the agent.
pub const ADMISSIONS: &str = "skillforge_admissions_total";
/// Skills in the library, by `status`.
pub const LIBRARY_SKILLS: &str = "skillforge_library_skills";
/// Index writes waiting in the outbox.
pub const OUTBOX_BACKLOG: &str = "skillforge_index_outbox_backlog";

/// Histogram buckets in seconds, from a fast sandbox call to a slow model reply.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 120.0,
];

/// Errors of installing the recorder.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the metrics recorder: {0}")]
pub struct MetricsError(String);

/// Installs the process-wide Prometheus recorder and describes the metrics; returns the
/// handle `/metrics` renders. Once per process.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)
        .map_err(|e| MetricsError(e.to_string()))?
        .install_recorder()
        .map_err(|e| MetricsError(e.to_string()))?;
    metrics::describe_histogram!(
        METRIC_CALL_SECONDS,
        metrics::Unit::Seconds,
        "Sandbox calls' wall time, by outcome (ok or the failure kind)"
    );
    metrics::describe_histogram!(
        METRIC_LLM_SECONDS,
        metrics::Unit::Seconds,
        "Model calls' latency, retries included, by purpose"
    );
    metrics::describe_counter!(METRIC_LLM_TOKENS, "Model tokens, by purpose and kind");
    metrics::describe_counter!(EPISODES_STARTED, "Episodes started or resumed");
    metrics::describe_counter!(EPISODES_FINISHED, "Episodes finished, by status");
    metrics::describe_counter!(ADMISSIONS, "Skills admitted by the agent");
    metrics::describe_gauge!(LIBRARY_SKILLS, "Skills in the library, by status");
    metrics::describe_gauge!(OUTBOX_BACKLOG, "Index writes waiting in the outbox");
    Ok(handle)
}

/// An observer of the runtime that counts episodes and admissions.
pub fn episode_observer() -> Observer {
    Arc::new(|progress: &Progress| match progress {
        Progress::Episode { .. } => metrics::counter!(EPISODES_STARTED).increment(1),
        Progress::Finished(report) => {
            metrics::counter!(EPISODES_FINISHED, "status" => report.status.as_str()).increment(1);
            if report.status == crate::store::EpisodeStatus::Admitted {
                metrics::counter!(ADMISSIONS).increment(1);
            }
        }
        Progress::Round { .. } | Progress::Model { .. } => {}
    })
}

/// `GET /metrics`: the Prometheus text format (404 when the daemon records none).
pub(super) async fn render(State(daemon): State<Arc<Daemon>>) -> Result<Response, ApiError> {
    let Some(handle) = &daemon.metrics else {
        return Err(ApiError::not_found("this daemon records no metrics"));
    };
    let store = daemon.runtime.library().store();
    let skills = store
        .list(&ListFilter::default())
        .await
        .map_err(ApiError::internal)?;
    let mut by_status: BTreeMap<&'static str, f64> =
        [("active", 0.0), ("deprecated", 0.0), ("quarantined", 0.0)].into();
    for skill in &skills {
        *by_status.entry(skill.status.as_str()).or_default() += 1.0;
    }
    for (status, count) in by_status {
        metrics::gauge!(LIBRARY_SKILLS, "status" => status).set(count);
    }
    let backlog = store.pending().await.map_err(ApiError::internal)?.len();
    metrics::gauge!(OUTBOX_BACKLOG).set(backlog as f64);
    handle.run_upkeep();
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
        .into_response())
}
