#!/usr/bin/env bash
# Mini LibriSpeech experiments: every stage that produced a row of RESULTS.md's experiments table, kept runnable.
# The stages that rebuild the shipped models are in run.sh; these are the studies around them (ablations, other
# runs, other beams). Stages resume: prepare is skipped when done, training continues from its latest checkpoint.
#   bash recipes/mini_librispeech/experiments.sh STAGE... # (no default: name the stages)
#   bash recipes/mini_librispeech/experiments.sh train            # only training (resumes)
#   bash recipes/mini_librispeech/experiments.sh continue         # warm restart from char_bilstm/best (resumes)
#   bash recipes/mini_librispeech/experiments.sh speed            # second warm restart, speed perturbation (resumes)
#   bash recipes/mini_librispeech/experiments.sh speed2           # a third, from the second's best (10 epochs, peak 3e-4)
#   bash recipes/mini_librispeech/experiments.sh lm tune evaluate_lm  # word 3-gram LM, tuned on valid, scored on dev
#   bash recipes/mini_librispeech/experiments.sh lm mix           # that LM mixed with pocketsphinx's general English 3-gram
#   bash recipes/mini_librispeech/experiments.sh phones lm phones_lm  # phones instead of characters, from the english
#                                                         # model's weights; with the word LM
#   bash recipes/mini_librispeech/experiments.sh phones2 phones2_lm  # a warm restart of the phone model (6 epochs, 5e-4);
#                                                         # with the LM, and the LM mix (shipped 2026-12-04)
#   bash recipes/mini_librispeech/experiments.sh phones3 phones3_lm  # a third run of the phone model (10 epochs, 4e-4);
#                                                         # with the LM, and the LM mix (shipped until gpu_beam's)
#   bash recipes/mini_librispeech/experiments.sh phones4 phones4_lm  # a fourth, longer run (20 epochs, 3e-4); with the
#                                                         # LM, and the LM mix
#   GPU_OUT=DIR bash recipes/mini_librispeech/experiments.sh gpu_lm gpu_beam  # phone models trained on a GPU
#                                                         # (gpu/README.md); run C at beam 24 shipped until run G:
#   GPU_OUT=DIR GPU_RUNS=G GPU_BEAM_RUN=G BEAMS=24 BEAM_BONUSES="1 2 3 4" bash recipes/mini_librispeech/experiments.sh gpu_lm gpu_beam
#   bash recipes/mini_librispeech/experiments.sh phones_cpu lm phones_cpu_lm  # the shipped GPU model (run G) continued on
#                                                         # this CPU (10 epochs, 1e-4); with the LM and the mix
#   bash recipes/mini_librispeech/experiments.sh prepare wide_beam  # the shipped network at wider beams (width 64 ships)
#   bash recipes/mini_librispeech/experiments.sh prepare phones_cpu_c  # the ensemble's second network (run C) continued on
#                                                         # this CPU (resumes; MAX_MINUTES stops it early)
#   bash recipes/mini_librispeech/experiments.sh prepare ensemble_cpu_c  # the ensemble with that network instead of run C's
#   bash recipes/mini_librispeech/experiments.sh prepare phones_so762 ensemble_so762  # the same with 69 speechocean762
#                                                         # speakers added to the training clips; 22 held back
#   bash recipes/mini_librispeech/experiments.sh prepare ensemble  # the ensemble of runs G and C (what ships), tuned and scored
#   bash recipes/mini_librispeech/experiments.sh prepare ensemble_ablation  # which networks to average (RESULTS.md)
#   bash recipes/mini_librispeech/experiments.sh prepare priors   # token priors divided out in the beam search (what ships)
#   bash recipes/mini_librispeech/experiments.sh prepare stream lm stream_lm  # the streaming (unidirectional) model
#   bash recipes/mini_librispeech/experiments.sh prepare stream_priors  # its token priors (what english-stream ships)
#   bash recipes/mini_librispeech/experiments.sh prepare english_priors  # the same for the character model `english`
#   bash recipes/mini_librispeech/experiments.sh prepare homophones  # without an LM, the likeliest of each set of homophones
#   bash recipes/mini_librispeech/experiments.sh prepare no_lm_beam  # without an LM: beam search, and over dictionary words
#   bash recipes/mini_librispeech/experiments.sh prepare lm_books  # the books LM with its bigrams seen once kept
# Environment: DATA (default ../shared/data/librispeech-mini), EXP (default exp/mini_librispeech), SO762 (default
# ../shared/data/speechocean762),
# MAX_MINUTES (stop training after this long, with a checkpoint; run again to continue),
# MODEL (the acoustic model the LM stages use; default $EXP/char_bilstm/best), INIT (the weights stage speed
# starts from; default $EXP/char_bilstm_r2/best, the weights of the shipped `english` model).
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data/librispeech-mini}
SO762=${SO762:-../shared/data/speechocean762}
SO762_EXP=exp/speechocean762  # the speechocean762 recipe's manifests and scores
EXP=${EXP:-exp/mini_librispeech}
CONFIG=recipes/mini_librispeech/config.toml
STAGES=${*:?name the stages to run (see the comments above)}
MODEL=${MODEL:-$EXP/char_bilstm/best}
stage() { [[ " $STAGES " == *" $1 "* ]]; }
# train_from CONFIG INIT OUT [OPTIONS]: train into OUT (resumes from its latest checkpoint) with CONFIG, starting from
# the weights of model directory INIT, on $TRAIN_JSONL (default $EXP/data/train.jsonl)
train_from() {
  asr train --config "$1" --set "train.init_from=$2" "${@:4}" --train "${TRAIN_JSONL:-$EXP/data/train.jsonl}" \
    --valid "$EXP/data/valid.jsonl" --out "$3" --cache-dir "$EXP/features" ${MAX_MINUTES:+--max-minutes "$MAX_MINUTES"}
}
# with_lm MODEL TUNE_DIR OUT [TUNING OPTIONS]: LM weight and word bonus of acoustic model MODEL tuned on valid (the
# beam kept to the LM's words; grid in TUNE_DIR), then OUT = MODEL + the word LM (stage lm) + the tuned decoding.json
with_lm() {
  python recipes/mini_librispeech/tune_decoding.py "$1" "$EXP/lm/3gram-prune001.arpa.gz" "$EXP/data/valid.jsonl" \
    --out "$2" --lm-words-only --beam 16 --weights 0.3 0.6 1.0 --bonuses 0 2 4 "${@:4}"
  rm -rf "$3" && cp -r "$1" "$3"
  cp "$EXP/lm/3gram-prune001.arpa.gz" "$3/lm.arpa.gz" && cp "$2/decoding.json" "$3/"
}
# with_mix MODEL DIR TUNE_DIR [TUNING OPTIONS]: DIR (acoustic model MODEL + lm.arpa.gz) gets lm.json, its LM mixed
# with pocketsphinx's general US English 3-gram (asr/decoding/mixlm.py; mix weight by perplexity on valid), and the
# decoding.json tuned for that on valid (grid in TUNE_DIR)
with_mix() {
  python recipes/mini_librispeech/mix_lm.py "$2/lm.arpa.gz" "$EXP/data/valid.jsonl" --out "$2/lm.json"
  python recipes/mini_librispeech/tune_decoding.py "$1" "$2/lm.json" "$EXP/data/valid.jsonl" \
    --out "$3" --lm-words-only --beam 16 --weights 0.3 0.6 1.0 --bonuses 0 2 4 "${@:4}"
  cp "$3/decoding.json" "$2/"
}

# with_priors E C [RUN]: model directory E, a copy of the shipped ensemble (asr/models/english-phones; with RUN, its
# run-C network replaced by RUN/best, G's share 0.65 as shipped), gets priors.json (its token priors, from 300
# training clips) and decoding.json (prior scale, LM weight and word bonus tuned on valid at width 64: our LM alone
# in C/tune_beam64, then the mix in C/tune_mix_beam64, falling back to the first without pocketsphinx); dev scored
# with the mix (C/eval-dev-mix-beam64) and with our LM alone (E_plain, C/eval-dev-lm-beam64)
with_priors() {
  rm -rf "$1" && cp -r asr/models/english-phones "$1" && rm -f "$1/priors.json"
  [ -z "${3:-}" ] || cp "$3/best/model.npz" "$3/best/config.json" "$1/run-C/"
  python recipes/mini_librispeech/estimate_priors.py "$1" "$EXP/data/train.jsonl" --clips 300 --seed 0
  python recipes/mini_librispeech/tune_decoding.py "$1" "$1/lm.arpa.gz" "$EXP/data/valid.jsonl" \
    --out "$2/tune_beam64" --lm-words-only --beam 64 --weights 0.6 0.8 1.0 1.2 --bonuses 1 2 3 \
    --prior-scales 0 0.2 0.4 0.6 0.8 1.0
  python recipes/mini_librispeech/tune_decoding.py "$1" "$1/lm.json" "$EXP/data/valid.jsonl" \
    --out "$2/tune_mix_beam64" --lm-words-only --beam 64 --weights 0.8 1.0 1.2 --bonuses 1 2 3 \
    --prior-scales 0 0.2 0.4 0.6 0.8 1.0 --fallback "$2/tune_beam64/decoding.json"
  cp "$2/tune_mix_beam64/decoding.json" "$1/"
  asr evaluate "$EXP/data/dev.jsonl" --model "$1" --out "$2/eval-dev-mix-beam64"
  rm -rf "${1}_plain" && cp -r "$1" "${1}_plain"
  rm "${1}_plain/lm.json" && cp "$2/tune_beam64/decoding.json" "${1}_plain/"
  asr evaluate "$EXP/data/dev.jsonl" --model "${1}_plain" --out "$2/eval-dev-lm-beam64"
}
# continue_run_c RUN [TRAINING OPTIONS]: the ensemble's second network (asr/models/english-phones/run-C: GPU run C)
# continued on this CPU into RUN with G's regularisation (phones_cpu.toml: dropout 0.3, speed perturbation,
# SpecAugment), peak LR 3e-4, seed 41; RUN/best (by valid phone error) scored greedy on dev
continue_run_c() {
  rm -rf "$EXP/run_C" && cp -r asr/models/english-phones/run-C "$EXP/run_C"
  cp asr/models/english-phones/pronunciations.txt.gz "$EXP/run_C/"
  phone_run_cfg recipes/mini_librispeech/phones_cpu.toml "$EXP/run_C" "$1" \
    --set train.learning_rate=3e-4 --set train.seed=41 "${@:2}"
}
# phone_run INIT RUN [TRAINING OPTIONS]: train the phone model RUN (phones.toml; resumes from its latest checkpoint)
# from the weights of model directory INIT, then score RUN/best greedy on dev (RUN/eval-dev-dict: each pronunciation
# written as the dictionary's word for it)
phone_run() {
  phone_run_cfg recipes/mini_librispeech/phones.toml "$@"
}
# phone_run_cfg CONFIG INIT RUN [TRAINING OPTIONS]: the same with another config
phone_run_cfg() {
  train_from "$1" "$2" "$3" "${@:4}"
  asr evaluate "$EXP/data/dev.jsonl" --model "$3/best" --out "$3/eval-dev-dict"
}
# with_phone_lms RUN OUT [TUNING OPTIONS]: the phone model RUN/best with the word LM (OUT_plain), then the same with
# lm.json (OUT: our LM mixed with pocketsphinx's, weight by perplexity on valid; LM weight and bonus tuned on valid),
# which falls back to the plain LM and its own weights (decoding.json per_lm) where pocketsphinx is not installed;
# both scored on dev (RUN/eval-dev-lm, RUN/eval-dev-mix)
with_phone_lms() {
  with_lm "$1/best" "$1/tune" "$2_plain" "${@:3}"
  asr evaluate "$EXP/data/dev.jsonl" --model "$2_plain" --out "$1/eval-dev-lm"
  rm -rf "$2" && cp -r "$2_plain" "$2"
  with_mix "$1/best" "$2" "$1/tune_mix" "${@:3}" --fallback "$1/tune/decoding.json"
  asr evaluate "$EXP/data/dev.jsonl" --model "$2" --out "$1/eval-dev-mix"
}

# mix_beam RUN MIXED: RUN/best with the LM mix of MIXED (made by with_phone_lms) at wider beams: valid grids at
# widths BEAMS (default "24 32"), LM weights BEAM_WEIGHTS (default "0.6 0.8 1.0") and word bonuses BEAM_BONUSES
# (default "2 3 4"); MIXED_b24 (what ships as english-phones): width 24, whose RTF stays clear of 0.05 (width 32:
# 0.042-0.049 in benchmarks/), scored on dev (RUN/eval-dev-mix-beam24)
mix_beam() {
  for W in ${BEAMS:-24 32}; do
    python recipes/mini_librispeech/tune_decoding.py "$1/best" "$2/lm.json" "$EXP/data/valid.jsonl" \
      --out "$1/tune_mix_beam$W" --lm-words-only --beam "$W" --weights ${BEAM_WEIGHTS:-0.6 0.8 1.0} \
      --bonuses ${BEAM_BONUSES:-2 3 4} --fallback "$1/tune/decoding.json"
  done
  rm -rf "$2_b24" && cp -r "$2" "$2_b24"
  cp "$1/tune_mix_beam24/decoding.json" "$2_b24/"
  asr evaluate "$EXP/data/dev.jsonl" --model "$2_b24" --out "$1/eval-dev-mix-beam24"
}

if stage prepare && [ ! -f "$EXP/data/dev.jsonl" ]; then
  python recipes/mini_librispeech/prepare.py "$DATA" "$EXP/data"
fi

if stage lm; then
  # (before every stage that decodes with it: stages run in this file's order, whatever the command's order)
  # LM text: train-clean-5 transcripts less the two validation speakers, and LJ Speech; never dev-clean-2
  python recipes/mini_librispeech/lm_text.py "$(dirname "$DATA")" "$EXP/lm"
  asr lm "$EXP/lm/librispeech.txt" "$EXP/lm/ljspeech.txt" --order 3 --prune 0 0 1 --out "$EXP/lm/3gram-prune001.arpa.gz"
fi

if stage train; then
  asr train --config "$CONFIG" --train "$EXP/data/train.jsonl" --valid "$EXP/data/valid.jsonl" \
    --out "$EXP/char_bilstm" --cache-dir "$EXP/features" ${MAX_MINUTES:+--max-minutes "$MAX_MINUTES"}
fi

if stage continue; then
  # a second run, started from the first one's best weights with a new learning-rate schedule
  train_from recipes/mini_librispeech/continue.toml "$EXP/char_bilstm/best" "$EXP/char_bilstm_r2"
fi

if stage speed; then
  # a second warm restart from the first one's best weights, each clip at speed 0.9, 1.0 or 1.1 in each epoch
  train_from recipes/mini_librispeech/speed.toml "${INIT:-$EXP/char_bilstm_r2/best}" "$EXP/char_bilstm_sp"
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/char_bilstm_sp/best" --out "$EXP/char_bilstm_sp/eval-dev-greedy"
fi

if stage speed2; then
  # a third warm restart, from the second's best weights, the same speed perturbation, 10 epochs, peak LR 3e-4
  train_from recipes/mini_librispeech/speed.toml "$EXP/char_bilstm_sp/best" "$EXP/char_bilstm_sp2" \
    --set train.learning_rate=3e-4 --set train.seed=3 --set train.epochs=10
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/char_bilstm_sp2/best" --out "$EXP/char_bilstm_sp2/eval-dev-greedy"
fi

if stage phones; then
  # phones (asr/decoding/phones.py) instead of characters, from the shipped character model's weights (a new output
  # layer), speed perturbation as in stage speed
  phone_run "${INIT:-asr/models/english}" "$EXP/phone_bilstm"
fi

if stage phones2; then
  # a warm restart of the phone model from its best weights: 6 more epochs, peak LR 5e-4
  phone_run "$EXP/phone_bilstm/best" "$EXP/phone_bilstm2" --set train.learning_rate=5e-4 --set train.seed=5 \
    --set train.epochs=6
fi

if stage phones_lm; then
  # the phone model + the word LM (stage lm), the beam kept to the pronunciations of the LM's words, weights
  # tuned on valid; scored on dev-clean-2
  P=$EXP/phone_bilstm
  with_lm "$P/best" "$P/tune" "$EXP/english_phones"
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/english_phones" --out "$P/eval-dev-lm"
fi

if stage phones3; then
  # a third run of the phone model, from the second's best weights: 10 epochs, peak LR 4e-4
  phone_run "$EXP/phone_bilstm2/best" "$EXP/phone_bilstm3" --set train.learning_rate=4e-4 --set train.seed=6 \
    --set train.epochs=10
fi

if stage phones4; then
  # a fourth, longer run from the third's best weights: 20 epochs, peak LR 3e-4 (a longer schedule wastes fewer
  # epochs on recovering from each restart's warm-up than the 6- and 10-epoch runs did)
  phone_run "$EXP/phone_bilstm3/best" "$EXP/phone_bilstm4" --set train.learning_rate=3e-4 --set train.seed=7 \
    --set train.epochs=20
fi

if stage phones_cpu; then
  # the shipped GPU phone model (run G, the network of asr/models/english-phones itself) continued on this CPU:
  # 10 epochs, peak LR 1e-4
  phone_run_cfg recipes/mini_librispeech/phones_cpu.toml asr/models/english-phones "$EXP/phone_cpu"
fi

if stage phones_cpu_c; then
  # the ensemble's second network, run C (trained on the GPU for 16 epochs on all the training clips, after 104 on
  # half of them, dropout 0.2), continued on this CPU with G's regularisation (dropout 0.3, speed perturbation,
  # SpecAugment): 12 epochs, peak LR 3e-4; the best epoch by valid phone error is phone_cpu_c/best
  # (run-C holds the network alone: its pronunciations are the ensemble's)
  continue_run_c "$EXP/phone_cpu_c" --set train.epochs=12
fi

if stage phones_so762; then
  # the same with 69 of speechocean762's 91 speakers (non-native read English, Mandarin L1, children and adults;
  # 1,362 clips, 1.42 h) added to the training clips, 8 epochs; the other 22 speakers are held back for scoring
  # (recipes/speechocean762/split_speakers.py: every 4th speaker)
  S=$SO762_EXP/data
  [ -f "$S/train.jsonl" ] || python recipes/speechocean762/prepare.py "$SO762" "$S"
  python recipes/speechocean762/split_speakers.py "$S/train.jsonl" "$S" --every 4
  cat "$EXP/data/train.jsonl" "$S/train_speakers.jsonl" > "$EXP/data/train_so762.jsonl"
  TRAIN_JSONL=$EXP/data/train_so762.jsonl continue_run_c "$EXP/phone_cpu_c_so762" --set train.epochs=8
fi

if stage phones_cpu_lm; then
  # phones_cpu's model with the word LM and the LM mix at width 16 (G's grid), then the mix at width 24 on a grid
  # that reaches below G's optimum (weight 0.6, bonus 1: the grid's corner)
  with_phone_lms "$EXP/phone_cpu" "$EXP/english_phones_cpu" --weights 0.6 0.8 1.0 --bonuses 1 2 3 4
  BEAMS=24 BEAM_WEIGHTS="0.3 0.45 0.6 0.8" BEAM_BONUSES="0 1 2 3" mix_beam "$EXP/phone_cpu" "$EXP/english_phones_cpu"
fi

if stage phones2_lm; then
  # the phones2 model (shipped 2026-12-04) with the word LM (a finer grid), and with our LM mixed with pocketsphinx's
  with_phone_lms "$EXP/phone_bilstm2" "$EXP/english_phones2" --weights 0.4 0.6 0.8 1.0 --bonuses 0 1 2 3
fi

if stage phones3_lm; then
  # the same for the phones3 model; the grid moved to where phones2's optimum was (weight 0.8, bonuses 2-3)
  with_phone_lms "$EXP/phone_bilstm3" "$EXP/english_phones3" --weights 0.6 0.8 1.0 --bonuses 1 2 3 4
fi

if stage phones4_lm; then
  # the same for the phones4 model, the same grid
  with_phone_lms "$EXP/phone_bilstm4" "$EXP/english_phones4" --weights 0.6 0.8 1.0 --bonuses 1 2 3 4
fi

if stage gpu_lm; then
  # phone models trained on a lent GPU machine by gpu/train_torch.py (gpu/README.md), its output folders in $GPU_OUT
  # (GPU_RUNS, default "C B A"; A: phones3's model continued on half the data, B: 4 x 320 units from scratch on
  # that half, C: B continued on all of it; on the next lease, gpu/runs_2026-12-04c.txt: D: 4 x 320 from scratch
  # on all of it, dropout 0.3, G: D continued): imported, scored greedy on dev, then with the word LM and the LM mix
  for R in ${GPU_RUNS:-C B A}; do
    python recipes/mini_librispeech/gpu/import_model.py "$GPU_OUT/$R" "$EXP/phone_gpu_$R/best"
    asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/phone_gpu_$R/best" --out "$EXP/phone_gpu_$R/eval-dev-dict"
    with_phone_lms "$EXP/phone_gpu_$R" "$EXP/english_phones_gpu_$R" --weights 0.6 0.8 1.0 --bonuses 1 2 3 4
  done
fi

if stage gpu_beam; then
  # run GPU_BEAM_RUN (default C; G ships) with the LM mix at wider beams (mix_beam)
  R=${GPU_BEAM_RUN:-C}
  mix_beam "$EXP/phone_gpu_$R" "$EXP/english_phones_gpu_$R"
fi

if stage wide_beam; then
  # the shipped network (run G, asr/models/english-phones) at wider beams, affordable since the acoustic model runs
  # in NumPy (asr/model/network.py): our LM alone at width 64, then the mix at widths 32, 48 and 64 (valid grids);
  # english_phones_G_b64 (what shipped in the fourth session of 2026-12-04): width 64 with both, scored on dev.
  # Since the fifth session the shipped directory is an ensemble (stage ensemble): G alone is it less its members
  M=$EXP/english_phones_G
  rm -rf "$M" && cp -r asr/models/english-phones "$M" && rm -rf "$M/ensemble.json" "$M/run-C" "$M/priors.json"
  C=$EXP/phone_gpu_G
  python recipes/mini_librispeech/tune_decoding.py "$M" "$M/lm.arpa.gz" "$EXP/data/valid.jsonl" \
    --out "$C/tune_beam64" --lm-words-only --beam 64 --weights 0.6 0.8 1.0 --bonuses 1 2 3
  for W in 32 48 64; do
    python recipes/mini_librispeech/tune_decoding.py "$M" "$M/lm.json" "$EXP/data/valid.jsonl" \
      --out "$C/tune_mix_beam$W" --lm-words-only --beam "$W" --weights 0.45 0.6 0.8 --bonuses 0 1 2 \
      --fallback "$C/tune_beam64/decoding.json"
  done
  rm -rf "$EXP/english_phones_G_b64" && cp -r "$M" "$EXP/english_phones_G_b64"
  cp "$C/tune_mix_beam64/decoding.json" "$EXP/english_phones_G_b64/"
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/english_phones_G_b64" --out "$C/eval-dev-mix-beam64"
  rm -rf "$EXP/english_phones_G_b64_plain" && cp -r "$EXP/english_phones_G_b64" "$EXP/english_phones_G_b64_plain"
  rm "$EXP/english_phones_G_b64_plain/lm.json" && cp "$C/tune_beam64/decoding.json" "$EXP/english_phones_G_b64_plain/"
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/english_phones_G_b64_plain" --out "$C/eval-dev-lm-beam64"
fi

if stage ensemble; then
  # run G's network averaged with run C's (asr/model/ensemble.py; both 4 x BiLSTM-320 from different random starts), G's
  # share 0.5 and 0.65 (0.65 ships as asr/models/english-phones): for each, at width 64, valid grids with our LM
  # alone and with the mix, then dev with each (english_phones_GC$SHARE: the mix; ..._plain: the fallback without
  # pocketsphinx)
  for SHARE in 50 65; do
    E=$EXP/english_phones_GC$SHARE
    C=$EXP/ensemble_GC$SHARE
    rm -rf "$E" && cp -r asr/models/english-phones "$E" && rm -f "$E/priors.json"
    python -c "import json, sys; s = int(sys.argv[1]) / 100; json.dump({'weight': s, 'members': [{'dir': 'run-C', \
'weight': round(1 - s, 2)}]}, open(sys.argv[2], 'w'))" "$SHARE" "$E/ensemble.json"
    python recipes/mini_librispeech/tune_decoding.py "$E" "$E/lm.arpa.gz" "$EXP/data/valid.jsonl" \
      --out "$C/tune_beam64" --lm-words-only --beam 64 --weights 0.6 0.8 1.0 1.2 --bonuses 0 1 2 3 4
    python recipes/mini_librispeech/tune_decoding.py "$E" "$E/lm.json" "$EXP/data/valid.jsonl" \
      --out "$C/tune_mix_beam64" --lm-words-only --beam 64 --weights 0.6 0.8 1.0 1.2 --bonuses 0 1 2 3 4 \
      --fallback "$C/tune_beam64/decoding.json"
    cp "$C/tune_mix_beam64/decoding.json" "$E/"
    asr evaluate "$EXP/data/dev.jsonl" --model "$E" --out "$C/eval-dev-mix-beam64"
    rm -rf "${E}_plain" && cp -r "$E" "${E}_plain"
    rm "${E}_plain/lm.json" && cp "$C/tune_beam64/decoding.json" "${E}_plain/"
    asr evaluate "$EXP/data/dev.jsonl" --model "${E}_plain" --out "$C/eval-dev-lm-beam64"
  done
fi

if stage ensemble_ablation; then
  # which networks to average: run G (the shipped directory's own network), run C (shipped from d7e4961) and the
  # CPU-trained second phone restart (3 x 256, shipped from f3f355a), alone, in pairs and all three, equal weights:
  # greedy phone error and WER with the mix at width 64 (weight 0.8, bonus 1), on valid and on dev
  A=$EXP/ensemble_members
  for spec in C:d7e4961 P3:f3f355a; do
    mkdir -p "$A/${spec%%:*}"
    for f in config.json tokens.txt model.npz pronunciations.txt.gz; do
      git show "${spec#*:}:asr/models/english-phones/$f" > "$A/${spec%%:*}/$f"
    done
  done
  M=asr/models/english-phones
  for SET in valid dev; do
    python recipes/mini_librispeech/ensemble_ablation.py "$EXP/data/$SET.jsonl" "$M" "$A/C" "$A/P3" --lm "$M/lm.json" \
      | tee "$A/$SET.md"
  done
fi

if stage priors; then
  # the shipped ensemble with token priors divided out of its posteriors in the beam search (asr/model/priors.py):
  # priors estimated on 300 training clips; prior scale (0-1) tuned on valid with the LM weight and word bonus,
  # our LM alone, then the mix; dev scored with each (english_phones_prior: the mix, what ships; ..._plain: the
  # fallback without pocketsphinx)
  with_priors "$EXP/english_phones_prior" "$EXP/priors"
fi

if stage ensemble_cpu_c; then
  # the shipped ensemble with run C's network replaced by its CPU continuation (stage phones_cpu_c), G's share
  # 0.65 as shipped: priors, prior scale, LM weight and bonus anew as stage priors does, dev scored with each
  with_priors "$EXP/english_phones_GC2" "$EXP/ensemble_GC2" "$EXP/phone_cpu_c"
fi

if stage ensemble_so762; then
  # the same with stage phones_so762's network; then the shipped ensemble and this one scored on the 22 held-back
  # speechocean762 speakers (each with its own decoding: the mix)
  with_priors "$EXP/english_phones_GC3" "$EXP/ensemble_GC3" "$EXP/phone_cpu_c_so762"
  H=$SO762_EXP/data/heldout_speakers.jsonl
  asr evaluate "$H" --model english-phones --out "$SO762_EXP/english-phones-heldout"
  asr evaluate "$H" --model "$EXP/english_phones_GC3" --out "$SO762_EXP/english-phones-GC3-heldout"
fi

if stage stream; then
  # the streaming model (unidirectional LSTMs, asr/live/streaming.py); not in the default stages
  asr train --config recipes/mini_librispeech/streaming.toml --train "$EXP/data/train.jsonl" \
    --valid "$EXP/data/valid.jsonl" --out "$EXP/char_lstm_stream" --cache-dir "$EXP/features" \
    ${MAX_MINUTES:+--max-minutes "$MAX_MINUTES"}
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/char_lstm_stream/best" --out "$EXP/char_lstm_stream/eval-dev-greedy"
fi

if stage stream_lm; then
  # the shipped streaming model: the stream stage's model + the word LM (stage lm), weights tuned on valid;
  # scored on dev-clean-2 offline and streamed (each clip with 0.5 s of faint noise around it, 40 ms chunks)
  S=$EXP/char_lstm_stream
  with_lm "$S/best" "$S/tune" "$EXP/english_stream"
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/english_stream" --out "$S/eval-dev-lm"
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/english_stream" --pad-s 0.5 --out "$S/eval-dev-lm-padded"
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/english_stream" --pad-s 0.5 --streaming --out "$S/eval-dev-lm-streamed"
fi

# beam16_with_priors NAME OUT TUNE_OUT WEIGHTS BONUSES: the shipped model NAME (asr/models/NAME, beam 16, one ARPA
# LM) copied to OUT with token priors (asr/model/priors.py) estimated on 300 training clips, and the prior scale (0-1)
# tuned with the LM weight and word bonus on valid into TUNE_OUT; OUT gets the tuned decoding.json and is scored
# on dev offline (not with_priors above, which tunes the width-64 ensemble with the mix)
beam16_with_priors() {
  rm -rf "$2" && cp -r "asr/models/$1" "$2" && rm -f "$2/priors.json"
  python recipes/mini_librispeech/estimate_priors.py "$2" "$EXP/data/train.jsonl" --clips 300 --seed 0
  python recipes/mini_librispeech/tune_decoding.py "$2" "$2/lm.arpa.gz" "$EXP/data/valid.jsonl" --out "$3" \
    --lm-words-only --beam 16 --weights $4 --bonuses $5 --prior-scales 0 0.2 0.4 0.6 0.8 1.0
  cp "$3/decoding.json" "$2/"
  asr evaluate "$EXP/data/dev.jsonl" --model "$2" --out "$3/../eval-dev-lm"
}

if stage stream_priors; then
  # the shipped streaming model (asr/models/english-stream) with token priors divided out in its beam search, as
  # stage priors does for english-phones; dev scored offline and streamed, as stage stream_lm does
  beam16_with_priors english-stream "$EXP/english_stream_prior" "$EXP/priors_stream/tune" "0.3 0.5 0.8" "0 1 2"
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/english_stream_prior" --pad-s 0.5 --streaming \
    --out "$EXP/priors_stream/eval-dev-lm-streamed"
fi

if stage english_priors; then
  # the same for the character model `english` (asr/models/english)
  beam16_with_priors english "$EXP/english_prior" "$EXP/priors_english/tune" "0.3 0.6 1.0" "0 1 2 3"
fi

if stage homophones; then
  # decoding without an LM writes the likeliest word of each set of homophones ("to", not "thuy"): the shipped
  # phone model's pronunciations ordered by its LM's unigram probabilities, against alphabetically (before
  # 2026-12-05); greedy scored on valid and dev with each
  E=$EXP/english_phones_homophones
  rm -rf "$E" && cp -r asr/models/english-phones "$E"
  for order in alphabetical likeliest; do
    python recipes/mini_librispeech/prefer_homophones.py "$E" $([ $order = alphabetical ] && echo --alphabetical)
    asr evaluate "$EXP/data/valid.jsonl" --model "$E" --no-lm --out "$EXP/homophones/eval-valid-greedy-$order"
    asr evaluate "$EXP/data/dev.jsonl" --model "$E" --no-lm --out "$EXP/homophones/eval-dev-greedy-$order"
  done
fi

if stage no_lm_beam; then
  # the shipped phone model without a word LM, prefix beam search (width 16; no LM, no priors): over phones alone
  # (--no-lexicon), and kept to the words of its pronunciation dictionary (what --no-lm --beam N does), on valid and dev
  for data in valid dev; do
    asr evaluate "$EXP/data/$data.jsonl" --model asr/models/english-phones --no-lm --beam 16 --no-lexicon \
      --out "$EXP/no_lm_beam/eval-$data-beam16"
    asr evaluate "$EXP/data/$data.jsonl" --model asr/models/english-phones --no-lm --beam 16 \
      --out "$EXP/no_lm_beam/eval-$data-dictionary-beam16"
  done
fi

if stage lm_books; then
  # issue 29: a 3-gram from the public-domain books (../shared/data/books), train-clean-5 less valid and LJ Speech,
  # over LibriSpeech's 200k-word list (openslr 11, CC BY 4.0) kept to the words the text holds or CMUdict spells; the
  # dictionary's missing words pronounced by g2p_en (pip install g2p_en; this stage only); mixed with pocketsphinx's
  # (weight by valid perplexity), decoding tuned on valid, dev scored. Bigrams kept: the variant that does not ship
  # (run.sh lm and english_phones build the shipped one, bigrams seen once pruned)
  B=$EXP/lm_books E=$EXP/english_phones_books
  python recipes/mini_librispeech/lm_text.py "$(dirname "$DATA")" "$EXP/lm" && mkdir -p "$B"
  python recipes/mini_librispeech/lm_vocab.py recipes/mini_librispeech/librispeech-vocab.txt.gz \
    asr/models/english-phones/pronunciations.txt.gz "$EXP"/lm/{librispeech,ljspeech,books}.txt --out "$B/vocab.txt"
  asr lm "$EXP"/lm/{librispeech,ljspeech,books}.txt --order 3 --prune 0 0 1 --vocab "$B/vocab.txt" \
    --out "$B/3gram-prune001.arpa.gz"
  rm -rf "$E" && cp -r asr/models/english-phones "$E" && rm -rf "$E/tables"
  cp "$B/3gram-prune001.arpa.gz" "$E/lm.arpa.gz"
  python recipes/mini_librispeech/g2p_lexicon.py asr/models/english-phones/pronunciations.txt.gz "$E/lm.arpa.gz" \
    --out "$E/pronunciations.txt.gz"
  python recipes/mini_librispeech/mix_lm.py "$E/lm.arpa.gz" "$EXP/data/valid.jsonl" --out "$E/lm.json" \
    --weights 0.5 0.65 0.8
  python recipes/mini_librispeech/tune_decoding.py "$E" "$E/lm.json" "$EXP/data/valid.jsonl" --out "$B/tune_mix" \
    --lm-words-only --beam 64 --weights 0.8 1.0 --bonuses 1 2 --prior-scales 0.8
  python -c "import json, sys; d = json.load(open(sys.argv[1])); d.update({k: json.load(open(sys.argv[2]))[k] \
for k in ('lm_weight', 'word_bonus')}); open(sys.argv[1], 'w').write(json.dumps(d, indent=2) + '\n')" \
    "$E/decoding.json" "$B/tune_mix/decoding.json"
  asr pack "$E"
  asr evaluate "$EXP/data/dev.jsonl" --model "$E" --out "$B/eval-dev-mix"
fi

if stage evaluate; then
  # dev-clean-2 is scored here and nowhere else: it never selects checkpoints or tunes anything
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/char_bilstm/best" --out "$EXP/char_bilstm/eval-dev-greedy"
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/char_bilstm/best" --beam 8 --out "$EXP/char_bilstm/eval-dev-beam8"
fi

if stage tune; then
  # LM weight and word bonus chosen on the validation speakers; the model directory that ships: acoustic model +
  # LM + tuned decoding.json
  with_lm "$MODEL" "$EXP/tune" "$EXP/english_lm"
fi

if stage mix; then
  # our LM mixed with pocketsphinx's general US English 3-gram (asr/decoding/mixlm.py): the mix weight chosen by perplexity
  # on valid, LM weight and word bonus tuned on valid; the model directory gets lm.json next to lm.arpa.gz
  M=$EXP/english_mix
  rm -rf "$M" && cp -r "$MODEL" "$M" && cp "$EXP/lm/3gram-prune001.arpa.gz" "$M/lm.arpa.gz"
  with_mix "$MODEL" "$M" "$EXP/tune_mix"
  asr evaluate "$EXP/data/dev.jsonl" --model "$M" --out "$M/eval-dev-lm"
fi

if stage evaluate_lm; then
  asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/english_lm" --out "$EXP/english_lm/eval-dev-lm"
fi
