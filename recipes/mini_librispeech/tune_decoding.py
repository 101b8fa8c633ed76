"""Tune the LM weight, word bonus and prior scale of beam search + word LM on held-back training speakers (never
on dev).

    python recipes/mini_librispeech/tune_decoding.py MODEL_DIR LM.arpa.gz|lm.json VALID.jsonl --out DIR \
        [--beam 16] [--weights 0.3 0.5 0.8 1.2] [--bonuses 0 1 2 3] [--prior-scales 0 0.4 0.8] \
        [--token-prunes -12 -9] [--fallback PLAIN/decoding.json]

The acoustic model runs once per clip; every (prior scale, weight, bonus, token prune) then re-decodes the cached log
posteriors (a prior scale other than 0 needs MODEL_DIR/priors.json, asr.model.priors). Writes DIR/grid.jsonl (one line
per setting: WER, CER, error counts, decoding seconds) and DIR/decoding.json (the best, in the format a model
directory's decoding.json takes; of equal WER and CER, the first: list the faster token prune last), and prints the
grid as a table.
"""
from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

from tqdm import tqdm

from asr import metrics
from asr.audio.load import load_audio
from asr.decoding.ctc import TOKEN_PRUNE, beam_search
from asr.decoding.fusion import LanguageModelScore, homophones_of, lm_lexicon
from asr.decoding.mixlm import load_lm
from asr.manifest import read_manifest
from asr.model import priors
from asr.recognizer import LM_FILE
from asr.transcribe import Transcriber


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("lm")
    parser.add_argument("manifest")
    parser.add_argument("--out", required=True)
    parser.add_argument("--beam", type=int, default=16)
    parser.add_argument("--weights", type=float, nargs="+", default=[0.3, 0.5, 0.8, 1.2])
    parser.add_argument("--bonuses", type=float, nargs="+", default=[0.0, 1.0, 2.0, 3.0])
    parser.add_argument("--prior-scales", type=float, nargs="+", default=[0.0],
                        help="powers of the token priors to divide out (0: none)")
    parser.add_argument("--token-prunes", type=float, nargs="+", default=[TOKEN_PRUNE],
                        help="log posteriors below which a frame's tokens are not tried (the frame's best always is)")
    parser.add_argument("--lm-words-only", action="store_true",
                        help="constrain the beam to words of the LM's vocabulary (a lexicon)")
    parser.add_argument("--fallback", type=Path, metavar="DECODING_JSON",
                        help="the decoding.json tuned for the model's lm.arpa.gz alone: its LM weight and word bonus "
                             "go in the written file's per_lm section (used when lm.json cannot load)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    model = Transcriber(args.model_dir, lm=False)
    utterances = read_manifest(args.manifest)
    posteriors = [model.log_probs(load_audio(u.audio, model.sample_rate_hz))
                  for u in tqdm(utterances, desc="acoustic model", unit="clip")]
    refs = [u.text for u in utterances]
    lm = load_lm(args.lm)  # an ARPA file, or a mix description (asr/decoding/mixlm.py)
    lexicon = lm_lexicon(lm, model.vocab) if args.lm_words_only else None
    homophones = homophones_of(lm, model.vocab)  # a phone model's: pronunciation -> words
    log_prior = (priors.load(Path(args.model_dir) / priors.PRIORS_FILE, model.vocab.symbols())
                 if any(args.prior_scales) else None)
    rows = []
    for scale, weight, bonus, prune in itertools.product(args.prior_scales, args.weights, args.bonuses,
                                                         args.token_prunes):
        started, hyps = time.perf_counter(), []
        for log_probs in posteriors:
            if scale:
                log_probs = priors.apply(log_probs, log_prior, scale)
            scorer = LanguageModelScore(lm, model.vocab, weight, bonus, homophones)  # fresh caches per clip
            best = beam_search(log_probs, model.vocab, model.frame_s, args.beam, prune, lexicon=lexicon,
                               word_score=scorer.word_score, nbest=1)[0]
            hyps.append(" ".join(scorer.words(tuple(best.text.split()))))
        scores = metrics.score(refs, hyps)
        rows.append({"prior_scale": scale, "lm_weight": weight, "word_bonus": bonus, "token_prune": prune,
                     "beam_width": args.beam,
                     "lm_words_only": args.lm_words_only, "wer": scores.wer, "cer": scores.cer,
                     "insertions": scores.insertions, "deletions": scores.deletions,
                     "substitutions": scores.substitutions, "decode_s": round(time.perf_counter() - started, 1)})
        print(json.dumps(rows[-1]), flush=True)
    with open(out / "grid.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    best = min(rows, key=lambda r: (r["wer"], r["cer"]))  # the first of equals
    decoding = {"beam_width": args.beam, "lm_weight": best["lm_weight"], "word_bonus": best["word_bonus"],
                "lm_words_only": args.lm_words_only, **({"prior_scale": best["prior_scale"]} if best["prior_scale"]
                                                        else {}),
                **({"token_prune": best["token_prune"]} if best["token_prune"] != TOKEN_PRUNE else {})}
    if args.fallback:
        plain = json.loads(args.fallback.read_text())
        decoding["per_lm"] = {LM_FILE: {**{k: plain[k] for k in ("beam_width", "lm_weight", "word_bonus")},
                                        "prior_scale": plain.get("prior_scale", 0.0)}}  # not the mix's
    (out / "decoding.json").write_text(json.dumps(decoding, indent=2) + "\n")
    print("| prior scale | LM weight | word bonus | token prune | WER | CER | decoding s |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['prior_scale']} | {r['lm_weight']} | {r['word_bonus']} | {r['token_prune']} | {r['wer']:.2%} | "
              f"{r['cer']:.2%} | {r['decode_s']} |")
    print(f"best: {decoding} (valid WER {best['wer']:.2%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
