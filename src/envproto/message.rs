//! The protocol's messages: one JSON object a line each way (see `docs/environments.md`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What the runtime asks an environment. Each request carries an `id` the reply echoes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// What the environment is and the actions it offers.
    Describe,
    /// A fresh world: the observation and the task.
    Reset(ResetParams),
    /// One action in the current world.
    Act {
        /// The action's name, one of those [`Description::actions`] lists.
        action: String,
        /// Its arguments, as the action's schema says.
        #[serde(default)]
        args: Value,
    },
    /// Whether the current world's task is done.
    Check,
    /// The environment should exit.
    Close,
}

/// How a world starts: a seed and environment-specific options (for TextCraft, `depth` or
/// `goal`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResetParams {
    /// Chooses the task; the same seed and options give the same world.
    #[serde(default)]
    pub seed: u64,
    /// Options the environment understands.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub options: Value,
}

/// The reply to [`Request::Describe`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Description {
    /// A short name, e.g. `textcraft` (what skills declare with `@environment`).
    pub name: String,
    /// What the environment is and its rules, for the model.
    pub text: String,
    /// The actions skills may call.
    pub actions: Vec<ActionSpec>,
    /// Worked examples for the model: skills (JSDoc with the task, then the function) that
    /// do tasks of this environment it never poses. Optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
    /// The world a skill's own tests act in, each test in a fresh one; optional, the reset
    /// of seed 0 without options when absent. A task's world is what its check resets; a
    /// skill's tests are stored with it and run again later, when no task is at hand, so
    /// this world should let any skill act (TextCraft's lists every recipe of the game).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_world: Option<ResetParams>,
    /// JavaScript helpers every skill of the environment may call as global functions: glue
    /// over the actions (e.g. TextCraft's `carried(item)`, a count read off `inventory`), as
    /// Voyager's control primitives are. Optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub helpers: Vec<HelperSpec>,
}

/// One JavaScript helper: a global function of every skill's sandbox call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HelperSpec {
    /// Its name, a JavaScript identifier (`carried`).
    pub name: String,
    /// Its parameters' names, for the model (`["item"]`).
    #[serde(default)]
    pub params: Vec<String>,
    /// What it returns or does.
    #[serde(default)]
    pub description: String,
    /// Its definition, a JavaScript function expression (`function (item) { ... }`); it acts
    /// through `host.call`, so a skill that calls it declares the actions it uses.
    pub source: String,
}

/// One action: it becomes the host function of the same name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionSpec {
    /// Its name (`host.call(name, args)`).
    pub name: String,
    /// What it does.
    #[serde(default)]
    pub description: String,
    /// A JSON schema of its arguments.
    #[serde(default)]
    pub schema: Value,
}

/// The reply to [`Request::Reset`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResetReply {
    /// What the world shows at the start.
    pub observation: String,
    /// The task posed in it.
    pub task: TaskSpec,
    /// The observable state (for TextCraft, the inventory).
    #[serde(default)]
    pub state: Value,
    /// Reset options of worlds whose tasks this one builds on (for TextCraft, goals of the
    /// items its recipes need), each after those it builds on itself: what a curriculum may
    /// pose first. Optional.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subgoals: Vec<Value>,
    /// What to tell a skill's author who calls one of these function names and nothing
    /// defines it: name → a sentence (for TextCraft, `craftIronNugget` → iron nugget is a
    /// base item, fetched with `get`). The runtime says it when a run of the skill's tests or
    /// the task's check finds the name undefined. Optional.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub name_hints: BTreeMap<String, String>,
    /// Function names a skill may call that the environment can pose as tasks of their own:
    /// name → the `options` of a reset (with this world's seed) whose task names a function
    /// of that name (for TextCraft, `craftOakPlanks` → `{"goal": "oak planks"}`). With
    /// `learn_callees` on (off by default), a skill that calls one that nothing defines gets
    /// it learned first in an episode of that world, then is checked with it. Optional.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub name_worlds: BTreeMap<String, Value>,
}

/// The task a reset poses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The goal, in words.
    pub description: String,
    /// The function name a skill solving it should have.
    #[serde(default)]
    pub name: Option<String>,
}

/// The reply to [`Request::Act`]: what the action did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// What the world shows now.
    pub observation: String,
    /// The action's reward.
    #[serde(default)]
    pub reward: f64,
    /// Whether the task is done.
    #[serde(default)]
    pub done: bool,
    /// The observable state after the action.
    #[serde(default)]
    pub state: Value,
}

/// The reply to [`Request::Check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReply {
    /// Whether the task is done.
    pub success: bool,
    /// The reward earned in this world.
    #[serde(default)]
    pub reward: f64,
    /// Why, in words.
    #[serde(default)]
    pub message: String,
}

/// An action the environment refused (`{"ok": false, "error": {...}}`): the world goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// A JavaScript error name for skills, e.g. `ActionFailed`.
    #[serde(default = "action_failed")]
    pub name: String,
    /// What went wrong.
    pub message: String,
}

fn action_failed() -> String {
    "ActionFailed".into()
}
