# Building your Recurrent Neural Network - Step by Step
# (exported from my notebook, week 1 of Sequence Models)

import numpy as np
from rnn_utils import *
from public_tests import *


# GRADED FUNCTION: rnn_cell_forward

def rnn_cell_forward(xt, a_prev, parameters):
    """
    One step of the RNN cell.

    xt -- input at timestep "t", shape (n_x, m)
    a_prev -- hidden state at timestep "t-1", shape (n_a, m)
    parameters -- dict with Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a), ba (n_a, 1), by (n_y, 1)

    Returns a_next (n_a, m), yt_pred (n_y, m), cache = (a_next, a_prev, xt, parameters)
    """
    # Retrieve parameters from "parameters"
    Wax = parameters["Wax"]
    Waa = parameters["Waa"]
    Wya = parameters["Wya"]
    ba = parameters["ba"]
    by = parameters["by"]

    ### START CODE HERE ### (≈2 lines)
    a_next = np.tanh(np.dot(Waa, a_prev) + np.dot(Wax, xt) + ba)
    yt_pred = softmax(np.dot(Wya, a_next) + by)
    ### END CODE HERE ###

    cache = (a_next, a_prev, xt, parameters)
    return a_next, yt_pred, cache


# GRADED FUNCTION: rnn_forward

def rnn_forward(x, a0, parameters):
    """
    Forward propagation of the RNN over the T_x timesteps.

    x -- (n_x, m, T_x), a0 -- (n_a, m)
    Returns a (n_a, m, T_x), y_pred (n_y, m, T_x), caches = (list of caches, x)
    """
    caches = []
    n_x, m, T_x = x.shape
    n_y, n_a = parameters["Wya"].shape

    ### START CODE HERE ###
    a = np.zeros((n_a, m, T_x))
    y_pred = np.zeros((n_y, m, T_x))
    a_next = a0
    for t in range(T_x):
        xt = x[:, :, t]
        a_next, yt_pred, cache = rnn_cell_forward(xt, a_next, parameters)
        a[:, :, t] = a_next
        y_pred[:, :, t] = yt_pred
        caches.append(cache)
    ### END CODE HERE ###

    caches = (caches, x)
    return a, y_pred, caches


# GRADED FUNCTION: lstm_cell_forward

def lstm_cell_forward(xt, a_prev, c_prev, parameters):
    """
    One step of the LSTM cell.

    xt (n_x, m), a_prev (n_a, m), c_prev (n_a, m)
    parameters: Wf, Wi, Wc, Wo (n_a, n_a + n_x), bf, bi, bc, bo (n_a, 1), Wy (n_y, n_a), by (n_y, 1)

    Returns a_next, c_next (n_a, m), yt_pred (n_y, m),
    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)
    """
    Wf = parameters["Wf"]  # forget gate weight
    bf = parameters["bf"]
    Wi = parameters["Wi"]  # update gate weight (notice the variable name)
    bi = parameters["bi"]
    Wc = parameters["Wc"]  # candidate value weight
    bc = parameters["bc"]
    Wo = parameters["Wo"]  # output gate weight
    bo = parameters["bo"]
    Wy = parameters["Wy"]  # prediction weight
    by = parameters["by"]

    n_x, m = xt.shape
    n_y, n_a = Wy.shape

    ### START CODE HERE ###
    concat = np.concatenate((a_prev, xt), axis=0)

    ft = sigmoid(np.dot(Wf, concat) + bf)
    it = sigmoid(np.dot(Wi, concat) + bi)
    cct = np.tanh(np.dot(Wc, concat) + bc)
    c_next = ft * c_prev + it * cct
    ot = sigmoid(np.dot(Wo, concat) + bo)
    a_next = ot * np.tanh(c_next)

    yt_pred = softmax(np.dot(Wy, a_next) + by)
    ### END CODE HERE ###

    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)
    return a_next, c_next, yt_pred, cache


# GRADED FUNCTION: lstm_forward

def lstm_forward(x, a0, parameters):
    """
    Forward propagation of the LSTM over the T_x timesteps (the cell starts at zero).

    x (n_x, m, T_x), a0 (n_a, m)
    Returns a (n_a, m, T_x), y (n_y, m, T_x), c (n_a, m, T_x), caches = (list of caches, x)
    """
    caches = []

    Wy = parameters['Wy']
    ### START CODE HERE ###
    n_x, m, T_x = x.shape
    n_y, n_a = Wy.shape

    a = np.zeros((n_a, m, T_x))
    c = np.zeros((n_a, m, T_x))
    y = np.zeros((n_y, m, T_x))

    a_next = a0
    c_next = np.zeros((n_a, m))

    for t in range(T_x):
        xt = x[:, :, t]
        a_next, c_next, yt, cache = lstm_cell_forward(xt, a_next, c_next, parameters)
        a[:, :, t] = a_next
        c[:, :, t] = c_next
        y[:, :, t] = yt
        caches.append(cache)
    ### END CODE HERE ###

    caches = (caches, x)
    return a, y, c, caches


def rnn_cell_backward(da_next, cache):
    """
    Backward pass of one RNN cell.

    da_next -- gradient of the loss w.r.t. a_next, (n_a, m)
    cache -- from rnn_cell_forward

    Returns gradients: dxt (n_x, m), da_prev (n_a, m), dWax (n_a, n_x), dWaa (n_a, n_a), dba (n_a, 1)
    """
    (a_next, a_prev, xt, parameters) = cache

    Wax = parameters["Wax"]
    Waa = parameters["Waa"]
    Wya = parameters["Wya"]
    ba = parameters["ba"]
    by = parameters["by"]

    ### START CODE HERE ###
    dtanh = (1 - a_next ** 2) * da_next

    dxt = np.dot(Wax.T, dtanh)
    dWax = np.dot(dtanh, xt.T)

    da_prev = np.dot(Waa.T, dtanh)
    dWaa = np.dot(dtanh, a_prev.T)

    dba = np.sum(dtanh, axis=1, keepdims=True)
    ### END CODE HERE ###

    gradients = {"dxt": dxt, "da_prev": da_prev, "dWax": dWax, "dWaa": dWaa, "dba": dba}
    return gradients


def rnn_backward(da, caches):
    """
    Backward pass of the RNN over the whole sequence.

    da -- upstream gradients of all hidden states, (n_a, m, T_x)
    caches -- from rnn_forward

    Returns gradients: dx (n_x, m, T_x), da0 (n_a, m), dWax, dWaa, dba
    """
    ### START CODE HERE ###
    (caches, x) = caches
    (a1, a0, x1, parameters) = caches[0]

    n_a, m, T_x = da.shape
    n_x, m = x1.shape

    dx = np.zeros((n_x, m, T_x))
    dWax = np.zeros((n_a, n_x))
    dWaa = np.zeros((n_a, n_a))
    dba = np.zeros((n_a, 1))
    da0 = np.zeros((n_a, m))
    da_prevt = np.zeros((n_a, m))

    for t in reversed(range(T_x)):
        gradients = rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])
        dxt, da_prevt, dWaxt, dWaat, dbat = gradients["dxt"], gradients["da_prev"], gradients["dWax"], gradients["dWaa"], gradients["dba"]
        dx[:, :, t] = dxt
        dWax += dWaxt
        dWaa += dWaat
        dba += dbat

    da0 = da_prevt
    ### END CODE HERE ###

    gradients = {"dx": dx, "da0": da0, "dWax": dWax, "dWaa": dWaa, "dba": dba}
    return gradients


def lstm_cell_backward(da_next, dc_next, cache):
    """
    Backward pass of one LSTM cell.

    da_next, dc_next -- gradients of the next hidden and cell state, (n_a, m)
    cache -- from lstm_cell_forward

    Returns gradients: dxt (n_x, m), da_prev, dc_prev (n_a, m),
    dWf, dWi, dWc, dWo (n_a, n_a + n_x), dbf, dbi, dbc, dbo (n_a, 1)
    """
    (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters) = cache

    ### START CODE HERE ###
    n_x, m = xt.shape
    n_a, m = a_next.shape

    # the cell state reaches the loss through dc_next and through a_next = ot * tanh(c_next)
    dc = dc_next + da_next * ot * (1 - np.tanh(c_next) ** 2)

    # sigmoid'(z) = sigmoid(z) * (1 - sigmoid(z))
    dot = da_next * np.tanh(c_next) * sigmoid(ot) * (1 - sigmoid(ot))
    dcct = dc * it * (1 - cct ** 2)
    dit = dc * cct * sigmoid(it) * (1 - sigmoid(it))
    dft = dc * c_prev * sigmoid(ft) * (1 - sigmoid(ft))

    concat = np.concatenate((a_prev, xt), axis=0)
    dWf = np.dot(dft, concat.T)
    dWi = np.dot(dit, concat.T)
    dWc = np.dot(dcct, concat.T)
    dWo = np.dot(dot, concat.T)
    dbf = np.sum(dft, axis=1, keepdims=True)
    dbi = np.sum(dit, axis=1, keepdims=True)
    dbc = np.sum(dcct, axis=1, keepdims=True)
    dbo = np.sum(dot, axis=1, keepdims=True)

    Wf, Wi, Wc, Wo = parameters["Wf"], parameters["Wi"], parameters["Wc"], parameters["Wo"]
    # concat = [a_prev; xt]: the first n_a columns of each W act on a_prev, the rest on xt
    da_prev = (np.dot(Wf[:, :n_a].T, dft) + np.dot(Wi[:, :n_a].T, dit)
               + np.dot(Wc[:, :n_a].T, dcct) + np.dot(Wo[:, :n_a].T, dot))
    dc_prev = dc * ft
    dxt = (np.dot(Wf[:, n_a:].T, dft) + np.dot(Wi[:, n_a:].T, dit)
           + np.dot(Wc[:, n_a:].T, dcct) + np.dot(Wo[:, n_a:].T, dot))
    ### END CODE HERE ###

    gradients = {"dxt": dxt, "da_prev": da_prev, "dc_prev": dc_prev, "dWf": dWf, "dbf": dbf, "dWi": dWi, "dbi": dbi,
                 "dWc": dWc, "dbc": dbc, "dWo": dWo, "dbo": dbo}
    return gradients


def lstm_backward(da, caches):
    """
    Backward pass of the LSTM over the whole sequence.

    da -- gradients w.r.t. the hidden states, (n_a, m, T_x)
    caches -- from lstm_forward

    Returns gradients: dx (n_x, m, T_x), da0 (n_a, m), dWf, dWi, dWc, dWo, dbf, dbi, dbc, dbo
    """
    (caches, x) = caches
    (a1, c1, a0, c0, f1, i1, cc1, o1, x1, parameters) = caches[0]

    ### START CODE HERE ###
    n_a, m, T_x = da.shape
    n_x, m = x1.shape

    dx = np.zeros((n_x, m, T_x))
    da0 = np.zeros((n_a, m))
    da_prevt = np.zeros((n_a, m))
    dc_prevt = np.zeros((n_a, m))
    dWf = np.zeros((n_a, n_a + n_x))
    dWi = np.zeros((n_a, n_a + n_x))
    dWc = np.zeros((n_a, n_a + n_x))
    dWo = np.zeros((n_a, n_a + n_x))
    dbf = np.zeros((n_a, 1))
    dbi = np.zeros((n_a, 1))
    dbc = np.zeros((n_a, 1))
    dbo = np.zeros((n_a, 1))

    for t in reversed(range(T_x)):
        gradients = lstm_cell_backward(da[:, :, t] + da_prevt, dc_prevt, caches[t])
        da_prevt = gradients["da_prev"]
        dc_prevt = gradients["dc_prev"]
        dx[:, :, t] = gradients["dxt"]
        dWf += gradients["dWf"]
        dWi += gradients["dWi"]
        dWc += gradients["dWc"]
        dWo += gradients["dWo"]
        dbf += gradients["dbf"]
        dbi += gradients["dbi"]
        dbc += gradients["dbc"]
        dbo += gradients["dbo"]

    da0 = da_prevt
    ### END CODE HERE ###

    gradients = {"dx": dx, "da0": da0, "dWf": dWf, "dbf": dbf, "dWi": dWi, "dbi": dbi,
                 "dWc": dWc, "dbc": dbc, "dWo": dWo, "dbo": dbo}
    return gradients
