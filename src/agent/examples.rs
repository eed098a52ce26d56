//! Examples written in a task's text, taken as the task's check.
//!
//! Users paste problem statements with worked examples in them (HumanEval-style JSDoc
//! prompts, kata descriptions). [`examples_in`] finds them, line by line, in these forms:
//!
//! - **doctest**: `>>> f(x)` with the value on the next line (or on several, until its
//!   brackets close), or on the same line after the call (`>>> f(x) == y`, `>>> f(x) y`);
//! - **inline**: a line that starts with a call (after an optional `Example:`/`Examples:`/
//!   `For example:` label, a bullet, or a `for` right before the call), then `=>`, `==`,
//!   `===`, `==>`, `->`, `-->`, `→`, `⇒`, `➞`, `=`, `returns`, `should return`, `should be`
//!   or `gives`, then the value;
//! - **Input/Output blocks**: `Input: ARGS` and, on one of the next lines, `Output: VALUE`;
//! - **"For ... the output should be"**: `For x = 1, y = [2] the output should be 3` (or
//!   `the result should be`, `should return`, `the result is`, `the output is`).
//!
//! ARGS is an argument list (`[1, 2], 3`) or named arguments (`n = 3, xs = [1]`); named ones
//! are put in the order of the parameters when the text declares `function NAME(params)`.
//! Expected values are JavaScript expressions (`[1, 2]`, `'abc'`, `true`, `null`, numbers,
//! nested arrays and objects), compared by deep equality in the sandbox; prose after a value
//! is cut off (`1 because ...`, a final full stop).
//!
//! **Python-isms.** `True`, `False` and `None` (outside strings) become `true`, `false` and
//! `null`. A tuple `(1, 2)` becomes the array `[1, 2]`, as a JavaScript reader takes it and
//! as HumanEval's JavaScript translations write it (`sum_product([])` is `(0, 1)` in the
//! prompt and `[0, 1]` in the tests); beside such results, `("Venus")` is a tuple of one,
//! `["Venus"]`, and the empty tuple `()` is `[]`. A doctest whose value line is empty (Python prints
//! nothing for `None`) is skipped.
//!
//! A bare word as a whole argument outside a doctest session (`is_happy(abcd) => true`) is a
//! string without its quotes, unless it names one of the function's parameters.
//!
//! **Names.** The calls must name the task's function. When every example calls one and the
//! same other name (the text's own spelling, e.g. `digitSum` for `--name digit_sum`), the
//! calls are renamed to the task's function; with several names, the calls of other names
//! are skipped. Without a given name, the task's name is the one name the examples call,
//! else the one function the text declares.
//!
//! **Formulas.** A text may write a formula under the function's own name (`tri(1) = 3`,
//! `tri(n) = 1 + n / 2`) and then ask for something else of that name (the list of the first
//! n + 1 values: `tri(3) = [1, 3, 2, 8]`). When it writes the function applied to one of its
//! parameters and its examples give arrays and single values both, the examples of another
//! kind than the last one's are values of the formula, skipped with that reason.
//!
//! Nothing here fails: an example line that cannot be used is returned in
//! [`TextExamples::skipped`] with the reason, for the user to see.

use std::collections::BTreeSet;
use std::fmt;

use oxc_allocator::Allocator;
use oxc_ast::ast::{
    BindingIdentifier, Expression, IdentifierReference, ParenthesizedExpression, SequenceExpression,
};
use oxc_ast_visit::Visit;
use oxc_parser::Parser;
use oxc_span::{SourceType, Span};
use serde::{Deserialize, Serialize};

use crate::sandbox::is_identifier;
use crate::skill::RESERVED_NAMES;

/// An example found in the text: `call` must deep-equal `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextExample {
    /// 1-based line of the text it starts on.
    pub line: usize,
    /// A JavaScript call of the task's function.
    pub call: String,
    /// A JavaScript expression for the value it must return.
    pub expected: String,
}

/// An example line that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedExample {
    /// 1-based line of the text.
    pub line: usize,
    /// The line, trimmed.
    pub text: String,
    /// Why it was not used.
    pub reason: String,
}

impl fmt::Display for SkippedExample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {:?}: {}", self.line, self.text, self.reason)
    }
}

/// What [`examples_in`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextExamples {
    /// The function the examples call: the given name, or the one the text names.
    pub name: Option<String>,
    /// The usable examples, in the text's order, without repeats.
    pub examples: Vec<TextExample>,
    /// The example lines that were not used.
    pub skipped: Vec<SkippedExample>,
}

/// Names an example may use besides the task's function.
const GLOBALS: &[&str] = &[
    "Infinity",
    "NaN",
    "undefined",
    "Math",
    "Number",
    "String",
    "Boolean",
    "Array",
    "Object",
    "JSON",
    "Set",
    "Map",
    "BigInt",
    "Date",
    "Symbol",
    "parseInt",
    "parseFloat",
];

/// What separates a call from its value on one line, longest first where one is the
/// prefix of another.
const SEPARATORS: &[&str] = &[
    "should return",
    "should be",
    "returns",
    "gives",
    "===",
    "==>",
    "==",
    "=>",
    "-->",
    "->",
    "→",
    "⇒",
    "➞",
    "=",
];

/// An example before its names are resolved and its JavaScript checked.
struct Candidate {
    line: usize,
    text: String,
    /// The function the call names; `None` for `Input:`/`For ...` forms, which call the
    /// task's function with `args`.
    callee: Option<String>,
    /// The argument list, without the parentheses.
    args: String,
    /// The expected value as written, or why there is none.
    expected: Result<String, String>,
}

/// Finds the examples in `text` (see the module documentation). `name` is the task's
/// function, when the user gave one.
pub fn examples_in(text: &str, name: Option<&str>) -> TextExamples {
    let lines: Vec<&str> = text.lines().map(strip_decoration).collect();
    let declared = declared_functions(&lines);
    let candidates = candidates(&lines);

    let mut callees: Vec<String> = Vec::new();
    for callee in candidates.iter().filter_map(|c| c.callee.as_ref()) {
        if !callees.contains(callee) {
            callees.push(callee.clone());
        }
    }
    let name = name
        .map(str::to_string)
        .or_else(|| match callees.as_slice() {
            [one] => Some(one.clone()),
            [] if declared.len() == 1 => Some(declared[0].0.clone()),
            _ => None,
        });
    let params = name
        .as_ref()
        .and_then(|n| declared.iter().find(|(d, _)| d == n))
        .map(|(_, params)| params.as_slice())
        .unwrap_or_default();

    let mut found = TextExamples {
        name: name.clone(),
        ..TextExamples::default()
    };
    // Whether the text writes the function as a formula of a parameter (`tri(n) = 1 + n / 2`).
    let mut formula = false;
    for candidate in candidates {
        let skip = |reason: String| SkippedExample {
            line: candidate.line,
            text: candidate.text.clone(),
            reason,
        };
        let Some(entry) = &name else {
            found.skipped.push(skip(match callees.len() {
                0 => "no function name: give the task's function name".into(),
                _ => format!(
                    "the examples call several functions ({}): give the task's function name",
                    callees.join(", ")
                ),
            }));
            continue;
        };
        if let Some(callee) = &candidate.callee
            && callee != entry
            && callees.len() > 1
        {
            found
                .skipped
                .push(skip(format!("it calls {callee}, not {entry}")));
            continue;
        }
        formula |= is_formula(entry, params, &candidate);
        match example(entry, params, &candidate) {
            Ok(example) => {
                let repeat = found
                    .examples
                    .iter()
                    .any(|e| e.call == example.call && e.expected == example.expected);
                if !repeat {
                    found.examples.push(example);
                }
            }
            Err(reason) => found.skipped.push(skip(reason)),
        }
    }
    one_element_tuples(&mut found.examples);
    if formula {
        formula_values(&mut found, &lines);
    }
    found
}

/// Whether `candidate` writes the task's function `entry` applied to one of its parameters
/// (`tri(n) = 1 + n / 2, if n is even`): the text defines a formula of that name, not an
/// example. Not in a doctest session, whose names are its own variables.
fn is_formula(entry: &str, params: &[String], candidate: &Candidate) -> bool {
    candidate.callee.as_deref() == Some(entry)
        && !candidate.text.trim_start().starts_with(">>>")
        && javascript(&format!("{entry}({})", candidate.args))
            .is_ok_and(|(_, refs)| params.iter().any(|p| refs.contains(p)))
}

/// What kind of value an expected value is, for [`formula_values`]; `None` for `null` and
/// `undefined`, which a function of either kind may return.
fn value_kind(expected: &str) -> Option<&'static str> {
    let expected = expected.trim();
    if matches!(expected, "null" | "undefined") {
        return None;
    }
    match expected.chars().next()? {
        '[' => Some("an array"),
        '{' => Some("an object"),
        _ => Some("a single value"),
    }
}

/// Values of a formula the text defines under the function's own name, taken out of the
/// check. HumanEval's `tri` writes the Tribonacci numbers as `tri(1) = 3` and
/// `tri(2) = 1 + (2 / 2) = 2` beside `tri(n) = 1 + n / 2`, but the function returns the list
/// of the first n + 1 of them (`tri(3) = [1, 3, 2, 8]`): no function passes both. When the
/// text writes such a formula ([`is_formula`]) and its examples give values of different
/// kinds (arrays and single values), the function's kind is that of the last example (a
/// text defines before it shows what to return), and the examples of another kind are
/// skipped, each with its line of `lines` and the reason. Without a formula, mixed kinds
/// stay: a function may return a list in one case and a count in another.
fn formula_values(found: &mut TextExamples, lines: &[&str]) {
    let Some(kind) = found
        .examples
        .iter()
        .rev()
        .find_map(|e| value_kind(&e.expected))
    else {
        return;
    };
    let (kept, other): (Vec<TextExample>, Vec<TextExample>) = std::mem::take(&mut found.examples)
        .into_iter()
        .partition(|e| value_kind(&e.expected).is_none_or(|k| k == kind));
    found.examples = kept;
    for example in other {
        found.skipped.push(SkippedExample {
            line: example.line,
            text: lines[example.line - 1].to_string(),
            reason: format!(
                "a value of the formula the text defines under this name: the last example \
                 returns {kind}, this one {}",
                value_kind(&example.expected).unwrap_or("nothing")
            ),
        });
    }
    found.skipped.sort_by_key(|s| s.line);
}

/// `("Venus")` among results such as `("Saturn", "Uranus")` is a tuple of one, the way the
/// text writes its other results (Python would read a string; HumanEval's tests of such a
/// problem expect `["Venus"]`): when some expected value is an array, a value that is one
/// parenthesized expression becomes a one-element array.
fn one_element_tuples(examples: &mut [TextExample]) {
    if !examples.iter().any(|e| e.expected.starts_with('[')) {
        return;
    }
    for example in examples {
        let allocator = Allocator::default();
        let parsed =
            Parser::new(&allocator, &example.expected, SourceType::cjs()).parse_expression();
        if let Ok(Expression::ParenthesizedExpression(inner)) = parsed
            && !matches!(inner.expression, Expression::SequenceExpression(_))
            && inner.span.start == 0
            && inner.span.end as usize == example.expected.len()
        {
            let text = &example.expected;
            example.expected = format!("[{}]", &text[1..text.len() - 1]);
        }
    }
}

/// The checked example for `candidate`, calling `entry`.
fn example(entry: &str, params: &[String], candidate: &Candidate) -> Result<TextExample, String> {
    let expected = candidate.expected.clone()?;
    let args = python_literals(&arguments(&candidate.args, params)?);
    let allowed = |name: &str| name == entry || GLOBALS.contains(&name);
    let (mut call, call_refs) = javascript(&format!("{entry}({args})"))
        .map_err(|e| format!("the call is not JavaScript: {e}"))?;
    if let Some(unknown) = call_refs.iter().find(|r| !allowed(r)) {
        // In a doctest session a bare name is a variable of an earlier line.
        let session = candidate.text.trim_start().starts_with(">>>");
        call = (!session)
            .then(|| unquoted_strings(entry, &args, params, &allowed))
            .flatten()
            .ok_or_else(|| {
            format!(
                "the call uses {unknown}, which the text does not define (a string without quotes?)"
            )
        })?;
    }
    let expected = value(&python_literals(&expected))?;
    Ok(TextExample {
        line: candidate.line,
        call,
        expected,
    })
}

/// `entry(args)` with each argument that is a bare word quoted, when every name the call
/// does not know is such an argument: `is_happy(abcd) => true` is `is_happy("abcd")`
/// (HumanEval's `is_happy` writes its strings so; not in a doctest session, whose names are
/// its variables). A word that names one of the function's parameters is
/// no string (`f(n)`, with `n` given in prose): `None` then, as for any other unknown name.
fn unquoted_strings(
    entry: &str,
    args: &str,
    params: &[String],
    allowed: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let quoted: Vec<String> = split_top_level(args, ',')
        .into_iter()
        .map(|arg| {
            let word = arg.trim();
            if is_identifier(word) && !allowed(word) && !params.iter().any(|p| p == word) {
                serde_json::to_string(word).expect("a string serializes")
            } else {
                word.to_string()
            }
        })
        .collect();
    let (call, refs) = javascript(&format!("{entry}({})", quoted.join(", "))).ok()?;
    refs.iter().all(|r| allowed(r)).then_some(call)
}

/// The longest prefix of `text` (cut at spaces outside brackets and strings, final `.`, `,`
/// and `;` removed) that is a JavaScript value.
fn value(text: &str) -> Result<String, String> {
    let text = text.trim();
    let mut cuts: Vec<usize> = top_level(text)
        .filter(|&(_, c)| c.is_whitespace())
        .map(|(i, _)| i)
        .collect();
    cuts.push(text.len());
    // A value that names something unknown says more than one that does not parse.
    let (mut unknown, mut syntax) = (None, None);
    for &cut in cuts.iter().rev() {
        let candidate = text[..cut].trim().trim_end_matches(['.', ',', ';']).trim();
        if candidate.is_empty() {
            continue;
        }
        // Python's empty tuple.
        let candidate = if candidate == "()" { "[]" } else { candidate };
        match javascript(candidate) {
            Ok((js, refs)) if refs.iter().all(|r| GLOBALS.contains(&r.as_str())) => {
                return Ok(js);
            }
            Ok((_, refs)) => {
                unknown.get_or_insert_with(|| {
                    format!(
                        "the expected value {candidate} uses {}, which the text does not define (a string without quotes?)",
                        refs.into_iter()
                            .find(|r| !GLOBALS.contains(&r.as_str()))
                            .unwrap_or_default()
                    )
                });
            }
            Err(e) => {
                syntax.get_or_insert_with(|| {
                    format!("the expected value {candidate:?} is not JavaScript: {e}")
                });
            }
        }
    }
    Err(unknown
        .or(syntax)
        .unwrap_or_else(|| "no expected value".into()))
}

/// The argument list for `args` as written: positional as is; named (`x = 1, y = 2`) in the
/// order of `params` when the text declares them, else in the order written.
fn arguments(args: &str, params: &[String]) -> Result<String, String> {
    let pieces = split_top_level(args, ',');
    let named: Vec<Option<(&str, &str)>> = pieces
        .iter()
        .map(|piece| {
            let (name, value) = piece.split_once('=')?;
            let (name, value) = (name.trim(), value.trim());
            (is_identifier(name) && !value.starts_with(['=', '>'])).then_some((name, value))
        })
        .collect();
    if named.iter().all(Option::is_none) {
        return Ok(args.trim().to_string());
    }
    let named: Vec<(&str, &str)> = named
        .into_iter()
        .collect::<Option<_>>()
        .ok_or("it mixes named and unnamed arguments")?;
    if params.is_empty() {
        return Ok(named.iter().map(|(_, v)| *v).collect::<Vec<_>>().join(", "));
    }
    let mut ordered = Vec::with_capacity(params.len());
    for param in params {
        match named.iter().find(|(n, _)| n == param) {
            Some((_, value)) => ordered.push(*value),
            None => return Err(format!("it gives no value for the parameter {param}")),
        }
    }
    if let Some((extra, _)) = named.iter().find(|(n, _)| !params.iter().any(|p| p == n)) {
        return Err(format!("the function has no parameter {extra}"));
    }
    Ok(ordered.join(", "))
}

/// Parses `text` as one JavaScript expression: the expression with each Python tuple `(a, b)`
/// written as the array `[a, b]`, and its free names; or why it is not one. A bare comma
/// expression (`1, 2` without parentheses) is refused.
fn javascript(text: &str) -> Result<(String, BTreeSet<String>), String> {
    let allocator = Allocator::default();
    let expression = Parser::new(&allocator, text, SourceType::cjs())
        .parse_expression()
        .map_err(|errors| {
            errors
                .first()
                .map_or_else(|| "it does not parse".to_string(), |e| e.to_string())
        })?;
    let mut names = Names::default();
    names.visit_expression(&expression);
    if names.sequences > names.tuples.len() {
        return Err("a comma expression without parentheses".into());
    }
    let mut js = text.as_bytes().to_vec();
    for span in &names.tuples {
        js[span.start as usize] = b'[';
        js[span.end as usize - 1] = b']';
    }
    let js = String::from_utf8(js).expect("only ASCII parentheses were replaced");
    Ok((
        js,
        names.referenced.difference(&names.bound).cloned().collect(),
    ))
}

/// Names referenced and bound in an expression, and its tuples: parenthesized comma
/// expressions, by span, and the count of all comma expressions.
#[derive(Default)]
struct Names {
    referenced: BTreeSet<String>,
    bound: BTreeSet<String>,
    tuples: Vec<Span>,
    sequences: usize,
}

impl<'a> Visit<'a> for Names {
    fn visit_identifier_reference(&mut self, it: &IdentifierReference<'a>) {
        self.referenced.insert(it.name.as_str().to_string());
    }

    fn visit_binding_identifier(&mut self, it: &BindingIdentifier<'a>) {
        self.bound.insert(it.name.as_str().to_string());
    }

    fn visit_parenthesized_expression(&mut self, it: &ParenthesizedExpression<'a>) {
        if matches!(it.expression, Expression::SequenceExpression(_)) {
            self.tuples.push(it.span);
        }
        oxc_ast_visit::walk::walk_parenthesized_expression(self, it);
    }

    fn visit_sequence_expression(&mut self, it: &SequenceExpression<'a>) {
        self.sequences += 1;
        oxc_ast_visit::walk::walk_sequence_expression(self, it);
    }
}

/// `True`, `False` and `None` outside strings as `true`, `false` and `null`.
fn python_literals(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(match word.as_str() {
            "True" => "true",
            "False" => "false",
            "None" => "null",
            other => other,
        });
        word.clear();
    };
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        if let Some(q) = quote {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        if c.is_alphanumeric() || c == '_' || c == '$' {
            word.push(c);
            continue;
        }
        flush(&mut word, &mut out);
        if matches!(c, '\'' | '"' | '`') {
            quote = Some(c);
        }
        out.push(c);
    }
    flush(&mut word, &mut out);
    out
}

/// The characters of `text` outside strings and brackets, with their byte offsets.
fn top_level(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    text.char_indices().filter(move |&(_, c)| {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            return false;
        }
        match c {
            '\'' | '"' | '`' => {
                quote = Some(c);
                false
            }
            '(' | '[' | '{' => {
                depth += 1;
                false
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0,
        }
    })
}

/// `text` split at `separator` outside strings and brackets; empty pieces dropped.
fn split_top_level(text: &str, separator: char) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for (i, c) in top_level(text) {
        if c == separator {
            pieces.push(text[start..i].trim());
            start = i + c.len_utf8();
        }
    }
    pieces.push(text[start..].trim());
    pieces.retain(|p| !p.is_empty());
    pieces
}

/// The byte offset just past the bracket that closes the one `text` starts with, if any.
fn closing_bracket(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// A line without comment decoration: leading `*`, `//`, `#`, `/**`, bullets; trailing `*/`.
fn strip_decoration(line: &str) -> &str {
    let mut line = line.trim();
    line = line.strip_suffix("*/").unwrap_or(line).trim_end();
    loop {
        let before = line;
        for prefix in ["/**", "/*", "//", "#", "*", "-", "•"] {
            if let Some(rest) = line.strip_prefix(prefix)
                && (rest.is_empty() || rest.starts_with(char::is_whitespace) || prefix.len() > 1)
            {
                line = rest.trim_start();
                break;
            }
        }
        if line == before {
            return line;
        }
    }
}

/// `line` without an `Example:`, `Examples:`, `Example 2:`, `For example:` or `e.g.` label,
/// or a `for` right before a call (`for f(7, 34) == 34`).
fn strip_label(line: &str) -> &str {
    if let Some(rest) = line
        .get(..4)
        .filter(|start| start.eq_ignore_ascii_case("for "))
        .map(|_| line[4..].trim_start())
        && starts_with_call(rest)
    {
        return rest;
    }
    for label in ["for example", "examples", "example", "e.g."] {
        if line
            .get(..label.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(label))
        {
            let rest = line[label.len()..].trim_start();
            let rest = rest
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start();
            let rest = rest.strip_prefix(':').unwrap_or(rest).trim_start();
            if rest.len() < line.len() - label.len() || label == "e.g." {
                return rest;
            }
        }
    }
    line
}

/// Whether `text` starts with a call: an identifier right before `(`.
fn starts_with_call(text: &str) -> bool {
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(text.len());
    name_end > 0
        && !text.starts_with(|c: char| c.is_ascii_digit())
        && text[name_end..].starts_with('(')
}

/// Functions the text declares (`function NAME(a, b = 1)`), with their parameter names.
fn declared_functions(lines: &[&str]) -> Vec<(String, Vec<String>)> {
    let mut declared: Vec<(String, Vec<String>)> = Vec::new();
    for line in lines {
        let Some(rest) = line
            .strip_prefix("function ")
            .or_else(|| line.strip_prefix("async function "))
        else {
            continue;
        };
        let Some((name, rest)) = rest.split_once('(') else {
            continue;
        };
        let name = name.trim();
        let Some(close) = closing_bracket(&format!("({rest}")) else {
            continue;
        };
        if !is_identifier(name) || declared.iter().any(|(d, _)| d == name) {
            continue;
        }
        let params = split_top_level(&rest[..close - 2], ',')
            .into_iter()
            .map(|p| {
                p.split('=')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .trim_start_matches("...")
                    .to_string()
            })
            .collect();
        declared.push((name.to_string(), params));
    }
    declared
}

/// A call at the start of `text`: (the function's name, its arguments, the rest of the line).
fn leading_call(text: &str) -> Option<(&str, &str, &str)> {
    let open = text.find('(')?;
    let name = &text[..open];
    if !is_identifier(name) || RESERVED_NAMES.contains(&name) || name == "function" {
        return None;
    }
    let close = open + closing_bracket(&text[open..])?;
    Some((name, &text[open + 1..close - 1], text[close..].trim()))
}

/// The value after a separator at the start of `rest`, if there is one.
fn after_separator(rest: &str) -> Option<&str> {
    SEPARATORS.iter().find_map(|sep| {
        let after = rest.strip_prefix(sep)?;
        // A word separator must end at a word boundary; `=` must not start `==` or `=>`.
        let boundary = match sep.chars().last() {
            Some(c) if c.is_alphabetic() => after.starts_with(char::is_whitespace),
            _ => !after.starts_with(['=', '>']),
        };
        boundary.then(|| after.trim())
    })
}

/// The value written on the lines after a doctest call: the next line, joined with the
/// following ones while its brackets stay open. Lines used are marked in `used`.
fn doctest_value(lines: &[&str], after: usize, used: &mut [bool]) -> Result<String, String> {
    let first = match lines.get(after + 1) {
        Some(line) if !line.is_empty() && !line.starts_with(">>>") => line,
        _ => return Err("no value follows the call (Python prints nothing for None)".into()),
    };
    let mut value = first.to_string();
    used[after + 1] = true;
    let mut at = after + 1;
    while is_open(&value) && at + 1 < lines.len() && at < after + 20 {
        at += 1;
        if lines[at].is_empty() || lines[at].starts_with(">>>") {
            break;
        }
        value.push(' ');
        value.push_str(lines[at]);
        used[at] = true;
    }
    Ok(value)
}

/// Whether `text` leaves a bracket open (outside strings).
fn is_open(text: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    depth > 0
}

/// Every line that looks like an example, in order.
fn candidates(lines: &[&str]) -> Vec<Candidate> {
    let mut found = Vec::new();
    let mut used = vec![false; lines.len()];
    for i in 0..lines.len() {
        if used[i] {
            continue;
        }
        let line = lines[i];
        let text = line.to_string();
        if let Some(rest) = line.strip_prefix(">>>") {
            let rest = rest.trim();
            let Some((callee, args, after)) = leading_call(rest) else {
                found.push(Candidate {
                    line: i + 1,
                    text,
                    callee: None,
                    args: String::new(),
                    expected: Err("not a call of a function".into()),
                });
                continue;
            };
            let expected = match (after_separator(after), after.is_empty()) {
                (Some(value), _) => Ok(value.to_string()),
                (None, true) => doctest_value(lines, i, &mut used),
                (None, false) => Ok(after.to_string()),
            };
            found.push(Candidate {
                line: i + 1,
                text,
                callee: Some(callee.to_string()),
                args: args.to_string(),
                expected,
            });
            continue;
        }
        let body = strip_label(line);
        // ASCII lower case keeps byte offsets, so they index `body` too.
        let lower = body.to_ascii_lowercase();
        if let Some(input) = lower.strip_prefix("input:").map(|_| body[6..].trim()) {
            let output = (i + 1..lines.len().min(i + 6))
                .take_while(|&j| {
                    let l = lines[j].to_ascii_lowercase();
                    !l.starts_with("input:") && !l.starts_with(">>>")
                })
                .find(|&j| lines[j].to_ascii_lowercase().starts_with("output:"));
            let expected = match output {
                Some(j) => {
                    used[j] = true;
                    Ok(lines[j][7..].trim().to_string())
                }
                None => Err("an Input: without an Output: line after it".into()),
            };
            found.push(Candidate {
                line: i + 1,
                text,
                callee: None,
                args: input.to_string(),
                expected,
            });
            continue;
        }
        if lower.starts_with("for ") {
            let phrase = [
                " the output should be ",
                " the result should be ",
                " should return ",
                " the result is ",
                " the output is ",
            ]
            .iter()
            .find_map(|p| lower.find(p).map(|at| (at, p.len())));
            if let Some((at, len)) = phrase {
                let args = body[4..at].trim().trim_end_matches(',');
                // Keep the named arguments; prose after them ("the sum is 6") is dropped.
                let named: Vec<&str> = split_top_level(args, ',')
                    .into_iter()
                    .take_while(|p| {
                        p.split_once('=')
                            .is_some_and(|(n, _)| is_identifier(n.trim()))
                    })
                    .collect();
                if !named.is_empty() {
                    found.push(Candidate {
                        line: i + 1,
                        text,
                        callee: None,
                        args: named.join(", "),
                        expected: Ok(body[at + len..].trim().to_string()),
                    });
                }
            }
            continue;
        }
        if let Some((callee, args, after)) = leading_call(body)
            && let Some(value) = after_separator(after)
        {
            found.push(Candidate {
                line: i + 1,
                text,
                callee: Some(callee.to_string()),
                args: args.to_string(),
                expected: Ok(value.to_string()),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(found: &TextExamples) -> Vec<(String, String)> {
        found
            .examples
            .iter()
            .map(|e| (e.call.clone(), e.expected.clone()))
            .collect()
    }

    fn pair(call: &str, expected: &str) -> (String, String) {
        (call.to_string(), expected.to_string())
    }

    #[test]
    fn doctest_examples_in_a_jsdoc_prompt() {
        let text = "/**\n * Keep the words longer than n letters.\n * >>> long_words(['ab', 'abcd'], 2)\n * ['abcd']\n * >>> long_words([], 1)\n * []\n * >>> long_words(['xyz', 'q'], 0) == ['xyz', 'q']\n */\nfunction long_words(words, n) {\n";
        let found = examples_in(text, None);
        assert_eq!(found.name.as_deref(), Some("long_words"));
        assert_eq!(
            pairs(&found),
            [
                pair("long_words(['ab', 'abcd'], 2)", "['abcd']"),
                pair("long_words([], 1)", "[]"),
                pair("long_words(['xyz', 'q'], 0)", "['xyz', 'q']"),
            ]
        );
        assert_eq!(found.examples[0].line, 3);
        assert!(found.skipped.is_empty(), "{:?}", found.skipped);
    }

    #[test]
    fn a_malformed_expected_value_is_skipped_and_the_others_kept() {
        // HumanEval_js/158's third example, as the suite has it.
        let text = " * find_max([\"name\", \"of\", \"string\"]) == \"string\"\n * find_max([\"aaaaaaa\", \"bb\" ,\"cc\"]) == \"\"aaaaaaa\"\n";
        let found = examples_in(text, Some("find_max"));
        assert_eq!(
            pairs(&found),
            [pair(
                "find_max([\"name\", \"of\", \"string\"])",
                "\"string\""
            )]
        );
        assert_eq!(found.skipped.len(), 1, "{:?}", found.skipped);
        assert_eq!(found.skipped[0].line, 2);
    }

    #[test]
    fn a_doctest_value_may_span_lines_or_follow_on_the_same_line() {
        let text = ">>> pairs(2)\n[[0, 1],\n [1, 0]]\n>>> pairs(0) []\n";
        let found = examples_in(text, Some("pairs"));
        assert_eq!(
            pairs(&found),
            [pair("pairs(2)", "[[0, 1], [1, 0]]"), pair("pairs(0)", "[]")]
        );
    }

    #[test]
    fn inline_forms_with_every_separator() {
        let text = "Count the vowels of a word.\nExamples:\n  vowels('tree') => 2\n  vowels('sky') == 0\n  vowels('AEI') ➞ 3\n  * vowels('') should return 0\n  vowels('oo') returns 2\n  For example: vowels('a') = 1\n  vowels('io') -> 2\n  for vowels('ea') == 2\n";
        let found = examples_in(text, Some("vowels"));
        assert_eq!(
            pairs(&found),
            [
                pair("vowels('tree')", "2"),
                pair("vowels('sky')", "0"),
                pair("vowels('AEI')", "3"),
                pair("vowels('')", "0"),
                pair("vowels('oo')", "2"),
                pair("vowels('a')", "1"),
                pair("vowels('io')", "2"),
                pair("vowels('ea')", "2"),
            ]
        );
        assert!(found.skipped.is_empty(), "{:?}", found.skipped);
        // `for` is a label only right before a call: prose that starts with it is prose.
        let prose = examples_in(
            "for each word w, vowels(w) counts a e i o u
",
            Some("vowels"),
        );
        assert!(pairs(&prose).is_empty(), "{:?}", pairs(&prose));
    }

    #[test]
    fn values_are_javascript_expressions_with_prose_cut_off() {
        let text = "f(1) => {a: [1, {b: null}], 'c d': 'x y'}\nf(2) => 'done'.\nf(3) => true because 3 is odd\nf(4) => -0.5 (rounded)\nf(5) => \"a => b\"\n";
        let found = examples_in(text, Some("f"));
        assert_eq!(
            pairs(&found),
            [
                pair("f(1)", "{a: [1, {b: null}], 'c d': 'x y'}"),
                pair("f(2)", "'done'"),
                pair("f(3)", "true"),
                pair("f(4)", "-0.5"),
                pair("f(5)", "\"a => b\""),
            ]
        );
    }

    #[test]
    fn python_literals_are_mapped_and_tuples_become_arrays() {
        let text = ">>> check([1, None], True)\nFalse\n>>> check('None True', False)\nNone\n>>> split_pair(3)\n(1, 2)\n>>> check([(1, 2)], True) == ((1, 'a, b'), [])\n>>> check(1)\n\n";
        let found = examples_in(text, Some("check"));
        assert_eq!(
            pairs(&found),
            [
                pair("check([1, null], true)", "false"),
                pair("check('None True', false)", "null"),
                pair("check([[1, 2]], true)", "[[1, 'a, b'], []]"),
            ]
        );
        let reasons: Vec<(usize, &str)> = found
            .skipped
            .iter()
            .map(|s| (s.line, s.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        // split_pair is another function than the task's, with several named: skipped.
        assert_eq!(reasons[0], (5, "it calls split_pair, not check"));
        assert!(reasons[1].1.contains("no value follows"), "{reasons:?}");
    }

    #[test]
    fn bare_words_as_the_only_unknown_arguments_are_strings() {
        // HumanEval_js/80's examples.
        let text = "/**\n * For example:\n * is_happy(a) => false\n * is_happy(abcd) => true\n * is_happy(xyy, 2) => false\n * is_happy(s) => true\n * is_happy(a + b) => true\n */\nfunction is_happy(s) {\n";
        let found = examples_in(text, Some("is_happy"));
        assert_eq!(
            pairs(&found),
            [
                pair("is_happy(\"a\")", "false"),
                pair("is_happy(\"abcd\")", "true"),
                pair("is_happy(\"xyy\", 2)", "false"),
            ]
        );
        // A parameter's name, and a word inside an expression, are not strings.
        let reasons: Vec<&str> = found.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "the call uses s, which the text does not define (a string without quotes?)",
                "the call uses a, which the text does not define (a string without quotes?)"
            ]
        );
    }

    #[test]
    fn for_named_arguments_the_result_should_be_a_tuple() {
        // HumanEval_js/112's examples (the second has no comma before "the result").
        let text = " * Example\n * For s = \"abcde\", c = \"ae\", the result should be ('bcd',false)\n * For s = \"abcdef\", c = \"b\"  the result should be ('acdef',false)\n */\nfunction reverse_delete(s, c) {\n";
        let found = examples_in(text, Some("reverse_delete"));
        assert_eq!(
            pairs(&found),
            [
                pair("reverse_delete(\"abcde\", \"ae\")", "['bcd',false]"),
                pair("reverse_delete(\"abcdef\", \"b\")", "['acdef',false]"),
            ]
        );
    }

    #[test]
    fn values_of_a_formula_under_the_functions_name_are_not_its_examples() {
        // HumanEval_js/130's text, abridged: the Tribonacci numbers under the function's
        // name, then what the function returns. Its tests expect tri(1) to be [1, 3].
        let text = "/**\n * Tribonacci sequence is defined by the recurrence:\n * tri(1) = 3\n * tri(n) = 1 + n / 2, if n is even.\n * For example:\n * tri(2) = 1 + (2 / 2) = 2\n * tri(4) = 3\n * Return a list of the first n + 1 numbers.\n * Examples:\n * tri(3) = [1, 3, 2, 8]\n */\nfunction tri(n) {\n";
        let found = examples_in(text, Some("tri"));
        assert_eq!(pairs(&found), [pair("tri(3)", "[1, 3, 2, 8]")]);
        let formula: Vec<(usize, &str)> = found
            .skipped
            .iter()
            .filter(|s| s.reason.contains("a value of the formula"))
            .map(|s| (s.line, s.text.as_str()))
            .collect();
        assert_eq!(
            formula,
            [
                (3, "tri(1) = 3"),
                (6, "tri(2) = 1 + (2 / 2) = 2"),
                (7, "tri(4) = 3")
            ]
        );
        assert!(found.skipped.windows(2).all(|w| w[0].line <= w[1].line));

        // A formula whose values are what the function returns keeps them (HumanEval's fib4).
        let text = " * fib4(0) -> 0\n * fib4(2) -> 2\n * fib4(n) -> fib4(n-1) + fib4(n-2) + fib4(n-3) + fib4(n-4).\n * >>> fib4(5)\n * 4\nfunction fib4(n) {\n";
        let found = examples_in(text, Some("fib4"));
        assert_eq!(
            pairs(&found),
            [
                pair("fib4(0)", "0"),
                pair("fib4(2)", "2"),
                pair("fib4(5)", "4")
            ]
        );

        // Without a formula, a list in one case and a count in another both stay
        // (HumanEval's split_words).
        let text = " * split_words(\"Hello world!\") ➞ [\"Hello\", \"world!\"]\n * split_words(\"abcdef\") == 3\nfunction split_words(txt) {\n";
        let found = examples_in(text, Some("split_words"));
        assert_eq!(
            pairs(&found),
            [
                pair("split_words(\"Hello world!\")", "[\"Hello\", \"world!\"]"),
                pair("split_words(\"abcdef\")", "3"),
            ]
        );
    }

    #[test]
    fn a_parenthesized_value_among_tuples_is_a_tuple_of_one() {
        // HumanEval_js/148's examples; its tests expect ["Venus"].
        let text = " * bf(\"Jupiter\", \"Neptune\") ==> (\"Saturn\", \"Uranus\")\n * bf(\"Earth\", \"Mercury\") ==> (\"Venus\")\n * bf(\"Mercury\", \"Mars\") ==> ()\n";
        let found = examples_in(text, Some("bf"));
        assert_eq!(
            pairs(&found),
            [
                pair("bf(\"Jupiter\", \"Neptune\")", "[\"Saturn\", \"Uranus\"]"),
                pair("bf(\"Earth\", \"Mercury\")", "[\"Venus\"]"),
                pair("bf(\"Mercury\", \"Mars\")", "[]"),
            ]
        );
        // Without a tuple beside it, parentheses are only parentheses.
        let found = examples_in(
            "f(1) => (2)\nf(2) => (\"a\")\nf(3) => (1 + 2) * 3\n",
            Some("f"),
        );
        assert_eq!(
            pairs(&found),
            [
                pair("f(1)", "(2)"),
                pair("f(2)", "(\"a\")"),
                pair("f(3)", "(1 + 2) * 3")
            ]
        );
    }

    #[test]
    fn the_only_function_named_is_renamed_to_the_tasks() {
        let text = "Examples:\n  digitSum(\"\") => 0\n  digitSum(\"aB\") => 66\n";
        let found = examples_in(text, Some("upper_sum"));
        assert_eq!(found.name.as_deref(), Some("upper_sum"));
        assert_eq!(
            pairs(&found),
            [
                pair("upper_sum(\"\")", "0"),
                pair("upper_sum(\"aB\")", "66")
            ]
        );
        // Without a given name, the examples' name is the task's.
        assert_eq!(examples_in(text, None).name.as_deref(), Some("digitSum"));
    }

    #[test]
    fn input_output_blocks_and_for_phrases_call_the_tasks_function() {
        let text = "Pick the smallest even value.\nExample 1:\n    Input: [4,2,3]\n    Output: [2, 1]\n    Explanation: 2 is the smallest even.\nExample 2:\n    Input: []\n    Output: []\nFor xs = [1, 2], k = 3 the output should be 5.\nFor k = 1, xs = [9], the sum is 10 the output should be \"10\".\n\nfunction pick(xs, k) {\n";
        let found = examples_in(text, None);
        assert_eq!(found.name.as_deref(), Some("pick"));
        assert_eq!(
            pairs(&found),
            [
                pair("pick([4,2,3])", "[2, 1]"),
                pair("pick([])", "[]"),
                pair("pick([1, 2], 3)", "5"),
                pair("pick([9], 1)", "\"10\""),
            ]
        );
        assert_eq!(found.examples[2].line, 9);
    }

    #[test]
    fn unusable_lines_are_reported_never_a_crash() {
        let text = ">>> x = 3\n>>> happy(a)\nfalse\nhappy('ab') => maybe yes\nhappy('(') => [1,\nInput: 'q'\nhappy(([) => 1\n";
        let found = examples_in(text, Some("happy"));
        assert!(found.examples.is_empty(), "{:?}", found.examples);
        let reasons: Vec<&str> = found.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        assert_eq!(reasons[0], "not a call of a function");
        assert!(reasons[1].contains("uses a, which the text does not define"));
        assert!(reasons[2].contains("uses maybe"), "{reasons:?}");
        assert!(reasons[3].contains("is not JavaScript"), "{reasons:?}");
        assert!(reasons[4].contains("without an Output"), "{reasons:?}");
        assert_eq!(
            found.skipped[0].to_string(),
            "line 1: \">>> x = 3\": not a call of a function"
        );
    }

    #[test]
    fn prose_is_not_an_example() {
        let text = "Write a function next_smallest() that returns the second smallest.\nIf sum(first, last) is odd, sort ascending.\nx is a power of n if n**k = x.\nfunction next_smallest(xs) {\n";
        let found = examples_in(text, Some("next_smallest"));
        assert!(
            found.examples.is_empty() && found.skipped.is_empty(),
            "{found:?}"
        );
    }

    #[test]
    fn several_names_without_a_given_one_are_reported() {
        let text = "a(1) => 1\nb(2) => 2\n";
        let found = examples_in(text, None);
        assert_eq!(found.name, None);
        assert_eq!(found.skipped.len(), 2);
        assert!(found.skipped[0].reason.contains("several functions (a, b)"));
    }
}
