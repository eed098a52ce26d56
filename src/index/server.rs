//! [`QdrantServerIndex`]: the same index in a Qdrant server collection (scale-out),
//! through qdrant-client over gRPC. Points, payloads, BM25 vectors (computed here,
//! like [`EdgeIndex`](super::EdgeIndex)) and the fused query are identical to the
//! in-process index. The embedder spec is kept in the collection's metadata.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use qdrant_client::qdrant::r#match::MatchValue;
use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::vectors_config::Config as VectorsConfigKind;
use qdrant_client::qdrant::{
    CollectionStatus, Condition, CountPointsBuilder, CreateCollectionBuilder,
    CreateFieldIndexCollectionBuilder, DeletePointsBuilder, Distance, FieldType, Filter,
    HnswConfigDiffBuilder, KeywordIndexParamsBuilder, Modifier, NamedVectors, PointId, PointStruct,
    PointsIdsList, PrefetchQueryBuilder, QuantizationSearchParamsBuilder, QuantizationType, Query,
    QueryPointsBuilder, Rrf, ScalarQuantizationBuilder, ScrollPointsBuilder, SearchParamsBuilder,
    SparseVectorParamsBuilder, SparseVectorsConfigBuilder, UpdateCollectionBuilder,
    UpsertPointsBuilder, Value, Vector, VectorInput, VectorParamsBuilder, VectorsConfigBuilder,
};
use qdrant_client::{Payload, Qdrant, QdrantError};

use super::lexical::Lexical;
use super::{
    BM25_VECTOR, DESCRIPTION_VECTOR, HNSW_EF, HNSW_EF_CONSTRUCT, HNSW_M, INDEX_FORMAT,
    INT8_QUANTILE, IndexError, IndexPoint, IndexSpec, Result, SCROLL_PAGE, SUMMARY_VECTOR,
    SearchFilter, SearchHit, SearchQuery, VectorIndex, best_first, check_dimension, check_point,
    skill_point_id,
};
use crate::redact::redact_url;
use crate::store::SkillId;

const META_EMBEDDER: &str = "skillforge_embedder_id";
const META_DIMENSION: &str = "skillforge_dimension";
const META_FORMAT: &str = "skillforge_index_format";
/// How long [`VectorIndex::optimize`] waits for the server to finish indexing.
const OPTIMIZE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Vector index in a Qdrant server collection.
pub struct QdrantServerIndex {
    client: Qdrant,
    /// The server URL without any password, for messages.
    url: String,
    collection: String,
    spec: IndexSpec,
    lexical: Lexical,
    created: bool,
}

impl std::fmt::Debug for QdrantServerIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantServerIndex")
            .field("url", &self.url)
            .field("collection", &self.collection)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl QdrantServerIndex {
    /// Connect to the server at `url` (gRPC, e.g. `http://localhost:6334`) and open
    /// `collection`, creating it if missing.
    ///
    /// Fails with [`IndexError::EmbedderMismatch`] if the collection was built for
    /// another embedder id or dimension, and with [`IndexError::FormatChanged`] if it was
    /// created with other settings by another version of this crate; then
    /// [`recreate`](Self::recreate) it and reindex.
    pub async fn open(
        url: &str,
        api_key: Option<String>,
        collection: &str,
        spec: IndexSpec,
    ) -> Result<QdrantServerIndex> {
        let mut index = Self::connect(url, api_key, collection, spec)?;
        let exists = index
            .client
            .collection_exists(collection)
            .await
            .map_err(|e| index.err(e))?;
        if exists {
            let (stored, format) = index.stored_spec().await?;
            let location = format!("{url} collection {collection}");
            if stored != index.spec {
                return Err(IndexError::EmbedderMismatch {
                    location,
                    stored,
                    requested: index.spec,
                });
            }
            if format != INDEX_FORMAT {
                return Err(IndexError::FormatChanged {
                    location,
                    stored: format,
                    current: INDEX_FORMAT,
                });
            }
        } else {
            index.create_collection().await?;
            index.created = true;
        }
        Ok(index)
    }

    /// Drop `collection` if it exists and create it empty for `spec`.
    pub async fn recreate(
        url: &str,
        api_key: Option<String>,
        collection: &str,
        spec: IndexSpec,
    ) -> Result<QdrantServerIndex> {
        let mut index = Self::connect(url, api_key, collection, spec)?;
        index.drop_and_create().await?;
        index.created = true;
        Ok(index)
    }

    /// True if this `open` created the collection (it is empty: fill it from the store).
    pub fn was_created(&self) -> bool {
        self.created
    }

    /// The collection name.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    fn connect(
        url: &str,
        api_key: Option<String>,
        collection: &str,
        spec: IndexSpec,
    ) -> Result<QdrantServerIndex> {
        let err = |e: QdrantError| IndexError::Server {
            url: redact_url(url),
            collection: collection.into(),
            message: e.to_string(),
        };
        let client = Qdrant::from_url(url)
            .api_key(api_key)
            .skip_compatibility_check()
            .build()
            .map_err(err)?;
        Ok(Self {
            client,
            url: redact_url(url),
            collection: collection.into(),
            spec,
            lexical: Lexical::new(),
            created: false,
        })
    }

    fn err(&self, e: QdrantError) -> IndexError {
        self.failure(e.to_string())
    }

    fn failure(&self, message: String) -> IndexError {
        IndexError::Server {
            url: self.url.clone(),
            collection: self.collection.clone(),
            message,
        }
    }

    async fn drop_and_create(&self) -> Result<()> {
        let exists = self
            .client
            .collection_exists(&self.collection)
            .await
            .map_err(|e| self.err(e))?;
        if exists {
            self.client
                .delete_collection(&self.collection)
                .await
                .map_err(|e| self.err(e))?;
        }
        self.create_collection().await
    }

    /// Create the collection: two cosine dense views (HNSW and int8 quantization as
    /// in [`EdgeIndex`](super::EdgeIndex)), one IDF-weighted sparse view, keyword
    /// indexes on the filtered payload fields, the spec in the metadata.
    async fn create_collection(&self) -> Result<()> {
        let dimension = self.spec.dimension as u64;
        let mut vectors = VectorsConfigBuilder::default();
        for name in [DESCRIPTION_VECTOR, SUMMARY_VECTOR] {
            vectors.add_named_vector_params(
                name,
                VectorParamsBuilder::new(dimension, Distance::Cosine),
            );
        }
        let mut sparse = SparseVectorsConfigBuilder::default();
        sparse.add_named_vector_params(
            BM25_VECTOR,
            SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
        );
        let mut request = CreateCollectionBuilder::new(&self.collection)
            .vectors_config(vectors)
            .sparse_vectors_config(sparse)
            .hnsw_config(
                HnswConfigDiffBuilder::default()
                    .m(HNSW_M as u64)
                    .ef_construct(HNSW_EF_CONSTRUCT as u64),
            )
            .quantization_config(
                ScalarQuantizationBuilder::default()
                    .r#type(QuantizationType::Int8.into())
                    .quantile(INT8_QUANTILE)
                    .always_ram(true),
            )
            .build();
        request.metadata = HashMap::from([
            (
                META_EMBEDDER.to_string(),
                Value::from(self.spec.embedder_id.clone()),
            ),
            (
                META_DIMENSION.to_string(),
                Value::from(self.spec.dimension as i64),
            ),
            (
                META_FORMAT.to_string(),
                Value::from(i64::from(INDEX_FORMAT)),
            ),
        ]);
        self.client
            .create_collection(request)
            .await
            .map_err(|e| self.err(e))?;
        // As in the in-process index: HNSW links per namespace, none per status.
        for (field, links) in [("namespace", true), ("status", false)] {
            self.client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(
                        &self.collection,
                        field,
                        FieldType::Keyword,
                    )
                    .field_index_params(KeywordIndexParamsBuilder::default().enable_hnsw(links))
                    .wait(true),
                )
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// The spec and format recorded in the collection's metadata (dimension from the
    /// vector config when the metadata is missing, e.g. a collection made by hand; format
    /// 0 when none is recorded).
    async fn stored_spec(&self) -> Result<(IndexSpec, u32)> {
        let info = self
            .client
            .collection_info(&self.collection)
            .await
            .map_err(|e| self.err(e))?;
        let config = info.result.and_then(|r| r.config).unwrap_or_default();
        let embedder_id = match config
            .metadata
            .get(META_EMBEDDER)
            .and_then(|v| v.kind.clone())
        {
            Some(Kind::StringValue(s)) => s,
            _ => "<unknown: collection not created by skillforge>".to_string(),
        };
        let number = |key: &str| match config.metadata.get(key).and_then(|v| v.kind.clone()) {
            Some(Kind::IntegerValue(n)) => u64::try_from(n).ok(),
            Some(Kind::DoubleValue(d)) if d >= 0.0 => Some(d as u64),
            _ => None,
        };
        let from_meta = number(META_DIMENSION).map(|n| n as usize);
        let format = number(META_FORMAT).map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
        let from_vectors = config
            .params
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config)
            .and_then(|c| match c {
                VectorsConfigKind::ParamsMap(map) => {
                    map.map.get(DESCRIPTION_VECTOR).map(|p| p.size as usize)
                }
                VectorsConfigKind::Params(_) => None,
            });
        let spec = IndexSpec {
            embedder_id,
            dimension: from_meta.or(from_vectors).unwrap_or(0),
        };
        Ok((spec, format))
    }
}

#[async_trait]
impl VectorIndex for QdrantServerIndex {
    fn spec(&self) -> &IndexSpec {
        &self.spec
    }

    async fn upsert(&self, points: Vec<IndexPoint>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let mut structs = Vec::with_capacity(points.len());
        for point in points {
            check_point(&self.spec, &point)?;
            let (indices, values) = self.lexical.document(&point.text);
            let mut vectors = NamedVectors::default()
                .add_vector(
                    DESCRIPTION_VECTOR,
                    Vector::new_dense(point.description_vector),
                )
                .add_vector(SUMMARY_VECTOR, Vector::new_dense(point.summary_vector));
            if !indices.is_empty() {
                vectors = vectors.add_vector(BM25_VECTOR, Vector::new_sparse(indices, values));
            }
            let payload = Payload::from([
                ("namespace", Value::from(point.namespace)),
                ("status", Value::from(point.status.as_str())),
                ("version_id", Value::from(point.version_id.0)),
            ]);
            structs.push(PointStruct::new(
                skill_point_id(point.skill_id),
                vectors,
                payload,
            ));
        }
        self.client
            .upsert_points(UpsertPointsBuilder::new(&self.collection, structs).wait(true))
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn delete(&self, ids: &[SkillId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = PointsIdsList {
            ids: ids
                .iter()
                .map(|id| PointId::from(skill_point_id(*id)))
                .collect(),
        };
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(ids)
                    .wait(true),
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        check_dimension(&self.spec, || "query vector".into(), query.vector.len())?;
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let filter = server_filter(&query.filter);
        let prefetch = |using: &str, input: VectorInput| {
            let mut p = PrefetchQueryBuilder::default()
                .query(Query::new_nearest(input))
                .using(using)
                .limit(query.prefetch_limit() as u64);
            if let Some(f) = &filter {
                p = p.filter(f.clone());
            }
            p
        };
        // Dense views: as in the in-process index, `HNSW_EF` candidates on the int8
        // vectors, re-scored with the original vectors.
        let dense = |using: &str| {
            prefetch(using, VectorInput::new_dense(query.vector.clone())).params(
                SearchParamsBuilder::default()
                    .hnsw_ef(HNSW_EF as u64)
                    .quantization(QuantizationSearchParamsBuilder::default().rescore(true)),
            )
        };
        let mut request = QueryPointsBuilder::new(&self.collection);
        let mut weights = Vec::new();
        for (view, weight) in [
            (DESCRIPTION_VECTOR, query.weights.description),
            (SUMMARY_VECTOR, query.weights.summary),
        ] {
            if weight > 0.0 {
                request = request.add_prefetch(dense(view));
                weights.push(weight);
            }
        }
        let (indices, values) = self.lexical.query(&query.text);
        if !indices.is_empty() && query.weights.bm25 > 0.0 {
            request = request.add_prefetch(prefetch(
                BM25_VECTOR,
                VectorInput::new_sparse(indices, values),
            ));
            weights.push(query.weights.bm25);
        }
        if weights.is_empty() {
            return Ok(Vec::new());
        }
        request = request
            .query(Query::new_rrf(Rrf {
                k: Some(query.weights.k),
                weights,
            }))
            .limit(query.fused_limit() as u64)
            .with_payload(false);
        if let Some(f) = filter {
            request = request.filter(f);
        }
        let response = self.client.query(request).await.map_err(|e| self.err(e))?;
        let hits = response
            .result
            .into_iter()
            .filter_map(|p| match p.id?.point_id_options? {
                PointIdOptions::Num(n) => Some(SearchHit {
                    skill_id: SkillId(n as i64),
                    score: p.score,
                }),
                PointIdOptions::Uuid(_) => None,
            })
            .collect();
        Ok(best_first(hits, query.limit))
    }

    async fn count(&self) -> Result<usize> {
        let response = self
            .client
            .count(CountPointsBuilder::new(&self.collection).exact(true))
            .await
            .map_err(|e| self.err(e))?;
        Ok(response.result.map_or(0, |r| r.count as usize))
    }

    async fn skill_ids(&self) -> Result<Vec<SkillId>> {
        let mut ids = Vec::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut request = ScrollPointsBuilder::new(&self.collection)
                .limit(SCROLL_PAGE as u32)
                .with_payload(false)
                .with_vectors(false);
            if let Some(offset) = offset.take() {
                request = request.offset(offset);
            }
            let response = self.client.scroll(request).await.map_err(|e| self.err(e))?;
            ids.extend(
                response
                    .result
                    .into_iter()
                    .filter_map(|p| match p.id?.point_id_options? {
                        PointIdOptions::Num(n) => Some(SkillId(n as i64)),
                        PointIdOptions::Uuid(_) => None,
                    }),
            );
            match response.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(ids),
            }
        }
    }

    async fn optimize(&self) -> Result<()> {
        // The server builds its structures in the background: wait until it reports the
        // collection green (all segments optimized), nudging it when the work is only
        // pending (grey, e.g. after a restart).
        let deadline = Instant::now() + OPTIMIZE_TIMEOUT;
        loop {
            let info = self
                .client
                .collection_info(&self.collection)
                .await
                .map_err(|e| self.err(e))?
                .result
                .unwrap_or_default();
            match CollectionStatus::try_from(info.status) {
                Ok(CollectionStatus::Green) => return Ok(()),
                Ok(CollectionStatus::Red) => {
                    let reason = info.optimizer_status.map(|s| s.error).unwrap_or_default();
                    return Err(self.failure(format!("the collection is red: {reason}")));
                }
                Ok(CollectionStatus::Grey) => {
                    self.client
                        .update_collection(UpdateCollectionBuilder::new(&self.collection))
                        .await
                        .map_err(|e| self.err(e))?;
                }
                _ => {}
            }
            if Instant::now() >= deadline {
                return Err(self.failure(format!(
                    "still optimizing after {} s",
                    OPTIMIZE_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn server_filter(filter: &SearchFilter) -> Option<Filter> {
    let mut must = Vec::new();
    if let Some(ns) = &filter.namespace {
        must.push(Condition::matches(
            "namespace",
            MatchValue::Keyword(ns.clone()),
        ));
    }
    if !filter.statuses.is_empty() {
        let statuses: Vec<String> = filter
            .statuses
            .iter()
            .map(|s| s.as_str().to_string())
            .collect();
        must.push(Condition::matches("status", statuses));
    }
    (!must.is_empty()).then(|| Filter::must(must))
}
