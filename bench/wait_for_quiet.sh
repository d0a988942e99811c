# Sourced by the bench scripts: wait_for_quiet NAME waits up to
# LR_BENCH_QUIET_WAIT_S seconds (default 180) for the load average to fall
# below nproc/4, then sets `load` (the load averages at start) and `busy`
# (yes if still loaded: timings will be noisy, and the report says so).
wait_for_quiet() {
  local name=$1 limit=${LR_BENCH_QUIET_WAIT_S:-180}
  local left=$limit
  while [ "$left" -gt 0 ] && awk -v n="$(nproc)" '{exit !($1 > 0.25 * n)}' /proc/loadavg; do
    [ "$left" = "$limit" ] &&
      echo "$name: waiting for the load average ($(cut -d' ' -f1 /proc/loadavg)) to settle..." >&2
    sleep 10
    left=$((left - 10))
  done
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  busy=$(awk -v n="$(nproc)" '{print ($1 > 0.25 * n) ? "yes" : "no"}' /proc/loadavg)
  if [ "$busy" = yes ]; then
    echo "$name: warning: load average $load on $(nproc) CPUs; timings will be noisy" >&2
  fi
}
