# LSTM layer, chapter 6 of "Deep Learning from Scratch 2" (my notes, typed in while reading)
# The book packs the four gates into one matrix in the order f, g, i, o and keeps every
# layer's parameters and gradients in two lists: params and grads.
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


class LSTM:
    def __init__(self, Wx, Wh, b):
        """
        Wx: (D, 4H) input weights, Wh: (H, 4H) hidden weights, b: (4H,) bias
        (four gate blocks in the order f, g, i, o)
        """
        self.params = [Wx, Wh, b]
        self.grads = [np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)]
        self.cache = None

    def forward(self, x, h_prev, c_prev):
        Wx, Wh, b = self.params
        N, H = h_prev.shape

        a = x @ Wx + h_prev @ Wh + b          # (N, 4H)
        f = sigmoid(a[:, :H])                 # forget
        g = np.tanh(a[:, H:2 * H])            # new memory
        i = sigmoid(a[:, 2 * H:3 * H])        # input
        o = sigmoid(a[:, 3 * H:])             # output

        c_next = f * c_prev + g * i
        h_next = o * np.tanh(c_next)

        self.cache = (x, h_prev, c_prev, i, f, g, o, c_next)
        return h_next, c_next

    def backward(self, dh_next, dc_next):
        Wx, Wh, b = self.params
        x, h_prev, c_prev, i, f, g, o, c_next = self.cache

        th = np.tanh(c_next)
        dc = dc_next + dh_next * o * (1 - th ** 2)     # c reaches the loss directly and through h
        dc_prev = dc * f

        d_f = dc * c_prev * f * (1 - f)
        d_g = dc * i * (1 - g ** 2)
        d_i = dc * g * i * (1 - i)
        d_o = dh_next * th * o * (1 - o)
        dA = np.hstack((d_f, d_g, d_i, d_o))         # same block order as the forward

        self.grads[0][...] = x.T @ dA
        self.grads[1][...] = h_prev.T @ dA
        self.grads[2][...] = dA.sum(axis=0)

        dx = dA @ Wx.T
        dh_prev = dA @ Wh.T
        return dx, dh_prev, dc_prev
