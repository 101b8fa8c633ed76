"""Shared fixtures: the samples folder, its manifest, and one tiny model trained once per session to overfit it.

The tiny model is a second model directory for the CLI and API tests, and the subject of tests/training/test_overfit.py.
It trains on the shortest LibriSpeech clip (2.6 s, 40 copies) and the three FSDD digits (20 copies each) for
4 epochs of single-clip-sized batches at a constant learning rate: about 30 s on a busy 2-core machine.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
OVERFIT_ID = "2428-83699-0011"  # "ALL NIGHT IT HAD BEEN BLOWING AND RAINING", 2.6 s
DIGIT_IDS = ("0_jackson_0", "7_nicolas_1", "9_yweweler_2")
COPIES = {OVERFIT_ID: 40, **{i: 20 for i in DIGIT_IDS}}
TINY_OVERRIDES = {
    "model": {"cell": "lstm", "bidirectional": True, "layers": 1, "units": 64, "stack_frames": 3, "dropout": 0.0},
    "train": {"epochs": 4, "batch_frames": 300, "learning_rate": 0.01, "warmup_steps": 10, "final_lr_fraction": 1.0,
              "spec_augment": False, "validate_utterances": 0, "checkpoint_minutes": 60.0, "keep_checkpoints": 2},
}


def load_script(path: Path, name: str):
    """A recipe script (not a package module) imported from its file, as module `name`."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return REPO_ROOT / "samples"


@pytest.fixture(scope="session")
def sample_rows(samples_dir) -> dict[str, dict]:
    """samples.jsonl by utterance id, with absolute audio paths."""
    rows = [json.loads(line) for line in (samples_dir / "samples.jsonl").read_text().splitlines() if line.strip()]
    return {r["id"]: {**r, "audio": str(samples_dir / r["audio"])} for r in rows}


def write_manifest(path: Path, rows, copies: dict[str, int] | None = None) -> Path:
    """A JSONL manifest of `rows` (each repeated copies[id] times, under distinct ids)."""
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            for k in range((copies or {}).get(row["id"], 1)):
                f.write(json.dumps({**row, "id": f"{row['id']}-{k}" if k else row["id"]}) + "\n")
    return path


def copy_with_lm(model_dir: Path, folder: Path, sample_rows, decoding: dict) -> Path:
    """`model_dir` copied to `folder`, with a word 2-gram LM of the sample transcripts and `decoding` as its
    decoding.json."""
    import shutil

    from asr.decoding import lm
    from asr.decoding.text import normalize
    from asr.recognizer import DECODING_FILE, LM_FILE
    shutil.copytree(model_dir, folder)
    sentences = [normalize(r["text"]).split() for r in sample_rows.values()]
    lm.write_arpa(lm.estimate(sentences, order=2, discount_fallback=(0.5, 1.0, 1.5)), folder / LM_FILE)
    (folder / DECODING_FILE).write_text(json.dumps(decoding))
    return folder


def digits_with_decoding(folder: Path, **keys) -> Path:
    """The shipped `digits` model copied into `folder`, with `keys` put over its decoding.json."""
    import shutil

    from asr.models import resolve
    model = folder / "digits"
    shutil.copytree(resolve("digits"), model)
    path = model / "decoding.json"
    decoding = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**decoding, **keys}))
    return model


@pytest.fixture(scope="session")
def digits_manifest(tmp_path_factory, sample_rows) -> Path:
    """The three FSDD clips, absolute paths."""
    folder = tmp_path_factory.mktemp("digits")
    return write_manifest(folder / "digits.jsonl", [sample_rows[i] for i in DIGIT_IDS])


@pytest.fixture(scope="session")
def tiny_experiment(tmp_path_factory, sample_rows) -> Path:
    """An experiment directory whose model has overfit the LibriSpeech clip OVERFIT_ID and the digits."""
    import keras

    from asr import config
    from asr.training import train
    folder = tmp_path_factory.mktemp("tiny")
    rows = [sample_rows[i] for i in (OVERFIT_ID, *DIGIT_IDS)]
    train_manifest = write_manifest(folder / "train.jsonl", rows, COPIES)
    valid_manifest = write_manifest(folder / "valid.jsonl", rows)
    keras.utils.set_random_seed(0)
    log = []
    train.run(config.load(overrides=TINY_OVERRIDES), train_manifest, valid_manifest, folder / "exp", log=log.append)
    return folder / "exp"


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_experiment) -> Path:
    """The tiny experiment's best/ model directory."""
    return tiny_experiment / "best"
