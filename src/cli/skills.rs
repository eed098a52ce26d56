//! `skillforge skills ...` and `skillforge reindex`: the library from the command line.

use super::{EXIT_OK, exit_skill_failure, runtime};
use anyhow::Context;
use serde_json::{Value, json};
use skillforge::index::SearchFilter;
use skillforge::library::{
    AddOptions, AgentSkillsExport, DEFAULT_LOCK_TIMEOUT, ENV_ALLOW_CAPABILITIES, Library,
    LibraryConfig, LibraryError, OpenMode, SearchResult, SkillSummary,
};
use skillforge::redact::redact_url;
use skillforge::runtime::{Runtime, RuntimeBuilder};
use skillforge::skill;
use skillforge::store::{ListFilter, SkillStatus};
use std::path::PathBuf;
use std::process::ExitCode;

/// Where the library lives and what its skills may be granted; shared by every command that
/// opens it. Its `Debug` shows no password.
#[derive(Clone, clap::Args)]
pub struct DataArgs {
    /// Directory of the library (SQLite file and vector index).
    #[arg(long, global = true, env = "SKILLFORGE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// SQL store URL instead of the SQLite file (e.g. postgres://user:pw@host/db).
    #[arg(
        long,
        global = true,
        env = "SKILLFORGE_DATABASE_URL",
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// Qdrant server (gRPC, e.g. http://localhost:6334) instead of the in-process index.
    #[arg(long, global = true, env = "QDRANT_URL", value_name = "URL")]
    pub qdrant_url: Option<String>,
    /// Base name of the Qdrant collection (the library adds a key of its embedder and index
    /// format).
    #[arg(
        long,
        global = true,
        env = "QDRANT_COLLECTION",
        value_name = "NAME",
        default_value = "skillforge"
    )]
    pub qdrant_collection: String,
    /// Allow skills to be granted this capability (a host function name, `prefix.*`, `clock`
    /// or `random`; repeatable). Default: none. A skill declaring another one is refused.
    #[arg(
        long = "allow-capability",
        global = true,
        env = ENV_ALLOW_CAPABILITIES,
        value_name = "CAPABILITY",
        value_delimiter = ','
    )]
    pub allow_capabilities: Vec<String>,
    /// Seconds a command that writes waits for another process using the same data dir
    /// (`run`, `solve`, `skills add`, ...) to finish before giving up.
    #[arg(
        long,
        global = true,
        env = "SKILLFORGE_LOCK_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = DEFAULT_LOCK_TIMEOUT.as_secs_f64()
    )]
    pub lock_timeout: f64,
}

impl std::fmt::Debug for DataArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataArgs")
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("qdrant_url", &self.qdrant_url.as_deref().map(redact_url))
            .field("qdrant_collection", &self.qdrant_collection)
            .field("allow_capabilities", &self.allow_capabilities)
            .field("lock_timeout", &self.lock_timeout)
            .finish()
    }
}

impl DataArgs {
    /// The library configuration these options describe.
    pub fn config(&self, mode: OpenMode) -> anyhow::Result<LibraryConfig> {
        let mut config = LibraryConfig::new(
            self.data_dir
                .clone()
                .unwrap_or_else(LibraryConfig::default_data_dir),
        );
        config.database_url = self.database_url.clone();
        config.qdrant_url = self.qdrant_url.clone();
        config.qdrant_api_key = std::env::var("QDRANT_API_KEY").ok();
        config.qdrant_collection = self.qdrant_collection.clone();
        config.allowed_capabilities = self.allow_capabilities.iter().collect();
        config.mode = mode;
        config.lock_timeout =
            std::time::Duration::try_from_secs_f64(self.lock_timeout).map_err(|_| {
                anyhow::anyhow!(
                    "--lock-timeout {} is not a number of seconds >= 0",
                    self.lock_timeout
                )
            })?;
        Ok(config)
    }

    /// A runtime builder over the library these options describe, opened in `mode`.
    pub fn builder(&self, mode: OpenMode) -> anyhow::Result<RuntimeBuilder> {
        Ok(Runtime::builder().library_config(self.config(mode)?))
    }

    /// Builds `builder` (which opens the library), showing a spinner meanwhile.
    pub async fn build(&self, builder: RuntimeBuilder) -> anyhow::Result<Runtime> {
        let dir = self
            .data_dir
            .clone()
            .unwrap_or_else(LibraryConfig::default_data_dir);
        let spinner = spinner(format!("opening the library in {}", dir.display()));
        let runtime = builder
            .build()
            .await
            .with_context(|| format!("opening the library in {}", dir.display()))?;
        spinner.finish_and_clear();
        Ok(runtime)
    }

    /// The runtime of the library alone (the `code` environment; no model is started), in
    /// `mode`.
    pub async fn open(&self, mode: OpenMode) -> anyhow::Result<Runtime> {
        self.build(self.builder(mode)?).await
    }
}

/// Parses a `--namespace`: a safe name, never a path (`skill::check_namespace`).
pub fn namespace_arg(value: &str) -> Result<String, String> {
    skill::check_namespace(value)
        .map(str::to_string)
        .map_err(|e| e.to_string())
}

/// A spinner on stderr (hidden when stderr is not a terminal).
pub fn spinner(message: String) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner().with_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// `skillforge skills ...`.
#[derive(Debug, clap::Subcommand)]
pub enum SkillsCommand {
    /// Validate a skill file (its tests, and those of the skills that call it) and add it as
    /// a new skill or a new version.
    Add {
        /// The skill file.
        file: PathBuf,
        /// Namespace (default: the file's @namespace, else `default`).
        #[arg(long, value_parser = namespace_arg)]
        namespace: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the skills.
    List {
        /// Only this namespace.
        #[arg(long, value_parser = namespace_arg)]
        namespace: Option<String>,
        /// Only this status (active, deprecated, quarantined; repeatable).
        #[arg(long)]
        status: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a skill (NAME or NAMESPACE/NAME): its code, stats, and call-graph neighbours.
    Show {
        /// The skill.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search the library (hybrid dense + BM25 retrieval).
    Search {
        /// What the skill should do.
        query: String,
        /// How many results.
        #[arg(short, long, default_value_t = 5)]
        k: usize,
        /// Only this namespace.
        #[arg(long, value_parser = namespace_arg)]
        namespace: Option<String>,
        /// Include deprecated and quarantined skills.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-run library skills' stored tests (all runnable skills when no name is given) and
    /// record when each last passed.
    Test {
        /// Skills to test (NAME or NAMESPACE/NAME).
        names: Vec<String>,
        /// Quarantine the skills whose tests fail (they are then refused as dependencies).
        #[arg(long)]
        quarantine: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Mark a skill deprecated (kept for its callers, not offered by searches).
    Deprecate {
        /// The skill.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write every skill to DIR/NAMESPACE/NAME.js, or (`--format agent-skills`) every active
    /// skill whose tests pass as an Agent Skills folder DIR/NAME/ (SKILL.md, scripts/).
    Export {
        /// Target directory.
        dir: PathBuf,
        /// What to write.
        #[arg(long, value_enum, default_value_t = Format::Skillforge)]
        format: Format,
        /// The license written in each Agent Skills folder's front matter (an SPDX id).
        #[arg(long, default_value = "Apache-2.0", value_name = "SPDX")]
        license: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import skill files (DIR/*.js and DIR/NAMESPACE/*.js), Agent Skills folders
    /// (`--format agent-skills`: DIR/NAME/SKILL.md with a JavaScript script), or a Voyager
    /// skills.json.
    Import {
        /// A directory or file of skills; with --voyager, a Voyager skills.json.
        path: PathBuf,
        /// What the directory holds.
        #[arg(long, value_enum, default_value_t = Format::Skillforge)]
        format: Format,
        /// The file is a Voyager skills.json ({name: {code, description}}).
        #[arg(long)]
        voyager: bool,
        /// Namespace for a Voyager import (default: voyager-<folder name>) or an Agent Skills
        /// import (default: each folder's metadata `namespace`, else the default).
        #[arg(long, value_parser = namespace_arg)]
        namespace: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The layout of an export or import directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// skillforge's own skill files: DIR/NAMESPACE/NAME.js.
    Skillforge,
    /// Agent Skills folders: DIR/NAME/SKILL.md and DIR/NAME/scripts/FUNCTION.js.
    AgentSkills,
}

/// `skillforge reindex`.
#[derive(Debug, clap::Args)]
pub struct ReindexArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a `skills` subcommand.
pub fn run(data: &DataArgs, command: SkillsCommand) -> anyhow::Result<ExitCode> {
    let mode = match command {
        SkillsCommand::List { .. }
        | SkillsCommand::Show { .. }
        | SkillsCommand::Search { .. }
        | SkillsCommand::Export { .. } => OpenMode::ReadOnly,
        SkillsCommand::Add { .. }
        | SkillsCommand::Test { .. }
        | SkillsCommand::Deprecate { .. }
        | SkillsCommand::Import { .. } => OpenMode::ReadWrite,
    };
    runtime()?.block_on(async {
        let runtime = data.open(mode).await?;
        let code = dispatch(runtime.library(), command).await;
        runtime.close().await;
        code
    })
}

/// Runs `reindex`.
pub fn reindex(data: &DataArgs, args: ReindexArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let runtime = data.open(OpenMode::ReadWrite).await?;
        let library = runtime.library();
        let spinner = spinner("re-embedding and indexing every skill".into());
        let count = library.reindex().await.context("rebuilding the index")?;
        spinner.finish_and_clear();
        let embedder = library.embedder().id().to_string();
        if args.json {
            println!("{}", json!({"skills": count, "embedder": embedder}));
        } else {
            println!("indexed {count} skills with {embedder}");
        }
        runtime.close().await;
        Ok(EXIT_OK)
    })
}

async fn dispatch(library: &Library, command: SkillsCommand) -> anyhow::Result<ExitCode> {
    match command {
        SkillsCommand::Add {
            file,
            namespace,
            json,
        } => add(library, file, namespace, json).await,
        SkillsCommand::List {
            namespace,
            status,
            json,
        } => {
            let statuses = status
                .iter()
                .map(|s| s.parse::<SkillStatus>())
                .collect::<Result<_, _>>()?;
            let skills = library
                .list(&ListFilter {
                    namespace,
                    statuses,
                    ..Default::default()
                })
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&skills)?);
            } else {
                print_list(&skills);
            }
            Ok(EXIT_OK)
        }
        SkillsCommand::Show { name, json } => {
            let detail = library.get(&name).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&detail)?);
            } else {
                let s = &detail.skill;
                println!(
                    "{}/{} v{} [{}]{}",
                    s.record.namespace,
                    s.record.name,
                    s.version.version,
                    s.record.status,
                    if s.version.runnable {
                        ""
                    } else {
                        " (not runnable here)"
                    }
                );
                println!("signature: {}", s.version.signature);
                println!("description: {}", s.version.description);
                let names = |refs: &[skillforge::store::SkillRef]| {
                    refs.iter().map(|r| r.name.clone()).collect::<Vec<_>>()
                };
                println!("calls: {}", names(&detail.calls).join(", "));
                println!("called by: {}", names(&detail.called_by).join(", "));
                println!(
                    "stats: {} calls, {} ok, {} failed, {} tried for other tasks and not their \
                     answer, last verified {}",
                    s.stats.calls,
                    s.stats.successes,
                    s.stats.failures,
                    s.stats.misses,
                    s.stats
                        .last_verified_at
                        .map_or("never".into(), |t| t.to_rfc3339())
                );
                if s.version.provenance.unchecked {
                    println!(
                        "unchecked: admitted unverified (its task had no programmatic check, or \
                         only examples, which no independent solution corroborated: one passed \
                         them too while behaving otherwise, or none could be had; the episode's \
                         journal says which); re-verify or deprecate it"
                    );
                }
                println!("\n{}", s.version.code.trim_end());
            }
            Ok(EXIT_OK)
        }
        SkillsCommand::Search {
            query,
            k,
            namespace,
            all,
            json,
        } => {
            let filter = SearchFilter {
                namespace,
                statuses: if all {
                    Vec::new()
                } else {
                    vec![SkillStatus::Active]
                },
            };
            let hits = library.search(&query, k, filter).await?;
            if json {
                let rows: Vec<Value> = hits.iter().map(SearchResult::to_json).collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for h in &hits {
                    println!(
                        "{:.4}  {}/{}  {}",
                        h.score,
                        h.skill.record.namespace,
                        h.skill.record.name,
                        h.skill.version.signature
                    );
                }
            }
            Ok(EXIT_OK)
        }
        SkillsCommand::Test {
            names,
            quarantine,
            json,
        } => {
            let results = library.verify(&names).await?;
            let mut failed = Vec::new();
            let mut rows = Vec::new();
            for (record, report) in &results {
                let name = record.qualified_name();
                let ok = report.all_passed();
                if !ok {
                    failed.push(name.clone());
                    if quarantine {
                        library.set_status(&name, SkillStatus::Quarantined).await?;
                    }
                }
                if json {
                    rows.push(json!({"skill": name, "ok": ok, "passed": report.passed(),
                                     "failed": report.failed(), "tests": report.tests}));
                } else {
                    println!(
                        "{} {name}: {} passed, {} failed",
                        if ok { "ok  " } else { "FAIL" },
                        report.passed(),
                        report.failed()
                    );
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{} skills, {} failing", results.len(), failed.len());
            }
            Ok(if failed.is_empty() {
                EXIT_OK
            } else {
                exit_skill_failure()
            })
        }
        SkillsCommand::Deprecate { name, json } => {
            let record = library.deprecate(&name).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&record)?);
            } else {
                println!(
                    "{}/{} is now {}",
                    record.namespace, record.name, record.status
                );
            }
            Ok(EXIT_OK)
        }
        SkillsCommand::Export {
            dir,
            format: Format::AgentSkills,
            license,
            json,
        } => {
            let options = AgentSkillsExport { license };
            let report = library.export_agent_skills(&dir, &options).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "exported {} skills as Agent Skills folders to {}",
                    report.exported.len(),
                    dir.display()
                );
                for (skill, reason) in &report.skipped {
                    eprintln!("SKIPPED {skill}: {reason}");
                }
            }
            Ok(EXIT_OK)
        }
        SkillsCommand::Export { dir, json, .. } => {
            let count = library.export(&dir).await?;
            if json {
                println!("{}", json!({"exported": count, "dir": dir}));
            } else {
                println!("exported {count} skills to {}", dir.display());
            }
            Ok(EXIT_OK)
        }
        SkillsCommand::Import {
            path,
            format,
            voyager,
            namespace,
            json,
        } => {
            anyhow::ensure!(
                !(voyager && format == Format::AgentSkills),
                "--voyager and --format agent-skills are two different imports; choose one"
            );
            let spinner = spinner(format!("importing {}", path.display()));
            let (printed, report) = if format == Format::AgentSkills {
                let report = library
                    .import_agent_skills(&path, namespace.as_deref())
                    .await?;
                spinner.finish_and_clear();
                if !json {
                    println!(
                        "{} added, {} unchanged, {} failed, {} skipped",
                        report.import.added.len(),
                        report.import.unchanged.len(),
                        report.import.failed.len(),
                        report.import.skipped.len()
                    );
                    for warning in &report.warnings {
                        eprintln!("WARNING {}: {}", warning.path.display(), warning.reason);
                    }
                }
                (serde_json::to_value(&report)?, report.import)
            } else if voyager {
                let report = library.import_voyager(&path, namespace.as_deref()).await?;
                spinner.finish_and_clear();
                if !json {
                    println!(
                        "{}: {} skills, {} added, {} unchanged, {} failed; {} call another skill of the library ({} calls)",
                        report.namespace,
                        report.skills,
                        report.import.added.len(),
                        report.import.unchanged.len(),
                        report.import.failed.len(),
                        report.calling_other_skills,
                        report.edges
                    );
                }
                (serde_json::to_value(&report)?, report.import)
            } else {
                anyhow::ensure!(
                    namespace.is_none(),
                    "--namespace applies to --voyager imports; skill files use DIR/NAMESPACE/ or @namespace"
                );
                let report = library.import_dir(&path).await?;
                spinner.finish_and_clear();
                if !json {
                    println!(
                        "{} added, {} unchanged, {} failed, {} skipped",
                        report.added.len(),
                        report.unchanged.len(),
                        report.failed.len(),
                        report.skipped.len()
                    );
                }
                (serde_json::to_value(&report)?, report)
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&printed)?);
            } else {
                for skipped in &report.skipped {
                    eprintln!("SKIPPED {}: {}", skipped.path.display(), skipped.reason);
                }
                for (name, problem) in &report.failed {
                    eprintln!("FAILED {name}: {problem}");
                }
            }
            Ok(if report.failed.is_empty() {
                EXIT_OK
            } else {
                exit_skill_failure()
            })
        }
    }
}

async fn add(
    library: &Library,
    file: PathBuf,
    namespace: Option<String>,
    as_json: bool,
) -> anyhow::Result<ExitCode> {
    let source = skill::read_skill_file(&file)?;
    let name = source.name.clone();
    let options = AddOptions {
        namespace,
        ..AddOptions::default()
    };
    match library.add(source, options).await {
        Ok(added) => {
            if as_json {
                println!(
                    "{}",
                    json!({"ok": true, "namespace": added.skill.namespace, "skill": added.skill.name,
                       "version": added.version.version, "changed": added.changed,
                       "calls": added.calls, "dependents_retested": added.dependents_retested,
                       "tests": added.report.tests})
                );
            } else if added.changed {
                println!(
                    "added {}/{} v{} ({} tests passed{})",
                    added.skill.namespace,
                    added.skill.name,
                    added.version.version,
                    added.report.passed(),
                    if added.dependents_retested.is_empty() {
                        String::new()
                    } else {
                        format!("; re-tested {}", added.dependents_retested.join(", "))
                    }
                );
            } else {
                println!(
                    "{}/{} v{} is already this code; nothing changed",
                    added.skill.namespace, added.skill.name, added.version.version
                );
            }
            Ok(EXIT_OK)
        }
        Err(e) => match e.rejection_kind() {
            Some(kind) => {
                if as_json {
                    let mut error = json!({"kind": kind, "message": e.to_string()});
                    if let LibraryError::TestsFailed { report, .. }
                    | LibraryError::DependentRegression { report, .. } = &e
                    {
                        error["report"] = serde_json::to_value(report)?;
                    }
                    println!("{}", json!({"ok": false, "skill": name, "error": error}));
                } else {
                    eprintln!("rejected: {e}");
                }
                Ok(exit_skill_failure())
            }
            None => Err(e).with_context(|| format!("adding {}", file.display())),
        },
    }
}

fn print_list(skills: &[SkillSummary]) {
    for s in skills {
        let rate = s
            .stats
            .success_rate()
            .map_or("-".into(), |r| format!("{:.0}%", r * 100.0));
        println!(
            "{}/{:<28} v{:<3} {:<11} {:>5} calls {:>5}  {}{}",
            s.record.namespace,
            s.record.name,
            s.record.current_version,
            s.record.status.as_str(),
            s.stats.calls,
            rate,
            s.signature,
            if s.unchecked { "  [unchecked]" } else { "" }
        );
    }
    println!("{} skills", skills.len());
}
