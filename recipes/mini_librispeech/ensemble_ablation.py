"""Which networks to average (asr/model/ensemble.py): greedy phone error of each model directory and of each pair and
of all of them together, and optionally WER with a beam and an LM.

    python recipes/mini_librispeech/ensemble_ablation.py MANIFEST DIR DIR [DIR ...] \
        [--lm LM.arpa.gz|lm.json --beam 64 --lm-weight 0.8 --word-bonus 1]

The directories must be phone models with the same tokens and frame rate; each runs alone (its own network,
whatever ensemble.json it has). Networks are averaged as asr.model.ensemble does, with equal weights. Phone error:
jiwer's WER over the token names of the greedy path (word boundaries included) against each reference word's
first pronunciation; a different count from training's validation phone error. With --lm, every single
network and combination is decoded the way the shipped decoding does (lexicon of the LM's words). Prints a
markdown table.
"""
from __future__ import annotations

import argparse
import itertools

import jiwer
from tqdm import tqdm


from asr import metrics
from asr.model import directory as model_dirs
from asr.audio.load import load_audio
from asr.decoding.ctc import beam_search, collapse
from asr.model.ensemble import combine
from asr.audio.features import log_mel
from asr.decoding.fusion import LanguageModelScore, homophones_of, lm_lexicon
from asr.manifest import read_manifest
from asr.decoding.mixlm import load_lm
from asr.decoding.phones import PhoneVocabulary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest")
    parser.add_argument("model_dirs", nargs="+")
    parser.add_argument("--lm", help="an ARPA file or an lm.json mix: also decode with it")
    parser.add_argument("--beam", type=int, default=64)
    parser.add_argument("--lm-weight", type=float, default=0.8)
    parser.add_argument("--word-bonus", type=float, default=1.0)
    args = parser.parse_args(argv)
    utterances = read_manifest(args.manifest)
    posteriors = {}
    for model_dir in args.model_dirs:
        cfg, run = model_dirs.load_network(model_dir)  # the directory's own network, never its ensemble
        posteriors[model_dir] = [
            run(log_mel(load_audio(u.audio, cfg.features.sample_rate_hz), cfg.features))
            for u in tqdm(utterances, desc=model_dir, unit="clip")]
    vocab = PhoneVocabulary.load_dir(args.model_dirs[0])
    frame_s = cfg.features.hop_ms / 1000 * cfg.model.subsampling
    symbols = vocab.symbols()
    phone_refs = [" ".join(symbols[i] for i in vocab.encode(u.text.lower())) for u in utterances]
    lm = load_lm(args.lm) if args.lm else None
    lexicon, homophones = (lm_lexicon(lm, vocab), homophones_of(lm, vocab)) if lm else (None, None)

    def wer(log_probs):
        hyps = []
        for lp in log_probs:
            scorer = LanguageModelScore(lm, vocab, args.lm_weight, args.word_bonus, homophones)
            best = beam_search(lp, vocab, frame_s, args.beam, lexicon=lexicon, word_score=scorer.word_score)[0]
            hyps.append(" ".join(scorer.words(tuple(best.text.split()))))
        return metrics.score([u.text for u in utterances], hyps).wer

    names = list(posteriors)
    sets = [names[i:i + 1] for i in range(len(names))] + [list(p) for p in itertools.combinations(names, 2)]
    if len(names) > 2:
        sets.append(names)
    print("| networks | greedy phone error |" + (" WER with the LM |" if lm else ""))
    print("| --- | --- |" + (" --- |" if lm else ""))
    for members in sets:
        mixed = [combine(parts, [1 / len(members)] * len(members))
                 for parts in zip(*(posteriors[m] for m in members))]
        hyps = [" ".join(symbols[i] for i in collapse(lp.argmax(axis=1))) for lp in mixed]
        row = f"| {' + '.join(members)} | {jiwer.wer(phone_refs, hyps):.2%} |"
        print(row + (f" {wer(mixed):.2%} |" if lm else ""), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
