"""Everything train_torch.py needs, in one folder a GPU machine can be sent: labels, front-end constants, audio.

Writes OUT/utts.json (train and valid clips: id, audio path relative to an audio part, phone label ids), OUT/frontend
.npz (the mel filterbank and the feature settings of asr/audio/features.py) and copies the clips' audio into
OUT/audio0, OUT/audio1, ... of at most --part-mb each (a machine that takes a limited upload per call gets one
part per call). With --rooms N, also OUT/rooms.npz: N simulated rooms' impulse responses for the corrupted
copies (gpu/corrupt.py; the GPU machine has no pyroomacoustics).

usage: python recipes/mini_librispeech/gpu/export_data.py exp/mini_librispeech/data OUT [--part-mb 60] [--rooms 300]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import corrupt
import numpy as np

from asr.audio.features import fft_length, hop_samples, mel_filterbank, window_samples
from asr.config import FeatureConfig
from asr.decoding.phones import vocabulary
from asr.manifest import read_manifest
from asr.training.data import encode_labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", type=Path, help="folder with train.jsonl and valid.jsonl (prepare.py)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--part-mb", type=float, default=60.0)
    parser.add_argument("--rooms", type=int, default=0, help="rooms for the corrupted copies (gpu/corrupt.py)")
    parser.add_argument("--rooms-seed", type=int, default=11)
    args = parser.parse_args()
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
    (args.out / "utts.json").write_text(json.dumps({"space_id": vocab.space_id, "num_tokens": vocab.size,
                                                    "feature_config": cfg.__dict__, **utts}))
    print(f"{args.out}: {sum(map(len, (utts['train'], utts['valid'])))} clips in {part + 1} audio part(s)")
    if args.rooms:
        size = corrupt.write_rooms(args.out / corrupt.ROOMS_FILE, args.rooms, args.rooms_seed)
        print(f"{args.out / corrupt.ROOMS_FILE}: {args.rooms} rooms, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
