#!/usr/bin/python3
"""`lightreasoner launch` (distributed/launcher.h) with real processes on
loopback: ranks of lr_dist_probe (--program) and of the driver itself.

  1. 1 to 3 probe ranks: every rank exits 0 with the right sums and its rank,
     local rank and the launcher's 127.0.0.1 port; the launcher says nothing;
  2. a rank SIGKILLed: one launcher line naming it and SIGKILL, exit 137, no
     rank left running (rank 0 too, the store's host, whose peers may exit 75
     before the launcher sees it die);
  3. the peer-lost race made certain: a rank exits 75 before the one that
     failed; the launcher names the failure, not the 75; with only 75s, the 75;
  4. a rank that ignores SIGTERM is SIGKILLed after --peer-grace;
  5. SIGINT / SIGTERM to the launcher reach every rank once (exit 130 / 143),
     a second one kills them; the launcher SIGKILLed takes its ranks with it;
  6. usage errors: one line each;
  7. `launch --nproc 1 -- run` on configs/tiny.toml (a real group of one):
     Ctrl-C stops it resumably with exit 130, the same command finishes.

Usage: test_launch.py LIGHTREASONER DIST_PROBE TINY_TOML SCRATCH_DIR
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_checks import Cli, check, finish  # noqa: E402

BIN, PROBE, CONFIG, SCRATCH = sys.argv[1:5]
ENV = dict(os.environ, OMP_NUM_THREADS="1")
for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
    ENV.pop(name, None)
shutil.rmtree(SCRATCH, ignore_errors=True)
os.makedirs(SCRATCH)


def start(nproc, probe_args, launch_args=(), peer_timeout="30"):
    args = [BIN, "launch", "--nproc", str(nproc)] + list(launch_args) + ["--program", PROBE, "--", "gloo",
                                                                        peer_timeout] + list(probe_args)
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)


def finish_run(p, limit=60):
    try:
        out, err = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    return p.returncode, out.decode(), err.decode()


def pid_dir(name):
    d = os.path.join(SCRATCH, name)
    os.makedirs(d)
    return d


def pids_in(d, n, limit=30, what="pid"):
    """The pids of the n ranks that have written DIR/rank<R>.<what> (pid: started; ready:
    past the first barrier), waiting up to `limit` seconds for all of them."""
    files = [os.path.join(d, "rank%d.%s" % (r, what)) for r in range(n)]
    deadline = time.time() + limit
    while time.time() < deadline and not all(os.path.exists(f) for f in files):
        time.sleep(0.05)
    return [int(open(f).read()) for f in files if os.path.exists(f)]


def running(pid):
    """True while pid is a live process (a zombie is not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def launcher_lines(err):
    return [l for l in err.splitlines() if l.startswith("lightreasoner launch:")]


def none_running(pids, limit=10):
    deadline = time.time() + limit
    while time.time() < deadline and any(running(p) for p in pids):
        time.sleep(0.05)
    return not any(running(p) for p in pids)


# --- 1. 1 to 3 ranks --------------------------------------------------------
for world in (1, 2, 3):
    rc, out, err = finish_run(start(world, []))
    lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    check("world %d: the launcher exits 0 and says nothing" % world, rc == 0 and not launcher_lines(err),
          (rc, err[-2000:]))
    check("world %d: one line per rank, ranks 0..%d with local ranks the same" % (world, world - 1),
          sorted(l["rank"] for l in lines) == list(range(world)) and all(l["local_rank"] == l["rank"] for l in lines)
          and all(l["world"] == world for l in lines), lines)
    ranks = sum(range(world))
    check("world %d: all-reduce sums and gathered texts" % world,
          all(l["sum_a"] == world + ranks and l["sum_b"] == 10 * ranks and l["sum_c"] == 4 * (world + ranks)
              and l["gathered"] == ["r%d" % r for r in range(world)] for l in lines), lines)
    ports = {l["master"] for l in lines}
    check("world %d: one rendezvous address, on 127.0.0.1" % world,
          len(ports) == 1 and ports.pop().startswith("127.0.0.1:"), lines)

# --master-port: the ranks get the port given.
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
rc, out, err = finish_run(start(2, [], ["--master-port", str(port)]))
lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
check("--master-port %d: both ranks rendezvous there" % port,
      rc == 0 and len(lines) == 2 and all(l["master"] == "127.0.0.1:%d" % port for l in lines), (rc, out, err))

# --- 2. a rank SIGKILLed ------------------------------------------------------
for world, victim in ((2, 1), (3, 0)):
    d = pid_dir("killed-%d-%d" % (world, victim))
    t0 = time.time()
    rc, out, err = finish_run(start(world, ["--kill-rank", str(victim), "--pid-dir", d]))
    took = time.time() - t0
    pids = pids_in(d, world, limit=1)
    want = "lightreasoner launch: rank %d of %d failed (killed by SIGKILL); stopped the other ranks" % (victim, world)
    check("world %d, rank %d SIGKILLed: exit 137" % (world, victim), rc == 137, (rc, err[-2000:]))
    check("world %d, rank %d SIGKILLed: one launcher line naming it" % (world, victim),
          launcher_lines(err) == [want], err[-2000:])
    check("world %d, rank %d SIGKILLed: no rank left running" % (world, victim),
          len(pids) == world and none_running(pids, limit=0), pids)
    check("world %d, rank %d SIGKILLed: the others stopped by the launcher, not the 30 s watchdog (%.1f s)"
          % (world, victim, took), took < 25, took)

# --- 3. the peer-lost race ----------------------------------------------------
# Rank 1 exits 75 at once, rank 2 fails (exit 3) a second later: the launcher waits
# for the cause (up to --peer-grace) and names it.
d = pid_dir("race")
rc, out, err = finish_run(start(3, ["--exit", "1:75:0", "--exit", "2:3:1", "--sleep", "60", "--pid-dir", d],
                                ["--peer-grace", "8"], peer_timeout="60"))
check("75 first, exit 3 next: the launcher names rank 2 and exits 3",
      rc == 3 and launcher_lines(err) == ["lightreasoner launch: rank 2 of 3 failed (exit status 3); stopped the "
                                          "other ranks"], (rc, err[-2000:]))
check("and stops rank 0 (no rank left running)", none_running(pids_in(d, 3, limit=1), limit=0))

d = pid_dir("only75")
rc, out, err = finish_run(start(2, ["--exit", "1:75:0", "--sleep", "60", "--pid-dir", d], ["--peer-grace", "1"],
                                peer_timeout="60"))
check("only a 75: named after the grace period, exit 75",
      rc == 75 and launcher_lines(err) == ["lightreasoner launch: rank 1 of 2 failed (exit status 75); stopped the "
                                           "other ranks"], (rc, err[-2000:]))
check("and rank 0 stopped", none_running(pids_in(d, 2, limit=1), limit=0))

# --- 4. SIGTERM ignored: SIGKILL after the grace ---------------------------------
d = pid_dir("stubborn")
rc, out, err = finish_run(start(2, ["--exit", "1:1:0", "--sleep", "60", "--ignore-sigterm", "--pid-dir", d],
                                ["--peer-grace", "1"], peer_timeout="60"))
check("a rank ignoring SIGTERM: the failure named (exit 1), the rank SIGKILLed after the grace",
      rc == 1 and launcher_lines(err) == ["lightreasoner launch: rank 1 of 2 failed (exit status 1); stopped the "
                                          "other ranks"] and none_running(pids_in(d, 2, limit=1), limit=0),
      (rc, err[-2000:]))

# --- 5. signals to the launcher -----------------------------------------------
for sig, status in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
    d = pid_dir("signal-%d" % sig)
    p = start(2, ["--sleep", "60", "--pid-dir", d])
    pids = pids_in(d, 2, what="ready")  # past the rendezvous: the signal finds them sleeping
    p.send_signal(sig)
    rc, out, err = finish_run(p)
    name = signal.Signals(sig).name
    check("%s to the launcher: exit %d, one launcher line" % (name, status),
          rc == status and launcher_lines(err) == ["lightreasoner launch: stopped by %s (forwarded to every rank); "
                                                   "rerun the same command to resume" % name], (rc, err[-2000:]))
    if sig == signal.SIGINT:
        check("SIGINT reached each rank once: each stopped with 'interrupted'",
              all(err.count("rank %d of 2: interrupted" % r) == 1 for r in range(2)), err[-2000:])
    check("%s: no rank left running" % name, len(pids) == 2 and none_running(pids, limit=0), pids)

# Ranks that ignore SIGTERM: the first one is forwarded, a second kills them at once.
d = pid_dir("signal-twice")
p = start(2, ["--sleep", "60", "--ignore-sigterm", "--pid-dir", d])
pids = pids_in(d, 2, what="ready")
p.send_signal(signal.SIGTERM)
time.sleep(0.5)
alive_after_first = all(running(q) for q in pids)
p.send_signal(signal.SIGTERM)
rc, out, err = finish_run(p, limit=20)
check("SIGTERM twice: the first forwarded (ignored here), the second kills the ranks; exit 143",
      alive_after_first and rc == 143 and len(pids) == 2 and none_running(pids, limit=0), (rc, err[-2000:]))

d = pid_dir("launcher-killed")
p = start(2, ["--sleep", "60", "--pid-dir", d])
pids = pids_in(d, 2)
p.send_signal(signal.SIGKILL)
finish_run(p)
check("the launcher SIGKILLed: its ranks end too", len(pids) == 2 and none_running(pids), pids)

# --- 6. usage errors -----------------------------------------------------------
cli = Cli(BIN, 60)
line = cli.one_line_error("--nproc 0: a usage error", ["launch", "--nproc", "0", "--", "run", "--config", CONFIG],
                          code=2)
check("  which names --nproc", "--nproc" in line, line)
line = cli.one_line_error("nothing after --: a usage error", ["launch", "--nproc", "2", "--"], code=2)
check("  which names the missing command", "command" in line, line)
line = cli.one_line_error("an unknown verb: a usage error", ["launch", "--nproc", "2", "--", "frobnicate"], code=2)
check("  which names it and the verbs that run as ranks",
      "'frobnicate'" in line and "sample, train, eval, sft, run" in line, line)
line = cli.one_line_error("a verb that does not run as ranks (tokenize): a usage error",
                          ["launch", "--nproc", "2", "--", "tokenize"], code=2)
check("  which names it", "'tokenize'" in line, line)
missing = os.path.join(SCRATCH, "no-such-program")
line = cli.one_line_error("--program that does not exist: one line", ["launch", "--nproc", "1", "--program", missing,
                                                                      "--", "x"], code=1)
check("  which names the path", missing in line, line)

# --- 7. the driver itself: a group of one, Ctrl-C and resume --------------------
run_dir = os.path.join(SCRATCH, "run")
sets = ["run.out_dir=" + json.dumps(run_dir), "train.updates=40", "train.checkpoint_every=10",
        "data.num_problems=8", "eval.limit=4", "sft.enabled=false"]
command = [BIN, "launch", "--nproc", "1", "--", "run", "--config", CONFIG]
for s in sets:
    command += ["--set", s]
p = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
deadline = time.time() + 120
while time.time() < deadline and p.poll() is None and not os.path.exists(os.path.join(run_dir, "train",
                                                                                     "inputs.json")):
    time.sleep(0.05)
time.sleep(0.5)
p.send_signal(signal.SIGINT)
rc, out, err = finish_run(p, limit=120)
check("launch -- run, Ctrl-C in train: the launcher exits 130, the rank stopped with 'interrupted'",
      rc == 130 and "interrupted" in err and os.path.exists(os.path.join(run_dir, "train", "checkpoint.safetensors")),
      (rc, err[-2000:]))
check("  its log is RUN/logs/run.log (rank 0 of 1)", os.path.exists(os.path.join(run_dir, "logs", "run.log")))
p = subprocess.run(command, capture_output=True, env=ENV, timeout=240)
err = p.stderr.decode()
check("the same command again: exit 0, train resumed, the report written",
      p.returncode == 0 and "resuming after update" in err and p.stdout.decode().strip()
      == os.path.join(run_dir, "report.md"), (p.returncode, err[-2000:]))
metrics = open(os.path.join(run_dir, "train_metrics.jsonl")).read().splitlines() if p.returncode == 0 else []
check("  train_metrics.jsonl has each of the 40 updates once",
      [json.loads(l)["update"] for l in metrics] == list(range(1, 41)), len(metrics))
finish()
