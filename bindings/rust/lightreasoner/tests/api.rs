//! Errors, argument checks, the ABI check, parameters and data faults.
mod common;

use lightreasoner::*;

fn two_rows() -> (Vec<f32>, Vec<f32>) {
    (
        vec![4.0, 1.0, 0.0, 0.0, 2.0, 2.0, 0.0, 0.0],
        vec![0.0, 3.0, 0.0, 0.0, 2.0, 2.0, 0.0, 0.0],
    )
}

#[test]
fn abi_is_checked() {
    check_abi().unwrap();
    let f = common::fixture();
    let v = abi_version();
    assert_eq!(((v.major << 16) | v.minor) as i64, f.get("abi_version").as_i64());
    assert_eq!(v.major, AbiVersion::BINDINGS.major);
    assert!(
        check_abi_version(AbiVersion { major: 1, minor: 7 }).is_ok(),
        "a newer minor is compatible"
    );
    let err = check_abi_version(AbiVersion::from_packed(2 << 16)).unwrap_err();
    assert_eq!(err.status, Status::Unsupported);
    let ours = AbiVersion::BINDINGS.to_string();
    assert!(err.message.contains("2.0") && err.message.contains(&ours), "{err}");
    assert!(err.to_string().starts_with("LR_ERR_UNSUPPORTED: ABI mismatch"), "{err}");
    assert!(build_info().contains("CUDA"), "{}", build_info());
}

#[test]
fn zero_beta_is_an_error_naming_beta() {
    let (e, a) = two_rows();
    let (e, a) = (Logits::new(&e, 2, 4).unwrap(), Logits::new(&a, 2, 4).unwrap());
    let err = build_targets(&e, &a, None, 2, &TargetParams::default().beta(0.0)).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    assert!(err.message.contains("beta"), "message: {}", err.message);
    let shown = err.to_string();
    assert!(
        shown.starts_with("LR_ERR_INVALID_ARGUMENT: ") && shown.contains("beta"),
        "{shown}"
    );
    let boxed: Box<dyn std::error::Error> = Box::new(err.clone());
    assert_eq!(boxed.to_string(), shown);
    // The fused call checks it too; the other errors name their arguments.
    let err = select_and_build(&e, &a, &SelectParams::default(), &TargetParams::default().beta(0.0), 2).unwrap_err();
    assert!(err.message.contains("beta"), "{err}");
    let err = select_steps(&e, &a, &SelectParams::default().temperature(0.0)).unwrap_err();
    assert!(err.message.contains("temperature"), "{err}");
    let err = build_targets(&e, &a, Some(&[0, 7]), 2, &TargetParams::default()).unwrap_err();
    assert!(err.message.contains("rows"), "{err}");
    // A success afterwards is unaffected.
    assert!(build_targets(&e, &a, None, 2, &TargetParams::default()).is_ok());
}

#[test]
fn library_errors_for_mismatched_rows() {
    let (e, a) = two_rows();
    let e = Logits::new(&e, 2, 4).unwrap();
    let a1 = Logits::new(&a[..4], 1, 4).unwrap();
    let err = select_steps(&e, &a1, &SelectParams::default()).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    assert!(err.message.contains("amateur"), "{err}");
    // Targets for 3 rows against 2 rows of logits.
    let ids = [0, -1, 1, -1, 2, -1];
    let w = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
    let err = distill_loss(&e, &TargetsView::new(&ids, &w, 2).unwrap(), &LossParams::default()).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    assert!(err.message.contains("target"), "{err}");
}

#[test]
fn shape_and_length_mismatches_are_caught_in_rust() {
    let data = vec![0f32; 11];
    let err = Logits::new(&data, 2, 6).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    assert!(err.message.contains("11") && err.message.contains("12"), "{err}");
    assert!(Logits::new(&data[..10], 2, 5).is_ok());
    assert!(Logits::new(&data, 2, 5).is_err(), "a compact view must match exactly");
    // Strided: (rows - 1) * stride + cols elements needed, stride >= cols.
    assert!(Logits::with_row_stride(&data, 2, 5, 6).is_ok());
    assert!(Logits::with_row_stride(&data, 2, 5, 7).is_err());
    assert!(Logits::with_row_stride(&data, 2, 5, 4)
        .unwrap_err()
        .message
        .contains("row_stride"));
    assert!(
        Logits::with_row_stride(&data, usize::MAX, 2, usize::MAX).is_err(),
        "overflow"
    );
    let mut buf = vec![F16::default(); 6];
    assert!(LogitsMut::new(&mut buf, 2, 4).is_err());
    // Targets: ids and weights of one [rows, k] shape.
    let (ids, w) = ([0i32, 1, -1], [0.5f32, 0.5]);
    assert!(TargetsView::new(&ids, &w, 1).is_err());
    assert!(TargetsView::new(&ids[..2], &w, 0).is_err());
    assert!(TargetsView::new(&ids[..2], &w, 3).is_err());
    assert_eq!(TargetsView::new(&ids[..2], &w, 2).unwrap().rows(), 1);
    // A gradient buffer of the wrong length.
    let z = [0f32; 4];
    let mut grad = [0f32; 3];
    let t = TargetsView::new(&ids[..2], &w, 2).unwrap();
    let err =
        distill_loss_backward_into(&Logits::new(&z, 1, 4).unwrap(), &t, &LossParams::default(), &mut grad).unwrap_err();
    assert!(err.message.starts_with("grad"), "{err}");
}

#[test]
fn errors_leave_outputs_unwritten() {
    let mut z = vec![1.0f32, 2.0, 3.0, 4.0];
    let (ids, w) = ([5i32, -1], [1.0f32, 0.0]); // id 5 is out of [-1, V = 4)
    let mut view = LogitsMut::new(&mut z, 1, 4).unwrap();
    let err = distill_loss_backward_in_place(
        &mut view,
        &TargetsView::new(&ids, &w, 2).unwrap(),
        &LossParams::default(),
    )
    .unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument);
    assert_eq!(z, vec![1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn defaults_are_the_librarys() {
    let raw = unsafe { sys::lr_select_params_default() };
    assert_eq!(SelectParams::default().to_raw(), raw);
    let raw = unsafe { sys::lr_target_params_default() };
    assert_eq!(TargetParams::default().to_raw(), raw);
    let raw = unsafe { sys::lr_loss_params_default() };
    assert_eq!(LossParams::default().to_raw(), raw);
    let p = SelectParams::default()
        .kl_threshold(0.5)
        .temperature(2.0)
        .shared_vocab(3);
    assert_eq!((p.kl_threshold, p.temperature, p.shared_vocab), (0.5, 2.0, 3));
}

#[test]
fn default_reduction_is_the_librarys() {
    let raw = unsafe { sys::lr_loss_params_default() };
    let want = match raw.reduction {
        sys::LR_REDUCTION_NONE => Reduction::None,
        sys::LR_REDUCTION_SUM => Reduction::Sum,
        sys::LR_REDUCTION_MEAN => Reduction::Mean,
        other => panic!("unknown default reduction {other:?}"),
    };
    assert_eq!(Reduction::default(), want);
    assert_eq!(LossParams::default().reduction, want);
}

#[test]
fn statuses_and_streams() {
    assert_eq!(Status::from_raw(sys::LR_OK), None);
    for s in [
        Status::InvalidArgument,
        Status::Unsupported,
        Status::OutOfMemory,
        Status::Cuda,
        Status::Internal,
    ] {
        assert_eq!(Status::from_raw(s.to_raw()), Some(s));
        let c = unsafe { std::ffi::CStr::from_ptr(sys::lr_status_string(s.to_raw())) };
        assert_eq!(c.to_str().unwrap(), s.to_string());
    }
    assert_eq!(Status::from_raw(sys::lr_status(42)), Some(Status::Unknown(42)));
    assert!(Stream::null().is_null());
    assert_eq!(Stream::default(), Stream::null());
    let mut x = 0u8;
    let s = unsafe { Stream::from_raw(&mut x as *mut u8 as *mut std::ffi::c_void) };
    assert_eq!(s.as_raw() as *const u8, &x as *const u8);
}

#[test]
fn data_faults_are_per_row_not_errors() {
    let (mut e, a) = two_rows();
    e[1] = f32::NAN;
    let (e, a) = (Logits::new(&e, 2, 4).unwrap(), Logits::new(&a, 2, 4).unwrap());
    let sel = select_steps(&e, &a, &SelectParams::default()).unwrap();
    assert!(sel.kl[0].is_nan() && !sel.keep[0]);
    assert_eq!(sel.kl[1], 0.0);
    let t = build_targets(&e, &a, None, 2, &TargetParams::default()).unwrap();
    assert_eq!(t.row(0).support_size, -1);
    assert_eq!(t.row(0).ids, &[-1, -1]);
    assert_eq!(t.row(1).entries().count(), 2);
}

#[test]
fn the_readme_example() {
    // Two positions, a 4-token vocabulary (the C README's example).
    let expert = [4.0f32, 1.0, 0.0, 0.0, 2.0, 2.0, 0.0, 0.0];
    let amateur = [0.0f32, 3.0, 0.0, 0.0, 2.0, 2.0, 0.0, 0.0];
    let (e, a) = (
        Logits::new(&expert, 2, 4).unwrap(),
        Logits::new(&amateur, 2, 4).unwrap(),
    );
    let (sel, targets) = select_and_build(&e, &a, &SelectParams::default(), &TargetParams::default(), 2).unwrap();
    assert_eq!(sel.keep, vec![true, false]);
    assert_eq!(targets.row(0).ids, &[0, -1]);
    let mut z = expert;
    let loss = distill_loss_backward_in_place(
        &mut LogitsMut::new(&mut z, 2, 4).unwrap(),
        &targets.view(),
        &LossParams::default(),
    )
    .unwrap();
    assert!(loss.reduced().unwrap() > 0.0);
    assert!(z[0] < 0.0, "d loss / d z[0][0] = q - 1 < 0");
    assert_eq!(&z[4..], &[0.0; 4], "row 1 is padding: no gradient");
}
