"""How far back gradients reach: ||dL/dh_t|| (and ||dL/dc_t||) when only the last step has a loss.

The numbers come from the same backward functions the trainer uses (``lstm_backward``,
``rnn_backward``), which can hand out the gradient of every h_t and c_t on the way.

    from charlstm.gradflow import gradient_flow, random_models
    lstm, rnn = random_models(vocab_size=65, hidden_size=128)
    flow = gradient_flow(lstm, x)          # x (N, T) ids
    flow["dh"][d]                          # mean over the batch of ||dL/dh_{T-d}||
    flow_figure({"lstm": flow})            # a matplotlib Figure (plot_flow writes a PNG)
"""

from __future__ import annotations

import numpy as np

from . import layers as Ls
from .model import CharLSTM, ModelConfig


def gradient_flow(model: CharLSTM, x: np.ndarray, layer: int = -1) -> dict:
    """Gradient norms reaching each earlier step of one layer, for a loss on the last step.

    x (N, T) ids; the target of the last step is its own input (any fixed target works:
    what is measured is how the gradient shrinks or grows on its way back).
    Returns {"distance": (T+1,) = 0..T, "dh": (T+1,), "dc": (T+1,) or None}, where entry d
    is the batch mean of ||dL/dh_{T-d}||, h_0 being the initial state (distance T).
    """
    cfg = model.cfg
    L = cfg.num_layers
    layer = layer % L
    N, T = x.shape
    logits, _, caches = model._forward(x, model.init_state(N), False)
    emb_cache, layer_caches, masks, aff_cache = caches
    mask = np.zeros((N, T), dtype=bool)
    mask[:, -1] = True                                 # the loss sits on the last step only
    y = x.copy()
    _, dlogits = Ls.temporal_softmax_loss(logits, y, mask)
    dout, _, _ = Ls.temporal_affine_backward(dlogits, aff_cache)
    H = cfg.hidden_size
    dh = np.zeros((T, N, H), dtype=model.dtype)
    dc = np.zeros((T, N, H), dtype=model.dtype) if cfg.cell == "lstm" else None
    for l in reversed(range(layer, L)):
        hook = {} if l != layer else ({"dh_out": dh, "dc_out": dc} if dc is not None
                                      else {"dh_out": dh})
        if cfg.cell == "lstm":
            dout, dh0, dc0, *_ = Ls.lstm_backward(dout, layer_caches[l], **hook)
        elif cfg.cell == "gru":
            dout, dh0, *_ = Ls.gru_backward(dout, layer_caches[l], **hook)
        else:
            dout, dh0, *_ = Ls.rnn_backward(dout, layer_caches[l], **hook)

    def norms(g_steps, g0):                            # (T, N, H), (N, H) -> (T+1,) by distance
        per_step = np.linalg.norm(g_steps.astype(np.float64), axis=2).mean(axis=1)   # t = 1..T
        n0 = np.linalg.norm(g0.astype(np.float64), axis=1).mean()
        return np.concatenate([per_step[::-1], [n0]])  # distance 0 = h_T, ..., T = h_0

    return {"distance": np.arange(T + 1), "dh": norms(dh, dh0),
            "dc": norms(dc, dc0) if dc is not None else None}


def random_model(cell, vocab_size=65, hidden_size=128, num_layers=1, embed_size=64, seed=0,
                 dtype=np.float64):
    """A freshly initialised model with the given cell."""
    return CharLSTM(ModelConfig(vocab_size, hidden_size, num_layers, cell, embed_size),
                    seed=seed, dtype=dtype)


def random_models(vocab_size=65, hidden_size=128, num_layers=1, embed_size=64, seed=0,
                  forget_bias=1.0, rnn_scale=1.0, dtype=np.float64):
    """An LSTM and a vanilla RNN of the same size, freshly initialised.

    forget_bias sets the LSTM's forget-gate bias (1.0 is charlstm's initialisation);
    rnn_scale multiplies the RNN's recurrent weights Wh (1.0: N(0, 1/H) entries, whose
    spectral radius is about 1; below 1 gradients vanish, above they can explode).
    """
    lstm, rnn = (random_model(c, vocab_size, hidden_size, num_layers, embed_size, seed, dtype)
                 for c in ("lstm", "rnn"))
    H = hidden_size
    for l in range(num_layers):
        lstm.params[f"layer{l}.b"][H:2 * H] = forget_bias
        rnn.params[f"layer{l}.Wh"] *= rnn_scale
    return lstm, rnn


def flow_figure(flows: dict, title="Gradient flow through time"):
    """flows: {label: gradient_flow result} -> a matplotlib Figure, log-scale norm vs distance.

    Built without pyplot (no backend is chosen, nothing global changes): a notebook shows
    it as it is, ``plot_flow`` saves it.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5), dpi=100)
    ax = fig.subplots()
    for n, (label, f) in enumerate(flows.items()):
        ax.semilogy(f["distance"], f["dh"], "-", color=f"C{n}", label=f"{label}: ||dL/dh_t||")
        if f["dc"] is not None:
            ax.semilogy(f["distance"], f["dc"], "--", color=f"C{n}", label=f"{label}: ||dL/dc_t||")
    ax.set_xlabel("distance from the loss, T - t (steps)")
    ax.set_ylabel("gradient norm (mean over the batch)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_flow(flows: dict, out, title="Gradient flow through time"):
    """flows: {label: gradient_flow result} -> log-scale PNG of norm vs distance."""
    flow_figure(flows, title).savefig(out)
