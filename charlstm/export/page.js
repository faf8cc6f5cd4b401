// The page around the model (model.js has the math): the settings, from the form or the URL
// fragment; generation in small slices, so that the text streams in and the page stays
// responsive; Generate and Stop.
//
// The fragment fills in the form: page.html#prime=ROMEO:&length=200&temperature=0.8&seed=3,
// with top_k, top_p, greedy=1 (always the most likely character, as charlstm sample --greedy)
// and allow_unknown=1; for a records model num_samples=10&max_length=500 (charlstm sample's
// --num-samples and --max-length) instead of length; values URL-encoded. autorun=1 generates at
// once. The element #output holds the text charlstm sample prints, without the newline the
// command ends with, and nothing else: the prime, then the generated characters; for a records
// model the records (each the prime, then what the model wrote until its end symbol), one per
// line or a blank line between paragraphs. It gets data-done="1" when the text is complete
// (and data-stopped="1" after Stop, data-error="..." when the settings are refused).

"use strict";

const $ = (id) => document.getElementById(id);
const SLICE_MS = 15;          // generate for this long, then let the browser draw and take clicks
const DEFAULTS = { prime: "", length: "500", temperature: "1", top_k: "0", top_p: "1", seed: "",
                   greedy: false, allow_unknown: false, num_samples: "10", max_length: "500" };

let MODEL = null;             // from loadModel (model.js)
let SPEC = null;              // the model's description, as charlstm export wrote it
let job = null;               // the generation running now: {pieces, stopped, count, records, start, seed}

// ------------------------------------------------------------------ the model and what it is

function readModel() {
  SPEC = JSON.parse($("model").textContent);
  if (SPEC === null) return false;                    // the template itself: no model in it
  const text = atob($("weights").textContent.replace(/\s+/g, ""));
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  MODEL = loadModel(SPEC, bytes);
  return true;
}

function describeModel(spec) {
  const cell = { lstm: "LSTM", gru: "GRU", rnn: "RNN" }[spec.cell];
  const parts = [`${spec.num_layers}-layer ${cell}`, `hidden ${spec.hidden_size}`,
                 `embedding ${spec.embed_size}`, `${spec.vocab_size} symbols`,
                 `${spec.num_params.toLocaleString("en-US")} parameters`];
  if (spec.mode === "records") parts.push(`records model (one per ${spec.records === "paragraphs" ? "paragraph" : "line"})`);
  if (spec.corpus) parts.push(`trained on ${spec.corpus}` + (spec.step ? ` for ${spec.step.toLocaleString("en-US")} steps` : ""));
  if (spec.val_loss !== null) {
    const unit = spec.mode === "records" ? "symbol" : "char";     // a records loss counts the end symbol
    parts.push(`validation loss ${spec.val_loss.toFixed(4)} nats/${unit} (${(spec.val_loss / Math.LN2).toFixed(3)} bits/${unit})`);
  }
  return parts.join(" · ");
}

// The one place that reads the model's mode: which generator writes the text. -> a function
// (settings, options) that yields what charlstm sample prints, in pieces [text, chars, records]:
// chars is how many characters the model generated in the piece (1 for a character; 0 for the
// prime, the line between two records, and the "" yielded while the model reads), records how
// many records it completes (1 at the end of each record of a records model).
function samplerFor(spec) {
  if (spec.mode === "text") {
    return function* (s, options) {                    // charlstm sample: the prime, then length characters
      yield [s.prime, 0, 0];
      for (const ch of iterSample(MODEL, s.length, s.prime, options)) yield [ch, ch ? 1 : 0, 0];
    };
  }
  if (spec.mode === "records") {
    const separator = spec.records === "paragraphs" ? "\n\n" : "\n";   // as cli._sample_records
    return function* (s, options) {                    // numSamples records, each from a zero state
      for (let k = 0; k < s.numSamples; k++) {
        yield [(k ? separator : "") + s.prime, 0, 0];
        for (const ch of iterRecord(MODEL, s.maxLength, s.prime, options)) yield [ch, ch ? 1 : 0, 0];
        yield ["", 0, 1];
      }
    };
  }
  throw new Error(`this page cannot sample a model in mode ${spec.mode}`);
}

// ------------------------------------------------------------------ settings

function setForm(values) {
  for (const [name, value] of Object.entries(values)) {
    const el = $(name);
    if (el.type === "checkbox") el.checked = value === true || value === "1" || value === "true";
    else el.value = value;
  }
  syncForm();
}

// The fragment's settings (only the names the form has) and whether to generate at once.
function fragmentSettings() {
  const params = new URLSearchParams(location.hash.slice(1));
  const values = {};
  for (const [name, value] of params) if (name in DEFAULTS) values[name] = value;
  return { values, autorun: params.get("autorun") === "1" };
}

// The slider follows the temperature box (which takes any value) and the greedy box disables
// what greedy ignores.
function syncForm() {
  $("temperature-slider").value = $("temperature").value;
  for (const name of ["temperature", "temperature-slider", "top_k", "top_p", "seed"]) $(name).disabled = $("greedy").checked;
}

// The form's settings, checked as charlstm sample checks its options; throws an Error whose
// message says what to change.
function readSettings() {
  const number = (name, empty) => ($(name).value.trim() === "" ? empty : Number($(name).value));
  const s = {
    prime: $("prime").value, length: number("length", NaN), temperature: number("temperature", NaN),
    topK: number("top_k", 0), topP: number("top_p", 1),
    seed: $("seed").value.trim(), greedy: $("greedy").checked, allowUnknown: $("allow_unknown").checked,
    numSamples: number("num_samples", NaN), maxLength: number("max_length", NaN),
  };
  if (SPEC.mode === "records") {
    if (!Number.isInteger(s.numSamples) || s.numSamples < 1) throw new Error(`records must be a whole number, 1 or more, got ${$("num_samples").value}`);
    if (!Number.isInteger(s.maxLength) || s.maxLength < 0) throw new Error(`max length must be a whole number, 0 or more, got ${$("max_length").value}`);
  } else if (!Number.isInteger(s.length) || s.length < 0) {
    throw new Error(`length must be a whole number, 0 or more, got ${$("length").value}`);
  }
  if (!s.greedy) {
    if (!(s.temperature > 0)) throw new Error(`temperature must be greater than 0, got ${$("temperature").value} (tick Greedy for the most likely character)`);
    if (!Number.isInteger(s.topK) || s.topK < 0) throw new Error(`top-k must be a whole number, at least 1 (0: off), got ${$("top_k").value}`);
    if (!(s.topP > 0 && s.topP <= 1)) throw new Error(`top-p must be in (0, 1], got ${$("top_p").value}`);
    if (s.seed !== "" && !/^\d+$/.test(s.seed)) throw new Error(`seed must be a whole number 0 or more (or empty: random), got ${s.seed}`);
  }
  if (SPEC.records === "lines" && s.prime.includes("\n")) {
    throw new Error("the prime text has a newline, but this model's records are single lines (--records lines); give the start of one line");
  }
  const bad = unknownChars(MODEL, s.prime);
  if (bad.length) {
    const list = bad.map((ch) => `${JSON.stringify(ch)} (U+${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")})`);
    throw new Error(`prime text has characters outside the model's vocabulary: ${list.join(", ")}`);
  }
  return s;
}

// The current settings as a fragment, so that the address of the page repeats this text.
function settingsFragment(s, seed) {
  const params = new URLSearchParams(SPEC.mode === "records"
    ? { prime: s.prime, num_samples: s.numSamples, max_length: s.maxLength }
    : { prime: s.prime, length: s.length });
  if (s.greedy) params.set("greedy", "1");
  else {
    params.set("temperature", s.temperature);
    if (s.topK) params.set("top_k", s.topK);
    if (s.topP < 1) params.set("top_p", s.topP);
    params.set("seed", seed);
  }
  if (s.allowUnknown) params.set("allow_unknown", "1");
  return "#" + params.toString().replace(/\+/g, "%20");
}

// ------------------------------------------------------------------ generating

function generate() {
  stop();
  const out = $("output");
  out.textContent = "";
  for (const key of ["done", "stopped", "error"]) delete out.dataset[key];
  let s;
  try {
    s = readSettings();
  } catch (e) {
    showStatus(e.message, true);
    out.dataset.error = e.message;
    out.dataset.done = "1";
    return;
  }
  const seed = s.seed !== "" ? Number(s.seed) : crypto.getRandomValues(new Uint32Array(1))[0];
  const pieces = samplerFor(SPEC)(s, {
    temperature: s.temperature, topK: s.topK, topP: s.topP, greedy: s.greedy,
    rng: makeRng(seed), allowUnknown: s.allowUnknown,
  });
  history.replaceState(null, "", settingsFragment(s, seed));
  job = { pieces, stopped: false, count: 0, records: 0, start: performance.now(), seed: s.greedy ? null : seed };
  $("generate").disabled = true;
  $("stop").disabled = false;
  showStatus("writing...");
  setTimeout(runSlice, 0, job);
}

// Generate for SLICE_MS, show what came, and come back after the browser has had its turn.
function runSlice(me) {
  if (me !== job) return;                             // a newer generation replaced this one
  const end = performance.now() + SLICE_MS;
  let text = "", finished = false;
  while (performance.now() < end) {
    const next = me.pieces.next();
    if (next.done) {
      finished = true;
      break;
    }
    const [piece, chars, records] = next.value;
    text += piece;
    me.count += chars;
    me.records += records;
  }
  $("output").append(text);
  if (finished) finish(me);
  else setTimeout(runSlice, 0, me);
}

function finish(me) {
  const seconds = (performance.now() - me.start) / 1000;
  const rate = me.count / Math.max(seconds, 1e-3);
  const how = me.seed === null ? "greedy" : `seed ${me.seed}`;
  const records = SPEC.mode === "records" ? `${me.records.toLocaleString("en-US")} records, ` : "";
  showStatus(`${me.stopped ? "stopped after " : ""}${records}${me.count.toLocaleString("en-US")} characters in ${seconds.toFixed(2)} s ` +
             `(${Math.round(rate).toLocaleString("en-US")} per second), ${how}`);
  const out = $("output");
  if (me.stopped) out.dataset.stopped = "1";
  out.dataset.done = "1";
  job = null;
  $("generate").disabled = false;
  $("stop").disabled = true;
}

function stop() {
  if (job === null) return;
  job.stopped = true;
  finish(job);
}

function showStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

// ------------------------------------------------------------------ start

function start() {
  if (!readModel()) return;
  document.title = `charlstm · ${SPEC.corpus || "model"}`;
  $("title").textContent = `charlstm${SPEC.corpus ? " · " + SPEC.corpus : ""}`;
  $("about").textContent = describeModel(SPEC);
  $("allow_unknown-label").hidden = SPEC.unknown_id === null;
  const records = SPEC.mode === "records";             // records and their length, not one length
  $("length-label").hidden = records;
  $("num_samples-label").hidden = $("max_length-label").hidden = !records;
  if (records) $("prime-caption").textContent = "Prime: the start of every record";
  const { values, autorun } = fragmentSettings();
  setForm({ ...DEFAULTS, ...values });
  $("settings").addEventListener("submit", (e) => { e.preventDefault(); generate(); });
  $("stop").addEventListener("click", stop);
  $("greedy").addEventListener("change", syncForm);
  $("temperature").addEventListener("input", syncForm);
  $("temperature-slider").addEventListener("input", () => { $("temperature").value = $("temperature-slider").value; });
  $("generate").disabled = false;
  if (autorun) generate();
}

start();
