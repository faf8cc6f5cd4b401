"""charlstm check for the other APIs: deeplearning.ai week 1, min-char-rnn's lossFun, class-based
code through the documented check_gradients adapters, and files of no known API.

The learner-style files in tests/learners/{dlai,minchar,classes}/ were written apart from the
checker; their manifest.json holds what their author measured with measure.py (its own loader,
references and finite differences; it never imports charlstm). The first tests hold the
checker to those manifests; the rest test each behaviour on files made here.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import charlstm
from charlstm import checker as C
from charlstm.checker import loading
from conftest import run_cli

LEARNERS = Path(__file__).parent / "learners"
DOC = Path(__file__).parent.parent / "docs" / "check-gradients.md"


def manifest(folder):
    return json.loads((LEARNERS / folder / "manifest.json").read_text())


def by_name(rep):
    return {f.name: f for f in rep.functions}


def places(rep):
    """Where the loader skipped a statement or supplied a shipped module, in file order."""
    return sorted([s.where for s in rep.loaded.skipped + rep.loaded.supplied],
                  key=lambda w: [int(n) for n in re.findall(r"\d+", w)])


# =========================================================================== deeplearning.ai, against the manifest

DLAI = manifest("dlai")
# The manifest's name for each mistake -> the catalogue ids that must name it, and where.
DLAI_IDS = {"dlai_dc_no_h_path": ("lstm_cell_backward", {"lstm_dc_no_h_path"}),
            "dlai_sigmoid_of_activated": ("lstm_cell_backward", {"lstm_sigmoid_of_activated"}),
            "dlai_lstm_backward_no_carry": ("lstm_backward", {"seq_no_dnext_h", "lstm_seq_dc_not_carried",
                                                              "dlai_old_expected_output"}),
            "dlai_dxt_wrong_slice": ("lstm_cell_backward", {"concat_dx_wrong_rows"}),
            "dlai_rnn_da_prev_not_transposed": ("rnn_cell_backward", {"rnn_dprev_h_not_transposed"})}


@pytest.fixture(scope="module")
def dlai_reports():
    return {e["file"]: C.check(LEARNERS / "dlai" / e["file"]) for e in DLAI}


@pytest.mark.parametrize("entry", DLAI, ids=[e["file"] for e in DLAI])
def test_each_dlai_file_gets_what_its_author_measured(entry, dlai_reports):
    rep = dlai_reports[entry["file"]]
    fns = by_name(rep)
    assert rep.api == "dlai" and rep.exit_code == entry["exit_status"], rep.text()
    for name, exp in entry["functions"].items():
        f = fns[name]
        assert f.status == exp["status"], f.text()
        wrong = {o for o, r in exp.get("outputs", {}).items() if not r["ok"]}
        assert {r.name for r in f.rows if not r.ok} == wrong, f.text()
        assert {r.name for r in f.rows} == set(exp["outputs"])          # the notebook's names
        for r in f.rows:                                                # finite differences agree
            fd = exp["outputs"][r.name].get("vs_finite_diff")
            if fd is not None and r.err_fd is not None:
                assert (fd < 1e-5) == (r.err_fd < C.FD_RIGHT), (r.name, f.text())
    assert places(rep) == [x["where"] for x in entry["not_loaded"]]
    if entry["mistake"]:
        where, ids = DLAI_IDS[entry["mistake"]]
        assert ids <= {x.id for x in fns[where].findings}, fns[where].text()
        assert "fix:" in fns[where].text()
    old = "Your result equals the expected output printed by the notebook before 2021"
    equals_old = entry["functions"]["lstm_backward"]["equals_no_carry_backward"]
    assert (old in fns["lstm_backward"].text()) == equals_old
    if "mistake_at" in entry:                   # the notebook's cell and line of the loop mistake
        at = entry["mistake_at"]
        assert f"where: cell {at['code_cell']}, line {at['line']}: {at['text'].strip()}" in rep.text()


def test_the_old_expected_output_is_what_the_no_carry_files_print():
    """The manifest measured, with its own code, what each file's lstm_backward prints on the
    pre-2021 test cell: the no-carry files print the values the checker knows as the old
    expected output (dbi, dbc, dbo, which match no backward, aside); the right files do not."""
    from charlstm.checker.apis.dlai import _OldTestCell
    expected = _OldTestCell.EXPECTED
    for e in DLAI:
        printed = e["old_notebook_test_cell"]
        same = all(np.allclose(printed[k], v, rtol=1e-6, atol=1e-8) for k, v in expected.items())
        assert same == e["functions"]["lstm_backward"]["equals_no_carry_backward"], e["file"]
        assert set(expected) < set(printed) and {"dbi[4]", "dbc[4]", "dbo[4]"} <= set(printed) - set(expected)


def test_the_old_expected_output_message_gives_the_true_values(dlai_reports):
    text = by_name(dlai_reports["mistake_lstm_backward_no_carry.py"])["lstm_backward"].text()
    right = next(e for e in DLAI if e["file"] == "correct.py")["old_notebook_test_cell"]
    assert "which came from a backward that drops the gradient from step t+1" in text
    assert 'gradients["dx"][1][2] = [-0.00173313  0.08287442 -0.30545663 -0.43281115]' in text
    # the true values, as the manifest measured a right backward printing them
    assert f"da0[2][3] = {right['da0[2][3]'][0]:.8g}" in text
    assert f"dWf[3][1] = {right['dWf[3][1]'][0]:.8g}" in text


# =========================================================================== min-char-rnn, against the manifest

MINCHAR = manifest("minchar")


@pytest.mark.parametrize("entry", MINCHAR, ids=[e["file"] for e in MINCHAR])
def test_each_minchar_file_gets_what_its_author_measured(entry):
    rep = C.check(LEARNERS / "minchar" / entry["file"])
    f = by_name(rep)["lossFun"]
    assert rep.api == "minchar" and rep.exit_code == entry["exit_status"], rep.text()
    wrong = {k for k, ok in entry["parameters"].items() if not ok}
    assert {r.name for r in f.rows if not r.ok} == wrong, f.text()
    assert {r.name for r in f.rows if r.err_fd is not None and r.err_fd >= C.FD_RIGHT} == wrong
    assert f.lengths["shortest_failing_length"] == entry["shortest_failing_length"]
    by_length = entry["wrong_outputs_by_length"]
    for checked in f.lengths["checked"]:        # the wrong gradients at each length checked
        L = min(checked["length"], entry["sequence_length"])    # longer than measured: the longest
        assert set(checked["wrong"]) == set(by_length[str(L)])
    assert [s.where for s in rep.loaded.skipped] == [x["where"] for x in entry["not_loaded"]]
    assert rep.loaded.python2.python2 == entry["python2"]
    assert rep.loaded.python2.prints == len(entry["python2_print_statements"])
    assert "while True: a loop that never ends (no break), so it was not run" in rep.text()
    assert set(entry["lossFun_reads_globals"]) <= set(entry["supplied_globals"])
    assert f"charlstm put these globals in your module" in f.text()


def test_minchar_says_where_to_look_for_dwhh():
    f = by_name(C.check(LEARNERS / "minchar" / "min_char_rnn_dWhh_uses_h_t.py"))["lossFun"]
    text = f.text()
    assert "Wrong already for a sequence of length 1: the mistake is inside one step" in text
    assert "dWhh += np.dot(dhraw, hs[t-1].T)" in text and "hprev at t = 0" in text


def test_minchar_gives_a_notebooks_globals_back(tmp_path):
    """check(globals()) in a notebook: lossFun's globals are the learner's own; the check
    swaps in its own arrays and puts the learner's back, the very objects, unchanged."""
    src = (LEARNERS / "minchar" / "min_char_rnn.py").read_text()
    fn = src[src.index("def lossFun"):src.index("def sample")].replace("xrange", "range")
    ns = {"np": np}
    exec(fn, ns)
    mine = {"Wxh": np.ones((3, 4)), "vocab_size": 4}
    ns.update(mine)
    before = ns["Wxh"].copy()
    rep = C.check(ns)
    assert rep.ok and rep.api == "minchar"
    assert ns["Wxh"] is mine["Wxh"] and np.array_equal(ns["Wxh"], before) and ns["vocab_size"] == 4
    assert "Whh" not in ns                      # what the learner did not have stays absent


def test_an_lstm_lossfun_is_not_min_char_rnn_and_gets_an_adapter(tmp_path):
    path = tmp_path / "min_char_lstm.py"
    path.write_text("import numpy as np\nWf = np.zeros((4, 7))\nWy = np.zeros((3, 4))\n\n"
                    "def lossFun(inputs, targets, hprev, cprev):\n    return Wf.sum() + Wy.sum()\n")
    rep = C.check(path)
    text = rep.text()
    assert rep.exit_code == 2 and not rep.ok
    assert ("lossFun(inputs, targets, hprev, cprev) is not min-char-rnn's lossFun(inputs, targets, "
            "hprev), so it was not checked as that") in text
    assert "names = ['Wf', 'Wy']" in text and "lossFun(inputs, targets, hprev, cprev)[0]" in text


# =========================================================================== class-based code, through the documented adapters

def documented(title, drop=None, names=None):
    """The adapter of docs/check-gradients.md titled ``title``, as printed, with its `names`
    line filled in for the file (the one line the docs say to adapt) or one line dropped."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    code = next(b for b in blocks if b.startswith(f"# adapter: {title}\n"))
    if names is not None:
        code = re.sub(r"^names = \[.*?\]", f"names = {names!r}", code, count=1, flags=re.M)
    if drop is not None:
        assert drop in code
        code = "\n".join(ln for ln in code.splitlines() if drop not in ln)
    return code


def run_documented(code, ns):
    ns.update(np=np, charlstm=charlstm)
    exec(compile(code, str(DOC), "exec"), ns)
    return ns["report"]


def learner_module(name):
    return loading.load_file(LEARNERS / "classes" / name)


def wrong_at(report, length):
    r = next(r for r in report.lengths if r.length == length)
    return {"d" + n for n in r.failing()}


CLASSES = {e["file"]: e for e in manifest("classes")}


def sequence(T, V, seed):
    r = np.random.default_rng(seed)
    return [int(v) for v in r.integers(0, V, T)], [int(v) for v in r.integers(0, V, T)]


@pytest.mark.parametrize("file", ["lstm_class_correct.py", "lstm_class_step_mistake.py",
                                  "lstm_class_carry_mistake.py"])
def test_class_based_lstm_through_the_documented_adapter(file):
    entry = CLASSES[file]
    mod = learner_module(file)
    np.random.seed(0)
    model = mod.LSTMNumpy(entry["sizes"]["word_dim"], entry["sizes"]["hidden_dim"])
    names = ["Wi", "Wf", "Wo", "Wg", "Ui", "Uf", "Uo", "Ug", "bi", "bf", "bo", "bg", "V", "by"]
    x, y = sequence(max(entry["lengths_measured"]), entry["sizes"]["word_dim"], 1)
    before = {n: getattr(model, n).copy() for n in names}
    report = run_documented(documented("class-based LSTM", names=names), {"model": model, "x": x, "y": y})
    assert all(np.array_equal(getattr(model, n), before[n]) for n in names)
    assert report.ok == (entry["shortest_failing_length"] is None), str(report)
    assert report.shortest_failing_length == entry["shortest_failing_length"], str(report)
    L = report.shortest_failing_length
    if L is not None:       # which gradients are wrong at the shortest failing length, and at the longest
        assert wrong_at(report, L) == set(entry["wrong_by_length"][str(L)]), str(report)
        T = max(entry["lengths_measured"])
        assert wrong_at(report, T) == set(entry["wrong_by_length"][str(T)]), str(report)
    if file == "lstm_class_carry_mistake.py":
        assert "Right for one step, wrong from two steps on" in str(report)
    if file == "lstm_class_step_mistake.py":
        assert "Wrong already for a sequence of length 1: the mistake is inside one step" in str(report)


@pytest.mark.parametrize("file", ["dls2_lstm.py", "dls2_lstm_dc_missing_o.py"])
def test_dls2_layer_through_the_documented_adapter(file):
    """The adapter checks one step: the manifest's length 1 (dh0, dc0 are h_prev, c_prev there)."""
    entry = CLASSES[file]
    mod = learner_module(file)
    D, H = entry["sizes"]["D"], entry["sizes"]["H"]
    r = np.random.default_rng(0)
    layer = mod.LSTM(*(0.5 * r.standard_normal(s).astype(np.float32) for s in [(D, 4 * H), (H, 4 * H), (4 * H,)]))
    report = run_documented(documented("Deep Learning from Scratch 2 LSTM"), {"layer": layer})
    rename = {"dh_prev": "dh0", "dc_prev": "dc0"}
    wrong = {rename.get("d" + p.name, "d" + p.name) for p in report.parameters if not p.ok}
    assert wrong == set(entry["wrong_by_length"]["1"]), str(report)
    blocks = entry["gate_blocks_wrong_by_length"]["1"]
    for p in report.parameters:
        if p.name in ("Wx", "Wh", "b"):
            gates = p.to_dict(report.threshold)["gates"]
            assert {g for g, ok in gates.items() if not ok} == set(blocks["d" + p.name]), str(report)


@pytest.mark.parametrize("file", ["wildml_rnn.py", "wildml_rnn_delta_uses_s_step.py"])
def test_wildml_through_the_documented_adapter(file):
    entry = CLASSES[file]
    mod = learner_module(file)
    T = max(entry["lengths_measured"])
    x, y = sequence(T, entry["sizes"]["word_dim"], 2)

    def model():
        np.random.seed(0)
        return mod.RNNNumpy(entry["sizes"]["word_dim"], entry["sizes"]["hidden_dim"])
    full = entry["with_bptt_truncate_1e6"]
    report = run_documented(documented("WildML RNNNumpy"), {"model": model(), "x": x, "y": y})
    assert report.shortest_failing_length == full["shortest_failing_length"], str(report)
    if full["shortest_failing_length"]:
        L = full["shortest_failing_length"]
        assert wrong_at(report, L) == {"d" + n[3:] for n in full["wrong_by_length"][str(L)]}
    # Without its first line the adapter leaves bptt at its default truncation of 4 steps:
    # the correct bptt then differs from finite differences from 6 words on, by design.
    if file == "wildml_rnn.py":
        report = run_documented(documented("WildML RNNNumpy", drop="bptt_truncate = 1000"),
                                {"model": model(), "x": x, "y": y})
        L = entry["shortest_failing_length"]
        assert report.shortest_failing_length == L == 6
        assert wrong_at(report, L) == {"d" + n[3:] for n in entry["wrong_by_length"][str(L)]}
        assert "backpropagation through time truncated after 4 steps back" in str(report)


# =========================================================================== deeplearning.ai: each behaviour

CORRECT_DLAI = (LEARNERS / "dlai" / "correct.py").read_text()


def dlai_file(tmp_path, old=None, new=None, name="mine.py"):
    src = CORRECT_DLAI if old is None else CORRECT_DLAI.replace(old, new)
    assert old is None or src != CORRECT_DLAI
    path = tmp_path / name
    path.write_text(src)
    return path


def test_the_dlai_template_is_not_implemented_and_fills_in(tmp_path):
    r = run_cli("check", "--template", "dlai")
    assert r.returncode == 0
    for name in C.TEMPLATES["dlai"]:
        assert f"def {C.apis.dlai.FUNCTIONS[name].signature}:" in r.stdout
    path = tmp_path / "week1.py"
    path.write_text(r.stdout)
    rep = C.check(path)
    assert rep.api == "dlai" and rep.exit_code == 1 and not rep.checked
    # The template's helpers are the assignment's: the correct bodies pass with them.
    ns = {}
    exec(r.stdout.split("\ndef rnn_cell_forward")[0], ns)
    body = CORRECT_DLAI.split("from public_tests import *")[1]
    path.write_text(r.stdout.split("\ndef rnn_cell_forward")[0] + body)
    assert C.check(path).ok


def test_an_untouched_dlai_starter_is_not_implemented(tmp_path):
    path = tmp_path / "starter.py"
    path.write_text('''import numpy as np
from rnn_utils import *

def rnn_cell_forward(xt, a_prev, parameters):
    Wax = parameters["Wax"]
    ### START CODE HERE ### (2 lines)
    a_next = None
    yt_pred = None
    ### END CODE HERE ###
    cache = (a_next, a_prev, xt, parameters)
    return a_next, yt_pred, cache

def rnn_forward(x, a0, parameters):
    caches = []
    ### START CODE HERE ###
    a = None
    for t in range(None):
        a_next, yt_pred, cache = None
        caches.append(None)
    ### END CODE HERE ###
    return a, y_pred, (caches, x)

def rnn_cell_backward(da_next, cache):
    (a_next, a_prev, xt, parameters) = cache
    ### START CODE HERE ###
    dtanh = None
    dxt = np.dot(None, dtanh)
    ### END CODE HERE ###
    return {"dxt": dxt}
''')
    rep = C.check(path)
    fns = by_name(rep)
    for name in ("rnn_cell_forward", "rnn_forward", "rnn_cell_backward"):
        assert fns[name].status == "not implemented", fns[name].text()
        assert "None placeholders between START CODE HERE and END CODE HERE" in fns[name].message
    assert rep.exit_code == 1 and "Nothing is implemented yet" in rep.text()
    # One filled-in line makes it the learner's code: checked, not a stub.
    path.write_text(path.read_text().replace("    a_next = None\n",
                                             "    a_next = np.tanh(np.dot(Wax, xt))\n", 1))
    assert by_name(C.check(path, only="rnn_cell_forward"))["rnn_cell_forward"].status == "error"


def test_a_learners_own_rnn_utils_is_used_when_it_is_there(tmp_path):
    (tmp_path / "rnn_utils.py").write_text(
        "import numpy as np\n\ndef softmax(x):\n    return np.exp(x) / np.exp(x).sum(axis=0)\n\n"
        "def sigmoid(x):\n    return 1 / (1 + np.exp(-x))\n")
    rep = C.check(dlai_file(tmp_path), only=["rnn_cell_forward", "lstm_cell_forward"])
    assert rep.ok and rep.loaded.supplied == []
    assert [s.statement for s in rep.loaded.skipped] == ["from public_tests import *"]


@pytest.mark.parametrize("line", ["import rnn_utils as ru", "from rnn_utils import softmax, sigmoid"])
def test_every_way_of_importing_rnn_utils_is_supplied(tmp_path, line):
    src = "import numpy as np\n" + line + "\n\n" + CORRECT_DLAI.split("from public_tests import *")[1]
    if line.startswith("import"):
        src = src.replace("softmax(", "ru.softmax(").replace("sigmoid(", "ru.sigmoid(")
    path = tmp_path / "mine.py"
    path.write_text(src)
    rep = C.check(path, only=["rnn_cell_forward", "lstm_cell_forward"])
    assert rep.ok, rep.text()
    assert rep.loaded.supplied[0].where == "line 2"
    assert "rnn_utils.py is not here, so charlstm supplied the assignment's softmax and sigmoid" in rep.text()


def test_a_backward_that_takes_T_x_from_x_fails_the_notebooks_test_cell(tmp_path):
    """The notebook's test cell has x of 7 steps and da of 4; the checker's own cases have one T,
    so the gradients pass, and the test cell says where the notebook's T_x comes from."""
    path = dlai_file(tmp_path, "    n_a, m, T_x = da.shape\n    n_x, m = x1.shape\n\n    dx = np.zeros((n_x, m, T_x))\n    da0",
                     "    n_x, m, T_x = x.shape\n    n_a = da.shape[0]\n\n    dx = np.zeros((n_x, m, T_x))\n    da0")
    f = by_name(C.check(path, only="lstm_backward"))["lstm_backward"]
    assert f.status == "pass"
    assert ("On the notebook's own test cell (x with 7 steps, da with 4) your lstm_backward fails: "
            "lstm_backward raised IndexError") in f.text()
    assert "The notebook takes T_x from da (n_a, m, T_x = da.shape)" in f.text()


def test_a_gradients_dict_without_a_key_is_named(tmp_path):
    path = dlai_file(tmp_path, '''    gradients = {"dxt": dxt, "da_prev": da_prev, "dWax": dWax, "dWaa": dWaa, "dba": dba}''',
                     '''    gradients = {"dxt": dxt, "da_prev": da_prev, "dWax": dWax, "dWaa": dWaa, "db": dba}''')
    f = by_name(C.check(path, only="rnn_cell_backward"))["rnn_cell_backward"]
    assert f.status == "error"
    assert f.message == ("rnn_cell_backward returns a dict without the key 'dba' (its keys: \"dxt\", "
                         "\"da_prev\", \"dWax\", \"dWaa\", \"db\"); the assignment's keys are \"dxt\", "
                         "\"da_prev\", \"dWax\", \"dWaa\", \"dba\".")


def test_lstm_forward_and_backward_alone_are_told_apart_by_their_signatures():
    cs = {"lstm_forward": lambda x, h0, Wx, Wh, b: None, "lstm_backward": lambda dh, cache: None}
    dl = {"lstm_forward": lambda x, a0, parameters: None, "lstm_backward": lambda da, caches: None}
    assert C.apis.detect(cs) is C.apis.cs231n and C.apis.detect(dl) is C.apis.dlai


def test_a_wrong_forward_is_told_in_the_notebooks_names(tmp_path):
    path = dlai_file(tmp_path, "    a_next = ot * np.tanh(c_next)\n", "    a_next = ot * c_next\n")
    f = by_name(C.check(path, only="lstm_cell_forward"))["lstm_cell_forward"]
    assert [x.id for x in f.findings] == ["lstm_h_no_tanh"]
    assert "a_next, yt_pred match a forward in which a_next = ot * c_next, without the tanh" in f.text()


# =========================================================================== files of no known API

def test_a_file_of_no_known_api_lists_what_it_defines_and_prints_an_adapter(tmp_path):
    src = LEARNERS / "classes" / "lstm_class_correct.py"
    r = run_cli("check", src)
    assert r.returncode == 2 and r.stderr == ""
    out = r.stdout
    assert "defines none of the functions of the APIs charlstm check knows" in out
    assert ("class LSTMNumpy: forward_propagation(self, x), calculate_loss(self, x, y), "
            "backward_propagation(self, x, y), gradient_check(self, x, y, h=0.001, error_threshold=0.01)") in out
    assert "arrays set in __init__: Wi, Wf, Wo, Wg, Ui, Uf, Uo, Ug, bi, bf, bo, bg, V, by" in out
    assert "Nothing was checked (exit status 2)" in out
    # Ready to fill: with the sizes and a sequence in place of its `...`, it runs, and passes.
    code = out[out.index("    import numpy as np"):out.index("\nNothing was checked")]
    code = "\n".join(ln[4:] for ln in code.splitlines())
    code = code.replace("from lstm_class_correct import *", "")
    code = code.replace("LSTMNumpy(word_dim=..., hidden_dim=...)", "LSTMNumpy(word_dim=6, hidden_dim=3)")
    code = code.replace("x, y = ...", "x, y = [0, 1, 2, 3], [1, 2, 3, 4]")
    assert "..." not in code.split("#")[0] and code.count(" = ...") == 0
    ns = dict(vars(learner_module("lstm_class_correct.py")))
    exec(code, ns)
    assert ns["report"].ok and set(ns["params"]) == {"Wi", "Wf", "Wo", "Wg", "Ui", "Uf", "Uo", "Ug",
                                                      "bi", "bf", "bo", "bg", "V", "by"}


def test_the_adapter_for_wildml_sets_the_truncation_and_for_dls2_converts_to_float64():
    wild = C.check(LEARNERS / "classes" / "wildml_rnn.py")
    assert "model.bptt_truncate = 1000" in wild.adapter and "model.bptt(x, y)" in wild.adapter
    assert "model.calculate_total_loss(x, y)" in wild.adapter
    dls2 = C.check(LEARNERS / "classes" / "dls2_lstm.py")
    assert "layer.params = [p.astype(np.float64) for p in layer.params]" in dls2.adapter
    assert "layer.backward(dh_next, dc_next)" in dls2.adapter
    assert json.loads(dls2.to_json())["defines"][1] == {
        "kind": "class", "name": "LSTM", "signature": "(self, Wx, Wh, b)", "methods": ["forward", "backward"]}


def test_an_empty_file_is_no_pass(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("import numpy as np\n")
    r = run_cli("check", path, "--json")
    assert r.returncode == 2
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["api"] is None and out["checked"] is False
    assert "It defines no classes or functions." in C.check(path).text()


@pytest.mark.parametrize("file", ["lstm_class_correct.py", "lstm_class_carry_mistake.py"])
def test_the_five_line_adapter_of_coursework_md_runs_as_printed(file, capsys):
    doc = (DOC.parent / "coursework.md").read_text(encoding="utf-8")
    code = next(b for b in re.findall(r"```python\n(.*?)```", doc, re.S) if "check_gradients" in b)
    assert len([ln for ln in code.splitlines() if ln.strip()]) == 5
    np.random.seed(0)
    model = learner_module(file).LSTMNumpy(7, 4)
    x, y = sequence(5, 7, 1)
    exec(code, {"model": model, "x": x, "y": y, "charlstm": charlstm})
    out = capsys.readouterr().out
    if file == "lstm_class_correct.py":
        assert "-> PASS" in out
    else:
        assert "Right for one step, wrong from two steps on" in out and "-> FAIL (wrong from length 2 on)" in out


def test_a_loop_mistake_names_the_line_and_a_bias_without_its_column_axis_is_named(tmp_path):
    path = dlai_file(tmp_path, "gradients = rnn_cell_backward(da[:, :, t] + da_prevt, caches[t])",
                     "gradients = rnn_cell_backward(da[:, :, t], caches[t])")
    f = by_name(C.check(path, only="rnn_backward"))["rnn_backward"]
    line = CORRECT_DLAI[:CORRECT_DLAI.index("gradients = rnn_cell_backward(")].count("\n") + 1
    assert [x.id for x in f.findings] == ["seq_no_dnext_h"]
    assert f"where: line {line}: gradients = rnn_cell_backward(da[:, :, t], caches[t])" in f.text()
    path = dlai_file(tmp_path, "    dba = np.sum(dtanh, axis=1, keepdims=True)", "    dba = np.sum(dtanh, axis=1)")
    f = by_name(C.check(path, only="rnn_cell_backward"))["rnn_cell_backward"]
    assert {r.name for r in f.rows if not r.ok} == {"dba"} and [x.id for x in f.findings] == ["keepdims"]
    assert "dba: has the right values without the axis of length 1 the API keeps (shape 6, expected 6x1)" in f.text()
    assert "or return dba.reshape(6, 1)" in f.text()
