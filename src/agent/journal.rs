//! The episode journal's vocabulary: one typed [`JournalEvent`] per step, written by the
//! episode and read back by resume ([`Position::of`]).
//!
//! The store keeps an event as a kind (a plain string) and a JSON payload; an event's kind
//! is its variant's snake-case name and its payload the variant's fields, so journals
//! written before this type existed read back unchanged (their `attempt`, `verdict`, ...
//! payloads have exactly these fields).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::coder::{Feedback, Strategy};
use super::cross_check::{CandidateResult, CrossCheckOutcome};
use super::{AgentError, Exchange, Purpose};
use crate::store::EpisodeEvent;
use crate::validate::TestReport;

/// One step of an episode, as the journal records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JournalEvent {
    /// The skills retrieved for the task.
    Retrieval {
        /// The search text (the task's description).
        query: String,
        /// What the search found, best first.
        skills: Vec<RetrievedSkill>,
    },
    /// One model call.
    LlmCall {
        /// The coder or critic round it belongs to (`None` for the curriculum).
        #[serde(default)]
        round: Option<u32>,
        /// The call.
        #[serde(flatten)]
        exchange: Exchange,
        /// How a coder round asked (first attempt, refinement, fresh start).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strategy: Option<Strategy>,
    },
    /// One round's code as extracted from the coder's reply, or why extraction failed.
    Attempt {
        /// The round.
        round: u32,
        /// The code and the function chosen as the skill, or the extraction error.
        #[serde(flatten)]
        outcome: AttemptOutcome,
    },
    /// The sandbox's report on an attempt.
    SandboxRun {
        /// The round.
        round: u32,
        /// Why the library refused the skill (failing tests, a regression, ...), if it did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rejected: Option<String>,
        /// The skill's own tests (or the failing dependent's, when rejected).
        #[serde(default)]
        tests: Option<TestReport>,
        /// The task's check.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_check: Option<TestReport>,
        /// Dependents re-tested against it.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        dependents: Vec<String>,
    },
    /// The critic's verdict.
    Critique {
        /// The round.
        round: u32,
        /// Whether the critic says the skill does the task.
        success: bool,
        /// Its reasons.
        feedback: String,
    },
    /// The episode's verdict on an attempt (tests, task check, critique together).
    Verdict {
        /// The round.
        round: u32,
        /// Whether the attempt is good enough.
        passed: bool,
        /// What was wrong (or which existing skill it duplicates).
        problems: String,
    },
    /// The skill's own tests failed while the task's check passed: the coder is told these
    /// tests may be wrong. If the next round's code still fails them while passing the
    /// task's check, they are dropped ([`JournalEvent::TestsDropped`]).
    TestsQuestioned {
        /// The round.
        round: u32,
        /// The failing tests.
        tests: Vec<FailedTest>,
    },
    /// Model-written tests that failed in two rounds while the task's check passed, dropped
    /// from the skill before it was validated again; the stored skill keeps only its
    /// passing tests.
    TestsDropped {
        /// The round.
        round: u32,
        /// The tests dropped.
        tests: Vec<FailedTest>,
        /// No test of the skill's own remained, so the task's check became its tests.
        #[serde(default)]
        task_check_as_tests: bool,
    },
    /// A round's code is the same as an earlier round's (whitespace and comments aside, the
    /// same tests): not run again; the next round starts afresh.
    Repeated {
        /// The round.
        round: u32,
        /// The earlier round it repeats.
        of_round: u32,
    },
    /// A skill that passed a check of examples only (an attempt, or a library skill about to
    /// be reused) was cross-checked against independent candidates on probe inputs
    /// (`cross_check.rs`); their model calls are journalled before it as `llm_call`s of the
    /// round with the `cross_check` strategy.
    CrossCheck {
        /// The round whose skill was cross-checked; 0 for a library skill considered for
        /// reuse before the first round.
        round: u32,
        /// Probe inputs run.
        probes: usize,
        /// What each candidate asked for came to, in order.
        candidates: Vec<CandidateResult>,
        /// Tokens the candidates' model calls took (prompt and completion).
        tokens: u64,
        /// How it ended: corroborated, replaced by the candidates' answer, unverified, or
        /// inconclusive.
        outcome: CrossCheckOutcome,
    },
    /// A function the round's code calls and nothing defines, which the task's environment
    /// poses as a task of its own, is learned in episode `episode` (journalled before that
    /// episode runs; its outcome is that episode's).
    Callee {
        /// The round whose code calls it.
        round: u32,
        /// The function.
        name: String,
        /// The episode that learns it.
        episode: String,
    },
    /// An existing skill solves the task (written in the transaction that ends the episode).
    Reuse {
        /// The skill, `namespace/name`.
        skill: String,
    },
    /// What was admitted to the library (written in the admission's transaction).
    Admission {
        /// The skill, `namespace/name`.
        skill: String,
        /// Its new version.
        version: i64,
        /// The library skills it calls.
        calls: Vec<String>,
        /// Dependents re-tested against it.
        dependents_retested: Vec<String>,
        /// The version it replaced, if any.
        replaced: Option<i64>,
    },
    /// A run of the episode stopped on an error (its resume failed, or the model or the
    /// store did); the episode is left `interrupted` for the next run to resume.
    Interrupted {
        /// The error.
        error: String,
    },
    /// Another process took the episode over: the lease of the one running it had expired
    /// (it died, or stopped on an error), and this one resumes it.
    TakenOver {
        /// The instance whose lease expired.
        from: String,
        /// The instance resuming it.
        by: String,
        /// When the expired lease ran out.
        #[serde(default)]
        lease_expired_at: Option<chrono::DateTime<chrono::Utc>>,
    },
}

/// One search hit of a [`JournalEvent::Retrieval`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievedSkill {
    /// `namespace/name`.
    pub name: String,
    /// The fused rank score.
    pub score: f32,
    /// Cosine similarity of the skill's description to the task's (absent in journals
    /// written before it was recorded).
    #[serde(default)]
    pub similarity: Option<f32>,
    /// Whether the coder was shown the skill (see [`AgentConfig::show_similarity`]);
    /// journals written before the gate showed every retrieved skill.
    ///
    /// [`AgentConfig::show_similarity`]: super::AgentConfig::show_similarity
    #[serde(default = "shown_before_the_gate")]
    pub shown: bool,
}

/// What [`RetrievedSkill::shown`] was before the relevance gate existed: every skill shown.
fn shown_before_the_gate() -> bool {
    true
}

/// A model-written test that failed, as the coder and the journal see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedTest {
    /// The test's name (its call, for an `@example`).
    pub name: String,
    /// Why it failed: the assertion message or what the code returned.
    pub failure: String,
}

/// What a round's reply yielded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttemptOutcome {
    /// Code, and the function in it that is the skill.
    Code {
        /// The chosen function: the skill's name. Resume parses `code` for exactly this
        /// function, as the round did.
        skill: String,
        /// The code as cleaned by extraction.
        code: String,
        /// What extraction changed.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        notes: Vec<String>,
    },
    /// Why no skill could be taken from the reply.
    Error {
        /// The extraction error.
        error: String,
    },
}

impl JournalEvent {
    /// The event as the store keeps it: its kind and its payload.
    pub fn record(&self) -> (String, Value) {
        let mut payload = serde_json::to_value(self).expect("a journal event serializes");
        let kind = payload
            .as_object_mut()
            .and_then(|fields| fields.remove("kind"))
            .and_then(|kind| kind.as_str().map(String::from))
            .expect("a journal event has a kind");
        (kind, payload)
    }

    /// Reads a stored event back.
    pub fn from_stored(event: &EpisodeEvent) -> Result<JournalEvent, AgentError> {
        let mut payload = event.payload.clone();
        if let Some(fields) = payload.as_object_mut() {
            fields.insert("kind".into(), Value::String(event.kind.clone()));
        }
        serde_json::from_value(payload).map_err(|e| {
            AgentError::Journal(format!(
                "event {} ({}) of episode {} is not readable: {e}",
                event.seq, event.kind, event.episode_id
            ))
        })
    }
}

/// Work of an unfinished episode's last round that resume takes up without asking the
/// coder again.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Pending {
    /// A coder reply journalled before the attempt taken from it: extract it again.
    Reply {
        /// Its round.
        round: u32,
        /// The reply.
        reply: String,
    },
    /// An attempt journalled and not yet refused or admitted.
    Attempt {
        /// Its round.
        round: u32,
        /// The function the round chose as the skill.
        skill: String,
        /// Its code.
        code: String,
        /// What extraction (or a repair) changed.
        notes: Vec<String>,
    },
}

/// Where an unfinished episode stands, read from its journal.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Position {
    /// The retrieved skills (`None`: retrieval did not finish).
    pub retrieved: Option<Vec<RetrievedSkill>>,
    /// Coder rounds begun.
    pub rounds_done: u32,
    /// The last failed round's feedback.
    pub feedback: Option<Feedback>,
    /// The last round's reply or attempt, when it was neither refused nor admitted.
    pub pending: Option<Pending>,
    /// Names of the tests questioned so far ([`JournalEvent::TestsQuestioned`]).
    pub questioned: Vec<String>,
    /// Every round's code: (round, chosen function, code).
    pub attempts: Vec<(u32, String, String)>,
    /// The earlier round the last round repeated, when it did and no round followed.
    pub repeated: Option<u32>,
    /// How many rounds repeated an earlier one.
    pub repeats: u32,
    /// Functions an episode of their own was started to learn ([`JournalEvent::Callee`]).
    pub callees: Vec<String>,
}

impl Position {
    /// Reads the journal; an event it cannot read is an [`AgentError::Journal`].
    pub fn of(events: &[EpisodeEvent]) -> Result<Position, AgentError> {
        let mut position = Position::default();
        let mut last_reply = String::new();
        for event in events {
            match JournalEvent::from_stored(event)? {
                JournalEvent::Retrieval { skills, .. } => {
                    position.retrieved = Some(skills);
                }
                JournalEvent::LlmCall {
                    round: Some(round),
                    exchange,
                    strategy,
                } if exchange.purpose == Purpose::Coder
                    && !strategy.is_some_and(Strategy::is_cross_check) =>
                {
                    position.repeated = None;
                    position.rounds_done = position.rounds_done.max(round);
                    last_reply = exchange.reply.clone();
                    position.pending = Some(Pending::Reply {
                        round,
                        reply: exchange.reply,
                    });
                }
                JournalEvent::Attempt { round, outcome } => {
                    position.rounds_done = position.rounds_done.max(round);
                    position.pending = match outcome {
                        AttemptOutcome::Code { skill, code, notes } => {
                            position.attempts.push((round, skill.clone(), code.clone()));
                            Some(Pending::Attempt {
                                round,
                                skill,
                                code,
                                notes,
                            })
                        }
                        AttemptOutcome::Error { .. } => None,
                    };
                }
                JournalEvent::TestsQuestioned { tests, .. } => {
                    position
                        .questioned
                        .extend(tests.into_iter().map(|t| t.name));
                }
                JournalEvent::Callee { name, .. } => position.callees.push(name),
                JournalEvent::Repeated { of_round, .. } => {
                    position.repeated = Some(of_round);
                    position.repeats += 1;
                }
                JournalEvent::Verdict {
                    passed: false,
                    problems,
                    ..
                } => {
                    position.pending = None;
                    position.feedback = Some(Feedback {
                        previous_reply: last_reply.clone(),
                        problems,
                    });
                }
                _ => {}
            }
        }
        Ok(position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::FinishReason;
    use serde_json::json;

    fn stored(seq: i64, event: &JournalEvent) -> EpisodeEvent {
        let (kind, payload) = event.record();
        EpisodeEvent {
            id: seq,
            episode_id: "e".into(),
            seq,
            kind,
            payload,
            created_at: chrono::Utc::now(),
        }
    }

    fn coder_call(round: u32, reply: &str) -> JournalEvent {
        JournalEvent::LlmCall {
            round: Some(round),
            exchange: Exchange {
                purpose: Purpose::Coder,
                model: "m".into(),
                messages: Vec::new(),
                reply: reply.into(),
                prompt_tokens: 1,
                completion_tokens: 1,
                latency_ms: 1,
                finish_reason: FinishReason::Stop,
            },
            strategy: None,
        }
    }

    fn attempt(round: u32, skill: &str, code: &str) -> JournalEvent {
        JournalEvent::Attempt {
            round,
            outcome: AttemptOutcome::Code {
                skill: skill.into(),
                code: code.into(),
                notes: Vec::new(),
            },
        }
    }

    fn verdict(round: u32, passed: bool, problems: &str) -> JournalEvent {
        JournalEvent::Verdict {
            round,
            passed,
            problems: problems.into(),
        }
    }

    #[test]
    fn the_journal_says_where_an_episode_stopped() {
        let words = RetrievedSkill {
            name: "default/words".into(),
            score: 0.5,
            similarity: Some(0.7),
            shown: true,
        };
        let retrieval = JournalEvent::Retrieval {
            query: "words".into(),
            skills: vec![words.clone()],
        };
        let journal: Vec<EpisodeEvent> = [
            retrieval.clone(),
            coder_call(1, "first"),
            attempt(1, "f", "function f() {}"),
            verdict(1, false, "f(1) failed"),
            coder_call(2, "second"),
            attempt(2, "g", "function g() {}"),
            verdict(2, true, ""),
        ]
        .iter()
        .enumerate()
        .map(|(i, e)| stored(i as i64 + 1, e))
        .collect();

        // Killed after the first verdict: round 2 starts with its feedback.
        let at = Position::of(&journal[..4]).unwrap();
        assert_eq!(at.retrieved, Some(vec![words]));
        assert_eq!(at.rounds_done, 1);
        assert_eq!(at.pending, None);
        let feedback = at.feedback.unwrap();
        assert_eq!(
            (feedback.previous_reply.as_str(), feedback.problems.as_str()),
            ("first", "f(1) failed")
        );

        // Killed between the reply and its attempt: the reply is taken up again.
        let at = Position::of(&journal[..5]).unwrap();
        assert_eq!(at.rounds_done, 2);
        assert_eq!(
            at.pending,
            Some(Pending::Reply {
                round: 2,
                reply: "second".into()
            })
        );
        // Killed during validation or admission of round 2: that code, and that function,
        // are taken up again.
        let pending = Some(Pending::Attempt {
            round: 2,
            skill: "g".into(),
            code: "function g() {}".into(),
            notes: Vec::new(),
        });
        assert_eq!(Position::of(&journal[..6]).unwrap().pending, pending);
        assert_eq!(Position::of(&journal).unwrap().pending, pending);

        // Killed before retrieval finished: start from scratch.
        assert_eq!(Position::of(&[]).unwrap(), Position::default());
        // An attempt whose reply held no code leaves nothing pending.
        let no_code = JournalEvent::Attempt {
            round: 1,
            outcome: AttemptOutcome::Error {
                error: "no code".into(),
            },
        };
        let at = Position::of(&[stored(1, &retrieval), stored(2, &no_code)]).unwrap();
        assert_eq!((at.pending, at.rounds_done), (None, 1));
    }

    #[test]
    fn a_cross_checks_candidate_is_not_a_round_to_resume() {
        for asked in [Strategy::CrossCheck, Strategy::CrossCheckAnew] {
            a_candidate_asked_so_is_not_a_round_to_resume(asked);
        }
    }

    fn a_candidate_asked_so_is_not_a_round_to_resume(asked: Strategy) {
        let mut candidate = coder_call(1, "another solution");
        if let JournalEvent::LlmCall { strategy, .. } = &mut candidate {
            *strategy = Some(asked);
        }
        let cross_check = JournalEvent::CrossCheck {
            round: 1,
            probes: 12,
            candidates: vec![CandidateResult::Agrees],
            tokens: 2,
            outcome: CrossCheckOutcome::Corroborated,
        };
        let journal: Vec<EpisodeEvent> = [
            coder_call(1, "first"),
            attempt(1, "f", "function f() {}"),
            candidate,
            cross_check.clone(),
        ]
        .iter()
        .enumerate()
        .map(|(i, e)| stored(i as i64 + 1, e))
        .collect();
        // Killed before the admission: round 1's own attempt is taken up again.
        let at = Position::of(&journal).unwrap();
        assert_eq!(at.rounds_done, 1);
        assert_eq!(
            at.pending,
            Some(Pending::Attempt {
                round: 1,
                skill: "f".into(),
                code: "function f() {}".into(),
                notes: Vec::new(),
            })
        );
        assert_eq!(JournalEvent::from_stored(&journal[3]).unwrap(), cross_check);
        assert_eq!(journal[3].payload["outcome"], "corroborated");
        assert_eq!(journal[3].payload["candidates"][0]["result"], "agrees");
    }

    #[test]
    fn resume_reads_back_questioned_tests_attempts_and_a_pending_fresh_start() {
        let failed = FailedTest {
            name: "f([])".into(),
            failure: "expected 0, got null".into(),
        };
        let journal: Vec<EpisodeEvent> = [
            coder_call(1, "first"),
            attempt(1, "f", "function f() {}"),
            JournalEvent::TestsQuestioned {
                round: 1,
                tests: vec![failed],
            },
            verdict(1, false, "may be wrong"),
            coder_call(2, "first"),
            attempt(2, "f", "function f() {}"),
            JournalEvent::Repeated {
                round: 2,
                of_round: 1,
            },
            verdict(2, false, "repeated round 1"),
        ]
        .iter()
        .enumerate()
        .map(|(i, e)| stored(i as i64 + 1, e))
        .collect();
        let at = Position::of(&journal).unwrap();
        assert_eq!(at.questioned, ["f([])"]);
        assert_eq!(at.attempts.len(), 2);
        assert_eq!(at.repeated, Some(1));
        // Once the next coder call is journalled, the fresh start is no longer pending.
        let mut more = journal.clone();
        more.push(stored(9, &coder_call(3, "third")));
        let later = Position::of(&more).unwrap();
        assert_eq!(later.repeated, None);
        // The repeat still counts against the episode's allowance after a resume.
        assert_eq!((at.repeats, later.repeats), (1, 1));
    }

    #[test]
    fn events_keep_the_stored_shape_and_unreadable_ones_are_errors() {
        let (kind, payload) = attempt(3, "double", "function double(x) {}").record();
        assert_eq!(kind, "attempt");
        assert_eq!(
            payload,
            json!({"round": 3, "skill": "double", "code": "function double(x) {}"})
        );
        let (kind, payload) = coder_call(1, "hi").record();
        assert_eq!((kind.as_str(), &payload["round"]), ("llm_call", &json!(1)));
        assert_eq!(payload["purpose"], "coder");

        let event = |kind: &str, payload: Value| EpisodeEvent {
            id: 1,
            episode_id: "e".into(),
            seq: 1,
            kind: kind.into(),
            payload,
            created_at: chrono::Utc::now(),
        };
        // A journal written before the typed events reads back.
        let old = event(
            "attempt",
            json!({"round": 1, "skill": "f", "code": "function f() {}", "notes": []}),
        );
        assert_eq!(
            JournalEvent::from_stored(&old).unwrap(),
            attempt(1, "f", "function f() {}")
        );
        let failed = event("attempt", json!({"round": 2, "error": "no code"}));
        assert!(matches!(
            JournalEvent::from_stored(&failed).unwrap(),
            JournalEvent::Attempt {
                round: 2,
                outcome: AttemptOutcome::Error { .. }
            }
        ));
        for bad in [
            event("attempt", json!({"round": "one"})),
            event("no_such_kind", json!({})),
            event("verdict", json!([1, 2])),
        ] {
            let error = JournalEvent::from_stored(&bad).unwrap_err();
            assert!(
                error.to_string().contains("is not readable"),
                "{bad:?}: {error}"
            );
        }
    }
}
