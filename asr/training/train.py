"""Training: CTC on cached, length-bucketed features, with checkpoints that resume mid-epoch.

Read top to bottom: prepare_data -> make_optimizer -> train_step (one device, or split over the replicas of a
tf.distribute strategy: asr/training/distribute.py) -> train_one_epoch -> validate -> run.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import os
import sys
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from asr import config as config_lib
from asr import metrics
from asr.config import Config
from asr.decoding.ctc import collapse
from asr.decoding.phones import vocabulary
from asr.decoding.text import Vocabulary, normalize
from asr.training import checkpoint, distribute
from asr.training.data import (
    FeatureSet,
    batch_dataset,
    center_utterances,
    concatenate,
    encode_labels,
    feature_stats,
    load_augmented_features,
    load_features,
    make_batches,
    min_ctc_frames,
)
from asr.training.keras_model import AcousticModel, build_model, count_parameters, load_weights, output_lengths

QUIET_STD = 1.5  # silence padding sits this many standard deviations below each mel band's mean
QUIET_NOISE_STD = 0.3  # with noise of this many standard deviations


@dataclass
class Split:
    features: FeatureSet
    labels: list[np.ndarray]
    source: np.ndarray | None = None  # several versions (speeds, corrupted copies): the clip each utterance is of

    def epoch_indices(self, seed: int) -> np.ndarray:
        """The utterances of one epoch: each clip once, as one of its versions drawn at random (all, with one)."""
        if self.source is None:
            return np.arange(len(self.features))
        order = np.random.default_rng(seed).permutation(len(self.source))
        _, first = np.unique(self.source[order], return_index=True)
        return np.sort(order[first])


def prepare_data(manifest, cfg: Config, vocab: Vocabulary, cache_dir, log=print, speeds=(1.0,),
                 augment_copies: int = 0) -> Split:
    """Features and labels of a manifest, or of several one after another (each clip at each of `speeds`, and
    `augment_copies` corrupted versions as cfg.train names them), without clips too short for their label after
    subsampling. Each manifest keeps its own feature cache, so adding a corpus computes only its features."""
    manifests = [manifest] if isinstance(manifest, (str, Path)) else list(manifest)
    sets = [_joined([load_features(m, cfg.features, cache_dir, speed=s) for m in manifests]) for s in speeds]
    if augment_copies:
        copies = [load_augmented_features(m, cfg.features, cache_dir, augment_copies, cfg.train.augment_kinds,
                                          cfg.train.seed) for m in manifests]  # babble: other clips of the same one
        sets += [_joined([c[k] for c in copies]) for k in range(augment_copies)]
    features = _joined(sets)
    source = np.unique(features.ids, return_inverse=True)[1].reshape(-1) if len(sets) > 1 else None
    labels = encode_labels(features.texts, vocab)
    out_frames = output_lengths(features.lengths, cfg.model)
    fits = np.array([f >= min_ctc_frames(lab) and len(lab) > 0 for f, lab in zip(out_frames, labels)], bool)
    if not fits.all():
        log(f"{' + '.join(map(str, manifests))}: skipped {int((~fits).sum())} clip(s) too short for their transcript "
            "or untranscribed")
        features = features.subset(fits)
        labels = [lab for lab, ok in zip(labels, fits) if ok]
        source = source[fits] if source is not None else None
    return Split(features, labels, source)


def _joined(sets: list[FeatureSet]) -> FeatureSet:
    return concatenate(sets) if len(sets) > 1 else sets[0]


def make_optimizer(cfg: Config, steps_per_epoch: int, distributed: bool = False) -> keras.optimizers.Optimizer:
    """Adam; linear warm-up to the peak rate, then cosine decay to final_lr_fraction of it; global norm clipping.

    distributed: for make_distributed_train_step, which sums the replicas' gradients and clips them itself."""
    t = cfg.train
    total = max(steps_per_epoch * t.epochs, t.warmup_steps + 1)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=total - t.warmup_steps, alpha=t.final_lr_fraction,
        warmup_target=t.learning_rate, warmup_steps=t.warmup_steps)
    if distributed:
        return distribute.AllReducedAdam(learning_rate=schedule)
    return keras.optimizers.Adam(learning_rate=schedule, global_clipnorm=t.clip_norm)


def spec_augment(features, lengths, model: AcousticModel, cfg: Config):
    """Mask random mel bands and time spans of each clip with the mean feature (which normalises to zero)."""
    t = cfg.train
    shape = tf.shape(features)
    batch, frames, mels = shape[0], shape[1], shape[2]
    masked = tf.zeros([batch, frames, mels], tf.bool)
    mel_idx = tf.range(mels)[None, None, :]
    frame_idx = tf.range(frames)[None, :, None]
    for _ in range(t.freq_masks):
        width = tf.random.uniform([batch, 1, 1], 0, t.freq_mask_width + 1, tf.int32)
        start = tf.random.uniform([batch, 1, 1], 0, 1, tf.float32) * tf.cast(mels - width, tf.float32)
        start = tf.cast(start, tf.int32)
        masked |= (mel_idx >= start) & (mel_idx < start + width)
    max_width = tf.cast(tf.cast(lengths, tf.float32) * t.time_mask_fraction, tf.int32)[:, None, None]
    for _ in range(t.time_masks):
        width = tf.cast(tf.random.uniform([batch, 1, 1]) * tf.cast(max_width + 1, tf.float32), tf.int32)
        start = tf.random.uniform([batch, 1, 1]) * tf.cast(tf.maximum(lengths[:, None, None] - width, 0), tf.float32)
        start = tf.cast(start, tf.int32)
        masked |= (frame_idx >= start) & (frame_idx < start + width)
    return tf.where(masked, model.feature_mean[None, None, :], features)


def pad_with_silence(features, lengths, silence, max_frames: int, lead_min_frames: int = 0,
                     lead_max_frames: int | None = None, noise_std=0.5):
    """Move each clip [batch, time, mels] right by lead_min_frames..lead_max_frames (default max_frames) frames
    and fill the frames around it (before, and 0..max_frames after) with `silence` [mels] plus a little noise
    (`noise_std`: a number, or [mels]): clips cut tight to the speech otherwise teach the model that audio
    always starts with a word. Returns (features, lengths)."""
    lead_max_frames = max_frames if lead_max_frames is None else lead_max_frames
    shape = tf.shape(features)
    lead = tf.random.uniform(shape[:1], lead_min_frames, lead_max_frames + 1, tf.int32)
    trail = tf.random.uniform(shape[:1], 0, max_frames + 1, tf.int32)
    extra = lead_max_frames + max_frames
    noise = tf.random.normal([shape[0], shape[1] + extra, shape[2]]) * noise_std
    return _surround(features, lengths, lead, trail, extra, silence[None, None, :] + noise)


def _surround(features, lengths, lead, trail, extra: int, quiet):
    """Each clip [batch, time, mels] moved right by `lead` [batch] frames in a batch `extra` frames longer, with
    `quiet` (anything that broadcasts to the output) before it and for `trail` [batch] frames after it, and zeros
    past its new length. Returns (features, lengths)."""
    frames = tf.shape(features)[1]
    new_lengths = lengths + lead + trail
    source = tf.range(frames + extra)[None, :] - lead[:, None]
    inside = (source >= 0) & (source < lengths[:, None])
    moved = tf.gather(features, tf.clip_by_value(source, 0, frames - 1), batch_dims=1)
    out = tf.where(inside[:, :, None], moved, quiet)
    return out * tf.sequence_mask(new_lengths, tf.shape(out)[1], out.dtype)[:, :, None], new_lengths


def ctc_loss(model: AcousticModel, features, feature_lengths, labels, label_lengths, training: bool):
    """Per-utterance CTC loss [batch] with the real lengths; infinite losses (impossible alignments) are zeroed."""
    logits, out_lengths = model(features, feature_lengths, training=training)
    sparse = tf.RaggedTensor.from_tensor(labels, lengths=label_lengths).to_sparse()
    loss = tf.nn.ctc_loss(labels=tf.cast(sparse, tf.int32), logits=logits, label_length=None,
                          logit_length=out_lengths, logits_time_major=False, blank_index=0)
    return tf.where(tf.math.is_finite(loss), loss, tf.zeros_like(loss)), logits, out_lengths


def augment(model: AcousticModel, features, feature_lengths, cfg: Config):
    """Training-time changes of a batch: quiet frames around each clip, SpecAugment. Returns (features, lengths)."""
    frames = lambda s: int(round(s * 1000 / cfg.features.hop_ms))  # noqa: E731
    pad_frames, (lead_min, lead_max) = frames(cfg.train.pad_silence_max_s), map(frames, cfg.train.pad_lead_s or (0, 0))
    if pad_frames > 0 or lead_max > 0:  # quiet: 1.5 standard deviations below the mean of each mel band
        silence = model.feature_mean - QUIET_STD * model.feature_std
        # the noise in units of each band's spread: a band with (almost) no spread (above 4 kHz in 8 kHz audio)
        # must not get noise hundreds of standard deviations wide once normalised
        features, feature_lengths = pad_with_silence(features, feature_lengths, silence, pad_frames, lead_min,
                                                     lead_max if cfg.train.pad_lead_s else None,
                                                     noise_std=QUIET_NOISE_STD * model.feature_std)
    if cfg.train.spec_augment:
        features = spec_augment(features, feature_lengths, model, cfg)
    return features, feature_lengths


def make_train_step(model: AcousticModel, optimizer, cfg: Config):
    """The compiled training step: augmentation, CTC loss, gradient step; returns the batch's mean loss."""
    num_mels = cfg.features.num_mels
    signature = [tf.TensorSpec([None, None, num_mels], tf.float32), tf.TensorSpec([None], tf.int32),
                 tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32)]

    @tf.function(input_signature=signature, jit_compile=False)
    def train_step(features, feature_lengths, labels, label_lengths):
        features, feature_lengths = augment(model, features, feature_lengths, cfg)
        with tf.GradientTape() as tape:
            loss, _, _ = ctc_loss(model, features, feature_lengths, labels, label_lengths, training=True)
            mean_loss = tf.reduce_mean(loss)
        grads = tape.gradient(mean_loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return mean_loss
    return train_step


def make_distributed_train_step(model: AcousticModel, optimizer, cfg: Config, strategy: tf.distribute.Strategy):
    """The training step of a tf.distribute strategy, over one global batch split by distribute.replica_parts:
    train_step(parts, stop_vote) -> (the global batch's mean loss, whether any worker voted to stop).

    Each replica's loss is sum(weight * loss) over its part, so the gradients summed over replicas are the
    global batch's mean-loss gradient; they are clipped by global norm after the sum, as on one device. The
    stop votes (a worker past its time limit) ride along in the same all-reduce, so all workers stop together.
    One input signature: every worker traces the step once, so their collectives stay in step."""
    variables = model.trainable_variables
    clip_norm = cfg.train.clip_norm

    def replica_step(part, stop_vote):
        features, feature_lengths, labels, label_lengths, weights = part
        features, feature_lengths = augment(model, features, feature_lengths, cfg)
        with tf.GradientTape() as tape:
            loss, _, _ = ctc_loss(model, features, feature_lengths, labels, label_lengths, training=True)
            loss = tf.reduce_sum(loss * weights)
        grads = tape.gradient(loss, variables)
        ctx = tf.distribute.get_replica_context()
        stop_vote = tf.identity(stop_vote)  # a copy on this replica's device (all-reduce sends from there)
        *grads, loss, stop_votes = ctx.all_reduce(tf.distribute.ReduceOp.SUM, [*grads, loss, stop_vote])
        if clip_norm > 0:
            grads, _ = tf.clip_by_global_norm(grads, clip_norm)
        optimizer.apply_gradients(zip(grads, variables))
        return loss, stop_votes > 0

    signature = [distribute.element_spec(strategy, cfg.features.num_mels), tf.TensorSpec([], tf.float32)]

    @tf.function(input_signature=signature, jit_compile=False)
    def train_step(parts, stop_vote):
        loss, stop = strategy.run(replica_step, args=(parts, stop_vote))
        return strategy.experimental_local_results(loss)[0], strategy.experimental_local_results(stop)[0]
    return train_step


_EVAL_STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _eval_step(model: AcousticModel, num_mels: int, quiet_frames: tuple[int, int] = (0, 0)):
    """ctc_loss(training=False) compiled once per model (eager validation was about 10x slower), on clips with
    `quiet_frames` (before, after) quiet frames around them (see with_quiet_frames)."""
    steps = _EVAL_STEPS.setdefault(model, {})
    if quiet_frames not in steps:
        signature = [tf.TensorSpec([None, None, num_mels], tf.float32), tf.TensorSpec([None], tf.int32),
                     tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None], tf.int32)]

        def step(features, lengths, labels, label_lengths):
            if any(quiet_frames):
                features, lengths = with_quiet_frames(model, features, lengths, *quiet_frames)
            return ctc_loss(model, features, lengths, labels, label_lengths, training=False)
        steps[quiet_frames] = tf.function(step, input_signature=signature, jit_compile=False)
    return steps[quiet_frames]


def with_quiet_frames(model: AcousticModel, features, lengths, before: int, after: int):
    """Each clip with `before` and `after` quiet frames around it (as pad_with_silence makes them, without the
    noise): when training pads clips with silence, validation does too (the least lead, the most trail), since a
    unidirectional model can only emit a word once it has heard it, and clips cut tight to the speech leave it
    no frame to do so."""
    quiet = model.feature_mean - QUIET_STD * model.feature_std
    each = lambda n: tf.fill(tf.shape(lengths), n)  # noqa: E731
    return _surround(features, lengths, each(before), each(after), before + after, quiet[None, None, :])


def greedy_texts(model: AcousticModel, split: Split, vocab: Vocabulary, indices, batch_frames: int,
                 quiet_frames: tuple[int, int] = (0, 0)):
    """Greedy transcripts (in `indices` order) and the mean CTC loss over those clips (each with `quiet_frames`
    quiet frames before and after it)."""
    indices = np.asarray(indices)
    batches = [indices[b] for b in make_batches(split.features.lengths[indices], batch_frames, 64, seed=0)]
    texts, losses = {}, []
    step = _eval_step(model, split.features.frames.shape[-1], quiet_frames)
    for batch_indices, batch in zip(batches, batch_dataset(split.features, split.labels, batches)):
        loss, logits, out_lengths = step(*batch)
        losses.append(loss.numpy())
        best = tf.argmax(logits, axis=-1).numpy()
        for i, row, n in zip(batch_indices, best, out_lengths.numpy()):
            texts[i] = vocab.decode(collapse(row[:n]))
    return [texts[i] for i in indices], float(np.mean(np.concatenate(losses))) if losses else float("nan")


def validate(model, split: Split, vocab: Vocabulary, cfg: Config) -> dict:
    n = len(split.features) if cfg.train.validate_utterances <= 0 else min(cfg.train.validate_utterances,
                                                                             len(split.features))
    indices = np.arange(n)
    frames = lambda s: int(round(s * 1000 / cfg.features.hop_ms))  # noqa: E731
    quiet = (frames(cfg.train.pad_lead_s[0]) if cfg.train.pad_lead_s else 0, frames(cfg.train.pad_silence_max_s))
    hyps, loss = greedy_texts(model, split, vocab, indices, cfg.train.batch_frames, quiet)
    scores = metrics.score([vocab.spell(normalize(split.features.texts[i])) for i in indices], hyps)
    return {"valid_loss": loss, "valid_wer": scores.wer, "valid_cer": scores.cer, "valid_utterances": n}


def _has_bf16() -> bool:
    """A GPU, or a CPU with bf16 instructions (Linux /proc/cpuinfo; True where that cannot be read)."""
    if tf.config.list_physical_devices("GPU"):
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True
    return "avx512_bf16" in flags or "amx_bf16" in flags


class EpochProgress:
    """An epoch's progress: a tqdm bar where stderr is a terminal (or `show` is True); otherwise (a log file, a
    pipe) a plain line through `log` each time another tenth of the epoch is done, with the mean loss since the
    last line and the batches per second. Nothing on a worker that is not the chief."""

    def __init__(self, total: int, done: int, desc: str, is_chief: bool, show: bool | None, log):
        self.total, self.done, self.desc, self.log = total, done, desc, log
        self.bar = None
        self.plain = False
        if is_chief and (show or (show is None and sys.stderr.isatty())):
            self.bar = tqdm(total=total, initial=done, desc=desc, unit="batch")
        elif is_chief and show is None:
            self.plain = True
        self.losses: list[float] = []
        self.next_line = self._next_tenth(done)
        self.since = time.time()

    def _next_tenth(self, done: int) -> int:
        return min(self.total, (done * 10 // max(self.total, 1) + 1) * self.total // 10 or 1)

    def update(self, loss: float) -> None:
        self.done += 1
        self.losses.append(loss)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.2f}")
        elif self.plain and self.done >= self.next_line:
            now = time.time()
            self.log(f"{self.desc}: {self.done}/{self.total} batches ({self.done / max(self.total, 1):.0%}), "
                     f"loss {np.mean(self.losses):.3f}, {len(self.losses) / max(now - self.since, 1e-9):.2f} "
                     f"batches/s")
            self.losses, self.since = [], now
            self.next_line = self._next_tenth(self.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Trainer:
    """Holds one run's model, optimizer, data and output folder; `run()` trains to the configured epochs.

    Under a multi-worker strategy every worker builds a Trainer with the same arguments; only the chief writes
    (see asr/training/distribute.py). `strategy`: a tf.distribute strategy to use instead of the one cfg.train names."""

    def __init__(self, cfg: Config, train_manifest, valid_manifest, out_dir, cache_dir=None, log=print,
                 strategy: tf.distribute.Strategy | None = None, progress: bool | None = None):
        # first: a multi-worker strategy must set up its collectives before TensorFlow runs anything
        self.strategy = strategy or distribute.make_strategy(cfg.train.strategy)
        self.distributed = strategy is not None or cfg.train.strategy != "default"
        self.is_chief = distribute.is_chief(self.strategy)
        self.out_dir = Path(out_dir)
        self.log = log
        self.progress = progress  # a bar on stderr: None where it is a terminal; else plain lines (EpochProgress)
        cache_dir = cache_dir or self.out_dir / "features"
        with distribute.chief_first(self.strategy):  # the chief writes config and feature cache, the others read
            self.cfg = self._resolve_config(cfg)
            self.train = prepare_data(train_manifest, self.cfg, self.vocab, cache_dir, log, self.cfg.train.speeds,
                                      self.cfg.train.augment_copies)
            self.valid = prepare_data(valid_manifest, self.cfg, self.vocab, cache_dir, log)
        cfg = self.cfg
        if cfg.train.precision == "mixed_bfloat16" and not _has_bf16():
            log("warning: train.precision is mixed_bfloat16 but this machine has no GPU and no bf16 CPU "
                "instructions (avx512_bf16 / amx_bf16): bf16 is emulated there and slower than float32")
        self.audio_s = self.train.features.lengths * cfg.features.hop_ms / 1000  # per utterance (all speeds)
        self.steps_per_epoch = len(self._batches(0))
        with self.strategy.scope():  # model and optimizer variables: one copy per replica, kept equal
            self.model = build_model(cfg.model, cfg.features.num_mels, cfg.train.precision)
            self.model.set_normalization(*feature_stats(self.train.features))
            if cfg.train.init_from:
                self._init_from(Path(cfg.train.init_from))
            if cfg.train.utterance_mean:
                mean = self.model.feature_mean.numpy()
                center_utterances(self.train.features, mean)
                center_utterances(self.valid.features, mean)
            self.optimizer = make_optimizer(cfg, self.steps_per_epoch, self.distributed)
            self.state = self._restore()
        if self.distributed:
            self.train_step = make_distributed_train_step(self.model, self.optimizer, cfg, self.strategy)
        else:
            self.train_step = make_train_step(self.model, self.optimizer, cfg)
        self._check_workers_agree()
        self.writer = (tf.summary.create_file_writer(str(self.out_dir / "logs")) if self.is_chief
                       else tf.summary.create_noop_writer())

    def _resolve_config(self, cfg: Config) -> Config:
        """The configuration saved in out_dir, if any, wins over `cfg` (a resumed run keeps its settings), except
        train.strategy: how to run, not what to train. The chief saves it with the vocabulary."""
        self.vocab = vocabulary(cfg.model.tokens)
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, num_tokens=self.vocab.size))
        saved = self.out_dir / "config.json"
        if saved.exists():
            kept = config_lib.from_dict(json.loads(saved.read_text()))
            kept = dataclasses.replace(kept, train=dataclasses.replace(kept.train, strategy=cfg.train.strategy))
            if kept != cfg:
                self.log(f"{saved}: resuming with the configuration saved there; the one given differs and is ignored")
                cfg = kept
                self.vocab = vocabulary(cfg.model.tokens)
        if self.is_chief:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            cfg.save(saved)
            self.vocab.save(self.out_dir / "tokens.txt")
        return cfg

    def _restore(self) -> dict:
        """Model and optimizer from the latest checkpoint, if any; returns the training state to continue from."""
        latest = checkpoint.latest_training_state(self.out_dir / "checkpoints")
        if latest is None:
            self.optimizer.build(self.model.trainable_variables)
            return {"epoch": 0, "batch_in_epoch": 0, "best_wer": None, "train_seconds": 0.0}
        state = checkpoint.restore_training_state(latest, self.model, self.optimizer)
        self.log(f"resumed from {latest} (epoch {state['epoch'] + 1}, batch {state['batch_in_epoch']})")
        return state

    def _check_workers_agree(self) -> None:
        """Multi-worker: all workers must train the same configuration on the same data from the same step, or
        their collectives would wait for each other forever."""
        summary = {"config": self.cfg.to_dict(), "clips": len(self.train.features),
                   "frames": int(self.train.features.lengths.sum()), "epoch": self.state["epoch"],
                   "batch_in_epoch": self.state["batch_in_epoch"], "step": int(self.optimizer.iterations.numpy())}
        if not distribute.same_on_all_workers(self.strategy, summary):
            raise distribute.StrategyError(
                f"the workers disagree on the configuration, the training data or the checkpoint to resume from "
                f"(this one: {summary['clips']} clips, epoch {summary['epoch'] + 1}, step {summary['step']}): give "
                f"every worker the same command and an experiment directory {self.out_dir} they all can read")

    def _init_from(self, model_dir: Path) -> None:
        """Start from another run's weights (same model shape); a checkpoint of this run, if any, wins later.

        A model with other output tokens (characters -> phones) lends everything but its output layer, which
        starts fresh; its dropout may differ."""
        init_cfg, _, _ = checkpoint.load_model_dir(model_dir)
        if not init_cfg.model.same_encoder(self.cfg.model) or init_cfg.features != self.cfg.features:
            raise checkpoint.CheckpointError(f"{model_dir}: its model or feature configuration differs from this "
                                             "run's; init_from needs the same shape")
        new_output = init_cfg.model.num_tokens != self.cfg.model.num_tokens
        load_weights(self.model, model_dir / "model.npz", skip=("logits",) if new_output else ())
        self.log(f"initialised from {model_dir}" + (" (all but its output layer)" if new_output else ""))

    def _batches(self, epoch: int):
        t = self.cfg.train
        chosen = self.train.epoch_indices(seed=t.seed + epoch)
        return [chosen[b] for b in make_batches(self.train.features.lengths[chosen], t.batch_frames,
                                                t.max_batch_size, seed=t.seed + epoch)]

    def save_checkpoint(self) -> None:
        if not self.is_chief:
            return
        step = int(self.optimizer.iterations.numpy())
        checkpoint.save_training_state(self.out_dir / "checkpoints", step, self.model, self.optimizer, self.state,
                                       self.cfg.train.keep_checkpoints)

    def _inputs(self, batches):
        """The step inputs of these batches: padded batches, or global batches split over the replicas."""
        if not self.distributed:
            return batch_dataset(self.train.features, self.train.labels, batches)
        dataset = distribute.distribute_batches(self.strategy, self.train.features, self.train.labels, batches)
        return itertools.islice(iter(dataset), len(batches))

    def _step(self, batch, deadline: float | None) -> tuple[float, bool]:
        """One training step; returns (mean loss, stop now): the time limit has passed (on any worker)."""
        if not self.distributed:
            loss = float(self.train_step(*batch))
            return loss, bool(deadline and time.time() > deadline)
        loss, stop = self.train_step(batch, tf.constant(float(bool(deadline and time.time() > deadline))))
        return float(loss), bool(stop)

    def train_one_epoch(self, epoch: int, deadline: float | None) -> tuple[float, float, bool]:
        """Returns (mean loss, audio seconds per wall second, finished the epoch)."""
        batches = self._batches(epoch)
        skip = self.state["batch_in_epoch"]
        bar = EpochProgress(len(batches), skip, f"epoch {epoch + 1}/{self.cfg.train.epochs}",
                            self.is_chief, self.progress, self.log)
        losses, audio_s, started, last_save = [], 0.0, time.time(), time.time()
        for i, batch in enumerate(self._inputs(batches[skip:]), skip):
            loss, stop = self._step(batch, deadline)
            losses.append(loss)
            audio_s += float(self.audio_s[batches[i]].sum())
            step = int(self.optimizer.iterations.numpy())
            with self.writer.as_default(step=step):
                tf.summary.scalar("train/loss", loss)
                tf.summary.scalar("train/learning_rate", float(self.optimizer.learning_rate))
            bar.update(loss)
            self.state["batch_in_epoch"] = i + 1
            now = time.time()
            if now - last_save > self.cfg.train.checkpoint_minutes * 60 or stop:
                self.state["train_seconds"] += now - last_save
                last_save = now
                self.save_checkpoint()
                if stop:
                    bar.close()
                    return float(np.mean(losses)), audio_s / (now - started), False
        bar.close()
        self.state["train_seconds"] += time.time() - last_save
        return float(np.mean(losses)) if losses else float("nan"), audio_s / max(time.time() - started, 1e-9), True

    def _versions(self) -> str:
        """How each epoch draws a clip's version, in words."""
        t = self.cfg.train
        speeds = f"at one of the speeds {', '.join(map(str, t.speeds))}" if len(t.speeds) > 1 else "as recorded"
        copies = f" or as one of {t.augment_copies} corrupted copies" if t.augment_copies else ""
        return speeds + copies

    def run(self, max_minutes: float | None = None) -> dict:
        epoch_clips = self.train.epoch_indices(0)
        self.log(f"{count_parameters(self.model):,} parameters; {len(epoch_clips)} training clips "
                 f"({self.audio_s[epoch_clips].sum() / 3600:.2f} h"
                 + (f" per epoch, each {self._versions()}" if self.train.source is not None else "")
                 + f"), {self.steps_per_epoch} batches per epoch"
                 + (f"; {self.strategy.num_replicas_in_sync} replica(s), {distribute.num_workers(self.strategy)} "
                    f"worker(s)" if self.distributed else ""))
        deadline = time.time() + max_minutes * 60 if max_minutes else None
        result = {}
        if self.state["epoch"] >= self.cfg.train.epochs:
            self.log(f"already finished at epoch {self.state['epoch']} of {self.cfg.train.epochs}: nothing to train "
                     f"({self.out_dir / 'best'} holds the best model; raise train.epochs to train on)")
            return result
        while self.state["epoch"] < self.cfg.train.epochs:
            epoch = self.state["epoch"]
            loss, speed, finished = self.train_one_epoch(epoch, deadline)
            if not finished:
                self.log(f"stopped at the time limit in epoch {epoch + 1}; run again to resume")
                break
            result = {"epoch": epoch + 1, "train_loss": loss, "audio_s_per_s": speed}
            self.state.update(epoch=epoch + 1, batch_in_epoch=0)
            if self.is_chief:  # validation decides what best/ holds, and only the chief writes
                result = self._end_epoch(result)
            self.save_checkpoint()
        if self.is_chief:
            checkpoint.save_model_dir(self.out_dir / "last", self.cfg, self.vocab, self.model, result or None)
        return result

    def _end_epoch(self, result: dict) -> dict:
        """Validate, log the epoch and keep the model in best/ if it is the best so far."""
        result = {**result, **validate(self.model, self.valid, self.vocab, self.cfg),
                  "train_seconds": self.state["train_seconds"]}
        self._log_epoch(result)
        best = self.state["best_wer"]
        if best is None or result["valid_wer"] <= best:
            self.state["best_wer"] = result["valid_wer"]
            checkpoint.save_model_dir(self.out_dir / "best", self.cfg, self.vocab, self.model,
                                      {**result, "parameters": count_parameters(self.model)})
        return result

    def _log_epoch(self, result: dict) -> None:
        with self.writer.as_default(step=int(self.optimizer.iterations.numpy())):
            for key in ("valid_loss", "valid_wer", "valid_cer", "audio_s_per_s"):
                tf.summary.scalar(f"valid/{key}" if key.startswith("valid") else f"train/{key}", result[key])
        _append_epoch(self.out_dir / "train_log.jsonl", result)
        self.log(f"epoch {result['epoch']}: loss {result['train_loss']:.3f}, valid WER {result['valid_wer']:.2%} "
                 f"CER {result['valid_cer']:.2%}, {result['audio_s_per_s']:.1f} audio s/s")


def _append_epoch(path: Path, result: dict) -> None:
    """Add the epoch's line to train_log.jsonl, replacing lines of this or later epochs (left by a run that was
    killed after logging an epoch but before its checkpoint, and so trains that epoch again); atomic."""
    kept = []
    if path.exists():
        kept = [line for line in path.read_text().splitlines()
                if line.strip() and json.loads(line).get("epoch", 0) < result["epoch"]]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(line + "\n" for line in [*kept, json.dumps(result)]))
    os.replace(tmp, path)


def run(cfg: Config, train_manifest, valid_manifest, out_dir, cache_dir=None, max_minutes=None, log=print,
        progress: bool | None = None) -> dict:
    """Train (or resume) into out_dir; returns the last epoch's metrics. `progress`: a tqdm bar per epoch (None:
    where stderr is a terminal); without one, a plain line at every tenth of an epoch (EpochProgress)."""
    return Trainer(cfg, train_manifest, valid_manifest, out_dir, cache_dir, log, progress=progress).run(max_minutes)
