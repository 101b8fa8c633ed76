"""Training throughput of two MultiWorkerMirroredStrategy workers on this machine (loopback) against one process.

    python benchmarks/distribute.py [--epochs 4] [--copies 16] [--out benchmarks/distribute.json]

Both runs are `asr train` on the same data and configuration: the model of recipes/mini_librispeech/config.toml
(4-frame stacking + 3 x BiLSTM-256, bf16), on the three LibriSpeech clips of samples/ repeated `--copies` times,
in global batches of at most BATCH_FRAMES feature frames; the two workers split each global batch between them
(asr/training/distribute.py). Figures come from the chief's train_log.jsonl: audio seconds trained per wall second in each
epoch (training steps only: no start-up, validation or checkpoints), and the median over the epochs after the
first (which traces the step). On one machine the two workers share its cores, so this measures the cost of
distribution (two processes, gradient all-reduce over gRPC), not a speed-up.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE_CONFIG = ROOT / "recipes" / "mini_librispeech" / "config.toml"
BATCH_FRAMES = 4000  # about 10 clips of 3-4 s per global batch: several steps per epoch on this small data
TIMEOUT_S = 1200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_inputs(folder: Path, copies: int, epochs: int) -> tuple[Path, Path]:
    """A manifest of the LibriSpeech sample clips, `copies` times each, and the configuration (JSON)."""
    rows = [json.loads(line) for line in (ROOT / "samples" / "samples.jsonl").read_text().splitlines()]
    rows = [r for r in rows if r["audio"].startswith("librispeech-")]
    manifest = folder / "train.jsonl"
    manifest.write_text("".join(json.dumps({**r, "id": f"{r['id']}-{k}", "audio": str(ROOT / "samples" / r["audio"])})
                                + "\n" for r in rows for k in range(copies)))
    cfg = tomllib.loads(RECIPE_CONFIG.read_text())
    cfg["train"].update(epochs=epochs, batch_frames=BATCH_FRAMES, validate_utterances=1, checkpoint_minutes=600.0)
    config_file = folder / "config.json"
    config_file.write_text(json.dumps(cfg))
    return manifest, config_file


def train(strategy: str, workers: int, manifest: Path, config_file: Path, out: Path, cache: Path) -> dict:
    """Run `asr train` as `workers` processes; returns the chief's train_log and the wall time."""
    command = [sys.executable, "-m", "asr.cli", "train", "--config", str(config_file), "--strategy", strategy,
               "--train", str(manifest), "--valid", str(manifest), "--out", str(out), "--cache-dir", str(cache)]
    cluster = {"worker": [f"localhost:{free_port()}" for _ in range(workers)]}
    procs, logs = [], []
    started = time.monotonic()
    for i in range(workers):
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
        if workers > 1:
            env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        logs.append(out.parent / f"{out.name}-{i}.log")
        with open(logs[-1], "w") as f:
            procs.append(subprocess.Popen(command, env=env, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT))
    try:
        codes = [p.wait(timeout=max(1.0, started + TIMEOUT_S - time.monotonic())) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    wall_s = time.monotonic() - started
    if any(codes):
        tails = "\n".join(f"--- {log}:\n{log.read_text()[-2000:]}" for log in logs)
        raise SystemExit(f"{strategy}: exit codes {codes}\n{tails}")
    epochs = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    return {"epochs": epochs, "wall_s": wall_s}


def summarise(name: str, workers: int, run: dict, audio_s: float, steps_per_epoch: int) -> dict:
    speeds = [e["audio_s_per_s"] for e in run["epochs"][1:]]
    speed = statistics.median(speeds)
    return {"run": name, "processes": workers, "audio_s_per_s_by_epoch": [round(e["audio_s_per_s"], 2)
                                                                           for e in run["epochs"]],
            "audio_s_per_s": round(speed, 2), "steps_per_s": round(speed / audio_s * steps_per_epoch, 3),
            "wall_s": round(run["wall_s"], 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--copies", type=int, default=16, help="copies of each LibriSpeech sample clip")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "distribute.json")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from asr import config
    from asr.training.data import load_features, make_batches

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="asr-distribute-bench-") as tmp:
        folder = Path(tmp)
        manifest, config_file = write_inputs(folder, args.copies, args.epochs)
        cfg = config.load(config_file)
        features = load_features(manifest, cfg.features, folder / "features", progress=False)  # cached for both
        audio_s = float(features.lengths.sum()) * cfg.features.hop_ms / 1000
        steps = len(make_batches(features.lengths, cfg.train.batch_frames, cfg.train.max_batch_size, cfg.train.seed))
        rows = [summarise("one process (default strategy)", 1,
                          train("default", 1, manifest, config_file, folder / "single", folder / "features"),
                          audio_s, steps),
                summarise("two workers on loopback (multi_worker)", 2,
                          train("multi_worker", 2, manifest, config_file, folder / "two", folder / "features"),
                          audio_s, steps)]
    result = {"date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cores": os.cpu_count(),
              "load_average_before": [round(x, 2) for x in load_before],
              "load_average_after": [round(x, 2) for x in os.getloadavg()],
              "data": {"clips": len(features), "audio_s_per_epoch": round(audio_s, 1), "steps_per_epoch": steps,
                       "batch_frames": cfg.train.batch_frames, "epochs": args.epochs},
              "runs": rows,
              "two_workers_over_one_process": round(rows[1]["audio_s_per_s"] / rows[0]["audio_s_per_s"], 3)}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{len(features)} clips, {audio_s:.0f} s of audio and {steps} steps per epoch, {args.epochs} epochs; "
          f"{os.cpu_count()} cores, load average {result['load_average_before']} before, "
          f"{result['load_average_after']} after\n")
    print("| run | audio s per wall s (median, epochs 2+) | steps per s | per epoch | whole command, s |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row['run']} | {row['audio_s_per_s']} | {row['steps_per_s']} | "
              f"{', '.join(map(str, row['audio_s_per_s_by_epoch']))} | {row['wall_s']} |")
    print(f"\ntwo workers / one process: {result['two_workers_over_one_process']}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
