"""Write Mini LibriSpeech manifests.

train.jsonl: train-clean-5 less two held-back speakers; valid.jsonl: those two speakers (checkpoint selection
and tuning); dev.jsonl: dev-clean-2 (evaluation only: never used for training, selection or tuning).

usage: python recipes/mini_librispeech/prepare.py DATA_DIR OUT_DIR
"""
from __future__ import annotations

import argparse
from pathlib import Path

import soundfile
from tqdm import tqdm

from asr.manifest import Utterance, write_manifest

VALID_SPEAKERS = ("1737", "7312")  # one female, one male speaker of train-clean-5 (44 clips, about 9 minutes)


def utterances(split_dir: Path) -> list[Utterance]:
    transcripts = sorted(split_dir.glob("*/*/*.trans.txt"))
    if not transcripts:
        raise SystemExit(f"{split_dir}: no */*/*.trans.txt found")
    out = []
    for trans in tqdm(transcripts, desc=split_dir.name, unit="chapter"):
        for line in trans.read_text().splitlines():
            utt_id, _, text = line.partition(" ")
            audio = trans.parent / f"{utt_id}.opus"
            if not audio.exists():
                print(f"warning: {audio}: missing, skipped")
                continue
            out.append(Utterance(utt_id, str(audio.resolve()), text, soundfile.info(audio).duration))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    train = utterances(args.data_dir / "train-clean-5")
    write_manifest(args.out_dir / "train.jsonl", [u for u in train if u.id.split("-")[0] not in VALID_SPEAKERS])
    write_manifest(args.out_dir / "valid.jsonl", [u for u in train if u.id.split("-")[0] in VALID_SPEAKERS])
    write_manifest(args.out_dir / "dev.jsonl", utterances(args.data_dir / "dev-clean-2"))


if __name__ == "__main__":
    main()
