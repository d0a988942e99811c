#!/usr/bin/env bash
# Installs the Debian packages the build needs; does nothing when they are
# all present (so it is cheap to run before every build).
#   install_deps.sh          build + tests
#   install_deps.sh --bench  also Google Benchmark for bench/
set -euo pipefail

packages=(cmake ninja-build g++ pkg-config binutils libdlpack-dev libgtest-dev libgmock-dev
  libtorch-dev libgloo-dev libpcre2-dev libutf8proc-dev nlohmann-json3-dev libtomlplusplus-dev libcli11-dev
  python3 python3-numpy python3-torch python3-pip python3-setuptools
  gnuplot-nox fonts-dejavu-core  # the report's PNG plots (pngcairo), with a font for their text
  # OpenBLAS, OpenMP build (shares LibTorch's OpenMP thread pool): by its alternatives priority it
  # becomes the system's libblas.so.3, which Debian's LibTorch calls for every CPU matmul; the
  # reference BLAS it replaces is ~9x slower (lightreasoner --version names the one loaded)
  libopenblas0-openmp
  # the fuzz preset (scripts/fuzz.sh, run by .ci/run): clang, its libFuzzer and
  # sanitizer runtimes, and its OpenMP
  clang libclang-rt-dev libomp-dev)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(libbenchmark-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm (tokenizer parity tests): the machine's own if present
# (it may come from another packaging of Node.js), else Debian's.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "install_deps: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install_deps: all of ${packages[*]} present"
fi
