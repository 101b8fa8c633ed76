"""The robustness benchmark's table and picture: WER of one model on each corrupted copy of dev-clean-2, beside
clean (run.sh stage robustness writes the scores).

    python recipes/mini_librispeech/robustness_table.py exp/mini_librispeech/eval/robust-english-phones \
        [--png recipes/mini_librispeech/robustness.png]

prints a markdown table (WER, CER, WER over clean) from each copy's wer.json; with --png, a bar chart.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from robustness import COPIES


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scores", type=Path, help="a folder with one sub-folder (asr evaluate --out) per copy")
    parser.add_argument("--png", type=Path)
    args = parser.parse_args(argv)
    rows = []
    for name in ("clean", *COPIES):
        path = args.scores / name / "wer.json"
        if path.is_file():
            score = json.loads(path.read_text())
            rows.append((name, score["wer"], score["cer"]))
    if not rows or rows[0][0] != "clean":
        raise SystemExit(f"{args.scores}: no clean/wer.json (run.sh stage robustness writes it)")
    clean = rows[0][1]
    print("| copy | WER | CER | WER / clean |\n| --- | --- | --- | --- |")
    for name, wer, cer in rows:
        print(f"| {name} | {wer:.2%} | {cer:.2%} | {wer / clean:.2f} |")
    if args.png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 3.5))
        ax.bar([r[0] for r in rows], [100 * r[1] for r in rows], color=["#4c72b0"] + ["#dd8452"] * (len(rows) - 1))
        ax.axhline(150 * clean, color="grey", linestyle="--", linewidth=1, label="1.5 x clean (the milestone)")
        ax.set_ylabel("WER, %")
        ax.set_title(f"{args.scores.name}: every 4th dev-clean-2 utterance, corrupted")
        ax.legend()
        plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
        fig.tight_layout()
        fig.savefig(args.png, dpi=100)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
