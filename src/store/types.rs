//! Plain records read from and written to the store.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StoreError;

/// Id of a skill (stable across its versions). Also the skill's point id in the vector index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SkillId(pub i64);

/// Id of one stored version of a skill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct VersionId(pub i64);

impl fmt::Display for SkillId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "skill #{}", self.0)
    }
}

impl fmt::Display for VersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "version #{}", self.0)
    }
}

/// Lifecycle state of a skill. Retrieval normally asks for `Active` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SkillStatus {
    /// Retrievable and callable.
    Active,
    /// Kept for its dependents and history, no longer offered for new work.
    Deprecated,
    /// Failed verification or misbehaved; must not be run until fixed.
    Quarantined,
}

impl SkillStatus {
    /// Every status, in a stable order.
    pub const ALL: [SkillStatus; 3] = [Self::Active, Self::Deprecated, Self::Quarantined];

    /// The name stored in the database and in index payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deprecated => "deprecated",
            Self::Quarantined => "quarantined",
        }
    }
}

named_choices!(
    SkillStatus,
    as_str,
    "skill status",
    StoreError,
    StoreError::Invalid
);

/// Where a version came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The task the version was written for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The episode that produced it (the agent's episode id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode: Option<String>,
    /// The model that wrote it, or the importer (e.g. `voyager-import`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The agent admitted it unverified: for a task that had no programmatic check (only its
    /// own tests, written by the same model, and a critic vouch for it), or for a task whose
    /// check is only examples that an independent solution also passes while behaving
    /// otherwise on some input (the agent's cross-check). Such a version never counts as
    /// verified; it is to be re-verified or pruned.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unchecked: bool,
}

/// What [`NewVersion`] expects to find, so that concurrent writers cannot silently
/// overwrite each other's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Create the skill if missing, otherwise add a version on top of whatever is current.
    Any,
    /// The skill must not exist yet (otherwise [`StoreError::Conflict`]).
    New,
    /// The skill must exist with this current version (otherwise [`StoreError::Conflict`]).
    Current(i64),
}

/// A version to add: creates the skill (version 1) or bumps it (max + 1) and makes
/// the new version current.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// Namespace of the skill; created if missing.
    pub namespace: String,
    /// Name of the skill, unique within its namespace.
    pub name: String,
    /// What the skill does, in words (indexed).
    pub description: String,
    /// JSDoc signature (indexed).
    pub signature: String,
    /// JavaScript source.
    pub code: String,
    /// The skill's tests, as JSON (the store does not interpret them).
    pub tests: serde_json::Value,
    /// Host capabilities the skill may use.
    pub capabilities: Vec<String>,
    /// Id of the embedder used when this version was admitted, if any.
    pub embedder_id: Option<String>,
    /// Whether the code can run in this sandbox (imports from other runtimes cannot).
    pub runnable: bool,
    /// Where the version came from.
    pub provenance: Provenance,
    /// Versions this version calls, recorded as call-graph edges.
    pub calls: Vec<VersionId>,
    /// Optimistic concurrency check.
    pub expect: Expect,
}

/// The skill row: identity, status, and which version is current.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillRecord {
    /// Skill id.
    pub id: SkillId,
    /// Namespace.
    pub namespace: String,
    /// Name, unique within the namespace.
    pub name: String,
    /// Lifecycle state.
    pub status: SkillStatus,
    /// Version number of the current version.
    pub current_version: i64,
    /// When the skill was created.
    pub created_at: DateTime<Utc>,
    /// When the skill row last changed (new version, status, rollback).
    pub updated_at: DateTime<Utc>,
}

impl SkillRecord {
    /// `namespace/name`, the name the library and the CLI accept for it.
    pub fn qualified_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// One stored version of a skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// Version id.
    pub id: VersionId,
    /// The skill it belongs to.
    pub skill_id: SkillId,
    /// Version number, 1-based, consecutive per skill.
    pub version: i64,
    /// What the skill does.
    pub description: String,
    /// JSDoc signature.
    pub signature: String,
    /// JavaScript source.
    pub code: String,
    /// Tests, as stored.
    pub tests: serde_json::Value,
    /// Host capabilities the skill may use.
    pub capabilities: Vec<String>,
    /// Hex sha256 of code and tests, see [`content_hash`].
    pub content_hash: String,
    /// Embedder used when this version was admitted, if any.
    pub embedder_id: Option<String>,
    /// Whether the code can run in this sandbox.
    pub runnable: bool,
    /// Where the version came from.
    pub provenance: Provenance,
    /// When the version was stored.
    pub created_at: DateTime<Utc>,
}

/// How one recorded call of a skill went ([`SkillStats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// It did what was asked (every test or check of the run passed).
    Success,
    /// It failed at its own job: its tests, a caller's tests, an `exec`.
    Failure,
    /// It was tried as the answer to a task it was not written for and did not pass that
    /// task's check: it is not that task's answer, which says nothing against it.
    Miss,
}

/// Usage statistics of a skill (all versions together).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillStats {
    /// Recorded calls.
    pub calls: i64,
    /// Calls that succeeded.
    pub successes: i64,
    /// Calls that failed.
    pub failures: i64,
    /// Calls that tried the skill as the answer to a task it was not written for and did not
    /// pass that task's check ([`CallOutcome::Miss`]): neither successes nor failures.
    #[serde(default)]
    pub misses: i64,
    /// Sum of call latencies, in milliseconds.
    pub total_latency_ms: i64,
    /// Last time the skill passed verification (tests / dependents re-test).
    pub last_verified_at: Option<DateTime<Utc>>,
    /// Last recorded call.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl SkillStats {
    /// Fraction of the calls that succeeded among those that succeeded or failed (misses
    /// left out), `None` before the first such call.
    pub fn success_rate(&self) -> Option<f64> {
        let judged = self.successes + self.failures;
        (judged > 0).then(|| self.successes as f64 / judged as f64)
    }

    /// Mean call latency, `None` before the first call.
    pub fn mean_latency(&self) -> Option<Duration> {
        (self.calls > 0)
            .then(|| Duration::from_millis((self.total_latency_ms / self.calls).max(0) as u64))
    }
}

/// A skill with its current version and stats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skill {
    /// The skill row.
    pub record: SkillRecord,
    /// Its current version.
    pub version: VersionRecord,
    /// Its stats.
    pub stats: SkillStats,
}

/// One end of a call-graph edge, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillRef {
    /// Skill id.
    pub skill_id: SkillId,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The version id on this end of the edge.
    pub version_id: VersionId,
    /// Its version number.
    pub version: i64,
}

/// Which skills [`list`](super::Store::list) returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Only these statuses (empty: any status).
    pub statuses: Vec<SkillStatus>,
    /// Only the skills after this `(namespace, name)` in the listing's order: the next page
    /// of a listing whose last skill it was.
    pub after: Option<(String, String)>,
    /// At most this many skills (none: all).
    pub limit: Option<u32>,
}

/// An index write still to be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxOp {
    /// (Re)index the skill's current version.
    Upsert,
    /// Remove the skill from the index.
    Delete,
}

impl OutboxOp {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upsert => "upsert",
            Self::Delete => "delete",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "upsert" => Ok(Self::Upsert),
            "delete" => Ok(Self::Delete),
            _ => Err(StoreError::Invalid(format!("unknown outbox op {s:?}"))),
        }
    }
}

/// A row of the index outbox: apply it to the index, then [`ack`](super::Store::ack) it.
/// Entries are returned in id order; applying them in that order is always correct.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Outbox row id.
    pub id: i64,
    /// The skill to reindex or remove.
    pub skill_id: SkillId,
    /// What to do.
    pub op: OutboxOp,
    /// When the entry was written.
    pub created_at: DateTime<Utc>,
}

/// A skill's current version, as needed to (re)build the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrentVersion {
    /// The skill row.
    pub skill: SkillRecord,
    /// Its current version.
    pub version: VersionRecord,
}

/// Hex sha256 of a skill's code and tests: equal hashes mean identical code and tests.
///
/// The tests are hashed in a canonical JSON form (object keys sorted at every level),
/// so the same JSON always hashes the same whatever the key order it was built with.
pub fn content_hash(code: &str, tests: &serde_json::Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update((code.len() as u64).to_le_bytes());
    hasher.update(code.as_bytes());
    hasher.update(canonical_json(tests).to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// `value` with the keys of every object sorted (serde_json may preserve insertion order).
fn canonical_json(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), canonical_json(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical_json).collect()),
        other => other.clone(),
    }
}

/// Where an episode's task came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EpisodeSource {
    /// Proposed by the agent's curriculum.
    Curriculum,
    /// Submitted by a user.
    User,
}

impl EpisodeSource {
    /// Every source, in a stable order.
    pub const ALL: [EpisodeSource; 2] = [Self::Curriculum, Self::User];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Curriculum => "curriculum",
            Self::User => "user",
        }
    }
}

named_choices!(
    EpisodeSource,
    as_str,
    "episode source",
    StoreError,
    StoreError::Invalid
);

/// Lifecycle state of an episode. `Running` and `Interrupted` are open (resumable); the
/// others are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpisodeStatus {
    /// In progress, or cut short by a crash (see [`unfinished_episodes`](super::Store::unfinished_episodes)).
    Running,
    /// A new skill or version was admitted to the library.
    Admitted,
    /// The task was solved by skills already in the library; nothing new was admitted.
    SolvedWithExisting,
    /// Every round failed.
    Failed,
    /// A run of it stopped on an error before it could finish; the next run resumes it.
    Interrupted,
}

impl EpisodeStatus {
    /// Every status, in a stable order.
    pub const ALL: [EpisodeStatus; 5] = [
        Self::Running,
        Self::Admitted,
        Self::SolvedWithExisting,
        Self::Failed,
        Self::Interrupted,
    ];

    /// Whether the episode can still go on (`running` or `interrupted`).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Running | Self::Interrupted)
    }

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Admitted => "admitted",
            Self::SolvedWithExisting => "solved_with_existing",
            Self::Failed => "failed",
            Self::Interrupted => "interrupted",
        }
    }
}

named_choices!(
    EpisodeStatus,
    as_str,
    "episode status",
    StoreError,
    StoreError::Invalid
);

/// An episode to start; the store gives it a fresh UUID (v7, so ids sort by start time).
#[derive(Debug, Clone, PartialEq)]
pub struct NewEpisode {
    /// The task, as JSON (the store does not interpret it).
    pub task: serde_json::Value,
    /// Where the task came from.
    pub source: EpisodeSource,
}

/// One attempt at a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeRecord {
    /// Its id, a UUID.
    pub id: String,
    /// The task, as JSON.
    pub task: serde_json::Value,
    /// Where the task came from.
    pub source: EpisodeSource,
    /// Where it stands.
    pub status: EpisodeStatus,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished (`None` while running).
    pub finished_at: Option<DateTime<Utc>>,
    /// What it came to, as JSON (`None` while running).
    pub outcome: Option<serde_json::Value>,
    /// The instance holding its lease ([`Lease`]): the process running it, or the one that
    /// last did and has not let go (`None`: free).
    pub owner: Option<String>,
    /// When the owner's lease runs out unless renewed (`None`: free).
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// When its journal was pruned ([`Store::prune_journals`](super::Store::prune_journals));
    /// `None` while the journal is whole.
    pub journal_pruned_at: Option<DateTime<Utc>>,
}

/// What [`Store::prune_journals`](super::Store::prune_journals) deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrunedJournals {
    /// Episodes whose journal went (their rows stay).
    pub episodes: u64,
    /// Journal events deleted.
    pub events: u64,
}

/// A hold on the open episodes a process runs: each episode row it runs carries `owner`
/// and an expiry `duration` ahead, renewed while the process drives it. Another process
/// takes an episode only when it is free or its lease has expired (its owner died), so two
/// processes never run one episode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The holder's instance id, unique to a process.
    pub owner: String,
    /// How long a hold lasts without renewal.
    pub duration: Duration,
}

/// One entry of an episode's journal. Events are append-only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpisodeEvent {
    /// Row id, increasing over all episodes.
    pub id: i64,
    /// The episode it belongs to.
    pub episode_id: String,
    /// Its position in the episode: 1, 2, ... without gaps.
    pub seq: i64,
    /// What happened (the agent's vocabulary: `retrieval`, `llm_call`, `attempt`, ...).
    pub kind: String,
    /// The details, as JSON.
    pub payload: serde_json::Value,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

/// One run of `skillforge eval`, as stored. The store keeps its report as opaque JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalRunRecord {
    /// Its id, a UUID.
    pub id: String,
    /// What was evaluated (a suite file, an environment and its seeds).
    pub source: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished (`None` while running, or when it was cut short).
    pub finished_at: Option<DateTime<Utc>>,
    /// What it measured so far, as JSON.
    pub report: serde_json::Value,
}
