//! The vocabulary-sharded calls (ABI 1.1) against the unsharded ones: 2 and 3
//! uneven shards (one of a single column, one past the amateur's width),
//! simulated in one process, once through the step functions with the
//! gather done by concatenation, once through the `sharded_*` functions
//! with one thread per rank exchanging bytes through a shared board.
use lightreasoner::*;
use std::sync::{Barrier, Mutex};

const N: usize = 8;
const VE: usize = 23;
const VA: usize = 20;
const K: usize = 4;
const NAN_ROW: usize = 3;
/// Expert column bounds; the amateur's shard starts at the same column and stops at VA.
const PARTITIONS: [&[usize]; 2] = [&[0, 9, 23], &[0, 1, 14, 23]];

/// Deterministic logits, roughly N(0, scale^2): a xorshift generator, sums of uniforms.
fn logits(rows: usize, cols: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..rows * cols)
        .map(|_| (((0..4).map(|_| uniform()).sum::<f64>() - 2.0) * 1.7) as f32 * scale)
        .collect()
}

fn inputs() -> (Vec<f32>, Vec<f32>) {
    let mut e = logits(N, VE, 1, 3.0);
    let a = logits(N, VA, 2, 3.0);
    e[4] += 9.0; // peaked rows
    e[2 * VE + 17] += 9.0;
    e[NAN_ROW * VE + 11] = f32::NAN; // a fault in one shard only
    (e, a)
}

/// Rank r's column range of a `[N, width]` row-major matrix whose rows are `stride` long.
fn view(x: &[f32], lo: usize, hi: usize, width: usize, stride: usize) -> Logits<'_, f32> {
    let (lo, hi) = (lo.min(width), hi.min(width));
    Logits::with_row_stride(&x[lo..], N, hi - lo, stride).unwrap()
}

fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let same = (g.is_nan() && w.is_nan()) || (g - w).abs() <= tol * (1.0 + w.abs());
        assert!(same, "{what}[{i}]: got {g}, want {w}");
    }
}

fn assert_same_stage1(got: &(Selection, Targets), want: &(Selection, Targets), what: &str) {
    assert_eq!(got.0.keep, want.0.keep, "{what}: keep");
    assert_close(&got.0.kl, &want.0.kl, 1e-5, what);
    assert_eq!(got.1.ids, want.1.ids, "{what}: ids");
    assert_eq!(got.1.support_size, want.1.support_size, "{what}: support");
    assert_close(&got.1.weights, &want.1.weights, 1e-6, what);
}

fn unsharded() -> (Selection, Targets) {
    let (e, a) = inputs();
    let (e, a) = (Logits::new(&e, N, VE).unwrap(), Logits::new(&a, N, VA).unwrap());
    select_and_build(&e, &a, &SelectParams::default(), &TargetParams::default(), K).unwrap()
}

#[test]
fn steps_with_concatenation_equal_unsharded() {
    let (e, a) = inputs();
    let (sp, tp) = (SelectParams::default(), TargetParams::default());
    let want = unsharded();
    assert!(want.0.keep.iter().filter(|&&k| k).count() >= 2 && want.1.support_size[NAN_ROW] == -1);
    for bounds in PARTITIONS {
        let ranks: Vec<_> = bounds
            .windows(2)
            .map(|b| {
                let sh = VocabShard::new(b[0], VE, VA);
                (sh, view(&e, b[0], b[1], VE, VE), view(&a, b[0], b[1], VA, VA))
            })
            .collect();
        let stats: Vec<f64> = ranks
            .iter()
            .flat_map(|(sh, es, as_)| shard_select_stats(es, as_, sh, &sp).unwrap())
            .collect();
        assert_eq!(stats.len(), ranks.len() * N * SHARD_SELECT_STATS);
        let sel = shard_select_finish(&stats, N, &sp).unwrap();
        let kept = sel.kept_rows();
        let cands: Vec<f32> = ranks
            .iter()
            .flat_map(|(sh, es, as_)| shard_target_candidates(es, as_, sh, &stats, Some(&kept), K, &tp).unwrap())
            .collect();
        let t = shard_targets_finish(&cands, kept.len(), K, &tp).unwrap();
        assert_eq!(sel.keep, want.0.keep, "{bounds:?}");
        assert_close(&sel.kl, &want.0.kl, 1e-5, "kl");
        for (j, &r) in kept.iter().enumerate() {
            assert_eq!(t.row(j).ids, want.1.row(r).ids, "{bounds:?} row {r}");
            assert_eq!(t.row(j).support_size, want.1.row(r).support_size);
            assert_close(t.row(j).weights, want.1.row(r).weights, 1e-6, "weights");
        }
    }
}

/// Ranks as threads: each all-gather puts this rank's bytes on the board,
/// waits for all, and reads every rank's in rank order.
struct Board {
    slots: Mutex<Vec<Vec<u8>>>,
    barrier: Barrier,
}

impl Board {
    fn new(world: usize) -> Board {
        Board {
            slots: Mutex::new(vec![Vec::new(); world]),
            barrier: Barrier::new(world),
        }
    }
    fn all_gather(&self, rank: usize, mine: &[u8]) -> Result<Vec<u8>, Error> {
        self.slots.lock().unwrap()[rank] = mine.to_vec();
        self.barrier.wait();
        let all = self.slots.lock().unwrap().concat();
        self.barrier.wait(); // nobody writes the next round before everyone has read
        Ok(all)
    }
}

#[test]
fn sharded_functions_with_a_threaded_gather_equal_unsharded() {
    let (e, a) = inputs();
    let z = logits(N, VE, 3, 2.0); // the trained model's logits
    let want = unsharded();
    let targets = want.1.view();
    for params in [
        LossParams::default(),
        LossParams::default().reduction(Reduction::None).temperature(1.5),
    ] {
        let full = distill_loss_backward(&Logits::new(&z, N, VE).unwrap(), &targets, &params).unwrap();
        let full_grad = full.grad.unwrap();
        for bounds in PARTITIONS {
            let world = bounds.len() - 1;
            let board = Board::new(world);
            std::thread::scope(|s| {
                for rank in 0..world {
                    let (lo, hi) = (bounds[rank], bounds[rank + 1]);
                    let (e, a, z, board, want, full_loss, full_grad) =
                        (&e, &a, &z, &board, &want, &full.loss, &full_grad);
                    s.spawn(move || {
                        let mut gather = |mine: &[u8]| board.all_gather(rank, mine);
                        let sh = VocabShard::new(lo, VE, VA);
                        let got = sharded_select_and_build(
                            &view(e, lo, hi, VE, VE),
                            &view(a, lo, hi, VA, VA),
                            &sh,
                            &SelectParams::default(),
                            &TargetParams::default(),
                            K,
                            &mut gather,
                        )
                        .unwrap();
                        assert_same_stage1(&got, want, &format!("{bounds:?} rank {rank}"));
                        // stage 2: new gradient, then in place over a copy of the shard
                        let zs = view(z, lo, hi, VE, VE);
                        let out = sharded_distill_loss_backward(
                            &zs,
                            &VocabShard::of_logits(lo, VE),
                            &want.1.view(),
                            &params,
                            &mut gather,
                        )
                        .unwrap();
                        let cols: Vec<f32> = (0..N)
                            .flat_map(|i| full_grad[i * VE + lo..i * VE + hi].to_vec())
                            .collect();
                        assert_close(&loss_values(&out.loss), &loss_values(full_loss), 1e-5, "loss");
                        assert_close(out.grad.as_ref().unwrap(), &cols, 1e-6, "grad");
                        let mut copy: Vec<f32> = (0..N).flat_map(|i| zs.row(i).to_vec()).collect();
                        let mut m = LogitsMut::new(&mut copy, N, hi - lo).unwrap();
                        let loss = sharded_distill_loss_backward_in_place(
                            &mut m,
                            &VocabShard::of_logits(lo, VE),
                            &want.1.view(),
                            &params,
                            &mut gather,
                        )
                        .unwrap();
                        assert_close(&loss_values(&loss), &loss_values(full_loss), 1e-5, "loss in place");
                        assert_close(&copy, &cols, 1e-6, "grad in place");
                    });
                }
            });
        }
    }
}

fn loss_values(l: &Loss) -> Vec<f32> {
    match l {
        Loss::PerRow(v) => v.clone(),
        Loss::Reduced(x) => vec![*x],
    }
}

#[test]
fn argument_faults_name_the_shard_and_the_gather() {
    let (e, a) = inputs();
    let (es, as_) = (view(&e, 0, 9, VE, VE), view(&a, 0, 9, VA, VA));
    let err = shard_select_stats(&es, &as_, &VocabShard::new(20, VE, VA), &SelectParams::default()).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    assert!(err.message.contains("shard"), "{err}");
    // a gather that loses bytes is refused before the library reads the records
    let mut short = |mine: &[u8]| Ok(mine[..mine.len() - 8].to_vec());
    let err = sharded_select_and_build(
        &es,
        &as_,
        &VocabShard::new(0, VE, VA),
        &SelectParams::default(),
        &TargetParams::default(),
        K,
        &mut short,
    )
    .unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    assert!(err.message.contains("stats"), "{err}");
    assert_eq!((SHARD_SELECT_STATS, SHARD_LOSS_STATS, shard_candidates(8)), (6, 4, 25));
}
