"""Directories that describe themselves.

A model directory (what inference needs, nothing else):
    config.json   the resolved Config
    tokens.txt    the vocabulary, blank first (characters, or phone names for a model with tokens = "phones")
    pronunciations.txt.gz  a phone model's: word -> phones (asr/phones.py)
    model.npz     weights (float16), see model.save_weights
    metrics.json  optional: measured scores and how they were measured
    lexicon.txt   optional: the closed list of words the decoder may output (one per line)

A training-state checkpoint (what resuming needs): checkpoints/step-NNNNNNN/ holding model.npz (float32),
optimizer.npz and state.json. Every directory is written under a temporary name and renamed into place, so a
run killed at any moment leaves the previous checkpoint whole.
"""
from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import zipfile
import zlib
from pathlib import Path

import numpy as np

from asr import config as config_lib
from asr.models import CheckpointError, read_metrics  # noqa: F401  (part of this module's API)
from asr.model import AcousticModel, build_model, load_weights, save_weights
from asr.phones import PhoneVocabulary
from asr.text import Vocabulary

MODEL_FILES = ("config.json", "tokens.txt", "model.npz")
# What reading a damaged file raises: bad JSON, text or values, an npz that is truncated, garbled (zip, zlib,
# a refused pickle) or short of an array, or one whose arrays do not fit the model.
_DAMAGED = (ValueError, KeyError, IndexError, TypeError, AttributeError, OSError, EOFError, zipfile.BadZipFile,
            zlib.error)
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2  # linux/fcntl.h


def _atomic_dir(final: Path, write) -> None:
    """Call write(tmp_dir), then swap tmp_dir into place as `final`: a crash at any point leaves `final` whole,
    as it was or as written (where the system cannot exchange two directories in one step, a crash between the
    two renames leaves it as .NAME.old, put back by the next save)."""
    final = Path(final)
    tmp = final.with_name(f".{final.name}.tmp")
    old = final.with_name(f".{final.name}.old")
    if old.is_dir() and not final.exists():
        os.replace(old, final)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    if final.exists() and _exchange(tmp, final):
        shutil.rmtree(tmp, ignore_errors=True)  # the previous directory, now under the temporary name
        return
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False, changing nothing,
    where the C library or the file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, TypeError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


@contextlib.contextmanager
def _reading(file: Path, problem: str):
    """Report a damaged `file` as one CheckpointError line: "<its folder>: <problem> (<file name>: <why>)"."""
    try:
        yield
    except _DAMAGED as e:
        why = " ".join(str(e).split()).removeprefix(f"{file}: ") or type(e).__name__
        raise CheckpointError(f"{file.parent}: {problem} ({file.name}: {why})") from None


def save_model_dir(path, cfg: config_lib.Config, vocab: Vocabulary, model: AcousticModel,
                   metrics: dict | None = None) -> None:
    def write(tmp: Path):
        cfg.save(tmp / "config.json")
        vocab.save(tmp / "tokens.txt")
        save_weights(model, tmp / "model.npz")
        if metrics is not None:
            (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    _atomic_dir(Path(path), write)


def check_model_dir(path) -> Path:
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"{path}: not a model directory")
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise CheckpointError(f"{path}: incomplete model directory, missing {', '.join(missing)}")
    return path


def load_model_dir(path) -> tuple[config_lib.Config, Vocabulary, AcousticModel]:
    """Config, vocabulary and a float32 model with its weights, from a model directory (its own network only:
    asr.ensemble adds the members an ensemble.json names)."""
    cfg, model = load_network(path)
    path = Path(path)
    with _reading(path / "tokens.txt", "cannot load model"):
        phones = cfg.model.tokens == "phones"
        vocab = PhoneVocabulary.load_dir(path) if phones else Vocabulary.load(path / "tokens.txt")
    return cfg, vocab, model


def load_network(path) -> tuple[config_lib.Config, AcousticModel]:
    """Config and a float32 model with its weights, from a model directory, without reading its vocabulary."""
    path = check_model_dir(path)
    with _reading(path / "config.json", "cannot load model"):
        cfg = config_lib.from_dict(_json_object(path / "config.json"))
        model = build_model(cfg.model, cfg.features.num_mels)
    with _reading(path / "model.npz", "cannot load model"):
        load_weights(model, path / "model.npz")
    return cfg, model


def _json_object(path: Path) -> dict:
    value = json.loads(path.read_text())
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def save_training_state(checkpoints_dir, step: int, model, optimizer, state: dict, keep: int) -> Path:
    """Write checkpoints/step-NNNNNNN atomically, then delete all but the newest `keep`."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    checkpoints_dir = Path(checkpoints_dir)
    final = checkpoints_dir / f"step-{step:07d}"

    def write(tmp: Path):
        save_weights(model, tmp / "model.npz", dtype=np.float32)
        np.savez(tmp / "optimizer.npz", *[np.asarray(v.numpy()) for v in optimizer.variables])
        (tmp / "state.json").write_text(json.dumps(state, indent=2) + "\n")
    _atomic_dir(final, write)
    for old in _by_step(checkpoints_dir)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _by_step(checkpoints_dir) -> list[Path]:
    """Finished checkpoints (step-N folders), oldest first by their integer step."""
    found = [p for p in Path(checkpoints_dir).glob("step-*") if p.name[5:].isdigit()]
    return sorted(found, key=lambda p: int(p.name[5:]))


def latest_training_state(checkpoints_dir) -> Path | None:
    found = _by_step(checkpoints_dir)
    return found[-1] if found else None


def restore_training_state(path, model, optimizer) -> dict:
    """Load model and optimizer variables from a checkpoint; returns its state.json."""
    path = Path(path)
    missing = [n for n in ("model.npz", "optimizer.npz", "state.json") if not (path / n).is_file()]
    if missing:
        raise CheckpointError(f"{path}: damaged checkpoint, missing {', '.join(missing)}")
    with _reading(path / "model.npz", "damaged checkpoint"):
        load_weights(model, path / "model.npz")
    optimizer.build(model.trainable_variables)
    with _reading(path / "optimizer.npz", "damaged checkpoint"):
        with np.load(path / "optimizer.npz") as data:
            values = [data[f"arr_{i}"] for i in range(len(data.files))]
        if len(values) != len(optimizer.variables):
            raise ValueError(f"{len(values)} arrays for the optimizer's {len(optimizer.variables)} variables")
        for var, value in zip(optimizer.variables, values):
            var.assign(value)
    with _reading(path / "state.json", "damaged checkpoint"):
        return _json_object(path / "state.json")
