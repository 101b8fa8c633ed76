"""Reading what `asr export` writes (asr.training.export): a TFLite file run by LiteRT (the `export` extra,
pip install 'asr[export]'), or a SavedModel run by TensorFlow (the `train` extra). Neither runtime is needed
to import this module.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from asr.decoding.ctc import Hypothesis, greedy_decode
from asr.decoding.phones import PHONES, PRONUNCIATIONS_FILE, PhoneVocabulary
from asr.decoding.text import BLANK_SYMBOL, Vocabulary

FORMATS = ("savedmodel", "tflite")
QUANTIZE = ("none", "dynamic", "int8")
SIGNATURE = "serving_default"
METADATA_NAME = "asr"  # assets.extra/asr.json in a SavedModel; the metadata entry's name in a TFLite file
METADATA_VERSION = 1


class ExportError(Exception):
    """An export that cannot be made or a file that is not an asr export."""


class MissingRuntime(ExportError):
    """An export whose runtime (LiteRT, TensorFlow) is not installed; the message names the extra to install."""


# Load -----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExportedModel:
    """An exported model, loaded: waveform -> log posteriors, and greedy transcription."""

    path: Path
    meta: dict
    run: Callable[[np.ndarray], np.ndarray]  # waveform float32 [samples] -> log_probs float32 [frames, tokens]
    pronunciations: bytes | None = None  # a phone model's (PRONUNCIATIONS_FILE)

    @property
    def sample_rate_hz(self) -> int:
        return self.meta["sample_rate_hz"]

    @property
    def frame_s(self) -> float:
        return self.meta["frame_s"]

    @cached_property
    def vocab(self) -> Vocabulary:
        return vocabulary(self.meta["tokens"], self.pronunciations, self.path)

    def log_probs(self, samples: np.ndarray) -> np.ndarray:
        """Per-frame log posteriors [frames, tokens] of float32 mono samples at the model rate."""
        return self.run(np.asarray(samples, np.float32))

    def transcribe(self, samples: np.ndarray) -> Hypothesis:
        """Greedy transcript of float32 mono samples at the model rate (a phone model's pronunciations written as
        the dictionary's words)."""
        hypothesis = greedy_decode(self.log_probs(samples), self.vocab, self.frame_s)
        if isinstance(self.vocab, PhoneVocabulary):
            return hypothesis.with_words(self.vocab.word_for(s) for s in hypothesis.text.split())
        return hypothesis


def vocabulary(tokens: list[str], pronunciations: bytes | None = None, path="export") -> Vocabulary:
    """The Vocabulary of an export's token symbols: characters, or phones with their pronunciations."""
    if not tokens or tokens[0] != BLANK_SYMBOL:
        raise ExportError(f"{path}: the first token must be {BLANK_SYMBOL}")
    if tokens[1:] != [" ", *PHONES]:  # PhoneVocabulary.symbols()
        return Vocabulary("".join(tokens[1:]))
    if pronunciations is None:
        raise ExportError(f"{path}: a phone model without its pronunciations ({PRONUNCIATIONS_FILE})")
    return PhoneVocabulary.from_gz(pronunciations)


def load_exported(path) -> ExportedModel:
    """A SavedModel directory or a TFLite file written by `export`."""
    path = Path(path)
    if path.is_dir():
        return _load_savedmodel(path)
    if path.is_file():
        return _load_tflite(path)
    raise ExportError(f"{path}: no such file or directory")


def _load_savedmodel(path: Path) -> ExportedModel:
    try:
        import tensorflow as tf
    except ImportError:
        raise MissingRuntime(f"{path}: a SavedModel runs in TensorFlow, which is not installed: "
                             "pip install 'asr[train]'") from None

    meta_file = path / "assets.extra" / f"{METADATA_NAME}.json"
    if not meta_file.is_file():
        raise ExportError(f"{path}: not an asr SavedModel (no assets.extra/{METADATA_NAME}.json)")
    serve = tf.saved_model.load(str(path)).signatures[SIGNATURE]

    def run(samples):
        return serve(waveform=tf.constant(samples))["log_probs"].numpy()
    pronunciations = path / "assets.extra" / PRONUNCIATIONS_FILE
    return ExportedModel(path, json.loads(meta_file.read_text()), run,
                         pronunciations.read_bytes() if pronunciations.is_file() else None)


def _load_tflite(path: Path) -> ExportedModel:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise MissingRuntime(f"{path}: a TFLite model runs in LiteRT, which is not installed: "
                             "pip install 'asr[export]'") from None

    content = path.read_bytes()
    entries = _read_metadata(content, path)
    if METADATA_NAME not in entries:
        raise ExportError(f"{path}: not an asr TFLite export (no {METADATA_NAME!r} metadata)")
    runner = Interpreter(model_content=content).get_signature_runner(SIGNATURE)

    def run(samples):
        return runner(waveform=samples)["log_probs"]
    return ExportedModel(path, json.loads(entries[METADATA_NAME]), run, entries.get(PRONUNCIATIONS_FILE))


def _read_metadata(content: bytes, path) -> dict[str, bytes]:
    """The metadata entries of a TFLite file: name -> data."""
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.Model.GetRootAs(content, 0)
        entries = {}
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            entries[entry.Name().decode()] = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
        return entries
    except Exception as e:  # noqa: BLE001 - flatbuffers raises anything on a file that is not TFLite
        raise ExportError(f"{path}: not a TFLite file ({type(e).__name__})") from None
