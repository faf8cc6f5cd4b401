"""The documents quote the code: the quotes must stay true."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_derivation_quotes_lines_that_exist_in_layers_py():
    doc = (ROOT / "docs" / "derivation.md").read_text(encoding="utf-8")
    src = (ROOT / "charlstm" / "layers.py").read_text(encoding="utf-8")
    quoted = [ln for block in re.findall(r"```python\n(.*?)```", doc, re.S)
              for ln in block.splitlines() if ln.strip()]
    assert len(quoted) >= 7
    missing = [ln for ln in quoted if ln not in src]
    assert not missing, f"docs/derivation.md quotes lines no longer in layers.py: {missing}"


def test_the_readme_links_the_derivation():
    assert "docs/derivation.md" in (ROOT / "README.md").read_text(encoding="utf-8")
