//! Turning a model's reply into a skill.
//!
//! Small models answer with prose around one or more markdown code blocks, add "Example
//! usage:" calls after the function, export it as a module, pick their own function name, or
//! stop mid-function when they run out of tokens. [`extract`] takes the reply apart:
//!
//! - **Code**: the fenced block (```` ```js ````, ```` ```javascript ````, or unlabelled); with
//!   several, the one declaring the wanted function, else one declaring any function, else
//!   the largest. Without fences, from the first line that looks like code to the last.
//! - **Top-level statements**: a skill file holds declarations only (the sandbox runs the
//!   skill's function, nothing else). Calls, loops, `console.log` and variables that use the
//!   file's functions at the top level are dropped, with a note; `export` keywords are
//!   removed. `import` and `require` are rejected: there are no modules in the sandbox.
//! - **Name**: the wanted name when the file declares it. Otherwise the one function that no
//!   other function calls is renamed to it (its declaration, every reference and the
//!   comments' mentions, `@example` and `@test` lines included), with a note: the skill gets
//!   the task's name. Several candidates are an error naming them, and so is code that
//!   already uses the wanted name for something else.
//! - **Cut-off code**: when the complete code before the cut declares the wanted function,
//!   that part is kept (small models often copy more functions after the skill until the
//!   token limit); otherwise code that does not parse and leaves brackets, strings or the
//!   fence open is reported as truncated, not as a syntax error.
//! - **Repairs**: a JSDoc comment left open up to the function's declaration is closed, and
//!   stray fences around unfenced code are ignored (both seen from the 0.5B model).
//! - **Library copies**: a function of the library shown to the model (a completion prompt
//!   shows their code above the stub, and small models repeat it) is dropped from the reply,
//!   with a note, so that the skill calls the library's verified function instead of a copy.
//!   A local variable named like a library function it calls (`const mean = mean(xs)`, which
//!   can never run) is renamed (`meanValue`), the calls left to the library.
//! - **Tests**: a skill without any `@example` or `@test` is rejected, unless the task's check
//!   has examples that call it ([`extract_with_check`]): those become its tests.
//!
//! Every failure is an [`ExtractError`] whose message is written to be sent back to the model
//! verbatim in the next round.

use std::collections::BTreeSet;

use oxc_allocator::Allocator;
use oxc_ast::ast::{
    BindingIdentifier, CallExpression, Declaration, ExportDefaultDeclarationKind, Expression,
    IdentifierReference, Statement, VariableDeclarator,
};
use oxc_ast_visit::{Visit, walk};
use oxc_parser::Parser;
use oxc_span::{GetSpan, SourceType, Span};

use crate::skill::{
    Analysis, Entry, SkillError, SkillSource, TestCase, first_syntax_error, line_column,
};

/// A skill taken from a reply, with what was fixed on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Extracted {
    /// The parsed skill; its `code` is the cleaned file.
    pub skill: SkillSource,
    /// What was changed or chosen (dropped statements, the block used, a different name),
    /// for the journal and, if useful, for the model.
    pub notes: Vec<String>,
}

/// Why no skill could be taken from a reply. Each message tells the model what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    /// The reply holds no code at all.
    #[error(
        "the reply contains no JavaScript code: answer with one JavaScript function, with its JSDoc comment, in a ```javascript block"
    )]
    NoCode,
    /// The only code blocks are in another language.
    #[error("the code block is marked as {lang}, not JavaScript: write the function in JavaScript")]
    WrongLanguage {
        /// The block's language tag.
        lang: String,
    },
    /// The code stops before its end.
    #[error(
        "the reply was cut off before the code ended ({open}): write a shorter function, without explanations before or after it, and close every bracket"
    )]
    Truncated {
        /// What was left open.
        open: String,
    },
    /// The code does not parse.
    #[error(
        "the code does not parse: syntax error at line {line}, column {column} of the code block: {message}"
    )]
    Syntax {
        /// 1-based line in the extracted code.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The code loads modules.
    #[error(
        "the code uses import or require, but skills cannot load modules: use only built-in JavaScript and the library functions shown, called by name"
    )]
    Module,
    /// No function is declared.
    #[error(
        "the code declares no function: write `function NAME(...) {{ ... }}` with a JSDoc comment right above it"
    )]
    NoFunction,
    /// The wanted function is missing and the main function is ambiguous.
    #[error(
        "the task asks for a function named {wanted}, but the code declares {}: name the main function {wanted}",
        .found.join(", ")
    )]
    WhichFunction {
        /// The name the task suggested.
        wanted: String,
        /// The top-level functions found.
        found: Vec<String>,
    },
    /// The main function has another name, and the wanted one is taken.
    #[error(
        "the task asks for a function named {wanted}, but the code names its main function {found} and uses {wanted} for something else: name the main function {wanted}"
    )]
    NameTaken {
        /// The name the task asks for.
        wanted: String,
        /// The main function's name in the code.
        found: String,
    },
    /// The reply repeats a worked example of the prompt (its function, or its tests).
    #[error(
        "the reply repeats {name}, the worked example from the instructions, instead of doing the task: write a new function that does the task{}, with @example and @test lines of its own",
        .wanted.as_ref().map_or(String::new(), |w| format!(", named {w}"))
    )]
    CopiedExample {
        /// The worked example's function.
        name: String,
        /// The name the task asks for.
        wanted: Option<String>,
    },
    /// The skill has no tests.
    #[error(
        "{name} has no tests: add lines like `@example {name}(ARGS) => EXPECTED` or `@test NAME: assert.equal({name}(ARGS), EXPECTED)` to its JSDoc comment"
    )]
    NoTests {
        /// The skill's name.
        name: String,
    },
    /// The file is not a valid skill (bad name, malformed tag).
    #[error("{0}")]
    Skill(SkillError),
}

impl From<SkillError> for ExtractError {
    fn from(error: SkillError) -> Self {
        match error {
            SkillError::Syntax {
                line,
                column,
                message,
            } => ExtractError::Syntax {
                line,
                column,
                message,
            },
            SkillError::NoFunction => ExtractError::NoFunction,
            other => ExtractError::Skill(other),
        }
    }
}

/// Takes the skill out of a model's `reply`. `wanted` is the function name the task
/// suggested, if any. See the module documentation for the rules.
pub fn extract(reply: &str, wanted: Option<&str>) -> Result<Extracted, ExtractError> {
    extract_with_check(reply, wanted, &[], None, &[])
}

/// [`extract`] for a task whose check is `check`: a skill that comes with no tests of its
/// own takes the check's examples that call it as its tests (written into its JSDoc, with a
/// note), since the task's check is the authority on what the skill must do. A function
/// without a JSDoc comment gets `doc` (the comment of the stub the task gave, if any).
/// Functions named in `library` (the library skills shown to the model) are dropped from the
/// reply unless one of them is `wanted`: the skill calls the library's own.
pub fn extract_with_check(
    reply: &str,
    wanted: Option<&str>,
    check: &[TestCase],
    doc: Option<&str>,
    library: &[&str],
) -> Result<Extracted, ExtractError> {
    let mut notes = Vec::new();
    let (mut code, fence_closed) = pick_code(reply, wanted, &mut notes)?;
    // What the reply printed as its own tests, before top-level code is dropped.
    let printed = code.clone();
    if Analysis::of(&code).is_err()
        && let Some(closed) = close_doc_comment(&code)
        && Analysis::of(&closed).is_ok()
    {
        notes.push("the JSDoc comment was not closed before the function; closed it".into());
        code = closed;
    }
    let mut code = match clean(&code, &mut notes) {
        Ok(code) => code,
        Err(error @ ExtractError::Syntax { .. }) => {
            let open = left_open(&code)
                .or_else(|| (!fence_closed).then(|| "the code block was never closed".into()));
            match open {
                Some(open) => match salvage(&code, wanted, &mut notes) {
                    Some(code) => code,
                    None => return Err(ExtractError::Truncated { open }),
                },
                None => return Err(error),
            }
        }
        Err(error) => return Err(error),
    };
    let library: Vec<&str> = library
        .iter()
        .copied()
        .filter(|name| Some(*name) != wanted)
        .collect();
    if !library.is_empty() {
        code = without_library_copies(&code, &library, &mut notes);
        code = unshadowed(&code, &library, &mut notes);
    }
    let analysis = Analysis::of(&code)?;
    if analysis.references.contains("require") {
        return Err(ExtractError::Module);
    }
    if analysis.functions.is_empty() {
        return Err(ExtractError::NoFunction);
    }
    // The skill's function by the one rule (`Analysis::entry`); a reply that names the
    // task's function otherwise has it renamed, which only an unambiguous entry allows.
    let name = match (wanted, analysis.entry(wanted)) {
        (Some(w), Entry::Preferred(_)) => Some(w.to_string()),
        (Some(w), Entry::Ambiguous(_) | Entry::NoFunction) => {
            return Err(ExtractError::WhichFunction {
                wanted: w.to_string(),
                found: analysis.functions.iter().map(|f| f.name.clone()).collect(),
            });
        }
        (Some(w), Entry::OnlyRoot(root)) => {
            code = rename(&code, root, w).ok_or_else(|| ExtractError::NameTaken {
                wanted: w.to_string(),
                found: root.to_string(),
            })?;
            notes.push(format!(
                "the code named its function {root}; renamed it to {w}, the name the task asks for"
            ));
            Some(w.to_string())
        }
        (None, _) => None,
    };
    let mut skill = SkillSource::parse(&code, name.as_deref())?;
    if let Some(code) = doc.and_then(|doc| with_doc(&skill, doc)) {
        skill = SkillSource::parse(&code, Some(&skill.name))?;
        notes.push(format!(
            "{} came without a comment; it has the task's",
            skill.name
        ));
    }
    if skill.tests.is_empty() {
        let (code, from) = match with_check_as_tests(&skill, check) {
            Some(code) => (code, "the task's check is its tests"),
            None => with_check_as_tests(&skill, &printed_examples(&printed, &skill.name))
                .map(|code| {
                    (
                        code,
                        "its printed examples (`console.log(CALL); // VALUE`) are its tests",
                    )
                })
                .ok_or_else(|| ExtractError::NoTests {
                    name: skill.name.clone(),
                })?,
        };
        skill = SkillSource::parse(&code, Some(&skill.name))?;
        notes.push(format!("{} came with no tests; {from}", skill.name));
    }
    Ok(Extracted { skill, notes })
}

/// The examples `code` prints at its top level, a small model's usual tests:
/// `console.log(NAME(ARGS)); // VALUE` (the comment may say `Output:`, `=>`, `Expected:`,
/// `Should output`, ...), read as `NAME(ARGS) => VALUE` by the task-text reader
/// ([`examples_in`](crate::agent::examples_in)); a call of another function, or a value that
/// is no JavaScript value, is left out.
fn printed_examples(code: &str, name: &str) -> Vec<TestCase> {
    const SAYS: [&str; 9] = [
        "expected output:",
        "expected:",
        "output:",
        "should output",
        "should return",
        "should be",
        "returns",
        "=>",
        "->",
    ];
    let call_start = format!("console.log({name}(");
    let lines: Vec<String> = code
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            if !line.starts_with(&call_start) {
                return None;
            }
            let (statement, comment) = line.split_once("//")?;
            let call = statement
                .trim()
                .trim_end_matches(';')
                .trim_end()
                .strip_suffix(')')?;
            let call = &call["console.log(".len()..];
            let mut value = comment.trim();
            let lower = value.to_lowercase();
            if let Some(says) = SAYS.iter().find(|says| lower.starts_with(*says)) {
                value = value[says.len()..].trim();
            }
            (!value.is_empty()).then(|| format!("{call} => {value}"))
        })
        .collect();
    crate::agent::examples_in(&lines.join("\n"), Some(name))
        .examples
        .into_iter()
        .map(|example| TestCase::Example {
            name: example.call.clone(),
            call: example.call,
            expected: example.expected,
        })
        .collect()
}

/// `code` with a `/**` comment that runs into a declaration closed just before it: small
/// models often drop the ` */` line between a JSDoc comment and its function. `None` when no
/// comment is left open at a line that starts a declaration.
fn close_doc_comment(code: &str) -> Option<String> {
    let starts_declaration = |line: &str| {
        ["function ", "async function ", "const ", "let ", "class "]
            .iter()
            .any(|start| line.starts_with(start))
    };
    let mut out = String::with_capacity(code.len() + 4);
    let mut in_comment = false;
    let mut closed = false;
    for line in code.lines() {
        let trimmed = line.trim_start();
        if in_comment && starts_declaration(trimmed) {
            out.push_str(" */\n");
            in_comment = false;
            closed = true;
        }
        if !in_comment && trimmed.starts_with("/**") && !trimmed.contains("*/") {
            in_comment = true;
        } else if in_comment && trimmed.contains("*/") {
            in_comment = false;
        }
        out.push_str(line);
        out.push('\n');
    }
    closed.then_some(out)
}

/// `skill`'s code with `doc` written above its function, when the function has no JSDoc
/// comment of its own.
fn with_doc(skill: &SkillSource, doc: &str) -> Option<String> {
    let analysis = Analysis::of(&skill.code).ok()?;
    if analysis.function(&skill.name)?.jsdoc.is_some() {
        return None;
    }
    let declared = declaration_start(&skill.code, &skill.name)?;
    let line_start = skill.code[..declared].rfind('\n').map_or(0, |i| i + 1);
    let mut code = skill.code.clone();
    code.insert_str(line_start, &format!("{}\n", doc.trim()));
    Some(code)
}

/// `skill`'s code with the `check`'s tests that call it added to its JSDoc (examples as
/// `@example` lines, one-line assertions as `@test` lines); `None` when there are none, or
/// the skill has no JSDoc comment to hold them.
fn with_check_as_tests(skill: &SkillSource, check: &[TestCase]) -> Option<String> {
    let call = format!("{}(", skill.name);
    let lines: Vec<String> = check
        .iter()
        .filter_map(|test| match test {
            TestCase::Example {
                call: c, expected, ..
            } if c.starts_with(&call) => Some(format!(" * @example {c} => {expected}\n ")),
            // An environment task's check is a call of the skill (`await name();`) in the
            // task's world; as the skill's own test it runs in a fresh world, where an
            // action the game refuses still fails it.
            TestCase::Assert { code, .. }
                if code.contains(&call) && !code.contains('\n') && !code.contains("*/") =>
            {
                // A test's code is checked as a plain function's body: an awaited call is
                // returned instead, which the async test runner awaits all the same.
                let code = match code.strip_prefix("await ") {
                    Some(call) => format!("return {call}"),
                    None => code.clone(),
                };
                Some(format!(" * @test calls like the task check: {code}\n "))
            }
            _ => None,
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    let declared = declaration_start(&skill.code, &skill.name)?;
    let close = skill.code[..declared].rfind("*/")?;
    skill.code[..close].rfind("/**")?;
    let mut code = skill.code.clone();
    // On a line of its own, `*/` keeps its indentation: the tags go on lines before it.
    let line_start = code[..close].rfind('\n').map_or(0, |i| i + 1);
    if code[line_start..close].trim().is_empty() {
        let tags: String = lines
            .iter()
            .map(|l| format!("{}\n", l.trim_end()))
            .collect();
        code.insert_str(line_start, &tags);
    } else {
        code.insert_str(close, &lines.concat());
    }
    Some(code)
}

/// Where the top-level declaration of the function `name` starts in `code` (its `function`
/// or `async function` keyword, or its `const`/`let`): found by parsing, since the text
/// `function name` often comes first in the comment above it ("Write a function name
/// which ..."). `None` when `code` does not parse or declares no such function.
fn declaration_start(code: &str, name: &str) -> Option<usize> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, code, SourceType::unambiguous()).parse();
    if !parsed.diagnostics.is_empty() {
        return None;
    }
    parsed.program.body.iter().find_map(|statement| {
        let declares = match statement {
            Statement::FunctionDeclaration(f) => f.id.as_ref().is_some_and(|id| id.name == name),
            Statement::VariableDeclaration(v) => v.declarations.iter().any(|d| {
                d.id.get_binding_identifier()
                    .is_some_and(|id| id.name == name)
            }),
            _ => false,
        };
        declares.then_some(statement.span().start as usize)
    })
}

/// The complete part of cut-off code: the longest prefix ending before a top-level item
/// (a line starting at column 0 with a comment or a declaration) that parses and declares
/// the wanted function (any function without one). Small models often write the skill, then
/// copy more functions until the token limit cuts one in half.
fn salvage(code: &str, wanted: Option<&str>, notes: &mut Vec<String>) -> Option<String> {
    const STARTS: [&str; 7] = [
        "/*",
        "//",
        "function ",
        "async function",
        "const ",
        "let ",
        "class ",
    ];
    let cuts: Vec<usize> = code
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .filter(|&i| STARTS.iter().any(|s| code[i..].starts_with(s)))
        .collect();
    for &cut in cuts.iter().rev() {
        let prefix = &code[..cut];
        // A JSDoc block belongs to what follows it: cut before it, not after.
        if prefix.trim_end().ends_with("*/") || !declares(prefix, wanted) {
            continue;
        }
        let mut prefix_notes = Vec::new();
        if let Ok(cleaned) = clean(prefix, &mut prefix_notes) {
            notes.extend(prefix_notes);
            notes.push(
                "the reply was cut off; kept the complete code before the cut and dropped the rest"
                    .into(),
            );
            return Some(cleaned);
        }
    }
    None
}

/// `code` with the identifier `old` renamed to `new` everywhere: declarations, references,
/// and whole-word mentions in comments (the JSDoc's `@example` and `@test` lines). `None`
/// when `new` is already a name in the code, or the code does not parse.
fn rename(code: &str, old: &str, new: &str) -> Option<String> {
    #[derive(Default)]
    struct Identifiers<'n> {
        name: &'n str,
        spans: Vec<Span>,
        all: BTreeSet<String>,
    }
    impl<'a> Visit<'a> for Identifiers<'_> {
        fn visit_identifier_reference(&mut self, it: &IdentifierReference<'a>) {
            self.all.insert(it.name.to_string());
            if it.name == self.name {
                self.spans.push(it.span);
            }
        }
        fn visit_binding_identifier(&mut self, it: &BindingIdentifier<'a>) {
            self.all.insert(it.name.to_string());
            if it.name == self.name {
                self.spans.push(it.span);
            }
        }
    }
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, code, SourceType::unambiguous()).parse();
    if !parsed.diagnostics.is_empty() {
        return None;
    }
    let mut identifiers = Identifiers {
        name: old,
        ..Identifiers::default()
    };
    identifiers.visit_program(&parsed.program);
    if identifiers.all.contains(new) {
        return None;
    }
    for comment in &parsed.program.comments {
        let text = comment.span.source_text(code);
        let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
        for (at, _) in text.match_indices(old) {
            let before = text[..at].chars().next_back();
            let after = text[at + old.len()..].chars().next();
            if !before.is_some_and(is_word) && !after.is_some_and(is_word) {
                let start = comment.span.start + at as u32;
                identifiers
                    .spans
                    .push(Span::new(start, start + old.len() as u32));
            }
        }
    }
    identifiers.spans.sort_by_key(|s| s.start);
    identifiers.spans.dedup();
    Some(spliced(
        code,
        identifiers
            .spans
            .into_iter()
            .map(|span| (span, new))
            .collect(),
    ))
}

/// Each top-level function of `code` as (name, its parameters and body without
/// whitespace, semicolons or comments): two functions with the same shape are the same code under
/// whatever name. Empty when the code does not parse.
pub(crate) fn function_shapes(code: &str) -> Vec<(String, String)> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, code, SourceType::unambiguous()).parse();
    if !parsed.diagnostics.is_empty() {
        return Vec::new();
    }
    let comments: Vec<Span> = parsed.program.comments.iter().map(|c| c.span).collect();
    let shape = |span: Span| {
        let mut text = String::new();
        let mut at = span.start;
        for comment in comments
            .iter()
            .filter(|c| c.start >= span.start && c.end <= span.end)
        {
            text.push_str(&code[at as usize..comment.start as usize]);
            at = comment.end;
        }
        text.push_str(&code[at as usize..span.end as usize]);
        text.retain(|c| !c.is_whitespace() && c != ';');
        text
    };
    let mut shapes = Vec::new();
    for statement in &parsed.program.body {
        match statement {
            Statement::FunctionDeclaration(f) => {
                if let (Some(id), Some(body)) = (&f.id, &f.body) {
                    let span = Span::new(f.params.span.start, body.span.end);
                    shapes.push((id.name.to_string(), shape(span)));
                }
            }
            Statement::VariableDeclaration(v) => {
                for d in &v.declarations {
                    let (Some(id), Some(init)) = (d.id.get_binding_identifier(), &d.init) else {
                        continue;
                    };
                    let span = match init {
                        Expression::ArrowFunctionExpression(a) => {
                            Span::new(a.params.span.start, a.body.span().end)
                        }
                        Expression::FunctionExpression(f) => match &f.body {
                            Some(body) => Span::new(f.params.span.start, body.span.end),
                            None => continue,
                        },
                        _ => continue,
                    };
                    shapes.push((id.name.to_string(), shape(span)));
                }
            }
            _ => {}
        }
    }
    shapes
}

/// A fenced block of the reply.
struct Block {
    lang: String,
    text: String,
    closed: bool,
}

fn fenced_blocks(reply: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for line in reply.lines() {
        let trimmed = line.trim();
        match (&mut open, trimmed.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    lang: info.split_whitespace().next().unwrap_or("").to_lowercase(),
                    text: String::new(),
                    closed: false,
                });
            }
            (Some(block), Some(rest)) if rest.trim().is_empty() => {
                block.closed = true;
                blocks.push(open.take().expect("a block is open"));
            }
            (Some(block), _) => {
                block.text.push_str(line);
                block.text.push('\n');
            }
            (None, None) => {}
        }
    }
    blocks.extend(open);
    blocks
}

fn is_javascript(lang: &str) -> bool {
    matches!(
        lang,
        "" | "js" | "javascript" | "jsx" | "mjs" | "cjs" | "node" | "es6" | "ecmascript"
    )
}

/// Whether `text` declares the function `name` (or any function, for `None`).
fn declares(text: &str, name: Option<&str>) -> bool {
    match (Analysis::of(text), name) {
        (Ok(a), Some(name)) => a.function(name).is_some(),
        (Ok(a), None) => !a.functions.is_empty(),
        // Cut-off code does not parse; look at the text.
        (Err(_), Some(name)) => text.contains(&format!("function {name}")),
        (Err(_), None) => text.contains("function") || text.contains("=>"),
    }
}

/// The code to use and whether its fence was closed.
fn pick_code(
    reply: &str,
    wanted: Option<&str>,
    notes: &mut Vec<String>,
) -> Result<(String, bool), ExtractError> {
    let blocks: Vec<Block> = fenced_blocks(reply)
        .into_iter()
        .filter(|b| !b.text.trim().is_empty())
        .collect();
    if blocks.is_empty() {
        // No fences, or only stray ones (a lone closing fence after unfenced code).
        let without_fences: Vec<&str> = reply
            .lines()
            .filter(|line| !line.trim_start().starts_with("```"))
            .collect();
        return unfenced(&without_fences.join("\n"))
            .map(|code| (code, true))
            .ok_or(ExtractError::NoCode);
    }
    let js: Vec<&Block> = blocks.iter().filter(|b| is_javascript(&b.lang)).collect();
    let Some(largest) = js.iter().copied().max_by_key(|b| b.text.len()) else {
        return Err(ExtractError::WrongLanguage {
            lang: blocks[0].lang.clone(),
        });
    };
    let choice = wanted
        .and_then(|w| js.iter().copied().find(|b| declares(&b.text, Some(w))))
        .or_else(|| {
            js.iter()
                .copied()
                .filter(|b| declares(&b.text, None))
                .max_by_key(|b| b.text.len())
        })
        .unwrap_or(largest);
    if js.len() > 1 {
        notes.push(format!(
            "the reply has {} code blocks; used the one starting {:?}",
            js.len(),
            choice
                .text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
        ));
    }
    Ok((choice.text.clone(), choice.closed))
}

/// Code in a reply without fences: from the first line that starts like code to the last
/// line that ends like code (or to the end, when only indented lines follow it).
fn unfenced(reply: &str) -> Option<String> {
    const STARTS: [&str; 9] = [
        "/**",
        "/*",
        "function ",
        "async function",
        "const ",
        "let ",
        "var ",
        "export ",
        "class ",
    ];
    let lines: Vec<&str> = reply.lines().collect();
    let start = lines
        .iter()
        .position(|l| STARTS.iter().any(|s| l.trim_start().starts_with(s)))?;
    let last_code = lines
        .iter()
        .rposition(|l| l.trim_end().ends_with(['}', ';', ')']))
        .filter(|&end| end >= start);
    let end = match last_code {
        Some(end)
            if lines[end + 1..]
                .iter()
                .any(|l| !l.trim().is_empty() && !l.starts_with([' ', '\t'])) =>
        {
            end
        }
        _ => lines.len() - 1,
    };
    Some(lines[start..=end].join("\n") + "\n")
}

/// Collects the names a statement references.
#[derive(Default)]
struct References(BTreeSet<String>);

impl<'a> Visit<'a> for References {
    fn visit_identifier_reference(&mut self, it: &IdentifierReference<'a>) {
        self.0.insert(it.name.as_str().to_string());
    }
}

/// The code with only its declarations left (see the module documentation).
fn clean(code: &str, notes: &mut Vec<String>) -> Result<String, ExtractError> {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, code, SourceType::unambiguous()).parse();
    if let Some((line, column, message)) = first_syntax_error(code, &parsed) {
        return Err(ExtractError::Syntax {
            line,
            column,
            message,
        });
    }
    let program = &parsed.program;
    let is_function = |e: &Expression<'_>| {
        matches!(
            e,
            Expression::ArrowFunctionExpression(_) | Expression::FunctionExpression(_)
        )
    };
    // The file's functions, to tell helper constants from usage such as `const r = f(1)`.
    let mut functions = BTreeSet::new();
    for statement in &program.body {
        match statement {
            Statement::FunctionDeclaration(f) => {
                functions.extend(f.id.as_ref().map(|id| id.name.to_string()))
            }
            Statement::VariableDeclaration(v) => {
                for d in &v.declarations {
                    if d.init.as_ref().is_some_and(is_function) {
                        functions
                            .extend(d.id.get_binding_identifier().map(|id| id.name.to_string()));
                    }
                }
            }
            _ => {}
        }
    }

    let mut cuts: Vec<Span> = Vec::new();
    let drop_statement = |span: Span, cuts: &mut Vec<Span>, notes: &mut Vec<String>| {
        let text = span.source_text(code);
        let first = text.lines().next().unwrap_or("").trim();
        let shown: String = first.chars().take(60).collect();
        notes.push(format!(
            "dropped top-level code at line {} (a skill file holds declarations only): {shown}",
            line_column(code, span.start as usize).0
        ));
        cuts.push(with_leading_comments(
            program.comments.iter().map(|c| c.span),
            span,
            code,
        ));
    };
    for statement in &program.body {
        match statement {
            Statement::FunctionDeclaration(_) | Statement::ClassDeclaration(_) => {}
            Statement::VariableDeclaration(v) => {
                let mut refs = References::default();
                refs.visit_variable_declaration(v);
                let defines_function = v
                    .declarations
                    .iter()
                    .all(|d| d.init.as_ref().is_some_and(is_function));
                if refs.0.contains("require") {
                    return Err(ExtractError::Module);
                }
                if !defines_function && refs.0.iter().any(|r| functions.contains(r)) {
                    drop_statement(v.span, &mut cuts, notes);
                }
            }
            Statement::ImportDeclaration(_) => return Err(ExtractError::Module),
            Statement::ExportDeclaration(export) => match &export.declaration {
                declaration @ (Declaration::FunctionDeclaration(_)
                | Declaration::ClassDeclaration(_)
                | Declaration::VariableDeclaration(_)) => {
                    cuts.push(Span::new(export.span.start, declaration.span().start));
                }
                _ => drop_statement(export.span, &mut cuts, notes),
            },
            Statement::ExportDefaultDeclaration(export) => match &export.declaration {
                ExportDefaultDeclarationKind::FunctionDeclaration(f) if f.id.is_some() => {
                    cuts.push(Span::new(export.span.start, f.span.start));
                }
                ExportDefaultDeclarationKind::ClassDeclaration(c) if c.id.is_some() => {
                    cuts.push(Span::new(export.span.start, c.span.start));
                }
                _ => drop_statement(export.span, &mut cuts, notes),
            },
            Statement::EmptyStatement(s) => cuts.push(s.span),
            other => drop_statement(other.span(), &mut cuts, notes),
        }
    }
    if program.body.iter().any(|s| {
        matches!(
            s,
            Statement::ExportDeclaration(_)
                | Statement::ExportNamedDeclaration(_)
                | Statement::ExportDefaultDeclaration(_)
        )
    }) {
        notes.push("removed export: a skill is a plain function, not a module".into());
    }

    Ok(tidy(&spliced(
        code,
        cuts.into_iter().map(|cut| (cut, "")).collect(),
    )))
}

/// `code` with each span replaced by its text, in order of position; a span that overlaps
/// an earlier one is cut only where it goes beyond it.
fn spliced(code: &str, mut edits: Vec<(Span, &str)>) -> String {
    edits.sort_by_key(|(span, _)| span.start);
    let mut out = String::with_capacity(code.len());
    let mut at = 0;
    for (span, text) in edits {
        let start = (span.start as usize).max(at);
        out.push_str(&code[at..start]);
        out.push_str(text);
        at = at.max(span.end as usize);
    }
    out.push_str(&code[at..]);
    out
}

/// `code` (which parses) without its top-level declarations of the functions named in
/// `library`, each with the comments right before it; a note names each one dropped.
fn without_library_copies(code: &str, library: &[&str], notes: &mut Vec<String>) -> String {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, code, SourceType::unambiguous()).parse();
    if !parsed.diagnostics.is_empty() {
        return code.to_string();
    }
    let program = &parsed.program;
    let mut cuts: Vec<Span> = Vec::new();
    for statement in &program.body {
        let Statement::FunctionDeclaration(f) = statement else {
            continue;
        };
        let Some(name) = f.id.as_ref().map(|id| id.name.as_str()) else {
            continue;
        };
        if !library.contains(&name) {
            continue;
        }
        let start =
            with_comments_before(program.comments.iter().map(|c| c.span), f.span.start, code);
        cuts.push(Span::new(start, f.span.end));
        notes.push(format!(
            "dropped the reply's copy of the library function {name}: the skill calls the library's"
        ));
    }
    if cuts.is_empty() {
        return code.to_string();
    }
    tidy(&spliced(
        code,
        cuts.into_iter().map(|cut| (cut, "")).collect(),
    ))
}

/// `code` (which parses) with each local variable named like a `library` function it calls
/// renamed: `const mean = mean(xs)` can never run (the variable hides the function from its
/// own initialiser), and small models write it as soon as a library function has a noun's
/// name. The variable and its uses become `meanValue`; calls `mean(...)` stay the library's.
fn unshadowed(code: &str, library: &[&str], notes: &mut Vec<String>) -> String {
    #[derive(Default)]
    struct Uses<'l> {
        library: &'l [&'l str],
        /// Local variables named like a library function.
        shadows: BTreeSet<String>,
        /// Every identifier of the code.
        all: BTreeSet<String>,
        /// (name, span) of every binding and reference of a library name.
        mentions: Vec<(String, Span)>,
        /// Spans of references that are called, `name(...)`.
        called: Vec<Span>,
    }
    impl<'a> Visit<'a> for Uses<'_> {
        fn visit_variable_declarator(&mut self, it: &VariableDeclarator<'a>) {
            if let Some(id) = it.id.get_binding_identifier()
                && self.library.contains(&id.name.as_str())
            {
                self.shadows.insert(id.name.to_string());
            }
            walk::walk_variable_declarator(self, it);
        }
        fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
            if let Expression::Identifier(callee) = &it.callee {
                self.called.push(callee.span);
            }
            walk::walk_call_expression(self, it);
        }
        fn visit_identifier_reference(&mut self, it: &IdentifierReference<'a>) {
            self.all.insert(it.name.to_string());
            if self.library.contains(&it.name.as_str()) {
                self.mentions.push((it.name.to_string(), it.span));
            }
        }
        fn visit_binding_identifier(&mut self, it: &BindingIdentifier<'a>) {
            self.all.insert(it.name.to_string());
            if self.library.contains(&it.name.as_str()) {
                self.mentions.push((it.name.to_string(), it.span));
            }
        }
    }
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, code, SourceType::unambiguous()).parse();
    if !parsed.diagnostics.is_empty() {
        return code.to_string();
    }
    let mut uses = Uses {
        library,
        ..Uses::default()
    };
    uses.visit_program(&parsed.program);
    let mut renames: Vec<(Span, String)> = Vec::new();
    for name in &uses.shadows {
        let calls_it = uses
            .mentions
            .iter()
            .any(|(n, span)| n == name && uses.called.contains(span));
        if !calls_it {
            continue;
        }
        let Some(new) = (0..)
            .map(|i| match i {
                0 => format!("{name}Value"),
                i => format!("{name}Value{i}"),
            })
            .find(|candidate| !uses.all.contains(candidate))
        else {
            continue;
        };
        renames.extend(
            uses.mentions
                .iter()
                .filter(|(n, span)| n == name && !uses.called.contains(span))
                .map(|(_, span)| (*span, new.clone())),
        );
        notes.push(format!(
            "renamed the variable {name}, which hid the library function {name} it calls, to {new}"
        ));
    }
    if renames.is_empty() {
        return code.to_string();
    }
    spliced(
        code,
        renames
            .iter()
            .map(|(span, new)| (*span, new.as_str()))
            .collect(),
    )
}

/// Where the comments right before `start` (nothing but blanks between) begin.
fn with_comments_before(
    comments: impl DoubleEndedIterator<Item = Span>,
    start: u32,
    code: &str,
) -> u32 {
    let mut start = start;
    for comment in comments.rev() {
        if comment.end > start {
            continue;
        }
        if !code[comment.end as usize..start as usize].trim().is_empty() {
            break;
        }
        start = comment.start;
    }
    start
}

/// `span` extended backwards over the plain comments (not `/** */`) right before it, such as
/// `// Example usage:`.
fn with_leading_comments(
    comments: impl DoubleEndedIterator<Item = Span>,
    span: Span,
    code: &str,
) -> Span {
    let mut start = span.start;
    for comment in comments.rev().filter(|c| c.end <= span.start) {
        let between = &code[comment.end as usize..start as usize];
        if !between.trim().is_empty() || comment.source_text(code).starts_with("/**") {
            break;
        }
        start = comment.start;
    }
    Span::new(start, span.end)
}

/// Trailing spaces removed, at most one blank line in a row, one final newline.
fn tidy(code: &str) -> String {
    let mut out = String::new();
    let mut blank = 0;
    for line in code.trim().lines() {
        let line = line.trim_end();
        blank = if line.is_empty() { blank + 1 } else { 0 };
        if blank <= 1 {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// What the code leaves open at its end (brackets, a string, a comment), if anything.
/// Regular-expression literals are not recognised, which is fine for a diagnosis made only
/// after the code failed to parse.
fn left_open(code: &str) -> Option<String> {
    #[derive(PartialEq)]
    enum Mode {
        Code,
        LineComment,
        BlockComment,
        Quote(char),
        Template,
    }
    let mut mode = Mode::Code;
    // Open brackets; `$` marks a template's `${`.
    let mut stack: Vec<char> = Vec::new();
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        match mode {
            Mode::Code => match c {
                '/' if chars.peek() == Some(&'/') => mode = Mode::LineComment,
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    mode = Mode::BlockComment;
                }
                '\'' | '"' => mode = Mode::Quote(c),
                '`' => mode = Mode::Template,
                '(' | '[' | '{' => stack.push(c),
                // The guard pops for every closer; the `}` of a template's `${` resumes the template.
                ')' | ']' | '}' if stack.pop() == Some('$') => mode = Mode::Template,
                _ => {}
            },
            Mode::LineComment if c == '\n' => mode = Mode::Code,
            Mode::BlockComment if c == '*' && chars.peek() == Some(&'/') => {
                chars.next();
                mode = Mode::Code;
            }
            Mode::Quote(_) | Mode::Template if c == '\\' => {
                chars.next();
            }
            Mode::Quote(q) if c == q || c == '\n' => mode = Mode::Code,
            Mode::Template if c == '`' => mode = Mode::Code,
            Mode::Template if c == '$' && chars.peek() == Some(&'{') => {
                chars.next();
                stack.push('$');
                mode = Mode::Code;
            }
            _ => {}
        }
    }
    let unclosed = stack.len();
    match mode {
        Mode::BlockComment => Some("a comment is not closed".into()),
        Mode::Template => Some("a template string is not closed".into()),
        _ if unclosed > 0 => Some(format!(
            "{unclosed} bracket{} not closed",
            if unclosed == 1 { " is" } else { "s are" }
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Qwen2.5-Coder-0.5B typically answers: prose, a fenced function, usage calls after
    /// it, and an explanation.
    const QWEN: &str = r#"Certainly! Below is a JavaScript function that counts the vowels in a string.

```javascript
/**
 * Counts the vowels (a, e, i, o, u) in a string, ignoring case.
 * @param {string} text the text
 * @returns {number} how many vowels it has
 * @example countVowels("Hello") => 2
 * @test empty: assert.equal(countVowels(""), 0)
 */
function countVowels(text) {
  return (text.match(/[aeiou]/gi) || []).length;
}

// Example usage:
console.log(countVowels("Hello World")); // Output: 3
const result = countVowels("xyz");
console.log(result);
```

### Explanation:
1. The function uses a regular expression to find vowels.
2. It returns the number of matches."#;

    #[test]
    fn takes_the_function_from_a_small_models_reply() {
        let got = extract(QWEN, Some("countVowels")).unwrap();
        let code = &got.skill.code;
        assert_eq!(got.skill.name, "countVowels");
        assert_eq!(got.skill.tests.len(), 2);
        assert!(code.starts_with("/**\n * Counts the vowels"), "{code}");
        assert!(code.ends_with("}\n"), "{code}");
        for gone in [
            "console.log",
            "Example usage",
            "const result",
            "Explanation",
        ] {
            assert!(!code.contains(gone), "{gone:?} left in:\n{code}");
        }
        assert_eq!(got.notes.len(), 3, "{:?}", got.notes);
        assert!(got.notes[0].contains("line 13"), "{:?}", got.notes);
        assert!(
            got.notes
                .iter()
                .all(|n| n.starts_with("dropped top-level code"))
        );
    }

    #[test]
    fn accepts_every_fence_style_and_no_fence() {
        let body = "/**\n * Doubles.\n * @example double(2) => 4\n */\nfunction double(x) { return 2 * x; }\n";
        for reply in [
            format!("```js\n{body}```"),
            format!("```javascript\n{body}```\nDone."),
            format!("```JavaScript\n{body}```"),
            format!("Here:\n```\n{body}```"),
            format!("Here is the code:\n\n{body}\nThis doubles a number."),
            body.to_string(),
        ] {
            let got = extract(&reply, Some("double")).unwrap_or_else(|e| panic!("{reply}\n{e}"));
            assert_eq!(got.skill.code, body, "{reply}");
            assert!(got.notes.is_empty(), "{:?}", got.notes);
        }
    }

    #[test]
    fn picks_the_block_with_the_wanted_function() {
        let reply = "First a helper:\n```javascript\n/**\n * Other.\n * @example other(1) => 1\n */\nfunction other(x) { return x; }\n// this block is the longest one of all of them here\n```\nNow the solution:\n```javascript\n/**\n * Squares.\n * @example square(3) => 9\n */\nfunction square(x) { return x * x; }\n```\nUsage:\n```javascript\nconsole.log(square(4));\n```";
        let got = extract(reply, Some("square")).unwrap();
        assert_eq!(got.skill.name, "square");
        assert!(got.notes[0].contains("3 code blocks"), "{:?}", got.notes);
        // Without a wanted name: the largest block that declares a function.
        assert_eq!(extract(reply, None).unwrap().skill.name, "other");
    }

    #[test]
    fn renames_a_differently_named_function_to_the_tasks_name() {
        let reply = "```js\n/**\n * Sum of a list; total([]) is 0.\n * @example total([1, 2]) => 3\n * @test one: assert.equal(total([4]), 4)\n */\nfunction total(xs) { return xs.length ? xs[0] + total(xs.slice(1)) : 0; }\nconst totals = 1;\n```";
        let got = extract(reply, Some("sumList")).unwrap();
        assert_eq!(got.skill.name, "sumList");
        assert_eq!(
            got.skill.code,
            "/**\n * Sum of a list; sumList([]) is 0.\n * @example sumList([1, 2]) => 3\n * @test one: assert.equal(sumList([4]), 4)\n */\nfunction sumList(xs) { return xs.length ? xs[0] + sumList(xs.slice(1)) : 0; }\nconst totals = 1;\n"
        );
        assert_eq!(
            got.notes,
            [
                "the code named its function total; renamed it to sumList, the name the task asks for"
            ]
        );
        // With a helper, the function nobody calls is the main one.
        let helper = "```js\nfunction add(a, b) { return a + b; }\n/**\n * Sum.\n * @example total([1]) => 1\n */\nfunction total(xs) { return xs.reduce(add, 0); }\n```";
        assert_eq!(
            extract(helper, Some("sumList")).unwrap().skill.name,
            "sumList"
        );
        // The wanted name is taken by something else in the code: an error saying so.
        let taken = "```js\n/**\n * Eats.\n * @example feed(1) => 1\n */\nfunction feed(eat) { return eat; }\n```";
        let error = extract(taken, Some("eat")).unwrap_err();
        assert_eq!(
            error,
            ExtractError::NameTaken {
                wanted: "eat".into(),
                found: "feed".into()
            }
        );
        assert!(
            error.to_string().contains("name the main function eat"),
            "{error}"
        );
        // Two independent functions: ambiguous.
        let two = "```js\n/** A.\n * @example a() => 1 */\nfunction a() { return 1 }\n/** B.\n * @example b() => 2 */\nfunction b() { return 2 }\n```";
        let error = extract(two, Some("c")).unwrap_err();
        assert_eq!(
            error,
            ExtractError::WhichFunction {
                wanted: "c".into(),
                found: vec!["a".into(), "b".into()]
            }
        );
        assert!(
            error.to_string().contains("name the main function c"),
            "{error}"
        );
    }

    #[test]
    fn cut_off_code_is_truncated_not_a_syntax_error() {
        let cut = "Sure!\n```javascript\n/**\n * Flattens.\n * @example flat([[1]]) => [1]\n */\nfunction flat(xs) {\n  return xs.reduce((acc, x) => {\n    if (Array.isArray(x)) {\n      return acc.concat(flat(x";
        let error = extract(cut, Some("flat")).unwrap_err();
        assert_eq!(
            error,
            ExtractError::Truncated {
                open: "6 brackets are not closed".into()
            }
        );
        assert!(error.to_string().contains("cut off"), "{error}");
        let in_string = "```js\n/** S. @example s() => 'a' */\nfunction s() { return `abc ${1 + ";
        assert!(matches!(
            extract(in_string, None),
            Err(ExtractError::Truncated { .. })
        ));
        // Balanced but wrong: a real syntax error, with a position in the code block.
        let wrong =
            "```js\n/**\n * F.\n * @example f() => 1\n */\nfunction f() {\n  return 1 +;\n}\n```";
        let error = extract(wrong, None).unwrap_err();
        assert!(
            matches!(error, ExtractError::Syntax { line: 6, .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("line 6"), "{error}");
    }

    #[test]
    fn a_complete_skill_before_the_cut_is_kept() {
        let reply = "```javascript\n/**\n * Doubles.\n * @example double(2) => 4\n */\nfunction double(x) {\n  return x * 2;\n}\n\n/**\n * Triples.\n * @example triple(2) => 6\n */\nfunction triple(x) {\n  return x *";
        let extracted = extract(reply, Some("double")).unwrap();
        assert_eq!(extracted.skill.name, "double");
        assert!(!extracted.skill.code.contains("triple"));
        assert!(extracted.notes.iter().any(|n| n.contains("cut off")));
        // When the wanted function itself is cut, nothing is salvaged.
        assert!(matches!(
            extract(reply, Some("triple")),
            Err(ExtractError::Truncated { .. })
        ));
    }

    #[test]
    fn removes_exports_and_rejects_modules() {
        let exported = "```js\n/**\n * Id.\n * @example id(1) => 1\n */\nexport function id(x) { return x; }\nexport default id;\n```";
        let got = extract(exported, Some("id")).unwrap();
        assert!(
            got.skill.code.contains("\nfunction id(x)"),
            "{}",
            got.skill.code
        );
        assert!(!got.skill.code.contains("export"), "{}", got.skill.code);
        assert!(got.notes.iter().any(|n| n.contains("removed export")));

        let commonjs = "```js\n/** Id.\n * @example id(1) => 1 */\nfunction id(x) { return x; }\nmodule.exports = { id };\n```";
        let got = extract(commonjs, Some("id")).unwrap();
        assert!(!got.skill.code.contains("module.exports"));

        for reply in [
            "```js\nimport _ from 'lodash';\n/** @example f(1) => 1 */\nfunction f(x) { return _.identity(x); }\n```",
            "```js\nconst _ = require('lodash');\n/** @example f(1) => 1 */\nfunction f(x) { return _.identity(x); }\n```",
            "```js\n/** @example f(1) => 1 */\nfunction f(x) { return require('lodash').identity(x); }\n```",
        ] {
            assert_eq!(
                extract(reply, Some("f")).unwrap_err(),
                ExtractError::Module,
                "{reply}"
            );
        }
    }

    /// What the 0.5B model answered in a real episode: correct code with no tests of its own
    /// (the task's examples become them), and the same code unfenced but for a stray closing
    /// fence (it is code, not "no code").
    #[test]
    fn a_skill_without_tests_takes_the_tasks_examples_and_a_stray_fence_is_ignored() {
        let code = "/**\n * The product of all numbers in a list.\n * @param {number[]} xs\n */\nfunction product(xs) {\n  return xs.reduce((p, x) => p * x, 1);\n}\n";
        let check = [TestCase::Example {
            name: "product([2, 3, 4])".into(),
            call: "product([2, 3, 4])".into(),
            expected: "24".into(),
        }];
        for reply in [
            format!("```javascript\n{code}```\n"),
            format!("{code}```\n"),
        ] {
            assert_eq!(
                extract(&reply, Some("product")).unwrap_err(),
                ExtractError::NoTests {
                    name: "product".into()
                },
                "{reply}"
            );
            let got = extract_with_check(&reply, Some("product"), &check, None, &[]).unwrap();
            assert_eq!(got.skill.tests, check, "{}", got.skill.code);
            assert!(got.notes.iter().any(|n| n.contains("the task's check")));
        }
        // A JSDoc comment the model did not close before its function is closed for it.
        let unclosed = "```javascript\n/**\n * The product of all numbers in a list.\n * @example product([2, 3, 4]) => 24\n\nfunction product(xs) {\n  return xs.reduce((p, x) => p * x, 1);\n}\n```\n";
        let got = extract(unclosed, Some("product")).unwrap();
        assert_eq!(got.skill.tests, check, "{}", got.skill.code);
        assert!(got.notes.iter().any(|n| n.contains("not closed")));
        // Examples of another function are not this skill's tests.
        let other = [TestCase::Example {
            name: "sum([1])".into(),
            call: "sum([1])".into(),
            expected: "1".into(),
        }];
        assert!(matches!(
            extract_with_check(code, Some("product"), &other, None, &[]),
            Err(ExtractError::NoTests { .. })
        ));
    }

    /// HumanEval's `count_nums` (dev suite): the comment says "Write a function count_nums
    /// which ...", so the text `function count_nums` comes first inside the comment. The
    /// task's examples still go into the comment above the real declaration (they were
    /// refused as "no tests" in every round of a real episode).
    #[test]
    fn the_tasks_examples_find_the_declaration_not_its_name_in_the_comment() {
        let reply = "```javascript\n/**\n * Write a function count_nums which takes an array of integers.\n * >>> count_nums([]) == 0\n */\nfunction count_nums(arr) {\n  return arr.filter((n) => n > 0).length;\n}\n```\n";
        let check = [TestCase::Example {
            name: "count_nums([])".into(),
            call: "count_nums([])".into(),
            expected: "0".into(),
        }];
        let got = extract_with_check(reply, Some("count_nums"), &check, None, &[]).unwrap();
        assert_eq!(got.skill.tests, check, "{}", got.skill.code);
        // The same for a task's comment given to a function that came without one.
        let bare = "```javascript\nfunction count_nums(arr) {\n  return arr.length;\n}\n```\n";
        let doc = "/**\n * Write a function count_nums which counts.\n */";
        let got = extract_with_check(bare, Some("count_nums"), &check, Some(doc), &[]).unwrap();
        assert!(got.skill.code.starts_with("/**"), "{}", got.skill.code);
        assert_eq!(got.skill.tests, check, "{}", got.skill.code);
    }

    /// An environment task's check (a call of the skill in the task's world) becomes the
    /// skill's test when the model wrote none, as the 0.5B model did on TextCraft.
    #[test]
    fn a_skill_without_tests_takes_an_environment_checks_call_as_its_test() {
        let reply = "```javascript\n/**\n * Crafts oak planks.\n * @capability craft\n */\nfunction craftOakPlanks() {\n  return host.call(\"craft\", {item: \"oak planks\", count: 4, ingredients: [{item: \"oak logs\", count: 1}]});\n}\n```";
        let check = [TestCase::Assert {
            name: "the environment's check of craftOakPlanks()".into(),
            code: "await craftOakPlanks();".into(),
        }];
        let got = extract_with_check(reply, Some("craftOakPlanks"), &check, None, &[]).unwrap();
        assert_eq!(
            got.skill.tests,
            [TestCase::Assert {
                name: "calls like the task check".into(),
                code: "return craftOakPlanks();".into(),
            }],
            "{}",
            got.skill.code
        );
        assert!(
            got.skill
                .code
                .contains("\n * @test calls like the task check: return craftOakPlanks();\n */"),
            "{}",
            got.skill.code
        );
        // A multi-line assertion does not fit a JSDoc line: still no tests.
        let long = [TestCase::Assert {
            name: "suite".into(),
            code: "const x = craftOakPlanks();\nassert.ok(x);".into(),
        }];
        assert!(matches!(
            extract_with_check(reply, Some("craftOakPlanks"), &long, None, &[]),
            Err(ExtractError::NoTests { .. })
        ));
    }

    #[test]
    fn a_variable_hiding_a_library_function_it_calls_is_renamed() {
        let reply = "```js\n/**\n * Variance.\n * @example variance([1, 3]) => 1\n */\nfunction variance(xs) {\n  const mean = mean(xs);\n  return mean(xs.map((x) => (x - mean) ** 2));\n}\n```";
        let got = extract_with_check(reply, Some("variance"), &[], None, &["mean"]).unwrap();
        let code = &got.skill.code;
        assert!(code.contains("const meanValue = mean(xs);"), "{code}");
        assert!(
            code.contains("return mean(xs.map((x) => (x - meanValue) ** 2));"),
            "{code}"
        );
        assert!(
            got.notes.iter().any(|n| n.contains("to meanValue")),
            "{:?}",
            got.notes
        );
        // Not a library function: left as written.
        let plain = extract_with_check(reply, Some("variance"), &[], None, &[]).unwrap();
        assert!(plain.skill.code.contains("const mean = mean(xs);"));
        // A variable named like a library function it does not call is left alone.
        let unrelated = "```js\n/**\n * Twice.\n * @example twice(2) => 4\n */\nfunction twice(x) {\n  const mean = x * 2;\n  return mean;\n}\n```";
        let got = extract_with_check(unrelated, Some("twice"), &[], None, &["mean"]).unwrap();
        assert!(got.skill.code.contains("const mean = x * 2;"));
    }

    #[test]
    fn keeps_helper_constants_and_drops_usage() {
        let reply = "```js\nconst VOWELS = new Set(['a', 'e']);\nconst isVowel = (c) => VOWELS.has(c);\n/**\n * Vowels.\n * @example vowels('ab') => 1\n */\nfunction vowels(s) { return [...s].filter(isVowel).length; }\nconst n = vowels('aaa');\nfor (const w of ['a']) { vowels(w); }\n```";
        let got = extract(reply, Some("vowels")).unwrap();
        let code = &got.skill.code;
        assert!(code.starts_with("const VOWELS = new Set"), "{code}");
        assert!(code.contains("const isVowel"), "{code}");
        assert!(
            !code.contains("const n =") && !code.contains("for ("),
            "{code}"
        );
        assert_eq!(got.notes.len(), 2, "{:?}", got.notes);
    }

    #[test]
    fn rejects_replies_without_code_function_or_tests() {
        assert_eq!(
            extract("I cannot help with that.", None).unwrap_err(),
            ExtractError::NoCode
        );
        assert_eq!(
            extract("```python\ndef f():\n    return 1\n```", None).unwrap_err(),
            ExtractError::WrongLanguage {
                lang: "python".into()
            }
        );
        assert_eq!(
            extract("```js\nconst x = 1;\n```", None).unwrap_err(),
            ExtractError::NoFunction
        );
        let untested = "```js\n/**\n * Adds.\n * @param {number} a\n */\nfunction add(a, b) { return a + b; }\nconsole.log(add(1, 2));\n```";
        let error = extract(untested, Some("add")).unwrap_err();
        assert_eq!(error, ExtractError::NoTests { name: "add".into() });
        assert!(
            error.to_string().contains("@example add(ARGS) => EXPECTED"),
            "{error}"
        );
        let bad_tag = "```js\n/**\n * F.\n * @example f(1)\n */\nfunction f(x) { return x }\n```";
        assert!(matches!(
            extract(bad_tag, None).unwrap_err(),
            ExtractError::Skill(SkillError::BadTag { .. })
        ));
    }

    #[test]
    fn printed_examples_are_the_tests_of_a_skill_that_has_none() {
        // What the 0.5B model wrote for the dev suite's `is_happy` and `do_algebra`.
        let reply = "```javascript\n/**\n * Whether every 3 consecutive letters are distinct.\n */\nfunction is_happy(s) {\n  return s.length >= 3;\n}\n\n// Test cases\nconsole.log(is_happy(\"a\"));        // false\nconsole.log(is_happy(\"abcd\"));    // Output: true\nconsole.log(is_happy(adb));       // true\nconsole.log(other(\"xyz\")); // true\nconsole.log(is_happy(\"aabb\")); // Should output false\nconsole.log(is_happy(\"xy\"));\n```";
        let extracted = extract(reply, Some("is_happy")).unwrap();
        let tests: Vec<String> = extracted
            .skill
            .tests
            .iter()
            .map(TestCase::written)
            .collect();
        // A bare word is a string, as in a task's text (`adb`); another function and a line
        // without a value are left out.
        assert_eq!(
            tests,
            [
                "is_happy(\"a\") => false",
                "is_happy(\"abcd\") => true",
                "is_happy(\"adb\") => true",
                "is_happy(\"aabb\") => false"
            ]
        );
        assert!(
            extracted
                .notes
                .iter()
                .any(|n| n.contains("its printed examples")),
            "{:?}",
            extracted.notes
        );
        assert!(!extracted.skill.code.contains("console.log"));
        // The task's check comes first.
        let check = [TestCase::Example {
            name: "c".into(),
            call: "is_happy(\"abc\")".into(),
            expected: "true".into(),
        }];
        let extracted = extract_with_check(reply, Some("is_happy"), &check, None, &[]).unwrap();
        assert_eq!(extracted.skill.tests.len(), 1);
    }

    #[test]
    fn function_shapes_ignore_names_spacing_and_comments() {
        let a = function_shapes(
            "/** A. */\nfunction a(xs) {\n  // sum\n  return xs.reduce((s, x) => s + x, 0);\n}\nconst b = (x) => x + 1;",
        );
        let same = function_shapes("function other(xs){return xs.reduce((s,x)=>s+x,0)}");
        assert_eq!(a.len(), 2);
        assert_eq!((a[0].0.as_str(), a[1].0.as_str()), ("a", "b"));
        assert_eq!(a[0].1, same[0].1);
        assert_eq!(a[1].1, "(x)=>x+1");
        assert!(function_shapes("function (").is_empty());
    }

    #[test]
    fn finds_what_is_left_open() {
        assert_eq!(left_open("function f() { return [1, 2]; }"), None);
        assert_eq!(left_open("f('}', \"{\", `${'{'}`) // {"), None);
        assert_eq!(
            left_open("/* { */ g(").as_deref(),
            Some("1 bracket is not closed")
        );
        assert_eq!(
            left_open("x = `a ${b} c").as_deref(),
            Some("a template string is not closed")
        );
        assert_eq!(
            left_open("/** doc").as_deref(),
            Some("a comment is not closed")
        );
    }
}
