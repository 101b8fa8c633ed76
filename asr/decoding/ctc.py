"""CTC decoding over per-frame log posteriors: greedy, prefix beam search, forced alignment and word timings.

Every function is pure numpy over `log_probs: [time, vocab]`, natural-log posteriors whose rows are log-softmax
(column 0 is the blank, see `asr.decoding.text`). Times are `frame * frame_s`, where `frame_s` is the model's output frame
duration in seconds.
"""
from __future__ import annotations

import heapq
import math
from bisect import bisect_right
from dataclasses import dataclass, replace
from operator import itemgetter
from typing import Callable

import numpy as np

from asr.decoding.text import BLANK_ID, Vocabulary

NEG_INF = float("-inf")

WordScore = Callable[[tuple[int, ...]], float]
"""Log-domain bonus for the last word of a prefix (the prefix ends with that word's last character).

The hook for a word-level language model: `prefix_beam_search` calls it when a space completes a word and, at the
end of the utterance, for a final word not followed by a space.
"""

PartialScore = Callable[[tuple[int, ...]], float]
"""Log-domain bonus for an unfinished word (its tokens so far), e.g. a share of a hotword's boost while the word
still spells the start of the hotword. It is given while the word grows and taken back when a space ends the
word (the word score replaces it), so a prefix that leaves a hotword loses what it had been lent.
"""


@dataclass(frozen=True)
class Word:
    word: str
    start_s: float
    end_s: float
    confidence: float  # in [0, 1]


@dataclass(frozen=True)
class Hypothesis:
    text: str
    tokens: tuple[int, ...]  # collapsed token ids, no blanks
    score: float  # log probability: summed over CTC paths (beam search) or of the best path (greedy)
    words: tuple[Word, ...]

    def with_words(self, words) -> "Hypothesis":
        """The same hypothesis with its words written differently (one new spelling per word, same times)."""
        words = list(words)
        return replace(self, text=" ".join(words), words=tuple(replace(w, word=x) for w, x in zip(self.words, words)))


EMPTY_HYPOTHESIS = Hypothesis(text="", tokens=(), score=0.0, words=())


class Lexicon:
    """Words a decoder may output (e.g. the ten digits): beam search keeps only prefixes that spell their start.

    The words are a trie of token ids held in four arrays (what asr.decoding.tables stores and memory-maps): node n's
    children are `child_token[child_start[n]:child_start[n + 1]]` (sorted) with their nodes in `child_node`, and
    `is_word[n]` says whether the path to n spells a whole word; node 0 is the root.
    """

    NEXT_CACHE_SIZE = 100_000  # unfinished words whose next tokens are kept (a search meets a few thousand)
    ARRAYS = ("child_start", "child_token", "child_node", "is_word")

    def __init__(self, words, vocab: Vocabulary, arrays: dict[str, np.ndarray] | None = None):
        """The trie of `words` (text, spelled with `vocab`), or the one `arrays` (from `arrays()`) hold."""
        if arrays is None:
            arrays = _trie_arrays({tuple(vocab.encode(w)) for w in words if w})
        self.child_start, self.child_token, self.child_node, self.is_word_node = (arrays[n] for n in self.ARRAYS)
        self._space_id, self._num_tokens = vocab.space_id, vocab.size
        self._next: dict[tuple[int, ...], frozenset[int]] = {}

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(zip(self.ARRAYS, (self.child_start, self.child_token, self.child_node, self.is_word_node)))

    def node(self, word: tuple[int, ...]) -> int:
        """The trie node that `word` (token ids) spells, or -1 when no word starts so."""
        node = 0
        for token in word:
            start, end = int(self.child_start[node]), int(self.child_start[node + 1])
            i = start + int(np.searchsorted(self.child_token[start:end], token))
            if i == end or self.child_token[i] != token:
                return -1
            node = int(self.child_node[i])
        return node

    def is_word(self, word: tuple[int, ...]) -> bool:
        node = self.node(word)
        return node > 0 and bool(self.is_word_node[node])

    def next_tokens(self, word: tuple[int, ...]) -> frozenset[int]:
        """The tokens that may follow the unfinished word `word` (() after a space): those that keep it the start
        of a word, and a space if it is a whole word. Kept for the words asked about: a search asks about the same
        few (1,198 in a minute of speech, where it checks 684,034 extensions)."""
        allowed = self._next.get(word)
        if allowed is None:
            node = self.node(word)
            if node < 0:
                allowed = frozenset()
            else:
                start, end = int(self.child_start[node]), int(self.child_start[node + 1])
                allowed = frozenset(t for t in self.child_token[start:end].tolist() if t != self._space_id)
                if node > 0 and self.is_word_node[node]:
                    allowed |= {self._space_id}
            if len(self._next) < self.NEXT_CACHE_SIZE:
                self._next[word] = allowed
        return allowed

    def __len__(self) -> int:
        return int(np.count_nonzero(self.is_word_node))

    @property
    def words(self) -> frozenset[tuple[int, ...]]:
        """Every word as a tuple of token ids (walks the whole trie: for tests and reports, not for searching)."""
        out, stack = [], [(0, ())]
        while stack:
            node, spelled = stack.pop()
            if node > 0 and self.is_word_node[node]:
                out.append(spelled)
            for i in range(int(self.child_start[node]), int(self.child_start[node + 1])):
                stack.append((int(self.child_node[i]), spelled + (int(self.child_token[i]),)))
        return frozenset(out)

    @classmethod
    def load(cls, path, vocab: Vocabulary) -> "Lexicon":
        """One word per line (only the first column is read)."""
        with open(path, encoding="utf-8") as f:
            return cls([line.split()[0] for line in f if line.strip()], vocab)


def _trie_arrays(words: set[tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Lexicon's arrays for a set of token-id words, nodes numbered breadth first (children sorted by token)."""
    children: list[dict[int, int]] = [{}]
    ends = [False]
    for word in words:
        node = 0
        for token in word:
            nxt = children[node].get(token)
            if nxt is None:
                nxt = children[node][token] = len(children)
                children.append({})
                ends.append(False)
            node = nxt
        ends[node] = True
    order, numbering = [0], {0: 0}  # breadth first: a node's children get consecutive numbers
    for node in order:
        for token in sorted(children[node]):
            numbering[children[node][token]] = len(order)
            order.append(children[node][token])
    counts = np.array([len(children[node]) for node in order], np.int64)
    child_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    tokens = [t for node in order for t in sorted(children[node])]
    nodes = [numbering[children[node][t]] for node in order for t in sorted(children[node])]
    return {"child_start": child_start, "child_token": np.array(tokens, np.int16),
            "child_node": np.array(nodes, np.int32), "is_word": np.array([ends[node] for node in order], bool)}


def _text(vocab: Vocabulary, tokens) -> str:
    """The words of a token sequence, single-spaced (a model may emit spaces at the edges or twice)."""
    return " ".join(vocab.decode(tokens).split())


def collapse(ids, blank_id: int = 0) -> list[int]:
    """CTC collapse of a frame-level label path `ids: [time]`: merge repeats, then drop blanks."""
    out, previous = [], None
    for i in map(int, ids):
        if i != previous and i != blank_id:
            out.append(i)
        previous = i
    return out


def greedy_decode(log_probs, vocab: Vocabulary, frame_s: float) -> Hypothesis:
    """Best-path decoding of `log_probs: [time, vocab]`; the score is the best path's log probability.

    The argmax path is also the Viterbi path of its own collapsed tokens, so its words equal `word_timings`.
    """
    log_probs = _check_log_probs(log_probs, vocab.size)
    if len(log_probs) == 0:
        return EMPTY_HYPOTHESIS
    path = log_probs.argmax(axis=1)
    score = float(log_probs[np.arange(len(path)), path].sum())
    tokens, first, last = _token_spans(path, vocab.blank_id)
    return Hypothesis(text=_text(vocab, tokens.tolist()), tokens=tuple(tokens.tolist()), score=score,
                      words=_words(log_probs, tokens, first, last, vocab, frame_s))


TOKEN_PRUNE = -12.0  # per frame, tokens whose log posterior is below this are not tried (the best always is)


def beam_search(log_probs, vocab: Vocabulary, frame_s: float, beam_width: int = 8,
                token_prune: float = TOKEN_PRUNE, nbest: int | None = None, lexicon: Lexicon | None = None,
                word_score: WordScore | None = None, partial_score: PartialScore | None = None) -> list[Hypothesis]:
    """CTC prefix beam search over `log_probs: [time, vocab]`: the n-best list, best first, at most `beam_width`
    (or `nbest`, when given: only those hypotheses are aligned for word timings).

    Each hypothesis' score is the log of its total probability over all CTC paths kept by the beam; its words
    come from the Viterbi alignment of its tokens (`word_timings`); with `word_score` or `partial_score` (a
    language model, hotwords) the score includes their bonuses.
    """
    log_probs = _check_log_probs(log_probs, vocab.size)
    if len(log_probs) == 0:
        return [EMPTY_HYPOTHESIS]
    hypotheses = prefix_beam_search(log_probs, vocab.space_id, beam_width, token_prune, word_score=word_score,
                                    blank_id=vocab.blank_id, lexicon=lexicon, partial_score=partial_score)
    return timed_hypotheses(hypotheses[:nbest or beam_width], log_probs, vocab, frame_s)


def timed_hypotheses(hypotheses, log_probs, vocab: Vocabulary, frame_s: float) -> list[Hypothesis]:
    """`[(tokens, score)]` from a search over `log_probs` as Hypotheses with word timings (never an empty list)."""
    if not hypotheses or len(log_probs) == 0:
        return [EMPTY_HYPOTHESIS]
    log_probs = _check_log_probs(log_probs, vocab.size)
    return [Hypothesis(text=_text(vocab, tokens), tokens=tokens, score=score,
                       words=word_timings(log_probs, tokens, vocab, frame_s))
            for tokens, score in hypotheses]


def prefix_beam_search(log_probs, space_id: int, beam_width: int = 8, token_prune: float = TOKEN_PRUNE,
                       word_score: WordScore | None = None, blank_id: int = BLANK_ID,
                       lexicon: Lexicon | None = None,
                       partial_score: PartialScore | None = None) -> list[tuple[tuple[int, ...], float]]:
    """The search behind `beam_search` (Hannun et al. 2014, log space): `[(tokens, score)]`, best first.

    log_probs: [time, vocab]. Each prefix keeps two log probabilities, of its paths ending in a blank and of
    those ending in its last token. Per frame only tokens above `token_prune` (and always the frame's best) are
    expanded. With `word_score` the score is the CTC log probability plus the word bonuses; without, it is the
    CTC log probability alone; `partial_score` adds a bonus to unfinished words (see PartialScore). With a
    `lexicon`, every word of every hypothesis is one of its words.
    """
    log_probs = _check_log_probs(log_probs)
    search = PrefixBeamSearch(space_id, beam_width, token_prune, word_score, blank_id, lexicon, partial_score)
    search.advance(log_probs)
    return search.nbest()


class PrefixBeamSearch:
    """prefix_beam_search frame by frame, for streams: `advance(frames)` as they come, `nbest()` at any time
    (it does not end the search). Fed the same frames in any chunks, it gives prefix_beam_search's result.

    Extensions that cannot reach the beam are not made (see `_extend`), with the same result. `word_score_max`,
    where known, bounds every `word_score` from above (a language model's: its word bonus, since its log
    probabilities are at most 0), so that word ends can be skipped too.
    """

    def __init__(self, space_id: int, beam_width: int = 8, token_prune: float = TOKEN_PRUNE,
                 word_score: WordScore | None = None, blank_id: int = BLANK_ID, lexicon: Lexicon | None = None,
                 partial_score: PartialScore | None = None, word_score_max: float = math.inf):
        if beam_width < 1:
            raise ValueError(f"beam_width must be at least 1, got {beam_width}")
        self.space_id, self.beam_width, self.token_prune, self.blank_id = space_id, beam_width, token_prune, blank_id
        self.word_score, self.lexicon, self.partial_score = word_score, lexicon, partial_score
        self.word_score_max = word_score_max
        self.prefixes = _Prefixes(space_id)
        self.beams: dict[int, tuple[float, float]] = {self.prefixes.EMPTY: (0.0, NEG_INF)}

    def advance(self, log_probs) -> None:
        log_probs = _check_log_probs(log_probs)
        for frame, candidates in zip(log_probs, _candidates(log_probs, self.token_prune, self.blank_id)):
            self.beams = _prune(_extend(self.beams, self.prefixes, frame.tolist(), candidates, self.space_id,
                                        self.word_score, self.blank_id, self.lexicon, self.partial_score,
                                        self.beam_width, self.word_score_max),
                                self.beam_width, self.prefixes)

    def best_so_far(self) -> tuple[int, ...]:
        """The tokens of the most probable prefix now, unfinished last word included (for partial results)."""
        best = max(self.beams.items(), key=lambda item: _logaddexp(*item[1]))[0]
        return self.prefixes.tokens(best)

    def nbest(self) -> list[tuple[tuple[int, ...], float]]:
        """`[(tokens, score)]` of the frames so far, best first, as if they were the last.

        With a lexicon, a hypothesis whose last word is unfinished is left out; if every one is, they are given
        cut back to their last whole word (best score per text), rather than no hypothesis at all."""
        prefixes, word_score, partial_score, lexicon = self.prefixes, self.word_score, self.partial_score, \
            self.lexicon
        nbest, cut = [], {}
        for prefix, (p_blank, p_token) in self.beams.items():
            tokens, score, last = prefixes.tokens(prefix), _logaddexp(p_blank, p_token), prefixes.word(prefix)
            if lexicon is not None and last and not lexicon.is_word(last):
                whole = tokens[:len(tokens) - len(last)]  # the final word is unfinished
                cut[whole] = max(score, cut.get(whole, NEG_INF))
                continue
            if tokens and tokens[-1] != self.space_id and (word_score or partial_score):  # a final word, no space
                score += _end_of_word(prefixes, prefix, word_score, partial_score)
            nbest.append((tokens, score))
        return sorted(nbest or cut.items(), key=lambda item: item[1], reverse=True)


class _Prefixes:
    """The prefixes of one search as integer ids, so that extending or hashing one costs O(1), not O(length).

    Id 0 is the empty prefix; every other id is its parent prefix extended by one token.
    """

    EMPTY = 0

    def __init__(self, space_id: int):
        self._space_id = space_id
        self._parent, self._last, self._word = [-1], [None], [()]
        self.children: dict[tuple[int, int], int] = {}  # (prefix id, token) -> id of the extended prefix
        self.end_of_word: dict[int, float] = {}  # _end_of_word's bonus per prefix id, for this search's scorers
        self._kept: dict[int, tuple[int, ...]] = {}  # tokens(prefix, keep=True)
        self.allowed: dict[int, frozenset[int]] = {}  # the lexicon's next tokens per prefix id (see _extend)

    def extend(self, prefix: int, token: int) -> int:
        """Id of `prefix` followed by `token`."""
        key = (prefix, token)
        child = self.children.get(key)
        if child is None:
            child = self.children[key] = len(self._parent)
            self._parent.append(prefix)
            self._last.append(token)
            self._word.append(() if token == self._space_id else self._word[prefix] + (token,))
        return child

    def word(self, prefix: int) -> tuple[int, ...]:
        """Tokens of the prefix's last, possibly unfinished word (empty after a space)."""
        return self._word[prefix]

    def last(self, prefix: int) -> int | None:
        """The prefix's last token; None for the empty prefix."""
        return self._last[prefix]

    def tokens(self, prefix: int, keep: bool = False) -> tuple[int, ...]:
        """The prefix's token ids, first to last. With `keep` the tuple is kept, so that a later call for a prefix
        that extends this one walks back only to here (the search keeps those of the prefixes that end a word:
        the next word's end then walks one word, not the whole utterance)."""
        out, node, known = [], prefix, ()
        while node != self.EMPTY:
            kept = self._kept.get(node)
            if kept is not None:
                known = kept
                break
            out.append(self._last[node])
            node = self._parent[node]
        tokens = known + tuple(reversed(out))
        if keep:
            self._kept[prefix] = tokens
        return tokens


def _candidates(log_probs: np.ndarray, token_prune: float, blank_id: int) -> list[list[int]]:
    """Per frame of `log_probs: [time, vocab]`, the non-blank token ids to expand: those above `token_prune`,
    and the frame's best; likeliest first (ties by id)."""
    order = np.argsort(-log_probs, axis=1, kind="stable")
    counts = np.maximum((log_probs > token_prune).sum(axis=1), 1)  # the best is first in its row
    return [[c for c in row[:n] if c != blank_id] for row, n in zip(order.tolist(), counts.tolist())]


def _end_of_word(prefixes: _Prefixes, prefix: int, word_score: WordScore | None,
                 partial_score: PartialScore | None) -> float:
    """Bonus change when the prefix's last word ends: its word score in, its partial bonus out.

    Kept per prefix id: a prefix stays in the beam for many frames and is offered a space in each, and the word
    score reads the whole prefix (its words are the LM's history), so asking again would cost O(length) each time.
    One search's scorers never change, so the bonus of a prefix id does not either.
    """
    bonus = prefixes.end_of_word.get(prefix)
    if bonus is None:
        bonus = word_score(prefixes.tokens(prefix, keep=True)) if word_score is not None else 0.0
        if partial_score is not None:
            bonus -= partial_score(prefixes.word(prefix))
        prefixes.end_of_word[prefix] = bonus
    return bonus


def _extend(beams: dict, prefixes: _Prefixes, frame: list[float], candidates: list[int], space_id: int,
            word_score: WordScore | None, blank_id: int, lexicon: Lexicon | None = None,
            partial_score: PartialScore | None = None, beam_width: int | None = None,
            word_score_max: float = math.inf) -> dict:
    """One frame `[vocab]` of prefix beam search: `{prefix id: (log p_blank, log p_token)}` -> the next frame's.

    `candidates` come likeliest first (and `beams` best first, as `_prune` leaves them, so that the floor below
    rises early). Python floats throughout: this inner loop runs beams x candidates times per frame. A prefix met for the first time in a frame gets its probability as is, without a
    log-add with zero. An extension the search has not made before is keyed by its (prefix id, token) pair, and
    gets an id only if it survives the pruning: most do not.

    With `beam_width`, extensions that cannot be among the `beam_width` best are not made, so the result is the
    same with less work. A floor holds the `beam_width`-th best of lower bounds on distinct prefixes: each
    prefix of the beam keeps at least its probability times the frame's blank, and a new prefix (one parent, so
    one extension) has its probability once made. It rises as the new prefixes come. A new prefix below it is
    skipped; so is the tail of a prefix's candidates that lies below it, except for what adds to a prefix of
    the beam (the repeat of the last token, a child in the beam) and a word's end, whose bonus (at most
    `word_score_max`) may lift it.
    """
    out: dict[int, list[float]] = {}
    scored = word_score is not None or partial_score is not None
    p_blank_frame, children, allowed_of, lasts = frame[blank_id], prefixes.children, prefixes.allowed, prefixes._last
    pruning = beam_width is not None and partial_score is None
    floor, lower = NEG_INF, []
    space_slack = max(word_score_max, 0.0) if word_score is not None else 0.0
    totals = [_logaddexp(p_b, p_t) for p_b, p_t in beams.values()]
    if pruning:
        lower = [total + p_blank_frame for total in heapq.nlargest(beam_width, totals)]
        lower.reverse()  # ascending: a min-heap
        if len(lower) == beam_width:
            floor = lower[0]
        descending = [-frame[c] for c in candidates]  # ascending, for bisect
        position = {c: i for i, c in enumerate(candidates)}
        in_beam = _children_in_beam(beams, prefixes)
        space_at = position.get(space_id, -1)
    for (prefix, (p_blank, p_token)), p_total in zip(beams.items(), totals):
        same = out.get(prefix)
        if same is None:
            same = out[prefix] = [p_total + p_blank_frame, NEG_INF]
        else:
            same[0] = _logaddexp(same[0], p_total + p_blank_frame)
        last = lasts[prefix]
        tried = candidates
        if pruning:
            n = bisect_right(descending, p_total - floor)  # the candidates c with p_total + frame[c] >= floor
            if n < len(candidates):
                tried = candidates[:n]
                kin = in_beam.get(prefix, ())
                if position.get(last, -1) >= n:
                    tried.append(last)
                tried += [c for c in kin if c != last and position.get(c, -1) >= n]
                if space_at >= n and space_id != last and space_id not in kin and \
                        p_total + frame[space_id] + space_slack >= floor:
                    tried.append(space_id)
        allowed = None
        if lexicon is not None:
            allowed = allowed_of.get(prefix)
            if allowed is None:
                allowed = allowed_of[prefix] = lexicon.next_tokens(prefixes.word(prefix))
        for c in tried:
            if c == last:
                same[1] = _logaddexp(same[1], p_token + frame[c])  # repeat merges into the same token
                p_new = p_blank + frame[c]  # a new repeat of the token needs a blank before it
            else:
                p_new = p_total + frame[c]
            if allowed is not None and c not in allowed:
                continue
            if c == space_id:
                if scored and last not in (None, space_id):
                    p_new += _end_of_word(prefixes, prefix, word_score, partial_score)
            elif partial_score is not None:
                word = prefixes.word(prefix)
                p_new += partial_score(word + (c,)) - (partial_score(word) if word else 0.0)
            key = (prefix, c)
            child = children.get(key, key)  # the pair stands for an extension not seen before (see _prune)
            extended = out.get(child)
            if extended is not None:
                extended[1] = _logaddexp(extended[1], p_new)
            elif type(child) is tuple or child not in beams:  # a new prefix, whose probability this is
                if p_new < floor:
                    continue
                out[child] = [NEG_INF, p_new]
                if pruning:
                    if len(lower) < beam_width:
                        heapq.heappush(lower, p_new)
                        if len(lower) == beam_width:
                            floor = lower[0]
                    elif p_new > floor:
                        heapq.heapreplace(lower, p_new)
                        floor = lower[0]
            else:  # a prefix of the beam, met before its own turn
                out[child] = [NEG_INF, p_new]
    return out


def _children_in_beam(beams: dict, prefixes: _Prefixes) -> dict[int, list[int]]:
    """{prefix id: the tokens that extend it to another prefix of the beam}."""
    out: dict[int, list[int]] = {}
    parents, lasts = prefixes._parent, prefixes._last
    for prefix in beams:
        parent = parents[prefix]
        if parent in beams:
            if parent in out:
                out[parent].append(lasts[prefix])
            else:
                out[parent] = [lasts[prefix]]
    return out


def _prune(beams: dict, beam_width: int, prefixes: _Prefixes) -> dict:
    """The `beam_width` most probable prefixes with non-zero probability, as `{prefix id: (log p_blank, log
    p_token)}`; ties keep insertion order. Keys of `beams` that are (prefix id, token) pairs get their ids here."""
    totals = [(_logaddexp(p[0], p[1]), key, p) for key, p in beams.items()]
    best = heapq.nlargest(beam_width, totals, key=itemgetter(0))  # = sorted(..., reverse=True)[:beam_width]
    return {(prefixes.extend(*key) if type(key) is tuple else key): (p[0], p[1])
            for total, key, p in best if total > NEG_INF}


def _logaddexp(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) of two Python floats: `np.logaddexp` without its per-call overhead."""
    if a < b:
        a, b = b, a
    return a if b == NEG_INF else a + math.log1p(math.exp(b - a))


def forced_align(log_probs, tokens) -> np.ndarray:
    """Viterbi CTC alignment: the frame at which each token is first emitted on the single best path.

    log_probs: [time, vocab]; tokens: [n] collapsed ids (no blanks) -> int array [n]. Raises ValueError when
    the tokens cannot fit in the frames (a repeated token needs a blank in between) or no path has non-zero
    probability.
    """
    log_probs = _check_log_probs(log_probs)
    tokens = _check_tokens(tokens, log_probs.shape[1], BLANK_ID)
    if len(tokens) == 0:
        return np.zeros(0, dtype=np.int64)
    _, first, _ = _token_spans(_viterbi_path(log_probs, tokens, BLANK_ID), BLANK_ID)
    return first


def word_timings(log_probs, tokens, vocab: Vocabulary, frame_s: float) -> tuple[Word, ...]:
    """Words of `tokens: [n]` split at spaces, timed and scored on their Viterbi path in `log_probs: [time, vocab]`.

    A word runs from its first character's first frame to the end of its last character's last frame (trailing
    blanks excluded); its confidence is exp(mean log posterior of its characters at their emission frames).
    """
    log_probs = _check_log_probs(log_probs, vocab.size)
    tokens = _check_tokens(tokens, vocab.size, vocab.blank_id)
    if len(tokens) == 0:
        return ()
    path = _viterbi_path(log_probs, tokens, vocab.blank_id)
    _, first, last = _token_spans(path, vocab.blank_id)
    return _words(log_probs, tokens, first, last, vocab, frame_s)


def _viterbi_path(log_probs: np.ndarray, tokens: np.ndarray, blank_id: int) -> np.ndarray:
    """Label per frame `[time]` of the best CTC path for `tokens: [n]` (n > 0) through `log_probs: [time, vocab]`.

    States are the tokens interleaved with blanks, `[blank, t0, blank, t1, ..., blank]` (2n + 1 of them); a state
    is reached from itself, the previous state, or two back when that skips a blank between different tokens.
    """
    num_frames, n = len(log_probs), len(tokens)
    repeats = tokens[1:] == tokens[:-1]
    needed = n + int(repeats.sum())
    if num_frames < needed:
        raise ValueError(f"{n} tokens need at least {needed} frames, got {num_frames}")
    states = np.full(2 * n + 1, blank_id, dtype=np.int64)
    states[1::2] = tokens
    num_states = len(states)
    emit = log_probs[:, states]  # [time, states]
    can_skip = np.zeros(num_states, dtype=bool)
    can_skip[3::2] = ~repeats
    score = np.full(num_states, NEG_INF)
    score[:2] = emit[0, :2]
    came_from = np.zeros((num_frames, num_states), dtype=np.int8)  # 0 stay, 1 from previous, 2 skip a blank
    moves = np.full((3, num_states), NEG_INF)  # [move, states]
    for t in range(1, num_frames):
        moves[0] = score
        moves[1, 1:] = score[:-1]
        moves[2, 2:] = np.where(can_skip[2:], score[:-2], NEG_INF)
        came_from[t] = moves.argmax(axis=0)
        score = moves.max(axis=0) + emit[t]
    state = num_states - 1 if score[-1] >= score[-2] else num_states - 2
    if score[state] == NEG_INF:
        raise ValueError("no alignment of the tokens has non-zero probability")
    path = np.empty(num_frames, dtype=np.int64)
    for t in range(num_frames - 1, -1, -1):
        path[t] = state
        state -= int(came_from[t, state])
    return states[path]


def _token_spans(path, blank_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tokens emitted by a frame path `[time]`, each with its first and last frame: three int arrays `[n]`."""
    path = np.asarray(path, dtype=np.int64)
    if len(path) == 0:
        return path, path, path
    changes = path[1:] != path[:-1]
    starts = np.flatnonzero((path != blank_id) & np.concatenate(([True], changes)))
    run_ends = np.flatnonzero(np.concatenate((changes, [True])))
    return path[starts], starts, run_ends[np.searchsorted(run_ends, starts)]


def _words(log_probs: np.ndarray, tokens: np.ndarray, first: np.ndarray, last: np.ndarray, vocab: Vocabulary,
           frame_s: float) -> tuple[Word, ...]:
    """Words of `tokens: [n]` split at `vocab.space_id`, given each token's first and last frame (`[n]` each)."""
    emitted = log_probs[first, tokens]  # [n] log posterior of each character where it is emitted
    words, start = [], 0
    for end in range(len(tokens) + 1):
        if end == len(tokens) or tokens[end] == vocab.space_id:
            if end > start:
                confidence = float(np.clip(np.exp(emitted[start:end].mean()), 0.0, 1.0))
                words.append(Word(word=vocab.decode(tokens[start:end].tolist()),
                                  start_s=float(first[start] * frame_s), end_s=float((last[end - 1] + 1) * frame_s),
                                  confidence=confidence))
            start = end + 1
    return tuple(words)


def _check_log_probs(log_probs, vocab_size: int | None = None) -> np.ndarray:
    """`log_probs` as a float64 array `[time, vocab]`; ValueError on another rank or a vocabulary mismatch."""
    log_probs = np.asarray(log_probs, dtype=np.float64)
    if log_probs.ndim != 2:
        raise ValueError(f"log_probs must be [time, vocab], got shape {log_probs.shape}")
    if vocab_size is not None and log_probs.shape[1] != vocab_size:
        raise ValueError(f"log_probs has {log_probs.shape[1]} outputs but the vocabulary has {vocab_size}")
    return log_probs


def _check_tokens(tokens, vocab_size: int, blank_id: int) -> np.ndarray:
    """`tokens` as an int array `[n]`; ValueError on a blank or an id outside the vocabulary."""
    tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
    if np.any((tokens < 0) | (tokens >= vocab_size) | (tokens == blank_id)):
        raise ValueError(f"tokens must be non-blank ids below {vocab_size}, got {tokens.tolist()}")
    return tokens
