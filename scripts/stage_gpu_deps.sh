#!/usr/bin/env bash
# Stages, under .gpu_deps/ (git-ignored), the Debian-packaged build
# dependencies that the GPU machine's image lacks: the DLPack header,
# GoogleTest/GoogleMock and Google Benchmark (headers, libraries, CMake
# packages) and nlohmann-json (the binding fixture's generator), and for the
# driver's GPU smoke run PCRE2 and utf8proc (static, with pkg-config files
# that find them relative to themselves), toml++ and CLI11. bench/gpu_check.sh
# uses them there; the device tool carries the folder
# (`carry: [".gpu_deps"]`). Run on this (Debian) machine first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh --bench >/dev/null  # also the driver's packages
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
# The driver: C libraries linked statically (only their .a is copied, so the
# linker takes it), toml++ as Debian builds it (a shared library, found
# through LD_LIBRARY_PATH there), CLI11 header-only.
cp /usr/include/pcre2.h /usr/include/utf8proc.h "$dest/include/"
cp -r /usr/include/toml++ /usr/include/CLI "$dest/include/"
cp "$arch_lib"/libpcre2-8.a "$arch_lib"/libutf8proc.a "$dest/lib/x86_64-linux-gnu/"
cp -P "$arch_lib"/libtomlplusplus.so* "$dest/lib/x86_64-linux-gnu/"
cp -r "$arch_lib/cmake/tomlplusplus" "$dest/lib/x86_64-linux-gnu/cmake/"
cp -r /usr/share/cmake/CLI11 "$dest/share/cmake/"
mkdir -p "$dest/lib/x86_64-linux-gnu/pkgconfig"
for pc in libpcre2-8 libutf8proc; do
  sed 's|^prefix=/usr$|prefix=${pcfiledir}/../../..|' "$arch_lib/pkgconfig/$pc.pc" \
    >"$dest/lib/x86_64-linux-gnu/pkgconfig/$pc.pc"
  grep -q 'pcfiledir' "$dest/lib/x86_64-linux-gnu/pkgconfig/$pc.pc" || { echo "stage_gpu_deps: $pc.pc has no prefix=/usr line" >&2; exit 1; }
done
# The device's copy of the tree may carry stale git metadata: record which
# commit (and whether the tree had local changes) is being checked.
{ git rev-parse HEAD; git status --porcelain --untracked-files=no | wc -l | sed 's/$/ modified tracked files/'; } \
  >"$dest/COMMIT"
du -sh "$dest"
