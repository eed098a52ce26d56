//! Access to the daemon: bearer tokens scoped to namespaces.
//!
//! A token is 32 random bytes, shown once when it is made (`skillforge token add`) and
//! kept only as its sha256 in the token file (TOML, one `[[token]]` table each). A request
//! names its token in `Authorization: Bearer ...`; the daemon hashes it and looks the hash
//! up. A token may act on the namespaces it lists (`*` for every namespace) and nowhere else.
//! Without any token configured, a daemon on loopback lets every local caller act on every
//! namespace; bound beyond loopback it refuses to start ([`Access::check_bind`]). The file
//! is read again whenever it changes, so `skillforge token remove` revokes a token at once.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::skill::check_namespace;

/// The prefix of every token, so that one is recognisable in a leak scanner.
pub const TOKEN_PREFIX: &str = "sfk_";
/// The namespace pattern of a token that may act on every namespace.
pub const ALL_NAMESPACES: &str = "*";

/// Errors of the token file and of binding.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The token file could not be read or written.
    #[error("token file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The token file is not the TOML expected.
    #[error("token file {path} is not valid: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A namespace of a token is not a namespace name.
    #[error("{0}")]
    Namespace(String),
    /// Bound beyond loopback with no token configured.
    #[error(
        "refusing to serve on {addr} without access tokens: anyone who can reach it could \
         run code and spend the model's tokens. Create one with `skillforge token add \
         --namespace NS` (tokens go to {tokens}), or listen on 127.0.0.1"
    )]
    OpenBeyondLoopback {
        /// The address asked for.
        addr: SocketAddr,
        /// The token file the daemon read.
        tokens: PathBuf,
    },
}

/// One token as the file keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    /// A name for people (who holds it), unique in the file.
    pub name: String,
    /// Hex sha256 of the token.
    pub sha256: String,
    /// The namespaces it may act on (`*`: all).
    pub namespaces: Vec<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenFile {
    #[serde(default, rename = "token")]
    tokens: Vec<TokenEntry>,
}

/// Who is calling: what the request's token lets it touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No tokens are configured (loopback only): every namespace.
    Local,
    /// A token's holder.
    Token {
        /// The token's name.
        name: String,
        /// Its namespaces; `None` is every namespace.
        namespaces: Option<BTreeSet<String>>,
    },
}

impl Caller {
    /// Whether this caller may act on `namespace`.
    pub fn may(&self, namespace: &str) -> bool {
        match self {
            Caller::Local => true,
            Caller::Token { namespaces, .. } => namespaces
                .as_ref()
                .is_none_or(|allowed| allowed.contains(namespace)),
        }
    }

    /// The namespaces this caller is limited to; `None` is every namespace.
    pub fn namespaces(&self) -> Option<&BTreeSet<String>> {
        match self {
            Caller::Local => None,
            Caller::Token { namespaces, .. } => namespaces.as_ref(),
        }
    }

    /// The token's name, for logs (`local` without tokens).
    pub fn name(&self) -> &str {
        match self {
            Caller::Local => "local",
            Caller::Token { name, .. } => name,
        }
    }
}

/// What a request's `Authorization` header came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The caller, allowed in.
    Allowed(Caller),
    /// No token, or one the daemon does not know: 401.
    Unauthenticated(&'static str),
}

/// The tokens the daemon accepts: the token file, read again when it changes.
#[derive(Debug)]
pub struct Access {
    path: PathBuf,
    loaded: Mutex<Loaded>,
    beyond_loopback: AtomicBool,
}

/// The token file as last read.
#[derive(Debug)]
struct Loaded {
    modified: Option<SystemTime>,
    tokens: Vec<TokenEntry>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The hex sha256 of `token`: what the file keeps.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Access {
    /// The tokens of the file at `path` (none when it does not exist).
    pub fn load(path: &Path) -> Result<Access, AccessError> {
        let modified = modified(path);
        let file = read_file(path)?;
        Ok(Access {
            path: path.to_path_buf(),
            loaded: Mutex::new(Loaded {
                modified,
                tokens: file.tokens,
            }),
            beyond_loopback: AtomicBool::new(false),
        })
    }

    /// The tokens now: the file is read again if it changed since (a file that cannot be
    /// read keeps the tokens last read, with a warning).
    fn tokens(&self) -> Vec<TokenEntry> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        let now = modified(&self.path);
        if now != loaded.modified {
            match read_file(&self.path) {
                Ok(file) => {
                    tracing::info!(tokens = file.tokens.len(), "token file reloaded");
                    *loaded = Loaded {
                        modified: now,
                        tokens: file.tokens,
                    };
                }
                Err(e) => tracing::warn!("keeping the tokens last read: {e}"),
            }
        }
        loaded.tokens.clone()
    }

    /// Whether any token is configured (then every API request needs one).
    pub fn required(&self) -> bool {
        !self.tokens().is_empty()
    }

    /// Refuses an address beyond loopback when no token is configured; remembers where the
    /// daemon listens, so that removing the last token later closes it instead of opening it.
    pub fn check_bind(&self, addr: SocketAddr) -> Result<(), AccessError> {
        let beyond = !addr.ip().is_loopback();
        self.beyond_loopback.store(beyond, Ordering::SeqCst);
        if beyond && !self.required() {
            Err(AccessError::OpenBeyondLoopback {
                addr,
                tokens: self.path.clone(),
            })
        } else {
            Ok(())
        }
    }

    /// Who sends `authorization` (the header's value, if any).
    pub fn verify(&self, authorization: Option<&str>) -> Verdict {
        let tokens = self.tokens();
        if tokens.is_empty() {
            if self.beyond_loopback.load(Ordering::SeqCst) {
                return Verdict::Unauthenticated(
                    "no token is configured any more; this daemon listens beyond loopback \
                     and admits nobody until `skillforge token add` makes one",
                );
            }
            return Verdict::Allowed(Caller::Local);
        }
        let Some(value) = authorization else {
            return Verdict::Unauthenticated(
                "this daemon needs a token: send `Authorization: Bearer TOKEN`",
            );
        };
        let Some(token) = value.strip_prefix("Bearer ") else {
            return Verdict::Unauthenticated("the Authorization header is not `Bearer TOKEN`");
        };
        let hash = token_hash(token.trim());
        // Hashes of unknown tokens are compared in full against every entry: the time taken
        // does not depend on where they differ.
        let found = tokens.iter().fold(None, |found, entry| {
            if constant_time_eq(entry.sha256.as_bytes(), hash.as_bytes()) {
                Some(entry)
            } else {
                found
            }
        });
        match found {
            Some(entry) => Verdict::Allowed(Caller::Token {
                name: entry.name.clone(),
                namespaces: (!entry.namespaces.iter().any(|n| n == ALL_NAMESPACES))
                    .then(|| entry.namespaces.iter().cloned().collect()),
            }),
            None => Verdict::Unauthenticated("this token is not known to the daemon"),
        }
    }
}

/// Whether a `Host` header names this machine: `localhost` or a loopback address, with or
/// without a port.
pub fn is_loopback_host(host: &str) -> bool {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return ip.is_loopback();
    }
    let name = match host.strip_prefix('[') {
        // `[::1]:8420`
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn read_file(path: &Path) -> Result<TokenFile, AccessError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TokenFile::default()),
        Err(source) => {
            return Err(AccessError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    toml::from_str(&text).map_err(|e| AccessError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Makes a token named `name` for `namespaces`, adds its hash to the file at `path` (created
/// owner-only if missing) and returns the token: the only time it is ever seen.
pub fn add_token(path: &Path, name: &str, namespaces: &[String]) -> Result<String, AccessError> {
    if namespaces.is_empty() {
        return Err(AccessError::Namespace(
            "a token needs at least one namespace (`*` for all)".into(),
        ));
    }
    for namespace in namespaces {
        if namespace != ALL_NAMESPACES {
            check_namespace(namespace).map_err(|e| AccessError::Namespace(e.to_string()))?;
        }
    }
    let mut file = read_file(path)?;
    if file.tokens.iter().any(|t| t.name == name) {
        return Err(AccessError::Invalid {
            path: path.to_path_buf(),
            message: format!("a token named {name:?} exists already; choose another name"),
        });
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
    file.tokens.push(TokenEntry {
        name: name.to_string(),
        sha256: token_hash(&token),
        namespaces: namespaces.to_vec(),
    });
    write_file(path, &file)?;
    Ok(token)
}

/// The tokens of the file at `path` (their names and namespaces; the file has no secret).
pub fn list_tokens(path: &Path) -> Result<Vec<TokenEntry>, AccessError> {
    Ok(read_file(path)?.tokens)
}

/// Removes the token named `name` from the file at `path`; false when there is none.
pub fn remove_token(path: &Path, name: &str) -> Result<bool, AccessError> {
    let mut file = read_file(path)?;
    let before = file.tokens.len();
    file.tokens.retain(|t| t.name != name);
    if file.tokens.len() == before {
        return Ok(false);
    }
    write_file(path, &file)?;
    Ok(true)
}

fn write_file(path: &Path, file: &TokenFile) -> Result<(), AccessError> {
    let text = toml::to_string(file).map_err(|e| AccessError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    write_private(path, &text).map_err(|source| AccessError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `text` to `path` through a temporary file and a rename, readable by its owner only.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension("toml.tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_kept_hashed_and_scoped_to_its_namespaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.toml");
        let token = add_token(&path, "ci", &["team-a".into()]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains(&token), "the file holds the token itself");
        assert!(text.contains(&token_hash(&token)));
        let access = Access::load(&path).unwrap();
        let Verdict::Allowed(caller) = access.verify(Some(&format!("Bearer {token}"))) else {
            panic!("the token was refused");
        };
        assert!(caller.may("team-a"));
        assert!(!caller.may("default"));
        assert!(matches!(
            access.verify(Some("Bearer sfk_wrong")),
            Verdict::Unauthenticated(_)
        ));
        assert!(matches!(access.verify(None), Verdict::Unauthenticated(_)));
        assert!(
            add_token(&path, "ci", &["x".into()]).is_err(),
            "names are unique"
        );
        assert!(add_token(&path, "bad", &["../up".into()]).is_err());
    }

    #[test]
    fn removing_the_last_token_closes_a_daemon_beyond_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.toml");
        let token = add_token(&path, "only", &["*".into()]).unwrap();
        let access = Access::load(&path).unwrap();
        access.check_bind("0.0.0.0:0".parse().unwrap()).unwrap();
        let bearer = format!("Bearer {token}");
        assert!(matches!(access.verify(Some(&bearer)), Verdict::Allowed(_)));
        assert!(remove_token(&path, "only").unwrap());
        assert!(!remove_token(&path, "only").unwrap());
        assert!(matches!(
            access.verify(Some(&bearer)),
            Verdict::Unauthenticated(_)
        ));
        assert!(matches!(access.verify(None), Verdict::Unauthenticated(_)));
    }

    #[test]
    fn loopback_hosts_are_told_from_others() {
        for host in [
            "localhost",
            "localhost:8420",
            "127.0.0.1:1",
            "[::1]:8420",
            "::1",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8420",
            "10.0.0.1:8420",
            "",
            "[::2]:1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn beyond_loopback_needs_a_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.toml");
        let open = Access::load(&path).unwrap();
        assert!(open.check_bind("127.0.0.1:0".parse().unwrap()).is_ok());
        assert!(open.check_bind("0.0.0.0:0".parse().unwrap()).is_err());
        add_token(&path, "all", &["*".into()]).unwrap();
        let closed = Access::load(&path).unwrap();
        assert!(closed.check_bind("0.0.0.0:0".parse().unwrap()).is_ok());
        let Verdict::Allowed(caller) = closed.verify(None) else {
            // Expected: tokens configured, none sent.
            return;
        };
        panic!("allowed without a token: {caller:?}");
    }
}
