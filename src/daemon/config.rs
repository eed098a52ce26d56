//! The daemon's configuration: a TOML file (`skillforge serve --config FILE`, see
//! `docs/skillforge.example.toml`) under the command line and the environment, which win.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::Duration;

use serde::Deserialize;

use crate::runtime::EpisodeLeases;

/// Where the daemon listens when nothing says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8420";
/// The largest request body accepted by default (bigger ones are answered 413).
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// Errors of the configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not the TOML expected.
    #[error("the configuration {path} is not valid: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line.
        message: String,
    },
}

/// The whole file. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address to listen on.
    pub listen: Option<SocketAddr>,
    /// The largest request body, in bytes.
    pub body_limit_bytes: Option<usize>,
    /// The token file (default `DATA_DIR/tokens.toml`).
    pub tokens_file: Option<PathBuf>,
    /// Logs as JSON lines instead of text.
    pub log_json: Option<bool>,
    /// Where the library lives.
    #[serde(default)]
    pub library: LibrarySection,
    /// The language model.
    #[serde(default)]
    pub llm: LlmSection,
    /// The leases of the episodes the daemon runs.
    #[serde(default)]
    pub episodes: EpisodesSection,
    /// Per-namespace quotas and capability policy; the table `"*"` applies to namespaces
    /// without their own.
    #[serde(default)]
    pub namespaces: BTreeMap<String, NamespacePolicy>,
}

/// `[library]`: as the command line's `--data-dir`, `--database-url`, `--qdrant-url`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibrarySection {
    /// The data dir.
    pub data_dir: Option<PathBuf>,
    /// SQL store URL.
    pub database_url: Option<String>,
    /// Qdrant server URL.
    pub qdrant_url: Option<String>,
}

/// `[episodes]`: how long the lease of an episode the daemon runs lasts, and how often it
/// is renewed (see [`EpisodeLeases`]).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpisodesSection {
    /// Seconds a lease lasts without renewal (default 30).
    pub lease_seconds: Option<f64>,
    /// Seconds between renewals while an episode runs (default 10; less than the lease).
    pub heartbeat_seconds: Option<f64>,
    /// Days the journal of a finished episode that admitted nothing is kept; the daemon
    /// prunes older ones at start and every hour (as `skillforge episodes prune`). Unset:
    /// every journal is kept.
    pub keep_journals_days: Option<f64>,
}

impl EpisodesSection {
    /// The leases this section describes, the defaults where it says nothing; an error
    /// names a value that is not a duration or a heartbeat not shorter than the lease.
    pub fn leases(&self) -> Result<EpisodeLeases, String> {
        let defaults = EpisodeLeases::default();
        let seconds = |key: &str, value: Option<f64>, default: Duration| match value {
            None => Ok(default),
            Some(s) => Duration::try_from_secs_f64(s)
                .map_err(|_| format!("[episodes] {key} = {s} is not a duration in seconds")),
        };
        let leases = EpisodeLeases {
            duration: seconds("lease_seconds", self.lease_seconds, defaults.duration)?,
            heartbeat: seconds(
                "heartbeat_seconds",
                self.heartbeat_seconds,
                defaults.heartbeat,
            )?,
        };
        leases.validate().map_err(|e| format!("[episodes]: {e}"))?;
        Ok(leases)
    }

    /// How long the journals of finished episodes that admitted nothing are kept (`None`:
    /// for ever); an error names a value that is not a number of days.
    pub fn journal_retention(&self) -> Result<Option<Duration>, String> {
        self.keep_journals_days
            .map(|days| {
                super::retention::days(days).ok_or_else(|| {
                    format!("[episodes] keep_journals_days = {days} is not zero or more days")
                })
            })
            .transpose()
    }
}

/// `[llm]`: as `--llm-url`, `--llm-model`, `--sampling-seed`, `--cross-check-model`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmSection {
    /// OpenAI-compatible endpoint.
    pub url: Option<String>,
    /// Model name.
    pub model: Option<String>,
    /// Seed of the model's sampling (the same requests, the same replies).
    pub sampling_seed: Option<u32>,
    /// Another model for the cross-check candidates (as `--cross-check-model`).
    pub cross_check_model: Option<String>,
}

/// What the operator allows a namespace: quotas (unset: unlimited) and the capabilities its
/// skills may be granted (unset: the library's policy).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespacePolicy {
    /// Most skills stored in the namespace.
    pub max_skills: Option<usize>,
    /// Most sandbox time spent running the namespace's skills over the API, in seconds.
    pub max_sandbox_seconds: Option<f64>,
    /// Most LLM tokens (prompt + completion) spent on the namespace's tasks.
    pub max_llm_tokens: Option<u64>,
    /// The capabilities its skills may declare: a subset of the library's policy.
    pub allow_capabilities: Option<Vec<String>>,
}

impl FileConfig {
    /// Reads the file at `path`.
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

/// The namespace policies of a configuration, looked up by namespace.
#[derive(Debug, Clone, Default)]
pub struct Policies {
    namespaces: BTreeMap<String, NamespacePolicy>,
}

impl Policies {
    /// The policies of the file's `[namespaces.*]` tables.
    pub fn new(namespaces: BTreeMap<String, NamespacePolicy>) -> Policies {
        Policies { namespaces }
    }

    /// The policy of `namespace`: its own table, else `"*"`, else no limits.
    pub fn of(&self, namespace: &str) -> NamespacePolicy {
        self.namespaces
            .get(namespace)
            .or_else(|| self.namespaces.get("*"))
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/skillforge.example.toml");
        let config = FileConfig::load(&path).unwrap();
        assert_eq!(config.listen, Some(DEFAULT_LISTEN.parse().unwrap()));
        let policies = Policies::new(config.namespaces);
        assert!(policies.of("no-such-namespace").max_skills.is_some());
        assert_eq!(config.episodes.leases().unwrap(), EpisodeLeases::default());
    }

    #[test]
    fn episode_leases_are_read_and_checked() {
        let section = |lease, heartbeat| EpisodesSection {
            lease_seconds: lease,
            heartbeat_seconds: heartbeat,
            keep_journals_days: None,
        };
        assert_eq!(
            section(Some(2.0), Some(0.5)).leases().unwrap(),
            EpisodeLeases {
                duration: Duration::from_secs(2),
                heartbeat: Duration::from_millis(500),
            }
        );
        for (lease, heartbeat, says) in [
            (Some(5.0), Some(5.0), "shorter than the lease"),
            (None, Some(0.0), "above zero"),
            (Some(-1.0), None, "lease_seconds = -1"),
            (Some(3.0), None, "renewed every 10s"),
        ] {
            let error = section(lease, heartbeat).leases().unwrap_err();
            assert!(error.contains(says), "{error}");
        }
    }

    #[test]
    fn journal_retention_is_read_and_checked() {
        let keep = |days| EpisodesSection {
            keep_journals_days: days,
            ..EpisodesSection::default()
        };
        assert_eq!(keep(None).journal_retention(), Ok(None));
        assert_eq!(
            keep(Some(1.5)).journal_retention(),
            Ok(Some(Duration::from_secs(129_600)))
        );
        assert_eq!(
            keep(Some(0.0)).journal_retention(),
            Ok(Some(Duration::ZERO))
        );
        for bad in [-1.0, f64::NAN, f64::INFINITY] {
            let error = keep(Some(bad)).journal_retention().unwrap_err();
            assert!(error.contains("keep_journals_days"), "{error}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\nlisten_port = 3\n").unwrap();
        let error = FileConfig::load(&path).unwrap_err().to_string();
        assert!(error.contains("listen_port"), "{error}");
    }
}
