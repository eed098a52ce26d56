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
mod pool;
mod snapshot;
mod ticker;

pub use capability::{Capabilities, HostCallContext, HostError, HostFunction, HostFunctions};
pub use guest::{GUEST_WASM, guest_sha256};
pub use limits::{Limits, MAX_JS_STACK_BYTES, MAX_MEMORY_BYTES};
pub use outcome::{Failure, FailureKind, LogLine, LogStream, Outcome, RunStats};

use host::{HostState, RunContext};
use pool::{MAX_WASM_STACK, Pool};
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use ticker::Ticker;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, InstancePre, PoolingAllocationConfig};

/// Memory a finished call may leave resident in its instance slot (see `build_engine`). A
/// trivial call dirties under 512 KiB of the snapshot's memory.
const KEEP_RESIDENT_BYTES: usize = 2 << 20;

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
    pool: Pool,
}

impl Sandbox {
    /// Builds the engine and loads the guest (from the cache, or compiling it once).
    pub fn new(config: SandboxConfig, host_functions: HostFunctions) -> Result<Self, SandboxError> {
        let slots = config.max_concurrent_calls.max(1);
        let engine = build_engine(slots)?;
        let module = cache::load_guest(&engine, config.cache_dir.as_deref())?;
        let pre = host::instantiate_pre(&engine, &module)?;
        let ticker = Ticker::start(&engine, slots);
        let pool = Pool::start(slots)
            .map_err(|e| SandboxError::Engine(format!("cannot start sandbox threads: {e}")))?;
        Ok(Sandbox {
            inner: Arc::new(Inner {
                engine,
                pre,
                host_functions,
                ticker,
                pool,
            }),
        })
    }

    /// The host functions this sandbox offers.
    pub fn host_functions(&self) -> &HostFunctions {
        &self.inner.host_functions
    }

    /// Runs one call to completion. Blocks the current thread; from async code use
    /// `spawn_blocking`. Skill failures are in [`Outcome::result`]; `Err` means the host side
    /// failed (a bug or an exhausted machine), never that the skill misbehaved.
    pub fn run(&self, call: Call<'_>) -> Result<Outcome, SandboxError> {
        let owned = match OwnedCall::checked(call) {
            Ok(owned) => owned,
            Err(early) => return early,
        };
        let inner = Arc::clone(&self.inner);
        self.inner
            .pool
            .run(move || inner.run(&owned))
            .unwrap_or_else(|| Err(worker_panicked()))
    }

    /// Runs many calls, at most `parallelism` at a time, and returns their results in the
    /// order of `calls`. Each call is exactly what [`Sandbox::run`] would do (a fresh instance,
    /// its own limits); this only saves a hand-off to a worker thread and back per call: each
    /// of the `parallelism` workers takes call after call.
    pub fn run_many(
        &self,
        calls: &[Call<'_>],
        parallelism: usize,
    ) -> Vec<Result<Outcome, SandboxError>> {
        let mut results: Vec<Option<Result<Outcome, SandboxError>>> = Vec::new();
        let mut queued = Vec::new(); // (index in `calls`, the call)
        for (i, call) in calls.iter().enumerate() {
            match OwnedCall::checked(*call) {
                Ok(owned) => {
                    results.push(None);
                    queued.push((i, owned));
                }
                Err(early) => results.push(Some(early)),
            }
        }
        let queued = Arc::new(queued);
        let done = Arc::new(Mutex::new(Vec::with_capacity(queued.len())));
        let next = Arc::new(AtomicUsize::new(0));
        let workers = parallelism
            .clamp(1, self.inner.pool.workers())
            .min(queued.len());
        let replies: Vec<_> = (0..workers)
            .map(|_| {
                let (inner, queued, done, next) = (
                    Arc::clone(&self.inner),
                    Arc::clone(&queued),
                    Arc::clone(&done),
                    Arc::clone(&next),
                );
                self.inner.pool.spawn(move || {
                    while let Some((i, owned)) = queued.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let outcome =
                            std::panic::catch_unwind(AssertUnwindSafe(|| inner.run(owned)))
                                .unwrap_or_else(|_| Err(worker_panicked()));
                        done.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((*i, outcome));
                    }
                })
            })
            .collect();
        for reply in replies {
            // Each worker catches its calls' panics, so it only ends by finishing the queue.
            let _ = reply.recv();
        }
        for (i, outcome) in std::mem::take(&mut *done.lock().unwrap_or_else(|e| e.into_inner())) {
            results[i] = Some(outcome);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(worker_panicked())))
            .collect()
    }
}

impl Inner {
    /// Runs one checked call on the current thread, which must be a sandbox worker.
    fn run(&self, owned: &OwnedCall) -> Result<Outcome, SandboxError> {
        let _slot = self.ticker.acquire();
        let started = Instant::now();
        let ctx = RunContext {
            call: Call {
                source: &owned.source,
                entry: &owned.entry,
                args: &owned.args,
                capabilities: &owned.capabilities,
                limits: &owned.limits,
            },
            started,
            deadline: started + owned.limits.wall_clock,
            host_functions: &self.host_functions,
        };
        host::run(&self.engine, &self.pre, ctx)
    }
}

fn worker_panicked() -> SandboxError {
    SandboxError::Host("a sandbox worker panicked".into())
}

/// A call's inputs, owned: calls run on sandbox workers (see `pool`).
struct OwnedCall {
    source: String,
    entry: String,
    args: Vec<Value>,
    capabilities: Capabilities,
    limits: Limits,
}

impl OwnedCall {
    /// The call, owned, if it can run; otherwise what running it ends in.
    fn checked(call: Call<'_>) -> Result<OwnedCall, Result<Outcome, SandboxError>> {
        call.limits
            .validate()
            .map_err(|e| Err(SandboxError::Limits(e)))?;
        if !is_identifier(call.entry) {
            return Err(Ok(Outcome {
                result: Err(Failure::new(
                    FailureKind::InvalidSkill,
                    format!("entry {:?} is not a JavaScript identifier", call.entry),
                )),
                logs: Vec::new(),
                stats: RunStats::default(),
            }));
        }
        Ok(OwnedCall {
            source: call.source.to_owned(),
            entry: call.entry.to_owned(),
            args: call.args.to_vec(),
            capabilities: call.capabilities.clone(),
            limits: call.limits.clone(),
        })
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
        // wasmtime-wasi turns on wasmtime's async support, which requires an async stack at
        // least as large; calls here are synchronous, so these stacks are never used.
        .async_stack_size(MAX_WASM_STACK + (1 << 20))
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
