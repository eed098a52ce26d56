//! Cross-checking a skill whose task's check is only a few examples (issue 12): weak
//! evidence is strengthened by agreement before the skill counts as verified.
//!
//! A check made of a handful of `call => expected` examples (a prompt's doctests, a user's
//! examples, the curriculum's) can be passed by wrong code. When a skill passes such a check,
//! the agent asks the coder again, afresh (no earlier code, a higher temperature:
//! [`Strategy::CrossCheck`]), for an independent candidate; a candidate counts only if it too
//! passes the task's check. Both run in the sandbox on *probe* inputs: the arguments of the
//! examples (the task's and the skill's own), captured by running the example calls against
//! a recording function, and mutations of them by type (strings emptied, reversed, sorted,
//! doubled, cut; numbers 0, ±1, negated, off by one, large; arrays emptied, cut to one,
//! reversed, sorted, doubled; arguments swapped or taken from another example).
//!
//! The candidates come from the coder's model, or from a second model when one is given
//! ([`Agent::with_cross_check_model`]): two samples of one small model often share a
//! misreading of the task, and then agree on a wrong skill.
//!
//! - The first candidate that behaves the same on every probe **corroborates** the skill: it
//!   is admitted as before. A candidate with the skill's own code is no evidence (the model
//!   repeating itself, mistakes included): the next is asked for a different implementation
//!   ([`Strategy::CrossCheckAnew`]).
//! - A candidate that behaves otherwise is a disagreement, and it ends the cross-check: the
//!   skill is admitted **unverified** (its provenance says `unchecked`, as for a task without
//!   a check), the journal saying on which input the two differed. The skill stays as the
//!   loop wrote it: more candidates could only vote, and a majority of samples from one
//!   model can share a mistake either way (docs/benchmarks.md: a wrong skill won such a vote,
//!   and two dissenters agreeing on the same mistake once replaced a right skill).
//! - No evidence either way (no candidate passed the examples or differed from the skill's
//!   code, the model failed, or no probe could be made): the skill is admitted unverified
//!   too. Nothing speaks against it, but nothing beyond a few examples speaks for it.
//!
//! A library skill that passes such a check is cross-checked the same way before it is
//! reused as the answer: a disagreement means it is not reused (it may do something else
//! that the examples do not tell apart), no evidence means it is reused unverified.
//!
//! Tasks with a strong check (an assertion such as a suite's own tests, or an environment's
//! check) and environments whose skills act are never cross-checked: re-running an acting
//! skill outside its world proves nothing.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AgentError;
use super::coder::{SkillBrief, Strategy, write_skill_with};
use super::environment::check_passed;
use super::episode::{Agent, Run};
use super::evidence::fingerprint;
use super::journal::JournalEvent;
use super::timing::Phase;
use crate::compose::Bundle;
use crate::sandbox::{Call, Capabilities, FailureKind, Limits};
use crate::skill::{SkillSource, TestCase};

/// How the agent cross-checks a skill whose task's check is only examples. Plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossCheck {
    /// Independent candidates asked for at most, per admission (0: never cross-check).
    pub candidates: u32,
    /// Probe inputs run at most, the examples' own included.
    pub probes: usize,
    /// Wall-clock limit of one probe call (the library's, if lower).
    pub probe_timeout: Duration,
}

impl Default for CrossCheck {
    fn default() -> Self {
        Self {
            candidates: 2,
            probes: 40,
            probe_timeout: Duration::from_secs(2),
        }
    }
}

impl CrossCheck {
    /// No cross-check: a skill that passes its task's examples is admitted as verified.
    pub fn off() -> Self {
        Self {
            candidates: 0,
            ..Self::default()
        }
    }
}

/// What one independent candidate came to, as the journal records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CandidateResult {
    /// No skill could be taken from the reply, or the model call failed.
    Unusable {
        /// Why.
        reason: String,
    },
    /// The candidate fails the task's check: it is no evidence either way.
    FailsCheck {
        /// The check's summary.
        reason: String,
    },
    /// Its code is the skill's (comments and whitespace aside): no evidence either way.
    SameCode,
    /// It behaved like the skill on every probe (resource failures aside).
    Agrees,
    /// It behaved otherwise on some probes.
    Disagrees {
        /// Probes on which it differed from the skill.
        probes: usize,
        /// The first of them.
        first: Disagreement,
    },
}

/// One input on which two candidates behaved differently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disagreement {
    /// The call, `name(args)`.
    pub call: String,
    /// What the skill did: the value's JSON, or `throws`.
    pub skill: String,
    /// What the candidate did.
    pub candidate: String,
}

/// How a cross-check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossCheckOutcome {
    /// An independent candidate agreed: the skill is admitted as verified.
    Corroborated,
    /// Two candidates that disagreed with the skill agreed with each other, and theirs was
    /// admitted instead. Only in journals of earlier versions, which replaced a skill this
    /// way; read so that those journals still load.
    Replaced,
    /// A candidate disagreed with the skill: admitted unverified.
    Unverified,
    /// No evidence either way (no candidate that passes the check with code of its own, or
    /// no probe): admitted unverified.
    Inconclusive,
}

/// What a cross-check found out about the skill.
pub(super) enum Corroboration {
    /// Nothing against it: corroborated, or not cross-checked at all (a strong check).
    Keep,
    /// An independent solution that passes the same check behaves otherwise, as this says.
    /// An attempt is admitted marked unverified; a library skill is not reused.
    Disputed(String),
    /// No evidence either way, for this reason: an attempt is admitted, a library skill
    /// reused, marked unverified.
    Unverified(String),
}

/// One behaviour of a candidate on one probe.
#[derive(Debug, Clone, PartialEq)]
enum Behaviour {
    /// It returned this value.
    Returns(Value),
    /// It threw.
    Throws,
    /// It ran out of time, fuel, memory or stack: no answer to compare.
    NoAnswer,
}

impl Behaviour {
    /// Whether two behaviours differ (a probe without an answer differs from nothing).
    fn differs(&self, other: &Behaviour) -> bool {
        match (self, other) {
            (Behaviour::NoAnswer, _) | (_, Behaviour::NoAnswer) => false,
            (Behaviour::Returns(a), Behaviour::Returns(b)) => !same_value(a, b),
            (Behaviour::Throws, Behaviour::Throws) => false,
            _ => true,
        }
    }

    fn describe(&self) -> String {
        match self {
            Behaviour::Returns(value) => value.to_string(),
            Behaviour::Throws => "throws".into(),
            Behaviour::NoAnswer => "no answer".into(),
        }
    }
}

/// JSON values equal, numbers within a relative 1e-9 (two right ways of computing a float
/// differ in the last bits).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(xs), Value::Object(ys)) => {
            xs.len() == ys.len()
                && xs
                    .iter()
                    .all(|(k, x)| ys.get(k).is_some_and(|y| same_value(x, y)))
        }
        _ => a == b,
    }
}

impl Agent {
    /// Cross-checks the skill `source` (bundled as `bundle`), which passed the run's task
    /// check, when that check is only examples (see the module's documentation): the
    /// attempt of `round`, or with `round` 0 a library skill considered for reuse before
    /// the first round. Journals a [`JournalEvent::CrossCheck`] unless nothing was done.
    pub(super) async fn cross_check(
        &self,
        run: &mut Run,
        round: u32,
        source: &SkillSource,
        bundle: &Bundle,
    ) -> Result<Corroboration, AgentError> {
        let config = &self.config.cross_check;
        if config.candidates == 0 || !run.task.check_is_examples() || self.env.acts() {
            return Ok(Corroboration::Keep);
        }
        let name = source.name.clone();
        // The task's examples call the task's function, the skill's own call the skill (a
        // library skill considered for reuse may have another name).
        let task_function = run.task.name.clone().unwrap_or_else(|| name.clone());
        let examples = |tests: &[TestCase]| -> Vec<String> {
            tests
                .iter()
                .filter_map(|test| match test {
                    TestCase::Example { call, .. } => Some(call.clone()),
                    TestCase::Assert { .. } => None,
                })
                .collect()
        };
        let mut seeds = vec![(task_function, examples(&run.task.tests))];
        match seeds.iter_mut().find(|(function, _)| *function == name) {
            Some((_, calls)) => calls.extend(examples(&source.tests)),
            None => seeds.push((name.clone(), examples(&source.tests))),
        }
        let limits = self.probe_limits();
        let probes = {
            let _validation = run.clock.time(Phase::Validation);
            let mut captured = Vec::new();
            for (function, calls) in &seeds {
                captured.extend(self.capture_arguments(function, calls, &limits).await?);
            }
            probe_inputs(&captured, config.probes)
        };
        let mut event = CrossCheckEvent {
            round,
            probes: probes.len(),
            candidates: Vec::new(),
            tokens: 0,
        };
        if probes.is_empty() {
            self.log_cross_check(run, event, CrossCheckOutcome::Inconclusive)
                .await?;
            return Ok(Corroboration::Unverified(format!(
                "no input could be made from the examples to compare {name} with an independent \
                 solution, so only the examples speak for it"
            )));
        }
        let ours = self.behaviours(bundle, &probes, &limits, run).await?;
        let briefs: Vec<SkillBrief> = Vec::new();
        let mut strategy = Strategy::CrossCheck;
        for _ in 0..config.candidates {
            let written = {
                let _llm = run.clock.time(Phase::Llm);
                write_skill_with(
                    self.cross_check_model
                        .as_ref()
                        .unwrap_or(&self.model)
                        .as_ref(),
                    self.env.as_ref(),
                    &run.task,
                    &briefs,
                    None,
                    strategy,
                )
                .await
            };
            let attempt = match written {
                Ok(attempt) => attempt,
                // A second opinion the model cannot give is no evidence either way.
                Err(e @ (AgentError::Llm { .. } | AgentError::PromptTooLong { .. })) => {
                    event.candidates.push(CandidateResult::Unusable {
                        reason: format!("the model call failed: {e}"),
                    });
                    break;
                }
                Err(e) => return Err(e),
            };
            event.tokens += u64::from(attempt.exchange.prompt_tokens)
                + u64::from(attempt.exchange.completion_tokens);
            self.exchange_with(run, &attempt.exchange, Some(round), Some(strategy))
                .await?;
            let candidate = match attempt.result {
                Ok(extracted) => extracted.skill,
                Err(e) => {
                    event.candidates.push(CandidateResult::Unusable {
                        reason: e.to_string(),
                    });
                    continue;
                }
            };
            if fingerprint(&candidate) == fingerprint(source) || candidate.code == source.code {
                event.candidates.push(CandidateResult::SameCode);
                strategy = Strategy::CrossCheckAnew;
                continue;
            }
            let candidate_bundle = {
                let _validation = run.clock.time(Phase::Validation);
                match self.library.bundle(&candidate, &run.namespace).await {
                    Ok(bundle) => bundle,
                    Err(e) => {
                        event.candidates.push(CandidateResult::Unusable {
                            reason: e.to_string(),
                        });
                        continue;
                    }
                }
            };
            let check = {
                let _validation = run.clock.time(Phase::Validation);
                self.check(&candidate_bundle, &run.task).await?
            };
            if !check_passed(&check) {
                event.candidates.push(CandidateResult::FailsCheck {
                    reason: super::prompts::report_summary(&check),
                });
                continue;
            }
            let theirs = self
                .behaviours(&candidate_bundle, &probes, &limits, run)
                .await?;
            let differing: Vec<usize> = (0..probes.len())
                .filter(|&i| ours[i].differs(&theirs[i]))
                .collect();
            let Some(&first) = differing.first() else {
                event.candidates.push(CandidateResult::Agrees);
                self.log_cross_check(run, event, CrossCheckOutcome::Corroborated)
                    .await?;
                return Ok(Corroboration::Keep);
            };
            event.candidates.push(CandidateResult::Disagrees {
                probes: differing.len(),
                first: Disagreement {
                    call: call_text(&name, &probes[first]),
                    skill: ours[first].describe(),
                    candidate: theirs[first].describe(),
                },
            });
            break;
        }
        let why = event
            .candidates
            .iter()
            .find_map(|candidate| match candidate {
                CandidateResult::Disagrees { first, .. } => Some(format!(
                    "an independent solution that also passes the task's check differs on {}: \
                 this skill gives {}, it gives {}",
                    first.call, first.skill, first.candidate
                )),
                _ => None,
            });
        let (outcome, corroboration) = match why {
            Some(why) => (CrossCheckOutcome::Unverified, Corroboration::Disputed(why)),
            None => (
                CrossCheckOutcome::Inconclusive,
                Corroboration::Unverified(format!(
                    "no independent solution with code of its own passed the task's check ({} \
                     asked), so only the examples speak for {name}",
                    event.candidates.len()
                )),
            ),
        };
        self.log_cross_check(run, event, outcome).await?;
        Ok(corroboration)
    }

    async fn log_cross_check(
        &self,
        run: &Run,
        event: CrossCheckEvent,
        outcome: CrossCheckOutcome,
    ) -> Result<(), AgentError> {
        self.log(
            run,
            JournalEvent::CrossCheck {
                round: event.round,
                probes: event.probes,
                candidates: event.candidates,
                tokens: event.tokens,
                outcome,
            },
        )
        .await
    }

    /// The limits of one probe call: the library's, with a shorter wall clock.
    fn probe_limits(&self) -> Limits {
        let mut limits = self.library.limits().clone();
        limits.wall_clock = limits.wall_clock.min(self.config.cross_check.probe_timeout);
        limits
    }

    /// The arguments of the example `calls` of the function `name`: each call is run against
    /// a function of that name that records its arguments (only JSON values are kept).
    async fn capture_arguments(
        &self,
        name: &str,
        calls: &[String],
        limits: &Limits,
    ) -> Result<Vec<Vec<Value>>, AgentError> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let mut program = format!(
            "const __seen = [];\n{CAPTURE_HELPERS}\nfunction {name}(...args) {{\n  if (__plain(args, 0)) __seen.push(args);\n}}\nasync function __capture() {{\n"
        );
        for call in calls {
            program.push_str(&format!("  try {{ await ({call}); }} catch (e) {{}}\n"));
        }
        program.push_str("  return __seen;\n}\n");
        let sandbox = Arc::clone(self.library.sandbox());
        let limits = limits.clone();
        let outcome = crate::blocking::run(move || {
            sandbox.run(Call {
                source: &program,
                entry: "__capture",
                args: &[],
                capabilities: &Capabilities::none(),
                limits: &limits,
            })
        })
        .await?;
        Ok(match outcome.result {
            Ok(Value::Array(lists)) => lists
                .into_iter()
                .filter_map(|args| match args {
                    Value::Array(args) => Some(args),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        })
    }

    /// How `bundle` behaves on each probe, one sandbox call per probe.
    async fn behaviours(
        &self,
        bundle: &Bundle,
        probes: &[Vec<Value>],
        limits: &Limits,
        run: &Run,
    ) -> Result<Vec<Behaviour>, AgentError> {
        let _validation = run.clock.time(Phase::Validation);
        let sandbox = Arc::clone(self.library.sandbox());
        let (bundle, probes, limits) = (bundle.clone(), probes.to_vec(), limits.clone());
        let outcomes = crate::blocking::run(move || {
            let calls: Vec<Call<'_>> = probes
                .iter()
                .map(|args| Call {
                    source: &bundle.source,
                    entry: &bundle.root,
                    args,
                    capabilities: &bundle.capabilities,
                    limits: &limits,
                })
                .collect();
            let parallelism = std::thread::available_parallelism().map_or(1, usize::from);
            sandbox.run_many(&calls, parallelism)
        })
        .await;
        outcomes
            .into_iter()
            .map(|outcome| {
                Ok(match outcome?.result {
                    Ok(value) => Behaviour::Returns(value),
                    Err(failure) => match failure.kind {
                        FailureKind::JsError | FailureKind::CapabilityDenied => Behaviour::Throws,
                        _ => Behaviour::NoAnswer,
                    },
                })
            })
            .collect()
    }
}

/// The fields of a [`JournalEvent::CrossCheck`] gathered while it runs.
struct CrossCheckEvent {
    round: u32,
    probes: usize,
    candidates: Vec<CandidateResult>,
    tokens: u64,
}

/// `__plain(v, depth)`: whether `v` survives JSON unchanged (finite numbers, strings,
/// booleans, null, arrays and plain objects of them, not too deep).
const CAPTURE_HELPERS: &str = "function __plain(v, depth) {
  if (depth > 8) return false;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!(i in v) || !__plain(v[i], depth + 1)) return false;
    return true;
  }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.values(v).every((x) => __plain(x, depth + 1));
  }
  return false;
}";

/// `name(args)` as JavaScript, for the journal.
fn call_text(name: &str, args: &[Value]) -> String {
    let args: Vec<String> = args.iter().map(Value::to_string).collect();
    format!("{name}({})", args.join(", "))
}

/// Probe inputs from the captured argument lists `seeds`: the seeds themselves, then their
/// mutations (one argument changed by its type, two arguments swapped, one argument taken
/// from another seed of the same arity), taken round-robin across seeds so that each
/// contributes, without repeats, at most `max`.
pub(super) fn probe_inputs(seeds: &[Vec<Value>], max: usize) -> Vec<Vec<Value>> {
    let mut seen = HashSet::new();
    let mut probes = Vec::new();
    let mut push = |args: Vec<Value>, probes: &mut Vec<Vec<Value>>| {
        if probes.len() < max && seen.insert(Value::Array(args.clone()).to_string()) {
            probes.push(args);
        }
    };
    for seed in seeds {
        push(seed.clone(), &mut probes);
    }
    let per_seed: Vec<Vec<Vec<Value>>> = seeds
        .iter()
        .map(|seed| {
            let mut mutated = Vec::new();
            for i in 0..seed.len() {
                for j in i + 1..seed.len() {
                    if same_kind(&seed[i], &seed[j]) && seed[i] != seed[j] {
                        let mut swapped = seed.clone();
                        swapped.swap(i, j);
                        mutated.push(swapped);
                        // Two arguments alike: equal, or one the other reversed (ties and
                        // symmetric cases, where comparisons go wrong).
                        let mut equal = seed.clone();
                        equal[j] = seed[i].clone();
                        mutated.push(equal);
                        if let Some(reversed) = reversed(&seed[i]) {
                            let mut mirrored = seed.clone();
                            mirrored[j] = reversed;
                            mutated.push(mirrored);
                        }
                    }
                }
            }
            let variants: Vec<Vec<Value>> = seed.iter().map(mutations).collect();
            let deepest = variants.iter().map(Vec::len).max().unwrap_or(0);
            for k in 0..deepest {
                for (i, options) in variants.iter().enumerate() {
                    if let Some(value) = options.get(k) {
                        let mut args = seed.clone();
                        args[i] = value.clone();
                        mutated.push(args);
                    }
                }
            }
            for other in seeds {
                if other.len() == seed.len() && other != seed {
                    for i in 0..seed.len() {
                        if same_kind(&seed[i], &other[i]) {
                            let mut args = seed.clone();
                            args[i] = other[i].clone();
                            mutated.push(args);
                        }
                    }
                }
            }
            mutated
        })
        .collect();
    let longest = per_seed.iter().map(Vec::len).max().unwrap_or(0);
    for k in 0..longest {
        for mutated in &per_seed {
            if let Some(args) = mutated.get(k) {
                push(args.clone(), &mut probes);
            }
        }
    }
    probes
}

/// A string or an array reversed.
fn reversed(value: &Value) -> Option<Value> {
    match value {
        Value::String(s) => Some(Value::String(s.chars().rev().collect())),
        Value::Array(items) => Some(Value::Array(items.iter().rev().cloned().collect())),
        _ => None,
    }
}

/// Whether two values have the same JSON type.
fn same_kind(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

/// Values of the type of `value` near it and at the edges of its type, most telling first.
fn mutations(value: &Value) -> Vec<Value> {
    match value {
        Value::String(s) => {
            let chars: Vec<char> = s.chars().collect();
            let mut sorted = chars.clone();
            sorted.sort_unstable();
            let mut out = vec![
                String::new(),
                chars.iter().rev().collect(),
                format!("{s}{s}"),
                chars.iter().take(1).collect(),
                chars.iter().take(chars.len().saturating_sub(1)).collect(),
                sorted.into_iter().collect(),
                s.to_uppercase(),
                s.to_lowercase(),
            ];
            out.retain(|v| v != s);
            out.into_iter().map(Value::String).collect()
        }
        Value::Number(n) => {
            let candidates: Vec<f64> = match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => {
                    let i = i as f64;
                    vec![0.0, 1.0, -1.0, -i, i + 1.0, i - 1.0, i * 100.0]
                }
                (None, Some(x)) => vec![0.0, 1.0, -1.0, -x, x + 1.0, x.trunc(), x * 100.0],
                _ => Vec::new(),
            };
            let mut out = Vec::new();
            for x in candidates {
                let mutated = number(x);
                if mutated != *value && !out.contains(&mutated) && x.abs() < 1e12 {
                    out.push(mutated);
                }
            }
            out
        }
        Value::Bool(b) => vec![Value::Bool(!b)],
        Value::Array(items) => {
            let mut out = vec![Value::Array(Vec::new())];
            if items.len() > 1 {
                out.push(Value::Array(items[..1].to_vec()));
                out.extend(reversed(value));
                out.push(Value::Array(items[..items.len() - 1].to_vec()));
            }
            if let Some(sorted) = sorted(items) {
                out.push(Value::Array(sorted));
            }
            if !items.is_empty() {
                out.push(Value::Array(items.iter().chain(items).cloned().collect()));
                for variant in mutations(&items[0]).into_iter().take(3) {
                    let mut changed = items.clone();
                    changed[0] = variant;
                    out.push(Value::Array(changed));
                }
            }
            out.retain(|v| v != value);
            let mut unique = Vec::new();
            for v in out {
                if !unique.contains(&v) {
                    unique.push(v);
                }
            }
            unique
        }
        Value::Object(fields) => fields
            .iter()
            .flat_map(|(key, field)| {
                mutations(field).into_iter().take(2).map(|variant| {
                    let mut changed = fields.clone();
                    changed.insert(key.clone(), variant);
                    Value::Object(changed)
                })
            })
            .collect(),
        Value::Null => Vec::new(),
    }
}

/// A JSON number: an integer when `x` is one.
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        Value::from(x as i64)
    } else {
        Value::from(x)
    }
}

/// `items` sorted, when they are all numbers or all strings.
fn sorted(items: &[Value]) -> Option<Vec<Value>> {
    let mut sorted = items.to_vec();
    if items.iter().all(Value::is_number) {
        sorted.sort_by(|a, b| {
            a.as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b.as_f64().unwrap_or(0.0))
        });
    } else if items.iter().all(Value::is_string) {
        sorted.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    } else {
        return None;
    }
    Some(sorted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn probes_start_with_the_seeds_then_mutate_each_argument_by_type() {
        let seeds = vec![
            vec![json!("abcd"), json!("dddabc")],
            vec![json!("eabcd"), json!("dddabc")],
        ];
        let probes = probe_inputs(&seeds, 100);
        assert_eq!(probes[..2], seeds[..]);
        let has = |args: Value| probes.contains(args.as_array().unwrap());
        assert!(has(json!(["dddabc", "abcd"])), "swapped: {probes:?}");
        assert!(has(json!(["abcd", "abcd"])), "equal arguments");
        assert!(has(json!(["abcd", "dcba"])), "one the other reversed");
        assert!(has(json!(["", "dddabc"])), "emptied: {probes:?}");
        assert!(has(json!(["dcba", "dddabc"])), "reversed");
        assert!(has(json!(["abcd", ""])), "second argument emptied");
        assert!(has(json!(["abcd", "abcddd"])), "sorted");
        let unique: HashSet<String> = probes.iter().map(|p| json!(p).to_string()).collect();
        assert_eq!(unique.len(), probes.len(), "no repeats");
        // The cap keeps the seeds and a share of every seed's mutations.
        let few = probe_inputs(&seeds, 6);
        assert_eq!(few.len(), 6);
        assert_eq!(few[..2], seeds[..]);
        // An argument taken from another example of the same arity.
        let seeds = vec![vec![json!([1]), json!("x")], vec![json!([2]), json!("y")]];
        assert!(probe_inputs(&seeds, 100).contains(&vec![json!([1]), json!("y")]));
    }

    #[test]
    fn numbers_and_arrays_mutate_to_their_edges() {
        let numbers = mutations(&json!(5));
        for edge in [0, 1, -1, -5, 6, 4, 500] {
            assert!(numbers.contains(&json!(edge)), "{edge} in {numbers:?}");
        }
        assert!(!numbers.contains(&json!(5)));
        let arrays = mutations(&json!([3, 1, 2]));
        for edge in [
            json!([]),
            json!([3]),
            json!([2, 1, 3]),
            json!([1, 2, 3]),
            json!([3, 1, 2, 3, 1, 2]),
            json!([0, 1, 2]),
        ] {
            assert!(arrays.contains(&edge), "{edge} in {arrays:?}");
        }
        assert_eq!(mutations(&json!(true)), [json!(false)]);
        assert!(mutations(&json!(null)).is_empty());
    }

    #[test]
    fn behaviours_compare_values_loosely_for_floats_and_ignore_missing_answers() {
        let value = |v: Value| Behaviour::Returns(v);
        assert!(!value(json!(0.30000000000000004)).differs(&value(json!(0.3))));
        assert!(value(json!([1, 2])).differs(&value(json!([2, 1]))));
        assert!(value(json!(1)).differs(&Behaviour::Throws));
        assert!(!Behaviour::Throws.differs(&Behaviour::Throws));
        assert!(!Behaviour::NoAnswer.differs(&value(json!(1))));
        assert!(!value(json!({"a": 1.0})).differs(&value(json!({"a": 1}))));
    }
}
