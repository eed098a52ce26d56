//! External environments: any program that speaks JSON lines over stdio (`describe`,
//! `reset`, `act`, `check`, `close`; `docs/environments.md`). The runtime starts and
//! supervises it ([`EnvProcess`]: a per-message timeout, a maximum line size, typed errors
//! and a bounded number of restarts), and offers its actions to skills as host functions
//! ([`EnvActions`]), each sandbox call acting in its own world.
//!
//! This module knows nothing of agents or skills; the agent adapts it to its `Environment`
//! trait (`agent::ExternalEnvironment`).

mod message;
mod process;
pub mod textcraft;
mod world;

pub use message::{
    ActionSpec, CheckReply, Description, HelperSpec, Refusal, Request, ResetParams, ResetReply,
    Step, TaskSpec,
};
pub use process::{EnvProcess, ProcessConfig};
pub use world::{CHECK, EnvActions, RESET};

/// What went wrong with an environment. [`EnvError::Crashed`], [`EnvError::Timeout`],
/// [`EnvError::Garbage`] and [`EnvError::LineTooLong`] mean the process was given up: the
/// next request starts a new one, up to [`ProcessConfig::max_restarts`] times in a row.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnvError {
    /// The program could not be started.
    #[error("cannot start the environment `{command}`: {message}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        message: String,
    },
    /// The process exited (or closed its streams) while a request was pending.
    #[error("the environment process crashed: {message}; a new one starts for the next request")]
    Crashed {
        /// How it ended, with the end of its stderr.
        message: String,
    },
    /// No reply in time.
    #[error(
        "the environment did not answer '{op}' in time (timeout {seconds} s): it hung and was killed; a new one starts for the next request"
    )]
    Timeout {
        /// The request.
        op: &'static str,
        /// The configured timeout.
        seconds: f64,
    },
    /// A reply that is not the protocol's.
    #[error(
        "the environment broke the protocol {message}; it was killed and a new one starts for the next request"
    )]
    Garbage {
        /// What was wrong, with an excerpt of the line.
        message: String,
    },
    /// A reply line longer than allowed.
    #[error(
        "the environment's reply to '{op}' is longer than {limit} bytes; it was killed and a new one starts for the next request (raise the line limit if such replies are expected)"
    )]
    LineTooLong {
        /// The request.
        op: &'static str,
        /// The limit in bytes.
        limit: usize,
    },
    /// The process failed after every restart allowed in a row.
    #[error(
        "the environment keeps failing: given up after {restarts} restarts in a row without an answer (last failure: {last}); fix the environment program"
    )]
    RestartsExhausted {
        /// Restarts allowed.
        restarts: u32,
        /// The last failure.
        last: String,
    },
    /// The process was replaced while a world was in use: the world's state is gone.
    #[error(
        "the environment process was restarted while this world was in use, so its state is lost; the next world starts afresh"
    )]
    WorldLost,
    /// The environment refused an action; the world goes on.
    #[error("{name}: {message}")]
    Refused {
        /// The error's name, e.g. `ActionFailed`.
        name: String,
        /// Why.
        message: String,
    },
    /// The calling sandbox call's deadline had passed: nothing was sent.
    #[error("the skill's time ran out before '{op}' could be sent to the environment")]
    NoTimeLeft {
        /// The request.
        op: &'static str,
    },
    /// Another world kept the environment past the deadline.
    #[error("the environment was busy with another world until this call's deadline")]
    Busy,
    /// The `describe` reply is unusable.
    #[error("the environment's description is unusable: {0}")]
    Description(String),
}
