"""Keep the synthetic clips Whisper tiny.en reads back: a clip whose read-back WER is above `--max-wer` is dropped.

    python recipes/mini_librispeech/synth_filter.py OUT/train.jsonl [OUT/test-VOICE.jsonl ...] [--max-wer 0.2] \
        [--jobs N]

For each MANIFEST (synth.py's; ids VOICE-NNNNNN) it writes, beside it:
MANIFEST.kept.jsonl            the clips kept, in the manifest's order
MANIFEST.readback/VOICE.tsv    Whisper's text of each clip (id, text): the run resumes from it
MANIFEST.readback/VOICE/       a score folder like `asr evaluate --out` (recogs.txt, errs.txt, wer.json)
MANIFEST.readback/kept.tsv     per voice: clips, clips kept, the kept fraction, hours kept, read-back WER

Whisper is peers.py's runner (tiny.en int8, beam 5, one thread); WER is asr.metrics' after our normaliser. With
`--jobs N`, N processes read back the voices side by side, each with its own Whisper (each voice's transcripts are
its own file, so a stopped run resumes alike).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from pathlib import Path

from peers import RATE_HZ, PeerUnavailable, whisper_peer
from tqdm import tqdm

from asr import metrics
from asr.audio.load import AudioError, load_audio
from asr.manifest import read_manifest

MAX_WER = 0.2


def voice_of(clip_id: str) -> str:
    return clip_id.rsplit("-", 1)[0]


def keep(reference: str, hypothesis: str, max_wer: float = MAX_WER) -> bool:
    """Whether a clip is kept: its read-back WER (after our normaliser) is at most `max_wer`."""
    return metrics.score([reference], [hypothesis]).wer <= max_wer


def read_cache(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    rows = (line.split("\t", 1) for line in path.read_text(encoding="utf-8").splitlines() if "\t" in line)
    return {clip_id: text for clip_id, text in rows}


def read_back(utterances, transcribe, cache_path: Path, desc: str) -> dict[str, str]:
    """Whisper's text of every utterance, the ones in `cache_path` read from it and the others added to it; an
    unreadable clip is reported and left out."""
    texts = read_cache(cache_path)
    todo = [u for u in utterances if u.id not in texts]
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    with open(cache_path, "a", encoding="utf-8") as cache:
        for utt in tqdm(todo, desc=desc, unit="clip", disable=None):
            try:
                samples = load_audio(utt.audio, RATE_HZ)
            except AudioError as e:
                print(f"warning: skipped {e}", file=sys.stderr)
                continue
            texts[utt.id] = " ".join(transcribe(samples).split())
            cache.write(f"{utt.id}\t{texts[utt.id]}\n")
            cache.flush()
    return texts


_WORKER: dict = {}  # a --jobs worker's own transcriber, made once by its initializer


def _start_worker(make_transcribe) -> None:
    _WORKER["transcribe"] = make_transcribe()


def _read_back_voice(task) -> dict[str, str]:
    utterances, cache_path, desc = task
    return read_back(utterances, _WORKER["transcribe"], cache_path, desc)


def read_back_voices(tasks, make_transcribe, jobs: int) -> dict[str, str]:
    """Whisper's text of every clip of `tasks` ((utterances, cache path, description) per voice), the voices read
    back one after another or, with `jobs` > 1, by that many processes (forked: `make_transcribe` runs in each)."""
    texts = {}
    if jobs <= 1 or len(tasks) <= 1:
        transcribe = make_transcribe()
        for utterances, cache_path, desc in tasks:
            texts.update(read_back(utterances, transcribe, cache_path, desc))
        return texts
    with multiprocessing.get_context("fork").Pool(min(jobs, len(tasks)), _start_worker, (make_transcribe,)) as pool:
        for voice_texts in pool.imap_unordered(_read_back_voice, tasks):
            texts.update(voice_texts)
    return texts


def filter_manifest(manifest: Path, make_transcribe, max_wer: float, log=print, jobs: int = 1) -> list[dict]:
    """Read back every clip of `manifest` (with the transcriber `make_transcribe()` returns), write the kept
    manifest and the per-voice score folders and table; returns the table's rows."""
    utterances = read_manifest(manifest)
    if not utterances:
        raise ValueError(f"{manifest}: no clips")
    lines = [line for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    readback = manifest.with_name(manifest.name + ".readback")
    voices = sorted({voice_of(u.id) for u in utterances})
    mine_of = {voice: [u for u in utterances if voice_of(u.id) == voice] for voice in voices}
    texts = read_back_voices([(mine_of[v], readback / f"{v}.tsv", f"read back {v}") for v in voices],
                             make_transcribe, jobs)
    table = []
    for voice in voices:
        mine = mine_of[voice]
        heard = [u for u in mine if u.id in texts]
        scores = metrics.write_report(readback / voice, [u.id for u in heard], [u.text for u in heard],
                                      [texts[u.id] for u in heard])
        kept = [u for u in heard if keep(u.text, texts[u.id], max_wer)]
        table.append({"voice": voice, "clips": len(mine), "kept": len(kept),
                      "kept_fraction": round(len(kept) / len(mine), 4),
                      "hours": round(sum(u.duration_s for u in mine) / 3600, 3),
                      "hours_kept": round(sum(u.duration_s for u in kept) / 3600, 3),
                      "readback_wer": round(scores.wer, 4)})
    kept_lines = [line for line, u in zip(lines, utterances) if u.id in texts and keep(u.text, texts[u.id], max_wer)]
    out = manifest.with_name(manifest.name.removesuffix(".jsonl") + ".kept.jsonl")
    out.write_text("".join(line + "\n" for line in kept_lines), encoding="utf-8")
    columns = list(table[0])
    (readback / "kept.tsv").write_text("\n".join("\t".join(str(r[c]) for c in columns) for r in [
        dict(zip(columns, columns)), *table]) + "\n", encoding="utf-8")
    (readback / "summary.json").write_text(json.dumps({"manifest": str(manifest), "max_wer": max_wer,
                                                        "voices": table}, indent=2) + "\n")
    for r in table:
        log(f"{manifest.name} {r['voice']}: kept {r['kept']} / {r['clips']} ({100 * r['kept_fraction']:.1f} %), "
            f"{r['hours_kept']:.3f} / {r['hours']:.3f} h; read-back WER {100 * r['readback_wer']:.2f} %")
    log(f"{out}\t{len(kept_lines)} of {len(lines)} clips")
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifests", nargs="+", type=Path)
    parser.add_argument("--max-wer", type=float, default=MAX_WER,
                        help=f"drop a clip read back with a higher WER (default {MAX_WER})")
    parser.add_argument("--jobs", type=int, default=1, help="processes reading back voices side by side (default 1)")
    args = parser.parse_args(argv)
    try:
        for manifest in args.manifests:
            if not manifest.is_file():
                raise ValueError(f"{manifest}: no such manifest (run synth.py first)")
        if args.jobs < 1:
            raise ValueError(f"--jobs {args.jobs}: must be at least 1")
        transcribe, _ = whisper_peer()  # fails here, before any read-back, where Whisper is missing
        make_transcribe = (lambda: transcribe) if args.jobs == 1 else (lambda: whisper_peer()[0])
        for manifest in args.manifests:
            filter_manifest(manifest, make_transcribe, args.max_wer, jobs=args.jobs)
    except (PeerUnavailable, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
