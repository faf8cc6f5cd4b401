"""The classroom notebook: committed without outputs, and executed top to bottom in a kernel
of this test environment, with the exercises' solutions run after it.

Under the test it trains for a few seconds (CHARLSTM_NOTEBOOK_MINUTES) on the built-in
python-docs corpus, into a temporary folder (CHARLSTM_NOTEBOOK_RUN_DIR).
"""

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from charlstm import checkpoint

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "lstm_from_scratch.ipynb"
MINUTES = "0.1"


def solutions(nb):
    """The code of every exercise's solution (a ```python block inside <details>)."""
    found = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for block in re.findall(r"<summary>Solution</summary>(.*?)</details>", cell.source, re.S):
                found += re.findall(r"```python\n(.*?)```", block, re.S)
    return found


def test_the_committed_notebook_is_valid_and_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(code) > 10
    for c in code:
        assert c.outputs == [] and c.execution_count is None, (
            f"cell {c.id} has outputs: clear them (Jupyter: Edit > Clear Outputs of All Cells) "
            "before committing")
    assert len(solutions(nb)) == 3                     # one per exercise
    readme = (NOTEBOOK.parent.parent / "README.md").read_text(encoding="utf-8")
    assert "notebooks/lstm_from_scratch.ipynb" in readme


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The notebook and the exercises' solutions, executed; (notebook, run folder)."""
    tmp = tmp_path_factory.mktemp("notebook")
    # A kernel spec of our own, for this interpreter: a fresh venv has none installed, and a
    # user's "python3" spec may point at another Python.
    spec = tmp / "jupyter" / "kernels" / "charlstm-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "charlstm test", "language": "python"}))
    run_dir = tmp / "run"
    with pytest.MonkeyPatch.context() as mp:
        # Nothing of the user's Jupyter or IPython setup is read, nothing written to their home.
        mp.setenv("JUPYTER_PATH", str(tmp / "jupyter"))
        mp.setenv("JUPYTER_CONFIG_DIR", str(tmp / "jupyter-config"))
        mp.setenv("JUPYTER_RUNTIME_DIR", str(tmp / "jupyter-runtime"))
        mp.setenv("JUPYTER_PLATFORM_DIRS", "1")
        mp.setenv("IPYTHONDIR", str(tmp / "ipython"))
        mp.setenv("CHARLSTM_NOTEBOOK_MINUTES", MINUTES)
        mp.setenv("CHARLSTM_NOTEBOOK_CORPUS", "python-docs")
        mp.setenv("CHARLSTM_NOTEBOOK_RUN_DIR", str(run_dir))
        nb = nbformat.read(NOTEBOOK, as_version=4)
        for n, src in enumerate(solutions(nb), 1):
            cell = nbformat.v4.new_code_cell(src, id=f"solution-{n}")
            cell.metadata["tags"] = [f"solution-{n}"]
            nb.cells.append(cell)
        # Any error raises CellExecutionError, naming the cell and showing its traceback.
        NotebookClient(nb, kernel_name="charlstm-test", timeout=300,
                       resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    return nb, run_dir


def cell(nb, tag):
    found = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
    assert len(found) == 1, f"no single cell tagged {tag}"
    return found[0]


def text(c):
    return "".join(o.get("text", "") for o in c.outputs if o.output_type == "stream")


def has_image(c):
    return any("image/png" in o.get("data", {}) for o in c.outputs)


def table_rows(out):
    """The rows of a gradcheck.format_table in a cell's output: {name: (rel error, result)}."""
    lines = out.splitlines()
    start = next(k for k, ln in enumerate(lines) if "max rel error" in ln) + 2
    rows = {}
    for ln in lines[start:]:
        parts = ln.split()
        if len(parts) != 5:
            break
        rows[parts[0]] = (float(parts[2]), parts[4])
    return rows


def test_the_gradient_checks_show_errors_below_1e_7(executed):
    nb, _ = executed
    for tag, names in [("gradcheck-step", ["x", "prev_h", "prev_c", "Wx", "Wh", "b"]),
                       ("gradcheck-sequence", ["x", "h0", "c0", "Wx", "Wh", "b"])]:
        rows = table_rows(text(cell(nb, tag)))
        assert list(rows) == names
        for name, (err, result) in rows.items():
            assert err < 1e-7 and result == "pass", (tag, name, err)


def test_the_checker_names_the_mistake_then_passes_the_fix(executed):
    nb, _ = executed
    wrong = text(cell(nb, "check-mistake"))
    assert "dc = dnext_c" in wrong and "-> FAIL" in wrong      # the catalogue's diagnosis
    assert "add dnext_h * o * (1 - tanh(next_c)**2)" in wrong  # and its fix
    fixed = text(cell(nb, "check-fixed"))
    assert "FAIL" not in fixed and "report.ok = True" in fixed
    # Exercise 3: with dprev_c = dc, only dprev_c fails.
    broken = text(cell(nb, "solution-3"))
    outputs = ["dx", "dprev_h", "dprev_c", "dWx", "dWh", "db"]
    results = {p[0]: p[-1] for p in map(str.split, broken.splitlines())
               if p and p[0] in outputs and p[-1] in ("pass", "FAIL")}  # the table's rows
    assert results == {name: "FAIL" if name == "dprev_c" else "pass" for name in outputs}


def test_gradient_flow_training_samples_and_cells(executed):
    nb, run_dir = executed
    flow = text(cell(nb, "gradflow"))
    rows = {ln.split()[0]: [float(v) for v in ln.split()[1:]] for ln in flow.splitlines()[1:]}
    assert set(rows) == {"lstm", "gru", "rnn"}
    assert rows["lstm"][2] > 1e3 * rows["rnn"][2]              # d=50: the cell path keeps it
    for tag in ("gradflow", "loss-curve", "cells", "solution-1", "solution-2"):
        assert has_image(cell(nb, tag)), tag
    # Training wrote its checkpoints and metrics into the run folder it was given.
    ck = checkpoint.load(run_dir / "best.npz")
    assert ck.meta["step"] >= 1 and ck.meta["corpus"] == "python-docs"
    assert checkpoint.load(run_dir / "latest.npz").meta["step"] >= ck.meta["step"]
    assert "stopped by the time limit" in text(cell(nb, "train"))
    samples = text(cell(nb, "samples"))
    parts = re.split(r"--- temperature [\d.]+ ---\n", samples)
    # 300 characters each after the prime; a model trained for seconds may write mostly
    # spaces and newlines at temperature 0.5 (the notebook says so), so they count too.
    assert len(parts) == 3 and all(len(p) >= 300 for p in parts[1:])
    assert "cell " in text(cell(nb, "cells"))
    # Exercise 2 trained a GRU beside the LSTM's run folder.
    assert (run_dir.with_name("run-gru") / "best.npz").is_file()
