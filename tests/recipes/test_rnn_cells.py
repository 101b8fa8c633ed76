"""recipes/rnn_cells: the --quick run end to end (PNGs, report, gradient norms, clipping), and the gradient probe
checked against the Keras layer's own recurrence on hand-built models."""
import json
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT, load_script

from asr.config import ModelConfig
from asr.training.keras_model import build_model

RECIPE = REPO_ROOT / "recipes" / "rnn_cells"
RUNS = [f"{cell}-{direction}" for direction in ("uni", "bi") for cell in ("rnn", "gru", "lstm")]
PNGS = ("gradient_norms.png", "training.png", "clipping.png", "alignment.png", "alignment_rnn.png")


def load_recipe_module(name: str):
    return load_script(RECIPE / f"{name}.py", f"rnn_cells_{name}")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("rnn_cells")
    started = time.time()
    done = subprocess.run([sys.executable, str(RECIPE / "run.py"), "--out", str(out), "--quick"], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"quick run: {time.time() - started:.0f} s")
    return out


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_quick_run_draws_every_picture_and_writes_the_report(quick):
    for name in PNGS:
        width, height = png_size(quick / name)
        assert width > 300 and height > 200 and (quick / name).stat().st_size > 10_000
    text = (quick / "RESULTS.md").read_text()
    assert "Quick mode" in text
    for heading in ("## Models", "## Training and test", "## Gradient norms", "## Gradient clipping"):
        assert heading in text
    for run in RUNS:
        assert f"| {run} |" in text and f"| {run} h | init |" in text and f"| {run} h | trained |" in text
    assert "| lstm-uni c | trained |" in text and "| rnn-uni c |" not in text


def test_models_share_the_parameter_budget(quick):
    counts = {run: json.loads((quick / "samples" / run / "best" / "metrics.json").read_text())["parameters"]
              for run in RUNS}
    assert max(counts.values()) / min(counts.values()) < 1.05, counts  # within a few % of each other
    configs = {run: json.loads((quick / "samples" / run / "config.json").read_text())["model"] for run in RUNS}
    units = {run: c["units"] for run, c in configs.items()}
    assert units["rnn-uni"] > units["gru-uni"] > units["lstm-uni"]  # fewer units where a cell has more gates
    assert all(configs[r]["bidirectional"] == r.endswith("-bi") and configs[r]["layers"] == 1 for r in RUNS)


@pytest.mark.parametrize("run", RUNS)
def test_gradient_norms_are_measured_at_init_and_after_training(quick, run):
    g = json.loads((quick / "samples" / run / "gradients.json").read_text())
    assert g["probe"]["targets"] > 0 and g["probe"]["rows"] == g["probe"]["targets"] * (2 if "bi" in run else 1)
    for name in ("init", "trained"):
        h = g[name]["h"]
        log_norm = np.array(h["log10_norm"])
        relative = np.array(h["log10_relative"])
        assert h["distance"] == list(range(len(log_norm))) and len(log_norm) >= 10
        assert np.all(np.isfinite(log_norm)) and np.all(np.isfinite(relative))  # finite and > 0 (no log10(0))
        assert h["zeros"] == 0 and relative[0] == 0.0
        assert relative[-1] < -1  # ten steps or more back, the gradient is smaller than at the output
        assert all(n >= 2 for n in h["rows"]) and h["rows"] == sorted(h["rows"], reverse=True)
        assert g[name]["max_norm_after_T"] == 0.0  # a later state cannot change an earlier output
        assert g[name]["max_abs_unroll_error"] < 1e-3
        assert ("c" in g[name]) == run.startswith("lstm")
        assert len(g[name]["gates"]) == (2 if "bi" in run else 1)
        assert all(0 < gate["mean"] < 1 for gate in g[name]["gates"])
    assert g["init"]["h"]["log10_relative"] != g["trained"]["h"]["log10_relative"]  # training changed the weights


def test_clipping_changes_the_updates_and_not_the_first_gradient(quick):
    runs = {p.stem: [json.loads(line) for line in p.read_text().splitlines()]
            for p in (quick / "clipping").glob("*.jsonl")}
    clipped, unclipped = runs["rnn-adam0.05-clip5"], runs["rnn-adam0.05-clip0"]
    assert set(runs) == {"rnn-adam0.05-clip5", "rnn-adam0.05-clip0"}  # --quick runs the first pair only
    assert all(len(r) == 3 and all(s["finite"] and s["grad_norm"] > 0 for s in r) for r in runs.values())
    assert clipped[0]["grad_norm"] == pytest.approx(unclipped[0]["grad_norm"], rel=1e-5)  # same start, same batch
    assert clipped[0]["grad_norm"] > 5  # so clipping scaled the updates down (the first at warm-up's rate 0) ...
    assert clipped[-1]["grad_norm"] != pytest.approx(unclipped[-1]["grad_norm"], rel=1e-4)  # ... and the path differs


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_probe_gradient_equals_autodiff_through_the_keras_layer(cell):
    """dL/dh_t from the step-by-step unroll equals the gradient through the Keras layer's own loop, started at
    step t + 1 from the unroll's (h_t, c_t); for the simple RNN also the hand-derived chain rule."""
    gradients = load_recipe_module("gradients")
    tf.keras.utils.set_random_seed(1)
    model = build_model(ModelConfig(cell=cell, bidirectional=False, layers=1, units=6, stack_frames=2,
                                    num_tokens=7, dropout=0.0), 5)
    rng = np.random.default_rng(0)
    model.set_normalization(rng.normal(size=5), rng.uniform(0.5, 2.0, size=5))
    features = rng.normal(size=(2, 40, 5)).astype(np.float32)
    lengths = np.array([40, 30])
    targets = gradients.Targets(clips=np.array([0, 1]), frames=np.array([17, 12]), tokens=np.array([3, 5]))
    (result,) = gradients.probe_models({"m": model}, features, lengths, targets)["m"]
    layer, dense = model.rnns[0], model.output_layer
    x, _, _ = gradients.layer_inputs(model, features, lengths)
    for row, (clip, T, token) in enumerate(zip(targets.clips, targets.frames, targets.tokens)):
        assert np.all(result["grad_h"][row, T + 1:] == 0)
        t = T - 4
        h0 = tf.constant(result["h"][row:row + 1, t], tf.float32)
        c0 = tf.constant(result["c"][row:row + 1, t], tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(h0)
            out = layer(x[clip:clip + 1, t + 1:T + 1], initial_state=[h0, c0] if cell == "lstm" else [h0])
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits([token], dense(out[:, -1]))
        expected = tape.gradient(loss, h0).numpy()[0]
        np.testing.assert_allclose(result["grad_h"][row, t], expected, rtol=2e-3, atol=1e-6)
        if cell == "rnn":  # dL/dh_T = W_hy (p - onehot); dL/dh_(T-1) = (dL/dh_T * tanh'(a_T)) W_hh^T
            logits = result["h"][row, T] @ dense.kernel.numpy() + dense.bias.numpy()
            p = np.exp(logits - logits.max())
            p /= p.sum()
            g_T = dense.kernel.numpy() @ (p - np.eye(7)[token])
            np.testing.assert_allclose(result["grad_h"][row, T], g_T, rtol=1e-5, atol=1e-9)
            recurrent = layer.cell.recurrent_kernel.numpy()
            g_prev = (g_T * (1 - result["h"][row, T] ** 2)) @ recurrent.T
            np.testing.assert_allclose(result["grad_h"][row, T - 1], g_prev, rtol=1e-5, atol=1e-9)


def test_backward_direction_is_probed_in_its_own_time_order():
    """In a bidirectional layer the backward direction's loss frame is counted from the clip's end, and its
    gradient reaches only the states after T in clip time (before T in its own running order)."""
    gradients = load_recipe_module("gradients")
    tf.keras.utils.set_random_seed(2)
    model = build_model(ModelConfig(cell="gru", bidirectional=True, layers=1, units=4, stack_frames=1,
                                    num_tokens=5, dropout=0.0), 3)
    features = np.random.default_rng(1).normal(size=(2, 20, 3)).astype(np.float32)
    lengths = np.array([20, 14])
    targets = gradients.Targets(clips=np.array([0, 1]), frames=np.array([5, 9]), tokens=np.array([1, 2]))
    forward, backward = gradients.probe_models({"m": model}, features, lengths, targets)["m"]
    np.testing.assert_array_equal(forward["frames"], [5, 9])
    np.testing.assert_array_equal(backward["frames"], [20 - 1 - 5, 14 - 1 - 9])
    for result in (forward, backward):
        norms = np.linalg.norm(result["grad_h"], axis=-1)
        for row, T in enumerate(result["frames"]):
            assert np.all(norms[row, :T + 1] > 0) and np.all(norms[row, T + 1:] == 0)
