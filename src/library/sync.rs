//! Keeping the vector index in step with the SQL store.

use std::collections::{BTreeMap, BTreeSet};

use super::recipe::{Recipe, ViewTexts};
use super::{Library, Result};
use crate::index::IndexPoint;
use crate::store::{CurrentVersion, OutboxOp, SkillId, StoreError};

/// Points embedded and written per batch when rebuilding.
const REINDEX_BATCH: usize = 64;

impl Library {
    /// Applies the index writes the store has queued (after a commit, or left by a crash) and
    /// acknowledges them. Returns how many entries were applied.
    ///
    /// Only the last entry per skill matters, and it is applied from the skill's current SQL
    /// row, so replaying an entry twice is harmless. Processes sharing the store (daemons on
    /// one PostgreSQL and one Qdrant server) drain it in turns ([`Tx::lock_outbox`]): each
    /// applies what is pending when its turn comes, so the index converges on the rows last
    /// committed, and no entry is lost or acknowledged twice.
    ///
    /// [`Tx::lock_outbox`]: crate::store::Tx::lock_outbox
    pub async fn sync_index(&self) -> Result<usize> {
        self.check_writable("update the index")?;
        if self.store.pending().await?.is_empty() {
            return Ok(0);
        }
        let mut tx = self.store.begin().await?;
        tx.lock_outbox().await?;
        let pending = tx.pending().await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let mut last: BTreeMap<SkillId, OutboxOp> = BTreeMap::new();
        for entry in &pending {
            last.insert(entry.skill_id, entry.op);
        }
        let mut deletes = Vec::new();
        let mut current = Vec::new();
        for (id, op) in last {
            let found = match op {
                OutboxOp::Delete => None,
                OutboxOp::Upsert => match tx.get_by_id(id).await {
                    Ok(skill) => Some(skill),
                    Err(StoreError::NotFound(_)) => None,
                    Err(e) => return Err(e.into()),
                },
            };
            match found {
                Some(skill) => current.push(CurrentVersion {
                    skill: skill.record,
                    version: skill.version,
                }),
                None => deletes.push(id),
            }
        }
        if !deletes.is_empty() {
            self.index.delete(&deletes).await?;
        }
        self.upsert_points(current).await?;
        for entry in &pending {
            tx.ack(entry.id).await?;
        }
        tx.commit().await?;
        Ok(pending.len())
    }

    /// Rebuilds the whole index from the store with the current embedder: every skill's
    /// current version is re-embedded. Returns the number of skills indexed.
    ///
    /// Points are overwritten in place and only then are the points of skills no longer
    /// in the store removed, so searches during a rebuild see the old or the new point of
    /// each skill, never a missing one.
    pub async fn reindex(&self) -> Result<usize> {
        self.check_writable("rebuild the index")?;
        // Entries queued before the rebuild read the store are covered by it; later ones
        // stay pending for the next sync.
        let pending = self.store.pending().await?;
        let all = self.store.all_current_versions().await?;
        let count = all.len();
        let current: BTreeSet<SkillId> = all.iter().map(|v| v.skill.id).collect();
        let mut rest = all;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(REINDEX_BATCH));
            self.upsert_points(std::mem::replace(&mut rest, tail))
                .await?;
        }
        let stale: Vec<SkillId> = self
            .index
            .skill_ids()
            .await?
            .into_iter()
            .filter(|id| !current.contains(id))
            .collect();
        self.index.delete(&stale).await?;
        self.index.optimize().await?;
        // Acknowledged in the outbox's turn: of the entries read before the rebuild, those
        // another process's sync has not acknowledged meanwhile.
        let mut tx = self.store.begin().await?;
        tx.lock_outbox().await?;
        let still: BTreeSet<i64> = tx.pending().await?.iter().map(|e| e.id).collect();
        for entry in pending.iter().filter(|e| still.contains(&e.id)) {
            tx.ack(entry.id).await?;
        }
        tx.commit().await?;
        tracing::info!("reindexed {count} skills");
        Ok(count)
    }

    /// Embeds and writes the points of these versions.
    async fn upsert_points(&self, versions: Vec<CurrentVersion>) -> Result<()> {
        if versions.is_empty() {
            return Ok(());
        }
        let points = self.points(Recipe::CURRENT, versions).await?;
        self.index.upsert(points).await?;
        Ok(())
    }

    /// The index points of these versions under `recipe`: its view texts, embedded (the
    /// library's search uses [`Recipe::CURRENT`]; `bench retrieval` compares others).
    pub async fn points(
        &self,
        recipe: Recipe,
        versions: Vec<CurrentVersion>,
    ) -> Result<Vec<IndexPoint>> {
        let texts: Vec<ViewTexts> = versions.iter().map(|v| recipe.texts(v)).collect();
        let mut vectors = self
            .embed(
                texts
                    .iter()
                    .flat_map(|t| [t.description.clone(), t.summary.clone()])
                    .collect(),
            )
            .await?
            .into_iter();
        Ok(versions
            .into_iter()
            .zip(texts)
            .map(|(v, t)| {
                let description = vectors.next().expect("two vectors per skill");
                let summary = vectors.next().expect("two vectors per skill");
                recipe.point(v, t, description, summary)
            })
            .collect())
    }
}
