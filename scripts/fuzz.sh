#!/usr/bin/env bash
# Builds the fuzz preset (clang, libFuzzer, ASan, UBSan) and fuzzes each
# target of fuzz/ in turn, on a copy of its corpus (fuzz/corpus/<target>/,
# with fuzz/regressions/<target>/ as a second seed folder).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   each target for SECONDS (default 60)
#   scripts/fuzz.sh --ci [TARGET...]        CI: a fixed seed and a fixed number of
#                                           runs per target (no clock), then stop
#
# Prints one line per target: executions, edges covered (cov), corpus size,
# peak RSS and the finding, if any. A finding (crash, leak, timeout, RSS over
# the limit, sanitizer report) is written to build/fuzz/findings/<target>/
# and the script exits 1. Each target's libFuzzer output is kept in
# build/fuzz/logs/<target>.log, the grown corpora in build/fuzz/work/<target>/
# (copy what is worth keeping into fuzz/corpus/).
set -euo pipefail
cd "$(dirname "$0")/.."

# The bounds of every run (README, "Fuzzing"). A target's inputs are at most
# MAX_LEN bytes, or its largest seed's size when larger (a seed is never cut).
readonly RSS_LIMIT_MB=2048   # -rss_limit_mb: a reader that allocates more is a finding
readonly TIMEOUT_S=10        # -timeout: one input taking longer is a finding (a hang)
readonly MAX_LEN=4096        # -max_len
readonly CI_RUNS=1500        # --ci: inputs per target after its seeds, seed 1
readonly CI_MAX_S=60         # --ci: a stop for a target whose runs take far longer than measured

ci=0
seconds=60
if [[ "${1:-}" == "--ci" ]]; then
  ci=1
  shift
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)"

bin=build/fuzz/fuzz
all_targets=$(cd "$bin" && ls fuzz_* | sed 's/^fuzz_//' | sort)
targets=${*:-$all_targets}

# One thread for the library's OpenMP loops: reproducible and no thread pool per input.
export OMP_NUM_THREADS=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1

status=0
printf '%-20s %10s %8s %8s %8s  %s\n' target executions cov corpus rss_mb finding
for t in $targets; do
  work=build/fuzz/work/$t
  findings=build/fuzz/findings/$t
  rm -rf "$work" "$findings"
  mkdir -p "$work" "$findings" build/fuzz/logs
  cp -r fuzz/corpus/"$t"/. "$work"/
  seeds=("$work")
  [[ -d fuzz/regressions/$t ]] && seeds+=(fuzz/regressions/"$t")
  if ((ci)); then
    budget=(-seed=1 -runs="$CI_RUNS" -max_total_time="$CI_MAX_S")
  else
    budget=(-max_total_time="$seconds")
  fi
  largest=$(find "${seeds[@]}" -type f -printf '%s\n' | sort -n | tail -1)
  max_len=$((largest > MAX_LEN ? largest : MAX_LEN))
  log=build/fuzz/logs/$t.log
  rc=0
  "$bin/fuzz_$t" "${budget[@]}" -rss_limit_mb="$RSS_LIMIT_MB" -timeout="$TIMEOUT_S" -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="$findings/" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(find "$work" -type f | wc -l)
  finding=none
  if ((rc != 0)); then
    artifact=$(ls "$findings" | head -1 || true)
    cp "$log" "$findings/"
    finding="exit $rc: ${artifact:-no artifact} ($(grep -m1 -o 'ERROR: [A-Za-z]*: [a-z -]*\|runtime error: .*\|terminate called .*' "$log" | head -c 120))"
    status=1
  else
    rm -rf "$findings"
  fi
  printf '%-20s %10s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "$corpus" "${rss:-?}" "$finding"
done
if ((status)); then
  echo "fuzz: findings in build/fuzz/findings/ (each folder: the input and the target's log)" >&2
fi
exit $status
