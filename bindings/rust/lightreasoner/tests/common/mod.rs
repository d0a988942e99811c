//! Shared test helpers: the JSON reader and the binding fixture.
#![allow(dead_code)]

pub mod json;

use std::path::PathBuf;

/// tests/fixtures/binding_fixture.json of the repository (or the file named
/// by LIGHTREASONER_FIXTURE): inputs and brute-force expected outputs shared
/// by every language binding.
pub fn fixture() -> json::Value {
    let path = std::env::var_os("LIGHTREASONER_FIXTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../tests/fixtures/binding_fixture.json")
        });
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read the fixture {}: {e}", path.display()));
    json::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A matrix of the fixture as f32s (the fixture's logits are float32 values).
pub fn f32_matrix(v: &json::Value) -> (Vec<f32>, usize, usize) {
    let (flat, r, c) = v.matrix();
    (flat.into_iter().map(|x| x as f32).collect(), r, c)
}

/// |got - want| <= tol * (1 + |want|), elementwise, with a useful message.
pub fn assert_close(got: &[f32], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = (g as f64 - w).abs() <= tol * (1.0 + w.abs());
        assert!(ok, "{what}[{i}]: got {g}, want {w} (tolerance {tol})");
    }
}
