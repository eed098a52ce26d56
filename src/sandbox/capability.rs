//! Capabilities: what a skill may reach outside its own computation.
//!
//! Deny by default. A skill declares the capabilities it needs; a call is granted a set of
//! [`Capabilities`]; `host.call(name, args)` reaches a registered [`HostFunction`] only when
//! the grant names it (exactly, or through a `prefix.*` pattern). Two grants are built in and
//! are not host functions: [`CLOCK`] gives the guest the real wall and monotonic clocks
//! (otherwise `Date` is frozen at [`FROZEN_EPOCH_SECS`]) and [`RANDOM`] gives it real
//! randomness (otherwise `Math.random` replays a fixed sequence).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::any::Any;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Grants the real clock (`Date.now()`, `performance.now()`).
pub const CLOCK: &str = "clock";
/// Grants real randomness (`Math.random()`).
pub const RANDOM: &str = "random";
/// What `Date.now()` returns without the [`CLOCK`] grant: 2000-01-01T00:00:00Z.
pub const FROZEN_EPOCH_SECS: u64 = 946_684_800;

/// The set of capabilities granted to one call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Capabilities(BTreeSet<String>);

impl Capabilities {
    /// No capabilities: pure computation only.
    pub fn none() -> Self {
        Capabilities::default()
    }

    /// Adds a grant (a host function name, `prefix.*`, [`CLOCK`] or [`RANDOM`]).
    pub fn grant(mut self, name: impl Into<String>) -> Self {
        self.0.insert(name.into());
        self
    }

    /// True when the real clock is granted.
    pub fn clock(&self) -> bool {
        self.0.contains(CLOCK)
    }

    /// True when real randomness is granted.
    pub fn random(&self) -> bool {
        self.0.contains(RANDOM)
    }

    /// True when `host.call(name, ...)` is allowed.
    pub fn allows_host_call(&self, name: &str) -> bool {
        self.0.iter().any(|grant| {
            grant == name
                || grant.strip_suffix(".*").is_some_and(|prefix| {
                    name.strip_prefix(prefix)
                        .is_some_and(|rest| rest.starts_with('.'))
                })
        })
    }

    /// The granted names, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// True when nothing is granted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<S: Into<String>> FromIterator<S> for Capabilities {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Capabilities(iter.into_iter().map(Into::into).collect())
    }
}

/// An error a host function reports back to the skill; it becomes a thrown JS `Error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct HostError {
    /// The JS error name the skill sees (`.name`).
    pub name: String,
    /// The message the skill sees (`.message`).
    pub message: String,
}

impl HostError {
    /// A generic host error (`name` is `HostError`).
    pub fn new(message: impl Into<String>) -> Self {
        HostError {
            name: "HostError".into(),
            message: message.into(),
        }
    }
}

/// What a host function learns about the call it serves.
#[derive(Debug, Clone, Copy)]
pub struct HostCallContext<'a> {
    /// When the call's wall-clock limit runs out; a host function must return before it.
    pub deadline: Instant,
    /// State kept for this one sandbox call, dropped when the call ends.
    pub scope: &'a CallScope,
}

/// State that host functions keep for the one sandbox call they serve (e.g. the environment
/// world a skill acts in), by key. It is dropped when the call ends, so a value's `Drop`
/// releases what it holds; nothing in it reaches another call.
#[derive(Default)]
pub struct CallScope(Mutex<HashMap<&'static str, Arc<dyn Any + Send + Sync>>>);

impl CallScope {
    /// The value kept under `key`, made by `init` on first use in this call. A value of
    /// another type under the same key is replaced.
    pub fn get_or_try_insert<T: Any + Send + Sync, E>(
        &self,
        key: &'static str,
        init: impl FnOnce() -> Result<T, E>,
    ) -> Result<Arc<T>, E> {
        let mut values = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(value) = values
            .get(key)
            .and_then(|v| Arc::clone(v).downcast::<T>().ok())
        {
            return Ok(value);
        }
        let value = Arc::new(init()?);
        values.insert(key, Arc::clone(&value) as Arc<dyn Any + Send + Sync>);
        Ok(value)
    }
}

impl fmt::Debug for CallScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f.debug_set().entries(values.keys()).finish()
    }
}

type Handler = dyn Fn(&HostCallContext<'_>, Value) -> Result<Value, HostError> + Send + Sync;

/// A function the host offers to skills, by name.
#[derive(Clone)]
pub struct HostFunction {
    name: String,
    description: String,
    handler: Arc<Handler>,
}

impl HostFunction {
    /// A host function named `name` (what skills pass to `host.call`), described for the LLM.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        handler: impl Fn(&HostCallContext<'_>, Value) -> Result<Value, HostError>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        HostFunction {
            name: name.into(),
            description: description.into(),
            handler: Arc::new(handler),
        }
    }

    /// The name skills call it by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it does, for prompts and docs.
    pub fn description(&self) -> &str {
        &self.description
    }

    pub(crate) fn call(&self, ctx: &HostCallContext<'_>, args: Value) -> Result<Value, HostError> {
        (self.handler)(ctx, args)
    }
}

impl fmt::Debug for HostFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFunction")
            .field("name", &self.name)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// The host functions a sandbox offers, by name, and the JavaScript helpers over them.
#[derive(Debug, Clone, Default)]
pub struct HostFunctions {
    functions: Arc<HashMap<String, HostFunction>>,
    /// The helpers' definitions as every call's program ends with them
    /// ([`HostFunctions::with_helper`]); empty when there are none.
    helpers: Arc<String>,
}

impl HostFunctions {
    /// No host functions.
    pub fn empty() -> Self {
        HostFunctions::default()
    }

    /// Adds (or replaces) a function.
    pub fn with(mut self, function: HostFunction) -> Self {
        Arc::make_mut(&mut self.functions).insert(function.name.clone(), function);
        self
    }

    /// Adds a JavaScript helper: a global function `name` that every call's program may
    /// call, defined by `function` (a function expression, e.g. `function (item) { return
    /// host.call("inventory", {}).state.inventory[item] || 0; }`), glue over the host
    /// functions that needs no `host.call` in the skill. A helper has no rights of its own:
    /// its host calls need the call's grants like any other. A program that defines the
    /// name itself (a function, `var`, `let` or `const` at its top level) keeps its own:
    /// the helpers are assigned after the program's text, only to names still unset.
    /// `name` must be a JavaScript identifier (checked by the caller, e.g. `envproto`).
    pub fn with_helper(mut self, name: &str, function: &str) -> Self {
        Arc::make_mut(&mut self.helpers).push_str(&format!(
            "\n;if (typeof globalThis[{name:?}] === \"undefined\") globalThis[{name:?}] = ({function}\n);"
        ));
        self
    }

    /// What ends every call's program: the helpers' definitions (empty without helpers).
    pub(crate) fn helpers_source(&self) -> &str {
        &self.helpers
    }

    /// Looks a function up by name.
    pub fn get(&self, name: &str) -> Option<&HostFunction> {
        self.functions.get(name)
    }

    /// All functions, sorted by name.
    pub fn list(&self) -> Vec<&HostFunction> {
        let mut all: Vec<_> = self.functions.values().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_match_exact_names_and_prefix_patterns() {
        let caps = Capabilities::none().grant("kv.get").grant("fs.*");
        assert!(caps.allows_host_call("kv.get"));
        assert!(!caps.allows_host_call("kv.set"));
        assert!(caps.allows_host_call("fs.read"));
        assert!(!caps.allows_host_call("fsx.read"));
        assert!(!caps.allows_host_call("fs"));
        assert!(!caps.clock() && !caps.random());
        assert!(Capabilities::none().grant(CLOCK).clock());
    }

    #[test]
    fn a_call_scope_keeps_one_value_per_key_and_drops_it_with_the_scope() {
        let scope = CallScope::default();
        let first = scope
            .get_or_try_insert("k", || Ok::<_, ()>(String::from("world")))
            .unwrap();
        let again = scope
            .get_or_try_insert("k", || Ok::<_, ()>(String::from("other")))
            .unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(
            scope.get_or_try_insert::<String, _>("x", || Err("no")),
            Err("no")
        );
        drop(scope);
        assert_eq!(
            Arc::strong_count(&first),
            2,
            "only the two handles above remain"
        );
    }
}
