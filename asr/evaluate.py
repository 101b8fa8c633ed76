"""Score a model on a manifest: per-utterance hypotheses, aligned errors and a corpus WER/CER summary."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from asr import metrics
from asr.audio.load import AudioError, load_audio
from asr.manifest import read_manifest
from asr.transcribe import Transcriber

QUIET_RMS = 3e-4  # the level of the quiet put around clips by pad_s (about -70 dBFS, a quiet room's microphone)
STREAM_CHUNK_S = 0.04  # chunk size when evaluating by streaming


def with_quiet(samples: np.ndarray, pad_s: float, rate: int, seed: int = 0, rms: float = QUIET_RMS) -> np.ndarray:
    """`samples` with `pad_s` seconds of faint noise (of level `rms`) before and after, as a live recording has
    around speech."""
    if pad_s <= 0:
        return samples
    rng = np.random.default_rng(seed)
    pad = lambda: (rng.standard_normal(int(pad_s * rate)) * rms).astype(np.float32)  # noqa: E731
    return np.concatenate([pad(), samples, pad()])


def stream_text(transcriber, samples: np.ndarray) -> str:
    """The finals of a StreamingTranscriber fed `samples` in STREAM_CHUNK_S chunks, joined."""
    from asr.live.streaming import StreamingTranscriber
    stream = StreamingTranscriber(transcriber)
    chunk = int(STREAM_CHUNK_S * transcriber.sample_rate_hz)
    events = [e for i in range(0, len(samples), chunk) for e in stream.feed(samples[i:i + chunk])]
    return " ".join(e.text for e in events + stream.finish() if e.type == "final" and e.text)


def score_clips(manifest, utterances, rate: int, transcribe, out_dir, desc: str) -> tuple[metrics.Scores, dict]:
    """Transcribe the audio of each of `utterances` (of `manifest`) with `transcribe(samples, index) -> (text, the
    samples it heard)`, index counting the clips read, and write recogs.txt, errs.txt and wer.json to out_dir; a
    clip that cannot be read is reported and left out. Returns (scores, summary): the scores, clips skipped, audio
    seconds heard, decoding seconds, the real-time factor (wall clock) and cpu_rtf (this process's CPU time over the
    audio time, which a shared machine's other work does not inflate)."""
    ids, refs, hyps, skipped = [], [], [], 0
    audio_s = decode_s = cpu_s = 0.0
    bar = tqdm(utterances, desc=desc, unit="clip", disable=None)  # on a terminal only
    for utt in bar:
        try:
            samples = load_audio(utt.audio, rate)
        except AudioError as e:
            bar.write(f"warning: skipped {e}", file=sys.stderr)
            skipped += 1
            continue
        started, started_cpu = time.perf_counter(), time.process_time()
        text, heard = transcribe(samples, len(ids))
        decode_s += time.perf_counter() - started
        cpu_s += time.process_time() - started_cpu
        audio_s += len(heard) / rate
        ids.append(utt.id)
        refs.append(utt.text)
        hyps.append(text)
    if not ids:
        raise ValueError(f"{manifest}: no utterance could be scored ({skipped} unreadable)")
    scores = metrics.write_report(out_dir, ids, refs, hyps)
    return scores, {**scores.as_dict(), "skipped": skipped, "audio_s": round(audio_s, 2),
                    "decode_s": round(decode_s, 2), "rtf": round(decode_s / max(audio_s, 1e-9), 4),
                    "cpu_rtf": round(cpu_s / max(audio_s, 1e-9), 4)}


def evaluate(transcriber: Transcriber, manifest, out_dir, limit: int | None = None, log=print,
             pad_s: float = 0.0, streaming: bool = False) -> dict:
    """Transcribe every clip of `manifest` and write recogs.txt, errs.txt, wer.json and summary.json to out_dir.

    pad_s: put that much faint noise before and after each clip. streaming: transcribe by feeding the clip to a
    StreamingTranscriber in 40 ms chunks (the finals, joined) instead of offline.
    A clip that cannot be read is reported and left out of the score (the summary counts them).
    Returns the summary: scores, real-time factor, model, decoding settings.
    """
    rate = transcriber.sample_rate_hz

    def transcribe(samples: np.ndarray, index: int) -> tuple[str, np.ndarray]:
        samples = with_quiet(samples, pad_s, rate, seed=index)
        return (stream_text(transcriber, samples) if streaming else transcriber.transcribe(samples).text), samples

    scores, summary = score_clips(manifest, read_manifest(manifest)[:limit], rate, transcribe, out_dir,
                                  f"evaluate {Path(manifest).name}")
    summary = {**summary, "model": str(transcriber.model_dir), "beam_width": transcriber.beam_width,
               "lexicon_words": len(transcriber.lexicon.words) if transcriber.lexicon else None,
               "lm": str(transcriber.lm_path) if transcriber.lm_path else None,
               **({"lm_weight": transcriber.decoding.lm_weight, "word_bonus": transcriber.decoding.word_bonus,
                   "prior_scale": transcriber.decoding.prior_scale if transcriber.log_prior is not None else 0.0}
                  if transcriber.lm_path else {}),
               "manifest": str(manifest), "pad_s": pad_s, "streaming": streaming}
    (Path(out_dir) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    log(f"{metrics.summary_line(scores)}; RTF {summary['rtf']:.4f}; details in {out_dir}")
    return summary
