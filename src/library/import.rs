//! Getting skills in and out: the embedded starter library, directories of skill files, and
//! Voyager's released `skills.json` libraries.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use serde::Serialize;

use super::{
    AddOptions, Added, DEFAULT_NAMESPACE, Library, LibraryError, Result, check_capabilities,
    safe_namespace, tests_json,
};
use crate::skill::{SkillSource, check_namespace};
use crate::store::{
    Expect, ListFilter, NewVersion, Provenance, SkillRecord, StoreError, content_hash,
};

/// The repository's `skills/` directory, compiled into the binary.
static STARTER: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/skills");

/// The environment Voyager's skills need.
const VOYAGER_ENVIRONMENT: &str = "minecraft";

/// The starter library shipped with skillforge (the repository's `skills/*.js`).
pub fn starter_skills() -> Result<Vec<SkillSource>> {
    let mut files: Vec<_> = STARTER
        .files()
        .filter(|f| f.path().extension().is_some_and(|e| e == "js"))
        .collect();
    files.sort_by_key(|f| f.path());
    files
        .into_iter()
        .map(|file| {
            let stem = file.path().file_stem().and_then(|s| s.to_str());
            let code = file.contents_utf8().unwrap_or_default();
            SkillSource::parse(code, stem).map_err(|source| LibraryError::Skill {
                name: file.path().display().to_string(),
                source,
            })
        })
        .collect()
}

/// What an import did, skill by skill.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// Skills written (new skills or new versions).
    pub added: Vec<ImportedSkill>,
    /// Skills whose code and tests were already current.
    pub unchanged: Vec<String>,
    /// Skills (or files) refused, with the reason.
    pub failed: Vec<(String, String)>,
    /// Files and folders not read (links, special files, oversized files), with the reason.
    pub skipped: Vec<SkippedFile>,
}

/// One skill an import wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ImportedSkill {
    /// `namespace/name`.
    pub name: String,
    /// The version written.
    pub version: i64,
    /// Whether it can run in this sandbox.
    pub runnable: bool,
    /// The library skills it calls.
    pub calls: Vec<String>,
}

/// What a Voyager import did.
#[derive(Debug, Clone, Serialize)]
pub struct VoyagerReport {
    /// The namespace the skills went to.
    pub namespace: String,
    /// Skills in the file.
    pub skills: usize,
    /// How many of them call another skill of the same library.
    pub calling_other_skills: usize,
    /// Call-graph edges between the library's skills.
    pub edges: usize,
    /// The import itself.
    pub import: ImportReport,
}

impl Library {
    /// Imports skill files: `dir/*.js` (namespace from `@namespace`, else the default) and
    /// `dir/NAMESPACE/*.js`. Runnable skills are validated like [`Library::add`] (a new
    /// version re-tests the skills that call it); skills for other environments are stored
    /// as not runnable, but never replace a runnable version. Skills are added callees first.
    ///
    /// The directory may be hostile: nothing outside it is read. Symbolic links, FIFOs,
    /// sockets and devices are never opened, files over `MAX_IMPORT_FILE_BYTES` are not
    /// read, and folders whose name is not a namespace are not entered; each is listed in
    /// [`ImportReport::skipped`] with the reason. A file that does not parse and a skill that
    /// is refused are listed in [`ImportReport::failed`]; the rest go on.
    pub async fn import_dir(&self, dir: &Path) -> Result<ImportReport> {
        let io = |source| LibraryError::Io {
            path: dir.to_path_buf(),
            source,
        };
        // The path the user named may itself be a link; what is inside it is never followed.
        let root = std::fs::canonicalize(dir).map_err(io)?;
        let mut scan = Scan::default();
        if root.is_file() {
            scan.file(&root, None);
        } else {
            let mut subdirs = Vec::new();
            for (path, kind) in list_dir(&root).map_err(io)? {
                if kind.is_dir() {
                    subdirs.push(path);
                } else {
                    scan.entry(&path, kind, None);
                }
            }
            for sub in subdirs {
                let folder = sub.file_name().unwrap_or_default().to_string_lossy();
                if folder.starts_with('.') {
                    continue;
                }
                if let Err(e) = check_namespace(&folder) {
                    scan.skip(&sub, format!("folder not entered: {e}"));
                    continue;
                }
                match list_dir(&sub) {
                    Ok(entries) => {
                        for (path, kind) in entries.into_iter().filter(|(_, k)| !k.is_dir()) {
                            scan.entry(&path, kind, Some(folder.as_ref()));
                        }
                    }
                    Err(e) => scan.skip(&sub, format!("cannot list: {e}")),
                }
            }
        }
        let mut report = self.import_all(scan.sources, Provenance::default()).await?;
        report.skipped = scan.skipped;
        scan.failed.append(&mut report.failed);
        report.failed = scan.failed;
        Ok(report)
    }

    /// Imports skills into their declared namespace (or the default one), callees first.
    pub async fn import_sources(&self, sources: Vec<SkillSource>) -> Result<ImportReport> {
        let sources = sources.into_iter().map(|s| (None, s)).collect();
        self.import_all(sources, Provenance::default()).await
    }

    /// Writes every skill to `dir/NAMESPACE/NAME.js` (the stored source, JSDoc header and
    /// tests included). Returns how many files were written. Whatever the store holds, nothing
    /// is written outside `dir`: a namespace that is not a safe name or a name that is not an
    /// identifier (a row written before they were checked) is an
    /// [`UnsafeExport`](LibraryError::UnsafeExport) error, found before anything is written.
    pub async fn export(&self, dir: &Path) -> Result<usize> {
        let skills = self.store.list_skills(&ListFilter::default()).await?;
        let paths = skills
            .iter()
            .map(|skill| export_path(dir, &skill.record))
            .collect::<Result<Vec<_>>>()?;
        for (skill, path) in skills.into_iter().zip(&paths) {
            let io = |source| LibraryError::Io {
                path: path.clone(),
                source,
            };
            std::fs::create_dir_all(path.parent().unwrap_or(dir)).map_err(io)?;
            let mut code = skill.version.code;
            if !code.ends_with('\n') {
                code.push('\n');
            }
            std::fs::write(path, code).map_err(io)?;
        }
        Ok(paths.len())
    }

    /// Imports a Voyager `skills.json` (`{name: {code, description}}`, Mineflayer JavaScript)
    /// into `namespace` (default: `voyager-` and the file's folder name, e.g.
    /// `voyager-trial1`). The skills need Minecraft, so they are stored as not runnable; the
    /// calls between them are recorded in the call graph.
    pub async fn import_voyager(
        &self,
        file: &Path,
        namespace: Option<&str>,
    ) -> Result<VoyagerReport> {
        self.check_writable("import skills")?;
        let bad = |message: String| LibraryError::Voyager {
            path: file.to_path_buf(),
            message,
        };
        let named = std::fs::canonicalize(file).map_err(|source| LibraryError::Io {
            path: file.to_path_buf(),
            source,
        })?;
        let text = read_regular_file(&named, MAX_VOYAGER_FILE_BYTES).map_err(bad)?;
        let entries: BTreeMap<String, VoyagerSkill> =
            serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        let namespace = match namespace {
            Some(ns) => ns.to_string(),
            None => format!(
                "voyager-{}",
                file.parent()
                    .and_then(|p| p.file_name())
                    .and_then(|n| n.to_str())
                    .unwrap_or("import")
            ),
        };
        check_namespace(&namespace)
            .map_err(|e| bad(format!("{e}; choose one with --namespace")))?;
        let mut sources = Vec::new();
        let mut report = ImportReport::default();
        for (name, entry) in &entries {
            let code = voyager_source(name, &entry.description, &entry.code);
            match SkillSource::parse(&code, Some(name)) {
                Ok(source) => sources.push((Some(namespace.clone()), source)),
                Err(e) => report.failed.push((name.clone(), e.to_string())),
            }
        }
        let names: BTreeSet<&str> = sources.iter().map(|(_, s)| s.name.as_str()).collect();
        let callers: Vec<usize> = sources
            .iter()
            .map(|(_, s)| {
                s.references
                    .iter()
                    .filter(|r| names.contains(r.as_str()))
                    .count()
            })
            .collect();
        let provenance = Provenance {
            model: Some("voyager-import".into()),
            task: None,
            episode: None,
            unchecked: false,
        };
        let imported = self.import_all(sources, provenance).await?;
        report.added = imported.added;
        report.unchanged = imported.unchanged;
        report.failed.extend(imported.failed);
        Ok(VoyagerReport {
            namespace,
            skills: entries.len(),
            calling_other_skills: callers.iter().filter(|&&n| n > 0).count(),
            edges: callers.iter().sum(),
            import: report,
        })
    }

    /// Adds skills callees first (within each namespace), reporting each one.
    pub(super) async fn import_all(
        &self,
        sources: Vec<(Option<String>, SkillSource)>,
        provenance: Provenance,
    ) -> Result<ImportReport> {
        self.check_writable("import skills")?;
        let mut report = ImportReport::default();
        let mut pending: Vec<(String, SkillSource)> = sources
            .into_iter()
            .map(|(ns, s)| {
                let ns = ns
                    .or_else(|| s.namespace.clone())
                    .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
                (ns, s)
            })
            .collect();
        while !pending.is_empty() {
            let waiting: BTreeSet<(String, String)> = pending
                .iter()
                .map(|(ns, s)| (ns.clone(), s.name.clone()))
                .collect();
            let (ready, blocked): (Vec<_>, Vec<_>) = pending.into_iter().partition(|(ns, s)| {
                !s.references
                    .iter()
                    .any(|r| waiting.contains(&(ns.clone(), r.clone())))
            });
            if ready.is_empty() {
                let names: Vec<&str> = blocked.iter().map(|(_, s)| s.name.as_str()).collect();
                for (_, source) in &blocked {
                    report.failed.push((
                        source.name.clone(),
                        format!("dependency cycle among {}", names.join(", ")),
                    ));
                }
                break;
            }
            for (namespace, source) in ready {
                let name = source.name.clone();
                let options = AddOptions {
                    namespace: Some(namespace.clone()),
                    provenance: provenance.clone(),
                };
                let added = if source.is_runnable_here() {
                    self.add(source, options).await
                } else {
                    self.add_foreign(source, options).await
                };
                match added {
                    Ok(added) if !added.changed => report.unchanged.push(name),
                    Ok(added) => report.added.push(ImportedSkill {
                        name: format!("{namespace}/{name}"),
                        version: added.version.version,
                        runnable: added.version.runnable,
                        calls: added.calls,
                    }),
                    Err(e) => report.failed.push((name, e.to_string())),
                }
            }
            pending = blocked;
        }
        Ok(report)
    }

    /// Stores a skill for another environment without running it: it is kept, indexed and
    /// part of the call graph, but marked not runnable.
    async fn add_foreign(&self, source: SkillSource, options: AddOptions) -> Result<Added> {
        let namespace = options
            .namespace
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        safe_namespace(&source.name, &namespace)?;
        check_capabilities(&self.allowed_capabilities, &source)?;
        let tests = tests_json(&source);
        let hash = content_hash(&source.code, &tests);
        match self.store.get(&namespace, &source.name).await {
            Ok(current) if current.version.content_hash == hash => {
                return Ok(Added {
                    calls: Vec::new(),
                    skill: current.record,
                    version: current.version,
                    changed: false,
                    report: empty_report(&source.name),
                    dependents_retested: Vec::new(),
                });
            }
            Ok(current) if current.version.runnable => {
                return Err(LibraryError::WouldReplaceRunnable {
                    name: current.record.qualified_name(),
                    environment: source.environment,
                });
            }
            Ok(_) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let mut calls = Vec::new();
        for name in &source.references {
            match self.store.get(&namespace, name).await {
                Ok(callee) => calls.push((name.clone(), callee.version.id)),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut tx = self.store.begin().await?;
        let version = tx
            .add_version(&NewVersion {
                namespace,
                name: source.name.clone(),
                description: source.description.clone(),
                signature: source.signature.clone(),
                code: source.code.clone(),
                tests,
                capabilities: source.capabilities.iter().map(str::to_string).collect(),
                embedder_id: Some(self.embedder.id().to_string()),
                runnable: false,
                provenance: options.provenance,
                calls: calls.iter().map(|(_, id)| *id).collect(),
                expect: Expect::Any,
            })
            .await?;
        let skill = tx.skill_record(version.skill_id).await?;
        tx.commit().await?;
        self.sync_index().await?;
        Ok(Added {
            skill,
            version,
            changed: true,
            report: empty_report(&source.name),
            calls: calls.into_iter().map(|(name, _)| name).collect(),
            dependents_retested: Vec::new(),
        })
    }
}

/// The largest skill file [`Library::import_dir`] reads.
pub const MAX_IMPORT_FILE_BYTES: u64 = 1 << 20;
/// The largest Voyager `skills.json` [`Library::import_voyager`] reads.
const MAX_VOYAGER_FILE_BYTES: u64 = 64 << 20;

/// A file or folder an import did not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedFile {
    /// The path.
    pub path: PathBuf,
    /// Why it was not read.
    pub reason: String,
}

/// The skill files of an import directory, read and parsed, and what was not.
#[derive(Default)]
struct Scan {
    sources: Vec<(Option<String>, SkillSource)>,
    skipped: Vec<SkippedFile>,
    failed: Vec<(String, String)>,
}

impl Scan {
    /// A directory entry of type `kind` (not following links): a `.js` regular file is read;
    /// links and special files are skipped with a reason; other files are not skill files.
    fn entry(&mut self, path: &Path, kind: std::fs::FileType, namespace: Option<&str>) {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_symlink() {
            self.skip(path, "symbolic link, not followed".into());
        } else if kind.is_fifo()
            || kind.is_socket()
            || kind.is_block_device()
            || kind.is_char_device()
        {
            self.skip(
                path,
                "not a regular file (FIFO, socket or device), not opened".into(),
            );
        } else if kind.is_file() && path.extension().is_some_and(|e| e == "js") {
            self.file(path, namespace);
        }
    }

    /// Reads and parses one skill file.
    fn file(&mut self, path: &Path, namespace: Option<&str>) {
        let code = match read_regular_file(path, MAX_IMPORT_FILE_BYTES) {
            Ok(code) => code,
            Err(reason) => return self.skip(path, reason),
        };
        let stem = path.file_stem().and_then(|s| s.to_str());
        match SkillSource::parse(&code, stem) {
            Ok(source) => self.sources.push((namespace.map(String::from), source)),
            Err(e) => self
                .failed
                .push((path.display().to_string(), e.to_string())),
        }
    }

    fn skip(&mut self, path: &Path, reason: String) {
        self.skipped.push(SkippedFile {
            path: path.to_path_buf(),
            reason,
        });
    }
}

/// The entries of `dir`, sorted by name, each with its own type (links not followed).
pub(super) fn list_dir(dir: &Path) -> std::io::Result<Vec<(PathBuf, std::fs::FileType)>> {
    let mut entries = std::fs::read_dir(dir)?
        .map(|entry| entry.and_then(|e| Ok((e.path(), e.file_type()?))))
        .collect::<std::io::Result<Vec<_>>>()?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// The text of the regular file at `path`, at most `max` bytes, or why it was not read. The
/// file is opened with `O_NOFOLLOW | O_NONBLOCK` (a link is refused, a FIFO cannot block the
/// open) and its type and size are checked on the open descriptor before it is read.
pub(super) fn read_regular_file(path: &Path, max: u64) -> std::result::Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => "symbolic link, not followed".to_string(),
            _ => format!("cannot open: {e}"),
        })?;
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file, not read".into());
    }
    let too_large = |size: u64| format!("{size} bytes, over the limit of {max} bytes, not read");
    if meta.len() > max {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text, not read".to_string())
}

/// `dir/NAMESPACE/NAME.js` for a stored skill, if its namespace and name are safe names.
pub(super) fn export_path(dir: &Path, record: &SkillRecord) -> Result<PathBuf> {
    let unsafe_export = |problem: String| LibraryError::UnsafeExport {
        skill: record.qualified_name(),
        problem,
    };
    check_namespace(&record.namespace).map_err(|e| unsafe_export(e.to_string()))?;
    if !crate::sandbox::is_identifier(&record.name) {
        return Err(unsafe_export(format!(
            "'{}' is not a JavaScript identifier",
            record.name
        )));
    }
    Ok(dir
        .join(&record.namespace)
        .join(format!("{}.js", record.name)))
}

fn empty_report(name: &str) -> crate::validate::TestReport {
    crate::validate::TestReport {
        skill: name.to_string(),
        tests: Vec::new(),
        call_graph: Vec::new(),
    }
}

#[derive(serde::Deserialize)]
struct VoyagerSkill {
    code: String,
    #[serde(default)]
    description: String,
}

/// A Voyager skill as a skill file: its description (Voyager wraps it in a function stub of
/// `//` comments) in a JSDoc header that declares the Minecraft environment, placed right
/// before the skill's own function (some files declare helpers first).
fn voyager_source(name: &str, description: &str, code: &str) -> String {
    let comments: Vec<&str> = description
        .lines()
        .filter_map(|line| line.trim().strip_prefix("//"))
        .map(str::trim)
        .collect();
    let text = if comments.is_empty() {
        description.trim().to_string()
    } else {
        comments.join(" ")
    };
    let header = format!(
        "/**\n * {}\n * @environment {VOYAGER_ENVIRONMENT}\n */\n",
        text.replace("*/", "* /")
    );
    let declaration = [
        format!("async function {name}("),
        format!("function {name}("),
    ];
    let at = code
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .chain([0])
        .filter(|&start| {
            declaration
                .iter()
                .any(|d| code[start..].starts_with(d.as_str()))
        })
        .min()
        .unwrap_or(0);
    format!("{}{header}{}\n", &code[..at], &code[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voyager_header_goes_before_the_skill_not_its_helpers() {
        let description =
            "async function craftRod(bot) {\n    // Crafts a rod. It */ places a table.\n}";
        let code = "async function helper(bot) { return 1; }\n\nasync function craftRod(bot) {\n  await helper(bot);\n}";
        let source = voyager_source("craftRod", description, code);
        let parsed = SkillSource::parse(&source, Some("craftRod")).unwrap();
        assert_eq!(parsed.name, "craftRod");
        assert_eq!(parsed.environment, VOYAGER_ENVIRONMENT);
        assert_eq!(parsed.description, "Crafts a rod. It * / places a table.");
        assert!(source.starts_with("async function helper"));
    }

    #[test]
    fn the_starter_library_is_embedded_and_parses() {
        let skills = starter_skills().unwrap();
        let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/skills"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "js")
            })
            .count();
        assert_eq!(skills.len(), on_disk);
        assert!(skills.iter().all(|s| !s.tests.is_empty()));
    }
}
