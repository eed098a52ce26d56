//! `skillforge eval` as a user runs it, against an OpenAI-compatible server on loopback that
//! stands for the network (everything else is real: sandbox, ONNX embedder, SQLite,
//! qdrant-edge). Needs `scripts/setup embed`.

mod common;

use common::fake_model::FakeModel;
use common::json_of;

use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const DOUBLE: &str = "/**\n * Doubles a number.\n * @example double(2) => 4\n * @example double(-3) => -6\n */\nfunction double(x) {\n  return x * 2;\n}";
const QUADRUPLE: &str = "/**\n * Multiplies a number by four by doubling it twice.\n * @example quadruple(3) => 12\n */\nfunction quadruple(x) {\n  return double(double(x));\n}";

/// Every reply of the fake model costs this many tokens (prompt and completion).
const TOKENS_PER_CALL: u64 = 140;

/// The coder's answer: quadruple (which calls double) for the task that asks for it,
/// double otherwise.
fn complete(prompt: &str) -> String {
    let code = if prompt.contains("Multiply a number by four") {
        QUADRUPLE
    } else {
        DOUBLE
    };
    common::fake_model::code_reply(code)
}

/// The fake model's URL (the server runs as long as the test's runtime).
async fn fake_model() -> String {
    common::fake_model::FakeModel::start(complete)
        .await
        .base_url
}

/// `skillforge --data-dir DATA_DIR ARGS`, away from any shared server.
fn command(data_dir: &Path, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_skillforge"));
    command.arg("--data-dir").arg(data_dir).args(args);
    for var in common::SHARED_SERVER_VARIABLES {
        command.env_remove(var);
    }
    command
}

async fn skillforge(data_dir: &Path, args: &[&str]) -> Output {
    command(data_dir, args).output().await.unwrap()
}

/// Starts `skillforge ARGS` in `data_dir` and kills it (SIGKILL) while it waits for the
/// model's reply to request `held` (counting from 0), which `model` holds unanswered.
/// Temporary files go to `tmp`.
async fn kill_at_request(
    model: &FakeModel,
    data_dir: &Path,
    tmp: &Path,
    args: &[&str],
    held: usize,
) {
    model.hold_from.store(held, Ordering::SeqCst);
    let mut child = command(data_dir, args)
        .env("TMPDIR", tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while model.requests.load(Ordering::SeqCst) <= held {
        let status = child.try_wait().unwrap();
        assert!(
            status.is_none(),
            "it ended ({status:?}) before request {held}"
        );
        assert!(Instant::now() < deadline, "no request {held} in 300 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().await.unwrap();
    model.hold_from.store(usize::MAX, Ordering::SeqCst);
}

/// The only eval run stored in `data_dir`.
async fn the_run(data_dir: &Path) -> Value {
    let out = skillforge(data_dir, &["eval", "list", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let runs = json_of(&out);
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    runs[0].clone()
}

/// A HumanEval-JS problem: the prompt's `>>>` example is the agent's check, `tests` the
/// suite's own (stricter) ones.
fn problem(id: usize, name: &str, what: &str, example: (&str, &str), tests: &[&str]) -> String {
    let asserts: String = tests
        .iter()
        .map(|t| format!("  assert.deepStrictEqual({t});\n"))
        .collect();
    json!({
        "task_id": format!("Tiny/{id}"),
        "entry_point": name,
        "prompt": format!("/**\n * {what}\n * >>> {}\n * {}\n */\nfunction {name}(x) {{\n", example.0, example.1),
        "tests": format!("const assert = require('node:assert');\n\nfunction test() {{\n  const candidate = {name};\n{asserts}}}\n\ntest();"),
    })
    .to_string()
}

/// A JSON number within rounding of `expected` (JSON text does not round-trip every f64).
fn assert_close(value: &Value, expected: f64) {
    let actual = value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"));
    assert!((actual - expected).abs() < 1e-9, "{actual} != {expected}");
}

/// The summary of the arm `kind` in a report.
fn summary<'a>(report: &'a Value, kind: &str) -> &'a Value {
    let arm = report["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == kind)
        .unwrap();
    &arm["summary"]
}

/// The three-problem suite (double, quadruple calling double, twice) in `dir/tiny.jsonl`, or
/// its first `limit` problems.
fn tiny_suite(dir: &Path, limit: usize) -> std::path::PathBuf {
    let suite = dir.join("tiny.jsonl");
    let lines = [
        problem(
            0,
            "double",
            "Double a number.",
            ("double(2)", "4"),
            &["candidate(2), 4", "candidate(-3), -6", "candidate(0), 0"],
        ),
        problem(
            1,
            "quadruple",
            "Multiply a number by four.",
            ("quadruple(3)", "12"),
            &["candidate(3), 12", "candidate(-1), -4"],
        ),
        problem(
            2,
            "twice",
            "Twice a number: the number added to itself.",
            ("twice(3)", "6"),
            &["candidate(3), 6", "candidate(10), 20"],
        ),
    ];
    std::fs::write(&suite, lines[..limit].join("\n") + "\n").unwrap();
    suite
}

/// The episodes of the library in `library` (its journals), as `episodes list --json` reads them.
async fn episodes(library: &Path) -> Vec<Value> {
    let out = skillforge(library, &["episodes", "list", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    json_of(&out).as_array().unwrap().clone()
}

/// The journal of episode `id` in `library`, as `episodes show ID --json` reads it: its
/// events' kinds.
async fn journal(library: &Path, id: &str) -> Vec<String> {
    let out = skillforge(library, &["episodes", "show", id, "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    json_of(&out)["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn eval_runs_both_arms_reports_reuse_and_composition_and_stores_the_run() {
    let url = fake_model().await;
    let dir = tempfile::tempdir().unwrap();
    let suite = tiny_suite(dir.path(), 3);
    let data = dir.path().join("data");
    let plot = dir.path().join("curve.png");
    let out = skillforge(
        &data,
        &[
            "eval",
            "--suite",
            suite.to_str().unwrap(),
            "--plot",
            plot.to_str().unwrap(),
            "--max-rounds",
            "2",
            // The model calls are counted exactly below; the cross-check of example checks
            // (its own tests are in tests/agent.rs) would add its candidates' calls.
            "--cross-check",
            "0",
            "--json",
            "--llm-url",
            &url,
            "--llm-model",
            "fake-coder",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report = json_of(&out);
    assert_eq!(report["planned_tasks"], 3);
    assert_eq!(report["model"], "fake-coder");

    // Without a library, quadruple's code calls a double that is not there: it fails every
    // round, the same code each time, so its two repeated rounds are given back
    // (`repeat_allowance`): 2 + 2 coder calls. double and twice are each written by one.
    let without = summary(&report, "without_library");
    assert_eq!(without["tasks"], 3);
    assert_eq!(without["solved"], 2);
    assert_eq!(without["reused"], 0);
    assert_eq!(without["composed"], 0);
    assert_eq!(without["admitted"], 2);
    assert_eq!(without["cumulative_solved"], json!([1, 1, 2]));
    assert_eq!(without["library_size"], 1, "the last task's fresh library");
    let without_calls = 1 + 4 + 1;
    assert_eq!(without["tokens"], TOKENS_PER_CALL * without_calls);
    assert_close(
        &without["tokens_per_solved"],
        (TOKENS_PER_CALL * without_calls) as f64 / 2.0,
    );
    assert_eq!(without["refinement_rounds"], 3);

    // With the library, quadruple calls the admitted double (composition, and a retrieved
    // skill used), and twice is solved by double as it is (reuse, no model call).
    let with = summary(&report, "with_library");
    assert_eq!(with["tasks"], 3);
    assert_eq!(with["solved"], 3);
    assert_eq!(with["reused"], 1);
    assert_eq!(with["admitted"], 2);
    assert_eq!(with["composed"], 1);
    assert_eq!(with["composition_rate"], 0.5);
    // double, retrieved for quadruple (which calls it) and for twice (solved by it).
    assert_eq!(with["retrieved_called"], 2);
    assert_eq!(with["library_size"], 2);
    assert_eq!(with["cumulative_solved"], json!([1, 2, 3]));
    assert_eq!(with["tokens"], TOKENS_PER_CALL * 2);
    assert_close(
        &with["tokens_per_solved"],
        (TOKENS_PER_CALL * 2) as f64 / 3.0,
    );
    assert_eq!(with["refinement_rounds"], 0);
    let outcomes = report["arms"][1]["outcomes"].as_array().unwrap();
    assert_eq!(outcomes[1]["calls"], json!(["double"]));
    assert_eq!(outcomes[2]["status"], "solved_with_existing");
    assert_eq!(outcomes[2]["skill"], "default/double");

    // Stderr is no terminal here: each task an arm finishes is a line instead of a bar.
    let progress: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|line| line.starts_with('['))
        .map(|line| line.split(" (").next().unwrap().to_string())
        .collect();
    assert_eq!(
        progress,
        [
            "[1/6] without library: Tiny/0: solved",
            "[2/6] with library: Tiny/0: solved",
            "[3/6] without library: Tiny/1: not solved",
            "[4/6] with library: Tiny/1: solved",
            "[5/6] without library: Tiny/2: solved",
            "[6/6] with library: Tiny/2: solved",
        ],
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Tiny/0: solved (admitted, 1 round, "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The plot is a PNG of the promised size.
    let png = std::fs::read(&plot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 800);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 500);
    assert_eq!(report["plot"], json!(plot));

    // The run is stored: listed, and shown as the same report.
    let id = report["id"].as_str().unwrap();
    let out = skillforge(&data, &["eval", "list", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let runs = json_of(&out);
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["id"], id);
    assert_eq!(
        runs[0]["solved"],
        json!({"without_library": "2/3", "with_library": "3/3"})
    );
    assert!(runs[0]["finished_at"].is_string());

    let out = skillforge(&data, &["eval", "show", id, "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let shown = json_of(&out);
    assert_eq!(shown["arms"], report["arms"]);

    let out = skillforge(&data, &["eval", "show", id]).await;
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("tasks solved"), "{table}");
    assert!(table.contains("3/3"), "{table}");

    // The arms' libraries are kept under the data dir, and the run says where: the journal
    // of every episode can be read with the CLI afterwards.
    let kept = std::path::absolute(data.join("eval").join(id)).unwrap();
    assert_eq!(shown["libraries"]["dir"], json!(kept));
    assert_eq!(report["libraries"], shown["libraries"]);
    let with_library = kept.join("with-library");
    assert_eq!(shown["libraries"]["with_library"], json!(with_library));
    assert!(
        table.contains(&format!(
            "skillforge --data-dir {} episodes list",
            with_library.display()
        )),
        "{table}"
    );
    let listed = episodes(&with_library).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    for (outcome, status) in outcomes
        .iter()
        .zip(["admitted", "admitted", "solved_with_existing"])
    {
        let episode = outcome["episode"].as_str().unwrap();
        let stored = listed.iter().find(|e| e["id"] == episode).unwrap();
        assert_eq!(stored["status"], status, "{stored}");
    }
    // quadruple's journal: the retrieval that found double, the coder's call, its admission.
    let quadruple = journal(&with_library, outcomes[1]["episode"].as_str().unwrap()).await;
    for kind in ["retrieval", "llm_call", "admission"] {
        assert!(quadruple.iter().any(|k| k == kind), "{kind}: {quadruple:?}");
    }
    // One library per task for the arm without: quadruple's holds its failed episode.
    let fresh: Vec<std::path::PathBuf> = shown["libraries"]["without_library"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().into())
        .collect();
    assert_eq!(
        fresh,
        (0..3)
            .map(|i| kept.join(format!("without-library-{i}")))
            .collect::<Vec<_>>()
    );
    let without_outcomes = report["arms"][0]["outcomes"].as_array().unwrap();
    for (library, outcome) in fresh.iter().zip(without_outcomes) {
        let listed = episodes(library).await;
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0]["id"], outcome["episode"]);
        assert_eq!(listed[0]["status"], outcome["status"]);
    }
    assert_eq!(without_outcomes[1]["status"], "failed");
    // Reading them did not fill them with the starter library: the arm's two skills only.
    let out = skillforge(&with_library, &["skills", "list", "--json"]).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(json_of(&out).as_array().unwrap().len(), 2);

    let out = skillforge(&data, &["eval", "show", "no-such-run"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("eval list"));
}

#[tokio::test(flavor = "multi_thread")]
async fn eval_with_discard_libraries_keeps_none_and_says_so() {
    let url = fake_model().await;
    let dir = tempfile::tempdir().unwrap();
    let suite = tiny_suite(dir.path(), 1);
    let data = dir.path().join("data");
    let out = skillforge(
        &data,
        &[
            "eval",
            "--suite",
            suite.to_str().unwrap(),
            "--discard-libraries",
            "--cross-check",
            "0",
            "--json",
            "--llm-url",
            &url,
            "--llm-model",
            "fake-coder",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report = json_of(&out);
    assert_eq!(summary(&report, "with_library")["solved"], 1);
    assert!(report["libraries"].is_null(), "{report}");
    let id = report["id"].as_str().unwrap();
    // Only the plot is left in the data dir's eval directory.
    let left: Vec<_> = std::fs::read_dir(data.join("eval"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, [format!("{id}.png")]);
    let out = skillforge(&data, &["eval", "show", id]).await;
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("libraries: discarded"), "{table}");

    // A finished run is not resumed.
    let out = skillforge(&data, &["eval", "resume", id]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nothing to resume"), "{stderr}");
}

/// `bench baseline --json` on `suite` with the fake model at `url`: the given arms, one
/// round, no cross-check. Its report, after asserting it ended well.
async fn baseline_json(data: &Path, suite: &Path, arms: &str, url: &str) -> Value {
    let args = [
        "bench",
        "baseline",
        "--suite",
        suite.to_str().unwrap(),
        "--arms",
        arms,
        "--cross-check",
        "0",
        "--max-rounds",
        "1",
        "--json",
        "--llm-url",
        url,
        "--llm-model",
        "fake-coder",
    ];
    let out = skillforge(data, &args).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    json_of(&out)
}

#[tokio::test(flavor = "multi_thread")]
async fn bench_baseline_keeps_the_loop_arms_libraries_and_their_journals() {
    let url = fake_model().await;
    let dir = tempfile::tempdir().unwrap();
    let suite = tiny_suite(dir.path(), 2);
    let data = dir.path().join("data");
    let report = baseline_json(&data, &suite, "loop,library", &url).await;
    let kept: std::path::PathBuf = report["libraries"].as_str().unwrap().into();
    assert_eq!(
        kept.parent().unwrap(),
        std::path::absolute(data.join("bench/baseline")).unwrap()
    );
    let arms = report["arms"].as_array().unwrap();
    assert_eq!(arms.len(), 2);
    // Each loop outcome names its library and episode, and the journal is there.
    let expected = [
        [kept.join("loop-0"), kept.join("loop-1")],
        [kept.join("library"), kept.join("library")],
    ];
    for (arm, libraries) in arms.iter().zip(expected) {
        let outcomes = arm["outcomes"].as_array().unwrap();
        assert_eq!(outcomes.len(), 2, "{arm}");
        for (outcome, library) in outcomes.iter().zip(libraries) {
            assert_eq!(outcome["library"], json!(library), "{outcome}");
            let episode = outcome["episode"].as_str().unwrap();
            let listed = episodes(&library).await;
            let stored = listed.iter().find(|e| e["id"] == episode).unwrap();
            assert_eq!(stored["status"], outcome["status"]);
            assert!(!journal(&library, episode).await.is_empty());
        }
    }
    assert_eq!(episodes(&kept.join("library")).await.len(), 2);
    let out = skillforge(&kept.join("loop-0"), &["skills", "list", "--json"]).await;
    assert_eq!(
        json_of(&out).as_array().unwrap().len(),
        1,
        "double only, no starter"
    );

    // The table says where they are.
    let out = skillforge(
        &data,
        &[
            "bench",
            "baseline",
            "--suite",
            suite.to_str().unwrap(),
            "--limit",
            "1",
            "--arms",
            "library",
            "--cross-check",
            "0",
            "--llm-url",
            &url,
            "--llm-model",
            "fake-coder",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let table = String::from_utf8(out.stdout).unwrap();
    let runs: Vec<_> = std::fs::read_dir(data.join("bench/baseline"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| *p != kept)
        .collect();
    assert_eq!(runs.len(), 1);
    assert!(
        table.contains(&format!(
            "skillforge --data-dir {} episodes list",
            runs[0].join("library").display()
        )),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bench_baseline_reports_tests_no_answer_passes_and_counts_no_admission_of_them_wrong() {
    let url = fake_model().await;
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("contradicts.jsonl");
    // Translated from Python, where 2.0 is a float apart from the int 2 (HumanEval_js/92).
    let tests = ["candidate(2), 4", "candidate(2.0), 5"];
    let line = problem(0, "double", "Double a number.", ("double(2)", "4"), &tests);
    std::fs::write(&suite, line + "\n").unwrap();
    let report = baseline_json(&dir.path().join("data"), &suite, "loop", &url).await;
    assert_eq!(
        report["unsatisfiable"],
        json!([{"task_id": "Tiny/0", "call": "double(2) is asserted to be 4 and 5"}])
    );
    let outcome = &report["arms"][0]["outcomes"][0];
    // The right double was admitted; it fails the suite, as every answer does.
    assert_eq!(outcome["status"], "admitted", "{outcome}");
    assert_eq!(outcome["passed"], false, "{outcome}");
    assert_eq!(outcome["wrong_admission"], false, "{outcome}");
    assert_eq!(report["arms"][0]["wrong_admissions"], 0);
}

/// The model alone is asked exactly what the loop asks first; seeded (`--sampling-seed`),
/// each arm's libraries apart, the two requests carry the same seed, so the loop's first
/// reply is the model's answer and the arms differ only by what the loop adds.
#[tokio::test(flavor = "multi_thread")]
async fn bench_baseline_asks_the_model_alone_what_the_loop_asks_first_with_the_same_seed() {
    let model = common::fake_model::FakeModel::start(complete).await;
    let dir = tempfile::tempdir().unwrap();
    let suite = tiny_suite(dir.path(), 1);
    let mut args = vec![
        "bench",
        "baseline",
        "--suite",
        suite.to_str().unwrap(),
        "--arms",
        "model,loop",
        "--cross-check",
        "0",
        "--max-rounds",
        "1",
        "--sampling-seed",
        "3",
        "--json",
    ];
    args.extend(model.args());
    let out = skillforge(&dir.path().join("data"), &args).await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report = json_of(&out);
    for arm in report["arms"].as_array().unwrap() {
        assert_eq!(arm["passed"], 1, "{arm}");
    }
    let bodies = model.bodies.lock().unwrap().clone();
    let (alone, loop_first) = (&bodies[0], &bodies[1]);
    assert!(alone["seed"].is_u64(), "{alone}");
    assert_eq!(alone, loop_first);
}

/// The tiny suite's eval arguments with the model at `url`.
fn eval_args<'a>(suite: &'a str, url: &'a str) -> [&'a str; 11] {
    [
        "eval",
        "--suite",
        suite,
        "--max-rounds",
        "2",
        "--cross-check",
        "0",
        "--llm-url",
        url,
        "--llm-model",
        "fake-coder",
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn eval_killed_mid_run_resumes_to_the_figures_of_an_uncut_run() {
    let model = FakeModel::start(complete).await;
    let dir = tempfile::tempdir().unwrap();
    let suite = tiny_suite(dir.path(), 3);
    let data = dir.path().join("data");
    let args = eval_args(suite.to_str().unwrap(), &model.base_url);
    // Requests 0-5: double in both arms, quadruple's four without a library. Request 6 is
    // quadruple's coder call with the library: killed while it waits for the reply.
    kill_at_request(&model, &data, dir.path(), &args, 6).await;
    let run = the_run(&data).await;
    assert!(run["finished_at"].is_null(), "{run}");
    let id = run["id"].as_str().unwrap().to_string();
    let out = skillforge(&data, &["eval", "show", &id, "--json"]).await;
    let cut = json_of(&out);
    assert_eq!(summary(&cut, "without_library")["tasks"], 2);
    assert_eq!(summary(&cut, "with_library")["tasks"], 1);
    let out = skillforge(&data, &["eval", "show", &id]).await;
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains(&format!("skillforge eval resume {id}")),
        "{table}"
    );
    let with_library =
        std::path::absolute(data.join("eval").join(&id).join("with-library")).unwrap();
    let open: Vec<Value> = episodes(&with_library)
        .await
        .into_iter()
        .filter(|e| e["status"] == "running")
        .collect();
    assert_eq!(open.len(), 1, "quadruple's episode, cut short");

    // Resumed from another directory: the stored arguments, the kept libraries.
    let mut resume = command(&data, &["eval", "resume", &id, "--json"]);
    let out = resume.current_dir(dir.path()).output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report = json_of(&out);
    assert_eq!(report["id"], id.as_str());
    // The figures of the uncut run (eval_runs_both_arms_...): nothing run twice or lost.
    let without = summary(&report, "without_library");
    assert_eq!(without["tasks"], 3);
    assert_eq!(without["solved"], 2);
    assert_eq!(without["cumulative_solved"], json!([1, 1, 2]));
    assert_eq!(without["tokens"], TOKENS_PER_CALL * 6);
    let with = summary(&report, "with_library");
    assert_eq!(with["tasks"], 3);
    assert_eq!(with["solved"], 3);
    assert_eq!(with["reused"], 1);
    assert_eq!(with["composed"], 1);
    assert_eq!(with["library_size"], 2);
    assert_eq!(with["cumulative_solved"], json!([1, 2, 3]));
    assert_eq!(with["tokens"], TOKENS_PER_CALL * 2);
    // The uncut run's 8 model calls, and the held one, lost with the process, asked again.
    assert_eq!(model.requests.load(Ordering::SeqCst), 8 + 1);
    // Quadruple's episode was resumed, not started again: the same episode, now admitted.
    let outcomes = report["arms"][1]["outcomes"].as_array().unwrap();
    assert_eq!(outcomes[1]["episode"], open[0]["id"]);
    assert_eq!(outcomes[1]["resumed"], true);
    assert_eq!(outcomes[1]["status"], "admitted");
    assert_eq!(outcomes[1]["calls"], json!(["double"]));
    let listed = episodes(&with_library).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(
        listed.iter().all(|e| e["status"] != "running"),
        "{listed:?}"
    );
    assert!(
        journal(&with_library, outcomes[1]["episode"].as_str().unwrap())
            .await
            .iter()
            .any(|k| k == "admission")
    );
    assert!(the_run(&data).await["finished_at"].is_string());
    assert!(data.join("eval").join(format!("{id}.png")).is_file());

    // Finished now: not resumed again.
    let out = skillforge(&data, &["eval", "resume", &id]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to resume"));
}

#[tokio::test(flavor = "multi_thread")]
async fn eval_cut_short_with_discarded_libraries_is_not_resumed() {
    let model = FakeModel::start(complete).await;
    let dir = tempfile::tempdir().unwrap();
    let suite = tiny_suite(dir.path(), 1);
    let data = dir.path().join("data");
    let mut args = eval_args(suite.to_str().unwrap(), &model.base_url).to_vec();
    args.push("--discard-libraries");
    kill_at_request(&model, &data, dir.path(), &args, 0).await;
    let id = the_run(&data).await["id"].as_str().unwrap().to_string();
    let out = skillforge(&data, &["eval", "resume", &id]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("libraries were discarded"), "{stderr}");
    assert_eq!(
        model.requests.load(Ordering::SeqCst),
        1,
        "no model call to refuse"
    );
}
