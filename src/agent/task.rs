//! A task: a goal in words, an optional suggested function name, and the programmatic check.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::envproto::ResetParams;
use crate::skill::{Analysis, RESERVED_NAMES, TestCase};

use super::examples::{SkippedExample, examples_in};

/// Something the agent should learn to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The goal, in words.
    pub description: String,
    /// The function name the skill should get (a suggestion; see [`extract`](super::extract)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The check: tests the skill must pass besides its own. May be empty, and then the
    /// skill's own tests are the only check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestCase>,
    /// The library namespace the skill belongs in, when not the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Example lines of the task's text that could not be taken as checks, and why
    /// (see [`Task::from_text`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_examples: Vec<SkippedExample>,
    /// For a task an external environment posed: the world its check resets to
    /// ([`ExternalEnvironment`](super::ExternalEnvironment)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub world: Option<ResetParams>,
    /// What the environment that posed the task says of function names a skill may call
    /// that nothing defines (its reset's `name_hints`): told to the coder when a run finds
    /// one undefined.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub name_hints: BTreeMap<String, String>,
    /// Worlds of the environment that posed the task, each posing a task of its own for a
    /// function name a skill may call (its reset's `name_worlds`): with the agent's
    /// `learn_callees` on, such a function that nothing defines is learned in an episode of
    /// its world before the skill is checked.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub name_worlds: BTreeMap<String, ResetParams>,
    /// For a task posed to learn a function another episode's skill called before anything
    /// defined it: that episode's id. Such an episode learns no function of its own this way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned_for: Option<String>,
}

/// A task whose text is a function stub to complete (see [`Task::stub`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stub<'a> {
    /// The task's text, ending with the open declaration.
    pub text: &'a str,
    /// The `/** ... */` comment right above the declaration, if any.
    pub doc: Option<&'a str>,
}

/// The first line of a task's `description` that says something, for one-line listings: a
/// stub's text starts with `/**`, its first comment line being the task
/// (`Craft pink dye in TextCraft.`).
pub fn headline(description: &str) -> &str {
    description
        .lines()
        .map(|line| {
            let line = line.trim();
            let line = line.strip_suffix("*/").unwrap_or(line);
            line.strip_prefix("/**")
                .or_else(|| line.strip_prefix('*'))
                .unwrap_or(line)
                .trim()
        })
        .find(|line| !line.is_empty())
        .unwrap_or_default()
}

impl<'a> Stub<'a> {
    /// The declaration that opens the function's body: the text's last line,
    /// `function name(args) {`.
    pub fn declaration(&self) -> &'a str {
        let start = self.text.rfind('\n').map_or(0, |i| i + 1);
        self.text[start..].trim()
    }
}

/// Why a task could not be built. The message is written to be shown to the model that
/// proposed the task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// No description.
    #[error(
        "the task has no description: put one sentence saying what the function does in \"task\""
    )]
    NoDescription,
    /// The suggested name is not a usable function name.
    #[error("\"{0}\" cannot be a function name: use a plain camelCase JavaScript identifier")]
    BadName(String),
    /// An example is malformed.
    #[error("example {index} is malformed: {reason}")]
    BadExample {
        /// 1-based position in the list.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
}

impl Task {
    /// A task from a user's words alone: no suggested name, no check beyond the skill's tests.
    pub fn from_user(description: impl Into<String>) -> Task {
        Task {
            description: description.into().trim().to_string(),
            name: None,
            tests: Vec::new(),
            namespace: None,
            skipped_examples: Vec::new(),
            world: None,
            name_hints: BTreeMap::new(),
            name_worlds: BTreeMap::new(),
            learned_for: None,
        }
    }

    /// A task from a user's words, whose examples become its check: `>>> f(x)` doctests,
    /// `f(x) => y` lines, `Input:`/`Output:` blocks and the like (see
    /// [`examples_in`](super::examples_in)), deep-equal in the sandbox. `name` is the
    /// function's name; without it, the one the examples call (or the text declares) is
    /// used. Example lines that cannot be used are kept in `skipped_examples`.
    pub fn from_text(text: impl Into<String>, name: Option<&str>) -> Result<Task, TaskError> {
        let mut task = Task::from_user(text);
        if task.description.is_empty() {
            return Err(TaskError::NoDescription);
        }
        if let Some(name) = name
            && (!crate::sandbox::is_identifier(name) || RESERVED_NAMES.contains(&name))
        {
            return Err(TaskError::BadName(name.to_string()));
        }
        let found = examples_in(&task.description, name);
        task.name = found
            .name
            .filter(|n| crate::sandbox::is_identifier(n) && !RESERVED_NAMES.contains(&n.as_str()));
        for example in found.examples {
            task = task.with_example(example.call, example.expected);
        }
        task.skipped_examples = found.skipped;
        Ok(task)
    }

    /// The function stub the task's text ends with, when it is one: a declaration of the
    /// task's function whose body is left open (`function name(args) {`, as a code prompt
    /// gives it), with the comment above it. Such a task is asked for as a completion
    /// ([`coder_messages`](super::coder_messages)).
    pub fn stub(&self) -> Option<Stub<'_>> {
        let name = self.name.as_deref()?;
        let text = self.description.trim_end();
        // The last line declares the function and opens its body.
        let line_start = text.rfind('\n').map_or(0, |i| i + 1);
        let declaration = text[line_start..].trim_start();
        let declaration = declaration.strip_prefix("async ").unwrap_or(declaration);
        let head = declaration
            .strip_prefix("function")?
            .trim_start()
            .strip_suffix('{')?
            .trim_end();
        if !head.starts_with(&format!("{name}(")) || !head.ends_with(')') {
            return None;
        }
        let before = text[..line_start].trim_end();
        let doc = before
            .ends_with("*/")
            .then(|| before.rfind("/**").map(|start| &before[start..]))
            .flatten();
        Some(Stub { text, doc })
    }

    /// Whether the task's check is only `call => expected` examples (from its text, a user,
    /// or the curriculum): weak evidence that the agent cross-checks before it counts a skill
    /// as verified (`cross_check.rs`). A check with an assertion (a suite's own tests) or a
    /// task an environment posed (with its world) is taken as it is, as is no check at all.
    pub fn check_is_examples(&self) -> bool {
        self.world.is_none()
            && !self.tests.is_empty()
            && self
                .tests
                .iter()
                .all(|test| matches!(test, TestCase::Example { .. }))
    }

    /// Suggests the function name.
    pub fn with_name(mut self, name: impl Into<String>) -> Task {
        self.name = Some(name.into());
        self
    }

    /// Adds an `@example`-style check: `call` must deep-equal `expected` (JS expressions).
    pub fn with_example(mut self, call: impl Into<String>, expected: impl Into<String>) -> Task {
        let call = call.into();
        self.tests.push(TestCase::Example {
            name: call.clone(),
            call,
            expected: expected.into(),
        });
        self
    }

    /// A task from the curriculum's JSON: `{"task": "...", "name": "camelCaseName",
    /// "examples": [["call(args)", expected], ...]}`.
    ///
    /// `expected` is the JSON value the call must return (so `"Hi"` is the string `Hi`); an
    /// example may also be `{"call": ..., "expected": ...}`. `description` is accepted for
    /// `task`. Each call must parse as JavaScript and, when a name is given, call it.
    pub fn from_proposal(object: &Map<String, Value>) -> Result<Task, TaskError> {
        let description = ["task", "description"]
            .iter()
            .find_map(|k| object.get(*k).and_then(Value::as_str))
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .ok_or(TaskError::NoDescription)?;
        let name = match object.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => {
                let name = name.trim();
                if !crate::sandbox::is_identifier(name) || RESERVED_NAMES.contains(&name) {
                    return Err(TaskError::BadName(name.to_string()));
                }
                Some(name.to_string())
            }
            Some(other) => return Err(TaskError::BadName(other.to_string())),
        };
        let mut task = Task::from_user(description);
        task.name = name;
        let examples = match object.get("examples").or_else(|| object.get("tests")) {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(items)) => items.as_slice(),
            Some(_) => {
                return Err(TaskError::BadExample {
                    index: 1,
                    reason: "\"examples\" must be a list of [\"call(args)\", expected] pairs"
                        .into(),
                });
            }
        };
        let mut parsed = Vec::with_capacity(examples.len());
        let mut references = Vec::with_capacity(examples.len());
        for (i, example) in examples.iter().enumerate() {
            let bad = |reason: String| TaskError::BadExample {
                index: i + 1,
                reason,
            };
            let (call, expected) = match example {
                Value::Array(pair) if pair.len() == 2 => (&pair[0], &pair[1]),
                Value::Object(o) => match (o.get("call"), o.get("expected")) {
                    (Some(call), Some(expected)) => (call, expected),
                    _ => {
                        return Err(bad(
                            "an object example needs \"call\" and \"expected\"".into()
                        ));
                    }
                },
                _ => return Err(bad("expected a pair [\"call(args)\", expected]".into())),
            };
            let call = call
                .as_str()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .ok_or_else(|| {
                    bad("the call must be a string of JavaScript, e.g. \"f(1, 2)\"".into())
                })?;
            let analysis = Analysis::of(&format!("({call});"))
                .map_err(|e| bad(format!("the call {call:?} is not JavaScript: {e}")))?;
            parsed.push((call, expected));
            references.push(analysis.references);
        }
        if let Some(name) = &task.name
            && let Some(spelled) = spelling_in_examples(name, &references)
        {
            // A name the examples spell with other capitals ("toLowercase" for the
            // examples' "toLowerCase"): the examples are the check, so their spelling wins.
            task.name = Some(spelled);
        }
        for (i, ((call, expected), references)) in parsed.into_iter().zip(references).enumerate() {
            if let Some(name) = &task.name
                && !references.contains(name)
            {
                return Err(TaskError::BadExample {
                    index: i + 1,
                    reason: format!("the call {call:?} does not call {name}"),
                });
            }
            task = task.with_example(call, expected.to_string());
        }
        Ok(task)
    }

    /// The description normalised for comparison (case, spacing and final punctuation
    /// ignored): two tasks with the same key are the same task.
    pub fn key(&self) -> String {
        normalise(&self.description)
    }
}

/// The one name that every example calls (`references`: the names each example's call
/// uses) and that equals `name` but for capitals, when no example calls `name` itself.
fn spelling_in_examples(name: &str, references: &[BTreeSet<String>]) -> Option<String> {
    let first = references.first()?;
    if references.iter().any(|refs| refs.contains(name)) {
        return None;
    }
    let mut candidates = first.iter().filter(|r| {
        r.eq_ignore_ascii_case(name)
            && !RESERVED_NAMES.contains(&r.as_str())
            && references.iter().all(|refs| refs.contains(*r))
    });
    let spelled = candidates.next()?;
    candidates.next().is_none().then(|| spelled.clone())
}

/// Lower case, single spaces, no trailing punctuation.
pub(crate) fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
        .trim_end_matches(['.', '!', '?'])
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_headline_is_the_first_line_that_says_something() {
        assert_eq!(
            headline(
                "/**\n * Craft pink dye in TextCraft.\n *\n * Goal: ...\n */\nfunction craftPinkDye() {"
            ),
            "Craft pink dye in TextCraft."
        );
        assert_eq!(headline("\nReverse a string.\nMore."), "Reverse a string.");
        assert_eq!(headline("/** Add one. */\nfunction f(x) {"), "Add one.");
        assert_eq!(headline(""), "");
    }

    #[test]
    fn a_text_ending_in_an_open_declaration_of_its_function_is_a_stub() {
        let text = "/**\n * Add one.\n * >>> add_one(1)\n * 2\n */\nfunction add_one(x) {\n";
        let task = Task::from_text(text, Some("add_one")).unwrap();
        let stub = task.stub().unwrap();
        assert_eq!(stub.text, text.trim_end());
        assert_eq!(
            stub.doc,
            Some("/**\n * Add one.\n * >>> add_one(1)\n * 2\n */")
        );
        // Without a comment; async; another function's stub; a closed body; prose.
        let bare = Task::from_user("function f(a, b) {").with_name("f");
        assert_eq!(bare.stub().unwrap().doc, None);
        assert!(
            Task::from_user("async function f() {")
                .with_name("f")
                .stub()
                .is_some()
        );
        assert!(
            Task::from_user("function g(a) {")
                .with_name("f")
                .stub()
                .is_none()
        );
        assert!(
            Task::from_user("function f(a) { return a; }")
                .with_name("f")
                .stub()
                .is_none()
        );
        assert!(
            Task::from_user("Double a number")
                .with_name("f")
                .stub()
                .is_none()
        );
        assert!(
            Task::from_user("function f(a) {").stub().is_none(),
            "no name, no stub"
        );
    }

    #[test]
    fn builds_from_a_proposal_with_json_expected_values() {
        let task = Task::from_proposal(&object(json!({
            "task": " Reverse the words of a sentence. ",
            "name": "reverseWords",
            "examples": [
                ["reverseWords('a b c')", "c b a"],
                {"call": "reverseWords('')", "expected": ""},
                ["reverseWords('x').length", 1]
            ]
        })))
        .unwrap();
        assert_eq!(task.description, "Reverse the words of a sentence.");
        assert_eq!(task.name.as_deref(), Some("reverseWords"));
        assert_eq!(task.tests.len(), 3);
        assert_eq!(
            task.tests[0].to_js(),
            "assert.deepStrictEqual(await (reverseWords('a b c')), (\"c b a\"));"
        );
        assert_eq!(
            task.tests[2].to_js(),
            "assert.deepStrictEqual(await (reverseWords('x').length), (1));"
        );
        // It round-trips through the JSON stored with an episode.
        let stored = serde_json::to_value(&task).unwrap();
        assert_eq!(serde_json::from_value::<Task>(stored).unwrap(), task);
        assert_eq!(task.key(), "reverse the words of a sentence");
    }

    #[test]
    fn a_name_the_examples_spell_with_other_capitals_takes_their_spelling() {
        let task = Task::from_proposal(&object(json!({
            "task": "Lower-case a string",
            "name": "toLowercase",
            "examples": [["toLowerCase('Hi')", "hi"], ["toLowerCase('A b')", "a b"]],
        })))
        .unwrap();
        assert_eq!(task.name.as_deref(), Some("toLowerCase"));
        assert_eq!(task.tests.len(), 2);

        // Not when the examples disagree, or call another name altogether.
        for examples in [
            json!([["toLowerCase('Hi')", "hi"], ["tolowercase('A')", "a"]]),
            json!([["lower('Hi')", "hi"]]),
        ] {
            let err = Task::from_proposal(&object(json!({
                "task": "Lower-case a string",
                "name": "toLowercase",
                "examples": examples,
            })))
            .unwrap_err();
            assert!(
                err.to_string().contains("does not call toLowercase"),
                "{err}"
            );
        }
    }

    #[test]
    fn rejects_bad_proposals_with_messages_for_the_model() {
        let cases = [
            (json!({"name": "f"}), "no description"),
            (
                json!({"task": "x", "name": "my func"}),
                "cannot be a function name",
            ),
            (
                json!({"task": "x", "name": "assert"}),
                "cannot be a function name",
            ),
            (
                json!({"task": "x", "name": "f", "examples": [["g(1)", 2]]}),
                "does not call f",
            ),
            (
                json!({"task": "x", "name": "f", "examples": [["f(1", 2]]}),
                "is not JavaScript",
            ),
            (
                json!({"task": "x", "examples": [["f(1)"]]}),
                "expected a pair",
            ),
            (
                json!({"task": "x", "examples": [[3, 2]]}),
                "must be a string",
            ),
            (
                json!({"task": "x", "examples": "f(1) => 2"}),
                "must be a list",
            ),
        ];
        for (value, message) in cases {
            let error = Task::from_proposal(&object(value.clone())).unwrap_err();
            assert!(error.to_string().contains(message), "{value}: {error}");
        }
    }

    #[test]
    fn a_pasted_prompt_has_its_examples_as_checks() {
        let text = "/**\n * Return the last word of a sentence.\n * >>> last_word('a big dog')\n * 'dog'\n * >>> last_word('')\n * None\n * >>> last_word(x)\n * 'x'\n */\nfunction last_word(s) {";
        let task = Task::from_text(text, Some("lastWord")).unwrap();
        assert_eq!(task.name.as_deref(), Some("lastWord"));
        let checks: Vec<String> = task.tests.iter().map(TestCase::to_js).collect();
        assert_eq!(
            checks,
            [
                "assert.deepStrictEqual(await (lastWord('a big dog')), ('dog'));",
                "assert.deepStrictEqual(await (lastWord('')), (null));",
            ]
        );
        assert_eq!(task.skipped_examples.len(), 1);
        assert_eq!(task.skipped_examples[0].line, 7);
        // The skipped lines travel with the task (the episode's journal and report).
        let stored = serde_json::to_value(&task).unwrap();
        assert_eq!(stored["skipped_examples"][0]["line"], 7);
        assert_eq!(serde_json::from_value::<Task>(stored).unwrap(), task);

        // Without a name, the examples' own.
        let task = Task::from_text(text, None).unwrap();
        assert_eq!(task.name.as_deref(), Some("last_word"));
        // Plain words: no check, as before.
        let task = Task::from_text("Count vowels", None).unwrap();
        assert!(task.tests.is_empty() && task.name.is_none());
        assert!(matches!(
            Task::from_text("x", Some("my func")),
            Err(TaskError::BadName(_))
        ));
    }

    #[test]
    fn user_tasks_have_no_check() {
        let task = Task::from_user("  Count vowels  ");
        assert_eq!(task.description, "Count vowels");
        assert!(task.tests.is_empty() && task.name.is_none());
        let json = serde_json::to_value(&task).unwrap();
        assert_eq!(json, json!({"description": "Count vowels"}));
    }
}
