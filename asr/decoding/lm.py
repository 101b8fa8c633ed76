"""Word n-gram language models: interpolated modified Kneser-Ney estimation, ARPA files, fast backoff queries.

`estimate` follows Chen & Goodman (1998) as KenLM's lmplz does: each sentence is `<s> w1 ... wn </s>`; the highest
order uses raw counts, lower orders use continuation counts (how many different words precede the n-gram; an
n-gram that starts with `<s>` keeps its raw count, nothing can precede it); each order has three discounts
D1, D2, D3+ computed from its counts of counts; every order is interpolated with the one below, and unigrams with
the uniform distribution over the vocabulary (every word seen, `</s>` and `<unk>`; not `<s>`, which is never
predicted). The result is written as an ARPA backoff model, whose backoff weights are the interpolation weights.

Pruning (`prune=(0, 0, 1)` as lmplz's `--prune 0 0 1`) drops n-grams whose raw count is at most the threshold of
their order; the discounts and the other n-grams' probabilities stay as they were, and the mass of each dropped
n-gram goes to its context's backoff weight, so every context still sums to one.

All probabilities and backoff weights are log10, as in ARPA files. An n-gram is a tuple of words.
"""
from __future__ import annotations

import bisect
import contextlib
import gzip
import io
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
BOS_LOG10 = -99.0  # <s> is never predicted; ARPA files give it this placeholder probability (as lmplz does)
MISSING_UNK_LOG10 = -100.0  # an OOV word's score in a model without <unk> (as KenLM does)
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # lmplz --discount_fallback: when counts of counts cannot give discounts
ARPA_DIGITS = 7  # significant digits written: float32 precision

NGram = tuple[str, ...]
State = tuple[str, ...]


@dataclass
class ArpaModel:
    """A backoff n-gram model as an ARPA file holds it.

    `ngrams[n - 1]` maps each n-gram of order n to (log10 probability, log10 backoff weight); the backoff is 0.0
    for n-grams that are no context (and for the highest order). `discounts[n - 1]` is (D1, D2, D3+) of order n
    when the model was estimated here (empty when read from a file).
    """

    ngrams: list[dict[NGram, tuple[float, float]]]
    discounts: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def order(self) -> int:
        return len(self.ngrams)

    @property
    def counts(self) -> list[int]:
        """Number of n-grams of each order."""
        return [len(table) for table in self.ngrams]


# --- estimation ------------------------------------------------------------------------------------------------

def count_ngrams(sentences: Iterable[Sequence[str]], order: int) -> list[Counter]:
    """Raw counts `[order][ngram]` of every n-gram of orders 1..order in `<s> sentence </s>`, each ending at a
    predicted word (so `<s>` alone is never counted)."""
    counts = [Counter() for _ in range(order)]
    for words in sentences:
        if BOS in words or EOS in words:
            raise ValueError(f"{BOS} and {EOS} are added around each sentence; found inside {list(words)!r}")
        tokens = (BOS, *words, EOS)
        for end in range(1, len(tokens)):
            for n in range(1, min(order, end + 1) + 1):
                counts[n - 1][tokens[end + 1 - n:end + 1]] += 1
    return counts


def adjusted_counts(raw: list[Counter]) -> list[dict[NGram, int]]:
    """Kneser-Ney counts: raw for the highest order and for n-grams that start with <s>; otherwise the number of
    different words seen before the n-gram. <unk> and <s> get 0 when absent (never seen as predicted words)."""
    adjusted: list[dict[NGram, int]] = [dict(raw[-1])]
    for n in range(len(raw) - 1, 0, -1):  # n: the order below raw[n]
        left = Counter(ngram[1:] for ngram in raw[n])
        adjusted.insert(0, {g: (c if g[0] == BOS else left[g]) for g, c in raw[n - 1].items()})
    for word in (UNK, BOS):
        adjusted[0].setdefault((word,), 0)
    return adjusted


def discounts(counts_of_counts: Sequence[int], fallback: tuple[float, float, float] | None = FALLBACK_DISCOUNTS,
              ) -> tuple[float, float, float]:
    """(D1, D2, D3+) from t1..t4, the numbers of n-grams of one order seen exactly 1, 2, 3 and 4 times (Chen &
    Goodman, equation 26): Y = t1 / (t1 + 2 t2), Dk = k - (k + 1) Y t(k+1) / tk.

    When some of t1..t3 is 0 or a discount falls outside [0, k], `fallback` is returned (None: ValueError).
    """
    t1, t2, t3, t4 = counts_of_counts
    try:
        if min(t1, t2, t3) == 0:
            raise ValueError(f"counts of counts {list(counts_of_counts)} have a zero: no Kneser-Ney discounts")
        y = t1 / (t1 + 2 * t2)
        result = (1 - 2 * y * t2 / t1, 2 - 3 * y * t3 / t2, 3 - 4 * y * t4 / t3)
        if not all(0 <= d <= k for k, d in enumerate(result, 1)):
            raise ValueError(f"discounts {result} out of range for counts of counts {list(counts_of_counts)}")
    except ValueError:
        if fallback is None:
            raise
        return fallback
    return result


def prune_thresholds(prune: Sequence[int], order: int) -> list[int]:
    """Per-order pruning thresholds from lmplz-style `prune` (the last value repeats for higher orders)."""
    prune = list(prune) or [0]
    if len(prune) > order:
        raise ValueError(f"prune has {len(prune)} thresholds for an order-{order} model")
    if prune[0] != 0:
        raise ValueError("unigrams cannot be pruned: the first prune threshold must be 0")
    if any(b < a for a, b in pairwise(prune)) or min(prune) < 0:
        raise ValueError(f"prune thresholds must be >= 0 and non-decreasing, got {prune}")
    return prune + [prune[-1]] * (order - len(prune))


def estimate(sentences: Iterable[Sequence[str]], order: int = 3, prune: Sequence[int] = (),
             discount_fallback: tuple[float, float, float] | None = FALLBACK_DISCOUNTS,
             vocabulary: Iterable[str] | None = None) -> ArpaModel:
    """An interpolated modified Kneser-Ney model of `sentences` (lists of words, without <s> and </s>).

    prune: lmplz-style thresholds per order, e.g. (0, 0, 1) drops n-grams of order 3 and above seen once; an
    n-gram is dropped when its raw count is at most its order's threshold. Thresholds must not decrease with the
    order, which keeps the prefix and suffix of every kept n-gram.
    discount_fallback: (D1, D2, D3+) for an order whose counts of counts give no discounts (tiny or artificial
    text); None raises ValueError instead.
    vocabulary: a closed vocabulary (such as LibriSpeech's 200k words) instead of the text's words: a word of the
    text outside it is counted as <unk>, and one of it the text lacks joins the uniform distribution the unigrams
    are interpolated with (a continuation count of 0, as an unseen <unk> has), so it gets that share and no more.
    """
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    thresholds = prune_thresholds(prune, order)
    if vocabulary is not None:
        vocabulary = frozenset(vocabulary)
        if BOS in vocabulary or EOS in vocabulary:
            raise ValueError(f"{BOS} and {EOS} cannot be vocabulary words: they are added around each sentence")
        sentences = ([w if w in vocabulary else UNK for w in words] for words in sentences)
    raw = count_ngrams(sentences, order)
    if not raw[0]:
        raise ValueError("no sentences to estimate a language model from")
    adjusted = adjusted_counts(raw)
    for word in sorted(vocabulary or ()):
        adjusted[0].setdefault((word,), 0)
    model_discounts = []
    for table in adjusted:
        t = Counter(table.values())
        model_discounts.append(discounts([t[1], t[2], t[3], t[4]], discount_fallback))

    tables = [_unigram_probabilities(adjusted[0], model_discounts[0])]
    weights: list[dict[NGram, float]] = []  # weights[n - 1]: backoff weight of each context of order n
    for n in range(2, order + 1):
        probs, context_weights = _interpolate(adjusted[n - 1], raw[n - 1], model_discounts[n - 1],
                                              thresholds[n - 1], tables[-1])
        tables.append(probs)
        weights.append(context_weights)

    ngrams = []
    for n, table in enumerate(tables, 1):
        backoff = weights[n - 1] if n < order else {}
        ngrams.append({g: (min(0.0, math.log10(p)), math.log10(backoff[g]) if g in backoff else 0.0)
                       for g, p in table.items()})
    ngrams[0][(BOS,)] = (BOS_LOG10, math.log10(weights[0].get((BOS,), 1.0)) if order > 1 else 0.0)
    return ArpaModel(ngrams, model_discounts)


def _discount(d: tuple[float, float, float], count: int) -> float:
    return 0.0 if count == 0 else d[min(count, 3) - 1]


def _unigram_probabilities(counts: dict[NGram, int], d: tuple[float, float, float]) -> dict[NGram, float]:
    """Discounted continuation counts plus the interpolation weight spread evenly over the vocabulary (every
    unigram but <s>)."""
    total = sum(counts.values())
    uniform_mass = sum(_discount(d, a) for a in counts.values()) / total / (len(counts) - 1)
    return {g: (a - _discount(d, a)) / total + uniform_mass for g, a in counts.items() if g != (BOS,)}


def _interpolate(counts: dict[NGram, int], raw: Counter, d: tuple[float, float, float], threshold: int,
                 lower: dict[NGram, float]) -> tuple[dict[NGram, float], dict[NGram, float]]:
    """One order: P(w | h) = (a(h w) - D(a)) / a(h .) + gamma(h) P(w | h minus its first word), for the n-grams
    whose raw count is above `threshold`, and gamma(h) for each context h that keeps at least one of them.

    gamma(h) = (sum of D(a) over kept n-grams + sum of a over dropped ones) / a(h .): a dropped n-gram's whole
    count leaves the discounted part and joins the backoff mass, so P(. | h) still sums to one.
    """
    totals: dict[NGram, list[float]] = {}  # h -> [a(h .), backoff mass]
    for g, a in counts.items():
        total = totals.setdefault(g[:-1], [0.0, 0.0])
        total[0] += a
        total[1] += a if raw[g] <= threshold else _discount(d, a)
    probs, weights = {}, {}
    for g, a in counts.items():
        if raw[g] > threshold:
            total, mass = totals[g[:-1]]
            weights[g[:-1]] = mass / total
            probs[g] = (a - _discount(d, a)) / total + weights[g[:-1]] * lower[g[1:]]
    return probs, weights


# --- ARPA files ------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _open(path, mode: str):
    """Text file, gzip-compressed when the name ends in .gz (written with no name and no time in the gzip
    header: the same model gives the same bytes)."""
    if not str(path).endswith(".gz"):
        with open(path, mode + "t", encoding="utf-8") as f:
            yield f
    elif "w" in mode:
        with open(path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as packed, \
                io.TextIOWrapper(packed, encoding="utf-8") as f:
            yield f
    else:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            yield f


def _number(x: float) -> str:
    return f"{x:.{ARPA_DIGITS}g}"


def write_arpa(model: ArpaModel, path) -> None:
    """Write `model` in ARPA format (gzip when `path` ends in .gz), n-grams sorted within each order.

    Lines are `log10_prob<TAB>w1 ... wn[<TAB>log10_backoff]`; a backoff of 0 is left out.
    """
    with _open(path, "w") as f:
        f.write("\\data\\\n")
        f.writelines(f"ngram {n}={count}\n" for n, count in enumerate(model.counts, 1))
        for n, table in enumerate(model.ngrams, 1):
            f.write(f"\n\\{n}-grams:\n")
            for g in sorted(table):
                prob, backoff = table[g]
                tail = f"\t{_number(backoff)}" if backoff != 0.0 else ""
                f.write(f"{_number(prob)}\t{' '.join(g)}{tail}\n")
        f.write("\n\\end\\\n")


def read_arpa(path) -> ArpaModel:
    """Read an ARPA file (gzip when the name ends in .gz); ValueError, naming the line, for a malformed one."""
    declared: list[int] = []
    ngrams: list[dict[NGram, tuple[float, float]]] = []
    n = 0  # order of the section being read; 0 before the first
    started = False  # anything before \data\ is a comment
    with _open(path, "r") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not started or not line:
                started = started or line == "\\data\\"
                continue
            if line.startswith("\\"):
                if line == "\\end\\":
                    break
                if line.endswith("-grams:"):
                    n = int(line[1:-len("-grams:")])
                    if n != len(ngrams) + 1:
                        raise ValueError(f"{path}:{number}: section {line!r} out of order")
                    ngrams.append({})
                continue
            if line.startswith("ngram ") and not ngrams:
                declared.append(int(line.split("=")[1]))
                continue
            fields = line.split()
            if n == 0 or len(fields) not in (n + 1, n + 2):
                raise ValueError(f"{path}:{number}: expected an {n}-gram line, got {line[:80]!r}")
            try:
                prob = float(fields[0])
                backoff = float(fields[n + 1]) if len(fields) == n + 2 else 0.0
            except ValueError:
                raise ValueError(f"{path}:{number}: not a number in {line[:80]!r}") from None
            ngrams[-1][tuple(fields[1:n + 1])] = (prob, backoff)
    counts = [len(table) for table in ngrams]
    if not ngrams or counts != declared:
        raise ValueError(f"{path}: header declares {declared} n-grams per order but the file holds {counts}")
    return ArpaModel(ngrams)


# --- queries ---------------------------------------------------------------------------------------------------

class NGramLM:
    """Backoff queries on an ARPA model, for decoders: `score(state, word) -> (log10 prob, next state)`.

    A state is a tuple of the last words that matter: the longest suffix of the history (at most order - 1 words)
    that is a context in the model, so histories that score every next word alike share one hashable state.
    Words outside the vocabulary are scored as <unk>.
    """

    def __init__(self, model: ArpaModel):
        self.order = model.order
        self.vocab = frozenset(g[0] for g in model.ngrams[0])
        self.unk = UNK if UNK in self.vocab else None
        contexts = {g for table in model.ngrams[:-1] for g, (_, backoff) in table.items() if backoff != 0.0}
        contexts |= {g[:-1] for table in model.ngrams[1:] for g in table}
        self._backoffs = {g: bo for table in model.ngrams[:-1] for g, (_, bo) in table.items() if bo != 0.0}
        self._entries: dict[NGram, tuple[float, State]] = {}
        for table in model.ngrams:
            for g, (prob, _) in table.items():
                state = g[-(self.order - 1):] if self.order > 1 else ()
                while state and state not in contexts:
                    state = state[1:]
                self._entries[g] = (prob, state)

    @classmethod
    def from_arpa(cls, path) -> NGramLM:
        return cls(read_arpa(path))

    def begin_state(self) -> State:
        """The state at the start of a sentence (after <s>)."""
        return self._entries[(BOS,)][1] if (BOS,) in self._entries else ()

    def score(self, state: State, word: str) -> tuple[float, State]:
        """log10 P(word | state) by standard backoff, and the state after `word`."""
        if word not in self.vocab:
            if self.unk is None:
                return MISSING_UNK_LOG10, ()
            word = self.unk
        entries, backoffs = self._entries, self._backoffs
        ngram = state + (word,)
        backoff = 0.0
        entry = entries.get(ngram)
        while entry is None:
            backoff += backoffs.get(ngram[:-1], 0.0)
            ngram = ngram[1:]
            entry = entries.get(ngram)
        return entry[0] + backoff, entry[1]

    def end_score(self, state: State) -> float:
        """log10 P(</s> | state): the cost of ending the sentence here."""
        return self.score(state, EOS)[0]

    def sentence_log10(self, words: Sequence[str]) -> float:
        """log10 P(<s> words </s>)."""
        state, total = self.begin_state(), 0.0
        for word in words:
            log10_p, state = self.score(state, word)
            total += log10_p
        return total + self.end_score(state)


@dataclass(frozen=True)
class Perplexity:
    """Perplexity over words and </s> (one per sentence); OOV words are scored as <unk> in `perplexity` and left
    out of `perplexity_without_oov` (as KenLM's query reports both)."""

    perplexity: float
    perplexity_without_oov: float
    oov_rate: float  # OOV words / words (</s> not counted)
    sentences: int
    words: int
    oovs: int
    log10_prob: float


def perplexity(lm: NGramLM, sentences: Iterable[Sequence[str]]) -> Perplexity:
    """Perplexity of `lm` on `sentences` (lists of words), each scored from <s> to </s>."""
    total = total_in_vocab = 0.0
    n_sentences = n_words = n_oov = 0
    for words in sentences:
        state = lm.begin_state()
        for word in (*words, EOS):
            log10_p, state = lm.score(state, word)
            total += log10_p
            if word in lm.vocab:
                total_in_vocab += log10_p
            else:
                n_oov += 1
        n_sentences += 1
        n_words += len(words)
    tokens = n_words + n_sentences
    if not tokens:
        raise ValueError("no sentences to compute a perplexity on")
    return Perplexity(perplexity=10 ** (-total / tokens),
                      perplexity_without_oov=10 ** (-total_in_vocab / max(1, tokens - n_oov)),
                      oov_rate=n_oov / max(1, n_words), sentences=n_sentences, words=n_words, oovs=n_oov,
                      log10_prob=total)


def sentences_from_lines(lines: Iterable[str], normalize=None) -> Iterator[list[str]]:
    """The words of each line that has any, after `normalize` (a function of a string, e.g. asr.decoding.text.normalize)."""
    for line in lines:
        words = (normalize(line) if normalize else line).split()
        if words:
            yield words


# --- packed tables ---------------------------------------------------------------------------------------------

WORD_DTYPE = np.uint32  # a word id in `words_n`
LOG10_DTYPE = np.float16  # a stored log10 probability or backoff: rounded by at most 2^-11 of its magnitude


class PackedLM:
    """NGramLM's queries over arrays instead of Python dictionaries: built once from an ARPA model (`pack`),
    stored as arrays (asr.decoding.tables memory-maps them), and loaded in milliseconds.

    Words are numbered in the order of `words` (the unigrams, sorted); unigram row = word id. The n-grams of an
    order n >= 2 are rows sorted by (context row, last word id), their context being their first n - 1 words as a
    row of order n - 1: `words_n` holds each row's last word, and the rows of context row r are
    `start_n[r]:start_n[r + 1]`, so a lookup is a binary search of the word in that slice. A state is (order, row):
    the longest suffix of the history that is a context of the model, as NGramLM's tuple states are; (0, 0) is the
    empty history. Per row: log10 probability (`prob_n`) and the row's own state after it (`state_order_n`,
    `state_row_n`); the rows of the orders below the top, the only ones that can be contexts, also have a log10
    backoff (`backoff_n`) and, for the backoff chain, the state of their longest suffix in the model without their
    first word: (0, 0) for a unigram, the unigram of its last word for a bigram, stored (`suffix_order_n`,
    `suffix_row_n`) from order 3. Probabilities and backoffs are float16, so a score equals NGramLM's up to that
    rounding of each term it sums (at most 2^-11 of the term's magnitude).
    """

    def __init__(self, words: list[str], arrays: dict[str, np.ndarray]):
        self.words = words
        self.order = int(np.asarray(arrays["order"]).reshape(-1)[0])
        self.size = len(words)
        self._id = {w: i for i, w in enumerate(words)}
        self.vocab = frozenset(words)
        self.unk = UNK if UNK in self._id else None
        top = self.order
        self._prob = _by_order(arrays, "prob", 1, top, view=False)  # float16, read with .item(): no memoryview
        self._backoff = _by_order(arrays, "backoff", 1, top - 1, view=False)
        self._state_order = _by_order(arrays, "state_order", 1, top)
        self._state_row = _by_order(arrays, "state_row", 1, top)
        self._words, self._start = _by_order(arrays, "words", 2, top), _by_order(arrays, "start", 2, top)
        self._suffix_order = _by_order(arrays, "suffix_order", 3, top - 1)
        self._suffix_row = _by_order(arrays, "suffix_row", 3, top - 1)
        bos = self._id.get(BOS)
        self._begin = self._state_of(1, bos) if bos is not None else (0, 0)

    def _state_of(self, n: int, row: int) -> State:
        return self._state_order[n][row], self._state_row[n][row]

    def _suffix_of(self, n: int, row: int) -> tuple[int, int]:
        """The state the backoff chain goes on to from context row `row` of order n."""
        if n == 1:
            return 0, 0
        if n == 2:
            return 1, self._words[2][row]
        return self._suffix_order[n][row], self._suffix_row[n][row]

    def _find(self, n: int, context: int, wid: int) -> int:
        """The row of order n whose context is row `context` of order n - 1 and whose last word is `wid`, or -1."""
        start, words = self._start[n], self._words[n]
        lo, hi = start[context], start[context + 1]
        i = bisect.bisect_left(words, wid, lo, hi)
        return i if i < hi and words[i] == wid else -1

    def begin_state(self):
        """The state at the start of a sentence (after <s>)."""
        return self._begin

    def score(self, state, word: str) -> tuple[float, tuple[int, int]]:
        """log10 P(word | state) by standard backoff, and the state after `word`."""
        wid = self._id.get(word)
        if wid is None:
            if self.unk is None:
                return MISSING_UNK_LOG10, (0, 0)
            wid = self._id[self.unk]
        n, row = state
        backoff = 0.0
        while n > 0:
            i = self._find(n + 1, row, wid)
            if i >= 0:
                return self._prob[n + 1].item(i) + backoff, self._state_of(n + 1, i)
            backoff += self._backoff[n].item(row)
            n, row = self._suffix_of(n, row)
        return self._prob[1].item(wid) + backoff, self._state_of(1, wid)

    def end_score(self, state) -> float:
        return self.score(state, EOS)[0]

    @staticmethod
    def pack(model: ArpaModel) -> tuple[list[str], dict[str, np.ndarray]]:
        """(words, arrays) of an ARPA model, for PackedLM(words, arrays). ValueError for a model whose n-grams
        lack their context (an n-gram whose first n - 1 words are not an n-gram of the order below) or whose
        log10 values are beyond float16's range."""
        order = model.order
        words = sorted(g[0] for g in model.ngrams[0])
        ids = {w: i for i, w in enumerate(words)}
        rows: list[dict[NGram, int]] = [{(w,): i for i, w in enumerate(words)}]
        arrays: dict[str, np.ndarray] = {"order": np.array(order, np.int32)}
        for n in range(2, order + 1):
            order_rows, arrays[f"words_{n}"], arrays[f"start_{n}"] = _by_context(model.ngrams[n - 1], rows[-1], ids)
            rows.append(order_rows)
        contexts = {g for table in model.ngrams[:-1] for g, (_, backoff) in table.items() if backoff != 0.0}
        contexts |= {g[:-1] for table in model.ngrams[1:] for g in table}

        def state_of(ngram: NGram) -> tuple[int, int]:
            """(order, row) of the longest suffix of `ngram` (at most order - 1 words) that is a context."""
            suffix = ngram[-(order - 1):] if order > 1 else ()
            while suffix and suffix not in contexts:
                suffix = suffix[1:]
            return (len(suffix), rows[len(suffix) - 1][suffix]) if suffix else (0, 0)

        def present_suffix(ngram: NGram) -> tuple[int, int]:
            """(order, row) of the longest proper suffix of `ngram` that is in the model."""
            suffix = ngram[1:]
            while suffix and suffix not in rows[len(suffix) - 1]:
                suffix = suffix[1:]
            return (len(suffix), rows[len(suffix) - 1][suffix]) if suffix else (0, 0)

        for n in range(1, order + 1):
            table = model.ngrams[n - 1]
            grams = list(rows[n - 1])  # in row order: each dictionary was built so
            arrays[f"prob_{n}"] = _log10_array([table[g][0] for g in grams])
            _put_states(arrays, "state", n, [state_of(g) for g in grams])
            if n < order:
                arrays[f"backoff_{n}"] = _log10_array([table[g][1] for g in grams])
            if 3 <= n < order:
                _put_states(arrays, "suffix", n, [present_suffix(g) for g in grams])
        return words, arrays


def _by_order(arrays: dict[str, np.ndarray], name: str, first: int, last: int, view: bool = True) -> list:
    """[None] * first + arrays `name_n` for n = first..last (memoryviews with `view`: indexing one gives a Python
    number, faster than a NumPy scalar)."""
    found = [np.ascontiguousarray(arrays[f"{name}_{n}"]) for n in range(first, last + 1)]
    return [None] * first + [memoryview(a) if view else a for a in found]


def _by_context(table: dict[NGram, tuple[float, float]], context_rows: dict[NGram, int], ids: dict[str, int],
                ) -> tuple[dict[NGram, int], np.ndarray, np.ndarray]:
    """The n-grams of one order n >= 2 as rows sorted by (context row, last word id): {n-gram: row}, each row's
    last word id, and the first row of each context row of order n - 1 followed by the number of rows."""
    keyed = []
    for g in table:
        context = context_rows.get(g[:-1])
        if context is None:
            raise ValueError(f"the {len(g)}-gram {' '.join(g)!r} has no context {' '.join(g[:-1])!r} in the model")
        keyed.append((context, ids[g[-1]], g))
    keyed.sort()
    contexts = np.array([c for c, _, _ in keyed], np.int64)
    start = np.zeros(len(context_rows) + 1, np.int64)
    start[1:] = np.cumsum(np.bincount(contexts, minlength=len(context_rows)))
    offsets = np.int32 if len(keyed) < 2 ** 31 else np.int64
    return ({g: i for i, (_, _, g) in enumerate(keyed)}, np.array([w for _, w, _ in keyed], WORD_DTYPE),
            start.astype(offsets))


def _log10_array(values: list[float]) -> np.ndarray:
    """log10 values as LOG10_DTYPE; ValueError for one beyond its range (or not a number)."""
    limit = float(np.finfo(LOG10_DTYPE).max)
    bad = [v for v in values if not -limit <= v <= limit]
    if bad:
        raise ValueError(f"log10 value {bad[0]} beyond float16's range (+-{limit:g})")
    return np.array(values, LOG10_DTYPE)


def _put_states(arrays: dict[str, np.ndarray], name: str, n: int, states: list[tuple[int, int]]) -> None:
    """Store (order, row) pairs as `name_order_n` (int8) and `name_row_n` (int32)."""
    arrays[f"{name}_order_{n}"] = np.array([o for o, _ in states], np.int8)
    arrays[f"{name}_row_{n}"] = np.array([r for _, r in states], np.int32)
