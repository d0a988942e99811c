"""The vocabulary-sharded calls of ABI 1.1 (``lr_shard_*``), one function each.

For tensor-parallel hosts that hold each model's logits split by contiguous
vocabulary ranges: a *partial* call on the rank's own shard writes a small
record per row, the host all-gathers the records over the ranks into
``[W, rows, width]`` (``np.stack`` / ``torch.stack`` of the ranks' records in
any fixed order of shards), and a *finish* call gives what the unsharded
call gives. ``lightreasoner.torch`` wraps the three steps around a
``torch.distributed`` group; these are the steps themselves, for any host.

Every function takes the shard's place as ``column_offset`` (the global id
of its column 0) and the models' full widths; the header
(``lightreasoner.h``, "ABI 1.1") states the contract: which columns each
shard may hold, the record layouts, the bytes per row.
"""

from __future__ import annotations

import ctypes
from contextlib import ExitStack
from typing import Any, Optional, Sequence, Tuple, Union

from . import _native as n
from ._api import DEFAULT_K, Array, _borrow_rows, _enter, _loss_call, _rows, _stream
from ._tensors import Factory, borrow


def shard_select_stats(
    expert_shard: Array,
    amateur_shard: Array,
    column_offset: int,
    expert_vocab: int,
    amateur_vocab: int,
    *,
    temperature: Optional[float] = None,
    shared_vocab: Optional[int] = None,
) -> Array:
    """Stage 1, partial: the shard's KL statistics (``lr_shard_select_stats``).

    Args:
        expert_shard: the expert's columns ``[column_offset, column_offset +
            Ve_r)`` of every row, ``[N, Ve_r]``, float32 / bfloat16 / float16.
        amateur_shard: the amateur's columns from the same offset, ``[N, Va_r]``.
        column_offset: the global id of the shards' column 0.
        expert_vocab, amateur_vocab: the models' full widths Ve, Va.
        temperature, shared_vocab: as for :func:`select_steps` (None: the
            library's default; shared_vocab 0 = min(Ve, Va)).

    Returns:
        ``stats``: float64 ``[N, SHARD_SELECT_STATS]``, of the caller's kind,
        to be all-gathered into ``[W, N, SHARD_SELECT_STATS]``.
    """
    fn = n.shard_function("lr_shard_select_stats")
    f = Factory(expert_shard, "expert_shard")
    with ExitStack() as stack:
        e = _enter(stack, borrow(expert_shard, "expert_shard", f.stream))
        a = _enter(stack, borrow(amateur_shard, "amateur_shard", f.stream))
        stats = f.empty((_rows(e), n.SHARD_SELECT_STATS), "float64")
        s_b = _enter(stack, borrow(stats, "stats"))
        sh = n.vocab_shard(column_offset, expert_vocab, amateur_vocab)
        p = n.select_params(None, temperature, shared_vocab)
        n.check(fn(e.ref, a.ref, ctypes.byref(sh), ctypes.byref(p), s_b.ref, _stream(f)))
    return stats


def shard_select_finish(
    stats: Array,
    *,
    kl_threshold: Optional[float] = None,
    temperature: Optional[float] = None,
    shared_vocab: Optional[int] = None,
) -> Tuple[Array, Array]:
    """Stage 1, finish: KL and keep from the gathered stats (``lr_shard_select_finish``).

    Args:
        stats: float64 ``[W, N, SHARD_SELECT_STATS]``, the ranks' records of
            :func:`shard_select_stats`, stacked.
        kl_threshold, temperature, shared_vocab: as for :func:`select_steps`,
            and as given to :func:`shard_select_stats`.

    Returns:
        ``(kl, keep)`` exactly as :func:`select_steps` returns them.
    """
    fn = n.shard_function("lr_shard_select_finish")
    f = Factory(stats, "stats")
    with ExitStack() as stack:
        s_b = _enter(stack, borrow(stats, "stats", f.stream))
        rows = s_b.shape[1] if len(s_b.shape) == 3 else 0
        kl = f.empty((rows,), "float32")
        keep = f.empty((rows,), "uint8")
        kl_b = _enter(stack, borrow(kl, "kl"))
        keep_b = _enter(stack, borrow(keep, "keep"))
        p = n.select_params(kl_threshold, temperature, shared_vocab)
        n.check(fn(s_b.ref, ctypes.byref(p), kl_b.ref, keep_b.ref, _stream(f)))
    return kl, f.as_bool(keep)


def shard_target_candidates(
    expert_shard: Array,
    amateur_shard: Array,
    column_offset: int,
    expert_vocab: int,
    amateur_vocab: int,
    stats: Array,
    rows: Union[Array, Sequence[int], None] = None,
    *,
    k: int = DEFAULT_K,
    beta: Optional[float] = None,
    temperature: Optional[float] = None,
    shared_vocab: Optional[int] = None,
) -> Array:
    """Stage 1, partial: the shard's support members (``lr_shard_target_candidates``).

    Args:
        expert_shard, amateur_shard, column_offset, expert_vocab,
            amateur_vocab: as for :func:`shard_select_stats`.
        stats: the gathered ``[W, N, SHARD_SELECT_STATS]`` records (the
            global maximum decides the support).
        rows: row indices as for :func:`build_targets`; None = all N rows.
        k: target slots per row (the same on every rank).
        beta, temperature, shared_vocab: as for :func:`build_targets`.

    Returns:
        ``candidates``: float32 ``[M, shard_candidates(k)]``, to be
        all-gathered into ``[W, M, shard_candidates(k)]``.
    """
    fn = n.shard_function("lr_shard_target_candidates")
    f = Factory(expert_shard, "expert_shard")
    with ExitStack() as stack:
        e = _enter(stack, borrow(expert_shard, "expert_shard", f.stream))
        a = _enter(stack, borrow(amateur_shard, "amateur_shard", f.stream))
        s_b = _enter(stack, borrow(stats, "stats", f.stream))
        r, m = _borrow_rows(stack, f, rows, _rows(e))
        cands = f.empty((m, n.shard_candidates(max(int(k), 0))), "float32")
        c_b = _enter(stack, borrow(cands, "candidates"))
        sh = n.vocab_shard(column_offset, expert_vocab, amateur_vocab)
        p = n.target_params(beta, temperature, shared_vocab)
        r_ref = None if r is None else r.ref
        n.check(fn(e.ref, a.ref, ctypes.byref(sh), s_b.ref, r_ref, ctypes.byref(p), c_b.ref, _stream(f)))
    return cands


def shard_targets_finish(
    candidates: Array,
    *,
    beta: Optional[float] = None,
    temperature: Optional[float] = None,
    shared_vocab: Optional[int] = None,
) -> Tuple[Array, Array, Array]:
    """Stage 1, finish: the targets from the gathered candidates (``lr_shard_targets_finish``).

    Args:
        candidates: float32 ``[W, M, shard_candidates(k)]``, the ranks'
            records of :func:`shard_target_candidates`, stacked; k is read
            from the record width.
        beta, temperature, shared_vocab: as given to
            :func:`shard_target_candidates`.

    Returns:
        ``(ids, weights, support_size)`` exactly as :func:`build_targets`
        returns them, with global ids.

    Raises:
        ValueError: ``candidates`` is not three-dimensional.
    """
    fn = n.shard_function("lr_shard_targets_finish")
    f = Factory(candidates, "candidates")
    with ExitStack() as stack:
        c_b = _enter(stack, borrow(candidates, "candidates", f.stream))
        if len(c_b.shape) != 3:
            raise ValueError(f"candidates: expected [W, M, 1 + 3k], got shape {c_b.shape}")
        m = c_b.shape[1]
        k = max((c_b.shape[2] - 1) // 3, 1)  # a width that is not 1 + 3k: the library names it
        ids = f.empty((m, k), "int32")
        weights = f.empty((m, k), "float32")
        support = f.empty((m,), "int32")
        ids_b = _enter(stack, borrow(ids, "ids"))
        w_b = _enter(stack, borrow(weights, "weights"))
        s_b = _enter(stack, borrow(support, "support_size"))
        p = n.target_params(beta, temperature, shared_vocab)
        n.check(fn(c_b.ref, ctypes.byref(p), ids_b.ref, w_b.ref, s_b.ref, _stream(f)))
    return ids, weights, support


def shard_loss_stats(
    logits_shard: Array,
    column_offset: int,
    vocab: int,
    target_ids: Array,
    target_weights: Array,
    *,
    temperature: Optional[float] = None,
) -> Array:
    """Stage 2, partial: the shard's softmax statistics (``lr_shard_loss_stats``).

    Args:
        logits_shard: the trained model's columns ``[column_offset,
            column_offset + V_r)``, ``[N, V_r]``.
        column_offset: the global id of the shard's column 0.
        vocab: the full width V.
        target_ids, target_weights: the full targets ``[N, K]`` with global
            ids (the same on every rank), as for :func:`distill_loss_backward`.
        temperature: as for :func:`distill_loss_backward`.

    Returns:
        ``stats``: float64 ``[N, SHARD_LOSS_STATS]``, to be all-gathered.
    """
    fn = n.shard_function("lr_shard_loss_stats")
    f = Factory(logits_shard, "logits_shard")
    with ExitStack() as stack:
        z = _enter(stack, borrow(logits_shard, "logits_shard", f.stream))
        ids_b = _enter(stack, borrow(target_ids, "target_ids", f.stream))
        w_b = _enter(stack, borrow(target_weights, "target_weights", f.stream))
        stats = f.empty((_rows(z), n.SHARD_LOSS_STATS), "float64")
        s_b = _enter(stack, borrow(stats, "stats"))
        sh = n.vocab_shard(column_offset, vocab, 0)
        p = n.loss_params(None, None, temperature)
        n.check(fn(z.ref, ctypes.byref(sh), ids_b.ref, w_b.ref, ctypes.byref(p), s_b.ref, _stream(f)))
    return stats


def shard_loss_backward(
    logits_shard: Array,
    column_offset: int,
    vocab: int,
    target_ids: Array,
    target_weights: Array,
    stats: Array,
    *,
    reduction: Optional[str] = None,
    grad_scale: Optional[float] = None,
    temperature: Optional[float] = None,
    grad: Union[bool, str] = True,
) -> Tuple[Array, Optional[Array]]:
    """Stage 2, finish: the loss and the shard's gradient (``lr_shard_loss_backward``).

    Args:
        logits_shard, column_offset, vocab, target_ids, target_weights: as
            for :func:`shard_loss_stats`.
        stats: the gathered ``[W, N, SHARD_LOSS_STATS]`` records.
        reduction, grad_scale, temperature, grad: as for
            :func:`distill_loss_backward` (``grad="inplace"`` writes over
            ``logits_shard``).

    Returns:
        ``(loss, grad)``: the whole rows' loss, the same on every rank, as
        :func:`distill_loss_backward` returns it; ``grad`` the gradient of
        the shard's own columns ``[N, V_r]`` (or None).
    """
    fn = n.shard_function("lr_shard_loss_backward")
    sh = n.vocab_shard(column_offset, vocab, 0)

    def invoke(stack: ExitStack, f: Factory, z: Any, ids: Any, w: Any, p: Any, loss: Any, g: Any) -> int:
        s_b = _enter(stack, borrow(stats, "stats", f.stream))
        return fn(z, ctypes.byref(sh), ids, w, s_b.ref, ctypes.byref(p), loss, g, _stream(f))

    return _loss_call(logits_shard, target_ids, target_weights, reduction, grad_scale, temperature, grad, invoke)
