//! The API's handlers: JSON in, the library's and the agent's calls, JSON out.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::work::{self, RunState, task_namespace};
use super::{ApiError, Caller, Daemon};
use crate::index::SearchFilter;
use crate::library::{AddOptions, DEFAULT_NAMESPACE};
use crate::runtime::{LimitOverrides, TaskRequest};
use crate::sandbox::Capabilities;
use crate::skill::{SkillSource, check_namespace};
use crate::store::{EpisodeStatus, ListFilter, SkillStatus, StoreError};

/// How often a follower reads the journal when nothing was committed in this process: an
/// episode may be run by another daemon on the same database.
const FOLLOW_POLL: Duration = Duration::from_secs(1);
/// The most results a search returns.
pub const MAX_SEARCH_RESULTS: usize = 50;

type ApiResult<T> = Result<Json<T>, ApiError>;

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the process serves.
    pub status: String,
    /// skillforge's version.
    pub version: String,
    /// This daemon's instance id: the owner written on the leases of the episodes it runs.
    pub instance: String,
}

/// `GET /ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Whether the daemon takes work: its store answers and it is not stopping.
    pub ready: bool,
    /// Skills in the library (all statuses).
    pub skills: usize,
    /// Whether tasks and runs can be submitted (a language model is configured).
    pub agent: bool,
}

/// Filters of `GET /v1/skills`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Only this status (`active`, `deprecated`, `quarantined`).
    pub status: Option<String>,
}

/// `GET /v1/search` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// What the skill should do, in words.
    pub q: String,
    /// How many results (1 to 50, default 5).
    pub k: Option<usize>,
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Include deprecated and quarantined skills.
    #[serde(default)]
    pub all: bool,
}

/// `GET /v1/export` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// Only this namespace.
    pub namespace: Option<String>,
}

/// `GET /v1/episodes` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EpisodesQuery {
    /// How many, newest first (default 20).
    pub limit: Option<i64>,
}

/// A list of JSON objects, as the command line's `--json` prints them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Items {
    /// The items.
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
}

/// One JSON object, as the command line's `--json` prints it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = Object)]
pub struct Document(pub Value);

/// `POST /v1/skills`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddRequest {
    /// The skill file: a JavaScript function with its JSDoc (description, `@example` /
    /// `@test` lines).
    pub code: String,
    /// Namespace (default: the file's `@namespace`, else `default`).
    pub namespace: Option<String>,
}

/// `POST /v1/skills/{namespace}/{name}/run`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSkillRequest {
    /// The arguments: a JSON array is the argument list, any other value the one argument
    /// (default: none).
    #[schema(value_type = Option<Object>)]
    pub input: Option<Value>,
    /// Tighter limits for this call.
    pub limits: Option<LimitOverrides>,
}

/// The answer to a submitted task.
#[derive(Debug, Serialize, ToSchema)]
pub struct Submitted {
    /// The episode's id.
    pub episode: String,
    /// Where its journal can be followed (server-sent events).
    pub events: String,
}

/// `POST /v1/run`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// Episodes to run (unfinished ones found at start count too).
    pub iterations: usize,
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    Ok(body?.0)
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    Ok(query?.0)
}

/// `namespace` checked as a name and against the caller's token.
fn namespace_for(caller: &Caller, namespace: &str) -> Result<String, ApiError> {
    let namespace = check_namespace(namespace).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !caller.may(namespace) {
        return Err(ApiError::forbidden(format!(
            "this token does not cover the namespace {namespace}"
        )));
    }
    Ok(namespace.to_string())
}

/// 503: the daemon was started without the agent.
fn no_agent() -> ApiError {
    ApiError::unavailable(
        "this daemon serves the library only (--no-agent): tasks and runs are off",
    )
}

fn internal_json(e: serde_json::Error) -> ApiError {
    ApiError::internal(e)
}

/// Liveness: the process serves HTTP.
#[utoipa::path(get, path = "/health", responses((status = 200, body = Health)))]
pub(super) async fn health(State(daemon): State<Arc<Daemon>>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        instance: daemon.runtime.instance_id().into(),
    })
}

/// Readiness: the store answers and the daemon is not stopping (503 otherwise).
#[utoipa::path(get, path = "/ready", responses(
    (status = 200, body = Ready), (status = 503, body = super::error::ErrorBody)))]
pub(super) async fn ready(State(daemon): State<Arc<Daemon>>) -> ApiResult<Ready> {
    if daemon.stopping.is_cancelled() {
        return Err(ApiError::unavailable("the daemon is stopping"));
    }
    let skills = daemon
        .runtime
        .library()
        .store()
        .count_skills(None)
        .await
        .map_err(|e| ApiError::unavailable(format!("the store does not answer: {e}")))?;
    let skills = usize::try_from(skills).unwrap_or_default();
    Ok(Json(Ready {
        ready: true,
        skills,
        agent: daemon.agent,
    }))
}

/// The skills (as `skills list --json`), ordered by namespace and name; only the caller's
/// namespaces.
#[utoipa::path(get, path = "/v1/skills", params(ListQuery), responses(
    (status = 200, body = Items), (status = 400, body = super::error::ErrorBody),
    (status = 403, body = super::error::ErrorBody)))]
pub(super) async fn list_skills(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
    params: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Items> {
    let params = query(params)?;
    let namespace = params
        .namespace
        .as_deref()
        .map(|ns| namespace_for(&caller, ns))
        .transpose()?;
    let statuses = params
        .status
        .iter()
        .map(|s| s.parse::<SkillStatus>())
        .collect::<Result<_, _>>()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let skills = daemon
        .runtime
        .list(&ListFilter {
            namespace,
            statuses,
            ..Default::default()
        })
        .await?;
    let items = skills
        .iter()
        .filter(|s| caller.may(&s.record.namespace))
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .map_err(internal_json)?;
    Ok(Json(Items { items }))
}

/// Validates a skill file (its tests, and those of the skills that call it) and adds it;
/// a rejection is 422 with its kind (`tests_failed`, ...) and report.
#[utoipa::path(post, path = "/v1/skills", request_body = AddRequest, responses(
    (status = 201, body = Document), (status = 400, body = super::error::ErrorBody),
    (status = 403, body = super::error::ErrorBody), (status = 413, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub(super) async fn add_skill(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<AddRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Document>), ApiError> {
    let request = json_body(body)?;
    let source = SkillSource::parse(&request.code, None).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_skill",
            e.to_string(),
        )
    })?;
    let namespace = request
        .namespace
        .clone()
        .or_else(|| source.namespace.clone())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
    let namespace = namespace_for(&caller, &namespace)?;
    check_capabilities(
        &daemon,
        &namespace,
        &source.name,
        source.capabilities.iter(),
    )?;
    check_skill_quota(&daemon, &namespace, &source.name).await?;
    let options = AddOptions {
        namespace: Some(namespace),
        ..AddOptions::default()
    };
    let added = daemon.runtime.add(source, options).await?;
    let printed = json!({"ok": true, "namespace": added.skill.namespace, "skill": added.skill.name,
        "version": added.version.version, "changed": added.changed, "calls": added.calls,
        "dependents_retested": added.dependents_retested, "tests": added.report.tests});
    let status = if added.changed {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(Document(printed))))
}

/// Refuses a new skill in a namespace that holds its quota of skills already (429); a new
/// version of a skill it holds is always taken.
async fn check_skill_quota(daemon: &Daemon, namespace: &str, name: &str) -> Result<(), ApiError> {
    let Some(max) = daemon.policies.of(namespace).max_skills else {
        return Ok(());
    };
    let store = daemon.runtime.library().store();
    let stored = store
        .count_skills(Some(namespace))
        .await
        .map_err(ApiError::internal)?;
    if usize::try_from(stored).unwrap_or_default() < max {
        return Ok(());
    }
    match store.get(namespace, name).await {
        // A new version of a stored skill takes no new place.
        Ok(_) => {}
        Err(StoreError::NotFound(_)) => {
            return Err(ApiError::quota(format!(
                "the namespace {namespace} holds its quota of {max} skills; deprecate is not \
                 enough: ask the operator to raise max_skills, or use another namespace"
            )));
        }
        Err(e) => return Err(ApiError::internal(e)),
    }
    Ok(())
}

/// Refuses (422 `capability_not_allowed`) a skill of `namespace` declaring a capability
/// the namespace's policy (`allow_capabilities`) does not cover, the way the library's
/// policy covers one (a name, or a `prefix.*` pattern).
fn check_capabilities<'a>(
    daemon: &Daemon,
    namespace: &str,
    skill: &str,
    declared: impl IntoIterator<Item = &'a str>,
) -> Result<(), ApiError> {
    let Some(allowed) = daemon.policies.of(namespace).allow_capabilities else {
        return Ok(());
    };
    let allowed = allowed.iter().fold(Capabilities::none(), |grant, name| {
        grant.grant(name.as_str())
    });
    match declared.into_iter().find(|c| !allowed.allows_host_call(c)) {
        Some(capability) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "capability_not_allowed",
            format!(
                "skill '{skill}' declares capability '{capability}', which the operator does \
                 not allow in the namespace {namespace} (allow_capabilities of \
                 [namespaces.{namespace}] in the daemon's configuration)"
            ),
        )),
        None => Ok(()),
    }
}

/// One skill (as `skills show --json`): code, tests, stats, call-graph neighbours.
#[utoipa::path(get, path = "/v1/skills/{namespace}/{name}", params(
    ("namespace" = String, Path), ("name" = String, Path)), responses(
    (status = 200, body = Document), (status = 403, body = super::error::ErrorBody),
    (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn show_skill(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
    Path((namespace, name)): Path<(String, String)>,
) -> ApiResult<Document> {
    let namespace = namespace_for(&caller, &namespace)?;
    let detail = daemon.runtime.show(&format!("{namespace}/{name}")).await?;
    Ok(Json(Document(
        serde_json::to_value(&detail).map_err(internal_json)?,
    )))
}

/// Marks a skill deprecated (kept for its callers, not offered by searches).
#[utoipa::path(post, path = "/v1/skills/{namespace}/{name}/deprecate", params(
    ("namespace" = String, Path), ("name" = String, Path)), responses(
    (status = 200, body = Document), (status = 403, body = super::error::ErrorBody),
    (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn deprecate_skill(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
    Path((namespace, name)): Path<(String, String)>,
) -> ApiResult<Document> {
    let namespace = namespace_for(&caller, &namespace)?;
    let record = daemon
        .runtime
        .deprecate(&format!("{namespace}/{name}"))
        .await?;
    Ok(Json(Document(
        serde_json::to_value(&record).map_err(internal_json)?,
    )))
}

/// Runs a skill in the sandbox: `{"ok": true, "value": ...}` or `{"ok": false, "error":
/// {"kind": "timeout", ...}}`, the JSON of `skillforge exec --json` (200 either way: the
/// call was made; `ok` says how the skill did).
#[utoipa::path(post, path = "/v1/skills/{namespace}/{name}/run", request_body = RunSkillRequest,
    params(("namespace" = String, Path), ("name" = String, Path)), responses(
    (status = 200, body = Document), (status = 400, body = super::error::ErrorBody),
    (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
    (status = 422, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)))]
pub(super) async fn run_skill(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
    Path((namespace, name)): Path<(String, String)>,
    body: Result<Json<RunSkillRequest>, JsonRejection>,
) -> ApiResult<Document> {
    let request = json_body(body)?;
    let namespace = namespace_for(&caller, &namespace)?;
    let policy = daemon.policies.of(&namespace);
    daemon.usage.check_sandbox(&namespace, &policy)?;
    let qualified = format!("{namespace}/{name}");
    let skill = daemon.runtime.show(&qualified).await?.skill;
    check_capabilities(
        &daemon,
        &namespace,
        &skill.record.name,
        skill.version.capabilities.iter().map(String::as_str),
    )?;
    let overrides = request.limits.unwrap_or_default();
    let started = std::time::Instant::now();
    let run = daemon
        .runtime
        .run_skill(
            &qualified,
            request.input.unwrap_or_else(|| json!([])),
            overrides,
        )
        .await;
    let spent = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    daemon.usage.add_sandbox_ms(&namespace, spent);
    Ok(Json(Document(run?.to_json())))
}

/// Hybrid (dense + BM25) search, best first (as `skills search --json`); without a
/// namespace, a token limited to some namespaces searches those.
#[utoipa::path(get, path = "/v1/search", params(SearchQuery), responses(
    (status = 200, body = Items), (status = 400, body = super::error::ErrorBody),
    (status = 403, body = super::error::ErrorBody)))]
pub(super) async fn search_skills(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
    params: Result<Query<SearchQuery>, QueryRejection>,
) -> ApiResult<Items> {
    let params = query(params)?;
    let k = params.k.unwrap_or(5);
    if !(1..=MAX_SEARCH_RESULTS).contains(&k) {
        return Err(ApiError::bad_request(format!(
            "k must be between 1 and {MAX_SEARCH_RESULTS}, not {k}"
        )));
    }
    if params.q.trim().is_empty() {
        return Err(ApiError::bad_request(
            "q is empty: say what the skill should do",
        ));
    }
    let statuses = if params.all {
        Vec::new()
    } else {
        vec![SkillStatus::Active]
    };
    let namespaces: Vec<Option<String>> = match (&params.namespace, caller.namespaces()) {
        (Some(ns), _) => vec![Some(namespace_for(&caller, ns)?)],
        (None, None) => vec![None],
        (None, Some(allowed)) => allowed.iter().cloned().map(Some).collect(),
    };
    let mut hits = Vec::new();
    for namespace in namespaces {
        let filter = SearchFilter {
            namespace,
            statuses: statuses.clone(),
        };
        hits.extend(daemon.runtime.search(&params.q, k, filter).await?);
    }
    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    hits.truncate(k);
    let items = hits
        .iter()
        .map(crate::library::SearchResult::to_json)
        .collect();
    Ok(Json(Items { items }))
}

/// Every skill's file, as `skills export` writes them (`path` is `NAMESPACE/NAME.js`).
#[utoipa::path(get, path = "/v1/export", params(ExportQuery), responses(
    (status = 200, body = Items), (status = 403, body = super::error::ErrorBody)))]
pub(super) async fn export_skills(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
    params: Result<Query<ExportQuery>, QueryRejection>,
) -> ApiResult<Items> {
    let params = query(params)?;
    let namespace = params
        .namespace
        .as_deref()
        .map(|ns| namespace_for(&caller, ns))
        .transpose()?;
    let skills = daemon
        .runtime
        .library()
        .store()
        .list_skills(&ListFilter {
            namespace,
            statuses: Vec::new(),
            ..Default::default()
        })
        .await
        .map_err(ApiError::internal)?;
    let items = skills
        .iter()
        .filter(|s| caller.may(&s.record.namespace))
        .map(|s| {
            json!({"namespace": s.record.namespace, "name": s.record.name,
                   "version": s.version.version, "status": s.record.status,
                   "path": format!("{}/{}.js", s.record.namespace, s.record.name),
                   "code": s.version.code})
        })
        .collect();
    Ok(Json(Items { items }))
}

/// Submits a task: the agent works on it in the background; the answer (202) comes as soon
/// as its episode exists.
#[utoipa::path(post, path = "/v1/episodes", request_body = TaskRequest, responses(
    (status = 202, body = Submitted), (status = 400, body = super::error::ErrorBody),
    (status = 403, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody),
    (status = 429, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub(super) async fn submit_task(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<TaskRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let request = json_body(body)?;
    let namespace = namespace_for(
        &caller,
        request.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE),
    )?;
    if !daemon.agent {
        return Err(no_agent());
    }
    daemon
        .usage
        .check_tokens(&namespace, &daemon.policies.of(&namespace))?;
    let task = TaskRequest {
        namespace: Some(namespace),
        ..request
    }
    .to_task()?;
    let episode = work::submit(&daemon, task).await?;
    tracing::info!(caller = caller.name(), episode, "task submitted");
    Ok((
        StatusCode::ACCEPTED,
        Json(Submitted {
            events: format!("/v1/episodes/{episode}/events"),
            episode,
        }),
    ))
}

/// The latest episodes, newest first (as `episodes list --json`), of the caller's
/// namespaces.
#[utoipa::path(get, path = "/v1/episodes", params(EpisodesQuery), responses(
    (status = 200, body = Items)))]
pub(super) async fn list_episodes(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
    params: Result<Query<EpisodesQuery>, QueryRejection>,
) -> ApiResult<Items> {
    let limit = query(params)?.limit.unwrap_or(20).clamp(1, 1000);
    let episodes = daemon
        .runtime
        .library()
        .store()
        .list_episodes(limit)
        .await
        .map_err(ApiError::internal)?;
    let items = episodes
        .iter()
        .filter(|e| caller.may(task_namespace(&e.task)))
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .map_err(internal_json)?;
    Ok(Json(Items { items }))
}

/// The episode `id` if it exists and the caller may see it.
async fn episode_for(
    daemon: &Daemon,
    caller: &Caller,
    id: &str,
) -> Result<crate::store::EpisodeRecord, ApiError> {
    let episode = daemon
        .runtime
        .library()
        .store()
        .episode(id)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound(_) => {
                ApiError::not_found(format!("no episode {id}"))
            }
            other => ApiError::internal(other),
        })?;
    if !caller.may(task_namespace(&episode.task)) {
        return Err(ApiError::forbidden(format!(
            "episode {id} works in a namespace this token does not cover"
        )));
    }
    Ok(episode)
}

/// One episode with its journal (as `episodes show --json`).
#[utoipa::path(get, path = "/v1/episodes/{id}", params(("id" = String, Path)), responses(
    (status = 200, body = Document), (status = 403, body = super::error::ErrorBody),
    (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn show_episode(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Document> {
    let episode = episode_for(&daemon, &caller, &id).await?;
    let events = daemon
        .runtime
        .library()
        .store()
        .episode_events(&id)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(Document(
        json!({"episode": episode, "events": events}),
    )))
}

/// An episode's journal as server-sent events: each event (its `kind` as the SSE event
/// name, its `seq` as the id, the stored event as data) as it is written, then `end` with
/// the episode record once it has finished. `Last-Event-ID` continues after that `seq`.
/// When the daemon stops first, the stream ends with `stopping` (the episode resumes on
/// the next start; follow it again there).
#[utoipa::path(get, path = "/v1/episodes/{id}/events", params(("id" = String, Path)), responses(
    (status = 200, description = "text/event-stream of journal events"),
    (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn follow_episode(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    episode_for(&daemon, &caller, &id).await?;
    let after: i64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let commits = daemon.runtime.library().store().commits();
    let state = Follow {
        daemon,
        id,
        after,
        commits,
        pending: std::collections::VecDeque::new(),
        done: false,
    };
    let stream = futures::stream::unfold(state, |mut state| async move {
        let event = state.next().await?;
        Some((Ok(event), state))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// A follower's position in one episode's journal.
struct Follow {
    daemon: Arc<Daemon>,
    id: String,
    after: i64,
    /// This process's commits to the store: a change is a write to read at once.
    commits: tokio::sync::watch::Receiver<u64>,
    pending: std::collections::VecDeque<Event>,
    done: bool,
}

impl Follow {
    /// The next event to send, or `None` when the stream is over.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.done {
                return None;
            }
            let store = self.daemon.runtime.library().store();
            // Commits from here on wake the wait below.
            self.commits.mark_unchanged();
            // The record first: events written before it says "finished" are all read below.
            let episode = match store.episode(&self.id).await {
                Ok(episode) => episode,
                Err(e) => return self.end("error", json!({"message": e.to_string()})),
            };
            let events = match store.episode_events_after(&self.id, self.after).await {
                Ok(events) => events,
                Err(e) => return self.end("error", json!({"message": e.to_string()})),
            };
            for event in events {
                self.after = event.seq;
                let data = serde_json::to_string(&event).unwrap_or_default();
                self.pending.push_back(
                    Event::default()
                        .event(event.kind.clone())
                        .id(event.seq.to_string())
                        .data(data),
                );
            }
            let finished = !matches!(
                episode.status,
                EpisodeStatus::Running | EpisodeStatus::Interrupted
            );
            if finished {
                let data = serde_json::to_string(&episode).unwrap_or_default();
                self.pending
                    .push_back(Event::default().event("end").data(data));
                self.done = true;
                continue;
            }
            if !self.pending.is_empty() {
                continue;
            }
            tokio::select! {
                Ok(()) = self.commits.changed() => {}
                _ = tokio::time::sleep(FOLLOW_POLL) => {}
                _ = self.daemon.stopping.cancelled() => {
                    return self.end("stopping", json!({
                        "message": "the daemon is stopping; the episode resumes on its next start"
                    }));
                }
            }
        }
    }

    fn end(&mut self, name: &str, data: Value) -> Option<Event> {
        self.done = true;
        Some(Event::default().event(name).data(data.to_string()))
    }
}

/// The open-ended run's state (404 before any was started).
#[utoipa::path(get, path = "/v1/run", responses(
    (status = 200, body = RunState), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn run_status(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<RunState> {
    namespace_for(&caller, DEFAULT_NAMESPACE)?;
    work::run_state(&daemon)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no run was started; POST /v1/run starts one"))
}

/// Starts the open-ended loop (the curriculum proposes tasks in the `default` namespace)
/// for `iterations` episodes, in the background.
#[utoipa::path(post, path = "/v1/run", request_body = RunRequest, responses(
    (status = 202, body = RunState), (status = 403, body = super::error::ErrorBody),
    (status = 409, body = super::error::ErrorBody), (status = 503, body = super::error::ErrorBody)))]
pub(super) async fn start_run(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<RunRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<RunState>), ApiError> {
    let request = json_body(body)?;
    namespace_for(&caller, DEFAULT_NAMESPACE)?;
    if !daemon.agent {
        return Err(no_agent());
    }
    daemon
        .usage
        .check_tokens(DEFAULT_NAMESPACE, &daemon.policies.of(DEFAULT_NAMESPACE))?;
    if request.iterations == 0 {
        return Err(ApiError::bad_request("iterations must be at least 1"));
    }
    let state = work::start_run(&daemon, request.iterations)?;
    Ok((StatusCode::ACCEPTED, Json(state)))
}

/// Stops the open-ended loop; its episode in progress is checkpointed and resumed later.
#[utoipa::path(delete, path = "/v1/run", responses(
    (status = 200, body = RunState), (status = 404, body = super::error::ErrorBody)))]
pub(super) async fn stop_run(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<RunState> {
    namespace_for(&caller, DEFAULT_NAMESPACE)?;
    work::stop_run(&daemon).map(Json)
}

/// What a namespace has spent and may spend.
#[derive(Debug, Serialize, ToSchema)]
pub struct NamespaceQuota {
    /// The namespace.
    pub namespace: String,
    /// What it has spent.
    pub usage: super::quota::NamespaceUsage,
    /// Most skills stored (unset: no limit).
    pub max_skills: Option<usize>,
    /// Most LLM tokens (unset: no limit).
    pub max_llm_tokens: Option<u64>,
    /// Most sandbox seconds (unset: no limit).
    pub max_sandbox_seconds: Option<f64>,
}

/// `GET /v1/usage` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// The namespace (default `default`).
    pub namespace: Option<String>,
}

/// What a namespace has spent (LLM tokens, sandbox time) against its quotas.
#[utoipa::path(get, path = "/v1/usage", params(UsageQuery), responses(
    (status = 200, body = NamespaceQuota), (status = 403, body = super::error::ErrorBody)))]
pub(super) async fn usage(
    State(daemon): State<Arc<Daemon>>,
    Extension(caller): Extension<Caller>,
    params: Result<Query<UsageQuery>, QueryRejection>,
) -> ApiResult<NamespaceQuota> {
    let params = query(params)?;
    let namespace = namespace_for(
        &caller,
        params.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE),
    )?;
    let policy = daemon.policies.of(&namespace);
    Ok(Json(NamespaceQuota {
        usage: daemon.usage.of(&namespace),
        max_skills: policy.max_skills,
        max_llm_tokens: policy.max_llm_tokens,
        max_sandbox_seconds: policy.max_sandbox_seconds,
        namespace,
    }))
}
