//! The library end to end on the real parts: ONNX embeddings, the wasmtime sandbox,
//! qdrant-edge in process and SQLite (PostgreSQL and a Qdrant server in `#[ignore]`d tests that
//! scripts/test runs where the server is). Needs `scripts/setup embed`.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{config, embedder, open, sandbox, skill};
use skillforge::embed::{Embedder, OnnxEmbedder, OnnxEmbedderConfig};
use skillforge::index::{FusionWeights, INDEX_FORMAT, SearchFilter};
use skillforge::library::{
    AddOptions, DataDirLock, Library, LibraryConfig, LibraryError, OpenMode, Recipe,
};
use skillforge::skill::SkillSource;
use skillforge::store::{
    Expect, ListFilter, NewVersion, Provenance, SkillStatus, Store, content_hash,
};

/// The name of the best hit of `query`, if any.
async fn top(library: &Library, query: &str, filter: SearchFilter) -> Option<String> {
    library
        .search(query, 1, filter)
        .await
        .unwrap()
        .first()
        .map(|hit| hit.skill.record.name.clone())
}

/// `source` as a version written straight to the store, around the library's validation
/// (another writer, or one that died before updating the index).
fn unvalidated(source: &SkillSource, expect: Expect) -> NewVersion {
    NewVersion {
        namespace: "default".into(),
        name: source.name.clone(),
        description: source.description.clone(),
        signature: source.signature.clone(),
        code: source.code.clone(),
        tests: serde_json::to_value(&source.tests).unwrap(),
        capabilities: Vec::new(),
        embedder_id: None,
        runnable: true,
        provenance: Provenance::default(),
        calls: Vec::new(),
        expect,
    }
}

const DOUBLE: &str = r#"
/**
 * Doubles a number.
 * @param {number} x the number
 * @returns {number}
 * @example double(2) => 4
 * @example double(-1.5) => -3
 */
function double(x) { return x * 2; }
"#;

const QUADRUPLE: &str = r#"
/**
 * Multiplies a number by four, by doubling it twice.
 * @param {number} x the number
 * @returns {number}
 * @example quadruple(3) => 12
 */
function quadruple(x) { return double(double(x)); }
"#;

const OCTUPLE: &str = r#"
/**
 * Multiplies a number by eight.
 * @example octuple(1) => 8
 */
function octuple(x) { return double(quadruple(x)); }
"#;

const CELSIUS: &str = r#"
/**
 * Converts a temperature from degrees Fahrenheit to degrees Celsius.
 * @example fahrenheitToCelsius(212) => 100
 * @example fahrenheitToCelsius(32) => 0
 */
function fahrenheitToCelsius(f) { return (f - 32) * 5 / 9; }
"#;

#[tokio::test]
async fn a_new_library_loads_the_starter_skills_and_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let library = Library::open(&LibraryConfig::new(dir.path()), embedder(), sandbox())
        .await
        .unwrap();
    let all = library.list(&ListFilter::default()).await.unwrap();
    let starter = skillforge::library::starter_skills().unwrap();
    assert_eq!(all.len(), starter.len());
    assert!(all.iter().all(|s| s.stats.last_verified_at.is_some()));

    let hits = library
        .search(
            "split a sentence into its words",
            3,
            SearchFilter::default(),
        )
        .await
        .unwrap();
    assert_eq!(hits[0].skill.record.name, "words", "{hits:#?}");

    // slugify calls removeDiacritics: the edge is recorded both ways.
    let slugify = library.get("slugify").await.unwrap();
    assert!(slugify.calls.iter().any(|c| c.name == "removeDiacritics"));
    let remove = library.get("default/removeDiacritics").await.unwrap();
    assert!(remove.called_by.iter().any(|c| c.name == "slugify"));

    // Opening again does not load the starter library twice.
    drop(library);
    let again = Library::open(&LibraryConfig::new(dir.path()), embedder(), sandbox())
        .await
        .unwrap();
    let versions: Vec<i64> = again
        .list(&ListFilter::default())
        .await
        .unwrap()
        .iter()
        .map(|s| s.record.current_version)
        .collect();
    assert!(versions.iter().all(|&v| v == 1));
}

#[tokio::test]
async fn composed_skills_record_their_call_graph() {
    let dir = tempfile::tempdir().unwrap();
    let library = open(dir.path()).await;
    library
        .add(skill(DOUBLE), AddOptions::default())
        .await
        .unwrap();
    let added = library
        .add(skill(QUADRUPLE), AddOptions::default())
        .await
        .unwrap();
    assert_eq!(added.calls, vec!["double"]);
    library
        .add(skill(OCTUPLE), AddOptions::default())
        .await
        .unwrap();

    let octuple = library.get("octuple").await.unwrap();
    let mut calls: Vec<_> = octuple.calls.iter().map(|c| c.name.as_str()).collect();
    calls.sort();
    assert_eq!(calls, ["double", "quadruple"]);
    let double = library.get("double").await.unwrap();
    let mut callers: Vec<_> = double.called_by.iter().map(|c| c.name.as_str()).collect();
    callers.sort();
    assert_eq!(callers, ["octuple", "quadruple"]);
}

#[tokio::test]
async fn failing_tests_duplicates_and_missing_tests_are_refused_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let library = open(dir.path()).await;
    let wrong = DOUBLE.replace("x * 2", "x + 2");
    let err = library
        .add(skill(&wrong), AddOptions::default())
        .await
        .unwrap_err();
    let LibraryError::TestsFailed { report, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!(report.failed(), 1, "double(2) = 4 passes by accident");
    assert!(err.to_string().contains("double(-1.5)"), "{err}");

    let untested = skill("/** Nothing to check. */\nfunction nothing() { return 1; }");
    assert!(matches!(
        library.add(untested, AddOptions::default()).await,
        Err(LibraryError::NoTests(_))
    ));
    assert!(
        library
            .list(&ListFilter::default())
            .await
            .unwrap()
            .is_empty()
    );

    let first = library
        .add(skill(DOUBLE), AddOptions::default())
        .await
        .unwrap();
    assert!(first.changed);
    let again = library
        .add(skill(DOUBLE), AddOptions::default())
        .await
        .unwrap();
    assert!(!again.changed);
    assert_eq!(again.version.id, first.version.id);

    // The same code and tests under another namespace is an exact duplicate.
    let elsewhere = AddOptions {
        namespace: Some("other".into()),
        ..AddOptions::default()
    };
    assert!(matches!(
        library.add(skill(DOUBLE), elsewhere).await,
        Err(LibraryError::Duplicate { .. })
    ));
}

#[tokio::test]
async fn an_update_that_breaks_a_caller_is_refused_and_a_compatible_one_retests_callers() {
    let dir = tempfile::tempdir().unwrap();
    let library = open(dir.path()).await;
    for code in [DOUBLE, QUADRUPLE, OCTUPLE] {
        library
            .add(skill(code), AddOptions::default())
            .await
            .unwrap();
    }
    // A new double whose own (new) tests pass but which breaks quadruple and octuple.
    let breaking = r#"
/**
 * Doubles a number, then adds one.
 * @example double(2) => 5
 */
function double(x) { return x * 2 + 1; }
"#;
    let err = library
        .add(skill(breaking), AddOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LibraryError::DependentRegression { dependent, .. } if dependent == "quadruple" || dependent == "octuple"),
        "{err}"
    );
    assert_eq!(
        library.get("double").await.unwrap().skill.version.version,
        1
    );

    let compatible = r#"
/**
 * Doubles a number (by addition).
 * @example double(2) => 4
 * @example double(0) => 0
 */
function double(x) { return x + x; }
"#;
    let added = library
        .add(skill(compatible), AddOptions::default())
        .await
        .unwrap();
    assert_eq!(added.version.version, 2);
    let mut retested = added.dependents_retested.clone();
    retested.sort();
    assert_eq!(retested, ["octuple", "quadruple"]);
}

#[tokio::test]
async fn deprecated_skills_leave_default_searches() {
    let dir = tempfile::tempdir().unwrap();
    let library = open(dir.path()).await;
    library
        .add(skill(CELSIUS), AddOptions::default())
        .await
        .unwrap();
    library
        .add(skill(DOUBLE), AddOptions::default())
        .await
        .unwrap();
    let active = SearchFilter {
        namespace: None,
        statuses: vec![SkillStatus::Active],
    };
    let query = "convert fahrenheit temperature to celsius";
    assert_eq!(
        top(&library, query, active.clone()).await.as_deref(),
        Some("fahrenheitToCelsius")
    );

    let record = library.deprecate("fahrenheitToCelsius").await.unwrap();
    assert_eq!(record.status, SkillStatus::Deprecated);
    let hits = library.search(query, 5, active).await.unwrap();
    assert!(
        hits.iter()
            .all(|h| h.skill.record.name != "fahrenheitToCelsius")
    );
    assert_eq!(
        top(&library, query, SearchFilter::default())
            .await
            .as_deref(),
        Some("fahrenheitToCelsius")
    );
}

#[tokio::test]
async fn index_writes_left_pending_by_a_crash_are_replayed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let library = open(dir.path()).await;
    library
        .add(skill(DOUBLE), AddOptions::default())
        .await
        .unwrap();
    drop(library);

    // A writer that committed to SQL and died before touching the index.
    let store = Store::open(&format!(
        "sqlite://{}",
        dir.path().join("skillforge.db").display()
    ))
    .await
    .unwrap();
    store
        .add_version(&unvalidated(&skill(CELSIUS), Expect::New))
        .await
        .unwrap();
    assert_eq!(store.pending().await.unwrap().len(), 1);
    store.close().await;

    let library = open(dir.path()).await;
    assert!(library.store().pending().await.unwrap().is_empty());
    assert_eq!(
        top(&library, "fahrenheit to celsius", SearchFilter::default())
            .await
            .as_deref(),
        Some("fahrenheitToCelsius")
    );
}

const ROUTE: &str = r#"
/**
 * Tells how a parcel should travel.
 * @example route(3) => "ground"
 * @example route(30) => "freight"
 */
function route(kg) {
  // parcels above the zorblax threshold leave by freight
  const ZORBLAX_THRESHOLD = 20;
  return kg > ZORBLAX_THRESHOLD ? "freight" : "ground";
}
"#;

/// What the index's lexical view alone finds for `query`.
async fn lexical_hits(library: &Library, query: &str) -> Vec<skillforge::index::SearchHit> {
    let vector = library.embed(vec![query.into()]).await.unwrap().remove(0);
    let mut search = Recipe::CURRENT.query(query, vector, 4, SearchFilter::default());
    search.weights = FusionWeights {
        description: 0.0,
        summary: 0.0,
        ..search.weights
    };
    library.index().search(&search).await.unwrap()
}

/// A library holding ROUTE among skills that do other things.
async fn library_with_route(dir: &Path) -> Library {
    let library = open(dir).await;
    for code in [CELSIUS, DOUBLE, QUADRUPLE, ROUTE] {
        library
            .add(skill(code), AddOptions::default())
            .await
            .unwrap();
    }
    library
}

#[tokio::test]
async fn a_word_only_the_code_holds_finds_the_skill() {
    let dir = tempfile::tempdir().unwrap();
    let library = library_with_route(dir.path()).await;
    // "zorblax" is in neither the description nor the signature: only the lexical view,
    // which holds the code's words, knows it; the identifier is split into words too.
    for query in ["zorblax", "what is the zorblax threshold"] {
        let hits = library
            .search(query, 4, SearchFilter::default())
            .await
            .unwrap();
        assert_eq!(hits[0].skill.record.name, "route", "{query}: {hits:#?}");
    }
}

#[tokio::test]
async fn an_index_of_the_old_recipe_is_rebuilt_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let library = library_with_route(dir.path()).await;
    // Put back the index as the recipe before issue 8 built it (header texts, format 2).
    let versions = library.store().all_current_versions().await.unwrap();
    let old = Recipe::HEADER;
    let texts: Vec<_> = versions.iter().map(|v| old.texts(v)).collect();
    let vectors = library
        .embed(
            texts
                .iter()
                .flat_map(|t| [t.description.clone(), t.summary.clone()])
                .collect(),
        )
        .await
        .unwrap();
    let points = versions
        .into_iter()
        .zip(texts)
        .zip(vectors.chunks(2))
        .map(|((v, t), pair)| old.point(v, t, pair[0].clone(), pair[1].clone()))
        .collect();
    library.index().upsert(points).await.unwrap();
    assert!(
        lexical_hits(&library, "zorblax").await.is_empty(),
        "the old texts do not hold the code's words"
    );
    drop(library);
    let meta_path = dir.path().join("index/index.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    meta["format_version"] = serde_json::json!(2);
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();

    let library = open(dir.path()).await;
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    assert_eq!(meta["format_version"], INDEX_FORMAT);
    assert_eq!(library.index().count().await.unwrap(), 4);
    assert_eq!(lexical_hits(&library, "zorblax").await.len(), 1);
    assert_eq!(
        top(&library, "zorblax", SearchFilter::default())
            .await
            .as_deref(),
        Some("route")
    );
}

#[tokio::test]
async fn a_new_embedder_rebuilds_the_index_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let library = open(dir.path()).await;
    library
        .add(skill(CELSIUS), AddOptions::default())
        .await
        .unwrap();
    library
        .add(skill(DOUBLE), AddOptions::default())
        .await
        .unwrap();
    drop(library);

    // The same model under another name is, for the index, another vector space.
    let mut renamed = OnnxEmbedderConfig::from_env().unwrap();
    renamed.model_name = "renamed-minilm".into();
    let other: Arc<dyn Embedder> = Arc::new(OnnxEmbedder::load(renamed).unwrap());
    assert_ne!(other.id(), embedder().id());
    let library = Library::open(&config(dir.path()), other.clone(), sandbox())
        .await
        .unwrap();
    let meta = std::fs::read_to_string(dir.path().join("index/index.json")).unwrap();
    assert!(meta.contains(other.id()), "{meta}");
    assert_eq!(
        top(&library, "double a number", SearchFilter::default())
            .await
            .as_deref(),
        Some("double")
    );
    assert_eq!(library.reindex().await.unwrap(), 2);
}

#[tokio::test]
async fn reindex_rewrites_points_in_place_and_drops_those_of_deleted_skills() {
    let dir = tempfile::tempdir().unwrap();
    let library = open(dir.path()).await;
    let celsius = library
        .add(skill(CELSIUS), AddOptions::default())
        .await
        .unwrap();
    let double = library
        .add(skill(DOUBLE), AddOptions::default())
        .await
        .unwrap();
    let (celsius, double) = (celsius.skill.id, double.skill.id);

    // A delete whose index write was lost (its outbox entry acknowledged, never applied).
    library.store().delete_skill(double).await.unwrap();
    for entry in library.store().pending().await.unwrap() {
        library.store().ack(entry.id).await.unwrap();
    }
    assert_eq!(
        library.index().skill_ids().await.unwrap(),
        [celsius, double]
    );

    assert_eq!(library.reindex().await.unwrap(), 1);
    assert_eq!(library.index().skill_ids().await.unwrap(), [celsius]);
    let hits = library
        .search("fahrenheit to celsius", 5, SearchFilter::default())
        .await
        .unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].skill.record.name, "fahrenheitToCelsius");
}

#[tokio::test]
async fn export_then_import_reproduces_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let library = open(dir.path()).await;
    for code in [DOUBLE, QUADRUPLE, CELSIUS] {
        library
            .add(skill(code), AddOptions::default())
            .await
            .unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    assert_eq!(library.export(out.path()).await.unwrap(), 3);
    assert!(out.path().join("default/quadruple.js").is_file());

    let copy_dir = tempfile::tempdir().unwrap();
    let copy = open(copy_dir.path()).await;
    let report = copy.import_dir(out.path()).await.unwrap();
    assert_eq!(report.added.len(), 3, "{report:?}");
    assert!(report.failed.is_empty());
    for name in ["double", "quadruple", "fahrenheitToCelsius"] {
        let original = library.get(name).await.unwrap().skill.version;
        let copied = copy.get(name).await.unwrap().skill.version;
        assert_eq!(
            content_hash(&original.code, &original.tests),
            copied.content_hash
        );
    }
    let quadruple = copy.get("quadruple").await.unwrap();
    assert_eq!(quadruple.calls[0].name, "double");
    let again = copy.import_dir(out.path()).await.unwrap();
    assert_eq!(again.unchanged.len(), 3);
}

#[tokio::test]
async fn voyager_libraries_import_as_not_runnable_with_their_call_graph() {
    let shared = std::env::var_os("SKILLFORGE_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    let dir = tempfile::tempdir().unwrap();
    let library = open(dir.path()).await;
    let report = library
        .import_voyager(&shared.join("voyager/trial2/skills.json"), None)
        .await
        .unwrap();
    assert_eq!(report.namespace, "voyager-trial2");
    assert_eq!(report.skills, 52);
    assert_eq!(report.import.added.len(), 52, "{:?}", report.import.failed);
    assert_eq!(report.calling_other_skills, 8);

    let rod = library.get("voyager-trial2/craftFishingRod").await.unwrap();
    assert!(!rod.skill.version.runnable);
    assert!(rod.called_by.len() >= 3, "{:?}", rod.called_by);

    let hits = library
        .search(
            "catch fish with a fishing rod",
            3,
            SearchFilter {
                namespace: Some("voyager-trial2".into()),
                statuses: Vec::new(),
            },
        )
        .await
        .unwrap();
    assert!(
        hits.iter()
            .any(|h| h.skill.record.name.to_lowercase().contains("fish")),
        "{hits:?}"
    );

    // Minecraft code cannot be validated here: adding it the validated way says so.
    let code = rod.skill.version.code.clone();
    let err = library
        .add(
            SkillSource::parse(&code, Some("craftFishingRod")).unwrap(),
            AddOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, LibraryError::NotRunnable { .. }), "{err}");
}

#[tokio::test]
#[ignore = "needs PostgreSQL: SKILLFORGE_TEST_POSTGRES_URL=$(scripts/start-postgres) cargo test -- --ignored postgres"]
async fn the_library_runs_on_postgres_too() {
    let base = std::env::var("SKILLFORGE_TEST_POSTGRES_URL").expect(
        "SKILLFORGE_TEST_POSTGRES_URL not set; run `export SKILLFORGE_TEST_POSTGRES_URL=$(scripts/start-postgres)`",
    );
    // A private schema keeps this test's rows apart from other runs.
    let schema = format!("lib_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options[search_path]={schema}");

    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.database_url = Some(url);
    let library = Library::open(&config, embedder(), sandbox()).await.unwrap();
    library
        .add(skill(DOUBLE), AddOptions::default())
        .await
        .unwrap();
    library
        .add(skill(QUADRUPLE), AddOptions::default())
        .await
        .unwrap();
    let double = library.get("double").await.unwrap();
    assert_eq!(double.called_by[0].name, "quadruple");
    assert_eq!(
        top(&library, "multiply by four", SearchFilter::default())
            .await
            .as_deref(),
        Some("quadruple")
    );
    library.store().close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
}

#[tokio::test]
#[ignore = "needs a Qdrant server: QDRANT_URL=http://127.0.0.1:6334 cargo test -- --ignored qdrant_server"]
async fn the_library_runs_on_a_qdrant_server_too() {
    let url = std::env::var("QDRANT_URL").expect(
        "QDRANT_URL not set; point it at a Qdrant server's gRPC port (e.g. http://127.0.0.1:6334)",
    );
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.qdrant_url = Some(url);
    config.qdrant_api_key = std::env::var("QDRANT_API_KEY").ok();
    config.qdrant_collection = format!("skillforge_lib_{}", uuid::Uuid::new_v4().simple());
    let library = Library::open(&config, embedder(), sandbox()).await.unwrap();
    for code in [DOUBLE, QUADRUPLE, CELSIUS] {
        library
            .add(skill(code), AddOptions::default())
            .await
            .unwrap();
    }
    let any = SearchFilter::default;
    assert_eq!(
        top(&library, "multiply by four", any()).await.as_deref(),
        Some("quadruple")
    );
    assert_eq!(
        top(&library, "fahrenheit to celsius", any())
            .await
            .as_deref(),
        Some("fahrenheitToCelsius")
    );

    // Status filter: a deprecated skill leaves active-only searches.
    library.deprecate("fahrenheitToCelsius").await.unwrap();
    let active = || SearchFilter {
        namespace: None,
        statuses: vec![SkillStatus::Active],
    };
    assert_ne!(
        top(&library, "fahrenheit to celsius", active())
            .await
            .as_deref(),
        Some("fahrenheitToCelsius")
    );

    // Another embedder: reopening rebuilds the collection instead of mixing vector spaces.
    drop(library);
    let mut renamed = OnnxEmbedderConfig::from_env().unwrap();
    renamed.model_name = "renamed-minilm".into();
    let other: Arc<dyn Embedder> = Arc::new(OnnxEmbedder::load(renamed).unwrap());
    let library = Library::open(&config, other, sandbox()).await.unwrap();
    assert_eq!(library.index().count().await.unwrap(), 3);
    assert_eq!(
        top(&library, "multiply by four", any()).await.as_deref(),
        Some("quadruple")
    );
    assert_eq!(library.reindex().await.unwrap(), 3);
    assert_eq!(library.index().skill_ids().await.unwrap().len(), 3);
}

#[tokio::test]
async fn verify_reruns_stored_tests_and_finds_a_broken_skill() {
    let dir = tempfile::tempdir().unwrap();
    let library = open(dir.path()).await;
    library
        .add(skill(DOUBLE), AddOptions::default())
        .await
        .unwrap();
    library
        .add(skill(QUADRUPLE), AddOptions::default())
        .await
        .unwrap();
    let results = library.verify(&[]).await.unwrap();
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|(_, report)| report.all_passed()));

    // A version written around the library's validation (another tool, a manual edit).
    let broken = skill(&DOUBLE.replace("x * 2", "x * 3"));
    library
        .store()
        .add_version(&unvalidated(&broken, Expect::Current(1)))
        .await
        .unwrap();
    let results = library.verify(&["double".into()]).await.unwrap();
    assert_eq!(results[0].1.failed(), 2);
    // Its caller's tests now fail too: quadruple(3) is 27, not 12.
    let results = library.verify(&["quadruple".into()]).await.unwrap();
    assert!(!results[0].1.all_passed());

    // Every run counted in the stats: one success each, then a failure each, so the
    // broken skills are the weak ones.
    for name in ["double", "quadruple"] {
        let stats = library.get(name).await.unwrap().skill.stats;
        assert_eq!(
            (stats.calls, stats.successes, stats.failures),
            (2, 1, 1),
            "{name}: {stats:?}"
        );
        assert_eq!(stats.success_rate(), Some(0.5));
    }
}

/// A library held for writing (the data dir's lock is per open file, so a second open in
/// this process meets it as another process would): a read-only open reads SQL and
/// searches a snapshot beside it and refuses writes; a second writer waits, then says who
/// holds the library.
#[tokio::test]
async fn readers_open_beside_a_writer_and_a_second_writer_is_told_who_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let writer = open(dir.path()).await;
    assert!(writer.holds_lock() && !writer.is_read_only());
    writer
        .add(skill(DOUBLE), AddOptions::default())
        .await
        .unwrap();

    let mut read_only = config(dir.path());
    read_only.mode = OpenMode::ReadOnly;
    let reader = Library::open(&read_only, embedder(), sandbox())
        .await
        .unwrap();
    assert!(reader.is_read_only() && !reader.holds_lock());
    assert_eq!(reader.list(&ListFilter::default()).await.unwrap().len(), 1);
    assert_eq!(
        top(&reader, "double a number", SearchFilter::default())
            .await
            .as_deref(),
        Some("double")
    );
    match reader.add(skill(CELSIUS), AddOptions::default()).await {
        Err(e @ LibraryError::ReadOnly { .. }) => {
            assert!(
                e.to_string().contains(&std::process::id().to_string()),
                "{e}"
            )
        }
        other => panic!("expected a read-only refusal, got {:?}", other.map(|_| ())),
    }
    assert!(matches!(
        reader.reindex().await,
        Err(LibraryError::ReadOnly { .. })
    ));

    // The writer goes on; what it wrote is in SQL for the reader at once.
    writer
        .add(skill(CELSIUS), AddOptions::default())
        .await
        .unwrap();
    assert_eq!(reader.list(&ListFilter::default()).await.unwrap().len(), 2);

    let mut second = config(dir.path());
    second.lock_timeout = std::time::Duration::ZERO;
    match Library::open(&second, embedder(), sandbox()).await {
        Err(e @ LibraryError::Busy { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains(&std::process::id().to_string()),
                "{message}"
            );
            assert!(!message.contains("damaged"), "{message}");
        }
        other => panic!("expected Busy, got {:?}", other.map(|_| ())),
    }

    // Released: the next writer opens, and sees both skills in SQL and the index.
    drop(reader);
    drop(writer);
    let writer = open(dir.path()).await;
    assert!(writer.holds_lock());
    assert_eq!(
        top(&writer, "fahrenheit to celsius", SearchFilter::default())
            .await
            .as_deref(),
        Some("fahrenheitToCelsius")
    );

    // With nobody else holding it, a read-only open holds the lock while it lives.
    drop(writer);
    let reader = Library::open(&read_only, embedder(), sandbox())
        .await
        .unwrap();
    assert!(reader.holds_lock() && reader.is_read_only());
}

/// Index files that cannot be loaded are rebuilt from SQL by a library opened for writing
/// (it holds the lock, so nobody else uses them), instead of advice to delete them.
#[tokio::test]
async fn an_index_that_cannot_be_loaded_is_rebuilt_when_the_library_is_opened_for_writing() {
    let dir = tempfile::tempdir().unwrap();
    let library = open(dir.path()).await;
    library
        .add(skill(CELSIUS), AddOptions::default())
        .await
        .unwrap();
    drop(library);
    std::fs::write(dir.path().join("index/index.json"), b"{garbage").unwrap();
    let library = open(dir.path()).await;
    assert_eq!(
        top(&library, "fahrenheit to celsius", SearchFilter::default())
            .await
            .as_deref(),
        Some("fahrenheitToCelsius")
    );
}

/// A reader that finds the library held while it is still being created is told by whom.
#[tokio::test]
async fn reading_a_library_its_holder_has_not_created_yet_says_who_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let _held = DataDirLock::try_acquire(dir.path()).unwrap().unwrap();
    let mut read_only = config(dir.path());
    read_only.mode = OpenMode::ReadOnly;
    match Library::open(&read_only, embedder(), sandbox()).await {
        Err(e @ LibraryError::Beside { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains(&format!("process {}", std::process::id())),
                "{message}"
            );
        }
        other => panic!("expected Beside, got {:?}", other.map(|_| ())),
    }
}
