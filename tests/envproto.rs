//! The environment protocol against real processes: the example adapter
//! (`examples/envs/counter.py`) and a faulty one (`tests/envs/faulty.py`) that crashes, hangs,
//! sends garbage or an oversized line; each is a typed error and a restart, never a hang.
//! Needs `python3` on PATH.

mod common;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use skillforge::agent::{Environment, ExternalEnvironment, Task};
use skillforge::envproto::{
    EnvError, EnvProcess, ProcessConfig, Request, ResetParams, ResetReply, Step,
};
use skillforge::sandbox::{FailureKind, Sandbox, SandboxConfig};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn counter() -> ProcessConfig {
    ProcessConfig::new("python3", [format!("{ROOT}/examples/envs/counter.py")])
}

fn faulty(mode: &str) -> ProcessConfig {
    let mut config = ProcessConfig::new(
        "python3",
        [format!("{ROOT}/tests/envs/faulty.py"), mode.to_string()],
    );
    // Long enough for python3 to start on a loaded machine; a hang still ends.
    config.timeout = Duration::from_secs(5);
    config.max_line_bytes = 64 << 10;
    config
}

fn reset(process: &EnvProcess, seed: u64) -> Result<(ResetReply, u32), EnvError> {
    process.request(
        &Request::Reset(ResetParams {
            seed,
            options: Value::Null,
        }),
        None,
        None,
    )
}

fn act(process: &EnvProcess, action: &str, args: Value, generation: u32) -> Result<Step, EnvError> {
    process
        .request(
            &Request::Act {
                action: action.into(),
                args,
            },
            Some(generation),
            None,
        )
        .map(|(step, _)| step)
}

#[test]
fn the_example_adapter_speaks_the_protocol() {
    let process = EnvProcess::new(counter()).unwrap();
    let (reply, generation) = reset(&process, 1).unwrap();
    assert_eq!(reply.task.description, "Bring the counter to 4.");
    assert_eq!(reply.state, json!({"value": 0, "target": 4}));
    let step = act(&process, "add", json!({"n": 4}), generation).unwrap();
    assert!(step.done && step.reward == 1.0, "{step:?}");
    // A refused action is an error for the caller only: the process goes on.
    let refused = act(&process, "add", json!({"n": 99}), generation).unwrap_err();
    assert!(
        matches!(&refused, EnvError::Refused { name, message } if name == "ActionFailed" && message.contains("from -10 to 10")),
        "{refused:?}"
    );
    assert_eq!(
        act(&process, "read", json!({}), generation).unwrap().state["value"],
        4
    );
    // A request whose caller's deadline has passed is not sent, and the process stays.
    let late: Result<(Step, u32), _> = process.request(
        &Request::Act {
            action: "read".into(),
            args: json!({}),
        },
        Some(generation),
        Some(std::time::Instant::now()),
    );
    assert_eq!(late.unwrap_err(), EnvError::NoTimeLeft { op: "act" });
    assert_eq!(
        act(&process, "read", json!({}), generation).unwrap().state["value"],
        4
    );
    // A closed process is replaced by the next request, which is no restart.
    process.close();
    assert_eq!(
        act(&process, "read", json!({}), generation).unwrap_err(),
        EnvError::WorldLost
    );
    let (_, next) = reset(&process, 1).unwrap();
    assert_ne!(next, generation);
    assert_eq!(process.restarts(), 0);
}

#[test]
fn a_misbehaving_process_is_a_typed_error_and_a_restart() {
    for mode in ["crash", "hang", "garbage", "oversized"] {
        let process = EnvProcess::new(faulty(mode)).unwrap();
        let (_, generation) = reset(&process, 0).unwrap();
        act(&process, "add", json!({"n": 2}), generation).unwrap();
        let error = act(&process, "misbehave", json!({}), generation).unwrap_err();
        let expected = match (mode, &error) {
            ("crash", EnvError::Crashed { message }) => {
                message.contains("exit status: 3") && message.contains("crashing on purpose")
            }
            ("hang", EnvError::Timeout { op, .. }) => *op == "act",
            ("garbage", EnvError::Garbage { message }) => message.contains("this is not JSON"),
            ("oversized", EnvError::LineTooLong { op, limit }) => {
                *op == "act" && *limit == 64 << 10
            }
            _ => false,
        };
        assert!(expected, "{mode}: {error:?}");
        assert!(error.to_string().contains("a new one starts"), "{error}");
        // The world of the failed process is gone, and says so.
        assert_eq!(
            act(&process, "read", json!({}), generation).unwrap_err(),
            EnvError::WorldLost,
            "{mode}"
        );
        // The next world runs in a new process.
        let (reply, next) = reset(&process, 2).unwrap();
        assert_ne!(next, generation, "{mode}");
        assert_eq!(reply.state["value"], 0, "{mode}");
        assert_eq!(
            act(&process, "add", json!({"n": 5}), next).unwrap().state["value"],
            5
        );
        assert_eq!(process.restarts(), 1, "{mode}");
    }
}

#[test]
fn restarts_in_a_row_are_bounded() {
    // A process that answers resets the count: one crash after each answer never exhausts it.
    let mut config = faulty("crash");
    config.max_restarts = 1;
    let process = EnvProcess::new(config).unwrap();
    for _ in 0..3 {
        let (_, generation) = reset(&process, 0).unwrap();
        let error = act(&process, "misbehave", json!({}), generation).unwrap_err();
        assert!(matches!(error, EnvError::Crashed { .. }), "{error:?}");
    }
    assert_eq!(process.restarts(), 2);

    // A process that never answers is given up after `max_restarts` restarts.
    let mut config = faulty("dead");
    config.max_restarts = 1;
    let process = EnvProcess::new(config).unwrap();
    for _ in 0..2 {
        let error = reset(&process, 0).unwrap_err();
        assert!(
            matches!(&error, EnvError::Crashed { message } if message.contains("dead on arrival")),
            "{error:?}"
        );
    }
    let error = reset(&process, 0).unwrap_err();
    assert!(
        matches!(&error, EnvError::RestartsExhausted { restarts: 1, last } if last.contains("crashed")),
        "{error:?}"
    );
    assert!(error.to_string().contains("fix the environment program"));
    assert_eq!(process.restarts(), 1);
}

#[test]
fn a_helper_with_a_reserved_name_is_an_unusable_description() {
    let error = ExternalEnvironment::start(faulty("badhelper")).unwrap_err();
    assert!(
        matches!(&error, EnvError::Description(why) if why.contains("\"host\"") && why.contains("reserved")),
        "{error:?}"
    );
}

#[test]
fn a_program_that_cannot_start_is_a_spawn_error() {
    let process = EnvProcess::new(ProcessConfig::new(
        format!("{ROOT}/tests/envs/no-such-program"),
        Vec::<String>::new(),
    ))
    .unwrap();
    let error = reset(&process, 0).unwrap_err();
    assert!(
        matches!(&error, EnvError::Spawn { command, .. } if command.contains("no-such-program")),
        "{error:?}"
    );
}

/// A bundle of one skill without dependencies.
fn bundle(code: &str) -> skillforge::compose::Bundle {
    skillforge::compose::bundle(&common::skill(code), |_| None, 16).unwrap()
}

const REACH: &str = "/**\n * Brings the counter to its target.\n * @capability read\n * @capability add\n * @test reachTarget();\n */\nfunction reachTarget() {\n  const { state } = host.call('read', {});\n  let left = state.target - state.value;\n  while (left !== 0) {\n    const n = Math.max(-10, Math.min(10, left));\n    host.call('add', { n });\n    left -= n;\n  }\n}";

const REACH_WITH_HELPER: &str = "/**\n * Brings the counter to its target with the environment's helper.\n * @capability read\n * @capability add\n */\nfunction reachTarget() {\n  while (remaining() !== 0) host.call('add', { n: Math.max(-10, Math.min(10, remaining())) });\n}";

const ADD_ONE: &str = "/**\n * Adds one.\n * @capability add\n * @test addOne();\n */\nfunction addOne() {\n  return host.call('add', { n: 1 }).state.value;\n}";

fn sandbox_for(env: &ExternalEnvironment) -> Arc<Sandbox> {
    Arc::new(Sandbox::new(SandboxConfig::default(), env.host_functions()).unwrap())
}

#[test]
fn the_agents_environment_checks_a_task_through_the_skills_host_calls() {
    let env = ExternalEnvironment::start(counter()).unwrap();
    assert_eq!(env.name(), "counter");
    let described = env.describe();
    assert!(
        described.contains("host.call(\"add\", {n: integer})") && described.contains("@capability"),
        "{described}"
    );
    assert_eq!(
        env.capabilities().iter().collect::<Vec<_>>(),
        ["add", "read"]
    );
    let task = env
        .task(ResetParams {
            seed: 3,
            options: Value::Null,
        })
        .unwrap();
    assert_eq!(task.name.as_deref(), Some("reachTarget"));
    assert!(
        task.description.contains("Bring the counter to 6."),
        "{}",
        task.description
    );
    assert!(
        task.description.contains("\"target\":6"),
        "{}",
        task.description
    );
    let sandbox = sandbox_for(&env);

    let report = env.check(&sandbox, &bundle(REACH), &task).unwrap();
    assert!(report.all_passed(), "{report:?}");
    // The adapter's helper is shown to the coder and is a global of the skill's calls.
    assert!(
        described.contains("- `remaining()`: how far the counter is from its target"),
        "{described}"
    );
    let report = env
        .check(&sandbox, &bundle(REACH_WITH_HELPER), &task)
        .unwrap();
    assert!(report.all_passed(), "{report:?}");
    // A skill that runs but does not reach the goal fails the environment's check, and the
    // task's name reaches it.
    let report = env.check(&sandbox, &bundle(ADD_ONE), &task).unwrap();
    let failure = report.tests[0].failure.as_ref().unwrap();
    assert_eq!(failure.name.as_deref(), Some("TaskNotDone"));
    assert!(
        failure.message.contains("the counter shows 1"),
        "{failure:?}"
    );

    // A world per sandbox call: each call of addOne starts from 0 (the default reset).
    for _ in 0..2 {
        let report = skillforge::validate::run_tests(
            &sandbox,
            skillforge::validate::Job {
                bundle: &bundle(&ADD_ONE.replace("@test addOne();", "@example addOne() => 1")),
                tests: &common::skill(
                    &ADD_ONE.replace("@test addOne();", "@example addOne() => 1"),
                )
                .tests,
                limits: &Default::default(),
            },
        )
        .unwrap();
        assert!(report.all_passed(), "{report:?}");
    }
    // A world's task without a test is checked by calling the skill.
    let mut unnamed = task.clone();
    unnamed.tests.clear();
    unnamed.name = None;
    assert!(
        env.check(&sandbox, &bundle(REACH), &unnamed)
            .unwrap()
            .all_passed()
    );
    assert!(
        !env.check(&sandbox, &bundle(ADD_ONE), &unnamed)
            .unwrap()
            .all_passed()
    );
    // A task without a world: the test's own assertions judge, in a default world.
    let free = Task::from_user("add one")
        .with_name("addOne")
        .with_example("addOne()", "1");
    assert!(
        env.check(&sandbox, &bundle(ADD_ONE), &free)
            .unwrap()
            .all_passed()
    );
}

#[test]
fn a_crash_during_a_skill_is_a_thrown_error_and_the_next_world_works() {
    let env = ExternalEnvironment::start(faulty("crash")).unwrap();
    let sandbox = sandbox_for(&env);
    let task = env.task(ResetParams::default()).unwrap();
    let crashing = "/**\n * Crashes the environment.\n * @capability misbehave\n * @test reachTarget();\n */\nfunction reachTarget() {\n  host.call('misbehave', {});\n}";
    let report = env.check(&sandbox, &bundle(crashing), &task).unwrap();
    let failure = report.tests[0].failure.as_ref().unwrap();
    assert_eq!(failure.kind, FailureKind::JsError);
    assert_eq!(
        failure.name.as_deref(),
        Some("EnvironmentError"),
        "{failure:?}"
    );
    assert!(failure.message.contains("crashed"), "{failure:?}");
    assert_eq!(env.process().restarts(), 0, "restarted only when needed");
    // The next world runs in a new process.
    assert!(
        env.check(&sandbox, &bundle(REACH), &task)
            .unwrap()
            .all_passed()
    );
    assert_eq!(env.process().restarts(), 1);
}

#[test]
fn a_hang_during_a_skill_is_an_error_it_can_read_before_its_deadline() {
    let mut env = ExternalEnvironment::start(faulty("hang")).unwrap();
    // The call's deadline comes before the process's own timeout (5 s).
    env.limits.wall_clock = Duration::from_secs(2);
    let sandbox = sandbox_for(&env);
    let task = env.task(ResetParams::default()).unwrap();
    let hanging = "/**\n * Waits on the environment.\n * @capability misbehave\n * @test reachTarget();\n */\nfunction reachTarget() {\n  host.call('misbehave', {});\n}";
    let report = env.check(&sandbox, &bundle(hanging), &task).unwrap();
    let failure = report.tests[0].failure.as_ref().unwrap();
    assert_eq!(failure.kind, FailureKind::JsError, "{failure:?}");
    assert_eq!(failure.name.as_deref(), Some("EnvironmentError"));
    assert!(
        failure.message.contains("did not answer 'act' in time"),
        "{failure:?}"
    );
    assert!(
        env.check(&sandbox, &bundle(REACH), &task)
            .unwrap()
            .all_passed()
    );
}
