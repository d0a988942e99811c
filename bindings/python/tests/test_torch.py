"""The binding against the shared fixture with torch inputs: outputs are torch tensors."""

from __future__ import annotations

import unittest

import numpy as np
import torch

from _support import fixture, ref_kl

import lightreasoner as lr

F = fixture()
TOL = F["tolerance"]


def t32(x):
    return torch.tensor(x, dtype=torch.float32)


EXPERT, AMATEUR = t32(F["expert"]), t32(F["amateur"])
LOGITS = t32(F["loss"]["logits"])
IDS = torch.tensor(F["loss"]["target_ids"], dtype=torch.int32)
WEIGHTS = t32(F["loss"]["target_weights"])


def wide(x, extra=5, fill=float("nan")):
    buf = torch.full((x.shape[0], x.shape[1] + extra), fill, dtype=x.dtype)
    buf[:, : x.shape[1]] = x
    view = buf[:, : x.shape[1]]
    assert not view.is_contiguous()
    return buf, view


def close(test, got, want, atol, rtol=0.0):
    test.assertIsInstance(got, torch.Tensor)
    np.testing.assert_allclose(got.float().numpy(), np.asarray(want, dtype=np.float64), rtol=rtol, atol=atol)


class TorchTest(unittest.TestCase):
    def test_select_steps(self):
        kl, keep = lr.select_steps(EXPERT, AMATEUR)
        self.assertEqual((kl.dtype, kl.device, tuple(kl.shape)), (torch.float32, torch.device("cpu"), (6,)))
        self.assertEqual(keep.dtype, torch.bool)
        close(self, kl, F["select"]["kl"], TOL["kl"], TOL["kl"])
        self.assertEqual(keep.tolist(), [bool(x) for x in F["select"]["keep"]])

    def test_select_steps_bfloat16(self):
        e, a = EXPERT.bfloat16(), AMATEUR.bfloat16()
        kl, keep = lr.select_steps(e, a)
        self.assertEqual(kl.dtype, torch.float32)
        # exact for the rounded inputs, loose against the float32 fixture
        close(self, kl, ref_kl(e.float().numpy(), a.float().numpy()), 1e-4, 1e-4)
        close(self, kl, F["select"]["kl"], 5e-2, 1e-2)
        self.assertEqual(keep.tolist(), [bool(x) for x in F["select"]["keep"]])

    def test_select_steps_mixed_dtypes_and_float16(self):
        kl, _ = lr.select_steps(EXPERT.half(), AMATEUR.bfloat16())
        close(self, kl, ref_kl(EXPERT.half().float().numpy(), AMATEUR.bfloat16().float().numpy()), 1e-4, 1e-4)

    def test_row_strided_views(self):
        _, e = wide(EXPERT)
        _, a = wide(AMATEUR, extra=2)
        kl, keep = lr.select_steps(e, a)
        close(self, kl, F["select"]["kl"], TOL["kl"], TOL["kl"])
        _, eb = wide(EXPERT.bfloat16())
        kl, _ = lr.select_steps(eb, AMATEUR)
        close(self, kl, ref_kl(EXPERT.bfloat16().float().numpy(), AMATEUR.numpy()), 1e-4, 1e-4)

    def test_requires_grad_inputs(self):
        e = EXPERT.clone().requires_grad_(True)
        kl, _ = lr.select_steps(e, AMATEUR)
        self.assertFalse(kl.requires_grad)
        close(self, kl, F["select"]["kl"], TOL["kl"], TOL["kl"])

    def test_build_targets(self):
        T = F["targets"]
        for rows in (T["rows"], torch.tensor(T["rows"], dtype=torch.int64)):
            ids, weights, support = lr.build_targets(EXPERT, AMATEUR, rows, k=T["k"], beta=T["beta"])
            self.assertEqual((ids.dtype, weights.dtype, support.dtype), (torch.int32, torch.float32, torch.int32))
            self.assertEqual(ids.tolist(), T["ids"])
            close(self, weights, T["weights"], TOL["weights"])
            self.assertEqual(support.tolist(), T["support_size"])

    def test_build_targets_row_strided(self):
        T = F["targets"]
        _, e = wide(EXPERT, extra=9)
        ids, weights, support = lr.build_targets(e, AMATEUR, T["rows"], k=T["k"])
        self.assertEqual(ids.tolist(), T["ids"])
        close(self, weights, T["weights"], TOL["weights"])

    def test_select_and_build(self):
        T = F["targets"]
        kl, keep, ids, weights, support = lr.select_and_build(EXPERT, AMATEUR, k=T["k"])
        for x in (kl, keep, ids, weights, support):
            self.assertIsInstance(x, torch.Tensor)
        close(self, kl, F["select"]["kl"], TOL["kl"], TOL["kl"])
        for j, r in enumerate(T["rows"]):
            if keep[r]:
                self.assertEqual(ids[r].tolist(), T["ids"][j])
                close(self, weights[r], T["weights"][j], TOL["weights"])
            else:
                self.assertEqual(support[r].item(), 0)

    def test_select_and_build_bfloat16(self):
        kl, keep, ids, weights, support = lr.select_and_build(EXPERT.bfloat16(), AMATEUR.bfloat16(), k=4)
        self.assertEqual(keep.tolist(), [bool(x) for x in F["select"]["keep"]])
        close(self, weights.sum(dim=1)[keep], np.ones(int(keep.sum())), 1e-5)

    def test_loss_mean_and_none(self):
        m = F["loss"]["mean"]
        loss, grad = lr.distill_loss_backward(LOGITS, IDS, WEIGHTS, grad_scale=m["grad_scale"])
        self.assertEqual((loss.dtype, tuple(loss.shape)), (torch.float32, ()))
        self.assertAlmostEqual(loss.item(), m["loss"], delta=TOL["loss"] * max(1.0, m["loss"]))
        self.assertEqual((grad.dtype, tuple(grad.shape)), (torch.float32, (6, 12)))
        close(self, grad, m["grad"], TOL["grad"])
        m = F["loss"]["none"]
        loss, grad = lr.distill_loss_backward(LOGITS, IDS, WEIGHTS, reduction="none")
        close(self, loss, m["row_loss"], TOL["loss"], TOL["loss"])
        close(self, grad, m["grad"], TOL["grad"])

    def test_loss_inplace_row_strided(self):
        m = F["loss"]["mean"]
        buf, z = wide(LOGITS, extra=3, fill=7.0)
        loss, grad = lr.distill_loss_backward(z, IDS, WEIGHTS, grad_scale=m["grad_scale"], grad="inplace")
        self.assertIs(grad, z)
        close(self, buf[:, :12], m["grad"], TOL["grad"])
        self.assertTrue(bool((buf[:, 12:] == 7.0).all()))

    def test_loss_bfloat16_grad_is_bfloat16(self):
        z = LOGITS.bfloat16()
        loss, grad = lr.distill_loss_backward(z, IDS, WEIGHTS, reduction="none")
        self.assertEqual(grad.dtype, torch.bfloat16)
        # the gradient q - v is within bfloat16 rounding of the float32 one
        close(self, grad, F["loss"]["none"]["grad"], 2e-2)

    def test_targets_feed_the_loss(self):
        kl, keep, ids, weights, support = lr.select_and_build(EXPERT, AMATEUR, k=4)
        loss, grad = lr.distill_loss_backward(EXPERT[keep], ids[keep], weights[keep], reduction="none")
        self.assertTrue(bool((loss >= -1e-6).all()))
        close(self, grad.sum(dim=1), np.zeros(int(keep.sum())), 1e-5)

    def test_errors(self):
        with self.assertRaises(lr.LightReasonerError) as cm:
            lr.build_targets(EXPERT, AMATEUR, beta=0.0)
        self.assertIn("beta", cm.exception.message)
        with self.assertRaises(lr.LightReasonerError) as cm:
            lr.select_steps(EXPERT.double(), AMATEUR)
        self.assertIn("dtype", cm.exception.message)
        with self.assertRaises(lr.LightReasonerError):
            lr.select_steps(EXPERT.t().contiguous().t(), AMATEUR)  # column-major: vocab stride != 1
        with self.assertRaises(lr.LightReasonerError):
            lr.distill_loss_backward(LOGITS, IDS.long(), WEIGHTS)

    @unittest.skipUnless(torch.cuda.is_available(), "no CUDA device")
    def test_cuda_tensors(self):
        e, a = EXPERT.cuda(), AMATEUR.cuda()
        if "CUDA: no" in lr.build_info():
            with self.assertRaises(lr.LightReasonerError) as cm:
                lr.select_steps(e, a)
            self.assertEqual(cm.exception.status, "LR_ERR_UNSUPPORTED")
            return
        kl, keep = lr.select_steps(e, a)
        self.assertEqual(kl.device, e.device)
        close(self, kl.cpu(), F["select"]["kl"], TOL["kl"], TOL["kl"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
