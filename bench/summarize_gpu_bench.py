#!/usr/bin/env python3
"""Markdown summary of an lr_bench_cuda JSON run (Google Benchmark format).

Usage: summarize_gpu_bench.py BENCH_JSON [STEPS_LOG]

One row per op and N: our median time and the LibTorch composite's, the
speed-up, our achieved bandwidth (bytes the op must move over our time) and
its fraction of the device's peak, and the extra device memory of each.
The goals of issue 3 are checked in the last column: select / targets /
fused >= 80 % of peak, loss backward >= 75 %, each >= 5x the composite.
"""
import json
import sys

GOAL_FRACTION = {"select": 0.80, "targets": 0.80, "fused": 0.80, "loss_backward": 0.75,
                 "loss_backward_inplace": 0.75}
GOAL_SPEEDUP = 5.0


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    try:
        with open(sys.argv[1]) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        print(f"# GPU benchmark\n\nNo benchmark results ({e}).")
        return 1
    ctx = data.get("context", {})
    rows = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name", "median") != "median":
            continue
        name = b.get("run_name", b["name"])
        op, n, impl = name.split("/")[:3]
        rows.setdefault((op, int(n)), {})[impl] = b
    print("# GPU benchmark: lightreasoner CUDA kernels vs LibTorch CUDA composites\n")
    print(f"Date {ctx.get('date', '?')}; host {ctx.get('host_name', '?')}; "
          "bfloat16 logits, V = 151936, K = 8, kappa 0.4, beta 0.2; medians of 3 repetitions.\n")
    if len(sys.argv) > 2:
        print("```")
        with open(sys.argv[2]) as f:
            print(f.read().rstrip())
        print("```\n")
    print("| op | N | ours (us) | LibTorch (us) | speed-up | ours GB/s | of peak | ours extra MiB | "
          "LibTorch extra MiB | goal |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    order = ["select", "targets", "fused", "loss_backward", "loss_backward_inplace"]
    for (op, n) in sorted(rows, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1])):
        r = rows[(op, n)]
        ours, torch = r.get("lightreasoner"), r.get("torch")
        if not ours:
            continue
        t_ours = ours["real_time"]
        t_torch = torch["real_time"] if torch else float("nan")
        speedup = t_torch / t_ours if torch else float("nan")
        gbps = ours.get("GBps", 0.0)
        peak = ours.get("peak_GBps", 0.0)
        frac = gbps / peak if peak else float("nan")
        goal = GOAL_FRACTION.get(op, 0.0)
        ok = frac >= goal and speedup >= GOAL_SPEEDUP
        verdict = ("met" if ok else "NOT met") + f" (>= {goal:.0%} of peak, >= {GOAL_SPEEDUP:.0f}x)"
        print(f"| {op} | {n} | {t_ours:.1f} | {t_torch:.1f} | {speedup:.1f}x | {gbps:.0f} | {frac:.1%} | "
              f"{ours.get('extra_MiB', 0):.1f} | {torch.get('extra_MiB', 0) if torch else 0:.0f} | {verdict} |")
    print("\nBytes that must move: select / targets / fused read both [N, V] bf16 matrices once "
          "(2 N V x 2 bytes); the loss reads the logits once and writes the gradient once (2 N V x 2 bytes).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
