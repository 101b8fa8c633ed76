"""Token priors for CTC decoding with a language model: divide the acoustic model's posteriors by a power of how
often it emits each token (blank, space and each phone), `log p(k | x) - scale * log prior(k)`, renormalised per
frame.

A CTC model's posteriors are peaked on the blank and on frequent tokens; an LM then weighs words against
posteriors that carry the training data's token frequencies twice. Scaling them out (a hybrid-style prior
correction) lets rarer phones win where the acoustics are close. The prior of a model is the mean posterior
over training frames (`estimate`), written beside the weights as `priors.json`; the scale is a decoding setting
(decoding.json's `prior_scale`, tuned on held-back speakers) and applies to the beam search only: greedy
decoding reads the posteriors as they are.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from asr.model.network import log_softmax
from asr.models import CheckpointError

PRIORS_FILE = "priors.json"


def estimate(log_probs: Iterable[np.ndarray]) -> tuple[np.ndarray, int]:
    """(mean posterior per token over all frames, number of frames) of `[frames, tokens]` log posteriors."""
    total, frames = None, 0
    for lp in log_probs:
        lp = np.asarray(lp, np.float64)
        if lp.ndim != 2:
            raise ValueError(f"log posteriors must be [frames, tokens], got shape {lp.shape}")
        if not len(lp):
            continue
        summed = np.exp(lp).sum(axis=0)
        total = summed if total is None else total + summed
        frames += len(lp)
    if total is None:
        raise ValueError("no frames to estimate priors from")
    return total / total.sum(), frames


def save(path, prior: np.ndarray, tokens: list[str], frames: int, source: str) -> None:
    """Write `priors.json`: the tokens in model order, their prior, and what they were estimated on."""
    prior = np.asarray(prior, np.float64)
    if len(prior) != len(tokens):
        raise ValueError(f"{len(prior)} priors for {len(tokens)} tokens")
    Path(path).write_text(json.dumps({"tokens": list(tokens), "prior": [float(f"{p:.6g}") for p in prior],
                                      "frames": int(frames), "source": source}, indent=1) + "\n")


def load(path, tokens: list[str]) -> np.ndarray:
    """The log prior of a `priors.json` for a model with these tokens; a CheckpointError naming the file and the
    problem if it is unreadable, for other tokens, or not a distribution."""
    path = Path(path)
    try:
        saved = json.loads(path.read_text())
        names, prior = saved["tokens"], np.asarray(saved["prior"], np.float64)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: not a usable priors file ({type(e).__name__}: {e})") from None
    if list(names) != list(tokens):
        raise CheckpointError(f"{path}: written for tokens {names[:5]}... ({len(names)}), the model has "
                              f"{tokens[:5]}... ({len(tokens)})")
    if prior.shape != (len(tokens),) or not np.all(prior > 0) or abs(prior.sum() - 1.0) > 1e-3:
        raise CheckpointError(f"{path}: priors must be {len(tokens)} positive numbers summing to 1")
    return np.log(prior)


def apply(log_probs: np.ndarray, log_prior: np.ndarray, scale: float) -> np.ndarray:
    """`log_probs - scale * log_prior`, renormalised to a log-softmax per frame (float32 `[frames, tokens]`)."""
    return log_softmax(np.asarray(log_probs, np.float64) - scale * log_prior).astype(np.float32)
