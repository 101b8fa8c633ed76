"""Manifests (JSONL: id, audio, text, duration_s) -> cached log-mel features -> length-bucketed tf.data batches.

Features are computed once per (manifest, feature config, speed) and cached as one float16 array; every batch is
padded to its longest clip and travels with the true feature and label lengths.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from asr.audio.load import AudioError, change_speed, load_audio, resample
from asr.config import FeatureConfig
from asr.decoding.text import Vocabulary, normalize
from asr.manifest import read_manifest
from asr.training.batching import make_batches, min_ctc_frames  # noqa: F401  (part of this module's API)
from asr.training.features import log_mel


@dataclass
class FeatureSet:
    """Features of a manifest, kept in memory: utterance i is frames[offsets[i]:offsets[i + 1]]."""

    ids: list[str]
    texts: list[str]
    frames: np.ndarray  # [total_frames, mels] float16
    offsets: np.ndarray  # [utterances + 1] int64

    def __len__(self) -> int:
        return len(self.ids)

    def features(self, i: int) -> np.ndarray:
        return self.frames[self.offsets[i]:self.offsets[i + 1]]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def subset(self, keep: np.ndarray) -> "FeatureSet":
        keep = np.flatnonzero(keep) if keep.dtype == bool else keep
        parts = [self.features(i) for i in keep]
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
        frames = np.concatenate(parts) if parts else self.frames[:0]
        return FeatureSet([self.ids[i] for i in keep], [self.texts[i] for i in keep], frames, offsets)


def concatenate(sets: list[FeatureSet]) -> FeatureSet:
    """One FeatureSet holding the utterances of `sets` one after another (ids may repeat)."""
    frames = np.concatenate([s.frames for s in sets])
    starts = np.cumsum([0] + [len(s.frames) for s in sets[:-1]])
    offsets = np.concatenate([[0]] + [s.offsets[1:] + start for s, start in zip(sets, starts)]).astype(np.int64)
    return FeatureSet([i for s in sets for i in s.ids], [t for s in sets for t in s.texts], frames, offsets)


def _cache_key(manifest: Path, cfg: FeatureConfig, speed: float = 1.0) -> str:
    digest = hashlib.sha1(manifest.read_bytes() + json.dumps(asdict(cfg), sort_keys=True).encode())
    return f"{manifest.stem}-{digest.hexdigest()[:12]}{'' if speed == 1.0 else f'-speed{speed:g}'}.npz"


def load_features(manifest, cfg: FeatureConfig, cache_dir=None, progress: bool = True,
                  speed: float = 1.0) -> FeatureSet:
    """Compute (or load from cache_dir) the log-mel features of every readable clip of a manifest, each played
    `speed` times as fast (change_speed).

    Unreadable clips are skipped with a warning on the progress bar, never fatal.
    """
    manifest = Path(manifest)
    cache = Path(cache_dir) / _cache_key(manifest, cfg, speed) if cache_dir else None
    if cache is not None and cache.exists():
        return _load(cache)
    ids, texts, parts = [], [], []
    bar = tqdm(read_manifest(manifest), desc=f"features {manifest.name}" + (f" x{speed:g}" if speed != 1.0 else ""),
               unit="clip", disable=None if progress else True)  # None: bars on a terminal only
    for utt in bar:
        try:
            audio = load_audio(utt.audio, cfg.sample_rate_hz)
        except AudioError as e:
            bar.write(f"warning: skipped {e}", file=sys.stderr)
            continue
        ids.append(utt.id)
        texts.append(utt.text)
        parts.append(log_mel(change_speed(audio, cfg.sample_rate_hz, speed), cfg).numpy().astype(np.float16))
    offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    frames = np.concatenate(parts) if parts else np.zeros([0, cfg.num_mels], np.float16)
    result = FeatureSet(ids, texts, frames, offsets)
    if cache is not None:
        _save(result, cache)
    return result


def load_augmented_features(manifest, cfg: FeatureConfig, cache_dir, copies: int, kinds, seed: int,
                            progress: bool = True) -> list[FeatureSet]:
    """`copies` corrupted versions of every readable clip of a manifest (asr.training.augment.corrupt_randomly:
    copy k of clip i is drawn from the generator seeded [seed, k, i]; babble is made of other speakers' clips),
    each computed once and cached in cache_dir like load_features."""
    from asr.training.augment import RATE_HZ, corrupt_randomly

    manifest = Path(manifest)
    tag = hashlib.sha1(json.dumps([list(kinds), seed]).encode()).hexdigest()[:8]
    caches = [Path(cache_dir) / _cache_key(manifest, cfg).replace(".npz", f"-aug{k}-{tag}.npz") if cache_dir
              else None for k in range(copies)]
    results = [_load(cache) if cache is not None and cache.exists() else None for cache in caches]
    if all(r is not None for r in results):
        return results
    rows, clips = [], []
    for utt in tqdm(read_manifest(manifest), desc=f"audio {manifest.name}", unit="clip",
                    disable=None if progress else True):
        try:
            clips.append(load_audio(utt.audio, RATE_HZ).astype(np.float64))
            rows.append(utt)
        except AudioError:
            continue  # load_features warns about these
    speakers = np.array([utt.id.split("-")[0] for utt in rows])
    for k in range(copies):
        if results[k] is not None:
            continue
        parts = []
        for i in tqdm(range(len(rows)), desc=f"corrupted copy {k + 1} of {copies}", unit="clip",
                      disable=None if progress else True):
            rng = np.random.default_rng([seed, k, i])
            others = np.flatnonzero(speakers != speakers[i])
            others = [clips[j] for j in rng.choice(others, min(8, len(others)), replace=False)] if len(others) else []
            samples, _ = corrupt_randomly(clips[i], others, rng, tuple(kinds))
            samples = resample(samples.astype(np.float32), RATE_HZ, cfg.sample_rate_hz)
            parts.append(log_mel(samples, cfg).numpy().astype(np.float16))
        offsets = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
        frames = np.concatenate(parts) if parts else np.zeros([0, cfg.num_mels], np.float16)
        results[k] = FeatureSet([u.id for u in rows], [u.text for u in rows], frames, offsets)
        if caches[k] is not None:
            _save(results[k], caches[k])
    return results


def _load(cache: Path) -> FeatureSet:
    with np.load(cache) as data:
        return FeatureSet(list(data["ids"]), list(data["texts"]), data["frames"], data["offsets"])


def _save(features: FeatureSet, cache: Path) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".tmp.npz")
    np.savez(tmp, ids=np.array(features.ids), texts=np.array(features.texts), frames=features.frames,
             offsets=features.offsets)
    os.replace(tmp, cache)


def center_utterances(features: FeatureSet, mean: np.ndarray) -> None:
    """Shift each utterance's frames, in place, so that its mean is `mean` (what normalising by its own mean
    gives once the model subtracts `mean`)."""
    mean = np.asarray(mean, np.float32)
    for i in range(len(features)):
        part = features.frames[features.offsets[i]:features.offsets[i + 1]]
        if len(part):
            part += (mean - part.astype(np.float32).mean(axis=0)).astype(part.dtype)


def encode_labels(texts, vocab: Vocabulary) -> list[np.ndarray]:
    return [np.array(vocab.encode(normalize(t)), np.int32) for t in texts]


def feature_stats(features: FeatureSet) -> tuple[np.ndarray, np.ndarray]:
    """Per-mel mean and standard deviation over all frames (float64 accumulation)."""
    frames = features.frames.astype(np.float32)
    return frames.mean(axis=0), frames.std(axis=0)


def pad_batch(features: FeatureSet, labels, indices) -> tuple[np.ndarray, ...]:
    """(features [b, t, mels] float32, feature_lengths [b], labels [b, l] int32, label_lengths [b])."""
    feats = [features.features(i) for i in indices]
    labs = [labels[i] for i in indices] if labels is not None else [np.zeros(0, np.int32)] * len(indices)
    f_len = np.array([len(f) for f in feats], np.int32)
    l_len = np.array([len(x) for x in labs], np.int32)
    x = np.zeros([len(feats), max(f_len.max(initial=0), 1), features.frames.shape[1]], np.float32)
    y = np.zeros([len(labs), max(l_len.max(initial=0), 1)], np.int32)
    for j, (f, lab) in enumerate(zip(feats, labs)):
        x[j, :len(f)] = f
        y[j, :len(lab)] = lab
    return x, f_len, y, l_len


def batch_dataset(features: FeatureSet, labels, batches) -> tf.data.Dataset:
    """tf.data over the given batches, in order, prefetched while the model trains."""
    num_mels = features.frames.shape[1]

    def generate():
        for indices in batches:
            yield pad_batch(features, labels, indices)

    signature = (tf.TensorSpec([None, None, num_mels], tf.float32), tf.TensorSpec([None], tf.int32),
                 tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32))
    return tf.data.Dataset.from_generator(generate, output_signature=signature).prefetch(2)
