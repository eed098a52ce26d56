//! What the index is built from and how it is searched: the text of each view of a skill's
//! point, and the weight of each view in the fusion. [`Recipe::CURRENT`] is the library's;
//! `skillforge bench retrieval` measures it beside the others (figures in
//! `docs/benchmarks.md`, "Retrieval"). A change of the current recipe's texts bumps
//! [`crate::index::INDEX_FORMAT`], so an index built with the old texts is rebuilt from SQL.

use crate::index::{FusionWeights, IndexPoint, SearchFilter, SearchQuery};
use crate::store::CurrentVersion;

/// The text of the dense views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenseText {
    /// Description view: the description; summary view: the name and the signature.
    Description,
    /// Description view: the name's words, then the description; summary view: the
    /// name's words and the signature.
    NameWords,
    /// Description view: the description; summary view: the name's words and the
    /// description's first sentence (what the skill does, without how).
    Summary,
}

/// The text of the BM25 view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexicalText {
    /// Name, description and signature.
    Header,
    /// Name, description, signature and the words of the code: identifiers, comments and
    /// strings (minus JavaScript's keywords), identifiers split into words by the index.
    HeaderAndCode,
}

/// How skills are indexed and searched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipe {
    /// What the dense views embed.
    pub dense: DenseText,
    /// What the BM25 view holds.
    pub lexical: LexicalText,
    /// Each view's weight in the fusion.
    pub weights: FusionWeights,
}

/// The texts of one skill's views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewTexts {
    /// Embedded into the description view.
    pub description: String,
    /// Embedded into the summary view.
    pub summary: String,
    /// The BM25 view's text.
    pub lexical: String,
}

impl Recipe {
    /// The search before issue 8: description, name + signature and BM25 of the header,
    /// fused with equal weights and k 60.
    pub const HEADER: Recipe = Recipe {
        dense: DenseText::Description,
        lexical: LexicalText::Header,
        weights: FusionWeights::EQUAL,
    };

    /// The library's recipe, chosen by `skillforge bench retrieval`: description, name
    /// words + first sentence, and BM25 of the header and the code's words, fused with
    /// equal weights and k 10 (a view's first places count more than being found by
    /// several views: in a library of a few hundred skills each view's 40 candidates are a
    /// fifth of it).
    pub const CURRENT: Recipe = Recipe {
        dense: DenseText::Summary,
        lexical: LexicalText::HeaderAndCode,
        weights: FusionWeights {
            k: 10,
            ..FusionWeights::EQUAL
        },
    };

    /// The texts of a skill's views.
    pub fn texts(&self, version: &CurrentVersion) -> ViewTexts {
        let name = &version.skill.name;
        let description = &version.version.description;
        let signature = &version.version.signature;
        let (description_text, summary_text) = match self.dense {
            DenseText::Description if description.is_empty() => {
                (name.clone(), format!("{name} {signature}"))
            }
            DenseText::Description => (description.clone(), format!("{name} {signature}")),
            DenseText::NameWords => {
                let words = name_words(name);
                (
                    format!("{words}: {description}"),
                    format!("{words}: {signature}"),
                )
            }
            DenseText::Summary => (
                description.clone(),
                format!("{}: {}", name_words(name), first_sentence(description)),
            ),
        };
        let header = format!("{name} {description} {signature}");
        let lexical = match self.lexical {
            LexicalText::Header => header,
            LexicalText::HeaderAndCode => {
                format!("{header} {}", code_words(&version.version.code))
            }
        };
        ViewTexts {
            description: description_text,
            summary: summary_text,
            lexical,
        }
    }

    /// A skill's index point, from its texts' two vectors (description, then summary).
    pub fn point(
        &self,
        version: CurrentVersion,
        texts: ViewTexts,
        description_vector: Vec<f32>,
        summary_vector: Vec<f32>,
    ) -> IndexPoint {
        IndexPoint {
            skill_id: version.skill.id,
            version_id: version.version.id,
            status: version.skill.status,
            namespace: version.skill.namespace,
            description_vector,
            summary_vector,
            text: texts.lexical,
        }
    }

    /// The index query of a text and its embedding.
    pub fn query(
        &self,
        text: &str,
        vector: Vec<f32>,
        limit: usize,
        filter: SearchFilter,
    ) -> SearchQuery {
        SearchQuery {
            vector,
            text: text.to_string(),
            limit,
            filter,
            weights: self.weights,
        }
    }
}

/// A name's words, lower case: `craftIronPickaxe` is `craft iron pickaxe`, `parse_csv` is
/// `parse csv`.
pub fn name_words(name: &str) -> String {
    crate::index::identifier_words(name).to_lowercase()
}

/// The text up to the end of its first sentence (a period followed by a space or the end).
pub fn first_sentence(text: &str) -> &str {
    match text.find(". ") {
        Some(end) => &text[..=end],
        None => text,
    }
}

/// JavaScript's reserved words and the literals every skill uses: no evidence of what a
/// skill does.
const JS_KEYWORDS: &[&str] = &[
    "async",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "default",
    "delete",
    "do",
    "else",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "let",
    "new",
    "null",
    "of",
    "return",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "undefined",
    "var",
    "void",
    "while",
    "yield",
];

/// The words of a skill's code: every identifier-like token (names, words of comments and
/// strings) that is not a JavaScript keyword, in order, separated by spaces.
pub fn code_words(code: &str) -> String {
    let mut out = String::with_capacity(code.len() / 2);
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    for token in code.split(|c: char| !is_word(c)) {
        if token.is_empty()
            || token.chars().all(|c| c.is_ascii_digit())
            || JS_KEYWORDS.contains(&token)
        {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(token);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_words_keep_names_comments_and_strings_but_not_keywords() {
        let code = "async function mineWoodLog(bot) {\n  // Find a wood log block\n  \
                    const names = [\"oak_log\", 7];\n  return await mineBlock(bot, names[0], 1);\n}";
        assert_eq!(
            code_words(code),
            "mineWoodLog bot Find a wood log block names oak_log mineBlock bot names"
        );
    }

    #[test]
    fn the_first_sentence_ends_at_a_period_and_a_space() {
        assert_eq!(
            first_sentence("The function is about mining 5 coal ores. First, equip a pick."),
            "The function is about mining 5 coal ores."
        );
        assert_eq!(
            first_sentence("Rounds to 1.5 places: no period"),
            "Rounds to 1.5 places: no period"
        );
    }

    #[test]
    fn name_words_split_identifiers() {
        assert_eq!(name_words("craftIronPickaxe"), "craft iron pickaxe");
        assert_eq!(name_words("parse_csv"), "parse csv");
        assert_eq!(name_words("HTMLParser"), "html parser");
    }
}
