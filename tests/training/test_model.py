"""The acoustic model: shapes and lengths, padding invariance, the simple RNN's recurrence by hand, weight files."""
import numpy as np
import pytest
import tensorflow as tf

from asr.config import ModelConfig
from asr.training.keras_model import build_model, count_parameters, load_weights, output_lengths, save_weights

MELS = 6
TOKENS = 5
CELLS = ["rnn", "gru", "lstm"]


def tiny(**overrides) -> ModelConfig:
    values = dict(cell="gru", bidirectional=True, layers=1, units=8, stack_frames=1, dropout=0.0, num_tokens=TOKENS)
    return ModelConfig(**{**values, **overrides})


def features(batch: int, frames: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(batch, frames, MELS)).astype(np.float32)


def with_normalization(model, seed: int = 1):
    """Give the model a non-trivial feature mean and std, so zero padding is not zero after normalisation."""
    rng = np.random.default_rng(seed)
    model.set_normalization(rng.normal(size=MELS), rng.uniform(0.5, 2.0, size=MELS))
    return model


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("cell", CELLS)
def test_output_shape_and_lengths(cell, bidirectional):
    model = build_model(tiny(cell=cell, bidirectional=bidirectional), MELS)
    logits, lengths = model(features(2, 13), np.array([13, 7]))
    assert logits.shape == (2, 13, TOKENS) and logits.dtype == tf.float32
    np.testing.assert_array_equal(lengths, [13, 7])
    assert np.isfinite(logits.numpy()).all()
    layer = model.rnns[0]
    assert (type(layer).__name__ == "Bidirectional") == bidirectional
    # (input kernel + recurrent kernel) per direction, each with gates: 1 for rnn, 3 for gru, 4 for lstm
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[cell]
    directions = 2 if bidirectional else 1
    assert model.rnns[0].weights[0].shape[-1] == gates * 8
    assert model.output_layer.kernel.shape == (8 * directions, TOKENS)


def assert_padding_invariant(cfg: ModelConfig, long: int, short: int, expected_lengths):
    model = with_normalization(build_model(cfg, MELS))
    x = features(2, long)
    x[1, short:] = 50.0  # garbage in the padding: it must not leak into the short utterance
    logits, lengths = model(x, np.array([long, short]))
    np.testing.assert_array_equal(lengths, expected_lengths)
    np.testing.assert_array_equal(output_lengths(np.array([long, short]), cfg), expected_lengths)
    alone, alone_lengths = model(x[1:, :short], np.array([short]))
    assert alone.shape[1] == alone_lengths[0] == expected_lengths[1]
    np.testing.assert_allclose(logits[1, :expected_lengths[1]], alone[0], rtol=0, atol=1e-5)
    long_alone, _ = model(x[:1], np.array([long]))
    np.testing.assert_allclose(logits[0], long_alone[0], rtol=0, atol=1e-5)


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("cell", CELLS)
def test_padding_invariance(cell, bidirectional):
    assert_padding_invariant(tiny(cell=cell, bidirectional=bidirectional), 13, 7, [13, 7])


@pytest.mark.parametrize("cell", CELLS)
def test_padding_invariance_with_frame_stacking(cell):
    # 29 -> ceil(29 / 3) = 10, 17 -> 6
    assert_padding_invariant(tiny(cell=cell, stack_frames=3), 29, 17, [10, 6])


@pytest.mark.parametrize("cell", CELLS)
def test_padding_invariance_with_stacking_and_strided_convolution(cell):
    # 29 -> 10 -> ceil(10 / 2) = 5, 17 -> 6 -> 3
    cfg = tiny(cell=cell, stack_frames=3, conv_channels=8, conv_stride=2)
    assert_padding_invariant(cfg, 29, 17, [5, 3])


def test_padding_invariance_with_two_layers():
    assert_padding_invariant(tiny(cell="lstm", layers=2, stack_frames=2, conv_channels=4, conv_stride=2), 23, 9,
                             [6, 3])  # 23 -> 12 -> 6, 9 -> 5 -> 3


def test_padding_does_change_output_without_lengths():
    """Guard for the invariance tests: the garbage padding would show if the lengths were ignored."""
    model = with_normalization(build_model(tiny(cell="rnn"), MELS))
    x = features(1, 13)
    x[0, 7:] = 50.0
    masked, _ = model(x, np.array([7]))
    unmasked, _ = model(x, np.array([13]))
    assert np.abs(masked[0, :7] - unmasked[0, :7]).max() > 1e-3  # the backward direction sees the garbage


def simple_rnn_by_hand(x: np.ndarray, kernel, recurrent, bias) -> np.ndarray:
    """h_t = tanh(W_hh h_(t-1) + W_xh x_t + b) over x [time, in] with h_(-1) = 0 (Keras stores W as [in, out])."""
    h = np.zeros(recurrent.shape[0])
    out = []
    for x_t in x:
        h = np.tanh(recurrent.T @ h + kernel.T @ x_t + bias)
        out.append(h)
    return np.array(out)


def randomize(layer, rng, scale=0.7):
    for w in layer.weights:
        w.assign(rng.normal(scale=scale, size=w.shape).astype(np.float32))


def test_simple_rnn_is_the_tanh_recurrence():
    model = with_normalization(build_model(tiny(cell="rnn", bidirectional=False), MELS))
    rng = np.random.default_rng(2)
    randomize(model.rnns[0], rng)  # a non-zero bias and weights large enough for tanh to saturate somewhere
    x = features(1, 11)[0]
    logits, _ = model(x[None], np.array([11]))

    cell = model.rnns[0].cell
    normalized = (x - model.feature_mean.numpy()) / model.feature_std.numpy()
    h = simple_rnn_by_hand(normalized.astype(np.float64), cell.kernel.numpy(), cell.recurrent_kernel.numpy(),
                           cell.bias.numpy())
    assert np.abs(h).max() > 0.9  # tanh is in its non-linear range, so tanh vs. identity/relu would show
    expected = h @ model.output_layer.kernel.numpy() + model.output_layer.bias.numpy()
    np.testing.assert_allclose(logits[0], expected, rtol=0, atol=1e-5)


def test_bidirectional_simple_rnn_concatenates_forward_and_time_aligned_backward():
    model = with_normalization(build_model(tiny(cell="rnn", bidirectional=True), MELS))
    rng = np.random.default_rng(3)
    randomize(model.rnns[0], rng)
    x = features(1, 9)[0]
    logits, _ = model(x[None], np.array([9]))

    layer = model.rnns[0]
    normalized = ((x - model.feature_mean.numpy()) / model.feature_std.numpy()).astype(np.float64)
    fwd, bwd = layer.forward_layer.cell, layer.backward_layer.cell
    h_fwd = simple_rnn_by_hand(normalized, fwd.kernel.numpy(), fwd.recurrent_kernel.numpy(), fwd.bias.numpy())
    h_bwd = simple_rnn_by_hand(normalized[::-1], bwd.kernel.numpy(), bwd.recurrent_kernel.numpy(),
                               bwd.bias.numpy())[::-1]
    h = np.concatenate([h_fwd, h_bwd], axis=1)
    expected = h @ model.output_layer.kernel.numpy() + model.output_layer.bias.numpy()
    np.testing.assert_allclose(logits[0], expected, rtol=0, atol=1e-5)


def test_save_load_weights_round_trip(tmp_path):
    cfg = tiny(cell="lstm", stack_frames=2)
    source = with_normalization(build_model(cfg, MELS))
    target = build_model(cfg, MELS)
    x, lengths = features(2, 10), np.array([10, 6])
    before, _ = target(x, lengths)
    expected, _ = source(x, lengths)
    assert np.abs(before - expected).max() > 1e-2  # fresh weights really differ

    save_weights(source, tmp_path / "model.npz")
    load_weights(target, tmp_path / "model.npz")

    for a, b in zip(source.weights, target.weights):
        np.testing.assert_array_equal(b.numpy(), a.numpy().astype(np.float16).astype(np.float32))
    after, _ = target(x, lengths)
    np.testing.assert_allclose(after, expected, rtol=0, atol=2e-2)  # float16 weights: about 3 significant digits
    assert count_parameters(target) == count_parameters(source)


def test_save_weights_float32_is_exact(tmp_path):
    cfg = tiny(cell="gru")
    source, target = build_model(cfg, MELS), build_model(cfg, MELS)
    save_weights(source, tmp_path / "model.npz", dtype=np.float32)
    load_weights(target, tmp_path / "model.npz")
    for a, b in zip(source.weights, target.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_load_weights_shape_mismatch(tmp_path):
    save_weights(build_model(tiny(units=8), MELS), tmp_path / "model.npz")
    with pytest.raises(ValueError, match="has shape"):
        load_weights(build_model(tiny(units=16), MELS), tmp_path / "model.npz")


def test_load_weights_count_mismatch(tmp_path):
    save_weights(build_model(tiny(layers=1), MELS), tmp_path / "model.npz")
    with pytest.raises(ValueError, match="holds 10 weights, the model has 16"):
        load_weights(build_model(tiny(layers=2), MELS), tmp_path / "model.npz")


def test_unknown_cell():
    with pytest.raises(ValueError, match="unknown cell 'transformer'"):
        build_model(tiny(cell="transformer"), MELS)


def test_mixed_bfloat16_builds_and_gives_float32_logits():
    cfg = tiny(cell="lstm", stack_frames=2, conv_channels=4, conv_stride=2)
    mixed = build_model(cfg, MELS, precision="mixed_bfloat16")
    assert mixed.rnns[0].compute_dtype == "bfloat16" and mixed.conv.compute_dtype == "bfloat16"
    assert all(w.dtype == "float32" for w in mixed.weights)  # variables stay float32

    full = with_normalization(build_model(cfg, MELS))
    for a, b in zip(full.weights, mixed.weights):
        b.assign(a)
    x, lengths = features(2, 12), np.array([12, 8])
    logits, out_lengths = mixed(x, lengths)
    assert logits.dtype == tf.float32
    np.testing.assert_array_equal(out_lengths, [3, 2])
    reference, _ = full(x, lengths)
    np.testing.assert_allclose(logits, reference, rtol=0, atol=0.1)  # bfloat16 has 8 bits of mantissa
