//! The errors of the `llm` module.

use std::path::PathBuf;
use std::time::Duration;

/// Why a model call, or starting a model, failed. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The server refused the request with a 4xx status that retrying cannot fix.
    #[error("the model endpoint {url} rejected the request with HTTP {status}: {message}; {hint}")]
    Rejected {
        /// The chat completions URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's own message.
        message: String,
        /// What to check, chosen from the status.
        hint: &'static str,
    },

    /// The server kept answering 429 or 5xx until the attempts ran out.
    #[error(
        "the model endpoint {url} answered HTTP {status} to all {attempts} attempts (last message: {message}); \
         the server is overloaded or failing: try again later, or raise llm.max_attempts"
    )]
    Unavailable {
        /// The chat completions URL.
        url: String,
        /// The last HTTP status.
        status: u16,
        /// The server's last message.
        message: String,
        /// Attempts made.
        attempts: u32,
    },

    /// The server asked to be left alone for longer than the retry policy allows.
    #[error(
        "the model endpoint {url} answered HTTP {status} and asked to retry after {retry_after:?}, \
         longer than the allowed {max:?}; wait and try again, or raise llm.max_retry_after_ms"
    )]
    RetryAfterTooLong {
        /// The chat completions URL.
        url: String,
        /// The HTTP status (usually 429).
        status: u16,
        /// What the server asked for.
        retry_after: Duration,
        /// The policy's ceiling.
        max: Duration,
    },

    /// Every attempt timed out.
    #[error(
        "the request to {url} timed out on all {attempts} attempts (request timeout {timeout:?}); \
         raise llm.request_timeout_ms, lower llm.max_tokens, or use a faster model"
    )]
    Timeout {
        /// The chat completions URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The per-attempt request timeout.
        timeout: Duration,
    },

    /// No attempt could reach the server.
    #[error(
        "could not reach the model endpoint {url} in {attempts} attempts: {detail}; \
         check that llm.base_url points at a running OpenAI-compatible server"
    )]
    Connect {
        /// The chat completions URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last transport error, with its causes.
        detail: String,
    },

    /// The server answered 2xx with something that is not a chat completion.
    #[error(
        "the model endpoint {url} sent a reply that is not an OpenAI chat completion ({detail}); \
         check that llm.base_url is the server's OpenAI-compatible base, usually ending in /v1"
    )]
    MalformedResponse {
        /// The chat completions URL.
        url: String,
        /// What was wrong, with the start of the body.
        detail: String,
    },

    /// The reply's body was longer than the client reads.
    #[error(
        "the model endpoint {url} answered HTTP {status} with a body over {limit} bytes, which is \
         not read; check llm.base_url (a model reply is far smaller), or raise the client's \
         max_response_bytes"
    )]
    ResponseTooLarge {
        /// The chat completions URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The limit in bytes.
        limit: usize,
    },

    /// The configuration cannot work.
    #[error("invalid llm configuration: {0}")]
    Config(String),

    /// The HTTP client could not be built.
    #[error("could not build the HTTP client for the model endpoint: {0}")]
    Client(#[source] reqwest::Error),

    /// A [`ScriptedModel`](super::ScriptedModel) queue had no reply left.
    #[error(
        "the scripted model ran out of replies after {served} calls; the unanswered request ends with: \
         {request_tail:?}; add a reply to the test's script"
    )]
    ScriptExhausted {
        /// Replies served before running out.
        served: usize,
        /// The end of the unanswered request's text.
        request_tail: String,
    },

    /// No rule of a [`ScriptedModel`](super::ScriptedModel) matched the request.
    #[error(
        "no rule of the scripted model matches the request (rules look for: {patterns:?}); the request \
         ends with: {request_tail:?}; add a rule whose substring occurs in it"
    )]
    NoRuleMatched {
        /// The substrings the rules look for.
        patterns: Vec<String>,
        /// The end of the unmatched request's text.
        request_tail: String,
    },

    /// Something the local model needs is not installed.
    #[error(
        "the offline model is not installed: {what} is missing at {path}; run `{setup_command}`"
    )]
    LocalNotInstalled {
        /// What is missing.
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// The command that installs it.
        setup_command: String,
    },

    /// The local model server did not come up.
    #[error(
        "the local model server did not start: {reason}; run `scripts/setup llm` to repair the install. \
         Last lines of its output:\n{output_tail}"
    )]
    LocalStart {
        /// What went wrong.
        reason: String,
        /// The last lines the server printed.
        output_tail: String,
    },

    /// The server's tokenizer could not count a prompt's tokens.
    #[error("the model server's tokenizer at {url} failed: {detail}; is the server still running?")]
    Tokenizer {
        /// The tokenizer endpoint.
        url: String,
        /// What went wrong.
        detail: String,
    },

    /// A prompt and its reply do not fit the model's context window.
    #[error(
        "the prompt takes {prompt_tokens} tokens and the reply up to {max_tokens}, more than the \
         model's context of {context_tokens} tokens; shorten the prompt or use a model with a larger \
         context (llm.context_tokens)"
    )]
    ContextExceeded {
        /// Tokens in the prompt.
        prompt_tokens: u32,
        /// Tokens reserved for the reply.
        max_tokens: u32,
        /// The model's context window.
        context_tokens: u32,
    },
}
