//! What skills act on: its API for the model, its observable state for the curriculum, and
//! the success check of a task.

use std::borrow::Cow;

use crate::compose::Bundle;
use crate::envproto::{EnvError, ResetParams};
use crate::sandbox::{HostFunctions, Limits, Sandbox, SandboxError};
use crate::validate::{Job, TestReport, run_tests};

use super::task::Task;

/// An environment the agent learns skills for. A small seam, like
/// [`LanguageModel`](crate::llm::LanguageModel): built-in ones live here, external ones can
/// implement it over a protocol.
pub trait Environment: Send + Sync {
    /// Its name, as skills declare it with `@environment` (`code` for pure functions).
    fn name(&self) -> &str;

    /// Text for the model: what the environment is, its API and its rules.
    fn describe(&self) -> String;

    /// [`Environment::describe`] for a coder shown the library functions `library` (none:
    /// empty): an environment may leave out what only fits another case, such as a worked
    /// example that calls a library function when the library lists none. The default is
    /// [`Environment::describe`].
    fn describe_for(&self, library: &[&str]) -> String {
        let _ = library;
        self.describe()
    }

    /// The host functions its skills may call through `host.call`.
    fn host_functions(&self) -> HostFunctions;

    /// Whether its skills act on a world (it offers host functions), rather than being
    /// pure functions.
    fn acts(&self) -> bool {
        !self.host_functions().list().is_empty()
    }

    /// Warm-up tasks, each with a check, easiest first: what the agent works on when the
    /// curriculum's model proposes nothing usable (small models often cannot).
    fn seed_tasks(&self) -> Vec<Task> {
        Vec::new()
    }

    /// The task a world of this environment poses (its words, what the coder sees of the
    /// world at the start, and the environment's check), for an environment that has
    /// worlds; `None` for one that has none (the `code` environment). May block on the
    /// environment.
    fn pose(&self, _world: ResetParams) -> Option<Result<Task, EnvError>> {
        None
    }

    /// What can be observed of it now, for the curriculum.
    fn state(&self) -> serde_json::Value;

    /// Runs the task's tests against `bundle` (the candidate skill with its dependencies),
    /// one outcome per task test. The task is solved when [`check_passed`] holds for the
    /// report; a task without tests gives an empty report, which passes: the skill's own
    /// tests are then its only check.
    fn check(
        &self,
        sandbox: &Sandbox,
        bundle: &Bundle,
        task: &Task,
    ) -> Result<TestReport, SandboxError>;
}

/// Whether a [`Environment::check`] report solves the task: no task test failed.
pub fn check_passed(report: &TestReport) -> bool {
    report.failed() == 0
}

/// [`CodeEnvironment`]'s warm-up tasks: (description, name, [(call, expected)]).
type SeedTask = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const SEED_TASKS: &[SeedTask] = &[
    (
        "Return the product of all numbers in a list",
        "product",
        &[("product([2, 3, 4])", "24")],
    ),
    (
        "Return the largest number in a list",
        "largest",
        &[("largest([3, 9, 2])", "9"), ("largest([-5, -2])", "-2")],
    ),
    (
        "Reverse the order of the words in a sentence",
        "reverseWords",
        &[("reverseWords(\"one two three\")", "\"three two one\"")],
    ),
    (
        "Count how many times a value occurs in a list",
        "countOccurrences",
        &[("countOccurrences([1, 2, 1, 3, 1], 1)", "3")],
    ),
    (
        "Tell whether a string reads the same backwards, ignoring case and non-letters",
        "isPalindrome",
        &[
            ("isPalindrome(\"Never odd or even\")", "true"),
            ("isPalindrome(\"abc\")", "false"),
        ],
    ),
    (
        "Sum the digits of a non-negative integer",
        "digitSum",
        &[("digitSum(1234)", "10"), ("digitSum(0)", "0")],
    ),
    (
        "Return the average word length of a text, rounded to two decimals",
        "averageWordLength",
        &[("averageWordLength(\"a bb ccc\")", "2")],
    ),
    (
        "Return the prime numbers below a given number",
        "primesBelow",
        &[("primesBelow(10)", "[2, 3, 5, 7]")],
    ),
];

/// Pure JavaScript functions checked by tests: no host functions, no capabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeEnvironment {
    /// The kind of functions the curriculum proposes, e.g. "string and collection utilities".
    pub domain: String,
    /// Limits for each task test.
    pub limits: Limits,
}

impl CodeEnvironment {
    /// The environment for `domain`, with default limits.
    pub fn new(domain: impl Into<String>) -> CodeEnvironment {
        CodeEnvironment {
            domain: domain.into(),
            limits: Limits::default(),
        }
    }
}

impl Environment for CodeEnvironment {
    fn name(&self) -> &str {
        crate::skill::DEFAULT_ENVIRONMENT
    }

    fn describe(&self) -> String {
        format!(
            "Pure JavaScript functions ({domain}), run in QuickJS (modern JavaScript, script mode). \
             No import, export or require; no files, network or timers; Date.now() is fixed and \
             Math.random() is deterministic. A skill takes arguments and returns a value (or \
             throws); it never prints.",
            domain = self.domain
        )
    }

    fn host_functions(&self) -> HostFunctions {
        HostFunctions::empty()
    }

    /// Small functions the starter library does not have, several of which can call it.
    fn seed_tasks(&self) -> Vec<Task> {
        SEED_TASKS
            .iter()
            .map(|&(description, name, examples)| {
                examples.iter().fold(
                    Task::from_user(description).with_name(name),
                    |task, &(call, expected)| task.with_example(call, expected),
                )
            })
            .collect()
    }

    fn state(&self) -> serde_json::Value {
        serde_json::json!({ "environment": self.name(), "domain": self.domain })
    }

    /// When the skill's name differs from the one the task suggested (the model chose
    /// another, see [`extract`](super::extract)), the task's name is bound to the skill for
    /// the check, so the task's examples still reach it.
    fn check(
        &self,
        sandbox: &Sandbox,
        bundle: &Bundle,
        task: &Task,
    ) -> Result<TestReport, SandboxError> {
        run_tests(
            sandbox,
            Job {
                bundle: &bind_task_name(bundle, task),
                tests: &task.tests,
                limits: &self.limits,
            },
        )
    }
}

/// `bundle` with the task's suggested name bound to its root, when the skill is named
/// otherwise (the model chose another name, see [`extract`](super::extract)), so that the
/// task's tests still reach it.
pub(super) fn bind_task_name<'a>(bundle: &'a Bundle, task: &Task) -> Cow<'a, Bundle> {
    match &task.name {
        Some(name)
            if *name != bundle.root
                && crate::sandbox::is_identifier(name)
                && !bundle.dependencies.contains(name) =>
        {
            Cow::Owned(Bundle {
                source: format!("{}\nconst {name} = {};\n", bundle.source, bundle.root),
                ..bundle.clone()
            })
        }
        _ => Cow::Borrowed(bundle),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{FailureKind, SandboxConfig};
    use crate::skill::SkillSource;

    fn sandbox() -> Sandbox {
        Sandbox::new(SandboxConfig::default(), HostFunctions::empty()).unwrap()
    }

    fn bundle_of(code: &str) -> Bundle {
        let skill = SkillSource::parse(code, None).unwrap();
        crate::compose::bundle(&skill, |_| None, 16).unwrap()
    }

    const REVERSE: &str = "/**\n * Reverses a string.\n * @example reverse('ab') => 'ba'\n */\nfunction reverse(s) { return [...s].reverse().join(''); }";

    #[test]
    fn checks_task_tests_in_the_sandbox() {
        let sandbox = sandbox();
        let env = CodeEnvironment::new("string utilities");
        let bundle = bundle_of(REVERSE);
        let task = Task::from_user("reverse a string")
            .with_name("reverse")
            .with_example("reverse('abc')", "\"cba\"")
            .with_example("reverse('')", "\"\"");
        let report = env.check(&sandbox, &bundle, &task).unwrap();
        assert_eq!(report.tests.len(), 2);
        assert!(check_passed(&report) && report.all_passed());

        let wrong = task.clone().with_example("reverse('xy')", "\"xy\"");
        let report = env.check(&sandbox, &bundle, &wrong).unwrap();
        assert!(!check_passed(&report));
        let failure = report.tests[2].failure.as_ref().unwrap();
        assert_eq!(failure.kind, FailureKind::JsError);
        assert_eq!(failure.name.as_deref(), Some("AssertionError"));

        // No task tests: nothing runs, and the check passes.
        let report = env
            .check(&sandbox, &bundle, &Task::from_user("reverse"))
            .unwrap();
        assert!(report.tests.is_empty() && check_passed(&report));
    }

    #[test]
    fn the_tasks_name_reaches_a_skill_named_otherwise() {
        let sandbox = sandbox();
        let env = CodeEnvironment::new("strings");
        let bundle = bundle_of(REVERSE);
        let task = Task::from_user("reverse a string")
            .with_name("reverseString")
            .with_example("reverseString('abc')", "\"cba\"");
        let report = env.check(&sandbox, &bundle, &task).unwrap();
        assert!(check_passed(&report), "{report:?}");
    }

    #[test]
    fn describes_itself_for_the_model_and_the_curriculum() {
        let env = CodeEnvironment::new("date helpers");
        assert_eq!(env.name(), "code");
        assert!(env.describe().contains("date helpers"));
        assert!(env.describe().contains("No import"));
        assert!(env.host_functions().list().is_empty());
        assert_eq!(env.state()["domain"], "date helpers");
    }
}
