//! A skill's source: one JavaScript file whose JSDoc header carries its metadata and tests.
//!
//! ```js
//! /**
//!  * Sum of the squares of a list of numbers.
//!  * @param {number[]} xs the numbers
//!  * @returns {number}
//!  * @example sumOfSquares([1, 2, 3]) => 14
//!  * @test empty list: assert.equal(sumOfSquares([]), 0)
//!  */
//! function sumOfSquares(xs) { return xs.reduce((s, x) => s + x * x, 0); }
//! ```
//!
//! Tags: `@skill NAME` (which function is the skill, when the file has several),
//! `@param`, `@returns`, `@capability NAME` (repeatable), `@example CALL => EXPECTED`
//! (an input/expected pair), `@test [NAME:] CODE` (JS assertions, may span lines; `assert`
//! and `await` are available), `@environment NAME` (where the skill can run; default `code`),
//! `@namespace NAME`. Untagged text before the first tag is the description.
//!
//! The file is parsed with a real JavaScript parser (oxc): syntax errors are reported with a
//! line and column, and the analysis yields the top-level names the file declares and the free
//! names it references (the candidates for calls into the library).

mod analysis;
mod jsdoc;

pub use analysis::{Analysis, Entry};
pub(crate) use analysis::{first_syntax_error, line_column};
pub use jsdoc::{Param, TestCase};

use crate::sandbox::Capabilities;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The environment a skill runs in when it declares none: pure computation.
pub const DEFAULT_ENVIRONMENT: &str = "code";

/// Names a skill may not take: the sandbox's own globals and the test harness's.
pub const RESERVED_NAMES: &[&str] = &["host", "console", "assert", "globalThis", "__sf_test"];

/// Why a skill's source was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkillError {
    /// The JavaScript does not parse.
    #[error("syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The file declares no top-level function.
    #[error(
        "no top-level function found: a skill is a `function NAME(...) {{...}}` (or `const NAME = (...) => ...`)"
    )]
    NoFunction,
    /// `@skill NAME` (or the requested name) names no top-level function.
    #[error("the skill names '{0}', but the file declares no top-level function of that name")]
    EntryNotFound(String),
    /// The name is reserved or not a plain identifier.
    #[error("'{0}' cannot be a skill name: it is reserved or not a plain JavaScript identifier")]
    BadName(String),
    /// A namespace is not a safe name (see [`check_namespace`]).
    #[error(
        "'{0}' is not a namespace: use 1 to 64 lowercase letters, digits, '_' or '-', starting with a letter or digit (a namespace is a name, never a path)"
    )]
    BadNamespace(String),
    /// A JSDoc tag is malformed.
    #[error("malformed @{tag}: {message}")]
    BadTag {
        /// The tag, without `@`.
        tag: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The longest namespace.
pub const MAX_NAMESPACE_LEN: usize = 64;

/// Checks that `namespace` is a safe name: 1 to [`MAX_NAMESPACE_LEN`] characters among
/// `a-z`, `0-9`, `_` and `-`, the first a letter or digit. A namespace becomes a folder name
/// on export, so this is what keeps it from being a path (`..`, `/`, an absolute path). Every
/// way a namespace enters the library (`@namespace`, `--namespace`, an import folder, the API)
/// and every export goes through this one check.
pub fn check_namespace(namespace: &str) -> Result<&str, SkillError> {
    let mut chars = namespace.chars();
    let safe = namespace.len() <= MAX_NAMESPACE_LEN
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if safe {
        Ok(namespace)
    } else {
        Err(SkillError::BadNamespace(namespace.to_string()))
    }
}

/// A parsed skill file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillSource {
    /// The skill's name: the function other skills call.
    pub name: String,
    /// What it does (the JSDoc text before the first tag).
    pub description: String,
    /// `name(a: T, b: U) -> R`, built from the declaration and the JSDoc types.
    pub signature: String,
    /// Parameters, from the declaration and `@param`.
    pub params: Vec<Param>,
    /// The `@returns` type and text.
    pub returns: Option<String>,
    /// Whether the function is `async`.
    pub is_async: bool,
    /// The whole file, header included.
    pub code: String,
    /// Its tests, in file order.
    pub tests: Vec<TestCase>,
    /// What it needs from the host.
    pub capabilities: Capabilities,
    /// Where it can run (`code` unless declared).
    pub environment: String,
    /// The namespace it was declared in, if any.
    pub namespace: Option<String>,
    /// Top-level names the file declares.
    pub declared: BTreeSet<String>,
    /// Free names the code and its tests reference (calls into the library among them).
    pub references: BTreeSet<String>,
    /// Host functions its code calls by name (`host.call("name", ...)`); each must be among
    /// its `capabilities` for it to be bundled.
    #[serde(default)]
    pub host_calls: BTreeSet<String>,
    /// True when its code uses `host` other than in `host.call("name", ...)` (a computed
    /// name, an alias), which cannot be checked against its capabilities (such a skill is
    /// not bundled).
    #[serde(default)]
    pub computed_host_call: bool,
}

impl SkillSource {
    /// Parses a skill file. `preferred_name` (e.g. the file's stem) picks the skill's function
    /// when the file has several and no `@skill` tag.
    pub fn parse(code: &str, preferred_name: Option<&str>) -> Result<SkillSource, SkillError> {
        let analysis = Analysis::of(code)?;
        let header_for = |name: &str| {
            analysis
                .function(name)
                .and_then(|f| f.jsdoc.as_deref())
                .map(jsdoc::Header::parse)
                .transpose()
        };
        // A `@skill` tag in any JSDoc block decides; then `Analysis::entry`'s rule, the last
        // candidate when it leaves several.
        let tagged = analysis
            .functions
            .iter()
            .filter_map(|f| f.jsdoc.as_deref())
            .find_map(jsdoc::skill_tag);
        let name = match (tagged, analysis.entry(preferred_name)) {
            (Some(name), _) => name,
            (None, Entry::Preferred(name) | Entry::OnlyRoot(name)) => name.to_string(),
            (None, Entry::Ambiguous(candidates)) => {
                candidates.last().ok_or(SkillError::NoFunction)?.to_string()
            }
            (None, Entry::NoFunction) => return Err(SkillError::NoFunction),
        };
        let function = analysis
            .function(&name)
            .ok_or_else(|| SkillError::EntryNotFound(name.clone()))?;
        if RESERVED_NAMES.contains(&name.as_str()) || !crate::sandbox::is_identifier(&name) {
            return Err(SkillError::BadName(name));
        }
        let header = header_for(&name)?.unwrap_or_default();
        if let Some(namespace) = &header.namespace {
            check_namespace(namespace)?;
        }
        let params = jsdoc::merge_params(&function.params, &header.params);
        let signature =
            jsdoc::signature(&name, function.is_async, &params, header.returns.as_deref());

        let mut references = analysis.references.clone();
        for test in &header.tests {
            // Tests may call other library skills too; they must come along in the bundle.
            let test_analysis = Analysis::of(&test.to_js())?;
            references.extend(
                test_analysis
                    .references
                    .into_iter()
                    .filter(|r| !analysis.declared.contains(r)),
            );
        }
        references.remove(&name);
        Ok(SkillSource {
            description: header.description.clone(),
            signature,
            params,
            returns: header.returns.clone(),
            is_async: function.is_async,
            code: code.to_string(),
            tests: header.tests,
            capabilities: header.capabilities.into_iter().collect(),
            environment: header
                .environment
                .unwrap_or_else(|| DEFAULT_ENVIRONMENT.to_string()),
            namespace: header.namespace,
            host_calls: analysis.host_calls,
            computed_host_call: analysis.computed_host_call,
            declared: analysis.declared,
            references,
            name,
        })
    }

    /// True when the skill can run in this runtime (its environment is `code`).
    pub fn is_runnable_here(&self) -> bool {
        self.environment == DEFAULT_ENVIRONMENT
    }

    /// The same skill with each free name among `renames`' keys that its code calls or
    /// reads renamed to the key's value, and each string literal that is one of `strings`'
    /// keys replaced by its value, with the keys of `strings` it had. Comments, property
    /// names, bound names and the tests in the JSDoc are left as they are.
    pub fn with_references_renamed(
        &self,
        renames: &BTreeMap<String, String>,
        strings: &BTreeMap<String, String>,
    ) -> Result<(SkillSource, BTreeSet<String>), SkillError> {
        let (code, replaced) = analysis::rename_free_references(&self.code, renames, strings)?;
        Ok((SkillSource::parse(&code, Some(&self.name))?, replaced))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM: &str = r#"
/**
 * Sum of the squares of a list of numbers.
 * @param {number[]} xs the numbers
 * @returns {number} the sum
 * @capability clock
 * @example sumOfSquares([1, 2, 3]) => 14
 * @test empty: assert.equal(sumOfSquares([]), 0)
 * @test uses square: assert.equal(square(3), 9);
 *   assert.equal(sumOfSquares([2]), 4);
 */
function sumOfSquares(xs) { return xs.reduce((s, x) => s + square(x), 0); }
"#;

    #[test]
    fn parses_header_tests_and_references() {
        let skill = SkillSource::parse(SUM, None).unwrap();
        assert_eq!(skill.name, "sumOfSquares");
        assert_eq!(
            skill.description,
            "Sum of the squares of a list of numbers."
        );
        assert_eq!(skill.signature, "sumOfSquares(xs: number[]) -> number");
        assert_eq!(skill.tests.len(), 3);
        assert_eq!(skill.tests[1].name(), "empty");
        assert!(skill.tests[2].to_js().contains("sumOfSquares([2])"));
        assert!(skill.capabilities.clock());
        assert!(skill.references.contains("square"));
        assert!(!skill.references.contains("xs"));
        assert!(!skill.references.contains("sumOfSquares"));
        assert!(skill.is_runnable_here());
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = SkillSource::parse("function f() {\n  return 1 +;\n}", None).unwrap_err();
        assert!(
            matches!(
                err,
                SkillError::Syntax {
                    line: 2,
                    column: 13,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn picks_the_uncalled_function_as_the_skill() {
        let code = "function helper(x) { return x + 1 }\nfunction main(x) { return helper(x) * 2 }";
        assert_eq!(SkillSource::parse(code, None).unwrap().name, "main");
        assert_eq!(
            SkillSource::parse(code, Some("helper")).unwrap().name,
            "helper"
        );
        let tagged = "/** @skill helper */\nfunction helper(x) { return x }\nfunction main() { return helper(1) }";
        assert_eq!(SkillSource::parse(tagged, None).unwrap().name, "helper");
    }

    #[test]
    fn namespaces_are_names_never_paths() {
        let longest = "n".repeat(MAX_NAMESPACE_LEN);
        for good in ["default", "voyager-trial2", "a", "x_1", longest.as_str()] {
            assert_eq!(check_namespace(good), Ok(good));
        }
        let too_long = "n".repeat(MAX_NAMESPACE_LEN + 1);
        for bad in [
            "",
            "..",
            "../../x",
            "/etc",
            "a/b",
            "-a",
            "A",
            "a.b",
            "a b",
            too_long.as_str(),
        ] {
            assert_eq!(
                check_namespace(bad),
                Err(SkillError::BadNamespace(bad.into()))
            );
        }
        let hostile = "/**\n * Escapes.\n * @namespace ../../x\n * @example f() => 1\n */\nfunction f() { return 1 }";
        assert_eq!(
            SkillSource::parse(hostile, None).unwrap_err(),
            SkillError::BadNamespace("../../x".into())
        );
    }

    #[test]
    fn rejects_files_without_functions_and_reserved_names() {
        assert_eq!(
            SkillSource::parse("const x = 1;", None).unwrap_err(),
            SkillError::NoFunction
        );
        assert!(matches!(
            SkillSource::parse("function assert() {}", None).unwrap_err(),
            SkillError::BadName(_)
        ));
    }
}

/// Why a skill file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SkillFileError {
    /// The file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid skill.
    #[error("{path}: {source}")]
    Skill {
        /// The path.
        path: std::path::PathBuf,
        /// What is wrong.
        source: SkillError,
    },
}

/// Reads and parses one `.js` skill file; the file's stem is the preferred skill name.
pub fn read_skill_file(path: &std::path::Path) -> Result<SkillSource, SkillFileError> {
    let code = std::fs::read_to_string(path).map_err(|source| SkillFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let stem = path.file_stem().and_then(|s| s.to_str());
    SkillSource::parse(&code, stem).map_err(|source| SkillFileError::Skill {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads every `.js` file in a directory (not recursive), sorted by file name; a path to a
/// single file reads that file.
pub fn read_skill_files(path: &std::path::Path) -> Result<Vec<SkillSource>, SkillFileError> {
    if path.is_file() {
        return Ok(vec![read_skill_file(path)?]);
    }
    let io = |source| SkillFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut files: Vec<_> = std::fs::read_dir(path)
        .map_err(io)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    files.retain(|p| p.extension().is_some_and(|e| e == "js"));
    files.sort();
    files.iter().map(|p| read_skill_file(p)).collect()
}
