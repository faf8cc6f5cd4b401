"""charlstm check against tests/learners/real/: learner-style cs231n files written apart from
the checker, each with what it should get as its author measured it (manifest.json:
statuses, wrong outputs, exit status, what does not load), with their own loader, references
and finite differences, never importing charlstm.
"""

import json
from pathlib import Path

import pytest

from charlstm import checker as C

REAL = Path(__file__).parent / "learners" / "real"
MANIFEST = json.loads((REAL / "manifest.json").read_text())
# The manifest says "fail" for a function that raises; the checker's report says "error".
STATUS = {"pass": "pass", "fail": "fail", "error": "fail", "timeout": "fail", "bad signature": "fail",
          "not checked": "not checked", "not implemented": "not implemented"}


@pytest.mark.parametrize("entry", MANIFEST, ids=[m["file"] for m in MANIFEST])
def test_each_real_file_gets_the_verdict_its_author_measured(entry):
    rep = C.check(REAL / entry["file"])
    fns = {f.name: f for f in rep.functions}
    assert rep.exit_code == entry["exit_status"], rep.text()
    for name, exp in entry["functions"].items():
        f = fns[name]
        assert STATUS[f.status] == exp["status"], f.text()
        assert f.provided == exp.get("provided_by_starter", False)
        if "raises" in exp:                     # the learner's error, named in one line
            assert exp["raises"] in f.message and "\n" not in f.message
    for name, outs in entry["wrong_outputs"].items():
        assert {r.name for r in fns[name].rows if not r.ok} == set(outs), fns[name].text()
    assert [s.where for s in rep.loaded.skipped] == [x["where"] for x in entry["not_loaded"]]
    p2 = rep.loaded.python2
    assert bool(p2 and p2.python2) == entry["python2"]
    if entry["python2"]:
        assert "Python 2 code" in rep.text()
    for line in entry.get("python2_division", {}).get("integer_division_lines", []):
        assert f"fix: use // (line {line}: " in rep.text()
    if entry["mistake"] == "keepdims":
        assert "keepdims" in [x.id for x in fns["lstm_step_backward"].findings]
