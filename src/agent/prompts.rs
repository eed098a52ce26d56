//! The prompts, one file each in `prompts/`, embedded at build time and rendered with
//! minijinja. Undefined placeholders are errors, so a renamed field cannot silently render
//! as an empty string.

use std::sync::LazyLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::validate::TestReport;

use super::AgentError;

/// (file name, text) of every prompt.
const PROMPTS: [(&str, &str); 6] = [
    ("curriculum.md", include_str!("../../prompts/curriculum.md")),
    (
        "coder_system.md",
        include_str!("../../prompts/coder_system.md"),
    ),
    ("coder_user.md", include_str!("../../prompts/coder_user.md")),
    ("critic.md", include_str!("../../prompts/critic.md")),
    ("refine.md", include_str!("../../prompts/refine.md")),
    (
        "fresh_start.md",
        include_str!("../../prompts/fresh_start.md"),
    ),
];

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
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let text = render("refine.md", &json!({"problems": "3 of 4 tests failed"})).unwrap();
        assert!(
            text.starts_with("That did not work:\n3 of 4 tests failed"),
            "{text}"
        );
    }

    #[test]
    fn summarises_reports_for_the_model() {
        use crate::sandbox::{Failure, FailureKind};
        use crate::validate::TestOutcome;
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
}
