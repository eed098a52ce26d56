//! What can go wrong while loading or running an embedder, each with what to do about it.

use std::path::PathBuf;

/// An embedding failure. Messages name the file involved and the command or setting that fixes
/// it.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The ONNX Runtime shared library is not where it is expected.
    #[error(
        "ONNX Runtime library not found at {}: run `scripts/setup embed` to install it, \
         or set SKILLFORGE_ORT_LIB to an ONNX Runtime >= 1.31 shared library",
        path.display()
    )]
    RuntimeMissing {
        /// Where the library was looked for.
        path: PathBuf,
    },
    /// The library exists but could not be loaded or is too old.
    #[error(
        "could not load ONNX Runtime from {}: {message}; run `scripts/setup embed` to install \
         version 1.31.1, or set SKILLFORGE_ORT_LIB to a compatible library",
        path.display()
    )]
    RuntimeLoad {
        /// The library that failed to load.
        path: PathBuf,
        /// ONNX Runtime's (or the dynamic loader's) explanation.
        message: String,
    },
    /// A process can load one ONNX Runtime library only, and another one is already in use.
    #[error(
        "ONNX Runtime is already loaded from {} in this process, so {} cannot be used too; \
         give every embedder the same library (SKILLFORGE_ORT_LIB)",
        loaded.display(),
        requested.display()
    )]
    RuntimeConflict {
        /// The library the process already uses.
        loaded: PathBuf,
        /// The library that was asked for.
        requested: PathBuf,
    },
    /// A model file (`model.onnx` or `tokenizer.json`) is missing.
    #[error(
        "embedding model file not found: {}; run `scripts/setup embed` to install \
         all-MiniLM-L6-v2, or set SKILLFORGE_EMBED_MODEL_DIR to a directory holding \
         model.onnx and tokenizer.json",
        path.display()
    )]
    ModelMissing {
        /// The file that is missing.
        path: PathBuf,
    },
    /// A model file exists but could not be read.
    #[error("could not read {}: {source}", path.display())]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `tokenizer.json` exists but is not a usable tokenizer.
    #[error(
        "could not load the tokenizer {}: {message}; run `scripts/setup embed` to reinstall it",
        path.display()
    )]
    TokenizerLoad {
        /// The tokenizer file.
        path: PathBuf,
        /// The tokenizers crate's explanation.
        message: String,
    },
    /// The model's inputs or outputs are not those of a BERT-style sentence encoder.
    #[error(
        "{} is not a sentence encoder skillforge can use: {reason}; run `scripts/setup embed` \
         for the supported model",
        path.display()
    )]
    UnsupportedModel {
        /// The model file.
        path: PathBuf,
        /// What is wrong with its signature.
        reason: String,
    },
    /// The configuration asks for something impossible (for example a batch size of zero).
    #[error("invalid embedder configuration: {0}")]
    InvalidConfig(String),
    /// Tokenizing the input failed.
    #[error("could not tokenize the input: {0}")]
    Tokenize(String),
    /// ONNX Runtime reported an error while creating a session or running the model.
    #[error("ONNX Runtime failed to {action}: {message}")]
    Onnx {
        /// What was being done.
        action: &'static str,
        /// ONNX Runtime's explanation.
        message: String,
    },
    /// The embedder's cache directory cannot be determined.
    #[error(
        "cannot locate the asset cache: set SKILLFORGE_CACHE (or HOME), or set \
         SKILLFORGE_ORT_LIB and SKILLFORGE_EMBED_MODEL_DIR"
    )]
    NoCacheDir,
}

impl EmbedError {
    /// Wraps an ONNX Runtime error, naming what was being done.
    pub(crate) fn onnx<R>(action: &'static str) -> impl FnOnce(ort::Error<R>) -> Self {
        move |e| Self::Onnx {
            action,
            message: e.to_string(),
        }
    }
}
