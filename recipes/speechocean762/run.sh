#!/usr/bin/env bash
# speechocean762 (non-native read English, Mandarin L1, children and adults) scored with a trained English model;
# nothing is trained here. The shared copy has only the train/ split (1,802 readable clips, 1.86 h), none of it
# seen by the shipped models, so that split is the one scored. Stages: prepare is skipped when done, evaluate reruns.
#   bash recipes/speechocean762/run.sh                   # all stages
#   bash recipes/speechocean762/run.sh evaluate          # only scoring
# Environment: DATA (default ../shared/data/speechocean762), EXP (default exp/speechocean762),
# MODEL (a shipped model name or model directory; default english-phones, the default model), SPLIT (train or test; default train),
# LIMIT (score only the first N clips).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data/speechocean762}
EXP=${EXP:-exp/speechocean762}
MODEL=${MODEL:-english-phones}
SPLIT=${SPLIT:-train}
STAGES=${*:-prepare evaluate}
stage() { [[ " $STAGES " == *" $1 "* ]]; }

if stage prepare && [ ! -f "$EXP/data/$SPLIT.jsonl" ]; then
  python recipes/speechocean762/prepare.py "$DATA" "$EXP/data"
fi

if stage evaluate; then
  name=$(basename "$MODEL")
  # the model's own decoding (english: beam 16 + word 3-gram LM), then greedy without the LM
  asr evaluate "$EXP/data/$SPLIT.jsonl" --model "$MODEL" --out "$EXP/$name-lm" ${LIMIT:+--limit "$LIMIT"}
  asr evaluate "$EXP/data/$SPLIT.jsonl" --model "$MODEL" --no-lm --out "$EXP/$name-greedy" ${LIMIT:+--limit "$LIMIT"}
fi
