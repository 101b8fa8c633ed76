"""Start-up of transcription as a user meets it: whole `asr transcribe` processes, timed from outside.

    python benchmarks/startup.py                    # cold start -> benchmarks/startup.json
    python benchmarks/startup.py --install          # also the size of a plain `pip install .` in a new venv
    python benchmarks/startup.py --quick --out X    # 2 runs: checks the script works

Figures:
- cold start: `asr transcribe samples/librispeech-2428-83699-0011.opus` (2.6 s clip, default model), wall
  seconds and peak RSS of the process (the kernel's accounting, os.wait4), median of `--runs` after one untimed
  run (which leaves the files in the page cache, as a second use of the command finds them);
- install: megabytes of site-packages of a fresh venv after `pip install .` (what a user downloads and unpacks),
  the seconds pip took from this machine's package cache, whether TensorFlow came with it, and the same cold
  start with that venv's `asr` command (a non-editable install, as a user has).
Memory on long files is benchmarks/long_audio.py's.
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


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cold_start(runs: int, asr: list[str]) -> dict:
    argv = asr + ["transcribe", str(SAMPLE), "--quiet"]
    run_process(argv)  # untimed: the page cache now holds the model, as on a second use
    results = [run_process(argv) for _ in range(runs)]
    assert all(code == 0 for _, _, code in results), results
    walls, rss = [r[0] for r in results], [r[1] for r in results]
    return {"command": "asr transcribe samples/librispeech-2428-83699-0011.opus", "runs": runs,
            "wall_s": {"median": round(statistics.median(walls), 3), "min": round(min(walls), 3),
                       "max": round(max(walls), 3)},
            "peak_rss_mb": {"median": round(statistics.median(rss), 1), "max": round(max(rss), 1)}}


def install_size(runs: int) -> dict:
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
        return {"site_packages_mb": round(size / 1e6, 1), "pip_install_s": round(seconds, 1),
                "tensorflow_installed": has_tf, "cold_start": cold_start(runs, [str(venv / "bin" / "asr")])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "startup.json"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--install", action="store_true", help="also measure a plain install in a new venv")
    parser.add_argument("--quick", action="store_true", help="2 runs: checks the script works")
    args = parser.parse_args()
    if args.quick:
        args.runs = 2
    result = {"machine": {"cpu": cpu_name(), "cores": os.cpu_count(),
                          "python": platform.python_version(), "load_average": os.getloadavg()[0],
                          "date": time.strftime("%Y-%m-%d")},
              "cold_start": cold_start(args.runs, asr_command())}
    if args.install:
        result["install"] = install_size(args.runs)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
