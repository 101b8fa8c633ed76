"""asr/audio/level.py: the active speech level ignores pauses; to_level brings a clip to the level asked for,
within its limits; a model whose decoding.json names level_dbfs hears a quiet recording as a normal one."""
import json
import shutil

import numpy as np
import pytest

from asr.audio.level import MAX_GAIN_DB, active_level_db, to_level
from asr.audio.load import load_audio
from asr.models import resolve

RATE = 16000
TONE = 0.1 * np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE).astype(np.float32)  # -23.0 dBFS


def test_the_active_level_of_a_tone_is_its_power_and_pauses_do_not_lower_it():
    assert active_level_db(TONE, RATE) == pytest.approx(20 * np.log10(0.1 / np.sqrt(2)), abs=0.05)
    with_pauses = np.concatenate([TONE, np.zeros(2 * RATE, np.float32), TONE, 1e-4 * np.ones(RATE, np.float32)])
    assert active_level_db(with_pauses, RATE) == pytest.approx(active_level_db(TONE, RATE), abs=0.2)  # not -28
    assert active_level_db(TONE[:100], RATE) is None  # less than one frame


def test_to_level_reaches_the_target_within_its_limits():
    for target in (-30.0, -24.0, -10.0):
        assert active_level_db(to_level(TONE, RATE, target), RATE) == pytest.approx(target, abs=0.05)
    faint = TONE * 10 ** (-45 / 20)  # -68 dBFS: raised by MAX_GAIN_DB only
    assert active_level_db(to_level(faint, RATE, -24.0), RATE) == pytest.approx(-68.0 + MAX_GAIN_DB, abs=0.1)
    silence = np.zeros(RATE, np.float32)
    assert np.array_equal(to_level(silence, RATE, -24.0), silence)
    loud = to_level(TONE, RATE, 0.0)
    assert loud.dtype == np.float32 and np.abs(loud).max() > 1.0  # not clipped: the front end takes it


def test_a_model_with_an_input_level_hears_a_quiet_recording_as_the_recorded_one(tmp_path, samples_dir):
    import asr
    model = tmp_path / "digits"
    shutil.copytree(resolve("digits"), model)
    decoding = json.loads((model / "decoding.json").read_text()) if (model / "decoding.json").exists() else {}
    (model / "decoding.json").write_text(json.dumps({**decoding, "level_dbfs": -24.0}))
    leveled, plain = asr.load_model(str(model)), asr.load_model("digits")
    clip = load_audio(samples_dir / "fsdd-7_nicolas_1.wav", RATE)
    quiet = clip * np.float32(10 ** (-20 / 20))
    np.testing.assert_allclose(leveled.hear(quiet), leveled.hear(clip), atol=1e-3)  # the level divides out
    assert not np.allclose(plain.hear(quiet), plain.hear(clip), atol=1e-3)  # without it, it does not
    assert leveled.transcribe(quiet).text == leveled.transcribe(clip).text


def test_a_model_that_normalises_by_the_input_mean_hears_a_gain_or_a_tilt_as_nothing(tmp_path, samples_dir):
    """decoding.json utterance_mean: each input's log-mel features are normalised by their own mean, so a gain
    (a constant in every log-mel bin) and a smooth tilt of the spectrum (about one per bin) all but divide out."""
    import asr
    model = tmp_path / "digits"
    shutil.copytree(resolve("digits"), model)
    decoding = json.loads((model / "decoding.json").read_text()) if (model / "decoding.json").exists() else {}
    (model / "decoding.json").write_text(json.dumps({**decoding, "utterance_mean": True}))
    normalised, plain = asr.load_model(str(model)), asr.load_model("digits")
    clip = load_audio(samples_dir / "fsdd-7_nicolas_1.wav", RATE)
    quiet = clip * np.float32(10 ** (-20 / 20))
    tilted = np.convolve(clip, [1.0, -0.5])[:len(clip)].astype(np.float32)  # a gentle high-pass
    shift = lambda model, x: np.abs(np.exp(model.hear(x)) - np.exp(model.hear(clip))).mean()  # noqa: E731
    for changed in (quiet, tilted):  # the gain's residue: the log floor of the silent frames
        assert shift(normalised, changed) < 0.1 * shift(plain, changed)
    assert normalised.transcribe(quiet).text == normalised.transcribe(tilted).text == normalised.transcribe(clip).text
