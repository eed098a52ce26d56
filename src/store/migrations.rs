//! The schema migrations, embedded in the binary (no files are read at run time).
//!
//! Each backend has its own SQL under `migrations/<backend>/NNNN_name.sql`, numbered
//! sequentially with the same numbers on both backends. To add one, write both files
//! and list them below; a test checks that the lists match the directories.

use std::borrow::Cow;

use futures::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};

/// (version, description, SQL) of one migration.
type Embedded = (i64, &'static str, &'static str);

pub(crate) const SQLITE: &[Embedded] = &[
    (
        1,
        "skills",
        include_str!("../../migrations/sqlite/0001_skills.sql"),
    ),
    (
        2,
        "episodes",
        include_str!("../../migrations/sqlite/0002_episodes.sql"),
    ),
    (
        3,
        "eval_runs",
        include_str!("../../migrations/sqlite/0003_eval_runs.sql"),
    ),
    (
        4,
        "episode_leases",
        include_str!("../../migrations/sqlite/0004_episode_leases.sql"),
    ),
    (
        5,
        "skill_misses",
        include_str!("../../migrations/sqlite/0005_skill_misses.sql"),
    ),
    (
        6,
        "journal_pruning",
        include_str!("../../migrations/sqlite/0006_journal_pruning.sql"),
    ),
];

pub(crate) const POSTGRES: &[Embedded] = &[
    (
        1,
        "skills",
        include_str!("../../migrations/postgres/0001_skills.sql"),
    ),
    (
        2,
        "episodes",
        include_str!("../../migrations/postgres/0002_episodes.sql"),
    ),
    (
        3,
        "eval_runs",
        include_str!("../../migrations/postgres/0003_eval_runs.sql"),
    ),
    (
        4,
        "episode_leases",
        include_str!("../../migrations/postgres/0004_episode_leases.sql"),
    ),
    (
        5,
        "skill_misses",
        include_str!("../../migrations/postgres/0005_skill_misses.sql"),
    ),
    (
        6,
        "journal_pruning",
        include_str!("../../migrations/postgres/0006_journal_pruning.sql"),
    ),
];

/// A [`MigrationSource`] over embedded SQL.
#[derive(Debug)]
struct Source(&'static [Embedded]);

impl MigrationSource<'static> for Source {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

/// The migrator for one backend's embedded migrations.
pub(crate) async fn migrator(migrations: &'static [Embedded]) -> Result<Migrator, MigrateError> {
    Migrator::new(Source(migrations)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(backend: &str) -> Vec<(i64, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut found: Vec<(i64, String)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter_map(|name| {
                let stem = name.strip_suffix(".sql")?;
                let (number, description) = stem.split_once('_')?;
                Some((number.parse().ok()?, description.to_string()))
            })
            .collect();
        found.sort();
        found
    }

    fn listed(migrations: &[Embedded]) -> Vec<(i64, String)> {
        migrations
            .iter()
            .map(|&(v, d, _)| (v, d.to_string()))
            .collect()
    }

    #[test]
    fn every_migration_file_is_embedded_on_both_backends() {
        assert_eq!(listed(SQLITE), files("sqlite"));
        assert_eq!(listed(POSTGRES), files("postgres"));
        assert_eq!(listed(SQLITE), listed(POSTGRES));
        let versions: Vec<i64> = SQLITE.iter().map(|m| m.0).collect();
        assert_eq!(versions, (1..=SQLITE.len() as i64).collect::<Vec<_>>());
    }
}
