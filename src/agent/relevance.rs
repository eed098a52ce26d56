//! Which retrieved skills the coder is shown. A skill is shown when the task names it, or
//! when its description is close to the task's. For a task an environment posed, closeness is
//! not enough: its text is the environment's template filled in (every TextCraft task is
//! "Craft X in TextCraft" with a list of crafting commands), so every skill learned there is
//! close to every task, and an unrelated skill in the prompt misleads a small model (see
//! `docs/benchmarks.md`). Such a task's text must also mention what the skill is about
//! beyond what the task itself is: the words of the skill's name that the task's name does
//! not have. A user's or the curriculum's task is judged by closeness alone, since a skill can
//! serve a task that never says its name ("multiply by four" and `double`).

use crate::index::identifier_words;

/// Words of a skill's name that say how, not what (`get`, `compute`, `craft`, ...): they are
/// left out of what a task's text must mention.
const GENERIC_WORDS: &[&str] = &[
    "the",
    "and",
    "for",
    "from",
    "into",
    "with",
    "all",
    "get",
    "set",
    "has",
    "make",
    "compute",
    "calc",
    "calculate",
    "find",
    "build",
    "create",
    "craft",
    "count",
    "to",
    "of",
    "by",
    "is",
    "in",
    "on",
    "as",
    "at",
];

/// The task a retrieved skill is judged against.
#[derive(Debug, Clone, Copy)]
pub(super) struct TaskText<'a> {
    /// The task's text.
    pub text: &'a str,
    /// The function name the task asks for.
    pub name: Option<&'a str>,
    /// Whether an environment posed it from its template (see the module's comment).
    pub posed_by_environment: bool,
}

/// Whether the coder is shown a retrieved skill named `skill_name` for `task`, given the
/// cosine `similarity` of their descriptions and the `threshold` it must reach.
pub(super) fn shown(task: TaskText<'_>, skill_name: &str, similarity: f32, threshold: f32) -> bool {
    names(task.text, skill_name)
        || (similarity >= threshold
            && (!task.posed_by_environment
                || mentions_its_subject(task.text, task.name, skill_name)))
}

/// Whether `text` names `name` as a whole identifier (`tokenize(text)` names `tokenize`,
/// `detokenize` does not).
fn names(text: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// Whether every word of the skill's name that is neither generic nor a word of the task's
/// name appears in the task's text (a plural, or a word sharing its first five letters,
/// counts: `palindrome` is mentioned by `palindromic`). `craftCrimsonPlanks` is about
/// "crimson planks": a task whose commands use crimson planks mentions it, one about iron
/// ingots does not. A skill whose name adds nothing to the task's is mentioned.
fn mentions_its_subject(task_text: &str, task_name: Option<&str>, skill_name: &str) -> bool {
    let task_name_words = task_name.map(words).unwrap_or_default();
    let text_words = words(task_text);
    words(skill_name)
        .into_iter()
        .filter(|w| !GENERIC_WORDS.contains(&w.as_str()) && !task_name_words.contains(w))
        .all(|w| text_words.iter().any(|t| same_word(&w, t)))
}

/// The name in `library` (in its order, retrieval's) that shares the most words saying what
/// (not `craft`, `get`, ...) with `name`, a name the model called that nothing defines:
/// `craftOakPlanks` is closest to `craftBirchPlanks`, `craftStick` to neither that nor
/// `craftGoldIngot`. `None` when no name shares such a word.
pub(super) fn closest_name<'a>(name: &str, library: &[&'a str]) -> Option<&'a str> {
    let wanted = subject(name);
    let mut closest = None;
    let mut most_shared = 0;
    for &candidate in library {
        let theirs = subject(candidate);
        let shared = wanted
            .iter()
            .filter(|w| theirs.iter().any(|t| same_word(w, t)))
            .count();
        if shared > most_shared {
            closest = Some(candidate);
            most_shared = shared;
        }
    }
    closest
}

/// What a name is about, as a phrase: its words that say what, lowercase, in order
/// (`craftOakPlanks`: "oak planks"; `craft` and the like left out).
pub(super) fn subject_phrase(name: &str) -> String {
    subject(name).join(" ")
}

/// The lowercase words of a name that say what (not `craft`, `get`, ...).
fn subject(name: &str) -> Vec<String> {
    words(name)
        .into_iter()
        .filter(|w| !GENERIC_WORDS.contains(&w.as_str()))
        .collect()
}

/// The lowercase words of a text, identifiers split (`word_counts(text)`: word, counts, text).
fn words(text: &str) -> Vec<String> {
    identifier_words(text)
        .split_whitespace()
        .map(str::to_lowercase)
        .collect()
}

/// Whether two lowercase words are one: equal, one the other's plural, or sharing their
/// first five letters.
fn same_word(a: &str, b: &str) -> bool {
    const STEM: usize = 5;
    let plural = |one: &str, many: &str| {
        many.strip_prefix(one)
            .is_some_and(|rest| rest == "s" || rest == "es")
    };
    a == b
        || plural(a, b)
        || plural(b, a)
        || (a.len() >= STEM && b.len() >= STEM && a.as_bytes()[..STEM] == b.as_bytes()[..STEM])
}

#[cfg(test)]
mod tests {
    use super::*;

    const IRON_INGOT: &str = "Craft iron ingot in TextCraft.\nCrafting commands:\n\
        craft 1 iron ingot using 9 iron nugget\ncraft 1 chain using 1 iron ingot, 2 iron nugget";
    const CRIMSON_TRAPDOOR: &str = "Craft crimson trapdoor in TextCraft.\nCrafting commands:\n\
        craft 2 crimson trapdoor using 6 crimson planks\ncraft 4 crimson planks using 1 crimson stems";

    fn posed<'a>(text: &'a str, name: &'a str) -> TaskText<'a> {
        TaskText {
            text,
            name: Some(name),
            posed_by_environment: true,
        }
    }

    fn users(text: &str) -> TaskText<'_> {
        TaskText {
            text,
            name: None,
            posed_by_environment: false,
        }
    }

    #[test]
    fn in_an_environments_task_a_similar_skill_about_something_it_never_mentions_is_not_shown() {
        let iron = posed(IRON_INGOT, "craftIronIngot");
        assert!(!shown(iron, "craftCrimsonPlanks", 0.9, 0.5));
        let trapdoor = posed(CRIMSON_TRAPDOOR, "craftCrimsonTrapdoor");
        assert!(shown(trapdoor, "craftCrimsonPlanks", 0.51, 0.5));
        assert!(!shown(trapdoor, "craftOakPlanks", 0.9, 0.5));
        assert!(!shown(trapdoor, "craftCrimsonPlanks", 0.49, 0.5));
    }

    #[test]
    fn a_users_task_is_judged_by_similarity_unless_it_names_the_skill() {
        let quadruple = users("Multiply a number by four");
        assert!(shown(quadruple, "double", 0.6, 0.5));
        assert!(!shown(quadruple, "double", 0.4, 0.5));
        let variance = users("The mean (as mean(xs) computes it) of the squared differences.");
        assert!(shown(variance, "mean", 0.1, 0.5));
    }

    #[test]
    fn words_match_across_identifiers_plurals_and_stems() {
        let text = "Count the distinct palindromic substrings of each word; sum their digits.";
        let task = |name| posed(text, name);
        assert!(shown(task("f"), "isPalindrome", 0.6, 0.5));
        assert!(shown(task("f"), "sum_of_digit", 0.6, 0.5));
        assert!(shown(task("countWords"), "wordCounts", 0.6, 0.5));
        assert!(!shown(task("f"), "sortByLength", 0.6, 0.5));
    }

    #[test]
    fn a_skill_whose_name_adds_nothing_to_the_tasks_is_shown_by_similarity() {
        let task = posed("Craft it.", "craftCrimsonPlanks");
        assert!(shown(task, "crimsonPlanks", 0.6, 0.5));
        assert!(shown(posed("anything", "f"), "getAll", 0.6, 0.5));
    }

    #[test]
    fn the_closest_name_shares_what_the_name_is_about() {
        let library = ["craftGoldIngot", "craftBirchPlanks", "craftAcaciaPlanks"];
        assert_eq!(
            closest_name("craftOakPlanks", &library),
            Some("craftBirchPlanks")
        );
        assert_eq!(closest_name("getPlank", &library), Some("craftBirchPlanks"));
        assert_eq!(closest_name("craftStick", &library), None);
        assert_eq!(subject_phrase("craftOakPlanks"), "oak planks");
        assert_eq!(subject_phrase("getIronIngot"), "iron ingot");
        assert_eq!(
            closest_name("doubleNumber", &["tokenize", "double"]),
            Some("double")
        );
        assert_eq!(
            closest_name("tokenizeWords", &["double", "tokenize"]),
            Some("tokenize")
        );
    }

    #[test]
    fn a_name_is_a_whole_identifier() {
        assert!(names("tokenize(text) returns", "tokenize"));
        assert!(!names("detokenize(text) returns", "tokenize"));
    }
}
