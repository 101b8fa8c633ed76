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


def read_metrics(model_dir) -> dict:
    """A model directory's metrics.json ({} when it has none); no TensorFlow needed."""
    path = Path(model_dir) / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else {}
