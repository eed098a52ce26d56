//! One test suite for both index backends: `EdgeIndex` in a tempdir, and
//! `QdrantServerIndex` against `QDRANT_URL` (a fresh collection per test;
//! `#[ignore]`d: `cargo test -- --ignored qdrant_server`). Vectors are small synthetic ones: the index takes vectors, so
//! no embedding model is needed.

use async_trait::async_trait;

use super::*;

const DIM: usize = 8;

/// Opens (and reopens) one index location of a backend.
#[async_trait]
trait Location: Send + Sync {
    async fn open(&self, spec: IndexSpec) -> Result<Box<dyn VectorIndex>>;
    async fn recreate(&self, spec: IndexSpec) -> Result<Box<dyn VectorIndex>>;
}

struct EdgeLocation {
    dir: tempfile::TempDir,
}

#[async_trait]
impl Location for EdgeLocation {
    async fn open(&self, spec: IndexSpec) -> Result<Box<dyn VectorIndex>> {
        Ok(Box::new(EdgeIndex::open(self.dir.path(), spec)?))
    }
    async fn recreate(&self, spec: IndexSpec) -> Result<Box<dyn VectorIndex>> {
        Ok(Box::new(EdgeIndex::recreate(self.dir.path(), spec)?))
    }
}

struct ServerLocation {
    url: String,
    api_key: Option<String>,
    collection: String,
}

#[async_trait]
impl Location for ServerLocation {
    async fn open(&self, spec: IndexSpec) -> Result<Box<dyn VectorIndex>> {
        let index =
            QdrantServerIndex::open(&self.url, self.api_key.clone(), &self.collection, spec)
                .await?;
        Ok(Box::new(index))
    }
    async fn recreate(&self, spec: IndexSpec) -> Result<Box<dyn VectorIndex>> {
        let index =
            QdrantServerIndex::recreate(&self.url, self.api_key.clone(), &self.collection, spec)
                .await?;
        Ok(Box::new(index))
    }
}

impl Drop for ServerLocation {
    fn drop(&mut self) {
        let (url, key, collection) = (
            self.url.clone(),
            self.api_key.clone(),
            self.collection.clone(),
        );
        // Best effort: remove the test collection on a separate runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let client = qdrant_client::Qdrant::from_url(&url)
                    .api_key(key)
                    .skip_compatibility_check()
                    .build()
                    .ok()?;
                client.delete_collection(collection).await.ok()
            })
        })
        .join();
    }
}

fn edge_location() -> EdgeLocation {
    EdgeLocation {
        dir: tempfile::tempdir().unwrap(),
    }
}

fn server_location() -> ServerLocation {
    let url = std::env::var("QDRANT_URL").expect(
        "QDRANT_URL not set; point it at a Qdrant server's gRPC port (e.g. http://127.0.0.1:6334) to test QdrantServerIndex",
    );
    ServerLocation {
        url,
        api_key: std::env::var("QDRANT_API_KEY").ok(),
        collection: format!("skillforge_test_{}", uuid::Uuid::new_v4().simple()),
    }
}

fn spec() -> IndexSpec {
    IndexSpec {
        embedder_id: "test/embedder@1".into(),
        dimension: DIM,
    }
}

/// Unit vector along axis `i`, slightly tilted towards axis `j`.
fn axis(i: usize, j: usize, tilt: f32) -> Vec<f32> {
    let mut v = [0.0; DIM];
    v[i] = 1.0;
    v[j] += tilt;
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

fn point(
    id: i64,
    namespace: &str,
    status: SkillStatus,
    vector: Vec<f32>,
    text: &str,
) -> IndexPoint {
    IndexPoint {
        skill_id: SkillId(id),
        version_id: VersionId(id * 10),
        namespace: namespace.into(),
        status,
        description_vector: vector.clone(),
        summary_vector: vector,
        text: text.into(),
    }
}

fn query(vector: Vec<f32>, text: &str, limit: usize, filter: SearchFilter) -> SearchQuery {
    SearchQuery {
        vector,
        text: text.into(),
        limit,
        filter,
        weights: FusionWeights::EQUAL,
    }
}

fn ids(hits: &[SearchHit]) -> Vec<i64> {
    hits.iter().map(|h| h.skill_id.0).collect()
}

/// Six skills: one whose vectors match the query but whose words do not, one whose
/// words match but whose vectors point away, and four unrelated ones.
fn hybrid_points() -> Vec<IndexPoint> {
    vec![
        point(
            1,
            "ns",
            SkillStatus::Active,
            axis(0, 1, 0.05),
            "sortNumbers: order a list ascending",
        ),
        point(
            2,
            "ns",
            SkillStatus::Active,
            axis(7, 6, 0.0),
            "levenshteinDistance: edit distance between two strings",
        ),
        point(
            3,
            "ns",
            SkillStatus::Active,
            axis(2, 3, 0.3),
            "readFile: load bytes from disk",
        ),
        point(
            4,
            "ns",
            SkillStatus::Active,
            axis(3, 4, 0.3),
            "httpGet: fetch a web page",
        ),
        point(
            5,
            "ns",
            SkillStatus::Active,
            axis(4, 5, 0.3),
            "sumValues: add all numbers",
        ),
        point(
            6,
            "ns",
            SkillStatus::Active,
            axis(5, 2, 0.3),
            "formatDate: print a timestamp",
        ),
    ]
}

async fn hybrid_fusion_finds_dense_and_lexical_matches(loc: &dyn Location) {
    let index = loc.open(spec()).await.unwrap();
    index.upsert(hybrid_points()).await.unwrap();
    index.optimize().await.unwrap();
    assert_eq!(index.count().await.unwrap(), 6);

    // The query vector is closest to skill 1; only skill 2 shares a word.
    let q = axis(0, 1, 0.0);
    let hits = index
        .search(&query(q.clone(), "levenshtein", 2, SearchFilter::default()))
        .await
        .unwrap();
    let mut top = ids(&hits);
    top.sort();
    assert_eq!(
        top,
        [1, 2],
        "dense-only and lexical-only matches both fused into the top 2: {hits:?}"
    );
    assert!(hits[0].score >= hits[1].score);

    // Two query words, one only inside the camelCase name, pick skill 2 next to the dense match.
    let hits = index
        .search(&query(
            axis(4, 5, 0.3),
            "compute the levenshtein distance",
            6,
            SearchFilter::default(),
        ))
        .await
        .unwrap();
    assert_eq!(hits.len(), 6);
    assert!(ids(&hits)[..2].contains(&2), "{hits:?}");
    assert!(ids(&hits)[..2].contains(&5), "{hits:?}");

    // Without query words the dense views decide alone.
    let hits = index
        .search(&query(q, "", 1, SearchFilter::default()))
        .await
        .unwrap();
    assert_eq!(ids(&hits), [1]);
}

async fn fusion_weights_and_k_decide_the_ranking(loc: &dyn Location) {
    let index = loc.open(spec()).await.unwrap();
    // The dense views rank 1, 3, 4, 2 (strictly: cosines 0.999, 0.89, 0.71, 0.32); only
    // skill 2 holds the query's word.
    let dense = |id, vector| point(id, "ns", SkillStatus::Active, vector, "unrelated words");
    index
        .upsert(vec![
            dense(1, axis(0, 1, 0.05)),
            dense(3, axis(0, 2, 0.5)),
            dense(4, axis(0, 3, 1.0)),
            point(
                2,
                "ns",
                SkillStatus::Active,
                axis(0, 4, 3.0),
                "levenshteinDistance: edit distance between two strings",
            ),
        ])
        .await
        .unwrap();
    index.optimize().await.unwrap();
    let search = |weights: FusionWeights| {
        let mut search = query(axis(0, 1, 0.0), "levenshtein", 4, SearchFilter::default());
        search.weights = weights;
        search
    };
    let weights = |description, summary, bm25, k| FusionWeights {
        description,
        summary,
        bm25,
        k,
    };

    // With k 60 the ranks are worth nearly the same: being in every view wins.
    let hits = index.search(&search(FusionWeights::EQUAL)).await.unwrap();
    assert_eq!(ids(&hits), [2, 1, 3, 4], "{hits:?}");
    // With k 1 a view's first place counts: the two dense first places win.
    let hits = index
        .search(&search(weights(1.0, 1.0, 1.0, 1)))
        .await
        .unwrap();
    assert_eq!(ids(&hits), [1, 2, 3, 4], "{hits:?}");
    // A heavier lexical view puts its first place back on top.
    let hits = index
        .search(&search(weights(1.0, 1.0, 3.0, 1)))
        .await
        .unwrap();
    assert_eq!(ids(&hits)[0], 2, "{hits:?}");
    // A view of weight 0 is not searched: the lexical view alone finds only skill 2, the
    // dense views alone rank it last.
    let hits = index
        .search(&search(weights(0.0, 0.0, 1.0, 1)))
        .await
        .unwrap();
    assert_eq!(ids(&hits), [2], "{hits:?}");
    let hits = index
        .search(&search(weights(1.0, 1.0, 0.0, 1)))
        .await
        .unwrap();
    assert_eq!(ids(&hits), [1, 3, 4, 2], "{hits:?}");
    // No view at all finds nothing.
    let hits = index
        .search(&search(weights(0.0, 0.0, 0.0, 1)))
        .await
        .unwrap();
    assert!(hits.is_empty());
}

async fn filters_by_namespace_and_status(loc: &dyn Location) {
    let index = loc.open(spec()).await.unwrap();
    let v = axis(0, 1, 0.1);
    index
        .upsert(vec![
            point(1, "alpha", SkillStatus::Active, v.clone(), "parse csv"),
            point(
                2,
                "alpha",
                SkillStatus::Deprecated,
                v.clone(),
                "parse csv old",
            ),
            point(3, "beta", SkillStatus::Active, v.clone(), "parse csv beta"),
            point(
                4,
                "beta",
                SkillStatus::Quarantined,
                v.clone(),
                "parse csv broken",
            ),
            point(
                5,
                "alpha beta",
                SkillStatus::Active,
                v.clone(),
                "namespace with a space",
            ),
        ])
        .await
        .unwrap();
    let search = |namespace: Option<&str>, statuses: Vec<SkillStatus>| {
        let filter = SearchFilter {
            namespace: namespace.map(String::from),
            statuses,
        };
        let index = &index;
        let v = v.clone();
        async move {
            let mut found = ids(&index
                .search(&query(v, "parse csv", 10, filter))
                .await
                .unwrap());
            found.sort();
            found
        }
    };
    assert_eq!(search(None, vec![]).await, [1, 2, 3, 4, 5]);
    assert_eq!(search(Some("alpha"), vec![]).await, [1, 2]);
    assert_eq!(search(Some("alpha beta"), vec![]).await, [5]);
    assert_eq!(search(None, vec![SkillStatus::Active]).await, [1, 3, 5]);
    assert_eq!(search(Some("beta"), vec![SkillStatus::Active]).await, [3]);
    assert_eq!(
        search(
            None,
            vec![SkillStatus::Deprecated, SkillStatus::Quarantined]
        )
        .await,
        [2, 4]
    );
    assert_eq!(search(Some("gamma"), vec![]).await, Vec::<i64>::new());

    // Re-upserting a point replaces it: a status change moves it between filters.
    index
        .upsert(vec![point(
            2,
            "alpha",
            SkillStatus::Active,
            v.clone(),
            "parse csv new",
        )])
        .await
        .unwrap();
    assert_eq!(
        search(Some("alpha"), vec![SkillStatus::Active]).await,
        [1, 2]
    );
    assert_eq!(index.count().await.unwrap(), 5);

    index.delete(&[SkillId(1), SkillId(99)]).await.unwrap();
    assert_eq!(search(Some("alpha"), vec![]).await, [2]);
    assert_eq!(index.count().await.unwrap(), 4);

    let listed: Vec<i64> = index
        .skill_ids()
        .await
        .unwrap()
        .into_iter()
        .map(|id| id.0)
        .collect();
    assert_eq!(listed, [2, 3, 4, 5]);
}

async fn persists_across_reopen(loc: &dyn Location) {
    let index = loc.open(spec()).await.unwrap();
    index.upsert(hybrid_points()).await.unwrap();
    index.delete(&[SkillId(6)]).await.unwrap();
    let before = index
        .search(&query(
            axis(0, 1, 0.0),
            "levenshtein",
            3,
            SearchFilter::default(),
        ))
        .await
        .unwrap();
    drop(index);

    let index = loc.open(spec()).await.unwrap();
    assert_eq!(index.count().await.unwrap(), 5);
    let after = index
        .search(&query(
            axis(0, 1, 0.0),
            "levenshtein",
            3,
            SearchFilter::default(),
        ))
        .await
        .unwrap();
    assert_eq!(ids(&after), ids(&before));
    assert_eq!(index.spec(), &spec());
}

async fn embedder_change_is_reported(loc: &dyn Location) {
    let index = loc.open(spec()).await.unwrap();
    index.upsert(hybrid_points()).await.unwrap();
    drop(index);

    let other_model = IndexSpec {
        embedder_id: "test/other@1".into(),
        dimension: DIM,
    };
    let bigger = IndexSpec {
        embedder_id: spec().embedder_id,
        dimension: DIM * 2,
    };
    for requested in [other_model, bigger.clone()] {
        match loc.open(requested.clone()).await {
            Err(IndexError::EmbedderMismatch {
                stored,
                requested: r,
                ..
            }) => {
                assert_eq!(stored, spec());
                assert_eq!(r, requested);
            }
            other => panic!(
                "expected an embedder mismatch, got {other:?}",
                other = other.map(|_| ())
            ),
        }
    }
    let message = loc.open(bigger.clone()).await.err().unwrap().to_string();
    assert!(message.contains("skillforge reindex"), "{message}");

    // Rebuilding for the new embedder starts empty and takes its vectors.
    let index = loc.recreate(bigger.clone()).await.unwrap();
    assert_eq!(index.count().await.unwrap(), 0);
    let mut p = point(1, "ns", SkillStatus::Active, vec![0.5; DIM * 2], "x");
    p.summary_vector = vec![0.25; DIM * 2];
    index.upsert(vec![p]).await.unwrap();
    drop(index);
    let index = loc.open(bigger).await.unwrap();
    assert_eq!(index.count().await.unwrap(), 1);
}

async fn wrong_dimensions_are_typed_errors(loc: &dyn Location) {
    let index = loc.open(spec()).await.unwrap();
    let bad_point = point(1, "ns", SkillStatus::Active, vec![1.0; DIM + 1], "x");
    assert!(matches!(
        index.upsert(vec![bad_point]).await,
        Err(IndexError::Dimension { expected: DIM, got, .. }) if got == DIM + 1
    ));
    assert_eq!(index.count().await.unwrap(), 0);
    assert!(matches!(
        index
            .search(&query(vec![1.0; 3], "x", 5, SearchFilter::default()))
            .await,
        Err(IndexError::Dimension { got: 3, .. })
    ));
}

macro_rules! index_suite {
    ($($name:ident),* $(,)?) => {
        mod edge {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let loc = super::edge_location();
                    super::$name(&loc).await;
                }
            )*
        }
        mod qdrant_server {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs a Qdrant server: QDRANT_URL=http://127.0.0.1:6334 cargo test -- --ignored qdrant_server"]
                async fn $name() {
                    let loc = super::server_location();
                    super::$name(&loc).await;
                }
            )*
        }
    };
}

index_suite!(
    hybrid_fusion_finds_dense_and_lexical_matches,
    fusion_weights_and_k_decide_the_ranking,
    filters_by_namespace_and_status,
    persists_across_reopen,
    embedder_change_is_reported,
    wrong_dimensions_are_typed_errors,
);

#[test]
fn edge_index_recovers_from_half_created_directory() {
    let dir = tempfile::tempdir().unwrap();
    // A crash after writing the metadata but before the shard existed.
    std::fs::write(
        dir.path().join("index.json"),
        serde_json::to_vec(&serde_json::json!({"format_version": 1, "spec": spec()})).unwrap(),
    )
    .unwrap();
    let index = EdgeIndex::open(dir.path(), spec()).unwrap();
    assert!(index.was_created());
    drop(index);
    let index = EdgeIndex::open(dir.path(), spec()).unwrap();
    assert!(!index.was_created());
}

#[test]
fn an_index_in_an_older_format_is_reported_for_rebuilding() {
    let dir = tempfile::tempdir().unwrap();
    drop(EdgeIndex::open(dir.path(), spec()).unwrap());
    let meta_path = dir.path().join("index.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    let current = meta["format_version"].as_u64().unwrap();
    meta["format_version"] = serde_json::json!(current - 1);
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
    match EdgeIndex::open(dir.path(), spec()) {
        Err(IndexError::FormatChanged { stored, .. }) => assert_eq!(u64::from(stored), current - 1),
        other => panic!("expected a format change, got {:?}", other.map(|_| ())),
    }
    let rebuilt = EdgeIndex::recreate(dir.path(), spec()).unwrap();
    assert!(rebuilt.was_created());
}

#[tokio::test]
async fn an_edge_index_open_elsewhere_is_in_use_not_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let owner = EdgeIndex::open(dir.path(), spec()).unwrap();
    // qdrant-edge's WAL lock belongs to an open file: a second open in this process meets
    // it as another process would.
    let err = EdgeIndex::open(dir.path(), spec()).unwrap_err();
    assert!(matches!(err, IndexError::InUse { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        !message.contains("damaged") || message.contains("not damaged"),
        "{message}"
    );
    assert!(!message.contains("delete"), "{message}");
    drop(owner);
    assert!(
        EdgeIndex::open(dir.path(), spec()).is_ok(),
        "closed: free again"
    );
}

#[tokio::test]
async fn a_snapshot_searches_beside_the_owner_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let owner = EdgeIndex::open(dir.path(), spec()).unwrap();
    owner.upsert(hybrid_points()).await.unwrap();
    let timeout = std::time::Duration::from_secs(10);
    let snapshot = EdgeIndex::open_snapshot(dir.path(), spec(), timeout).unwrap();
    assert!(snapshot.is_snapshot());
    let q = query(
        axis(0, 1, 0.0),
        "levenshtein distance",
        3,
        SearchFilter::default(),
    );
    let from_owner = owner.search(&q).await.unwrap();
    let from_snapshot = snapshot.search(&q).await.unwrap();
    assert_eq!(ids(&from_snapshot), ids(&from_owner));
    let found = ids(&from_snapshot);
    assert!(found.contains(&1) && found.contains(&2), "{found:?}");
    let err = snapshot.upsert(hybrid_points()).await.unwrap_err();
    assert!(matches!(err, IndexError::ReadOnly { .. }), "{err:?}");
    assert!(matches!(
        snapshot.delete(&[SkillId(1)]).await,
        Err(IndexError::ReadOnly { .. })
    ));
    // The owner keeps writing; a later snapshot sees it, the earlier one does not change.
    owner.delete(&[SkillId(1)]).await.unwrap();
    let later = EdgeIndex::open_snapshot(dir.path(), spec(), timeout).unwrap();
    assert!(!ids(&later.search(&q).await.unwrap()).contains(&1));
    assert_eq!(snapshot.count().await.unwrap(), 6);
    assert_eq!(later.count().await.unwrap(), 5);
}

#[tokio::test]
async fn unreadable_index_files_are_damaged_and_a_snapshot_of_nothing_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = std::time::Duration::from_secs(1);
    match EdgeIndex::open_snapshot(dir.path(), spec(), timeout) {
        Err(IndexError::Edge { hint, .. }) => assert!(hint.contains("try again"), "{hint}"),
        other => panic!("expected a not-yet error, got {:?}", other.map(|_| ())),
    }
    drop(EdgeIndex::open(dir.path(), spec()).unwrap());
    std::fs::write(dir.path().join("index.json"), b"{not json").unwrap();
    match EdgeIndex::open(dir.path(), spec()) {
        Err(e @ IndexError::Damaged { .. }) => {
            assert!(!e.to_string().contains("delete"), "{e}")
        }
        other => panic!("expected damage, got {:?}", other.map(|_| ())),
    }
}
