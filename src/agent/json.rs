//! Finding the JSON object in a model's reply: small models wrap it in prose and fences.

use serde_json::{Map, Value};

/// The first JSON object in `text` that parses, wherever it starts: the whole text, inside a
/// markdown fence, or after and before prose. `None` when there is none.
pub(crate) fn find_object(text: &str) -> Option<Map<String, Value>> {
    text.char_indices()
        .filter(|&(_, c)| c == '{')
        .find_map(|(i, _)| {
            let mut values = serde_json::Deserializer::from_str(&text[i..]).into_iter::<Value>();
            match values.next() {
                Some(Ok(Value::Object(map))) => Some(map),
                _ => None,
            }
        })
}

/// The start of `text`, for error messages.
pub(crate) fn preview(text: &str) -> String {
    const MAX: usize = 160;
    let trimmed = text.trim();
    if trimmed.chars().count() <= MAX {
        return format!("{trimmed:?}");
    }
    let start: String = trimmed.chars().take(MAX).collect();
    format!("{start:?}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_objects_in_prose_and_fences() {
        let reply = "Sure! Here is the task:\n```json\n{\"task\": \"x {y}\", \"n\": [1, {\"a\": 2}]}\n```\nHope it helps {:";
        let map = find_object(reply).unwrap();
        assert_eq!(map["task"], "x {y}");
        assert_eq!(map["n"][1]["a"], 2);
        // A brace that starts no valid object is skipped.
        assert_eq!(
            find_object("{oops} then {\"ok\": true}").unwrap()["ok"],
            true
        );
        assert!(find_object("no json here").is_none());
        assert!(find_object("[1, 2]").is_none());
        assert!(find_object("{\"cut\": \"off").is_none());
    }

    #[test]
    fn previews_are_short() {
        assert_eq!(preview("  hi "), "\"hi\"");
        let long = preview(&"x".repeat(500));
        assert!(long.ends_with("...") && long.len() < 200, "{long}");
    }
}
