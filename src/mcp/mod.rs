//! The MCP server: the library served to any Model Context Protocol client, over stdio or
//! streamable HTTP (the official SDK, `rmcp`).
//!
//! The tool list is small and fixed, whatever the library's size: a client finds skills
//! with `search_skills` instead of loading a catalog. `search_skills`, `get_skill`,
//! `run_skill`, `solve_task` and `add_skill` are thin layers over the [`Runtime`], so the
//! capability policy, the namespace checks, the limits and the validation of `add` hold as
//! on the CLI. Skills are also resources (`skill://NAMESPACE/NAME`, the skill's file), listed a page
//! at a time in (namespace, name) order.
//!
//! Arguments a tool cannot use (wrong types, an unknown skill, a bad namespace, limits above
//! the server's) are JSON-RPC errors (`-32602`); a skill that fails (a sandbox error kind, a
//! rejected `add`) is a tool result with `isError: true` and the same JSON as
//! `skillforge exec --json` / `skills add --json`. Either way the server goes on serving.

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation,
    ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams,
    ProgressNotificationParam, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    RequestMetaObject, Resource, ResourceContents, ResourceTemplate, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::agent::{Observer, Progress, Task};
use crate::index::SearchFilter;
use crate::library::{AddOptions, LibraryError, split_name};
use crate::runtime::{LimitOverrides, Runtime, RuntimeError, TaskRequest};
use crate::skill::{SkillSource, check_namespace};
use crate::store::{ListFilter, SkillStatus};

/// The most results `search_skills` returns.
pub const MAX_SEARCH_RESULTS: usize = 50;
/// Resources per `resources/list` page, by default.
pub const RESOURCE_PAGE: usize = 100;
/// The scheme of skill resources: `skill://NAMESPACE/NAME`.
pub const RESOURCE_SCHEME: &str = "skill://";

/// The MCP server over one [`Runtime`]. Cheap to clone: every session of the HTTP
/// transport shares the runtime.
#[derive(Clone)]
pub struct SkillServer {
    runtime: Runtime,
    solve: bool,
    page: usize,
    tool_router: ToolRouter<SkillServer>,
}

/// `search_skills` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchArgs {
    /// What the skill should do, in words.
    pub query: String,
    /// How many results (1 to 50, default 5).
    #[serde(default)]
    pub k: Option<usize>,
    /// Only this namespace.
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `get_skill` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetArgs {
    /// The skill: NAME (in the default namespace) or NAMESPACE/NAME.
    pub name: String,
}

/// `run_skill` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunArgs {
    /// The skill: NAME or NAMESPACE/NAME.
    pub name: String,
    /// The arguments: a JSON array is the argument list, any other value the one argument
    /// (default: no arguments).
    #[serde(default)]
    pub input: Option<Value>,
    /// Tighter limits for this call.
    #[serde(default)]
    pub limits: Option<LimitOverrides>,
}

/// `add_skill` arguments.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddArgs {
    /// The skill file: a JavaScript function with its JSDoc (description, `@example` /
    /// `@test` lines).
    pub code: String,
    /// Namespace (default: the file's `@namespace`, else `default`).
    #[serde(default)]
    pub namespace: Option<String>,
}

fn invalid(message: impl Into<String>) -> ErrorData {
    ErrorData::invalid_params(message.into(), None)
}

fn internal(e: impl std::fmt::Display) -> ErrorData {
    ErrorData::internal_error(e.to_string(), None)
}

/// A library error as a JSON-RPC error: what the caller named does not exist or is not
/// acceptable (`-32602`), or the library failed (`-32603`).
fn library_error(e: LibraryError) -> ErrorData {
    match e {
        LibraryError::NotFound(name) => invalid(format!(
            "no skill {name}; search_skills finds skills by what they do"
        )),
        LibraryError::ReadOnly { .. } => invalid(e.to_string()),
        other => internal(other),
    }
}

fn namespace_arg(namespace: Option<String>) -> Result<Option<String>, ErrorData> {
    match namespace {
        Some(ns) => check_namespace(&ns)
            .map(|ns| Some(ns.to_string()))
            .map_err(|e| invalid(e.to_string())),
        None => Ok(None),
    }
}

/// A runtime error as a JSON-RPC error: a request the caller can fix (`-32602`), or a
/// failure of the server (`-32603`).
fn runtime_error(e: RuntimeError) -> ErrorData {
    match e {
        RuntimeError::Library(e) => library_error(e),
        e if e.is_bad_request() => invalid(e.to_string()),
        e => internal(e),
    }
}

/// `skill://NAMESPACE/NAME`.
pub fn resource_uri(namespace: &str, name: &str) -> String {
    format!("{RESOURCE_SCHEME}{namespace}/{name}")
}

/// The opaque cursor after the skill `namespace/name`.
fn cursor_after(namespace: &str, name: &str) -> String {
    hex::encode(format!("{namespace}/{name}"))
}

/// The (namespace, name) a cursor continues after, or `-32602`.
fn parse_cursor(cursor: &str) -> Result<(String, String), ErrorData> {
    let bad = || invalid(format!("invalid cursor {cursor:?}"));
    let bytes = hex::decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (namespace, name) = text.split_once('/').ok_or_else(bad)?;
    Ok((namespace.to_string(), name.to_string()))
}

#[tool_router]
impl SkillServer {
    /// The server over `runtime`; `solve` enables `solve_task` (the runtime's model is
    /// built on its first call).
    pub fn new(runtime: Runtime, solve: bool) -> Self {
        Self {
            runtime,
            solve,
            page: RESOURCE_PAGE,
            tool_router: Self::tool_router(),
        }
    }

    /// The same server listing `page` resources per `resources/list` page (at least one).
    pub fn with_resource_page(mut self, page: usize) -> Self {
        self.page = page.max(1);
        self
    }

    #[tool(
        description = "Find skills (tested JavaScript functions) by what they do: hybrid \
                       semantic + keyword search. Returns names, signatures, descriptions and \
                       scores, best first; get_skill shows one, run_skill runs one."
    )]
    async fn search_skills(
        &self,
        Parameters(args): Parameters<SearchArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let k = args.k.unwrap_or(5);
        if !(1..=MAX_SEARCH_RESULTS).contains(&k) {
            return Err(invalid(format!(
                "k must be between 1 and {MAX_SEARCH_RESULTS}, not {k}"
            )));
        }
        if args.query.trim().is_empty() {
            return Err(invalid("query is empty: say what the skill should do"));
        }
        let filter = SearchFilter {
            namespace: namespace_arg(args.namespace)?,
            statuses: vec![SkillStatus::Active],
        };
        let hits = self
            .runtime
            .search(&args.query, k, filter)
            .await
            .map_err(runtime_error)?;
        let results: Vec<Value> = hits
            .iter()
            .map(|h| {
                let r = &h.skill.record;
                json!({"name": r.qualified_name(), "namespace": r.namespace, "function": r.name,
                       "signature": h.skill.version.signature,
                       "description": h.skill.version.description, "score": h.score,
                       "uri": resource_uri(&r.namespace, &r.name)})
            })
            .collect();
        Ok(CallToolResult::structured(json!({ "results": results })))
    }

    #[tool(
        description = "One skill by name (NAME or NAMESPACE/NAME): its code, tests, \
                       capabilities, stats, and call graph (what it calls, what calls it)."
    )]
    async fn get_skill(
        &self,
        Parameters(args): Parameters<GetArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let detail = self.runtime.show(&args.name).await.map_err(runtime_error)?;
        let s = &detail.skill;
        let refs = |refs: &[crate::store::SkillRef]| {
            refs.iter()
                .map(|r| format!("{}/{}", r.namespace, r.name))
                .collect::<Vec<_>>()
        };
        Ok(CallToolResult::structured(json!({
            "name": s.record.qualified_name(), "namespace": s.record.namespace,
            "function": s.record.name, "version": s.version.version, "status": s.record.status,
            "runnable": s.version.runnable, "signature": s.version.signature,
            "description": s.version.description, "code": s.version.code,
            "tests": s.version.tests, "capabilities": s.version.capabilities,
            "content_hash": s.version.content_hash, "unchecked": s.version.provenance.unchecked,
            "stats": s.stats, "calls": refs(&detail.calls), "called_by": refs(&detail.called_by),
        })))
    }

    #[tool(
        description = "Run a skill in the sandbox with JSON input (an array is the argument \
                       list) and optional tighter limits (timeout_ms, memory_mb, fuel). \
                       Returns {ok: true, value} or {ok: false, error: {kind, message}} where \
                       kind is timeout, cpu_limit, memory_limit, stack_overflow, output_limit, \
                       js_error, capability_denied or invalid_skill."
    )]
    async fn run_skill(
        &self,
        Parameters(args): Parameters<RunArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let overrides = args.limits.unwrap_or_default();
        let input = args.input.unwrap_or_else(|| json!([]));
        let outcome = self
            .runtime
            .run_skill(&args.name, input, overrides)
            .await
            .map_err(runtime_error)?;
        let printed = outcome.to_json();
        Ok(if outcome.is_ok() {
            CallToolResult::structured(printed)
        } else {
            CallToolResult::structured_error(printed)
        })
    }

    #[tool(
        description = "Solve a programming task with the agent: retrieve skills, write a new \
                       one with the language model, validate it in the sandbox and admit it \
                       to the library. Examples in the task (f(x) => y) become its check. \
                       Sends progress notifications; returns the episode's outcome."
    )]
    async fn solve_task(
        &self,
        Parameters(args): Parameters<TaskRequest>,
        meta: RequestMetaObject,
        client: Peer<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        if !self.solve {
            return Err(invalid(
                "this server was started without a language model: solve_task is off",
            ));
        }
        let task = args.to_task().map_err(runtime_error)?;
        solve(&self.runtime, task, meta, client).await
    }

    #[tool(
        description = "Add a skill file (a JavaScript function with a JSDoc description and \
                       @example/@test lines) to the library, validated like `skillforge skills \
                       add`: its tests, and those of the skills that call it, must pass."
    )]
    async fn add_skill(
        &self,
        Parameters(args): Parameters<AddArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let namespace = namespace_arg(args.namespace)?;
        let source = match SkillSource::parse(&args.code, None) {
            Ok(source) => source,
            Err(e) => {
                return Ok(CallToolResult::structured_error(json!({
                    "ok": false, "error": {"kind": "invalid_skill", "message": e.to_string()}
                })));
            }
        };
        let name = source.name.clone();
        let options = AddOptions {
            namespace,
            ..AddOptions::default()
        };
        match self.runtime.add(source, options).await {
            Ok(added) => Ok(CallToolResult::structured(json!({
                "ok": true, "namespace": added.skill.namespace, "skill": added.skill.name,
                "version": added.version.version, "changed": added.changed,
                "calls": added.calls, "dependents_retested": added.dependents_retested,
                "tests": added.report.tests,
                "uri": resource_uri(&added.skill.namespace, &added.skill.name),
            }))),
            Err(RuntimeError::Library(e)) => match e.rejection_kind() {
                Some(kind) => {
                    let mut error = json!({"kind": kind, "message": e.to_string()});
                    if let LibraryError::TestsFailed { report, .. }
                    | LibraryError::DependentRegression { report, .. } = &e
                    {
                        error["report"] = serde_json::to_value(report).map_err(internal)?;
                    }
                    Ok(CallToolResult::structured_error(
                        json!({"ok": false, "skill": name, "error": error}),
                    ))
                }
                None => Err(library_error(e)),
            },
            Err(e) => Err(runtime_error(e)),
        }
    }
}

/// Runs one episode for `solve_task`, forwarding its progress to `client` when the request
/// has a progress token.
async fn solve(
    runtime: &Runtime,
    task: Task,
    meta: RequestMetaObject,
    client: Peer<RoleServer>,
) -> Result<CallToolResult, ErrorData> {
    let max_rounds = runtime.agent_config().max_rounds;
    let forward = meta.get_progress_token().map(|token| {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<(f64, String)>();
        let max = f64::from(max_rounds);
        let task = tokio::spawn(async move {
            while let Some((progress, message)) = receiver.recv().await {
                let note = ProgressNotificationParam::new(token.clone(), progress)
                    .with_total(max)
                    .with_message(message);
                if client.notify_progress(note).await.is_err() {
                    break;
                }
            }
        });
        (sender, task)
    });
    let observer: Option<Observer> = match &forward {
        Some((sender, _)) => {
            let sender = sender.clone();
            Some(Arc::new(move |progress: &Progress| {
                let note = match progress {
                    Progress::Episode { task, .. } => Some((0.0, format!("episode: {task}"))),
                    Progress::Round { round, max } => Some((
                        f64::from(round.saturating_sub(1)),
                        format!("round {round}/{max}"),
                    )),
                    Progress::Finished(report) => Some((
                        f64::from(report.rounds),
                        format!("finished: {}", report.status.as_str()),
                    )),
                    Progress::Model { .. } => None,
                };
                if let Some(note) = note {
                    let _ = sender.send(note);
                }
            }))
        }
        None => None,
    };
    // The episode runs in the runtime's background (its future is not `Send` for every
    // lifetime, what the tool router needs); this waits for its report.
    let report = match runtime.start(task, observer).await {
        Ok(started) => started.report().await,
        Err(e) => Err(e),
    };
    if let Some((sender, task)) = forward {
        drop(sender);
        let _ = task.await;
    }
    let report = report.map_err(runtime_error)?;
    let value = serde_json::to_value(&report).map_err(internal)?;
    Ok(if report.status == crate::store::EpisodeStatus::Failed {
        CallToolResult::structured_error(value)
    } else {
        CallToolResult::structured(value)
    })
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for SkillServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("skillforge", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "skillforge serves a library of tested JavaScript skills. Find one with \
             search_skills, read it with get_skill, run it with run_skill; add_skill adds a \
             tested skill and solve_task writes a new one. Skills are also resources \
             skill://NAMESPACE/NAME.",
        )
    }

    /// Checks the arguments before the router sees them: the SDK would answer arguments of
    /// the wrong shape with a tool error, and here they are a JSON-RPC error (`-32602`).
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = Value::Object(request.arguments.clone().unwrap_or_default());
        let checked = match request.name.as_ref() {
            "search_skills" => serde_json::from_value::<SearchArgs>(arguments).map(drop),
            "get_skill" => serde_json::from_value::<GetArgs>(arguments).map(drop),
            "run_skill" => serde_json::from_value::<RunArgs>(arguments).map(drop),
            "solve_task" => serde_json::from_value::<TaskRequest>(arguments).map(drop),
            "add_skill" => serde_json::from_value::<AddArgs>(arguments).map(drop),
            _ => Ok(()),
        };
        checked.map_err(|e| invalid(format!("bad arguments for {}: {e}", request.name)))?;
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let after = match request.and_then(|r| r.cursor) {
            Some(cursor) => Some(parse_cursor(&cursor)?),
            None => None,
        };
        // One more than a page: whether there is a next one.
        let mut page = self
            .runtime
            .list(&ListFilter {
                after,
                limit: Some(u32::try_from(self.page + 1).unwrap_or(u32::MAX)),
                ..Default::default()
            })
            .await
            .map_err(internal)?;
        let more = page.len() > self.page;
        page.truncate(self.page);
        let next_cursor = more
            .then(|| page.last())
            .flatten()
            .map(|s| cursor_after(&s.record.namespace, &s.record.name));
        let resources = page
            .iter()
            .map(|s| {
                Resource::new(
                    resource_uri(&s.record.namespace, &s.record.name),
                    s.record.qualified_name(),
                )
                .with_description(format!("{} — {}", s.signature, s.description))
                .with_mime_type("text/javascript")
            })
            .collect();
        let mut result = ListResourcesResult::with_all_items(resources);
        result.next_cursor = next_cursor;
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("skill://{namespace}/{name}", "skill")
                .with_description("A skill's file: its JSDoc (description, tests) and code")
                .with_mime_type("text/javascript"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        let path = uri.strip_prefix(RESOURCE_SCHEME).ok_or_else(|| {
            invalid(format!(
                "{uri} is not a skill resource (skill://NAMESPACE/NAME)"
            ))
        })?;
        let (namespace, name) = split_name(path);
        check_namespace(namespace).map_err(|e| invalid(e.to_string()))?;
        let detail = self
            .runtime
            .show(&format!("{namespace}/{name}"))
            .await
            .map_err(|e| match e {
                RuntimeError::Library(LibraryError::NotFound(_)) => {
                    ErrorData::resource_not_found(format!("no skill at {uri}"), None)
                }
                other => internal(other),
            })?;
        Ok(ReadResourceResult::new(vec![
            ResourceContents::text(detail.skill.version.code, uri)
                .with_mime_type("text/javascript"),
        ])
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = cursor_after("text", "parseCsv");
        assert_eq!(
            parse_cursor(&cursor).unwrap(),
            ("text".to_string(), "parseCsv".to_string())
        );
        for bad in ["zz", "", &hex::encode("no-slash")] {
            assert_eq!(
                parse_cursor(bad).unwrap_err().code,
                rmcp::model::ErrorCode::INVALID_PARAMS
            );
        }
    }
}
