#!/usr/bin/env bash
# The README's smoke run: the whole LightReasoner experiment
# (`lightreasoner run`: sample -> train -> eval -> SFT baseline -> report) on
# configs/tiny.toml, on the CPU, from a fresh clone:
#
#   bash scripts/smoke_run.sh [--set key=value ...]
#
# 1. installs the Debian packages it needs (scripts/install_deps.sh),
# 2. builds the `lightreasoner` program alone in build/smoke (Release),
# 3. runs it: tiny RANDOM expert and amateur models are written first (with a
#    small byte-level BPE tokenizer learnt from the bundled GSM8K), so this is
#    a SMOKE RUN: it shows every stage working end to end; its accuracies mean
#    nothing,
# 4. prints where the report is (runs/tiny/report.md, plots in runs/tiny/plots/).
#
# Rerunning skips the stages that are complete; after a Ctrl-C it goes on
# where it stopped. For the paper's experiment on real Qwen2.5 checkpoints use
# configs/paper.toml (see the README).
set -euo pipefail
cd "$(dirname "$0")/.."

build=${LR_SMOKE_BUILD_DIR:-build/smoke}
config=adapters/libtorch/driver/configs/tiny.toml
t0=$(date +%s)

bash scripts/install_deps.sh
# CPU only (the smoke run needs no GPU; a CUDA build of the library is cmake --preset release)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLR_BUILD_TESTS=OFF -DLR_WITH_CUDA=OFF >/dev/null
cmake --build "$build" --target lightreasoner_driver -j "$(nproc)"
t1=$(date +%s)

report=$("$build/adapters/libtorch/driver/cli/lightreasoner" run --config "$config" "$@")
t2=$(date +%s)

echo
echo "smoke run: setup and build $((t1 - t0)) s, the run $((t2 - t1)) s"
echo "smoke run on tiny random models (the accuracies mean nothing); report: $report"
echo "plots: $(dirname "$report")/plots/"
