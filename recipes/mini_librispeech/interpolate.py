"""A network between two: every weight of a fine-tuned network moved back toward the network it was fine-tuned from,
`(1 - alpha) * base + alpha * tuned` (weight-space ensembling, WiSE-FT: Wortsman et al. 2022, "Robust fine-tuning
of zero-shot models"). One network, so it decodes as fast as either; fine-tuned from the base, the two lie in one
basin, where the blend tends to keep what each is good at.

    python recipes/mini_librispeech/interpolate.py BASE_DIR TUNED_DIR --alpha 0.5 --out OUT_DIR

OUT_DIR is a copy of the model directory BASE_DIR (its ensemble members, LM, decoding settings) whose own
model.npz is the blend of BASE_DIR's and TUNED_DIR's (same configuration, same shapes); its decoding tables are
left out (they are rebuilt) and its token priors are for the old weights: re-estimate them (estimate_priors.py).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

WEIGHTS = "model.npz"


def blend(base: dict[str, np.ndarray], tuned: dict[str, np.ndarray], alpha: float) -> dict[str, np.ndarray]:
    """The arrays of two model.npz files (`w000`, ... and `names`) blended, each in its stored dtype."""
    if sorted(base) != sorted(tuned):
        raise ValueError(f"the networks hold different arrays: {sorted(set(base) ^ set(tuned))}")
    out = {}
    for key in base:
        a, b = base[key], tuned[key]
        if key == "names":
            if list(a) != list(b):
                raise ValueError("the networks' weights have different names")
            out[key] = a
            continue
        if a.shape != b.shape:
            raise ValueError(f"{key}: shapes {a.shape} and {b.shape} differ")
        mixed = (1.0 - alpha) * a.astype(np.float64) + alpha * b.astype(np.float64)
        out[key] = mixed.astype(a.dtype)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="model directory of the network fine-tuning started from")
    parser.add_argument("tuned", type=Path, help="model directory of the fine-tuned network (a run's best/)")
    parser.add_argument("--alpha", type=float, required=True, help="0: the base, 1: the fine-tuned network")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not 0.0 <= args.alpha <= 1.0:
        parser.error(f"--alpha must be in [0, 1], got {args.alpha}")
    for folder in (args.base, args.tuned):
        for name in ("config.json", WEIGHTS):
            if not (folder / name).is_file():
                print(f"interpolate: {folder}: no {name} (not a model directory)", file=sys.stderr)
                return 1
    differs = _differing_sections(args.base, args.tuned)
    if differs:
        print(f"interpolate: {args.base} and {args.tuned} are not the same network ({differs} differ)",
              file=sys.stderr)
        return 1
    with np.load(args.base / WEIGHTS) as base, np.load(args.tuned / WEIGHTS) as tuned:
        try:
            mixed = blend(dict(base), dict(tuned), args.alpha)
        except ValueError as e:
            print(f"interpolate: {e}", file=sys.stderr)
            return 1
    if args.out.exists():
        shutil.rmtree(args.out)
    shutil.copytree(args.base, args.out, ignore=shutil.ignore_patterns("tables"))
    np.savez(args.out / WEIGHTS, **mixed)
    print(f"{args.out}: {1 - args.alpha:g} x {args.base} + {args.alpha:g} x {args.tuned}")
    return 0


def _differing_sections(base: Path, tuned: Path) -> str:
    """'' where the two config.json files agree on the network and its input (`model` but its dropout, and
    `features`), else the names of the sections that differ."""
    a, b = (_network(json.loads((d / "config.json").read_text())) for d in (base, tuned))
    return " and ".join(k for k in a if a[k] != b[k])


def _network(cfg: dict) -> dict:
    return {k: {n: v for n, v in cfg.get(k, {}).items() if n != "dropout"} for k in ("model", "features")}


if __name__ == "__main__":
    sys.exit(main())
