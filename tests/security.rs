//! The library against hostile input (issue 7, Security): namespaces that are paths, in a
//! file and in the store; import directories holding links, FIFOs and oversized files;
//! capabilities a skill declares beyond the operator's policy or borrows from its caller;
//! passwords in database URLs. Real SQLite, qdrant-edge, ONNX and wasmtime. Needs
//! `scripts/setup embed`.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{config, embedder, open, sandbox, skill};
use serde_json::json;
use skillforge::compose::ComposeError;
use skillforge::embed::Embedder;
use skillforge::index::{IndexSpec, QdrantServerIndex, VectorIndex};
use skillforge::library::{AddOptions, Library, LibraryError, server_collection};
use skillforge::sandbox::{Capabilities, HostFunction, HostFunctions, Sandbox, SandboxConfig};
use skillforge::skill::{SkillError, SkillSource};
use skillforge::store::{Expect, ListFilter, NewVersion, Provenance};

/// `source` written straight to the store in `namespace`, as an older version of skillforge
/// (or another tool) could have.
fn stored(source: &SkillSource, namespace: &str) -> NewVersion {
    NewVersion {
        namespace: namespace.into(),
        name: source.name.clone(),
        description: source.description.clone(),
        signature: source.signature.clone(),
        code: source.code.clone(),
        tests: serde_json::to_value(&source.tests).unwrap(),
        capabilities: source.capabilities.iter().map(String::from).collect(),
        embedder_id: None,
        runnable: true,
        provenance: Provenance::default(),
        calls: Vec::new(),
        expect: Expect::New,
    }
}

const DOUBLE: &str = r#"
/**
 * Doubles a number.
 * @example double(2) => 4
 */
function double(x) { return x * 2; }
"#;

const QUADRUPLE: &str = r#"
/**
 * Multiplies a number by four, by doubling it twice.
 * @example quadruple(3) => 12
 */
function quadruple(x) { return double(double(x)); }
"#;

fn names(report: &[(String, String)]) -> Vec<&str> {
    report.iter().map(|(name, _)| name.as_str()).collect()
}

#[tokio::test]
async fn a_namespace_that_is_a_path_is_refused_on_add_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let library = open(dir.path()).await;
    let outside = dir.path().join("abs");
    for namespace in ["../../x", outside.to_str().unwrap(), "a/b", ".."] {
        let error = library
            .add(
                skill(DOUBLE),
                AddOptions {
                    namespace: Some(namespace.into()),
                    ..AddOptions::default()
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&error, LibraryError::Skill { source: SkillError::BadNamespace(ns), .. } if ns == namespace),
            "{error}"
        );
    }

    let files = tempfile::tempdir().unwrap();
    let hostile = DOUBLE.replace(
        " * Doubles a number.",
        " * Doubles a number.\n * @namespace ../../x",
    );
    std::fs::write(files.path().join("double.js"), hostile).unwrap();
    // A folder is a namespace too: one named like a path is not entered.
    std::fs::create_dir(files.path().join("Not.A.Namespace")).unwrap();
    std::fs::write(files.path().join("Not.A.Namespace/double.js"), DOUBLE).unwrap();
    let report = library.import_dir(files.path()).await.unwrap();
    let root = files.path().canonicalize().unwrap();
    assert_eq!(
        names(&report.failed),
        [root.join("double.js").to_str().unwrap()]
    );
    assert!(
        report.failed[0].1.contains("'../../x' is not a namespace"),
        "{report:?}"
    );
    assert_eq!(report.skipped.len(), 1, "{report:?}");
    assert!(report.skipped[0].path.ends_with("Not.A.Namespace"));
    assert!(
        library
            .list(&ListFilter::default())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn export_never_writes_outside_its_directory_whatever_the_store_holds() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("a/b/out");
    let absolute = root.path().join("absolute");
    for namespace in ["../../escaped", absolute.to_str().unwrap()] {
        let data = tempfile::tempdir().unwrap();
        let library = open(data.path()).await;
        library
            .add(
                skill(QUADRUPLE.replace("double(double(x))", "x * 4").as_str()),
                AddOptions::default(),
            )
            .await
            .unwrap();
        // A row an older version wrote before namespaces were checked.
        library
            .store()
            .add_version(&stored(&skill(DOUBLE), namespace))
            .await
            .unwrap();
        let error = library.export(&out).await.unwrap_err();
        assert!(
            matches!(&error, LibraryError::UnsafeExport { skill, .. } if skill == &format!("{namespace}/double")),
            "{error}"
        );
        assert!(
            error.to_string().contains("nothing was exported"),
            "{error}"
        );
        assert!(!root.path().join("a/escaped").exists());
        assert!(!absolute.exists());
        assert!(!out.exists(), "nothing is written when one row is unsafe");
    }
}

#[tokio::test]
async fn a_hostile_import_directory_is_read_safely_and_the_rest_goes_on() {
    let data = tempfile::tempdir().unwrap();
    let library = open(data.path()).await;
    let files = tempfile::tempdir().unwrap();
    let path = |name: &str| files.path().join(name);
    std::fs::write(path("double.js"), DOUBLE).unwrap();
    std::fs::write(path("broken.js"), "function broken( {").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", path("passwd.js")).unwrap();
    std::os::unix::fs::symlink("/etc", path("etc")).unwrap();
    let fifo = std::ffi::CString::new(path("fifo.js").to_str().unwrap()).unwrap();
    // SAFETY: `fifo` is a valid NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    // Where an import opens the FIFO, it would wait for a writer for ever: this one comes
    // after a minute, so such an import fails this test instead of hanging it.
    let writer = path("fifo.js");
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(60));
        let _ = std::fs::OpenOptions::new().write(true).open(writer);
    });
    let padding = "// padding\n".repeat((1 << 20) / 11 + 1);
    std::fs::write(
        path("big.js"),
        format!("{padding}{}", DOUBLE.replace("double", "big")),
    )
    .unwrap();
    std::fs::create_dir(path("math")).unwrap();
    std::fs::write(
        files.path().join("math/quadruple.js"),
        QUADRUPLE.replace("double(double(x))", "x * 4"),
    )
    .unwrap();

    let report = library.import_dir(files.path()).await.unwrap();
    let added: Vec<&str> = report.added.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(added, ["default/double", "math/quadruple"], "{report:?}");
    let root = files.path().canonicalize().unwrap();
    assert_eq!(
        names(&report.failed),
        [root.join("broken.js").to_str().unwrap()]
    );
    let skipped: Vec<(&Path, &str)> = report
        .skipped
        .iter()
        .map(|s| (s.path.as_path(), s.reason.as_str()))
        .collect();
    let big = format!(
        "{} bytes, over the limit of 1048576 bytes, not read",
        std::fs::metadata(path("big.js")).unwrap().len()
    );
    assert_eq!(
        skipped,
        [
            (root.join("big.js").as_path(), big.as_str()),
            (root.join("etc").as_path(), "symbolic link, not followed"),
            (
                root.join("fifo.js").as_path(),
                "not a regular file (FIFO, socket or device), not opened"
            ),
            (
                root.join("passwd.js").as_path(),
                "symbolic link, not followed"
            ),
        ],
        "{report:?}"
    );
}

#[tokio::test]
async fn an_import_never_replaces_a_runnable_skill_with_one_that_cannot_run_and_retests_callers() {
    let data = tempfile::tempdir().unwrap();
    let library = open(data.path()).await;
    library
        .add(skill(DOUBLE), AddOptions::default())
        .await
        .unwrap();
    library
        .add(skill(QUADRUPLE), AddOptions::default())
        .await
        .unwrap();

    let files = tempfile::tempdir().unwrap();
    let minecraft = DOUBLE.replace(
        " * Doubles a number.",
        " * Doubles a number.\n * @environment minecraft",
    );
    std::fs::write(files.path().join("double.js"), minecraft).unwrap();
    let report = library.import_dir(files.path()).await.unwrap();
    assert_eq!(names(&report.failed), ["double"]);
    assert!(
        report.failed[0].1.contains("'default/double' runs here"),
        "{report:?}"
    );
    let double = library.get("double").await.unwrap().skill;
    assert!(double.version.runnable && double.version.version == 1);

    // A runnable replacement re-tests the skills that call it, like `skills add`.
    let triple = DOUBLE.replace("x * 2", "x * 3").replace("=> 4", "=> 6");
    std::fs::write(files.path().join("double.js"), triple).unwrap();
    let report = library.import_dir(files.path()).await.unwrap();
    assert!(
        report.failed[0].1.contains("breaks 'quadruple'"),
        "{report:?}"
    );
    assert_eq!(
        library.get("double").await.unwrap().skill.version.version,
        1
    );
}

const CLOCK_SKILL: &str = r#"
/**
 * The current year, from the real clock.
 * @capability clock
 * @test recent: assert.ok(currentYear() >= 2024)
 */
function currentYear() { return new Date().getFullYear(); }
"#;

#[tokio::test]
async fn a_capability_the_operator_did_not_allow_is_refused_at_admission() {
    let data = tempfile::tempdir().unwrap();
    let library = open(data.path()).await;
    let error = library
        .add(skill(CLOCK_SKILL), AddOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, LibraryError::CapabilityNotAllowed { name, capability } if name == "currentYear" && capability == "clock"),
        "{error}"
    );
    assert!(
        error.to_string().contains("--allow-capability clock"),
        "{error}"
    );
    // Through an import too, and through `prepare` (the agent's admission).
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("currentYear.js"), CLOCK_SKILL).unwrap();
    let report = library.import_dir(files.path()).await.unwrap();
    assert_eq!(names(&report.failed), ["currentYear"]);
    assert!(matches!(
        library
            .prepare(skill(CLOCK_SKILL), AddOptions::default())
            .await,
        Err(LibraryError::CapabilityNotAllowed { .. })
    ));
    drop(library);

    let mut allowing = config(data.path());
    allowing.allowed_capabilities = Capabilities::none().grant("clock");
    let library = Library::open(&allowing, embedder(), sandbox())
        .await
        .unwrap();
    let added = library
        .add(skill(CLOCK_SKILL), AddOptions::default())
        .await
        .unwrap();
    assert!(added.report.all_passed(), "{:?}", added.report);
}

/// Reads a key through the host, but its own tests only take the branch that does not.
const READ_KEY: &str = r#"
/**
 * Reads a setting, or returns the fallback when no key is given.
 * @example readKey(null, 7) => 7
 */
function readKey(key, fallback) { return key === null ? fallback : host.call("kv.get", { key }); }
"#;

const SETTING: &str = r#"
/**
 * Looks a setting up by name.
 * @capability kv.get
 * @example setting("answer") => 42
 */
function setting(name) { return readKey(name, 0); }
"#;

#[tokio::test]
async fn a_dependency_cannot_borrow_the_capability_of_the_skill_that_calls_it() {
    let host =
        HostFunctions::empty().with(HostFunction::new("kv.get", "reads a setting", |_, _| {
            Ok(json!(42))
        }));
    let sandbox = Arc::new(Sandbox::new(SandboxConfig::default(), host).unwrap());
    let data = tempfile::tempdir().unwrap();
    let mut config = config(data.path());
    config.allowed_capabilities = Capabilities::none().grant("kv.get");
    let library = Library::open(&config, embedder(), sandbox).await.unwrap();

    let undeclared = |error: &LibraryError| {
        matches!(error, LibraryError::Compose { source: ComposeError::UndeclaredCapability { skill, capability }, .. }
            if skill == "readKey" && capability == "kv.get")
    };
    let error = library
        .add(skill(READ_KEY), AddOptions::default())
        .await
        .unwrap_err();
    assert!(undeclared(&error), "{error}");

    // Stored anyway (an older version admitted it): its caller declares kv.get, and still
    // the dependency may not use it.
    library
        .store()
        .add_version(&stored(&skill(READ_KEY), "default"))
        .await
        .unwrap();
    let error = library
        .add(skill(SETTING), AddOptions::default())
        .await
        .unwrap_err();
    assert!(undeclared(&error), "{error}");

    // Declared by the skill that uses it: the bundle runs with what its skills declare.
    let declared = READ_KEY.replace(" * @example", " * @capability kv.get\n * @example");
    library
        .add(skill(&declared), AddOptions::default())
        .await
        .unwrap();
    let added = library
        .add(skill(SETTING), AddOptions::default())
        .await
        .unwrap();
    assert!(added.report.all_passed(), "{:?}", added.report);
}

#[tokio::test]
async fn a_database_password_is_never_printed() {
    let data = tempfile::tempdir().unwrap();
    let mut config = config(data.path());
    config.database_url = Some("postgres://alice:hunter2@127.0.0.1:notaport/skills".into());
    config.qdrant_api_key = Some("qdrant-secret-key".into());
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("qdrant-secret-key"),
        "{debug}"
    );
    assert!(debug.contains("alice:***@127.0.0.1"), "{debug}");

    let error = match Library::open(&config, embedder(), sandbox()).await {
        Ok(_) => panic!("a malformed URL opened"),
        Err(error) => error,
    };
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("alice:***@"), "{shown}");

    // A reader opening beside a writer goes through the read-only store: the same.
    let url = config.database_url.as_deref().unwrap();
    let error = match skillforge::store::Store::open_read_only(url).await {
        Ok(_) => panic!("a malformed URL opened"),
        Err(error) => error,
    };
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("alice:***@"), "{shown}");
}

#[test]
fn another_embedder_or_index_format_gets_its_own_server_collection() {
    let spec = |id: &str, dimension| IndexSpec {
        embedder_id: id.into(),
        dimension,
    };
    let minilm = server_collection("skillforge", &spec("minilm", 384));
    assert_eq!(
        minilm,
        server_collection("skillforge", &spec("minilm", 384))
    );
    assert!(minilm.starts_with("skillforge_") && minilm.len() == "skillforge_".len() + 12);
    assert_ne!(minilm, server_collection("skillforge", &spec("other", 384)));
    assert_ne!(
        minilm,
        server_collection("skillforge", &spec("minilm", 768))
    );
}

#[tokio::test]
#[ignore = "needs a Qdrant server: QDRANT_URL=http://127.0.0.1:6334 cargo test -- --ignored qdrant_server"]
async fn a_mismatch_never_drops_a_qdrant_server_collection() {
    let url = std::env::var("QDRANT_URL")
        .expect("QDRANT_URL not set; point it at a Qdrant server's gRPC port");
    let key = std::env::var("QDRANT_API_KEY").ok();
    let data = tempfile::tempdir().unwrap();
    let mut config = config(data.path());
    config.qdrant_url = Some(url.clone());
    config.qdrant_api_key = key.clone();
    config.qdrant_collection = format!("skillforge_sec_{}", uuid::Uuid::new_v4().simple());
    let ours = IndexSpec {
        embedder_id: embedder().id().to_string(),
        dimension: embedder().dimension(),
    };
    let name = server_collection(&config.qdrant_collection, &ours);
    // Someone else's collection under the name this library would use.
    let theirs = IndexSpec {
        embedder_id: "someone-else".into(),
        dimension: 8,
    };
    QdrantServerIndex::open(&url, key.clone(), &name, theirs.clone())
        .await
        .unwrap();
    let error = match Library::open(&config, embedder(), sandbox()).await {
        Ok(_) => panic!("opened a collection of another embedder"),
        Err(error) => error,
    };
    assert!(
        matches!(&error, LibraryError::ForeignCollection { collection, .. } if *collection == name),
        "{error}"
    );
    let still = QdrantServerIndex::open(&url, key.clone(), &name, theirs)
        .await
        .unwrap();
    assert!(!still.was_created(), "the other collection was dropped");

    // A library whose embedder changes builds a new collection and leaves the old one.
    config.qdrant_collection = format!("skillforge_sec_{}", uuid::Uuid::new_v4().simple());
    let library = Library::open(&config, embedder(), sandbox()).await.unwrap();
    library
        .add(skill(DOUBLE), AddOptions::default())
        .await
        .unwrap();
    drop(library);
    let mut renamed = skillforge::embed::OnnxEmbedderConfig::from_env().unwrap();
    renamed.model_name = "renamed-minilm".into();
    let other: Arc<dyn Embedder> =
        Arc::new(skillforge::embed::OnnxEmbedder::load(renamed).unwrap());
    let library = Library::open(&config, other, sandbox()).await.unwrap();
    assert_eq!(library.index().count().await.unwrap(), 1);
    let old = QdrantServerIndex::open(
        &url,
        key,
        &server_collection(&config.qdrant_collection, &ours),
        ours,
    )
    .await
    .unwrap();
    assert!(!old.was_created());
    assert_eq!(old.count().await.unwrap(), 1);
}
