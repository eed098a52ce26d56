//! The offline default model: a small coder model (Qwen2.5-Coder-0.5B-Instruct, GGUF) served by
//! llama-cpp-python's OpenAI-compatible server on loopback, installed by `scripts/setup llm`.
//!
//! The server is a child process. It dies with its owner three ways: [`LocalModelServer`]'s `Drop`
//! kills it; tokio's `kill_on_drop` kills it when the child handle is dropped; and the server
//! watches its stdin, a pipe from this process, and exits when it closes, which the kernel does
//! when this process ends for any reason (so no orphan survives even a crash or `SIGKILL`).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use super::error::LlmError;
use super::openai::{OpenAiClient, OpenAiConfig};
use super::types::{ChatRequest, ChatResponse, LanguageModel};
use super::usage::UsageCounter;

/// The llama-cpp-python release `scripts/setup llm` installs; its venv is
/// `$CACHE/llama-venv-<version>`.
pub const LLAMA_CPP_PYTHON_VERSION: &str = "0.3.36";
/// The offline model's file under `$CACHE/models/`.
pub const LOCAL_MODEL_FILE: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";
/// The offline model's size in bytes (its sha256 is checked by `scripts/setup llm`).
pub const LOCAL_MODEL_SIZE: u64 = 491_400_064;
/// The name the local server gives the offline model (its `model` in replies).
pub const LOCAL_MODEL_ID: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m";

/// Marker `scripts/setup llm` writes into the venv once the install finished and imports.
const VENV_MARKER: &str = ".skillforge-complete";
/// Lines of server output kept for error messages.
const OUTPUT_LINES: usize = 60;
/// Attempts at finding a free port (another process may take the one picked before the server
/// binds it).
const PORT_ATTEMPTS: u32 = 3;

/// Runs `python -m llama_cpp.server` with the arguments given, after starting a thread that ends
/// the process when stdin reaches end of file, i.e. when the parent has gone.
const SERVER_WRAPPER: &str = r#"
import os, runpy, sys, threading
def _exit_when_parent_goes():
    try:
        while sys.stdin.buffer.read(65536):
            pass
    finally:
        os._exit(0)
threading.Thread(target=_exit_when_parent_goes, daemon=True).start()
sys.argv = ["llama_cpp.server"] + sys.argv[1:]
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"#;

/// The asset cache: `$SKILLFORGE_CACHE`, else `$HOME/.cache/skillforge`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SKILLFORGE_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(std::env::home_dir)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("skillforge")
}

/// Where the local server's pieces are and how to run it.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalServerConfig {
    /// The venv holding llama-cpp-python's server.
    pub venv: PathBuf,
    /// The GGUF model file.
    pub model: PathBuf,
    /// The name the server gives the model.
    pub model_id: String,
    /// CPU threads for prompt processing and generation (1 is fastest on a shared 2-core box).
    pub n_threads: u32,
    /// Context size in tokens (prompt plus reply).
    pub n_ctx: u32,
    /// How long to wait for the server to answer `/v1/models`.
    pub startup_timeout: Duration,
}

impl LocalServerConfig {
    /// The offline model as `scripts/setup llm` installs it under `cache_dir`, with one thread, a
    /// 4096-token context and a 120 s startup timeout.
    pub fn in_cache(cache_dir: &Path) -> Self {
        Self {
            venv: cache_dir.join(format!("llama-venv-{LLAMA_CPP_PYTHON_VERSION}")),
            model: cache_dir.join("models").join(LOCAL_MODEL_FILE),
            model_id: LOCAL_MODEL_ID.to_string(),
            n_threads: 1,
            n_ctx: 4096,
            startup_timeout: Duration::from_secs(120),
        }
    }

    /// The venv's Python interpreter.
    pub fn python(&self) -> PathBuf {
        self.venv.join("bin").join("python")
    }

    /// Checks that the venv and the model are installed, without starting anything.
    pub fn check_installed(&self) -> Result<(), LlmError> {
        if !self.venv.join(VENV_MARKER).is_file() || !self.python().exists() {
            return Err(LlmError::LocalNotInstalled {
                what: "the llama-cpp-python venv",
                path: self.venv.clone(),
            });
        }
        if !self.model.is_file() {
            return Err(LlmError::LocalNotInstalled {
                what: "the GGUF model",
                path: self.model.clone(),
            });
        }
        Ok(())
    }
}

impl Default for LocalServerConfig {
    fn default() -> Self {
        Self::in_cache(&default_cache_dir())
    }
}

/// Recent lines of the server's output, for error messages.
type OutputTail = Arc<Mutex<VecDeque<String>>>;

/// A running llama-cpp-python server on `127.0.0.1`; it is killed when this value is dropped.
#[derive(Debug)]
pub struct LocalModelServer {
    child: Child,
    base_url: String,
    model_id: String,
    output: OutputTail,
    startup_time: Duration,
}

impl LocalModelServer {
    /// Starts the server on a free loopback port and waits until it answers `/v1/models`.
    pub async fn start(config: &LocalServerConfig) -> Result<Self, LlmError> {
        config.check_installed()?;
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            match Self::start_on(config, free_port()?).await {
                Err(LlmError::LocalStart {
                    reason,
                    output_tail,
                }) if output_tail.contains("address already in use") => {
                    last_error = Some(LlmError::LocalStart {
                        reason,
                        output_tail,
                    });
                }
                other => return other,
            }
        }
        Err(last_error.unwrap_or_else(|| LlmError::LocalStart {
            reason: "no free port".into(),
            output_tail: String::new(),
        }))
    }

    async fn start_on(config: &LocalServerConfig, port: u16) -> Result<Self, LlmError> {
        let started = Instant::now();
        let mut command = Command::new(config.python());
        command
            .arg("-c")
            .arg(SERVER_WRAPPER)
            .arg("--model")
            .arg(&config.model)
            .args(["--model_alias", &config.model_id])
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--n_threads", &config.n_threads.to_string()])
            .args(["--n_threads_batch", &config.n_threads.to_string()])
            .args(["--n_ctx", &config.n_ctx.to_string()])
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| LlmError::LocalStart {
            reason: format!("could not run {}: {e}", config.python().display()),
            output_tail: String::new(),
        })?;
        let output: OutputTail = Arc::new(Mutex::new(VecDeque::with_capacity(OUTPUT_LINES)));
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(collect_lines(stdout, Arc::clone(&output)));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(collect_lines(stderr, Arc::clone(&output)));
        }
        let mut server = Self {
            child,
            base_url: format!("http://127.0.0.1:{port}/v1"),
            model_id: config.model_id.clone(),
            output,
            startup_time: Duration::ZERO,
        };
        server.wait_ready(config.startup_timeout).await?;
        server.startup_time = started.elapsed();
        tracing::info!(base_url = %server.base_url, startup = ?server.startup_time, "local model server ready");
        Ok(server)
    }

    async fn wait_ready(&mut self, timeout: Duration) -> Result<(), LlmError> {
        let probe = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(LlmError::Client)?;
        let url = format!("{}/models", self.base_url);
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the output readers catch the last lines.
                tokio::time::sleep(Duration::from_millis(200)).await;
                return Err(self.start_error(format!("the server exited with {status}")));
            }
            if let Ok(response) = probe.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill().await;
                return Err(self.start_error(format!(
                    "{url} did not answer within {timeout:?} (raise llm.local.startup_timeout_ms on a slow machine)"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn start_error(&self, reason: String) -> LlmError {
        LlmError::LocalStart {
            reason,
            output_tail: self.output_tail(),
        }
    }

    /// The OpenAI-compatible base URL, `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The name the server gives the model.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Time from spawning the process to the first answer of `/v1/models`.
    pub fn startup_time(&self) -> Duration {
        self.startup_time
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The last lines the server printed (llama.cpp logs its timings there).
    pub fn output_tail(&self) -> String {
        let lines = self.output.lock().unwrap_or_else(|p| p.into_inner());
        lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// A client configuration for this server with default options.
    pub fn openai_config(&self) -> OpenAiConfig {
        OpenAiConfig::new(self.base_url.clone(), self.model_id.clone())
    }

    /// Stops the server and waits for it to exit.
    pub async fn shutdown(mut self) {
        let _ = self.child.kill().await;
    }
}

impl Drop for LocalModelServer {
    fn drop(&mut self) {
        // SIGKILL; tokio reaps the process in the background.
        let _ = self.child.start_kill();
    }
}

async fn collect_lines(stream: impl AsyncRead + Unpin, output: OutputTail) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                let mut lines = output.lock().unwrap_or_else(|p| p.into_inner());
                if lines.len() == OUTPUT_LINES {
                    lines.pop_front();
                }
                lines.push_back(text);
            }
        }
    }
}

fn free_port() -> Result<u16, LlmError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| LlmError::LocalStart {
            reason: format!("could not find a free loopback port: {e}"),
            output_tail: String::new(),
        })
}

/// The local server together with a client for it: a [`LanguageModel`] that owns its server.
#[derive(Debug)]
pub struct LocalModel {
    server: LocalModelServer,
    client: OpenAiClient,
}

impl LocalModel {
    /// Starts the server for `config` and a client with default options.
    pub async fn start(config: &LocalServerConfig) -> Result<Self, LlmError> {
        let server = LocalModelServer::start(config).await?;
        let client = OpenAiClient::new(server.openai_config())?;
        Ok(Self { server, client })
    }

    /// Pairs a running server with a client configured for it (see
    /// [`LocalModelServer::openai_config`]).
    pub fn new(server: LocalModelServer, client: OpenAiClient) -> Self {
        Self { server, client }
    }

    /// The running server.
    pub fn server(&self) -> &LocalModelServer {
        &self.server
    }

    /// The client talking to it.
    pub fn client(&self) -> &OpenAiClient {
        &self.client
    }
}

#[async_trait]
impl LanguageModel for LocalModel {
    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, LlmError> {
        self.client.complete(req).await
    }

    fn model_id(&self) -> &str {
        self.client.model_id()
    }

    fn usage(&self) -> Arc<UsageCounter> {
        self.client.usage()
    }
}
