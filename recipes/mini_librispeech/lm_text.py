"""Write language-model text: one normalised sentence (asr.decoding.text.normalize) per line.

OUT_DIR/librispeech.txt  train-clean-5 transcripts, less the validation speakers (prepare.VALID_SPEAKERS)
OUT_DIR/ljspeech.txt     LJ Speech 1.1, its normalised column (numbers and abbreviations already spelled out;
                         a sentence that still holds a digit would be dropped, and counted)
OUT_DIR/books.txt        the public-domain books of DATA_DIR/books (its README lists them; already filtered against
                         evaluation sentences), one sentence a line: each paragraph cut after . ! or ?, and a
                         sentence that holds a digit (footnote marks aside) dropped (LibriSpeech transcripts spell
                         numbers out), and counted
OUT_DIR/valid.txt        the validation speakers' transcripts: held-out text for perplexity and tuning

dev-clean-2 is never read: it is for evaluation only.

usage: python recipes/mini_librispeech/lm_text.py DATA_DIR OUT_DIR   (DATA_DIR: ../shared/data)
"""
from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

from prepare import VALID_SPEAKERS

from asr.decoding.text import normalize


def librispeech(split_dir: Path) -> dict[str, list[str]]:
    """Normalised transcripts of a LibriSpeech split by speaker id."""
    transcripts = sorted(split_dir.glob("*/*/*.trans.txt"))
    if not transcripts:
        raise SystemExit(f"{split_dir}: no */*/*.trans.txt found")
    out: dict[str, list[str]] = {}
    for trans in transcripts:
        for line in trans.read_text(encoding="utf-8").splitlines():
            utt_id, _, text = line.partition(" ")
            if normalize(text):
                out.setdefault(utt_id.split("-")[0], []).append(normalize(text))
    return out


def ljspeech(metadata: Path) -> tuple[list[str], int]:
    """Normalised third column of LJ Speech's metadata.csv, and how many sentences were dropped for digits."""
    sentences, dropped = [], 0
    with open(metadata, encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE):
            if any(c.isdigit() for c in row[2]):
                dropped += 1
            elif normalize(row[2]):
                sentences.append(normalize(row[2]))
    return sentences, dropped


SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")  # after . ! ? and any closing quotes or brackets
FOOTNOTE_MARK = re.compile(r"\[[\d:]+\]")  # "[394]", "[112:1]": removed before the digit check


def books(folder: Path) -> tuple[list[str], int]:
    """Normalised sentences of every *.txt of `folder` (one paragraph a line), and how many were dropped for
    digits."""
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise SystemExit(f"{folder}: no *.txt found")
    sentences, dropped = [], 0
    for path in files:
        for paragraph in path.read_text(encoding="utf-8").splitlines():
            kept, digits = paragraph_sentences(paragraph)
            sentences += kept
            dropped += digits
    return sentences, dropped


def paragraph_sentences(paragraph: str) -> tuple[list[str], int]:
    """A paragraph's normalised sentences (cut after . ! or ?), and how many were dropped for holding a digit."""
    sentences, dropped = [], 0
    for sentence in SENTENCE_END.split(FOOTNOTE_MARK.sub("", paragraph)):
        if any(c.isdigit() for c in sentence):
            dropped += 1
        elif normalize(sentence):
            sentences.append(normalize(sentence))
    return sentences, dropped


def write(path: Path, sentences: list[str]) -> None:
    path.write_text("".join(s + "\n" for s in sentences), encoding="utf-8")
    print(f"{path}: {len(sentences)} sentences, {sum(len(s.split()) for s in sentences)} words")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    by_speaker = librispeech(args.data_dir / "librispeech-mini" / "train-clean-5")
    train = [s for speaker, texts in by_speaker.items() if speaker not in VALID_SPEAKERS for s in texts]
    write(args.out_dir / "librispeech.txt", train)
    write(args.out_dir / "valid.txt", [s for spk in VALID_SPEAKERS for s in by_speaker[spk]])
    lj, dropped = ljspeech(args.data_dir / "ljspeech" / "metadata.csv")
    write(args.out_dir / "ljspeech.txt", lj)
    print(f"ljspeech: {dropped} sentences dropped for digits")
    text, dropped = books(args.data_dir / "books")
    write(args.out_dir / "books.txt", text)
    print(f"books: {dropped} sentences dropped for digits")


if __name__ == "__main__":
    main()
