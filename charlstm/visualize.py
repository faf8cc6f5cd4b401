"""What the cells learn: per-character activations of a trained model, as HTML and a heatmap.

    acts = activations(model, vocab, text)              # from the model's own forward pass
    cells = rank_cells(acts["values"], text)             # the most interpretable cells
    write_html(acts, cells, "cells.html"); write_heatmap(acts, cells, "cells.png")
    heatmap_figure(acts, cells)                          # the same heatmap as a Figure
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from .data import Vocab, split_records
from .errors import CharlstmError
from .evaluate import printable_vocab
from .model import CharLSTM

KINDS = ("cell", "hidden")
SCORES = ("correlation", "variance")


def activations(model: CharLSTM, vocab: Vocab, text: str, layer: int = -1,
                kind: str | None = None, records: str | None = None) -> dict:
    """Run ``model`` over ``text`` (one stream) and keep one layer's activations.

    kind "cell": tanh(c_t) (LSTM only); "hidden": h_t (any cell); None: cell for an
    LSTM, hidden for a GRU or a vanilla RNN, which have no cell state. Returns {"values" (T, H) in
    [-1, 1], "text" (the characters scored), "top5" (T, 5) ids and "top5_p" (T, 5)
    probabilities of the next character after each position, "layer", "kind"}.

    records ("lines" or "paragraphs", for a records model): the text's records are read
    as in training, each from a zero state after the end-of-record symbol, which the
    returned text shows as a newline before each record.
    """
    if kind is None:
        kind = "cell" if model.cfg.cell == "lstm" else "hidden"
    if records:
        parts = [_activations(model, vocab, "\n" + r, layer, kind, records=True)
                 for r in split_records(text, records)]
        if not parts:
            raise CharlstmError("the text to visualise has no records")
        out = dict(parts[0])
        for key in ("values", "top5", "top5_p"):
            out[key] = np.concatenate([p[key] for p in parts])
        out["text"] = "".join(p["text"] for p in parts)
        return out
    return _activations(model, vocab, text, layer, kind)


def _activations(model, vocab, text, layer, kind, records=False):
    # records: the text's first character stands for the end-of-record symbol.
    if kind not in KINDS:
        raise CharlstmError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "cell" and model.cfg.cell != "lstm":
        name = {"gru": "a GRU", "rnn": "a vanilla RNN"}[model.cfg.cell]
        raise CharlstmError(f"{name} has no cell state; use --kind hidden")
    L = model.cfg.num_layers
    if not -L <= layer < L:
        raise CharlstmError(f"--layer must be in [-{L}, {L - 1}] for this {L}-layer model")
    layer %= L
    unknown = vocab.unknown(text[1:] if records else text)
    if unknown:
        raise CharlstmError("text has characters outside the model's vocabulary: "
                            + Vocab.describe(unknown))
    if not text:
        raise CharlstmError("the text to visualise is empty")
    x = vocab.encode(text[1:] if records else text)[None, :].astype(np.int64)
    if records:
        x = np.concatenate([[[vocab.end_id]], x], axis=1)
    logits, _, caches = model._forward(x, model.init_state(1), False)
    cache = caches[1][layer]
    hs = cache[1]                                      # (H, T+1, N): hs[:, t+1] = h_t
    if kind == "cell":
        values = cache[3][:, :, 0]                     # tanh(c_t), stored (T, H, N)
    else:
        values = hs[:, 1:, 0].T
    z = logits[0].astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    top5 = np.argsort(-p, axis=1, kind="stable")[:, :5]
    return {"values": np.asarray(values, np.float64), "text": text, "top5": top5,
            "top5_p": np.take_along_axis(p, top5, axis=1), "layer": layer, "kind": kind,
            "chars": list(vocab.chars) + (["<end>"] if vocab.end else [])}


def text_features(text: str) -> dict:
    """Per-character features a cell might track: {name: (T,) float array}."""
    quote = np.zeros(len(text))
    bracket = np.zeros(len(text))
    col = np.zeros(len(text))
    inside, depth, c = False, 0, 0
    for t, ch in enumerate(text):
        if ch == '"':
            inside = not inside
        depth += ch in "([{"
        depth = max(depth - (ch in ")]}"), 0)
        quote[t], bracket[t], col[t] = inside, depth, c
        c = 0 if ch == "\n" else c + 1
    return {"inside quotes": quote, "bracket depth": bracket, "position in line": col}


def rank_cells(values: np.ndarray, text: str, score: str = "correlation", k: int = 6):
    """The k most interpretable cells: [(cell, score, explanation)].

    correlation: the largest |Pearson r| between the cell and one of ``text_features``
    (quotes, bracket depth, position in line) - a cell that tracks something nameable.
    variance: the cells whose activation varies most over the text.
    """
    if score not in SCORES:
        raise CharlstmError(f"--score must be one of {', '.join(SCORES)}, got {score!r}")
    var = values.var(axis=0)
    if score == "variance":
        order = np.argsort(-var, kind="stable")[:k]
        return [(int(j), float(var[j]), f"variance {var[j]:.3f}") for j in order]
    best = np.zeros(values.shape[1])
    names = [""] * values.shape[1]
    centred = values - values.mean(axis=0)
    vn = np.sqrt((centred ** 2).sum(axis=0)) + 1e-12
    for name, f in text_features(text).items():
        fc = f - f.mean()
        if not fc.any():
            continue                                   # the feature is constant here
        r = (fc @ centred) / (np.sqrt(fc @ fc) * vn)
        for j in np.flatnonzero(np.abs(r) > best):
            best[j], names[j] = abs(r[j]), f"{name} r={r[j]:+.2f}"
    order = np.argsort(-best, kind="stable")[:k]
    return [(int(j), float(best[j]), f"{names[j] or 'no feature'}; variance {var[j]:.3f}")
            for j in order]


def _color(v: float) -> str:
    """-1 blue, 0 white, +1 red."""
    a = min(abs(v), 1.0)
    return f"rgba(214,39,40,{a:.2f})" if v > 0 else f"rgba(31,119,180,{a:.2f})"


def _show(ch: str) -> str:
    return printable_vocab(ch)


def write_html(acts: dict, cells, out, title: str = "charlstm: what the cells track"):
    """A self-contained page (inline CSS, no scripts, no network): one block per cell."""
    text, chars = acts["text"], acts["chars"]
    tips = []
    for t in range(len(text)):
        pred = ", ".join(f"{_show(chars[i])} {p:.2f}" for i, p in
                         zip(acts["top5"][t], acts["top5_p"][t]))
        tips.append(html.escape(f"after {_show(text[t])!s}: {pred}", quote=True))
    what = "tanh(c_t)" if acts["kind"] == "cell" else "h_t"
    parts = [f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 70em; color: #222; }}
.text {{ font-family: monospace; white-space: pre-wrap; line-height: 1.6; font-size: 14px;
         border: 1px solid #ddd; padding: 0.8em; }}
.text span {{ border-radius: 2px; }}
.legend span {{ padding: 0 0.6em; font-family: monospace; }}
h2 {{ font-size: 1.05em; margin-top: 1.6em; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Layer {acts['layer']}, activation {what}, over {len(text)} characters. Each character's
background shows one cell's value after reading it:
<span class="legend"><span style="background:{_color(-1)}">-1</span><span>0</span>
<span style="background:{_color(1)}">+1</span></span>.
Hover over a character for the model's top-5 guesses of the next one.
Cells are ranked by their score: the largest |correlation| with a text feature (inside
quotes, bracket depth, position in line), or the variance of the activation.</p>
"""]
    for j, score, why in cells:
        v = acts["values"][:, j]
        spans = "".join(
            f'<span style="background:{_color(v[t])}" data-v="{v[t]:.4f}" title="{tips[t]}">'
            f"{html.escape(text[t])}</span>" for t in range(len(text)))
        parts.append(f'<h2>cell {j} &mdash; {html.escape(why)}</h2>\n'
                     f'<div class="text" data-cell="{j}">{spans}</div>\n')
    parts.append("</body></html>\n")
    Path(out).write_text("".join(parts), encoding="utf-8")
    return Path(out)


def heatmap_figure(acts: dict, cells, width: int = 100):
    """A matplotlib Figure: the chosen cells (rows) over the first ``width`` characters.

    Built without pyplot (no backend is chosen, nothing global changes): a notebook shows
    it as it is, ``write_heatmap`` saves it.
    """
    from matplotlib.figure import Figure

    text = acts["text"][:width]
    idx = [j for j, *_ in cells]
    data = acts["values"][:len(text), idx].T
    fig = Figure(figsize=(max(8, len(text) * 0.13), 1 + 0.45 * len(idx)), dpi=100)
    ax = fig.subplots()
    im = ax.imshow(data, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(text)))
    ax.set_xticklabels([_show(ch) for ch in text], fontsize=7, family="monospace")
    ax.set_yticks(range(len(idx)))
    ax.set_yticklabels([f"cell {j}" for j in idx], fontsize=8)
    ax.tick_params(length=0)
    fig.colorbar(im, ax=ax, fraction=0.02, pad=0.01)
    ax.set_title(f"layer {acts['layer']} {'tanh(c)' if acts['kind'] == 'cell' else 'h'}",
                 fontsize=9)
    fig.tight_layout()
    return fig


def write_heatmap(acts: dict, cells, out, width: int = 100):
    """PNG: the chosen cells (rows) over the first ``width`` characters (columns)."""
    heatmap_figure(acts, cells, width).savefig(out)
    return Path(out)
