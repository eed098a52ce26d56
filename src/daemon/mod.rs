//! The daemon: skillforge as a long-running HTTP service (`skillforge serve`).
//!
//! A thin edge over a [`Runtime`], like the CLI: each route checks its caller's access
//! ([`auth`]) and quotas ([`quota`]), turns JSON into the runtime calls the command line
//! makes, and turns their results and errors into JSON ([`error::ApiError`]: `{"kind",
//! "message"}` with a status code). Episodes run in the background ([`work`]); their
//! journals are the SQL store's, so a follower reads them as they grow, and a daemon
//! stopped mid-episode resumes it on its next start. The OpenAPI document is generated
//! from the handlers ([`openapi`]); Prometheus metrics are at `/metrics` ([`metrics`]).
//! Old journals of episodes that admitted nothing are pruned when configured ([`retention`]).
//!
//! Invariants: a request never waits for an episode (a submission returns its id once the
//! episode exists); no episode is driven twice, by this daemon or another on the same
//! store (the runtime's leases; a submission during a run is refused); a stop (SIGTERM,
//! Ctrl-C) lets requests in flight and sandbox calls finish, and leaves every episode it
//! cut short `interrupted` and free, to be resumed (by another daemon at once).

pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod quota;
pub mod retention;
mod routes;
pub mod work;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;

use crate::runtime::Runtime;

pub use auth::{Access, Caller};
pub use config::{DEFAULT_BODY_LIMIT, DEFAULT_LISTEN, FileConfig, NamespacePolicy, Policies};
pub use error::ApiError;

/// Everything a request can reach. Shared by every connection.
pub struct Daemon {
    runtime: Runtime,
    agent: bool,
    access: Access,
    policies: Policies,
    usage: Arc<quota::Usage>,
    work: work::Work,
    stopping: CancellationToken,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl Daemon {
    /// A daemon over `runtime`; `agent` enables tasks and runs (the runtime's model is built
    /// on the first). `stopping` is cancelled when the daemon is asked to stop; `metrics`
    /// (from [`metrics::install`]) is what `/metrics` renders.
    pub async fn new(
        runtime: Runtime,
        agent: bool,
        access: Access,
        policies: Policies,
        stopping: CancellationToken,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> Result<Arc<Daemon>, ApiError> {
        let usage = quota::Usage::load(&runtime).await?;
        tokio::spawn(quota::save_every(
            quota::SAVE_EVERY,
            Arc::clone(&usage),
            runtime.clone(),
            stopping.clone(),
        ));
        Ok(Arc::new(Daemon {
            work: work::Work::new(),
            runtime,
            agent,
            access,
            policies,
            usage,
            stopping,
            metrics,
        }))
    }

    /// The runtime served.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Resumes, in the background, the episodes a stop or crash left open (of this daemon
    /// or another on the same store) that no live process runs, and from then on, at every
    /// lease heartbeat, applies the index outbox and takes over the episodes whose lease
    /// expired or was released. Returns how many episodes are open.
    pub async fn resume_unfinished(self: &Arc<Self>) -> Result<usize, ApiError> {
        work::take_over_and_watch(self).await
    }

    /// Waits until every episode the daemon runs has ended or been checkpointed after a
    /// stop, and saves the namespaces' usage.
    pub async fn wait_for_work(&self) {
        self.work.wait().await;
        self.usage.save(&self.runtime).await;
    }
}

/// The API's routes over `daemon`, refusing bodies over `body_limit` bytes.
pub fn router(daemon: Arc<Daemon>, body_limit: usize) -> Router {
    let api = Router::new()
        .route(
            "/v1/skills",
            get(routes::list_skills).post(routes::add_skill),
        )
        .route("/v1/skills/{namespace}/{name}", get(routes::show_skill))
        .route("/v1/skills/{namespace}/{name}/run", post(routes::run_skill))
        .route(
            "/v1/skills/{namespace}/{name}/deprecate",
            post(routes::deprecate_skill),
        )
        .route("/v1/search", get(routes::search_skills))
        .route("/v1/usage", get(routes::usage))
        .route("/v1/export", get(routes::export_skills))
        .route(
            "/v1/episodes",
            get(routes::list_episodes).post(routes::submit_task),
        )
        .route("/v1/episodes/{id}", get(routes::show_episode))
        .route("/v1/episodes/{id}/events", get(routes::follow_episode))
        .route(
            "/v1/run",
            get(routes::run_status)
                .post(routes::start_run)
                .delete(routes::stop_run),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&daemon),
            authenticate,
        ));
    Router::new()
        .route("/health", get(routes::health))
        .route("/ready", get(routes::ready))
        .route("/openapi.json", get(openapi::document))
        .route("/metrics", get(metrics::render))
        .merge(api)
        .fallback(|| async { ApiError::not_found("no such route; GET /openapi.json lists them") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(log_request))
        .with_state(daemon)
}

/// Logs each request when its answer is ready: method, path, status and milliseconds
/// (server errors as errors, refusals as warnings).
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1e3;
    match status {
        500.. => tracing::error!(%method, path, status, ms, "request"),
        400.. => tracing::warn!(%method, path, status, ms, "request"),
        _ => tracing::info!(%method, path, status, ms, "request"),
    }
    response
}

/// Checks the request's bearer token and hands its [`Caller`] to the handler; 401 without a
/// known token when tokens are configured.
async fn authenticate(
    State(daemon): State<Arc<Daemon>>,
    mut request: Request,
    next: Next,
) -> Response {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match daemon.access.verify(header) {
        // Without tokens only this machine may call: a request addressed to another name
        // is a web page's, through DNS rebinding.
        auth::Verdict::Allowed(Caller::Local) if !auth::is_loopback_host(host) => {
            ApiError::forbidden(format!(
                "without tokens this daemon answers requests addressed to localhost only, \
                 not to {host:?}; create one with `skillforge token add`"
            ))
            .into_response()
        }
        auth::Verdict::Allowed(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        auth::Verdict::Unauthenticated(message) => {
            let mut response = ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "unauthorized",
                message,
            )
            .into_response();
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
            response
        }
    }
}

/// Serves `router` on `listener` until `stopping` is cancelled, then lets the requests in
/// flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    stopping: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stopping.cancelled_owned())
    .await
}
