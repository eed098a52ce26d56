//! `skillforge exec` and `skillforge test`.

use super::{EXIT_OK, LibraryArgs, exit_skill_failure};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use skillforge::compose::{self, Bundle};
use skillforge::sandbox::{
    Call, Failure, FailureKind, HostFunctions, Limits, Sandbox, SandboxConfig,
};
use skillforge::skill::{self, SkillSource};
use skillforge::validate::{self, Job};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `skillforge exec FILE.js`.
#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    /// The skill file.
    file: PathBuf,
    /// The function to call (default: the file's skill).
    #[arg(long)]
    entry: Option<String>,
    /// Arguments as JSON: an array is the argument list, anything else the single argument.
    #[arg(long, default_value = "[]")]
    input: String,
    /// Wall-clock limit in milliseconds.
    #[arg(long)]
    timeout_ms: Option<u64>,
    /// Memory limit in MiB.
    #[arg(long)]
    memory_mb: Option<usize>,
    /// Fuel limit (about one unit per WebAssembly instruction).
    #[arg(long)]
    fuel: Option<u64>,
    /// Grant a capability (a host function name, `clock` or `random`; repeatable).
    #[arg(long = "grant", value_name = "CAPABILITY")]
    grants: Vec<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    library: LibraryArgs,
}

/// `skillforge test FILE.js...`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Skill files (or directories of them) whose tests to run.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    library: LibraryArgs,
}

fn sandbox() -> anyhow::Result<Sandbox> {
    Sandbox::new(SandboxConfig::default(), HostFunctions::empty()).context("starting the sandbox")
}

/// The skills named by `--with`, by name.
fn library(args: &LibraryArgs) -> anyhow::Result<HashMap<String, SkillSource>> {
    let mut library = HashMap::new();
    for path in &args.with {
        for skill in skill::read_skill_files(path)? {
            library.insert(skill.name.clone(), skill);
        }
    }
    Ok(library)
}

fn print_failure(failure: &Failure, as_json: bool) {
    if as_json {
        println!("{}", failure.to_json());
    } else {
        eprintln!("{failure}");
        if let Some(stack) = &failure.stack {
            eprintln!("{stack}");
        }
    }
}

pub fn exec(args: ExecArgs) -> anyhow::Result<ExitCode> {
    let input: Value = serde_json::from_str(&args.input)
        .with_context(|| format!("--input is not JSON: {}", args.input))?;
    let args_list = match input {
        Value::Array(items) => items,
        other => vec![other],
    };
    let mut limits = Limits::default();
    if let Some(ms) = args.timeout_ms {
        limits.wall_clock = Duration::from_millis(ms);
    }
    if let Some(mb) = args.memory_mb {
        limits.memory_bytes = mb << 20;
    }
    if let Some(fuel) = args.fuel {
        limits.fuel = fuel;
    }
    if let Err(problem) = limits.validate() {
        bail!("{problem}");
    }
    let library = library(&args.library)?;
    let code = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let stem = args.file.file_stem().and_then(|s| s.to_str());
    let prepared = SkillSource::parse(&code, stem)
        .map_err(|e| Failure::new(FailureKind::InvalidSkill, e.to_string()))
        .and_then(|skill| {
            compose::bundle(&skill, |n| library.get(n), limits.composition_depth)
                .map(|bundle| (skill, bundle))
                .map_err(|e| Failure::new(FailureKind::InvalidSkill, e.to_string()))
        });
    let (skill, bundle) = match prepared {
        Ok(prepared) => prepared,
        Err(failure) => {
            print_failure(&failure, args.json);
            return Ok(exit_skill_failure());
        }
    };
    let capabilities = bundle
        .capabilities
        .iter()
        .chain(args.grants.iter().map(String::as_str))
        .collect();
    let entry = args.entry.as_deref().unwrap_or(&skill.name);
    let outcome = sandbox()?.run(Call {
        source: &bundle.source,
        entry,
        args: &args_list,
        capabilities: &capabilities,
        limits: &limits,
    })?;
    if args.json {
        println!("{}", outcome.to_json());
    } else {
        for line in &outcome.logs {
            eprintln!("{}", line.text);
        }
        match &outcome.result {
            Ok(value) => println!("{}", serde_json::to_string_pretty(value)?),
            Err(failure) => print_failure(failure, false),
        }
    }
    Ok(if outcome.is_ok() {
        EXIT_OK
    } else {
        exit_skill_failure()
    })
}

pub fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let library = library(&args.library)?;
    let mut skills = Vec::new();
    for path in &args.files {
        skills.extend(skill::read_skill_files(path)?);
    }
    let limits = Limits::default();
    let mut bundles: Vec<Result<Bundle, String>> = Vec::new();
    for skill in &skills {
        // A skill under test may call the others given on the command line.
        let lookup = |n: &str| {
            library
                .get(n)
                .or_else(|| skills.iter().find(|s| s.name == n))
        };
        bundles.push(
            compose::bundle(skill, lookup, limits.composition_depth).map_err(|e| e.to_string()),
        );
    }
    let jobs: Vec<Job<'_>> = skills
        .iter()
        .zip(&bundles)
        .filter_map(|(skill, bundle)| {
            bundle.as_ref().ok().map(|bundle| Job {
                bundle,
                tests: &skill.tests,
                limits: &limits,
            })
        })
        .collect();
    let mut reports = validate::run_many(&sandbox()?, &jobs)?.into_iter();
    let mut all_ok = true;
    let mut printed = Vec::new();
    for (skill, bundle) in skills.iter().zip(&bundles) {
        let entry = match bundle {
            Err(problem) => {
                all_ok = false;
                json!({"skill": skill.name, "ok": false, "error": {"kind": "invalid_skill", "message": problem}})
            }
            Ok(_) => {
                let report = reports.next().expect("one report per job");
                let ok = report.all_passed();
                all_ok &= ok;
                json!({"skill": skill.name, "ok": ok, "passed": report.passed(), "failed": report.failed(),
                       "tests": report.tests, "call_graph": report.call_graph})
            }
        };
        printed.push(entry);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&printed)?);
    } else {
        print_test_text(&printed);
    }
    Ok(if all_ok {
        EXIT_OK
    } else {
        exit_skill_failure()
    })
}

fn print_test_text(reports: &[Value]) {
    let (mut passed, mut failed) = (0, 0);
    for report in reports {
        let skill = report["skill"].as_str().unwrap_or_default();
        if let Some(message) = report["error"]["message"].as_str() {
            failed += 1;
            println!("{skill}: invalid_skill: {message}");
            continue;
        }
        let tests = report["tests"].as_array().cloned().unwrap_or_default();
        if tests.is_empty() {
            println!("{skill}: no tests (add `@test` or `@example` lines to its JSDoc)");
        }
        for test in tests {
            let name = test["name"].as_str().unwrap_or_default();
            if test["passed"].as_bool() == Some(true) {
                passed += 1;
                println!("ok   {skill}: {name}");
            } else {
                failed += 1;
                let kind = test["failure"]["kind"].as_str().unwrap_or_default();
                let message = test["failure"]["message"].as_str().unwrap_or_default();
                println!("FAIL {skill}: {name}: {kind}: {message}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
}
