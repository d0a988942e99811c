#!/usr/bin/python3
"""`lightreasoner sweep --table-only` against an independent recomputation,
and the sweep's one-line errors.

  1. fake run folders in the real format (eval/<model>/summary.json and the
     per-problem <dataset>.jsonl with "correct", evaluate/results_file.h) for
     base, sft, lightreasoner (one seed missing for sft, one dataset missing
     for a lightreasoner seed) and a variant with no runs;
  2. sweep.json's means, sample SDs, averages, deltas, paired means, standard
     errors and win/loss counts equal the ones recomputed here from those
     files (Python's statistics module); sweep.md shows the rows, "—" for the
     variant without runs and notes for what is missing; the verdict's words
     follow the recomputed numbers;
  3. bad variant names, a custom variant's bad key or entry, and
     same_size_amateur without models.pretrain are one-line errors.

Usage: test_sweep_table.py LIGHTREASONER TINY_TOML SCRATCH_DIR
"""
import json
import math
import os
import random
import shutil
import statistics
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_checks import Cli, check, finish  # noqa: E402

BIN, CONFIG, SCRATCH = sys.argv[1:4]
RUN = os.path.join(SCRATCH, "run")
DATASETS = ["svamp", "gsm8k"]
SEEDS = [1, 2, 3]
VARIANTS = ["sft", "lightreasoner", "all_steps"]
cli = Cli(BIN, timeout=120)
rng = random.Random(7)


def sets(variants=VARIANTS, seeds=SEEDS):
    return ["--set", "run.out_dir=" + json.dumps(RUN), "--set", "sweep.variants=" + json.dumps(variants),
            "--set", "sweep.seeds=" + json.dumps(seeds), "--set", "eval.datasets=" + json.dumps(DATASETS)]


def write_eval(folder, model, correct_by_dataset):
    """summary.json and <dataset>.jsonl as the eval stage writes them."""
    d = os.path.join(folder, "eval", model)
    os.makedirs(d, exist_ok=True)
    datasets = {}
    for name, correct in correct_by_dataset.items():
        with open(os.path.join(d, name + ".jsonl"), "w") as f:
            for i, c in enumerate(correct):
                f.write(json.dumps({"id": i, "question": "q", "gold": "1", "output": "o", "pred": "1" if c else "2",
                                    "correct": c, "tokens": 3, "stopped": True, "seconds": 0.1}) + "\n")
        n = len(correct)
        datasets[name] = {"n": n, "correct": sum(correct), "accuracy": sum(correct) / n, "seconds": 1.0,
                          "generated_tokens": 3 * n, "total": n, "complete": True, "results": name + ".jsonl"}
    summary = {"model": model, "expert": "/x", "adapter": None, "prompt": "cot", "max_new_tokens": 8, "limit": 0,
               "complete": True, "datasets": datasets,
               "average_accuracy": sum(v["accuracy"] for v in datasets.values()) / len(datasets)}
    with open(os.path.join(d, "summary.json"), "w") as f:
        json.dump(summary, f)


def draw(p, n):
    return [rng.random() < p for _ in range(n)]


# ---- the fake runs: variant -> seed -> dataset -> [correct per problem]
N = {"svamp": 30, "gsm8k": 40}
runs = {"base": {0: {d: draw(0.4, N[d]) for d in DATASETS}}}
runs["sft"] = {s: {d: draw(0.45, N[d]) for d in DATASETS} for s in (1, 2)}  # seed 3 missing
runs["lightreasoner"] = {s: {d: draw(0.6, N[d]) for d in DATASETS} for s in SEEDS}
del runs["lightreasoner"][2]["svamp"]  # seed 2: svamp not evaluated
shutil.rmtree(SCRATCH, ignore_errors=True)
write_eval(os.path.join(RUN, "sweep", "base"), "base", runs["base"][0])
for v, model in (("sft", "sft"), ("lightreasoner", "tuned")):
    for s, by_ds in runs[v].items():
        write_eval(os.path.join(RUN, "sweep", v, "seed-%d" % s), model, by_ds)

rc, out, err = cli.run(["sweep", "--config", CONFIG, "--table-only"] + sets())
check("--table-only exits 0 and prints the table's path", rc == 0 and out.strip() == os.path.join(RUN, "sweep.md"),
      (rc, out, err[-800:]))
table = json.load(open(os.path.join(RUN, "sweep.json")))
md = open(os.path.join(RUN, "sweep.md")).read()
rows = {r["variant"]: r for r in table["rows"]}
check("rows: base first, then the variants in order", [r["variant"] for r in table["rows"]] == ["base"] + VARIANTS,
      list(rows))


def acc(correct):
    return 100.0 * sum(correct) / len(correct)


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) < 1e-9


def spread(values):
    return (len(values), statistics.mean(values) if values else None,
            statistics.stdev(values) if len(values) > 1 else None)


def result(v, s, d):
    by_seed = runs.get(v, {})
    if v == "base":
        return by_seed[0].get(d)
    return by_seed.get(s, {}).get(d)


def check_spread(name, got, values):
    n, mean, sd = spread(values)
    check(name, got["n"] == n and close(got["mean"], mean) and close(got["sd"], sd), (got, n, mean, sd))


base_avg = statistics.mean(acc(runs["base"][0][d]) for d in DATASETS)
for v in ["base"] + VARIANTS:
    seeds = [0] if v == "base" else SEEDS
    for d in DATASETS:
        vals = [acc(result(v, s, d)) for s in seeds if result(v, s, d) is not None]
        check_spread("%s %s: mean, SD, n" % (v, d), rows[v]["accuracy"][d], vals)
    avgs = [statistics.mean(acc(result(v, s, d)) for d in DATASETS) for s in seeds
            if all(result(v, s, d) is not None for d in DATASETS)]
    check_spread("%s average over datasets" % v, rows[v]["average"], avgs)
    want_delta = statistics.mean(avgs) - base_avg if avgs and v != "base" else None
    check("%s delta vs base" % v, v == "base" or close(rows[v]["delta_vs_base"], want_delta),
          (rows[v]["delta_vs_base"], want_delta))


def paired(a, b, d):
    diffs, wins, losses = [], 0, 0
    for s in SEEDS:
        ra, rb = result(a, s, d), result(b, s, d)
        if ra is None or rb is None:
            continue
        diffs.append(acc(ra) - acc(rb))
        wins += sum(1 for x, y in zip(ra, rb) if x and not y)
        losses += sum(1 for x, y in zip(ra, rb) if y and not x)
    se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else None
    return len(diffs), statistics.mean(diffs) if diffs else None, se, wins, losses


def check_paired(name, got, want):
    n, mean, se, wins, losses = want
    ok = (got["n"] == n and close(got["mean"], mean) and close(got["se"], se) and got["wins"] == wins and
          got["losses"] == losses)
    check(name, ok, (got, want))


for v in VARIANTS:
    for d in DATASETS:
        check_paired("%s vs base on %s: paired mean, SE, wins, losses" % (v, d), rows[v]["vs_base"][d],
                     paired(v, "base", d))
for d in DATASETS:
    check_paired("lightreasoner vs sft on %s" % d, table["lightreasoner_vs_sft"][d], paired("lightreasoner", "sft", d))

# the verdict follows the numbers on the last dataset
n, mean, se, _, _ = paired("lightreasoner", "base", DATASETS[-1])
clear = se is not None and abs(mean) > 2 * se
want = "LightReasoner beat the base by" if clear and mean > 0 else "LightReasoner did not beat the base"
check("verdict on %s vs base: %r" % (DATASETS[-1], want), want in table["verdict"] and "On gsm8k" in table["verdict"],
      table["verdict"])
n, mean, se, _, _ = paired("lightreasoner", "sft", DATASETS[-1])
clear = se is not None and abs(mean) > 2 * se
want = "beat SFT by" if clear and mean > 0 else "did not beat SFT"
check("verdict vs SFT: %r" % want, want in table["verdict"], table["verdict"])
check("sweep.md: the verdict and every row", table["verdict"] in md and
      all(("| %s |" % v) in md for v in ["base"] + VARIANTS), md[:1500])
all_steps_line = [l for l in md.splitlines() if l.startswith("| all_steps | selection all")]
check("sweep.md: all_steps without runs is all \u2014", len(all_steps_line) == 1 and
      all_steps_line[0].count("\u2014") == len(DATASETS) + 2, all_steps_line)
check("notes: the missing sft seed, the missing svamp, all_steps", "sft seed 3: not run yet" in md and
      "lightreasoner seed 2: svamp not evaluated" in md and "all_steps seed 1: not run yet" in md, md[-1500:])

tables = [block.splitlines() for block in md.split("\n\n") if block.startswith("|")]
check("sweep.md: 3 tables, every row with its header's columns", len(tables) == 3 and
      all(len(set(l.count("|") for l in t)) == 1 and len(t) > 2 for t in tables), tables)

# LightReasoner within 2 standard errors of base on the last dataset: diffs of +1, -1 and 0 problems
flips = {1: [True], 2: [False], 3: []}
for s, extra in flips.items():
    by_ds = {d: list(runs["base"][0][d]) for d in DATASETS}
    by_ds["gsm8k"] = list(runs["base"][0]["gsm8k"])
    if extra:
        i = by_ds["gsm8k"].index(not extra[0])
        by_ds["gsm8k"][i] = extra[0]
    runs["lightreasoner"][s] = by_ds
    write_eval(os.path.join(RUN, "sweep", "lightreasoner", "seed-%d" % s), "tuned", by_ds)
rc, out, err = cli.run(["sweep", "--config", CONFIG, "--table-only"] + sets())
table = json.load(open(os.path.join(RUN, "sweep.json")))
n, mean, se, wins, losses = paired("lightreasoner", "base", "gsm8k")
check_paired("close to base: paired mean, SE, wins, losses", {r["variant"]: r for r in table["rows"]}
             ["lightreasoner"]["vs_base"]["gsm8k"], (n, mean, se, wins, losses))
check("close to base: the verdict says no clear difference", rc == 0 and abs(mean) <= 2 * se and
      "LightReasoner did not beat the base: +0.0 ± " in table["verdict"] and
      "no clear difference" in table["verdict"] and (wins, losses) == (1, 1), table["verdict"])

# diagnostics.json, when present, goes into both files
with open(os.path.join(RUN, "diagnostics.json"), "w") as f:
    json.dump({"problems": 7, "rollouts": {"kept": 3, "positions": 12, "kept_fraction": 0.25, "kl": {"p50": 1.5}},
               "settings": {"kl_threshold": 0.4}}, f)
rc, out, err = cli.run(["sweep", "--config", CONFIG, "--table-only"] + sets())
table = json.load(open(os.path.join(RUN, "sweep.json")))
md = open(os.path.join(RUN, "sweep.md")).read()
check("diagnostics.json in sweep.json and sweep.md (the report's table)",
      rc == 0 and table["diagnostics"]["rollouts"]["kl"]["p50"] == 1.5 and "## Diagnostics" in md
      and "| positions kept at kappa | 3 of 12 (25.0 %) |" in md and "median KL of 1.500 nats" in md, md[-900:])

# ---- one-line errors
line = cli.one_line_error("an unknown variant", ["sweep", "--config", CONFIG] + sets(["lightreasoner", "nope"]))
check("  names it and lists the built-ins", '"nope"' in line and "all_steps_argmax" in line and
      "same_size_amateur" in line, line)
line = cli.one_line_error("a custom variant's bad key",
                          ["sweep", "--config", CONFIG] + sets(["mine: lora.r=4; lora.rr=3"]))
check("  names the variant and the key", '"mine"' in line and "lora.rr" in line, line)
line = cli.one_line_error("a custom entry without key=value", ["sweep", "--config", CONFIG] + sets(["mine: lora"]))
check("  says what is wrong", "not key=value" in line, line)
line = cli.one_line_error("a custom variant named like a built-in",
                          ["sweep", "--config", CONFIG] + sets(["sft: lora.r=4"]))
check("  says so", "built-in" in line, line)
line = cli.one_line_error("same_size_amateur without models.pretrain",
                          ["sweep", "--config", CONFIG] + sets(["same_size_amateur"]))
check("  names models.pretrain", "models.pretrain" in line, line)
line = cli.one_line_error("a variant listed twice", ["sweep", "--config", CONFIG] + sets(["sft", "sft"]))
check("  says so", "twice" in line, line)
finish()
