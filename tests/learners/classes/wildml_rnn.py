# RNN language model from the WildML RNN tutorial (part 2), rewritten by me with comments.
# x and y are lists of word indices; U: (hidden, vocab), V: (vocab, hidden), W: (hidden, hidden)
import numpy as np


def softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


class RNNNumpy:

    def __init__(self, word_dim, hidden_dim=100, bptt_truncate=4):
        self.word_dim = word_dim
        self.hidden_dim = hidden_dim
        self.bptt_truncate = bptt_truncate      # how many steps back BPTT goes
        self.U = np.random.uniform(-np.sqrt(1. / word_dim), np.sqrt(1. / word_dim), (hidden_dim, word_dim))
        self.V = np.random.uniform(-np.sqrt(1. / hidden_dim), np.sqrt(1. / hidden_dim), (word_dim, hidden_dim))
        self.W = np.random.uniform(-np.sqrt(1. / hidden_dim), np.sqrt(1. / hidden_dim), (hidden_dim, hidden_dim))

    def forward_propagation(self, x):
        T = len(x)
        # one extra row: s[-1] is the initial hidden state (zeros)
        s = np.zeros((T + 1, self.hidden_dim))
        o = np.zeros((T, self.word_dim))
        for t in np.arange(T):
            # U[:, x[t]] is U times the one-hot vector of word x[t]
            s[t] = np.tanh(self.U[:, x[t]] + self.W.dot(s[t - 1]))
            o[t] = softmax(self.V.dot(s[t]))
        return [o, s]

    def predict(self, x):
        o, s = self.forward_propagation(x)
        return np.argmax(o, axis=1)

    def calculate_total_loss(self, x, y):
        L = 0
        for sent, target in zip(x, y):
            o, s = self.forward_propagation(sent)
            L += -np.sum(np.log(o[np.arange(len(target)), target]))
        return L

    def calculate_loss(self, x, y):
        n_words = np.sum([len(t) for t in y])
        return self.calculate_total_loss(x, y) / n_words

    def bptt(self, x, y):
        T = len(y)
        o, s = self.forward_propagation(x)
        dLdU = np.zeros(self.U.shape)
        dLdV = np.zeros(self.V.shape)
        dLdW = np.zeros(self.W.shape)
        delta_o = o
        delta_o[np.arange(len(y)), y] -= 1.
        for t in np.arange(T)[::-1]:
            dLdV += np.outer(delta_o[t], s[t])
            delta_t = self.V.T.dot(delta_o[t]) * (1 - s[t] ** 2)
            # back through time, at most bptt_truncate steps
            for step in np.arange(max(0, t - self.bptt_truncate), t + 1)[::-1]:
                # print("Backprop step t=%d bptt step=%d " % (t, step))
                dLdW += np.outer(delta_t, s[step - 1])
                dLdU[:, x[step]] += delta_t
                delta_t = self.W.T.dot(delta_t) * (1 - s[step - 1] ** 2)
        return [dLdU, dLdV, dLdW]

    def sgd_step(self, x, y, learning_rate):
        dLdU, dLdV, dLdW = self.bptt(x, y)
        self.U -= learning_rate * dLdU
        self.V -= learning_rate * dLdV
        self.W -= learning_rate * dLdW


if __name__ == "__main__":
    np.random.seed(10)
    model = RNNNumpy(100, 10, bptt_truncate=1000)
    print(model.calculate_loss([[0, 1, 2, 3]], [[1, 2, 3, 4]]), np.log(100))
