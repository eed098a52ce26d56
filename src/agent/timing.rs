//! Where an episode's time goes: a [`Clock`] per run of an episode, and scoped
//! [`PhaseTimer`]s that add the time of a phase when they drop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::Exchange;

/// Where an episode's time went, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Wall time of the episode (this run of it, when resumed).
    pub total_ms: f64,
    /// Waiting for the model.
    pub llm_ms: f64,
    /// Model calls.
    pub llm_calls: u32,
    /// Prompt tokens of those calls.
    pub prompt_tokens: u64,
    /// Generated tokens of those calls.
    pub completion_tokens: u64,
    /// Retrieval: embedding the task and searching the index.
    pub retrieval_ms: f64,
    /// Validation: bundling, the skill's tests, dependents, the task's check, dedup.
    pub validation_ms: f64,
    /// Journal writes and the admission transaction.
    pub store_ms: f64,
}

impl Timing {
    /// Everything but the model, as a fraction of the model's time.
    pub fn overhead_ratio(&self) -> Option<f64> {
        (self.llm_ms > 0.0).then(|| (self.total_ms - self.llm_ms).max(0.0) / self.llm_ms)
    }
}

/// The measured phases of an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Waiting for the model.
    Llm,
    /// Embedding and searching.
    Retrieval,
    /// Sandbox runs and dedup.
    Validation,
    /// Journal writes, transactions and the index sync.
    Store,
}

/// The time and model usage of one run of an episode, shared by the timers measuring it.
/// Timers may not nest: each phase's time is its timers' wall time.
#[derive(Debug)]
pub(super) struct Clock {
    started: Instant,
    /// Microseconds per [`Phase`], in declaration order.
    phases: [AtomicU64; 4],
    llm_calls: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
}

impl Clock {
    /// A clock started now.
    pub fn start() -> Arc<Clock> {
        Arc::new(Clock {
            started: Instant::now(),
            phases: Default::default(),
            llm_calls: AtomicU64::new(0),
            prompt_tokens: AtomicU64::new(0),
            completion_tokens: AtomicU64::new(0),
        })
    }

    /// Measures `phase` until the returned timer drops.
    pub fn time(self: &Arc<Self>, phase: Phase) -> PhaseTimer {
        PhaseTimer {
            clock: Arc::clone(self),
            phase,
            started: Instant::now(),
        }
    }

    /// Counts a model call and its tokens (its wait is measured by a [`Phase::Llm`] timer).
    pub fn count(&self, exchange: &Exchange) {
        self.llm_calls.fetch_add(1, Ordering::Relaxed);
        self.prompt_tokens
            .fetch_add(u64::from(exchange.prompt_tokens), Ordering::Relaxed);
        self.completion_tokens
            .fetch_add(u64::from(exchange.completion_tokens), Ordering::Relaxed);
    }

    /// Adds the model usage and phase times of `other`, a run within this one's wall time
    /// (an episode learning a function for this one), so that this run's timing covers it.
    pub fn add(&self, other: &Timing) {
        let micros = |ms: f64| (ms * 1e3) as u64;
        for (phase, ms) in [
            (Phase::Llm, other.llm_ms),
            (Phase::Retrieval, other.retrieval_ms),
            (Phase::Validation, other.validation_ms),
            (Phase::Store, other.store_ms),
        ] {
            self.phases[phase as usize].fetch_add(micros(ms), Ordering::Relaxed);
        }
        self.llm_calls
            .fetch_add(u64::from(other.llm_calls), Ordering::Relaxed);
        self.prompt_tokens
            .fetch_add(other.prompt_tokens, Ordering::Relaxed);
        self.completion_tokens
            .fetch_add(other.completion_tokens, Ordering::Relaxed);
    }

    /// The time and usage so far.
    pub fn timing(&self) -> Timing {
        let ms = |phase: Phase| self.phases[phase as usize].load(Ordering::Relaxed) as f64 / 1e3;
        Timing {
            total_ms: self.started.elapsed().as_secs_f64() * 1e3,
            llm_ms: ms(Phase::Llm),
            llm_calls: u32::try_from(self.llm_calls.load(Ordering::Relaxed)).unwrap_or(u32::MAX),
            prompt_tokens: self.prompt_tokens.load(Ordering::Relaxed),
            completion_tokens: self.completion_tokens.load(Ordering::Relaxed),
            retrieval_ms: ms(Phase::Retrieval),
            validation_ms: ms(Phase::Validation),
            store_ms: ms(Phase::Store),
        }
    }
}

/// Adds the time from its creation to its drop to its phase.
#[must_use = "a timer measures until it is dropped"]
pub(super) struct PhaseTimer {
    clock: Arc<Clock>,
    phase: Phase,
    started: Instant,
}

impl Drop for PhaseTimer {
    fn drop(&mut self) {
        let micros = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.clock.phases[self.phase as usize].fetch_add(micros, Ordering::Relaxed);
    }
}
