"""Order a phone model's pronunciations likeliest word first, so that decoding without an LM writes the likeliest
of each set of homophones ("there", not "their"; asr.decoding.phones.PhoneVocabulary.word_for).

    python recipes/mini_librispeech/prefer_homophones.py MODEL_DIR [--lm PATH | --alphabetical]

The likelihood is the unigram probability in the model's own word LM (its lm.json mix, else its lm.arpa.gz), or in
`--lm PATH` (an ARPA file or a mix description); words it lacks keep alphabetical order after those it has.
Rewrites MODEL_DIR/pronunciations.txt.gz: the same words, pronunciations and `# comments`, reordered. Decoding
with an LM is unchanged (the LM chooses among homophones in context). `--alphabetical` lists each set
alphabetically instead (what the shipped model wrote until 2026-12-05: "thuy" for T UW), for comparison.
"""
from __future__ import annotations

import argparse
import gzip
from pathlib import Path

from asr.decoding.lm import PackedLM
from asr.decoding.mixlm import MixedLM, load_lm
from asr.decoding.phones import PRONUNCIATIONS_FILE, PhoneVocabulary
from asr.recognizer import LM_FILE, LM_MIX_FILE


def unigram_log10(lm):
    """log10 P(word) with no history, from an asr.decoding.lm.NGramLM or PackedLM, asr.decoding.mixlm.SphinxLM or
    MixedLM; words outside the LM's vocabulary score lowest (not as <unk>, which would rank them among the known)."""
    def no_history(part):
        return (0, 0) if isinstance(part, PackedLM) else ()  # a packed LM's states are (order, row)

    empty = tuple(no_history(part) for part, _ in lm.parts) if isinstance(lm, MixedLM) else no_history(lm)
    return lambda word: lm.score(empty, word)[0] if word in lm.vocab else float("-inf")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path)
    order = parser.add_mutually_exclusive_group()
    order.add_argument("--lm", type=Path, help="default: the model's lm.json, else its lm.arpa.gz")
    order.add_argument("--alphabetical", action="store_true", help="each set of homophones alphabetically")
    args = parser.parse_args(argv)
    vocab = PhoneVocabulary.load_dir(args.model_dir)
    if args.alphabetical:
        preferred, log10_prob, by = PhoneVocabulary(dict(sorted(vocab.pronunciations.items()))), None, "alphabetically"
    else:
        lm_path = args.lm or next((args.model_dir / name for name in (LM_MIX_FILE, LM_FILE)
                                   if (args.model_dir / name).is_file()), None)
        if lm_path is None:
            parser.error(f"{args.model_dir}: no {LM_MIX_FILE} or {LM_FILE}; name one with --lm")
        log10_prob, by = unigram_log10(load_lm(lm_path)), f"by {lm_path.name}"
        preferred = vocab.preferring(log10_prob)
    path = args.model_dir / PRONUNCIATIONS_FILE
    path.write_bytes(preferred.pronunciations_gz(_comments(path)))
    before, after = _choices(vocab), _choices(preferred)
    changed = sorted(((before[s], after[s]) for s in before if before[s] != after[s]),
                     key=lambda pair: (-log10_prob(pair[1]) if log10_prob else 0, pair))
    examples = ", e.g. " + ", ".join(f"{a} -> {b}" for a, b in changed[:8]) if changed else ""
    print(f"{path}: {len(vocab.pronunciations)} words ordered {by}; {len(changed)} sets of homophones now written "
          f"otherwise{examples}")
    return 0


def _comments(path: Path) -> dict[str, str]:
    """word -> its line's `# comment` (g2p_lexicon.py marks the pronunciations it generated `# g2p`)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return {line.split()[0]: line.split("#", 1)[1].strip() for line in f if "#" in line and line.split()}


def _choices(vocab: PhoneVocabulary) -> dict[str, str]:
    """Each pronunciation -> the word word_for writes for it."""
    return {spelled: vocab.word_for(spelled) for spelled in {vocab.pronounce(w) for w in vocab.pronunciations}}


if __name__ == "__main__":
    raise SystemExit(main())
