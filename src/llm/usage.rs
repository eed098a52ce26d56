//! Token and latency accounting shared between a model and its callers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Counts calls, tokens and latency; share it in an `Arc` and read it with [`snapshot`].
///
/// [`snapshot`]: UsageCounter::snapshot
#[derive(Debug, Default)]
pub struct UsageCounter {
    calls: AtomicU64,
    failed_calls: AtomicU64,
    retries: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    latency_micros: AtomicU64,
}

/// The counters of a [`UsageCounter`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsageSnapshot {
    /// Calls that returned a response.
    pub calls: u64,
    /// Calls that returned an error.
    pub failed_calls: u64,
    /// Attempts beyond the first, over all calls.
    pub retries: u64,
    /// Prompt tokens over all successful calls.
    pub prompt_tokens: u64,
    /// Generated tokens over all successful calls.
    pub completion_tokens: u64,
    /// Wall time over all calls, successful or not, retries included.
    pub total_latency: Duration,
}

impl UsageCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a successful call.
    pub fn record_success(
        &self,
        prompt_tokens: u32,
        completion_tokens: u32,
        latency: Duration,
        attempts: u32,
    ) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.prompt_tokens
            .fetch_add(u64::from(prompt_tokens), Ordering::Relaxed);
        self.completion_tokens
            .fetch_add(u64::from(completion_tokens), Ordering::Relaxed);
        self.add_latency_and_retries(latency, attempts);
    }

    /// Records a call that ended in an error.
    pub fn record_failure(&self, latency: Duration, attempts: u32) {
        self.failed_calls.fetch_add(1, Ordering::Relaxed);
        self.add_latency_and_retries(latency, attempts);
    }

    fn add_latency_and_retries(&self, latency: Duration, attempts: u32) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_micros.fetch_add(micros, Ordering::Relaxed);
        self.retries
            .fetch_add(u64::from(attempts.saturating_sub(1)), Ordering::Relaxed);
    }

    /// The current values.
    pub fn snapshot(&self) -> UsageSnapshot {
        UsageSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            failed_calls: self.failed_calls.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            prompt_tokens: self.prompt_tokens.load(Ordering::Relaxed),
            completion_tokens: self.completion_tokens.load(Ordering::Relaxed),
            total_latency: Duration::from_micros(self.latency_micros.load(Ordering::Relaxed)),
        }
    }
}

impl UsageSnapshot {
    /// Prompt plus generated tokens.
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}
