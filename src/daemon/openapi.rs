//! The OpenAPI document, generated from the handlers' annotations and served at
//! `/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

use super::routes;

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "skillforge",
        description = "A library of tested JavaScript skills and the agent that grows it. Requests under /v1 need `Authorization: Bearer TOKEN` when the daemon has tokens."
    ),
    paths(
        routes::health,
        routes::ready,
        routes::list_skills,
        routes::add_skill,
        routes::show_skill,
        routes::deprecate_skill,
        routes::run_skill,
        routes::search_skills,
        routes::export_skills,
        routes::submit_task,
        routes::list_episodes,
        routes::show_episode,
        routes::follow_episode,
        routes::run_status,
        routes::start_run,
        routes::stop_run,
    ),
    components(schemas(super::error::ErrorBody))
)]
pub struct ApiDoc;

/// `GET /openapi.json`.
pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
