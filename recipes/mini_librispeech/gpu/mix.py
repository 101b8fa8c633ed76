"""Which training utterances an epoch of train_torch.py draws when synthetic clips join the real ones.

Each real clip once, at one of its versions (speeds, corrupted copies) drawn at random, as asr's trainer draws
them; then, with a synthetic share F > 0, synthetic clips in a fresh random order, each at one of its versions,
for as long as the synthetic audio stays within F of the epoch's audio (synthetic frames <= F / (1 - F) x the
real frames drawn), or all of them when the pool is smaller than that. F = 0 draws the real clips alone, with the
same random numbers as a run without synthetic clips. NumPy only, so that it is tested without PyTorch.
"""
from __future__ import annotations

import numpy as np


def check_share(share: float) -> float:
    """`share` when it is a fraction in [0, 1); ValueError otherwise (1 would ask for endless synthetic audio)."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"synthetic share {share}: give a fraction of the epoch's audio, at least 0 and below 1")
    return share


def synthetic_budget(real_frames: int, share: float) -> float:
    """The synthetic frames an epoch may draw beside `real_frames` of real audio: share / (1 - share) x real."""
    return check_share(share) / (1.0 - share) * real_frames


def epoch_indices(versions: list[list[int]], synthetic: np.ndarray, lengths: np.ndarray, share: float,
                  rng: np.random.Generator) -> np.ndarray:
    """One epoch's utterance indices: the real clips' in clip order, then the synthetic clips' drawn.

    versions[c]: clip c's utterance indices (its speeds and copies); synthetic[c]: whether clip c is synthetic;
    lengths[u]: utterance u's frames.
    """
    if len(versions) != len(synthetic):
        raise ValueError(f"{len(versions)} clips but {len(synthetic)} synthetic flags")
    check_share(share)
    real = np.array([v[rng.integers(len(v))] for v, s in zip(versions, synthetic) if not s], dtype=np.int64)
    pool = [v for v, s in zip(versions, synthetic) if s]
    if share == 0.0 or not pool:
        return real
    budget = synthetic_budget(int(lengths[real].sum()) if len(real) else 0, share)
    order = rng.permutation(len(pool))
    drawn = np.array([pool[c][rng.integers(len(pool[c]))] for c in order], dtype=np.int64)
    fits = np.cumsum(lengths[drawn]) <= budget
    return np.concatenate([real, drawn[fits]])
