//! The environments an operator can name (`code`, `textcraft`, any protocol program), and
//! starting them: what the CLI's `--environment`/`--env-command` and a daemon's
//! configuration choose between.

use std::sync::Arc;

use serde_json::json;

use super::RuntimeError;
use crate::agent::{CodeEnvironment, Environment, ExternalEnvironment};
use crate::envproto::{ProcessConfig, ResetParams, textcraft};
use crate::sandbox::Capabilities;

/// The domain the `code` environment's curriculum proposes tasks in, by default.
pub const DEFAULT_DOMAIN: &str = "string, number and collection utilities";

/// An environment by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvironmentSpec {
    /// Pure functions checked by tests ([`CodeEnvironment`]) in this curriculum domain.
    Code {
        /// What kind of programming tasks the curriculum proposes.
        domain: String,
    },
    /// TextCraft (text Minecraft crafting; needs `scripts/setup textcraft`). Its warm-up
    /// worlds are depths 1 to 4, seeds 0 to 2.
    TextCraft,
    /// Any program speaking the environment protocol (docs/environments.md): the program
    /// and its arguments separated by spaces (no quoting). Its warm-up worlds are seeds 0
    /// to 4.
    Command(String),
}

impl Default for EnvironmentSpec {
    fn default() -> Self {
        EnvironmentSpec::Code {
            domain: DEFAULT_DOMAIN.to_string(),
        }
    }
}

impl EnvironmentSpec {
    /// Starts the environment (an external one on a blocking thread), with the
    /// capabilities its skills may declare: its actions, which the library's policy must
    /// allow.
    pub async fn start(&self) -> Result<(Arc<dyn Environment>, Capabilities), RuntimeError> {
        let (config, worlds): (ProcessConfig, Vec<ResetParams>) = match self {
            EnvironmentSpec::Code { domain } => {
                let env = CodeEnvironment::new(domain.clone());
                return Ok((Arc::new(env), Capabilities::none()));
            }
            EnvironmentSpec::Command(command) => {
                let mut words = command.split_whitespace();
                let program = words.next().ok_or_else(|| {
                    RuntimeError::BadRequest("the environment command is empty".into())
                })?;
                let worlds = (0..5).map(|seed| ResetParams {
                    seed,
                    options: serde_json::Value::Null,
                });
                (ProcessConfig::new(program, words), worlds.collect())
            }
            EnvironmentSpec::TextCraft => {
                let worlds = (1..=4).flat_map(|depth| {
                    (0..3).map(move |seed| ResetParams {
                        seed,
                        options: json!({ "depth": depth }),
                    })
                });
                (
                    textcraft::process_config().map_err(RuntimeError::Environment)?,
                    worlds.collect(),
                )
            }
        };
        let env = crate::blocking::run(move || ExternalEnvironment::start(config))
            .await?
            .with_seed_worlds(worlds);
        let capabilities = env.capabilities();
        Ok((Arc::new(env), capabilities))
    }
}
