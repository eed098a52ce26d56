//! Sentence embeddings: texts in, unit-length vectors out.
//!
//! [`Embedder`] is the seam the rest of skillforge uses; [`OnnxEmbedder`] is the implementation:
//! all-MiniLM-L6-v2 (384 dimensions) run by ONNX Runtime, loaded at run time from the shared
//! library of the PyPI wheel (`ort`'s `load-dynamic`), with the model's own `tokenizer.json`.
//! Nothing is downloaded at run time: `scripts/setup embed` installs both into the asset cache
//! (see [`assets`]). This module knows nothing of the store or the agents.

pub mod assets;
mod error;
mod onnx;
mod runtime;

pub use error::EmbedError;
pub use onnx::{OnnxEmbedder, OnnxEmbedderConfig};

/// Turns texts into vectors for similarity search.
///
/// Vectors from one embedder are comparable with each other only: store [`Embedder::id`] beside
/// each vector and re-embed when it changes.
pub trait Embedder: Send + Sync {
    /// Names the vector space: model name and a prefix of the model file's sha256, e.g.
    /// `all-MiniLM-L6-v2@2b125206a959`.
    fn id(&self) -> &str;

    /// Length of every vector this embedder returns.
    fn dimension(&self) -> usize;

    /// One L2-normalised vector per text, in order; an empty slice gives an empty result.
    /// Texts longer than the model's limit are truncated, not rejected.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
}
