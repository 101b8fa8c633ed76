"""asr.decoding.lm: modified Kneser-Ney estimation (checked by hand and against lmplz), ARPA files, queries, perplexity,
and the `asr lm` command."""
import math
import random
import subprocess
import sys
from collections import Counter
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from asr.cli import main
from asr.decoding import lm

TINY = [["a", "b"], ["a", "b"], ["b", "a"]]


def markov_corpus(n_sentences: int = 300, vocab_size: int = 150, seed: int = 0) -> list[list[str]]:
    """A deterministic artificial corpus (1,485 words): each word mostly followed by one of three favourites.

    Only Random.random() is used: Python keeps its sequence for a seed across versions.
    """
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(vocab_size)]

    def pick(options):
        return options[int(rng.random() * len(options))]
    successors = {w: [pick(words) for _ in range(3)] for w in ["<s>", *words]}
    sentences = []
    for _ in range(n_sentences):
        word, sentence = "<s>", []
        while not sentence or (len(sentence) < 15 and rng.random() > 0.2):
            word = pick(successors[word]) if rng.random() < 0.7 else pick(words)
            sentence.append(word)
        sentences.append(sentence)
    return sentences


MARKOV = markov_corpus()


def p(model: lm.ArpaModel, ngram: str) -> float:
    """Probability (not log) of an n-gram as stored in the model."""
    g = tuple(ngram.split())
    return 10 ** model.ngrams[len(g) - 1][g][0]


def backoff(model: lm.ArpaModel, ngram: str) -> float:
    g = tuple(ngram.split())
    return 10 ** model.ngrams[len(g) - 1][g][1]


# --- estimation worked out by hand ----------------------------------------------------------------------------

def test_discounts_from_counts_of_counts():
    # t1..t4 = 5, 2, 1, 1: Y = 5 / (5 + 2 * 2) = 5/9; D1 = 1 - 2 Y t2/t1 = 1 - 4/9 = 5/9;
    # D2 = 2 - 3 Y t3/t2 = 2 - 5/6 = 7/6; D3+ = 3 - 4 Y t4/t3 = 3 - 20/9 = 7/9.
    assert lm.discounts([5, 2, 1, 1]) == pytest.approx([5 / 9, 7 / 6, 7 / 9])
    assert lm.discounts([3, 3, 0, 0]) == lm.FALLBACK_DISCOUNTS  # no n-gram seen 3 times: no D2
    assert lm.discounts([1, 1, 5, 0]) == lm.FALLBACK_DISCOUNTS  # Y = 1/3, D2 = 2 - 3 (1/3) 5/1 < 0
    with pytest.raises(ValueError, match="zero"):
        lm.discounts([3, 3, 0, 0], fallback=None)


def test_trigram_model_worked_by_hand():
    # Corpus: "a b", "a b", "b a": <s> a b </s> (twice), <s> b a </s>. Every order's counts of counts have a zero,
    # so every order uses the fallback discounts D1, D2, D3+ = 1/2, 1, 3/2.
    model = lm.estimate(TINY, order=3)
    assert model.discounts == [lm.FALLBACK_DISCOUNTS] * 3
    # Unigrams: continuation counts (how many different words precede): a {<s>, b} = 2, b {<s>, a} = 2,
    # </s> {a, b} = 2. Total 6; interpolation weight = (D2 + D2 + D2) / 6 = 1/2, spread over the 4 words that
    # can be predicted (a, b, </s>, <unk>; not <s>): p(a) = (2 - 1)/6 + (1/2)(1/4) = 7/24; p(<unk>) = 1/8.
    for word in ("a", "b", "</s>"):
        assert p(model, word) == pytest.approx(7 / 24)
    assert p(model, "<unk>") == pytest.approx(1 / 8)
    # Bigrams (continuation counts again, except after <s>, which keeps raw counts):
    # after <s>: a 2 (raw), b 1 (raw); total 3, weight (D2 + D1)/3 = 1/2.
    # p(a|<s>) = (2 - 1)/3 + (1/2)(7/24) = 23/48; p(b|<s>) = (1 - 1/2)/3 + 7/48 = 15/48.
    assert p(model, "<s> a") == pytest.approx(23 / 48)
    assert p(model, "<s> b") == pytest.approx(15 / 48)
    assert backoff(model, "<s>") == pytest.approx(1 / 2)
    # after a: b {<s>} = 1, </s> {b} = 1; total 2, weight (1/2 + 1/2)/2 = 1/2.
    # p(b|a) = (1 - 1/2)/2 + (1/2)(7/24) = 19/48 (raw counts, as in a bigram model, would give 23/48).
    assert p(model, "a b") == pytest.approx(19 / 48)
    assert p(model, "a </s>") == pytest.approx(19 / 48)
    assert backoff(model, "a") == pytest.approx(1 / 2)
    # Trigrams (raw counts): <s> a -> b twice; total 2, weight D2/2 = 1/2. p(b|<s> a) = (2 - 1)/2 + (1/2)(19/48).
    assert p(model, "<s> a b") == pytest.approx(67 / 96)
    assert p(model, "a b </s>") == pytest.approx(67 / 96)
    assert backoff(model, "<s> a") == pytest.approx(1 / 2)
    # Queries back off: p(a|<s> a) = b(<s> a) b(a) p(a) = (1/2)(1/2)(7/24) = 7/96; p(<unk>|<s> a) = 3/96.
    # With p(b|<s> a) = 67/96 and p(</s>|<s> a) = b(<s> a) p(</s>|a) = 19/96, the four sum to 96/96.
    q = lm.NGramLM(model)
    state = q.begin_state()
    assert state == ("<s>",)
    log10_p, state = q.score(state, "a")
    assert 10 ** log10_p == pytest.approx(23 / 48) and state == ("<s>", "a")
    assert 10 ** q.score(state, "a")[0] == pytest.approx(7 / 96)
    assert q.score(state, "a")[1] == ("a",)  # "<s> a a" and "a a" are not in the model: the state is "a"
    assert 10 ** q.score(state, "b")[0] == pytest.approx(67 / 96)
    assert 10 ** q.end_score(state) == pytest.approx(19 / 96)
    assert 10 ** q.score(state, "<unk>")[0] == pytest.approx(3 / 96)


def test_highest_order_uses_raw_counts():
    # As a bigram model, "a b" is the highest order: raw counts. After a: b 2, </s> 1; total 3, weight
    # (D2 + D1)/3 = 1/2; p(b|a) = (2 - 1)/3 + (1/2)(7/24) = 23/48 (19/48 in the trigram model above).
    model = lm.estimate(TINY, order=2)
    assert p(model, "a b") == pytest.approx(23 / 48)
    assert p(model, "a </s>") == pytest.approx(15 / 48)


def test_pruning_moves_the_removed_mass_to_the_backoff():
    # Bigram model of TINY pruning bigrams seen once (<s> b, b a, a </s>). Discounts are those of the full
    # counts. After <s>: a 2 kept, b 1 dropped; total 3. The backoff weight takes the dropped count whole:
    # (D2 + 1)/3 = 2/3 (it was (D2 + D1)/3 = 1/2; the extra 1/6 is b's discounted mass (1 - 1/2)/3).
    # p(a|<s>) = (2 - 1)/3 + (2/3)(7/24) = 19/36; p(b|<s>) = (2/3)(7/24) = 7/36 by backoff.
    # Check: 19/36 + (2/3)(p(b) + p(</s>) + p(<unk>)) = 19/36 + (2/3)(17/24) = 19/36 + 17/36 = 1.
    model = lm.estimate(TINY, order=2, prune=(0, 1))
    assert set(model.ngrams[1]) == {("<s>", "a"), ("a", "b"), ("b", "</s>")}
    assert p(model, "<s> a") == pytest.approx(19 / 36)
    assert backoff(model, "<s>") == pytest.approx(2 / 3)
    q = lm.NGramLM(model)
    assert 10 ** q.score(q.begin_state(), "b")[0] == pytest.approx(7 / 36)
    assert lm.estimate(TINY, order=2).counts[1] == 6


def test_bad_arguments_are_errors():
    with pytest.raises(ValueError, match="added around"):
        lm.estimate([["a", "</s>"]])
    with pytest.raises(ValueError, match="non-decreasing"):
        lm.estimate(TINY, order=3, prune=(0, 2, 1))
    with pytest.raises(ValueError, match="unigrams"):
        lm.estimate(TINY, order=3, prune=(1,))
    with pytest.raises(ValueError, match="no sentences"):
        lm.estimate([], order=3)


# --- every context sums to one ----------------------------------------------------------------------------------

def assert_sums_to_one(q: lm.NGramLM, model: lm.ArpaModel, tolerance: float):
    """Sum over the vocabulary and </s> (not <s>) after every context of the model, and after the states met
    walking some sentences."""
    states = {g[:-1] for table in model.ngrams[1:] for g in table} | {()}
    for words in MARKOV[:20] + [["w1", "zzz", "w2"]]:
        state = q.begin_state()
        for word in words:
            state = q.score(state, word)[1]
            states.add(state)
    words = [w for w in q.vocab if w != "<s>"]
    assert "</s>" in words and "<unk>" in words
    for state in states:
        total = math.fsum(10 ** q.score(state, w)[0] for w in words)
        assert total == pytest.approx(1.0, abs=tolerance), state


@pytest.mark.parametrize("order", [2, 3, 4])
@pytest.mark.parametrize("pruned", [False, True])
def test_every_context_sums_to_one(order, pruned):
    prune = ((0, 1) if order == 2 else (0, 0, 1)) if pruned else ()
    model = lm.estimate(MARKOV, order=order, prune=prune)
    full = lm.estimate(MARKOV, order=order)
    if pruned:
        assert model.counts[-1] < full.counts[-1] / 2  # pruning did remove n-grams
    assert_sums_to_one(lm.NGramLM(model), model, 1e-12)


def test_every_context_sums_to_one_after_an_arpa_file(tmp_path):
    model = lm.estimate(MARKOV, order=4, prune=(0, 0, 1))
    lm.write_arpa(model, tmp_path / "lm.arpa")
    back = lm.read_arpa(tmp_path / "lm.arpa")
    assert_sums_to_one(lm.NGramLM(back), back, 1e-5)  # 7 significant digits in the file


def test_a_closed_vocabulary():
    """Text words outside it count as <unk>; its words the text lacks get the uniform share of the unigrams."""
    vocabulary = {f"w{i}" for i in range(100)} | {"zzz", "yyy"}
    model = lm.estimate(MARKOV, order=3, prune=(0, 0, 1), vocabulary=vocabulary)
    unked = [[w if w in vocabulary else "<unk>" for w in words] for words in MARKOV]
    assert model.counts[1:] == lm.estimate(unked, order=3, prune=(0, 0, 1)).counts[1:]
    q = lm.NGramLM(model)
    assert q.vocab == vocabulary | {"<s>", "</s>", "<unk>"}
    assert model.ngrams[0][("zzz",)] == model.ngrams[0][("yyy",)] < model.ngrams[0][("<unk>",)]
    assert_sums_to_one(q, model, 1e-12)
    with pytest.raises(ValueError, match="</s>"):
        lm.estimate(MARKOV, order=2, vocabulary=["</s>"])


# --- the same numbers as KenLM's lmplz ---------------------------------------------------------------------------
# Recorded from lmplz (KenLM 0.3.0, built from its PyPI sdist) on markov_corpus() written one sentence per line:
#   lmplz -o 3 < corpus.txt;   lmplz -o 3 --prune 0 0 1 < corpus.txt;
#   lmplz -o 4 --prune 0 1 1 2 --discount_fallback < corpus.txt   (its 4-gram D3+ would be -0.30: fallback)
# "sums": per order, the sum of log10 probabilities (lmplz writes 0 for <s>, left out) and of log10 backoffs.
LMPLZ = {
    (3, ()): {
        "counts": [151, 820, 1137],
        "discounts": [(0.272727, 0.704545, 1.33493), (0.654292, 1.07784, 1.91574), (0.839196, 1.6853, 1.04188)],
        "sums": [(-339.7373, -32.83), (-1034.1074, -59.2221), (-918.3873, 0.0)],
        "ngrams": {"<unk>": (-2.8303592, 0), "</s>": (-0.8612087, 0), "w141": (-2.2256665, -0.207918),
                   "<s>": (None, -0.7443565), "<s> w10": (-2.698076, -0.07613661),
                   "w134 w3": (-1.5720108, -0.07613661), "<s> w10 w7": (-0.62353617, 0),
                   "w99 w36 w104": (-0.4462869, 0)},
    },
    (3, (0, 0, 1)): {
        "counts": [151, 820, 135],
        "discounts": [(0.272727, 0.704545, 1.33493), (0.654292, 1.07784, 1.91574), (0.839196, 1.6853, 1.04188)],
        "sums": [(-339.7373, -32.83), (-1034.1074, -9.6661), (-99.98, 0.0)],
        "ngrams": {"w141": (-2.2256665, -0.207918), "<s> w10": (-2.698076, 0), "<s> w107": (-2.2989402, -0.074352376),
                   "<s> w107 w129": (-0.52721244, 0), "w97 w51 </s>": (-0.4854121, 0)},
    },
    (4, (0, 1, 1, 2)): {
        "counts": [151, 291, 135, 21],
        "discounts": [(0.272727, 0.704545, 1.33493), (0.654292, 1.07784, 1.91574), (0.87291, 1.79326, 3),
                      (0.5, 1, 1.5)],
        "sums": [(-339.7373, -17.3814), (-278.9753, -3.915), (-115.0205, -2.1882), (-13.3147, 0.0)],
        "ngrams": {"<unk>": (-2.8303592, 0), "w141": (-2.2256665, -0.12540318), "<s>": (None, -0.6323416),
                   "<s> w107": (-2.2519698, -0.047387175), "w136 w96": (-0.98905003, -0.023047587),
                   "<s> w113 w147": (-0.6684783, -0.19188553), "<s> w113 w147 </s>": (-0.64070946, 0),
                   "w63 w62 w95 w136": (-0.2947128, 0)},
    },
}


@pytest.mark.parametrize("order,prune", list(LMPLZ))
def test_matches_lmplz(order, prune):
    expected = LMPLZ[(order, prune)]
    model = lm.estimate(MARKOV, order=order, prune=prune)
    assert model.counts == expected["counts"]
    for got, want in zip(model.discounts, expected["discounts"]):
        assert got == pytest.approx(want, rel=1e-5)  # lmplz prints 6 significant digits
    for table, (prob_sum, backoff_sum) in zip(model.ngrams, expected["sums"]):
        assert math.fsum(pr for g, (pr, _) in table.items() if g != ("<s>",)) == pytest.approx(prob_sum, abs=2e-3)
        assert math.fsum(bo for _, bo in table.values()) == pytest.approx(backoff_sum, abs=2e-3)
    for ngram, (prob, bo) in expected["ngrams"].items():
        got_prob, got_bo = model.ngrams[len(ngram.split()) - 1][tuple(ngram.split())]
        if prob is not None:
            assert got_prob == pytest.approx(prob, abs=1e-6), ngram
        assert got_bo == pytest.approx(bo, abs=1e-6), ngram


# --- ARPA files ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["lm.arpa", "lm.arpa.gz"])
def test_arpa_round_trip(tmp_path, name):
    model = lm.estimate(MARKOV, order=3, prune=(0, 0, 1))
    path = tmp_path / name
    lm.write_arpa(model, path)
    back = lm.read_arpa(path)
    assert back.counts == model.counts
    for table, table_back in zip(model.ngrams, back.ngrams):
        assert table.keys() == table_back.keys()
        for g, (prob, bo) in table.items():
            assert table_back[g] == pytest.approx((prob, bo), rel=1e-6, abs=1e-9)
    original, loaded = lm.NGramLM(model), lm.NGramLM(back)
    for words in MARKOV:
        assert loaded.sentence_log10(words) == pytest.approx(original.sentence_log10(words), abs=1e-5)
        state_a, state_b = original.begin_state(), loaded.begin_state()
        for word in words:
            state_a, state_b = original.score(state_a, word)[1], loaded.score(state_b, word)[1]
            assert state_a == state_b
    again = tmp_path / ("again-" + name)
    lm.write_arpa(back, again)
    assert again.read_bytes() == path.read_bytes()  # written numbers read back to themselves; gzip without mtime


def test_arpa_layout(tmp_path):
    lm.write_arpa(lm.estimate(TINY, order=2), tmp_path / "lm.arpa")
    lines = (tmp_path / "lm.arpa").read_text().splitlines()
    assert lines[:4] == ["\\data\\", "ngram 1=5", "ngram 2=6", ""]
    assert lines[4] == "\\1-grams:" and lines[-1] == "\\end\\"
    assert "-99\t<s>\t-0.30103" in lines  # log10 backoff of 1/2
    assert f"{math.log10(23 / 48):.7g}\t<s> a" in lines


def test_read_arpa_rejects_malformed_files(tmp_path):
    path = tmp_path / "bad.arpa"
    path.write_text("\\data\\\nngram 1=2\n\n\\1-grams:\n-1.0\ta\n-x\tb\n\\end\\\n")
    with pytest.raises(ValueError, match=r"bad.arpa:6: not a number"):
        lm.read_arpa(path)
    path.write_text("\\data\\\nngram 1=3\n\n\\1-grams:\n-1.0\ta\n-1.0\tb\n\\end\\\n")
    with pytest.raises(ValueError, match="declares"):
        lm.read_arpa(path)


# --- queries -----------------------------------------------------------------------------------------------------

def test_unknown_words_score_as_unk():
    q = lm.NGramLM(lm.estimate(TINY, order=3))
    after_a = q.score(q.begin_state(), "a")[1]
    log10_p, state = q.score(after_a, "zebra")
    assert (log10_p, state) == q.score(after_a, "<unk>")
    assert 10 ** log10_p == pytest.approx(3 / 96)  # b(<s> a) b(a) p(<unk>), worked out above
    assert state == ()  # <unk> starts no n-gram: nothing of the history matters any more
    assert 10 ** q.score(state, "a")[0] == pytest.approx(7 / 24)


def test_states_keep_only_the_history_that_matters():
    # The state after a history is its longest suffix that is a context in the model: scoring from it must
    # give what standard backoff gives from the whole history (the last order - 1 words).
    q = lm.NGramLM(lm.estimate(MARKOV, order=4, prune=(0, 0, 1)))
    next_words = ["w0", "w5", "w17", "</s>", "<unk>"]
    shorter = 0
    for words in MARKOV[:30]:
        history, state = ("<s>",), q.begin_state()
        for word in words:
            for w in next_words:
                assert q.score(state, w)[0] == pytest.approx(q.score(history, w)[0], abs=1e-12)
            state = q.score(state, word)[1]
            history = (*history, word)[-3:]
            assert history[len(history) - len(state):] == state
            shorter += len(state) < len(history)
    assert shorter > 100  # most states are shorter than the history


def test_perplexity_of_a_unigram_model():
    # Order 1: raw counts a 3, b 3, </s> 3, all "seen 3 times": fallback D3+ = 3/2. Weight (3 x 3/2)/9 = 1/2
    # over 4 words: p(a) = p(b) = p(</s>) = (3 - 3/2)/9 + 1/8 = 7/24, p(<unk>) = 1/8.
    q = lm.NGramLM(lm.estimate(TINY, order=1))
    result = lm.perplexity(q, [["a", "b"]])  # 3 tokens (a, b, </s>) of probability 7/24 each
    assert result.perplexity == pytest.approx(24 / 7)
    assert (result.words, result.sentences, result.oovs, result.oov_rate) == (2, 1, 0, 0.0)
    result = lm.perplexity(q, [["a", "zebra"]])
    assert result.perplexity == pytest.approx(float(1 / (Fraction(7, 24) ** 2 * Fraction(1, 8))) ** (1 / 3))
    assert result.perplexity_without_oov == pytest.approx(24 / 7)
    assert (result.oovs, result.oov_rate) == (1, 0.5)


# --- packed tables ---------------------------------------------------------------------------------------------

def rounded_to_float16(model: lm.ArpaModel) -> lm.ArpaModel:
    """The model with every log10 probability and backoff rounded as PackedLM stores them."""
    def r(x):
        return float(np.float16(x))
    return lm.ArpaModel([{g: (r(prob), r(bo)) for g, (prob, bo) in table.items()} for table in model.ngrams])


def packed_state_words(words: list[str], arrays: dict, state: tuple[int, int]) -> tuple[str, ...]:
    """The words of a PackedLM state (order, row), read back from the arrays: the row's last word, then its
    context row's, down to a unigram."""
    n, row = state
    out = []
    while n > 1:
        out.insert(0, words[int(arrays[f"words_{n}"][row])])
        row = int(np.searchsorted(arrays[f"start_{n}"], row, side="right")) - 1
        n -= 1
    return (words[row], *out) if n == 1 else tuple(out)


def query_walks(model: lm.ArpaModel, count: int, seed: int = 0) -> list[list[str]]:
    """Word sequences to query: stretches of the corpus (hits up to the top order) with about a third of the words
    replaced by random words of the vocabulary or an unknown one (backoff chains of every length)."""
    rng = random.Random(seed)
    vocab = sorted(g[0] for g in model.ngrams[0] if g[0] != "<s>") + ["zebra"]
    walks = []
    for _ in range(count):
        sentence = MARKOV[int(rng.random() * len(MARKOV))]
        walks.append([w if rng.random() < 0.65 else vocab[int(rng.random() * len(vocab))] for w in sentence[:10]])
    return walks


@pytest.mark.parametrize("order, prune", [(1, ()), (2, ()), (2, (0, 1)), (3, ()), (3, (0, 0, 1)), (4, ()),
                                          (4, (0, 0, 1))])
def test_a_packed_lm_scores_as_ngram_lm_up_to_float16_rounding(order, prune):
    """Each score is exactly NGramLM's over the model rounded to float16 (the same terms summed in the same order),
    within 2e-3 of the unrounded model's; each state is NGramLM's; the queries reach every order and back off."""
    model = lm.estimate(MARKOV, order=order, prune=prune)
    words, arrays = lm.PackedLM.pack(model)
    packed, parsed, rounded = lm.PackedLM(words, arrays), lm.NGramLM(model), lm.NGramLM(rounded_to_float16(model))
    assert packed.vocab == parsed.vocab
    found_orders, chains = Counter(), 0
    for walk in query_walks(model, 400):
        a, b = parsed.begin_state(), packed.begin_state()
        for word in (*walk, "</s>"):
            history = (*a, word if word in parsed.vocab else "<unk>")
            found = max(k for k in range(1, len(history) + 1) if history[-k:] in model.ngrams[k - 1])
            found_orders[found] += 1
            chains += found < len(history)
            (pa, a), (pb, b), (pr, _) = parsed.score(a, word), packed.score(b, word), rounded.score(a, word)
            assert pb == pr and pb == pytest.approx(pa, abs=2e-3), (a, word)
            assert packed_state_words(words, arrays, b) == a
    assert set(found_orders) == set(range(1, order + 1)) and (chains > 100 or order == 1)


def test_packed_tables_hold_float16_and_nothing_the_top_order_never_reads():
    """Backoffs and suffix states only below the top order (only those rows can be contexts), and suffix states
    only from order 3 (a unigram's is the empty history, a bigram's the unigram of its last word)."""
    model = lm.estimate(MARKOV, order=4, prune=(0, 0, 1))
    _, arrays = lm.PackedLM.pack(model)
    per_row = {f"{name}_{n}" for n in range(1, 5) for name in ("prob", "state_order", "state_row")}
    by_context = {f"{name}_{n}" for n in (2, 3, 4) for name in ("words", "start")}
    below_top = {"backoff_1", "backoff_2", "backoff_3", "suffix_order_3", "suffix_row_3"}
    assert set(arrays) == {"order"} | per_row | by_context | below_top
    for n, count in enumerate(model.counts, 1):
        assert arrays[f"prob_{n}"].dtype == np.float16 and len(arrays[f"prob_{n}"]) == count
        if n > 1:
            assert arrays[f"words_{n}"].dtype == np.uint32 and len(arrays[f"words_{n}"]) == count
            assert len(arrays[f"start_{n}"]) == model.counts[n - 2] + 1 and arrays[f"start_{n}"][-1] == count
    assert sum(a.nbytes for a in arrays.values()) < 18 * sum(model.counts)  # bytes per n-gram


def test_packing_refuses_log10_values_beyond_float16():
    model = lm.estimate(TINY, order=2)
    model.ngrams[1][("a", "b")] = (-1e6, 0.0)
    with pytest.raises(ValueError, match="float16"):
        lm.PackedLM.pack(model)


# --- asr lm ------------------------------------------------------------------------------------------------------

def test_cli_estimates_from_normalised_text(tmp_path, capsys):
    (tmp_path / "one.txt").write_text("A b!\n\n  A, B.\n")
    (tmp_path / "two.txt").write_text("B \u2014 a\n")
    out = tmp_path / "models" / "lm.arpa.gz"
    assert main(["lm", str(tmp_path / "one.txt"), str(tmp_path / "two.txt"), "--order", "3", "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    model = lm.read_arpa(out)
    assert model.counts == lm.estimate(TINY, order=3).counts
    assert 10 ** model.ngrams[2][("<s>", "a", "b")][0] == pytest.approx(67 / 96)
    pruned = tmp_path / "pruned.arpa"
    assert main(["lm", str(tmp_path / "one.txt"), "--order", "2", "--prune", "0", "1", "--out", str(pruned)]) == 0
    assert lm.read_arpa(pruned).counts == [5, 3]  # <s> a b </s> <unk>; "a b" twice: <s> a, a b, b </s> kept
    (tmp_path / "vocab.txt").write_text("A\nC\nd'S\nnot one word\n")
    with_vocab = tmp_path / "vocab.arpa"
    assert main(["lm", str(tmp_path / "one.txt"), "--vocab", str(tmp_path / "vocab.txt"), "--out",
                 str(with_vocab)]) == 0
    assert {g[0] for g in lm.read_arpa(with_vocab).ngrams[0]} == {"<s>", "</s>", "<unk>", "a", "c", "d's"}  # b: <unk>


def test_cli_errors(tmp_path):
    (tmp_path / "empty.txt").write_text("...\n")
    assert main(["lm", str(tmp_path / "empty.txt"), "--out", str(tmp_path / "x.arpa")]) == 1
    assert main(["lm", str(tmp_path / "empty.txt"), "--prune", "0", "2", "1", "--out", str(tmp_path / "x.arpa")]) == 2
    run = subprocess.run([sys.executable, "-m", "asr.cli", "lm", str(tmp_path / "missing.txt"), "--out",
                          str(tmp_path / "x.arpa")], check=False, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr == f"asr: error: {tmp_path / 'missing.txt'}: no such file\n"
    assert not (tmp_path / "x.arpa").exists()


def test_recipe_lm_text(tmp_path):
    """recipes/mini_librispeech/lm_text.py on a tiny fake data folder: validation speakers held out, dev-clean-2
    never read, LJ Speech's normalised column used, books cut into sentences, and sentences with digits dropped."""
    data = tmp_path / "data"
    for split, speaker, text in [("train-clean-5", "19", "HELLO THERE"), ("train-clean-5", "1737", "HELD OUT"),
                                 ("train-clean-5", "7312", "ALSO HELD"), ("dev-clean-2", "84", "NEVER READ")]:
        chapter = data / "librispeech-mini" / split / speaker / "1"
        chapter.mkdir(parents=True)
        (chapter / f"{speaker}-1.trans.txt").write_text(f"{speaker}-1-0000 {text}\n")
    (data / "ljspeech").mkdir()
    (data / "ljspeech" / "metadata.csv").write_text("LJ1|Mr. Smith, 1st|Mister Smith, first\nLJ2|x|it's 12\n")
    (data / "books").mkdir()
    (data / "books" / "01-a-book.txt").write_text('"Call me Ishmael." Some years ago[12]--never mind how long!\n'
                                                  "In 1851 it was printed. Was it?\n")
    out = tmp_path / "lm"
    script = Path(__file__).resolve().parents[2] / "recipes" / "mini_librispeech" / "lm_text.py"
    run = subprocess.run([sys.executable, str(script), str(data), str(out)], check=False, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (out / "librispeech.txt").read_text() == "hello there\n"
    assert (out / "valid.txt").read_text() == "held out\nalso held\n"
    assert (out / "ljspeech.txt").read_text() == "mister smith first\n"
    assert "ljspeech: 1 sentences dropped for digits" in run.stdout
    assert (out / "books.txt").read_text() == "call me ishmael\nsome years ago never mind how long\nwas it\n"
    assert "books: 1 sentences dropped for digits" in run.stdout
