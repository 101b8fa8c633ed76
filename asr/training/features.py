"""The tf.signal twin of asr.audio.features.log_mel, for training and export: the same frames, window, FFT size and mel
filterbank (all defined in asr.audio.features), computed in float32 on TensorFlow tensors and batches, so that the
front end is part of the training graph and of an exported model. tests/audio/test_features.py holds the two to 1e-4.
"""
from __future__ import annotations

import tensorflow as tf

from asr.audio.features import fft_length, hop_samples, mel_filterbank, window_samples
from asr.config import FeatureConfig


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
