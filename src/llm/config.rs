//! Configuration of the model the runtime uses, and building it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::LlmError;
use super::local::{
    LocalModel, LocalModelChoice, LocalModelServer, LocalServerConfig, default_cache_dir,
};
use super::openai::{OpenAiClient, OpenAiConfig};
use super::retry::RetryPolicy;
use super::seeded::SeededModel;
use super::tokens::DEFAULT_CONTEXT_TOKENS;
use super::types::LanguageModel;

/// Which model to use and how to call it. With `base_url` unset the offline local model is
/// started; with it set, that OpenAI-compatible endpoint is called.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// OpenAI-compatible base URL, usually ending in `/v1`; `None` serves the local model.
    pub base_url: Option<String>,
    /// The model name at `base_url` (required with it; the local model has its own).
    pub model: Option<String>,
    /// Environment variable holding the API key; unset or empty sends no key.
    pub api_key_env: String,
    /// Default sampling temperature.
    pub temperature: f32,
    /// Default limit on generated tokens.
    pub max_tokens: u32,
    /// Time allowed to open a connection, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Time allowed for one attempt, in milliseconds.
    pub request_timeout_ms: u64,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Backoff ceiling before the first retry, in milliseconds (doubles per attempt).
    pub backoff_base_ms: u64,
    /// Largest backoff ceiling, in milliseconds.
    pub backoff_max_ms: u64,
    /// Longest `Retry-After` to wait for, in milliseconds.
    pub max_retry_after_ms: u64,
    /// The endpoint model's context window in tokens (prompts are fitted to it); the local
    /// model's is `local.n_ctx`.
    pub context_tokens: u32,
    /// The sampling seed: set, every request carries a seed derived from it and from the
    /// request ([`SeededModel`]), so that a run repeated with the same seed gets the same
    /// replies from a server that honours it (llama.cpp's does); unset, the server draws.
    pub sampling_seed: Option<u32>,
    /// The model asked for the candidates that cross-check a skill, when not the coder's:
    /// a model name at `base_url`, or without one a local model's (`qwen2.5-coder-1.5b`).
    /// Samples of one small model often share a mistake; a second model's less often.
    pub cross_check_model: Option<String>,
    /// How to run the local model.
    pub local: LocalConfig,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            model: None,
            api_key_env: "OPENAI_API_KEY".to_string(),
            temperature: 0.2,
            max_tokens: 1024,
            connect_timeout_ms: 10_000,
            request_timeout_ms: 300_000,
            max_attempts: 5,
            backoff_base_ms: 500,
            backoff_max_ms: 30_000,
            max_retry_after_ms: 120_000,
            context_tokens: DEFAULT_CONTEXT_TOKENS,
            sampling_seed: None,
            cross_check_model: None,
            local: LocalConfig::default(),
        }
    }
}

/// How to run the offline local model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalConfig {
    /// Which model to serve (`qwen2.5-coder-0.5b`, the default, or `qwen2.5-coder-1.5b`).
    pub model: LocalModelChoice,
    /// The asset cache; `None` uses `$SKILLFORGE_CACHE` or `$HOME/.cache/skillforge`.
    pub cache_dir: Option<PathBuf>,
    /// CPU threads.
    pub n_threads: u32,
    /// Context size in tokens.
    pub n_ctx: u32,
    /// How long to wait for the server to come up, in milliseconds.
    pub startup_timeout_ms: u64,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            model: LocalModelChoice::default(),
            cache_dir: None,
            n_threads: 1,
            n_ctx: 4096,
            startup_timeout_ms: 120_000,
        }
    }
}

impl LlmConfig {
    /// The configured endpoint, if any (an empty string counts as none).
    pub fn endpoint(&self) -> Option<&str> {
        self.base_url
            .as_deref()
            .map(str::trim)
            .filter(|url| !url.is_empty())
    }

    /// The retry policy these settings describe.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts.max(1),
            base_delay: Duration::from_millis(self.backoff_base_ms),
            max_delay: Duration::from_millis(self.backoff_max_ms),
            max_retry_after: Duration::from_millis(self.max_retry_after_ms),
        }
    }

    /// The client configuration for `base_url` and `model` with these settings (the API key
    /// is read from `api_key_env` now).
    pub fn openai_config(&self, base_url: &str, model: &str) -> OpenAiConfig {
        OpenAiConfig {
            base_url: base_url.to_string(),
            model: model.to_string(),
            api_key: None,
            temperature: self.temperature,
            max_tokens: self.max_tokens,
            connect_timeout: Duration::from_millis(self.connect_timeout_ms),
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            retry: self.retry_policy(),
            max_response_bytes: super::openai::DEFAULT_MAX_RESPONSE_BYTES,
            context_tokens: self.context_tokens,
            uncached_seeds: false,
        }
        .with_api_key_from_env(&self.api_key_env)
    }

    /// The local server configuration these settings describe.
    pub fn local_server_config(&self) -> LocalServerConfig {
        let cache_dir = self
            .local
            .cache_dir
            .clone()
            .unwrap_or_else(default_cache_dir);
        LocalServerConfig {
            n_threads: self.local.n_threads.max(1),
            n_ctx: self.local.n_ctx,
            startup_timeout: Duration::from_millis(self.local.startup_timeout_ms),
            ..LocalServerConfig::for_model(&cache_dir, self.local.model)
        }
    }

    /// Builds the model: an [`OpenAiClient`] for the configured endpoint, or, with none, a
    /// [`LocalModel`] whose server runs until the returned model is dropped; with a
    /// `sampling_seed`, behind a [`SeededModel`].
    pub async fn build(&self) -> Result<Arc<dyn LanguageModel>, LlmError> {
        let model = self.build_unseeded().await?;
        Ok(SeededModel::over(model, self.sampling_seed))
    }

    /// The cross-check model ([`LlmConfig::cross_check_model`]), seeded like
    /// [`LlmConfig::build`]; `None` when none is set apart from the coder's.
    pub async fn build_cross_check(&self) -> Result<Option<Arc<dyn LanguageModel>>, LlmError> {
        match self.cross_check_config()? {
            Some(config) => Ok(Some(config.build().await?)),
            None => Ok(None),
        }
    }

    /// [`LlmConfig::build_cross_check`] without the seed (see [`LlmConfig::build_unseeded`]).
    pub async fn build_cross_check_unseeded(
        &self,
    ) -> Result<Option<Arc<dyn LanguageModel>>, LlmError> {
        match self.cross_check_config()? {
            Some(config) => Ok(Some(config.build_unseeded().await?)),
            None => Ok(None),
        }
    }

    /// This configuration with the cross-check model in the coder's place, or `None` when
    /// no other model is set for cross-checks.
    pub fn cross_check_config(&self) -> Result<Option<LlmConfig>, LlmError> {
        let Some(name) = self
            .cross_check_model
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty())
        else {
            return Ok(None);
        };
        let mut config = LlmConfig {
            cross_check_model: None,
            ..self.clone()
        };
        if self.endpoint().is_some() {
            if self.model.as_deref().map(str::trim) == Some(name) {
                return Ok(None);
            }
            config.model = Some(name.to_string());
        } else {
            let choice: LocalModelChoice = name.parse()?;
            if choice == self.local.model {
                return Ok(None);
            }
            config.local.model = choice;
        }
        Ok(Some(config))
    }

    /// [`LlmConfig::build`] without the seed, for a caller that seeds parts of its work
    /// apart (the arms of an evaluation).
    pub async fn build_unseeded(&self) -> Result<Arc<dyn LanguageModel>, LlmError> {
        match self.endpoint() {
            Some(base_url) => {
                let model = self.model.as_deref().map(str::trim).filter(|m| !m.is_empty()).ok_or_else(|| {
                    LlmError::Config(format!(
                        "llm.base_url is {base_url:?} but llm.model is not set; set it to the model name the server serves"
                    ))
                })?;
                Ok(Arc::new(OpenAiClient::new(
                    self.openai_config(base_url, model),
                )?))
            }
            None => {
                if let Some(model) = &self.model {
                    return Err(LlmError::Config(format!(
                        "llm.model is {model:?} but llm.base_url is not set; set llm.base_url to the server \
                         that serves it, or unset llm.model to use the offline local model"
                    )));
                }
                let server = LocalModelServer::start(&self.local_server_config()).await?;
                // The local server needs no key; never hand it one meant for a provider.
                let client = OpenAiClient::new(OpenAiConfig {
                    api_key: None,
                    uncached_seeds: true,
                    ..self.openai_config(server.base_url(), server.model_id())
                })?;
                Ok(Arc::new(LocalModel::new(server, client)?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cross_check_model_takes_the_coders_place_at_its_endpoint_or_locally() {
        let none = LlmConfig::default();
        assert_eq!(none.cross_check_config().unwrap(), None);
        let local = LlmConfig {
            cross_check_model: Some("qwen2.5-coder-1.5b".into()),
            sampling_seed: Some(3),
            ..LlmConfig::default()
        };
        let config = local.cross_check_config().unwrap().unwrap();
        assert_eq!(config.local.model, LocalModelChoice::QwenCoder15B);
        assert_eq!(
            (config.sampling_seed, config.cross_check_model),
            (Some(3), None)
        );
        // The coder's own model is no second opinion: nothing apart is started.
        let same = LlmConfig {
            cross_check_model: Some("qwen2.5-coder-0.5b".into()),
            ..LlmConfig::default()
        };
        assert_eq!(same.cross_check_config().unwrap(), None);
        let unknown = LlmConfig {
            cross_check_model: Some("gpt-7".into()),
            ..LlmConfig::default()
        };
        let error = unknown.cross_check_config().unwrap_err().to_string();
        assert!(error.contains("gpt-7"), "{error}");
        let endpoint = LlmConfig {
            base_url: Some("http://127.0.0.1:9/v1".into()),
            model: Some("small".into()),
            cross_check_model: Some("large".into()),
            ..LlmConfig::default()
        };
        let config = endpoint.cross_check_config().unwrap().unwrap();
        assert_eq!(config.model.as_deref(), Some("large"));
        assert_eq!(config.endpoint(), Some("http://127.0.0.1:9/v1"));
    }

    #[test]
    fn config_deserialises_with_defaults_and_rejects_unknown_fields() {
        let config: LlmConfig = serde_json::from_str(
            r#"{"base_url": "http://127.0.0.1:9/v1", "model": "m", "max_attempts": 2, "local": {"n_threads": 2}}"#,
        )
        .unwrap();
        assert_eq!(config.endpoint(), Some("http://127.0.0.1:9/v1"));
        assert_eq!(config.retry_policy().max_attempts, 2);
        assert_eq!(config.api_key_env, "OPENAI_API_KEY");
        assert_eq!(config.local.n_threads, 2);
        assert_eq!(config.local.n_ctx, 4096);
        let error = serde_json::from_str::<LlmConfig>(r#"{"modle": "x"}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `modle`"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn endpoint_without_model_is_a_config_error() {
        let config = LlmConfig {
            base_url: Some("http://127.0.0.1:9/v1".into()),
            ..LlmConfig::default()
        };
        let error = config.build().await.err().expect("must fail");
        assert!(matches!(error, LlmError::Config(_)), "{error}");
        assert!(error.to_string().contains("llm.model"), "{error}");
    }

    #[tokio::test]
    async fn endpoint_builds_an_openai_client_without_contacting_it() {
        let config = LlmConfig {
            base_url: Some("http://127.0.0.1:9/v1/".into()),
            model: Some("served-model".into()),
            ..LlmConfig::default()
        };
        let model = config.build().await.unwrap();
        assert_eq!(model.model_id(), "served-model");
    }

    #[tokio::test]
    async fn missing_local_install_says_to_run_setup() {
        let empty =
            std::env::temp_dir().join(format!("skillforge-llm-empty-{}", std::process::id()));
        let config = LlmConfig {
            local: LocalConfig {
                cache_dir: Some(empty),
                ..LocalConfig::default()
            },
            ..LlmConfig::default()
        };
        let error = config.build().await.err().expect("must fail");
        assert!(
            matches!(error, LlmError::LocalNotInstalled { .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains("run `scripts/setup llm`"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn the_larger_local_model_is_chosen_by_name_and_says_how_to_install_it() {
        let empty =
            std::env::temp_dir().join(format!("skillforge-llm-empty-1.5b-{}", std::process::id()));
        let config: LlmConfig = serde_json::from_value(serde_json::json!({
            "local": {"model": "qwen2.5-coder-1.5b", "cache_dir": empty}
        }))
        .unwrap();
        let server = config.local_server_config();
        assert_eq!(
            server.model,
            empty
                .join("models")
                .join("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf")
        );
        assert_eq!(server.model_id, "qwen2.5-coder-1.5b-instruct-q4_k_m");
        let error = config.build().await.err().expect("must fail");
        assert!(
            error
                .to_string()
                .contains("run `SKILLFORGE_LOCAL_MODEL=qwen2.5-coder-1.5b scripts/setup llm`"),
            "{error}"
        );
        // The default stays the 0.5B model; an unknown name lists the choices.
        assert_eq!(
            LlmConfig::default().local_server_config().model_id,
            "qwen2.5-coder-0.5b-instruct-q4_k_m"
        );
        let unknown = "qwen2.5-coder-7b".parse::<LocalModelChoice>().unwrap_err();
        assert!(
            unknown
                .to_string()
                .contains("expected qwen2.5-coder-0.5b or qwen2.5-coder-1.5b"),
            "{unknown}"
        );
        assert!(
            serde_json::from_value::<LlmConfig>(serde_json::json!({"local": {"model": "big"}}))
                .is_err()
        );
    }
}
