//! `skillforge run` on an external environment (`--env-command`, the example counter
//! adapter) as a user runs it, against an OpenAI-compatible server on loopback standing for
//! the network. Needs `scripts/setup embed` and `python3`.

mod common;

use common::json_of;

use serde_json::json;

const REACH: &str = "/**\n * Brings the counter to its target.\n * @capability read\n * @capability add\n * @test reachTarget();\n */\nfunction reachTarget() {\n  const { state } = host.call('read', {});\n  let left = state.target - state.value;\n  while (left !== 0) {\n    const n = Math.max(-10, Math.min(10, left));\n    host.call('add', { n });\n    left -= n;\n  }\n}";

/// The curriculum gets no usable proposal (so `run` takes the environment's warm-up world);
/// the coder gets the skill.
fn complete(prompt: &str) -> String {
    if prompt.contains("You propose the next") {
        "I cannot think of a task.".to_string()
    } else {
        common::fake_model::code_reply(REACH)
    }
}

/// The example counter adapter as an `--env-command`.
fn counter_command() -> String {
    let counter = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/envs/counter.py");
    format!("python3 {counter}")
}

/// `skillforge --data-dir DATA ARGS...` against `model`, away from any shared server.
fn skillforge(
    data: &tempfile::TempDir,
    model: &common::fake_model::FakeModel,
    args: &[&str],
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_skillforge"));
    command.arg("--data-dir").arg(data.path()).args(args);
    command.args(model.args());
    for var in common::SHARED_SERVER_VARIABLES {
        command.env_remove(var);
    }
    command
}

#[tokio::test(flavor = "multi_thread")]
async fn run_learns_a_skill_in_an_external_environment() {
    let model = common::fake_model::FakeModel::start(complete).await;
    let data = tempfile::tempdir().unwrap();
    let out = skillforge(&data, &model, &["run", "--iterations", "1", "--json"])
        .arg("--env-command")
        .arg(counter_command())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report = json_of(&out);
    assert_eq!(report["status"], "admitted", "{report:#}");
    assert_eq!(report["skill"], "default/reachTarget");
    // The warm-up world of seed 0: the counter's target is 3.
    let task = report["task"]["description"].as_str().unwrap();
    // Posed as a stub to complete: the world's words as its comment, then the function.
    assert!(
        task.starts_with("/**\n * Bring the counter to 3.\n"),
        "{task}"
    );
    assert!(task.ends_with("function reachTarget() {"), "{task}");
    assert_eq!(report["task"]["world"], json!({"seed": 0}));
}

#[tokio::test(flavor = "multi_thread")]
async fn solve_takes_the_task_of_a_chosen_world() {
    let model = common::fake_model::FakeModel::start(complete).await;
    let data = tempfile::tempdir().unwrap();
    let solve = |args: &[&str]| skillforge(&data, &model, &["solve"]).args(args).output();
    let command = counter_command();
    let out = solve(&["--seed", "4", "--json", "--env-command", &command])
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report = json_of(&out);
    assert_eq!(report["status"], "admitted", "{report:#}");
    assert_eq!(report["skill"], "default/reachTarget");
    // Seed 4's target is 3 + 4 % 5 = 7, and the environment's check judged the skill there.
    let task = report["task"]["description"].as_str().unwrap();
    assert!(
        task.starts_with("/**\n * Bring the counter to 7.\n"),
        "{task}"
    );
    assert_eq!(report["task"]["world"], json!({"seed": 4}));

    // An environment without worlds says so; options that are not an object are refused.
    let out = solve(&["--seed", "1", "--environment", "code"])
        .await
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("has no worlds"), "{stderr}");
    let out = solve(&[
        "--seed",
        "1",
        "--world-options",
        "[2]",
        "--env-command",
        &command,
    ])
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("JSON object"));
    // The world names the function; a name of the user's own is refused, not ignored.
    let out = solve(&["--seed", "1", "--name", "f", "--env-command", &command])
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
