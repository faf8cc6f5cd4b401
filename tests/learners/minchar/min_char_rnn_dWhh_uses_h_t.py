# min-char-rnn, my version for the reading group (python 2)
# TODO: try an LSTM next
import numpy as np

data = open('input.txt', 'r').read()
chars = sorted(list(set(data)))
data_size, vocab_size = len(data), len(chars)
print 'data has', data_size, 'characters,', vocab_size, 'unique'
char_to_ix = dict((c, i) for i, c in enumerate(chars))
ix_to_char = dict((i, c) for i, c in enumerate(chars))

hidden_size = 128
seq_length = 32
learning_rate = 0.1

Wxh = np.random.randn(hidden_size, vocab_size) * 0.01
Whh = np.random.randn(hidden_size, hidden_size) * 0.01
Why = np.random.randn(vocab_size, hidden_size) * 0.01
bh = np.zeros((hidden_size, 1))
by = np.zeros((vocab_size, 1))


def lossFun(inputs, targets, hprev):
    xs, hs, ys, ps = {}, {}, {}, {}
    hs[-1] = np.copy(hprev)
    loss = 0
    for t in xrange(len(inputs)):
        xs[t] = np.zeros((vocab_size, 1))
        xs[t][inputs[t]] = 1
        hs[t] = np.tanh(Wxh.dot(xs[t]) + Whh.dot(hs[t - 1]) + bh)
        ys[t] = Why.dot(hs[t]) + by
        ps[t] = np.exp(ys[t] - np.max(ys[t]))
        ps[t] /= np.sum(ps[t])
        loss -= np.log(ps[t][targets[t], 0])

    dWxh = np.zeros_like(Wxh); dWhh = np.zeros_like(Whh); dWhy = np.zeros_like(Why)
    dbh = np.zeros_like(bh); dby = np.zeros_like(by)
    dhnext = np.zeros_like(hs[0])
    for t in reversed(xrange(len(inputs))):
        dy = ps[t].copy()
        dy[targets[t]] -= 1
        dWhy += dy.dot(hs[t].T)
        dby += dy
        dh = Why.T.dot(dy) + dhnext
        dhraw = (1 - hs[t] ** 2) * dh
        dbh += dhraw
        dWxh += dhraw.dot(xs[t].T)
        dWhh += dhraw.dot(hs[t].T)
        dhnext = Whh.T.dot(dhraw)
    #print 'dWhh norm', np.linalg.norm(dWhh)
    for d in [dWxh, dWhh, dWhy, dbh, dby]:
        np.clip(d, -5, 5, out=d)
    return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]


def sample(h, seed_ix, n):
    x = np.zeros((vocab_size, 1))
    x[seed_ix] = 1
    ixes = []
    for t in xrange(n):
        h = np.tanh(Wxh.dot(x) + Whh.dot(h) + bh)
        p = np.exp(Why.dot(h) + by)
        p = p / p.sum()
        ix = np.random.choice(vocab_size, p=p.ravel())
        x = np.zeros((vocab_size, 1))
        x[ix] = 1
        ixes.append(ix)
    return ixes


n, p = 0, 0
mems = [np.zeros_like(w) for w in (Wxh, Whh, Why, bh, by)]
smooth_loss = -np.log(1.0 / vocab_size) * seq_length
while True:
    if p + seq_length + 1 >= len(data) or n == 0:
        hprev = np.zeros((hidden_size, 1))
        p = 0
    inputs = [char_to_ix[c] for c in data[p:p + seq_length]]
    targets = [char_to_ix[c] for c in data[p + 1:p + seq_length + 1]]
    if n % 500 == 0:
        print ''.join(ix_to_char[i] for i in sample(hprev, inputs[0], 300))
        print '=' * 40
    loss, dWxh, dWhh, dWhy, dbh, dby, hprev = lossFun(inputs, targets, hprev)
    smooth_loss = 0.999 * smooth_loss + 0.001 * loss
    if n % 500 == 0:
        print 'iter', n, 'loss', smooth_loss
    for w, dw, m in zip((Wxh, Whh, Why, bh, by), (dWxh, dWhh, dWhy, dbh, dby), mems):
        m += dw * dw
        w -= learning_rate * dw / np.sqrt(m + 1e-8)
    p += seq_length
    n += 1
