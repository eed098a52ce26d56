//! A client for OpenAI-compatible chat completions (OpenAI, vLLM, Ollama, llama.cpp server,
//! LM Studio), with timeouts, retries and token accounting.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use super::error::LlmError;
use super::retry::{RetryPolicy, retry_after};
use super::tokens::DEFAULT_CONTEXT_TOKENS;
use super::types::{
    ChatRequest, ChatResponse, FinishReason, LanguageModel, Message, ResponseFormat,
};
use super::usage::UsageCounter;
use crate::redact::redact_url;

/// How to reach and use an OpenAI-compatible endpoint.
#[derive(Clone)]
pub struct OpenAiConfig {
    /// The API base, usually ending in `/v1` (e.g. `http://127.0.0.1:8080/v1`); the client posts to
    /// `{base_url}/chat/completions`.
    pub base_url: String,
    /// The model name the server expects.
    pub model: String,
    /// Bearer token; `None` sends no `Authorization` header (local servers need none).
    pub api_key: Option<String>,
    /// Default sampling temperature, used when a request sets none.
    pub temperature: f32,
    /// Default generation limit, used when a request sets none.
    pub max_tokens: u32,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one attempt, from sending the request to reading the whole reply.
    pub request_timeout: Duration,
    /// What to retry and how long to wait in between.
    pub retry: RetryPolicy,
    /// The largest reply body read, in bytes; a longer one is
    /// [`LlmError::ResponseTooLarge`], whatever its `Content-Length` says.
    pub max_response_bytes: usize,
    /// The model's context window in tokens (the endpoint has no tokenizer to ask, so prompts
    /// are counted by [`estimate_prompt_tokens`](super::estimate_prompt_tokens)).
    pub context_tokens: u32,
    /// The server is llama.cpp's: a request with a seed also asks it not to reuse its prompt
    /// cache (`cache_prompt: false`), since with a long prompt its reply to the same seed
    /// depends on what the cache held (tests/llm_local_smoke.rs). Other servers may refuse
    /// the field, so it is off but for the local model.
    pub uncached_seeds: bool,
}

/// The default [`OpenAiConfig::max_response_bytes`]: 4 MiB, far more than any reply of
/// `max_tokens` tokens.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 4 << 20;

impl OpenAiConfig {
    /// A configuration for `model` at `base_url` with no API key and default options
    /// (temperature 0.2, 1024 tokens, 10 s to connect, 300 s per attempt, [`RetryPolicy::default`],
    /// replies up to [`DEFAULT_MAX_RESPONSE_BYTES`], a context of [`DEFAULT_CONTEXT_TOKENS`]).
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            temperature: 0.2,
            max_tokens: 1024,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            context_tokens: DEFAULT_CONTEXT_TOKENS,
            uncached_seeds: false,
        }
    }

    /// Takes the API key from the environment variable `var`; unset or empty means no key.
    pub fn with_api_key_from_env(mut self, var: &str) -> Self {
        self.api_key = std::env::var(var).ok().filter(|key| !key.trim().is_empty());
        self
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("base_url", &redact_url(&self.base_url))
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("temperature", &self.temperature)
            .field("max_tokens", &self.max_tokens)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("context_tokens", &self.context_tokens)
            .field("uncached_seeds", &self.uncached_seeds)
            .finish()
    }
}

/// A [`LanguageModel`] that speaks the OpenAI chat completions protocol over HTTP. Its
/// errors, logs and `Debug` show the URL without any password.
#[derive(Clone)]
pub struct OpenAiClient {
    http: reqwest::Client,
    url: String,
    /// `url` without a password, for errors and logs.
    shown_url: String,
    config: OpenAiConfig,
    usage: Arc<UsageCounter>,
}

impl fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("url", &self.shown_url)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OpenAiClient {
    /// A client for `config` with its own usage counter.
    pub fn new(config: OpenAiConfig) -> Result<Self, LlmError> {
        if config.model.trim().is_empty() {
            return Err(LlmError::Config(
                "the model name is empty; set llm.model to the name the server serves".into(),
            ));
        }
        let base = config.base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(LlmError::Config(format!(
                "llm.base_url {:?} is not an http(s) URL; use e.g. http://127.0.0.1:8080/v1",
                redact_url(&config.base_url)
            )));
        }
        let url = format!("{base}/chat/completions");
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .build()
            .map_err(LlmError::Client)?;
        Ok(Self {
            http,
            shown_url: redact_url(&url),
            url,
            config,
            usage: Arc::new(UsageCounter::new()),
        })
    }

    /// Adds this client's calls to `usage` (e.g. one counter shared by several clients).
    pub fn with_usage(mut self, usage: Arc<UsageCounter>) -> Self {
        self.usage = usage;
        self
    }

    /// The URL requests are posted to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The configuration the client was built with.
    pub fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    async fn attempt(&self, body: &WireRequest<'_>) -> Result<ChatResponse, Attempt> {
        let mut request = self.http.post(&self.url).json(body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(transport_failure)?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = read_body(response, self.config.max_response_bytes)
            .await?
            .ok_or_else(|| {
                Attempt::Fatal(LlmError::ResponseTooLarge {
                    url: self.shown_url.clone(),
                    status: status.as_u16(),
                    limit: self.config.max_response_bytes,
                })
            })?;
        if !status.is_success() {
            let message = server_message(status, &bytes);
            if is_retryable(status) {
                return Err(Attempt::Retry(Failure::Status {
                    status: status.as_u16(),
                    message,
                    retry_after: retry_after(&headers, SystemTime::now()),
                }));
            }
            return Err(Attempt::Fatal(LlmError::Rejected {
                url: self.shown_url.clone(),
                status: status.as_u16(),
                message,
                hint: hint_for(status),
            }));
        }
        self.parse(&bytes).map_err(Attempt::Fatal)
    }

    fn parse(&self, bytes: &[u8]) -> Result<ChatResponse, LlmError> {
        let malformed = |detail: String| LlmError::MalformedResponse {
            url: self.shown_url.clone(),
            detail: format!("{detail}; body starts with {:?}", excerpt(bytes, 200)),
        };
        let wire: WireResponse =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("invalid JSON: {e}")))?;
        let choice = wire
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| malformed("no choices in the reply".into()))?;
        let usage = wire.usage.unwrap_or_default();
        Ok(ChatResponse {
            text: choice.message.content.unwrap_or_default(),
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            latency: Duration::ZERO,
            attempts: 0,
            model: wire
                .model
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| self.config.model.clone()),
            finish_reason: FinishReason::from_openai(choice.finish_reason.as_deref()),
        })
    }

    fn exhausted(&self, failure: Failure, attempts: u32) -> LlmError {
        match failure {
            Failure::Status {
                status, message, ..
            } => LlmError::Unavailable {
                url: self.shown_url.clone(),
                status,
                message,
                attempts,
            },
            Failure::Timeout => LlmError::Timeout {
                url: self.shown_url.clone(),
                attempts,
                timeout: self.config.request_timeout,
            },
            Failure::Connect(detail) => LlmError::Connect {
                url: self.shown_url.clone(),
                attempts,
                detail,
            },
        }
    }
}

#[async_trait]
impl LanguageModel for OpenAiClient {
    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, LlmError> {
        let started = Instant::now();
        let body = WireRequest {
            model: &self.config.model,
            messages: &req.messages,
            temperature: req.temperature.unwrap_or(self.config.temperature),
            max_tokens: req.max_tokens.unwrap_or(self.config.max_tokens),
            stop: &req.stop,
            response_format: req.response_format.as_ref(),
            seed: req.seed,
            // llama.cpp's reply to a seeded request depends on what its prompt cache held.
            cache_prompt: (self.config.uncached_seeds && req.seed.is_some()).then_some(false),
            stream: false,
        };
        let policy = &self.config.retry;
        let mut attempts = 0u32;
        let result = loop {
            attempts += 1;
            match self.attempt(&body).await {
                Ok(response) => break Ok(response),
                Err(Attempt::Fatal(error)) => break Err(error),
                Err(Attempt::Retry(failure)) => {
                    if attempts >= policy.max_attempts.max(1) {
                        break Err(self.exhausted(failure, attempts));
                    }
                    let wait = match &failure {
                        Failure::Status {
                            status,
                            retry_after: Some(asked),
                            ..
                        } => {
                            if *asked > policy.max_retry_after {
                                break Err(LlmError::RetryAfterTooLong {
                                    url: self.shown_url.clone(),
                                    status: *status,
                                    retry_after: *asked,
                                    max: policy.max_retry_after,
                                });
                            }
                            *asked
                        }
                        _ => policy.backoff(attempts),
                    };
                    tracing::debug!(url = %self.shown_url, attempts, ?wait, ?failure, "retrying model call");
                    tokio::time::sleep(wait).await;
                }
            }
        };
        let latency = started.elapsed();
        match result {
            Ok(mut response) => {
                response.latency = latency;
                response.attempts = attempts;
                self.usage.record_success(
                    response.prompt_tokens,
                    response.completion_tokens,
                    latency,
                    attempts,
                );
                Ok(response)
            }
            Err(error) => {
                self.usage.record_failure(latency, attempts);
                Err(error)
            }
        }
    }

    fn model_id(&self) -> &str {
        &self.config.model
    }

    fn usage(&self) -> Arc<UsageCounter> {
        Arc::clone(&self.usage)
    }

    fn context_tokens(&self) -> u32 {
        self.config.context_tokens
    }
}

/// The outcome of one failed attempt.
enum Attempt {
    /// Worth another try.
    Retry(Failure),
    /// Final.
    Fatal(LlmError),
}

/// Why a retryable attempt failed.
#[derive(Debug)]
enum Failure {
    Status {
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    Timeout,
    Connect(String),
}

/// A reply's body, read chunk by chunk; `None` once it is longer than `limit` bytes (or says
/// it will be), without reading the rest.
async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Option<Vec<u8>>, Attempt> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_failure)? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

fn transport_failure(error: reqwest::Error) -> Attempt {
    if error.is_timeout() {
        Attempt::Retry(Failure::Timeout)
    } else {
        // reqwest's message names the URL, password included.
        Attempt::Retry(Failure::Connect(error_chain(&error.without_url())))
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
}

fn hint_for(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "set a valid API key in the environment variable named by llm.api_key_env",
        403 => "the API key has no access to this model; check llm.model and the key's permissions",
        404 => "check llm.base_url (usually ending in /v1) and that llm.model is served there",
        413 => "the prompt is too large for this server; shorten it or raise the server's limit",
        _ => {
            "the request is invalid for this server (check llm.model, llm.max_tokens and the context size); it is not retried"
        }
    }
}

/// The server's error message: OpenAI's `{"error": {"message": ...}}`, other common JSON shapes, or
/// the start of the body.
fn server_message(status: StatusCode, body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let candidates = [
            value.pointer("/error/message"),
            value.get("error"),
            value.get("message"),
            value.get("detail"),
        ];
        for candidate in candidates.into_iter().flatten() {
            if let Some(text) = candidate.as_str() {
                return text.to_string();
            }
        }
    }
    let text = excerpt(body, 1000);
    if text.trim().is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        text
    }
}

fn excerpt(bytes: &[u8], max_chars: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(max_chars).collect();
    if text.chars().count() > max_chars {
        out.push('…');
    }
    out
}

#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    temperature: f32,
    max_tokens: u32,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<&'a ResponseFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_prompt: Option<bool>,
    stream: bool,
}

#[derive(Deserialize)]
struct WireResponse {
    model: Option<String>,
    choices: Vec<WireChoice>,
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    message: WireMessage,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    content: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
}
