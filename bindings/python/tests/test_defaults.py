"""The parameters the binding passes when the caller names none are the library's defaults, read at call time."""

from __future__ import annotations

import ctypes
import inspect
import unittest
from typing import Optional
from unittest import mock

import numpy as np

from _support import fixture

import lightreasoner as lr
from lightreasoner import _native

F = fixture()
EXPERT = np.array(F["expert"], dtype=np.float32)
AMATEUR = np.array(F["amateur"], dtype=np.float32)
LOGITS = np.array(F["loss"]["logits"], dtype=np.float32)
IDS = np.array(F["loss"]["target_ids"], dtype=np.int32)
WEIGHTS = np.array(F["loss"]["target_weights"], dtype=np.float32)

# Entry point -> the positions of its parameter-struct arguments.
PARAM_ARGS = {
    "lr_select_steps": (2,),
    "lr_build_targets": (3,),
    "lr_select_and_build": (2, 3),
    "lr_distill_loss_backward": (3,),
}


def fields(s: ctypes.Structure) -> dict:
    return {name: getattr(s, name) for name, _ in s._fields_}


class RecordingLibrary:
    """The loaded library, recording the parameter structs each entry point
    receives; ``after_init`` may rewrite what an ``lr_*_params_init`` wrote,
    standing in for a library with other defaults."""

    def __init__(self, lib: ctypes.CDLL, after_init: Optional[dict] = None) -> None:
        self._lib = lib
        self._after_init = after_init or {}
        self.seen = {}

    def __getattr__(self, name: str):
        fn = getattr(self._lib, name)
        if name in PARAM_ARGS:
            def record(*args):
                self.seen[name] = [fields(args[i]._obj) for i in PARAM_ARGS[name]]
                return fn(*args)
            return record
        if name in self._after_init:
            def init(params, size):
                status = fn(params, size)
                for field, value in self._after_init[name].items():
                    setattr(params._obj, field, value)
                return status
            return init
        return fn


class DefaultsTest(unittest.TestCase):
    def run_all(self, lib: RecordingLibrary) -> dict:
        """Calls every entry point naming no parameter; returns what the library received."""
        with mock.patch.object(_native, "_library", lib):
            lr.select_steps(EXPERT, AMATEUR)
            lr.build_targets(EXPERT, AMATEUR)
            lr.select_and_build(EXPERT, AMATEUR)
            lr.distill_loss_backward(LOGITS, IDS, WEIGHTS)
        return lib.seen

    def test_omitted_parameters_are_the_librarys_defaults(self):
        real = _native.library()
        select = fields(real.lr_select_params_default())
        target = fields(real.lr_target_params_default())
        loss = fields(real.lr_loss_params_default())
        seen = self.run_all(RecordingLibrary(real))
        self.assertEqual(seen["lr_select_steps"], [select])
        self.assertEqual(seen["lr_build_targets"], [target])
        self.assertEqual(seen["lr_select_and_build"], [select, target])
        self.assertEqual(seen["lr_distill_loss_backward"], [loss])

    def test_defaults_are_read_from_the_library_at_call_time(self):
        other = {
            "lr_select_params_init": {"kl_threshold": 3.5, "temperature": 2.0, "shared_vocab": 5},
            "lr_target_params_init": {"beta": 0.5, "temperature": 2.0, "shared_vocab": 5},
            "lr_loss_params_init": {"reduction": _native.REDUCTIONS["none"], "grad_scale": 0.25, "temperature": 2.0},
        }
        seen = self.run_all(RecordingLibrary(_native.library(), other))
        self.assertEqual(seen["lr_select_steps"][0]["kl_threshold"], 3.5)
        self.assertEqual(seen["lr_build_targets"][0]["beta"], 0.5)
        self.assertEqual([p["shared_vocab"] for p in seen["lr_select_and_build"]], [5, 5])
        loss = seen["lr_distill_loss_backward"][0]
        self.assertEqual((loss["reduction"], loss["grad_scale"], loss["temperature"]), (0, 0.25, 2.0))

    def test_a_default_reduction_of_none_gives_one_loss_per_row(self):
        other = {"lr_loss_params_init": {"reduction": _native.REDUCTIONS["none"]}}
        with mock.patch.object(_native, "_library", RecordingLibrary(_native.library(), other)):
            loss, _ = lr.distill_loss_backward(LOGITS, IDS, WEIGHTS)
        self.assertEqual(loss.shape, (LOGITS.shape[0],))

    def test_given_parameters_replace_only_themselves(self):
        real = _native.library()
        lib = RecordingLibrary(real)
        with mock.patch.object(_native, "_library", lib):
            lr.select_and_build(EXPERT, AMATEUR, kl_threshold=0.75, beta=0.5)
            lr.distill_loss_backward(LOGITS, IDS, WEIGHTS, reduction="sum")
        select, target = lib.seen["lr_select_and_build"]
        self.assertEqual(select, {**fields(real.lr_select_params_default()), "kl_threshold": 0.75})
        self.assertEqual(target, {**fields(real.lr_target_params_default()), "beta": 0.5})
        loss = lib.seen["lr_distill_loss_backward"][0]
        self.assertEqual(loss, {**fields(real.lr_loss_params_default()), "reduction": _native.REDUCTIONS["sum"]})

    def test_only_k_has_a_default_of_the_bindings_own(self):
        functions = (lr.select_steps, lr.build_targets, lr.select_and_build, lr.distill_loss_backward)
        for fn in functions:
            for name, p in inspect.signature(fn).parameters.items():
                if p.kind is not inspect.Parameter.KEYWORD_ONLY or name == "grad":
                    continue
                with self.subTest(function=fn.__name__, parameter=name):
                    self.assertEqual(p.default, lr.DEFAULT_K if name == "k" else None)
        ids, _, _ = lr.build_targets(EXPERT, AMATEUR)
        self.assertEqual(ids.shape[1], lr.DEFAULT_K)


if __name__ == "__main__":
    unittest.main(verbosity=2)
