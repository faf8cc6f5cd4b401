"""The manifests of tests/learners/{real,dlai,minchar,classes} are what tests/learners/measure.py
measures on the files today, and measure.py stays independent of the checker it judges."""

import ast
import contextlib
import importlib.util
import io
from pathlib import Path

MEASURE = Path(__file__).parent / "learners" / "measure.py"


def test_measure_never_imports_charlstm():
    tree = ast.parse(MEASURE.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert names and not [m for m in names if m.split(".")[0] == "charlstm"]


def test_every_manifest_is_what_measure_py_measures():
    spec = importlib.util.spec_from_file_location("learner_measure", MEASURE)
    measure = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(measure)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = measure.main(["--check"])
    assert status == 0, out.getvalue()
    for folder in measure.FOLDERS:
        assert "%s: " % folder in out.getvalue() and "DIFFERENT" not in out.getvalue()
