"""Corrupted versions of speech: coloured noise, babble, simulated rooms, a telephone channel, gain.

The same primitives build the robustness benchmark's copies of dev-clean-2 (recipes/mini_librispeech/robustness.py,
fixed settings, its own seeds) and the augmented versions of training clips (`corrupt_randomly`: a kind and its
settings drawn per clip from wider ranges, with the training run's seed). All work on float64 samples at RATE_HZ.
Rooms need pyroomacoustics (the `train` extra).
"""
from __future__ import annotations

import numpy as np
from scipy import signal

from asr.audio.load import resample
from asr.config import AUGMENT_KINDS as KINDS

RATE_HZ = 16000


def coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Noise whose power falls as 1 / f ** exponent (0 white, 1 pink, 2 brown): white noise shaped in frequency."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    spectrum[1:] /= f[1:] ** (exponent / 2)
    spectrum[0] = 0
    return np.fft.irfft(spectrum, n)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return coloured_noise(n, 1.0, rng)


def at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """speech + noise scaled so that their power ratio is `snr_db`."""
    power = np.mean(speech ** 2) + 1e-12
    noise = noise * np.sqrt(power / (np.mean(noise ** 2) + 1e-12) / 10 ** (snr_db / 10))
    return speech + noise


def babble(n: int, others: list[np.ndarray], rng: np.random.Generator, talkers: int = 4) -> np.ndarray:
    """`talkers` of the `others` utterances, each looped to n samples from a random offset, each at the same
    level, summed."""
    out = np.zeros(n)
    for k in rng.choice(len(others), talkers, replace=False):
        talker = others[k] / (np.sqrt(np.mean(others[k] ** 2)) + 1e-12)
        start = int(rng.integers(len(talker)))
        out += np.resize(np.roll(talker, -start), n)
    return out


def telephone(speech: np.ndarray, low_hz: float = 300, high_hz: float = 3400) -> tuple[np.ndarray, int]:
    """A telephone channel: band-passed to low_hz-high_hz, at 8 kHz, through 8-bit mu-law (G.711).
    Returns (samples, 8000)."""
    sos = signal.butter(6, [low_hz, high_hz], btype="bandpass", fs=RATE_HZ, output="sos")
    narrow = resample(signal.sosfiltfilt(sos, speech).astype(np.float32), RATE_HZ, 8000).astype(np.float64)
    mu = 255.0
    x = np.clip(narrow, -1, 1)
    coded = np.round((np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu) + 1) / 2 * mu)  # 8 bits: 0..255
    y = coded / mu * 2 - 1
    return np.sign(y) * ((1 + mu) ** np.abs(y) - 1) / mu, 8000


def room_impulse_response(rng: np.random.Generator, rt60_s=(0.3, 0.9),
                          size_m=((3, 8), (3, 6), (2.4, 3.5))) -> np.ndarray:
    """The impulse response from a source to a microphone in a simulated shoebox room (image method): RT60 drawn
    from `rt60_s`, each side from `size_m`, source and microphone anywhere 0.5 m from the walls."""
    import pyroomacoustics as pra
    rt60 = float(rng.uniform(*rt60_s))
    room_dim = [float(rng.uniform(*r)) for r in size_m]
    absorption, max_order = pra.inverse_sabine(rt60, room_dim)
    room = pra.ShoeBox(room_dim, fs=RATE_HZ, materials=pra.Material(absorption), max_order=min(max_order, 20))
    inside = lambda: [float(rng.uniform(0.5, d - 0.5)) for d in room_dim]  # noqa: E731
    room.add_source(inside())
    room.add_microphone(inside())
    room.compute_rir()
    return np.asarray(room.rir[0][0], dtype=np.float64)


def reverb(speech: np.ndarray, rng: np.random.Generator, rt60_s=(0.3, 0.9),
           size_m=((3, 8), (3, 6), (2.4, 3.5)), rooms: list[np.ndarray] | None = None) -> np.ndarray:
    """The speech played in a room, the level kept: a room simulated as `room_impulse_response` draws it, or
    one of `rooms` (impulse responses made before, e.g. where pyroomacoustics is missing)."""
    rir = rooms[int(rng.integers(len(rooms)))] if rooms else room_impulse_response(rng, rt60_s, size_m)
    out = signal.fftconvolve(speech, rir)[:len(speech)]
    return out * np.sqrt(np.mean(speech ** 2) / (np.mean(out ** 2) + 1e-12))


def with_gain(speech: np.ndarray, db: float) -> np.ndarray:
    """The level changed by `db`, clipped at full scale as a recorder clips."""
    return np.clip(speech * 10 ** (db / 20), -1, 1)


# training ranges: wider than the benchmark's fixed settings, and other rooms
TRAIN_SNR_DB = (0.0, 30.0)
TRAIN_RT60_S = (0.2, 1.1)
TRAIN_ROOM_M = ((2.5, 12), (2.5, 9), (2.2, 4.5))
TRAIN_GAIN_DB = (-30.0, 20.0)


def corrupt_randomly(speech: np.ndarray, others: list[np.ndarray], rng: np.random.Generator,
                     kinds=KINDS, rooms: list[np.ndarray] | None = None) -> tuple[np.ndarray, str]:
    """One corrupted version of `speech` for training: a kind drawn from `kinds`, its settings drawn from the
    training ranges. `others`: utterances of other speakers (babble); `rooms`: impulse responses to draw from
    instead of simulating each room (`training_rooms`). Returns (samples at RATE_HZ, kind)."""
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == "babble" and len(others) < 3:
        kind = "noise"
    if kind in ("noise", "reverb+noise"):
        base = reverb(speech, rng, TRAIN_RT60_S, TRAIN_ROOM_M, rooms) if kind == "reverb+noise" else speech
        noise = coloured_noise(len(speech), float(rng.uniform(0, 2)), rng)
        out = at_snr(base, noise, float(rng.uniform(*TRAIN_SNR_DB)))
    elif kind == "babble":
        talkers = int(rng.integers(3, min(7, len(others)) + 1))
        out = at_snr(speech, babble(len(speech), others, rng, talkers), float(rng.uniform(*TRAIN_SNR_DB)))
    elif kind == "reverb":
        out = reverb(speech, rng, TRAIN_RT60_S, TRAIN_ROOM_M, rooms)
    elif kind == "telephone":
        narrow, rate = telephone(speech, float(rng.uniform(200, 400)), float(rng.uniform(3000, 3600)))
        wide = resample(narrow.astype(np.float32), rate, RATE_HZ).astype(np.float64)[:len(speech)]
        out = np.pad(wide, (0, len(speech) - len(wide)))
    elif kind == "gain":
        out = with_gain(speech, float(rng.uniform(*TRAIN_GAIN_DB)))
    else:
        raise ValueError(f"unknown corruption {kind!r}: one of {', '.join(KINDS)}")
    return np.clip(out, -1, 1), kind


def training_rooms(count: int, seed: int, floor_db: float = 60.0) -> list[np.ndarray]:
    """`count` impulse responses of rooms drawn from the training ranges (generator seeded [seed]), each cut where
    what is left of its energy falls `floor_db` below the whole: a bank for `corrupt_randomly(rooms=...)`."""
    rng = np.random.default_rng([seed])
    out = []
    for _ in range(count):
        rir = room_impulse_response(rng, TRAIN_RT60_S, TRAIN_ROOM_M)
        left = np.cumsum((rir ** 2)[::-1])[::-1]  # energy from each sample to the end
        out.append(rir[:max(1, int(np.count_nonzero(left > left[0] * 10 ** (-floor_db / 10))))])
    return out
