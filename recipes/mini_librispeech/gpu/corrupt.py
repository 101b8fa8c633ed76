"""Corrupted copies of training clips for train_torch.py's features (multi-condition training on the GPU machine).

asr.training.augment.corrupt_randomly as `asr train --augment-copies` uses it, with two stand-ins for what the
GPU machine lacks: the rooms come from a bank of impulse responses made here (`write_rooms`, by
pyroomacoustics; export_data.py --rooms), and babble from a pool of other speakers' clips of the same audio
part. NumPy and SciPy only (no PyTorch), so that it is tested on machines without it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from asr.training.augment import KINDS, RATE_HZ, corrupt_randomly, training_rooms

ROOMS_FILE = "rooms.npz"
BABBLE_OTHERS = 8  # other speakers' clips offered to each copy's babble (as asr.training.data does)


def write_rooms(path, count: int, seed: int) -> int:
    """`count` training rooms' impulse responses (float16, one array with offsets) -> path; returns its bytes."""
    rooms = training_rooms(count, seed)
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rooms])]).astype(np.int64)
    np.savez(path, samples=np.concatenate(rooms).astype(np.float16), offsets=offsets, rate_hz=RATE_HZ)
    return Path(path).stat().st_size


def read_rooms(path) -> list[np.ndarray]:
    """The impulse responses `write_rooms` wrote, float64."""
    with np.load(path) as f:
        if int(f["rate_hz"]) != RATE_HZ:
            raise ValueError(f"{path}: rooms at {int(f['rate_hz'])} Hz, the augmentation works at {RATE_HZ} Hz")
        samples, offsets = f["samples"].astype(np.float64), f["offsets"]
    return [samples[a:b] for a, b in zip(offsets[:-1], offsets[1:])]


def speaker(utt_id: str) -> str:
    """LibriSpeech's speaker of an utterance id (SPEAKER-CHAPTER-NUMBER)."""
    return utt_id.split("-")[0]


def corrupted_copies(audio: np.ndarray, utt_id: str, index: int, copies: int, seed: int,
                     pool: list[tuple[str, np.ndarray]], rooms: list[np.ndarray], kinds=KINDS) -> list[np.ndarray]:
    """`copies` corrupted versions (float32, RATE_HZ) of one clip, copy k drawn from the generator seeded
    [seed, k, index] (`index`: the clip's place among the training clips, the same in every audio part);
    babble from the clips of `pool` ([(speaker, samples)]) that another speaker says."""
    others = [samples for who, samples in pool if who != speaker(utt_id)]
    speech = np.asarray(audio, dtype=np.float64)
    out = []
    for k in range(copies):
        rng = np.random.default_rng([seed, k, index])
        chosen = rng.choice(len(others), min(BABBLE_OTHERS, len(others)), replace=False) if others else []
        samples, _ = corrupt_randomly(speech, [others[i] for i in chosen], rng, tuple(kinds), rooms)
        out.append(samples.astype(np.float32))
    return out
