"""Where the vanishing gradient bites: the digit must be carried across N silent steps.

Each FSDD clip is followed by N output frames of zero input (the feature mean, which the model normalises to 0),
and only the last frame is read: a 10-way digit classifier on h_T (the package's acoustic model, one
unidirectional layer, num_tokens = 10). With N = 0 this is easy; with growing N the gradient from the readout to
the frames that hold the word must cross N steps of h_t = f(h_(t-1), 0), and the state must keep the digit there.

Read top to bottom: delayed (the data) -> train_memory (one cell, one delay) -> the gradient at the word.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import gradients
import keras
import numpy as np
import tensorflow as tf

from asr import config
from asr.training.data import FeatureSet, feature_stats, load_features, make_batches, pad_batch
from asr.training.keras_model import build_model, output_lengths
from asr.training.train import make_optimizer

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def delayed(features: FeatureSet, indices, delay_frames: int, mean: np.ndarray, stack: int):
    """A batch whose clips are each followed by delay_frames output frames (delay_frames * stack feature frames) of
    the feature mean: (features [b, t, mels], lengths [b], digit [b])."""
    x, lengths, _, _ = pad_batch(features, None, indices)
    # whole output frames: round each clip up to a multiple of `stack`, then add the delay
    start = -(-lengths // stack) * stack
    total = start + delay_frames * stack
    out = np.zeros([len(indices), int(total.max()), x.shape[2]], np.float32)
    for j, n in enumerate(lengths):
        out[j, :n] = x[j, :n]
        out[j, n:total[j]] = mean
    digits = np.array([DIGITS.index(features.texts[i]) for i in indices], np.int32)
    return out, total.astype(np.int32), digits


def train_memory(cell: str, units: int, delay_frames: int, train_set: FeatureSet, test_set: FeatureSet,
                 base: config.Config, epochs: int, probe_clips: int, out: Path, log) -> dict:
    """Train one cell for one delay; returns (and writes) per-epoch loss and test accuracy and the gradient that
    reaches the clip's last real frame (distance delay_frames) at initialisation and after training."""
    path = out / f"{cell}-delay{delay_frames}.json"
    if path.exists():
        return json.loads(path.read_text())
    cfg = config.load(overrides=config.merge(base.to_dict(), {
        "model": {"cell": cell, "units": units, "bidirectional": False, "num_tokens": len(DIGITS)}}))
    keras.utils.set_random_seed(0)
    model = build_model(cfg.model, cfg.features.num_mels)
    mean, std = feature_stats(train_set)
    model.set_normalization(mean, std)
    steps_per_epoch = len(make_batches(train_set.lengths, cfg.train.batch_frames, cfg.train.max_batch_size, 0))
    cfg = config.load(overrides=config.merge(cfg.to_dict(), {"train": {"epochs": epochs}}))
    optimizer = make_optimizer(cfg, steps_per_epoch)
    k = cfg.model.stack_frames
    signature = [tf.TensorSpec([None, None, cfg.features.num_mels], tf.float32), tf.TensorSpec([None], tf.int32)]

    @tf.function(input_signature=signature)
    def last_logits(features, lengths):
        logits, out_lengths = model(features, lengths, training=False)
        return tf.gather(logits, out_lengths - 1, batch_dims=1)

    @tf.function(input_signature=[*signature, tf.TensorSpec([None], tf.int32)])
    def step(features, lengths, digits):
        with tf.GradientTape() as tape:
            logits, out_lengths = model(features, lengths, training=True)
            last = tf.gather(logits, out_lengths - 1, batch_dims=1)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(digits, last))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    def accuracy() -> float:
        correct = 0
        for batch in np.array_split(np.arange(len(test_set)), max(1, len(test_set) // 64)):
            x, lengths, digits = delayed(test_set, batch, delay_frames, mean, k)
            correct += int(np.sum(np.argmax(last_logits(x, lengths).numpy(), -1) == digits))
        return correct / len(test_set)

    probe_idx = np.linspace(0, len(test_set) - 1, probe_clips).round().astype(int)
    px, plengths, pdigits = delayed(test_set, probe_idx, delay_frames, mean, k)
    targets = gradients.Targets(np.arange(len(probe_idx)), output_lengths(plengths, cfg.model) - 1, pdigits)
    initial = build_model(cfg.model, cfg.features.num_mels)  # a copy of the initial weights, probed after training
    initial.set_weights(model.get_weights())
    history, started = [], time.time()
    for epoch in range(epochs):
        losses = []
        for batch in make_batches(train_set.lengths, cfg.train.batch_frames, cfg.train.max_batch_size, epoch):
            losses.append(float(step(*delayed(train_set, batch, delay_frames, mean, k))))
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses)), "test_accuracy": accuracy(),
                        "seconds": time.time() - started})
    probed = gradients.probe_models({"init": initial, "trained": model}, px, plengths, targets)
    cells = {"init": initial.rnns[-1].cell, "trained": model.rnns[-1].cell}
    result = {"cell": cell, "units": units, "delay_frames": delay_frames, "frame_s": cfg.features.hop_ms / 1000 * k,
              "parameters": int(sum(np.prod(w.shape) for w in model.trainable_weights)), "history": history,
              "gradient_at_word": {name: word_gradient(r, delay_frames, cells[name]) for name, r in probed.items()}}
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result) + "\n")
    log(f"memory {cell} delay {delay_frames}: accuracy {history[-1]['test_accuracy']:.1%} "
        f"in {time.time() - started:.0f} s")
    return result


def word_gradient(results: list[dict], delay_frames: int, cell) -> dict:
    """log10 of ||dL/dh_t|| / ||dL/dh_T|| at the clip's last real frame (t = T - delay_frames), geometric mean and
    quartiles over the probed clips, and the gate statistics over the silent frames (if any)."""
    (r,) = results
    norms = gradients.by_distance(r["grad_h"], r["frames"])
    with np.errstate(divide="ignore"):
        relative = np.log10(norms[:, delay_frames]) - np.log10(norms[:, 0])
    t = np.arange(r["h"].shape[1])[None, :]
    silent = (t > (r["frames"] - delay_frames)[:, None]) & (t <= r["frames"][:, None])
    rows = np.arange(len(r["frames"]))
    return {"log10_relative_mean": float(np.mean(relative)), "log10_relative_q25": float(np.percentile(relative, 25)),
            "log10_relative_q75": float(np.percentile(relative, 75)),
            "silence_gates": gradients.gate_statistics(cell, r, rows, silent) if delay_frames else None}


def load_fsdd(train_manifest, test_manifest, cfg: config.Config, cache_dir) -> tuple[FeatureSet, FeatureSet]:
    return (load_features(train_manifest, cfg.features, cache_dir, progress=False),
            load_features(test_manifest, cfg.features, cache_dir, progress=False))
