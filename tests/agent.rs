//! The agent end to end with a scripted model standing in for the network; everything else is
//! real: the wasmtime sandbox, ONNX embeddings, qdrant-edge and SQLite. Needs
//! `scripts/setup embed`.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{embedder, sandbox};
use serde_json::json;
use skillforge::agent::{Agent, AgentConfig, CodeEnvironment, Environment, EventKind, Task};
use skillforge::library::{AddOptions, Library, LibraryConfig};
use skillforge::llm::ScriptedModel;
use skillforge::skill::SkillSource;
use skillforge::store::{EpisodeSource, EpisodeStatus, NewEpisode, Provenance};

async fn library(dir: &Path) -> Arc<Library> {
    let mut config = LibraryConfig::new(dir);
    config.load_starter = false;
    Arc::new(Library::open(&config, embedder(), sandbox()).await.unwrap())
}

fn agent(library: &Arc<Library>, model: &Arc<ScriptedModel>, critic: bool) -> Agent {
    let config = AgentConfig {
        critic,
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

const CRITIC_OK: &str = r#"{"success": true, "feedback": "Correct."}"#;

#[tokio::test]
async fn a_skill_learned_in_one_episode_is_called_by_a_later_one() {
    let dir = tempfile::tempdir().unwrap();
    let library = library(dir.path()).await;
    let model = Arc::new(ScriptedModel::queue([
        reply(DOUBLE),
        CRITIC_OK.into(),
        reply(QUADRUPLE),
        CRITIC_OK.into(),
    ]));
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
    let coder_prompt = &model.requests()[2].messages[1].content;
    assert!(
        coder_prompt.contains("function double(x)"),
        "{coder_prompt}"
    );
    let double = library.get("double").await.unwrap();
    assert_eq!(double.called_by[0].name, "quadruple");
    assert_eq!(
        double.skill.stats.calls, 1,
        "admitting quadruple used double"
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
    let expected: Vec<String> = [
        EventKind::Retrieval,
        EventKind::LlmCall,
        EventKind::Attempt,
        EventKind::SandboxRun,
        EventKind::LlmCall,
        EventKind::Critique,
        EventKind::Verdict,
        EventKind::Admission,
    ]
    .iter()
    .map(|k| k.as_str().to_string())
    .collect();
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
    let agent = agent(&library, &model, false);
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
    let model = Arc::new(ScriptedModel::queue(vec![wrong; 4]));
    let agent = agent(&library, &model, false);
    let report = agent
        .solve(Task::from_user("Double a number").with_name("double"))
        .await
        .unwrap();
    assert_eq!(report.status, EpisodeStatus::Failed);
    assert_eq!(report.rounds, AgentConfig::default().max_rounds);
    assert!(report.problems.unwrap().contains("double(-3)"));
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

    // Without a check, the coder writes a skill that behaves exactly like `double`.
    let twice = "/**\n * Doubles a number.\n * @example twice(4) => 8\n * @test zero: assert.equal(twice(0), 0)\n */\nfunction twice(n) {\n  return n + n;\n}";
    let model = Arc::new(ScriptedModel::queue([reply(twice)]));
    let report = agent(&library, &model, false)
        .solve(Task::from_user("Compute two times a number"))
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
    store
        .append_event(
            &episode.id,
            "retrieval",
            &json!({"query": task.description, "skills": []}),
        )
        .await
        .unwrap();
    store
        .append_event(
            &episode.id,
            "llm_call",
            &json!({"purpose": "coder", "reply": reply(DOUBLE), "round": 1}),
        )
        .await
        .unwrap();
    store
        .append_event(
            &episode.id,
            "attempt",
            &json!({"round": 1, "skill": "double", "code": DOUBLE}),
        )
        .await
        .unwrap();
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
        tx.append_event(
            &episode.id,
            "admission",
            &json!({"skill": "default/double"}),
        )
        .await
        .unwrap();
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

/// The code block of the worked example the coder's system prompt shows for `task`.
fn worked_example_shown(task: &Task) -> String {
    let env = CodeEnvironment::new("arithmetic");
    let messages = skillforge::agent::coder_messages(&env, task, &[], None).unwrap();
    let system = &messages[0].content;
    let start = system.find("```javascript\n").expect("a worked example") + 14;
    let end = start + system[start..].find("```").unwrap();
    system[start..end].to_string()
}

const EAT: &str = "/**\n * Carrots eaten in total and carrots left.\n * @example eat(5, 6, 10) => [11, 4]\n * @test not enough: assert.deepStrictEqual(eat(2, 11, 5), [7, 0])\n */\nfunction eat(number, need, remaining) {\n  const eaten = Math.min(need, remaining);\n  return [number + eaten, remaining - eaten];\n}";

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
    let model = Arc::new(ScriptedModel::queue(vec![reply(taken); 4]));
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
