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
        TestCase::Assert {
            name: format!("{} (suite tests)", self.task_id),
            code: self.suite_script(),
        }
    }

    /// The suite's script without its `require` lines.
    fn suite_script(&self) -> String {
        let code: Vec<&str> = self
            .tests
            .lines()
            .filter(|line| !line.contains("require("))
            .collect();
        code.join("\n")
    }

    /// The task that judges an answer: the prompt, the entry point's name, and the suite's
    /// tests as its only check.
    pub fn judge(&self) -> Task {
        let mut task = Task::from_user(self.prompt.clone()).with_name(self.entry_point.clone());
        task.tests = vec![self.suite_test()];
        task
    }

    /// A call the suite's tests assert two different results for, in words (`any_int(3, 4,
    /// 7) is asserted to be true and false`): no function passes such tests. A test
    /// translated from Python can tell the float `3.0` from the int `3`, which JavaScript
    /// reads as one number. `None` when every call is asserted with one result, or when the
    /// tests cannot be read this way (they use a result other than by asserting it).
    pub fn contradiction(
        &self,
        env: &dyn Environment,
        sandbox: &Sandbox,
    ) -> Result<Option<String>, SandboxError> {
        let entry = &self.entry_point;
        let recorder = Bundle::standalone(
            entry,
            format!("function {entry}(...args) {{ return {{ __sfCall: args }}; }}"),
        );
        let mut probe = Task::from_user(self.prompt.clone()).with_name(entry.clone());
        probe.tests = vec![TestCase::Assert {
            name: format!("{} (are its tests satisfiable?)", self.task_id),
            code: format!(
                "const __sfContradiction = {CONTRADICTION:?};\n{CONTRADICTION_PROBE}{}",
                self.suite_script()
            ),
        }];
        let report = env.check(sandbox, &recorder, &probe)?;
        Ok(report
            .tests
            .iter()
            .filter_map(|test| test.failure.as_ref())
            .find(|failure| failure.name.as_deref() == Some(CONTRADICTION))
            .map(|failure| format!("{entry}{}", failure.message)))
    }
}

/// The name of the error [`Problem::contradiction`]'s probe throws for a call asserted
/// with two results.
const CONTRADICTION: &str = "UnsatisfiableTests";

/// The probe of [`Problem::contradiction`]: an `assert` that records each call's asserted
/// result (the entry point returns its arguments, marked) and throws an error named
/// `__sfContradiction` ([`CONTRADICTION`], declared before it) when one call is asserted
/// with two; it shadows the guest's global `assert` in the test.
const CONTRADICTION_PROBE: &str = r#"const __sfAsserted = [];
const __sfSame = (a, b) => {
  try {
    globalThis.assert.deepStrictEqual(a, b);
    return true;
  } catch (_) {
    return false;
  }
};
const __sfRecord = (actual, expected) => {
  if (actual === null || typeof actual !== "object" || !("__sfCall" in actual)) return;
  const call = actual.__sfCall;
  for (const [args, value] of __sfAsserted) {
    if (__sfSame(args, call) && !__sfSame(value, expected)) {
      const error = new Error(
        `(${JSON.stringify(call).slice(1, -1)}) is asserted to be ${JSON.stringify(value)} and ${JSON.stringify(expected)}`,
      );
      error.name = __sfContradiction;
      throw error;
    }
  }
  __sfAsserted.push([call, expected]);
};
const assert = Object.assign(() => {}, {
  deepStrictEqual: __sfRecord,
  strictEqual: __sfRecord,
  deepEqual: __sfRecord,
  equal: __sfRecord,
});
"#;

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
        Bundle::standalone(root, source.to_string())
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
    fn tests_that_assert_one_call_two_ways_are_found_unsatisfiable() {
        let sandbox = Sandbox::new(
            crate::sandbox::SandboxConfig::default(),
            HostFunctions::empty(),
        )
        .unwrap();
        let env = CodeEnvironment::new("numbers");
        let problem = |asserts: &str| Problem {
            task_id: "T/92".into(),
            entry_point: "any_int".into(),
            prompt:
                "/**\n * Whether one is the sum of the others.\n */\nfunction any_int(x, y, z) {\n"
                    .into(),
            tests: format!(
                "const assert = require('node:assert');\n\nfunction test() {{\n  const candidate = any_int;\n{asserts}\n}}\n\ntest();\n"
            ),
        };
        // Python's float 3.0 and int 3 are one number in JavaScript (HumanEval_js/92).
        let translated = problem(
            "  assert.deepStrictEqual(candidate(2, 3, 1), true);\n  assert.deepStrictEqual(candidate(3, 4, 7), true);\n  assert.deepStrictEqual(candidate(3.0, 4, 7), false);",
        );
        assert_eq!(
            translated.contradiction(&env, &sandbox).unwrap().as_deref(),
            Some("any_int(3,4,7) is asserted to be true and false")
        );
        // The same call asserted twice alike, and different calls: satisfiable.
        let consistent = problem(
            "  assert.deepStrictEqual(candidate(3, 4, 7), true);\n  assert.deepStrictEqual(candidate(3, 4, 7), true);\n  assert.deepStrictEqual(candidate(3.5, 4, 7), false);\n  assert.deepStrictEqual(candidate([1, 2], 4, 7), false);",
        );
        assert_eq!(consistent.contradiction(&env, &sandbox).unwrap(), None);
        // Tests that use a result other than by asserting it cannot be read: no verdict.
        let unread = problem(
            "  assert.deepStrictEqual(candidate(1, 2, 3).length, 1);\n  assert.deepStrictEqual(candidate(1, 2, 3), 2);",
        );
        assert_eq!(unread.contradiction(&env, &sandbox).unwrap(), None);
        for problem in curriculum() {
            assert_eq!(
                problem.contradiction(&env, &sandbox).unwrap(),
                None,
                "{}",
                problem.task_id
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
