//! The duplicate policy: when an attempt is answered by a skill the library already has.
//!
//! - An **exact duplicate** (same code and tests as a stored version) is the answer if it
//!   passes the task's check; otherwise the coder hears that it rewrote a skill that fails.
//! - A skill taken out of use (quarantined or deprecated) is neither reused nor given a new
//!   version by the agent: an attempt that duplicates or replaces one is sent back.
//! - A **near duplicate** is an active skill of the namespace whose description embeds within
//!   [`AgentConfig::duplicate_similarity`](super::AgentConfig::duplicate_similarity) of the
//!   new one's, that passes the new skill's tests and the task's check (called under the new
//!   name), and whose own tests the new skill passes (called under the old name). It is
//!   reused instead of admitting the new skill. Similar words with other behaviour fail one
//!   of the checks, and the new skill is admitted.
//!
//! For a task with no programmatic check, either kind of duplicate is reused only with the
//! evidence `evidence.rs` asks for (a matching description and the critic's yes on the
//! skill's own code and name); a near duplicate without it does not stop the new skill. For
//! a task whose check is only examples, an exact duplicate is cross-checked as an attempt
//! would be (`cross_check.rs`): an independent solution that disagrees sends it back, and
//! with no evidence either way it is reused unverified.
//!
//! Stats: a task check of an existing skill counts as a call of it, a success or a miss (not
//! this task's answer); a near duplicate that is taken counts as a success. A candidate that
//! fails another skill's tests is not counted as a failure: those tests are not its
//! specification.

use super::AgentError;
use super::cross_check::Corroboration;
use super::environment::check_passed;
use super::episode::{Agent, Run, Verdict, qualified};
use super::prompts::report_summary;
use crate::compose::Bundle;
use crate::index::SearchFilter;
use crate::library::{Prepared, parse_stored};
use crate::store::{Skill, SkillStatus};
use crate::validate::TestReport;

impl Agent {
    /// The attempt is exactly a skill the library has: that skill is the answer if it passes
    /// the task's check; otherwise the coder hears why.
    pub(super) async fn reuse_if_it_solves(
        &self,
        run: &mut Run,
        round: u32,
        skill: Skill,
    ) -> Result<Verdict, AgentError> {
        if skill.record.status != SkillStatus::Active {
            return self.refuse_inactive(run, round, &skill).await;
        }
        let name = qualified(&skill);
        let source = parse_stored(&skill)?;
        let (bundle, check) = {
            let _validation = run.clock.time(super::timing::Phase::Validation);
            let bundle = self
                .library
                .bundle(&source, &skill.record.namespace)
                .await?;
            let check = self.check(&bundle, &run.task).await?;
            self.library.record_trial(skill.record.id, &check).await?;
            (bundle, check)
        };
        // Issue 12: a task without a check passes any skill; reuse needs evidence.
        if check_passed(&check)
            && run.task.tests.is_empty()
            && let Some(why) = self.lacks_evidence(run, round, &skill).await?
        {
            let problems = format!(
                "this is exactly the library's {name}, and nothing shows it does this task: \
                 {why}. Write a function that does the task"
            );
            self.verdict(run, round, false, &problems).await?;
            return Ok(Verdict::Retry(problems));
        }
        if check_passed(&check) {
            // Issue 12: a check of a few examples is weak evidence, as for an admission.
            run.unverified = None;
            match self.cross_check(run, round, &source, &bundle).await? {
                Corroboration::Keep => {}
                Corroboration::Unverified(why) => run.unverified = Some(why),
                Corroboration::Disputed(why) => {
                    let problems = format!(
                        "this is exactly the library's {name}, and it may not do this task: \
                         {why}. Write a function that does the task"
                    );
                    self.verdict(run, round, false, &problems).await?;
                    return Ok(Verdict::Retry(problems));
                }
            }
            self.verdict(run, round, true, &format!("identical to {name}"))
                .await?;
            return Ok(Verdict::Existing(Box::new(skill)));
        }
        let problems = format!(
            "this is exactly the library's {name}, which fails the task's check:\n{}",
            report_summary(&check)
        );
        self.verdict(run, round, false, &problems).await?;
        Ok(Verdict::Retry(problems))
    }

    /// Sends back an attempt that is, or would replace, a skill taken out of use
    /// (quarantined or deprecated): the agent neither reuses nor rewrites it.
    pub(super) async fn refuse_inactive(
        &self,
        run: &Run,
        round: u32,
        skill: &Skill,
    ) -> Result<Verdict, AgentError> {
        let problems = format!(
            "the library's {} is {} and may not be used or replaced; write the skill under \
             another name, without calling it",
            qualified(skill),
            skill.record.status
        );
        self.verdict(run, round, false, &problems).await?;
        Ok(Verdict::Retry(problems))
    }

    /// An active skill that behaves like the prepared one (see the module documentation).
    pub(super) async fn near_duplicate(
        &self,
        run: &Run,
        prepared: &Prepared,
    ) -> Result<Option<Skill>, AgentError> {
        let new = &prepared.source;
        let filter = SearchFilter {
            namespace: Some(prepared.namespace.clone()),
            statuses: vec![SkillStatus::Active],
        };
        let candidates: Vec<Skill> = self
            .library
            .search(&new.description, 3, filter)
            .await?
            .into_iter()
            .map(|hit| hit.skill)
            .filter(|existing| {
                let name = &existing.record.name;
                *name != new.name
                    && existing.version.runnable
                    && !prepared.bundle.dependencies.contains(name)
            })
            .collect();
        if candidates.is_empty() {
            return Ok(None);
        }
        // One embedding call: the new description first, then each candidate's.
        let mut texts = vec![new.description.clone()];
        texts.extend(candidates.iter().map(|c| c.version.description.clone()));
        let vectors = self.library.embed(texts).await?;
        for (existing, vector) in candidates.into_iter().zip(&vectors[1..]) {
            let similarity: f32 = vectors[0].iter().zip(vector).map(|(a, b)| a * b).sum();
            if similarity < self.config.duplicate_similarity {
                continue;
            }
            let old = parse_stored(&existing)?;
            let Ok(old_bundle) = self.library.bundle(&old, &prepared.namespace).await else {
                continue;
            };
            // The existing skill, answering to the new name, against the new tests; and the
            // new skill, answering to the old name, against the old tests.
            let old_as_new = aliased(&old_bundle, &new.name);
            let new_as_old = aliased(&prepared.bundle, &old.name);
            let reports = self
                .library
                .run_tests(vec![(old_as_new, new.clone()), (new_as_old, old.clone())])
                .await?;
            let task_check = self.check(&old_bundle, &run.task).await?;
            if reports.iter().all(TestReport::all_passed) && check_passed(&task_check) {
                let mut ran = reports[0].clone();
                ran.tests.extend(task_check.tests);
                self.library.record_run(existing.record.id, &ran).await?;
                return Ok(Some(existing));
            }
        }
        Ok(None)
    }
}

/// `bundle` plus a function `alias` that forwards to its root.
fn aliased(bundle: &Bundle, alias: &str) -> Bundle {
    let mut aliased = bundle.clone();
    aliased.source.push_str(&format!(
        "\nfunction {alias}(...args) {{ return {}(...args); }}\n",
        bundle.root
    ));
    aliased.root = alias.to_string();
    aliased
}
