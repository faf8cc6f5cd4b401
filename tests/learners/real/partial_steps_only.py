from __future__ import print_function, division
from builtins import range
import numpy as np


"""
This file defines layer types that are commonly used for recurrent neural
networks.
"""


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """
    One timestep of a vanilla RNN with a tanh activation.

    Inputs (minibatch of N, input dimension D, hidden dimension H):
    - x: input for this timestep, of shape (N, D).
    - prev_h: hidden state of the previous timestep, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, H)
    - Wh: hidden-to-hidden weights, of shape (H, H)
    - b: biases, of shape (H,)

    Returns a tuple of:
    - next_h: the next hidden state, of shape (N, H)
    - cache: whatever the backward pass will need
    """
    next_h, cache = None, None
    ##############################################################################
    # TODO: Implement one forward step of the vanilla RNN. Keep whatever the     #
    # backward pass needs in the cache variable.                                 #
    ##############################################################################
    # *****START OF YOUR CODE (DO NOT DELETE THIS LINE)*****

    z = x @ Wx + prev_h @ Wh + b
    next_h = np.tanh(z)
    cache = (x, prev_h, Wx, Wh, next_h)

    # *****END OF YOUR CODE (DO NOT DELETE THIS LINE)*****
    ##############################################################################
    #                               END OF YOUR CODE                             #
    ##############################################################################
    return next_h, cache


def rnn_step_backward(dnext_h, cache):
    """
    Backward pass of one timestep of a vanilla RNN.

    Inputs:
    - dnext_h: gradient of the loss with respect to the next hidden state
    - cache: the cache object from the forward pass

    Returns a tuple of:
    - dx: gradient of the input data, of shape (N, D)
    - dprev_h: gradient of the previous hidden state, of shape (N, H)
    - dWx: gradient of the input-to-hidden weights, of shape (D, H)
    - dWh: gradient of the hidden-to-hidden weights, of shape (H, H)
    - db: gradient of the biases, of shape (H,)
    """
    dx, dprev_h, dWx, dWh, db = None, None, None, None, None
    ##############################################################################
    # TODO: Implement the backward pass of one step of the vanilla RNN.          #
    #                                                                            #
    # HINT: you need the derivative of tanh; write it in terms of the output     #
    # value of tanh.                                                             #
    ##############################################################################
    # *****START OF YOUR CODE (DO NOT DELETE THIS LINE)*****

    x, prev_h, Wx, Wh, next_h = cache
    dz = dnext_h * (1 - next_h ** 2)  # tanh' from its output
    dx = dz @ Wx.T
    dprev_h = dz @ Wh.T
    dWx = x.T @ dz
    dWh = prev_h.T @ dz
    db = dz.sum(axis=0)

    # *****END OF YOUR CODE (DO NOT DELETE THIS LINE)*****
    ##############################################################################
    #                               END OF YOUR CODE                             #
    ##############################################################################
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """
    Run a vanilla RNN forward over a whole sequence of data. The input is a
    sequence of T vectors of dimension D for each of N sequences, and the RNN
    uses a hidden size of H. Return the hidden states of all timesteps.

    Inputs:
    - x: input data of the whole timeseries, of shape (N, T, D).
    - h0: initial hidden state, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, H)
    - Wh: hidden-to-hidden weights, of shape (H, H)
    - b: biases, of shape (H,)

    Returns a tuple of:
    - h: hidden states of the whole timeseries, of shape (N, T, H).
    - cache: values the backward pass will need
    """
    h, cache = None, None
    ##############################################################################
    # TODO: Implement the forward pass of a vanilla RNN over a sequence. Use    #
    # the rnn_step_forward function you wrote above.                            #
    ##############################################################################
    # *****START OF YOUR CODE (DO NOT DELETE THIS LINE)*****

    pass

    # *****END OF YOUR CODE (DO NOT DELETE THIS LINE)*****
    ##############################################################################
    #                               END OF YOUR CODE                             #
    ##############################################################################
    return h, cache


def rnn_backward(dh, cache):
    """
    Backward pass for a vanilla RNN over a whole sequence of data.

    Inputs:
    - dh: upstream gradients of all hidden states, of shape (N, T, H)

    Returns a tuple of:
    - dx: gradient of the inputs, of shape (N, T, D)
    - dh0: gradient of the initial hidden state, of shape (N, H)
    - dWx: gradient of the input-to-hidden weights, of shape (D, H)
    - dWh: gradient of the hidden-to-hidden weights, of shape (H, H)
    - db: gradient of the biases, of shape (H,)
    """
    dx, dh0, dWx, dWh, db = None, None, None, None, None
    ##############################################################################
    # TODO: Implement the backward pass of a vanilla RNN over a sequence. Use   #
    # the rnn_step_backward function you wrote above.                           #
    ##############################################################################
    # *****START OF YOUR CODE (DO NOT DELETE THIS LINE)*****

    pass

    # *****END OF YOUR CODE (DO NOT DELETE THIS LINE)*****
    ##############################################################################
    #                               END OF YOUR CODE                             #
    ##############################################################################
    return dx, dh0, dWx, dWh, db


def word_embedding_forward(x, W):
    """
    Forward pass of word embeddings. Minibatches of size N, each sequence has
    length T. A vocabulary of V words, each word mapped to a vector of
    dimension D.

    Inputs:
    - x: integer array of shape (N, T) giving word indices; every element idx
        of x must be in the range 0 <= idx < V.
    - W: weight matrix of shape (V, D) giving the word vectors of all words.

    Returns a tuple of:
    - out: array of shape (N, T, D) giving the word vectors of all input words.
    - cache: values the backward pass will need
    """
    out, cache = None, None
    ##############################################################################
    # TODO: Implement the forward pass of word embeddings.                       #
    #                                                                            #
    # HINT: one line of numpy array indexing does it.                            #
    ##############################################################################
    # *****START OF YOUR CODE (DO NOT DELETE THIS LINE)*****

    pass

    # *****END OF YOUR CODE (DO NOT DELETE THIS LINE)*****
    ##############################################################################
    #                               END OF YOUR CODE                             #
    ##############################################################################
    return out, cache


def word_embedding_backward(dout, cache):
    """
    Backward pass of word embeddings. Words are integers, so we do not
    backpropagate into them; only the gradient of the embedding matrix.

    HINT: look up the function np.add.at

    Inputs:
    - dout: upstream gradients, of shape (N, T, D)
    - cache: values from the forward pass

    Returns:
    - dW: gradient of the word embedding matrix, of shape (V, D).
    """
    dW = None
    ##############################################################################
    # TODO: Implement the backward pass of word embeddings.                      #
    ##############################################################################
    # *****START OF YOUR CODE (DO NOT DELETE THIS LINE)*****

    pass

    # *****END OF YOUR CODE (DO NOT DELETE THIS LINE)*****
    ##############################################################################
    #                               END OF YOUR CODE                             #
    ##############################################################################
    return dW


def sigmoid(x):
    """
    A numerically stable logistic sigmoid.
    """
    pos_mask = (x >= 0)
    neg_mask = (x < 0)
    z = np.zeros_like(x)
    z[pos_mask] = np.exp(-x[pos_mask])
    z[neg_mask] = np.exp(x[neg_mask])
    top = np.ones_like(x)
    top[neg_mask] = z[neg_mask]
    return top / (1 + z)


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """
    Forward pass of one timestep of an LSTM.

    The input has dimension D, the hidden state has dimension H, and we use a
    minibatch of size N.

    Inputs:
    - x: input data, of shape (N, D)
    - prev_h: previous hidden state, of shape (N, H)
    - prev_c: previous cell state, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, 4H)
    - Wh: hidden-to-hidden weights, of shape (H, 4H)
    - b: biases, of shape (4H,)

    Returns a tuple of:
    - next_h: next hidden state, of shape (N, H)
    - next_c: next cell state, of shape (N, H)
    - cache: values the backward pass will need.
    """
    next_h, next_c, cache = None, None, None
    #############################################################################
    # TODO: Implement the forward pass of one LSTM timestep.                    #
    # You may want to use the numerically stable sigmoid above.                 #
    #############################################################################
    # *****START OF YOUR CODE (DO NOT DELETE THIS LINE)*****

    H = prev_h.shape[1]
    A = x @ Wx + prev_h @ Wh + b
    i = sigmoid(A[:, :H])
    f = sigmoid(A[:, H:2 * H])
    o = sigmoid(A[:, 2 * H:3 * H])
    g = np.tanh(A[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)

    # *****END OF YOUR CODE (DO NOT DELETE THIS LINE)*****
    ##############################################################################
    #                               END OF YOUR CODE                             #
    ##############################################################################

    return next_h, next_c, cache


def lstm_step_backward(dnext_h, dnext_c, cache):
    """
    Backward pass of one timestep of an LSTM.

    Inputs:
    - dnext_h: gradients of the next hidden state, of shape (N, H)
    - dnext_c: gradients of the next cell state, of shape (N, H)
    - cache: values from the forward pass

    Returns a tuple of:
    - dx: gradient of the input data, of shape (N, D)
    - dprev_h: gradient of the previous hidden state, of shape (N, H)
    - dprev_c: gradient of the previous cell state, of shape (N, H)
    - dWx: gradient of the input-to-hidden weights, of shape (D, 4H)
    - dWh: gradient of the hidden-to-hidden weights, of shape (H, 4H)
    - db: gradient of the biases, of shape (4H,)
    """
    dx, dprev_h, dprev_c, dWx, dWh, db = None, None, None, None, None, None
    #############################################################################
    # TODO: Implement the backward pass of one LSTM timestep.                   #
    #                                                                           #
    # HINT: the sigmoid and tanh derivatives can both be written in terms of    #
    # the outputs of those functions.                                           #
    #############################################################################
    # *****START OF YOUR CODE (DO NOT DELETE THIS LINE)*****

    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tanh_c = np.tanh(next_c)
    dnext_c = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    di = dnext_c * g
    df = dnext_c * prev_c
    do = dnext_h * tanh_c
    dg = dnext_c * i
    dprev_c = dnext_c * f
    dA = np.concatenate([di * i * (1 - i),
                         df * f * (1 - f),
                         do * o * (1 - o),
                         dg * (1 - g ** 2)], axis=1)
    dx = dA @ Wx.T
    dprev_h = dA @ Wh.T
    dWx = x.T @ dA
    dWh = prev_h.T @ dA
    db = dA.sum(axis=0)

    # *****END OF YOUR CODE (DO NOT DELETE THIS LINE)*****
    ##############################################################################
    #                               END OF YOUR CODE                             #
    ##############################################################################

    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """
    Forward pass of an LSTM over a whole sequence of data. The input is a
    sequence of T vectors of dimension D for each of N sequences; the LSTM uses
    a hidden size of H. Return the hidden states of all timesteps.

    The initial cell state is passed in as zeros here, and the cell state is not
    returned; it is internal to the LSTM and not seen from outside.

    Inputs:
    - x: input data, of shape (N, T, D)
    - h0: initial hidden state, of shape (N, H)
    - Wx: input-to-hidden weights, of shape (D, 4H)
    - Wh: hidden-to-hidden weights, of shape (H, 4H)
    - b: biases, of shape (4H,)

    Returns a tuple of:
    - h: hidden states of all timesteps of all sequences, of shape (N, T, H)
    - cache: values the backward pass will need.
    """
    h, cache = None, None
    #############################################################################
    # TODO: Implement the forward pass of an LSTM over a whole timeseries.      #
    # Use the lstm_step_forward function you just wrote.                        #
    #############################################################################
    # *****START OF YOUR CODE (DO NOT DELETE THIS LINE)*****

    pass

    # *****END OF YOUR CODE (DO NOT DELETE THIS LINE)*****
    ##############################################################################
    #                               END OF YOUR CODE                             #
    ##############################################################################

    return h, cache


def lstm_backward(dh, cache):
    """
    Backward pass of an LSTM over a whole sequence of data.

    Inputs:
    - dh: upstream gradients of the hidden states, of shape (N, T, H)
    - cache: values from the forward pass

    Returns a tuple of:
    - dx: gradient of the input data, of shape (N, T, D)
    - dh0: gradient of the initial hidden state, of shape (N, H)
    - dWx: gradient of the input-to-hidden weight matrix, of shape (D, 4H)
    - dWh: gradient of the hidden-to-hidden weight matrix, of shape (H, 4H)
    - db: gradient of the biases, of shape (4H,)
    """
    dx, dh0, dWx, dWh, db = None, None, None, None, None
    #############################################################################
    # TODO: Implement the backward pass of an LSTM over a whole timeseries.     #
    # Use the lstm_step_backward function you just wrote.                       #
    #############################################################################
    # *****START OF YOUR CODE (DO NOT DELETE THIS LINE)*****

    pass

    # *****END OF YOUR CODE (DO NOT DELETE THIS LINE)*****
    ##############################################################################
    #                               END OF YOUR CODE                             #
    ##############################################################################

    return dx, dh0, dWx, dWh, db


def temporal_affine_forward(x, w, b):
    """
    Forward pass of a temporal affine layer. The input is a set of D-dimensional
    vectors arranged in a minibatch of N timeseries, each of length T. We use
    an affine function to map each of those vectors to a new vector of
    dimension M.

    Inputs:
    - x: input data, of shape (N, T, D)
    - w: weights, of shape (D, M)
    - b: biases, of shape (M,)

    Returns a tuple of:
    - out: output data, of shape (N, T, M)
    - cache: values the backward pass will need
    """
    N, T, D = x.shape
    M = b.shape[0]
    out = x.reshape(N * T, D).dot(w).reshape(N, T, M) + b
    cache = x, w, b, out
    return out, cache


def temporal_affine_backward(dout, cache):
    """
    Backward pass of the temporal affine layer.

    Input:
    - dout: upstream gradients, of shape (N, T, M)
    - cache: values from the forward pass

    Returns a tuple of:
    - dx: gradient of the input, of shape (N, T, D)
    - dw: gradient of the weights, of shape (D, M)
    - db: gradient of the biases, of shape (M,)
    """
    x, w, b, out = cache
    N, T, D = x.shape
    M = b.shape[0]

    dx = dout.reshape(N * T, M).dot(w.T).reshape(N, T, D)
    dw = dout.reshape(N * T, M).T.dot(x.reshape(N * T, D)).T
    db = dout.sum(axis=(0, 1))

    return dx, dw, db


def temporal_softmax_loss(x, y, mask, verbose=False):
    """
    A temporal version of the softmax loss, used by the RNN. We predict over a
    vocabulary of size V at each timestep of a timeseries of length T, over a
    minibatch of size N. The input x gives scores over the vocabulary at every
    timestep, and y gives the index of the ground-truth element at every
    timestep. A cross-entropy loss is taken at each timestep; the losses are
    summed over all timesteps and averaged over the minibatch.

    Sequences in a minibatch may have different lengths, so they are padded
    with NULL tokens, and the scores at those positions should not count in
    the loss or the gradient: the mask says which positions count.

    Inputs:
    - x: input scores, of shape (N, T, V)
    - y: ground-truth indices, of shape (N, T), each element in the range
              0 <= y[i, t] < V
    - mask: boolean array of shape (N, T), where mask[i, t] tells whether the
        scores at x[i, t] should count in the loss.

    Returns a tuple of:
    - loss: scalar giving the loss
    - dx: gradient of the loss with respect to the scores x.
    """

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

    if verbose:
        print('dx_flat: ', dx_flat.shape)

    dx = dx_flat.reshape(N, T, V)

    return loss, dx
