"""The LibTorch adapter's vocabulary-sharded ops with real ranks: 2, 3 and 4
processes of lr_torch_shard_rank (shard_rank.cpp: every check is there)
joined over Gloo on a free loopback port, one thread each. Passes when every
rank of every world size exits 0.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "driver", "support"))
from cli_checks import check, finish  # noqa: E402
from ranks import free_port, plain_env, rank_env, wait_all  # noqa: E402

RANK = sys.argv[1]

for world in (2, 3, 4):
    port = free_port()
    procs = [subprocess.Popen([RANK], env=rank_env(plain_env(), r, world, port), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for r in range(world)]
    res = wait_all(procs, 60)
    failed = [(r, rc, out[-4000:], err[-2000:]) for r, (rc, out, err) in enumerate(res) if rc != 0]
    check("world %d: every rank's checks pass" % world, not failed, failed)
finish()
