#!/usr/bin/env bash
# Stages, under .gpu_deps/ (git-ignored), the Debian-packaged build
# dependencies that the GPU machine's image lacks: the DLPack header,
# GoogleTest/GoogleMock and Google Benchmark (headers, libraries, CMake
# packages) and nlohmann-json (the binding fixture's generator). bench/gpu_check.sh uses them there; the device tool carries the
# folder (`carry: [".gpu_deps"]`). Run on this (Debian) machine first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh --bench >/dev/null
arch_lib=/usr/lib/x86_64-linux-gnu
dest=.gpu_deps
rm -rf "$dest"
mkdir -p "$dest/include" "$dest/lib/x86_64-linux-gnu/cmake"
cp -r /usr/include/dlpack /usr/include/gtest /usr/include/gmock /usr/include/benchmark /usr/include/nlohmann \
  "$dest/include/"
mkdir -p "$dest/share/cmake"
cp -r /usr/share/cmake/nlohmann_json "$dest/share/cmake/"
cp -P "$arch_lib"/libgtest*.a "$arch_lib"/libgmock*.a "$arch_lib"/libbenchmark* "$dest/lib/x86_64-linux-gnu/"
cp -r "$arch_lib/cmake/GTest" "$arch_lib/cmake/benchmark" "$dest/lib/x86_64-linux-gnu/cmake/"
# The device's copy of the tree may carry stale git metadata: record which
# commit (and whether the tree had local changes) is being checked.
{ git rev-parse HEAD; git status --porcelain --untracked-files=no | wc -l | sed 's/$/ modified tracked files/'; } \
  >"$dest/COMMIT"
du -sh "$dest"
