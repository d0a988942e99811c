"""lightreasoner.torch.distill_loss, the autograd operation, against a torch
composite in float64 (log_softmax, gather, the KL written out): the loss and
loss.backward()'s gradients for each reduction, a temperature, bfloat16 logits,
the in-place gradient, and a 50-step training loop of a Linear layer whose
loss curve must follow the composite's."""

from __future__ import annotations

import unittest

import torch

import lightreasoner.torch as lrt

ROWS, VOCAB, K = 7, 50, 4


def targets(rows=ROWS, vocab=VOCAB, k=K, seed=0):
    """Distinct ids per row, some padding (-1), one row without any target."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.stack([torch.randperm(vocab, generator=g)[:k] for _ in range(rows)]).to(torch.int32)
    weights = torch.rand(rows, k, generator=g) + 0.1
    ids[1, 2:] = -1
    ids[3, :] = -1
    weights[ids < 0] = 0
    sums = weights.sum(1, keepdim=True)
    weights = torch.where(sums > 0, weights / sums.clamp(min=1e-30), weights)
    return ids, weights.float()


def composite(z, ids, weights, reduction="mean", temperature=1.0):
    """KL(v || softmax(z / T)) per row in float64, reduced as the library does."""
    logp = torch.log_softmax(z.double() / temperature, dim=1)
    v = weights.double() * (ids >= 0)
    picked = logp.gather(1, ids.clamp(min=0).long())
    terms = torch.where(v > 0, v * (torch.log(torch.where(v > 0, v, torch.ones_like(v))) - picked), torch.zeros_like(v))
    per_row = terms.sum(1)
    if reduction == "none":
        return per_row
    if reduction == "sum":
        return per_row.sum()
    return per_row.sum() / (ids >= 0).any(1).sum()


def logits(dtype=torch.float32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(ROWS, VOCAB, generator=g) * 3).to(dtype)


class AutogradTest(unittest.TestCase):
    def check_against_composite(self, reduction, temperature=None, dtype=torch.float32, tol=1e-5):
        ids, w = targets()
        z = logits(dtype).requires_grad_()
        ref_z = z.detach().double().requires_grad_()
        loss = lrt.distill_loss(z, ids, w, reduction=reduction, temperature=temperature)
        ref = composite(ref_z, ids, w, reduction or "mean", temperature or 1.0)
        self.assertEqual(loss.dtype, torch.float32)
        self.assertTrue(torch.allclose(loss.double(), ref.detach(), rtol=tol, atol=tol), (loss, ref))
        # a weighted sum for "none", so that each row's incoming gradient differs
        upstream = torch.linspace(0.5, 2.0, ROWS) if reduction == "none" else torch.tensor(1.7)
        (loss * upstream).sum().backward()
        (ref * upstream.double()).sum().backward()
        self.assertEqual(z.grad.dtype, dtype)
        err = (z.grad.double() - ref_z.grad).abs().max().item()
        self.assertLess(err, tol * max(1.0, ref_z.grad.abs().max().item()), (reduction, temperature, dtype, err))
        self.assertTrue(torch.all(z.grad[3] == 0))  # the row without targets

    def test_mean_sum_none_equal_the_composite(self):
        for reduction in (None, "mean", "sum", "none"):
            with self.subTest(reduction=reduction):
                self.check_against_composite(reduction)

    def test_temperature(self):
        self.check_against_composite("mean", temperature=2.5)

    def test_bfloat16_and_float16_logits(self):
        # the composite reads the same rounded logits; the gradient is rounded to the logits' dtype
        self.check_against_composite("sum", dtype=torch.bfloat16, tol=1e-2)
        self.check_against_composite("sum", dtype=torch.float16, tol=2e-3)
        # per row: each row's incoming gradient scales a bfloat16/float16 gradient
        self.check_against_composite("none", dtype=torch.bfloat16, tol=1e-2)
        self.check_against_composite("none", dtype=torch.float16, tol=2e-3)

    def test_inplace_gradient_gives_the_same_parameter_gradients(self):
        ids, w = targets()
        x = torch.randn(ROWS, 16, generator=torch.Generator().manual_seed(2))
        grads = []
        for inplace in (False, True):
            head = torch.nn.Linear(16, VOCAB)
            with torch.no_grad():
                head.weight.copy_(torch.randn(VOCAB, 16, generator=torch.Generator().manual_seed(3)))
                head.bias.zero_()
            z = head(x)
            loss = lrt.distill_loss(z, ids, w, inplace=inplace)
            loss.backward()
            grads.append(head.weight.grad.clone())
            if inplace:  # z's memory now holds d loss / d z
                ref_z = z.detach().clone()
                zz = head(x).detach().double().requires_grad_()
                composite(zz, ids, w).backward()
                self.assertLess((ref_z.double() - zz.grad).abs().max().item(), 1e-6)
        self.assertLess((grads[0] - grads[1]).abs().max().item(), 1e-6)

    def test_inplace_refuses_what_autograd_still_needs(self):
        ids, w = targets()
        leaf = logits().requires_grad_()
        with self.assertRaises(RuntimeError):  # a leaf that requires grad cannot change in place
            lrt.distill_loss(leaf, ids, w, inplace=True)
        z = logits().requires_grad_() * 1.0
        squared = (z * z).sum()  # saves z for its backward
        loss = lrt.distill_loss(z, ids, w, inplace=True)
        loss.backward(retain_graph=True)
        with self.assertRaisesRegex(RuntimeError, "modified by an inplace operation"):
            squared.backward()
        with self.assertRaisesRegex(RuntimeError, "modified by an inplace operation"):
            loss.backward()  # the gradient was scaled where it lies: a second backward is refused

    def test_without_grad_only_the_loss(self):
        ids, w = targets()
        z = logits()
        loss = lrt.distill_loss(z, ids, w, inplace=True)  # nothing needs a gradient: z is left alone
        self.assertFalse(loss.requires_grad)
        self.assertTrue(torch.equal(z, logits()))
        self.assertAlmostEqual(loss.item(), composite(z, ids, w).item(), places=5)

    def test_fifty_steps_of_a_linear_layer_follow_the_composite(self):
        torch.manual_seed(4)
        x = torch.randn(32, 24)
        ids, w = targets(rows=32, vocab=VOCAB, k=K, seed=5)
        start = torch.nn.Linear(24, VOCAB)
        curves = []
        for ours in (True, False):
            head = torch.nn.Linear(24, VOCAB)
            head.load_state_dict(start.state_dict())
            opt = torch.optim.Adam(head.parameters(), lr=2e-2)
            curve = []
            for _ in range(50):
                opt.zero_grad()
                z = head(x)
                loss = lrt.distill_loss(z, ids, w) if ours else composite(z.float(), ids, w).float()
                loss.backward()
                opt.step()
                curve.append(loss.item())
            curves.append(curve)
        ours_curve, ref_curve = curves
        self.assertLess(ours_curve[-1], 0.5 * ours_curve[0])  # it learns
        worst = max(abs(a - b) / abs(b) for a, b in zip(ours_curve, ref_curve))
        print("50 steps: loss %.4f -> %.4f, largest relative gap to the composite %.1e" % (ours_curve[0], ours_curve[-1], worst))
        self.assertLess(worst, 1e-5, (ours_curve[-5:], ref_curve[-5:]))

    @unittest.skipUnless(torch.cuda.is_available(), "no CUDA device")
    def test_cuda_on_the_current_stream(self):
        ids, w = targets()
        z = logits().cuda().requires_grad_()
        stream = torch.cuda.Stream()
        with torch.cuda.stream(stream):
            loss = lrt.distill_loss(z, ids.cuda(), w.cuda())
            loss.backward()
        stream.synchronize()
        ref_z = logits().double().requires_grad_()
        composite(ref_z, ids, w).backward()
        self.assertLess((z.grad.double().cpu() - ref_z.grad).abs().max().item(), 1e-5)


if __name__ == "__main__":
    unittest.main()
