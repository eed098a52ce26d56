//! An external environment (a program speaking the protocol of [`crate::envproto`]) as the
//! agent's [`Environment`]: its actions are the skills' host functions, its resets pose the
//! tasks, and its `check` decides them.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::compose::Bundle;
use crate::envproto::{
    CHECK, Description, EnvActions, EnvError, EnvProcess, ProcessConfig, RESET, ResetParams,
};
use crate::sandbox::{
    Call, Capabilities, Failure, FailureKind, HostFunctions, Limits, Sandbox, SandboxError,
};
use crate::skill::{SkillSource, TestCase};
use crate::validate::{TestOutcome, TestReport};

use super::environment::{Environment, bind_task_name};
use super::task::Task;

const CHECK_ENTRY: &str = "__sf_env_check";

/// Opens the part of a posed task's words that shows one world at its start (the
/// observation and the state): true of that world only, not of a skill that solves the task.
pub(crate) const WORLD_AT_START: &str = "What the environment shows at the start:";

/// An environment run as a supervised process. A task it poses ([`ExternalEnvironment::task`])
/// carries its world (`Task::world`); the check resets that world, runs the task's tests
/// (which call the skill, whose host calls become `act` messages) and then asks the
/// environment whether the task is done.
#[derive(Debug)]
pub struct ExternalEnvironment {
    actions: EnvActions,
    /// Limits for each run of the check (host calls included).
    pub limits: Limits,
    seed_worlds: Vec<ResetParams>,
}

impl ExternalEnvironment {
    /// Starts `config`'s program and asks it to describe itself. Blocks while it starts.
    pub fn start(config: ProcessConfig) -> Result<ExternalEnvironment, EnvError> {
        let actions = EnvActions::new(EnvProcess::new(config)?, ResetParams::default())?;
        Ok(ExternalEnvironment {
            actions,
            limits: Limits {
                wall_clock: Duration::from_secs(10),
                ..Limits::default()
            },
            seed_worlds: Vec::new(),
        })
    }

    /// Poses these worlds' tasks as warm-up tasks (see [`Environment::seed_tasks`]), in order.
    pub fn with_seed_worlds(mut self, worlds: Vec<ResetParams>) -> ExternalEnvironment {
        self.seed_worlds = worlds;
        self
    }

    /// What the environment said about itself.
    pub fn description(&self) -> &Description {
        self.actions.description()
    }

    /// The capabilities its skills may declare (one per action): what a library's policy
    /// (`LibraryConfig::allowed_capabilities`) must allow.
    pub fn capabilities(&self) -> Capabilities {
        self.actions.capabilities()
    }

    /// The supervised process.
    pub fn process(&self) -> &EnvProcess {
        self.actions.process()
    }

    /// The task a reset to `world` poses: its words, what the world shows at the start (the
    /// observation and the state, e.g. the inventory) for the coder, the suggested function
    /// name, and a check that calls it. Blocks on the environment.
    pub fn task(&self, world: ResetParams) -> Result<Task, EnvError> {
        let reply = self
            .actions
            .reset(&world, Instant::now() + self.limits.wall_clock)?;
        let words = format!(
            "{}\n\n{WORLD_AT_START}\n{}\n\nState: {}",
            reply.task.description, reply.observation, reply.state
        );
        let name = reply
            .task
            .name
            .filter(|name| crate::sandbox::is_identifier(name));
        let mut task = match &name {
            Some(name) => Task::from_user(self.stub(&words, name)),
            None => Task::from_user(words),
        };
        if let Some(name) = name {
            task.tests.push(TestCase::Assert {
                name: format!("the environment's check of {name}()"),
                code: format!("await {name}();"),
            });
            task.name = Some(name);
        }
        task.name_hints = reply.name_hints;
        task.name_worlds = reply
            .name_worlds
            .into_iter()
            .map(|(name, options)| {
                let world = ResetParams {
                    seed: world.seed,
                    options,
                };
                (name, world)
            })
            .collect();
        task.world = Some(world);
        Ok(task)
    }

    /// The worlds of the tasks that `world`'s task builds on (the reset reply's `subgoals`,
    /// with `world`'s seed), each after those it builds on itself. Blocks on the environment.
    pub fn subgoal_worlds(&self, world: &ResetParams) -> Result<Vec<ResetParams>, EnvError> {
        let reply = self
            .actions
            .reset(world, Instant::now() + self.limits.wall_clock)?;
        Ok(reply
            .subgoals
            .into_iter()
            .map(|options| ResetParams {
                seed: world.seed,
                options,
            })
            .collect())
    }

    /// A task whose function is named as a stub to complete ([`Task::stub`]): its words and
    /// the world at the start as the JSDoc comment, a `@capability` line per action, then
    /// `function NAME() {`. A small code model completes a stub far more often than it
    /// writes a skill file from instructions (docs/benchmarks.md).
    fn stub(&self, words: &str, name: &str) -> String {
        let mut stub = String::from("/**\n");
        for line in words.lines() {
            let line = line.trim_end().replace("*/", "* /");
            stub.push_str(if line.is_empty() { " *" } else { " * " });
            stub.push_str(&line);
            stub.push('\n');
        }
        for action in &self.description().actions {
            stub.push_str(&format!(" * @capability {}\n", action.name));
        }
        stub.push_str(&format!(" */\nfunction {name}() {{"));
        stub
    }

    /// Runs one task test in a world: reset to `world` first and checked after, or, for a
    /// task without a world, a fresh default world the test's own assertions judge.
    fn run_test(
        &self,
        sandbox: &Sandbox,
        bundle: &Bundle,
        test: &TestCase,
        world: Option<&ResetParams>,
    ) -> Result<TestOutcome, SandboxError> {
        let body = match world {
            Some(world) => format!(
                "host.call({RESET:?}, {});\n{}\nreturn host.call({CHECK:?}, {{}});",
                json!({"seed": world.seed, "options": world.options}),
                test.to_js()
            ),
            None => test.to_js(),
        };
        let source = format!(
            "{}\nasync function {CHECK_ENTRY}() {{\n{body}\n}}\n",
            bundle.source
        );
        let capabilities = bundle.capabilities.clone().grant(RESET).grant(CHECK);
        let outcome = sandbox.run(Call {
            source: &source,
            entry: CHECK_ENTRY,
            args: &[],
            capabilities: &capabilities,
            limits: &self.limits,
        })?;
        let failure = match (&outcome.result, world) {
            (Err(failure), _) => Some(failure.clone()),
            (Ok(verdict), Some(_)) if verdict["success"] != json!(true) => {
                let mut failure = Failure::new(
                    FailureKind::JsError,
                    format!(
                        "the skill ran, but the environment says the task is not done: {}",
                        verdict["message"].as_str().unwrap_or("no reason given")
                    ),
                );
                failure.name = Some("TaskNotDone".into());
                Some(failure)
            }
            (Ok(_), _) => None,
        };
        Ok(TestOutcome {
            name: test.name().to_string(),
            passed: failure.is_none(),
            failure,
            logs: outcome.logs,
            wall_ms: outcome.stats.wall_ms,
        })
    }

    /// The environment's own text, then its actions (how to call them, their arguments'
    /// schemas), its helpers, how skills are checked, and its worked examples; an example that calls
    /// another example's function only with `composing_examples`.
    fn described(&self, composing_examples: bool) -> String {
        let description = self.description();
        let actions: String = description
            .actions
            .iter()
            .map(|a| {
                format!(
                    "- `host.call(\"{}\", {})`: {}\n",
                    a.name,
                    schema_shape(&a.schema),
                    a.description
                )
            })
            .collect();
        let helpers: String = description
            .helpers
            .iter()
            .map(|h| {
                format!(
                    "- `{}({})`: {}\n",
                    h.name,
                    h.params.join(", "),
                    h.description
                )
            })
            .collect();
        let helpers = if helpers.is_empty() {
            helpers
        } else {
            format!(
                "Helper functions of the environment, global in every skill (not to be defined \
                 again; they act through the host functions above, so declare those):\n{helpers}"
            )
        };
        format!(
            "{text}\n\nA skill acts only through these host functions; each returns the action's \
             result at once (no await needed) or throws. Declare every one a skill calls with a \
             `@capability NAME` line in its JSDoc.\n{actions}{helpers}\
             A skill may call other skills of the library to reuse what they do. Its own @test \
             lines run each in a fresh world; the task's check resets the task's world, calls \
             the skill, then asks the environment whether the task is done.{examples}",
            text = description.text,
            examples = if description.examples.is_empty() {
                String::new()
            } else {
                let blocks: Vec<String> = shown_examples(&description.examples, composing_examples)
                    .into_iter()
                    .map(|code| format!("```javascript\n{}\n```", code.trim()))
                    .collect();
                format!(
                    "\n\nSkills for other tasks of this environment, as examples:\n{}",
                    blocks.join("\n")
                )
            },
        )
    }
}

/// The `examples` to show: all, or without those that call a function another example
/// declares (one that does not parse as a skill is shown).
fn shown_examples(examples: &[String], composing: bool) -> Vec<&String> {
    if composing {
        return examples.iter().collect();
    }
    let parsed: Vec<Option<SkillSource>> = examples
        .iter()
        .map(|code| SkillSource::parse(code, None).ok())
        .collect();
    let names: Vec<&str> = parsed.iter().flatten().map(|s| s.name.as_str()).collect();
    examples
        .iter()
        .zip(&parsed)
        .filter(|(_, skill)| {
            skill.as_ref().is_none_or(|skill| {
                !names
                    .iter()
                    .any(|&name| name != skill.name && skill.references.contains(name))
            })
        })
        .map(|(code, _)| code)
        .collect()
}

impl Environment for ExternalEnvironment {
    fn name(&self) -> &str {
        &self.description().name
    }

    /// The environment's own text, its actions, how skills are checked, and its worked
    /// examples (all of them).
    fn describe(&self) -> String {
        self.described(true)
    }

    /// [`ExternalEnvironment::describe`] without the examples that call another example's
    /// function when `library` lists no function to call: such an example is copied, the
    /// call to a function that does not exist included (docs/benchmarks.md).
    fn describe_for(&self, library: &[&str]) -> String {
        self.described(!library.is_empty())
    }

    fn host_functions(&self) -> HostFunctions {
        self.actions.host_functions()
    }

    /// The tasks of the worlds given to [`ExternalEnvironment::with_seed_worlds`]; a world
    /// the environment cannot pose is logged and left out.
    fn seed_tasks(&self) -> Vec<Task> {
        self.seed_worlds
            .iter()
            .filter_map(|world| {
                self.task(world.clone())
                    .inspect_err(|e| tracing::warn!("cannot pose the warm-up world {world:?}: {e}"))
                    .ok()
            })
            .collect()
    }

    fn pose(&self, world: ResetParams) -> Option<Result<Task, EnvError>> {
        Some(self.task(world))
    }

    fn state(&self) -> serde_json::Value {
        let description = self.description();
        json!({
            "environment": description.name,
            "actions": description.actions.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        })
    }

    /// Each task test in its own world, one after another (the process serves one world at
    /// a time), with the task's name bound to the skill. A task with a world but no test
    /// (its reset named no function) is checked by calling the skill without arguments.
    fn check(
        &self,
        sandbox: &Sandbox,
        bundle: &Bundle,
        task: &Task,
    ) -> Result<TestReport, SandboxError> {
        let bundle = bind_task_name(bundle, task);
        // A world whose task named no function still has its check: the skill itself.
        let call_root;
        let tests = match (&task.world, task.tests.is_empty()) {
            (Some(_), true) => {
                call_root = [TestCase::Assert {
                    name: format!("the environment's check of {}()", bundle.root),
                    code: format!("await {}();", bundle.root),
                }];
                &call_root[..]
            }
            _ => &task.tests[..],
        };
        let tests = tests
            .iter()
            .map(|test| self.run_test(sandbox, &bundle, test, task.world.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TestReport {
            skill: bundle.root.clone(),
            tests,
            call_graph: bundle.call_graph.clone(),
        })
    }
}

/// A JSON schema as the shape of a value a model writes: `{item: string, count: integer}`,
/// arrays as `[shape]`, optional properties marked `?`, an object whose `anyOf` lists
/// which properties each form requires (and, in the form's own `properties`, which it takes
/// optionally) as its forms joined by `or` (`{command: string} or {item: string, count?:
/// integer}`). A small model shown the schema itself copies its `type`/`properties` keys
/// into the arguments.
fn schema_shape(schema: &serde_json::Value) -> String {
    match schema["type"].as_str() {
        Some("object") => match schema["anyOf"].as_array() {
            Some(forms) if !forms.is_empty() => forms
                .iter()
                .map(|form| object_shape(schema, Some(form)))
                .collect::<Vec<_>>()
                .join(" or "),
            _ => object_shape(schema, None),
        },
        Some("array") => format!("[{}, ...]", schema_shape(&schema["items"])),
        Some(other) => other.to_string(),
        None => "any".to_string(),
    }
}

/// An object schema's properties as `{name: shape, optional?: shape}`; with `form` (one
/// form of an `anyOf`), just the properties the form requires or lists among its own.
fn object_shape(schema: &serde_json::Value, form: Option<&serde_json::Value>) -> String {
    let required = names(&form.unwrap_or(schema)["required"]);
    let taken = |name: &str| {
        form.is_none_or(|form| required.contains(&name) || form["properties"].get(name).is_some())
    };
    let fields: Vec<String> = schema["properties"]
        .as_object()
        .map(|properties| {
            properties
                .iter()
                .filter(|(name, _)| taken(name))
                .map(|(name, property)| {
                    let optional = if required.contains(&name.as_str()) {
                        ""
                    } else {
                        "?"
                    };
                    format!("{name}{optional}: {}", schema_shape(property))
                })
                .collect()
        })
        .unwrap_or_default();
    format!("{{{}}}", fields.join(", "))
}

/// The strings of a JSON array (a schema's `required`), none if it is not one.
fn names(value: &serde_json::Value) -> Vec<&str> {
    value
        .as_array()
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::schema_shape;
    use serde_json::json;

    #[test]
    fn a_schema_reads_as_the_shape_of_its_value() {
        let schema = json!({"type": "object", "properties": {
            "item": {"type": "string", "description": "a name"},
            "count": {"type": "integer", "minimum": 1},
            "uses": {"type": "array", "items": {"type": "object",
                "properties": {"item": {"type": "string"}}, "required": ["item"]}}},
            "required": ["item", "count"]});
        assert_eq!(
            schema_shape(&schema),
            "{item: string, count: integer, uses?: [{item: string}, ...]}"
        );
        assert_eq!(
            schema_shape(&json!({"type": "object", "properties": {}})),
            "{}"
        );
        assert_eq!(schema_shape(&json!({})), "any");
    }

    #[test]
    fn a_schema_of_several_forms_reads_as_each_form() {
        let schema = json!({"type": "object",
            "properties": {"command": {"type": "string"}, "item": {"type": "string"},
                "count": {"type": "integer"}},
            "anyOf": [{"required": ["command"]}, {"required": ["item", "count"]}]});
        assert_eq!(
            schema_shape(&schema),
            "{command: string} or {item: string, count: integer}"
        );
        // A form's own `properties` name what it takes optionally.
        let schema = json!({"type": "object",
            "properties": {"command": {"type": "string"}, "item": {"type": "string"},
                "count": {"type": "integer"}},
            "anyOf": [{"required": ["command"]},
                {"required": ["item"], "properties": {"count": {}}}]});
        assert_eq!(
            schema_shape(&schema),
            "{command: string} or {item: string, count?: integer}"
        );
    }
}
