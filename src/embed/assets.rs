//! Where `scripts/setup embed` puts the embedding assets, and the variables that override it.
//!
//! Layout under the cache (`$SKILLFORGE_CACHE`, else `$HOME/.cache/skillforge`):
//! `onnxruntime-1.31.1/libonnxruntime.so.1.31.1` and `models/all-MiniLM-L6-v2/{model.onnx,
//! tokenizer.json}`. `scripts/setup` pins the sha256 of each file.

use std::path::PathBuf;

use super::EmbedError;

/// Variable naming the asset cache directory.
pub const ENV_CACHE: &str = "SKILLFORGE_CACHE";
/// Variable naming the ONNX Runtime shared library to load instead of the cached one.
pub const ENV_ORT_LIB: &str = "SKILLFORGE_ORT_LIB";
/// Variable naming a model directory (`model.onnx` + `tokenizer.json`) to use instead of the
/// cached all-MiniLM-L6-v2.
pub const ENV_MODEL_DIR: &str = "SKILLFORGE_EMBED_MODEL_DIR";
/// The ONNX Runtime version `scripts/setup` installs.
pub const ORT_VERSION: &str = "1.31.1";
/// The embedding model `scripts/setup` installs.
pub const DEFAULT_MODEL: &str = "all-MiniLM-L6-v2";

/// The value of `var` as a path, if set and not empty.
pub(crate) fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The asset cache: `$SKILLFORGE_CACHE`, else `$HOME/.cache/skillforge`.
pub fn cache_dir() -> Result<PathBuf, EmbedError> {
    env_path(ENV_CACHE)
        .or_else(|| env_path("HOME").map(|home| home.join(".cache").join("skillforge")))
        .ok_or(EmbedError::NoCacheDir)
}

/// Where `scripts/setup ort` puts ONNX Runtime's shared library.
pub fn default_ort_library() -> Result<PathBuf, EmbedError> {
    Ok(cache_dir()?
        .join(format!("onnxruntime-{ORT_VERSION}"))
        .join(format!("libonnxruntime.so.{ORT_VERSION}")))
}

/// Where `scripts/setup embed` puts all-MiniLM-L6-v2.
pub fn default_model_dir() -> Result<PathBuf, EmbedError> {
    Ok(cache_dir()?.join("models").join(DEFAULT_MODEL))
}
