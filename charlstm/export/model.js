// charlstm's model in the browser: the forward pass of charlstm/model.py (CharLSTM.step) and
// the samplers of charlstm/sample.py (iter_sample for a text model, iter_record for a records
// model), in plain JavaScript, with no dependencies.
//
// Read it beside charlstm/layers.py: the same equations, the same gate order (LSTM i, f, o, g;
// GRU r, z, n), one function per cell. One character at a time, so every vector is one row of
// NumPy's batch (N = 1). A matrix is stored row-major as NumPy stores it: W (D, M) is a
// Float32Array of D*M numbers and W[d, j] is W[d * M + j].
//
// float32, as charlstm samples: every array kept between two operations (the weights, the
// products, the gates, h, c, the logits) is a Float32Array, so each value is rounded to float32
// where NumPy rounds it. Inside one operation JavaScript computes in float64 and rounds once
// when it stores the result. So a value here differs from NumPy's only in its last float32 bit
// or so: NumPy's BLAS sums a dot product in float32 in its own order, and its float32 tanh is not
// always correctly rounded. A greedy choice can only differ when the two most likely characters
// have logits that close: a near tie (see docs/export.md).

"use strict";

// ------------------------------------------------------------------ operations

// x (D) @ W (D, M) -> (M): a row vector times a matrix, NumPy's `x @ W`.
function matvec(x, W, M) {
  const out = new Float64Array(M);                    // the sums, in float64
  for (let d = 0; d < x.length; d++) {
    const xd = x[d], row = d * M;
    for (let j = 0; j < M; j++) out[j] += xd * W[row + j];
  }
  return Float32Array.from(out);                       // rounded once, to float32
}

// sigmoid(x) = 0.5 * (1 + tanh(x / 2)): as layers.sigmoid, no overflow for any x.
function sigmoid(x) {
  return 0.5 * (1 + Math.tanh(0.5 * x));
}

// ------------------------------------------------------------------ the three cells

// One LSTM step (layers.lstm_step_forward), gates fused in the order i, f, o, g.
//   a = x Wx + h Wh + b                      (4H) gate pre-activations
//   i, f, o = sigmoid(a[:H]), sigmoid(a[H:2H]), sigmoid(a[2H:3H]);   g = tanh(a[3H:])
//   c_t = f * c_{t-1} + i * g
//   h_t = o * tanh(c_t)
// x (D), h (H), c (H), Wx (D, 4H), Wh (H, 4H), b (4H); h and c are updated in place.
function lstmStep(x, h, c, Wx, Wh, b) {
  const H = h.length;
  const xWx = matvec(x, Wx, 4 * H), hWh = matvec(h, Wh, 4 * H);
  const a = new Float32Array(4 * H);
  for (let j = 0; j < 4 * H; j++) a[j] = xWx[j] + hWh[j] + b[j];
  for (let j = 0; j < 3 * H; j++) a[j] = sigmoid(a[j]);              // i, f, o
  for (let j = 3 * H; j < 4 * H; j++) a[j] = Math.tanh(a[j]);        // g
  for (let j = 0; j < H; j++) {
    const i = a[j], f = a[H + j], o = a[2 * H + j], g = a[3 * H + j];
    c[j] = f * c[j] + i * g;
    h[j] = o * Math.tanh(c[j]);
  }
}

// One GRU step (layers.gru_step_forward), PyTorch's form, gates fused in the order r, z, n.
//   ax = x Wx + b,   ah = h Wh               (3H) each
//   r = sigmoid(ax[:H] + ah[:H])             reset gate
//   z = sigmoid(ax[H:2H] + ah[H:2H])         update gate
//   n = tanh(ax[2H:] + r * (ah[2H:] + bh))   candidate: the reset gate acts after the product
//   h_t = (1 - z) * n + z * h_{t-1}          (computed as n + z * (h_{t-1} - n), as charlstm does)
// x (D), h (H), Wx (D, 3H), Wh (H, 3H), b (3H), bh (H); h is updated in place.
function gruStep(x, h, Wx, Wh, b, bh) {
  const H = h.length;
  const xWx = matvec(x, Wx, 3 * H), ah = matvec(h, Wh, 3 * H);
  const ax = new Float32Array(3 * H);
  for (let j = 0; j < 3 * H; j++) ax[j] = xWx[j] + b[j];
  for (let j = 0; j < H; j++) {
    const r = sigmoid(ax[j] + ah[j]);
    const z = sigmoid(ax[H + j] + ah[H + j]);
    const n = Math.tanh(ax[2 * H + j] + r * (ah[2 * H + j] + bh[j]));
    h[j] = n + z * (h[j] - n);
  }
}

// One step of a tanh RNN (layers.rnn_step_forward).
//   h_t = tanh(x Wx + h_{t-1} Wh + b)
// x (D), h (H), Wx (D, H), Wh (H, H), b (H); h is updated in place.
function rnnStep(x, h, Wx, Wh, b) {
  const H = h.length;
  const xWx = matvec(x, Wx, H), hWh = matvec(h, Wh, H);
  for (let j = 0; j < H; j++) h[j] = Math.tanh(xWx[j] + hWh[j] + b[j]);
}

// ------------------------------------------------------------------ the model

// The parameters of a checkpoint, from the page's description and its float32 weights.
// spec: {cell, num_layers, hidden_size, vocab_size, vocab (the characters, in id order),
// unknown_id, end_id, params: [[name, shape], ...]}; bytes: every parameter's float32 values,
// little-endian, one after the other. V counts every symbol the model predicts: the characters
// and, for a records model, the end-of-record symbol (id end_id = chars.length, no character).
function loadModel(spec, bytes) {
  const p = {};
  let offset = 0;
  for (const [name, shape] of spec.params) {
    const size = shape.reduce((a, b) => a * b, 1);
    p[name] = new Float32Array(bytes.buffer, bytes.byteOffset + offset, size);
    offset += 4 * size;
  }
  if (offset !== bytes.length) throw new Error(`the weights have ${bytes.length} bytes, the model needs ${offset}`);
  const chars = spec.vocab;
  return {
    cell: spec.cell, L: spec.num_layers, H: spec.hidden_size, V: spec.vocab_size, p, chars,
    stoi: new Map(chars.map((ch, i) => [ch, i])), unknownId: spec.unknown_id, endId: spec.end_id,
  };
}

// Zero hidden and cell state: h[l], c[l] (H) for each layer l (the GRU and the RNN ignore c).
function initState(model) {
  const zeros = () => Array.from({ length: model.L }, () => new Float32Array(model.H));
  return { h: zeros(), c: zeros() };
}

// Read one character: embed -> layer 0 -> ... -> layer L-1, updating the state in place;
// -> the top layer's h (H). CharLSTM._step_logits, without the output layer.
function readChar(model, id, state) {
  const { p, H } = model, E = p.embed.length / model.V;
  let x = p.embed.subarray(id * E, (id + 1) * E);      // embed[id], (E)
  for (let l = 0; l < model.L; l++) {
    const Wx = p[`layer${l}.Wx`], Wh = p[`layer${l}.Wh`], b = p[`layer${l}.b`];
    const h = state.h[l];
    if (model.cell === "lstm") lstmStep(x, h, state.c[l], Wx, Wh, b);
    else if (model.cell === "gru") gruStep(x, h, Wx, Wh, b, p[`layer${l}.bh`]);
    else rnnStep(x, h, Wx, Wh, b);
    x = h;
  }
  return x;
}

// One time step, for sampling: id -> logits (V) of the next character. CharLSTM.step.
//   logits = h_top out.W + out.b             out.W (H, V), out.b (V)
function step(model, id, state) {
  const h = readChar(model, id, state);
  const hW = matvec(h, model.p["out.W"], model.V), b = model.p["out.b"];
  const logits = new Float32Array(model.V);
  for (let v = 0; v < model.V; v++) logits[v] = hW[v] + b[v];
  return logits;
}

// ------------------------------------------------------------------ sampling (charlstm/sample.py)

// The index of the largest logit; the first one on an exact tie, as np.argmax.
function argmax(x) {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

// logits (V) -> probabilities (V) after temperature, top-k and top-p: sample.next_char_probs.
// topK 0 and topP 1 mean off.
function nextCharProbs(logits, temperature, topK, topP) {
  let z = Array.from(logits, (v) => v / temperature);
  if (topK > 0 && topK < z.length) {
    const kth = [...z].sort((a, b) => b - a)[topK - 1];
    z = z.map((v) => (v >= kth ? v : -Infinity));       // keep the k largest (and ties)
  }
  const m = Math.max(...z);
  let p = z.map((v) => Math.exp(v - m));
  const total = p.reduce((a, b) => a + b, 0);
  p = p.map((v) => v / total);
  if (topP < 1) {
    const order = p.map((_, i) => i).sort((i, j) => p[j] - p[i] || i - j);   // most likely first
    const keep = [];
    let mass = 0;
    for (const i of order) {                           // the smallest set with mass >= top_p
      keep.push(i);
      mass += p[i];
      if (mass >= topP) break;
    }
    const q = new Array(p.length).fill(0);
    for (const i of keep) q[i] = p[i] / mass;
    p = q;
  }
  return p;
}

// An index drawn with probability p[i]: the first i whose running sum passes u * sum(p).
function drawFrom(p, u) {
  const target = u * p.reduce((a, b) => a + b, 0);
  let cum = 0;
  for (let i = 0; i < p.length; i++) {
    cum += p[i];
    if (cum > target) return i;
  }
  return p.length - 1;
}

// The next symbol's id from logits (V): sample._choose.
function choose(logits, temperature, topK, topP, greedy, rng) {
  if (greedy) return argmax(logits);
  return drawFrom(nextCharProbs(logits, temperature, topK, topP), rng());
}

// A small seeded generator of uniform numbers in [0, 1) (mulberry32): the same seed gives the
// same text. It is not NumPy's generator, so a seed here does not give charlstm sample's text.
function makeRng(seed) {
  let a = seed >>> 0;
  return function () {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The characters of `text` the model does not know, in code point order (none when it has
// an unknown symbol, which stands for them): an empty list when the text can be read.
function unknownChars(model, text) {
  if (model.unknownId !== null) return [];
  return [...new Set(Array.from(text))].filter((ch) => !model.stoi.has(ch))
    .sort((a, b) => a.codePointAt(0) - b.codePointAt(0));
}

// text -> ids; a character outside the vocabulary is read as the unknown symbol.
function encode(model, text) {
  return Array.from(text, (ch) => (model.stoi.has(ch) ? model.stoi.get(ch) : model.unknownId));
}

// Yield `length` generated characters, one at a time, after reading `prime`: sample.iter_sample.
// The prime is read first (and not yielded), after a newline (a zero state alone garbles the first
// characters). With no prime the model starts after that newline, or from a random character
// (yielded as the first one) when the vocabulary has no newline. The
// unknown symbol is never generated unless allowUnknown. While it reads the prime it yields ""
// after each character, so that a caller can pause between two characters (see page.js).
// options: {temperature, topK, topP, greedy, rng (a function like makeRng's), allowUnknown}
function* iterSample(model, length, prime, options) {
  const { temperature, topK, topP, greedy, rng, allowUnknown } = options;
  if (length === 0) return;
  const state = initState(model);
  const banned = allowUnknown ? null : model.unknownId;
  let ids;
  if (!prime && !model.stoi.has("\n")) {
    const allowed = model.chars.map((_, i) => i).filter((i) => i !== banned);
    const first = allowed[Math.floor(rng() * allowed.length)];
    yield model.chars[first];
    length -= 1;
    ids = [first];
  } else {
    ids = encode(model, model.stoi.has("\n") ? "\n" + prime : prime);   // after a newline, as sample.py
  }
  for (const id of ids.slice(0, -1)) {                 // all but the last prime character
    readChar(model, id, state);
    yield "";
  }
  let id = ids[ids.length - 1];
  for (let n = 0; n < length; n++) {
    const logits = step(model, id, state);
    if (banned !== null) logits[banned] = -Infinity;
    if (model.endId !== null) logits[model.endId] = -Infinity;   // an end symbol is not text
    id = choose(logits, temperature, topK, topP, greedy, rng);
    yield model.chars[id];
  }
}

// Yield the characters of one record of a records model, after `prime` (its start, not
// yielded), until the model writes its end-of-record symbol or `maxLength` characters have been
// generated: sample.iter_record. The record is read as in training: from a zero state, the end
// symbol first (so "the end of the record before" is where every record starts). The end
// symbol itself is never yielded: it is not a character. As iterSample, it yields "" after each
// prime character it reads. Call it once per record; the same rng carries on from one to the next.
// options: as iterSample's.
function* iterRecord(model, maxLength, prime, options) {
  const { temperature, topK, topP, greedy, rng, allowUnknown } = options;
  const ids = [model.endId, ...encode(model, prime)];
  const state = initState(model);
  for (const id of ids.slice(0, -1)) {                 // the end symbol and the prime, less its last
    readChar(model, id, state);
    yield "";
  }
  let id = ids[ids.length - 1];
  for (let n = 0; n < maxLength; n++) {
    const logits = step(model, id, state);
    if (!allowUnknown && model.unknownId !== null) logits[model.unknownId] = -Infinity;
    id = choose(logits, temperature, topK, topP, greedy, rng);
    if (id === model.endId) return;                    // the record is complete
    yield model.chars[id];
  }
}
