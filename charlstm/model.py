"""The character-level language model: embedding -> L recurrent layers -> affine -> softmax.

    x (N, T) ids -> embed (N, T, E) -> [embed dropout] -> layer 0 (N, T, H) -> [dropout] -> ...
      -> layer L-1 (N, T, H) -> [dropout] -> affine (N, T, V) -> softmax cross-entropy

Parameters live in one flat, ordered ``dict`` with stable names, which the optimizers,
the checkpoints and the gradient check all use:

    embed            (V, E)
    layer{l}.Wx      (D_l, G*H)   D_0 = E, D_l = H after; G = 4 lstm, 3 gru, 1 rnn
    layer{l}.Wh      (H, G*H)
    layer{l}.b       (G*H,)
    layer{l}.bh      (H,)         gru only: the recurrent candidate bias
    out.W            (H, V)
    out.b            (V,)

The recurrent state is a pair (h, c) of arrays (L, N, H); the GRU and the vanilla RNN
ignore c.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from . import layers as Ls
from .errors import ConfigError


CELLS = ("lstm", "gru", "rnn")
GATES = {"lstm": 4, "gru": 3, "rnn": 1}               # blocks of H in the fused weights


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    hidden_size: int = 256
    num_layers: int = 2
    cell: str = "lstm"
    embed_size: int = 64
    dropout: float = 0.0                               # between layers and before the output
    embed_dropout: float | None = None                 # on the embedding; None: as dropout

    @property
    def input_dropout(self) -> float:
        """The dropout on the embedding (checkpoints from before the field: ``dropout``)."""
        return self.dropout if self.embed_dropout is None else self.embed_dropout

    def validate(self):
        """Raise ConfigError with a user-facing message for an impossible configuration."""
        if self.vocab_size < 1:
            raise ConfigError(f"vocab size must be at least 1, got {self.vocab_size}")
        if self.hidden_size < 1:
            raise ConfigError(f"--hidden-size must be at least 1, got {self.hidden_size}")
        if self.num_layers < 1:
            raise ConfigError(f"--layers must be at least 1, got {self.num_layers}")
        if self.embed_size < 1:
            raise ConfigError(f"--embed-size must be at least 1, got {self.embed_size}")
        if self.cell not in CELLS:
            raise ConfigError(f"--cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")
        if not 0.0 <= self.input_dropout < 1.0:
            raise ConfigError(f"--embed-dropout must be in [0, 1), got {self.embed_dropout}")
        return self

    def to_dict(self):
        return asdict(self)


def param_shapes(cfg: ModelConfig) -> dict:
    """{name: shape} of every parameter, in order (see the module docstring)."""
    V, E, H = cfg.vocab_size, cfg.embed_size, cfg.hidden_size
    G = GATES[cfg.cell]
    shapes = {"embed": (V, E)}
    for l in range(cfg.num_layers):
        D = E if l == 0 else H
        shapes.update({f"layer{l}.Wx": (D, G * H), f"layer{l}.Wh": (H, G * H),
                       f"layer{l}.b": (G * H,)})
        if cfg.cell == "gru":
            shapes[f"layer{l}.bh"] = (H,)
    shapes.update({"out.W": (H, V), "out.b": (V,)})
    return shapes


INITS = ("fan_in", "uniform")


def init_params(cfg: ModelConfig, rng: np.random.Generator, dtype=np.float32, init="fan_in"):
    """Fresh parameters.

    fan_in (the default): weights ~ N(0, 1/fan_in), biases 0, LSTM forget-gate bias 1.
    Scaling by fan-in keeps every pre-activation near unit variance at the start, and a
    forget bias of 1 starts the cell state remembering (Jozefowicz et al., 2015).

    uniform: PyTorch's defaults for nn.LSTM/GRU/RNN and nn.Linear: every recurrent weight
    and bias ~ U(-1/sqrt(H), 1/sqrt(H)) (the single bias b stands for PyTorch's b_ih + b_hh,
    so it is the sum of two such draws), the output layer ~ U(-1/sqrt(H), 1/sqrt(H)), no
    forget-gate offset. Smaller weights than fan_in's for a small embedding.
    The embedding is N(0, 1) in both.
    """
    if init not in INITS:
        raise ConfigError(f"--init must be one of {', '.join(INITS)}, got {init!r}")
    H = cfg.hidden_size
    k = 1 / np.sqrt(H)
    p = {}
    for name, shape in param_shapes(cfg).items():
        if name == "embed":
            p[name] = rng.standard_normal(shape)
        elif init == "uniform":
            p[name] = rng.uniform(-k, k, shape)
            if name.endswith(".b") and name != "out.b":
                p[name] += rng.uniform(-k, k, shape)   # b_ih + b_hh
        elif name.endswith((".b", ".bh")):
            p[name] = np.zeros(shape)
            if cfg.cell == "lstm":
                p[name][H:2 * H] = 1.0                 # forget gate
        else:                                          # Wx, Wh, out.W: fan-in = rows
            p[name] = rng.standard_normal(shape) / np.sqrt(shape[0])
    return {k: v.astype(dtype) for k, v in p.items()}


class CharLSTM:
    """A multi-layer LSTM (or tanh RNN) language model over characters.

    >>> m = CharLSTM(ModelConfig(vocab_size=65, hidden_size=128), seed=0)
    >>> loss, grads, state = m.loss_and_grads(x, y, m.init_state(N))   # x, y (N, T) ids

    ``dtype`` float32 for training, float64 for gradient checks. ``threads`` > 1 splits
    each batch over that many threads (``BatchSplit``); 0 picks ``auto_threads``.
    """

    def __init__(self, cfg: ModelConfig, seed: int | None = 0, dtype=np.float32,
                 params: dict | None = None, threads: int = 1, init: str = "fan_in"):
        self.cfg = cfg.validate()
        self.dtype = np.dtype(dtype)
        self.params = params if params is not None else init_params(
            cfg, np.random.default_rng(seed), self.dtype, init)
        self.dropout_rng = np.random.default_rng(None if seed is None else seed + 1)
        # One workspace per recurrent layer and one for the output layer: the big arrays
        # of a step are reused by the next step instead of being allocated afresh.
        self._ws = [Ls.Workspace() for _ in range(cfg.num_layers + 1)]
        self.auto = not threads                        # 0: auto, decided per batch size
        self.threads = threads or auto_threads(cfg.hidden_size)   # the most it may use
        self._split = None                             # the BatchSplit, made when first used

    # ------------------------------------------------------------------ bookkeeping
    @property
    def num_params(self):
        return int(sum(p.size for p in self.params.values()))

    def init_state(self, N):
        """Zero hidden and cell state: (h, c), each (L, N, H)."""
        shape = (self.cfg.num_layers, N, self.cfg.hidden_size)
        return np.zeros(shape, self.dtype), np.zeros(shape, self.dtype)

    # ------------------------------------------------------------------ training
    def _forward(self, x, state, train):
        """Forward pass keeping caches: logits (N, T, V), (hT, cT), caches.
        ``train`` turns dropout on.

        The logits and caches live in the model's workspaces: valid until the next call.
        """
        cfg, p = self.cfg, self.params
        h0, c0 = state
        drop = cfg.dropout if train else 0.0
        embed_drop = cfg.input_dropout if train else 0.0
        if embed_drop == 0 and cfg.vocab_size <= 2 * cfg.embed_size:
            # Layer 0 looks its input projection up by character (see Ls.Embedded).
            out, emb_cache, mask = Ls.Embedded(x, p["embed"]), None, None
        else:
            out, emb_cache = Ls.embedding_forward(x, p["embed"])
            out, mask = Ls.dropout_forward(out, embed_drop, self.dropout_rng)
        layer_caches, masks = [], [mask]
        hT, cT = np.empty_like(h0), np.empty_like(c0)
        for l in range(cfg.num_layers):
            Wx, Wh, b = p[f"layer{l}.Wx"], p[f"layer{l}.Wh"], p[f"layer{l}.b"]
            if cfg.cell == "lstm":
                out, hT[l], cT[l], cache = Ls.lstm_forward(out, h0[l], c0[l], Wx, Wh, b,
                                                           self._ws[l])
            elif cfg.cell == "gru":
                out, hT[l], cache = Ls.gru_forward(out, h0[l], Wx, Wh, b, p[f"layer{l}.bh"],
                                                   self._ws[l])
                cT[l] = c0[l]
            else:
                out, hT[l], cache = Ls.rnn_forward(out, h0[l], Wx, Wh, b, self._ws[l])
                cT[l] = c0[l]
            layer_caches.append(cache)
            out, mask = Ls.dropout_forward(out, drop, self.dropout_rng)
            masks.append(mask)
        logits, aff_cache = Ls.temporal_affine_forward(out, p["out.W"], p["out.b"],
                                                       self._ws[-1])
        return logits, (hT, cT), (emb_cache, layer_caches, masks, aff_cache)

    def forward_backward(self, x, y, state, train=True):
        """Loss, parameter gradients, final state and the gradient of the initial state.

        x, y (N, T) integer ids (y is x shifted by one); state (h0, c0) each (L, N, H).
        ``train`` turns dropout on. Returns
        loss (float), grads (dict like params), (hT, cT), (dh0, dc0).

        With ``threads`` > 1 the batch is cut into that many groups of sequences, each
        run through this same forward and backward in its own thread (with one BLAS
        thread each), and the groups' gradients are added up (see ``BatchSplit``).
        The sequences of a batch never interact, so the result is the same up to the
        order of floating-point sums.
        """
        split = self._batch_split(x.shape[0])
        if split is not None:
            return split.forward_backward(x, y, state, train)
        return self._forward_backward(x, y, state, train)

    def _forward_backward(self, x, y, state, train=True, weight=1.0):
        # weight: this group's share of the batch, so the groups' gradients add up to
        # the gradient of the mean loss over the whole batch.
        logits, new_state, caches = self._forward(x, state, train)
        emb_cache, layer_caches, masks, aff_cache = caches
        loss, dlogits = Ls.temporal_softmax_loss(logits, y)
        if weight != 1.0:
            dlogits *= weight

        g = {}
        dout, g["out.W"], g["out.b"] = Ls.temporal_affine_backward(dlogits, aff_cache)
        dh0, dc0 = np.empty_like(state[0]), np.zeros_like(state[1])
        for l in reversed(range(self.cfg.num_layers)):
            dout = Ls.dropout_backward(dout, masks[l + 1])
            if self.cfg.cell == "lstm":
                dout, dh0[l], dc0[l], dWx, dWh, db = Ls.lstm_backward(dout, layer_caches[l])
            elif self.cfg.cell == "gru":
                dout, dh0[l], dWx, dWh, db, g[f"layer{l}.bh"] = Ls.gru_backward(
                    dout, layer_caches[l])
            else:
                dout, dh0[l], dWx, dWh, db = Ls.rnn_backward(dout, layer_caches[l])
            g[f"layer{l}.Wx"], g[f"layer{l}.Wh"], g[f"layer{l}.b"] = dWx, dWh, db
        dout = Ls.dropout_backward(dout, masks[0])
        # With an Embedded input, layer 0's backward gave the embedding's gradient itself.
        g["embed"] = dout if emb_cache is None else Ls.embedding_backward(dout, emb_cache)
        grads = {k: g[k] for k in self.params}         # same order as params
        return loss, grads, new_state, (dh0, dc0)

    def loss_and_grads(self, x, y, state, train=True):
        """x, y (N, T) ids, state (h, c) -> loss, grads (dict), new_state (h, c)."""
        loss, grads, new_state, _ = self.forward_backward(x, y, state, train)
        return loss, grads, new_state

    # ------------------------------------------------------------------ inference
    def forward(self, x, state):
        """Logits for every position, dropout off: x (N, T) -> logits (N, T, V), (hT, cT)."""
        logits, new_state, _ = self._forward(x, state, False)
        return logits.copy(), new_state                # the workspace's array is reused

    def loss(self, x, y, state):
        """Evaluation loss (dropout off, no gradients): x, y (N, T) -> loss, new_state."""
        split = self._batch_split(x.shape[0])
        if split is not None:
            return split.loss(x, y, state)
        return self._loss(x, y, state)

    def _loss(self, x, y, state):
        logits, new_state, _ = self._forward(x, state, False)
        loss, _ = Ls.temporal_softmax_loss(logits, y)
        return loss, new_state

    def _batch_split(self, N):
        """The BatchSplit for a batch of N sequences, or None to run it in this thread."""
        k = min(self.threads, N // MIN_SEQS_PER_THREAD)
        if self.auto:
            k = min(k, auto_threads(self.cfg.hidden_size, N))
        if k < 2 or not blas_threads_settable():
            return None
        if self._split is None or self._split.parts != k:
            self._split = BatchSplit(self, k)
        return self._split

    def step(self, ids, state):
        """One time step, for sampling: ids (N,) -> logits (N, V), new state (h, c)."""
        return self._step_logits(ids, (state[0].copy(), state[1].copy()))

    def _step_logits(self, ids, state):
        # Updates the state arrays in place (callers pass copies) and returns them.
        p, H = self.params, self.cfg.hidden_size
        h, c = state
        out = p["embed"][ids]                          # (N, E)
        for l in range(self.cfg.num_layers):
            if self.cfg.cell == "gru":                 # r, z, n as in layers.gru_step_forward
                ax = out @ p[f"layer{l}.Wx"] + p[f"layer{l}.b"]
                ah = h[l] @ p[f"layer{l}.Wh"]
                rz = Ls.sigmoid(ax[:, :2 * H] + ah[:, :2 * H])
                n = np.tanh(ax[:, 2 * H:] + rz[:, :H] * (ah[:, 2 * H:] + p[f"layer{l}.bh"]))
                h[l] = n + rz[:, H:] * (h[l] - n)
                out = h[l]
                continue
            a = out @ p[f"layer{l}.Wx"]
            a += h[l] @ p[f"layer{l}.Wh"]
            a += p[f"layer{l}.b"]
            if self.cfg.cell == "lstm":
                Ls.sigmoid(a[:, :3 * H], out=a[:, :3 * H])
                g = np.tanh(a[:, 3 * H:])
                c[l] = a[:, H:2 * H] * c[l] + a[:, :H] * g
                h[l] = a[:, 2 * H:3 * H] * np.tanh(c[l])
            else:
                h[l] = np.tanh(a)
            out = h[l]
        logits = out @ p["out.W"]
        logits += p["out.b"]
        return logits, (h, c)


# --------------------------------------------------------------------------- threads

MIN_SEQS_PER_THREAD = 8      # below this the matrix products are too thin to split
MAX_HIDDEN_TO_SPLIT = 256    # up to this any batch is split
ROWS_MULTIPLE = 16           # above it, only if each thread gets a multiple of this ...
MAX_HIDDEN_ROWS_RULE = 512   # ... up to this; above it one thread


def auto_threads(hidden_size: int, batch_size: int | None = None) -> int:
    """Threads for training when none are asked for: one per core (at most 2), with
    BLAS held to one thread in each (``BatchSplit``), or 1, with BLAS on every core.

    Up to H = 256 every batch is split. From 257 to 512 a batch is split only when each
    thread gets a multiple of 16 sequences (N = 32, 64, 96, 128, ... on 2 cores); above
    512 it never is. Without ``batch_size``: the most the model may use.

    Measured on 2 cores, native AVX-512 kernel (OpenBLAS SkylakeX) with numba, a 2-layer
    training step split over 2 threads against one thread with a 2-thread BLAS, T = 64
    (docs/performance.md): H = 128, N = 50: 9% faster; H = 256, N = 32, dropout 0.2: 6-9%;
    H = 384, N = 32, dropout 0.35: 8-11% faster (6% on the pinned Haswell kernel); H = 384,
    448, 512 without dropout: N = 32 +8% / +5% / tie, N = 64 or 96 +7%, N = 128 +5-10%, but
    N = 40 a tie and N = 48 or 50 3-19% slower. Probably OpenBLAS's float32 kernel runs
    a product with a multiple of 16 columns (the sequences) at full width and a ragged
    rest slower, which at these sizes outweighs the element-wise work the split overlaps
    (not measured apart).
    """
    cores = max(1, min(2, os.cpu_count() or 1))
    if hidden_size <= MAX_HIDDEN_TO_SPLIT:
        return cores
    if hidden_size > MAX_HIDDEN_ROWS_RULE:
        return 1
    if batch_size is None:
        return cores
    return cores if batch_size % (cores * ROWS_MULTIPLE) == 0 else 1


_blas = None


def blas_threads_settable() -> bool:
    """Whether the BLAS that NumPy uses lets us set its thread count (threadpoolctl)."""
    global _blas
    if _blas is None:
        try:
            from threadpoolctl import ThreadpoolController
            ctl = ThreadpoolController().select(user_api="blas")
            _blas = ctl if ctl.lib_controllers else False
        except Exception:                              # not installed, or no known BLAS
            _blas = False
    return _blas is not False


class BatchSplit:
    """Data parallelism inside one process: a batch cut into groups of sequences.

    Each group runs the model's ordinary single-thread forward and backward in its own
    thread, on its own workspaces, while BLAS is held to one thread: NumPy releases the
    GIL inside every matrix product and element-wise loop, so one group's products run
    while the other's element-wise passes do, on the other core. (One thread with a
    2-thread BLAS leaves a core idle through every element-wise pass: about 45% of a
    step at H = 128, 25% at H = 256.) Each group's loss gradient is scaled by its share
    of the batch, so the groups' gradients add up to the whole batch's: training is the
    same up to the order of floating-point sums.

    Dropout: each group draws its masks from its own generator, seeded at each step
    from the model's ``dropout_rng``, so a run is reproducible (and resumes bit for bit)
    at a given thread count.
    """

    def __init__(self, model: CharLSTM, parts: int):
        self.model, self.parts = model, parts
        # Replicas share the parameter arrays; each has its own workspaces and generator.
        self.replicas = [CharLSTM(model.cfg, seed=None, dtype=model.dtype, params=model.params)
                         for _ in range(parts)]
        self.pool = ThreadPoolExecutor(max_workers=parts - 1, thread_name_prefix="charlstm")

    def _run(self, fn, N, y=None):
        """fn(replica, rows, share) for every group of rows, the first in this thread and
        the others in the pool; -> [(result, share)], in group order. A group's share is
        its part of the rows, or, when targets ``y`` have padding (-1), its part of the
        predictions scored."""
        edges = np.linspace(0, N, self.parts + 1).round().astype(int)
        groups = [(slice(a, b), (b - a) / N) for a, b in zip(edges[:-1], edges[1:])]
        if y is not None and y.size and y.min() < 0:
            scored = (y >= 0).sum(axis=1)
            groups = [(rows, scored[rows].sum() / scored.sum()) for rows, _ in groups]
        for r in self.replicas:
            r.params = self.model.params               # the same arrays, even if replaced
        with _blas.limit(limits=1):
            futures = [self.pool.submit(fn, r, rows, share)
                       for r, (rows, share) in zip(self.replicas[1:], groups[1:])]
            first = fn(self.replicas[0], *groups[0])
            results = [first] + [f.result() for f in futures]
        return [(res, share) for res, (_, share) in zip(results, groups)]

    def forward_backward(self, x, y, state, train):
        if train and (self.model.cfg.dropout > 0 or self.model.cfg.input_dropout > 0):
            seeds = self.model.dropout_rng.integers(2**63, size=self.parts)
            for r, seed in zip(self.replicas, seeds):
                r.dropout_rng = np.random.default_rng(seed)

        def one(r, rows, share):
            part_state = (state[0][:, rows], state[1][:, rows])
            return r._forward_backward(x[rows], y[rows], part_state, train, weight=share)
        out = self._run(one, x.shape[0], y)
        loss = sum(res[0] * share for res, share in out)
        grads = out[0][0][1]                           # fresh arrays: add the others to them
        for (_, g, _, _), _ in out[1:]:
            for k, v in g.items():
                grads[k] += v
        join = lambda i, j: np.concatenate([res[i][j] for res, _ in out], axis=1)
        return loss, grads, (join(2, 0), join(2, 1)), (join(3, 0), join(3, 1))

    def loss(self, x, y, state):
        def one(r, rows, share):
            return r._loss(x[rows], y[rows], (state[0][:, rows], state[1][:, rows]))
        out = self._run(one, x.shape[0], y)
        join = lambda j: np.concatenate([res[1][j] for res, _ in out], axis=1)
        return sum(res[0] * share for res, share in out), (join(0), join(1))
