#!/usr/bin/python3
"""`lightreasoner sweep` end to end on configs/tiny.toml (random tiny models;
small: 2 seeds, variants sft, lightreasoner and all_steps, 4 problems, 2 updates).

  1. the sweep finishes; each run has its folder (sweep/base/, sweep/<variant>/
     seed-<s>/) with its config (its seed, make_tiny off, the sweep's models)
     and the outputs its row needs; the table's path is stdout alone;
  2. stage 1 is computed once per variant: seed 2 copies seed 1's supervision
     (greedy rollouts do not depend on the seed), byte for byte;
  3. a second sweep skips every stage and changes no run file;
  4. the table's accuracies are the runs' summary.json values and its win/loss
     counts the ones recomputed from their per-problem files; --table-only
     rewrites the same table.

Usage: test_sweep.py LIGHTREASONER TINY_TOML SCRATCH_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import tomllib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_checks import check, finish  # noqa: E402

BIN, CONFIG, SCRATCH = sys.argv[1:4]
RUN = os.path.join(SCRATCH, "run")
SEEDS = [1, 2]
VARIANTS = ["sft", "lightreasoner", "all_steps"]
TUNED = ["lightreasoner", "all_steps"]
DATASETS = ["svamp", "gsm8k"]
SETS = ["run.out_dir=" + json.dumps(RUN), "sweep.seeds=" + json.dumps(SEEDS),
        "sweep.variants=" + json.dumps(VARIANTS), "eval.datasets=" + json.dumps(DATASETS),
        "data.num_problems=4", "sample.max_new_tokens=8", "sample.batch_size=4", "train.updates=2",
        "train.batch_size=2", "train.checkpoint_every=0", "eval.limit=4", "eval.max_new_tokens=8",
        "eval.batch_size=4", "sft.num_problems=4", "sft.max_new_tokens=8"]


def sweep(*extra):
    args = [BIN, "sweep", "--config", CONFIG]
    for s in SETS:
        args += ["--set", s]
    p = subprocess.run(args + list(extra), capture_output=True, timeout=600)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def folder(v, s):
    return os.path.join(RUN, "sweep", "base") if v == "base" else os.path.join(RUN, "sweep", v, "seed-%d" % s)


def run_files():
    """path -> mtime of every file under RUN/sweep/ (logs aside)."""
    out = {}
    for root, _, files in os.walk(os.path.join(RUN, "sweep")):
        for f in files:
            p = os.path.join(root, f)
            out[p] = os.stat(p).st_mtime_ns
    return out


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


shutil.rmtree(SCRATCH, ignore_errors=True)
rc, out, err = sweep()
table_path = os.path.join(RUN, "sweep.md")
if not check("sweep exits 0 and prints the table's path alone", rc == 0 and out == table_path + "\n",
             (rc, out, err[-2000:])):
    finish()
check("progress lines [i/N] variant seed with elapsed and ETA", "sweep: [1/7] base seed" in err and
      "sweep: [7/7] all_steps seed 2 (elapsed" in err and "ETA" in err, err[-1500:])

for s in SEEDS:
    check("sft seed %d: its SFT stage finished, nothing of LightReasoner's" % s,
          os.path.exists(os.path.join(folder("sft", s), "sft", "summary.json")) and
          not os.path.exists(os.path.join(folder("sft", s), "supervision.jsonl")))
for v in TUNED:
    for s in SEEDS:
        d = folder(v, s)
        cfg = tomllib.loads(read(os.path.join(d, "config.toml")))
        check("%s seed %d: config with its seed, make_tiny off, the sweep's models" % (v, s),
              cfg["run"]["seed"] == s and cfg["run"]["out_dir"] == d and cfg["models"]["make_tiny"] is False and
              cfg["models"]["expert"] == os.path.join(RUN, "models", "tiny-expert") and
              cfg["sample"]["selection"] == ("all" if v == "all_steps" else "kl"), cfg["run"])
        check("%s seed %d: supervision, adapter, eval tuned" % (v, s),
              all(os.path.exists(os.path.join(d, p)) for p in
                  ("supervision.jsonl", "adapter/adapter_config.json", "eval/tuned/summary.json")))
        check("%s seed %d: no base or sft evaluation of its own" % (v, s),
              not os.path.exists(os.path.join(d, "eval", "base")) and not os.path.exists(os.path.join(d, "sft")))
    check("%s: seed 2's stage 1 is seed 1's, byte for byte" % v,
          read(os.path.join(folder(v, 1), "supervision.jsonl"), "rb") ==
          read(os.path.join(folder(v, 2), "supervision.jsonl"), "rb"))
check("stage 1 copied twice (once per variant), never from the other variant",
      err.count("sweep: stage 1 copied from") == 2 and
      "copied from " + folder("lightreasoner", 1) + " " in err and "copied from " + folder("all_steps", 1) + " " in err,
      [l for l in err.splitlines() if "copied" in l])
check("base evaluated once in sweep/base/", os.path.exists(os.path.join(folder("base", 0), "eval/base/summary.json"))
      and not os.path.exists(os.path.join(RUN, "sweep", "base", "seed-1")))

before = run_files()
rc, out, err = sweep()
ran = [l for l in err.splitlines() if l.startswith("sweep:   ") and not l.endswith("skipped: complete")]
check("a second sweep skips every stage", rc == 0 and not ran and err.count("skipped: complete") == 1 + 2 * 2 * 3 + 2 * 2,
      (ran, err[-1500:]))
after = run_files()
changed = [p for p in after if before.get(p) != after[p] and not p.endswith("config.toml")]
check("and changes no run file", not changed and set(after) == set(before), changed[:5])

table = json.load(open(os.path.join(RUN, "sweep.json")))
rows = {r["variant"]: r for r in table["rows"]}
check("rows: base, sft, lightreasoner, all_steps", [r["variant"] for r in table["rows"]] == ["base"] + VARIANTS)


def model_of(v):
    return {"base": "base", "sft": "sft"}.get(v, "tuned")


def correct_of(v, s, d):
    model = model_of(v)
    lines = [json.loads(l) for l in read(os.path.join(folder(v, s), "eval", model, d + ".jsonl")).splitlines()]
    return {l["id"]: l["correct"] for l in lines}


for v in ["base"] + VARIANTS:
    model = model_of(v)
    for s in ([1] if v == "base" else SEEDS):
        path = os.path.join(folder(v, s), "eval", model, "summary.json")
        if v == "sft" and not os.path.exists(path):  # random models: SFT seldom keeps a trajectory
            kept = json.load(open(os.path.join(folder(v, s), "sft", "summary.json")))["kept"]
            check("sft seed %d: no model (kept %d), its absence noted" % (s, kept), kept == 0 and
                  "sft seed %d: the SFT baseline kept no right trajectory" % s in read(table_path) and
                  str(s) not in rows["sft"]["accuracy"][DATASETS[0]]["by_seed"])
            continue
        summary = json.load(open(path))
        for d in DATASETS:
            got = rows[v]["accuracy"][d]["by_seed"]
            key = str(1 if v != "base" else list(got)[0])
            check("%s seed %d %s: the table's accuracy is the summary's" % (v, s, d),
                  abs(got[key if v == "base" else str(s)] - 100 * summary["datasets"][d]["accuracy"]) < 1e-9,
                  (got, summary["datasets"][d]))
    if v == "base":
        continue
    seeds = [s for s in SEEDS if str(s) in rows[v]["accuracy"][DATASETS[0]]["by_seed"]]
    for d in DATASETS:
        wins = losses = 0
        for s in seeds:
            a, b = correct_of(v, s, d), correct_of("base", 0, d)
            wins += sum(1 for i in a if a[i] and not b[i])
            losses += sum(1 for i in a if b[i] and not a[i])
        got = rows[v]["vs_base"][d]
        check("%s %s: wins and losses from the per-problem files" % (v, d),
              (got["wins"], got["losses"], got["n"]) == (wins, losses, len(seeds)), (got, wins, losses))

md = read(table_path)
os.remove(table_path)
os.remove(os.path.join(RUN, "sweep.json"))
rc, out, err = sweep("--table-only")
check("--table-only rewrites the same table", rc == 0 and read(table_path) == md and
      json.load(open(os.path.join(RUN, "sweep.json"))) == table, err[-800:])
finish()
