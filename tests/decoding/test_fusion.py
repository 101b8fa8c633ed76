"""Hotwords and language-model scores in the beam search: parsing, hand-worked effects on hand-built posteriors,
the n-best list, and a rare word recovered on a real clip."""
import json
import math

import numpy as np
import pytest

from asr.decoding.ctc import beam_search, prefix_beam_search
from asr.decoding.fusion import DEFAULT_HOTWORD_BOOST, Combined, Hotwords, LanguageModelScore, parse_hotword
from asr.decoding.text import Vocabulary, normalize

VOCAB = Vocabulary()
C, A, U, T = (VOCAB.encode(ch)[0] for ch in "caut")


def cat_or_cut(p_u: float = 0.55) -> np.ndarray:
    """Three frames c, (a or u), t: 'cut' wins acoustically when p_u > 0.5."""
    probs = np.full((3, VOCAB.size), 1e-6)
    probs[0, C] = probs[2, T] = 1.0
    probs[1, U], probs[1, A] = p_u, 1.0 - p_u
    probs /= probs.sum(axis=1, keepdims=True)
    return np.log(probs)


@pytest.mark.parametrize("text, expected", [("escape", ("escape", DEFAULT_HOTWORD_BOOST)),
                                            ("Escape:2.5", ("escape", 2.5)), ("o'clock:-1", ("o'clock", -1.0)),
                                            ("KUBERNETES:10", ("kubernetes", 10.0))])
def test_parse_hotword(text, expected):
    assert parse_hotword(text) == expected


@pytest.mark.parametrize("text, message", [("two words", "one word"), (":3", "one word"), ("x:y", "not a number"),
                                           ("x:nan", "finite"), ("x:inf", "finite")])
def test_bad_hotwords_are_rejected(text, message):
    with pytest.raises(ValueError, match=message):
        parse_hotword(text)


def test_partial_boost_grows_letter_by_letter_and_the_whole_word_gets_all_of_it():
    hot = Hotwords({"cat": 3.0}, VOCAB)
    assert [hot.partial_score(tuple(VOCAB.encode(p))) for p in ("c", "ca", "cat")] == pytest.approx([1.0, 2.0, 3.0])
    assert hot.partial_score(tuple(VOCAB.encode("cu"))) == 0.0
    assert hot.word_score(tuple(VOCAB.encode("the cat"))) == 3.0
    assert hot.word_score(tuple(VOCAB.encode("the cat "))) == 3.0
    assert hot.word_score(tuple(VOCAB.encode("cats"))) == 0.0


def test_a_boost_turns_the_acoustic_runner_up_into_the_winner():
    log_probs = cat_or_cut(0.55)
    assert beam_search(log_probs, VOCAB, 0.04, 4)[0].text == "cut"
    hot = Hotwords({"cat": 1.0}, VOCAB)
    best = beam_search(log_probs, VOCAB, 0.04, 4, word_score=hot.word_score, partial_score=hot.partial_score)
    assert best[0].text == "cat"
    # the winner's score is its CTC log probability plus exactly one boost: partial shares were taken back
    plain = dict((VOCAB.decode(t), s) for t, s in prefix_beam_search(log_probs, VOCAB.space_id, 8))
    assert best[0].score == pytest.approx(plain["cat"] + 1.0)


def test_a_prefix_that_leaves_the_hotword_gives_back_what_it_was_lent():
    log_probs = cat_or_cut(0.55)
    hot = Hotwords({"cat": 1.0}, VOCAB)
    plain = dict(prefix_beam_search(log_probs, VOCAB.space_id, 8))
    boosted = dict(prefix_beam_search(log_probs, VOCAB.space_id, 8, word_score=hot.word_score,
                                      partial_score=hot.partial_score))
    cut = tuple(VOCAB.encode("cut"))
    assert boosted[cut] == pytest.approx(plain[cut])


def test_a_negative_boost_suppresses_a_word():
    log_probs = cat_or_cut(0.45)  # 'cat' wins acoustically
    hot = Hotwords({"cat": -1.0}, VOCAB)
    assert beam_search(log_probs, VOCAB, 0.04, 4, word_score=hot.word_score,
                       partial_score=hot.partial_score)[0].text == "cut"


class FakeLM:
    """Bigram table in log10; unseen pairs get -3. States are the previous word."""

    def __init__(self, table):
        self.table, self.calls = table, 0

    def begin_state(self):
        return "<s>"

    def score(self, state, word):
        self.calls += 1
        return self.table.get((state, word), -3.0), word


def test_language_model_score_is_weighted_natural_log_plus_bonus_and_cached():
    lm = FakeLM({("<s>", "the"): -0.5, ("the", "cat"): -1.0})
    score = LanguageModelScore(lm, VOCAB, weight=0.8, word_bonus=1.5)
    assert score.word_score(tuple(VOCAB.encode("the"))) == pytest.approx(0.8 * -0.5 * math.log(10) + 1.5)
    assert score.word_score(tuple(VOCAB.encode("the cat"))) == pytest.approx(0.8 * -1.0 * math.log(10) + 1.5)
    calls = lm.calls
    score.word_score(tuple(VOCAB.encode("the cat")))
    assert lm.calls == calls  # cached
    both = Combined(score, Hotwords({"cat": 2.0}, VOCAB))
    assert both.word_score(tuple(VOCAB.encode("the cat"))) == pytest.approx(0.8 * -math.log(10) + 1.5 + 2.0)
    assert both.partial_score(tuple(VOCAB.encode("ca"))) == pytest.approx(2.0 * 2 / 3)


def test_the_largest_word_score_bounds_every_word_score():
    """max_score (what lets the beam skip word ends, asr.decoding.ctc._extend) is at least every score: a
    probability rounded past 1 is read as 1; hotwords add their largest boost, a scorer without one makes it
    unbounded."""
    lm = FakeLM({("<s>", "the"): 0.002, ("the", "cat"): -1.0})  # 0.002: a float16 table's rounding of log10 1
    score = LanguageModelScore(lm, VOCAB, weight=0.8, word_bonus=1.5)
    assert score.max_score == 1.5 == score.word_score(tuple(VOCAB.encode("the")))
    assert score.word_score(tuple(VOCAB.encode("the cat"))) < score.max_score
    assert Combined(score, Hotwords({"cat": 2.0, "dog": -1.0}, VOCAB)).max_score == 3.5
    assert Hotwords({"dog": -1.0}, VOCAB).max_score == 0.0  # a word that is no hotword scores 0
    assert Combined(score, object()).max_score == math.inf


def test_a_language_model_picks_the_likely_word():
    log_probs = cat_or_cut(0.55)
    lm = FakeLM({("<s>", "cat"): -1.0, ("<s>", "cut"): -4.0})
    score = LanguageModelScore(lm, VOCAB, weight=0.5, word_bonus=0.0)
    assert beam_search(log_probs, VOCAB, 0.04, 4, word_score=score.word_score)[0].text == "cat"


# --- the recognizer: alternatives and hotwords on real clips --------------------------------------------------

def test_alternatives_are_distinct_and_best_first(samples_dir):
    from asr import load_model
    model = load_model(beam_width=8, lm=False)
    result = model.transcribe(samples_dir / "librispeech-2428-83699-0011.opus", alternatives=4)
    texts = [h.text for h in result.alternatives]
    scores = [h.score for h in result.alternatives]
    assert len(texts) == 4 and len(set(texts)) == 4
    assert scores == sorted(scores, reverse=True) and texts[0] == result.text
    assert [a["text"] for a in result.to_dict()["alternatives"]] == texts


def test_a_boosted_rare_word_is_recovered_on_a_real_clip(samples_dir):
    """The English model misses words on this clip; boosting the rarest ones it misses brings them back."""
    from asr import load_model
    row = next(json.loads(line) for line in (samples_dir / "samples.jsonl").read_text().splitlines()
               if line.startswith('{"id": "1272-135031-0006"'))  # "... to escape but he would not go"
    path = samples_dir / row["audio"]
    heard = load_model(beam_width=8, lm=False).transcribe(path).text.split()
    candidates = [w for w in ("escape", "brother", "offered") if w not in heard]
    if not candidates:
        pytest.skip(f"the shipped model now gets these words right on its own ({' '.join(heard)})")
    # the default boost (5) recovers them on some models and not others. Measured: 10 recovered 2 of 3 with the
    # english-phones of run C; run G's (2026-12-04) merges "offered to help" into one spelling and needs 20 (2 of 3)
    for boost in (10.0, 20.0):
        recovered = [w for w in candidates if w in load_model(beam_width=8, lm=False, hotwords={w: boost})
                     .transcribe(path).text.split()]
        if recovered:
            break
    assert recovered, f"none of {candidates} recovered at a boost of 10 or 20"
    assert normalize(row["text"]).count(recovered[0]) == 1
