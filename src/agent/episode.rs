//! The episode loop: retrieve, write, validate, refine, admit; every step journalled, and
//! resumable after a crash.
//!
//! One episode is one attempt at one task:
//! 1. **Retrieval**: the library's hybrid search for the task (active skills of the task's
//!    namespace). When the task has a programmatic check, each retrieved skill is first tried
//!    as the solution (the environment binds the task's name to it); one that passes solves
//!    the task with nothing new (`solved_with_existing`).
//! 2. **Rounds** (up to [`AgentConfig::max_rounds`], plus up to
//!    [`AgentConfig::repeat_allowance`] rounds whose reply repeated an earlier round's and
//!    was refused unrun): the coder writes a skill seeing the
//!    retrieved skills; the library validates it (its own tests, and the skills that call it
//!    when it replaces a version); the environment checks the task; the critic judges a
//!    task that has no check. Any problem goes back to the coder as feedback. A skill that
//!    passes a check made only of examples is cross-checked against independent candidates
//!    (`cross_check.rs`) before it counts as verified.
//! 3. **Dedup** (`dedup.rs`): an exact or near duplicate that does the job is reused
//!    instead.
//! 4. **Admission**, in one SQL transaction: the version and its call edges
//!    ([`Library::write`]), the stats of the skills it calls, the `admission` event and the
//!    episode's final status. Then the index is synced from the outbox.
//!
//! Every step is appended to the journal (`journal.rs`) before the next one starts. A crash
//! at any point leaves the episode open with a prefix of its journal, and a half-done
//! admission is rolled back by the database; `resume.rs` takes it up from there. Time goes
//! to a per-run clock through scoped timers (`timing.rs`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::coder::{
    Feedback, Refinement, SkillBrief, Strategy, skill_from_reply, write_skill_with,
};
use super::critic::{Critiqued, critique};
use super::cross_check::{Corroboration, CrossCheck};
use super::curriculum::{CurriculumState, LibraryEntry, Proposal, propose};
use super::environment::{Environment, check_passed};
use super::evidence::{critic_says_no, fingerprint, reply_fingerprint};
use super::external::WORLD_AT_START;
use super::extract::{ExtractError, Extracted};
use super::journal::{AttemptOutcome, JournalEvent, Pending, Position, RetrievedSkill};
use super::prompts::{
    only_undefined_names, report_summary, undefined_names, undefined_names_explained,
};
use super::relevance;
use super::repair::repaired_in;
use super::task::Task;
use super::timing::{Clock, Phase, Timing};
use super::{AgentError, Exchange, Purpose};
use crate::compose::Bundle;
use crate::index::SearchFilter;
use crate::library::{
    AddOptions, DEFAULT_NAMESPACE, Library, LibraryError, Prepared, parse_stored,
};
use crate::llm::{LanguageModel, LlmError};
use crate::skill::SkillSource;
use crate::store::{
    CallOutcome, EpisodeSource, EpisodeStatus, ListFilter, NewEpisode, Provenance, Skill,
    SkillStatus,
};
use crate::validate::TestReport;

/// How the agent works. Plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// Most coder rounds per episode (the first attempt included).
    pub max_rounds: u32,
    /// Skills retrieved for the coder.
    pub retrieve: usize,
    /// Ask the critic about tasks without a programmatic check (a passed check decides).
    pub critic: bool,
    /// Cosine similarity of descriptions above which a behavioural duplicate check runs.
    pub duplicate_similarity: f32,
    /// Episodes in a row whose task the curriculum could not propose before `run` gives up.
    pub max_curriculum_failures: u32,
    /// Runs of an episode that may stop on an error (see [`Agent::resume_unfinished`])
    /// before it is abandoned as `failed`.
    pub max_interruptions: u32,
    /// Cosine similarity of a library skill's description to a task's below which the skill
    /// is never reused for a task that has no programmatic check (see `evidence.rs`).
    pub reuse_similarity: f32,
    /// Cosine similarity of a retrieved skill's description to the task's from which the
    /// coder is shown the skill (if an environment posed the task, its text must also mention
    /// the words of the skill's name: `relevance.rs`); a skill the task names is always shown. Other skills are
    /// still tried against the task's check, but kept out of the prompt, where an unrelated
    /// skill distracts a small model (see `docs/benchmarks.md`).
    pub show_similarity: f32,
    /// Rounds that do not count against `max_rounds` because their reply repeated an
    /// earlier round's (refused unrun; the next round starts afresh), at most this many per
    /// episode: a small model often answers a refinement with the same code, and that
    /// round would otherwise be lost (see `docs/benchmarks.md`).
    pub repeat_allowance: u32,
    /// How a skill whose task's check is only examples is cross-checked against independent
    /// candidates before it counts as verified (`cross_check.rs`; [`CrossCheck::off`] to
    /// admit on the examples alone).
    pub cross_check: CrossCheck,
    /// How a round after a failed one asks again: with the previous code and its problems,
    /// with the problems alone, or as the first round did.
    pub refinement: Refinement,
    /// Learn a function a round's code calls that nothing defines, when the task's
    /// environment poses it as a task of its own ([`Task::name_worlds`]): in an episode of
    /// that world, before the code is checked, which then runs with it from the library
    /// (as-needed decomposition, as in ADaPT). Off by default: with the 1.5B model on
    /// TextCraft it learned the worked example's `craftOakPlanks()`, which later skills then
    /// called where they needed other planks (7 goals against 8 without; docs/benchmarks.md).
    pub learn_callees: bool,
    /// Judge a round's code once more when it was refused only for calling names nothing
    /// defines, each renamed to the retrieved skill whose name is closest, for a task with a
    /// check (`repair.rs`).
    pub repair: bool,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            max_rounds: 4,
            retrieve: 3,
            critic: true,
            duplicate_similarity: 0.9,
            max_curriculum_failures: 3,
            max_interruptions: 3,
            reuse_similarity: 0.8,
            show_similarity: 0.5,
            repeat_allowance: 2,
            cross_check: CrossCheck::default(),
            refinement: Refinement::default(),
            learn_callees: false,
            repair: true,
        }
    }
}

/// What an episode came to (also stored as the episode's outcome).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeReport {
    /// The episode id.
    pub episode: String,
    /// `admitted`, `solved_with_existing` or `failed`.
    pub status: EpisodeStatus,
    /// The task.
    pub task: Task,
    /// The skill that solves it (`namespace/name`), admitted or reused.
    pub skill: Option<String>,
    /// Its version.
    pub version: Option<i64>,
    /// The library skills it calls.
    pub calls: Vec<String>,
    /// The skills retrieved for the task.
    pub retrieved: Vec<String>,
    /// Coder rounds used.
    pub rounds: u32,
    /// What was wrong with the last attempt, when the episode failed.
    pub problems: Option<String>,
    /// Whether this run continued an episode found unfinished.
    pub resumed: bool,
    /// Why the admitted or reused skill is unverified although the task had a check of
    /// examples: an independent candidate that passes the same check behaved otherwise (an
    /// admitted skill), or none could be had to corroborate it (`cross_check.rs`). An
    /// admitted one is marked unchecked in the library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unverified: Option<String>,
    /// Skills admitted in episodes of their own (`namespace/name`), each for a function this
    /// episode's code called before anything defined it (see [`AgentConfig::learn_callees`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learned: Vec<String>,
    /// What the runtime renamed in the code the episode ended with: its round's code was
    /// refused for calling names nothing defines, and passed with the closest retrieved
    /// skills' names in their place (`repair.rs`), e.g. "`craftBirchPlanks` called where it
    /// called `craftOakPlanks`".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repaired: Option<String>,
    /// Where the time went (a learned function's episode included).
    pub timing: Timing,
}

/// What the agent is doing, for a progress display.
#[derive(Debug, Clone)]
pub enum Progress {
    /// An episode starts (or resumes).
    Episode {
        /// Its id.
        id: String,
        /// The task's description.
        task: String,
        /// Whether it resumes an unfinished episode.
        resumed: bool,
    },
    /// A coder round starts.
    Round {
        /// 1-based round.
        round: u32,
        /// The most rounds.
        max: u32,
    },
    /// A model call returned.
    Model {
        /// Which part asked.
        purpose: Purpose,
        /// Its prompt tokens.
        prompt_tokens: u32,
        /// Its generated tokens.
        completion_tokens: u32,
    },
    /// An episode finished.
    Finished(Box<EpisodeReport>),
}

/// Receives [`Progress`] as the agent works.
pub type Observer = Arc<dyn Fn(&Progress) + Send + Sync>;

/// The learning agent: a library, a model and an environment.
pub struct Agent {
    pub(super) library: Arc<Library>,
    pub(super) model: Arc<dyn LanguageModel>,
    pub(super) env: Arc<dyn Environment>,
    pub(super) config: AgentConfig,
    /// The model asked for cross-check candidates, when not `model` (`cross_check.rs`).
    pub(super) cross_check_model: Option<Arc<dyn LanguageModel>>,
    observer: Option<Observer>,
    /// The lease this agent holds on the episodes it drives (`lease.rs`).
    pub(super) lease: Option<super::EpisodeLease>,
}

/// The outcome of validating one attempt.
pub(super) enum Verdict {
    /// Ready to admit.
    Pass(Box<Prepared>),
    /// Not good enough: what to tell the coder.
    Retry(String),
    /// An existing skill does the job.
    Existing(Box<Skill>),
}

/// An episode being driven.
pub(super) struct Run {
    pub id: String,
    pub task: Task,
    pub namespace: String,
    pub retrieved: Vec<Skill>,
    /// The retrieved skills the coder is shown.
    pub shown: Vec<Skill>,
    pub rounds: u32,
    pub resumed: bool,
    pub clock: Arc<Clock>,
    /// Names of model-written tests questioned so far (`evidence.rs`).
    pub questioned: Vec<String>,
    /// Each round's code fingerprint (`evidence.rs`), to detect a repeat.
    pub fingerprints: Vec<(u32, String)>,
    /// The earlier round the last round repeated: the next round starts afresh.
    pub repeated: Option<u32>,
    /// Rounds so far that repeated an earlier one.
    pub repeats: u32,
    /// Why the skill about to be admitted is unverified, when a cross-check said so.
    pub unverified: Option<String>,
    /// Functions an episode of their own was started to learn ([`Agent::learn_callees`]).
    pub callees: Vec<String>,
    /// The skills those episodes admitted (`namespace/name`).
    pub learned: Vec<String>,
    /// The names the last refused attempt's tests found undefined, when that was all that
    /// failed: what a repair may rename (`repair.rs`).
    pub undefined: Vec<String>,
    /// What a repair renamed in the code of the attempt that passed (`repair.rs`).
    pub repaired: Option<String>,
}

impl Run {
    pub fn new(id: String, task: Task, rounds: u32, resumed: bool, clock: Arc<Clock>) -> Run {
        Run {
            id,
            namespace: task
                .namespace
                .clone()
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string()),
            task,
            retrieved: Vec::new(),
            shown: Vec::new(),
            rounds,
            resumed,
            clock,
            questioned: Vec::new(),
            fingerprints: Vec::new(),
            repeated: None,
            repeats: 0,
            unverified: None,
            callees: Vec::new(),
            learned: Vec::new(),
            undefined: Vec::new(),
            repaired: None,
        }
    }

    /// The rounds this episode may take: the configured ones, plus a round for each
    /// repeated one within the allowance.
    fn round_limit(&self, config: &AgentConfig) -> u32 {
        config.max_rounds + self.repeats.min(config.repeat_allowance)
    }
}

/// How an episode ends.
struct Ending {
    status: EpisodeStatus,
    skill: Option<(String, i64)>,
    calls: Vec<String>,
    problems: Option<String>,
}

impl Agent {
    /// An agent working on `library` with `model` in `env`.
    pub fn new(
        library: Arc<Library>,
        model: Arc<dyn LanguageModel>,
        env: Arc<dyn Environment>,
        config: AgentConfig,
    ) -> Agent {
        Agent {
            library,
            model,
            env,
            config,
            cross_check_model: None,
            observer: None,
            lease: None,
        }
    }

    /// Asks `model` instead of the coder's model for the independent candidates that
    /// cross-check a skill (`cross_check.rs`): samples of one model can share a mistake, a
    /// second model's are less likely to share it. `None` keeps the coder's model.
    pub fn with_cross_check_model(mut self, model: Option<Arc<dyn LanguageModel>>) -> Agent {
        self.cross_check_model = model;
        self
    }

    /// Reports progress to `observer`.
    pub fn with_observer(mut self, observer: Observer) -> Agent {
        self.observer = Some(observer);
        self
    }

    /// The library the agent grows.
    pub fn library(&self) -> &Arc<Library> {
        &self.library
    }

    pub(super) fn notify(&self, progress: Progress) {
        if let Some(observer) = &self.observer {
            observer(&progress);
        }
    }

    /// [`Agent::notify`] of a step of `run`'s own: an episode that learns a function for
    /// another is part of that one's progress, not an episode of its own to observers
    /// (its model calls are still reported).
    fn notify_step(&self, run: &Run, progress: Progress) {
        if run.task.learned_for.is_none() {
            self.notify(progress);
        }
    }

    /// Solves one task given by a user: one episode.
    pub async fn solve(&self, task: Task) -> Result<EpisodeReport, AgentError> {
        let run = self.start(task, EpisodeSource::User, &[]).await?;
        self.drive_or_interrupt(run, Position::default()).await
    }

    /// The open-ended loop: first finishes episodes a crash left unfinished, then lets the
    /// curriculum propose tasks, until `iterations` episodes have run.
    pub async fn run(&self, iterations: usize) -> Result<Vec<EpisodeReport>, AgentError> {
        let mut reports = self.resume_unfinished().await?;
        let mut failures = 0;
        while reports.len() < iterations {
            let state = self.curriculum_state().await?;
            let proposal = match propose(self.model.as_ref(), self.env.as_ref(), &state).await {
                Ok(proposal) => proposal,
                // No usable proposal, or a reply that is not a chat completion: warm-up
                // work instead of a stopped loop.
                Err(
                    error @ (AgentError::NoTask { .. }
                    | AgentError::Llm {
                        source: LlmError::MalformedResponse { .. },
                        ..
                    }),
                ) => {
                    tracing::warn!("{error}");
                    match self.next_seed_task(&state).await {
                        Some(task) => {
                            let exchanges = match error {
                                AgentError::NoTask { exchanges, .. } => exchanges,
                                _ => Vec::new(),
                            };
                            Proposal { task, exchanges }
                        }
                        None if failures + 1 < self.config.max_curriculum_failures => {
                            failures += 1;
                            continue;
                        }
                        None => return Err(error),
                    }
                }
                Err(e) => return Err(e),
            };
            failures = 0;
            let run = self
                .start(
                    proposal.task,
                    EpisodeSource::Curriculum,
                    &proposal.exchanges,
                )
                .await?;
            reports.push(self.drive_or_interrupt(run, Position::default()).await?);
        }
        Ok(reports)
    }

    /// The environment's first warm-up task not yet completed or failed. The environment
    /// poses them on a blocking thread (an external one answers over a pipe).
    async fn next_seed_task(&self, state: &CurriculumState) -> Option<Task> {
        let tried: std::collections::HashSet<String> = state
            .completed
            .iter()
            .chain(&state.failed)
            .map(|t| Task::from_user(t.as_str()).key())
            .collect();
        let env = Arc::clone(&self.env);
        crate::blocking::run(move || env.seed_tasks())
            .await
            .into_iter()
            .find(|task| !tried.contains(&task.key()))
    }

    /// What the curriculum sees: tasks done and failed, and the library's skills with their
    /// success rates.
    pub async fn curriculum_state(&self) -> Result<CurriculumState, AgentError> {
        let mut state = CurriculumState::default();
        for episode in self.library.store().list_episodes(200).await? {
            let description = episode.task["description"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            match episode.status {
                EpisodeStatus::Admitted | EpisodeStatus::SolvedWithExisting => {
                    state.completed.push(description)
                }
                EpisodeStatus::Failed => state.failed.push(description),
                EpisodeStatus::Running | EpisodeStatus::Interrupted => {}
            }
        }
        let active = ListFilter {
            namespace: None,
            statuses: vec![SkillStatus::Active],
            ..Default::default()
        };
        for skill in self.library.list(&active).await? {
            if skill.runnable {
                state.library.push(LibraryEntry {
                    name: skill.record.name,
                    description: skill.description,
                    success_rate: skill.stats.success_rate(),
                });
            }
        }
        Ok(state)
    }

    /// Creates the episode and journals the model calls that proposed its task.
    async fn start(
        &self,
        task: Task,
        source: EpisodeSource,
        proposal: &[Exchange],
    ) -> Result<Run, AgentError> {
        let clock = Clock::start();
        let record = {
            let _store = clock.time(Phase::Store);
            // Leased as it is created: no other process ever sees it free.
            let mut tx = self.library.store().begin().await?;
            let record = tx
                .create_episode(&NewEpisode {
                    task: serde_json::to_value(&task).expect("a task serializes"),
                    source,
                })
                .await?;
            self.hold(&mut tx, &record.id).await?;
            tx.commit().await?;
            record
        };
        let mut run = Run::new(record.id, task, 0, false, clock);
        for exchange in proposal {
            self.exchange(&mut run, exchange, None).await?;
        }
        Ok(run)
    }

    /// Runs an episode from `position` to its end.
    pub(super) async fn drive(
        &self,
        mut run: Run,
        position: Position,
    ) -> Result<EpisodeReport, AgentError> {
        self.notify_step(
            &run,
            Progress::Episode {
                id: run.id.clone(),
                task: run.task.description.clone(),
                resumed: run.resumed,
            },
        );
        match &position.retrieved {
            None => {
                self.retrieve(&mut run).await?;
                if let Some(existing) = self.existing_solution(&mut run).await? {
                    return self.reuse(run, existing).await;
                }
            }
            Some(retrieved) => {
                for hit in retrieved {
                    if let Ok(detail) = self.library.get(&hit.name).await {
                        if hit.shown {
                            run.shown.push(detail.skill.clone());
                        }
                        run.retrieved.push(detail.skill);
                    }
                }
            }
        }
        // Issue 12: what earlier rounds questioned and wrote, for the evidence rules.
        run.questioned = position.questioned;
        run.repeated = position.repeated;
        run.repeats = position.repeats;
        run.callees = position.callees;
        for (round, skill, code) in &position.attempts {
            if let Ok(source) = SkillSource::parse(code, Some(skill)) {
                run.fingerprints.push((*round, fingerprint(&source)));
            }
        }
        let mut feedback = position.feedback;
        let mut unreadable = None;
        // The round's verdict and the reply (or code) it judged.
        let mut judged = match position.pending {
            None => None,
            Some(Pending::Reply { round, reply }) => {
                let shown: Vec<&str> = run.shown.iter().map(|s| s.record.name.as_str()).collect();
                let extracted = skill_from_reply(&reply, &run.task, &shown);
                Some((
                    self.take_attempt(&mut run, round, &reply, extracted)
                        .await?,
                    reply,
                ))
            }
            Some(Pending::Attempt {
                round,
                skill,
                code,
                notes,
            }) => {
                let verdict = self.retake_attempt(&mut run, round, &skill, &code).await?;
                // A repair that passed before the crash is still the runtime's code.
                if !matches!(verdict, Verdict::Retry(_)) {
                    run.repaired = repaired_in(&notes);
                }
                Some((verdict, code))
            }
        };
        loop {
            match judged.take() {
                Some((Verdict::Pass(prepared), _)) => return self.admit(run, *prepared).await,
                Some((Verdict::Existing(skill), _)) => return self.reuse(run, *skill).await,
                Some((Verdict::Retry(problems), reply)) => {
                    feedback = Some(Feedback {
                        previous_reply: reply,
                        problems,
                    });
                }
                None => {}
            }
            if run.rounds >= run.round_limit(&self.config) {
                break;
            }
            run.rounds += 1;
            let round = run.rounds;
            self.notify_step(
                &run,
                Progress::Round {
                    round,
                    max: run.round_limit(&self.config),
                },
            );
            let briefs: Vec<SkillBrief> = run.shown.iter().map(brief).collect();
            let strategy = match (run.repeated.take(), &feedback) {
                (Some(repeated_round), _) => Strategy::FreshStart { repeated_round },
                (None, Some(_)) => self.config.refinement.strategy(),
                (None, None) => Strategy::First,
            };
            let written = {
                let _llm = run.clock.time(Phase::Llm);
                write_skill_with(
                    self.model.as_ref(),
                    self.env.as_ref(),
                    &run.task,
                    &briefs,
                    feedback.as_ref(),
                    strategy,
                )
                .await
            };
            match written {
                Ok(attempt) => {
                    self.exchange_with(&mut run, &attempt.exchange, Some(round), Some(strategy))
                        .await?;
                    let verdict = self
                        .take_attempt(&mut run, round, &attempt.exchange.reply, attempt.result)
                        .await?;
                    judged = Some((verdict, attempt.exchange.reply));
                }
                // A reply that is not a chat completion is a failed round, not a stuck
                // episode. Journalled without a verdict: the next round starts from the same
                // feedback, here as on resume.
                Err(AgentError::Llm {
                    source: source @ LlmError::MalformedResponse { .. },
                    ..
                }) => {
                    let error = format!("the model's reply could not be read: {source}");
                    let outcome = AttemptOutcome::Error {
                        error: error.clone(),
                    };
                    self.log(&run, JournalEvent::Attempt { round, outcome })
                        .await?;
                    unreadable = Some(error);
                }
                Err(e) => return Err(e),
            }
        }
        let ending = Ending {
            status: EpisodeStatus::Failed,
            skill: None,
            calls: Vec::new(),
            problems: feedback.map(|f| f.problems).or(unreadable),
        };
        self.finish(run, ending, None).await
    }

    /// Journals what a round's `reply` yielded (the code and its chosen function, or why
    /// there is none) and judges it. A reply that repeats an earlier round's is refused
    /// unrun, whether or not a skill could be taken from it.
    async fn take_attempt(
        &self,
        run: &mut Run,
        round: u32,
        reply: &str,
        extracted: Result<Extracted, ExtractError>,
    ) -> Result<Verdict, AgentError> {
        let extracted = match extracted {
            Ok(extracted) => extracted,
            Err(problem) => {
                let problems = problem.to_string();
                let outcome = AttemptOutcome::Error {
                    error: problems.clone(),
                };
                self.log(run, JournalEvent::Attempt { round, outcome })
                    .await?;
                if let Some(verdict) = self
                    .repeated(run, round, reply_fingerprint(reply), &problems)
                    .await?
                {
                    return Ok(verdict);
                }
                self.verdict(run, round, false, &problems).await?;
                return Ok(Verdict::Retry(problems));
            }
        };
        let outcome = AttemptOutcome::Code {
            skill: extracted.skill.name.clone(),
            code: extracted.skill.code.clone(),
            notes: extracted.notes,
        };
        self.log(run, JournalEvent::Attempt { round, outcome })
            .await?;
        if let Some(verdict) = self
            .repeated(run, round, fingerprint(&extracted.skill), "")
            .await?
        {
            return Ok(verdict);
        }
        self.evaluate_or_repair(run, round, &extracted.skill).await
    }

    /// Judges a journalled attempt again, for the function its round chose (not whichever
    /// a fresh parse of the code would pick).
    async fn retake_attempt(
        &self,
        run: &mut Run,
        round: u32,
        skill: &str,
        code: &str,
    ) -> Result<Verdict, AgentError> {
        match SkillSource::parse(code, Some(skill)) {
            Ok(source) => match self.repeated(run, round, fingerprint(&source), "").await? {
                Some(verdict) => Ok(verdict),
                None => self.evaluate_or_repair(run, round, &source).await,
            },
            Err(e) => {
                let problems = e.to_string();
                self.verdict(run, round, false, &problems).await?;
                Ok(Verdict::Retry(problems))
            }
        }
    }

    /// Searches the library for the task, decides which hits the coder is shown (those the
    /// task names, or whose description is close to the task's and, in a task an
    /// environment posed, whose subject the task mentions: `relevance.rs`), and journals both.
    async fn retrieve(&self, run: &mut Run) -> Result<(), AgentError> {
        let filter = SearchFilter {
            namespace: Some(run.namespace.clone()),
            statuses: vec![SkillStatus::Active],
        };
        let timing = run.clock.time(Phase::Retrieval);
        let description = &run.task.description;
        let task_vector = self
            .library
            .embed(vec![description.clone()])
            .await?
            .remove(0);
        let hits: Vec<_> = self
            .library
            .search_embedded(
                description,
                task_vector.clone(),
                self.config.retrieve,
                filter,
            )
            .await?
            .into_iter()
            .filter(|h| h.skill.version.runnable)
            .collect();
        let texts: Vec<String> = hits
            .iter()
            .map(|h| h.skill.version.description.clone())
            .collect();
        let vectors = if texts.is_empty() {
            Vec::new()
        } else {
            self.library.embed(texts).await?
        };
        let mut skills = Vec::with_capacity(hits.len());
        for (hit, vector) in hits.into_iter().zip(&vectors) {
            let similarity: f32 = task_vector.iter().zip(vector).map(|(a, b)| a * b).sum();
            let task = relevance::TaskText {
                text: &run.task.description,
                name: run.task.name.as_deref(),
                posed_by_environment: run.task.world.is_some(),
            };
            let shown = relevance::shown(
                task,
                &hit.skill.record.name,
                similarity,
                self.config.show_similarity,
            );
            skills.push(RetrievedSkill {
                name: qualified(&hit.skill),
                score: hit.score,
                similarity: Some(similarity),
                shown,
            });
            if shown {
                run.shown.push(hit.skill.clone());
            }
            run.retrieved.push(hit.skill);
        }
        drop(timing);
        let query = run.task.description.clone();
        self.log(run, JournalEvent::Retrieval { query, skills })
            .await
    }

    /// A retrieved skill that already passes the task's check, if the task has one, and,
    /// when that check is only examples, agrees with an independent solution on probe
    /// inputs ([`Agent::cross_check`], journalled as round 0): a few examples can be passed
    /// by a skill that does something else. Each check that runs counts as a call of the
    /// skill: a success, or a miss when it is not this task's answer
    /// ([`Library::record_trial`]).
    async fn existing_solution(&self, run: &mut Run) -> Result<Option<Skill>, AgentError> {
        if run.task.tests.is_empty() {
            return Ok(None);
        }
        for skill in run.retrieved.clone() {
            let source = parse_stored(&skill)?;
            let (bundle, check) = {
                let _validation = run.clock.time(Phase::Validation);
                let bundle = match self.library.bundle(&source, &run.namespace).await {
                    Ok(bundle) => bundle,
                    Err(e) => {
                        tracing::debug!("cannot bundle {}: {e}", source.name);
                        continue;
                    }
                };
                let check = self.check(&bundle, &run.task).await?;
                self.library.record_trial(skill.record.id, &check).await?;
                (bundle, check)
            };
            if !check_passed(&check) {
                continue;
            }
            match self.cross_check(run, 0, &source, &bundle).await? {
                Corroboration::Keep => return Ok(Some(skill)),
                Corroboration::Unverified(why) => {
                    tracing::info!("{} is reused unverified: {why}", qualified(&skill));
                    run.unverified = Some(why);
                    return Ok(Some(skill));
                }
                Corroboration::Disputed(why) => {
                    tracing::info!("not reusing {}: {why}", qualified(&skill));
                }
            }
        }
        Ok(None)
    }

    /// Validates one attempt: the library's checks, the task's, the critic's, and dedup.
    pub(super) async fn evaluate(
        &self,
        run: &mut Run,
        round: u32,
        source: &SkillSource,
    ) -> Result<Verdict, AgentError> {
        self.learn_callees(run, round, source).await?;
        let options = AddOptions {
            namespace: Some(run.namespace.clone()),
            provenance: Provenance {
                task: Some(run.task.description.clone()),
                episode: Some(run.id.clone()),
                model: Some(self.model.model_id().to_string()),
                unchecked: run.task.tests.is_empty(),
            },
        };
        let mut validation = run.clock.time(Phase::Validation);
        let prepared = match self.library.prepare(source.clone(), options.clone()).await {
            Ok(prepared) => prepared,
            Err(LibraryError::Duplicate { existing, .. }) => {
                let skill = self.library.get(&existing).await?.skill;
                drop(validation);
                return self.reuse_if_it_solves(run, round, skill).await;
            }
            // Issue 12: the task's check, not the model's tests, is the authority.
            Err(LibraryError::TestsFailed { name, report }) if !run.task.tests.is_empty() => {
                drop(validation);
                let rejected = refusal(
                    &LibraryError::TestsFailed {
                        name,
                        report: report.clone(),
                    },
                    &run.task,
                    &run.retrieved,
                );
                let reduced = match self
                    .overrule_tests(run, round, source, rejected, *report)
                    .await?
                {
                    Ok(reduced) => reduced,
                    Err(verdict) => return Ok(verdict),
                };
                validation = run.clock.time(Phase::Validation);
                match self.library.prepare(reduced, options.clone()).await {
                    Ok(prepared) => prepared,
                    Err(e) if is_rejection(&e) => {
                        drop(validation);
                        return self.reject(run, round, e).await;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) if is_rejection(&e) => {
                drop(validation);
                return self.reject(run, round, e).await;
            }
            Err(e) => return Err(e.into()),
        };
        // The skill as prepared: without the tests dropped above, if any were.
        let source = &prepared.source;
        if prepared.replaces.is_some() {
            let current = self
                .library
                .get(&format!("{}/{}", prepared.namespace, source.name))
                .await?
                .skill;
            if current.record.status != SkillStatus::Active {
                drop(validation);
                return self.refuse_inactive(run, round, &current).await;
            }
            if prepared.unchanged.is_some() {
                drop(validation);
                return self.reuse_if_it_solves(run, round, current).await;
            }
        }
        let check = self.check(&prepared.bundle, &run.task).await?;
        drop(validation);
        let event = JournalEvent::SandboxRun {
            round,
            rejected: None,
            tests: Some(prepared.report.clone()),
            task_check: Some(check.clone()),
            dependents: prepared
                .dependents
                .iter()
                .map(|r| r.skill.clone())
                .collect(),
        };
        self.log(run, event).await?;
        if !check_passed(&check) {
            run.undefined = only_undefined_names(&check);
            let problems = format!(
                "the skill's own tests pass, but the task's check fails:\n{}{}",
                report_summary(&check),
                explained(&check, &run.task, &run.retrieved)
            );
            self.verdict(run, round, false, &problems).await?;
            return Ok(Verdict::Retry(problems));
        }
        // The critic decides only what no check can: a task with a check that passed needs
        // no opinion (it would cost a model call that changes nothing).
        if self.config.critic
            && run.task.tests.is_empty()
            && let Some(problems) = self.critic_objects(run, round, source, &prepared).await?
        {
            self.verdict(run, round, false, &problems).await?;
            return Ok(Verdict::Retry(problems));
        }
        // Issue 12: a check of a few examples is weak evidence; an independent candidate
        // must agree with the skill for it to count as verified.
        let mut prepared = prepared;
        run.unverified = None;
        match self
            .cross_check(run, round, &prepared.source, &prepared.bundle)
            .await?
        {
            Corroboration::Keep => {}
            Corroboration::Disputed(why) | Corroboration::Unverified(why) => {
                tracing::info!("{} is admitted unverified: {why}", prepared.source.name);
                prepared.provenance.unchecked = true;
                run.unverified = Some(why);
            }
        }
        let mut duplicate = {
            let _validation = run.clock.time(Phase::Validation);
            self.near_duplicate(run, &prepared).await?
        };
        // Issue 12: without a check, behaving alike proves nothing; reuse needs evidence.
        if let Some(existing) = &duplicate
            && run.task.tests.is_empty()
            && let Some(why) = self.lacks_evidence(run, round, existing).await?
        {
            tracing::info!("not reusing {}: {why}", qualified(existing));
            duplicate = None;
        }
        if let Some(existing) = duplicate {
            let problems = format!("behaves like {}", qualified(&existing));
            self.verdict(run, round, true, &problems).await?;
            return Ok(Verdict::Existing(Box::new(existing)));
        }
        self.verdict(run, round, true, "").await?;
        Ok(Verdict::Pass(Box::new(prepared)))
    }

    /// Learns each function `source` calls that nothing defines (not the file, not the
    /// library) and that the task's environment poses as a task of its own
    /// ([`Task::name_worlds`]), in an episode of that world, so that `source` is checked
    /// with it ([`AgentConfig::learn_callees`]). Once per function and episode; an episode
    /// learning a function learns none of its own this way. A world the environment cannot
    /// pose, or whose function is named otherwise, is logged and skipped; the check then
    /// reports the name undefined as it would have.
    async fn learn_callees(
        &self,
        run: &mut Run,
        round: u32,
        source: &SkillSource,
    ) -> Result<(), AgentError> {
        if !self.config.learn_callees || run.task.learned_for.is_some() {
            return Ok(());
        }
        for name in &source.references {
            let Some(world) = run.task.name_worlds.get(name) else {
                continue;
            };
            if run.callees.contains(name)
                || self
                    .library
                    .get(&format!("{}/{name}", run.namespace))
                    .await
                    .is_ok()
            {
                continue;
            }
            run.callees.push(name.clone());
            let env = Arc::clone(&self.env);
            let world = world.clone();
            let posed = crate::blocking::run(move || env.pose(world)).await;
            let mut task = match posed {
                Some(Ok(task)) if task.name.as_deref() == Some(name.as_str()) => task,
                Some(Ok(task)) => {
                    tracing::warn!(
                        "the world posed to learn {name} names {:?} instead",
                        task.name
                    );
                    continue;
                }
                Some(Err(e)) => {
                    tracing::warn!("cannot pose the world to learn {name}: {e}");
                    continue;
                }
                None => continue,
            };
            task.namespace = run.task.namespace.clone();
            task.learned_for = Some(run.id.clone());
            let callee = self.start(task, EpisodeSource::Curriculum, &[]).await?;
            let episode = callee.id.clone();
            tracing::info!("learning {name}, which round {round} calls, in episode {episode}");
            let event = JournalEvent::Callee {
                round,
                name: name.clone(),
                episode,
            };
            self.log(run, event).await?;
            let report = Box::pin(self.drive_or_interrupt(callee, Position::default())).await?;
            run.clock.add(&report.timing);
            if report.status == EpisodeStatus::Admitted
                && let Some(skill) = report.skill
            {
                // Later rounds' prompts list it with the library functions shown.
                run.shown.push(self.library.get(&skill).await?.skill);
                run.learned.push(skill);
            }
        }
        Ok(())
    }

    /// Journals a skill the library refused and sends its problems back to the coder.
    async fn reject(
        &self,
        run: &mut Run,
        round: u32,
        e: LibraryError,
    ) -> Result<Verdict, AgentError> {
        let tests = match &e {
            LibraryError::TestsFailed { report, .. }
            | LibraryError::DependentRegression { report, .. } => Some(report.as_ref().clone()),
            _ => None,
        };
        if let Some(report) = &tests {
            run.undefined = only_undefined_names(report);
        }
        let problems = refusal(&e, &run.task, &run.retrieved);
        let event = JournalEvent::SandboxRun {
            round,
            rejected: Some(problems.clone()),
            tests,
            task_check: None,
            dependents: Vec::new(),
        };
        self.log(run, event).await?;
        self.verdict(run, round, false, &problems).await?;
        Ok(Verdict::Retry(problems))
    }

    /// Asks the critic about a task with no check of its own; its objection, if any. A yes
    /// that describes a function other than the code is an objection. A critic that cannot
    /// answer is skipped (the skill is admitted marked unchecked, as every skill of such a task).
    async fn critic_objects(
        &self,
        run: &mut Run,
        round: u32,
        source: &SkillSource,
        prepared: &Prepared,
    ) -> Result<Option<String>, AgentError> {
        let judged = {
            let _llm = run.clock.time(Phase::Llm);
            critique(
                self.model.as_ref(),
                &run.task,
                &source.name,
                &source.code,
                &prepared.report,
            )
            .await
        };
        let judged = match judged {
            Ok(judged) => judged,
            Err(AgentError::NoVerdict { exchange, detail }) => {
                self.exchange(run, &exchange, Some(round)).await?;
                tracing::info!("continuing without the critic: {detail}");
                return Ok(None);
            }
            Err(AgentError::Llm {
                source: source @ LlmError::MalformedResponse { .. },
                ..
            }) => {
                tracing::info!("continuing without the critic: {source}");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        self.critique_objection(run, round, &judged, &source.name, &source.code)
            .await
    }

    /// Journals the critic's call and verdict on the function `name` in `code`; its
    /// objection, if any ([`critic_says_no`]).
    pub(super) async fn critique_objection(
        &self,
        run: &mut Run,
        round: u32,
        judged: &Critiqued,
        name: &str,
        code: &str,
    ) -> Result<Option<String>, AgentError> {
        self.exchange(run, &judged.exchange, Some(round)).await?;
        let event = JournalEvent::Critique {
            round,
            success: judged.critique.success,
            feedback: judged.critique.feedback.clone(),
        };
        self.log(run, event).await?;
        Ok(critic_says_no(
            judged.critique.success,
            &judged.critique.feedback,
            name,
            code,
        ))
    }

    /// Runs the environment's check of the task on a blocking thread.
    pub(super) async fn check(
        &self,
        bundle: &Bundle,
        task: &Task,
    ) -> Result<TestReport, AgentError> {
        let env = Arc::clone(&self.env);
        let sandbox = Arc::clone(self.library.sandbox());
        let (bundle, task) = (bundle.clone(), task.clone());
        let report = crate::blocking::run(move || env.check(&sandbox, &bundle, &task)).await?;
        Ok(report)
    }

    /// Admits a validated skill: one transaction for the version, the stats of the skills it
    /// calls, the journal and the episode's end; then the index.
    async fn admit(&self, run: Run, prepared: Prepared) -> Result<EpisodeReport, AgentError> {
        let store_timer = run.clock.time(Phase::Store);
        let mut tx = self.library.store().begin().await?;
        self.hold(&mut tx, &run.id).await?;
        let added = self.library.write(&mut tx, &prepared).await?;
        // The callees ran in the new skill's tests, which all passed.
        let latency = test_time(&prepared.report);
        for call in &prepared.calls {
            tx.record_call(call.skill_id, CallOutcome::Success, latency)
                .await?;
        }
        let skill = added.skill.qualified_name();
        let (kind, payload) = JournalEvent::Admission {
            skill: skill.clone(),
            version: added.version.version,
            calls: added.calls.clone(),
            dependents_retested: added.dependents_retested.clone(),
            replaced: prepared.replaces,
        }
        .record();
        tx.append_event(&run.id, &kind, &payload).await?;
        drop(store_timer);
        let report = self.report(
            &run,
            EpisodeStatus::Admitted,
            Some((skill, added.version.version)),
            added.calls.clone(),
            None,
        );
        tx.finish_episode(&run.id, EpisodeStatus::Admitted, &serde_json::json!(report))
            .await?;
        tx.commit().await?;
        // The index sync comes after the commit; the stored outcome's timing stops before it.
        {
            let _store = run.clock.time(Phase::Store);
            self.library.sync_index().await?;
        }
        let report = EpisodeReport {
            timing: run.clock.timing(),
            ..report
        };
        self.notify_step(&run, Progress::Finished(Box::new(report.clone())));
        Ok(report)
    }

    /// Ends the episode with an existing skill as the solution (its run was counted where
    /// it ran).
    pub(super) async fn reuse(&self, run: Run, skill: Skill) -> Result<EpisodeReport, AgentError> {
        let calls = self
            .library
            .store()
            .callees(skill.record.id)
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect();
        let name = qualified(&skill);
        let ending = Ending {
            status: EpisodeStatus::SolvedWithExisting,
            skill: Some((name.clone(), skill.version.version)),
            calls,
            problems: None,
        };
        self.finish(run, ending, Some(JournalEvent::Reuse { skill: name }))
            .await
    }

    /// Ends the episode in one transaction: its last event, if any, and the episode's
    /// status and report.
    async fn finish(
        &self,
        run: Run,
        ending: Ending,
        last: Option<JournalEvent>,
    ) -> Result<EpisodeReport, AgentError> {
        let store_timer = run.clock.time(Phase::Store);
        let mut tx = self.library.store().begin().await?;
        self.hold(&mut tx, &run.id).await?;
        if let Some(event) = last {
            let (kind, payload) = event.record();
            tx.append_event(&run.id, &kind, &payload).await?;
        }
        drop(store_timer);
        let report = self.report(
            &run,
            ending.status,
            ending.skill,
            ending.calls,
            ending.problems,
        );
        tx.finish_episode(&run.id, ending.status, &serde_json::json!(report))
            .await?;
        tx.commit().await?;
        self.notify_step(&run, Progress::Finished(Box::new(report.clone())));
        Ok(report)
    }

    fn report(
        &self,
        run: &Run,
        status: EpisodeStatus,
        skill: Option<(String, i64)>,
        calls: Vec<String>,
        problems: Option<String>,
    ) -> EpisodeReport {
        let (skill, version) = skill.unzip();
        // A cross-check's doubt is about the skill the episode ends with.
        let unverified = skill.as_ref().and(run.unverified.clone());
        let repaired = skill.as_ref().and(run.repaired.clone());
        EpisodeReport {
            episode: run.id.clone(),
            status,
            task: run.task.clone(),
            skill,
            version,
            calls,
            retrieved: run.retrieved.iter().map(qualified).collect(),
            rounds: run.rounds,
            problems,
            resumed: run.resumed,
            unverified,
            learned: run.learned.clone(),
            repaired,
            timing: run.clock.timing(),
        }
    }

    /// Appends an event to the run's journal.
    pub(super) async fn log(&self, run: &Run, event: JournalEvent) -> Result<(), AgentError> {
        let _store = run.clock.time(Phase::Store);
        let (kind, payload) = event.record();
        let mut tx = self.library.store().begin().await?;
        self.hold(&mut tx, &run.id).await?;
        tx.append_event(&run.id, &kind, &payload).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn verdict(
        &self,
        run: &Run,
        round: u32,
        passed: bool,
        problems: &str,
    ) -> Result<(), AgentError> {
        let problems = problems.to_string();
        self.log(
            run,
            JournalEvent::Verdict {
                round,
                passed,
                problems,
            },
        )
        .await
    }

    pub(super) async fn exchange(
        &self,
        run: &mut Run,
        exchange: &Exchange,
        round: Option<u32>,
    ) -> Result<(), AgentError> {
        self.exchange_with(run, exchange, round, None).await
    }

    /// Journals a model call, with the strategy of a coder round.
    pub(super) async fn exchange_with(
        &self,
        run: &mut Run,
        exchange: &Exchange,
        round: Option<u32>,
        strategy: Option<Strategy>,
    ) -> Result<(), AgentError> {
        run.clock.count(exchange);
        self.notify(Progress::Model {
            purpose: exchange.purpose,
            prompt_tokens: exchange.prompt_tokens,
            completion_tokens: exchange.completion_tokens,
        });
        let event = JournalEvent::LlmCall {
            round,
            exchange: exchange.clone(),
            strategy,
        };
        self.log(run, event).await
    }
}

/// The time a report's tests ran.
fn test_time(report: &TestReport) -> std::time::Duration {
    std::time::Duration::from_secs_f64(report.tests.iter().map(|t| t.wall_ms).sum::<f64>() / 1e3)
}

/// A refusal of the library as the model reads it: its one line, then a sentence for each
/// name its failing tests found undefined ([`undefined_names`]) and what the task's
/// environment or the retrieved library has to say of it ([`explained`]).
fn refusal(e: &LibraryError, task: &Task, retrieved: &[Skill]) -> String {
    match e {
        LibraryError::TestsFailed { report, .. }
        | LibraryError::DependentRegression { report, .. } => {
            e.to_string() + &undefined_names(report) + &explained(report, task, retrieved)
        }
        _ => e.to_string(),
    }
}

/// [`undefined_names_explained`] with the task's name hints and the `retrieved` skills, as
/// the coder is shown them.
fn explained(report: &TestReport, task: &Task, retrieved: &[Skill]) -> String {
    let briefs: Vec<SkillBrief> = retrieved.iter().map(brief).collect();
    undefined_names_explained(report, &task.name_hints, &briefs)
}

/// Whether a library error rejects the skill (feedback for the coder) rather than failing.
fn is_rejection(e: &LibraryError) -> bool {
    matches!(
        e,
        LibraryError::TestsFailed { .. }
            | LibraryError::DependentRegression { .. }
            | LibraryError::NoTests(_)
            | LibraryError::NotRunnable { .. }
            | LibraryError::Quarantined { .. }
            | LibraryError::CapabilityNotAllowed { .. }
            | LibraryError::Compose { .. }
            | LibraryError::Skill { .. }
    )
}

pub(super) fn qualified(skill: &Skill) -> String {
    skill.record.qualified_name()
}

/// Longest function body (JSDoc header removed) shown to the coder; longer skills are shown
/// by signature and description only, which keeps prompts within a small model's reach.
const MAX_BRIEF_CODE: usize = 600;

/// What the coder sees of a retrieved skill.
fn brief(skill: &Skill) -> SkillBrief {
    let code = skill.version.code.trim();
    let body = match code
        .strip_prefix("/**")
        .and_then(|rest| rest.split_once("*/"))
    {
        Some((_, body)) => body.trim(),
        None => code,
    };
    // A skill learned in an environment's world keeps that world's start in its comment:
    // the brief leaves it out (it is another world than the task's, and long).
    let description = match skill.version.description.split_once(WORLD_AT_START) {
        Some((own, _)) => own.trim_end(),
        None => skill.version.description.as_str(),
    };
    SkillBrief {
        name: skill.record.name.clone(),
        signature: skill.version.signature.clone(),
        description: description.replace('\n', " "),
        code: if body.len() <= MAX_BRIEF_CODE {
            body.to_string()
        } else {
            String::new()
        },
    }
}
