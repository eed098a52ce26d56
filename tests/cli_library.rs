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
