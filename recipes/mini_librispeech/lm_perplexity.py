"""OOV rate and perplexity of word LMs (ARPA files or lm.json mixes) on the transcripts of manifests.

    python recipes/mini_librispeech/lm_perplexity.py MANIFEST.jsonl [...] --lm LM [LM ...]

One row per manifest and LM: the OOV rate of the LM's vocabulary over the running words, the perplexity over
words and </s> without the OOV words (each LM over its own vocabulary: a larger one keeps harder words in), and
the perplexity over the tokens every LM given knows (the same tokens for all, so those compare). Reading
dev-clean-2 here measures; it chooses nothing.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from asr.decoding.lm import EOS
from asr.decoding.mixlm import load_lm
from asr.decoding.text import normalize
from asr.manifest import read_manifest


def token_scores(lm, sentences: list[list[str]]) -> list[tuple[str, float]]:
    """(token, log10 probability) of every word and </s> of `sentences`, each scored from <s>."""
    out = []
    for words in sentences:
        state = lm.begin_state()
        for word in (*words, EOS):
            log10_p, state = lm.score(state, word)
            out.append((word, log10_p))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", nargs="+", type=Path)
    parser.add_argument("--lm", nargs="+", required=True, type=Path)
    args = parser.parse_args(argv)
    lms = [load_lm(path, use_tables=False) for path in args.lm]
    common = frozenset.intersection(*(frozenset(lm.vocab) | {EOS} for lm in lms))
    print("| text | LM | OOV | perplexity without OOV | perplexity on the tokens all know |\n"
          "| --- | --- | --- | --- | --- |")
    for manifest in args.manifests:
        sentences = [normalize(u.text).split() for u in read_manifest(manifest)]
        words = sum(len(s) for s in sentences)
        for path, lm in zip(args.lm, lms):
            scores = token_scores(lm, sentences)
            known = [p for w, p in scores if w in lm.vocab or w == EOS]
            shared = [p for w, p in scores if w in common]
            oov = len(scores) - len(known)
            print(f"| {manifest.stem} ({words} words) | {path} | {oov / words:.2%} | "
                  f"{10 ** (-math.fsum(known) / len(known)):.1f} | "
                  f"{10 ** (-math.fsum(shared) / len(shared)):.1f} ({len(shared)} tokens) |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
