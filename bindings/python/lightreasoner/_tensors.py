"""Caller arrays as DLTensors (no copies), and outputs of the caller's kind.

Inputs are read in this order of preference:

1. ``torch.Tensor``: ``data_ptr()``, ``shape``, ``stride()``, ``dtype``, ``device``.
2. ``numpy.ndarray`` (and other ``__array_interface__`` objects, viewed with
   ``numpy.asarray``, which does not copy them).
3. any other object with ``__dlpack__`` (CuPy, JAX, ...): the ``"dltensor"``
   capsule is consumed as the DLPack protocol says (renamed
   ``"used_dltensor"``, its deleter called when the call is done).
4. ``__cuda_array_interface__`` objects without ``__dlpack__``.

Strides are always passed on, so a row-strided view such as ``x[:, :V]`` of a
wider buffer works without a copy; the library itself rejects a non-unit
stride along the vocabulary with an error naming the argument.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple

from . import _native as n

# ------------------------------------------------------------- dtype tables

# DLPack (code, bits) by numpy typestr, without the byte-order character.
_NUMPY_TYPESTR = {
    "f2": (n.KDL_FLOAT, 16),
    "f4": (n.KDL_FLOAT, 32),
    "f8": (n.KDL_FLOAT, 64),
    "i1": (n.KDL_INT, 8),
    "i2": (n.KDL_INT, 16),
    "i4": (n.KDL_INT, 32),
    "i8": (n.KDL_INT, 64),
    "u1": (n.KDL_UINT, 8),
    "u2": (n.KDL_UINT, 16),
    "u4": (n.KDL_UINT, 32),
    "u8": (n.KDL_UINT, 64),
    "b1": (6, 8),  # kDLBool (DLPack >= 0.8); the library rejects it with a message
}
_LITTLE = "<" if sys.byteorder == "little" else ">"

def _torch_dtypes(torch: Any) -> dict:
    table = {
        torch.float32: (n.KDL_FLOAT, 32),
        torch.float16: (n.KDL_FLOAT, 16),
        torch.bfloat16: (n.KDL_BFLOAT, 16),
        torch.float64: (n.KDL_FLOAT, 64),
        torch.int8: (n.KDL_INT, 8),
        torch.int16: (n.KDL_INT, 16),
        torch.int32: (n.KDL_INT, 32),
        torch.int64: (n.KDL_INT, 64),
        torch.uint8: (n.KDL_UINT, 8),
        torch.bool: (6, 8),
        torch.complex64: (5, 64),
        torch.complex128: (5, 128),
    }
    return table


def _is_torch(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor)


def _is_numpy(obj: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(obj, np.ndarray)


def _is_cupy(obj: Any) -> bool:
    cp = sys.modules.get("cupy")
    return cp is not None and isinstance(obj, cp.ndarray)


# ------------------------------------------------------------ capsule C API

_capsule_is_valid = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_IsValid", ctypes.pythonapi)
)
_capsule_get_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi)
)
_capsule_set_name = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_SetName", ctypes.pythonapi)
)
# PyCapsule_SetName keeps the pointer, not a copy: this bytes object lives as
# long as the module, longer than any capsule we rename.
_USED_DLTENSOR = b"used_dltensor"


# ----------------------------------------------------------------- Borrowed


class Borrowed:
    """A DLTensor describing a caller's array, and whatever keeps it valid.

    Attributes:
        obj: the caller's object (kept alive while the DLTensor is in use).
        dl: the :class:`DLTensor`.
        kind: ``"torch"``, ``"numpy"``, ``"cupy"`` or ``"dlpack"``.
        device: ``(device_type, device_id)``.
        shape: the shape as a tuple of ints.
        writable: False for read-only numpy arrays.
    """

    __slots__ = ("obj", "dl", "kind", "device", "shape", "writable", "_keep", "_release")

    def __init__(
        self,
        obj: Any,
        kind: str,
        data: int,
        device: Tuple[int, int],
        dtype: Tuple[int, int],
        shape: Sequence[int],
        strides: Optional[Sequence[int]],
        byte_offset: int = 0,
        writable: bool = True,
    ) -> None:
        self.obj = obj
        self.kind = kind
        self.device = (int(device[0]), int(device[1]))
        self.shape = tuple(int(s) for s in shape)
        self.writable = writable
        ndim = len(self.shape)
        c_shape = (ctypes.c_int64 * max(ndim, 1))(*self.shape)
        c_strides = None if strides is None else (ctypes.c_int64 * max(ndim, 1))(*[int(s) for s in strides])
        self._keep: List[Any] = [c_shape, c_strides]
        self._release: Optional[Callable[[], None]] = None
        self.dl = n.DLTensor(
            data or None,
            n.DLDevice(*self.device),
            ndim,
            n.DLDataType(dtype[0], dtype[1], 1),
            ctypes.cast(c_shape, ctypes.POINTER(ctypes.c_int64)),
            None if c_strides is None else ctypes.cast(c_strides, ctypes.POINTER(ctypes.c_int64)),
            byte_offset,
        )

    @property
    def ref(self) -> Any:
        """A ``DLTensor*`` for the C call."""
        return ctypes.byref(self.dl)

    def close(self) -> None:
        """Give a consumed DLPack capsule back to its producer (calls its deleter)."""
        release, self._release = self._release, None
        if release is not None:
            release()


def _from_torch(t: Any, name: str) -> Borrowed:
    torch = sys.modules["torch"]
    if t.layout != torch.strided:
        raise ValueError(f"{name}: only dense (strided) torch tensors are supported, not {t.layout}")
    dt = _torch_dtypes(torch).get(t.dtype)
    if dt is None:
        raise ValueError(f"{name}: torch dtype {t.dtype} has no DLPack equivalent")
    if t.device.type == "cpu":
        dev = (n.KDL_CPU, 0)
    elif t.device.type == "cuda":
        dev = (n.KDL_CUDA, t.device.index if t.device.index is not None else torch.cuda.current_device())
    else:
        raise ValueError(f"{name}: torch device {t.device} is not supported (cpu or cuda)")
    return Borrowed(t, "torch", t.data_ptr(), dev, dt, tuple(t.shape), tuple(t.stride()))


def _from_numpy(a: Any, name: str) -> Borrowed:
    ai = a.__array_interface__
    typestr = ai["typestr"]
    order, code = typestr[0], typestr[1:]
    if order not in ("|", _LITTLE, "="):
        raise ValueError(f"{name}: byte order of dtype {typestr!r} is not the machine's")
    dt = _NUMPY_TYPESTR.get(code)
    if dt is None:
        raise ValueError(
            f"{name}: numpy dtype {a.dtype} ({typestr}) is not supported "
            "(logits: float32 or float16; bfloat16 only through torch or DLPack)"
        )
    data, readonly = ai["data"]
    itemsize = a.dtype.itemsize
    strides = ai.get("strides")
    if strides is not None:
        if any(s % itemsize for s in strides):
            raise ValueError(f"{name}: strides {strides} (bytes) are not multiples of the item size {itemsize}")
        strides = [s // itemsize for s in strides]
    return Borrowed(a, "numpy", data, (n.KDL_CPU, 0), dt, ai["shape"], strides, writable=not readonly)


def _from_cuda_array_interface(obj: Any, name: str) -> Borrowed:
    cai = obj.__cuda_array_interface__
    typestr = cai["typestr"]
    dt = _NUMPY_TYPESTR.get(typestr[1:])
    if dt is None or typestr[0] not in ("|", _LITTLE, "="):
        raise ValueError(f"{name}: __cuda_array_interface__ dtype {typestr!r} is not supported")
    itemsize = dt[1] // 8
    data, readonly = cai["data"]
    strides = cai.get("strides")
    if strides is not None:
        if any(s % itemsize for s in strides):
            raise ValueError(f"{name}: strides {strides} (bytes) are not multiples of the item size {itemsize}")
        strides = [s // itemsize for s in strides]
    device = getattr(obj, "device", None)
    device_id = int(getattr(device, "id", 0) or 0)
    kind = "cupy" if _is_cupy(obj) else "dlpack"
    return Borrowed(obj, kind, data, (n.KDL_CUDA, device_id), dt, cai["shape"], strides, writable=not readonly)


def _from_dlpack(obj: Any, name: str, stream: Optional[int]) -> Borrowed:
    kwargs = {}
    if hasattr(obj, "__dlpack_device__"):
        dev_type, _ = obj.__dlpack_device__()
        if int(dev_type) in (n.KDL_CUDA, n.KDL_CUDA_MANAGED):
            # Protocol: 1 = the legacy default stream, otherwise a cudaStream_t.
            kwargs["stream"] = stream if stream else 1
    capsule = obj.__dlpack__(**kwargs)
    if not _capsule_is_valid(capsule, b"dltensor"):
        raise ValueError(f"{name}: __dlpack__() did not return an unconsumed 'dltensor' capsule")
    ptr = _capsule_get_pointer(capsule, b"dltensor")
    if _capsule_set_name(capsule, _USED_DLTENSOR) != 0:
        raise ValueError(f"{name}: could not mark the DLPack capsule as used")
    managed = n.DLManagedTensor.from_address(ptr)
    t = managed.dl_tensor
    ndim = int(t.ndim)
    shape = [t.shape[i] for i in range(ndim)]
    strides = None if not t.strides else [t.strides[i] for i in range(ndim)]
    if int(t.dtype.lanes) != 1:
        deleter = managed.deleter
        if deleter:
            deleter(ptr)
        raise ValueError(f"{name}: vector dtypes (lanes = {t.dtype.lanes}) are not supported")
    kind = "cupy" if _is_cupy(obj) else "dlpack"
    b = Borrowed(
        obj,
        kind,
        t.data or 0,
        (t.device.device_type, t.device.device_id),
        (t.dtype.code, t.dtype.bits),
        shape,
        strides,
        byte_offset=int(t.byte_offset),
    )

    def release() -> None:
        deleter = managed.deleter
        if deleter:
            deleter(ptr)

    b._keep.append(capsule)  # renamed "used_dltensor": dropping it later does nothing more
    b._release = release
    return b


def borrow(obj: Any, name: str, stream: Optional[int] = None) -> Borrowed:
    """View ``obj`` as a DLTensor without copying it.

    Args:
        obj: a torch tensor, numpy array, or any ``__dlpack__`` /
            ``__cuda_array_interface__`` / ``__array_interface__`` object.
        name: the argument's name, for error messages.
        stream: the CUDA stream the call will run on (passed to ``__dlpack__``).

    Raises:
        TypeError: ``obj`` is not an array of a supported kind.
        ValueError: its dtype, byte order, layout or device cannot be described.
    """
    if _is_torch(obj):
        return _from_torch(obj, name)
    if _is_numpy(obj):
        return _from_numpy(obj, name)
    if hasattr(obj, "__dlpack__"):
        return _from_dlpack(obj, name, stream)
    if hasattr(obj, "__cuda_array_interface__"):
        return _from_cuda_array_interface(obj, name)
    if hasattr(obj, "__array_interface__"):
        import numpy as np

        return _from_numpy(np.asarray(obj), name)  # shares the memory
    raise TypeError(
        f"{name}: expected a torch tensor, numpy array, or an object with __dlpack__ or the array "
        f"interface, got {type(obj).__name__}"
    )


# ---------------------------------------------------------------- outputs


class Factory:
    """Allocates outputs of the lead input's kind, on its device, and knows the stream.

    numpy inputs give numpy outputs; torch inputs give torch tensors on the same
    device; CuPy inputs give CuPy arrays. Other DLPack producers give numpy
    arrays for CPU data and torch tensors (else CuPy arrays) for CUDA data.

    Attributes:
        backend: ``"numpy"``, ``"torch"`` or ``"cupy"``.
        device: the torch device (torch backend), else None.
        device_id: the CUDA device ordinal (0 on CPU).
        stream: the CUDA stream to run on (an int ``cudaStream_t``), None on CPU.
    """

    def __init__(self, lead: Any, name: str) -> None:
        self.lead = lead
        self.device: Any = None
        self.device_id = 0
        self.stream: Optional[int] = None
        cuda = False
        if _is_torch(lead):
            self.backend = "torch"
            self.device = lead.device
            cuda = lead.device.type == "cuda"
        elif _is_numpy(lead):
            self.backend = "numpy"
        elif _is_cupy(lead):
            self.backend = "cupy"
            self.device_id = int(lead.device.id)
            cuda = True
        elif hasattr(lead, "__dlpack_device__"):
            dev_type, dev_id = (int(x) for x in lead.__dlpack_device__())
            if dev_type in (n.KDL_CPU, n.KDL_CUDA_HOST):
                self.backend = "numpy"
            elif dev_type in (n.KDL_CUDA, n.KDL_CUDA_MANAGED):
                self.backend = _cuda_backend(name, type(lead).__name__)
                self.device_id = dev_id
                cuda = True
            else:
                raise ValueError(f"{name}: DLPack device type {dev_type} is not supported (CPU or CUDA)")
        elif hasattr(lead, "__cuda_array_interface__"):
            self.backend = _cuda_backend(name, type(lead).__name__)
            self.device_id = int(getattr(getattr(lead, "device", None), "id", 0) or 0)
            cuda = True
        else:
            self.backend = "numpy"
        if cuda:
            if self.backend == "torch":
                torch = sys.modules["torch"]
                if self.device is None:
                    self.device = torch.device("cuda", self.device_id)
                self.stream = int(torch.cuda.current_stream(self.device).cuda_stream)
            else:
                import cupy  # type: ignore[import-not-found]

                with cupy.cuda.Device(self.device_id):
                    self.stream = int(cupy.cuda.get_current_stream().ptr)

    def empty(self, shape: Tuple[int, ...], dtype: str, like: Optional[Borrowed] = None) -> Any:
        """An uninitialised array of ``shape``.

        Args:
            shape: the shape.
            dtype: ``"float32"``, ``"uint8"``, ``"int32"`` or ``"int64"``; or
                ``"like"`` for the dtype of ``like``.
            like: the borrowed input whose dtype ``"like"`` means.
        """
        if dtype == "like":
            assert like is not None
            code, bits = int(like.dl.dtype.code), int(like.dl.dtype.bits)
            names = {(n.KDL_FLOAT, 32): "float32", (n.KDL_FLOAT, 16): "float16", (n.KDL_BFLOAT, 16): "bfloat16"}
            dtype = names.get((code, bits), "")
            if not dtype:
                raise ValueError(f"grad: cannot allocate a gradient of DLPack dtype code {code}, {bits} bits")
        if self.backend == "torch":
            import torch

            return torch.empty(shape, dtype=getattr(torch, dtype), device=self.device)
        if dtype == "bfloat16":
            raise ValueError(
                f"grad: {self.backend} has no bfloat16 dtype for the gradient; pass grad='inplace' or torch tensors"
            )
        if self.backend == "numpy":
            import numpy as np

            return np.empty(shape, dtype=dtype)
        import cupy

        with cupy.cuda.Device(self.device_id):
            return cupy.empty(shape, dtype=dtype)

    def index_vector(self, values: Sequence[int]) -> Any:
        """An int64 vector of ``values`` of this kind, on this device (for ``rows``)."""
        if self.backend == "torch":
            import torch

            return torch.tensor(list(values), dtype=torch.int64, device=self.device)
        if self.backend == "numpy":
            import numpy as np

            return np.asarray(list(values), dtype=np.int64)
        import cupy

        with cupy.cuda.Device(self.device_id):
            return cupy.asarray(list(values), dtype="int64")

    def as_bool(self, keep: Any) -> Any:
        """View a uint8 array of 0/1 as bool, without copying."""
        if self.backend == "torch":
            import torch

            return keep.view(torch.bool)
        if self.backend == "numpy":
            import numpy as np

            return keep.view(np.bool_)
        import cupy

        return keep.view(cupy.bool_)


def _cuda_backend(name: str, what: str) -> str:
    """torch if it can be imported, else cupy: the kind of outputs for foreign CUDA data."""
    for module in ("torch", "cupy"):
        try:
            __import__(module)
            return module
        except ImportError:
            pass
    raise ValueError(f"{name}: outputs for CUDA data from {what} need torch or cupy")
