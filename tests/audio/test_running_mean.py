"""The causal running mean a stream normalises by: the closed form equals the recursion, any chunking gives the
same means, it starts at the prior and follows a channel that changes."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import digits_with_decoding

from asr.audio.features import log_mel
from asr.audio.load import load_audio
from asr.audio.running_mean import BLOCK, PRIOR_S, initial_state, running_means
from asr.models import CheckpointError

HOP_S = 0.01


def _recursion(x, prior, memory_s):
    decay = np.exp(-HOP_S / memory_s)
    total, weight = prior * PRIOR_S / HOP_S, PRIOR_S / HOP_S
    out = []
    for frame in x:
        total, weight = decay * total + frame, decay * weight + 1
        out.append(total / weight)
    return np.array(out)


def test_closed_form_equals_the_recursion_across_blocks():
    rng = np.random.default_rng(0)
    x = rng.normal(-4, 3, [2 * BLOCK + 37, 5])
    prior = rng.normal(-6, 1, 5)
    means, _ = running_means(x, initial_state(prior, HOP_S), HOP_S, memory_s=3.0)
    np.testing.assert_allclose(means, _recursion(x, prior, 3.0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("chunk", [1, 7, 300, BLOCK + 1])
def test_any_chunking_gives_the_same_means(chunk):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, [1500, 4])
    state = initial_state(np.zeros(4), HOP_S)
    whole, _ = running_means(x, state, HOP_S, 10.0)
    parts = []
    for i in range(0, len(x), chunk):
        part, state = running_means(x[i:i + chunk], state, HOP_S, 10.0)
        parts.append(part)
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-5)


def test_starts_at_the_prior_and_follows_a_new_channel():
    prior = np.full(3, -5.0)
    first = np.full([100, 3], -5.0)  # one second as the training clips sound
    shifted = np.full([3000, 3], 1.0)  # then 30 s of a channel 6 log units louder
    means, _ = running_means(np.concatenate([first, shifted]), initial_state(prior, HOP_S), HOP_S, 5.0)
    np.testing.assert_allclose(means[:100], -5.0, atol=1e-5)
    assert -5.0 < means[150, 0] < 1.0  # half a second into the new channel: on the way
    np.testing.assert_allclose(means[-1], 1.0, atol=1e-2)  # 30 s later (6 memories): there


def test_empty_input_keeps_the_state():
    state = initial_state(np.ones(2), HOP_S)
    means, after = running_means(np.zeros([0, 2]), state, HOP_S, 10.0)
    assert means.shape == (0, 2)
    np.testing.assert_allclose(after[0], state[0])
    assert after[1] == state[1]


def test_a_model_with_running_mean_s_hears_each_frame_by_its_running_mean(tmp_path, samples_dir):
    import asr
    model = asr.load_model(str(digits_with_decoding(tmp_path, running_mean_s=5.0)))
    plain = asr.load_model("digits")
    clip = load_audio(samples_dir / "fsdd-7_nicolas_1.wav", model.sample_rate_hz)
    features = log_mel(clip, plain.config.features)
    means, _ = running_means(features, initial_state(plain.model.mean, 0.01), 0.01, 5.0)
    heard = model.hear(clip)
    np.testing.assert_allclose(heard, plain.model(features, means), atol=1e-5)
    assert not np.allclose(heard, plain.hear(clip), atol=1e-3)


@pytest.mark.parametrize("keys, message", [
    ({"running_mean_s": 0.5}, "running_mean_s must be a number of seconds of at least 1"),
    ({"running_mean_s": "10"}, "running_mean_s must be a number of seconds"),
    ({"running_mean_s": 10, "utterance_mean": True}, "utterance_mean and running_mean_s exclude each other"),
])
def test_running_mean_s_must_be_seconds_and_not_beside_utterance_mean(tmp_path, keys, message):
    import asr
    with pytest.raises(CheckpointError, match=message):
        asr.load_model(str(digits_with_decoding(tmp_path, **keys)))
