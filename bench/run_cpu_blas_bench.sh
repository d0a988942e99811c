#!/usr/bin/env bash
# What the BLAS library costs the `lightreasoner` driver on the CPU, in one
# run: the same binary with Debian's reference BLAS and with OpenBLAS (the
# OpenMP build), each chosen by LD_LIBRARY_PATH (the folder that holds its
# libblas.so.3), each on 1 thread and on all of them (OMP_NUM_THREADS):
#   training updates/s  `lightreasoner train` on configs/tiny.toml (the tiny random
#                       models of the smoke run), LR_BENCH_UPDATES updates, timed by
#                       RUN/stage_seconds.json (the train stage, model loading included)
#   generated tokens/s  `lightreasoner generate --ids --greedy` on a random Qwen2
#                       checkpoint of the shape below (wall clock, loading included)
# It checks that each setting really loaded the BLAS it names (the driver's
# `--version` line) and that the generated ids are identical across BLAS, and
# writes bench/results/<date>-cpu-blas-<commit>/: README.md (the table) and
# raw/ (every command's output).
#
#   bench/run_cpu_blas_bench.sh
#
# Environment: LR_BENCH_DRIVER (default build/release/adapters/libtorch/driver/cli/lightreasoner,
# built first unless LR_BENCH_SKIP_BUILD=1); LR_BENCH_UPDATES (default 200).
# Exits 1 when a BLAS is missing, a setting loaded another BLAS, or the ids differ.
set -euo pipefail

script=run_cpu_blas_bench.sh
source "$(dirname "$0")/driver_binary.sh"
config=adapters/libtorch/driver/configs/tiny.toml
updates=${LR_BENCH_UPDATES:-200}
# The generation model: Qwen2-shaped, about 60 M parameters (a quarter of
# Qwen2.5-0.5B's width); 4 prompts, 64 new tokens each.
shape=(--layers 8 --hidden 512 --heads 8 --kv-heads 2 --intermediate 2048 --vocab 32000)
new_tokens=64

multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
declare -A blas_dir=([reference]=/usr/lib/$multiarch/blas [openblas]=/usr/lib/$multiarch/openblas-openmp)
declare -A blas_expect=([reference]="BLAS: reference BLAS (netlib)" [openblas]="BLAS: OpenBLAS (openmp)")
for b in reference openblas; do
  [ -e "${blas_dir[$b]}/libblas.so.3" ] ||
    { echo "run_cpu_blas_bench.sh: ${blas_dir[$b]}/libblas.so.3 is absent (apt-get install libblas3 libopenblas0-openmp)" >&2; exit 1; }
done
all=$(nproc)
thread_counts=(1)
[ "$all" -gt 1 ] && thread_counts+=("$all")

commit=$(git rev-parse --short HEAD)
out="bench/results/$(date -u +%Y-%m-%d)-cpu-blas-$commit"
rm -rf "$out"
mkdir -p "$out/raw"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
busy=$(awk -v n="$all" '{print ($1 > 0.5 * n) ? "yes" : "no"}' /proc/loadavg)

# with BLAS THREADS CMD...: CMD with that BLAS and thread count.
with() {
  local b=$1 t=$2
  shift 2
  LD_LIBRARY_PATH=${blas_dir[$b]} OMP_NUM_THREADS=$t "$@"
}

# The shared inputs, made once: the tiny models and stage 1's supervision, the generation checkpoint.
echo "== setup: tiny models, supervision, the generation model" >&2
"$bin" sample --config "$config" --set "run.out_dir=\"$work/setup\"" > "$out/raw/setup-sample.txt" 2>&1
"$bin" make-tiny-model --out "$work/gen-model" "${shape[@]}" --vocab-from "$work/setup/models/tiny-tokenizer" \
  --seed 1 > "$out/raw/setup-make-tiny-model.txt" 2>&1
printf '%s\n' '"Natalia sold clips to 48 of her friends in April."' '"What is 12 times 7? Answer:"' \
  '"The quick brown fox jumps over the lazy dog, then"' '"Question: Tom has 3 apples and buys 5 more."' \
  > "$work/prompts.jsonl"

status=0
printf 'blas\tthreads\tline\ttrain_s\tgen_s\tgen_tokens\n' > "$work/results.tsv"
for b in reference openblas; do
  for t in "${thread_counts[@]}"; do
    tag="$b-$t"
    echo "== $tag" >&2
    line=$(with "$b" "$t" "$bin" --version | grep '^BLAS: ')
    echo "$line" > "$out/raw/$tag-version.txt"
    if [[ "$line" != "${blas_expect[$b]}"* ]]; then
      echo "run_cpu_blas_bench.sh: $tag loaded another BLAS: $line" >&2
      status=1
    fi
    run_dir="$work/train-$tag"
    cp -a "$work/setup" "$run_dir"
    rm -f "$run_dir/stage_seconds.json"
    with "$b" "$t" "$bin" train --config "$config" --set "run.out_dir=\"$run_dir\"" --set "train.updates=$updates" \
      --set "train.checkpoint_every=$updates" > "$out/raw/$tag-train.txt" 2>&1
    train_s=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["train"])' "$run_dir/stage_seconds.json")
    start=$(date +%s.%N)
    with "$b" "$t" "$bin" generate --model "$work/gen-model" --ids --greedy --max-new-tokens "$new_tokens" \
      < "$work/prompts.jsonl" > "$out/raw/$tag-generate.jsonl" 2> "$out/raw/$tag-generate.txt"
    gen_s=$(python3 -c 'import sys; print(float(sys.argv[2]) - float(sys.argv[1]))' "$start" "$(date +%s.%N)")
    tokens=$(python3 -c 'import json,sys; print(sum(len(json.loads(l)) for l in open(sys.argv[1])))' \
      "$out/raw/$tag-generate.jsonl")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$t" "$line" "$train_s" "$gen_s" "$tokens" >> "$work/results.tsv"
  done
done
cp "$work/results.tsv" "$out/raw/results.tsv"
# The raw outputs name the scratch folder and the checkout: write them as $WORK and
# relative paths (no machine paths in the results).
sed -i -e "s#$work#\$WORK#g" -e "s#$root/##g" "$out"/raw/*.txt

same_ids=yes
for t in "${thread_counts[@]}"; do
  cmp -s "$out/raw/reference-$t-generate.jsonl" "$out/raw/openblas-$t-generate.jsonl" || same_ids=no
done
[ "$same_ids" = yes ] || { echo "run_cpu_blas_bench.sh: the generated ids differ between the BLAS" >&2; status=1; }

table=$(python3 - "$work/results.tsv" "$updates" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
updates = int(sys.argv[2])
ref = {r["threads"]: r for r in rows if r["blas"] == "reference"}
print("| BLAS | threads | train updates/s | speed-up | generated tokens/s | speed-up |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
for r in rows:
    upd = updates / float(r["train_s"])
    tok = int(r["gen_tokens"]) / float(r["gen_s"])
    base = ref[r["threads"]]
    upd0 = updates / float(base["train_s"])
    tok0 = int(base["gen_tokens"]) / float(base["gen_s"])
    name = "reference (netlib)" if r["blas"] == "reference" else "OpenBLAS (openmp)"
    print("| %s | %s | %.1f | %.2fx | %.1f | %.2fx |" % (name, r["threads"], upd, upd / upd0, tok, tok / tok0))
PY
)

{
  echo "# CPU benchmark: the driver with the reference BLAS and with OpenBLAS"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- git commit: $(git rev-parse HEAD)"
  echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) ($all logical CPUs, nproc)"
  echo "- load average at start: $load_start; at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ "$busy" = yes ]; then
    echo "- the machine was busy at the start (load above nproc/2): the runs on all $all threads compete"
    echo "  with that load for the CPUs (OpenMP threads then wait on each other); their figures show contention"
  fi
  echo "- the same binary; each BLAS chosen by LD_LIBRARY_PATH=<its folder>, threads by OMP_NUM_THREADS"
  echo "- training: \`lightreasoner train\` on configs/tiny.toml (expert: 2 layers, hidden 64; LoRA r 8;"
  echo "  batch 4), $updates updates, the train stage's seconds in RUN/stage_seconds.json (loading included)"
  echo "- generation: \`lightreasoner generate --ids --greedy --max-new-tokens $new_tokens\`, 4 prompts, on a random"
  echo "  Qwen2 checkpoint (make-tiny-model ${shape[*]}), wall clock with loading"
  echo "- generated ids identical across BLAS (per thread count): $same_ids"
  echo
  echo "$table"
  echo
  echo "Speed-up: against the reference BLAS at the same thread count. The driver's"
  echo "BLAS line for each setting:"
  echo
  echo '```text'
  cut -f1-3 "$work/results.tsv" | tail -n +2
  echo '```'
  echo
  echo "raw/: results.tsv (seconds and token counts), each command's output and the generated ids."
} > "$out/README.md"
echo "wrote $out/README.md" >&2
echo "$table"
exit "$status"
