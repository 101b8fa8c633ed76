"""How often the streaming endpointer splits a sentence, and how often it misses the pause between two.

    python benchmarks/endpoints.py [--manifest exp/mini_librispeech/data/train.jsonl] [--every 25]
                                   [--silence-s 0.12 0.2 0.3 0.4 0.5 0.6 0.8] [--gap-s 1.0]
                                   [--out benchmarks/endpoints.json]

Clips of a manifest (train-clean-5 for tuning: never the dev set), at most 15 s each, are joined into one stream
with --gap-s of noise at their own background level between them, as a speaker who pauses between sentences;
the stream goes through StreamingTranscriber (one pass, the small digits-stream model: only the endpoints
matter, and they come from the energy detector alone) for each endpoint_silence_s. Per threshold:
- split: the share of clips with an endpoint inside their speech (more than 0.1 s from its ends);
- merged: the share of gaps between clips with no endpoint in them;
- utterances: finals per clip (1.0 is one final a sentence).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from streaming import background_rms, speech_end_s  # noqa: E402


def speech_start_s(samples: np.ndarray, rate: int) -> float:
    frame = rate // 100
    n = len(samples) // frame
    energy = 10 * np.log10(np.square(samples[:n * frame].reshape(n, frame)).mean(1) + 1e-10)
    return float(np.flatnonzero(energy > energy.max() - 35)[0] * frame / rate)


def joined(clips: list[np.ndarray], rate: int, gap_s: float):
    """(samples, [(speech start, speech end)] of each clip in the stream, [(gap start, gap end)])."""
    rng = np.random.default_rng(0)
    parts, spans, gaps, at = [], [], [], 0
    for clip in clips:
        rms = background_rms(clip, rate)
        pad = (rng.standard_normal(int(gap_s * rate)) * rms).astype(np.float32)
        start = at + len(pad)
        spans.append((start / rate + speech_start_s(clip, rate), start / rate + speech_end_s(clip, rate)))
        parts += [pad, clip]
        at = start + len(clip)
    parts.append((rng.standard_normal(int(gap_s * rate)) * 1e-4).astype(np.float32))
    gaps = [(spans[i][1], spans[i + 1][0]) for i in range(len(spans) - 1)]
    return np.concatenate(parts), spans, gaps


def measure(model, samples, rate, spans, gaps, silence_s: float) -> dict:
    from asr.live.streaming import StreamingConfig, StreamingTranscriber
    cfg = dataclasses.replace(StreamingConfig(), endpoint_silence_s=silence_s)
    stream = StreamingTranscriber(model, rate, cfg)
    chunk = int(0.04 * rate)
    events = [e for i in range(0, len(samples), chunk) for e in stream.feed(samples[i:i + chunk])]
    events += stream.finish()
    # an endpoint: where a final's utterance ended (finals with no words still mark the endpointer's decision,
    # so count utterance boundaries from every event's start_s)
    starts = sorted({e.start_s for e in events})
    ends = [e.end_s for e in events if e.type == "final"]
    boundaries = ends + starts[1:]
    split = sum(any(a + 0.1 < b < z - 0.1 for b in boundaries) for a, z in spans)
    merged = sum(not any(a - 0.05 <= b <= z + 0.05 for b in boundaries) for a, z in gaps)
    return dict(endpoint_silence_s=silence_s, clips=len(spans), split=round(split / len(spans), 3),
                merged=round(merged / max(len(gaps), 1), 3), utterances_per_clip=round(len(starts) / len(spans), 3))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", default=str(ROOT / "exp/mini_librispeech/data/train.jsonl"))
    parser.add_argument("--every", type=int, default=25, help="every Nth clip of the manifest")
    parser.add_argument("--silence-s", type=float, nargs="+", default=[0.12, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8])
    parser.add_argument("--gap-s", type=float, default=1.0, help="pause between sentences")
    parser.add_argument("--out")
    args = parser.parse_args()
    if "dev" in Path(args.manifest).name:
        parser.error("tune on the training set, not on the dev set")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from asr import load_model
    from asr.audio.load import load_audio
    model = load_model("digits-stream")
    rate = model.sample_rate_hz
    rows = [json.loads(line) for line in open(args.manifest, encoding="utf-8")][::args.every]
    clips = [c for c in (load_audio(r["audio"], rate) for r in rows) if len(c) <= 15 * rate]
    samples, spans, gaps = joined(clips, rate, args.gap_s)
    results = []
    for silence_s in args.silence_s:
        results.append(measure(model, samples, rate, spans, gaps, silence_s))
        print(json.dumps(results[-1]), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(dict(manifest=args.manifest, every=args.every, gap_s=args.gap_s,
                                                  audio_s=round(len(samples) / rate, 1), load_average=os.getloadavg(),
                                                  results=results), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
