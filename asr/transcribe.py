"""The Python API: load a model and transcribe files or arrays.

    from asr import load_model
    model = load_model()                      # the default shipped English model
    result = model.transcribe("clip.wav")     # or an array of samples with sample_rate=...
    print(result.text, result.words[0].start_s)

Decoding, segmentation and the result types live in asr.recognizer (no TensorFlow); this module runs the
acoustic model of a model directory with TensorFlow.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from asr import checkpoint, ensemble, models
from asr.features import log_mel
from asr.recognizer import (DECODING_FILE, LM_FILE, DecodingConfig, ExportedTranscriber, Recognizer,  # noqa: F401
                            Transcript)
from asr.segment import SegmentConfig


class Transcriber(Recognizer):
    """A model directory (weights, config, tokens; optional lexicon.txt, lm.arpa.gz, decoding.json, and
    ensemble.json naming more networks to average with, asr.ensemble) plus decoding settings (see Recognizer)."""

    def __init__(self, model_dir, beam_width: int | None = None, use_lexicon: bool = True,
                 segments: SegmentConfig = SegmentConfig(), hotwords: dict[str, float] | None = None,
                 lm: str | Path | bool = True, lm_weight: float | None = None, word_bonus: float | None = None,
                 prior_scale: float | None = None):
        self.config, vocab, network = checkpoint.load_model_dir(model_dir)
        self.model = ensemble.load(model_dir, self.config, network)  # the network, or an asr.ensemble.Ensemble
        features = self.config.features
        super().__init__(vocab, features.sample_rate_hz, features.hop_ms / 1000 * self.config.model.subsampling,
                         Path(model_dir), beam_width, use_lexicon, segments, hotwords, lm, lm_weight, word_bonus,
                         prior_scale)
        signature = [tf.TensorSpec([None], tf.float32)]

        @tf.function(input_signature=signature)
        def log_probs(waveform):
            feats = log_mel(waveform, features)[None]
            logits, _ = self.model(feats, tf.shape(feats)[1:2], training=False)
            return tf.nn.log_softmax(logits[0])

        @tf.function(input_signature=signature)
        def log_mel_of(waveform):
            return log_mel(waveform, features)
        self._log_probs, self._log_mel = log_probs, log_mel_of
        # models without a convolution run in NumPy (asr.numpy_model: the same output, 2-9 times faster here)
        self._numpy = ensemble.numpy_model(self.model)
        self._streaming = None

    def streaming(self):
        """The model's compiled streaming step (asr.stream_model), built on first use; raises
        asr.stream_model.NotStreamable for a bidirectional model or an ensemble."""
        if self._streaming is None:
            from asr.stream_model import StreamingAcoustics
            self._streaming = StreamingAcoustics(self.model, self.config, name=str(self.model_dir))
        return self._streaming

    @property
    def metrics(self) -> dict:
        return checkpoint.read_metrics(self.model_dir)

    def log_probs(self, samples: np.ndarray) -> np.ndarray:
        """Per-frame log posteriors [frames, tokens] of float32 mono samples at the model rate."""
        if self._numpy is None or self._too_short(samples):
            return self.keras_log_probs(samples)
        return self._numpy(self._log_mel(tf.constant(samples, tf.float32)).numpy())

    def keras_log_probs(self, samples: np.ndarray) -> np.ndarray:
        """log_probs computed by the Keras model in TensorFlow, whatever runs by default: the reference that
        asr.numpy_model and asr.export are checked against."""
        if self._too_short(samples):
            return np.zeros([0, self.vocab.size], np.float32)
        return self._log_probs(tf.constant(samples, tf.float32)).numpy()

    def _too_short(self, samples: np.ndarray) -> bool:
        """Shorter than one analysis window: no feature frame."""
        return len(samples) < round(self.sample_rate_hz * self.config.features.window_ms / 1000)


def load_model(name_or_dir: str | None = None, beam_width: int | None = None, use_lexicon: bool = True,
               hotwords: dict[str, float] | None = None, lm: str | Path | bool = True,
               lm_weight: float | None = None, word_bonus: float | None = None,
               prior_scale: float | None = None) -> Recognizer:
    """A shipped model by name ('english', 'digits'), a model directory, or a .tflite file from `asr export`
    (run by LiteRT); None means the default model.

    With the model's language model (if it ships one; `lm=False` turns it off, a path picks another ARPA file)
    the beam search and weights of its decoding.json are the default; without one, greedy decoding.
    `hotwords` maps words to log-domain boosts (asr.fusion.DEFAULT_HOTWORD_BOOST is a good start)."""
    options = dict(beam_width=beam_width, use_lexicon=use_lexicon, hotwords=hotwords, lm=lm, lm_weight=lm_weight,
                   word_bonus=word_bonus, prior_scale=prior_scale)
    if name_or_dir and str(name_or_dir).endswith(".tflite"):
        return ExportedTranscriber(name_or_dir, **options)
    return Transcriber(models.resolve(name_or_dir), **options)
