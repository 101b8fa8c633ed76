"""The log-mel front end (NumPy) against librosa and against its tf.signal twin (training), frame counts, batching."""
from pathlib import Path

import librosa
import numpy as np
import pytest
import tensorflow as tf

from asr.audio.features import fft_length, hop_samples, log_mel, mel_filterbank, num_frames, window_samples
from asr.audio.load import load_audio
from asr.config import FeatureConfig
from asr.training.features import log_mel as tf_log_mel

CFG = FeatureConfig()
SPEECH_DIR = Path(__file__).resolve().parents[2] / "../shared/data/librispeech-mini/dev-clean-2"

# Measured with tensorflow 2.21 / librosa 0.11 on 1272-135031-0000.opus (10.9 s, 1086 common frames):
# largest |log difference| 5.2e-5, largest power difference 2.3e-7 of the clip's largest mel power, largest
# relative difference 1.0e-6 over mel bins above 1e-3 of that maximum. On the synthetic chirp: 5.4e-5 and 4.2e-7.
# The bounds leave about 4x (log) and 10x (power) headroom for float32 round-off on other builds.
MAX_LOG_DIFFERENCE = 2e-4
MAX_POWER_DIFFERENCE = 1e-5  # as a fraction of the largest mel power of the clip
MAX_RELATIVE_DIFFERENCE = 1e-5  # per bin, over bins above 1e-3 of the largest mel power


def librosa_mel_power(samples: np.ndarray) -> np.ndarray:
    """librosa's mel power spectrogram framed like ours: [frames, 80].

    librosa (center=False) puts the 400-sample window in the middle of each 512-sample frame, so 56 zeros in front
    make its frame t cover the same samples [t * 160, t * 160 + 400) as ours.
    """
    offset = (512 - 400) // 2
    mel = librosa.feature.melspectrogram(
        y=np.concatenate([np.zeros(offset, samples.dtype), samples]), sr=16000, n_fft=512, hop_length=160,
        win_length=400, window="hann", center=False, power=2.0, n_mels=80, fmin=20)
    return mel.T


def compare_with_librosa(samples: np.ndarray, name: str) -> None:
    ours = log_mel(samples, CFG)
    reference = librosa_mel_power(samples)
    common = min(len(ours), len(reference))
    assert common >= len(ours) - 1  # librosa lacks at most the last frame (it needs 56 samples past the end)
    ours, reference = ours[:common], reference[:common]

    log_difference = np.abs(ours - np.log(reference + CFG.log_floor)).max()
    power = np.exp(ours.astype(np.float64)) - CFG.log_floor
    peak = reference.max()
    power_difference = np.abs(power - reference).max() / peak
    loud = reference > 1e-3 * peak
    relative_difference = (np.abs(power - reference)[loud] / reference[loud]).max()
    print(f"\n{name}: {common} frames; largest log difference {log_difference:.2e}, "
          f"power difference {power_difference:.2e} of peak, relative difference {relative_difference:.2e}")

    assert loud.sum() >= common  # the relative check covers real energy (on average a bin per frame)
    assert log_difference < MAX_LOG_DIFFERENCE
    assert power_difference < MAX_POWER_DIFFERENCE
    assert relative_difference < MAX_RELATIVE_DIFFERENCE


def test_log_mel_matches_librosa_on_real_speech():
    if not SPEECH_DIR.is_dir():
        pytest.skip(f"{SPEECH_DIR} not present")
    clips = sorted(SPEECH_DIR.rglob("*.opus"))
    if not clips:
        pytest.skip(f"no .opus files under {SPEECH_DIR}")
    compare_with_librosa(load_audio(clips[0]), clips[0].name)


def test_log_mel_matches_librosa_on_a_chirp_with_noise():
    sr = CFG.sample_rate_hz
    rng = np.random.default_rng(0)
    chirp = librosa.chirp(fmin=100, fmax=7000, sr=sr, duration=1.0)
    samples = (0.5 * chirp + 0.01 * rng.normal(size=sr)).astype(np.float32)
    compare_with_librosa(samples, "chirp")


def test_silence_is_the_log_floor():
    out = log_mel(np.zeros(1600, np.float32), CFG)
    np.testing.assert_allclose(out, np.log(CFG.log_floor), rtol=1e-6)


def test_a_tone_peaks_in_the_right_mel_band():
    sr = CFG.sample_rate_hz
    tone = np.sin(2 * np.pi * 1000 * np.arange(sr) / sr).astype(np.float32)
    centres_hz = librosa.mel_frequencies(CFG.num_mels + 2, fmin=CFG.min_hz, fmax=sr / 2)[1:-1]
    band = int(np.argmax(log_mel(tone, CFG).mean(axis=0)))
    assert abs(centres_hz[band] - 1000) < 60  # mel bands near 1 kHz are about 100 Hz apart


@pytest.mark.parametrize("samples, expected", [
    (0, 0), (1, 0), (399, 0),  # shorter than one window: no frame
    (400, 1), (559, 1),  # one window, not yet a second hop
    (560, 2), (16000, 98),  # 1 + (16000 - 400) // 160
])
def test_num_frames(samples, expected):
    assert num_frames(samples, CFG) == expected
    assert isinstance(num_frames(samples, CFG), int)


def test_num_frames_of_an_array():
    np.testing.assert_array_equal(num_frames(np.array([0, 399, 400, 560, 16000]), CFG), [0, 0, 1, 2, 98])


@pytest.mark.parametrize("samples", [400, 559, 560, 1000, 16000])
def test_log_mel_frame_count_is_num_frames(samples):
    out = log_mel(np.zeros(samples, np.float32), CFG)
    assert out.shape == (num_frames(samples, CFG), CFG.num_mels)
    assert out.dtype == np.float32
    assert tf_log_mel(np.zeros(samples, np.float32), CFG).shape == out.shape


@pytest.mark.parametrize("samples", [0, 399])
def test_log_mel_of_a_clip_shorter_than_one_window_has_zero_frames(samples):
    assert log_mel(np.zeros(samples, np.float32), CFG).shape == (0, CFG.num_mels)
    assert tf_log_mel(np.zeros(samples, np.float32), CFG).shape == (0, CFG.num_mels)


def test_a_tf_batch_equals_single_rows():
    rng = np.random.default_rng(1)
    batch = rng.normal(scale=0.1, size=(2, 4000)).astype(np.float32)
    together = tf_log_mel(batch, CFG).numpy()
    assert together.shape == (2, num_frames(4000, CFG), CFG.num_mels)
    for row in range(2):
        np.testing.assert_allclose(together[row], tf_log_mel(batch[row], CFG).numpy(), rtol=0, atol=1e-5)
    assert np.abs(together[0] - together[1]).max() > 1.0  # the rows really differ


@pytest.mark.parametrize("cfg", [CFG, FeatureConfig(sample_rate_hz=8000, num_mels=40, min_hz=0.0, max_hz=3800.0)])
def test_mel_filterbank_matches_librosa(cfg):
    weights = mel_filterbank(cfg)
    assert weights.shape == (fft_length(cfg) // 2 + 1, cfg.num_mels)
    assert weights.dtype == np.float32
    assert (weights >= 0).all()
    assert (weights.max(axis=0) > 0).all()  # no empty filter
    reference = librosa.filters.mel(sr=cfg.sample_rate_hz, n_fft=fft_length(cfg), n_mels=cfg.num_mels,
                                    fmin=cfg.min_hz, fmax=cfg.max_hz)
    np.testing.assert_allclose(weights, reference.T, rtol=0, atol=1e-6)


@pytest.mark.parametrize("cfg, window, hop, fft", [
    (FeatureConfig(sample_rate_hz=16000), 400, 160, 512),
    (FeatureConfig(sample_rate_hz=8000), 200, 80, 256),
    (FeatureConfig(sample_rate_hz=16000, window_ms=20.0, hop_ms=12.5), 320, 200, 512),
    (FeatureConfig(sample_rate_hz=16000, window_ms=32.0), 512, 160, 512),  # exactly a power of two
])
def test_derived_sizes(cfg, window, hop, fft):
    assert (window_samples(cfg), hop_samples(cfg), fft_length(cfg)) == (window, hop, fft)


def test_8khz_frame_count_follows_the_derived_sizes():
    cfg = FeatureConfig(sample_rate_hz=8000, num_mels=40, max_hz=4000.0)
    out = log_mel(np.zeros(8000, np.float32), cfg)
    assert out.shape == (1 + (8000 - 200) // 80, 40) == (num_frames(8000, cfg), 40)


# The parity the inference front end keeps with training's: measured on 20 dev-clean-2 clips and samples/ (numpy
# 2.4, tensorflow 2.21), the largest |difference| in the log domain was 7.7e-5.
MAX_TF_LOG_DIFFERENCE = 1e-4


def parity_clips() -> list[Path]:
    samples = sorted(p for p in (Path(__file__).resolve().parents[2] / "samples").iterdir()
                     if p.suffix in (".wav", ".opus"))
    real = sorted(SPEECH_DIR.rglob("*.opus"))[:8] if SPEECH_DIR.is_dir() else []
    return samples + real


@pytest.mark.parametrize("clip", parity_clips(), ids=lambda p: p.name)
def test_numpy_front_end_equals_the_tf_signal_one_on_real_clips(clip):
    samples = load_audio(clip)
    ours, theirs = log_mel(samples, CFG), tf_log_mel(samples, CFG).numpy()
    assert ours.shape == theirs.shape == (num_frames(len(samples), CFG), CFG.num_mels)
    assert np.abs(ours - theirs).max() <= MAX_TF_LOG_DIFFERENCE


@pytest.mark.parametrize("cfg", [FeatureConfig(sample_rate_hz=8000, num_mels=40, window_ms=32.0, hop_ms=8.0),
                                 FeatureConfig(num_mels=64, min_hz=100.0, max_hz=7000.0)])
def test_numpy_and_tf_signal_front_ends_agree_for_other_settings(cfg):
    rng = np.random.default_rng(3)
    samples = (0.3 * np.sin(np.arange(12345) / 9) + 0.05 * rng.normal(size=12345)).astype(np.float32)
    ours, theirs = log_mel(samples, cfg), tf_log_mel(samples, cfg).numpy()
    assert ours.shape == theirs.shape == (num_frames(len(samples), cfg), cfg.num_mels)
    assert np.abs(ours - theirs).max() <= MAX_TF_LOG_DIFFERENCE
