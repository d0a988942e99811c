#!/usr/bin/env bash
# Installs the Debian packages the build needs; does nothing when they are
# all present (so it is cheap to run before every build).
#   install_deps.sh          build + tests
#   install_deps.sh --bench  also Google Benchmark and LibTorch (CPU) for bench/
set -euo pipefail

packages=(cmake ninja-build g++ pkg-config binutils libdlpack-dev libgtest-dev libgmock-dev)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(libbenchmark-dev libtorch-dev python3)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install_deps: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install_deps: all of ${packages[*]} present"
fi
