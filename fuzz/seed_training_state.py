"""Writes fuzz/corpus/training_state/: trainer checkpoints in the format of
adapters/libtorch/driver/checkpoint/training_state_file.h for the fuzz target's
fixed trainer (two float32 parameters, [4, 8] and [8, 4]): one as the trainer
writes it after 3 updates (a CPU generator state), one before any update (no
generator state, zero moments)."""
import json
import os
import struct


def safetensors(tensors, metadata):
    """tensors: [(name, dtype, shape, bytes)] -> the file's bytes (the header
    padded with spaces to 8 bytes, tensors in name order, as the writer does)."""
    header, data = {"__metadata__": metadata}, b""
    for name, dtype, shape, raw in sorted(tensors):
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def floats(n, start, step):
    return struct.pack("<%df" % n, *[start + step * i for i in range(n)])


def state(updates, steps, with_rng):
    tensors = [("updates_done", "I64", [], struct.pack("<q", updates)),
               ("adam.steps", "I64", [2], struct.pack("<2q", *steps))]
    for i, shape in enumerate([[4, 8], [8, 4]]):
        tensors += [("param.%d" % i, "F32", shape, floats(32, 0.01 * (i + 1), 0.001)),
                    ("adam.exp_avg.%d" % i, "F32", shape, floats(32, 0.0, 1e-4 if steps[i] else 0.0)),
                    ("adam.exp_avg_sq.%d" % i, "F32", shape, floats(32, 0.0, 1e-8 if steps[i] else 0.0))]
    if with_rng:
        tensors.append(("rng.0", "U8", [24], bytes(range(24))))
    return safetensors(tensors, {"format": "lightreasoner-training-state", "version": "1"})


out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "training_state")
os.makedirs(out, exist_ok=True)
for name, data in {"after_3_updates": state(3, [3, 3], True), "before_any_update": state(0, [0, 0], False)}.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
