#!/usr/bin/env bash
# run_install_test.sh <build-dir> <scratch-dir> <cmake-binary>
#
# Installs the build to <scratch-dir>/prefix, checks the installed layout,
# then builds and runs the plain C11 consumer (consumer/consumer.c) twice:
#   (a) through the CMake package: find_package(LightReasoner 0.1 REQUIRED)
#   (b) through pkg-config: cc $(pkg-config --cflags --libs lightreasoner)
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 <build-dir> <scratch-dir> <cmake-binary>" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd)
scratch=$2
cmake_bin=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
consumer_src=$here/consumer

step() { echo; echo "== $*"; }
fail() { echo "install test: FAIL: $*" >&2; exit 1; }
run() { echo "+ $*"; "$@"; }

mkdir -p "$scratch"
scratch=$(cd "$scratch" && pwd)
prefix=$scratch/prefix
rm -rf "$prefix" "$scratch/consumer-cmake" "$scratch/consumer-pkgconfig"

step "install $build_dir to $prefix"
run "$cmake_bin" --install "$build_dir" --prefix "$prefix"

step "check the installed layout"
header=$prefix/include/lightreasoner/lightreasoner.h
[[ -f "$header" ]] || fail "missing $header"
echo "found $header"

libdir=""
for d in "$prefix"/lib "$prefix"/lib64 "$prefix"/lib/*-linux-gnu; do
  if [[ -e "$d/liblightreasoner.so.1" ]]; then libdir=$d; break; fi
done
[[ -n "$libdir" ]] || fail "no lib*/liblightreasoner.so.1 under $prefix"
echo "library directory: $libdir"
[[ -f "$libdir/liblightreasoner.so.1" ]] || fail "$libdir/liblightreasoner.so.1 is not a file (or a dangling link)"
[[ -L "$libdir/liblightreasoner.so" ]] || fail "$libdir/liblightreasoner.so is not a symlink"
[[ -e "$libdir/liblightreasoner.so" ]] || fail "$libdir/liblightreasoner.so is a dangling symlink"
real_so=$(readlink -f "$libdir/liblightreasoner.so")
real_so1=$(readlink -f "$libdir/liblightreasoner.so.1")
[[ "$real_so" == "$real_so1" ]] || fail "liblightreasoner.so -> $real_so but liblightreasoner.so.1 -> $real_so1"
echo "liblightreasoner.so -> $(readlink "$libdir/liblightreasoner.so"), real file $(basename "$real_so")"

cmake_dir=$libdir/cmake/LightReasoner
for f in LightReasonerConfig.cmake LightReasonerConfigVersion.cmake; do
  [[ -f "$cmake_dir/$f" ]] || fail "missing $cmake_dir/$f"
  echo "found $cmake_dir/$f"
done
ls "$cmake_dir"/LightReasonerTargets*.cmake >/dev/null 2>&1 || fail "no LightReasonerTargets*.cmake in $cmake_dir"
pc_dir=$libdir/pkgconfig
[[ -f "$pc_dir/lightreasoner.pc" ]] || fail "missing $pc_dir/lightreasoner.pc"
echo "found $pc_dir/lightreasoner.pc"

# The installed tree must not point back into the build or source tree (the
# scratch prefix may itself lie under the build directory: mask it first).
src_dir=$(cd "$here/../.." && pwd)
while IFS= read -r -d '' f; do
  if sed "s|$prefix||g" "$f" | grep -qF -e "$build_dir" -e "$src_dir"; then
    fail "installed file $f mentions the build or source tree"
  fi
done < <(find "$prefix/include" "$cmake_dir" "$pc_dir" -type f -print0)

# Which loaded liblightreasoner a consumer binary uses (must be the installed one).
check_loads_installed() {
  local exe=$1
  if command -v ldd >/dev/null; then
    local line
    line=$(ldd "$exe" | grep liblightreasoner || true)
    echo "ldd: ${line:-<liblightreasoner not listed>}"
    [[ "$line" == *"$prefix"* ]] || fail "$exe does not load liblightreasoner from $prefix"
  fi
}

generator_args=()
if command -v ninja >/dev/null; then generator_args=(-G Ninja); fi

step "(a) consumer through find_package(LightReasoner 0.1) and LightReasoner::lightreasoner"
run "$cmake_bin" -S "$consumer_src" -B "$scratch/consumer-cmake" "${generator_args[@]}" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_FIND_PACKAGE_NO_SYSTEM_PACKAGE_REGISTRY=ON \
  -DCMAKE_C_COMPILER="${CC:-cc}"
found_dir=$(sed -n 's/^LightReasoner_DIR:[A-Z]*=//p' "$scratch/consumer-cmake/CMakeCache.txt")
echo "LightReasoner_DIR = $found_dir"
[[ "$(cd "$found_dir" && pwd -P)" == "$(cd "$cmake_dir" && pwd -P)" ]] || fail "find_package found $found_dir, not $cmake_dir"
run "$cmake_bin" --build "$scratch/consumer-cmake" --verbose
check_loads_installed "$scratch/consumer-cmake/consumer"
run "$scratch/consumer-cmake/consumer"

step "(b) consumer through pkg-config lightreasoner"
command -v pkg-config >/dev/null || fail "pkg-config not found"
export PKG_CONFIG_PATH=$pc_dir
pc_flags=$(pkg-config --cflags --libs lightreasoner)
echo "pkg-config --cflags --libs lightreasoner: $pc_flags"
[[ "$pc_flags" == *"$prefix"* ]] || fail "pkg-config flags do not point into $prefix: $pc_flags"
pc_version=$(pkg-config --modversion lightreasoner)
echo "pkg-config --modversion lightreasoner: $pc_version"
mkdir -p "$scratch/consumer-pkgconfig"
# shellcheck disable=SC2086  # the flags are meant to split into words
run "${CC:-cc}" -std=c11 -Wall -Wextra -Werror -pedantic "$consumer_src/consumer.c" \
  -o "$scratch/consumer-pkgconfig/consumer" $pc_flags -lm
export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
check_loads_installed "$scratch/consumer-pkgconfig/consumer"
run "$scratch/consumer-pkgconfig/consumer"

echo
echo "install test: OK (installed to $prefix; CMake package and pkg-config consumers built with -std=c11 -pedantic -Werror and passed)"
