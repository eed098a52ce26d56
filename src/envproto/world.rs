//! An environment's actions as host functions. Each sandbox call that acts gets its own
//! world: on its first action it waits for the process (one world at a time), resets it
//! to the test world (the description's `test_world`, else the default parameters) unless
//! it resets itself ([`RESET`]), and lets the process go when the call ends (the world
//! lives in the call's [`CallScope`]).

use std::collections::HashSet;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::sandbox::{
    CallScope, Capabilities, HostCallContext, HostError, HostFunction, HostFunctions,
};

use crate::skill::RESERVED_NAMES;

use super::message::{CheckReply, Description, Request, ResetParams, ResetReply, Step};
use super::{EnvError, EnvProcess};

/// The host function that resets the calling world (`{seed, options}`), for the
/// environment's own check; never granted to skills.
pub const RESET: &str = "env.reset";
/// The host function that checks the calling world's task (`{success, reward, message}`),
/// for the environment's own check; never granted to skills.
pub const CHECK: &str = "env.check";
const WORLD_KEY: &str = "skillforge.envproto.world";
/// How long before a sandbox call's deadline the environment must have answered, so that a
/// hung environment reaches the skill as an error it can read, not as the call's timeout.
const REPLY_MARGIN: Duration = Duration::from_millis(100);

/// When the environment must have answered a host call of this sandbox call.
fn reply_deadline(ctx: &HostCallContext<'_>) -> Instant {
    ctx.deadline
        .checked_sub(REPLY_MARGIN)
        .unwrap_or(ctx.deadline)
}

/// An environment process, described, with its actions offered as host functions.
#[derive(Clone)]
pub struct EnvActions {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for EnvActions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvActions")
            .field("name", &self.shared.description.name)
            .finish_non_exhaustive()
    }
}

struct Shared {
    process: EnvProcess,
    description: Description,
    /// The world a sandbox call that does not reset itself acts in.
    test_world: ResetParams,
    busy: Mutex<bool>,
    freed: Condvar,
}

impl EnvActions {
    /// Asks `process` to describe itself and checks the description: action names are
    /// unique, not empty and not the world controls; helper names are identifiers, unique
    /// and not reserved ([`RESERVED_NAMES`]). A world a skill's own tests act in
    /// starts with the description's `test_world`, or `default_reset` if it names none.
    pub fn new(process: EnvProcess, default_reset: ResetParams) -> Result<EnvActions, EnvError> {
        let (description, _) = process.request::<Description>(&Request::Describe, None, None)?;
        let mut seen = HashSet::new();
        for action in &description.actions {
            if action.name.trim().is_empty() || action.name.starts_with("env.") {
                return Err(EnvError::Description(format!(
                    "action name {:?} is empty or uses the reserved prefix `env.`",
                    action.name
                )));
            }
            if !seen.insert(action.name.as_str()) {
                return Err(EnvError::Description(format!(
                    "action {:?} is listed twice",
                    action.name
                )));
            }
        }
        let mut helpers = HashSet::new();
        for helper in &description.helpers {
            if !crate::sandbox::is_identifier(&helper.name)
                || RESERVED_NAMES.contains(&helper.name.as_str())
            {
                return Err(EnvError::Description(format!(
                    "helper name {:?} is not a JavaScript identifier, or is reserved ({})",
                    helper.name,
                    RESERVED_NAMES.join(", ")
                )));
            }
            if !helpers.insert(helper.name.as_str()) {
                return Err(EnvError::Description(format!(
                    "helper {:?} is listed twice",
                    helper.name
                )));
            }
        }
        let test_world = description.test_world.clone().unwrap_or(default_reset);
        Ok(EnvActions {
            shared: Arc::new(Shared {
                process,
                description,
                test_world,
                busy: Mutex::new(false),
                freed: Condvar::new(),
            }),
        })
    }

    /// What the environment said about itself.
    pub fn description(&self) -> &Description {
        &self.shared.description
    }

    /// The supervised process.
    pub fn process(&self) -> &EnvProcess {
        &self.shared.process
    }

    /// The grants a skill may declare: one per action.
    pub fn capabilities(&self) -> Capabilities {
        self.shared
            .description
            .actions
            .iter()
            .map(|a| a.name.clone())
            .collect()
    }

    /// One host function per action (named after it), plus [`RESET`] and [`CHECK`], and the
    /// description's helpers.
    pub fn host_functions(&self) -> HostFunctions {
        let mut functions = HostFunctions::empty();
        for helper in &self.shared.description.helpers {
            functions = functions.with_helper(&helper.name, &helper.source);
        }
        for action in &self.shared.description.actions {
            let shared = Arc::clone(&self.shared);
            let name = action.name.clone();
            let description = format!(
                "{} Arguments (JSON schema): {}",
                action.description, action.schema
            );
            functions = functions.with(HostFunction::new(
                action.name.clone(),
                description,
                move |ctx, args| {
                    let world = World::of(&shared, ctx)?;
                    let step: Step = world.request(
                        &Request::Act {
                            action: name.clone(),
                            args,
                        },
                        reply_deadline(ctx),
                    )?;
                    Ok(serde_json::to_value(step).expect("steps serialise"))
                },
            ));
        }
        let shared = Arc::clone(&self.shared);
        functions = functions.with(HostFunction::new(
            RESET,
            "Resets the calling world: {seed, options}.",
            move |ctx, args| {
                let params: ResetParams = serde_json::from_value(args)
                    .map_err(|e| HostError::new(format!("{RESET} takes {{seed, options}}: {e}")))?;
                let world = World::of(&shared, ctx)?;
                let reply: ResetReply = world.reset(&params, reply_deadline(ctx))?;
                Ok(serde_json::to_value(reply).expect("replies serialise"))
            },
        ));
        let shared = Arc::clone(&self.shared);
        functions.with(HostFunction::new(
            CHECK,
            "Checks the calling world's task.",
            move |ctx, _| {
                let world = World::of(&shared, ctx)?;
                let reply: CheckReply = world.request(&Request::Check, reply_deadline(ctx))?;
                Ok(serde_json::to_value(reply).expect("replies serialise"))
            },
        ))
    }

    /// Resets a world of its own (waiting for the process until `deadline`), for what a
    /// task shows before any skill runs.
    pub fn reset(&self, params: &ResetParams, deadline: Instant) -> Result<ResetReply, EnvError> {
        let _lease = Lease::acquire(&self.shared, deadline)?;
        let (reply, _) =
            self.shared
                .process
                .request(&Request::Reset(params.clone()), None, Some(deadline))?;
        Ok(reply)
    }
}

/// Holds the process for one world; lets it go on drop.
struct Lease {
    shared: Arc<Shared>,
}

impl Lease {
    fn acquire(shared: &Arc<Shared>, deadline: Instant) -> Result<Lease, EnvError> {
        let mut busy = shared.busy.lock().unwrap_or_else(|e| e.into_inner());
        while *busy {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(EnvError::Busy);
            }
            busy = shared
                .freed
                .wait_timeout(busy, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *busy = true;
        Ok(Lease {
            shared: Arc::clone(shared),
        })
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        *self.shared.busy.lock().unwrap_or_else(|e| e.into_inner()) = false;
        self.shared.freed.notify_one();
    }
}

/// The world of one sandbox call.
struct World {
    lease: Lease,
    /// The process generation it was reset in, once it was.
    generation: Mutex<Option<u32>>,
}

impl World {
    /// The calling sandbox call's world, entered on its first use.
    fn of(shared: &Arc<Shared>, ctx: &HostCallContext<'_>) -> Result<Arc<World>, HostError> {
        let scope: &CallScope = ctx.scope;
        scope
            .get_or_try_insert(WORLD_KEY, || {
                Ok(World {
                    lease: Lease::acquire(shared, reply_deadline(ctx))?,
                    generation: Mutex::new(None),
                })
            })
            .map_err(host_error)
    }

    fn reset(&self, params: &ResetParams, deadline: Instant) -> Result<ResetReply, HostError> {
        let (reply, generation) = self
            .lease
            .shared
            .process
            .request(&Request::Reset(params.clone()), None, Some(deadline))
            .map_err(host_error)?;
        *self.generation.lock().unwrap_or_else(|e| e.into_inner()) = Some(generation);
        Ok(reply)
    }

    /// Sends a request in this world, reset to the test world first if needed.
    fn request<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        request: &Request,
        deadline: Instant,
    ) -> Result<T, HostError> {
        let generation = *self.generation.lock().unwrap_or_else(|e| e.into_inner());
        let generation = match generation {
            Some(generation) => generation,
            None => {
                let params = self.lease.shared.test_world.clone();
                self.reset(&params, deadline)?;
                self.generation
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .expect("reset above")
            }
        };
        self.lease
            .shared
            .process
            .request(request, Some(generation), Some(deadline))
            .map(|(reply, _)| reply)
            .map_err(host_error)
    }
}

/// What a skill sees: a refused action keeps its name (`ActionFailed`); anything else is an
/// `EnvironmentError`.
fn host_error(error: EnvError) -> HostError {
    match error {
        EnvError::Refused { name, message } => HostError { name, message },
        other => HostError {
            name: "EnvironmentError".into(),
            message: other.to_string(),
        },
    }
}
