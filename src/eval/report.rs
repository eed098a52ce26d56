//! What an eval measured: one [`TaskOutcome`] per task and arm, summed up per arm.

use serde::{Deserialize, Serialize};

use crate::agent::EpisodeReport;
use crate::store::EpisodeStatus;

/// The two arms, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArmKind {
    /// A fresh empty library for every task: nothing learned carries over.
    WithoutLibrary,
    /// One library, empty at the start, that grows with what the tasks admit.
    WithLibrary,
}

impl ArmKind {
    /// Both arms.
    pub const BOTH: [ArmKind; 2] = [ArmKind::WithoutLibrary, ArmKind::WithLibrary];

    /// How the arm is shown.
    pub fn label(self) -> &'static str {
        match self {
            Self::WithoutLibrary => "without library",
            Self::WithLibrary => "with library",
        }
    }
}

/// One task in one arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskOutcome {
    /// The task's id (the suite's `task_id`, or the environment's seed and depth).
    pub task_id: String,
    /// The episode's id in the arm's library (`episodes show ID` there shows its journal;
    /// absent in runs stored before it was recorded).
    #[serde(default)]
    pub episode: Option<String>,
    /// The task's own check passes (the suite's tests, or the environment's check).
    pub solved: bool,
    /// What the episode came to.
    pub status: EpisodeStatus,
    /// The skill it ended with (`namespace/name`), admitted or reused.
    pub skill: Option<String>,
    /// The library skills that skill calls.
    pub calls: Vec<String>,
    /// Skills admitted in episodes of their own, each for a function the task's code called
    /// before anything defined it (`namespace/name`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learned: Vec<String>,
    /// What the runtime renamed in the code the episode ended with, when the model's own
    /// called names nothing defines ([`EpisodeReport::repaired`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repaired: Option<String>,
    /// The skills retrieved for the coder (`namespace/name`).
    pub retrieved: Vec<String>,
    /// How many of the retrieved skills the final code calls (or is, when one is reused).
    pub retrieved_called: usize,
    /// Coder rounds (the first attempt included).
    pub rounds: u32,
    /// LLM tokens, prompt and completion.
    pub tokens: u64,
    /// Wall time of the episode and its judging, in milliseconds.
    pub wall_ms: f64,
    /// The episode was cut short and resumed from its journal (`eval resume`): its tokens
    /// and wall time are the resumed run's only.
    #[serde(default)]
    pub resumed: bool,
}

impl TaskOutcome {
    /// The outcome of an episode, `solved` as the task's own check judged it.
    pub fn new(task_id: String, report: &EpisodeReport, solved: bool, wall_ms: f64) -> Self {
        let short = |name: &str| name.rsplit('/').next().unwrap_or(name).to_string();
        let calls: Vec<String> = report.calls.iter().map(|c| short(c)).collect();
        // A retrieved skill is used when the final code calls it, or is it (reuse).
        let retrieved_called = report
            .retrieved
            .iter()
            .filter(|r| calls.contains(&short(r)) || report.skill.as_ref() == Some(*r))
            .count();
        TaskOutcome {
            task_id,
            episode: Some(report.episode.clone()),
            solved,
            status: report.status,
            skill: report.skill.clone(),
            calls,
            learned: report.learned.clone(),
            repaired: report.repaired.clone(),
            retrieved: report.retrieved.clone(),
            retrieved_called,
            rounds: report.rounds,
            tokens: report.timing.prompt_tokens + report.timing.completion_tokens,
            wall_ms,
            resumed: report.resumed,
        }
    }

    /// Solved by a skill already in the library (nothing new written).
    pub fn reused(&self) -> bool {
        self.solved && self.status == EpisodeStatus::SolvedWithExisting
    }

    /// A skill was admitted.
    pub fn admitted(&self) -> bool {
        self.status == EpisodeStatus::Admitted
    }

    /// An admitted skill that calls other skills.
    pub fn composed(&self) -> bool {
        self.admitted() && !self.calls.is_empty()
    }
}

/// One arm's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmSummary {
    /// Tasks run.
    pub tasks: usize,
    /// Tasks whose own check passes.
    pub solved: usize,
    /// LLM tokens over all tasks.
    pub tokens: u64,
    /// All tokens spent over the tasks solved (`None` when none was).
    pub tokens_per_solved: Option<f64>,
    /// All wall time spent over the tasks solved, in seconds.
    pub seconds_per_solved: Option<f64>,
    /// Coder rounds after the first attempt, over all tasks.
    pub refinement_rounds: u32,
    /// Tasks solved with a skill already in the library.
    pub reused: usize,
    /// Skills admitted: the tasks' own, and those learned for a function a task's code
    /// called (`learned`).
    pub admitted: usize,
    /// Skills admitted in episodes learning a function a task's code called before
    /// anything defined it.
    #[serde(default)]
    pub learned: usize,
    /// Admitted skills that call other skills.
    pub composed: usize,
    /// `composed / admitted`.
    pub composition_rate: Option<f64>,
    /// Tasks solved with code the runtime repaired: the model's called names nothing
    /// defines, and the closest retrieved skills' names in their place passed the check.
    #[serde(default)]
    pub repaired: usize,
    /// Skills retrieved for the coder, over all tasks.
    pub retrieved: usize,
    /// Retrieved skills the final code calls or is (reused), over all tasks.
    pub retrieved_called: usize,
    /// Skills in the arm's library at the end (for the arm without a library: the last
    /// task's fresh library).
    pub library_size: usize,
    /// Tasks solved after each task: the curve of the plot.
    pub cumulative_solved: Vec<usize>,
}

/// One arm: its outcomes and the library it ended with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arm {
    /// Which arm.
    pub kind: ArmKind,
    /// Its outcomes, in task order.
    pub outcomes: Vec<TaskOutcome>,
    /// Skills in its library after the last task.
    pub library_size: usize,
}

impl Arm {
    /// An arm with no task run yet.
    pub fn new(kind: ArmKind) -> Arm {
        Arm {
            kind,
            outcomes: Vec::new(),
            library_size: 0,
        }
    }

    /// Its figures.
    pub fn summary(&self) -> ArmSummary {
        let count = |f: fn(&TaskOutcome) -> bool| self.outcomes.iter().filter(|o| f(o)).count();
        let solved = count(|o| o.solved);
        let tokens: u64 = self.outcomes.iter().map(|o| o.tokens).sum();
        let seconds: f64 = self.outcomes.iter().map(|o| o.wall_ms).sum::<f64>() / 1e3;
        let per_solved = |total: f64| (solved > 0).then(|| total / solved as f64);
        let learned: usize = self.outcomes.iter().map(|o| o.learned.len()).sum();
        let admitted = count(TaskOutcome::admitted) + learned;
        let composed = count(TaskOutcome::composed);
        let cumulative_solved = self
            .outcomes
            .iter()
            .scan(0, |sum, o| {
                *sum += usize::from(o.solved);
                Some(*sum)
            })
            .collect();
        ArmSummary {
            tasks: self.outcomes.len(),
            solved,
            tokens,
            tokens_per_solved: per_solved(tokens as f64),
            seconds_per_solved: per_solved(seconds),
            refinement_rounds: self
                .outcomes
                .iter()
                .map(|o| o.rounds.saturating_sub(1))
                .sum(),
            reused: count(TaskOutcome::reused),
            admitted,
            learned,
            composed,
            composition_rate: (admitted > 0).then(|| composed as f64 / admitted as f64),
            repaired: count(|o| o.solved && o.repaired.is_some()),
            retrieved: self.outcomes.iter().map(|o| o.retrieved.len()).sum(),
            retrieved_called: self.outcomes.iter().map(|o| o.retrieved_called).sum(),
            library_size: self.library_size,
            cumulative_solved,
        }
    }
}

/// A whole run: what was evaluated, how, and both arms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// What was evaluated (the suite file, or the environment with its seeds and depths).
    pub source: String,
    /// The model, as it names itself.
    pub model: String,
    /// Tasks the run was asked for.
    pub planned_tasks: usize,
    /// Most coder rounds per episode, the same in both arms.
    pub max_rounds: u32,
    /// The model's sampling seed (`--sampling-seed`), if the run was seeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_seed: Option<u32>,
    /// Both arms, without the library first.
    pub arms: Vec<Arm>,
}

impl EvalReport {
    /// A run of `planned_tasks` tasks of `source` by `model`, seeded with `sampling_seed` if
    /// any, with nothing measured yet.
    pub fn new(
        source: String,
        model: String,
        planned_tasks: usize,
        max_rounds: u32,
        sampling_seed: Option<u32>,
    ) -> EvalReport {
        EvalReport {
            source,
            model,
            planned_tasks,
            max_rounds,
            sampling_seed,
            arms: ArmKind::BOTH.into_iter().map(Arm::new).collect(),
        }
    }

    /// The arm of this kind.
    pub fn arm(&self, kind: ArmKind) -> &Arm {
        self.arms
            .iter()
            .find(|a| a.kind == kind)
            .expect("a report has both arms")
    }

    /// The arm of this kind, to record in.
    pub fn arm_mut(&mut self, kind: ArmKind) -> &mut Arm {
        self.arms
            .iter_mut()
            .find(|a| a.kind == kind)
            .expect("a report has both arms")
    }

    /// The report as JSON with each arm's summary beside its outcomes.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("a report serializes");
        for (arm, json) in self.arms.iter().zip(
            value["arms"]
                .as_array_mut()
                .expect("arms serialize as a list"),
        ) {
            json["summary"] = serde_json::to_value(arm.summary()).expect("a summary serializes");
        }
        value
    }

    /// A report read back from [`EvalReport::to_json`] (summaries are recomputed).
    pub fn from_json(value: &serde_json::Value) -> Result<EvalReport, serde_json::Error> {
        serde_json::from_value(value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outcome(status: &str, calls: &[&str], learned: &[&str]) -> TaskOutcome {
        serde_json::from_value(json!({
            "task_id": "t", "solved": status == "admitted", "status": status, "skill": null,
            "calls": calls, "learned": learned, "retrieved": [], "retrieved_called": 0,
            "rounds": 1, "tokens": 100, "wall_ms": 1000.0,
        }))
        .unwrap()
    }

    #[test]
    fn a_skill_learned_for_a_called_function_counts_among_the_admitted() {
        let mut arm = Arm::new(ArmKind::WithLibrary);
        arm.outcomes = vec![
            outcome("admitted", &["craftOakPlanks"], &["default/craftOakPlanks"]),
            outcome("admitted", &[], &[]),
            outcome("failed", &[], &["default/craftStick"]),
        ];
        let summary = arm.summary();
        assert_eq!(
            (
                summary.solved,
                summary.admitted,
                summary.learned,
                summary.composed
            ),
            (2, 4, 2, 1)
        );
        assert_eq!(summary.composition_rate, Some(0.25));
        assert_eq!(summary.repaired, 0);
        arm.outcomes[0].repaired = Some("`a` called where it called `b`".into());
        arm.outcomes[2].repaired = Some("`a` called where it called `b`".into());
        assert_eq!(
            arm.summary().repaired,
            1,
            "a failed task counts for nothing"
        );
    }
}
