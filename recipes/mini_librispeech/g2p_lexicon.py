"""Pronunciations for the words of a word LM that a phone model's dictionary lacks, by grapheme-to-phoneme.

    python recipes/mini_librispeech/g2p_lexicon.py PRONUNCIATIONS.txt.gz LM.arpa.gz --out OUT.txt.gz

OUT keeps every entry of PRONUNCIATIONS (the CMU dictionary, in its order: it decides among homophones when decoding
without an LM) and appends one for each word of the LM (made of the letters of normalised text) it lacks, marked
`# g2p` at the end of the line, so the generated entries can be told apart (asr.decoding.phones drops the comment).
The predictor is PyPI g2p_en's neural network (Apache-2.0; a GRU encoder-decoder trained on CMUdict, NumPy only),
called per word without its nltk data (no part-of-speech tagger, no dictionary download); its ARPAbet phones lose
their stress digits, as the dictionary's do. A prediction that is empty or holds a phone outside
asr.decoding.phones.PHONES falls back to asr.decoding.phones's spelling rules, counted. g2p_en is a tool of this
recipe only: the package never imports it.
"""
from __future__ import annotations

import argparse
import gzip
import sys
import time
import types
from pathlib import Path

from asr.decoding.lm import read_arpa
from asr.decoding.phones import CODE, guess_pronunciation, read_cmudict
from asr.decoding.text import CHARACTERS

MARK = "# g2p"


def g2p_predictor():
    """word -> ARPAbet phones with stress digits, from g2p_en's network alone."""
    try:
        import nltk
    except ImportError:
        raise SystemExit("needs g2p_en: pip install g2p_en") from None
    nltk.download = lambda *args, **kwargs: False  # its import asks for tagger and dictionary data: not used here
    import nltk.corpus
    real_cmudict = nltk.corpus.cmudict
    nltk.corpus.cmudict = types.SimpleNamespace(dict=dict)  # G2p() loads the dictionary: an empty one instead
    try:
        import g2p_en.g2p
        g2p_en.g2p.cmudict = nltk.corpus.cmudict
        model = g2p_en.g2p.G2p()
    finally:
        nltk.corpus.cmudict = real_cmudict
    return model.predict


def pronounce(words: list[str], predict) -> tuple[dict[str, list[str]], list[str]]:
    """{word: phones} for `words`, and the words that fell back to the spelling rules."""
    out, fallback = {}, []
    for word in words:
        phones = [p.rstrip("012") for p in predict(word)]
        if not phones or not all(p in CODE for p in phones):
            phones = guess_pronunciation(word)
            fallback.append(word)
        out[word] = phones
    return out, fallback


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pronunciations", type=Path)
    parser.add_argument("lm", type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    with gzip.open(args.pronunciations, "rt", encoding="utf-8") as f:
        lines = [line for line in f if line.split("#")[0].strip()]
    known = read_cmudict(args.pronunciations)
    letters = set(CHARACTERS) - {" "}
    missing = sorted(g[0] for g in read_arpa(args.lm).ngrams[0]
                     if not g[0].startswith("<") and set(g[0]) <= letters and g[0] not in known)
    started = time.perf_counter()
    generated, fallback = pronounce(missing, g2p_predictor())
    text = "".join(lines) + "".join(f"{w} {' '.join(p)} {MARK}\n" for w, p in generated.items())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    print(f"{args.out}: {len(known)} dictionary entries + {len(generated)} generated ({MARK}) for the LM's words "
          f"it lacks, in {time.perf_counter() - started:.0f} s; {len(fallback)} by spelling rules "
          f"(g2p_en gave no usable phones){': ' + ' '.join(fallback[:20]) if fallback else ''}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
