"""Write speechocean762 manifests: one JSONL manifest per Kaldi-style split folder present (train, test).

speechocean762 (non-native read English, Mandarin L1, children and adults) keeps its transcripts in
`SPLIT/text` ("UTT_ID<tab>UPPER CASE WORDS") and its audio paths, relative to the corpus root, in
`SPLIT/wav.scp` ("UTT_ID<tab>WAVE/SPEAKERxxxx/UTT_ID.opus"). The copy in ../shared/data lacks many listed
files and holds at least one empty one, so an utterance whose audio is missing, empty or unreadable is skipped,
and the counts are printed. Texts are stored as written (upper case); `asr.decoding.text.normalize` lower-cases them
when scoring. Only `train/` is present in the shared copy (2,240 listed, 1,802 readable); nothing here was
used to train the shipped models, so it is used as a test set.

usage: python recipes/speechocean762/prepare.py DATA_DIR OUT_DIR   # writes OUT_DIR/{train,test}.jsonl
"""
from __future__ import annotations

import argparse
from pathlib import Path

import soundfile

from asr.manifest import Utterance, write_manifest
from asr.decoding.text import normalize

SPLITS = ("train", "test")


def read_table(path: Path) -> dict[str, str]:
    """A Kaldi table: the key, then whitespace, then the rest of the line."""
    table = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split(maxsplit=1)
        if fields:
            table[fields[0]] = fields[1].strip() if len(fields) > 1 else ""
    return table


def utterances(data_dir: Path, split: str) -> list[Utterance]:
    texts = read_table(data_dir / split / "text")
    wavs = read_table(data_dir / split / "wav.scp")
    out, missing, unreadable = [], 0, 0
    for utt_id, text in sorted(texts.items()):
        audio = data_dir / wavs.get(utt_id, f"missing-from-wav.scp/{utt_id}")
        if not audio.is_file():
            missing += 1
            continue
        try:
            info = soundfile.info(audio)
        except (RuntimeError, soundfile.LibsndfileError) as e:  # an empty or truncated file
            print(f"warning: {audio}: unreadable ({e}), skipped")
            unreadable += 1
            continue
        if info.frames == 0 or not normalize(text):
            print(f"warning: {audio}: no audio or no text, skipped")
            unreadable += 1
            continue
        out.append(Utterance(utt_id, str(audio.resolve()), text, info.duration))
    hours = sum(u.duration_s for u in out) / 3600
    print(f"{split}: {len(texts)} listed, {missing} missing, {unreadable} empty/unreadable skipped, "
          f"{len(out)} kept ({hours:.2f} h)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    splits = [s for s in SPLITS if (args.data_dir / s / "text").is_file()]
    if not splits:
        raise SystemExit(f"{args.data_dir}: no train/text or test/text found")
    for split in splits:
        write_manifest(args.out_dir / f"{split}.jsonl", utterances(args.data_dir, split))


if __name__ == "__main__":
    main()
