"""The acoustic model in NumPy (asr.model.network, what Transcriber.log_probs runs) against the same model in
TensorFlow (asr.training.reference.KerasReference), per shipped model, on the same audio in one process.

    python benchmarks/numpy_model.py [--models english-phones ...] [--seconds 60] [--repeats 5] [--directions]

Prints, per model, the largest |log-prob difference| between the two, whether their per-frame best tokens agree,
and each side's RTF (median of `repeats` after one untimed call), alternating the two (run.interleaved_seconds).
With --directions, no TensorFlow: per bidirectional model, NumPy's RTF with each layer's two directions run one
after the other on one thread against on two threads at once (asr.model.network._bidirectional), and whether the
outputs are identical.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import DIGIT_SAMPLES, ENGLISH_SAMPLES, interleaved_seconds, load_clips, tile_to  # noqa: E402


def main() -> None:
    import asr
    from asr.models import shipped
    from asr.training.reference import KerasReference
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=shipped())
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--directions", action="store_true", help="one thread against two, NumPy only")
    args = parser.parse_args()
    if args.directions:
        return directions(args.models, args.seconds, args.repeats)
    print("| model | input s | largest difference | best tokens agree | TensorFlow RTF | NumPy RTF | ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in args.models:
        model = asr.load_model(name)
        reference = KerasReference(model.model_dir)
        clips = DIGIT_SAMPLES if name.startswith("digits") else ENGLISH_SAMPLES
        wave = tile_to(np.concatenate(load_clips(clips, model.sample_rate_hz)), args.seconds, model.sample_rate_hz)
        out = {"tf": reference.log_probs(wave), "numpy": model.log_probs(wave)}
        times = interleaved_seconds({"tf": lambda: reference.log_probs(wave), "numpy": lambda: model.log_probs(wave)},
                                    args.repeats)
        tf_rtf, np_rtf = (statistics.median(times[side]) / args.seconds for side in ("tf", "numpy"))
        agree = float((out["tf"].argmax(1) == out["numpy"].argmax(1)).mean())
        print(f"| {name} | {args.seconds:g} | {float(np.abs(out['tf'] - out['numpy']).max()):.1e} | {agree:.2%} | "
              f"{tf_rtf:.4f} | {np_rtf:.4f} | {np_rtf / tf_rtf:.2f} |", flush=True)


def directions(names: list[str], seconds: float, repeats: int) -> None:
    import asr
    from asr.model import network
    print("| model | input s | directions in turn RTF | at once RTF | speed-up | identical |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in names:
        model = asr.load_model(name)
        if not model.config.model.bidirectional:
            continue
        wave = tile_to(np.concatenate(load_clips(ENGLISH_SAMPLES, model.sample_rate_hz)), seconds,
                       model.sample_rate_hz)

        def in_turn():
            saved, network.PARALLEL_MIN_FRAMES = network.PARALLEL_MIN_FRAMES, 1 << 62
            try:
                return model.log_probs(wave)
            finally:
                network.PARALLEL_MIN_FRAMES = saved

        model.log_probs(wave)  # the first run at once makes the process's BLAS single-threaded, as in_turn's then is
        identical = bool(np.array_equal(in_turn(), model.log_probs(wave)))
        times = interleaved_seconds({"turn": in_turn, "once": lambda: model.log_probs(wave)}, repeats)
        turn, once = (statistics.median(times[side]) / seconds for side in ("turn", "once"))
        print(f"| {name} | {seconds:g} | {turn:.4f} | {once:.4f} | {turn / once:.2f}x | {identical} |", flush=True)


if __name__ == "__main__":
    main()
