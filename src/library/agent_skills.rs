//! Agent Skills folders (the open `SKILL.md` format many coding agents read): export and
//! import.
//!
//! A folder `NAME/` holds `SKILL.md` (YAML front matter: `name`, `description`, `license`,
//! `compatibility`, `metadata`; then a Markdown body saying how to call the skill) and
//! `scripts/FUNCTION.js`: the skill's own file, verbatim, then the library skills it calls
//! (each in its own scope, as `compose` bundles them) after a [`BUNDLE_MARKER`] line, then a
//! footer that makes it runnable with `node`. `scripts/FUNCTION.test.js` runs its tests with
//! `node`. An import reads the text before the marker as the skill and resolves the skills
//! it calls in the library, like any other import.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::import::{MAX_IMPORT_FILE_BYTES, SkippedFile, list_dir, read_regular_file};
use super::{DEFAULT_NAMESPACE, ImportReport, Library, LibraryError, Result, parse_stored};
use crate::compose::Bundle;
use crate::skill::{SkillSource, TestCase, check_namespace};
use crate::store::{ListFilter, Provenance, Skill, SkillStatus};

/// The file of an Agent Skills folder that describes the skill.
pub const SKILL_FILE: &str = "SKILL.md";

/// The line of an exported script after which come the skills it calls (generated, not part
/// of the skill; an import drops it and what follows).
pub const BUNDLE_MARKER: &str = "// skillforge:bundle";

/// The longest `name` the specification allows.
pub const MAX_NAME_CHARS: usize = 64;
/// The longest `description` the specification allows.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// The longest `compatibility` the specification allows.
const MAX_COMPATIBILITY_CHARS: usize = 500;

/// How skills are exported as Agent Skills folders.
#[derive(Debug, Clone)]
pub struct AgentSkillsExport {
    /// The `license` written in every folder's front matter (an SPDX identifier).
    pub license: String,
}

impl Default for AgentSkillsExport {
    fn default() -> Self {
        Self {
            license: "Apache-2.0".into(),
        }
    }
}

/// What an Agent Skills export wrote and what it left out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AgentSkillsExportReport {
    /// One entry per folder written.
    pub exported: Vec<ExportedFolder>,
    /// Skills not exported (`namespace/name`), with the reason.
    pub skipped: Vec<(String, String)>,
}

/// One folder an Agent Skills export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedFolder {
    /// The skill (`namespace/name`).
    pub skill: String,
    /// The folder's name (the front matter's `name`).
    pub folder: String,
    /// Its tests, all of which passed when it was exported.
    pub tests: usize,
}

/// What an Agent Skills import did: the import itself, and what was accepted with a warning.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AgentSkillsImportReport {
    /// Skills added, unchanged and failed (their tests, their dependencies), and the folders
    /// skipped with the reason (no script, another language, no tests, bad front matter,
    /// links, oversized files).
    #[serde(flatten)]
    pub import: ImportReport,
    /// Folders read despite a problem the client guide asks to tolerate (a name that is
    /// over-long or not the folder's, an unquoted colon in a value).
    pub warnings: Vec<SkippedFile>,
}

/// The Agent Skills name of a skill: its name in kebab case (`parseCsv` -> `parse-csv`,
/// `toHTMLString` -> `to-html-string`), lowercase letters, digits and single hyphens, at
/// most `MAX_NAME_CHARS`, never empty.
pub fn agent_skill_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1);
            let boundary = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(|p| p.is_ascii_uppercase())
                    && next.is_some_and(|n| n.is_ascii_lowercase()));
            if boundary {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else {
            out.push('-');
        }
    }
    let name = fit(&out, MAX_NAME_CHARS);
    if name.is_empty() {
        "skill".into()
    } else {
        name
    }
}

/// `text` with runs of hyphens collapsed, cut to `max` characters, without a leading or
/// trailing hyphen.
fn fit(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    let mut out: String = out.chars().take(max).collect();
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// A deterministic folder name for each skill of `skills` (`(namespace, name)`, in their
/// order): its [`agent_skill_name`]; when several skills share it, the one in the default
/// namespace keeps it and the others are prefixed with their namespace; a remaining clash
/// gets `-2`, `-3`, ...
pub fn folder_names(skills: &[(String, String)]) -> Vec<String> {
    let bases: Vec<String> = skills.iter().map(|(_, n)| agent_skill_name(n)).collect();
    let mut uses: BTreeMap<&str, usize> = BTreeMap::new();
    for base in &bases {
        *uses.entry(base).or_default() += 1;
    }
    let mut taken = BTreeSet::new();
    let mut out = Vec::with_capacity(skills.len());
    for ((namespace, _), base) in skills.iter().zip(&bases) {
        let prefixed = fit(
            &format!("{namespace}-{base}").replace('_', "-"),
            MAX_NAME_CHARS,
        );
        let mut candidates = Vec::new();
        if uses[base.as_str()] == 1 || namespace == DEFAULT_NAMESPACE {
            candidates.push(base.clone());
        }
        candidates.push(prefixed.clone());
        let chosen = candidates
            .into_iter()
            .find(|c| !taken.contains(c))
            .unwrap_or_else(|| {
                (2..)
                    .map(|n| {
                        let suffix = format!("-{n}");
                        format!("{}{suffix}", fit(&prefixed, MAX_NAME_CHARS - suffix.len()))
                    })
                    .find(|c| !taken.contains(c))
                    .expect("some suffix is free")
            });
        taken.insert(chosen.clone());
        out.push(chosen);
    }
    out
}

/// The front matter an export writes, in the specification's order.
#[derive(Serialize)]
struct FrontMatter<'a> {
    name: &'a str,
    description: String,
    license: &'a str,
    compatibility: String,
    metadata: BTreeMap<&'static str, String>,
}

impl Library {
    /// Writes every active skill that runs here as an Agent Skills folder under `dir`
    /// (`dir/NAME/SKILL.md`, `dir/NAME/scripts/FUNCTION.js` and `FUNCTION.test.js`), after
    /// running its tests: a skill whose tests fail now, or that cannot be bundled, is
    /// skipped with the reason. Names are derived by [`folder_names`]. Nothing is written
    /// outside `dir`, and no link inside it is followed (an existing one is an
    /// [`UnsafeExport`](LibraryError::UnsafeExport) error).
    pub async fn export_agent_skills(
        &self,
        dir: &Path,
        options: &AgentSkillsExport,
    ) -> Result<AgentSkillsExportReport> {
        let skills = self
            .store
            .list_skills(&ListFilter {
                namespace: None,
                statuses: vec![SkillStatus::Active],
                ..Default::default()
            })
            .await?;
        let mut report = AgentSkillsExportReport::default();
        let mut ready: Vec<(Skill, SkillSource, Bundle)> = Vec::new();
        for skill in skills {
            let name = skill.record.qualified_name();
            super::import::export_path(dir, &skill.record)?;
            if !skill.version.runnable {
                report.skipped.push((
                    name,
                    "it needs another environment than this sandbox; only skills that run here \
                     are exported"
                        .into(),
                ));
                continue;
            }
            let source = parse_stored(&skill)?;
            match self.bundle(&source, &skill.record.namespace).await {
                Ok(bundle) => ready.push((skill, source, bundle)),
                Err(e) => report
                    .skipped
                    .push((name, format!("it cannot be bundled: {e}"))),
            }
        }
        let jobs = ready
            .iter()
            .map(|(_, source, bundle)| (bundle.clone(), source.clone()))
            .collect();
        let reports = self.run_tests(jobs).await?;
        let mut passing = Vec::new();
        for ((skill, source, bundle), tests) in ready.into_iter().zip(reports) {
            if tests.all_passed() {
                passing.push((skill, source, bundle));
            } else {
                report.skipped.push((
                    skill.record.qualified_name(),
                    format!(
                        "{} of its {} tests fail now (run `skillforge skills test`)",
                        tests.failed(),
                        tests.tests.len()
                    ),
                ));
            }
        }
        let keys: Vec<(String, String)> = passing
            .iter()
            .map(|(s, _, _)| (s.record.namespace.clone(), s.record.name.clone()))
            .collect();
        std::fs::create_dir_all(dir).map_err(|source| LibraryError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        for ((skill, source, bundle), folder) in passing.iter().zip(folder_names(&keys)) {
            let root = dir.join(&folder);
            let scripts = root.join("scripts");
            make_dir(&root, skill)?;
            make_dir(&scripts, skill)?;
            let front = front_matter(&folder, skill, source, options);
            let yaml = yaml_serde::to_string(&front).map_err(|e| LibraryError::UnsafeExport {
                skill: skill.record.qualified_name(),
                problem: format!("front matter: {e}"),
            })?;
            let skill_md = format!("---\n{yaml}---\n\n{}", body(source, bundle));
            write_file(&root.join(SKILL_FILE), &skill_md, skill)?;
            let script =
                script_text(source, bundle).map_err(|problem| LibraryError::UnsafeExport {
                    skill: skill.record.qualified_name(),
                    problem,
                })?;
            write_file(&scripts.join(format!("{}.js", source.name)), &script, skill)?;
            write_file(
                &scripts.join(format!("{}.test.js", source.name)),
                &node_tests(source, bundle),
                skill,
            )?;
            report.exported.push(ExportedFolder {
                skill: skill.record.qualified_name(),
                folder,
                tests: source.tests.len(),
            });
        }
        Ok(report)
    }

    /// Imports Agent Skills folders: `dir` itself when it holds a `SKILL.md`, else each
    /// folder in it. A folder's skill is its `scripts/*.js` file (the one its metadata's
    /// `function` names, or the only one; `*.test.js` files are not skills): a JavaScript
    /// function whose JSDoc has tests, validated and added like any imported skill, into
    /// `namespace`, else its metadata's `namespace`, else its `@namespace`, else the default.
    ///
    /// Folders without a script, with scripts in other languages only, without tests, or
    /// with bad front matter (not YAML, no description) are skipped with the reason. As the
    /// client guide asks, a name that is too long or differs from the folder's, and a value
    /// with an unquoted colon, are accepted with a warning. The hardening of
    /// [`Library::import_dir`] holds: links are never followed, special files never opened,
    /// files over `MAX_IMPORT_FILE_BYTES` never read, nothing outside `dir` is read.
    pub async fn import_agent_skills(
        &self,
        dir: &Path,
        namespace: Option<&str>,
    ) -> Result<AgentSkillsImportReport> {
        self.check_writable("import skills")?;
        if let Some(namespace) = namespace {
            check_namespace(namespace).map_err(|source| LibraryError::Skill {
                name: dir.display().to_string(),
                source,
            })?;
        }
        let io = |source| LibraryError::Io {
            path: dir.to_path_buf(),
            source,
        };
        // The path the user named may itself be a link; what is inside it is never followed.
        let root = std::fs::canonicalize(dir).map_err(io)?;
        let mut report = AgentSkillsImportReport::default();
        let mut folders = Vec::new();
        let entries = list_dir(&root).map_err(io)?;
        if entries
            .iter()
            .any(|(p, _)| p.file_name().is_some_and(|n| n == SKILL_FILE))
        {
            folders.push(root.clone());
        } else {
            for (path, kind) in entries {
                let hidden = path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                if kind.is_symlink() {
                    report
                        .import
                        .skipped
                        .push(skipped(&path, "symbolic link, not followed"));
                } else if kind.is_dir() && !hidden {
                    folders.push(path);
                }
            }
        }
        let mut sources = Vec::new();
        for folder in folders {
            match read_folder(&folder) {
                Ok(read) => {
                    report
                        .warnings
                        .extend(read.warnings.into_iter().map(|w| skipped(&folder, &w)));
                    let chosen = namespace
                        .map(str::to_string)
                        .or(read.namespace)
                        .or_else(|| read.source.namespace.clone());
                    sources.push((chosen, read.source));
                }
                Err(reason) => report.import.skipped.push(skipped(&folder, &reason)),
            }
        }
        let imported = self.import_all(sources, Provenance::default()).await?;
        report.import.added = imported.added;
        report.import.unchanged = imported.unchanged;
        report.import.failed = imported.failed;
        Ok(report)
    }
}

fn skipped(path: &Path, reason: &str) -> SkippedFile {
    SkippedFile {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Creates `path` as a directory, or checks that it is one (not a link to one).
fn make_dir(path: &Path, skill: &Skill) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(LibraryError::UnsafeExport {
            skill: skill.record.qualified_name(),
            problem: format!(
                "{} exists and is not a directory (a link is not followed)",
                path.display()
            ),
        }),
        Err(_) => std::fs::create_dir(path).map_err(|source| LibraryError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `text` to `path`, replacing a regular file but never following a link.
fn write_file(path: &Path, text: &str, skill: &Skill) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| LibraryError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => LibraryError::UnsafeExport {
                skill: skill.record.qualified_name(),
                problem: format!("{} is a symbolic link, not followed", path.display()),
            },
            _ => io(e),
        })?;
    file.write_all(text.as_bytes()).map_err(io)
}

/// `text` cut to `max` characters (an ellipsis marks the cut).
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn front_matter<'a>(
    folder: &'a str,
    skill: &Skill,
    source: &SkillSource,
    options: &'a AgentSkillsExport,
) -> FrontMatter<'a> {
    let what = source.description.split_whitespace().collect::<Vec<_>>();
    let what = if what.is_empty() {
        format!("The JavaScript function {}.", source.signature)
    } else {
        what.join(" ")
    };
    let description = cut(
        &format!(
            "{what} Call the tested JavaScript function `{}` (scripts/{}.js) when a task \
             needs this.",
            source.signature, source.name
        ),
        MAX_DESCRIPTION_CHARS,
    );
    let capabilities: Vec<&str> = source.capabilities.iter().collect();
    let compatibility = if capabilities.is_empty() {
        "Node.js 18 or later, or skillforge (`skillforge exec`). Pure JavaScript: no file, \
         network or environment access."
            .to_string()
    } else {
        format!(
            "skillforge only (`skillforge exec --grant ...`): it calls host functions {}.",
            capabilities.join(", ")
        )
    };
    let stats = &skill.stats;
    let metadata = BTreeMap::from([
        ("namespace", skill.record.namespace.clone()),
        ("function", source.name.clone()),
        ("version", skill.version.version.to_string()),
        ("content-hash", skill.version.content_hash.clone()),
        (
            "tests-passed",
            format!("{}/{}", source.tests.len(), source.tests.len()),
        ),
        (
            "last-verified",
            stats
                .last_verified_at
                .map_or_else(|| "never".into(), |t| t.to_rfc3339()),
        ),
        ("generator", "skillforge".into()),
    ]);
    FrontMatter {
        name: folder,
        description,
        license: &options.license,
        compatibility: cut(&compatibility, MAX_COMPATIBILITY_CHARS),
        metadata,
    }
}

/// The Markdown body of `SKILL.md`: what the skill does and how to call it.
fn body(source: &SkillSource, bundle: &Bundle) -> String {
    let name = &source.name;
    let mut out = format!(
        "# {name}\n\n{}\n\nSignature: `{}`\n\n## How to call it\n\n\
         Pass the arguments as one JSON array (any other JSON value is the single argument); \
         the result is printed as JSON:\n\n```sh\nnode scripts/{name}.js '[ARGS...]'\n\
         skillforge exec scripts/{name}.js --input '[ARGS...]' --json\n```\n\n\
         From JavaScript (CommonJS): `const {{ {name} }} = require(\"./scripts/{name}.js\");`\n",
        source.description.trim(),
        source.signature
    );
    if !bundle.dependencies.is_empty() {
        out.push_str(&format!(
            "\nThe script carries the skills it calls: {}.\n",
            bundle.dependencies.join(", ")
        ));
    }
    let examples: Vec<String> = source
        .tests
        .iter()
        .filter_map(|t| match t {
            TestCase::Example { call, expected, .. } => Some(format!("- `{call}` => `{expected}`")),
            TestCase::Assert { .. } => None,
        })
        .collect();
    if !examples.is_empty() {
        out.push_str(&format!("\n## Examples\n\n{}\n", examples.join("\n")));
    }
    out.push_str(&format!(
        "\n## Tests\n\nIts {} tests are in the JSDoc of `scripts/{name}.js`. Run them with \
         `node scripts/{name}.test.js`, or in skillforge's sandbox with \
         `skillforge test scripts/{name}.js`.\n",
        source.tests.len()
    ));
    out
}

/// The exported script: the skill's file verbatim, the skills it calls after
/// [`BUNDLE_MARKER`], and a footer for `node`.
fn script_text(source: &SkillSource, bundle: &Bundle) -> std::result::Result<String, String> {
    let dependencies = bundle
        .source
        .strip_suffix(&format!("{}\n", source.code))
        .ok_or("the bundle does not end with the skill's code")?;
    let mut out = source.code.clone();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    let exports: Vec<&str> = std::iter::once(source.name.as_str())
        .chain(bundle.dependencies.iter().map(String::as_str))
        .collect();
    let exports = exports.join(", ");
    out.push_str(&format!(
        "\n{BUNDLE_MARKER}: generated by skillforge; the skills {name} calls, each in its own \
         scope, then a footer for node.\n{dependencies}\
         // `node {name}.js '<JSON>'` prints the result as JSON (a JSON array is the argument \
         list); `require` gives the functions. Skipped outside CommonJS.\n\
         if (typeof module === \"object\" && typeof require === \"function\") {{\n\
         \x20 module.exports = {{ {exports} }};\n\
         \x20 if (require.main === module) {{\n\
         \x20   const input = process.argv.length > 2 ? JSON.parse(process.argv[2]) : [];\n\
         \x20   const args = Array.isArray(input) ? input : [input];\n\
         \x20   Promise.resolve()\n\
         \x20     .then(() => {name}(...args))\n\
         \x20     .then(\n\
         \x20       (value) => console.log(JSON.stringify(value === undefined ? null : value)),\n\
         \x20       (error) => {{\n\
         \x20         console.error(error && error.stack ? error.stack : String(error));\n\
         \x20         process.exitCode = 1;\n\
         \x20       }},\n\
         \x20     );\n\
         \x20 }}\n\
         }}\n",
        name = source.name,
    ));
    Ok(out)
}

/// `scripts/NAME.test.js`: the skill's tests for `node` (its `assert` is node's).
fn node_tests(source: &SkillSource, bundle: &Bundle) -> String {
    let names: Vec<&str> = std::iter::once(source.name.as_str())
        .chain(bundle.dependencies.iter().map(String::as_str))
        .collect();
    let mut cases = String::new();
    for test in &source.tests {
        let title = serde_json::to_string(test.name()).expect("a string serializes");
        cases.push_str(&format!(
            "  [{title}, async () => {{\n{}\n  }}],\n",
            test.to_js()
        ));
    }
    format!(
        "// The tests of {name} (from its JSDoc), for node: node {name}.test.js\n\
         \"use strict\";\n\
         const assert = require(\"node:assert\");\n\
         const {{ {imports} }} = require(\"./{name}.js\");\n\
         const tests = [\n{cases}];\n\
         (async () => {{\n\
         \x20 let failed = 0;\n\
         \x20 for (const [title, test] of tests) {{\n\
         \x20   try {{\n\
         \x20     await test();\n\
         \x20     console.log(`ok   ${{title}}`);\n\
         \x20   }} catch (error) {{\n\
         \x20     failed += 1;\n\
         \x20     console.log(`FAIL ${{title}}: ${{error && error.message}}`);\n\
         \x20   }}\n\
         \x20 }}\n\
         \x20 console.log(`${{tests.length - failed}} passed, ${{failed}} failed`);\n\
         \x20 process.exitCode = failed ? 1 : 0;\n\
         }})();\n",
        name = source.name,
        imports = names.join(", "),
    )
}

/// A folder read for import.
struct ReadFolder {
    source: SkillSource,
    namespace: Option<String>,
    warnings: Vec<String>,
}

/// Reads one Agent Skills folder, or says why it is skipped.
fn read_folder(folder: &Path) -> std::result::Result<ReadFolder, String> {
    let entries = list_dir(folder).map_err(|e| format!("cannot list: {e}"))?;
    let entry = |name: &str| {
        entries
            .iter()
            .find(|(p, _)| p.file_name().is_some_and(|n| n == name))
    };
    let (skill_md, kind) = entry(SKILL_FILE).ok_or("no SKILL.md")?;
    if kind.is_symlink() {
        return Err("SKILL.md is a symbolic link, not followed".into());
    }
    let text = read_regular_file(skill_md, MAX_IMPORT_FILE_BYTES)
        .map_err(|reason| format!("SKILL.md: {reason}"))?;
    let (front, mut warnings) =
        parse_front_matter(&text).map_err(|e| format!("bad front matter: {e}"))?;
    let field = |key: &str| front.get(key).and_then(scalar);
    let description = field("description").unwrap_or_default();
    if description.trim().is_empty() {
        return Err("bad front matter: no description".into());
    }
    let folder_name = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match field("name") {
        None => warnings.push("the front matter has no name; the folder's is used".into()),
        Some(name) => {
            if name != folder_name {
                warnings.push(format!(
                    "the front matter's name '{name}' is not the folder's name"
                ));
            }
            if name.chars().count() > MAX_NAME_CHARS {
                warnings.push(format!(
                    "the name is longer than {MAX_NAME_CHARS} characters"
                ));
            }
        }
    }
    let metadata: BTreeMap<String, String> = match front.get("metadata") {
        Some(yaml_serde::Value::Mapping(map)) => map
            .iter()
            .filter_map(|(k, v)| Some((scalar(k)?, scalar(v)?)))
            .collect(),
        _ => BTreeMap::new(),
    };
    let namespace = match metadata.get("namespace") {
        Some(ns) if check_namespace(ns).is_ok() => Some(ns.clone()),
        Some(ns) => {
            warnings.push(format!(
                "metadata namespace '{ns}' is not a namespace name; ignored"
            ));
            None
        }
        None => None,
    };
    let (script, stem) = choose_script(folder, entry("scripts"), metadata.get("function"))?;
    let code = read_regular_file(&script, MAX_IMPORT_FILE_BYTES)
        .map_err(|reason| format!("{}: {reason}", script.display()))?;
    let own = skill_part(&code);
    let source = SkillSource::parse(own, Some(&stem))
        .map_err(|e| format!("scripts/{stem}.js is not a skill: {e}"))?;
    if source.tests.is_empty() {
        return Err(format!(
            "no tests: the JSDoc of scripts/{stem}.js has no @example or @test"
        ));
    }
    Ok(ReadFolder {
        source,
        namespace,
        warnings,
    })
}

/// The skill's own text of a script: what precedes the [`BUNDLE_MARKER`] line, if any.
fn skill_part(code: &str) -> &str {
    let mut at = 0;
    for line in code.split_inclusive('\n') {
        if line.starts_with(BUNDLE_MARKER) {
            return code[..at].strip_suffix('\n').unwrap_or(&code[..at]);
        }
        at += line.len();
    }
    code
}

/// The folder's JavaScript skill script and its stem, or why there is none.
fn choose_script(
    folder: &Path,
    scripts: Option<&(PathBuf, std::fs::FileType)>,
    function: Option<&String>,
) -> std::result::Result<(PathBuf, String), String> {
    let (dir, kind) = scripts.ok_or("no script: the folder has no scripts/")?;
    if kind.is_symlink() {
        return Err("scripts/ is a symbolic link, not followed".into());
    }
    if !kind.is_dir() {
        return Err("no script: scripts is not a folder".into());
    }
    let files = list_dir(dir).map_err(|e| format!("cannot list scripts/: {e}"))?;
    let mut js = Vec::new();
    let mut other = Vec::new();
    for (path, kind) in &files {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if kind.is_dir() || file.starts_with('.') {
            continue;
        }
        match file.strip_suffix(".js") {
            Some(stem) if !stem.ends_with(".test") => js.push((path.clone(), stem.to_string())),
            Some(_) => {}
            None => other.push(file),
        }
    }
    let chosen = match function {
        Some(function) => js.iter().find(|(_, stem)| stem == function),
        None if js.len() == 1 => js.first(),
        None => None,
    };
    match chosen {
        Some((path, stem)) => {
            let kind = files
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, k)| *k)
                .expect("listed");
            if !kind.is_file() {
                return Err(format!(
                    "scripts/{stem}.js is not a regular file (a link is not followed)"
                ));
            }
            Ok((path.clone(), stem.clone()))
        }
        None if js.is_empty() && !other.is_empty() => Err(format!(
            "a script in another language ({}); only JavaScript functions can be imported",
            other.join(", ")
        )),
        None if js.is_empty() => Err("no script: scripts/ holds no .js file".into()),
        None => Err(format!(
            "{} has several scripts ({}) and no metadata `function` naming the skill's",
            folder.display(),
            js.iter()
                .map(|(_, s)| format!("{s}.js"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A YAML scalar as a string (strings, numbers, booleans); `None` for anything else.
fn scalar(value: &yaml_serde::Value) -> Option<String> {
    match value {
        yaml_serde::Value::String(s) => Some(s.clone()),
        yaml_serde::Value::Number(n) => Some(n.to_string()),
        yaml_serde::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The front matter of a `SKILL.md` as a YAML mapping, and the warnings of a lenient read: a
/// value with an unquoted `: ` (invalid YAML) is read again as a quoted string, as the
/// client guide asks.
fn parse_front_matter(
    text: &str,
) -> std::result::Result<(yaml_serde::Mapping, Vec<String>), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    if lines.next().map(str::trim_end) != Some("---") {
        return Err("SKILL.md does not start with a `---` line".into());
    }
    let mut yaml = String::new();
    let mut closed = false;
    for line in lines {
        if line.trim_end() == "---" {
            closed = true;
            break;
        }
        yaml.push_str(line);
    }
    if !closed {
        return Err("no closing `---` line".into());
    }
    let parse = |yaml: &str| yaml_serde::from_str::<yaml_serde::Mapping>(yaml);
    match parse(&yaml) {
        Ok(map) => Ok((map, Vec::new())),
        Err(first) => {
            let fixed = quote_colon_values(&yaml);
            match parse(&fixed) {
                Ok(map) if fixed != yaml => Ok((
                    map,
                    vec!["a value with an unquoted colon was read as a string".into()],
                )),
                _ => Err(format!("not YAML: {first}")),
            }
        }
    }
}

/// Quotes the plain values that hold `: ` (`description: Use when: x` ->
/// `description: "Use when: x"`).
fn quote_colon_values(yaml: &str) -> String {
    let mut out = String::new();
    for line in yaml.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let indent = content.len() - content.trim_start().len();
        let fixed = content[indent..].split_once(": ").and_then(|(key, value)| {
            let value = value.trim();
            let plain_key = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            let plain_value = !value.starts_with(['"', '\'', '[', '{', '|', '>', '&', '*', '#']);
            (plain_key && plain_value && value.contains(": ")).then(|| {
                format!(
                    "{}{key}: {}",
                    &content[..indent],
                    serde_json::to_string(value).expect("a string serializes")
                )
            })
        });
        match fixed {
            Some(fixed) => {
                out.push_str(&fixed);
                out.push_str(&line[content.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kebab_case_within_the_specification() {
        assert_eq!(agent_skill_name("parseCsv"), "parse-csv");
        assert_eq!(agent_skill_name("toHTMLString"), "to-html-string");
        assert_eq!(agent_skill_name("snake_case_2"), "snake-case-2");
        assert_eq!(agent_skill_name("$__x"), "x");
        assert_eq!(agent_skill_name("_"), "skill");
        let long = agent_skill_name(&"aB".repeat(60));
        assert!(
            long.len() <= MAX_NAME_CHARS && !long.ends_with('-'),
            "{long}"
        );
    }

    #[test]
    fn clashing_names_are_told_apart_deterministically() {
        let skills = [
            ("default", "fooBar"),
            ("default", "foo_bar"),
            ("text", "fooBar"),
            ("text", "slugify"),
        ]
        .map(|(n, s)| (n.to_string(), s.to_string()));
        assert_eq!(
            folder_names(&skills),
            ["foo-bar", "default-foo-bar", "text-foo-bar", "slugify"]
        );
    }

    #[test]
    fn front_matter_is_read_leniently_where_the_guide_says() {
        let (map, warnings) =
            parse_front_matter("---\nname: x\ndescription: Use when: the input is CSV\n---\n")
                .unwrap();
        assert_eq!(
            map.get("description").and_then(scalar).as_deref(),
            Some("Use when: the input is CSV")
        );
        assert_eq!(warnings.len(), 1);
        assert!(parse_front_matter("name: x\n").is_err());
        assert!(parse_front_matter("---\nname: [x\n---\n").is_err());
    }

    #[test]
    fn the_skill_part_of_a_script_ends_at_the_marker() {
        let code = "function f() {}\n\n// skillforge:bundle: generated\nconst g = 1;\n";
        assert_eq!(skill_part(code), "function f() {}\n");
        assert_eq!(skill_part("function f() {}\n"), "function f() {}\n");
    }
}
