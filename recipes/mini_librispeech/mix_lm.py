"""Mix our word LM with pocketsphinx's general US English 3-gram: choose the mix weight by perplexity on held-back
training speakers' transcripts (never dev), and write the mix description (asr/decoding/mixlm.py).

    python recipes/mini_librispeech/mix_lm.py LM.arpa.gz VALID.jsonl --out DIR/lm.json [--weights 0.2 0.35 ...]

Prints one row per weight of our LM (1.0: ours alone; 0.0: pocketsphinx's alone): OOV rate and perplexity over
words and </s> without the OOV words. The weights strictly between 0 and 1 share one vocabulary (the union), so
their perplexities compare; the best of them is written to --out, naming the ARPA file relative to it.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from asr.decoding.lm import NGramLM, perplexity
from asr.manifest import read_manifest
from asr.decoding.mixlm import MixedLM, SphinxLM
from asr.decoding.text import normalize


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lm")
    parser.add_argument("manifest")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.2, 0.35, 0.5, 0.65, 0.8])
    args = parser.parse_args(argv)
    ours, general = NGramLM.from_arpa(args.lm), SphinxLM("en-us")
    sentences = [normalize(u.text).split() for u in read_manifest(args.manifest)]
    print(f"| weight of {Path(args.lm).name} | OOV | perplexity without OOV |\n| --- | --- | --- |")
    rows = []
    for weight in [1.0, *sorted(args.weights, reverse=True), 0.0]:
        lm = ours if weight == 1.0 else general if weight == 0.0 else MixedLM([(ours, weight), (general, 1 - weight)])
        p = perplexity(lm, sentences)
        print(f"| {weight} | {p.oov_rate:.2%} | {p.perplexity_without_oov:.1f} |", flush=True)
        if 0 < weight < 1:
            rows.append((p.perplexity_without_oov, weight))
    best = min(rows)[1]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    arpa = os.path.relpath(Path(args.lm).resolve(), args.out.parent.resolve())
    spec = {"mix": [{"arpa": arpa, "weight": best}, {"pocketsphinx": "en-us", "weight": round(1 - best, 6)}]}
    args.out.write_text(json.dumps(spec, indent=2) + "\n")
    print(f"best weight {best}: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
