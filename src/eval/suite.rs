//! Suites in the HumanEval-JS format: JSON lines with `task_id`, `entry_point`, `prompt` and
//! `tests` (a `node:assert` script). A problem is judged by the suite's own tests, run in the
//! sandbox as one assertion test that calls the entry point.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::agent::{Environment, Task};
use crate::compose::Bundle;
use crate::sandbox::{Sandbox, SandboxError};
use crate::skill::TestCase;

/// A suite that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// The file cannot be read.
    #[error("cannot read the suite {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a problem.
    #[error(
        "{path} line {line}: not a HumanEval-JS problem (JSON with task_id, entry_point, prompt, \
         tests): {source}"
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The file holds no problem.
    #[error("{path} has no problems; give a file of HumanEval-JS JSON lines")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// One problem of a suite.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Problem {
    /// Its id in the suite (e.g. `HumanEval/0`).
    pub task_id: String,
    /// The function the tests call.
    pub entry_point: String,
    /// The JSDoc and signature the model completes.
    pub prompt: String,
    /// The suite's `node:assert` script.
    pub tests: String,
}

impl Problem {
    /// The suite's tests as one test: the script without its `require` of `node:assert`
    /// (the sandbox's `assert` is a global).
    pub fn suite_test(&self) -> TestCase {
        let code: Vec<&str> = self
            .tests
            .lines()
            .filter(|line| !line.contains("require("))
            .collect();
        TestCase::Assert {
            name: format!("{} (suite tests)", self.task_id),
            code: code.join("\n"),
        }
    }

    /// The task that judges an answer: the prompt, the entry point's name, and the suite's
    /// tests as its only check.
    pub fn judge(&self) -> Task {
        let mut task = Task::from_user(self.prompt.clone()).with_name(self.entry_point.clone());
        task.tests = vec![self.suite_test()];
        task
    }
}

/// Reads a suite's problems (the first `limit`).
pub fn read_suite(path: &Path, limit: Option<usize>) -> Result<Vec<Problem>, SuiteError> {
    let text = std::fs::read_to_string(path).map_err(|source| SuiteError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let problem = serde_json::from_str(line).map_err(|source| SuiteError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            source,
        })?;
        problems.push(problem);
    }
    problems.truncate(limit.unwrap_or(usize::MAX));
    if problems.is_empty() {
        return Err(SuiteError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(problems)
}

/// Whether `bundle` passes the checks of `judge` in `env`: every test passes and there is at
/// least one.
pub fn passes(
    env: &dyn Environment,
    sandbox: &Sandbox,
    bundle: &Bundle,
    judge: &Task,
) -> Result<bool, SandboxError> {
    let report = env.check(sandbox, bundle, judge)?;
    Ok(report.all_passed() && !report.tests.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::CodeEnvironment;
    use crate::sandbox::HostFunctions;

    fn curriculum() -> Vec<Problem> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/compositional.jsonl");
        read_suite(&path, None).unwrap()
    }

    /// The reference solutions as a bundle rooted at `root` (they call one another).
    fn reference(root: &str, source: &str) -> Bundle {
        Bundle {
            source: source.to_string(),
            root: root.to_string(),
            dependencies: Vec::new(),
            call_graph: Vec::new(),
            capabilities: Default::default(),
        }
    }

    #[test]
    fn compositional_suite_is_satisfiable_and_its_tests_reject_wrong_answers() {
        let source = include_str!("../../eval/compositional_reference.js");
        let sandbox = Sandbox::new(
            crate::sandbox::SandboxConfig::default(),
            HostFunctions::empty(),
        )
        .unwrap();
        let env = CodeEnvironment::new("text statistics");
        let problems = curriculum();
        assert!(problems.len() >= 12, "{} tasks", problems.len());
        for problem in &problems {
            assert!(
                passes(
                    &env,
                    &sandbox,
                    &reference(&problem.entry_point, source),
                    &problem.judge()
                )
                .unwrap(),
                "{}: the reference fails the suite's tests",
                problem.task_id
            );
            // The prompt ends at the signature: no body is given away.
            assert!(problem.prompt.ends_with(") {\n"), "{}", problem.task_id);
        }
        // A tokenizer that keeps the case fails, and so does word_counts built on it.
        let wrong = source.replace("text.toLowerCase().match", "text.match");
        for name in ["tokenize", "word_counts"] {
            let problem = problems.iter().find(|p| p.entry_point == name).unwrap();
            assert!(
                !passes(&env, &sandbox, &reference(name, &wrong), &problem.judge()).unwrap(),
                "{name}"
            );
        }
    }

    #[test]
    fn bad_suites_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        std::fs::write(&path, "\n{\"task_id\": \"x\"}\n").unwrap();
        let error = read_suite(&path, None).unwrap_err();
        assert!(
            matches!(error, SuiteError::Parse { line: 2, .. }),
            "{error}"
        );
        std::fs::write(&path, "\n\n").unwrap();
        assert!(matches!(
            read_suite(&path, None),
            Err(SuiteError::Empty { .. })
        ));
        assert!(matches!(
            read_suite(&dir.path().join("missing.jsonl"), None),
            Err(SuiteError::Io { .. })
        ));
    }
}
