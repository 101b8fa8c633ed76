"""Several acoustic models run as one: the weighted mean of their log posteriors, renormalised per frame.

A model directory is an ensemble when an ensemble.json sits beside its config.json:

    {"weight": 0.5, "members": [{"dir": "run-C", "weight": 0.5}]}

"weight" is the directory's own network's share; each member is another model directory (config.json,
tokens.txt, model.npz), named relative to this one. Shares must be positive; they are scaled to sum to one.
Every member must share the front end (the "features" section of config.json), the tokens (tokens.txt) and the
time subsampling, so that their frames line up; layers, units and cells may differ. Everything else (decoding,
language model, pronunciations) is the directory's own.

Averaging log posteriors (a product of the networks' distributions) of networks trained apart is the classic
ensemble for CTC: their errors differ, their alignments mostly agree. On Mini LibriSpeech two 4 x BiLSTM-320
phone models trained from different starts gave a lower phone error than either (recipes/mini_librispeech/
RESULTS.md). The cost is one forward pass per member.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from asr.model.network import NumpyAcousticModel, log_softmax
from asr.models import CheckpointError

ENSEMBLE_FILE = "ensemble.json"


def members(model_dir) -> list[tuple[Path, float]]:
    """[(model directory, share)], the directory itself first, shares summing to one; [(model_dir, 1.0)] when it
    has no ensemble.json. Raises CheckpointError (one line naming the file) for a malformed one."""
    model_dir = Path(model_dir)
    file = model_dir / ENSEMBLE_FILE
    if not file.is_file():
        return [(model_dir, 1.0)]
    try:
        spec = json.loads(file.read_text())
        found = [(model_dir, spec["weight"])] + [(model_dir / m["dir"], m["weight"]) for m in spec["members"]]
    except (ValueError, KeyError, TypeError, OSError) as e:
        raise CheckpointError(f"{file}: not an ensemble description ({type(e).__name__}: {e}); expected "
                              '{"weight": W, "members": [{"dir": "DIR", "weight": W}, ...]}') from None
    if len(found) < 2:
        raise CheckpointError(f"{file}: an ensemble needs at least one member besides the directory's own network")
    if not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w > 0 and np.isfinite(w)
               for _, w in found):
        raise CheckpointError(f"{file}: every weight must be a positive number, got {[w for _, w in found]}")
    total = float(sum(w for _, w in found))
    return [(path, w / total) for path, w in found]


def weights_bytes(model_dir) -> int:
    """Size of a model directory's weights on disk: its model.npz and every member's."""
    return sum((path / "model.npz").stat().st_size for path, _ in members(model_dir))


def load(model_dir, cfg, network: NumpyAcousticModel | None = None):
    """The NumPy acoustic model of a model directory whose config is `cfg` (and whose own network is `network`,
    loaded here when not given): that network, or a NumpyEnsemble of it and the members its ensemble.json
    names. Raises CheckpointError for a member that does not load or does not fit."""
    from asr.model import directory as model_dirs

    found = fitting_members(model_dir, cfg)
    if len(found) == 1:
        return network if network is not None else model_dirs.load_network(model_dir)[1]
    # one thread a network: reading and converting the weights runs mostly outside the GIL (zlib, numpy)
    paths = [path for path, _ in found[1 if network is not None else 0:]]
    with ThreadPoolExecutor(max_workers=len(paths)) as pool:
        loaded = [n for _, n in pool.map(model_dirs.load_network, paths)]
    return NumpyEnsemble(([network] if network is not None else []) + loaded, [w for _, w in found])


def fitting_members(model_dir, cfg) -> list[tuple[Path, float]]:
    """members(model_dir), each member checked to fit the directory's own network (config `cfg`): the same front
    end, tokens and time subsampling. Raises CheckpointError naming a member that does not."""
    from asr.model import directory as model_dirs

    found = members(model_dir)
    tokens = _tokens(Path(model_dir)) if len(found) > 1 else None
    for path, _ in found[1:]:
        member_cfg = model_dirs.read_config(path)
        problem = _mismatch(cfg, member_cfg) or ("" if _tokens(path) == tokens else "other tokens (tokens.txt)")
        if problem:
            raise CheckpointError(f"{path}: does not fit the ensemble of {model_dir}: {problem}")
    return found


def _tokens(model_dir: Path) -> list[str]:
    return (model_dir / "tokens.txt").read_text(encoding="utf-8").splitlines()


def _mismatch(cfg, other) -> str:
    if other.features != cfg.features:
        return "another front end (config.json's features)"
    if other.model.tokens != cfg.model.tokens or other.model.num_tokens != cfg.model.num_tokens:
        return (f"{other.model.num_tokens} tokens ({other.model.tokens}), not {cfg.model.num_tokens} "
                f"({cfg.model.tokens})")
    if (other.model.stack_frames, max(other.model.conv_stride, 1)) != (cfg.model.stack_frames,
                                                                       max(cfg.model.conv_stride, 1)):
        return f"another time subsampling ({other.model.subsampling}, not {cfg.model.subsampling})"
    return ""


def combine(log_probs: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """Weighted sum of [frames, tokens] log posteriors, renormalised to a log-softmax per frame (float32)."""
    return log_softmax(sum(np.float32(w) * lp for w, lp in zip(weights, log_probs))).astype(np.float32)


class NumpyEnsemble:
    """NumPy acoustic models (asr.model.network) called as one: features [frames, mels] -> log posteriors.
    (asr.training.keras_model.KerasEnsemble is the same in TensorFlow, for export.)"""

    def __init__(self, networks, weights: list[float]):
        self.networks, self.shares = list(networks), list(weights)
        self.parameters = sum(network.parameters for network in self.networks)

    def __call__(self, features: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        return combine([network(features, mean) for network in self.networks], self.shares)


def training_mean(model) -> np.ndarray:
    """The training features' mean [mels] a network normalises by (an ensemble's: its networks' weighted mean)."""
    if isinstance(model, NumpyEnsemble):
        return sum(np.float64(w) * network.mean for w, network in zip(model.shares, model.networks)) / sum(model.shares)
    return model.mean
