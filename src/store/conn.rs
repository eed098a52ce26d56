//! The shared query layer: every statement is written once, in SQL that SQLite and
//! PostgreSQL both accept (`$N` placeholders, `RETURNING`, `ON CONFLICT`), and run on
//! either backend's native connection by [`on_conn!`]. Native drivers (not sqlx's
//! `Any`) keep real types on both sides: BOOLEAN, TIMESTAMPTZ, BIGINT.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{ColumnIndex, Decode, PgConnection, Row, SqliteConnection, Type};

use super::error::DbInfo;
use super::types::{
    CallOutcome, CurrentVersion, EpisodeEvent, EpisodeRecord, EpisodeStatus, EvalRunRecord, Expect,
    Lease, ListFilter, NewEpisode, NewVersion, OutboxEntry, OutboxOp, Provenance, PrunedJournals,
    Skill, SkillId, SkillRecord, SkillRef, SkillStats, SkillStatus, VersionId, VersionRecord,
    content_hash,
};
use super::{Result, StoreError};

/// A borrowed connection (pooled or inside a transaction) of either backend.
pub(crate) enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

/// Run `$body` with `$c` bound to the backend's concrete `&mut Connection`; the body
/// is type-checked once per backend, so one statement serves both.
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            Conn::Sqlite(inner) => {
                let $c: &mut SqliteConnection = &mut **inner;
                $body
            }
            Conn::Postgres(inner) => {
                let $c: &mut PgConnection = &mut **inner;
                $body
            }
        }
    };
}

/// Runs a query that returns at most one row, converting the row with `$from_row` (a
/// closure taking the backend's row): `Result<Option<T>>`.
macro_rules! fetch_optional {
    ($conn:expr, $db:expr, $sql:expr, [$($bind:expr),*], $from_row:expr) => {
        on_conn!($conn, |c| {
            let row = sqlx::query($sql)
                $(.bind($bind))*
                .fetch_optional(&mut *c)
                .await
                .map_err(|e| $db.err(e))?;
            row.map(|r| ($from_row)(&r)).transpose()
        })
    };
}

/// Runs a query and converts every row with `$from_row` (a closure taking the backend's
/// row): `Result<Vec<T>>`.
macro_rules! fetch_all {
    ($conn:expr, $db:expr, $sql:expr, [$($bind:expr),*], $from_row:expr) => {
        on_conn!($conn, |c| {
            let rows = sqlx::query($sql)
                $(.bind($bind))*
                .fetch_all(&mut *c)
                .await
                .map_err(|e| $db.err(e))?;
            rows.iter().map($from_row).collect()
        })
    };
}

const SKILL_COLUMNS: &str =
    "s.id, s.namespace, s.name, s.status, s.current_version, s.created_at, s.updated_at";
const VERSION_COLUMNS: &str = "v.id AS v_id, v.skill_id AS v_skill_id, v.version AS v_version, \
     v.description, v.signature, v.code, v.tests, v.capabilities, v.content_hash, v.embedder_id, \
     v.runnable, v.provenance, v.created_at AS v_created_at";
const STATS_COLUMNS: &str =
    "calls, successes, failures, misses, total_latency_ms, last_verified_at, last_used_at";
const EPISODE_COLUMNS: &str = "id, task, source, status, started_at, finished_at, outcome, \
     owner, lease_expires_at, journal_pruned_at";
const EVAL_RUN_COLUMNS: &str = "id, source, started_at, finished_at, report";
const EVENT_COLUMNS: &str = "id, episode_id, seq, kind, payload, created_at";
/// The statuses of an episode that is not finished, as SQL literals.
const OPEN_STATUSES: &str = "'running', 'interrupted'";
/// The statuses of a finished episode whose journal may be pruned (it admitted nothing), as
/// SQL literals.
const PRUNABLE_STATUSES: &str = "'failed', 'solved_with_existing'";
const REF_COLUMNS: &str = "s.id AS skill_id, s.namespace, s.name, v.id AS version_id, v.version";

/// Current time at the precision both backends store (microseconds; we keep millis).
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// When a lease taken now runs out.
fn expiry(lease: &Lease) -> DateTime<Utc> {
    let duration = chrono::TimeDelta::from_std(lease.duration).unwrap_or(chrono::TimeDelta::MAX);
    now()
        .checked_add_signed(duration)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
        .trunc_subsecs(3)
}

/// Typed column access shared by `SqliteRow` and `PgRow`.
trait RowExt {
    fn int(&self, col: &str) -> std::result::Result<i64, sqlx::Error>;
    fn text(&self, col: &str) -> std::result::Result<String, sqlx::Error>;
    fn opt_text(&self, col: &str) -> std::result::Result<Option<String>, sqlx::Error>;
    fn flag(&self, col: &str) -> std::result::Result<bool, sqlx::Error>;
    fn time(&self, col: &str) -> std::result::Result<DateTime<Utc>, sqlx::Error>;
    fn opt_time(&self, col: &str) -> std::result::Result<Option<DateTime<Utc>>, sqlx::Error>;
}

impl<R> RowExt for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn int(&self, col: &str) -> std::result::Result<i64, sqlx::Error> {
        self.try_get(col)
    }
    fn text(&self, col: &str) -> std::result::Result<String, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_text(&self, col: &str) -> std::result::Result<Option<String>, sqlx::Error> {
        self.try_get(col)
    }
    fn flag(&self, col: &str) -> std::result::Result<bool, sqlx::Error> {
        self.try_get(col)
    }
    fn time(&self, col: &str) -> std::result::Result<DateTime<Utc>, sqlx::Error> {
        self.try_get(col)
    }
    fn opt_time(&self, col: &str) -> std::result::Result<Option<DateTime<Utc>>, sqlx::Error> {
        self.try_get(col)
    }
}

/// One row of either backend, with typed column access whose errors are the store's.
struct Columns<'r, R> {
    row: &'r R,
    db: &'r DbInfo,
}

impl<R: RowExt> Columns<'_, R> {
    fn int(&self, col: &str) -> Result<i64> {
        self.row.int(col).map_err(|e| self.db.err(e))
    }
    fn text(&self, col: &str) -> Result<String> {
        self.row.text(col).map_err(|e| self.db.err(e))
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        self.row.opt_text(col).map_err(|e| self.db.err(e))
    }
    fn flag(&self, col: &str) -> Result<bool> {
        self.row.flag(col).map_err(|e| self.db.err(e))
    }
    fn time(&self, col: &str) -> Result<DateTime<Utc>> {
        self.row.time(col).map_err(|e| self.db.err(e))
    }
    fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>> {
        self.row.opt_time(col).map_err(|e| self.db.err(e))
    }
    /// A JSON text column; `column` (`table.column`) names it in errors.
    fn json<T: serde::de::DeserializeOwned>(&self, col: &str, column: &'static str) -> Result<T> {
        json(column, &self.text(col)?)
    }
    /// A stored name (a status, a source).
    fn parsed<T: FromStr<Err = StoreError>>(&self, col: &str) -> Result<T> {
        self.text(col)?.parse()
    }
}

fn json<T: serde::de::DeserializeOwned>(column: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|source| StoreError::Json { column, source })
}

/// A record decoded from a row: every query's rows go through one of these.
trait Record: Sized {
    /// Builds the record from the row's columns.
    fn from_columns(row: &Columns<'_, impl RowExt>) -> Result<Self>;

    /// Decodes `row`.
    fn decode(db: &DbInfo, row: &impl RowExt) -> Result<Self> {
        Self::from_columns(&Columns { row, db })
    }
}

impl Record for SkillRecord {
    fn from_columns(r: &Columns<'_, impl RowExt>) -> Result<Self> {
        Ok(SkillRecord {
            id: SkillId(r.int("id")?),
            namespace: r.text("namespace")?,
            name: r.text("name")?,
            status: r.parsed("status")?,
            current_version: r.int("current_version")?,
            created_at: r.time("created_at")?,
            updated_at: r.time("updated_at")?,
        })
    }
}

impl Record for VersionRecord {
    fn from_columns(r: &Columns<'_, impl RowExt>) -> Result<Self> {
        Ok(VersionRecord {
            id: VersionId(r.int("v_id")?),
            skill_id: SkillId(r.int("v_skill_id")?),
            version: r.int("v_version")?,
            description: r.text("description")?,
            signature: r.text("signature")?,
            code: r.text("code")?,
            tests: r.json("tests", "skill_versions.tests")?,
            capabilities: r.json("capabilities", "skill_versions.capabilities")?,
            content_hash: r.text("content_hash")?,
            embedder_id: r.opt_text("embedder_id")?,
            runnable: r.flag("runnable")?,
            provenance: r.json::<Provenance>("provenance", "skill_versions.provenance")?,
            created_at: r.time("v_created_at")?,
        })
    }
}

impl Record for SkillStats {
    fn from_columns(r: &Columns<'_, impl RowExt>) -> Result<Self> {
        Ok(SkillStats {
            calls: r.int("calls")?,
            successes: r.int("successes")?,
            failures: r.int("failures")?,
            misses: r.int("misses")?,
            total_latency_ms: r.int("total_latency_ms")?,
            last_verified_at: r.opt_time("last_verified_at")?,
            last_used_at: r.opt_time("last_used_at")?,
        })
    }
}

impl Record for SkillRef {
    fn from_columns(r: &Columns<'_, impl RowExt>) -> Result<Self> {
        Ok(SkillRef {
            skill_id: SkillId(r.int("skill_id")?),
            namespace: r.text("namespace")?,
            name: r.text("name")?,
            version_id: VersionId(r.int("version_id")?),
            version: r.int("version")?,
        })
    }
}

impl Record for OutboxEntry {
    fn from_columns(r: &Columns<'_, impl RowExt>) -> Result<Self> {
        Ok(OutboxEntry {
            id: r.int("id")?,
            skill_id: SkillId(r.int("skill_id")?),
            op: OutboxOp::parse(&r.text("op")?)?,
            created_at: r.time("created_at")?,
        })
    }
}

impl Record for EpisodeRecord {
    fn from_columns(r: &Columns<'_, impl RowExt>) -> Result<Self> {
        Ok(EpisodeRecord {
            id: r.text("id")?,
            task: r.json("task", "episodes.task")?,
            source: r.parsed("source")?,
            status: r.parsed("status")?,
            started_at: r.time("started_at")?,
            finished_at: r.opt_time("finished_at")?,
            outcome: r
                .opt_text("outcome")?
                .map(|text| json("episodes.outcome", &text))
                .transpose()?,
            owner: r.opt_text("owner")?,
            lease_expires_at: r.opt_time("lease_expires_at")?,
            journal_pruned_at: r.opt_time("journal_pruned_at")?,
        })
    }
}

impl Record for EpisodeEvent {
    fn from_columns(r: &Columns<'_, impl RowExt>) -> Result<Self> {
        Ok(EpisodeEvent {
            id: r.int("id")?,
            episode_id: r.text("episode_id")?,
            seq: r.int("seq")?,
            kind: r.text("kind")?,
            payload: r.json("payload", "episode_events.payload")?,
            created_at: r.time("created_at")?,
        })
    }
}

/// ` WHERE ... ORDER BY ... LIMIT ...` for a [`ListFilter`] on `skills s` (by namespace and
/// name), with `$n` placeholders in the order [`bind_list_filter`] binds them.
fn list_clauses(filter: &ListFilter) -> String {
    let mut conditions = Vec::new();
    let mut next = 1;
    if filter.namespace.is_some() {
        conditions.push(format!("s.namespace = ${next}"));
        next += 1;
    }
    if !filter.statuses.is_empty() {
        let marks: Vec<String> = (next..next + filter.statuses.len())
            .map(|i| format!("${i}"))
            .collect();
        conditions.push(format!("s.status IN ({})", marks.join(", ")));
        next += filter.statuses.len();
    }
    if filter.after.is_some() {
        conditions.push(format!(
            "(s.namespace > ${next} OR (s.namespace = ${next} AND s.name > ${}))",
            next + 1
        ));
    }
    let mut sql = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    sql.push_str(" ORDER BY s.namespace, s.name");
    if let Some(limit) = filter.limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    sql
}

/// Binds a [`ListFilter`]'s values to a query built with [`list_clauses`].
fn bind_list_filter<'q, DB: sqlx::Database>(
    mut query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    filter: &'q ListFilter,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    if let Some(ns) = &filter.namespace {
        query = query.bind(ns.as_str());
    }
    for status in &filter.statuses {
        query = query.bind(status.as_str());
    }
    if let Some((namespace, name)) = &filter.after {
        query = query.bind(namespace.as_str()).bind(name.as_str());
    }
    query
}

impl Conn<'_> {
    pub(crate) async fn ensure_namespace(&mut self, db: &DbInfo, namespace: &str) -> Result<()> {
        let sql = "INSERT INTO namespaces (name, created_at) VALUES ($1, $2) \
                   ON CONFLICT (name) DO NOTHING";
        on_conn!(self, |c| sqlx::query(sql)
            .bind(namespace)
            .bind(now())
            .execute(&mut *c)
            .await
            .map(drop))
        .map_err(|e| db.err(e))
    }

    pub(crate) async fn namespaces(&mut self, db: &DbInfo) -> Result<Vec<String>> {
        let sql = "SELECT name FROM namespaces ORDER BY name";
        fetch_all!(self, db, sql, [], |r| Columns { row: r, db }.text("name"))
    }

    async fn find_skill(
        &mut self,
        db: &DbInfo,
        namespace: &str,
        name: &str,
    ) -> Result<Option<SkillRecord>> {
        let sql =
            format!("SELECT {SKILL_COLUMNS} FROM skills s WHERE s.namespace = $1 AND s.name = $2");
        fetch_optional!(self, db, &sql, [namespace, name], |r| SkillRecord::decode(
            db, r
        ))
    }

    pub(crate) async fn skill_record(&mut self, db: &DbInfo, id: SkillId) -> Result<SkillRecord> {
        let sql = format!("SELECT {SKILL_COLUMNS} FROM skills s WHERE s.id = $1");
        fetch_optional!(self, db, &sql, [id.0], |r| SkillRecord::decode(db, r))?
            .ok_or_else(|| StoreError::NotFound(id.to_string()))
    }

    pub(crate) async fn add_version(
        &mut self,
        db: &DbInfo,
        new: &NewVersion,
    ) -> Result<VersionRecord> {
        if new.namespace.trim().is_empty() || new.name.trim().is_empty() {
            return Err(StoreError::Invalid(
                "a skill needs a non-empty namespace and name".into(),
            ));
        }
        let at = now();
        self.ensure_namespace(db, &new.namespace).await?;
        let qualified = format!("{}/{}", new.namespace, new.name);
        let existing = self.find_skill(db, &new.namespace, &new.name).await?;
        let (skill_id, version) = match (existing, new.expect) {
            (Some(_), Expect::New) => {
                return Err(StoreError::Conflict(format!(
                    "skill {qualified} already exists"
                )));
            }
            (Some(s), Expect::Current(v)) if s.current_version != v => {
                return Err(StoreError::Conflict(format!(
                    "skill {qualified} is at version {}, not {v}: it changed since it was read",
                    s.current_version
                )));
            }
            (None, Expect::Current(v)) => {
                return Err(StoreError::Conflict(format!(
                    "skill {qualified} was expected at version {v} but does not exist"
                )));
            }
            (Some(s), _) => {
                // Lock the row, checking that what we read is still current: under
                // PostgreSQL's READ COMMITTED a concurrent writer may have committed
                // since. Later writers wait here and then fail the check.
                let sql =
                    "UPDATE skills SET updated_at = $2 WHERE id = $1 AND current_version = $3";
                let locked = on_conn!(self, |c| sqlx::query(sql)
                    .bind(s.id.0)
                    .bind(at)
                    .bind(s.current_version)
                    .execute(&mut *c)
                    .await
                    .map(|r| r.rows_affected()))
                .map_err(|e| db.err(e))?;
                if locked == 0 {
                    return Err(StoreError::Conflict(format!(
                        "skill {qualified} changed while this version was being written"
                    )));
                }
                let version = self.max_version(db, s.id).await? + 1;
                let sql = "UPDATE skills SET current_version = $2 WHERE id = $1";
                on_conn!(self, |c| sqlx::query(sql)
                    .bind(s.id.0)
                    .bind(version)
                    .execute(&mut *c)
                    .await
                    .map(drop))
                .map_err(|e| db.err(e))?;
                (s.id, version)
            }
            (None, _) => (self.insert_skill(db, new, at).await?, 1),
        };

        let sql = "INSERT INTO skill_versions (skill_id, version, description, signature, code, \
                   tests, capabilities, content_hash, embedder_id, runnable, provenance, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id";
        let tests = new.tests.to_string();
        let capabilities = serde_json::to_string(&new.capabilities).expect("strings serialize");
        let provenance = serde_json::to_string(&new.provenance).expect("strings serialize");
        let hash = content_hash(&new.code, &new.tests);
        let version_id = on_conn!(self, |c| {
            let row = sqlx::query(sql)
                .bind(skill_id.0)
                .bind(version)
                .bind(&new.description)
                .bind(&new.signature)
                .bind(&new.code)
                .bind(&tests)
                .bind(&capabilities)
                .bind(&hash)
                .bind(new.embedder_id.as_deref())
                .bind(new.runnable)
                .bind(&provenance)
                .bind(at)
                .fetch_one(&mut *c)
                .await
                .map_err(|e| match db.err(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(format!(
                        "version {version} of {qualified} was written concurrently"
                    )),
                    other => other,
                })?;
            Columns { row: &row, db }.int("id")?
        });
        let version_id = VersionId(version_id);

        let callees: BTreeSet<VersionId> = new.calls.iter().copied().collect();
        for callee in callees {
            self.insert_edge(db, skill_id, version_id, callee).await?;
        }
        self.enqueue(db, skill_id, OutboxOp::Upsert).await?;
        self.version(db, version_id).await
    }

    async fn insert_skill(
        &mut self,
        db: &DbInfo,
        new: &NewVersion,
        at: DateTime<Utc>,
    ) -> Result<SkillId> {
        let sql = "INSERT INTO skills (namespace, name, status, current_version, created_at, updated_at) \
                   VALUES ($1, $2, $3, 1, $4, $4) RETURNING id";
        let id = on_conn!(self, |c| {
            let row = sqlx::query(sql)
                .bind(&new.namespace)
                .bind(&new.name)
                .bind(SkillStatus::Active.as_str())
                .bind(at)
                .fetch_one(&mut *c)
                .await
                .map_err(|e| match db.err(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(format!(
                        "skill {}/{} was created concurrently",
                        new.namespace, new.name
                    )),
                    other => other,
                })?;
            Columns { row: &row, db }.int("id")?
        });
        let sql = "INSERT INTO skill_stats (skill_id) VALUES ($1)";
        on_conn!(self, |c| sqlx::query(sql)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(drop))
        .map_err(|e| db.err(e))?;
        Ok(SkillId(id))
    }

    async fn max_version(&mut self, db: &DbInfo, skill: SkillId) -> Result<i64> {
        let sql = "SELECT COALESCE(MAX(version), 0) AS v FROM skill_versions WHERE skill_id = $1";
        on_conn!(self, |c| {
            let row = sqlx::query(sql)
                .bind(skill.0)
                .fetch_one(&mut *c)
                .await
                .map_err(|e| db.err(e))?;
            Columns { row: &row, db }.int("v")
        })
    }

    async fn insert_edge(
        &mut self,
        db: &DbInfo,
        caller_skill: SkillId,
        caller: VersionId,
        callee: VersionId,
    ) -> Result<()> {
        let sql = "SELECT skill_id FROM skill_versions WHERE id = $1";
        let callee_skill = fetch_optional!(self, db, sql, [callee.0], |r| Columns { row: r, db }
            .int("skill_id"))?;
        match callee_skill {
            None => {
                return Err(StoreError::Invalid(format!(
                    "the new version calls {callee}, which does not exist"
                )));
            }
            Some(s) if s == caller_skill.0 => {
                return Err(StoreError::Invalid(format!(
                    "a version cannot call another version of its own skill ({callee})"
                )));
            }
            Some(_) => {}
        }
        let sql = "INSERT INTO skill_edges (caller_version_id, callee_version_id) VALUES ($1, $2)";
        on_conn!(self, |c| sqlx::query(sql)
            .bind(caller.0)
            .bind(callee.0)
            .execute(&mut *c)
            .await
            .map(drop))
        .map_err(|e| db.err(e))
    }

    async fn enqueue(&mut self, db: &DbInfo, skill: SkillId, op: OutboxOp) -> Result<()> {
        let sql = "INSERT INTO index_outbox (skill_id, op, created_at) VALUES ($1, $2, $3)";
        on_conn!(self, |c| sqlx::query(sql)
            .bind(skill.0)
            .bind(op.as_str())
            .bind(now())
            .execute(&mut *c)
            .await
            .map(drop))
        .map_err(|e| db.err(e))
    }

    pub(crate) async fn version(&mut self, db: &DbInfo, id: VersionId) -> Result<VersionRecord> {
        let sql = format!("SELECT {VERSION_COLUMNS} FROM skill_versions v WHERE v.id = $1");
        fetch_optional!(self, db, &sql, [id.0], |r| VersionRecord::decode(db, r))?
            .ok_or_else(|| StoreError::NotFound(id.to_string()))
    }

    pub(crate) async fn versions(
        &mut self,
        db: &DbInfo,
        skill: SkillId,
    ) -> Result<Vec<VersionRecord>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM skill_versions v WHERE v.skill_id = $1 ORDER BY v.version"
        );
        fetch_all!(self, db, &sql, [skill.0], |r| VersionRecord::decode(db, r))
    }

    pub(crate) async fn find_by_content_hash(
        &mut self,
        db: &DbInfo,
        hash: &str,
    ) -> Result<Vec<VersionRecord>> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM skill_versions v WHERE v.content_hash = $1 ORDER BY v.id"
        );
        fetch_all!(self, db, &sql, [hash], |r| VersionRecord::decode(db, r))
    }

    pub(crate) async fn stats(&mut self, db: &DbInfo, skill: SkillId) -> Result<SkillStats> {
        let sql = format!("SELECT {STATS_COLUMNS} FROM skill_stats WHERE skill_id = $1");
        fetch_optional!(self, db, &sql, [skill.0], |r| SkillStats::decode(db, r))?
            .ok_or_else(|| StoreError::NotFound(skill.to_string()))
    }

    async fn assemble(&mut self, db: &DbInfo, record: SkillRecord) -> Result<Skill> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM skill_versions v WHERE v.skill_id = $1 AND v.version = $2"
        );
        let version = on_conn!(self, |c| {
            let row = sqlx::query(&sql)
                .bind(record.id.0)
                .bind(record.current_version)
                .fetch_one(&mut *c)
                .await
                .map_err(|e| db.err(e))?;
            VersionRecord::decode(db, &row)?
        });
        let stats = self.stats(db, record.id).await?;
        Ok(Skill {
            record,
            version,
            stats,
        })
    }

    pub(crate) async fn get(&mut self, db: &DbInfo, namespace: &str, name: &str) -> Result<Skill> {
        let record = self
            .find_skill(db, namespace, name)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("skill {namespace}/{name}")))?;
        self.assemble(db, record).await
    }

    pub(crate) async fn get_by_id(&mut self, db: &DbInfo, id: SkillId) -> Result<Skill> {
        let record = self.skill_record(db, id).await?;
        self.assemble(db, record).await
    }

    pub(crate) async fn list(
        &mut self,
        db: &DbInfo,
        filter: &ListFilter,
    ) -> Result<Vec<SkillRecord>> {
        let sql = format!(
            "SELECT {SKILL_COLUMNS} FROM skills s{}",
            list_clauses(filter)
        );
        on_conn!(self, |c| {
            let rows = bind_list_filter(sqlx::query(&sql), filter)
                .fetch_all(&mut *c)
                .await
                .map_err(|e| db.err(e))?;
            rows.iter().map(|r| SkillRecord::decode(db, r)).collect()
        })
    }

    pub(crate) async fn count_skills(
        &mut self,
        db: &DbInfo,
        namespace: Option<&str>,
    ) -> Result<i64> {
        on_conn!(self, |c| {
            let query = match namespace {
                Some(namespace) => {
                    sqlx::query("SELECT COUNT(*) AS n FROM skills WHERE namespace = $1")
                        .bind(namespace)
                }
                None => sqlx::query("SELECT COUNT(*) AS n FROM skills"),
            };
            let row = query.fetch_one(&mut *c).await.map_err(|e| db.err(e))?;
            Columns { row: &row, db }.int("n")
        })
    }

    pub(crate) async fn list_skills(
        &mut self,
        db: &DbInfo,
        filter: &ListFilter,
    ) -> Result<Vec<Skill>> {
        let sql = format!(
            "SELECT {SKILL_COLUMNS}, {VERSION_COLUMNS}, {STATS_COLUMNS} FROM skills s \
             JOIN skill_versions v ON v.skill_id = s.id AND v.version = s.current_version \
             JOIN skill_stats st ON st.skill_id = s.id{}",
            list_clauses(filter)
        );
        on_conn!(self, |c| {
            let rows = bind_list_filter(sqlx::query(&sql), filter)
                .fetch_all(&mut *c)
                .await
                .map_err(|e| db.err(e))?;
            rows.iter()
                .map(|r| {
                    Ok(Skill {
                        record: SkillRecord::decode(db, r)?,
                        version: VersionRecord::decode(db, r)?,
                        stats: SkillStats::decode(db, r)?,
                    })
                })
                .collect()
        })
    }

    pub(crate) async fn callees(&mut self, db: &DbInfo, skill: SkillId) -> Result<Vec<SkillRef>> {
        self.skill_record(db, skill).await?;
        let sql = format!(
            "SELECT {REF_COLUMNS} FROM skills me \
             JOIN skill_versions mv ON mv.skill_id = me.id AND mv.version = me.current_version \
             JOIN skill_edges e ON e.caller_version_id = mv.id \
             JOIN skill_versions v ON v.id = e.callee_version_id \
             JOIN skills s ON s.id = v.skill_id \
             WHERE me.id = $1 ORDER BY s.namespace, s.name"
        );
        self.refs(db, &sql, skill).await
    }

    pub(crate) async fn callers(&mut self, db: &DbInfo, skill: SkillId) -> Result<Vec<SkillRef>> {
        self.skill_record(db, skill).await?;
        let sql = format!(
            "SELECT DISTINCT {REF_COLUMNS} FROM skill_versions callee \
             JOIN skill_edges e ON e.callee_version_id = callee.id \
             JOIN skill_versions v ON v.id = e.caller_version_id \
             JOIN skills s ON s.id = v.skill_id AND s.current_version = v.version \
             WHERE callee.skill_id = $1 ORDER BY s.namespace, s.name"
        );
        self.refs(db, &sql, skill).await
    }

    async fn refs(&mut self, db: &DbInfo, sql: &str, skill: SkillId) -> Result<Vec<SkillRef>> {
        fetch_all!(self, db, sql, [skill.0], |r| SkillRef::decode(db, r))
    }

    /// Run an UPDATE/DELETE keyed by skill id; `NotFound` when it touched no row.
    async fn touch(
        &mut self,
        db: &DbInfo,
        sql: &str,
        skill: SkillId,
        args: Touch<'_>,
    ) -> Result<()> {
        let affected = on_conn!(self, |c| {
            let mut query = sqlx::query(sql).bind(skill.0);
            match args {
                Touch::None => {}
                Touch::Time(t) => query = query.bind(t),
                Touch::TextTime(s, t) => query = query.bind(s).bind(t),
                Touch::IntTime(i, t) => query = query.bind(i).bind(t),
                Touch::Call(outcome, ms, t) => {
                    query = query
                        .bind(i64::from(outcome == CallOutcome::Success))
                        .bind(i64::from(outcome == CallOutcome::Failure))
                        .bind(i64::from(outcome == CallOutcome::Miss))
                        .bind(ms)
                        .bind(t)
                }
            }
            query
                .execute(&mut *c)
                .await
                .map_err(|e| db.err(e))?
                .rows_affected()
        });
        if affected == 0 {
            return Err(StoreError::NotFound(skill.to_string()));
        }
        Ok(())
    }

    pub(crate) async fn set_status(
        &mut self,
        db: &DbInfo,
        skill: SkillId,
        status: SkillStatus,
    ) -> Result<()> {
        let sql = "UPDATE skills SET status = $2, updated_at = $3 WHERE id = $1";
        self.touch(db, sql, skill, Touch::TextTime(status.as_str(), now()))
            .await?;
        self.enqueue(db, skill, OutboxOp::Upsert).await
    }

    pub(crate) async fn set_current_version(
        &mut self,
        db: &DbInfo,
        skill: SkillId,
        version: i64,
    ) -> Result<()> {
        let record = self.skill_record(db, skill).await?;
        if version < 1 || version > self.max_version(db, skill).await? {
            return Err(StoreError::NotFound(format!(
                "version {version} of {}/{}",
                record.namespace, record.name
            )));
        }
        let sql = "UPDATE skills SET current_version = $2, updated_at = $3 WHERE id = $1";
        self.touch(db, sql, skill, Touch::IntTime(version, now()))
            .await?;
        self.enqueue(db, skill, OutboxOp::Upsert).await
    }

    pub(crate) async fn record_call(
        &mut self,
        db: &DbInfo,
        skill: SkillId,
        outcome: CallOutcome,
        latency: Duration,
    ) -> Result<()> {
        let sql = "UPDATE skill_stats SET calls = calls + 1, successes = successes + $2, \
                   failures = failures + $3, misses = misses + $4, \
                   total_latency_ms = total_latency_ms + $5, last_used_at = $6 \
                   WHERE skill_id = $1";
        let ms = i64::try_from(latency.as_millis()).unwrap_or(i64::MAX);
        self.touch(db, sql, skill, Touch::Call(outcome, ms, now()))
            .await
    }

    pub(crate) async fn mark_verified(&mut self, db: &DbInfo, skill: SkillId) -> Result<()> {
        let sql = "UPDATE skill_stats SET last_verified_at = $2 WHERE skill_id = $1";
        self.touch(db, sql, skill, Touch::Time(now())).await
    }

    pub(crate) async fn delete_skill(&mut self, db: &DbInfo, skill: SkillId) -> Result<()> {
        let record = self.skill_record(db, skill).await?;
        let sql = "SELECT COUNT(*) AS n FROM skill_edges e \
                   JOIN skill_versions callee ON callee.id = e.callee_version_id \
                   JOIN skill_versions caller ON caller.id = e.caller_version_id \
                   WHERE callee.skill_id = $1 AND caller.skill_id <> $1";
        let callers = on_conn!(self, |c| {
            let row = sqlx::query(sql)
                .bind(skill.0)
                .fetch_one(&mut *c)
                .await
                .map_err(|e| db.err(e))?;
            Columns { row: &row, db }.int("n")?
        });
        if callers > 0 {
            return Err(StoreError::Conflict(format!(
                "skill {}/{} is called by {callers} version(s) of other skills; deprecate it instead",
                record.namespace, record.name
            )));
        }
        self.touch(db, "DELETE FROM skills WHERE id = $1", skill, Touch::None)
            .await?;
        self.enqueue(db, skill, OutboxOp::Delete).await
    }

    pub(crate) async fn pending(&mut self, db: &DbInfo) -> Result<Vec<OutboxEntry>> {
        let sql = "SELECT id, skill_id, op, created_at FROM index_outbox ORDER BY id";
        fetch_all!(self, db, sql, [], |r| OutboxEntry::decode(db, r))
    }

    pub(crate) async fn ack(&mut self, db: &DbInfo, id: i64) -> Result<()> {
        let sql = "DELETE FROM index_outbox WHERE id = $1";
        let affected = on_conn!(self, |c| sqlx::query(sql)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| db.err(e))?;
        if affected == 0 {
            return Err(StoreError::NotFound(format!("outbox entry {id}")));
        }
        Ok(())
    }

    pub(crate) async fn all_current_versions(
        &mut self,
        db: &DbInfo,
    ) -> Result<Vec<CurrentVersion>> {
        let sql = format!(
            "SELECT {SKILL_COLUMNS}, {VERSION_COLUMNS} FROM skills s \
             JOIN skill_versions v ON v.skill_id = s.id AND v.version = s.current_version \
             ORDER BY s.id"
        );
        fetch_all!(self, db, &sql, [], |r| {
            Ok(CurrentVersion {
                skill: SkillRecord::decode(db, r)?,
                version: VersionRecord::decode(db, r)?,
            })
        })
    }

    pub(crate) async fn get_meta(&mut self, db: &DbInfo, key: &str) -> Result<Option<String>> {
        let sql = "SELECT value FROM meta WHERE key = $1";
        fetch_optional!(self, db, sql, [key], |r| Columns { row: r, db }
            .text("value"))
    }

    pub(crate) async fn lock_meta(&mut self, db: &DbInfo, key: &str, initial: &str) -> Result<()> {
        // An upsert locks its row until the transaction ends on PostgreSQL (one that changes
        // nothing too); a SQLite write transaction is exclusive already.
        self.upsert_meta(db, key, initial, "meta.value").await
    }

    pub(crate) async fn set_meta(&mut self, db: &DbInfo, key: &str, value: &str) -> Result<()> {
        self.upsert_meta(db, key, value, "excluded.value").await
    }

    /// Inserts `key` with `value`, or sets an existing row's value to `on_conflict` (an SQL
    /// expression: `excluded.value` to overwrite, `meta.value` to keep).
    async fn upsert_meta(
        &mut self,
        db: &DbInfo,
        key: &str,
        value: &str,
        on_conflict: &'static str,
    ) -> Result<()> {
        let sql = format!(
            "INSERT INTO meta (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = {on_conflict}"
        );
        on_conn!(self, |c| sqlx::query(&sql)
            .bind(key)
            .bind(value)
            .execute(&mut *c)
            .await
            .map(drop))
        .map_err(|e| db.err(e))
    }
}

/// Extra bind values of [`Conn::touch`] after the skill id.
enum Touch<'a> {
    None,
    Time(DateTime<Utc>),
    TextTime(&'a str, DateTime<Utc>),
    IntTime(i64, DateTime<Utc>),
    Call(CallOutcome, i64, DateTime<Utc>),
}

/// The episode journal.
impl Conn<'_> {
    pub(crate) async fn create_episode(
        &mut self,
        db: &DbInfo,
        new: &NewEpisode,
    ) -> Result<EpisodeRecord> {
        let id = uuid::Uuid::now_v7().to_string();
        let sql = "INSERT INTO episodes (id, task, source, status, started_at) \
                   VALUES ($1, $2, $3, $4, $5)";
        on_conn!(self, |c| sqlx::query(sql)
            .bind(&id)
            .bind(new.task.to_string())
            .bind(new.source.as_str())
            .bind(EpisodeStatus::Running.as_str())
            .bind(now())
            .execute(&mut *c)
            .await
            .map(drop))
        .map_err(|e| db.err(e))?;
        self.episode(db, &id).await
    }

    async fn find_episode(&mut self, db: &DbInfo, id: &str) -> Result<Option<EpisodeRecord>> {
        let sql = format!("SELECT {EPISODE_COLUMNS} FROM episodes WHERE id = $1");
        fetch_optional!(self, db, &sql, [id], |r| EpisodeRecord::decode(db, r))
    }

    pub(crate) async fn episode(&mut self, db: &DbInfo, id: &str) -> Result<EpisodeRecord> {
        self.find_episode(db, id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("episode {id}")))
    }

    /// The episode, which must still be open (`Conflict` otherwise).
    async fn open_episode(&mut self, db: &DbInfo, id: &str) -> Result<EpisodeRecord> {
        let episode = self.episode(db, id).await?;
        if !episode.status.is_open() {
            return Err(StoreError::Conflict(format!(
                "episode {id} is already finished ({}); its journal is closed",
                episode.status
            )));
        }
        Ok(episode)
    }

    pub(crate) async fn append_event(
        &mut self,
        db: &DbInfo,
        episode: &str,
        kind: &str,
        payload: &serde_json::Value,
    ) -> Result<EpisodeEvent> {
        if kind.trim().is_empty() {
            return Err(StoreError::Invalid(
                "an event needs a non-empty kind".into(),
            ));
        }
        self.open_episode(db, episode).await?;
        // One statement computes the next seq; a concurrent append to the same episode
        // hits UNIQUE (episode_id, seq) and is reported as a conflict.
        let sql = format!(
            "INSERT INTO episode_events (episode_id, seq, kind, payload, created_at) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM episode_events \
             WHERE episode_id = $1 RETURNING {EVENT_COLUMNS}"
        );
        on_conn!(self, |c| {
            let row = sqlx::query(&sql)
                .bind(episode)
                .bind(kind)
                .bind(payload.to_string())
                .bind(now())
                .fetch_one(&mut *c)
                .await
                .map_err(|e| match db.err(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(format!(
                        "another event was appended to episode {episode} concurrently"
                    )),
                    other => other,
                })?;
            EpisodeEvent::decode(db, &row)
        })
    }

    pub(crate) async fn finish_episode(
        &mut self,
        db: &DbInfo,
        episode: &str,
        status: EpisodeStatus,
        outcome: &serde_json::Value,
    ) -> Result<()> {
        if status.is_open() {
            return Err(StoreError::Invalid(format!(
                "episode {episode} cannot finish as {status}: use a final status"
            )));
        }
        self.open_episode(db, episode).await?;
        // The status guard makes a concurrent finish lose instead of overwrite.
        let sql = format!(
            "UPDATE episodes SET status = $2, finished_at = $3, outcome = $4 \
             WHERE id = $1 AND status IN ({OPEN_STATUSES})"
        );
        let affected = on_conn!(self, |c| sqlx::query(&sql)
            .bind(episode)
            .bind(status.as_str())
            .bind(now())
            .bind(outcome.to_string())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| db.err(e))?;
        if affected == 0 {
            return Err(StoreError::Conflict(format!(
                "episode {episode} was finished concurrently"
            )));
        }
        Ok(())
    }

    pub(crate) async fn interrupt_episode(&mut self, db: &DbInfo, episode: &str) -> Result<()> {
        self.open_episode(db, episode).await?;
        let sql = format!(
            "UPDATE episodes SET status = $2 WHERE id = $1 AND status IN ({OPEN_STATUSES})"
        );
        on_conn!(self, |c| sqlx::query(&sql)
            .bind(episode)
            .bind(EpisodeStatus::Interrupted.as_str())
            .execute(&mut *c)
            .await
            .map(drop))
        .map_err(|e| db.err(e))
    }

    /// Gives `lease` (`SET owner = $2, lease_expires_at = $3`) to episode `$1` where `sql`'s
    /// condition holds (`$4`, `$5`: the time before which leases have expired, and whether
    /// every other owner's lease is stale): whether it did.
    async fn take_lease(
        &mut self,
        db: &DbInfo,
        sql: &str,
        episode: &str,
        lease: &Lease,
        stale_before: Option<(DateTime<Utc>, bool)>,
    ) -> Result<bool> {
        let affected = on_conn!(self, |c| {
            let mut query = sqlx::query(sql)
                .bind(episode)
                .bind(&lease.owner)
                .bind(expiry(lease));
            if let Some((now, others_stale)) = stale_before {
                query = query.bind(now).bind(others_stale);
            }
            query.execute(&mut *c).await.map(|r| r.rows_affected())
        })
        .map_err(|e| db.err(e))?;
        Ok(affected > 0)
    }

    pub(crate) async fn hold_episode(
        &mut self,
        db: &DbInfo,
        episode: &str,
        lease: &Lease,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE episodes SET owner = $2, lease_expires_at = $3 \
             WHERE id = $1 AND status IN ({OPEN_STATUSES}) AND (owner IS NULL OR owner = $2)"
        );
        self.take_lease(db, &sql, episode, lease, None).await
    }

    pub(crate) async fn claim_episode(
        &mut self,
        db: &DbInfo,
        episode: &str,
        lease: &Lease,
        others_stale: bool,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE episodes SET owner = $2, lease_expires_at = $3 \
             WHERE id = $1 AND status IN ({OPEN_STATUSES}) \
             AND (owner IS NULL OR lease_expires_at < $4 OR ($5 AND owner <> $2))"
        );
        let stale = Some((now(), others_stale));
        self.take_lease(db, &sql, episode, lease, stale).await
    }

    pub(crate) async fn release_episode(
        &mut self,
        db: &DbInfo,
        episode: &str,
        owner: &str,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE episodes SET owner = NULL, lease_expires_at = NULL, status = $3 \
             WHERE id = $1 AND status IN ({OPEN_STATUSES}) AND (owner IS NULL OR owner = $2)"
        );
        let affected = on_conn!(self, |c| sqlx::query(&sql)
            .bind(episode)
            .bind(owner)
            .bind(EpisodeStatus::Interrupted.as_str())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| db.err(e))?;
        Ok(affected > 0)
    }

    pub(crate) async fn episode_events(
        &mut self,
        db: &DbInfo,
        id: &str,
    ) -> Result<Vec<EpisodeEvent>> {
        self.episode_events_after(db, id, 0).await
    }

    pub(crate) async fn episode_events_after(
        &mut self,
        db: &DbInfo,
        id: &str,
        after: i64,
    ) -> Result<Vec<EpisodeEvent>> {
        self.episode(db, id).await?;
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM episode_events WHERE episode_id = $1 AND seq > $2 \
             ORDER BY seq"
        );
        fetch_all!(self, db, &sql, [id, after], |r| EpisodeEvent::decode(db, r))
    }

    pub(crate) async fn prune_journals(
        &mut self,
        db: &DbInfo,
        finished_before: DateTime<Utc>,
    ) -> Result<PrunedJournals> {
        let prunable = format!(
            "status IN ({PRUNABLE_STATUSES}) AND finished_at < $1 AND journal_pruned_at IS NULL"
        );
        let events = format!(
            "DELETE FROM episode_events \
             WHERE episode_id IN (SELECT id FROM episodes WHERE {prunable})"
        );
        let episodes = format!("UPDATE episodes SET journal_pruned_at = $2 WHERE {prunable}");
        let (events, episodes) = on_conn!(self, |c| {
            let events = sqlx::query(&events)
                .bind(finished_before)
                .execute(&mut *c)
                .await
                .map_err(|e| db.err(e))?
                .rows_affected();
            let episodes = sqlx::query(&episodes)
                .bind(finished_before)
                .bind(now())
                .execute(&mut *c)
                .await
                .map_err(|e| db.err(e))?
                .rows_affected();
            (events, episodes)
        });
        Ok(PrunedJournals { episodes, events })
    }

    pub(crate) async fn list_episodes(
        &mut self,
        db: &DbInfo,
        limit: i64,
    ) -> Result<Vec<EpisodeRecord>> {
        if limit < 0 {
            return Err(StoreError::Invalid(format!(
                "cannot list {limit} episodes: the limit must be zero or more"
            )));
        }
        let sql = format!(
            "SELECT {EPISODE_COLUMNS} FROM episodes ORDER BY started_at DESC, id DESC LIMIT $1"
        );
        self.episodes(db, &sql, Some(limit)).await
    }

    pub(crate) async fn unfinished_episodes(&mut self, db: &DbInfo) -> Result<Vec<EpisodeRecord>> {
        let sql = format!(
            "SELECT {EPISODE_COLUMNS} FROM episodes WHERE status IN ({OPEN_STATUSES}) \
             ORDER BY started_at, id"
        );
        self.episodes(db, &sql, None).await
    }

    async fn episodes(
        &mut self,
        db: &DbInfo,
        sql: &str,
        limit: Option<i64>,
    ) -> Result<Vec<EpisodeRecord>> {
        on_conn!(self, |c| {
            let mut query = sqlx::query(sql);
            if let Some(limit) = limit {
                query = query.bind(limit);
            }
            let rows = query.fetch_all(&mut *c).await.map_err(|e| db.err(e))?;
            rows.iter().map(|r| EpisodeRecord::decode(db, r)).collect()
        })
    }
}

impl Record for EvalRunRecord {
    fn from_columns(r: &Columns<'_, impl RowExt>) -> Result<Self> {
        Ok(EvalRunRecord {
            id: r.text("id")?,
            source: r.text("source")?,
            started_at: r.time("started_at")?,
            finished_at: r.opt_time("finished_at")?,
            report: r.json("report", "eval_runs.report")?,
        })
    }
}

/// Runs of `skillforge eval`.
impl Conn<'_> {
    pub(crate) async fn create_eval_run(
        &mut self,
        db: &DbInfo,
        source: &str,
        report: &serde_json::Value,
    ) -> Result<EvalRunRecord> {
        let id = uuid::Uuid::now_v7().to_string();
        let sql = "INSERT INTO eval_runs (id, source, started_at, report) VALUES ($1, $2, $3, $4)";
        on_conn!(self, |c| sqlx::query(sql)
            .bind(&id)
            .bind(source)
            .bind(now())
            .bind(report.to_string())
            .execute(&mut *c)
            .await
            .map(drop))
        .map_err(|e| db.err(e))?;
        self.eval_run(db, &id).await
    }

    pub(crate) async fn update_eval_run(
        &mut self,
        db: &DbInfo,
        id: &str,
        report: &serde_json::Value,
        finished: bool,
    ) -> Result<()> {
        let sql = "UPDATE eval_runs SET report = $2, \
                   finished_at = CASE WHEN $3 THEN $4 ELSE finished_at END WHERE id = $1";
        let affected = on_conn!(self, |c| sqlx::query(sql)
            .bind(id)
            .bind(report.to_string())
            .bind(finished)
            .bind(now())
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))
        .map_err(|e| db.err(e))?;
        if affected == 0 {
            return Err(StoreError::NotFound(format!("eval run {id}")));
        }
        Ok(())
    }

    pub(crate) async fn eval_run(&mut self, db: &DbInfo, id: &str) -> Result<EvalRunRecord> {
        let sql = format!("SELECT {EVAL_RUN_COLUMNS} FROM eval_runs WHERE id = $1");
        fetch_optional!(self, db, &sql, [id], |r| EvalRunRecord::decode(db, r))?
            .ok_or_else(|| StoreError::NotFound(format!("eval run {id}")))
    }

    pub(crate) async fn list_eval_runs(
        &mut self,
        db: &DbInfo,
        limit: i64,
    ) -> Result<Vec<EvalRunRecord>> {
        if limit < 0 {
            return Err(StoreError::Invalid(format!(
                "cannot list {limit} eval runs: the limit must be zero or more"
            )));
        }
        let sql = format!(
            "SELECT {EVAL_RUN_COLUMNS} FROM eval_runs ORDER BY started_at DESC, id DESC LIMIT $1"
        );
        fetch_all!(self, db, &sql, [limit], |r| EvalRunRecord::decode(db, r))
    }
}
