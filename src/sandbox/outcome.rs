//! What a sandbox call returns: a value or a classified failure, plus logs and stats.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a call failed. Every failure is exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The wall-clock limit passed.
    Timeout,
    /// The fuel budget (or the host-call budget) ran out.
    CpuLimit,
    /// The guest tried to grow its memory past the limit.
    MemoryLimit,
    /// The JavaScript or the guest's own stack overflowed.
    StackOverflow,
    /// Console output plus the result exceeded the output limit.
    OutputLimit,
    /// The skill threw (or rejected with) a JavaScript error.
    JsError,
    /// The skill called a host function it was not granted.
    CapabilityDenied,
    /// The skill cannot run: syntax error, missing entry, bad bundle, unserialisable input.
    InvalidSkill,
}

impl FailureKind {
    /// The snake_case name used in JSON and on the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Timeout => "timeout",
            FailureKind::CpuLimit => "cpu_limit",
            FailureKind::MemoryLimit => "memory_limit",
            FailureKind::StackOverflow => "stack_overflow",
            FailureKind::OutputLimit => "output_limit",
            FailureKind::JsError => "js_error",
            FailureKind::CapabilityDenied => "capability_denied",
            FailureKind::InvalidSkill => "invalid_skill",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A classified failure of a skill call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The class of failure.
    pub kind: FailureKind,
    /// The JavaScript error's name (`TypeError`, ...), when the failure came from JS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A human-readable message.
    pub message: String,
    /// The JavaScript stack, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

impl Failure {
    /// The failure as `skillforge exec --json` (and MCP's `run_skill`) report it:
    /// `{"ok": false, "error": {"kind", "name", "message", "stack"}}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({"ok": false, "error": {
            "kind": self.kind,
            "name": self.name,
            "message": self.message,
            "stack": self.stack,
        }})
    }

    /// A failure with no JS name or stack.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            name: None,
            message: message.into(),
            stack: None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{}: {name}: {}", self.kind, self.message),
            None => write!(f, "{}: {}", self.kind, self.message),
        }
    }
}

/// Which console stream a log line went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogStream {
    /// `console.log`, `console.info`, `console.debug`.
    Stdout,
    /// `console.warn`, `console.error`.
    Stderr,
}

/// One line of console output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// The stream it was written to.
    pub stream: LogStream,
    /// The formatted text.
    pub text: String,
}

/// Measurements of one call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunStats {
    /// Wall-clock time of the call, instantiation included, in milliseconds.
    pub wall_ms: f64,
    /// Fuel consumed.
    pub fuel_used: u64,
    /// Host calls made.
    pub host_calls: u32,
    /// Peak linear memory, in bytes.
    pub memory_bytes: usize,
    /// Bytes emitted (console plus result).
    pub output_bytes: usize,
}

/// The result of one sandbox call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The returned value (JSON), or why there is none.
    pub result: Result<serde_json::Value, Failure>,
    /// Console output, in order.
    pub logs: Vec<LogLine>,
    /// Measurements.
    pub stats: RunStats,
}

impl Outcome {
    /// The outcome as `skillforge exec --json` (and MCP's `run_skill`) report it:
    /// `{"ok": true, "value"}` or [`Failure::to_json`], with `stats` and `logs`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut printed = match &self.result {
            Ok(value) => serde_json::json!({"ok": true, "value": value}),
            Err(failure) => failure.to_json(),
        };
        printed["stats"] = serde_json::json!(self.stats);
        printed["logs"] = serde_json::json!(self.logs);
        printed
    }

    /// True when the call returned a value.
    pub fn is_ok(&self) -> bool {
        self.result.is_ok()
    }

    /// The failure, if the call failed.
    pub fn failure(&self) -> Option<&Failure> {
        self.result.as_ref().err()
    }
}
