"""What the default decoding's n-best lists still hold: their oracle WER, and two ways to rerank them.

    python recipes/mini_librispeech/nbest_study.py MANIFEST [--model english-phones] [--rescorer english]

For each clip of MANIFEST (the validation speakers: this chooses nothing on dev), the model's default decoding
(beam search with its LM and priors) gives its n-best list with scores. Then, over the whole manifest:
- oracle: in each list, the hypothesis with the fewest word errors (what any reranking could reach at best);
- rescoring with a model of other units: score + weight * ln P_CTC(text | the --rescorer model, a character model)
  + bonus * words, over a grid of weights and bonuses;
- minimum Bayes risk: the hypothesis with the least expected word edit distance to the top k, each weighted by
  softmax(score / temperature).
Prints WER per setting (asr.metrics, corpus level).
"""
from __future__ import annotations

import argparse

import jiwer
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from asr.audio.load import load_audio
from asr.manifest import read_manifest
from asr.metrics import score
from asr.models import resolve
from asr.decoding.text import normalize
from asr.transcribe import Transcriber


def nbest(model: Transcriber, log_probs: np.ndarray) -> list[tuple[str, float]]:
    """(text in words, score) of the model's default search, best first: its whole n-best as alternatives."""
    alternatives = model.decode(log_probs, 0.0, alternatives=model.beam_width).alternatives
    return [(h.text, h.score) for h in alternatives]


def ctc_log_likelihood(log_probs: np.ndarray, texts: list[str], model: Transcriber) -> np.ndarray:
    """ln P_CTC(text | log_probs) for each text under a character model's posteriors [frames, tokens]."""
    labels = [model.vocab.encode(normalize(t)) for t in texts]
    dense = np.zeros([len(texts), max(1, *map(len, labels))], np.int32)
    for i, label in enumerate(labels):
        dense[i, :len(label)] = label
    frames = np.repeat(log_probs[None], len(texts), axis=0)
    loss = tf.nn.ctc_loss(dense, frames, [len(x) for x in labels], [len(log_probs)] * len(texts),
                          logits_time_major=False, blank_index=model.vocab.blank_id)
    return -loss.numpy()


def word_edits(a: str, b: str) -> int:
    """Word edit distance (substitutions + deletions + insertions) between two texts, by jiwer."""
    out = jiwer.process_words(a, b)
    return out.substitutions + out.deletions + out.insertions


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest")
    parser.add_argument("--model", default="english-phones")
    parser.add_argument("--rescorer", default="english", help="a character model")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.05, 0.1, 0.2, 0.5, 1.0])
    parser.add_argument("--bonuses", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0])
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 3.0, 8.0])
    parser.add_argument("--top", type=int, nargs="+", default=[8, 64])
    args = parser.parse_args(argv)
    model, rescorer = Transcriber(resolve(args.model)), Transcriber(resolve(args.rescorer), lm=False)
    clips = read_manifest(args.manifest)
    refs, lists = [u.text for u in clips], []
    for u in tqdm(clips, desc="n-best", unit="clip"):
        samples = load_audio(u.audio, model.sample_rate_hz)
        texts, scores = zip(*nbest(model, model.log_probs(samples)))
        lists.append(dict(texts=list(texts), scores=np.array(scores), words=np.array([len(t.split()) for t in texts]),
                          char=ctc_log_likelihood(rescorer.log_probs(samples), list(texts), rescorer)))

    def wer(pick) -> str:
        return f"{100 * score(refs, [x['texts'][pick(x)] for x in lists]).wer:.2f} %"

    print(f"{len(clips)} clips, {np.mean([len(x['texts']) for x in lists]):.1f} hypotheses a clip on average")
    print(f"first (the decoding as it is): {wer(lambda x: 0)}")
    truth = {id(x): normalize(r) for x, r in zip(lists, refs)}
    print(f"oracle: {wer(lambda x: int(np.argmin([word_edits(truth[id(x)], t) for t in x['texts']])))}")
    for weight in args.weights:
        for bonus in args.bonuses:
            print(f"rescored by {args.rescorer}, weight {weight}, bonus {bonus}: "
                  f"{wer(lambda x: int(np.argmax(x['scores'] + weight * x['char'] + bonus * x['words'])))}")
    for x in lists:
        x["edits"] = np.array([[word_edits(a, b) for b in x["texts"]] for a in x["texts"]], float)
    for temperature in args.temperatures:
        for top in args.top:
            def risk(x):
                k = min(top, len(x["texts"]))
                p = np.exp((x["scores"][:k] - x["scores"][0]) / temperature)
                return int(np.argmin(x["edits"][:k, :k] @ (p / p.sum())))
            print(f"minimum Bayes risk, temperature {temperature}, top {top}: {wer(risk)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
