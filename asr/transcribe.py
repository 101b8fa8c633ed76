"""The Python API: load a model and transcribe files or arrays.

    from asr import load_model
    model = load_model()                      # the default shipped English model
    result = model.transcribe("clip.wav")     # or an array of samples with sample_rate=...
    print(result.text, result.words[0].start_s)

Decoding, segmentation and the result types live in asr.recognizer; this module runs the acoustic model of a
model directory: the NumPy front end (asr.audio.features) and networks (asr.model.network, asr.model.ensemble). Nothing here
imports TensorFlow.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from asr import models
from asr.audio import noise, running_mean
from asr.audio.features import log_of, mel_power
from asr.audio.segment import SegmentConfig
from asr.model import directory as model_dir
from asr.model import ensemble, noise_floor
from asr.recognizer import DECODING_FILE, LM_FILE, DecodingConfig, ExportedTranscriber, Recognizer, Transcript  # noqa: F401


class Transcriber(Recognizer):
    """A model directory (weights, config, tokens; optional lexicon.txt, lm.arpa.gz, decoding.json, ensemble.json
    naming more networks to average with (asr.model.ensemble), and noise_floor.json, the training clips' noise
    floor that decoding.json's noise_subtraction needs (asr.audio.noise)) plus decoding settings (see Recognizer)."""

    def __init__(self, model_dir_path, beam_width: int | None = None, use_lexicon: bool = True,
                 segments: SegmentConfig = SegmentConfig(), hotwords: dict[str, float] | None = None,
                 lm: str | Path | bool = True, lm_weight: float | None = None, word_bonus: float | None = None,
                 prior_scale: float | None = None):
        self.config = model_dir.read_config(model_dir_path)
        self.model = ensemble.load(model_dir_path, self.config)  # a network or an ensemble, in NumPy
        vocab = model_dir.read_vocabulary(model_dir_path, self.config)
        features = self.config.features
        super().__init__(vocab, features.sample_rate_hz, features.hop_ms / 1000 * self.config.model.subsampling,
                         Path(model_dir_path), beam_width, use_lexicon, segments, hotwords, lm, lm_weight,
                         word_bonus, prior_scale)
        self._streaming = None
        self.noise_floor = (noise_floor.load(self.model_dir, self.decoding.level_dbfs,
                                             self.config.features.num_mels)
                            if self.decoding.noise_subtraction is not None else None)

    def streaming(self):
        """The model's streaming step (asr.model.stream), built on first use; raises
        asr.model.stream.NotStreamable for a bidirectional model or an ensemble."""
        if self._streaming is None:
            from asr.model.stream import StreamingAcoustics
            self._streaming = StreamingAcoustics(self.model, self.config, name=str(self.model_dir),
                                                 running_mean_s=self.decoding.running_mean_s)
        return self._streaming

    def warm_up(self) -> None:
        """Nothing to compile: the NumPy model is ready as soon as it is loaded."""

    @property
    def metrics(self) -> dict:
        return models.read_metrics(self.model_dir)

    def front_end(self, samples: np.ndarray) -> np.ndarray:
        """Mel power [frames, mels] of float32 mono samples at the model rate (asr.audio.features)."""
        return mel_power(samples, self.config.features)

    def log_probs(self, samples: np.ndarray) -> np.ndarray:
        """Per-frame log posteriors [frames, tokens] of float32 mono samples at the model rate."""
        power = self.front_end(samples)
        if len(power) == 0:  # shorter than one analysis window
            return np.zeros([0, self.vocab.size], np.float32)
        if self.noise_floor is not None:
            power = noise.subtract(power, self.noise_floor, self.decoding.noise_subtraction)
        features = log_of(power, self.config.features)
        return self.model(features, self._means(features))

    def _means(self, features: np.ndarray) -> np.ndarray | None:
        """What the networks normalise by in place of the training clips' mean: the input's own mean [mels], each
        frame's running mean [frames, mels] (as a stream has it), or None (the training mean)."""
        if self.decoding.utterance_mean:
            return features.mean(axis=0)
        if self.decoding.running_mean_s is not None:
            hop_s = self.config.features.hop_ms / 1000
            state = running_mean.initial_state(ensemble.training_mean(self.model), hop_s)
            return running_mean.running_means(features, state, hop_s, self.decoding.running_mean_s)[0]
        return None


def load_model(name_or_dir: str | None = None, beam_width: int | None = None, use_lexicon: bool = True,
               hotwords: dict[str, float] | None = None, lm: str | Path | bool = True,
               lm_weight: float | None = None, word_bonus: float | None = None,
               prior_scale: float | None = None) -> Recognizer:
    """A shipped model by name ('english', 'digits'), a model directory, or a .tflite file from `asr export`
    (run by LiteRT); None means the default model.

    With the model's language model (if it ships one; `lm=False` turns it off, a path picks another ARPA file)
    the beam search and weights of its decoding.json are the default; without one, greedy decoding.
    `hotwords` maps words to log-domain boosts (asr.decoding.fusion.DEFAULT_HOTWORD_BOOST is a good start)."""
    options = dict(beam_width=beam_width, use_lexicon=use_lexicon, hotwords=hotwords, lm=lm, lm_weight=lm_weight,
                   word_bonus=word_bonus, prior_scale=prior_scale)
    if name_or_dir and str(name_or_dir).endswith(".tflite"):
        return ExportedTranscriber(name_or_dir, **options)
    return Transcriber(models.resolve(name_or_dir), **options)
