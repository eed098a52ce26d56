//! The skill library: the one API over the SQL store, the vector index, the embedder and the
//! sandbox.
//!
//! - **Adding** a skill validates it first: its source parses, it bundles with the library
//!   skills it calls (resolved by name in its namespace), its tests pass in the sandbox, and,
//!   when it replaces a version, the tests of every skill that calls it (transitively) still pass
//!   against the new version. Only then is the version written, with its call-graph edges and an
//!   outbox entry, in one transaction.
//! - **The index follows the store**: after each commit the outbox is applied to the index and
//!   acknowledged ([`Library::sync_index`]). Whatever a crash left pending is applied when the
//!   library is opened; an index built for another embedder is rebuilt from SQL
//!   ([`Library::reindex`]) instead of failing on dimensions.
//! - **Retrieval** is the index's hybrid search (dense views + BM25, fused), resolved back to
//!   the SQL rows.
//!
//! - **Several processes** share a data directory through its lock ([`DataDirLock`]): a
//!   library opened [`OpenMode::ReadWrite`] holds it for its lifetime (waiting for another
//!   holder up to [`LibraryConfig::lock_timeout`]); one opened [`OpenMode::ReadOnly`] never
//!   waits: while another process holds the library it reads SQL beside it (SQLite's WAL,
//!   or PostgreSQL) and searches a snapshot of the index.
//!
//! The library knows nothing of agents: the agent calls [`Library::prepare`] and
//! [`Library::write`] to admit a skill inside its own transaction (with its journal).

mod agent_skills;
mod error;
mod import;
mod lock;
mod recipe;
mod resolve;
mod sync;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::compose::Bundle;
use crate::embed::Embedder;
use crate::index::{
    EdgeIndex, IndexError, IndexSpec, QdrantServerIndex, SearchFilter, VectorIndex,
};
use crate::redact::redact_url;
use crate::sandbox::{Capabilities, Limits, Sandbox};
use crate::skill::{SkillSource, check_namespace};
use crate::store::{
    CallOutcome, Expect, ListFilter, NewVersion, Provenance, Skill, SkillId, SkillRecord, SkillRef,
    SkillStats, SkillStatus, Store, StoreError, Tx, VersionRecord, content_hash,
};
use crate::validate::{self, Job, TestReport};

pub use agent_skills::{
    AgentSkillsExport, AgentSkillsExportReport, AgentSkillsImportReport, ExportedFolder,
    agent_skill_name, folder_names,
};
pub use error::{LibraryError, Result};
pub use import::{ImportReport, ImportedSkill, SkippedFile, VoyagerReport, starter_skills};
pub use lock::{DataDirLock, LOCK_FILE, LockHolder};
pub use recipe::{
    DenseText, LexicalText, Recipe, ViewTexts, code_words, first_sentence, name_words,
};

/// The namespace of skills that declare none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Environment variable naming the data directory.
pub const ENV_DATA_DIR: &str = "SKILLFORGE_DATA_DIR";

/// Environment variable the CLI reads the capability policy from (comma-separated).
pub const ENV_ALLOW_CAPABILITIES: &str = "SKILLFORGE_ALLOW_CAPABILITIES";

/// How long a writer waits for another process to release the library by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// What a caller will do with a library, and so which lock it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OpenMode {
    /// Read and write: the library's data directory lock is held while the [`Library`]
    /// lives. If another process holds it, `open` waits up to
    /// [`LibraryConfig::lock_timeout`], then fails with [`LibraryError::Busy`].
    #[default]
    ReadWrite,
    /// Read only; writes fail with [`LibraryError::ReadOnly`]. Never waits: if no process
    /// holds the library, this one holds it while it lives (and does the upkeep of `open`:
    /// creating, migrating, replaying the outbox); if another does, SQL is read beside it
    /// and searches go to a snapshot of the index taken at `open`.
    ReadOnly,
}

/// Where a library lives and how it validates. Its `Debug` shows no password or API key.
#[derive(Clone)]
pub struct LibraryConfig {
    /// Directory holding the SQLite file and the in-process index.
    pub data_dir: PathBuf,
    /// SQL store URL; `None` is `sqlite://<data_dir>/skillforge.db`.
    pub database_url: Option<String>,
    /// Qdrant server (gRPC URL); `None` keeps the index in process under `<data_dir>/index`.
    pub qdrant_url: Option<String>,
    /// API key of the Qdrant server.
    pub qdrant_api_key: Option<String>,
    /// Base name of the Qdrant collection; the collection used is this name and a key of
    /// the embedder and index format ([`server_collection`]).
    pub qdrant_collection: String,
    /// Limits of each test call.
    pub limits: Limits,
    /// Load the starter library (`skills/` of the repository, embedded in the binary) into a
    /// library that has never been loaded.
    pub load_starter: bool,
    /// The operator's capability policy: what any skill may be granted (a name, `prefix.*`,
    /// `clock` or `random`). A skill that declares anything else is refused at admission
    /// ([`LibraryError::CapabilityNotAllowed`]), and so is a bundle holding one. Default:
    /// none (the code environment offers no host functions). The CLI sets it from
    /// `--allow-capability` and `$SKILLFORGE_ALLOW_CAPABILITIES` (comma-separated).
    pub allowed_capabilities: Capabilities,
    /// Read-write or read-only.
    pub mode: OpenMode,
    /// How long [`OpenMode::ReadWrite`] waits for another process holding the library (and
    /// a read-only snapshot for a write in progress).
    pub lock_timeout: Duration,
}

impl LibraryConfig {
    /// A library in `data_dir` with the defaults: SQLite, in-process index, default limits,
    /// starter library loaded.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            database_url: None,
            qdrant_url: None,
            qdrant_api_key: None,
            qdrant_collection: "skillforge".into(),
            limits: Limits::default(),
            load_starter: true,
            allowed_capabilities: Capabilities::none(),
            mode: OpenMode::ReadWrite,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// `$SKILLFORGE_DATA_DIR`, else `$XDG_DATA_HOME/skillforge`, else
    /// `~/.local/share/skillforge`, else `./skillforge-data`.
    pub fn default_data_dir() -> PathBuf {
        let env = |name| std::env::var_os(name).filter(|v| !v.is_empty());
        if let Some(dir) = env(ENV_DATA_DIR) {
            return dir.into();
        }
        if let Some(dir) = env("XDG_DATA_HOME") {
            return Path::new(&dir).join("skillforge");
        }
        match env("HOME") {
            Some(home) => Path::new(&home).join(".local/share/skillforge"),
            None => PathBuf::from("skillforge-data"),
        }
    }

    /// The SQL store's URL: `database_url`, else the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}", self.data_dir.join("skillforge.db").display())
        })
    }
}

impl std::fmt::Debug for LibraryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibraryConfig")
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("qdrant_url", &self.qdrant_url.as_deref().map(redact_url))
            .field(
                "qdrant_api_key",
                &self.qdrant_api_key.as_ref().map(|_| "<redacted>"),
            )
            .field("qdrant_collection", &self.qdrant_collection)
            .field("limits", &self.limits)
            .field("load_starter", &self.load_starter)
            .field("allowed_capabilities", &self.allowed_capabilities)
            .field("mode", &self.mode)
            .field("lock_timeout", &self.lock_timeout)
            .finish()
    }
}

/// A skill with what it calls and what calls it.
#[derive(Debug, Clone, Serialize)]
pub struct SkillDetail {
    /// The skill row, its current version and stats.
    #[serde(flatten)]
    pub skill: Skill,
    /// Skills the current version calls.
    pub calls: Vec<SkillRef>,
    /// Skills whose current version calls this one.
    pub called_by: Vec<SkillRef>,
}

/// A line of a listing: the skill and what its current version says of itself.
#[derive(Debug, Clone, Serialize)]
pub struct SkillSummary {
    /// The skill row.
    #[serde(flatten)]
    pub record: SkillRecord,
    /// Description of the current version.
    pub description: String,
    /// Signature of the current version.
    pub signature: String,
    /// Whether it runs in this sandbox.
    pub runnable: bool,
    /// Usage stats.
    pub stats: SkillStats,
    /// The current version was admitted unverified ([`Provenance::unchecked`]): it does not
    /// count as verified.
    pub unchecked: bool,
}

/// One search result.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResult {
    /// Fused rank score (higher is better).
    pub score: f32,
    /// The skill.
    pub skill: Skill,
}

impl SearchResult {
    /// The hit as `skills search --json` and the daemon's search answer it: score,
    /// namespace, name, status, signature and description.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"score": self.score, "namespace": self.skill.record.namespace,
                           "name": self.skill.record.name, "status": self.skill.record.status,
                           "signature": self.skill.version.signature,
                           "description": self.skill.version.description})
    }
}

/// How a skill is added.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// Namespace; `None` takes the skill's `@namespace`, else [`DEFAULT_NAMESPACE`].
    pub namespace: Option<String>,
    /// Where the version comes from.
    pub provenance: Provenance,
}

/// A validated skill, ready to be written: the result of [`Library::prepare`].
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The skill.
    pub source: SkillSource,
    /// Its namespace.
    pub namespace: String,
    /// The program its tests ran against.
    pub bundle: Bundle,
    /// Its test report (every test passed).
    pub report: TestReport,
    /// The library versions it calls directly, by name.
    pub calls: Vec<SkillRef>,
    /// Dependents re-tested against it (every test passed).
    pub dependents: Vec<TestReport>,
    /// The current version it replaces, or `None` for a new skill.
    pub replaces: Option<i64>,
    /// Provenance to record.
    pub provenance: Provenance,
    /// Set when the library already holds exactly this code and these tests as the skill's
    /// current version: writing it again would change nothing.
    pub unchanged: Option<VersionRecord>,
}

/// What [`Library::add`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Added {
    /// The skill row after the write.
    pub skill: SkillRecord,
    /// The version now current.
    pub version: VersionRecord,
    /// False when the same code and tests were already current (nothing was written).
    pub changed: bool,
    /// The skill's test report.
    pub report: TestReport,
    /// The names of the skills it calls.
    pub calls: Vec<String>,
    /// Dependents re-tested against the new version.
    pub dependents_retested: Vec<String>,
}

/// The library: store, index, embedder and sandbox together.
pub struct Library {
    store: Store,
    index: Arc<dyn VectorIndex>,
    embedder: Arc<dyn Embedder>,
    sandbox: Arc<Sandbox>,
    limits: Limits,
    allowed_capabilities: Capabilities,
    data_dir: PathBuf,
    /// Why writes are refused (`None`: this handle may write).
    read_only: Option<String>,
    /// No other process can write the store: this one holds the data directory's lock and
    /// the store is the data directory's SQLite file.
    sole_writer: bool,
    /// The data directory's lock, when this process holds it. Declared last: released
    /// after the index is closed.
    lock: Option<DataDirLock>,
}

impl Library {
    /// Opens (creating if needed) the library described by `config`, in its
    /// [`OpenMode`]. Unless another process holds the library (read-only mode), replays
    /// index writes a crash left pending, rebuilds the index if it is new, damaged or was
    /// built for another embedder, and loads the starter library into a library that has
    /// never been loaded.
    pub async fn open(
        config: &LibraryConfig,
        embedder: Arc<dyn Embedder>,
        sandbox: Arc<Sandbox>,
    ) -> Result<Library> {
        config
            .limits
            .validate()
            .map_err(crate::sandbox::SandboxError::Limits)?;
        std::fs::create_dir_all(&config.data_dir).map_err(|source| LibraryError::Io {
            path: config.data_dir.clone(),
            source,
        })?;
        let spec = IndexSpec {
            embedder_id: embedder.id().to_string(),
            dimension: embedder.dimension(),
        };
        // Only the in-process index needs the lock; servers take concurrent clients.
        let lock = if config.qdrant_url.is_some() {
            None
        } else {
            match config.mode {
                OpenMode::ReadWrite => Some(acquire_lock(config).await?),
                OpenMode::ReadOnly => match try_lock(config).await? {
                    Ok(lock) => Some(lock),
                    Err(holder) => {
                        return Self::open_beside(config, spec, embedder, sandbox, holder).await;
                    }
                },
            }
        };
        let store = Store::open(&config.database_url()).await?;
        let (index, rebuild) = open_index(config, spec).await?;
        let mut library = Library {
            store,
            index,
            embedder,
            sandbox,
            limits: config.limits.clone(),
            allowed_capabilities: config.allowed_capabilities.clone(),
            data_dir: config.data_dir.clone(),
            read_only: None,
            sole_writer: lock.is_some() && config.database_url.is_none(),
            lock,
        };
        library.upkeep(config, rebuild).await?;
        if config.mode == OpenMode::ReadOnly {
            library.read_only = Some("opened with OpenMode::ReadOnly".into());
        }
        Ok(library)
    }

    /// Opens the library of `config` over a vector index of the caller's instead of the one
    /// `config` names. No data directory lock is taken (the caller owns the index); in
    /// [`OpenMode::ReadWrite`] the index is brought up to date with the store as by
    /// [`Library::open`] (rebuilt when it is empty), and the starter library loaded.
    pub async fn open_with_index(
        config: &LibraryConfig,
        embedder: Arc<dyn Embedder>,
        sandbox: Arc<Sandbox>,
        index: Arc<dyn VectorIndex>,
    ) -> Result<Library> {
        config
            .limits
            .validate()
            .map_err(crate::sandbox::SandboxError::Limits)?;
        let requested = IndexSpec {
            embedder_id: embedder.id().to_string(),
            dimension: embedder.dimension(),
        };
        if index.spec() != &requested {
            return Err(IndexError::EmbedderMismatch {
                location: "the given index".into(),
                stored: index.spec().clone(),
                requested,
            }
            .into());
        }
        std::fs::create_dir_all(&config.data_dir).map_err(|source| LibraryError::Io {
            path: config.data_dir.clone(),
            source,
        })?;
        let store = Store::open(&config.database_url()).await?;
        let mut library = Library {
            store,
            index,
            embedder,
            sandbox,
            limits: config.limits.clone(),
            allowed_capabilities: config.allowed_capabilities.clone(),
            data_dir: config.data_dir.clone(),
            read_only: None,
            sole_writer: false,
            lock: None,
        };
        if config.mode == OpenMode::ReadWrite {
            let empty = library.index.count().await? == 0;
            library.upkeep(config, empty).await?;
        } else {
            library.read_only = Some("opened with OpenMode::ReadOnly".into());
        }
        Ok(library)
    }

    /// Read-only access while `holder` holds the library: SQL read beside it, searches on
    /// a snapshot of the index. Nothing is written.
    async fn open_beside(
        config: &LibraryConfig,
        spec: IndexSpec,
        embedder: Arc<dyn Embedder>,
        sandbox: Arc<Sandbox>,
        holder: Option<LockHolder>,
    ) -> Result<Library> {
        let holder = holder.map_or_else(
            || "another process".to_string(),
            |holder| holder.to_string(),
        );
        let beside = |source: LibraryError| LibraryError::Beside {
            data_dir: config.data_dir.clone(),
            holder: holder.clone(),
            source: Box::new(source),
        };
        let store = Store::open_read_only(&config.database_url())
            .await
            .map_err(|e| beside(e.into()))?;
        let dir = config.data_dir.join("index");
        let timeout = config.lock_timeout;
        let index = crate::blocking::run(move || EdgeIndex::open_snapshot(&dir, spec, timeout))
            .await
            .map_err(|e| beside(e.into()))?;
        Ok(Library {
            store,
            index: Arc::new(index),
            embedder,
            sandbox,
            limits: config.limits.clone(),
            allowed_capabilities: config.allowed_capabilities.clone(),
            data_dir: config.data_dir.clone(),
            read_only: Some(format!("{holder} holds it")),
            sole_writer: false,
            lock: None,
        })
    }

    /// What `open` does for the process that holds the library: bring the index up to
    /// date with the store, and load the starter library once.
    async fn upkeep(&self, config: &LibraryConfig, rebuild: bool) -> Result<()> {
        if rebuild {
            self.reindex().await?;
        } else {
            self.sync_index().await?;
        }
        if config.load_starter && self.store.get_meta(STARTER_LOADED).await?.is_none() {
            let report = self.import_sources(starter_skills()?).await?;
            if let Some((name, problem)) = report.failed.first() {
                tracing::warn!("starter skill {name} was not loaded: {problem}");
            }
            self.store.set_meta(STARTER_LOADED, "1").await?;
        }
        Ok(())
    }

    /// True when this handle refuses writes: opened [`OpenMode::ReadOnly`], or beside
    /// another process that holds the library.
    pub fn is_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    /// True when this process holds the data directory's lock.
    pub fn holds_lock(&self) -> bool {
        self.lock.is_some()
    }

    /// Marks this library as one the starter library is never loaded into, as if it had
    /// been: later opens, read-only ones too (`episodes list`, `skills list`), leave its
    /// skills as they are. For libraries that must hold only what a measurement put in them
    /// (`skillforge eval`'s arms). Nothing changes in a library that had it loaded.
    pub async fn forgo_starter(&self) -> Result<()> {
        self.check_writable("forgo the starter library")?;
        if self.store.get_meta(STARTER_LOADED).await?.is_none() {
            self.store.set_meta(STARTER_LOADED, "forgone").await?;
        }
        Ok(())
    }

    /// Fails with [`LibraryError::ReadOnly`] when this handle may not write.
    fn check_writable(&self, what: &'static str) -> Result<()> {
        match &self.read_only {
            None => Ok(()),
            Some(why) => Err(LibraryError::ReadOnly {
                data_dir: self.data_dir.clone(),
                what,
                why: why.clone(),
            }),
        }
    }

    /// The SQL store (for callers that combine library writes with their own in one [`Tx`]).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Whether no other process can write this library's store: this one holds the data
    /// directory's lock and the store is the data directory's SQLite file (so whatever
    /// another process left open in it, that process is gone).
    pub fn is_sole_writer(&self) -> bool {
        self.sole_writer
    }

    /// The vector index (derived from the store; see [`Library::reindex`]).
    pub fn index(&self) -> &Arc<dyn VectorIndex> {
        &self.index
    }

    /// The sandbox skills are validated in.
    pub fn sandbox(&self) -> &Arc<Sandbox> {
        &self.sandbox
    }

    /// The embedder of the index.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// The limits of each test call.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Validates `source` and writes it as a new skill or a new version of the skill of the
    /// same name, then updates the index. Adding exactly the current code and tests again is
    /// a no-op (`changed: false`).
    pub async fn add(&self, source: SkillSource, options: AddOptions) -> Result<Added> {
        self.check_writable("add a skill")?;
        let prepared = self.prepare(source, options).await?;
        let mut tx = self.store.begin().await?;
        let added = self.write(&mut tx, &prepared).await?;
        tx.commit().await?;
        self.sync_index().await?;
        Ok(added)
    }

    /// Validates `source` without writing anything: parse, bundle, own tests, and the tests of
    /// every skill that calls it (when it replaces a version). See [`Library::write`].
    pub async fn prepare(&self, source: SkillSource, options: AddOptions) -> Result<Prepared> {
        let namespace = options
            .namespace
            .or_else(|| source.namespace.clone())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string());
        safe_namespace(&source.name, &namespace)?;
        if !source.is_runnable_here() {
            return Err(LibraryError::NotRunnable {
                name: source.name.clone(),
                environment: source.environment.clone(),
            });
        }
        if source.tests.is_empty() {
            return Err(LibraryError::NoTests(source.name.clone()));
        }
        let existing = match self.store.get(&namespace, &source.name).await {
            Ok(skill) => Some(skill),
            Err(StoreError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        let hash = content_hash(&source.code, &tests_json(&source));
        let mut unchanged = None;
        for twin in self.store.find_by_content_hash(&hash).await? {
            match &existing {
                Some(skill) if skill.record.id == twin.skill_id => {
                    if skill.version.id == twin.id {
                        unchanged = Some(twin);
                    }
                }
                _ => {
                    let other = self.store.skill_record(twin.skill_id).await?;
                    return Err(LibraryError::Duplicate {
                        name: source.name.clone(),
                        existing: other.qualified_name(),
                    });
                }
            }
        }

        let resolved = self.resolve(&source, &namespace, &HashMap::new()).await?;
        let bundle = resolved.bundle(
            &source,
            self.limits.composition_depth,
            &self.allowed_capabilities,
        )?;
        let mut reports = self
            .run_tests(vec![(bundle.clone(), source.clone())])
            .await?;
        let report = reports.remove(0);
        if !report.all_passed() {
            return Err(LibraryError::TestsFailed {
                name: source.name.clone(),
                report: Box::new(report),
            });
        }
        let calls = resolved.direct_calls(&bundle);
        let dependents = match (&existing, &unchanged) {
            (Some(skill), None) => self.retest_dependents(skill, &source, &namespace).await?,
            _ => Vec::new(),
        };
        Ok(Prepared {
            replaces: existing.map(|s| s.record.current_version),
            source,
            namespace,
            bundle,
            report,
            calls,
            dependents,
            provenance: options.provenance,
            unchanged,
        })
    }

    /// Writes a [`Prepared`] skill inside `tx`: the version (refused with a conflict if the
    /// skill changed since it was prepared), its call-graph edges, its verification time and
    /// the outbox entry. Call [`Library::sync_index`] after the commit.
    pub async fn write(&self, tx: &mut Tx, prepared: &Prepared) -> Result<Added> {
        self.check_writable("add a skill")?;
        let source = &prepared.source;
        let version = match &prepared.unchanged {
            Some(version) => version.clone(),
            None => {
                tx.add_version(&NewVersion {
                    namespace: prepared.namespace.clone(),
                    name: source.name.clone(),
                    description: source.description.clone(),
                    signature: source.signature.clone(),
                    code: source.code.clone(),
                    tests: tests_json(source),
                    capabilities: source.capabilities.iter().map(str::to_string).collect(),
                    embedder_id: Some(self.embedder.id().to_string()),
                    runnable: true,
                    provenance: prepared.provenance.clone(),
                    calls: prepared.calls.iter().map(|c| c.version_id).collect(),
                    expect: match prepared.replaces {
                        Some(current) => Expect::Current(current),
                        None => Expect::New,
                    },
                })
                .await?
            }
        };
        tx.mark_verified(version.skill_id).await?;
        for dependent in &prepared.dependents {
            let skill = tx.get(&prepared.namespace, &dependent.skill).await?;
            tx.mark_verified(skill.record.id).await?;
        }
        let skill = tx.skill_record(version.skill_id).await?;
        Ok(Added {
            skill,
            version,
            changed: prepared.unchanged.is_none(),
            report: prepared.report.clone(),
            calls: prepared.calls.iter().map(|c| c.name.clone()).collect(),
            dependents_retested: prepared
                .dependents
                .iter()
                .map(|r| r.skill.clone())
                .collect(),
        })
    }

    /// The skill `name` (or `namespace/name`), with its call-graph neighbours.
    pub async fn get(&self, name: &str) -> Result<SkillDetail> {
        let (namespace, name) = split_name(name);
        let skill = match self.store.get(namespace, name).await {
            Ok(skill) => skill,
            Err(StoreError::NotFound(_)) => {
                return Err(LibraryError::NotFound(format!("{namespace}/{name}")));
            }
            Err(e) => return Err(e.into()),
        };
        let calls = self.store.callees(skill.record.id).await?;
        let called_by = self.store.callers(skill.record.id).await?;
        Ok(SkillDetail {
            skill,
            calls,
            called_by,
        })
    }

    /// Skills matching `filter`, by namespace and name.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<SkillSummary>> {
        Ok(self
            .store
            .list_skills(filter)
            .await?
            .into_iter()
            .map(|skill| SkillSummary {
                description: skill.version.description,
                signature: skill.version.signature,
                runnable: skill.version.runnable,
                unchecked: skill.version.provenance.unchecked,
                stats: skill.stats,
                record: skill.record,
            })
            .collect())
    }

    /// The `limit` skills that best match `query` (hybrid dense + BM25 search), best first.
    pub async fn search(
        &self,
        query: &str,
        limit: usize,
        filter: SearchFilter,
    ) -> Result<Vec<SearchResult>> {
        let vector = self.embed(vec![query.to_string()]).await?.remove(0);
        self.search_embedded(query, vector, limit, filter).await
    }

    /// [`Library::search`] for a query already embedded (`vector` is the library's embedding
    /// of `query`), for a caller that needs the vector too.
    pub async fn search_embedded(
        &self,
        query: &str,
        vector: Vec<f32>,
        limit: usize,
        filter: SearchFilter,
    ) -> Result<Vec<SearchResult>> {
        let hits = self
            .index
            .search(&Recipe::CURRENT.query(query, vector, limit, filter))
            .await?;
        let mut out = Vec::with_capacity(hits.len());
        for hit in hits {
            match self.store.get_by_id(hit.skill_id).await {
                Ok(skill) => out.push(SearchResult {
                    score: hit.score,
                    skill,
                }),
                // The index lags the store only until the next sync; skip what is gone.
                Err(StoreError::NotFound(_)) => {
                    tracing::debug!("index hit {} is no longer in the store", hit.skill_id)
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// Marks a skill deprecated: kept for the skills that call it, no longer offered by
    /// default searches.
    pub async fn deprecate(&self, name: &str) -> Result<SkillRecord> {
        self.set_status(name, SkillStatus::Deprecated).await
    }

    /// Sets a skill's status (active, deprecated or quarantined).
    pub async fn set_status(&self, name: &str, status: SkillStatus) -> Result<SkillRecord> {
        self.check_writable("change a skill's status")?;
        let detail = self.get(name).await?;
        self.store
            .set_status(detail.skill.record.id, status)
            .await?;
        self.sync_index().await?;
        Ok(self.store.skill_record(detail.skill.record.id).await?)
    }

    /// Embeds texts on a blocking thread.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let embedder = Arc::clone(&self.embedder);
        let vectors = crate::blocking::run(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder.embed(&refs)
        })
        .await?;
        Ok(vectors)
    }

    /// Runs the tests of each (bundle, skill) pair on the sandbox's workers.
    pub async fn run_tests(&self, jobs: Vec<(Bundle, SkillSource)>) -> Result<Vec<TestReport>> {
        let sandbox = Arc::clone(&self.sandbox);
        let limits = self.limits.clone();
        let reports = crate::blocking::run(move || {
            let jobs: Vec<Job<'_>> = jobs
                .iter()
                .map(|(bundle, source)| Job {
                    bundle,
                    tests: &source.tests,
                    limits: &limits,
                })
                .collect();
            validate::run_many(&sandbox, &jobs)
        })
        .await?;
        Ok(reports)
    }

    /// Bundles `source` with the library skills it calls in `namespace`.
    pub async fn bundle(&self, source: &SkillSource, namespace: &str) -> Result<Bundle> {
        self.resolve(source, namespace, &HashMap::new())
            .await?
            .bundle(
                source,
                self.limits.composition_depth,
                &self.allowed_capabilities,
            )
    }

    /// Re-runs the stored tests of skills (all runnable ones when `names` is empty), in
    /// parallel; each run counts in the skill's stats ([`Library::record_run`]), and one that
    /// passes is recorded as a verification. A skill that cannot even be bundled (its
    /// dependency is gone or quarantined) gets an empty report and counts nothing.
    pub async fn verify(&self, names: &[String]) -> Result<Vec<(SkillRecord, TestReport)>> {
        self.check_writable("record test runs")?;
        let skills = if names.is_empty() {
            self.store.list_skills(&ListFilter::default()).await?
        } else {
            let mut named = Vec::new();
            for name in names {
                named.push(self.get(name).await?.skill);
            }
            named
        };
        let mut records = Vec::new();
        let mut jobs = Vec::new();
        for skill in skills.into_iter().filter(|s| s.version.runnable) {
            let source = parse_stored(&skill)?;
            match self.bundle(&source, &skill.record.namespace).await {
                Ok(bundle) => {
                    jobs.push((bundle, source));
                    records.push((skill.record, None));
                }
                Err(e) => records.push((skill.record, Some(e.to_string()))),
            }
        }
        let mut reports = self.run_tests(jobs).await?.into_iter();
        let mut out = Vec::new();
        for (record, unbundled) in records {
            let report = match unbundled {
                None => reports.next().expect("one report per bundled skill"),
                Some(problem) => {
                    tracing::warn!("{}/{}: {problem}", record.namespace, record.name);
                    TestReport {
                        skill: record.name.clone(),
                        tests: Vec::new(),
                        call_graph: Vec::new(),
                    }
                }
            };
            self.record_run(record.id, &report).await?;
            if report.all_passed() {
                self.store.mark_verified(record.id).await?;
            }
            out.push((record, report));
        }
        Ok(out)
    }

    /// Counts a run of a stored skill in its stats: one call, a success when every test of
    /// `report` passed, a failure otherwise, with the tests' time as its latency. A report
    /// without tests ran nothing and counts nothing.
    pub async fn record_run(&self, skill: SkillId, report: &TestReport) -> Result<()> {
        self.record_call(skill, report, CallOutcome::Failure).await
    }

    /// Counts a run of a stored skill tried as the answer to a task it was not written for,
    /// against that task's check: a success when it passed, a [`CallOutcome::Miss`] (not
    /// that task's answer, no failure of its own) otherwise. A report without tests counts
    /// nothing.
    pub async fn record_trial(&self, skill: SkillId, report: &TestReport) -> Result<()> {
        self.record_call(skill, report, CallOutcome::Miss).await
    }

    /// One call of `skill`: a success when every test of `report` passed, `otherwise` when
    /// one did not; nothing for a report without tests.
    async fn record_call(
        &self,
        skill: SkillId,
        report: &TestReport,
        otherwise: CallOutcome,
    ) -> Result<()> {
        if report.tests.is_empty() {
            return Ok(());
        }
        let outcome = if report.all_passed() {
            CallOutcome::Success
        } else {
            otherwise
        };
        let ms: f64 = report.tests.iter().map(|t| t.wall_ms).sum();
        let latency = std::time::Duration::from_secs_f64(ms.max(0.0) / 1e3);
        self.store.record_call(skill, outcome, latency).await?;
        Ok(())
    }

    /// Re-runs the tests of every skill that calls `skill` (transitively) with `update` in
    /// its place; the first regression is an error.
    async fn retest_dependents(
        &self,
        skill: &Skill,
        update: &SkillSource,
        namespace: &str,
    ) -> Result<Vec<TestReport>> {
        let overrides = HashMap::from([(update.name.clone(), update.clone())]);
        let mut seen = BTreeSet::from([skill.record.id]);
        let mut queue = vec![skill.record.id];
        let mut jobs = Vec::new();
        while let Some(id) = queue.pop() {
            for caller in self.store.callers(id).await? {
                if !seen.insert(caller.skill_id) {
                    continue;
                }
                queue.push(caller.skill_id);
                let stored = self.store.get_by_id(caller.skill_id).await?;
                if !stored.version.runnable {
                    continue;
                }
                let source = parse_stored(&stored)?;
                let resolved = self.resolve(&source, namespace, &overrides).await?;
                jobs.push((
                    resolved.bundle(
                        &source,
                        self.limits.composition_depth,
                        &self.allowed_capabilities,
                    )?,
                    source,
                ));
            }
        }
        let reports = self.run_tests(jobs).await?;
        if let Some(broken) = reports
            .iter()
            .find(|r| !r.all_passed() && !r.tests.is_empty())
        {
            return Err(LibraryError::DependentRegression {
                name: update.name.clone(),
                dependent: broken.skill.clone(),
                report: Box::new(broken.clone()),
            });
        }
        Ok(reports)
    }
}

const STARTER_LOADED: &str = "starter_library_loaded";

/// `namespace/name` or `name` (in the default namespace).
pub fn split_name(name: &str) -> (&str, &str) {
    name.split_once('/').unwrap_or((DEFAULT_NAMESPACE, name))
}

/// Refuses `source` if it declares a capability `allowed` does not cover. A policy covers a
/// declaration the way a grant covers a host call: the same name, or a `prefix.*` pattern.
fn check_capabilities(allowed: &Capabilities, source: &SkillSource) -> Result<()> {
    match source
        .capabilities
        .iter()
        .find(|c| !allowed.allows_host_call(c))
    {
        Some(capability) => Err(LibraryError::CapabilityNotAllowed {
            name: source.name.clone(),
            capability: capability.to_string(),
        }),
        None => Ok(()),
    }
}

/// Refuses a namespace that is not a safe name ([`check_namespace`]) for skill `name`.
fn safe_namespace(name: &str, namespace: &str) -> Result<()> {
    check_namespace(namespace).map_err(|source| LibraryError::Skill {
        name: name.to_string(),
        source,
    })?;
    Ok(())
}

/// The stored form of a skill's tests.
fn tests_json(source: &SkillSource) -> serde_json::Value {
    serde_json::to_value(&source.tests).expect("test cases serialize")
}

/// A stored skill's current version, parsed again as a skill file.
pub fn parse_stored(skill: &Skill) -> Result<SkillSource> {
    SkillSource::parse(&skill.version.code, Some(&skill.record.name)).map_err(|source| {
        LibraryError::Skill {
            name: skill.record.qualified_name(),
            source,
        }
    })
}

/// The Qdrant server collection of a library: `base` and a key of the embedder id, dimension
/// and index format (`skillforge_1a2b3c4d5e6f`). A library whose embedder or index format
/// changes builds a new collection from SQL instead of dropping one that other libraries,
/// or other processes still running the old embedder, may use; the old one is left for the
/// operator to drop.
pub fn server_collection(base: &str, spec: &IndexSpec) -> String {
    use sha2::Digest;
    let key = format!(
        "{}\n{}\n{}",
        spec.embedder_id,
        spec.dimension,
        crate::index::INDEX_FORMAT
    );
    let digest = sha2::Sha256::digest(key.as_bytes());
    format!("{base}_{}", &hex::encode(digest)[..12])
}

/// Takes the data directory's lock, waiting (and saying so on the log) while another
/// process holds it.
async fn acquire_lock(config: &LibraryConfig) -> Result<DataDirLock> {
    let dir = config.data_dir.clone();
    let timeout = config.lock_timeout;
    crate::blocking::run(move || {
        DataDirLock::acquire(&dir, timeout, |holder| {
            let holder = holder.map_or_else(
                || "another process".to_string(),
                |holder| holder.to_string(),
            );
            tracing::warn!(
                "the library in {} is in use by {holder}; waiting up to {:.0} s for it \
                 (--lock-timeout)",
                dir.display(),
                timeout.as_secs_f64()
            );
        })
    })
    .await
}

/// Takes the data directory's lock if it is free, without waiting.
async fn try_lock(config: &LibraryConfig) -> Result<Result<DataDirLock, Option<LockHolder>>> {
    let dir = config.data_dir.clone();
    crate::blocking::run(move || DataDirLock::try_acquire(&dir)).await
}

/// Opens the configured index; the flag says it must be (re)built from the store.
async fn open_index(
    config: &LibraryConfig,
    spec: IndexSpec,
) -> Result<(Arc<dyn VectorIndex>, bool)> {
    match &config.qdrant_url {
        None => {
            let dir = config.data_dir.join("index");
            let index = match EdgeIndex::open(&dir, spec.clone()) {
                // This process holds the data directory's lock: nobody else uses the index,
                // and it is derived data.
                Err(
                    e @ (IndexError::EmbedderMismatch { .. }
                    | IndexError::FormatChanged { .. }
                    | IndexError::Damaged { .. }),
                ) => {
                    tracing::warn!("{e}; rebuilding it now");
                    EdgeIndex::recreate(&dir, spec)?
                }
                other => other?,
            };
            let rebuild = index.was_created();
            Ok((Arc::new(index), rebuild))
        }
        Some(url) => {
            let key = config.qdrant_api_key.clone();
            let name = server_collection(&config.qdrant_collection, &spec);
            // Another embedder or format opens another collection, so a mismatch here means
            // the collection was made by someone else: it is refused, never dropped.
            let index = QdrantServerIndex::open(url, key, &name, spec)
                .await
                .map_err(|e| match e {
                    IndexError::EmbedderMismatch { .. } | IndexError::FormatChanged { .. } => {
                        LibraryError::ForeignCollection {
                            collection: name.clone(),
                            source: e,
                        }
                    }
                    other => other.into(),
                })?;
            let rebuild = index.was_created();
            Ok((Arc::new(index), rebuild))
        }
    }
}
