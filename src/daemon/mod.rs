//! The daemon: skillforge as a long-running HTTP service (`skillforge serve`).
//!
//! A thin edge over the library and the agent: each route checks its caller's access
//! ([`auth`]), turns JSON into the calls the command line makes, and turns their results
//! and errors into JSON ([`error::ApiError`]: `{"kind", "message"}` with a status code).
//! Episodes run in the background ([`work`]); their journals are the SQL store's, so a
//! follower reads them as they grow, and a daemon stopped mid-episode resumes it on its
//! next start. The OpenAPI document is generated from the handlers ([`openapi`]).
//!
//! Invariants: a request never waits for an episode (a submission returns its id once the
//! episode exists); episodes that use the journal to resume (`run`, the resume at start)
//! never run beside any other episode, so no episode is driven twice; a stop (SIGTERM,
//! Ctrl-C) lets requests in flight and sandbox calls finish, and leaves every episode it
//! cut short `interrupted`, to be resumed.

pub mod auth;
pub mod config;
pub mod error;
pub mod openapi;
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
use tokio::sync::watch;

use crate::agent::{AgentConfig, Environment};
use crate::library::Library;
use crate::llm::{LanguageModel, LlmConfig};

pub use auth::{Access, Caller};
pub use config::{DEFAULT_BODY_LIMIT, DEFAULT_LISTEN, FileConfig, NamespacePolicy, Policies};
pub use error::ApiError;

/// What `solve` and `run` need beyond the library: the model (built on first use), the
/// environment and the agent's settings.
pub struct Solver {
    llm: LlmConfig,
    environment: Arc<dyn Environment>,
    config: AgentConfig,
    model: tokio::sync::OnceCell<Arc<dyn LanguageModel>>,
}

impl Solver {
    /// A solver that builds the model of `llm` when first asked.
    pub fn new(llm: LlmConfig, environment: Arc<dyn Environment>, config: AgentConfig) -> Self {
        Self {
            llm,
            environment,
            config,
            model: tokio::sync::OnceCell::new(),
        }
    }

    async fn model(&self) -> Result<Arc<dyn LanguageModel>, ApiError> {
        self.model
            .get_or_try_init(|| self.llm.build())
            .await
            .cloned()
            .map_err(|e| ApiError::unavailable(format!("the language model is not available: {e}")))
    }
}

/// Everything a request can reach. Shared by every connection.
pub struct Daemon {
    library: Arc<Library>,
    solver: Option<Solver>,
    access: Access,
    policies: Policies,
    work: work::Work,
    stopping: watch::Receiver<bool>,
}

impl Daemon {
    /// A daemon over `library`; `solver` enables tasks and runs. `stopping` turns true when
    /// the daemon is asked to stop.
    pub fn new(
        library: Arc<Library>,
        solver: Option<Solver>,
        access: Access,
        policies: Policies,
        stopping: watch::Receiver<bool>,
    ) -> Arc<Daemon> {
        Arc::new(Daemon {
            work: work::Work::new(),
            library,
            solver,
            access,
            policies,
            stopping,
        })
    }

    /// The library served.
    pub fn library(&self) -> &Arc<Library> {
        &self.library
    }

    /// Resumes, in the background, the episodes a previous stop or crash left open.
    pub async fn resume_unfinished(self: &Arc<Self>) -> Result<usize, ApiError> {
        work::resume_unfinished(self).await
    }

    /// Waits until every episode the daemon runs has ended or been checkpointed after a stop.
    pub async fn wait_for_work(&self) {
        self.work.wait().await;
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
        .merge(api)
        .fallback(|| async { ApiError::not_found("no such route; GET /openapi.json lists them") })
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(daemon)
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
    match daemon.access.verify(header) {
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

/// Serves `router` on `listener` until `stopping` turns true, then lets the requests in
/// flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    stopping: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(work::stopped(Some(stopping)))
    .await
}
