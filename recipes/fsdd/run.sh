#!/usr/bin/env bash
# FSDD spoken digits, end to end. Stages resume: a finished stage is skipped, training resumes from its checkpoint.
#   bash recipes/fsdd/run.sh                 # all stages
#   bash recipes/fsdd/run.sh train evaluate  # only these stages
#   bash recipes/fsdd/run.sh prepare stream  # the streaming (unidirectional) model
# Environment: DATA (default ../shared/data/fsdd), EXP (default exp/fsdd), HELDOUT (speakers held out, space-separated).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data/fsdd}
EXP=${EXP:-exp/fsdd}
HELDOUT=${HELDOUT:-"george jackson lucas nicolas yweweler"}
CONFIG=recipes/fsdd/config.toml
STAGES=${*:-prepare train evaluate heldout}

stage() { [[ " $STAGES " == *" $1 "* ]]; }

if stage prepare && [ ! -f "$EXP/data/train.jsonl" ]; then
  python recipes/fsdd/prepare.py "$DATA" "$EXP/data"
fi

if stage train; then
  # time-boxed: the target is a model trained in at most 5 minutes on a 2-core machine
  asr train --config "$CONFIG" --train "$EXP/data/train.jsonl" --valid "$EXP/data/valid.jsonl" \
    --out "$EXP/model" --cache-dir "$EXP/features" --max-minutes 5
  cp recipes/fsdd/lexicon.txt "$EXP/model/best/"  # decode with the closed vocabulary of ten digits
fi

if stage evaluate; then
  asr evaluate "$EXP/data/test.jsonl" --model "$EXP/model/best" --out "$EXP/model/eval-test"
  asr evaluate "$EXP/data/test.jsonl" --model "$EXP/model/best" --beam 1 --out "$EXP/model/eval-test-greedy" \
    --no-lexicon
fi

if stage stream; then
  # the streaming model (unidirectional LSTMs, asr/live/streaming.py); not in the default stages
  # fine-tuned from the English streaming model (recipes/mini_librispeech/run.sh stage stream)
  INIT=${INIT:-exp/mini_librispeech/char_lstm_stream/best}
  asr train --config recipes/fsdd/streaming.toml --set "train.init_from=$INIT" --train "$EXP/data/train.jsonl" \
    --valid "$EXP/data/valid.jsonl" --out "$EXP/stream" --cache-dir "$EXP/features" --max-minutes 20
  cp recipes/fsdd/lexicon.txt "$EXP/stream/best/"
  asr evaluate "$EXP/data/test.jsonl" --model "$EXP/stream/best" --out "$EXP/stream/eval-test"
fi

if stage heldout; then
  for speaker in $HELDOUT; do
    d="$EXP/heldout-$speaker"
    asr train --config "$CONFIG" --train "$EXP/data/heldout-$speaker/train.jsonl" \
      --valid "$EXP/data/heldout-$speaker/valid.jsonl" --out "$d" --cache-dir "$EXP/features" --max-minutes 5
    cp recipes/fsdd/lexicon.txt "$d/best/"
    asr evaluate "$EXP/data/heldout-$speaker/test.jsonl" --model "$d/best" --out "$d/eval-test"
  done
fi
