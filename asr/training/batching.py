"""Length-bucketed batches and the CTC length bound: NumPy only, so that code without TensorFlow (the PyTorch
trainer of recipes/mini_librispeech/gpu/) batches exactly as asr.training.train does. asr.training.data re-exports both."""
from __future__ import annotations

import numpy as np


def min_ctc_frames(ids) -> int:
    """Fewest output frames CTC needs for a label: one per token plus a blank between repeated tokens."""
    ids = list(ids)
    return len(ids) + sum(a == b for a, b in zip(ids, ids[1:]))


def make_batches(lengths, batch_frames: int, max_batch_size: int, seed) -> list[np.ndarray]:
    """Length-bucketed batches of indices, in a shuffled order fixed by `seed` (an int, or a NumPy Generator that
    the draws continue from).

    Clips are sorted by length (ties broken at random) and cut greedily so that
    batch size x longest clip <= batch_frames (a clip longer than that gets a batch of its own).
    """
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches, current = [], []
    for i in order:
        if current and (len(current) + 1) * lengths[i] > batch_frames or len(current) >= max_batch_size:
            batches.append(np.array(current))
            current = []
        current.append(i)
    if current:
        batches.append(np.array(current))
    rng.shuffle(batches)
    return batches
