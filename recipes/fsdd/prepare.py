"""Write FSDD manifests: the official split (takes 0-4 test, 5-49 train; takes 5-7 held back for validation)
and, for each speaker, a speaker-held-out split (train on the other four speakers, test on this one).

usage: python recipes/fsdd/prepare.py DATA_DIR OUT_DIR
"""
from __future__ import annotations

import argparse
from pathlib import Path

import soundfile

from asr.manifest import Utterance, write_manifest

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEST_TAKES = range(0, 5)
VALID_TAKES = range(5, 8)


def utterances(data_dir: Path) -> list[Utterance]:
    recordings = sorted((data_dir / "recordings").glob("*.wav"))
    if not recordings:
        raise SystemExit(f"{data_dir}: no recordings/*.wav found")
    out = []
    for wav in recordings:
        digit, speaker, take = wav.stem.split("_")
        out.append(Utterance(wav.stem, str(wav.resolve()), DIGITS[int(digit)], soundfile.info(wav).duration))
    return out


def take(u: Utterance) -> int:
    return int(u.id.split("_")[2])


def speaker(u: Utterance) -> str:
    return u.id.split("_")[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    utts = utterances(args.data_dir)
    write_manifest(args.out_dir / "test.jsonl", [u for u in utts if take(u) in TEST_TAKES])
    write_manifest(args.out_dir / "valid.jsonl", [u for u in utts if take(u) in VALID_TAKES])
    write_manifest(args.out_dir / "train.jsonl", [u for u in utts if take(u) not in (*TEST_TAKES, *VALID_TAKES)])
    for held_out in sorted({speaker(u) for u in utts}):
        others = [u for u in utts if speaker(u) != held_out]
        write_manifest(args.out_dir / f"heldout-{held_out}" / "test.jsonl", [u for u in utts if speaker(u) == held_out])
        write_manifest(args.out_dir / f"heldout-{held_out}" / "valid.jsonl", [u for u in others if take(u) in VALID_TAKES])
        write_manifest(args.out_dir / f"heldout-{held_out}" / "train.jsonl",
                       [u for u in others if take(u) not in VALID_TAKES])
    print(f"{len(utts)} clips -> {args.out_dir}")


if __name__ == "__main__":
    main()
