"""Measure a model's training noise floor (asr.audio.noise, asr.model.noise_floor) on training clips and write it beside its weights.

    python recipes/mini_librispeech/noise_floor.py MODEL_DIR TRAIN.jsonl [--clips 300] [--seed 0]

Each of `--clips` training clips drawn at random is brought to the model's input level (decoding.json's
`level_dbfs`) and its mel power computed as decoding computes it; the floor is the per-band median of
the clips' floors. Writes MODEL_DIR/noise_floor.json, which decoding.json's `noise_subtraction` needs.
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
from tqdm import tqdm

from asr.audio import noise
from asr.audio.features import mel_power
from asr.audio.level import to_level
from asr.audio.load import load_audio
from asr.manifest import read_manifest
from asr.model import directory, noise_floor
from asr.recognizer import DecodingConfig


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("manifest", help="training clips (never dev)")
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    features = directory.read_config(args.model_dir).features
    level = DecodingConfig.of_model(args.model_dir).level_dbfs
    utterances = read_manifest(args.manifest)
    random.Random(args.seed).shuffle(utterances)
    chosen = utterances[:args.clips]

    def powers():
        for u in tqdm(chosen, desc="noise floors", unit="clip", disable=None):
            samples = load_audio(u.audio, features.sample_rate_hz)
            if level is not None:
                samples = to_level(samples, features.sample_rate_hz, level)
            yield mel_power(samples, features)

    reference = noise.reference_floor(powers())
    out = args.model_dir / noise_floor.NOISE_FILE
    noise_floor.save(out, reference, level, len(chosen),
                         f"{len(chosen)} clips of {Path(args.manifest).name} (seed {args.seed})")
    db = 10 * np.log10(np.maximum(reference, 1e-20))
    print(f"{out}: {len(chosen)} clips; floor {db.max():.1f} dB (lowest band) to {db.min():.1f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
