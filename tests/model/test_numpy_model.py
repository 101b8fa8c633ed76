"""asr.model.network: the NumPy forward pass equals the Keras model's, and the Transcriber uses it."""
import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import tensorflow as tf

from asr import load_model
from asr.config import ModelConfig
from asr.model import network
from asr.model.network import NumpyAcousticModel
from asr.training.keras_model import build_model
from asr.training.reference import KerasReference


def random_model(seed: int, **settings):
    cfg = ModelConfig(**{"cell": "lstm", "layers": 2, "units": 24, "stack_frames": 3, "num_tokens": 7, **settings})
    tf.keras.utils.set_random_seed(seed)
    model = build_model(cfg, num_features=10)
    rng = np.random.default_rng(seed)
    model.set_normalization(rng.normal(size=10), rng.uniform(0.5, 2.0, size=10))
    for w in model.weights:  # biases and the normalisation away from their zero / one starts
        if "bias" in w.path:
            w.assign(rng.normal(scale=0.5, size=w.shape).astype(np.float32))
    return model


def keras_log_probs(model, features: np.ndarray) -> np.ndarray:
    logits, _ = model(features[None], tf.constant([len(features)]), training=False)
    return tf.nn.log_softmax(logits[0]).numpy()


@pytest.mark.parametrize("settings", [
    {"bidirectional": True},
    {"bidirectional": False},
    {"bidirectional": True, "stack_frames": 1, "layers": 1},
    {"bidirectional": False, "stack_frames": 4, "layers": 3, "units": 16},
    {"bidirectional": True, "cell": "gru"},
    {"bidirectional": False, "cell": "gru"},
    {"bidirectional": True, "cell": "rnn"},
    {"bidirectional": True, "conv_channels": 8, "conv_kernel": 3, "conv_stride": 2},
    {"bidirectional": False, "cell": "gru", "stack_frames": 1, "conv_channels": 5, "conv_kernel": 4, "conv_stride": 3},
])
@pytest.mark.parametrize("frames", [1, 2, 37, 200])  # stack_frames does not always divide the frames; 200 frames:
# the directions of a bidirectional layer run on two threads (network.PARALLEL_MIN_FRAMES)
def test_numpy_forward_equals_keras(settings, frames):
    model = random_model(len(settings) + frames, **settings)
    features = np.random.default_rng(frames).normal(size=(frames, 10)).astype(np.float32) * 3
    expected = keras_log_probs(model, features)
    got = NumpyAcousticModel(model.cfg, [w.numpy() for w in model.weights])(features)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=2e-5)
    np.testing.assert_allclose(np.exp(got).sum(axis=1), 1.0, atol=1e-5)


def test_the_two_directions_run_at_once_on_another_thread_with_the_same_result(monkeypatch):
    model = random_model(5, bidirectional=True, stack_frames=1, layers=3)
    numpy_model = NumpyAcousticModel(model.cfg, [w.numpy() for w in model.weights])
    features = np.random.default_rng(5).normal(size=(network.PARALLEL_MIN_FRAMES + 20, 10)).astype(np.float32)
    threads = []

    class Spy(ThreadPoolExecutor):
        def submit(self, fn, *args):
            threads.append(threading.current_thread())
            return super().submit(lambda: (threads.append(threading.current_thread()), fn(*args))[1])

    with Spy(1) as pool:
        monkeypatch.setattr(network, "_backward_pool", lambda: pool)
        at_once = numpy_model(features)
    assert len(threads) == 2 * 3 and threads[0] is not threads[1]  # each layer's backward direction elsewhere
    monkeypatch.setattr(network, "PARALLEL_MIN_FRAMES", 10 ** 9)
    np.testing.assert_array_equal(numpy_model(features), at_once)
    np.testing.assert_allclose(at_once, keras_log_probs(model, features), atol=2e-5)


def test_a_forked_process_runs_the_directions_on_threads_of_its_own():
    if network._backward_pool() is None:
        pytest.skip("one core: the directions run in turn")  # CI has two
    model = random_model(6, bidirectional=True, stack_frames=1)
    numpy_model = NumpyAcousticModel(model.cfg, [w.numpy() for w in model.weights])
    features = np.random.default_rng(6).normal(size=(network.PARALLEL_MIN_FRAMES + 10, 10)).astype(np.float32)
    expected = numpy_model(features)  # the parent's pool has its thread now; a child of a fork has none of it
    with multiprocessing.get_context("fork").Pool(1) as pool:
        np.testing.assert_array_equal(pool.apply_async(numpy_model, (features,)).get(timeout=120), expected)


def test_weights_that_do_not_fit_the_config_are_refused():
    model = random_model(0)
    weights = [w.numpy() for w in model.weights]
    with pytest.raises(ValueError, match="does not match"):
        NumpyAcousticModel(model.cfg, weights[:-1])
    with pytest.raises(ValueError, match="tokens"):
        NumpyAcousticModel(ModelConfig(**{**model.cfg.__dict__, "num_tokens": 9}), weights)


def test_transcriber_runs_in_numpy_with_tensorflow_s_output():
    model = load_model("digits")
    samples = np.concatenate([np.zeros(800, np.float32), np.sin(np.arange(8000) / 7).astype(np.float32)])
    # the two front ends differ by up to 1e-4 (tests/audio/test_features.py), the networks by float32 rounding
    np.testing.assert_allclose(model.log_probs(samples), KerasReference(model.model_dir).log_probs(samples),
                               atol=2e-4)


def test_the_input_mean_in_place_of_the_training_mean_takes_a_constant_offset_out():
    """NumpyAcousticModel(features, mean): with the features' own mean, adding one vector to every frame (what a
    gain or a channel's tilt does to log-mel features) leaves the output as it was; without, it does not."""
    model = random_model(9, bidirectional=True)
    numpy_model = NumpyAcousticModel(model.cfg, [w.numpy() for w in model.weights])
    rng = np.random.default_rng(9)
    x = rng.normal(size=(40, 10)).astype(np.float32) * 3
    moved = (x + rng.normal(size=10) * 3).astype(np.float32)
    np.testing.assert_allclose(numpy_model(moved, moved.mean(0)), numpy_model(x, x.mean(0)), atol=1e-5)
    assert not np.allclose(numpy_model(moved), numpy_model(x), atol=1e-2)
