"""Packing a model directory (`asr pack MODEL_DIR`): the decoding tables its decoding reads (asr.decoding.tables),
built from its sources, and its weights stored uncompressed.

The weights (model.npz, and each ensemble member's) are stored without zip compression: float16 weights compress
by 8 %, and inflating them took a fifth of a second of the default model's start.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from asr.decoding import tables
from asr.decoding.fusion import homophones_of, lm_lexicon
from asr.decoding.lm import PackedLM, read_arpa
from asr.decoding.mixlm import SphinxLM, load_lm, mix_parts
from asr.decoding.phones import PRONUNCIATIONS_FILE, PhoneVocabulary, read_cmudict
from asr.model import directory as model_dirs
from asr.model import ensemble
from asr.recognizer import LM_FILE, LM_MIX_FILE


def pack(model_dir) -> dict[str, int]:
    """Build every table the model directory's decoding reads (replacing tables/); {table: bytes}.

    Raises ValueError or OSError when a source cannot be read (the model would not load either)."""
    model_dir = Path(model_dir)
    cfg = model_dirs.read_config(model_dir)
    for network_dir, _ in ensemble.members(model_dir):
        store_uncompressed(network_dir / "model.npz")
    built: dict[str, tuple[list[str], dict[str, np.ndarray]]] = {}
    if cfg.model.tokens == "phones":
        vocab = PhoneVocabulary(read_cmudict(model_dir / PRONUNCIATIONS_FILE))
        words, spellings = vocab.spellings()
        built[tables.PRONUNCIATIONS] = ([PRONUNCIATIONS_FILE],
                                        {"words": tables.blob(words), "spellings": tables.blob(spellings)})
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
                built[f"arpa-{arpa_path.name}"] = ([arpa_path.name], {"words": tables.blob(words), **arrays})
                sources.append(arpa_path.name)
            else:
                built[f"sphinx-{name}"] = ([f"pocketsphinx:{name}"], {"words": tables.blob(sorted(SphinxLM(name).vocab))})
                sources.append(f"pocketsphinx:{name}")
        lm = load_lm(path, use_tables=False)
        lexicon = lm_lexicon(lm, vocab)
        arrays = {name: np.ascontiguousarray(a) for name, a in lexicon.arrays().items()}
        homophones = homophones_of(lm, vocab)
        if homophones is not None:
            spelled = sorted(homophones)
            arrays["spellings"] = tables.blob(spelled)
            arrays["offsets"] = np.cumsum([0] + [len(homophones[s]) for s in spelled]).astype(np.int32)
            arrays["words"] = tables.blob([w for s in spelled for w in homophones[s]])
            sources.append(PRONUNCIATIONS_FILE)
        built[f"decoding-{lm_file}"] = (sources, arrays)
    return tables.write(model_dir, built)


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
