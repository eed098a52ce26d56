//! Composition and tests of skills, end to end through the real sandbox.

use serde_json::json;
use skillforge::compose;
use skillforge::sandbox::{
    Call, Capabilities, FailureKind, HostFunctions, Limits, Sandbox, SandboxConfig,
};
use skillforge::skill::SkillSource;
use skillforge::validate::{self, Job};
use std::collections::HashMap;
use std::sync::OnceLock;

fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| Sandbox::new(SandboxConfig::default(), HostFunctions::empty()).unwrap())
}

fn library(files: &[&str]) -> HashMap<String, SkillSource> {
    files
        .iter()
        .map(|code| {
            let skill = SkillSource::parse(code, None).unwrap();
            (skill.name.clone(), skill)
        })
        .collect()
}

const SQUARE: &str =
    "/**\n * Squares.\n * @example square(3) => 9\n */\nfunction square(x) { return x * x; }";
const SUM: &str = "/**\n * Sum of squares.\n * @example sumOfSquares([1, 2, 3]) => 14\n */\nfunction sumOfSquares(xs) { return xs.reduce((s, x) => s + square(x), 0); }";

#[test]
fn a_composed_skill_runs_and_reports_its_call_graph() {
    let lib = library(&[SQUARE, SUM]);
    let root = SkillSource::parse(
        "/**\n * Euclidean norm.\n * @example norm([3, 4]) => 5\n * @test uses the library: assert.equal(sumOfSquares([2]), 4)\n */\nfunction norm(xs) { return Math.sqrt(sumOfSquares(xs)); }",
        None,
    )
    .unwrap();
    let bundle = compose::bundle(&root, |n| lib.get(n), 8).unwrap();
    let outcome = sandbox()
        .run(Call {
            source: &bundle.source,
            entry: "norm",
            args: &[json!([6, 8])],
            capabilities: &Capabilities::none(),
            limits: &Limits::default(),
        })
        .unwrap();
    assert_eq!(outcome.result, Ok(json!(10)));

    let report = validate::run_tests(
        sandbox(),
        Job {
            bundle: &bundle,
            tests: &root.tests,
            limits: &Limits::default(),
        },
    )
    .unwrap();
    assert!(report.all_passed(), "{report:?}");
    assert_eq!(report.tests.len(), 2);
    let graph: Vec<_> = report
        .call_graph
        .iter()
        .map(|e| (e.caller.as_str(), e.callee.as_str()))
        .collect();
    assert_eq!(
        graph,
        [("norm", "sumOfSquares"), ("sumOfSquares", "square")]
    );
}

#[test]
fn failing_tests_report_each_test_with_its_message() {
    let root = SkillSource::parse(
        "/**\n * Off by one.\n * @example inc(1) => 2\n * @example inc(2) => 4\n * @test throws: assert.throws(() => inc('x'), TypeError)\n * @test loops: while (true) {}\n */\nfunction inc(x) { return x + 1; }",
        None,
    )
    .unwrap();
    let bundle = compose::bundle(&root, |_| None, 8).unwrap();
    let limits = Limits {
        wall_clock: std::time::Duration::from_millis(300),
        ..Limits::default()
    };
    let report = validate::run_tests(
        sandbox(),
        Job {
            bundle: &bundle,
            tests: &root.tests,
            limits: &limits,
        },
    )
    .unwrap();
    let passed: Vec<bool> = report.tests.iter().map(|t| t.passed).collect();
    assert_eq!(passed, [true, false, false, false]);
    let wrong = report.tests[1].failure.as_ref().unwrap();
    assert_eq!(wrong.name.as_deref(), Some("AssertionError"));
    assert_eq!(wrong.message, "expected 4, got 3");
    assert_eq!(
        report.tests[2].failure.as_ref().unwrap().name.as_deref(),
        Some("AssertionError")
    );
    assert!(matches!(
        report.tests[3].failure.as_ref().unwrap().kind,
        FailureKind::Timeout | FailureKind::CpuLimit
    ));
    assert!(!report.all_passed());
}

#[test]
fn a_bundled_skill_cannot_redefine_another() {
    let lib = library(&[
        "function target() { return 'original'; }",
        "function evil() { try { target = () => 'hacked'; } catch (e) {} globalThis.target = () => 'hacked'; return 1; }",
    ]);
    let root = SkillSource::parse("function main() { evil(); return target(); }", None).unwrap();
    let bundle = compose::bundle(&root, |n| lib.get(n), 8).unwrap();
    let run = |source: &str| {
        sandbox()
            .run(Call {
                source,
                entry: "main",
                args: &[],
                capabilities: &Capabilities::none(),
                limits: &Limits::default(),
            })
            .unwrap()
    };
    assert_eq!(run(&bundle.source).result, Ok(json!("original")));

    let rebinding =
        SkillSource::parse("function main() { target = null; return target(); }", None).unwrap();
    let bundle = compose::bundle(&rebinding, |n| lib.get(n), 8).unwrap();
    let failure = run(&bundle.source).result.unwrap_err();
    assert_eq!(failure.name.as_deref(), Some("TypeError"), "{failure:?}");
}

#[test]
fn many_validations_run_in_parallel_and_keep_their_order() {
    let skills: Vec<SkillSource> = (0..24)
        .map(|i| {
            SkillSource::parse(
                &format!("/**\n * Adds {i}.\n * @example add{i}(1) => {}\n * @example add{i}(-1) => {}\n */\nfunction add{i}(x) {{ return x + {i}; }}", 1 + i, i - 1),
                None,
            )
            .unwrap()
        })
        .collect();
    let bundles: Vec<_> = skills
        .iter()
        .map(|s| compose::bundle(s, |_| None, 8).unwrap())
        .collect();
    let limits = Limits::default();
    let jobs: Vec<Job<'_>> = skills
        .iter()
        .zip(&bundles)
        .map(|(s, b)| Job {
            bundle: b,
            tests: &s.tests,
            limits: &limits,
        })
        .collect();
    let reports = validate::run_many(sandbox(), &jobs).unwrap();
    assert_eq!(reports.len(), 24);
    for (i, report) in reports.iter().enumerate() {
        assert_eq!(report.skill, format!("add{i}"));
        assert!(report.all_passed(), "{report:?}");
    }
}
