"""A model directory's noise floor (noise_floor.json): the training clips' per-band floor of mel power, measured at
the model's input level, which decoding.json's `noise_subtraction` subtracts against (asr.audio.noise)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from asr.audio.noise import PERCENTILE
from asr.models import CheckpointError

NOISE_FILE = "noise_floor.json"


def save(path, reference: np.ndarray, level_dbfs: float | None, clips: int, source: str) -> None:
    """Write NOISE_FILE: the training clips' floor (mel power per band), the input level it was measured at (the
    model's decoding level_dbfs; None: as recorded) and what it was measured on."""
    Path(path).write_text(json.dumps({"percentile": PERCENTILE, "level_dbfs": level_dbfs, "clips": int(clips),
                                      "source": source, "mel_power": [float(f"{v:.6g}") for v in reference]},
                                     indent=1) + "\n")


def load(model_dir, level_dbfs: float | None, mels: int) -> np.ndarray:
    """A model directory's training floor, for `mels` bands of inputs brought to `level_dbfs`; a CheckpointError
    naming the file and the problem if it is missing, unreadable, or measured at another level or percentile."""
    path = Path(model_dir) / NOISE_FILE
    try:
        saved = json.loads(path.read_text())
        reference, level, percentile = np.asarray(saved["mel_power"], np.float64), saved["level_dbfs"], \
            saved["percentile"]
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing, and decoding.json's noise_subtraction needs it "
                              "(recipes/mini_librispeech/noise_floor.py writes it)") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: not a usable noise floor ({type(e).__name__}: {e})") from None
    if reference.shape != (mels,) or not np.all(np.isfinite(reference)) or np.any(reference < 0):
        raise CheckpointError(f"{path}: mel_power must be {mels} non-negative numbers, one per mel band")
    if level != level_dbfs or percentile != PERCENTILE:
        raise CheckpointError(f"{path}: measured at level {level} dBFS and percentile {percentile}, but the model "
                              f"decodes at level {level_dbfs} and percentile {PERCENTILE}: measure it again")
    return reference
