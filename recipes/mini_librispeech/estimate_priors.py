"""Estimate a model's token priors (asr.model.priors) on training clips and write them beside its weights.

    python recipes/mini_librispeech/estimate_priors.py MODEL_DIR TRAIN.jsonl [--clips 300] [--seed 0]

The prior is the acoustic model's mean posterior per token over every frame of `--clips` training clips drawn at
random (an ensemble's combined posteriors, as decoding reads them). Writes MODEL_DIR/priors.json; decoding.json's
`prior_scale` (tuned by tune_decoding.py --prior-scales) then uses it.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

from tqdm import tqdm

from asr.model import priors
from asr.audio.load import load_audio
from asr.manifest import read_manifest
from asr.transcribe import Transcriber


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("manifest", help="training clips (never dev)")
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    model = Transcriber(args.model_dir, lm=False)
    utterances = read_manifest(args.manifest)
    random.Random(args.seed).shuffle(utterances)
    chosen = utterances[:args.clips]
    prior, frames = priors.estimate(model.log_probs(load_audio(u.audio, model.sample_rate_hz))
                                    for u in tqdm(chosen, desc="posteriors", unit="clip"))
    out = Path(args.model_dir) / priors.PRIORS_FILE
    priors.save(out, prior, model.vocab.symbols(), frames,
                f"{len(chosen)} clips of {Path(args.manifest).name} (seed {args.seed})")
    top = sorted(zip(prior, model.vocab.symbols()), reverse=True)[:4]
    print(f"{out}: {frames} frames; most frequent: " + ", ".join(f"{s!r} {p:.3f}" for p, s in top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
