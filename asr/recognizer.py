"""Everything between acoustic posteriors and a transcript: decoding settings (beam, lexicon,
word LM, hotwords), long-audio segmentation, and the typed result.

`Recognizer` is fed by a subclass that supplies `log_probs(samples)`: `asr.transcribe.Transcriber` (a model
directory, run in NumPy) or `ExportedTranscriber` here (a TFLite file written by `asr export`, run by LiteRT).
"""
from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from asr.audio.declip import declip
from asr.audio.level import to_level
from asr.audio.load import (
    check_sample_rate,
    clipped,
    downmix,
    duration_s,
    load_audio,
    resample,
    stream_audio,
    to_float32,
)
from asr.audio.segment import SegmentConfig, has_sound, split_array, split_at_pauses
from asr.decoding import tables
from asr.decoding.ctc import TOKEN_PRUNE, Hypothesis, Lexicon, PrefixBeamSearch, Word, greedy_decode, timed_hypotheses
from asr.decoding.fusion import Combined, Hotwords, LanguageModelScore, lm_lexicon
from asr.decoding.phones import PhoneVocabulary
from asr.decoding.text import Vocabulary
from asr.model import priors
from asr.models import CheckpointError


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
LM_MIX_FILE = "lm.json"  # or a mix of models (asr/decoding/mixlm.py), which wins over LM_FILE when both are there (and
# gives way to it, with a warning, when the mix needs a package that is not installed)
DECODING_FILE = "decoding.json"  # its tuned beam width, LM weight and word bonus


class LMFallbackWarning(UserWarning):
    """A model's own LM mix could not load (a package is missing), so its plain LM_FILE decodes instead."""


@dataclass(frozen=True)
class DecodingConfig:
    beam_width: int = 16  # with a language model
    lm_weight: float = 0.5  # times the natural-log LM probability of each word
    word_bonus: float = 1.0  # added per word, against the LM's bias to short outputs
    lm_words_only: bool = False  # with the LM: every word must be in its vocabulary (a lexicon)
    prior_scale: float = 0.0  # with the LM: token priors (the model's priors.json) divided out to this power
    # each input (a file, or a long file's segment) is scaled so that its active speech level is this many dBFS
    # before the front end (asr.audio.level), as loud as the training clips; None: as recorded
    level_dbfs: float | None = None
    # an input whose peaks were cut flat (driven past full scale) has them restored first (asr.audio.declip)
    declip: bool = False
    # the networks normalise each input's log-mel features by the input's own mean, not the training clips' (a
    # band-limited channel, a room's colour or a noise floor shifts every frame alike; asr.transcribe.Transcriber)
    utterance_mean: bool = False
    # a stream's networks normalise each frame by a causal mean of the features so far, whose older frames fade
    # over this many seconds (asr.audio.running_mean; what a stream can have of utterance_mean); None: the training
    # clips' mean. The same means offline, so a file decodes as it would stream
    running_mean_s: float | None = None
    # steady background noise above the training clips' floor (the model's noise_floor.json) is taken from each
    # input's mel power, this many times over, before the log (asr.audio.noise); None: the features as computed
    noise_subtraction: float | None = None
    # per frame the search extends a prefix only by the tokens whose log posterior (after the priors) is above this,
    # and the frame's best: higher is faster and less accurate (english-phones on valid: -8 searches 1.8 times
    # faster than -12, for 0.1-0.6 points, recipes/mini_librispeech/RESULTS.md)
    token_prune: float = TOKEN_PRUNE

    @classmethod
    def of_model(cls, model_dir: Path | None, lm_weight: float | None = None, word_bonus: float | None = None,
                 lm_file: str | None = None, defaults: dict | None = None, prior_scale: float | None = None):
        """The model directory's DECODING_FILE (if any) over `defaults`, with the given values put over it.

        The file's settings are for the model's first LM (LM_MIX_FILE if it has one); its optional "per_lm"
        section holds the settings tuned for another of its LM files: {"per_lm": {"lm.arpa.gz": {...}}}, used
        when `lm_file` names it.
        """
        path = model_dir / DECODING_FILE if model_dir is not None else None
        try:
            saved = json.loads(path.read_text()) if path is not None and path.is_file() else {}
        except (OSError, ValueError) as e:
            raise CheckpointError(f"{path}: cannot read ({e})") from None
        per_lm = saved.pop("per_lm", {})
        saved = {**saved, **per_lm.get(lm_file, {})}
        unknown = set(saved) - {f.name for f in fields(cls)}
        if unknown:
            raise CheckpointError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
        for key, fits, what in (("prior_scale", lambda v: v >= 0, "a number of at least 0"),
                                ("noise_subtraction", lambda v: v > 0, "a positive number or null"),
                                ("running_mean_s", lambda v: v >= 1, "a number of seconds of at least 1, or null"),
                                ("token_prune", lambda v: v < 0, "a negative number (a log posterior)")):
            value = saved.get(key, getattr(cls, key))
            if value is None and getattr(cls, key) is None:  # a setting that is off by default may be null
                continue
            if not isinstance(value, (int, float)) or not math.isfinite(value) or not fits(value):
                raise CheckpointError(f"{path}: {key} must be {what}, got {value!r}")
        if saved.get("utterance_mean") and saved.get("running_mean_s") is not None:
            raise CheckpointError(f"{path}: utterance_mean and running_mean_s exclude each other (a mean over the "
                                  "whole input, or a running one)")
        given = {k: v for k, v in (("lm_weight", lm_weight), ("word_bonus", word_bonus),
                                   ("prior_scale", prior_scale)) if v is not None}
        return cls(**{**(defaults or {}), **saved, **given})


class Recognizer:
    """Decoding settings over an acoustic model that subclasses provide as `log_probs(samples)`.

    beam_width 1 decodes greedily, unless the model directory has a lexicon.txt (a closed vocabulary, such as
    the ten digits): then beam search (at least LEXICON_BEAM wide) keeps only words of the lexicon. A phone
    model's beam search keeps to the words of its LM, or with no LM to those of its pronunciation dictionary.
    With a word LM (the model directory's LM_MIX_FILE or LM_FILE, or `lm=PATH`), beam search with the weights of
    its DECODING_FILE, and with its `prior_scale` the search reads posteriors divided by the model's token priors
    (asr.model.priors; greedy decoding and word timings read them as they are).
    """

    LEXICON_BEAM = 8  # the narrowest beam used with a lexicon or hotwords

    def __init__(self, vocab: Vocabulary, sample_rate_hz: int, frame_s: float, model_dir: Path | None,
                 beam_width: int | None = None, use_lexicon: bool = True, segments: SegmentConfig = SegmentConfig(),
                 hotwords: dict[str, float] | None = None, lm: str | Path | bool = True,
                 lm_weight: float | None = None, word_bonus: float | None = None,
                 prior_scale: float | None = None):
        self.vocab, self.sample_rate_hz, self.frame_s = vocab, sample_rate_hz, frame_s
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.segments = segments
        lexicon = self.model_dir / "lexicon.txt" if self.model_dir is not None else None
        self.lexicon = Lexicon.load(lexicon, vocab) if use_lexicon and lexicon and lexicon.is_file() else None
        self.hotwords = Hotwords(hotwords, vocab) if hotwords else None
        phones = isinstance(vocab, PhoneVocabulary)
        self._hotword_of = {vocab.pronounce(w): w for w in hotwords} if phones and hotwords else {}
        self.lm_path, ngram = self._load_lm(lm)
        own = lm is True and self.lm_path is not None
        # a phone model can only write the LM's words as words (others come out as phones run together), so with
        # no DECODING_FILE saying otherwise its beam keeps to them
        self.decoding = DecodingConfig.of_model(self.model_dir, lm_weight, word_bonus,
                                                self.lm_path.name if own else None,
                                                {"lm_words_only": True} if phones else None, prior_scale)
        self.lm = None
        if ngram is not None:
            # the model's own LM: its lexicon and homophones from the model's tables (asr.decoding.tables), where current
            packed = tables.decoding(self.model_dir, self.lm_path.name, vocab) if own else None
            lm_words, homophones = packed if packed is not None else (None, None)
            self.lm = LanguageModelScore(ngram, vocab, self.decoding.lm_weight, self.decoding.word_bonus,
                                         homophones=homophones)
            if self.decoding.lm_words_only and self.lexicon is None and use_lexicon:
                self.lexicon = lm_words if lm_words is not None else lm_lexicon(ngram, vocab)
        self.log_prior = self._load_priors() if self.lm is not None and self.decoding.prior_scale else None
        if beam_width is None:
            beam_width = self.decoding.beam_width if self.lm else 1
        if phones and self.lm is None and self.lexicon is None and use_lexicon and beam_width > 1:
            self.lexicon = Lexicon(vocab.pronunciations, vocab)  # no LM: the beam keeps to the dictionary's words
        self.beam_width = max(beam_width, self.LEXICON_BEAM) if self.lexicon or self.hotwords else beam_width

    def log_probs(self, samples: np.ndarray) -> np.ndarray:
        """Per-frame log posteriors [frames, tokens] of float32 mono samples at the model rate."""
        raise NotImplementedError

    def streaming(self):
        """The acoustic model's streaming step (see asr.model.stream), for asr.live.streaming.StreamingTranscriber."""
        raise ValueError("this model cannot stream: streaming needs a unidirectional model directory, not an "
                         "export (the shipped 'english-stream' or 'digits-stream')")

    def _load_priors(self):
        """The model's log token priors (asr.model.priors), which a non-zero prior_scale needs."""
        path = self.model_dir / priors.PRIORS_FILE if self.model_dir is not None else None
        if path is None or not path.is_file():
            raise CheckpointError(f"{path or 'this model'}: no token priors, which prior_scale "
                                  f"{self.decoding.prior_scale} needs (recipes/mini_librispeech/estimate_priors.py "
                                  f"writes them; --prior-scale 0 decodes without)")
        return priors.load(path, self.vocab.symbols())

    def search_input(self, log_probs: np.ndarray) -> np.ndarray:
        """The posteriors the beam search reads: divided by the token priors when the decoding says so."""
        if self.log_prior is None:
            return log_probs
        return priors.apply(log_probs, self.log_prior, self.decoding.prior_scale)

    def _load_lm(self, lm):
        """(path, loaded model) of the LM to decode with, or (None, None).

        lm=True: the model's own LM_MIX_FILE, or its LM_FILE (also when the mix needs a package that is not
        installed: then with an LMFallbackWarning); False or None: no LM; a path: that ARPA file or mix description.
        """
        from asr.decoding.mixlm import MissingPackage, load_lm

        if lm is True:
            own = [self.model_dir / name for name in (LM_MIX_FILE, LM_FILE)] if self.model_dir is not None else []
            candidates = [path for path in own if path.is_file()]
        elif not lm:
            candidates = []
        elif not Path(lm).is_file():
            raise FileNotFoundError(f"{lm}: no such language model file")
        else:
            candidates = [Path(lm)]
        for i, path in enumerate(candidates):
            try:
                return path, load_lm(path)
            except MissingPackage as e:
                if i + 1 == len(candidates):
                    raise CheckpointError(f"{path}: {e}") from None
                warnings.warn(f"{path} {e}; decoding with {candidates[i + 1].name} instead", LMFallbackWarning,
                              stacklevel=4)
            except (OSError, ValueError, KeyError, IndexError, EOFError) as e:
                raise CheckpointError(f"{path}: not a usable language model "
                                      f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
        return None, None

    def warm_up(self) -> None:
        """Build the graph (a few seconds, once) on one second of silence, before the first real input."""
        self.log_probs(np.zeros(self.sample_rate_hz, np.float32))

    def transcribe(self, audio, sample_rate: int | None = None, alternatives: int = 1,
                   progress: Callable[[float, float], None] | None = None) -> Transcript:
        """Transcribe a file path, or an array of samples (int16 or float; sample_rate defaults to the model's).

        Audio with no sound (no frame louder than the detector's `min_speech_db` once a DC offset is taken out)
        gives an empty transcript. Audio longer than `segments.max_segment_s` is cut at pauses and transcribed segment by segment (files
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
            samples = self._samples(audio, sample_rate)
            if sample_rate is not None and sample_rate != rate:
                samples = resample(samples, sample_rate, rate)
            if len(samples) / rate > self.segments.max_segment_s:
                return self._transcribe_segments(split_array(samples, rate, self.segments), len(samples) / rate,
                                                 progress)
        if not has_sound(samples, rate, self.segments.vad):  # silence, an offset, faint noise: no words
            return Transcript("", len(samples) / rate, ())
        return self.decode(self.hear(samples), len(samples) / rate, alternatives)

    def hear(self, samples: np.ndarray) -> np.ndarray:
        """log_probs of one input (a file, a segment, an utterance), first with its clipped peaks restored
        (decoding.declip) and brought to the model's input level (decoding.level_dbfs) where the decoding says so."""
        if self.decoding.declip:
            samples = declip(samples)
        if self.decoding.level_dbfs is not None:
            samples = to_level(samples, self.sample_rate_hz, self.decoding.level_dbfs)
        return self.log_probs(samples)

    @staticmethod
    def _samples(audio, sample_rate: int | None) -> np.ndarray:
        """An array given to transcribe() as float32 mono in [-1, 1]; ValueError for what cannot be speech."""
        if sample_rate is not None:
            check_sample_rate(sample_rate)
        samples = to_float32(np.asarray(audio))
        if samples.ndim not in (1, 2):
            raise ValueError(f"samples must be [samples] or [samples, channels], got shape {samples.shape}")
        if not np.all(np.isfinite(samples)):
            raise ValueError("samples contain NaN or infinite values")
        return clipped(downmix(samples) if samples.ndim == 2 else samples, "samples")

    def _transcribe_segments(self, segments, total_s: float, progress) -> Transcript:
        texts, words, end_s = [], [], 0.0
        for segment in segments:
            if segment.has_speech:
                part = self.decode(self.hear(segment.samples), segment.end_s - segment.start_s)
                texts += [part.text] if part.text else []
                words += [replace(w, start_s=w.start_s + segment.start_s, end_s=w.end_s + segment.start_s)
                          for w in part.words]
            end_s = segment.end_s
            if progress is not None:
                progress(end_s, max(total_s, end_s))
        return Transcript(" ".join(texts), end_s, tuple(words))

    def decode(self, log_probs: np.ndarray, duration_s: float, alternatives: int = 1) -> Transcript:
        if self.beam_width > 1 or alternatives > 1:
            search = self.new_search(max(self.beam_width, alternatives))
            search.advance(self.search_input(log_probs))
            nbest = [self.in_words(h) for h in
                     timed_hypotheses(search.nbest()[:alternatives], log_probs, self.vocab, self.frame_s)]
            best = nbest[0]
        else:
            best, nbest = self.in_words(greedy_decode(log_probs, self.vocab, self.frame_s)), []
        return Transcript(best.text, duration_s, best.words, tuple(nbest[:alternatives]) if alternatives > 1 else ())

    def in_words(self, hypothesis: Hypothesis) -> Hypothesis:
        """A phone model's hypothesis with its pronunciations turned into words: a hotword's if it is one, else
        chosen by the LM among homophones, else by the dictionary. A character model's, unchanged."""
        if not isinstance(self.vocab, PhoneVocabulary) or not hypothesis.text:
            return hypothesis
        spelled = tuple(hypothesis.text.split())
        scorer = self.lm.fresh() if self.lm else None
        chosen: list[str] = []
        for w, s in zip(scorer.words(spelled) if scorer else spelled, spelled):
            if s in self._hotword_of or w != s:
                chosen.append(self._hotword_of.get(s) or w)
            else:  # a pronunciation the LM has no word for: the dictionary's, or its nearest, likeliest in context
                prefer = None
                if scorer is not None:
                    state = scorer.state_after(tuple(chosen))
                    prefer = lambda word, state=state: scorer.lm.score(state, word)[0]  # noqa: E731
                chosen.append(self.vocab.word_for(s, prefer))
        return hypothesis.with_words(chosen)

    def new_search(self, beam_width: int | None = None) -> PrefixBeamSearch:
        """A prefix beam search with this recognizer's lexicon, LM and hotwords, for one utterance."""
        lm = self.lm.fresh() if self.lm is not None else None
        scorer = Combined(lm, self.hotwords) if lm or self.hotwords else None
        return PrefixBeamSearch(self.vocab.space_id, beam_width or self.beam_width, self.decoding.token_prune,
                                word_score=scorer.word_score if scorer else None, blank_id=self.vocab.blank_id,
                                lexicon=self.lexicon,
                                partial_score=self.hotwords.partial_score if self.hotwords else None,
                                word_score_max=scorer.max_score if scorer else math.inf)


class UtteranceDecoder:
    """One utterance decoded as its frames arrive (asr.live.streaming): the recognizer's decoding, with the beam
    search (if any) advanced frame by frame, so that the final costs little more than the last frames."""

    def __init__(self, recognizer: Recognizer):
        self.recognizer = recognizer
        self.search = recognizer.new_search() if recognizer.beam_width > 1 else None
        self._frames: list[np.ndarray] = []

    def advance(self, log_probs: np.ndarray) -> None:
        if len(log_probs):
            self._frames.append(log_probs)
            if self.search is not None:
                self.search.advance(self.recognizer.search_input(log_probs))

    @property
    def log_probs(self) -> np.ndarray:
        if len(self._frames) != 1:
            self._frames = [np.concatenate(self._frames) if self._frames else
                            np.zeros([0, self.recognizer.vocab.size], np.float32)]
        return self._frames[0]

    def partial(self) -> str:
        """The best text so far (its last word may be unfinished)."""
        r = self.recognizer
        if self.search is not None:
            tokens = self.search.best_so_far()
            return r.in_words(Hypothesis(" ".join(r.vocab.decode(tokens).split()), tokens, 0.0, ())).text
        return r.in_words(greedy_decode(self.log_probs, r.vocab, r.frame_s)).text

    def final(self) -> Transcript:
        r, log_probs = self.recognizer, self.log_probs
        if self.search is not None:
            best = r.in_words(timed_hypotheses(self.search.nbest()[:1], log_probs, r.vocab, r.frame_s)[0])
        else:
            best = r.in_words(greedy_decode(log_probs, r.vocab, r.frame_s))
        return Transcript(best.text, len(log_probs) * r.frame_s, best.words)


class ExportedTranscriber(Recognizer):
    """A TFLite file written by `asr export`, run by LiteRT: the same decoding, no TensorFlow in the process."""

    def __init__(self, path, **options):
        from asr.model.exported import load_exported
        self.exported = load_exported(path)
        super().__init__(self.exported.vocab, self.exported.sample_rate_hz, self.exported.frame_s, None, **options)

    def log_probs(self, samples: np.ndarray) -> np.ndarray:
        return self.exported.log_probs(samples)
