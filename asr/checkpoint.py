"""Directories that describe themselves.

A model directory (what inference needs, nothing else):
    config.json   the resolved Config
    tokens.txt    the vocabulary, blank first
    model.npz     weights (float16), see model.save_weights
    metrics.json  optional: measured scores and how they were measured
    lexicon.txt   optional: the closed list of words the decoder may output (one per line)

A training-state checkpoint (what resuming needs): checkpoints/step-NNNNNNN/ holding model.npz (float32),
optimizer.npz and state.json. Every directory is written under a temporary name and renamed into place, so a
run killed at any moment leaves the previous checkpoint whole.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from asr import config as config_lib
from asr.models import read_metrics  # noqa: F401  (part of this module's API)
from asr.model import AcousticModel, build_model, load_weights, save_weights
from asr.text import Vocabulary

MODEL_FILES = ("config.json", "tokens.txt", "model.npz")


class CheckpointError(Exception):
    """A model or checkpoint directory that is missing files or does not load."""


def _atomic_dir(final: Path, write) -> None:
    """Call write(tmp_dir), then swap tmp_dir into place as `final`."""
    final = Path(final)
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    old = final.with_name(f".{final.name}.old")
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


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
    """Config, vocabulary and a float32 model with its weights, from a model directory."""
    path = check_model_dir(path)
    try:
        cfg = config_lib.from_dict(json.loads((path / "config.json").read_text()))
        vocab = Vocabulary.load(path / "tokens.txt")
        model = build_model(cfg.model, cfg.features.num_mels)
        load_weights(model, path / "model.npz")
    except (ValueError, KeyError, OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: cannot load model ({e})") from None
    return cfg, vocab, model


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
    try:
        load_weights(model, path / "model.npz")
    except ValueError as e:
        raise CheckpointError(str(e)) from None
    optimizer.build(model.trainable_variables)
    with np.load(path / "optimizer.npz") as data:
        values = [data[f"arr_{i}"] for i in range(len(data.files))]
    if len(values) != len(optimizer.variables):
        raise CheckpointError(f"{path}: optimizer state does not match the model")
    for var, value in zip(optimizer.variables, values):
        var.assign(value)
    return json.loads((path / "state.json").read_text())
