"""Corrupted copies of dev-clean-2 for the robustness benchmark: each a folder of WAV files and a manifest.

    python recipes/mini_librispeech/robustness.py exp/mini_librispeech/data/dev.jsonl exp/mini_librispeech/robust \
        [--every 4] [--seed 0]

writes OUT/<copy>/*.wav and OUT/<copy>.jsonl for every copy in COPIES (the same utterances, every `--every`th of
the manifest), and OUT/clean.jsonl, the same utterances as recorded. Score each with
`asr evaluate OUT/<copy>.jsonl --model NAME --out DIR`. Every corruption is drawn from `--seed` (the noise, the
babble's speakers, the rooms): the benchmark's seeds; training augmentation must draw its own.

| copy | what |
| --- | --- |
| pink-20db, pink-10db | pink (1/f) noise at 20 and 10 dB SNR |
| babble-20db, babble-10db | four other dev-clean-2 speakers' utterances summed, at 20 and 10 dB SNR |
| telephone | 300-3400 Hz band, 8 kHz, 8-bit mu-law (G.711), written at 8 kHz |
| reverb | a simulated shoebox room (pyroomacoustics), RT60 drawn from 0.3-0.9 s, random source and microphone |
| gain-minus20db, gain-plus20db | the level 20 dB lower, and 20 dB higher (clipped at full scale, as a recorder clips) |
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import soundfile
from tqdm import tqdm

from asr.audio.load import load_audio
from asr.manifest import read_manifest
from asr.training.augment import RATE_HZ, at_snr, babble, pink_noise, reverb, telephone, with_gain

COPIES = ("pink-20db", "pink-10db", "babble-20db", "babble-10db", "telephone", "reverb", "gain-minus20db",
          "gain-plus20db")
BABBLE_TALKERS = 4


def corrupt(name: str, speech: np.ndarray, others: list[np.ndarray], rng: np.random.Generator):
    """(samples, rate) of one copy of `speech` (float64 at RATE_HZ)."""
    if name.startswith("pink-"):
        return at_snr(speech, pink_noise(len(speech), rng), float(name[5:-2])), RATE_HZ
    if name.startswith("babble-"):
        return at_snr(speech, babble(len(speech), others, rng, BABBLE_TALKERS), float(name[7:-2])), RATE_HZ
    if name == "telephone":
        return telephone(speech)
    if name == "reverb":
        return reverb(speech, rng), RATE_HZ
    if name.startswith("gain-"):
        db = float(name[5:-2].replace("minus", "-").replace("plus", ""))
        return with_gain(speech, db), RATE_HZ
    raise ValueError(name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest")
    parser.add_argument("out", type=Path)
    parser.add_argument("--every", type=int, default=4, help="every Nth utterance of the manifest (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--copies", nargs="+", default=list(COPIES), choices=COPIES)
    parser.add_argument("--babble-from", type=Path, metavar="MANIFEST",
                        help="the babble's talkers from this manifest's utterances (default: the manifest's own "
                             "utterances that are not chosen; needed with --every 1)")
    args = parser.parse_args(argv)
    rows = read_manifest(args.manifest)
    chosen = rows[::args.every]
    speaker = lambda row: row.id.split("-")[0]  # noqa: E731  (LibriSpeech ids: speaker-chapter-utterance)
    # the babble's talkers: utterances of the manifest not chosen, by speaker
    pool = read_manifest(args.babble_from) if args.babble_from else [r for r in rows if r not in chosen]
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "clean.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"id": r.id, "audio": str(r.audio), "text": r.text, "duration_s": r.duration_s}) + "\n"
                     for r in chosen)
    audio_of = {}
    for name in args.copies:
        rng = np.random.default_rng([args.seed, COPIES.index(name)])
        folder = args.out / name
        folder.mkdir(exist_ok=True)
        lines = []
        for row in tqdm(chosen, desc=name, unit="clip", disable=None):
            speech = audio_of.get(row.id)
            if speech is None:
                speech = audio_of[row.id] = load_audio(row.audio, RATE_HZ).astype(np.float64)
            others = []
            if name.startswith("babble-"):
                candidates = [r for r in pool if speaker(r) != speaker(row)]
                for k in rng.choice(len(candidates), BABBLE_TALKERS + 2, replace=False):
                    others.append(load_audio(candidates[k].audio, RATE_HZ).astype(np.float64))
            samples, rate = corrupt(name, speech, others, rng)
            path = folder / f"{row.id}.wav"
            soundfile.write(path, np.clip(samples, -1, 1).astype(np.float32), rate, subtype="PCM_16")
            lines.append(json.dumps({"id": row.id, "audio": f"{name}/{path.name}", "text": row.text,  # relative
                                     "duration_s": row.duration_s}) + "\n")
        (args.out / f"{name}.jsonl").write_text("".join(lines), encoding="utf-8")
        print(f"{args.out / name}.jsonl\t{len(lines)} clips")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
