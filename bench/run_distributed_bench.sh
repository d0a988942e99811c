#!/usr/bin/env bash
# The driver on torch.distributed, on this machine's CPU cores (Gloo on
# loopback), world size 1 against 2, one thread per rank (OMP_NUM_THREADS=1),
# in one run:
#   sample   problems/s of `lightreasoner sample` (the stage's time from
#            RUN/stage_seconds.json, merge included; and the command's wall clock,
#            model loading and rendezvous included)
#   train    updates/s of `lightreasoner train` on the supervision file sample
#            wrote (same file for both), and the all-reduce's share of the
#            train stage (its "all-reduce" line in RUN/logs/train.log); and
#            one process again with the micro-batch in one pass
#            (train.samples_per_pass = 8) instead of the default passes of one
#            sample, the speed that exactness across world sizes costs
# on configs/tiny.toml with tiny random models of the shape below (bigger than
# the smoke run's, so that compute is not all overhead). It checks that the
# sharded run's supervision file is byte-identical to the one-process run's and
# that both adapters agree, and writes bench/results/<date>-distributed-<commit>/:
# README.md (the table) and raw/ (every command's output).
#
#   bench/run_distributed_bench.sh
#
# Environment: LR_BENCH_DRIVER (default build/release/adapters/libtorch/driver/cli/lightreasoner,
# built first unless LR_BENCH_SKIP_BUILD=1); LR_BENCH_PROBLEMS (default 32), LR_BENCH_UPDATES (default 40).
set -euo pipefail

script=run_distributed_bench.sh
source "$(dirname "$0")/driver_binary.sh"
problems=${LR_BENCH_PROBLEMS:-32}
updates=${LR_BENCH_UPDATES:-40}
config=adapters/libtorch/driver/configs/tiny.toml
shape=(--set models.tiny.expert_layers=4 --set models.tiny.expert_hidden=256
       --set models.tiny.amateur_layers=2 --set models.tiny.amateur_hidden=128)

commit=$(git rev-parse --short HEAD)
out="bench/results/$(date -u +%Y-%m-%d)-distributed-$commit"
rm -rf "$out"
mkdir -p "$out/raw"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
cores=$(nproc --all)
export OMP_NUM_THREADS=1

# The tiny models once, shared by every measured run.
"$bin" sample --config "$config" "${shape[@]}" --set run.out_dir="$work/prep" --set data.num_problems=1 \
  >"$out/raw/prep.txt" 2>&1
models=(--set models.make_tiny=false --set models.expert="$work/prep/models/tiny-expert"
        --set models.amateur="$work/prep/models/tiny-amateur")
common=("${shape[@]}" "${models[@]}" --set data.num_problems="$problems" --set sample.batch_size=4
        --set sample.max_new_tokens=48 --set train.updates="$updates" --set train.batch_size=8
        --set train.checkpoint_every=0)

# timed NAME CMD...: runs CMD, its output in raw/NAME.txt, its wall seconds on stdout.
timed() {
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$out/raw/$name.txt" 2>&1 || { echo "run_distributed_bench.sh: $name failed (raw/$name.txt)" >&2; exit 1; }
  t1=$(date +%s.%N)
  python3 -c "print($t1 - $t0)"
}
stage_seconds() {  # RUN STAGE
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1/stage_seconds.json" "$2"
}
last_loss() {  # RUN: the last update's loss in RUN/train_metrics.jsonl
  python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["loss"])' "$1/train_metrics.jsonl"
}
allreduce_share() {  # RUN: the train stage's all-reduce line, or "-" on one process
  grep -ho "all-reduce [0-9.]* s of [0-9.]* s ([0-9.]*%)" "$1/logs/train.log" | tail -1 || echo "-"
}

declare -A wall_s wall_t
for w in 1 2; do
  run=$work/w$w
  if [ "$w" = 1 ]; then launch=(); else launch=(launch --nproc "$w" --); fi
  wall_s[$w]=$(timed "sample-w$w" "$bin" "${launch[@]}" sample --config "$config" "${common[@]}" --set run.out_dir="$run")
  wall_t[$w]=$(timed "train-w$w" "$bin" "${launch[@]}" train --config "$config" "${common[@]}" --set run.out_dir="$run")
  cp "$run/logs/train.log" "$out/raw/train-w$w.log"
  cp "$run/stage_seconds.json" "$out/raw/stage_seconds-w$w.json"
done

# One process, each micro-batch in one pass, on world size 1's supervision.
batched=$work/w1-batched
cp -r "$work/w1" "$batched"
rm -rf "$batched/train" "$batched/adapter" "$batched/train_metrics.jsonl" "$batched/stage_seconds.json"
wall_batched=$(timed "train-w1-batched" "$bin" train --config "$config" "${common[@]}" --set run.out_dir="$batched" \
  --set train.samples_per_pass=8)

same_supervision=no
cmp -s "$work/w1/supervision.jsonl" "$work/w2/supervision.jsonl" && same_supervision=yes
adapter_diff=$(/usr/bin/python3 - "$work/w1/adapter/adapter_model.safetensors" "$work/w2/adapter/adapter_model.safetensors" <<'PY'
import json, struct, sys
import numpy as np
def read(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    out = {}
    for k, v in h.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=np.float32)
    return out
a, b = read(sys.argv[1]), read(sys.argv[2])
worst = max(float(np.max(np.abs(a[k] - b[k])) / max(1e-30, float(np.max(np.abs(a[k]))))) for k in a)
whole = float(np.sqrt(sum(float(np.sum((a[k].astype(np.float64) - b[k]) ** 2)) for k in a)) /
              np.sqrt(sum(float(np.sum(a[k].astype(np.float64) ** 2)) for k in a)))
print("%.2e per tensor at worst, %.2e over all of them (Frobenius)" % (worst, whole))
PY
)

{
  echo "# The driver on torch.distributed: world size 1 vs 2 on the CPU"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ), commit $commit, $cores cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
  echo "- backend Gloo on loopback, OMP_NUM_THREADS=1 per rank; load average at the start: $load_start"
  echo "- configs/tiny.toml, tiny random models: expert 4 x 256, amateur 2 x 128; $problems problems, sample.batch_size 4,"
  echo "  48 new tokens; $updates updates of 8 samples"
  echo "- the sharded run's supervision.jsonl identical to the one-process run's: **$same_supervision**;"
  echo "  the adapters' relative difference, world size 2 vs 1 (max |a-b| / max |a|): $adapter_diff;"
  echo "  last logged losses: $(last_loss "$work/w1") (1 rank), $(last_loss "$work/w2") (2 ranks)"
  echo
  echo "| world size, samples per pass | sample stage s | problems/s | sample wall s | train stage s | updates/s | train wall s | all-reduce share |"
  echo "|---|---|---|---|---|---|---|---|"
  for w in 1 2; do
    ss=$(stage_seconds "$work/w$w" sample); ts=$(stage_seconds "$work/w$w" train)
    printf "| %d, 1 | %.1f | %.2f | %.1f | %.1f | %.2f | %.1f | %s |\n" "$w" "$ss" "$(python3 -c "print($problems / $ss)")" \
      "${wall_s[$w]}" "$ts" "$(python3 -c "print($updates / $ts)")" "${wall_t[$w]}" "$(allreduce_share "$work/w$w")"
  done
  tb=$(stage_seconds "$batched" train)
  printf "| 1, 8 | | | | %.1f | %.2f | %.1f | - |\n" "$tb" "$(python3 -c "print($updates / $tb)")" "$wall_batched"
  echo
  echo "Stage times come from RUN/stage_seconds.json (rank 0's, merge included); wall times are the whole"
  echo "command's (process start, model loading, rendezvous). Raw output in raw/."
} >"$out/README.md"
cat "$out/README.md"
[ "$same_supervision" = yes ] || { echo "run_distributed_bench.sh: the supervision files differ" >&2; exit 1; }
