//! Getting skills in and out: the embedded starter library, directories of skill files, and
//! Voyager's released `skills.json` libraries.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};
use serde::Serialize;

use super::{AddOptions, Added, DEFAULT_NAMESPACE, Library, LibraryError, Result, tests_json};
use crate::skill::{self, SkillSource};
use crate::store::{Expect, ListFilter, NewVersion, Provenance, StoreError, content_hash};

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
    /// Skills refused, with the reason.
    pub failed: Vec<(String, String)>,
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
    /// `dir/NAMESPACE/*.js`. Runnable skills are validated like [`Library::add`]; skills for
    /// other environments are stored as not runnable. Skills are added callees first; a skill
    /// that fails is reported and the rest go on.
    pub async fn import_dir(&self, dir: &Path) -> Result<ImportReport> {
        let io = |source| LibraryError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut sources: Vec<(Option<String>, SkillSource)> = Vec::new();
        if dir.is_file() {
            sources.push((None, skill::read_skill_file(dir)?));
        } else {
            let mut subdirs: Vec<PathBuf> = Vec::new();
            for entry in std::fs::read_dir(dir).map_err(io)? {
                let path = entry.map_err(io)?.path();
                if path.is_dir() {
                    subdirs.push(path);
                }
            }
            subdirs.sort();
            sources.extend(skill::read_skill_files(dir)?.into_iter().map(|s| (None, s)));
            for sub in subdirs {
                let namespace = sub.file_name().and_then(|n| n.to_str()).map(String::from);
                for source in skill::read_skill_files(&sub)? {
                    sources.push((namespace.clone(), source));
                }
            }
        }
        self.import_all(sources, Provenance::default()).await
    }

    /// Imports skills into their declared namespace (or the default one), callees first.
    pub async fn import_sources(&self, sources: Vec<SkillSource>) -> Result<ImportReport> {
        let sources = sources.into_iter().map(|s| (None, s)).collect();
        self.import_all(sources, Provenance::default()).await
    }

    /// Writes every skill to `dir/NAMESPACE/NAME.js` (the stored source, JSDoc header and
    /// tests included). Returns how many files were written.
    pub async fn export(&self, dir: &Path) -> Result<usize> {
        let mut count = 0;
        for skill in self.store.list_skills(&ListFilter::default()).await? {
            let record = &skill.record;
            let folder = dir.join(&record.namespace);
            let path = folder.join(format!("{}.js", record.name));
            let io = |source| LibraryError::Io {
                path: path.clone(),
                source,
            };
            std::fs::create_dir_all(&folder).map_err(io)?;
            let mut code = skill.version.code;
            if !code.ends_with('\n') {
                code.push('\n');
            }
            std::fs::write(&path, code).map_err(io)?;
            count += 1;
        }
        Ok(count)
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
        let text = std::fs::read_to_string(file).map_err(|source| LibraryError::Io {
            path: file.to_path_buf(),
            source,
        })?;
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
    async fn import_all(
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
        let tests = tests_json(&source);
        let hash = content_hash(&source.code, &tests);
        if let Ok(current) = self.store.get(&namespace, &source.name).await
            && current.version.content_hash == hash
        {
            return Ok(Added {
                calls: Vec::new(),
                skill: current.record,
                version: current.version,
                changed: false,
                report: empty_report(&source.name),
                dependents_retested: Vec::new(),
            });
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
