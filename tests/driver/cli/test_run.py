#!/usr/bin/python3
"""End-to-end tests of `lightreasoner run` and `lightreasoner report` on the
tiny random models of configs/tiny.toml (its fallback tokenizer: no network,
no fixture).

  1. the whole run (sample -> train -> eval -> sft -> report) finishes, in
     under 2 minutes, with every output in place;
  2. report.md has the paper's Table 1 and Table 2 rows, the sampling
     statistics, and PNG plots that are real PNGs of plausible size;
  3. a second `run` skips every stage ("skipped: complete"), and one with a
     stage's outputs removed redoes that stage only;
  4. `sample` killed (SIGKILL) at random points and resumed writes the same
     supervision file as an uninterrupted run, and so does `train` for its
     adapter tensors and metrics;
  5. Ctrl-C (SIGINT) in `run` leaves a state the next `run` finishes;
  6. `report` on a run with stages missing shows them as "—", without failing,
     and without gnuplot says so (the plots need gnuplot-nox: install_deps.sh);
     a plot gnuplot leaves cut short (a full disk) is removed, noted, not linked.

Usage: test_run.py LIGHTREASONER TINY_TOML SCRATCH_DIR [SEED]
Prints one line per check and a closing 'N passed, N failed' line.
"""
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_checks import check, finish  # noqa: E402

BIN, CONFIG, SCRATCH = sys.argv[1:4]
SEED = int(sys.argv[4]) if len(sys.argv) > 4 else random.randrange(1 << 30)
rng = random.Random(SEED)
print("seed %d (rerun with it as the 4th argument to repeat the kill points)" % SEED)


def lr(verb, out_dir, *sets, timeout=600, env=None):
    args = [BIN, verb, "--config", CONFIG, "--set", "run.out_dir=" + json.dumps(out_dir)]
    for s in sets:
        args += ["--set", s]
    t = time.time()
    p = subprocess.run(args, capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode(), time.time() - t


def start(verb, out_dir, *sets):
    args = [BIN, verb, "--config", CONFIG, "--set", "run.out_dir=" + json.dumps(out_dir)]
    for s in sets:
        args += ["--set", s]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def safetensors(path):
    """name -> (dtype, shape, raw bytes)"""
    data = read(path, "rb")
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        b, e = t["data_offsets"]
        out[name] = (t["dtype"], t["shape"], body[b:e])
    return out


def png_info(path):
    """(width, height) when the file is a PNG, else None."""
    data = read(path, "rb")
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def kill_at_random(verb, out_dir, full_seconds, sets=(), tries=3):
    """Starts `verb`, SIGKILLs it at a random time within the uninterrupted
    run's duration, `tries` times, then lets it finish. Returns the kill times."""
    kills = []
    for _ in range(tries):
        p = start(verb, out_dir, *sets)
        delay = rng.uniform(0.1, max(0.2, full_seconds))
        try:
            p.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills.append(round(delay, 2))
        p.stdout.close()
        p.stderr.close()
    rc, out, err, _ = lr(verb, out_dir, *sets)
    return kills, rc, err


shutil.rmtree(SCRATCH, ignore_errors=True)
os.makedirs(SCRATCH)

# --- 1. the whole run -----------------------------------------------------
e2e = os.path.join(SCRATCH, "e2e")
rc, out, err, secs = lr("run", e2e)
report = os.path.join(e2e, "report.md")
check("run exits 0", rc == 0, err[-3000:])
check("run prints the report's path", out.strip() == report, out)
check("run takes under 2 minutes (%.1f s)" % secs, secs < 120)
for rel in ["models/tiny-tokenizer/tokenizer.json", "models/tiny-expert/model.safetensors",
            "models/tiny-amateur/model.safetensors", "supervision.jsonl", "supervision.stats.json",
            "train/checkpoint.safetensors", "train/complete.json", "adapter/adapter_config.json",
            "adapter/adapter_model.safetensors", "train_metrics.jsonl", "eval/base/summary.json",
            "eval/tuned/summary.json", "eval/base/gsm8k.jsonl", "sft/summary.json", "stage_seconds.json",
            "report.md"]:
    check("output " + rel, os.path.exists(os.path.join(e2e, rel)))
stats = json.loads(read(os.path.join(e2e, "supervision.stats.json")))
check("the tiny models give supervised steps (%d of %d positions)" % (stats["records"], stats["positions_scored"]),
      stats["records"] > 0 and stats["problems_done"] == 16, stats)
run_log = read(os.path.join(e2e, "logs", "run.log")) if os.path.exists(os.path.join(e2e, "logs", "run.log")) else ""
check("logs/run.log has the run's stage lines and its last line", "] sample" in run_log and "the report is" in run_log,
      run_log[-2000:])
check("logs/run.log keeps no progress redraws (no carriage returns)", "\r" not in run_log)
check("logs/run.log names the BLAS once, at its start (runtime/blas_info.h)",
      run_log.count(" BLAS: ") == 1 and run_log.find(" BLAS: ") < run_log.find("] sample"), run_log[:600])
for stage in ["sample", "train", "eval", "sft"]:
    check("run prints the %s stage" % stage, "] " + stage in err, err[-2000:])

# --- 2. the report --------------------------------------------------------
md = read(report) if os.path.exists(report) else ""
for row in ["## Table 1", "| Model | GSM8K | AVG. |", "| Expert (base) |", "| + Rejection SFT |",
            "| + LightReasoner |", "## Table 2", "| Method | Time | Problems | Tuned tokens |",
            "| Rejection SFT |", "| LightReasoner |", "## Sampling statistics", "kept fraction",
            "single-token labels", "Support sizes", "KL bin", "Smoke run on tiny random models",
            "## Training"]:
    check("report has %r" % row, row in md, md[:3000])
lr_row = [l for l in md.splitlines() if l.startswith("| LightReasoner |")]
check("Table 2 LightReasoner row: 16 problems, the supervised steps as tuned tokens",
      lr_row and ("| 16 |" in lr_row[0]) and ("| %d |" % stats["records"]) in lr_row[0], lr_row)
base = json.loads(read(os.path.join(e2e, "eval/base/summary.json")))
acc = 100 * base["datasets"]["gsm8k"]["accuracy"]
base_row = [l for l in md.splitlines() if l.startswith("| Expert (base) |")]
check("Table 1 base row shows the summary's accuracy (%.1f)" % acc,
      base_row and ("| %.1f |" % acc) in base_row[0], base_row)
sft = json.loads(read(os.path.join(e2e, "sft/summary.json")))
sft_row = [l for l in md.splitlines() if l.startswith("| + Rejection SFT |")]
if sft.get("kept", 0) == 0:
    check("Table 1 SFT row is '—' with a note when no trajectory was kept",
          sft_row and "—" in sft_row[0] and "no trajectory was graded correct" in md, sft_row)
else:
    check("Table 1 SFT row has a number", sft_row and "—" not in sft_row[0], sft_row)
for png, (w, h) in [("kl_histogram.png", (900, 540)), ("train_loss.png", (900, 540)), ("accuracy.png", (900, 540))]:
    path = os.path.join(e2e, "plots", png)
    info = png_info(path) if os.path.exists(path) else None
    size = os.path.getsize(path) if os.path.exists(path) else 0
    check("plots/%s is a %dx%d PNG of plausible size (%d bytes)" % (png, w, h, size),
          info == (w, h) and 5000 < size < 2000000, info)
    check("report links plots/%s" % png, "(plots/%s)" % png in md)

# --- 3. a second run skips complete stages; a removed output is remade ----
rc, out, err, secs = lr("run", e2e)
skipped = err.count("skipped: complete")
check("second run: every stage skipped (%d skips, %.1f s)" % (skipped, secs),
      rc == 0 and skipped == 5 and out.strip() == report, err[-2000:])
shutil.rmtree(os.path.join(e2e, "eval", "tuned"))
rc, out, err, secs = lr("run", e2e)
lines = err.splitlines()
check("run after removing eval/tuned: sample, train and sft skipped, eval redone",
      rc == 0 and any("] sample: skipped" in l for l in lines) and any("] train: skipped" in l for l in lines)
      and any("] sft: skipped" in l for l in lines) and any(l.endswith("] eval") for l in lines)
      and os.path.exists(os.path.join(e2e, "eval/tuned/summary.json")), err[-2000:])

# --- 4a. sample: SIGKILL at random points, then resume --------------------
# More, smaller batches than tiny.toml so that kills land between and inside batches.
models = ["models.make_tiny=false", "models.expert=" + json.dumps(os.path.join(e2e, "models/tiny-expert")),
          "models.amateur=" + json.dumps(os.path.join(e2e, "models/tiny-amateur")),
          "data.num_problems=24", "sample.batch_size=2"]
ref = os.path.join(SCRATCH, "sample-ref")
rc, out, err, full = lr("sample", ref, *models)
check("uninterrupted sample exits 0 (%.1f s)" % full, rc == 0, err[-2000:])
killed = os.path.join(SCRATCH, "sample-killed")
kills, rc, err = kill_at_random("sample", killed, full, models)
a = read(os.path.join(ref, "supervision.jsonl"))
b = read(os.path.join(killed, "supervision.jsonl")) if os.path.exists(os.path.join(killed, "supervision.jsonl")) else ""
check("sample killed at %s s and resumed: supervision.jsonl identical to the uninterrupted run's (%d lines)"
      % (kills, a.count("\n")), rc == 0 and a == b and a.count("\n") > 24, err[-2000:])
sa = json.loads(read(os.path.join(ref, "supervision.stats.json")))
sb = json.loads(read(os.path.join(killed, "supervision.stats.json")))
same = all(sa[k] == sb[k] for k in ["records", "positions_scored", "kl_histogram", "support_histogram"])
check("and the same statistics", same, (sa, sb))

# --- 4b. train: SIGKILL at random points, then resume ---------------------
tsets = models + ["train.updates=40", "train.checkpoint_every=3"]
tref = os.path.join(SCRATCH, "train-ref")
tkilled = os.path.join(SCRATCH, "train-killed")
for d in [tref, tkilled]:
    os.makedirs(d)
    for f in ["supervision.jsonl", "supervision.stats.json"]:
        shutil.copy(os.path.join(ref, f), os.path.join(d, f))
rc, out, err, full = lr("train", tref, *tsets)
check("uninterrupted train exits 0 (%.1f s)" % full, rc == 0, err[-2000:])
kills, rc, err = kill_at_random("train", tkilled, full, tsets)
ta = safetensors(os.path.join(tref, "adapter/adapter_model.safetensors"))
tb = safetensors(os.path.join(tkilled, "adapter/adapter_model.safetensors")) \
    if os.path.exists(os.path.join(tkilled, "adapter/adapter_model.safetensors")) else {}
check("train killed at %s s and resumed: adapter tensors identical to the uninterrupted run's (%d tensors)"
      % (kills, len(ta)), rc == 0 and len(ta) > 0 and ta == tb,
      err[-2000:] + " differing: %s" % [k for k in ta if ta.get(k) != tb.get(k)][:4])
ma = read(os.path.join(tref, "train_metrics.jsonl"))
mb = read(os.path.join(tkilled, "train_metrics.jsonl"))
check("and train_metrics.jsonl identical (40 updates, none twice)", ma == mb and ma.count("\n") == 40,
      (ma.count("\n"), mb.count("\n")))

# --- 5. Ctrl-C in run, then run again -------------------------------------
intr = os.path.join(SCRATCH, "interrupted")
isets = models + ["train.updates=200", "train.checkpoint_every=50", "sft.enabled=false"]
p = start("run", intr, *isets)
deadline = time.time() + 120
while time.time() < deadline and not os.path.exists(os.path.join(intr, "train", "inputs.json")):
    time.sleep(0.05)
time.sleep(1.0)
p.send_signal(signal.SIGINT)
out, err = p.communicate(timeout=120)
err = err.decode()
check("Ctrl-C in run's train stage: stops with 'interrupted' and a checkpoint",
      p.returncode != 0 and "interrupted" in err and os.path.exists(os.path.join(intr, "train/checkpoint.safetensors")),
      "rc=%s %s" % (p.returncode, err[-1500:]))
rc, out, err, secs = lr("run", intr, *isets)
check("the next run skips sample, resumes train and finishes",
      rc == 0 and "] sample: skipped: complete" in err and "resuming after update" in err
      and os.path.exists(os.path.join(intr, "report.md")), err[-2000:])
metrics = read(os.path.join(intr, "train_metrics.jsonl")).splitlines()
check("its train_metrics.jsonl has each of the 200 updates once",
      [json.loads(l)["update"] for l in metrics] == list(range(1, 201)), len(metrics))

# --- 6. report with stages missing ----------------------------------------
partial = os.path.join(SCRATCH, "partial")
os.makedirs(partial)
for f in ["supervision.jsonl", "supervision.stats.json"]:
    shutil.copy(os.path.join(ref, f), os.path.join(partial, f))
rc, out, err, _ = lr("report", partial, *models)
md = read(os.path.join(partial, "report.md")) if rc == 0 else ""
check("report on a sampled-only run exits 0", rc == 0, err[-2000:])
check("its tables show the missing stages as '—' with notes",
      "| Expert (base) | — | — |" in md and "| + LightReasoner | — | — |" in md and "| Rejection SFT | — |" in md
      and "not evaluated yet" in md and "not trained yet" in md, md[:2500])
check("its KL histogram is drawn, the missing curves noted",
      os.path.exists(os.path.join(partial, "plots/kl_histogram.png")) and "no train_metrics.jsonl yet" in md, md[-1500:])
empty = os.path.join(SCRATCH, "empty")
rc, out, err, _ = lr("report", empty, *models)
check("report on an empty run folder exits 0 with every part '—'",
      rc == 0 and "no sampling statistics yet" in read(os.path.join(empty, "report.md")), err[-1000:])

nognuplot = os.path.join(SCRATCH, "no-gnuplot")
shutil.copytree(partial, nognuplot)
shutil.rmtree(os.path.join(nognuplot, "plots"))
rc, out, err, _ = lr("report", nognuplot, *models, env=dict(os.environ, PATH="/nonexistent"))
md = read(os.path.join(nognuplot, "report.md")) if rc == 0 else ""
check("report without gnuplot on the PATH: exits 0, says so, keeps the script and data",
      rc == 0 and "gnuplot is not installed" in md and os.path.exists(os.path.join(nognuplot, "plots/plots.gp"))
      and not os.path.exists(os.path.join(nognuplot, "plots/kl_histogram.png")), err[-1000:] + md[-800:])

# A gnuplot that writes each plot cut short: the signature, no IEND (what a full disk leaves).
cutplots = os.path.join(SCRATCH, "cut-plots")
shutil.copytree(partial, cutplots)
fake = os.path.join(SCRATCH, "cut-gnuplot")
os.makedirs(fake)
with open(os.path.join(fake, "gnuplot"), "w") as f:
    f.write("#!/usr/bin/python3\nimport re, sys\n"
            "for p in re.findall(r\"^set output '(.*)'$\", open(sys.argv[1]).read(), re.M):\n"
            "    open(p.replace(\"''\", \"'\"), 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + bytes(100))\n")
os.chmod(os.path.join(fake, "gnuplot"), 0o755)
rc, out, err, _ = lr("report", cutplots, *models, env=dict(os.environ, PATH=fake + os.pathsep + os.environ["PATH"]))
md = read(os.path.join(cutplots, "report.md")) if rc == 0 else ""
png = os.path.join(cutplots, "plots/kl_histogram.png")
check("report with a plot cut short: exits 0, removes it, names it in a note, links no plot",
      rc == 0 and not os.path.exists(png) and png + " was cut short" in md and "](plots/" not in md,
      err[-1000:] + md[-800:])

finish()
