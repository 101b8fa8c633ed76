"""A model directory's decoding tables in compact form: built once by `asr pack MODEL_DIR`, memory-mapped at load.

Parsing a phone model's pronunciation dictionary, an ARPA language model, and building the lexicon trie and the
homophone table of the LM's words takes seconds of Python at every start; the same things as arrays load in
milliseconds. `tables/` in a model directory holds one folder per table, each a set of .npy files:

    pronunciations/      the dictionary: words in its order and their spellings in phone codes (asr.decoding.phones)
    arpa-<file>/         an ARPA file of the model's LMs as asr.decoding.lm.PackedLM arrays
    sphinx-<name>/       the vocabulary of a pocketsphinx LM in a mix (asr.decoding.mixlm.SphinxLM)
    decoding-<lm file>/  for the model's own LM (lm.json or lm.arpa.gz): the lexicon trie of its words in the
                         model's units (asr.decoding.ctc.Lexicon) and, for a phone model, its homophones
    manifest.json        each table's sources and their fingerprints (SHA-256 of the file; package version)

A table is used only while its sources are unchanged; otherwise (or with no tables/) everything is built from
the source files as before, with the same results, only slower.

asr/pack.py builds the tables of a model directory (`asr pack`).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

TABLES_DIR = "tables"
MANIFEST = "manifest.json"
VERSION = 2  # the format of the tables: a manifest of another version is ignored
PRONUNCIATIONS = "pronunciations"


# --- reading ----------------------------------------------------------------------------------------------------

def _manifest(model_dir: Path) -> dict:
    path = model_dir / TABLES_DIR / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return manifest.get("tables", {}) if manifest.get("version") == VERSION else {}


def _current(model_dir: Path, name: str) -> Path | None:
    """The folder of table `name` when it exists and its sources are what it was built from."""
    entry = _manifest(model_dir).get(name)
    if entry is None or entry.get("sources") != _fingerprints(model_dir, entry.get("sources", {})):
        return None
    folder = model_dir / TABLES_DIR / name
    return folder if folder.is_dir() else None


def _arrays(folder: Path) -> dict[str, np.ndarray]:
    """Every .npy of a table folder, memory-mapped."""
    return {f.stem: np.asarray(np.load(f, mmap_mode="r")) for f in folder.glob("*.npy")}  # plain views: faster


def _strings(array: np.ndarray) -> list[str]:
    data = bytes(array)
    return data.decode("utf-8").split("\n") if data else []


def phone_vocabulary(model_dir: Path):
    """The model's PhoneVocabulary from its pronunciations table, or None when there is no current one."""
    folder = _current(model_dir, PRONUNCIATIONS)
    if folder is None:
        return None
    from asr.decoding.phones import PhoneVocabulary
    arrays = _arrays(folder)
    return PhoneVocabulary.from_spellings(_strings(arrays["words"]), _strings(arrays["spellings"]))


def packed_lm(path: Path):
    """An asr.decoding.lm.PackedLM of the ARPA file `path` from the tables of its folder, or None."""
    folder = _current(path.parent, f"arpa-{path.name}")
    if folder is None:
        return None
    from asr.decoding.lm import PackedLM
    arrays = _arrays(folder)
    return PackedLM(_strings(arrays.pop("words")), arrays)


def sphinx_vocabulary(model_dir: Path, name: str) -> frozenset[str] | None:
    folder = _current(model_dir, f"sphinx-{name}")
    return frozenset(_strings(np.load(folder / "words.npy", mmap_mode="r"))) if folder else None


def decoding(model_dir: Path, lm_file: str, vocab):
    """(Lexicon of the LM's words, homophones or None) of the model's own LM `lm_file`, or None."""
    folder = _current(model_dir, f"decoding-{lm_file}")
    if folder is None:
        return None
    from asr.decoding.ctc import Lexicon
    arrays = _arrays(folder)
    lexicon = Lexicon(None, vocab, arrays={n: arrays[n] for n in Lexicon.ARRAYS})
    homophones = None
    if "spellings" in arrays:
        homophones = Homophones(_strings(arrays["spellings"]), arrays["offsets"], _strings(arrays["words"]))
    return lexicon, homophones


class Homophones(Mapping):
    """pronunciation (phone codes) -> the LM's words with it, as asr.decoding.fusion.homophones_of's dict, looked up by
    binary search in sorted spellings instead of built as a dictionary."""

    def __init__(self, spellings: list[str], offsets: np.ndarray, words: list[str]):
        self._spellings, self._offsets, self._words = spellings, offsets, words

    def _index(self, spelled: str) -> int:
        import bisect
        i = bisect.bisect_left(self._spellings, spelled)
        return i if i < len(self._spellings) and self._spellings[i] == spelled else -1

    def __getitem__(self, spelled: str) -> tuple[str, ...]:
        i = self._index(spelled)
        if i < 0:
            raise KeyError(spelled)
        return tuple(self._words[int(self._offsets[i]):int(self._offsets[i + 1])])

    def __contains__(self, spelled) -> bool:
        return isinstance(spelled, str) and self._index(spelled) >= 0

    def __iter__(self) -> Iterator[str]:
        return iter(self._spellings)

    def __len__(self) -> int:
        return len(self._spellings)


# --- fingerprints -----------------------------------------------------------------------------------------------

def _fingerprints(model_dir: Path, sources) -> dict[str, str]:
    """{source: fingerprint now} for the names in `sources`: a file of the model directory (its SHA-256), or
    "pocketsphinx:NAME" (the package's version and the size of that model's dictionary)."""
    out = {}
    for source in sources:
        if source.startswith("pocketsphinx:"):
            out[source] = _sphinx_fingerprint(source.split(":", 1)[1])
        else:
            out[source] = _file_fingerprint(model_dir / source)
    return out


_HASHES: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> SHA-256: a source is read once per process


def _file_fingerprint(path: Path) -> str:
    """SHA-256 of a file (read once while its size and modification time stay), or "missing"."""
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in _HASHES:
            _HASHES[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        return _HASHES[key]
    except OSError:
        return "missing"


def _sphinx_fingerprint(name: str) -> str:
    try:
        import pocketsphinx
    except ImportError:
        return "missing"
    dictionary = Path(pocketsphinx.get_model_path()) / name / f"cmudict-{name}.dict"
    size = dictionary.stat().st_size if dictionary.is_file() else -1
    return f"{getattr(pocketsphinx, '__version__', '?')}:{size}"


# --- building ---------------------------------------------------------------------------------------------------

def blob(strings) -> np.ndarray:
    for s in strings:
        if "\n" in s:
            raise ValueError(f"{s!r}: a table entry cannot hold a line break")
    return np.frombuffer("\n".join(strings).encode("utf-8"), np.uint8)


def write(model_dir: Path, built: dict) -> dict[str, int]:
    """Replace `model_dir`'s tables/ with `built` ({table: (source files, {array name: array})}), atomically;
    {table: bytes}."""
    final = model_dir / TABLES_DIR
    tmp = model_dir / f".{TABLES_DIR}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    manifest, sizes = {}, {}
    for name, (sources, arrays) in built.items():
        (tmp / name).mkdir()
        for array_name, array in arrays.items():
            np.save(tmp / name / f"{array_name}.npy", np.ascontiguousarray(array))
        manifest[name] = {"sources": _fingerprints(model_dir, sorted(set(sources)))}
        sizes[name] = sum(f.stat().st_size for f in (tmp / name).iterdir())
    (tmp / MANIFEST).write_text(json.dumps({"version": VERSION, "tables": manifest}, indent=2) + "\n")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return sizes
