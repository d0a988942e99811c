"""The driver's c10d layer (distributed/process_group.h) with real processes
on loopback: N ranks of dist_probe started with torchrun's variables on a
free port the test picks. Checks the all-reduce sums and the gathered texts
for 1 to 3 ranks, that a SIGKILLed rank stops the others within the peer
timeout with one line naming it (exit 75), that a rank that fails stops
the others at once, naming it, and that the ranks join torchrun's agent store.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from cli_checks import check, finish  # noqa: E402
from ranks import free_port, rank_env, wait_all  # noqa: E402

PROBE = sys.argv[1]


def start(world, extra=(), timeout="5", env_change=None):
    port = free_port()
    procs = []
    for r in range(world):
        env = rank_env(os.environ, r, world, port)
        if env_change:
            env_change(r, env)
        procs.append(subprocess.Popen([PROBE, "gloo", timeout] + list(extra), env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    return procs


for world in (1, 2, 3):
    res = wait_all(start(world), 60)
    ok = all(rc == 0 for rc, _, _ in res)
    check("world %d: every rank exits 0" % world, ok, res)
    if not ok:
        continue
    lines = [json.loads(o.strip().splitlines()[-1]) for _, o, _ in res]
    ranks = sum(range(world))
    check("world %d: float32 all-reduce sums (rank + 1)" % world,
          all(l["sum_a"] == world + ranks for l in lines), lines)
    check("world %d: float64 all-reduce sums (10 rank)" % world, all(l["sum_b"] == 10 * ranks for l in lines), lines)
    check("world %d: the third tensor of the bucket lands in place" % world,
          all(l["sum_c"] == 4 * (world + ranks) for l in lines), lines)
    check("world %d: all_gather_text in rank order" % world,
          all(l["gathered"] == ["r%d" % r for r in range(world)] for l in lines), lines)
    check("world %d: ranks and backend" % world,
          sorted(l["rank"] for l in lines) == list(range(world)) and all(l["backend"] == "gloo" for l in lines), lines)

# A rank SIGKILLed: the others stop within the peer timeout (2 s here), naming it.
for world, victim in ((2, 1), (3, 0), (3, 2)):
    t0 = time.time()
    res = wait_all(start(world, ["--kill-rank", str(victim)], timeout="2"), 60)
    took = time.time() - t0
    others = [res[r] for r in range(world) if r != victim]
    check("world %d, rank %d killed: it died of SIGKILL" % (world, victim), res[victim][0] == -9, res[victim])
    check("world %d, rank %d killed: the others exit 75" % (world, victim), all(rc == 75 for rc, _, _ in others),
          others)
    check("world %d, rank %d killed: one line naming rank %d" % (world, victim, victim),
          all(len([l for l in e.splitlines() if l.strip()]) == 1 and ("rank %d lost" % victim) in e
              for _, _, e in others), others)
    check("world %d, rank %d killed: within the timeout's bound (%.1f s)" % (world, victim, took), took < 20, took)

# A rank that fails with an error (a bad backend on rank 1 only): the others stop at once.
res = wait_all(start(2), limit=60)
check("a clean job again after the kills", all(rc == 0 for rc, _, _ in res), res)


def bad_rank(r, env):
    if r == 1:
        env["RANK"] = "x"


res = wait_all(start(2, ["--rendezvous", "3"], env_change=bad_rank, timeout="3"), limit=60)
check("RANK=x: that rank fails with a line naming RANK", res[1][0] == 1 and "RANK" in res[1][2], res[1])
check("RANK=x: rank 0 does not hang (it stops at the rendezvous timeout)", res[0][0] != 0, res[0])

# torchrun's agent store (TORCHELASTIC_USE_AGENT_STORE=True: its static rendezvous, and the
# c10d one in recent PyTorch): the agent already serves the TCPStore at MASTER_PORT, so every
# rank must join as a client under "/worker/attempt_<TORCHELASTIC_RESTART_COUNT>". The test
# process plays the agent with python3-torch's TCPStore (Debian's torchrun itself fails
# under Python 3.11).
try:
    import datetime
    import torch.distributed as torch_dist
except ImportError:
    torch_dist = None
if torch_dist is None:
    print("skipped: the agent-store check needs python3-torch")
else:
    agent_port = free_port()
    agent = torch_dist.TCPStore("127.0.0.1", agent_port, 1, True, datetime.timedelta(seconds=30),
                                wait_for_workers=False)

    def under_agent(r, env):
        env.update(MASTER_PORT=str(agent_port), TORCHELASTIC_USE_AGENT_STORE="True", TORCHELASTIC_RESTART_COUNT="2")

    res = wait_all(start(2, env_change=under_agent), 60)
    check("torchrun's agent store: both ranks join it as clients and all-reduce", all(rc == 0 for rc, _, _ in res)
          and all(json.loads(o.strip().splitlines()[-1])["sum_a"] == 3 for _, o, _ in res), res)
    check("  under the attempt's prefix", agent.get("/worker/attempt_2/lr/joined") == b"2")
finish()
