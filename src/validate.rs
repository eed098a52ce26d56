//! Running a skill's tests in the sandbox, many skills in parallel.
//!
//! Each test runs as its own sandbox call (a fresh instance), so one test that hangs or
//! exhausts memory fails alone and cannot leave state behind for the next. The calls of many
//! validations go to the sandbox as one batch ([`Sandbox::run_many`]), as many at a time as
//! the machine has cores.

use crate::compose::{Bundle, CallEdge};
use crate::sandbox::{Call, Failure, Limits, LogLine, Sandbox, SandboxError};
use crate::skill::TestCase;
use serde::{Deserialize, Serialize};

/// The `assert` tests use. The guest embeds this file and defines its value as the global
/// `assert` once, in its start-up snapshot (guest/driver.c), so it is not part of a test's
/// program; here it serves the node baseline of the benchmarks and a consistency test.
pub const ASSERT_PRELUDE: &str = include_str!("validate_assert.js");
const TEST_ENTRY: &str = "__sf_test";

/// What one test did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestOutcome {
    /// The test's name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Why it failed (an `AssertionError` is a `js_error` with that name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// Its console output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<LogLine>,
    /// Its wall-clock time in milliseconds.
    pub wall_ms: f64,
}

/// The tests of one skill and what they did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestReport {
    /// The skill.
    pub skill: String,
    /// One outcome per test, in the skill's order.
    pub tests: Vec<TestOutcome>,
    /// The calls between skills in the bundle that was tested.
    pub call_graph: Vec<CallEdge>,
}

impl TestReport {
    /// How many tests passed.
    pub fn passed(&self) -> usize {
        self.tests.iter().filter(|t| t.passed).count()
    }

    /// How many tests failed.
    pub fn failed(&self) -> usize {
        self.tests.len() - self.passed()
    }

    /// True when there is at least one test and every test passed.
    pub fn all_passed(&self) -> bool {
        !self.tests.is_empty() && self.failed() == 0
    }
}

/// One skill to validate.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    /// The skill and its dependencies; the tests run with exactly the capabilities its skills
    /// declare ([`Bundle::capabilities`]).
    pub bundle: &'a Bundle,
    /// The tests to run against it.
    pub tests: &'a [TestCase],
    /// Limits for each test.
    pub limits: &'a Limits,
}

/// The program one test runs: the bundle and the test as an async function (`assert` is a
/// global of the guest).
pub fn test_program(bundle: &Bundle, test: &TestCase) -> String {
    format!(
        "{}\nasync function {TEST_ENTRY}() {{\n{}\n}}\n",
        bundle.source,
        test.to_js()
    )
}

/// Runs one skill's tests.
pub fn run_tests(sandbox: &Sandbox, job: Job<'_>) -> Result<TestReport, SandboxError> {
    Ok(run_many(sandbox, &[job])?.remove(0))
}

/// Runs the tests of many skills, in parallel over the available cores; reports come back
/// in the order of `jobs`.
pub fn run_many(sandbox: &Sandbox, jobs: &[Job<'_>]) -> Result<Vec<TestReport>, SandboxError> {
    let programs: Vec<Vec<String>> = jobs
        .iter()
        .map(|job| {
            job.tests
                .iter()
                .map(|test| test_program(job.bundle, test))
                .collect()
        })
        .collect();
    let calls: Vec<Call<'_>> = jobs
        .iter()
        .zip(&programs)
        .flat_map(|(job, programs)| {
            programs.iter().map(|source| Call {
                source,
                entry: TEST_ENTRY,
                args: &[],
                capabilities: &job.bundle.capabilities,
                limits: job.limits,
            })
        })
        .collect();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut outcomes = sandbox.run_many(&calls, cores).into_iter();
    jobs.iter()
        .map(|job| {
            let tests = job
                .tests
                .iter()
                .map(|test| {
                    let outcome = outcomes.next().expect("one outcome per call")?;
                    Ok(TestOutcome {
                        name: test.name().to_string(),
                        passed: outcome.result.is_ok(),
                        failure: outcome.result.err(),
                        logs: outcome.logs,
                        wall_ms: outcome.stats.wall_ms,
                    })
                })
                .collect::<Result<Vec<_>, SandboxError>>()?;
            Ok(TestReport {
                skill: job.bundle.root.clone(),
                tests,
                call_graph: job.bundle.call_graph.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_guest_embeds_this_assert() {
        let wanted = ASSERT_PRELUDE.as_bytes();
        assert!(
            crate::sandbox::GUEST_WASM
                .windows(wanted.len())
                .any(|w| w == wanted),
            "guest/skillforge-js.wasm embeds another src/validate_assert.js: run guest/build.sh"
        );
    }
}
