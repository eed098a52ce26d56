//! skillforge: a runtime that lets an LLM agent grow a library of code skills and reuse it.
//!
//! Skills are JavaScript functions with their tests in a JSDoc header. The agent writes them
//! with a language model, validates them in a wasmtime sandbox (QuickJS compiled to wasm,
//! with hard limits and deny-by-default capabilities), stores them in SQL (SQLite or
//! PostgreSQL) with embeddings in a vector index, and retrieves and composes them in later
//! episodes.
//!
//! # Embedding skillforge
//!
//! A [`Runtime`] is skillforge assembled. [`Runtime::builder`] starts from
//! the CLI's defaults (the data directory, SQLite, the in-process index, the embedding model
//! in `~/.cache/skillforge`, the local model unless an endpoint is set); every part can be
//! replaced through its trait: the [`LanguageModel`](llm::LanguageModel), the
//! [`Embedder`](embed::Embedder), the [`VectorIndex`](index::VectorIndex), the
//! [`Environment`](agent::Environment) and [`Observer`](agent::Observer)s.
//!
//! Your own environment, with a host function its skills call; one episode learns a skill, a
//! later one can call it (the whole program: `examples/embed_agent.rs`):
//!
//! ```no_run
//! use std::sync::Arc;
//! use serde_json::json;
//! use skillforge::agent::{CodeEnvironment, Environment, Task};
//! use skillforge::compose::Bundle;
//! use skillforge::runtime::{Runtime, TaskRequest};
//! use skillforge::sandbox::{HostFunction, HostFunctions, Sandbox, SandboxError};
//! use skillforge::validate::TestReport;
//!
//! struct Warehouse;
//!
//! impl Environment for Warehouse {
//!     fn name(&self) -> &str { "warehouse" }
//!     fn describe(&self) -> String {
//!         "Skills read the stock with host.call(\"inventory.count\", { item }) and \
//!          declare `@capability inventory.count`.".into()
//!     }
//!     fn host_functions(&self) -> HostFunctions {
//!         HostFunctions::empty().with(HostFunction::new(
//!             "inventory.count",
//!             "Units of an item in stock",
//!             |_call, args| Ok(json!(if args["item"] == "pear" { 5 } else { 0 })),
//!         ))
//!     }
//!     fn state(&self) -> serde_json::Value { json!({}) }
//!     fn check(&self, sandbox: &Sandbox, bundle: &Bundle, task: &Task)
//!         -> Result<TestReport, SandboxError> {
//!         // A task's examples are checked as in the `code` environment.
//!         CodeEnvironment::new("warehouse").check(sandbox, bundle, task)
//!     }
//! }
//!
//! # async fn example() -> Result<(), skillforge::runtime::RuntimeError> {
//! let runtime = Runtime::builder()
//!     .from_env() // SKILLFORGE_LLM_URL, SKILLFORGE_DATA_DIR, ... as the CLI reads them
//!     .environment(Arc::new(Warehouse))
//!     .allow_capabilities(["inventory.count"]) // the operator's grant, never the skill's
//!     .build()
//!     .await?;
//! let mut task = TaskRequest::new("Return how many units of an item are in stock");
//! task.name = Some("stockOf".into());
//! task.examples = vec![r#"stockOf("pear") => 5"#.into()];
//! let first = runtime.solve(task.to_task()?).await?;
//! let mut task = TaskRequest::new("Tell whether every line of an order is in stock");
//! task.name = Some("canFill".into());
//! task.examples = vec![r#"canFill([{item: "pear", quantity: 9}]) => false"#.into()];
//! let second = runtime.solve(task.to_task()?).await?;
//! println!("{:?} then {:?}, which calls {:?}", first.skill, second.skill, second.calls);
//! # Ok(()) }
//! ```
//!
//! The library and the sandbox alone, without a language model (`examples/library_only.rs`):
//!
//! ```no_run
//! use serde_json::json;
//! use skillforge::library::AddOptions;
//! use skillforge::runtime::{LimitOverrides, Runtime};
//! use skillforge::skill::SkillSource;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = Runtime::builder().data_dir("/tmp/skills").build().await?;
//! let code = r#"/**
//!  * Turns a title into a URL slug.
//!  * @example slugify("Hello, World!") => "hello-world"
//!  */
//! function slugify(title) {
//!   return title.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean).join("-");
//! }"#;
//! runtime.add(SkillSource::parse(code, None)?, AddOptions::default()).await?; // tests run first
//! let hits = runtime.search("url slug from a title", 3, Default::default()).await?;
//! let run = runtime.run_skill("slugify", json!(["A Title"]), LimitOverrides::default()).await?;
//! println!("{} -> {}", hits[0].skill.record.name, run.to_json()); // `exec --json`'s shape
//! # Ok(()) }
//! ```
//!
//! # Modules
//!
//! The layers, each knowing only the ones before it:
//! - [`sandbox`]: runs JavaScript in QuickJS-on-wasmtime under hard limits and capabilities.
//! - [`skill`]: a skill file (JSDoc header with tests) and its static analysis.
//! - [`compose`]: bundles a skill with the library skills it calls; the call graph.
//! - [`validate`]: runs skills' tests in the sandbox, in parallel.
//! - [`embed`]: sentence embeddings with ONNX Runtime (all-MiniLM-L6-v2), offline.
//! - [`store`]: the SQL source of truth (SQLite or PostgreSQL), with an outbox for the index.
//! - [`index`]: the derived vector index (qdrant-edge in process, or a Qdrant server).
//! - [`library`]: the skill library API over store, index, embedder and sandbox.
//! - [`llm`]: OpenAI-compatible chat completions, a scripted model, the local model server.
//! - [`redact`]: URLs without their passwords, for errors, logs and `Debug`.
//! - [`agent`]: the learning agent's parts: tasks, environments, prompts, curriculum, coder,
//!   critic, and extraction of skills from model replies.
//! - [`envproto`]: external environments speaking JSON lines over stdio.
//! - [`eval`]: the same tasks with a library and without one.
//! - [`bench`](mod@bench): the workloads of `skillforge bench` and the criterion benchmarks.
//! - [`runtime`]: the SDK: [`Runtime`], which the CLI, the MCP server and
//!   the daemon are thin edges over.
//! - [`mcp`]: the MCP server (official `rmcp` SDK) over the runtime.
//! - [`daemon`]: `skillforge serve`, the HTTP API (axum) over the runtime: tokens, background
//!   episodes, graceful stop and resume.
//!
//! See ARCHITECTURE.md for the map and the invariants.

#![warn(missing_docs)]

#[macro_use]
mod named;

mod blocking;

pub mod agent;
pub mod bench;
pub mod compose;
pub mod daemon;
pub mod embed;
pub mod envproto;
pub mod eval;
pub mod index;
pub mod library;
pub mod llm;
pub mod mcp;
pub mod redact;
pub mod runtime;
pub mod sandbox;
pub mod skill;
pub mod store;
pub mod validate;

pub use runtime::Runtime;
