"""Voice activity from frame energy: which frames hold speech, against a noise floor that follows the recording.

A frame is speech when its energy is `margin_db` above the noise floor and above `min_speech_db` (dB relative to
full scale). The noise floor is a low percentile of the frame energies of the last `floor_window_s` seconds, so it
follows a recording's background level without a calibration step, and a quiet stretch between words sets it.
`EnergyVad` is fed samples in blocks of any size and returns one decision per completed frame, so the same
detector serves whole files and live streams.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

ENERGY_EPS = 1e-10  # keeps log10 finite on digital silence (-100 dBFS)


@dataclass(frozen=True)
class VadConfig:
    frame_ms: float = 30.0
    margin_db: float = 12.0  # speech is at least this far above the noise floor
    min_speech_db: float = -55.0  # frames quieter than this (dBFS) are never speech
    floor_window_s: float = 10.0  # the noise floor looks back this far
    floor_percentile: float = 2.0  # near the minimum: the quietest moments of speech are the background


def frame_energy_db(samples: np.ndarray, frame_len: int) -> np.ndarray:
    """Mean-square energy in dBFS of each whole frame of float samples [samples] -> [frames]."""
    frames = len(samples) // frame_len
    power = np.square(samples[:frames * frame_len].reshape(frames, frame_len), dtype=np.float64).mean(axis=1)
    return 10 * np.log10(power + ENERGY_EPS)


class EnergyVad:
    """Streaming energy detector: `vad(block)` -> bool [completed frames], speech True."""

    def __init__(self, sample_rate_hz: int, cfg: VadConfig = VadConfig()):
        self.cfg = cfg
        self.frame_len = max(1, round(sample_rate_hz * cfg.frame_ms / 1000))
        self.frame_s = self.frame_len / sample_rate_hz
        self._rest = np.zeros(0, np.float32)
        self._history: deque[float] = deque(maxlen=max(1, round(cfg.floor_window_s / self.frame_s)))

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        return self.energies_and_decisions(samples)[1]

    def energies_and_decisions(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Like calling the detector, but also returns each completed frame's energy in dBFS."""
        samples = np.concatenate([self._rest, np.asarray(samples, np.float32)])
        energies = frame_energy_db(samples, self.frame_len)
        self._rest = samples[len(energies) * self.frame_len:]
        return energies, np.array([self._decide(e) for e in energies.tolist()], dtype=bool)

    @property
    def noise_floor_db(self) -> float | None:
        return float(np.percentile(self._history, self.cfg.floor_percentile)) if self._history else None

    def _decide(self, energy_db: float) -> bool:
        self._history.append(energy_db)
        threshold = max(self.cfg.min_speech_db, self.noise_floor_db + self.cfg.margin_db)
        return energy_db >= threshold
