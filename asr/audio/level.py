"""Input level: a recording's active speech level, and the gain that brings it to a target.

A model hears its training clips at their recorded levels (LibriSpeech: about -24 dBFS, most within 5 dB); a
quiet microphone 20 dB below that shifts every log-mel value and doubles the error rate. The active level is
the mean power of the frames within `SPAN_DB` of the loud end of the recording (its 95th-percentile frame), so
pauses and a quiet background do not pull it down (in the spirit of ITU-T P.56).
"""
from __future__ import annotations

import numpy as np

from asr.audio.vad import frame_energy_db

FRAME_MS = 30.0
SPAN_DB = 20.0  # frames this far below the loud end still count as speech
MAX_GAIN_DB = 30.0  # at most this much louder or quieter
MIN_LEVEL_DB = -75.0  # quieter than this is no speech to raise: left as it is


def active_level_db(samples: np.ndarray, sample_rate_hz: int) -> float | None:
    """Active speech level in dBFS of float samples in [-1, 1], or None for less than one frame."""
    energies = frame_energy_db(np.asarray(samples, np.float32), max(1, round(sample_rate_hz * FRAME_MS / 1000)))
    if not len(energies):
        return None
    active = energies[energies >= np.percentile(energies, 95) - SPAN_DB]
    return float(10 * np.log10(np.mean(10 ** (active / 10))))


def to_level(samples: np.ndarray, sample_rate_hz: int, target_db: float) -> np.ndarray:
    """The samples scaled so that their active level is `target_db` (by at most MAX_GAIN_DB either way; no change
    for near-silence). Float32, not clipped: the front end takes values beyond full scale."""
    level = active_level_db(samples, sample_rate_hz)
    if level is None or level < MIN_LEVEL_DB:
        return samples
    gain_db = float(np.clip(target_db - level, -MAX_GAIN_DB, MAX_GAIN_DB))
    return (samples * np.float32(10 ** (gain_db / 20))).astype(np.float32, copy=False)
