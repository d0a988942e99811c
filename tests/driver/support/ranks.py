"""What the tests that start ranks of a torch.distributed job share: a free
loopback port, torchrun's six variables for rank r, an environment without
them (one thread per process), and waiting for every rank with a time limit.
"""
import os
import socket
import subprocess

LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def free_port():
    """A port free on 127.0.0.1 now (the tests use no other address)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def plain_env(**extra):
    """This process's environment without the launch variables, one thread per process."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for name in LAUNCH_VARIABLES:
        env.pop(name, None)
    env.update(extra)
    return env


def rank_env(base, rank, world, port):
    """`base` plus torchrun's variables for `rank` of `world` on one machine."""
    return dict(base, RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
                MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))


def wait_all(procs, limit):
    """[(returncode, stdout, stderr)] of every process; one past `limit` seconds is killed (-9)."""
    out = []
    for p in procs:
        try:
            o, e = p.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            p.kill()
            o, e = p.communicate()
        out.append((p.returncode, o.decode(), e.decode()))
    return out

