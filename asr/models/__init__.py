"""Models shipped inside the package, each a model directory (see asr/model/directory.py) with a README.md card."""
from __future__ import annotations

import json
from pathlib import Path

SHIPPED_DIR = Path(__file__).parent
DEFAULT_MODEL = "english-phones"


class CheckpointError(Exception):
    """A model or checkpoint directory that is missing files or does not load (also asr.training.checkpoint's)."""


def shipped() -> list[str]:
    """Names of the models that ship with the package."""
    return sorted(p.name for p in SHIPPED_DIR.iterdir() if (p / "config.json").is_file())


def resolve(name_or_dir: str | None) -> Path:
    """A shipped model's name, or a path to a model directory (an experiment's best/ for example)."""
    name_or_dir = name_or_dir or DEFAULT_MODEL
    if "/" not in name_or_dir and (SHIPPED_DIR / name_or_dir / "config.json").is_file():
        return SHIPPED_DIR / name_or_dir
    path = Path(name_or_dir)
    if path.is_dir():
        return path
    raise FileNotFoundError(f"{name_or_dir}: no such model; shipped models: {', '.join(shipped()) or 'none'}, "
                            "or give a model directory")


LIVE_FILE = "live.json"  # a streaming model's partner for finals: {"final_model": NAME or model directory}


def final_model_for(streaming_model: str) -> str:
    """The offline model that writes the finals of a streaming model in two-pass live transcription: the one its
    directory's live.json names (a shipped name, or a directory relative to it), else the default model."""
    path = resolve(streaming_model) / LIVE_FILE
    if not path.is_file():
        return DEFAULT_MODEL
    try:
        name = json.loads(path.read_text())["final_model"]
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: not a live.json ({{\"final_model\": NAME}}): {e}") from None
    if "/" in name and not Path(name).is_absolute():
        return str(path.parent / name)
    return name


def read_metrics(model_dir) -> dict:
    """A model directory's metrics.json ({} when it has none); no TensorFlow needed."""
    path = Path(model_dir) / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else {}
