"""Writing model directories (asr.model.directory reads them), and training-state checkpoints.

A training-state checkpoint (what resuming needs): checkpoints/step-NNNNNNN/ holding model.npz (float32),
optimizer.npz and state.json. Every directory is written under a temporary name and renamed into place, so a
run killed at any moment leaves the previous checkpoint whole.
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
from pathlib import Path

import numpy as np

from asr import config as config_lib
from asr.decoding.text import Vocabulary
from asr.model.directory import (  # noqa: F401  (its API)
    MODEL_FILES,
    CheckpointError,
    check_model_dir,
    json_object,
    read_config,
    read_metrics,
    read_vocabulary,
)
from asr.model.directory import reading as _reading
from asr.training.keras_model import AcousticModel, KerasEnsemble, build_model, load_weights, save_weights

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


def save_model_dir(path, cfg: config_lib.Config, vocab: Vocabulary, model: AcousticModel,
                   metrics: dict | None = None) -> None:
    def write(tmp: Path):
        cfg.save(tmp / "config.json")
        vocab.save(tmp / "tokens.txt")
        save_weights(model, tmp / "model.npz")
        if metrics is not None:
            (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    _atomic_dir(Path(path), write)


def load_model_dir(path) -> tuple[config_lib.Config, Vocabulary, AcousticModel]:
    """Config, vocabulary and a float32 Keras model with its weights, from a model directory (its own network
    only: load_keras adds the members an ensemble.json names)."""
    cfg, model = load_network(path)
    return cfg, read_vocabulary(path, cfg), model


def load_network(path) -> tuple[config_lib.Config, AcousticModel]:
    """Config and a float32 Keras model with its weights, from a model directory, without its vocabulary."""
    cfg = read_config(path)
    with _reading(Path(path) / "config.json", "cannot load model"):
        model = build_model(cfg.model, cfg.features.num_mels)
    with _reading(Path(path) / "model.npz", "cannot load model"):
        load_weights(model, Path(path) / "model.npz")
    return cfg, model


def load_keras(path) -> tuple[config_lib.Config, Vocabulary, "AcousticModel | KerasEnsemble"]:
    """A model directory's acoustic model in TensorFlow: its network, or a KerasEnsemble of it and the members
    its ensemble.json names (checked to fit by asr.model.ensemble, as for inference)."""
    from asr.model import ensemble

    cfg, vocab, network = load_model_dir(path)
    found = ensemble.fitting_members(path, cfg)  # the same checks (and errors) as inference
    if len(found) == 1:
        return cfg, vocab, network
    return cfg, vocab, KerasEnsemble([network] + [load_network(p)[1] for p, _ in found[1:]], [w for _, w in found])


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
        return json_object(path / "state.json")
