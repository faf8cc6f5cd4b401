"""``charlstm export CKPT --onnx MODEL.onnx``: the model as two ONNX graphs, for onnxruntime & co.

    MODEL.onnx       a whole sequence, as CharLSTM.forward:
                     ids (N, T) int64, h0, c0 (L, N, H)  ->  logits (N, T, V), h, c (L, N, H)
    MODEL.step.onnx  one step, as CharLSTM.step (what a sampler calls):
                     ids (N,) int64, h0, c0 (L, N, H)    ->  logits (N, V), h, c (L, N, H)

N and T are free. The state is charlstm's pair (h, c) for every cell; the GRU and the RNN pass
c through unchanged. Each layer is ONNX's own LSTM, GRU or RNN operator, so any runtime runs
it with its fused kernels. Those operators differ from charlstm in their gate order and weight
layout, and the conversion is in ``_onnx_weights``. The metadata key ``charlstm`` holds the model's
description (``spec.describe``: the symbols, the unknown symbol, the sizes, the mode) as JSON.

A records model's graphs are the same: its end-of-record symbol (``end_id`` in the description)
is one more embedding row and one more logit. A sampler starts each record from a zero state,
reads ``end_id`` first, and stops the record when it draws ``end_id`` (docs/export.md).

Needs the ``onnx`` package (``pip install 'charlstm[onnx]'``), and nothing else at export time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..checkpoint import Checkpoint
from ..errors import CharlstmError
from .spec import check_target, describe, float32_params, write_atomic

OPSET = 17              # every operator used here has had its current form since opset 14
IR_VERSION = 8          # the IR version of opset 17 (onnx writes its newest by default, which
                        # runtimes older than the onnx package refuse)

# Blocks of H of charlstm's fused gates, in ONNX's order for the same operator.
GATE_ORDER = {
    "lstm": [0, 2, 1, 3],    # charlstm i, f, o, g  ->  ONNX i, o, f, c
    "gru": [1, 0, 2],        # charlstm r, z, n     ->  ONNX z, r, h
    "rnn": [0],
}


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise CharlstmError("--onnx needs the onnx package, which is not installed: "
                            "pip install 'charlstm[onnx]' (or pip install onnx)")
    return onnx


def _reorder(a, order, H):
    """The last axis of ``a``, blocks of H, in ``order``."""
    return np.concatenate([a[..., k * H:(k + 1) * H] for k in order], axis=-1)


def _onnx_weights(cell: str, Wx, Wh, b, bh=None):
    """One layer's weights in the layout of ONNX's LSTM / GRU / RNN: W (1, G*H, D),
    R (1, G*H, H), B (1, 2*G*H) = [Wb, Rb], gates in ONNX's order.

    charlstm computes x Wx + h Wh + b with Wx (D, G*H); ONNX computes X W^T + H R^T + Wb + Rb,
    with one bias on each side. charlstm's single b goes on the input side. The GRU's bh is
    the bias of the recurrent candidate term, inside the reset gate's product: ONNX's Rb for
    its h gate (with linear_before_reset=1, the form charlstm's GRU has).
    """
    H = Wh.shape[0]
    order = GATE_ORDER[cell]
    W = _reorder(Wx, order, H).T[None]
    R = _reorder(Wh, order, H).T[None]
    Rb = np.zeros_like(b)
    if cell == "gru":
        Rb[2 * H:] = bh                                # ONNX h gate is last, as n was
    B = np.concatenate([_reorder(b, order, H), Rb])[None]
    return [np.ascontiguousarray(w, dtype=np.float32) for w in (W, R, B)]


def build_model(ck: Checkpoint, step: bool):
    """The ONNX ModelProto of the whole-sequence graph, or of one step (``step``)."""
    onnx = _import_onnx()
    from onnx import TensorProto, helper, numpy_helper

    spec = describe(ck)
    cell, L, H, V = spec["cell"], spec["num_layers"], spec["hidden_size"], spec["vocab_size"]
    p = float32_params(ck)
    nodes, inits = [], []

    def const(name, array):
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(op, inputs, outputs, **attrs):
        nodes.append(helper.make_node(op, inputs, outputs, **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    # ids -> x (T, N, E): time first, as ONNX's recurrent operators take their input.
    emb = node("Gather", [const("embed", p["embed"]), "ids"], ["emb"])
    if step:
        x = node("Unsqueeze", [emb, const("axis0", np.array([0]))], ["x0"])      # (1, N, E)
    else:
        x = node("Transpose", [emb], ["x0"], perm=[1, 0, 2])                      # (T, N, E)
    hs, cs = [], []
    for l in range(L):
        W, R, B = _onnx_weights(cell, p[f"layer{l}.Wx"], p[f"layer{l}.Wh"], p[f"layer{l}.b"],
                                p.get(f"layer{l}.bh"))
        W, R, B = (const(f"layer{l}.{k}", w) for k, w in zip("WRB", (W, R, B)))
        index = const(f"index{l}", np.array([l]))
        h0 = node("Gather", ["h0", index], [f"layer{l}.h0"], axis=0)                  # (1, N, H)
        common = dict(hidden_size=H, direction="forward")
        if cell == "lstm":
            c0 = node("Gather", ["c0", index], [f"layer{l}.c0"], axis=0)
            y, hT, cT = node("LSTM", [x, W, R, B, "", h0, c0],
                             [f"layer{l}.y", f"layer{l}.hT", f"layer{l}.cT"], **common)
            cs.append(cT)
        else:
            op, extra = ("GRU", {"linear_before_reset": 1}) if cell == "gru" else ("RNN", {})
            y, hT = node(op, [x, W, R, B, "", h0], [f"layer{l}.y", f"layer{l}.hT"], **common, **extra)
        hs.append(hT)
        x = node("Squeeze", [y, const(f"axis1_{l}", np.array([1]))], [f"layer{l}.out"])  # (T, N, H)
    logits = node("Add", [node("MatMul", [x, const("out.W", p["out.W"])], ["xW"]),
                          const("out.b", p["out.b"])], ["xWb"])                  # (T, N, V)
    if step:
        node("Squeeze", [logits, "axis0"], ["logits"])                            # (N, V)
    else:
        node("Transpose", [logits], ["logits"], perm=[1, 0, 2])                   # (N, T, V)
    node("Concat", hs, ["h"], axis=0)
    if cell == "lstm":
        node("Concat", cs, ["c"], axis=0)
    else:
        node("Identity", ["c0"], ["c"])                                           # c unused

    f32 = TensorProto.FLOAT
    ids_shape = ["batch"] if step else ["batch", "time"]
    logits_shape = ["batch", V] if step else ["batch", "time", V]
    graph = helper.make_graph(
        nodes, f"charlstm-{cell}-{'step' if step else 'sequence'}",
        inputs=[helper.make_tensor_value_info("ids", TensorProto.INT64, ids_shape),
                helper.make_tensor_value_info("h0", f32, [L, "batch", H]),
                helper.make_tensor_value_info("c0", f32, [L, "batch", H])],
        outputs=[helper.make_tensor_value_info("logits", f32, logits_shape),
                 helper.make_tensor_value_info("h", f32, [L, "batch", H]),
                 helper.make_tensor_value_info("c", f32, [L, "batch", H])],
        initializer=inits)
    model = helper.make_model(graph, producer_name="charlstm",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"charlstm": json.dumps(spec, ensure_ascii=False)})
    onnx.checker.check_model(model, full_check=True)
    return model


def step_path(path) -> Path:
    """MODEL.onnx -> MODEL.step.onnx, where the one-step graph goes."""
    path = Path(path)
    return path.with_name(path.stem + ".step" + path.suffix)


def export_onnx(ck: Checkpoint, path, checkpoint_path=None) -> tuple[Path, Path]:
    """Write the sequence graph to ``path`` (.onnx) and the step graph beside it
    (``step_path``); -> both paths."""
    path = check_target(path, (".onnx",), "--onnx", checkpoint_path)
    models = {path: build_model(ck, step=False), step_path(path): build_model(ck, step=True)}
    for target, model in models.items():
        write_atomic(target, model.SerializeToString())
    return path, step_path(path)
