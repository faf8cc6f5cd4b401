"""``charlstm export CKPT --html PAGE.html``: a web page that writes with the model, in one file.

The page is ``page.html`` (this folder) with everything it needs put inside it:

    <script id="model">    the model's description (``spec.describe``), JSON
    <script id="weights">  every parameter's float32 values, little-endian, base64
    model.js, page.js      the forward pass and the sampler; the page (settings, streaming)
    a Content-Security-Policy that forbids every request: the page never uses the network

Open it from disk in any browser; nothing is installed and nothing is fetched.
"""

from __future__ import annotations

import base64
import json
from importlib import resources
from pathlib import Path

from ..checkpoint import Checkpoint
from .spec import check_target, describe, float32_params, write_atomic

# Nothing but inline scripts and styles, and data: images; no connections, frames or workers.
POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
          "img-src data:; base-uri 'none'; form-action 'none'")


def _source(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _inline(page: str, marker: str, content: str) -> str:
    """Replace ``marker`` (found exactly once) in the page with ``content``."""
    if page.count(marker) != 1:
        raise AssertionError(f"page.html must contain {marker!r} exactly once")
    return page.replace(marker, content)


def page_html(ck: Checkpoint) -> str:
    """The whole page for checkpoint ``ck``, as text."""
    spec = describe(ck)
    weights = b"".join(p.astype("<f4").tobytes() for p in float32_params(ck).values())
    # "<" never appears raw inside a <script> element, so no text of the model (a symbol, the
    # corpus name) can close it: JSON's \u003c stands for it.
    spec_json = json.dumps(spec, ensure_ascii=False).replace("<", "\\u003c")
    page = _source("page.html")
    page = _inline(page, "<!-- charlstm: security policy -->",
                   f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">')
    page = _inline(page, '<script type="application/json" id="model">null</script>',
                   f'<script type="application/json" id="model">{spec_json}</script>')
    page = _inline(page, '<script type="text/plain" id="weights"></script>',
                   '<script type="text/plain" id="weights">\n'
                   + base64.encodebytes(weights).decode("ascii") + "</script>")
    for name in ("model.js", "page.js"):
        js = _source(name)
        assert "</script" not in js.lower(), f"{name} must not contain </script"
        page = _inline(page, f'<script src="{name}"></script>', f"<script>\n{js}</script>")
    return page


def export_html(ck: Checkpoint, path, checkpoint_path=None) -> Path:
    """Write the page for ``ck`` to ``path`` (.html or .htm); -> the path."""
    path = check_target(path, (".html", ".htm"), "--html", checkpoint_path)
    write_atomic(path, page_html(ck).encode("utf-8"))
    return path
