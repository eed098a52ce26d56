//! `skillforge::eval::Evaluation::resume` over kept libraries, with a scripted model
//! (everything else real: sandbox, ONNX embedder, SQLite): an episode that finished after the
//! report's last save is taken as its library recorded it, without asking the model again.
//! The kill-and-resume of the binary is in tests/cli_eval.rs. Needs `scripts/setup embed`.

mod common;

use std::path::Path;
use std::sync::Arc;

use skillforge::agent::{AgentConfig, CodeEnvironment, CrossCheck};
use skillforge::eval::{ArmKind, EvalError, EvalSetup, EvalTask, Evaluation, Problem};
use skillforge::llm::ScriptedModel;
use skillforge::sandbox::Capabilities;
use skillforge::store::EpisodeStatus;

const DOUBLE: &str = "/**\n * Doubles a number.\n * @example double(2) => 4\n */\nfunction double(x) {\n  return x * 2;\n}";

/// A suite problem: its prompt's example is the agent's check, `tests` the suite's own.
fn task(what: &str, name: &str, example: &str, tests: &str) -> EvalTask {
    EvalTask::from_problem(&Problem {
        task_id: format!("Tiny/{name}"),
        entry_point: name.into(),
        prompt: format!("/**\n * {what}\n * >>> {example}\n */\nfunction {name}(x) {{\n"),
        tests: format!(
            "const assert = require('node:assert');\n\nfunction test() {{\n  const candidate = {name};\n  {tests}\n}}\n\ntest();"
        ),
    })
}

/// Both arms' setup over `model`, their libraries in `workdir`.
fn setup(model: Arc<ScriptedModel>, workdir: &Path) -> EvalSetup {
    EvalSetup {
        model,
        cross_check_model: None,
        env: Arc::new(CodeEnvironment::new("numbers")),
        embedder: common::embedder(),
        sandbox: common::sandbox(),
        capabilities: Capabilities::none(),
        // No critic, no cross-check: one coder call an episode.
        config: AgentConfig {
            max_rounds: 1,
            critic: false,
            cross_check: CrossCheck {
                candidates: 0,
                ..CrossCheck::default()
            },
            ..AgentConfig::default()
        },
        workdir: workdir.to_path_buf(),
        observer: None,
        sampling_seed: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_episode_finished_after_the_last_save_is_taken_from_its_library() {
    let dir = tempfile::tempdir().unwrap();
    let double = task(
        "Double a number.",
        "double",
        "double(2)\n * 4",
        "assert.deepStrictEqual(candidate(-3), -6);",
    );
    let triple = task(
        "Triple a number.",
        "triple",
        "triple(2)\n * 6",
        "assert.deepStrictEqual(candidate(-3), -9);",
    );
    let reply = format!("```javascript\n{DOUBLE}\n```");
    let model = Arc::new(ScriptedModel::queue([reply.clone(), reply]));
    let mut evaluation = Evaluation::start(setup(model.clone(), dir.path()), "tiny".into(), 2)
        .await
        .unwrap();
    evaluation
        .run(ArmKind::WithoutLibrary, &double)
        .await
        .unwrap();
    // The last save before the cut: after the arm without a library; the arm with one then
    // admits double, and the run stops before saving that.
    let saved = evaluation.report().clone();
    evaluation.run(ArmKind::WithLibrary, &double).await.unwrap();
    let uncut = evaluation.finish().await;
    assert_eq!(model.requests().len(), 2);
    let original = &uncut.arm(ArmKind::WithLibrary).outcomes[0];
    assert_eq!(original.status, EpisodeStatus::Admitted);

    // Resumed with a model that has nothing to say: any call would fail.
    let silent = Arc::new(ScriptedModel::queue(Vec::<String>::new()));
    let mut resumed = Evaluation::resume(setup(silent.clone(), dir.path()), saved)
        .await
        .unwrap();
    assert_eq!(resumed.report().arm(ArmKind::WithLibrary).outcomes.len(), 0);
    // The episode the report does not hold is double's, not another task's.
    let error = resumed
        .run(ArmKind::WithLibrary, &triple)
        .await
        .unwrap_err();
    assert!(matches!(error, EvalError::Resume { .. }), "{error}");
    assert!(error.to_string().contains("another task"), "{error}");
    resumed.run(ArmKind::WithLibrary, &double).await.unwrap();
    assert!(silent.requests().is_empty(), "taken, not asked again");
    let report = resumed.finish().await;
    let with = report.arm(ArmKind::WithLibrary);
    let taken = &with.outcomes[0];
    assert_eq!(taken.episode, original.episode);
    assert_eq!(
        (taken.solved, taken.status, &taken.skill, taken.tokens),
        (
            true,
            EpisodeStatus::Admitted,
            &original.skill,
            original.tokens
        )
    );
    assert!(!taken.resumed, "it had finished: nothing was resumed");
    assert_eq!(with.library_size, 1);
    assert_eq!(report.arm(ArmKind::WithoutLibrary).outcomes.len(), 1);
}

/// A seeded evaluation seeds each arm's libraries apart: the first task's prompt, the same
/// in both arms (both libraries empty), carries the same seed in both, so the arms get the
/// same reply where the library changes nothing; the report keeps the seed.
#[tokio::test(flavor = "multi_thread")]
async fn a_seeded_evaluation_gives_both_arms_the_same_seed_for_the_same_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let double = task(
        "Double a number.",
        "double",
        "double(2)\n * 4",
        "assert.deepStrictEqual(candidate(-3), -6);",
    );
    let reply = format!("```javascript\n{DOUBLE}\n```");
    let model = Arc::new(ScriptedModel::queue([reply.clone(), reply]));
    let seeded = EvalSetup {
        sampling_seed: Some(5),
        ..setup(model.clone(), dir.path())
    };
    let mut evaluation = Evaluation::start(seeded, "tiny".into(), 1).await.unwrap();
    evaluation
        .run(ArmKind::WithoutLibrary, &double)
        .await
        .unwrap();
    evaluation.run(ArmKind::WithLibrary, &double).await.unwrap();
    let report = evaluation.finish().await;
    assert_eq!(report.sampling_seed, Some(5));
    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].messages, requests[1].messages);
    assert!(requests[0].seed.is_some());
    assert_eq!(requests[0].seed, requests[1].seed);
}
