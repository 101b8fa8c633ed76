"""Synthetic clips (synth.py's kept manifest) as training-only audio parts for the GPU machine (export_data.py
--synth): each clip Ogg/Opus at the model rate, libsndfile's default Opus settings (27.6 kbit/s over the kept
clips; the real LibriSpeech clips here are Opus at 31.5), in folders OUT/synth0, synth1, ... of at most
`part_mb` each, labelled as the real clips are. A clip already encoded in one of OUT's synthetic parts is reused
(moved to its part if the parts changed), so a larger manifest encodes only its new clips.
"""
from __future__ import annotations

import io
from pathlib import Path

import soundfile

from asr.audio.load import load_audio
from asr.config import FeatureConfig
from asr.manifest import read_manifest
from asr.training.data import encode_labels

PART_PREFIX = "synth"


def encode_opus(samples, rate_hz: int) -> bytes:
    """Mono float samples -> the bytes of an Ogg/Opus file."""
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate_hz, format="OGG", subtype="OPUS")
    return buffer.getvalue()


def write_synth_parts(manifest: Path, out: Path, vocab, part_mb: float, real_ids=()) -> tuple[list, list[int]]:
    """Encode the clips of `manifest` into OUT/synthN/<id>.opus, a new part whenever the next clip would take the
    part over `part_mb` MB. Returns (utts.json's "synth" entries [id, "<id>.opus" (in its part), phone ids], each
    part's bytes); ValueError for an empty manifest or an id a real clip has, AudioError for an unreadable clip."""
    clips = read_manifest(manifest)
    if not clips:
        raise ValueError(f"{manifest}: no clips")
    clashes = sorted({c.id for c in clips} & set(real_ids))
    if clashes:
        raise ValueError(f"{manifest}: {len(clashes)} synthetic id(s) are also real clips' ({clashes[0]}, ...)")
    rate_hz = FeatureConfig().sample_rate_hz
    labels = encode_labels([c.text for c in clips], vocab)
    encoded = {p.name: p for p in out.glob(f"{PART_PREFIX}*/*.opus")}
    entries, sizes = [], []
    for clip, lab in zip(clips, labels):
        name = f"{clip.id}.opus"
        old = encoded.pop(name, None)
        data = old.read_bytes() if old else encode_opus(load_audio(clip.audio, rate_hz), rate_hz)
        if not sizes or (sizes[-1] and sizes[-1] + len(data) > part_mb * 1e6):
            sizes.append(0)
        folder = out / f"{PART_PREFIX}{len(sizes) - 1}"
        folder.mkdir(parents=True, exist_ok=True)
        if old != folder / name:
            (folder / name).write_bytes(data)
            if old:
                old.unlink()
        sizes[-1] += len(data)
        entries.append([clip.id, f"{clip.id}.opus", [int(x) for x in lab]])
    for stale in encoded.values():  # clips no longer in the manifest
        stale.unlink()
    for folder in out.glob(f"{PART_PREFIX}*"):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return entries, sizes
