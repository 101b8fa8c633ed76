"""asr/audio/noise.py: steady noise above the training floor is taken out of the mel power, babble and clean
recordings are left as they are, and a model whose decoding.json says noise_subtraction needs its noise floor and
hears the subtracted features."""

import numpy as np
import pytest
from conftest import digits_with_decoding

from asr.audio import noise
from asr.audio.features import log_mel, log_of, mel_power
from asr.audio.load import load_audio
from asr.config import FeatureConfig
from asr.model import directory, noise_floor
from asr.models import CheckpointError

RATE = 16000
CFG = FeatureConfig()


def _power(samples, cfg=CFG):
    return mel_power(samples.astype(np.float32), cfg)


@pytest.fixture(scope="module")
def speech(samples_dir):
    """Six seconds of read speech with its pauses (a LibriSpeech sample), scaled to about -24 dBFS."""
    clip = load_audio(samples_dir / "librispeech-1272-135031-0006.opus", RATE)[:6 * RATE].astype(np.float64)
    return clip * (10 ** (-24 / 20) / np.sqrt(np.mean(clip ** 2)))


def test_steady_noise_is_taken_out_and_babble_is_left_alone(speech):
    rng = np.random.default_rng(0)
    reference = noise.floor(_power(speech))  # the clean clip's own floor stands for the training floor
    hiss = 10 ** (-40 / 20) * rng.standard_normal(len(speech))  # steady: 16 dB below the speech
    noisy = speech + hiss
    assert noise.steadiness(_power(hiss)) == 1.0
    power_after = noise.subtract(_power(noisy), reference, over=1.5)
    before, after = log_mel(noisy.astype(np.float32), CFG), log_of(power_after, CFG)
    # the noise floor comes down to the training floor (from about 30 times it)
    assert np.median(noise.floor(_power(noisy)) / reference) > 10
    assert np.median(noise.floor(power_after) / reference) < 1.5
    # never below the training floor where the noise stood above it
    assert np.all(power_after >= np.minimum(noise.floor(_power(noisy)), reference) * (1 - 1e-5))
    # speech well above the noise keeps its power
    strong = _power(speech) > 30 * noise.floor(_power(hiss))
    assert strong.sum() > 1000 and np.abs(after - before)[strong].mean() < 0.1
    # babble: other talkers rise and fall like the speech; the subtraction stays off
    starts = rng.integers(0, len(speech) // 2, 4)
    babble = sum(np.roll(speech, s) for s in starts) / 2.0
    assert noise.steadiness(_power(babble)) == 0.0
    talkers = _power(speech + 0.3 * babble)
    assert np.array_equal(noise.subtract(talkers, reference, over=1.5), talkers)


def test_a_recording_quieter_than_the_training_floor_is_unchanged(speech):
    power = _power(speech)
    louder_floor = 10 * noise.floor(power)
    assert np.array_equal(noise.subtract(power, louder_floor, over=1.5), power)
    one_frame = power[:1]  # too short to have a floor
    assert np.array_equal(noise.subtract(one_frame, louder_floor / 100, over=1.5), one_frame)


def test_the_reference_floor_is_the_median_of_the_clips_floors():
    powers = [np.full((50, 3), v) for v in (1.0, 2.0, 10.0)]
    np.testing.assert_allclose(noise.reference_floor(powers), [2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="no clips"):
        noise.reference_floor([np.zeros((0, 3))])


def test_a_model_with_noise_subtraction_needs_its_floor_and_hears_the_subtracted_features(tmp_path, samples_dir):
    import asr
    model = digits_with_decoding(tmp_path, noise_subtraction=1.5)
    with pytest.raises(CheckpointError, match="noise_floor.json: missing"):
        asr.load_model(str(model))
    clip = load_audio(samples_dir / "fsdd-7_nicolas_1.wav", RATE)
    features = directory.read_config(model).features
    reference = 2 * noise.floor(_power(clip, features))  # the clip is quieter than its "training floor"
    noise_floor.save(model / noise_floor.NOISE_FILE, reference, None, 1, "twice the clip's own")
    reference = noise_floor.load(model, None, features.num_mels)
    subtracting, plain = asr.load_model(str(model)), asr.load_model("digits")
    hissing = clip + (0.02 * np.random.default_rng(1).standard_normal(len(clip))).astype(np.float32)
    heard = subtracting.hear(hissing)
    assert not np.allclose(heard, plain.hear(hissing), atol=1e-3)
    cleaned = log_of(noise.subtract(mel_power(hissing, features), reference, 1.5), features)
    np.testing.assert_allclose(heard, plain.model(cleaned, None), atol=1e-5)
    np.testing.assert_array_equal(subtracting.hear(clip), plain.hear(clip))  # below the floor: nothing to take


@pytest.mark.parametrize("value", [-1, 0, "1.5", float("inf")])
def test_noise_subtraction_must_be_a_positive_number(tmp_path, value):
    import asr
    model = digits_with_decoding(tmp_path, noise_subtraction=value)
    with pytest.raises(CheckpointError, match="noise_subtraction must be a positive number"):
        asr.load_model(str(model))
