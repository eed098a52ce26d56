//! Reproducible sampling: a model whose requests carry a sampling seed derived from a base seed
//! and the request itself.
//!
//! The seed of a request is a hash of the base seed, the request (messages and options) and how
//! many times this wrapper has sent that same request before. So a run repeated with the same
//! base seed gets the same replies from a server that honours `seed` (llama.cpp's does; OpenAI
//! treats it as best effort), whatever order unrelated calls come in; the same request asked
//! again within a run (a second cross-check candidate) is sampled anew; and two wrappers with
//! the same base seed give a request that both send the same reply, which lets the two arms of
//! an evaluation share their random numbers wherever their prompts agree.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::error::LlmError;
use super::types::{ChatRequest, ChatResponse, LanguageModel, Message};
use super::usage::UsageCounter;

/// Distinct requests remembered for their repeat count; past this the counts start over (a
/// repeat then may get an earlier reply's seed), which bounds a daemon's memory.
const REMEMBERED_REQUESTS: usize = 1 << 16;

/// A model whose requests carry a seed derived from `seed` (see the module documentation).
pub struct SeededModel {
    inner: Arc<dyn LanguageModel>,
    seed: u32,
    sent: Mutex<HashMap<u64, u32>>,
}

impl SeededModel {
    /// `inner`, its requests seeded from `seed`; a request that sets its own seed keeps it.
    pub fn new(inner: Arc<dyn LanguageModel>, seed: u32) -> Self {
        Self {
            inner,
            seed,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// `model` behind a new [`SeededModel`] if there is a `seed`, else `model` itself.
    pub fn over(model: Arc<dyn LanguageModel>, seed: Option<u32>) -> Arc<dyn LanguageModel> {
        match seed {
            Some(seed) => Arc::new(SeededModel::new(model, seed)),
            None => model,
        }
    }

    /// The seed of `req`, the `repeat`-th time it is sent (0 the first).
    fn seed_of(&self, req: &ChatRequest) -> u32 {
        let key = request_hash(req);
        let repeat = {
            let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
            if sent.len() >= REMEMBERED_REQUESTS && !sent.contains_key(&key) {
                sent.clear();
            }
            let count = sent.entry(key).or_insert(0);
            let repeat = *count;
            *count += 1;
            repeat
        };
        let mut bytes = Vec::with_capacity(16);
        bytes.extend_from_slice(&self.seed.to_le_bytes());
        bytes.extend_from_slice(&key.to_le_bytes());
        bytes.extend_from_slice(&repeat.to_le_bytes());
        // llama.cpp reads the seed as a 32-bit unsigned integer.
        xxhash_rust::xxh3::xxh3_64(&bytes) as u32
    }
}

/// A hash of everything in `req` that shapes the reply.
fn request_hash(req: &ChatRequest) -> u64 {
    // A request always serialises (strings, numbers and a JSON schema value).
    let bytes = serde_json::to_vec(req).unwrap_or_default();
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

#[async_trait]
impl LanguageModel for SeededModel {
    async fn complete(&self, mut req: ChatRequest) -> Result<ChatResponse, LlmError> {
        if req.seed.is_none() {
            req.seed = Some(self.seed_of(&req));
        }
        self.inner.complete(req).await
    }

    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn usage(&self) -> Arc<UsageCounter> {
        self.inner.usage()
    }

    fn context_tokens(&self) -> u32 {
        self.inner.context_tokens()
    }

    fn continues_prefill(&self) -> bool {
        self.inner.continues_prefill()
    }

    async fn count_tokens(&self, messages: &[Message]) -> Result<u32, LlmError> {
        self.inner.count_tokens(messages).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ScriptedModel;

    /// The seeds a scripted model was sent, in order.
    async fn seeds_sent(
        model: &SeededModel,
        scripted: &ScriptedModel,
        requests: &[ChatRequest],
    ) -> Vec<Option<u32>> {
        for req in requests {
            model.complete(req.clone()).await.unwrap();
        }
        scripted.requests().iter().map(|r| r.seed).collect()
    }

    #[tokio::test]
    async fn the_same_request_gets_the_same_seed_in_another_run_and_a_new_one_when_repeated() {
        let a = ChatRequest::new(vec![Message::user("a")]).with_temperature(0.8);
        let b = ChatRequest::new(vec![Message::user("b")]).with_temperature(0.8);
        let run = |seed: u32, requests: Vec<ChatRequest>| async move {
            let scripted = Arc::new(ScriptedModel::queue(vec!["x"; requests.len()]));
            let model = SeededModel::new(scripted.clone(), seed);
            seeds_sent(&model, &scripted, &requests).await
        };

        let first = run(7, vec![a.clone(), a.clone(), b.clone()]).await;
        assert!(first.iter().all(Option::is_some), "{first:?}");
        // A repeat within the run is sampled anew.
        assert_ne!(first[0], first[1]);
        // Another run with the same base seed: the same seeds, whatever came before.
        let second = run(7, vec![b.clone(), a.clone(), a.clone()]).await;
        assert_eq!(second, vec![first[2], first[0], first[1]]);
        // Another base seed, other seeds; any other option, another seed.
        let other = run(8, vec![a.clone()]).await;
        assert_ne!(other[0], first[0]);
        let hotter = run(7, vec![a.clone().with_temperature(1.0)]).await;
        assert_ne!(hotter[0], first[0]);
        // A request's own seed is kept.
        let own = run(7, vec![a.clone().with_seed(42)]).await;
        assert_eq!(own, vec![Some(42)]);
    }
}
