"""Gradient clipping, learning-rate schedules and optimizers over the named parameters.

Each optimizer updates the parameter arrays in place and keeps its state as a dict of
named arrays (``state_dict``), which the checkpoint stores beside the parameters.
"""

from __future__ import annotations

import math

import numpy as np

from . import fused
from .errors import ConfigError


# --------------------------------------------------------------------------- clipping

def global_norm(grads: dict) -> float:
    """sqrt(sum of squares of every gradient element), one dot product per array."""
    total = 0.0
    for g in grads.values():
        flat = g.reshape(-1)
        total += float(np.dot(flat, flat))
    return math.sqrt(total)


def clip_grads(grads: dict, max_value: float, mode: str = "norm") -> float:
    """Clip in place and return the gradient norm measured before clipping.

    mode "norm": scale all gradients together so their global norm is at most max_value.
    mode "value": clip each element to [-max_value, max_value].
    max_value 0 disables clipping.
    """
    norm = global_norm(grads)
    if max_value > 0:
        if mode == "norm":
            if norm > max_value:
                scale = max_value / (norm + 1e-6)
                for g in grads.values():
                    g *= scale
        elif mode == "value":
            for g in grads.values():
                np.clip(g, -max_value, max_value, out=g)
        else:
            raise ConfigError(f"--clip-mode must be norm or value, got {mode!r}")
    return norm


# --------------------------------------------------------------------------- weight decay

DECAYED = ("W", "Wx", "Wh")                            # the names weight decay applies to


def decay_weights(params: dict, lr: float, weight_decay: float):
    """Decoupled weight decay (Loshchilov and Hutter, 2019): W -= lr * weight_decay * W.

    Applied before the optimizer's step, to the weights the step starts from, as in the
    paper's AdamW and torch.optim.AdamW (tests/test_torch_parity.py follows it step by
    step); to the weight matrices only (names ending in W, Wx or Wh): not to biases, whose
    size sets no capacity, nor to the embedding, whose rows of rare characters would decay
    between their rare gradients. 0 does nothing.
    """
    if weight_decay == 0:
        return
    keep = 1.0 - lr * weight_decay
    for name, p in params.items():
        if name.endswith(DECAYED):
            p *= keep


def take_step(opt, params: dict, grads: dict, lr: float, weight_decay: float):
    """One training update: the decoupled weight decay, then the optimizer's step (the
    order of AdamW; the trainer and the PyTorch parity test both call this).

    With the compiled kernels on (``fused``), Adam's update and the decay run as one
    pass over each parameter (``_numba_kernels.adamw_update``) instead of about a dozen
    NumPy passes, with the same result to the bit; the NumPy passes are the reference."""
    if isinstance(opt, Adam) and opt.step_fused(params, grads, lr, weight_decay):
        return
    decay_weights(params, lr, weight_decay)
    opt.step(params, grads, lr)


# --------------------------------------------------------------------------- schedules

SCHEDULES = ("constant", "step", "linear", "cosine")


def learning_rate(base_lr, step, *, schedule="constant", epoch=0, decay=0.5, decay_every=1,
                  warmup=0, total_steps=None, min_lr=0.0, progress=None):
    """The learning rate for a 0-based ``step`` (in epoch ``epoch``, 0-based).

    constant: base_lr.   step: base_lr * decay ** (epoch // decay_every)  (char-rnn).
    linear, cosine: from base_lr down to min_lr as ``progress`` goes from 0 to 1, along a
    line or half a cosine. ``progress`` is the share of the run's budget used; by default
    the share of total_steps after the warm-up, (step - warmup) / (total_steps - warmup).
    A time-limited run passes elapsed / budget instead, so the rate reaches min_lr at
    the deadline (budgeted training: Li, Yumer and Ramanan, ICLR 2020).
    A linear warm-up over the first ``warmup`` steps applies to every schedule.
    """
    if schedule == "constant":
        lr = base_lr
    elif schedule == "step":
        lr = base_lr * decay ** (epoch // max(decay_every, 1))
    elif schedule in ("linear", "cosine"):
        if progress is None:
            span = max(total_steps - warmup, 1)
            progress = max(step - warmup, 0) / span
        progress = min(max(progress, 0.0), 1.0)
        left = 1 - progress if schedule == "linear" else 0.5 * (1 + math.cos(math.pi * progress))
        lr = min_lr + (base_lr - min_lr) * left
    else:
        raise ConfigError(f"--lr-schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if warmup > 0 and step < warmup:
        lr *= (step + 1) / warmup
    return lr


# --------------------------------------------------------------------------- optimizers

class Optimizer:
    """Base class: ``step(params, grads, lr)`` updates params in place."""

    slots: tuple = ()                                  # names of per-parameter state arrays

    def __init__(self, params: dict):
        self.t = 0
        self.state = {s: {k: np.zeros_like(v) for k, v in params.items()} for s in self.slots}

    def step(self, params, grads, lr):
        self.t += 1
        for k, p in params.items():
            self.update(p, grads[k], lr, *(self.state[s][k] for s in self.slots))

    def update(self, p, g, lr, *slots):
        raise NotImplementedError

    def state_dict(self) -> dict:
        """{'t': array, 'slot/param': array} - flat, for the .npz checkpoint."""
        out = {"t": np.array(self.t, dtype=np.int64)}
        for s in self.slots:
            for k, v in self.state[s].items():
                out[f"{s}/{k}"] = v
        return out

    def load_state_dict(self, d: dict):
        self.t = int(d["t"])
        for s in self.slots:
            for k, v in self.state[s].items():
                src = d[f"{s}/{k}"]
                if src.shape != v.shape:
                    raise ValueError(f"optimizer state {s}/{k} has shape {src.shape}, "
                                     f"expected {v.shape}")
                v[...] = src


class SGD(Optimizer):
    """SGD with (heavy-ball) momentum: v = mu v - lr g; p += v."""

    slots = ("velocity",)

    def __init__(self, params, momentum=0.9):
        super().__init__(params)
        self.momentum = momentum

    def update(self, p, g, lr, v):
        v *= self.momentum
        v -= lr * g
        p += v


class Adagrad(Optimizer):
    """Adagrad, as in min-char-rnn: mem += g^2; p -= lr g / sqrt(mem + eps)."""

    slots = ("mem",)

    def __init__(self, params, eps=1e-8):
        super().__init__(params)
        self.eps = eps

    def update(self, p, g, lr, mem):
        mem += g * g
        p -= lr * g / np.sqrt(mem + self.eps)


class RMSprop(Optimizer):
    """RMSprop: s = a s + (1 - a) g^2; p -= lr g / (sqrt(s) + eps)."""

    slots = ("sq",)

    def __init__(self, params, alpha=0.99, eps=1e-8):
        super().__init__(params)
        self.alpha, self.eps = alpha, eps

    def update(self, p, g, lr, sq):
        sq *= self.alpha
        sq += (1 - self.alpha) * g * g
        p -= lr * g / (np.sqrt(sq) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba): bias-corrected first and second moments."""

    slots = ("m", "v")

    def __init__(self, params, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(params)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self._scratch = {}

    def _corrected(self, lr):
        """The next step's rate and eps with both bias corrections folded in (the same
        update as correcting m and v, with fewer passes)."""
        t = self.t + 1
        c1, c2 = 1 - self.beta1 ** t, 1 - self.beta2 ** t
        return lr * math.sqrt(c2) / c1, self.eps * math.sqrt(c2)

    def step(self, params, grads, lr):
        self._lr_t, self._eps_t = self._corrected(lr)
        super().step(params, grads, lr)

    def step_fused(self, params, grads, lr, weight_decay=0.0) -> bool:
        """``decay_weights`` then ``step`` with the compiled kernel, one pass a parameter;
        False (nothing done) when the kernels are off or an array does not suit them."""
        arrays = [(p, grads[k], self.state["m"][k], self.state["v"][k]) for k, p in params.items()]
        dt = next(iter(params.values())).dtype
        kernels = fused.lstm_kernels(dt)
        if kernels is None or not all(a.dtype == dt and a.flags.c_contiguous
                                      for arr in arrays for a in arr):
            return False
        f = dt.type                                    # the constants, rounded as NumPy rounds them
        lr_t, eps_t = (f(c) for c in self._corrected(lr))
        b1, b2, one_b1, one_b2 = f(self.beta1), f(self.beta2), f(1 - self.beta1), f(1 - self.beta2)
        decayed = f(1.0 - lr * weight_decay)
        for name, (p, g, m, v) in zip(params, arrays):
            keep = decayed if weight_decay and name.endswith(DECAYED) else f(1.0)
            kernels.adamw_update(p.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1),
                                 keep, b1, one_b1, b2, one_b2, eps_t, lr_t)
        self.t += 1
        return True

    def update(self, p, g, lr, m, v):
        # In place with one scratch array per parameter: no allocation per step.
        s = self._scratch.get(id(p))
        if s is None or s.shape != p.shape:
            s = self._scratch[id(p)] = np.empty_like(p)
        m *= self.beta1
        np.multiply(g, 1 - self.beta1, out=s)
        m += s                                         # m = b1 m + (1 - b1) g
        v *= self.beta2
        np.multiply(g, g, out=s)
        s *= 1 - self.beta2
        v += s                                         # v = b2 v + (1 - b2) g^2
        np.sqrt(v, out=s)
        s += self._eps_t
        np.divide(m, s, out=s)
        s *= self._lr_t
        p -= s                                         # p -= lr m_hat / (sqrt(v_hat) + eps)


OPTIMIZERS = {"adam": Adam, "adagrad": Adagrad, "rmsprop": RMSprop, "sgd": SGD}


def make_optimizer(name: str, params: dict, momentum: float = 0.9) -> Optimizer:
    if name not in OPTIMIZERS:
        raise ConfigError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")
    return SGD(params, momentum) if name == "sgd" else OPTIMIZERS[name](params)


# --------------------------------------------------------------------------- weight averaging

class WeightAverage:
    """An exponential moving average of the weights (Polyak averaging, as in
    TensorFlow's ExponentialMovingAverage): after a step, avg = d avg + (1 - d) params.

    Late in a run the weights wander around a minimum, and on a corpus read many times
    they drift past the point of lowest validation loss; their average over the last
    1 / (1 - decay) steps sits nearer it (docs/defaults.md, "Averaged weights"). Updated
    every EVERY steps with decay ** EVERY (the same horizon at a quarter of the passes
    over the weights); until late in a run, the decay is capped at (1 + step) / (10 +
    step), so the average spans about the last 45% of the steps so far and the first
    weights do not linger (with 0.999, the cap holds until step 2,240). The average is state like the
    optimizer's: it goes into every checkpoint (``state_dict``), so a resumed run goes on
    exactly.
    """

    EVERY = 4

    def __init__(self, params: dict, decay: float):
        self.decay, self.t = decay, 0
        self.params = {k: v.copy() for k, v in params.items()}
        self._scratch = {k: np.empty_like(v) for k, v in params.items()}

    def update(self, params: dict, step: int):
        """After training step ``step`` (1-based): fold the weights in, every EVERY steps."""
        if step % self.EVERY:
            return
        d = min(self.decay ** self.EVERY, (1 + step) / (10 + step))
        self.t += 1
        for k, p in params.items():
            avg, s = self.params[k], self._scratch[k]
            np.subtract(p, avg, out=s)
            s *= 1 - d
            avg += s                                   # avg = d avg + (1 - d) p

    def state_dict(self) -> dict:
        """{'ema/t': array, 'ema/param': array}, stored beside the optimizer's state."""
        return {"ema/t": np.array(self.t, dtype=np.int64)} | {
            f"ema/{k}": v for k, v in self.params.items()}

    def load_state_dict(self, d: dict) -> bool:
        """Take the average from a checkpoint's optimizer state; False if it has none."""
        if "ema/t" not in d:
            return False
        for k, v in self.params.items():
            src = d[f"ema/{k}"]
            if src.shape != v.shape:
                raise ValueError(f"weight average {k} has shape {src.shape}, expected {v.shape}")
            v[...] = src
        self.t = int(d["ema/t"])
        return True
