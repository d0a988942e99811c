//! Every entry point against the shared binding fixture
//! (tests/fixtures/binding_fixture.json: inputs and the double-precision
//! brute force's outputs, with the tolerances stored in it).
mod common;

use common::{assert_close, f32_matrix, fixture, json::Value};
use lightreasoner::*;

struct Fx {
    f: Value,
    expert: (Vec<f32>, usize, usize),
    amateur: (Vec<f32>, usize, usize),
}

impl Fx {
    fn load() -> Fx {
        let f = fixture();
        let expert = f32_matrix(f.get("expert"));
        let amateur = f32_matrix(f.get("amateur"));
        Fx { f, expert, amateur }
    }
    fn tol(&self, what: &str) -> f64 {
        self.f.get("tolerance").get(what).as_f64()
    }
    fn expert(&self) -> Logits<'_, f32> {
        Logits::new(&self.expert.0, self.expert.1, self.expert.2).unwrap()
    }
    fn amateur(&self) -> Logits<'_, f32> {
        Logits::new(&self.amateur.0, self.amateur.1, self.amateur.2).unwrap()
    }
    fn select_params(&self) -> SelectParams {
        let s = self.f.get("select");
        SelectParams::default()
            .kl_threshold(s.get("kl_threshold").as_f64() as f32)
            .temperature(s.get("temperature").as_f64() as f32)
            .shared_vocab(s.get("shared_vocab").as_i64() as usize)
    }
    fn target_params(&self) -> TargetParams {
        let t = self.f.get("targets");
        TargetParams::default()
            .beta(t.get("beta").as_f64() as f32)
            .temperature(t.get("temperature").as_f64() as f32)
            .shared_vocab(t.get("shared_vocab").as_i64() as usize)
    }
    fn k(&self) -> usize {
        self.f.get("targets").get("k").as_i64() as usize
    }
    /// The loss section's logits and targets.
    fn loss_inputs(&self) -> (Vec<f32>, usize, usize, Vec<i32>, Vec<f32>, usize) {
        let l = self.f.get("loss");
        let (z, n, v) = f32_matrix(l.get("logits"));
        let (ids, _, k) = l.get("target_ids").matrix();
        let (w, _, _) = f32_matrix(l.get("target_weights"));
        (z, n, v, ids.into_iter().map(|x| x as i32).collect(), w, k)
    }
}

fn check_selection(fx: &Fx, sel: &Selection) {
    let s = fx.f.get("select");
    assert_close(&sel.kl, &s.get("kl").f64s(), fx.tol("kl"), "kl");
    let keep: Vec<bool> = s.get("keep").i64s().into_iter().map(|k| k != 0).collect();
    assert_eq!(sel.keep, keep);
}

/// Row `row` of `got` equals the expected ids exactly and weights within tol.
fn check_target_row(got: TargetRow<'_>, ids: &[i64], weights: &[f64], tol: f64, what: &str) {
    let ids: Vec<i32> = ids.iter().map(|&x| x as i32).collect();
    assert_eq!(got.ids, &ids[..], "{what}: ids");
    assert_close(got.weights, weights, tol, &format!("{what}: weights"));
}

#[test]
fn select_steps_matches_the_fixture() {
    let fx = Fx::load();
    let sel = select_steps(&fx.expert(), &fx.amateur(), &fx.select_params()).unwrap();
    check_selection(&fx, &sel);
    assert_eq!(sel.kept_rows(), vec![2, 3, 4, 5]);
}

#[test]
fn build_targets_matches_the_fixture() {
    let fx = Fx::load();
    let t = fx.f.get("targets");
    let rows: Vec<usize> = t.get("rows").i64s().into_iter().map(|r| r as usize).collect();
    let got = build_targets(&fx.expert(), &fx.amateur(), Some(&rows), fx.k(), &fx.target_params()).unwrap();
    assert_eq!((got.rows(), got.k), (rows.len(), fx.k()));
    let ids = t.get("ids").as_array();
    let weights = t.get("weights").as_array();
    let support = t.get("support_size").i64s();
    for i in 0..rows.len() {
        let row = got.row(i);
        check_target_row(
            row,
            &ids[i].i64s(),
            &weights[i].f64s(),
            fx.tol("weights"),
            &format!("targets row {i}"),
        );
        assert_eq!(row.support_size as i64, support[i]);
        assert!(!row.is_truncated());
    }
    // rows = None means every row, in order.
    let all = build_targets(&fx.expert(), &fx.amateur(), None, fx.k(), &fx.target_params()).unwrap();
    assert_eq!(all.rows(), fx.expert.1);
    for (i, &r) in rows.iter().enumerate() {
        assert_eq!(all.row(r), got.row(i));
    }
}

#[test]
fn select_and_build_matches_the_fixture() {
    let fx = Fx::load();
    let (sel, tg) = select_and_build(
        &fx.expert(),
        &fx.amateur(),
        &fx.select_params(),
        &fx.target_params(),
        fx.k(),
    )
    .unwrap();
    check_selection(&fx, &sel);
    // The loss section's targets are the brute force's targets of every row
    // (weights stored as float32), except its last row, blanked to padding.
    let l = fx.f.get("loss");
    let ids = l.get("target_ids").as_array();
    let weights = l.get("target_weights").as_array();
    let last = fx.expert.1 - 1;
    let separate = build_targets(&fx.expert(), &fx.amateur(), None, fx.k(), &fx.target_params()).unwrap();
    for i in 0..fx.expert.1 {
        let row = tg.row(i);
        if !sel.keep[i] {
            assert!(row.ids.iter().all(|&x| x == -1), "row {i} not kept: padding");
            assert!(row.weights.iter().all(|&x| x == 0.0));
            assert_eq!(row.support_size, 0);
            continue;
        }
        if i != last {
            check_target_row(
                row,
                &ids[i].i64s(),
                &weights[i].f64s(),
                fx.tol("weights"),
                &format!("fused row {i}"),
            );
        }
        // Equal to lr_build_targets on the kept rows.
        assert_eq!(row, separate.row(i), "fused row {i} vs build_targets");
    }
    // And the targets section's rows that were kept (4 and 2).
    let t = fx.f.get("targets");
    for (j, r) in t.get("rows").i64s().into_iter().enumerate() {
        if sel.keep[r as usize] {
            let w = t.get("weights").as_array()[j].f64s();
            check_target_row(
                tg.row(r as usize),
                &t.get("ids").as_array()[j].i64s(),
                &w,
                fx.tol("weights"),
                "fused",
            );
        }
    }
}

#[test]
fn distill_loss_mean_matches_the_fixture() {
    let fx = Fx::load();
    let (z, n, v, ids, w, k) = fx.loss_inputs();
    let m = fx.f.get("loss").get("mean");
    let params = LossParams::default().grad_scale(m.get("grad_scale").as_f64() as f32);
    assert_eq!(params.reduction, Reduction::Mean);
    let targets = TargetsView::new(&ids, &w, k).unwrap();
    let out = distill_loss_backward(&Logits::new(&z, n, v).unwrap(), &targets, &params).unwrap();
    let loss = out.loss.reduced().expect("MEAN reduces");
    assert_close(&[loss], &[m.get("loss").as_f64()], fx.tol("loss"), "mean loss");
    assert_close(
        &out.grad.unwrap(),
        &m.get("grad").matrix().0,
        fx.tol("grad"),
        "mean grad",
    );

    // SUM of the per-row losses; its gradient is MEAN's times the counted rows.
    let none = fx.f.get("loss").get("none");
    let sum: f64 = none.get("row_loss").f64s().iter().sum();
    let out = distill_loss(
        &Logits::new(&z, n, v).unwrap(),
        &targets,
        &params.reduction(Reduction::Sum),
    )
    .unwrap();
    assert_close(&[out.reduced().unwrap()], &[sum], fx.tol("loss"), "sum loss");
}

#[test]
fn distill_loss_none_matches_the_fixture() {
    let fx = Fx::load();
    let (z, n, v, ids, w, k) = fx.loss_inputs();
    let none = fx.f.get("loss").get("none");
    let params = LossParams::default()
        .reduction(Reduction::None)
        .grad_scale(none.get("grad_scale").as_f64() as f32);
    let targets = TargetsView::new(&ids, &w, k).unwrap();
    let logits = Logits::new(&z, n, v).unwrap();
    let want_loss = none.get("row_loss").f64s();
    let want_grad = none.get("grad").matrix().0;

    let out = distill_loss_backward(&logits, &targets, &params).unwrap();
    assert_close(out.loss.per_row().unwrap(), &want_loss, fx.tol("loss"), "row loss");
    assert_close(out.grad.as_ref().unwrap(), &want_grad, fx.tol("grad"), "grad");

    // Loss only: the same losses, no gradient.
    let loss = distill_loss(&logits, &targets, &params).unwrap();
    assert_close(
        loss.per_row().unwrap(),
        &want_loss,
        fx.tol("loss"),
        "row loss (no grad)",
    );

    // Into a caller's buffer.
    let mut grad = vec![f32::NAN; n * v];
    let loss = distill_loss_backward_into(&logits, &targets, &params, &mut grad).unwrap();
    assert_close(loss.per_row().unwrap(), &want_loss, fx.tol("loss"), "row loss (into)");
    assert_close(&grad, &want_grad, fx.tol("grad"), "grad (into)");
}

#[test]
fn in_place_gradient_overwrites_the_logits() {
    let fx = Fx::load();
    let (mut z, n, v, ids, w, k) = fx.loss_inputs();
    let none = fx.f.get("loss").get("none");
    let params = LossParams::default().reduction(Reduction::None);
    let targets = TargetsView::new(&ids, &w, k).unwrap();
    let mut logits = LogitsMut::new(&mut z, n, v).unwrap();
    let loss = distill_loss_backward_in_place(&mut logits, &targets, &params).unwrap();
    assert_close(
        loss.per_row().unwrap(),
        &none.get("row_loss").f64s(),
        fx.tol("loss"),
        "row loss",
    );
    assert_close(&z, &none.get("grad").matrix().0, fx.tol("grad"), "in-place grad");
}

/// `m` ([rows, cols] compact) copied into a wider buffer of row stride
/// `stride`, the gaps filled with `junk`.
fn widen<T: Copy>(m: &[T], rows: usize, cols: usize, stride: usize, junk: T) -> Vec<T> {
    let mut out = vec![junk; (rows - 1) * stride + cols];
    for i in 0..rows {
        out[i * stride..i * stride + cols].copy_from_slice(&m[i * cols..(i + 1) * cols]);
    }
    out
}

#[test]
fn row_strided_views_read_only_their_columns() {
    let fx = Fx::load();
    let (ref e, n, ve) = fx.expert;
    let (ref a, _, va) = fx.amateur;
    // NaN between the rows: a data fault if the library read it.
    let e_wide = widen(e, n, ve, ve + 5, f32::NAN);
    let a_wide = widen(a, n, va, 16, f32::NAN);
    let ew = Logits::with_row_stride(&e_wide, n, ve, ve + 5).unwrap();
    let aw = Logits::with_row_stride(&a_wide, n, va, 16).unwrap();
    assert_eq!(ew.row(1), fx.expert().row(1));

    let sel = select_steps(&ew, &aw, &fx.select_params()).unwrap();
    check_selection(&fx, &sel);
    let t = build_targets(&ew, &aw, None, fx.k(), &fx.target_params()).unwrap();
    assert_eq!(
        t,
        build_targets(&fx.expert(), &fx.amateur(), None, fx.k(), &fx.target_params()).unwrap()
    );
    let (sel2, t2) = select_and_build(&ew, &aw, &fx.select_params(), &fx.target_params(), fx.k()).unwrap();
    check_selection(&fx, &sel2);
    assert_eq!(t2.support_size.iter().filter(|&&s| s > 0).count(), 4);

    // Stage 2 through a strided view, gradient into a compact buffer and in place.
    let (z, n, v, ids, w, k) = fx.loss_inputs();
    let none = fx.f.get("loss").get("none");
    let want_grad = none.get("grad").matrix().0;
    let params = LossParams::default().reduction(Reduction::None);
    let targets = TargetsView::new(&ids, &w, k).unwrap();
    let mut z_wide = widen(&z, n, v, v + 3, 1234.5f32);
    let out = distill_loss_backward(
        &Logits::with_row_stride(&z_wide, n, v, v + 3).unwrap(),
        &targets,
        &params,
    )
    .unwrap();
    assert_close(&out.grad.unwrap(), &want_grad, fx.tol("grad"), "grad of a strided view");
    let mut view = LogitsMut::with_row_stride(&mut z_wide, n, v, v + 3).unwrap();
    let loss = distill_loss_backward_in_place(&mut view, &targets, &params).unwrap();
    assert_close(
        loss.per_row().unwrap(),
        &none.get("row_loss").f64s(),
        fx.tol("loss"),
        "strided loss",
    );
    for i in 0..n {
        assert_close(
            view.row(i),
            &want_grad[i * v..(i + 1) * v],
            fx.tol("grad"),
            "strided in-place grad",
        );
    }
    for i in 0..n - 1 {
        assert!(
            z_wide[i * (v + 3) + v..(i + 1) * (v + 3)].iter().all(|&x| x == 1234.5),
            "gap written"
        );
    }
}

/// KL(p_E || p_A) over the first `s` ids in double precision: the brute
/// force, for inputs the fixture does not hold (16-bit roundings).
fn kl_f64(e: &[f32], a: &[f32], s: usize) -> f64 {
    let lse = |x: &[f32]| {
        let m = x[..s].iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        m + x[..s].iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln()
    };
    let (le, la) = (lse(e), lse(a));
    (0..s)
        .map(|i| {
            let lpe = e[i] as f64 - le;
            lpe.exp() * (lpe - (a[i] as f64 - la))
        })
        .sum()
}

#[test]
fn bf16_and_f16_inputs() {
    // 16-bit logits: the library computes in float32 from the rounded
    // values, so we compare with the brute force on those same rounded
    // values at the fixture's kl tolerance, and with the fixture's float32
    // answers at a looser 1e-2 * (1 + |kl|): bfloat16 keeps 8 significant
    // bits, which moves these KLs by up to 2.3e-3 * (1 + |kl|).
    let fx = Fx::load();
    let (ref e, n, ve) = fx.expert;
    let (ref a, _, va) = fx.amateur;
    let s = ve.min(va);
    let e16: Vec<Bf16> = e.iter().map(|&x| Bf16::from_f32(x)).collect();
    let a16: Vec<Bf16> = a.iter().map(|&x| Bf16::from_f32(x)).collect();
    let ah: Vec<F16> = a.iter().map(|&x| F16::from_f32(x)).collect();
    let want = fx.f.get("select").get("kl").f64s();
    let e_round: Vec<f32> = e16.iter().map(|x| x.to_f32()).collect();

    let el = Logits::new(&e16, n, ve).unwrap();
    let sel = select_steps(&el, &Logits::new(&a16, n, va).unwrap(), &fx.select_params()).unwrap();
    let a_round: Vec<f32> = a16.iter().map(|x| x.to_f32()).collect();
    let brute: Vec<f64> = (0..n)
        .map(|i| kl_f64(&e_round[i * ve..], &a_round[i * va..], s))
        .collect();
    assert_close(
        &sel.kl,
        &brute,
        fx.tol("kl"),
        "bf16 kl vs brute force on the rounded logits",
    );
    assert_close(&sel.kl, &want, 1e-2, "bf16 kl vs the float32 fixture");
    let keep: Vec<bool> = want.iter().map(|&k| k > 0.4).collect();
    assert_eq!(sel.keep, keep, "no fixture KL lies near kappa");

    // Mixed dtypes: bfloat16 expert, float16 amateur.
    let sel = select_steps(&el, &Logits::new(&ah, n, va).unwrap(), &fx.select_params()).unwrap();
    let a_round: Vec<f32> = ah.iter().map(|x| x.to_f32()).collect();
    let brute: Vec<f64> = (0..n)
        .map(|i| kl_f64(&e_round[i * ve..], &a_round[i * va..], s))
        .collect();
    assert_close(&sel.kl, &brute, fx.tol("kl"), "bf16/f16 kl vs brute force");

    // Stage 2 in float16: gradient written as float16 (11 significant bits),
    // compared with the float32 fixture at 2e-3 * (1 + |g|).
    let (z, n, v, ids, w, k) = fx.loss_inputs();
    let zh: Vec<F16> = z.iter().map(|&x| F16::from_f32(x)).collect();
    let params = LossParams::default().reduction(Reduction::None);
    let out = distill_loss_backward(
        &Logits::new(&zh, n, v).unwrap(),
        &TargetsView::new(&ids, &w, k).unwrap(),
        &params,
    )
    .unwrap();
    let g: Vec<f32> = out.grad.unwrap().iter().map(|x| x.to_f32()).collect();
    assert_close(
        &g,
        &fx.f.get("loss").get("none").get("grad").matrix().0,
        2e-3,
        "f16 grad",
    );
}
