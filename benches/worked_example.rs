//! How often the offline local model answers the coder's prompt with the prompt's own worked
//! example: the old system prompt (one fixed example, `sumOfSquares`) against the current one
//! (the examples of `prompts/worked/`, chosen by task), on made-up pasted problems, the
//! coder's first request at its temperatures (0.2 for a first round, 0.7 for a retry).
//!
//! `cargo bench --bench worked_example` (needs `scripts/setup llm`; `--profile dev` skips the
//! release build: the time is the model's). A reply counts as a copy when it names the
//! example's function or holds its parameters and body (spacing ignored).

use std::sync::Arc;

use skillforge::agent::{CodeEnvironment, Task, coder_messages};
use skillforge::llm::{ChatRequest, LanguageModel, LlmConfig, Message};

/// Made-up problems in the style users paste (JSDoc with doctest examples and the function's
/// first line; none is in the repository's suites), taken as `solve` takes them.
const TASKS: &[&str] = &[
    "/**\n * A squirrel has stored `stored` nuts and wants `want` more; the tree has `left` nuts.\n * Return [nuts stored after taking, nuts left on the tree]; when the tree has too few\n * it takes all that are left.\n * >>> gather(3, 4, 10)\n * [7, 6]\n * >>> gather(2, 5, 1)\n * [3, 0]\n */\nfunction gather(stored, want, left) {\n",
    "/**\n * Return the product of the odd digits of a positive integer, or 0 when all are even.\n * >>> odd_digit_product(235)\n * 15\n * >>> odd_digit_product(48)\n * 0\n */\nfunction odd_digit_product(n) {\n",
    "/**\n * Count how often each word occurs in a list of words.\n * >>> word_counts(['a', 'b', 'a'])\n * {'a': 2, 'b': 1}\n */\nfunction word_counts(words) {\n",
    "/**\n * Tell whether the round brackets of a string are balanced.\n * >>> balanced('(())')\n * True\n * >>> balanced('(()')\n * False\n */\nfunction balanced(text) {\n",
    "/**\n * Replace every negative number of a list by zero.\n * >>> clamp_negatives([3, -1, 0, -7])\n * [3, 0, 0, 0]\n */\nfunction clamp_negatives(numbers) {\n",
    "/**\n * Return the second largest distinct number of a list, or None when there is none.\n * >>> second_largest([4, 1, 4, 3])\n * 3\n * >>> second_largest([2, 2])\n * None\n */\nfunction second_largest(numbers) {\n",
    "/**\n * Shift each letter of a lower-case word n places along the alphabet, wrapping at z.\n * >>> caesar('xyz', 2)\n * 'zab'\n */\nfunction caesar(word, n) {\n",
    "/**\n * Sum the numbers of a list that are divisible by 3 or by 5.\n * >>> sum_divisible([1, 3, 5, 7, 15])\n * 23\n */\nfunction sum_divisible(numbers) {\n",
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
    let temperatures = [0.2, 0.7];
    // [temperature][before, after]
    let mut copies_found = [[0usize; 2]; 2];
    for prompt in TASKS {
        let task = Task::from_text(*prompt, None).expect("a task");
        let name = task.name.clone().unwrap_or_default();
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
        for (t, temperature) in temperatures.iter().enumerate() {
            for (variant, label) in ["before", "after"].iter().enumerate() {
                let mut messages = messages.clone();
                let example = if variant == 0 {
                    messages[0] = Message::system(old_system.clone());
                    OLD_EXAMPLE
                } else {
                    current.as_str()
                };
                let request = ChatRequest::new(messages)
                    .with_temperature(*temperature)
                    .with_max_tokens(768);
                let reply = model.complete(request).await.expect("the model answers");
                let copied = copies(&reply.text, example);
                copies_found[t][variant] += usize::from(copied);
                println!(
                    "{name:<18} t={temperature} {label:<6} {} ({} tokens)",
                    if copied { "COPIED" } else { "own code" },
                    reply.completion_tokens
                );
            }
        }
    }
    for (t, temperature) in temperatures.iter().enumerate() {
        println!(
            "temperature {temperature}: replies that copy the worked example: before {}/{n}, after {}/{n}",
            copies_found[t][0],
            copies_found[t][1],
            n = TASKS.len()
        );
    }
}
