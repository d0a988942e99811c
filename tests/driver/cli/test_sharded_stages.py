"""Sharded stages on real ranks (loopback, Gloo): `lightreasoner sample`, `eval`
and `sft` started as W ranks with torchrun's variables (W = 1, 2, 3) write the
same bytes as one process without those variables: RUN/supervision.jsonl and
its statistics, RUN/eval/base/gsm8k.jsonl (its summary but for the timing),
RUN/sft/trajectories.jsonl. The shares are uneven (7 training problems in
batches of 2 over 2 and 3 ranks; 5 eval problems). A rank SIGKILLed during
sample stops the others (exit 75, one line naming it) and rerunning the same
command resumes to the same bytes; a run stopped with 3 ranks is finished with
2 (its parts imported); a part with other settings is refused, naming it.

One thread per rank (OMP_NUM_THREADS=1), also for the one-process reference.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_checks import check, finish  # noqa: E402
from ranks import free_port, plain_env, rank_env  # noqa: E402
from ranks import wait_all as wait_all_within  # noqa: E402

BINARY, CONFIG, SCRATCH = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
TIMEOUT = 180
PEER_TIMEOUT = 3
MODELS = os.path.join(SCRATCH, "models")  # every run's models: made once, by the first run's rank 0
SETS = ["data.num_problems=7", "sample.batch_size=2", "sample.max_new_tokens=12",
        "eval.limit=5", "eval.batch_size=2", "eval.max_new_tokens=12",
        "sft.num_problems=5", "sft.max_new_tokens=12", "run.peer_timeout=%d" % PEER_TIMEOUT,
        "models.expert=" + os.path.join(MODELS, "expert"), "models.amateur=" + os.path.join(MODELS, "amateur"),
        "models.make_tiny=false"]
BASE_ENV = plain_env()


def args_for(verb, out_dir, sets=()):
    """The verb on the test's config; later --set values win."""
    extra = ["--model", "base"] if verb == "eval" else []
    overrides = []
    for s in list(SETS) + ["run.out_dir=" + out_dir] + list(sets):
        overrides += ["--set", s]
    return [BINARY, verb, "--config", CONFIG] + overrides + extra


def start(verb, out_dir, world, sets=()):
    """world 0: one process without the variables; else `world` ranks."""
    if world == 0:
        return [subprocess.Popen(args_for(verb, out_dir, sets), env=BASE_ENV, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)]
    port = free_port()
    procs = []
    for r in range(world):
        env = rank_env(BASE_ENV, r, world, port)
        procs.append(subprocess.Popen(args_for(verb, out_dir, sets), env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE))
    return procs


def wait_all(procs):
    return wait_all_within(procs, TIMEOUT)


def run(verb, out_dir, world, sets=()):
    res = wait_all(start(verb, out_dir, world, sets))
    ok = all(rc == 0 for rc, _, _ in res)
    check("%s, %s: every process exits 0" % (os.path.basename(out_dir), verb), ok,
          [(rc, e[-1500:]) for rc, _, e in res])
    return res


def read(path):
    with open(path, "rb") as f:
        return f.read()


def without_seconds(summary_path):
    s = json.loads(read(summary_path))
    for d in s["datasets"].values():
        d.pop("seconds", None)
    return s


def timing_ids(path):
    ids = []
    for line in read(path).decode().splitlines():
        ids += json.loads(line)["ids"]
    return sorted(ids)


def no_parts(run_dir):
    return [os.path.join(dp, n) for dp, _, ns in os.walk(run_dir) for n in ns if "shards" in dp]


SUP, STATS = "supervision.jsonl", "supervision.stats.json"
EVAL, SUMMARY = "eval/base/gsm8k.jsonl", "eval/base/summary.json"
TRAJ = "sft/trajectories.jsonl"

shutil.rmtree(SCRATCH, ignore_errors=True)
os.makedirs(SCRATCH)
t_start = time.time()

# The models, written by rank 0 of the first run (3 ranks) while the others wait.
first = run("sample", os.path.join(SCRATCH, "w3"), 3, ["models.make_tiny=true"])
check("make_tiny on 3 ranks: rank 0 alone writes the models",
      "make-tiny: writing" in first[0][2] and all("make-tiny" not in e for _, _, e in first[1:]) and
      os.path.exists(os.path.join(MODELS, "expert", "config.json")), [e[-300:] for _, _, e in first])

# The one-process reference.
ref = os.path.join(SCRATCH, "ref")
for verb in ("sample", "eval", "sft"):
    run(verb, ref, 0)
ref_bytes = {f: read(os.path.join(ref, f)) for f in (SUP, STATS, EVAL, TRAJ)}
check("reference: problems done, results and trajectories written",
      json.loads(ref_bytes[STATS])["problems_done"] == 7 and len(ref_bytes[EVAL].splitlines()) == 5 and
      len(ref_bytes[TRAJ].splitlines()) == 5, {f: len(b) for f, b in ref_bytes.items()})
check("reference: no per-line timing in the results",
      all("seconds" not in json.loads(l) for l in ref_bytes[EVAL].splitlines() + ref_bytes[TRAJ].splitlines()))
ref_summary = json.loads(read(os.path.join(ref, SUMMARY)))
check("reference: the summary keeps the generation time (from the timing file)",
      ref_summary["datasets"]["gsm8k"]["seconds"] > 0 and
      timing_ids(os.path.join(ref, "eval/base/gsm8k.timing.jsonl")) == sorted(
          json.loads(l)["id"] for l in ref_bytes[EVAL].splitlines()), ref_summary)

for world in (1, 2, 3):
    out = os.path.join(SCRATCH, "w%d" % world)
    res = {verb: run(verb, out, world) for verb in ("sample", "eval", "sft") if not (world == 3 and verb == "sample")}
    res.setdefault("sample", first)
    tag = "world %d: " % world
    for f in (SUP, STATS, EVAL, TRAJ):
        check(tag + f + " equals the one-process file byte for byte", read(os.path.join(out, f)) == ref_bytes[f])
    check(tag + "eval summary equals the one-process one but for its timing",
          without_seconds(os.path.join(out, SUMMARY)) == without_seconds(os.path.join(ref, SUMMARY)))
    check(tag + "every batch timed once, in the timing files",
          timing_ids(os.path.join(out, "eval/base/gsm8k.timing.jsonl")) == list(range(5)) and
          len(timing_ids(os.path.join(out, "sft/trajectories.timing.jsonl"))) == 5)
    check(tag + "no part left", no_parts(out) == [], no_parts(out))
    check(tag + "only rank 0 prints the output paths",
          [len(o.splitlines()) for _, o, _ in res["sample"]] == [1] + [0] * (world - 1), res["sample"])
    check(tag + "each rank has its own log",
          all(os.path.exists(os.path.join(out, "logs", "sample%s.log" % ("" if r == 0 else ".rank%d" % r)))
              for r in range(world)))

# A rerun of a complete sharded sample does nothing to its file.
w2 = os.path.join(SCRATCH, "w2")
before = os.stat(os.path.join(w2, SUP)).st_mtime_ns
res = run("sample", w2, 2)
check("rerun on a complete file: nothing sampled, the file untouched",
      "0 problems sampled now, 7 were already done" in res[0][2] and
      os.stat(os.path.join(w2, SUP)).st_mtime_ns == before, res[0][2][-500:])

# A rank SIGKILLed during sample, at a random point after its first problem.
KILL_SETS = ["data.num_problems=12"]
kill_ref = os.path.join(SCRATCH, "kill_ref")
run("sample", kill_ref, 0, KILL_SETS)
kill_ref_bytes = read(os.path.join(kill_ref, SUP))
rng = random.Random(13)


def kill_during_sample(out, world, victim):
    procs = start("sample", out, world, KILL_SETS)
    part = os.path.join(out, "shards", "supervision.rank%d-of-%d.jsonl" % (victim, world))
    deadline = time.time() + TIMEOUT
    seen = False
    while time.time() < deadline and procs[victim].poll() is None and not seen:
        try:
            seen = b'"done"' in read(part)
        except OSError:
            pass
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.05))
    t0 = time.time()
    procs[victim].send_signal(signal.SIGKILL)
    res = wait_all(procs)
    took = time.time() - t0
    others = [res[r] for r in range(world) if r != victim]
    tag = "world %d, rank %d killed: " % (world, victim)
    check(tag + "killed while working (after its first problem)", seen and res[victim][0] == -9,
          (seen, res[victim][0], res[victim][2][-600:]))
    check(tag + "the others exit 75 with a last line naming rank %d" % victim,
          all(rc == 75 and ("rank %d lost" % victim) in (e.strip().splitlines() or [""])[-1] for rc, _, e in others),
          [(rc, e[-600:]) for rc, _, e in others])
    check(tag + "within the peer timeout's bound (%.1f s)" % took, took < PEER_TIMEOUT + 10, took)
    logs = [read(os.path.join(out, "logs", "sample%s.log" % ("" if r == 0 else ".rank%d" % r))).decode()
            for r in range(world) if r != victim]
    check(tag + "the line is in the others' logs too", all(("rank %d lost" % victim) in l for l in logs),
          [l[-300:] for l in logs])
    return res


out = os.path.join(SCRATCH, "kill2")
kill_during_sample(out, 2, 1)
check("after the kill: the file is not written yet, the parts are there",
      not os.path.exists(os.path.join(out, SUP)) and no_parts(out) != [], no_parts(out))
run("sample", out, 2, KILL_SETS)
check("world 2, rerun after the kill: the same bytes as an uninterrupted run",
      read(os.path.join(out, SUP)) == kill_ref_bytes and no_parts(out) == [])

# Stopped with 3 ranks, finished with 2: the 3-rank parts are imported.
out = os.path.join(SCRATCH, "kill3")
kill_during_sample(out, 3, 2)
parts3 = no_parts(out)
res = run("sample", out, 2, KILL_SETS)
check("stopped with 3 ranks, finished with 2: the same bytes, no part left",
      read(os.path.join(out, SUP)) == kill_ref_bytes and no_parts(out) == [] and parts3 != [], parts3)
stats = json.loads(read(os.path.join(out, STATS)))
check("stopped with 3 ranks, finished with 2: the 3-rank parts' problems not sampled again",
      stats["problems_already_done"] > 0 and stats["problems_this_call"] + stats["problems_already_done"] == 12,
      stats)

# A part made with other settings is refused, naming it.
out = os.path.join(SCRATCH, "bad_part")
os.makedirs(os.path.join(out, "shards"))
bad = os.path.join(out, "shards", "supervision.rank0-of-5.jsonl")
with open(bad, "w") as f:
    f.write(json.dumps({"lightreasoner_supervision": 1, "settings": {"batch_size": 99}}) + "\n")
res = wait_all(start("sample", out, 2))
check("a part with other settings: refused, naming the file",
      all(rc != 0 for rc, _, _ in res) and any(bad in e and "other settings" in e for _, _, e in res),
      [(rc, e[-400:]) for rc, _, e in res])

took = time.time() - t_start
print("took %.1f s" % took)
finish()
