"""The Python API: load a model and transcribe files or arrays.

    from asr import load_model
    model = load_model()                      # the default shipped English model
    result = model.transcribe("clip.wav")     # or an array of samples with sample_rate=...
    print(result.text, result.words[0].start_s)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

from asr import checkpoint, models
from asr.audio import load_audio, resample, to_float32
from asr.decode import Hypothesis, Lexicon, Word, beam_search, greedy_decode
from asr.features import log_mel


@dataclass(frozen=True)
class Transcript:
    text: str
    duration_s: float
    words: tuple[Word, ...]
    alternatives: tuple[Hypothesis, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict:
        return {"text": self.text, "duration_s": round(self.duration_s, 3),
                "words": [{k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(w).items()}
                          for w in self.words]}


class Transcriber:
    """A loaded model directory plus decoding settings.

    beam_width 1 decodes greedily, unless the model directory has a lexicon.txt (a closed vocabulary, such as
    the ten digits): then beam search (at least LEXICON_BEAM wide) keeps only words of the lexicon.
    """

    LEXICON_BEAM = 8

    def __init__(self, model_dir, beam_width: int = 1, use_lexicon: bool = True):
        self.model_dir = Path(model_dir)
        self.config, self.vocab, self.model = checkpoint.load_model_dir(model_dir)
        lexicon = self.model_dir / "lexicon.txt"
        self.lexicon = Lexicon.load(lexicon, self.vocab) if use_lexicon and lexicon.is_file() else None
        self.beam_width = max(beam_width, self.LEXICON_BEAM) if self.lexicon else beam_width
        self.sample_rate_hz = self.config.features.sample_rate_hz
        self.frame_s = self.config.features.hop_ms / 1000 * self.config.model.subsampling
        signature = [tf.TensorSpec([None], tf.float32)]

        @tf.function(input_signature=signature)
        def log_probs(waveform):
            features = log_mel(waveform, self.config.features)[None]
            logits, _ = self.model(features, tf.shape(features)[1:2], training=False)
            return tf.nn.log_softmax(logits[0])
        self._log_probs = log_probs

    @property
    def metrics(self) -> dict:
        return checkpoint.read_metrics(self.model_dir)

    def log_probs(self, samples: np.ndarray) -> np.ndarray:
        """Per-frame log posteriors [frames, tokens] of float32 mono samples at the model rate."""
        if len(samples) < round(self.sample_rate_hz * self.config.features.window_ms / 1000):
            return np.zeros([0, self.vocab.size], np.float32)
        return self._log_probs(tf.constant(samples, tf.float32)).numpy()

    def transcribe(self, audio, sample_rate: int | None = None, alternatives: int = 1) -> Transcript:
        """Transcribe a file path, or an array of samples (int16 or float; sample_rate defaults to the model's)."""
        if isinstance(audio, (str, Path)):
            samples = load_audio(audio, self.sample_rate_hz)
        else:
            samples = to_float32(np.asarray(audio))
            if samples.ndim == 2:
                samples = samples.mean(axis=1)
            if sample_rate and sample_rate != self.sample_rate_hz:
                samples = resample(samples, sample_rate, self.sample_rate_hz)
        return self.decode(self.log_probs(samples), len(samples) / self.sample_rate_hz, alternatives)

    def decode(self, log_probs: np.ndarray, duration_s: float, alternatives: int = 1) -> Transcript:
        if self.beam_width > 1 or alternatives > 1:
            nbest = beam_search(log_probs, self.vocab, self.frame_s, max(self.beam_width, alternatives),
                                nbest=alternatives, lexicon=self.lexicon)
            best = nbest[0]
        else:
            best, nbest = greedy_decode(log_probs, self.vocab, self.frame_s), []
        return Transcript(best.text, duration_s, best.words, tuple(nbest[:alternatives]) if alternatives > 1 else ())


def load_model(name_or_dir: str | None = None, beam_width: int = 1, use_lexicon: bool = True) -> Transcriber:
    """A shipped model by name ('english', 'digits'), or a model directory; None means the default model."""
    return Transcriber(models.resolve(name_or_dir), beam_width, use_lexicon)
