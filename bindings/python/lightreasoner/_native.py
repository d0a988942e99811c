"""ctypes mirrors of ``lightreasoner.h`` and ``dlpack.h``, and the library loader.

Nothing here is public API except through :mod:`lightreasoner`; the structures
are exported there for callers who want to drive the C ABI directly.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from typing import Optional

__all__ = [
    "ABI_VERSION_MAJOR",
    "ABI_VERSION_MINOR",
    "DLDataType",
    "DLDevice",
    "DLManagedTensor",
    "DLTensor",
    "LightReasonerError",
    "LossParams",
    "SelectParams",
    "SHARD_LOSS_STATS",
    "SHARD_SELECT_STATS",
    "TargetParams",
    "VocabShard",
    "library",
    "load_library",
    "shard_candidates",
    "shard_function",
    "vocab_shard",
]

#: The ABI this binding was written against (``LR_ABI_VERSION_MAJOR/MINOR``).
ABI_VERSION_MAJOR = 1
ABI_VERSION_MINOR = 1

# lr_status
LR_OK = 0
STATUS_NAMES = {
    0: "LR_OK",
    1: "LR_ERR_INVALID_ARGUMENT",
    2: "LR_ERR_UNSUPPORTED",
    3: "LR_ERR_OUT_OF_MEMORY",
    4: "LR_ERR_CUDA",
    5: "LR_ERR_INTERNAL",
}

# lr_reduction
REDUCTIONS = {"none": 0, "sum": 1, "mean": 2}

# DLDeviceType / DLDataTypeCode (DLPack 0.6)
KDL_CPU = 1
KDL_CUDA = 2
KDL_CUDA_HOST = 3
KDL_CUDA_MANAGED = 13
KDL_INT = 0
KDL_UINT = 1
KDL_FLOAT = 2
KDL_BFLOAT = 4


class LightReasonerError(RuntimeError):
    """A failure reported by liblightreasoner, or the library could not be loaded.

    Attributes:
        status: the ``lr_status`` name (``"LR_ERR_INVALID_ARGUMENT"``, ...), or
            ``"LOAD_FAILED"`` / ``"ABI_MISMATCH"`` for loader failures.
        code: the numeric ``lr_status`` (-1 for loader failures).
        message: the library's ``lr_last_error()`` text (names the faulty argument).
    """

    def __init__(self, status: str, message: str, code: int = -1) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.code = code
        self.message = message


LightReasonerError.__module__ = "lightreasoner"

# ---------------------------------------------------------------- DLPack 0.6


class DLDevice(ctypes.Structure):
    """``DLDevice``: ``{int32 device_type, int32 device_id}``."""

    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    """``DLDataType``: ``{uint8 code, uint8 bits, uint16 lanes}``."""

    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    """``DLTensor`` (DLPack 0.6 layout). ``strides`` is in elements; NULL = compact row-major."""

    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class DLManagedTensor(ctypes.Structure):
    """``DLManagedTensor``: what a ``"dltensor"`` PyCapsule points to."""

    _fields_ = [
        ("dl_tensor", DLTensor),
        ("manager_ctx", ctypes.c_void_p),
        # Called with the GIL held (PYFUNCTYPE): producers' deleters may touch Python objects.
        ("deleter", ctypes.PYFUNCTYPE(None, ctypes.c_void_p)),
    ]


# ------------------------------------------------------------ parameter structs


class SelectParams(ctypes.Structure):
    """``lr_select_params``: struct_size, kl_threshold, temperature, shared_vocab."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("kl_threshold", ctypes.c_float),
        ("temperature", ctypes.c_float),
        ("shared_vocab", ctypes.c_int64),
    ]


class TargetParams(ctypes.Structure):
    """``lr_target_params``: struct_size, beta, temperature, shared_vocab."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("beta", ctypes.c_float),
        ("temperature", ctypes.c_float),
        ("shared_vocab", ctypes.c_int64),
    ]


class LossParams(ctypes.Structure):
    """``lr_loss_params``: struct_size, reduction (a C enum), grad_scale, temperature."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("reduction", ctypes.c_int),
        ("grad_scale", ctypes.c_float),
        ("temperature", ctypes.c_float),
    ]


class VocabShard(ctypes.Structure):
    """``lr_vocab_shard`` (ABI 1.1): struct_size, column_offset, expert_vocab, amateur_vocab.

    Where a shard of the logits lies in the full vocabulary: its column 0 is
    global id ``column_offset``; ``expert_vocab`` and ``amateur_vocab`` are the
    models' full widths (the loss calls: ``expert_vocab`` is the trained
    model's width V, ``amateur_vocab`` is ignored). No defaults.
    """

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("column_offset", ctypes.c_int64),
        ("expert_vocab", ctypes.c_int64),
        ("amateur_vocab", ctypes.c_int64),
    ]


def vocab_shard(column_offset: int, expert_vocab: int, amateur_vocab: int = 0) -> VocabShard:
    """An ``lr_vocab_shard`` of this binding's size (the library checks the values)."""
    return VocabShard(ctypes.sizeof(VocabShard), int(column_offset), int(expert_vocab), int(amateur_vocab))


# Record widths of the sharded calls (LR_SHARD_*), in elements of the record's dtype.
SHARD_SELECT_STATS = 6  # float64: e_max, a_max, dE, dA, s, fault
SHARD_LOSS_STATS = 4  # float64: z_max, d, vz, fault


def shard_candidates(k: int) -> int:
    """``LR_SHARD_CANDIDATES(k)``: float32 count, then k (id, z_expert, z_amateur)."""
    return 1 + 3 * int(k)


def _library_defaults(struct: type, init: str, overrides: dict) -> ctypes.Structure:
    """A ``struct`` holding the library's defaults, read through ``init``
    (``lr_*_params_init``: struct_size is this binding's size, so a newer
    library writes only the fields this binding knows), then the overrides
    that are not None."""
    p = struct()
    check(getattr(library(), init)(ctypes.byref(p), ctypes.sizeof(p)))
    for field, value in overrides.items():
        if value is not None:
            setattr(p, field, value)
    return p


def select_params(
    kl_threshold: Optional[float] = None, temperature: Optional[float] = None, shared_vocab: Optional[int] = None
) -> SelectParams:
    """An ``lr_select_params``: the library's defaults, with the fields given (not None) replaced."""
    fields = {"kl_threshold": kl_threshold, "temperature": temperature, "shared_vocab": shared_vocab}
    return _library_defaults(SelectParams, "lr_select_params_init", fields)


def target_params(
    beta: Optional[float] = None, temperature: Optional[float] = None, shared_vocab: Optional[int] = None
) -> TargetParams:
    """An ``lr_target_params``: the library's defaults, with the fields given (not None) replaced."""
    fields = {"beta": beta, "temperature": temperature, "shared_vocab": shared_vocab}
    return _library_defaults(TargetParams, "lr_target_params_init", fields)


def loss_params(
    reduction: Optional[int] = None, grad_scale: Optional[float] = None, temperature: Optional[float] = None
) -> LossParams:
    """An ``lr_loss_params``: the library's defaults, with the fields given (not None) replaced."""
    fields = {"reduction": reduction, "grad_scale": grad_scale, "temperature": temperature}
    return _library_defaults(LossParams, "lr_loss_params_init", fields)


# ------------------------------------------------------------------- loading

_P = ctypes.POINTER
_DLT = _P(DLTensor)
_VP = ctypes.c_void_p
_SIGNATURES = {
    "lr_abi_version": (ctypes.c_uint32, []),
    "lr_build_info": (ctypes.c_char_p, []),
    "lr_status_string": (ctypes.c_char_p, [ctypes.c_int]),
    "lr_last_error": (ctypes.c_char_p, []),
    # The binding takes the library's defaults through the _init calls, which
    # write only the bytes of this binding's struct size. The struct-returning
    # defaults are declared for tests against the library this binding was
    # written for; the binding never calls them (a newer library's larger
    # struct returned by value would not fit).
    "lr_select_params_init": (ctypes.c_int, [_P(SelectParams), ctypes.c_uint32]),
    "lr_target_params_init": (ctypes.c_int, [_P(TargetParams), ctypes.c_uint32]),
    "lr_loss_params_init": (ctypes.c_int, [_P(LossParams), ctypes.c_uint32]),
    "lr_select_params_default": (SelectParams, []),
    "lr_target_params_default": (TargetParams, []),
    "lr_loss_params_default": (LossParams, []),
    "lr_select_steps": (ctypes.c_int, [_DLT, _DLT, _P(SelectParams), _DLT, _DLT, _VP]),
    "lr_build_targets": (ctypes.c_int, [_DLT, _DLT, _DLT, _P(TargetParams), _DLT, _DLT, _DLT, _VP]),
    "lr_select_and_build": (
        ctypes.c_int,
        [_DLT, _DLT, _P(SelectParams), _P(TargetParams), _DLT, _DLT, _DLT, _DLT, _DLT, _VP],
    ),
    "lr_distill_loss_backward": (
        ctypes.c_int,
        [_DLT, _DLT, _DLT, _P(LossParams), _DLT, _DLT, _VP],
    ),
}

# ABI 1.1 (lr_shard_*): declared when the library has them, so that this
# binding still serves the 1.0 calls from a 1.0 library; shard_function()
# says which ABI a missing one needs.
_SHARD_SIGNATURES = {
    "lr_shard_select_stats": (ctypes.c_int, [_DLT, _DLT, _P(VocabShard), _P(SelectParams), _DLT, _VP]),
    "lr_shard_select_finish": (ctypes.c_int, [_DLT, _P(SelectParams), _DLT, _DLT, _VP]),
    "lr_shard_target_candidates": (
        ctypes.c_int,
        [_DLT, _DLT, _P(VocabShard), _DLT, _DLT, _P(TargetParams), _DLT, _VP],
    ),
    "lr_shard_targets_finish": (ctypes.c_int, [_DLT, _P(TargetParams), _DLT, _DLT, _DLT, _VP]),
    "lr_shard_loss_stats": (ctypes.c_int, [_DLT, _P(VocabShard), _DLT, _DLT, _P(LossParams), _DLT, _VP]),
    "lr_shard_loss_backward": (
        ctypes.c_int,
        [_DLT, _P(VocabShard), _DLT, _DLT, _DLT, _P(LossParams), _DLT, _DLT, _VP],
    ),
}

_lock = threading.Lock()
_library: Optional[ctypes.CDLL] = None


def _candidates() -> list:
    """Library names/paths to try, in order."""
    env = os.environ.get("LIGHTREASONER_LIBRARY")
    if env:
        return [env]  # an explicit choice is never second-guessed
    names = []
    found = ctypes.util.find_library("lightreasoner")
    if found:
        names.append(found)
    if sys.platform == "darwin":
        names += ["liblightreasoner.1.dylib", "liblightreasoner.dylib"]
    elif sys.platform == "win32":
        names += ["lightreasoner.dll"]
    else:
        names += ["liblightreasoner.so.1", "liblightreasoner.so"]
    return names


def check_abi(version: int, where: str = "liblightreasoner") -> None:
    """Raise LightReasonerError("ABI_MISMATCH") unless ``version``'s major part is ours."""
    major, minor = version >> 16, version & 0xFFFF
    if major != ABI_VERSION_MAJOR:
        raise LightReasonerError(
            "ABI_MISMATCH",
            f"{where} has ABI version {major}.{minor}, but this Python binding needs ABI "
            f"{ABI_VERSION_MAJOR}.x (it was written for {ABI_VERSION_MAJOR}.{ABI_VERSION_MINOR}); "
            "install a matching library or binding",
        )


def _open(path: Optional[str]) -> ctypes.CDLL:
    tried = []
    candidates = [path] if path else _candidates()
    lib = None
    for name in candidates:
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError as e:
            tried.append(f"{name} ({e})")
    if lib is None:
        hint = (
            "LIGHTREASONER_LIBRARY is set but the file cannot be loaded"
            if os.environ.get("LIGHTREASONER_LIBRARY") and not path
            else "install liblightreasoner (so the loader finds liblightreasoner.so.1) or set "
            "LIGHTREASONER_LIBRARY to the library's full path"
        )
        raise LightReasonerError("LOAD_FAILED", f"cannot load liblightreasoner: {hint}; tried " + "; ".join(tried))
    where = getattr(lib, "_name", "liblightreasoner")
    try:
        for fname, (restype, argtypes) in _SIGNATURES.items():
            fn = getattr(lib, fname)
            fn.restype = restype
            fn.argtypes = argtypes
    except AttributeError as e:
        raise LightReasonerError("LOAD_FAILED", f"{where} is not liblightreasoner (missing symbol: {e})") from None
    for fname, (restype, argtypes) in _SHARD_SIGNATURES.items():
        fn = getattr(lib, fname, None)
        if fn is not None:
            fn.restype = restype
            fn.argtypes = argtypes
    check_abi(int(lib.lr_abi_version()), where)
    return lib


def load_library(path: Optional[str] = None) -> ctypes.CDLL:
    """Load (or reload) liblightreasoner and check its ABI version.

    Args:
        path: the library to load. ``None`` means ``$LIGHTREASONER_LIBRARY`` if
            set, else the dynamic loader's search (``ctypes.util.find_library``,
            then ``liblightreasoner.so.1``).

    Returns:
        The ``ctypes.CDLL``, with argument and result types declared; it is
        also the library used by every later call of this package.

    Raises:
        LightReasonerError: status ``"LOAD_FAILED"`` if no library could be
            loaded, ``"ABI_MISMATCH"`` if its ABI major version is not 1.
    """
    global _library
    with _lock:
        _library = _open(path)
        return _library


def library() -> ctypes.CDLL:
    """The loaded library, loading it on first use (see :func:`load_library`)."""
    global _library
    lib = _library
    if lib is None:
        with _lock:
            if _library is None:
                _library = _open(None)
            lib = _library
    return lib


def shard_function(name: str) -> "ctypes._CFuncPtr":
    """The loaded library's ABI 1.1 entry point ``name`` (an ``lr_shard_*`` call).

    Raises:
        LightReasonerError: status ``"ABI_MISMATCH"`` if the library predates
            ABI 1.1 (the message names its version).
    """
    lib = library()
    fn = getattr(lib, name, None)
    if fn is None:
        v = int(lib.lr_abi_version())
        raise LightReasonerError(
            "ABI_MISMATCH",
            f"{name} needs liblightreasoner ABI 1.1 or newer, but the loaded library has ABI {v >> 16}.{v & 0xFFFF}",
        )
    return fn


def check(status: int) -> None:
    """Raise LightReasonerError for a non-OK lr_status, with lr_last_error()'s text."""
    if status == LR_OK:
        return
    lib = library()
    message = (lib.lr_last_error() or b"").decode("utf-8", "replace")
    name = STATUS_NAMES.get(status) or (lib.lr_status_string(status) or b"").decode() or f"status {status}"
    raise LightReasonerError(name, message, status)
