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
from scipy import signal
from tqdm import tqdm

from asr.audio.load import load_audio, resample
from asr.manifest import read_manifest

RATE_HZ = 16000
COPIES = ("pink-20db", "pink-10db", "babble-20db", "babble-10db", "telephone", "reverb", "gain-minus20db",
          "gain-plus20db")
BABBLE_TALKERS = 4


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise whose power falls as 1/f: white noise shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    spectrum[1:] /= np.sqrt(f[1:])
    spectrum[0] = 0
    return np.fft.irfft(spectrum, n)


def at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """speech + noise scaled so that their power ratio is `snr_db`."""
    power = np.mean(speech ** 2) + 1e-12
    noise = noise * np.sqrt(power / (np.mean(noise ** 2) + 1e-12) / 10 ** (snr_db / 10))
    return speech + noise


def babble(n: int, others: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """BABBLE_TALKERS utterances of other speakers, each looped to n samples from a random offset, each at the same
    level, summed."""
    out = np.zeros(n)
    for k in rng.choice(len(others), BABBLE_TALKERS, replace=False):
        talker = others[k] / (np.sqrt(np.mean(others[k] ** 2)) + 1e-12)
        start = int(rng.integers(len(talker)))
        out += np.resize(np.roll(talker, -start), n)
    return out


def telephone(speech: np.ndarray) -> tuple[np.ndarray, int]:
    """A telephone channel: band-passed to 300-3400 Hz, at 8 kHz, through 8-bit mu-law. Returns (samples, rate)."""
    sos = signal.butter(6, [300, 3400], btype="bandpass", fs=RATE_HZ, output="sos")
    narrow = resample(signal.sosfiltfilt(sos, speech).astype(np.float32), RATE_HZ, 8000).astype(np.float64)
    mu = 255.0
    x = np.clip(narrow, -1, 1)
    coded = np.round((np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu) + 1) / 2 * mu)  # 8 bits: 0..255
    y = coded / mu * 2 - 1
    return np.sign(y) * ((1 + mu) ** np.abs(y) - 1) / mu, 8000


def reverb(speech: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The speech played in a simulated shoebox room (image method), RT60 drawn from 0.3-0.9 s; the level kept."""
    import pyroomacoustics as pra
    rt60 = float(rng.uniform(0.3, 0.9))
    room_dim = [float(rng.uniform(3, 8)), float(rng.uniform(3, 6)), float(rng.uniform(2.4, 3.5))]
    absorption, max_order = pra.inverse_sabine(rt60, room_dim)
    room = pra.ShoeBox(room_dim, fs=RATE_HZ, materials=pra.Material(absorption), max_order=min(max_order, 20))
    inside = lambda: [float(rng.uniform(0.5, d - 0.5)) for d in room_dim]  # noqa: E731
    room.add_source(inside(), signal=speech)
    room.add_microphone(inside())
    room.simulate()
    out = room.mic_array.signals[0][:len(speech)]
    return out * np.sqrt(np.mean(speech ** 2) / (np.mean(out ** 2) + 1e-12))


def corrupt(name: str, speech: np.ndarray, others: list[np.ndarray], rng: np.random.Generator):
    """(samples, rate) of one copy of `speech` (float64 at RATE_HZ)."""
    if name.startswith("pink-"):
        return at_snr(speech, pink_noise(len(speech), rng), float(name[5:-2])), RATE_HZ
    if name.startswith("babble-"):
        return at_snr(speech, babble(len(speech), others, rng), float(name[7:-2])), RATE_HZ
    if name == "telephone":
        return telephone(speech)
    if name == "reverb":
        return reverb(speech, rng), RATE_HZ
    if name.startswith("gain-"):
        db = float(name[5:-2].replace("minus", "-").replace("plus", ""))
        return speech * 10 ** (db / 20), RATE_HZ
    raise ValueError(name)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest")
    parser.add_argument("out", type=Path)
    parser.add_argument("--every", type=int, default=4, help="every Nth utterance of the manifest (default 4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--copies", nargs="+", default=list(COPIES), choices=COPIES)
    args = parser.parse_args(argv)
    rows = read_manifest(args.manifest)
    chosen = rows[::args.every]
    speaker = lambda row: row.id.split("-")[0]  # noqa: E731  (LibriSpeech ids: speaker-chapter-utterance)
    # the babble's talkers: utterances of the manifest not chosen, by speaker
    pool = [r for r in rows if r not in chosen]
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
