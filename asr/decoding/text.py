"""Text normalisation and the character vocabulary; blank handling lives here and nowhere else.

Token ids: 0 is the CTC blank, then one id per character of `CHARACTERS`.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

BLANK_ID = 0
BLANK_SYMBOL = "<blank>"
CHARACTERS = " '" + "abcdefghijklmnopqrstuvwxyz"

_NOT_ALLOWED = re.compile(r"[^a-z' ]+")
_SPACES = re.compile(r" +")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


def normalize(text: str) -> str:
    """The one normaliser for training targets and WER: lower case, a-z, apostrophe and single spaces.

    Accents are stripped ("café" -> "cafe"), hyphens and other punctuation become spaces, and quote-like
    apostrophes around words are removed while ones inside words ("don't") are kept.
    """
    text = text.translate(_APOSTROPHES)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.lower()
    text = _NOT_ALLOWED.sub(" ", text)
    words = [w.strip("'") for w in text.split(" ")]
    return _SPACES.sub(" ", " ".join(w for w in words if w)).strip()


@dataclass(frozen=True)
class Vocabulary:
    """Output symbols of the acoustic model: the blank at id 0, then the characters."""

    characters: str = CHARACTERS

    @property
    def size(self) -> int:
        """Number of model outputs, blank included."""
        return len(self.characters) + 1

    @property
    def blank_id(self) -> int:
        return BLANK_ID

    @property
    def space_id(self) -> int:
        return self.characters.index(" ") + 1

    def symbols(self) -> list[str]:
        """All output symbols in id order, the blank first."""
        return [BLANK_SYMBOL, *self.characters]

    def encode(self, text: str) -> list[int]:
        """Token ids of already-normalised text; raises ValueError on a character outside the vocabulary."""
        try:
            return [self.characters.index(c) + 1 for c in text]
        except ValueError:
            bad = sorted(set(text) - set(self.characters))
            raise ValueError(f"characters outside the vocabulary: {bad!r} in {text!r}") from None

    def spell(self, text: str) -> str:
        """What a perfect model outputs for normalised text: the text itself (a phone model: its pronunciation)."""
        return text

    def decode(self, ids) -> str:
        """Text of a token id sequence (blanks dropped, no CTC collapse)."""
        return "".join(self.characters[i - 1] for i in ids if i != BLANK_ID)

    def save(self, path) -> None:
        """Write one symbol per line; spaces are written as <space>."""
        lines = [s if s != " " else "<space>" for s in self.symbols()]
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    @classmethod
    def load(cls, path) -> "Vocabulary":
        with open(path, encoding="utf-8") as f:
            lines = [line.rstrip("\n") for line in f if line.rstrip("\n")]
        if not lines or lines[0] != BLANK_SYMBOL:
            raise ValueError(f"{path}: the first symbol must be {BLANK_SYMBOL}")
        chars = [" " if s == "<space>" else s for s in lines[1:]]
        if any(len(c) != 1 for c in chars):
            raise ValueError(f"{path}: only single-character symbols are supported")
        return cls("".join(chars))
