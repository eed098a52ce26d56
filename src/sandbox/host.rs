//! The host side of one call: the store, the guest's imports, and classification of how the
//! call ended.

use super::capability::{CallScope, FROZEN_EPOCH_SECS, HostCallContext, HostFunctions};
use super::outcome::{Failure, FailureKind, LogLine, LogStream, Outcome, RunStats};
use super::{Call, SandboxError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};
use wasmtime::{
    Caller, Engine, Extern, InstancePre, Linker, Module, ResourceLimiter, Store, Trap,
    UpdateDeadline,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, I32Exit, WasiCtxBuilder};

/// Fuel charged for each host call, on top of what the host function itself costs in time.
const HOST_CALL_FUEL: u64 = 10_000;
/// The guest's own stderr (not console output) is kept for diagnostics, up to this size.
const GUEST_STDERR_BYTES: usize = 8 << 10;
/// Largest wasm table the guest may grow.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// The byte sequence the WASI random source replays without the `random` grant: every byte
/// once, in a scrambled order.
const FIXED_RANDOM: [u8; 256] = {
    let mut bytes = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        bytes[i] = (i as u8).wrapping_mul(167).wrapping_add(13);
        i += 1;
    }
    bytes
};

/// Everything one call needs from the sandbox.
pub(super) struct RunContext<'a> {
    pub call: Call<'a>,
    pub started: Instant,
    pub deadline: Instant,
    pub host_functions: &'a HostFunctions,
}

/// Why the host stopped the guest. Carried through wasmtime as the trap's error value.
#[derive(Debug, thiserror::Error)]
enum HostStop {
    #[error("wall-clock limit of {0:?} exceeded")]
    Timeout(Duration),
    #[error("output limit of {0} bytes exceeded")]
    Output(usize),
    #[error("host-call limit of {0} calls exceeded{1}")]
    HostCalls(u32, String),
    #[error("guest protocol violation: {0}")]
    Protocol(String),
}

pub(super) struct HostState {
    wasi: WasiP1Ctx,
    memory: MemoryLimiter,
    output_limit: usize,
    output_used: usize,
    logs: Vec<LogLine>,
    result: Option<Vec<u8>>,
    host_calls: u32,
    max_host_calls: u32,
    call_tally: CallTally,
    capabilities: super::Capabilities,
    host_functions: HostFunctions,
    /// What host functions keep for this call; dropped with the store when the call ends.
    scope: CallScope,
    deadline: Instant,
    wall_clock: Duration,
}

/// The host calls of the second half of a sandbox call's allowance, counted by name and
/// arguments, so that a call stopped at the host-call limit can say what it kept asking for
/// (a loop waiting for something its calls never bring about). A call that stays within half
/// its allowance, as every working skill does, never pays for the counting.
#[derive(Default)]
struct CallTally {
    /// Keyed by a hash of the name and arguments: a call's text is made once, when first
    /// seen, and its last answer's first bytes are kept in a buffer reused from call to call.
    calls: HashMap<u64, TalliedCall>,
    /// Calls counted.
    counted: u32,
}

/// One distinct call in a [`CallTally`].
struct TalliedCall {
    /// `name args`, cut to [`CallTally::SHOWN_BYTES`].
    call: String,
    count: u32,
    /// The first [`CallTally::SHOWN_BYTES`] bytes of its last answer (JSON).
    answer: Vec<u8>,
    /// The last answer was longer.
    answer_cut: bool,
}

impl CallTally {
    /// How much of a call, and of its answer, the tally keeps.
    const SHOWN_BYTES: usize = 160;

    fn record(&mut self, name: &str, args: &[u8], answer: &[u8]) {
        let mut hasher = DefaultHasher::new();
        name.hash(&mut hasher);
        args.hash(&mut hasher);
        self.counted += 1;
        let tallied = self.calls.entry(hasher.finish()).or_insert_with(|| {
            let call = format!("{name} {}", String::from_utf8_lossy(args));
            let call = if call.len() > Self::SHOWN_BYTES {
                format!(
                    "{}...",
                    &call[..call.floor_char_boundary(Self::SHOWN_BYTES)]
                )
            } else {
                call
            };
            TalliedCall {
                call,
                count: 0,
                answer: Vec::new(),
                answer_cut: false,
            }
        });
        tallied.count += 1;
        tallied.answer.clear();
        tallied
            .answer
            .extend_from_slice(&answer[..answer.len().min(Self::SHOWN_BYTES)]);
        tallied.answer_cut = answer.len() > Self::SHOWN_BYTES;
    }

    /// The two calls counted most often, with their counts and last answers (empty when none
    /// was counted).
    fn most_repeated(&self) -> String {
        let mut calls: Vec<&TalliedCall> = self.calls.values().collect();
        calls.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.call.cmp(&b.call)));
        let shown: Vec<String> = calls
            .iter()
            .take(2)
            .map(|tallied| {
                format!(
                    "`{}` {} times (last answered {}{})",
                    tallied.call,
                    tallied.count,
                    String::from_utf8_lossy(&tallied.answer),
                    if tallied.answer_cut { "..." } else { "" }
                )
            })
            .collect();
        if shown.is_empty() {
            String::new()
        } else {
            format!(
                "; of its last {} calls, the most made: {}",
                self.counted,
                shown.join(", ")
            )
        }
    }
}

/// Denies memory growth past the call's limit and remembers that it did.
struct MemoryLimiter {
    limit: usize,
    peak: usize,
    denied: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.denied = true;
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// `Date` without the clock grant: always [`FROZEN_EPOCH_SECS`].
struct FrozenWallClock;

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        Duration::from_secs(FROZEN_EPOCH_SECS)
    }
}

/// `performance.now()` without the clock grant: always zero.
struct FrozenMonotonicClock;

impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Links WASI preview 1 and the two `skillforge` imports, and pre-instantiates the guest.
pub(super) fn instantiate_pre(
    engine: &Engine,
    module: &Module,
) -> Result<InstancePre<HostState>, SandboxError> {
    let mut linker: Linker<HostState> = Linker::new(engine);
    let link_err = |e: wasmtime::Error| SandboxError::Module(format!("{e:#}"));
    // The async flavour: the call polls these itself. (The sync one blocks on a tokio
    // runtime inside every WASI call, which costs time and panics on a tokio worker thread.)
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |state: &mut HostState| &mut state.wasi)
        .map_err(link_err)?;
    linker
        .func_wrap("skillforge", "emit", emit)
        .map_err(link_err)?;
    // Async because answering calls back into the guest (`sf_alloc`), and a call made inside
    // an async call must be async too.
    linker
        .func_wrap_async(
            "skillforge",
            "host_call",
            |caller, (name_ptr, name_len, args_ptr, args_len): (i32, i32, i32, i32)| {
                Box::new(host_call(caller, name_ptr, name_len, args_ptr, args_len))
            },
        )
        .map_err(link_err)?;
    linker.instantiate_pre(module).map_err(link_err)
}

/// A fresh store for one call: WASI with `input` on stdin, frozen clocks and a fixed random
/// sequence unless granted, the memory limiter, fuel and the wall-clock deadline.
fn new_store(
    engine: &Engine,
    input: Vec<u8>,
    capabilities: &super::Capabilities,
    limits: &super::Limits,
    host_functions: &HostFunctions,
    deadline: Instant,
    stderr: MemoryOutputPipe,
) -> Result<Store<HostState>, SandboxError> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdin(MemoryInputPipe::new(input))
        .stdout(MemoryOutputPipe::new(GUEST_STDERR_BYTES))
        .stderr(stderr);
    if !capabilities.clock() {
        wasi.wall_clock(FrozenWallClock)
            .monotonic_clock(FrozenMonotonicClock);
    }
    if !capabilities.random() {
        wasi.secure_random(wasmtime_wasi::Deterministic::new(FIXED_RANDOM.to_vec()))
            .insecure_random(wasmtime_wasi::Deterministic::new(FIXED_RANDOM.to_vec()))
            .insecure_random_seed(0x5eed);
    }
    let state = HostState {
        wasi: wasi.build_p1(),
        memory: MemoryLimiter {
            limit: limits.memory_bytes,
            peak: 0,
            denied: false,
        },
        output_limit: limits.output_bytes,
        output_used: 0,
        logs: Vec::new(),
        result: None,
        host_calls: 0,
        max_host_calls: limits.host_calls,
        call_tally: CallTally::default(),
        capabilities: capabilities.clone(),
        host_functions: host_functions.clone(),
        scope: CallScope::default(),
        deadline,
        wall_clock: limits.wall_clock,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.memory);
    store
        .set_fuel(limits.fuel)
        .map_err(|e| SandboxError::Host(format!("{e:#}")))?;
    let wall_clock = limits.wall_clock;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Err(wasmtime::Error::new(HostStop::Timeout(wall_clock)))
        } else {
            Ok(UpdateDeadline::Continue(1))
        }
    });
    Ok(store)
}

/// Instantiates `pre` with no input and runs its `init` export: the state a start-up
/// snapshot captures. Deterministic: no capabilities, so frozen clocks and fixed randomness.
pub(super) fn run_initializer(
    engine: &Engine,
    pre: &InstancePre<HostState>,
    init: &str,
) -> Result<(Store<HostState>, wasmtime::Instance), SandboxError> {
    let limits = super::Limits {
        wall_clock: Duration::from_secs(60),
        ..super::Limits::default()
    };
    let mut store = new_store(
        engine,
        Vec::new(),
        &super::Capabilities::none(),
        &limits,
        &HostFunctions::empty(),
        Instant::now() + limits.wall_clock,
        MemoryOutputPipe::new(GUEST_STDERR_BYTES),
    )?;
    let fail = |e: wasmtime::Error| SandboxError::Module(format!("guest initializer: {e:#}"));
    // Async like every call (see `run`).
    let instance = futures::executor::block_on(async {
        let instance = pre.instantiate_async(&mut store).await?;
        instance
            .get_typed_func::<(), ()>(&mut store, init)?
            .call_async(&mut store, ())
            .await?;
        Ok(instance)
    })
    .map_err(fail)?;
    Ok((store, instance))
}

/// The first line of the guest's stdin (guest/ABI.md); the source follows it, raw, so it is
/// neither escaped here nor parsed as JSON in the guest.
#[derive(Serialize)]
struct InputHeader<'a> {
    entry: &'a str,
    args: &'a [Value],
    max_stack_bytes: u32,
}

/// Runs one call in a fresh store.
pub(super) fn run(
    engine: &Engine,
    pre: &InstancePre<HostState>,
    ctx: RunContext<'_>,
) -> Result<Outcome, SandboxError> {
    let call = ctx.call;
    let header = InputHeader {
        entry: call.entry,
        args: call.args,
        max_stack_bytes: call.limits.js_stack_bytes,
    };
    // Compact JSON holds no raw newline, so the first one ends the header.
    let helpers = ctx.host_functions.helpers_source();
    let mut input = Vec::with_capacity(call.source.len() + helpers.len() + 256);
    serde_json::to_writer(&mut input, &header).map_err(|e| SandboxError::Host(e.to_string()))?;
    input.push(b'\n');
    input.extend_from_slice(call.source.as_bytes());
    // After the program, so that its line numbers stay its own and its definitions win.
    input.extend_from_slice(helpers.as_bytes());
    let stderr = MemoryOutputPipe::new(GUEST_STDERR_BYTES);
    let mut store = new_store(
        engine,
        input,
        call.capabilities,
        call.limits,
        ctx.host_functions,
        ctx.deadline,
        stderr.clone(),
    )?;

    // Async to run the guest on a fiber stack from the engine's pool (see `Sandbox::run`).
    // Nothing the guest can reach ever waits (in-memory stdio, clocks, randomness, our two
    // imports), so the future completes in its first poll.
    let ended = futures::executor::block_on(async {
        let instance = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| SandboxError::Host(format!("cannot instantiate the guest: {e:#}")))?;
        let start = instance
            .get_typed_func::<(), ()>(&mut store, "_start")
            .map_err(|e| SandboxError::Module(format!("{e:#}")))?;
        Ok::<_, SandboxError>(start.call_async(&mut store, ()).await)
    })?;

    let fuel_left = store.get_fuel().unwrap_or(0);
    let state = store.into_data();
    let stats = RunStats {
        wall_ms: ctx.started.elapsed().as_secs_f64() * 1e3,
        fuel_used: call.limits.fuel.saturating_sub(fuel_left),
        host_calls: state.host_calls,
        memory_bytes: state.memory.peak,
        output_bytes: state.output_used,
    };
    let guest_stderr = String::from_utf8_lossy(&stderr.contents()).into_owned();
    let result = classify(ended, &state, &guest_stderr);
    Ok(Outcome {
        result,
        logs: state.logs,
        stats,
    })
}

/// The result the guest emits (kind 2).
#[derive(Deserialize)]
struct GuestResult {
    ok: bool,
    #[serde(default)]
    value: Value,
    #[serde(default)]
    error: Option<GuestError>,
}

#[derive(Deserialize)]
struct GuestError {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    stack: Option<String>,
}

/// Turns how `_start` ended, plus what the guest emitted, into a value or a failure.
fn classify(
    ended: wasmtime::Result<()>,
    state: &HostState,
    guest_stderr: &str,
) -> Result<Value, Failure> {
    if let Err(err) = ended {
        let exited_cleanly = err
            .downcast_ref::<I32Exit>()
            .is_some_and(|exit| exit.0 == 0);
        if !exited_cleanly {
            return Err(classify_trap(&err, state, guest_stderr));
        }
    }
    let Some(bytes) = &state.result else {
        return Err(Failure::new(
            if state.memory.denied {
                FailureKind::MemoryLimit
            } else {
                FailureKind::JsError
            },
            format!(
                "the guest ended without a result{}",
                stderr_suffix(guest_stderr)
            ),
        ));
    };
    let parsed: GuestResult = serde_json::from_slice(bytes).map_err(|e| {
        // serde_json stops at 128 levels of nesting; its error names no depth.
        let why = if e.to_string().starts_with("recursion limit exceeded") {
            "the result nests arrays or objects deeper than the host reads (about 127 levels)"
                .to_string()
        } else {
            format!("the guest emitted an unreadable result: {e}")
        };
        Failure::new(FailureKind::JsError, why)
    })?;
    if parsed.ok {
        return Ok(parsed.value);
    }
    let error = parsed.error.unwrap_or(GuestError {
        name: None,
        message: None,
        stack: None,
    });
    let name = error.name.unwrap_or_else(|| "Error".into());
    let message = error.message.unwrap_or_default();
    let kind = js_error_kind(&name, &message, state.memory.denied);
    Err(Failure {
        kind,
        name: Some(name),
        message,
        stack: error.stack.filter(|s| !s.is_empty()),
    })
}

/// Which kind a JavaScript error belongs to.
fn js_error_kind(name: &str, message: &str, memory_denied: bool) -> FailureKind {
    let lower = message.to_ascii_lowercase();
    if memory_denied || (name == "InternalError" && lower.contains("out of memory")) {
        FailureKind::MemoryLimit
    } else if (name == "RangeError" || name == "InternalError")
        && (lower.contains("stack size exceeded") || lower.contains("stack overflow"))
    {
        FailureKind::StackOverflow
    } else if name == "CapabilityDenied" {
        FailureKind::CapabilityDenied
    } else {
        FailureKind::JsError
    }
}

fn classify_trap(err: &wasmtime::Error, state: &HostState, guest_stderr: &str) -> Failure {
    if let Some(stop) = err.downcast_ref::<HostStop>() {
        let kind = match stop {
            HostStop::Timeout(_) => FailureKind::Timeout,
            HostStop::Output(_) => FailureKind::OutputLimit,
            HostStop::HostCalls(..) => FailureKind::CpuLimit,
            HostStop::Protocol(_) => FailureKind::JsError,
        };
        return Failure::new(kind, stop.to_string());
    }
    let denied = state.memory.denied;
    let Some(trap) = err.downcast_ref::<Trap>() else {
        return Failure::new(
            FailureKind::JsError,
            format!("the guest stopped: {err:#}{}", stderr_suffix(guest_stderr)),
        );
    };
    let (kind, message) = match trap {
        Trap::OutOfFuel => (
            FailureKind::CpuLimit,
            "fuel exhausted (CPU limit)".to_string(),
        ),
        Trap::Interrupt => (
            FailureKind::Timeout,
            "interrupted at the wall-clock limit".to_string(),
        ),
        Trap::StackOverflow => (
            FailureKind::StackOverflow,
            "the guest's native stack overflowed".to_string(),
        ),
        _ if denied => (
            FailureKind::MemoryLimit,
            format!(
                "memory limit of {} bytes reached ({trap})",
                state.memory.limit
            ),
        ),
        // The shadow stack sits at the bottom of linear memory (`--stack-first`), so running
        // off it is an out-of-bounds access rather than silent heap corruption.
        Trap::MemoryOutOfBounds => (
            FailureKind::StackOverflow,
            "the guest's shadow stack overflowed".to_string(),
        ),
        other => (
            FailureKind::JsError,
            format!("the guest trapped: {other}{}", stderr_suffix(guest_stderr)),
        ),
    };
    Failure::new(kind, message)
}

fn stderr_suffix(stderr: &str) -> String {
    let tail = stderr.trim();
    if tail.is_empty() {
        String::new()
    } else {
        format!(" (guest stderr: {tail})")
    }
}

/// Copies `len` bytes at `ptr` out of the guest's memory.
fn read_guest(caller: &mut Caller<'_, HostState>, ptr: i32, len: i32) -> wasmtime::Result<Vec<u8>> {
    let memory = caller
        .get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or_else(|| HostStop::Protocol("the guest exports no memory".into()))?;
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    memory
        .data(&caller)
        .get(start..start.saturating_add(len))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| {
            HostStop::Protocol(format!("buffer {start}+{len} is outside guest memory")).into()
        })
}

/// `skillforge.emit(kind, ptr, len)`: console output (0 stdout, 1 stderr) or the result (2).
fn emit(mut caller: Caller<'_, HostState>, kind: i32, ptr: i32, len: i32) -> wasmtime::Result<()> {
    let state = caller.data_mut();
    state.output_used = state.output_used.saturating_add(len as u32 as usize);
    if state.output_used > state.output_limit {
        return Err(HostStop::Output(state.output_limit).into());
    }
    let bytes = read_guest(&mut caller, ptr, len)?;
    let state = caller.data_mut();
    match kind {
        0 | 1 => state.logs.push(LogLine {
            stream: if kind == 0 {
                LogStream::Stdout
            } else {
                LogStream::Stderr
            },
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }),
        2 if state.result.is_none() => state.result = Some(bytes),
        2 => return Err(HostStop::Protocol("the guest emitted two results".into()).into()),
        other => return Err(HostStop::Protocol(format!("unknown emit kind {other}")).into()),
    }
    Ok(())
}

/// `skillforge.host_call(name, args) -> (ptr << 32) | len`: the one capability gateway.
async fn host_call(
    mut caller: Caller<'_, HostState>,
    name_ptr: i32,
    name_len: i32,
    args_ptr: i32,
    args_len: i32,
) -> wasmtime::Result<i64> {
    {
        let state = caller.data_mut();
        state.host_calls += 1;
        if state.host_calls > state.max_host_calls {
            let repeated = state.call_tally.most_repeated();
            return Err(HostStop::HostCalls(state.max_host_calls, repeated).into());
        }
    }
    let fuel = caller.get_fuel()?;
    if fuel < HOST_CALL_FUEL {
        caller.set_fuel(0)?;
        return Err(Trap::OutOfFuel.into());
    }
    caller.set_fuel(fuel - HOST_CALL_FUEL)?;

    let name = String::from_utf8(read_guest(&mut caller, name_ptr, name_len)?)
        .map_err(|_| HostStop::Protocol("host call name is not UTF-8".into()))?;
    let args_bytes = read_guest(&mut caller, args_ptr, args_len)?;
    let reply = answer_host_call(caller.data(), &name, &args_bytes);
    let state = caller.data();
    if Instant::now() >= state.deadline {
        return Err(HostStop::Timeout(state.wall_clock).into());
    }

    let reply = serde_json::to_vec(&reply)?;
    let state = caller.data_mut();
    if state.host_calls > state.max_host_calls / 2 {
        state.call_tally.record(&name, &args_bytes, &reply);
    }
    let alloc = caller
        .get_export("sf_alloc")
        .and_then(Extern::into_func)
        .ok_or_else(|| HostStop::Protocol("the guest exports no sf_alloc".into()))?
        .typed::<i32, i32>(&caller)?;
    let len = i32::try_from(reply.len())
        .map_err(|_| HostStop::Protocol("host call reply larger than 2 GiB".into()))?;
    let ptr = alloc.call_async(&mut caller, len).await?;
    if ptr == 0 {
        // The guest is out of memory; let it see an empty reply and report OOM itself.
        return Ok(0);
    }
    let memory = caller
        .get_export("memory")
        .and_then(Extern::into_memory)
        .ok_or_else(|| HostStop::Protocol("the guest exports no memory".into()))?;
    memory
        .write(&mut caller, ptr as u32 as usize, &reply)
        .map_err(|_| HostStop::Protocol("sf_alloc returned a buffer outside memory".into()))?;
    Ok((i64::from(ptr as u32) << 32) | i64::from(len as u32))
}

/// The JSON reply to one host call: granted and registered functions run; anything else is
/// denied with an error the skill can read.
fn answer_host_call(state: &HostState, name: &str, args: &[u8]) -> Value {
    let deny = |name: &str, message: String| json!({"ok": false, "error": {"name": name, "message": message}});
    if !state.capabilities.allows_host_call(name) {
        return deny(
            "CapabilityDenied",
            format!(
                "host function '{name}' is not granted to this skill; declare it with `@capability {name}`"
            ),
        );
    }
    let Some(function) = state.host_functions.get(name) else {
        return deny(
            "CapabilityDenied",
            format!("no host function named '{name}' is available here"),
        );
    };
    let args: Value = match serde_json::from_slice(args) {
        Ok(args) => args,
        Err(e) => {
            return deny(
                "TypeError",
                format!("host call arguments are not JSON: {e}"),
            );
        }
    };
    match function.call(
        &HostCallContext {
            deadline: state.deadline,
            scope: &state.scope,
        },
        args,
    ) {
        Ok(value) => json!({"ok": true, "value": value}),
        Err(err) => deny(&err.name, err.message),
    }
}
