"""visualize: the activations shown are the model's forward pass; the page renders."""

import re
import shutil
import subprocess

import numpy as np
import pytest

from charlstm import checkpoint as ckpt
from charlstm import layers as Ls
from charlstm.cli import app
from charlstm.train import TrainConfig, train
from charlstm.visualize import activations, heatmap_figure, rank_cells, text_features, write_heatmap

TEXT = 'He said "hello (there)" and left.\nShe said "bye" [twice].\n' * 20


@pytest.fixture(scope="module")
def model_ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("vis")
    (d / "c.txt").write_text(TEXT)
    train(d / "c.txt", TrainConfig(hidden_size=12, embed_size=6, num_layers=2, batch_size=4,
                                   seq_len=16, max_steps=30, sample_chars=0, quiet=True),
          run_dir=d / "run", log=lambda s: None)
    return d / "run" / "best.npz", d


def test_activations_equal_a_step_by_step_forward(model_ckpt):
    path, _ = model_ckpt
    ck = ckpt.load(path)
    m, v = ck.model(), ck.vocab
    text = TEXT[:40]
    for layer in (0, 1):
        for kind in ("cell", "hidden"):
            acts = activations(m, v, text, layer=layer, kind=kind)
            # Reference: the plain step function, layer by layer.
            p, H = m.params, m.cfg.hidden_size
            h = np.zeros((2, 1, H)); c = np.zeros((2, 1, H))
            ref = []
            for ch in v.encode(text):
                inp = p["embed"][[ch]]
                for l in range(2):
                    h[l], c[l], _ = Ls.lstm_step_forward(inp, h[l], c[l], p[f"layer{l}.Wx"],
                                                         p[f"layer{l}.Wh"], p[f"layer{l}.b"])
                    inp = h[l]
                ref.append(np.tanh(c[layer][0]) if kind == "cell" else h[layer][0].copy())
            np.testing.assert_allclose(acts["values"], np.array(ref), atol=1e-5)
    logits, _ = m.forward(v.encode(text)[None].astype(np.int64), m.init_state(1))
    assert np.array_equal(acts["top5"][:, 0], logits[0].argmax(axis=1))


def test_text_features_and_ranking():
    f = text_features('a "b" (c\nde')
    assert f["inside quotes"].tolist() == [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    assert f["bracket depth"][7] == 1 and f["position in line"].tolist()[-3:] == [8, 0, 1]
    rng = np.random.default_rng(0)
    text = 'x "yy" z ' * 30
    vals = rng.standard_normal((len(text), 4)) * 0.1
    vals[:, 2] = text_features(text)["inside quotes"] - 0.5       # a perfect quote cell
    ranked = rank_cells(vals, text, "correlation", k=2)
    assert ranked[0][0] == 2 and ranked[0][1] > 0.99 and "inside quotes" in ranked[0][2]
    assert rank_cells(vals, text, "variance", k=1)[0][0] == 2


def test_visualize_command_writes_page_and_heatmap(runner, model_ckpt, tmp_path):
    path, d = model_ckpt
    out = tmp_path / "cells.html"
    r = runner.invoke(app, ["visualize", str(path), "--text", str(d / "c.txt"), "--length", "120",
                            "--cells", "3", "-o", str(out)])
    assert r.exit_code == 0, r.output
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page
    assert page.count('data-cell="') == 3
    # The values written are the model's activations, in order.
    first = int(re.search(r'data-cell="(\d+)"', page).group(1))
    block = page.split(f'data-cell="{first}">')[1].split("</div>")[0]
    shown = np.array([float(x) for x in re.findall(r'data-v="([-0-9.]+)"', block)])
    ck = ckpt.load(path)
    acts = activations(ck.model(), ck.vocab, TEXT[:120])
    np.testing.assert_allclose(shown, acts["values"][:, first], atol=6e-5)
    assert 'title="after' in page
    png = out.with_suffix(".png")
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000


def test_visualize_defaults_to_the_validation_split_and_refuses_bad_input(runner, model_ckpt,
                                                                          tmp_path):
    path, d = model_ckpt
    out = tmp_path / "v.html"
    r = runner.invoke(app, ["visualize", str(path), "--length", "50", "-o", str(out)])
    assert r.exit_code == 0, r.output
    val_start = TEXT[len(TEXT) - round(len(TEXT) * 0.1):][:50]
    block = out.read_text().split('class="text"')[1].split("</div>")[0]
    import html as html_mod
    shown = "".join(html_mod.unescape(m) for m in re.findall(r'">([^<]*)</span>', block))
    assert shown == val_start
    from conftest import run_cli
    bad = run_cli("visualize", path, "--text", "hello ✓", "-o", tmp_path / "x.html")
    assert bad.returncode == 2 and "outside the model's vocabulary" in bad.stderr
    bad = run_cli("visualize", path, "--text", "He said", "--kind", "gate", "-o", tmp_path / "x.html")
    assert bad.returncode == 2 and "--kind must be one of" in bad.stderr
    bad = run_cli("visualize", path, "--text", "He said", "--layer", "5", "-o", tmp_path / "x.html")
    assert bad.returncode == 2 and "--layer must be in" in bad.stderr


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_page_renders_in_headless_chromium(runner, model_ckpt, tmp_path):
    path, d = model_ckpt
    out = tmp_path / "cells.html"
    r = runner.invoke(app, ["visualize", str(path), "--text", str(d / "c.txt"), "--length", "300",
                            "-o", str(out)])
    assert r.exit_code == 0
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
                    f"--screenshot={shot}", "--window-size=1000,800", out.as_uri()],
                   capture_output=True, timeout=120)
    import matplotlib.image as mpimg
    img = mpimg.imread(shot)[..., :3]
    assert img.std() > 0.02                            # not blank
    # Coloured characters are visible: pixels tinted red or blue, of any strength (a pale
    # pink is (0.95, 0.85, 0.85)). On a 1000x800 shot about 6% are; the legend alone is 0.06%.
    tinted = (img.max(axis=-1) - img.min(axis=-1) > 0.1).mean()
    assert tinted > 0.01


def test_a_gru_shows_its_hidden_state_and_has_no_cell_state():
    import numpy as np
    from charlstm.data import Vocab
    from charlstm.errors import CharlstmError
    from charlstm.model import CharLSTM, ModelConfig
    from charlstm.visualize import activations
    vocab = Vocab("ab\n")
    m = CharLSTM(ModelConfig(vocab_size=3, hidden_size=4, num_layers=2, cell="gru", embed_size=2), seed=0)
    acts = activations(m, vocab, "abba\nab", kind="hidden")
    assert acts["values"].shape == (7, 4) and np.all(np.abs(acts["values"]) <= 1)
    with pytest.raises(CharlstmError, match="a GRU has no cell state"):
        activations(m, vocab, "ab", kind="cell")


def test_heatmap_figure_shows_the_ranked_cells_over_the_text(model_ckpt, tmp_path):
    path, _ = model_ckpt
    ck = ckpt.load(path)
    acts = activations(ck.model(), ck.vocab, TEXT[:120])
    cells = rank_cells(acts["values"], TEXT[:120], k=3)
    fig = heatmap_figure(acts, cells, width=50)
    ax = fig.axes[0]                                   # the heatmap; fig.axes[1] is its colour bar
    shown = ax.get_images()[0].get_array()
    np.testing.assert_array_equal(shown, acts["values"][:50, [j for j, *_ in cells]].T)
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"cell {j}" for j, *_ in cells]
    assert "".join(t.get_text() for t in ax.get_xticklabels())[:7] == "He␣said"   # spaces shown
    write_heatmap(acts, cells, tmp_path / "h.png", width=50)
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
