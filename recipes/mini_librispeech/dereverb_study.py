"""Dereverberation before the network, a study (not in the shipped decoding): single-channel weighted prediction
error (WPE; Nakatani et al. 2010, Yoshioka and Nakatani 2012) in the front end's own short-time spectrum.

    python recipes/mini_librispeech/dereverb_study.py MANIFEST OUT [--model DIR] [--taps 10] [--delay 3]
        [--iterations 3]

A room's late echoes are, in each frequency, a linear mix of what was said a little earlier. WPE predicts each
frame's spectrum from the frames `delay` to `delay + taps - 1` before it (10 ms apart), weighting frames by the
inverse of their estimated power, and subtracts the prediction; `--iterations` re-estimates the power. The
result replaces asr.audio.features.mel_power's power spectrum; everything else decodes as the model's
decoding.json says, and OUT is written as `asr evaluate --out` writes it.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from asr.audio.features import _filterbank, fft_length, frames_of, hann_window, window_samples
from asr.evaluate import evaluate
from asr.transcribe import Transcriber


def wpe_power(spectrum: np.ndarray, taps: int, delay: int, iterations: int) -> np.ndarray:
    """Dereverberated power [frames, bins] of a complex spectrum [frames, bins] (real arithmetic throughout:
    NumPy's stacked complex products are many times slower than four real ones)."""
    frames, bins = spectrum.shape
    xr, xi = np.ascontiguousarray(spectrum.real.T), np.ascontiguousarray(spectrum.imag.T)  # [bins, frames]
    yr, yi = np.zeros((bins, taps, frames)), np.zeros((bins, taps, frames))  # the delayed frames
    for k in range(taps):
        shift = delay + k
        yr[:, k, shift:], yi[:, k, shift:] = xr[:, :frames - shift], xi[:, :frames - shift]
    yr_t, yi_t = yr.transpose(0, 2, 1), yi.transpose(0, 2, 1)
    dr, di = xr, xi
    for _ in range(iterations):
        power = dr ** 2 + di ** 2
        weight = np.maximum(power, 1e-8 * power.max())[:, None, :]
        wr, wi = yr / weight, yi / weight
        covariance = (wr @ yr_t + wi @ yi_t) + 1j * (wi @ yr_t - wr @ yi_t)  # [bins, taps, taps]
        correlation = (np.einsum("fkt,ft->fk", wr, xr) + np.einsum("fkt,ft->fk", wi, xi)) + 1j * (
            np.einsum("fkt,ft->fk", wi, xr) - np.einsum("fkt,ft->fk", wr, xi))
        load = 1e-6 * np.trace(covariance, axis1=1, axis2=2).real / taps + 1e-12
        g = np.linalg.solve(covariance + load[:, None, None] * np.eye(taps), correlation[:, :, None])[:, :, 0]
        dr = xr - (np.einsum("fk,fkt->ft", g.real, yr) + np.einsum("fk,fkt->ft", g.imag, yi))
        di = xi - (np.einsum("fk,fkt->ft", g.real, yi) - np.einsum("fk,fkt->ft", g.imag, yr))
    return (dr ** 2 + di ** 2).T


class Dereverberating(Transcriber):
    def __init__(self, model_dir, taps: int, delay: int, iterations: int):
        super().__init__(model_dir)
        self.taps, self.delay, self.iterations = taps, delay, iterations

    def front_end(self, samples: np.ndarray) -> np.ndarray:
        cfg = self.config.features
        frames = frames_of(np.ascontiguousarray(samples, np.float64), cfg) * hann_window(window_samples(cfg))
        spectrum = np.fft.rfft(frames, n=fft_length(cfg), axis=1)
        power = (wpe_power(spectrum, self.taps, self.delay, self.iterations)
                 if len(spectrum) > self.taps + self.delay else np.abs(spectrum) ** 2)
        return power @ _filterbank(cfg)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest")
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", default="asr/models/english-phones")
    parser.add_argument("--taps", type=int, default=10)
    parser.add_argument("--delay", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args(argv)
    evaluate(Dereverberating(args.model, args.taps, args.delay, args.iterations), args.manifest, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
