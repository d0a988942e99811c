#!/usr/bin/env bash
# The README's main command: the paper's experiment in miniature, on the CPU,
# from a fresh clone, with models it trains itself:
#
#   bash scripts/miniature.sh [--set key=value ...]
#
# 1. installs the Debian packages it needs (scripts/install_deps.sh),
# 2. builds the `lightreasoner` program alone in build/miniature (Release, CPU),
# 3. runs `lightreasoner sweep --config configs/miniature.toml`: pretrains an
#    expert (general mix, then the arithmetic word problems) and a smaller
#    generalist amateur from scratch, then the base expert, + rejection SFT and
#    + LightReasoner with each of 3 seeds, the diagnostics, and one table,
# 4. prints where the table is (runs/miniature/sweep.md).
#
# Rerunning skips what is complete; after a Ctrl-C it goes on where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."

build=${LR_MINIATURE_BUILD_DIR:-build/miniature}
config=adapters/libtorch/driver/configs/miniature.toml
t0=$(date +%s)

bash scripts/install_deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLR_BUILD_TESTS=OFF -DLR_WITH_CUDA=OFF >/dev/null
cmake --build "$build" --target lightreasoner_driver -j "$(nproc)"
t1=$(date +%s)

table=$("$build/adapters/libtorch/driver/cli/lightreasoner" sweep --config "$config" "$@")
t2=$(date +%s)

echo
echo "miniature: setup and build $((t1 - t0)) s, the experiment $((t2 - t1)) s"
echo "the table, the diagnostics and the verdict: $table"
