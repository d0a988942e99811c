"""The binding against the shared fixture with numpy inputs (and the ABI's structs)."""

from __future__ import annotations

import ctypes
import unittest

import numpy as np

from _support import fixture, ref_kl

import lightreasoner as lr

F = fixture()
TOL = F["tolerance"]


def f32(x):
    return np.array(x, dtype=np.float32)


class Inputs:
    expert = f32(F["expert"])
    amateur = f32(F["amateur"])
    logits = f32(F["loss"]["logits"])
    ids = np.array(F["loss"]["target_ids"], dtype=np.int32)
    weights = f32(F["loss"]["target_weights"])


def wide(x, extra=7, fill=np.nan):
    """x as the left part of a wider buffer (row stride > width); the rest holds ``fill``."""
    buf = np.full((x.shape[0], x.shape[1] + extra), fill, dtype=x.dtype)
    buf[:, : x.shape[1]] = x
    view = buf[:, : x.shape[1]]
    assert not view.flags.c_contiguous and view.base is buf
    return buf, view


class LibraryTest(unittest.TestCase):
    def test_abi_version_matches_fixture(self):
        v = lr.abi_version()
        self.assertEqual((v.major << 16) | v.minor, F["abi_version"])
        self.assertEqual(v.major, lr.ABI_VERSION_MAJOR)

    def test_build_info(self):
        info = lr.build_info()
        self.assertIsInstance(info, str)
        self.assertIn("liblightreasoner", info)

    def test_dlpack_struct_layout(self):
        self.assertEqual(ctypes.sizeof(lr.DLDevice), 8)
        self.assertEqual(ctypes.sizeof(lr.DLDataType), 4)
        self.assertEqual(ctypes.sizeof(lr.DLTensor), 48)
        offsets = [getattr(lr.DLTensor, f).offset for f, _ in lr.DLTensor._fields_]
        self.assertEqual(offsets, [0, 8, 16, 20, 24, 32, 40])
        self.assertEqual(ctypes.sizeof(lr.DLManagedTensor), 64)

    def test_param_structs_match_the_library(self):
        lib = lr._native.library()
        for fn, cls, size, offsets in [
            ("lr_select_params_default", lr.SelectParams, 24, [0, 4, 8, 16]),
            ("lr_target_params_default", lr.TargetParams, 24, [0, 4, 8, 16]),
            ("lr_loss_params_default", lr.LossParams, 16, [0, 4, 8, 12]),
        ]:
            with self.subTest(fn):
                self.assertEqual(ctypes.sizeof(cls), size)
                self.assertEqual([getattr(cls, f).offset for f, _ in cls._fields_], offsets)
                d = getattr(lib, fn)()
                self.assertEqual(d.struct_size, ctypes.sizeof(cls))
        d = lib.lr_select_params_default()
        self.assertAlmostEqual(d.kl_threshold, 0.4, places=6)
        self.assertEqual((d.temperature, d.shared_vocab), (1.0, 0))
        d = lib.lr_target_params_default()
        self.assertAlmostEqual(d.beta, 0.2, places=6)
        self.assertEqual((d.temperature, d.shared_vocab), (1.0, 0))
        d = lib.lr_loss_params_default()
        self.assertEqual((d.reduction, d.grad_scale, d.temperature), (2, 1.0, 1.0))


class SelectTest(unittest.TestCase):
    def check(self, kl, keep):
        sel = F["select"]
        self.assertIsInstance(kl, np.ndarray)
        self.assertEqual((kl.dtype, kl.shape), (np.float32, (6,)))
        self.assertEqual((keep.dtype, keep.shape), (np.bool_, (6,)))
        np.testing.assert_allclose(kl, sel["kl"], rtol=TOL["kl"], atol=TOL["kl"])
        np.testing.assert_array_equal(keep, np.array(sel["keep"], dtype=bool))

    def test_fixture(self):
        sel = F["select"]
        self.check(*lr.select_steps(Inputs.expert, Inputs.amateur, kl_threshold=sel["kl_threshold"],
                                    temperature=sel["temperature"], shared_vocab=sel["shared_vocab"]))

    def test_defaults_are_the_headers(self):
        self.check(*lr.select_steps(Inputs.expert, Inputs.amateur))

    def test_row_strided_views(self):
        _, e = wide(Inputs.expert)
        _, a = wide(Inputs.amateur, extra=3)
        self.check(*lr.select_steps(e, a))

    def test_every_other_row(self):
        e2 = np.repeat(Inputs.expert, 2, axis=0)[::2]
        a2 = np.repeat(Inputs.amateur, 2, axis=0)[::2]
        self.assertEqual(e2.strides[0], 2 * e2.strides[1] * e2.shape[1])
        self.check(*lr.select_steps(e2, a2))

    def test_read_only_inputs(self):
        e, a = Inputs.expert.copy(), Inputs.amateur.copy()
        e.flags.writeable = a.flags.writeable = False
        self.check(*lr.select_steps(e, a))

    def test_parameters_reach_the_library(self):
        kl, keep = lr.select_steps(Inputs.expert, Inputs.amateur, temperature=2.0, shared_vocab=5)
        np.testing.assert_allclose(kl, ref_kl(Inputs.expert, Inputs.amateur, 2.0, 5), rtol=1e-5, atol=1e-5)
        _, keep = lr.select_steps(Inputs.expert, Inputs.amateur, kl_threshold=100.0)
        self.assertFalse(keep.any())
        _, keep = lr.select_steps(Inputs.expert, Inputs.amateur, kl_threshold=-1.0)
        self.assertTrue(keep.all())

    def test_float16(self):
        e, a = Inputs.expert.astype(np.float16), Inputs.amateur.astype(np.float16)
        kl, keep = lr.select_steps(e, a)
        np.testing.assert_allclose(kl, ref_kl(e, a), rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(keep, np.array(F["select"]["keep"], dtype=bool))

    def test_data_fault_is_per_row(self):
        e = Inputs.expert.copy()
        e[3, 1] = np.nan
        kl, keep = lr.select_steps(e, Inputs.amateur)
        self.assertTrue(np.isnan(kl[3]))
        self.assertFalse(keep[3])
        mask = np.arange(6) != 3
        np.testing.assert_allclose(kl[mask], np.array(F["select"]["kl"])[mask], rtol=TOL["kl"], atol=TOL["kl"])


class TargetsTest(unittest.TestCase):
    T = F["targets"]

    def check(self, ids, weights, support):
        self.assertEqual((ids.dtype, ids.shape), (np.int32, (3, self.T["k"])))
        self.assertEqual((weights.dtype, weights.shape), (np.float32, (3, self.T["k"])))
        self.assertEqual((support.dtype, support.shape), (np.int32, (3,)))
        np.testing.assert_array_equal(ids, self.T["ids"])
        np.testing.assert_allclose(weights, self.T["weights"], rtol=0, atol=TOL["weights"])
        np.testing.assert_array_equal(support, self.T["support_size"])

    def call(self, expert, amateur, rows):
        return lr.build_targets(expert, amateur, rows, k=self.T["k"], beta=self.T["beta"],
                                temperature=self.T["temperature"], shared_vocab=self.T["shared_vocab"])

    def test_rows_as_list(self):
        self.check(*self.call(Inputs.expert, Inputs.amateur, self.T["rows"]))

    def test_rows_as_array(self):
        self.check(*self.call(Inputs.expert, Inputs.amateur, np.array(self.T["rows"], dtype=np.int64)))

    def test_all_rows(self):
        ids, weights, support = lr.build_targets(Inputs.expert, Inputs.amateur, k=self.T["k"])
        self.assertEqual(ids.shape, (6, self.T["k"]))
        self.check(ids[self.T["rows"]], weights[self.T["rows"]], support[self.T["rows"]])

    def test_row_strided_views(self):
        _, e = wide(Inputs.expert)
        _, a = wide(Inputs.amateur, extra=1)
        self.check(*self.call(e, a, self.T["rows"]))

    def test_beta_zero_is_an_error_naming_beta(self):
        with self.assertRaises(lr.LightReasonerError) as cm:
            lr.build_targets(Inputs.expert, Inputs.amateur, beta=0.0)
        err = cm.exception
        self.assertIsInstance(err, RuntimeError)
        self.assertEqual(err.status, "LR_ERR_INVALID_ARGUMENT")
        self.assertEqual(err.code, 1)
        self.assertIn("beta", err.message)
        self.assertIn("beta", str(err))

    def test_k_zero_is_an_error(self):
        with self.assertRaises(lr.LightReasonerError):
            lr.build_targets(Inputs.expert, Inputs.amateur, k=0)

    def test_rows_out_of_range(self):
        with self.assertRaises(lr.LightReasonerError) as cm:
            lr.build_targets(Inputs.expert, Inputs.amateur, [0, 6])
        self.assertIn("rows", cm.exception.message)

    def test_rows_must_be_one_dimensional(self):
        with self.assertRaises(ValueError):
            lr.build_targets(Inputs.expert, Inputs.amateur, np.zeros((1, 2), dtype=np.int64))


class SelectAndBuildTest(unittest.TestCase):
    def test_fixture(self):
        T = F["targets"]
        kl, keep, ids, weights, support = lr.select_and_build(
            Inputs.expert, Inputs.amateur, k=T["k"], kl_threshold=F["select"]["kl_threshold"], beta=T["beta"])
        for x, dt, shape in [(kl, np.float32, (6,)), (keep, np.bool_, (6,)), (ids, np.int32, (6, 4)),
                             (weights, np.float32, (6, 4)), (support, np.int32, (6,))]:
            self.assertIsInstance(x, np.ndarray)
            self.assertEqual((x.dtype, x.shape), (dt, shape))
        np.testing.assert_allclose(kl, F["select"]["kl"], rtol=TOL["kl"], atol=TOL["kl"])
        np.testing.assert_array_equal(keep, np.array(F["select"]["keep"], dtype=bool))
        for j, r in enumerate(T["rows"]):
            if keep[r]:
                np.testing.assert_array_equal(ids[r], T["ids"][j])
                np.testing.assert_allclose(weights[r], T["weights"][j], rtol=0, atol=TOL["weights"])
                self.assertEqual(support[r], T["support_size"][j])
        for r in np.flatnonzero(~keep):  # padding
            np.testing.assert_array_equal(ids[r], -1)
            np.testing.assert_array_equal(weights[r], 0)
            self.assertEqual(support[r], 0)
        # equal to the two separate calls on the kept rows
        kept = np.flatnonzero(keep)
        i2, w2, s2 = lr.build_targets(Inputs.expert, Inputs.amateur, kept.astype(np.int64), k=T["k"])
        np.testing.assert_array_equal(ids[kept], i2)
        np.testing.assert_allclose(weights[kept], w2, rtol=0, atol=TOL["weights"])
        np.testing.assert_array_equal(support[kept], s2)

    def test_row_strided_views(self):
        _, e = wide(Inputs.expert, extra=2)
        _, a = wide(Inputs.amateur, extra=5)
        kl, keep, *_ = lr.select_and_build(e, a, k=4)
        np.testing.assert_allclose(kl, F["select"]["kl"], rtol=TOL["kl"], atol=TOL["kl"])


class LossTest(unittest.TestCase):
    L = F["loss"]

    def test_mean(self):
        m = self.L["mean"]
        loss, grad = lr.distill_loss_backward(Inputs.logits, Inputs.ids, Inputs.weights, grad_scale=m["grad_scale"])
        self.assertIsInstance(loss, np.ndarray)
        self.assertEqual((loss.dtype, loss.shape), (np.float32, ()))
        self.assertAlmostEqual(float(loss), m["loss"], delta=TOL["loss"] * max(1.0, abs(m["loss"])))
        self.assertEqual((grad.dtype, grad.shape), (np.float32, (6, 12)))
        np.testing.assert_allclose(grad, m["grad"], rtol=0, atol=TOL["grad"])

    def test_none(self):
        m = self.L["none"]
        loss, grad = lr.distill_loss_backward(Inputs.logits, Inputs.ids, Inputs.weights, reduction="none",
                                              grad_scale=m["grad_scale"])
        self.assertEqual((loss.dtype, loss.shape), (np.float32, (6,)))
        np.testing.assert_allclose(loss, m["row_loss"], rtol=TOL["loss"], atol=TOL["loss"])
        np.testing.assert_allclose(grad, m["grad"], rtol=0, atol=TOL["grad"])

    def test_sum(self):
        m = self.L["none"]
        loss, grad = lr.distill_loss_backward(Inputs.logits, Inputs.ids, Inputs.weights, reduction="SUM")
        self.assertAlmostEqual(float(loss), sum(m["row_loss"]), delta=TOL["loss"] * 20)
        np.testing.assert_allclose(grad, m["grad"], rtol=0, atol=TOL["grad"])

    def test_no_grad(self):
        loss, grad = lr.distill_loss_backward(Inputs.logits, Inputs.ids, Inputs.weights, grad=False,
                                              grad_scale=self.L["mean"]["grad_scale"])
        self.assertIsNone(grad)
        self.assertAlmostEqual(float(loss), self.L["mean"]["loss"], delta=1e-4)

    def test_inplace(self):
        m = self.L["mean"]
        z = Inputs.logits.copy()
        loss, grad = lr.distill_loss_backward(z, Inputs.ids, Inputs.weights, grad_scale=m["grad_scale"],
                                              grad="inplace")
        self.assertIs(grad, z)
        self.assertAlmostEqual(float(loss), m["loss"], delta=1e-4)
        np.testing.assert_allclose(z, m["grad"], rtol=0, atol=TOL["grad"])

    def test_inplace_on_a_row_strided_view(self):
        m = self.L["mean"]
        buf, z = wide(Inputs.logits, extra=4, fill=123.0)
        loss, grad = lr.distill_loss_backward(z, Inputs.ids, Inputs.weights, grad_scale=m["grad_scale"],
                                              grad="inplace")
        self.assertIs(grad, z)
        np.testing.assert_allclose(buf[:, :12], m["grad"], rtol=0, atol=TOL["grad"])
        np.testing.assert_array_equal(buf[:, 12:], 123.0)  # the rest of the buffer is untouched

    def test_row_strided_view_with_new_grad(self):
        m = self.L["none"]
        _, z = wide(Inputs.logits, extra=3)
        loss, grad = lr.distill_loss_backward(z, Inputs.ids, Inputs.weights, reduction="none")
        np.testing.assert_allclose(loss, m["row_loss"], rtol=TOL["loss"], atol=TOL["loss"])
        np.testing.assert_allclose(grad, m["grad"], rtol=0, atol=TOL["grad"])
        self.assertTrue(grad.flags.c_contiguous)

    def test_inplace_on_read_only_is_a_value_error(self):
        z = Inputs.logits.copy()
        z.flags.writeable = False
        with self.assertRaises(ValueError):
            lr.distill_loss_backward(z, Inputs.ids, Inputs.weights, grad="inplace")

    def test_python_side_argument_errors(self):
        with self.assertRaises(ValueError):
            lr.distill_loss_backward(Inputs.logits, Inputs.ids, Inputs.weights, reduction="avg")
        with self.assertRaises(ValueError):
            lr.distill_loss_backward(Inputs.logits, Inputs.ids, Inputs.weights, grad="yes")
        with self.assertRaises(TypeError):
            lr.distill_loss_backward(F["loss"]["logits"], Inputs.ids, Inputs.weights)

    def test_wrong_dtypes_are_library_errors(self):
        with self.assertRaises(lr.LightReasonerError) as cm:
            lr.distill_loss_backward(Inputs.logits, Inputs.ids.astype(np.int64), Inputs.weights)
        self.assertIn("target_ids", cm.exception.message)
        with self.assertRaises(lr.LightReasonerError) as cm:
            lr.select_steps(Inputs.expert.astype(np.float64), Inputs.amateur)
        self.assertEqual(cm.exception.status, "LR_ERR_INVALID_ARGUMENT")
        self.assertIn("expert_logits", cm.exception.message)
        self.assertIn("dtype", cm.exception.message)

    def test_vocab_not_contiguous_is_an_error(self):
        e = np.repeat(Inputs.expert, 2, axis=1)[:, ::2]
        with self.assertRaises(lr.LightReasonerError) as cm:
            lr.select_steps(e, Inputs.amateur)
        self.assertIn("expert_logits", cm.exception.message)
        with self.assertRaises(lr.LightReasonerError):
            lr.select_steps(np.asfortranarray(Inputs.expert), Inputs.amateur)

    def test_big_endian_is_a_value_error(self):
        with self.assertRaises(ValueError):
            lr.select_steps(Inputs.expert.astype(">f4"), Inputs.amateur)


if __name__ == "__main__":
    unittest.main(verbosity=2)
