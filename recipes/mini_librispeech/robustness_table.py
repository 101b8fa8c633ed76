"""The robustness benchmark's table and picture: WER of one or more models on each corrupted copy of
dev-clean-2, beside clean (run.sh stage robustness writes the scores).

    python recipes/mini_librispeech/robustness_table.py exp/mini_librispeech/eval/robust-english-phones \
        [more score folders] [--png recipes/mini_librispeech/robustness.png]

prints a markdown table, one column per score folder: WER, and in brackets WER over that folder's clean WER;
with --png, a bar chart of the same. Every copy is scored (from recogs.txt) on the same clips: those that every
folder scored on every copy it has, so a folder of a subset (peers.py --every 8) is set against the others on that
subset alone, and each ratio to clean is over the same clips.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from robustness import COPIES

from asr import metrics

NAMES = ("clean", *COPIES)


def recogs_of(folder: Path) -> dict[str, dict[str, tuple[str, str]]]:
    """{copy: {id: (reference, hypothesis)}} of the copies scored in `folder` (one asr evaluate --out sub-folder
    each)."""
    found = {}
    for name in NAMES:
        if (folder / name / "recogs.txt").is_file():
            lines = (folder / name / "recogs.txt").read_text(encoding="utf-8").splitlines()
            rows = [line.split("\t") for line in lines if line]
            found[name] = {i: (ref.removeprefix("ref="), hyp.removeprefix("hyp=")) for i, ref, hyp in rows}
    if "clean" not in found:
        raise SystemExit(f"{folder}: no clean/recogs.txt (run.sh stage robustness writes it)")
    return found


def common_scores(recogs: dict[str, dict]) -> tuple[dict[str, dict[str, float]], int]:
    """({folder: {copy: WER}}, clips): every copy scored on the clips that every folder has on every copy."""
    ids = sorted(set.intersection(*(set(clips) for copies in recogs.values() for clips in copies.values())))
    models = {}
    for model, copies in recogs.items():
        pairs = {name: [copies[name][i] for i in ids] for name in NAMES if name in copies}
        models[model] = {name: metrics.score([r for r, _ in p], [h for _, h in p]).wer for name, p in pairs.items()}
    return models, len(ids)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", type=Path, nargs="+",
                        help="folders with one sub-folder (asr evaluate --out) per copy")
    parser.add_argument("--png", type=Path)
    args = parser.parse_args(argv)
    models, clips = common_scores({folder.name: recogs_of(folder) for folder in args.scores})
    copies = [name for name in NAMES if any(name in s for s in models.values())]
    print(f"| copy ({clips} clips) | " + " | ".join(models) + " |\n| --- |" + " --- |" * len(models))
    for name in copies:
        cells = [f"{s[name]:.2%} ({s[name] / s['clean']:.2f})" if name in s else "-" for s in models.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
        fig, ax = plt.subplots(figsize=(11, 3.8))
        width = 0.8 / len(models)
        for k, (model, s) in enumerate(models.items()):
            x = np.arange(len(copies)) + (k - (len(models) - 1) / 2) * width
            ax.bar(x, [100 * s.get(name, np.nan) for name in copies], width, label=model)
        ax.set_xticks(np.arange(len(copies)), copies, rotation=30, ha="right")
        ax.set_ylabel("WER, %")
        ax.set_title(f"{clips} dev-clean-2 clips (every 4th utterance or a subset of those), corrupted")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        fig.savefig(args.png, dpi=100)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
