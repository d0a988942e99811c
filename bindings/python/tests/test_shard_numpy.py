"""The vocabulary-sharded calls (ABI 1.1, lr_shard_*) with numpy arrays, the
host's all-gather simulated by np.stack: for partitions into 1 to 6 shards
(uneven, a one-column shard, an empty shard, a shard wholly past the shared
vocabulary), the results equal the unsharded calls on the whole logits: ids,
keep and support sizes identical, values within 1e-5, each shard's gradient
the unsharded gradient's columns. Rows with a NaN in one shard and rows of
-Inf fault on every shard as in 1.0. Needs no torch."""

from __future__ import annotations

import unittest

import numpy as np

import _support  # noqa: F401  (puts the package on sys.path when run by hand)
import lightreasoner as lr
from lightreasoner import _native

N, VE, VA, K = 9, 23, 20, 4  # the shared vocabulary S is min(Ve, Va) = 20
NAN_ROW, NEG_INF_ROW = 3, 5

# Column boundaries of the expert's [0, Ve); the amateur's shard starts at the
# same column and stops at Va (so [20, 23) holds no amateur column).
PARTITIONS = [
    [0, 23],
    [0, 7, 23],
    [0, 1, 1, 12, 20, 23],  # one column, empty, then wholly past S
    [0, 5, 9, 14, 18, 20, 23],
]


def make_logits(dtype=np.float32, seed=7):
    g = np.random.default_rng(seed)
    e = (3 * g.standard_normal((N, VE))).astype(np.float32)
    a = (3 * g.standard_normal((N, VA))).astype(np.float32)
    e[0, 4] += 9.0  # peaked rows: small supports
    e[2, 13] += 9.0
    a[1] = e[1, :VA]  # a row with KL ~ 0 (not kept)
    e[NAN_ROW, 15] = np.nan  # a fault in one shard only
    e[NEG_INF_ROW, :] = -np.inf  # a row with no finite logit
    return e.astype(dtype), a.astype(dtype)


def shards(x, bounds, width):
    """x's column ranges [b_i, b_{i+1}) clipped to its width, as (offset, view)."""
    return [(lo, x[:, min(lo, width) : min(hi, width)]) for lo, hi in zip(bounds[:-1], bounds[1:])]


def sharded_stage1(e, a, bounds, k, **params):
    """select_and_build's outputs for all rows through the six-step sharded path."""
    kw = {key: params[key] for key in ("temperature", "shared_vocab") if key in params}
    pairs = list(zip(shards(e, bounds, VE), shards(a, bounds, VA)))
    stats = np.stack([lr.shard_select_stats(es, as_, v0, VE, VA, **kw) for (v0, es), (_, as_) in pairs])
    assert stats.shape == (len(pairs), N, lr.SHARD_SELECT_STATS) and stats.dtype == np.float64
    kl, keep = lr.shard_select_finish(stats, kl_threshold=params.get("kl_threshold"), **kw)
    rows = np.flatnonzero(keep)
    cands = np.stack(
        [
            lr.shard_target_candidates(es, as_, v0, VE, VA, stats, rows, k=k, beta=params.get("beta"), **kw)
            for (v0, es), (_, as_) in pairs
        ]
    )
    assert cands.shape == (len(pairs), len(rows), lr.shard_candidates(k)) and cands.dtype == np.float32
    ids, weights, support = lr.shard_targets_finish(cands, beta=params.get("beta"), **kw)
    return kl, keep, rows, ids, weights, support


class ShardedStage1Test(unittest.TestCase):
    def check(self, dtype=np.float32, k=K, **params):
        e, a = make_logits(dtype)
        want_kl, want_keep = lr.select_steps(e, a, **{p: params.get(p) for p in ("kl_threshold", "temperature", "shared_vocab")})
        for bounds in PARTITIONS:
            with self.subTest(bounds=bounds, dtype=dtype, **params):
                kl, keep, rows, ids, weights, support = sharded_stage1(e, a, bounds, k, **params)
                np.testing.assert_array_equal(keep, want_keep)
                np.testing.assert_allclose(kl, want_kl, rtol=1e-5, atol=1e-6)  # NaN where 1.0 has NaN
                tp = {p: params.get(p) for p in ("beta", "temperature", "shared_vocab")}
                want_ids, want_w, want_s = lr.build_targets(e, a, rows, k=k, **tp)
                np.testing.assert_array_equal(ids, want_ids)
                np.testing.assert_array_equal(support, want_s)
                np.testing.assert_allclose(weights, want_w, rtol=0, atol=1e-6)
                # every kept row: also through the faulted rows, all N rows at once
                all_rows = np.arange(N)
                pairs = list(zip(shards(e, bounds, VE), shards(a, bounds, VA)))
                kw = {p: params.get(p) for p in ("temperature", "shared_vocab")}
                stats = np.stack([lr.shard_select_stats(es, as_, v0, VE, VA, **kw) for (v0, es), (_, as_) in pairs])
                cands = np.stack(
                    [lr.shard_target_candidates(es, as_, v0, VE, VA, stats, None, k=k, **tp) for (v0, es), (_, as_) in pairs]
                )
                got = lr.shard_targets_finish(cands, **tp)
                want = lr.build_targets(e, a, all_rows, k=k, **tp)
                np.testing.assert_array_equal(got[0], want[0])
                np.testing.assert_array_equal(got[2], want[2])
                np.testing.assert_allclose(got[1], want[1], rtol=0, atol=1e-6)
        return want_kl, want_keep

    def test_defaults(self):
        kl, keep = self.check()
        self.assertTrue(np.isnan(kl[NAN_ROW]) and np.isnan(kl[NEG_INF_ROW]))  # the faults are there
        self.assertGreater(int(keep.sum()), 2)

    def test_truncation_temperature_and_shared_vocab(self):
        e, a = make_logits()
        _, _, support = lr.build_targets(e, a, k=2, beta=0.01)
        self.assertTrue((support > 2).any())  # truncation to k is exercised
        self.check(k=2, beta=0.01, kl_threshold=0.1)
        self.check(temperature=1.7, beta=0.3)
        self.check(shared_vocab=15)  # shards past 15 contribute nothing

    def test_float16(self):
        self.check(dtype=np.float16)


class ShardedLossTest(unittest.TestCase):
    def setUp(self):
        e, a = make_logits()
        self.z = np.nan_to_num(e, nan=1.0, neginf=-2.0) * 0.7  # the trained model's logits [N, Ve]
        _, _, self.ids, self.w, _ = lr.select_and_build(e, a, k=K, kl_threshold=0.0)
        self.assertTrue((self.ids[:, 0] == -1).any())  # rows without targets count as in 1.0

    def sharded(self, z, bounds, **params):
        pieces = shards(z, bounds, VE)
        t = params.get("temperature")
        stats = np.stack([lr.shard_loss_stats(s, v0, VE, self.ids, self.w, temperature=t) for v0, s in pieces])
        self.assertEqual(stats.shape, (len(pieces), N, lr.SHARD_LOSS_STATS))
        outs = [lr.shard_loss_backward(s, v0, VE, self.ids, self.w, stats, **params) for v0, s in pieces]
        return [o[0] for o in outs], [o[1] for o in outs], pieces

    def test_loss_and_gradient_equal_unsharded(self):
        for params in ({}, {"reduction": "sum"}, {"reduction": "none", "temperature": 2.0}, {"grad_scale": 0.25}):
            want_loss, want_grad = lr.distill_loss_backward(self.z, self.ids, self.w, **params)
            for bounds in PARTITIONS:
                with self.subTest(bounds=bounds, **params):
                    losses, grads, pieces = self.sharded(self.z, bounds, **params)
                    for loss, grad, (v0, piece) in zip(losses, grads, pieces):
                        np.testing.assert_allclose(loss, want_loss, rtol=1e-5, atol=1e-6)
                        self.assertEqual(grad.shape, piece.shape)
                        np.testing.assert_allclose(grad, want_grad[:, v0 : v0 + piece.shape[1]], rtol=0, atol=1e-6)

    def test_in_place_and_faults(self):
        z = self.z.copy()
        bad = int(np.flatnonzero(self.ids[:, 0] >= 0)[0])  # a row with targets (one without has loss 0)
        z[bad, 17] = np.nan
        want_loss, want_grad = lr.distill_loss_backward(z, self.ids, self.w, reduction="none")
        bounds = PARTITIONS[2]
        pieces = shards(z.copy(), bounds, VE)  # views of one copy: in place writes its columns
        stats = np.stack([lr.shard_loss_stats(s, v0, VE, self.ids, self.w) for v0, s in pieces])
        for v0, s in pieces:
            loss, grad = lr.shard_loss_backward(s, v0, VE, self.ids, self.w, stats, reduction="none", grad="inplace")
            self.assertIs(grad, s)
            np.testing.assert_allclose(loss, want_loss, rtol=1e-5, atol=1e-6)  # NaN for the faulted row
            np.testing.assert_allclose(s, want_grad[:, v0 : v0 + s.shape[1]], rtol=0, atol=1e-6)
        self.assertTrue(np.isnan(want_loss[bad]) and (want_grad[bad] == 0).all())


class ShardedArgumentsTest(unittest.TestCase):
    def test_bad_shard_is_invalid_argument(self):
        e, a = make_logits()
        with self.assertRaises(lr.LightReasonerError) as cm:
            lr.shard_select_stats(e[:, :7], a[:, :7], -1, VE, VA)
        self.assertEqual(cm.exception.status, "LR_ERR_INVALID_ARGUMENT")
        self.assertIn("shard", cm.exception.message)
        with self.assertRaises(lr.LightReasonerError):  # past the expert's width
            lr.shard_select_stats(e[:, :7], a[:, :7], 20, VE, VA)
        with self.assertRaises(ValueError):
            lr.shard_targets_finish(np.zeros((4, 13), np.float32))  # not [W, M, 1 + 3k]

    def test_vocab_shard_struct(self):
        self.assertEqual(
            [(f, getattr(lr.VocabShard, f).offset) for f, _ in lr.VocabShard._fields_],
            [("struct_size", 0), ("column_offset", 8), ("expert_vocab", 16), ("amateur_vocab", 24)],
        )
        self.assertEqual(_native.vocab_shard(6, 10, 9).struct_size, 32)
        self.assertEqual((lr.SHARD_SELECT_STATS, lr.SHARD_LOSS_STATS, lr.shard_candidates(8)), (6, 4, 25))

    def test_a_library_before_abi_1_1_is_named(self):
        real = _native.library()

        class Abi10:  # the 1.0 library: no lr_shard_* symbols
            def __getattr__(self, name):
                if name.startswith("lr_shard_"):
                    raise AttributeError(name)
                return (lambda: 1 << 16) if name == "lr_abi_version" else getattr(real, name)

        saved, _native._library = _native._library, Abi10()
        try:
            with self.assertRaises(lr.LightReasonerError) as cm:
                lr.shard_loss_stats(np.zeros((1, 2), np.float32), 0, 2, np.zeros((1, 1), np.int32), np.ones((1, 1), np.float32))
            self.assertEqual(cm.exception.status, "ABI_MISMATCH")
            self.assertIn("1.0", cm.exception.message)
            lr.select_steps(np.zeros((1, 2), np.float32), np.zeros((1, 2), np.float32))  # the 1.0 calls still work
        finally:
            _native._library = saved


if __name__ == "__main__":
    unittest.main(verbosity=2)
