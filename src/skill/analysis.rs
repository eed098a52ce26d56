//! Static analysis of a skill file with the oxc JavaScript parser.

use super::SkillError;
use oxc_allocator::Allocator;
use oxc_ast::ast::{
    Argument, BindingIdentifier, CallExpression, Expression, FormalParameters, IdentifierReference,
    Program, Statement, StringLiteral,
};
use oxc_ast_visit::{Visit, walk};
use oxc_parser::{Parser, ParserReturn};
use oxc_span::{GetSpan, SourceType, Span};
use std::collections::{BTreeMap, BTreeSet};

/// What the parser learned about a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Top-level functions (declarations, and `const f = function/arrow`), in file order.
    pub functions: Vec<FunctionInfo>,
    /// Every top-level name the file declares.
    pub declared: BTreeSet<String>,
    /// Names referenced but bound nowhere in the file.
    pub references: BTreeSet<String>,
    /// The host functions the file calls by name: `host.call("name", ...)`.
    pub host_calls: BTreeSet<String>,
    /// True when the file uses `host` other than in `host.call("name", ...)`: a computed
    /// name, or an alias (`const h = host`), which hide what it calls.
    pub computed_host_call: bool,
}

/// A top-level function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    /// Its name.
    pub name: String,
    /// Each parameter's source text (`xs`, `n = 1`, `...rest`, `{a, b}`).
    pub params: Vec<String>,
    /// `async function` or `async () =>`.
    pub is_async: bool,
    /// The text of the `/** ... */` block right before it, without the delimiters.
    pub jsdoc: Option<String>,
    /// Names referenced inside it.
    pub references: BTreeSet<String>,
}

/// The answer of [`Analysis::entry`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<'a> {
    /// The file declares the preferred name.
    Preferred(&'a str),
    /// The only function no other function calls.
    OnlyRoot(&'a str),
    /// Several candidates, in file order (helpers usually come first, the skill last).
    Ambiguous(Vec<&'a str>),
    /// The file declares no function.
    NoFunction,
}

impl Analysis {
    /// Parses `code` as a script and analyses it.
    pub fn of(code: &str) -> Result<Analysis, SkillError> {
        let allocator = Allocator::default();
        let program = &parse(&allocator, code)?;
        let mut analysis = Analysis::default();
        for statement in &program.body {
            analysis.add_top_level(program, statement, code);
        }
        let mut names = Names::default();
        names.visit_program(program);
        analysis.host_calls = std::mem::take(&mut names.host_calls);
        analysis.computed_host_call =
            names.computed_host_call || names.host_references > names.literal_host_calls;
        analysis.references = names.free();
        Ok(analysis)
    }

    /// The top-level function called `name`.
    pub fn function(&self, name: &str) -> Option<&FunctionInfo> {
        self.functions.iter().find(|f| f.name == name)
    }

    /// The top-level functions no other top-level function references, in file order: the
    /// candidates for a file's skill.
    fn root_functions(&self) -> Vec<&str> {
        let called: BTreeSet<&str> = self
            .functions
            .iter()
            .flat_map(|f| f.references.iter().filter(move |r| **r != f.name))
            .map(String::as_str)
            .collect();
        self.functions
            .iter()
            .map(|f| f.name.as_str())
            .filter(|name| !called.contains(name))
            .collect()
    }

    /// Which function of the file is the skill, when no `@skill` tag says: the one rule every
    /// reader of skill code (a file, a stored row, a model's reply) applies. `preferred` (a
    /// file's stem, a stored or requested name) wins when the file declares it; otherwise the
    /// function no other calls, when there is exactly one.
    pub fn entry(&self, preferred: Option<&str>) -> Entry<'_> {
        if let Some(found) = preferred.and_then(|p| self.function(p)) {
            return Entry::Preferred(found.name.as_str());
        }
        match self.root_functions().as_slice() {
            [] if self.functions.is_empty() => Entry::NoFunction,
            [only] => Entry::OnlyRoot(only),
            // Every function is called by another (mutual recursion): all are candidates.
            [] => Entry::Ambiguous(self.functions.iter().map(|f| f.name.as_str()).collect()),
            roots => Entry::Ambiguous(roots.to_vec()),
        }
    }

    fn add_top_level(&mut self, program: &Program<'_>, statement: &Statement<'_>, code: &str) {
        match statement {
            Statement::FunctionDeclaration(function) => {
                if let Some(id) = &function.id {
                    self.declared.insert(id.name.as_str().to_string());
                    let mut names = Names::default();
                    names.visit_statement(statement);
                    self.functions.push(FunctionInfo {
                        name: id.name.as_str().to_string(),
                        params: params_text(&function.params, code),
                        is_async: function.r#async,
                        jsdoc: jsdoc_before(program, function.span, code),
                        references: names.free(),
                    });
                }
            }
            Statement::VariableDeclaration(declaration) => {
                for declarator in &declaration.declarations {
                    for id in declarator.id.get_binding_identifiers() {
                        self.declared.insert(id.name.as_str().to_string());
                    }
                    let (Some(id), Some(init)) =
                        (declarator.id.get_binding_identifier(), &declarator.init)
                    else {
                        continue;
                    };
                    let (params, is_async) = match init {
                        Expression::ArrowFunctionExpression(arrow) => {
                            (&arrow.params, arrow.r#async)
                        }
                        Expression::FunctionExpression(function) => {
                            (&function.params, function.r#async)
                        }
                        _ => continue,
                    };
                    let mut names = Names::default();
                    names.visit_expression(init);
                    self.functions.push(FunctionInfo {
                        name: id.name.as_str().to_string(),
                        params: params_text(params, code),
                        is_async,
                        jsdoc: jsdoc_before(program, declaration.span, code),
                        references: names.free(),
                    });
                }
            }
            Statement::ClassDeclaration(class) => {
                if let Some(id) = &class.id {
                    self.declared.insert(id.name.as_str().to_string());
                }
            }
            _ => {}
        }
    }
}

/// `code` with every free reference to a name among `renames`' keys (a name the file binds
/// nowhere, as [`Analysis::references`] counts them) replaced by its value, and every string
/// literal whose whole value is among `strings`' keys replaced by its value (in the same
/// quotes). Comments, property names, bound names and other strings are left as they are.
/// Also returns the keys of `strings` that were found and replaced.
pub(crate) fn rename_free_references(
    code: &str,
    renames: &BTreeMap<String, String>,
    strings: &BTreeMap<String, String>,
) -> Result<(String, BTreeSet<String>), SkillError> {
    let allocator = Allocator::default();
    let program = parse(&allocator, code)?;
    let mut names = Names::default();
    names.visit_program(&program);
    let mut edits: Vec<(Span, String)> = names
        .reference_spans
        .iter()
        .map(|span| (*span, span.source_text(code)))
        .filter(|(_, name)| !names.bound.contains(*name))
        .filter_map(|(span, name)| Some((span, renames.get(name)?.clone())))
        .collect();
    let mut literals = StringLiterals::default();
    literals.visit_program(&program);
    let mut replaced = BTreeSet::new();
    for (span, value) in &literals.0 {
        let Some(to) = strings.get(value) else {
            continue;
        };
        let quote = &span.source_text(code)[..1];
        edits.push((*span, format!("{quote}{to}{quote}")));
        replaced.insert(value.clone());
    }
    edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    let mut renamed = code.to_string();
    for (span, to) in edits {
        renamed.replace_range(span.start as usize..span.end as usize, &to);
    }
    Ok((renamed, replaced))
}

/// Parses `code` as a script; its first syntax error, located, if it has one.
fn parse<'a>(allocator: &'a Allocator, code: &'a str) -> Result<Program<'a>, SkillError> {
    let parsed = Parser::new(allocator, code, SourceType::cjs()).parse();
    if let Some((line, column, message)) = first_syntax_error(code, &parsed) {
        return Err(SkillError::Syntax {
            line,
            column,
            message,
        });
    }
    Ok(parsed.program)
}

/// Where a parse of `code` first went wrong and what the parser said: 1-based line and
/// column, and the message. None when it parsed cleanly.
pub(crate) fn first_syntax_error(
    code: &str,
    parsed: &ParserReturn<'_>,
) -> Option<(usize, usize, String)> {
    let diagnostic = parsed.diagnostics.first()?;
    let offset = diagnostic.labels.first().map_or(0, |l| l.offset() as usize);
    let (line, column) = line_column(code, offset);
    Some((line, column, diagnostic.message.to_string()))
}

fn params_text(params: &FormalParameters<'_>, code: &str) -> Vec<String> {
    let mut texts: Vec<String> = params
        .items
        .iter()
        .map(|p| p.span.source_text(code).to_string())
        .collect();
    if let Some(rest) = &params.rest {
        texts.push(rest.span().source_text(code).to_string());
    }
    texts
}

/// The JSDoc block that ends right before `span` (only whitespace between them).
fn jsdoc_before(program: &Program<'_>, span: Span, code: &str) -> Option<String> {
    let comment = program
        .comments
        .iter()
        .rfind(|c| c.is_block() && c.span.end <= span.start)?;
    let text = comment.span.source_text(code);
    let between = &code[comment.span.end as usize..span.start as usize];
    if !text.starts_with("/**") || !between.trim().is_empty() {
        return None;
    }
    Some(
        text.trim_start_matches("/**")
            .trim_end_matches("*/")
            .to_string(),
    )
}

/// 1-based line and column of a byte offset in `code`.
pub(crate) fn line_column(code: &str, offset: usize) -> (usize, usize) {
    let before = &code[..offset.min(code.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

/// Every string literal of a file: its span and its value.
#[derive(Default)]
struct StringLiterals(Vec<(Span, String)>);

impl<'a> Visit<'a> for StringLiterals {
    fn visit_string_literal(&mut self, it: &StringLiteral<'a>) {
        self.0.push((it.span, it.value.as_str().to_string()));
    }
}

/// Collects referenced and bound names. A name bound anywhere in the file is treated as
/// local everywhere: this can only hide a library call that is also shadowed, and validation
/// then fails loudly with a ReferenceError rather than silently.
#[derive(Default)]
struct Names {
    referenced: BTreeSet<String>,
    /// Where each reference is, for [`rename_free_references`].
    reference_spans: Vec<Span>,
    bound: BTreeSet<String>,
    host_calls: BTreeSet<String>,
    /// `host.call("name", ...)` calls seen, and references to `host` in all: any reference
    /// that is not such a call (a computed name, an alias) makes the host calls unknowable.
    literal_host_calls: usize,
    host_references: usize,
    computed_host_call: bool,
}

impl Names {
    fn free(self) -> BTreeSet<String> {
        self.referenced.difference(&self.bound).cloned().collect()
    }
}

impl<'a> Visit<'a> for Names {
    fn visit_identifier_reference(&mut self, it: &IdentifierReference<'a>) {
        if it.name == "host" {
            self.host_references += 1;
        }
        self.referenced.insert(it.name.as_str().to_string());
        self.reference_spans.push(it.span);
    }

    fn visit_binding_identifier(&mut self, it: &BindingIdentifier<'a>) {
        self.bound.insert(it.name.as_str().to_string());
    }

    fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
        if let Expression::StaticMemberExpression(member) = &it.callee
            && let Expression::Identifier(object) = &member.object
            && object.name == "host"
            && member.property.name == "call"
        {
            match it.arguments.first() {
                Some(Argument::StringLiteral(name)) => {
                    self.host_calls.insert(name.value.to_string());
                    self.literal_host_calls += 1;
                }
                _ => self.computed_host_call = true,
            }
        }
        walk::walk_call_expression(self, it);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_functions_arrows_and_free_references() {
        let code = r#"
/** Doubles. */
const double = (x) => x * 2;
/**
 * Main.
 */
async function main(xs, ...rest) {
  const local = 1;
  return xs.map(double).map((y) => clamp(y, local)).concat(rest);
}
"#;
        let a = Analysis::of(code).unwrap();
        let names: Vec<_> = a.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["double", "main"]);
        let main = a.function("main").unwrap();
        assert!(main.is_async);
        assert_eq!(main.params, ["xs", "...rest"]);
        assert_eq!(main.jsdoc.as_deref(), Some("\n * Main.\n "));
        assert_eq!(
            a.function("double").unwrap().jsdoc.as_deref(),
            Some(" Doubles. ")
        );
        assert!(a.references.contains("clamp"));
        assert!(!a.references.contains("local") && !a.references.contains("double"));
        assert_eq!(a.entry(None), Entry::OnlyRoot("main"));
        assert_eq!(a.entry(Some("double")), Entry::Preferred("double"));
        assert_eq!(a.entry(Some("absent")), Entry::OnlyRoot("main"));
    }

    #[test]
    fn renames_only_the_free_references_to_a_name_and_the_strings_that_are_a_phrase() {
        let code = r#"
// craftOakPlanks() makes oak planks
function craftBirchButton(craftStick) {
  const name = "craftOakPlanks";
  while (carried('oak planks') < 1) craftOakPlanks();
  host.call("craft", { command: "craft 4 oak planks using 1 oak logs" });
  const o = { craftOakPlanks: 1, "oak planks": `oak planks` };
  return [craftOakPlanks, o.craftOakPlanks, craftStick, name];
}
"#;
        let renames = BTreeMap::from([
            ("craftOakPlanks".to_string(), "craftBirchPlanks".to_string()),
            ("craftStick".to_string(), "craftSticks".to_string()),
        ]);
        let strings = BTreeMap::from([("oak planks".to_string(), "birch planks".to_string())]);
        let (renamed, replaced) = rename_free_references(code, &renames, &strings).unwrap();
        assert_eq!(replaced, BTreeSet::from(["oak planks".to_string()]));
        assert_eq!(
            renamed,
            code.replace(
                "while (carried('oak planks') < 1) craftOakPlanks();",
                "while (carried('birch planks') < 1) craftBirchPlanks();"
            )
            .replace("[craftOakPlanks,", "[craftBirchPlanks,")
            .replace("1, \"oak planks\":", "1, \"birch planks\":")
        );
        let after = Analysis::of(&renamed).unwrap();
        assert!(after.references.contains("craftBirchPlanks"));
        assert!(!after.references.contains("craftOakPlanks"));
        assert!(matches!(
            rename_free_references("function (", &renames, &strings),
            Err(SkillError::Syntax { .. })
        ));
    }

    #[test]
    fn several_uncalled_functions_or_none_leave_the_entry_ambiguous() {
        let two = Analysis::of("function a() { return 1; }\nfunction b() { return 2; }").unwrap();
        assert_eq!(two.entry(None), Entry::Ambiguous(vec!["a", "b"]));
        let mutual = Analysis::of(
            "function even(n) { return n === 0 || odd(n - 1); }\nfunction odd(n) { return n !== 0 && even(n - 1); }",
        )
        .unwrap();
        assert_eq!(mutual.entry(None), Entry::Ambiguous(vec!["even", "odd"]));
        assert_eq!(
            Analysis::of("const x = 1;").unwrap().entry(None),
            Entry::NoFunction
        );
    }

    #[test]
    fn finds_the_host_functions_a_file_calls() {
        let a = Analysis::of(
            "function f(k) { return host.call('kv.get', {k}) + host.call(\"kv.set\") }",
        )
        .unwrap();
        assert_eq!(
            a.host_calls,
            BTreeSet::from(["kv.get".to_string(), "kv.set".to_string()])
        );
        assert!(!a.computed_host_call);
        let a = Analysis::of("function f(name) { return host.call(name, {}) }").unwrap();
        assert!(a.host_calls.is_empty() && a.computed_host_call);
        for alias in [
            "function f() { const h = host; return h.call('kv.get') }",
            "function f() { return host['call']('kv.get') }",
        ] {
            assert!(Analysis::of(alias).unwrap().computed_host_call, "{alias}");
        }
    }

    #[test]
    fn a_comment_separated_by_code_is_not_the_jsdoc() {
        let code = "/** Orphan. */\nconst x = 1;\nfunction f() {}";
        assert_eq!(
            Analysis::of(code).unwrap().function("f").unwrap().jsdoc,
            None
        );
    }
}
