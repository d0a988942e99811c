#!/usr/bin/env bash
# Build time with and without the precompiled LibTorch header
# (cmake/TorchPrecompiledHeader.cmake): the same targets built from scratch
# in two fresh Release build folders, LR_PRECOMPILE_TORCH=OFF then ON, no
# ccache, in the same run. Records
# bench/results/<date>-build-time-<shorthash>.md with each build's wall time
# and its slowest units (from ninja's log), and prints the summary.
#
#   bench/run_build_time_bench.sh [TARGET...]   (default: lr_train lr_sample lr_diagnose
#                                               and what they need: the library, lr_torch, lr_qwen2, ...)
#
# Environment: LR_BUILD_BENCH_DIR (default build/build-time) holds the two
# build folders; LR_BUILD_BENCH_JOBS (default nproc) the parallel jobs;
# LR_BENCH_QUIET_WAIT_S (default 180) waits that long at most for the load
# average to fall below nproc/4 before timing; LR_BUILD_BENCH_REPORT_ONLY=1
# writes the report from the two folders' logs without building again.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
source bench/wait_for_quiet.sh
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(lr_train lr_sample lr_diagnose)
work=${LR_BUILD_BENCH_DIR:-build/build-time}
jobs=${LR_BUILD_BENCH_JOBS:-$(nproc)}

# A build from scratch of the targets; its timings are read back from ninja's log.
build_once() {
  local pch=$1 dir=$work/pch-$1
  rm -rf "$dir"
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLR_BUILD_TESTS=ON \
    -DLR_PRECOMPILE_TORCH="$pch" -DCMAKE_CXX_COMPILER_LAUNCHER= -DCMAKE_C_COMPILER_LAUNCHER= >/dev/null
  CCACHE_DISABLE=1 cmake --build "$dir" -j "$jobs" --target "${targets[@]}" >"$dir/build.log" 2>&1 ||
    { tail -20 "$dir/build.log" >&2; exit 1; }
}

# Each step's seconds (end - start in .ninja_log), slowest first.
units_table() {
  awk -F'\t' 'NR > 1 { t[$4] = ($2 - $1) / 1000 } END { for (u in t) printf "%.1f\t%s\n", t[u], u }' \
    "$work/pch-$1/.ninja_log" | sort -rn
}

# The build's wall seconds: from its first step's start to its last step's end.
wall_seconds() {
  awk -F'\t' 'NR > 1 { if (min == "" || $1 < min) min = $1; if ($2 > max) max = $2 }
    END { printf "%.1f\n", (max - min) / 1000 }' "$work/pch-$1/.ninja_log"
}

wait_for_quiet build-time
if [ "${LR_BUILD_BENCH_REPORT_ONLY:-0}" != 1 ]; then
  build_once OFF
  build_once ON
fi
off_s=$(wall_seconds OFF)
on_s=$(wall_seconds ON)

commit=$(git rev-parse --short HEAD)
dirty=$([ -n "$(git status --porcelain -- cmake CMakeLists.txt adapters tests)" ] && echo " (uncommitted changes)" || true)
out=bench/results/$(date +%Y-%m-%d)-build-time-$commit.md
{
  echo "# Build time with and without the precompiled LibTorch header"
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit $(git rev-parse HEAD)$dirty"
  echo "- machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(c++ --version | head -1)"
  echo "- load average at start: $load (busy: $busy); jobs: $jobs; no ccache; Release"
  echo "- targets, from scratch: ${targets[*]}"
  echo
  echo "| LR_PRECOMPILE_TORCH | wall s | units | sum of unit s |"
  echo "|---|---:|---:|---:|"
  for pch in OFF ON; do
    s=$([ $pch = OFF ] && echo "$off_s" || echo "$on_s")
    units_table $pch | awk -v p=$pch -v s="$s" '{ n++; sum += $1 } END { printf "| %s | %s | %d | %.1f |\n", p, s, n, sum }'
  done
  awk -v a="$off_s" -v b="$on_s" 'BEGIN { printf "\nON / OFF wall time: %.2f\n", b / a }'
  for pch in OFF ON; do
    echo
    echo "Slowest steps, LR_PRECOMPILE_TORCH=$pch (seconds, output):"
    echo
    echo '```'
    units_table $pch | sed -n 1,25p
    echo '```'
  done
} >"$out"
cat "$out"
echo "written: $out" >&2
