"""LightReasoner: expert/amateur contrastive targets and the distillation loss.

A pure-Python (ctypes) binding of ``liblightreasoner``'s C ABI. Arrays go in
without copies (torch tensors, numpy arrays, anything with ``__dlpack__`` or
the array interface; row-strided views included) and outputs come back of the
caller's kind: numpy arrays for numpy input, torch tensors on the same device
for torch input, CuPy arrays for CuPy input.

The library is found through ``$LIGHTREASONER_LIBRARY`` (a full path), else
the dynamic loader (``liblightreasoner.so.1``), on first use; its ABI major
version must be 1. Call :func:`load_library` to choose a library explicitly.

Example::

    import numpy as np, lightreasoner as lr
    expert = np.random.randn(16, 1000).astype(np.float32)
    amateur = np.random.randn(16, 1000).astype(np.float32)
    kl, keep, ids, weights, support = lr.select_and_build(expert, amateur, k=8)
    loss, grad = lr.distill_loss_backward(expert[keep], ids[keep], weights[keep])

Logits sharded over the vocabulary (tensor parallelism, ABI 1.1): the
``shard_*`` functions are the partial and finish steps around the host's
all-gather; ``lightreasoner.torch.sharded_select_and_build`` and
``sharded_distill_loss`` run them over a ``torch.distributed`` group.
"""

from ._api import (
    DEFAULT_K,
    AbiVersion,
    Array,
    abi_version,
    build_info,
    build_targets,
    distill_loss_backward,
    select_and_build,
    select_steps,
)
from ._native import (
    ABI_VERSION_MAJOR,
    ABI_VERSION_MINOR,
    SHARD_LOSS_STATS,
    SHARD_SELECT_STATS,
    DLDataType,
    DLDevice,
    DLManagedTensor,
    DLTensor,
    LightReasonerError,
    LossParams,
    SelectParams,
    TargetParams,
    VocabShard,
    load_library,
    shard_candidates,
)
from ._shard import (
    shard_loss_backward,
    shard_loss_stats,
    shard_select_finish,
    shard_select_stats,
    shard_target_candidates,
    shard_targets_finish,
)

__version__ = "0.1.0"

__all__ = [
    "ABI_VERSION_MAJOR",
    "ABI_VERSION_MINOR",
    "DEFAULT_K",
    "SHARD_LOSS_STATS",
    "SHARD_SELECT_STATS",
    "AbiVersion",
    "Array",
    "DLDataType",
    "DLDevice",
    "DLManagedTensor",
    "DLTensor",
    "LightReasonerError",
    "LossParams",
    "SelectParams",
    "TargetParams",
    "VocabShard",
    "__version__",
    "abi_version",
    "build_info",
    "build_targets",
    "distill_loss_backward",
    "load_library",
    "select_and_build",
    "select_steps",
    "shard_candidates",
    "shard_loss_backward",
    "shard_loss_stats",
    "shard_select_finish",
    "shard_select_stats",
    "shard_target_candidates",
    "shard_targets_finish",
]
