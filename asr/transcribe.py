"""The Python API: load a model and transcribe files or arrays.

    from asr import load_model
    model = load_model()                      # the default shipped English model
    result = model.transcribe("clip.wav")     # or an array of samples with sample_rate=...
    print(result.text, result.words[0].start_s)
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import tensorflow as tf

from asr import checkpoint, models
from asr.audio import duration_s, load_audio, resample, stream_audio, to_float32
from asr.decode import Hypothesis, Lexicon, Word, beam_search, greedy_decode
from asr.features import log_mel
from asr.fusion import Combined, Hotwords, LanguageModelScore
from asr.segment import SegmentConfig, split_array, split_at_pauses


@dataclass(frozen=True)
class Transcript:
    text: str
    duration_s: float
    words: tuple[Word, ...]
    alternatives: tuple[Hypothesis, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict:
        out = {"text": self.text, "duration_s": round(self.duration_s, 3),
               "words": [{k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(w).items()}
                         for w in self.words]}
        if self.alternatives:
            out["alternatives"] = [{"text": h.text, "score": round(h.score, 3)} for h in self.alternatives]
        return out


LM_FILE = "lm.arpa.gz"  # a model directory's own word language model, used by default when present
DECODING_FILE = "decoding.json"  # its tuned beam width, LM weight and word bonus


@dataclass(frozen=True)
class DecodingConfig:
    beam_width: int = 16  # with a language model
    lm_weight: float = 0.5  # times the natural-log LM probability of each word
    word_bonus: float = 1.0  # added per word, against the LM's bias to short outputs

    @classmethod
    def of_model(cls, model_dir: Path, lm_weight: float | None = None, word_bonus: float | None = None):
        """The model directory's DECODING_FILE (if any) with the given values put over it."""
        path = model_dir / DECODING_FILE
        saved = json.loads(path.read_text()) if path.is_file() else {}
        unknown = set(saved) - {f.name for f in fields(cls)}
        if unknown:
            raise checkpoint.CheckpointError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
        given = {k: v for k, v in (("lm_weight", lm_weight), ("word_bonus", word_bonus)) if v is not None}
        return cls(**{**saved, **given})


class Transcriber:
    """A loaded model directory plus decoding settings.

    beam_width 1 decodes greedily, unless the model directory has a lexicon.txt (a closed vocabulary, such as
    the ten digits): then beam search (at least LEXICON_BEAM wide) keeps only words of the lexicon.
    """

    LEXICON_BEAM = 8  # the narrowest beam used with a lexicon or hotwords

    def __init__(self, model_dir, beam_width: int | None = None, use_lexicon: bool = True,
                 segments: SegmentConfig = SegmentConfig(), hotwords: dict[str, float] | None = None,
                 lm: str | Path | bool = True, lm_weight: float | None = None, word_bonus: float | None = None):
        self.model_dir = Path(model_dir)
        self.segments = segments
        self.config, self.vocab, self.model = checkpoint.load_model_dir(model_dir)
        lexicon = self.model_dir / "lexicon.txt"
        self.lexicon = Lexicon.load(lexicon, self.vocab) if use_lexicon and lexicon.is_file() else None
        self.hotwords = Hotwords(hotwords, self.vocab) if hotwords else None
        self.decoding = DecodingConfig.of_model(self.model_dir, lm_weight, word_bonus)
        self.lm_path = self._lm_path(lm)
        self.lm = None
        if self.lm_path is not None:
            from asr.lm import NGramLM
            self.lm = LanguageModelScore(NGramLM.from_arpa(self.lm_path), self.vocab, self.decoding.lm_weight,
                                         self.decoding.word_bonus)
        if beam_width is None:
            beam_width = self.decoding.beam_width if self.lm else 1
        self.beam_width = max(beam_width, self.LEXICON_BEAM) if self.lexicon or self.hotwords else beam_width
        self.sample_rate_hz = self.config.features.sample_rate_hz
        self.frame_s = self.config.features.hop_ms / 1000 * self.config.model.subsampling
        signature = [tf.TensorSpec([None], tf.float32)]

        @tf.function(input_signature=signature)
        def log_probs(waveform):
            features = log_mel(waveform, self.config.features)[None]
            logits, _ = self.model(features, tf.shape(features)[1:2], training=False)
            return tf.nn.log_softmax(logits[0])
        self._log_probs = log_probs

    def _lm_path(self, lm) -> Path | None:
        """lm=True: the model's own LM_FILE if it has one; False or None: no LM; a path: that ARPA file."""
        if lm is True:
            own = self.model_dir / LM_FILE
            return own if own.is_file() else None
        if not lm:
            return None
        if not Path(lm).is_file():
            raise FileNotFoundError(f"{lm}: no such language model file")
        return Path(lm)

    def warm_up(self) -> None:
        """Build the graph (a few seconds, once) on one second of silence, before the first real input."""
        self.log_probs(np.zeros(self.sample_rate_hz, np.float32))

    @property
    def metrics(self) -> dict:
        return checkpoint.read_metrics(self.model_dir)

    def log_probs(self, samples: np.ndarray) -> np.ndarray:
        """Per-frame log posteriors [frames, tokens] of float32 mono samples at the model rate."""
        if len(samples) < round(self.sample_rate_hz * self.config.features.window_ms / 1000):
            return np.zeros([0, self.vocab.size], np.float32)
        return self._log_probs(tf.constant(samples, tf.float32)).numpy()

    def transcribe(self, audio, sample_rate: int | None = None, alternatives: int = 1,
                   progress: Callable[[float, float], None] | None = None) -> Transcript:
        """Transcribe a file path, or an array of samples (int16 or float; sample_rate defaults to the model's).

        Audio longer than `segments.max_segment_s` is cut at pauses and transcribed segment by segment (files
        are read block by block, so memory stays bounded); word times are in the whole recording, and
        `progress(done_s, total_s)` is called after each segment. Alternatives come only from single-segment audio.
        """
        rate = self.sample_rate_hz
        if isinstance(audio, (str, Path)):
            total_s = duration_s(audio)
            if total_s > self.segments.max_segment_s:
                return self._transcribe_segments(split_at_pauses(stream_audio(audio, rate), rate, self.segments),
                                                 total_s, progress)
            samples = load_audio(audio, rate)
        else:
            samples = to_float32(np.asarray(audio))
            if samples.ndim == 2:
                samples = samples.mean(axis=1)
            if sample_rate and sample_rate != rate:
                samples = resample(samples, sample_rate, rate)
            if len(samples) / rate > self.segments.max_segment_s:
                return self._transcribe_segments(split_array(samples, rate, self.segments), len(samples) / rate,
                                                 progress)
        return self.decode(self.log_probs(samples), len(samples) / rate, alternatives)

    def _transcribe_segments(self, segments, total_s: float, progress) -> Transcript:
        texts, words, end_s = [], [], 0.0
        for segment in segments:
            if segment.has_speech:
                part = self.decode(self.log_probs(segment.samples), segment.end_s - segment.start_s)
                texts += [part.text] if part.text else []
                words += [replace(w, start_s=w.start_s + segment.start_s, end_s=w.end_s + segment.start_s)
                          for w in part.words]
            end_s = segment.end_s
            if progress is not None:
                progress(end_s, max(total_s, end_s))
        return Transcript(" ".join(texts), end_s, tuple(words))

    def decode(self, log_probs: np.ndarray, duration_s: float, alternatives: int = 1) -> Transcript:
        if self.beam_width > 1 or alternatives > 1:
            if self.lm is not None:
                self.lm.reset()
            scorer = Combined(self.lm, self.hotwords) if self.lm or self.hotwords else None
            nbest = beam_search(log_probs, self.vocab, self.frame_s, max(self.beam_width, alternatives),
                                nbest=alternatives, lexicon=self.lexicon,
                                word_score=scorer.word_score if scorer else None,
                                partial_score=self.hotwords.partial_score if self.hotwords else None)
            best = nbest[0]
        else:
            best, nbest = greedy_decode(log_probs, self.vocab, self.frame_s), []
        return Transcript(best.text, duration_s, best.words, tuple(nbest[:alternatives]) if alternatives > 1 else ())


def load_model(name_or_dir: str | None = None, beam_width: int | None = None, use_lexicon: bool = True,
               hotwords: dict[str, float] | None = None, lm: str | Path | bool = True,
               lm_weight: float | None = None, word_bonus: float | None = None) -> Transcriber:
    """A shipped model by name ('english', 'digits'), or a model directory; None means the default model.

    With the model's language model (if it ships one; `lm=False` turns it off, a path picks another ARPA file)
    the beam search and weights of its decoding.json are the default; without one, greedy decoding.
    `hotwords` maps words to log-domain boosts (asr.fusion.DEFAULT_HOTWORD_BOOST is a good start)."""
    return Transcriber(models.resolve(name_or_dir), beam_width, use_lexicon, hotwords=hotwords, lm=lm,
                       lm_weight=lm_weight, word_bonus=word_bonus)
