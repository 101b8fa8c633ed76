"""Speed of asr on this machine: front end, training throughput, inference real-time factor, exported models.

    python benchmarks/run.py [--out benchmarks/results.json] [--quick]
    python benchmarks/run.py --inference-only MODEL... --out FILE.json   # just those models' inference RTFs

Prints a markdown report and writes the same figures as JSON. See benchmarks/README.md for what each one means.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = ROOT / "samples"
RECIPES_DIR = ROOT / "recipes"
ENGLISH_SAMPLES = sorted(SAMPLES_DIR.glob("librispeech-*.opus"))
DIGIT_SAMPLES = sorted(SAMPLES_DIR.glob("fsdd-*.wav"))
DIGIT_MODELS = {"digits", "digits-stream"}  # shipped models timed on the FSDD clips; the others on LibriSpeech
CHARS_PER_S = 15  # synthetic training labels: about the speaking rate of LibriSpeech, in characters
BEAM_WIDTH = 8


# Full run and --quick: how much audio, how many repeats. Warm-up calls are never timed.
FULL = dict(front_end_s=60.0, front_end_repeats=7,
            train_shapes=(("mini_librispeech", 12.0), ("fsdd", 1.0)), train_batch=None, warmup_steps=2,
            timed_steps=10, long_inputs_s=(10.0, 60.0), inference_repeats=5, export_models=None)
QUICK = dict(front_end_s=10.0, front_end_repeats=3,
             train_shapes=(("mini_librispeech", 3.0), ("fsdd", 1.0)), train_batch=4, warmup_steps=1,
             timed_steps=2, long_inputs_s=(10.0,), inference_repeats=1, export_models=("digits",))
EXPORTS = (("savedmodel", "none"), ("tflite", "none"), ("tflite", "dynamic"), ("tflite", "int8"))


def median_seconds(fn, repeats: int, warmup: int = 1) -> float:
    """Median wall time of fn() over `repeats` calls, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_seconds(fns: dict, repeats: int) -> dict[str, list[float]]:
    """{name: wall times of fn()} for each of `fns`, called in turn `repeats` times after one untimed call each,
    so that a drift of the machine's speed hits all of them alike (paired.py, numpy_model.py)."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def tile_to(samples: np.ndarray, duration_s: float, sample_rate_hz: int) -> np.ndarray:
    """`samples` repeated end to end and cut to exactly `duration_s`."""
    n = int(round(duration_s * sample_rate_hz))
    return np.tile(samples, -(-n // len(samples)))[:n]


def load_clips(paths, sample_rate_hz: int) -> list[np.ndarray]:
    from asr.audio.load import load_audio
    return [load_audio(p, sample_rate_hz) for p in paths]


def machine_info() -> dict:
    import keras
    import tensorflow as tf
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable,
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
            "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "load_average_at_start": _load_average(),
            "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


# 1. Front end --------------------------------------------------------------------------------------------------

def bench_front_end(duration_s: float, repeats: int) -> dict:
    """asr.audio.features.log_mel (NumPy, what transcription runs) and its tf.signal twin (eager, as the feature cache
    calls it; in a tf.function, as an export runs it) against librosa with the same framing, on real speech tiled
    to `duration_s`."""
    import librosa
    import tensorflow as tf
    from asr.config import FeatureConfig
    from asr.audio.features import fft_length, hop_samples, log_mel, window_samples
    from asr.training.features import log_mel as tf_log_mel

    cfg = FeatureConfig()
    win, hop, n_fft = window_samples(cfg), hop_samples(cfg), fft_length(cfg)
    samples = tile_to(np.concatenate(load_clips(ENGLISH_SAMPLES, cfg.sample_rate_hz)), duration_s,
                      cfg.sample_rate_hz)
    # librosa centres the window inside each n_fft frame: this many leading zeros give it our frames exactly.
    offset = (n_fft - win) // 2

    def run_librosa():
        mel = librosa.feature.melspectrogram(
            y=np.concatenate([np.zeros(offset, np.float32), samples]), sr=cfg.sample_rate_hz, n_fft=n_fft,
            hop_length=hop, win_length=win, window="hann", center=False, power=2.0, n_mels=cfg.num_mels,
            fmin=cfg.min_hz, fmax=cfg.max_hz)
        return np.log(mel.T + cfg.log_floor)

    graph_log_mel = tf.function(lambda x: tf_log_mel(x, cfg), input_signature=[tf.TensorSpec([None], tf.float32)])
    candidates = {
        "asr.audio.features.log_mel (NumPy)": lambda: log_mel(samples, cfg),
        "asr.training.features.log_mel (eager)": lambda: tf_log_mel(samples, cfg).numpy(),
        "asr.training.features.log_mel (tf.function)": lambda: graph_log_mel(tf.constant(samples)).numpy(),
        f"librosa {librosa.__version__} melspectrogram + log": run_librosa,
    }
    ours, reference = candidates["asr.audio.features.log_mel (NumPy)"](), run_librosa()
    common = min(len(ours), len(reference))
    rows = []
    for name, fn in candidates.items():
        seconds = median_seconds(fn, repeats, warmup=2)
        rows.append({"name": name, "median_s": seconds, "audio_s_per_s": duration_s / seconds})
    return {"audio_s": duration_s, "repeats": repeats, "frames": len(ours),
            "max_log_difference_vs_librosa": float(np.abs(ours[:common] - reference[:common]).max()),
            "results": rows}


# 2. Training throughput -----------------------------------------------------------------------------------------

def bench_training(recipe: str, clip_s: float, batch: int | None, warmup_steps: int, timed_steps: int) -> dict:
    """Steps of asr.training.train's own train step and optimizer on one synthetic batch shaped like the recipe's data.

    `batch` None: as many clips of `clip_s` as the recipe's batch_frames and max_batch_size allow.
    """
    import keras
    import tensorflow as tf
    from asr import config
    from asr.audio.features import num_frames
    from asr.training.keras_model import build_model, count_parameters
    from asr.training.train import make_optimizer, make_train_step

    cfg = config.load(RECIPES_DIR / recipe / "config.toml")
    frames = num_frames(int(round(clip_s * cfg.features.sample_rate_hz)), cfg.features)
    if batch is None:
        batch = max(1, min(cfg.train.max_batch_size, cfg.train.batch_frames // frames))
    label_length = max(1, int(round(clip_s * CHARS_PER_S)))

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    features = rng.normal(-5.0, 3.0, size=(batch, frames, cfg.features.num_mels)).astype(np.float32)
    labels = rng.integers(1, cfg.model.num_tokens, size=(batch, label_length), dtype=np.int32)
    inputs = [tf.constant(x) for x in (features, np.full(batch, frames, np.int32), labels,
                                       np.full(batch, label_length, np.int32))]

    model = build_model(cfg.model, cfg.features.num_mels, cfg.train.precision)
    model.set_normalization(features.mean(axis=(0, 1)), features.std(axis=(0, 1)))
    train_step = make_train_step(model, make_optimizer(cfg, steps_per_epoch=1000), cfg)
    start = time.perf_counter()
    float(train_step(*inputs))  # traces the step
    first_step_s = time.perf_counter() - start
    step_s = median_seconds(lambda: float(train_step(*inputs)), timed_steps, warmup=warmup_steps - 1)
    audio_s = batch * clip_s
    return {"recipe": recipe, "precision": cfg.train.precision, "parameters": count_parameters(model),
            "batch": batch, "clip_s": clip_s, "label_chars": label_length, "spec_augment": cfg.train.spec_augment,
            "first_step_s": first_step_s, "timed_steps": timed_steps, "median_step_s": step_s,
            "audio_s_per_s": audio_s / step_s}


# 3. Inference ---------------------------------------------------------------------------------------------------

def bench_inference(name: str, long_inputs_s, repeats: int) -> list[dict]:
    """RTF of one shipped model: acoustic model alone, then transcribe() greedy and with beam search."""
    import asr
    from asr.model import ensemble
    from asr import models

    greedy = asr.load_model(name, beam_width=1, use_lexicon=False, lm=False)
    beam = asr.load_model(name, beam_width=BEAM_WIDTH, lm=False)
    default = asr.load_model(name)  # what `asr transcribe` uses: the model's LM and decoding.json, if it has them
    rate = greedy.sample_rate_hz
    clips = load_clips(DIGIT_SAMPLES if name in DIGIT_MODELS else ENGLISH_SAMPLES, rate)
    inputs = [(f"{len(clips)} sample clips", clips)]
    inputs += [(f"samples tiled to {s:g} s", [tile_to(np.concatenate(clips), s, rate)]) for s in long_inputs_s]
    common = {"model": name, "parameters": greedy.model.parameters,
              "model_npz_bytes": ensemble.weights_bytes(models.resolve(name)),  # an ensemble's: all networks
              "beam": f"{beam.beam_width}" + (" + lexicon" if beam.lexicon else ""),
              "default": (f"beam {default.beam_width}" + (" + word LM" if default.lm else "")
                          + (f" + lexicon of {len(default.lexicon):,} words" if default.lexicon else ""))}
    rows = []
    for label, waveforms in inputs:
        audio_s = sum(len(w) for w in waveforms) / rate

        def rtf(fn):
            return sum(median_seconds(lambda w=w: fn(w), repeats) for w in waveforms) / audio_s
        rows.append({**common, "input": label, "audio_s": audio_s, "acoustic_rtf": rtf(greedy.log_probs),
                     "greedy_rtf": rtf(greedy.transcribe), "beam_rtf": rtf(beam.transcribe),
                     "default_rtf": rtf(default.transcribe)})
    return rows


# 4. Exported models ---------------------------------------------------------------------------------------------

def bench_export(name: str, folder: Path, repeats: int) -> list[dict]:
    """Size and RTF of every export (asr.training.export) of one shipped model, on its sample clips (int8 calibrated on
    them); RTFs as in bench_inference, through asr.training.export.load_exported."""
    from asr.training import export

    paths = DIGIT_SAMPLES if name in DIGIT_MODELS else ENGLISH_SAMPLES
    rows = []
    for fmt, quantize in EXPORTS:
        out = folder / (f"{name}-{quantize}.tflite" if fmt == "tflite" else f"{name}-savedmodel")
        start = time.perf_counter()
        export.export(name, fmt, out, quantize, calibration_files=paths if quantize == "int8" else ())
        export_s = time.perf_counter() - start
        model = export.load_exported(out)
        clips = load_clips(paths, model.sample_rate_hz)
        audio_s = sum(len(c) for c in clips) / model.sample_rate_hz

        def rtf(fn):
            return sum(median_seconds(lambda c=c: fn(c), repeats) for c in clips) / audio_s
        files = [out] if out.is_file() else [f for f in out.rglob("*") if f.is_file()]
        rows.append({"model": name, "format": fmt, "quantize": quantize,
                     "bytes": sum(f.stat().st_size for f in files), "export_s": export_s,
                     "input": f"{len(clips)} sample clips", "audio_s": audio_s,
                     "acoustic_rtf": rtf(model.log_probs), "greedy_rtf": rtf(model.transcribe)})
    return rows


# Report ---------------------------------------------------------------------------------------------------------

def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [f"# asr benchmarks{' (--quick: not representative)' if results['quick'] else ''}", "",
             f"{m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), "
             f"GPUs: {', '.join(m['gpus']) or 'none'}; TensorFlow {m['tensorflow']}, Keras {m['keras']}, "
             f"Python {m['python']}; load average {m['load_average_at_start']} at start, "
             f"{m['load_average_at_end']} at end; {m['date_utc']}", ""]
    fe = results["front_end"]
    lines += [f"## Front end: log-mel of {fe['audio_s']:g} s of speech (median of {fe['repeats']}; largest "
              f"log difference to librosa {fe['max_log_difference_vs_librosa']:.1e})", "",
              "| implementation | median s | audio s per wall s |", "| --- | --- | --- |"]
    lines += [f"| {r['name']} | {r['median_s']:.4f} | {r['audio_s_per_s']:,.0f} |" for r in fe["results"]]
    lines += ["", "## Training throughput (synthetic batch, asr.training.train.make_train_step)", "",
              "| recipe shape | params | precision | batch | clip s | first step s | median step s | "
              "audio s per wall s |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['recipe']} | {r['parameters']:,} | {r['precision']} | {r['batch']} | {r['clip_s']:g} | "
              f"{r['first_step_s']:.1f} | {r['median_step_s']:.3f} | {r['audio_s_per_s']:.1f} |"
              for r in results["training"]]
    lines += ["", "## Inference real-time factor (wall time / audio duration; lower is faster)", ""]
    lines += inference_table(results["inference"])
    if results.get("export"):
        lines += ["", "## Exported models (asr export: waveform in, log-probabilities out; one process)", "",
                  "| model | format | quantize | size MB | export s | input | audio s | acoustic model RTF | "
                  "greedy RTF |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {r['model']} | {r['format']} | {r['quantize']} | {r['bytes'] / 1e6:.2f} | "
                  f"{r['export_s']:.1f} | {r['input']} | {r['audio_s']:.1f} | {r['acoustic_rtf']:.4f} | "
                  f"{r['greedy_rtf']:.4f} |" for r in results["export"]]
    return "\n".join(lines) + "\n"


def inference_table(rows: list[dict]) -> list[str]:
    if not rows:
        return ["No shipped models (asr.models.shipped() is empty)."]
    lines = ["| model | params | model.npz MB | input | audio s | acoustic model RTF | greedy RTF | beam RTF, "
             "no LM (width) | default decoding RTF (what) |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    return lines + [f"| {r['model']} | {r['parameters']:,} | {r['model_npz_bytes'] / 1e6:.2f} | {r['input']} | "
                    f"{r['audio_s']:.1f} | {r['acoustic_rtf']:.4f} | {r['greedy_rtf']:.4f} | "
                    f"{r['beam_rtf']:.4f} ({r['beam']}) | {r['default_rtf']:.4f} ({r['default']}) |" for r in rows]


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(quick: bool) -> dict:
    from asr import models
    settings = QUICK if quick else FULL
    results = {"quick": quick, "machine": machine_info()}
    progress("front end ...")
    results["front_end"] = bench_front_end(settings["front_end_s"], settings["front_end_repeats"])
    results["training"] = []
    for recipe, clip_s in settings["train_shapes"]:
        progress(f"training step, {recipe} shape ...")
        results["training"].append(bench_training(recipe, clip_s, settings["train_batch"],
                                                  settings["warmup_steps"], settings["timed_steps"]))
    results["inference"] = []
    for name in models.shipped():
        progress(f"inference, {name} ...")
        results["inference"] += bench_inference(name, settings["long_inputs_s"], settings["inference_repeats"])
    results["export"] = []
    with tempfile.TemporaryDirectory() as folder:
        for name in [n for n in models.shipped() if n in (settings["export_models"] or [n])]:
            progress(f"export, {name} ...")
            results["export"] += bench_export(name, Path(folder), settings["inference_repeats"])
    results["machine"]["load_average_at_end"] = _load_average()
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.json",
                        help="JSON file to write (default: benchmarks/results.json)")
    parser.add_argument("--quick", action="store_true",
                        help="small inputs and few repeats (under a minute; for tests, not for quoting)")
    parser.add_argument("--inference-only", nargs="+", metavar="MODEL",
                        help="time only the inference of these shipped models (the full settings) and print that table")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.inference_only:
        rows = [r for name in args.inference_only for r in bench_inference(name, FULL["long_inputs_s"],
                                                                           FULL["inference_repeats"])]
        results = {"quick": False, "machine": {**machine_info(), "load_average_at_end": _load_average()},
                   "inference": rows}
        report = "\n".join(inference_table(rows))
    else:
        results = run(args.quick)
        report = markdown(results)
    results["wall_s"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(report)
    print(f"({results['wall_s']:.0f} s; JSON written to {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
