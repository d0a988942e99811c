//! Gives this crate's own tests and examples an rpath to the library folder
//! that lightreasoner-sys found (a dependency's link arguments do not reach
//! a dependent's test binaries), so `cargo test` runs without LD_LIBRARY_PATH.
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_LIGHTREASONER_LIB_DIR");
    let rpath_ok = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os != "windows");
    if let (Ok(dir), true) = (std::env::var("DEP_LIGHTREASONER_LIB_DIR"), rpath_ok) {
        // Applies to this package's tests, examples and binaries only.
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
