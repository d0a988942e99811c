#!/usr/bin/env bash
# Builds and runs lr_bench_cpu (our CPU kernels vs the LibTorch composites),
# then records bench/results/<date>-cpu-<shorthash>.md (+ the JSON beside it)
# and prints the torch_time / ours_time table.
#
#   bench/run_cpu_bench.sh [extra lr_bench_cpu flags, e.g. --benchmark_filter=select]
#
# Environment: OMP_NUM_THREADS (default: nproc) sets the threads of both
# sides; LR_BENCH_BUILD_DIR (default build/bench, the "bench" preset's
# binaryDir); LR_BENCH_SKIP_BUILD=1 runs an existing binary;
# LR_BENCH_QUIET_WAIT_S (default 180) waits that long at most for the load
# average to fall below nproc/4 before timing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build_dir=${LR_BENCH_BUILD_DIR:-build/bench}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
threads=$OMP_NUM_THREADS

if [ "${LR_BENCH_SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/install_deps.sh --bench
  cmake --preset bench
  cmake --build "$build_dir" --target lr_bench_cpu -j "$(( $(nproc) < 2 ? 1 : 2 ))"
fi
bin="$build_dir/bench/lr_bench_cpu"
[ -x "$bin" ] || { echo "run_cpu_bench.sh: $bin not built" >&2; exit 1; }

date_utc=$(date -u +%Y-%m-%d)
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo uncommitted)
full_commit=$(git rev-parse HEAD 2>/dev/null || echo "none (no commit yet)")
dirty=""
if [ -n "$(git status --porcelain -- capi core bench CMakeLists.txt 2>/dev/null)" ]; then
  dirty=" (working tree differs from it in capi/, core/, bench/ or CMakeLists.txt)"
fi
cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
cpu_fm=$(lscpu | awk -F: '/^CPU family/{gsub(/ /,"",$2);f=$2} /^Model:/{gsub(/ /,"",$2);m=$2} END{print "family " f ", model " m}')
grep -qw avx512f /proc/cpuinfo && cpu_fm="$cpu_fm, AVX-512" || cpu_fm="$cpu_fm, no AVX-512"

# Let the load of the build (or anything else) settle first, for up to
# LR_BENCH_QUIET_WAIT_S seconds (default 180).
. "$root/bench/wait_for_quiet.sh"
wait_for_quiet run_cpu_bench.sh

mkdir -p bench/results
out_md="bench/results/${date_utc}-cpu-${commit}.md"
out_json="bench/results/${date_utc}-cpu-${commit}.json"
console=$(mktemp)
trap 'rm -f "$console"' EXIT

set +e
"$bin" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true --benchmark_min_time=2 \
  --benchmark_out="$out_json" --benchmark_out_format=json "$@" 2>&1 | tee "$console"
rc=${PIPESTATUS[0]}
set -e

table=$(python3 - "$out_json" "$rc" <<'PY'
import json, sys
path, rc = sys.argv[1], int(sys.argv[2])
try:
    runs = json.load(open(path))["benchmarks"]
except (OSError, ValueError, KeyError):
    print("(no results: lr_bench_cpu exited with status %d)" % rc)
    sys.exit(0)
# name = "<op>/<dtype>/<impl>/real_time"; keep the medians of the repetitions.
med = {}
for b in runs:
    if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
        continue
    parts = b["run_name"].split("/")
    op, dtype, impl = parts[0], parts[1], parts[2]
    med[(op, dtype, impl)] = b
ops = []
for (op, dtype, _) in med:
    if (op, dtype) not in ops:
        ops.append((op, dtype))
print("| op | dtype | lightreasoner ms | torch ms | torch / ours | ours GB/s | ours extra peak MiB | torch extra peak MiB |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for op, dtype in ops:
    ours, torch = med.get((op, dtype, "lightreasoner")), med.get((op, dtype, "torch"))
    if not ours or not torch:
        continue
    to_ms = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
    o = ours["real_time"] * to_ms[ours["time_unit"]]
    t = torch["real_time"] * to_ms[torch["time_unit"]]
    print("| %s | %s | %.2f | %.2f | **%.2fx** | %.2f | %.2f | %.1f |" % (
        op, dtype, o, t, t / o, ours.get("bytes_per_second", 0) / 1e9,
        ours.get("extra_peak_MiB", float("nan")), torch.get("extra_peak_MiB", float("nan"))))
PY
)

{
  echo "# CPU benchmark: lightreasoner vs LibTorch composites"
  echo
  echo "- date: $stamp"
  echo "- git commit: $full_commit$dirty"
  echo "- CPU: $cpu ($cpu_fm; $(nproc) logical CPUs)"
  echo "- threads: OMP_NUM_THREADS=$threads for lightreasoner, torch::set_num_threads($threads)"
  echo "- load average at start: $load; at end: $(cut -d' ' -f1-3 /proc/loadavg)$([ "$busy" = yes ] && echo ' (busy at start: timings noisy)')"
  echo "- command: $bin --benchmark_repetitions=3 --benchmark_report_aggregates_only=true --benchmark_min_time=2 $*"
  echo "- exit status: $rc"
  echo
  echo "## torch_time / ours_time (medians of 3 repetitions)"
  echo
  echo "Bytes are the minimum each op must move (select/targets/fused read 2*N*V"
  echo "elements, the loss reads N*V and writes N*V). Extra peak: how far the resident"
  echo "set rose during one call (our outputs preallocated; torch's returned outputs count)."
  echo "Google Benchmark's \"Library was built as DEBUG\" line below is about Debian's"
  echo "libbenchmark package, not this project's code (built Release by the preset)."
  echo
  echo "$table"
  echo
  echo "## Console output"
  echo
  echo '```text'
  cat "$console"
  echo '```'
} > "$out_md"

echo
echo "wrote $out_md and $out_json"
echo
echo "$table"
exit "$rc"
