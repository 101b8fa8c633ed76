"""Turn a train_torch.py run (run.json, train_log.jsonl, best.npz or its parts) into an asr model directory.

The weights go into the Keras model built from recipes/mini_librispeech/phones.toml with the run's shape, so a
weight that does not fit stops the import; metrics.json gets the best epoch's line of train_log.jsonl.

usage: python recipes/mini_librispeech/gpu/import_model.py GPU_OUT MODEL_DIR
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from asr import config as config_lib
from asr.decoding.phones import vocabulary
from asr.training import checkpoint
from asr.training.keras_model import build_model, count_parameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
import layout  # noqa: E402

PHONES_TOML = Path(__file__).resolve().parents[1] / "phones.toml"
SPEC_AUGMENT = ("freq_masks", "freq_mask_width", "time_masks", "time_mask_fraction")  # run.json = asr's names


def config_of(run: dict, num_tokens: int) -> config_lib.Config:
    """phones.toml with the run's model shape and training settings."""
    return config_lib.load(PHONES_TOML, {
        "model": {"layers": run["layers"], "units": run["units"], "stack_frames": run["stack"],
                  "dropout": run["dropout"], "num_tokens": num_tokens},
        "train": {"epochs": run["planned_epochs"], "learning_rate": run["lr"], "warmup_steps": run["warmup"],
                  "final_lr_fraction": run["final_lr_fraction"], "clip_norm": run["clip_norm"],
                  "batch_frames": run["batch_frames"], "max_batch_size": run["max_batch"], "seed": run["seed"],
                  "spec_augment": run["spec_augment"], "speeds": [0.9, 1.0, 1.1],
                  "init_from": " ".join(run["init"] or []),
                  # runs before 2026-12-04 c had no SpecAugment options: theirs were the config's defaults
                  **{k: run[k] for k in SPEC_AUGMENT if k in run}}})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gpu_out", type=Path)
    parser.add_argument("model_dir", type=Path)
    args = parser.parse_args()
    run = json.loads((args.gpu_out / "run.json").read_text())
    log = [json.loads(line) for line in (args.gpu_out / "train_log.jsonl").read_text().splitlines() if line.strip()]
    best = [r for r in log if r.get("best")][-1]
    vocab = vocabulary("phones")
    cfg = config_of(run, vocab.size)
    model = build_model(cfg.model, cfg.features.num_mels)
    weights = layout.read_model_npz(sorted(args.gpu_out.glob("best*.npz")))
    by_path = {w.path: w for w in model.weights}
    if set(weights) != set(by_path):
        extra, missing = sorted(set(weights) - set(by_path)), sorted(set(by_path) - set(weights))
        raise SystemExit(f"{args.gpu_out}: its weights do not match the model of run.json (extra: {extra}, "
                         f"missing: {missing})")
    for name, value in weights.items():
        if tuple(value.shape) != tuple(by_path[name].shape):
            raise SystemExit(f"{args.gpu_out}: {name} has shape {value.shape}, the model expects {by_path[name].shape}")
        by_path[name].assign(value.astype("float32"))
    metrics = {**best, "parameters": count_parameters(model), "device": run["device"],
               "trained_with": "recipes/mini_librispeech/gpu/train_torch.py", "train_hours": run["train_hours"],
               "planned_epochs": run["planned_epochs"]}
    checkpoint.save_model_dir(args.model_dir, cfg, vocab, model, metrics)
    print(f"{args.model_dir}: epoch {best['epoch']} of {run['planned_epochs']}, valid token error "
          f"{best['valid_cer']:.2%}, {count_parameters(model):,} parameters")


if __name__ == "__main__":
    main()
