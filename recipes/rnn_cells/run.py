"""The simple RNN, the GRU and the LSTM side by side: equal parameter budgets, the same data, and the vanishing
gradient measured as ||dL_T/dh_t|| against the distance T - t, at initialisation and after training.

usage: python recipes/rnn_cells/run.py --out exp/rnn_cells            # everything (about 30 min on 2 CPU cores)
       python recipes/rnn_cells/run.py --out exp/rnn_cells --stages probe report
       python recipes/rnn_cells/run.py --out /tmp/rnn_quick --quick   # the same code on samples/, in seconds

Stages (each resumes or skips what is done): prepare (manifests), train (3 cells x uni/bi x datasets), evaluate
(greedy WER on FSDD test and dev-clean-2), probe (gradient norms), clipping (high learning rates with and without
gradient clipping, under Adam and plain SGD), memory (a digit read only after N silent steps: where the vanishing
gradient bites), report (PNGs and RESULTS.md; copied to --results-dir).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gradients
import memory
import report

from asr import config, metrics
from asr.training import checkpoint, train
from asr.training.data import (
    FeatureSet,
    batch_dataset,
    encode_labels,
    feature_stats,
    load_features,
    make_batches,
    pad_batch,
)
from asr.decoding.ctc import collapse
from asr.manifest import read_manifest, write_manifest
from asr.training.keras_model import build_model, count_parameters, load_weights, save_weights
from asr.decoding.text import Vocabulary

RECIPE = Path(__file__).resolve().parent
REPO = RECIPE.parent.parent
STAGES = ("prepare", "train", "evaluate", "probe", "clipping", "memory", "report")
CELLS = ("rnn", "gru", "lstm")
GATES = {"rnn": 1, "gru": 3, "lstm": 4}  # weight matrices per direction: W_xh and W_hh for each gate
SEED = 0


@dataclass(frozen=True)
class Dataset:
    name: str
    title: str
    train: Path
    valid: Path
    test: Path
    test_name: str
    cache_dir: Path
    config_file: Path
    budget: int  # trainable parameters of every model on this dataset
    probe_clips: int  # clips of the test set whose gradients are measured
    targets_per_clip: int  # loss frames T per clip
    probe_min_s: float = 0.0  # probe only clips at least this long (long clips reach long distances)
    probe_max_s: float = 1e9
    overrides: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    dataset: Dataset
    cell: str
    bidirectional: bool
    units: int
    out: Path

    @property
    def name(self) -> str:
        return f"{self.cell}-{'bi' if self.bidirectional else 'uni'}"

    @property
    def dir(self) -> Path:
        return self.out / self.dataset.name / self.name

    def config(self) -> config.Config:
        model = {"cell": self.cell, "bidirectional": self.bidirectional, "units": self.units}
        overrides = config.merge(self.dataset.overrides, {"model": model})
        return config.load(self.dataset.config_file, overrides)


def parameters(cell: str, units: int, inputs: int, bidirectional: bool, tokens: int) -> int:
    """Trainable parameters of a one-layer model: per direction gates x (W_xh, W_hh, bias), plus the dense readout.
    Keras' GRU (reset_after) has two bias vectors per gate."""
    biases = 2 if cell == "gru" else 1
    directions = 2 if bidirectional else 1
    return directions * GATES[cell] * units * (inputs + units + biases) + (directions * units + 1) * tokens


def units_for_budget(cell: str, budget: int, inputs: int, bidirectional: bool, tokens: int) -> int:
    return min(range(1, 4096), key=lambda u: abs(parameters(cell, u, inputs, bidirectional, tokens) - budget))


def make_runs(datasets: list[Dataset], out: Path) -> list[Run]:
    runs = []
    for ds in datasets:
        base = config.load(ds.config_file, ds.overrides)
        inputs = base.features.num_mels * base.model.stack_frames
        for bidirectional in (False, True):
            for cell in CELLS:
                units = units_for_budget(cell, ds.budget, inputs, bidirectional, base.model.num_tokens)
                runs.append(Run(ds, cell, bidirectional, units, out))
    return runs


# ---------------------------------------------------------------------------------------------------- prepare

def slice_manifest(source: Path, target: Path, hours: float, seed: int = SEED) -> Path:
    """A random `hours` of a manifest (whole clips, fixed by `seed`), in the source order."""
    utterances = read_manifest(source)
    order = np.random.default_rng(seed).permutation(len(utterances))
    keep, total_s = [], 0.0
    for i in order:
        if total_s >= hours * 3600:
            break
        keep.append(int(i))
        total_s += utterances[i].duration_s
    write_manifest(target, [utterances[i] for i in sorted(keep)])
    return target


def prepare(args, out: Path, log) -> None:
    if args.quick:
        rows = [json.loads(line) for line in (REPO / "samples" / "samples.jsonl").read_text().splitlines() if line]
        rows = [{**row, "audio": str(REPO / "samples" / row["audio"])} for row in rows]
        (out / "data").mkdir(parents=True, exist_ok=True)
        for name, keep in (("samples", rows), ("digits", [r for r in rows if r["audio"].endswith(".wav")])):
            with open(out / "data" / f"{name}.jsonl", "w") as f:
                f.writelines(json.dumps(row) + "\n" for row in keep)
        return
    if not (args.fsdd_manifests / "test.jsonl").exists():
        subprocess.run([sys.executable, str(REPO / "recipes/fsdd/prepare.py"), str(args.fsdd_data),
                        str(args.fsdd_manifests)], check=True)
    if not (args.librispeech_manifests / "dev.jsonl").exists():
        subprocess.run([sys.executable, str(REPO / "recipes/mini_librispeech/prepare.py"),
                        str(args.librispeech_data), str(args.librispeech_manifests)], check=True)
    target = out / "data" / f"train_{args.hours:g}h.jsonl"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        slice_manifest(args.librispeech_manifests / "train.jsonl", target, args.hours)
        log(f"{target}: {len(read_manifest(target))} clips")


def datasets(args, out: Path) -> list[Dataset]:
    if args.quick:
        samples, digits = out / "data" / "samples.jsonl", out / "data" / "digits.jsonl"
        tiny = {"model": {"dropout": 0.0},
                "train": {"epochs": 2, "batch_frames": 1500, "warmup_steps": 1, "learning_rate": 5e-3}}
        return [Dataset("samples", "samples/ (quick mode)", samples, digits, samples, "samples", out / "features",
                        RECIPE / "librispeech.toml", budget=25_000, probe_clips=6, targets_per_clip=2,
                        overrides=tiny)]
    ls = args.librispeech_manifests
    return [
        Dataset("fsdd", "FSDD digits", args.fsdd_manifests / "train.jsonl", args.fsdd_manifests / "valid.jsonl",
                args.fsdd_manifests / "test.jsonl", "FSDD test", args.fsdd_cache, RECIPE / "fsdd.toml",
                budget=100_000, probe_clips=40, targets_per_clip=2),
        Dataset("librispeech", f"train-clean-5, {args.hours:g} h slice", out / "data" / f"train_{args.hours:g}h.jsonl",
                ls / "valid.jsonl", ls / "dev.jsonl", "dev-clean-2", args.librispeech_cache,
                RECIPE / "librispeech.toml", budget=230_000, probe_clips=16, targets_per_clip=4,
                probe_min_s=10.0, probe_max_s=20.0),
    ]


# ------------------------------------------------------------------------------------------------------ train

def train_run(run: Run, log) -> bool:
    """Train (or resume) one model; init.npz keeps its weights at initialisation for the probe. False: done before."""
    if (run.dir / "last" / "metrics.json").exists():
        return False
    keras.utils.set_random_seed(SEED)
    ds = run.dataset
    trainer = train.Trainer(run.config(), ds.train, ds.valid, run.dir, ds.cache_dir, log=log)
    inputs = trainer.cfg.features.num_mels * trainer.cfg.model.stack_frames
    expected = parameters(run.cell, run.units, inputs, run.bidirectional, trainer.cfg.model.num_tokens)
    if count_parameters(trainer.model) != expected:
        raise RuntimeError(f"{run.dir}: {count_parameters(trainer.model)} parameters, the budget formula says {expected}")
    if trainer.state["epoch"] == 0 and trainer.state["batch_in_epoch"] == 0:
        save_weights(trainer.model, run.dir / "init.npz", np.float32)
    started = time.time()
    trainer.run()
    timing = run.dir / "timing.json"
    previous = json.loads(timing.read_text())["wall_s"] if timing.exists() else 0.0
    timing.write_text(json.dumps({"wall_s": previous + time.time() - started}) + "\n")
    return True


# --------------------------------------------------------------------------------------------------- evaluate

def test_split(run: Run, cfg: config.Config, vocab: Vocabulary) -> train.Split:
    """Every clip of the test manifest (none dropped), with its labels."""
    features = load_features(run.dataset.test, cfg.features, run.dataset.cache_dir, progress=False)
    return train.Split(features, encode_labels(features.texts, vocab))


def compiled_forward(model, num_mels: int):
    """model(features, lengths) at inference as one traced graph: 10x faster than eager here, where Keras runs the
    recurrence step by step in Python."""
    signature = [tf.TensorSpec([None, None, num_mels], tf.float32), tf.TensorSpec([None], tf.int32)]
    return tf.function(lambda features, lengths: model(features, lengths, training=False), input_signature=signature)


def greedy_transcripts(model, features: FeatureSet, vocab: Vocabulary, batch_frames: int) -> list[str]:
    """Greedy CTC transcripts of every clip, in order."""
    forward = compiled_forward(model, features.frames.shape[1])
    batches = make_batches(features.lengths, batch_frames, 64, seed=0)
    texts = [""] * len(features)
    for indices, (x, lengths, _, _) in zip(batches, batch_dataset(features, None, batches)):
        logits, out_lengths = forward(x, lengths)
        for i, row, n in zip(indices, tf.argmax(logits, axis=-1).numpy(), out_lengths.numpy()):
            texts[i] = vocab.decode(collapse(row[:n]))
    return texts


def evaluate_run(run: Run, log) -> dict:
    """Greedy WER/CER of the best (validation-selected) model on the test set; writes eval-*/ reports."""
    cfg, vocab, model = checkpoint.load_model_dir(run.dir / "best")
    split = test_split(run, cfg, vocab)
    hyps = greedy_transcripts(model, split.features, vocab, cfg.train.batch_frames)
    folder = run.dir / f"eval-{run.dataset.test_name.replace(' ', '-')}"
    scores = metrics.write_report(folder, split.features.ids, split.features.texts, hyps)
    result = {**scores.as_dict(), "manifest": str(run.dataset.test)}
    (folder / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    log(f"{run.dataset.name} {run.name}: {metrics.summary_line(scores)}")
    return result


# ------------------------------------------------------------------------------------------------------ probe

def probe_clips(split: train.Split, ds: Dataset, hop_s: float) -> np.ndarray:
    """`probe_clips` clips of the test set spread evenly over those within the duration bounds."""
    durations = split.features.lengths * hop_s
    candidates = np.flatnonzero((durations >= ds.probe_min_s) & (durations <= ds.probe_max_s))
    picks = np.linspace(0, len(candidates) - 1, min(ds.probe_clips, len(candidates))).round().astype(int)
    return candidates[np.unique(picks)]


def probe_run(run: Run, log) -> dict:
    """||dL_T/dh_t|| at initialisation and after training, on the same clips and loss frames (aligned by the
    trained model), for every direction of the layer; writes gradients.json."""
    cfg, vocab, trained = checkpoint.load_model_dir(run.dir / "best")
    initial = build_model(cfg.model, cfg.features.num_mels)
    load_weights(initial, run.dir / "init.npz")
    split = test_split(run, cfg, vocab)
    clips = probe_clips(split, run.dataset, cfg.features.hop_ms / 1000)
    features, lengths, _, _ = pad_batch(split.features, split.labels, clips)
    logits, out_lengths = trained(features, lengths, training=False)  # one batch: eager costs less than a trace
    targets = gradients.alignment_targets(tf.nn.log_softmax(logits).numpy(), out_lengths.numpy(),
                                          [split.labels[i] for i in clips], run.dataset.targets_per_clip)
    started = time.time()
    results = gradients.probe_models({"init": initial, "trained": trained}, features, lengths, targets)
    rows = len(targets.frames) * len(gradients.directions(trained))
    summary = {name: gradients.summarise(r, min_rows=max(2, rows // 4)) for name, r in results.items()}
    summary["probe"] = {"clips": [split.features.ids[i] for i in clips], "targets": len(targets.frames),
                        "rows": rows, "frame_s": cfg.features.hop_ms / 1000 * cfg.model.subsampling,
                        "target_frames": targets.frames.tolist(), "seconds": time.time() - started}
    (run.dir / "gradients.json").write_text(json.dumps(summary) + "\n")
    log(f"{run.dataset.name} {run.name}: probed {rows} rows in {summary['probe']['seconds']:.1f} s")
    return summary


# --------------------------------------------------------------------------------------------------- clipping

def clipping_run(name: str, cfg: config.Config, ds: Dataset, steps: int, folder: Path, log,
                 sgd: bool = False) -> bool:
    """Train from scratch for `steps` steps, recording each step's loss and pre-clipping gradient norm
    (asr.training.train's own step does not report the norm). A step is not finite when its logits, loss or gradient norm
    are not, or when every clip's CTC loss is infinite (which asr.training.train.ctc_loss reports as 0); training stops
    after 5 such steps in a row.
    The optimizer is the package's (Adam, warm-up, cosine, global-norm clipping at train.clip_norm) or, with `sgd`,
    plain SGD at a constant train.learning_rate with the same clipping (0: none)."""
    path = folder / f"{name}.jsonl"
    if path.exists():
        return False
    vocab = Vocabulary()
    split = train.prepare_data(ds.train, cfg, vocab, ds.cache_dir, log)
    keras.utils.set_random_seed(SEED)
    model = build_model(cfg.model, cfg.features.num_mels)
    model.set_normalization(*feature_stats(split.features))
    t = cfg.train
    optimizer = (keras.optimizers.SGD(learning_rate=t.learning_rate, global_clipnorm=t.clip_norm or None) if sgd
                 else train.make_optimizer(cfg, steps))

    @tf.function(reduce_retracing=True)
    def step(features, feature_lengths, labels, label_lengths):
        with tf.GradientTape() as tape:
            loss, logits, _ = train.ctc_loss(model, features, feature_lengths, labels, label_lengths, training=True)
            mean_loss = tf.reduce_mean(loss)
        grads = tape.gradient(mean_loss, model.trainable_variables)
        norm = tf.linalg.global_norm(grads)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        # asr.training.train.ctc_loss returns 0 for an infinite loss (an impossible alignment): count those
        return mean_loss, norm, tf.reduce_all(tf.math.is_finite(logits)), tf.reduce_sum(tf.cast(loss == 0, tf.int32))

    records, epoch, bad, started = [], 0, 0, time.time()
    while len(records) < steps and bad < 5:
        batches = make_batches(split.features.lengths, t.batch_frames, t.max_batch_size, seed=t.seed + epoch)
        for batch in batch_dataset(split.features, split.labels, batches):
            loss, norm, finite, zeroed = (v.numpy() for v in step(*batch))
            ok = bool(finite and np.isfinite(norm) and np.isfinite(loss) and zeroed < len(batch[1]))
            bad = 0 if ok else bad + 1
            records.append({"step": len(records) + 1, "loss": float(loss) if ok else None,
                            "grad_norm": float(norm) if np.isfinite(norm) else None, "finite": ok,
                            "infinite_loss_utterances": int(zeroed), "logits_finite": bool(finite),
                            "mean_clip_s": float(np.mean(batch[1].numpy())) * cfg.features.hop_ms / 1000,
                            "seconds": time.time() - started})
            if len(records) >= steps or bad >= 5:
                break
        epoch += 1
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    log(f"clipping {name}: {len(records)} steps in {time.time() - started:.0f} s")
    return True


def clipping(args, runs: list[Run], out: Path, log) -> bool:
    """On the last dataset, unidirectional, the budget's units: the simple RNN with the package's optimizer (Adam) at
    a high learning rate, clipped at the package default norm and not clipped, the LSTM under the same unclipped
    setting, and the simple RNN under plain SGD (where nothing else bounds a step) clipped and not clipped."""
    folder, worked = out / "clipping", False
    default = config.TrainConfig.clip_norm
    settings = [("rnn", "adam", args.clip_lr, default), ("rnn", "adam", args.clip_lr, 0.0),
                ("lstm", "adam", args.clip_lr, 0.0), ("rnn", "sgd", args.sgd_lr, default), ("rnn", "sgd", args.sgd_lr, 0.0)]
    for cell, optimizer, lr, clip_norm in settings[:2] if args.quick else settings:  # quick: one clipped/unclipped pair
        run = next(r for r in runs if r.dataset is runs[-1].dataset and r.cell == cell and not r.bidirectional)
        overrides = {"train": {"learning_rate": lr, "warmup_steps": 10, "final_lr_fraction": 1.0,
                               "clip_norm": clip_norm}}
        cfg = config.load(run.dataset.config_file, config.merge(config.merge(
            run.dataset.overrides, {"model": {"cell": cell, "bidirectional": False, "units": run.units}}), overrides))
        name = f"{cell}-{optimizer}{lr:g}-clip{clip_norm:g}"
        worked |= clipping_run(name, cfg, run.dataset, args.clip_steps, folder, log, sgd=optimizer == "sgd")
        (folder / f"{name}.json").write_text(json.dumps({"optimizer": optimizer, **cfg.to_dict()}) + "\n")
    return worked


def memory_stage(args, out: Path, log) -> bool:
    """Each cell (unidirectional, the FSDD budget) classifies the digit from its last state after each delay."""
    if args.quick:
        digits = out / "data" / "digits.jsonl"
        train_manifest, test_manifest, cache = digits, digits, out / "features"
        budget, overrides = 20_000, {"train": {"batch_frames": 1500, "warmup_steps": 1}}
    else:
        train_manifest, test_manifest = args.fsdd_manifests / "train.jsonl", args.fsdd_manifests / "test.jsonl"
        cache, budget, overrides = args.fsdd_cache, 100_000, {}
    base = config.load(RECIPE / "fsdd.toml", overrides)
    train_set, test_set = memory.load_fsdd(train_manifest, test_manifest, base, cache)
    inputs = base.features.num_mels * base.model.stack_frames
    done = {p.name for p in (out / "memory").glob("*.json")}
    for delay in args.memory_delays:
        for cell in CELLS:
            units = units_for_budget(cell, budget, inputs, False, len(memory.DIGITS))
            memory.train_memory(cell, units, delay, train_set, test_set, base, args.memory_epochs,
                                probe_clips=min(32, len(test_set)), out=out / "memory", log=log)
    return {p.name for p in (out / "memory").glob("*.json")} != done


# ------------------------------------------------------------------------------------------------------- main

def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="experiment folder (exp/rnn_cells)")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--quick", action="store_true", help="tiny models on samples/: a smoke test of every stage")
    parser.add_argument("--results-dir", type=Path, help="where RESULTS.md and the PNGs go (default: "
                        "recipes/rnn_cells, or --out with --quick)")
    parser.add_argument("--fsdd-data", type=Path, default=REPO.parent / "shared/data/fsdd")
    parser.add_argument("--fsdd-manifests", type=Path, default=REPO / "exp/fsdd/data")
    parser.add_argument("--fsdd-cache", type=Path, default=REPO / "exp/fsdd/features")
    parser.add_argument("--librispeech-data", type=Path, default=REPO.parent / "shared/data/librispeech-mini")
    parser.add_argument("--librispeech-manifests", type=Path, default=REPO / "exp/mini_librispeech/data")
    parser.add_argument("--librispeech-cache", type=Path, default=REPO / "exp/mini_librispeech/features")
    parser.add_argument("--hours", type=float, default=1.0, help="hours of train-clean-5 to train on")
    parser.add_argument("--clip-lr", type=float, default=5e-2, help="Adam's learning rate in the clipping experiment")
    parser.add_argument("--sgd-lr", type=float, default=1e-2, help="SGD's learning rate in the clipping experiment")
    parser.add_argument("--clip-steps", type=int, default=100, help="steps of the clipping experiment")
    parser.add_argument("--memory-delays", type=int, nargs="+", default=[0, 20, 50],
                        help="silent output frames between the digit and the readout")
    parser.add_argument("--memory-epochs", type=int, default=8)
    args = parser.parse_args(argv)
    if args.quick:
        args.clip_steps, args.memory_delays, args.memory_epochs = min(args.clip_steps, 3), [3], 2
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    results_dir = args.results_dir or (out if args.quick else RECIPE)

    def log(message: str) -> None:
        print(message, flush=True)
        with open(out / "run.log", "a") as f:
            f.write(message + "\n")

    timings_path = out / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    runs = make_runs(datasets(args, out), out)
    for stage in [s for s in STAGES if s in args.stages]:
        started = time.time()
        log(f"== {stage}")
        worked = True
        if stage == "prepare":
            prepare(args, out, log)
        elif stage == "train":
            trained = [train_run(run, log) for run in runs]  # every run, no short-circuit
            worked = any(trained)
        elif stage == "evaluate":
            for run in runs:
                evaluate_run(run, log)
        elif stage == "probe":
            for run in runs:
                probe_run(run, log)
        elif stage == "clipping":
            worked = clipping(args, runs, out, log)
        elif stage == "memory":
            worked = memory_stage(args, out, log)
        elif stage == "report":
            report.write(runs, out, results_dir, quick=args.quick, command=" ".join(sys.argv), log=log)
        if worked:  # a stage that only found its outputs keeps the time it took to make them
            timings[stage] = time.time() - started
            timings_path.write_text(json.dumps(timings, indent=2) + "\n")


if __name__ == "__main__":
    main()
