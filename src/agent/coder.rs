//! The coder: asks the model for a skill that does the task, showing the retrieved library
//! skills to call by name, and on later rounds what went wrong with the previous attempt.

use serde::{Deserialize, Serialize};

use crate::llm::{ChatRequest, FinishReason, LanguageModel, Message};
use crate::skill::TestCase;

use super::environment::Environment;
use super::extract::{ExtractError, Extracted, extract};
use super::prompts::{copied_worked_example, render, worked_example};
use super::task::Task;
use super::{AgentError, Exchange, Purpose};

/// Upper bound on the coder's reply: a skill with its JSDoc fits well within it.
const MAX_TOKENS: u32 = 768;

/// A library skill as the coder sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillBrief {
    /// The name to call it by.
    pub name: String,
    /// `name(a: T) -> R`.
    pub signature: String,
    /// What it does.
    pub description: String,
    /// Its source.
    pub code: String,
}

/// What went wrong with the previous round, for a refinement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// The model's previous reply.
    pub previous_reply: String,
    /// The problems, in words the model can act on: the extraction error, failing tests
    /// (see [`report_summary`](super::report_summary)), the critic's feedback.
    pub problems: String,
}

/// One round of the coder: the call and what could be taken from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The model call.
    pub exchange: Exchange,
    /// The skill, or why there is none (its message is the next round's feedback).
    pub result: Result<Extracted, ExtractError>,
}

/// The coder's prompt: the system prompt (the environment and the skill format), the task
/// with its checks and the retrieved skills, then for a refinement the previous reply and
/// its problems.
pub fn coder_messages(
    env: &dyn Environment,
    task: &Task,
    retrieved: &[SkillBrief],
    feedback: Option<&Feedback>,
) -> Result<Vec<Message>, AgentError> {
    let system = render(
        "coder_system.md",
        &serde_json::json!({
            "environment": env.describe(),
            "worked_example": worked_example(task),
        }),
    )?;
    let checks: Vec<String> = task
        .tests
        .iter()
        .map(|test| match test {
            TestCase::Example { call, expected, .. } => format!("{call} => {expected}"),
            TestCase::Assert { code, .. } => code.clone(),
        })
        .collect();
    let user = render(
        "coder_user.md",
        &serde_json::json!({
            "task": task.description,
            "name": task.name,
            "checks": checks,
            "skills": retrieved,
        }),
    )?;
    let mut messages = vec![Message::system(system), Message::user(user)];
    if let Some(feedback) = feedback {
        messages.push(Message::assistant(feedback.previous_reply.clone()));
        messages.push(Message::user(render(
            "refine.md",
            &serde_json::json!({ "problems": feedback.problems }),
        )?));
    }
    Ok(messages)
}

/// Asks `model` for a skill and extracts it. A reply cut off by the token limit that does
/// not yield a skill is reported as [`ExtractError::Truncated`].
pub async fn write_skill(
    model: &dyn LanguageModel,
    env: &dyn Environment,
    task: &Task,
    retrieved: &[SkillBrief],
    feedback: Option<&Feedback>,
) -> Result<Attempt, AgentError> {
    let messages = coder_messages(env, task, retrieved, feedback)?;
    let request = ChatRequest::new(messages)
        // A retry at the same low temperature tends to repeat the failed answer word for word.
        .with_temperature(if feedback.is_some() { 0.7 } else { 0.2 })
        .with_max_tokens(MAX_TOKENS);
    let exchange = Exchange::run(model, Purpose::Coder, request).await?;
    let result = extract(&exchange.reply, task.name.as_deref()).map_err(|error| {
        match (&exchange.finish_reason, error) {
            (FinishReason::Length, ExtractError::Syntax { .. } | ExtractError::NoTests { .. }) => {
                ExtractError::Truncated {
                    open: format!("the reply hit the limit of {MAX_TOKENS} tokens"),
                }
            }
            (_, error) => error,
        }
    });
    // A small model answers with the prompt's worked example: refused, saying so.
    let result =
        result.and_then(
            |extracted| match copied_worked_example(&extracted.skill.code, task) {
                Some(name) => Err(ExtractError::CopiedExample {
                    name,
                    wanted: task.name.clone(),
                }),
                None => Ok(extracted),
            },
        );
    Ok(Attempt { exchange, result })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::CodeEnvironment;
    use crate::llm::{Role, ScriptedModel, ScriptedReply};

    const REPLY: &str = "Here is the function:\n\n```javascript\n/**\n * Title-cases and joins words with dashes.\n * @param {string} s\n * @returns {string}\n * @example dashTitle('a b') => 'A-B'\n */\nfunction dashTitle(s) {\n  return words(s).map(capitalize).join('-');\n}\n```\n";

    fn words() -> SkillBrief {
        SkillBrief {
            name: "words".into(),
            signature: "words(text: string) -> string[]".into(),
            description: "Splits text into words.".into(),
            code: "function words(text) { return text.split(/\\s+/); }".into(),
        }
    }

    #[tokio::test]
    async fn writes_a_skill_showing_retrieved_skills_and_the_task_checks() {
        let model = ScriptedModel::queue([REPLY]);
        let env = CodeEnvironment::new("string utilities");
        let task = Task::from_user("Title-case words and join them with dashes")
            .with_name("dashTitle")
            .with_example("dashTitle('x y')", "\"X-Y\"");
        let attempt = write_skill(&model, &env, &task, &[words()], None)
            .await
            .unwrap();
        let skill = attempt.result.unwrap().skill;
        assert_eq!(skill.name, "dashTitle");
        assert!(skill.references.contains("words") && skill.references.contains("capitalize"));

        let request = &model.requests()[0];
        assert_eq!(request.messages.len(), 2);
        let system = &request.messages[0].content;
        assert!(
            system.contains("string utilities") && system.contains("@example"),
            "{system}"
        );
        let user = &request.messages[1].content;
        for needle in [
            "Task: Title-case words and join them with dashes",
            "Name the function dashTitle.",
            "- dashTitle('x y') => \"X-Y\"",
            "- words(text: string) -> string[]: Splits text into words.",
            "Splits text into words.",
            "function words(text)",
        ] {
            assert!(user.contains(needle), "{needle:?} missing from:\n{user}");
        }
        assert_eq!(attempt.exchange.messages, request.messages);
    }

    #[tokio::test]
    async fn refines_with_the_previous_reply_and_its_problems() {
        let model = ScriptedModel::queue([REPLY]);
        let env = CodeEnvironment::new("strings");
        let feedback = Feedback {
            previous_reply: "function dashTitle(s) { return s }".into(),
            problems: "dashTitle has no tests".into(),
        };
        let task = Task::from_user("dash title");
        write_skill(&model, &env, &task, &[], Some(&feedback))
            .await
            .unwrap();
        let messages = &model.requests()[0].messages;
        let roles: Vec<Role> = messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [Role::System, Role::User, Role::Assistant, Role::User]
        );
        assert!(!messages[1].content.contains("Library functions"));
        assert_eq!(messages[2].content, feedback.previous_reply);
        assert!(messages[3].content.contains("dashTitle has no tests"));
    }

    #[tokio::test]
    async fn a_reply_cut_off_by_the_token_limit_is_truncated() {
        let cut = "```javascript\n/**\n * Adds.\n * @example add(1, 2) => 3\n */\nfunction add(a, b) {\n  return a +";
        let model =
            ScriptedModel::queue(
                [ScriptedReply::new(cut).with_finish_reason(FinishReason::Length)],
            );
        let env = CodeEnvironment::new("math");
        let attempt = write_skill(&model, &env, &Task::from_user("add"), &[], None)
            .await
            .unwrap();
        assert!(
            matches!(attempt.result, Err(ExtractError::Truncated { .. })),
            "{:?}",
            attempt.result
        );
        assert_eq!(attempt.exchange.finish_reason, FinishReason::Length);
    }
}
