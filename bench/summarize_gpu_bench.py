#!/usr/bin/env python3
"""Markdown summary of an lr_bench_cuda JSON run (Google Benchmark format).

Usage: summarize_gpu_bench.py BENCH_JSON [STEPS_LOG] [--lean LEAN_JSON] [--cluster CLUSTER_JSON]

One row per op and N: our median time and the LibTorch composite's, the
speed-up, our achieved bandwidth (bytes the op must move over our time) and
its fraction of the device's peak, and the extra device memory of each.
The goals of issue 3 are checked in the last column: select / targets /
fused >= 80 % of peak, loss backward >= 75 %, each >= 5x the composite.
With --lean (the select/targets lean form, LR_CUDA_SELECT_TARGETS_LEAN=1) and
--cluster (the loss's single-read cluster form, LR_CUDA_LOSS_CLUSTER=1), both
experimental (built with LR_CUDA_EXPERIMENTAL=ON), each measured in a
run of its own, a further table sets that form beside the default and the
composite.
"""
import json
import sys

GOAL_FRACTION = {"select": 0.80, "targets": 0.80, "fused": 0.80, "loss_backward": 0.75,
                 "loss_backward_inplace": 0.75}
GOAL_SPEEDUP = 5.0


def medians(data: dict) -> dict:
    """{(op, N): {impl: benchmark}} from the median aggregates."""
    rows = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name", "median") != "median":
            continue
        name = b.get("run_name", b["name"])
        op, n, impl = name.split("/")[:3]
        rows.setdefault((op, int(n)), {})[impl] = b
    return rows


VARIANTS = {"--lean": ("Select/targets, lean form (LR_CUDA_SELECT_TARGETS_LEAN=1)", "lean"),
            "--cluster": ("Loss, single-read cluster form (LR_CUDA_LOSS_CLUSTER=1)", "cluster")}


def print_variant_table(rows: dict, path: str, title: str, label: str) -> None:
    print(f"\n## {title} beside the default\n")
    try:
        with open(path) as f:
            lean = medians(json.load(f))
    except (OSError, ValueError) as e:
        print(f"No results for this form ({e}).")
        return
    print(f"| op | N | default (us) | {label} (us) | {label} vs default | {label} GB/s | of peak | "
          f"{label} vs LibTorch | goal |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for (op, n) in sorted(lean):
        ours = lean[(op, n)].get("lightreasoner")
        base = rows.get((op, n), {})
        default, torch = base.get("lightreasoner"), base.get("torch")
        if not ours:
            continue
        t = ours["real_time"]
        t_default = default["real_time"] if default else float("nan")
        t_torch = torch["real_time"] if torch else float("nan")
        frac = ours.get("GBps", 0.0) / ours["peak_GBps"] if ours.get("peak_GBps") else float("nan")
        goal = GOAL_FRACTION.get(op, 0.0)
        ok = frac >= goal and t_torch / t >= GOAL_SPEEDUP
        print(f"| {op} | {n} | {t_default:.1f} | {t:.1f} | {t_default / t:.2f}x | {ours.get('GBps', 0.0):.0f} | "
              f"{frac:.1%} | {t_torch / t:.1f}x | {'met' if ok else 'NOT met'} |")


def main() -> int:
    args = sys.argv[1:]
    variants = []
    for flag in VARIANTS:
        if flag in args:
            i = args.index(flag)
            if i + 1 >= len(args):
                print(f"{flag} needs a JSON file")
                return 2
            variants.append((flag, args[i + 1]))
            del args[i:i + 2]
    if not args:
        print(__doc__)
        return 2
    try:
        with open(args[0]) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        print(f"# GPU benchmark\n\nNo benchmark results ({e}).")
        return 1
    ctx = data.get("context", {})
    rows = medians(data)
    print("# GPU benchmark: lightreasoner CUDA kernels vs LibTorch CUDA composites\n")
    print(f"Date {ctx.get('date', '?')}; host {ctx.get('host_name', '?')}; "
          "bfloat16 logits, V = 151936, K = 8, kappa 0.4, beta 0.2; medians of 3 repetitions.\n")
    if len(args) > 1:
        print("```")
        with open(args[1]) as f:
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
    for flag, path in variants:
        print_variant_table(rows, path, *VARIANTS[flag])
    return 0


if __name__ == "__main__":
    sys.exit(main())
