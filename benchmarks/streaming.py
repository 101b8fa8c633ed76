"""Streaming latency and speed: real clips fed at real-time speed to StreamingTranscriber, 1 and 8 streams at once.

    python benchmarks/streaming.py [--model english-stream] [--streams 1 8] [--chunk-ms 20 40] [--clips 8]
                                   [--out benchmarks/streaming.json]
    python benchmarks/streaming.py --final-model english-phones [--final-beam 16] [--final-single]
                                   [--early-final-s 0.25] --manifest exp/mini_librispeech/data/dev.jsonl
                                   --every 16 --split --streams 1 4 --chunk-ms 40
                                   --out benchmarks/streaming_two_pass.json

Two passes (--final-model): finals by that offline model on a worker thread (a pool of min(streams, cores)),
optionally with a narrower beam (--final-beam) or its first network only (--final-single). Each final's decode
begins at its utterance's pause, --early-final-s into it (StreamingConfig.early_final_s, the default 0.25 s; 0:
at the endpoint); `final_decodes` counts the decodes, those begun at pauses that speech then dropped included,
beside `finals`. --manifest with
--every N takes every Nth utterance of a manifest at most 15 s long, and adds the WER of the finals and of the
partials (each utterance's last partial) against the reference texts, beside the WER of the offline model's
transcription of the same clip files (`asr transcribe`); --split deals the clips out to the streams instead of
giving each stream every clip.

Each stream is a thread that plays its clips one after another, each with 1 s of noise at the clip's own background
level before and after, in
chunks of --chunk-ms, sleeping so that chunk k is fed when its audio would have been spoken (a microphone's
pace). Measured per clip, on the wall clock:
- endpoint latency: from the moment the endpointer ended the utterance (its final's end_s, on the stream's
  audio clock) to the final event;
- final latency: from the moment the clip's speech ended (its last 10 ms frame within 35 dB of the clip's peak,
  an offline reference independent of the streaming detector) to the final event that covers it;
- partial interval: the gaps between consecutive partials of an utterance, from its start on;
- missing finals: clips with no final (one whose utterance holds no recognised word has none);
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


class CountedDecodes:
    """A final model that counts its decodes (thread-safe); everything else is the model's."""

    def __init__(self, model):
        self.model, self.decodes, self._lock = model, 0, threading.Lock()

    def __getattr__(self, name):
        return getattr(self.model, name)

    def transcribe(self, *args, **kwargs):
        with self._lock:
            self.decodes += 1
        return self.model.transcribe(*args, **kwargs)


def play(model, clips: list, rate: int, chunk_ms: float, results: list, barrier: threading.Barrier,
         final_model=None, executor=None, config=None):
    from asr.evaluate import with_quiet
    from asr.live.streaming import StreamingConfig, StreamingTranscriber
    chunk = int(rate * chunk_ms / 1000)
    barrier.wait()
    for samples, reference in clips:
        stream = StreamingTranscriber(model, config=config or StreamingConfig(), final_model=final_model,
                                      executor=executor)
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
            events += [(after - t0, e) for e in out + stream.poll()]
        while stream.next_pending_final() is not None:  # the last finals, picked up as a live caller would
            time.sleep(0.005)
            events += [(time.perf_counter() - t0, e) for e in stream.poll()]
        before = time.perf_counter()
        events += [(time.perf_counter() - t0, e) for e in stream.finish()]
        busy += time.perf_counter() - before
        finals = [(t, e) for t, e in events if e.type == "final"]
        last_final = next((t for t, e in reversed(finals) if e.start_s < end_of_speech), None)
        gaps = []  # within each utterance: from its start (as fed) through its partials to its final
        for start_s in sorted({e.start_s for _, e in events}):
            times = [start_s] + [t for t, e in events if e.start_s == start_s and e.type == "partial"]
            gaps += np.diff(times).tolist()
        last_partials = {}
        for _, e in events:
            if e.type == "partial":
                last_partials[e.start_s] = e.text
        results.append(dict(audio_s=len(audio) / rate, busy_s=busy, text=" ".join(e.text for _, e in finals if e.text),
                            final_latency_s=None if last_final is None else last_final - end_of_speech,
                            endpoint_latency_s=[t - e.end_s for t, e in finals if e.end_s - e.start_s <= 15.0],
                            partial_text=" ".join(t for _, t in sorted(last_partials.items()) if t),
                            gaps=gaps, finals=len(finals), audio=audio, reference=reference))


def load_final(name: str | None, beam: int | None, single: bool):
    """The offline model for finals, or None (one pass)."""
    if name is None:
        return None
    from asr import load_model
    from asr.model.ensemble import NumpyEnsemble
    final = load_model(name, beam_width=beam)
    if single and isinstance(final.model, NumpyEnsemble):
        final.model = final.model.networks[0]
    return final


def run(model_name: str, streams: int, chunk_ms: float, paths: list[Path], references: list[str] | None = None,
        final_model=None, split: bool = False, offline_wer: float | None = None, config=None) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    from asr import load_model
    from asr.audio.load import load_audio
    from asr.live.streaming import StreamingConfig
    from asr.metrics import score
    config = config or StreamingConfig()
    counted = CountedDecodes(final_model) if final_model is not None else None
    model = load_model(model_name)
    model.streaming().warm_up()
    rate = model.sample_rate_hz
    clips = list(zip([load_audio(p, rate) for p in paths], references or [None] * len(paths)))
    results: list[dict] = []
    barrier = threading.Barrier(streams)
    executor = ThreadPoolExecutor(max(1, min(streams, os.cpu_count() or 1))) if final_model is not None else None
    # stream k plays the clips rotated by k (or with --split, every streams-th clip from the k-th), so that the
    # streams do not speak in step
    played = [clips[k::streams] if split else clips[k % len(clips):] + clips[:k % len(clips)] for k in range(streams)]
    threads = [threading.Thread(target=play, args=(model, played[k], rate, chunk_ms, results, barrier, counted,
                                                   executor, config)) for k in range(streams)]
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if executor is not None:
        executor.shutdown()
    offline = {}
    for r in results:  # the offline transcript of exactly the audio that was streamed
        key = r["audio"].tobytes()
        if key not in offline:
            offline[key] = (final_model or model).transcribe(r["audio"]).text
        r["offline"] = offline[key]
    endpoint = [t for r in results for t in r["endpoint_latency_s"]]
    scored = {}
    if references:
        refs = [r["reference"] for r in results]
        scored = dict(finals_wer=round(100 * score(refs, [r["text"] for r in results]).wer, 2),
                      partials_wer=round(100 * score(refs, [r["partial_text"] for r in results]).wer, 2),
                      offline_transcribe_wer=offline_wer)
    latencies = [r["final_latency_s"] for r in results if r["final_latency_s"] is not None]
    gaps = [g for r in results for g in r["gaps"]]
    audio_s = sum(r["audio_s"] for r in results)
    refs, hyps = [r["offline"] for r in results], [r["text"] for r in results]
    return dict(
        model=model_name, final_model=None if final_model is None else final_model.model_dir.name,
        final_beam=None if final_model is None else final_model.beam_width,
        final_networks=None if final_model is None else len(getattr(final_model.model, "networks", [0])),
        early_final_s=config.early_final_s if final_model is not None else None,
        finals=sum(r["finals"] for r in results), final_decodes=None if counted is None else counted.decodes,
        streams=streams, chunk_ms=chunk_ms, clips=len(results), audio_s=round(audio_s, 1), **scored,
        endpoint_latency_ms=dict(median=_ms(statistics.median(endpoint)), p95=_ms(np.percentile(endpoint, 95)),
                                 max=_ms(max(endpoint)), finals=len(endpoint)) if endpoint else None,
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
    parser.add_argument("--final-model", help="two passes: this offline model writes the finals")
    parser.add_argument("--final-beam", type=int, help="its beam width (default: its decoding.json)")
    parser.add_argument("--final-single", action="store_true", help="only its first network (no ensemble)")
    parser.add_argument("--manifest", help="clips from this manifest (with reference texts) instead")
    parser.add_argument("--every", type=int, default=16, help="with --manifest: every Nth utterance")
    parser.add_argument("--split", action="store_true", help="deal the clips out to the streams")
    parser.add_argument("--early-final-s", type=float,
                        help="two passes: begin each final's decode this far into its pause (default: "
                             "StreamingConfig's; 0: at the endpoint)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    corpus = args.corpus or ("fsdd" if Path(args.model).name.startswith("digits") else "librispeech")
    references, offline_wer = None, None
    final_model = load_final(args.final_model, args.final_beam, args.final_single)
    from asr.live.streaming import StreamingConfig
    config = StreamingConfig() if args.early_final_s is None else StreamingConfig(early_final_s=args.early_final_s)
    if args.manifest:
        rows = [json.loads(line) for line in open(args.manifest, encoding="utf-8")][::args.every]
        rows = [r for r in rows if r.get("duration_s", 0) <= 15.0]
        paths, references = [Path(r["audio"]) for r in rows], [r["text"] for r in rows]
        from asr.metrics import score
        offline = final_model or load_final(args.model, None, False)  # `asr transcribe` of each clip file
        offline_wer = round(100 * score(references, [offline.transcribe(p).text for p in paths]).wer, 2)
    else:
        paths = digit_clips(args.clips) if corpus == "fsdd" else english_clips(args.clips)
    rows = []
    for streams in args.streams:
        for chunk_ms in args.chunk_ms:
            row = run(args.model, streams, chunk_ms, paths, references, final_model, args.split, offline_wer,
                      config)
            row["load_average"] = os.getloadavg()
            rows.append(row)
            print(json.dumps(row), flush=True)
    report = dict(date=datetime.now(timezone.utc).isoformat(timespec="seconds"), command=sys.argv[1:], machine=dict(
        cpu=platform.processor() or platform.machine(), cores=os.cpu_count(), load_average=os.getloadavg()),
        clips=[str(p.relative_to(ROOT.parent)) if p.is_relative_to(ROOT.parent) else str(p) for p in paths],
        results=rows)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
