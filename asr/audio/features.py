"""The log-mel front end in NumPy: what transcription, evaluation and streaming run, with no TensorFlow.

Frames are not centred: frame t covers samples [t * hop, t * hop + window). A clip shorter than one window has
zero frames. Each frame is multiplied by a periodic Hann window, zero-padded to `fft_length`, and its power
spectrum is projected onto the Slaney-style mel filterbank that librosa uses by default (so it can be checked
against librosa). Training computes the same features with tf.signal (asr.training.features.log_mel, built
from the parameters defined here); tests/audio/test_features.py holds the two to 1e-4 in the log domain.
"""
from __future__ import annotations

import math

import numpy as np

from asr.config import FeatureConfig


def window_samples(cfg: FeatureConfig) -> int:
    return int(round(cfg.sample_rate_hz * cfg.window_ms / 1000))


def hop_samples(cfg: FeatureConfig) -> int:
    return int(round(cfg.sample_rate_hz * cfg.hop_ms / 1000))


def fft_length(cfg: FeatureConfig) -> int:
    """Smallest power of two that holds one window."""
    return 2 ** math.ceil(math.log2(window_samples(cfg)))


def num_frames(num_samples, cfg: FeatureConfig):
    """Feature frames for a clip of `num_samples` (int or integer array)."""
    n = np.asarray(num_samples)
    frames = np.where(n >= window_samples(cfg), 1 + (n - window_samples(cfg)) // hop_samples(cfg), 0)
    return int(frames) if frames.ndim == 0 else frames


def _hz_to_mel(hz):
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, hz / f_sp)


def _mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, math.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), mel * f_sp)


def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """Triangular, area-normalised mel filters: [fft_length // 2 + 1, num_mels] float32."""
    max_hz = cfg.max_hz if cfg.max_hz is not None else cfg.sample_rate_hz / 2
    bins_hz = np.linspace(0, cfg.sample_rate_hz / 2, fft_length(cfg) // 2 + 1)
    edges_hz = _mel_to_hz(np.linspace(_hz_to_mel(cfg.min_hz), _hz_to_mel(max_hz), cfg.num_mels + 2))
    lower = (bins_hz[None, :] - edges_hz[:-2, None]) / np.diff(edges_hz)[:-1, None]
    upper = (edges_hz[2:, None] - bins_hz[None, :]) / np.diff(edges_hz)[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return weights.T.astype(np.float32)


def hann_window(length: int) -> np.ndarray:
    """Periodic Hann window (tf.signal.hann_window's default): [length] float64."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)


def frames_of(samples: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The analysis frames of a clip, without copying: [num_frames, window] views into `samples`."""
    count, window, hop = num_frames(len(samples), cfg), window_samples(cfg), hop_samples(cfg)
    return np.lib.stride_tricks.as_strided(samples, (count, window), (hop * samples.strides[0], samples.strides[0]),
                                           writeable=False)


def mel_power(samples, cfg: FeatureConfig) -> np.ndarray:
    """Mel power spectrogram of one clip: [frames, num_mels] float64, of [samples] float32 mono at
    cfg.sample_rate_hz."""
    samples = np.ascontiguousarray(samples, np.float64)
    if samples.ndim != 1:
        raise ValueError(f"log_mel takes one clip of samples [samples], got shape {samples.shape}")
    frames = frames_of(samples, cfg) * hann_window(window_samples(cfg))
    return np.abs(np.fft.rfft(frames, n=fft_length(cfg), axis=1)) ** 2 @ _filterbank(cfg)


def log_of(power: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The features of mel power: log(mel power + log_floor), rounded to float32."""
    return np.log(power + cfg.log_floor).astype(np.float32)


def log_mel(samples, cfg: FeatureConfig) -> np.ndarray:
    """Log mel power spectrogram of one clip.

    samples: [samples] float32 mono at cfg.sample_rate_hz.
    returns: [frames, num_mels] float32, log(mel power + log_floor); computed in float64, then rounded.
    """
    return log_of(mel_power(samples, cfg), cfg)


_FILTERBANKS: dict[FeatureConfig, np.ndarray] = {}


def _filterbank(cfg: FeatureConfig) -> np.ndarray:
    """mel_filterbank(cfg) in float64, built once per configuration."""
    if cfg not in _FILTERBANKS:
        _FILTERBANKS[cfg] = mel_filterbank(cfg).astype(np.float64)
    return _FILTERBANKS[cfg]
