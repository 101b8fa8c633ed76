#!/usr/bin/env bash
# Mini LibriSpeech (train-clean-5 -> dev-clean-2), characters. Stages resume: prepare is skipped when done,
# train continues from its latest checkpoint, evaluate reruns.
#   bash recipes/mini_librispeech/run.sh                  # all stages
#   bash recipes/mini_librispeech/run.sh train            # only training (resumes)
#   bash recipes/mini_librispeech/run.sh continue         # warm restart from char_bilstm/best (resumes)
# Environment: DATA (default ../shared/data/librispeech-mini), EXP (default exp/mini_librispeech),
# MAX_MINUTES (stop training after this long, with a checkpoint; run again to continue).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data/librispeech-mini}
EXP=${EXP:-exp/mini_librispeech}
CONFIG=recipes/mini_librispeech/config.toml
STAGES=${*:-prepare train evaluate}
stage() { [[ " $STAGES " == *" $1 "* ]]; }

if stage prepare && [ ! -f "$EXP/data/dev.jsonl" ]; then
  python recipes/mini_librispeech/prepare.py "$DATA" "$EXP/data"
fi

if stage train; then
  asr train --config "$CONFIG" --train "$EXP/data/train.jsonl" --valid "$EXP/data/valid.jsonl" \
    --out "$EXP/char_bilstm" --cache-dir "$EXP/features" ${MAX_MINUTES:+--max-minutes "$MAX_MINUTES"}
fi

if stage continue; then
  # a second run, started from the first one's best weights with a new learning-rate schedule
  asr train --config recipes/mini_librispeech/continue.toml --set "train.init_from=$EXP/char_bilstm/best" \
    --train "$EXP/data/train.jsonl" --valid "$EXP/data/valid.jsonl" \
    --out "$EXP/char_bilstm_r2" --cache-dir "$EXP/features" ${MAX_MINUTES:+--max-minutes "$MAX_MINUTES"}
fi

if stage evaluate; then
  # dev-clean-2 is scored here and nowhere else: it never selects checkpoints or tunes anything
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/char_bilstm/best" --out "$EXP/char_bilstm/eval-dev-greedy"
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/char_bilstm/best" --beam 8 --out "$EXP/char_bilstm/eval-dev-beam8"
fi
