#!/usr/bin/env python3
"""The embedding benchmark of benches/embed.rs, in Python: same model.onnx, same texts, same
ONNX Runtime settings (one session, 1 intra-op thread, no spinning, all graph optimisations),
same tokenizer settings (truncate to 256, pad to the longest), mean pooling + L2 normalisation.

Usage: scripts/setup embed pybench
       $CACHE/py-venv/bin/python scripts/bench_embed_python.py [--seconds 5]

Prints, per case, the mean and median time of one call and texts per second.
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("SKILLFORGE_CACHE") or Path.home() / ".cache" / "skillforge")
MODEL_DIR = Path(os.environ.get("SKILLFORGE_EMBED_MODEL_DIR") or CACHE / "models" / "all-MiniLM-L6-v2")


def load():
    tok = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    tok.enable_truncation(256)
    tok.enable_padding()  # to the longest text of the batch
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    session = ort.InferenceSession(str(MODEL_DIR / "model.onnx"), so, providers=["CPUExecutionProvider"])
    return tok, session


def embed(tok, session, texts):
    enc = tok.encode_batch(texts)
    ids = np.array([e.ids for e in enc], dtype=np.int64)
    mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
    types = np.array([e.type_ids for e in enc], dtype=np.int64)
    hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
    m = mask[..., None].astype(np.float32)
    v = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
    return v / np.clip(np.linalg.norm(v, axis=1, keepdims=True), 1e-12, None)


def bench(name, fn, n_texts, seconds):
    for _ in range(3):
        fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 10:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    mean = statistics.fmean(times)
    median = statistics.median(times)
    print(
        f"{name:<12} {len(times):>5} calls  mean {mean * 1e3:8.2f} ms  median {median * 1e3:8.2f} ms"
        f"  {n_texts / mean:8.1f} texts/s"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="time per case")
    args = parser.parse_args()
    data = json.loads((ROOT / "benches" / "data" / "embed_texts.json").read_text())
    tok, session = load()
    print(f"python onnxruntime {ort.__version__}, model {MODEL_DIR / 'model.onnx'}")
    bench("one_text", lambda: embed(tok, session, [data["one"]]), 1, args.seconds)
    bench("short_x32", lambda: embed(tok, session, data["short"]), 32, args.seconds)
    bench("code_x32", lambda: embed(tok, session, data["code"]), 32, args.seconds)


if __name__ == "__main__":
    main()
