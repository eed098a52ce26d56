//! What can go wrong in a [`Runtime`](super::Runtime) call, typed for both edges: a request
//! the caller can fix ([`RuntimeError::is_bad_request`]) or a failure of skillforge's parts.

use crate::agent::{AgentError, TaskError};
use crate::embed::EmbedError;
use crate::envproto::EnvError;
use crate::library::LibraryError;
use crate::llm::LlmError;
use crate::sandbox::SandboxError;

/// Errors of the runtime. Each message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// The embedding model could not be loaded.
    #[error("cannot load the embedding model: {0}; `scripts/setup embed` installs it")]
    Embedder(#[source] EmbedError),
    /// The sandbox could not start, or a call failed on the host's side.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// The library failed (or refused: see [`LibraryError::rejection_kind`]).
    #[error(transparent)]
    Library(#[from] LibraryError),
    /// The language model could not be set up.
    #[error("the language model is not available: {0}")]
    Model(#[source] LlmError),
    /// An agent's run stopped on an error (the episode stays open, to be resumed).
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// The environment could not be started, or could not pose a world's task.
    #[error("the environment failed: {0}")]
    Environment(String),
    /// A task as given cannot be solved (no function name for its examples, ...).
    #[error("the task cannot be solved as given: {0}")]
    Task(String),
    /// A request the caller can fix: limits above the runtime's, a skill that cannot run
    /// here, a malformed argument.
    #[error("{0}")]
    BadRequest(String),
    /// The work was stopped on request; an episode in progress stays open where its journal
    /// ends, and [`Runtime::resume`](super::Runtime::resume) finishes it.
    #[error("stopped: the unfinished episode is kept (interrupted) and a resume finishes it")]
    Stopped,
    /// An episode cannot start now: the open-ended loop is running, and it runs alone.
    #[error(
        "the open-ended loop is running, and it runs alone; stop it or start the episode \
         when it ends"
    )]
    Busy,
    /// A background task of the runtime panicked or was cancelled.
    #[error("a background task of the runtime ended abnormally: {0}")]
    Background(String),
}

impl RuntimeError {
    /// True when the caller named something that does not exist or asked for something the
    /// runtime refuses (an HTTP 4xx, a JSON-RPC `-32602`), rather than a failure of the
    /// runtime itself.
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            RuntimeError::Task(_)
                | RuntimeError::BadRequest(_)
                | RuntimeError::Library(LibraryError::NotFound(_) | LibraryError::ReadOnly { .. })
        )
    }
}

impl From<TaskError> for RuntimeError {
    fn from(e: TaskError) -> Self {
        RuntimeError::Task(e.to_string())
    }
}

impl From<EnvError> for RuntimeError {
    fn from(e: EnvError) -> Self {
        RuntimeError::Environment(e.to_string())
    }
}

impl From<tokio::task::JoinError> for RuntimeError {
    fn from(e: tokio::task::JoinError) -> Self {
        RuntimeError::Background(e.to_string())
    }
}
