"""The active speech level (asr.audio.level) of a manifest's clips: the level a model's decoding.json
`level_dbfs` brings its inputs to is the median of its training clips'.

    python recipes/mini_librispeech/input_level.py exp/mini_librispeech/data/train.jsonl [--every 8]

prints the median and the 10th and 90th percentiles in dBFS over every `--every`th clip.
"""
from __future__ import annotations

import argparse

import numpy as np
from tqdm import tqdm

from asr.audio.level import active_level_db
from asr.audio.load import load_audio
from asr.manifest import read_manifest

RATE_HZ = 16000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest")
    parser.add_argument("--every", type=int, default=8, help="every Nth clip of the manifest (default 8)")
    args = parser.parse_args(argv)
    rows = read_manifest(args.manifest)[::args.every]
    levels = [active_level_db(load_audio(r.audio, RATE_HZ), RATE_HZ) for r in tqdm(rows, unit="clip", disable=None)]
    levels = np.array([v for v in levels if v is not None])
    p10, p50, p90 = np.percentile(levels, [10, 50, 90])
    print(f"{args.manifest}: {len(levels)} clips, active level median {p50:.1f} dBFS (10th {p10:.1f}, 90th {p90:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
