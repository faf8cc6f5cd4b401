"""charlstm check on the files learners really have: Python 2-era code, notebooks, starter
code of each vintage, stale imports, other layouts (tests/learners/files/, written for
these tests in the learners' styles, not copied from anyone's repository).
"""

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from charlstm import checker as C

from conftest import run_cli

FILES = Path(__file__).parent / "learners" / "files"
CLASSIC = Path(__file__).parent / "learners" / "correct_classic.py"
PROVIDED = ["temporal_affine_forward", "temporal_affine_backward", "temporal_softmax_loss"]
TO_WRITE = [n for n in C.SPECS if n not in PROVIDED]


@lru_cache(maxsize=None)
def report(name):
    return C.check(FILES / name)


def by_name(rep):
    return {f.name: f for f in rep.functions}


# --------------------------------------------------------------------------- Python 2

@pytest.mark.parametrize("before,after", [
    ("print 'dx_flat: ', dx_flat.shape\n", "print('dx_flat: ', dx_flat.shape)\n"),
    ("if verbose: print 'loss', loss  # debug\n", "if verbose: print('loss', loss)  # debug\n"),
    ("print x,\n", "print(x, end=' ')\n"),
    ("print >>sys.stderr, 'a', b\n", "print('a', b, file=sys.stderr)\n"),
    ("for a in b:\n    print\n", "for a in b:\n    print()\n"),
    ("print 'a %d' % (3,); y = 1\n", "print('a %d' % (3,)); y = 1\n"),
    ("print ('x', (1,\n       2))\n", "print ('x', (1,\n       2))\n"),          # already a call
    ("print('x')\nprinted = 'print x'\n", "print('x')\nprinted = 'print x'\n"),
    ("try:\n    f()\nexcept ValueError, e:\n    pass\n", "try:\n    f()\nexcept ValueError as e:\n    pass\n"),
    ("except (A, B), e:\n", "except (A, B) as e:\n"),
    ("except (A, B):\n", "except (A, B):\n"),
])
def test_python2_statements_are_rewritten_in_place(before, after):
    from charlstm.checker import python2
    r = python2.rewrite(before)
    assert r.source == after
    assert r.source.count("\n") == before.count("\n")           # line numbers do not move
    assert r.python2 == (before != after)


def test_a_python2_file_whose_math_is_right_passes():
    """Print statements (in the starter's loss, in helpers, at the top level), `print >>f`,
    `except E, e` and xrange: before, exit 2 at the first print statement."""
    r = run_cli("check", FILES / "py2_correct.py", "--json")
    assert r.returncode == 0, r.stdout
    out = json.loads(r.stdout)
    assert out["ok"] is True and out["loading"]["python2"] is True
    assert out["loading"]["rewritten"] == {"print": 5, "except": 1, "xrange": True}
    assert out["loading"]["skipped"] == []
    assert all(f["status"] == "pass" for f in out["functions"])
    text = report("py2_correct.py").text()
    assert ("Python 2 code: charlstm check runs Python 3, so it read 5 print statements as print() "
            "calls, xrange as range and `except E, e` as `except E as e` (1).") in text


def test_a_python2_file_that_is_wrong_is_diagnosed_and_integer_division_named():
    rep = report("py2_wrong.py")
    fns = by_name(rep)
    assert rep.exit_code == 1
    step = fns["lstm_step_forward"]
    assert step.status == "error"
    assert "This file is Python 2 code: there, / on two integers gave an integer" in step.message
    assert "fix: use // (line 82: H = H4 / 4)" in step.message
    assert fns["lstm_step_backward"].status == "not checked"
    assert "not checked until lstm_step_forward passes" in fns["lstm_step_backward"].message
    assert "rnn_tanh_of_activated" in [f.id for f in fns["rnn_step_backward"].findings]
    assert fns["rnn_step_forward"].status == fns["word_embedding_backward"].status == "pass"


def test_integer_division_in_python3_code_is_named_too():
    mod = C.load_file(CLASSIC)

    def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
        H = Wx.shape[1] / 4
        a = x @ Wx + prev_h @ Wh + b
        i = 1 / (1 + np.exp(-a[:, :H]))
        return mod.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b) if i is None else None

    f = by_name(C.check(lstm_step_forward=lstm_step_forward))["lstm_step_forward"]
    assert f.status == "error" and "Python 2" not in f.message
    assert "In Python 3, / gives a float even between two integers" in f.message
    assert "H = Wx.shape[1] / 4" in f.message


# --------------------------------------------------------------------------- tolerant loading

def test_a_stale_import_is_skipped_and_the_file_still_passes():
    rep = report("stale_import.py")
    assert rep.exit_code == 0
    skipped = {s.statement: s for s in rep.loaded.skipped}
    assert skipped["from scipy.misc import imread"].where == "line 4"
    if int(np.__version__.split(".")[0]) >= 2:               # NumPy 2 removed function_base
        assert "ModuleNotFoundError" in skipped["from numpy.lib.function_base import iterable"].reason
    assert "line 4: from scipy.misc import imread: ModuleNotFoundError" in rep.text()


def test_a_top_level_training_loop_is_stopped_after_the_time_limit(tmp_path):
    path = tmp_path / "train_at_import.py"
    head = CLASSIC.read_text().split("\ndef rnn_forward")[0] + "\n\nstep = 0\n"
    path.write_text(head + "while step >= 0:\n    step += 1\n\n"
                    "def word_embedding_forward(x, W):\n    return W[x], (x, W.shape[0])\n")
    rep = C.check(path, timeout=1.0, only=["rnn_step_backward", "word_embedding_forward"])
    assert [s.text() for s in rep.loaded.skipped] == [
        f"line {head.count(chr(10)) + 1}: while step >= 0: still running after 1 s (a training loop at "
        "the top level? put it under `if __name__ == \"__main__\":`), stopped, skipped"]
    assert rep.ok and {f.name for f in rep.checked} >= {"rnn_step_backward", "word_embedding_forward"}


def test_a_top_level_while_true_without_break_is_not_run_at_all(tmp_path):
    path = tmp_path / "trains_forever.py"
    head = CLASSIC.read_text().split("\ndef rnn_forward")[0] + "\n\nstep = 0\n"
    path.write_text(head + "while True:\n    step += 1\n    if step < 0:\n        print(step)\n\n"
                    "while 1:\n    for k in range(3):\n        break\n\n"          # its break ends the for only
                    "while True:\n    if step > 3:\n        break\n    step += 1\n\n"   # ends: it is run
                    "def word_embedding_forward(x, W):\n    return W[x], (x, W.shape[0])\n")
    mod = C.loading.load(path, timeout=5)    # a loop that ran would be stopped after 5 s
    first = head.count(chr(10)) + 1
    assert [s.text() for s in mod.skipped] == [
        f"line {line}: {what}: a loop that never ends (no break), so it was not run (a training "
        "loop at the top level? put it under `if __name__ == \"__main__\":`), skipped"
        for line, what in [(first, "while True"), (first + 5, "while 1")]]
    assert mod.module.step == 4 and callable(mod.module.word_embedding_forward)


def test_the_learners_code_cannot_read_stdin_while_loading(tmp_path):
    path = tmp_path / "asks.py"
    path.write_text("name = input('your name: ')\n\ndef word_embedding_forward(x, W):\n"
                    "    return W[x], None\n")
    rep = C.check(path, only="word_embedding_forward")
    assert rep.ok and rep.loaded.skipped[0].reason.startswith("EOFError")


def test_a_notebook_is_read_cell_by_cell_with_cell_and_line_numbers():
    rep = report("notebook_layers.ipynb")
    fns = by_name(rep)
    assert rep.loaded.notebook
    assert [s.text() for s in rep.loaded.skipped] == [
        "cell 3, line 1: from cs231n.coco_utils import load_coco_data: ModuleNotFoundError: "
        "No module named 'cs231n', skipped",
        "cell 3, line 2: data = load_coco_data(pca_features=True): NameError: name "
        "'load_coco_data' is not defined, skipped",
        "cell 10: %%bash: a cell magic, not Python, skipped"]     # %matplotlib, !pip, np.tanh? left out
    assert "(notebook_layers.ipynb, cell 5, line 8, in rnn_forward)" in fns["rnn_forward"].message
    assert fns["rnn_backward"].status == "not checked"
    for name in ("rnn_step_forward", "rnn_step_backward", "lstm_step_forward", "lstm_step_backward",
                 "lstm_forward", "lstm_backward"):
        assert fns[name].status == "pass", fns[name].text()
    assert rep.exit_code == 1
    assert C.load_file(FILES / "notebook_layers.ipynb").small.shape == (2, 4)    # the %%time cell ran


# --------------------------------------------------------------------------- verdicts a grader can trust

@pytest.mark.parametrize("vintage", [2016, 2017, 2020])
def test_an_untouched_starter_is_not_a_pass(vintage):
    """The starter's own affine and loss pass, but do not make a pass by themselves."""
    rep = report(f"starter_{vintage}.py")
    fns = by_name(rep)
    assert rep.exit_code == 1 and rep.ok is False
    assert all(fns[n].status == "not implemented" for n in TO_WRITE), rep.text()
    assert all(fns[n].status == "pass" and fns[n].provided for n in PROVIDED)
    assert "none of those you write is implemented yet, so this is no pass" in rep.summary()
    out = json.loads(rep.to_json())
    assert out["ok"] is False
    assert {f["function"] for f in out["functions"] if f["provided_by_starter"]} == set(PROVIDED)
    if vintage < 2020:      # returns dprev_h, dprev_c, never assigned: NameError when called
        msg = fns["lstm_step_backward"].message
        assert "returns dprev_h, dprev_c without assigning them" in msg
    if vintage == 2016:
        assert rep.loaded.python2.prints == 1


def test_a_starter_with_one_function_written_passes_and_the_provided_ones_still_count():
    src = (FILES / "starter_2017.py").read_text()
    mod = C.load_file(CLASSIC)
    rep = C.check(dict(vars(C.load_file(FILES / "starter_2017.py")), rnn_step_forward=mod.rnn_step_forward))
    assert rep.ok and by_name(rep)["rnn_step_forward"].status == "pass"
    broken = dict(vars(C.load_file(FILES / "starter_2017.py")), rnn_step_forward=mod.rnn_step_forward,
                  temporal_affine_forward=lambda x, w, b: (x @ w, None))      # the provided one broken
    assert not C.check(broken).ok
    assert "def temporal_affine_forward" in src


def test_a_provided_function_asked_for_by_name_is_graded():
    r = run_cli("check", FILES / "starter_2017.py", "--only", "temporal_softmax_loss")
    assert r.returncode == 0, r.stdout
    mod = C.load_file(CLASSIC)
    assert C.check(temporal_affine_forward=mod.temporal_affine_forward,
                   temporal_affine_backward=mod.temporal_affine_backward).ok


# --------------------------------------------------------------------------- diagnoses that name the real cause

def test_keepdims_is_named_with_its_fix():
    rep = C.check(Path(__file__).parent / "learners" / "mistake_lstm_db_keepdims.py")
    f = by_name(rep)["lstm_step_backward"]
    assert [x.id for x in f.findings] == ["keepdims"]
    text = f.text()
    assert "db: has the right values with an extra axis of length 1 (shape 1x24, expected 24)" in text
    assert "fix: drop keepdims=True from the sum that makes db (np.sum(da, axis=0)), or return db.ravel()" in text
    assert "not summed" not in text and "sum over the batch" not in text


def test_a_forward_returning_none_is_a_forward_error_and_the_stub_after_it_not_implemented():
    rep = report("forward_returns_none.py")
    fns = by_name(rep)
    fwd = fns["lstm_forward"]
    assert fwd.status == "error" and "lstm_forward returns h as None" in fwd.message
    assert "gradient entering step t" not in fwd.text()
    assert fns["lstm_backward"].status == "not implemented"
    # A written backward after that forward is not checked, and not counted as an error.
    mod = C.load_file(FILES / "forward_returns_none.py")
    ref = C.load_file(CLASSIC)
    rep = C.check(mod, lstm_backward=ref.lstm_backward)
    b = by_name(rep)["lstm_backward"]
    assert b.status == "not checked"
    assert b.message == ("not checked until lstm_forward passes: lstm_backward works from the "
                         "cache lstm_forward makes")
    assert "1 failed, 1 not checked" in rep.summary()


def test_a_wrong_forward_gets_forward_advice():
    ref = C.load_file(CLASSIC)

    def lstm_forward(x, h0, Wx, Wh, b):             # the cell state is never carried
        N, T, D = x.shape
        h, cache = np.zeros((N, T, h0.shape[1])), []
        prev_h = h0
        for t in range(T):
            prev_h, _, c = ref.lstm_step_forward(x[:, t], prev_h, np.zeros_like(h0), Wx, Wh, b)
            h[:, t] = prev_h
            cache.append(c)
        return h, cache

    rep = C.check(lstm_forward=lstm_forward, lstm_step_forward=ref.lstm_step_forward)
    text = by_name(rep)["lstm_forward"].text()
    assert "every output (h) is wrong: if lstm_step_forward passes, look at the loop" in text
    assert "the hidden and cell states of step t-1 (h0, and c0 = 0 at t = 0)" in text
    assert "gradient entering step t" not in text and "+=" not in text


def test_a_name_the_starters_return_line_uses_but_the_learner_renamed_is_explained():
    ref = C.load_file(CLASSIC)

    def rnn_step_backward(dnext_h, cache):
        dx, dh, dWx, dWh, db = ref.rnn_step_backward(dnext_h, cache)
        return dx, dprev_h, dWx, dWh, db            # noqa: F821  (the starter's name)

    rep = C.check(rnn_step_forward=ref.rnn_step_forward, rnn_step_backward=rnn_step_backward)
    f = by_name(rep)["rnn_step_backward"]
    assert f.status == "error"
    assert "rnn_step_backward returns dprev_h but never assigns it" in f.message


# --------------------------------------------------------------------------- other layouts

def test_a_time_major_file_is_named_and_checked_in_its_layout():
    rep = report("layout_time_major.py")
    fns = by_name(rep)
    assert rep.ok, rep.text()
    assert fns["lstm_backward"].convention == "coursework signature; time-major layout: x (T, N, D), h (T, N, H)"
    assert fns["temporal_softmax_loss"].convention.endswith("time-major layout: x (T, N, V), dx (T, N, V)")
    assert fns["lstm_step_forward"].convention == "coursework signature"
    assert not any("extended" in f.convention for f in rep.functions)


def test_a_mistake_in_a_time_major_file_is_diagnosed_in_its_layout():
    mod = C.load_file(FILES / "layout_time_major.py")

    def lstm_backward(dh, caches):                  # the gradient from step t+1 is dropped
        T, N, H = dh.shape
        D = caches[0][0].shape[1]
        dx, dWx, dWh, db = np.zeros((T, N, D)), np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
        dc = np.zeros((N, H))
        for t in reversed(range(T)):
            dx[t], dh0, dc, gx, gh, gb = mod.lstm_step_backward(dh[t], dc, caches[t])
            dWx, dWh, db = dWx + gx, dWh + gh, db + gb
        return dx, dh0, dWx, dWh, db

    rep = C.check(mod, lstm_backward=lstm_backward)
    f = by_name(rep)["lstm_backward"]
    assert "time-major" in f.convention and f.status == "fail"
    assert [x.id for x in f.findings] == ["seq_no_dnext_h"]
    assert [f.name for f in rep.functions if f.status != "pass"] == ["lstm_backward"]


def test_an_unbatched_file_is_named_and_checked_in_its_layout():
    rep = report("layout_unbatched.py")
    fns = by_name(rep)
    assert rep.ok, rep.text()
    assert fns["lstm_forward"].convention == "coursework signature; unbatched (one sequence): x (T, D), h (T, H)"
    assert fns["lstm_step_backward"].convention == "coursework signature; unbatched (one vector): x (D,), next_h (H,)"
    assert fns["word_embedding_backward"].convention.endswith("unbatched (one sequence): x (T,), out (T, D)")


def test_a_loss_without_a_mask_is_called_without_one():
    rep = C.check(FILES / "softmax_no_mask.py", only="temporal_softmax_loss")
    f = by_name(rep)["temporal_softmax_loss"]
    assert f.status == "pass" and f.convention == "no mask: every position counts, loss divided by N"
    assert rep.ok                                   # asked for by name


def test_labels_say_only_what_was_detected():
    """c0 in without final states out was labelled charlstm's extended signature, and failed."""
    ext = C.load_file(Path(__file__).parent / "learners" / "correct_extended.py")

    def lstm_forward(x, h0, c0, Wx, Wh, b):
        h, hT, cT, cache = ext.lstm_forward(x, h0, c0, Wx, Wh, b)
        return h, cache

    def lstm_backward(dh, cache):
        return ext.lstm_backward(dh, cache)

    rep = C.check(lstm_forward=lstm_forward, lstm_backward=lstm_backward)
    fns = by_name(rep)
    assert fns["lstm_forward"].convention == "c0 in (x, h0, c0, Wx, Wh, b)"
    assert rep.ok, rep.text()
    assert by_name(C.check(Path(__file__).parent / "learners" / "correct_extended.py"))[
        "lstm_forward"].convention == "charlstm's extended signature: c0 in, final states out"


def test_an_unclosed_bracket_costs_only_its_own_function(tmp_path):
    """The file does not parse and cannot even be tokenized to its end: the statements
    before and after the broken one still load."""
    src = CLASSIC.read_text()
    head, tail = src.split("\ndef rnn_forward")
    path = tmp_path / "unclosed.py"
    path.write_text(head + "\ndef rnn_forward(x, h0, Wx, Wh, b):\n    h = np.zeros((x.shape[0],\n\n"
                    "def rnn_forward_unused" + tail)
    rep = C.check(path, only=["rnn_step_backward", "lstm_step_backward", "lstm_backward"])
    fns = by_name(rep)
    assert rep.ok, rep.text()
    assert [s.statement for s in rep.loaded.skipped] == ["def rnn_forward"]
    assert fns["lstm_backward"].status == "pass"
