"""A model directory's decoding tables in compact form: built once by `asr pack MODEL_DIR`, memory-mapped at load.

Parsing a phone model's pronunciation dictionary, an ARPA language model, and building the lexicon trie and the
homophone table of the LM's words takes seconds of Python at every start; the same things as arrays load in
milliseconds. `tables/` in a model directory holds one folder per table, each a set of .npy files:

    pronunciations/      the dictionary: words in its order and their spellings in phone codes (asr.phones)
    arpa-<file>/         an ARPA file of the model's LMs as asr.lm.PackedLM arrays
    sphinx-<name>/       the vocabulary of a pocketsphinx LM in a mix (asr.mixlm.SphinxLM)
    decoding-<lm file>/  for the model's own LM (lm.json or lm.arpa.gz): the lexicon trie of its words in the
                         model's units (asr.decode.Lexicon) and, for a phone model, its homophones
    manifest.json        each table's sources and their fingerprints (SHA-256 of the file; package version)

A table is used only while its sources are unchanged; otherwise (or with no tables/) everything is built from
the source files as before, with the same results, only slower.

Packing also stores the weights (model.npz, and each ensemble member's) without zip compression: float16
weights compress by 8 %, and inflating them took a fifth of a second of the default model's start.
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
VERSION = 1
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
    from asr.phones import PhoneVocabulary
    arrays = _arrays(folder)
    return PhoneVocabulary.from_spellings(_strings(arrays["words"]), _strings(arrays["spellings"]))


def packed_lm(path: Path):
    """An asr.lm.PackedLM of the ARPA file `path` from the tables of its folder, or None."""
    folder = _current(path.parent, f"arpa-{path.name}")
    if folder is None:
        return None
    from asr.lm import PackedLM
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
    from asr.decode import Lexicon
    arrays = _arrays(folder)
    lexicon = Lexicon(None, vocab, arrays={n: arrays[n] for n in Lexicon.ARRAYS})
    homophones = None
    if "spellings" in arrays:
        homophones = Homophones(_strings(arrays["spellings"]), arrays["offsets"], _strings(arrays["words"]))
    return lexicon, homophones


class Homophones(Mapping):
    """pronunciation (phone codes) -> the LM's words with it, as asr.fusion.homophones_of's dict, looked up by
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

def _blob(strings) -> np.ndarray:
    for s in strings:
        if "\n" in s:
            raise ValueError(f"{s!r}: a table entry cannot hold a line break")
    return np.frombuffer("\n".join(strings).encode("utf-8"), np.uint8)


def pack(model_dir) -> dict[str, int]:
    """Build every table the model directory's decoding reads (replacing tables/); {table: bytes}.

    Raises ValueError or OSError when a source cannot be read (the model would not load either)."""
    from asr import model_dir as model_dirs
    from asr.fusion import homophones_of, lm_lexicon
    from asr.lm import PackedLM, read_arpa
    from asr.mixlm import load_lm, mix_parts
    from asr.phones import PRONUNCIATIONS_FILE, PhoneVocabulary, read_cmudict
    from asr.recognizer import LM_FILE, LM_MIX_FILE

    from asr import ensemble

    model_dir = Path(model_dir)
    cfg = model_dirs.read_config(model_dir)
    for network_dir, _ in ensemble.members(model_dir):
        store_uncompressed(network_dir / "model.npz")
    built: dict[str, tuple[list[str], dict[str, np.ndarray]]] = {}
    if cfg.model.tokens == "phones":
        vocab = PhoneVocabulary(read_cmudict(model_dir / PRONUNCIATIONS_FILE))
        words, spellings = vocab.spellings()
        built[PRONUNCIATIONS] = ([PRONUNCIATIONS_FILE], {"words": _blob(words), "spellings": _blob(spellings)})
    else:
        vocab = model_dirs.read_vocabulary(model_dir, cfg)
    for lm_file in (LM_MIX_FILE, LM_FILE):
        path = model_dir / lm_file
        if not path.is_file():
            continue
        parts = mix_parts(path) if lm_file == LM_MIX_FILE else [("arpa", lm_file)]
        sources = [lm_file]
        for kind, name in parts:
            if kind == "arpa":
                arpa_path = (path.parent / name).resolve()
                if arpa_path.parent != model_dir.resolve():
                    raise ValueError(f"{path}: {name} is outside the model directory; tables cover its own files")
                words, arrays = PackedLM.pack(read_arpa(arpa_path))
                built[f"arpa-{arpa_path.name}"] = ([arpa_path.name], {"words": _blob(words), **arrays})
                sources.append(arpa_path.name)
            else:
                from asr.mixlm import SphinxLM
                built[f"sphinx-{name}"] = ([f"pocketsphinx:{name}"], {"words": _blob(sorted(SphinxLM(name).vocab))})
                sources.append(f"pocketsphinx:{name}")
        lm = load_lm(path, use_tables=False)
        lexicon = lm_lexicon(lm, vocab)
        arrays = {name: np.ascontiguousarray(a) for name, a in lexicon.arrays().items()}
        homophones = homophones_of(lm, vocab)
        if homophones is not None:
            spelled = sorted(homophones)
            arrays["spellings"] = _blob(spelled)
            arrays["offsets"] = np.cumsum([0] + [len(homophones[s]) for s in spelled]).astype(np.int32)
            arrays["words"] = _blob([w for s in spelled for w in homophones[s]])
            sources.append(PRONUNCIATIONS_FILE)
        built[f"decoding-{lm_file}"] = (sources, arrays)
    return _write(model_dir, built)


def store_uncompressed(path: Path) -> bool:
    """Rewrite an npz with its arrays stored, not deflated (the same arrays; a no-op when already so)."""
    import zipfile
    with zipfile.ZipFile(path) as archive:
        if all(info.compress_type == zipfile.ZIP_STORED for info in archive.infolist()):
            return False
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    return True


def _write(model_dir: Path, built: dict) -> dict[str, int]:
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
