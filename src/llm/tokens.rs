//! Counting a prompt's tokens: exactly, with the tokenizer of a llama.cpp server, or by a
//! conservative estimate for endpoints that expose no tokenizer.

use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use super::error::LlmError;
use super::types::Message;

/// The context window assumed for a model that does not say otherwise, in tokens: the local
/// model's, and small enough for any chat model of today.
pub const DEFAULT_CONTEXT_TOKENS: u32 = 4096;

/// Tokens the chat template adds around each message (`<|im_start|>role\n` ... `<|im_end|>\n`
/// is 5 for Qwen; other templates are similar), counted generously.
const TEMPLATE_TOKENS_PER_MESSAGE: u32 = 8;
/// Tokens a chat template adds once (a default system prompt, the reply's opening).
const TEMPLATE_TOKENS_PER_PROMPT: u32 = 32;

/// A conservative estimate of the tokens `messages` take as a prompt, for models whose
/// tokenizer cannot be asked: one token per 2 bytes of UTF-8, plus the chat template's
/// overhead. BPE tokenizers of current chat models (Qwen, Llama, GPT) average 3 to 4 bytes per
/// token on English and code, so this over-counts by 1.5 to 2 times: a prompt it admits fits,
/// at the cost of unused room. Text of mostly rare characters can exceed it.
pub fn estimate_prompt_tokens(messages: &[Message]) -> u32 {
    let bytes: usize = messages.iter().map(|m| m.content.len()).sum();
    let count = u32::try_from(messages.len()).unwrap_or(u32::MAX);
    u32::try_from(bytes.div_ceil(2))
        .unwrap_or(u32::MAX)
        .saturating_add(count.saturating_mul(TEMPLATE_TOKENS_PER_MESSAGE))
        .saturating_add(TEMPLATE_TOKENS_PER_PROMPT)
}

/// The tokenizer of a running llama.cpp server: the chat template is applied by the server
/// (`POST /apply-template`) and the result tokenized by it (`POST /tokenize`), so the count is
/// the prompt tokens the server will see.
#[derive(Debug, Clone)]
pub struct LlamaCppTokenizer {
    http: reqwest::Client,
    root_url: String,
}

#[derive(Deserialize)]
struct Template {
    prompt: String,
}

#[derive(Deserialize)]
struct Tokens {
    tokens: Vec<serde_json::Value>,
}

impl LlamaCppTokenizer {
    /// The tokenizer of the server at `root_url` (`http://host:port`, without `/v1`).
    pub fn new(root_url: impl Into<String>) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(LlmError::Client)?;
        Ok(Self {
            http,
            root_url: root_url.into().trim_end_matches('/').to_string(),
        })
    }

    /// The prompt tokens of `messages`, as the server counts them.
    pub async fn count(&self, messages: &[Message]) -> Result<u32, LlmError> {
        let template: Template = self
            .post("apply-template", json!({ "messages": messages }))
            .await?;
        let tokens: Tokens = self
            .post(
                "tokenize",
                json!({ "content": template.prompt, "add_special": true }),
            )
            .await?;
        Ok(u32::try_from(tokens.tokens.len()).unwrap_or(u32::MAX))
    }

    async fn post<T: for<'de> Deserialize<'de>>(
        &self,
        endpoint: &str,
        body: serde_json::Value,
    ) -> Result<T, LlmError> {
        let url = format!("{}/{endpoint}", self.root_url);
        let failed = |detail: String| LlmError::Tokenizer {
            url: url.clone(),
            detail,
        };
        let response = self
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        if !status.is_success() {
            return Err(failed(format!("HTTP {status}")));
        }
        response
            .json()
            .await
            .map_err(|e| failed(format!("unexpected reply: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_counts_two_bytes_a_token_plus_the_template() {
        let messages = [Message::system("abcd"), Message::user("é")];
        // 4 + 2 bytes -> 3 tokens, 2 messages -> 16, once -> 32.
        assert_eq!(estimate_prompt_tokens(&messages), 3 + 16 + 32);
        assert_eq!(estimate_prompt_tokens(&[]), 32);
    }
}
