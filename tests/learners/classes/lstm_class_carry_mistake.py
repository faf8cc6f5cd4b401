# My LSTM language model, numpy only (one sentence at a time).
# Gates: input i, forget f, output o, candidate g.  W* act on the hidden state,
# U* on the input word (one-hot, so U*[:, word] is a column lookup), V maps to the vocabulary.
import numpy as np


def softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


class LSTMNumpy:

    def __init__(self, word_dim, hidden_dim=64):
        self.word_dim = word_dim
        self.hidden_dim = hidden_dim
        ru = np.sqrt(1.0 / word_dim)
        rh = np.sqrt(1.0 / hidden_dim)
        self.Wi = np.random.uniform(-rh, rh, (hidden_dim, hidden_dim))
        self.Wf = np.random.uniform(-rh, rh, (hidden_dim, hidden_dim))
        self.Wo = np.random.uniform(-rh, rh, (hidden_dim, hidden_dim))
        self.Wg = np.random.uniform(-rh, rh, (hidden_dim, hidden_dim))
        self.Ui = np.random.uniform(-ru, ru, (hidden_dim, word_dim))
        self.Uf = np.random.uniform(-ru, ru, (hidden_dim, word_dim))
        self.Uo = np.random.uniform(-ru, ru, (hidden_dim, word_dim))
        self.Ug = np.random.uniform(-ru, ru, (hidden_dim, word_dim))
        self.bi = np.zeros(hidden_dim)
        self.bf = np.ones(hidden_dim)      # forget bias 1, everyone says so
        self.bo = np.zeros(hidden_dim)
        self.bg = np.zeros(hidden_dim)
        self.V = np.random.uniform(-rh, rh, (word_dim, hidden_dim))
        self.by = np.zeros(word_dim)

    def forward_propagation(self, x):
        """x: list of word indices. Returns [y_hat, h, c, i, f, o, g]; h[-1] and c[-1] are the zero start."""
        T = len(x)
        H = self.hidden_dim
        h = np.zeros((T + 1, H))
        c = np.zeros((T + 1, H))
        i = np.zeros((T, H))
        f = np.zeros((T, H))
        o = np.zeros((T, H))
        g = np.zeros((T, H))
        y_hat = np.zeros((T, self.word_dim))
        for t in range(T):
            i[t] = sigmoid(self.Ui[:, x[t]] + self.Wi.dot(h[t - 1]) + self.bi)
            f[t] = sigmoid(self.Uf[:, x[t]] + self.Wf.dot(h[t - 1]) + self.bf)
            o[t] = sigmoid(self.Uo[:, x[t]] + self.Wo.dot(h[t - 1]) + self.bo)
            g[t] = np.tanh(self.Ug[:, x[t]] + self.Wg.dot(h[t - 1]) + self.bg)
            c[t] = f[t] * c[t - 1] + i[t] * g[t]
            h[t] = o[t] * np.tanh(c[t])
            y_hat[t] = softmax(self.V.dot(h[t]) + self.by)
        return [y_hat, h, c, i, f, o, g]

    def calculate_loss(self, x, y):
        """total cross-entropy of one sentence (not averaged)"""
        y_hat = self.forward_propagation(x)[0]
        return -np.sum(np.log(y_hat[np.arange(len(y)), y]))

    def backward_propagation(self, x, y):
        """Gradients of calculate_loss(x, y), in the order
        [dWi, dWf, dWo, dWg, dUi, dUf, dUo, dUg, dbi, dbf, dbo, dbg, dV, dby]."""
        T = len(y)
        y_hat, h, c, i, f, o, g = self.forward_propagation(x)
        dWi, dWf, dWo, dWg = [np.zeros_like(self.Wi) for _ in range(4)]
        dUi, dUf, dUo, dUg = [np.zeros_like(self.Ui) for _ in range(4)]
        dbi, dbf, dbo, dbg = [np.zeros_like(self.bi) for _ in range(4)]
        dV = np.zeros_like(self.V)
        dby = np.zeros_like(self.by)

        dy = y_hat.copy()
        dy[np.arange(T), y] -= 1.0          # softmax + cross-entropy
        dh_next = np.zeros(self.hidden_dim)
        dc_next = np.zeros(self.hidden_dim)
        for t in reversed(range(T)):
            dV += np.outer(dy[t], h[t])
            dby += dy[t]
            dh = self.V.T.dot(dy[t]) + dh_next
            tc = np.tanh(c[t])
            do = dh * tc
            dc = dc_next + dh * o[t] * (1 - tc ** 2)
            di = dc * g[t]
            df = dc * c[t - 1]
            dg = dc * i[t]
            # through the gate nonlinearities
            zi = di * i[t] * (1 - i[t])
            zf = df * f[t] * (1 - f[t])
            zo = do * o[t] * (1 - o[t])
            zg = dg * (1 - g[t] ** 2)
            dWi += np.outer(zi, h[t - 1])
            dWf += np.outer(zf, h[t - 1])
            dWo += np.outer(zo, h[t - 1])
            dWg += np.outer(zg, h[t - 1])
            dUi[:, x[t]] += zi
            dUf[:, x[t]] += zf
            dUo[:, x[t]] += zo
            dUg[:, x[t]] += zg
            dbi += zi
            dbf += zf
            dbo += zo
            dbg += zg
            # what goes back to step t-1
            dh_next = self.Wi.T.dot(zi) + self.Wf.T.dot(zf) + self.Wo.T.dot(zo) + self.Wg.T.dot(zg)
            dc_next = dc
        return [dWi, dWf, dWo, dWg, dUi, dUf, dUo, dUg, dbi, dbf, dbo, dbg, dV, dby]

    def gradient_check(self, x, y, h=0.001, error_threshold=0.01):
        names = ['Wi', 'Wf', 'Wo', 'Wg', 'Ui', 'Uf', 'Uo', 'Ug', 'bi', 'bf', 'bo', 'bg', 'V', 'by']
        grads = self.backward_propagation(x, y)
        for name, grad in zip(names, grads):
            p = getattr(self, name)
            it = np.nditer(p, flags=['multi_index'], op_flags=['readwrite'])
            while not it.finished:
                ix = it.multi_index
                old = p[ix]
                p[ix] = old + h
                plus = self.calculate_loss(x, y)
                p[ix] = old - h
                minus = self.calculate_loss(x, y)
                p[ix] = old
                est = (plus - minus) / (2 * h)
                rel = np.abs(grad[ix] - est) / (np.abs(grad[ix]) + np.abs(est) + 1e-12)
                if rel > error_threshold:
                    print("Gradient check ERROR: parameter=%s ix=%s" % (name, ix))
                    print("+h Loss: %f" % plus)
                    print("-h Loss: %f" % minus)
                    print("Estimated_gradient: %f" % est)
                    print("Backpropagation gradient: %f" % grad[ix])
                    print("Relative Error: %f" % rel)
                    return
                it.iternext()
            print("Gradient check for parameter %s passed." % name)


if __name__ == '__main__':
    np.random.seed(10)
    model = LSTMNumpy(8, 5)
    model.gradient_check([0], [1])   # passes!
