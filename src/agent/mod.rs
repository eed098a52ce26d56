//! The learning agent: [`Agent`] runs episodes (retrieval, writing, validation, refinement,
//! admission; see `episode.rs`) over its parts: tasks, environments, the prompts, the
//! curriculum, the coder and the critic (each one LLM call, journalled as an [`Exchange`]),
//! and [`extract`], which turns a model's messy reply into a [`SkillSource`] or an error the
//! model can act on. Every step is journalled as a typed [`JournalEvent`] (`journal.rs`),
//! which resume reads back (`resume.rs`); which retrieved skills the coder is shown is
//! `relevance.rs`, the duplicate policy `dedup.rs`, the repair of a call to a name nothing
//! defines `repair.rs`, the
//! cross-check of checks made only of examples `cross_check.rs`, the time accounting
//! `timing.rs`, the leases of the episodes an agent drives `lease.rs`.
//!
//! [`SkillSource`]: crate::skill::SkillSource

mod budget;
mod coder;
mod critic;
mod cross_check;
mod curriculum;
mod dedup;
mod environment;
mod episode;
mod evidence;
mod examples;
mod external;
mod extract;
mod journal;
mod json;
mod lease;
mod prompts;
mod relevance;
mod repair;
mod resume;
mod task;
mod timing;

pub use coder::{
    Attempt, Feedback, Refinement, SkillBrief, Strategy, coder_messages, coder_request,
    fitted_coder_messages, skill_from_reply, write_skill, write_skill_with,
};
pub use critic::{Critique, Critiqued, critique};
pub use cross_check::{CandidateResult, CrossCheck, CrossCheckOutcome, Disagreement};
pub use curriculum::{CurriculumState, LibraryEntry, MAX_PROPOSAL_ATTEMPTS, Proposal, propose};
pub use environment::{CodeEnvironment, Environment, check_passed};
pub use episode::{Agent, AgentConfig, EpisodeReport, Observer, Progress};
pub use examples::{SkippedExample, TextExample, TextExamples, examples_in};
pub use external::ExternalEnvironment;
pub use extract::{ExtractError, Extracted, extract, extract_with_check};
pub use journal::{AttemptOutcome, FailedTest, JournalEvent, RetrievedSkill};
pub use lease::EpisodeLease;
pub use prompts::report_summary;
pub use task::{Stub, Task, TaskError, headline};
pub use timing::Timing;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::llm::{ChatRequest, FinishReason, LanguageModel, LlmError, Message};

/// The histogram of model calls' latency in seconds (retries included), labelled by
/// `purpose`, recorded through the `metrics` facade.
pub const METRIC_LLM_SECONDS: &str = "skillforge_llm_call_seconds";
/// The counter of model tokens, labelled by `purpose` and `kind` (`prompt`, `completion`).
pub const METRIC_LLM_TOKENS: &str = "skillforge_llm_tokens_total";

/// Which part of the agent made a model call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Proposing a task.
    Curriculum,
    /// Writing or refining a skill.
    Coder,
    /// Judging a skill.
    Critic,
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Curriculum => "curriculum",
            Self::Coder => "coder",
            Self::Critic => "critic",
        })
    }
}

/// One model call as the journal records it (the payload of an `llm_call` event): enough to
/// replay the prompt and audit the cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// Which part of the agent asked.
    pub purpose: Purpose,
    /// The model that answered, as it names itself.
    pub model: String,
    /// The prompt, oldest message first.
    pub messages: Vec<Message>,
    /// The reply's text.
    pub reply: String,
    /// Prompt tokens, as counted by the server.
    pub prompt_tokens: u32,
    /// Generated tokens, as counted by the server.
    pub completion_tokens: u32,
    /// Wall time of the call, retries included, in milliseconds.
    pub latency_ms: u64,
    /// Why generation stopped (`Length`: the reply is cut off).
    pub finish_reason: FinishReason,
}

impl Exchange {
    /// Sends `request` to `model` and records the exchange.
    pub async fn run(
        model: &dyn LanguageModel,
        purpose: Purpose,
        request: ChatRequest,
    ) -> Result<Exchange, AgentError> {
        let messages = request.messages.clone();
        let response = model
            .complete(request)
            .await
            .map_err(|source| AgentError::Llm { purpose, source })?;
        // For whoever installed a `metrics` recorder (the daemon's /metrics); a no-op else.
        let purpose_label = purpose.to_string();
        metrics::histogram!(METRIC_LLM_SECONDS, "purpose" => purpose_label.clone())
            .record(response.latency.as_secs_f64());
        metrics::counter!(METRIC_LLM_TOKENS, "purpose" => purpose_label.clone(), "kind" => "prompt")
            .increment(u64::from(response.prompt_tokens));
        metrics::counter!(METRIC_LLM_TOKENS, "purpose" => purpose_label, "kind" => "completion")
            .increment(u64::from(response.completion_tokens));
        Ok(Exchange {
            purpose,
            model: response.model,
            messages,
            reply: response.text,
            prompt_tokens: response.prompt_tokens,
            completion_tokens: response.completion_tokens,
            latency_ms: u64::try_from(response.latency.as_millis()).unwrap_or(u64::MAX),
            finish_reason: response.finish_reason,
        })
    }
}

/// Errors of the agent's parts. Model replies that cannot be used are errors only after the
/// retries a part makes itself; the exchanges are kept so the journal still records them.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The model call itself failed (network, server, configuration).
    #[error("the {purpose} model call failed: {source}")]
    Llm {
        /// Which part of the agent asked.
        purpose: Purpose,
        /// The model's error.
        #[source]
        source: LlmError,
    },
    /// A prompt template did not render: a bug in the prompt files, not in the model.
    #[error("the prompt {name} does not render: {source}; fix the template in prompts/")]
    Prompt {
        /// The template's file name.
        name: &'static str,
        /// The template engine's error.
        #[source]
        source: minijinja::Error,
    },
    /// The curriculum gave no usable task.
    #[error(
        "the curriculum proposed no usable task in {attempts} attempts (last problem: {last}); \
         try again, give the task yourself, or use a stronger model"
    )]
    NoTask {
        /// Model calls made.
        attempts: u32,
        /// What was wrong with the last reply.
        last: String,
        /// Every call made, for the journal.
        exchanges: Vec<Exchange>,
    },
    /// The library failed (store, index, embedder or sandbox), not the skill.
    #[error(transparent)]
    Library(#[from] crate::library::LibraryError),
    /// The episode journal could not be written or read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The sandbox could not run a check.
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    /// An episode's journal does not say what the agent needs to resume it.
    #[error("cannot resume: {0}")]
    Journal(String),
    /// A prompt does not fit the model's context window even cut down as far as it goes.
    #[error(
        "the {purpose} prompt takes {tokens} tokens even cut down, more than the {budget} that the \
         model's context of {context} tokens leaves after room for the reply; use a model with a \
         larger context (--llm-context-tokens for an endpoint) or a shorter task"
    )]
    PromptTooLong {
        /// Which part of the agent asked.
        purpose: Purpose,
        /// Tokens of the shortest prompt tried.
        tokens: u32,
        /// Tokens the prompt may take.
        budget: u32,
        /// The model's context window.
        context: u32,
    },
    /// Another process holds the episode's lease now (this one's expired and it was taken
    /// over): this process stopped driving it and writes nothing more to it.
    #[error(
        "episode {episode} is run by {holder} now (this process's lease on it ran out and it \
         was taken over); stopped here"
    )]
    LeaseLost {
        /// The episode.
        episode: String,
        /// Who holds it (`nobody` once it is finished).
        holder: String,
    },
    /// The critic's reply held no verdict. The critic is advisory: carry on without it.
    #[error("the critic's reply is not a verdict ({detail}); continue without the critique")]
    NoVerdict {
        /// What was wrong.
        detail: String,
        /// The call, for the journal.
        exchange: Box<Exchange>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ScriptedModel;

    #[tokio::test]
    async fn exchange_records_the_call_and_serializes_as_a_payload() {
        let model =
            ScriptedModel::queue([crate::llm::ScriptedReply::new("hello").with_tokens(7, 2)])
                .with_model_id("tiny");
        let request = ChatRequest::new(vec![Message::system("s"), Message::user("u")]);
        let exchange = Exchange::run(&model, Purpose::Coder, request)
            .await
            .unwrap();
        assert_eq!(exchange.reply, "hello");
        assert_eq!(exchange.model, "tiny");
        assert_eq!((exchange.prompt_tokens, exchange.completion_tokens), (7, 2));
        assert_eq!(exchange.messages.len(), 2);
        let payload = serde_json::to_value(&exchange).unwrap();
        assert_eq!(payload["purpose"], "coder");
        assert_eq!(payload["messages"][1]["content"], "u");
        assert_eq!(payload["finish_reason"], "Stop");
        let back: Exchange = serde_json::from_value(payload).unwrap();
        assert_eq!(back, exchange);

        let error = Exchange::run(&model, Purpose::Critic, ChatRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(
            error,
            AgentError::Llm {
                purpose: Purpose::Critic,
                ..
            }
        ));
        assert!(
            error
                .to_string()
                .starts_with("the critic model call failed")
        );
    }
}
