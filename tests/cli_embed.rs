//! `skillforge embed` as a user runs it, with the real ONNX model (installed by
//! `scripts/setup embed`, which the test command runs first).

use serde_json::Value;
use std::process::Command;

#[test]
fn embed_prints_unit_vectors_as_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_skillforge"))
        .args(["embed", "--json", "parse a CSV line", "sum of squares"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dimension"], 384);
    assert!(
        v["embedder"]
            .as_str()
            .unwrap()
            .starts_with("all-MiniLM-L6-v2@")
    );
    let vectors = v["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    for vector in vectors {
        let values: Vec<f64> = vector
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(values.len(), 384);
        let norm: f64 = values.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    assert_ne!(vectors[0], vectors[1]);
}

#[test]
fn a_missing_model_says_what_to_run() {
    let out = Command::new(env!("CARGO_BIN_EXE_skillforge"))
        .args(["embed", "hello"])
        .env("SKILLFORGE_EMBED_MODEL_DIR", "/nonexistent/model-dir")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("scripts/setup embed"), "{stderr}");
}
