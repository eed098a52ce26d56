//! The ONNX embedder against sentence-transformers' own vectors, plus batching, truncation and
//! error behaviour. Needs `scripts/setup embed` (the assets are never downloaded by tests) and
//! `../shared/golden/embeddings/minilm_reference.json` (or `SKILLFORGE_SHARED_DIR`).

use std::path::PathBuf;
use std::sync::OnceLock;

use skillforge::embed::{EmbedError, Embedder, OnnxEmbedder, OnnxEmbedderConfig};

struct Golden {
    sentences: Vec<String>,
    embeddings: Vec<Vec<f32>>,
}

fn golden() -> &'static Golden {
    static GOLDEN: OnceLock<Golden> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        let shared = std::env::var_os("SKILLFORGE_SHARED_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
        let path = shared.join("golden/embeddings/minilm_reference.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let json: serde_json::Value = serde_json::from_str(&text).expect("golden file is JSON");
        let sentences: Vec<String> = serde_json::from_value(json["sentences"].clone()).unwrap();
        let embeddings: Vec<Vec<f32>> = serde_json::from_value(json["embeddings"].clone()).unwrap();
        assert_eq!(sentences.len(), 20);
        assert_eq!(embeddings.len(), 20);
        Golden {
            sentences,
            embeddings,
        }
    })
}

fn embedder() -> &'static OnnxEmbedder {
    static EMBEDDER: OnceLock<OnnxEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| OnnxEmbedder::from_env().unwrap_or_else(|e| panic!("{e}")))
}

fn sentences() -> Vec<&'static str> {
    golden().sentences.iter().map(String::as_str).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn matches_sentence_transformers_for_every_golden_text() {
    let e = embedder();
    assert_eq!(e.dimension(), 384);
    let id = e.id();
    assert!(
        id.starts_with("all-MiniLM-L6-v2@") && id.len() == "all-MiniLM-L6-v2@".len() + 12,
        "{id}"
    );
    let got = e.embed(&sentences()).unwrap();
    assert_eq!(got.len(), 20);
    for ((text, want), v) in golden()
        .sentences
        .iter()
        .zip(&golden().embeddings)
        .zip(&got)
    {
        assert_eq!(v.len(), 384);
        let c = cosine(v, want);
        assert!(c >= 0.999, "cosine {c} for {text:?}");
    }
}

#[test]
fn a_batch_gives_the_same_vectors_as_one_text_at_a_time() {
    let e = embedder();
    let texts = sentences();
    let batch = e.embed(&texts).unwrap();
    for (text, b) in texts.iter().zip(&batch) {
        let single = e.embed(&[text]).unwrap();
        assert_eq!(single.len(), 1);
        let d = max_abs_diff(&single[0], b);
        assert!(d < 1e-5, "batch and single differ by {d} for {text:?}");
    }
}

#[test]
fn many_batches_on_several_sessions_keep_input_order() {
    let dir = OnnxEmbedderConfig::from_env().unwrap();
    let small = OnnxEmbedder::load(OnnxEmbedderConfig {
        max_batch: 3,
        sessions: 3,
        ..dir
    })
    .unwrap();
    assert_eq!(small.id(), embedder().id());
    let texts = sentences();
    let want = embedder().embed(&texts).unwrap();
    let got = small.embed(&texts).unwrap();
    for ((text, w), g) in texts.iter().zip(&want).zip(&got) {
        let d = max_abs_diff(w, g);
        assert!(d < 1e-5, "vectors differ by {d} for {text:?}");
    }
}

#[test]
fn concurrent_callers_share_one_embedder() {
    let e: &dyn Embedder = embedder();
    let texts = sentences();
    let want = e.embed(&texts).unwrap();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let texts = &texts;
                s.spawn(move || {
                    let mine: Vec<&str> = texts.iter().skip(t).step_by(4).copied().collect();
                    (t, e.embed(&mine).unwrap())
                })
            })
            .collect();
        for h in handles {
            let (t, got) = h.join().unwrap();
            for (g, w) in got.iter().zip(want.iter().skip(t).step_by(4)) {
                assert!(max_abs_diff(g, w) < 1e-5);
            }
        }
    });
}

#[test]
fn empty_input_gives_no_vectors_and_empty_text_gives_one() {
    let e = embedder();
    assert!(e.embed(&[]).unwrap().is_empty());
    let v = e.embed(&[""]).unwrap();
    assert_eq!(v.len(), 1);
    let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
}

/// Words that are one token each in the model's vocabulary.
const WORDS: [&str; 7] = ["red", "blue", "green", "cat", "dog", "sun", "sea"];

#[test]
fn a_very_long_text_is_truncated_to_256_tokens() {
    let e = embedder();
    // Each "word" is one token; 256 tokens with [CLS] and [SEP] is 254 words.
    let head: String = (0..254)
        .map(|i| format!("{} ", WORDS[i % 7]))
        .collect::<String>();
    let long = format!("{head}{}", "tail ".repeat(20_000));
    let tail_differs = format!("{head}{}", "other ".repeat(50));
    let v = e.embed(&[&long, &tail_differs, &head]).unwrap();
    assert_eq!(v.len(), 3);
    // Everything past the limit is cut, so all three see the same 256 tokens.
    assert!(max_abs_diff(&v[0], &v[2]) < 1e-5);
    assert!(max_abs_diff(&v[1], &v[2]) < 1e-5);
    // And the limit is not shorter than 256: a difference at word 250 shows.
    let early: String = (0..254)
        .map(|i| {
            if i == 250 {
                "zebra ".to_owned()
            } else {
                format!("{} ", WORDS[i % 7])
            }
        })
        .collect();
    let w = e.embed(&[&early]).unwrap();
    assert!(max_abs_diff(&w[0], &v[2]) > 1e-4);
}

#[test]
fn a_missing_model_dir_says_to_run_setup() {
    let dir = tempfile::tempdir().unwrap();
    let lib = OnnxEmbedderConfig::from_env().unwrap().ort_library;
    let err =
        OnnxEmbedder::load(OnnxEmbedderConfig::new(dir.path().join("nope"), lib)).unwrap_err();
    assert!(matches!(err, EmbedError::ModelMissing { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("scripts/setup embed"), "{msg}");
    assert!(msg.contains("model.onnx"), "{msg}");
}

#[test]
fn a_missing_runtime_library_says_to_run_setup() {
    let model_dir = OnnxEmbedderConfig::from_env().unwrap().model_dir;
    let dir = tempfile::tempdir().unwrap();
    let err = OnnxEmbedder::load(OnnxEmbedderConfig::new(
        model_dir,
        dir.path().join("libonnxruntime.so.1.31.1"),
    ))
    .unwrap_err();
    assert!(matches!(err, EmbedError::RuntimeMissing { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("scripts/setup embed"), "{msg}");
    assert!(msg.contains("SKILLFORGE_ORT_LIB"), "{msg}");
}
