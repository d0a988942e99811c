"""What the training tests share: a run folder made from another's models and
supervision file, and the tensors of a safetensors file read from its own header.
"""
import json
import os
import shutil
import struct


def run_with_supervision(scratch, name, source):
    """A fresh run folder SCRATCH/NAME holding `source`'s tiny models and supervision file only."""
    run = os.path.join(scratch, name)
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(run)
    shutil.copytree(os.path.join(source, "models"), os.path.join(run, "models"))
    for f in ("supervision.jsonl", "supervision.stats.json"):
        shutil.copy(os.path.join(source, f), run)
    return run


def safetensors_table(path):
    """{name: (dtype, shape, bytes)} read from the file's own header."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()}
