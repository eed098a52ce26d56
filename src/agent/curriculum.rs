//! The curriculum: asks the model for the next task, given what is done, what failed and
//! what the library holds (weak and untested skills are pointed out, to be exercised).
//!
//! The prompt fits the model's context however large the library and the history grow: it
//! shows the weak and untested skills first and the most recent tasks first, as many of each as
//! fit (tokens counted by the model), with the totals; the checks on a proposal still use the
//! whole state.

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::llm::{ChatRequest, LanguageModel, Message};

use super::budget::{first_fitting, largest_fitting, prompt_budget, truncate};
use super::environment::Environment;
use super::json::{find_object, preview};
use super::prompts::render;
use super::task::{Task, normalise};
use super::{AgentError, Exchange, Purpose};

/// Model calls [`propose`] makes before giving up.
pub const MAX_PROPOSAL_ATTEMPTS: u32 = 3;

/// Entries of each list (skills, tasks done, tasks failed) the prompt shows at most; fewer when
/// the model's context cannot hold them.
const MAX_SHOWN: usize = 40;
/// Longest skill or task description shown, in bytes.
const MAX_DESCRIPTION_BYTES: usize = 160;
/// Upper bound on a proposal's reply.
const REPLY_TOKENS: u32 = 256;
/// Room kept for a retry: the rejected reply (cut to [`MAX_REJECTED_BYTES`] when needed) and
/// the note on what was wrong (at most [`MAX_PROBLEM_BYTES`] of it quoted).
const RETRY_TOKENS: u32 = REPLY_TOKENS + 160;
/// Longest rejected reply repeated to the model when the whole one does not fit.
const MAX_REJECTED_BYTES: usize = 500;
/// Longest problem quoted back to the model.
const MAX_PROBLEM_BYTES: usize = 200;

/// A success rate below this marks a skill as weak.
const WEAK_SUCCESS_RATE: f64 = 0.8;

/// A library skill as the curriculum sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibraryEntry {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Fraction of recorded calls that succeeded; `None` when it was never called.
    pub success_rate: Option<f64>,
}

/// What the curriculum knows of the agent's progress.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CurriculumState {
    /// Descriptions of tasks solved, the most recent first.
    pub completed: Vec<String>,
    /// Descriptions of tasks that failed, the most recent first.
    pub failed: Vec<String>,
    /// The library's skills.
    pub library: Vec<LibraryEntry>,
}

/// A proposed task and the model calls it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    /// The task.
    pub task: Task,
    /// Every call made, the rejected ones included, for the journal.
    pub exchanges: Vec<Exchange>,
}

/// Asks `model` for the next task. A reply without a usable JSON task, or repeating a
/// completed task, is answered with what was wrong, up to [`MAX_PROPOSAL_ATTEMPTS`] calls.
pub async fn propose(
    model: &dyn LanguageModel,
    env: &dyn Environment,
    state: &CurriculumState,
) -> Result<Proposal, AgentError> {
    let purpose = Purpose::Curriculum;
    let budget = prompt_budget(model, purpose, REPLY_TOKENS, RETRY_TOKENS)?;
    let library = library_order(state);
    let (_, prompt) = largest_fitting(model, purpose, budget, MAX_SHOWN, |shown| {
        Ok(vec![Message::user(curriculum_prompt(
            env, state, &library, shown,
        )?)])
    })
    .await?;
    let mut exchanges = Vec::new();
    let mut last = String::new();
    // Each rejected reply and the note on it, in order.
    let mut turns: Vec<[Message; 2]> = Vec::new();
    for _ in 0..MAX_PROPOSAL_ATTEMPTS {
        let messages = match turns.last() {
            None => prompt.clone(),
            Some([reply, note]) => {
                // Every turn if they fit, else the last one, else that with the reply cut.
                let with = |turns: &[[Message; 2]]| {
                    let mut messages = prompt.clone();
                    messages.extend(turns.iter().flatten().cloned());
                    Ok(messages)
                };
                let cut = Message::assistant(truncate(&reply.content, MAX_REJECTED_BYTES));
                let candidates = [
                    with(&turns),
                    with(&turns[turns.len() - 1..]),
                    with(&[[cut, note.clone()]]),
                ];
                first_fitting(model, purpose, budget + RETRY_TOKENS, candidates).await?
            }
        };
        let request = ChatRequest::new(messages)
            .with_temperature(0.7)
            // A proposal is under 100 tokens; a reply running past this is stuck (the 0.5B
            // model can loop inside a JSON string) and is cut short rather than waited for.
            .with_max_tokens(REPLY_TOKENS)
            .with_json_schema("task_proposal", proposal_schema());
        let exchange = Exchange::run(model, Purpose::Curriculum, request).await?;
        let reply = exchange.reply.clone();
        exchanges.push(exchange);
        match parse_proposal(&reply, state) {
            Ok(task) => return Ok(Proposal { task, exchanges }),
            Err(problem) => {
                turns.push([
                    Message::assistant(reply),
                    Message::user(format!(
                        "That is not usable: {}. Answer with only the JSON object.",
                        truncate(&problem, MAX_PROBLEM_BYTES)
                    )),
                ]);
                last = problem;
            }
        }
    }
    Err(AgentError::NoTask {
        attempts: MAX_PROPOSAL_ATTEMPTS,
        last,
        exchanges,
    })
}

/// The library, weak and untested skills first, so they survive the cut; shuffled within a
/// rank, since small models tend to propose whatever the list starts with.
fn library_order(state: &CurriculumState) -> Vec<&LibraryEntry> {
    let mut library: Vec<&LibraryEntry> = state.library.iter().collect();
    library.shuffle(&mut rand::rng());
    library.sort_by(|a, b| {
        let rank = |e: &LibraryEntry| e.success_rate.unwrap_or(-1.0);
        rank(a).total_cmp(&rank(b))
    });
    library
}

/// The prompt showing `shown` entries of each list at most: the first skills of `library`, the
/// most recent tasks done and failed; the totals say how much more there is.
fn curriculum_prompt(
    env: &dyn Environment,
    state: &CurriculumState,
    library: &[&LibraryEntry],
    shown: usize,
) -> Result<String, AgentError> {
    let library = &library[..shown.min(library.len())];
    let weak: Vec<&str> = library
        .iter()
        .filter(|e| e.success_rate.is_none_or(|r| r < WEAK_SUCCESS_RATE))
        .map(|e| e.name.as_str())
        .collect();
    let shown_library: Vec<serde_json::Value> = library
        .iter()
        .map(|e| {
            let record = match e.success_rate {
                Some(rate) => format!("{:.0}% of calls succeed", rate * 100.0),
                None => "untested".to_string(),
            };
            serde_json::json!({
                "name": e.name,
                "description": truncate(&e.description, MAX_DESCRIPTION_BYTES),
                "record": record,
            })
        })
        .collect();
    let recent = |tasks: &[String]| -> Vec<String> {
        tasks
            .iter()
            .take(shown)
            .map(|t| truncate(t, MAX_DESCRIPTION_BYTES))
            .collect()
    };
    render(
        "curriculum.md",
        &serde_json::json!({
            "environment": env.describe(),
            "library": shown_library,
            "library_total": state.library.len(),
            "completed": recent(&state.completed),
            "completed_total": state.completed.len(),
            "failed": recent(&state.failed),
            "failed_total": state.failed.len(),
            "weak": weak,
        }),
    )
}

/// Longest task sentence the schema allows, in characters: a small model looping inside the
/// string must close it.
const MAX_TASK_CHARS: u32 = 300;
/// Longest example call the schema allows, in characters.
const MAX_CALL_CHARS: u32 = 200;

/// The JSON schema of a proposal as the prompt asks for it: `{"task": sentence, "name":
/// identifier, "examples": [[call, expected], ...]}` with 2 to 4 examples. It is sent with the
/// request so that a server that supports it (llama.cpp's does) can only answer in that shape;
/// the reply is still parsed leniently ([`Task::from_proposal`]): an endpoint may ignore it.
pub(crate) fn proposal_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "task": {"type": "string", "minLength": 1, "maxLength": MAX_TASK_CHARS},
            "name": {"type": "string", "pattern": "^[A-Za-z_$][A-Za-z0-9_$]*$"},
            "examples": {
                "type": "array",
                "minItems": 2,
                "maxItems": 4,
                "items": {
                    "type": "array",
                    // The call (a name, then parentheses: without the pattern the 0.5B
                    // model often writes the expected result inside the call's string), then
                    // its expected result, any JSON value.
                    "prefixItems": [
                        {"type": "string", "pattern": "^[A-Za-z_$][A-Za-z0-9_$]*\\(.*\\)$", "maxLength": MAX_CALL_CHARS},
                        {}
                    ],
                    "minItems": 2,
                    "maxItems": 2
                }
            }
        },
        "required": ["task", "name", "examples"],
        "additionalProperties": false
    })
}

/// The task in `reply`, or what is wrong with it, in words for the model.
fn parse_proposal(reply: &str, state: &CurriculumState) -> Result<Task, String> {
    let object = find_object(reply).ok_or_else(|| {
        format!(
            "the reply holds no JSON object (it starts {})",
            preview(reply)
        )
    })?;
    let task = Task::from_proposal(&object).map_err(|e| e.to_string())?;
    if state
        .completed
        .iter()
        .any(|done| normalise(done) == task.key())
    {
        return Err(format!(
            "\"{}\" is already done; propose a different task",
            task.description
        ));
    }
    if let Some(name) = &task.name
        && state.library.iter().any(|e| &e.name == name)
    {
        return Err(format!(
            "a function named {name} is already in the library; propose a new function (it may call {name})"
        ));
    }
    let failures = state
        .failed
        .iter()
        .filter(|failed| normalise(failed) == task.key())
        .count();
    if failures >= MAX_TASK_FAILURES {
        return Err(format!(
            "\"{}\" failed {failures} times already; propose an easier task, or a step towards it",
            task.description
        ));
    }
    Ok(task)
}

/// Failed episodes of one task after which the curriculum may not propose it again.
const MAX_TASK_FAILURES: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::CodeEnvironment;
    use crate::llm::{ResponseFormat, ScriptedModel};

    fn state() -> CurriculumState {
        CurriculumState {
            completed: vec!["Reverse a string.".into()],
            failed: vec!["Parse a cron expression".into()],
            library: vec![
                LibraryEntry {
                    name: "words".into(),
                    description: "Splits text into words.".into(),
                    success_rate: Some(1.0),
                },
                LibraryEntry {
                    name: "slugify".into(),
                    description: "Turns text into a URL slug.".into(),
                    success_rate: Some(0.5),
                },
                LibraryEntry {
                    name: "chunk".into(),
                    description: "Splits an array into chunks.".into(),
                    success_rate: None,
                },
            ],
        }
    }

    #[tokio::test]
    async fn proposes_a_task_from_a_chatty_reply() {
        let reply = "Sure! Here's a good next task:\n```json\n{\n  \"task\": \"Count the words in a text.\",\n  \"name\": \"countWords\",\n  \"examples\": [[\"countWords('a b')\", 2], [\"countWords('')\", 0]]\n}\n```\nThis reuses `words`.";
        let model = ScriptedModel::queue([reply]);
        let env = CodeEnvironment::new("string and collection utilities");
        let proposal = propose(&model, &env, &state()).await.unwrap();
        assert_eq!(proposal.task.description, "Count the words in a text.");
        assert_eq!(proposal.task.name.as_deref(), Some("countWords"));
        assert_eq!(proposal.task.tests.len(), 2);
        assert_eq!(proposal.exchanges.len(), 1);
        assert_eq!(proposal.exchanges[0].purpose, Purpose::Curriculum);

        let prompt = &model.requests()[0].messages[0].content;
        for needle in [
            "string and collection utilities",
            "- chunk: Splits an array into chunks. (untested)",
            "- slugify: Turns text into a URL slug. (50% of calls succeed)",
            "- words: Splits text into words. (100% of calls succeed)",
            "- Reverse a string.",
            "- Parse a cron expression",
            "weak or untested ones: chunk, slugify",
        ] {
            assert!(
                prompt.contains(needle),
                "{needle:?} missing from:\n{prompt}"
            );
        }
        // Untested and weak skills are listed first.
        assert!(prompt.find("- chunk").unwrap() < prompt.find("- words").unwrap());

        // The proposal's schema goes with the request: the shape the prompt asks for.
        let Some(ResponseFormat::JsonSchema { json_schema }) = &model.requests()[0].response_format
        else {
            panic!(
                "no JSON schema sent: {:?}",
                model.requests()[0].response_format
            );
        };
        assert_eq!(json_schema.name, "task_proposal");
        let schema = &json_schema.schema;
        assert_eq!(
            schema["required"],
            serde_json::json!(["task", "name", "examples"])
        );
        assert_eq!(schema["additionalProperties"], false);
        let examples = &schema["properties"]["examples"];
        assert_eq!(
            (&examples["minItems"], &examples["maxItems"]),
            (&2.into(), &4.into())
        );
        // A call is a name and parentheses: the 0.5B model otherwise writes the expected
        // result inside the call's string.
        assert_eq!(
            examples["items"]["prefixItems"][0]["pattern"],
            "^[A-Za-z_$][A-Za-z0-9_$]*\\(.*\\)$"
        );
        // The expected value may be any JSON (`{}`: llama.cpp refuses `true` there).
        assert_eq!(examples["items"]["prefixItems"][1], serde_json::json!({}));
    }

    #[tokio::test]
    async fn a_function_the_library_has_is_not_proposed_again() {
        let model = ScriptedModel::queue([
            "{\"task\": \"Split text into words\", \"name\": \"words\", \"examples\": [[\"words('a b')\", [\"a\", \"b\"]]]}",
            "{\"task\": \"Count the words of a text\", \"name\": \"wordCount\", \"examples\": [[\"wordCount('a b')\", 2]]}",
        ]);
        let env = CodeEnvironment::new("strings");
        let proposal = propose(&model, &env, &state()).await.unwrap();
        assert_eq!(proposal.task.name.as_deref(), Some("wordCount"));
        let retry = &model.requests()[1].messages[2].content;
        assert!(retry.contains("already in the library"), "{retry}");
    }

    #[tokio::test]
    async fn a_task_that_failed_twice_is_not_proposed_again() {
        let mut state = state();
        let proposal = "{\"task\": \"Parse a cron expression\", \"name\": \"parseCron\", \"examples\": [[\"parseCron('* * * * *')\", 5]]}";
        let env = CodeEnvironment::new("math");
        // One failure: trying again is allowed.
        let model = ScriptedModel::queue([proposal]);
        assert!(propose(&model, &env, &state).await.is_ok());
        state.failed.push("parse a cron expression.".into());
        let model = ScriptedModel::queue([proposal, proposal, proposal]);
        let error = propose(&model, &env, &state).await.unwrap_err();
        assert!(error.to_string().contains("failed 2 times"), "{error}");
    }

    #[tokio::test]
    async fn retries_garbage_and_repeats_then_gives_up_with_the_exchanges() {
        let model = ScriptedModel::queue([
            "I think the agent should learn sorting!",
            "{\"task\": \"reverse a string\", \"name\": \"reverse\"}",
            "{\"task\": \"Sum the digits of an integer\", \"name\": \"digitSum\", \"examples\": [[\"digitSum(123)\", 6]]}",
        ]);
        let env = CodeEnvironment::new("math");
        let proposal = propose(&model, &env, &state()).await.unwrap();
        assert_eq!(proposal.task.name.as_deref(), Some("digitSum"));
        assert_eq!(proposal.exchanges.len(), 3);
        let last = &model.requests()[2].messages;
        assert_eq!(last.len(), 5);
        assert!(
            last[2].content.contains("holds no JSON object"),
            "{}",
            last[2].content
        );
        assert!(
            last[4].content.contains("is already done"),
            "{}",
            last[4].content
        );

        let model = ScriptedModel::queue(["nope", "{\"name\": \"x\"}", "{}"]);
        let error = propose(&model, &env, &CurriculumState::default())
            .await
            .unwrap_err();
        match &error {
            AgentError::NoTask {
                attempts,
                last,
                exchanges,
            } => {
                assert_eq!((*attempts, exchanges.len()), (3, 3));
                assert!(last.contains("no description"), "{last}");
            }
            other => panic!("unexpected {other}"),
        }
        assert!(error.to_string().contains("give the task yourself"));
    }

    /// A library of 10,000 skills (100 of them weak) and a history of 1,000 tasks done and 300
    /// failed: the prompt still fits a 4,096-token context with room for the reply and a retry.
    fn huge_state() -> CurriculumState {
        CurriculumState {
            completed: (0..1_000)
                .map(|i| format!("Done task number {i}: transform a list of records in some way."))
                .collect(),
            failed: (0..300)
                .map(|i| format!("Failed task number {i}: parse a tricky text format."))
                .collect(),
            library: (0..10_000)
                .map(|i| LibraryEntry {
                    name: format!("skill{i}"),
                    description: format!(
                        "Skill number {i}: turns a list of numbers into another list. {}",
                        "It has a long description. ".repeat(20)
                    ),
                    success_rate: Some(if i % 100 == 7 { 0.5 } else { 1.0 }),
                })
                .collect(),
        }
    }

    #[tokio::test]
    async fn a_huge_library_and_history_fit_the_context_weak_and_recent_first() {
        let env = CodeEnvironment::new("lists");
        let long_garbage = "I would like to propose many tasks. ".repeat(100);
        let good = "{\"task\": \"Sum a list twice\", \"name\": \"sumTwice\", \"examples\": [[\"sumTwice([1])\", 2]]}";
        let model = ScriptedModel::queue([long_garbage.as_str(), good]).with_context_tokens(4096);
        let proposal = propose(&model, &env, &huge_state()).await.unwrap();
        assert_eq!(proposal.task.name.as_deref(), Some("sumTwice"));

        let requests = model.requests();
        assert_eq!(requests.len(), 2);
        for request in &requests {
            let tokens = model.count_tokens(&request.messages).await.unwrap();
            assert!(tokens + REPLY_TOKENS <= 4096, "{tokens} prompt tokens");
        }
        let first = model.count_tokens(&requests[0].messages).await.unwrap();
        assert!(first + REPLY_TOKENS + RETRY_TOKENS <= 4096, "{first}");
        // The prompt is not cut to nothing: it uses most of what it may.
        assert!(first > 4096 - REPLY_TOKENS - RETRY_TOKENS - 200, "{first}");

        let prompt = &requests[0].messages[0].content;
        let shown_skills = prompt.matches("\n- skill").count();
        assert!(shown_skills >= 5, "{prompt}");
        assert!(prompt.contains(&format!(
            "({shown_skills} of 10000, weak and untested first)"
        )));
        // Weak skills (ids ending in 07) come first, so every skill shown is a weak one.
        assert_eq!(
            prompt.matches("% of calls succeed)").count(),
            prompt.matches("(50% of calls succeed)").count(),
            "{prompt}"
        );
        assert!(prompt.contains("1000 tasks, the latest"), "{prompt}");
        assert!(prompt.contains("300 tasks, the latest"), "{prompt}");
        // The most recent task is shown (lists are newest first), the oldest is not.
        assert!(prompt.contains("Done task number 0:"), "{prompt}");
        assert!(!prompt.contains("Done task number 999:"), "{prompt}");
        // Descriptions are cut short.
        assert!(prompt.contains("[...]"), "{prompt}");

        // The retry repeats the rejected reply cut short, and the note on it.
        let retry = &requests[1].messages;
        assert_eq!(retry.len(), 3);
        assert!(
            retry[1].content.len() < long_garbage.len(),
            "{}",
            retry[1].content
        );
        assert!(retry[2].content.contains("holds no JSON object"));
    }

    #[tokio::test]
    async fn a_context_too_small_for_any_prompt_is_a_clear_error() {
        let env = CodeEnvironment::new("lists");
        let model = ScriptedModel::queue(Vec::<&str>::new()).with_context_tokens(1000);
        let error = propose(&model, &env, &huge_state()).await.unwrap_err();
        assert!(
            matches!(
                error,
                AgentError::PromptTooLong {
                    purpose: Purpose::Curriculum,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("larger context"), "{error}");
        assert!(model.requests().is_empty());
    }
}
