//! The JSDoc header: description, types, capabilities and tests.

use super::SkillError;
use serde::{Deserialize, Serialize};

/// One parameter of a skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Param {
    /// Its name, or its source text for destructuring and defaults.
    pub name: String,
    /// The `@param {type}`, when documented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<String>,
    /// The `@param` text after the name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub doc: String,
}

/// One test of a skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TestCase {
    /// `@test [name:] code`: JavaScript that throws on failure (`assert` is in scope).
    Assert {
        /// Its name.
        name: String,
        /// The statements.
        code: String,
    },
    /// `@example call => expected`: the call must deep-equal the expected value.
    Example {
        /// Its name (the call text).
        name: String,
        /// A JS expression calling the skill.
        call: String,
        /// A JS expression for the expected value.
        expected: String,
    },
}

impl TestCase {
    /// The test's name, for reports.
    pub fn name(&self) -> &str {
        match self {
            TestCase::Assert { name, .. } | TestCase::Example { name, .. } => name,
        }
    }

    /// The test as written, for a prompt or a report: `call => expected`, or its code.
    pub fn written(&self) -> String {
        match self {
            TestCase::Example { call, expected, .. } => format!("{call} => {expected}"),
            TestCase::Assert { code, .. } => code.clone(),
        }
    }

    /// The body of an `async function` that throws when the test fails.
    pub fn to_js(&self) -> String {
        match self {
            TestCase::Assert { code, .. } => code.clone(),
            TestCase::Example { call, expected, .. } => {
                format!("assert.deepStrictEqual(await ({call}), ({expected}));")
            }
        }
    }
}

/// The parsed header of a skill's function.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Header {
    pub description: String,
    pub params: Vec<Param>,
    pub returns: Option<String>,
    pub capabilities: Vec<String>,
    pub tests: Vec<TestCase>,
    pub environment: Option<String>,
    pub namespace: Option<String>,
}

/// Splits a JSDoc body into (tag, text) blocks; the untagged lead has tag "".
fn blocks(jsdoc: &str) -> Vec<(String, String)> {
    let mut blocks: Vec<(String, String)> = vec![(String::new(), String::new())];
    for raw in jsdoc.lines() {
        let line = raw.trim_start();
        let line = line
            .strip_prefix('*')
            .map_or(line, |l| l.strip_prefix(' ').unwrap_or(l));
        let trimmed = line.trim_start();
        if let Some(tagged) = trimmed.strip_prefix('@') {
            let tag: String = tagged
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let rest = tagged[tag.len()..].trim_start().to_string();
            blocks.push((tag, rest));
        } else if let Some((_, text)) = blocks.last_mut() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(line.trim_end());
        }
    }
    for (_, text) in &mut blocks {
        *text = text.trim().to_string();
    }
    blocks
}

/// The `@skill NAME` in a JSDoc body, if any.
pub(super) fn skill_tag(jsdoc: &str) -> Option<String> {
    blocks(jsdoc)
        .into_iter()
        .find(|(tag, _)| tag == "skill")
        .and_then(|(_, text)| text.split_whitespace().next().map(str::to_string))
}

/// `{type} rest` -> (Some(type), rest).
fn braced_type(text: &str) -> (Option<String>, &str) {
    let Some(inner) = text.strip_prefix('{') else {
        return (None, text);
    };
    let mut depth = 1;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return (
                        Some(inner[..i].trim().to_string()),
                        inner[i + 1..].trim_start(),
                    );
                }
            }
            _ => {}
        }
    }
    (None, text)
}

impl Header {
    pub(super) fn parse(jsdoc: &str) -> Result<Header, SkillError> {
        let mut header = Header::default();
        let bad = |tag: &str, message: &str| SkillError::BadTag {
            tag: tag.to_string(),
            message: message.to_string(),
        };
        for (tag, text) in blocks(jsdoc) {
            match tag.as_str() {
                "" | "description" if !text.is_empty() => header.description = text,
                "param" | "arg" | "argument" => {
                    let (ty, rest) = braced_type(&text);
                    let mut words = rest.splitn(2, char::is_whitespace);
                    let name = words.next().unwrap_or_default();
                    if name.is_empty() {
                        return Err(bad(&tag, "expected `@param {type} name description`"));
                    }
                    let name = name.trim_start_matches('[').trim_end_matches(']');
                    let name = name.split('=').next().unwrap_or(name).to_string();
                    let doc = words.next().unwrap_or_default().trim();
                    header.params.push(Param {
                        name,
                        ty,
                        doc: doc.trim_start_matches("- ").to_string(),
                    });
                }
                "returns" | "return" => {
                    let (ty, rest) = braced_type(&text);
                    header.returns = Some(match (ty, rest.trim()) {
                        (Some(ty), "") => ty,
                        (Some(ty), doc) => format!("{ty} ({doc})"),
                        (None, doc) => doc.to_string(),
                    });
                }
                "capability" | "capabilities" => {
                    header.capabilities.extend(
                        text.split([',', ' ', '\n'])
                            .filter(|c| !c.is_empty() && *c != "none")
                            .map(str::to_string),
                    );
                }
                "example" => {
                    let Some((call, expected)) = text.rsplit_once("=>") else {
                        return Err(bad(&tag, "expected `@example call(args) => expected`"));
                    };
                    let call = call.trim().trim_end_matches("//").trim().to_string();
                    let expected = expected.trim().to_string();
                    if call.is_empty() || expected.is_empty() {
                        return Err(bad(&tag, "expected `@example call(args) => expected`"));
                    }
                    header.tests.push(TestCase::Example {
                        name: call.clone(),
                        call,
                        expected,
                    });
                }
                "test" => {
                    if text.is_empty() {
                        return Err(bad(
                            &tag,
                            "a test needs code: `@test [name:] assert.equal(f(1), 2)`",
                        ));
                    }
                    let (name, code) = match text.split_once(':') {
                        Some((name, code))
                            if !name.trim().is_empty()
                                && name
                                    .chars()
                                    .all(|c| c.is_alphanumeric() || " _-".contains(c)) =>
                        {
                            (name.trim().to_string(), code.trim().to_string())
                        }
                        _ => (format!("test {}", header.tests.len() + 1), text),
                    };
                    header.tests.push(TestCase::Assert { name, code });
                }
                "environment" => {
                    header.environment = text.split_whitespace().next().map(str::to_string)
                }
                "namespace" => {
                    header.namespace = text.split_whitespace().next().map(str::to_string)
                }
                _ => {}
            }
        }
        Ok(header)
    }
}

/// Declared parameters with the documented types and text merged in by position.
pub(super) fn merge_params(declared: &[String], documented: &[Param]) -> Vec<Param> {
    declared
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let doc = documented
                .iter()
                .find(|p| p.name == *text)
                .or(documented.get(i));
            Param {
                name: text.clone(),
                ty: doc.and_then(|d| d.ty.clone()),
                doc: doc.map(|d| d.doc.clone()).unwrap_or_default(),
            }
        })
        .collect()
}

/// `[async ]name(a: T, b) -> R`.
pub(super) fn signature(
    name: &str,
    is_async: bool,
    params: &[Param],
    returns: Option<&str>,
) -> String {
    let params: Vec<String> = params
        .iter()
        .map(|p| match &p.ty {
            Some(ty) => format!("{}: {ty}", p.name),
            None => p.name.clone(),
        })
        .collect();
    let prefix = if is_async { "async " } else { "" };
    let returns = returns
        .map(|r| format!(" -> {}", r.split(" (").next().unwrap_or(r)))
        .unwrap_or_default();
    format!("{prefix}{name}({}){returns}", params.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_multiline_tests_and_nested_types() {
        let header = Header::parse(
            "*\n * Groups.\n * Second line.\n * @param {Object<string, {a: number}>} map the map\n * @returns {number[]} ids\n * @test two lines: const x = 1;\n *   assert.equal(x, 1);\n * @capability kv.get, clock\n",
        )
        .unwrap();
        assert_eq!(header.description, "Groups.\nSecond line.");
        assert_eq!(
            header.params[0].ty.as_deref(),
            Some("Object<string, {a: number}>")
        );
        assert_eq!(header.params[0].doc, "the map");
        assert_eq!(header.returns.as_deref(), Some("number[] (ids)"));
        assert_eq!(header.capabilities, ["kv.get", "clock"]);
        assert_eq!(
            header.tests,
            [TestCase::Assert {
                name: "two lines".into(),
                code: "const x = 1;\n  assert.equal(x, 1);".into()
            }]
        );
    }

    #[test]
    fn examples_split_at_the_last_arrow() {
        let header = Header::parse("* @example apply(x => x * 2, 3) => 6").unwrap();
        assert_eq!(
            header.tests[0].to_js(),
            "assert.deepStrictEqual(await (apply(x => x * 2, 3)), (6));"
        );
        assert!(Header::parse("* @example nothing here").is_err());
    }
}
