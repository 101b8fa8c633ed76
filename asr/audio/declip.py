"""Clipped recordings: a recording driven past full scale has its peaks cut flat, and the flat tops ring through
the spectrum as harmonics the network never heard. Each cut sample is put back on a cubic through the two good
samples either side of its cut (Lagrange interpolation), kept at least at the cut level and at most MAX_RISE
times it.

A recording counts as clipped when at least MIN_SHARE of its samples lie within NEAR_PEAK of its peak: speech
that is not clipped has a handful of samples there, a clipped one percents (the flat tops; resampling and lossy
codecs ripple them a little, hence a margin rather than the exact peak).
"""
from __future__ import annotations

import numpy as np

NEAR_PEAK = 0.98  # a sample at least this share of the peak is taken as cut
MIN_SHARE = 1e-3  # a recording with at least this share of its samples cut is restored
MIN_CUT = 4  # and at least this many (a short input's peak alone is not a cut)
MAX_RISE = 2.0  # a restored sample is at most this many times the cut level


def cut_samples(samples: np.ndarray) -> np.ndarray | None:
    """Indices of the samples cut flat, or None when the recording is not clipped."""
    magnitude = np.abs(samples)
    peak = float(magnitude.max()) if len(samples) else 0.0
    if peak <= 0:
        return None
    cut = np.flatnonzero(magnitude >= NEAR_PEAK * peak)
    return cut if len(cut) >= max(MIN_SHARE * len(samples), MIN_CUT) else None


def declip(samples: np.ndarray) -> np.ndarray:
    """The samples (float, mono) with cut peaks restored; the same array when the recording is not clipped."""
    cut = cut_samples(samples)
    if cut is None:
        return samples
    good = np.ones(len(samples), bool)
    good[cut] = False
    good = np.flatnonzero(good)
    after = np.searchsorted(good, cut)  # good[after - 1] < each cut sample < good[after]
    inside = (after >= 2) & (after + 1 < len(good))  # two good samples on each side
    cut, after = cut[inside], after[inside]
    if not len(cut):
        return samples
    x = np.asarray(samples, np.float64)
    knots = np.stack([good[after - 2], good[after - 1], good[after], good[after + 1]])  # [4, cut]
    values, t = x[knots], cut.astype(np.float64)
    restored = np.zeros(len(cut))
    for k in range(4):
        basis = np.ones(len(cut))
        for m in range(4):
            if m != k:
                basis *= (t - knots[m]) / (knots[k] - knots[m])
        restored += values[k] * basis
    level, sign = np.abs(x[cut]), np.sign(x[cut])
    rise = np.where(np.sign(restored) == sign, np.abs(restored), 0.0)
    out = x.copy()
    out[cut] = sign * np.clip(rise, level, MAX_RISE * level)
    return out.astype(samples.dtype, copy=False)
