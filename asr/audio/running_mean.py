"""A causal mean of log-mel features: what a stream can normalise by while the utterance is still arriving.

The offline models normalise each input by its own mean (decoding.json `utterance_mean`), which removes a
channel's colour and level, but that mean needs the whole input. A stream instead uses, at each frame, an
exponentially weighted mean of the frames so far, started from the training features' mean as if it had been
heard for `PRIOR_S` seconds:

    mean_t = (d^(t+1) * W0 * prior + sum_{s<=t} d^(t-s) x_s) / (d^(t+1) * W0 + sum_{s<=t} d^(t-s)),

with d = exp(-hop / memory_s) and W0 = PRIOR_S / hop. Frames older than `memory_s` fade, so the mean follows
a channel that changes (another microphone, a room), and the prior fades with them. The state after a chunk is
(weighted sum, weight), so any chunking of the same frames gives the same means.
"""
from __future__ import annotations

import numpy as np

PRIOR_S = 1.0  # the training mean counts as this much audio at the start
BLOCK = 1024  # frames per block of the cumulative sums (keeps d^-s within float64 for any input length)


def initial_state(prior: np.ndarray, hop_s: float) -> tuple[np.ndarray, float]:
    """(weighted sum [mels], weight) before the first frame: the prior mean, weighted as PRIOR_S seconds."""
    weight = PRIOR_S / hop_s
    return np.asarray(prior, np.float64) * weight, weight


def running_means(features: np.ndarray, state: tuple[np.ndarray, float], hop_s: float,
                  memory_s: float) -> tuple[np.ndarray, tuple[np.ndarray, float]]:
    """(features [frames, mels], state) -> (each frame's mean over it and the frames before [frames, mels]
    float32, the state after the last frame)."""
    total, weight = np.array(state[0], np.float64), float(state[1])
    decay = float(np.exp(-hop_s / memory_s))
    out = np.empty(np.shape(features), np.float32)
    for start in range(0, len(features), BLOCK):
        x = np.asarray(features[start:start + BLOCK], np.float64)
        n = len(x)
        ages = np.arange(1, n + 1, dtype=np.float64)  # frame t of the block is the (t + 1)th since the state
        kept = decay ** ages  # what is left of the state at each frame
        gain = decay ** -np.arange(n, dtype=np.float64)
        sums = kept[:, None] * total + decay ** (ages - 1)[:, None] * np.cumsum(x * gain[:, None], axis=0)
        weights = kept * weight + decay ** (ages - 1) * np.cumsum(gain)
        out[start:start + n] = sums / weights[:, None]
        total, weight = sums[-1], float(weights[-1])
    return out, (total, weight)
