"""Assignment 3 rnn_layers.py (only the RNN step done so far)."""
import numpy as np


def sigmoid(x):
    """Numerically stable sigmoid."""
    return np.where(x >= 0, 1 / (1 + np.exp(-x)), np.exp(x) / (1 + np.exp(x)))


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """Single timestep of a vanilla (tanh) RNN.

    x: (N, D), prev_h: (N, H), Wx: (D, H), Wh: (H, H), b: (H,)
    Returns next_h (N, H) and a cache for the backward pass.
    """
    next_h, cache = None, None
    ##########################################################################
    # TODO: Implement a single forward step for the vanilla RNN.             #
    ##########################################################################
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    ##########################################################################
    #                             END OF YOUR CODE                           #
    ##########################################################################
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    """Backward pass for a single timestep of a vanilla RNN.

    Returns dx, dprev_h, dWx, dWh, db.
    """
    dx, dprev_h, dWx, dWh, db = None, None, None, None, None
    ##########################################################################
    # TODO: Implement the backward pass for a single step of a vanilla RNN.  #
    ##########################################################################
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    ##########################################################################
    #                             END OF YOUR CODE                           #
    ##########################################################################
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """Run a vanilla RNN over a whole sequence. x: (N, T, D), h0: (N, H).

    Returns h (N, T, H) and a cache.
    """
    h, cache = None, None
    ##########################################################################
    # TODO: Implement the forward pass over the sequence, using the          #
    # rnn_step_forward function defined above.                               #
    ##########################################################################
    raise NotImplementedError
    ##########################################################################
    #                             END OF YOUR CODE                           #
    ##########################################################################
    return h, cache


def rnn_backward(dh, cache):
    """Backward pass over the whole sequence. dh: (N, T, H).

    Returns dx, dh0, dWx, dWh, db.
    """
    dx, dh0, dWx, dWh, db = None, None, None, None, None
    ##########################################################################
    # TODO: Implement the backward pass over the sequence.                   #
    ##########################################################################
    raise NotImplementedError
    ##########################################################################
    #                             END OF YOUR CODE                           #
    ##########################################################################
    return dx, dh0, dWx, dWh, db


def word_embedding_forward(x, W):
    """x: (N, T) integer ids, W: (V, D). Returns out (N, T, D) and a cache."""
    out, cache = None, None
    # TODO: word embedding forward
    raise NotImplementedError
    return out, cache


def word_embedding_backward(dout, cache):
    """Returns dW (V, D). Hint: np.add.at."""
    dW = None
    # TODO: word embedding backward
    raise NotImplementedError
    return dW


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """Single LSTM timestep. Wx: (D, 4H), Wh: (H, 4H), b: (4H,).

    Returns next_h, next_c, cache.
    """
    next_h, next_c, cache = None, None, None
    # TODO: LSTM step forward (gates in the order i, f, o, g)
    raise NotImplementedError
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Returns dx, dprev_h, dprev_c, dWx, dWh, db."""
    dx, dprev_h, dprev_c, dWx, dWh, db = None, None, None, None, None, None
    # TODO: LSTM step backward
    raise NotImplementedError
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """LSTM over a whole sequence; the initial cell state is zero. Returns h, cache."""
    h, cache = None, None
    # TODO: LSTM forward
    raise NotImplementedError
    return h, cache


def lstm_backward(dh, cache):
    """Returns dx, dh0, dWx, dWh, db."""
    dx, dh0, dWx, dWh, db = None, None, None, None, None
    # TODO: LSTM backward
    raise NotImplementedError
    return dx, dh0, dWx, dWh, db


def temporal_affine_forward(x, w, b):
    """x: (N, T, D), w: (D, M), b: (M,). Returns out (N, T, M), cache."""
    out, cache = None, None
    # TODO
    raise NotImplementedError
    return out, cache


def temporal_affine_backward(dout, cache):
    """Returns dx, dw, db."""
    dx, dw, db = None, None, None
    # TODO
    raise NotImplementedError
    return dx, dw, db


def temporal_softmax_loss(x, y, mask):
    """Softmax loss summed over masked timesteps, averaged over the minibatch.

    x: (N, T, V) scores, y: (N, T) targets, mask: (N, T) booleans.
    Returns loss and dx.
    """
    loss, dx = None, None
    # TODO
    raise NotImplementedError
    return loss, dx
