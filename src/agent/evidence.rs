//! What counts as evidence for a verdict (issue 12): the task's check outranks the
//! model's own tests, a round that repeats earlier code is not run again, and reuse of a
//! skill for a task without a check needs more than the critic's bare yes.
//!
//! - **Model-written tests cannot veto the task.** When a skill's own tests fail while the
//!   task's check passes, the failing tests are *questioned*: the coder hears that they may
//!   be wrong, with each test and what the code did, and that the task's check passed. If
//!   the next round's code fails the same tests (by name) while the task's check passes,
//!   they are *dropped*: removed from the skill's JSDoc before it is validated again, and
//!   journalled. When none of the skill's own tests remain, the task's check becomes its
//!   tests (when they call the skill by its name); a skill is stored only with tests that
//!   pass.
//! - **Refinement that changes something.** A round's code is compared with every earlier
//!   round's, comments and whitespace aside and with its tests: a repeat is not run, and
//!   the next round is a fresh start ([`Strategy::FreshStart`](super::coder::Strategy)).
//! - **No reuse without evidence.** For a task with no check, a library skill (an exact or
//!   near duplicate of the attempt) is reused only if its description embeds within
//!   [`AgentConfig::reuse_similarity`](super::AgentConfig::reuse_similarity) of the task's
//!   and the critic, shown the skill's own code and name, says it does the task without
//!   describing another function ([`foreign_names`]).

use std::collections::HashSet;

use super::AgentError;
use super::critic::{critique, foreign_names};
use super::environment::check_passed;
use super::episode::{Agent, Run, Verdict};
use super::journal::{FailedTest, JournalEvent};
use super::prompts::{only_undefined_names, report_summary};
use super::task::Task;
use super::timing::Phase;
use crate::library::parse_stored;
use crate::skill::{SkillSource, TestCase};
use crate::store::Skill;
use crate::validate::TestReport;

impl Agent {
    /// The skill's own tests failed (`rejected` says how, `report` in full). When the task's
    /// check passes, the failing tests are questioned, or dropped when they were questioned
    /// before: `Ok(source)` is the skill without them, to validate again. Otherwise the
    /// round's verdict.
    pub(super) async fn overrule_tests(
        &self,
        run: &mut Run,
        round: u32,
        source: &SkillSource,
        rejected: String,
        report: TestReport,
    ) -> Result<Result<SkillSource, Verdict>, AgentError> {
        let check = {
            let _validation = run.clock.time(Phase::Validation);
            match self.library.bundle(source, &run.namespace).await {
                Ok(bundle) => Some(self.check(&bundle, &run.task).await?),
                Err(_) => None,
            }
        };
        let failing: Vec<FailedTest> = report
            .tests
            .iter()
            .filter(|t| !t.passed)
            .map(|t| FailedTest {
                name: t.name.clone(),
                failure: t
                    .failure
                    .as_ref()
                    .map_or_else(|| "failed".to_string(), |f| f.message.clone()),
            })
            .collect();
        let undefined = only_undefined_names(&report);
        let event = JournalEvent::SandboxRun {
            round,
            rejected: Some(rejected.clone()),
            tests: Some(report),
            task_check: check.clone(),
            dependents: Vec::new(),
        };
        self.log(run, event).await?;
        let Some(check) = check.filter(check_passed) else {
            run.undefined = undefined;
            self.verdict(run, round, false, &rejected).await?;
            return Ok(Err(Verdict::Retry(rejected)));
        };
        let new: Vec<FailedTest> = failing
            .iter()
            .filter(|t| !run.questioned.contains(&t.name))
            .cloned()
            .collect();
        if new.is_empty() {
            let names: HashSet<&str> = failing.iter().map(|t| t.name.as_str()).collect();
            if let Some((reduced, task_check_as_tests)) = without_tests(source, &names, &run.task) {
                let event = JournalEvent::TestsDropped {
                    round,
                    tests: failing,
                    task_check_as_tests,
                };
                self.log(run, event).await?;
                return Ok(Ok(reduced));
            }
        }
        let questioned = if new.is_empty() { &failing } else { &new };
        run.questioned
            .extend(questioned.iter().map(|t| t.name.clone()));
        let event = JournalEvent::TestsQuestioned {
            round,
            tests: questioned.clone(),
        };
        self.log(run, event).await?;
        let problems = questioning(source, &failing, &check);
        self.verdict(run, round, false, &problems).await?;
        Ok(Err(Verdict::Retry(problems)))
    }

    /// Whether a round's `print` (its code's [`fingerprint`], or its unusable reply's
    /// [`reply_fingerprint`]) repeats an earlier round's: then the round is refused unrun and
    /// the next one starts afresh; `problem` is what was wrong with it, if known. Otherwise
    /// the print is remembered.
    pub(super) async fn repeated(
        &self,
        run: &mut Run,
        round: u32,
        print: String,
        problem: &str,
    ) -> Result<Option<Verdict>, AgentError> {
        let earlier = run
            .fingerprints
            .iter()
            .find(|(r, p)| *r < round && *p == print)
            .map(|(r, _)| *r);
        let Some(of_round) = earlier else {
            if !run.fingerprints.iter().any(|(r, _)| *r == round) {
                run.fingerprints.push((round, print));
            }
            return Ok(None);
        };
        self.log(run, JournalEvent::Repeated { round, of_round })
            .await?;
        run.repeated = Some(of_round);
        run.repeats += 1;
        let problems = if problem.is_empty() {
            format!(
                "your last reply repeated round {of_round}'s code unchanged, so it was not run \
                 again; write a different implementation"
            )
        } else {
            format!(
                "your last reply repeated round {of_round}'s reply word for word, and no skill \
                 can be taken from it ({problem}); write a different answer"
            )
        };
        self.verdict(run, round, false, &problems).await?;
        Ok(Some(Verdict::Retry(problems)))
    }

    /// Why `skill` may not be reused for the run's task, which has no check: `None` when
    /// its description matches the task and the critic, shown its code and name, agrees.
    pub(super) async fn lacks_evidence(
        &self,
        run: &mut Run,
        round: u32,
        skill: &Skill,
    ) -> Result<Option<String>, AgentError> {
        let name = &skill.record.name;
        let texts = vec![
            run.task.description.clone(),
            skill.version.description.clone(),
        ];
        let vectors = {
            let _retrieval = run.clock.time(Phase::Retrieval);
            self.library.embed(texts).await?
        };
        let similarity: f32 = vectors[0].iter().zip(&vectors[1]).map(|(a, b)| a * b).sum();
        if similarity < self.config.reuse_similarity {
            return Ok(Some(format!(
                "its description ({:?}) does not match the task (similarity {similarity:.2}, \
                 below {:.2})",
                skill.version.description, self.config.reuse_similarity
            )));
        }
        if !self.config.critic {
            return Ok(Some(
                "the task has no check and no critic may confirm the skill does it".into(),
            ));
        }
        let source = parse_stored(skill)?;
        let report = {
            let _validation = run.clock.time(Phase::Validation);
            let bundle = self
                .library
                .bundle(&source, &skill.record.namespace)
                .await?;
            let mut reports = self
                .library
                .run_tests(vec![(bundle, source.clone())])
                .await?;
            reports.pop().unwrap_or_else(|| TestReport {
                skill: name.clone(),
                tests: Vec::new(),
                call_graph: Vec::new(),
            })
        };
        let judged = {
            let _llm = run.clock.time(Phase::Llm);
            critique(
                self.model.as_ref(),
                &run.task,
                name,
                &skill.version.code,
                &report,
            )
            .await
        };
        let judged = match judged {
            Ok(judged) => judged,
            Err(AgentError::NoVerdict { exchange, detail }) => {
                self.exchange(run, &exchange, Some(round)).await?;
                return Ok(Some(format!("the critic gave no verdict: {detail}")));
            }
            Err(e) => return Err(e),
        };
        self.critique_objection(run, round, &judged, name, &skill.version.code)
            .await
    }
}

/// Why a critic's verdict on the function `name` (`code`) is not a yes, if it is not.
pub(super) fn critic_says_no(
    success: bool,
    feedback: &str,
    name: &str,
    code: &str,
) -> Option<String> {
    if !success {
        return Some(format!(
            "a reviewer says the skill does not do the task: {feedback}"
        ));
    }
    let foreign = foreign_names(feedback, code);
    (!foreign.is_empty()).then(|| {
        format!(
            "a reviewer approved, but described {}, which the code of `{name}` does not \
             contain; that is no verdict on this skill. Write the function the task asks for",
            foreign
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// What the coder hears about tests that fail while the task's check passes.
fn questioning(source: &SkillSource, failing: &[FailedTest], check: &TestReport) -> String {
    let mut text = String::from(
        "The skill's own tests fail, but the task's check passes, so these tests may be wrong:",
    );
    for test in failing {
        let written = source
            .tests
            .iter()
            .find(|t| t.name() == test.name)
            .map_or_else(|| test.name.clone(), TestCase::written);
        text.push_str(&format!("\n- test `{written}`: {}", test.failure));
    }
    text.push_str(&format!(
        "\nThe task's check passed: {}.\nIf a test is wrong, fix or remove it; if the code is \
         wrong, fix the code. A test that fails again while the task's check passes is dropped.",
        report_summary(check)
    ));
    text
}

/// The code of a skill as refinement compares rounds: comments and whitespace removed, then
/// its tests (which live in the comments).
pub(super) fn fingerprint(source: &SkillSource) -> String {
    let mut print = strip_comments_and_space(&source.code);
    for test in &source.tests {
        print.push('\n');
        print.push_str(&strip_comments_and_space(&test.to_js()));
    }
    print
}

/// A reply from which no skill could be taken, as refinement compares rounds: its text
/// without whitespace (marked, so that it never equals a code fingerprint).
pub(super) fn reply_fingerprint(reply: &str) -> String {
    let text: String = reply.split_whitespace().collect();
    format!("reply:{text}")
}

/// `code` without comments and without whitespace outside string literals.
fn strip_comments_and_space(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                out.push(c);
                while let Some(s) = chars.next() {
                    out.push(s);
                    if s == '\\' {
                        out.extend(chars.next());
                    } else if s == c {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                for s in chars.by_ref() {
                    if s == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut last = ' ';
                for s in chars.by_ref() {
                    if last == '*' && s == '/' {
                        break;
                    }
                    last = s;
                }
            }
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// `source` without the tests named in `drop` (their `@example`/`@test` tags removed from
/// its JSDoc), and whether the task's check had to become its tests because none of its
/// own remained. `None` when that cannot be done faithfully: the tags do not map one to one
/// onto its tests, or the task's check does not call the skill by its name.
pub(super) fn without_tests(
    source: &SkillSource,
    drop: &HashSet<&str>,
    task: &Task,
) -> Option<(SkillSource, bool)> {
    let lines: Vec<&str> = source.code.lines().collect();
    let tag = |line: &str| {
        let line = line.trim_start().trim_start_matches('*').trim_start();
        line.starts_with('@')
            .then(|| line.starts_with("@example") || line.starts_with("@test"))
    };
    // Each test tag's lines: from its tag to the next tag or the comment's end.
    let mut blocks: Vec<(usize, usize)> = Vec::new();
    let mut open: Option<usize> = None;
    for (i, line) in lines.iter().enumerate() {
        let ends = line.trim_start().starts_with("*/") || line.contains("*/");
        let is_tag = tag(line);
        if let Some(start) = open
            && (is_tag.is_some() || line.trim_start().starts_with("*/"))
        {
            blocks.push((start, i));
            open = None;
        }
        if is_tag == Some(true) {
            if ends {
                blocks.push((i, i + 1));
            } else {
                open = Some(i);
            }
        }
    }
    if blocks.len() != source.tests.len() {
        return None;
    }
    let kept: Vec<&TestCase> = source
        .tests
        .iter()
        .filter(|t| !drop.contains(t.name()))
        .collect();
    let removed: HashSet<usize> = blocks
        .iter()
        .zip(&source.tests)
        .filter(|(_, t)| drop.contains(t.name()))
        .flat_map(|((start, end), _)| *start..*end)
        .collect();
    let first = blocks.first()?.0;
    let indent = &lines[first][..lines[first].find('*')?];
    let from_task = kept.is_empty();
    if from_task
        && (task.tests.is_empty() || task.name.as_deref().is_some_and(|n| n != source.name))
    {
        return None;
    }
    let mut code = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if i == first && from_task {
            for test in &task.tests {
                code.push(match test {
                    TestCase::Example { call, expected, .. } => {
                        format!("{indent}* @example {call} => {expected}")
                    }
                    TestCase::Assert { name, code } => format!(
                        "{indent}* @test {name}: {}",
                        code.replace('\n', &format!("\n{indent}*   "))
                    ),
                });
            }
        }
        if !removed.contains(&i) {
            code.push(line.to_string());
        }
    }
    let reduced = SkillSource::parse(&code.join("\n"), Some(&source.name)).ok()?;
    let expected: Vec<&str> = if from_task {
        task.tests.iter().map(TestCase::name).collect()
    } else {
        kept.iter().map(|t| t.name()).collect()
    };
    let got: Vec<&str> = reduced.tests.iter().map(TestCase::name).collect();
    (got == expected).then_some((reduced, from_task))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: &str = "/**\n * The largest element.\n * @param {number[]} xs\n * @example maxElement([1, 3, 2]) => 3\n * @test empty list: assert.equal(maxElement([]), 0);\n * @example maxElement([-1]) => -1\n */\nfunction maxElement(xs) {\n  return Math.max(...xs); // spread\n}";

    #[test]
    fn fingerprints_ignore_comments_and_whitespace_but_not_code_or_tests() {
        let source = SkillSource::parse(MAX, None).unwrap();
        let spaced = MAX
            .replace("Math.max(...xs); // spread", "Math.max( ...xs );")
            .replace("The largest element.", "Returns the largest element.");
        let same = SkillSource::parse(&spaced, None).unwrap();
        assert_eq!(fingerprint(&source), fingerprint(&same));
        let other_code = SkillSource::parse(&MAX.replace("...xs", "...xs, 0"), None).unwrap();
        assert_ne!(fingerprint(&source), fingerprint(&other_code));
        let other_test =
            SkillSource::parse(&MAX.replace("[-1]) => -1", "[-2]) => -2"), None).unwrap();
        assert_ne!(fingerprint(&source), fingerprint(&other_test));
        let string = SkillSource::parse(&MAX.replace("...xs", "...xs, ' a'.length"), None);
        let spaced_string = SkillSource::parse(&MAX.replace("...xs", "...xs, 'a'.length"), None);
        assert_ne!(
            fingerprint(&string.unwrap()),
            fingerprint(&spaced_string.unwrap())
        );
    }

    #[test]
    fn dropping_tests_removes_their_tags_and_falls_back_to_the_task_check() {
        let source = SkillSource::parse(MAX, None).unwrap();
        let task = Task::from_user("largest element")
            .with_name("maxElement")
            .with_example("maxElement([5, 1])", "5");
        let (reduced, from_task) =
            without_tests(&source, &HashSet::from(["empty list"]), &task).unwrap();
        assert!(!from_task);
        let names: Vec<&str> = reduced.tests.iter().map(TestCase::name).collect();
        assert_eq!(names, ["maxElement([1, 3, 2])", "maxElement([-1])"]);
        assert!(!reduced.code.contains("empty list"), "{}", reduced.code);

        let all = HashSet::from(["empty list", "maxElement([1, 3, 2])", "maxElement([-1])"]);
        let (reduced, from_task) = without_tests(&source, &all, &task).unwrap();
        assert!(from_task);
        assert!(
            reduced
                .code
                .contains(" * @example maxElement([5, 1]) => 5\n"),
            "{}",
            reduced.code
        );
        assert_eq!(reduced.tests.len(), 1);
        // The task's check calls another name: it cannot stand for the skill's tests.
        let other = Task::from_user("largest")
            .with_name("biggest")
            .with_example("biggest([1])", "1");
        assert!(without_tests(&source, &all, &other).is_none());
    }
}
