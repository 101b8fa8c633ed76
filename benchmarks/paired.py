"""Paired RTF of two model directories on a noisy machine: `transcribe()` of the same input, A and B in turn,
in one process, so that a drift of the machine's speed hits both alike.

    python benchmarks/paired.py A_MODEL B_MODEL [--seconds 10 60] [--pairs 5] [--b-search-from GIT_REV]

--b-search-from runs B with the beam search of asr/decoding/ctc.py as it was at that revision (A keeps this checkout's):
how the speed of a change to the search was measured. Prints, per input length, each side's RTFs, their medians
and the median of the per-pair ratios A/B.
"""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ENGLISH_SAMPLES, interleaved_seconds, load_clips, tile_to  # noqa: E402


def search_class_at(rev: str):
    """PrefixBeamSearch of asr/decoding/ctc.py at git revision `rev`, loaded as a module of its own (a maker of
    its searches that leaves out options it did not have yet)."""
    source = subprocess.run(["git", "show", f"{rev}:asr/decoding/ctc.py"], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout
    path = Path(tempfile.mkdtemp()) / "decode_at_rev.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("decode_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["decode_at_rev"] = module
    spec.loader.exec_module(module)
    search, known = module.PrefixBeamSearch, inspect.signature(module.PrefixBeamSearch).parameters

    def make(*args, **options):  # without the options this checkout's recognizer passes and that search lacks
        return search(*args, **{k: v for k, v in options.items() if k in known})
    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--b-search-from", metavar="GIT_REV")
    args = parser.parse_args()
    import asr
    import asr.recognizer as recognizer

    searches = {"a": recognizer.PrefixBeamSearch,
                "b": search_class_at(args.b_search_from) if args.b_search_from else recognizer.PrefixBeamSearch}
    models = {"a": asr.load_model(args.a), "b": asr.load_model(args.b)}
    rate = models["a"].sample_rate_hz
    clips = load_clips(ENGLISH_SAMPLES, rate)
    for seconds in args.seconds:
        wave = tile_to(np.concatenate(clips), seconds, rate)

        def transcribe(side: str) -> None:
            recognizer.PrefixBeamSearch = searches[side]  # what Recognizer.new_search builds
            models[side].transcribe(wave)
        times = interleaved_seconds({side: lambda side=side: transcribe(side) for side in "ab"}, args.pairs)
        a, b = ([t / seconds for t in times[side]] for side in "ab")
        pairs = list(zip(a, b))
        print(f"{seconds:g} s: A {statistics.median(a):.4f} ({' '.join(f'{x:.4f}' for x in a)}), "
              f"B {statistics.median(b):.4f} ({' '.join(f'{x:.4f}' for x in b)}), "
              f"A/B per pair: median {statistics.median(x / y for x, y in pairs):.3f}", flush=True)


if __name__ == "__main__":
    main()
