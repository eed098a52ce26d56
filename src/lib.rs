//! skillforge: a runtime that lets an LLM agent grow a library of code skills and reuse it.
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
//! - [`mcp`]: the MCP server (official `rmcp` SDK) over the library and the agent.
//! - [`daemon`]: `skillforge serve`, the HTTP API (axum) over the library and the agent:
//!   tokens, background episodes, graceful stop and resume.
//!
//! See ARCHITECTURE.md for the map and the invariants.

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
pub mod sandbox;
pub mod skill;
pub mod store;
pub mod validate;
