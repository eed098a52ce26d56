//! `skillforge exec` and `skillforge test` as a user runs them: output shape and exit codes.

mod common;

use common::json_of;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn skillforge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skillforge"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn write(dir: &Path, name: &str, code: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, code).unwrap();
    path
}

#[test]
fn exec_prints_value_and_stats_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "add.js",
        "/** Adds. */\nfunction add(a, b) { console.log('hi'); return a + b; }",
    );
    let out = skillforge(&[
        "exec",
        file.to_str().unwrap(),
        "--input",
        "[2, 40]",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert_eq!(v["ok"], true);
    assert_eq!(v["value"], 42);
    assert!(v["stats"]["wall_ms"].as_f64().unwrap() > 0.0);
    assert!(v["stats"]["fuel_used"].as_u64().unwrap() > 0);
    assert_eq!(v["logs"][0]["text"], "hi");
}

#[test]
fn exec_reports_classified_failures_with_exit_code_one() {
    let dir = tempfile::tempdir().unwrap();
    let spin = write(dir.path(), "spin.js", "function spin() { while (true) {} }");
    let out = skillforge(&[
        "exec",
        spin.to_str().unwrap(),
        "--timeout-ms",
        "150",
        "--fuel",
        "100000000000000",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out);
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "timeout");

    let hog = write(
        dir.path(),
        "hog.js",
        "function hog() { return new ArrayBuffer(200 << 20).byteLength; }",
    );
    let out = skillforge(&["exec", hog.to_str().unwrap(), "--memory-mb", "32", "--json"]);
    assert_eq!(json_of(&out)["error"]["kind"], "memory_limit");

    let throws = write(dir.path(), "throws.js", "function throws() { null.x; }");
    let v = json_of(&skillforge(&["exec", throws.to_str().unwrap(), "--json"]));
    assert_eq!(v["error"]["kind"], "js_error");
    assert_eq!(v["error"]["name"], "TypeError");
    assert!(v["error"]["stack"].as_str().unwrap().contains("throws"));

    let broken = write(dir.path(), "broken.js", "function broken( {");
    let out = skillforge(&["exec", broken.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_of(&out)["error"]["kind"], "invalid_skill");
}

#[test]
fn usage_errors_exit_with_two() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "f.js", "function f() { return 1 }");
    assert_eq!(
        skillforge(&["exec", file.to_str().unwrap(), "--input", "{not json"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        skillforge(&["exec", "/nonexistent/skill.js"]).status.code(),
        Some(2)
    );
    assert_eq!(skillforge(&["exec"]).status.code(), Some(2));
    let out = skillforge(&["exec", file.to_str().unwrap(), "--memory-mb", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("memory_bytes"));
}

#[test]
fn test_command_runs_header_tests_with_composition() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "square.js",
        "/**\n * Squares.\n * @example square(3) => 9\n */\nfunction square(x) { return x * x; }",
    );
    write(
        dir.path(),
        "sumOfSquares.js",
        "/**\n * Sum of squares.\n * @example sumOfSquares([1, 2]) => 5\n * @test empty: assert.equal(sumOfSquares([]), 0)\n */\nfunction sumOfSquares(xs) { return xs.reduce((s, x) => s + square(x), 0); }",
    );
    let out = skillforge(&["test", dir.path().to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json_of(&out);
    let sum = v
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["skill"] == "sumOfSquares")
        .unwrap();
    assert_eq!(sum["passed"], 2);
    assert_eq!(sum["call_graph"][0]["callee"], "square");

    let bad = write(
        dir.path(),
        "bad.js",
        "/**\n * Wrong.\n * @example bad(1) => 3\n */\nfunction bad(x) { return x + 1; }",
    );
    let out = skillforge(&["test", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL bad: bad(1): js_error: expected 3, got 2"),
        "{text}"
    );
    assert!(text.contains("0 passed, 1 failed"), "{text}");
}
