//! The skill sandbox: JavaScript run by QuickJS-ng compiled to WebAssembly, in wasmtime.
//!
//! One [`Sandbox`] owns one engine, the compiled guest module (loaded from an on-disk cache
//! when possible) and an `InstancePre`; every [`Sandbox::run`] gets a fresh store and a fresh
//! instance from the pooling allocator, so nothing a call does survives into the next one.
//! Every call is bounded by [`Limits`]: fuel, a wall-clock deadline (an epoch callback that
//! checks a real `Instant`), memory, output bytes and host calls. Every failure comes back
//! classified as a [`FailureKind`].
//!
//! The sandbox knows nothing of skills, tests, libraries or agents: it runs a source text's
//! entry function with JSON arguments and a grant of [`Capabilities`].

mod cache;
pub mod capability;
mod guest;
mod host;
mod limits;
mod outcome;
mod snapshot;
mod ticker;

pub use capability::{
    CallScope, Capabilities, HostCallContext, HostError, HostFunction, HostFunctions,
};
pub use guest::{GUEST_WASM, guest_sha256};
pub use limits::{Limits, MAX_JS_STACK_BYTES, MAX_MEMORY_BYTES};
pub use outcome::{Failure, FailureKind, LogLine, LogStream, Outcome, RunStats};

use host::{HostState, RunContext};
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use ticker::Ticker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, InstancePre, PoolingAllocationConfig};

/// The histogram of sandbox calls' wall time in seconds, labelled by `outcome` (`ok`, a
/// failure kind such as `timeout`, or `host_error`), recorded through the `metrics` facade.
pub const METRIC_CALL_SECONDS: &str = "skillforge_sandbox_call_seconds";

/// Memory a finished call may leave resident in its instance slot (see `build_engine`). A
/// trivial call dirties under 512 KiB of the snapshot's memory.
const KEEP_RESIDENT_BYTES: usize = 2 << 20;

/// Native stack the guest may use (the engine's `max_wasm_stack`). Deep JS recursion needs
/// about 16 times the interpreter's own stack limit before QuickJS's check fires.
const MAX_WASM_STACK: usize = 8 << 20;
/// The fiber stack each call runs on: the guest's allowance plus room for the host functions
/// it calls at its deepest point.
const CALL_STACK: usize = MAX_WASM_STACK + (4 << 20);

/// The exact wasmtime release the compiled-module cache is keyed by.
pub const WASMTIME_VERSION: &str = "48.0.8";

/// Errors of the sandbox itself (not of the skill it runs).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The engine could not be configured.
    #[error("cannot configure the WebAssembly engine: {0}")]
    Engine(String),
    /// The guest module could not be compiled or loaded.
    #[error("cannot load the QuickJS guest module: {0}")]
    Module(String),
    /// The limits are unusable.
    #[error("invalid sandbox limits: {0}")]
    Limits(String),
    /// Instantiation or the host side of a call failed.
    #[error("sandbox call failed on the host side: {0}")]
    Host(String),
}

/// How a [`Sandbox`] is set up.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where compiled modules are cached; `None` compiles in memory every time.
    pub cache_dir: Option<PathBuf>,
    /// How many calls may run at once (instance slots in the pooling allocator);
    /// further calls wait for a slot.
    pub max_concurrent_calls: u32,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as u32);
        SandboxConfig {
            cache_dir: default_cache_dir().map(|dir| dir.join("modules")),
            max_concurrent_calls: (cores * 4).max(8),
        }
    }
}

/// The cache directory: `$SKILLFORGE_CACHE`, else `$XDG_CACHE_HOME/skillforge`, else
/// `~/.cache/skillforge`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SKILLFORGE_CACHE") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("skillforge"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("skillforge"))
}

/// One call: run `entry(...args)` from `source` with `capabilities`, within `limits`.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The JavaScript program (script mode).
    pub source: &'a str,
    /// The name of the function to call; must be a JS identifier.
    pub entry: &'a str,
    /// Positional arguments.
    pub args: &'a [Value],
    /// What the call may reach.
    pub capabilities: &'a Capabilities,
    /// Its limits.
    pub limits: &'a Limits,
}

/// A sandbox: cheap to clone, safe to share between threads.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    pre: InstancePre<HostState>,
    host_functions: HostFunctions,
    ticker: Ticker,
    /// Instance slots: how many calls may run at once.
    slots: usize,
}

impl Sandbox {
    /// Builds the engine and loads the guest (from the cache, or compiling it once).
    pub fn new(config: SandboxConfig, host_functions: HostFunctions) -> Result<Self, SandboxError> {
        let slots = config.max_concurrent_calls.max(1);
        let engine = build_engine(slots)?;
        let module = cache::load_guest(&engine, config.cache_dir.as_deref())?;
        let pre = host::instantiate_pre(&engine, &module)?;
        let ticker = Ticker::start(&engine, slots);
        Ok(Sandbox {
            inner: Arc::new(Inner {
                engine,
                pre,
                host_functions,
                ticker,
                slots: slots as usize,
            }),
        })
    }

    /// The host functions this sandbox offers.
    pub fn host_functions(&self) -> &HostFunctions {
        &self.inner.host_functions
    }

    /// Runs one call to completion on the current thread (the guest itself runs on a fiber
    /// stack of the engine's, so the caller's stack size does not matter). Blocks; from async
    /// code use `spawn_blocking`. Skill failures are in [`Outcome::result`]; `Err` means the
    /// host side failed (a bug or an exhausted machine), never that the skill misbehaved. A
    /// panic on the host side of the call is caught and reported as such an `Err`.
    pub fn run(&self, call: Call<'_>) -> Result<Outcome, SandboxError> {
        call.limits.validate().map_err(SandboxError::Limits)?;
        if !is_identifier(call.entry) {
            return Ok(Outcome {
                result: Err(Failure::new(
                    FailureKind::InvalidSkill,
                    format!("entry {:?} is not a JavaScript identifier", call.entry),
                )),
                logs: Vec::new(),
                stats: RunStats::default(),
            });
        }
        let started = std::time::Instant::now();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.run(call)))
            .unwrap_or_else(|_| {
                Err(SandboxError::Host(
                    "the host side of a sandbox call panicked".into(),
                ))
            });
        // For whoever installed a `metrics` recorder (the daemon's /metrics); a no-op else.
        let outcome = match &result {
            Ok(outcome) => outcome
                .result
                .as_ref()
                .err()
                .map_or("ok", |failure| failure.kind.as_str()),
            Err(_) => "host_error",
        };
        metrics::histogram!(METRIC_CALL_SECONDS, "outcome" => outcome)
            .record(started.elapsed().as_secs_f64());
        result
    }

    /// Runs many calls on `parallelism` threads (at most `max_concurrent_calls`), each taking
    /// call after call, and returns their results in the order of `calls`. Each call is
    /// exactly what [`Sandbox::run`] would do: a fresh instance, its own limits.
    pub fn run_many(
        &self,
        calls: &[Call<'_>],
        parallelism: usize,
    ) -> Vec<Result<Outcome, SandboxError>> {
        let results: Mutex<Vec<Option<Result<Outcome, SandboxError>>>> =
            Mutex::new((0..calls.len()).map(|_| None).collect());
        let next = AtomicUsize::new(0);
        let threads = parallelism.clamp(1, self.inner.slots).min(calls.len());
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(call) = calls.get(i) else { break };
                        let outcome = self.run(*call);
                        results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(outcome);
                    }
                });
            }
        });
        results
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .into_iter()
            .map(|r| r.expect("every call ran"))
            .collect()
    }
}

impl Inner {
    /// Runs one checked call.
    fn run(&self, call: Call<'_>) -> Result<Outcome, SandboxError> {
        let _slot = self.ticker.acquire();
        let started = Instant::now();
        let ctx = RunContext {
            call,
            started,
            deadline: started + call.limits.wall_clock,
            host_functions: &self.host_functions,
        };
        host::run(&self.engine, &self.pre, ctx)
    }
}

fn build_engine(slots: u32) -> Result<Engine, SandboxError> {
    let mut pool = PoolingAllocationConfig::default();
    // When a call ends, its slot's memory goes back to the snapshot's contents. By default
    // wasmtime `madvise`s the dirty pages away, so the next call takes a copy-on-write fault
    // (and, with several threads, a TLB shootdown) for every page it writes again: a third of
    // a trivial call. With the `PAGEMAP_SCAN` ioctl (Linux 6.7+; `Auto` falls back to that
    // default elsewhere) wasmtime finds the pages the call wrote and copies the snapshot's bytes
    // back over them, up to `KEEP_RESIDENT_BYTES`; they stay mapped for the next call.
    pool.total_core_instances(slots)
        .total_memories(slots)
        .total_tables(slots)
        .total_stacks(slots)
        .max_memory_size(MAX_MEMORY_BYTES)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_BYTES)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK)
        // Calls run with `call_async` so that the guest runs on one of these fiber stacks (one
        // per slot, reused), not on the caller's thread stack, which may be 2 MiB.
        .async_stack_size(CALL_STACK)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|e| SandboxError::Engine(format!("{e:#}")))
}

/// True for a plain JavaScript identifier (ASCII letters, digits, `_`, `$`).
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}
