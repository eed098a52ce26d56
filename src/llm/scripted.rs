//! A model that replays a script, for tests that must not depend on a real model.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use super::error::LlmError;
use super::tokens::estimate_prompt_tokens;
use super::types::{ChatRequest, ChatResponse, FinishReason, LanguageModel, Role};
use super::usage::UsageCounter;

/// One scripted reply. Token counts default to an estimate of one token per 4 characters.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedReply {
    /// The reply's text.
    pub text: String,
    /// Prompt tokens to report; `None` estimates them from the request.
    pub prompt_tokens: Option<u32>,
    /// Generated tokens to report; `None` estimates them from `text`.
    pub completion_tokens: Option<u32>,
    /// The finish reason to report.
    pub finish_reason: FinishReason,
}

impl ScriptedReply {
    /// A reply with this text that ends normally.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            prompt_tokens: None,
            completion_tokens: None,
            finish_reason: FinishReason::Stop,
        }
    }

    /// Reports these token counts instead of estimates.
    pub fn with_tokens(mut self, prompt_tokens: u32, completion_tokens: u32) -> Self {
        self.prompt_tokens = Some(prompt_tokens);
        self.completion_tokens = Some(completion_tokens);
        self
    }

    /// Reports this finish reason (e.g. [`FinishReason::Length`] to simulate a cut-off reply).
    pub fn with_finish_reason(mut self, finish_reason: FinishReason) -> Self {
        self.finish_reason = finish_reason;
        self
    }
}

impl From<&str> for ScriptedReply {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for ScriptedReply {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

#[derive(Debug)]
enum Script {
    /// Replies served in order, each once.
    Queue(VecDeque<ScriptedReply>),
    /// `(substring, reply)`: the first rule whose substring occurs in the request answers; rules
    /// are reusable.
    Rules(Vec<(String, ScriptedReply)>),
}

#[derive(Debug)]
struct State {
    script: Script,
    requests: Vec<ChatRequest>,
    served: usize,
}

/// A [`LanguageModel`] that answers from a script and records every request it gets.
///
/// Either a queue (replies in order, an error once it is empty) or rules (the first rule whose
/// substring occurs in any message of the request answers; an error when none does).
///
/// It counts prompts with [`estimate_prompt_tokens`] and, given a context window
/// ([`ScriptedModel::with_context_tokens`]), refuses like a real server a request whose prompt
/// and `max_tokens` do not fit it.
#[derive(Debug)]
pub struct ScriptedModel {
    state: Mutex<State>,
    model_id: String,
    usage: Arc<UsageCounter>,
    context_tokens: u32,
    continues_prefill: bool,
}

impl ScriptedModel {
    /// A model that serves `replies` in order, one per call.
    pub fn queue<R: Into<ScriptedReply>>(replies: impl IntoIterator<Item = R>) -> Self {
        Self::with_script(Script::Queue(replies.into_iter().map(Into::into).collect()))
    }

    /// A model that answers each call with the reply of the first rule whose substring occurs in
    /// the request's messages.
    pub fn rules<S: Into<String>, R: Into<ScriptedReply>>(
        rules: impl IntoIterator<Item = (S, R)>,
    ) -> Self {
        Self::with_script(Script::Rules(
            rules
                .into_iter()
                .map(|(pattern, reply)| (pattern.into(), reply.into()))
                .collect(),
        ))
    }

    fn with_script(script: Script) -> Self {
        Self {
            state: Mutex::new(State {
                script,
                requests: Vec::new(),
                served: 0,
            }),
            model_id: "scripted".to_string(),
            usage: Arc::new(UsageCounter::new()),
            context_tokens: u32::MAX,
            continues_prefill: false,
        }
    }

    /// Continues a chat that ends in an assistant message as llama.cpp's server does: the
    /// scripted reply is what the model adds, returned after that message's text.
    pub fn continuing_prefill(mut self) -> Self {
        self.continues_prefill = true;
        self
    }

    /// Sets the context window (default: unlimited): a request whose estimated prompt tokens
    /// plus its `max_tokens` exceed it fails with [`LlmError::ContextExceeded`].
    pub fn with_context_tokens(mut self, context_tokens: u32) -> Self {
        self.context_tokens = context_tokens;
        self
    }

    /// Names the model (default `scripted`).
    pub fn with_model_id(mut self, model_id: impl Into<String>) -> Self {
        self.model_id = model_id.into();
        self
    }

    /// Adds this model's calls to `usage`.
    pub fn with_usage(mut self, usage: Arc<UsageCounter>) -> Self {
        self.usage = usage;
        self
    }

    /// Every request received so far, in order (including those that got an error).
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.lock().requests.clone()
    }

    /// Replies left in a queue script (`None` for a rules script).
    pub fn remaining(&self) -> Option<usize> {
        match &self.lock().script {
            Script::Queue(queue) => Some(queue.len()),
            Script::Rules(_) => None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state consistent (plain pushes and pops).
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn request_text(req: &ChatRequest) -> String {
    req.messages
        .iter()
        .map(|m| m.content.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn tail(text: &str, max_chars: usize) -> String {
    let count = text.chars().count();
    text.chars().skip(count.saturating_sub(max_chars)).collect()
}

fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.chars().count().div_ceil(4)).unwrap_or(u32::MAX)
}

#[async_trait]
impl LanguageModel for ScriptedModel {
    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, LlmError> {
        let prompt_estimate = estimate_prompt_tokens(&req.messages);
        let max_tokens = req.max_tokens.unwrap_or(0);
        if prompt_estimate.saturating_add(max_tokens) > self.context_tokens {
            self.lock().requests.push(req);
            self.usage.record_failure(Duration::ZERO, 1);
            return Err(LlmError::ContextExceeded {
                prompt_tokens: prompt_estimate,
                max_tokens,
                context_tokens: self.context_tokens,
            });
        }
        let text = request_text(&req);
        let prefill = match req.messages.last() {
            Some(last) if self.continues_prefill && last.role == Role::Assistant => {
                last.content.clone()
            }
            _ => String::new(),
        };
        let mut state = self.lock();
        state.requests.push(req);
        let served = state.served;
        let reply = match &mut state.script {
            Script::Queue(queue) => queue.pop_front().ok_or_else(|| LlmError::ScriptExhausted {
                served,
                request_tail: tail(&text, 300),
            }),
            Script::Rules(rules) => rules
                .iter()
                .find(|(pattern, _)| text.contains(pattern.as_str()))
                .map(|(_, reply)| reply.clone())
                .ok_or_else(|| LlmError::NoRuleMatched {
                    patterns: rules.iter().map(|(p, _)| p.clone()).collect(),
                    request_tail: tail(&text, 300),
                }),
        };
        let reply = match reply {
            Ok(reply) => reply,
            Err(error) => {
                self.usage.record_failure(Duration::ZERO, 1);
                return Err(error);
            }
        };
        state.served += 1;
        drop(state);
        let prompt_tokens = reply
            .prompt_tokens
            .unwrap_or_else(|| estimate_tokens(&text));
        let completion_tokens = reply
            .completion_tokens
            .unwrap_or_else(|| estimate_tokens(&reply.text));
        self.usage
            .record_success(prompt_tokens, completion_tokens, Duration::ZERO, 1);
        Ok(ChatResponse {
            text: prefill + &reply.text,
            prompt_tokens,
            completion_tokens,
            latency: Duration::ZERO,
            attempts: 1,
            model: self.model_id.clone(),
            finish_reason: reply.finish_reason,
        })
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn usage(&self) -> Arc<UsageCounter> {
        Arc::clone(&self.usage)
    }

    fn context_tokens(&self) -> u32 {
        self.context_tokens
    }

    fn continues_prefill(&self) -> bool {
        self.continues_prefill
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Message;

    fn ask(text: &str) -> ChatRequest {
        ChatRequest::new(vec![Message::system("be brief"), Message::user(text)])
    }

    #[tokio::test]
    async fn queue_replies_in_order_records_requests_and_errors_when_empty() {
        let model = ScriptedModel::queue(["first", "second"]);
        assert_eq!(model.complete(ask("a")).await.unwrap().text, "first");
        assert_eq!(model.remaining(), Some(1));
        assert_eq!(model.complete(ask("b")).await.unwrap().text, "second");
        let error = model.complete(ask("the third question")).await.unwrap_err();
        match &error {
            LlmError::ScriptExhausted {
                served,
                request_tail,
            } => {
                assert_eq!(*served, 2);
                assert!(request_tail.ends_with("the third question"));
            }
            other => panic!("unexpected error {other}"),
        }
        assert!(error.to_string().contains("add a reply"), "{error}");
        let requests = model.requests();
        assert_eq!(requests.len(), 3);
        assert_eq!(requests[1].messages[1].content, "b");
        let usage = model.usage().snapshot();
        assert_eq!((usage.calls, usage.failed_calls), (2, 1));
    }

    #[tokio::test]
    async fn rules_answer_by_first_matching_substring_and_are_reusable() {
        let model = ScriptedModel::rules([
            (
                "sumOfSquares",
                ScriptedReply::new("function sumOfSquares() {}").with_tokens(50, 7),
            ),
            ("critic", ScriptedReply::new("PASS")),
            (
                "sum",
                ScriptedReply::new("never: an earlier rule matches first"),
            ),
        ])
        .with_model_id("scripted-coder");
        for _ in 0..2 {
            let reply = model.complete(ask("write sumOfSquares")).await.unwrap();
            assert_eq!(reply.text, "function sumOfSquares() {}");
            assert_eq!((reply.prompt_tokens, reply.completion_tokens), (50, 7));
            assert_eq!(reply.model, "scripted-coder");
        }
        // A rule matches in any message, the system prompt included.
        let critic = ChatRequest::new(vec![
            Message::system("you are the critic"),
            Message::user("x"),
        ]);
        assert_eq!(model.complete(critic).await.unwrap().text, "PASS");
        let error = model.complete(ask("something else")).await.unwrap_err();
        assert!(
            matches!(&error, LlmError::NoRuleMatched { patterns, .. } if patterns.len() == 3),
            "{error}"
        );
        assert_eq!(model.remaining(), None);
        assert_eq!(model.requests().len(), 4);
        assert_eq!(model.usage().snapshot().completion_tokens, 7 + 7 + 1);
    }

    #[tokio::test]
    async fn a_request_past_the_context_window_is_refused_like_a_server_would() {
        let model = ScriptedModel::queue(["fits"]).with_context_tokens(100);
        let long = ChatRequest::new(vec![Message::user("x".repeat(200))]).with_max_tokens(10);
        // 100 estimated prompt tokens + 40 for the template + 10 for the reply > 100.
        let error = model.complete(long).await.unwrap_err();
        assert!(
            matches!(
                error,
                LlmError::ContextExceeded {
                    max_tokens: 10,
                    context_tokens: 100,
                    ..
                }
            ),
            "{error}"
        );
        assert_eq!(model.context_tokens(), 100);
        let short = ChatRequest::new(vec![Message::user("x".repeat(80))]).with_max_tokens(10);
        assert_eq!(model.complete(short).await.unwrap().text, "fits");
        assert_eq!(model.requests().len(), 2);
        assert_eq!(model.usage().snapshot().failed_calls, 1);
    }

    #[tokio::test]
    async fn replies_carry_finish_reason_and_estimated_tokens() {
        let usage = Arc::new(UsageCounter::new());
        let model = ScriptedModel::queue([
            ScriptedReply::new("12345678").with_finish_reason(FinishReason::Length)
        ])
        .with_usage(Arc::clone(&usage));
        let reply = model
            .complete(ChatRequest::new(vec![Message::user("abcdefghi")]))
            .await
            .unwrap();
        assert_eq!(reply.finish_reason, FinishReason::Length);
        assert_eq!((reply.prompt_tokens, reply.completion_tokens), (3, 2));
        assert_eq!(usage.snapshot().total_tokens(), 5);
    }
}
