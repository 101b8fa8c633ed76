"""recipes/mini_librispeech/gpu/layout.py: PyTorch-layout weights, converted, give asr's model the outputs that
PyTorch's bidirectional LSTM gives (computed here by a NumPy reading of torch.nn.LSTM's documented equations, so
the test needs no PyTorch); split weight files join again."""
import sys
from pathlib import Path

import numpy as np
import pytest

from asr.config import ModelConfig
from asr.model import build_model, load_weights

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recipes" / "mini_librispeech" / "gpu"))
import layout  # noqa: E402

MELS, STACK, UNITS, LAYERS, TOKENS = 5, 2, 6, 2, 7


def torch_state(seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights named as train_torch.Model's state_dict names them (both PyTorch biases non-zero)."""
    rng = np.random.default_rng(seed)
    state = {"mean": rng.normal(size=MELS).astype(np.float32),
             "std": rng.uniform(0.5, 2.0, size=MELS).astype(np.float32)}
    for i in range(LAYERS):
        inputs = MELS * STACK if i == 0 else 2 * UNITS
        for s in ("_l0", "_l0_reverse"):
            state[f"lstms.{i}.weight_ih{s}"] = rng.normal(0, 0.4, (4 * UNITS, inputs)).astype(np.float32)
            state[f"lstms.{i}.weight_hh{s}"] = rng.normal(0, 0.4, (4 * UNITS, UNITS)).astype(np.float32)
            state[f"lstms.{i}.bias_ih{s}"] = rng.normal(0, 0.3, 4 * UNITS).astype(np.float32)
            state[f"lstms.{i}.bias_hh{s}"] = rng.normal(0, 0.3, 4 * UNITS).astype(np.float32)
    state["out.weight"] = rng.normal(0, 0.4, (TOKENS, 2 * UNITS)).astype(np.float32)
    state["out.bias"] = rng.normal(0, 0.1, TOKENS).astype(np.float32)
    return state


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def torch_lstm_direction(x, state, key):
    """torch.nn.LSTM over x [t, in] (one clip, no padding): i, f, g, o = split(W_ih x + b_ih + W_hh h + b_hh)."""
    w_ih, w_hh = state[f"weight_ih{key}"], state[f"weight_hh{key}"]
    b = state[f"bias_ih{key}"] + state[f"bias_hh{key}"]
    h, c, out = np.zeros(UNITS), np.zeros(UNITS), []
    for x_t in x:
        i, f, g, o = np.split(w_ih @ x_t + w_hh @ h + b, 4)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out.append(h)
    return np.array(out)


def torch_model(features, length, state):
    """train_torch.Model on one clip's valid frames (a packed sequence sees exactly those)."""
    x = (features[:length] - state["mean"]) / state["std"]
    x = np.concatenate([x, np.zeros(((-length) % STACK, MELS))]).reshape(-1, MELS * STACK)
    for i in range(LAYERS):
        layer = {k.split(".", 2)[2]: v for k, v in state.items() if k.startswith(f"lstms.{i}.")}
        forward = torch_lstm_direction(x, layer, "_l0")
        backward = torch_lstm_direction(x[::-1], layer, "_l0_reverse")[::-1]
        x = np.concatenate([forward, backward], axis=1)
    return x @ state["out.weight"].T + state["out.bias"]


def asr_model():
    cfg = ModelConfig(cell="lstm", bidirectional=True, layers=LAYERS, units=UNITS, stack_frames=STACK, dropout=0.1,
                      num_tokens=TOKENS, tokens="phones")
    return build_model(cfg, MELS)


def test_names_are_asr_weight_order():
    assert layout.keras_names(LAYERS) == [w.path for w in asr_model().weights]


def test_converted_weights_give_pytorch_outputs_on_padded_batches(tmp_path):
    state = torch_state()
    weights = layout.torch_to_keras(state, LAYERS)
    layout.write_model_npz(weights, tmp_path / "model.npz", dtype=np.float32)
    model = asr_model()
    load_weights(model, tmp_path / "model.npz")
    rng = np.random.default_rng(3)
    lengths = np.array([11, 6, 3])
    features = rng.normal(size=(3, 11, MELS)).astype(np.float32)
    features[1, 6:] = 50.0  # padding must not reach the outputs
    logits, out_lengths = model(features, lengths)
    np.testing.assert_array_equal(out_lengths, [6, 3, 2])
    for b, length in enumerate(lengths):
        expected = torch_model(features[b], length, state)
        np.testing.assert_allclose(logits.numpy()[b, :out_lengths[b]], expected, atol=2e-5)


def test_round_trip_and_bias_sum():
    state = torch_state(1)
    weights = layout.torch_to_keras(state, LAYERS)
    back = layout.keras_to_torch(weights, LAYERS)
    again = layout.torch_to_keras(back, LAYERS)
    for name in weights:
        np.testing.assert_array_equal(weights[name], again[name])
    np.testing.assert_array_equal(back["lstms.0.bias_hh_l0"], 0)
    np.testing.assert_allclose(weights[f"{layout.PREFIX}/bilstm_1/backward_lstm_1/lstm_cell/bias"],
                               state["lstms.1.bias_ih_l0_reverse"] + state["lstms.1.bias_hh_l0_reverse"])


@pytest.mark.parametrize("max_bytes", [None, 500, 10 ** 9])
def test_split_files_join(tmp_path, max_bytes):
    weights = layout.torch_to_keras(torch_state(2), LAYERS)
    written = layout.write_model_npz(weights, tmp_path / "best.npz", max_bytes=max_bytes)
    if max_bytes == 500:
        assert len(written) > 3  # every part but a single oversized weight stays under the limit
    joined = layout.read_model_npz(written)
    assert list(joined) == list(weights)
    for name, value in weights.items():
        np.testing.assert_array_equal(joined[name], value.astype(np.float16))
