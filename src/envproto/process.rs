//! A supervised environment process: JSON lines over its stdin and stdout, one request at a
//! time, each within a timeout; a process that crashes, hangs, sends garbage or an oversized
//! line is killed, the request fails with a typed error, and the next request starts a new
//! process, up to a bounded number of restarts.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::EnvError;
use super::message::{Refusal, Request};

/// Lines of the process's stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 20;

/// How to start and supervise an environment.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// The program to run.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment variables set for it (besides the inherited ones).
    pub env: Vec<(String, String)>,
    /// How long one reply may take (the first one includes the process's start).
    pub timeout: Duration,
    /// The longest reply line accepted, in bytes.
    pub max_line_bytes: usize,
    /// How many times in a row a failed process is replaced (a process that answers
    /// resets the count) before every request fails.
    pub max_restarts: u32,
}

impl ProcessConfig {
    /// `program args...` with a 10 s timeout, 1 MiB lines and 3 restarts.
    pub fn new(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        ProcessConfig {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
            timeout: Duration::from_secs(10),
            max_line_bytes: 1 << 20,
            max_restarts: 3,
        }
    }

    fn command_line(&self) -> String {
        std::iter::once(self.program.display().to_string())
            .chain(self.args.iter().map(|a| {
                // Inline scripts (python -c) would flood a message.
                if a.len() > 80 {
                    format!("{}...", &a[..a.floor_char_boundary(60)])
                } else {
                    a.clone()
                }
            }))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// An environment process, started on first use and replaced after a failure. Cheap to
/// share; requests are served one at a time, from any thread (it blocks the caller, never
/// an async runtime: from async code use `spawn_blocking`).
pub struct EnvProcess {
    runtime: Option<tokio::runtime::Runtime>,
    supervisor: Arc<tokio::sync::Mutex<Supervisor>>,
    restarts: Arc<AtomicU32>,
}

impl std::fmt::Debug for EnvProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvProcess").finish_non_exhaustive()
    }
}

struct Supervisor {
    config: ProcessConfig,
    running: Option<Running>,
    /// Processes started so far: a world belongs to one of them.
    starts: u32,
    /// Processes given up after a failure since one last answered; the next start after a
    /// failure is a restart, and past [`ProcessConfig::max_restarts`] none is made.
    failures: u32,
    /// The last start came after a failure.
    restarting: bool,
    /// The last failure, for the message once restarts are exhausted.
    last_failure: Option<String>,
    next_id: u64,
    restarts: Arc<AtomicU32>,
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// The task reading stderr into `stderr`; it ends when the process is gone.
    stderr_reader: tokio::task::JoinHandle<()>,
    /// Which start this is: a world belongs to one generation.
    generation: u32,
}

impl EnvProcess {
    /// Supervises `config`'s program; nothing starts until the first request.
    pub fn new(config: ProcessConfig) -> Result<EnvProcess, EnvError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("skillforge-env")
            .enable_all()
            .build()
            .map_err(|e| EnvError::Spawn {
                command: config.command_line(),
                message: format!("cannot start its runtime: {e}"),
            })?;
        let restarts = Arc::new(AtomicU32::new(0));
        Ok(EnvProcess {
            runtime: Some(runtime),
            supervisor: Arc::new(tokio::sync::Mutex::new(Supervisor {
                config,
                running: None,
                starts: 0,
                failures: 0,
                restarting: false,
                last_failure: None,
                next_id: 1,
                restarts: Arc::clone(&restarts),
            })),
            restarts,
        })
    }

    /// Sends `request` and returns the reply's fields (without `id` and `ok`), decoded. A
    /// refused action is [`EnvError::Refused`] and leaves the process running; any other
    /// error has killed it. With `generation`, the request is meant for the world of that
    /// process: if it has been replaced since, nothing is sent and the error is
    /// [`EnvError::WorldLost`]. `deadline` shortens the timeout.
    pub fn request<T: DeserializeOwned + Send + 'static>(
        &self,
        request: &Request,
        generation: Option<u32>,
        deadline: Option<Instant>,
    ) -> Result<(T, u32), EnvError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let supervisor = Arc::clone(&self.supervisor);
        let request = request.clone();
        self.runtime().spawn(async move {
            let mut supervisor = supervisor.lock().await;
            let reply = supervisor.exchange(&request, generation, deadline).await;
            let _ = tx.send(reply);
        });
        rx.recv().map_err(|_| EnvError::Crashed {
            message: "its supervisor stopped".into(),
        })?
    }

    /// How many times in all the process was replaced after a failure.
    pub fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Relaxed)
    }

    /// Asks the process to exit (`close`) and waits for it, within the timeout; kills it
    /// otherwise. A later request starts a new one (not counted as a restart).
    pub fn close(&self) {
        let supervisor = Arc::clone(&self.supervisor);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime().spawn(async move {
            supervisor.lock().await.close().await;
            let _ = tx.send(());
        });
        let _ = rx.recv();
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the process")
    }
}

impl Drop for EnvProcess {
    /// Kills the process (its `Child` is `kill_on_drop`) without blocking: this may run
    /// inside an async runtime.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Supervisor {
    async fn exchange<T: DeserializeOwned>(
        &mut self,
        request: &Request,
        generation: Option<u32>,
        deadline: Option<Instant>,
    ) -> Result<(T, u32), EnvError> {
        if let Some(wanted) = generation
            && self.running.as_ref().map(|r| r.generation) != Some(wanted)
        {
            return Err(EnvError::WorldLost);
        }
        if self.running.is_none() {
            self.start()?;
        }
        let timeout = deadline.map_or(self.config.timeout, |deadline| {
            self.config
                .timeout
                .min(deadline.saturating_duration_since(Instant::now()))
        });
        if timeout.is_zero() {
            // Nothing sent, so the process is still in step and stays.
            return Err(EnvError::NoTimeLeft {
                op: request_op(request),
            });
        }
        let id = self.next_id;
        self.next_id += 1;
        let max_line = self.config.max_line_bytes;
        let running = self.running.as_mut().expect("started above");
        let generation = running.generation;
        let outcome = tokio::time::timeout(timeout, running.exchange(id, request, max_line)).await;
        let failure = match outcome {
            Ok(Ok(Reply::Ok(value))) => match serde_json::from_value(value) {
                Ok(value) => {
                    self.failures = 0;
                    return Ok((value, generation));
                }
                Err(e) => Failure::Garbage(format!(
                    "the reply lacks a field the protocol requires: {e}"
                )),
            },
            Ok(Ok(Reply::Refused(refusal))) => {
                self.failures = 0;
                return Err(EnvError::Refused {
                    name: refusal.name,
                    message: refusal.message,
                });
            }
            Ok(Err(failure)) => failure,
            Err(_) => Failure::Hung(timeout),
        };
        Err(self.fail(failure, request).await)
    }

    /// Starts the process; a restart when one ran before, refused past the bound.
    fn start(&mut self) -> Result<(), EnvError> {
        if self.failures > self.config.max_restarts {
            return Err(EnvError::RestartsExhausted {
                restarts: self.config.max_restarts,
                last: self.last_failure.clone().unwrap_or_default(),
            });
        }
        let command = self.config.command_line();
        let mut child = Command::new(&self.config.program)
            .args(&self.config.args)
            .envs(self.config.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| EnvError::Spawn {
                command: command.clone(),
                message: e.to_string(),
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(EnvError::Spawn {
                command,
                message: "its standard streams could not be piped".into(),
            });
        };
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let sink = Arc::clone(&tail);
        let stderr_reader = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut tail = sink.lock().unwrap_or_else(|e| e.into_inner());
                if tail.len() == STDERR_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        if self.restarting {
            self.restarting = false;
            self.restarts.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(command, "restarting the environment process");
        }
        self.starts += 1;
        self.running = Some(Running {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            stderr: tail,
            stderr_reader,
            generation: self.starts,
        });
        Ok(())
    }

    /// Kills the process after `failure` and says what happened.
    async fn fail(&mut self, failure: Failure, request: &Request) -> EnvError {
        let mut running = self.running.take().expect("a process was running");
        let _ = running.child.start_kill();
        let status = tokio::time::timeout(Duration::from_secs(2), running.child.wait())
            .await
            .ok()
            .and_then(Result::ok);
        // Let the stderr reader take the last lines (a child of the process may hold the
        // pipe open: then not all of them).
        let _ = tokio::time::timeout(Duration::from_millis(500), &mut running.stderr_reader).await;
        running.stderr_reader.abort();
        let stderr = running
            .stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        let op = request_op(request);
        let error = match failure {
            Failure::Hung(waited) => EnvError::Timeout {
                op,
                seconds: waited.as_secs_f64(),
            },
            Failure::Closed => EnvError::Crashed {
                message: format!(
                    "it exited during '{op}' ({}){}",
                    status.map_or_else(|| "still running".to_string(), |s| s.to_string()),
                    if stderr.is_empty() {
                        String::new()
                    } else {
                        format!("; its stderr ends with:\n{stderr}")
                    }
                ),
            },
            Failure::TooLong => EnvError::LineTooLong {
                op,
                limit: self.config.max_line_bytes,
            },
            Failure::Garbage(message) => EnvError::Garbage {
                message: format!("in reply to '{op}': {message}"),
            },
        };
        self.failures += 1;
        self.restarting = true;
        self.last_failure = Some(error.to_string());
        tracing::warn!("environment process failed: {error}");
        error
    }

    async fn close(&mut self) {
        if let Some(mut running) = self.running.take() {
            let id = self.next_id;
            self.next_id += 1;
            let max_line = self.config.max_line_bytes;
            let _ = tokio::time::timeout(
                self.config.timeout,
                running.exchange(id, &Request::Close, max_line),
            )
            .await;
            drop(running.stdin);
            if tokio::time::timeout(self.config.timeout, running.child.wait())
                .await
                .is_err()
            {
                let _ = running.child.kill().await;
            }
        }
    }
}

/// A reply line, decoded.
enum Reply {
    Ok(Value),
    Refused(Refusal),
}

/// Why a process is given up.
enum Failure {
    /// No reply within this time.
    Hung(Duration),
    Closed,
    TooLong,
    Garbage(String),
}

impl Running {
    async fn exchange(
        &mut self,
        id: u64,
        request: &Request,
        max_line: usize,
    ) -> Result<Reply, Failure> {
        let mut line = serde_json::to_value(request).expect("requests serialise");
        line["id"] = id.into();
        let mut bytes = serde_json::to_vec(&line).expect("values serialise");
        bytes.push(b'\n');
        self.stdin
            .write_all(&bytes)
            .await
            .map_err(|_| Failure::Closed)?;
        self.stdin.flush().await.map_err(|_| Failure::Closed)?;
        let mut reply = Vec::new();
        let limit = u64::try_from(max_line)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let read = (&mut self.stdout)
            .take(limit)
            .read_until(b'\n', &mut reply)
            .await
            .map_err(|_| Failure::Closed)?;
        if read == 0 {
            return Err(Failure::Closed);
        }
        if reply.last() != Some(&b'\n') {
            return Err(if reply.len() > max_line {
                Failure::TooLong
            } else {
                Failure::Closed
            });
        }
        parse_reply(&reply, id).map_err(Failure::Garbage)
    }
}

/// Decodes a reply line to the request `id`.
fn parse_reply(line: &[u8], id: u64) -> Result<Reply, String> {
    let excerpt = || {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end();
        if text.len() > 200 {
            format!("{}...", &text[..text.floor_char_boundary(200)])
        } else {
            text.to_string()
        }
    };
    let mut value: Value = serde_json::from_slice(line)
        .map_err(|e| format!("not a JSON line ({e}): {:?}", excerpt()))?;
    let object = value
        .as_object_mut()
        .ok_or_else(|| format!("not a JSON object: {:?}", excerpt()))?;
    if object.get("id").and_then(Value::as_u64) != Some(id) {
        return Err(format!(
            "expected a reply with \"id\": {id}, got {:?}",
            excerpt()
        ));
    }
    object.remove("id");
    match object.remove("ok") {
        Some(Value::Bool(true)) => Ok(Reply::Ok(value)),
        Some(Value::Bool(false)) => {
            let refusal = object
                .remove("error")
                .and_then(|e| serde_json::from_value::<Refusal>(e).ok())
                .ok_or_else(|| {
                    format!(
                        "\"ok\": false without an \"error\" object with a \"message\": {:?}",
                        excerpt()
                    )
                })?;
            Ok(Reply::Refused(refusal))
        }
        _ => Err(format!("no \"ok\": true or false: {:?}", excerpt())),
    }
}

fn request_op(request: &Request) -> &'static str {
    match request {
        Request::Describe => "describe",
        Request::Reset(_) => "reset",
        Request::Act { .. } => "act",
        Request::Check => "check",
        Request::Close => "close",
    }
}
