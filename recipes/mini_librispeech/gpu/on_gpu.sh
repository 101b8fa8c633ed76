#!/usr/bin/env bash
# One call on the GPU machine, from the repository root there:
#   bash recipes/mini_librispeech/gpu/on_gpu.sh N                   # features of the audio part .gpu/data/audioN
#   bash recipes/mini_librispeech/gpu/on_gpu.sh N [TRAIN OPTIONS]   # the same, then train on every part seen so far
#   bash recipes/mini_librispeech/gpu/on_gpu.sh N --runs FILE       # the same, several runs at once on the one GPU:
#                                   # FILE has one run per line, NAME TRAIN OPTIONS (# starts a comment)
# N may also name a part (synth0: .gpu/data/synth0, export_data.py --synth's synthetic clips) or list several,
# comma-separated (1,synth0): the features of each, in turn. Train with --synth-share F to draw synthetic clips.
# Wheels in .whl/ (soundfile, cffi, pycparser, soxr: the machine has none of them) are installed first. Features go
# to /tmp/asr-feats-PART.pt (PART: audioN, synthN), outside the repository copy: a later call on the same machine
# finds them there (the repository copy's ignored folders did not survive between calls on 2026-12-04; /tmp did).
# Training writes to $OUT (the folder that comes back), else gpu_out/. Example of a last call:
#   bash recipes/mini_librispeech/gpu/on_gpu.sh 1 --layers 4 --units 320 --dropout 0.2 --lr 1e-3 --warmup 300 --minutes 8
set -euo pipefail
cd "$(dirname "$0")/../../.."
PART=$1
shift
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/asr-site .whl/*.whl
  export PYTHONPATH=/tmp/asr-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1
OUT=${OUT:-gpu_out}
TRAIN=recipes/mini_librispeech/gpu/train_torch.py
# AUGMENT_COPIES=K: also K corrupted copies of each training clip (rooms from .gpu/data/rooms.npz); train with
# --augmented to draw them
for P in ${PART//,/ }; do
  case "$P" in *[!0-9]*) DIR=$P ;; *) DIR=audio$P ;; esac
  [ -d ".gpu/data/$DIR" ] || { echo "on_gpu.sh: no audio part .gpu/data/$DIR" >&2; exit 2; }
  python3 "$TRAIN" features .gpu/data --audio ".gpu/data/$DIR" --out "/tmp/asr-feats-$DIR.pt" \
    --augment-copies "${AUGMENT_COPIES:-0}"
done
if [ $# -gt 0 ]; then
  FEATS=(/tmp/asr-feats*.pt)
  echo "training on ${#FEATS[@]} part(s): ${FEATS[*]}"
  if [ "$1" != --runs ]; then
    python3 "$TRAIN" train .gpu/data --features "${FEATS[@]}" --out "$OUT/run" "$@"
    exit
  fi
  # several runs side by side (an LSTM at these batch sizes leaves most of an H200 idle); each logs to NAME.log
  mkdir -p "$OUT"
  pids=()
  while read -r name opts; do
    case "$name" in ''|'#'*) continue ;; esac
    read -r -a opts_array <<< "$opts"
    python3 "$TRAIN" train .gpu/data --features "${FEATS[@]}" --out "$OUT/$name" "${opts_array[@]}" \
      > "$OUT/$name.log" 2>&1 &
    pids+=($!)
    echo "run $name: $opts (pid $!)"
  done < "$2"
  status=0
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  tail -n 3 "$OUT"/*.log
  # at most 8 files come back from the machine: the run with the lowest valid token error keeps its folder, the
  # others' weights wait in /tmp/asr-runs and their logs go into OUT/others.tar
  python3 recipes/mini_librispeech/gpu/keep_best.py "$OUT"
  exit $status
fi
