"""Take a model anywhere: a one-file web page that writes in the browser, and ONNX graphs.

    from charlstm import checkpoint
    from charlstm.export import export_html, export_onnx
    ck = checkpoint.load("runs/shakespeare/best.npz")
    export_html(ck, "shakespeare.html")     # open it in any browser: no network, nothing installed
    export_onnx(ck, "shakespeare.onnx")     # and shakespeare.step.onnx, for onnxruntime & co

Both carry the same description of the model (``describe``); see docs/export.md.
"""

from .html import export_html, page_html
from .onnx import build_model, export_onnx, step_path
from .spec import describe, float32_params

__all__ = ["build_model", "describe", "export_html", "export_onnx", "float32_params",
           "page_html", "step_path"]
