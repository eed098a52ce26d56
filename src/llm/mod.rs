//! Language models: one async trait, an OpenAI-compatible HTTP client, a scripted model for tests,
//! and a small coder model served on loopback as the offline default.
//!
//! The module knows nothing of agents, the sandbox or the store: it turns a [`ChatRequest`] into a
//! [`ChatResponse`], counts tokens and latency in a shared [`UsageCounter`], counts a prompt's tokens
//! against the model's context window ([`LanguageModel::count_tokens`]), and reports failures as
//! [`LlmError`] with a message that says what to do.
//!
//! Build the model the runtime should use from configuration with [`LlmConfig::build`]: an
//! endpoint in `base_url` gives an [`OpenAiClient`]; no endpoint starts a [`LocalModelServer`]
//! (installed by `scripts/setup llm`) and talks to it through an [`OpenAiClient`].

mod config;
mod error;
mod local;
mod openai;
mod retry;
mod scripted;
mod seeded;
mod tokens;
mod types;
mod usage;

pub use config::{LlmConfig, LocalConfig};
pub use error::LlmError;
pub use local::{
    LOCAL_MODEL_FILE, LOCAL_MODEL_ID, LOCAL_MODEL_SIZE, LocalModel, LocalModelChoice,
    LocalModelServer, LocalServerConfig, XLLAMACPP_VERSION, default_cache_dir,
};
pub use openai::{DEFAULT_MAX_RESPONSE_BYTES, OpenAiClient, OpenAiConfig};
pub use retry::RetryPolicy;
pub use scripted::{ScriptedModel, ScriptedReply};
pub use seeded::SeededModel;
pub use tokens::{DEFAULT_CONTEXT_TOKENS, LlamaCppTokenizer, estimate_prompt_tokens};
pub use types::{
    ChatRequest, ChatResponse, FinishReason, JsonSchemaFormat, LanguageModel, Message,
    ResponseFormat, Role,
};
pub use usage::{UsageCounter, UsageSnapshot};
