//! The repair of a call to a name nothing defines.
//!
//! A small model shown a library function often calls another name for it: with
//! `craftBirchPlanks()` listed, the 1.5B model wrote "the library lists craftBirchPlanks():
//! call it" in a comment and called the worked example's `craftOakPlanks()` on the next line,
//! round after round (docs/benchmarks.md). When a round's code is refused only for such calls
//! (every failing test stopped on a name nothing defines) and a retrieved skill's name is the
//! closest to the undefined one ([`relevance::closest_name`], the function the refusal
//! names), the round's code is judged once more with that name in its place, and with each
//! string that says exactly what the old name is about (`"oak planks"` beside
//! `craftOakPlanks()`) saying what the new one is about: a wrong call comes with the wrong
//! item around it. The repaired code is journalled as a second attempt of the same round,
//! with a note of what was renamed, so that resume takes it up as any attempt.
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

/// How the note of a repaired attempt starts; what was renamed follows.
const REPAIRED: &str = "repaired: ";

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
        let mut strings = subjects_renamed(&renames);
        let repaired = match source.with_references_renamed(&renames, &strings) {
            Ok((repaired, replaced)) => {
                strings.retain(|from, _| replaced.contains(from));
                repaired
            }
            Err(e) => {
                tracing::warn!("the repair of round {round}'s code does not parse: {e}");
                return Ok(Verdict::Retry(problems));
            }
        };
        let renamed = said(&renames, &strings);
        let outcome = AttemptOutcome::Code {
            skill: repaired.name.clone(),
            code: repaired.code.clone(),
            notes: vec![format!("{REPAIRED}{renamed}")],
        };
        self.log(run, JournalEvent::Attempt { round, outcome })
            .await?;
        run.fingerprints.push((round, fingerprint(&repaired)));
        tracing::info!("repairing round {round}'s code: {renamed}");
        match self.evaluate(run, round, &repaired).await? {
            Verdict::Retry(after) => {
                let problems = format!(
                    "{problems}\nYour code was also run with {renamed}, and it failed: {}",
                    shortened(&after)
                );
                self.verdict(run, round, false, &problems).await?;
                Ok(Verdict::Retry(problems))
            }
            passed => {
                run.repaired = Some(renamed);
                Ok(passed)
            }
        }
    }
}

/// What a repair renamed, from the notes of the attempt it journalled; `None` for an
/// attempt of the model's own.
pub(super) fn repaired_in(notes: &[String]) -> Option<String> {
    notes
        .iter()
        .find_map(|note| note.strip_prefix(REPAIRED))
        .map(String::from)
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

/// For each rename, what the name it replaces is about to what the new one is about, when
/// they differ (`craftOakPlanks` to `craftBirchPlanks`: "oak planks" to "birch planks"): the
/// code's strings that say the one are made to say the other, since a call of the wrong
/// function comes with the wrong item in the code around it
/// (`while (carried("oak planks") < 1) craftOakPlanks();`).
fn subjects_renamed(renames: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    renames
        .iter()
        .map(|(from, to)| {
            (
                relevance::subject_phrase(from),
                relevance::subject_phrase(to),
            )
        })
        .filter(|(from, to)| !from.is_empty() && !to.is_empty() && from != to)
        .collect()
}

/// The renames as the coder and the journal read them.
fn said(renames: &BTreeMap<String, String>, strings: &BTreeMap<String, String>) -> String {
    let names = renames
        .iter()
        .map(|(from, to)| format!("`{to}` called where it called `{from}`"));
    let strings = strings
        .iter()
        .map(|(from, to)| format!("\"{to}\" where it said \"{from}\""));
    names.chain(strings).collect::<Vec<_>>().join(", ")
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
        let strings = subjects_renamed(&renames);
        assert_eq!(
            said(&renames, &strings),
            "`craftBirchPlanks` called where it called `craftOakPlanks`, \"birch planks\" \
             where it said \"oak planks\""
        );
        let same = BTreeMap::from([("getDouble".into(), "double".into())]);
        assert!(subjects_renamed(&same).is_empty());
        assert_eq!(shortened("first\nsecond"), "first");
        let long = "é".repeat(MAX_REPAIR_PROBLEM + 5);
        assert_eq!(
            shortened(&long),
            format!("{} ...", "é".repeat(MAX_REPAIR_PROBLEM))
        );
    }
}
