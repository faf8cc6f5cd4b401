"""
Character-level vanilla RNN in plain numpy, written while reading Karpathy's
min-char-rnn post. Python 2.7.  Put some text in input.txt and run it.
"""
import numpy as np

# ---- data
data = open('input.txt', 'r').read()   # any plain text file
chars = list(set(data))
data_size, vocab_size = len(data), len(chars)
print 'data has %d characters, %d unique.' % (data_size, vocab_size)
char_to_ix = {ch: i for i, ch in enumerate(chars)}
ix_to_char = {i: ch for i, ch in enumerate(chars)}

# ---- hyperparameters
hidden_size = 100    # neurons in the hidden layer
seq_length = 25      # steps to unroll
learning_rate = 1e-1

# ---- model parameters (column vectors everywhere)
Wxh = np.random.randn(hidden_size, vocab_size) * 0.01   # input -> hidden
Whh = np.random.randn(hidden_size, hidden_size) * 0.01  # hidden -> hidden
Why = np.random.randn(vocab_size, hidden_size) * 0.01   # hidden -> output
bh = np.zeros((hidden_size, 1))
by = np.zeros((vocab_size, 1))


def lossFun(inputs, targets, hprev):
  """
  inputs, targets: lists of character indices (same length)
  hprev: (hidden_size, 1) hidden state before the first input
  returns loss, dWxh, dWhh, dWhy, dbh, dby, last hidden state
  """
  xs, hs, ys, ps = {}, {}, {}, {}
  hs[-1] = np.copy(hprev)
  loss = 0
  # forward pass
  for t in xrange(len(inputs)):
    xs[t] = np.zeros((vocab_size, 1))          # one-hot
    xs[t][inputs[t]] = 1
    hs[t] = np.tanh(np.dot(Wxh, xs[t]) + np.dot(Whh, hs[t - 1]) + bh)
    ys[t] = np.dot(Why, hs[t]) + by            # unnormalised log probabilities
    ps[t] = np.exp(ys[t]) / np.sum(np.exp(ys[t]))
    loss += -np.log(ps[t][targets[t], 0])      # cross-entropy
  # backward pass
  dWxh, dWhh, dWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
  dbh, dby = np.zeros_like(bh), np.zeros_like(by)
  dhnext = np.zeros_like(hs[0])
  for t in reversed(xrange(len(inputs))):
    dy = np.copy(ps[t])
    dy[targets[t]] -= 1                        # softmax + cross-entropy
    dWhy += np.dot(dy, hs[t].T)
    dby += dy
    dh = np.dot(Why.T, dy) + dhnext            # from the output and from step t+1
    dhraw = (1 - hs[t] * hs[t]) * dh           # through tanh
    dbh += dhraw
    dWxh += np.dot(dhraw, xs[t].T)
    dWhh += np.dot(dhraw, hs[t - 1].T)
    dhnext = np.dot(Whh.T, dhraw)
  for dparam in [dWxh, dWhh, dWhy, dbh, dby]:
    np.clip(dparam, -5, 5, out=dparam)         # against exploding gradients
  return loss, dWxh, dWhh, dWhy, dbh, dby, hs[len(inputs) - 1]


def sample(h, seed_ix, n):
  """draw n characters from the model, starting from hidden state h and character seed_ix"""
  x = np.zeros((vocab_size, 1))
  x[seed_ix] = 1
  out = []
  for t in xrange(n):
    h = np.tanh(np.dot(Wxh, x) + np.dot(Whh, h) + bh)
    y = np.dot(Why, h) + by
    p = np.exp(y) / np.sum(np.exp(y))
    ix = np.random.choice(range(vocab_size), p=p.ravel())
    x = np.zeros((vocab_size, 1))
    x[ix] = 1
    out.append(ix)
  return out


n, p = 0, 0
mWxh, mWhh, mWhy = np.zeros_like(Wxh), np.zeros_like(Whh), np.zeros_like(Why)
mbh, mby = np.zeros_like(bh), np.zeros_like(by)   # Adagrad memory
smooth_loss = seq_length * np.log(vocab_size)   # what an untrained model should score
while True:
  if p + seq_length + 1 >= len(data) or n == 0:
    hprev = np.zeros((hidden_size, 1))   # back to the start of the data
    p = 0
  inputs = [char_to_ix[ch] for ch in data[p:p + seq_length]]
  targets = [char_to_ix[ch] for ch in data[p + 1:p + seq_length + 1]]

  if n % 100 == 0:
    txt = ''.join(ix_to_char[ix] for ix in sample(hprev, inputs[0], 200))
    print '=== sample at iter %d ===' % n
    print txt

  loss, dWxh, dWhh, dWhy, dbh, dby, hprev = lossFun(inputs, targets, hprev)
  smooth_loss = smooth_loss * 0.999 + loss * 0.001
  if n % 100 == 0:
    print 'iter %d, loss: %f' % (n, smooth_loss)

  for param, dparam, mem in zip([Wxh, Whh, Why, bh, by],
                                [dWxh, dWhh, dWhy, dbh, dby],
                                [mWxh, mWhh, mWhy, mbh, mby]):
    mem += dparam * dparam
    param += -learning_rate * dparam / np.sqrt(mem + 1e-8)   # Adagrad

  p += seq_length
  n += 1
