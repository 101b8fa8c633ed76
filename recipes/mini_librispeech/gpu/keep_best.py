"""After several train_torch.py runs side by side (on_gpu.sh --runs): fit what comes back into the GPU machine's
return limit (at most 8 files). The run with the lowest validation token error keeps its folder (weights, run.json,
train_log.jsonl); every other run's weights move to KEEP (on the machine: a next call while it is warm can fetch
them), and their run.json, train_log.jsonl and every NAME.log go into OUT/others.tar.

usage: python keep_best.py OUT [--keep /tmp/asr-runs]
"""
from __future__ import annotations

import argparse
import json
import shutil
import tarfile
from pathlib import Path


def best_errors(out: Path) -> dict[Path, float]:
    """{run folder: its lowest valid token error} over OUT's runs that validated at least once."""
    runs = {}
    for log in sorted(out.glob("*/train_log.jsonl")):
        errors = [json.loads(line).get("valid_cer") for line in log.read_text().splitlines() if line.strip()]
        errors = [e for e in errors if e is not None]
        if errors:
            runs[log.parent] = min(errors)
    return runs


def keep_best(out: Path, keep: Path) -> Path | None:
    """Leave OUT with the best run's folder and others.tar; returns the best run's folder (None: no run validated,
    nothing moved)."""
    runs = best_errors(out)
    if not runs:
        return None
    best = min(runs, key=runs.get)
    print("best valid token error: " + ", ".join(f"{r.name} {e:.2%}" for r, e in runs.items()) + f" -> {best.name}")
    with tarfile.open(out / "others.tar", "w") as tar:
        for run in sorted(p for p in out.iterdir() if p.is_dir() and p != best):
            (keep / run.name).mkdir(parents=True, exist_ok=True)
            for npz in run.glob("*.npz"):
                shutil.move(str(npz), keep / run.name / npz.name)
            tar.add(run, arcname=run.name)
            shutil.rmtree(run)
        for log in sorted(out.glob("*.log")):
            tar.add(log, arcname=log.name)
            log.unlink()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--keep", type=Path, default=Path("/tmp/asr-runs"))
    args = parser.parse_args()
    keep_best(args.out, args.keep)


if __name__ == "__main__":
    main()
