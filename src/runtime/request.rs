//! What callers hand the runtime: a task in words with its checks, tighter limits for one
//! skill run; and what a skill run comes to.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::RuntimeError;
use crate::agent::Task;
use crate::sandbox::{Limits, Outcome};

/// A task as a user gives it: words, perhaps a function name, checks and a namespace. The
/// daemon's `POST /v1/episodes` body and MCP's `solve_task` arguments are this type (hence
/// its OpenAPI and JSON schemas).
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct TaskRequest {
    /// The task in words; examples in it (`>>> f(x)` then the value, `f(x) => y`,
    /// `Input:`/`Output:`) become its check.
    pub task: String,
    /// The function name the skill gets (default: the one the task's examples call).
    #[serde(default)]
    pub name: Option<String>,
    /// Checks of the task, `CALL => EXPECTED` (they need `name`).
    #[serde(default)]
    pub examples: Vec<String>,
    /// Namespace to solve in and admit to (default: the default namespace).
    #[serde(default)]
    pub namespace: Option<String>,
}

impl TaskRequest {
    /// A request for the task in `text`, with nothing else given.
    pub fn new(text: impl Into<String>) -> Self {
        TaskRequest {
            task: text.into(),
            ..TaskRequest::default()
        }
    }

    /// The task it describes, or why it cannot be solved as given.
    pub fn to_task(&self) -> Result<Task, RuntimeError> {
        let mut task = Task::from_text(self.task.clone(), self.name.as_deref())?;
        if !self.examples.is_empty() && task.name.is_none() {
            return Err(RuntimeError::Task(
                "examples need a function name: they call the function by that name".into(),
            ));
        }
        for example in &self.examples {
            let (call, expected) = example.rsplit_once("=>").ok_or_else(|| {
                RuntimeError::Task(format!("example {example:?} is not `CALL => EXPECTED`"))
            })?;
            task = task.with_example(call.trim(), expected.trim());
        }
        if let Some(namespace) = &self.namespace {
            crate::skill::check_namespace(namespace)
                .map_err(|e| RuntimeError::BadRequest(e.to_string()))?;
        }
        task.namespace = self.namespace.clone();
        Ok(task)
    }
}

/// Tighter limits for one skill run; each may only lower the runtime's own. The daemon's and
/// MCP's `limits` of a skill run are this type.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
    utoipa::ToSchema,
)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Wall-clock limit in milliseconds.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Memory limit in MiB.
    #[serde(default)]
    pub memory_mb: Option<usize>,
    /// Fuel (about one unit per WebAssembly instruction).
    #[serde(default)]
    pub fuel: Option<u64>,
}

impl LimitOverrides {
    /// `base` tightened by these overrides; one above `base` is a
    /// [`RuntimeError::BadRequest`].
    pub fn apply(&self, base: &Limits) -> Result<Limits, RuntimeError> {
        let above = |what: String| RuntimeError::BadRequest(what);
        let mut limits = base.clone();
        if let Some(ms) = self.timeout_ms {
            let wanted = Duration::from_millis(ms);
            if wanted > base.wall_clock {
                return Err(above(format!(
                    "limits.timeout_ms {ms} is above the server's {} ms",
                    base.wall_clock.as_millis()
                )));
            }
            limits.wall_clock = wanted;
        }
        if let Some(mb) = self.memory_mb {
            let wanted = mb.saturating_mul(1 << 20);
            if wanted > base.memory_bytes {
                return Err(above(format!(
                    "limits.memory_mb {mb} is above the server's {} MiB",
                    base.memory_bytes >> 20
                )));
            }
            limits.memory_bytes = wanted;
        }
        if let Some(fuel) = self.fuel {
            if fuel > base.fuel {
                return Err(above(format!(
                    "limits.fuel {fuel} is above the server's {}",
                    base.fuel
                )));
            }
            limits.fuel = fuel;
        }
        limits
            .validate()
            .map_err(|e| RuntimeError::BadRequest(format!("limits: {e}")))?;
        Ok(limits)
    }
}

/// What running a library skill came to: the sandbox's [`Outcome`], or the library's
/// refusal to bundle it as stored (a dependency gone, a capability the policy no longer
/// allows). Either way the skill's doing, not the runtime's.
#[derive(Debug, Clone)]
pub enum SkillRun {
    /// The call ran: a value or a [`Failure`](crate::sandbox::Failure).
    Ran(Outcome),
    /// The skill cannot run as stored.
    Refused {
        /// [`LibraryError::rejection_kind`](crate::library::LibraryError::rejection_kind).
        kind: &'static str,
        /// Why.
        message: String,
    },
}

impl SkillRun {
    /// True when the skill returned a value.
    pub fn is_ok(&self) -> bool {
        matches!(self, SkillRun::Ran(outcome) if outcome.is_ok())
    }

    /// The `skillforge exec --json` shape: [`Outcome::to_json`], or
    /// `{"ok": false, "error": {"kind", "message"}}` for a refusal.
    pub fn to_json(&self) -> Value {
        match self {
            SkillRun::Ran(outcome) => outcome.to_json(),
            SkillRun::Refused { kind, message } => {
                json!({"ok": false, "error": {"kind": kind, "message": message}})
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_only_tighten_the_runtimes() {
        let base = Limits::default();
        let tighter = LimitOverrides {
            timeout_ms: Some(100),
            ..LimitOverrides::default()
        }
        .apply(&base)
        .unwrap();
        assert_eq!(tighter.wall_clock, Duration::from_millis(100));
        let looser = LimitOverrides {
            timeout_ms: Some(base.wall_clock.as_millis() as u64 + 1),
            ..LimitOverrides::default()
        };
        assert!(looser.apply(&base).unwrap_err().is_bad_request());
        let memory = LimitOverrides {
            memory_mb: Some(usize::MAX),
            ..LimitOverrides::default()
        };
        assert!(memory.apply(&base).is_err());
    }

    #[test]
    fn a_task_request_needs_a_name_for_its_examples() {
        let mut request = TaskRequest::new("Double a number");
        request.examples = vec!["double(2) => 4".into()];
        assert!(matches!(request.to_task(), Err(RuntimeError::Task(_))));
        request.name = Some("double".into());
        let task = request.to_task().unwrap();
        assert_eq!(task.name.as_deref(), Some("double"));
        assert_eq!(task.tests.len(), 1);
        request.namespace = Some("../etc".into());
        assert!(request.to_task().unwrap_err().is_bad_request());
    }
}
