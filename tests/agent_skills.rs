//! Agent Skills export and import: the starter library makes the round trip with the same
//! code and passing tests, the exported folders pass the specification's reference
//! validator (PyPI `skills-ref`, installed by `scripts/setup interop`), the scripts run
//! with `node`, and an import skips what it cannot take, saying why. Needs
//! `scripts/setup embed`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use skillforge::library::{AgentSkillsExport, Library, LibraryConfig};
use skillforge::store::ListFilter;

/// Set by `scripts/test`: the interoperability tools (`skills-ref`, the MCP client) must be
/// installed, so the tests that use them cannot pass by skipping.
const REQUIRE_TOOLS: &str = "SKILLFORGE_REQUIRE_INTEROP_TOOLS";

/// The reference validator's command (`agentskills`, from the venv that
/// `scripts/setup interop` creates), if it is installed.
fn reference_validator() -> Option<PathBuf> {
    let cache = std::env::var_os("SKILLFORGE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/skillforge")))?;
    let tool = cache.join("interop-venv/bin/agentskills");
    if tool.is_file() {
        return Some(tool);
    }
    assert!(
        std::env::var_os(REQUIRE_TOOLS).is_none(),
        "{} is missing: run scripts/setup interop",
        tool.display()
    );
    eprintln!("skipping the reference validator: run scripts/setup interop to install it");
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn the_starter_library_round_trips_through_agent_skills_folders() {
    let data = tempfile::tempdir().unwrap();
    let mut config = LibraryConfig::new(data.path());
    config.load_starter = true;
    let first = Library::open(&config, common::embedder(), common::sandbox())
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = first
        .export_agent_skills(out.path(), &AgentSkillsExport::default())
        .await
        .unwrap();
    assert_eq!(report.exported.len(), common::starter_count(), "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");

    // Every folder is what the specification says: the reference validator accepts it.
    if let Some(validator) = reference_validator() {
        for folder in &report.exported {
            let path = out.path().join(&folder.folder);
            let run = Command::new(&validator)
                .arg("validate")
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                run.status.success(),
                "{}: {}{}",
                path.display(),
                String::from_utf8_lossy(&run.stdout),
                String::from_utf8_lossy(&run.stderr)
            );
        }
    }
    // A script bundles what it calls and runs with node; its tests run with node too.
    let median = out.path().join("median/scripts");
    if Command::new("node").arg("--version").output().is_ok() {
        let run = Command::new("node")
            .arg(median.join("median.js"))
            .arg("[[4, 1, 3, 2]]")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&run.stdout).trim(),
            "2.5",
            "{run:?}"
        );
        let run = Command::new("node")
            .arg(median.join("median.test.js"))
            .output()
            .unwrap();
        assert!(run.status.success(), "{run:?}");
        assert!(String::from_utf8_lossy(&run.stdout).contains(" 0 failed"));
    } else {
        eprintln!("node is not installed: the exported scripts were not run with it");
    }
    let skill_md = std::fs::read_to_string(out.path().join("parse-csv/SKILL.md")).unwrap();
    assert!(skill_md.starts_with("---\nname: parse-csv\n"), "{skill_md}");
    assert!(skill_md.contains("  namespace: default\n"), "{skill_md}");

    // A fresh library imports them all: the same code and tests, which pass.
    let second_dir = tempfile::tempdir().unwrap();
    let second = common::open(second_dir.path()).await;
    let imported = second.import_agent_skills(out.path(), None).await.unwrap();
    assert!(imported.import.failed.is_empty(), "{imported:?}");
    assert!(imported.import.skipped.is_empty(), "{imported:?}");
    assert!(imported.warnings.is_empty(), "{imported:?}");
    assert_eq!(imported.import.added.len(), common::starter_count());
    let names = |skills: Vec<skillforge::library::SkillSummary>| {
        skills
            .into_iter()
            .map(|s| s.record.qualified_name())
            .collect::<Vec<_>>()
    };
    let all = ListFilter::default();
    let names_first = names(first.list(&all).await.unwrap());
    assert_eq!(names(second.list(&all).await.unwrap()), names_first);
    assert_eq!(names_first.len(), common::starter_count());
    for name in &names_first {
        let a = first.get(name).await.unwrap().skill.version;
        let b = second.get(name).await.unwrap().skill.version;
        assert_eq!(a.content_hash, b.content_hash, "{name}");
        assert_eq!(a.code, b.code, "{name}");
    }
    let verified = second.verify(&[]).await.unwrap();
    assert_eq!(verified.len(), common::starter_count());
    assert!(
        verified
            .iter()
            .all(|(_, r)| r.all_passed() && !r.tests.is_empty())
    );
}

const GOOD_SCRIPT: &str = r#"/**
 * Doubles a number.
 * @example twice(2) => 4
 */
function twice(x) { return 2 * x; }
"#;

fn folder(root: &Path, name: &str, skill_md: &str, scripts: &[(&str, &str)]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(dir.join("SKILL.md"), skill_md).unwrap();
    for (file, text) in scripts {
        std::fs::write(dir.join("scripts").join(file), text).unwrap();
    }
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_takes_javascript_with_passing_tests_and_says_why_it_skips_the_rest() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let front = |name: &str| format!("---\nname: {name}\ndescription: Doubles a number.\n---\n");
    // Lenient: an unquoted colon in the description, and a name that is not the folder's.
    folder(
        r,
        "twice",
        "---\nname: twice-a-number\ndescription: Use when: a number must double\nmetadata:\n  namespace: math\n---\nbody\n",
        &[("twice.js", GOOD_SCRIPT)],
    );
    folder(r, "no-script", &front("no-script"), &[]);
    folder(r, "python", &front("python"), &[("run.py", "print(1)\n")]);
    folder(
        r,
        "no-description",
        "---\nname: no-description\n---\n",
        &[("twice.js", GOOD_SCRIPT)],
    );
    folder(
        r,
        "no-tests",
        &front("no-tests"),
        &[(
            "thrice.js",
            "/** Triples. */\nfunction thrice(x) { return 3 * x; }\n",
        )],
    );
    folder(
        r,
        "failing",
        &front("failing"),
        &[(
            "half.js",
            "/**\n * Halves.\n * @example half(4) => 3\n */\nfunction half(x) { return x / 2; }\n",
        )],
    );
    // Hostile: a linked folder and a linked script are never followed.
    std::os::unix::fs::symlink(r.join("twice"), r.join("linked")).unwrap();
    let linked = folder(r, "linked-script", &front("linked-script"), &[]);
    std::os::unix::fs::symlink("/etc/hostname", linked.join("scripts/host.js")).unwrap();

    let data = tempfile::tempdir().unwrap();
    let library = common::open(data.path()).await;
    let report = library.import_agent_skills(r, None).await.unwrap();
    let added: Vec<&str> = report
        .import
        .added
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(added, ["math/twice"], "{report:?}");
    assert_eq!(report.warnings.len(), 2, "{report:?}");
    assert_eq!(report.import.failed.len(), 1, "{report:?}");
    assert_eq!(report.import.failed[0].0, "half");
    assert!(report.import.failed[0].1.contains("tests"), "{report:?}");
    let reasons: BTreeMap<String, String> = report
        .import
        .skipped
        .iter()
        .map(|s| {
            (
                s.path.file_name().unwrap().to_string_lossy().into_owned(),
                s.reason.clone(),
            )
        })
        .collect();
    let reason = |folder: &str| reasons.get(folder).map(String::as_str).unwrap_or("");
    assert!(reason("no-script").starts_with("no script"), "{reasons:?}");
    assert!(
        reason("python").contains("another language (run.py)"),
        "{reasons:?}"
    );
    assert!(
        reason("no-description").contains("no description"),
        "{reasons:?}"
    );
    assert!(reason("no-tests").starts_with("no tests"), "{reasons:?}");
    assert!(reason("linked").contains("symbolic link"), "{reasons:?}");
    assert!(reason("linked-script").contains("link"), "{reasons:?}");
    assert_eq!(reasons.len(), 6, "{reasons:?}");
}

fn skillforge(data_dir: &Path, args: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_skillforge"));
    command.arg("--data-dir").arg(data_dir).args(args);
    for var in common::SHARED_SERVER_VARIABLES {
        command.env_remove(var);
    }
    command.output().expect("the binary runs")
}

#[test]
fn the_cli_exports_and_imports_agent_skills_folders() {
    let first = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let exported = out_dir.path().join("skills");
    let dir = exported.to_str().unwrap();
    let out = skillforge(
        first.path(),
        &[
            "skills",
            "export",
            "--format",
            "agent-skills",
            dir,
            "--license",
            "MIT",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report = common::json_of(&out);
    assert_eq!(
        report["exported"].as_array().unwrap().len(),
        common::starter_count()
    );
    let skill_md = std::fs::read_to_string(exported.join("slugify/SKILL.md")).unwrap();
    assert!(skill_md.contains("\nlicense: MIT\n"), "{skill_md}");
    // The exported script runs in the sandbox as it is, its dependencies inside it.
    let script = exported.join("median/scripts/median.js");
    let out = skillforge(
        first.path(),
        &[
            "exec",
            script.to_str().unwrap(),
            "--input",
            "[[5, 1, 3]]",
            "--json",
        ],
    );
    assert_eq!(common::json_of(&out)["value"], 3, "{out:?}");

    // A folder without a script is reported on stderr; the rest is read. A new data dir
    // holds the starter library already: the same code and tests, so nothing changes.
    std::fs::create_dir(exported.join("empty")).unwrap();
    std::fs::write(
        exported.join("empty/SKILL.md"),
        "---\nname: empty\ndescription: Nothing.\n---\n",
    )
    .unwrap();
    let second = tempfile::tempdir().unwrap();
    let out = skillforge(
        second.path(),
        &["skills", "import", "--format", "agent-skills", dir],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let expected = format!(
        "0 added, {} unchanged, 0 failed, 1 skipped",
        common::starter_count()
    );
    assert!(stdout.contains(&expected), "{stdout}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("empty: no script"),
        "{out:?}"
    );
    // Into another namespace they are exact duplicates of the starter skills: refused.
    let out = skillforge(
        second.path(),
        &[
            "skills",
            "import",
            "--format",
            "agent-skills",
            dir,
            "--namespace",
            "imported",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exact duplicate of 'default/median'"),
        "{out:?}"
    );
    let out = skillforge(
        second.path(),
        &[
            "skills",
            "import",
            "--format",
            "agent-skills",
            "--voyager",
            dir,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}
