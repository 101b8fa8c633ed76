"""Reading a model directory for inference, with NumPy only (training writes them: asr.training.checkpoint).

A model directory (what inference needs, nothing else):
    config.json   the resolved Config
    tokens.txt    the vocabulary, blank first (characters, or phone names for a model with tokens = "phones")
    pronunciations.txt.gz  a phone model's: word -> phones (asr/decoding/phones.py)
    model.npz     weights (float16), every weight of the training model in creation order (asr.model.network)
    metrics.json  optional: measured scores and how they were measured
    lexicon.txt   optional: the closed list of words the decoder may output (one per line)
    tables/       optional: the decoding tables in compact form (asr.decoding.tables), built by `asr pack`
and, for decoding, the optional lm.arpa.gz / lm.json, decoding.json, priors.json and ensemble.json.
"""
from __future__ import annotations

import contextlib
import json
import zipfile
import zlib
from pathlib import Path

from asr import config as config_lib
from asr.decoding.phones import PhoneVocabulary
from asr.decoding.text import Vocabulary
from asr.model.network import NumpyAcousticModel
from asr.models import CheckpointError, read_metrics  # noqa: F401  (part of this module's API)

MODEL_FILES = ("config.json", "tokens.txt", "model.npz")
# What reading a damaged file raises: bad JSON, text or values, an npz that is truncated, garbled (zip, zlib,
# a refused pickle) or short of an array, or one whose arrays do not fit the model.
DAMAGED = (ValueError, KeyError, IndexError, TypeError, AttributeError, OSError, EOFError, zipfile.BadZipFile,
           zlib.error)


@contextlib.contextmanager
def reading(file: Path, problem: str):
    """Report a damaged `file` as one CheckpointError line: "<its folder>: <problem> (<file name>: <why>)"."""
    try:
        yield
    except DAMAGED as e:
        why = " ".join(str(e).split()).removeprefix(f"{file}: ") or type(e).__name__
        raise CheckpointError(f"{file.parent}: {problem} ({file.name}: {why})") from None


def check_model_dir(path) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a model directory")
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise CheckpointError(f"{path}: incomplete model directory, missing {', '.join(missing)}")
    return path


def read_config(path) -> config_lib.Config:
    """The resolved Config of a model directory."""
    path = check_model_dir(path)
    with reading(path / "config.json", "cannot load model"):
        return config_lib.from_dict(json_object(path / "config.json"))


def read_vocabulary(path, cfg: config_lib.Config) -> Vocabulary:
    """The output vocabulary of a model directory (a phone model's with its pronunciations)."""
    path = Path(path)
    with reading(path / "tokens.txt", "cannot load model"):
        if cfg.model.tokens == "phones":
            return PhoneVocabulary.load_dir(path)
        return Vocabulary.load(path / "tokens.txt")


def load_network(path) -> tuple[config_lib.Config, NumpyAcousticModel]:
    """Config and NumPy network of a model directory (its own network: asr.model.ensemble adds an ensemble's members)."""
    cfg = read_config(path)
    with reading(Path(path) / "model.npz", "cannot load model"):
        return cfg, NumpyAcousticModel.load(cfg.model, Path(path) / "model.npz")


def load_model_dir(path) -> tuple[config_lib.Config, Vocabulary, NumpyAcousticModel]:
    """Config, vocabulary and NumPy network of a model directory."""
    cfg, network = load_network(path)
    return cfg, read_vocabulary(path, cfg), network


def json_object(path: Path) -> dict:
    value = json.loads(path.read_text())
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return value
