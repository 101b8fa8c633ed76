"""Keep the synthetic clips Whisper tiny.en reads back: a clip whose read-back WER is above `--max-wer` is dropped.

    python recipes/mini_librispeech/synth_filter.py OUT/train.jsonl [OUT/test-VOICE.jsonl ...] [--max-wer 0.2] \
        [--jobs N] [--pack SECONDS]

For each MANIFEST (synth.py's; ids VOICE-NNNNNN) it writes, beside it:
MANIFEST.kept.jsonl            the clips kept, in the manifest's order
MANIFEST.readback/VOICE.tsv    Whisper's text of each clip (id, text): the run resumes from it
MANIFEST.readback/VOICE/       a score folder like `asr evaluate --out` (recogs.txt, errs.txt, wer.json)
MANIFEST.readback/kept.tsv     per voice: clips, clips kept, the kept fraction, hours kept, read-back WER

Whisper is peers.py's runner (tiny.en int8, beam 5, one thread); WER is asr.metrics' after our normaliser. With
`--jobs N`, N processes read back the voices side by side, each with its own Whisper (each voice's transcripts are
its own file, so a stopped run resumes alike). With `--pack S`, one Whisper call reads several clips of a voice
at once: consecutive clips joined with 1 s of silence after each, up to S seconds (Whisper's encoder reads 30 s
windows, so one short clip costs it a full window); each word Whisper times goes to the clip its middle falls in, or
the nearest one.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
from pathlib import Path

import numpy as np
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


GAP_S = 1.0  # the silence after each clip of a packed window


def pack(utterances, window_s: float) -> list[list]:
    """Consecutive groups of `utterances` whose audio, with GAP_S after each clip, fits in `window_s` (a longer
    clip is a group of its own)."""
    groups, length = [], 0.0
    for utt in utterances:
        need = utt.duration_s + GAP_S
        if not groups or length + need > window_s:
            groups.append([])
            length = 0.0
        groups[-1].append(utt)
        length += need
    return groups


def split_words(words, spans) -> list[str]:
    """The text of each span (start_s, end_s): the words ((start_s, end_s, word), in order) whose middle is in it,
    a word in a gap going to the nearest span."""
    def distance(mid, span):
        return max(span[0] - mid, mid - span[1], 0.0)

    texts = [[] for _ in spans]
    for start, end, word in words:
        mid = (start + end) / 2
        texts[min(range(len(spans)), key=lambda k: distance(mid, spans[k]))].append(word)
    return [" ".join(" ".join(t).split()) for t in texts]


def _loaded(utterances):
    """(utterance, samples) of each clip that loads; one that does not is reported and left out."""
    for utt in utterances:
        try:
            yield utt, load_audio(utt.audio, RATE_HZ)
        except AudioError as e:
            print(f"warning: skipped {e}", file=sys.stderr)


def _read_packed(group, transcribe_words) -> dict[str, str]:
    """Whisper's text of each clip of `group`, read in one call on the clips joined with GAP_S after each."""
    loaded = list(_loaded(group))
    if not loaded:
        return {}
    gap = np.zeros(round(GAP_S * RATE_HZ), np.float32)
    pieces, spans, at = [], [], 0
    for _, samples in loaded:
        pieces += [samples.astype(np.float32), gap]
        spans.append((at / RATE_HZ, (at + len(samples)) / RATE_HZ))
        at += len(samples) + len(gap)
    texts = split_words(transcribe_words(np.concatenate(pieces)), spans)
    return {utt.id: text for (utt, _), text in zip(loaded, texts)}


def read_back(utterances, transcribe, cache_path: Path, desc: str, pack_s: float | None = None) -> dict[str, str]:
    """Whisper's text of every utterance, the ones in `cache_path` read from it and the others added to it; an
    unreadable clip is reported and left out. With `pack_s`, `transcribe` returns timed words (whisper_peer's
    `words`) and reads packed windows of up to `pack_s` seconds."""
    texts = read_cache(cache_path)
    todo = [u for u in utterances if u.id not in texts]

    def one_at_a_time(group):
        return {utt.id: " ".join(transcribe(samples).split()) for utt, samples in _loaded(group)}

    def packed(group):
        return _read_packed(group, transcribe)

    groups, read = (pack(todo, pack_s), packed) if pack_s else ([[u] for u in todo], one_at_a_time)
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    with open(cache_path, "a", encoding="utf-8") as cache:
        bar = tqdm(total=len(todo), desc=desc, unit="clip", disable=None)
        for group in groups:
            for utt_id, text in read(group).items():
                texts[utt_id] = text
                cache.write(f"{utt_id}\t{text}\n")
            cache.flush()
            bar.update(len(group))
        bar.close()
    return texts


_WORKER: dict = {}  # a --jobs worker's own transcriber, made once by its initializer


def _start_worker(make_transcribe) -> None:
    _WORKER["transcribe"] = make_transcribe()


def _read_back_voice(task) -> dict[str, str]:
    utterances, *rest = task
    return read_back(utterances, _WORKER["transcribe"], *rest)


def read_back_voices(tasks, make_transcribe, jobs: int) -> dict[str, str]:
    """Whisper's text of every clip of `tasks` ((utterances, cache path, description, pack_s) per voice), the
    voices read back one after another or, with `jobs` > 1, by that many processes (forked: `make_transcribe` runs
    in each)."""
    texts = {}
    if jobs <= 1 or len(tasks) <= 1:
        transcribe = make_transcribe()
        for utterances, *rest in tasks:
            texts.update(read_back(utterances, transcribe, *rest))
        return texts
    with multiprocessing.get_context("fork").Pool(min(jobs, len(tasks)), _start_worker, (make_transcribe,)) as pool:
        for voice_texts in pool.imap_unordered(_read_back_voice, tasks):
            texts.update(voice_texts)
    return texts


def filter_manifest(manifest: Path, make_transcribe, max_wer: float, log=print, jobs: int = 1,
                    pack_s: float | None = None) -> list[dict]:
    """Read back every clip of `manifest` (with the transcriber `make_transcribe()` returns: timed words with
    `pack_s`), write the kept manifest and the per-voice score folders and table; returns the table's rows."""
    utterances = read_manifest(manifest)
    if not utterances:
        raise ValueError(f"{manifest}: no clips")
    lines = [line for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    readback = manifest.with_name(manifest.name + ".readback")
    voices = sorted({voice_of(u.id) for u in utterances})
    mine_of = {voice: [u for u in utterances if voice_of(u.id) == voice] for voice in voices}
    texts = read_back_voices([(mine_of[v], readback / f"{v}.tsv", f"read back {v}", pack_s) for v in voices],
                             make_transcribe, jobs)
    kept_ids = {u.id for u in utterances if u.id in texts and keep(u.text, texts[u.id], max_wer)}
    table = []
    for voice in voices:
        mine = mine_of[voice]
        heard = [u for u in mine if u.id in texts]
        scores = metrics.write_report(readback / voice, [u.id for u in heard], [u.text for u in heard],
                                      [texts[u.id] for u in heard])
        kept = [u for u in heard if u.id in kept_ids]
        table.append({"voice": voice, "clips": len(mine), "kept": len(kept),
                      "kept_fraction": round(len(kept) / len(mine), 4),
                      "hours": round(sum(u.duration_s for u in mine) / 3600, 3),
                      "hours_kept": round(sum(u.duration_s for u in kept) / 3600, 3),
                      "readback_wer": round(scores.wer, 4)})
    kept_lines = [line for line, u in zip(lines, utterances) if u.id in kept_ids]
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
    parser.add_argument("--pack", type=float, metavar="SECONDS",
                        help="read consecutive clips of a voice together, up to SECONDS a Whisper call (at most 30)")
    args = parser.parse_args(argv)
    try:
        for manifest in args.manifests:
            if not manifest.is_file():
                raise ValueError(f"{manifest}: no such manifest (run synth.py first)")
        if args.jobs < 1:
            raise ValueError(f"--jobs {args.jobs}: must be at least 1")
        if args.pack is not None and not 0 < args.pack <= 30:
            raise ValueError(f"--pack {args.pack:g}: Whisper reads at most 30 s at once")
        words = args.pack is not None
        transcribe, _ = whisper_peer(words=words)  # fails here, before any read-back, where Whisper is missing
        make_transcribe = (lambda: transcribe) if args.jobs == 1 else (lambda: whisper_peer(words=words)[0])
        for manifest in args.manifests:
            filter_manifest(manifest, make_transcribe, args.max_wer, jobs=args.jobs, pack_s=args.pack)
    except (PeerUnavailable, ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
