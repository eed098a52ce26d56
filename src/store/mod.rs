//! The SQL store: the library's source of truth.
//!
//! Skills, their versions, the call graph between versions, usage stats and the
//! index outbox live in SQLite (one file, the default) or PostgreSQL. The vector
//! index is derived from these rows: every write that changes what the index must
//! hold (new version, status, rollback, delete) adds an [`OutboxEntry`] in the same
//! transaction; the caller applies pending entries to the index after the commit and
//! acks them, and replays whatever is still pending after a crash.
//!
//! The agent's episode journal lives here too: an [`EpisodeRecord`] per attempt at a task
//! and its [`EpisodeEvent`]s, append-only and numbered 1, 2, ... per episode, so that an
//! admission can write its `admission` event in the transaction that admits the skill.
//!
//! Runs of `skillforge eval` are kept as [`EvalRunRecord`]s, their reports opaque JSON.
//!
//! The store knows nothing of agents, models or the sandbox: it stores plain records
//! (event kinds and payloads are the caller's strings and JSON).
//! Several operations can share one transaction through [`Tx`] (admission writes a
//! version, its edges, stats of reused skills and the outbox entry atomically).

mod conn;
mod error;
mod migrations;
mod types;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Transaction;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, Postgres};
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
};

use crate::redact::redact_url;
use conn::Conn;
use error::DbInfo;
pub use error::{Backend, StoreError};
pub use types::{
    CallOutcome, CurrentVersion, EpisodeEvent, EpisodeRecord, EpisodeSource, EpisodeStatus,
    EvalRunRecord, Expect, Lease, ListFilter, NewEpisode, NewVersion, OutboxEntry, OutboxOp,
    Provenance, PrunedJournals, Skill, SkillId, SkillRecord, SkillRef, SkillStats, SkillStatus,
    VersionId, VersionRecord, content_hash,
};

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How long a SQLite writer waits for another writer's lock before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Handle to the SQL store; cheap to clone (a connection pool inside).
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
    db: DbInfo,
    commits: Commits,
}

/// Counts this process's commits to one store: readers that follow the store (an episode's
/// journal) wait for a change instead of polling for writes made here.
type Commits = std::sync::Arc<tokio::sync::watch::Sender<u64>>;

/// A transaction spanning several store operations. Dropped without
/// [`commit`](Tx::commit), it rolls back and leaves nothing behind.
pub struct Tx {
    inner: TxInner,
    db: DbInfo,
    commits: Commits,
}

enum TxInner {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A store URL that cannot be used, shown without its password.
fn bad_url(url: &str) -> StoreError {
    StoreError::Url {
        url: redact_url(url),
    }
}

impl Store {
    /// Open (and migrate) the store at `url`: `sqlite://PATH` (the file and its
    /// directory are created if missing; WAL journal, foreign keys on, busy timeout)
    /// or `postgres://USER:PASSWORD@HOST:PORT/DB` (`postgresql://` too).
    pub async fn open(url: &str) -> Result<Store> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            Self::open_sqlite(url, path).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::open_postgres(url).await
        } else {
            Err(bad_url(url))
        }
    }

    /// Open the store at `url` for reading beside a process that writes it: no file is
    /// created and no migration runs. SQLite is opened read-only (its WAL lets readers
    /// run while another process writes); a PostgreSQL session is read-only. Writes fail.
    pub async fn open_read_only(url: &str) -> Result<Store> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let file = path.split('?').next().unwrap_or(path);
            let db = DbInfo {
                backend: Backend::Sqlite,
                location: file.to_string(),
            };
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|_| bad_url(url))?
                .read_only(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT);
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .map_err(|e| db.err(e))?;
            Ok(Store {
                pool: Pool::Sqlite(pool),
                db,
                commits: Commits::default(),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|_| bad_url(url))?
                .options([("default_transaction_read_only", "on")]);
            let db = DbInfo::postgres(&options);
            let pool = PgPoolOptions::new()
                .max_connections(4)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(|e| db.err(e))?;
            Ok(Store {
                pool: Pool::Postgres(pool),
                db,
                commits: Commits::default(),
            })
        } else {
            Err(bad_url(url))
        }
    }

    async fn open_sqlite(url: &str, path: &str) -> Result<Store> {
        let file = path.split('?').next().unwrap_or(path);
        if file.is_empty() || file == ":memory:" {
            return Err(bad_url(url));
        }
        let db = DbInfo {
            backend: Backend::Sqlite,
            location: file.to_string(),
        };
        if let Some(dir) = Path::new(file)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| db.err(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|_| bad_url(url))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .map_err(|e| db.err(e))?;
        migrations::migrator(migrations::SQLITE)
            .await
            .map_err(|e| db.migrate_err(e))?
            .run(&pool)
            .await
            .map_err(|e| db.migrate_err(e))?;
        Ok(Store {
            pool: Pool::Sqlite(pool),
            db,
            commits: Commits::default(),
        })
    }

    async fn open_postgres(url: &str) -> Result<Store> {
        let options = PgConnectOptions::from_str(url).map_err(|_| bad_url(url))?;
        let db = DbInfo::postgres(&options);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| db.err(e))?;
        migrations::migrator(migrations::POSTGRES)
            .await
            .map_err(|e| db.migrate_err(e))?
            .run(&pool)
            .await
            .map_err(|e| db.migrate_err(e))?;
        Ok(Store {
            pool: Pool::Postgres(pool),
            db,
            commits: Commits::default(),
        })
    }

    /// Which backend this store uses.
    pub fn backend(&self) -> Backend {
        self.db.backend
    }

    /// Start a transaction. SQLite transactions take the write lock up front
    /// (`BEGIN IMMEDIATE`) so that two writers never deadlock on lock upgrade.
    pub async fn begin(&self) -> Result<Tx> {
        let inner = match &self.pool {
            Pool::Sqlite(p) => TxInner::Sqlite(
                p.begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(|e| self.db.err(e))?,
            ),
            Pool::Postgres(p) => TxInner::Postgres(p.begin().await.map_err(|e| self.db.err(e))?),
        };
        Ok(Tx {
            inner,
            db: self.db.clone(),
            commits: std::sync::Arc::clone(&self.commits),
        })
    }

    /// Changes (its value counts up) whenever a transaction of this process commits to this
    /// store (each write is one). Writes of other processes sharing the database do not
    /// show here: a follower still reads now and then for those.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// Close the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

/// Define read operations on both `Store` (a pooled connection) and `Tx` (the
/// transaction's connection), and write operations on `Tx` plus a `Store` shortcut
/// that runs them in their own transaction.
macro_rules! operations {
    (
        reads { $( $(#[$rm:meta])* fn $r:ident( $( $ra:ident : $rt:ty ),* ) -> $rr:ty; )* }
        writes { $( $(#[$wm:meta])* fn $w:ident( $( $wa:ident : $wt:ty ),* ) -> $wr:ty; )* }
    ) => {
        impl Store {
            $(
                $(#[$rm])*
                pub async fn $r(&self, $( $ra: $rt ),*) -> Result<$rr> {
                    match &self.pool {
                        Pool::Sqlite(p) => {
                            let mut c = p.acquire().await.map_err(|e| self.db.err(e))?;
                            Conn::Sqlite(&mut *c).$r(&self.db, $( $ra ),*).await
                        }
                        Pool::Postgres(p) => {
                            let mut c = p.acquire().await.map_err(|e| self.db.err(e))?;
                            Conn::Postgres(&mut *c).$r(&self.db, $( $ra ),*).await
                        }
                    }
                }
            )*
            $(
                $(#[$wm])*
                ///
                /// Runs in its own transaction; use [`Store::begin`] to combine it with others.
                pub async fn $w(&self, $( $wa: $wt ),*) -> Result<$wr> {
                    let mut tx = self.begin().await?;
                    let out = tx.$w($( $wa ),*).await?;
                    tx.commit().await?;
                    Ok(out)
                }
            )*
        }

        impl Tx {
            $(
                $(#[$rm])*
                pub async fn $r(&mut self, $( $ra: $rt ),*) -> Result<$rr> {
                    let (mut conn, db) = self.parts();
                    conn.$r(db, $( $ra ),*).await
                }
            )*
            $(
                $(#[$wm])*
                pub async fn $w(&mut self, $( $wa: $wt ),*) -> Result<$wr> {
                    let (mut conn, db) = self.parts();
                    conn.$w(db, $( $wa ),*).await
                }
            )*
        }
    };
}

operations! {
    reads {
        /// The skill `namespace/name` with its current version and stats.
        fn get(namespace: &str, name: &str) -> Skill;
        /// The skill with this id, with its current version and stats.
        fn get_by_id(id: SkillId) -> Skill;
        /// The skill row alone.
        fn skill_record(id: SkillId) -> SkillRecord;
        /// One version by id.
        fn version(id: VersionId) -> VersionRecord;
        /// Every version of a skill, oldest first.
        fn versions(skill: SkillId) -> Vec<VersionRecord>;
        /// Versions (of any skill) with this [`content_hash`]: exact duplicates.
        fn find_by_content_hash(hash: &str) -> Vec<VersionRecord>;
        /// Usage stats of a skill.
        fn stats(skill: SkillId) -> SkillStats;
        /// Skill rows matching the filter, ordered by namespace and name.
        fn list(filter: &ListFilter) -> Vec<SkillRecord>;
        /// How many skills the store holds (in `namespace`, or in all), of any status.
        fn count_skills(namespace: Option<&str>) -> i64;
        /// Skills matching the filter with their current versions and stats, ordered by
        /// namespace and name (one query).
        fn list_skills(filter: &ListFilter) -> Vec<Skill>;
        /// All namespace names.
        fn namespaces() -> Vec<String>;
        /// The skills the current version of `skill` calls (with the pinned versions).
        fn callees(skill: SkillId) -> Vec<SkillRef>;
        /// The skills whose current version calls some version of `skill`: the
        /// dependents to re-test when `skill` changes.
        fn callers(skill: SkillId) -> Vec<SkillRef>;
        /// Index writes not yet acknowledged, oldest first.
        fn pending() -> Vec<OutboxEntry>;
        /// Every skill's current version, by skill id: the input of a full reindex.
        fn all_current_versions() -> Vec<CurrentVersion>;
        /// A value of the key/value `meta` table.
        fn get_meta(key: &str) -> Option<String>;
        /// One episode by id.
        fn episode(id: &str) -> EpisodeRecord;
        /// An episode's events in order (`seq` 1, 2, ...).
        fn episode_events(id: &str) -> Vec<EpisodeEvent>;
        /// An episode's events after `seq` `after`, in order.
        fn episode_events_after(id: &str, after: i64) -> Vec<EpisodeEvent>;
        /// The `limit` most recently started episodes, newest first.
        fn list_episodes(limit: i64) -> Vec<EpisodeRecord>;
        /// Open episodes (`running` or `interrupted`), oldest first: after a restart, the
        /// ones a crash or an error cut short, to resume.
        fn unfinished_episodes() -> Vec<EpisodeRecord>;
        /// One eval run by id.
        fn eval_run(id: &str) -> EvalRunRecord;
        /// The `limit` most recently started eval runs, newest first.
        fn list_eval_runs(limit: i64) -> Vec<EvalRunRecord>;
    }
    writes {
        /// Add a version: creates the skill at version 1 (and its namespace and stats)
        /// or adds version max + 1 and makes it current, records its call edges and an
        /// outbox upsert. The skill's status is left as it was.
        fn add_version(new: &NewVersion) -> VersionRecord;
        /// Change a skill's status (and queue an index upsert, the status is filtered on).
        fn set_status(skill: SkillId, status: SkillStatus) -> ();
        /// Make an existing version current again (rollback); queues an index upsert.
        fn set_current_version(skill: SkillId, version: i64) -> ();
        /// Count one call of a skill: how it went, and its latency.
        fn record_call(skill: SkillId, outcome: CallOutcome, latency: Duration) -> ();
        /// Record that the skill just passed verification.
        fn mark_verified(skill: SkillId) -> ();
        /// Delete a skill and all its versions, and queue an index delete. Refused
        /// ([`StoreError::Conflict`]) while other skills call any of its versions.
        fn delete_skill(skill: SkillId) -> ();
        /// Acknowledge (remove) an outbox entry once it is applied to the index.
        fn ack(id: i64) -> ();
        /// Set a value of the key/value `meta` table.
        fn set_meta(key: &str, value: &str) -> ();
        /// Start an episode (status `running`) with a fresh UUID.
        fn create_episode(new: &NewEpisode) -> EpisodeRecord;
        /// Append an event to an open episode, numbered one past its last event.
        /// [`StoreError::Conflict`] once the episode is finished (the journal is closed).
        fn append_event(episode: &str, kind: &str, payload: &serde_json::Value) -> EpisodeEvent;
        /// Finish an open episode with a final status and its outcome.
        /// [`StoreError::Conflict`] when it is already finished, [`StoreError::Invalid`]
        /// for a status that is not final (`running`, `interrupted`).
        fn finish_episode(episode: &str, status: EpisodeStatus, outcome: &serde_json::Value) -> ();
        /// Delete the journals of the episodes that finished before `finished_before` and
        /// admitted nothing (`failed`, `solved_with_existing`); their rows stay, marked with
        /// the time ([`EpisodeRecord::journal_pruned_at`]). An admission's journal (the
        /// evidence behind a skill) and an open episode's (what a resume replays) are kept.
        fn prune_journals(finished_before: DateTime<Utc>) -> PrunedJournals;
        /// Mark an open episode `interrupted`: a run of it stopped before it finished; it
        /// stays open for the next run to resume. [`StoreError::Conflict`] once finished.
        fn interrupt_episode(episode: &str) -> ();
        /// Takes or renews `lease` on an open episode that is free or already the lease
        /// owner's: true when it did; false when another owner holds it (even with an
        /// expired lease: see [`Store::claim_episode`]) or it is finished. The owner of
        /// an episode calls it in every transaction that writes the episode's journal, so
        /// a process whose episode was taken over writes nothing more to it (on
        /// PostgreSQL the row stays locked until the transaction ends, so a takeover
        /// waits for a journal write in progress).
        fn hold_episode(episode: &str, lease: &Lease) -> bool;
        /// Takes `lease` on an open episode nobody runs: free (never leased, or released)
        /// or whose lease has expired (its owner died, or stopped on an error and let it
        /// run out); with `others_stale`, also one any other owner holds (the caller
        /// knows no other process can be running episodes: a SQLite store under the data
        /// directory's lock). One conditional UPDATE: of concurrent claims, one wins.
        fn claim_episode(episode: &str, lease: &Lease, others_stale: bool) -> bool;
        /// Marks an open episode `interrupted` and frees its lease, when `owner` holds it
        /// or nobody does (a clean stop); false when another owner holds it or it is
        /// finished.
        fn release_episode(episode: &str, owner: &str) -> bool;
        /// Start an eval run of `source` with its first report, under a fresh UUID.
        fn create_eval_run(source: &str, report: &serde_json::Value) -> EvalRunRecord;
        /// Replace an eval run's report; `finished` also sets its finish time.
        fn update_eval_run(id: &str, report: &serde_json::Value, finished: bool) -> ();
    }
}

impl Tx {
    /// Makes this transaction the only one applying the index outbox until it ends: drainers
    /// of several processes take turns, so none applies an older row of a skill after
    /// another applied a newer one, and none acknowledges an entry another did.
    pub async fn lock_outbox(&mut self) -> Result<()> {
        self.lock_meta("index_outbox_drain", "").await
    }

    /// Locks the `meta` value of `key` (created as `initial` if missing) until this
    /// transaction ends, so that a read, change and write of it by several processes take
    /// turns and none is lost.
    pub async fn lock_meta(&mut self, key: &str, initial: &str) -> Result<()> {
        let (mut conn, db) = self.parts();
        conn.lock_meta(db, key, initial).await
    }

    fn parts(&mut self) -> (Conn<'_>, &DbInfo) {
        let conn = match &mut self.inner {
            TxInner::Sqlite(tx) => Conn::Sqlite(tx),
            TxInner::Postgres(tx) => Conn::Postgres(tx),
        };
        (conn, &self.db)
    }

    /// Commit every operation of the transaction at once.
    pub async fn commit(self) -> Result<()> {
        let db = self.db;
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await,
            TxInner::Postgres(tx) => tx.commit().await,
        }
        .map_err(|e| db.err(e))?;
        self.commits.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// Undo every operation of the transaction (dropping the `Tx` does the same).
    pub async fn rollback(self) -> Result<()> {
        let db = self.db;
        match self.inner {
            TxInner::Sqlite(tx) => tx.rollback().await,
            TxInner::Postgres(tx) => tx.rollback().await,
        }
        .map_err(|e| db.err(e))
    }
}

#[cfg(test)]
mod tests;
