#!/usr/bin/env bash
# The GPU check, in one go on a machine with an NVIDIA GPU, nvcc and PyTorch:
#   1. configures against that machine's LibTorch (PyTorch's CMake prefix),
#      for sm_90 only, with ninja, and builds the library, the test suites
#      and the CUDA benchmark;
#   2. runs every CPU test case again on the GPU (LR_TEST_DEVICE=cuda), the
#      LibTorch adapter's tests and the Python binding's PyTorch tests (CUDA
#      tensors included), and a memcheck of a few suites under compute-sanitizer;
#   3. runs lr_bench_cuda (ours vs LibTorch CUDA composites, bf16,
#      N in {1024, 8192}, V = 151936), lr_bench_shard_cpu on the GPU (the
#      sharded calls against the unsharded ones, 1, 2 and 4 shards) and
#      writes a Markdown summary.
# The build has the experimental kernel forms compiled in
# (-DLR_CUDA_EXPERIMENTAL=ON, core/cuda/experimental/): the select/targets
# pass's lean form (LR_CUDA_SELECT_TARGETS_LEAN=1) and the loss's single-read
# cluster form (LR_CUDA_LOSS_CLUSTER=1) each get their own run of their
# suites, a memcheck, a racecheck, a benchmark beside the default and a
# profile; the cp.async select/targets form gets a run of its suites and a
# benchmark, the loss's rows-per-SM grid cap a benchmark.
# GPU_CHECK_PART=adapter builds and runs only the LibTorch adapter's suites;
# GPU_CHECK_PART=driver builds the driver and runs the whole experiment on tiny
# random models on the GPU, in float32 and bfloat16 (a second call, a few
# minutes, after the main check on the same machine reuses its build;
# GPU_CHECK_DRIVER_DEVICE=cpu runs it on the CPU, to try the script here).
# Results go to $OUT (default out/gpu_check): summary.md, bench_cuda.json,
# bench_cuda_lean.json, bench_cuda_cluster.json, tests.txt, sanitizer.txt, sanitizer_shard.txt, bench_shard_cuda.{txt,json}, build.log, steps.log, ncu.txt. Budget: under 8 minutes.
# Build dependencies the GPU image lacks (GoogleTest, Google Benchmark,
# DLPack) come from .gpu_deps/, staged here by scripts/stage_gpu_deps.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/out/gpu_check}
mkdir -p "$OUT"
DEPS=$PWD/.gpu_deps
BUILD=build/gpu
JOBS=$(nproc)
start=$(date +%s)
log() { echo "[$(( $(date +%s) - start ))s] $*" | tee -a "$OUT/steps.log"; }

log "machine"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  nvcc --version | tail -1
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
  cmake --version | head -1
  g++ --version | head -1
  if [ -f "$DEPS/COMMIT" ]; then echo "tree: commit $(paste -sd' ' "$DEPS/COMMIT")"; fi
} 2>&1 | tee -a "$OUT/steps.log"

TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
configure() {  # LR_BUILD_DRIVER=ON|OFF
  PKG_CONFIG_PATH="$DEPS/lib/x86_64-linux-gnu/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" \
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DLR_BUILD_DRIVER="$1" -DLR_BUILD_BENCH=ON -DLR_BUILD_TESTS=ON -DLR_CUDA_EXPERIMENTAL=ON \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$DEPS" -DDLPACK_INCLUDE_DIR="$DEPS/include" >>"$OUT/build.log" 2>&1
}

# The driver's smoke run on this GPU: `lightreasoner run` on configs/tiny.toml
# (tiny random Qwen2 models, every stage to the report) on the device in
# float32 and bfloat16; the run folders (less the models) go to $OUT/driver-*.
driver_smoke() {
  local device=${GPU_CHECK_DRIVER_DEVICE:-cuda} scratch=build/gpu-driver-runs
  log "driver: build lightreasoner against this machine's LibTorch"
  configure ON || { log "configure (driver) FAILED"; tail -20 "$OUT/build.log"; return 1; }
  cmake --build "$BUILD" -j "$JOBS" --target lightreasoner_driver >>"$OUT/build.log" 2>&1 \
    || { log "driver build FAILED"; grep -E "error|FAILED" "$OUT/build.log" | head -20 | tee -a "$OUT/steps.log"; return 1; }
  rm -rf "$scratch"
  for dtype in float32 bfloat16; do
    log "driver: lightreasoner run, tiny.toml, $device, $dtype"
    timeout 300 "$BUILD/adapters/libtorch/driver/cli/lightreasoner" run \
      --config adapters/libtorch/driver/configs/tiny.toml --set run.device="$device" --set run.dtype="$dtype" \
      --set run.out_dir="$scratch/tiny-$dtype" >"$OUT/driver-$dtype.txt" 2>&1
    echo "driver run ($device, $dtype) exit $?" | tee -a "$OUT/steps.log"
    if [ -d "$scratch/tiny-$dtype" ]; then
      cp -r "$scratch/tiny-$dtype" "$OUT/driver-$dtype" && rm -rf "$OUT/driver-$dtype/models"
      # paths relative to the tree, not that machine's
      find "$OUT/driver-$dtype" -type f \( -name '*.md' -o -name '*.toml' -o -name '*.json' -o -name '*.log' -o -name '*.gp' \) \
        -exec sed -i "s|$PWD/||g" {} +
      grep -E "^\|" "$OUT/driver-$dtype/report.md" 2>/dev/null | head -12 | tee -a "$OUT/steps.log"
    fi
  done
  driver_launched_smoke "$device" "$scratch"
}

# The same smoke run as a torch.distributed job of one rank (`lightreasoner
# launch --nproc 1`): NCCL on the GPU (Gloo with GPU_CHECK_DRIVER_DEVICE=cpu);
# its supervision file and eval results must equal the one-process float32 run's.
driver_launched_smoke() {
  local device=$1 scratch=$2 backend=nccl
  [ "$device" = cpu ] && backend=gloo
  log "driver: lightreasoner launch --nproc 1 -- run, tiny.toml, $device, float32, $backend"
  timeout 300 "$BUILD/adapters/libtorch/driver/cli/lightreasoner" launch --nproc 1 -- run \
    --config adapters/libtorch/driver/configs/tiny.toml --set run.device="$device" --set run.dtype=float32 \
    --set run.backend="$backend" --set run.out_dir="$scratch/tiny-launched" >"$OUT/driver-launched.txt" 2>&1
  echo "driver run through $backend (world size 1) exit $?" | tee -a "$OUT/steps.log"
  for f in supervision.jsonl eval/base/gsm8k.jsonl; do
    if cmp -s "$scratch/tiny-float32/$f" "$scratch/tiny-launched/$f"; then
      echo "launched ($backend) $f: identical to the one-process run" | tee -a "$OUT/steps.log"
    else
      echo "launched ($backend) $f: DIFFERS from the one-process run" | tee -a "$OUT/steps.log"
    fi
  done
}

log "configure (LibTorch at $TORCH_PREFIX)"
: >"$OUT/build.log"
configure OFF || { log "configure FAILED"; tail -40 "$OUT/build.log"; exit 1; }
if [ "${GPU_CHECK_PART:-all}" = driver ]; then  # the driver's smoke run alone
  driver_smoke
  exit 0
fi
# All targets in one ninja run that keeps going past a failure (-k 0), so
# that one broken target still leaves the others to run.
log "build"
targets="lightreasoner lr_tests lr_torch_tests lr_bench_cuda lr_bench_shard_cpu"
[ "${GPU_CHECK_PART:-all}" = adapter ] && targets="lightreasoner lr_torch_tests"
cmake --build "$BUILD" -j "$JOBS" --target $targets -- -k 0 \
  >>"$OUT/build.log" 2>&1 || { log "build had FAILURES"; grep -E "error|FAILED" "$OUT/build.log" | head -30 | tee -a "$OUT/steps.log"; }
grep -i "warning" "$OUT/build.log" | head -5 | tee -a "$OUT/steps.log"

if [ "${GPU_CHECK_PART:-all}" = adapter ]; then  # a short check of the LibTorch adapter alone
  log "LibTorch adapter suites only (GPU_CHECK_PART=adapter)"
  timeout 120 "$BUILD/tests/adapters/libtorch/lr_torch_tests" >"$OUT/tests.txt" 2>&1
  echo "lr_torch_tests exit $?" | tee -a "$OUT/steps.log"
  grep -E "^\[ +(OK|PASSED|FAILED|SKIPPED) " "$OUT/tests.txt" | tee -a "$OUT/steps.log"
  exit 0
fi

log "CUDA run of the library's suites"
LR_TEST_DEVICE=cuda timeout 240 "$BUILD/tests/lr_tests" --gtest_filter='-ArgumentFault*' \
  >"$OUT/tests.txt" 2>&1
echo "lr_tests (cuda) exit $?" | tee -a "$OUT/steps.log"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests ran" "$OUT/tests.txt" | tee -a "$OUT/steps.log"

# The vocabulary-sharded calls (ABI 1.1, core/cuda/shard_*.cu): their suites
# (every partition into 1 to 8 shards, against the brute force and the
# unsharded calls) ran above through the device shim; here their verdict on
# its own line, then a memcheck and a racecheck of the bf16 cases (new
# kernels: shared-memory candidate buffers, radix selection over the union).
log "sharded calls (lr_shard_*) on the GPU"
shard_suites='*Shard*'
LR_TEST_DEVICE=cuda timeout 120 "$BUILD/tests/lr_tests" --gtest_filter="$shard_suites" >>"$OUT/tests.txt" 2>&1
echo "lr_tests (cuda, $shard_suites) exit $?" | tee -a "$OUT/steps.log"
grep -E "^\[  (PASSED|FAILED) " "$OUT/tests.txt" | tail -3 | tee -a "$OUT/steps.log"
for tool in memcheck racecheck; do
  LR_TEST_DEVICE=cuda timeout 90 compute-sanitizer --tool "$tool" --error-exitcode 9 \
    "$BUILD/tests/lr_tests" --gtest_filter='*Shard*/bf16:ShardSelectMixed.*' >>"$OUT/sanitizer_shard.txt" 2>&1
  echo "$tool, sharded suites (bf16), exit $? (0 clean, 9 errors found, 124 time limit)" | tee -a "$OUT/steps.log"
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$OUT/sanitizer_shard.txt" | tail -1 | tee -a "$OUT/steps.log"
done

# The suites matching FILTER again on the GPU with VARIABLE=1 (another form of a kernel).
suites_with() {  # VARIABLE FILTER WHAT
  log "$3 again with $1=1"
  env "$1=1" LR_TEST_DEVICE=cuda timeout 120 "$BUILD/tests/lr_tests" --gtest_filter="$2" >>"$OUT/tests.txt" 2>&1
  echo "lr_tests (cuda, $1=1) exit $?" | tee -a "$OUT/steps.log"
  grep -E "^\[  (PASSED|FAILED) " "$OUT/tests.txt" | tail -3 | tee -a "$OUT/steps.log"
}
select_targets_suites='*SelectSteps*:*BuildTargets*:*SelectAndBuild*:*FlatRows*:*DataFaults*'
suites_with LR_CUDA_SELECT_TARGETS_ASYNC "$select_targets_suites" "select/targets suites (cp.async form)"
suites_with LR_CUDA_SELECT_TARGETS_LEAN "$select_targets_suites" "select/targets suites (lean form)"
suites_with LR_CUDA_LOSS_CLUSTER '*DistillLoss*:*DataFaults*' "loss suites (single-read cluster kernel)"

log "LibTorch adapter suites (CPU and CUDA tensors)"
timeout 120 "$BUILD/tests/adapters/libtorch/lr_torch_tests" >>"$OUT/tests.txt" 2>&1
echo "lr_torch_tests exit $?" | tee -a "$OUT/steps.log"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |tests ran" "$OUT/tests.txt" | tail -4 | tee -a "$OUT/steps.log"

log "Python binding with PyTorch tensors (CUDA ones included)"
LIGHTREASONER_LIBRARY="$PWD/$BUILD/capi/liblightreasoner.so" PYTHONPATH="$PWD/bindings/python" \
  LR_BINDING_FIXTURE="$PWD/tests/fixtures/binding_fixture.json" PYTHONDONTWRITEBYTECODE=1 \
  timeout 90 python3 bindings/python/tests/test_torch.py -v >>"$OUT/tests.txt" 2>&1
echo "python test_torch exit $?" | tee -a "$OUT/steps.log"

log "compute-sanitizer memcheck (bf16 suites)"
LR_TEST_DEVICE=cuda timeout 100 compute-sanitizer --tool memcheck --error-exitcode 9 \
  "$BUILD/tests/lr_tests" --gtest_filter='*FlatRows*/bf16:*DataFaults*/bf16:*CudaArguments*:*DistillLoss.*/bf16' \
  >"$OUT/sanitizer.txt" 2>&1
echo "memcheck exit $? (0 clean, 9 errors found, 124 time limit)" | tee -a "$OUT/steps.log"
grep -E "ERROR SUMMARY|^\[  (PASSED|FAILED) " "$OUT/sanitizer.txt" | tee -a "$OUT/steps.log"
for form in "LR_CUDA_SELECT_TARGETS_LEAN|*FlatRows*/bf16:*DataFaults*/bf16:*SelectAndBuild*/bf16" \
            "LR_CUDA_LOSS_CLUSTER|*DistillLoss.*/bf16:*DataFaults*/bf16"; do  # the new forms
  knob=${form%%|*}
  env "$knob=1" LR_TEST_DEVICE=cuda timeout 60 compute-sanitizer --tool memcheck --error-exitcode 9 \
    "$BUILD/tests/lr_tests" --gtest_filter="${form#*|}" >>"$OUT/sanitizer.txt" 2>&1
  echo "memcheck, $knob=1, exit $? (0 clean, 9 errors found, 124 time limit)" | tee -a "$OUT/steps.log"
  grep -E "ERROR SUMMARY|^\[  (PASSED|FAILED) " "$OUT/sanitizer.txt" | tail -2 | tee -a "$OUT/steps.log"
done
for knob in LR_CUDA_SELECT_TARGETS_LEAN LR_CUDA_LOSS_CLUSTER; do  # shared-memory races in the new forms
  env "$knob=1" LR_TEST_DEVICE=cuda timeout 60 compute-sanitizer --tool racecheck --error-exitcode 9 \
    "$BUILD/tests/lr_tests" --gtest_filter='*SelectAndBuild*/bf16:*DistillLoss.*/bf16' >>"$OUT/sanitizer.txt" 2>&1
  echo "racecheck, $knob=1, exit $? (0 clean, 9 hazards found, 124 time limit)" | tee -a "$OUT/steps.log"
  grep -E "RACECHECK SUMMARY|ERROR SUMMARY" "$OUT/sanitizer.txt" | tail -1 | tee -a "$OUT/steps.log"
done

log "benchmark"
timeout 200 "$BUILD/bench/lr_bench_cuda" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="$OUT/bench_cuda.json" --benchmark_out_format=json >"$OUT/bench_cuda.txt" 2>&1
echo "lr_bench_cuda exit $?" | tee -a "$OUT/steps.log"
grep -E "^parity|^device" "$OUT/bench_cuda.txt" | tee -a "$OUT/steps.log"

log "sharded calls against the unsharded ones on the GPU (1, 2, 4 shards in one process, N = 1024)"
timeout 120 "$BUILD/bench/lr_bench_shard_cpu" --lr_device=cuda --lr_rows=1024 \
  --benchmark_out="$OUT/bench_shard_cuda.json" --benchmark_out_format=json >"$OUT/bench_shard_cuda.txt" 2>&1
echo "lr_bench_shard_cpu --lr_device=cuda exit $?" | tee -a "$OUT/steps.log"
grep -E "^agreement|^(select|targets_k8|loss_backward)/" "$OUT/bench_shard_cuda.txt" | tee -a "$OUT/steps.log"

log "loss kernel: a grid of 1 and 2 rows in flight per SM, beside the default (one block per row)"
for rows_per_sm in 1 2; do
  echo "== LR_CUDA_LOSS_ROWS_PER_SM=$rows_per_sm" >>"$OUT/bench_cuda.txt"
  LR_CUDA_LOSS_ROWS_PER_SM=$rows_per_sm timeout 60 "$BUILD/bench/lr_bench_cuda" \
    --benchmark_filter='loss_backward.*/lightreasoner' >>"$OUT/bench_cuda.txt" 2>&1
done
grep -E "^==|^loss_backward" "$OUT/bench_cuda.txt" | tail -12 | tee -a "$OUT/steps.log"

# A form selected by VARIABLE=1, benchmarked like the default (3 repetitions,
# JSON for the summary); its parity lines compare it with LibTorch.
bench_form() {  # VARIABLE FILTER JSON_NAME
  echo "== $1=1" >>"$OUT/bench_cuda.txt"
  env "$1=1" timeout 120 "$BUILD/bench/lr_bench_cuda" --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true --benchmark_filter="$2" \
    --benchmark_out="$OUT/$3" --benchmark_out_format=json >>"$OUT/bench_cuda.txt" 2>&1
  echo "lr_bench_cuda ($1=1) exit $?" | tee -a "$OUT/steps.log"
  grep -E "^parity" "$OUT/bench_cuda.txt" | tail -2 | tee -a "$OUT/steps.log"
}

log "loss kernel: the single-read cluster form (LR_CUDA_LOSS_CLUSTER=1), beside the default"
bench_form LR_CUDA_LOSS_CLUSTER '^loss_backward.*/lightreasoner' bench_cuda_cluster.json

log "select/targets through shared memory (cp.async), beside the default register path"
echo "== LR_CUDA_SELECT_TARGETS_ASYNC=1" >>"$OUT/bench_cuda.txt"
LR_CUDA_SELECT_TARGETS_ASYNC=1 timeout 90 "$BUILD/bench/lr_bench_cuda" \
  --benchmark_filter='^(select|targets|fused)/.*/lightreasoner' >>"$OUT/bench_cuda.txt" 2>&1
grep -E "^==|^(select|targets|fused)/" "$OUT/bench_cuda.txt" | tail -7 | tee -a "$OUT/steps.log"

log "select/targets in the lean form (LR_CUDA_SELECT_TARGETS_LEAN=1), beside the default"
bench_form LR_CUDA_SELECT_TARGETS_LEAN '^(select|targets|fused)/.*/lightreasoner' bench_cuda_lean.json

log "Nsight Compute: one select launch and one loss launch, each form (N = 1024, bf16)"
if command -v ncu >/dev/null; then
  for form in 0:0:select_targets_kernel 1:0:select_targets_kernel 0:0:loss_kernel 0:1:loss_cluster_kernel; do
    kernel=${form##*:}; lean=$(echo "$form" | cut -d: -f1); cluster=$(echo "$form" | cut -d: -f2)
    echo "== $kernel, LR_CUDA_SELECT_TARGETS_LEAN=$lean LR_CUDA_LOSS_CLUSTER=$cluster" >>"$OUT/ncu.txt"
    LR_CUDA_SELECT_TARGETS_LEAN=$lean LR_CUDA_LOSS_CLUSTER=$cluster timeout 90 ncu --clock-control none --kernel-name "regex:$kernel" --launch-count 1 \
      --section SpeedOfLight --section Occupancy --section WarpStateStats --section ComputeWorkloadAnalysis \
      --section InstructionStats --section LaunchStats \
      "$BUILD/bench/lr_bench_cuda" --lr_rows=1024 --benchmark_filter=NONE >>"$OUT/ncu.txt" 2>&1
    echo "ncu $kernel (lean $lean, cluster $cluster) exit $?" | tee -a "$OUT/steps.log"
  done
  grep -E "^==|Memory Throughput|DRAM Throughput|Compute \(SM\) Throughput|Achieved Occupancy|Issue Slots Busy|Registers Per Thread|Executed Instructions  " \
    "$OUT/ncu.txt" | tee -a "$OUT/steps.log"
else
  echo "ncu not found" | tee -a "$OUT/steps.log"
fi

log "summary"
python3 bench/summarize_gpu_bench.py "$OUT/bench_cuda.json" "$OUT/steps.log" --lean "$OUT/bench_cuda_lean.json" \
  --cluster "$OUT/bench_cuda_cluster.json" \
  >"$OUT/summary.md" 2>&1
cat "$OUT/summary.md"
log "done"
