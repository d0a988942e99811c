#!/usr/bin/env bash
# Builds and runs lr_bench_shard_cpu (the vocabulary-sharded calls against the
# unsharded ones at the same total width, 1, 2 and 4 shards in one process),
# then records bench/results/<date>-shard-cpu-<shorthash>.md (+ the JSON
# beside it) and prints the table.
#
#   bench/run_shard_bench.sh [extra lr_bench_shard_cpu flags, e.g. --lr_rows=64]
#
# Environment as bench/run_cpu_bench.sh: OMP_NUM_THREADS (default nproc),
# LR_BENCH_BUILD_DIR (default build/bench), LR_BENCH_SKIP_BUILD=1,
# LR_BENCH_QUIET_WAIT_S (default 180).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build_dir=${LR_BENCH_BUILD_DIR:-build/bench}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}

if [ "${LR_BENCH_SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/install_deps.sh --bench
  cmake --preset bench
  cmake --build "$build_dir" --target lr_bench_shard_cpu -j "$(( $(nproc) < 2 ? 1 : 2 ))"
fi
bin="$build_dir/bench/lr_bench_shard_cpu"
[ -x "$bin" ] || { echo "run_shard_bench.sh: $bin not built" >&2; exit 1; }

commit=$(git rev-parse --short HEAD 2>/dev/null || echo uncommitted)
full_commit=$(git rev-parse HEAD 2>/dev/null || echo "none (no commit yet)")
dirty=""
[ -n "$(git status --porcelain -- capi core bench CMakeLists.txt 2>/dev/null)" ] &&
  dirty=" (working tree differs from it in capi/, core/, bench/ or CMakeLists.txt)"
cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
. "$root/bench/wait_for_quiet.sh"
wait_for_quiet run_shard_bench.sh
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)

mkdir -p bench/results
out_md="bench/results/$(date -u +%Y-%m-%d)-shard-cpu-${commit}.md"
out_json="${out_md%.md}.json"
console=$(mktemp)
trap 'rm -f "$console"' EXIT
flags=(--benchmark_repetitions=3 --benchmark_report_aggregates_only=true --benchmark_min_time=1
       --benchmark_out="$out_json" --benchmark_out_format=json "$@")
set +e
"$bin" "${flags[@]}" 2>&1 | tee "$console"
rc=${PIPESTATUS[0]}
set -e

table=$(python3 - "$out_json" "$rc" <<'PY'
import json, sys
path, rc = sys.argv[1], int(sys.argv[2])
try:
    runs = json.load(open(path))["benchmarks"]
except (OSError, ValueError, KeyError):
    print("(no results: lr_bench_shard_cpu exited with status %d)" % rc)
    sys.exit(0)
to_ms = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
med = {}  # (op, dtype, impl) -> (ms, gathered bytes per row)
for b in runs:
    if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
        continue
    op, dtype, impl = b["run_name"].split("/")[:3]
    med[(op, dtype, impl)] = (b["real_time"] * to_ms[b["time_unit"]], b.get("gathered_B_per_row", 0))
keys = []
for op, dtype, _ in med:
    if (op, dtype) not in keys:
        keys.append((op, dtype))
shards = sorted({int(i.split(":")[1]) for (_, _, i) in med if i.startswith("shards:")})
head = "| op | dtype | unsharded ms | " + " | ".join("W=%d ms (x unsharded)" % w for w in shards)
head += " | " + " | ".join("W=%d gathered B/row" % w for w in shards) + " |"
print(head)
print("|" + " --- |" * 2 + " ---: |" * (1 + 2 * len(shards)))
for op, dtype in keys:
    base = med.get((op, dtype, "unsharded"))
    if not base:
        continue
    cells = ["%.2f" % base[0]]
    for w in shards:
        s = med.get((op, dtype, "shards:%d" % w))
        cells.append("%.2f (%.2fx)" % (s[0], s[0] / base[0]) if s else "-")
    for w in shards:
        s = med.get((op, dtype, "shards:%d" % w))
        cells.append("%d" % s[1] if s else "-")
    print("| %s | %s | %s |" % (op, dtype, " | ".join(cells)))
PY
)

{
  echo "# Vocabulary-sharded calls vs unsharded (CPU, one process)"
  echo
  echo "- date: $stamp"
  echo "- git commit: $full_commit$dirty"
  echo "- CPU: $cpu ($(nproc) logical CPUs), OMP_NUM_THREADS=$OMP_NUM_THREADS"
  echo "- load average at start: $load; at end: $(cut -d' ' -f1-3 /proc/loadavg)$([ "$busy" = yes ] && echo ' (busy at start: timings noisy)')"
  echo "- command: $bin ${flags[*]}"
  echo "- exit status: $rc"
  echo
  echo "W shards: every shard's partial call, the simulated all-gather (a copy of the"
  echo "records) and the finish once per shard, as each rank runs it: the work of all"
  echo "ranks together, so W=1 is the sharded path's own overhead and a rank's share"
  echo "is about 1/W of the W column. targets: the candidates round alone, from the"
  echo "select round's gathered stats; stage1: both rounds (two gathers) against"
  echo "lr_select_and_build, which reads each row pair once for both."
  echo "Gathered B/row: what the all-gather hands each rank per row (W records)."
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
