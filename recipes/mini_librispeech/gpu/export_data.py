"""Everything train_torch.py needs, in one folder a GPU machine can be sent: labels, front-end constants, audio.

Writes OUT/utts.json (train and valid clips: id, audio path relative to an audio part, phone label ids), OUT/frontend
.npz (the mel filterbank and the feature settings of asr/audio/features.py) and copies the clips' audio into
OUT/audio0, OUT/audio1, ... of at most --part-mb each (a machine that takes a limited upload per call gets one
part per call). With --rooms N, also OUT/rooms.npz: N simulated rooms' impulse responses for the corrupted
copies (gpu/corrupt.py; the GPU machine has no pyroomacoustics). With --synth MANIFEST (synth.py's clips, e.g.
the read-back filter's train.kept.jsonl), also the synthetic clips as training-only parts OUT/synth0, synth1, ...
(Ogg/Opus, gpu/synth_parts.py; of at most --part-mb each), listed under utts.json's "synth" (the flag that marks
them synthetic: train_torch.py draws them by its --synth-share, never validates on them).

usage: python recipes/mini_librispeech/gpu/export_data.py exp/mini_librispeech/data OUT [--part-mb 60] [--rooms 300]
           [--synth exp/mini_librispeech/synth/train.kept.jsonl]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import corrupt
import numpy as np
import synth_parts

from asr.audio.features import fft_length, hop_samples, mel_filterbank, window_samples
from asr.audio.load import AudioError
from asr.config import FeatureConfig
from asr.decoding.phones import vocabulary
from asr.manifest import read_manifest
from asr.training.data import encode_labels

CALL_MB = 60.0  # 64 MiB (67.1 MB) a call, less the repository without asr/models/ (3.7 MB) and the wheels (1.8 MB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", type=Path, help="folder with train.jsonl and valid.jsonl (prepare.py)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--part-mb", type=float, default=60.0)
    parser.add_argument("--rooms", type=int, default=0, help="rooms for the corrupted copies (gpu/corrupt.py)")
    parser.add_argument("--rooms-seed", type=int, default=11)
    parser.add_argument("--call-mb", type=float, default=CALL_MB,
                        help=f"what one call to the GPU machine may carry besides the repository and wheels "
                             f"(default {CALL_MB})")
    parser.add_argument("--synth", type=Path, help="a manifest of synthetic training clips (synth.py, synth_filter.py)")
    args = parser.parse_args()
    if args.synth and not args.synth.is_file():
        raise SystemExit(f"error: {args.synth}: no such manifest (run synth.py and synth_filter.py first)")
    vocab = vocabulary("phones")
    cfg = FeatureConfig()
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "frontend.npz", filterbank=mel_filterbank(cfg), sample_rate=cfg.sample_rate_hz,
             window=window_samples(cfg), hop=hop_samples(cfg), fft=fft_length(cfg), log_floor=cfg.log_floor)
    utts, part, part_bytes = {}, 0, 0
    for split in ("train", "valid"):
        clips = read_manifest(args.manifests / f"{split}.jsonl")
        labels = encode_labels([c.text for c in clips], vocab)
        utts[split] = []
        for clip, lab in zip(clips, labels):
            size = os.path.getsize(clip.audio)
            if part_bytes and part_bytes + size > args.part_mb * 1e6:
                part, part_bytes = part + 1, 0
            rel = Path(clip.audio).name
            (args.out / f"audio{part}").mkdir(exist_ok=True)
            shutil.copyfile(clip.audio, args.out / f"audio{part}" / rel)
            part_bytes += size
            utts[split].append([clip.id, rel, [int(x) for x in lab]])
    sizes = {f"audio{p}": sum(f.stat().st_size for f in (args.out / f"audio{p}").iterdir()) for p in range(part + 1)}
    if args.synth:
        try:
            utts["synth"], synth_sizes = synth_parts.write_synth_parts(
                args.synth, args.out, vocab, args.part_mb, real_ids=[u[0] for u in utts["train"] + utts["valid"]])
        except (ValueError, AudioError) as e:
            raise SystemExit(f"error: {e}")
        sizes.update({f"{synth_parts.PART_PREFIX}{p}": n for p, n in enumerate(synth_sizes)})
    (args.out / "utts.json").write_text(json.dumps({"space_id": vocab.space_id, "num_tokens": vocab.size,
                                                    "feature_config": cfg.__dict__, **utts}))
    print(f"{args.out}: {sum(map(len, (utts['train'], utts['valid'])))} real clips in {part + 1} audio part(s)"
          + (f", {len(utts['synth'])} synthetic clips in {len(synth_sizes)} part(s)" if args.synth else ""))
    if args.rooms:
        size = corrupt.write_rooms(args.out / corrupt.ROOMS_FILE, args.rooms, args.rooms_seed)
        print(f"{args.out / corrupt.ROOMS_FILE}: {args.rooms} rooms, {size / 1e6:.1f} MB")
    try:
        report_sizes(args.out, sizes, args.call_mb)
    except ValueError as e:
        raise SystemExit(f"error: {e}")


def report_sizes(out: Path, sizes: dict[str, int], call_mb: float) -> None:
    """Print each part's MB and the calls that carry them (pack_calls)."""
    shared = sum((out / name).stat().st_size for name in ("utts.json", "frontend.npz", corrupt.ROOMS_FILE)
                 if (out / name).exists())
    for name, n in sizes.items():
        print(f"{name}: {n / 1e6:.1f} MB")
    calls = pack_calls(sizes, shared, call_mb * 1e6)
    print(f"{sum(sizes.values()) / 1e6:.1f} MB of audio in {len(sizes)} part(s); {len(calls)} call(s) of at most "
          f"{call_mb:g} MB, each with utts.json, frontend.npz and rooms.npz ({shared / 1e6:.1f} MB): "
          + "; ".join(f"{i + 1}: {' '.join(c)}" for i, c in enumerate(calls)))


def pack_calls(sizes: dict[str, int], shared: int, call_bytes: float) -> list[list[str]]:
    """The parts (in order) grouped into calls of at most `call_bytes`, each call also carrying `shared` bytes; a
    part too large for a call alone is a ValueError."""
    calls, used = [], 0
    for name, n in sizes.items():
        if shared + n > call_bytes:
            raise ValueError(f"{name}: {(shared + n) / 1e6:.1f} MB with the shared files, over a call's "
                             f"{call_bytes / 1e6:.1f} MB (a smaller --part-mb)")
        if not calls or used + n > call_bytes:
            calls.append([])
            used = shared
        calls[-1].append(name)
        used += n
    return calls


if __name__ == "__main__":
    main()
