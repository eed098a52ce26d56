//! The agent end to end with a scripted model standing in for the network; everything else is
//! real: the wasmtime sandbox, ONNX embeddings, qdrant-edge and SQLite. Needs
//! `scripts/setup embed`.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{embedder, sandbox};
use serde_json::json;
use skillforge::agent::{
    Agent, AgentConfig, AttemptOutcome, CandidateResult, CodeEnvironment, CrossCheck,
    CrossCheckOutcome, Environment, EpisodeReport, Exchange, JournalEvent, Purpose, Refinement,
    Strategy, Task,
};
use skillforge::library::{AddOptions, Library, LibraryConfig};
use skillforge::llm::{
    ChatRequest, ChatResponse, FinishReason, LanguageModel, LlmError, ScriptedModel, UsageCounter,
};
use skillforge::skill::SkillSource;
use skillforge::store::{
    EpisodeSource, EpisodeStatus, ListFilter, NewEpisode, Provenance, SkillStatus, Store,
};

async fn library(dir: &Path) -> Arc<Library> {
    let mut config = LibraryConfig::new(dir);
    config.load_starter = false;
    Arc::new(Library::open(&config, embedder(), sandbox()).await.unwrap())
}

/// The agent without the cross-check of example checks: these tests script exactly the
/// coder's rounds (the cross-check has tests of its own, at the end of this file).
fn agent(library: &Arc<Library>, model: &Arc<ScriptedModel>, critic: bool) -> Agent {
    refining(library, model, critic, Refinement::default())
}

/// [`agent`] with the rounds after a failed one asked `refinement`'s way.
fn refining(
    library: &Arc<Library>,
    model: &Arc<ScriptedModel>,
    critic: bool,
    refinement: Refinement,
) -> Agent {
    let config = AgentConfig {
        critic,
        cross_check: CrossCheck::off(),
        refinement,
        ..AgentConfig::default()
    };
    Agent::new(
        library.clone(),
        model.clone(),
        Arc::new(CodeEnvironment::new("arithmetic")),
        config,
    )
}

/// A reply the way a small model writes it: prose, a fenced block, usage after the function.
fn reply(code: &str) -> String {
    format!(
        "Sure! Here is the function:\n\n```javascript\n{code}\n\nconsole.log(example());\n```\n\nThis works because it is simple."
    )
}

const DOUBLE: &str = "/**\n * Doubles a number.\n * @param {number} x\n * @returns {number}\n * @example double(2) => 4\n * @example double(-3) => -6\n */\nfunction double(x) {\n  return x * 2;\n}";

const QUADRUPLE: &str = "/**\n * Multiplies a number by four by doubling it twice.\n * @param {number} x\n * @returns {number}\n * @example quadruple(3) => 12\n */\nfunction quadruple(x) {\n  return double(double(x));\n}";

/// A coder call as the journal records it.
fn coder_call(round: u32, reply: &str) -> JournalEvent {
    JournalEvent::LlmCall {
        round: Some(round),
        exchange: Exchange {
            purpose: Purpose::Coder,
            model: "scripted".into(),
            messages: Vec::new(),
            reply: reply.into(),
            prompt_tokens: 10,
            completion_tokens: 10,
            latency_ms: 1,
            finish_reason: FinishReason::Stop,
        },
        strategy: None,
    }
}

/// A round's journalled code, with the function it chose.
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

/// Appends `events` to an episode's journal, as a run would have.
async fn append(store: &Store, episode: &str, events: &[JournalEvent]) {
    for event in events {
        let (kind, payload) = event.record();
        store.append_event(episode, &kind, &payload).await.unwrap();
    }
}

/// Starts an episode for `task` as a run would, with nothing journalled yet.
async fn start_episode(store: &Store, task: &Task) -> String {
    store
        .create_episode(&NewEpisode {
            task: serde_json::to_value(task).unwrap(),
            source: EpisodeSource::User,
        })
        .await
        .unwrap()
        .id
}

const TRIPLE: &str = "/**\n * Triples a number.\n * @example triple(2) => 6\n */\nfunction triple(x) {\n  return x * 3;\n}";

const CRITIC_OK: &str = r#"{"success": true, "feedback": "Correct."}"#;

/// A stub to complete (as the suites give them) that builds on a library skill: the model's
/// copy of the skill in its reply is dropped, so the admitted skill calls the library's
/// `double` instead of carrying its own.
#[tokio::test]
async fn a_reply_repeating_a_library_skill_is_admitted_calling_the_library_one() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let copy_and_answer = "/**\n * Doubles a number.\n */\nfunction double(x) {\n  return x * 2;\n}\n\n/**\n * Multiply a number by four, by doubling it twice with double(x).\n */\nfunction quadruple(x) {\n  return double(double(x));\n}";
    let model = Arc::new(ScriptedModel::queue([
        reply(DOUBLE),
        format!("```javascript\n{copy_and_answer}\n```"),
    ]));
    let agent = agent(&library, &model, false);
    let first = agent
        .solve(
            Task::from_user("Double a number")
                .with_name("double")
                .with_example("double(21)", "42"),
        )
        .await
        .unwrap();
    assert_eq!(first.status, EpisodeStatus::Admitted, "{first:#?}");
    let stub = "/**\n * Multiply a number by four, by doubling it twice with double(x).\n * >>> quadruple(5)\n * 20\n */\nfunction quadruple(x) {\n";
    let second = agent
        .solve(Task::from_text(stub, Some("quadruple")).unwrap())
        .await
        .unwrap();
    assert_eq!(second.status, EpisodeStatus::Admitted, "{second:#?}");
    assert_eq!(second.calls, ["double"], "{second:#?}");
    let system = &model.requests()[1].messages[0].content;
    assert!(system.contains("- double("), "{system}");
    let stored = library.get("quadruple").await.unwrap().skill;
    assert!(
        !stored.version.code.contains("function double"),
        "{}",
        stored.version.code
    );
    assert_eq!(
        library.get("double").await.unwrap().called_by[0].name,
        "quadruple"
    );
}

#[tokio::test]
async fn a_skill_learned_in_one_episode_is_called_by_a_later_one() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    // The critic is on, but both tasks have a check that passes: it is never asked.
    let model = Arc::new(ScriptedModel::queue([reply(DOUBLE), reply(QUADRUPLE)]));
    let agent = agent(&library, &model, true);

    let first = agent
        .solve(
            Task::from_user("Double a number")
                .with_name("double")
                .with_example("double(21)", "42"),
        )
        .await
        .unwrap();
    assert_eq!(first.status, EpisodeStatus::Admitted, "{first:#?}");
    assert_eq!(first.skill.as_deref(), Some("default/double"));
    assert_eq!(first.rounds, 1);

    let second = agent
        .solve(
            Task::from_user("Multiply a number by four")
                .with_name("quadruple")
                .with_example("quadruple(5)", "20"),
        )
        .await
        .unwrap();
    assert_eq!(second.status, EpisodeStatus::Admitted, "{second:#?}");
    assert_eq!(second.calls, ["double"]);
    assert!(second.retrieved.contains(&"default/double".to_string()));

    // The coder saw the learned skill's code, and the call graph records the call.
    assert_eq!(
        model.requests().len(),
        2,
        "one coder call per task, no critic"
    );
    let coder_prompt = &model.requests()[1].messages[1].content;
    assert!(
        coder_prompt.contains("function double(x)"),
        "{coder_prompt}"
    );
    let double = library.get("double").await.unwrap();
    assert_eq!(double.called_by[0].name, "quadruple");
    // Two runs of double: tried as the answer to quadruple's task (not its answer: a miss),
    // then called by quadruple's passing tests.
    let stats = &double.skill.stats;
    assert_eq!(
        (stats.calls, stats.successes, stats.failures, stats.misses),
        (2, 1, 0, 1)
    );

    // The journal has every step, in order, ending with the admission.
    let store = library.store();
    let kinds: Vec<String> = store
        .episode_events(&second.episode)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    let expected = [
        "retrieval",
        "llm_call",
        "attempt",
        "sandbox_run",
        "verdict",
        "admission",
    ];
    assert_eq!(kinds, expected);
    let record = store.episode(&second.episode).await.unwrap();
    assert_eq!(record.status, EpisodeStatus::Admitted);
    assert_eq!(record.outcome.unwrap()["skill"], "default/quadruple");
}

#[tokio::test]
async fn a_failing_attempt_is_fixed_by_refinement() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let wrong = DOUBLE.replace("x * 2", "x + 2");
    let model = Arc::new(ScriptedModel::queue([
        "I am not sure how to do that.".to_string(),
        reply(&wrong),
        reply(DOUBLE),
    ]));
    let agent = refining(&library, &model, false, Refinement::Revise);
    let report = agent
        .solve(Task::from_user("Double a number").with_name("double"))
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(report.rounds, 3);

    let requests = model.requests();
    // Round 2 was told there was no code; round 3 which test failed and why.
    let round2 = &requests[1].messages.last().unwrap().content;
    assert!(round2.contains("no JavaScript code"), "{round2}");
    let round3 = &requests[2].messages.last().unwrap().content;
    assert!(round3.contains("double(-3)"), "{round3}");
    assert_eq!(requests[2].messages[2].content, reply(&wrong));
}

#[tokio::test]
async fn rounds_run_out_into_a_failed_episode() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let wrong = reply(&DOUBLE.replace("x * 2", "x + 2"));
    let config = AgentConfig::default();
    let limit = config.max_rounds + config.repeat_allowance;
    let model = Arc::new(ScriptedModel::queue(vec![wrong; limit as usize]));
    let agent = agent(&library, &model, false);
    let report = agent
        .solve(Task::from_user("Double a number").with_name("double"))
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Failed);
    // Every round after the first repeated it: two of those rounds were given back.
    assert_eq!(report.rounds, limit);
    assert_eq!(model.requests().len(), limit as usize);
    // Rounds 2-6 repeated round 1's code: not run again, and said so.
    let problems = report.problems.unwrap();
    assert!(
        problems.contains("repeated round 1's code unchanged"),
        "{problems}"
    );
    assert!(library.get("double").await.is_err(), "nothing admitted");
}

#[tokio::test]
async fn existing_skills_and_near_duplicates_are_reused_not_admitted() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    library
        .add(
            SkillSource::parse(DOUBLE, None).unwrap(),
            AddOptions::default(),
        )
        .await
        .unwrap();

    // A task whose check the library already passes needs no model call at all.
    let silent = Arc::new(ScriptedModel::queue(Vec::<String>::new()));
    let report = agent(&library, &silent, false)
        .solve(
            Task::from_user("Return twice the given number")
                .with_name("twiceOf")
                .with_example("twiceOf(5)", "10"),
        )
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::SolvedWithExisting);
    assert_eq!(report.skill.as_deref(), Some("default/double"));
    assert!(silent.requests().is_empty());

    // Without a check, the coder writes a skill that behaves exactly like `double`; the
    // task's words match double's description and the critic, shown double's code, agrees.
    let twice = "/**\n * Doubles a number.\n * @example twice(4) => 8\n * @test zero: assert.equal(twice(0), 0)\n */\nfunction twice(n) {\n  return n + n;\n}";
    let model = Arc::new(ScriptedModel::queue([
        reply(twice),
        r#"{"success": true, "feedback": "`twice` returns n + n."}"#.into(),
        r#"{"success": true, "feedback": "`double` returns x * 2."}"#.to_string(),
    ]));
    let report = agent(&library, &model, true)
        .solve(Task::from_user("Double a number"))
        .await
        .unwrap();
    assert_eq!(
        report.status,
        EpisodeStatus::SolvedWithExisting,
        "{report:#?}"
    );
    assert_eq!(report.skill.as_deref(), Some("default/double"));
    assert!(library.get("twice").await.is_err());
    assert_eq!(library.get("double").await.unwrap().skill.stats.calls, 2);
}

#[tokio::test]
async fn an_episode_killed_mid_admission_resumes_without_a_new_model_call() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let store = library.store();
    let task = Task::from_user("Double a number").with_name("double");

    // The journal a process leaves when it is killed during admission: the episode is
    // running, the attempt is journalled, and the admission transaction never committed.
    let episode = store
        .create_episode(&NewEpisode {
            task: serde_json::to_value(&task).unwrap(),
            source: EpisodeSource::User,
        })
        .await
        .unwrap();
    let journal = [
        JournalEvent::Retrieval {
            query: task.description.clone(),
            skills: Vec::new(),
        },
        coder_call(1, &reply(DOUBLE)),
        attempt(1, "double", DOUBLE),
    ];
    append(store, &episode.id, &journal).await;
    let prepared = library
        .prepare(
            SkillSource::parse(DOUBLE, None).unwrap(),
            AddOptions {
                namespace: None,
                provenance: Provenance::default(),
            },
        )
        .await
        .unwrap();
    {
        let mut tx = store.begin().await.unwrap();
        library.write(&mut tx, &prepared).await.unwrap();
        let (kind, payload) = JournalEvent::Admission {
            skill: "default/double".into(),
            version: 1,
            calls: Vec::new(),
            dependents_retested: Vec::new(),
            replaced: None,
        }
        .record();
        tx.append_event(&episode.id, &kind, &payload).await.unwrap();
        // Dropped without commit: what a kill does to an open transaction.
    }
    assert!(library.get("double").await.is_err());

    // The restarted agent has a model that must not be called.
    let silent = Arc::new(ScriptedModel::queue(Vec::<String>::new()));
    let reports = agent(&library, &silent, false)
        .resume_unfinished()
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report.episode, episode.id);
    assert!(report.resumed);
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert!(silent.requests().is_empty());

    let double = library.get("double").await.unwrap();
    assert_eq!(double.skill.version.version, 1);
    let events = store.episode_events(&episode.id).await.unwrap();
    let admissions = events.iter().filter(|e| e.kind == "admission").count();
    assert_eq!(admissions, 1);
    assert!(store.unfinished_episodes().await.unwrap().is_empty());
}

#[tokio::test]
async fn when_the_curriculum_proposes_nothing_usable_run_works_on_warm_up_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let env = CodeEnvironment::new("arithmetic");
    let first = env.seed_tasks().remove(0);
    let code = "/**\n * Product of a list.\n * @example product([2, 5]) => 10\n */\nfunction product(xs) {\n  return xs.reduce((p, x) => p * x, 1);\n}";
    // Three proposals that are not JSON, then the coder's answer to the warm-up task.
    let model = Arc::new(ScriptedModel::queue([
        "How about sorting?".to_string(),
        "Sorting!".to_string(),
        "I said sorting.".to_string(),
        reply(code),
    ]));
    let reports = agent(&library, &model, false).run(1).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].task.description, first.description);
    assert_eq!(
        reports[0].status,
        EpisodeStatus::Admitted,
        "{:#?}",
        reports[0]
    );
    // The failed proposals are in the episode's journal.
    let events = library
        .store()
        .episode_events(&reports[0].episode)
        .await
        .unwrap();
    let curriculum_calls = events
        .iter()
        .filter(|e| e.kind == "llm_call" && e.payload["purpose"] == "curriculum")
        .count();
    assert_eq!(curriculum_calls, 3);
}

#[tokio::test]
async fn rewriting_a_library_skill_that_fails_the_task_is_sent_back() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    // The library holds exactly what the coder will write.
    let stored = skillforge::agent::extract(&reply(DOUBLE), None)
        .unwrap()
        .skill;
    library.add(stored, AddOptions::default()).await.unwrap();
    let plus_one = "/**\n * Doubles a number and adds one.\n * @example double(3) => 7\n */\nfunction double(x) {\n  return x * 2 + 1;\n}";
    let model = Arc::new(ScriptedModel::queue([reply(DOUBLE), reply(plus_one)]));
    let report = agent(&library, &model, false)
        .solve(
            Task::from_user("Double a number, plus one")
                .with_name("double")
                .with_example("double(3)", "7"),
        )
        .await
        .unwrap();
    let requests = model.requests();
    let round2 = &requests[1].messages.last().unwrap().content;
    assert!(
        round2.contains("exactly the library's default/double"),
        "{round2}"
    );
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(report.version, Some(2));
}

/// Resume takes up a journalled attempt for the function its round chose: the task asked for
/// `double`, and the reply also held `quadruple`, which calls it (a fresh parse would take
/// the function nothing calls, `quadruple`).
#[tokio::test]
async fn a_resumed_attempt_evaluates_the_function_its_round_chose() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let store = library.store();
    let task = Task::from_user("Double a number")
        .with_name("double")
        .with_example("double(21)", "42");
    let both = format!("{DOUBLE}\n\n{QUADRUPLE}");
    let extracted = skillforge::agent::extract(&reply(&both), Some("double"))
        .unwrap()
        .skill;
    assert_eq!(extracted.name, "double");
    assert_eq!(
        SkillSource::parse(&extracted.code, None).unwrap().name,
        "quadruple"
    );

    // Killed after the attempt was journalled, before its verdict.
    let episode = start_episode(store, &task).await;
    let journal = [
        JournalEvent::Retrieval {
            query: task.description.clone(),
            skills: Vec::new(),
        },
        coder_call(1, &reply(&both)),
        attempt(1, &extracted.name, &extracted.code),
    ];
    append(store, &episode, &journal).await;

    let silent = Arc::new(ScriptedModel::queue(Vec::<String>::new()));
    let reports = agent(&library, &silent, false)
        .resume_unfinished()
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].status,
        EpisodeStatus::Admitted,
        "{:#?}",
        reports[0]
    );
    assert_eq!(reports[0].skill.as_deref(), Some("default/double"));
    assert!(silent.requests().is_empty(), "the coder was asked again");
    assert!(library.get("quadruple").await.is_err());
}

/// An episode whose journal cannot be read does not stop `run`: it is marked interrupted
/// with the reason journalled, other work goes on, and after three failed resumes it is
/// abandoned as failed.
#[tokio::test]
async fn an_episode_that_cannot_resume_is_interrupted_then_abandoned_and_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let store = library.store();
    let task = Task::from_user("Double a number").with_name("double");
    let broken = start_episode(store, &task).await;
    store
        .append_event(&broken, "attempt", &json!({"round": "one", "code": 7}))
        .await
        .unwrap();
    // And one whose task is not a task.
    let taskless = store
        .create_episode(&NewEpisode {
            task: json!({"what": "no description"}),
            source: EpisodeSource::Curriculum,
        })
        .await
        .unwrap()
        .id;

    // The curriculum proposes a task and the coder solves it: new work.
    let proposal = json!({"task": "Triple a number", "name": "triple",
                          "examples": [["triple(5)", 15]]});
    let model = Arc::new(ScriptedModel::queue([proposal.to_string(), reply(TRIPLE)]));
    let agent = agent(&library, &model, false);
    let reports = agent.run(1).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].task.description, "Triple a number");
    assert_eq!(
        reports[0].status,
        EpisodeStatus::Admitted,
        "{:#?}",
        reports[0]
    );

    for (episode, why) in [(&broken, "not readable"), (&taskless, "holds no task")] {
        let record = store.episode(episode).await.unwrap();
        assert_eq!(record.status, EpisodeStatus::Interrupted);
        let last = store.episode_events(episode).await.unwrap().pop().unwrap();
        assert_eq!(last.kind, "interrupted");
        let reason = last.payload["error"].as_str().unwrap();
        assert!(reason.contains(why), "{reason}");
    }

    // Two more failed resumes abandon it; the loop never stops on it.
    assert!(agent.resume_unfinished().await.unwrap().is_empty());
    assert_eq!(
        store.episode(&broken).await.unwrap().status,
        EpisodeStatus::Interrupted
    );
    assert!(agent.resume_unfinished().await.unwrap().is_empty());
    for episode in [&broken, &taskless] {
        let record = store.episode(episode).await.unwrap();
        assert_eq!(record.status, EpisodeStatus::Failed);
        let abandoned = record.outcome.unwrap()["abandoned"].to_string();
        assert!(abandoned.contains("3 runs"), "{abandoned}");
        let stops = store
            .episode_events(episode)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.kind == "interrupted")
            .count();
        assert_eq!(stops, 3);
    }
    assert!(store.unfinished_episodes().await.unwrap().is_empty());
}

/// A model that answers its first call with a body that is not a chat completion, then
/// hands over to a scripted model.
struct GarbledOnce {
    garbled: std::sync::atomic::AtomicBool,
    then: ScriptedModel,
}

#[async_trait::async_trait]
impl LanguageModel for GarbledOnce {
    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, LlmError> {
        if !self.garbled.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(LlmError::MalformedResponse {
                url: "http://127.0.0.1:9/v1/chat/completions".into(),
                detail: "expected value at line 1 column 1: <html>".into(),
            });
        }
        self.then.complete(req).await
    }

    fn model_id(&self) -> &str {
        self.then.model_id()
    }

    fn usage(&self) -> Arc<UsageCounter> {
        self.then.usage()
    }
}

#[tokio::test]
async fn a_malformed_model_reply_is_a_failed_round_not_a_stuck_episode() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let model = Arc::new(GarbledOnce {
        garbled: Default::default(),
        then: ScriptedModel::queue([reply(DOUBLE)]),
    });
    let agent = Agent::new(
        library.clone(),
        model,
        Arc::new(CodeEnvironment::new("arithmetic")),
        AgentConfig {
            critic: false,
            ..AgentConfig::default()
        },
    );
    let report = agent
        .solve(Task::from_user("Double a number").with_name("double"))
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(report.rounds, 2);
    let events = library
        .store()
        .episode_events(&report.episode)
        .await
        .unwrap();
    let first = events.iter().find(|e| e.kind == "attempt").unwrap();
    assert_eq!(first.payload["round"], 1);
    let error = first.payload["error"].as_str().unwrap();
    assert!(error.contains("could not be read"), "{error}");
}

/// A curriculum reply that is not a chat completion does not stop `run`: it works on a
/// warm-up task instead.
#[tokio::test]
async fn a_malformed_curriculum_reply_does_not_stop_run() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let first = CodeEnvironment::new("arithmetic").seed_tasks().remove(0);
    let code = "/**\n * Product of a list.\n * @example product([2, 5]) => 10\n */\nfunction product(xs) {\n  return xs.reduce((p, x) => p * x, 1);\n}";
    let model = Arc::new(GarbledOnce {
        garbled: Default::default(),
        then: ScriptedModel::queue([reply(code)]),
    });
    let agent = Agent::new(
        library.clone(),
        model,
        Arc::new(CodeEnvironment::new("arithmetic")),
        AgentConfig {
            critic: false,
            ..AgentConfig::default()
        },
    );
    let reports = agent.run(1).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].task.description, first.description);
    assert_eq!(
        reports[0].status,
        EpisodeStatus::Admitted,
        "{:#?}",
        reports[0]
    );
}

/// Every run of a stored skill counts: a retrieved skill tried as the answer to another task
/// and failing its check is a recorded miss, not a failure; the skill is not weak for it,
/// and its success rate stays that of its own runs.
#[tokio::test]
async fn a_retrieved_skill_that_fails_another_tasks_check_records_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    library
        .add(
            SkillSource::parse(DOUBLE, None).unwrap(),
            AddOptions::default(),
        )
        .await
        .unwrap();
    let model = Arc::new(ScriptedModel::queue([reply(TRIPLE)]));
    let report = agent(&library, &model, false)
        .solve(
            Task::from_user("Triple a number")
                .with_name("triple")
                .with_example("triple(5)", "15"),
        )
        .await
        .unwrap();
    assert!(report.retrieved.contains(&"default/double".to_string()));
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    let stats = library.get("double").await.unwrap().skill.stats;
    assert_eq!(
        (stats.calls, stats.successes, stats.failures, stats.misses),
        (1, 0, 0, 1)
    );
    assert_eq!(stats.success_rate(), None);
    // Its own tests, run once, pass: the curriculum sees every call of it succeed.
    library.verify(&["double".to_string()]).await.unwrap();
    let state = agent(&library, &model, false)
        .curriculum_state()
        .await
        .unwrap();
    let double = state.library.iter().find(|e| e.name == "double").unwrap();
    assert_eq!(double.success_rate, Some(1.0));
}

/// A skill with a description like a library skill's but other behaviour is admitted, not
/// taken for a duplicate.
#[tokio::test]
async fn a_similar_description_with_other_behaviour_is_admitted() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let nearest = "/**\n * Rounds a number to the nearest integer.\n * @example roundNumber(2.7) => 3\n * @example roundNumber(2.2) => 2\n */\nfunction roundNumber(x) {\n  return Math.round(x);\n}";
    let down = "/**\n * Rounds a number down to the nearest integer.\n * @example roundDown(2.7) => 2\n * @example roundDown(-2.2) => -3\n */\nfunction roundDown(x) {\n  return Math.floor(x);\n}";
    library
        .add(
            SkillSource::parse(nearest, None).unwrap(),
            AddOptions::default(),
        )
        .await
        .unwrap();
    // The descriptions are close enough for the behavioural check to run.
    let new = SkillSource::parse(down, None).unwrap();
    let old = library.get("roundNumber").await.unwrap().skill.version;
    let vectors = library
        .embed(vec![new.description, old.description])
        .await
        .unwrap();
    let similarity: f32 = vectors[0].iter().zip(&vectors[1]).map(|(a, b)| a * b).sum();
    assert!(
        similarity >= AgentConfig::default().duplicate_similarity,
        "{similarity}"
    );
    let model = Arc::new(ScriptedModel::queue([reply(down)]));
    let report = agent(&library, &model, false)
        .solve(Task::from_user("Round a number down"))
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(report.skill.as_deref(), Some("default/roundDown"));
    assert!(
        report
            .retrieved
            .contains(&"default/roundNumber".to_string())
    );
    let stats = library.get("roundNumber").await.unwrap().skill.stats;
    assert_eq!(stats.calls, 0, "another skill's tests are not its own");
}

/// A quarantined skill is not retrieved, not reused as the answer and not called by a new
/// skill.
#[tokio::test]
async fn a_quarantined_skill_is_neither_retrieved_nor_reused_nor_called() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    library
        .add(
            SkillSource::parse(DOUBLE, None).unwrap(),
            AddOptions::default(),
        )
        .await
        .unwrap();
    library
        .set_status("double", SkillStatus::Quarantined)
        .await
        .unwrap();
    let calling = "/**\n * Twice a number.\n * @example twiceOf(2) => 4\n */\nfunction twiceOf(x) {\n  return double(x);\n}";
    let standalone = "/**\n * Doubles a number.\n * @example twiceOf(2) => 4\n */\nfunction twiceOf(x) {\n  return x + x;\n}";
    // Calling it is sent back. (A reply of `double` itself would be renamed to the task's
    // `twiceOf`: the skill always has the task's name.)
    let model = Arc::new(ScriptedModel::queue([reply(calling), reply(standalone)]));
    // `double` would solve this task as it is; quarantined, it is not even retrieved.
    let report = agent(&library, &model, false)
        .solve(
            Task::from_user("Double a number")
                .with_name("twiceOf")
                .with_example("twiceOf(21)", "42"),
        )
        .await
        .unwrap();
    assert!(report.retrieved.is_empty(), "{report:#?}");
    // Not a near duplicate either (same description, same behaviour): it is admitted.
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(
        report.skill.as_deref(),
        Some("default/twiceOf"),
        "{report:#?}"
    );
    assert_eq!(report.rounds, 2);
    assert!(report.calls.is_empty());
    let requests = model.requests();
    let feedback = &requests[1].messages.last().unwrap().content;
    assert!(feedback.contains("quarantined"), "{feedback}");
    let double = library.get("double").await.unwrap();
    assert_eq!(double.skill.stats.calls, 0);
    assert_eq!(double.skill.record.status, SkillStatus::Quarantined);
    assert!(double.called_by.is_empty());
}

/// A run that stops on an error (here the model fails) leaves its episode interrupted, with
/// the reason journalled, and the next run finishes it.
#[tokio::test]
async fn an_episode_stopped_by_an_error_is_interrupted_and_resumed_later() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let failing = Arc::new(ScriptedModel::queue(Vec::<String>::new()));
    let error = agent(&library, &failing, false)
        .solve(Task::from_user("Double a number").with_name("double"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("ran out of replies"), "{error}");
    let store = library.store();
    let open = store.unfinished_episodes().await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].status, EpisodeStatus::Interrupted);
    let last = store
        .episode_events(&open[0].id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.kind, "interrupted");
    assert!(
        last.payload["error"]
            .to_string()
            .contains("ran out of replies")
    );

    let model = Arc::new(ScriptedModel::queue([reply(DOUBLE)]));
    let reports = agent(&library, &model, false)
        .resume_unfinished()
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].episode, open[0].id);
    assert_eq!(
        reports[0].status,
        EpisodeStatus::Admitted,
        "{:#?}",
        reports[0]
    );
    assert_eq!(
        store.episode(&open[0].id).await.unwrap().status,
        EpisodeStatus::Admitted
    );
}

// ---- Issue 12: evidence (the task's check over model-written tests, refinement that
// changes something, no success without a check) ----

fn config(critic: bool, max_rounds: u32) -> AgentConfig {
    AgentConfig {
        critic,
        max_rounds,
        cross_check: CrossCheck::off(),
        ..AgentConfig::default()
    }
}

fn agent_with(library: &Arc<Library>, model: &Arc<ScriptedModel>, config: AgentConfig) -> Agent {
    Agent::new(
        library.clone(),
        model.clone(),
        Arc::new(CodeEnvironment::new("lists")),
        config,
    )
}

/// The strategy of each model call in `events`, in order.
fn coder_strategies(events: &[JournalEvent]) -> Vec<Option<Strategy>> {
    events
        .iter()
        .filter_map(|e| match e {
            JournalEvent::LlmCall { strategy, .. } => Some(*strategy),
            _ => None,
        })
        .collect()
}

async fn journal(library: &Library, episode: &str) -> Vec<JournalEvent> {
    library
        .store()
        .episode_events(episode)
        .await
        .unwrap()
        .iter()
        .map(|e| JournalEvent::from_stored(e).unwrap())
        .collect()
}

/// Right for the task, with one invented test that is wrong (`Math.max()` is -Infinity).
const MAX_WRONG_TEST: &str = "/**\n * Returns the largest element of a list.\n * @param {number[]} xs\n * @example maxElement([2, 9]) => 9\n * @example maxElement([]) => 0\n */\nfunction maxElement(xs) {\n  return Math.max(...xs);\n}";

#[tokio::test]
async fn a_wrong_model_test_is_questioned_then_dropped_when_the_task_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    // Round 2 changes the code but keeps the wrong test (reduce throws on []).
    let round2 = MAX_WRONG_TEST.replace("Math.max(...xs)", "xs.reduce((a, b) => (a > b ? a : b))");
    let model = Arc::new(ScriptedModel::queue([
        reply(MAX_WRONG_TEST),
        reply(&round2),
    ]));
    let task = Task::from_user("Return the maximum element of a list")
        .with_name("maxElement")
        .with_example("maxElement([1, 5, 3])", "5");
    let report = agent_with(&library, &model, config(false, 2))
        .solve(task)
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(report.rounds, 2);

    // Round 2 heard that the test may be wrong, with both sides.
    let told = model.requests()[1].messages.last().unwrap().content.clone();
    for needle in [
        "may be wrong",
        "maxElement([]) => 0",
        "expected 0, got",
        "The task's check passed",
    ] {
        assert!(told.contains(needle), "{needle:?} missing from:\n{told}");
    }
    // Questioned in round 1, dropped in round 2; the stored skill keeps its passing test.
    let events = journal(&library, &report.episode).await;
    let questioned: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            JournalEvent::TestsQuestioned { round, tests } => Some((*round, tests[0].name.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(questioned, [(1, "maxElement([])".to_string())]);
    let dropped = events.iter().find_map(|e| match e {
        JournalEvent::TestsDropped {
            round,
            tests,
            task_check_as_tests,
        } => Some((*round, tests.len(), *task_check_as_tests)),
        _ => None,
    });
    assert_eq!(dropped, Some((2, 1, false)));
    let stored = library.get("maxElement").await.unwrap().skill;
    assert!(
        !stored.version.code.contains("maxElement([])"),
        "{}",
        stored.version.code
    );
    assert!(
        stored
            .version
            .code
            .contains("@example maxElement([2, 9]) => 9")
    );
    assert!(stored.version.code.contains("reduce"));
    assert!(!stored.version.provenance.unchecked, "the task had a check");
}

#[tokio::test]
async fn a_call_of_a_name_nothing_defines_is_said_to_be_no_skill_when_the_tests_refuse_it() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    // Its own tests and the task's check fail alike: the refusal's one line, then the hint.
    let undefined = DOUBLE.replace("x * 2", "twice(x)");
    let model = Arc::new(ScriptedModel::queue([reply(&undefined), reply(DOUBLE)]));
    let task = Task::from_user("Double a number")
        .with_name("double")
        .with_example("double(21)", "42");
    let report = agent_with(&library, &model, config(false, 2))
        .solve(task)
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    let told = model.requests()[1].messages.last().unwrap().content.clone();
    assert!(
        told.contains("twice is not defined")
            && told.contains(
                "`twice` is no function of the library and no global of the sandbox: define it \
                 in your reply, or do its work inline."
            ),
        "{told}"
    );
}

/// A name the model made up that shares what it is about with a retrieved skill's name
/// (`doubleNumber`, `double`) is answered with that skill, and tried in its place: here the
/// code is wrong besides, so the repair fails too and the coder hears of both.
#[tokio::test]
async fn a_made_up_name_close_to_a_library_skills_is_answered_with_that_skill() {
    let dir = tempfile::tempdir().unwrap();
    let library = library_holding(dir.path(), &[DOUBLE]).await;
    let made_up = QUADRUPLE.replace("double(double(x))", "doubleNumber(doubleNumber(x)) + 1");
    let model = Arc::new(ScriptedModel::queue([reply(&made_up), reply(QUADRUPLE)]));
    let task = Task::from_user("Multiply a number by four")
        .with_name("quadruple")
        .with_example("quadruple(3)", "12");
    let report = agent_with(&library, &model, config(false, 2))
        .solve(task)
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    let told = model.requests()[1].messages.last().unwrap().content.clone();
    assert!(
        told.contains("doubleNumber is not defined")
            && told.contains(
                "The library function whose name is closest to `doubleNumber` is `double("
            )
            && told.contains("Doubles a number. Call it if it does what you need.")
            && told.contains(
                "Your code was also run with `double` called where it called `doubleNumber`, \
                 and it failed: skill 'quadruple' failed"
            ),
        "{told}"
    );
    assert_eq!((report.rounds, report.repaired.as_deref()), (2, None));
    let stored = library.get("quadruple").await.unwrap().skill;
    assert!(stored.version.code.contains("double(double(x))"));
    assert!(!stored.version.code.contains("+ 1"));
}

/// A round refused only for calling a made-up name close to a retrieved skill's is judged
/// again with that skill called in its place, and admitted when the check passes; without a
/// check, or with the repair off, it is not.
#[tokio::test]
async fn a_made_up_name_close_to_a_library_skills_is_repaired_when_the_check_passes() {
    let dir = tempfile::tempdir().unwrap();
    let library = library_holding(dir.path(), &[DOUBLE]).await;
    let made_up = QUADRUPLE.replace("double(double(x))", "doubleNumber(doubleNumber(x))");
    let model = Arc::new(ScriptedModel::queue([reply(&made_up)]));
    let task = Task::from_user("Multiply a number by four")
        .with_name("quadruple")
        .with_example("quadruple(3)", "12");
    let report = agent_with(&library, &model, config(false, 2))
        .solve(task.clone())
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!((report.rounds, model.requests().len()), (1, 1));
    assert_eq!(report.calls, ["double"]);
    assert_eq!(
        report.repaired.as_deref(),
        Some("`double` called where it called `doubleNumber`")
    );
    let stored = library.get("quadruple").await.unwrap().skill;
    assert!(stored.version.code.contains("return double(double(x));"));
    let events = journal(&library, &report.episode).await;
    let attempts: Vec<&Vec<String>> = events
        .iter()
        .filter_map(|e| match e {
            JournalEvent::Attempt {
                round: 1,
                outcome: AttemptOutcome::Code { notes, .. },
            } => Some(notes),
            _ => None,
        })
        .collect();
    assert_eq!(attempts.len(), 2, "{events:#?}");
    assert_eq!(
        attempts[1],
        &["repaired: `double` called where it called `doubleNumber`"]
    );

    // With the repair off, the same round is refused and the next one asked for.
    let dir = tempfile::tempdir().unwrap();
    let library = library_holding(dir.path(), &[DOUBLE]).await;
    let model = Arc::new(ScriptedModel::queue([reply(&made_up), reply(QUADRUPLE)]));
    let off = AgentConfig {
        repair: false,
        ..config(false, 2)
    };
    let report = agent_with(&library, &model, off).solve(task).await.unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!((report.rounds, model.requests().len()), (2, 2));
    assert_eq!(report.repaired, None, "the model's own second round");
}

/// A process killed after a repair passed, before the admission committed: resume admits
/// the repaired code, still reported as the runtime's, without asking the model.
#[tokio::test]
async fn a_repair_cut_short_by_a_kill_is_admitted_on_resume_as_a_repair() {
    let dir = tempfile::tempdir().unwrap();
    let library = library_holding(dir.path(), &[DOUBLE]).await;
    let store = library.store();
    let task = Task::from_user("Multiply a number by four")
        .with_name("quadruple")
        .with_example("quadruple(3)", "12");
    let episode = start_episode(store, &task).await;
    let made_up = QUADRUPLE.replace("double(double(x))", "doubleNumber(doubleNumber(x))");
    let note = "repaired: `double` called where it called `doubleNumber`";
    let journal = [
        JournalEvent::Retrieval {
            query: task.description.clone(),
            skills: Vec::new(),
        },
        coder_call(1, &reply(&made_up)),
        attempt(1, "quadruple", &made_up),
        JournalEvent::Verdict {
            round: 1,
            passed: false,
            problems: "doubleNumber is not defined".into(),
        },
        JournalEvent::Attempt {
            round: 1,
            outcome: AttemptOutcome::Code {
                skill: "quadruple".into(),
                code: QUADRUPLE.into(),
                notes: vec![note.into()],
            },
        },
    ];
    append(store, &episode, &journal).await;
    let silent = Arc::new(ScriptedModel::queue(Vec::<String>::new()));
    let reports = agent_with(&library, &silent, config(false, 2))
        .resume_unfinished()
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert!(silent.requests().is_empty());
    assert_eq!(report.repaired.as_deref(), note.strip_prefix("repaired: "));
    assert_eq!(report.calls, ["double"]);
}

/// `double` solved with `refinement` after a wrong first round (`x + 2`): the journalled
/// strategies of its coder calls and the model's two requests.
async fn solved_after_a_wrong_round(
    refinement: Refinement,
) -> (Vec<Option<Strategy>>, ChatRequest, ChatRequest) {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let wrong = DOUBLE.replace("x * 2", "x + 2");
    let model = Arc::new(ScriptedModel::queue([reply(&wrong), reply(DOUBLE)]));
    let task = Task::from_user("Double a number")
        .with_name("double")
        .with_example("double(21)", "42");
    let config = AgentConfig {
        refinement,
        ..config(false, 2)
    };
    let report = agent_with(&library, &model, config)
        .solve(task)
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(report.rounds, 2, "{report:#?}");
    let events = journal(&library, &report.episode).await;
    let mut requests = model.requests().into_iter();
    let (first, second) = (requests.next().unwrap(), requests.next().unwrap());
    assert!(requests.next().is_none(), "two coder calls, no cross-check");
    (coder_strategies(&events), first, second)
}

#[tokio::test]
async fn a_rewrite_refinement_asks_for_the_task_again_with_the_problems_but_not_the_code() {
    let (strategies, first, rewrite) = solved_after_a_wrong_round(Refinement::Rewrite).await;
    assert_eq!(strategies, [Some(Strategy::First), Some(Strategy::Rewrite)]);
    assert_eq!(
        rewrite.messages.len(),
        first.messages.len(),
        "no earlier reply"
    );
    assert_eq!(rewrite.temperature, Some(0.8));
    let text: String = rewrite
        .messages
        .iter()
        .map(|m| m.content.as_str())
        .collect();
    assert!(
        !text.contains("x + 2"),
        "the earlier code is not shown: {text}"
    );
    assert!(
        text.contains("expected -6, got -1"),
        "its problems are: {text}"
    );
    assert!(
        text.ends_with("so that it does what the task asks."),
        "{text}"
    );
}

#[tokio::test]
async fn a_resample_refinement_asks_exactly_as_the_first_round_at_a_higher_temperature() {
    let (strategies, first, resample) = solved_after_a_wrong_round(Refinement::Resample).await;
    assert_eq!(
        strategies,
        [Some(Strategy::First), Some(Strategy::Resample)]
    );
    assert_eq!(
        resample.messages, first.messages,
        "the first request again, with nothing of the failed round"
    );
    assert_eq!(first.temperature, Some(0.2));
    assert_eq!(resample.temperature, Some(0.8));
}

#[tokio::test]
async fn an_unchanged_refinement_is_not_run_and_the_next_round_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let wrong = DOUBLE.replace("x * 2", "x + 2");
    // The same code again, reformatted and with a comment.
    let again = wrong.replace("return x + 2;", "// add two\n  return x+2 ;");
    let model = Arc::new(ScriptedModel::queue([
        reply(&wrong),
        reply(&again),
        reply(DOUBLE),
    ]));
    let task = Task::from_user("Double a number")
        .with_name("double")
        .with_example("double(21)", "42");
    let report = agent_with(
        &library,
        &model,
        AgentConfig {
            refinement: Refinement::Revise,
            ..config(false, 3)
        },
    )
    .solve(task)
    .await
    .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(report.rounds, 3);

    let events = journal(&library, &report.episode).await;
    assert!(
        events.contains(&JournalEvent::Repeated {
            round: 2,
            of_round: 1
        }),
        "{events:#?}"
    );
    // Round 2's code never reached the sandbox.
    let ran: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            JournalEvent::SandboxRun { round, .. } => Some(*round),
            _ => None,
        })
        .collect();
    assert_eq!(ran, [1, 3]);
    // Each coder call's strategy is journalled; the third starts afresh.
    assert_eq!(
        coder_strategies(&events),
        [
            Some(Strategy::First),
            Some(Strategy::Refine),
            Some(Strategy::FreshStart { repeated_round: 1 })
        ]
    );
    let requests = model.requests();
    let (refine, fresh) = (&requests[1], &requests[2]);
    assert_ne!(fresh.messages, refine.messages);
    assert!(fresh.temperature > refine.temperature, "{fresh:?}");
    let fresh_text: String = fresh.messages.iter().map(|m| m.content.as_str()).collect();
    assert!(
        !fresh_text.contains("x + 2"),
        "the earlier code is not shown"
    );
    assert!(
        fresh_text.contains("repeated round 1's code unchanged"),
        "{fresh_text}"
    );
}

#[tokio::test]
async fn a_repeated_round_is_given_back_so_the_fresh_start_still_gets_its_round() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let wrong = reply(&DOUBLE.replace("x * 2", "x + 2"));
    // Two rounds allowed: round 2 repeats round 1, and a third round (the fresh start) is
    // still taken and solves the task.
    let model = Arc::new(ScriptedModel::queue([wrong.clone(), wrong, reply(DOUBLE)]));
    let task = Task::from_user("Double a number")
        .with_name("double")
        .with_example("double(21)", "42");
    let report = agent_with(
        &library,
        &model,
        AgentConfig {
            refinement: Refinement::Revise,
            ..config(false, 2)
        },
    )
    .solve(task.clone())
    .await
    .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(report.rounds, 3);
    let events = journal(&library, &report.episode).await;
    assert_eq!(
        coder_strategies(&events),
        [
            Some(Strategy::First),
            Some(Strategy::Refine),
            Some(Strategy::FreshStart { repeated_round: 1 })
        ]
    );

    // Without the allowance the same replies end the episode after round 2.
    let dir = tempfile::tempdir().unwrap();
    let library = crate::library(dir.path()).await;
    let wrong = reply(&DOUBLE.replace("x * 2", "x + 2"));
    let model = Arc::new(ScriptedModel::queue([wrong.clone(), wrong, reply(DOUBLE)]));
    let strict = AgentConfig {
        repeat_allowance: 0,
        ..config(false, 2)
    };
    let report = agent_with(&library, &model, strict)
        .solve(task)
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Failed, "{report:#?}");
    assert_eq!(report.rounds, 2);
}

#[tokio::test]
async fn an_unusable_reply_repeated_word_for_word_is_refused_and_the_next_round_starts_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let prose = "I cannot write that function.";
    let model = Arc::new(ScriptedModel::queue([
        prose.to_string(),
        format!("  {prose}\n"),
        reply(DOUBLE),
    ]));
    let agent = refining(&library, &model, false, Refinement::Revise);
    let report = agent
        .solve(
            Task::from_user("Double a number")
                .with_name("double")
                .with_example("double(4)", "8"),
        )
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    let events = journal(&library, &report.episode).await;
    assert!(
        events.iter().any(|e| matches!(
            e,
            JournalEvent::Repeated {
                round: 2,
                of_round: 1
            }
        )),
        "{events:#?}"
    );
    assert_eq!(
        coder_strategies(&events),
        [
            Some(Strategy::First),
            Some(Strategy::Refine),
            Some(Strategy::FreshStart { repeated_round: 1 })
        ]
    );
}

const SUM_OF_SQUARES: &str = "/**\n * Sums the squares of the numbers.\n * @param {number[]} xs\n * @example sumOfSquares([1, 2]) => 5\n */\nfunction sumOfSquares(xs) {\n  return xs.reduce((a, x) => a + x * x, 0);\n}";

const EAT: &str = "/**\n * How many carrots a hungry rabbit has eaten after its meal, and how many are left.\n * @example eat(5, 6, 10) => [11, 4]\n * @example eat(2, 11, 5) => [7, 0]\n */\nfunction eat(number, need, remaining) {\n  const eaten = Math.min(need, remaining);\n  return [number + eaten, remaining - eaten];\n}";

#[tokio::test]
async fn without_a_check_a_yes_about_another_function_admits_nothing_and_admissions_are_unchecked()
{
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let model = Arc::new(ScriptedModel::queue([
        reply(SUM_OF_SQUARES),
        r#"{"success": true, "feedback": "The function `eat` returns the carrots eaten and left; eat(5, 6, 10) gives [11, 4]."}"#.to_string(),
        reply(EAT),
        r#"{"success": true, "feedback": "`eat` adds what the rabbit can eat and returns what is left."}"#.to_string(),
    ]));
    let task = Task::from_user(
        "A hungry rabbit has eaten some carrots and needs more: return the total eaten after its meal and the carrots left",
    );
    let report = agent_with(&library, &model, config(true, 2))
        .solve(task)
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(report.skill.as_deref(), Some("default/eat"));
    assert_eq!(report.rounds, 2);
    assert!(
        library.get("sumOfSquares").await.is_err(),
        "the bare yes admitted nothing"
    );

    // The critic was shown the code's real name; its yes about `eat` was refused.
    let critic = model.requests()[1].messages[0].content.clone();
    assert!(
        critic.contains("The function is `sumOfSquares`"),
        "{critic}"
    );
    let events = journal(&library, &report.episode).await;
    let refused = events.iter().find_map(|e| match e {
        JournalEvent::Verdict {
            round: 1,
            passed: false,
            problems,
        } => Some(problems.clone()),
        _ => None,
    });
    let refused = refused.expect("round 1 refused");
    assert!(
        refused.contains("`eat`") && refused.contains("sumOfSquares"),
        "{refused}"
    );

    // Admitted without a check: marked so, for re-verification or pruning.
    let stored = library.get("eat").await.unwrap().skill;
    assert!(stored.version.provenance.unchecked);
    let listed = serde_json::to_value(library.get("eat").await.unwrap()).unwrap();
    assert_eq!(listed["version"]["provenance"]["unchecked"], true);
    let listed = serde_json::to_value(library.list(&ListFilter::default()).await.unwrap()).unwrap();
    assert_eq!(listed[0]["name"], "eat");
    assert_eq!(listed[0]["unchecked"], true);
}

const COUNT_WORDS: &str = "/**\n * Counts the words of a text.\n * @example countWords('a bc  d') => 3\n * @example countWords('') => 0\n */\nfunction countWords(text) {\n  return text.split(/\\s+/).filter(Boolean).length;\n}";

#[tokio::test]
async fn without_a_check_a_library_skill_is_not_reused_on_a_bare_yes() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    // Stored as the coder's reply will be extracted: the reply is exactly this skill.
    let stored = format!("{DOUBLE}\n");
    library
        .add(
            SkillSource::parse(&stored, None).unwrap(),
            AddOptions::default(),
        )
        .await
        .unwrap();
    // The coder parrots the library's `double` (which passes the empty check), and the
    // critic says yes to anything.
    let yes = r#"{"success": true, "feedback": "Correct."}"#.to_string();
    let model = Arc::new(ScriptedModel::queue([
        reply(DOUBLE),
        reply(COUNT_WORDS),
        yes,
    ]));
    let report = agent_with(&library, &model, config(true, 2))
        .solve(Task::from_user("Count the words in a text"))
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    let events = journal(&library, &report.episode).await;
    assert_eq!(
        report.skill.as_deref(),
        Some("default/countWords"),
        "{events:#?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, JournalEvent::Reuse { .. })),
        "{events:#?}"
    );
    let refused = events.iter().find_map(|e| match e {
        JournalEvent::Verdict {
            round: 1,
            passed: false,
            problems,
        } => Some(problems.clone()),
        _ => None,
    });
    let refused = refused.expect("round 1 refused");
    assert!(refused.contains("does not match the task"), "{refused}");
    assert!(
        library
            .get("countWords")
            .await
            .unwrap()
            .skill
            .version
            .provenance
            .unchecked
    );
}

#[tokio::test]
async fn when_every_model_test_is_dropped_the_task_check_becomes_the_skills_tests() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let only_wrong = MAX_WRONG_TEST.replace(" * @example maxElement([2, 9]) => 9\n", "");
    let round2 = only_wrong.replace("Math.max(...xs)", "xs.reduce((a, b) => (a > b ? a : b))");
    let model = Arc::new(ScriptedModel::queue([reply(&only_wrong), reply(&round2)]));
    let task = Task::from_user("Return the maximum element of a list")
        .with_name("maxElement")
        .with_example("maxElement([1, 5, 3])", "5");
    let report = agent_with(&library, &model, config(false, 2))
        .solve(task)
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    let events = journal(&library, &report.episode).await;
    assert!(events.iter().any(|e| matches!(
        e,
        JournalEvent::TestsDropped {
            round: 2,
            task_check_as_tests: true,
            ..
        }
    )));
    let code = library.get("maxElement").await.unwrap().skill.version.code;
    assert!(
        code.contains("@example maxElement([1, 5, 3]) => 5"),
        "{code}"
    );
    assert!(!code.contains("maxElement([])"), "{code}");
}

/// The code block of the worked example the coder's system prompt shows for `task`.
fn worked_example_shown(task: &Task) -> String {
    let env = CodeEnvironment::new("arithmetic");
    let messages = skillforge::agent::coder_messages(&env, task, &[], None).unwrap();
    let system = &messages[0].content;
    let start = system.find("```javascript\n").expect("a worked example") + 14;
    let end = start + system[start..].find("```").unwrap();
    system[start..end].to_string()
}

#[tokio::test]
async fn a_reply_that_copies_the_worked_example_is_rejected_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let task = Task::from_text(
        "A hungry rabbit has eaten `number` carrots and needs `need` more; `remaining` are left. \
         Return [carrots eaten in total, carrots left].",
        Some("eat"),
    )
    .unwrap();
    assert!(task.tests.is_empty(), "no examples in this text");
    let copied = worked_example_shown(&task);
    // The small model answers with the prompt's own example, then with the task's function.
    let model = Arc::new(ScriptedModel::queue([
        reply(&copied),
        reply(EAT),
        CRITIC_OK.into(),
    ]));
    let report = agent(&library, &model, true).solve(task).await.unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(report.skill.as_deref(), Some("default/eat"));
    assert_eq!(report.rounds, 2);

    // Round 1 was refused without asking the critic, and round 2 was told why.
    let requests = model.requests();
    let round2 = &requests[1].messages.last().unwrap().content;
    assert!(
        round2.contains("the worked example from the instructions, instead of doing the task")
            && round2.contains("named eat"),
        "{round2}"
    );
    let example = SkillSource::parse(&copied, None).unwrap();
    assert!(round2.contains(&example.name), "{round2}");
    assert!(library.get(&example.name).await.is_err(), "not admitted");
    let events = library
        .store()
        .episode_events(&report.episode)
        .await
        .unwrap();
    let first_attempt = events.iter().find(|e| e.kind == "attempt").unwrap();
    assert!(
        first_attempt.payload["error"]
            .as_str()
            .unwrap()
            .contains("worked example"),
        "{}",
        first_attempt.payload
    );
}

/// A HumanEval-style prompt, as a user pastes it.
const LAST_WORD_PROMPT: &str = "/**\n * Return the last word of a sentence (words are separated by spaces).\n * >>> last_word('the quick fox')\n * 'fox'\n * >>> last_word('one')\n * 'one'\n * >>> last_word(nothing)\n * ''\n */\nfunction last_word(sentence) {\n";

#[tokio::test]
async fn a_doctest_task_text_yields_checks_that_a_wrong_skill_fails() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let task = Task::from_text(LAST_WORD_PROMPT, Some("last_word")).unwrap();
    let checks: Vec<&str> = task.tests.iter().map(|t| t.name()).collect();
    assert_eq!(checks, ["last_word('the quick fox')", "last_word('one')"]);
    assert_eq!(
        task.skipped_examples.len(),
        1,
        "{:?}",
        task.skipped_examples
    );

    // The first word passes the skill's own (wrong) test, but not the text's examples;
    // the critic would say yes to anything.
    let first_word = "/**\n * The last word.\n * @example last_word('one') => 'one'\n */\nfunction last_word(sentence) {\n  return sentence.split(' ')[0];\n}";
    let last_word = "/**\n * The last word.\n * @example last_word('a b') => 'b'\n */\nfunction last_word(sentence) {\n  return sentence.split(' ').pop();\n}";
    let model = Arc::new(ScriptedModel::queue([
        reply(first_word),
        reply(last_word),
        CRITIC_OK.into(),
    ]));
    let report = agent(&library, &model, true).solve(task).await.unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(report.rounds, 2);
    assert_eq!(report.task.tests.len(), 2, "the report lists the checks");
    let requests = model.requests();
    let round2 = &requests[1].messages.last().unwrap().content;
    assert!(
        round2.contains("the task's check fails") && round2.contains("last_word('the quick fox')"),
        "{round2}"
    );
    let admitted = library.get("last_word").await.unwrap();
    assert!(admitted.skill.version.code.contains(".pop()"));
}

#[tokio::test]
async fn the_admitted_skill_has_the_name_the_user_gave_or_the_episode_says_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let task = Task::from_text(
        "Carrots eaten and left.\nExample: eat(5, 6, 10) => [11, 4]",
        Some("eat"),
    )
    .unwrap();
    let named_otherwise = EAT.replace("eat(", "rabbitMeal(");
    let model = Arc::new(ScriptedModel::queue([reply(&named_otherwise)]));
    let report = agent(&library, &model, false).solve(task).await.unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(report.skill.as_deref(), Some("default/eat"));
    let admitted = library.get("eat").await.unwrap();
    assert!(
        admitted
            .skill
            .version
            .code
            .contains("@example eat(5, 6, 10)")
    );
    assert!(library.get("rabbitMeal").await.is_err());

    // When the code uses the name for something else every round, the episode fails and
    // says so.
    let taken = "/**\n * Counts carrots.\n * @example feed(1) => 1\n */\nfunction feed(carrots) {\n  return carrots;\n}";
    // Every round after the first repeats it, and two of those rounds are given back
    // (`repeat_allowance`): six replies.
    let model = Arc::new(ScriptedModel::queue(vec![reply(taken); 6]));
    let report = agent(&library, &model, false)
        .solve(Task::from_text("Count the carrots", Some("carrots")).unwrap())
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Failed, "{report:#?}");
    let problems = report.problems.unwrap();
    assert!(
        problems.contains("asks for a function named carrots")
            && problems.contains("name the main function carrots"),
        "{problems}"
    );
    assert!(library.get("feed").await.is_err());
}

const WORDS: &str = "/**\n * Splits a text into its words.\n * @example words(\"a b\") => [\"a\", \"b\"]\n */\nfunction words(text) {\n  return text.split(/\\s+/).filter((w) => w.length > 0);\n}";

/// A new library in `dir` holding the skills of `codes`.
async fn library_holding(dir: &Path, codes: &[&str]) -> Arc<Library> {
    let library = library(dir).await;
    for code in codes {
        let source = SkillSource::parse(code, None).unwrap();
        library.add(source, AddOptions::default()).await.unwrap();
    }
    library
}

/// The retrieval event's (skill, shown) pairs of an episode, sorted.
async fn shown_in_retrieval(library: &Library, episode: &str) -> Vec<(String, bool)> {
    let events = journal(library, episode).await;
    let Some(JournalEvent::Retrieval { skills, .. }) = events.first() else {
        panic!("the journal starts with the retrieval: {events:#?}")
    };
    let mut shown: Vec<_> = skills.iter().map(|s| (s.name.clone(), s.shown)).collect();
    shown.sort();
    shown
}

/// Retrieved skills unrelated to the task stay out of the coder's prompt (where they distract
/// a small model); a skill the task names is shown whatever its similarity.
#[tokio::test]
async fn the_coder_is_shown_only_retrieved_skills_that_the_task_names_or_resembles() {
    let dir = tempfile::tempdir().unwrap();
    let library = library_holding(dir.path(), &[DOUBLE, WORDS]).await;
    let reverse = "/**\n * Reverses a list.\n * @example reverseItems([1, 2]) => [2, 1]\n */\nfunction reverseItems(xs) {\n  return xs.slice().reverse();\n}";
    let count = "/**\n * Counts the words of a text.\n * @example countWords(\"a b c\") => 3\n */\nfunction countWords(text) {\n  return words(text).length;\n}";
    let model = Arc::new(ScriptedModel::queue([reply(reverse), reply(count)]));
    let agent = agent(&library, &model, false);

    let unrelated = agent
        .solve(
            Task::from_user("Reverse the order of the items of a list")
                .with_name("reverseItems")
                .with_example("reverseItems([1, 2, 3])", "[3, 2, 1]"),
        )
        .await
        .unwrap();
    assert_eq!(unrelated.status, EpisodeStatus::Admitted, "{unrelated:#?}");
    // Both skills were retrieved (the library holds only these two) and tried against the
    // task's check, but neither was shown to the coder.
    let retrieved = shown_in_retrieval(&library, &unrelated.episode).await;
    assert_eq!(
        retrieved,
        [
            ("default/double".to_string(), false),
            ("default/words".to_string(), false)
        ]
    );
    let prompt = &model.requests()[0].messages[1].content;
    assert!(
        !prompt.contains("double") && !prompt.contains("words"),
        "{prompt}"
    );

    let named = agent
        .solve(
            Task::from_user("Count how many entries words(text) returns for a text")
                .with_name("countWords")
                .with_example("countWords(\"to be or not\")", "4"),
        )
        .await
        .unwrap();
    assert_eq!(named.status, EpisodeStatus::Admitted, "{named:#?}");
    assert_eq!(named.calls, ["words"]);
    let shown = shown_in_retrieval(&library, &named.episode).await;
    assert!(
        shown.contains(&("default/words".to_string(), true)),
        "{shown:?}"
    );
    let prompt = &model.requests()[1].messages[1].content;
    assert!(prompt.contains("function words(text)"), "{prompt}");
}

// ---- Issue 12: a check of a few examples is cross-checked before a skill counts as
// verified ----

/// Passes both examples of [`same_chars_task`], but only looks one way (wrong).
const SAME_CHARS_ONE_WAY: &str = "/**\n * Whether two words use the same characters.\n */\nfunction sameChars(a, b) {\n  return [...a].every((c) => b.includes(c));\n}";
/// Right: the same set of characters.
const SAME_CHARS_SETS: &str = "/**\n * Whether two words use the same characters.\n */\nfunction sameChars(a, b) {\n  const x = new Set(a), y = new Set(b);\n  return x.size === y.size && [...x].every((c) => y.has(c));\n}";
/// Right too, written otherwise.
const SAME_CHARS_SORTED: &str = "/**\n * Whether two words use the same characters.\n */\nfunction sameChars(a, b) {\n  const key = (s) => [...new Set(s)].sort().join('');\n  return key(a) === key(b);\n}";

fn same_chars_task() -> Task {
    Task::from_user("Tell whether two words use the same set of characters")
        .with_name("sameChars")
        .with_example("sameChars('abcd', 'dddabc')", "true")
        .with_example("sameChars('eabcd', 'dddabc')", "false")
}

fn cross_checking(candidates: u32) -> AgentConfig {
    AgentConfig {
        critic: false,
        cross_check: CrossCheck {
            candidates,
            ..CrossCheck::default()
        },
        ..AgentConfig::default()
    }
}

/// Solves [`same_chars_task`] in a fresh library in `dir`, the coder answering with `codes` in
/// turn (the skill, then the candidates), with at most `candidates` cross-check candidates;
/// the episode must admit a skill.
async fn cross_checked(
    dir: &Path,
    codes: &[&str],
    candidates: u32,
) -> (Arc<Library>, Arc<ScriptedModel>, EpisodeReport) {
    let library = library(dir).await;
    let model = Arc::new(ScriptedModel::queue(codes.iter().map(|code| reply(code))));
    let report = agent_with(&library, &model, cross_checking(candidates))
        .solve(same_chars_task())
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    (library, model, report)
}

/// The journal's cross-check events: (outcome, what each candidate came to).
fn cross_checks(events: &[JournalEvent]) -> Vec<(CrossCheckOutcome, Vec<CandidateResult>)> {
    events
        .iter()
        .filter_map(|e| match e {
            JournalEvent::CrossCheck {
                outcome,
                candidates,
                probes,
                ..
            } => {
                assert!(*probes > 2, "probes beyond the two examples: {probes}");
                Some((*outcome, candidates.clone()))
            }
            _ => None,
        })
        .collect()
}

/// A library skill that passes both examples of [`same_chars_task`] but looks one way only.
const LETTERS_WITHIN: &str = "/**\n * Whether every letter of the first word is in the second.\n * @example lettersWithin('abc', 'cabd') => true\n */\nfunction lettersWithin(a, b) {\n  return [...a].every((c) => b.includes(c));\n}";
/// A library skill that does [`same_chars_task`] under another name.
const SAME_LETTERS: &str = "/**\n * Whether two words are made of the same letters.\n * @example sameLetters('ab', 'ba') => true\n */\nfunction sameLetters(a, b) {\n  const x = new Set(a), y = new Set(b);\n  return x.size === y.size && [...x].every((c) => y.has(c));\n}";

/// Solves [`same_chars_task`] on a library holding `stored`, the coder answering with
/// `codes` in turn, one cross-check candidate at most.
async fn solved_beside(
    dir: &Path,
    stored: &str,
    codes: &[&str],
) -> (Arc<Library>, Arc<ScriptedModel>, EpisodeReport) {
    let library = library(dir).await;
    library
        .add(
            SkillSource::parse(stored, None).unwrap(),
            AddOptions::default(),
        )
        .await
        .unwrap();
    let model = Arc::new(ScriptedModel::queue(codes.iter().map(|code| reply(code))));
    let report = agent_with(&library, &model, cross_checking(1))
        .solve(same_chars_task())
        .await
        .unwrap();
    (library, model, report)
}

/// The round of each cross-check in the journal.
fn cross_check_rounds(events: &[JournalEvent]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            JournalEvent::CrossCheck { round, .. } => Some(*round),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_library_skill_that_passes_the_examples_but_an_independent_solution_disputes_is_not_reused()
 {
    // lettersWithin passes the task's two examples; the independent candidate (the set
    // comparison) passes them too and differs on a probe: the agent writes its own skill,
    // which the next candidate corroborates.
    let dir = tempfile::tempdir().unwrap();
    let (library, model, report) = solved_beside(
        dir.path(),
        LETTERS_WITHIN,
        &[SAME_CHARS_SETS, SAME_CHARS_SETS, SAME_CHARS_SORTED],
    )
    .await;
    assert!(
        report
            .retrieved
            .contains(&"default/lettersWithin".to_string()),
        "{report:#?}"
    );
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(report.skill.as_deref(), Some("default/sameChars"));
    assert_eq!(report.unverified, None);
    assert_eq!(model.requests().len(), 3);
    let events = journal(&library, &report.episode).await;
    let checks = cross_checks(&events);
    assert_eq!(checks.len(), 2, "{events:#?}");
    assert_eq!(checks[0].0, CrossCheckOutcome::Unverified);
    assert!(matches!(
        checks[0].1[..],
        [CandidateResult::Disagrees { .. }]
    ));
    assert_eq!(checks[1].0, CrossCheckOutcome::Corroborated);
    // The first was of the library skill, before any round.
    assert_eq!(cross_check_rounds(&events), [0, 1]);
    assert_eq!(
        coder_strategies(&events),
        [
            Some(Strategy::CrossCheck),
            Some(Strategy::First),
            Some(Strategy::CrossCheck)
        ]
    );
}

#[tokio::test]
async fn a_reply_repeating_a_disputed_library_skill_is_sent_back() {
    // The library's sameChars looks one way only. Before round 1 it is disputed and not
    // reused; round 1 repeats it word for word, and is disputed again and sent back; round
    // 2 writes the set comparison, admitted as its new version.
    let one_way = "/**\n * Whether two words use the same characters.\n * @example sameChars('abcd', 'dddabc') => true\n * @example sameChars('eabcd', 'dddabc') => false\n */\nfunction sameChars(a, b) {\n  return [...a].every((c) => b.includes(c));\n}\n";
    let dir = tempfile::tempdir().unwrap();
    let (library, _model, report) = solved_beside(
        dir.path(),
        one_way,
        &[
            SAME_CHARS_SETS,
            one_way,
            SAME_CHARS_SORTED,
            SAME_CHARS_SETS,
            SAME_CHARS_SORTED,
        ],
    )
    .await;
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(report.version, Some(2));
    let events = journal(&library, &report.episode).await;
    assert_eq!(cross_check_rounds(&events), [0, 1, 2], "{events:#?}");
    let verdicts: Vec<(bool, &str)> = events
        .iter()
        .filter_map(|e| match e {
            JournalEvent::Verdict {
                passed, problems, ..
            } => Some((*passed, problems.as_str())),
            _ => None,
        })
        .collect();
    assert!(!verdicts[0].0, "{verdicts:?}");
    assert!(
        verdicts[0].1.contains(
            "this is exactly the library's default/sameChars, and it may not do this task"
        ),
        "{verdicts:?}"
    );
    let stored = library.get("sameChars").await.unwrap().skill;
    assert!(stored.version.code.contains("new Set(a)"));
}

#[tokio::test]
async fn a_library_skill_that_an_independent_solution_agrees_with_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let (library, model, report) =
        solved_beside(dir.path(), SAME_LETTERS, &[SAME_CHARS_SORTED]).await;
    assert_eq!(
        report.status,
        EpisodeStatus::SolvedWithExisting,
        "{report:#?}"
    );
    assert_eq!(report.skill.as_deref(), Some("default/sameLetters"));
    assert_eq!(report.unverified, None);
    assert_eq!(model.requests().len(), 1, "the candidate only");
    let events = journal(&library, &report.episode).await;
    let checks = cross_checks(&events);
    assert_eq!(checks.len(), 1, "{events:#?}");
    assert_eq!(checks[0].0, CrossCheckOutcome::Corroborated);
    assert_eq!(cross_check_rounds(&events), [0]);
}

#[tokio::test]
async fn a_library_skill_that_nothing_corroborates_is_reused_unverified() {
    // The one candidate fails the examples itself: no evidence either way.
    let fails = "/**\n * Whether two words use the same characters.\n */\nfunction sameChars(a, b) {\n  return a === b;\n}";
    let dir = tempfile::tempdir().unwrap();
    let (library, _model, report) = solved_beside(dir.path(), SAME_LETTERS, &[fails]).await;
    assert_eq!(
        report.status,
        EpisodeStatus::SolvedWithExisting,
        "{report:#?}"
    );
    assert_eq!(report.skill.as_deref(), Some("default/sameLetters"));
    let why = report.unverified.as_deref().expect("reused unverified");
    assert!(
        why.contains("only the examples speak for sameLetters"),
        "{why}"
    );
    let events = journal(&library, &report.episode).await;
    assert_eq!(cross_checks(&events)[0].0, CrossCheckOutcome::Inconclusive);
}

#[tokio::test]
async fn candidates_that_pass_the_examples_but_disagree_on_a_probe_leave_the_skill_unverified() {
    let dir = tempfile::tempdir().unwrap();
    let (library, model, report) =
        cross_checked(dir.path(), &[SAME_CHARS_ONE_WAY, SAME_CHARS_SETS], 1).await;
    let why = report.unverified.as_deref().expect("not verified");
    assert!(why.contains("sameChars("), "{why}");
    let stored = library.get("sameChars").await.unwrap().skill;
    assert!(stored.version.code.contains(".every((c) => b.includes(c))"));
    assert!(
        stored.version.provenance.unchecked,
        "admitted, but not as verified"
    );
    let events = journal(&library, &report.episode).await;
    let checks = cross_checks(&events);
    assert_eq!(checks.len(), 1, "{events:#?}");
    assert_eq!(checks[0].0, CrossCheckOutcome::Unverified);
    let [CandidateResult::Disagrees { first, .. }] = &checks[0].1[..] else {
        panic!("{:?}", checks[0].1)
    };
    // Where the one-way check and the set comparison part: one word's letters all in the
    // other's, not the other way round.
    assert_ne!(first.skill, first.candidate, "{first:?}");
    // The candidate was asked afresh: the task alone, no earlier code, a higher temperature.
    assert_eq!(
        coder_strategies(&events),
        [Some(Strategy::First), Some(Strategy::CrossCheck)]
    );
    let second = &model.requests()[1];
    assert_eq!(second.temperature, Some(0.8));
    assert_eq!(second.messages.len(), 2, "no earlier reply shown");
    assert!(!second.messages[1].content.contains("includes(c)"));
}

/// With a cross-check model set, the candidates come from it and the coder's model is asked
/// only for the rounds: a second model need not share the coder's misreading.
#[tokio::test]
async fn cross_check_candidates_come_from_the_cross_check_model_when_one_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let coder = Arc::new(ScriptedModel::queue([reply(SAME_CHARS_ONE_WAY)]).with_model_id("small"));
    let checker = Arc::new(ScriptedModel::queue([reply(SAME_CHARS_SETS)]).with_model_id("large"));
    let report = agent_with(&library, &coder, cross_checking(2))
        .with_cross_check_model(Some(checker.clone()))
        .solve(same_chars_task())
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert!(report.unverified.is_some(), "the second model disagreed");
    assert_eq!((coder.requests().len(), checker.requests().len()), (1, 1));
    let events = journal(&library, &report.episode).await;
    let models: Vec<(String, Option<Strategy>)> = events
        .iter()
        .filter_map(|e| match e {
            JournalEvent::LlmCall {
                exchange, strategy, ..
            } => Some((exchange.model.clone(), *strategy)),
            _ => None,
        })
        .collect();
    assert_eq!(
        models,
        [
            ("small".to_string(), Some(Strategy::First)),
            ("large".to_string(), Some(Strategy::CrossCheck))
        ]
    );
}

#[tokio::test]
async fn a_dissent_ends_the_cross_check_and_the_skill_stays_unverified_without_a_vote() {
    // The wrong one-way skill, then two candidates that agree with each other against it.
    // A vote of samples from one model proves nothing either way (a right skill was once
    // replaced by two candidates sharing a mistake): the first dissent ends the cross-check.
    let dir = tempfile::tempdir().unwrap();
    let (library, model, report) = cross_checked(
        dir.path(),
        &[SAME_CHARS_ONE_WAY, SAME_CHARS_SETS, SAME_CHARS_SORTED],
        2,
    )
    .await;
    let stored = library.get("sameChars").await.unwrap().skill;
    assert!(
        stored.version.code.contains(".every((c) => b.includes(c))"),
        "the loop's skill is kept: {}",
        stored.version.code
    );
    assert!(stored.version.provenance.unchecked);
    let why = report.unverified.as_deref().expect("not verified");
    assert!(why.contains("differs on sameChars("), "{why}");
    assert_eq!(model.requests().len(), 2, "no second candidate asked for");
    let checks = cross_checks(&journal(&library, &report.episode).await);
    assert_eq!(checks[0].0, CrossCheckOutcome::Unverified);
    assert!(matches!(
        &checks[0].1[..],
        [CandidateResult::Disagrees { .. }]
    ));
}

#[tokio::test]
async fn an_agreeing_candidate_corroborates_the_skill_which_is_admitted_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let (library, model, report) =
        cross_checked(dir.path(), &[SAME_CHARS_SETS, SAME_CHARS_SORTED], 2).await;
    assert_eq!(report.unverified, None);
    assert_eq!(report.rounds, 1);
    let stored = library.get("sameChars").await.unwrap().skill;
    assert!(stored.version.code.contains("new Set(a)"));
    assert!(!stored.version.provenance.unchecked);
    let events = journal(&library, &report.episode).await;
    let checks = cross_checks(&events);
    assert_eq!(
        checks,
        [(
            CrossCheckOutcome::Corroborated,
            vec![CandidateResult::Agrees]
        )]
    );
    // One agreeing candidate is enough: the second is never asked for. Its tokens count.
    assert_eq!(model.requests().len(), 2);
    let tokens = events
        .iter()
        .find_map(|e| match e {
            JournalEvent::CrossCheck { tokens, .. } => Some(*tokens),
            _ => None,
        })
        .unwrap();
    assert!(tokens > 0);
    assert!(report.timing.prompt_tokens + report.timing.completion_tokens > tokens);
}

#[tokio::test]
async fn a_candidate_repeating_the_skill_is_no_evidence_and_the_next_is_asked_to_differ() {
    // The model repeats its own wrong answer, then gives the right one when asked for a
    // different implementation: a repeat corroborates nothing.
    let dir = tempfile::tempdir().unwrap();
    let (library, model, report) = cross_checked(
        dir.path(),
        &[SAME_CHARS_ONE_WAY, SAME_CHARS_ONE_WAY, SAME_CHARS_SETS],
        2,
    )
    .await;
    assert!(report.unverified.is_some(), "{report:#?}");
    let events = journal(&library, &report.episode).await;
    let checks = cross_checks(&events);
    assert_eq!(checks.len(), 1, "{events:#?}");
    assert_eq!(checks[0].0, CrossCheckOutcome::Unverified);
    assert!(matches!(
        &checks[0].1[..],
        [CandidateResult::SameCode, CandidateResult::Disagrees { .. }]
    ));
    assert_eq!(
        coder_strategies(&events),
        [
            Some(Strategy::First),
            Some(Strategy::CrossCheck),
            Some(Strategy::CrossCheckAnew)
        ]
    );
    let third = &model.requests()[2];
    assert_eq!(third.temperature, Some(1.0));
    assert!(
        third.messages[1].content.contains("different way"),
        "{}",
        third.messages[1].content
    );
}

#[tokio::test]
async fn a_skill_no_candidate_could_corroborate_is_admitted_unverified() {
    // Both candidates repeat the skill's code: nothing beyond the two examples speaks for it.
    let dir = tempfile::tempdir().unwrap();
    let (library, _model, report) = cross_checked(
        dir.path(),
        &[SAME_CHARS_SETS, SAME_CHARS_SETS, SAME_CHARS_SETS],
        2,
    )
    .await;
    let why = report.unverified.as_deref().expect("not verified");
    assert!(why.contains("only the examples"), "{why}");
    assert!(
        library
            .get("sameChars")
            .await
            .unwrap()
            .skill
            .version
            .provenance
            .unchecked
    );
    let checks = cross_checks(&journal(&library, &report.episode).await);
    assert_eq!(
        checks,
        [(
            CrossCheckOutcome::Inconclusive,
            vec![CandidateResult::SameCode, CandidateResult::SameCode]
        )]
    );
}

#[tokio::test]
async fn a_strong_check_is_not_cross_checked() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    // The one-way skill would be caught by a cross-check, but the task's check is an
    // assertion (as a suite's own tests are): it is taken as it is.
    let mut task = Task::from_user("Tell whether two words use the same set of characters")
        .with_name("sameChars");
    task.tests.push(skillforge::skill::TestCase::Assert {
        name: "suite tests".into(),
        code: "assert.equal(sameChars('abcd', 'dddabc'), true); assert.equal(sameChars('eabcd', 'dddabc'), false);".into(),
    });
    assert!(!task.check_is_examples());
    let model = Arc::new(ScriptedModel::queue([reply(SAME_CHARS_ONE_WAY)]));
    let report = agent_with(&library, &model, cross_checking(2))
        .solve(task)
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(model.requests().len(), 1, "no candidate asked for");
    let events = journal(&library, &report.episode).await;
    assert!(cross_checks(&events).is_empty());
    assert!(
        !library
            .get("sameChars")
            .await
            .unwrap()
            .skill
            .version
            .provenance
            .unchecked
    );
}
