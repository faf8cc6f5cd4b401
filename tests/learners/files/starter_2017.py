"""Layers for recurrent networks (starter code, 2017)."""
from __future__ import print_function, division
from builtins import range
import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """Run one step of a tanh RNN.

    Shapes are in the assignment notebook.
    """
    next_h, cache = None, None
    ########################################################################
    # TODO: implement this function. Store what the backward pass needs  #
    # in the cache.                                                       #
    ########################################################################
    pass
    ########################################################################
    #                         END OF YOUR CODE                             #
    ########################################################################
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    """Backward pass for one step of a tanh RNN.

    Shapes are in the assignment notebook.
    """
    dx, dprev_h, dWx, dWh, db = None, None, None, None, None
    ########################################################################
    # TODO: implement this function. Store what the backward pass needs  #
    # in the cache.                                                       #
    ########################################################################
    pass
    ########################################################################
    #                         END OF YOUR CODE                             #
    ########################################################################
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """Run a tanh RNN over a sequence of T steps.

    Shapes are in the assignment notebook.
    """
    h, cache = None, None
    ########################################################################
    # TODO: implement this function. Store what the backward pass needs  #
    # in the cache.                                                       #
    ########################################################################
    pass
    ########################################################################
    #                         END OF YOUR CODE                             #
    ########################################################################
    return h, cache


def rnn_backward(dh, cache):
    """Backward pass over a whole sequence.

    Shapes are in the assignment notebook.
    """
    dx, dh0, dWx, dWh, db = None, None, None, None, None
    ########################################################################
    # TODO: implement this function. Store what the backward pass needs  #
    # in the cache.                                                       #
    ########################################################################
    pass
    ########################################################################
    #                         END OF YOUR CODE                             #
    ########################################################################
    return dx, dh0, dWx, dWh, db


def word_embedding_forward(x, W):
    """Look up the vector of each word id.

    Shapes are in the assignment notebook.
    """
    out, cache = None, None
    ########################################################################
    # TODO: implement this function. Store what the backward pass needs  #
    # in the cache.                                                       #
    ########################################################################
    pass
    ########################################################################
    #                         END OF YOUR CODE                             #
    ########################################################################
    return out, cache


def word_embedding_backward(dout, cache):
    """Backward pass of the word embedding.

    Shapes are in the assignment notebook.
    """
    dW = None
    ########################################################################
    # TODO: implement this function. Store what the backward pass needs  #
    # in the cache.                                                       #
    ########################################################################
    pass
    ########################################################################
    #                         END OF YOUR CODE                             #
    ########################################################################
    return dW


def sigmoid(x):
    """A numerically stable sigmoid (given)."""
    pos = x >= 0
    z = np.exp(-np.abs(x))
    return np.where(pos, 1 / (1 + z), z / (1 + z))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """Run one step of an LSTM.

    Shapes are in the assignment notebook.
    """
    next_h, next_c, cache = None, None, None
    ########################################################################
    # TODO: implement this function. Store what the backward pass needs  #
    # in the cache.                                                       #
    ########################################################################
    pass
    ########################################################################
    #                         END OF YOUR CODE                             #
    ########################################################################
    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass for one LSTM step.

    Shapes are in the assignment notebook.
    """
    dx, dh, dc, dWx, dWh, db = None, None, None, None, None, None
    ########################################################################
    # TODO: implement this function. Store what the backward pass needs  #
    # in the cache.                                                       #
    ########################################################################
    pass
    ########################################################################
    #                         END OF YOUR CODE                             #
    ########################################################################
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """Run an LSTM over a sequence of T steps.

    Shapes are in the assignment notebook.
    """
    h, cache = None, None
    ########################################################################
    # TODO: implement this function. Store what the backward pass needs  #
    # in the cache.                                                       #
    ########################################################################
    pass
    ########################################################################
    #                         END OF YOUR CODE                             #
    ########################################################################
    return h, cache


def lstm_backward(dh, cache):
    """Backward pass of an LSTM over a sequence.

    Shapes are in the assignment notebook.
    """
    dx, dh0, dWx, dWh, db = None, None, None, None, None
    ########################################################################
    # TODO: implement this function. Store what the backward pass needs  #
    # in the cache.                                                       #
    ########################################################################
    pass
    ########################################################################
    #                         END OF YOUR CODE                             #
    ########################################################################
    return dx, dh0, dWx, dWh, db


def temporal_affine_forward(x, w, b):
    N, T, D = x.shape
    M = b.shape[0]
    out = x.reshape(N * T, D).dot(w).reshape(N, T, M) + b
    cache = x, w, b, out
    return out, cache


def temporal_affine_backward(dout, cache):
    x, w, b, out = cache
    N, T, D = x.shape
    M = b.shape[0]
    dx = dout.reshape(N * T, M).dot(w.T).reshape(N, T, D)
    dw = dout.reshape(N * T, M).T.dot(x.reshape(N * T, D)).T
    db = dout.sum(axis=(0, 1))
    return dx, dw, db


def temporal_softmax_loss(x, y, mask, verbose=False):
    N, T, V = x.shape
    x_flat = x.reshape(N * T, V)
    y_flat = y.reshape(N * T)
    mask_flat = mask.reshape(N * T)
    probs = np.exp(x_flat - np.max(x_flat, axis=1, keepdims=True))
    probs /= np.sum(probs, axis=1, keepdims=True)
    loss = -np.sum(mask_flat * np.log(probs[np.arange(N * T), y_flat])) / N
    dx_flat = probs.copy()
    dx_flat[np.arange(N * T), y_flat] -= 1
    dx_flat /= N
    dx_flat *= mask_flat[:, None]
    if verbose: print('dx_flat: ', dx_flat.shape)
    dx = dx_flat.reshape(N, T, V)
    return loss, dx
