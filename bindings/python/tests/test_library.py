"""Loading, the ABI check, and arrays that arrive through DLPack or the array interface."""

from __future__ import annotations

import ctypes
import os
import sys
import unittest
from unittest import mock

import numpy as np

from _support import fixture

import lightreasoner as lr
from lightreasoner import _native

F = fixture()
TOL = F["tolerance"]
EXPERT = np.array(F["expert"], dtype=np.float32)
AMATEUR = np.array(F["amateur"], dtype=np.float32)

_is_valid = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_IsValid", ctypes.pythonapi))


class DLPackOnly:
    """Exposes an array through __dlpack__ / __dlpack_device__ only; remembers its capsules."""

    def __init__(self, x):
        self._x = x
        self.capsules = []

    def __dlpack__(self, stream=None):
        c = self._x.__dlpack__() if stream is None else self._x.__dlpack__(stream=stream)
        self.capsules.append(c)
        return c

    def __dlpack_device__(self):
        return self._x.__dlpack_device__()


class ArrayInterfaceOnly:
    """Exposes a numpy array through __array_interface__ only."""

    def __init__(self, x):
        self._x = x

    @property
    def __array_interface__(self):
        return self._x.__array_interface__


class LoaderTest(unittest.TestCase):
    def setUp(self):
        self.saved = _native._library

    def tearDown(self):
        _native._library = self.saved

    def test_library_comes_from_the_environment(self):
        path = os.environ.get("LIGHTREASONER_LIBRARY")
        if not path:
            self.skipTest("LIGHTREASONER_LIBRARY not set")
        lib = lr.load_library()
        self.assertEqual(os.path.realpath(lib._name), os.path.realpath(path))

    def test_abi_mismatch_is_a_clear_error(self):
        # Pretend this binding was written for ABI 2: the real library (1.x) must be refused.
        real = lr.abi_version()
        with mock.patch.object(_native, "ABI_VERSION_MAJOR", 2), mock.patch.object(_native, "ABI_VERSION_MINOR", 3):
            with self.assertRaises(lr.LightReasonerError) as cm:
                lr.load_library()
            err = cm.exception
            self.assertEqual(err.status, "ABI_MISMATCH")
            self.assertIn(f"ABI version {real.major}.{real.minor}", err.message)  # the library's version
            self.assertIn("2.3", err.message)  # ours
            # the lazy path (first use) checks as well
            _native._library = None
            with self.assertRaises(lr.LightReasonerError):
                lr.abi_version()
        lr.load_library()
        self.assertEqual(lr.abi_version().major, 1)

    def test_abi_mismatch_of_a_newer_library(self):
        # A library that reports ABI 2.7 is refused at load, with both versions named.
        real_cdll = ctypes.CDLL

        class NewerLibrary(real_cdll):
            def __getattr__(self, name):
                if name == "lr_abi_version":
                    def fake():
                        return (2 << 16) | 7
                    return fake
                return super().__getattr__(name)

        with mock.patch.object(_native.ctypes, "CDLL", NewerLibrary):
            with self.assertRaises(lr.LightReasonerError) as cm:
                lr.load_library()
        err = cm.exception
        self.assertEqual(err.status, "ABI_MISMATCH")
        self.assertIn("ABI version 2.7", err.message)
        self.assertIn("needs ABI 1.x", err.message)

    def test_missing_library(self):
        with mock.patch.dict(os.environ, {"LIGHTREASONER_LIBRARY": "/nonexistent/liblightreasoner.so"}):
            with self.assertRaises(lr.LightReasonerError) as cm:
                lr.load_library()
        self.assertEqual(cm.exception.status, "LOAD_FAILED")
        self.assertIn("/nonexistent/liblightreasoner.so", cm.exception.message)
        self.assertIn("LIGHTREASONER_LIBRARY", cm.exception.message)

    def test_not_our_library(self):
        with self.assertRaises(lr.LightReasonerError) as cm:
            lr.load_library("libm.so.6")
        self.assertEqual(cm.exception.status, "LOAD_FAILED")
        self.assertIn("lr_", cm.exception.message)

    def test_error_state_is_cleared_by_success(self):
        with self.assertRaises(lr.LightReasonerError):
            lr.build_targets(EXPERT, AMATEUR, beta=2.0)
        lr.select_steps(EXPERT, AMATEUR)
        self.assertEqual(_native.library().lr_last_error(), b"")


class ForeignArraysTest(unittest.TestCase):
    def test_dlpack_producer_numpy(self):
        e, a = DLPackOnly(EXPERT), DLPackOnly(AMATEUR)
        before = sys.getrefcount(EXPERT)
        kl, keep = lr.select_steps(e, a)
        self.assertIsInstance(kl, np.ndarray)  # CPU DLPack data -> numpy outputs
        np.testing.assert_allclose(kl, F["select"]["kl"], rtol=TOL["kl"], atol=TOL["kl"])
        # the capsule was consumed as the protocol says, and its deleter released the array
        self.assertTrue(_is_valid(e.capsules[0], b"used_dltensor"))
        e.capsules.clear()
        a.capsules.clear()
        self.assertEqual(sys.getrefcount(EXPERT), before)

    def test_dlpack_producer_row_strided(self):
        buf = np.full((6, 20), np.nan, dtype=np.float32)
        buf[:, :12] = EXPERT
        kl, _ = lr.select_steps(DLPackOnly(buf[:, :12]), DLPackOnly(AMATEUR))
        np.testing.assert_allclose(kl, F["select"]["kl"], rtol=TOL["kl"], atol=TOL["kl"])

    def test_dlpack_producer_torch_bfloat16(self):
        try:
            import torch
        except ImportError:
            self.skipTest("torch not installed")
        e = DLPackOnly(torch.tensor(F["expert"]).bfloat16())
        kl, keep, ids, weights, support = lr.select_and_build(e, DLPackOnly(torch.tensor(F["amateur"])), k=4)
        self.assertIsInstance(kl, np.ndarray)
        np.testing.assert_array_equal(keep, np.array(F["select"]["keep"], dtype=bool))
        with self.assertRaises(ValueError):  # numpy has no bfloat16 for a new gradient
            lr.distill_loss_backward(e, ids, weights)
        loss, grad = lr.distill_loss_backward(e, ids, weights, grad=False)
        self.assertIsNone(grad)

    def test_dlpack_errors_release_the_capsule(self):
        e = DLPackOnly(EXPERT.astype(np.float64))
        before = sys.getrefcount(e._x)
        with self.assertRaises(lr.LightReasonerError):
            lr.select_steps(e, AMATEUR)
        e.capsules.clear()
        self.assertEqual(sys.getrefcount(e._x), before)

    def test_array_interface_object(self):
        T = F["targets"]
        ids, weights, support = lr.build_targets(ArrayInterfaceOnly(EXPERT), ArrayInterfaceOnly(AMATEUR),
                                                 T["rows"], k=T["k"])
        self.assertIsInstance(ids, np.ndarray)
        np.testing.assert_array_equal(ids, T["ids"])
        np.testing.assert_allclose(weights, T["weights"], rtol=0, atol=TOL["weights"])

    def test_mixed_kinds_follow_the_first_argument(self):
        try:
            import torch
        except ImportError:
            self.skipTest("torch not installed")
        kl, _ = lr.select_steps(torch.tensor(F["expert"]), AMATEUR)
        self.assertIsInstance(kl, torch.Tensor)
        kl, _ = lr.select_steps(EXPERT, torch.tensor(F["amateur"]))
        self.assertIsInstance(kl, np.ndarray)


if __name__ == "__main__":
    unittest.main(verbosity=2)
