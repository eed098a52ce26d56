//! Errors of the library layer.

use crate::compose::ComposeError;
use crate::embed::EmbedError;
use crate::index::IndexError;
use crate::sandbox::SandboxError;
use crate::skill::{SkillError, SkillFileError};
use crate::store::StoreError;
use crate::validate::TestReport;

use super::lock::LockHolder;

/// Why a library operation failed. Rejections of a skill (tests, duplicates, regressions of
/// its dependents) are separate variants so that callers can feed them back to whoever wrote
/// the skill.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The SQL store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The vector index failed.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The Qdrant server collection this library would use holds another embedder's vectors
    /// or another index format: someone else made it, so it is not dropped.
    #[error(
        "the Qdrant collection '{collection}' was not made by this library ({source}); other \
         libraries may use it, so skillforge does not drop it: drop it yourself if nothing uses \
         it, or choose another base name with --qdrant-collection (QDRANT_COLLECTION)"
    )]
    ForeignCollection {
        /// The collection.
        collection: String,
        /// The mismatch found.
        source: IndexError,
    },
    /// The embedder failed.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The sandbox could not run the tests.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// A skill file could not be read.
    #[error(transparent)]
    File(#[from] SkillFileError),
    /// A stored or submitted skill's source is invalid.
    #[error("skill '{name}': {source}")]
    Skill {
        /// The skill.
        name: String,
        /// What is wrong with it.
        source: SkillError,
    },
    /// The skill and the library skills it calls cannot be bundled.
    #[error("skill '{name}': {source}")]
    Compose {
        /// The skill.
        name: String,
        /// Why bundling failed.
        source: ComposeError,
    },
    /// No skill of this name.
    #[error("no skill '{0}' in the library (see `skillforge skills list`)")]
    NotFound(String),
    /// The skill carries no tests, so it cannot be validated.
    #[error(
        "skill '{0}' has no tests: add `@example CALL => EXPECTED` or `@test NAME: CODE` lines to its JSDoc"
    )]
    NoTests(String),
    /// Some of the skill's own tests failed.
    #[error("skill '{name}' failed {} of {} tests: {}", .report.failed(), .report.tests.len(), failures(.report))]
    TestsFailed {
        /// The skill.
        name: String,
        /// What every test did.
        report: Box<TestReport>,
    },
    /// Updating the skill would break a skill that calls it.
    #[error("updating '{name}' breaks '{dependent}', which calls it: {}", failures(.report))]
    DependentRegression {
        /// The skill being updated.
        name: String,
        /// The caller whose tests fail with the update.
        dependent: String,
        /// The caller's test report against the update.
        report: Box<TestReport>,
    },
    /// Another skill already has exactly this code and these tests.
    #[error("skill '{name}' is an exact duplicate of '{existing}' (same code and tests)")]
    Duplicate {
        /// The skill submitted.
        name: String,
        /// The skill already in the library.
        existing: String,
    },
    /// The skill needs an environment other than `code`, so the sandbox cannot validate it.
    #[error(
        "skill '{name}' needs the '{environment}' environment and cannot be validated here; \
         import it with `skillforge skills import` (it is stored as not runnable)"
    )]
    NotRunnable {
        /// The skill.
        name: String,
        /// The environment it declares.
        environment: String,
    },
    /// A version for another environment would replace a version that runs here.
    #[error(
        "'{name}' runs here; a version for the '{environment}' environment (not runnable here) \
         cannot replace it: import it into another namespace"
    )]
    WouldReplaceRunnable {
        /// The skill (`namespace/name`).
        name: String,
        /// The environment of the version refused.
        environment: String,
    },
    /// The skill declares a capability the library's policy does not allow.
    #[error(
        "skill '{name}' declares capability '{capability}', which this library does not allow: \
         an operator can allow it with `--allow-capability {capability}` (or \
         SKILLFORGE_ALLOW_CAPABILITIES={capability}); otherwise remove `@capability {capability}`"
    )]
    CapabilityNotAllowed {
        /// The skill that declares it.
        name: String,
        /// The capability.
        capability: String,
    },
    /// The skill calls a library skill that is quarantined.
    #[error("skill '{name}' calls '{dependency}', which is quarantined; fix or replace it first")]
    Quarantined {
        /// The skill.
        name: String,
        /// The quarantined skill it calls.
        dependency: String,
    },
    /// A stored skill cannot be exported: its namespace or name is not a safe name (a row
    /// written before namespaces were checked). Nothing was exported.
    #[error(
        "cannot export skill {skill:?}: {problem}; nothing was exported. The row predates \
         namespace checks: delete the skill or fix its namespace in the store"
    )]
    UnsafeExport {
        /// The skill as stored (`namespace/name`).
        skill: String,
        /// What is unsafe about it.
        problem: String,
    },
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another process holds the library (its data directory's lock) and did not release it
    /// within the wait allowed.
    #[error(
        "the library in {} is in use by {} and stayed busy for {:.0} s; \
         wait for it to finish, wait longer (--lock-timeout SECONDS or SKILLFORGE_LOCK_TIMEOUT), \
         or use another --data-dir. Reading commands (skills list/show/search/export, episodes) \
         work meanwhile",
        .data_dir.display(),
        holder_text(.holder.as_deref()),
        .waited.as_secs_f64()
    )]
    Busy {
        /// The data directory.
        data_dir: std::path::PathBuf,
        /// Who holds it, as its lock file says (`None` if it has not said yet).
        holder: Option<Box<LockHolder>>,
        /// How long this process waited.
        waited: std::time::Duration,
    },
    /// Reading a library beside the process that holds it failed.
    #[error(
        "the library in {} is held by {holder}, and reading beside it failed: {source}",
        .data_dir.display()
    )]
    Beside {
        /// The data directory.
        data_dir: std::path::PathBuf,
        /// Who holds it.
        holder: String,
        /// What failed.
        source: Box<LibraryError>,
    },
    /// A write was asked of a library opened read-only.
    #[error(
        "the library in {} is open read-only ({why}); open it for writing to {what}",
        .data_dir.display()
    )]
    ReadOnly {
        /// The data directory.
        data_dir: std::path::PathBuf,
        /// What the caller tried to do.
        what: &'static str,
        /// Why it is read-only.
        why: String,
    },
    /// A Voyager `skills.json` is malformed.
    #[error(
        "{path}: not a Voyager skills.json ({message}); expected {{\"name\": {{\"code\": ..., \"description\": ...}}}}"
    )]
    Voyager {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The holder of a lock, or what is known when it has not recorded itself.
fn holder_text(holder: Option<&LockHolder>) -> String {
    holder.map_or_else(
        || "another process (it has not recorded its pid yet)".to_string(),
        LockHolder::to_string,
    )
}

/// `name (kind: message)` of each failing test, comma-separated.
fn failures(report: &TestReport) -> String {
    report
        .tests
        .iter()
        .filter(|t| !t.passed)
        .map(|t| match &t.failure {
            Some(f) => format!("{} ({f})", t.name),
            None => t.name.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Result of library operations.
pub type Result<T, E = LibraryError> = std::result::Result<T, E>;

impl LibraryError {
    /// The kind of a rejection of the skill itself (`tests_failed`, `no_tests`, `duplicate`,
    /// `capability_not_allowed`, `invalid_skill`, ...), or `None` for a failure of the
    /// library or its input. The CLI exits 1 on a rejection, 2 otherwise; the MCP server
    /// answers a rejection with a tool error and anything else with a JSON-RPC error.
    pub fn rejection_kind(&self) -> Option<&'static str> {
        Some(match self {
            LibraryError::TestsFailed { .. } => "tests_failed",
            LibraryError::DependentRegression { .. } => "dependent_regression",
            LibraryError::NoTests(_) => "no_tests",
            LibraryError::Duplicate { .. } => "duplicate",
            LibraryError::NotRunnable { .. } => "not_runnable",
            LibraryError::Quarantined { .. } => "quarantined_dependency",
            LibraryError::CapabilityNotAllowed { .. } => "capability_not_allowed",
            LibraryError::Compose { .. } | LibraryError::Skill { .. } => "invalid_skill",
            _ => return None,
        })
    }
}
