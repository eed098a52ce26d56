//! Episode leases on the agent's side. An agent given an [`EpisodeLease`] holds the lease
//! ([`Lease`], the store's) of each episode it drives: taken in the transaction that
//! creates the episode or when it claims one to resume, renewed by a heartbeat while it
//! drives it, and checked in every transaction that writes the episode's journal. An
//! episode whose lease another process took over is stopped at once, and nothing more is
//! written to it. Resume claims each open episode first and leaves those it cannot claim
//! (another live process runs them).

use std::future::Future;
use std::time::Duration;

use super::AgentError;
use super::episode::Agent;
use super::journal::JournalEvent;
use crate::store::{EpisodeRecord, Lease, Tx};

/// How an agent leases the episodes it drives ([`Agent::with_lease`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeLease {
    /// The owner written on the episode rows and how long a hold lasts unrenewed.
    pub lease: Lease,
    /// How often the lease of an episode being driven is renewed (well under its duration).
    pub heartbeat: Duration,
    /// No other process can be running episodes of this store (a SQLite store under the
    /// data directory's lock), so every other owner's lease is stale: a restart resumes
    /// its predecessor's episodes at once instead of waiting for their leases to expire.
    pub others_stale: bool,
}

/// The error of an episode whose lease `record`'s owner holds now.
fn lost(record: EpisodeRecord) -> AgentError {
    AgentError::LeaseLost {
        episode: record.id,
        holder: record.owner.unwrap_or_else(|| "nobody".into()),
    }
}

impl Agent {
    /// Leases the episodes this agent drives with `lease`, so that several processes can
    /// share one store: each episode is driven by one of them at a time.
    pub fn with_lease(mut self, lease: EpisodeLease) -> Agent {
        self.lease = Some(lease);
        self
    }

    /// In `tx`, checks and renews this agent's lease on `episode`;
    /// [`AgentError::LeaseLost`] when another process holds it. Nothing without a lease.
    pub(super) async fn hold(&self, tx: &mut Tx, episode: &str) -> Result<(), AgentError> {
        let Some(leasing) = &self.lease else {
            return Ok(());
        };
        if tx.hold_episode(episode, &leasing.lease).await? {
            return Ok(());
        }
        Err(lost(tx.episode(episode).await?))
    }

    /// Runs `work`, the driving of `episode`, renewing its lease every heartbeat; when the
    /// lease turns out to be another's, `work` is dropped (it stops at its current step)
    /// and the result is [`AgentError::LeaseLost`].
    pub(super) async fn leased<T>(
        &self,
        episode: &str,
        work: impl Future<Output = Result<T, AgentError>>,
    ) -> Result<T, AgentError> {
        let Some(leasing) = &self.lease else {
            return work.await;
        };
        let store = self.library.store();
        let heartbeat = async {
            let mut beats = tokio::time::interval(leasing.heartbeat);
            beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            beats.tick().await;
            loop {
                beats.tick().await;
                match store.hold_episode(episode, &leasing.lease).await {
                    Ok(true) => {}
                    Ok(false) => match store.episode(episode).await {
                        Ok(record) if record.status.is_open() => return lost(record),
                        // Finished: `work` is returning.
                        Ok(_) => std::future::pending::<()>().await,
                        Err(e) => tracing::warn!("cannot read episode {episode}: {e}"),
                    },
                    // Tried again at the next beat. If the store stays away past the
                    // lease, another process may take the episode over, and then this
                    // one's next renewal or journal write finds it gone.
                    Err(e) => tracing::warn!("cannot renew the lease of episode {episode}: {e}"),
                }
            }
        };
        tokio::select! {
            result = work => result,
            lost = heartbeat => {
                tracing::warn!("{lost}");
                Err(lost)
            }
        }
    }

    /// Claims the open episode `record` to resume it: false when another live process
    /// runs it. Taking it from another owner (whose lease expired) is journalled.
    pub(super) async fn claim(&self, record: &EpisodeRecord) -> Result<bool, AgentError> {
        let Some(leasing) = &self.lease else {
            return Ok(true);
        };
        let mut tx = self.library.store().begin().await?;
        let before = tx.episode(&record.id).await?;
        if !tx
            .claim_episode(&record.id, &leasing.lease, leasing.others_stale)
            .await?
        {
            return Ok(false);
        }
        if let Some(from) = before.owner.filter(|o| *o != leasing.lease.owner) {
            tracing::info!(
                episode = record.id,
                from,
                "taking over an episode whose lease expired"
            );
            let (kind, payload) = JournalEvent::TakenOver {
                from,
                by: leasing.lease.owner.clone(),
                lease_expired_at: before.lease_expires_at,
            }
            .record();
            tx.append_event(&record.id, &kind, &payload).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
