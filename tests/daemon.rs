//! `skillforge serve` as an operator runs it: the real binary on a loopback port the kernel
//! picks, a temporary data dir, driven over HTTP with reqwest; the language model is the
//! fake OpenAI-compatible server of `common`. Needs `scripts/setup embed`.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::fake_model::{FakeModel, code_reply};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

const DOUBLE: &str = "/**\n * Doubles a number.\n * @example double(2) => 4\n * @example double(-3) => -6\n */\nfunction double(x) {\n  return x * 2;\n}";
const TRIPLE: &str = "/**\n * Triples a number.\n * @example triple(2) => 6\n */\nfunction triple(x) {\n  return x * 3;\n}";
const SPIN: &str = "/**\n * Never returns.\n * @test spin(false);\n */\nfunction spin(really) {\n  while (really) {}\n  return 1;\n}";
const WRONG: &str = "/**\n * Halves a number, wrongly.\n * @example halve(4) => 2\n */\nfunction halve(x) {\n  return x;\n}";

/// A running `skillforge serve`.
struct Daemon {
    child: tokio::process::Child,
    /// `http://127.0.0.1:PORT`.
    url: String,
    http: reqwest::Client,
    token: Option<String>,
}

fn command(data_dir: &Path, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_skillforge"));
    command
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .kill_on_drop(true);
    for var in common::SHARED_SERVER_VARIABLES.iter().chain(&[
        "SKILLFORGE_LLM_URL",
        "SKILLFORGE_CONFIG",
        "SKILLFORGE_LISTEN",
    ]) {
        command.env_remove(var);
    }
    command
}

impl Daemon {
    /// Starts `serve --listen 127.0.0.1:0 ARGS` in `data_dir` and waits for the address it
    /// prints. Its log goes to `data_dir/serve.log`.
    async fn start(data_dir: &Path, args: &[&str]) -> Daemon {
        Self::start_on(data_dir, "127.0.0.1:0", args).await
    }

    async fn start_on(data_dir: &Path, listen: &str, args: &[&str]) -> Daemon {
        Self::start_with_env(data_dir, listen, args, &[]).await
    }

    /// [`Daemon::start_on`] with these environment variables set.
    async fn start_with_env(
        data_dir: &Path,
        listen: &str,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Daemon {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("serve.log"))
            .unwrap();
        let mut serve = vec!["serve", "--listen", listen];
        serve.extend_from_slice(args);
        let mut child = command(data_dir, &serve)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .expect("the daemon printed no address within 120 s")
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "the daemon exited: {}",
                    std::fs::read_to_string(data_dir.join("serve.log")).unwrap()
                )
            });
        let url = line
            .strip_prefix("skillforge serve: listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .replace("0.0.0.0", "127.0.0.1");
        Daemon {
            child,
            url,
            http: reqwest::Client::new(),
            token: None,
        }
    }

    fn with_token(mut self, token: &str) -> Daemon {
        self.token = Some(token.to_string());
        self
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.url));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        answer(self.request(reqwest::Method::GET, path)).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        answer(self.request(reqwest::Method::POST, path).json(&body)).await
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit code.
    async fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().unwrap().to_string();
        let killed = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(killed.success());
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("the daemon did not stop within 60 s of SIGTERM")
            .unwrap()
            .code()
    }

    /// The episode's journal as server-sent events, read to the end of the stream: (event
    /// name, data) pairs.
    async fn follow(&self, episode: &str) -> Vec<(String, Value)> {
        let mut response = self
            .request(
                reqwest::Method::GET,
                &format!("/v1/episodes/{episode}/events"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "not an event stream"
        );
        let mut text = String::new();
        let read = async {
            while let Some(chunk) = response.chunk().await.unwrap() {
                text.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        };
        tokio::time::timeout(Duration::from_secs(120), read)
            .await
            .expect("the event stream did not end within 120 s");
        text.split("\n\n")
            .filter_map(|block| {
                let mut name = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(n) = line.strip_prefix("event:") {
                        name = Some(n.trim().to_string());
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data = Some(serde_json::from_str(d.trim()).unwrap());
                    }
                }
                Some((name?, data?))
            })
            .collect()
    }
}

async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: not JSON: {text:?}"));
    (status, body)
}

/// An error answer: the status, and a JSON body with a `kind` and a message.
fn assert_error(answer: &(StatusCode, Value), status: StatusCode, kind: &str) {
    assert_eq!(answer.0, status, "{:#}", answer.1);
    assert_eq!(answer.1["kind"], kind, "{:#}", answer.1);
    assert!(
        answer.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{:#}",
        answer.1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn skills_over_http_with_json_errors_and_a_hostile_skill() {
    let data = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(data.path(), &["--no-agent", "--body-limit", "65536"]).await;

    let (status, health) = daemon.get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    let (status, ready) = daemon.get("/ready").await;
    assert_eq!(status, StatusCode::OK, "{ready:#}");
    assert_eq!(ready["skills"], common::starter_count());
    assert_eq!(ready["agent"], false);

    let (status, openapi) = daemon.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/v1/skills",
        "/v1/skills/{namespace}/{name}/run",
        "/v1/episodes/{id}/events",
        "/v1/run",
    ] {
        assert!(
            openapi["paths"][path].is_object(),
            "{path} is not documented"
        );
    }

    // Add, add the same again, show, search, list, run.
    let (status, added) = daemon.post("/v1/skills", json!({"code": DOUBLE})).await;
    assert_eq!(status, StatusCode::CREATED, "{added:#}");
    assert_eq!(added["skill"], "double");
    assert_eq!(added["version"], 1);
    let (status, again) = daemon.post("/v1/skills", json!({"code": DOUBLE})).await;
    assert_eq!(status, StatusCode::OK, "{again:#}");
    assert_eq!(again["changed"], false);
    let (status, shown) = daemon.get("/v1/skills/default/double").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["version"]["code"], DOUBLE, "{shown:#}");
    let (status, found) = daemon.get("/v1/search?q=double%20a%20number&k=3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["items"][0]["name"], "double", "{found:#}");
    let (_, listed) = daemon.get("/v1/skills?namespace=default").await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "double")
    );
    let (status, ran) = daemon
        .post("/v1/skills/default/double/run", json!({"input": [21]}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ran["ok"], true, "{ran:#}");
    assert_eq!(ran["value"], 42);

    // A rejected skill: 422 with the rejection's kind and the test report.
    let rejected = daemon.post("/v1/skills", json!({"code": WRONG})).await;
    assert_error(&rejected, StatusCode::UNPROCESSABLE_ENTITY, "tests_failed");
    assert!(rejected.1["report"].is_object(), "{:#}", rejected.1);

    // A hostile skill: an endless loop is cut by the wall clock (100 ms, well before the
    // server's fuel limit runs out), reported as `exec --json` reports it, and the daemon
    // goes on serving.
    let (status, _) = daemon.post("/v1/skills", json!({"code": SPIN})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, spun) = daemon
        .post(
            "/v1/skills/default/spin/run",
            json!({"input": [true], "limits": {"timeout_ms": 100}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spun["ok"], false, "{spun:#}");
    assert_eq!(spun["error"]["kind"], "timeout", "{spun:#}");
    let (status, _) = daemon.get("/health").await;
    assert_eq!(status, StatusCode::OK);
    let looser = daemon
        .post(
            "/v1/skills/default/spin/run",
            json!({"limits": {"timeout_ms": 10_000_000}}),
        )
        .await;
    assert_error(&looser, StatusCode::BAD_REQUEST, "bad_request");

    // Deprecate, export.
    let (status, deprecated) = daemon
        .post("/v1/skills/default/spin/deprecate", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(deprecated["status"], "deprecated");
    let (_, exported) = daemon.get("/v1/export?namespace=default").await;
    let spin = exported["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "spin")
        .expect("spin is exported");
    assert_eq!(spin["path"], "default/spin.js");
    assert_eq!(spin["code"], SPIN);

    // Errors are JSON with a kind.
    assert_error(
        &daemon.get("/v1/skills/default/nothing").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &daemon.get("/v1/skills/..%2Fetc/x").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    let big = "x".repeat(70_000);
    assert_error(
        &daemon.post("/v1/skills", json!({"code": big})).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    let bad_json = answer(
        daemon
            .request(reqwest::Method::POST, "/v1/skills")
            .header("content-type", "application/json")
            .body("{\"code\": "),
    )
    .await;
    assert_error(&bad_json, StatusCode::BAD_REQUEST, "bad_request");
    assert_error(
        &daemon.post("/v1/skills", json!({"cod": DOUBLE})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_request",
    );
    // Without tokens, only requests addressed to this machine (no DNS rebinding).
    let rebound = answer(
        daemon
            .request(reqwest::Method::GET, "/v1/skills")
            .header("host", "evil.example:8420"),
    )
    .await;
    assert_error(&rebound, StatusCode::FORBIDDEN, "forbidden");
    assert_error(
        &daemon.get("/v1/nowhere").await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &daemon
            .post("/v1/episodes", json!({"task": "Double a number"}))
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    );

    // Prometheus metrics: the sandbox calls above by outcome, the library's size.
    let metrics = daemon
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let metrics = metrics.text().await.unwrap();
    for line in [
        "skillforge_sandbox_call_seconds_bucket{outcome=\"timeout\"",
        "skillforge_sandbox_call_seconds_count{outcome=\"ok\"}",
        "skillforge_library_skills{status=\"deprecated\"} 1",
        "skillforge_index_outbox_backlog 0",
    ] {
        assert!(metrics.contains(line), "no {line} in\n{metrics}");
    }

    // SIGTERM while a skill runs: the call finishes and its answer is sent, then the daemon
    // exits.
    let in_flight = daemon
        .request(reqwest::Method::POST, "/v1/skills/default/spin/run")
        .json(&json!({"input": [true]}))
        .send();
    let in_flight = tokio::spawn(in_flight);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(daemon.terminate().await, Some(0));
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let spun: Value = response.json().await.unwrap();
    // Stopped by its own limits (fuel runs out in about 0.4 s), not by the shutdown.
    assert!(
        ["cpu_limit", "timeout"].contains(&spun["error"]["kind"].as_str().unwrap()),
        "{spun:#}"
    );
}

const YEAR: &str = "/**\n * The current year.\n * @capability clock\n * @test year();\n */\nfunction year() {\n  return new Date().getFullYear();\n}";

#[tokio::test(flavor = "multi_thread")]
async fn namespace_quotas_and_capability_policy_hold_across_restarts() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("skillforge.toml");
    std::fs::write(
        &config,
        "log_json = true\n[namespaces.limited]\nmax_skills = 2\nmax_sandbox_seconds = 0.05\n\
         allow_capabilities = []\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let args = [
        "--no-agent",
        "--config",
        config,
        "--allow-capability",
        "clock",
    ];
    let daemon = Daemon::start(data.path(), &args).await;

    // The library allows `clock`; the namespace's policy does not.
    let (status, _) = daemon.post("/v1/skills", json!({"code": YEAR})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_error(
        &daemon
            .post("/v1/skills", json!({"code": YEAR, "namespace": "limited"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "capability_not_allowed",
    );
    // Two skills at most.
    for code in [DOUBLE, SPIN] {
        let (status, added) = daemon
            .post("/v1/skills", json!({"code": code, "namespace": "limited"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{added:#}");
    }
    assert_error(
        &daemon
            .post(
                "/v1/skills",
                json!({"code": TRIPLE, "namespace": "limited"}),
            )
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "quota_exceeded",
    );
    // A new version of a skill it holds is not a new skill.
    let (status, _) = daemon
        .post(
            "/v1/skills",
            json!({"code": DOUBLE.replace("x * 2", "2 * x"), "namespace": "limited"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // 0.05 s of sandbox time: one 100 ms timeout spends it (well below the ~300 ms in which
    // the server's fuel limit runs out on an idle machine, so the wall clock cuts it first).
    let (_, spun) = daemon
        .post(
            "/v1/skills/limited/spin/run",
            json!({"input": [true], "limits": {"timeout_ms": 100}}),
        )
        .await;
    assert_eq!(spun["error"]["kind"], "timeout");
    let spent = daemon
        .post("/v1/skills/limited/double/run", json!({"input": [1]}))
        .await;
    assert_error(&spent, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded");
    let (status, ran) = daemon
        .post(
            "/v1/skills/default/median/run",
            json!({"input": [[3, 1, 2]]}),
        )
        .await;
    assert_eq!(
        (status, &ran["value"]),
        (StatusCode::OK, &json!(2)),
        "{ran:#}"
    );
    assert_eq!(daemon.terminate().await, Some(0));

    // The usage is kept in the store: the quota still holds after a restart.
    let daemon = Daemon::start(data.path(), &args).await;
    let (_, usage) = daemon.get("/v1/usage?namespace=limited").await;
    assert!(
        usage["usage"]["sandbox_ms"].as_u64().unwrap() >= 100,
        "{usage:#}"
    );
    assert_eq!(usage["max_skills"], 2);
    let spent = daemon
        .post("/v1/skills/limited/double/run", json!({"input": [1]}))
        .await;
    assert_error(&spent, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded");
    assert_eq!(daemon.terminate().await, Some(0));

    // `log_json = true`: every line of the log is a JSON object.
    let log = std::fs::read_to_string(data.path().join("serve.log")).unwrap();
    assert!(log.lines().count() > 2, "{log}");
    for line in log.lines() {
        let entry: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(entry["level"].is_string(), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_required_beyond_loopback_and_scoped_to_namespaces() {
    let data = tempfile::tempdir().unwrap();
    // Beyond loopback without a token: refused before anything is opened.
    let refused = command(
        data.path(),
        &["serve", "--listen", "0.0.0.0:0", "--no-agent"],
    )
    .output()
    .await
    .unwrap();
    assert_ne!(refused.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("token add"), "{stderr}");

    let make = |args: &'static [&'static str]| {
        let mut all = vec!["token", "add"];
        all.extend_from_slice(args);
        command(data.path(), &all).output()
    };
    let team = make(&["--name", "team", "--namespace", "team-a"])
        .await
        .unwrap();
    assert!(team.status.success(), "{team:?}");
    let team = String::from_utf8(team.stdout).unwrap().trim().to_string();
    let admin = make(&["--name", "admin", "--namespace", "*"])
        .await
        .unwrap();
    let admin = String::from_utf8(admin.stdout).unwrap().trim().to_string();
    let tokens = std::fs::read_to_string(data.path().join("tokens.toml")).unwrap();
    assert!(
        !tokens.contains(&team) && !tokens.contains(&admin),
        "tokens kept in clear"
    );

    let open = Daemon::start_on(data.path(), "0.0.0.0:0", &["--no-agent"]).await;
    let (status, _) = open.get("/health").await;
    assert_eq!(status, StatusCode::OK, "health needs no token");
    assert_error(
        &open.get("/v1/skills").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let stranger = Daemon {
        token: Some("sfk_0000".into()),
        ..open
    };
    assert_error(
        &stranger.get("/v1/skills").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    let team_daemon = stranger.with_token(&team);
    let (status, added) = team_daemon
        .post("/v1/skills", json!({"code": DOUBLE, "namespace": "team-a"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added:#}");
    assert_error(
        &team_daemon
            .post("/v1/skills", json!({"code": TRIPLE}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &team_daemon.get("/v1/skills/default/median").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (_, listed) = team_daemon.get("/v1/skills").await;
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["team-a"], "a token sees its namespaces only");
    let (_, found) = team_daemon.get("/v1/search?q=median%20of%20numbers").await;
    assert!(
        found["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["namespace"] == "team-a"),
        "{found:#}"
    );

    // Revoked while the daemon runs: refused at the next request.
    let removed = command(data.path(), &["token", "remove", "team"])
        .output()
        .await
        .unwrap();
    assert!(removed.status.success(), "{removed:?}");
    assert_error(
        &team_daemon.get("/v1/skills").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    let admin_daemon = team_daemon.with_token(&admin);
    let (status, _) = admin_daemon.get("/v1/skills/default/median").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(admin_daemon.terminate().await, Some(0));
}

/// The fake model: the curriculum proposes tripling, the critic agrees, the coder writes
/// what the task asks for.
fn agent_reply(prompt: &str) -> String {
    if prompt.contains("You propose the next") {
        json!({"task": "Triple a number", "name": "triple", "examples": [["triple(5)", 15]]})
            .to_string()
    } else if prompt.contains("You review") {
        r#"{"success": true, "feedback": "Looks right."}"#.to_string()
    } else if prompt.contains("Triple a number") {
        code_reply(TRIPLE)
    } else {
        code_reply(DOUBLE)
    }
}

fn kinds(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

/// `[episodes] keep_journals_days`: a daemon prunes the journals of old episodes that
/// admitted nothing when it starts (and every hour); the admission's journal stays.
#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_prunes_old_journals_of_episodes_that_admitted_nothing() {
    let model = FakeModel::start(agent_reply).await;
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("skillforge.toml");
    std::fs::write(&config, "[episodes]\nkeep_journals_days = 0.0\n").unwrap();
    let mut args = model.args().to_vec();
    args.extend(["--config", config.to_str().unwrap()]);
    let daemon = Daemon::start(data.path(), &args).await;
    let mut episodes = Vec::new();
    // The model's triple cannot pass this example: the episode fails; doubling is admitted.
    for (task, name, example) in [
        ("Triple a number", "triple", "triple(2) => 7"),
        ("Double a number", "double", "double(4) => 8"),
    ] {
        let episode = daemon
            .submit_when_free(&json!({"task": task, "name": name, "examples": [example]}))
            .await;
        let events = daemon.follow(&episode).await;
        episodes.push((episode, events.last().unwrap().1["status"].clone()));
    }
    assert_eq!(episodes[0].1, "failed");
    assert_eq!(episodes[1].1, "admitted");
    assert_eq!(daemon.terminate().await, Some(0));

    let daemon = Daemon::start(data.path(), &args).await;
    let shown = |id: String| {
        let daemon = &daemon;
        async move {
            for _ in 0..200 {
                let (_, shown) = daemon.get(&format!("/v1/episodes/{id}")).await;
                if !shown["episode"]["journal_pruned_at"].is_null() {
                    return shown;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("the journal of {id} was not pruned within 10 s");
        }
    };
    let failed = shown(episodes[0].0.clone()).await;
    assert_eq!(failed["events"], json!([]), "{failed:#}");
    assert_eq!(failed["episode"]["status"], "failed");
    let (_, admitted) = daemon.get(&format!("/v1/episodes/{}", episodes[1].0)).await;
    assert!(
        admitted["episode"]["journal_pruned_at"].is_null(),
        "{admitted:#}"
    );
    assert!(!admitted["events"].as_array().unwrap().is_empty());
    assert_eq!(daemon.terminate().await, Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_submitted_task_is_followed_to_its_end_and_a_run_starts_and_stops() {
    let model = FakeModel::start(agent_reply).await;
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("skillforge.toml");
    std::fs::write(&config, "[namespaces.tight]\nmax_llm_tokens = 100\n").unwrap();
    let mut args = model.args().to_vec();
    args.extend(["--config", config.to_str().unwrap()]);
    let daemon = Daemon::start(data.path(), &args).await;

    // A namespace of 100 LLM tokens: its first task spends them (140 a call), the next is
    // refused.
    let (status, submitted) = daemon
        .post(
            "/v1/episodes",
            json!({"task": "Halve a number", "name": "half", "examples": ["half(4) => 2"],
                   "namespace": "tight"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{submitted:#}");
    daemon.follow(submitted["episode"].as_str().unwrap()).await;
    let (_, usage) = daemon.get("/v1/usage?namespace=tight").await;
    assert!(
        usage["usage"]["llm_tokens"].as_u64().unwrap() >= 140,
        "{usage:#}"
    );
    assert_error(
        &daemon
            .post(
                "/v1/episodes",
                json!({"task": "Halve a number", "namespace": "tight"}),
            )
            .await,
        StatusCode::TOO_MANY_REQUESTS,
        "quota_exceeded",
    );

    let (status, submitted) = daemon
        .post(
            "/v1/episodes",
            json!({"task": "Double a number", "name": "double", "examples": ["double(4) => 8"]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{submitted:#}");
    let episode = submitted["episode"].as_str().unwrap();
    let events = daemon.follow(episode).await;
    let names = kinds(&events);
    assert_eq!(names.last(), Some(&"end"), "{names:?}");
    assert!(names.contains(&"llm_call"), "{names:?}");
    let (_, end) = events.last().unwrap();
    assert_eq!(end["status"], "admitted", "{end:#}");
    let seqs: Vec<i64> = events[..events.len() - 1]
        .iter()
        .map(|(_, e)| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "each event once, in order"
    );
    let (status, _) = daemon.get("/v1/skills/default/double").await;
    assert_eq!(status, StatusCode::OK);

    // The open-ended run: one episode, proposed by the curriculum.
    assert_error(
        &answer(daemon.request(reqwest::Method::DELETE, "/v1/run")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (status, run) = daemon.post("/v1/run", json!({"iterations": 1})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run:#}");
    let run = wait_for_run(&daemon).await;
    let (_, journal) = daemon
        .get(&format!(
            "/v1/episodes/{}",
            run["episodes"][0].as_str().unwrap()
        ))
        .await;
    assert_eq!(run["finished"]["admitted"], 1, "{run:#} {journal:#}");
    let (status, _) = daemon.get("/v1/skills/default/triple").await;
    assert_eq!(status, StatusCode::OK);

    // A run stopped while the model thinks: its episode is checkpointed, not lost.
    model.delay_ms.store(60_000, Ordering::SeqCst);
    let before = model.requests.load(Ordering::SeqCst);
    let (status, _) = daemon.post("/v1/run", json!({"iterations": 3})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    while model.requests.load(Ordering::SeqCst) == before {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let busy = daemon.post("/v1/run", json!({"iterations": 1})).await;
    assert_error(&busy, StatusCode::CONFLICT, "busy");
    let (status, _) = answer(daemon.request(reqwest::Method::DELETE, "/v1/run")).await;
    assert_eq!(status, StatusCode::OK);
    let run = wait_for_run(&daemon).await;
    assert_eq!(run["stopped"], "stopped", "{run:#}");
    assert_eq!(daemon.terminate().await, Some(0));
}

/// Polls `GET /v1/run` until the run is no longer active; returns its state.
async fn wait_for_run(daemon: &Daemon) -> Value {
    let wait = async {
        loop {
            let (status, run) = daemon.get("/v1/run").await;
            assert_eq!(status, StatusCode::OK, "{run:#}");
            if run["active"] == false {
                return run;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), wait)
        .await
        .expect("the run did not end within 120 s")
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_an_episode_checkpoints_it_and_the_next_start_finishes_it_once() {
    let model = FakeModel::start(agent_reply).await;
    let data = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(data.path(), &model.args()).await;
    // The model takes a minute: SIGTERM comes while the episode waits for it.
    model.delay_ms.store(60_000, Ordering::SeqCst);
    let (status, submitted) = daemon
        .post(
            "/v1/episodes",
            json!({"task": "Double a number", "name": "double", "examples": ["double(4) => 8"]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{submitted:#}");
    let episode = submitted["episode"].as_str().unwrap().to_string();
    while model.requests.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(daemon.terminate().await, Some(0));
    let shown = command(data.path(), &["episodes", "show", &episode, "--json"])
        .output()
        .await
        .unwrap();
    let shown = common::json_of(&shown);
    assert_eq!(shown["episode"]["status"], "interrupted", "{shown:#}");

    // The next start resumes it, and it finishes once.
    model.delay_ms.store(0, Ordering::SeqCst);
    let daemon = Daemon::start(data.path(), &model.args()).await;
    let events = daemon.follow(&episode).await;
    let (name, end) = events.last().unwrap();
    assert_eq!(name, "end", "{:?}", kinds(&events));
    assert_eq!(end["status"], "admitted", "{end:#}");
    let (_, episodes) = daemon.get("/v1/episodes").await;
    assert_eq!(
        episodes["items"].as_array().unwrap().len(),
        1,
        "{episodes:#}"
    );
    let (_, skill) = daemon.get("/v1/skills/default/double").await;
    assert_eq!(skill["version"]["version"], 1, "admitted once: {skill:#}");
    let (_, journal) = daemon.get(&format!("/v1/episodes/{episode}")).await;
    let admissions = journal["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "admission")
        .count();
    assert_eq!(admissions, 1, "{journal:#}");
    assert_eq!(daemon.terminate().await, Some(0));
}

const SQUARE: &str = "/**\n * Squares a number.\n * @example square(3) => 9\n */\nfunction square(x) {\n  return x * x;\n}";
const NEGATE: &str = "/**\n * Negates a number.\n * @example negate(3) => -3\n */\nfunction negate(x) {\n  return -x;\n}";

/// The fake model of the shared-store tests: the critic agrees, the coder writes the skill
/// the task names. The task is matched by its whole text: a library skill shown in the
/// prompt ("Triples a number.") is not the task ("Triple a number"), and a reply that only
/// repeats a shown skill is dropped as a copy of it.
fn shared_reply(prompt: &str) -> String {
    if prompt.contains("You review") {
        return r#"{"success": true, "feedback": "Looks right."}"#.to_string();
    }
    let code = [
        ("Triple a number", TRIPLE),
        ("Square a number", SQUARE),
        ("Negate a number", NEGATE),
    ]
    .into_iter()
    .find(|(word, _)| prompt.contains(word))
    .map_or(DOUBLE, |(_, code)| code);
    code_reply(code)
}

/// A fresh schema of the test PostgreSQL (`SKILLFORGE_TEST_POSTGRES_URL`), dropped with it.
struct PgSchema {
    admin: sqlx::PgPool,
    name: String,
    /// The URL whose connections use the schema.
    url: String,
}

impl PgSchema {
    async fn new() -> PgSchema {
        let base = std::env::var("SKILLFORGE_TEST_POSTGRES_URL").expect(
            "SKILLFORGE_TEST_POSTGRES_URL not set; run `export SKILLFORGE_TEST_POSTGRES_URL=$(scripts/start-postgres)`",
        );
        let name = format!("daemons_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&base).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&admin)
            .await
            .unwrap();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options[search_path]={name}");
        PgSchema { admin, name, url }
    }

    async fn drop(self) {
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&self.admin)
            .await
            .unwrap();
    }
}

/// Two daemons on one store, each with its own data dir (and its own in-process index
/// unless `extra` names a Qdrant server), short episode leases (3 s, renewed every 0.5 s)
/// and the fake model.
async fn two_daemons(
    store_url: &str,
    model: &FakeModel,
    extra: &[&str],
) -> ([tempfile::TempDir; 2], [Daemon; 2]) {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut daemons = Vec::new();
    // One after the other: the first loads the starter library into the empty store.
    for dir in &dirs {
        let config = dir.path().join("skillforge.toml");
        std::fs::write(
            &config,
            "[episodes]\nlease_seconds = 3.0\nheartbeat_seconds = 0.5\n",
        )
        .unwrap();
        let mut args = model.args().to_vec();
        args.extend([
            "--config",
            config.to_str().unwrap(),
            "--database-url",
            store_url,
        ]);
        args.extend_from_slice(extra);
        // A Qdrant server's key, if it needs one (only the environment gives it).
        let key: Vec<(&str, String)> = std::env::var("QDRANT_API_KEY")
            .ok()
            .filter(|_| extra.contains(&"--qdrant-url"))
            .map(|key| ("QDRANT_API_KEY", key))
            .into_iter()
            .collect();
        daemons.push(Daemon::start_with_env(dir.path(), "127.0.0.1:0", &args, &key).await);
    }
    let daemons: [Daemon; 2] = daemons.try_into().ok().unwrap();
    (dirs, daemons)
}

impl Daemon {
    /// The instance id this daemon writes on its episodes' leases (`GET /health`).
    async fn instance(&self) -> String {
        let (status, health) = self.get("/health").await;
        assert_eq!(status, StatusCode::OK, "{health:#}");
        health["instance"].as_str().unwrap().to_string()
    }

    /// Sends SIGKILL: the process dies at once, its leases left to expire.
    async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// The events of an episode's journal of this kind.
fn events_of<'a>(journal: &'a Value, kind: &str) -> Vec<&'a Value> {
    journal["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: SKILLFORGE_TEST_POSTGRES_URL=$(scripts/start-postgres) cargo test -- --ignored postgres"]
async fn two_daemons_on_one_postgres_run_each_task_once_and_keep_every_admission() {
    let schema = PgSchema::new().await;
    let model = FakeModel::start(shared_reply).await;
    let (_dirs, daemons) = two_daemons(&schema.url, &model, &[]).await;
    let instances = [daemons[0].instance().await, daemons[1].instance().await];
    assert_ne!(instances[0], instances[1]);

    // Two tasks to each daemon, all at once.
    let tasks = [
        (0, "Double a number", "double", "double(4) => 8"),
        (0, "Triple a number", "triple", "triple(4) => 12"),
        (1, "Square a number", "square", "square(4) => 16"),
        (1, "Negate a number", "negate", "negate(4) => -4"),
    ];
    let submissions = tasks.iter().map(|(to, task, name, example)| {
        daemons[*to].post(
            "/v1/episodes",
            json!({"task": task, "name": name, "examples": [example]}),
        )
    });
    let submitted: Vec<(StatusCode, Value)> = futures::future::join_all(submissions).await;
    let mut episodes = Vec::new();
    for ((status, body), (to, ..)) in submitted.iter().zip(&tasks) {
        assert_eq!(*status, StatusCode::ACCEPTED, "{body:#}");
        episodes.push((*to, body["episode"].as_str().unwrap().to_string()));
    }
    // Followed on the other daemon: the journal is the shared store's.
    for (to, episode) in &episodes {
        let events = daemons[1 - to].follow(episode).await;
        let (name, end) = events.last().unwrap();
        assert_eq!(name, "end", "{:?}", kinds(&events));
        assert_eq!(end["status"], "admitted", "{end:#}");
    }

    for (to, episode) in &episodes {
        let (_, journal) = daemons[1 - to]
            .get(&format!("/v1/episodes/{episode}"))
            .await;
        // Run by the daemon it was submitted to, once: one admission, no takeover.
        assert_eq!(journal["episode"]["owner"], instances[*to], "{journal:#}");
        assert_eq!(events_of(&journal, "admission").len(), 1, "{journal:#}");
        assert!(events_of(&journal, "taken_over").is_empty(), "{journal:#}");
    }
    // Every admission is in the shared library, seen from either daemon.
    for daemon in &daemons {
        let (_, listed) = daemon.get("/v1/episodes").await;
        assert_eq!(listed["items"].as_array().unwrap().len(), 4, "{listed:#}");
        for (_, _, name, _) in &tasks {
            let (status, skill) = daemon.get(&format!("/v1/skills/default/{name}")).await;
            assert_eq!(status, StatusCode::OK, "{name}: {skill:#}");
            assert_eq!(skill["version"]["version"], 1, "{skill:#}");
        }
    }
    // The model tokens both spent (140 a call) add up in the usage either daemon shows,
    // once each has saved its own and read the other's (every 5 s).
    let spent = 140 * model.requests.load(Ordering::SeqCst) as u64;
    let added_up = async {
        for daemon in &daemons {
            loop {
                let (_, usage) = daemon.get("/v1/usage?namespace=default").await;
                let tokens = usage["usage"]["llm_tokens"].as_u64().unwrap();
                assert!(tokens <= spent, "{tokens} > {spent}: {usage:#}");
                if tokens == spent {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), added_up)
        .await
        .expect("both daemons' usage shows every token spent within 30 s");
    let [first, second] = daemons;
    assert_eq!(first.terminate().await, Some(0));
    assert_eq!(second.terminate().await, Some(0));
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs PostgreSQL: SKILLFORGE_TEST_POSTGRES_URL=$(scripts/start-postgres) cargo test -- --ignored postgres"]
async fn a_killed_daemons_episode_is_taken_over_on_postgres_and_finished_once() {
    let schema = PgSchema::new().await;
    let model = FakeModel::start(shared_reply).await;
    let (_dirs, [first, second]) = two_daemons(&schema.url, &model, &[]).await;
    let (first_id, second_id) = (first.instance().await, second.instance().await);

    // The model holds its reply: the first daemon's episode waits in a model call.
    model.delay_ms.store(120_000, Ordering::SeqCst);
    let (status, submitted) = first
        .post(
            "/v1/episodes",
            json!({"task": "Negate a number", "name": "negate", "examples": ["negate(4) => -4"]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{submitted:#}");
    let episode = submitted["episode"].as_str().unwrap().to_string();
    while model.requests.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Alive, its daemon renews the lease: a lease duration later it is still its own.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_, journal) = second.get(&format!("/v1/episodes/{episode}")).await;
    assert_eq!(journal["episode"]["status"], "running", "{journal:#}");
    assert_eq!(journal["episode"]["owner"], first_id, "{journal:#}");
    assert!(events_of(&journal, "taken_over").is_empty(), "{journal:#}");

    // Killed, it renews nothing; the other daemon takes the episode over once the lease
    // has expired, and finishes it.
    first.kill().await;
    model.delay_ms.store(0, Ordering::SeqCst);
    let events = second.follow(&episode).await;
    let (name, end) = events.last().unwrap();
    assert_eq!(name, "end", "{:?}", kinds(&events));
    assert_eq!(end["status"], "admitted", "{end:#}");
    let (_, journal) = second.get(&format!("/v1/episodes/{episode}")).await;
    assert_eq!(journal["episode"]["owner"], second_id, "{journal:#}");
    let taken = events_of(&journal, "taken_over");
    assert_eq!(taken.len(), 1, "{journal:#}");
    assert_eq!(taken[0]["payload"]["from"], first_id, "{journal:#}");
    assert_eq!(taken[0]["payload"]["by"], second_id, "{journal:#}");
    assert_eq!(events_of(&journal, "admission").len(), 1, "{journal:#}");
    let (_, skill) = second.get("/v1/skills/default/negate").await;
    assert_eq!(skill["version"]["version"], 1, "admitted once: {skill:#}");
    let (_, listed) = second.get("/v1/episodes").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed:#}");
    assert_eq!(second.terminate().await, Some(0));
    schema.drop().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a Qdrant server and PostgreSQL: QDRANT_URL=http://127.0.0.1:6334 SKILLFORGE_TEST_POSTGRES_URL=$(scripts/start-postgres) cargo test -- --ignored qdrant_server"]
async fn two_daemons_converge_on_one_qdrant_server() {
    let qdrant = std::env::var("QDRANT_URL").expect(
        "QDRANT_URL not set; point it at a Qdrant server's gRPC port (e.g. http://127.0.0.1:6334)",
    );
    let schema = PgSchema::new().await;
    let collection = format!("skillforge_daemons_{}", uuid::Uuid::new_v4().simple());
    let model = FakeModel::start(shared_reply).await;
    let (_dirs, daemons) = two_daemons(
        &schema.url,
        &model,
        &["--qdrant-url", &qdrant, "--qdrant-collection", &collection],
    )
    .await;
    // Each daemon admits one skill; each finds the other's in the shared index.
    for (daemon, (task, name, example)) in daemons.iter().zip([
        ("Square a number", "square", "square(4) => 16"),
        ("Negate a number", "negate", "negate(4) => -4"),
    ]) {
        let (status, submitted) = daemon
            .post(
                "/v1/episodes",
                json!({"task": task, "name": name, "examples": [example]}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{submitted:#}");
        let events = daemon.follow(submitted["episode"].as_str().unwrap()).await;
        assert_eq!(events.last().unwrap().1["status"], "admitted");
    }
    // The admitting daemon applies its entry just after the commit the journal shows: the
    // index converges within moments.
    let converged = async {
        for (daemon, (query, name)) in daemons.iter().zip([
            ("negates a number", "negate"),
            ("squares a number", "square"),
        ]) {
            loop {
                let (status, found) = daemon
                    .get(&format!("/v1/search?q={}&k=3", query.replace(' ', "%20")))
                    .await;
                assert_eq!(status, StatusCode::OK, "{found:#}");
                let items = found["items"].as_array().unwrap();
                if items.iter().any(|hit| hit["name"] == name) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        loop {
            let metrics = daemons[0]
                .request(reqwest::Method::GET, "/metrics")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if metrics.contains("skillforge_index_outbox_backlog 0") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), converged)
        .await
        .expect(
            "each daemon's search finds the other's skill, and the outbox empties, within 30 s",
        );
    let [first, second] = daemons;
    assert_eq!(first.terminate().await, Some(0));
    assert_eq!(second.terminate().await, Some(0));
    schema.drop().await;
}

/// How a fault trial stops the daemon.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// SIGTERM: the daemon checkpoints its episodes and exits.
    Term,
    /// SIGKILL (`kill -9`): nothing runs after it.
    Kill,
}

/// What the fault trials of one kind came to.
#[derive(Debug, Default)]
struct FaultTally {
    trials: usize,
    /// Kills that found the episode open (`running` or `interrupted`) in the store.
    mid_episode: usize,
    /// Where the kills landed: the last journal event of an open episode, `indexing` for
    /// an admitted one whose index write was still owed, `finished` after that.
    points: std::collections::BTreeMap<String, usize>,
    /// Index writes the store still owed at the kill (committed skills not yet in the
    /// vector index).
    unindexed_at_kill: usize,
    /// Skills admitted before a kill that a restart did not show or find (summed over the
    /// checks after every restart).
    lost: usize,
    finished_once: usize,
    finished_twice: usize,
    finished_never: usize,
}

/// Milliseconds the fake model takes to answer in the fault trials.
const FAULT_MODEL_MS: u64 = 200;
/// When the kill comes, after the episode's model call began: during the call (below
/// [`FAULT_MODEL_MS`]: the first always lands mid-episode), while its reply is validated,
/// admitted and indexed, or after the end. Trial `t` takes the offset at `t / 2`.
const FAULT_OFFSETS_MS: [u64; 10] = [0, 215, 100, 205, 195, 230, 210, 240, 220, 400];

/// The coder's skill for the trial task marked `[trial N]`.
fn adder(n: usize) -> String {
    format!(
        "/**\n * Adds {n} to a number.\n * @example add{n}(1) => {}\n */\nfunction add{n}(x) {{\n  return x + {n};\n}}",
        n + 1
    )
}

/// The fake model of the fault trials: the critic agrees, the coder writes the adder its
/// task asks for.
fn trial_reply(prompt: &str) -> String {
    if prompt.contains("You review") {
        return r#"{"success": true, "feedback": "Looks right."}"#.to_string();
    }
    let n = prompt
        .split("[trial ")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a trial task: {prompt}"));
    code_reply(&adder(n))
}

impl Daemon {
    /// Submits `task`, waiting while a resume holds the runtime (409); returns the episode.
    async fn submit_when_free(&self, task: &Value) -> String {
        for _ in 0..600 {
            let (status, submitted) = self.post("/v1/episodes", task.clone()).await;
            if status == StatusCode::CONFLICT {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            assert_eq!(status, StatusCode::ACCEPTED, "{submitted:#}");
            return submitted["episode"].as_str().unwrap().to_string();
        }
        panic!("the runtime stayed busy for 30 s");
    }

    /// The episode with its journal once it has finished; `None` if it is still open after
    /// 60 s.
    async fn finished_episode(&self, id: &str) -> Option<Value> {
        for _ in 0..1200 {
            let (status, shown) = self.get(&format!("/v1/episodes/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{shown:#}");
            if !["running", "interrupted"].contains(&shown["episode"]["status"].as_str().unwrap()) {
                return Some(shown);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// How many of `skills` (in namespace `faults`) the library does not show at version 1
    /// or its search does not find. The index follows the store just after each commit, so
    /// a skill admitted a moment ago gets 10 s to be found.
    async fn missing(&self, skills: &[String]) -> usize {
        let mut missing = Vec::new();
        for _ in 0..100 {
            let (status, found) = self
                .get("/v1/search?q=Adds%20a%20number&namespace=faults&k=50")
                .await;
            assert_eq!(status, StatusCode::OK, "{found:#}");
            let found: Vec<&str> = found["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap())
                .collect();
            missing.clear();
            for name in skills {
                let (status, shown) = self.get(&format!("/v1/skills/faults/{name}")).await;
                if status != StatusCode::OK
                    || shown["version"]["version"] != 1
                    || !found.contains(&name.as_str())
                {
                    missing.push(format!("{name}: {status} {shown}; search found {found:?}"));
                }
            }
            if missing.is_empty() {
                return 0;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("lost: {missing:#?}");
        missing.len()
    }
}

/// Fault runs: SIGTERM and `kill -9` at varied points of an episode (while the model
/// thinks, while its reply is validated, after it is admitted), then a restart. Every skill
/// admitted before a kill must still be shown and found, and every episode must finish
/// exactly once (one admission, version 1). `SKILLFORGE_FAULT_TRIALS` trials of each kind
/// (default 2); `--nocapture` shows the tally, the figures of docs/benchmarks.md.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_and_kill_9_mid_episode_lose_no_admission_and_finish_each_episode_once() {
    let per_kind: usize = std::env::var("SKILLFORGE_FAULT_TRIALS")
        .ok()
        .map_or(2, |n| {
            n.parse().expect("SKILLFORGE_FAULT_TRIALS is a number")
        });
    let model = FakeModel::start(trial_reply).await;
    model.delay_ms.store(FAULT_MODEL_MS, Ordering::SeqCst);
    let data = tempfile::tempdir().unwrap();
    let store_url = format!("sqlite://{}", data.path().join("skillforge.db").display());
    let mut daemon = Daemon::start(data.path(), &model.args()).await;
    let mut tallies = [
        (Fault::Term, FaultTally::default()),
        (Fault::Kill, FaultTally::default()),
    ];
    let mut admitted: Vec<String> = Vec::new();
    for trial in 0..2 * per_kind {
        let (fault, tally) = &mut tallies[trial % 2];
        // The kill point: some milliseconds after the coder was asked (the task has a
        // check, so the critic is not).
        let offset = FAULT_OFFSETS_MS[(trial / 2) % FAULT_OFFSETS_MS.len()];
        let name = format!("add{trial}");
        let task = json!({
            "task": format!("Add {trial} to a number [trial {trial}]"),
            "name": name,
            "examples": [format!("add{trial}(1) => {}", trial + 1)],
            "namespace": "faults",
        });
        let before = model.requests.load(Ordering::SeqCst);
        let episode = daemon.submit_when_free(&task).await;
        let reached = async {
            while model.requests.load(Ordering::SeqCst) == before {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(60), reached)
            .await
            .expect("the episode did not call the model within 60 s");
        tokio::time::sleep(Duration::from_millis(offset)).await;
        match fault {
            Fault::Term => assert_eq!(daemon.terminate().await, Some(0)),
            Fault::Kill => daemon.kill().await,
        }

        // The store as the fault left it, read beside nobody.
        let store = skillforge::store::Store::open_read_only(&store_url)
            .await
            .unwrap();
        let record = store.episode(&episode).await.unwrap();
        let events = store.episode_events(&episode).await.unwrap();
        let owed = store.pending().await.unwrap().len();
        store.close().await;
        tally.trials += 1;
        tally.unindexed_at_kill += owed;
        let point = match events.last() {
            _ if !record.status.is_open() && owed > 0 => "indexing",
            _ if !record.status.is_open() => "finished",
            Some(event) => event.kind.as_str(),
            None => "start",
        };
        *tally.points.entry(point.to_string()).or_default() += 1;
        if record.status.is_open() {
            tally.mid_episode += 1;
            if *fault == Fault::Term {
                assert_eq!(
                    record.status,
                    skillforge::store::EpisodeStatus::Interrupted,
                    "SIGTERM checkpoints the episode"
                );
            }
        } else if record.status == skillforge::store::EpisodeStatus::Admitted {
            admitted.push(name.clone());
        }

        daemon = Daemon::start(data.path(), &model.args()).await;
        match daemon.finished_episode(&episode).await {
            None => tally.finished_never += 1,
            Some(shown) => {
                assert_eq!(shown["episode"]["status"], "admitted", "{shown:#}");
                let admissions = shown["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["kind"] == "admission")
                    .count();
                let (_, skill) = daemon.get(&format!("/v1/skills/faults/{name}")).await;
                if admissions == 1 && skill["version"]["version"] == 1 {
                    tally.finished_once += 1;
                } else {
                    tally.finished_twice += 1;
                }
                if !admitted.contains(&name) {
                    admitted.push(name.clone());
                }
            }
        }
        tally.lost += daemon.missing(&admitted).await;
    }
    assert_eq!(daemon.terminate().await, Some(0));

    eprintln!(
        "\n| fault | trials | kills mid-episode | where the kills landed | index writes owed at the kill | admissions lost | finished once / twice / never |"
    );
    eprintln!("|---|---:|---:|---|---:|---:|---|");
    for (fault, tally) in &tallies {
        let points: Vec<String> = tally
            .points
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        eprintln!(
            "| {} | {} | {} | {} | {} | {} | {} / {} / {} |",
            match fault {
                Fault::Term => "SIGTERM",
                Fault::Kill => "kill -9",
            },
            tally.trials,
            tally.mid_episode,
            points.join(", "),
            tally.unindexed_at_kill,
            tally.lost,
            tally.finished_once,
            tally.finished_twice,
            tally.finished_never
        );
    }
    for (fault, tally) in &tallies {
        assert_eq!(tally.trials, per_kind, "{fault:?}");
        assert!(
            tally.mid_episode >= 1,
            "no {fault:?} landed mid-episode: {tally:?}"
        );
        assert_eq!(tally.lost, 0, "{fault:?}: {tally:?}");
        assert_eq!(tally.finished_once, tally.trials, "{fault:?}: {tally:?}");
    }
}
