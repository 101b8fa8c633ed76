"""Phones as output units: the 39 ARPAbet phones of the CMU pronouncing dictionary (stress dropped), a word's
pronunciation from the dictionary or, for words it lacks, from spelling rules, and `PhoneVocabulary`, which lets
the character machinery (CTC labels, prefix beam search, lexicon, word LM) run on phones unchanged.

The trick: each phone is written as one character (its code, `PHONE_CODES`) and words are separated by spaces as
in text, so a word's "spelling" in a phone model is its pronunciation (`she` -> SH IY -> `Dr`).
`tokens.txt` of a phone model lists the phone names; `pronunciations.txt.gz` beside it maps words to phones.
"""
from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from asr.decoding.text import BLANK_ID, BLANK_SYMBOL, Vocabulary

PHONES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z "
          "ZH").split()
PHONE_CODES = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM"  # one character per phone, in PHONES order
CODE = dict(zip(PHONES, PHONE_CODES))
PHONE = dict(zip(PHONE_CODES, PHONES))
PRONUNCIATIONS_FILE = "pronunciations.txt.gz"

# Spelling rules for words the dictionary lacks (names, mostly): longest letter group first. Rough, but such words
# are 1.6 % of the training words, and a pronunciation a rule gets half right still trains the rest of the clip.
_RULES = sorted({
    "tion": "SH AH N", "sion": "ZH AH N", "ough": "AO", "augh": "AO", "eigh": "EY", "igh": "AY",
    "tch": "CH", "sch": "S K", "ch": "CH", "sh": "SH", "th": "TH", "ph": "F", "gh": "G", "ng": "NG", "ck": "K",
    "qu": "K W", "wh": "W", "kn": "N", "wr": "R", "ee": "IY", "ea": "IY", "ie": "IY", "ei": "EY", "oo": "UW",
    "ou": "AW", "ow": "OW", "oa": "OW", "oi": "OY", "oy": "OY", "ai": "EY", "ay": "EY", "au": "AO", "aw": "AO",
    "ew": "UW", "ey": "IY", "er": "ER", "ir": "ER", "ur": "ER", "ar": "AA R", "or": "AO R", "'s": "Z",
    "a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F", "g": "G", "h": "HH", "i": "IH", "j": "JH",
    "k": "K", "l": "L", "m": "M", "n": "N", "o": "AA", "p": "P", "q": "K", "r": "R", "s": "S", "t": "T", "u": "AH",
    "v": "V", "w": "W", "x": "K S", "y": "Y", "z": "Z", "'": "",
}.items(), key=lambda rule: -len(rule[0]))


def guess_pronunciation(word: str) -> list[str]:
    """Phones of a word by spelling rules (for words the dictionary lacks): letter groups left to right, longest
    first; doubled consonants once; c and g soft before e, i, y; a final silent e; y a vowel after a consonant."""
    word = re.sub(r"([b-df-hj-np-tv-z])\1", r"\1", word)
    if len(word) > 3 and word.endswith("e") and word[-2] not in "aeiouy":
        word = word[:-1]
    phones, i = [], 0
    while i < len(word):
        rest, nxt = word[i:], word[i + 1:i + 2]
        if rest[0] in "cg" and nxt and nxt in "eiy":
            phones.append("S" if rest[0] == "c" else "JH")
            i += 1
            continue
        if rest[0] == "y" and i > 0:
            phones.append("IY" if i == len(word) - 1 else "IH")
            i += 1
            continue
        letters, value = next(((k, v) for k, v in _RULES if rest.startswith(k)), (None, None))
        if letters is None:
            raise ValueError(f"cannot pronounce {word!r}: {rest[0]!r} is not a letter of normalised text")
        phones += value.split()
        i += len(letters)
    return phones


def read_cmudict(path) -> dict[str, list[str]]:
    """`word PH1 PH2 ...` lines (CMU dictionary format; stress digits and `# comments` dropped), first
    pronunciation of each word kept; variants (`word(2)`) are skipped."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return parse_cmudict(f)


def parse_cmudict(lines) -> dict[str, list[str]]:
    """read_cmudict of lines of text."""
    out: dict[str, list[str]] = {}
    for line in lines:
        parts = line.split("#")[0].split()
        if len(parts) < 2 or "(" in parts[0] or parts[0] in out:
            continue
        phones = [p.rstrip("012") for p in parts[1:]]
        if all(p in CODE for p in phones):
            out[parts[0]] = phones
    return out


def cmudict_path() -> Path:
    """The CMU pronouncing dictionary shipped by pocketsphinx (`pip install pocketsphinx`)."""
    try:
        import pocketsphinx
    except ImportError:
        raise RuntimeError("phone models need the CMU pronouncing dictionary from pocketsphinx: "
                           "pip install pocketsphinx") from None
    return Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"


class PhoneVocabulary(Vocabulary):
    """A Vocabulary whose "characters" are phone codes: encode(text) pronounces each word, decode(ids) gives the
    phone codes with spaces between words, and `spell(text)` is what a perfect model would output for text.

    Built from a dictionary (word -> phone names, `pronunciations`) or, as asr.decoding.tables stores it, from the words in
    the dictionary's order and their spellings in phone codes (`from_spellings`); each form is made from the other
    only when asked for."""

    def __init__(self, pronunciations: dict[str, list[str]]):
        super().__init__(" " + PHONE_CODES)
        object.__setattr__(self, "_pronunciations", pronunciations)
        object.__setattr__(self, "_lists", None)

    @classmethod
    def from_spellings(cls, words: list[str], spellings: list[str]) -> "PhoneVocabulary":
        """The vocabulary of `words` (the dictionary's order) pronounced `spellings` (phone codes)."""
        if len(words) != len(spellings):
            raise ValueError(f"{len(words)} words but {len(spellings)} pronunciations")
        vocab = cls.__new__(cls)
        Vocabulary.__init__(vocab, " " + PHONE_CODES)
        object.__setattr__(vocab, "_pronunciations", None)
        object.__setattr__(vocab, "_lists", (list(words), list(spellings)))
        return vocab

    @property
    def pronunciations(self) -> dict[str, list[str]]:
        """word -> phone names, in the dictionary's order."""
        if self._pronunciations is None:
            words, spellings = self._lists
            object.__setattr__(self, "_pronunciations",
                               {w: [PHONE[c] for c in s] for w, s in zip(words, spellings)})
        return self._pronunciations

    def spellings(self) -> tuple[list[str], list[str]]:
        """(words in the dictionary's order, their phone codes): the form asr.decoding.tables stores."""
        if self._lists is None:
            words = list(self._pronunciations)
            object.__setattr__(self, "_lists", (words, ["".join(CODE[p] for p in self._pronunciations[w])
                                                        for w in words]))
        return self._lists

    def __eq__(self, other) -> bool:
        """The same words with the same pronunciations (in any order, as dictionaries compare)."""
        return isinstance(other, PhoneVocabulary) and self._spelling_of() == other._spelling_of()

    __hash__ = object.__hash__

    def pronounce(self, word: str) -> str:
        """A word's phone codes: the dictionary's first pronunciation, else the spelling rules'."""
        spelled = self._spelling_of().get(word)
        return spelled if spelled is not None else "".join(CODE[p] for p in guess_pronunciation(word))

    def _spelling_of(self) -> dict[str, str]:
        """word -> phone codes (built once)."""
        if not hasattr(self, "_by_word"):
            object.__setattr__(self, "_by_word", dict(zip(*self.spellings())))
        return self._by_word

    def word_for(self, spelled: str, prefer: Callable[[str], float] | None = None) -> str:
        """A word pronounced `spelled` (phone codes) in the dictionary, else a word whose pronunciation is nearest
        (fewest phones inserted, deleted or replaced; `nearest_spellings`): the output is always a word of the
        dictionary. Among several, the first in the dictionary's order wins, or with `prefer` (a score: an LM's
        log probability in context, say) the highest-scoring. The CMU dictionary's order is alphabetical;
        `preferring` puts the likeliest of each set of homophones first. Decoding with a word LM chooses among
        homophones in context, which is better still."""
        homophones = self._homophones()
        if not homophones:
            return "".join(PHONE[c] for c in spelled).lower()
        words = homophones.get(spelled) or [w for near in self.nearest_spellings(spelled) for w in homophones[near]]
        return max(words, key=prefer) if prefer is not None and len(words) > 1 else words[0]

    def nearest_spellings(self, spelled: str) -> tuple[str, ...]:
        """The dictionary's pronunciations (phone codes) at the least edit distance from `spelled`, among those
        of about its length (half as many phones more or fewer, at least two), in the dictionary's order.
        Results are kept: a greedy decoder meets the same slips again."""
        if not hasattr(self, "_nearest"):
            object.__setattr__(self, "_nearest", {})
            object.__setattr__(self, "_by_length", _spellings_by_length(list(self._homophones())))
        nearest = self._nearest.get(spelled)
        if nearest is None:
            nearest = self._nearest[spelled] = _nearest(spelled, self._by_length)
        return nearest

    def preferring(self, log10_prob: Callable[[str], float]) -> "PhoneVocabulary":
        """The same pronunciations with each set of homophones listed likeliest first by `log10_prob(word)` (a
        unigram LM's, say; ties alphabetically), where the first of them stood, so that `word_for` writes the
        likeliest (the order stays near the dictionary's, and the file as small)."""
        order = [word for words in self._homophones().values()
                 for word in sorted(words, key=lambda w: (-log10_prob(w), w))]
        spelling_of = self._spelling_of()
        return PhoneVocabulary.from_spellings(order, [spelling_of[w] for w in order])

    def _homophones(self) -> dict[str, list[str]]:
        """Each pronunciation -> the dictionary's words with it, in the dictionary's order (built once)."""
        if not hasattr(self, "_by_spelling"):
            by_spelling: dict[str, list[str]] = {}
            for word, spelled in zip(*self.spellings()):
                by_spelling.setdefault(spelled, []).append(word)
            object.__setattr__(self, "_by_spelling", by_spelling)
        return self._by_spelling

    def spell(self, text: str) -> str:
        return " ".join(self.pronounce(w) for w in text.split())

    def encode(self, text: str) -> list[int]:
        return super().encode(self.spell(text))

    def symbols(self) -> list[str]:
        return [BLANK_SYMBOL, " ", *PHONES]

    def save(self, path) -> None:
        """tokens.txt with the phone names, and the pronunciations beside it (PRONUNCIATIONS_FILE)."""
        super().save(path)
        (Path(path).parent / PRONUNCIATIONS_FILE).write_bytes(self.pronunciations_gz())

    def pronunciations_gz(self, comments: dict[str, str] | None = None) -> bytes:
        """The pronunciations as PRONUNCIATIONS_FILE holds them: gzipped `word PH1 PH2 ...` lines, in the
        dictionary's order (which decides among homophones, `word_for`); a word in `comments` gets ` # comment`."""
        comments = comments or {}
        text = "".join(f"{w} {' '.join(PHONE[c] for c in s)}" + (f" # {comments[w]}" if w in comments else "") + "\n"
                       for w, s in zip(*self.spellings()))
        return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)

    @classmethod
    def from_gz(cls, data: bytes) -> "PhoneVocabulary":
        """The vocabulary of pronunciations_gz() bytes."""
        return cls(parse_cmudict(gzip.decompress(data).decode("utf-8").splitlines()))

    @classmethod
    def from_cmudict(cls, path=None) -> "PhoneVocabulary":
        return cls(read_cmudict(path or cmudict_path()))

    @classmethod
    def load_dir(cls, model_dir) -> "PhoneVocabulary":
        """A model directory's pronunciations: from its tables (asr.decoding.tables) when they are current, else parsed
        from PRONUNCIATIONS_FILE."""
        from asr.decoding import tables
        return tables.phone_vocabulary(Path(model_dir)) or cls(read_cmudict(Path(model_dir) / PRONUNCIATIONS_FILE))


def vocabulary(tokens: str) -> Vocabulary:
    """The output vocabulary of a model configuration's `tokens`."""
    if tokens == "chars":
        return Vocabulary()
    if tokens == "phones":
        return PhoneVocabulary.from_cmudict()
    raise ValueError(f"model.tokens must be 'chars' or 'phones', not {tokens!r}")


assert BLANK_ID == 0 and len(PHONES) == len(PHONE_CODES) == 39


def _spellings_by_length(spellings: list[str]) -> dict[int, tuple[np.ndarray, np.ndarray, list[str]]]:
    """length -> (codes [n, length] uint8, the spellings' places in `spellings`, the spellings), for `_nearest`."""
    groups: dict[int, list[int]] = {}
    for i, spelled in enumerate(spellings):
        groups.setdefault(len(spelled), []).append(i)
    out = {}
    for length, places in groups.items():
        texts = [spellings[i] for i in places]
        codes = np.frombuffer("".join(texts).encode("latin-1"), np.uint8).reshape(len(texts), length)
        out[length] = (codes, np.asarray(places), texts)
    return out


def _nearest(spelled: str, by_length, reach: int | None = None) -> tuple[str, ...]:
    """The spellings of `by_length` (`_spellings_by_length`) nearest `spelled` by edit distance, in the
    dictionary's order, as `PhoneVocabulary.nearest_spellings` says: one Levenshtein table per length, filled for
    all its spellings at once."""
    query = np.frombuffer(spelled.encode("latin-1"), np.uint8)
    reach = max(2, len(query) // 2) if reach is None else reach
    found: list[tuple[int, int, str]] = []  # (distance, place in the dictionary, spelling)
    for length, (codes, places, texts) in by_length.items():
        if abs(length - len(query)) > reach:
            continue
        previous = np.broadcast_to(np.arange(length + 1), (len(codes), length + 1)).copy()
        for i, q in enumerate(query, 1):
            current = np.empty_like(previous)
            current[:, 0] = i
            substitution = previous[:, :-1] + (codes != q)
            for j in range(1, length + 1):
                current[:, j] = np.minimum(np.minimum(previous[:, j], current[:, j - 1]) + 1, substitution[:, j - 1])
            previous = current
        distances = previous[:, length]
        found += [(int(distances[k]), int(places[k]), texts[k]) for k in np.flatnonzero(distances == distances.min())]
    if not found:  # none of about its length: any length
        return _nearest(spelled, by_length, max(by_length) + len(query))
    least = min(d for d, _, _ in found)
    return tuple(t for _, _, t in sorted(x for x in found if x[0] == least))
