"""Word-level knowledge for the beam search: hotword boosts and an n-gram language model, as the `word_score` and
`partial_score` hooks of `asr.decoding.ctc.prefix_beam_search`.

Scores are natural-log bonuses added to the CTC log probability of a prefix.
"""
from __future__ import annotations

import math
from collections import defaultdict

from asr.decoding.text import CHARACTERS, Vocabulary, normalize

DEFAULT_HOTWORD_BOOST = 5.0
LOG_10 = math.log(10.0)


def parse_hotword(text: str) -> tuple[str, float]:
    """'WORD' or 'WORD:BOOST' -> (normalised word, boost); ValueError for an empty word or a bad boost."""
    word, sep, boost = text.rpartition(":") if ":" in text else (text, "", "")
    word = normalize(word)
    if not word or " " in word:
        raise ValueError(f"hotword {text!r} must be one word of letters or apostrophes")
    try:
        value = float(boost) if sep else DEFAULT_HOTWORD_BOOST
    except ValueError:
        raise ValueError(f"hotword {text!r}: boost {boost!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"hotword {text!r}: boost must be finite")
    return word, value


class Hotwords:
    """Boost chosen words: `boost` (log domain) for each complete hotword, lent letter by letter while a word
    still spells a hotword's start, so the beam keeps such prefixes long enough to finish them."""

    def __init__(self, boosts: dict[str, float], vocab: Vocabulary):
        self.boosts = {tuple(vocab.encode(w)): b for w, b in boosts.items()}
        self._partial: dict[tuple[int, ...], float] = {}
        for word, boost in self.boosts.items():
            for i in range(1, len(word) + 1):
                share = boost * i / len(word)
                if abs(share) > abs(self._partial.get(word[:i], 0.0)):
                    self._partial[word[:i]] = share
        self._space_id = vocab.space_id

    def word_score(self, tokens: tuple[int, ...]) -> float:
        return self.boosts.get(_last_word(tokens, self._space_id), 0.0)

    @property
    def max_score(self) -> float:
        """The largest word score there is."""
        return max([0.0, *self.boosts.values()])

    def partial_score(self, word: tuple[int, ...]) -> float:
        return self._partial.get(word, 0.0)


class LanguageModelScore:
    """`weight * ln P(word | previous words) + bonus` for each completed word, from an n-gram model with
    `begin_state()` and `score(state, word) -> (log10 probability, next state)` (asr.decoding.lm.NGramLM).

    The search spells words in the vocabulary's units. For a phone model a spelling is a pronunciation, and
    `homophones` (from `homophones_of`) lists the words it may be: each scores as the likeliest of them after
    the words already chosen, and `words(spelled)` gives the words so chosen."""

    def __init__(self, lm, vocab: Vocabulary, weight: float, word_bonus: float,
                 homophones: dict[str, tuple[str, ...]] | None = None):
        self.lm, self.vocab, self.weight, self.word_bonus = lm, vocab, weight, word_bonus
        self.homophones = homophones if homophones is not None else homophones_of(lm, vocab)
        self._states: dict[tuple[str, ...], object] = {(): lm.begin_state()}
        self._scores: dict[tuple[str, ...], float] = {}
        self._words: dict[tuple[str, ...], tuple[str, ...]] = {(): ()}
        self._spelled: dict[tuple[int, ...], tuple[str, ...]] = {}  # _spell's
        self._lm_scores: dict[tuple, float] = {}  # (LM state, word) -> log10 P(word | state)

    def fresh(self) -> "LanguageModelScore":
        """The same scorer with empty caches, for one search: each utterance (and each concurrent stream) gets
        its own, so caches stay small and no two threads share one."""
        return LanguageModelScore(self.lm, self.vocab, self.weight, self.word_bonus, self.homophones)

    def word_score(self, tokens: tuple[int, ...]) -> float:
        return self._score(self._spell(tokens))

    @property
    def max_score(self) -> float:
        """The largest word score there is: the bonus, since a probability is at most 1 (see `_score`)."""
        return self.word_bonus if self.weight >= 0 else math.inf

    def _spell(self, tokens: tuple[int, ...]) -> tuple[str, ...]:
        """The words of `tokens` as text, kept: a search asks about prefixes that extend one it asked about by a
        word, so only the last word is decoded (slicing and hashing the tuples runs in C; decoding in Python)."""
        spelled = self._spelled.get(tokens)
        if spelled is None:
            start, end = _last_word_span(tokens, self.vocab.space_id)
            history_end = _before_spaces(tokens, start, self.vocab.space_id)
            history = self._spelled.get(tokens[:history_end]) if history_end else ()
            if history is None:
                history = tuple(self.vocab.decode(tokens[:history_end]).split())
            last = self.vocab.decode(tokens[start:end])
            spelled = self._spelled[tokens] = history + ((last,) if last else ())
        return spelled

    def words(self, spelled: tuple[str, ...]) -> tuple[str, ...]:
        """The words a sequence of spellings stands for (itself, for a character model)."""
        if spelled not in self._words:
            self._score(spelled)
        return self._words[spelled]

    def _score(self, spelled: tuple[str, ...]) -> float:
        if spelled not in self._scores:
            history = self.words(spelled[:-1])
            state = self._state(history)
            candidates = self.homophones.get(spelled[-1], (spelled[-1],)) if self.homophones else (spelled[-1],)
            log10_p, word = max((self._log10_p(state, w), w) for w in candidates)
            log10_p = min(log10_p, 0.0)  # float16 tables can round a probability of nearly 1 past it
            self._scores[spelled] = self.weight * log10_p * LOG_10 + self.word_bonus
            self._words[spelled] = history + (word,)
        return self._scores[spelled]

    def _log10_p(self, state, word: str) -> float:
        """The LM's log10 P(word | state), kept: prefixes whose words differ only before the LM's context (two
        words for a 3-gram) ask the same (two in five of a search's questions)."""
        key = (state, word)
        log10_p = self._lm_scores.get(key)
        if log10_p is None:
            log10_p = self._lm_scores[key] = self.lm.score(state, word)[0]
        return log10_p

    def state_after(self, words: tuple[str, ...]):
        """The LM's state after `words` (from the sentence's start)."""
        return self._state(words)

    def _state(self, words: tuple[str, ...]):
        if words not in self._states:
            _, self._states[words] = self.lm.score(self._state(words[:-1]), words[-1])
        return self._states[words]


def _lm_words(lm, vocab: Vocabulary) -> list[str]:
    """The words of an n-gram model's vocabulary (no <s>, </s>, <unk>) that `vocab` can spell (a phone
    vocabulary: that are made of the letters of text)."""
    letters = set(CHARACTERS if hasattr(vocab, "pronounce") else vocab.characters) - {" "}
    return sorted(w for w in lm.vocab if not w.startswith("<") and set(w) <= letters)


def homophones_of(lm, vocab: Vocabulary) -> dict[str, tuple[str, ...]] | None:
    """For a phone vocabulary: each pronunciation of the LM's words -> those words; None for characters."""
    if not hasattr(vocab, "pronounce"):
        return None
    out: dict[str, list[str]] = defaultdict(list)
    for word in _lm_words(lm, vocab):
        out[vocab.pronounce(word)].append(word)
    return {spelled: tuple(words) for spelled, words in out.items()}


def lm_lexicon(lm, vocab: Vocabulary):
    """The words of an n-gram model's vocabulary (no <s>, </s>, <unk>) as a Lexicon, in the vocabulary's units."""
    from asr.decoding.ctc import Lexicon
    return Lexicon(_lm_words(lm, vocab), vocab)


class Combined:
    """Sum of several scorers' word and partial scores."""

    def __init__(self, *scorers):
        self.scorers = [s for s in scorers if s is not None]

    def word_score(self, tokens: tuple[int, ...]) -> float:
        return sum(s.word_score(tokens) for s in self.scorers)

    @property
    def max_score(self) -> float:
        """The largest word score there is (unbounded where a scorer does not say)."""
        return sum(getattr(s, "max_score", math.inf) for s in self.scorers)

    def partial_score(self, word: tuple[int, ...]) -> float:
        return sum(s.partial_score(word) for s in self.scorers if hasattr(s, "partial_score"))


def _last_word(tokens: tuple[int, ...], space_id: int) -> tuple[int, ...]:
    start, end = _last_word_span(tokens, space_id)
    return tuple(tokens[start:end])


def _last_word_span(tokens: tuple[int, ...], space_id: int) -> tuple[int, int]:
    """(start, end) of the last word of `tokens`, trailing spaces skipped."""
    end = _before_spaces(tokens, len(tokens), space_id)
    start = end
    while start and tokens[start - 1] != space_id:
        start -= 1
    return start, end


def _before_spaces(tokens: tuple[int, ...], end: int, space_id: int) -> int:
    """`end` moved back over the spaces just before it."""
    while end and tokens[end - 1] == space_id:
        end -= 1
    return end
