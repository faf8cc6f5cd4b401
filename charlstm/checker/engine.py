"""The engine of ``charlstm check``: runs an API description against charlstm's references.

For each pair of an API (``apis/``), it picks the convention the learner's forward is
written in, calls the learner's functions on small float64 cases whose sizes all differ,
and compares

- every output with the family's reference, laid out as the learner's API lays it out;
- every gradient of a backward with the reference *and* with finite differences of the
  learner's own forward, so the verdict does not rest on trusting charlstm.

A wrong result is compared with the catalogue's variants (``catalogue.py``) the API lists
for that function, and with shape slips (transposed, not summed, scaled): a match to
round-off names the mistake, the equation it breaks and the fix. A loss function over its
module's globals (``apis.LossFunction``) is checked through ``check_gradients`` instead,
its outputs against the description's reference. Nothing here names an API's functions:
a new API is a new description, never a change here.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import io
import itertools
import traceback
import warnings
from dataclasses import replace

import numpy as np

from ..gradcheck import numeric_gradient
from . import catalogue as M
from . import loading
from .apis import arity, params
from .catalogue import CATALOGUE
from .families import CASES, Case
from .generic import GradientCheckError, check_gradients
from .loading import TIMEOUT, Timeout, time_limit, where
from .report import ABSENT, FD_RIGHT, Finding, FunctionReport, Row, rel_error

MATCH = 1e-6        # "to round-off" when comparing with a catalogue variant
_MISSING = object()
FD_EPS = 1e-5       # centred differences of the learner's forward


def close(a, b, tol=MATCH):
    return a is not None and b is not None and np.shape(a) == np.shape(b) and rel_error(a, b) < tol


class LearnerError(Exception):
    """The learner's code raised, returned the wrong thing, or ran out of time."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def functions(api, ns):
    """{the API's name: callable} for what the namespace defines (aliases included)."""
    fns = {}
    for name, obj in ns.items():
        canon = api.ALIASES.get(name, name)
        if canon in api.FUNCTIONS and callable(obj) and (canon == name or canon not in fns):
            fns[canon] = obj
    return fns


# =========================================================================== the checker

class Checker:
    """Calls one namespace's functions, every call guarded, and checks them pair by pair."""

    def __init__(self, api, fns, timeout=TIMEOUT, seed=0, loaded=None):
        self.api, self.fns, self.timeout, self.seed = api, fns, timeout, seed
        self.loaded = loaded                # loading.Loaded of a file, or None
        self.printed = io.StringIO()

    @property
    def python2(self):
        return bool(self.loaded and self.loaded.python2 and self.loaded.python2.python2)

    def stub(self, name):
        """Why the learner's function is the starter's untouched stub, or None."""
        return loading.stub(self.fns[name])

    # ---- calling the learner's code
    def call(self, name, *args):
        fn = self.fns[name]
        try:
            with contextlib.redirect_stdout(self.printed), warnings.catch_warnings(), \
                    np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                return fn(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
        except Timeout:
            raise
        except NotImplementedError as e:
            at = [f.name for f in traceback.extract_tb(e.__traceback__)][-1]
            other = f": it calls {at}, which is not implemented yet" if at not in (name, "<module>") else ""
            raise LearnerError("not implemented", f"raises NotImplementedError{other}") from None
        except Exception as e:
            msg = str(e).splitlines()[0] if str(e) else ""
            raise LearnerError("error", f"{name} raised {type(e).__name__}"
                               f"{': ' + msg if msg else ''}{where(e)}"
                               + _explain(e, self.python2)) from None

    def try_call(self, name, *args):
        """(result, None), or (None, why) when the learner's function is absent or fails."""
        if name not in self.fns:
            return None, f"{name} is not defined"
        try:
            return self.call(name, *args), None
        except LearnerError as e:
            return None, str(e)

    def unpack(self, name, res, names, has_cache=True, as_dict=False):
        """The learner's return value as {name: float64 array} (and the cache); with
        ``as_dict`` the value is a dict read by ``names`` (deeplearning.ai's gradients)."""
        if as_dict:
            res = self.from_dict(name, res, names)
        want = len(names) + has_cache
        got = res if isinstance(res, tuple) else (res,)
        if all(r is None for r in got):
            if loading.definition(self.fns[name]) is None:      # cannot tell: a placeholder
                raise LearnerError("not implemented", "it returns None (the starter code's placeholder)")
            listed = ", ".join(names) + (", cache" if has_cache else "")
            raise LearnerError("error", f"{name} returns None: it computes something but does not "
                               f"return it (a missing `return {listed}`, or the starter's None "
                               "placeholders never replaced)")
        nones = [n for n, v in zip(names, got) if v is None]
        if nones and len(got) == want:
            listed = ", ".join(nones)
            raise LearnerError("error", f"{name} returns {listed} as None: the starter's placeholder "
                               f"({nones[0]} = None) is never replaced; assign {listed} before "
                               "returning")
        if len(got) != want:
            listed = ", ".join(names) + (", cache" if has_cache else "")
            raise LearnerError("bad signature", f"{name} returned {len(got)} value"
                               f"{'' if len(got) == 1 else 's'}; the coursework API returns "
                               f"{want}: {listed}")
        out = {}
        for n, v in zip(names, got):
            try:
                out[n] = np.asarray(v, dtype=np.float64)
            except (TypeError, ValueError):
                raise LearnerError("error", f"{name} returned {n} as a {type(v).__name__}, "
                                   "not an array of numbers") from None
        return out, (got[-1] if has_cache else None)

    def from_dict(self, name, res, names):
        """The values of a returned dict, in the order of ``names``."""
        listed = ", ".join(f'"{n}"' for n in names)
        if not isinstance(res, dict):
            what = "None" if res is None else f"a {type(res).__name__}"
            raise LearnerError("error", f"{name} returns {what}; the assignment's {name} returns "
                               f"its gradients as a dict with the keys {listed}")
        missing = [n for n in names if n not in res]
        if missing:
            have = ", ".join(f'"{k}"' for k in res) or "none"
            raise LearnerError("error", f"{name} returns a dict without the key"
                               f"{'s' if len(missing) > 1 else ''} "
                               f"{', '.join(repr(m) for m in missing)} (its keys: {have}); "
                               f"the assignment's keys are {listed}")
        return tuple(res[n] for n in names)

    def check_signature(self, fn, n, signature):
        p = params(self.fns[fn.name])
        if p is None or p.takes(n):
            return
        have = fn.name
        with contextlib.suppress(TypeError, ValueError):
            have = f"{fn.name}{inspect.signature(self.fns[fn.name])}"
        count = len(p.names) if not p.star else p.required
        raise LearnerError("bad signature", f"{have} takes {count} argument"
                           f"{'s' if count != 1 else ''}; the coursework API is {signature}")

    # ---- in the learner's layout
    def to_learner(self, conv, arrays):
        """{charlstm name: array} -> {the API's name: array in the learner's layout}."""
        laid = conv.layout.arrays(arrays, conv.family.axes_of)
        return {conv.api(k): v for k, v in laid.items()}

    def cases(self, conv):
        for j, sizes in enumerate(CASES):
            case = Case(*conv.layout.sizes(sizes), rng=np.random.default_rng(self.seed * 100 + j))
            yield case, conv.family.make(case)

    def upstream(self, case, conv, outs):
        """A random gradient for each output the backward takes one of."""
        return {"d" + n: case.rng.standard_normal(outs[n].shape) for n in conv.family.upstream_of}

    def forward(self, pair, conv, inp):
        """The learner's forward on ``inp`` (charlstm's layout): {API name: output}, cache."""
        fam = conv.family
        args = conv.arguments(self.to_learner(conv, {n: inp[n] for n in fam.inputs}))
        res = self.call(pair.forward.name, *args)
        out, cache = self.unpack(pair.forward.name, res, conv.output_names(), conv.cache)
        for k, v in out.items():                    # a scalar may come back as [loss]
            if fam.axes_of(conv.own(k)) == () and v.size == 1:
                out[k] = v.reshape(())
        return out, cache

    def backward(self, pair, conv, up, cache):
        fn = self.fns[pair.backward.name]
        names = list(conv.backward_args)
        p = params(fn)
        if conv.optional and p is not None and not p.star and len(p.names) < len(names):
            for n in conv.optional:                 # final-state gradients not taken:
                up[n][...] = 0                      # the reference gets zeros too
            names = names[:len(names) - len(conv.optional)]
        lay = self.to_learner(conv, {n: up[n] for n in names if n != "cache"})
        res = self.call(pair.backward.name, *[cache if n == "cache" else lay[conv.api(n)]
                                              for n in names])
        return self.unpack(pair.backward.name, res, conv.grad_names(), has_cache=False,
                           as_dict=conv.grads_as == "dict")[0]

    # ---- which convention
    def convention(self, pair, layout=None):
        """The convention the forward is written in: of those its signature fits, the first
        whose calls return the right outputs in the right shapes, else the first that
        returns the right number of values, else the first. With ``layout``: the first in
        that layout that fits entirely, or None."""
        p = params(self.fns[pair.forward.name])
        fitting = [c for c in pair.conventions if c.fits(p)] or [pair.conventions[0]]
        if layout is not None:
            return next((c for c in fitting if c.layout == layout and self.fit(pair, c) == 2), None)
        if len(fitting) == 1:
            return fitting[0]
        best, score = fitting[0], 0
        for conv in fitting:
            s = self.fit(pair, conv)
            if s > score:
                best, score = conv, s
            if s == 2:
                break
        return best

    def fit(self, pair, conv):
        """2: right count and shapes on every case; 1: right count; 0: an error."""
        fam = conv.family
        for case, inp in self.cases(conv):
            try:
                got, _ = self.forward(pair, conv, inp)
            except LearnerError as e:
                if e.status == "not implemented":
                    raise
                return 0
            ref = self.to_learner(conv, fam.reference(inp))
            if any(got[k].shape != ref[k].shape for k in ref):
                return 1
        return 2

    # ---- checking one pair
    def check_forward(self, pair, conv, rep):
        fn, fam = pair.forward, conv.family
        rep.convention = conv.label
        self.check_signature(fn, conv.arity, fn.signature)
        rows, first = {}, None
        for case, inp in self.cases(conv):
            ref = self.to_learner(conv, fam.reference(inp))
            got, _ = self.forward(pair, conv, inp)
            _compare(rows, ref, got)
            if first is None:
                first = (case, inp, ref, got)
        rep.rows = list(rows.values())
        case, inp, ref, got = first
        for out, (of, wrt) in fam.self_grads.items():     # a loss's dx vs finite differences
            x, name = inp[wrt], conv.api(out)

            def loss():
                return float(np.asarray(self.forward(pair, conv, inp)[0][conv.api(of)]).reshape(-1)[0])
            if got[name].shape == self.to_learner(conv, {out: x})[name].shape:
                num = numeric_gradient(loss, x, FD_EPS, order=2)
                rows[name].err_fd = rel_error(got[name], self.to_learner(conv, {out: num})[name])
        self.diagnose(rep, pair, fn, conv, first)

    def check_backward(self, pair, conv, rep):
        fn, fam = pair.backward, conv.family
        rep.convention = conv.label
        n_args = len(conv.backward_args) - len(conv.optional)
        self.check_signature(fn, n_args, fn.signature)
        rows, first = {}, None
        for case, inp in self.cases(conv):
            out, cache = self.forward(pair, conv, inp)
            ref_out = fam.reference(inp)
            lay_out = self.to_learner(conv, ref_out)
            if any(out[k].shape != lay_out[k].shape for k in out):
                raise LearnerError("not checked", _not_checked(pair))
            up = self.upstream(case, conv, ref_out)
            got = self.backward(pair, conv, up, cache)
            ref = self.to_learner(conv, fam.reference(inp, up))
            _compare(rows, ref, got)
            if first is None:
                first = (case, inp, up, ref, got)
        rep.rows = list(rows.values())
        # Finite differences of the learner's own forward, on the first case.
        case, inp, up, ref, got = first
        up_l = self.to_learner(conv, up)

        def objective():
            outs, _ = self.forward(pair, conv, inp)
            return float(sum(np.sum(outs[conv.api(n)] * up_l[conv.api("d" + n)])
                             for n in fam.upstream_of))
        num = {g: numeric_gradient(objective, inp[g[1:]], FD_EPS, order=2)
               for g in fam.grads if g[1:] in inp}
        num = self.to_learner(conv, num) if len(num) == len(fam.grads) else {}
        for r in rep.rows:
            if r.name in num and got[r.name].shape == num[r.name].shape:
                r.err_fd = rel_error(got[r.name], num[r.name])
        self.diagnose(rep, pair, fn, conv, first)
        for probe in fn.probes:                 # the handout's own checks (its test cell), first
            rep.findings[:0] = probe(self.try_call)
        fwd = pair.forward.name
        fd_agrees = all(r.err_fd is not None and r.err_fd < FD_RIGHT for r in rep.rows)
        if rep.status == "fail" and fd_agrees:
            rep.findings.insert(0, Finding(None, [], (
                f"Every gradient agrees with finite differences of your own {fwd}: this is the "
                f"right backward of a forward that differs from the reference. Fix {fwd} first.")))
        elif rep.status == "pass" and not fd_agrees:
            rep.findings.append(Finding(None, [], (
                f"Every gradient matches the reference, but not finite differences of your own "
                f"{fwd}: this backward is right, and your {fwd} computes something else.")))

    # ---- a loss over module globals, through check_gradients
    def check_loss(self, spec, rep):
        """Put the spec's globals in the learner's module, compare every output with the
        reference, and every gradient with finite differences of the learner's own loss
        (``check_gradients``, which shortens the sequence to where it first breaks)."""
        fn, name = spec.function, spec.function.name
        rep.convention = "the globals it reads supplied by charlstm"
        self.check_signature(fn, arity(fn.signature), fn.signature)
        values, seq, state = spec.setup(np.random.default_rng(self.seed))
        module = getattr(self.fns[name], "__globals__", None)
        if module is None:
            raise LearnerError("error", f"{name} is not a Python function: its globals cannot be set")
        saved = {k: module.get(k, _MISSING) for k in values}
        module.update({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in values.items()})

        def run(*s):
            return self.call(name, *s, *[v.copy() for v in state.values()])
        try:
            got = self.unpack(name, run(*seq), list(fn.outputs), has_cache=False)[0]
            ref = spec.reference(values, *seq, **state)
            rows = {}
            _compare(rows, ref, got)
            rep.rows = list(rows.values())
            params = {w: module[w] for w in spec.weights}
            grad_of = dict(spec.gradients)
            try:
                report = check_gradients(
                    params, lambda *s: run(*s)[0],
                    lambda *s: {grad_of[k]: v for k, v in zip(fn.outputs, run(*s)) if k in grad_of},
                    sequence=seq, seed=self.seed)
            except GradientCheckError as e:
                raise LearnerError("error", str(e)) from None
        finally:
            for k, v in saved.items():
                if v is _MISSING:
                    module.pop(k, None)
                else:
                    module[k] = v
        full = {p.name: p for p in report.lengths[-1].params} if report.lengths else \
            {p.name: p for p in report.parameters}
        for r in rep.rows:
            p = full.get(grad_of.get(r.name))
            if p is not None:
                r.err_fd = p.max_rel_error if p.max_rel_error is not None else float("inf")
        wrong_ref = [r.name for r in rep.rows if not r.ok]
        rep.status = "pass" if report.ok and not wrong_ref else "fail"
        rep.lengths = {"shortest_failing_length": report.shortest_failing_length,
                       "checked": [{"length": r.length, "ok": r.ok,
                                    "wrong": ["d" + n for n in r.failing()]} for r in report.lengths]}
        given = ", ".join(f"{k} {v.shape}" if isinstance(v, np.ndarray) else f"{k} = {v}"
                          for k, v in values.items())
        rep.findings.append(Finding(None, [], (
            f"charlstm put these globals in your module for the check (and put yours back "
            f"after): {given}; inputs and targets of {len(seq[0])} ids.")))
        if report.ok and wrong_ref:
            rep.findings.append(Finding(None, wrong_ref, (
                f"{', '.join(wrong_ref)} differ{'s' if len(wrong_ref) == 1 else ''} from the "
                f"reference, yet every gradient agrees with finite differences of your own {name}: "
                "the gradients are right for the loss you compute, and that loss is not the "
                "one the handout's equations give. Look at the forward part.")))
        if not report.ok:
            lengths = ", ".join(f"{r.length} {'pass' if r.ok else 'FAIL'}" for r in report.lengths)
            rep.findings.append(Finding("gradient_check", [p.name for p in report.parameters if not p.ok], (
                f"Finite differences of your {name}, the sequence shortened to find where it breaks "
                f"(lengths {lengths}):\n" + "\n".join(report.findings))))
        wrong = {r.name for r in rep.rows if not r.ok or (r.err_fd is not None and r.err_fd >= FD_RIGHT)}
        right = {r.name for r in rep.rows} - wrong
        look = next((h.text for h in fn.hints if wrong and h.applies(wrong, right)), None)
        if look:
            rep.findings.append(Finding(None, sorted(wrong), f"Where to look: {look}."))

    # ---- what is wrong
    def diagnose(self, rep, pair, fn, conv, first):
        """Explain the wrong outputs with the fewest known mistakes and shape slips."""
        wrong = [r.name for r in rep.rows if not r.ok]
        rep.status = "fail" if wrong else "pass"
        if not wrong:
            return
        backward = fn.kind == "backward"
        case, inp, up = first[0], first[1], (first[2] if backward else None)
        ref, got = first[-2], first[-1]
        right = [r.name for r in rep.rows if r.ok]
        fam = conv.family
        step = self.step_of(pair, fn)
        # Each candidate: the reference, or a variant with one or two mistakes switched on.
        # It explains the learner if it leaves the right outputs right and gives every
        # wrong one, directly or through a shape slip (transposed, not summed, scaled).
        found, singles = [], []
        for combo, knobs in [((), {})] + candidates(fn, conv):
            v = self.to_learner(conv, fam.naive(inp, up, knobs)) if combo else ref
            if combo and len(combo) == 1:
                singles.append((combo, v))
            if not all(close(v[k], ref[k]) for k in right):
                continue
            direct = [k for k in wrong if close(got[k], v[k])]
            slips = [slip(k, got[k], v[k], case, fam) for k in wrong if k not in direct]
            if None in slips or (combo and not direct):
                continue
            found.append(((len(combo) + len(slips), len(slips)), combo, direct, slips))
        if found:
            cost = min(f[0] for f in found)
            best = [f for f in found if f[0] == cost]
            if pair.step:                       # a sequence's own (loop) mistake first
                best.sort(key=lambda f: any(CATALOGUE[m].step for m, _ in f[1]))
            _, combo, direct, slips = best[0]
            rep.findings += slips
            if combo:
                found = _mistake_findings(combo, direct, fn, step, self.api)
                if step and not all(CATALOGUE[m].step for m, _ in combo):
                    # a mistake in the loop: the line where it calls the step
                    sites = loading.call_sites(self.fns[fn.name], step)
                    if sites:
                        found[0].text += "\n  where: " + "; ".join(sites[:2])
                rep.findings += found
            # Two single mistakes can give the same numbers (in a sequence, a dnext_c reset
            # at every step is a dc without dnext_c): name each.
            for _, other, d, sl in best[1:]:
                if len(other) == 1 and not sl and not slips:
                    f = _mistake_findings(other, d, fn, step, self.api)[0]
                    f.text = "Equally (the same numbers): " + f.text[0].lower() + f.text[1:]
                    rep.findings.append(f)
            return
        # Nothing explains it all: what single mistakes explain in part, and where to look.
        rest = list(wrong)
        for combo, v in singles:
            hits = [k for k in rest if close(got[k], v[k]) and not close(v[k], ref[k])]
            if hits:
                f = _mistake_findings(combo, hits, fn, step, self.api)[0]
                f.text = "Partly explained: " + f.text
                rep.findings.append(f)
                rest = [k for k in rest if k not in hits]
        if rest:
            rep.findings.append(Finding(None, rest, _hint(fn, wrong, right)))

    def step_of(self, pair, fn):
        """The step function a sequence function calls (same kind), or None."""
        if not pair.step:
            return None
        step = next(p for p in self.api.PAIRS if p.forward.name == pair.step)
        return step.forward.name if fn.kind == "forward" else step.backward.name


def candidates(fn, conv):
    """Variants to compare with, singles first, then pairs: [(((id, detail), ...), knobs)]."""
    ids = [m for m in fn.mistakes if m not in conv.family.unavailable]
    singles = M.singles(ids)
    out = [(((m, d),), kn) for m, d, kn, _ in singles]
    common = [s[:3] for s in singles if s[3]]
    for (m1, d1, k1), (m2, d2, k2) in itertools.combinations(common, 2):
        if not set(k1) & set(k2):
            out.append((((m1, d1), (m2, d2)), {**k1, **k2}))
    return out


def _mistake_findings(combo, outputs, fn, step, api):
    """A Finding per mistake in combo; the words go on the first."""
    text = _mistake_text(combo, outputs, fn, step, api)
    return [Finding(m, outputs, text if j == 0 else "") for j, (m, _) in enumerate(combo)]


def _words(mistake, detail, api):
    """The catalogue's mistake in the API's own names (``api.WORDS``), when it has them."""
    words = getattr(api, "WORDS", {}).get(mistake.id)
    if words is None:
        return mistake, detail
    detail = getattr(api, "DETAILS", {}).get(mistake.id, lambda d: d)(detail)
    what, equation, fix = words
    return replace(mistake, what=what, equation=equation, fix=fix), detail


def _mistake_text(combo, outputs, fn, step, api):
    """One paragraph: which outputs match which mistake(s), the equation, the fix."""
    mistakes = [_words(CATALOGUE[m], d, api) for m, d in combo]
    whats = " and ".join(m.what.replace("{detail}", d) for m, d in mistakes)
    thing = "backward" if fn.kind == "backward" else "forward"
    lines = [f"{', '.join(outputs)} match{'es' if len(outputs) == 1 else ''} a {thing} in which {whats}."]
    if step and fn.kind == "backward" and any(m.step for m, _ in mistakes):
        lines.append(f"  This is in the step math: {step}, if your {fn.name} calls it.")
    for m, d in mistakes:
        lines.append(f"  equation: {m.equation}")
        lines.append(f"  fix: {m.fix.replace('{detail}', d)}")
    return "\n".join(lines)


def _hint(fn, wrong, right):
    """Which outputs are right and wrong, and where the API says that points."""
    w, r = set(wrong), set(right)
    text = (f"{', '.join(right)} {'is' if len(r) == 1 else 'are'} right; "
            f"{', '.join(wrong)} {'is' if len(w) == 1 else 'are'} wrong") if right \
        else f"every output ({', '.join(wrong)}) is wrong"
    return next((f"{text}: {h.text}." for h in fn.hints if h.applies(w, r)), text + ".")


def _compare(rows, ref, got):
    for k, r in ref.items():
        g = got[k]
        row = rows.setdefault(k, Row(k, r.shape))
        if g.shape != r.shape:
            row.got_shape = row.got_shape or g.shape
            row.err_ref = float("inf")
            continue
        e = rel_error(g, r)
        row.err_ref = e if row.err_ref is None else max(row.err_ref, e)


# =========================================================================== shape slips

_SCALES = [("1/N", lambda c: 1 / c.N, "averaged over the batch instead of summed"),
           ("1/(N*T)", lambda c: 1 / (c.N * c.T), "averaged over batch and time instead of summed"),
           ("1/T", lambda c: 1 / c.T, "divided by T"),
           ("N", lambda c: c.N, "multiplied by the batch size N"),
           ("T", lambda c: c.T, "multiplied by the number of steps T"),
           ("-1", lambda c: -1, "with the wrong sign"),
           ("2", lambda c: 2, "doubled"), ("1/2", lambda c: 0.5, "halved")]


def slip(name, got, ref, case, fam):
    """A shape-level explanation of a wrong output ``got``, or None: transposed axes, not
    summed over leading axes, or off by a constant factor."""
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    is_grad = name.startswith("d")
    exp, gs = "x".join(map(str, ref.shape)), "x".join(map(str, got.shape))
    step = "step" in fam.name
    for perm in itertools.permutations(range(ref.ndim)):
        if perm != tuple(range(ref.ndim)) and close(got, ref.transpose(perm)):
            if name in fam.weight_inputs:
                inp = fam.weight_inputs[name]
                fix = (f"{name} = {inp}.T @ da, with the input on the left and the gradient on the "
                       f"right (not da.T @ {inp}): a gradient has its parameter's shape, {exp}")
            else:
                fix = f"return {name} with shape {exp}: the axes are in the order the API gives"
            same = " (the shape is right because it is square, the values are not)" if gs == exp else ""
            return Finding("transposed", [name],
                           f"{name}: has the right values in transposed order (shape {gs}, expected "
                           f"{exp}){same}.\n  fix: {fix}")
    extra = got.ndim - ref.ndim
    if extra < 0 and got.size == ref.size and close(got.reshape(ref.shape), ref):
        return Finding("keepdims", [name],
                       f"{name}: has the right values without the axis of length 1 the API keeps "
                       f"(shape {gs}, expected {exp}).\n"
                       f"  fix: sum with keepdims=True (np.sum(..., keepdims=True)), or return "
                       f"{name}.reshape{ref.shape}")
    if extra > 0 and got.size == ref.size and close(got.reshape(ref.shape), ref):
        ravel = f"{name}.ravel()" if ref.ndim == 1 else f"{name}.reshape{ref.shape}"
        return Finding("keepdims", [name],
                       f"{name}: has the right values with an extra axis of length 1 (shape {gs}, "
                       f"expected {exp}), as a sum with keepdims=True gives.\n"
                       f"  fix: drop keepdims=True from the sum that makes {name} "
                       f"(np.sum(da, axis=0)), or return {ravel}")
    if extra > 0 and got.shape[extra:] == ref.shape and close(got.sum(tuple(range(extra))), ref):
        over = "the batch" if step else "the batch and time"
        return Finding("not_summed", [name],
                       f"{name}: has shape {gs}, not {exp}; summed over its first "
                       f"{'axis' if extra == 1 else f'{extra} axes'} it is right: it was not "
                       f"summed over {over}.\n"
                       "  equation: a parameter used at every position gets the sum of the "
                       "gradients of all positions\n"
                       f"  fix: sum over {over}, e.g. {name} = "
                       f"{'da' if step else 'dout'}.sum(axis={0 if extra == 1 else tuple(range(extra))})")
    if got.shape == ref.shape and np.any(ref):
        c = float(np.sum(got * ref) / np.sum(ref * ref))
        if abs(c - 1) > 1e-6 and close(got, c * ref):
            for label, val, meaning in _SCALES:
                if abs(c - val(case)) < 1e-9 * max(1, abs(c)):
                    how = f"{meaning} (factor {label} = {c:.4g})"
                    break
            else:
                how = f"off by a constant factor {c:.4g}"
            fix = ("sum over the batch, don't average: the loss already says how it is "
                   "averaged, and each layer passes gradients on unchanged"
                   if label in ("1/N", "1/(N*T)") and is_grad and np.isclose(c, val(case))
                   else f"find where {name} gets the factor {c:.4g}")
            return Finding("scaled", [name], f"{name}: is the right result {how}.\n  fix: {fix}")
    return None


# =========================================================================== running an API

def run(checker, only=()):
    """A FunctionReport for each of the API's functions (in ``only``, if given)."""
    broken = checker.loaded.broken if checker.loaded else {}
    pairs = [p for p in checker.api.PAIRS if not only or {p.forward.name, p.backward and p.backward.name} & only]
    reps = {p.forward.name: tuple(None if fn is None else _new_report(checker, fn, broken)
                                  for fn in (p.forward, p.backward)) for p in pairs}
    # Which convention each forward is written in; a layout some functions need (time-major,
    # unbatched) is then tried first for the others, which may work in any layout.
    convs = {}
    for pair in pairs:
        frep = reps[pair.forward.name][0]
        if pair.forward.name in checker.fns:
            why = checker.stub(pair.forward.name)
            if why:
                frep.message = why
            else:
                convs[pair.forward.name] = _guarded(checker, frep, checker.convention, pair)
    forced = [c.layout for p in pairs if (c := convs.get(p.forward.name)) is not None
              and c.layout != p.conventions[0].layout]
    if forced:
        layout = max(set(forced), key=forced.count)
        for pair in pairs:
            conv = convs.get(pair.forward.name)
            if conv is not None and conv.layout == pair.conventions[0].layout:
                frep = reps[pair.forward.name][0]
                convs[pair.forward.name] = _guarded(checker, frep, checker.convention, pair, layout) or conv
    reports = []
    for pair in pairs:
        fname = pair.forward.name
        bname = pair.backward.name if pair.backward else None
        frep, brep = reps[fname]
        conv = convs.get(fname) or pair.conventions[0]
        if fname in convs and frep.status == "not implemented" and not frep.message:
            _guarded(checker, frep, checker.check_forward, pair, conv, frep)
        if not only or fname in only or bname in only:
            reports.append(frep)
        if brep is None or (only and bname not in only):
            continue
        if bname not in checker.fns:
            pass
        elif checker.stub(bname):
            brep.message = checker.stub(bname)
        elif frep.status in ("pass", "fail"):
            _guarded(checker, brep, checker.check_backward, pair, conv, brep)
            if frep.status == "fail" and brep.status == "fail":
                # The backward works from the forward's cache: a generic hint would mislead.
                brep.findings = [f for f in brep.findings if f.id or not f.outputs]
                brep.findings.insert(0, Finding(None, [], (
                    f"Your {fname} does not pass, and {bname} works from what it stores in "
                    f"the cache: fix {fname} first, then check this again.")))
        else:
            # Without a working forward there is no cache. Is the backward written at all?
            n = len(conv.backward_args) - len(conv.optional)
            _guarded(checker, brep, checker.call, bname, *([None] * n))
            if brep.status != "not implemented":
                brep.status, brep.message = "not checked", _not_checked(pair)
        reports.append(brep)
    _blame_steps(checker, reports)
    for spec in getattr(checker.api, "LOSSES", ()):
        fn = spec.function
        if only and fn.name not in only:
            continue
        rep = _new_report(checker, fn, broken)
        if fn.name in checker.fns:
            why = checker.stub(fn.name)
            if why:
                rep.message = why
            else:
                _guarded(checker, rep, checker.check_loss, spec, rep)
        reports.append(rep)
    return reports


def _new_report(checker, fn, broken):
    rep = FunctionReport(fn.name, kind=fn.kind, provided=fn.provided)
    if fn.name in checker.fns:
        return rep
    if fn.name in broken:                   # defined, but Python cannot compile it
        rep.status, rep.message = "error", f"{fn.name} could not be compiled: {broken[fn.name]}."
    else:
        rep.message = ABSENT
    return rep


def _not_checked(pair):
    f, b = pair.forward.name, pair.backward.name
    return f"not checked until {f} passes: {b} works from the cache {f} makes"


def _explain(e, python2):
    """A sentence on the likely cause of a learner's error, when there is one to give."""
    frames = loading.learner_frames(e)
    code = frames[-1].tb_frame.f_code if frames else None
    msg = str(e)
    if isinstance(e, TypeError) and any(w in msg for w in ("float", "slice indices", "__index__")):
        places = loading.divisions(code, integers_only=True)
        if places:
            why = ("This file is Python 2 code: there, / on two integers gave an integer; in "
                   "Python 3 it gives a float" if python2 else
                   "In Python 3, / gives a float even between two integers")
            return (f". {why}, and a size, a slice or an index must be an integer. "
                    f"fix: use // ({'; '.join(places[:3])})")
    if type(e) is NameError and code is not None and getattr(e, "name", None):    # never assigned
        node = loading.definition(code)
        returned = {n.id for r in ast.walk(node) if isinstance(r, ast.Return) and r.value is not None
                    for n in ast.walk(r.value) if isinstance(n, ast.Name)} if node else set()
        if e.name in returned:
            return (f". {code.co_name} returns {e.name} but never assigns it (the starter's "
                    f"return line names it): return the variable that holds it, or assign {e.name}")
    return ""


def _blame_steps(checker, reports):
    """A sequence function that fails and calls a failing step function: say so first."""
    by_name = {r.name: r for r in reports}
    for pair in checker.api.PAIRS:
        for fn in (pair.forward, pair.backward):
            r = by_name.get(fn.name) if fn else None
            step = checker.step_of(pair, fn) if r else None
            s = by_name.get(step)
            if s is None or r.status in ("pass", "not checked") or s.status in ("pass", "not checked") \
                    or r.name not in checker.fns:
                continue
            code = getattr(checker.fns[r.name], "__code__", None)
            if code is None or step not in code.co_names:
                continue
            ids = {f.id for f in r.findings if f.id}
            same = ids and ids <= {f.id for f in s.findings if f.id}
            if same:        # the step's mistake, seen through the loop: no need to say it twice
                r.findings = [f for f in r.findings if not f.id]
            r.findings.insert(0, Finding(sorted(ids)[0] if same else None, [], (
                f"Your {r.name} calls your {step}, which does not pass"
                + (f", and fails with the same mistake ({'; '.join(_mistake_words(i) for i in sorted(ids))})"
                   if same else "")
                + f": fix {step} first, then check this again.")))


def _mistake_words(mistake_id: str) -> str:
    """A catalogue mistake in words ("dprev_c is returned as dc instead of dc * f")."""
    m = CATALOGUE.get(mistake_id)
    return m.what if m is not None and "{" not in m.what else mistake_id.replace("_", " ")


def _guarded(checker, rep, fn, *args):
    """Run fn under the time limit; the learner's errors go into ``rep``."""
    try:
        with time_limit(checker.timeout):
            return fn(*args)
    except Timeout:
        rep.status = "timeout"
        rep.message = (f"{rep.name} did not finish within {checker.timeout:g} s: an endless "
                       "loop? (a while loop whose condition never changes, a loop index never "
                       "incremented). The other functions were still checked.")
    except LearnerError as e:
        rep.status, rep.message = e.status, str(e)
        if e.status == "error":
            rep.message += "."
    return None
