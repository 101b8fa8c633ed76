#!/usr/bin/env bash
# speechocean762 (non-native read English, Mandarin L1, children and adults) scored with a trained English model;
# nothing is trained here. The shared copy has only the train/ split (1,802 readable clips, 1.86 h); prepare also
# splits it by speaker (split_speakers.py: every 4th of the 91 speakers held back). The default model's main network
# trained on the other 69 (recipes/mini_librispeech/run.sh augment), so the 22 held-back speakers' 440 clips are
# what is scored. Stages: prepare is skipped when done, evaluate reruns.
#   bash recipes/speechocean762/run.sh                   # all stages
#   bash recipes/speechocean762/run.sh evaluate          # only scoring
# Environment: DATA (default ../shared/data/speechocean762), EXP (default exp/speechocean762),
# MODEL (a shipped model name or model directory; default english-phones, the default model), SPLIT (heldout_speakers, train_speakers or train; default heldout_speakers),
# LIMIT (score only the first N clips).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data/speechocean762}
EXP=${EXP:-exp/speechocean762}
MODEL=${MODEL:-english-phones}
SPLIT=${SPLIT:-heldout_speakers}
STAGES=${*:-prepare evaluate}
stage() { [[ " $STAGES " == *" $1 "* ]]; }

if stage prepare && [ ! -f "$EXP/data/$SPLIT.jsonl" ]; then
  [ -f "$EXP/data/train.jsonl" ] || python recipes/speechocean762/prepare.py "$DATA" "$EXP/data"
  python recipes/speechocean762/split_speakers.py "$EXP/data/train.jsonl" "$EXP/data" --every 4
fi

if stage evaluate; then
  name=$(basename "$MODEL")
  # the model's own decoding (english: beam 16 + word 3-gram LM), then greedy without the LM
  asr evaluate "$EXP/data/$SPLIT.jsonl" --model "$MODEL" --out "$EXP/$name-lm" ${LIMIT:+--limit "$LIMIT"}
  asr evaluate "$EXP/data/$SPLIT.jsonl" --model "$MODEL" --no-lm --out "$EXP/$name-greedy" ${LIMIT:+--limit "$LIMIT"}
fi
