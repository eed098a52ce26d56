//! Per-call resource limits, as plain data.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Hard limits applied to every sandbox call.
///
/// Each limit maps to one enforcement mechanism, so each failure comes back with its own kind:
/// fuel (`cpu_limit`), an epoch deadline checked against a real clock (`timeout`), the store's
/// memory limiter (`memory_limit`), a byte counter on the output import (`output_limit`) and a
/// counter on the host-call import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// WebAssembly fuel (roughly, executed wasm instructions) the call may burn.
    pub fuel: u64,
    /// Wall-clock time the call may take, host calls included.
    #[serde(with = "duration_ms")]
    pub wall_clock: Duration,
    /// Largest linear memory the guest may grow to, in bytes.
    pub memory_bytes: usize,
    /// Bytes the call may emit: console output plus the serialised result.
    pub output_bytes: usize,
    /// Number of `host.call` invocations allowed.
    pub host_calls: u32,
    /// Longest chain of skills calling skills a bundle may contain.
    pub composition_depth: u32,
    /// JavaScript stack the interpreter may use before throwing a `RangeError`.
    pub js_stack_bytes: u32,
}

/// The largest `js_stack_bytes`: the engine's native stack allowance is 16 times this.
pub const MAX_JS_STACK_BYTES: u32 = 512 << 10;

/// The most memory any call may be given; the pooling allocator reserves this per slot.
pub const MAX_MEMORY_BYTES: usize = 1 << 30;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 4_000_000_000,
            wall_clock: Duration::from_secs(2),
            memory_bytes: 64 << 20,
            output_bytes: 1 << 20,
            host_calls: 1_000,
            composition_depth: 16,
            js_stack_bytes: 256 << 10,
        }
    }
}

impl Limits {
    /// Checks that the limits are usable, so a bad configuration fails before any call.
    pub fn validate(&self) -> Result<(), String> {
        if self.fuel == 0 {
            return Err("fuel must be greater than zero".into());
        }
        if self.wall_clock.is_zero() {
            return Err("wall_clock must be greater than zero".into());
        }
        if self.memory_bytes < (8 << 20) {
            return Err(format!(
                "memory_bytes must be at least 8 MiB (the interpreter needs it to start), got {}",
                self.memory_bytes
            ));
        }
        if self.memory_bytes > MAX_MEMORY_BYTES {
            return Err(format!(
                "memory_bytes must be at most {MAX_MEMORY_BYTES} (1 GiB), got {}",
                self.memory_bytes
            ));
        }
        if self.output_bytes == 0 {
            return Err("output_bytes must be greater than zero".into());
        }
        if !(16 << 10..=MAX_JS_STACK_BYTES).contains(&self.js_stack_bytes) {
            return Err(format!(
                "js_stack_bytes must be between 16 KiB and 512 KiB (deep recursion needs 16x that of native stack), got {}",
                self.js_stack_bytes
            ));
        }
        Ok(())
    }
}

mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
