//! ABI 1.1: logits sharded over the vocabulary (`lr_shard_*`).
//!
//! A tensor-parallel host holds each model's logits split by contiguous
//! vocabulary ranges: rank r has columns `[v0_r, v0_r + V_r)` of every row.
//! Each stage is a *partial* call on the rank's shard, which writes a small
//! record per row, the host's all-gather of the records over the ranks, and
//! a *finish* call that gives what the unsharded call gives. The step
//! functions ([`shard_select_stats`], ...) are those calls; the
//! `sharded_*` functions run all three with the host's collective supplied
//! as an [`AllGather`] (a closure over bytes will do). The C header states
//! the contract: which columns a shard may hold, the record layouts, the
//! bytes per row.
use super::*;

/// Where a shard lies in the full vocabulary (`lr_vocab_shard`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VocabShard {
    /// v0: the global id of the shard's column 0.
    pub column_offset: usize,
    /// Ve: the expert's full width (the loss calls: the trained model's V).
    pub expert_vocab: usize,
    /// Va: the amateur's full width (ignored by the loss calls).
    pub amateur_vocab: usize,
}

impl VocabShard {
    /// A shard of both models' logits, for stage 1.
    pub fn new(column_offset: usize, expert_vocab: usize, amateur_vocab: usize) -> VocabShard {
        VocabShard {
            column_offset,
            expert_vocab,
            amateur_vocab,
        }
    }

    /// A shard of the trained model's logits `[N, V]`, for the loss calls.
    pub fn of_logits(column_offset: usize, vocab: usize) -> VocabShard {
        VocabShard::new(column_offset, vocab, 0)
    }

    pub fn to_raw(&self) -> sys::lr_vocab_shard {
        sys::lr_vocab_shard {
            struct_size: std::mem::size_of::<sys::lr_vocab_shard>() as u32,
            column_offset: self.column_offset as i64,
            expert_vocab: self.expert_vocab as i64,
            amateur_vocab: self.amateur_vocab as i64,
        }
    }
}

/// f64 elements per row of [`shard_select_stats`] (`LR_SHARD_SELECT_STATS`).
pub const SHARD_SELECT_STATS: usize = sys::LR_SHARD_SELECT_STATS as usize;
/// f64 elements per row of [`shard_loss_stats`] (`LR_SHARD_LOSS_STATS`).
pub const SHARD_LOSS_STATS: usize = sys::LR_SHARD_LOSS_STATS as usize;

/// f32 elements per row of [`shard_target_candidates`] with `k` slots
/// (`LR_SHARD_CANDIDATES(k)`).
pub const fn shard_candidates(k: usize) -> usize {
    1 + 3 * k
}

// ----------------------------------------------------------- the collective

/// The host's all-gather over the ranks that hold the shards: given this
/// rank's records, every rank's records concatenated in one fixed order of
/// shards (the same on every rank), e.g. by rank. Every rank calls it the
/// same number of times with the same length. Implement it for a typed
/// collective, or pass a closure `FnMut(&[u8]) -> Result<Vec<u8>, Error>`
/// that all-gathers bytes (MPI_Allgather of MPI_BYTE, NCCL's ncclAllGather
/// of ncclUint8, ...): the records are bit-preserved either way.
pub trait AllGather {
    fn all_gather_f64(&mut self, mine: &[f64]) -> Result<Vec<f64>, Error>;
    fn all_gather_f32(&mut self, mine: &[f32]) -> Result<Vec<f32>, Error>;
}

impl<F: FnMut(&[u8]) -> Result<Vec<u8>, Error>> AllGather for F {
    fn all_gather_f64(&mut self, mine: &[f64]) -> Result<Vec<f64>, Error> {
        let bytes: Vec<u8> = mine.iter().flat_map(|x| x.to_ne_bytes()).collect();
        let all = whole_records(self(&bytes)?, 8)?;
        Ok(all
            .chunks_exact(8)
            .map(|c| f64::from_ne_bytes(c.try_into().unwrap()))
            .collect())
    }
    fn all_gather_f32(&mut self, mine: &[f32]) -> Result<Vec<f32>, Error> {
        let bytes: Vec<u8> = mine.iter().flat_map(|x| x.to_ne_bytes()).collect();
        let all = whole_records(self(&bytes)?, 4)?;
        Ok(all
            .chunks_exact(4)
            .map(|c| f32::from_ne_bytes(c.try_into().unwrap()))
            .collect())
    }
}

fn whole_records(bytes: Vec<u8>, size: usize) -> Result<Vec<u8>, Error> {
    if bytes.len() % size != 0 {
        return Err(Error::invalid(format!(
            "all-gather: returned {} bytes, not a whole number of {size}-byte elements",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// W, the number of shards in `len` gathered elements of `per_shard` each.
fn gathered_shards(len: usize, per_shard: usize, what: &str) -> Result<usize, Error> {
    if per_shard == 0 {
        return if len == 0 {
            Ok(1)
        } else {
            Err(Error::invalid(format!("{what}: {len} elements for records of 0 rows")))
        };
    }
    if len == 0 || len % per_shard != 0 {
        return Err(Error::invalid(format!(
            "{what}: {len} gathered elements are not W >= 1 shards of {per_shard}"
        )));
    }
    Ok(len / per_shard)
}

// -------------------------------------------------------- stage 1: the steps

/// Stage 1, partial: the KL statistics of the shard's shared columns,
/// `[N, SHARD_SELECT_STATS]` row-major. `expert` and `amateur` are the two
/// models' columns from `shard.column_offset` on.
pub fn shard_select_stats<E: Element, A: Element>(
    expert: &Logits<'_, E>,
    amateur: &Logits<'_, A>,
    shard: &VocabShard,
    params: &SelectParams,
) -> Result<Vec<f64>, Error> {
    check_abi()?;
    let n = expert.rows;
    let mut stats = vec![0f64; n * SHARD_SELECT_STATS];
    let mut out = Desc::compact(stats.as_mut_ptr(), n, SHARD_SELECT_STATS);
    let (mut e, mut a) = (expert.desc(), amateur.desc());
    let (sh, p) = (shard.to_raw(), params.to_raw());
    check(unsafe {
        sys::lr_shard_select_stats(
            &e.tensor(),
            &a.tensor(),
            &sh,
            &p,
            &mut out.tensor(),
            std::ptr::null_mut(),
        )
    })?;
    Ok(stats)
}

/// Stage 1, finish: KL and keep of `rows` rows from the gathered stats
/// (`[W, rows, SHARD_SELECT_STATS]`, W shards one after another).
pub fn shard_select_finish(stats: &[f64], rows: usize, params: &SelectParams) -> Result<Selection, Error> {
    check_abi()?;
    let w = gathered_shards(stats.len(), rows * SHARD_SELECT_STATS, "stats")?;
    let mut kl = vec![0f32; rows];
    let mut keep = vec![0u8; rows];
    let mut st = Desc::stacked(stats.as_ptr() as *mut f64, w, rows, SHARD_SELECT_STATS);
    let (mut kl_d, mut keep_d) = (
        Desc::vector(kl.as_mut_ptr(), rows),
        Desc::vector(keep.as_mut_ptr(), rows),
    );
    let p = params.to_raw();
    check(unsafe {
        sys::lr_shard_select_finish(
            &st.tensor(),
            &p,
            &mut kl_d.tensor(),
            &mut keep_d.tensor(),
            std::ptr::null_mut(),
        )
    })?;
    Ok(Selection {
        kl,
        keep: keep.into_iter().map(|b| b != 0).collect(),
    })
}

/// Stage 1, partial: the shard's members of the support of `rows` (None:
/// all N rows), `[M, shard_candidates(k)]`, decided with the gathered
/// `stats` of [`shard_select_stats`] on the same logits.
pub fn shard_target_candidates<E: Element, A: Element>(
    expert: &Logits<'_, E>,
    amateur: &Logits<'_, A>,
    shard: &VocabShard,
    stats: &[f64],
    rows: Option<&[usize]>,
    k: usize,
    params: &TargetParams,
) -> Result<Vec<f32>, Error> {
    check_abi()?;
    let w = gathered_shards(stats.len(), expert.rows * SHARD_SELECT_STATS, "stats")?;
    let mut row_ids: Option<Vec<i64>> = rows.map(|r| r.iter().map(|&i| i as i64).collect());
    let m = rows.map_or(expert.rows, |r| r.len());
    let width = shard_candidates(k);
    let mut cands = vec![0f32; target_cells(m, width)?];
    let mut st = Desc::stacked(stats.as_ptr() as *mut f64, w, expert.rows, SHARD_SELECT_STATS);
    let mut rows_d = row_ids.as_mut().map(|r| Desc::vector(r.as_mut_ptr(), r.len()));
    let rows_t = rows_d.as_mut().map(|d| d.tensor());
    let mut out = Desc::compact(cands.as_mut_ptr(), m, width);
    let (mut e, mut a) = (expert.desc(), amateur.desc());
    let (sh, p) = (shard.to_raw(), params.to_raw());
    check(unsafe {
        sys::lr_shard_target_candidates(
            &e.tensor(),
            &a.tensor(),
            &sh,
            &st.tensor(),
            rows_t.as_ref().map_or(std::ptr::null(), |t| t as *const DLTensor),
            &p,
            &mut out.tensor(),
            std::ptr::null_mut(),
        )
    })?;
    Ok(cands)
}

/// Stage 1, finish: the targets of `rows` rows from the gathered candidates
/// (`[W, rows, shard_candidates(k)]`), exactly as [`build_targets`] writes
/// them, with global ids.
pub fn shard_targets_finish(
    candidates: &[f32],
    rows: usize,
    k: usize,
    params: &TargetParams,
) -> Result<Targets, Error> {
    check_abi()?;
    let width = shard_candidates(k);
    let w = gathered_shards(candidates.len(), rows * width, "candidates")?;
    let cells = target_cells(rows, k)?;
    let (mut ids, mut weights, mut support) = (vec![-1i32; cells], vec![0f32; cells], vec![0i32; rows]);
    let mut c = Desc::stacked(candidates.as_ptr() as *mut f32, w, rows, width);
    let mut ids_d = Desc::compact(ids.as_mut_ptr(), rows, k);
    let mut w_d = Desc::compact(weights.as_mut_ptr(), rows, k);
    let mut s_d = Desc::vector(support.as_mut_ptr(), rows);
    let p = params.to_raw();
    check(unsafe {
        sys::lr_shard_targets_finish(
            &c.tensor(),
            &p,
            &mut ids_d.tensor(),
            &mut w_d.tensor(),
            &mut s_d.tensor(),
            std::ptr::null_mut(),
        )
    })?;
    Ok(Targets {
        ids,
        weights,
        support_size: support,
        k,
    })
}

// -------------------------------------------------------- stage 2: the steps

/// Stage 2, partial: the softmax statistics of the trained model's shard
/// and its target terms, `[N, SHARD_LOSS_STATS]`. `targets` are the full
/// targets with global ids, the same on every rank.
pub fn shard_loss_stats<T: Element>(
    logits: &Logits<'_, T>,
    shard: &VocabShard,
    targets: &TargetsView<'_>,
    params: &LossParams,
) -> Result<Vec<f64>, Error> {
    check_abi()?;
    let n = logits.rows;
    let mut stats = vec![0f64; n * SHARD_LOSS_STATS];
    let mut out = Desc::compact(stats.as_mut_ptr(), n, SHARD_LOSS_STATS);
    let mut ids = Desc::compact(targets.ids.as_ptr() as *mut i32, targets.rows(), targets.k);
    let mut w = Desc::compact(targets.weights.as_ptr() as *mut f32, targets.rows(), targets.k);
    let (sh, p) = (shard.to_raw(), params.to_raw());
    check(unsafe {
        sys::lr_shard_loss_stats(
            &logits.desc().tensor(),
            &sh,
            &ids.tensor(),
            &w.tensor(),
            &p,
            &mut out.tensor(),
            std::ptr::null_mut(),
        )
    })?;
    Ok(stats)
}

/// The sharded loss call over [`loss_call`]: the gathered `stats` as
/// `[W, rows, SHARD_LOSS_STATS]`.
#[allow(clippy::too_many_arguments)]
fn sharded_loss_call(
    logits: &mut Desc,
    rows: usize,
    shard: &VocabShard,
    targets: &TargetsView<'_>,
    stats: &[f64],
    params: &LossParams,
    grad: Option<&mut Desc>,
    in_place: bool,
) -> Result<Loss, Error> {
    let w = gathered_shards(stats.len(), rows * SHARD_LOSS_STATS, "stats")?;
    let mut st = Desc::stacked(stats.as_ptr() as *mut f64, w, rows, SHARD_LOSS_STATS);
    let st_t = st.tensor();
    let sh = shard.to_raw();
    loss_call(logits, targets, params, rows, grad, in_place, |t| {
        // SAFETY: loss_call made every pointer from live buffers; st_t and sh outlive the call.
        unsafe {
            sys::lr_shard_loss_backward(
                t.logits,
                &sh,
                t.ids,
                t.weights,
                &st_t,
                t.params,
                t.loss,
                t.grad,
                std::ptr::null_mut(),
            )
        }
    })
}

/// Stage 2, finish: the loss of the whole rows (the same on every rank) and
/// the gradient of the shard's own columns as a new compact `[N, V_r]` buffer.
pub fn shard_loss_backward<T: Element>(
    logits: &Logits<'_, T>,
    shard: &VocabShard,
    targets: &TargetsView<'_>,
    stats: &[f64],
    params: &LossParams,
) -> Result<LossOutput<T>, Error> {
    let (rows, cols) = (logits.rows, logits.cols);
    let mut grad = vec![T::from_f32(0.0); rows * cols];
    let mut g = Desc::compact(grad.as_mut_ptr(), rows, cols);
    let loss = sharded_loss_call(
        &mut logits.desc(),
        rows,
        shard,
        targets,
        stats,
        params,
        Some(&mut g),
        false,
    )?;
    Ok(LossOutput { loss, grad: Some(grad) })
}

/// As [`shard_loss_backward`], the gradient written over the shard itself.
pub fn shard_loss_backward_in_place<T: Element>(
    logits: &mut LogitsMut<'_, T>,
    shard: &VocabShard,
    targets: &TargetsView<'_>,
    stats: &[f64],
    params: &LossParams,
) -> Result<Loss, Error> {
    let rows = logits.rows;
    sharded_loss_call(&mut logits.desc(), rows, shard, targets, stats, params, None, true)
}

// ------------------------------------------------- the three steps in one

/// [`select_and_build`] of logits sharded over the ranks: this rank's
/// columns of both models from `shard.column_offset` on, the records
/// exchanged through `gather`. Every rank gets the unsharded call's
/// selection and targets for all N rows (global ids; rows not kept are
/// padding with support 0, faulted rows support -1). Two all-gathers: the
/// select stats, then the kept rows' candidates (skipped on every rank when
/// no row is kept, or N is 0, which all ranks see alike).
pub fn sharded_select_and_build<E: Element, A: Element, G: AllGather + ?Sized>(
    expert: &Logits<'_, E>,
    amateur: &Logits<'_, A>,
    shard: &VocabShard,
    select: &SelectParams,
    target: &TargetParams,
    k: usize,
    gather: &mut G,
) -> Result<(Selection, Targets), Error> {
    if k == 0 {
        return Err(Error::invalid("k: must be at least 1"));
    }
    let n = expert.rows;
    let cells = target_cells(n, k)?;
    let stats = shard_select_stats(expert, amateur, shard, select)?;
    let all_stats = if n == 0 { stats } else { gather.all_gather_f64(&stats)? };
    let selection = shard_select_finish(&all_stats, n, select)?;
    let support = selection.kl.iter().map(|kl| if kl.is_nan() { -1 } else { 0 }).collect();
    let mut targets = Targets {
        ids: vec![-1; cells],
        weights: vec![0.0; cells],
        support_size: support,
        k,
    };
    let kept = selection.kept_rows();
    if !kept.is_empty() {
        let cands = shard_target_candidates(expert, amateur, shard, &all_stats, Some(&kept), k, target)?;
        let all_cands = gather.all_gather_f32(&cands)?;
        let got = shard_targets_finish(&all_cands, kept.len(), k, target)?;
        for (j, &r) in kept.iter().enumerate() {
            targets.ids[r * k..(r + 1) * k].copy_from_slice(&got.ids[j * k..(j + 1) * k]);
            targets.weights[r * k..(r + 1) * k].copy_from_slice(&got.weights[j * k..(j + 1) * k]);
            targets.support_size[r] = got.support_size[j];
        }
    }
    Ok((selection, targets))
}

/// The loss stats of the shard, gathered over the ranks.
fn gathered_loss_stats<T: Element, G: AllGather + ?Sized>(
    logits: &Logits<'_, T>,
    shard: &VocabShard,
    targets: &TargetsView<'_>,
    params: &LossParams,
    gather: &mut G,
) -> Result<Vec<f64>, Error> {
    let stats = shard_loss_stats(logits, shard, targets, params)?;
    if logits.rows == 0 {
        return Ok(stats);
    }
    gather.all_gather_f64(&stats)
}

/// [`distill_loss_backward`] of logits sharded over the ranks: the loss of
/// the whole rows (the same on every rank) and the gradient of this rank's
/// columns. One all-gather of 32 bytes per row per rank.
pub fn sharded_distill_loss_backward<T: Element, G: AllGather + ?Sized>(
    logits: &Logits<'_, T>,
    shard: &VocabShard,
    targets: &TargetsView<'_>,
    params: &LossParams,
    gather: &mut G,
) -> Result<LossOutput<T>, Error> {
    let stats = gathered_loss_stats(logits, shard, targets, params, gather)?;
    shard_loss_backward(logits, shard, targets, &stats, params)
}

/// As [`sharded_distill_loss_backward`], the gradient written over the
/// shard itself. On error the shard is unchanged.
pub fn sharded_distill_loss_backward_in_place<T: Element, G: AllGather + ?Sized>(
    logits: &mut LogitsMut<'_, T>,
    shard: &VocabShard,
    targets: &TargetsView<'_>,
    params: &LossParams,
    gather: &mut G,
) -> Result<Loss, Error> {
    let stats = gathered_loss_stats(&logits.as_logits(), shard, targets, params, gather)?;
    shard_loss_backward_in_place(logits, shard, targets, &stats, params)
}
