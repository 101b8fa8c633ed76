"""The decoding vocabulary of the books LM: the words of a word list (LibriSpeech's 200k) that the LM text holds
or the pronunciation dictionary spells (its entries marked `# g2p` aside), one a line.

    python recipes/mini_librispeech/lm_vocab.py WORDS.txt[.gz] PRONUNCIATIONS.txt.gz TEXT [TEXT ...] --out VOCAB.txt

A word of the list that is neither in the text nor in the dictionary would have only a grapheme-to-phoneme
pronunciation and only the uniform share of the LM's unigram probability; such words (110k of LibriSpeech's
list) made the validation WER no better (RESULTS.md). Lines of WORDS are normalised as the text is
(asr.decoding.text.normalize); only the text's words are read, never dev-clean-2's.
"""
from __future__ import annotations

import argparse
import gzip
from pathlib import Path

from g2p_lexicon import MARK

from asr.decoding.phones import parse_cmudict
from asr.decoding.text import normalize


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("words", type=Path)
    parser.add_argument("pronunciations", type=Path)
    parser.add_argument("text", nargs="+", type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    opener = gzip.open if args.words.suffix == ".gz" else open
    with opener(args.words, "rt", encoding="utf-8") as f:
        listed = {w for w in (normalize(line) for line in f) if w and " " not in w}
    seen = set()
    for path in args.text:
        with open(path, encoding="utf-8") as f:
            for line in f:
                seen.update(line.split())
    with gzip.open(args.pronunciations, "rt", encoding="utf-8") as f:  # CMUdict's entries, not generated ones
        spelled = set(parse_cmudict(line for line in f if not line.rstrip().endswith(MARK)))
    vocab = sorted(w for w in listed if w in seen or w in spelled)
    args.out.write_text("".join(w + "\n" for w in vocab), encoding="utf-8")
    print(f"{args.out}: {len(vocab)} of the list's {len(listed)} words ({len(listed & seen)} in the text, "
          f"{len(listed & spelled)} in the dictionary)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
