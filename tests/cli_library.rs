//! `skillforge skills ...` and `skillforge reindex` as a user runs them, on a fresh data
//! directory: output shape and exit codes. Needs `scripts/setup embed`.

mod common;

use common::json_of;

use std::path::Path;
use std::process::{Command, Output};

fn skillforge(data_dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_skillforge"));
    command.arg("--data-dir").arg(data_dir).args(args);
    for var in common::SHARED_SERVER_VARIABLES {
        command.env_remove(var);
    }
    command.output().expect("the binary runs")
}

const SHOUT: &str = r#"
/**
 * Turns a title into an upper-case slug, e.g. for a constant's name.
 * @example shoutSlug("Hello, World") => "HELLO-WORLD"
 */
function shoutSlug(text) { return slugify(text).toUpperCase(); }
"#;

#[test]
fn add_show_search_and_reindex_on_a_fresh_data_dir() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("shoutSlug.js");
    std::fs::write(&file, SHOUT).unwrap();

    let out = skillforge(
        data.path(),
        &["skills", "add", file.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let added = json_of(&out);
    assert_eq!(added["skill"], "shoutSlug");
    assert_eq!(added["calls"], serde_json::json!(["slugify"]));

    let out = skillforge(data.path(), &["skills", "show", "slugify", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let shown = json_of(&out);
    let names = |key: &str| -> Vec<String> {
        shown[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("calls"), ["removeDiacritics"]);
    assert!(names("called_by").contains(&"shoutSlug".to_string()));

    let out = skillforge(
        data.path(),
        &[
            "skills",
            "search",
            "upper-case slug of a title",
            "-k",
            "2",
            "--json",
        ],
    );
    let hits = json_of(&out);
    let hits = hits.as_array().unwrap();
    assert_eq!(hits.len(), 2);
    assert!(hits.iter().any(|h| h["name"] == "shoutSlug"), "{hits:?}");

    let out = skillforge(data.path(), &["reindex", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let starter = common::starter_count();
    assert_eq!(json_of(&out)["skills"], starter + 1);

    let out = skillforge(data.path(), &["skills", "list", "--json"]);
    assert_eq!(json_of(&out).as_array().unwrap().len(), starter + 1);
}

#[test]
fn a_rejected_skill_exits_1_with_the_failing_tests_and_bad_input_exits_2() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("shoutSlug.js");
    std::fs::write(&file, SHOUT.replace("toUpperCase", "toLowerCase")).unwrap();

    let out = skillforge(
        data.path(),
        &["skills", "add", file.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let rejected = json_of(&out);
    assert_eq!(rejected["ok"], false);
    assert_eq!(rejected["error"]["kind"], "tests_failed");
    assert_eq!(rejected["error"]["report"]["tests"][0]["passed"], false);

    let out = skillforge(data.path(), &["skills", "show", "noSuchSkill"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no skill 'default/noSuchSkill'"));

    let out = skillforge(
        data.path(),
        &[
            "skills",
            "import",
            "--voyager",
            files.path().join("missing.json").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

/// Every file under `dir`, by relative path, with its contents.
fn files_under(dir: &Path) -> std::collections::BTreeMap<std::path::PathBuf, String> {
    let mut files = std::collections::BTreeMap::new();
    for folder in std::fs::read_dir(dir).unwrap() {
        for file in std::fs::read_dir(folder.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), text);
        }
    }
    files
}

#[test]
fn export_then_import_into_a_fresh_data_dir_gives_the_same_skills_and_passing_tests() {
    let first = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("shoutSlug.js");
    std::fs::write(&file, SHOUT).unwrap();
    let out = skillforge(
        first.path(),
        &[
            "skills",
            "add",
            file.to_str().unwrap(),
            "--namespace",
            "default",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let exported = files.path().join("exported");
    let out = skillforge(
        first.path(),
        &["skills", "export", exported.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(json_of(&out)["exported"], common::starter_count() + 1);
    // Whatever else lies in the directory is not read: a link out of it is reported.
    std::os::unix::fs::symlink("/etc/passwd", exported.join("default/passwd.js")).unwrap();

    let second = tempfile::tempdir().unwrap();
    let out = skillforge(
        second.path(),
        &["skills", "import", exported.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report = json_of(&out);
    assert_eq!(report["failed"], serde_json::json!([]), "{report}");
    assert_eq!(report["skipped"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(
        report["skipped"][0]["reason"],
        "symbolic link, not followed"
    );
    let out = skillforge(
        second.path(),
        &["skills", "import", exported.to_str().unwrap()],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SKIPPED"),
        "{out:?}"
    );

    let again = files.path().join("again");
    let out = skillforge(
        second.path(),
        &["skills", "export", again.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    std::fs::remove_file(exported.join("default/passwd.js")).unwrap();
    assert_eq!(files_under(&again), files_under(&exported));

    let out = skillforge(second.path(), &["skills", "test", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let results = json_of(&out);
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), common::starter_count() + 1);
    assert!(results.iter().all(|r| r["ok"] == true), "{results:?}");
}

#[test]
fn capabilities_are_granted_by_the_operator_and_namespaces_are_names() {
    let data = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("currentYear.js");
    std::fs::write(
        &file,
        "/**\n * The current year.\n * @capability clock\n * @test recent: assert.ok(currentYear() >= 2024)\n */\nfunction currentYear() { return new Date().getFullYear(); }\n",
    )
    .unwrap();
    let out = skillforge(
        data.path(),
        &["skills", "add", file.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(json_of(&out)["error"]["kind"], "capability_not_allowed");

    let out = skillforge(
        data.path(),
        &[
            "skills",
            "add",
            file.to_str().unwrap(),
            "--allow-capability",
            "clock",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    let out = skillforge(
        data.path(),
        &[
            "skills",
            "add",
            file.to_str().unwrap(),
            "--namespace",
            "../../x",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a namespace"),
        "{out:?}"
    );
}
