//! Benchmark workloads, shared by `skillforge bench` and the criterion benches.
//!
//! Every figure is measured beside a baseline in the same run: the same skill run by a
//! `node` subprocess (what a process-per-call sandbox costs), when `node` is on the PATH.

use crate::compose;
use crate::sandbox::{
    Call, Capabilities, HostFunction, HostFunctions, Limits, Sandbox, SandboxConfig, SandboxError,
};
use crate::skill::SkillSource;
use crate::validate::{self, Job};
use serde::Serialize;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// A trivial skill: the floor of a call's cost.
pub const TRIVIAL: &str = "function trivial(x) { return x + 1; }";

/// A 50-line skill doing typical string and collection work.
pub const FIFTY_LINES: &str = include_str!("bench_fifty_lines.js");

/// A skill making `n` host calls (`bench.echo`), or `n` plain loop iterations when `n` is
/// negative: the difference is the host-call round trip.
pub const HOST_CALLS: &str = r#"
/**
 * Sums `n` echoed numbers, each a host call.
 * @capability bench.echo
 */
function hostCalls(n) {
  let total = 0;
  if (n < 0) { for (let i = 0; i < -n; i++) total += [i][0]; return total; }
  for (let i = 0; i < n; i++) total += host.call("bench.echo", [i])[0];
  return total;
}"#;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Samples.
    pub samples: usize,
}

impl Percentiles {
    /// Percentiles of durations.
    pub fn of(mut samples: Vec<Duration>) -> Percentiles {
        samples.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let at = |q: f64| ms(samples[((samples.len() - 1) as f64 * q).round() as usize]);
        Percentiles {
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            mean_ms: samples.iter().copied().map(ms).sum::<f64>() / samples.len() as f64,
            samples: samples.len(),
        }
    }
}

/// What `skillforge bench sandbox` reports.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxReport {
    /// Trivial call.
    pub trivial_call: Percentiles,
    /// The 50-line skill.
    pub fifty_line_skill: Percentiles,
    /// One host call's round trip, in microseconds.
    pub host_call_us: f64,
    /// Skill validations (3 tests each, one sandbox call per test) per second, all cores.
    pub validations_per_sec: f64,
    /// Test calls per second during that run.
    pub test_calls_per_sec: f64,
    /// New sandbox from the cached compiled module plus its first call.
    pub cold_start_cached: Percentiles,
    /// Cores used.
    pub cores: usize,
    /// The same workloads in a `node` subprocess per call, when node is available.
    pub node: Option<NodeReport>,
}

/// The node-subprocess baseline.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    /// `node --version`.
    pub version: String,
    /// Trivial call, one process per call.
    pub trivial_call: Percentiles,
    /// The 50-line skill, one process per call.
    pub fifty_line_skill: Percentiles,
    /// Validations per second with a process per test, all cores.
    pub validations_per_sec: f64,
}

fn bench_host_functions() -> HostFunctions {
    HostFunctions::empty().with(HostFunction::new(
        "bench.echo",
        "returns its arguments",
        |_, args| Ok(args),
    ))
}

/// A benchmark skill parsed and bundled; a skill that does not is the benchmark's own bug,
/// reported as an error rather than a panic.
fn prepare(code: &str) -> Result<(SkillSource, compose::Bundle), SandboxError> {
    let skill = SkillSource::parse(code, None)
        .map_err(|e| SandboxError::Host(format!("benchmark skill does not parse: {e}")))?;
    let bundle = compose::bundle(&skill, |_| None, 8)
        .map_err(|e| SandboxError::Host(format!("benchmark skill does not bundle: {e}")))?;
    Ok((skill, bundle))
}

/// Runs `entry(args)` of `code` `iterations` times and returns the latencies.
pub fn time_calls(
    sandbox: &Sandbox,
    code: &str,
    args: &[Value],
    iterations: usize,
) -> Result<Vec<Duration>, SandboxError> {
    let (skill, bundle) = prepare(code)?;
    let limits = Limits::default();
    let caps = Capabilities::none().grant("bench.echo");
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        let outcome = sandbox.run(Call {
            source: &bundle.source,
            entry: &skill.name,
            args,
            capabilities: &caps,
            limits: &limits,
        })?;
        samples.push(started.elapsed());
        if let Err(failure) = outcome.result {
            return Err(SandboxError::Host(format!(
                "benchmark skill failed: {failure}"
            )));
        }
    }
    Ok(samples)
}

/// The sandbox used by the benchmarks (the default cache, the bench host function).
pub fn sandbox() -> Result<Sandbox, SandboxError> {
    Sandbox::new(SandboxConfig::default(), bench_host_functions())
}

/// Validations per second: `skills` copies of the 50-line skill with its 3 tests.
pub fn validations_per_sec(sandbox: &Sandbox, skills: usize) -> Result<(f64, f64), SandboxError> {
    let (skill, bundle) = prepare(FIFTY_LINES)?;
    let limits = Limits::default();
    let jobs: Vec<Job<'_>> = (0..skills)
        .map(|_| Job {
            bundle: &bundle,
            tests: &skill.tests,
            limits: &limits,
        })
        .collect();
    let started = Instant::now();
    let reports = validate::run_many(sandbox, &jobs)?;
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(bad) = reports.iter().find(|r| !r.all_passed()) {
        return Err(SandboxError::Host(format!(
            "benchmark validation failed: {:?}",
            bad.tests
        )));
    }
    let calls = skills * skill.tests.len();
    Ok((skills as f64 / elapsed, calls as f64 / elapsed))
}

/// Runs the whole sandbox benchmark.
pub fn run_sandbox_bench(iterations: usize) -> Result<SandboxReport, SandboxError> {
    // First construction compiles or loads the cache; later ones measure the cached path.
    let sandbox = sandbox()?;
    time_calls(&sandbox, TRIVIAL, &[json!(1)], 20)?;
    let trivial_call = Percentiles::of(time_calls(&sandbox, TRIVIAL, &[json!(1)], iterations)?);
    let fifty_line_skill = Percentiles::of(time_calls(
        &sandbox,
        FIFTY_LINES,
        &[json!(FIFTY_LINE_INPUT)],
        iterations,
    )?);

    let n = 500;
    let best = |arg: i64| -> Result<Duration, SandboxError> {
        Ok(time_calls(&sandbox, HOST_CALLS, &[json!(arg)], 15)?
            .into_iter()
            .min()
            .unwrap_or_default())
    };
    let with_calls = best(n)?;
    let without = best(-n)?;
    let host_call_us = with_calls.saturating_sub(without).as_secs_f64() * 1e6 / n as f64;

    validations_per_sec(&sandbox, 50)?;
    let (validations, test_calls) = validations_per_sec(&sandbox, 400)?;

    let mut cold = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let fresh = self::sandbox()?;
        time_calls(&fresh, TRIVIAL, &[json!(1)], 1)?;
        cold.push(started.elapsed());
    }

    Ok(SandboxReport {
        trivial_call,
        fifty_line_skill,
        host_call_us,
        validations_per_sec: validations,
        test_calls_per_sec: test_calls,
        cold_start_cached: Percentiles::of(cold),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        node: node_baseline(iterations.min(60)).ok(),
    })
}

/// The input the 50-line skill is benchmarked with.
pub const FIFTY_LINE_INPUT: &str =
    "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away quickly!";

fn node_call(dir: &Path, code: &str, call: &str) -> std::io::Result<Duration> {
    let script = dir.join("skill.js");
    std::fs::write(
        &script,
        format!("{code}\nconsole.log(JSON.stringify({call}));\n"),
    )?;
    let started = Instant::now();
    let out = std::process::Command::new("node").arg(&script).output()?;
    let elapsed = started.elapsed();
    if !out.status.success() {
        return Err(std::io::Error::other(
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }
    Ok(elapsed)
}

fn node_baseline(iterations: usize) -> std::io::Result<NodeReport> {
    let version = std::process::Command::new("node")
        .arg("--version")
        .output()?;
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let dir = tempfile_dir()?;
    let trivial = (0..iterations)
        .map(|_| node_call(&dir, TRIVIAL, "trivial(1)"))
        .collect::<std::io::Result<Vec<_>>>()?;
    let fifty_call = format!("textStats({})", json!(FIFTY_LINE_INPUT));
    let fifty = (0..iterations)
        .map(|_| node_call(&dir, FIFTY_LINES, &fifty_call))
        .collect::<std::io::Result<Vec<_>>>()?;

    // Validations: one process per test, as many processes at once as cores.
    let (skill, _) = prepare(FIFTY_LINES).map_err(std::io::Error::other)?;
    let prelude = validate::ASSERT_PRELUDE;
    let skills = 20;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let programs: Vec<String> = skill
        .tests
        .iter()
        .map(|t| format!("{FIFTY_LINES}\nconst assert = {prelude};\n(async () => {{ {} }})().catch((e) => {{ console.error(e); process.exit(1); }});", t.to_js()))
        .collect();
    let started = Instant::now();
    let work: Vec<&String> = (0..skills).flat_map(|_| programs.iter()).collect();
    for chunk in work.chunks(cores) {
        let children = chunk
            .iter()
            .map(|program| {
                std::process::Command::new("node")
                    .arg("-e")
                    .arg(program.as_str())
                    .spawn()
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        for mut child in children {
            if !child.wait()?.success() {
                return Err(std::io::Error::other("a node test failed"));
            }
        }
    }
    let validations_per_sec = skills as f64 / started.elapsed().as_secs_f64();
    std::fs::remove_dir_all(&dir).ok();
    Ok(NodeReport {
        version,
        trivial_call: Percentiles::of(trivial),
        fifty_line_skill: Percentiles::of(fifty),
        validations_per_sec,
    })
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("skillforge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_runs() {
        let sandbox = sandbox().unwrap();
        for (code, arg) in [
            (TRIVIAL, json!(1)),
            (FIFTY_LINES, json!(FIFTY_LINE_INPUT)),
            (HOST_CALLS, json!(3)),
            (HOST_CALLS, json!(-3)),
        ] {
            let samples = time_calls(&sandbox, code, &[arg], 2).unwrap();
            assert_eq!(samples.len(), 2);
        }
        let (validations, test_calls) = validations_per_sec(&sandbox, 2).unwrap();
        assert!(validations > 0.0 && test_calls >= validations);
    }
}
