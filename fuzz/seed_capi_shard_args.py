"""Writes fuzz/corpus/capi_shard_args/: one valid call of each lr_shard_* entry
point in the byte format fuzz_capi_shard_args.cpp decodes (dl_tensor_inputs.cpp):
2 rows, a 5-column shard at offset 3 of an 8-wide vocabulary, K = 2, W = 2.
The payload alternates int32 0 and 1, so target ids are valid and distinct."""
import os
import struct

F32, BF16, F16, I32, I64, U8 = range(6)
F64 = (6, 2, 64, 1)  # kDLFloat, 64 bits, 1 lane, spelled out


def tensor(shape, dtype):
    code = bytes([dtype]) if isinstance(dtype, int) else bytes(dtype[:3]) + struct.pack("<H", dtype[3])
    # present, ndim + 1, shape, no strides, dtype, CPU, byte_offset 0, data not NULL
    return bytes([1, len(shape) + 1, *shape, 1]) + code + bytes([0, 0, 1])


ABSENT = bytes([0])
SHARD = bytes([1, 3, 8, 8])   # {sizeof, v0 3, Ve 8, Va 8}
PARAMS = bytes([1, 1, 1])     # select, target, loss: the defaults
PAYLOAD = struct.pack("<ii", 0, 1) * 4

calls = {
    "select_stats": [tensor([2, 5], F32), tensor([2, 5], BF16), tensor([2, 6], F64)] + [ABSENT] * 3,
    "select_finish": [tensor([2, 2, 6], F64), tensor([2], F32), tensor([2], U8)] + [ABSENT] * 3,
    "target_candidates": [tensor([2, 5], F32), tensor([2, 5], F32), tensor([2, 2, 6], F64), ABSENT,
                          tensor([2, 7], F32), ABSENT],
    "targets_finish": [tensor([2, 2, 7], F32), tensor([2, 2], I32), tensor([2, 2], F32), tensor([2], I32)]
    + [ABSENT] * 2,
    "loss_stats": [tensor([2, 5], F16), tensor([2, 2], I32), tensor([2, 2], F32), tensor([2, 4], F64)]
    + [ABSENT] * 2,
    "loss_backward": [tensor([2, 5], F32), tensor([2, 2], I32), tensor([2, 2], F32), tensor([2, 2, 4], F64),
                      tensor([], F32), tensor([2, 5], F32)],
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "capi_shard_args")
os.makedirs(out, exist_ok=True)
for op, (name, tensors) in enumerate(calls.items()):
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes([op]) + b"".join(tensors) + SHARD + PARAMS + bytes([0]) + PAYLOAD)
