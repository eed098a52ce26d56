//! Request and response types shared by every model, and the [`LanguageModel`] trait.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::error::LlmError;
use super::tokens::{DEFAULT_CONTEXT_TOKENS, estimate_prompt_tokens};
use super::usage::UsageCounter;

/// Who wrote a message in a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions that frame the whole conversation.
    System,
    /// The caller's turn.
    User,
    /// The model's turn (earlier replies, or a prefix to continue).
    Assistant,
}

/// One message of a chat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// Its text.
    pub content: String,
}

impl Message {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// A chat completion request. Options left at `None` take the model's configured defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The conversation so far, oldest first.
    pub messages: Vec<Message>,
    /// Sampling temperature; `None` uses the model's default.
    pub temperature: Option<f32>,
    /// Upper bound on generated tokens; `None` uses the model's default.
    pub max_tokens: Option<u32>,
    /// Sequences that end generation when produced (not included in the reply).
    pub stop: Vec<String>,
    /// The shape the server is asked to constrain the reply to (OpenAI's `response_format`;
    /// llama.cpp's server enforces it with a grammar); `None` leaves the reply free. The prompt
    /// must still ask for JSON (some providers require the word), and callers must still parse
    /// leniently: an endpoint may ignore the constraint.
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
    /// The sampling seed; `None` lets the server draw one (see [`SeededModel`](super::SeededModel)
    /// for runs that repeat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
}

/// A constraint on a reply's shape, serialised as OpenAI's `response_format`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Any one JSON object: `{"type": "json_object"}`.
    JsonObject,
    /// One JSON value valid against a schema:
    /// `{"type": "json_schema", "json_schema": {"name": ..., "schema": ...}}`.
    JsonSchema {
        /// The schema and its name.
        json_schema: JsonSchemaFormat,
    },
}

/// A named JSON schema for [`ResponseFormat::JsonSchema`]. It is sent without OpenAI's
/// `strict` flag, so that providers with a narrower strict dialect take it as guidance
/// rather than refuse the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// A name for the schema (letters, digits, `_` and `-`; OpenAI requires one).
    pub name: String,
    /// The JSON schema the reply must satisfy.
    pub schema: serde_json::Value,
}

impl ChatRequest {
    /// A request with these messages and default options.
    pub fn new(messages: Vec<Message>) -> Self {
        Self {
            messages,
            ..Self::default()
        }
    }

    /// Sets the sampling temperature.
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// Sets the upper bound on generated tokens.
    pub fn with_max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    /// Sets the sampling seed.
    pub fn with_seed(mut self, seed: u32) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Sets the stop sequences.
    pub fn with_stop(mut self, stop: Vec<String>) -> Self {
        self.stop = stop;
        self
    }

    /// Asks for a reply that is one JSON object (see [`ChatRequest::response_format`]).
    pub fn with_json_object(mut self) -> Self {
        self.response_format = Some(ResponseFormat::JsonObject);
        self
    }

    /// Asks for a reply that is valid against `schema`, named `name` (see
    /// [`ChatRequest::response_format`]).
    pub fn with_json_schema(mut self, name: impl Into<String>, schema: serde_json::Value) -> Self {
        self.response_format = Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat {
                name: name.into(),
                schema,
            },
        });
        self
    }
}

/// Why the model stopped generating.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FinishReason {
    /// It ended its reply or produced a stop sequence.
    Stop,
    /// It hit `max_tokens` (or the context size): the reply is cut off.
    Length,
    /// The provider filtered the content.
    ContentFilter,
    /// Any other reason the server gave, verbatim (empty when it gave none).
    Other(String),
}

impl FinishReason {
    /// Maps the OpenAI `finish_reason` string.
    pub(crate) fn from_openai(reason: Option<&str>) -> Self {
        match reason {
            Some("stop") => Self::Stop,
            Some("length") => Self::Length,
            Some("content_filter") => Self::ContentFilter,
            Some(other) => Self::Other(other.to_string()),
            None => Self::Other(String::new()),
        }
    }
}

/// A completed chat turn with its accounting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The generated text.
    pub text: String,
    /// Tokens in the prompt, as counted by the server (0 when it does not say).
    pub prompt_tokens: u32,
    /// Tokens generated, as counted by the server (0 when it does not say).
    pub completion_tokens: u32,
    /// Wall time of the whole call, retries and waits included.
    pub latency: Duration,
    /// Attempts made, 1 when the first one succeeded.
    pub attempts: u32,
    /// The model that answered, as the server names it.
    pub model: String,
    /// Why generation stopped.
    pub finish_reason: FinishReason,
}

/// Something that completes chats. Implementations are cheap to share behind an `Arc`.
///
/// It also counts tokens, so that callers can fit a prompt to [`LanguageModel::context_tokens`]:
/// models with a tokenizer to ask count exactly; the default is a conservative estimate
/// ([`estimate_prompt_tokens`]).
#[async_trait]
pub trait LanguageModel: Send + Sync {
    /// Completes the chat in `req`.
    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, LlmError>;

    /// The model's identifier, for provenance records.
    fn model_id(&self) -> &str;

    /// The counter this model adds its calls, tokens and latency to.
    fn usage(&self) -> Arc<UsageCounter>;

    /// The model's context window in tokens: prompt and reply together must fit it.
    fn context_tokens(&self) -> u32 {
        DEFAULT_CONTEXT_TOKENS
    }

    /// The tokens `messages` take as a prompt (the chat template included). The default is a
    /// conservative estimate, for endpoints with no tokenizer to ask.
    async fn count_tokens(&self, messages: &[Message]) -> Result<u32, LlmError> {
        Ok(estimate_prompt_tokens(messages))
    }

    /// Whether a chat ending in an assistant message is continued from it (a prefill), the
    /// reply being that message's text followed by what the model adds, as llama.cpp's server
    /// does. The default is no: an endpoint that is not known to continue would answer anew.
    fn continues_prefill(&self) -> bool {
        false
    }
}
