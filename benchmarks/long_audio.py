"""Long files: peak memory and real-time factor of `asr transcribe` on recordings of growing length.

    python benchmarks/long_audio.py [--minutes 1 60] [--model english] [--out benchmarks/long_audio.json]

Each recording is real read speech written as a 16 kHz 16-bit WAV: train-clean-5 clips from
../shared/data/librispeech-mini laid end to end with 0.5 s pauses when that data is present, else the
LibriSpeech clips of samples/ repeated. Each transcription runs in a fresh process (`asr transcribe --quiet`),
whose peak resident memory is read from the kernel (getrusage of the finished child) and whose wall time
excludes nothing: start-up, model loading and TensorFlow import are included. A 3-second clip gives the
baseline: what the process needs before the length of the file matters.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "librispeech-mini" / "train-clean-5"
RATE = 16000
PAUSE_S = 0.5


def speech_clips() -> list[Path]:
    clips = sorted(DATA.rglob("*.opus")) if DATA.is_dir() else []
    return clips or sorted((ROOT / "samples").glob("librispeech-*.opus"))


def write_recording(path: Path, minutes: float, clips: list[Path]) -> float:
    """A WAV of at least `minutes` of speech, written clip by clip (never all in memory); returns seconds."""
    from asr.audio.load import load_audio
    target, written, pause = minutes * 60 * RATE, 0, np.zeros(round(PAUSE_S * RATE), np.float32)
    with soundfile.SoundFile(path, "w", RATE, 1, subtype="PCM_16") as out:
        while written < target:
            for clip in clips:
                samples = np.concatenate([load_audio(clip, RATE), pause])[: int(target - written)]
                out.write(samples)
                written += len(samples)
                if written >= target:
                    break
    return written / RATE


def measure(path: Path, model: str) -> dict:
    """Peak RSS (MB) and wall time of one `asr transcribe` process on `path`."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
             "print(r.returncode, time.perf_counter() - t, "
             "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, len(r.stdout.split()))")
    cmd = [sys.executable, "-c", probe, sys.executable, "-m", "asr.cli", "transcribe", "--quiet", "--model", model,
           str(path)]
    code, wall_s, rss_kb, words = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.split()
    if code != "0":
        raise RuntimeError(f"asr transcribe {path} exited {code}")
    return {"peak_rss_mb": round(int(rss_kb) / 1024, 1), "wall_s": round(float(wall_s), 2), "words": int(words)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 60.0])
    parser.add_argument("--model", default="english")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "long_audio.json"))
    args = parser.parse_args(argv)
    clips = speech_clips()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in [0.05, *args.minutes]:
            path = Path(tmp) / f"speech-{minutes:g}min.wav"
            duration_s = write_recording(path, minutes, clips)
            row = {"audio_s": round(duration_s, 1), **measure(path, args.model)}
            row["rtf_including_startup"] = round(row["wall_s"] / duration_s, 4)
            rows.append(row)
            print(json.dumps(row), flush=True)
            path.unlink()
    result = {"model": args.model, "clips_from": str(DATA if DATA.is_dir() else ROOT / "samples"),
              "date": time.strftime("%Y-%m-%d"), "cpus": os.cpu_count(), "load_average": os.getloadavg(),
              "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("| audio | peak RSS | wall (incl. start-up) | RTF incl. start-up |\n| --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['audio_s'] / 60:.2f} min | {r['peak_rss_mb']:.0f} MB | {r['wall_s']:.1f} s | "
              f"{r['rtf_including_startup']:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
