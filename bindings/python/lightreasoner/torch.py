"""The distillation loss as a PyTorch autograd operation.

``import lightreasoner.torch`` (it needs torch; ``import lightreasoner`` does
not). :func:`distill_loss` is a ``torch.autograd.Function``: its forward is
one library call (``lr_distill_loss_backward``), which computes the loss and
its gradient with respect to the logits in the same pass over them; the
gradient is kept (or written over the logits, ``inplace=True``) and backward
only scales it by the incoming gradient. CUDA tensors are computed on
``torch.cuda.current_stream()``.

Example::

    import torch, lightreasoner.torch as lrt
    head = torch.nn.Linear(64, 1000)
    z = head(hidden)                                  # [N, 1000]
    loss = lrt.distill_loss(z, ids, weights)          # ids int32 [N, K], weights float32 [N, K]
    loss.backward()                                   # head.weight.grad, as a torch composite gives it

Logits sharded over the vocabulary (Megatron-style tensor parallelism, ABI
1.1): :func:`sharded_select_and_build` and :func:`sharded_distill_loss` take
the rank's shard and a ``torch.distributed`` group, and do the library's
partial call, the all-gather of its small per-row records over the group, and
the finish call. Every rank gets what the unsharded calls give; the loss's
backward gives the gradient of the rank's own columns.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
import torch.distributed as dist

from ._api import DEFAULT_K, distill_loss_backward
from ._shard import (
    shard_loss_backward,
    shard_loss_stats,
    shard_select_finish,
    shard_select_stats,
    shard_target_candidates,
    shard_targets_finish,
)

__all__ = [
    "DistillLoss",
    "ShardedDistillLoss",
    "all_gather_records",
    "distill_loss",
    "sharded_distill_loss",
    "sharded_select_and_build",
]


def _grad_mode(ctx: Any, inplace: bool) -> Any:
    """What the library call should do with the gradient: "inplace", True or False."""
    need_grad = ctx.needs_input_grad[0]
    return "inplace" if (inplace and need_grad) else bool(need_grad)


def _keep_grad(ctx: Any, logits, target_ids, target_weights, loss, grad, grad_mode) -> Tuple[Any, Any]:
    """The end of both loss forwards: the gradient kept for backward, the outputs."""
    ctx.mark_non_differentiable(target_ids, target_weights)
    if grad_mode == "inplace":
        ctx.mark_dirty(logits)
    ctx.per_row = loss.dim() == 1
    ctx.inplace = grad_mode == "inplace"
    ctx.save_for_backward(grad)
    return loss, logits if grad_mode == "inplace" else logits.new_empty(0)


def _scaled_grad(ctx: Any, grad_loss) -> Optional[torch.Tensor]:
    """The kept gradient times the incoming one (per row for reduction "none")."""
    (grad,) = ctx.saved_tensors
    if grad is None or grad_loss is None:
        return None
    scale = grad_loss.unsqueeze(1) if ctx.per_row else grad_loss
    if ctx.inplace:  # scaled where it lies, still one [N, V] buffer; autograd refuses a second backward
        return grad.mul_(scale)
    # Into a tensor of the gradient's dtype: per row, bfloat16/float16 times a
    # float32 scale would otherwise make a float32 [N, V] temporary first.
    return torch.mul(grad, scale, out=torch.empty_like(grad))


class DistillLoss(torch.autograd.Function):
    """``apply(logits, target_ids, target_weights, reduction, temperature, inplace)``.

    Returns ``(loss, logits)``: the second output is the logits themselves,
    which hold the gradient when ``inplace`` (marked dirty, so autograd
    refuses any later use of their old values); use :func:`distill_loss`.
    """

    @staticmethod
    def forward(ctx: Any, logits, target_ids, target_weights, reduction, temperature, inplace):  # type: ignore[override]
        grad_mode = _grad_mode(ctx, inplace)
        loss, grad = distill_loss_backward(
            logits.detach(), target_ids, target_weights, reduction=reduction, temperature=temperature, grad=grad_mode
        )
        return _keep_grad(ctx, logits, target_ids, target_weights, loss, grad, grad_mode)

    @staticmethod
    def backward(ctx: Any, grad_loss, _unused):  # type: ignore[override]
        return (_scaled_grad(ctx, grad_loss), None, None, None, None, None)


def distill_loss(
    logits: torch.Tensor,
    target_ids: torch.Tensor,
    target_weights: torch.Tensor,
    *,
    reduction: Optional[str] = None,
    temperature: Optional[float] = None,
    inplace: bool = False,
) -> torch.Tensor:
    """KL(v || softmax(logits / T)), differentiable with respect to ``logits``.

    Args:
        logits: ``[N, V]`` float32 / bfloat16 / float16, CPU or CUDA, unit
            stride along the vocabulary.
        target_ids: int32 ``[N, K]`` (-1 = padding), as ``build_targets``
            writes them; not differentiated.
        target_weights: float32 ``[N, K]``; not differentiated.
        reduction: ``"mean"`` (over rows with a target; the library's
            default), ``"sum"`` or ``"none"`` (``[N]``).
        temperature: divides the logits (library default 1).
        inplace: write the gradient over ``logits`` instead of a new
            ``[N, V]`` tensor (no second copy of the logits in memory). The
            logits' values are gone after the call: autograd raises if
            anything saved them for its own backward, and a leaf tensor
            that requires grad is refused, as for any in-place operation.

    Returns:
        The loss (float32, 0-d or ``[N]``). Its backward gives
        ``d loss / d logits`` scaled by the incoming gradient, in the logits'
        dtype. A row with faulty data has loss NaN and gradient 0.
    """
    loss, _ = DistillLoss.apply(logits, target_ids, target_weights, reduction, temperature, inplace)
    return loss


# ------------------------------------------------ sharded over the vocabulary


def all_gather_records(records: torch.Tensor, group: Optional[Any] = None) -> torch.Tensor:
    """The ranks' ``[rows, width]`` records stacked into ``[W, rows, width]`` (rank order).

    ``dist.all_gather_into_tensor`` for CUDA tensors (NCCL gathers into one
    buffer); ``dist.all_gather`` and ``torch.stack`` for CPU tensors, which
    every backend serves (Gloo in torch 1.13 has no gather into one tensor).
    Every rank of ``group`` must call it with the same shape and dtype.
    """
    records = records.contiguous()
    world = dist.get_world_size(group)
    if records.is_cuda and hasattr(dist, "all_gather_into_tensor"):
        out = records.new_empty((world * records.shape[0],) + tuple(records.shape[1:]))
        dist.all_gather_into_tensor(out, records, group=group)
        return out.view((world,) + tuple(records.shape))
    parts = [torch.empty_like(records) for _ in range(world)]
    dist.all_gather(parts, records, group=group)
    return torch.stack(parts)


def sharded_select_and_build(
    expert_shard: torch.Tensor,
    amateur_shard: torch.Tensor,
    column_offset: int,
    expert_vocab: int,
    amateur_vocab: int,
    group: Optional[Any] = None,
    *,
    k: int = DEFAULT_K,
    kl_threshold: Optional[float] = None,
    beta: Optional[float] = None,
    temperature: Optional[float] = None,
    shared_vocab: Optional[int] = None,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`lightreasoner.select_and_build` over logits sharded across ``group``.

    Each rank passes its own columns ``[column_offset, column_offset + V_r)``
    of both models' logits (``[N, Ve_r]``, ``[N, Va_r]``; the two start at
    the same offset and hold the same shared columns, as the header says);
    the ranks' shards must not overlap and must cover the shared vocabulary.
    Two all-gathers over ``group`` (``None``: the default group): the select
    stats (48 bytes per row per rank), then the kept rows' candidates
    (4 (1 + 3k) bytes per kept row per rank; skipped on every rank when no row
    is kept, which all ranks see alike). Every rank of ``group`` must call it.

    Returns:
        ``(kl, keep, ids, weights, support_size)`` for all N rows, on every
        rank, exactly as :func:`lightreasoner.select_and_build` gives them for
        the unsharded logits: global ids, rows not kept are padding with
        support 0, rows with faulty data have support -1.

    Raises:
        ValueError: ``k`` < 1.
        LightReasonerError: the library rejected an argument (on the rank
            that passed it: the others then wait in the collective, as with
            any collective a rank leaves).
    """
    if int(k) < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    where = (column_offset, expert_vocab, amateur_vocab)
    stats = shard_select_stats(expert_shard, amateur_shard, *where, temperature=temperature, shared_vocab=shared_vocab)
    all_stats = all_gather_records(stats, group)
    kl, keep = shard_select_finish(
        all_stats, kl_threshold=kl_threshold, temperature=temperature, shared_vocab=shared_vocab
    )
    n, dev = kl.shape[0], kl.device
    ids = torch.full((n, int(k)), -1, dtype=torch.int32, device=dev)
    weights = torch.zeros((n, int(k)), dtype=torch.float32, device=dev)
    support = -torch.isnan(kl).to(torch.int32)  # a data fault: kl NaN, support -1
    rows = keep.nonzero().flatten()
    if rows.numel() > 0:
        cands = shard_target_candidates(
            expert_shard, amateur_shard, *where, all_stats, rows,
            k=k, beta=beta, temperature=temperature, shared_vocab=shared_vocab,
        )
        kept_ids, kept_weights, kept_support = shard_targets_finish(
            all_gather_records(cands, group), beta=beta, temperature=temperature, shared_vocab=shared_vocab
        )
        ids[rows], weights[rows], support[rows] = kept_ids, kept_weights, kept_support
    return kl, keep, ids, weights, support


class ShardedDistillLoss(torch.autograd.Function):
    """``apply(logits_shard, target_ids, target_weights, column_offset, vocab,
    group, reduction, temperature, inplace)``: :class:`DistillLoss` over a
    vocabulary shard; use :func:`sharded_distill_loss`."""

    @staticmethod
    def forward(ctx: Any, logits_shard, target_ids, target_weights, column_offset, vocab, group, reduction, temperature, inplace):  # type: ignore[override]
        grad_mode = _grad_mode(ctx, inplace)
        z = logits_shard.detach()
        stats = shard_loss_stats(z, column_offset, vocab, target_ids, target_weights, temperature=temperature)
        loss, grad = shard_loss_backward(
            z, column_offset, vocab, target_ids, target_weights, all_gather_records(stats, group),
            reduction=reduction, temperature=temperature, grad=grad_mode,
        )
        return _keep_grad(ctx, logits_shard, target_ids, target_weights, loss, grad, grad_mode)

    @staticmethod
    def backward(ctx: Any, grad_loss, _unused):  # type: ignore[override]
        return (_scaled_grad(ctx, grad_loss),) + (None,) * 8


def sharded_distill_loss(
    logits_shard: torch.Tensor,
    column_offset: int,
    vocab: int,
    target_ids: torch.Tensor,
    target_weights: torch.Tensor,
    group: Optional[Any] = None,
    *,
    reduction: Optional[str] = None,
    temperature: Optional[float] = None,
    inplace: bool = False,
) -> torch.Tensor:
    """:func:`distill_loss` of logits sharded over the vocabulary across ``group``.

    Args:
        logits_shard: this rank's columns ``[column_offset, column_offset +
            V_r)`` of the trained model's logits ``[N, V]`` (e.g. a
            vocabulary-parallel lm_head's output); the ranks' shards must not
            overlap and must cover ``[0, vocab)``.
        column_offset: the global id of the shard's column 0.
        vocab: the full width V.
        target_ids, target_weights: the full targets ``[N, K]`` with global
            ids, the same on every rank (as :func:`sharded_select_and_build`
            gives them).
        group: the ``torch.distributed`` group holding the shards (None: the
            default group). Every rank of it must call this.
        reduction, temperature, inplace: as for :func:`distill_loss`.

    Returns:
        The loss of the whole rows (float32, 0-d or ``[N]``), the same on
        every rank. Its backward gives the gradient of this rank's columns
        only, with no collective: a vocabulary-parallel lm_head then reduces
        its input's gradient over the group as it does for any loss. One
        all-gather in the forward: 32 bytes per row per rank.
    """
    loss, _ = ShardedDistillLoss.apply(
        logits_shard, target_ids, target_weights, column_offset, vocab, group, reduction, temperature, inplace
    )
    return loss
