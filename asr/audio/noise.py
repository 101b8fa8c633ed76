"""Steady background noise (a fan, a hum, a hiss, a car): its power over what the network heard, subtracted.

Noise adds its power to every mel band of every frame. A recording's noise floor in a band is a low percentile
(PERCENTILE) of the band's mel power over the recording's frames; the training clips' floor (`reference_floor`,
the median of theirs at the model's input level, kept in a model directory by asr.model.noise_floor) is what the
network heard in their pauses. Where a recording's
floor stands above the training clips', `over` times the excess is taken from each frame's power, never going
below the training floor (power spectral subtraction with over-subtraction and a floor, as in Berouti, Schwartz
and Makhoul 1979, here on mel power and against the training data's floor rather than zero).

Only steady noise can be subtracted so: talkers in the background (babble) rise and fall as the speech does, and
taking their mean power away takes the speech with it. `steadiness` tells them apart by the quietest frames: in
steady noise a band's power varies by about 3.5 dB (standard deviation in dB) over the quietest fifth of the
frames, in babble of a few talkers by 8-9 dB, in a clean recording's pauses by about 5 dB. The subtraction is
scaled down from STEADY_DB to UNSTEADY_DB of that spread and is off beyond it.
"""
from __future__ import annotations

import numpy as np

PERCENTILE = 10.0  # a band's floor: this percentile of its mel power over the frames
QUIET_FRACTION = 0.2  # the frames whose spread tells steady noise from babble: this quietest fraction
STEADY_DB = 4.5  # at most this spread: all of the excess is subtracted
UNSTEADY_DB = 7.0  # at least this spread: nothing is


def floor(power: np.ndarray) -> np.ndarray:
    """Per-band noise floor [mels] of mel power [frames, mels]."""
    return np.percentile(power, PERCENTILE, axis=0)


def steadiness(power: np.ndarray) -> float:
    """1.0 for steady noise, 0.0 for noise that rises and falls (babble), between for in between: from the median
    over bands of the standard deviation (in dB) of the quietest QUIET_FRACTION of the frames of mel power
    [frames, mels]."""
    total = power.sum(axis=1)
    quiet = power[total <= np.percentile(total, 100 * QUIET_FRACTION)]
    if len(quiet) < 2:
        return 0.0
    spread = float(np.median(np.std(10 * np.log10(np.maximum(quiet, 1e-20)), axis=0)))
    return float(np.clip((UNSTEADY_DB - spread) / (UNSTEADY_DB - STEADY_DB), 0.0, 1.0))


def subtract(power: np.ndarray, reference: np.ndarray, over: float) -> np.ndarray:
    """Mel power [frames, mels] with `over` times the steady part of its noise floor's excess over `reference` (the
    training clips' floor, mel power [mels]) taken away; the same array when there is nothing to take."""
    if len(power) < 2:
        return power
    noise = floor(power)
    excess = steadiness(power) * np.maximum(noise - reference, 0.0)
    if not excess.any():
        return power
    return np.maximum(power - over * excess, np.minimum(noise, reference))


def reference_floor(powers) -> np.ndarray:
    """The training clips' floor: the per-band median of the floors of an iterable of mel power arrays."""
    floors = [floor(p) for p in powers if len(p)]
    if not floors:
        raise ValueError("no clips with frames to take a noise floor from")
    return np.median(np.stack(floors), axis=0)
