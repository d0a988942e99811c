#!/usr/bin/env bash
# check_exports.sh <path-to-liblightreasoner.so>
#
# The shared library's dynamic symbol table defines nothing but lr_* symbols
# (everything else is hidden), defines every entry point of the public
# header, and carries the SONAME liblightreasoner.so.1.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 <path-to-liblightreasoner.so>" >&2
  exit 2
fi
lib=$1
if [[ ! -f "$lib" ]]; then
  echo "check_exports: no such file: $lib" >&2
  exit 1
fi
for tool in nm readelf; do
  command -v "$tool" >/dev/null || { echo "check_exports: $tool (binutils) not found" >&2; exit 1; }
done

required=(
  lr_abi_version lr_build_info lr_status_string lr_last_error
  lr_select_params_default lr_target_params_default lr_loss_params_default
  lr_select_steps lr_build_targets lr_select_and_build lr_distill_loss_backward
  lr_shard_select_stats lr_shard_select_finish lr_shard_target_candidates lr_shard_targets_finish
  lr_shard_loss_stats lr_shard_loss_backward
)
expected_soname=liblightreasoner.so.1

echo "check_exports: $lib"
failed=0

# Defined dynamic symbols: "VALUE TYPE NAME" (or "TYPE NAME" for absolute
# ones). Symbol versions ("name@@VER") are stripped; linker-defined version
# nodes (type A, e.g. an "LR_1.0" version tag) are not code and are skipped.
mapfile -t lines < <(nm -D --defined-only "$lib")
defined=()
offenders=()
for line in "${lines[@]}"; do
  [[ -z "$line" ]] && continue
  read -r -a f <<<"$line"
  if [[ ${#f[@]} -ge 3 ]]; then type=${f[1]}; name=${f[2]}; else type=${f[0]}; name=${f[1]}; fi
  name=${name%%@*}
  if [[ "$type" == "A" ]]; then continue; fi
  defined+=("$name")
  if [[ "$name" != lr_* ]]; then offenders+=("$type $name"); fi
done
echo "  defined dynamic symbols: ${#defined[@]}"

if [[ ${#offenders[@]} -gt 0 ]]; then
  echo "  FAIL: ${#offenders[@]} exported symbol(s) not named lr_*:"
  printf '    %s\n' "${offenders[@]}"
  failed=1
fi

missing=()
for sym in "${required[@]}"; do
  found=0
  for d in "${defined[@]}"; do
    if [[ "$d" == "$sym" ]]; then found=1; break; fi
  done
  [[ $found -eq 1 ]] || missing+=("$sym")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "  FAIL: required entry point(s) not defined:"
  printf '    %s\n' "${missing[@]}"
  failed=1
fi

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [[ "$soname" != "$expected_soname" ]]; then
  echo "  FAIL: SONAME is '${soname:-<none>}', expected '$expected_soname'"
  failed=1
else
  echo "  SONAME: $soname"
fi

if [[ $failed -ne 0 ]]; then
  echo "check_exports: FAILED (${#offenders[@]} non-lr_ symbols, ${#missing[@]} missing, SONAME '${soname:-<none>}')"
  exit 1
fi
echo "check_exports: OK (${#defined[@]} symbols, all lr_*; ${#required[@]} required present; SONAME $soname)"
