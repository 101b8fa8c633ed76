"""Start-up and memory of transcription, as a user meets them: whole `asr` processes, timed from outside.

    python benchmarks/startup.py                    # cold start and long-file memory -> benchmarks/startup.json
    python benchmarks/startup.py --install          # also the size of a plain `pip install .` in a new venv
    python benchmarks/startup.py --quick --out X    # 2 runs, 1-minute file: checks the script works

Figures:
- cold start: `asr transcribe samples/librispeech-2428-83699-0011.opus` (2.6 s clip, default model), wall
  seconds and peak RSS of the process (the kernel's accounting, os.wait4), median of `--runs` after one untimed
  run (which leaves the files in the page cache, as a second use of the command finds them);
- long files: peak RSS of `asr transcribe` on 10, 30 and 60 minutes of speech (the LibriSpeech clips of samples/
  tiled, with a second of silence between copies, written as 16 kHz FLAC), with the wall time;
- install: megabytes of site-packages of a fresh venv after `pip install .` (what a user downloads and unpacks),
  with TensorFlow's presence checked.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "librispeech-2428-83699-0011.opus"


def run_process(argv: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    return wall, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def asr_command() -> list[str]:
    return [sys.executable, "-m", "asr.cli"]


def cold_start(runs: int) -> dict:
    argv = asr_command() + ["transcribe", str(SAMPLE), "--quiet"]
    run_process(argv)  # untimed: the page cache now holds the model, as on a second use
    results = [run_process(argv) for _ in range(runs)]
    assert all(code == 0 for _, _, code in results), results
    walls, rss = [r[0] for r in results], [r[1] for r in results]
    return {"command": "asr transcribe samples/librispeech-2428-83699-0011.opus", "runs": runs,
            "wall_s": {"median": round(statistics.median(walls), 3), "min": round(min(walls), 3),
                       "max": round(max(walls), 3)},
            "peak_rss_mb": {"median": round(statistics.median(rss), 1), "max": round(max(rss), 1)}}


def long_file(minutes: float, folder: Path) -> Path:
    """`minutes` of speech: the LibriSpeech samples and a second of silence, repeated, as 16 kHz FLAC."""
    from asr.audio import load_audio
    clips = [load_audio(p) for p in sorted((REPO / "samples").glob("librispeech-*.opus"))]
    unit = np.concatenate([part for clip in clips for part in (clip, np.zeros(16000, np.float32))])
    copies = int(np.ceil(minutes * 60 * 16000 / len(unit)))
    path = folder / f"long-{minutes:g}min.flac"
    with soundfile.SoundFile(path, "w", 16000, 1, format="FLAC") as f:
        for _ in range(copies):
            f.write(unit)
    return path


def long_files(minutes: list[float]) -> list[dict]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for m in minutes:
            path = long_file(m, Path(tmp))
            wall, rss, code = run_process(asr_command() + ["transcribe", str(path), "--quiet"])
            assert code == 0, code
            out.append({"minutes": m, "peak_rss_mb": round(rss, 1), "wall_s": round(wall, 1),
                        "rtf": round(wall / (soundfile.info(path).duration), 4)})
    return out


def install_size() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        started = time.perf_counter()
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(REPO)], check=True, capture_output=True)
        seconds = time.perf_counter() - started
        site = next((venv / "lib").glob("python*/site-packages"))
        size = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
        has_tf = subprocess.run([str(python), "-c", "import tensorflow"], capture_output=True).returncode == 0
        wall, rss, code = run_process([str(venv / "bin" / "asr"), "transcribe", str(SAMPLE), "--quiet"])
        return {"site_packages_mb": round(size / 1e6, 1), "pip_install_s": round(seconds, 1),
                "tensorflow_installed": has_tf, "transcribes": code == 0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "startup.json"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 30, 60])
    parser.add_argument("--install", action="store_true", help="also measure a plain install in a new venv")
    parser.add_argument("--quick", action="store_true", help="2 runs and a 1-minute file: checks the script")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.minutes = 2, [1]
    result = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                          "python": platform.python_version(), "load_average": os.getloadavg()[0],
                          "date": time.strftime("%Y-%m-%d")},
              "cold_start": cold_start(args.runs), "long_files": long_files(args.minutes)}
    if args.install:
        result["install"] = install_size()
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
