"""Manifests: JSONL files with one utterance per line: {"id", "audio", "text", "duration_s"}."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Utterance:
    id: str
    audio: str
    text: str
    duration_s: float


def read_manifest(path) -> list[Utterance]:
    """One JSON object per line; relative audio paths are taken relative to the manifest's folder."""
    path = Path(path)
    utterances = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                audio = Path(row["audio"])
                audio = audio if audio.is_absolute() else path.parent / audio
                utterances.append(Utterance(str(row["id"]), str(audio), row["text"], float(row["duration_s"])))
            except KeyError as e:
                raise ValueError(f"{path}:{line_no}: manifest line lacks the key {e}") from None
            except (json.JSONDecodeError, TypeError, ValueError) as e:
                raise ValueError(f"{path}:{line_no}: bad manifest line ({e})") from None
    return utterances


def write_manifest(path, utterances) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for u in utterances:
            f.write(json.dumps(asdict(u)) + "\n")
    os.replace(tmp, path)
