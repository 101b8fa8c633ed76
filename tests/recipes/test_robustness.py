"""recipes/mini_librispeech/robustness.py: the corrupted copies of the robustness benchmark are what they say
(the SNR asked for, a telephone band at 8 kHz, a room's reverberation, the gain), drawn from the seed."""
import json
import sys

import numpy as np
import pytest
import soundfile
from scipy import signal

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "recipes" / "mini_librispeech"))
import robustness  # noqa: E402

RNG = np.random.default_rng(0)
SPEECHLIKE = signal.lfilter([1.0], [1.0, -0.9], RNG.standard_normal(32000)) * 0.05  # low-passed noise, 2 s


def test_noise_is_added_at_the_snr_asked_for_and_pink_noise_falls_with_frequency():
    for snr in (20.0, 10.0):
        noisy = robustness.at_snr(SPEECHLIKE, robustness.pink_noise(len(SPEECHLIKE), RNG), snr)
        noise = noisy - SPEECHLIKE
        assert 10 * np.log10(np.mean(SPEECHLIKE ** 2) / np.mean(noise ** 2)) == pytest.approx(snr, abs=1e-6)
    f, power = signal.welch(robustness.pink_noise(1 << 16, RNG), fs=16000, nperseg=2048)
    low, high = power[(f > 100) & (f < 200)].mean(), power[(f > 3200) & (f < 6400)].mean()
    assert 10 < low / high < 60  # 1/f: 32 times less power an octave band 5 octaves up (about)


def test_babble_sums_other_talkers_at_one_level():
    talkers = [RNG.standard_normal(n) * s for n, s in ((9000, 0.1), (20000, 2.0), (15000, 0.5), (30000, 1.0),
                                                       (12000, 3.0))]
    out = robustness.babble(16000, talkers, np.random.default_rng(1))
    assert out.shape == (16000,) and np.sqrt(np.mean(out ** 2)) > 1.5  # four unit-level talkers, not silence


def test_the_telephone_copy_is_8_khz_band_limited_mu_law():
    tone = lambda hz: 0.3 * np.sin(2 * np.pi * hz * np.arange(16000) / 16000)  # noqa: E731
    passed, rate = robustness.telephone(tone(1000))
    assert rate == 8000 and len(passed) == 8000
    assert np.sqrt(np.mean(passed[1000:-1000] ** 2)) > 0.15  # 1 kHz passes (0.21 in, mu-law's error aside)
    stopped, _ = robustness.telephone(tone(100))
    assert np.sqrt(np.mean(stopped[1000:-1000] ** 2)) < 0.03  # 100 Hz is outside the band
    assert len(np.unique(np.round(passed, 6))) <= 256  # 8-bit codes


def test_reverb_keeps_the_level_and_spreads_a_click_over_the_room_time():
    click = np.zeros(16000)
    click[100] = 1.0
    wet = robustness.reverb(click, np.random.default_rng(0))
    assert wet.shape == click.shape and np.mean(wet ** 2) == pytest.approx(np.mean(click ** 2))
    energy = np.cumsum(wet[::-1] ** 2)[::-1]  # Schroeder decay
    assert energy[100 + 1600] > 0.01 * energy[0]  # energy left 100 ms after the click: a room, not a delay


def test_main_writes_each_copy_with_a_manifest_drawn_from_the_seed(tmp_path):
    manifest = tmp_path / "dev.jsonl"
    rows = [json.loads(line) for line in (REPO_ROOT / "samples" / "samples.jsonl").read_text().splitlines()][:3]
    manifest.write_text("".join(json.dumps({**r, "audio": str(REPO_ROOT / "samples" / r["audio"])}) + "\n"
                                for r in rows))
    copies = ["pink-10db", "telephone", "gain-minus20db"]
    for out in (tmp_path / "a", tmp_path / "b"):
        assert robustness.main([str(manifest), str(out), "--every", "2", "--copies", *copies]) == 0
    for name in copies:
        lines = (tmp_path / "a" / f"{name}.jsonl").read_text().splitlines()
        assert [json.loads(line)["id"] for line in lines] == [rows[0]["id"], rows[2]["id"]]
        for line in lines:
            relative = json.loads(line)["audio"]  # relative to the manifest's folder
            a, rate = soundfile.read(tmp_path / "a" / relative)
            b, _ = soundfile.read(tmp_path / "b" / relative)
            assert rate == (8000 if name == "telephone" else 16000) and np.array_equal(a, b)  # the same draw
    clean, _ = soundfile.read(REPO_ROOT / "samples" / rows[0]["audio"])
    quiet, _ = soundfile.read(tmp_path / "a" / "gain-minus20db" / f"{rows[0]['id']}.wav")
    assert np.sqrt(np.mean(quiet ** 2)) / np.sqrt(np.mean(clean ** 2)) == pytest.approx(0.1, abs=0.005)  # -20 dB
