"""The one log-mel front end (tf.signal), shared by training, evaluation, transcription and streaming.

Frames are not centred: frame t covers samples [t * hop, t * hop + window). A clip shorter than one window has
zero frames. The mel filterbank is the Slaney-style one that librosa uses by default (so it can be checked
against librosa), built once in numpy and applied as a matrix product.
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

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


def log_mel(waveform, cfg: FeatureConfig) -> tf.Tensor:
    """Log mel power spectrogram.

    waveform: [samples] or [batch, samples] float32 at cfg.sample_rate_hz.
    returns:  [frames, num_mels] or [batch, frames, num_mels] float32, log(mel power + log_floor).
    """
    waveform = tf.convert_to_tensor(waveform, dtype=tf.float32)
    # tf.signal.stft, spelled out so that a clip shorter than one window gives 0 frames instead of an error
    frames = tf.signal.frame(waveform, window_samples(cfg), hop_samples(cfg), pad_end=False)
    frames *= tf.signal.hann_window(window_samples(cfg))
    pad = [[0, 0]] * (frames.shape.rank - 1) + [[0, fft_length(cfg) - window_samples(cfg)]]
    power = tf.math.square(tf.math.abs(tf.signal.rfft(tf.pad(frames, pad))))
    mel = tf.tensordot(power, tf.constant(mel_filterbank(cfg)), axes=1)
    return tf.math.log(mel + cfg.log_floor)
