"""The robustness benchmark's table and picture: WER of one or more models on each corrupted copy of
dev-clean-2, beside clean (run.sh stage robustness writes the scores).

    python recipes/mini_librispeech/robustness_table.py exp/mini_librispeech/eval/robust-english-phones \
        [more score folders] [--png recipes/mini_librispeech/robustness.png]

prints a markdown table from each copy's wer.json, one column per score folder: WER, and in brackets WER over
that folder's clean WER; with --png, a bar chart of the same.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from robustness import COPIES

NAMES = ("clean", *COPIES)


def scores_of(folder: Path) -> dict[str, float]:
    """WER per copy, of the copies scored in `folder` (one asr evaluate --out sub-folder each)."""
    found = {name: json.loads((folder / name / "wer.json").read_text())["wer"] for name in NAMES
             if (folder / name / "wer.json").is_file()}
    if "clean" not in found:
        raise SystemExit(f"{folder}: no clean/wer.json (run.sh stage robustness writes it)")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", type=Path, nargs="+",
                        help="folders with one sub-folder (asr evaluate --out) per copy")
    parser.add_argument("--png", type=Path)
    args = parser.parse_args(argv)
    models = {folder.name: scores_of(folder) for folder in args.scores}
    copies = [name for name in NAMES if any(name in s for s in models.values())]
    print("| copy | " + " | ".join(models) + " |\n| --- |" + " --- |" * len(models))
    for name in copies:
        cells = [f"{s[name]:.2%} ({s[name] / s['clean']:.2f})" if name in s else "-" for s in models.values()]
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
        fig, ax = plt.subplots(figsize=(9, 3.8))
        width = 0.8 / len(models)
        for k, (model, s) in enumerate(models.items()):
            x = np.arange(len(copies)) + (k - (len(models) - 1) / 2) * width
            ax.bar(x, [100 * s.get(name, np.nan) for name in copies], width, label=model)
        ax.set_xticks(np.arange(len(copies)), copies, rotation=30, ha="right")
        ax.set_ylabel("WER, %")
        ax.set_title("every 4th dev-clean-2 utterance, corrupted")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.png, dpi=100)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
