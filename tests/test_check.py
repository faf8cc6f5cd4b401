"""charlstm check on learner files written independently of the checker (tests/learners/).

manifest.json records, for each file, which mistake it makes and which outputs it gets
wrong, as its author measured them against a correct file: the checker must agree.
"""

import json
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from charlstm import checker as C
from charlstm.errors import CharlstmError

from conftest import run_cli

HERE = Path(__file__).parent / "learners"
MANIFEST = json.loads((HERE / "manifest.json").read_text())
BY_FILE = {m["file"]: m for m in MANIFEST}

# The manifest's name for each mistake -> the catalogue id that must diagnose it.
EXPECTED_ID = {
    "lstm_dc_no_h_path": "lstm_dc_no_h_path",
    "lstm_dc_only_h_path": "lstm_dc_only_h_path",
    "lstm_sigmoid_of_activated": "lstm_sigmoid_of_activated",
    "lstm_tanh_of_tanh_c": "lstm_tanh_of_tanh_c",
    "lstm_tanh_of_g": "lstm_tanh_of_g",
    "lstm_dprev_c_is_dc": "lstm_dprev_c_is_dc",
    "lstm_backward_gate_order_ifgo": "lstm_backward_gate_order",
    "lstm_forward_gate_order_ifgo": "lstm_gate_order",
    "lstm_dWx_transposed": "transposed",
    "lstm_db_not_summed": "not_summed",
    "lstm_db_keepdims": "keepdims",
    "lstm_db_mean": "scaled",
    "lstm_seq_no_dnext_h": "seq_no_dnext_h",
    "lstm_seq_dc_not_carried": "lstm_seq_dc_not_carried",
    "lstm_seq_weights_assigned": "seq_weights_assigned",
    "lstm_seq_final_state_ignored": "seq_final_state_ignored",
    "rnn_tanh_of_activated": "rnn_tanh_of_activated",
    "rnn_seq_no_dnext_h": "seq_no_dnext_h",
    "rnn_seq_weights_assigned": "seq_weights_assigned",
    "rnn_dWh_transposed": "transposed",
    "embedding_assign": "embedding_assign",
    "softmax_divide_NT": "softmax_divide_NT",
    "softmax_ignores_mask": "softmax_ignores_mask",
    "affine_db_wrong_axis": "not_summed",
    "lstm_do_uses_dc": "lstm_do_uses_dc",
    "seq_loop_forward": "seq_loop_forward",
    "lstm_dprev_c_is_dc+lstm_dWx_transposed": ("lstm_dprev_c_is_dc", "transposed"),
    "lstm_h_no_tanh": "lstm_h_no_tanh",
    "lstm_g_sigmoid": "lstm_g_sigmoid",
}
MISTAKES = [m for m in MANIFEST if m["kind"] == "mistake"]


@lru_cache(maxsize=None)
def report(name, timeout=C.TIMEOUT):
    return C.check(HERE / name, timeout=timeout)


def by_name(rep):
    return {f.name: f for f in rep.functions}


def test_every_manifest_mistake_has_an_expected_diagnosis():
    assert {m["mistake"] for m in MISTAKES} == set(EXPECTED_ID)
    for ids in EXPECTED_ID.values():
        assert set(ids if isinstance(ids, tuple) else [ids]) <= set(C.CATALOGUE)


@pytest.mark.parametrize("name", ["correct_classic.py", "correct_extended.py"])
def test_a_correct_file_passes_below_1e_7(name):
    rep = report(name)
    assert rep.ok and rep.exit_code == 0
    for f in rep.checked:
        assert f.status == "pass", f.text()
        assert f.findings == []
        for r in f.rows:
            assert r.err_ref < 1e-7
            if r.err_fd is not None:
                assert r.err_fd < C.FD_RIGHT
    if name == "correct_extended.py":
        assert "extended" in by_name(rep)["lstm_backward"].convention


def test_charlstms_own_layers_pass_in_their_own_conventions():
    from charlstm import layers
    rep = C.check(layers)
    assert rep.ok and len(rep.checked) == len(C.SPECS)


@pytest.mark.parametrize("entry", MISTAKES, ids=[m["file"] for m in MISTAKES])
def test_each_learner_mistake_is_diagnosed(entry):
    rep = report(entry["file"])
    fns = by_name(rep)
    assert rep.exit_code == 1
    where = fns[entry["functions"][0]]               # the function the mistake is in
    assert where.status == "fail", where.text()
    ids = [f.id for f in where.findings]
    expected = EXPECTED_ID[entry["mistake"]]
    for mid in expected if isinstance(expected, tuple) else [expected]:
        assert mid in ids, where.text()
    assert "fix:" in where.text()
    # The checker finds wrong exactly the outputs the file's author measured as wrong.
    for fname, outs in entry["wrong_outputs"].items():
        wrong = {r.name for r in fns[fname].rows if not r.ok}
        assert wrong == set(outs), (fname, fns[fname].text())
    # Everything the mistake does not touch passes.
    for f in rep.checked:
        if f.name not in entry["functions"]:
            assert f.status == "pass", f.text()


def test_a_diagnosis_names_the_equation_and_the_fix():
    text = by_name(report("mistake_lstm_dc_no_h_path.py"))["lstm_step_backward"].text()
    assert "dprev_c" in text and "match a backward in which dc ignores h_t = o * tanh(c_t)" in text
    assert "fix: add dnext_h * o * (1 - tanh(next_c)**2) to dnext_c" in text


def test_a_sequence_function_that_fails_through_its_step_function_says_so():
    fns = by_name(report("mistake_lstm_dc_no_h_path.py"))
    text = fns["lstm_backward"].text()
    assert "calls your lstm_step_backward" in text and "same mistake" in text


def test_a_backward_consistent_with_a_wrong_forward_is_told_to_fix_the_forward():
    fns = by_name(report("mistake_lstm_forward_gate_order_ifgo.py"))
    assert "lstm_gate_order" in [f.id for f in fns["lstm_step_forward"].findings]
    bwd = fns["lstm_step_backward"]
    assert all(r.err_fd < C.FD_RIGHT for r in bwd.rows)
    assert "Fix lstm_step_forward first" in bwd.text()


def test_a_backward_that_fails_through_its_forward_says_fix_the_forward_first():
    fns = by_name(report("mistake_lstm_g_sigmoid.py"))
    text = fns["lstm_step_backward"].text()
    assert "Your lstm_step_forward does not pass" in text and "dc is probably wrong" not in text
    # A right backward next to a wrong forward passes, and says where the disagreement is.
    fns = by_name(report("mistake_lstm_h_no_tanh.py"))
    assert fns["lstm_step_backward"].status == "pass"
    assert "but not finite differences of your own lstm_step_forward" in fns["lstm_step_backward"].text()


# Mistakes only other APIs can make, each with its learner file (diagnosed in test_check_apis.py).
OTHER_API_FILES = {"dlai/mistake_dxt_wrong_slice.py": "concat_dx_wrong_rows",
                   "dlai/mistake_rnn_da_prev_not_transposed.py": "rnn_dprev_h_not_transposed"}


def test_every_catalogue_mistake_has_a_learner_file():
    ids = set(OTHER_API_FILES.values())
    for v in EXPECTED_ID.values():
        ids |= set(v if isinstance(v, tuple) else [v])
    assert set(C.CATALOGUE) - ids == set()
    assert all((HERE / f).is_file() for f in OTHER_API_FILES)


def test_nothing_matched_says_which_gradients_are_right_and_wrong():
    """Two mistakes the catalogue has no pair for: the hint lists right and wrong outputs."""
    mod = C.load_file(HERE / "correct_classic.py")

    def lstm_step_backward(dnext_h, dnext_c, cache):
        dx, dprev_h, dprev_c, dWx, dWh, db = mod.lstm_step_backward(dnext_h, dnext_c, cache)
        return dx, dprev_h * 1.5, dprev_c, dWx, dWh + 0.1, db
    rep = C.check(lstm_step_forward=mod.lstm_step_forward, lstm_step_backward=lstm_step_backward)
    f = by_name(rep)["lstm_step_backward"]
    assert f.status == "fail"
    assert {r.name for r in f.rows if not r.ok} == {"dprev_h", "dWh"}
    assert "look at the recurrent term" in f.text()
    assert "dx, dprev_c, dWx, db are right" in f.text()


# --------------------------------------------------------------------------- bad files

def test_a_file_that_cannot_be_loaded_at_all_exits_2_in_one_line(tmp_path):
    r = run_cli("check", tmp_path / "missing.py")
    assert r.returncode == 2 and "no such file" in r.stderr
    prose = tmp_path / "notes.py"
    prose.write_text("These are my notes for the RNN assignment, not code.\n")
    bad_nb = tmp_path / "broken.ipynb"
    bad_nb.write_text("{ not json")
    for path, words in [(prose, "nothing in it runs"), (bad_nb, "not a readable notebook"),
                        (tmp_path, "no such file")]:
        r = run_cli("check", path)
        assert r.returncode == 2, r.stdout
        assert r.stderr.startswith("error: ") and words in r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_failing_import_is_skipped_and_the_rest_of_the_file_checked():
    """bad_import.py imports cs231n modules that are not there: before, exit 2; now those
    two statements are listed as skipped and the functions (all right) pass."""
    r = run_cli("check", HERE / "bad_import.py")
    assert r.returncode == 0, r.stdout
    assert "line 3: from cs231n.layers import *: ModuleNotFoundError: No module named 'cs231n', skipped" in r.stdout
    assert "line 4: from cs231n.fast_layers import conv_forward_fast" in r.stdout


def test_a_function_that_does_not_compile_is_named_and_the_rest_checked():
    """bad_syntax.py's rnn_backward lacks a colon: before, exit 2 for the whole file."""
    rep = report("bad_syntax.py")
    f = by_name(rep)["rnn_backward"]
    assert f.status == "error" and rep.exit_code == 1
    assert f.message.startswith("rnn_backward could not be compiled: expected ':', line 58: for t in range")
    assert all(g.status == "pass" for g in rep.functions if g.name != "rnn_backward")
    assert "line 49: def rnn_backward: does not compile" in rep.text()


def test_wrong_signatures_are_named_with_the_coursework_signature():
    fns = by_name(report("bad_signature.py"))
    assert fns["lstm_step_forward"].status == "bad signature"
    assert "lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)" in fns["lstm_step_forward"].message
    assert fns["rnn_step_backward"].status == "bad signature"
    assert "returned 4 values" in fns["rnn_step_backward"].message
    assert fns["lstm_step_backward"].status == "not checked"


def test_wrong_shapes_are_explained():
    fns = by_name(report("bad_shape.py"))
    step = fns["rnn_step_forward"]
    assert step.status == "fail" and step.findings[0].id == "transposed"
    assert "shape 6x3, expected 3x6" in step.text()
    assert fns["lstm_forward"].findings[0].id == "transposed"
    assert fns["rnn_forward"].status == "pass"


def test_a_hanging_function_times_out_and_the_rest_is_still_checked():
    t = time.monotonic()
    rep = C.check(HERE / "bad_hang.py", timeout=1.0)
    assert time.monotonic() - t < 15
    fns = by_name(rep)
    assert fns["rnn_backward"].status == "timeout"
    assert "did not finish within 1 s" in fns["rnn_backward"].message
    assert fns["lstm_backward"].status == "pass"


def test_a_learner_error_is_shown_in_one_line_with_its_place():
    f = by_name(report("bad_raises.py"))["rnn_forward"]
    assert f.status == "error"
    assert "IndexError" in f.message and "bad_raises.py, line" in f.message
    assert "\n" not in f.message


def test_starter_code_counts_as_not_implemented():
    rep = report("partial.py")
    fns = by_name(rep)
    assert fns["rnn_step_forward"].status == fns["rnn_step_backward"].status == "pass"
    assert all(f.status == "not implemented" for f in rep.functions if not f.name.startswith("rnn_step"))
    assert rep.exit_code == 0


def test_the_learners_prints_do_not_reach_the_report():
    rep = report("prints.py")
    assert rep.ok and rep.printed > 0
    r = run_cli("check", HERE / "prints.py")
    assert r.returncode == 0
    assert "lines while being checked" in r.stdout


def test_returning_the_placeholders_counts_as_not_implemented():
    rep = C.check(rnn_step_forward=lambda x, prev_h, Wx, Wh, b: (None, None))
    f = by_name(rep)["rnn_step_forward"]
    assert f.status == "not implemented" and "placeholder" in f.message
    assert rep.exit_code == 1


# --------------------------------------------------------------------------- template, json, notebook

@pytest.mark.parametrize("kind", ["rnn", "lstm", "all"])
def test_the_template_is_reported_as_not_implemented(kind, tmp_path):
    r = run_cli("check", "--template", kind)
    assert r.returncode == 0
    path = tmp_path / "mine.py"
    path.write_text(r.stdout)
    for name in C.TEMPLATES[kind]:
        assert f"def {C.SPECS[name].signature}:" in r.stdout
    rep = C.check(path)
    assert rep.exit_code == 1 and not rep.checked
    for f in rep.functions:
        assert f.status == "not implemented"
    assert "Nothing is implemented yet" in rep.text()


def test_json_has_one_record_per_function():
    r = run_cli("check", HERE / "mistake_lstm_dprev_c_is_dc.py", "--json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["ok"] is False
    recs = {x["function"]: x for x in out["functions"]}
    assert set(recs) == set(C.SPECS)
    rec = recs["lstm_step_backward"]
    assert rec["status"] == "fail" and rec["diagnosis"] == ["lstm_dprev_c_is_dc"]
    assert rec["max_rel_error"]["dprev_c"] > 1e-3 and rec["max_rel_error"]["dx"] < 1e-7
    assert set(rec["max_rel_error_vs_finite_diff"]) == {"dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"}


def test_only_checks_one_function_and_the_forward_it_needs():
    r = run_cli("check", HERE / "correct_classic.py", "--only", "lstm_step_backward")
    assert r.returncode == 0
    assert "lstm_step_forward" in r.stdout and "lstm_step_backward" in r.stdout
    assert "rnn_forward" not in r.stdout
    r = run_cli("check", HERE / "correct_classic.py", "--only", "lstm_nonsense")
    assert r.returncode == 2 and "unknown function" in r.stderr


def test_the_notebook_api_takes_a_namespace_or_functions_by_name():
    mod = C.load_file(HERE / "correct_classic.py")
    assert C.check(dict(vars(mod))).ok
    rep = C.check(rnn_step_forward=mod.rnn_step_forward, rnn_step_backward=mod.rnn_step_backward)
    assert [f.name for f in rep.checked] == ["rnn_step_forward", "rnn_step_backward"] and rep.ok
    assert "<table>" in rep._repr_html_() and "rnn_step_backward" in str(rep)
    import charlstm
    assert charlstm.check is C.check
    with pytest.raises(CharlstmError):
        C.check(42)


# --------------------------------------------------------------------------- the catalogue itself

from charlstm.checker import engine as E                       # noqa: E402
from charlstm.checker.apis import cs231n                        # noqa: E402

# One convention per family: a convention's other layouts share its math.
CONVENTIONS = list({id(conv.family): (pair, conv) for pair in cs231n.PAIRS
                    for conv in reversed(pair.conventions)}.values())
CONV_IDS = [f"{pair.forward.name}-{conv.label}" for pair, conv in CONVENTIONS]


def _case(conv, sizes):
    case = C.Case(*conv.layout.sizes(sizes), rng=np.random.default_rng(5))
    return case, conv.family.make(case)


@pytest.mark.parametrize("pair,conv", CONVENTIONS, ids=CONV_IDS)
@pytest.mark.parametrize("sizes", C.CASES)
def test_the_naive_implementation_equals_layers_py(pair, conv, sizes):
    """With no mistake switched on, the catalogue's naive code is the reference (to round-off:
    layers.py sums in another order)."""
    fam = conv.family
    case, inp = _case(conv, sizes)
    ref, naive = fam.reference(inp), fam.naive(inp)
    assert ref.keys() == naive.keys() == set(fam.outputs)
    for k in ref:
        assert C.rel_error(ref[k], naive[k]) < 1e-10
    if fam.grads:
        up = {"d" + n: case.rng.standard_normal(v.shape) for n, v in ref.items()}
        ref, naive = fam.reference(inp, up), fam.naive(inp, up)
        assert ref.keys() == naive.keys() == set(fam.grads)
        for k in ref:
            assert C.rel_error(ref[k], naive[k]) < 1e-10


@pytest.mark.parametrize("pair,conv", CONVENTIONS, ids=CONV_IDS)
def test_every_catalogue_variant_differs_from_the_reference(pair, conv):
    """A variant equal to the reference could never be told apart: each must change something."""
    fam = conv.family
    for fn in (pair.forward, pair.backward):
        if fn is None or not fn.mistakes:
            continue
        case, inp = _case(conv, C.CASES[0])
        up = None
        if fn.kind == "backward":
            up = {"d" + n: case.rng.standard_normal(v.shape) for n, v in fam.reference(inp).items()}
        ref = fam.reference(inp, up)
        assert E.candidates(fn, conv)
        for combo, knobs in E.candidates(fn, conv):
            v = fam.naive(inp, up, knobs)
            assert any(not E.close(v[k], ref[k]) for k in ref), (fn.name, combo)
