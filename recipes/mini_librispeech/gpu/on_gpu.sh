#!/usr/bin/env bash
# One call on the GPU machine, from the repository root there:
#   bash recipes/mini_librispeech/gpu/on_gpu.sh N                   # features of the audio part .gpu/data/audioN
#   bash recipes/mini_librispeech/gpu/on_gpu.sh N [TRAIN OPTIONS]   # the same, then train on every part seen so far
# Wheels in .whl/ (soundfile, cffi, pycparser, soxr: the machine has none of them) are installed first. Features go
# to /tmp/asr-featsN.pt, outside the repository copy: a later call on the same machine finds them there (the
# repository copy's ignored folders did not survive between calls on 2026-12-04; /tmp did). Training writes to
# $OUT (the folder that comes back), else gpu_out/. Example of a last call:
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
TRAIN=recipes/mini_librispeech/gpu/train_torch.py
python3 "$TRAIN" features .gpu/data --audio ".gpu/data/audio$PART" --out "/tmp/asr-feats$PART.pt"
if [ $# -gt 0 ]; then
  FEATS=(/tmp/asr-feats*.pt)
  echo "training on ${#FEATS[@]} part(s): ${FEATS[*]}"
  python3 "$TRAIN" train .gpu/data --features "${FEATS[@]}" --out "${OUT:-gpu_out}/run" "$@"
fi
