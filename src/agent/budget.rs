//! Fitting prompts to the model's context window. Tokens are counted by the model itself
//! ([`LanguageModel::count_tokens`]: the local server's tokenizer, or a conservative estimate for
//! endpoints without one), never guessed here; a prompt is cut down, in an order its builder
//! chooses, until prompt and reply fit.

use crate::llm::{LanguageModel, Message};

use super::{AgentError, Purpose};

/// The tokens a prompt may take so that a reply of `reply_tokens`, plus `reserve` tokens of
/// turns added later, still fits the model's context.
pub(crate) fn prompt_budget(
    model: &dyn LanguageModel,
    purpose: Purpose,
    reply_tokens: u32,
    reserve: u32,
) -> Result<u32, AgentError> {
    let context = model.context_tokens();
    context
        .checked_sub(reply_tokens.saturating_add(reserve))
        .filter(|budget| *budget > 0)
        .ok_or(AgentError::PromptTooLong {
            purpose,
            tokens: 0,
            budget: 0,
            context,
        })
}

/// The prompt's tokens as the model counts them.
pub(crate) async fn count(
    model: &dyn LanguageModel,
    purpose: Purpose,
    messages: &[Message],
) -> Result<u32, AgentError> {
    model
        .count_tokens(messages)
        .await
        .map_err(|source| AgentError::Llm { purpose, source })
}

/// The first of `candidates` (ordered from the fullest prompt to the shortest) that fits in
/// `budget` tokens; [`AgentError::PromptTooLong`] when even the last does not.
pub(crate) async fn first_fitting(
    model: &dyn LanguageModel,
    purpose: Purpose,
    budget: u32,
    candidates: impl IntoIterator<Item = Result<Vec<Message>, AgentError>>,
) -> Result<Vec<Message>, AgentError> {
    let mut last_tokens = 0;
    for candidate in candidates {
        let messages = candidate?;
        let tokens = count(model, purpose, &messages).await?;
        if tokens <= budget {
            return Ok(messages);
        }
        last_tokens = tokens;
    }
    Err(AgentError::PromptTooLong {
        purpose,
        tokens: last_tokens,
        budget,
        context: model.context_tokens(),
    })
}

/// The largest `n` in `0..=max` for which `render(n)` fits in `budget` tokens, with its
/// messages, found by bisection (`render(n)` must not shrink as `n` grows: `n` is how many
/// entries of each list the prompt shows).
pub(crate) async fn largest_fitting(
    model: &dyn LanguageModel,
    purpose: Purpose,
    budget: u32,
    max: usize,
    render: impl Fn(usize) -> Result<Vec<Message>, AgentError>,
) -> Result<(usize, Vec<Message>), AgentError> {
    let full = render(max)?;
    let tokens = count(model, purpose, &full).await?;
    if tokens <= budget {
        return Ok((max, full));
    }
    // Invariant: `render(low)` fits (once found) and `render(high)` does not.
    let (mut low, mut high) = (None, max);
    let mut lowest_tokens = tokens;
    let mut fitting = None;
    let mut probe = 0;
    loop {
        let messages = render(probe)?;
        let tokens = count(model, purpose, &messages).await?;
        if tokens <= budget {
            low = Some(probe);
            fitting = Some(messages);
        } else {
            lowest_tokens = lowest_tokens.min(tokens);
            high = probe;
        }
        let Some(found) = low else {
            // Not even the prompt with no entries fits.
            return Err(AgentError::PromptTooLong {
                purpose,
                tokens: lowest_tokens,
                budget,
                context: model.context_tokens(),
            });
        };
        if high - found <= 1 {
            let messages = fitting.expect("set with low");
            return Ok((found, messages));
        }
        probe = found + (high - found) / 2;
    }
}

/// `text` cut to at most `max_bytes` (at a character boundary), marked as cut when it was.
pub(crate) fn truncate(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} [...]", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::ScriptedModel;

    #[tokio::test]
    async fn largest_fitting_finds_the_most_entries_within_the_budget() {
        let model = ScriptedModel::queue(Vec::<&str>::new());
        // 10 bytes an entry: 5 estimated tokens each, plus 40 for one message and the template.
        let render = |n: usize| Ok(vec![Message::user("0123456789".repeat(n))]);
        let (n, messages) = largest_fitting(&model, Purpose::Curriculum, 40 + 5 * 37, 100, render)
            .await
            .unwrap();
        assert_eq!(n, 37);
        assert_eq!(messages[0].content.len(), 370);
        let (n, _) = largest_fitting(&model, Purpose::Curriculum, 10_000, 100, render)
            .await
            .unwrap();
        assert_eq!(n, 100);
        let error = largest_fitting(&model, Purpose::Curriculum, 39, 100, render)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                AgentError::PromptTooLong {
                    tokens: 40,
                    budget: 39,
                    ..
                }
            ),
            "{error}"
        );
    }

    #[tokio::test]
    async fn first_fitting_takes_the_fullest_candidate_that_fits() {
        let model = ScriptedModel::queue(Vec::<&str>::new());
        let candidate = |bytes: usize| Ok(vec![Message::user("x".repeat(bytes))]);
        let chosen = first_fitting(
            &model,
            Purpose::Coder,
            100,
            [candidate(400), candidate(120), candidate(10)],
        )
        .await
        .unwrap();
        assert_eq!(chosen[0].content.len(), 120);
        let error = first_fitting(&model, Purpose::Coder, 30, [candidate(400), candidate(10)])
            .await
            .unwrap_err();
        assert!(
            matches!(error, AgentError::PromptTooLong { tokens: 45, .. }),
            "{error}"
        );
    }

    #[test]
    fn truncation_keeps_whole_characters_and_says_so() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééé", 3), "é [...]");
    }
}
