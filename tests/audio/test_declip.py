"""asr/audio/declip.py: peaks cut flat are put back near where they were; a recording that is not clipped is
left as it is; a model whose decoding.json says declip hears the restored samples."""
import json
import shutil

import numpy as np

from asr.audio.declip import MAX_RISE, cut_samples, declip
from asr.audio.load import load_audio
from asr.models import resolve

RATE = 16000


def _speech(samples_dir):
    clip = load_audio(samples_dir / "librispeech-1272-135031-0006.opus", RATE)[:4 * RATE].astype(np.float64)
    return clip / np.abs(clip).max()


def test_cut_peaks_come_back_near_the_original(samples_dir):
    loud = 4.0 * _speech(samples_dir)  # 12 dB past full scale
    cut = np.clip(loud, -1.0, 1.0)
    restored = declip(cut)
    where = np.flatnonzero(np.abs(loud) > 1.0)
    assert len(where) > 0.001 * len(cut)
    assert np.abs(restored - loud)[where].mean() < 0.6 * np.abs(cut - loud)[where].mean()
    # samples that were not cut stay; restored ones keep their sign, at least the cut level, at most MAX_RISE times it
    kept = np.abs(cut) < 0.98
    np.testing.assert_array_equal(restored[kept], cut[kept])
    assert np.all(np.sign(restored[where]) == np.sign(cut[where]))
    assert np.all(np.abs(restored[where]) >= 0.98 - 1e-9) and np.all(np.abs(restored) <= MAX_RISE + 1e-9)


def test_a_recording_that_is_not_clipped_is_left_alone(samples_dir):
    speech = 0.5 * _speech(samples_dir)
    assert cut_samples(speech) is None and declip(speech) is speech
    silence = np.zeros(RATE)
    assert declip(silence) is silence
    one_cut = speech.copy()
    one_cut[RATE] = 1.0  # a single loud click is not clipping
    assert declip(one_cut) is one_cut
    short = speech[:500]  # a short input's peak alone is not a cut
    assert declip(short) is short


def test_a_model_with_declip_hears_the_restored_samples(tmp_path, samples_dir):
    import asr
    model = tmp_path / "digits"
    shutil.copytree(resolve("digits"), model)
    path = model / "decoding.json"
    decoding = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**decoding, "declip": True}))
    declipping, plain = asr.load_model(str(model)), asr.load_model("digits")
    clip = load_audio(samples_dir / "fsdd-7_nicolas_1.wav", RATE)
    cut = np.clip(8 * clip / np.abs(clip).max(), -1, 1).astype(np.float32)
    np.testing.assert_allclose(declipping.hear(cut), plain.hear(declip(cut)), atol=1e-5)
    assert not np.allclose(declipping.hear(cut), plain.hear(cut), atol=1e-3)
    np.testing.assert_array_equal(declipping.hear(clip), plain.hear(clip))
