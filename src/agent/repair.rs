//! The repair of a call to a name nothing defines.
//!
//! A small model shown a library function often calls another name for it: with
//! `craftBirchPlanks()` listed, the 1.5B model wrote "the library lists craftBirchPlanks():
//! call it" in a comment and called the worked example's `craftOakPlanks()` on the next line,
//! round after round (docs/benchmarks.md). When a round's code is refused only for such calls
//! (every failing test stopped on a name nothing defines) and a retrieved skill's name is the
//! closest to the undefined one ([`relevance::closest_name`], the function the refusal
//! names), the round's code is judged once more with that name in its place. The repaired
//! code is journalled as a second attempt of the same round, with a note of what was renamed,
//! so that resume takes it up as any attempt.
//!
//! Only for a task with a check: the check, not the guess, decides whether the repaired code
//! does the task. A repair that fails leaves the round refused, and the coder hears the
//! original refusal and a line on what the repair came to.

use std::collections::BTreeMap;

use super::AgentError;
use super::episode::{Agent, Run, Verdict};
use super::evidence::fingerprint;
use super::journal::{AttemptOutcome, JournalEvent};
use super::relevance;
use crate::skill::SkillSource;

/// Longest part of a failed repair's refusal the coder is told, in characters.
const MAX_REPAIR_PROBLEM: usize = 300;

impl Agent {
    /// Judges `source` ([`Agent::evaluate`]) and, when it is refused only for calling names
    /// nothing defines that retrieved skills' names are close to, its repair.
    pub(super) async fn evaluate_or_repair(
        &self,
        run: &mut Run,
        round: u32,
        source: &SkillSource,
    ) -> Result<Verdict, AgentError> {
        run.undefined.clear();
        let verdict = self.evaluate(run, round, source).await?;
        let undefined = std::mem::take(&mut run.undefined);
        let Verdict::Retry(problems) = verdict else {
            return Ok(verdict);
        };
        if !self.config.repair || run.task.tests.is_empty() {
            return Ok(Verdict::Retry(problems));
        }
        let renames = closest_retrieved(&undefined, run);
        if renames.is_empty() {
            return Ok(Verdict::Retry(problems));
        }
        let repaired = match source.with_references_renamed(&renames) {
            Ok(repaired) => repaired,
            Err(e) => {
                tracing::warn!("the repair of round {round}'s code does not parse: {e}");
                return Ok(Verdict::Retry(problems));
            }
        };
        let outcome = AttemptOutcome::Code {
            skill: repaired.name.clone(),
            code: repaired.code.clone(),
            notes: vec![format!("repaired: {}", said(&renames))],
        };
        self.log(run, JournalEvent::Attempt { round, outcome })
            .await?;
        run.fingerprints.push((round, fingerprint(&repaired)));
        tracing::info!("repairing round {round}'s code: {}", said(&renames));
        match self.evaluate(run, round, &repaired).await? {
            Verdict::Retry(after) => {
                let problems = format!(
                    "{problems}\nYour code was also run with {}, and it failed: {}",
                    said(&renames),
                    shortened(&after)
                );
                self.verdict(run, round, false, &problems).await?;
                Ok(Verdict::Retry(problems))
            }
            passed => Ok(passed),
        }
    }
}

/// Each of the `undefined` names with the retrieved skill's name closest to it, for those
/// that have one.
fn closest_retrieved(undefined: &[String], run: &Run) -> BTreeMap<String, String> {
    let library: Vec<&str> = run
        .retrieved
        .iter()
        .map(|s| s.record.name.as_str())
        .collect();
    undefined
        .iter()
        .filter_map(|name| {
            let closest = relevance::closest_name(name, &library)?;
            Some((name.clone(), closest.to_string()))
        })
        .collect()
}

/// The renames as the coder and the journal read them.
fn said(renames: &BTreeMap<String, String>) -> String {
    renames
        .iter()
        .map(|(from, to)| format!("`{to}` called where it called `{from}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first line of a refusal, at most [`MAX_REPAIR_PROBLEM`] characters of it.
fn shortened(problems: &str) -> String {
    let line = problems.lines().next().unwrap_or_default();
    match line.char_indices().nth(MAX_REPAIR_PROBLEM) {
        Some((end, _)) => format!("{} ...", &line[..end]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_repair_is_told_in_one_short_line() {
        let renames = BTreeMap::from([("craftOakPlanks".into(), "craftBirchPlanks".into())]);
        assert_eq!(
            said(&renames),
            "`craftBirchPlanks` called where it called `craftOakPlanks`"
        );
        assert_eq!(shortened("first\nsecond"), "first");
        let long = "é".repeat(MAX_REPAIR_PROBLEM + 5);
        assert_eq!(
            shortened(&long),
            format!("{} ...", "é".repeat(MAX_REPAIR_PROBLEM))
        );
    }
}
