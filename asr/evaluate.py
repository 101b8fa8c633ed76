"""Score a model on a manifest: per-utterance hypotheses, aligned errors and a corpus WER/CER summary."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from tqdm import tqdm

from asr import metrics
from asr.audio import AudioError, load_audio
from asr.manifest import read_manifest
from asr.transcribe import Transcriber


def evaluate(transcriber: Transcriber, manifest, out_dir, limit: int | None = None, log=print) -> dict:
    """Transcribe every clip of `manifest` and write recogs.txt, errs.txt, wer.json and summary.json to out_dir.

    A clip that cannot be read is reported and left out of the score (the summary counts them).
    Returns the summary: scores, real-time factor, model, decoding settings.
    """
    utterances = read_manifest(manifest)[:limit]
    ids, refs, hyps, skipped = [], [], [], []
    audio_s = decode_s = 0.0
    bar = tqdm(utterances, desc=f"evaluate {Path(manifest).name}", unit="clip")
    for utt in bar:
        try:
            samples = load_audio(utt.audio, transcriber.sample_rate_hz)
        except AudioError as e:
            bar.write(f"warning: skipped {e}", file=sys.stderr)
            skipped.append(utt.id)
            continue
        started = time.perf_counter()
        result = transcriber.transcribe(samples)
        decode_s += time.perf_counter() - started
        audio_s += len(samples) / transcriber.sample_rate_hz
        ids.append(utt.id)
        refs.append(utt.text)
        hyps.append(result.text)
    if not ids:
        raise ValueError(f"{manifest}: no utterance could be scored ({len(skipped)} unreadable)")
    scores = metrics.write_report(out_dir, ids, refs, hyps)
    summary = {**scores.as_dict(), "skipped": len(skipped), "audio_s": round(audio_s, 2),
               "decode_s": round(decode_s, 2), "rtf": round(decode_s / max(audio_s, 1e-9), 4),
               "model": str(transcriber.model_dir), "beam_width": transcriber.beam_width,
               "lexicon_words": len(transcriber.lexicon.words) if transcriber.lexicon else None,
               "lm": str(transcriber.lm_path) if transcriber.lm_path else None,
               **({"lm_weight": transcriber.decoding.lm_weight, "word_bonus": transcriber.decoding.word_bonus}
                  if transcriber.lm_path else {}),
               "manifest": str(manifest)}
    (Path(out_dir) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    log(f"{metrics.summary_line(scores)}; RTF {summary['rtf']:.4f}; details in {out_dir}")
    return summary
