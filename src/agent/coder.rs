//! The coder: asks the model for a skill that does the task, showing the retrieved library
//! skills to call by name, and on later rounds what went wrong with the previous attempt.

use serde::{Deserialize, Serialize};

use crate::llm::{ChatRequest, FinishReason, LanguageModel, Message, Role};
use crate::skill::TestCase;

use super::budget::{first_fitting, prompt_budget, truncate};
use super::environment::Environment;
use super::extract::{ExtractError, Extracted, extract_with_check};
use super::prompts::{copied_worked_example, render, worked_example};
use super::task::Task;
use super::{AgentError, Exchange, Purpose};

/// Upper bound on the coder's reply: a skill with its JSDoc fits well within it.
const MAX_TOKENS: u32 = 768;
/// How far the previous reply and its problems are cut, in bytes, when the prompt must shrink.
const FEEDBACK_CUTS: [usize; 2] = [2000, 500];

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
/// its problems. A task that is a function stub ([`Task::stub`]) is asked for as a
/// completion instead: a short instruction naming the retrieved skills, then the stub as
/// it was given (listing them beat showing their code above the stub: docs/benchmarks.md). A small code model answers a stub the way it was trained to; the skill
/// format and worked example of the general prompt cost it more than half its right
/// answers (docs/benchmarks.md). Its comment becomes the skill's, its examples the tests.
pub fn coder_messages(
    env: &dyn Environment,
    task: &Task,
    retrieved: &[SkillBrief],
    feedback: Option<&Feedback>,
) -> Result<Vec<Message>, AgentError> {
    // An environment whose skills act is described; a pure-function one needs no words.
    let acts = env.acts();
    let library: Vec<&str> = retrieved.iter().map(|brief| brief.name.as_str()).collect();
    // Described only where shown: a stub in a pure-function environment needs no words.
    let described = || env.describe_for(&library);
    let mut messages = match task.stub() {
        Some(stub) => vec![
            Message::system(render(
                "coder_complete.md",
                &serde_json::json!({
                    "skills": retrieved,
                    "environment": acts.then(described),
                    "write_examples": if task.tests.is_empty() { task.name.as_deref() } else { None },
                    "bare": comment_is_kept(env, task),
                }),
            )?),
            Message::user(stub.text.to_string()),
        ],
        None => general_messages(&described(), task, retrieved, acts)?,
    };
    if let Some(feedback) = feedback {
        messages.push(Message::assistant(feedback.previous_reply.clone()));
        messages.push(Message::user(render(
            "refine.md",
            &serde_json::json!({
                "problems": feedback.problems,
                "stub": task.stub().is_some(),
                "bare": comment_is_kept(env, task),
            }),
        )?));
    }
    Ok(messages)
}

/// Whether the coder is asked for `task`'s function without its comment: in an environment
/// whose skills act, a stub with a comment and a check keeps the stub's comment
/// ([`skill_from_reply`]), which is mostly the observation (most of a small model's reply to
/// a TextCraft task was the task's crafting commands, copied back), so repeating it would
/// only cost tokens. A pure function's comment is its specification, and a small model
/// that writes it out before the body does better: on the dev suite the 0.5B model alone
/// passed 34 of 76 asked for the body, 44 asked for the whole function
/// (docs/benchmarks.md). A stub without a check is answered with the comment, where its
/// `@example` lines go.
fn comment_is_kept(env: &dyn Environment, task: &Task) -> bool {
    env.acts() && task.stub().is_some_and(|stub| stub.doc.is_some()) && !task.tests.is_empty()
}

/// The general coder prompt's system and user messages (see [`coder_messages`]), the
/// environment `described`.
fn general_messages(
    described: &str,
    task: &Task,
    retrieved: &[SkillBrief],
    acts: bool,
) -> Result<Vec<Message>, AgentError> {
    let system = render(
        "coder_system.md",
        &serde_json::json!({
            "environment": described,
            "worked_example": worked_example(task, acts),
        }),
    )?;
    let checks: Vec<String> = task.tests.iter().map(TestCase::written).collect();
    let user = render(
        "coder_user.md",
        &serde_json::json!({
            "task": task.description,
            "name": task.name,
            "checks": checks,
            "skills": retrieved,
        }),
    )?;
    Ok(vec![Message::system(system), Message::user(user)])
}

/// The coder's prompt cut to fit the model's context with room for the reply (tokens counted
/// by the model). What goes first: the code of the retrieved skills (their signatures and
/// descriptions stay), then the retrieved skills themselves, the least relevant first, then the
/// length of the previous reply and its problems; the task is never cut. A `note` (such as a
/// fresh start's) ends the last message of every candidate, so it is counted too.
pub async fn fitted_coder_messages(
    model: &dyn LanguageModel,
    env: &dyn Environment,
    task: &Task,
    retrieved: &[SkillBrief],
    feedback: Option<&Feedback>,
    note: Option<&str>,
) -> Result<Vec<Message>, AgentError> {
    let budget = prompt_budget(model, Purpose::Coder, MAX_TOKENS, 0)?;
    let signatures: Vec<SkillBrief> = retrieved
        .iter()
        .map(|brief| SkillBrief {
            code: String::new(),
            ..brief.clone()
        })
        .collect();
    let fewer = (0..signatures.len()).rev().map(|kept| &signatures[..kept]);
    let skill_cuts = [retrieved, &signatures[..]]
        .into_iter()
        .chain(fewer)
        .map(|skills| coder_messages(env, task, skills, feedback));
    let feedback_cuts = feedback.into_iter().flat_map(|feedback| {
        FEEDBACK_CUTS.map(|max_bytes| {
            let cut = Feedback {
                previous_reply: truncate(&feedback.previous_reply, max_bytes),
                problems: truncate(&feedback.problems, max_bytes),
            };
            coder_messages(env, task, &[], Some(&cut))
        })
    });
    let with_note = |candidate: Result<Vec<Message>, AgentError>| {
        let mut messages = candidate?;
        if let (Some(note), Some(last)) = (note, messages.last_mut()) {
            last.content = format!("{}\n\n{}", last.content.trim_end(), note.trim());
        }
        Ok(messages)
    };
    // Rendered one at a time: usually the first fits.
    first_fitting(
        model,
        Purpose::Coder,
        budget,
        skill_cuts.chain(feedback_cuts).map(with_note),
    )
    .await
}

/// Asks `model` for a skill and extracts it, with the prompt fitted to the model's context
/// ([`fitted_coder_messages`]). A reply cut off by the token limit that does not yield a skill
/// is reported as [`ExtractError::Truncated`].
pub async fn write_skill(
    model: &dyn LanguageModel,
    env: &dyn Environment,
    task: &Task,
    retrieved: &[SkillBrief],
    feedback: Option<&Feedback>,
) -> Result<Attempt, AgentError> {
    let strategy = match feedback {
        Some(_) => Strategy::Refine,
        None => Strategy::First,
    };
    write_skill_with(model, env, task, retrieved, feedback, strategy).await
}

// ---- Refinement strategies (issue 12, item 4) ----

/// How a coder round asks for its skill; journalled with the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The first attempt: the task alone, at a low temperature.
    First,
    /// A refinement: the previous reply and its problems, at a higher temperature.
    Refine,
    /// A refinement without the previous code ([`Refinement::Rewrite`]): the task again
    /// with what went wrong, at a higher temperature.
    Rewrite,
    /// Another sample, not a repair ([`Refinement::Resample`]): the first round's request
    /// again, word for word, at a higher temperature.
    Resample,
    /// The previous reply repeated an earlier round's code unchanged: the task again without
    /// any earlier code, a request for a different implementation, the highest temperature.
    FreshStart {
        /// The earlier round whose code was repeated.
        repeated_round: u32,
    },
    /// An independent second opinion on a skill that passed a check of examples only
    /// (`cross_check.rs`): the task alone, no earlier code, a high temperature. Not a round
    /// of its own.
    CrossCheck,
    /// A second opinion asked again after a candidate repeated the skill's code (a model
    /// repeating itself is no independent evidence): a request for a different
    /// implementation, the highest temperature.
    CrossCheckAnew,
}

/// How a round after a failed one asks again (`AgentConfig::refinement`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refinement {
    /// Show the model its previous reply and what went wrong, and ask for a fix
    /// ([`Strategy::Refine`]).
    Revise,
    /// Ask for the task again with what went wrong but without the previous code
    /// ([`Strategy::Rewrite`]): a small model shown its code tends to return it unchanged.
    /// The default: on the dev suite it passed as many problems with the 0.5B model at
    /// about half the tokens per solved problem (docs/benchmarks.md).
    #[default]
    Rewrite,
    /// Ask for the task again exactly as the first round did, at a higher temperature
    /// ([`Strategy::Resample`]): what went wrong is not shown, and the check alone picks
    /// among the samples.
    Resample,
}

impl Refinement {
    /// Every way there is.
    pub const ALL: [Self; 3] = [Self::Revise, Self::Rewrite, Self::Resample];

    /// The name it is chosen by (`--refinement`).
    pub fn name(self) -> &'static str {
        match self {
            Refinement::Revise => "revise",
            Refinement::Rewrite => "rewrite",
            Refinement::Resample => "resample",
        }
    }

    /// The strategy of a round that follows a failed one.
    pub fn strategy(self) -> Strategy {
        match self {
            Refinement::Revise => Strategy::Refine,
            Refinement::Rewrite => Strategy::Rewrite,
            Refinement::Resample => Strategy::Resample,
        }
    }
}

named_choices!(Refinement, name, "refinement", String, String::from);

impl Strategy {
    /// Whether the call asked for a cross-check's candidate, which is not a round of its own.
    pub fn is_cross_check(self) -> bool {
        matches!(self, Strategy::CrossCheck | Strategy::CrossCheckAnew)
    }

    /// The sampling temperature of a round asked this way. A retry at the same low
    /// temperature tends to repeat the failed answer word for word.
    fn temperature(self) -> f32 {
        match self {
            Strategy::First => 0.2,
            Strategy::Refine => 0.7,
            Strategy::CrossCheck | Strategy::Rewrite | Strategy::Resample => 0.8,
            Strategy::FreshStart { .. } | Strategy::CrossCheckAnew => 1.0,
        }
    }
}

/// The coder's request asked the way `strategy` says, fitted to the model's context: a
/// [`Strategy::FreshStart`] or [`Strategy::CrossCheckAnew`] ignores `feedback`, and a
/// [`Strategy::Rewrite`] takes only its problems (the earlier code is not shown again).
pub async fn coder_request(
    model: &dyn LanguageModel,
    env: &dyn Environment,
    task: &Task,
    retrieved: &[SkillBrief],
    feedback: Option<&Feedback>,
    strategy: Strategy,
) -> Result<ChatRequest, AgentError> {
    let messages = match strategy {
        Strategy::FreshStart { repeated_round } => {
            let note = render(
                "fresh_start.md",
                &serde_json::json!({ "round": repeated_round }),
            )?;
            fitted_coder_messages(model, env, task, retrieved, None, Some(&note)).await?
        }
        Strategy::CrossCheckAnew => {
            let note = render("cross_check_anew.md", &serde_json::json!({}))?;
            fitted_coder_messages(model, env, task, retrieved, None, Some(&note)).await?
        }
        Strategy::Rewrite => {
            let problems = feedback.map_or("", |f| f.problems.as_str());
            let note = render(
                "rewrite.md",
                &serde_json::json!({
                    "problems": truncate(problems, FEEDBACK_CUTS[0]),
                    "stub": task.stub().is_some(),
                }),
            )?;
            fitted_coder_messages(model, env, task, retrieved, None, Some(&note)).await?
        }
        Strategy::Resample => {
            fitted_coder_messages(model, env, task, retrieved, None, None).await?
        }
        _ => fitted_coder_messages(model, env, task, retrieved, feedback, None).await?,
    };
    let request = ChatRequest::new(messages)
        .with_temperature(strategy.temperature())
        .with_max_tokens(MAX_TOKENS);
    Ok(match prefill(model, env, task) {
        Some(prefix) => {
            let mut request = request.with_stop(vec![CLOSING_FENCE.to_string()]);
            request.messages.push(Message::assistant(prefix));
            request
        }
        None => request,
    })
}

/// What ends a prefilled reply: the code block's closing fence (left out of the reply).
const CLOSING_FENCE: &str = "\n```";

/// The start of the reply written for the model when it continues a prefill and the stub's
/// comment is kept ([`comment_is_kept`]): the code block and the stub's declaration, so that
/// the model writes the body alone. A small model asked not to repeat the comment still
/// does (the 1.5B model: 500 tokens a TextCraft reply, four fifths of them the comment).
fn prefill(model: &dyn LanguageModel, env: &dyn Environment, task: &Task) -> Option<String> {
    let stub = task
        .stub()
        .filter(|_| model.continues_prefill() && comment_is_kept(env, task))?;
    Some(format!("```javascript\n{}\n", stub.declaration()))
}

/// The reply to a prefilled request as a whole code block: the prefix where an endpoint left
/// it out, and the closing fence the stop sequence cut.
fn completed_reply(reply: &str, prefix: &str, finish: &FinishReason) -> String {
    let mut whole = if reply.starts_with(prefix) {
        reply.to_string()
    } else {
        format!("{prefix}{reply}")
    };
    if *finish == FinishReason::Stop && !whole[prefix.len()..].contains("```") {
        whole.push_str(CLOSING_FENCE);
    }
    whole
}

/// [`write_skill`] asked the way `strategy` says (the request of [`coder_request`]).
pub async fn write_skill_with(
    model: &dyn LanguageModel,
    env: &dyn Environment,
    task: &Task,
    retrieved: &[SkillBrief],
    feedback: Option<&Feedback>,
    strategy: Strategy,
) -> Result<Attempt, AgentError> {
    let request = coder_request(model, env, task, retrieved, feedback, strategy).await?;
    // The prefill the request ends with, if any (`prefill`): the reply is completed from it.
    let prefix = request
        .messages
        .last()
        .filter(|last| last.role == Role::Assistant)
        .map(|last| last.content.clone());
    let mut exchange = Exchange::run(model, Purpose::Coder, request).await?;
    if let Some(prefix) = prefix {
        exchange.reply = completed_reply(&exchange.reply, &prefix, &exchange.finish_reason);
    }
    let library: Vec<&str> = retrieved.iter().map(|brief| brief.name.as_str()).collect();
    let result = skill_from_reply(&exchange.reply, task, &library).map_err(|error| {
        match (&exchange.finish_reason, error) {
            (FinishReason::Length, ExtractError::Syntax { .. } | ExtractError::NoTests { .. }) => {
                ExtractError::Truncated {
                    open: format!("the reply hit the limit of {MAX_TOKENS} tokens"),
                }
            }
            (_, error) => error,
        }
    });
    Ok(Attempt { exchange, result })
}

/// The skill a coder's `reply` holds for `task` (the same rules live and on resume): the
/// task's function ([`extract_with_check`], with the task's examples as tests when the reply
/// has none, and the stub's comment when its function has none; copies of the `library`
/// functions shown to the model dropped); a reply that reproduces the prompt's worked example
/// is refused, saying so.
pub fn skill_from_reply(
    reply: &str,
    task: &Task,
    library: &[&str],
) -> Result<Extracted, ExtractError> {
    let doc = task.stub().and_then(|stub| stub.doc);
    let extracted = extract_with_check(reply, task.name.as_deref(), &task.tests, doc, library)?;
    match copied_worked_example(&extracted.skill.code, task) {
        Some(name) => Err(ExtractError::CopiedExample {
            name,
            wanted: task.name.clone(),
        }),
        None => Ok(extracted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::CodeEnvironment;
    use crate::compose::Bundle;
    use crate::llm::{Role, ScriptedModel, ScriptedReply};
    use crate::sandbox::{HostFunction, HostFunctions, Sandbox, SandboxError};
    use crate::validate::TestReport;

    /// The code environment with one host function: an environment whose skills act.
    struct Acting(CodeEnvironment);

    impl Environment for Acting {
        fn name(&self) -> &str {
            "acting"
        }

        fn describe(&self) -> String {
            "A world with a lamp.".into()
        }

        fn host_functions(&self) -> HostFunctions {
            HostFunctions::empty().with(HostFunction::new("lamp", "Lights the lamp.", |_, _| {
                Ok(serde_json::Value::Null)
            }))
        }

        fn state(&self) -> serde_json::Value {
            self.0.state()
        }

        fn check(
            &self,
            sandbox: &Sandbox,
            bundle: &Bundle,
            task: &Task,
        ) -> Result<TestReport, SandboxError> {
            self.0.check(sandbox, bundle, task)
        }
    }

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
    async fn a_library_function_the_reply_repeats_is_dropped_and_called() {
        let stub = "/**\n * Count the words of a text.\n * >>> count_words('a b')\n * 2\n */\nfunction count_words(text) {\n";
        let task = Task::from_text(stub, Some("count_words")).unwrap();
        // Shown `words`, the model repeats it before its answer.
        let reply = "```javascript\n/**\n * Splits text into words.\n */\nfunction words(text) { return text.split(/\\s+/); }\n\n/**\n * Count the words of a text.\n * >>> count_words('a b')\n * 2\n */\nfunction count_words(text) {\n  return words(text).length;\n}\n```";
        let model = ScriptedModel::queue([reply]);
        let env = CodeEnvironment::new("text");
        let attempt = write_skill(&model, &env, &task, &[words()], None)
            .await
            .unwrap();
        let extracted = attempt.result.unwrap();
        let code = &extracted.skill.code;
        assert!(!code.contains("function words"), "{code}");
        assert!(
            !code.contains("Splits text"),
            "its comment goes too: {code}"
        );
        assert!(code.contains("return words(text).length"), "{code}");
        assert!(
            extracted
                .notes
                .iter()
                .any(|n| n.contains("copy of the library function words")),
            "{:?}",
            extracted.notes
        );
        // Without the library shown, the same reply keeps its helper.
        let kept = skill_from_reply(reply, &task, &[]).unwrap();
        assert!(kept.skill.code.contains("function words"));
    }

    #[tokio::test]
    async fn a_stub_is_asked_for_as_a_completion_and_keeps_its_comment_and_examples() {
        let stub =
            "/**\n * Add one to a number.\n * >>> add_one(1)\n * 2\n */\nfunction add_one(x) {\n";
        let task = Task::from_text(stub, Some("add_one")).unwrap();
        // The model answers with the bare function: no comment, no tests.
        let model =
            ScriptedModel::queue(["```javascript\nfunction add_one(x) {\n  return x + 1;\n}\n```"]);
        let env = CodeEnvironment::new("numbers");
        let attempt = write_skill(&model, &env, &task, &[words()], None)
            .await
            .unwrap();
        let skill = attempt.result.unwrap().skill;
        assert_eq!(
            skill.description.lines().next(),
            Some("Add one to a number.")
        );
        assert_eq!(skill.tests, task.tests, "{}", skill.code);
        let request = &model.requests()[0];
        let system = &request.messages[0].content;
        assert!(
            system.starts_with("Complete the JavaScript function"),
            "{system}"
        );
        assert!(
            system.contains("- words(text: string) -> string[]: Splits text into words."),
            "{system}"
        );
        assert!(
            !system.contains("@test"),
            "no skill format for a stub: {system}"
        );
        assert_eq!(request.messages[1].content, stub.trim_end());
        // Its refinement asks for the comment, not for tests.
        let feedback = Feedback {
            previous_reply: "function add_one(x) { return x; }".into(),
            problems: "add_one(1): expected 2, got 1".into(),
        };
        let messages = coder_messages(&env, &task, &[], Some(&feedback)).unwrap();
        let refine = &messages.last().unwrap().content;
        assert!(refine.contains("its comment included"), "{refine}");
        // A pure function's comment is its specification: asked back whole (the 0.5B model
        // does better writing it out before the body).
        assert!(
            system.contains("Answer with the whole function, its comment included"),
            "{system}"
        );
        // In an environment whose skills act, the comment (mostly the observation) stays
        // as written and the function alone is asked for.
        let acting = Acting(CodeEnvironment::new("numbers"));
        let messages = coder_messages(&acting, &task, &[], Some(&feedback)).unwrap();
        assert!(
            messages[0]
                .content
                .contains("its comment stays as written above, so do not repeat it"),
            "{}",
            messages[0].content
        );
        let refine = &messages.last().unwrap().content;
        assert!(
            refine.contains("(its comment stays as written)"),
            "{refine}"
        );
    }

    /// In an environment whose skills act, a model that continues a prefill is given the code
    /// block and the stub's declaration, and writes the body alone; the reply is completed to
    /// the whole block, and the skill keeps the stub's comment. A model that does not continue
    /// one is asked as before, and so is any model for a pure function.
    #[tokio::test]
    async fn a_model_that_continues_a_prefill_writes_the_body_alone() {
        let stub =
            "/**\n * Add one to a number.\n * >>> add_one(1)\n * 2\n */\nfunction add_one(x) {\n";
        let task = Task::from_text(stub, Some("add_one")).unwrap();
        let env = Acting(CodeEnvironment::new("numbers"));
        let model = ScriptedModel::queue(["  return x + 1;\n}"]).continuing_prefill();
        let attempt = write_skill(&model, &env, &task, &[], None).await.unwrap();
        let request = &model.requests()[0];
        let last = request.messages.last().unwrap();
        assert_eq!(last.role, crate::llm::Role::Assistant);
        assert_eq!(last.content, "```javascript\nfunction add_one(x) {\n");
        assert_eq!(request.stop, vec!["\n```".to_string()]);
        assert_eq!(
            attempt.exchange.reply,
            "```javascript\nfunction add_one(x) {\n  return x + 1;\n}\n```"
        );
        let skill = attempt.result.unwrap().skill;
        assert_eq!(
            skill.description.lines().next(),
            Some("Add one to a number.")
        );
        assert_eq!(skill.tests, task.tests);
        // A reply cut by the token limit keeps its open block, so it reads as cut off.
        assert_eq!(
            completed_reply(
                "```javascript\nf() {",
                "```javascript\n",
                &FinishReason::Length
            ),
            "```javascript\nf() {"
        );
        // An endpoint that returns only the continuation gets the prefix put back.
        assert_eq!(
            completed_reply("}", "```javascript\nf() {\n", &FinishReason::Stop),
            "```javascript\nf() {\n}\n```"
        );

        let plain =
            ScriptedModel::queue(["```javascript\nfunction add_one(x) {\n  return x + 1;\n}\n```"]);
        write_skill(&plain, &env, &task, &[], None).await.unwrap();
        let request = &plain.requests()[0];
        assert_eq!(
            request.messages.last().unwrap().role,
            crate::llm::Role::User
        );
        assert!(request.stop.is_empty());
        // A stub without a check is answered with its comment (its examples go there).
        let unchecked = Task::from_text(
            "/**\n * Add one.\n */\nfunction add_one(x) {\n",
            Some("add_one"),
        )
        .unwrap();
        let model = ScriptedModel::queue(["```javascript\n/**\n * Add one.\n * @example add_one(1) => 2\n */\nfunction add_one(x) {\n  return x + 1;\n}\n```"]).continuing_prefill();
        write_skill(&model, &env, &unchecked, &[], None)
            .await
            .unwrap();
        assert_eq!(
            model.requests()[0].messages.last().unwrap().role,
            crate::llm::Role::User
        );
        // A pure function's stub is asked for whole, with no prefill, even of such a model.
        let code = CodeEnvironment::new("numbers");
        let model = ScriptedModel::queue(["```javascript\n/**\n * Add one to a number.\n */\nfunction add_one(x) {\n  return x + 1;\n}\n```"]).continuing_prefill();
        write_skill(&model, &code, &task, &[], None).await.unwrap();
        assert_eq!(
            model.requests()[0].messages.last().unwrap().role,
            crate::llm::Role::User
        );
    }

    /// A stub whose comment shows no example gives the task no check: the completion asks
    /// for `@example` lines, the skill's only tests (the dev suite's `reverse_delete` failed
    /// every round as "no tests"); a stub with examples is not asked for more.
    #[tokio::test]
    async fn a_stub_without_examples_is_asked_for_example_lines_that_become_its_tests() {
        let stub = "/**\n * Add one to a number.\n */\nfunction add_one(x) {\n";
        let task = Task::from_text(stub, Some("add_one")).unwrap();
        assert!(task.tests.is_empty());
        let model = ScriptedModel::queue([
            "```javascript\n/**\n * Add one to a number.\n * @example add_one(1) => 2\n */\nfunction add_one(x) {\n  return x + 1;\n}\n```",
        ]);
        let env = CodeEnvironment::new("numbers");
        let attempt = write_skill(&model, &env, &task, &[], None).await.unwrap();
        let system = &model.requests()[0].messages[0].content;
        assert!(
            system.contains("`@example add_one(ARGUMENTS) => RESULT`")
                && system.contains("Answer with the whole function, its comment included"),
            "{system}"
        );
        assert_eq!(attempt.result.unwrap().skill.tests.len(), 1);
        let with_examples = Task::from_text(
            "/**\n * Add one.\n * >>> add_one(1)\n * 2\n */\nfunction add_one(x) {\n",
            Some("add_one"),
        )
        .unwrap();
        let messages = coder_messages(&env, &with_examples, &[], None).unwrap();
        assert!(
            !messages[0].content.contains("@example"),
            "{}",
            messages[0].content
        );
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

    #[tokio::test]
    async fn the_prompt_is_cut_to_the_context_code_first_then_skills_then_feedback() {
        let env = CodeEnvironment::new("lists");
        let task = Task::from_user("Title-case words and join them with dashes")
            .with_name("dashTitle")
            .with_example("dashTitle('x y')", "\"X-Y\"");
        let big = |i: usize| SkillBrief {
            name: format!("helper{i}"),
            signature: format!("helper{i}(xs: number[]) -> number[]"),
            description: format!("Helper number {i}."),
            code: format!(
                "function helper{i}(xs) {{\n{}}}",
                "  xs = xs.map(x => x + 1);\n".repeat(60)
            ),
        };
        let retrieved: Vec<SkillBrief> = (0..3).map(big).collect();
        let feedback = Feedback {
            previous_reply: "function dashTitle(s) { return s }".into(),
            problems: "1 of 2 tests failed\n- dashTitle('x y') failed: expected 'X-Y'".into(),
        };

        // Room for the signatures but not the code: every skill stays, no code is shown.
        let model = ScriptedModel::queue([REPLY]).with_context_tokens(2000);
        write_skill(&model, &env, &task, &retrieved, Some(&feedback))
            .await
            .unwrap();
        let request = &model.requests()[0];
        let tokens = model.count_tokens(&request.messages).await.unwrap();
        assert!(tokens + MAX_TOKENS <= 2000, "{tokens}");
        let user = &request.messages[1].content;
        for i in 0..3 {
            assert!(
                user.contains(&format!("- helper{i}(xs: number[]) -> number[]")),
                "{user}"
            );
        }
        assert!(!user.contains("xs.map"), "{user}");
        assert!(request.messages[3].content.contains("1 of 2 tests failed"));

        // Huge problems (a long stack trace): the skills go, then the problems are cut.
        let flood = Feedback {
            previous_reply: feedback.previous_reply.clone(),
            problems: "TypeError: x is undefined\n    at helper (skill.js:1:1)\n".repeat(400),
        };
        let model = ScriptedModel::queue([REPLY]).with_context_tokens(2000);
        write_skill(&model, &env, &task, &retrieved, Some(&flood))
            .await
            .unwrap();
        let request = &model.requests()[0];
        let tokens = model.count_tokens(&request.messages).await.unwrap();
        assert!(tokens + MAX_TOKENS <= 2000, "{tokens}");
        assert!(
            request.messages[1]
                .content
                .contains("Task: Title-case words")
        );
        assert!(!request.messages[1].content.contains("helper0"));
        let problems = &request.messages[3].content;
        assert!(
            problems.contains("TypeError") && problems.contains("[...]"),
            "{problems}"
        );

        // Everything fits a large context untouched.
        let model = ScriptedModel::queue([REPLY]).with_context_tokens(32_768);
        write_skill(&model, &env, &task, &retrieved, Some(&flood))
            .await
            .unwrap();
        let request = &model.requests()[0];
        assert_eq!(
            request.messages,
            coder_messages(&env, &task, &retrieved, Some(&flood)).unwrap()
        );
    }
}
