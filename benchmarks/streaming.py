"""Streaming latency and speed: real clips fed at real-time speed to StreamingTranscriber, 1 and 8 streams at once.

    python benchmarks/streaming.py [--model english-stream] [--streams 1 8] [--chunk-ms 20 40] [--clips 8]
                                   [--out benchmarks/streaming.json]

Each stream is a thread that plays its clips one after another, each with 1 s of noise at the clip's own background
level before and after, in
chunks of --chunk-ms, sleeping so that chunk k is fed when its audio would have been spoken (a microphone's
pace). Measured per clip, on the wall clock:
- final latency: from the moment the clip's speech ended (its last 10 ms frame within 35 dB of the clip's peak,
  an offline reference independent of the streaming detector) to the final event that covers it;
- partial interval: the gaps between consecutive events (partials, then the final) from the start of speech on;
- compute real-time factor: time spent inside feed()/finish() over the audio fed, per stream;
- agreement: WER of the streamed finals against the offline transcript of the same padded audio by the same
  model and decoding.
Clips: dev-clean-2 from ../shared/data (English) or FSDD test takes (digits) when present, else samples/.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
PAD_S = 1.0


def english_clips(n: int) -> list[Path]:
    dev = DATA / "librispeech-mini" / "dev-clean-2"
    found = sorted(dev.rglob("*.opus"))[::37] if dev.is_dir() else []
    return (found or sorted((ROOT / "samples").glob("librispeech-*.opus")))[:n]


def digit_clips(n: int) -> list[Path]:
    fsdd = DATA / "fsdd"
    found = sorted(fsdd.rglob("*_[0-4].wav"))[::31] if fsdd.is_dir() else []
    return (found or sorted((ROOT / "samples").glob("fsdd-*.wav")))[:n]


def speech_end_s(samples: np.ndarray, rate: int) -> float:
    frame = rate // 100
    n = len(samples) // frame
    energy = 10 * np.log10(np.square(samples[:n * frame].reshape(n, frame)).mean(1) + 1e-10)
    return float((np.flatnonzero(energy > energy.max() - 35)[-1] + 1) * frame / rate)


def background_rms(samples: np.ndarray, rate: int) -> float:
    """The clip's own background level (its quietest 10 ms frames), so that the padding joins it seamlessly: a
    pad quieter than the recording's own noise would make that noise look like speech to the endpointer."""
    frame = rate // 100
    n = len(samples) // frame
    power = np.square(samples[:n * frame].reshape(n, frame)).mean(1)
    return float(max(np.sqrt(np.percentile(power, 5)), 1e-5))


def play(model, clips: list[np.ndarray], rate: int, chunk_ms: float, results: list, barrier: threading.Barrier):
    from asr.evaluate import with_quiet
    from asr.live.streaming import StreamingTranscriber
    chunk = int(rate * chunk_ms / 1000)
    barrier.wait()
    for samples in clips:
        stream = StreamingTranscriber(model)
        audio = with_quiet(samples, PAD_S, rate, rms=background_rms(samples, rate))
        end_of_speech = PAD_S + speech_end_s(samples, rate)
        events, busy = [], 0.0
        t0 = time.perf_counter()
        for i in range(0, len(audio), chunk):
            due = t0 + min(i + chunk, len(audio)) / rate  # the chunk's last sample has just been spoken
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            before = time.perf_counter()
            out = stream.feed(audio[i:i + chunk])
            after = time.perf_counter()
            busy += after - before
            events += [(after - t0, e) for e in out]
        before = time.perf_counter()
        events += [(time.perf_counter() - t0, e) for e in stream.finish()]
        busy += time.perf_counter() - before
        finals = [(t, e) for t, e in events if e.type == "final"]
        last_final = next((t for t, e in reversed(finals) if e.start_s < end_of_speech), None)
        gaps = []  # within each utterance: from its start (as fed) through its partials to its final
        for start_s in sorted({e.start_s for _, e in events}):
            times = [start_s] + [t for t, e in events if e.start_s == start_s]
            gaps += np.diff(times).tolist()
        results.append(dict(audio_s=len(audio) / rate, busy_s=busy, text=" ".join(e.text for _, e in finals if e.text),
                            final_latency_s=None if last_final is None else last_final - end_of_speech,
                            gaps=gaps, finals=len(finals), audio=audio))


def run(model_name: str, streams: int, chunk_ms: float, paths: list[Path]) -> dict:
    from asr import load_model
    from asr.audio.load import load_audio
    from asr.metrics import score
    model = load_model(model_name)
    model.streaming().warm_up()
    rate = model.sample_rate_hz
    clips = [load_audio(p, rate) for p in paths]
    results: list[dict] = []
    barrier = threading.Barrier(streams)
    # stream k plays the clips rotated by k, so that the streams do not speak in step
    threads = [threading.Thread(target=play, args=(model, clips[k % len(clips):] + clips[:k % len(clips)], rate,
                                                   chunk_ms, results, barrier)) for k in range(streams)]
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    offline = {}
    for r in results:  # the offline transcript of exactly the audio that was streamed
        key = r["audio"].tobytes()
        if key not in offline:
            offline[key] = model.transcribe(r["audio"]).text
        r["offline"] = offline[key]
    latencies = [r["final_latency_s"] for r in results if r["final_latency_s"] is not None]
    gaps = [g for r in results for g in r["gaps"]]
    audio_s = sum(r["audio_s"] for r in results)
    refs, hyps = [r["offline"] for r in results], [r["text"] for r in results]
    return dict(
        model=model_name, streams=streams, chunk_ms=chunk_ms, clips=len(results), audio_s=round(audio_s, 1),
        final_latency_ms=dict(median=_ms(statistics.median(latencies)), p95=_ms(np.percentile(latencies, 95)),
                              max=_ms(max(latencies))) if latencies else None,
        missing_finals=len(results) - len(latencies),
        event_interval_ms=dict(median=_ms(statistics.median(gaps)), p95=_ms(np.percentile(gaps, 95)),
                               max=_ms(max(gaps))),
        compute_rtf_per_stream=round(sum(r["busy_s"] for r in results) / audio_s, 4),
        process_cpu_s_per_audio_s=round(cpu / audio_s, 4), wall_s=round(wall, 1),
        finals_vs_offline_wer=round(100 * score(refs, hyps).wer, 2) if any(refs) else None,
        identical_to_offline=sum(r == h for r, h in zip(refs, hyps)),
    )


def _ms(seconds: float) -> int:
    return int(round(1000 * seconds))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="english-stream")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--chunk-ms", type=float, nargs="+", default=[20.0, 40.0])
    parser.add_argument("--clips", type=int, default=8, help="clips per stream")
    parser.add_argument("--corpus", choices=("librispeech", "fsdd"),
                        help="where the clips come from (default: fsdd for a model named digits*, else librispeech)")
    parser.add_argument("--out", help="JSON file to write")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    corpus = args.corpus or ("fsdd" if Path(args.model).name.startswith("digits") else "librispeech")
    paths = digit_clips(args.clips) if corpus == "fsdd" else english_clips(args.clips)
    rows = []
    for streams in args.streams:
        for chunk_ms in args.chunk_ms:
            row = run(args.model, streams, chunk_ms, paths)
            rows.append(row)
            print(json.dumps(row), flush=True)
    report = dict(date=datetime.now(timezone.utc).isoformat(timespec="seconds"), machine=dict(
        cpu=platform.processor() or platform.machine(), cores=os.cpu_count(), load_average=os.getloadavg()),
        clips=[str(p.relative_to(ROOT.parent)) if p.is_relative_to(ROOT.parent) else str(p) for p in paths],
        results=rows)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
