//! [`EdgeIndex`]: the index in-process, with qdrant-edge, persisted under a directory.
//!
//! Layout: `DIR/index.json` (format version and [`IndexSpec`]), `DIR/shard/` (the
//! edge shard: WAL and segments) and `DIR/copy.lock`. Writes go through the shard's WAL
//! and are flushed before `upsert`/`delete` return.
//!
//! qdrant-edge locks the shard's WAL: one process at a time opens a shard. Another
//! process reads through a **snapshot** ([`EdgeIndex::open_snapshot`]): a private copy of
//! the shard's segments, taken while holding `copy.lock` shared. The process that owns the
//! shard holds that lock exclusively whenever it changes the shard's files (a write and
//! its flush, an optimisation, a rebuild, closing), so a copy is always of a flushed,
//! consistent shard.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::serde_json::json;
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeOptimizersConfig, EdgeShard,
    EdgeSparseVectorParams, EdgeVectorParams, FieldCondition, FieldIndexOperations, Filter, Fusion,
    HnswIndexConfig, Match, Modifier, NamedQuery, PayloadFieldSchema, PayloadSchemaParams,
    PayloadSchemaType, PointId, PointInsertOperations, PointOperations, PointStruct, Prefetch,
    QuantizationConfig, QuantizationSearchParams, QueryEnum, QueryRequest, ScoringQuery,
    ScrollRequest, SearchParams, SparseVector, UpdateOperation, Vector, VectorInternal, Vectors,
    WithPayloadInterface, WithVector,
};
use serde::{Deserialize, Serialize};

use super::lexical::Lexical;
use super::{
    BM25_VECTOR, DESCRIPTION_VECTOR, HNSW_EF, HNSW_EF_CONSTRUCT, HNSW_M, INDEX_FORMAT,
    INT8_QUANTILE, IndexError, IndexPoint, IndexSpec, Result, SCROLL_PAGE, SUMMARY_VECTOR,
    SearchFilter, SearchHit, SearchQuery, VectorIndex, best_first, check_dimension, check_point,
    skill_point_id,
};
use crate::store::SkillId;

const META_FILE: &str = "index.json";
const SHARD_DIR: &str = "shard";
/// Held shared while a snapshot is copied, exclusive while the shard's files change.
const COPY_LOCK_FILE: &str = "copy.lock";
/// The shard's write-ahead log directory: not needed by a snapshot (the segments are
/// flushed), and locked by the process that owns the shard.
const WAL_DIR: &str = "wal";
/// The file qdrant-edge writes into a shard directory when it creates the shard.
const EDGE_CONFIG_FILE: &str = "edge_config.json";
/// Target number of HNSW segments for qdrant-edge's merge optimizer. Its default
/// depends on the host's CPU count (up to 8), and an in-process search visits the
/// segments one after the other on the calling thread, so it is pinned here.
const SEGMENT_NUMBER: usize = 2;

/// How the shard is laid out: what a search has to visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLayout {
    /// Segments (each is searched separately; one of them takes new writes).
    pub segments: usize,
    /// Points, summed over segments.
    pub points: usize,
    /// Vectors (summed over the views) held in HNSW graphs; the rest are scanned.
    pub indexed_vectors: usize,
}

/// What `index.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    format_version: u32,
    spec: IndexSpec,
}

/// In-process vector index (qdrant-edge) stored under a directory, or a read-only
/// snapshot of one.
pub struct EdgeIndex {
    dir: PathBuf,
    spec: IndexSpec,
    shard: Arc<EdgeShard>,
    /// Serialises writes, flushes and optimisation: the shard's `flush` must not run
    /// while another write holds its WAL or segment locks.
    writer: Arc<Mutex<()>>,
    lexical: Lexical,
    created: bool,
    /// `DIR/copy.lock`, of the index this process owns (`None` for a snapshot). Dropped
    /// after `shard`, so the shard's last flush happens under the lock taken in `drop`.
    copy_lock: Option<Arc<CopyLock>>,
    /// The private copy a snapshot reads (deleted when dropped, after `shard`).
    snapshot: Option<tempfile::TempDir>,
}

/// `DIR/copy.lock` of an index: see the module documentation.
#[derive(Debug)]
struct CopyLock {
    file: File,
}

impl CopyLock {
    fn open(dir: &Path) -> std::io::Result<CopyLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(COPY_LOCK_FILE))?;
        Ok(CopyLock { file })
    }

    /// Holds the lock exclusively until the guard is dropped (waits for copies to end).
    fn exclusive(&self) -> std::io::Result<CopyGuard<'_>> {
        self.file.lock()?;
        Ok(CopyGuard(&self.file))
    }
}

/// Releases a [`CopyLock`] when dropped.
struct CopyGuard<'a>(&'a File);

impl Drop for CopyGuard<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.unlock() {
            tracing::warn!("releasing the index copy lock: {e}");
        }
    }
}

impl Drop for EdgeIndex {
    fn drop(&mut self) {
        // The shard flushes when it is dropped (after this): no copy may run meanwhile.
        // The lock is released when `copy_lock`'s file closes, after the shard is gone.
        if let Some(lock) = &self.copy_lock
            && let Err(e) = lock.file.lock()
        {
            tracing::warn!("locking the index against copies while closing it: {e}");
        }
    }
}

impl std::fmt::Debug for EdgeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeIndex")
            .field("dir", &self.dir)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl EdgeIndex {
    /// Open the index under `dir`, creating it (empty) if there is none.
    ///
    /// Fails with [`IndexError::EmbedderMismatch`] if it was built for another
    /// embedder id or dimension, and with [`IndexError::FormatChanged`] if an older
    /// skillforge wrote it; then [`EdgeIndex::recreate`] it and reindex.
    /// A directory left half-created by a crash is recreated (the index is derived
    /// data); [`was_created`](Self::was_created) tells the caller to fill it.
    pub fn open(dir: &Path, spec: IndexSpec) -> Result<EdgeIndex> {
        let meta_path = dir.join(META_FILE);
        let shard_path = dir.join(SHARD_DIR);
        if meta_path.exists() && shard_path.join(EDGE_CONFIG_FILE).exists() {
            check_meta(dir, &meta_path, &spec)?;
            let copy_lock = Arc::new(CopyLock::open(dir).map_err(|e| io_err(dir, e))?);
            let _copying = copy_lock.exclusive().map_err(|e| io_err(dir, e))?;
            // Loading with the current configuration (rather than the stored one) lets
            // `optimize` rebuild segments made with older HNSW or quantization settings.
            let shard = EdgeShard::load(&shard_path, Some(edge_config(spec.dimension)))
                .map_err(|e| load_err(dir, e))?;
            drop(_copying);
            return Ok(Self::from_parts(dir, spec, shard, false, Some(copy_lock)));
        }
        Self::recreate(dir, spec)
    }

    /// Open a read-only snapshot of the index under `dir`, which another process may own
    /// and be writing: its flushed segments are copied (waiting up to `timeout` for a
    /// write in progress to end) into a private temporary directory and loaded from there.
    /// Searches see the index as it was when the copy was taken; writes fail with
    /// [`IndexError::ReadOnly`]. Costs a copy of the shard's segments (see
    /// `docs/benchmarks.md`).
    pub fn open_snapshot(dir: &Path, spec: IndexSpec, timeout: Duration) -> Result<EdgeIndex> {
        let meta_path = dir.join(META_FILE);
        let shard_path = dir.join(SHARD_DIR);
        if !meta_path.exists() {
            return Err(IndexError::Edge {
                location: dir.display().to_string(),
                message: "there is no index yet".into(),
                hint: "the process that holds the library is creating it; try again in a moment",
            });
        }
        check_meta(dir, &meta_path, &spec)?;
        let io = |e| io_err(dir, e);
        let snapshot = tempfile::Builder::new()
            .prefix("skillforge-index-snapshot-")
            .tempdir()
            .map_err(io)?;
        let copy_path = snapshot.path().join(SHARD_DIR);
        let lock = CopyLock::open(dir).map_err(io)?;
        let start = Instant::now();
        loop {
            match lock.file.try_lock_shared() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if start.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(IndexError::Edge {
                        location: dir.display().to_string(),
                        message: format!(
                            "the process that owns the index kept writing it for {:.0} s",
                            timeout.as_secs_f64()
                        ),
                        hint: "try again, or wait longer (--lock-timeout)",
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        let copied = copy_shard(&shard_path, &copy_path);
        drop(lock);
        copied.map_err(io)?;
        let shard =
            EdgeShard::load(&copy_path, Some(edge_config(spec.dimension))).map_err(|e| {
                edge_err(
                    dir,
                    e,
                    "a snapshot of the index could not be loaded; try again, and if it keeps \
                 failing, run `skillforge reindex` once the process that holds the library ends",
                )
            })?;
        let mut index = Self::from_parts(dir, spec, shard, false, None);
        index.snapshot = Some(snapshot);
        Ok(index)
    }

    /// True for a read-only snapshot ([`EdgeIndex::open_snapshot`]).
    pub fn is_snapshot(&self) -> bool {
        self.snapshot.is_some()
    }

    /// Delete whatever index is under `dir` and create an empty one for `spec`.
    pub fn recreate(dir: &Path, spec: IndexSpec) -> Result<EdgeIndex> {
        let io = |e: std::io::Error| io_err(dir, e);
        std::fs::create_dir_all(dir).map_err(io)?;
        let copy_lock = Arc::new(CopyLock::open(dir).map_err(io)?);
        let _copying = copy_lock.exclusive().map_err(io)?;
        let shard_path = dir.join(SHARD_DIR);
        if shard_path.exists() {
            std::fs::remove_dir_all(&shard_path).map_err(io)?;
        }
        std::fs::create_dir_all(&shard_path).map_err(io)?;
        let meta = Meta {
            format_version: INDEX_FORMAT,
            spec: spec.clone(),
        };
        let tmp = dir.join(format!("{META_FILE}.tmp"));
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(&meta).expect("meta serializes"),
        )
        .map_err(io)?;
        std::fs::rename(&tmp, dir.join(META_FILE)).map_err(io)?;

        let shard = EdgeShard::new(&shard_path, edge_config(spec.dimension))
            .map_err(|e| edge_err(dir, e, "check that the directory is writable"))?;
        for (field, schema) in payload_indexes() {
            let op = UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(
                CreateIndex {
                    field_name: field.try_into().expect("a plain field name is a JSON path"),
                    field_schema: Some(schema),
                },
            ));
            shard
                .update(op)
                .map_err(|e| edge_err(dir, e, "check that the directory is writable"))?;
        }
        shard.flush();
        drop(_copying);
        Ok(Self::from_parts(dir, spec, shard, true, Some(copy_lock)))
    }

    fn from_parts(
        dir: &Path,
        spec: IndexSpec,
        shard: EdgeShard,
        created: bool,
        copy_lock: Option<Arc<CopyLock>>,
    ) -> Self {
        Self {
            dir: dir.to_path_buf(),
            spec,
            shard: Arc::new(shard),
            writer: Arc::new(Mutex::new(())),
            lexical: Lexical::new(),
            created,
            copy_lock,
            snapshot: None,
        }
    }

    /// True if this `open` created the index (it is empty: fill it from the store).
    pub fn was_created(&self) -> bool {
        self.created
    }

    /// The index directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Segments, points and HNSW-indexed vectors of the shard.
    pub fn layout(&self) -> EdgeLayout {
        let info = self.shard.info();
        EdgeLayout {
            segments: info.segments_count,
            points: info.points_count,
            indexed_vectors: info.indexed_vectors_count,
        }
    }

    /// Run a write (then flush) on a blocking thread, one at a time.
    async fn write(
        &self,
        what: &'static str,
        op: Option<UpdateOperation>,
        optimize: bool,
    ) -> Result<()> {
        let Some(copy_lock) = self.copy_lock.clone() else {
            return Err(IndexError::ReadOnly {
                location: self.dir.display().to_string(),
            });
        };
        let shard = Arc::clone(&self.shard);
        let writer = Arc::clone(&self.writer);
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = writer.lock().unwrap_or_else(|p| p.into_inner());
            let _copying = copy_lock.exclusive().map_err(|e| io_err(&dir, e))?;
            if let Some(op) = op {
                shard
                    .update(op)
                    .map_err(|e| edge_err(&dir, e, "check that the disk is not full"))?;
            }
            if optimize {
                shard
                    .optimize()
                    .map_err(|e| edge_err(&dir, e, "check that the disk is not full"))?;
            }
            shard.flush();
            Ok(())
        })
        .await
        .map_err(|e| IndexError::Edge {
            location: self.dir.display().to_string(),
            message: format!("{what} panicked: {e}"),
            hint: "this is a bug; the index can be rebuilt with `skillforge reindex`",
        })?
    }
}

#[async_trait]
impl VectorIndex for EdgeIndex {
    fn spec(&self) -> &IndexSpec {
        &self.spec
    }

    async fn upsert(&self, points: Vec<IndexPoint>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let mut persisted = Vec::with_capacity(points.len());
        for point in points {
            check_point(&self.spec, &point)?;
            let (indices, values) = self.lexical.document(&point.text);
            let mut vectors: Vec<(&str, Vector)> = vec![
                (
                    DESCRIPTION_VECTOR,
                    Vector::new_dense(point.description_vector),
                ),
                (SUMMARY_VECTOR, Vector::new_dense(point.summary_vector)),
            ];
            if !indices.is_empty() {
                let sparse = SparseVector { indices, values };
                vectors.push((BM25_VECTOR, Vector::from(sparse)));
            }
            let payload = json!({
                "namespace": point.namespace,
                "status": point.status.as_str(),
                "version_id": point.version_id.0,
            });
            persisted.push(
                PointStruct::new(
                    skill_point_id(point.skill_id),
                    Vectors::new_named(vectors),
                    payload,
                )
                .into(),
            );
        }
        let op = UpdateOperation::PointOperation(PointOperations::UpsertPoints(
            PointInsertOperations::PointsList(persisted),
        ));
        self.write("upsert", Some(op), false).await
    }

    async fn delete(&self, ids: &[SkillId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids
            .iter()
            .map(|id| PointId::NumId(skill_point_id(*id)))
            .collect();
        let op = UpdateOperation::PointOperation(PointOperations::DeletePoints { ids });
        self.write("delete", Some(op), false).await
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        check_dimension(&self.spec, || "query vector".into(), query.vector.len())?;
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let filter = edge_filter(&query.filter);
        let prefetch =
            |using: &str, vector: VectorInternal, params: Option<SearchParams>| Prefetch {
                prefetches: vec![],
                query: Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
                    query: vector,
                    using: Some(using.to_string()),
                }))),
                limit: query.prefetch_limit(),
                params,
                filter: filter.clone(),
                score_threshold: None,
            };
        let mut prefetches = Vec::new();
        let mut weights = Vec::new();
        for (view, weight) in [
            (DESCRIPTION_VECTOR, query.weights.description),
            (SUMMARY_VECTOR, query.weights.summary),
        ] {
            if weight > 0.0 {
                prefetches.push(prefetch(
                    view,
                    VectorInternal::from(query.vector.clone()),
                    Some(dense_search_params()),
                ));
                weights.push(OrderedFloat(weight));
            }
        }
        let (indices, values) = self.lexical.query(&query.text);
        if !indices.is_empty() && query.weights.bm25 > 0.0 {
            let sparse = SparseVector { indices, values };
            prefetches.push(prefetch(BM25_VECTOR, VectorInternal::from(sparse), None));
            weights.push(OrderedFloat(query.weights.bm25));
        }
        if prefetches.is_empty() {
            return Ok(Vec::new());
        }
        let request = QueryRequest {
            prefetches,
            query: Some(ScoringQuery::Fusion(Fusion::Rrf {
                k: query.weights.k as usize,
                weights: Some(weights),
            })),
            filter,
            score_threshold: None,
            limit: query.fused_limit(),
            offset: 0,
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(false),
        };
        let points = self.shard.query(request).map_err(|e| {
            edge_err(
                &self.dir,
                e,
                "this is a bug; the index can be rebuilt with `skillforge reindex`",
            )
        })?;
        let hits = points
            .into_iter()
            .filter_map(|p| match p.id {
                PointId::NumId(n) => Some(SearchHit {
                    skill_id: SkillId(n as i64),
                    score: p.score,
                }),
                PointId::Uuid(_) => None,
            })
            .collect();
        Ok(best_first(hits, query.limit))
    }

    async fn count(&self) -> Result<usize> {
        self.shard
            .count(CountRequest {
                filter: None,
                exact: true,
            })
            .map_err(|e| {
                edge_err(
                    &self.dir,
                    e,
                    "the index can be rebuilt with `skillforge reindex`",
                )
            })
    }

    async fn skill_ids(&self) -> Result<Vec<SkillId>> {
        let mut ids = Vec::new();
        let mut offset = None;
        loop {
            let (records, next) = self
                .shard
                .scroll(ScrollRequest {
                    offset,
                    limit: Some(SCROLL_PAGE),
                    filter: None,
                    with_payload: Some(WithPayloadInterface::Bool(false)),
                    with_vector: WithVector::Bool(false),
                    order_by: None,
                })
                .map_err(|e| {
                    edge_err(
                        &self.dir,
                        e,
                        "the index can be rebuilt with `skillforge reindex`",
                    )
                })?;
            ids.extend(records.into_iter().filter_map(|r| match r.id {
                PointId::NumId(n) => Some(SkillId(n as i64)),
                PointId::Uuid(_) => None,
            }));
            match next {
                Some(next) => offset = Some(next),
                None => return Ok(ids),
            }
        }
    }

    async fn optimize(&self) -> Result<()> {
        self.write("optimize", None, true).await
    }
}

/// The keyword indexes the filters use. `namespace` gets HNSW links within each namespace
/// (accurate search inside a small namespace); `status` does not: nearly every point is
/// `active`, so its extra links only make every search visit more neighbours.
fn payload_indexes() -> [(&'static str, PayloadFieldSchema); 2] {
    let without_links: PayloadSchemaParams = qdrant_edge::external::serde_json::from_value(
        json!({"type": "keyword", "enable_hnsw": false}),
    )
    .expect("a valid keyword index config");
    [
        (
            "namespace",
            PayloadFieldSchema::FieldType(PayloadSchemaType::Keyword),
        ),
        ("status", PayloadFieldSchema::FieldParams(without_links)),
    ]
}

/// Dense views: cosine (vectors are normalised by the index), in RAM, with HNSW
/// graphs built on int8 copies (see the constants in the module root).
fn edge_config(dimension: usize) -> EdgeConfig {
    let dense = EdgeVectorParams::builder(dimension, Distance::Cosine)
        .on_disk(false)
        .build();
    // qdrant-edge does not export the scalar quantization structs; its serde form
    // is the documented Qdrant configuration.
    let int8: QuantizationConfig = qdrant_edge::external::serde_json::from_value(json!({
        "scalar": { "type": "int8", "quantile": INT8_QUANTILE, "always_ram": true }
    }))
    .expect("a valid scalar quantization config");
    EdgeConfig::builder()
        .hnsw_config(HnswIndexConfig {
            m: HNSW_M,
            ef_construct: HNSW_EF_CONSTRUCT,
            ..HnswIndexConfig::default()
        })
        .quantization_config(int8)
        .optimizers(EdgeOptimizersConfig {
            default_segment_number: Some(SEGMENT_NUMBER),
            ..EdgeOptimizersConfig::default()
        })
        .vector(DESCRIPTION_VECTOR, dense.clone())
        .vector(SUMMARY_VECTOR, dense)
        .sparse_vector(
            BM25_VECTOR,
            EdgeSparseVectorParams::builder()
                .modifier(Modifier::Idf)
                .build(),
        )
        .on_disk_payload(false)
        .build()
}

/// A dense view's search: `HNSW_EF` candidates on the int8 vectors, re-scored with
/// the original vectors.
fn dense_search_params() -> SearchParams {
    SearchParams {
        hnsw_ef: Some(HNSW_EF),
        quantization: Some(QuantizationSearchParams {
            ignore: false,
            rescore: Some(true),
            oversampling: None,
        }),
        ..SearchParams::default()
    }
}

fn edge_filter(filter: &SearchFilter) -> Option<Filter> {
    let mut must = Vec::new();
    if let Some(ns) = &filter.namespace {
        must.push(keyword_condition("namespace", Match::from(ns.clone())));
    }
    if !filter.statuses.is_empty() {
        let statuses: Vec<String> = filter
            .statuses
            .iter()
            .map(|s| s.as_str().to_string())
            .collect();
        must.push(keyword_condition("status", Match::from(statuses)));
    }
    (!must.is_empty()).then(|| Filter {
        must: Some(must),
        ..Filter::default()
    })
}

fn keyword_condition(field: &str, r#match: Match) -> Condition {
    Condition::Field(FieldCondition::new_match(
        field.try_into().expect("a plain field name is a JSON path"),
        r#match,
    ))
}

/// Checks that the index in `dir` (its metadata at `meta_path`) was built for `spec` and in
/// this skillforge's [`INDEX_FORMAT`].
fn check_meta(dir: &Path, meta_path: &Path, spec: &IndexSpec) -> Result<()> {
    let meta = read_meta(meta_path)?;
    if meta.spec != *spec {
        return Err(IndexError::EmbedderMismatch {
            location: dir.display().to_string(),
            stored: meta.spec,
            requested: spec.clone(),
        });
    }
    if meta.format_version != INDEX_FORMAT {
        return Err(IndexError::FormatChanged {
            location: dir.display().to_string(),
            stored: meta.format_version,
            current: INDEX_FORMAT,
        });
    }
    Ok(())
}

fn read_meta(path: &Path) -> Result<Meta> {
    let corrupt = |message: String| IndexError::Damaged {
        location: path.display().to_string(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| corrupt(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("unreadable index metadata: {e}")))
}

/// Copies a shard directory without its write-ahead log.
fn copy_shard(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if entry.file_name() != WAL_DIR {
                copy_shard(&entry.path(), &target)?;
            }
        } else {
            copy_sparse(&entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Copies a file, leaving blocks of zeros as holes: qdrant-edge preallocates the files it
/// maps (32 MiB chunks, mostly holes), which `std::fs::copy` would write out in full.
fn copy_sparse(from: &Path, to: &Path) -> std::io::Result<()> {
    const BLOCK: usize = 64 * 1024;
    static ZEROS: [u8; BLOCK] = [0; BLOCK];
    let mut source = File::open(from)?;
    let mut target = File::create(to)?;
    let mut buf = vec![0; BLOCK];
    loop {
        let n = source.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if buf[..n] == ZEROS[..n] {
            target.seek(SeekFrom::Current(n as i64))?;
        } else {
            target.write_all(&buf[..n])?;
        }
    }
    // A file that ends in zeros gets its length back.
    target.set_len(source.metadata()?.len())
}

/// Why loading a shard failed: its WAL is locked by another process (not damage), or its
/// files cannot be loaded.
fn load_err(dir: &Path, e: qdrant_edge::OperationError) -> IndexError {
    let message = e.to_string();
    // qdrant-edge reports the WAL's `flock` failure only as text: "failed to open WAL
    // ...: Can't init WAL: Kind(WouldBlock)".
    if message.contains("WouldBlock") {
        IndexError::InUse {
            location: dir.display().to_string(),
        }
    } else {
        IndexError::Damaged {
            location: dir.display().to_string(),
            message,
        }
    }
}

fn io_err(dir: &Path, e: std::io::Error) -> IndexError {
    IndexError::Edge {
        location: dir.display().to_string(),
        message: e.to_string(),
        hint: "check that the directory is writable and the disk is not full",
    }
}

fn edge_err(dir: &Path, e: qdrant_edge::OperationError, hint: &'static str) -> IndexError {
    IndexError::Edge {
        location: dir.display().to_string(),
        message: e.to_string(),
        hint,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn a_copied_preallocated_file_keeps_its_holes_and_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("chunk.mmap");
        let mut file = File::create(&from).unwrap();
        file.write_all(b"vectors").unwrap();
        file.seek(SeekFrom::Start(1 << 20)).unwrap();
        file.write_all(b"more").unwrap();
        file.set_len(8 << 20).unwrap();
        drop(file);
        let to = dir.path().join("copy.mmap");
        copy_sparse(&from, &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), std::fs::read(&from).unwrap());
        let copied = std::fs::metadata(&to).unwrap();
        assert_eq!(copied.len(), 8 << 20);
        assert!(
            copied.blocks() * 512 < 1 << 20,
            "{} bytes allocated for 11 bytes of data",
            copied.blocks() * 512
        );
    }
}
