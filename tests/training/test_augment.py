"""asr/training/augment.py: each corruption is what it says (the SNR asked for, a telephone band at 8 kHz, a
room's reverberation, the gain), and training's corrupted copies are drawn per clip from the seed and cached."""

import numpy as np
import pytest
import soundfile
from scipy import signal

from asr.audio.features import num_frames
from asr.config import FeatureConfig, TrainConfig
from asr.manifest import Utterance, write_manifest
from asr.training import augment
from asr.training.data import load_augmented_features

RNG = np.random.default_rng(0)
SPEECHLIKE = signal.lfilter([1.0], [1.0, -0.9], RNG.standard_normal(32000)) * 0.05  # low-passed noise, 2 s


def test_noise_is_added_at_the_snr_asked_for_and_pink_noise_falls_with_frequency():
    for snr in (20.0, 10.0):
        noisy = augment.at_snr(SPEECHLIKE, augment.pink_noise(len(SPEECHLIKE), RNG), snr)
        noise = noisy - SPEECHLIKE
        assert 10 * np.log10(np.mean(SPEECHLIKE ** 2) / np.mean(noise ** 2)) == pytest.approx(snr, abs=1e-6)
    f, power = signal.welch(augment.pink_noise(1 << 16, RNG), fs=16000, nperseg=2048)
    low, high = power[(f > 100) & (f < 200)].mean(), power[(f > 3200) & (f < 6400)].mean()
    assert 10 < low / high < 60  # 1/f: 32 times less power an octave band 5 octaves up (about)


def test_babble_sums_other_talkers_at_one_level():
    talkers = [RNG.standard_normal(n) * s for n, s in ((9000, 0.1), (20000, 2.0), (15000, 0.5), (30000, 1.0),
                                                       (12000, 3.0))]
    out = augment.babble(16000, talkers, np.random.default_rng(1))
    assert out.shape == (16000,) and np.sqrt(np.mean(out ** 2)) > 1.5  # four unit-level talkers, not silence


def test_the_telephone_copy_is_8_khz_band_limited_mu_law():
    tone = lambda hz: 0.3 * np.sin(2 * np.pi * hz * np.arange(16000) / 16000)  # noqa: E731
    passed, rate = augment.telephone(tone(1000))
    assert rate == 8000 and len(passed) == 8000
    assert np.sqrt(np.mean(passed[1000:-1000] ** 2)) > 0.15  # 1 kHz passes (0.21 in, mu-law's error aside)
    stopped, _ = augment.telephone(tone(100))
    assert np.sqrt(np.mean(stopped[1000:-1000] ** 2)) < 0.03  # 100 Hz is outside the band
    assert len(np.unique(np.round(passed, 6))) <= 256  # 8-bit codes


def test_reverb_keeps_the_level_and_spreads_a_click_over_the_room_time():
    click = np.zeros(16000)
    click[100] = 1.0
    wet = augment.reverb(click, np.random.default_rng(0))
    assert wet.shape == click.shape and np.mean(wet ** 2) == pytest.approx(np.mean(click ** 2))
    energy = np.cumsum(wet[::-1] ** 2)[::-1]  # Schroeder decay
    assert energy[100 + 1600] > 0.01 * energy[0]  # energy left 100 ms after the click: a room, not a delay


def test_a_bank_of_rooms_stands_in_for_the_simulation(monkeypatch):
    """training_rooms: impulse responses cut where 60 dB of their energy is spent; given as `rooms`, reverb and
    corrupt_randomly draw one of them (a level-matched convolution) and simulate nothing."""
    rooms = augment.training_rooms(3, seed=4)
    whole = augment.room_impulse_response(np.random.default_rng([4]), augment.TRAIN_RT60_S, augment.TRAIN_ROOM_M)
    first = rooms[0]  # the same room, cut
    assert 1600 < len(first) < len(whole) and np.array_equal(first, whole[:len(first)])
    assert np.sum(first ** 2) >= (1 - 1e-6) * np.sum(whole ** 2)
    assert len({len(r) for r in rooms}) == 3  # three rooms

    def no_simulation(*args):
        raise AssertionError("simulated a room although a bank was given")
    monkeypatch.setattr(augment, "room_impulse_response", no_simulation)
    wet = augment.reverb(SPEECHLIKE, np.random.default_rng(0), rooms=rooms)
    dry = [signal.fftconvolve(SPEECHLIKE, rir)[:len(SPEECHLIKE)] for rir in rooms]
    assert any(np.allclose(wet, d * np.sqrt(np.mean(SPEECHLIKE ** 2) / np.mean(d ** 2))) for d in dry)
    out, kind = augment.corrupt_randomly(SPEECHLIKE, [], np.random.default_rng(1), ("reverb",), rooms)
    assert kind == "reverb" and out.shape == SPEECHLIKE.shape


def test_gain_clips_at_full_scale_as_a_recorder_does():
    loud = augment.with_gain(SPEECHLIKE, 40.0)
    assert np.abs(loud).max() == 1.0 and np.mean(np.abs(loud) == 1.0) > 0.05
    assert np.allclose(augment.with_gain(SPEECHLIKE, -20.0), SPEECHLIKE * 0.1)


def test_coloured_noise_tilts_with_its_exponent():
    tilt = []
    for exponent in (0.0, 1.0, 2.0):
        f, power = signal.welch(augment.coloured_noise(1 << 16, exponent, RNG), fs=16000, nperseg=2048)
        tilt.append(power[(f > 100) & (f < 200)].mean() / power[(f > 3200) & (f < 6400)].mean())
    assert 0.5 < tilt[0] < 2 and tilt[0] < tilt[1] < tilt[2]  # white is flat; steeper with the exponent


@pytest.mark.parametrize("kind", augment.KINDS)
def test_every_training_corruption_keeps_the_length_and_changes_the_clip(kind):
    others = [RNG.standard_normal(20000) * 0.05 for _ in range(6)]
    out, used = augment.corrupt_randomly(SPEECHLIKE, others, np.random.default_rng(3), kinds=(kind,))
    assert used == kind and out.shape == SPEECHLIKE.shape and np.abs(out).max() <= 1.0
    assert not np.allclose(out, SPEECHLIKE, atol=1e-4)
    again, _ = augment.corrupt_randomly(SPEECHLIKE, others, np.random.default_rng(3), kinds=(kind,))
    assert np.array_equal(out, again)  # drawn from the generator only


def test_babble_with_too_few_other_speakers_falls_back_to_noise():
    _, used = augment.corrupt_randomly(SPEECHLIKE, [SPEECHLIKE], np.random.default_rng(0), kinds=("babble",))
    assert used == "noise"


def test_unknown_kinds_and_negative_copies_are_refused():
    with pytest.raises(ValueError, match="augment_kinds"):
        TrainConfig(augment_kinds=("thunder",))
    with pytest.raises(ValueError, match="augment_copies"):
        TrainConfig(augment_copies=-1)


def test_corrupted_copies_are_drawn_per_clip_and_cached(tmp_path):
    rng = np.random.default_rng(5)
    rows = []
    for i, speaker in enumerate(["1", "1", "2", "3", "4"]):
        path = tmp_path / f"{speaker}-0-{i}.wav"
        soundfile.write(path, (signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal(8000 + 1000 * i)) * 0.05)
                        .astype(np.float32), 16000)
        rows.append(Utterance(f"{speaker}-0-{i}", str(path), "a b", 0.5))
    write_manifest(tmp_path / "train.jsonl", rows)
    cfg = FeatureConfig(num_mels=16)
    copies = load_augmented_features(tmp_path / "train.jsonl", cfg, tmp_path / "cache", 2, augment.KINDS, seed=1,
                                     progress=False)
    assert len(copies) == 2 and all(c.ids == [r.id for r in rows] for c in copies)
    assert all([len(c.features(i)) for i in range(len(rows))] == [num_frames(8000 + 1000 * i, cfg)
                                                                  for i in range(len(rows))] for c in copies)
    assert not np.array_equal(copies[0].frames, copies[1].frames)  # two draws
    assert len(list((tmp_path / "cache").glob("*-aug*.npz"))) == 2
    again = load_augmented_features(tmp_path / "train.jsonl", cfg, tmp_path / "cache", 2, augment.KINDS, seed=1)
    assert all(np.array_equal(a.frames, b.frames) for a, b in zip(copies, again))  # from the cache
    other = load_augmented_features(tmp_path / "train.jsonl", cfg, tmp_path / "cache", 1, augment.KINDS, seed=2)
    assert not np.array_equal(other[0].frames, copies[0].frames)  # another seed, another draw
