//! The critic: asks the model whether a skill really does its task, given its name, code and
//! test results. Advisory when the task has a check (the check decides); the critique feeds
//! the next refinement. A yes that describes another function ([`foreign_names`]) is no yes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::llm::{ChatRequest, LanguageModel, Message};
use crate::validate::TestReport;

use super::budget::{first_fitting, prompt_budget, truncate};
use super::json::{find_object, preview};
use super::prompts::{render, report_summary};
use super::task::Task;
use super::{AgentError, Exchange, Purpose};

/// The critic's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Critique {
    /// Whether the skill does the task.
    pub success: bool,
    /// What is wrong and how to fix it, or why it is right.
    // Bounded, so that a small model looping inside the string must close it.
    #[schemars(length(max = 600))]
    pub feedback: String,
}

/// The JSON schema of [`Critique`] (derived, doc comments as descriptions), sent with the critic's request so that a server that
/// supports it (llama.cpp's does) can only answer with a verdict. The reply is still parsed
/// leniently ([`parse_verdict`]): an endpoint may ignore the schema.
pub(crate) fn critique_schema() -> Value {
    schemars::schema_for!(Critique).to_value()
}

/// A verdict with the call that produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct Critiqued {
    /// The verdict.
    pub critique: Critique,
    /// The model call, for the journal.
    pub exchange: Exchange,
}

/// The longest a critic's reply may be, in tokens.
const MAX_TOKENS: u32 = 200;

/// How far the parts of the critic's prompt are cut, in bytes, when the whole does not fit
/// the model's context: the test report first, then the task, then the code.
const CUTS: [(usize, usize, usize); 4] = [
    (1_500, usize::MAX, usize::MAX),
    (400, 2_000, usize::MAX),
    (400, 600, 6_000),
    (200, 300, 2_000),
];

/// Asks `model` to judge `code`, the function `name`, for `task`, showing it the test
/// `report`. The prompt is fitted to the model's context (tokens counted by the model): the
/// report, then the task, then the code are cut, in that order, until it fits.
pub async fn critique(
    model: &dyn LanguageModel,
    task: &Task,
    name: &str,
    code: &str,
    report: &TestReport,
) -> Result<Critiqued, AgentError> {
    let summary = report_summary(report);
    let prompt = |(report_bytes, task_bytes, code_bytes): (usize, usize, usize)| {
        let text = render(
            "critic.md",
            &serde_json::json!({
                "task": truncate(&task.description, task_bytes),
                "name": name,
                "code": truncate(code.trim(), code_bytes),
                "report": truncate(&summary, report_bytes),
            }),
        )?;
        Ok(vec![Message::user(text)])
    };
    let budget = prompt_budget(model, Purpose::Critic, MAX_TOKENS, 0)?;
    let candidates = std::iter::once((usize::MAX, usize::MAX, usize::MAX))
        .chain(CUTS)
        .map(prompt);
    let messages = first_fitting(model, Purpose::Critic, budget, candidates).await?;
    let request = ChatRequest::new(messages)
        .with_temperature(0.0)
        .with_max_tokens(MAX_TOKENS)
        .with_json_schema("critique", critique_schema());
    let exchange = Exchange::run(model, Purpose::Critic, request).await?;
    match parse_verdict(&exchange.reply) {
        Ok(critique) => Ok(Critiqued { critique, exchange }),
        Err(detail) => Err(AgentError::NoVerdict {
            detail,
            exchange: Box::new(exchange),
        }),
    }
}

/// Functions the critic's `feedback` names (`` `name` `` or `name(`, not a method call)
/// that `code` does not contain: a verdict on a function that is not the code (a small model
/// describes the task's function instead of the one it was shown) is no verdict on it.
pub fn foreign_names(feedback: &str, code: &str) -> Vec<String> {
    let in_code: std::collections::HashSet<&str> = identifiers(code).map(|(_, id)| id).collect();
    let mut foreign = Vec::new();
    for (at, id) in identifiers(feedback) {
        let before = feedback[..at].chars().next_back();
        let after = feedback[at + id.len()..].chars().next();
        let named = (before == Some('`') && after == Some('`'))
            || (after == Some('(') && before != Some('.'));
        if named && !in_code.contains(id) && !foreign.iter().any(|f| f == id) {
            foreign.push(id.to_string());
        }
    }
    foreign
}

/// The JavaScript identifiers of `text`, with their byte offsets.
fn identifiers(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < text.len() {
            let start = at + text[at..].find(word)?;
            let end = text[start..]
                .find(|c: char| !word(c))
                .map_or(text.len(), |n| start + n);
            at = end;
            if !text[start..].starts_with(|c: char| c.is_ascii_digit()) {
                return Some((start, &text[start..end]));
            }
        }
        None
    })
}

/// `{"success": ..., "feedback": ...}` anywhere in the reply; `success` may also be a
/// string such as "yes" or "false", and `critique` or `reason` may stand for `feedback`.
fn parse_verdict(reply: &str) -> Result<Critique, String> {
    let object = find_object(reply).ok_or_else(|| {
        format!(
            "no JSON object in the reply, which starts {}",
            preview(reply)
        )
    })?;
    let success = match object.get("success") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => match s.trim().to_lowercase().as_str() {
            "true" | "yes" | "pass" | "passed" => true,
            "false" | "no" | "fail" | "failed" => false,
            other => return Err(format!("\"success\" is {other:?}, not true or false")),
        },
        _ => return Err("the JSON object has no boolean \"success\"".into()),
    };
    let feedback = ["feedback", "critique", "reason"]
        .iter()
        .find_map(|k| object.get(*k).and_then(Value::as_str))
        .unwrap_or("")
        .trim()
        .to_string();
    Ok(Critique { success, feedback })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{ResponseFormat, ScriptedModel};
    use crate::sandbox::{Failure, FailureKind};
    use crate::validate::TestOutcome;

    fn report() -> TestReport {
        TestReport {
            skill: "isEven".into(),
            tests: vec![TestOutcome {
                name: "isEven(-2) => true".into(),
                passed: false,
                failure: Some(Failure::new(
                    FailureKind::JsError,
                    "expected true, got false",
                )),
                logs: vec![],
                wall_ms: 0.5,
            }],
            call_graph: vec![],
        }
    }

    const CODE: &str = "function isEven(n) { return n % 2 === 1 ? false : n > 0; }";

    #[tokio::test]
    async fn parses_a_verdict_wrapped_in_prose() {
        let model = ScriptedModel::queue([
            "My review:\n```json\n{\"success\": false, \"feedback\": \"Negative even numbers return false; drop the n > 0 check.\"}\n```",
        ]);
        let task = Task::from_user("Tell whether an integer is even");
        let done = critique(&model, &task, "isEven", CODE, &report())
            .await
            .unwrap();
        assert!(!done.critique.success);
        assert!(done.critique.feedback.starts_with("Negative even numbers"));
        assert_eq!(done.exchange.purpose, Purpose::Critic);
        let prompt = &model.requests()[0].messages[0].content;
        assert!(prompt.contains("Task: Tell whether an integer is even"));
        assert!(prompt.contains(CODE));
        assert!(prompt.contains("The function is `isEven`"), "{prompt}");
        assert!(
            prompt.contains("0 of 1 tests passed\n- isEven(-2) => true failed"),
            "{prompt}"
        );
        // The verdict's schema, derived from `Critique`, goes with the request.
        let Some(ResponseFormat::JsonSchema { json_schema }) = &model.requests()[0].response_format
        else {
            panic!(
                "no JSON schema sent: {:?}",
                model.requests()[0].response_format
            );
        };
        assert_eq!(json_schema.name, "critique");
        let schema = &json_schema.schema;
        assert_eq!(schema["type"], "object");
        assert_eq!(
            schema["required"],
            serde_json::json!(["success", "feedback"])
        );
        assert_eq!(schema["properties"]["success"]["type"], "boolean");
        assert_eq!(schema["properties"]["feedback"]["type"], "string");
        assert_eq!(schema["properties"]["feedback"]["maxLength"], 600);
    }

    #[tokio::test]
    async fn a_prompt_too_long_for_the_context_is_cut_report_first_never_the_name() {
        let verdict = "{\"success\": true, \"feedback\": \"right\"}";
        let model = ScriptedModel::queue([verdict]).with_context_tokens(1_024);
        let task = Task::from_user(format!(
            "Tell whether an integer is even. {}",
            "Note. ".repeat(1_000)
        ));
        let mut long = report();
        long.tests[0].failure = Some(Failure::new(FailureKind::JsError, "x".repeat(20_000)));
        let done = critique(&model, &task, "isEven", CODE, &long)
            .await
            .unwrap();
        assert!(done.critique.success);
        let prompt = &model.requests()[0].messages[0].content;
        assert!(prompt.contains(CODE), "{prompt}");
        assert!(prompt.contains("The function is `isEven`"), "{prompt}");
        assert!(prompt.contains("[...]"), "{prompt}");
        let tokens = model
            .count_tokens(&model.requests()[0].messages)
            .await
            .unwrap();
        assert!(tokens + MAX_TOKENS <= 1_024, "{tokens} prompt tokens");
        // A context too small for even the shortest prompt is a clear error, not a call.
        let tiny = ScriptedModel::queue([verdict]).with_context_tokens(300);
        let error = critique(&tiny, &task, "isEven", &CODE.repeat(100), &long)
            .await
            .unwrap_err();
        assert!(matches!(error, AgentError::PromptTooLong { .. }), "{error}");
        assert!(tiny.requests().is_empty());
    }

    #[test]
    fn tolerates_string_booleans_and_other_feedback_keys() {
        let verdict = parse_verdict("{\"success\": \"Yes\", \"reason\": \"fine\"}").unwrap();
        assert_eq!(
            verdict,
            Critique {
                success: true,
                feedback: "fine".into()
            }
        );
        assert!(
            parse_verdict("{\"success\": \"maybe\"}")
                .unwrap_err()
                .contains("maybe")
        );
        assert!(
            parse_verdict("{\"ok\": true}")
                .unwrap_err()
                .contains("no boolean")
        );
    }

    #[test]
    fn names_the_code_does_not_hold_are_foreign() {
        let code = "function sumOfSquares(xs) { return xs.reduce((a, x) => a + x * x, 0); }";
        assert_eq!(
            foreign_names(
                "The function `eat` returns [number + need, remaining]; eat(5, 6, 10) is right.",
                code
            ),
            ["eat"]
        );
        assert!(
            foreign_names(
                "`sumOfSquares` is right: xs.reduce(...) sums the squares (of each number).",
                code
            )
            .is_empty()
        );
    }

    #[tokio::test]
    async fn a_reply_without_a_verdict_is_an_error_that_keeps_the_exchange() {
        let model = ScriptedModel::queue(["Looks good to me!"]);
        let error = critique(&model, &Task::from_user("x"), "isEven", CODE, &report())
            .await
            .unwrap_err();
        match &error {
            AgentError::NoVerdict { detail, exchange } => {
                assert!(detail.contains("Looks good"), "{detail}");
                assert_eq!(exchange.reply, "Looks good to me!");
            }
            other => panic!("unexpected {other}"),
        }
        assert!(error.to_string().contains("continue without the critique"));
    }
}
