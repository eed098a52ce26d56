//! BM25 sparse vectors, computed on the client side for both backends so that they
//! score text identically: qdrant-edge's BM25 model (English stopwords and stemmer,
//! murmur3 token ids, the same as Qdrant's server-side `qdrant/bm25`), applied to the
//! text with code identifiers also split into words. IDF is applied by the index
//! (sparse vectors are configured with the IDF modifier).

use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use qdrant_edge::external::ordered_float::NotNan;

/// Expected length of an indexed text in tokens; BM25 normalises term frequencies by it.
const AVERAGE_DOCUMENT_TOKENS: f64 = 48.0;

/// Client-side BM25 embedder.
#[derive(Debug)]
pub(crate) struct Lexical {
    bm25: EdgeBm25,
}

/// A sparse vector as (sorted unique indices, weights).
pub(crate) type Sparse = (Vec<u32>, Vec<f32>);

impl Lexical {
    pub(crate) fn new() -> Self {
        let config = EdgeBm25Config {
            avg_len: NotNan::new(AVERAGE_DOCUMENT_TOKENS).expect("constant is a number"),
            language: Some("english".into()),
            ..EdgeBm25Config::default()
        };
        Self {
            bm25: EdgeBm25::new(config).expect("the built-in BM25 configuration is valid"),
        }
    }

    /// Term-frequency weights of a document.
    pub(crate) fn document(&self, text: &str) -> Sparse {
        let v = self.bm25.embed_document(&expand_identifiers(text));
        (v.indices, v.values)
    }

    /// Unit weights of a query's distinct terms.
    pub(crate) fn query(&self, text: &str) -> Sparse {
        let v = self.bm25.embed_query(&expand_identifiers(text));
        (v.indices, v.values)
    }
}

/// `text` followed by the words hidden in its identifiers: `parseCsvLine` adds
/// `parse Csv Line`, `fetch_url2` adds `fetch url 2`, `HTMLParser` adds `HTML Parser`.
pub(crate) fn expand_identifiers(text: &str) -> String {
    let mut out = String::from(text);
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')) {
        let parts = identifier_parts(word);
        if parts.len() > 1 {
            for part in parts {
                out.push(' ');
                out.push_str(part);
            }
        }
    }
    out
}

/// The words of one identifier, separated by spaces: `parseCsvLine` is `parse Csv Line`,
/// `fetch_url2` is `fetch url 2`.
pub fn identifier_words(identifier: &str) -> String {
    identifier_parts(identifier).join(" ")
}

fn identifier_parts(word: &str) -> Vec<&str> {
    #[derive(PartialEq, Clone, Copy)]
    enum Kind {
        Lower,
        Upper,
        Digit,
        Other,
    }
    let kind = |c: char| {
        if c.is_lowercase() {
            Kind::Lower
        } else if c.is_uppercase() {
            Kind::Upper
        } else if c.is_numeric() {
            Kind::Digit
        } else {
            Kind::Other
        }
    };
    let chars: Vec<(usize, char)> = word.char_indices().collect();
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    for (i, &(pos, c)) in chars.iter().enumerate() {
        let k = kind(c);
        if k == Kind::Other {
            if let Some(s) = start.take() {
                parts.push(&word[s..pos]);
            }
            continue;
        }
        if let Some(s) = start {
            let prev = kind(chars[i - 1].1);
            let next = chars.get(i + 1).map(|&(_, c)| kind(c));
            let boundary = match (prev, k) {
                (Kind::Lower, Kind::Upper) => true,
                (Kind::Upper, Kind::Upper) => next == Some(Kind::Lower),
                (Kind::Digit, Kind::Digit) | (Kind::Lower, Kind::Lower) => false,
                (Kind::Upper, Kind::Lower) => false,
                _ => true,
            };
            if boundary {
                parts.push(&word[s..pos]);
                start = Some(pos);
            }
        } else {
            start = Some(pos);
        }
    }
    if let Some(s) = start {
        parts.push(&word[s..]);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_split_into_words() {
        assert_eq!(identifier_parts("parseCsvLine"), ["parse", "Csv", "Line"]);
        assert_eq!(identifier_parts("fetch_url2"), ["fetch", "url", "2"]);
        assert_eq!(identifier_parts("HTMLParser"), ["HTML", "Parser"]);
        assert_eq!(identifier_parts("plain"), ["plain"]);
        assert_eq!(
            expand_identifiers("call sumOfSquares(xs)"),
            "call sumOfSquares(xs) sum Of Squares"
        );
    }

    #[test]
    fn query_terms_match_document_terms() {
        let lexical = Lexical::new();
        let (doc, weights) = lexical.document("parseCsvLine: splits one CSV line into fields");
        let (query, _) = lexical.query("parse a csv file");
        assert!(weights.iter().all(|w| *w > 0.0));
        let shared = query.iter().filter(|t| doc.contains(t)).count();
        assert_eq!(
            shared, 2,
            "parse and csv are shared, 'a' is a stopword, file is not in the doc"
        );
    }
}
