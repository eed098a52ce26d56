//! Hostile code: every attack ends in the right failure kind, quickly, and the sandbox keeps
//! serving afterwards. These run the real guest in the real wasmtime engine.

use serde_json::{Value, json};
use skillforge::sandbox::{
    Call, Capabilities, FailureKind, HostFunction, HostFunctions, Limits, Outcome, Sandbox,
    SandboxConfig, SandboxError, capability::FROZEN_EPOCH_SECS,
};
use std::sync::OnceLock;
use std::time::Duration;

fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let functions = HostFunctions::empty()
            .with(HostFunction::new(
                "test.echo",
                "returns its arguments",
                |_, args| Ok(args),
            ))
            .with(HostFunction::new(
                "test.sleep",
                "sleeps for args[0] ms",
                |ctx, args| {
                    let ms = args[0].as_u64().unwrap_or(0);
                    let until = std::time::Instant::now() + Duration::from_millis(ms);
                    std::thread::sleep(
                        until
                            .min(ctx.deadline)
                            .saturating_duration_since(std::time::Instant::now()),
                    );
                    Ok(Value::Null)
                },
            ))
            .with(HostFunction::new(
                "test.panic",
                "a buggy host function",
                |_, _| panic!("a bug in a host function"),
            ));
        Sandbox::new(SandboxConfig::default(), functions).expect("sandbox starts")
    })
}

fn run_with(
    source: &str,
    entry: &str,
    args: &[Value],
    caps: &Capabilities,
    limits: &Limits,
) -> Outcome {
    let outcome = sandbox()
        .run(Call {
            source,
            entry,
            args,
            capabilities: caps,
            limits,
        })
        .expect("the host side never fails");
    // Whatever happened, the sandbox keeps serving.
    let after = sandbox()
        .run(Call {
            source: "function ok() { return 'still serving' }",
            entry: "ok",
            args: &[],
            capabilities: &Capabilities::none(),
            limits: &Limits::default(),
        })
        .unwrap();
    assert_eq!(after.result, Ok(json!("still serving")));
    outcome
}

fn run(source: &str, limits: &Limits) -> Outcome {
    run_with(source, "main", &[], &Capabilities::none(), limits)
}

/// Runs `source`'s `main` granted `test.echo`, with at most `host_calls` host calls.
fn run_echoing(source: &str, host_calls: u32) -> Outcome {
    let limits = Limits {
        host_calls,
        ..Limits::default()
    };
    run_with(
        source,
        "main",
        &[],
        &Capabilities::none().grant("test.echo"),
        &limits,
    )
}

/// Wall clock short, fuel effectively unlimited: only the deadline can stop the code.
fn deadline_only(ms: u64) -> Limits {
    Limits {
        wall_clock: Duration::from_millis(ms),
        fuel: u64::MAX / 4,
        ..Limits::default()
    }
}

/// Fuel small, wall clock long: only fuel can stop the code.
fn fuel_only(fuel: u64) -> Limits {
    Limits {
        wall_clock: Duration::from_secs(60),
        fuel,
        ..Limits::default()
    }
}

fn assert_kind(outcome: &Outcome, kind: FailureKind) {
    let failure = outcome
        .failure()
        .unwrap_or_else(|| panic!("expected {kind}, got {:?}", outcome.result));
    assert_eq!(failure.kind, kind, "{failure:?}");
}

#[test]
fn infinite_loop_hits_the_deadline_or_the_fuel() {
    let outcome = run("function main() { while (true) {} }", &deadline_only(200));
    assert_kind(&outcome, FailureKind::Timeout);
    assert!(
        outcome.stats.wall_ms < 2_000.0,
        "stopped late: {} ms",
        outcome.stats.wall_ms
    );

    let outcome = run(
        "function main() { while (true) {} }",
        &fuel_only(20_000_000),
    );
    assert_kind(&outcome, FailureKind::CpuLimit);
    assert!(outcome.stats.fuel_used >= 20_000_000);
}

#[test]
fn endless_async_loop_is_stopped() {
    let source = "async function main() { let i = 0; while (true) { await null; i++; } }";
    assert_kind(&run(source, &deadline_only(200)), FailureKind::Timeout);
    assert_kind(&run(source, &fuel_only(20_000_000)), FailureKind::CpuLimit);
}

#[test]
fn catastrophic_regex_backtracking_is_stopped() {
    let source = r#"function main() { return /^(a+)+$/.test("a".repeat(40) + "b"); }"#;
    assert_kind(&run(source, &deadline_only(300)), FailureKind::Timeout);
}

#[test]
fn one_gigabyte_allocation_hits_the_memory_limit() {
    let source = "function main() { const b = new ArrayBuffer(1 << 30); return b.byteLength; }";
    assert_kind(&run(source, &Limits::default()), FailureKind::MemoryLimit);
    let source = r#"function main() { return "x".repeat(1 << 29).length; }"#;
    assert_kind(&run(source, &Limits::default()), FailureKind::MemoryLimit);
}

#[test]
fn slow_memory_leak_hits_the_memory_limit() {
    let source = "function main() { const keep = []; while (true) keep.push(new Array(1000).fill(keep.length)); }";
    let outcome = run(
        source,
        &Limits {
            memory_bytes: 32 << 20,
            ..Limits::default()
        },
    );
    assert_kind(&outcome, FailureKind::MemoryLimit);
    assert!(outcome.stats.memory_bytes <= 32 << 20);
}

#[test]
fn unbounded_recursion_is_a_stack_overflow_and_catchable() {
    let source = "function main() { function r(n) { return r(n + 1) + 1; } return r(0); }";
    let outcome = run(source, &Limits::default());
    assert_kind(&outcome, FailureKind::StackOverflow);
    assert_eq!(
        outcome.failure().unwrap().name.as_deref(),
        Some("RangeError")
    );

    let source = "function main() { function r(n) { return r(n + 1) + 1; } \
                  try { r(0); } catch (e) { return [e.name, e instanceof RangeError, 1 + 1]; } }";
    assert_eq!(
        run(source, &Limits::default()).result,
        Ok(json!(["RangeError", true, 2]))
    );
}

#[test]
fn console_flood_hits_the_output_limit() {
    let source = r#"function main() { while (true) console.log("spam spam spam spam"); }"#;
    let outcome = run(
        source,
        &Limits {
            output_bytes: 64 << 10,
            ..Limits::default()
        },
    );
    assert_kind(&outcome, FailureKind::OutputLimit);
    let logged: usize = outcome.logs.iter().map(|l| l.text.len()).sum();
    assert!(logged <= 64 << 10);
}

#[test]
fn huge_return_value_hits_the_output_limit() {
    let source = r#"function main() { return "x".repeat(4 << 20); }"#;
    assert_kind(&run(source, &Limits::default()), FailureKind::OutputLimit);
}

#[test]
fn a_result_nested_too_deeply_says_so_and_a_deep_one_is_read() {
    let nested = |depth: u32| {
        format!(
            "function main() {{ let a = []; let c = a; for (let i = 1; i < {depth}; i++) {{ \
             const n = []; c.push(n); c = n; }} return a; }}"
        )
    };
    let outcome = run(&nested(1_000), &Limits::default());
    assert_kind(&outcome, FailureKind::JsError);
    let failure = outcome.failure().unwrap();
    assert!(
        failure.message.contains("nests arrays or objects deeper"),
        "{failure:?}"
    );
    let mut expected = json!([]);
    for _ in 1..100 {
        expected = json!([expected]);
    }
    assert_eq!(run(&nested(100), &Limits::default()).result, Ok(expected));
}

#[test]
fn host_call_flood_is_bounded() {
    let source =
        r#"function main() { let n = 0; while (true) { host.call("test.echo", [n]); n++; } }"#;
    let outcome = run_echoing(source, 500);
    assert_kind(&outcome, FailureKind::CpuLimit);
    assert_eq!(outcome.stats.host_calls, 501);
}

#[test]
fn a_loop_stopped_at_the_host_call_limit_says_what_it_kept_calling() {
    // A loop waiting for an answer its call never gives.
    let source = r#"function main() {
        while (host.call("test.echo", ["more"])[0] !== "enough") { host.call("test.echo", [1]); }
    }"#;
    let outcome = run_echoing(source, 100);
    assert_kind(&outcome, FailureKind::CpuLimit);
    let message = &outcome.failure().unwrap().message;
    assert!(
        message.contains(r#"of its last 50 calls, the most made: `test.echo ["more"]` 25 times"#),
        "{message}"
    );
    assert!(message.contains(r#"`test.echo [1]` 25 times"#), "{message}");
    assert!(message.contains("last answered"), "{message}");
}

#[test]
fn a_slow_host_call_cannot_outlive_the_deadline() {
    let caps = Capabilities::none().grant("test.sleep");
    let source = r#"function main() { host.call("test.sleep", [5000]); return "late"; }"#;
    let outcome = run_with(source, "main", &[], &caps, &deadline_only(200));
    assert_kind(&outcome, FailureKind::Timeout);
    assert!(outcome.stats.wall_ms < 2_000.0);
}

#[test]
fn host_calls_need_a_grant() {
    let source = r#"function main() { return host.call("test.echo", [1, 2]); }"#;
    let denied = run_with(
        source,
        "main",
        &[],
        &Capabilities::none(),
        &Limits::default(),
    );
    assert_kind(&denied, FailureKind::CapabilityDenied);
    assert!(denied.failure().unwrap().message.contains("test.echo"));

    let granted = run_with(
        source,
        "main",
        &[],
        &Capabilities::none().grant("test.*"),
        &Limits::default(),
    );
    assert_eq!(granted.result, Ok(json!([1, 2])));
    assert_eq!(granted.stats.host_calls, 1);

    let unknown = r#"function main() { return host.call("fs.read", ["/etc/passwd"]); }"#;
    let outcome = run_with(
        unknown,
        "main",
        &[],
        &Capabilities::none().grant("fs.read"),
        &Limits::default(),
    );
    assert_kind(&outcome, FailureKind::CapabilityDenied);

    let caught =
        r#"function main() { try { host.call("test.echo", []); } catch (e) { return e.name; } }"#;
    assert_eq!(
        run_with(
            caught,
            "main",
            &[],
            &Capabilities::none(),
            &Limits::default()
        )
        .result,
        Ok(json!("CapabilityDenied"))
    );
}

#[test]
fn no_ambient_authority_is_reachable() {
    let source = r#"function main() {
        return [typeof require, typeof process, typeof fetch, typeof module, typeof setTimeout,
                typeof XMLHttpRequest, typeof std, typeof os, typeof WebAssembly];
    }"#;
    assert_eq!(
        run(source, &Limits::default()).result,
        Ok(json!([
            "undefined",
            "undefined",
            "undefined",
            "undefined",
            "undefined",
            "undefined",
            "undefined",
            "undefined",
            "undefined"
        ]))
    );
    let outcome = run(
        r#"function main() { return require("fs").readFileSync("/etc/passwd"); }"#,
        &Limits::default(),
    );
    assert_kind(&outcome, FailureKind::JsError);
    assert_eq!(
        outcome.failure().unwrap().name.as_deref(),
        Some("ReferenceError")
    );

    let dynamic_import =
        r#"async function main() { const fs = await import("fs"); return typeof fs; }"#;
    assert_kind(
        &run(dynamic_import, &Limits::default()),
        FailureKind::JsError,
    );
    let static_import = "import fs from 'fs';\nfunction main() { return 1; }";
    assert_kind(
        &run(static_import, &Limits::default()),
        FailureKind::JsError,
    );
}

#[test]
fn clock_and_randomness_are_deterministic_unless_granted() {
    let source = "function main() { return [Date.now(), Math.random(), Math.random()]; }";
    let first = run(source, &Limits::default()).result.unwrap();
    let second = run(source, &Limits::default()).result.unwrap();
    assert_eq!(
        first, second,
        "without grants two calls see the same clock and randomness"
    );
    assert_eq!(first[0], json!(FROZEN_EPOCH_SECS * 1000));
    assert_ne!(
        first[1], first[2],
        "the fixed sequence still varies within a call"
    );

    let granted = Capabilities::none().grant("clock").grant("random");
    let a = run_with(source, "main", &[], &granted, &Limits::default())
        .result
        .unwrap();
    let b = run_with(source, "main", &[], &granted, &Limits::default())
        .result
        .unwrap();
    assert!(
        a[0].as_f64().unwrap() > 1.7e12,
        "the real clock is after 2023: {a}"
    );
    assert_ne!(a[1], b[1]);
}

#[test]
fn no_state_survives_between_calls() {
    let poison = r#"function main() {
        globalThis.leak = 42; Object.prototype.polluted = "yes"; Array.prototype.push = null;
        JSON.stringify = () => "hijacked"; return "poisoned";
    }"#;
    assert_eq!(
        run(poison, &Limits::default()).result,
        Ok(json!("poisoned"))
    );
    let probe = r#"function main() {
        const a = []; a.push(1);
        return [typeof leak, ({}).polluted === undefined, a.length, JSON.stringify([1])];
    }"#;
    assert_eq!(
        run(probe, &Limits::default()).result,
        Ok(json!(["undefined", true, 1, "[1]"]))
    );
}

/// With one instance slot every call reuses the same memory, which wasmtime resets by copying
/// the snapshot back over the pages the last call wrote (up to a bound) and unmapping the
/// rest. Neither small nor large writes may reach the next call.
#[test]
fn no_state_survives_in_a_reused_slot() {
    let sandbox = Sandbox::new(
        SandboxConfig {
            max_concurrent_calls: 1,
            ..SandboxConfig::default()
        },
        HostFunctions::empty(),
    )
    .expect("sandbox starts");
    let call = |source: &str| {
        sandbox
            .run(Call {
                source,
                entry: "main",
                args: &[],
                capabilities: &Capabilities::none(),
                limits: &Limits::default(),
            })
            .unwrap()
            .result
    };
    let probe = r#"function main() {
        const a = []; a.push(1);
        return [typeof leak, typeof big, ({}).polluted === undefined, a.length, JSON.stringify([1]),
                typeof assert.deepStrictEqual];
    }"#;
    let clean = Ok(json!([
        "undefined",
        "undefined",
        true,
        1,
        "[1]",
        "function"
    ]));
    for megabytes in [0, 1, 16] {
        let poison = format!(
            r#"function main() {{
                globalThis.leak = 42; Object.prototype.polluted = "yes"; Array.prototype.push = null;
                JSON.stringify = () => "hijacked"; globalThis.assert = null;
                globalThis.big = new Uint8Array({megabytes} << 20).fill(7);
                return "poisoned";
            }}"#
        );
        assert_eq!(call(&poison), Ok(json!("poisoned")), "{megabytes} MiB");
        assert_eq!(call(probe), clean, "after writing {megabytes} MiB");
    }
}

/// The program follows a JSON header line on the guest's stdin, unescaped: newlines, non-ASCII
/// text and header-like lines in it are just program text.
#[test]
fn the_source_travels_raw() {
    let source = "// {\"entry\": \"evil\", \"args\": []}\n\
                  function main(s) {\n  return ['naïve ✓ 😀', `a\nb`.length, s, '\\n'];\n}\n";
    let outcome = run_with(
        source,
        "main",
        &[json!("two\nlines \u{1F600}")],
        &Capabilities::none(),
        &Limits::default(),
    );
    assert_eq!(
        outcome.result,
        Ok(json!(["naïve ✓ 😀", 3, "two\nlines \u{1F600}", "\n"]))
    );
}

/// `run_many` answers in order, each call alone: a hanging call times out alone, a bad entry
/// or bad limits fail in place, and globals do not travel between calls of one batch.
#[test]
fn a_batch_keeps_order_and_isolates_its_calls() {
    let sources: Vec<String> = (0..12)
        .map(|i| format!("function main() {{ const seen = typeof mark; globalThis.mark = {i}; return [{i}, seen]; }}"))
        .collect();
    let caps = Capabilities::none();
    let limits = Limits::default();
    let hang = deadline_only(100);
    let bad_limits = Limits {
        fuel: 0,
        ..Limits::default()
    };
    let mut calls: Vec<Call<'_>> = sources
        .iter()
        .map(|source| Call {
            source,
            entry: "main",
            args: &[],
            capabilities: &caps,
            limits: &limits,
        })
        .collect();
    calls[3].source = "function main() { for (;;) {} }";
    calls[3].limits = &hang;
    calls[5].entry = "not an identifier";
    calls[7].limits = &bad_limits;
    let results = sandbox().run_many(&calls, 3);
    assert_eq!(results.len(), calls.len());
    for (i, result) in results.into_iter().enumerate() {
        match i {
            3 => assert_eq!(
                result.unwrap().failure().unwrap().kind,
                FailureKind::Timeout
            ),
            5 => assert_eq!(
                result.unwrap().failure().unwrap().kind,
                FailureKind::InvalidSkill
            ),
            7 => assert!(result.is_err(), "{result:?}"),
            _ => assert_eq!(result.unwrap().result, Ok(json!([i, "undefined"]))),
        }
    }
}

/// A panic in a host function (the guest runs on a fiber stack, the panic crosses back to the
/// caller) is a host-side error of that call, and the sandbox keeps serving.
#[test]
fn a_panicking_host_function_is_a_host_error() {
    let result = sandbox().run(Call {
        source: "function main() { return host.call('test.panic', []); }",
        entry: "main",
        args: &[],
        capabilities: &Capabilities::none().grant("test.panic"),
        limits: &Limits::default(),
    });
    assert!(matches!(result, Err(SandboxError::Host(_))), "{result:?}");
    let after = run_with(
        "function main() { return 1; }",
        "main",
        &[],
        &Capabilities::none(),
        &Limits::default(),
    );
    assert_eq!(after.result, Ok(json!(1)));
}

/// The call polls the guest's WASI imports itself (they are async and never wait), so it
/// works on any thread, even inside a tokio runtime, where blocking is discouraged but must
/// not break the call.
#[test]
fn a_call_works_inside_a_tokio_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime.block_on(async {
        sandbox().run(Call {
            source: "function main(x) { console.log('in tokio'); return x * 2; }",
            entry: "main",
            args: &[json!(21)],
            capabilities: &Capabilities::none(),
            limits: &Limits::default(),
        })
    });
    let outcome = outcome.expect("the host side works inside tokio");
    assert_eq!(outcome.result, Ok(json!(42)));
    assert_eq!(outcome.logs.len(), 1);
}

#[test]
fn errors_carry_name_message_and_stack() {
    let source = "function main() {\n  helper();\n}\nfunction helper() { throw new TypeError('bad input'); }";
    let outcome = run(source, &Limits::default());
    let failure = outcome.failure().unwrap();
    assert_eq!(failure.kind, FailureKind::JsError);
    assert_eq!(failure.name.as_deref(), Some("TypeError"));
    assert_eq!(failure.message, "bad input");
    assert!(
        failure
            .stack
            .as_deref()
            .unwrap_or_default()
            .contains("helper"),
        "{failure:?}"
    );

    let thrown_value = run("function main() { throw 42; }", &Limits::default());
    assert_eq!(thrown_value.failure().unwrap().message, "42");
}

#[test]
fn async_entries_console_and_arguments_work() {
    let source = r#"async function main(a, b) { console.log("adding", a, b); await null; console.error({a}); return a + b; }"#;
    let outcome = run_with(
        source,
        "main",
        &[json!(2), json!(3)],
        &Capabilities::none(),
        &Limits::default(),
    );
    assert_eq!(outcome.result, Ok(json!(5)));
    let lines: Vec<_> = outcome.logs.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(lines[0], "adding 2 3");
    assert_eq!(outcome.logs.len(), 2);
    assert!(outcome.stats.fuel_used > 0);

    let never = "function main() { return new Promise(() => {}); }";
    assert_kind(&run(never, &Limits::default()), FailureKind::JsError);
}

#[test]
fn an_entry_that_is_not_an_identifier_is_rejected() {
    let outcome = run_with(
        "function main() {}",
        "main(); evil",
        &[],
        &Capabilities::none(),
        &Limits::default(),
    );
    assert_kind(&outcome, FailureKind::InvalidSkill);
}

#[test]
fn bad_limits_are_a_clear_error() {
    let err = sandbox()
        .run(Call {
            source: "function main() {}",
            entry: "main",
            args: &[],
            capabilities: &Capabilities::none(),
            limits: &Limits {
                memory_bytes: 1024,
                ..Limits::default()
            },
        })
        .unwrap_err();
    assert!(err.to_string().contains("memory_bytes"), "{err}");
}

#[test]
fn recursion_that_overflows_while_a_host_reply_is_read_is_a_stack_overflow() {
    // Each level reads a nested reply: the stack runs out while the guest parses one.
    let source = r#"function main() {
        const nested = JSON.parse("[".repeat(40) + "]".repeat(40));
        function r(n) { host.call("test.echo", nested); return r(n + 1) + 1; }
        return r(0);
    }"#;
    let outcome = run_echoing(source, 100_000);
    assert_kind(&outcome, FailureKind::StackOverflow);
}

#[test]
fn a_helper_is_a_global_with_no_rights_of_its_own_and_a_programs_own_definition_wins() {
    let functions = HostFunctions::empty()
        .with(HostFunction::new(
            "test.echo",
            "returns its arguments",
            |_, args| Ok(args),
        ))
        .with_helper(
            "echoed",
            "function (x) { return host.call(\"test.echo\", [x])[0]; }",
        );
    let sandbox = Sandbox::new(SandboxConfig::default(), functions).expect("sandbox starts");
    let run = |source: &str, caps: &Capabilities| {
        sandbox
            .run(Call {
                source,
                entry: "main",
                args: &[],
                capabilities: caps,
                limits: &Limits::default(),
            })
            .expect("the host side never fails")
    };
    let granted = Capabilities::none().grant("test.echo");
    // Called like any global, through the host function it wraps.
    let outcome = run("function main() { return echoed(7) + 1; }", &granted);
    assert_eq!(outcome.result, Ok(json!(8)));
    // Its host call needs the program's grant, as the program's own would.
    let outcome = run(
        "function main() { return echoed(7); }",
        &Capabilities::none(),
    );
    assert_kind(&outcome, FailureKind::CapabilityDenied);
    // A program that defines the name keeps its own, however it defines it.
    for own in [
        "function echoed(x) { return 'own ' + x; }",
        "const echoed = (x) => 'own ' + x;",
        "let echoed = (x) => 'own ' + x;",
        "var echoed = (x) => 'own ' + x;",
    ] {
        let outcome = run(
            &format!("{own}\nfunction main() {{ return echoed(7); }}"),
            &granted,
        );
        assert_eq!(outcome.result, Ok(json!("own 7")), "{own}");
    }
    // The program's line numbers stay its own: the helpers come after it.
    let outcome = run("function main() {\n  throw new Error('here');\n}", &granted);
    let stack = outcome.failure().unwrap().stack.clone().unwrap_or_default();
    assert!(stack.contains("skill.js:2"), "{stack}");
}
