"""A model directory's acoustic model run by Keras in TensorFlow: the reference that the NumPy networks
(asr.model.network, asr.model.ensemble) and exports (asr.training.export) are checked against."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from asr.training.checkpoint import load_keras
from asr.training.features import log_mel


class KerasReference:
    """`log_probs(samples)`: per-frame log posteriors [frames, tokens] of float32 mono samples at the model rate,
    computed by the tf.signal front end and the Keras network (or ensemble) of `model_dir`."""

    def __init__(self, model_dir):
        self.config, self.vocab, self.model = load_keras(model_dir)
        features = self.config.features

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def log_probs(waveform):
            feats = log_mel(waveform, features)[None]
            logits, _ = self.model(feats, tf.shape(feats)[1:2], training=False)
            return tf.nn.log_softmax(logits[0])
        self._log_probs = log_probs

    def log_probs(self, samples: np.ndarray) -> np.ndarray:
        if len(samples) < round(self.config.features.sample_rate_hz * self.config.features.window_ms / 1000):
            return np.zeros([0, self.vocab.size], np.float32)
        return self._log_probs(tf.constant(samples, tf.float32)).numpy()
