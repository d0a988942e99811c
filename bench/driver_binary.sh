# Sourced by the driver's bench scripts (run_cpu_blas_bench.sh,
# run_distributed_bench.sh): cd to the tree's root and set `bin` to the
# `lightreasoner` program, LR_BENCH_DRIVER (default the release preset's),
# built first unless LR_BENCH_SKIP_BUILD=1. `script` names the caller in errors.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin=${LR_BENCH_DRIVER:-build/release/adapters/libtorch/driver/cli/lightreasoner}
if [ "${LR_BENCH_SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/install_deps.sh
  cmake --preset release
  cmake --build build/release --target lightreasoner_driver -j "$(( $(nproc) < 2 ? 1 : 2 ))"
fi
[ -x "$bin" ] || { echo "$script: $bin not built" >&2; exit 1; }
bin=$(realpath "$bin")
