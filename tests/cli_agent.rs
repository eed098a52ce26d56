//! `skillforge solve`, `run` and `episodes` as a user runs them, against an OpenAI-compatible
//! server on loopback that stands for the network (everything else is real), and `kill -9` at
//! any point of a run followed by a restart. Needs `scripts/setup embed`.

mod common;

use common::json_of;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

const DOUBLE: &str = "/**\n * Doubles a number.\n * @example double(2) => 4\n * @example double(-3) => -6\n */\nfunction double(x) {\n  return x * 2;\n}";
const QUADRUPLE: &str = "/**\n * Multiplies a number by four by doubling it twice.\n * @example quadruple(3) => 12\n */\nfunction quadruple(x) {\n  return double(double(x));\n}";
const TRIPLE: &str = "/**\n * Triples a number.\n * @example triple(2) => 6\n */\nfunction triple(x) {\n  return x * 3;\n}";

/// The fake model server of `common`, answering by what the prompt asks; it counts the
/// coder's requests besides all of them.
struct FakeModel {
    server: common::fake_model::FakeModel,
    requests: Arc<AtomicUsize>,
    coder_requests: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
}

fn complete(prompt: &str, coder_requests: &AtomicUsize) -> String {
    if prompt.contains("You propose the next") {
        json!({"task": "Triple a number", "name": "triple", "examples": [["triple(5)", "15"]]})
            .to_string()
    } else if prompt.contains("You review") {
        r#"{"success": true, "feedback": "Looks right."}"#.to_string()
    } else {
        coder_requests.fetch_add(1, Ordering::SeqCst);
        let code = if prompt.contains("Multiply a number by four") {
            QUADRUPLE
        } else if prompt.contains("Triple") {
            TRIPLE
        } else {
            DOUBLE
        };
        common::fake_model::code_reply(code)
    }
}

impl FakeModel {
    async fn start() -> FakeModel {
        let coder_requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&coder_requests);
        let server =
            common::fake_model::FakeModel::start(move |prompt| complete(prompt, &counter)).await;
        FakeModel {
            requests: Arc::clone(&server.requests),
            delay_ms: Arc::clone(&server.delay_ms),
            coder_requests,
            server,
        }
    }

    fn command(&self, data_dir: &Path, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_skillforge"));
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .args(self.server.args())
            .kill_on_drop(true);
        for var in common::SHARED_SERVER_VARIABLES {
            command.env_remove(var);
        }
        command
    }

    async fn run(&self, data_dir: &Path, args: &[&str]) -> Output {
        self.command(data_dir, args).output().await.unwrap()
    }
}

async fn skillforge(data_dir: &Path, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_skillforge"));
    command.arg("--data-dir").arg(data_dir).args(args);
    for var in common::SHARED_SERVER_VARIABLES {
        command.env_remove(var);
    }
    command.output().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn solve_admits_then_reuses_across_processes_and_episodes_are_listed() {
    let model = FakeModel::start().await;
    let data = tempfile::tempdir().unwrap();
    let out = model
        .run(
            data.path(),
            &[
                "solve",
                "Double a number",
                "--name",
                "double",
                "--example",
                "double(21) => 42",
                "--json",
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let first = json_of(&out);
    assert_eq!(first["status"], "admitted");
    assert_eq!(first["skill"], "default/double");
    assert_eq!(first["calls"], json!([]));

    let out = model
        .run(
            data.path(),
            &[
                "solve",
                "Multiply a number by four",
                "--name",
                "quadruple",
                "--json",
            ],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let second = json_of(&out);
    assert_eq!(second["status"], "admitted");
    assert_eq!(second["calls"], json!(["double"]));

    let out = skillforge(data.path(), &["episodes", "list", "--json"]).await;
    let episodes = json_of(&out);
    assert_eq!(episodes.as_array().unwrap().len(), 2);
    assert_eq!(episodes[0]["id"], second["episode"], "newest first");

    let id = second["episode"].as_str().unwrap();
    let out = skillforge(data.path(), &["episodes", "show", id, "--json"]).await;
    let shown = json_of(&out);
    let kinds: Vec<&str> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"retrieval"));
    assert_eq!(kinds.last(), Some(&"admission"));
    let call = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "llm_call")
        .unwrap();
    assert_eq!(call["payload"]["prompt_tokens"], 100);
    assert!(
        call["payload"]["messages"]
            .to_string()
            .contains("function double")
    );

    let out = skillforge(data.path(), &["episodes", "show", "no-such-episode"]).await;
    assert_eq!(out.status.code(), Some(2));
}

/// `episodes prune` deletes the journals of old episodes that admitted nothing, keeps the
/// admission's, and leaves every episode listed with its status and outcome.
#[tokio::test(flavor = "multi_thread")]
async fn episodes_prune_deletes_the_journals_of_episodes_that_admitted_nothing() {
    let model = FakeModel::start().await;
    let data = tempfile::tempdir().unwrap();
    let solve = |args: &'static [&'static str]| model.run(data.path(), args);
    let admitted = json_of(
        &solve(&[
            "solve",
            "Double a number",
            "--name",
            "double",
            "--example",
            "double(21) => 42",
            "--json",
        ])
        .await,
    );
    assert_eq!(admitted["status"], "admitted");
    // The model's triple cannot pass this example: the episode fails.
    let out = solve(&[
        "solve",
        "Triple a number",
        "--name",
        "triple",
        "--example",
        "triple(2) => 7",
        "--max-rounds",
        "1",
        "--json",
    ])
    .await;
    let failed = json_of(&out);
    assert_eq!(failed["status"], "failed", "{out:?}");
    let events = |shown: &Value| shown["events"].as_array().unwrap().len();
    let show = |id: &Value| {
        let id = id.as_str().unwrap().to_string();
        let dir = data.path().to_path_buf();
        async move { json_of(&skillforge(&dir, &["episodes", "show", &id, "--json"]).await) }
    };
    assert!(events(&show(&failed["episode"]).await) > 0);

    // Not old enough yet.
    let out = skillforge(
        data.path(),
        &["episodes", "prune", "--older-than-days", "1", "--json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(json_of(&out), json!({"episodes": 0, "events": 0}));

    let out = skillforge(
        data.path(),
        &["episodes", "prune", "--older-than-days", "0", "--json"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let pruned = json_of(&out);
    assert_eq!(pruned["episodes"], 1, "{pruned}");
    assert!(pruned["events"].as_u64().unwrap() > 0, "{pruned}");

    let shown = show(&failed["episode"]).await;
    assert_eq!(events(&shown), 0);
    assert_eq!(shown["episode"]["status"], "failed");
    assert!(shown["episode"]["journal_pruned_at"].is_string(), "{shown}");
    assert!(shown["episode"]["outcome"].is_object(), "{shown}");
    let kept = show(&admitted["episode"]).await;
    assert!(
        events(&kept) > 0,
        "an admission's journal is its skill's evidence"
    );
    assert!(kept["episode"]["journal_pruned_at"].is_null());
    let id = failed["episode"].as_str().unwrap();
    let out = skillforge(data.path(), &["episodes", "show", id]).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("journal: pruned"),
        "{out:?}"
    );

    let out = skillforge(data.path(), &["episodes", "prune", "--older-than-days=-2"]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("zero or more days"),
        "{out:?}"
    );
}

/// What the open episodes' journals hold of a round that was never refused or admitted:
/// `Some(true)` an attempt (the code taken from the coder's reply), `Some(false)` only the
/// reply; work the restart must take up without asking the coder again.
async fn journalled_work_pending(data_dir: &Path) -> Option<bool> {
    let out = skillforge(data_dir, &["episodes", "list", "--json"]).await;
    let episodes = json_of(&out);
    for episode in episodes.as_array().unwrap() {
        if episode["status"] != "running" {
            continue;
        }
        let id = episode["id"].as_str().unwrap();
        let out = skillforge(data_dir, &["episodes", "show", id, "--json"]).await;
        let shown = json_of(&out);
        let events = shown["events"].as_array().unwrap();
        let replied = events
            .iter()
            .any(|e| e["kind"] == "llm_call" && e["payload"]["purpose"] == "coder");
        let refused = events
            .iter()
            .any(|e| e["kind"] == "verdict" && e["payload"]["passed"] == false);
        let attempted = events
            .iter()
            .any(|e| e["kind"] == "attempt" && e["payload"]["code"].is_string());
        if replied && !refused {
            return Some(attempted);
        }
    }
    None
}

/// Kills `skillforge solve` with SIGKILL at a spread of moments (opening the library and
/// loading the starter skills; waiting for the model; just after its reply, while validating
/// and admitting), restarts with `skillforge run`, and checks that the library and the
/// journal are whole, and that work the journal holds is not asked of the coder again.
#[tokio::test(flavor = "multi_thread")]
async fn kill_dash_nine_at_any_point_then_run_resumes_cleanly() {
    let model = FakeModel::start().await;
    let mut resumed = 0;
    let mut after_the_attempt = 0;
    // None: kill 150 ms after start. Some(d): kill d ms after the model received the prompt
    // (it answers after 300 ms).
    for kill_at in [
        None,
        Some(0),
        Some(250),
        Some(305),
        Some(310),
        Some(320),
        Some(330),
        Some(360),
        Some(450),
    ] {
        let data = tempfile::tempdir().unwrap();
        model.delay_ms.store(300, Ordering::SeqCst);
        let before = model.requests.load(Ordering::SeqCst);
        let mut child = model
            .command(
                data.path(),
                &[
                    "solve",
                    "Double a number",
                    "--name",
                    "double",
                    "--no-critic",
                    "--json",
                ],
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        match kill_at {
            None => tokio::time::sleep(Duration::from_millis(150)).await,
            Some(after) => {
                while model.requests.load(Ordering::SeqCst) == before {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                tokio::time::sleep(Duration::from_millis(after)).await;
            }
        }
        // SIGKILL: no destructor, no rollback by the process itself.
        let _ = child.start_kill();
        let _ = child.wait().await;
        let when = match kill_at {
            None => "150 ms after start".to_string(),
            Some(ms) => format!("{ms} ms after the prompt reached the model"),
        };

        // Killed between the coder's reply (journalled) and the admission's commit?
        let pending = journalled_work_pending(data.path()).await;
        after_the_attempt += usize::from(pending == Some(true));

        model.delay_ms.store(0, Ordering::SeqCst);
        let coder_before = model.coder_requests.load(Ordering::SeqCst);
        let out = model
            .run(data.path(), &["run", "--iterations", "1", "--json"])
            .await;
        assert_eq!(out.status.code(), Some(0), "after a kill {when}: {out:?}");
        if pending.is_some() {
            assert_eq!(
                model.coder_requests.load(Ordering::SeqCst),
                coder_before,
                "after a kill {when}, the resumed episode asked the coder again for work its \
                 journal holds"
            );
        }
        // `run --json` prints one report per episode; a resumed one finishes the killed task.
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let report: Value = serde_json::from_str(line).unwrap();
            if report["resumed"] == true {
                assert_eq!(report["task"]["description"], "Double a number");
                resumed += 1;
            }
        }

        let out = skillforge(data.path(), &["episodes", "list", "--json"]).await;
        let episodes = json_of(&out);
        let episodes = episodes.as_array().unwrap();
        assert!(!episodes.is_empty());
        for e in episodes {
            assert_ne!(e["status"], "running", "a kill {when} left {e}");
        }
        let out = skillforge(data.path(), &["skills", "list", "--json"]).await;
        let skills = json_of(&out);
        let skills = skills.as_array().unwrap();
        let starter = common::starter_count();
        let admitted = episodes
            .iter()
            .filter(|e| e["status"] == "admitted")
            .count();
        assert_eq!(skills.len(), starter + admitted, "kill {when}");
        for skill in skills {
            assert_eq!(skill["current_version"], 1, "kill {when}: {skill}");
        }
        // Every admitted skill is findable: the index caught up with the store.
        for e in episodes.iter().filter(|e| e["status"] == "admitted") {
            let name = e["outcome"]["skill"].as_str().unwrap();
            let short = name.rsplit('/').next().unwrap();
            let out = skillforge(
                data.path(),
                &["skills", "search", short, "-k", "3", "--json"],
            )
            .await;
            let hits = json_of(&out);
            assert!(
                hits.as_array().unwrap().iter().any(|h| h["name"] == short),
                "kill {when}: {short} not found in {hits}"
            );
        }
    }
    assert!(
        resumed > 0,
        "no kill landed inside an episode: the timings no longer exercise resuming"
    );
    assert!(
        after_the_attempt > 0,
        "no kill landed between the attempt and the admission's commit: the timings no longer \
         exercise resuming journalled work"
    );
}

const HALVE: &str = "/**\n * Halves a number.\n * @example halve(8) => 4\n */\nfunction halve(x) {\n  return x / 2;\n}\n";

/// Neither stream of a command mentions damage or deleting anything.
fn assert_no_damage_talk(out: &Output, what: &str) {
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream).to_lowercase();
        assert!(
            !text.contains("damaged") && !text.contains("delete"),
            "{what}: {text}"
        );
    }
}

/// While `run` holds a data dir (its model is slow), other processes list, show, search,
/// export and read the journal; a writer with a short timeout is told who holds the library,
/// and one with a long timeout waits and gets in after the run: nothing is lost.
#[tokio::test(flavor = "multi_thread")]
async fn readers_answer_and_writers_wait_while_run_holds_the_library() {
    let model = FakeModel::start().await;
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    let out = model
        .run(
            dir,
            &["solve", "Double a number", "--name", "double", "--json"],
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let solved = json_of(&out);

    model.delay_ms.store(10_000, Ordering::SeqCst);
    let before = model.requests.load(Ordering::SeqCst);
    let mut run = model
        .command(dir, &["run", "--iterations", "1", "--no-critic", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run_pid = run.id().unwrap().to_string();
    // The run holds the library before it asks the model anything.
    while model.requests.load(Ordering::SeqCst) == before {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let file = dir.join("halve.js");
    std::fs::write(&file, HALVE).unwrap();
    let file = file.to_str().unwrap().to_string();
    let export = dir.join("export");
    let export_dir = export.to_str().unwrap().to_string();
    let mut waiting_writer = tokio::process::Command::new(env!("CARGO_BIN_EXE_skillforge"));
    waiting_writer
        .arg("--data-dir")
        .arg(dir)
        .args(["skills", "add", &file, "--json", "--lock-timeout", "120"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for var in common::SHARED_SERVER_VARIABLES {
        waiting_writer.env_remove(var);
    }
    let waiting_writer = waiting_writer.spawn().unwrap();

    let export_args = ["skills", "export", &export_dir, "--json"];
    let impatient_args = ["skills", "add", &file, "--json", "--lock-timeout", "0.5"];
    let (list, show, search, export_out, episodes, impatient) = tokio::join!(
        skillforge(dir, &["skills", "list", "--json"]),
        skillforge(dir, &["skills", "show", "double", "--json"]),
        skillforge(
            dir,
            &["skills", "search", "double a number", "-k", "3", "--json"]
        ),
        skillforge(dir, &export_args),
        skillforge(dir, &["episodes", "list", "--json"]),
        skillforge(dir, &impatient_args),
    );
    let episode_id = solved["episode"].as_str().unwrap();
    let shown = skillforge(dir, &["episodes", "show", episode_id, "--json"]).await;
    assert!(
        run.try_wait().unwrap().is_none(),
        "the run ended before the readers did: the test no longer overlaps them"
    );
    model.delay_ms.store(0, Ordering::SeqCst);

    for (what, out) in [
        ("skills list", &list),
        ("skills show", &show),
        ("skills search", &search),
        ("skills export", &export_out),
        ("episodes list", &episodes),
        ("episodes show", &shown),
    ] {
        assert_eq!(out.status.code(), Some(0), "{what}: {out:?}");
        assert_no_damage_talk(out, what);
    }
    let skills = json_of(&list);
    assert_eq!(
        skills.as_array().unwrap().len(),
        common::starter_count() + 1
    );
    assert_eq!(json_of(&show)["record"]["name"], "double");
    let hits = json_of(&search);
    assert!(
        hits.as_array()
            .unwrap()
            .iter()
            .any(|h| h["name"] == "double"),
        "{hits}"
    );
    assert!(export.join("default/double.js").is_file());
    let listed = json_of(&episodes);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == solved["episode"]),
        "{listed}"
    );
    assert_eq!(json_of(&shown)["episode"]["status"], "admitted");

    // The impatient writer gave up, saying who holds the library and what to do.
    assert_eq!(impatient.status.code(), Some(2), "{impatient:?}");
    let told = String::from_utf8_lossy(&impatient.stderr);
    assert!(told.contains(&format!("process {run_pid}")), "{told}");
    assert!(told.contains("run --iterations 1"), "{told}");
    assert!(
        told.contains("--lock-timeout") && told.contains("--data-dir"),
        "{told}"
    );
    assert_no_damage_talk(&impatient, "impatient writer");

    let run = run.wait_with_output().await.unwrap();
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let report: Value =
        serde_json::from_str(String::from_utf8_lossy(&run.stdout).lines().next().unwrap()).unwrap();
    // The fake curriculum's check expects the string "15", so the episode may fail; either
    // way it is journalled, and an admitted skill is listed below.
    let admitted = report["status"] == "admitted";
    assert!(admitted || report["status"] == "failed", "{report}");

    // The patient writer waited (and said for whom), then added its skill.
    let waited = waiting_writer.wait_with_output().await.unwrap();
    assert_eq!(waited.status.code(), Some(0), "{waited:?}");
    let told = String::from_utf8_lossy(&waited.stderr);
    assert!(
        told.contains(&format!("in use by process {run_pid}")) && told.contains("waiting"),
        "{told}"
    );

    // Nothing lost: the run's episode, the solve's skill, the run's (if admitted) and the
    // waiting writer's are all there.
    let out = skillforge(dir, &["episodes", "list", "--json"]).await;
    let listed = json_of(&out);
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == report["episode"] && e["status"] == report["status"]),
        "{listed}"
    );
    let out = skillforge(dir, &["skills", "list", "--json"]).await;
    let names: Vec<String> = json_of(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    let mut expected = vec!["double", "halve"];
    if admitted {
        expected.push("triple");
    }
    assert_eq!(
        names.len(),
        common::starter_count() + expected.len(),
        "{names:?}"
    );
    for name in expected {
        assert!(names.iter().any(|n| n == name), "{name} lost: {names:?}");
        let out = skillforge(dir, &["skills", "search", name, "-k", "3", "--json"]).await;
        let hits = json_of(&out);
        assert!(
            hits.as_array().unwrap().iter().any(|h| h["name"] == name),
            "{name} not indexed: {hits}"
        );
    }
}

/// A `solve` killed with SIGKILL leaves its lock file behind (naming it); the next writer
/// takes the library at once, without waiting.
#[tokio::test(flavor = "multi_thread")]
async fn a_lock_left_by_kill_dash_nine_is_recovered_at_once() {
    let model = FakeModel::start().await;
    let data = tempfile::tempdir().unwrap();
    let dir = data.path();
    model.delay_ms.store(60_000, Ordering::SeqCst);
    let mut solve = model
        .command(dir, &["solve", "Double a number", "--name", "double"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = solve.id().unwrap();
    while model.requests.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = solve.start_kill();
    let _ = solve.wait().await;
    let stale = std::fs::read_to_string(dir.join(skillforge::library::LOCK_FILE)).unwrap();
    let stale: Value = serde_json::from_str(&stale).unwrap();
    assert_eq!(
        stale["pid"], pid,
        "the dead holder's record is left: {stale}"
    );

    let file = dir.join("halve.js");
    std::fs::write(&file, HALVE).unwrap();
    let out = skillforge(
        dir,
        &[
            "skills",
            "add",
            file.to_str().unwrap(),
            "--json",
            "--lock-timeout",
            "0",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{out:?}"
    );
    assert_eq!(json_of(&out)["skill"], "halve");
    let record = std::fs::read_to_string(dir.join(skillforge::library::LOCK_FILE)).unwrap();
    assert_eq!(record, "", "released by the writer that exited normally");
}

#[tokio::test(flavor = "multi_thread")]
async fn solve_takes_the_examples_in_a_pasted_prompt_as_its_check() {
    let model = FakeModel::start().await;
    let data = tempfile::tempdir().unwrap();
    let prompt = "/**\n * Double a number.\n * >>> twice(4)\n * 8\n * >>> twice(x)\n * 2\n */\nfunction twice(n) {";
    let out = model
        .run(data.path(), &["solve", prompt, "--name", "double"])
        .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(default/double)"), "{stdout}");
    assert!(
        stdout.contains("checks (1, run in the sandbox):\n  double(4) => 8\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("example not used as a check: line 5: \">>> twice(x)\": the call uses x"),
        "{stdout}"
    );
}
