"""CTC decoding on hand-built posteriors whose answers are worked out by hand (or by brute force over all paths)."""
import itertools
import math

import numpy as np
import pytest

from asr.decoding.ctc import (
    Hypothesis,
    Lexicon,
    PrefixBeamSearch,
    Word,
    beam_search,
    collapse,
    forced_align,
    greedy_decode,
    prefix_beam_search,
    word_timings,
)
from asr.decoding.text import Vocabulary

VOCAB = Vocabulary()
BLANK, SPACE, A, B = 0, VOCAB.space_id, VOCAB.encode("a")[0], VOCAB.encode("b")[0]  # 0, 1, 3, 4


def log_probs_of(probs, ids) -> np.ndarray:
    """[time, len(ids)] probabilities -> [time, vocab] log posteriors, zero probability for every other id."""
    probs = np.asarray(probs, dtype=np.float64)
    assert np.allclose(probs.sum(axis=1), 1.0), "each frame must be a distribution"
    out = np.full((len(probs), VOCAB.size), -np.inf)
    with np.errstate(divide="ignore"):
        out[:, ids] = np.log(probs)
    return out


def first_emissions(path) -> list[int]:
    """Frames where a frame path starts emitting a token (not blank, not a continued repeat)."""
    return [t for t, label in enumerate(path) if label != BLANK and (t == 0 or label != path[t - 1])]


# Columns blank, space, a, b. Argmax path: a a _ ␣ b _  ->  collapse -> a ␣ b = "a b".
GREEDY_PROBS = [[0.1, 0.1, 0.7, 0.1],
                [0.2, 0.1, 0.6, 0.1],
                [0.7, 0.1, 0.1, 0.1],
                [0.1, 0.8, 0.05, 0.05],
                [0.1, 0.1, 0.1, 0.7],
                [0.6, 0.1, 0.1, 0.2]]

# Columns blank, space, a, b. Argmax path: a a b _ ␣ a a _  ->  "ab a".
WORDS_PROBS = [[0.1, 0.05, 0.8, 0.05],
               [0.3, 0.1, 0.5, 0.1],
               [0.2, 0.1, 0.1, 0.6],
               [0.9, 0.04, 0.03, 0.03],
               [0.2, 0.7, 0.05, 0.05],
               [0.05, 0.025, 0.9, 0.025],
               [0.3, 0.05, 0.6, 0.05],
               [0.8, 0.1, 0.05, 0.05]]

# Columns blank, a, b. Argmax path a a a a ("a"); forcing "aa" needs a blank somewhere.
REPEAT_PROBS = [[0.1, 0.85, 0.05],
                [0.3, 0.65, 0.05],
                [0.4, 0.55, 0.05],
                [0.2, 0.75, 0.05]]


def test_collapse_merges_repeats_then_drops_blanks():
    # 0 | 1 1 -> 1 | 0 | 1 | 2 2 -> 2 | 0  =>  1 1 2 (the blank keeps the two 1s apart)
    assert collapse([0, 1, 1, 0, 1, 2, 2, 0]) == [1, 1, 2]
    assert collapse(np.array([3, 3, 3])) == [3]
    assert collapse([]) == []
    assert collapse([5, 5, 0, 5, 2], blank_id=5) == [0, 2]


def test_greedy_decode_hand_built():
    hyp = greedy_decode(log_probs_of(GREEDY_PROBS, [BLANK, SPACE, A, B]), VOCAB, frame_s=0.02)
    assert hyp.text == "a b"
    assert hyp.tokens == (A, SPACE, B)
    # best path probability .7 * .6 * .7 * .8 * .7 * .6 = .098784
    assert hyp.score == pytest.approx(math.log(0.098784), abs=1e-9)
    # "a": first frame 0, last frame 1 -> [0, 2 * .02); confidence p(a | t0) = .7
    # "b": frame 4 only               -> [4 * .02, 5 * .02); confidence p(b | t4) = .7
    assert [w.word for w in hyp.words] == ["a", "b"]
    assert [w.start_s for w in hyp.words] == pytest.approx([0.0, 0.08], abs=1e-6)
    assert [w.end_s for w in hyp.words] == pytest.approx([0.04, 0.10], abs=1e-6)
    assert [w.confidence for w in hyp.words] == pytest.approx([0.7, 0.7], abs=1e-6)


def test_beam_search_beats_greedy_by_summing_paths():
    # Two frames, p(blank) = .6 and p(a) = .4 in each.
    # Best single path: blank blank = .36 -> greedy says "".
    # "a" = a_ + _a + aa = .24 + .24 + .16 = .64 > .36, so beam search says "a".
    log_probs = log_probs_of([[0.6, 0.4], [0.6, 0.4]], [BLANK, A])
    greedy = greedy_decode(log_probs, VOCAB, frame_s=0.02)
    assert greedy.text == ""
    assert greedy.score == pytest.approx(math.log(0.36), abs=1e-9)
    nbest = beam_search(log_probs, VOCAB, frame_s=0.02)
    assert [h.text for h in nbest] == ["a", ""]
    assert nbest[0].score == pytest.approx(math.log(0.64), abs=1e-6)
    assert nbest[1].score == pytest.approx(math.log(0.36), abs=1e-6)


def test_beam_search_scores_equal_brute_force_sums():
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(4, 3))
    small = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))  # [4, 3] log-softmax over blank, a, b
    ids = [BLANK, A, B]
    log_probs = np.full((4, VOCAB.size), -np.inf)
    log_probs[:, ids] = small
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(3), repeat=4):  # all 3^4 = 81 paths
        label = tuple(collapse([ids[k] for k in path]))
        totals[label] = totals.get(label, 0.0) + math.exp(sum(small[t, k] for t, k in enumerate(path)))
    nbest = beam_search(log_probs, VOCAB, frame_s=0.02, beam_width=100, token_prune=-np.inf)
    scores = {h.tokens: h.score for h in nbest}
    assert set(scores) == set(totals)
    for label, total in totals.items():
        assert scores[label] == pytest.approx(math.log(total), abs=1e-9), label
    assert nbest[0].tokens == max(totals, key=totals.get)
    assert [h.score for h in nbest] == sorted(scores.values(), reverse=True)
    assert sum(math.exp(h.score) for h in nbest) == pytest.approx(1.0, abs=1e-9)


def test_beam_width_one_equals_greedy():
    # Beam of one on GREEDY_PROBS, keeping (p_blank, p_token) of the single surviving prefix:
    # t0: "a"   = (0, .7)
    # t1: "a"   = (.7*.2, .7*.6) = (.14, .42)                        beats "a " .07, "ab" .07
    # t2: "a"   = (.56*.7, .42*.1) = (.392, .042) total .434         beats "a " .056, "ab" .056, "aa" .014
    # t3: "a "  = (0, .434*.8) = (0, .3472)                          beats "a" .0455, "ab" .0217, "aa" .0196
    # t4: "a b" = (0, .3472*.7) = (0, .24304)                        beats "a " .06944
    # t5: "a b" = (.24304*.6, .24304*.2) = (.145824, .048608) total .194432
    log_probs = log_probs_of(GREEDY_PROBS, [BLANK, SPACE, A, B])
    greedy = greedy_decode(log_probs, VOCAB, frame_s=0.02)
    nbest = beam_search(log_probs, VOCAB, frame_s=0.02, beam_width=1)
    assert len(nbest) == 1
    assert nbest[0].tokens == greedy.tokens
    assert nbest[0].text == greedy.text
    assert nbest[0].words == greedy.words
    assert nbest[0].score == pytest.approx(math.log(0.194432), abs=1e-6)


def test_beam_search_prunes_unlikely_tokens():
    # p(b | t1) = e^-13 is below token_prune = -12, so no hypothesis may contain b; without pruning some do.
    p_b = math.exp(-13.0)
    log_probs = log_probs_of([[0.5, 0.5, 0.0], [0.5, 0.5 - p_b, p_b]], [BLANK, A, B])
    pruned = beam_search(log_probs, VOCAB, frame_s=0.02, beam_width=16, token_prune=-12.0)
    unpruned = beam_search(log_probs, VOCAB, frame_s=0.02, beam_width=16, token_prune=-np.inf)
    assert all(B not in h.tokens for h in pruned)
    assert any(B in h.tokens for h in unpruned)


def test_beam_search_always_expands_the_best_token():
    # token_prune = 0 keeps no token (log probs are <= 0) except each frame's best, here a (p = .7):
    # "a" = a_ + _a + aa = .7*.3 + .3*.7 + .7*.7 = .91, "" = .3*.3 = .09.
    log_probs = log_probs_of([[0.3, 0.7], [0.3, 0.7]], [BLANK, A])
    nbest = beam_search(log_probs, VOCAB, frame_s=0.02, token_prune=0.0)
    assert [h.text for h in nbest] == ["a", ""]
    assert nbest[0].score == pytest.approx(math.log(0.91), abs=1e-6)


def test_prefix_beam_search_word_score_hook():
    # Frames a, space, b with p = .9 (blank .1). Every word costs -1 from the hook: "a b" completes "a" at the
    # space and "b" at the end, so its score is log(.9^3) - 2; "ab" is one word, log(.9 * .1 * .9) - 1.
    calls = []

    def word_score(prefix):
        calls.append(prefix)
        return -1.0

    log_probs = log_probs_of([[0.1, 0.9, 0.0, 0.0], [0.1, 0.0, 0.9, 0.0], [0.1, 0.0, 0.0, 0.9]],
                             [BLANK, A, SPACE, B])
    scores = dict(prefix_beam_search(log_probs, SPACE, beam_width=8, word_score=word_score))
    assert scores[(A, SPACE, B)] == pytest.approx(3 * math.log(0.9) - 2.0, abs=1e-9)
    assert scores[(A, B)] == pytest.approx(math.log(0.9 * 0.1 * 0.9) - 1.0, abs=1e-9)
    assert scores[()] == pytest.approx(3 * math.log(0.1), abs=1e-9)  # no word, no hook
    assert set(calls) == {(A,), (B,), (A, B), (SPACE, B), (A, SPACE, B)}


def test_each_prefix_is_word_scored_once():
    """A prefix offered a space in many frames gets its end-of-word score once per search (it reads the whole
    prefix, so asking again would cost O(length) each time); a new search keeps none of the last one's scores."""
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(60, VOCAB.size)) * 2
    log_probs = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    calls = []

    def word_score(tokens):
        calls.append(tokens)
        return -0.3 * len(tokens) + 0.1 * (tokens[-1] % 3)

    nbest = prefix_beam_search(log_probs, SPACE, beam_width=8, word_score=word_score)
    assert len(calls) > 20 and len(calls) == len(set(calls))
    searches = [prefix_beam_search(log_probs, SPACE, beam_width=8, word_score=word_score) for _ in range(2)]
    assert searches[0] == searches[1] == nbest and len(calls) == 3 * len(set(calls))


def test_forced_align_repeated_token_needs_a_blank():
    # "aa" in 4 frames (columns blank, a, b); every alignment and its probability:
    #   a a _ a  .85*.65*.40*.75 = .16575   <- best
    #   a _ a a  .85*.30*.55*.75 = .1051875
    #   a _ _ a  .85*.30*.40*.75 = .0765
    #   a _ a _  .85*.30*.55*.20 = .02805
    #   _ a _ a  .10*.65*.40*.75 = .0195
    log_probs = log_probs_of(REPEAT_PROBS, [BLANK, A, B])
    assert greedy_decode(log_probs, VOCAB, frame_s=0.02).tokens == (A,)
    assert forced_align(log_probs, [A, A]).tolist() == [0, 3]
    assert forced_align(log_probs, [A, B]).tolist() == [0, 3]  # a a a b .85*.65*.55*.05 beats a a _ b, a _ _ b...
    assert forced_align(log_probs[:2], [A, B]).tolist() == [0, 1]
    assert forced_align(log_probs, []).tolist() == []


def test_forced_align_rejects_what_cannot_fit():
    log_probs = log_probs_of(REPEAT_PROBS, [BLANK, A, B])
    with pytest.raises(ValueError, match="at least 3 frames"):
        forced_align(log_probs[:2], [A, A])  # a _ a needs 3 frames
    with pytest.raises(ValueError):
        forced_align(log_probs, [A, B, A, B, A])
    with pytest.raises(ValueError):
        forced_align(log_probs, [A, BLANK])
    with pytest.raises(ValueError, match="non-zero probability"):
        forced_align(log_probs, [SPACE])  # p(space) = 0 in every frame


def test_forced_align_matches_brute_force_viterbi():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(6, 3))
    small = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))  # [6, 3] over blank, a, b
    ids = [BLANK, A, B]
    log_probs = np.full((6, VOCAB.size), -np.inf)
    log_probs[:, ids] = small
    for tokens in ([A, A, B], [B, A], [A, B, B, A]):
        paths = [[ids[k] for k in path] for path in itertools.product(range(3), repeat=6)]
        fitting = [p for p in paths if collapse(p) == tokens]
        best = max(fitting, key=lambda p: sum(log_probs[t, label] for t, label in enumerate(p)))
        assert forced_align(log_probs, tokens).tolist() == first_emissions(best), tokens


def test_forced_align_long_input_recovers_a_known_path():
    # T = 2000 frames, ~600 tokens: the path's own label has p = .9 in every frame, so it is the Viterbi path.
    rng = np.random.default_rng(0)
    path = []
    while len(path) < 2000:
        path += [int(rng.integers(1, VOCAB.size))] * int(rng.integers(1, 3)) + [BLANK] * int(rng.integers(0, 2))
    path = path[:2000]
    probs = np.full((2000, VOCAB.size), 0.1 / (VOCAB.size - 1))
    probs[np.arange(2000), path] = 0.9
    tokens = collapse(path)
    assert len(tokens) > 500
    assert forced_align(np.log(probs), tokens).tolist() == first_emissions(path)


def test_word_timings_two_words():
    # Path a a b _ ␣ a a _ (frame_s = .04):
    #   "ab": first char at t0, last char ends at t2 -> [0, 3 * .04) = [0, .12); confidence sqrt(.8 * .6) = sqrt(.48)
    #   "a":  t5..t6                                  -> [.20, .28); confidence .9 (trailing blank t7 excluded)
    log_probs = log_probs_of(WORDS_PROBS, [BLANK, SPACE, A, B])
    words = word_timings(log_probs, [A, B, SPACE, A], VOCAB, frame_s=0.04)
    assert [w.word for w in words] == ["ab", "a"]
    assert words[0].start_s == pytest.approx(0.0, abs=1e-6)
    assert words[0].end_s == pytest.approx(0.12, abs=1e-6)
    assert words[0].confidence == pytest.approx(math.sqrt(0.48), abs=1e-6)
    assert words[1].start_s == pytest.approx(0.20, abs=1e-6)
    assert words[1].end_s == pytest.approx(0.28, abs=1e-6)
    assert words[1].confidence == pytest.approx(0.9, abs=1e-6)
    assert greedy_decode(log_probs, VOCAB, frame_s=0.04).words == words


def test_word_timings_repeated_letter_and_edge_spaces():
    # Forced "aa" on REPEAT_PROBS takes a a _ a: the word spans t0..t3 -> [0, 4 * .02);
    # confidence = exp(mean(log .85, log .75)) = sqrt(.85 * .75).
    log_probs = log_probs_of(REPEAT_PROBS, [BLANK, A, B])
    (word,) = word_timings(log_probs, [A, A], VOCAB, frame_s=0.02)
    assert word == Word("aa", 0.0, pytest.approx(0.08, abs=1e-6), pytest.approx(math.sqrt(0.85 * 0.75), abs=1e-6))
    # Spaces at the edges make no empty words: path ␣ a ␣ -> one word "a" at [.02, .04), confidence .6.
    log_probs = log_probs_of([[0.2, 0.8, 0.0], [0.2, 0.2, 0.6], [0.2, 0.8, 0.0]], [BLANK, SPACE, A])
    assert word_timings(log_probs, [SPACE, A, SPACE], VOCAB, frame_s=0.02) == (
        Word("a", pytest.approx(0.02, abs=1e-6), pytest.approx(0.04, abs=1e-6), pytest.approx(0.6, abs=1e-6)),)
    assert word_timings(log_probs, [], VOCAB, frame_s=0.02) == ()


def test_empty_input_gives_an_empty_hypothesis():
    empty = Hypothesis(text="", tokens=(), score=0.0, words=())
    log_probs = np.zeros((0, VOCAB.size))
    assert greedy_decode(log_probs, VOCAB, frame_s=0.02) == empty
    assert beam_search(log_probs, VOCAB, frame_s=0.02) == [empty]


def test_vocabulary_mismatch_is_an_error():
    with pytest.raises(ValueError, match="29"):
        greedy_decode(np.zeros((3, 5)), VOCAB, frame_s=0.02)
    with pytest.raises(ValueError, match=r"\[time, vocab\]"):
        beam_search(np.zeros(VOCAB.size), VOCAB, frame_s=0.02)


def test_text_has_no_leading_trailing_or_double_spaces():
    # frames emit: space, "a", space, space (via blank), "b", space -> raw "_a  b_" -> text "a b"
    vocab = Vocabulary()
    sp, a, b = vocab.space_id, vocab.encode("a")[0], vocab.encode("b")[0]
    path = [sp, a, sp, 0, sp, b, sp]
    log_probs = np.full((len(path), vocab.size), np.log(0.01 / (vocab.size - 1)))
    log_probs[np.arange(len(path)), path] = np.log(0.99)
    assert greedy_decode(log_probs, vocab, 0.04).text == "a b"
    assert beam_search(log_probs, vocab, 0.04, beam_width=4)[0].text == "a b"


@pytest.mark.parametrize("chunk", [1, 3, 7])
def test_incremental_beam_search_equals_the_whole_search(chunk):
    """PrefixBeamSearch fed in chunks gives prefix_beam_search's n-best, word scores and lexicon included, and
    its nbest() can be asked for at any point without changing what follows."""
    rng = np.random.default_rng(chunk)
    logits = rng.normal(size=(40, VOCAB.size)) * 3
    log_probs = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    score = lambda tokens: -0.5 * len(tokens)  # noqa: E731
    whole = prefix_beam_search(log_probs, VOCAB.space_id, 6, word_score=score)
    search = PrefixBeamSearch(VOCAB.space_id, 6, word_score=score)
    for i in range(0, len(log_probs), chunk):
        search.advance(log_probs[i:i + chunk])
        assert search.nbest() and search.best_so_far() is not None
    assert search.nbest() == whole


def test_lexicon_next_tokens_are_the_extensions_that_stay_in_it():
    """Lexicon.next_tokens (what the beam search asks each frame): a token continues the start of some word, and a
    space only ends a whole word; asked twice, the same answer."""
    words = ["a", "ab", "ba", "abc", "cab"]
    lexicon = Lexicon(words, VOCAB)
    encoded = {tuple(VOCAB.encode(w)) for w in words}
    starts = {w[:i] for w in encoded for i in range(1, len(w) + 1)}
    for word in [(), *sorted(starts), tuple(VOCAB.encode("bb")), tuple(VOCAB.encode("abcd"))]:
        expected = {t for t in range(VOCAB.size) if t != SPACE and word + (t,) in starts}
        expected |= {SPACE} if word in encoded else set()
        assert lexicon.next_tokens(word) == expected == lexicon.next_tokens(word), word
    assert lexicon.next_tokens(tuple(VOCAB.encode("ab"))) == {SPACE, VOCAB.encode("c")[0]}


def test_a_lexicon_search_ending_inside_every_word_keeps_the_words_before_it():
    """Frames that spell "ab b" and nothing else. With "b" a word, that is the result. With "b" only the start of
    "ba", every hypothesis ends inside a word: they come cut back to their whole words ("ab"), not as no result;
    while a whole-word hypothesis exists, those ending inside a word are left out."""
    frames = log_probs_of([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], [A, B, SPACE])
    assert [VOCAB.decode(t).strip() for t, _ in prefix_beam_search(frames, SPACE, 4, lexicon=Lexicon(["ab", "b"],
                                                                                                    VOCAB))] == ["ab b"]
    cut = prefix_beam_search(frames, SPACE, 4, lexicon=Lexicon(["ab", "ba"], VOCAB))
    assert [VOCAB.decode(t).strip() for t, _ in cut] == ["ab"]
    assert cut[0][1] == pytest.approx(0.0)  # the score of the whole path, the cut word's frames included
    some = log_probs_of([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.5, 0.5]],
                        [A, B, SPACE])  # the last frame may also hold the space: "ab" ends a word there
    assert [VOCAB.decode(t).strip() for t, _ in prefix_beam_search(some, SPACE, 4,
                                                                   lexicon=Lexicon(["ab", "ba"], VOCAB))] == ["ab"]


@pytest.mark.parametrize("seed, with_lexicon", [(0, False), (1, True), (2, True)])
def test_the_search_skips_only_extensions_that_cannot_reach_the_beam(seed, with_lexicon, monkeypatch):
    """The beam's floor (ctc._extend) leaves the n-best, word scores and a lexicon included, exactly as trying
    every candidate of every prefix does, while it makes fewer extensions."""
    from asr.decoding import ctc

    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(60, VOCAB.size)) * 4
    log_probs = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    bonus = 1.5
    score = lambda tokens: bonus - (0.4 * len(tokens)) % 3  # noqa: E731  at most the bonus
    lexicon = Lexicon(["a", "ab", "ba", "abc", "cab", "cc", "bad", "dab", "ca"], VOCAB) if with_lexicon else None
    sizes = {"floor": [], "every": []}
    extend = ctc._extend

    def search(kind):
        def counted(*args):
            out = extend(*args) if kind == "floor" else extend(*args[:9])  # no beam_width: no floor
            sizes[kind].append(len(out))
            return out
        monkeypatch.setattr(ctc, "_extend", counted)
        s = PrefixBeamSearch(VOCAB.space_id, 8, token_prune=-30.0, word_score=score, lexicon=lexicon,
                             word_score_max=bonus)
        s.advance(log_probs)
        return s.nbest()

    assert search("floor") == search("every")
    assert sum(sizes["floor"]) < sum(sizes["every"])
