#!/bin/bash
# lease_tree.sh on | off | size: what a GPU call sends, without the model folders of asr/models/.
#
# A call sends the checkout's tracked files and its untracked files that git does not ignore, at most 64 MiB;
# asr/models/ alone is over that and the GPU machine never reads it (train_torch.py imports asr.audio.load,
# asr.config and asr.training.batching). `on` takes the model folders of asr/models/ out of the index (the files
# stay on disk) and ignores them in .git/info/exclude, so they are neither tracked nor untracked-and-visible; a
# pre-commit hook refuses commits meanwhile, so their removal cannot be committed by mistake. `off` puts the
# index and the exclude file back and removes the hook. `size` prints the bytes a call would send without its
# carried paths.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
GIT_DIR=$(git rev-parse --git-dir)
EXCLUDE=$GIT_DIR/info/exclude
HOOK=$GIT_DIR/hooks/pre-commit
MARK="# lease_tree.sh: asr/models/ is out of the index for a GPU lease"
LINE='/asr/models/*/'  # the model folders; asr/models/__init__.py stays

size() {
  { git ls-files -z; git ls-files -z --others --exclude-standard; } |
    xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {printf "%d bytes (%.1f MiB) would be sent\n", s, s / 1048576}'
}

case "${1:-}" in
  on)
    if grep -qxF "$MARK" "$EXCLUDE" 2>/dev/null; then echo "already on"; size; exit 0; fi
    git diff --cached --quiet -- asr/models || { echo "lease_tree.sh: asr/models/ has staged changes" >&2; exit 1; }
    mkdir -p "$(dirname "$EXCLUDE")" "$(dirname "$HOOK")"
    [ -e "$HOOK" ] && { echo "lease_tree.sh: $HOOK exists; not replacing it" >&2; exit 1; }
    printf '%s\n%s\n' "$MARK" "$LINE" >> "$EXCLUDE"
    git ls-files -z -- 'asr/models/*/*' | xargs -0 git rm -q --cached --
    printf '#!/bin/sh\necho "commit refused: asr/models/ is out of the index for a GPU lease; run %s off first" >&2\nexit 1\n' \
      "recipes/mini_librispeech/gpu/lease_tree.sh" > "$HOOK"
    chmod +x "$HOOK"
    echo "on: asr/models/ left out of what a call sends (run '$0 off' after the lease)"
    size
    ;;
  off)
    git reset -q -- 'asr/models/*/*'
    if [ -f "$EXCLUDE" ]; then  # the mark and the line after it
      awk -v mark="$MARK" '$0 == mark {skip = 1; next} skip {skip = 0; next} {print}' "$EXCLUDE" > "$EXCLUDE.tmp"
      mv "$EXCLUDE.tmp" "$EXCLUDE"
    fi
    if [ -f "$HOOK" ] && grep -q "lease_tree.sh off" "$HOOK"; then rm "$HOOK"; fi
    echo "off: asr/models/ tracked again"
    size
    ;;
  size) size ;;
  *) echo "usage: $0 on | off | size" >&2; exit 2 ;;
esac
