"""The Python face of the C ABI: one function per entry point."""

from __future__ import annotations

import ctypes
from contextlib import ExitStack
from typing import Any, Callable, NamedTuple, Optional, Sequence, Tuple, Union

from . import _native as n
from ._tensors import Borrowed, Factory, borrow

#: Any array this package accepts: a torch tensor, a numpy array, or an object
#: with ``__dlpack__``, ``__cuda_array_interface__`` or ``__array_interface__``.
Array = Any

#: The number of target slots per row when the caller names none. This one is
#: the binding's own: K sizes the caller's output arrays, so the library has no
#: default for it (every other default is the library's, read at call time).
DEFAULT_K = 8


class AbiVersion(NamedTuple):
    """The ABI version of the loaded library (``lr_abi_version()`` split in two)."""

    major: int
    minor: int


def abi_version() -> AbiVersion:
    """The loaded library's ABI version, e.g. ``AbiVersion(major=1, minor=0)``.

    Raises:
        LightReasonerError: the library cannot be loaded or its major version is not 1.
    """
    v = int(n.library().lr_abi_version())
    return AbiVersion(v >> 16, v & 0xFFFF)


def build_info() -> str:
    """The library's build facts: version, compiler, CUDA (or not), CPU code paths.

    Raises:
        LightReasonerError: the library cannot be loaded or its major version is not 1.
    """
    return (n.library().lr_build_info() or b"").decode("utf-8", "replace")


def _enter(stack: ExitStack, b: Borrowed) -> Borrowed:
    stack.callback(b.close)
    return b


def _stream(f: Factory) -> Optional[int]:
    return f.stream  # an int becomes a void* through the declared argtypes; None is NULL


def _rows(b: Borrowed) -> int:
    return b.shape[0] if b.shape else 0


def _borrow_rows(stack: ExitStack, f: Factory, rows: Any, n: int) -> Tuple[Optional[Borrowed], int]:
    """``rows`` (None, an index array, or a Python sequence of ints) borrowed, and M."""
    if rows is None:
        return None, n
    if isinstance(rows, (list, tuple, range)):
        rows = f.index_vector(rows)
    r = _enter(stack, borrow(rows, "rows", f.stream))
    if len(r.shape) != 1:
        raise ValueError(f"rows: expected a one-dimensional index array, got shape {r.shape}")
    return r, r.shape[0]


def _reduction_code(reduction: Optional[str]) -> Optional[int]:
    """The ``lr_reduction`` named by ``reduction``; None stays None (the library's default)."""
    if reduction is None:
        return None
    code = n.REDUCTIONS.get(reduction.lower()) if isinstance(reduction, str) else None
    if code is None:
        raise ValueError(f"reduction: expected 'mean', 'sum' or 'none', got {reduction!r}")
    return code


def select_steps(
    expert: Array,
    amateur: Array,
    *,
    kl_threshold: Optional[float] = None,
    temperature: Optional[float] = None,
    shared_vocab: Optional[int] = None,
) -> Tuple[Array, Array]:
    """KL(p_E || p_A) per row and the kappa-filter (``lr_select_steps``).

    Args:
        expert: the expert's logits ``[N, Ve]``, float32 / bfloat16 / float16,
            unit stride along the vocabulary, any row stride.
        amateur: the amateur's logits ``[N, Va]`` on the same device.
        kl_threshold: kappa; a row is kept iff its KL > kappa. Not NaN.
        temperature: both models' logits are divided by it. > 0, finite.
        shared_vocab: how many leading ids the two vocabularies share; 0 means
            ``min(Ve, Va)``. Columns past it are not read.

        A parameter left None takes the library's default, read from it at
        each call (``lr_select_params_init``; the header documents kappa 0.4,
        temperature 1, shared_vocab 0).

    Returns:
        ``(kl, keep)``: ``kl`` float32 ``[N]``; ``keep`` bool ``[N]`` (the
        library's uint8 0/1 viewed as bool). Both of the caller's kind (numpy
        arrays for numpy input, torch tensors on the input's device for torch
        input, ...). A row whose data is faulty (NaN, +Inf, all -Inf) has kl
        NaN and keep False; the call still succeeds.

    Raises:
        LightReasonerError: the library rejected an argument (the message
            names it: shape, dtype, device, stride, parameter range).
        TypeError, ValueError: an input is not an array this package can
            describe as a DLTensor (e.g. a big-endian numpy array).
    """
    lib = n.library()
    f = Factory(expert, "expert")
    with ExitStack() as stack:
        e = _enter(stack, borrow(expert, "expert", f.stream))
        a = _enter(stack, borrow(amateur, "amateur", f.stream))
        rows = _rows(e)
        kl = f.empty((rows,), "float32")
        keep = f.empty((rows,), "uint8")
        kl_b = _enter(stack, borrow(kl, "kl"))
        keep_b = _enter(stack, borrow(keep, "keep"))
        p = n.select_params(kl_threshold, temperature, shared_vocab)
        n.check(lib.lr_select_steps(e.ref, a.ref, ctypes.byref(p), kl_b.ref, keep_b.ref, _stream(f)))
    return kl, f.as_bool(keep)


def build_targets(
    expert: Array,
    amateur: Array,
    rows: Union[Array, Sequence[int], None] = None,
    *,
    k: int = DEFAULT_K,
    beta: Optional[float] = None,
    temperature: Optional[float] = None,
    shared_vocab: Optional[int] = None,
) -> Tuple[Array, Array, Array]:
    """The contrastive soft target of each requested row (``lr_build_targets``).

    Args:
        expert, amateur: logits as for :func:`select_steps`.
        rows: ``[M]`` int64 row indices (any order, repeats allowed): an array
            on the logits' device, or a Python sequence of ints (made into an
            int64 array of the expert's kind). None means all N rows.
        k: the number of target slots per row (>= 1). If the support is
            larger, the k tokens of largest p_E are kept and renormalised.
            The default, :data:`DEFAULT_K`, is this binding's own (the
            library has none: k sizes the outputs).
        beta: the support is {a : p_E(a) >= beta * max p_E}. In (0, 1].
        temperature, shared_vocab: as for :func:`select_steps`.

        A parameter left None takes the library's default
        (``lr_target_params_init``; the header documents beta 0.2,
        temperature 1, shared_vocab 0).

    Returns:
        ``(ids, weights, support_size)``: ``ids`` int32 ``[M, k]`` (-1 =
        padding), ``weights`` float32 ``[M, k]`` in descending order (0 =
        padding), ``support_size`` int32 ``[M]``: the support's true size
        before truncation to k (-1 for a row with faulty data). All of the
        caller's kind.

    Raises:
        LightReasonerError: the library rejected an argument, e.g. beta = 0
            (``LR_ERR_INVALID_ARGUMENT``, the message names beta) or k < 1.
        TypeError, ValueError: an input cannot be described as a DLTensor, or
            ``rows`` is not one-dimensional.
    """
    lib = n.library()
    f = Factory(expert, "expert")
    with ExitStack() as stack:
        e = _enter(stack, borrow(expert, "expert", f.stream))
        a = _enter(stack, borrow(amateur, "amateur", f.stream))
        r, m = _borrow_rows(stack, f, rows, _rows(e))
        kk = max(int(k), 0)
        ids = f.empty((m, kk), "int32")
        weights = f.empty((m, kk), "float32")
        support = f.empty((m,), "int32")
        ids_b = _enter(stack, borrow(ids, "ids"))
        w_b = _enter(stack, borrow(weights, "weights"))
        s_b = _enter(stack, borrow(support, "support_size"))
        p = n.target_params(beta, temperature, shared_vocab)
        n.check(
            lib.lr_build_targets(
                e.ref, a.ref, None if r is None else r.ref, ctypes.byref(p), ids_b.ref, w_b.ref, s_b.ref, _stream(f)
            )
        )
    return ids, weights, support


def select_and_build(
    expert: Array,
    amateur: Array,
    *,
    k: int = DEFAULT_K,
    kl_threshold: Optional[float] = None,
    beta: Optional[float] = None,
    temperature: Optional[float] = None,
    shared_vocab: Optional[int] = None,
) -> Tuple[Array, Array, Array, Array, Array]:
    """Selection and targets in one pass over the logits (``lr_select_and_build``).

    Args:
        expert, amateur: logits as for :func:`select_steps`.
        k: target slots per row, as for :func:`build_targets`.
        kl_threshold: as for :func:`select_steps`.
        beta: as for :func:`build_targets`.
        temperature, shared_vocab: shared by both stages.

        A parameter left None takes the library's default, as in those two.

    Returns:
        ``(kl, keep, ids, weights, support_size)`` for all N rows: as
        :func:`select_steps` and :func:`build_targets` with ``rows=None``,
        except that rows not kept hold padding targets and support_size 0.

    Raises:
        LightReasonerError: the library rejected an argument.
        TypeError, ValueError: an input cannot be described as a DLTensor.
    """
    lib = n.library()
    f = Factory(expert, "expert")
    with ExitStack() as stack:
        e = _enter(stack, borrow(expert, "expert", f.stream))
        a = _enter(stack, borrow(amateur, "amateur", f.stream))
        rows = _rows(e)
        kk = max(int(k), 0)
        kl = f.empty((rows,), "float32")
        keep = f.empty((rows,), "uint8")
        ids = f.empty((rows, kk), "int32")
        weights = f.empty((rows, kk), "float32")
        support = f.empty((rows,), "int32")
        named = ((kl, "kl"), (keep, "keep"), (ids, "ids"), (weights, "weights"), (support, "support_size"))
        outs = [_enter(stack, borrow(x, name)) for x, name in named]
        sp = n.select_params(kl_threshold, temperature, shared_vocab)
        tp = n.target_params(beta, temperature, shared_vocab)
        n.check(
            lib.lr_select_and_build(
                e.ref, a.ref, ctypes.byref(sp), ctypes.byref(tp), *(o.ref for o in outs), _stream(f)
            )
        )
    return kl, f.as_bool(keep), ids, weights, support


def distill_loss_backward(
    logits: Array,
    target_ids: Array,
    target_weights: Array,
    *,
    reduction: Optional[str] = None,
    grad_scale: Optional[float] = None,
    temperature: Optional[float] = None,
    grad: Union[bool, str] = True,
) -> Tuple[Array, Optional[Array]]:
    """Loss KL(v || softmax(z / T)) and its gradient (``lr_distill_loss_backward``).

    This is a plain function, not an autograd operation: it returns the
    gradient with respect to the logits for the caller to use
    (:func:`lightreasoner.torch.distill_loss` is the autograd version).

    Args:
        logits: the trained model's logits z ``[N, V]``, float32 / bfloat16 /
            float16, unit stride along the vocabulary, any row stride.
        target_ids: int32 ``[N, K]`` in [-1, V), -1 = padding, no id twice in a
            row (as :func:`build_targets` writes them).
        target_weights: float32 ``[N, K]``, finite and >= 0, 0 where the id is
            -1; rows are expected to sum to 1.
        reduction: ``"mean"`` (over rows with at least one target id; the
            gradient is divided likewise), ``"sum"``, or ``"none"`` (one loss
            per row).
        grad_scale: multiplies the gradient, not the loss (e.g. 1 /
            accumulation steps). Finite.
        temperature: the logits are divided by it. > 0, finite.
        grad: True to return a new gradient array (the logits' dtype, kind and
            device), False for none, ``"inplace"`` to overwrite ``logits``
            with the gradient and return ``logits`` itself.

        reduction, grad_scale and temperature left None take the library's
        defaults (``lr_loss_params_init``; the header documents "mean",
        grad_scale 1, temperature 1).

    Returns:
        ``(loss, grad)``: ``loss`` float32, 0-d for "mean" and "sum" (use
        ``float(loss)``), ``[N]`` for "none"; ``grad`` as chosen above, or
        None. A row with faulty data has loss NaN (so "mean" and "sum" are
        NaN) and gradient 0.

    Raises:
        ValueError: ``reduction`` or ``grad`` is not one of the values above,
            ``grad="inplace"`` on a read-only array, or an input cannot be
            described as a DLTensor.
        TypeError: an input is not an array.
        LightReasonerError: the library rejected an argument (shape, dtype,
            device, id range, parameter range; the message names it).
    """

    def invoke(stack: ExitStack, f: Factory, z: Any, ids: Any, w: Any, p: Any, loss: Any, g: Any) -> int:
        return n.library().lr_distill_loss_backward(z, ids, w, ctypes.byref(p), loss, g, _stream(f))

    return _loss_call(logits, target_ids, target_weights, reduction, grad_scale, temperature, grad, invoke)


def _loss_call(
    logits: Array,
    target_ids: Array,
    target_weights: Array,
    reduction: Optional[str],
    grad_scale: Optional[float],
    temperature: Optional[float],
    grad: Union[bool, str],
    invoke: Callable[..., int],
) -> Tuple[Array, Optional[Array]]:
    """The body both loss calls share: arguments borrowed, loss and gradient
    allocated as ``grad`` says, then ``invoke(stack, factory, logits_ref,
    ids_ref, weights_ref, params, loss_ref, grad_ref)`` makes the C call."""
    code = _reduction_code(reduction)
    inplace = isinstance(grad, str) and grad == "inplace"
    if not inplace and grad is not True and grad is not False:
        raise ValueError(f"grad: expected True, False or 'inplace', got {grad!r}")
    p = n.loss_params(code, grad_scale, temperature)
    f = Factory(logits, "logits")
    with ExitStack() as stack:
        z = _enter(stack, borrow(logits, "logits", f.stream))
        if inplace and not z.writable:
            raise ValueError("logits: read-only array; the gradient cannot be written in place")
        ids_b = _enter(stack, borrow(target_ids, "target_ids", f.stream))
        w_b = _enter(stack, borrow(target_weights, "target_weights", f.stream))
        rows = _rows(z)
        loss = f.empty((rows,) if p.reduction == n.REDUCTIONS["none"] else (), "float32")
        loss_b = _enter(stack, borrow(loss, "loss"))
        g: Optional[Array] = None
        g_ref: Any = None
        if inplace:
            g, g_ref = logits, z.ref
        elif grad:
            g = f.empty(z.shape, "like", like=z)
            g_ref = _enter(stack, borrow(g, "grad")).ref
        n.check(invoke(stack, f, z.ref, ids_b.ref, w_b.ref, p, loss_b.ref, g_ref))
    return loss, g
