//! The episode loop: retrieve, write, validate, refine, admit; every step journalled, and
//! resumable after a crash.
//!
//! One episode is one attempt at one task:
//! 1. **Retrieval**: the library's hybrid search for the task (active skills of the task's
//!    namespace). When the task has a programmatic check, each retrieved skill is first tried
//!    as the solution (the environment binds the task's name to it); one that passes solves
//!    the task with nothing new (`solved_with_existing`).
//! 2. **Rounds** (up to [`AgentConfig::max_rounds`]): the coder writes a skill seeing the
//!    retrieved skills; the library validates it (its own tests, and the skills that call it
//!    when it replaces a version); the environment checks the task; the critic judges
//!    (advisory when the task has a check). Any problem goes back to the coder as feedback.
//! 3. **Dedup**: an active skill whose description embeds within
//!    [`AgentConfig::duplicate_similarity`] of the new one's, that passes the new skill's tests
//!    and the task's check, and whose own tests the new skill passes, is reused instead.
//! 4. **Admission**, in one SQL transaction: the version and its call edges
//!    ([`Library::write`]), the stats of the skills it calls, the `admission` event and the
//!    episode's final status. Then the index is synced from the outbox.
//!
//! Every step is appended to the journal before the next one starts. A crash at any point
//! leaves the episode `running` with a prefix of its journal, and a half-done admission is
//! rolled back by the database. [`Agent::resume_unfinished`] rebuilds each unfinished
//! episode's position from its journal: an attempt that passed but whose admission did not
//! commit is validated and admitted again without asking the coder again; otherwise the next
//! round starts with the last feedback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::coder::{Feedback, SkillBrief, write_skill};
use super::critic::critique;
use super::curriculum::{CurriculumState, LibraryEntry, Proposal, propose};
use super::environment::{Environment, check_passed};
use super::prompts::report_summary;
use super::task::Task;
use super::{AgentError, EventKind, Exchange, Purpose};
use crate::compose::Bundle;
use crate::index::SearchFilter;
use crate::library::{
    AddOptions, DEFAULT_NAMESPACE, Library, LibraryError, Prepared, parse_stored,
};
use crate::llm::LanguageModel;
use crate::skill::SkillSource;
use crate::store::{
    EpisodeEvent, EpisodeSource, EpisodeStatus, ListFilter, NewEpisode, Provenance, Skill, SkillId,
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
    /// Ask the critic (advisory when the task has a programmatic check).
    pub critic: bool,
    /// Cosine similarity of descriptions above which a behavioural duplicate check runs.
    pub duplicate_similarity: f32,
    /// Episodes in a row whose task the curriculum could not propose before `run` gives up.
    pub max_curriculum_failures: u32,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            max_rounds: 4,
            retrieve: 3,
            critic: true,
            duplicate_similarity: 0.9,
            max_curriculum_failures: 3,
        }
    }
}

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
    /// Where the time went.
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
    library: Arc<Library>,
    model: Arc<dyn LanguageModel>,
    env: Arc<dyn Environment>,
    config: AgentConfig,
    observer: Option<Observer>,
}

/// The outcome of validating one attempt.
enum Verdict {
    /// Ready to admit.
    Pass(Box<Prepared>),
    /// Not good enough: what to tell the coder.
    Retry(String),
    /// An existing skill does the job.
    Existing(Box<Skill>),
}

/// An episode being driven.
struct Run {
    id: String,
    task: Task,
    namespace: String,
    retrieved: Vec<Skill>,
    rounds: u32,
    resumed: bool,
    started: Instant,
    timing: Timing,
}

/// How an episode ends.
struct Ending {
    status: EpisodeStatus,
    skill: Option<(String, i64)>,
    calls: Vec<String>,
    problems: Option<String>,
    /// The existing skill that solved the task, to count a call of it.
    reused: Option<SkillId>,
}

/// Where an unfinished episode stands, read from its journal.
#[derive(Debug, Default, PartialEq)]
struct Position {
    retrieved: Option<Vec<String>>,
    rounds_done: u32,
    feedback: Option<Feedback>,
    /// An attempt that passed, or was never judged, and was not admitted.
    pending: Option<(u32, String)>,
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
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
            observer: None,
        }
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

    fn notify(&self, progress: Progress) {
        if let Some(observer) = &self.observer {
            observer(&progress);
        }
    }

    /// Solves one task given by a user: one episode.
    pub async fn solve(&self, task: Task) -> Result<EpisodeReport, AgentError> {
        let run = self.start(task, EpisodeSource::User, &[]).await?;
        self.drive(run, Position::default()).await
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
                Err(AgentError::NoTask {
                    attempts,
                    last,
                    exchanges,
                }) => {
                    tracing::warn!(
                        "the curriculum proposed nothing usable in {attempts} calls: {last}"
                    );
                    match self.next_seed_task(&state) {
                        Some(task) => Proposal { task, exchanges },
                        None if failures + 1 < self.config.max_curriculum_failures => {
                            failures += 1;
                            continue;
                        }
                        None => {
                            return Err(AgentError::NoTask {
                                attempts,
                                last,
                                exchanges,
                            });
                        }
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
            reports.push(self.drive(run, Position::default()).await?);
        }
        Ok(reports)
    }

    /// Finishes every episode left `running` (by a crash or a kill), oldest first, from where
    /// its journal says it stopped.
    pub async fn resume_unfinished(&self) -> Result<Vec<EpisodeReport>, AgentError> {
        let store = self.library.store();
        let mut reports = Vec::new();
        for record in store.unfinished_episodes().await? {
            let task: Task = serde_json::from_value(record.task.clone()).map_err(|e| {
                AgentError::Journal(format!("episode {} holds no task: {e}", record.id))
            })?;
            let events = store.episode_events(&record.id).await?;
            let position = position(&events);
            tracing::info!(
                "resuming episode {} after round {}",
                record.id,
                position.rounds_done
            );
            let run = Run {
                id: record.id,
                namespace: namespace_of(&task),
                task,
                retrieved: Vec::new(),
                rounds: position.rounds_done,
                resumed: true,
                started: Instant::now(),
                timing: Timing::default(),
            };
            reports.push(self.drive(run, position).await?);
        }
        Ok(reports)
    }

    /// The environment's first warm-up task not yet completed or failed.
    fn next_seed_task(&self, state: &CurriculumState) -> Option<Task> {
        let tried: std::collections::HashSet<String> = state
            .completed
            .iter()
            .chain(&state.failed)
            .map(|t| Task::from_user(t.as_str()).key())
            .collect();
        self.env
            .seed_tasks()
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
        let started = Instant::now();
        let record = self
            .library
            .store()
            .create_episode(&NewEpisode {
                task: serde_json::to_value(&task).expect("a task serializes"),
                source,
            })
            .await?;
        let mut run = Run {
            id: record.id,
            namespace: namespace_of(&task),
            task,
            retrieved: Vec::new(),
            rounds: 0,
            resumed: false,
            started,
            timing: Timing::default(),
        };
        run.timing.store_ms += ms(started);
        for exchange in proposal {
            self.exchange(&mut run, exchange, None).await?;
        }
        Ok(run)
    }

    /// Runs an episode from `position` to its end.
    async fn drive(&self, mut run: Run, position: Position) -> Result<EpisodeReport, AgentError> {
        self.notify(Progress::Episode {
            id: run.id.clone(),
            task: run.task.description.clone(),
            resumed: run.resumed,
        });
        match &position.retrieved {
            None => {
                self.retrieve(&mut run).await?;
                if let Some(existing) = self.existing_solution(&mut run).await? {
                    return self.reuse(run, existing).await;
                }
            }
            Some(names) => {
                for name in names {
                    if let Ok(detail) = self.library.get(name).await {
                        run.retrieved.push(detail.skill);
                    }
                }
            }
        }
        let mut feedback = position.feedback;
        if let Some((round, code)) = position.pending {
            match SkillSource::parse(&code, None) {
                Ok(source) => match self.evaluate(&mut run, round, &source).await? {
                    Verdict::Pass(prepared) => return self.admit(run, *prepared).await,
                    Verdict::Existing(skill) => return self.reuse(run, *skill).await,
                    Verdict::Retry(problems) => {
                        feedback = Some(Feedback {
                            previous_reply: code,
                            problems,
                        });
                    }
                },
                Err(e) => {
                    feedback = Some(Feedback {
                        previous_reply: code,
                        problems: e.to_string(),
                    })
                }
            }
        }
        while run.rounds < self.config.max_rounds {
            run.rounds += 1;
            let round = run.rounds;
            self.notify(Progress::Round {
                round,
                max: self.config.max_rounds,
            });
            let briefs: Vec<SkillBrief> = run.retrieved.iter().map(brief).collect();
            let t = Instant::now();
            let attempt = write_skill(
                self.model.as_ref(),
                self.env.as_ref(),
                &run.task,
                &briefs,
                feedback.as_ref(),
            )
            .await?;
            run.timing.llm_ms += ms(t);
            self.exchange(&mut run, &attempt.exchange, Some(round))
                .await?;
            let source = match attempt.result {
                Err(problem) => {
                    self.log(
                        &mut run,
                        EventKind::Attempt,
                        json!({"round": round, "error": problem.to_string()}),
                    )
                    .await?;
                    let problems = problem.to_string();
                    self.verdict(&mut run, round, false, &problems).await?;
                    feedback = Some(Feedback {
                        previous_reply: attempt.exchange.reply,
                        problems,
                    });
                    continue;
                }
                Ok(extracted) => extracted,
            };
            self.log(
                &mut run,
                EventKind::Attempt,
                json!({"round": round, "skill": source.skill.name, "code": source.skill.code,
                       "notes": source.notes}),
            )
            .await?;
            match self.evaluate(&mut run, round, &source.skill).await? {
                Verdict::Pass(prepared) => return self.admit(run, *prepared).await,
                Verdict::Existing(skill) => return self.reuse(run, *skill).await,
                Verdict::Retry(problems) => {
                    feedback = Some(Feedback {
                        previous_reply: attempt.exchange.reply,
                        problems,
                    });
                }
            }
        }
        let ending = Ending {
            status: EpisodeStatus::Failed,
            skill: None,
            calls: Vec::new(),
            problems: feedback.map(|f| f.problems),
            reused: None,
        };
        self.finish(run, ending).await
    }

    /// Searches the library for the task and journals what it found.
    async fn retrieve(&self, run: &mut Run) -> Result<(), AgentError> {
        let t = Instant::now();
        let filter = SearchFilter {
            namespace: Some(run.namespace.clone()),
            statuses: vec![SkillStatus::Active],
        };
        let hits = self
            .library
            .search(&run.task.description, self.config.retrieve, filter)
            .await?;
        run.timing.retrieval_ms += ms(t);
        let skills: Vec<Value> = hits
            .iter()
            .map(|h| json!({"name": qualified(&h.skill), "score": h.score}))
            .collect();
        run.retrieved = hits
            .into_iter()
            .filter(|h| h.skill.version.runnable)
            .map(|h| h.skill)
            .collect();
        self.log(
            run,
            EventKind::Retrieval,
            json!({"query": run.task.description, "skills": skills}),
        )
        .await
    }

    /// A retrieved skill that already passes the task's check, if the task has one.
    async fn existing_solution(&self, run: &mut Run) -> Result<Option<Skill>, AgentError> {
        if run.task.tests.is_empty() {
            return Ok(None);
        }
        let t = Instant::now();
        let mut found = None;
        for skill in &run.retrieved {
            let source = parse_stored(skill)?;
            let bundle = match self.library.bundle(&source, &run.namespace).await {
                Ok(bundle) => bundle,
                Err(e) => {
                    tracing::debug!("cannot bundle {}: {e}", source.name);
                    continue;
                }
            };
            if check_passed(&self.check(&bundle, &run.task).await?) {
                found = Some(skill.clone());
                break;
            }
        }
        run.timing.validation_ms += ms(t);
        Ok(found)
    }

    /// Validates one attempt: the library's checks, the task's, the critic's, and dedup.
    async fn evaluate(
        &self,
        run: &mut Run,
        round: u32,
        source: &SkillSource,
    ) -> Result<Verdict, AgentError> {
        let t = Instant::now();
        let options = AddOptions {
            namespace: Some(run.namespace.clone()),
            provenance: Provenance {
                task: Some(run.task.description.clone()),
                episode: Some(run.id.clone()),
                model: Some(self.model.model_id().to_string()),
            },
        };
        let prepared = match self.library.prepare(source.clone(), options).await {
            Ok(prepared) => prepared,
            Err(LibraryError::Duplicate { existing, .. }) => {
                let skill = self.library.get(&existing).await?.skill;
                let verdict = self.reuse_if_it_solves(run, round, skill).await;
                run.timing.validation_ms += ms(t);
                return verdict;
            }
            Err(e) if is_rejection(&e) => {
                run.timing.validation_ms += ms(t);
                let report = match &e {
                    LibraryError::TestsFailed { report, .. }
                    | LibraryError::DependentRegression { report, .. } => json!(report),
                    _ => Value::Null,
                };
                self.log(
                    run,
                    EventKind::SandboxRun,
                    json!({"round": round, "rejected": e.to_string(), "tests": report}),
                )
                .await?;
                let problems = e.to_string();
                self.verdict(run, round, false, &problems).await?;
                return Ok(Verdict::Retry(problems));
            }
            Err(e) => return Err(e.into()),
        };
        if prepared.unchanged.is_some() {
            let skill = self
                .library
                .get(&format!("{}/{}", prepared.namespace, source.name))
                .await?
                .skill;
            let verdict = self.reuse_if_it_solves(run, round, skill).await;
            run.timing.validation_ms += ms(t);
            return verdict;
        }
        let check = self.check(&prepared.bundle, &run.task).await?;
        run.timing.validation_ms += ms(t);
        self.log(
            run,
            EventKind::SandboxRun,
            json!({"round": round, "tests": prepared.report, "task_check": check,
                   "dependents": prepared.dependents.iter().map(|r| &r.skill).collect::<Vec<_>>()}),
        )
        .await?;
        if !check_passed(&check) {
            let problems = format!(
                "the skill's own tests pass, but the task's check fails:\n{}",
                report_summary(&check)
            );
            self.verdict(run, round, false, &problems).await?;
            return Ok(Verdict::Retry(problems));
        }
        if self.config.critic {
            let t = Instant::now();
            let judged = critique(
                self.model.as_ref(),
                &run.task,
                &source.code,
                &prepared.report,
            )
            .await;
            run.timing.llm_ms += ms(t);
            match judged {
                Ok(judged) => {
                    self.exchange(run, &judged.exchange, Some(round)).await?;
                    self.log(
                        run,
                        EventKind::Critique,
                        json!({"round": round, "success": judged.critique.success,
                               "feedback": judged.critique.feedback,
                               "advisory": !run.task.tests.is_empty()}),
                    )
                    .await?;
                    if !judged.critique.success && run.task.tests.is_empty() {
                        let problems = format!(
                            "a reviewer says the skill does not do the task: {}",
                            judged.critique.feedback
                        );
                        self.verdict(run, round, false, &problems).await?;
                        return Ok(Verdict::Retry(problems));
                    }
                }
                Err(AgentError::NoVerdict { exchange, detail }) => {
                    self.exchange(run, &exchange, Some(round)).await?;
                    tracing::info!("continuing without the critic: {detail}");
                }
                Err(e) => return Err(e),
            }
        }
        let t = Instant::now();
        let duplicate = self.near_duplicate(run, &prepared).await?;
        run.timing.validation_ms += ms(t);
        if let Some(existing) = duplicate {
            let problems = format!("behaves like {}", qualified(&existing));
            self.verdict(run, round, true, &problems).await?;
            return Ok(Verdict::Existing(Box::new(existing)));
        }
        self.verdict(run, round, true, "").await?;
        Ok(Verdict::Pass(Box::new(prepared)))
    }

    /// The attempt is exactly a skill the library has: that skill is the answer if it passes
    /// the task's check; otherwise the coder hears why.
    async fn reuse_if_it_solves(
        &self,
        run: &mut Run,
        round: u32,
        skill: Skill,
    ) -> Result<Verdict, AgentError> {
        let name = qualified(&skill);
        let bundle = self
            .library
            .bundle(&parse_stored(&skill)?, &skill.record.namespace)
            .await?;
        let check = self.check(&bundle, &run.task).await?;
        if check_passed(&check) {
            self.verdict(run, round, true, &format!("identical to {name}"))
                .await?;
            return Ok(Verdict::Existing(Box::new(skill)));
        }
        let problems = format!(
            "this is exactly the library's {name}, which fails the task's check:\n{}",
            report_summary(&check)
        );
        self.verdict(run, round, false, &problems).await?;
        Ok(Verdict::Retry(problems))
    }

    /// An active skill that behaves like the prepared one: similar description, passes the
    /// new skill's tests and the task's check, and the new skill passes its tests.
    async fn near_duplicate(
        &self,
        run: &Run,
        prepared: &Prepared,
    ) -> Result<Option<Skill>, AgentError> {
        let new = &prepared.source;
        let filter = SearchFilter {
            namespace: Some(prepared.namespace.clone()),
            statuses: vec![SkillStatus::Active],
        };
        let candidates: Vec<Skill> = self
            .library
            .search(&new.description, 3, filter)
            .await?
            .into_iter()
            .map(|hit| hit.skill)
            .filter(|existing| {
                let name = &existing.record.name;
                *name != new.name
                    && existing.version.runnable
                    && !prepared.bundle.dependencies.contains(name)
            })
            .collect();
        if candidates.is_empty() {
            return Ok(None);
        }
        // One embedding call: the new description first, then each candidate's.
        let mut texts = vec![new.description.clone()];
        texts.extend(candidates.iter().map(|c| c.version.description.clone()));
        let vectors = self.library.embed(texts).await?;
        for (existing, vector) in candidates.into_iter().zip(&vectors[1..]) {
            let similarity: f32 = vectors[0].iter().zip(vector).map(|(a, b)| a * b).sum();
            if similarity < self.config.duplicate_similarity {
                continue;
            }
            let old = parse_stored(&existing)?;
            let Ok(old_bundle) = self.library.bundle(&old, &prepared.namespace).await else {
                continue;
            };
            // The existing skill, answering to the new name, against the new tests; and the
            // new skill, answering to the old name, against the old tests.
            let old_as_new = aliased(&old_bundle, &new.name);
            let new_as_old = aliased(&prepared.bundle, &old.name);
            let reports = self
                .library
                .run_tests(vec![(old_as_new, new.clone()), (new_as_old, old.clone())])
                .await?;
            let task_check = self.check(&old_bundle, &run.task).await?;
            if reports.iter().all(TestReport::all_passed) && check_passed(&task_check) {
                return Ok(Some(existing));
            }
        }
        Ok(None)
    }

    /// Runs the environment's check of the task on a blocking thread.
    async fn check(&self, bundle: &Bundle, task: &Task) -> Result<TestReport, AgentError> {
        let env = Arc::clone(&self.env);
        let sandbox = Arc::clone(self.library.sandbox());
        let (bundle, task) = (bundle.clone(), task.clone());
        let report = tokio::task::spawn_blocking(move || env.check(&sandbox, &bundle, &task))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
        Ok(report)
    }

    /// Admits a validated skill: one transaction for the version, the stats of the skills it
    /// calls, the journal and the episode's end; then the index.
    async fn admit(&self, mut run: Run, prepared: Prepared) -> Result<EpisodeReport, AgentError> {
        let t = Instant::now();
        let store = self.library.store();
        let mut tx = store.begin().await?;
        let added = self.library.write(&mut tx, &prepared).await?;
        let latency = Duration::from_secs_f64(
            prepared.report.tests.iter().map(|t| t.wall_ms).sum::<f64>() / 1e3,
        );
        for call in &prepared.calls {
            tx.record_call(call.skill_id, true, latency).await?;
        }
        let skill = added.skill.qualified_name();
        tx.append_event(
            &run.id,
            EventKind::Admission.as_str(),
            &json!({"skill": skill, "version": added.version.version, "calls": added.calls,
                    "dependents_retested": added.dependents_retested,
                    "replaced": prepared.replaces}),
        )
        .await?;
        run.timing.store_ms += ms(t);
        let mut report = self.report(
            &run,
            EpisodeStatus::Admitted,
            Some((skill, added.version.version)),
            added.calls.clone(),
            None,
        );
        tx.finish_episode(&run.id, EpisodeStatus::Admitted, &json!(report))
            .await?;
        tx.commit().await?;
        // The index sync comes after the commit; the stored outcome's timing stops before it.
        let t = Instant::now();
        self.library.sync_index().await?;
        report.timing.store_ms += ms(t);
        report.timing.total_ms = ms(run.started);
        self.notify(Progress::Finished(Box::new(report.clone())));
        Ok(report)
    }

    /// Ends the episode with an existing skill as the solution, counting a successful call.
    async fn reuse(&self, run: Run, skill: Skill) -> Result<EpisodeReport, AgentError> {
        let calls = self
            .library
            .store()
            .callees(skill.record.id)
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect();
        let ending = Ending {
            status: EpisodeStatus::SolvedWithExisting,
            skill: Some((qualified(&skill), skill.version.version)),
            calls,
            problems: None,
            reused: Some(skill.record.id),
        };
        self.finish(run, ending).await
    }

    /// Ends the episode in one transaction: the reused skill's stats and verdict, if any, and
    /// the episode's status and report.
    async fn finish(&self, mut run: Run, ending: Ending) -> Result<EpisodeReport, AgentError> {
        let t = Instant::now();
        let mut tx = self.library.store().begin().await?;
        if let (Some(id), Some((name, _))) = (ending.reused, &ending.skill) {
            tx.record_call(id, true, Duration::ZERO).await?;
            tx.append_event(
                &run.id,
                EventKind::Verdict.as_str(),
                &json!({"reused": name}),
            )
            .await?;
        }
        run.timing.store_ms += ms(t);
        let report = self.report(
            &run,
            ending.status,
            ending.skill,
            ending.calls,
            ending.problems,
        );
        tx.finish_episode(&run.id, ending.status, &json!(report))
            .await?;
        tx.commit().await?;
        self.notify(Progress::Finished(Box::new(report.clone())));
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
        let mut timing = run.timing.clone();
        timing.total_ms = ms(run.started);
        let (skill, version) = skill.unzip();
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
            timing,
        }
    }

    async fn log(&self, run: &mut Run, kind: EventKind, payload: Value) -> Result<(), AgentError> {
        let t = Instant::now();
        self.library
            .store()
            .append_event(&run.id, kind.as_str(), &payload)
            .await?;
        run.timing.store_ms += ms(t);
        Ok(())
    }

    async fn verdict(
        &self,
        run: &mut Run,
        round: u32,
        passed: bool,
        problems: &str,
    ) -> Result<(), AgentError> {
        self.log(
            run,
            EventKind::Verdict,
            json!({"round": round, "passed": passed, "problems": problems}),
        )
        .await
    }

    async fn exchange(
        &self,
        run: &mut Run,
        exchange: &Exchange,
        round: Option<u32>,
    ) -> Result<(), AgentError> {
        run.timing.llm_calls += 1;
        run.timing.prompt_tokens += u64::from(exchange.prompt_tokens);
        run.timing.completion_tokens += u64::from(exchange.completion_tokens);
        self.notify(Progress::Model {
            purpose: exchange.purpose,
            prompt_tokens: exchange.prompt_tokens,
            completion_tokens: exchange.completion_tokens,
        });
        let mut payload = exchange.payload();
        payload["round"] = json!(round);
        self.log(run, EventKind::LlmCall, payload).await
    }
}

/// Reads where an unfinished episode stands from its journal.
fn position(events: &[EpisodeEvent]) -> Position {
    let mut position = Position::default();
    let mut last_reply = String::new();
    for event in events {
        let p = &event.payload;
        let round = p["round"].as_u64().unwrap_or(0) as u32;
        match event.kind.as_str() {
            "retrieval" => {
                position.retrieved = Some(
                    p["skills"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s["name"].as_str().map(String::from))
                        .collect(),
                )
            }
            "llm_call" if p["purpose"] == "coder" => {
                last_reply = p["reply"].as_str().unwrap_or_default().to_string();
            }
            "attempt" => {
                position.rounds_done = position.rounds_done.max(round);
                position.pending = p["code"].as_str().map(|code| (round, code.to_string()));
            }
            "verdict" if p["passed"] == false => {
                position.pending = None;
                position.feedback = Some(Feedback {
                    previous_reply: last_reply.clone(),
                    problems: p["problems"].as_str().unwrap_or_default().to_string(),
                });
            }
            _ => {}
        }
    }
    position
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
            | LibraryError::Compose { .. }
            | LibraryError::Skill { .. }
    )
}

/// `bundle` plus a function `alias` that forwards to its root.
fn aliased(bundle: &Bundle, alias: &str) -> Bundle {
    let mut aliased = bundle.clone();
    aliased.source.push_str(&format!(
        "\nfunction {alias}(...args) {{ return {}(...args); }}\n",
        bundle.root
    ));
    aliased.root = alias.to_string();
    aliased
}

fn namespace_of(task: &Task) -> String {
    task.namespace
        .clone()
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
}

fn qualified(skill: &Skill) -> String {
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
    SkillBrief {
        name: skill.record.name.clone(),
        signature: skill.version.signature.clone(),
        description: skill.version.description.replace('\n', " "),
        code: if body.len() <= MAX_BRIEF_CODE {
            body.to_string()
        } else {
            String::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64, kind: &str, payload: Value) -> EpisodeEvent {
        EpisodeEvent {
            id: seq,
            episode_id: "e".into(),
            seq,
            kind: kind.into(),
            payload,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn the_journal_says_where_an_episode_stopped() {
        let retrieval = event(
            1,
            "retrieval",
            json!({"skills": [{"name": "default/words", "score": 0.5}]}),
        );
        let reply1 = event(
            2,
            "llm_call",
            json!({"purpose": "coder", "reply": "first", "round": 1}),
        );
        let attempt1 = event(3, "attempt", json!({"round": 1, "code": "function f() {}"}));
        let failed1 = event(
            4,
            "verdict",
            json!({"round": 1, "passed": false, "problems": "f(1) failed"}),
        );
        let reply2 = event(
            5,
            "llm_call",
            json!({"purpose": "coder", "reply": "second", "round": 2}),
        );
        let attempt2 = event(6, "attempt", json!({"round": 2, "code": "function g() {}"}));
        let passed2 = event(
            7,
            "verdict",
            json!({"round": 2, "passed": true, "problems": ""}),
        );

        // Killed after the first verdict: round 2 starts with its feedback.
        let at = position(&[
            retrieval.clone(),
            reply1.clone(),
            attempt1.clone(),
            failed1.clone(),
        ]);
        assert_eq!(at.retrieved, Some(vec!["default/words".to_string()]));
        assert_eq!(at.rounds_done, 1);
        assert_eq!(at.pending, None);
        let feedback = at.feedback.unwrap();
        assert_eq!(
            (feedback.previous_reply.as_str(), feedback.problems.as_str()),
            ("first", "f(1) failed")
        );

        // Killed during validation or admission of round 2: that code is taken up again.
        let journal = [
            retrieval.clone(),
            reply1,
            attempt1,
            failed1,
            reply2,
            attempt2,
        ];
        let at = position(&journal);
        assert_eq!(at.pending, Some((2, "function g() {}".to_string())));
        let mut with_verdict = journal.to_vec();
        with_verdict.push(passed2);
        assert_eq!(
            position(&with_verdict).pending,
            Some((2, "function g() {}".to_string()))
        );

        // Killed before retrieval finished: start from scratch.
        assert_eq!(position(&[]), Position::default());
        // An attempt whose reply held no code leaves nothing pending.
        let no_code = event(3, "attempt", json!({"round": 1, "error": "no code"}));
        assert_eq!(position(&[retrieval, no_code]).pending, None);
    }
}
