//! The vector index: a derived, rebuildable view of the skill library for retrieval.
//!
//! Each skill is one point (id = [`SkillId`]) holding several views, because a task
//! can match a skill by what it does, by how it is called, or by exact words:
//! - `description`: dense vector of the description,
//! - `summary`: dense vector of a short text saying what the skill is (the name's words and
//!   the description's first sentence),
//! - `bm25`: sparse BM25 vector of name + description + signature and the words of the
//!   code (identifiers are also split into words, `parseCsvLine` -> `parse csv line`),
//!   weighted by IDF.
//!
//! Which texts go into the views, and the fusion's weights, are the library's
//! (`library::Recipe`); the index stores and searches whatever it is given.
//!
//! A search runs one prefetch per view and fuses them with Qdrant's own (weighted)
//! reciprocal rank fusion, filtered by namespace and status. Both implementations,
//! [`EdgeIndex`] (qdrant-edge in-process, the default) and [`QdrantServerIndex`]
//! (a Qdrant server through qdrant-client), build the same points and the same query,
//! and compute BM25 vectors with the same tokenizer on the client side.
//!
//! An index records the embedder (id and dimension) its vectors came from; opening it
//! for another embedder fails with [`IndexError::EmbedderMismatch`] so the caller
//! rebuilds it from the SQL store instead of mixing vector spaces.

mod edge;
mod lexical;
mod server;

use async_trait::async_trait;

use crate::store::{SkillId, SkillStatus, VersionId};

pub use edge::{EdgeIndex, EdgeLayout};
pub use lexical::identifier_words;
pub use server::QdrantServerIndex;

/// Name of the dense vector of the description.
pub const DESCRIPTION_VECTOR: &str = "description";
/// Name of the dense vector of the skill's summary.
pub const SUMMARY_VECTOR: &str = "summary";
/// Name of the sparse BM25 vector.
pub const BM25_VECTOR: &str = "bm25";
/// Reciprocal rank fusion constant of [`FusionWeights::EQUAL`] (Qdrant's default).
pub const RRF_K: u32 = 60;

// Dense-view search structures, the same for both implementations (measured in
// `benches/index.rs`, figures in docs/benchmarks.md "Vector index").

/// HNSW links per node of the dense views (Qdrant's default).
const HNSW_M: usize = 16;
/// HNSW candidate list while building the graphs: twice Qdrant's default of 100,
/// for better graphs; building stays cheap because it runs on int8 vectors.
const HNSW_EF_CONSTRUCT: usize = 200;
/// HNSW candidate list of a dense search. Without it a search would use
/// `HNSW_EF_CONSTRUCT`; this is the recall/latency trade-off, chosen by the benchmark.
const HNSW_EF: usize = 128;
/// Dense views are also kept as int8 (scalar quantization, always in RAM): the
/// graph is built and searched on them, and each view's candidates are re-scored
/// with the original f32 vectors. This quantile of the values sets the int8 range.
const INT8_QUANTILE: f32 = 0.99;

/// Format of the index as this build creates it, recorded in every index (edge shard or
/// server collection). Bumped when the layout, the payload indexes or the graph and
/// quantization settings change, or the texts the library puts in the views
/// (`library::Recipe::CURRENT`): an index of another format is rebuilt from the store,
/// like one of another embedder (a server collection of another format is a new collection:
/// see `library::server_collection`).
pub const INDEX_FORMAT: u32 = 3;

/// Which embedder an index's dense vectors come from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IndexSpec {
    /// Embedder id (model name and revision, as the embedder reports it).
    pub embedder_id: String,
    /// Dimension of its vectors.
    pub dimension: usize,
}

impl std::fmt::Display for IndexSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({} dims)", self.embedder_id, self.dimension)
    }
}

/// One skill as the index holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexPoint {
    /// The skill (point id).
    pub skill_id: SkillId,
    /// The version these vectors were computed from.
    pub version_id: VersionId,
    /// Namespace, filterable.
    pub namespace: String,
    /// Status, filterable.
    pub status: SkillStatus,
    /// Embedding of the description.
    pub description_vector: Vec<f32>,
    /// Embedding of a short summary of the skill.
    pub summary_vector: Vec<f32>,
    /// Text for BM25.
    pub text: String,
}

/// Restricts a search. An empty `statuses` means any status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilter {
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Only these statuses.
    pub statuses: Vec<SkillStatus>,
}

/// A hybrid query: one dense embedding of the query (searched against both dense
/// views) and the query's text (searched with BM25).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    /// Embedding of the query text, by the index's embedder.
    pub vector: Vec<f32>,
    /// The query text.
    pub text: String,
    /// How many hits to return.
    pub limit: usize,
    /// Restrictions.
    pub filter: SearchFilter,
    /// Weight of each view in the fusion.
    pub weights: FusionWeights,
}

/// How the views' rankings are fused (Qdrant's weighted reciprocal rank fusion): a skill at
/// 1-based `rank` in a view's ranking gets `1 / (rank / weight + k - 1)` from it, so a
/// weight stretches or shrinks a view's ranks; a view of weight 0 is not searched. Equal
/// fused scores are ordered by skill id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusionWeights {
    /// The dense description view.
    pub description: f32,
    /// The dense summary view.
    pub summary: f32,
    /// The BM25 view.
    pub bm25: f32,
    /// The rank constant: the smaller, the more a view's first places count against
    /// being found by several views.
    pub k: u32,
}

impl FusionWeights {
    /// Every view counts the same, with [`RRF_K`].
    pub const EQUAL: FusionWeights = FusionWeights {
        description: 1.0,
        summary: 1.0,
        bm25: 1.0,
        k: RRF_K,
    };
}

impl SearchQuery {
    /// How many candidates each view contributes to the fusion.
    pub fn prefetch_limit(&self) -> usize {
        (self.limit * 4).max(32)
    }

    /// How many fused results to ask the backend for: every candidate of every view, so
    /// that [`best_first`] decides ties at the cut, not the backend's hash order.
    fn fused_limit(&self) -> usize {
        self.prefetch_limit() * 3
    }
}

/// The `limit` best hits, best first; equal scores in skill id order (the fusion returns
/// them in no particular order).
fn best_first(mut hits: Vec<SearchHit>, limit: usize) -> Vec<SearchHit> {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(a.skill_id.cmp(&b.skill_id))
    });
    hits.truncate(limit);
    hits
}

/// One search result: a skill and its fused score (higher is better).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchHit {
    /// The skill.
    pub skill_id: SkillId,
    /// Fused RRF score.
    pub score: f32,
}

/// Errors of the vector index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The index was built with another embedder: its vectors cannot be compared with
    /// this embedder's. Rebuild it (recreate, then reindex from the SQL store).
    #[error(
        "the vector index at {location} was built for embedder {stored}, but this run uses {requested}: \
         re-embed the library (`skillforge reindex`), which rebuilds the index from the SQL store"
    )]
    EmbedderMismatch {
        /// Where the index lives.
        location: String,
        /// What it was built with.
        stored: IndexSpec,
        /// What the caller asked for.
        requested: IndexSpec,
    },
    /// The index was written in another format of this crate (layout, payload indexes or
    /// graph settings changed). Rebuild it (recreate, then reindex from the SQL store).
    #[error(
        "the vector index at {location} is in format {stored}, this skillforge writes format {current}: \
         rebuild it from the SQL store (`skillforge reindex`; opening the library does it)"
    )]
    FormatChanged {
        /// Where the index lives.
        location: String,
        /// The format it was written in.
        stored: u32,
        /// The format this build writes.
        current: u32,
    },
    /// A vector of the wrong dimension was passed in (a caller bug: wrong embedder).
    #[error("{what} has {got} dimensions but the index holds {expected}-dimensional vectors")]
    Dimension {
        /// Which vector.
        what: String,
        /// The index's dimension.
        expected: usize,
        /// The vector's dimension.
        got: usize,
    },
    /// The in-process index's files are open in another process (or in another index of
    /// this process): its write-ahead log is locked. Nothing is damaged.
    #[error(
        "the vector index at {location} is open in another process or another library of this \
         process (its write-ahead log is locked; the index is not damaged): close the other one, \
         or open the library read-only"
    )]
    InUse {
        /// Directory of the index.
        location: String,
    },
    /// The in-process index's files could not be loaded. The index is derived from the SQL
    /// store: a library opened for writing rebuilds it.
    #[error(
        "the vector index at {location} could not be loaded ({message}); it is derived from the \
         SQL store: opening the library for writing (e.g. `skillforge reindex`) rebuilds it"
    )]
    Damaged {
        /// Directory of the index.
        location: String,
        /// What failed.
        message: String,
    },
    /// A write was asked of a read-only snapshot of the in-process index.
    #[error(
        "the vector index at {location} is a read-only snapshot (another process holds the \
         library); writes go through the process that holds it"
    )]
    ReadOnly {
        /// Directory of the index the snapshot was taken from.
        location: String,
    },
    /// The in-process index failed.
    #[error("vector index at {location}: {message}; {hint}")]
    Edge {
        /// Directory of the index.
        location: String,
        /// What failed.
        message: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// The Qdrant server failed or could not be reached.
    #[error(
        "Qdrant server at {url} (collection {collection}): {message}; check that the server is running and \
         reachable at QDRANT_URL (gRPC port, usually 6334) and that the API key is right"
    )]
    Server {
        /// Server URL.
        url: String,
        /// Collection name.
        collection: String,
        /// What failed.
        message: String,
    },
}

/// Result of index operations.
pub type Result<T, E = IndexError> = std::result::Result<T, E>;

/// A vector index of skills. Implementations hold the same points and answer the same
/// queries the same way; they differ only in where the data lives.
#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// The embedder this index was built for.
    fn spec(&self) -> &IndexSpec;

    /// Insert or replace points (a point per skill; re-upserting replaces all views).
    /// Durable when it returns: the caller may ack the outbox entries after it.
    async fn upsert(&self, points: Vec<IndexPoint>) -> Result<()>;

    /// Remove skills from the index (missing ids are ignored).
    async fn delete(&self, ids: &[SkillId]) -> Result<()>;

    /// Hybrid search: dense views + BM25, fused by RRF, filtered.
    async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>>;

    /// Number of points in the index.
    async fn count(&self) -> Result<usize>;

    /// Every skill the index holds a point for, in id order.
    async fn skill_ids(&self) -> Result<Vec<SkillId>>;

    /// Build search structures (HNSW graphs) for recently written points. Cheap when
    /// there is nothing to do; call it after bulk writes. A server builds them in the
    /// background: there this waits until it is done.
    async fn optimize(&self) -> Result<()>;
}

/// Check a point's or query's vectors against the index dimension.
fn check_dimension(spec: &IndexSpec, what: impl FnOnce() -> String, got: usize) -> Result<()> {
    if got == spec.dimension {
        Ok(())
    } else {
        Err(IndexError::Dimension {
            what: what(),
            expected: spec.dimension,
            got,
        })
    }
}

fn check_point(spec: &IndexSpec, point: &IndexPoint) -> Result<()> {
    check_dimension(
        spec,
        || format!("description vector of {}", point.skill_id),
        point.description_vector.len(),
    )?;
    check_dimension(
        spec,
        || format!("summary vector of {}", point.skill_id),
        point.summary_vector.len(),
    )
}

/// Points read per page when listing the index.
const SCROLL_PAGE: usize = 1_000;

fn skill_point_id(id: SkillId) -> u64 {
    u64::try_from(id.0).expect("skill ids are positive (database identity columns)")
}

#[cfg(test)]
mod tests;
