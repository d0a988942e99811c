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
"""

from __future__ import annotations

from typing import Any, Optional

import torch

from ._api import distill_loss_backward

__all__ = ["DistillLoss", "distill_loss"]


class DistillLoss(torch.autograd.Function):
    """``apply(logits, target_ids, target_weights, reduction, temperature, inplace)``.

    Returns ``(loss, logits)``: the second output is the logits themselves,
    which hold the gradient when ``inplace`` (marked dirty, so autograd
    refuses any later use of their old values); use :func:`distill_loss`.
    """

    @staticmethod
    def forward(ctx: Any, logits, target_ids, target_weights, reduction, temperature, inplace):  # type: ignore[override]
        need_grad = ctx.needs_input_grad[0]
        grad_mode = "inplace" if (inplace and need_grad) else bool(need_grad)
        loss, grad = distill_loss_backward(
            logits.detach(), target_ids, target_weights, reduction=reduction, temperature=temperature, grad=grad_mode
        )
        ctx.mark_non_differentiable(target_ids, target_weights)
        if grad_mode == "inplace":
            ctx.mark_dirty(logits)
        ctx.per_row = loss.dim() == 1
        ctx.inplace = grad_mode == "inplace"
        ctx.save_for_backward(grad)
        return loss, logits if grad_mode == "inplace" else logits.new_empty(0)

    @staticmethod
    def backward(ctx: Any, grad_loss, _unused):  # type: ignore[override]
        (grad,) = ctx.saved_tensors
        if grad is None or grad_loss is None:
            return None, None, None, None, None, None
        scale = grad_loss.unsqueeze(1) if ctx.per_row else grad_loss
        if ctx.inplace:  # scaled where it lies, still one [N, V] buffer; autograd refuses a second backward
            return grad.mul_(scale), None, None, None, None, None
        return (grad * scale).to(grad.dtype), None, None, None, None, None


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
