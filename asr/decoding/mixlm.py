"""Word language models beyond one ARPA file: pocketsphinx's general US English 3-gram, and a linear mix of models.

Each has the interface the decoder uses (asr.decoding.lm.NGramLM's): `vocab`, `begin_state()` and
`score(state, word) -> (log10 probability, next state)`. A mix is described by a small JSON file that sits in a
model directory as `lm.json` (or is given to `--lm`):

    {"mix": [{"arpa": "lm.arpa.gz", "weight": 0.5},          # a path, relative to the JSON file
             {"pocketsphinx": "en-us", "weight": 0.5}]}       # a model of the pocketsphinx package

P(word | history) = sum_i weight_i * P_i(word | history), each model with its own history state (exact linear
interpolation, weights summing to one). A model gives no probability to words outside its vocabulary, so a word
only one model knows gets that model's share; a word no model knows is scored by each as its unknown word.

pocketsphinx (BSD licence) ships a general US English 3-gram LM trained on far more text than this project has,
in its own binary format; its ARPA export crashes (cmusphinx/pocketsphinx#502), so it is queried through the
package's NGramModel.prob (about half a microsecond a query) and its vocabulary is read off the CMU pronouncing
dictionary it ships with (the words of the dictionary the model knows).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from asr.decoding.lm import BOS, EOS, MISSING_UNK_LOG10, NGramLM

SPHINX_ZERO = -536870912  # pocketsphinx's log probability of a word it does not know (its log-math zero)
SPHINX_LOG10 = math.log10(1.0001)  # pocketsphinx's log base is 1.0001


class MissingPackage(ValueError):
    """A model that needs a package which is not installed."""


class SphinxLM:
    """A 3-gram model shipped in the pocketsphinx package (`name`: its folder under the package's model path,
    "en-us": general US English), queried in place."""

    def __init__(self, name: str = "en-us", vocab: frozenset[str] | None = None):
        """`vocab`: the words of the model that its dictionary spells, when known (asr.decoding.tables stores them);
        otherwise read off the dictionary here."""
        try:
            import pocketsphinx
        except ImportError:
            raise MissingPackage("needs the pocketsphinx package, which is not installed "
                                 "(pip install pocketsphinx)") from None
        folder = Path(pocketsphinx.get_model_path()) / name
        lm_file, dictionary = folder / f"{name}.lm.bin", folder / f"cmudict-{name}.dict"
        if not lm_file.is_file() or not dictionary.is_file():
            raise ValueError(f"pocketsphinx has no model {name!r} (no {lm_file.name} and {dictionary.name} in "
                             f"{folder})")
        self.name, self.order = name, 3
        self._lm = pocketsphinx.NGramModel.readfile(str(lm_file))
        if vocab is None:
            with open(dictionary, encoding="utf-8") as f:
                words = {line.split(" ", 1)[0].split("(", 1)[0] for line in f if line.strip()} | {EOS}
            vocab = frozenset(w for w in words if self._lm.prob([w]) > SPHINX_ZERO)
        self.vocab = vocab

    def begin_state(self) -> tuple[str, ...]:
        return (BOS,)

    def score(self, state: tuple[str, ...], word: str) -> tuple[float, tuple[str, ...]]:
        """log10 P(word | the last two words) (pocketsphinx takes the word, then its history newest first)."""
        raw = self._lm.prob([word, *reversed(state)])
        return (raw * SPHINX_LOG10 if raw > SPHINX_ZERO else MISSING_UNK_LOG10), (state + (word,))[-2:]


class MixedLM:
    """Linear interpolation of word models: `parts` = [(model, weight), ...], weights summing to one."""

    def __init__(self, parts):
        self.parts = [(lm, float(w)) for lm, w in parts]
        if not self.parts or any(w <= 0 for _, w in self.parts) or abs(sum(w for _, w in self.parts) - 1) > 1e-6:
            raise ValueError(f"mix weights must be positive and sum to 1, got {[w for _, w in self.parts]}")
        self.order = max(lm.order for lm, _ in self.parts)
        self.vocab = frozenset().union(*(lm.vocab for lm, _ in self.parts))

    def begin_state(self) -> tuple:
        return tuple(lm.begin_state() for lm, _ in self.parts)

    def score(self, state: tuple, word: str) -> tuple[float, tuple]:
        known = word in self.vocab
        total, states = 0.0, []
        for (lm, weight), part_state in zip(self.parts, state):
            log10_p, after = lm.score(part_state, word)
            if word in lm.vocab or not known:
                total += weight * 10.0 ** log10_p
            states.append(after)
        return (math.log10(total) if total > 0 else MISSING_UNK_LOG10), tuple(states)


def mix_parts(path) -> list[tuple[str, str]]:
    """[("arpa", file relative to the JSON file) or ("pocketsphinx", model name), ...] of a mix description."""
    return [(kind, name) for kind, name, _ in _mix_spec(Path(path))]


def _mix_spec(path: Path) -> list[tuple[str, str, float]]:
    spec = json.loads(path.read_text())
    if not isinstance(spec, dict) or not isinstance(spec.get("mix"), list) or not spec["mix"]:
        raise ValueError('expected {"mix": [{"arpa": PATH or "pocketsphinx": NAME, "weight": W}, ...]}')
    parts = []
    for part in spec["mix"]:
        if not isinstance(part, dict) or len({"arpa", "pocketsphinx"} & set(part)) != 1 or "weight" not in part:
            raise ValueError(f"each mix entry needs one of 'arpa' or 'pocketsphinx' and a 'weight', got {part!r}")
        kind = "arpa" if "arpa" in part else "pocketsphinx"
        parts.append((kind, part[kind], part["weight"]))
    return parts


def load_arpa(path: Path, use_tables: bool = True):
    """An ARPA file: asr.decoding.lm.PackedLM from its folder's tables (asr.decoding.tables) when they are current, else NGramLM."""
    if use_tables:
        from asr.decoding import tables
        packed = tables.packed_lm(path)
        if packed is not None:
            return packed
    return NGramLM.from_arpa(path)


def load_lm(path, use_tables: bool = True):
    """An ARPA file, or a JSON mix description (MixedLM). ValueError/OSError when unusable. With `use_tables`,
    the compact tables of the file's folder (asr.decoding.tables) stand in for parsing, where they are current."""
    path = Path(path)
    if path.suffix != ".json":
        return load_arpa(path, use_tables)
    parts = []
    for kind, name, weight in _mix_spec(path):
        if kind == "arpa":
            lm = load_arpa(path.parent / name, use_tables)
        else:
            from asr.decoding import tables
            lm = SphinxLM(name, tables.sphinx_vocabulary(path.parent, name) if use_tables else None)
        parts.append((lm, weight))
    return MixedLM(parts)
