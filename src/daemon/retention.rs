//! Journal retention: a daemon that runs for months prunes the journals of old episodes that
//! admitted nothing (`[episodes] keep_journals_days`), as `skillforge episodes prune` does.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::runtime::Runtime;

/// How often the daemon prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// `days` days as a duration (`keep_journals_days`, `episodes prune --older-than-days`);
/// `None` for a negative, infinite or NaN number.
pub fn days(days: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(days * 86_400.0).ok()
}

/// Prunes the journals of episodes that finished more than `keep` ago and admitted nothing,
/// now and every `period`, until `stopping`. A failed prune is logged and tried again at the
/// next period: the journals it would delete are still there, nothing is lost.
pub async fn prune_journals_every(
    keep: Duration,
    period: Duration,
    runtime: Runtime,
    stopping: CancellationToken,
) {
    loop {
        match runtime.prune_journals(keep).await {
            Ok(pruned) if pruned.episodes > 0 => tracing::info!(
                episodes = pruned.episodes,
                events = pruned.events,
                "pruned the journals of old episodes that admitted nothing"
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!("pruning old journals: {error}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stopping.cancelled() => return,
        }
    }
}
