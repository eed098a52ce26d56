//! [`EdgeIndex`]: the index in-process, with qdrant-edge, persisted under a directory.
//!
//! Layout: `DIR/index.json` (format version and [`IndexSpec`]) and `DIR/shard/` (the
//! edge shard: WAL and segments). Writes go through the shard's WAL and are flushed
//! before `upsert`/`delete` return.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
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
    INT8_QUANTILE, IndexError, IndexPoint, IndexSpec, RRF_K, Result, SCROLL_PAGE, SIGNATURE_VECTOR,
    SearchFilter, SearchHit, SearchQuery, VectorIndex, check_dimension, check_point,
    skill_point_id,
};
use crate::store::SkillId;

const META_FILE: &str = "index.json";
const SHARD_DIR: &str = "shard";
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

/// In-process vector index (qdrant-edge) stored under a directory.
pub struct EdgeIndex {
    dir: PathBuf,
    spec: IndexSpec,
    shard: Arc<EdgeShard>,
    /// Serialises writes, flushes and optimisation: the shard's `flush` must not run
    /// while another write holds its WAL or segment locks.
    writer: Arc<Mutex<()>>,
    lexical: Lexical,
    created: bool,
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
            let meta = read_meta(&meta_path)?;
            if meta.spec != spec {
                return Err(IndexError::EmbedderMismatch {
                    location: dir.display().to_string(),
                    stored: meta.spec,
                    requested: spec,
                });
            }
            if meta.format_version != INDEX_FORMAT {
                return Err(IndexError::FormatChanged {
                    location: dir.display().to_string(),
                    stored: meta.format_version,
                    current: INDEX_FORMAT,
                });
            }
            // Loading with the current configuration (rather than the stored one) lets
            // `optimize` rebuild segments made with older HNSW or quantization settings.
            let shard = EdgeShard::load(&shard_path, Some(edge_config(spec.dimension))).map_err(|e| {
                edge_err(
                    dir,
                    e,
                    "the index files are damaged; delete the directory and run `skillforge reindex`",
                )
            })?;
            return Ok(Self::from_parts(dir, spec, shard, false));
        }
        Self::recreate(dir, spec)
    }

    /// Delete whatever index is under `dir` and create an empty one for `spec`.
    pub fn recreate(dir: &Path, spec: IndexSpec) -> Result<EdgeIndex> {
        let io = |e: std::io::Error| IndexError::Edge {
            location: dir.display().to_string(),
            message: e.to_string(),
            hint: "check that the directory is writable and the disk is not full",
        };
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
        Ok(Self::from_parts(dir, spec, shard, true))
    }

    fn from_parts(dir: &Path, spec: IndexSpec, shard: EdgeShard, created: bool) -> Self {
        Self {
            dir: dir.to_path_buf(),
            spec,
            shard: Arc::new(shard),
            writer: Arc::new(Mutex::new(())),
            lexical: Lexical::new(),
            created,
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
        let shard = Arc::clone(&self.shard);
        let writer = Arc::clone(&self.writer);
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || {
            let _guard = writer.lock().unwrap_or_else(|p| p.into_inner());
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
                (SIGNATURE_VECTOR, Vector::new_dense(point.signature_vector)),
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
        let mut prefetches = vec![
            prefetch(
                DESCRIPTION_VECTOR,
                VectorInternal::from(query.vector.clone()),
                Some(dense_search_params()),
            ),
            prefetch(
                SIGNATURE_VECTOR,
                VectorInternal::from(query.vector.clone()),
                Some(dense_search_params()),
            ),
        ];
        let (indices, values) = self.lexical.query(&query.text);
        if !indices.is_empty() {
            let sparse = SparseVector { indices, values };
            prefetches.push(prefetch(BM25_VECTOR, VectorInternal::from(sparse), None));
        }
        let request = QueryRequest {
            prefetches,
            query: Some(ScoringQuery::Fusion(Fusion::Rrf {
                k: RRF_K as usize,
                weights: None,
            })),
            filter,
            score_threshold: None,
            limit: query.limit,
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
        Ok(points
            .into_iter()
            .filter_map(|p| match p.id {
                PointId::NumId(n) => Some(SearchHit {
                    skill_id: SkillId(n as i64),
                    score: p.score,
                }),
                PointId::Uuid(_) => None,
            })
            .collect())
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
        .vector(SIGNATURE_VECTOR, dense)
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

fn read_meta(path: &Path) -> Result<Meta> {
    let corrupt = |message: String| IndexError::Edge {
        location: path.display().to_string(),
        message,
        hint: "delete the index directory and run `skillforge reindex`",
    };
    let bytes = std::fs::read(path).map_err(|e| corrupt(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("unreadable index metadata: {e}")))
}

fn edge_err(dir: &Path, e: qdrant_edge::OperationError, hint: &'static str) -> IndexError {
    IndexError::Edge {
        location: dir.display().to_string(),
        message: e.to_string(),
        hint,
    }
}
