"""lightreasoner.torch.sharded_select_and_build and sharded_distill_loss over a
torch.distributed group: 2 processes over Gloo on 127.0.0.1, each holding an
uneven vocabulary shard (expert columns [0, 9) and [9, 23), amateur [0, 9) and
[9, 20)) of logits both make from one seed. Every rank checks its results
against the unsharded calls on the whole logits: kl / keep / ids / support
identical (values within 1e-5), loss within 1e-5 and equal on both ranks, the
shard's gradient the unsharded gradient's columns; and a vocabulary-parallel
lm_head (Megatron-style: each rank holds rows [v0, v1) of the weight) gets the
unsharded parameter and input gradients after the usual all-reduce."""

from __future__ import annotations

import datetime
import socket
import unittest

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import _support  # noqa: F401  (puts the package on sys.path when run by hand)
import lightreasoner as lr
import lightreasoner.torch as lrt

N, VE, VA, K, HIDDEN = 10, 23, 20, 4, 12
BOUNDS = [0, 9, 23]  # rank r holds expert columns [BOUNDS[r], BOUNDS[r + 1]), amateur up to VA
NAN_ROW = 4


def logits(seed=11):
    g = torch.Generator().manual_seed(seed)
    e = torch.randn(N, VE, generator=g) * 3
    a = torch.randn(N, VA, generator=g) * 3
    e[0, 2] += 9.0  # a peaked row in rank 0's columns, another in rank 1's
    e[1, 15] += 9.0
    a[2] = e[2, :VA]  # KL ~ 0: not kept
    e[NAN_ROW, 12] = float("nan")  # a fault in rank 1's columns only
    return e, a


def close(got, want, tol=1e-5):
    np.testing.assert_allclose(got.detach().double().numpy(), want.detach().double().numpy(), rtol=tol, atol=tol)


def check_stage1(rank, v0, v1, dtype):
    e, a = (x.to(dtype) for x in logits())
    kl, keep, ids, w, support = lrt.sharded_select_and_build(
        e[:, v0:v1], a[:, v0 : min(v1, VA)], v0, VE, VA, k=K, kl_threshold=0.3
    )
    want = lr.select_and_build(e, a, k=K, kl_threshold=0.3)
    assert torch.equal(keep, want[1]), (rank, keep, want[1])
    close(kl, want[0])
    assert torch.equal(ids, want[2]), (rank, ids, want[2])
    assert torch.equal(support, want[4]), (rank, support, want[4])
    close(w, want[3], 1e-6)
    assert support[NAN_ROW] == -1 and 0 < int(keep.sum()) < N
    return ids, w


def check_loss(rank, v0, v1, ids, w):
    z = logits(seed=12)[0]
    z[NAN_ROW] = 0.5  # the trained model's logits: no fault here
    for reduction, upstream in ((None, torch.tensor(1.7)), ("none", torch.linspace(0.5, 2.0, N))):
        full = z.clone().requires_grad_()
        want = lrt.distill_loss(full, ids, w, reduction=reduction)
        (want * upstream).sum().backward()
        shard = z[:, v0:v1].clone().requires_grad_()
        loss = lrt.sharded_distill_loss(shard, v0, VE, ids, w, reduction=reduction)
        close(loss, want)
        both = lrt.all_gather_records(loss.detach().reshape(1, -1))
        assert torch.equal(both[0], both[1]), "the loss differs between the ranks"
        (loss * upstream).sum().backward()
        close(shard.grad, full.grad[:, v0:v1])
    # in place: the shard's memory ends up holding the gradient
    shard = z[:, v0:v1].clone().requires_grad_() * 1.0
    loss = lrt.sharded_distill_loss(shard, v0, VE, ids, w, inplace=True)
    loss.backward()
    full = z.clone().requires_grad_()
    lrt.distill_loss(full, ids, w).backward()
    close(shard.detach(), full.grad[:, v0:v1])


def check_vocab_parallel_head(rank, v0, v1, ids, w):
    g = torch.Generator().manual_seed(13)
    x0 = torch.randn(N, HIDDEN, generator=g)
    weight = torch.randn(VE, HIDDEN, generator=g) * 0.5
    # unsharded: one head over the whole vocabulary
    x, wf = x0.clone().requires_grad_(), weight.clone().requires_grad_()
    lrt.distill_loss(x @ wf.t(), ids, w).backward()
    # sharded: this rank's rows of the weight; the input's gradient summed over the group
    xs, ws = x0.clone().requires_grad_(), weight[v0:v1].clone().requires_grad_()
    lrt.sharded_distill_loss(xs @ ws.t(), v0, VE, ids, w).backward()
    dist.all_reduce(xs.grad)
    close(ws.grad, wf.grad[v0:v1])
    close(xs.grad, x.grad)


def worker(rank, port):
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2,
        timeout=datetime.timedelta(seconds=60),
    )
    try:
        v0, v1 = BOUNDS[rank], BOUNDS[rank + 1]
        ids, w = check_stage1(rank, v0, v1, torch.float32)
        check_stage1(rank, v0, v1, torch.bfloat16)
        check_loss(rank, v0, v1, ids, w)
        check_vocab_parallel_head(rank, v0, v1, ids, w)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ShardedTorchTest(unittest.TestCase):
    def test_two_ranks_over_gloo_equal_unsharded(self):
        if not dist.is_available() or not dist.is_gloo_available():
            self.skipTest("torch.distributed with Gloo is not available")
        mp.spawn(worker, args=(free_port(),), nprocs=2, join=True)

    def test_one_rank_group_gathers_nothing_else(self):
        # all_gather_records of a world of 1 is the record itself, stacked
        if not dist.is_available() or not dist.is_gloo_available():
            self.skipTest("torch.distributed with Gloo is not available")
        store = dist.HashStore()
        dist.init_process_group("gloo", store=store, rank=0, world_size=1)
        try:
            e, a = logits()
            got = lrt.sharded_select_and_build(e, a, 0, VE, VA, k=K)
            want = lr.select_and_build(e, a, k=K)
            for g, x in zip(got, want):
                self.assertTrue(torch.equal(g, x) or torch.allclose(g.double(), x.double(), equal_nan=True))
            r = torch.arange(6, dtype=torch.float64).reshape(2, 3)
            self.assertTrue(torch.equal(lrt.all_gather_records(r), r.unsqueeze(0)))
        finally:
            dist.destroy_process_group()

    @unittest.skipUnless(torch.cuda.is_available() and dist.is_nccl_available(), "no CUDA device with NCCL")
    def test_cuda_one_rank_over_nccl(self):
        # the all_gather_into_tensor path, and the library's CUDA shard kernels
        if "CUDA: no" in lr.build_info():
            self.skipTest("liblightreasoner built without CUDA")
        store = dist.HashStore()
        dist.init_process_group("nccl", store=store, rank=0, world_size=1)
        try:
            e, a = (x.cuda() for x in logits())
            got = lrt.sharded_select_and_build(e, a, 0, VE, VA, k=K)
            want = lr.select_and_build(e, a, k=K)
            for g, x in zip(got, want):
                self.assertEqual(g.device, e.device)
                self.assertTrue(torch.allclose(g.double().cpu(), x.double().cpu(), rtol=1e-5, atol=1e-6, equal_nan=True))
            z = torch.randn(N, VE, device="cuda", requires_grad=True)
            lrt.sharded_distill_loss(z, 0, VE, got[2], got[3]).backward()
            ref = z.detach().clone().requires_grad_()
            lrt.distill_loss(ref, got[2], got[3]).backward()
            self.assertTrue(torch.allclose(z.grad, ref.grad, atol=1e-6))
        finally:
            dist.destroy_process_group()


if __name__ == "__main__":
    unittest.main(verbosity=2)
