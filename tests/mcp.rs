//! `skillforge mcp` driven by a real MCP client: the official Python SDK (PyPI `mcp` 2.x,
//! installed by `scripts/setup interop`) runs `tests/mcp_client.py` against the stdio and the
//! streamable HTTP transports: the tool list, add, search, get, a run, a run that times out,
//! bad arguments (JSON-RPC errors, and the server keeps serving), resources a page at a time,
//! and `solve_task` against a fake model endpoint (progress notifications, the outcome).
//! Needs `scripts/setup embed`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Set by `scripts/test`: the interoperability tools must be installed.
const REQUIRE_TOOLS: &str = "SKILLFORGE_REQUIRE_INTEROP_TOOLS";

/// The interop venv's python (with the `mcp` package), if installed.
fn client_python() -> Option<PathBuf> {
    let cache = std::env::var_os("SKILLFORGE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/skillforge")))?;
    let python = cache.join("interop-venv/bin/python");
    if python.is_file() {
        return Some(python);
    }
    assert!(
        std::env::var_os(REQUIRE_TOOLS).is_none(),
        "{} is missing: run scripts/setup interop",
        python.display()
    );
    eprintln!("skipping: the MCP client is not installed (scripts/setup interop)");
    None
}

const BINARY: &str = env!("CARGO_BIN_EXE_skillforge");
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_client.py");

/// Runs the client script with `args`; panics with its output unless it says ok.
fn run_client(python: &Path, args: &[&str]) -> serde_json::Value {
    let mut command = Command::new(python);
    command.arg(CLIENT).args(args);
    for var in common::SHARED_SERVER_VARIABLES {
        command.env_remove(var);
    }
    let out = command.output().expect("python runs");
    assert!(
        out.status.success(),
        "the MCP client failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    serde_json::from_str(&last).unwrap_or_else(|e| panic!("{e}: {last}"))
}

#[test]
fn a_real_client_uses_the_stdio_server() {
    let Some(python) = client_python() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let summary = run_client(&python, &["stdio", BINARY, data.path().to_str().unwrap()]);
    assert_eq!(summary["ok"], true);
    // The starter library and the skill the client added, listed 10 a page.
    assert_eq!(summary["resources"], common::starter_count() + 1);
    assert_eq!(summary["pages"], (common::starter_count() + 1).div_ceil(10));
    assert_eq!(summary["protocol"], "2026-07-28", "{summary}");
}

/// The HTTP server, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_real_client_uses_the_streamable_http_server() {
    let Some(python) = client_python() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let mut command = Command::new(BINARY);
    command
        .arg("--data-dir")
        .arg(data.path())
        .args([
            "mcp",
            "--no-solve",
            "--resource-page",
            "10",
            "--http",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for var in common::SHARED_SERVER_VARIABLES {
        command.env_remove(var);
    }
    let mut server = Server(command.spawn().expect("the binary starts"));
    let stdout = server.0.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("skillforge mcp: serving ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let summary = run_client(&python, &["http", &url]);
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["resources"], common::starter_count() + 1);
    assert_eq!(summary["pages"], (common::starter_count() + 1).div_ceil(10));
    assert!(
        server.0.try_wait().unwrap().is_none(),
        "the server is still serving"
    );
}

#[test]
fn solve_task_runs_an_episode_with_progress_notifications() {
    let Some(python) = client_python() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    // The client serves a fake OpenAI-compatible endpoint whose coder writes `double`.
    let summary = run_client(&python, &["solve", BINARY, data.path().to_str().unwrap()]);
    assert_eq!(summary["status"], "admitted");
    assert!(summary["progress"].as_u64().unwrap() >= 2, "{summary}");
}
