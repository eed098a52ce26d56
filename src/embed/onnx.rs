//! A sentence encoder run by ONNX Runtime: BERT-style model, mean pooling, L2 normalisation.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use ort::session::Session;
use ort::value::TensorRef;
use sha2::{Digest, Sha256};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::runtime::{self, SessionPool};
use super::{EmbedError, Embedder, assets};

/// How to load an [`OnnxEmbedder`]. Plain data; [`OnnxEmbedderConfig::from_env`] fills it from
/// the asset cache and the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnnxEmbedderConfig {
    /// Directory holding `model.onnx` and `tokenizer.json`.
    pub model_dir: PathBuf,
    /// ONNX Runtime's shared library (`libonnxruntime.so.*`). A process loads one library only.
    pub ort_library: PathBuf,
    /// Model name, the part of [`Embedder::id`] before the `@`.
    pub model_name: String,
    /// Longest input in tokens, special tokens included; longer texts are truncated. 256 is what
    /// sentence-transformers uses for all-MiniLM-L6-v2 (its position table allows 512).
    pub max_tokens: usize,
    /// Most texts in one model run; longer inputs are split into batches of this size.
    pub max_batch: usize,
    /// Most ONNX Runtime sessions kept, i.e. model runs in flight at once. Each one holds its own
    /// activations (tens of MB for a full batch).
    pub sessions: usize,
    /// Threads each session uses inside one operator. One keeps concurrent runs from fighting
    /// over cores; parallelism comes from running several sessions.
    pub intra_threads: usize,
}

impl OnnxEmbedderConfig {
    /// A configuration for the model in `model_dir`, run by the library at `ort_library`, with
    /// the defaults: all-MiniLM-L6-v2's name, 256 tokens, batches of 32, one session per core,
    /// one intra-op thread.
    pub fn new(model_dir: impl Into<PathBuf>, ort_library: impl Into<PathBuf>) -> Self {
        Self {
            model_dir: model_dir.into(),
            ort_library: ort_library.into(),
            model_name: assets::DEFAULT_MODEL.to_owned(),
            max_tokens: 256,
            max_batch: 32,
            sessions: std::thread::available_parallelism().map_or(1, usize::from),
            intra_threads: 1,
        }
    }

    /// The default configuration: the model and library that `scripts/setup embed` installs in
    /// the asset cache, unless `SKILLFORGE_EMBED_MODEL_DIR` / `SKILLFORGE_ORT_LIB` say otherwise.
    pub fn from_env() -> Result<Self, EmbedError> {
        let model_dir = match assets::env_path(assets::ENV_MODEL_DIR) {
            Some(dir) => dir,
            None => assets::default_model_dir()?,
        };
        let ort_library = match assets::env_path(assets::ENV_ORT_LIB) {
            Some(lib) => lib,
            None => assets::default_ort_library()?,
        };
        Ok(Self::new(model_dir, ort_library))
    }

    fn validate(&self) -> Result<(), EmbedError> {
        let positive = [
            ("max_tokens", self.max_tokens),
            ("max_batch", self.max_batch),
            ("sessions", self.sessions),
            ("intra_threads", self.intra_threads),
        ];
        match positive.iter().find(|(_, v)| *v == 0) {
            Some((name, _)) => Err(EmbedError::InvalidConfig(format!(
                "{name} must be at least 1"
            ))),
            None => Ok(()),
        }
    }
}

/// Embeds texts with an ONNX sentence encoder (all-MiniLM-L6-v2 by default).
///
/// Texts are tokenized with the model's own `tokenizer.json` (truncated to `max_tokens`, padded
/// to the longest text of each batch), run through the model, mean-pooled over the attention
/// mask and L2-normalised: the same vectors sentence-transformers gives.
pub struct OnnxEmbedder {
    id: String,
    dimension: usize,
    max_batch: usize,
    tokenizer: Tokenizer,
    takes_token_types: bool,
    output: String,
    pool: SessionPool,
}

impl std::fmt::Debug for OnnxEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxEmbedder")
            .field("id", &self.id)
            .field("dimension", &self.dimension)
            .field("max_batch", &self.max_batch)
            .field("sessions", &self.pool.capacity())
            .finish_non_exhaustive()
    }
}

impl OnnxEmbedder {
    /// Loads the embedder from the asset cache (see [`OnnxEmbedderConfig::from_env`]).
    pub fn from_env() -> Result<Self, EmbedError> {
        Self::load(OnnxEmbedderConfig::from_env()?)
    }

    /// Loads the tokenizer and model and creates the first session. Missing files give an error
    /// saying to run `scripts/setup embed`.
    pub fn load(config: OnnxEmbedderConfig) -> Result<Self, EmbedError> {
        config.validate()?;
        let model_path = config.model_dir.join("model.onnx");
        let tokenizer_path = config.model_dir.join("tokenizer.json");
        for path in [&model_path, &tokenizer_path] {
            if !path.is_file() {
                return Err(EmbedError::ModelMissing { path: path.clone() });
            }
        }
        let tokenizer = load_tokenizer(&tokenizer_path, config.max_tokens)?;
        let digest = sha256_file(&model_path)?;
        let env = runtime::environment(&config.ort_library)?;
        let pool = SessionPool::new(
            env,
            model_path.clone(),
            config.intra_threads,
            config.sessions,
        )?;
        let signature = pool.with_session(|session| Signature::read(session, &model_path))?;
        Ok(Self {
            id: format!("{}@{}", config.model_name, &digest[..12]),
            dimension: signature.dimension,
            max_batch: config.max_batch,
            tokenizer,
            takes_token_types: signature.takes_token_types,
            output: signature.output,
            pool,
        })
    }

    /// Embeds one batch (at most `max_batch` texts) on `session`.
    fn embed_batch(
        &self,
        session: &mut Session,
        texts: &[&str],
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Tokenize(e.to_string()))?;
        let rows = encodings.len();
        let cols = encodings.first().map_or(0, |e| e.len());
        let mut ids = Vec::with_capacity(rows * cols);
        let mut mask = Vec::with_capacity(rows * cols);
        let mut types = Vec::with_capacity(rows * cols);
        for e in &encodings {
            ids.extend(e.get_ids().iter().map(|&v| i64::from(v)));
            mask.extend(e.get_attention_mask().iter().map(|&v| i64::from(v)));
            types.extend(e.get_type_ids().iter().map(|&v| i64::from(v)));
        }
        let shape = [rows, cols];
        let mut inputs = vec![
            ("input_ids", input_tensor(shape, &ids)?),
            ("attention_mask", input_tensor(shape, &mask)?),
        ];
        if self.takes_token_types {
            inputs.push(("token_type_ids", input_tensor(shape, &types)?));
        }
        let outputs = session
            .run(inputs)
            .map_err(EmbedError::onnx("run the model"))?;
        let (out_shape, hidden) = outputs[self.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(EmbedError::onnx("read the model's output"))?;
        let expected = [rows, cols, self.dimension].map(|d| d as i64);
        if **out_shape != expected {
            return Err(EmbedError::Onnx {
                action: "run the model",
                message: format!("output has shape {out_shape:?}, expected {expected:?}"),
            });
        }
        Ok(mean_pool_normalize(hidden, &mask, cols, self.dimension))
    }
}

impl Embedder for OnnxEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    /// Splits `texts` into batches of similar length (less padding), runs them on up to
    /// `sessions` sessions at once, and returns the vectors in input order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
        let batches: Vec<&[usize]> = order.chunks(self.max_batch).collect();
        let run = |session: &mut Session, batch: &[usize]| {
            let batch_texts: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
            self.embed_batch(session, &batch_texts)
        };

        // Each worker takes a session and pulls batches until none are left; with several
        // batches and free sessions, workers run on threads of their own.
        let next = AtomicUsize::new(0);
        let worker = || {
            self.pool.with_session(|session| {
                let mut done = Vec::new();
                while let Some(batch) = batches.get(next.fetch_add(1, Ordering::Relaxed)) {
                    done.push((*batch, run(session, batch)?));
                }
                Ok(done)
            })
        };
        let workers = batches.len().min(self.pool.capacity());
        let results: Vec<_> = if workers <= 1 {
            vec![worker()]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers).map(|_| scope.spawn(worker)).collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    })
                    .collect()
            })
        };
        let mut vectors = vec![Vec::new(); texts.len()];
        for done in results {
            for (batch, out) in done? {
                for (&i, v) in batch.iter().zip(out) {
                    vectors[i] = v;
                }
            }
        }
        Ok(vectors)
    }
}

/// What the model takes and gives, checked once at load.
struct Signature {
    takes_token_types: bool,
    output: String,
    dimension: usize,
}

impl Signature {
    fn read(session: &mut Session, path: &Path) -> Result<Self, EmbedError> {
        let unsupported = |reason: String| EmbedError::UnsupportedModel {
            path: path.to_path_buf(),
            reason,
        };
        let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        for required in ["input_ids", "attention_mask"] {
            if !names.contains(&required) {
                return Err(unsupported(format!(
                    "it has no `{required}` input (inputs: {names:?})"
                )));
            }
        }
        if let Some(other) = names
            .iter()
            .find(|n| !["input_ids", "attention_mask", "token_type_ids"].contains(n))
        {
            return Err(unsupported(format!("unexpected input `{other}`")));
        }
        let outputs = session.outputs();
        let output = outputs
            .iter()
            .find(|o| o.name() == "last_hidden_state")
            .or(outputs.first())
            .ok_or_else(|| unsupported("it has no outputs".into()))?;
        let shape = output.dtype().tensor_shape().map(|s| s.to_vec());
        let dimension = match shape.as_deref() {
            Some([_, _, d]) if *d > 0 => *d as usize,
            _ => {
                return Err(unsupported(format!(
                    "output `{}` should be [batch, seq, hidden] with a fixed hidden size, \
                     not {shape:?}",
                    output.name()
                )));
            }
        };
        Ok(Self {
            takes_token_types: names.contains(&"token_type_ids"),
            output: output.name().to_owned(),
            dimension,
        })
    }
}

/// Loads `tokenizer.json` and sets sentence-transformers' settings: truncation to `max_tokens`,
/// padding to the longest text of the batch (the shipped file pads every text to 128).
fn load_tokenizer(path: &Path, max_tokens: usize) -> Result<Tokenizer, EmbedError> {
    let load_error = |message: String| EmbedError::TokenizerLoad {
        path: path.to_path_buf(),
        message,
    };
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| load_error(e.to_string()))?;
    let truncation = TruncationParams {
        max_length: max_tokens,
        ..tokenizer.get_truncation().cloned().unwrap_or_default()
    };
    let padding = PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..tokenizer.get_padding().cloned().unwrap_or_default()
    };
    tokenizer
        .with_truncation(Some(truncation))
        .map_err(|e| load_error(e.to_string()))?
        .with_padding(Some(padding));
    Ok(tokenizer)
}

/// A `[rows, cols]` int64 model input borrowing `data`.
fn input_tensor(shape: [usize; 2], data: &[i64]) -> Result<TensorRef<'_, i64>, EmbedError> {
    TensorRef::from_array_view((shape, data)).map_err(EmbedError::onnx("create an input"))
}

/// The model file's sha256, in hex: it names the vectors' space in [`Embedder::id`].
fn sha256_file(path: &Path) -> Result<String, EmbedError> {
    let io_error = |source| EmbedError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io_error)?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

/// Averages each row's token vectors over its attention mask, then scales it to unit length
/// (sentence-transformers' Pooling(mean) + Normalize). `hidden` is `[rows, cols, dim]`.
fn mean_pool_normalize(hidden: &[f32], mask: &[i64], cols: usize, dim: usize) -> Vec<Vec<f32>> {
    hidden
        .chunks_exact(cols * dim)
        .zip(mask.chunks_exact(cols))
        .map(|(tokens, row_mask)| {
            let mut sum = vec![0f32; dim];
            let mut count = 0f32;
            for (token, &m) in tokens.chunks_exact(dim).zip(row_mask) {
                if m != 0 {
                    count += 1.0;
                    sum.iter_mut().zip(token).for_each(|(s, t)| *s += t);
                }
            }
            let count = count.max(1e-9);
            sum.iter_mut().for_each(|s| *s /= count);
            let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            sum.iter_mut().for_each(|s| *s /= norm);
            sum
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_pool_ignores_padding_and_normalizes() {
        // Two rows of three tokens, dim 2; the second row's last token is padding.
        let hidden = [
            1.0, 0.0, 3.0, 0.0, 2.0, 0.0, //
            0.0, 2.0, 0.0, 4.0, 100.0, 100.0,
        ];
        let mask = [1, 1, 1, 1, 1, 0];
        let out = mean_pool_normalize(&hidden, &mask, 3, 2);
        assert_eq!(out, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
    }

    #[test]
    fn zero_sizes_are_rejected() {
        let mut config = OnnxEmbedderConfig::new("/nonexistent", "/nonexistent.so");
        config.max_batch = 0;
        let err = OnnxEmbedder::load(config).unwrap_err();
        assert!(matches!(err, EmbedError::InvalidConfig(ref m) if m.contains("max_batch")));
    }
}
