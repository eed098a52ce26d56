//! The prompts, one file each in `prompts/`, embedded at build time and rendered with
//! minijinja. Undefined placeholders are errors, so a renamed field cannot silently render
//! as an empty string.
//!
//! The coder's system prompt shows one worked example of a skill file. A small model tends
//! to answer with the example itself, so there are several (`prompts/worked/*.js`), none
//! like a task the curriculum proposes; each task sees the one its description hashes to
//! ([`worked_example`]), and a reply that reproduces any of them is refused
//! ([`copied_worked_example`]).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::library::first_sentence;
use crate::validate::TestReport;

use super::AgentError;
use super::coder::SkillBrief;
use super::extract::function_shapes;
use super::relevance;
use super::task::Task;

/// (file name, text) of every prompt.
const PROMPTS: [(&str, &str); 9] = [
    ("curriculum.md", include_str!("../../prompts/curriculum.md")),
    (
        "coder_system.md",
        include_str!("../../prompts/coder_system.md"),
    ),
    ("coder_user.md", include_str!("../../prompts/coder_user.md")),
    (
        "coder_complete.md",
        include_str!("../../prompts/coder_complete.md"),
    ),
    ("critic.md", include_str!("../../prompts/critic.md")),
    ("refine.md", include_str!("../../prompts/refine.md")),
    ("rewrite.md", include_str!("../../prompts/rewrite.md")),
    (
        "fresh_start.md",
        include_str!("../../prompts/fresh_start.md"),
    ),
    (
        "cross_check_anew.md",
        include_str!("../../prompts/cross_check_anew.md"),
    ),
];

/// The worked examples of the coder's system prompt: complete skill files.
const WORKED_EXAMPLES: [&str; 4] = [
    include_str!("../../prompts/worked/hex_to_rgb.js"),
    include_str!("../../prompts/worked/format_bytes.js"),
    include_str!("../../prompts/worked/days_in_month.js"),
    include_str!("../../prompts/worked/parse_duration.js"),
];

/// The worked examples shown in an environment with actions: skills acting through
/// `host.call` in made-up worlds (a bakery, a garden) whose actions no real environment has.
const WORKED_ENV_EXAMPLES: [&str; 2] = [
    include_str!("../../prompts/worked/env_bake_bread.js"),
    include_str!("../../prompts/worked/env_water_beds.js"),
];

/// The worked example shown for `task`: chosen by a stable hash of the task's key, so that
/// the tasks of a run see different ones and a task sees the same one every round. In an
/// environment whose skills act (`acts`), one that calls host functions.
pub(crate) fn worked_example(task: &Task, acts: bool) -> &'static str {
    let examples: &[&str] = if acts {
        &WORKED_ENV_EXAMPLES
    } else {
        &WORKED_EXAMPLES
    };
    let hash = xxhash_rust::xxh3::xxh3_64(task.key().as_bytes());
    examples[(hash % examples.len() as u64) as usize].trim()
}

/// The name of the worked example `code` reproduces, if any: it declares a function with
/// the example's parameters and body (under any name), or names the example's function
/// (declares it, or copied its `@example`/`@test` lines), and the task does not ask for that
/// function (its name or description does not name it).
pub(crate) fn copied_worked_example(code: &str, task: &Task) -> Option<String> {
    let shapes = function_shapes(code);
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mentions = |name: &str| {
        code.match_indices(name).any(|(at, _)| {
            !code[..at].chars().next_back().is_some_and(is_word)
                && !code[at + name.len()..].chars().next().is_some_and(is_word)
        })
    };
    WORKED_EXAMPLES
        .iter()
        .chain(&WORKED_ENV_EXAMPLES)
        .find_map(|example| {
            let (name, shape) = function_shapes(example).into_iter().next()?;
            let asked = task.name.as_deref() == Some(name.as_str())
                || task.description.contains(name.as_str());
            let copied = mentions(&name) || shapes.iter().any(|(_, s)| *s == shape);
            (copied && !asked).then_some(name)
        })
}

static TEMPLATES: LazyLock<Result<Environment<'static>, minijinja::Error>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()?,
    );
    for (name, text) in PROMPTS {
        env.add_template(name, text)?;
    }
    Ok(env)
});

/// Renders the prompt `name` with the fields of `context`.
pub(crate) fn render(name: &'static str, context: &impl Serialize) -> Result<String, AgentError> {
    let prompt = |source| AgentError::Prompt { name, source };
    let env = TEMPLATES.as_ref().map_err(|e| {
        prompt(minijinja::Error::new(
            e.kind(),
            format!("the prompts do not load: {e}"),
        ))
    })?;
    let text = env
        .get_template(name)
        .and_then(|t| t.render(Serde(context)))
        .map_err(prompt)?;
    Ok(text.trim().to_string())
}

/// A test report as the model reads it: a count, then each failing test with its error.
pub fn report_summary(report: &TestReport) -> String {
    if report.tests.is_empty() {
        return "no tests ran".to_string();
    }
    let mut text = format!("{} of {} tests passed", report.passed(), report.tests.len());
    for test in report.tests.iter().filter(|t| !t.passed) {
        let why = test.failure.as_ref().map_or_else(
            || "failed".to_string(),
            |f| match &f.name {
                Some(name) => format!("{name}: {}", f.message),
                None => format!("{}: {}", f.kind, f.message),
            },
        );
        text.push_str(&format!("\n- {} failed: {why}", test.name));
        if let Some(name) = test
            .failure
            .as_ref()
            .and_then(|f| undefined_name(&f.message))
        {
            text.push_str(&format!(" ({})", no_such_name(name)));
        }
    }
    text
}

/// What to tell the model of the names its failing tests found undefined, one sentence
/// each, for a report said in fewer words than [`report_summary`] (a refusal's one line):
/// empty when none was. The 1.5B model called a worked example's `craftOakPlanks` three
/// rounds running on a bare "is not defined".
pub(crate) fn undefined_names(report: &TestReport) -> String {
    undefined_in(report)
        .iter()
        .map(|name| format!("\n{}.", no_such_name(name)))
        .collect()
}

/// For each name the failing tests of `report` found undefined, what the environment says
/// of it (the task's `hints`, e.g. that `craftIronNugget` names a base item to fetch), then
/// the library function among `library` whose name shares its words
/// ([`relevance::closest_name`]) and what that does: empty when neither applies. The 1.5B
/// model called a worked example's `craftOakPlanks()` in round after round with
/// `craftBirchPlanks()` listed, and `craftIronNugget()` for an item no recipe makes.
pub(crate) fn undefined_names_explained(
    report: &TestReport,
    hints: &BTreeMap<String, String>,
    library: &[SkillBrief],
) -> String {
    let names: Vec<&str> = library.iter().map(|s| s.name.as_str()).collect();
    let mut said = String::new();
    for name in undefined_in(report) {
        if let Some(hint) = hints.get(name) {
            said.push_str(&format!("\n{}", hint.trim()));
        }
        let Some(closest) = relevance::closest_name(name, &names) else {
            continue;
        };
        let Some(skill) = library.iter().find(|s| s.name == closest) else {
            continue;
        };
        said.push_str(&format!(
            "\nThe library function whose name is closest to `{name}` is `{}`: {} Call it if it \
             does what you need.",
            skill.signature,
            first_sentence(&skill.description).trim_end()
        ));
    }
    said
}

/// The names the failing tests of `report` found undefined, when that is all that failed
/// (every failing test stopped on such a name): empty otherwise.
pub(crate) fn only_undefined_names(report: &TestReport) -> Vec<String> {
    let failing = || report.tests.iter().filter(|t| !t.passed);
    let all_undefined = failing().all(|t| {
        t.failure
            .as_ref()
            .is_some_and(|f| undefined_name(&f.message).is_some())
    });
    if !all_undefined {
        return Vec::new();
    }
    undefined_in(report).into_iter().map(String::from).collect()
}

/// The names the failing tests of `report` found undefined, each once.
fn undefined_in(report: &TestReport) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for name in report
        .tests
        .iter()
        .filter(|t| !t.passed)
        .filter_map(|t| undefined_name(&t.failure.as_ref()?.message))
    {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Said of a name a skill called that nothing defines.
fn no_such_name(name: &str) -> String {
    format!(
        "`{name}` is no function of the library and no global of the sandbox: define it in \
         your reply, or do its work inline"
    )
}

/// The name a ReferenceError's `message` says is not defined (`craftBlueDye is not defined`,
/// quoted or not): a small model calls helpers and library skills it made up.
fn undefined_name(message: &str) -> Option<&str> {
    let before = message.strip_suffix(" is not defined")?;
    let name = before
        .rsplit([' ', ':'])
        .next()?
        .trim_matches(['\'', '"', '`']);
    let identifier = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    identifier.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::{Failure, FailureKind};
    use crate::validate::TestOutcome;
    use serde_json::json;

    #[test]
    fn every_prompt_compiles_and_unknown_placeholders_are_errors() {
        assert!(TEMPLATES.is_ok(), "{:?}", TEMPLATES.as_ref().err());
        let error = render("refine.md", &json!({"problem": "typo in the field name"})).unwrap_err();
        assert!(matches!(
            error,
            AgentError::Prompt {
                name: "refine.md",
                ..
            }
        ));
        assert!(error.to_string().contains("refine.md"), "{error}");
        let text = render(
            "refine.md",
            &json!({"problems": "3 of 4 tests failed", "stub": false, "bare": false}),
        )
        .unwrap();
        assert!(
            text.starts_with("That did not work:\n3 of 4 tests failed"),
            "{text}"
        );
    }

    #[test]
    fn worked_examples_are_valid_skills_that_rotate_and_are_recognised() {
        use crate::sandbox::{HostFunctions, Limits, Sandbox, SandboxConfig};
        use crate::skill::SkillSource;
        use crate::validate::{Job, run_tests};
        let sandbox = Sandbox::new(SandboxConfig::default(), HostFunctions::empty()).unwrap();
        let mut names = Vec::new();
        for example in WORKED_EXAMPLES {
            let skill = SkillSource::parse(example, None).unwrap();
            let bundle = crate::compose::bundle(&skill, |_| None, 16).unwrap();
            let report = run_tests(
                &sandbox,
                Job {
                    bundle: &bundle,
                    tests: &skill.tests,
                    limits: &Limits::default(),
                },
            )
            .unwrap();
            assert!(report.all_passed() && report.tests.len() == 2, "{report:?}");
            names.push(skill.name);
        }

        // Different tasks see different examples; one task always the same.
        let tasks: Vec<Task> = (0..12)
            .map(|i| Task::from_user(format!("task number {i}")))
            .collect();
        let shown: std::collections::BTreeSet<&str> =
            tasks.iter().map(|t| worked_example(t, false)).collect();
        assert!(shown.len() >= 3, "{shown:?}");
        assert_eq!(
            worked_example(&tasks[0], false),
            worked_example(&tasks[0].clone(), false)
        );
        let system = render(
            "coder_system.md",
            &json!({"environment": "pure functions", "worked_example": worked_example(&tasks[0], false)}),
        )
        .unwrap();
        assert!(
            system.contains(worked_example(&tasks[0], false)),
            "{system}"
        );

        // An environment with actions is shown skills that act through host.call, declaring
        // each action they use; they are recognised when copied too.
        let acting: std::collections::BTreeSet<&str> =
            tasks.iter().map(|t| worked_example(t, true)).collect();
        assert_eq!(acting.len(), WORKED_ENV_EXAMPLES.len(), "{acting:?}");
        for example in WORKED_ENV_EXAMPLES {
            let skill = SkillSource::parse(example, None).unwrap();
            assert!(example.contains("host.call("), "{example}");
            assert_eq!(skill.capabilities.iter().count(), 2, "{example}");
            assert!(!skill.tests.is_empty(), "{example}");
            let other = Task::from_user("craft a table").with_name("craftTable");
            assert_eq!(
                copied_worked_example(example, &other).as_deref(),
                Some(skill.name.as_str())
            );
        }

        // A copy is recognised under its own name, or renamed with other spacing; a task
        // that asks for that very function may have it.
        let task = Task::from_user("Return the last word").with_name("lastWord");
        let renamed = "function lastWord(bytes){if(bytes<1024)return `${bytes} B`;if(bytes<1024*1024)return `${(bytes/1024).toFixed(1)} KiB`;return `${(bytes/(1024*1024)).toFixed(1)} MiB`;}";
        assert_eq!(
            copied_worked_example(renamed, &task).as_deref(),
            Some("formatBytes")
        );
        for example in WORKED_EXAMPLES {
            let name = copied_worked_example(example, &task).unwrap();
            assert!(names.contains(&name));
            let asked = Task::from_user("Do it").with_name(name.clone());
            assert_eq!(copied_worked_example(example, &asked), None);
        }
        // The model's own function with the example's test copied into its JSDoc (seen
        // with the 0.5B model) is a copy too.
        let copied_test = "/**\n * Last word.\n * @example parseDuration(\"1h30m\") => 5400\n */\nfunction lastWord(s) { return s.split(' ').pop(); }";
        assert_eq!(
            copied_worked_example(copied_test, &task).as_deref(),
            Some("parseDuration")
        );
        let own = "/**\n * Last word (parseDurations is not a name).\n * @example lastWord('a b') => 'b'\n */\nfunction lastWord(s) { return s.split(' ').pop(); }";
        assert_eq!(copied_worked_example(own, &task), None);
    }

    #[test]
    fn summarises_reports_for_the_model() {
        let outcome = |name: &str, failure: Option<Failure>| TestOutcome {
            name: name.into(),
            passed: failure.is_none(),
            failure,
            logs: vec![],
            wall_ms: 1.0,
        };
        let mut assertion = Failure::new(FailureKind::JsError, "expected 2, got 3");
        assertion.name = Some("AssertionError".into());
        let report = TestReport {
            skill: "f".into(),
            tests: vec![
                outcome("f(1) => 2", Some(assertion)),
                outcome("ok", None),
                outcome(
                    "loops",
                    Some(Failure::new(FailureKind::Timeout, "ran past 2s")),
                ),
            ],
            call_graph: vec![],
        };
        assert_eq!(
            report_summary(&report),
            "1 of 3 tests passed\n- f(1) => 2 failed: AssertionError: expected 2, got 3\n- loops failed: timeout: ran past 2s"
        );
    }

    #[test]
    fn a_name_that_is_not_defined_is_said_to_be_no_skill() {
        assert_eq!(
            undefined_name("craftBlueDye is not defined"),
            Some("craftBlueDye")
        );
        assert_eq!(
            undefined_name("'ActionFailed' is not defined"),
            Some("ActionFailed")
        );
        assert_eq!(undefined_name("x.y is not defined"), None);
        assert_eq!(undefined_name("expected 2, got 3"), None);
        let mut failure = Failure::new(FailureKind::JsError, "craftBlueDye is not defined");
        failure.name = Some("ReferenceError".into());
        let report = TestReport {
            skill: "craftPurpleDye".into(),
            tests: vec![TestOutcome {
                name: "task".into(),
                passed: false,
                failure: Some(failure),
                logs: vec![],
                wall_ms: 1.0,
            }],
            call_graph: vec![],
        };
        assert!(
            report_summary(&report).ends_with(
                "ReferenceError: craftBlueDye is not defined (`craftBlueDye` is no function of the \
                 library and no global of the sandbox: define it in your reply, or do its work \
                 inline)"
            ),
            "{}",
            report_summary(&report)
        );
        // Said once of a name two tests found undefined, after a one-line refusal.
        let mut twice = report.clone();
        twice.tests.push(twice.tests[0].clone());
        assert_eq!(
            undefined_names(&twice),
            "\n`craftBlueDye` is no function of the library and no global of the sandbox: \
             define it in your reply, or do its work inline."
        );
        twice.tests.iter_mut().for_each(|t| t.passed = true);
        assert_eq!(undefined_names(&twice), "");
    }

    #[test]
    fn an_undefined_name_is_told_what_the_environment_says_and_the_closest_library_function() {
        let brief = |name: &str, description: &str| SkillBrief {
            name: name.into(),
            signature: format!("{name}(count)"),
            description: description.into(),
            code: String::new(),
        };
        let library = [
            brief("craftGoldIngot", "Crafts gold ingots from nuggets."),
            brief(
                "craftBirchPlanks",
                "Crafts birch planks from birch logs. Needs a log per 4 planks.",
            ),
        ];
        let none = BTreeMap::new();
        let failing = |messages: &[&str]| TestReport {
            skill: "craftBirchButton".into(),
            tests: messages
                .iter()
                .map(|m| TestOutcome {
                    name: "task".into(),
                    passed: false,
                    failure: Some(Failure::new(FailureKind::JsError, *m)),
                    logs: vec![],
                    wall_ms: 1.0,
                })
                .collect(),
            call_graph: vec![],
        };
        assert_eq!(
            undefined_names_explained(
                &failing(&[
                    "craftOakPlanks is not defined",
                    "craftOakPlanks is not defined"
                ]),
                &none,
                &library
            ),
            "\nThe library function whose name is closest to `craftOakPlanks` is \
             `craftBirchPlanks(count)`: Crafts birch planks from birch logs. Call it if it does \
             what you need."
        );
        // A name that shares only `craft` with the library's, or no undefined name: nothing.
        assert_eq!(
            undefined_names_explained(&failing(&["craftStick is not defined"]), &none, &library),
            ""
        );
        assert_eq!(
            undefined_names_explained(&failing(&["expected 2, got 3"]), &none, &library),
            ""
        );
        // The names a repair may rename: only when an undefined name is all that failed.
        assert_eq!(
            only_undefined_names(&failing(&[
                "ReferenceError: craftOakPlanks is not defined",
                "craftStick is not defined",
                "craftOakPlanks is not defined"
            ])),
            ["craftOakPlanks", "craftStick"]
        );
        assert!(
            only_undefined_names(&failing(&[
                "craftOakPlanks is not defined",
                "expected 2, got 3"
            ]))
            .is_empty()
        );
        // What the environment says of a name comes first, then the closest library
        // function; a name it says nothing of gets the library's alone.
        let hints = BTreeMap::from([
            (
                "craftGoldNugget".to_string(),
                "gold nugget is a base item: fetch it with get. ".to_string(),
            ),
            (
                "craftOakPlanks".to_string(),
                "oak planks are crafted from oak logs.".to_string(),
            ),
        ]);
        assert_eq!(
            undefined_names_explained(
                &failing(&[
                    "craftGoldNugget is not defined",
                    "craftOakPlanks is not defined",
                    "craftStick is not defined"
                ]),
                &hints,
                &library
            ),
            "\ngold nugget is a base item: fetch it with get.\nThe library function whose name is \
             closest to `craftGoldNugget` is `craftGoldIngot(count)`: Crafts gold ingots from \
             nuggets. Call it if it does what you need.\noak planks are crafted from oak logs.\n\
             The library function whose name is closest to `craftOakPlanks` is \
             `craftBirchPlanks(count)`: Crafts birch planks from birch logs. Call it if it does \
             what you need."
        );
    }
}
