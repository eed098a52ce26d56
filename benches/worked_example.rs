//! How often the offline local model answers the coder's prompt with the prompt's own worked
//! example: the old system prompt (one fixed example, `sumOfSquares`) against the current one
//! (the examples of `prompts/worked/`, chosen by task), on made-up tasks, first round only
//! (temperature 0.2, as the coder's first round).
//!
//! `cargo bench --bench worked_example` (needs `scripts/setup llm`). A reply counts as a copy
//! when it names the example's function or holds its parameters and body (spacing ignored).

use std::sync::Arc;

use skillforge::agent::{CodeEnvironment, Task, coder_messages};
use skillforge::llm::{ChatRequest, LanguageModel, LlmConfig, Message};

/// Made-up tasks in the style users paste (none is in the repository's suites).
const TASKS: &[(&str, &str)] = &[
    (
        "A hungry squirrel has already stored `stored` nuts and wants `want` more; the tree \
         has `left` nuts. Return [total nuts stored, nuts left on the tree].",
        "gather",
    ),
    (
        "Return the product of the odd digits of a positive integer, or 0 if all are even.",
        "oddDigitProduct",
    ),
    (
        "Given a list of words, return how many times each word occurs, as an object.",
        "wordCounts",
    ),
    (
        "Return true if the brackets '(' and ')' in a string are balanced.",
        "balanced",
    ),
    (
        "Return the list of numbers with every negative number replaced by zero.",
        "clampNegatives",
    ),
    (
        "Return the second largest distinct number of a list, or null if there is none.",
        "secondLargest",
    ),
    (
        "Rotate the letters of a lower-case word by n places in the alphabet (a Caesar shift).",
        "caesar",
    ),
    (
        "Return the sum of the numbers of a list that are divisible by 3 or 5.",
        "sumDivisible",
    ),
];

const OLD_EXAMPLE: &str = "/**\n * Sum of the squares of a list of numbers.\n * @param {number[]} xs the numbers\n * @returns {number} the sum\n * @example sumOfSquares([1, 2, 3]) => 14\n * @test empty list: assert.equal(sumOfSquares([]), 0)\n */\nfunction sumOfSquares(xs) {\n  return xs.reduce((sum, x) => sum + x * x, 0);\n}";

/// The worked example's code in a coder system prompt.
fn shown_example(system: &str) -> &str {
    let start = system.find("```javascript\n").expect("a worked example") + 14;
    let end = start + system[start..].find("```").expect("a closed block");
    system[start..end].trim()
}

/// (the function's name, its parameters and body without whitespace) of a worked example.
fn signature_of(example: &str) -> (String, String) {
    let at = example.find("function ").expect("a function") + 9;
    let open = at + example[at..].find('(').expect("parameters");
    let name = example[at..open].to_string();
    let body: String = example[open..]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    (name, body)
}

fn copies(reply: &str, example: &str) -> bool {
    let (name, body) = signature_of(example);
    let squeezed: String = reply.chars().filter(|c| !c.is_whitespace()).collect();
    reply.contains(&name) || squeezed.contains(&body)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let config = LlmConfig::default();
    if let Err(error) = config.local_server_config().check_installed() {
        eprintln!("worked_example bench SKIPPED: {error}");
        return;
    }
    let model: Arc<dyn LanguageModel> = config.build().await.expect("the local model starts");
    let env = CodeEnvironment::new("string, number and collection utilities");
    let (mut before, mut after) = (0, 0);
    for (description, name) in TASKS {
        let task = Task::from_user(*description).with_name(*name);
        let messages = coder_messages(&env, &task, &[], None).expect("the prompt renders");
        let system = &messages[0].content;
        let current = shown_example(system).to_string();
        // The system prompt as it was: the same rules, the one fixed example.
        let cut = system
            .find("Example of the format only")
            .expect("the example's header");
        let old_system = format!(
            "{}Example:\n```javascript\n{OLD_EXAMPLE}\n```",
            &system[..cut]
        );
        for (old, counter) in [(true, &mut before), (false, &mut after)] {
            let mut messages = messages.clone();
            let example = if old {
                messages[0] = Message::system(old_system.clone());
                OLD_EXAMPLE
            } else {
                current.as_str()
            };
            let request = ChatRequest::new(messages)
                .with_temperature(0.2)
                .with_max_tokens(768);
            let reply = model.complete(request).await.expect("the model answers");
            let copied = copies(&reply.text, example);
            *counter += usize::from(copied);
            println!(
                "{name:<16} {:<6} {} ({} tokens)",
                if old { "before" } else { "after" },
                if copied { "COPIED" } else { "own code" },
                reply.completion_tokens
            );
        }
    }
    println!(
        "replies that copy the worked example: before {before}/{n}, after {after}/{n}",
        n = TASKS.len()
    );
}
