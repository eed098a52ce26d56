//! Resuming episodes a crash, a kill or an error left unfinished, without letting one wedge
//! the loop.
//!
//! [`Agent::resume_unfinished`] reads each open episode's journal ([`Position::of`]):
//! retrieval results are reused; an attempt that passed (or was never judged) but whose
//! admission never committed is validated and admitted again, for the function its round
//! chose, without asking the coder again; otherwise the next round starts with the last
//! feedback. A run of an episode that stops on an error (an unreadable journal, a library or
//! model failure) journals the error as an `interrupted` event and leaves the episode
//! `interrupted`, to be resumed by the next run; after
//! [`AgentConfig::max_interruptions`](super::AgentConfig::max_interruptions) such stops it
//! is abandoned as `failed`, with its reasons in the journal. An agent with a lease
//! (`lease.rs`) resumes only the episodes it can claim, and an interrupted episode keeps its
//! lease until it runs out, so another process retries it no sooner than that.

use super::AgentError;
use super::episode::{Agent, EpisodeReport, Run};
use super::journal::{JournalEvent, Position};
use super::task::Task;
use super::timing::Clock;
use crate::store::{EpisodeRecord, EpisodeStatus};

impl Agent {
    /// Finishes every episode left open (`running` after a crash or a kill, or
    /// `interrupted`), oldest first, from where its journal says it stopped. An episode
    /// whose resume fails is interrupted (or abandoned) and the others go on; only a store
    /// that cannot record that is an error. With a lease ([`Agent::with_lease`]), only the
    /// episodes it can claim: free, or whose lease has expired.
    pub async fn resume_unfinished(&self) -> Result<Vec<EpisodeReport>, AgentError> {
        let mut reports = Vec::new();
        for record in self.library.store().unfinished_episodes().await? {
            if !self.claim(&record).await? {
                continue;
            }
            let id = record.id.clone();
            match self.resume(record).await {
                Ok(report) => reports.push(report),
                Err(error @ AgentError::LeaseLost { .. }) => {
                    tracing::warn!("episode {id} could not be resumed: {error}")
                }
                Err(error) => {
                    tracing::warn!("episode {id} could not be resumed: {error}");
                    self.interrupt(&id, &error).await?;
                }
            }
        }
        Ok(reports)
    }

    async fn resume(&self, record: EpisodeRecord) -> Result<EpisodeReport, AgentError> {
        let task: Task = serde_json::from_value(record.task.clone()).map_err(|e| {
            AgentError::Journal(format!("episode {} holds no task: {e}", record.id))
        })?;
        let events = self.library.store().episode_events(&record.id).await?;
        let position = Position::of(&events)?;
        tracing::info!(
            "resuming episode {} after round {}",
            record.id,
            position.rounds_done
        );
        let id = record.id.clone();
        let run = Run::new(record.id, task, position.rounds_done, true, Clock::start());
        self.leased(&id, self.drive(run, position)).await
    }

    /// Drives a new episode; on an error, interrupts it (see [`Agent::interrupt`]) and
    /// returns the error.
    pub(super) async fn drive_or_interrupt(
        &self,
        run: Run,
        position: Position,
    ) -> Result<EpisodeReport, AgentError> {
        let id = run.id.clone();
        match self.leased(&id, self.drive(run, position)).await {
            Ok(report) => Ok(report),
            // Another process runs it now.
            Err(error @ AgentError::LeaseLost { .. }) => Err(error),
            Err(error) => {
                if let Err(e) = self.interrupt(&id, &error).await {
                    tracing::warn!("episode {id} stays running: {e}");
                }
                Err(error)
            }
        }
    }

    /// Journals why a run of episode `id` stopped and marks it `interrupted`, or abandons it
    /// as `failed` once it has stopped `max_interruptions` times.
    async fn interrupt(&self, id: &str, error: &AgentError) -> Result<(), AgentError> {
        let store = self.library.store();
        let mut tx = store.begin().await?;
        match self.hold(&mut tx, id).await {
            // Another process runs it now: not this one's to interrupt.
            Err(AgentError::LeaseLost { .. }) => return Ok(()),
            other => other?,
        }
        let (kind, payload) = JournalEvent::Interrupted {
            error: error.to_string(),
        }
        .record();
        tx.append_event(id, &kind, &payload).await?;
        let events = tx.episode_events(id).await?;
        let stops = events.iter().filter(|e| e.kind == kind).count();
        if stops >= self.config.max_interruptions as usize {
            tracing::warn!("abandoning episode {id} after {stops} interrupted runs: {error}");
            let outcome = serde_json::json!({
                "abandoned": format!("{stops} runs stopped on an error; the last: {error}"),
            });
            tx.finish_episode(id, EpisodeStatus::Failed, &outcome)
                .await?;
        } else {
            tx.interrupt_episode(id).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
