"""Render transcripts as text, JSON lines, JSON, SubRip (srt) and WebVTT (vtt)."""
from __future__ import annotations

import json

from asr.decoding.ctc import Word

FORMATS = ("text", "jsonl", "json", "srt", "vtt")
MAX_CUE_WORDS = 10
MAX_CUE_S = 4.0
MAX_CUE_GAP_S = 1.0


def cues(words) -> list[tuple[float, float, str]]:
    """Group words into subtitle cues: a new cue after MAX_CUE_WORDS, MAX_CUE_S or a pause over MAX_CUE_GAP_S."""
    out, current = [], []
    for w in words:
        if current and (len(current) >= MAX_CUE_WORDS or w.end_s - current[0].start_s > MAX_CUE_S
                        or w.start_s - current[-1].end_s > MAX_CUE_GAP_S):
            out.append(_cue(current))
            current = []
        current.append(w)
    if current:
        out.append(_cue(current))
    return out


def _cue(words: list[Word]) -> tuple[float, float, str]:
    return words[0].start_s, words[-1].end_s, " ".join(w.word for w in words)


def timestamp(seconds: float, separator: str) -> str:
    """12.3456 -> '00:00:12,346' (srt, separator ',') or '00:00:12.346' (vtt, '.')."""
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def to_srt(words) -> str:
    blocks = [f"{i}\n{timestamp(a, ',')} --> {timestamp(b, ',')}\n{text}\n"
              for i, (a, b, text) in enumerate(cues(words), 1)]
    return "\n".join(blocks)


def to_vtt(words) -> str:
    blocks = [f"{timestamp(a, '.')} --> {timestamp(b, '.')}\n{text}\n" for a, b, text in cues(words)]
    return "WEBVTT\n\n" + "\n".join(blocks)


def record(path: str, transcript=None, error: str | None = None) -> dict:
    """The JSON object of one input: {"path", "text", "duration_s", "words"} or {"path", "error"}."""
    if error is not None:
        return {"path": path, "error": error}
    return {"path": path, **transcript.to_dict()}


def to_jsonl(rec: dict) -> str:
    return json.dumps(rec, ensure_ascii=False)
