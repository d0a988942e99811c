#!/usr/bin/python3
"""A full disk during every stage of a run (issue 15, item 6): `sample`,
`diagnose`, `train`, `eval`, `sft` and `report`.

The disk fills up through tests/driver/support/full_disk.c, loaded with
LD_PRELOAD: writes to files under the run folder fail with ENOSPC once a byte
budget is spent. For each stage, on the tiny random models of configs/tiny.toml:

  1. an uninterrupted run logs its writes (the shim's log): each kind of file
     the stage writes gives a budget that fills the disk halfway through it
     (the biggest kind of the driver's own twice: the second time the writes
     succeed and fsync finds the disk full, as with delayed allocation);
  2. from a copy of the state before the stage, the stage runs with each
     budget: it exits 1 with one line naming that file and "No space left on
     device" (a plot, which gnuplot writes: report.md, the report's next
     write; the cut plot removed) (no crash, no stack trace), leaves no
     temporary file, and leaves
     nothing half written that the next run would take as complete (every
     JSON file parses; a JSON-lines file is whole lines but for a torn tail
     its reader cuts; a safetensors file and a PNG are whole);
  3. the same command without the budget then finishes, and its outputs equal
     the uninterrupted run's: supervision.jsonl, the eval results files, the
     adapter's tensors and config and train_metrics.jsonl byte for byte, the
     eval summaries, diagnostics.json and the SFT baseline's files but for
     their times, report.md but for its date.

The state before each stage is the one a real run (`lightreasoner run`)
leaves: the stages before it in its order, diagnose and sft included when
they are tested (diagnostics.enabled, sft.enabled). So that sft trains and
exports an adapter (random models rarely answer right), its training problems
are rigged: each one's answer is what the expert answers (test_eval_sft.py).

Usage: test_full_disk.py LIGHTREASONER TINY_TOML FULL_DISK_SO SCRATCH_DIR [STAGE,STAGE...]
(the stages tested, in run order; all six by default)
Prints one line per check and a closing 'N passed, N failed' line.
"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_checks import check, finish  # noqa: E402
from run_folders import safetensors_table  # noqa: E402

BIN, CONFIG, SHIM, SCRATCH = sys.argv[1:5]
SCRATCH = os.path.abspath(SCRATCH)
# Few problems and updates: every stage runs in a second or two.
SETS = ["data.num_problems=8", "train.updates=6", "train.checkpoint_every=2", "eval.limit=8",
        "diagnostics.problems=3", "sft.num_problems=8", "sft.updates=4", "sft.max_new_tokens=16"]
STAGES = ["sample", "diagnose", "train", "eval", "sft", "report"]  # the order of `lightreasoner run`
TESTED = sys.argv[5].split(",") if len(sys.argv) > 5 else STAGES
# diagnose and sft run in a real run only when enabled: here when tested
OPTIONAL = {"diagnose": "diagnostics.enabled", "sft": "sft.enabled"}
SETS += ["%s=%s" % (key, str(stage in TESTED).lower()) for stage, key in OPTIONAL.items()]
RUN_STAGES = [s for s in STAGES[:STAGES.index(TESTED[-1]) + 1] if s not in OPTIONAL or s in TESTED]


def preload():
    """The shim, after the ASan runtime when the program links it (a sanitizer
    build: ASan's runtime must come first)."""
    ldd = subprocess.run(["ldd", BIN], capture_output=True, text=True).stdout
    return ":".join(re.findall(r"libasan\.so\S* => (\S+)", ldd) + [SHIM])


PRELOAD = preload()


def lr(verb, out_dir, budget=None, log=None, late=False, sets=()):
    args = [BIN, verb, "--config", CONFIG, "--set", "run.out_dir=" + json.dumps(out_dir)]
    for s in SETS + list(sets):
        args += ["--set", s]
    env = dict(os.environ, OMP_NUM_THREADS="1", LD_PRELOAD=PRELOAD, LR_FULL_DISK_DIR=os.path.realpath(out_dir))
    if budget is not None:
        env["LR_FULL_DISK_BYTES"] = str(budget)
    if late:
        env["LR_FULL_DISK_LATE"] = "1"
    if log is not None:
        env["LR_FULL_DISK_LOG"] = log
    p = subprocess.run(args, capture_output=True, timeout=300, env=env)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def files_of(run):
    return sorted(os.path.relpath(os.path.join(d, f), run) for d, _, fs in os.walk(run) for f in fs)


def outputs(stage, run):
    """What the stage makes, as compared between runs: {name: bytes or a
    table}, the run folder's path in the bytes replaced by RUN."""
    def of(rel):
        return read(os.path.join(run, rel), "rb").replace(run.encode(), b"RUN")
    if stage == "sample":
        return {"supervision.jsonl": of("supervision.jsonl")}
    if stage == "train":
        return {"adapter tensors": safetensors_table(os.path.join(run, "adapter/adapter_model.safetensors")),
                "adapter/adapter_config.json": of("adapter/adapter_config.json"),
                "train_metrics.jsonl": of("train_metrics.jsonl")}
    if stage == "eval":  # the summaries less their generation times
        return {"eval/" + f: without_seconds(json.loads(of("eval/" + f))) if f.endswith("summary.json")
                else of("eval/" + f) for f in files_of(os.path.join(run, "eval")) if not f.endswith(".timing.jsonl")}
    if stage == "diagnose":
        return {"diagnostics.json": untimed(json.loads(of("diagnostics.json")))}
    if stage == "sft":
        return {"sft/trajectories.jsonl": [untimed(json.loads(l)) for l in of("sft/trajectories.jsonl").splitlines()],
                "sft adapter tensors": safetensors_table(os.path.join(run, "sft/adapter/adapter_model.safetensors")),
                "sft/adapter/adapter_config.json": of("sft/adapter/adapter_config.json"),
                "sft/train_metrics.jsonl": [untimed(json.loads(l)) for l in of("sft/train_metrics.jsonl").splitlines()],
                "sft/summary.json": untimed(json.loads(of("sft/summary.json"))),
                "sft/settings.json": of("sft/settings.json")}
    return {"report.md": re.sub(rb"written \d{4}-\d\d-\d\d \d\d:\d\d UTC", b"written WHEN", of("report.md"))}


def untimed(record):
    """A JSON object less its times (keys that end in "seconds")."""
    return {k: v for k, v in record.items() if not k.endswith("seconds")}


def without_seconds(summary):
    for d in summary["datasets"].values():
        d.pop("seconds")
    return summary


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_IEND = b"\0\0\0\0IEND\xaeB`\x82"  # the last chunk, its CRC


def half_written(run):
    """The files of `run` a reader could take as complete but are not whole: a
    list of 'FILE: why'."""
    bad = []
    for rel in files_of(run):
        path = os.path.join(run, rel)
        if rel.startswith("logs/"):
            continue
        if rel.endswith(".json"):
            try:
                json.loads(read(path))
            except ValueError as e:
                bad.append("%s: not whole JSON (%s)" % (rel, e))
        elif rel.endswith(".jsonl"):
            # Whole lines; a torn last line (no newline) is cut by its reader.
            for i, line in enumerate(read(path, "rb").split(b"\n")[:-1]):
                try:
                    json.loads(line)
                except ValueError:
                    bad.append("%s:%d: a line that is not JSON" % (rel, i + 1))
        elif rel.endswith(".safetensors"):
            try:
                data = read(path, "rb")
                n = int.from_bytes(data[:8], "little")
                header = json.loads(data[8:8 + n])
                end = max([v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"] or [0])
                if len(data) != 8 + n + end:
                    bad.append("%s: %d bytes, its header says %d" % (rel, len(data), 8 + n + end))
            except ValueError as e:
                bad.append("%s: not a safetensors file (%s)" % (rel, e))
        elif rel.endswith(".png"):  # gnuplot writes the plots in place: a whole one or none
            data = read(path, "rb")
            if not (data.startswith(PNG_SIGNATURE) and data.endswith(PNG_IEND)):
                bad.append("%s: not a whole PNG (%d bytes)" % (rel, len(data)))
        elif ".tmp." in rel:
            bad.append("%s: a temporary file left behind" % rel)
    return bad


def error_line(err):
    lines = [l for l in err.replace("\r", "\n").splitlines() if l.strip()]
    return lines[-1] if lines else ""


def mid_file_budgets(writes):
    """From the shim's log of a run: for each kind of file written (by name:
    eval/base/x and eval/tuned/x are one kind; a temporary file is its
    target's), (name, the budget that fills the disk about halfway through
    its bytes, its bytes, False: not late); and the bytes written in all."""
    entries = []
    for line in writes.splitlines():
        start, n, path = line.split(" ", 2)
        entries.append((int(start), int(n), re.sub(r"\.tmp\.\d+$", "", os.path.basename(path))))
    entries.sort()
    size = {}
    for _, n, name in entries:
        size[name] = size.get(name, 0) + n
    seen, out = {}, []
    for start, n, name in entries:
        # the budget ends in the middle of the write that holds the file's
        # middle byte: a few bytes more or less written before it (the times
        # in stage_seconds.json, summaries, timing lines) still land it there
        middle, before = max(1, size[name] // 2), seen.get(name, 0)
        if before < middle <= before + n:
            out.append((name, start + n // 2, size[name], False))
        seen[name] = before + n
    return out, sum(n for _, n, _ in entries)


shutil.rmtree(SCRATCH, ignore_errors=True)
os.makedirs(SCRATCH)

# --- 1. the uninterrupted run, the state before each stage, its writes ---
# The tiny models live outside the run folders (their marker names their
# tokenizer's path): every run uses the same ones.
models = os.path.join(SCRATCH, "models")
rc, _, err = lr("sample", models)
check("the tiny models are made", rc == 0, err[-2000:])
SETS += ["models.make_tiny=false", "models.expert=" + json.dumps(os.path.join(models, "models/tiny-expert")),
         "models.amateur=" + json.dumps(os.path.join(models, "models/tiny-amateur"))]
if "sft" in TESTED:
    # The training problems rigged: those the expert gives an answer to
    # (random text rarely holds a number), with that answer, then the rest.
    rc, _, err = lr("sft", models, sets=["sft.num_problems=64"])
    answered, other = [], []
    for line in read(os.path.join(models, "sft/trajectories.jsonl")).splitlines():
        t = json.loads(line)
        (answered if t["pred"] else other).append({"question": t["question"], "answer": t["pred"] or t["gold"]})
    rigged = os.path.join(SCRATCH, "rigged.jsonl")
    with open(rigged, "w") as f:
        f.writelines(json.dumps(p) + "\n" for p in answered + other)
    check("sft's training problems rigged: %d of 64 answered" % len(answered), rc == 0 and answered, err[-2000:])
    SETS += ["data.train_file=" + json.dumps(rigged)]
ref = os.path.join(SCRATCH, "ref")
before, budgets = {}, {}
os.makedirs(ref)
for stage in RUN_STAGES:
    before[stage] = os.path.join(SCRATCH, "before-" + stage)
    shutil.copytree(ref, before[stage])
    log = os.path.join(SCRATCH, stage + ".writes")
    rc, _, err = lr(stage, ref, log=log)
    budgets[stage], total = mid_file_budgets(read(log))
    # and the biggest kind again, the disk found full only when it is flushed
    # (of the driver's own files: gnuplot does not flush the plots)
    budgets[stage].append(max((b for b in budgets[stage] if not b[0].endswith(".png")), key=lambda b: b[2])[:2]
                          + (0, True))
    check("%s uninterrupted: exit 0, %d bytes written to %d kinds of file" % (stage, total, len(budgets[stage])),
          rc == 0 and total > 0, err[-2000:])
reference = {stage: outputs(stage, ref) for stage in TESTED}

# --- 2. and 3. each stage on a full disk, then resumed ------------------
for stage in TESTED:
    for name, budget, _, late in budgets[stage]:
        run = os.path.join(SCRATCH, "%s-%d%s" % (stage, budget, "-late" if late else ""))
        shutil.copytree(before[stage], run)
        rc, out, err = lr(stage, run, budget=budget, late=late)
        line = error_line(err)
        what = "%s, the disk full halfway through its %s (%d bytes free%s)" % (
            stage, name, budget, ", found at fsync" if late else "")
        # A plot is gnuplot's: the report drops it cut short, and then meets
        # the full disk writing report.md.
        named = "report.md" if name.endswith(".png") else name
        check(what + ": exit 1 with one line naming the file and the full disk",
              rc == 1 and line.startswith("lightreasoner: " + run + "/") and "No space left on device" in line
              and named in line and err.count("No space left") == 1, "rc=%d line=%r" % (rc, line))
        check(what + ": no crash, abort or stack trace",
              not any(s in err for s in ("terminate called", "Exception raised from", "frame #", "Aborted")),
              err[-2000:])
        bad = half_written(run)
        check(what + ": nothing half written", not bad, bad)
        rc, _, err = lr(stage, run)
        check(what + ": the same command then finishes", rc == 0, err[-2000:])
        if rc == 0:
            got = outputs(stage, run)
            diff = [k for k in reference[stage] if got.get(k) != reference[stage][k]]
            check(what + ": and its outputs equal the uninterrupted run's (%s)" % ", ".join(sorted(got)),
                  not diff and sorted(got) == sorted(reference[stage]), diff)
        shutil.rmtree(run)

finish()
